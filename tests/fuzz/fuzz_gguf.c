/* libFuzzer target: the GGUF parser and shard-set open on arbitrary bytes.
 * Input layout (tools/make-hostile-ggufs.js --fuzz-seeds writes seeds):
 *   byte 0: bit 0 = allow_no_data, bits 1-2 = number of shards - 1;
 *   then every shard but the last as a u32 little-endian length + bytes
 *   (lengths are clamped to what is left), then the last shard.
 * Each shard is copied into its own exact-size allocation so ASan sees any
 * read past a shard's end. On success every tensor must lie inside its
 * shard and be found again by name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

#define MAX_SHARDS 4

static void check_tensor(const wl_file *f, const wl_gguf_tensor *t) {
    const wl_gguf *owner = NULL;
    for (int s = 0; s < wl_file_n_shards(f); s++) {
        const wl_gguf *g = wl_file_shard(f, s);
        if (t >= g->tensors && t < g->tensors + g->n_tensors) owner = g;
    }
    if (!owner) __builtin_trap();
    if (t->data) {
        if (t->data < owner->base || t->n_bytes > owner->len ||
            (size_t)(t->data - owner->base) > owner->len - t->n_bytes)
            __builtin_trap();
        if (t->n_bytes) {
            volatile uint8_t first = t->data[0], last = t->data[t->n_bytes - 1];
            (void)first;
            (void)last;
        }
    }
    char name[256];
    if (t->name.len < sizeof name && !memchr(t->name.ptr, 0, (size_t)t->name.len)) {
        memcpy(name, t->name.ptr, (size_t)t->name.len);
        name[t->name.len] = 0;
        if (wl_file_find_tensor(f, name) != t) __builtin_trap();
    }
}

/* Reads every metadata value back through the typed getters. */
static void walk_metadata(const wl_gguf *g) {
    char key[256];
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const wl_gguf_kv *kv = &g->kv[i];
        if (kv->key.len >= sizeof key || memchr(kv->key.ptr, 0, (size_t)kv->key.len)) continue;
        memcpy(key, kv->key.ptr, (size_t)kv->key.len);
        key[kv->key.len] = 0;
        if (wl_gguf_find(g, key) != kv) __builtin_trap();
        uint64_t u; int64_t s; float fl; int b; wl_str str; double d;
        wl_gguf_get_u64(g, key, &u);
        wl_gguf_get_i64(g, key, &s);
        wl_gguf_get_f32(g, key, &fl);
        wl_gguf_get_bool(g, key, &b);
        if (wl_gguf_get_str(g, key, &str) && str.len) {
            volatile char last = str.ptr[str.len - 1];
            (void)last;
        }
        if (kv->type == WL_GGUF_ARRAY && kv->v.arr.count) {
            wl_gguf_get_arr_f64(g, key, 0, &d);
            wl_gguf_get_arr_f64(g, key, kv->v.arr.count - 1, &d);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    int allow_no_data = data[0] & 1;
    int n = 1 + ((data[0] >> 1) & 3);
    size_t pos = 1;
    uint8_t *copies[MAX_SHARDS] = {0};
    const uint8_t *ptrs[MAX_SHARDS];
    double lens[MAX_SHARDS];
    for (int i = 0; i < n; i++) {
        size_t len = size - pos;
        if (i < n - 1) {
            uint32_t want = 0;
            if (size - pos >= 4) {
                want = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8 | (uint32_t)data[pos + 2] << 16 |
                       (uint32_t)data[pos + 3] << 24;
                pos += 4;
            } else {
                pos = size;
            }
            len = want < size - pos ? want : size - pos;
        }
        copies[i] = malloc(len ? len : 1);
        if (len) memcpy(copies[i], data + pos, len);
        pos += len;
        ptrs[i] = copies[i];
        lens[i] = (double)len;
    }
    wl_error err;
    wl_file *f = wl_file_open(ptrs, lens, n, allow_no_data, &err);
    if (f) {
        for (int64_t i = 0; i < wl_file_tensor_count(f); i++) check_tensor(f, wl_file_tensor(f, i));
        walk_metadata(wl_file_meta(f));
        wl_file_free(f);
    } else if (err.code == WL_OK || err.message[0] == 0) {
        __builtin_trap(); /* a failure must say why */
    }
    for (int i = 0; i < n; i++) free(copies[i]);
    return 0;
}
