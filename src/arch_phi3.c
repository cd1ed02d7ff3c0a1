/* phi3: fused q/k/v projection (attn_qkv, or separate ones in some files),
 * fused gate/up (ffn_up has 2*n_ff rows: gate first), NEOX RoPE with
 * optional LongRoPE factors, q scaled before attention. llama.cpp runs phi3
 * without its sliding window, and so do we. */
#include <math.h>

#include "arch.h"
#include "gguf.h"

static wl_status phi3_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "phi3", hp, err);
    if (st != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->fused_gate_up = 1;
    hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    hp->q_prescale = 1;
    hp->sliding_window = 0;
    for (int il = 0; il < hp->n_layer; il++) hp->layer_swa[il] = 0;
    return WL_OK;
}

/* Older phi3 files have a fused attn_qkv, newer ones may split it: the
 * binder looks for blk.0.attn_qkv.weight to decide. */
const wl_arch wl_arch_phi3 = { "phi3", phi3_read_hparams };
