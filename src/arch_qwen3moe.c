/* qwen3moe (Qwen3-30B-A3B and kin): qwen3's attention (per-head q/k RMSNorm,
 * NEOX RoPE) and a mixture of experts in every layer: softmax router, the
 * top-k weights normalized, SwiGLU experts expert_feed_forward_length wide
 * (else feed_forward_length / expert_used_count, as llama.cpp). No shared expert. */
#include "arch.h"

static wl_status qwen3moe_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "qwen3moe", hp, err);
    if (st != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->has_qk_norm = 1;
    int64_t used = 0;
    wl_arch_get_i64(meta, "qwen3moe", "expert_used_count", &used);
    const int n_ff_exp = used > 0 ? hp->n_ff / (int)used : 0;
    return wl_hparams_read_moe(meta, "qwen3moe", hp, n_ff_exp, err);
}

const wl_arch wl_arch_qwen3moe = { "qwen3moe", qwen3moe_read_hparams };
