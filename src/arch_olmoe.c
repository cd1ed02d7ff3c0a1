/* olmoe (OLMoE-1B-7B): q and k RMSNorm'd over the whole projection (all heads
 * at once, weights of n_embd), NEOX RoPE, and a mixture of experts in every
 * layer: softmax router whose top-k weights are NOT renormalized, SwiGLU
 * experts feed_forward_length wide. */
#include "arch.h"

static wl_status olmoe_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "olmoe", hp, err);
    if (st != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->has_qk_norm = 1;
    hp->qk_norm_whole = 1;
    if ((st = wl_hparams_read_moe(meta, "olmoe", hp, hp->n_ff, err)) != WL_OK) return st;
    hp->moe.norm_topk = 0;
    return WL_OK;
}

const wl_arch wl_arch_olmoe = { "olmoe", olmoe_read_hparams };
