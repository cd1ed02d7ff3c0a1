/* Channel mixer: a sparse mixture of experts (Shazeer et al. 2017, "Outrageously
 * Large Neural Networks"; Switch/Mixtral-style top-k routing). For a token x
 * (the FFN's normed input):
 *
 *   p = softmax(W_r x)   or sigmoid(W_r x)         router probabilities, one per expert
 *   E = the n_expert_used experts with the largest p  [+ b: the expert bias]
 *   w_e = p_e  [/ sum_{e' in E} p_e' if norm_topk]  [* weights_scale]
 *   y = sum_{e in E} w_e * down_e(act(gate_e x) * up_e x)   [+ shared expert FFN(x)]
 *
 * as llama.cpp's build_moe_ffn computes it (the weights' sum clamped below
 * at 2^-14, the chosen experts' outputs added in the order of their rank).
 * The expert bias b (DeepSeek-V3's auxiliary-loss-free balancing; lfm2moe's
 * exp_probs_b) only steers which experts are chosen: their weights are
 * still the unbiased p.
 * Only the chosen experts' matrices are read: each is a block of rows of
 * the file's 3-D ffn_*_exps tensor, bound and repacked as its own matrix.
 * A chunk of tokens is grouped by expert, so each expert's weights are read
 * once per chunk however many of its tokens chose it; a single token runs all
 * its experts' gate/up products in one pool pass and their down products in
 * another (two barriers a layer instead of two per expert). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "matmul.h"
#include "ops.h"

wl_status wl_moe_bind(const wl_file *f, const wl_hparams *hp, int il, wl_moe_weights *w, wl_error *err) {
    char name[96];
    const int64_t n_embd = hp->n_embd, n_ff = hp->moe.n_ff_exp, n_exp = hp->moe.n_expert;

    WL_TRY(wl_bind_vector(f, WL_NAME("ffn_norm.weight"), n_embd, 1, &w->norm, err));
    WL_TRY(wl_bind_matrix(f, WL_NAME("ffn_gate_inp.weight"), n_embd, n_exp, 1, &w->router, err));
    if (hp->moe.expert_bias) WL_TRY(wl_bind_vector(f, WL_NAME("exp_probs_b.bias"), n_exp, 1, &w->probs_b, err));
    WL_TRY(wl_bind_matrices(f, WL_NAME("ffn_gate_exps.weight"), n_embd, n_ff, n_exp, 1, &w->gate, err));
    WL_TRY(wl_bind_matrices(f, WL_NAME("ffn_up_exps.weight"), n_embd, n_ff, n_exp, 1, &w->up, err));
    WL_TRY(wl_bind_matrices(f, WL_NAME("ffn_down_exps.weight"), n_ff, n_embd, n_exp, 1, &w->down, err));
    if (hp->moe.n_ff_shexp > 0) {
        const int64_t n_sh = hp->moe.n_ff_shexp;
        WL_TRY(wl_bind_matrix(f, WL_NAME("ffn_gate_shexp.weight"), n_embd, n_sh, 1, &w->shared.gate, err));
        WL_TRY(wl_bind_matrix(f, WL_NAME("ffn_up_shexp.weight"), n_embd, n_sh, 1, &w->shared.up, err));
        WL_TRY(wl_bind_matrix(f, WL_NAME("ffn_down_shexp.weight"), n_sh, n_embd, 1, &w->shared.down, err));
    }
    return WL_OK;
}

void wl_moe_free(wl_moe_weights *w) {
    free(w->norm);
    free(w->probs_b);
    free(w->gate); free(w->up); free(w->down);
    wl_ffn_free(&w->shared);
}

void wl_moe_route(wl_context *c, int il, const float *x, int n) {
    wl_project(c, &c->model->layers[il].moe.router, x, n, c->moe_logits);
}

/* Logits to probabilities, then each token's n_expert_used best experts
 * (ids[t*k + s], highest first, the lower id on a tie) by probability plus
 * the expert bias, and their weights: the probabilities alone. */
static void choose_experts(wl_context *c, const float *bias, int n) {
    const wl_moe_hparams *moe = &c->model->hp.moe;
    const int n_exp = moe->n_expert, k = moe->n_expert_used;
    float score[WL_MAX_EXPERTS];
    for (int t = 0; t < n; t++) {
        float *p = c->moe_logits + (int64_t)t * n_exp;
        if (moe->gating == WL_GATING_SIGMOID) {
            for (int e = 0; e < n_exp; e++) p[e] = 1.0f / (1.0f + expf(-p[e]));
        } else {
            wl_softmax(p, n_exp);
        }
        for (int e = 0; e < n_exp; e++) score[e] = bias ? p[e] + bias[e] : p[e];
        int32_t *ids = c->moe_ids + (int64_t)t * k;
        float *w = c->moe_w + (int64_t)t * k;
        for (int s = 0; s < k; s++) {
            int best = -1;
            for (int e = 0; e < n_exp; e++) {
                int taken = 0;
                for (int j = 0; j < s; j++) taken |= ids[j] == e;
                if (!taken && (best < 0 || score[e] > score[best])) best = e;
            }
            ids[s] = best;
            w[s] = p[best];
        }
        if (moe->norm_topk) {
            double sum = 0.0; /* ggml's sum_rows accumulates in double */
            for (int s = 0; s < k; s++) sum += w[s];
            const float d = (float)sum > 6.103515625e-5f ? (float)sum : 6.103515625e-5f;
            for (int s = 0; s < k; s++) w[s] /= d;
        }
        if (moe->weights_scale != 0.0f && moe->weights_scale != 1.0f) wl_scale(w, moe->weights_scale, k);
    }
}

/* Expert e's FFN over m rows of `in`: out = down(act(gate in) * up in). */
static void run_expert(wl_context *c, const wl_moe_weights *w, int e, const float *in, int m, float *out) {
    const wl_moe_hparams *moe = &c->model->hp.moe;
    const wl_matrix *ws[] = { &w->gate[e], &w->up[e] };
    float *outs[] = { c->gate, c->up };
    wl_matmul_many(c->pool, ws, outs, 2, in, m, c->mm_scratch);
    wl_gated_act(c->gate, c->gate, c->up, m * moe->n_ff_exp, moe->act);
    wl_project(c, &w->down[e], c->gate, m, out);
}

static void combine(wl_context *c, const wl_moe_weights *w, int n);

/* One token's k chosen experts together: out row s = expert ids[s]'s FFN of x. */
static void run_chosen(wl_context *c, const wl_moe_weights *w, const float *x, float *out) {
    const wl_moe_hparams *moe = &c->model->hp.moe;
    const int k = moe->n_expert_used, n_ff = moe->n_ff_exp;
    const wl_matrix *ws[WL_MATMUL_MAX_MANY] = { 0 };
    float *outs[WL_MATMUL_MAX_MANY] = { 0 };
    const float *xs[WL_MATMUL_MAX_MANY] = { 0 };
    for (int s = 0; s < k; s++) {
        const int e = c->moe_ids[s];
        ws[2 * s] = &w->gate[e], outs[2 * s] = c->gate + (int64_t)s * n_ff;
        ws[2 * s + 1] = &w->up[e], outs[2 * s + 1] = c->up + (int64_t)s * n_ff;
    }
    wl_matmul_many(c->pool, ws, outs, 2 * k, x, 1, c->mm_scratch);
    wl_gated_act(c->gate, c->gate, c->up, k * n_ff, moe->act);
    for (int s = 0; s < k; s++) {
        ws[s] = &w->down[c->moe_ids[s]];
        xs[s] = c->gate + (int64_t)s * n_ff;
        outs[s] = out + (int64_t)s * c->model->hp.n_embd;
    }
    wl_matmul_each(c->pool, ws, xs, outs, k, 1, c->mm_scratch);
}

/* Can run_chosen take this step? One token, and the scratch rows for k experts. */
static int chosen_together(const wl_context *c, int n) {
    const int k = c->model->hp.moe.n_expert_used;
    return n == 1 && 2 * k <= WL_MATMUL_MAX_MANY && k <= c->max_chunk;
}

void wl_moe_forward(wl_context *c, int il, int n) {
    const wl_hparams *hp = &c->model->hp;
    const wl_moe_weights *w = &c->model->layers[il].moe;
    const int k = hp->moe.n_expert_used, n_embd = hp->n_embd;

    wl_block_input(c, w->norm, NULL, n);
    if (!hp->moe.route_on_input) wl_moe_route(c, il, c->xn, n);
    choose_experts(c, w->probs_b, n);

    if (chosen_together(c, n)) {
        run_chosen(c, w, c->xn, c->moe_out);
        for (int s = 0; s < k; s++) wl_scale(c->moe_out + (int64_t)s * n_embd, c->moe_w[s], n_embd);
        combine(c, w, n);
        return;
    }
    /* Each expert once, over the rows (token t's slot s = t*k + s) that chose it. */
    int32_t *rows = c->moe_ids + (int64_t)c->max_chunk * k;
    for (int e = 0; e < hp->moe.n_expert; e++) {
        int m = 0;
        for (int i = 0; i < n * k; i++) if (c->moe_ids[i] == e) rows[m++] = i;
        if (m == 0) continue;
        const float *in = c->xn;
        if (m < n) { /* not every token: gather the ones that chose e */
            for (int j = 0; j < m; j++) {
                memcpy(c->moe_in + (int64_t)j * n_embd, c->xn + (int64_t)(rows[j] / k) * n_embd,
                       (size_t)n_embd * sizeof(float));
            }
            in = c->moe_in;
        }
        run_expert(c, w, e, in, m, c->moe_y);
        for (int j = 0; j < m; j++) {
            float *dst = c->moe_out + (int64_t)rows[j] * n_embd;
            const float *y = c->moe_y + (int64_t)j * n_embd;
            const float wt = c->moe_w[rows[j]];
            for (int i = 0; i < n_embd; i++) dst[i] = y[i] * wt;
        }
    }
    combine(c, w, n);
}

/* The chosen experts' weighted outputs (c->moe_out) summed in rank order into
 * c->proj, plus the shared expert, then the residual. */
static void combine(wl_context *c, const wl_moe_weights *w, int n) {
    const wl_hparams *hp = &c->model->hp;
    const int k = hp->moe.n_expert_used, n_embd = hp->n_embd;
    for (int t = 0; t < n; t++) {
        float *out = c->proj + (int64_t)t * n_embd;
        memcpy(out, c->moe_out + (int64_t)t * k * n_embd, (size_t)n_embd * sizeof(float));
        for (int s = 1; s < k; s++) wl_add(out, c->moe_out + ((int64_t)t * k + s) * n_embd, n_embd);
    }
    if (w->shared.up.data) {
        wl_ffn_apply(c, &w->shared, hp->moe.n_ff_shexp, c->xn, n, c->moe_y);
        for (int t = 0; t < n; t++) wl_add(c->proj + (int64_t)t * n_embd, c->moe_y + (int64_t)t * n_embd, n_embd);
    }
    wl_block_output(c, NULL, NULL, NULL, n);
}
