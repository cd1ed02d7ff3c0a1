/* A model = hyperparameters + weights bound to a file's tensors.
 * A model is a stack of layers; a layer is a token mixer (attention or a
 * short convolution) followed
 * by a channel mixer (a dense FFN or a mixture of experts), each a kind with
 * its own file (layer.h). An arch_*.c descriptor fills wl_hparams: the sizes,
 * the flags and scalars of each kind, and which kinds each layer has. */
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
typedef enum { WL_ACT_SILU = 0, WL_ACT_GELU = 1, WL_ACT_RELU = 2 } wl_activation;

/* The kinds a layer is made of (layer.h). */
/* PARALLEL: attention and a Mamba-2 mixer on the same input, outputs summed (falcon-h1) */
typedef enum { WL_MIXER_ATTENTION = 0, WL_MIXER_SHORTCONV = 1, WL_MIXER_SSM = 2, WL_MIXER_PARALLEL = 3 } wl_token_mixer;
/* Which mixers keep K/V rows, and which keep a Mamba-2 state. */
static inline int wl_mixer_attends(int mixer) { return mixer == WL_MIXER_ATTENTION || mixer == WL_MIXER_PARALLEL; }
static inline int wl_mixer_has_ssm(int mixer) { return mixer == WL_MIXER_SSM || mixer == WL_MIXER_PARALLEL; }
/* NONE: the layer is its token mixer alone (mamba2) */
typedef enum { WL_CHANNEL_FFN = 0, WL_CHANNEL_MOE = 1, WL_CHANNEL_NONE = 2 } wl_channel_mixer;

/* Router gating, as llama.cpp numbers it in <arch>.expert_gating_func. */
typedef enum { WL_GATING_SOFTMAX = 1, WL_GATING_SIGMOID = 2 } wl_gating;

/* Mixture-of-experts channel mixers: a router picks n_expert_used of
 * n_expert FFNs per token and mixes their outputs by its weights. */
#define WL_MAX_EXPERTS 1024 /* llama.cpp's LLAMA_MAX_EXPERTS */
typedef struct {
    int n_expert;
    int n_expert_used;
    int n_ff_exp;       /* rows of one expert's gate/up */
    int n_ff_shexp;     /* shared expert's rows, 0 = none */
    wl_gating gating;   /* probabilities from the router's logits */
    int norm_topk;      /* 1: the chosen experts' weights are divided by their sum */
    float weights_scale; /* multiplies the weights when not 0 or 1 */
    int route_on_input; /* smallthinker: the router reads the layer's input, not the FFN's normed one */
    int expert_bias;    /* lfm2moe: exp_probs_b, added to the probabilities to choose experts, not to weigh them */
    wl_activation act;  /* the experts' gated activation */
} wl_moe_hparams;

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
    int qk_norm_whole;    /* olmoe: those norms span all heads' q (k) at once */
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

    wl_moe_hparams moe;

    /* short-convolution token mixers (lfm2): taps of the causal depthwise
     * convolution (shortconv.l_cache, the current token included) */
    int shortconv_l_cache;
    /* Mamba-2 token mixers (ssm.c), from the ssm.* keys: conv_kernel taps
     * (d_conv), inner_size (d_inner = n_head * head_dim), state_size
     * (d_state), time_step_rank (the SSM's heads), group_count (heads share
     * B and C within a group); norm_optional: layers may lack ssm_norm
     * (falcon-h1) */
    struct {
        int d_conv, d_inner, d_state, n_head, n_group;
        int norm_optional;
    } ssm;
    /* set by the arch before wl_hparams_read_common, which then leaves
     * attention.head_count_kv (one value per layer, 0 for conv layers) to it */
    int kv_heads_per_layer;
    /* falcon-h1: the FFN norm's tensor may be blk.N.ffn_norm, without .weight */
    int ffn_norm_bare;
    /* the final norm's tensor when not output_norm.weight (lfm2: token_embd_norm.weight) */
    const char *output_norm_name;

    /* per-layer variation */
    uint8_t layer_mixer[WL_MAX_LAYERS];    /* wl_token_mixer (all 0: attention) */
    uint8_t layer_channel[WL_MAX_LAYERS];  /* wl_channel_mixer (all 0: dense FFN) */
    int sliding_window;                    /* tokens; 0 = no SWA layers */
    uint8_t layer_swa[WL_MAX_LAYERS];      /* 1: layer attends within sliding_window */
    uint8_t layer_no_rope[WL_MAX_LAYERS];  /* 1: layer skips RoPE (smollm3) */
} wl_hparams;

/* Norm weights and biases are copied to f32 at load (they are tiny), so ops
 * never see f16 vectors. NULL = absent. */

/* Attention: pre-norm, projections, optional q/k norms, output projection,
 * optional post-norm (gemma2/3) and encoder post-norm after the residual. */
typedef struct {
    float *norm, *norm_b;
    wl_matrix wq, wk, wv, wqkv, wo; /* wqkv.data != NULL when fused */
    float *bq, *bk, *bv, *bqkv, *bo;
    float *q_norm, *k_norm;
    float *post_norm;
    float *out_norm, *out_norm_b;
} wl_attn_weights;

/* A dense FFN: down(act(gate x) * up x), or down(act(up x)) without a gate.
 * Also the shape of a MoE layer's shared expert (no norms of its own). */
typedef struct {
    float *norm, *norm_b;
    wl_matrix gate, up, down;
    float *gate_b, *up_b, *down_b;
    float *post_norm;
    float *out_norm, *out_norm_b;
} wl_ffn_weights;

/* A mixture of experts: the router (ffn_gate_inp, one row per expert) and
 * each expert's slice of the 3-D ffn_{gate,up,down}_exps tensors as its own
 * matrix (an expert's rows are contiguous, so each is repacked on its own). */
typedef struct {
    float *norm;
    wl_matrix router;
    float *probs_b;              /* [n_expert] expert bias (exp_probs_b), NULL when the arch has none */
    wl_matrix *gate, *up, *down; /* [n_expert]; gate NULL when the file has none */
    wl_ffn_weights shared;       /* ffn_*_shexp, data NULL when absent */
} wl_moe_weights;

/* A gated short convolution (lfm2): in_proj to B, C, x (3 * n_embd rows),
 * a depthwise causal convolution of B*x with l_cache taps per channel
 * (conv[d * l_cache + k], the oldest position first), out_proj of C * conv. */
typedef struct {
    float *norm;
    wl_matrix in_proj, out_proj;
    float *conv; /* [n_embd][l_cache] */
} wl_shortconv_weights;

/* A Mamba-2 mixer: in_proj to z, xBC, dt (2*d_inner + 2*n_group*d_state +
 * n_head rows); a causal depthwise convolution of xBC (conv[ch * d_conv + k],
 * the oldest position first; conv_b may be NULL) then SiLU; the selective
 * scan with per-head dt_b, A (stored as -exp(A_log)) and D; the RMSNorm of
 * each group of y * silu(z) (norm may be NULL: no norm); out_proj. */
typedef struct {
    float *attn_norm;
    wl_matrix in_proj, out_proj;
    float *conv, *conv_b;
    float *dt_b, *a, *d; /* [n_head] each */
    float *norm;         /* [d_inner] */
} wl_ssm_weights;

typedef struct {
    wl_attn_weights attn;
    wl_shortconv_weights conv;
    wl_ssm_weights ssm;
    wl_ffn_weights ffn;
    wl_moe_weights moe;
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
