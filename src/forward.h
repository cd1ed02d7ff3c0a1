/* The context (KV cache, scratch, threads for one sequence) and the forward
 * pass that fills it: each layer's kinds (layer.h) run in turn. */
#ifndef WL_FORWARD_H
#define WL_FORWARD_H

#include <stdint.h>
#include "error.h"
#include "kv_cache.h"
#include "model.h"
#include "threadpool.h"

/* Prompt tokens are processed this many at a time (matrix x matrix), which
 * bounds scratch memory independently of the prompt length. 32 tokens read
 * each weight once per 32 tokens, a few percent of a chunk's time even for
 * 135M models (prompt speed within noise of 64's for SmolLM2 and
 * Llama-3.2-1B shapes), while the resident memory of a Llama-3.2-1B run is
 * 10 MiB below 64's (FFN activations above all); 64 had left two benchmark
 * cells within 0-2 MB of the file + KV + 64 MB budget. */
#define WL_MAX_CHUNK 32

/* Positions a truncate can take back without recomputing the sequence in
 * models with short-convolution layers: enough for a chat turn's end to be
 * retokenized; 32 rows of n_embd floats per layer (2.5 MiB for LFM2-1.2B's
 * 10 convolution layers). */
#define WL_CONV_REWIND 32

struct wl_context {
    const wl_model *model;
    int n_ctx;
    int pos;       /* tokens in the KV cache */
    int max_chunk; /* rows the scratch holds */
    int n_threads;
    wl_pool *pool;
    wl_kv_cache kv;
    /* Short-convolution layers' state (shortconv.c): per such layer a ring
     * of conv_rows rows of B*u, position p in row p % conv_rows; NULL in
     * models without them. pos_max: one past the highest position written
     * since the sequence started, which bounds how far back the ring goes. */
    float **conv_ring;
    int conv_rows;
    int pos_max;
    /* Mamba-2 layers' state (ssm.c): per such layer the last d_conv - 1
     * rows of xBC ([channel][d_conv - 1]) and the scan's S ([n_head]
     * [head_dim][d_state]); NULL in models without them. */
    float **ssm_conv;
    float **ssm_state;

    /* scratch, [max_chunk][width] each */
    float *x;     /* residual stream, n_embd */
    float *xn;    /* normed input of a sub-block, n_embd */
    float *q;     /* n_head * head_dim_k */
    float *k;     /* n_head_kv * head_dim_k */
    float *v;     /* n_head_kv * head_dim_v */
    float *qkv;   /* fused projection output (phi3), else NULL */
    float *attn;  /* attention output, n_head * head_dim_v */
    float *proj;  /* wo / ffn_down output, n_embd */
    float *gate;  /* n_ff (the largest of n_ff, n_ff_exp, n_ff_shexp) */
    float *up;    /* the same (2*n_ff when gate and up are fused) */
    /* mixture of experts; NULL in dense models */
    float *moe_logits; /* n_expert: the router's logits, then probabilities */
    float *moe_in;     /* n_embd: the rows routed to one expert, gathered */
    float *moe_y;      /* n_embd: one expert's (or the shared expert's) output rows */
    float *moe_out;    /* n_expert_used * n_embd: each chosen expert's weighted output */
    float *moe_w;      /* n_expert_used: the chosen experts' weights */
    int32_t *moe_ids;  /* n_expert_used chosen experts, then max_chunk row indices */
    float *conv_bcx;    /* 3 * n_embd: a short convolution's B, C, u; NULL without one */
    float *ssm_proj;    /* a Mamba-2 in_proj's z, xBC, dt; NULL without one */
    float *ssm_y;       /* its d_inner outputs before out_proj */
    float *rope_cs;     /* cos/sin per token, n_rot */
    float *rope_cs_swa; /* the same for sliding-window layers' rope base */
    float *attn_tmp;    /* per thread: wl_attend's scratch (q re-encoded, a V row) */
    int64_t attn_tmp_stride; /* floats per thread */
    void *mm_scratch;
    float *logits; /* n_vocab */

    /* The rows of the chunk being run: the sequence (context) and position
     * of each. A lone sequence's rows are all its own; a batch's rows come
     * from several contexts, run on the scratch of the first one. Token
     * mixers find a row's per-sequence state (its KV cache) through these. */
    wl_context **row_seq; /* [max_chunk] */
    int *row_pos;         /* [max_chunk] */
    float *batch_logits;  /* a batch's or wl_decode_all's output rows, n_vocab each, grown on demand */
    int batch_logits_rows;
    int n_logits_all;     /* rows of batch_logits the last wl_decode_all wrote; 0 after other decodes */
};

/* Pooled final hidden states, summed over the rows `pooling` selects
 * (1 mean: all rows, 2: position 0, 3: the last token). */
typedef struct {
    int pooling;
    float *sum;  /* n_embd */
    int n_rows;
} wl_embd_acc;

/* Runs n tokens (already checked to fit) at positions c->pos.. and advances
 * c->pos. Without acc: computes the logits of the last token. With acc: adds
 * the pooled hidden states to it instead (no logits). */
void wl_forward(wl_context *c, const int32_t *tokens, int n_tokens, wl_embd_acc *acc);
/* wl_forward without acc that also writes every token's logits to all
 * (n_tokens rows of n_vocab). */
void wl_forward_all(wl_context *c, const int32_t *tokens, int n_tokens, float *all);

/* Runs several sequences together: seqs[s] gets the next n_tokens[s] of
 * tokens (concatenated in sequence order) at its position, which then
 * advances, and the logits of its last token. Rows of all sequences share
 * each weight pass (pieces of at most lead->max_chunk rows), on lead's
 * scratch and threads; attention reads each row's own KV cache. Everything
 * is checked by the caller: distinct contexts of one model and KV type, the
 * tokens fit, lead->batch_logits holds min(n_seq, lead->max_chunk) rows. */
void wl_forward_batch(wl_context *lead, wl_context *const *seqs, const int32_t *tokens, const int *n_tokens,
                      int n_seq);

#endif
