/* IQ4_NL and IQ4_XS: 4-bit indices into a fixed non-linear table of 16
 * int8 levels (the table GGUF files are written against).
 * IQ4_NL: blocks of 32, f16 scale, dots against Q8_0.
 * IQ4_XS: super-blocks of 256 = 8 sub-blocks of 32, f16 super scale and a
 * 6-bit signed scale per sub-block (low 4 bits in scales_l, high 2 bits in
 * scales_h), dots against Q8_K. Within 32 elements, byte j holds element j
 * in its low nibble and element j+16 in its high one. */
#include <math.h>
#include <string.h>
#include "fp16.h"
#include "quant.h"
#include "quant_simd.h"

const int8_t wl_iq4_levels[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};
#define iq4_levels wl_iq4_levels

static int nearest_level(float v) {
    int best = 0;
    float best_err = fabsf(v - iq4_levels[0]);
    for (int k = 1; k < 16; k++) {
        float err = fabsf(v - iq4_levels[k]);
        if (err < best_err) { best_err = err; best = k; }
    }
    return best;
}

/* Picks a scale d and level indices for n values minimizing the squared
 * error: tries scales that put the largest-magnitude value near either end
 * of the table, then refits d by least squares for the chosen levels. */
static float iq4_fit(const float *x, int n, uint8_t *idx) {
    const float max = wl_signed_absmax(x, n);
    if (max == 0.0f || !isfinite(max)) {
        memset(idx, 8, (size_t)n); /* level 1, times d = 0 */
        return 0.0f;
    }
    float best_d = 0.0f, best_err = INFINITY;
    uint8_t trial[WL_QK];
    for (int t = -8; t <= 8; t++) {
        float ends[2] = { -127.0f + t, 113.0f + t };
        for (int e = 0; e < 2; e++) {
            float d = max / ends[e];
            float sxl = 0.0f, sll = 0.0f;
            for (int j = 0; j < n; j++) {
                trial[j] = (uint8_t)nearest_level(x[j] / d);
                sxl += x[j] * iq4_levels[trial[j]];
                sll += (float)(iq4_levels[trial[j]] * iq4_levels[trial[j]]);
            }
            if (sll > 0.0f) d = sxl / sll;
            float err = 0.0f;
            for (int j = 0; j < n; j++) {
                float r = x[j] - d * iq4_levels[trial[j]];
                err += r * r;
            }
            if (err < best_err) {
                best_err = err;
                best_d = d;
                memcpy(idx, trial, (size_t)n);
            }
        }
    }
    return best_d;
}

static void pack_nibbles(const uint8_t idx[32], uint8_t qs[16]) {
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)(idx[j] | (idx[j + 16] << 4));
}

/* ---- IQ4_NL ---- */

void iq4_nl_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_iq4_nl *b = src;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        float d = wl_fp16_to_fp32(b[i].d);
        for (int j = 0; j < WL_QK / 2; j++) {
            dst[i * WL_QK + j] = d * iq4_levels[b[i].qs[j] & 0x0f];
            dst[i * WL_QK + j + 16] = d * iq4_levels[b[i].qs[j] >> 4];
        }
    }
}

void iq4_nl_from_float(const float *src, void *dst, int64_t n) {
    wl_block_iq4_nl *b = dst;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        uint8_t idx[WL_QK];
        float d = iq4_fit(src + i * WL_QK, WL_QK, idx);
        b[i].d = wl_fp32_to_fp16(d);
        pack_nibbles(idx, b[i].qs);
    }
}

void iq4_nl_dot_q8_0_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_iq4_nl *x = vx;
    const wl_block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < WL_QK / 2; j++) {
            sumi += iq4_levels[x[i].qs[j] & 0x0f] * y[i].qs[j];
            sumi += iq4_levels[x[i].qs[j] >> 4] * y[i].qs[j + 16];
        }
        sum += (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d)) * (float)sumi;
    }
    *s = sum;
}

/* Same order of float operations as the twin, so results are bit-identical. */
void iq4_nl_dot_q8_0(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_iq4_nl *x = vx;
    const wl_block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        v128_t lo, hi;
        wl_iq4_unpack(x[i].qs, &lo, &hi);
        v128_t acc = wasm_i32x4_add(wl_dot_i8x16(lo, wasm_v128_load(y[i].qs)),
                                    wl_dot_i8x16(hi, wasm_v128_load(y[i].qs + 16)));
        sum += (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d)) * (float)wl_hsum_i32x4(acc);
    }
    *s = sum;
#else
    iq4_nl_dot_q8_0_ref(n, s, vx, vy);
#endif
}

/* ---- IQ4_XS ---- */

static inline int iq4_xs_scale(const wl_block_iq4_xs *b, int ib) {
    int lo = (b->scales_l[ib / 2] >> (4 * (ib % 2))) & 0x0f;
    int hi = (b->scales_h >> (2 * ib)) & 3;
    return (lo | (hi << 4)) - 32;
}

void iq4_xs_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_iq4_xs *b = src;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        float d = wl_fp16_to_fp32(b[i].d);
        for (int ib = 0; ib < 8; ib++) {
            float dl = d * (float)iq4_xs_scale(&b[i], ib);
            const uint8_t *qs = b[i].qs + 16 * ib;
            float *y = dst + i * WL_QK_K + 32 * ib;
            for (int j = 0; j < 16; j++) {
                y[j] = dl * iq4_levels[qs[j] & 0x0f];
                y[j + 16] = dl * iq4_levels[qs[j] >> 4];
            }
        }
    }
}

/* Fits each sub-block on its own, then quantizes the sub-block scales to
 * 6 signed bits of one f16 super scale and refits the levels to them. */
void iq4_xs_from_float(const float *src, void *dst, int64_t n) {
    wl_block_iq4_xs *b = dst;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        const float *x = src + i * WL_QK_K;
        uint8_t idx[WL_QK];
        float sub[8];
        for (int ib = 0; ib < 8; ib++) sub[ib] = iq4_fit(x + 32 * ib, 32, idx);
        float d = wl_signed_absmax(sub, 8) / -32.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = wl_fp32_to_fp16(d);
        d = wl_fp16_to_fp32(b[i].d);
        b[i].scales_h = 0;
        memset(b[i].scales_l, 0, sizeof b[i].scales_l);
        for (int ib = 0; ib < 8; ib++) {
            int l = (int)lrintf(fminf(31.0f, fmaxf(-32.0f, sub[ib] * id)));
            int ls = l + 32;
            b[i].scales_l[ib / 2] |= (uint8_t)((ls & 0x0f) << (4 * (ib % 2)));
            b[i].scales_h |= (uint16_t)((ls >> 4) << (2 * ib));
            float dl = d * (float)l;
            for (int j = 0; j < 32; j++) idx[j] = dl != 0.0f ? (uint8_t)nearest_level(x[32 * ib + j] / dl) : 8;
            pack_nibbles(idx, b[i].qs + 16 * ib);
        }
    }
}

void iq4_xs_dot_q8_K_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_iq4_xs *x = vx;
    const wl_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        int sumi = 0;
        for (int ib = 0; ib < 8; ib++) {
            const uint8_t *qs = x[i].qs + 16 * ib;
            const int8_t *q8 = y[i].qs + 32 * ib;
            int sub = 0;
            for (int j = 0; j < 16; j++) {
                sub += iq4_levels[qs[j] & 0x0f] * q8[j];
                sub += iq4_levels[qs[j] >> 4] * q8[j + 16];
            }
            sumi += iq4_xs_scale(&x[i], ib) * sub;
        }
        sum += wl_fp16_to_fp32(x[i].d) * y[i].d * (float)sumi;
    }
    *s = sum;
}

void iq4_xs_dot_q8_K(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_iq4_xs *x = vx;
    const wl_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        v128_t acc = wasm_i32x4_splat(0);
        for (int ib = 0; ib < 8; ib++) {
            v128_t lo, hi;
            wl_iq4_unpack(x[i].qs + 16 * ib, &lo, &hi);
            const int8_t *q8 = y[i].qs + 32 * ib;
            v128_t sub = wasm_i32x4_add(wl_dot_i8x16(lo, wasm_v128_load(q8)), wl_dot_i8x16(hi, wasm_v128_load(q8 + 16)));
            acc = wasm_i32x4_add(acc, wasm_i32x4_mul(sub, wasm_i32x4_splat(iq4_xs_scale(&x[i], ib))));
        }
        sum += wl_fp16_to_fp32(x[i].d) * y[i].d * (float)wl_hsum_i32x4(acc);
    }
    *s = sum;
#else
    iq4_xs_dot_q8_K_ref(n, s, vx, vy);
#endif
}
