/* qwen3: no biases, but an RMSNorm over each q and k head (attn_q_norm,
 * attn_k_norm) before RoPE (NEOX). Head size comes from attention.key_length
 * and need not be n_embd / n_head. */
#include "arch.h"

static wl_status qwen3_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "qwen3", hp, err);
    if (st != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->has_qk_norm = 1;
    return WL_OK;
}

const wl_arch wl_arch_qwen3 = { "qwen3", qwen3_read_hparams };
