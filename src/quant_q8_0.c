/* Q8_0: blocks of 32 int8 with one f16 scale; value = q * d.
 * Also the activation encoding for Q4_0, Q5_0, Q8_0 and IQ4_NL weights. */
#include <math.h>
#include "fp16.h"
#include "quant.h"
#include "quant_simd.h"

/* The scale and int8 values of one 32-value block, as ggml's reference
 * quantizers compute them (shared by Q8_0 and Q8_1): d = amax/127,
 * q = round(x/d) (ties away from zero), with the inverse taken from the
 * unrounded d. The clamp only matters for NaN input, where it keeps the
 * float->int conversion defined. Returns the sum of the q (Q8_1 keeps it). */
static int quantize_block_i8(const float *x, int8_t *qs, float *d_out) {
    float amax = 0.0f;
    for (int j = 0; j < WL_QK; j++) amax = fmaxf(amax, fabsf(x[j]));
    float d = amax / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    int sum = 0;
    for (int j = 0; j < WL_QK; j++) {
        float v = fminf(127.0f, fmaxf(-127.0f, x[j] * id));
        qs[j] = (int8_t)roundf(v);
        sum += qs[j];
    }
    *d_out = d;
    return sum;
}

static void dequantize_block_i8(const int8_t *qs, uint16_t d16, float *dst) {
    float d = wl_fp16_to_fp32(d16);
    for (int j = 0; j < WL_QK; j++) dst[j] = qs[j] * d;
}

void q8_0_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / WL_QK; i++) dequantize_block_i8(b[i].qs, b[i].d, dst + i * WL_QK);
}

void q8_0_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        float d;
        quantize_block_i8(src + i * WL_QK, b[i].qs, &d);
        b[i].d = wl_fp32_to_fp16(d);
    }
}

/* Per block an exact integer sum, scaled by d_x*d_y and summed in float. */
void q8_0_dot_q8_0_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q8_0 *x = vx, *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < WL_QK; j++) sumi += x[i].qs[j] * y[i].qs[j];
        sum += (float)sumi * (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d));
    }
    *s = sum;
}

/* Same order of float operations as the twin, so results are bit-identical. */
void q8_0_dot_q8_0(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q8_0 *x = vx, *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        v128_t acc = wl_dot_i8x16(wasm_v128_load(x[i].qs), wasm_v128_load(y[i].qs));
        acc = wasm_i32x4_add(acc, wl_dot_i8x16(wasm_v128_load(x[i].qs + 16), wasm_v128_load(y[i].qs + 16)));
        sum += (float)wl_hsum_i32x4(acc) * (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d));
    }
    *s = sum;
#else
    q8_0_dot_q8_0_ref(n, s, vx, vy);
#endif
}

/* ---- Q8_1: Q8_0 plus s = d * sum(q), the activation encoding for the
 * formats with a min (Q4_1, Q5_1): the min's contribution is m_x * s_y. */

void q8_1_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q8_1 *b = src;
    for (int64_t i = 0; i < n / WL_QK; i++) dequantize_block_i8(b[i].qs, b[i].d, dst + i * WL_QK);
}

void q8_1_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        float d;
        int sum = quantize_block_i8(src + i * WL_QK, b[i].qs, &d);
        b[i].d = wl_fp32_to_fp16(d);
        b[i].s = wl_fp32_to_fp16((float)sum * d);
    }
}
