/* A parsed GGUF shard set (one file, or a gguf-split set of N shards), as
 * model code sees it: the metadata of shard 0 and one tensor index over all
 * shards. The shards are never concatenated; each tensor's `data` points into
 * the buffer of the shard that holds it. wl_file itself is declared in
 * wasmllm.h (opaque to JS); its open/free/count functions live there too. */
#ifndef WL_FILE_H
#define WL_FILE_H

#include <stdint.h>
#include "gguf.h"
#include "wasmllm.h"

/* Metadata of the set: shard 0's (split.no == 0). Never NULL for an open file. */
const wl_gguf *wl_file_meta(const wl_file *f);

/* Number of shards (1 for a single file) and shard i in split.no order. */
int wl_file_n_shards(const wl_file *f);
const wl_gguf *wl_file_shard(const wl_file *f, int i);

/* All tensors of all shards, in shard order then file order:
 * i in [0, wl_file_tensor_count(f)). NULL when i is out of range. */
const wl_gguf_tensor *wl_file_tensor(const wl_file *f, int64_t i);

/* Looks a tensor up by name in every shard (hashed, O(1) on average).
 * NULL if no shard has it. */
const wl_gguf_tensor *wl_file_find_tensor(const wl_file *f, const char *name);

#endif
