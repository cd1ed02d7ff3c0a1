/* smollm3: llama's block, except every 4th layer (il = 3, 7, ...) skips RoPE. */
#include "arch.h"

static wl_status smollm3_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "smollm3", hp, err);
    if (st != WL_OK) return st;
    for (int il = 0; il < hp->n_layer; il++) hp->layer_no_rope[il] = (il + 1) % 4 == 0;
    wl_arch_get_f32(meta, "smollm3", "attention.scale", &hp->attn_scale);
    return WL_OK;
}

const wl_arch wl_arch_smollm3 = { "smollm3", smollm3_read_hparams };
