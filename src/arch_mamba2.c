/* mamba2 (Mamba-2 130M-2.7B): every layer is a Mamba-2 token mixer (ssm.c)
 * alone, no FFN. The files carry no attention: head_count and
 * feed_forward_length are written as 0, there is no RoPE. The ssm.* keys
 * (shared with the hybrids, wl_hparams_read_ssm) give the mixer's sizes. */
#include "arch.h"

/* Limits that keep every product below 2^31 floats per row. */
#define SSM_MAX_CONV 64
#define SSM_MAX_STATE 1024

wl_status wl_hparams_read_ssm(const wl_gguf *meta, const char *arch, wl_hparams *hp, wl_error *err) {
    int64_t v;
    wl_status st;
    if ((st = wl_arch_need_i64(meta, arch, "ssm.conv_kernel", 1, SSM_MAX_CONV, &v, err))) return st;
    hp->ssm.d_conv = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "ssm.inner_size", 1, 1 << 17, &v, err))) return st;
    hp->ssm.d_inner = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "ssm.state_size", 1, SSM_MAX_STATE, &v, err))) return st;
    hp->ssm.d_state = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "ssm.time_step_rank", 1, hp->ssm.d_inner, &v, err))) return st;
    hp->ssm.n_head = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "ssm.group_count", 1, hp->ssm.n_head, &v, err))) return st;
    hp->ssm.n_group = (int)v;
    if (hp->ssm.d_inner % hp->ssm.n_head != 0 || hp->ssm.n_head % hp->ssm.n_group != 0) {
        return wl_fail(err, WL_ERR_BAD_VALUE,
                       "%s.ssm: time_step_rank %d must divide inner_size %d and be a multiple of group_count %d",
                       arch, hp->ssm.n_head, hp->ssm.d_inner, hp->ssm.n_group);
    }
    return WL_OK;
}

static wl_status mamba2_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    const char *arch = "mamba2";
    int64_t v;
    wl_status st;
    if ((st = wl_arch_need_i64(meta, arch, "context_length", 1, 1 << 24, &v, err))) return st;
    hp->n_ctx_train = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "embedding_length", 1, 1 << 17, &v, err))) return st;
    hp->n_embd = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "block_count", 1, WL_MAX_LAYERS, &v, err))) return st;
    hp->n_layer = (int)v;
    if (!wl_arch_get_f32(meta, arch, "attention.layer_norm_rms_epsilon", &hp->norm_eps)) {
        return wl_fail(err, WL_ERR_MISSING_KEY, "missing metadata key %s.attention.layer_norm_rms_epsilon", arch);
    }
    if (wl_arch_get_i64(meta, arch, "vocab_size", &v)) {
        if (v < 1 || v > (1 << 22)) {
            return wl_fail(err, WL_ERR_BAD_VALUE, "%s.vocab_size = %lld is out of range", arch, (long long)v);
        }
        hp->n_vocab = (int)v;
    }
    if ((st = wl_hparams_read_ssm(meta, arch, hp, err))) return st;
    /* No layer attends, but the KV cache and attention scratch are sized
     * from these: one small head keeps them (empty) valid for every KV type. */
    hp->n_head = hp->n_head_kv = 1;
    hp->head_dim_k = hp->head_dim_v = 32;
    hp->n_rot = 0;
    hp->norm = WL_NORM_RMS;
    hp->causal = 1;
    hp->pooling = -1;
    hp->rope_base = hp->rope_base_swa = 10000.0f;
    hp->rope_freq_scale = hp->rope_freq_scale_swa = 1.0f;
    for (int il = 0; il < hp->n_layer; il++) {
        hp->layer_mixer[il] = WL_MIXER_SSM;
        hp->layer_channel[il] = WL_CHANNEL_NONE;
    }
    return WL_OK;
}

const wl_arch wl_arch_mamba2 = { "mamba2", mamba2_read_hparams };
