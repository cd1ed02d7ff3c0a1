/* granite: llama's block with scalar multipliers: embeddings (embedding_scale),
 * attention scores (attention.scale), residual branches (residual_scale) and
 * logits (divided by logit_scale, the one required key). RoPE is on unless
 * rope.scaling.finetuned is false.
 * granitemoe (Granite 3.x MoE): the same multipliers around a mixture of
 * experts in every layer (softmax router, top-k weights normalized), with a
 * shared expert when expert_shared_feed_forward_length is set; expert FFNs
 * are feed_forward_length wide; RoPE always on. */
#include "arch.h"

static wl_status read_scales(const wl_gguf *meta, const char *arch, wl_hparams *hp, wl_error *err) {
    if (!wl_arch_get_f32(meta, arch, "logit_scale", &hp->logit_scale)) {
        return wl_fail(err, WL_ERR_MISSING_KEY, "missing metadata key %s.logit_scale", arch);
    }
    wl_arch_get_f32(meta, arch, "residual_scale", &hp->residual_scale);
    wl_arch_get_f32(meta, arch, "embedding_scale", &hp->embd_scale);
    wl_arch_get_f32(meta, arch, "attention.scale", &hp->attn_scale);
    return WL_OK;
}

static wl_status granite_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "granite", hp, err);
    if (st != WL_OK || (st = read_scales(meta, "granite", hp, err)) != WL_OK) return st;
    int rope_on = 1;
    wl_arch_get_bool(meta, "granite", "rope.scaling.finetuned", &rope_on);
    for (int il = 0; il < hp->n_layer; il++) hp->layer_no_rope[il] = !rope_on;
    return WL_OK;
}

static wl_status granitemoe_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "granitemoe", hp, err);
    if (st != WL_OK || (st = read_scales(meta, "granitemoe", hp, err)) != WL_OK) return st;
    return wl_hparams_read_moe(meta, "granitemoe", hp, hp->n_ff, err);
}

const wl_arch wl_arch_granite = { "granite", granite_read_hparams };
const wl_arch wl_arch_granitemoe = { "granitemoe", granitemoe_read_hparams };
