/* Token mixer: multi-head attention over the KV cache, in llama.cpp's order
 * (llm_build_* graphs): norm -> Q, K, V projections (+bias) -> q/k norms ->
 * RoPE -> store K, V (f16 or Q8_0) -> attention -> output projection ->
 * optional post-norm -> residual. Grouped-query attention, sliding windows,
 * NoPE layers, soft-capping and bidirectional (encoder) attention are
 * hparams of this one kind. A sliding-window layer's cache is a ring
 * (kv_cache.h): rows are found modulo its size, read in position order. */
#include <stdlib.h>
#include <string.h>

#include "layer.h"
#include "matmul.h"
#include "ops.h"
#include "types.h"

/* ---- binding ---- */

wl_status wl_attention_bind(const wl_file *f, const wl_hparams *hp, int il, wl_attn_weights *w,
                            wl_error *err) {
    char name[96];
    const int64_t n_embd = hp->n_embd;
    const int64_t n_q = (int64_t)hp->n_head * hp->head_dim_k;
    const int64_t n_k = (int64_t)hp->n_head_kv * hp->head_dim_k;
    const int64_t n_v = (int64_t)hp->n_head_kv * hp->head_dim_v;
    const int64_t n_o = (int64_t)hp->n_head * hp->head_dim_v;

    if (!hp->encoder) {
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_norm.weight"), n_embd, 1, &w->norm, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_norm.bias"), n_embd, 0, &w->norm_b, err));
    }
    /* phi3 files hold one fused projection or three separate ones */
    if (hp->fused_qkv || wl_file_find_tensor(f, WL_NAME("attn_qkv.weight"))) {
        WL_TRY(wl_bind_matrix(f, WL_NAME("attn_qkv.weight"), n_embd, n_q + n_k + n_v, 1, &w->wqkv, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_qkv.bias"), n_q + n_k + n_v, 0, &w->bqkv, err));
    } else {
        WL_TRY(wl_bind_matrix(f, WL_NAME("attn_q.weight"), n_embd, n_q, 1, &w->wq, err));
        WL_TRY(wl_bind_matrix(f, WL_NAME("attn_k.weight"), n_embd, n_k, 1, &w->wk, err));
        WL_TRY(wl_bind_matrix(f, WL_NAME("attn_v.weight"), n_embd, n_v, 1, &w->wv, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_q.bias"), n_q, hp->has_qkv_bias, &w->bq, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_k.bias"), n_k, hp->has_qkv_bias, &w->bk, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_v.bias"), n_v, hp->has_qkv_bias, &w->bv, err));
    }
    WL_TRY(wl_bind_matrix(f, WL_NAME("attn_output.weight"), n_o, n_embd, 1, &w->wo, err));
    WL_TRY(wl_bind_vector(f, WL_NAME("attn_output.bias"), n_embd, hp->has_o_bias, &w->bo, err));
    if (hp->has_qk_norm) {
        /* per head (shared by all heads), or olmoe's over the whole q and k */
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_q_norm.weight"), hp->qk_norm_whole ? n_q : hp->head_dim_k, 1,
                           &w->q_norm, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_k_norm.weight"), hp->qk_norm_whole ? n_k : hp->head_dim_k, 1,
                           &w->k_norm, err));
    }
    if (hp->has_post_norms) {
        WL_TRY(wl_bind_vector(f, WL_NAME("post_attention_norm.weight"), n_embd, 1, &w->post_norm, err));
    }
    if (hp->encoder) {
        /* post-norm blocks: LayerNorm after the residual add */
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_output_norm.weight"), n_embd, 1, &w->out_norm, err));
        WL_TRY(wl_bind_vector(f, WL_NAME("attn_output_norm.bias"), n_embd, 0, &w->out_norm_b, err));
    }
    return WL_OK;
}

void wl_attention_free(wl_attn_weights *w) {
    free(w->norm); free(w->norm_b);
    free(w->bq); free(w->bk); free(w->bv); free(w->bqkv); free(w->bo);
    free(w->q_norm); free(w->k_norm); free(w->post_norm);
    free(w->out_norm); free(w->out_norm_b);
}

/* ---- attention, split over (token, query heads) items across the pool ----
 * An item is one token and `per_item` query heads of one K/V group, which
 * wl_attend_group runs reading each cached row once for all of them; the
 * group is split when that leaves fewer than two items per thread. */

typedef struct {
    wl_context *c;
    int il;
    int n_tokens;
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
        const int pos = c->row_pos[t];
        const wl_kv_cache *kv = &c->row_seq[t]->kv;
        /* causal: a token sees itself and everything before it; SWA keeps
         * only positions less than `window` behind (llama.cpp's mask). */
        int lo = 0;
        if (a->window > 0 && pos - a->window + 1 > 0) lo = pos - a->window + 1;
        wl_attn_head head = {
            .k = wl_kv_k(kv, a->il, kvh, 0),
            .v = wl_kv_v(kv, a->il, kvh, 0),
            .k_stride = kv->k_pos,
            .v_stride = kv->v_pos,
            .k_type = kv->type,
            .v_type = kv->type,
            .head_dim_k = hp->head_dim_k,
            .head_dim_v = hp->head_dim_v,
            .scale = hp->q_prescale ? 1.0f : hp->attn_scale,
            .softcap = hp->attn_softcap,
            .ring_rows = kv->rows[a->il] < kv->n_ctx ? kv->rows[a->il] : 0,
        };
        const float *q = c->q + ((int64_t)t * hp->n_head + h) * hp->head_dim_k;
        float *out = c->attn + ((int64_t)t * hp->n_head + h) * hp->head_dim_v;
        /* bidirectional: one sequence, the whole of it in this chunk */
        const int hi = a->causal ? pos + 1 : c->row_pos[0] + a->n_tokens;
        wl_attend_group(&head, q, a->per_item, lo, hi, out, scratch);
    }
}

/* ---- one layer ---- */

static void qkv_projections(wl_context *c, const wl_attn_weights *w, int n) {
    const wl_hparams *hp = &c->model->hp;
    const int n_q = hp->n_head * hp->head_dim_k;
    const int n_k = hp->n_head_kv * hp->head_dim_k;
    const int n_v = hp->n_head_kv * hp->head_dim_v;
    if (w->wqkv.data) {
        const int n_all = n_q + n_k + n_v;
        wl_project(c, &w->wqkv, c->xn, n, c->qkv);
        wl_add_bias_rows(c->qkv, w->bqkv, n_all, n);
        for (int t = 0; t < n; t++) {
            const float *row = c->qkv + (int64_t)t * n_all;
            memcpy(c->q + (int64_t)t * n_q, row, (size_t)n_q * sizeof(float));
            memcpy(c->k + (int64_t)t * n_k, row + n_q, (size_t)n_k * sizeof(float));
            memcpy(c->v + (int64_t)t * n_v, row + n_q + n_k, (size_t)n_v * sizeof(float));
        }
    } else {
        /* one encoding of xn and one pool pass for all three */
        const wl_matrix *ws[] = { &w->wq, &w->wk, &w->wv };
        float *outs[] = { c->q, c->k, c->v };
        wl_matmul_many(c->pool, ws, outs, 3, c->xn, n, c->mm_scratch);
        wl_add_bias_rows(c->q, w->bq, n_q, n);
        wl_add_bias_rows(c->k, w->bk, n_k, n);
        wl_add_bias_rows(c->v, w->bv, n_v, n);
    }
}

/* RMSNorm of each head's vector (or, qk_norm_whole, of all heads' at once). */
static void qk_norms(const wl_hparams *hp, float *x, const float *w, int n_heads, int n) {
    const int width = hp->qk_norm_whole ? n_heads * hp->head_dim_k : hp->head_dim_k;
    const int64_t n_vecs = (int64_t)n * n_heads * hp->head_dim_k / width;
    for (int64_t i = 0; i < n_vecs; i++) {
        float *v = x + i * width;
        wl_rmsnorm(v, v, w, width, hp->norm_eps);
    }
}

/* K and V rows of this chunk into their sequences' caches, converted to its type (f16
 * rounding, or Q8_0 blocks quantized like ggml's copy into a q8_0 cache). */
static void store_kv(wl_context *c, int il, int n) {
    const wl_hparams *hp = &c->model->hp;
    const int hk = hp->head_dim_k, hv = hp->head_dim_v;
    for (int t = 0; t < n; t++) {
        wl_kv_cache *kv = &c->row_seq[t]->kv;
        const wl_type_traits *kv_type = wl_type_get(kv->type);
        const int pos = c->row_pos[t];
        for (int h = 0; h < hp->n_head_kv; h++) {
            const float *k = c->k + ((int64_t)t * hp->n_head_kv + h) * hk;
            const float *v = c->v + ((int64_t)t * hp->n_head_kv + h) * hv;
            kv_type->from_float(k, wl_kv_k(kv, il, h, pos), hk);
            kv_type->from_float(v, wl_kv_v(kv, il, h, pos), hv);
        }
        /* how far back a sliding-window ring still reaches (wl_kv_cache_rewind) */
        if (pos + 1 > c->row_seq[t]->pos_max) c->row_seq[t]->pos_max = pos + 1;
    }
}

void wl_attention_forward(wl_context *c, int il, int n) {
    const wl_model *m = c->model;
    const wl_hparams *hp = &m->hp;
    const wl_attn_weights *w = &m->layers[il].attn;
    const int swa = hp->sliding_window > 0 && hp->layer_swa[il];

    wl_block_input(c, w->norm, w->norm_b, n);
    qkv_projections(c, w, n);
    if (w->q_norm) qk_norms(hp, c->q, w->q_norm, hp->n_head, n);
    if (w->k_norm) qk_norms(hp, c->k, w->k_norm, hp->n_head_kv, n);

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
    store_kv(c, il, n);

    attn_task task = { c, il, n, swa ? hp->sliding_window : 0, hp->causal,
                       heads_per_item(hp, n, wl_pool_size(c->pool)) };
    wl_pool_run(c->pool, attn_worker, &task);

    wl_project(c, &w->wo, c->attn, n, c->proj);
    wl_add_bias_rows(c->proj, w->bo, hp->n_embd, n);
    wl_block_output(c, w->post_norm, w->out_norm, w->out_norm_b, n);
}
