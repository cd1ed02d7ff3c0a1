/* llama (and the many models converted as llama: mistral, tinyllama, smollm,
 * llama 3.x): RMSNorm, RoPE on adjacent pairs, SwiGLU, optional
 * rope_freqs.weight (llama3 scaling), output tied to token_embd if absent. */
#include "arch.h"

static wl_status llama_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "llama", hp, err);
    if (st != WL_OK) return st;
    hp->norm = WL_NORM_RMS;
    hp->act = WL_ACT_SILU;
    hp->rope_mode = WL_ROPE_NORMAL;
    wl_arch_get_f32(meta, "llama", "attention.scale", &hp->attn_scale); /* 0 or absent: 1/sqrt(head) */
    return WL_OK;
}

const wl_arch wl_arch_llama = { "llama", llama_read_hparams };
