/* lfm2 (LFM2 350M-2.6B): a hybrid of gated short convolutions and grouped-
 * query attention. attention.head_count_kv is one value per layer: 0 marks
 * a convolution layer (shortconv.c, shortconv.l_cache taps), the others
 * attend with per-head q/k RMSNorms and NEOX RoPE. Every layer ends in a
 * SwiGLU FFN; the final norm is the tensor named token_embd_norm. With
 * attention.sliding_window in the file, llama.cpp windows every attention
 * layer. */
#include "arch.h"

#define LFM2_MAX_L_CACHE 64

wl_status wl_hparams_read_lfm2(const wl_gguf *meta, const char *arch, wl_hparams *hp, wl_error *err) {
    hp->kv_heads_per_layer = 1;
    wl_status st = wl_hparams_read_common(meta, arch, hp, err);
    if (st != WL_OK) return st;
    if ((st = wl_hparams_read_layer_kinds(meta, arch, hp, WL_MIXER_SHORTCONV, err)) != WL_OK) return st;
    int64_t l_cache;
    if ((st = wl_arch_need_i64(meta, arch, "shortconv.l_cache", 2, LFM2_MAX_L_CACHE, &l_cache, err))) return st;
    hp->shortconv_l_cache = (int)l_cache;
    hp->rope_mode = WL_ROPE_NEOX;
    hp->has_qk_norm = 1;
    hp->output_norm_name = "token_embd_norm.weight";
    return WL_OK;
}

static wl_status lfm2_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_lfm2(meta, "lfm2", hp, err);
    if (st != WL_OK) return st;
    if (hp->sliding_window > 0) {
        for (int il = 0; il < hp->n_layer; il++) hp->layer_swa[il] = hp->layer_mixer[il] == WL_MIXER_ATTENTION;
    }
    return WL_OK;
}

const wl_arch wl_arch_lfm2 = { "lfm2", lfm2_read_hparams };
