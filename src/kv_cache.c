#include "kv_cache.h"

#include <stdint.h>
#include <stdlib.h>

#include "forward.h" /* WL_MAX_CHUNK */

wl_status wl_kv_cache_check(const wl_hparams *hp, wl_type type, wl_error *err) {
    if (type != WL_TYPE_F16 && type != WL_TYPE_Q8_0) {
        return wl_fail(err, WL_ERR_BAD_ARG,
                       "KV cache type %d is not supported: use %d (F16) or %d (Q8_0)", (int)type,
                       WL_TYPE_F16, WL_TYPE_Q8_0);
    }
    const wl_type_traits *t = wl_type_get(type);
    /* Each head's values are stored on their own: blocks must fit a head
     * exactly. */
    if (hp->head_dim_k % t->block_size != 0 || hp->head_dim_v % t->block_size != 0) {
        const int bad = hp->head_dim_k % t->block_size != 0 ? hp->head_dim_k : hp->head_dim_v;
        return wl_fail(err, WL_ERR_BAD_ARG,
                       "a %s KV cache needs head dims that are multiples of %d, but this model's "
                       "%s head dim is %d",
                       t->name, t->block_size, bad == hp->head_dim_k ? "K" : "V", bad);
    }
    return WL_OK;
}

/* Bytes of one head's K or V values of one position. */
static double head_bytes(wl_type type, int head_dim) {
    const wl_type_traits *t = wl_type_get(type);
    return (double)head_dim / t->block_size * (double)t->type_size;
}

int wl_kv_layer_rows(const wl_hparams *hp, int il, int n_ctx) {
    if (!wl_mixer_attends(hp->layer_mixer[il])) return 0; /* other token mixers keep no K/V */
    if (!(hp->sliding_window > 0 && hp->layer_swa[il] && hp->causal)) return n_ctx;
    /* a chunk stores all its rows before its first token attends, and that
     * token's window reaches sliding_window - 1 positions further back */
    const int64_t ring = (int64_t)hp->sliding_window + WL_MAX_CHUNK - 1 + WL_KV_REWIND;
    return ring < n_ctx ? (int)ring : n_ctx;
}

double wl_kv_cache_bytes(const wl_hparams *hp, wl_type type, int n_ctx) {
    const double per_pos =
        (double)hp->n_head_kv * (head_bytes(type, hp->head_dim_k) + head_bytes(type, hp->head_dim_v));
    double rows = 0.0;
    for (int il = 0; il < hp->n_layer; il++) rows += wl_kv_layer_rows(hp, il, n_ctx);
    return per_pos * rows;
}

int wl_kv_cache_rewind(const wl_kv_cache *kv, const wl_hparams *hp, int pos, int pos_max) {
    for (int il = 0; il < kv->n_layer; il++) {
        if (kv->rows[il] == 0 || kv->rows[il] == kv->n_ctx) continue; /* not a ring */
        /* the oldest position the ring still holds, and the oldest the next token reads */
        const int oldest = pos_max - kv->rows[il];
        const int needed = pos - hp->sliding_window + 1;
        if (oldest > (needed > 0 ? needed : 0)) return 0;
    }
    return pos;
}

wl_status wl_kv_cache_init(wl_kv_cache *kv, const wl_hparams *hp, wl_type type, int n_ctx,
                           wl_error *err) {
    kv->n_ctx = n_ctx;
    kv->n_layer = hp->n_layer;
    kv->type = type;
    kv->k = kv->v = NULL;
    kv->rows = NULL;
    const wl_status st = wl_kv_cache_check(hp, type, err);
    if (st != WL_OK) {
        kv->n_layer = 0;
        return st;
    }
    kv->k_pos = wl_row_size(type, hp->head_dim_k);
    kv->v_pos = wl_row_size(type, hp->head_dim_v);
    kv->k = calloc((size_t)hp->n_layer, sizeof *kv->k);
    kv->v = calloc((size_t)hp->n_layer, sizeof *kv->v);
    kv->rows = calloc((size_t)hp->n_layer, sizeof *kv->rows);
    if (!kv->k || !kv->v || !kv->rows || kv->k_pos == 0 || kv->v_pos == 0) goto oom;
    /* One block per layer and kind: smaller allocations fit a fragmented
     * wasm heap more easily than one huge block. */
    for (int il = 0; il < hp->n_layer; il++) {
        kv->rows[il] = wl_kv_layer_rows(hp, il, n_ctx);
        if (kv->rows[il] == 0) continue;
        /* 64-bit sizes: on wasm32 the size_t product could wrap to a small block */
        const uint64_t k_bytes = (uint64_t)hp->n_head_kv * (uint64_t)kv->rows[il] * kv->k_pos;
        const uint64_t v_bytes = (uint64_t)hp->n_head_kv * (uint64_t)kv->rows[il] * kv->v_pos;
        if (k_bytes > SIZE_MAX || v_bytes > SIZE_MAX) goto oom;
        kv->k[il] = malloc((size_t)k_bytes);
        kv->v[il] = malloc((size_t)v_bytes);
        if (!kv->k[il] || !kv->v[il]) goto oom;
    }
    return WL_OK;
oom:
    wl_kv_cache_free(kv);
    return wl_fail(err, WL_ERR_OOM, "cannot allocate the KV cache: %.1f MiB for %d positions",
                   wl_kv_cache_bytes(hp, type, n_ctx) / 1048576.0, n_ctx);
}

void wl_kv_cache_free(wl_kv_cache *kv) {
    for (int il = 0; il < kv->n_layer; il++) {
        if (kv->k) free(kv->k[il]);
        if (kv->v) free(kv->v[il]);
    }
    free(kv->k);
    free(kv->v);
    free(kv->rows);
    kv->k = kv->v = NULL;
    kv->rows = NULL;
    kv->n_layer = 0;
}
