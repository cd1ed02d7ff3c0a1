/* The KV cache of one sequence: per layer, K and V rows of every position,
 * stored as f16 like llama.cpp's default cache, so attention sees the same
 * rounded keys and values llama.cpp sees. */
#ifndef WL_KV_CACHE_H
#define WL_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "model.h"

typedef struct {
    int n_ctx;
    int n_layer;
    int64_t k_row; /* halves per position: n_head_kv * head_dim_k */
    int64_t v_row; /* halves per position: n_head_kv * head_dim_v */
    uint16_t **k;  /* [n_layer] -> [n_ctx][k_row] */
    uint16_t **v;  /* [n_layer] -> [n_ctx][v_row] */
} wl_kv_cache;

/* Bytes the cache takes for n_ctx positions. */
double wl_kv_cache_bytes(const wl_hparams *hp, int n_ctx);
wl_status wl_kv_cache_init(wl_kv_cache *kv, const wl_hparams *hp, int n_ctx, wl_error *err);
void wl_kv_cache_free(wl_kv_cache *kv);

static inline uint16_t *wl_kv_k(const wl_kv_cache *kv, int layer, int pos) {
    return kv->k[layer] + (int64_t)pos * kv->k_row;
}
static inline uint16_t *wl_kv_v(const wl_kv_cache *kv, int layer, int pos) {
    return kv->v[layer] + (int64_t)pos * kv->v_row;
}

#endif
