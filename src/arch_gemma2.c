/* gemma2: gemma plus post-attention and post-FFN norms, tanh softcapping of
 * attention scores (default 50) and of logits (default 30), and sliding-window
 * attention (default 4096 tokens) on every other layer, starting with layer 0. */
#include <math.h>

#include "arch.h"

static wl_status gemma2_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "gemma2", hp, err);
    if (st != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->act = WL_ACT_GELU;
    hp->has_post_norms = 1;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    /* the 27B model (46 layers) scales by n_embd / n_head instead of the head size */
    hp->attn_scale = hp->n_layer == 46 ? 1.0f / sqrtf((float)(hp->n_embd / hp->n_head))
                                       : 1.0f / sqrtf((float)hp->head_dim_k);
    hp->q_prescale = 1;
    hp->attn_softcap = 50.0f;
    hp->final_softcap = 30.0f;
    wl_arch_get_f32(meta, "gemma2", "attn_logit_softcapping", &hp->attn_softcap);
    wl_arch_get_f32(meta, "gemma2", "final_logit_softcapping", &hp->final_softcap);
    if (hp->sliding_window == 0) hp->sliding_window = 4096;
    wl_arch_get_f32(meta, "gemma2", "rope.freq_base_swa", &hp->rope_base_swa);
    wl_hparams_read_swa_pattern(meta, "gemma2", hp, 2);
    return WL_OK;
}

const wl_arch wl_arch_gemma2 = { "gemma2", gemma2_read_hparams };
