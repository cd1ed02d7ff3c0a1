/* gemma3: gemma2's block without softcapping, plus q/k head norms; five
 * sliding-window layers (RoPE base 10000, no scaling) for each global one
 * (rope.freq_base, with the file's linear scaling). */
#include <math.h>

#include "arch.h"

static wl_status gemma3_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "gemma3", hp, err);
    if (st != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->act = WL_ACT_GELU;
    hp->has_post_norms = 1;
    hp->has_qk_norm = 1;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    hp->attn_scale = hp->n_layer == 62 ? 1.0f / sqrtf((float)(hp->n_embd / hp->n_head))
                                       : 1.0f / sqrtf((float)hp->head_dim_k);
    hp->q_prescale = 1;
    if (hp->sliding_window > 0) {
        hp->rope_base_swa = 10000.0f;
        hp->rope_freq_scale_swa = 1.0f;
        wl_arch_get_f32(meta, "gemma3", "rope.freq_base_swa", &hp->rope_base_swa);
        wl_hparams_read_swa_pattern(meta, "gemma3", hp, 6);
    } else {
        /* without SWA llama.cpp's gemma3 graph softcaps the logits if asked */
        wl_arch_get_f32(meta, "gemma3", "final_logit_softcapping", &hp->final_softcap);
    }
    return WL_OK;
}

const wl_arch wl_arch_gemma3 = { "gemma3", gemma3_read_hparams };
