/* K-quants: super-blocks of 256 with small integer sub-block scales under
 * f16 super scales, dotted against Q8_K activations (f32 scale, int8 values
 * and int16 sums of each 16 values, which fold the formats' mins in cheaply).
 * Element e of a super-block always uses sub-block scale e/16 (Q2/Q3/Q6_K)
 * or e/32 (Q4/Q5_K). Every dot sums the whole super-block in exact integers
 * and then scales once in float, so the SIMD versions match their twins bit
 * for bit. The quantizers are simple min/max fits: valid, reasonable, not
 * ggml's iterative search. */
#include <math.h>
#include <string.h>
#include "fp16.h"
#include "quant.h"
#include "quant_simd.h"

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Round to nearest, ties to even, with NaN mapped to 0 (keeps casts defined). */
static inline int round_int(float v) {
    if (!(fabsf(v) < 1e9f)) return 0;
    return (int)nearbyintf(v);
}

/* ---- Q8_K ---- */

void q8_K_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q8_K *b = src;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        for (int j = 0; j < WL_QK_K; j++) dst[i * WL_QK_K + j] = b[i].d * b[i].qs[j];
    }
}

/* As ggml's reference: the largest-magnitude element maps to -127 exactly. */
void q8_K_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q8_K *b = dst;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        const float *x = src + i * WL_QK_K;
        const float max = wl_signed_absmax(x, WL_QK_K);
        if (max == 0.0f || !isfinite(max)) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        float iscale = -127.0f / max;
        for (int j = 0; j < WL_QK_K; j++) b[i].qs[j] = (int8_t)clampi(round_int(iscale * x[j]), -127, 127);
        for (int g = 0; g < WL_QK_K / 16; g++) {
            int sum = 0;
            for (int j = 0; j < 16; j++) sum += b[i].qs[16 * g + j];
            b[i].bsums[g] = (int16_t)sum;
        }
        b[i].d = 1.0f / iscale;
    }
}

/* ---- shared scale fitting ---- */

/* For a group x[0..n) fit x ~ scale * q - min with q in [0, qmax], min >= 0. */
static void fit_affine(const float *x, int n, int qmax, float *scale, float *min) {
    float lo = 0.0f, hi = x[0];
    for (int j = 0; j < n; j++) {
        lo = fminf(lo, x[j]);
        hi = fmaxf(hi, x[j]);
    }
    *scale = hi > lo ? (hi - lo) / qmax : 0.0f;
    *min = -lo;
}

static float max_of(const float *x, int n) {
    float m = 0.0f;
    for (int j = 0; j < n; j++) m = fmaxf(m, x[j]);
    return m;
}

/* q = round((x + min) / scale) in [0, qmax], for affine sub-blocks. */
static void quantize_affine(const float *x, int n, float scale, float min, int qmax, uint8_t *q) {
    float id = scale != 0.0f ? 1.0f / scale : 0.0f;
    for (int j = 0; j < n; j++) q[j] = (uint8_t)clampi(round_int((x[j] + min) * id), 0, qmax);
}

/* q = round(x / scale) in [-qneg, qneg - 1], stored offset by qneg. */
static void quantize_symmetric(const float *x, int n, float scale, int qneg, uint8_t *q) {
    float id = scale != 0.0f ? 1.0f / scale : 0.0f;
    for (int j = 0; j < n; j++) q[j] = (uint8_t)(clampi(round_int(x[j] * id), -qneg, qneg - 1) + qneg);
}

/* ---- Q2_K: x = d * (sc & 15) * q - dmin * (sc >> 4), q in 0..3, 16 sub-blocks ----
 * Element 128h + 32s + l is bits 2s of qs[32h + l]. */

void q2_K_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q2_K *b = src;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        float d = wl_fp16_to_fp32(b[i].d), dmin = wl_fp16_to_fp32(b[i].dmin);
        for (int e = 0; e < WL_QK_K; e++) {
            int q = (b[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
            uint8_t sc = b[i].scales[e / 16];
            dst[i * WL_QK_K + e] = d * (float)(sc & 15) * (float)q - dmin * (float)(sc >> 4);
        }
    }
}

void q2_K_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q2_K *b = dst;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        const float *x = src + i * WL_QK_K;
        float scales[16], mins[16];
        for (int s = 0; s < 16; s++) fit_affine(x + 16 * s, 16, 3, &scales[s], &mins[s]);
        b[i].d = wl_fp32_to_fp16(max_of(scales, 16) / 15.0f);
        b[i].dmin = wl_fp32_to_fp16(max_of(mins, 16) / 15.0f);
        float d = wl_fp16_to_fp32(b[i].d), dmin = wl_fp16_to_fp32(b[i].dmin);
        uint8_t q[WL_QK_K];
        for (int s = 0; s < 16; s++) {
            int ls = d > 0.0f ? clampi(round_int(scales[s] / d), 0, 15) : 0;
            int lm = dmin > 0.0f ? clampi(round_int(mins[s] / dmin), 0, 15) : 0;
            b[i].scales[s] = (uint8_t)(ls | (lm << 4));
            quantize_affine(x + 16 * s, 16, d * ls, dmin * lm, 3, q + 16 * s);
        }
        memset(b[i].qs, 0, sizeof b[i].qs);
        for (int e = 0; e < WL_QK_K; e++) b[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)(q[e] << (2 * ((e % 128) / 32)));
    }
}

void q2_K_dot_q8_K_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q2_K *x = vx;
    const wl_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        int isum = 0, summs = 0;
        for (int sb = 0; sb < 16; sb++) {
            int sub = 0;
            for (int e = 16 * sb; e < 16 * sb + 16; e++) {
                int q = (x[i].qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
                sub += q * y[i].qs[e];
            }
            isum += (x[i].scales[sb] & 15) * sub;
            summs += (x[i].scales[sb] >> 4) * y[i].bsums[sb];
        }
        float dall = y[i].d * wl_fp16_to_fp32(x[i].d);
        float dmin = y[i].d * wl_fp16_to_fp32(x[i].dmin);
        sum += dall * (float)isum - dmin * (float)summs;
    }
    *s = sum;
}

void q2_K_dot_q8_K(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q2_K *x = vx;
    const wl_block_q8_K *y = vy;
    const v128_t three = wasm_i8x16_splat(3);
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        v128_t acc = wasm_i32x4_splat(0);
        const int8_t *q8 = y[i].qs;
        for (int h = 0; h < 2; h++) {
            v128_t q0 = wasm_v128_load(x[i].qs + 32 * h), q1 = wasm_v128_load(x[i].qs + 32 * h + 16);
            for (int sh = 0; sh < 4; sh++) {
                int sb = 8 * h + 2 * sh;
                v128_t a = wl_dot_i8x16(wasm_v128_and(wasm_u8x16_shr(q0, 2 * sh), three), wasm_v128_load(q8));
                v128_t c = wl_dot_i8x16(wasm_v128_and(wasm_u8x16_shr(q1, 2 * sh), three), wasm_v128_load(q8 + 16));
                acc = wasm_i32x4_add(acc, wasm_i32x4_mul(a, wasm_i32x4_splat(x[i].scales[sb] & 15)));
                acc = wasm_i32x4_add(acc, wasm_i32x4_mul(c, wasm_i32x4_splat(x[i].scales[sb + 1] & 15)));
                q8 += 32;
            }
        }
        /* mins: 16 (scale >> 4) times bsums, as two i16x8 dots. */
        v128_t sc = wasm_v128_load(x[i].scales);
        v128_t m = wasm_u8x16_shr(sc, 4);
        v128_t mins = wasm_i32x4_add(
            wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(m), wasm_v128_load(y[i].bsums)),
            wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(m), wasm_v128_load(y[i].bsums + 8)));
        float dall = y[i].d * wl_fp16_to_fp32(x[i].d);
        float dmin = y[i].d * wl_fp16_to_fp32(x[i].dmin);
        sum += dall * (float)wl_hsum_i32x4(acc) - dmin * (float)wl_hsum_i32x4(mins);
    }
    *s = sum;
#else
    q2_K_dot_q8_K_ref(n, s, vx, vy);
#endif
}

/* ---- Q3_K: x = d * (scale - 32) * (q - 4), q in 0..7 = 2 low bits in qs
 * (laid out as Q2_K) + a high bit: element 128h + 32s + l is bit 4h + s of
 * hmask[l]. 16 6-bit scales: low 4 bits in bytes 0..7 (sub-blocks 8..15 in
 * the high nibbles), high 2 bits in bytes 8..11. */

void wl_q3_K_unpack_scales(const uint8_t packed[12], int out[16]) {
    for (int j = 0; j < 16; j++) {
        int lo = j < 8 ? packed[j] & 15 : packed[j - 8] >> 4;
        int hi = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        out[j] = (lo | (hi << 4)) - 32;
    }
}

static inline int q3_K_value(const wl_block_q3_K *b, int e) {
    int low = (b->qs[32 * (e / 128) + e % 32] >> (2 * ((e % 128) / 32))) & 3;
    int high = (b->hmask[e % 32] >> (4 * (e / 128) + (e % 128) / 32)) & 1;
    return low + 4 * high - 4;
}

void q3_K_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q3_K *b = src;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        float d = wl_fp16_to_fp32(b[i].d);
        int sc[16];
        wl_q3_K_unpack_scales(b[i].scales, sc);
        for (int e = 0; e < WL_QK_K; e++) dst[i * WL_QK_K + e] = d * (float)sc[e / 16] * (float)q3_K_value(&b[i], e);
    }
}

void q3_K_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q3_K *b = dst;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        const float *x = src + i * WL_QK_K;
        float scales[16];
        for (int s = 0; s < 16; s++) scales[s] = wl_signed_absmax(x + 16 * s, 16) / -4.0f;
        b[i].d = wl_fp32_to_fp16(wl_signed_absmax(scales, 16) / -32.0f);
        float d = wl_fp16_to_fp32(b[i].d);
        uint8_t q[WL_QK_K];
        memset(b[i].scales, 0, sizeof b[i].scales);
        for (int s = 0; s < 16; s++) {
            int l = d != 0.0f ? clampi(round_int(scales[s] / d), -32, 31) : 0;
            int v = l + 32;
            if (s < 8) b[i].scales[s] |= (uint8_t)(v & 15);
            else b[i].scales[s - 8] |= (uint8_t)((v & 15) << 4);
            b[i].scales[8 + s % 4] |= (uint8_t)((v >> 4) << (2 * (s / 4)));
            quantize_symmetric(x + 16 * s, 16, d * l, 4, q + 16 * s);
        }
        memset(b[i].qs, 0, sizeof b[i].qs);
        memset(b[i].hmask, 0, sizeof b[i].hmask);
        for (int e = 0; e < WL_QK_K; e++) {
            b[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)((q[e] & 3) << (2 * ((e % 128) / 32)));
            b[i].hmask[e % 32] |= (uint8_t)((q[e] >> 2) << (4 * (e / 128) + (e % 128) / 32));
        }
    }
}

void q3_K_dot_q8_K_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q3_K *x = vx;
    const wl_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        int sc[16];
        wl_q3_K_unpack_scales(x[i].scales, sc);
        int isum = 0;
        for (int sb = 0; sb < 16; sb++) {
            int sub = 0;
            for (int e = 16 * sb; e < 16 * sb + 16; e++) sub += q3_K_value(&x[i], e) * y[i].qs[e];
            isum += sc[sb] * sub;
        }
        sum += wl_fp16_to_fp32(x[i].d) * y[i].d * (float)isum;
    }
    *s = sum;
}

void q3_K_dot_q8_K(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q3_K *x = vx;
    const wl_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        int sc[16];
        wl_q3_K_unpack_scales(x[i].scales, sc);
        v128_t hm0 = wasm_v128_load(x[i].hmask), hm1 = wasm_v128_load(x[i].hmask + 16);
        v128_t acc = wasm_i32x4_splat(0);
        const int8_t *q8 = y[i].qs;
        for (int h = 0; h < 2; h++) {
            v128_t q0 = wasm_v128_load(x[i].qs + 32 * h), q1 = wasm_v128_load(x[i].qs + 32 * h + 16);
            for (int sh = 0; sh < 4; sh++) {
                int bit = 4 * h + sh, sb = 8 * h + 2 * sh;
                v128_t v0 = wl_q3_K_values(q0, hm0, sh, bit), v1 = wl_q3_K_values(q1, hm1, sh, bit);
                acc = wasm_i32x4_add(acc, wasm_i32x4_mul(wl_dot_i8x16(v0, wasm_v128_load(q8)), wasm_i32x4_splat(sc[sb])));
                acc = wasm_i32x4_add(acc, wasm_i32x4_mul(wl_dot_i8x16(v1, wasm_v128_load(q8 + 16)), wasm_i32x4_splat(sc[sb + 1])));
                q8 += 32;
            }
        }
        sum += wl_fp16_to_fp32(x[i].d) * y[i].d * (float)wl_hsum_i32x4(acc);
    }
    *s = sum;
#else
    q3_K_dot_q8_K_ref(n, s, vx, vy);
#endif
}

/* ---- Q4_K / Q5_K: x = d * sc * q - dmin * m, 8 sub-blocks of 32 with 6-bit
 * sc and m packed in 12 bytes. Element 64c + l (l < 32) is the low nibble of
 * qs[32c + l], element 64c + 32 + l its high nibble; Q5_K's fifth bits are
 * bit 2c (low) and 2c + 1 (high) of qh[l]. */

static inline int q5_K_value(const wl_block_q5_K *b, int e) {
    int bit = 2 * (e / 64) + ((e % 64) >= 32);
    return wl_q4_K_nibble(b->qs, e) | (((b->qh[e % 32] >> bit) & 1) << 4);
}

/* Fits 8 affine sub-blocks; returns the 6-bit scales/mins and q values. */
static void k4_fit(const float *x, int qmax, uint16_t *d16, uint16_t *dmin16, int ls[8], int lm[8], uint8_t q[256]) {
    float scales[8], mins[8];
    for (int s = 0; s < 8; s++) fit_affine(x + 32 * s, 32, qmax, &scales[s], &mins[s]);
    *d16 = wl_fp32_to_fp16(max_of(scales, 8) / 63.0f);
    *dmin16 = wl_fp32_to_fp16(max_of(mins, 8) / 63.0f);
    float d = wl_fp16_to_fp32(*d16), dmin = wl_fp16_to_fp32(*dmin16);
    for (int s = 0; s < 8; s++) {
        ls[s] = d > 0.0f ? clampi(round_int(scales[s] / d), 0, 63) : 0;
        lm[s] = dmin > 0.0f ? clampi(round_int(mins[s] / dmin), 0, 63) : 0;
        quantize_affine(x + 32 * s, 32, d * ls[s], dmin * lm[s], qmax, q + 32 * s);
    }
}

void q4_K_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q4_K *b = src;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        float d = wl_fp16_to_fp32(b[i].d), dmin = wl_fp16_to_fp32(b[i].dmin);
        int sc[8], m[8];
        wl_q4_K_unpack_scales(b[i].scales, sc, m);
        for (int e = 0; e < WL_QK_K; e++) {
            dst[i * WL_QK_K + e] = d * (float)sc[e / 32] * (float)wl_q4_K_nibble(b[i].qs, e) - dmin * (float)m[e / 32];
        }
    }
}

void q4_K_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q4_K *b = dst;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        int ls[8], lm[8];
        uint8_t q[WL_QK_K];
        k4_fit(src + i * WL_QK_K, 15, &b[i].d, &b[i].dmin, ls, lm, q);
        wl_q4_K_pack_scales(ls, lm, b[i].scales);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) b[i].qs[32 * c + l] = (uint8_t)(q[64 * c + l] | (q[64 * c + 32 + l] << 4));
        }
    }
}

/* One Q4_K or Q5_K super-block (its 256 values already read, 0..31) against
 * Q8_K: the two formats differ only in how a value is read. Per 32-value
 * sub-block an exact integer sum times its 6-bit scale, then the mins term. */
static float k45_block_ref(const uint8_t *scales, uint16_t d16, uint16_t dmin16, const uint8_t *vals,
                           const wl_block_q8_K *y) {
    int sc[8], m[8];
    wl_q4_K_unpack_scales(scales, sc, m);
    int isum = 0;
    for (int sb = 0; sb < 8; sb++) {
        int sub = 0;
        for (int e = 32 * sb; e < 32 * sb + 32; e++) sub += vals[e] * y->qs[e];
        isum += sc[sb] * sub;
    }
    float d = wl_fp16_to_fp32(d16) * y->d, dmin = wl_fp16_to_fp32(dmin16) * y->d;
    return d * (float)isum - dmin * (float)wl_q4_K_mins_dot(m, y->bsums);
}

void q4_K_dot_q8_K_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q4_K *x = vx;
    const wl_block_q8_K *y = vy;
    float sum = 0.0f;
    uint8_t vals[WL_QK_K];
    for (int i = 0; i < n / WL_QK_K; i++) {
        for (int e = 0; e < WL_QK_K; e++) vals[e] = (uint8_t)wl_q4_K_nibble(x[i].qs, e);
        sum += k45_block_ref(x[i].scales, x[i].d, x[i].dmin, vals, &y[i]);
    }
    *s = sum;
}

void q4_K_dot_q8_K(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q4_K *x = vx;
    const wl_block_q8_K *y = vy;
    const v128_t mask = wasm_i8x16_splat(15);
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        int sc[8], m[8];
        wl_q4_K_unpack_scales(x[i].scales, sc, m);
        v128_t acc = wasm_i32x4_splat(0);
        for (int c = 0; c < 4; c++) {
            const uint8_t *qs = x[i].qs + 32 * c;
            const int8_t *q8 = y[i].qs + 64 * c;
            v128_t a = wasm_v128_load(qs), b = wasm_v128_load(qs + 16);
            v128_t lo = wasm_i32x4_add(wl_dot_i8x16(wasm_v128_and(a, mask), wasm_v128_load(q8)),
                                       wl_dot_i8x16(wasm_v128_and(b, mask), wasm_v128_load(q8 + 16)));
            v128_t hi = wasm_i32x4_add(wl_dot_i8x16(wasm_u8x16_shr(a, 4), wasm_v128_load(q8 + 32)),
                                       wl_dot_i8x16(wasm_u8x16_shr(b, 4), wasm_v128_load(q8 + 48)));
            acc = wasm_i32x4_add(acc, wasm_i32x4_mul(lo, wasm_i32x4_splat(sc[2 * c])));
            acc = wasm_i32x4_add(acc, wasm_i32x4_mul(hi, wasm_i32x4_splat(sc[2 * c + 1])));
        }
        float d = wl_fp16_to_fp32(x[i].d) * y[i].d, dmin = wl_fp16_to_fp32(x[i].dmin) * y[i].d;
        sum += d * (float)wl_hsum_i32x4(acc) - dmin * (float)wl_q4_K_mins_dot(m, y[i].bsums);
    }
    *s = sum;
#else
    q4_K_dot_q8_K_ref(n, s, vx, vy);
#endif
}

void q5_K_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q5_K *b = src;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        float d = wl_fp16_to_fp32(b[i].d), dmin = wl_fp16_to_fp32(b[i].dmin);
        int sc[8], m[8];
        wl_q4_K_unpack_scales(b[i].scales, sc, m);
        for (int e = 0; e < WL_QK_K; e++) {
            dst[i * WL_QK_K + e] = d * (float)sc[e / 32] * (float)q5_K_value(&b[i], e) - dmin * (float)m[e / 32];
        }
    }
}

void q5_K_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q5_K *b = dst;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        int ls[8], lm[8];
        uint8_t q[WL_QK_K];
        k4_fit(src + i * WL_QK_K, 31, &b[i].d, &b[i].dmin, ls, lm, q);
        wl_q4_K_pack_scales(ls, lm, b[i].scales);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int c = 0; c < 4; c++) {
            for (int l = 0; l < 32; l++) {
                uint8_t lo = q[64 * c + l], hi = q[64 * c + 32 + l];
                b[i].qs[32 * c + l] = (uint8_t)((lo & 15) | ((hi & 15) << 4));
                b[i].qh[l] |= (uint8_t)(((lo >> 4) << (2 * c)) | ((hi >> 4) << (2 * c + 1)));
            }
        }
    }
}

void q5_K_dot_q8_K_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q5_K *x = vx;
    const wl_block_q8_K *y = vy;
    float sum = 0.0f;
    uint8_t vals[WL_QK_K];
    for (int i = 0; i < n / WL_QK_K; i++) {
        for (int e = 0; e < WL_QK_K; e++) vals[e] = (uint8_t)q5_K_value(&x[i], e);
        sum += k45_block_ref(x[i].scales, x[i].d, x[i].dmin, vals, &y[i]);
    }
    *s = sum;
}

void q5_K_dot_q8_K(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q5_K *x = vx;
    const wl_block_q8_K *y = vy;
    const v128_t mask = wasm_i8x16_splat(15);
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        int sc[8], m[8];
        wl_q4_K_unpack_scales(x[i].scales, sc, m);
        v128_t h0 = wasm_v128_load(x[i].qh), h1 = wasm_v128_load(x[i].qh + 16);
        v128_t acc = wasm_i32x4_splat(0);
        for (int c = 0; c < 4; c++) {
            const uint8_t *qs = x[i].qs + 32 * c;
            const int8_t *q8 = y[i].qs + 64 * c;
            v128_t a = wasm_v128_load(qs), b = wasm_v128_load(qs + 16);
            v128_t a_lo = wl_q5_K_values(wasm_v128_and(a, mask), h0, 2 * c);
            v128_t b_lo = wl_q5_K_values(wasm_v128_and(b, mask), h1, 2 * c);
            v128_t a_hi = wl_q5_K_values(wasm_u8x16_shr(a, 4), h0, 2 * c + 1);
            v128_t b_hi = wl_q5_K_values(wasm_u8x16_shr(b, 4), h1, 2 * c + 1);
            v128_t lo = wasm_i32x4_add(wl_dot_i8x16(a_lo, wasm_v128_load(q8)), wl_dot_i8x16(b_lo, wasm_v128_load(q8 + 16)));
            v128_t hi = wasm_i32x4_add(wl_dot_i8x16(a_hi, wasm_v128_load(q8 + 32)), wl_dot_i8x16(b_hi, wasm_v128_load(q8 + 48)));
            acc = wasm_i32x4_add(acc, wasm_i32x4_mul(lo, wasm_i32x4_splat(sc[2 * c])));
            acc = wasm_i32x4_add(acc, wasm_i32x4_mul(hi, wasm_i32x4_splat(sc[2 * c + 1])));
        }
        float d = wl_fp16_to_fp32(x[i].d) * y[i].d, dmin = wl_fp16_to_fp32(x[i].dmin) * y[i].d;
        sum += d * (float)wl_hsum_i32x4(acc) - dmin * (float)wl_q4_K_mins_dot(m, y[i].bsums);
    }
    *s = sum;
#else
    q5_K_dot_q8_K_ref(n, s, vx, vy);
#endif
}

/* ---- Q6_K: x = d * scale * (q - 32), q 6 bits, 16 int8 scales. In half h
 * (128 elements), element 128h + 32k + l (k < 4, l < 32) takes its low 4 bits
 * from ql[64h + l + 32 * (k & 1)] (low nibble for k < 2, high for k >= 2)
 * and its top 2 bits from bits 2k of qh[32h + l]. */

static inline int q6_K_value(const wl_block_q6_K *b, int e) {
    return wl_q6_K_q(b, e) - 32;
}

void q6_K_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q6_K *b = src;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        float d = wl_fp16_to_fp32(b[i].d);
        for (int e = 0; e < WL_QK_K; e++) dst[i * WL_QK_K + e] = d * (float)b[i].scales[e / 16] * (float)q6_K_value(&b[i], e);
    }
}

void q6_K_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q6_K *b = dst;
    for (int64_t i = 0; i < n / WL_QK_K; i++) {
        const float *x = src + i * WL_QK_K;
        float scales[16];
        for (int s = 0; s < 16; s++) scales[s] = wl_signed_absmax(x + 16 * s, 16) / -32.0f;
        b[i].d = wl_fp32_to_fp16(wl_signed_absmax(scales, 16) / -128.0f);
        float d = wl_fp16_to_fp32(b[i].d);
        uint8_t q[WL_QK_K];
        for (int s = 0; s < 16; s++) {
            int l = d != 0.0f ? clampi(round_int(scales[s] / d), -128, 127) : 0;
            b[i].scales[s] = (int8_t)l;
            quantize_symmetric(x + 16 * s, 16, d * l, 32, q + 16 * s);
        }
        memset(b[i].ql, 0, sizeof b[i].ql);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int e = 0; e < WL_QK_K; e++) wl_q6_K_put(&b[i], e, q[e]);
    }
}

void q6_K_dot_q8_K_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q6_K *x = vx;
    const wl_block_q8_K *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        int isum = 0;
        for (int sb = 0; sb < 16; sb++) {
            int sub = 0;
            for (int e = 16 * sb; e < 16 * sb + 16; e++) sub += q6_K_value(&x[i], e) * y[i].qs[e];
            isum += x[i].scales[sb] * sub;
        }
        sum += wl_fp16_to_fp32(x[i].d) * y[i].d * (float)isum;
    }
    *s = sum;
}

void q6_K_dot_q8_K(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q6_K *x = vx;
    const wl_block_q8_K *y = vy;
    const v128_t mask = wasm_i8x16_splat(15);
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK_K; i++) {
        v128_t acc = wasm_i32x4_splat(0);
        for (int h = 0; h < 2; h++) {
            for (int half = 0; half < 2; half++) { /* l in [16 * half, 16 * half + 16) */
                int l0 = 16 * half;
                v128_t qlA = wasm_v128_load(x[i].ql + 64 * h + l0);      /* k = 0 (low), 2 (high) */
                v128_t qlB = wasm_v128_load(x[i].ql + 64 * h + 32 + l0); /* k = 1 (low), 3 (high) */
                v128_t qh = wasm_v128_load(x[i].qh + 32 * h + l0);
                v128_t v[4];
                v[0] = wasm_v128_and(qlA, mask);
                v[1] = wasm_v128_and(qlB, mask);
                v[2] = wasm_u8x16_shr(qlA, 4);
                v[3] = wasm_u8x16_shr(qlB, 4);
                for (int k = 0; k < 4; k++) {
                    v128_t q = wl_q6_K_values(v[k], qh, k);
                    int e0 = 128 * h + 32 * k + l0;
                    v128_t dot = wl_dot_i8x16(q, wasm_v128_load(y[i].qs + e0));
                    acc = wasm_i32x4_add(acc, wasm_i32x4_mul(dot, wasm_i32x4_splat(x[i].scales[e0 / 16])));
                }
            }
        }
        sum += wl_fp16_to_fp32(x[i].d) * y[i].d * (float)wl_hsum_i32x4(acc);
    }
    *s = sum;
#else
    q6_K_dot_q8_K_ref(n, s, vx, vy);
#endif
}
