#include "kv_cache.h"

#include <stdint.h>
#include <stdlib.h>

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

double wl_kv_cache_bytes(const wl_hparams *hp, wl_type type, int n_ctx) {
    const double per_pos =
        (double)hp->n_head_kv * (head_bytes(type, hp->head_dim_k) + head_bytes(type, hp->head_dim_v));
    int n_attn = 0; /* other token mixers keep no K/V */
    for (int il = 0; il < hp->n_layer; il++) n_attn += wl_mixer_attends(hp->layer_mixer[il]);
    return per_pos * n_ctx * n_attn;
}

wl_status wl_kv_cache_init(wl_kv_cache *kv, const wl_hparams *hp, wl_type type, int n_ctx,
                           wl_error *err) {
    kv->n_ctx = n_ctx;
    kv->n_layer = hp->n_layer;
    kv->type = type;
    kv->k = kv->v = NULL;
    const wl_status st = wl_kv_cache_check(hp, type, err);
    if (st != WL_OK) {
        kv->n_layer = 0;
        return st;
    }
    kv->k_pos = wl_row_size(type, hp->head_dim_k);
    kv->v_pos = wl_row_size(type, hp->head_dim_v);
    kv->k = calloc((size_t)hp->n_layer, sizeof *kv->k);
    kv->v = calloc((size_t)hp->n_layer, sizeof *kv->v);
    if (!kv->k || !kv->v || kv->k_pos == 0 || kv->v_pos == 0) goto oom;
    /* One block per layer and kind: smaller allocations fit a fragmented
     * wasm heap more easily than one huge block. */
    /* 64-bit sizes: on wasm32 the size_t product could wrap to a small block */
    const uint64_t k_head = (uint64_t)n_ctx * (uint64_t)kv->k_pos, v_head = (uint64_t)n_ctx * (uint64_t)kv->v_pos;
    const uint64_t k_bytes = (uint64_t)hp->n_head_kv * k_head, v_bytes = (uint64_t)hp->n_head_kv * v_head;
    if (k_bytes > SIZE_MAX || v_bytes > SIZE_MAX) goto oom;
    kv->k_head = (size_t)k_head;
    kv->v_head = (size_t)v_head;
    for (int il = 0; il < hp->n_layer; il++) {
        if (!wl_mixer_attends(hp->layer_mixer[il])) continue;
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
    kv->k = kv->v = NULL;
    kv->n_layer = 0;
}
