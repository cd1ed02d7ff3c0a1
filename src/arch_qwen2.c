/* qwen2 (Qwen2, Qwen2.5): llama's block with q/k/v biases and RoPE on split
 * halves (NEOX). The output is often tied to token_embd. */
#include "arch.h"

static wl_status qwen2_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "qwen2", hp, err);
    if (st != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->has_qkv_bias = 1;
    return WL_OK;
}

const wl_arch wl_arch_qwen2 = { "qwen2", qwen2_read_hparams };
