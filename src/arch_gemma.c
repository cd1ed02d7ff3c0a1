/* gemma (1): embeddings scaled by sqrt(n_embd), GELU-gated FFN, NEOX RoPE,
 * q scaled by 1/sqrt(head size) before attention, output tied to
 * token_embd. (The converter already stores RMSNorm weights as 1 + w.) */
#include <math.h>

#include "arch.h"

static wl_status gemma_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "gemma", hp, err);
    if (st != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->act = WL_ACT_GELU;
    hp->embd_scale = sqrtf((float)hp->n_embd);
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    hp->q_prescale = 1;
    return WL_OK;
}

const wl_arch wl_arch_gemma = { "gemma", gemma_read_hparams };
