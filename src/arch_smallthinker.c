/* smallthinker (SmallThinker-4B-A0.6B, 21B-A3B): llama-like attention with
 * NEOX RoPE and a mixture of experts in every layer whose router reads the
 * layer's input (before attention, un-normed), gated by softmax or sigmoid
 * (expert_gating_func, required), top-k weights normalized, ReGLU experts
 * (relu(gate x) * up x) expert_feed_forward_length wide.
 * With attention.sliding_window in the file, llama.cpp runs a 4096-token
 * window (whatever the key says) on all layers but the first of every
 * sliding_window_pattern (default 4), and skips RoPE on every 4th layer
 * (0, 4, ...) unless the model has exactly 4 layers; without it, every
 * layer is global and rotates. */
#include "arch.h"

#define SMALLTHINKER_WINDOW 4096
#define SMALLTHINKER_NOPE_STEP 4

static wl_status smallthinker_read_hparams(const wl_gguf *meta, wl_hparams *hp, wl_error *err) {
    wl_status st = wl_hparams_read_common(meta, "smallthinker", hp, err);
    if (st != WL_OK) return st;
    hp->rope_mode = WL_ROPE_NEOX;
    if ((st = wl_hparams_read_moe(meta, "smallthinker", hp, 0, err)) != WL_OK) return st;
    hp->moe.route_on_input = 1;
    hp->moe.act = WL_ACT_RELU;
    int64_t gating;
    if ((st = wl_arch_need_i64(meta, "smallthinker", "expert_gating_func", WL_GATING_SOFTMAX,
                               WL_GATING_SIGMOID, &gating, err)) != WL_OK) {
        return st;
    }
    hp->moe.gating = (wl_gating)gating;

    if (hp->sliding_window > 0) {
        int64_t period = 4;
        wl_arch_get_i64(meta, "smallthinker", "attention.sliding_window_pattern", &period);
        if (period < 0 || period > WL_MAX_LAYERS) {
            return wl_fail(err, WL_ERR_BAD_VALUE, "smallthinker.attention.sliding_window_pattern = %lld",
                           (long long)period);
        }
        hp->sliding_window = SMALLTHINKER_WINDOW;
        wl_hparams_swa_period_dense_first(hp, (int)period);
        wl_arch_get_f32(meta, "smallthinker", "rope.freq_base_swa", &hp->rope_base_swa);
        /* llama.cpp's test reads "step == n_layer or il % step != 0", so a
         * 4-layer model rotates in every layer */
        for (int il = 0; il < hp->n_layer; il++) {
            hp->layer_no_rope[il] = hp->n_layer != SMALLTHINKER_NOPE_STEP && il % SMALLTHINKER_NOPE_STEP == 0;
        }
    }
    return WL_OK;
}

const wl_arch wl_arch_smallthinker = { "smallthinker", smallthinker_read_hparams };
