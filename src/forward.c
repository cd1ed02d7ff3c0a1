/* The forward pass over one chunk of tokens at a time: embed, then each
 * layer's token mixer and channel mixer (layer.h; one file per kind), then
 * the final norm and output projection of the last token. This file holds
 * the driver and what the kinds share (pre-norm, residual). */
#include "forward.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "layer.h"
#include "matmul.h"
#include "ops.h"
#include "types.h"

static void norm_row(const wl_hparams *hp, float *out, const float *x, const float *w,
                     const float *b) {
    if (hp->norm == WL_NORM_LAYER) {
        wl_layernorm(out, x, w, b, hp->n_embd, hp->norm_eps);
    } else {
        wl_rmsnorm(out, x, w, hp->n_embd, hp->norm_eps);
    }
}

void wl_norm_rows(const wl_hparams *hp, float *out, const float *x, const float *w, const float *b,
                  int n) {
    for (int t = 0; t < n; t++) {
        norm_row(hp, out + (int64_t)t * hp->n_embd, x + (int64_t)t * hp->n_embd, w, b);
    }
}

void wl_add_bias_rows(float *x, const float *b, int width, int n) {
    if (!b) return;
    for (int t = 0; t < n; t++) wl_add(x + (int64_t)t * width, b, width);
}

void wl_project(wl_context *c, const wl_matrix *w, const float *x, int n, float *out) {
    wl_matmul(c->pool, w, x, n, out, c->mm_scratch);
}

void wl_block_input(wl_context *c, const float *w, const float *b, int n) {
    const wl_hparams *hp = &c->model->hp;
    if (w) wl_norm_rows(hp, c->xn, c->x, w, b, n);
    else memcpy(c->xn, c->x, (size_t)n * hp->n_embd * sizeof(float));
}

void wl_block_output(wl_context *c, const float *post_w, const float *out_w, const float *out_b, int n) {
    const wl_hparams *hp = &c->model->hp;
    if (post_w) wl_norm_rows(hp, c->proj, c->proj, post_w, NULL, n);
    for (int t = 0; t < n; t++) {
        float *x = c->x + (int64_t)t * hp->n_embd;
        const float *y = c->proj + (int64_t)t * hp->n_embd;
        if (hp->residual_scale != 1.0f) wl_add_scaled(x, y, hp->residual_scale, hp->n_embd);
        else wl_add(x, y, hp->n_embd);
    }
    if (out_w) wl_norm_rows(hp, c->x, c->x, out_w, out_b, n);
}

const char *wl_layer_tensor_name(char *buf, size_t cap, int il, const char *suffix) {
    snprintf(buf, cap, "blk.%d.%s", il, suffix);
    return buf;
}

/* One layer: its token mixer, then its channel mixer. */
static void run_layer(wl_context *c, int il, int n) {
    const wl_hparams *hp = &c->model->hp;
    const int moe = hp->layer_channel[il] == WL_CHANNEL_MOE;
    /* smallthinker routes on the layer's input, before attention changes it */
    if (moe && hp->moe.route_on_input) wl_moe_route(c, il, c->x, n);
    switch ((wl_token_mixer)hp->layer_mixer[il]) {
    case WL_MIXER_ATTENTION: wl_attention_forward(c, il, n); break;
    case WL_MIXER_SHORTCONV: wl_shortconv_forward(c, il, n); break;
    case WL_MIXER_SSM: wl_ssm_forward(c, il, n); break;
    case WL_MIXER_PARALLEL: wl_parallel_forward(c, il, n); break;
    }
    switch ((wl_channel_mixer)hp->layer_channel[il]) {
    case WL_CHANNEL_FFN: wl_ffn_forward(c, il, n); break;
    case WL_CHANNEL_MOE: wl_moe_forward(c, il, n); break;
    case WL_CHANNEL_NONE: break;
    }
}

/* ---- chunk driver ---- */

static void embed(wl_context *c, const int32_t *tokens, int n) {
    const wl_model *m = c->model;
    const int n_embd = m->hp.n_embd;
    for (int t = 0; t < n; t++) {
        float *row = c->x + (int64_t)t * n_embd;
        wl_matrix_get_row(&m->token_embd, tokens[t], row);
        if (m->hp.embd_scale != 1.0f) wl_scale(row, m->hp.embd_scale, n_embd);
        /* encoders: + token type 0 + absolute position, then LayerNorm */
        if (m->token_type0) wl_add(row, m->token_type0, n_embd);
        if (m->position_embd.data) {
            float *pos_row = c->proj; /* free until the first block */
            wl_matrix_get_row(&m->position_embd, c->row_pos[t], pos_row);
            wl_add(row, pos_row, n_embd);
        }
        if (m->token_embd_norm) {
            wl_layernorm(row, row, m->token_embd_norm, m->token_embd_norm_b, n_embd, m->hp.norm_eps);
        }
    }
}

/* Per-dimension divisors of the rope angle: llama3's rope_freqs, else
 * LongRoPE's long factors when the context exceeds the original one. */
static const float *rope_factors(const wl_context *c) {
    const wl_model *m = c->model;
    if (m->rope_freqs) return m->rope_freqs;
    if (m->rope_factors_long && c->n_ctx > m->hp.yarn.n_ctx_orig) return m->rope_factors_long;
    return m->rope_factors_short;
}

static void rope_tables(wl_context *c, int n) {
    const wl_model *m = c->model;
    const wl_hparams *hp = &m->hp;
    if (hp->n_rot == 0) return;
    for (int t = 0; t < n; t++) {
        const float *ff = rope_factors(c->row_seq[t]);
        const int pos = c->row_pos[t];
        wl_rope_cache(c->rope_cs + (int64_t)t * hp->n_rot, hp->n_rot, pos, hp->rope_base,
                      hp->rope_freq_scale, ff, &hp->yarn);
        if (hp->sliding_window > 0) {
            wl_rope_cache(c->rope_cs_swa + (int64_t)t * hp->n_rot, hp->n_rot, pos,
                          hp->rope_base_swa, hp->rope_freq_scale_swa, ff, &hp->yarn);
        }
    }
}

/* Adds this chunk's final hidden states to the pooled embedding. Decoders'
 * hidden states are taken after the output norm, as llama.cpp's t_embd. */
static void pool_chunk(wl_context *c, wl_embd_acc *acc, int pos0, int n, int last_chunk) {
    const wl_model *m = c->model;
    const int n_embd = m->hp.n_embd;
    for (int t = 0; t < n; t++) {
        const int wanted = acc->pooling == 1 || (acc->pooling == 2 && pos0 + t == 0) ||
                           (acc->pooling == 3 && last_chunk && t == n - 1);
        if (!wanted) continue;
        const float *h = c->x + (int64_t)t * n_embd;
        if (m->output_norm) {
            norm_row(&m->hp, c->xn, h, m->output_norm, m->output_norm_b);
            h = c->xn;
        }
        for (int i = 0; i < n_embd; i++) acc->sum[i] += h[i];
        acc->n_rows++;
    }
}

/* Logits of n_out rows of the chunk (rows[i]) into out, n_vocab each: one
 * pass over the output matrix for all of them. */
static void output_rows(wl_context *c, const int *rows, int n_out, float *out) {
    const wl_model *m = c->model;
    const wl_hparams *hp = &m->hp;
    for (int i = 0; i < n_out; i++) {
        norm_row(hp, c->xn + (int64_t)i * hp->n_embd, c->x + (int64_t)rows[i] * hp->n_embd, m->output_norm,
                 m->output_norm_b);
    }
    wl_project(c, &m->output, c->xn, n_out, out);
    for (int i = 0; i < n_out; i++) {
        float *logits = out + (int64_t)i * hp->n_vocab;
        if (m->output_b) wl_add(logits, m->output_b, hp->n_vocab);
        if (hp->final_softcap != 0.0f) wl_softcap(logits, hp->n_vocab, hp->final_softcap);
        if (hp->logit_scale != 1.0f) wl_scale(logits, 1.0f / hp->logit_scale, hp->n_vocab);
    }
}

/* Embeds n rows (c->row_seq, c->row_pos set) and runs every layer over them. */
static void run_rows(wl_context *c, const int32_t *tokens, int n) {
    embed(c, tokens, n);
    rope_tables(c, n);
    for (int il = 0; il < c->model->hp.n_layer; il++) run_layer(c, il, n);
}

/* One sequence's tokens in chunks; after each, the pooled states (acc), or
 * every row's logits (all), else the last token's logits at the end. */
static void forward_one(wl_context *c, const int32_t *tokens, int n_tokens, wl_embd_acc *acc, float *all) {
    const int n_vocab = c->model->hp.n_vocab;
    int rows[WL_MAX_CHUNK];
    for (int done = 0; done < n_tokens;) {
        const int n = n_tokens - done < c->max_chunk ? n_tokens - done : c->max_chunk;
        const int pos0 = c->pos;
        for (int t = 0; t < n; t++) c->row_seq[t] = c, c->row_pos[t] = pos0 + t;
        run_rows(c, tokens + done, n);
        c->pos += n;
        if (all) {
            for (int t = 0; t < n; t++) rows[t] = t;
            output_rows(c, rows, n, all + (int64_t)done * n_vocab);
        }
        done += n;
        if (acc) pool_chunk(c, acc, pos0, n, done == n_tokens);
        else if (all && done == n_tokens) memcpy(c->logits, all + (int64_t)(n_tokens - 1) * n_vocab, (size_t)n_vocab * sizeof(float));
        else if (done == n_tokens) output_rows(c, &(int){ n - 1 }, 1, c->logits);
    }
}

void wl_forward(wl_context *c, const int32_t *tokens, int n_tokens, wl_embd_acc *acc) {
    forward_one(c, tokens, n_tokens, acc, NULL);
}

void wl_forward_all(wl_context *c, const int32_t *tokens, int n_tokens, float *all) {
    forward_one(c, tokens, n_tokens, NULL, all);
}

void wl_forward_batch(wl_context *lead, wl_context *const *seqs, const int32_t *tokens, const int *n_tokens,
                      int n_seq) {
    const int n_vocab = lead->model->hp.n_vocab;
    int total = 0;
    for (int s = 0; s < n_seq; s++) total += n_tokens[s];
    /* pieces of the concatenated tokens; s, j: the next row's sequence and index in it */
    int s = 0, j = 0; /* positions advance after the last piece, so row_pos = pos + j */
    for (int done = 0; done < total;) {
        const int n = total - done < lead->max_chunk ? total - done : lead->max_chunk;
        int outs[WL_MAX_CHUNK], n_out = 0, first_seq = s;
        for (int t = 0; t < n; t++) {
            lead->row_seq[t] = seqs[s];
            lead->row_pos[t] = seqs[s]->pos + j;
            if (++j == n_tokens[s]) outs[n_out++] = t, s++, j = 0;
        }
        run_rows(lead, tokens + done, n);
        if (n_out > 0) output_rows(lead, outs, n_out, lead->batch_logits);
        for (int i = 0; i < n_out; i++) {
            memcpy(seqs[first_seq + i]->logits, lead->batch_logits + (int64_t)i * n_vocab,
                   (size_t)n_vocab * sizeof(float));
        }
        done += n;
    }
    for (s = 0; s < n_seq; s++) seqs[s]->pos += n_tokens[s];
}
