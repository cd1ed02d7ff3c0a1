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
    switch (act) {
    case WL_ACT_GELU: return wl_gelu(x);
    case WL_ACT_RELU: return x > 0.0f ? x : 0.0f;
    default: return wl_silu(x);
    }
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
/* Lanes whose magnitude is outside f16's normal range, where rounding is
 * more than the mantissa step of round_f16x4 (a subnormal, overflow or NaN
 * case). Signed compares, which cost one instruction each on x86 where an
 * unsigned one takes three (|x|'s bits are non-negative as int32). */
static inline v128_t f16_abnormal_lanes(v128_t x) {
    const v128_t a = wasm_v128_and(x, wasm_i32x4_splat(0x7fffffff));
    return wasm_v128_or(wasm_i32x4_lt(a, wasm_i32x4_splat(0x38800000)), wasm_i32x4_gt(a, wasm_i32x4_splat(0x477fefff)));
}

static inline v128_t round_f16x4_normal(v128_t x) {
    v128_t odd = wasm_v128_and(wasm_u32x4_shr(x, 13), wasm_i32x4_splat(1));
    v128_t r = wasm_i32x4_add(x, wasm_i32x4_add(wasm_i32x4_splat(0xfff), odd));
    return wasm_v128_and(r, wasm_i32x4_splat(~0x1fff));
}

/* Eight running-sum lanes after an update, rounded to f16: nearly every
 * update stays in the normal range, which rounds cheaply. */
static inline void round_f16x8(v128_t x0, v128_t x1, v128_t *lo, v128_t *hi) {
    if (!wasm_v128_any_true(wasm_v128_or(f16_abnormal_lanes(x0), f16_abnormal_lanes(x1)))) {
        *lo = round_f16x4_normal(x0);
        *hi = round_f16x4_normal(x1);
    } else {
        *lo = round_f16x4(x0);
        *hi = round_f16x4(x1);
    }
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
        round_f16x8(a0, a1, &lo, &hi);
        wasm_v128_store(acc + i, lo);
        wasm_v128_store(acc + i + 4, hi);
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
static inline float attn_finish_score(const wl_attn_head *h, float s) {
    if (h->softcap != 0.0f) return h->softcap * tanhf(s * (h->scale / h->softcap));
    return s * h->scale;
}

/* The row of position j in this head's K or V rows. */
static inline size_t attn_row(const wl_attn_head *h, int j) {
    return h->ring_rows > 0 ? (size_t)(j % h->ring_rows) : (size_t)j;
}

static float attn_score(const wl_attn_head *h, wl_vec_dot_fn dot, const void *q_enc, const float *q32, int j) {
    const uint8_t *row = (const uint8_t *)h->k + attn_row(h, j) * h->k_stride;
    float s;
    if (q32) s = wl_f16_dot_f32((const uint16_t *)row, q32, h->head_dim_k);
    else dot(h->head_dim_k, &s, row, q_enc);
    return attn_finish_score(h, s);
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
    const uint8_t *row = (const uint8_t *)h->v + attn_row(h, j) * h->v_stride;
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

/* ---- grouped-query attention: the heads that share one K/V head ----
 * With an F16 cache (the default) wl_attend spends most of its time
 * converting K and V rows from f16, and in decode every one of a group's
 * query heads converts the same rows again. Here the group goes through a
 * block of positions in three passes: scores (each K row converted once
 * for up to four heads), the online-softmax factors (scalar, exactly
 * wl_attend's sequence of M, S, rescales and weights per head), then the
 * f16 running sums, dims 8 at a time from V rows converted once for all the
 * heads, with the sums kept in registers across the block. Every head
 * sees the same operations in the same order as in wl_attend, so the bits
 * are the same (test_kv_cache compares them). */
#define ATTN_BLOCK 64

/* Scratch layout for n_q heads: q32 (n_q x head_dim_k), then per head M, S,
 * and ATTN_BLOCK scores, rescale factors and weights, then a block of V
 * rows as floats. */
int64_t wl_attend_group_scratch_floats(wl_type k_type, wl_type v_type, int head_dim_k, int head_dim_v, int n_q) {
    const int64_t one = wl_attend_scratch_floats(k_type, v_type, head_dim_k, head_dim_v);
    const int64_t grouped = (int64_t)n_q * (head_dim_k + 2 + 3 * ATTN_BLOCK) + (int64_t)head_dim_v * ATTN_BLOCK;
    return one > grouped ? one : grouped;
}

#ifdef __wasm_simd128__
typedef struct {
    float *q32;            /* n_q x head_dim_k: q rounded through f16 */
    float *m, *sum;        /* per head: running max and denominator */
    float *score, *rescale, *weight; /* per head, ATTN_BLOCK each */
    float *vbuf;           /* the block's V rows as floats (group_v_rows) */
} attn_group_scratch;

/* Scores of positions [j0, j1) for heads [t0, t0 + T): each K row's f16
 * halves converted once, then wl_f16_dot_f32's lanes and order per head. */
static inline __attribute__((always_inline)) void group_scores(const wl_attn_head *h, const attn_group_scratch *g,
                                                               int t0, int T, int j0, int j1) {
    const int hd = h->head_dim_k, n8 = hd / 8 * 8;
    for (int j = j0; j < j1; j++) {
        const uint16_t *k = (const uint16_t *)((const uint8_t *)h->k + attn_row(h, j) * h->k_stride);
        v128_t a0[4], a1[4];
        for (int t = 0; t < T; t++) a0[t] = a1[t] = wasm_f32x4_splat(0.0f);
        for (int i = 0; i < n8; i += 8) {
            v128_t kl, kh;
            wl_fp16x8_to_f32x4x2(wasm_v128_load(k + i), &kl, &kh);
            for (int t = 0; t < T; t++) {
                const float *q = g->q32 + (size_t)(t0 + t) * hd + i;
                a0[t] = wasm_f32x4_add(a0[t], wasm_f32x4_mul(kl, wasm_v128_load(q)));
                a1[t] = wasm_f32x4_add(a1[t], wasm_f32x4_mul(kh, wasm_v128_load(q + 4)));
            }
        }
        for (int t = 0; t < T; t++) {
            const float *q = g->q32 + (size_t)(t0 + t) * hd;
            float sum = wl_hsum_f32x4(wasm_f32x4_add(a0[t], a1[t]));
            for (int i = n8; i < hd; i++) sum += wl_fp16_to_fp32(k[i]) * q[i];
            g->score[(size_t)(t0 + t) * ATTN_BLOCK + (j - j0)] = attn_finish_score(h, sum);
        }
    }
}

/* The block's V rows as floats, dims 8 at a time: vbuf holds dims
 * [8c, 8c + 8) of position j0 + p at 8 * (c * ATTN_BLOCK + p), so the
 * values pass reads one forward stream per 8 dims (cache rows are often a
 * multiple of 1 KB apart, which maps them onto a few L1 sets). */
static void group_v_rows(const wl_attn_head *h, float *vbuf, int j0, int j1) {
    const int d8 = h->head_dim_v / 8 * 8;
    for (int j = j0; j < j1; j++) {
        const uint16_t *v = (const uint16_t *)((const uint8_t *)h->v + attn_row(h, j) * h->v_stride);
        for (int d = 0; d < d8; d += 8) {
            v128_t lo, hi;
            wl_fp16x8_to_f32x4x2(wasm_v128_load(v + d), &lo, &hi);
            float *dst = vbuf + 8 * ((size_t)(d / 8) * ATTN_BLOCK + (j - j0));
            wasm_v128_store(dst, lo);
            wasm_v128_store(dst + 4, hi);
        }
    }
}

/* The running sums of dims [d, d + 8) of heads [t0, t0 + T) over the
 * block's positions: wl_f16_acc_scale's rounding for a rescale, then
 * wl_f16_acc_mad's update, per position in order. */
static inline __attribute__((always_inline)) void group_values(const wl_attn_head *h, const attn_group_scratch *g,
                                                               float *out, int t0, int T, int d, int j0, int j1) {
    const int dv = h->head_dim_v;
    const float *vrow = g->vbuf + (size_t)(d / 8) * ATTN_BLOCK * 8;
    v128_t acc[2][2];
    for (int t = 0; t < T; t++) {
        acc[t][0] = wasm_v128_load(out + (size_t)(t0 + t) * dv + d);
        acc[t][1] = wasm_v128_load(out + (size_t)(t0 + t) * dv + d + 4);
    }
    for (int j = j0; j < j1; j++, vrow += 8) {
        const v128_t vl = wasm_v128_load(vrow), vh = wasm_v128_load(vrow + 4);
        for (int t = 0; t < T; t++) {
            const size_t at = (size_t)(t0 + t) * ATTN_BLOCK + (j - j0);
            const float ms = g->rescale[at];
            if (ms != 1.0f) { /* a new maximum (rescaling by exactly 1 changes no f16 value) */
                const v128_t m = wasm_f32x4_splat(ms);
                acc[t][0] = round_f16x4(wasm_f32x4_mul(acc[t][0], m));
                acc[t][1] = round_f16x4(wasm_f32x4_mul(acc[t][1], m));
            }
            const v128_t vs = wasm_f32x4_splat(g->weight[at]);
            round_f16x8(wasm_f32x4_add(acc[t][0], wasm_f32x4_mul(vl, vs)), wasm_f32x4_add(acc[t][1], wasm_f32x4_mul(vh, vs)),
                        &acc[t][0], &acc[t][1]);
        }
    }
    for (int t = 0; t < T; t++) {
        wasm_v128_store(out + (size_t)(t0 + t) * dv + d, acc[t][0]);
        wasm_v128_store(out + (size_t)(t0 + t) * dv + d + 4, acc[t][1]);
    }
}

static void attend_group_f16(const wl_attn_head *h, const float *q, int n_q, int kv_lo, int kv_hi, float *out,
                             float *scratch) {
    const int hk = h->head_dim_k, dv = h->head_dim_v, d8 = dv / 8 * 8;
    attn_group_scratch g;
    g.q32 = scratch;
    g.m = g.q32 + (size_t)n_q * hk;
    g.sum = g.m + n_q;
    g.score = g.sum + n_q;
    g.rescale = g.score + (size_t)n_q * ATTN_BLOCK;
    g.weight = g.rescale + (size_t)n_q * ATTN_BLOCK;
    g.vbuf = g.weight + (size_t)n_q * ATTN_BLOCK;
    for (int t = 0; t < n_q; t++) {
        /* q through f16, as wl_attend's q_enc and q32 */
        for (int i = 0; i < hk; i++) g.q32[(size_t)t * hk + i] = wl_fp16_to_fp32(wl_fp32_to_fp16(q[(size_t)t * hk + i]));
        g.m[t] = -INFINITY;
        g.sum[t] = 0.0f;
    }
    for (int i = 0; i < n_q * dv; i++) out[i] = 0.0f;
    for (int j0 = kv_lo; j0 < kv_hi; j0 += ATTN_BLOCK) {
        const int j1 = kv_hi - j0 < ATTN_BLOCK ? kv_hi : j0 + ATTN_BLOCK;
        int t = 0;
        for (; t + 4 <= n_q; t += 4) group_scores(h, &g, t, 4, j0, j1);
        for (; t < n_q; t++) group_scores(h, &g, t, 1, j0, j1);
        /* wl_attend's online softmax, per head */
        for (t = 0; t < n_q; t++) {
            float M = g.m[t], S = g.sum[t];
            for (int j = j0; j < j1; j++) {
                const size_t at = (size_t)t * ATTN_BLOCK + (j - j0);
                const float s = g.score[at];
                float ms = 1.0f, vs = 1.0f;
                if (s > M) {
                    const float m_old = M;
                    M = s;
                    ms = expf(m_old - M);
                } else {
                    vs = expf(s - M);
                }
                g.rescale[at] = ms;
                g.weight[at] = vs;
                S = S * ms + vs;
            }
            g.m[t] = M;
            g.sum[t] = S;
        }
        group_v_rows(h, g.vbuf, j0, j1);
        for (int d = 0; d < d8; d += 8) {
            for (t = 0; t + 2 <= n_q; t += 2) group_values(h, &g, out, t, 2, d, j0, j1);
            for (; t < n_q; t++) group_values(h, &g, out, t, 1, d, j0, j1);
        }
        for (t = 0; t < n_q; t++) { /* dims past the last 8: the scalar steps */
            float *acc = out + (size_t)t * dv;
            for (int j = j0; j < j1; j++) {
                const size_t at = (size_t)t * ATTN_BLOCK + (j - j0);
                const uint16_t *v = (const uint16_t *)((const uint8_t *)h->v + attn_row(h, j) * h->v_stride);
                if (g.rescale[at] != 1.0f) wl_f16_acc_scale_ref(acc + d8, g.rescale[at], dv - d8);
                wl_f16_acc_mad_ref(acc + d8, v + d8, g.weight[at], dv - d8);
            }
        }
    }
    for (int t = 0; t < n_q; t++) {
        const float inv = g.sum[t] == 0.0f ? 0.0f : 1.0f / g.sum[t];
        for (int d = 0; d < dv; d++) out[(size_t)t * dv + d] *= inv;
    }
}
#endif

void wl_attend_group(const wl_attn_head *h, const float *q, int n_q, int kv_lo, int kv_hi, float *out,
                     float *scratch) {
#ifdef __wasm_simd128__
    if (h->k_type == WL_TYPE_F16 && h->v_type == WL_TYPE_F16 && kv_lo < kv_hi) {
        attend_group_f16(h, q, n_q, kv_lo, kv_hi, out, scratch);
        return;
    }
#endif
    for (int t = 0; t < n_q; t++)
        wl_attend(h, q + (size_t)t * h->head_dim_k, kv_lo, kv_hi, out + (size_t)t * h->head_dim_v, scratch);
}
