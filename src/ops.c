#include "ops.h"

#include <math.h>
#include <string.h>

#include "fp16.h"
#include "types.h"
#ifdef __wasm_simd128__
#include "quant_simd.h"
#endif

void wl_rmsnorm(float *out, const float *x, const float *w, int n, float eps) {
    /* ggml: squares in float, summed in double; mean and scale in float. */
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * x[i]);
    const float mean = (float)(sum / n);
    const float scale = 1.0f / sqrtf(mean + eps);
    if (w) {
        for (int i = 0; i < n; i++) out[i] = (x[i] * scale) * w[i];
    } else {
        for (int i = 0; i < n; i++) out[i] = x[i] * scale;
    }
}

void wl_layernorm(float *out, const float *x, const float *w, const float *b, int n, float eps) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)x[i];
    const float mean = (float)(sum / n);
    double sum2 = 0.0;
    for (int i = 0; i < n; i++) {
        const float d = x[i] - mean;
        out[i] = d;
        sum2 += (double)(d * d);
    }
    const float variance = (float)(sum2 / n);
    const float scale = 1.0f / sqrtf(variance + eps);
    for (int i = 0; i < n; i++) {
        float y = out[i] * scale;
        if (w) y *= w[i];
        if (b) y += b[i];
        out[i] = y;
    }
}

/* YaRN: the band of dimensions that blends interpolated and extrapolated
 * angles (ggml_rope_yarn_corr_dims). */
static float yarn_corr_dim(int n_rot, int n_ctx_orig, float n_rotations, float base) {
    return n_rot * logf((float)n_ctx_orig / (n_rotations * 2.0f * 3.14159265358979323846f)) / (2.0f * logf(base));
}

static float yarn_ramp(float low, float high, int i0) {
    const float y = (i0 / 2 - low) / fmaxf(0.001f, high - low);
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

void wl_rope_cache(float *cs, int n_rot, int pos, float base, float freq_scale,
                   const float *freq_factors, const wl_yarn *yarn) {
    const float theta_scale = powf(base, -2.0f / (float)n_rot);
    float corr[2] = { 0.0f, 0.0f };
    float ext_factor = yarn ? yarn->ext_factor : 0.0f;
    float mscale0 = yarn ? yarn->attn_factor : 1.0f;
    if (ext_factor != 0.0f) {
        float start = floorf(yarn_corr_dim(n_rot, yarn->n_ctx_orig, yarn->beta_fast, base));
        float end = ceilf(yarn_corr_dim(n_rot, yarn->n_ctx_orig, yarn->beta_slow, base));
        corr[0] = fmaxf(0.0f, start);
        corr[1] = fminf((float)(n_rot - 1), end);
    }
    /* ggml advances theta by repeated multiplication; we do the same so the
     * float rounding (and so the angles) are identical. */
    float theta = (float)pos;
    for (int i0 = 0; i0 < n_rot; i0 += 2) {
        const float ff = freq_factors ? freq_factors[i0 / 2] : 1.0f;
        const float theta_extrap = theta / ff;
        const float theta_interp = freq_scale * theta_extrap;
        float t = theta_interp;
        float mscale = mscale0;
        if (ext_factor != 0.0f) {
            const float mix = yarn_ramp(corr[0], corr[1], i0) * ext_factor;
            t = theta_interp * (1.0f - mix) + theta_extrap * mix;
            mscale *= 1.0f + 0.1f * logf(1.0f / freq_scale);
        }
        cs[i0] = cosf(t) * mscale;
        cs[i0 + 1] = sinf(t) * mscale;
        theta *= theta_scale;
    }
}

void wl_rope_apply(float *x, int n_heads, int head_dim, int n_rot, const float *cs,
                   wl_rope_mode mode) {
    const int half = n_rot / 2;
    for (int h = 0; h < n_heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int i0 = 0; i0 < n_rot; i0 += 2) {
            const float c = cs[i0], s = cs[i0 + 1];
            /* NORMAL rotates neighbours, NEOX pairs dim i with dim i + n_rot/2. */
            const int a = mode == WL_ROPE_NEOX ? i0 / 2 : i0;
            const int b = mode == WL_ROPE_NEOX ? i0 / 2 + half : i0 + 1;
            const float x0 = v[a], x1 = v[b];
            v[a] = x0 * c - x1 * s;
            v[b] = x0 * s + x1 * c;
        }
    }
}

void wl_softmax(float *x, int n) {
    float mx = -INFINITY;
    for (int i = 0; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        x[i] = expf(x[i] - mx);
        sum += x[i];
    }
    const float inv = (float)(1.0 / sum);
    for (int i = 0; i < n; i++) x[i] *= inv;
}

void wl_softcap(float *x, int n, float cap) {
    /* ggml: scale by 1/cap, tanh, scale by cap (a multiply, not a divide) */
    const float inv = 1.0f / cap;
    for (int i = 0; i < n; i++) x[i] = tanhf(x[i] * inv) * cap;
}

float wl_silu(float x) {
    return x / (1.0f + expf(-x));
}

static float f16_round(float x) {
    const wl_type_traits *f16 = wl_type_get(WL_TYPE_F16);
    uint16_t h;
    float y;
    f16->from_float(&x, &h, 1);
    f16->to_float(&h, &y, 1);
    return y;
}

float wl_gelu(float x) {
    /* ggml reads GELU from a table indexed by x as f16 and stores f16 results,
     * saturating outside [-10, 10]. */
    if (x <= -10.0f) return 0.0f;
    if (x >= 10.0f) return x;
    const float xh = f16_round(x);
    const float y = 0.5f * xh * (1.0f + tanhf(0.79788456080286535587989211986876f * xh *
                                              (1.0f + 0.044715f * xh * xh)));
    return f16_round(y);
}

static float activate(float x, wl_activation act) {
    return act == WL_ACT_GELU ? wl_gelu(x) : wl_silu(x);
}

void wl_gated_act(float *out, const float *gate, const float *up, int n, wl_activation act) {
    for (int i = 0; i < n; i++) out[i] = activate(gate[i], act) * up[i];
}

void wl_act_inplace(float *x, int n, wl_activation act) {
    for (int i = 0; i < n; i++) x[i] = activate(x[i], act);
}

void wl_add(float *x, const float *y, int n) {
    for (int i = 0; i < n; i++) x[i] += y[i];
}

void wl_add_scaled(float *x, const float *y, float s, int n) {
    for (int i = 0; i < n; i++) x[i] += s * y[i];
}

void wl_scale(float *x, float s, int n) {
    for (int i = 0; i < n; i++) x[i] *= s;
}

/* x rounded to the nearest f16 value (ties to even), kept as a float:
 * normals drop 13 mantissa bits with ties to even; below 2^-14 adding 0.5
 * to |x| makes the FPU round to the f16 subnormal step 2^-24; from 65520
 * on it is infinite. Only IEEE float and integer ops, so the SIMD version
 * below gives the same bits. */
static inline float round_f16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    const uint32_t a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return x; /* NaN */
    if (a >= 0x477ff000u) {
        u = (u & 0x80000000u) | 0x7f800000u;
    } else if (a < 0x38800000u) {
        float m;
        memcpy(&m, &a, 4);
        m = (m + 0.5f) - 0.5f;
        uint32_t mu;
        memcpy(&mu, &m, 4);
        u = mu | (u & 0x80000000u);
    } else {
        u += 0xfffu + ((u >> 13) & 1u);
        u &= ~0x1fffu;
    }
    memcpy(&x, &u, 4);
    return x;
}

void wl_f16_acc_mad_ref(float *acc, const uint16_t *v, float s, int n) {
    for (int i = 0; i < n; i++) acc[i] = round_f16(acc[i] + wl_fp16_to_fp32(v[i]) * s);
}

void wl_f16_acc_scale_ref(float *acc, float s, int n) {
    for (int i = 0; i < n; i++) acc[i] = round_f16(acc[i] * s);
}

#ifdef __wasm_simd128__
static inline v128_t round_f16x4(v128_t x) {
    const v128_t a = wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff));
    const v128_t sign = wasm_v128_and(x, wasm_i32x4_splat((int32_t)0x80000000u));
    /* normal range */
    v128_t odd = wasm_v128_and(wasm_u32x4_shr(x, 13), wasm_i32x4_splat(1));
    v128_t normal = wasm_i32x4_add(x, wasm_i32x4_add(wasm_i32x4_splat(0xfff), odd));
    normal = wasm_v128_and(normal, wasm_i32x4_splat(~0x1fff));
    /* subnormal range: (|x| + 0.5) - 0.5, sign put back (zero keeps its own bits) */
    v128_t sub = wasm_f32x4_sub(wasm_f32x4_add(a, wasm_f32x4_splat(0.5f)), wasm_f32x4_splat(0.5f));
    sub = wasm_v128_or(sub, sign);
    const v128_t is_sub = wasm_u32x4_lt(a, wasm_i32x4_splat(0x38800000));
    v128_t r = wasm_v128_bitselect(sub, normal, is_sub);
    /* overflow to infinity; NaN unchanged */
    const v128_t inf = wasm_v128_or(sign, wasm_i32x4_splat(0x7f800000));
    r = wasm_v128_bitselect(inf, r, wasm_u32x4_ge(a, wasm_i32x4_splat(0x477ff000)));
    return wasm_v128_bitselect(x, r, wasm_u32x4_gt(a, wasm_i32x4_splat(0x7f800000)));
}
#endif

#ifdef __wasm_simd128__
/* Lanes whose magnitude is in f16's normal range, where rounding is only
 * the mantissa step of round_f16x4 (no subnormal, overflow or NaN case). */
static inline v128_t f16_normal_lanes(v128_t x) {
    const v128_t a = wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff));
    return wasm_u32x4_lt(wasm_i32x4_sub(a, wasm_i32x4_splat(0x38800000)),
                         wasm_i32x4_splat(0x477ff000 - 0x38800000));
}

static inline v128_t round_f16x4_normal(v128_t x) {
    v128_t odd = wasm_v128_and(wasm_u32x4_shr(x, 13), wasm_i32x4_splat(1));
    v128_t r = wasm_i32x4_add(x, wasm_i32x4_add(wasm_i32x4_splat(0xfff), odd));
    return wasm_v128_and(r, wasm_i32x4_splat(~0x1fff));
}
#endif

void wl_f16_acc_mad(float *acc, const uint16_t *v, float s, int n) {
#ifdef __wasm_simd128__
    const v128_t vs = wasm_f32x4_splat(s);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t lo, hi;
        wl_fp16x8_to_f32x4x2(wasm_v128_load(v + i), &lo, &hi);
        const v128_t a0 = wasm_f32x4_add(wasm_v128_load(acc + i), wasm_f32x4_mul(lo, vs));
        const v128_t a1 = wasm_f32x4_add(wasm_v128_load(acc + i + 4), wasm_f32x4_mul(hi, vs));
        /* nearly every update stays in the normal range: round cheaply */
        if (wasm_i32x4_all_true(wasm_v128_and(f16_normal_lanes(a0), f16_normal_lanes(a1)))) {
            wasm_v128_store(acc + i, round_f16x4_normal(a0));
            wasm_v128_store(acc + i + 4, round_f16x4_normal(a1));
        } else {
            wasm_v128_store(acc + i, round_f16x4(a0));
            wasm_v128_store(acc + i + 4, round_f16x4(a1));
        }
    }
    wl_f16_acc_mad_ref(acc + i, v + i, s, n - i);
#else
    wl_f16_acc_mad_ref(acc, v, s, n);
#endif
}

void wl_f16_acc_scale(float *acc, float s, int n) {
#ifdef __wasm_simd128__
    const v128_t vs = wasm_f32x4_splat(s);
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        wasm_v128_store(acc + i, round_f16x4(wasm_f32x4_mul(wasm_v128_load(acc + i), vs)));
    }
    wl_f16_acc_scale_ref(acc + i, s, n - i);
#else
    wl_f16_acc_scale_ref(acc, s, n);
#endif
}

float wl_f16_dot_f32_ref(const uint16_t *k, const float *q, int n) {
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(wl_fp16_to_fp32(k[i]) * q[i]);
    return (float)sum;
}

/* f16_dot_f16's lanes and order with one side already in floats, so an
 * attention score costs one conversion per element instead of two. */
float wl_f16_dot_f32(const uint16_t *k, const float *q, int n) {
#ifdef __wasm_simd128__
    v128_t acc0 = wasm_f32x4_splat(0), acc1 = wasm_f32x4_splat(0);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t kl, kh;
        wl_fp16x8_to_f32x4x2(wasm_v128_load(k + i), &kl, &kh);
        acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(kl, wasm_v128_load(q + i)));
        acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(kh, wasm_v128_load(q + i + 4)));
    }
    float sum = wl_hsum_f32x4(wasm_f32x4_add(acc0, acc1));
    for (; i < n; i++) sum += wl_fp16_to_fp32(k[i]) * q[i];
    return sum;
#else
    return wl_f16_dot_f32_ref(k, q, n);
#endif
}

/* Floats of scratch that q in K's vec_dot_type takes. */
static int64_t q_enc_floats(wl_type k_type, int head_dim_k) {
    return ((int64_t)wl_row_size(wl_type_get(k_type)->vec_dot_type, head_dim_k) + 3) / 4;
}

int64_t wl_attend_scratch_floats(wl_type k_type, wl_type v_type, int head_dim_k, int head_dim_v) {
    const int64_t q_floats = q_enc_floats(k_type, head_dim_k);
    /* an F16 K also keeps q's f16 values as floats */
    const int64_t q32_floats = k_type == WL_TYPE_F16 ? head_dim_k : 0;
    const int64_t v_floats = v_type == WL_TYPE_F16 ? 0 : head_dim_v;
    return v_floats + q_floats + q32_floats;
}

/* q . k_j, scaled (and soft-capped) as ggml does. An F16 K row is dotted
 * with q32 (q's f16 values as floats, converted once per head); other
 * types go through K's vec_dot with q_enc. */
static float attn_score(const wl_attn_head *h, wl_vec_dot_fn dot, const void *q_enc, const float *q32, int j) {
    const uint8_t *row = (const uint8_t *)h->k + (size_t)j * h->k_stride;
    float s;
    if (q32) s = wl_f16_dot_f32((const uint16_t *)row, q32, h->head_dim_k);
    else dot(h->head_dim_k, &s, row, q_enc);
    if (h->softcap != 0.0f) return h->softcap * tanhf(s * (h->scale / h->softcap));
    return s * h->scale;
}

/* acc *= ms when a new maximum score appears: ggml rescales an f16
 * accumulator in f16 and an f32 one in f32. */
static void acc_rescale(const wl_attn_head *h, float *acc, float ms) {
    if (h->v_type == WL_TYPE_F16) wl_f16_acc_scale(acc, ms, h->head_dim_v);
    else wl_scale(acc, ms, h->head_dim_v);
}

/* acc += vs * V row j: f16 rows straight into the f16 accumulator; other
 * types dequantized into v32 first, then added in f32. */
static void acc_add_row(const wl_attn_head *h, const wl_type_traits *vt, float *acc, int j,
                        float vs, float *v32) {
    const uint8_t *row = (const uint8_t *)h->v + (size_t)j * h->v_stride;
    if (h->v_type == WL_TYPE_F16) {
        wl_f16_acc_mad(acc, (const uint16_t *)row, vs, h->head_dim_v);
        return;
    }
    vt->to_float(row, v32, h->head_dim_v);
    wl_add_scaled(acc, v32, vs, h->head_dim_v);
}

void wl_attend(const wl_attn_head *h, const float *q, int kv_lo, int kv_hi, float *out,
               float *scratch) {
    const wl_type_traits *kt = wl_type_get(h->k_type);
    const wl_type_traits *vt = wl_type_get(h->v_type);
    const int dv = h->head_dim_v;
    float *v32 = scratch; /* unused for an F16 V */
    void *q_enc = scratch + (h->v_type == WL_TYPE_F16 ? 0 : dv);
    float *q32 = NULL;
    /* Mirroring ggml's rounding (q in K's dot encoding, f16 V accumulator
     * rounded after every update) is what keeps greedy tokens equal to
     * llama.cpp's on quantized models, where one flipped int8 rounding
     * changes the answer. */
    const wl_type_traits *qt = wl_type_get(kt->vec_dot_type);
    qt->from_float(q, q_enc, h->head_dim_k);
    if (h->k_type == WL_TYPE_F16) {
        q32 = (float *)q_enc + q_enc_floats(h->k_type, h->head_dim_k);
        qt->to_float(q_enc, q32, h->head_dim_k);
    }
    float M = -INFINITY, S = 0.0f;
    for (int d = 0; d < dv; d++) out[d] = 0.0f;
    for (int j = kv_lo; j < kv_hi; j++) {
        const float s = attn_score(h, kt->vec_dot, q_enc, q32, j);
        float ms = 1.0f, vs = 1.0f;
        if (s > M) {
            const float m_old = M;
            M = s;
            ms = expf(m_old - M);
            acc_rescale(h, out, ms);
        } else {
            vs = expf(s - M);
        }
        acc_add_row(h, vt, out, j, vs, v32);
        S = S * ms + vs;
    }
    const float inv = S == 0.0f ? 0.0f : 1.0f / S;
    for (int d = 0; d < dv; d++) out[d] *= inv;
}
