/* The KV cache of one sequence: per layer, K and V rows of every position,
 * stored as f16 (llama.cpp's default cache) or as Q8_0 blocks (llama.cpp's
 * --cache-type-k/-v q8_0), so attention sees the same rounded keys and
 * values llama.cpp sees with that cache type. Head-major: one K/V head's
 * rows of all positions lie together, so attention, which walks one head
 * over the positions, reads one forward stream (position-major rows put
 * each head's 128 bytes 1 KB apart for Llama-3.2-1B, and attention ran
 * latency-bound on them). */
#ifndef WL_KV_CACHE_H
#define WL_KV_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "model.h"
#include "types.h"

typedef struct {
    int n_ctx;
    int n_layer;
    wl_type type;  /* WL_TYPE_F16 or WL_TYPE_Q8_0, for K and V alike */
    size_t k_pos;  /* bytes of one head's K at one position: head_dim_k values */
    size_t v_pos;  /* bytes of one head's V at one position: head_dim_v values */
    size_t k_head; /* bytes of one head's K over all n_ctx positions */
    size_t v_head; /* bytes of one head's V over all n_ctx positions */
    uint8_t **k;   /* [n_layer] -> [n_head_kv][n_ctx][k_pos bytes] */
    uint8_t **v;   /* [n_layer] -> [n_head_kv][n_ctx][v_pos bytes] */
} wl_kv_cache;

/* WL_OK if the cache can store this model's K and V rows as `type`: F16
 * always; Q8_0 when both head dims are whole 32-value blocks (llama.cpp
 * requires the same), so no block straddles two heads. Else WL_ERR_BAD_ARG
 * naming the type or the head dim. */
wl_status wl_kv_cache_check(const wl_hparams *hp, wl_type type, wl_error *err);
/* Bytes the cache takes for n_ctx positions of `type` (checked first). */
double wl_kv_cache_bytes(const wl_hparams *hp, wl_type type, int n_ctx);
wl_status wl_kv_cache_init(wl_kv_cache *kv, const wl_hparams *hp, wl_type type, int n_ctx,
                           wl_error *err);
void wl_kv_cache_free(wl_kv_cache *kv);

/* Where head `head`'s K (V) values of position pos in layer `layer` are. */
static inline uint8_t *wl_kv_k(const wl_kv_cache *kv, int layer, int head, int pos) {
    return kv->k[layer] + (size_t)head * kv->k_head + (size_t)pos * kv->k_pos;
}
static inline uint8_t *wl_kv_v(const wl_kv_cache *kv, int layer, int head, int pos) {
    return kv->v[layer] + (size_t)head * kv->v_head + (size_t)pos * kv->v_pos;
}

#endif
