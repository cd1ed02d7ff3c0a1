/* granite: llama's block with scalar multipliers: embeddings (embedding_scale),
 * attention scores (attention.scale), residual branches (residual_scale) and
 * logits (divided by logit_scale, the one required key). RoPE is on unless
 * rope.scaling.finetuned is false. */
#include "arch.h"

static wl_status granite_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "granite", hp, err);
    if (st != WL_OK) return st;
    if (!wl_arch_get_f32(meta, "granite", "logit_scale", &hp->logit_scale)) {
        return wl_fail(err, WL_ERR_MISSING_KEY, "missing metadata key granite.logit_scale");
    }
    wl_arch_get_f32(meta, "granite", "residual_scale", &hp->residual_scale);
    wl_arch_get_f32(meta, "granite", "embedding_scale", &hp->embd_scale);
    wl_arch_get_f32(meta, "granite", "attention.scale", &hp->attn_scale);
    int rope_on = 1;
    wl_arch_get_bool(meta, "granite", "rope.scaling.finetuned", &rope_on);
    for (int il = 0; il < hp->n_layer; il++) hp->layer_no_rope[il] = !rope_on;
    return WL_OK;
}

const wl_arch wl_arch_granite = { "granite", granite_read_hparams };
