#include "ops.h"

#include <math.h>
#include <string.h>

#include "types.h"

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

/* x rounded to the nearest f16 value (ties to even), kept as a float. */
static inline float round_f16(float x) {
    uint32_t u;
    memcpy(&u, &x, 4);
    const uint32_t a = u & 0x7fffffffu;
    if (a >= 0x477ff000u) { /* rounds past 65504 (or inf/nan): inf keeps nan */
        if (a > 0x7f800000u) return x;
        u = (u & 0x80000000u) | 0x7f800000u;
    } else if (a < 0x38800000u) { /* below 2^-14: f16 subnormals are multiples of 2^-24 */
        return rintf(x * 16777216.0f) * (1.0f / 16777216.0f);
    } else {
        u += 0xfffu + ((u >> 13) & 1u);
        u &= ~0x1fffu;
    }
    memcpy(&x, &u, 4);
    return x;
}

void wl_attend(const wl_attn_head *h, const float *q, int kv_lo, int kv_hi, float *out,
               uint16_t *q16, float *v_row) {
    const wl_type_traits *f16 = wl_type_get(WL_TYPE_F16);
    const int dv = h->head_dim_v;
    /* Mirroring ggml's rounding (f16 q, f16 V accumulator rounded after
     * every update) is what keeps greedy tokens equal to llama.cpp's on
     * quantized models, where one flipped int8 rounding changes the answer. */
    f16->from_float(q, q16, h->head_dim_k);
    float M = -INFINITY, S = 0.0f;
    for (int d = 0; d < dv; d++) out[d] = 0.0f;
    for (int j = kv_lo; j < kv_hi; j++) {
        float s;
        f16->vec_dot(h->head_dim_k, &s, h->k + (int64_t)j * h->k_stride, q16);
        if (h->softcap != 0.0f) {
            s = h->softcap * tanhf(s * (h->scale / h->softcap));
        } else {
            s *= h->scale;
        }
        float ms = 1.0f, vs = 1.0f;
        if (s > M) {
            const float m_old = M;
            M = s;
            ms = expf(m_old - M);
            for (int d = 0; d < dv; d++) out[d] = round_f16(out[d] * ms);
        } else {
            vs = expf(s - M);
        }
        f16->to_float(h->v + (int64_t)j * h->v_stride, v_row, dv);
        for (int d = 0; d < dv; d++) out[d] = round_f16(out[d] + v_row[d] * vs);
        S = S * ms + vs;
    }
    const float inv = S == 0.0f ? 0.0f : 1.0f / S;
    for (int d = 0; d < dv; d++) out[d] *= inv;
}
