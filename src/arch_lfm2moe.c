/* lfm2moe (LFM2-8B-A1B, 24B-A2B): LFM2's layers (short convolutions and
 * grouped-query attention, arch_lfm2.c) whose channel mixer is a dense
 * SwiGLU FFN in the first leading_dense_block_count layers and a mixture of
 * experts in the rest: expert_gating_func (required; the released models
 * use sigmoid), an expert bias per layer (exp_probs_b) that steers the
 * choice but not the weights, top-k weights normalized, no weight scale.
 * llama.cpp reads no sliding window for it: every attention layer is global. */
#include "arch.h"

static wl_status lfm2moe_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_lfm2(meta, "lfm2moe", hp, err);
    if (st != WL_OK) return st;
    if ((st = wl_hparams_read_moe(meta, "lfm2moe", hp, 0, err)) != WL_OK) return st;
    int64_t gating, n_dense = 0;
    if ((st = wl_arch_need_i64(meta, "lfm2moe", "expert_gating_func", WL_GATING_SOFTMAX, WL_GATING_SIGMOID,
                               &gating, err)) != WL_OK) {
        return st;
    }
    hp->moe.gating = (wl_gating)gating;
    hp->moe.expert_bias = 1;
    if (wl_arch_get_i64(meta, "lfm2moe", "leading_dense_block_count", &n_dense) &&
        (n_dense < 0 || n_dense > hp->n_layer)) {
        return wl_fail(err, WL_ERR_BAD_VALUE, "lfm2moe.leading_dense_block_count = %lld is not in [0, %d]",
                       (long long)n_dense, hp->n_layer);
    }
    for (int il = 0; il < n_dense; il++) hp->layer_channel[il] = WL_CHANNEL_FFN;
    return WL_OK;
}

const wl_arch wl_arch_lfm2moe = { "lfm2moe", lfm2moe_read_hparams };
