/* Encoders for embeddings. bert: token + type-0 + absolute position
 * embeddings, LayerNorm, then post-norm blocks (attention with q/k/v biases,
 * GELU FFN with biases), bidirectional attention, no RoPE. nomic-bert: the
 * same block shape with a fused qkv projection, SwiGLU FFN and NEOX RoPE
 * instead of position embeddings. */
#include "arch.h"

static void encoder_common(wl_hparams *hp) {
    hp->encoder = 1;
    hp->causal = 0;
    hp->norm = WL_NORM_LAYER;
    if (hp->pooling < 0) hp->pooling = 1; /* mean, as sentence-transformers exports do */
}

static wl_status bert_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "bert", hp, err);
    if (st != WL_OK) return st;
    encoder_common(hp);
    hp->act = WL_ACT_GELU;
    hp->n_rot = 0; /* positions come from position_embd */
    return WL_OK;
}

static wl_status nomic_bert_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "nomic-bert", hp, err);
    if (st != WL_OK) return st;
    encoder_common(hp);
    hp->act = WL_ACT_SILU;
    hp->rope_mode = WL_ROPE_NEOX;
    return WL_OK;
}

const wl_arch wl_arch_bert = { "bert", bert_read_hparams };
const wl_arch wl_arch_nomic_bert = { "nomic-bert", nomic_bert_read_hparams };
