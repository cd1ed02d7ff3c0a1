/* Channel mixer: the dense feed-forward network. Gated (SwiGLU, GeGLU:
 * down(act(gate x) * up x)), fused gate and up (phi3: one matrix whose rows
 * are [gate; up]), or ungated (bert: down(act(up x))), each with optional
 * biases, post-norm (gemma2/3) and encoder post-norm. */
#include <stdlib.h>

#include "layer.h"
#include "matmul.h"
#include "ops.h"

wl_status wl_ffn_bind(const wl_file *f, const wl_hparams *hp, int il, wl_ffn_weights *w, wl_error *err) {
    char name[96];
    const int64_t n_embd = hp->n_embd, n_ff = hp->n_ff;

    if (hp->encoder) {
        /* post-norm blocks: LayerNorm after the residual add */
        WL_TRY(wl_bind_vector(f, WL_NAME("layer_output_norm.weight"), n_embd, 1, &w->out_norm, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("layer_output_norm.bias"), n_embd, 0, &w->out_norm_b, err));
    } else {
        /* falcon-h1: llama.cpp reads this norm as plain blk.N.ffn_norm, while
         * the converter's name has the .weight suffix: either will do */
        if (hp->ffn_norm_bare) WL_TRY(wl_bind_vector(f, WL_NAME("ffn_norm"), n_embd, 0, &w->norm, err));
        if (!w->norm) WL_TRY(wl_bind_vector(f, WL_NAME("ffn_norm.weight"), n_embd, 1, &w->norm, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("ffn_norm.bias"), n_embd, 0, &w->norm_b, err));
    }
    if (hp->fused_gate_up) {
        WL_TRY(wl_bind_matrix(f, WL_NAME("ffn_up.weight"), n_embd, 2 * n_ff, 1, &w->up, err));
    } else {
        /* encoders: bert's FFN is ungated (GELU), nomic-bert's is gated (SwiGLU) */
        WL_TRY(wl_bind_matrix(f, WL_NAME("ffn_gate.weight"), n_embd, n_ff, !hp->encoder, &w->gate, err));
        WL_TRY(wl_bind_matrix(f, WL_NAME("ffn_up.weight"), n_embd, n_ff, 1, &w->up, err));
    }
    WL_TRY(wl_bind_matrix(f, WL_NAME("ffn_down.weight"), n_ff, n_embd, 1, &w->down, err));
    /* biases: required where the arch says so, used wherever present */
    if (!hp->fused_gate_up) {
        WL_TRY(wl_bind_vector(f, WL_NAME("ffn_gate.bias"), n_ff, 0, &w->gate_b, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("ffn_up.bias"), n_ff, hp->has_ffn_bias, &w->up_b, err));
    }
    WL_TRY(wl_bind_vector(f, WL_NAME("ffn_down.bias"), n_embd, hp->has_ffn_bias, &w->down_b, err));
    if (hp->has_post_norms) {
        WL_TRY(wl_bind_vector(f, WL_NAME("post_ffw_norm.weight"), n_embd, 1, &w->post_norm, err));
    }
    return WL_OK;
}

void wl_ffn_free(wl_ffn_weights *w) {
    free(w->norm); free(w->norm_b);
    free(w->gate_b); free(w->up_b); free(w->down_b);
    free(w->post_norm);
    free(w->out_norm); free(w->out_norm_b);
}

void wl_ffn_apply(wl_context *c, const wl_ffn_weights *w, int n_ff, const float *in, int n, float *out) {
    const wl_hparams *hp = &c->model->hp;
    float *hidden = c->gate; /* [n][n_ff] input of ffn_down */
    if (hp->fused_gate_up) {
        /* ffn_up rows are [gate; up]: one row of 2*n_ff per token */
        wl_project(c, &w->up, in, n, c->up);
        for (int t = 0; t < n; t++) {
            const float *row = c->up + (int64_t)t * 2 * n_ff;
            wl_gated_act(hidden + (int64_t)t * n_ff, row, row + n_ff, n_ff, hp->act);
        }
    } else if (w->gate.data) {
        const wl_matrix *ws[] = { &w->gate, &w->up };
        float *outs[] = { c->gate, c->up };
        wl_matmul_many(c->pool, ws, outs, 2, in, n, c->mm_scratch);
        wl_add_bias_rows(c->gate, w->gate_b, n_ff, n);
        wl_add_bias_rows(c->up, w->up_b, n_ff, n);
        wl_gated_act(hidden, c->gate, c->up, n * n_ff, hp->act);
    } else {
        wl_project(c, &w->up, in, n, hidden);
        wl_add_bias_rows(hidden, w->up_b, n_ff, n);
        wl_act_inplace(hidden, n * n_ff, hp->act);
    }
    wl_project(c, &w->down, hidden, n, out);
    wl_add_bias_rows(out, w->down_b, hp->n_embd, n);
}

void wl_ffn_forward(wl_context *c, int il, int n) {
    const wl_ffn_weights *w = &c->model->layers[il].ffn;
    wl_block_input(c, w->norm, w->norm_b, n);
    wl_ffn_apply(c, w, c->model->hp.n_ff, c->xn, n, c->proj);
    wl_block_output(c, w->post_norm, w->out_norm, w->out_norm_b, n);
}
