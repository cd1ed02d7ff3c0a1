/* Token mixer: attention and a Mamba-2 mixer side by side (Falcon-H1,
 * llama.cpp's falcon-h1 graph):
 *
 *   h = norm(x)                         (one attn_norm for both)
 *   x += attention(h) + mamba2(h)
 *
 * Each half is its own kind (attention.c, ssm.c) with its own state (K/V
 * rows, the scan's state); this file only runs them on the same input.
 * The Mamba-2 half runs first and its rows wait in c->ssm_y, since
 * attention reuses the scratch the mixer leaves its output in. */
#include <string.h>

#include "layer.h"
#include "ops.h"

void wl_parallel_forward(wl_context *c, int il, int n) {
    const int n_embd = c->model->hp.n_embd;
    wl_block_input(c, c->model->layers[il].ssm.attn_norm, NULL, n);
    wl_ssm_mix(c, il, n);
    float *ssm_out = c->ssm_y; /* free once wl_ssm_mix has projected it */
    memcpy(ssm_out, c->proj, (size_t)n * n_embd * sizeof(float));
    /* x += attention(norm(x)): the same norm of the same x */
    wl_attention_forward(c, il, n);
    for (int t = 0; t < n; t++) wl_add(c->x + (int64_t)t * n_embd, ssm_out + (int64_t)t * n_embd, n_embd);
}
