/* Model loading and the forward pass on tiny random-weight models built in
 * memory. The key check: a prompt decoded in one batch gives the same
 * logits as the same prompt decoded token by token (KV cache, causal mask,
 * RoPE positions and chunking all have to agree for that to hold). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model_gguf.h"
#include "wasmllm.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

/* ---- deterministic random models of each architecture ---- */

typedef struct {
    const char *arch;
    int n_vocab, n_embd, n_layer, n_head, n_head_kv, n_ff, n_ctx_train;
    wl_type wtype;       /* projection weights */
    int tied_output;     /* omit output.weight */
    const char *skip;    /* a tensor to leave out, or NULL */
    int skip_rms_eps;    /* leave out the rms epsilon key */
    int half_q;          /* give blk.0.attn_q.weight half its rows */
    /* architecture features (set by arch_spec) */
    int head_dim;        /* attention.key_length/value_length; 0 = n_embd / n_head */
    int qkv_bias, qk_norm, post_norms, fused_qkv, fused_up;
    int sliding_window;  /* attention.sliding_window key; 0 = none */
    int swa_period;      /* attention.sliding_window_pattern key; 0 = none */
    int granite_keys;
    wl_type kv_type;     /* the KV cache's type; 0 = F16 */
    int n_expert, n_expert_used; /* a mixture of experts in every layer (qwen3moe) */
    uint32_t conv_layers; /* lfm2: bit il set = layer il is a short convolution */
    int dense_lead;       /* lfm2moe: layers before this one have a dense FFN */
    int expert_bias;      /* lfm2moe: exp_probs_b and sigmoid gating */
    int ssm;             /* falcon-h1: a Mamba-2 mixer beside attention in every layer */
} tiny_spec;

static const tiny_spec base_spec = {
    "llama", 64, 32, 2, 4, 2, 48, 512, WL_TYPE_F32, 0, NULL, 0, 0,
};

/* The tensors and keys each architecture's llama.cpp loader expects. */
static tiny_spec arch_spec(const char *arch) {
    tiny_spec s = base_spec;
    s.arch = arch;
    if (!strcmp(arch, "qwen2")) s.qkv_bias = 1;
    if (!strcmp(arch, "qwen3")) { s.qk_norm = 1; s.head_dim = 16; }
    if (!strcmp(arch, "gemma")) s.tied_output = 1;
    if (!strcmp(arch, "gemma2")) { s.tied_output = 1; s.post_norms = 1; s.sliding_window = 4; }
    if (!strcmp(arch, "gemma3")) {
        s.tied_output = 1; s.post_norms = 1; s.qk_norm = 1; s.sliding_window = 4; s.swa_period = 2;
    }
    if (!strcmp(arch, "phi3")) { s.fused_qkv = 1; s.fused_up = 1; }
    if (!strcmp(arch, "smollm3")) s.n_layer = 4; /* layer 3 skips RoPE */
    if (!strcmp(arch, "granite")) s.granite_keys = 1;
    if (!strcmp(arch, "qwen3moe")) { s.qk_norm = 1; s.head_dim = 16; s.n_expert = 4; s.n_expert_used = 2; }
    /* convolution, attention, convolution; lfm2moe: the first dense, then experts */
    if (!strcmp(arch, "lfm2") || !strcmp(arch, "lfm2moe")) { s.n_layer = 3; s.conv_layers = 5; s.qk_norm = 1; }
    if (!strcmp(arch, "lfm2moe")) { s.n_expert = 4; s.n_expert_used = 2; s.dense_lead = 1; s.expert_bias = 1; }
    if (!strcmp(arch, "falcon-h1")) s.ssm = 1;
    return s;
}

/* s with quantized weights, its FFN widened to whole 32-value blocks */
static tiny_spec quantized(tiny_spec s, wl_type type) {
    s.wtype = type;
    s.n_ff = 64;
    return s;
}

static uint32_t rng = 12345u;
static float frand(void) { /* uniform in [-1, 1) */
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) & 0xFFFFFF) / 8388608.0f - 1.0f;
}

static void add_tensor3(model_gguf *w, const tiny_spec *s, const char *name, wl_type type,
                        int64_t ne0, int64_t ne1, int64_t ne2, float center, float spread) {
    if (s->skip && strcmp(s->skip, name) == 0) return;
    float *v = malloc((size_t)(ne0 * ne1 * ne2) * sizeof(float));
    for (int64_t i = 0; i < ne0 * ne1 * ne2; i++) v[i] = center + spread * frand();
    mg_tensor3(w, name, type, ne0, ne1, ne2, v);
    free(v);
}

static void add_tensor(model_gguf *w, const tiny_spec *s, const char *name, wl_type type,
                       int64_t ne0, int64_t ne1, float center, float spread) {
    add_tensor3(w, s, name, type, ne0, ne1, 1, center, spread);
}

/* Mamba-2 mixers of the tiny models: 4 heads of 16, 2 groups of 8 states, 4 taps */
enum { TINY_SSM_CONV = 4, TINY_SSM_INNER = 64, TINY_SSM_STATE = 8, TINY_SSM_HEADS = 4, TINY_SSM_GROUPS = 2 };

/* One layer's Mamba-2 tensors (ssm.c), named as llama.cpp reads them. */
static void add_ssm_tensors(model_gguf *w, const tiny_spec *s, int il) {
    char name[64];
    const int conv = TINY_SSM_INNER + 2 * TINY_SSM_GROUPS * TINY_SSM_STATE;
#define T(suffix) (snprintf(name, sizeof name, "blk.%d.%s", il, suffix), name)
    add_tensor(w, s, T("ssm_in.weight"), s->wtype, s->n_embd, TINY_SSM_INNER + conv + TINY_SSM_HEADS, 0.0f, 0.3f);
    add_tensor(w, s, T("ssm_conv1d.weight"), WL_TYPE_F32, TINY_SSM_CONV, conv, 0.0f, 0.5f);
    add_tensor(w, s, T("ssm_conv1d.bias"), WL_TYPE_F32, conv, 1, 0.0f, 0.1f);
    add_tensor(w, s, T("ssm_dt.bias"), WL_TYPE_F32, TINY_SSM_HEADS, 1, -2.0f, 0.5f);
    add_tensor(w, s, T("ssm_a"), WL_TYPE_F32, 1, TINY_SSM_HEADS, -4.0f, 3.0f);
    add_tensor(w, s, T("ssm_d"), WL_TYPE_F32, 1, TINY_SSM_HEADS, 1.0f, 0.1f);
    add_tensor(w, s, T("ssm_norm.weight"), WL_TYPE_F32, TINY_SSM_INNER / TINY_SSM_GROUPS, TINY_SSM_GROUPS, 1.0f, 0.1f);
    add_tensor(w, s, T("ssm_out.weight"), s->wtype, TINY_SSM_INNER, s->n_embd, 0.0f, 0.3f);
#undef T
}

static void add_keys(model_gguf *w, const tiny_spec *s, int hd) {
    char key[128];
    const char *a = s->arch;
    mg_kv_str(w, "general.architecture", a);
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
    mg_kv_u32(w, KEY("context_length"), (uint32_t)s->n_ctx_train);
    mg_kv_u32(w, KEY("embedding_length"), (uint32_t)s->n_embd);
    mg_kv_u32(w, KEY("block_count"), (uint32_t)s->n_layer);
    mg_kv_u32(w, KEY("feed_forward_length"), (uint32_t)s->n_ff);
    mg_kv_u32(w, KEY("attention.head_count"), (uint32_t)s->n_head);
    if (s->conv_layers) { /* lfm2: one K/V head count per layer, 0 for a convolution */
        int32_t kv[32];
        for (int il = 0; il < s->n_layer; il++) kv[il] = (s->conv_layers >> il) & 1 ? 0 : s->n_head_kv;
        mg_kv_arr_i32(w, KEY("attention.head_count_kv"), kv, (uint64_t)s->n_layer);
        mg_kv_u32(w, KEY("shortconv.l_cache"), 3);
    } else {
        mg_kv_u32(w, KEY("attention.head_count_kv"), (uint32_t)s->n_head_kv);
    }
    if (s->dense_lead) mg_kv_u32(w, KEY("leading_dense_block_count"), (uint32_t)s->dense_lead);
    if (s->expert_bias) mg_kv_u32(w, KEY("expert_gating_func"), 2);
    mg_kv_u32(w, KEY("rope.dimension_count"), (uint32_t)hd);
    mg_kv_f32(w, KEY("rope.freq_base"), 10000.0f);
    if (!s->skip_rms_eps) mg_kv_f32(w, KEY("attention.layer_norm_rms_epsilon"), 1e-5f);
    if (s->head_dim) {
        mg_kv_u32(w, KEY("attention.key_length"), (uint32_t)hd);
        mg_kv_u32(w, KEY("attention.value_length"), (uint32_t)hd);
    }
    if (s->sliding_window) mg_kv_u32(w, KEY("attention.sliding_window"), (uint32_t)s->sliding_window);
    if (s->swa_period) mg_kv_u32(w, KEY("attention.sliding_window_pattern"), (uint32_t)s->swa_period);
    if (s->n_expert) {
        mg_kv_u32(w, KEY("expert_count"), (uint32_t)s->n_expert);
        mg_kv_u32(w, KEY("expert_used_count"), (uint32_t)s->n_expert_used);
        mg_kv_u32(w, KEY("expert_feed_forward_length"), (uint32_t)s->n_ff);
    }
    if (s->ssm) {
        mg_kv_u32(w, KEY("ssm.conv_kernel"), TINY_SSM_CONV);
        mg_kv_u32(w, KEY("ssm.inner_size"), TINY_SSM_INNER);
        mg_kv_u32(w, KEY("ssm.state_size"), TINY_SSM_STATE);
        mg_kv_u32(w, KEY("ssm.time_step_rank"), TINY_SSM_HEADS);
        mg_kv_u32(w, KEY("ssm.group_count"), TINY_SSM_GROUPS);
    }
    if (s->granite_keys) {
        mg_kv_f32(w, KEY("logit_scale"), 4.0f);
        mg_kv_f32(w, KEY("residual_scale"), 0.5f);
        mg_kv_f32(w, KEY("embedding_scale"), 3.0f);
        mg_kv_f32(w, KEY("attention.scale"), 0.1f);
    }
#undef KEY
}

static uint8_t *build_tiny(const tiny_spec *s, size_t *len) {
    model_gguf w = {0};
    char name[64];
    const int hd = s->head_dim ? s->head_dim : s->n_embd / s->n_head;
    const int n_q = s->n_head * hd, n_kv = s->n_head_kv * hd;
    rng = 12345u;
    add_keys(&w, s, hd);
    const float ws = 0.3f;
    add_tensor(&w, s, "token_embd.weight", WL_TYPE_F16, s->n_embd, s->n_vocab, 0.0f, 1.0f);
    add_tensor(&w, s, s->conv_layers ? "token_embd_norm.weight" : "output_norm.weight", WL_TYPE_F32, s->n_embd, 1,
               1.0f, 0.1f);
    if (!s->tied_output) add_tensor(&w, s, "output.weight", s->wtype, s->n_embd, s->n_vocab, 0.0f, ws);
    for (int il = 0; il < s->n_layer; il++) {
#define T(suffix) (snprintf(name, sizeof name, "blk.%d.%s", il, suffix), name)
        add_tensor(&w, s, T("attn_norm.weight"), WL_TYPE_F32, s->n_embd, 1, 1.0f, 0.1f);
        if ((s->conv_layers >> il) & 1) {
            add_tensor(&w, s, T("shortconv.in_proj.weight"), s->wtype, s->n_embd, 3 * s->n_embd, 0.0f, ws);
            add_tensor(&w, s, T("shortconv.conv.weight"), WL_TYPE_F32, 3, s->n_embd, 0.0f, 0.5f);
            add_tensor(&w, s, T("shortconv.out_proj.weight"), s->wtype, s->n_embd, s->n_embd, 0.0f, ws);
        } else if (s->fused_qkv) {
            add_tensor(&w, s, T("attn_qkv.weight"), s->wtype, s->n_embd, n_q + 2 * n_kv, 0.0f, ws);
        } else {
            add_tensor(&w, s, T("attn_q.weight"), s->wtype, s->n_embd,
                       n_q / (s->half_q && il == 0 ? 2 : 1), 0.0f, ws);
            add_tensor(&w, s, T("attn_k.weight"), s->wtype, s->n_embd, n_kv, 0.0f, ws);
            add_tensor(&w, s, T("attn_v.weight"), s->wtype, s->n_embd, n_kv, 0.0f, ws);
        }
        if (s->qkv_bias) {
            add_tensor(&w, s, T("attn_q.bias"), WL_TYPE_F32, n_q, 1, 0.0f, 0.5f);
            add_tensor(&w, s, T("attn_k.bias"), WL_TYPE_F32, n_kv, 1, 0.0f, 0.5f);
            add_tensor(&w, s, T("attn_v.bias"), WL_TYPE_F32, n_kv, 1, 0.0f, 0.5f);
        }
        if (s->qk_norm && !((s->conv_layers >> il) & 1)) {
            add_tensor(&w, s, T("attn_q_norm.weight"), WL_TYPE_F32, hd, 1, 1.0f, 0.1f);
            add_tensor(&w, s, T("attn_k_norm.weight"), WL_TYPE_F32, hd, 1, 1.0f, 0.1f);
        }
        if (!((s->conv_layers >> il) & 1)) add_tensor(&w, s, T("attn_output.weight"), s->wtype, n_q, s->n_embd, 0.0f, ws);
        if (s->ssm) add_ssm_tensors(&w, s, il);
        if (s->post_norms) {
            add_tensor(&w, s, T("post_attention_norm.weight"), WL_TYPE_F32, s->n_embd, 1, 1.0f, 0.1f);
            add_tensor(&w, s, T("post_ffw_norm.weight"), WL_TYPE_F32, s->n_embd, 1, 1.0f, 0.1f);
        }
        /* falcon-h1: llama.cpp names this norm without .weight */
        add_tensor(&w, s, s->ssm ? T("ffn_norm") : T("ffn_norm.weight"), WL_TYPE_F16, s->n_embd, 1, 1.0f, 0.1f);
        if (s->n_expert && il >= s->dense_lead) {
            add_tensor(&w, s, T("ffn_gate_inp.weight"), WL_TYPE_F32, s->n_embd, s->n_expert, 0.0f, 1.0f);
            if (s->expert_bias) add_tensor(&w, s, T("exp_probs_b.bias"), WL_TYPE_F32, s->n_expert, 1, 0.0f, 0.3f);
            add_tensor3(&w, s, T("ffn_gate_exps.weight"), s->wtype, s->n_embd, s->n_ff, s->n_expert, 0.0f, ws);
            add_tensor3(&w, s, T("ffn_up_exps.weight"), s->wtype, s->n_embd, s->n_ff, s->n_expert, 0.0f, ws);
            add_tensor3(&w, s, T("ffn_down_exps.weight"), s->wtype, s->n_ff, s->n_embd, s->n_expert, 0.0f, ws);
            continue;
        }
        if (s->fused_up) {
            add_tensor(&w, s, T("ffn_up.weight"), s->wtype, s->n_embd, 2 * s->n_ff, 0.0f, ws);
        } else {
            add_tensor(&w, s, T("ffn_gate.weight"), s->wtype, s->n_embd, s->n_ff, 0.0f, ws);
            add_tensor(&w, s, T("ffn_up.weight"), s->wtype, s->n_embd, s->n_ff, 0.0f, ws);
        }
        add_tensor(&w, s, T("ffn_down.weight"), s->wtype, s->n_ff, s->n_embd, 0.0f, ws);
#undef T
    }
    return mg_finish(&w, len);
}

/* bert / nomic-bert: post-norm encoder blocks with LayerNorm weights and biases. */
static uint8_t *build_tiny_encoder(const char *arch, uint32_t pooling_type, size_t *len) {
    model_gguf w = {0};
    char key[128], name[64];
    const int nomic = !strcmp(arch, "nomic-bert");
    const int n_embd = 32, n_ff = 48, n_vocab = 64, n_layer = 2, n_ctx = 16;
    rng = 777u;
    mg_kv_str(&w, "general.architecture", arch);
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), key)
    mg_kv_u32(&w, KEY("context_length"), (uint32_t)n_ctx);
    mg_kv_u32(&w, KEY("embedding_length"), (uint32_t)n_embd);
    mg_kv_u32(&w, KEY("block_count"), (uint32_t)n_layer);
    mg_kv_u32(&w, KEY("feed_forward_length"), (uint32_t)n_ff);
    mg_kv_u32(&w, KEY("attention.head_count"), 4);
    mg_kv_f32(&w, KEY("attention.layer_norm_epsilon"), 1e-12f);
    mg_kv_bool(&w, KEY("attention.causal"), 0);
    mg_kv_u32(&w, KEY("pooling_type"), pooling_type);
    if (nomic) mg_kv_f32(&w, KEY("rope.freq_base"), 1000.0f);
#undef KEY
    tiny_spec s = base_spec; /* add_tensor only reads s.skip */
    add_tensor(&w, &s, "token_embd.weight", WL_TYPE_F16, n_embd, n_vocab, 0.0f, 1.0f);
    add_tensor(&w, &s, "token_types.weight", WL_TYPE_F32, n_embd, 2, 0.0f, 0.5f);
    if (!nomic) add_tensor(&w, &s, "position_embd.weight", WL_TYPE_F32, n_embd, n_ctx, 0.0f, 0.5f);
    add_tensor(&w, &s, "token_embd_norm.weight", WL_TYPE_F32, n_embd, 1, 1.0f, 0.1f);
    add_tensor(&w, &s, "token_embd_norm.bias", WL_TYPE_F32, n_embd, 1, 0.0f, 0.1f);
    for (int il = 0; il < n_layer; il++) {
#define T(suffix) (snprintf(name, sizeof name, "blk.%d.%s", il, suffix), name)
        if (nomic) {
            add_tensor(&w, &s, T("attn_qkv.weight"), WL_TYPE_F32, n_embd, 3 * n_embd, 0.0f, 0.3f);
        } else {
            add_tensor(&w, &s, T("attn_q.weight"), WL_TYPE_F32, n_embd, n_embd, 0.0f, 0.3f);
            add_tensor(&w, &s, T("attn_q.bias"), WL_TYPE_F32, n_embd, 1, 0.0f, 0.2f);
            add_tensor(&w, &s, T("attn_k.weight"), WL_TYPE_F32, n_embd, n_embd, 0.0f, 0.3f);
            add_tensor(&w, &s, T("attn_k.bias"), WL_TYPE_F32, n_embd, 1, 0.0f, 0.2f);
            add_tensor(&w, &s, T("attn_v.weight"), WL_TYPE_F32, n_embd, n_embd, 0.0f, 0.3f);
            add_tensor(&w, &s, T("attn_v.bias"), WL_TYPE_F32, n_embd, 1, 0.0f, 0.2f);
        }
        add_tensor(&w, &s, T("attn_output.weight"), WL_TYPE_F32, n_embd, n_embd, 0.0f, 0.3f);
        add_tensor(&w, &s, T("attn_output_norm.weight"), WL_TYPE_F32, n_embd, 1, 1.0f, 0.1f);
        add_tensor(&w, &s, T("attn_output_norm.bias"), WL_TYPE_F32, n_embd, 1, 0.0f, 0.1f);
        add_tensor(&w, &s, T("ffn_up.weight"), WL_TYPE_F32, n_embd, n_ff, 0.0f, 0.3f);
        if (nomic) add_tensor(&w, &s, T("ffn_gate.weight"), WL_TYPE_F32, n_embd, n_ff, 0.0f, 0.3f);
        else add_tensor(&w, &s, T("ffn_up.bias"), WL_TYPE_F32, n_ff, 1, 0.0f, 0.2f);
        add_tensor(&w, &s, T("ffn_down.weight"), WL_TYPE_F32, n_ff, n_embd, 0.0f, 0.3f);
        if (!nomic) add_tensor(&w, &s, T("ffn_down.bias"), WL_TYPE_F32, n_embd, 1, 0.0f, 0.2f);
        add_tensor(&w, &s, T("layer_output_norm.weight"), WL_TYPE_F32, n_embd, 1, 1.0f, 0.1f);
        add_tensor(&w, &s, T("layer_output_norm.bias"), WL_TYPE_F32, n_embd, 1, 0.0f, 0.1f);
#undef T
    }
    return mg_finish(&w, len);
}

typedef struct {
    uint8_t *bytes;
    wl_file *file;
    wl_model *model;
} loaded;

static wl_status load(const tiny_spec *s, loaded *out, wl_error *err) {
    size_t len;
    memset(out, 0, sizeof *out);
    out->bytes = build_tiny(s, &len);
    const uint8_t *shards[1] = { out->bytes };
    double lens[1] = { (double)len };
    out->file = wl_file_open(shards, lens, 1, 0, err);
    if (!out->file) return err->code;
    out->model = wl_model_load(out->file, err);
    return out->model ? WL_OK : err->code;
}

/* load, counting a failure as one */
static int load_checked(const tiny_spec *s, loaded *out) {
    wl_error err = {0};
    if (load(s, out, &err) == WL_OK) return 1;
    CHECK(0, "%s: load failed: %s", s->arch, err.message);
    return 0;
}

static void unload(loaded *l) {
    wl_model_free(l->model);
    wl_file_free(l->file);
    free(l->bytes);
}

static float max_diff(const float *a, const float *b, int n) {
    float d = 0.0f;
    for (int i = 0; i < n; i++) d = fmaxf(d, fabsf(a[i] - b[i]));
    return d;
}

/* Decodes tokens in pieces of `step` (step >= n: one batch); copies the final logits. */
static int decode_in_steps(wl_context *c, const int32_t *tokens, int n, int step, float *logits,
                           int n_vocab) {
    wl_error err = {0};
    for (int i = 0; i < n; i += step) {
        int m = n - i < step ? n - i : step;
        if (wl_decode(c, tokens + i, m, &err) != WL_OK) {
            fprintf(stderr, "decode failed: %s\n", err.message);
            return 0;
        }
    }
    memcpy(logits, wl_context_logits(c), (size_t)n_vocab * sizeof(float));
    return 1;
}

static void test_batch_equals_sequential(const tiny_spec *s, int n_prompt, int n_ctx,
                                         int n_threads) {
    wl_error err = {0};
    loaded l;
    if (!load_checked(s, &l)) return;
    const int n_vocab = wl_model_n_vocab(l.model);
    int32_t *tokens = malloc((size_t)n_prompt * sizeof(int32_t));
    for (int i = 0; i < n_prompt; i++) tokens[i] = (int32_t)((i * 7 + 3) % n_vocab);
    float *batch = malloc((size_t)n_vocab * sizeof(float));
    float *seq = malloc((size_t)n_vocab * sizeof(float));
    float *odd = malloc((size_t)n_vocab * sizeof(float));

    const int kv = s->kv_type ? s->kv_type : WL_TYPE_F16;
    wl_context *c1 = wl_context_new(l.model, n_ctx, n_threads, kv, &err);
    wl_context *c2 = wl_context_new(l.model, n_ctx, 1, kv, &err);
    wl_context *c3 = wl_context_new(l.model, n_ctx, n_threads, kv, &err);
    CHECK(c1 && c2 && c3, "%s: context: %s", s->arch, err.message);
    if (c1 && c2 && c3) {
        int ok = decode_in_steps(c1, tokens, n_prompt, n_prompt, batch, n_vocab) &&
                 decode_in_steps(c2, tokens, n_prompt, 1, seq, n_vocab) &&
                 decode_in_steps(c3, tokens, n_prompt, 37, odd, n_vocab);
        CHECK(ok, "%s: decode failed", s->arch);
        float d1 = max_diff(batch, seq, n_vocab), d2 = max_diff(batch, odd, n_vocab);
        /* Relative to the largest logit. Batched matmul kernels may sum in
         * another order than one-token ones (wasm SIMD tiles do, ~1e-6), and
         * with f16 weights such a difference can flip an f16 rounding of a
         * K/V entry (a 5e-4 relative step), hence the looser bound there.
         * Mask or position bugs show up as errors of 1e-2 and more. */
        float top = 1.0f;
        for (int i = 0; i < n_vocab; i++) top = fmaxf(top, fabsf(batch[i]));
        const float tol = (s->wtype == WL_TYPE_F32 ? 1e-4f : 1e-3f) * top;
        CHECK(d1 < tol, "%s: batch vs sequential logits differ by %g (n=%d, |max| %g)", s->arch, d1, n_prompt, top);
        CHECK(d2 < tol, "%s: batch vs 37-token pieces differ by %g (|max| %g)", s->arch, d2, top);
        CHECK(wl_context_pos(c1) == n_prompt, "%s: pos %d", s->arch, wl_context_pos(c1));
        float spread = 0.0f;
        for (int i = 1; i < n_vocab; i++) spread = fmaxf(spread, fabsf(batch[i] - batch[0]));
        CHECK(spread > 1e-3f && isfinite(spread), "%s: logits are degenerate (spread %g)", s->arch, spread);

        /* truncating and re-decoding the tail reproduces the logits (a Mamba-2
         * state cannot be taken back: the sequence starts over) */
        wl_context_truncate(c1, n_prompt / 2);
        const int kept = wl_context_pos(c1);
        CHECK(kept == (s->ssm ? 0 : n_prompt / 2), "%s: truncate kept %d", s->arch, kept);
        ok = decode_in_steps(c1, tokens + kept, n_prompt - kept, 1000, odd, n_vocab);
        float d3 = ok ? max_diff(batch, odd, n_vocab) : 1.0f;
        CHECK(d3 < tol, "%s: re-decode after truncate differs by %g", s->arch, d3);
    }
    wl_context_free(c1);
    wl_context_free(c2);
    wl_context_free(c3);
    free(tokens); free(batch); free(seq); free(odd);
    unload(&l);
}

/* ---- sliding-window layers keep a ring of their window ---- */

/* gemma3 with a 4-token window on layer 0 (layer 1 global): 200 tokens in
 * a 256-token context wrap layer 0's ring (4 + 31 + 32 rows) three times.
 * One batch, token by token and 37-token pieces agree; a truncate a few
 * positions back keeps them and re-decoding gives the same logits; one
 * behind what the ring overwrote keeps nothing (wl_context_pos says 0) and
 * the sequence decoded again from the start matches; the cache takes the
 * ring's bytes, not the whole context's. */
static void test_sliding_window_ring(int n_threads) {
    enum { N = 200, N_CTX = 256 };
    const tiny_spec s = arch_spec("gemma3");
    wl_error err = {0};
    loaded l;
    if (!load_checked(&s, &l)) return;
    const int n_vocab = wl_model_n_vocab(l.model);
    int32_t tokens[N];
    for (int i = 0; i < N; i++) tokens[i] = (int32_t)((i * 7 + 3) % n_vocab);
    float *batch = malloc((size_t)n_vocab * sizeof(float)), *seq = malloc((size_t)n_vocab * sizeof(float));
    float *again = malloc((size_t)n_vocab * sizeof(float));
    wl_context *c1 = wl_context_new(l.model, N_CTX, n_threads, WL_TYPE_F16, &err);
    wl_context *c2 = wl_context_new(l.model, N_CTX, 1, WL_TYPE_F16, &err);
    CHECK(c1 && c2, "gemma3 ring: context: %s", err.message);
    if (c1 && c2 && decode_in_steps(c1, tokens, N, N, batch, n_vocab) && decode_in_steps(c2, tokens, N, 1, seq, n_vocab)) {
        float top = 1.0f;
        for (int i = 0; i < n_vocab; i++) top = fmaxf(top, fabsf(batch[i]));
        const float tol = 1e-4f * top;
        CHECK(max_diff(batch, seq, n_vocab) < tol, "gemma3 ring: batch vs token by token: %g", max_diff(batch, seq, n_vocab));

        /* hd 8 (32 / 4 heads), 2 K/V heads, K and V in f16: 64 bytes a position */
        const double per_pos = 2.0 * 8 * 2 * 2;
        const int ring = 4 + 32 - 1 + 32;
        CHECK(wl_context_kv_bytes(c1) == per_pos * (ring + N_CTX), "gemma3 ring: KV bytes %.0f, not %.0f",
              wl_context_kv_bytes(c1), per_pos * (ring + N_CTX));

        wl_context_truncate(c1, N - 10);
        CHECK(wl_context_pos(c1) == N - 10, "gemma3 ring: truncate 10 back kept %d", wl_context_pos(c1));
        CHECK(decode_in_steps(c1, tokens + N - 10, 10, 10, again, n_vocab), "re-decode");
        CHECK(max_diff(batch, again, n_vocab) < tol, "gemma3 ring: re-decode after a short truncate differs by %g",
              max_diff(batch, again, n_vocab));

        wl_context_truncate(c1, N / 2);
        CHECK(wl_context_pos(c1) == 0, "gemma3 ring: truncate past the ring kept %d positions", wl_context_pos(c1));
        CHECK(decode_in_steps(c1, tokens, N, 37, again, n_vocab), "decode again");
        CHECK(max_diff(batch, again, n_vocab) < tol, "gemma3 ring: recomputed sequence differs by %g",
              max_diff(batch, again, n_vocab));
    }
    wl_context_free(c1);
    wl_context_free(c2);
    free(batch); free(seq); free(again);
    unload(&l);
}

static void test_context_full(void) {
    wl_error err = {0};
    loaded l;
    if (load(&base_spec, &l, &err) != WL_OK) {
        CHECK(0, "load failed: %s", err.message);
        return;
    }
    wl_context *c = wl_context_new(l.model, 16, 1, WL_TYPE_F16, &err);
    CHECK(c != NULL, "context: %s", err.message);
    if (c) {
        int32_t toks[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
        CHECK(wl_decode(c, toks, 10, &err) == WL_OK, "decode 10: %s", err.message);
        CHECK(wl_decode(c, toks, 7, &err) == WL_ERR_CONTEXT_FULL, "7 more should not fit");
        CHECK(wl_context_pos(c) == 10, "a failed decode appended tokens (pos %d)", wl_context_pos(c));
        CHECK(wl_decode(c, toks, 6, &err) == WL_OK, "6 more fit exactly: %s", err.message);
        CHECK(wl_decode(c, toks, 1, &err) == WL_ERR_CONTEXT_FULL, "full context accepted a token");
        int32_t bad = 64;
        wl_context_truncate(c, 0);
        CHECK(wl_decode(c, &bad, 1, &err) == WL_ERR_BAD_ARG, "token outside the vocabulary accepted");
        CHECK(wl_context_n_ctx(c) == 16, "n_ctx");
    }
    wl_context_free(c);
    unload(&l);
}

static void test_load_errors(void) {
    wl_error err = {0};
    loaded l;
    tiny_spec s = base_spec;

    s.skip = "blk.1.ffn_down.weight";
    CHECK(load(&s, &l, &err) == WL_ERR_MISSING_TENSOR && strstr(err.message, "blk.1.ffn_down.weight"),
          "missing tensor: code %d '%s'", err.code, err.message);
    unload(&l);

    s = base_spec;
    s.skip_rms_eps = 1;
    CHECK(load(&s, &l, &err) == WL_ERR_MISSING_KEY && strstr(err.message, "layer_norm_rms_epsilon"),
          "missing key: code %d '%s'", err.code, err.message);
    unload(&l);

    s = base_spec;
    s.arch = "mamba";
    CHECK(load(&s, &l, &err) == WL_ERR_UNSUPPORTED_ARCH && strstr(err.message, "mamba") &&
              strstr(err.message, "llama"),
          "unknown arch: code %d '%s'", err.code, err.message);
    unload(&l);

    /* a wrong shape is reported with the tensor's name */
    s = base_spec;
    s.half_q = 1;
    CHECK(load(&s, &l, &err) == WL_ERR_MISSING_TENSOR && strstr(err.message, "blk.0.attn_q.weight"),
          "wrong shape: code %d '%s'", err.code, err.message);
    unload(&l);

    /* tied output: no output.weight, logits come from token_embd */
    s = base_spec;
    s.tied_output = 1;
    CHECK(load(&s, &l, &err) == WL_OK, "tied output: %s", err.message);
    if (l.model) {
        CHECK(wl_model_n_vocab(l.model) == 64 && wl_model_n_embd(l.model) == 32 &&
                  wl_model_n_layer(l.model) == 2 && wl_model_n_ctx_train(l.model) == 512,
              "hparams");
        /* embd 64*32 + norm 32 + 2 * (32 + 4*32*32... ) counted from the file */
        CHECK(wl_model_n_params(l.model) > 64 * 32, "n_params %g", wl_model_n_params(l.model));
    }
    unload(&l);
}

/* Final logits of `s` after decoding n tokens in one batch; 0 on failure. */
static int logits_of(const tiny_spec *s, const int32_t *tokens, int n, float *out) {
    wl_error err = {0};
    loaded l;
    int ok = 0;
    if (load(s, &l, &err) == WL_OK) {
        wl_context *c = wl_context_new(l.model, 64, 2, WL_TYPE_F16, &err);
        if (c && wl_decode(c, tokens, n, &err) == WL_OK) {
            memcpy(out, wl_context_logits(c), (size_t)wl_model_n_vocab(l.model) * sizeof(float));
            ok = 1;
        }
        wl_context_free(c);
    }
    if (!ok) fprintf(stderr, "%s: %s\n", s->arch, err.message);
    unload(&l);
    return ok;
}

/* A Q8_0 KV cache: refused for head dims that are not whole blocks, and on
 * a head dim of 32 it gives logits close to (but not the same as) F16's,
 * in a cache of 17/32 the bytes. */
static void test_q8_0_cache(void) {
    wl_error err = {0};
    loaded l;
    if (load(&base_spec, &l, &err) == WL_OK) {
        wl_context *c = wl_context_new(l.model, 16, 1, WL_TYPE_Q8_0, &err);
        CHECK(c == NULL && err.code == WL_ERR_BAD_ARG && strstr(err.message, "head dim is 8"),
              "Q8_0 cache with head dim 8: code %d '%s'", err.code, err.message);
        wl_context_free(c);
        c = wl_context_new(l.model, 16, 1, WL_TYPE_Q4_0, &err);
        CHECK(c == NULL && err.code == WL_ERR_BAD_ARG, "Q4_0 cache accepted");
        wl_context_free(c);
    }
    unload(&l);

    tiny_spec s = base_spec;
    s.head_dim = 32;
    if (load(&s, &l, &err) != WL_OK) {
        CHECK(0, "head dim 32: load failed: %s", err.message);
        return;
    }
    const int n_vocab = wl_model_n_vocab(l.model);
    int32_t toks[40];
    for (int i = 0; i < 40; i++) toks[i] = (i * 11 + 5) % n_vocab;
    float f16[64], q8[64];
    wl_context *a = wl_context_new(l.model, 48, 2, WL_TYPE_F16, &err);
    wl_context *b = wl_context_new(l.model, 48, 2, WL_TYPE_Q8_0, &err);
    CHECK(a && b, "contexts: %s", err.message);
    if (a && b && decode_in_steps(a, toks, 40, 40, f16, n_vocab) && decode_in_steps(b, toks, 40, 40, q8, n_vocab)) {
        CHECK(wl_context_kv_type(a) == WL_TYPE_F16 && wl_context_kv_type(b) == WL_TYPE_Q8_0, "kv types");
        CHECK(wl_context_kv_bytes(b) / wl_context_kv_bytes(a) == 17.0 / 32.0, "Q8_0 / F16 bytes %g",
              wl_context_kv_bytes(b) / wl_context_kv_bytes(a));
        float top = 0.0f;
        for (int i = 0; i < n_vocab; i++) top = fmaxf(top, fabsf(f16[i]));
        const float d = max_diff(f16, q8, n_vocab);
        CHECK(d > 0.0f && d < 0.03f * top, "Q8_0 vs F16 cache logits differ by %g (|max| %g)", d, top);
    }
    wl_context_free(a);
    wl_context_free(b);
    unload(&l);
}

/* The per-architecture features really change the computation. */
static void test_features_matter(void) {
    int32_t toks[12];
    for (int i = 0; i < 12; i++) toks[i] = (i * 5 + 1) % 64;
    float a[64], b[64];

    tiny_spec narrow = arch_spec("gemma2"), wide = arch_spec("gemma2");
    wide.sliding_window = 1000;
    CHECK(logits_of(&narrow, toks, 12, a) && logits_of(&wide, toks, 12, b) && max_diff(a, b, 64) > 1e-3f,
          "gemma2: a 4-token window did not change the logits");
    /* with the prompt inside the window, SWA changes nothing */
    CHECK(logits_of(&narrow, toks, 4, a) && logits_of(&wide, toks, 4, b) && max_diff(a, b, 64) < 1e-6f,
          "gemma2: a window larger than the prompt changed the logits");

    tiny_spec smol = arch_spec("smollm3"), llama4 = base_spec;
    llama4.n_layer = 4;
    CHECK(logits_of(&smol, toks, 12, a) && logits_of(&llama4, toks, 12, b) && max_diff(a, b, 64) > 1e-3f,
          "smollm3: skipping RoPE on layer 3 changed nothing");

    tiny_spec granite = arch_spec("granite"), llama = base_spec;
    CHECK(logits_of(&granite, toks, 12, a) && logits_of(&llama, toks, 12, b) && max_diff(a, b, 64) > 1e-3f,
          "granite: the scalar multipliers changed nothing");

    /* required per-architecture tensors are enforced */
    wl_error err = {0};
    loaded l;
    tiny_spec q2 = arch_spec("qwen2");
    q2.skip = "blk.0.attn_k.bias";
    CHECK(load(&q2, &l, &err) == WL_ERR_MISSING_TENSOR && strstr(err.message, "blk.0.attn_k.bias"),
          "qwen2 without a bias: code %d '%s'", err.code, err.message);
    unload(&l);
    tiny_spec q3 = arch_spec("qwen3");
    q3.skip = "blk.1.attn_q_norm.weight";
    CHECK(load(&q3, &l, &err) == WL_ERR_MISSING_TENSOR && strstr(err.message, "attn_q_norm"),
          "qwen3 without q norm: code %d '%s'", err.code, err.message);
    unload(&l);
    tiny_spec gr = arch_spec("granite");
    gr.granite_keys = 0;
    CHECK(load(&gr, &l, &err) == WL_ERR_MISSING_KEY && strstr(err.message, "granite.logit_scale"),
          "granite without logit_scale: code %d '%s'", err.code, err.message);
    unload(&l);
}

static wl_status open_bytes(uint8_t *bytes, size_t len, loaded *out, wl_error *err) {
    memset(out, 0, sizeof *out);
    out->bytes = bytes;
    const uint8_t *shards[1] = { bytes };
    double lens[1] = { (double)len };
    out->file = wl_file_open(shards, lens, 1, 0, err);
    if (!out->file) return err->code;
    out->model = wl_model_load(out->file, err);
    return out->model ? WL_OK : err->code;
}

static float l2(const float *x, int n) {
    double s = 0.0;
    for (int i = 0; i < n; i++) s += (double)x[i] * x[i];
    return (float)sqrt(s);
}

/* A reranker (pooling_type 4, rank) would load as an embedding model and
 * return vectors where the caller expects relevance scores: refused. */
static void test_reranker_refused(void) {
    wl_error err = {0};
    loaded l;
    size_t len;
    uint8_t *bytes = build_tiny_encoder("bert", 4, &len);
    wl_status st = open_bytes(bytes, len, &l, &err);
    CHECK(st == WL_ERR_UNSUPPORTED_ARCH && strstr(err.message, "pooling_type") && strstr(err.message, "rerank"),
          "reranker: code %d '%s'", st, err.message);
    unload(&l);
}

/* Encoders attend both ways: the first token's state depends on the last
 * token; decoders' does not. Pooling and normalization do what they say. */
static void test_embeddings(const char *arch) {
    wl_error err = {0};
    loaded l;
    size_t len;
    uint8_t *bytes = build_tiny_encoder(arch, 1, &len);
    if (open_bytes(bytes, len, &l, &err) != WL_OK) {
        CHECK(0, "%s: load failed: %s", arch, err.message);
        unload(&l);
        return;
    }
    CHECK(wl_model_is_encoder(l.model) && wl_model_pooling(l.model) == 1, "%s: encoder flags", arch);
    wl_context *c = wl_context_new(l.model, 16, 2, WL_TYPE_F16, &err);
    CHECK(c != NULL, "%s: context: %s", arch, err.message);
    if (c) {
        int32_t a[6] = {1, 5, 9, 13, 17, 2}, b[6] = {1, 5, 9, 13, 17, 3};
        float cls_a[32], cls_b[32], mean_a[32], mean_a2[32], last_a[32], unit[32];
        CHECK(wl_embed(c, a, 6, 2, 0, cls_a, &err) == WL_OK, "%s: embed: %s", arch, err.message);
        CHECK(wl_embed(c, b, 6, 2, 0, cls_b, &err) == WL_OK, "%s: embed: %s", arch, err.message);
        CHECK(max_diff(cls_a, cls_b, 32) > 1e-4f, "%s: the first token does not see the last one", arch);
        CHECK(wl_embed(c, a, 6, -1, 0, mean_a, &err) == WL_OK && wl_embed(c, a, 6, 1, 0, mean_a2, &err) == WL_OK,
              "%s: mean: %s", arch, err.message);
        CHECK(max_diff(mean_a, mean_a2, 32) == 0.0f, "%s: default pooling is not the model's mean, or a repeat differs", arch);
        CHECK(wl_embed(c, a, 6, 3, 0, last_a, &err) == WL_OK, "%s: last: %s", arch, err.message);
        CHECK(max_diff(mean_a, last_a, 32) > 1e-4f && max_diff(mean_a, cls_a, 32) > 1e-4f, "%s: poolings agree", arch);
        CHECK(wl_embed(c, a, 6, 1, 1, unit, &err) == WL_OK && fabsf(l2(unit, 32) - 1.0f) < 1e-5f,
              "%s: normalized length %g", arch, l2(unit, 32));
        const float scale = l2(mean_a, 32);
        for (int i = 0; i < 32; i++) unit[i] *= scale;
        CHECK(max_diff(unit, mean_a, 32) < 1e-4f, "%s: normalizing changed the direction", arch);
        CHECK(wl_decode(c, a, 6, &err) == WL_ERR_BAD_ARG, "%s: wl_decode accepted an encoder", arch);
        int32_t many[17] = {0};
        CHECK(wl_embed(c, many, 17, 1, 0, unit, &err) == WL_ERR_CONTEXT_FULL, "%s: 17 tokens in 16", arch);
        CHECK(wl_embed(c, a, 6, 0, 0, unit, &err) == WL_ERR_BAD_ARG, "%s: pooling 0 accepted", arch);
    }
    wl_context_free(c);
    unload(&l);
}

static void test_decoder_embeddings(void) {
    wl_error err = {0};
    loaded l;
    if (load(&base_spec, &l, &err) != WL_OK) {
        CHECK(0, "load: %s", err.message);
        return;
    }
    wl_context *c = wl_context_new(l.model, 32, 2, WL_TYPE_F16, &err);
    if (c) {
        int32_t a[5] = {1, 5, 9, 13, 17}, b[5] = {1, 5, 9, 13, 18};
        float ea[32], eb[32];
        /* causal: the first token's state ignores what follows */
        CHECK(wl_embed(c, a, 5, 2, 0, ea, &err) == WL_OK && wl_embed(c, b, 5, 2, 0, eb, &err) == WL_OK &&
                  max_diff(ea, eb, 32) == 0.0f,
              "decoder: first-token embedding depends on later tokens");
        CHECK(wl_embed(c, a, 5, -1, 0, ea, &err) == WL_OK && wl_embed(c, b, 5, -1, 0, eb, &err) == WL_OK &&
                  max_diff(ea, eb, 32) > 1e-4f,
              "decoder: last-token embedding ignores the last token");
        /* the embedded tokens stay in the cache; decoding can go on after a truncate */
        CHECK(wl_context_pos(c) == 5, "pos after embed: %d", wl_context_pos(c));
        wl_context_truncate(c, 0);
        CHECK(wl_decode(c, a, 5, &err) == WL_OK && wl_context_pos(c) == 5, "decode after embed: %s", err.message);
    }
    wl_context_free(c);
    unload(&l);
}

/* ---- several sequences in one wl_decode_batch ---- */

#define BATCH_SEQS 4

/* Token i of sequence q's stream. */
static int32_t stream_token(int q, int i, int n_vocab) { return (int32_t)((q * 13 + i * 7 + 3) % n_vocab); }

/* Each step gives sequence q counts[q] tokens (0: q sits the step out), in
 * the order `order`; the first one listed leads (its threads and scratch).
 * Every sequence's logits after every step must equal, bit for bit, those
 * of a context that decoded the same tokens alone with wl_decode. */
static void test_decode_batch(const tiny_spec *s, int n_threads) {
    static const int steps[][2][BATCH_SEQS] = {
        { { 40, 5, 1, 0 }, { 0, 1, 2, 3 } },   /* a prompt longer than a piece, a short one, a token */
        { { 1, 1, 33, 7 }, { 3, 2, 1, 0 } },   /* decode tokens beside new prompts */
        { { 1, 1, 1, 1 }, { 2, 0, 3, 1 } },    /* four decode steps, leads taking turns */
        { { 1, 1, 1, 1 }, { 1, 3, 0, 2 } },
        { { 1, 0, 1, 1 }, { 0, 1, 2, 3 } },
        { { 3, 1, 1, 30 }, { 3, 0, 1, 2 } },
    };
    wl_error err = {0};
    loaded l;
    if (!load_checked(s, &l)) return;
    const int n_vocab = wl_model_n_vocab(l.model);
    const int kv = s->kv_type ? s->kv_type : WL_TYPE_F16;
    wl_context *batch[BATCH_SEQS], *alone[BATCH_SEQS];
    int used[BATCH_SEQS] = { 0 }, ok = 1;
    for (int q = 0; q < BATCH_SEQS; q++) {
        batch[q] = wl_context_new(l.model, 128, n_threads, kv, &err);
        alone[q] = wl_context_new(l.model, 128, n_threads, kv, &err);
        ok &= batch[q] && alone[q];
    }
    CHECK(ok, "%s: context: %s", s->arch, err.message);
    for (size_t st = 0; ok && st < sizeof steps / sizeof steps[0]; st++) {
        wl_context *ctxs[BATCH_SEQS];
        int32_t tokens[128];
        int counts[BATCH_SEQS], n_seq = 0, n_all = 0;
        for (int o = 0; o < BATCH_SEQS; o++) {
            const int q = steps[st][1][o], n = steps[st][0][q];
            if (n == 0) continue;
            ctxs[n_seq] = batch[q];
            counts[n_seq++] = n;
            for (int i = 0; i < n; i++) tokens[n_all + i] = stream_token(q, used[q] + i, n_vocab);
            CHECK(wl_decode(alone[q], tokens + n_all, n, &err) == WL_OK, "%s: decode: %s", s->arch, err.message);
            n_all += n;
        }
        ok = wl_decode_batch(ctxs, tokens, counts, n_seq, &err) == WL_OK;
        CHECK(ok, "%s: step %zu: wl_decode_batch: %s", s->arch, st, err.message);
        for (int q = 0; ok && q < BATCH_SEQS; q++) {
            used[q] += steps[st][0][q];
            CHECK(wl_context_pos(batch[q]) == used[q], "%s: step %zu: sequence %d at %d, not %d", s->arch, st, q,
                  wl_context_pos(batch[q]), used[q]);
            if (used[q] == 0) continue;
            const float *a = wl_context_logits(batch[q]), *b = wl_context_logits(alone[q]);
            CHECK(memcmp(a, b, (size_t)n_vocab * sizeof(float)) == 0,
                  "%s (type %d, %d threads): step %zu: sequence %d's logits differ from decoding it alone by %g",
                  s->arch, (int)s->wtype, n_threads, st, q, max_diff(a, b, n_vocab));
        }
    }
    if (ok) {
        /* refused as a whole: nothing appended to any sequence */
        int32_t tokens[160] = { 0 };
        int counts[2] = { 1, 1 };
        wl_context *twice[2] = { batch[0], batch[0] };
        CHECK(wl_decode_batch(twice, tokens, counts, 2, &err) == WL_ERR_BAD_ARG, "%s: a context twice", s->arch);
        wl_context *pair[2] = { batch[0], batch[1] };
        counts[1] = 128 - used[1] + 1;
        CHECK(wl_decode_batch(pair, tokens, counts, 2, &err) == WL_ERR_CONTEXT_FULL, "%s: overflow", s->arch);
        counts[1] = 1;
        tokens[1] = n_vocab;
        CHECK(wl_decode_batch(pair, tokens, counts, 2, &err) == WL_ERR_BAD_ARG, "%s: bad token", s->arch);
        tokens[1] = 0;
        counts[1] = 0;
        CHECK(wl_decode_batch(pair, tokens, counts, 2, &err) == WL_ERR_BAD_ARG, "%s: no tokens", s->arch);
        CHECK(wl_decode_batch(pair, tokens, counts, 0, &err) == WL_ERR_BAD_ARG, "%s: no sequences", s->arch);
        CHECK(wl_context_pos(batch[0]) == used[0] && wl_context_pos(batch[1]) == used[1],
              "%s: a refused batch appended tokens", s->arch);
        /* another cache type, where the head dims allow Q8_0 */
        wl_context *other = wl_context_new(l.model, 16, 1, kv == WL_TYPE_F16 ? WL_TYPE_Q8_0 : WL_TYPE_F16, &err);
        if (other) {
            wl_context *mixed[2] = { batch[0], other };
            counts[1] = 1;
            CHECK(wl_decode_batch(mixed, tokens, counts, 2, &err) == WL_ERR_BAD_ARG, "%s: mixed KV types", s->arch);
            wl_context_free(other);
        }
    }
    for (int q = 0; q < BATCH_SEQS; q++) {
        wl_context_free(batch[q]);
        wl_context_free(alone[q]);
    }
    unload(&l);
}

/* wl_decode_all after a prefix: row i of its logits equals, bit for bit,
 * the logits of a context fed the same tokens one at a time. */
static void test_decode_all(const tiny_spec *s, int n_threads) {
    enum { PREFIX = 5, N = 40 }; /* more than one 32-token chunk */
    loaded l;
    if (!load_checked(s, &l)) return;
    wl_error err = {0};
    const int n_vocab = wl_model_n_vocab(l.model);
    const int kv = s->kv_type ? s->kv_type : WL_TYPE_F16;
    wl_context *all = wl_context_new(l.model, 64, n_threads, kv, &err);
    wl_context *one = wl_context_new(l.model, 64, n_threads, kv, &err);
    CHECK(all && one, "%s: context: %s", s->arch, err.message);
    int32_t tokens[PREFIX + N];
    for (int i = 0; i < PREFIX + N; i++) tokens[i] = stream_token(1, i, n_vocab);
    if (all && one && wl_decode(all, tokens, PREFIX, &err) == WL_OK && wl_decode(one, tokens, PREFIX, &err) == WL_OK) {
        CHECK(wl_context_logits_all(all) == NULL, "%s: logits_all before wl_decode_all", s->arch);
        CHECK(wl_decode_all(all, tokens + PREFIX, N, &err) == WL_OK, "%s: wl_decode_all: %s", s->arch, err.message);
        const float *rows = wl_context_logits_all(all);
        CHECK(rows != NULL, "%s: no logits_all", s->arch);
        for (int i = 0; rows && i < N; i++) {
            CHECK(wl_decode(one, tokens + PREFIX + i, 1, &err) == WL_OK, "%s: decode: %s", s->arch, err.message);
            const float *want = wl_context_logits(one);
            CHECK(memcmp(rows + (size_t)i * n_vocab, want, (size_t)n_vocab * sizeof(float)) == 0,
                  "%s (type %d): logits of token %d differ from decoding one at a time by %g", s->arch,
                  (int)s->wtype, i, max_diff(rows + (size_t)i * n_vocab, want, n_vocab));
        }
        if (rows) {
            CHECK(memcmp(wl_context_logits(all), rows + (size_t)(N - 1) * n_vocab, (size_t)n_vocab * sizeof(float)) == 0,
                  "%s: wl_context_logits is not the last row", s->arch);
        }
        CHECK(wl_context_pos(all) == PREFIX + N, "%s: pos %d", s->arch, wl_context_pos(all));
        CHECK(wl_decode_all(all, tokens, 64, &err) == WL_ERR_CONTEXT_FULL, "%s: overflow accepted", s->arch);
        CHECK(wl_decode(all, tokens, 1, &err) == WL_OK && wl_context_logits_all(all) == NULL,
              "%s: logits_all still offered after wl_decode", s->arch);
    }
    wl_context_free(all);
    wl_context_free(one);
    unload(&l);
}

int main(void) {
    test_batch_equals_sequential(&base_spec, 10, 64, 2);
    /* several chunks (WL_MAX_CHUNK = 32) */
    test_batch_equals_sequential(&base_spec, 300, 320, 3);
    tiny_spec f16 = base_spec;
    f16.wtype = WL_TYPE_F16;
    f16.tied_output = 1;
    test_batch_equals_sequential(&f16, 20, 32, 2);
    static const char *const archs[] = {
        "qwen2", "qwen3", "gemma", "gemma2", "gemma3", "phi3", "smollm3", "granite",
    };
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++) {
        tiny_spec s = arch_spec(archs[i]);
        test_batch_equals_sequential(&s, 20, 48, 3);
        s.wtype = WL_TYPE_F16;
        test_batch_equals_sequential(&s, 9, 16, 2);
    }
    /* Q8_0 KV cache: chunks, threads and truncation agree as with F16 */
    tiny_spec q8 = base_spec;
    q8.head_dim = 32;
    q8.kv_type = WL_TYPE_Q8_0;
    test_batch_equals_sequential(&q8, 300, 320, 3);
    test_q8_0_cache();
    /* batches: dense and MoE layers, float and quantized weights, a Q8_0 cache, 1 and 3 threads */
    test_decode_batch(&base_spec, 1);
    test_decode_batch(&base_spec, 3);
    const tiny_spec q4 = quantized(base_spec, WL_TYPE_Q4_0);
    test_decode_batch(&q4, 2);
    tiny_spec q8w = quantized(base_spec, WL_TYPE_Q8_0);
    q8w.kv_type = WL_TYPE_Q8_0;
    q8w.head_dim = 32;
    test_decode_batch(&q8w, 2);
    const tiny_spec moe = arch_spec("qwen3moe"), moe_q4 = quantized(moe, WL_TYPE_Q4_0);
    test_decode_batch(&moe, 1);
    test_decode_batch(&moe, 2);
    test_decode_batch(&moe_q4, 2);
    const tiny_spec g2 = arch_spec("gemma2");
    test_decode_batch(&g2, 2);
    /* hybrids: convolution state per sequence; lfm2moe's experts with their bias */
    const tiny_spec lfm2 = arch_spec("lfm2"), lfm2moe = arch_spec("lfm2moe");
    test_decode_batch(&lfm2, 1);
    test_decode_batch(&lfm2, 2);
    test_decode_batch(&lfm2moe, 2);
    const tiny_spec lfm2moe_q4 = quantized(lfm2moe, WL_TYPE_Q4_0);
    test_decode_batch(&lfm2moe_q4, 3);
    test_batch_equals_sequential(&lfm2moe, 20, 48, 2);
    test_sliding_window_ring(1);
    test_sliding_window_ring(3);
    /* Mamba-2 state per sequence (and attention beside it): a batch's rows continue their own
     * sequence's scan, chunks and threads agree, a truncate starts the scan over */
    const tiny_spec fh = arch_spec("falcon-h1"), fh_q8 = quantized(fh, WL_TYPE_Q8_0);
    test_batch_equals_sequential(&fh, 40, 64, 3);
    test_decode_batch(&fh, 1);
    test_decode_batch(&fh, 2);
    test_decode_batch(&fh_q8, 2);
    test_decode_all(&base_spec, 2);
    test_decode_all(&q8w, 1);
    test_decode_all(&moe_q4, 2);
    test_decode_all(&g2, 1);
    test_features_matter();
    test_embeddings("bert");
    test_embeddings("nomic-bert");
    test_reranker_refused();
    test_decoder_embeddings();
    test_context_full();
    test_load_errors();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("test_model: ok\n");
    return 0;
}
