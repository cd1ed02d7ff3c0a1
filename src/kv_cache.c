#include "kv_cache.h"

#include <stdint.h>
#include <stdlib.h>

double wl_kv_cache_bytes(const wl_hparams *hp, int n_ctx) {
    const double per_pos = (double)hp->n_head_kv * (hp->head_dim_k + hp->head_dim_v) * 2.0;
    return per_pos * n_ctx * hp->n_layer;
}

wl_status wl_kv_cache_init(wl_kv_cache *kv, const wl_hparams *hp, int n_ctx, wl_error *err) {
    kv->n_ctx = n_ctx;
    kv->n_layer = hp->n_layer;
    kv->k_row = (int64_t)hp->n_head_kv * hp->head_dim_k;
    kv->v_row = (int64_t)hp->n_head_kv * hp->head_dim_v;
    kv->k = calloc((size_t)hp->n_layer, sizeof *kv->k);
    kv->v = calloc((size_t)hp->n_layer, sizeof *kv->v);
    if (!kv->k || !kv->v) goto oom;
    /* One block per layer and kind: smaller allocations fit a fragmented
     * wasm heap more easily than one huge block. */
    /* 64-bit sizes: on wasm32 the size_t product could wrap to a small block */
    const uint64_t k_bytes = (uint64_t)n_ctx * (uint64_t)kv->k_row * sizeof(uint16_t);
    const uint64_t v_bytes = (uint64_t)n_ctx * (uint64_t)kv->v_row * sizeof(uint16_t);
    if (k_bytes > SIZE_MAX || v_bytes > SIZE_MAX) goto oom;
    for (int il = 0; il < hp->n_layer; il++) {
        kv->k[il] = malloc((size_t)k_bytes);
        kv->v[il] = malloc((size_t)v_bytes);
        if (!kv->k[il] || !kv->v[il]) goto oom;
    }
    return WL_OK;
oom:
    wl_kv_cache_free(kv);
    return wl_fail(err, WL_ERR_OOM, "cannot allocate the KV cache: %.1f MiB for %d positions",
                   wl_kv_cache_bytes(hp, n_ctx) / 1048576.0, n_ctx);
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
