/* Generic model loading: pick the architecture descriptor named by
 * general.architecture, let it read the hyperparameters, then bind every
 * tensor by its llama.cpp name and check its shape against them. */
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "file.h"
#include "layer.h"
#include "repack.h"

static const wl_arch *const wl_archs[] = {
    &wl_arch_llama, &wl_arch_qwen2, &wl_arch_qwen3, &wl_arch_gemma, &wl_arch_gemma2,
    &wl_arch_gemma3, &wl_arch_phi3, &wl_arch_smollm3, &wl_arch_granite, &wl_arch_granitemoe,
    &wl_arch_qwen3moe, &wl_arch_olmoe, &wl_arch_smallthinker, &wl_arch_lfm2, &wl_arch_lfm2moe, &wl_arch_mamba2,
    &wl_arch_granitehybrid, &wl_arch_falcon_h1, &wl_arch_bert,
    &wl_arch_nomic_bert,
};
#define WL_N_ARCHS ((int)(sizeof wl_archs / sizeof wl_archs[0]))

/* ---- metadata helpers ---- */

static void arch_key(char *buf, size_t cap, const char *arch, const char *suffix) {
    snprintf(buf, cap, "%s.%s", arch, suffix);
}

int wl_arch_get_i64(const wl_gguf *meta, const char *arch, const char *suffix, int64_t *out) {
    char key[160];
    arch_key(key, sizeof key, arch, suffix);
    if (wl_gguf_get_i64(meta, key, out)) return 1;
    /* Per-layer arrays (feed_forward_length, head_count in some files): we
     * run one size for all layers, so accept an array only if it is uniform. */
    const wl_gguf_kv *kv = wl_gguf_find(meta, key);
    if (!kv || kv->type != WL_GGUF_ARRAY || kv->v.arr.count == 0) return 0;
    double first, v;
    if (!wl_gguf_get_arr_f64(meta, key, 0, &first)) return 0;
    for (uint64_t i = 1; i < kv->v.arr.count; i++) {
        if (!wl_gguf_get_arr_f64(meta, key, i, &v) || v != first) return 0;
    }
    *out = (int64_t)first;
    return 1;
}

int wl_arch_get_f32(const wl_gguf *meta, const char *arch, const char *suffix, float *out) {
    char key[160];
    arch_key(key, sizeof key, arch, suffix);
    return wl_gguf_get_f32(meta, key, out);
}

int wl_arch_get_bool(const wl_gguf *meta, const char *arch, const char *suffix, int *out) {
    char key[160];
    arch_key(key, sizeof key, arch, suffix);
    return wl_gguf_get_bool(meta, key, out);
}

wl_status wl_arch_need_i64(const wl_gguf *meta, const char *arch, const char *suffix,
                           int64_t lo, int64_t hi, int64_t *out, wl_error *err) {
    if (!wl_arch_get_i64(meta, arch, suffix, out)) {
        return wl_fail(err, WL_ERR_MISSING_KEY, "missing metadata key %s.%s", arch, suffix);
    }
    if (*out < lo || *out > hi) {
        return wl_fail(err, WL_ERR_BAD_VALUE, "%s.%s = %lld is outside [%lld, %lld]", arch,
                       suffix, (long long)*out, (long long)lo, (long long)hi);
    }
    return WL_OK;
}

static wl_status read_rope_scaling(const wl_gguf *meta, const char *arch, wl_hparams *hp,
                                   wl_error *err) {
    char key[160];
    arch_key(key, sizeof key, arch, "rope.scaling.type");
    wl_str type = { "none", 4 };
    wl_gguf_get_str(meta, key, &type);
    float factor = 0.0f;
    if (!wl_arch_get_f32(meta, arch, "rope.scaling.factor", &factor)) {
        wl_arch_get_f32(meta, arch, "rope.scale_linear", &factor); /* older files */
    }
    int64_t n_orig = hp->n_ctx_train;
    wl_arch_get_i64(meta, arch, "rope.scaling.original_context_length", &n_orig);
    hp->yarn.n_ctx_orig = n_orig > 0 && n_orig <= (1 << 24) ? (int)n_orig : hp->n_ctx_train;

    if (wl_str_eq(type, "none")) {
        /* rope.scale_linear alone still means linear scaling */
        if (factor > 0.0f) hp->rope_freq_scale = 1.0f / factor;
    } else if (wl_str_eq(type, "linear")) {
        if (factor > 0.0f) hp->rope_freq_scale = 1.0f / factor;
    } else if (wl_str_eq(type, "yarn")) {
        if (factor > 0.0f) hp->rope_freq_scale = 1.0f / factor;
        hp->yarn.ext_factor = 1.0f;
        wl_arch_get_f32(meta, arch, "rope.scaling.yarn_ext_factor", &hp->yarn.ext_factor);
        wl_arch_get_f32(meta, arch, "rope.scaling.yarn_beta_fast", &hp->yarn.beta_fast);
        wl_arch_get_f32(meta, arch, "rope.scaling.yarn_beta_slow", &hp->yarn.beta_slow);
    } else if (wl_str_eq(type, "longrope")) {
        /* phi3: the per-dimension factors come as rope_factors_{short,long} tensors */
    } else {
        return wl_fail(err, WL_ERR_BAD_VALUE, "rope scaling type '%.*s' is not supported",
                       (int)(type.len > 32 ? 32 : type.len), type.ptr);
    }
    return WL_OK;
}

wl_status wl_hparams_read_common(const wl_gguf *meta, const char *arch, wl_hparams *hp,
                                 wl_error *err) {
    int64_t v;
    wl_status st;
    if ((st = wl_arch_need_i64(meta, arch, "context_length", 1, 1 << 24, &v, err))) return st;
    hp->n_ctx_train = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "embedding_length", 1, 1 << 17, &v, err))) return st;
    hp->n_embd = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "block_count", 1, WL_MAX_LAYERS, &v, err))) return st;
    hp->n_layer = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "feed_forward_length", 1, 1 << 20, &v, err))) return st;
    hp->n_ff = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "attention.head_count", 1, 4096, &v, err))) return st;
    hp->n_head = (int)v;

    hp->n_head_kv = hp->n_head;
    if (!hp->kv_heads_per_layer && wl_arch_get_i64(meta, arch, "attention.head_count_kv", &v)) {
        if (v < 1 || v > hp->n_head || hp->n_head % v != 0) {
            return wl_fail(err, WL_ERR_BAD_VALUE,
                           "%s.attention.head_count_kv = %lld does not divide head_count %d",
                           arch, (long long)v, hp->n_head);
        }
        hp->n_head_kv = (int)v;
    }

    int head_dim = hp->n_embd / hp->n_head;
    hp->head_dim_k = head_dim;
    hp->head_dim_v = head_dim;
    if (wl_arch_get_i64(meta, arch, "attention.key_length", &v)) hp->head_dim_k = (int)v;
    if (wl_arch_get_i64(meta, arch, "attention.value_length", &v)) hp->head_dim_v = (int)v;
    if (hp->head_dim_k < 1 || hp->head_dim_k > 1024 || hp->head_dim_v < 1 ||
        hp->head_dim_v > 1024) {
        return wl_fail(err, WL_ERR_BAD_VALUE, "%s: head size %d/%d is not in [1, 1024]", arch,
                       hp->head_dim_k, hp->head_dim_v);
    }
    hp->n_rot = hp->head_dim_k;
    if (wl_arch_get_i64(meta, arch, "rope.dimension_count", &v)) hp->n_rot = (int)v;
    if (hp->n_rot < 0 || hp->n_rot > hp->head_dim_k || hp->n_rot % 2 != 0) {
        return wl_fail(err, WL_ERR_BAD_VALUE, "%s.rope.dimension_count = %d is invalid for head size %d",
                       arch, hp->n_rot, hp->head_dim_k);
    }

    float eps;
    if (wl_arch_get_f32(meta, arch, "attention.layer_norm_rms_epsilon", &eps) ||
        wl_arch_get_f32(meta, arch, "attention.layer_norm_epsilon", &eps)) {
        hp->norm_eps = eps;
    } else {
        return wl_fail(err, WL_ERR_MISSING_KEY,
                       "missing metadata key %s.attention.layer_norm_rms_epsilon", arch);
    }

    hp->rope_base = 10000.0f;
    wl_arch_get_f32(meta, arch, "rope.freq_base", &hp->rope_base);
    hp->rope_freq_scale = 1.0f;
    hp->yarn.attn_factor = 1.0f;
    hp->yarn.beta_fast = 32.0f;
    hp->yarn.beta_slow = 1.0f;
    if ((st = read_rope_scaling(meta, arch, hp, err))) return st;
    /* llama.cpp multiplies every rotation by this (LongRoPE and YaRN files set it) */
    wl_arch_get_f32(meta, arch, "rope.scaling.attn_factor", &hp->yarn.attn_factor);
    hp->rope_base_swa = hp->rope_base;
    hp->rope_freq_scale_swa = hp->rope_freq_scale;

    /* The window size only; which layers use it is the architecture's call
     * (llama.cpp ignores it for llama/mistral files, so no layer is marked here). */
    if (wl_arch_get_i64(meta, arch, "attention.sliding_window", &v) && v > 0) {
        hp->sliding_window = v > (1 << 24) ? (1 << 24) : (int)v;
    }
    if (wl_arch_get_i64(meta, arch, "vocab_size", &v)) {
        if (v < 1 || v > (1 << 22)) {
            return wl_fail(err, WL_ERR_BAD_VALUE, "%s.vocab_size = %lld is out of range", arch,
                           (long long)v);
        }
        hp->n_vocab = (int)v;
    }

    hp->pooling = -1;
    if (wl_arch_get_i64(meta, arch, "pooling_type", &v)) {
        /* llama.cpp's RANK: a classifier head scores query/document pairs,
         * which loading as an embedding model would silently turn into vectors. */
        if (v == 4) {
            return wl_fail(err, WL_ERR_UNSUPPORTED_ARCH,
                           "%s.pooling_type = 4 (rank): rerankers are not supported; text generation "
                           "and embedding models are", arch);
        }
        if (v >= 1 && v <= 3) hp->pooling = (int)v;
    }
    hp->causal = 1;

    hp->norm = WL_NORM_RMS;
    hp->act = WL_ACT_SILU;
    hp->rope_mode = WL_ROPE_NORMAL;
    return WL_OK;
}

void wl_hparams_swa_period(wl_hparams *hp, int period) {
    for (int il = 0; il < hp->n_layer; il++) {
        hp->layer_swa[il] = (uint8_t)(period == 0 || il % period < period - 1);
    }
}

void wl_hparams_swa_period_dense_first(wl_hparams *hp, int period) {
    for (int il = 0; il < hp->n_layer; il++) hp->layer_swa[il] = (uint8_t)(period == 0 || il % period != 0);
}

wl_status wl_hparams_read_moe(const wl_gguf *meta, const char *arch, wl_hparams *hp, int n_ff_exp_default,
                              wl_error *err) {
    int64_t v;
    wl_status st;
    wl_moe_hparams *moe = &hp->moe;
    if ((st = wl_arch_need_i64(meta, arch, "expert_count", 1, WL_MAX_EXPERTS, &v, err))) return st;
    moe->n_expert = (int)v;
    if ((st = wl_arch_need_i64(meta, arch, "expert_used_count", 1, moe->n_expert, &v, err))) return st;
    moe->n_expert_used = (int)v;
    moe->n_ff_exp = n_ff_exp_default;
    if (wl_arch_get_i64(meta, arch, "expert_feed_forward_length", &v)) {
        if (v < 1 || v > (1 << 20)) {
            return wl_fail(err, WL_ERR_BAD_VALUE, "%s.expert_feed_forward_length = %lld is out of range",
                           arch, (long long)v);
        }
        moe->n_ff_exp = (int)v;
    }
    if (moe->n_ff_exp < 1) {
        return wl_fail(err, WL_ERR_MISSING_KEY, "missing metadata key %s.expert_feed_forward_length", arch);
    }
    if (wl_arch_get_i64(meta, arch, "expert_shared_feed_forward_length", &v) && v != 0) {
        if (v < 0 || v > (1 << 20)) {
            return wl_fail(err, WL_ERR_BAD_VALUE,
                           "%s.expert_shared_feed_forward_length = %lld is out of range", arch, (long long)v);
        }
        moe->n_ff_shexp = (int)v;
    }
    moe->gating = WL_GATING_SOFTMAX;
    moe->norm_topk = 1;
    moe->act = WL_ACT_SILU;
    for (int il = 0; il < hp->n_layer; il++) hp->layer_channel[il] = WL_CHANNEL_MOE;
    return WL_OK;
}

wl_status wl_hparams_read_layer_kinds(const wl_gguf *meta, const char *arch, wl_hparams *hp,
                                      wl_token_mixer other, wl_error *err) {
    char key[64];
    snprintf(key, sizeof key, "%s.attention.head_count_kv", arch);
    const wl_gguf_kv *kv = wl_gguf_find(meta, key);
    if (!kv || kv->type != WL_GGUF_ARRAY || kv->v.arr.count != (uint64_t)hp->n_layer) {
        return wl_fail(err, WL_ERR_BAD_VALUE, "%s must hold one value per layer (%d)", key, hp->n_layer);
    }
    int n_head_kv = 0;
    for (int il = 0; il < hp->n_layer; il++) {
        double v;
        if (!wl_gguf_get_arr_f64(meta, key, (uint64_t)il, &v) || v < 0 || v > hp->n_head) {
            return wl_fail(err, WL_ERR_BAD_VALUE, "%s[%d] is not in [0, %d]", key, il, hp->n_head);
        }
        if (v == 0) {
            hp->layer_mixer[il] = other;
            continue;
        }
        if ((n_head_kv != 0 && v != n_head_kv) || hp->n_head % (int)v != 0) {
            return wl_fail(err, WL_ERR_BAD_VALUE, "%s[%d] = %g: attention layers need one K/V head count "
                           "dividing head_count %d", key, il, v, hp->n_head);
        }
        n_head_kv = (int)v;
    }
    hp->n_head_kv = n_head_kv ? n_head_kv : hp->n_head;
    return WL_OK;
}

void wl_hparams_read_swa_pattern(const wl_gguf *meta, const char *arch, wl_hparams *hp,
                                 int default_period) {
    char key[160];
    arch_key(key, sizeof key, arch, "attention.sliding_window_pattern");
    const wl_gguf_kv *kv = wl_gguf_find(meta, key);
    int64_t period;
    if (kv && kv->type == WL_GGUF_ARRAY && kv->v.arr.type == WL_GGUF_BOOL &&
        kv->v.arr.count == (uint64_t)hp->n_layer) {
        /* one flag per layer; the parser checked the array's bytes */
        for (int il = 0; il < hp->n_layer; il++) hp->layer_swa[il] = kv->v.arr.data[il] != 0;
    } else if (wl_gguf_get_i64(meta, key, &period) && period >= 0 && period <= WL_MAX_LAYERS) {
        wl_hparams_swa_period(hp, (int)period);
    } else {
        wl_hparams_swa_period(hp, default_period);
    }
}

/* ---- tensor binding ---- */

static const char *type_name(wl_type t) {
    const wl_type_traits *tt = wl_type_get(t);
    return tt ? tt->name : "?";
}

/* Finds `name` with shape [ne0, ne1, ne2] and a type we run, whose bytes
 * hold ne1 * ne2 rows; *t NULL (and WL_OK) when absent and optional. */
static wl_status find_tensor(const wl_file *f, const char *name, int64_t ne0, int64_t ne1, int64_t ne2,
                             int required, const wl_gguf_tensor **tp, wl_error *err) {
    const wl_gguf_tensor *t = wl_file_find_tensor(f, name);
    *tp = NULL;
    if (!t) {
        if (!required) return WL_OK;
        return wl_fail(err, WL_ERR_MISSING_TENSOR, "tensor %s not found", name);
    }
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != ne2 || t->ne[3] != 1) {
        return wl_fail(err, WL_ERR_MISSING_TENSOR,
                       "tensor %s has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld]", name,
                       (long long)t->ne[0], (long long)t->ne[1], (long long)t->ne[2],
                       (long long)t->ne[3], (long long)ne0, (long long)ne1, (long long)ne2);
    }
    const wl_type_traits *tt = wl_type_get(t->type);
    if (!tt || !tt->supported) {
        return wl_fail(err, WL_ERR_UNKNOWN_TYPE, "tensor %s has type %s, which we do not run",
                       name, tt ? tt->name : "unknown");
    }
    size_t stride = wl_row_size(t->type, ne0);
    if (stride == 0 || (uint64_t)stride * (uint64_t)ne1 * (uint64_t)ne2 > t->n_bytes) {
        return wl_fail(err, WL_ERR_BAD_TENSOR, "tensor %s: %lld columns do not fit type %s", name,
                       (long long)ne0, type_name(t->type));
    }
    *tp = t;
    return WL_OK;
}

/* Rows [r0, r0 + n_rows) of t as a matrix, refused if wl_matmul cannot run
 * it (it would silently skip it). */
static wl_status matrix_of(const wl_gguf_tensor *t, const char *name, int64_t r0, int64_t n_rows,
                           wl_matrix *out, wl_error *err) {
    const size_t stride = wl_row_size(t->type, t->ne[0]);
    out->type = t->type;
    out->n_cols = t->ne[0];
    out->n_rows = n_rows;
    out->row_stride = stride;
    out->data = (const uint8_t *)t->data + (size_t)r0 * stride;
    out->layout = WL_LAYOUT_ROWS;
    if (n_rows > 1 && !wl_matmul_supported(out)) {
        memset(out, 0, sizeof *out);
        return wl_fail(err, WL_ERR_UNKNOWN_TYPE, "tensor %s (%s, %lld columns) has no matmul kernel",
                       name, type_name(t->type), (long long)t->ne[0]);
    }
    return WL_OK;
}

wl_status wl_bind_matrix(const wl_file *f, const char *name, int64_t ne0, int64_t ne1, int required,
                         wl_matrix *out, wl_error *err) {
    memset(out, 0, sizeof *out);
    const wl_gguf_tensor *t;
    wl_status st = find_tensor(f, name, ne0, ne1, 1, required, &t, err);
    if (st != WL_OK || !t) return st;
    return matrix_of(t, name, 0, ne1, out, err);
}

wl_status wl_bind_matrices(const wl_file *f, const char *name, int64_t ne0, int64_t ne1, int64_t n_mat,
                           int required, wl_matrix **out, wl_error *err) {
    *out = NULL;
    const wl_gguf_tensor *t;
    wl_status st = find_tensor(f, name, ne0, ne1, n_mat, required, &t, err);
    if (st != WL_OK || !t) return st;
    *out = calloc((size_t)n_mat, sizeof **out);
    if (!*out) return wl_fail(err, WL_ERR_OOM, "out of memory for %s", name);
    for (int64_t i = 0; i < n_mat; i++) {
        if ((st = matrix_of(t, name, i * ne1, ne1, &(*out)[i], err)) != WL_OK) return st;
    }
    return WL_OK;
}

/* Binds a 1-D tensor of n elements and copies it to f32 (*out NULL if absent). */
wl_status wl_bind_vector(const wl_file *f, const char *name, int64_t n, int required, float **out,
                         wl_error *err) {
    wl_matrix m;
    *out = NULL;
    wl_status st = wl_bind_matrix(f, name, n, 1, required, &m, err);
    if (st != WL_OK || !m.data) return st;
    *out = malloc((size_t)n * sizeof(float));
    if (!*out) return wl_fail(err, WL_ERR_OOM, "out of memory copying %s", name);
    wl_matrix_get_row(&m, 0, *out);
    return WL_OK;
}

/* A layer is its token mixer's and its channel mixer's weights (layer.h). */
static wl_status bind_layer(const wl_file *f, const wl_hparams *hp, int il, wl_layer *l, wl_error *err) {
    wl_status st = WL_ERR_BAD_VALUE;
    switch ((wl_token_mixer)hp->layer_mixer[il]) {
    case WL_MIXER_ATTENTION: st = wl_attention_bind(f, hp, il, &l->attn, err); break;
    case WL_MIXER_SHORTCONV: st = wl_shortconv_bind(f, hp, il, &l->conv, err); break;
    case WL_MIXER_SSM: st = wl_ssm_bind(f, hp, il, &l->ssm, err); break;
    case WL_MIXER_PARALLEL:
        st = wl_attention_bind(f, hp, il, &l->attn, err);
        if (st == WL_OK) st = wl_ssm_bind(f, hp, il, &l->ssm, err);
        break;
    }
    if (st != WL_OK) return st;
    switch ((wl_channel_mixer)hp->layer_channel[il]) {
    case WL_CHANNEL_FFN: st = wl_ffn_bind(f, hp, il, &l->ffn, err); break;
    case WL_CHANNEL_MOE: st = wl_moe_bind(f, hp, il, &l->moe, err); break;
    case WL_CHANNEL_NONE: st = WL_OK; break;
    }
    return st;
}

static void free_layer(wl_layer *l) {
    wl_attention_free(&l->attn);
    wl_shortconv_free(&l->conv);
    wl_ssm_free(&l->ssm);
    wl_ffn_free(&l->ffn);
    wl_moe_free(&l->moe);
}

static const wl_arch *find_arch(wl_str name) {
    for (int i = 0; i < WL_N_ARCHS; i++) {
        if (wl_str_eq(name, wl_archs[i]->name)) return wl_archs[i];
    }
    return NULL;
}

static wl_status unsupported_arch(wl_str name, wl_error *err) {
    char known[320] = "";
    size_t used = 0;
    for (int i = 0; i < WL_N_ARCHS && used < sizeof known; i++) {
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                                 wl_archs[i]->name);
    }
    return wl_fail(err, WL_ERR_UNSUPPORTED_ARCH,
                   "architecture '%.*s' is not supported (supported: %s)",
                   (int)(name.len > 64 ? 64 : name.len), name.ptr, known);
}

static double count_params(const wl_file *f) {
    double n = 0.0;
    int n_tensors = wl_file_tensor_count(f);
    for (int i = 0; i < n_tensors; i++) {
        const wl_gguf_tensor *t = wl_file_tensor(f, i);
        if (t) n += (double)t->ne[0] * (double)t->ne[1] * (double)t->ne[2] * (double)t->ne[3];
    }
    return n;
}

/* Encoders add token type 0 and (bert) absolute position embeddings, then
 * LayerNorm the sum. */
static wl_status bind_encoder_inputs(wl_model *m, wl_error *err) {
    const wl_file *f = m->file;
    const int64_t n_embd = m->hp.n_embd;
    wl_status st;
    if ((st = wl_bind_vector(f, "token_embd_norm.weight", n_embd, 1, &m->token_embd_norm, err))) return st;
    if ((st = wl_bind_vector(f, "token_embd_norm.bias", n_embd, 0, &m->token_embd_norm_b, err))) return st;
    const wl_gguf_tensor *types = wl_file_find_tensor(f, "token_types.weight");
    if (types) {
        wl_matrix tm;
        if ((st = wl_bind_matrix(f, "token_types.weight", n_embd, types->ne[1], 1, &tm, err))) return st;
        m->token_type0 = malloc((size_t)n_embd * sizeof(float));
        if (!m->token_type0) return wl_fail(err, WL_ERR_OOM, "out of memory copying token_types");
        wl_matrix_get_row(&tm, 0, m->token_type0);
    }
    const wl_gguf_tensor *pos = wl_file_find_tensor(f, "position_embd.weight");
    if (pos) {
        if ((st = wl_bind_matrix(f, "position_embd.weight", n_embd, pos->ne[1], 1, &m->position_embd, err)))
            return st;
    }
    return WL_OK;
}

static wl_status bind_model(wl_model *m, wl_error *err) {
    const wl_file *f = m->file;
    wl_hparams *hp = &m->hp;
    wl_status st;

    const wl_gguf_tensor *embd = wl_file_find_tensor(f, "token_embd.weight");
    if (!embd) return wl_fail(err, WL_ERR_MISSING_TENSOR, "tensor token_embd.weight not found");
    if (hp->n_vocab == 0) {
        if (embd->ne[1] < 1 || embd->ne[1] > (1 << 22)) {
            return wl_fail(err, WL_ERR_MISSING_TENSOR, "token_embd.weight has %lld rows",
                           (long long)embd->ne[1]);
        }
        hp->n_vocab = (int)embd->ne[1];
    }
    if ((st = wl_bind_matrix(f, "token_embd.weight", hp->n_embd, hp->n_vocab, 1, &m->token_embd, err)))
        return st;
    if ((st = wl_bind_matrix(f, "output.weight", hp->n_embd, hp->n_vocab, 0, &m->output, err)))
        return st;
    if (!m->output.data) m->output = m->token_embd;
    if (hp->encoder && (st = bind_encoder_inputs(m, err))) return st;
    const char *out_norm = hp->output_norm_name ? hp->output_norm_name : "output_norm.weight";
    if ((st = wl_bind_vector(f, out_norm, hp->n_embd, !hp->encoder, &m->output_norm, err))) return st;
    if ((st = wl_bind_vector(f, "output_norm.bias", hp->n_embd, 0, &m->output_norm_b, err))) return st;
    if ((st = wl_bind_vector(f, "output.bias", hp->n_vocab, 0, &m->output_b, err))) return st;
    if (hp->n_rot > 0) {
        const int n = hp->n_rot / 2;
        if ((st = wl_bind_vector(f, "rope_freqs.weight", n, 0, &m->rope_freqs, err))) return st;
        if ((st = wl_bind_vector(f, "rope_factors_short.weight", n, 0, &m->rope_factors_short, err)))
            return st;
        if ((st = wl_bind_vector(f, "rope_factors_long.weight", n, 0, &m->rope_factors_long, err)))
            return st;
    }

    m->layers = calloc((size_t)hp->n_layer, sizeof *m->layers);
    if (!m->layers) return wl_fail(err, WL_ERR_OOM, "out of memory for %d layers", hp->n_layer);
    for (int il = 0; il < hp->n_layer; il++) {
        if ((st = bind_layer(f, hp, il, &m->layers[il], err))) return st;
    }
    return WL_OK;
}

static void apply_defaults(wl_hparams *hp) {
    if (hp->embd_scale == 0.0f) hp->embd_scale = 1.0f;
    if (hp->attn_scale == 0.0f) hp->attn_scale = 1.0f / sqrtf((float)hp->head_dim_k);
    if (hp->residual_scale == 0.0f) hp->residual_scale = 1.0f;
    if (hp->logit_scale == 0.0f) hp->logit_scale = 1.0f;
}

wl_model *wl_model_load(const wl_file *f, wl_error *err) {
    if (!f) {
        wl_fail(err, WL_ERR_BAD_ARG, "wl_model_load: no file");
        return NULL;
    }
    const wl_gguf *meta = wl_file_meta(f);
    wl_str arch_name;
    if (!wl_gguf_get_str(meta, "general.architecture", &arch_name)) {
        wl_fail(err, WL_ERR_MISSING_KEY, "missing metadata key general.architecture");
        return NULL;
    }
    const wl_arch *arch = find_arch(arch_name);
    if (!arch) {
        unsupported_arch(arch_name, err);
        return NULL;
    }

    wl_model *m = calloc(1, sizeof *m);
    if (!m) {
        wl_fail(err, WL_ERR_OOM, "out of memory for the model");
        return NULL;
    }
    m->file = f;
    m->arch_name = arch->name;
    if (arch->read_hparams(meta, &m->hp, err) != WL_OK || bind_model(m, err) != WL_OK) {
        wl_model_free(m);
        return NULL;
    }
    apply_defaults(&m->hp);
    m->n_params = count_params(f);
    return m;
}

void wl_model_free(wl_model *m) {
    if (!m) return;
    if (m->layers) {
        for (int il = 0; il < m->hp.n_layer; il++) free_layer(&m->layers[il]);
        free(m->layers);
    }
    free(m->output_norm);
    free(m->output_norm_b);
    free(m->output_b);
    free(m->token_embd_norm);
    free(m->token_embd_norm_b);
    free(m->token_type0);
    free(m->rope_freqs);
    free(m->rope_factors_short);
    free(m->rope_factors_long);
    free(m);
}

int wl_model_n_vocab(const wl_model *m) { return m ? m->hp.n_vocab : 0; }
int wl_model_is_encoder(const wl_model *m) { return m ? m->hp.encoder : 0; }
int wl_model_pooling(const wl_model *m) { return m ? m->hp.pooling : -1; }
int wl_model_n_ctx_train(const wl_model *m) { return m ? m->hp.n_ctx_train : 0; }
int wl_model_n_embd(const wl_model *m) { return m ? m->hp.n_embd : 0; }
int wl_model_n_layer(const wl_model *m) { return m ? m->hp.n_layer : 0; }
double wl_model_n_params(const wl_model *m) { return m ? m->n_params : 0.0; }

/* Every weight matrix of layer il (absent ones have no data); returns how
 * many it put in out, which has room for layer_matrix_count. */
static int layer_matrix_count(const wl_hparams *hp) {
    return 8 + 3 + 2 + 3 * hp->moe.n_expert + 1;
}

static int layer_matrices(wl_layer *l, const wl_hparams *hp, wl_matrix **out) {
    int n = 0;
    wl_matrix *const fixed[] = { &l->attn.wq, &l->attn.wk, &l->attn.wv, &l->attn.wqkv, &l->attn.wo,
                                 &l->ffn.gate, &l->ffn.up, &l->ffn.down,
                                 &l->moe.shared.gate, &l->moe.shared.up, &l->moe.shared.down,
                                 &l->ssm.in_proj, &l->ssm.out_proj };
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) out[n++] = fixed[i];
    if (l->moe.router.data) out[n++] = &l->moe.router;
    for (int e = 0; l->moe.up && e < hp->moe.n_expert; e++) {
        if (l->moe.gate) out[n++] = &l->moe.gate[e];
        out[n++] = &l->moe.up[e];
        out[n++] = &l->moe.down[e];
    }
    return n;
}

static size_t max_scratch(size_t cur, const wl_matrix *w, int n_tokens) {
    if (!w->data) return cur;
    size_t s = wl_matmul_scratch_size(w, n_tokens);
    return s > cur ? s : cur;
}

size_t wl_model_matmul_scratch(const wl_model *m, int n_tokens) {
    size_t s = max_scratch(0, &m->output, 1);
    wl_matrix **ws = malloc((size_t)layer_matrix_count(&m->hp) * sizeof *ws);
    if (!ws) return SIZE_MAX; /* the caller's allocation fails and says so */
    for (int il = 0; il < m->hp.n_layer; il++) {
        const int n = layer_matrices(&m->layers[il], &m->hp, ws);
        for (int i = 0; i < n; i++) s = max_scratch(s, ws[i], n_tokens);
        /* a decode step encodes each chosen expert's down input (moe.c) */
        const wl_moe_weights *moe = &m->layers[il].moe;
        if (moe->down) {
            const size_t each = wl_matmul_each_scratch_size(&moe->down[0], m->hp.moe.n_expert_used, 1);
            if (each > s) s = each;
        }
    }
    free(ws);
    return s;
}

/* Rearranges one matrix (absent ones have no data); returns 1 if it did. */
static int prepare_matrix(wl_matrix *w) {
    return w->data && wl_matrix_repack(w);
}

int wl_model_prepare(wl_model *m) {
    if (!m) return 0;
    int repacked = prepare_matrix(&m->output);
    wl_matrix **ws = malloc((size_t)layer_matrix_count(&m->hp) * sizeof *ws);
    if (!ws) return repacked; /* plain rows still run, only slower */
    for (int il = 0; il < m->hp.n_layer; il++) {
        const int n = layer_matrices(&m->layers[il], &m->hp, ws);
        for (int i = 0; i < n; i++) repacked += prepare_matrix(ws[i]);
    }
    free(ws);
    /* A tied output is token_embd's tensor: its row lookups must read the
     * layout the output was given. */
    if (m->token_embd.data == m->output.data) m->token_embd.layout = m->output.layout;
    return repacked;
}
