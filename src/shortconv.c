/* Token mixer: LFM2's gated short convolution (llama.cpp's lfm2 graph,
 * build_shortconv_block):
 *
 *   h = norm(x);  [B, C, u] = in_proj h            (3 * n_embd rows)
 *   s_t = B_t * u_t                                 (per channel)
 *   y_t = C_t * sum_k conv[k] * s_{t - (L-1) + k}   (depthwise, causal, L taps)
 *   x += out_proj y
 *
 * The only state a sequence carries is the last L - 1 rows of s per layer:
 * decode costs the same at any context length. Those rows live in a ring
 * of WL_CONV_REWIND + L - 1 rows (forward.h), so a truncate of up to
 * WL_CONV_REWIND positions (a chat turn retokenized at its end) keeps the
 * state; a deeper one starts the sequence over. */
#include <stdlib.h>
#include <string.h>

#include "layer.h"

/* ---- binding ---- */

wl_status wl_shortconv_bind(const wl_file *f, const wl_hparams *hp, int il, wl_shortconv_weights *w,
                            wl_error *err) {
    char name[96];
    const int64_t n_embd = hp->n_embd;
    WL_TRY(wl_bind_vector(f, WL_NAME("attn_norm.weight"), n_embd, 1, &w->norm, err));
    WL_TRY(wl_bind_matrix(f, WL_NAME("shortconv.in_proj.weight"), n_embd, 3 * n_embd, 1, &w->in_proj, err));
    WL_TRY(wl_bind_matrix(f, WL_NAME("shortconv.out_proj.weight"), n_embd, n_embd, 1, &w->out_proj, err));
    /* [n_embd][l_cache]: one row of taps per channel, copied to f32 */
    wl_matrix conv;
    WL_TRY(wl_bind_matrix(f, WL_NAME("shortconv.conv.weight"), hp->shortconv_l_cache, n_embd, 1, &conv, err));
    w->conv = malloc((size_t)n_embd * hp->shortconv_l_cache * sizeof(float));
    if (!w->conv) return wl_fail(err, WL_ERR_OOM, "out of memory copying %s", name);
    for (int64_t d = 0; d < n_embd; d++) wl_matrix_get_row(&conv, d, w->conv + d * hp->shortconv_l_cache);
    return WL_OK;
}

void wl_shortconv_free(wl_shortconv_weights *w) {
    free(w->norm);
    free(w->conv);
}

/* ---- state: a ring of B*u rows per layer ---- */

static int ring_rows(const wl_hparams *hp) { return WL_CONV_REWIND + hp->shortconv_l_cache - 1; }

static int has_shortconv(const wl_hparams *hp) {
    for (int il = 0; il < hp->n_layer; il++) {
        if (hp->layer_mixer[il] == WL_MIXER_SHORTCONV) return 1;
    }
    return 0;
}

double wl_shortconv_state_bytes(const wl_hparams *hp) {
    double n = 0.0;
    for (int il = 0; il < hp->n_layer; il++) {
        if (hp->layer_mixer[il] == WL_MIXER_SHORTCONV) n += (double)ring_rows(hp) * hp->n_embd * sizeof(float);
    }
    return n;
}

wl_status wl_shortconv_state_init(wl_context *c, wl_error *err) {
    const wl_hparams *hp = &c->model->hp;
    if (!has_shortconv(hp)) return WL_OK;
    c->conv_rows = ring_rows(hp);
    c->conv_ring = calloc((size_t)hp->n_layer, sizeof *c->conv_ring);
    if (!c->conv_ring) return wl_fail(err, WL_ERR_OOM, "out of memory for the convolution state");
    for (int il = 0; il < hp->n_layer; il++) {
        if (hp->layer_mixer[il] != WL_MIXER_SHORTCONV) continue;
        c->conv_ring[il] = malloc((size_t)c->conv_rows * hp->n_embd * sizeof(float));
        if (!c->conv_ring[il]) {
            return wl_fail(err, WL_ERR_OOM, "cannot allocate %.1f MiB of convolution state",
                           wl_shortconv_state_bytes(hp) / 1048576.0);
        }
    }
    return WL_OK;
}

void wl_shortconv_state_free(wl_context *c) {
    if (!c->conv_ring) return;
    for (int il = 0; il < c->model->hp.n_layer; il++) free(c->conv_ring[il]);
    free(c->conv_ring);
    c->conv_ring = NULL;
}

int wl_shortconv_rewind(const wl_context *c, int pos) {
    if (!c->conv_ring || pos >= c->pos) return pos;
    /* the rows of positions pos - (L-1) .. pos - 1 must still be in the ring */
    return c->pos_max - pos <= WL_CONV_REWIND ? pos : 0;
}

/* ---- forward ---- */

/* y = C * (conv taps . the last L rows of B*u), in ggml_ssm_conv's order
 * (oldest position first, f32 sum); positions before 0 are zeros. */
static void conv_token(const wl_hparams *hp, const float *taps, const float *ring, int rows, int pos,
                       const float *gate_c, float *y) {
    const int d = hp->n_embd, L = hp->shortconv_l_cache;
    for (int i = 0; i < d; i++) {
        float sum = 0.0f;
        for (int k = 0; k < L; k++) {
            const int q = pos - (L - 1) + k;
            if (q < 0) continue;
            sum += ring[(int64_t)(q % rows) * d + i] * taps[i * L + k];
        }
        y[i] = gate_c[i] * sum;
    }
}

void wl_shortconv_forward(wl_context *c, int il, int n) {
    const wl_hparams *hp = &c->model->hp;
    const wl_shortconv_weights *w = &c->model->layers[il].conv;
    const int d = hp->n_embd;
    wl_block_input(c, w->norm, NULL, n);
    wl_project(c, &w->in_proj, c->xn, n, c->conv_bcx);
    /* token by token, in each sequence's order: a chunk may be longer than the ring */
    for (int t = 0; t < n; t++) {
        wl_context *seq = c->row_seq[t];
        const float *b = c->conv_bcx + (int64_t)t * 3 * d, *gate_c = b + d, *u = b + 2 * d;
        const int pos = c->row_pos[t];
        float *ring = seq->conv_ring[il];
        float *s = ring + (int64_t)(pos % seq->conv_rows) * d;
        for (int i = 0; i < d; i++) s[i] = b[i] * u[i];
        conv_token(hp, w->conv, ring, seq->conv_rows, pos, gate_c, c->xn + (int64_t)t * d);
        if (pos + 1 > seq->pos_max) seq->pos_max = pos + 1;
    }
    wl_project(c, &w->out_proj, c->xn, n, c->proj);
    wl_block_output(c, NULL, NULL, NULL, n);
}
