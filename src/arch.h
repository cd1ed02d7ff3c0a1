/* Architecture descriptors. Each arch_<name>.c reads its `<name>.*` keys into
 * a wl_hparams: the sizes, which kinds each layer is made of (layer.h; all
 * attention + dense FFN unless it says otherwise) and the flags that make
 * those kinds bind and use the tensors that architecture has. Adding an
 * architecture = one file plus one line in wl_archs (model.c). */
#ifndef WL_ARCH_H
#define WL_ARCH_H

#include "error.h"
#include "gguf.h"
#include "model.h"

typedef struct {
    const char *name; /* general.architecture value */
    /* Fills hp (zeroed by the caller) or fails naming the missing key. */
    wl_status (*read_hparams)(const wl_gguf *meta, wl_hparams *hp, wl_error *err);
} wl_arch;

extern const wl_arch wl_arch_llama;
extern const wl_arch wl_arch_qwen2;
extern const wl_arch wl_arch_qwen3;
extern const wl_arch wl_arch_gemma;
extern const wl_arch wl_arch_gemma2;
extern const wl_arch wl_arch_gemma3;
extern const wl_arch wl_arch_phi3;
extern const wl_arch wl_arch_smollm3;
extern const wl_arch wl_arch_granite;
extern const wl_arch wl_arch_granitemoe;
extern const wl_arch wl_arch_qwen3moe;
extern const wl_arch wl_arch_olmoe;
extern const wl_arch wl_arch_smallthinker;
extern const wl_arch wl_arch_lfm2;
extern const wl_arch wl_arch_lfm2moe;
extern const wl_arch wl_arch_mamba2;
extern const wl_arch wl_arch_granitehybrid;
extern const wl_arch wl_arch_falcon_h1;
extern const wl_arch wl_arch_bert;
extern const wl_arch wl_arch_nomic_bert;

/* Reads the keys every llama-like architecture shares, under prefix `arch`
 * (context_length, embedding_length, block_count, feed_forward_length,
 * attention.head_count[_kv], attention.key/value_length, norm epsilons,
 * rope.*, attention.sliding_window (its size: no layer uses it unless the
 * arch marks it), vocab_size, pooling_type) with llama.cpp's defaults, and
 * checks the sizes are sane. Sets norm = RMS, act = SILU, rope NORMAL. */
wl_status wl_hparams_read_common(const wl_gguf *meta, const char *arch, wl_hparams *hp,
                                 wl_error *err);

/* Reads the mixture-of-experts keys (expert_count, expert_used_count,
 * expert_feed_forward_length, else n_ff_exp_default; expert_shared_feed_forward_length)
 * and makes every layer's channel mixer a MoE with softmax gating, the
 * top-k weights normalized and a SiLU-gated expert FFN (the arch changes
 * what differs). */
wl_status wl_hparams_read_moe(const wl_gguf *meta, const char *arch, wl_hparams *hp, int n_ff_exp_default,
                              wl_error *err);

/* LFM2's layers (arch_lfm2.c), which lfm2moe shares: the per-layer
 * attention.head_count_kv (0: a short convolution), shortconv.l_cache, q/k
 * norms, NEOX RoPE, the final norm named token_embd_norm. */
wl_status wl_hparams_read_lfm2(const wl_gguf *meta, const char *arch, wl_hparams *hp, wl_error *err);
/* Reads the Mamba-2 mixer's ssm.* keys (conv_kernel, inner_size,
 * state_size, time_step_rank = the SSM's heads, group_count) into hp->ssm
 * and checks they divide as the layer needs (arch_mamba2.c). */
wl_status wl_hparams_read_ssm(const wl_gguf *meta, const char *arch, wl_hparams *hp, wl_error *err);

/* Sliding-window layers as llama.cpp's set_swa_pattern(period) marks them:
 * every layer but each period-th one (period 0: all layers); dense_first:
 * the first of each period is the full one. */
void wl_hparams_swa_period(wl_hparams *hp, int period);
void wl_hparams_swa_period_dense_first(wl_hparams *hp, int period);
/* The same from "<arch>.attention.sliding_window_pattern" (a period, or one
 * bool per layer), else default_period. */
void wl_hparams_read_swa_pattern(const wl_gguf *meta, const char *arch, wl_hparams *hp,
                                 int default_period);

/* "<arch>.attention.head_count_kv" as one value per layer, as hybrids write
 * it: 0 marks a layer whose token mixer is `other` (a convolution, a
 * Mamba-2 scan), any other value an attention layer; all attention layers
 * must share one count dividing head_count, which becomes hp->n_head_kv. */
wl_status wl_hparams_read_layer_kinds(const wl_gguf *meta, const char *arch, wl_hparams *hp,
                                      wl_token_mixer other, wl_error *err);

/* "<arch>.<suffix>" lookups; return 1 and fill *out if present. */
int wl_arch_get_i64(const wl_gguf *meta, const char *arch, const char *suffix, int64_t *out);
int wl_arch_get_f32(const wl_gguf *meta, const char *arch, const char *suffix, float *out);
int wl_arch_get_bool(const wl_gguf *meta, const char *arch, const char *suffix, int *out);
/* Required variant: fails with WL_ERR_MISSING_KEY naming the full key. */
wl_status wl_arch_need_i64(const wl_gguf *meta, const char *arch, const char *suffix,
                           int64_t lo, int64_t hi, int64_t *out, wl_error *err);

#endif
