/* Q4_1: blocks of 32 4-bit values with f16 scale and min; value = q * d + m.
 * Nibble order as Q4_0 (byte j: element j low, element j+16 high).
 * Dots against Q8_1 activations. */
#include <math.h>
#include "fp16.h"
#include "quant.h"
#include "quant_simd.h"

void q4_1_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        float d = wl_fp16_to_fp32(b[i].d), m = wl_fp16_to_fp32(b[i].m);
        for (int j = 0; j < WL_QK / 2; j++) {
            dst[i * WL_QK + j] = (b[i].qs[j] & 0x0f) * d + m;
            dst[i * WL_QK + j + 16] = (b[i].qs[j] >> 4) * d + m;
        }
    }
}

/* As ggml's reference: [min, max] split into 15 steps, round to nearest. */
void q4_1_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        const float *x = src + i * WL_QK;
        float min, max;
        wl_min_max(x, WL_QK, &min, &max);
        float d = (max - min) / 15.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = wl_fp32_to_fp16(d);
        b[i].m = wl_fp32_to_fp16(min);
        for (int j = 0; j < WL_QK / 2; j++) {
            int q0 = (int)fminf(15.0f, fmaxf(0.0f, (x[j] - min) * id + 0.5f));
            int q1 = (int)fminf(15.0f, fmaxf(0.0f, (x[j + 16] - min) * id + 0.5f));
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void q4_1_dot_q8_1_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q4_1 *x = vx;
    const wl_block_q8_1 *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < WL_QK / 2; j++) {
            sumi += (x[i].qs[j] & 0x0f) * y[i].qs[j];
            sumi += (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        }
        sum += (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d)) * (float)sumi
             + wl_fp16_to_fp32(x[i].m) * wl_fp16_to_fp32(y[i].s);
    }
    *s = sum;
}

/* Same order of float operations as the twin, so results are bit-identical. */
void q4_1_dot_q8_1(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q4_1 *x = vx;
    const wl_block_q8_1 *y = vy;
    const v128_t mask = wasm_i8x16_splat(0x0f);
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        v128_t q = wasm_v128_load(x[i].qs);
        v128_t acc = wasm_i32x4_add(wl_dot_i8x16(wasm_v128_and(q, mask), wasm_v128_load(y[i].qs)),
                                    wl_dot_i8x16(wasm_u8x16_shr(q, 4), wasm_v128_load(y[i].qs + 16)));
        sum += (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d)) * (float)wl_hsum_i32x4(acc)
             + wl_fp16_to_fp32(x[i].m) * wl_fp16_to_fp32(y[i].s);
    }
    *s = sum;
#else
    q4_1_dot_q8_1_ref(n, s, vx, vy);
#endif
}
