/* The KV cache of one sequence: per layer, K and V rows of its positions,
 * stored as f16 (llama.cpp's default cache) or as Q8_0 blocks (llama.cpp's
 * --cache-type-k/-v q8_0), so attention sees the same rounded keys and
 * values llama.cpp sees with that cache type. Head-major: one K/V head's
 * rows of all positions lie together, so attention, which walks one head
 * over the positions, reads one forward stream (position-major rows put
 * each head's 128 bytes 1 KB apart for Llama-3.2-1B, and attention ran
 * latency-bound on them).
 *
 * A global layer keeps a row for every position of the context. A
 * sliding-window layer only ever reads the last sliding_window positions,
 * so it keeps a ring of wl_kv_layer_rows rows, position p in row
 * p % rows: its window, plus the positions one chunk writes before it
 * attends, plus WL_KV_REWIND positions a truncate can take back (a chat
 * turn retokenized at its end) without recomputing. Gemma-3's 5 local
 * layers of 6 then cost their 512-token window, not the whole context. */
#ifndef WL_KV_CACHE_H
#define WL_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "model.h"
#include "types.h"

/* Positions a sliding-window ring keeps beyond its window and a chunk. A
 * truncate can go back WL_MAX_CHUNK + WL_KV_REWIND positions behind the
 * furthest one written and still find every row its next tokens' windows
 * read (the next chunk then only overwrites rows behind them). */
#define WL_KV_REWIND 32

typedef struct {
    int n_ctx;
    int n_layer;
    wl_type type;  /* WL_TYPE_F16 or WL_TYPE_Q8_0, for K and V alike */
    size_t k_pos;  /* bytes of one head's K at one position: head_dim_k values */
    size_t v_pos;  /* bytes of one head's V at one position: head_dim_v values */
    int *rows;     /* [n_layer]: positions layer il holds (n_ctx, a ring's size, 0 without attention) */
    uint8_t **k;   /* [n_layer] -> [n_head_kv][rows[il]][k_pos bytes] */
    uint8_t **v;   /* [n_layer] -> [n_head_kv][rows[il]][v_pos bytes] */
} wl_kv_cache;

/* WL_OK if the cache can store this model's K and V rows as `type`: F16
 * always; Q8_0 when both head dims are whole 32-value blocks (llama.cpp
 * requires the same), so no block straddles two heads. Else WL_ERR_BAD_ARG
 * naming the type or the head dim. */
wl_status wl_kv_cache_check(const wl_hparams *hp, wl_type type, wl_error *err);
/* Rows layer il keeps in an n_ctx context: n_ctx for a global attention
 * layer, min(n_ctx, window + WL_MAX_CHUNK - 1 + WL_KV_REWIND) for a
 * sliding-window one, 0 for other token mixers. */
int wl_kv_layer_rows(const wl_hparams *hp, int il, int n_ctx);
/* Bytes the cache takes for n_ctx positions of `type` (checked first). */
double wl_kv_cache_bytes(const wl_hparams *hp, wl_type type, int n_ctx);
wl_status wl_kv_cache_init(wl_kv_cache *kv, const wl_hparams *hp, wl_type type, int n_ctx,
                           wl_error *err);
void wl_kv_cache_free(wl_kv_cache *kv);
/* The position a truncate to pos can keep, given that positions up to
 * pos_max - 1 were written: pos when every ring still holds the rows its
 * window reads from pos on, else 0 (the sequence must be recomputed). */
int wl_kv_cache_rewind(const wl_kv_cache *kv, const wl_hparams *hp, int pos, int pos_max);

/* Bytes of one head's K (V) rows in layer `layer`. */
static inline size_t wl_kv_k_head(const wl_kv_cache *kv, int layer) { return (size_t)kv->rows[layer] * kv->k_pos; }
static inline size_t wl_kv_v_head(const wl_kv_cache *kv, int layer) { return (size_t)kv->rows[layer] * kv->v_pos; }
/* Where head `head`'s K (V) values of position pos in layer `layer` are:
 * row pos % rows, which is pos itself in a global layer. */
static inline uint8_t *wl_kv_k(const wl_kv_cache *kv, int layer, int head, int pos) {
    return kv->k[layer] + head * wl_kv_k_head(kv, layer) + (size_t)(pos % kv->rows[layer]) * kv->k_pos;
}
static inline uint8_t *wl_kv_v(const wl_kv_cache *kv, int layer, int head, int pos) {
    return kv->v[layer] + head * wl_kv_v_head(kv, layer) + (size_t)(pos % kv->rows[layer]) * kv->v_pos;
}

#endif
