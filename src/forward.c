/* The transformer forward pass over one chunk of tokens at a time.
 * Order of operations follows llama.cpp's graphs (llm_build_*): norm ->
 * projections (+bias) -> q/k norm -> RoPE -> store K,V (f16 or Q8_0) -> attention
 * -> output projection -> optional post-norm -> residual; the same for the
 * FFN; final norm and output projection of the last token only. */
#include "forward.h"

#include <math.h>
#include <string.h>

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

static void norm_rows(const wl_hparams *hp, float *out, const float *x, const float *w,
                      const float *b, int n) {
    for (int t = 0; t < n; t++) {
        norm_row(hp, out + (int64_t)t * hp->n_embd, x + (int64_t)t * hp->n_embd, w, b);
    }
}

static void add_bias_rows(float *x, const float *b, int width, int n) {
    if (!b) return;
    for (int t = 0; t < n; t++) wl_add(x + (int64_t)t * width, b, width);
}

/* ---- attention, split over (token, query heads) items across the pool ----
 * An item is one token and `per_item` query heads of one K/V group, which
 * wl_attend_group runs reading each cached row once for all of them; the
 * group is split when that leaves fewer than two items per thread. */

typedef struct {
    wl_context *c;
    int il;
    int n_tokens;
    int pos0;
    int window; /* 0 = no sliding window */
    int causal; /* 0: every token sees the whole chunk (encoders) */
    int per_item; /* query heads per item: a divisor of the group */
} attn_task;

static int heads_per_item(const wl_hparams *hp, int n_tokens, int nth) {
    const int group = hp->n_head / hp->n_head_kv;
    int per = group;
    while (per > 1 && (int64_t)n_tokens * (hp->n_head / per) < 2 * (int64_t)nth) {
        do per--;
        while (group % per != 0);
    }
    return per;
}

static void attn_worker(void *arg, int ith, int nth) {
    const attn_task *a = arg;
    wl_context *c = a->c;
    const wl_hparams *hp = &c->model->hp;
    const int group = hp->n_head / hp->n_head_kv;
    float *scratch = c->attn_tmp + (int64_t)ith * c->attn_tmp_stride;

    const int items_per_token = hp->n_head / a->per_item;
    const int64_t n_items = (int64_t)a->n_tokens * items_per_token;
    for (int64_t item = ith; item < n_items; item += nth) {
        const int t = (int)(item / items_per_token);
        const int h = (int)(item % items_per_token) * a->per_item; /* the first of the item's heads */
        const int kvh = h / group;
        const int pos = a->pos0 + t;
        /* causal: a token sees itself and everything before it; SWA keeps
         * only positions less than `window` behind (llama.cpp's mask). */
        int lo = 0;
        if (a->window > 0 && pos - a->window + 1 > 0) lo = pos - a->window + 1;
        wl_attn_head head = {
            .k = wl_kv_k(&c->kv, a->il, kvh, 0),
            .v = wl_kv_v(&c->kv, a->il, kvh, 0),
            .k_stride = c->kv.k_pos,
            .v_stride = c->kv.v_pos,
            .k_type = c->kv.type,
            .v_type = c->kv.type,
            .head_dim_k = hp->head_dim_k,
            .head_dim_v = hp->head_dim_v,
            .scale = hp->q_prescale ? 1.0f : hp->attn_scale,
            .softcap = hp->attn_softcap,
        };
        const float *q = c->q + ((int64_t)t * hp->n_head + h) * hp->head_dim_k;
        float *out = c->attn + ((int64_t)t * hp->n_head + h) * hp->head_dim_v;
        const int hi = a->causal ? pos + 1 : a->pos0 + a->n_tokens;
        wl_attend_group(&head, q, a->per_item, lo, hi, out, scratch);
    }
}

/* ---- one layer ---- */

static void project(wl_context *c, const wl_matrix *w, const float *x, int n, float *out) {
    wl_matmul(c->pool, w, x, n, out, c->mm_scratch);
}

/* Pre-norm of a sub-block into c->xn; encoders have none (they norm after the residual). */
static void block_input(wl_context *c, const float *w, const float *b, int n) {
    const wl_hparams *hp = &c->model->hp;
    if (w) norm_rows(hp, c->xn, c->x, w, b, n);
    else memcpy(c->xn, c->x, (size_t)n * hp->n_embd * sizeof(float));
}

/* x += residual_scale * proj, then the encoder's post-norm if it has one. */
static void residual(wl_context *c, const float *post_w, const float *post_b, int n) {
    const wl_hparams *hp = &c->model->hp;
    for (int t = 0; t < n; t++) {
        float *x = c->x + (int64_t)t * hp->n_embd;
        const float *y = c->proj + (int64_t)t * hp->n_embd;
        if (hp->residual_scale != 1.0f) wl_add_scaled(x, y, hp->residual_scale, hp->n_embd);
        else wl_add(x, y, hp->n_embd);
    }
    if (post_w) norm_rows(hp, c->x, c->x, post_w, post_b, n);
}

static void qkv_projections(wl_context *c, const wl_layer *l, int n) {
    const wl_hparams *hp = &c->model->hp;
    const int n_q = hp->n_head * hp->head_dim_k;
    const int n_k = hp->n_head_kv * hp->head_dim_k;
    const int n_v = hp->n_head_kv * hp->head_dim_v;
    if (l->wqkv.data) {
        const int n_all = n_q + n_k + n_v;
        project(c, &l->wqkv, c->xn, n, c->qkv);
        add_bias_rows(c->qkv, l->bqkv, n_all, n);
        for (int t = 0; t < n; t++) {
            const float *row = c->qkv + (int64_t)t * n_all;
            memcpy(c->q + (int64_t)t * n_q, row, (size_t)n_q * sizeof(float));
            memcpy(c->k + (int64_t)t * n_k, row + n_q, (size_t)n_k * sizeof(float));
            memcpy(c->v + (int64_t)t * n_v, row + n_q + n_k, (size_t)n_v * sizeof(float));
        }
    } else {
        /* one encoding of xn and one pool pass for all three */
        const wl_matrix *ws[] = { &l->wq, &l->wk, &l->wv };
        float *outs[] = { c->q, c->k, c->v };
        wl_matmul_many(c->pool, ws, outs, 3, c->xn, n, c->mm_scratch);
        add_bias_rows(c->q, l->bq, n_q, n);
        add_bias_rows(c->k, l->bk, n_k, n);
        add_bias_rows(c->v, l->bv, n_v, n);
    }
}

static void head_norms(const wl_hparams *hp, float *x, const float *w, int n_heads, int n) {
    for (int64_t i = 0; i < (int64_t)n * n_heads; i++) {
        float *v = x + i * hp->head_dim_k;
        wl_rmsnorm(v, v, w, hp->head_dim_k, hp->norm_eps);
    }
}

/* K and V rows of this chunk into the cache, converted to its type (f16
 * rounding, or Q8_0 blocks quantized like ggml's copy into a q8_0 cache). */
static void store_kv(wl_context *c, int il, int pos0, int n) {
    const wl_type_traits *kv_type = wl_type_get(c->kv.type);
    const wl_hparams *hp = &c->model->hp;
    const int hk = hp->head_dim_k, hv = hp->head_dim_v;
    for (int t = 0; t < n; t++) {
        for (int h = 0; h < hp->n_head_kv; h++) {
            const float *k = c->k + ((int64_t)t * hp->n_head_kv + h) * hk;
            const float *v = c->v + ((int64_t)t * hp->n_head_kv + h) * hv;
            kv_type->from_float(k, wl_kv_k(&c->kv, il, h, pos0 + t), hk);
            kv_type->from_float(v, wl_kv_v(&c->kv, il, h, pos0 + t), hv);
        }
    }
}

static void attention_block(wl_context *c, int il, int pos0, int n) {
    const wl_model *m = c->model;
    const wl_hparams *hp = &m->hp;
    const wl_layer *l = &m->layers[il];
    const int swa = hp->sliding_window > 0 && hp->layer_swa[il];

    block_input(c, l->attn_norm, l->attn_norm_b, n);
    qkv_projections(c, l, n);
    if (l->q_norm) head_norms(hp, c->q, l->q_norm, hp->n_head, n);
    if (l->k_norm) head_norms(hp, c->k, l->k_norm, hp->n_head_kv, n);

    if (hp->n_rot > 0 && !hp->layer_no_rope[il]) {
        const float *cs_all = swa ? c->rope_cs_swa : c->rope_cs;
        for (int t = 0; t < n; t++) {
            const float *cs = cs_all + (int64_t)t * hp->n_rot;
            wl_rope_apply(c->q + (int64_t)t * hp->n_head * hp->head_dim_k, hp->n_head,
                          hp->head_dim_k, hp->n_rot, cs, hp->rope_mode);
            wl_rope_apply(c->k + (int64_t)t * hp->n_head_kv * hp->head_dim_k, hp->n_head_kv,
                          hp->head_dim_k, hp->n_rot, cs, hp->rope_mode);
        }
    }
    if (hp->q_prescale) wl_scale(c->q, hp->attn_scale, n * hp->n_head * hp->head_dim_k);
    store_kv(c, il, pos0, n);

    attn_task task = { c, il, n, pos0, swa ? hp->sliding_window : 0, hp->causal,
                       heads_per_item(hp, n, wl_pool_size(c->pool)) };
    wl_pool_run(c->pool, attn_worker, &task);

    project(c, &l->wo, c->attn, n, c->proj);
    add_bias_rows(c->proj, l->bo, hp->n_embd, n);
    if (l->attn_post_norm) norm_rows(hp, c->proj, c->proj, l->attn_post_norm, NULL, n);
    residual(c, l->attn_out_norm, l->attn_out_norm_b, n);
}

static void ffn_block(wl_context *c, int il, int n) {
    const wl_model *m = c->model;
    const wl_hparams *hp = &m->hp;
    const wl_layer *l = &m->layers[il];
    const int n_ff = hp->n_ff;

    block_input(c, l->ffn_norm, l->ffn_norm_b, n);
    float *hidden = c->gate; /* [n][n_ff] input of ffn_down */
    if (hp->fused_gate_up) {
        /* ffn_up rows are [gate; up]: one row of 2*n_ff per token */
        project(c, &l->ffn_up, c->xn, n, c->up);
        for (int t = 0; t < n; t++) {
            const float *row = c->up + (int64_t)t * 2 * n_ff;
            wl_gated_act(hidden + (int64_t)t * n_ff, row, row + n_ff, n_ff, hp->act);
        }
    } else if (l->ffn_gate.data) {
        const wl_matrix *ws[] = { &l->ffn_gate, &l->ffn_up };
        float *outs[] = { c->gate, c->up };
        wl_matmul_many(c->pool, ws, outs, 2, c->xn, n, c->mm_scratch);
        add_bias_rows(c->gate, l->ffn_gate_b, n_ff, n);
        add_bias_rows(c->up, l->ffn_up_b, n_ff, n);
        wl_gated_act(hidden, c->gate, c->up, n * n_ff, hp->act);
    } else {
        project(c, &l->ffn_up, c->xn, n, hidden);
        add_bias_rows(hidden, l->ffn_up_b, n_ff, n);
        wl_act_inplace(hidden, n * n_ff, hp->act);
    }
    project(c, &l->ffn_down, hidden, n, c->proj);
    add_bias_rows(c->proj, l->ffn_down_b, hp->n_embd, n);
    if (l->ffn_post_norm) norm_rows(hp, c->proj, c->proj, l->ffn_post_norm, NULL, n);
    residual(c, l->layer_out_norm, l->layer_out_norm_b, n);
}

/* ---- chunk driver ---- */

static void embed(wl_context *c, const int32_t *tokens, int pos0, int n) {
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
            wl_matrix_get_row(&m->position_embd, pos0 + t, pos_row);
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

static void rope_tables(wl_context *c, int pos0, int n) {
    const wl_model *m = c->model;
    const wl_hparams *hp = &m->hp;
    if (hp->n_rot == 0) return;
    const float *ff = rope_factors(c);
    for (int t = 0; t < n; t++) {
        wl_rope_cache(c->rope_cs + (int64_t)t * hp->n_rot, hp->n_rot, pos0 + t, hp->rope_base,
                      hp->rope_freq_scale, ff, &hp->yarn);
        if (hp->sliding_window > 0) {
            wl_rope_cache(c->rope_cs_swa + (int64_t)t * hp->n_rot, hp->n_rot, pos0 + t,
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

static void output_logits(wl_context *c, int last_row) {
    const wl_model *m = c->model;
    const wl_hparams *hp = &m->hp;
    float *x = c->xn;
    norm_row(hp, x, c->x + (int64_t)last_row * hp->n_embd, m->output_norm, m->output_norm_b);
    project(c, &m->output, x, 1, c->logits);
    if (m->output_b) wl_add(c->logits, m->output_b, hp->n_vocab);
    if (hp->final_softcap != 0.0f) wl_softcap(c->logits, hp->n_vocab, hp->final_softcap);
    if (hp->logit_scale != 1.0f) wl_scale(c->logits, 1.0f / hp->logit_scale, hp->n_vocab);
}

void wl_forward(wl_context *c, const int32_t *tokens, int n_tokens, wl_embd_acc *acc) {
    const wl_hparams *hp = &c->model->hp;
    for (int done = 0; done < n_tokens;) {
        const int n = n_tokens - done < c->max_chunk ? n_tokens - done : c->max_chunk;
        const int pos0 = c->pos;
        embed(c, tokens + done, pos0, n);
        rope_tables(c, pos0, n);
        for (int il = 0; il < hp->n_layer; il++) {
            attention_block(c, il, pos0, n);
            ffn_block(c, il, n);
        }
        c->pos += n;
        done += n;
        if (acc) pool_chunk(c, acc, pos0, n, done == n_tokens);
        else if (done == n_tokens) output_logits(c, n - 1);
    }
}
