/* Contexts: the per-sequence state (KV cache, scratch sized once for the
 * largest chunk, a thread pool) and the wl_decode entry point. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "forward.h"
#include "layer.h"
#include "matmul.h"
#include "ops.h"
#include "wasmllm.h"

#if defined(__EMSCRIPTEN__)
#include <emscripten/heap.h>
#include <malloc.h>
#endif

#define WL_MAX_THREADS 64

typedef struct {
    float **slot;
    uint64_t n_floats; /* 64-bit: on wasm32 a size_t product could wrap */
} scratch_req;

static double scratch_floats(const scratch_req *reqs, int n) {
    double total = 0.0;
    for (int i = 0; i < n; i++) total += (double)reqs[i].n_floats;
    return total;
}

static void free_scratch(wl_context *c) {
    free(c->x); free(c->xn); free(c->q); free(c->k); free(c->v); free(c->qkv);
    free(c->attn); free(c->proj); free(c->gate); free(c->up);
    free(c->conv_bcx); free(c->ssm_proj); free(c->ssm_y);
    free(c->moe_logits); free(c->moe_in); free(c->moe_y); free(c->moe_out); free(c->moe_w); free(c->moe_ids);
    free(c->rope_cs); free(c->rope_cs_swa); free(c->attn_tmp);
    free(c->mm_scratch); free(c->logits);
    free(c->row_seq); free(c->row_pos); free(c->batch_logits);
}

#define WL_N_SCRATCH 22

/* Bytes malloc could still hand out: its free blocks plus the growth left
 * before wasm32's heap limit. A host without a fixed limit says infinity. */
static double heap_room(void) {
#if defined(__EMSCRIPTEN__)
    return (double)emscripten_get_heap_max() - (double)*emscripten_get_sbrk_ptr() +
           (double)mallinfo().fordblks;
#else
    return INFINITY;
#endif
}

/* Fills reqs[WL_N_SCRATCH] with the scratch buffers c needs; returns their count. */
static int plan_scratch(wl_context *c, scratch_req *reqs) {
    const wl_model *m = c->model;
    const wl_hparams *hp = &m->hp;
    const uint64_t C = (uint64_t)c->max_chunk;
    const uint64_t n_q = (uint64_t)hp->n_head * hp->head_dim_k;
    const uint64_t n_k = (uint64_t)hp->n_head_kv * hp->head_dim_k;
    const uint64_t n_v = (uint64_t)hp->n_head_kv * hp->head_dim_v;
    const uint64_t n_o = (uint64_t)hp->n_head * hp->head_dim_v;
    uint64_t n_ff = (uint64_t)hp->n_ff;
    int fused_qkv = 0, moe = 0, shortconv = 0, ssm = 0;
    for (int il = 0; il < hp->n_layer; il++) {
        fused_qkv |= m->layers[il].attn.wqkv.data != NULL;
        shortconv |= hp->layer_mixer[il] == WL_MIXER_SHORTCONV;
        ssm |= wl_mixer_has_ssm(hp->layer_mixer[il]);
        moe |= hp->layer_channel[il] == WL_CHANNEL_MOE;
    }
    if (moe && (uint64_t)hp->moe.n_ff_exp > n_ff) n_ff = (uint64_t)hp->moe.n_ff_exp;
    if (moe && (uint64_t)hp->moe.n_ff_shexp > n_ff) n_ff = (uint64_t)hp->moe.n_ff_shexp;
    const uint64_t n_used = moe ? (uint64_t)hp->moe.n_expert_used : 0;

    /* per thread: wl_attend_group's scratch for a whole group of query
     * heads and this cache type, padded apart */
    c->attn_tmp_stride = wl_attend_group_scratch_floats(c->kv.type, c->kv.type, hp->head_dim_k, hp->head_dim_v,
                                                        hp->n_head / hp->n_head_kv) + 16;
    const scratch_req plan[] = {
        { &c->x, C * hp->n_embd },
        { &c->xn, C * hp->n_embd },
        { &c->q, C * n_q },
        { &c->k, C * n_k },
        { &c->v, C * n_v },
        { &c->qkv, fused_qkv ? C * (n_q + n_k + n_v) : 0 },
        { &c->attn, C * n_o },
        { &c->proj, C * hp->n_embd },
        { &c->gate, C * n_ff },
        { &c->up, C * n_ff * (hp->fused_gate_up ? 2 : 1) },
        { &c->moe_logits, moe ? C * (uint64_t)hp->moe.n_expert : 0 },
        { &c->moe_in, moe ? C * hp->n_embd : 0 },
        { &c->moe_y, moe ? C * hp->n_embd : 0 },
        { &c->moe_out, C * n_used * hp->n_embd },
        { &c->moe_w, C * n_used },
        { &c->conv_bcx, shortconv ? C * 3 * (uint64_t)hp->n_embd : 0 },
        { &c->ssm_proj, ssm ? C * (uint64_t)wl_ssm_proj_floats(hp) : 0 },
        /* also parallel layers' Mamba-2 output rows (n_embd), kept while attention runs */
        { &c->ssm_y, ssm ? C * (uint64_t)(hp->ssm.d_inner > hp->n_embd ? hp->ssm.d_inner : hp->n_embd) : 0 },
        { &c->rope_cs, C * (uint64_t)hp->n_rot },
        { &c->rope_cs_swa, hp->sliding_window > 0 ? C * (uint64_t)hp->n_rot : 0 },
        { &c->attn_tmp, (uint64_t)c->n_threads * (uint64_t)c->attn_tmp_stride },
        { &c->logits, (uint64_t)hp->n_vocab },
    };
    _Static_assert(sizeof plan / sizeof plan[0] == WL_N_SCRATCH, "WL_N_SCRATCH");
    memcpy(reqs, plan, sizeof plan);
    return WL_N_SCRATCH;
}

static wl_status alloc_scratch(wl_context *c, const scratch_req *reqs, int n_reqs, wl_error *err) {
    const wl_model *m = c->model;
    for (int i = 0; i < n_reqs; i++) {
        if (reqs[i].n_floats == 0) continue;
        if (reqs[i].n_floats > SIZE_MAX / sizeof(float)) goto oom;
        *reqs[i].slot = malloc((size_t)reqs[i].n_floats * sizeof(float));
        if (!*reqs[i].slot) goto oom;
    }
    if (c->moe_w) {
        /* each token's chosen experts, then the rows routed to one expert */
        const size_t n_ids = (size_t)c->max_chunk * ((size_t)m->hp.moe.n_expert_used + 1);
        c->moe_ids = malloc(n_ids * sizeof *c->moe_ids);
        if (!c->moe_ids) goto oom;
    }
    c->row_seq = malloc((size_t)c->max_chunk * sizeof *c->row_seq);
    c->row_pos = malloc((size_t)c->max_chunk * sizeof *c->row_pos);
    if (!c->row_seq || !c->row_pos) goto oom;
    const size_t mm = wl_model_matmul_scratch(m, c->max_chunk);
    c->mm_scratch = malloc(mm ? mm : 1);
    if (!c->mm_scratch) goto oom;
    return WL_OK;
oom:
    return wl_fail(err, WL_ERR_OOM,
                   "cannot allocate %.1f MiB of scratch (+%.1f MiB matmul) for %d-token chunks",
                   scratch_floats(reqs, n_reqs) * 4.0 / 1048576.0,
                   wl_model_matmul_scratch(m, c->max_chunk) / 1048576.0, c->max_chunk);
}

static wl_context *context_try(const wl_model *m, int n_ctx, int n_threads, wl_type kv_type,
                               wl_error *err) {
    wl_context *c = calloc(1, sizeof *c);
    if (!c) {
        wl_fail(err, WL_ERR_OOM, "out of memory for the context");
        return NULL;
    }
    c->model = m;
    c->n_ctx = n_ctx;
    c->kv.type = kv_type; /* plan_scratch sizes attention scratch by it */
    /* bidirectional attention needs the whole sequence in one chunk */
    c->max_chunk = !m->hp.causal || n_ctx < WL_MAX_CHUNK ? n_ctx : WL_MAX_CHUNK;
    c->pool = wl_pool_create(n_threads);
    if (!c->pool && n_threads > 1) c->pool = wl_pool_create(1); /* no threads in this build */
    if (!c->pool) {
        free(c);
        wl_fail(err, WL_ERR_OOM, "cannot create a thread pool of %d threads", n_threads);
        return NULL;
    }
    c->n_threads = wl_pool_size(c->pool);
    /* Refuse a context the heap cannot hold before allocating any of it: a
     * failed attempt would leave the wasm memory grown (it never shrinks). */
    scratch_req reqs[WL_N_SCRATCH];
    const int n_reqs = plan_scratch(c, reqs);
    const double kv_bytes = wl_kv_cache_bytes(&m->hp, kv_type, n_ctx) + wl_shortconv_state_bytes(&m->hp) +
                            wl_ssm_state_bytes(&m->hp);
    const double scratch_bytes = scratch_floats(reqs, n_reqs) * sizeof(float) +
                                 (double)wl_model_matmul_scratch(m, c->max_chunk);
    const double room = heap_room();
    if (kv_bytes + scratch_bytes > room) {
        wl_context_free(c);
        wl_fail(err, WL_ERR_OOM,
                "a %d-token context needs %.0f bytes (KV cache %.0f, scratch %.0f) but the wasm "
                "heap has %.0f bytes left",
                n_ctx, kv_bytes + scratch_bytes, kv_bytes, scratch_bytes, room);
        return NULL;
    }
    if (wl_kv_cache_init(&c->kv, &m->hp, kv_type, n_ctx, err) != WL_OK ||
        wl_shortconv_state_init(c, err) != WL_OK ||
        wl_ssm_state_init(c, err) != WL_OK ||
        alloc_scratch(c, reqs, n_reqs, err) != WL_OK) {
        wl_context_free(c);
        return NULL;
    }
    return c;
}

wl_context *wl_context_new(const wl_model *m, int n_ctx, int n_threads, int kv_type,
                           wl_error *err) {
    if (!m) {
        wl_fail(err, WL_ERR_BAD_ARG, "wl_context_new: no model");
        return NULL;
    }
    if (n_ctx < 0 || n_ctx > (1 << 24) || n_threads < 0) {
        wl_fail(err, WL_ERR_BAD_ARG, "wl_context_new: n_ctx %d / n_threads %d out of range",
                n_ctx, n_threads);
        return NULL;
    }
    /* Checked before any size is computed: the sizes assume whole blocks per head. */
    if (wl_kv_cache_check(&m->hp, (wl_type)kv_type, err) != WL_OK) return NULL;
    if (n_threads == 0) n_threads = 1;
    if (n_threads > WL_MAX_THREADS) n_threads = WL_MAX_THREADS;
    if (n_ctx > 0) return context_try(m, n_ctx, n_threads, (wl_type)kv_type, err);

    /* n_ctx 0: the training context, halved until the heap can hold it. */
    int try_ctx = m->hp.n_ctx_train;
    for (;;) {
        wl_context *c = context_try(m, try_ctx, n_threads, (wl_type)kv_type, err);
        if (c || err == NULL || err->code != WL_ERR_OOM || try_ctx <= 256) return c;
        try_ctx /= 2;
    }
}

void wl_context_free(wl_context *c) {
    if (!c) return;
    wl_kv_cache_free(&c->kv);
    wl_shortconv_state_free(c);
    wl_ssm_state_free(c);
    free_scratch(c);
    if (c->pool) wl_pool_destroy(c->pool);
    free(c);
}

int wl_context_n_ctx(const wl_context *c) { return c ? c->n_ctx : 0; }
int wl_context_kv_type(const wl_context *c) { return c ? (int)c->kv.type : 0; }
double wl_context_kv_bytes(const wl_context *c) {
    return c ? wl_kv_cache_bytes(&c->model->hp, c->kv.type, c->n_ctx) : 0.0;
}
int wl_context_pos(const wl_context *c) { return c ? c->pos : 0; }

void wl_context_truncate(wl_context *c, int pos) {
    if (!c) return;
    if (pos < 0) pos = 0;
    if (pos >= c->pos) return;
    /* cache rows past pos are simply overwritten later; convolution windows
     * and sliding-window rings go back only so far, else the sequence starts over (the caller reads
     * wl_context_pos to learn what was kept) */
    const int conv = wl_shortconv_rewind(c, pos), ssm = wl_ssm_rewind(c, pos);
    const int ring = wl_kv_cache_rewind(&c->kv, &c->model->hp, pos, c->pos_max);
    int keep = conv < ring ? conv : ring;
    if (ssm < keep) keep = ssm;
    c->pos = keep;
    if (c->pos == 0) c->pos_max = 0;
}

/* WL_OK if n tokens (n >= 1) fit c's context and vocabulary and c decodes. */
static wl_status check_decode(const wl_context *c, const int32_t *tokens, int n_tokens, wl_error *err) {
    if (n_tokens > c->n_ctx - c->pos) {
        return wl_fail(err, WL_ERR_CONTEXT_FULL,
                       "%d tokens do not fit: %d of %d context positions are used", n_tokens,
                       c->pos, c->n_ctx);
    }
    const int n_vocab = c->model->hp.n_vocab;
    for (int i = 0; i < n_tokens; i++) {
        if (tokens[i] < 0 || tokens[i] >= n_vocab) {
            return wl_fail(err, WL_ERR_BAD_ARG, "token %d at index %d is outside the vocabulary (%d)",
                           tokens[i], i, n_vocab);
        }
    }
    if (c->model->hp.encoder) {
        return wl_fail(err, WL_ERR_BAD_ARG, "%s is an embedding model: use wl_embed",
                       c->model->arch_name);
    }
    return WL_OK;
}

int wl_decode(wl_context *c, const int32_t *tokens, int n_tokens, wl_error *err) {
    if (!c || !tokens || n_tokens <= 0) {
        return wl_fail(err, WL_ERR_BAD_ARG, "wl_decode: need a context and at least one token");
    }
    wl_status st = check_decode(c, tokens, n_tokens, err);
    if (st != WL_OK) return st;
    wl_forward(c, tokens, n_tokens, NULL);
    c->n_logits_all = 0;
    return WL_OK;
}

static wl_status reserve_batch_logits(wl_context *lead, int n, wl_error *err);

int wl_decode_all(wl_context *c, const int32_t *tokens, int n_tokens, wl_error *err) {
    if (!c || !tokens || n_tokens <= 0) {
        return wl_fail(err, WL_ERR_BAD_ARG, "wl_decode_all: need a context and at least one token");
    }
    wl_status st = check_decode(c, tokens, n_tokens, err);
    if (st == WL_OK) st = reserve_batch_logits(c, n_tokens, err);
    if (st != WL_OK) return st;
    wl_forward_all(c, tokens, n_tokens, c->batch_logits);
    c->n_logits_all = n_tokens;
    return WL_OK;
}

float *wl_context_logits_all(wl_context *c) {
    return c && c->n_logits_all > 0 ? c->batch_logits : NULL;
}

/* Room in lead->batch_logits for n rows of logits. */
static wl_status reserve_batch_logits(wl_context *lead, int n, wl_error *err) {
    if (lead->batch_logits_rows >= n) return WL_OK;
    const size_t bytes = (size_t)n * (size_t)lead->model->hp.n_vocab * sizeof(float);
    float *p = realloc(lead->batch_logits, bytes);
    if (!p) return wl_fail(err, WL_ERR_OOM, "cannot allocate %zu bytes for %d rows of logits", bytes, n);
    lead->batch_logits = p;
    lead->batch_logits_rows = n;
    return WL_OK;
}

int wl_decode_batch(wl_context *const *ctxs, const int32_t *tokens, const int *n_tokens, int n_seq,
                    wl_error *err) {
    if (!ctxs || !tokens || !n_tokens || n_seq <= 0) {
        return wl_fail(err, WL_ERR_BAD_ARG, "wl_decode_batch: need contexts, tokens and counts");
    }
    wl_context *lead = ctxs[0];
    int64_t offset = 0;
    for (int s = 0; s < n_seq; s++) {
        const wl_context *c = ctxs[s];
        if (!c || n_tokens[s] <= 0) {
            return wl_fail(err, WL_ERR_BAD_ARG, "wl_decode_batch: sequence %d needs a context and a token", s);
        }
        if (c->model != lead->model || c->kv.type != lead->kv.type) {
            return wl_fail(err, WL_ERR_BAD_ARG,
                           "wl_decode_batch: sequence %d's context has another model or KV cache type", s);
        }
        for (int o = 0; o < s; o++) {
            if (ctxs[o] == c) {
                return wl_fail(err, WL_ERR_BAD_ARG, "wl_decode_batch: sequences %d and %d share a context", o, s);
            }
        }
        wl_status st = check_decode(c, tokens + offset, n_tokens[s], err);
        if (st != WL_OK) return st;
        offset += n_tokens[s];
    }
    wl_status st = reserve_batch_logits(lead, n_seq < lead->max_chunk ? n_seq : lead->max_chunk, err);
    if (st != WL_OK) return st;
    for (int s = 0; s < n_seq; s++) ctxs[s]->n_logits_all = 0;
    wl_forward_batch(lead, ctxs, tokens, n_tokens, n_seq);
    return WL_OK;
}

int wl_embed(wl_context *c, const int32_t *tokens, int n_tokens, int pooling, int normalize,
             float *out, wl_error *err) {
    if (!c || !tokens || !out || n_tokens <= 0) {
        return wl_fail(err, WL_ERR_BAD_ARG, "wl_embed: need a context, tokens and an output");
    }
    const wl_model *m = c->model;
    if (pooling == -1) pooling = m->hp.pooling > 0 ? m->hp.pooling : (m->hp.encoder ? 1 : 3);
    if (pooling < 1 || pooling > 3) {
        return wl_fail(err, WL_ERR_BAD_ARG, "wl_embed: pooling %d is not one of -1, 1, 2, 3", pooling);
    }
    int limit = c->n_ctx;
    if (m->position_embd.data && m->position_embd.n_rows < limit) limit = (int)m->position_embd.n_rows;
    if (n_tokens > limit) {
        return wl_fail(err, WL_ERR_CONTEXT_FULL, "%d tokens do not fit: this context embeds at most %d",
                       n_tokens, limit);
    }
    for (int i = 0; i < n_tokens; i++) {
        if (tokens[i] < 0 || tokens[i] >= m->hp.n_vocab) {
            return wl_fail(err, WL_ERR_BAD_ARG, "token %d at index %d is outside the vocabulary (%d)",
                           tokens[i], i, m->hp.n_vocab);
        }
    }
    const int n_embd = m->hp.n_embd;
    wl_embd_acc acc = { pooling, out, 0 };
    memset(out, 0, (size_t)n_embd * sizeof(float));
    c->pos = 0;
    c->n_logits_all = 0;
    c->pos_max = 0;
    wl_forward(c, tokens, n_tokens, &acc);
    if (acc.n_rows > 1) {
        for (int i = 0; i < n_embd; i++) out[i] /= (float)acc.n_rows;
    }
    if (normalize) {
        double ss = 0.0;
        for (int i = 0; i < n_embd; i++) ss += (double)out[i] * out[i];
        const float inv = ss > 0.0 ? (float)(1.0 / sqrt(ss)) : 0.0f;
        for (int i = 0; i < n_embd; i++) out[i] *= inv;
    }
    return WL_OK;
}

float *wl_context_logits(wl_context *c) {
    return c ? c->logits : NULL;
}
