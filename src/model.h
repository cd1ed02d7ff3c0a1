/* A model = hyperparameters + weights bound to a file's tensors.
 * Every supported architecture is the same decoder-only transformer; what
 * differs between them is captured in wl_hparams (filled by an arch_*.c
 * descriptor) so forward.c has one code path for all of them. */
#ifndef WL_MODEL_H
#define WL_MODEL_H

#include <stdint.h>
#include "error.h"
#include "gguf.h"
#include "matmul.h"
#include "wasmllm.h"

#define WL_MAX_LAYERS 512

typedef enum { WL_NORM_RMS = 0, WL_NORM_LAYER = 1 } wl_norm_kind;
/* Pairs rotated by RoPE: adjacent (x[2i], x[2i+1]) for NORMAL (llama),
 * split halves (x[i], x[i + n_rot/2]) for NEOX (qwen, gemma, phi3). */
typedef enum { WL_ROPE_NORMAL = 0, WL_ROPE_NEOX = 1 } wl_rope_mode;
typedef enum { WL_ACT_SILU = 0, WL_ACT_GELU = 1 } wl_activation;

/* YaRN context extension, as ggml applies it (ext_factor 0 = off). */
typedef struct {
    float ext_factor;
    float attn_factor;
    float beta_fast, beta_slow;
    int n_ctx_orig;
} wl_yarn;

typedef struct {
    /* sizes */
    int n_vocab;     /* 0 until known: then the token_embd row count */
    int n_ctx_train;
    int n_embd;
    int n_layer;
    int n_ff;
    int n_head;
    int n_head_kv;
    int head_dim_k;  /* attention.key_length */
    int head_dim_v;  /* attention.value_length */
    int n_rot;       /* rope.dimension_count: leading dims of a head that rotate */

    /* block structure */
    wl_norm_kind norm;
    float norm_eps;
    wl_activation act;
    wl_rope_mode rope_mode;
    float rope_base;        /* freq_base of full-attention layers */
    float rope_freq_scale;  /* 1/linear factor */
    float rope_base_swa;    /* freq_base of sliding-window layers (gemma3) */
    float rope_freq_scale_swa;
    wl_yarn yarn;

    /* optional tensors (0 = absent) */
    int has_qkv_bias;     /* qwen2: blk.N.attn_{q,k,v}.bias */
    int has_o_bias;
    int has_ffn_bias;
    int has_qk_norm;      /* qwen3, gemma3: blk.N.attn_{q,k}_norm.weight over head_dim */
    int has_post_norms;   /* gemma2/3: blk.N.post_attention_norm, post_ffw_norm */
    int fused_qkv;        /* require blk.N.attn_qkv.weight (it is used wherever present) */
    int fused_gate_up;    /* phi3: ffn_up holds [gate; up] (2*n_ff rows), no ffn_gate */
    int q_prescale;       /* gemma, phi3: q *= attn_scale before attention (then scale 1),
                           * which rounds differently from scaling the scores */

    /* scalars (0 means the default noted) */
    float embd_scale;     /* gemma: sqrt(n_embd); granite: embedding_scale. default 1 */
    float attn_scale;     /* q.k multiplier. default 1/sqrt(head_dim_k) */
    float attn_softcap;   /* gemma2: tanh softcap of q.k scores. 0 = off */
    float final_softcap;  /* gemma2: tanh softcap of logits. 0 = off */
    float residual_scale; /* granite: residual branch multiplier. default 1 */
    float logit_scale;    /* granite: logits are divided by it. default 1 */

    /* encoders (bert, nomic-bert): post-norm blocks, bidirectional attention */
    int encoder;
    int causal;           /* 0: every token attends to every token of the sequence */
    int pooling;          /* pooling_type key (1 mean, 2 CLS, 3 last), -1 if absent */

    /* per-layer variation */
    int sliding_window;                    /* tokens; 0 = no SWA layers */
    uint8_t layer_swa[WL_MAX_LAYERS];      /* 1: layer attends within sliding_window */
    uint8_t layer_no_rope[WL_MAX_LAYERS];  /* 1: layer skips RoPE (smollm3) */
} wl_hparams;

/* Norm weights and biases are copied to f32 at load (they are tiny), so ops
 * never see f16 vectors. NULL = absent. */
typedef struct {
    float *attn_norm, *attn_norm_b;
    wl_matrix wq, wk, wv, wqkv, wo; /* wqkv.data != NULL when fused */
    float *bq, *bk, *bv, *bqkv, *bo;
    float *q_norm, *k_norm;
    float *attn_post_norm;
    float *ffn_norm, *ffn_norm_b;
    wl_matrix ffn_gate, ffn_up, ffn_down;
    float *ffn_gate_b, *ffn_up_b, *ffn_down_b;
    float *ffn_post_norm;
    /* encoder post-norms: after attention + residual, after FFN + residual */
    float *attn_out_norm, *attn_out_norm_b;
    float *layer_out_norm, *layer_out_norm_b;
} wl_layer;

struct wl_model {
    const wl_file *file;
    const char *arch_name;
    wl_hparams hp;
    wl_matrix token_embd;
    wl_matrix output; /* == token_embd when tied */
    float *output_norm, *output_norm_b;
    float *output_b;
    /* encoders: LayerNorm of the embeddings, token type 0's row, absolute positions */
    float *token_embd_norm, *token_embd_norm_b;
    float *token_type0;
    wl_matrix position_embd; /* data NULL when absent */
    float *rope_freqs; /* n_rot/2 divisors of theta (llama3 rope), or NULL */
    /* phi3 LongRoPE: short factors up to the original context, long beyond */
    float *rope_factors_short, *rope_factors_long;
    wl_layer *layers;
    double n_params;
};

/* Largest wl_matmul scratch any weight of m needs for n_tokens rows. */
size_t wl_model_matmul_scratch(const wl_model *m, int n_tokens);

#endif
