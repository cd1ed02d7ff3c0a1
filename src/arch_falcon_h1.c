/* falcon-h1 (TII Falcon-H1 0.5B-34B): every layer runs attention (NeoX
 * RoPE, head size from attention.key_length) and a Mamba-2 mixer side by
 * side on the same normed input (parallel.c), then a SwiGLU FFN. Falcon-H1's
 * multipliers are folded into the weights by the converter, so the file has
 * none; the Mamba-2 group norm (ssm_norm) is optional. llama.cpp reads the
 * FFN norm as blk.N.ffn_norm (no .weight); we take that or blk.N.ffn_norm.weight. */
#include "arch.h"

static wl_status falcon_h1_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    const char *arch = "falcon-h1";
    wl_status st = wl_hparams_read_common(meta, arch, hp, err);
    if (st != WL_OK || (st = wl_hparams_read_ssm(meta, arch, hp, err)) != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->ssm.norm_optional = 1;
    hp->ffn_norm_bare = 1;
    for (int il = 0; il < hp->n_layer; il++) hp->layer_mixer[il] = WL_MIXER_PARALLEL;
    return WL_OK;
}

const wl_arch wl_arch_falcon_h1 = { "falcon-h1", falcon_h1_read_hparams };
