/* granitehybrid (IBM Granite 4.0-H): Mamba-2 layers (ssm.c) and attention
 * layers, as attention.head_count_kv says per layer (0: Mamba-2), each
 * followed by a SwiGLU FFN, or a mixture of experts (softmax router, top-k
 * weights normalized, optional shared expert) when expert_count is set.
 * Granite's multipliers apply: embedding_scale, attention.scale,
 * residual_scale on every branch, logits divided by logit_scale (all
 * optional here). RoPE is on unless rope.scaling.finetuned is false
 * (Granite 4.0-H files run without positions). */
#include "arch.h"

static wl_status granitehybrid_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    const char *arch = "granitehybrid";
    hp->kv_heads_per_layer = 1;
    wl_status st = wl_hparams_read_common(meta, arch, hp, err);
    if (st != WL_OK) return st;
    if ((st = wl_hparams_read_layer_kinds(meta, arch, hp, WL_MIXER_SSM, err)) != WL_OK) return st;
    if ((st = wl_hparams_read_ssm(meta, arch, hp, err)) != WL_OK) return st;
    wl_arch_get_f32(meta, arch, "logit_scale", &hp->logit_scale);
    wl_arch_get_f32(meta, arch, "residual_scale", &hp->residual_scale);
    wl_arch_get_f32(meta, arch, "embedding_scale", &hp->embd_scale);
    wl_arch_get_f32(meta, arch, "attention.scale", &hp->attn_scale);
    int rope_on = 1;
    wl_arch_get_bool(meta, arch, "rope.scaling.finetuned", &rope_on);
    for (int il = 0; il < hp->n_layer; il++) hp->layer_no_rope[il] = !rope_on;
    int64_t n_expert = 0;
    if (wl_arch_get_i64(meta, arch, "expert_count", &n_expert) && n_expert > 0) {
        /* the experts are feed_forward_length wide, as granitemoe's */
        if ((st = wl_hparams_read_moe(meta, arch, hp, hp->n_ff, err)) != WL_OK) return st;
    }
    return WL_OK;
}

const wl_arch wl_arch_granitehybrid = { "granitehybrid", granitehybrid_read_hparams };
