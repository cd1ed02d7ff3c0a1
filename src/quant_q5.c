/* Q5_0 and Q5_1: Q4_0/Q4_1 nibbles plus a fifth bit per element in qh
 * (32 bits, little-endian: bit j is element j's high bit).
 * Q5_0: value = (q - 16) * d, dots against Q8_0.
 * Q5_1: value = q * d + m, dots against Q8_1. */
#include <math.h>
#include "fp16.h"
#include "quant.h"
#include "quant_simd.h"

static inline uint32_t load_qh(const uint8_t qh[4]) {
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 | (uint32_t)qh[3] << 24;
}

static inline void store_qh(uint8_t qh[4], uint32_t v) {
    for (int k = 0; k < 4; k++) qh[k] = (uint8_t)(v >> (8 * k));
}

/* 5-bit value of element j (0..31) of a block. */
static inline int q5_value(const uint8_t qs[16], uint32_t qh, int j) {
    int nib = j < 16 ? qs[j] & 0x0f : qs[j - 16] >> 4;
    return nib | (int)((qh >> j) & 1u) << 4;
}

/* Packs 32 5-bit values into nibbles + high bits. */
static void q5_pack(const int q[32], uint8_t qs[16], uint8_t qh_out[4]) {
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) qs[j] = (uint8_t)((q[j] & 0x0f) | ((q[j + 16] & 0x0f) << 4));
    for (int j = 0; j < 32; j++) qh |= (uint32_t)((q[j] >> 4) & 1) << j;
    store_qh(qh_out, qh);
}

/* ---- Q5_0 ---- */

void q5_0_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q5_0 *b = src;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        float d = wl_fp16_to_fp32(b[i].d);
        uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < WL_QK; j++) dst[i * WL_QK + j] = (q5_value(b[i].qs, qh, j) - 16) * d;
    }
}

/* As ggml's reference: the largest-magnitude element maps to -16 exactly. */
void q5_0_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q5_0 *b = dst;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        const float *x = src + i * WL_QK;
        float d = wl_signed_absmax(x, WL_QK) / -16.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < WL_QK; j++) q[j] = (int)fminf(31.0f, fmaxf(0.0f, x[j] * id + 16.5f));
        b[i].d = wl_fp32_to_fp16(d);
        q5_pack(q, b[i].qs, b[i].qh);
    }
}

void q5_0_dot_q8_0_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q5_0 *x = vx;
    const wl_block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < WL_QK; j++) sumi += (q5_value(x[i].qs, qh, j) - 16) * y[i].qs[j];
        sum += (float)sumi * (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d));
    }
    *s = sum;
}

/* Same order of float operations as the twin, so results are bit-identical. */
void q5_0_dot_q8_0(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q5_0 *x = vx;
    const wl_block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        v128_t lo, hi;
        wl_q5_0_unpack(x[i].qs, load_qh(x[i].qh), &lo, &hi);
        v128_t acc = wasm_i32x4_add(wl_dot_i8x16(lo, wasm_v128_load(y[i].qs)),
                                    wl_dot_i8x16(hi, wasm_v128_load(y[i].qs + 16)));
        sum += (float)wl_hsum_i32x4(acc) * (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d));
    }
    *s = sum;
#else
    q5_0_dot_q8_0_ref(n, s, vx, vy);
#endif
}

/* ---- Q5_1 ---- */

void q5_1_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q5_1 *b = src;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        float d = wl_fp16_to_fp32(b[i].d), m = wl_fp16_to_fp32(b[i].m);
        uint32_t qh = load_qh(b[i].qh);
        for (int j = 0; j < WL_QK; j++) dst[i * WL_QK + j] = q5_value(b[i].qs, qh, j) * d + m;
    }
}

void q5_1_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q5_1 *b = dst;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        const float *x = src + i * WL_QK;
        float min, max;
        wl_min_max(x, WL_QK, &min, &max);
        float d = (max - min) / 31.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        int q[32];
        for (int j = 0; j < WL_QK; j++) q[j] = (int)fminf(31.0f, fmaxf(0.0f, (x[j] - min) * id + 0.5f));
        b[i].d = wl_fp32_to_fp16(d);
        b[i].m = wl_fp32_to_fp16(min);
        q5_pack(q, b[i].qs, b[i].qh);
    }
}

void q5_1_dot_q8_1_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q5_1 *x = vx;
    const wl_block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        uint32_t qh = load_qh(x[i].qh);
        int sumi = 0;
        for (int j = 0; j < WL_QK; j++) sumi += q5_value(x[i].qs, qh, j) * y[i].qs[j];
        sum += (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d)) * (float)sumi
             + wl_fp16_to_fp32(x[i].m) * wl_fp16_to_fp32(y[i].s);
    }
    *s = sum;
}

void q5_1_dot_q8_1(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q5_1 *x = vx;
    const wl_block_q8_1 *y = vy;
    const v128_t mask = wasm_i8x16_splat(0x0f), bit4 = wasm_i8x16_splat(0x10);
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        v128_t hlo, hhi;
        wl_q5_high_masks(load_qh(x[i].qh), &hlo, &hhi);
        v128_t q = wasm_v128_load(x[i].qs);
        v128_t lo = wasm_v128_or(wasm_v128_and(q, mask), wasm_v128_and(hlo, bit4));
        v128_t hi = wasm_v128_or(wasm_u8x16_shr(q, 4), wasm_v128_and(hhi, bit4));
        v128_t acc = wasm_i32x4_add(wl_dot_i8x16(lo, wasm_v128_load(y[i].qs)),
                                    wl_dot_i8x16(hi, wasm_v128_load(y[i].qs + 16)));
        sum += (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d)) * (float)wl_hsum_i32x4(acc)
             + wl_fp16_to_fp32(x[i].m) * wl_fp16_to_fp32(y[i].s);
    }
    *s = sum;
#else
    q5_1_dot_q8_1_ref(n, s, vx, vy);
#endif
}
