/* Q4_0: blocks of 32 4-bit values with one f16 scale; value = (q - 8) * d.
 * Byte j holds element j in its low nibble and element j+16 in its high one. */
#include <math.h>
#include "fp16.h"
#include "quant.h"
#include "quant_simd.h"

void q4_0_to_float(const void *src, float *dst, int64_t n) {
    const wl_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        float d = wl_fp16_to_fp32(b[i].d);
        for (int j = 0; j < WL_QK / 2; j++) {
            dst[i * WL_QK + j] = ((b[i].qs[j] & 0x0f) - 8) * d;
            dst[i * WL_QK + j + 16] = ((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

/* As ggml's reference: the element of largest magnitude maps exactly to -8
 * (d = max / -8, keeping its sign), the rest round to nearest and clamp at 15. */
void q4_0_from_float(const float *src, void *dst, int64_t n) {
    wl_block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / WL_QK; i++) {
        const float *x = src + i * WL_QK;
        float d = wl_signed_absmax(x, WL_QK) / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        b[i].d = wl_fp32_to_fp16(d);
        for (int j = 0; j < WL_QK / 2; j++) {
            /* fmaxf/fminf before the cast keep NaN input from being UB. */
            int q0 = (int)fminf(15.0f, fmaxf(0.0f, x[j] * id + 8.5f));
            int q1 = (int)fminf(15.0f, fmaxf(0.0f, x[j + 16] * id + 8.5f));
            b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void q4_0_dot_q8_0_ref(int n, float *s, const void *vx, const void *vy) {
    const wl_block_q4_0 *x = vx;
    const wl_block_q8_0 *y = vy;
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        int sumi = 0;
        for (int j = 0; j < WL_QK / 2; j++) {
            sumi += ((x[i].qs[j] & 0x0f) - 8) * y[i].qs[j];
            sumi += ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        }
        sum += (float)sumi * (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d));
    }
    *s = sum;
}

/* Same order of float operations as the twin, so results are bit-identical. */
void q4_0_dot_q8_0(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const wl_block_q4_0 *x = vx;
    const wl_block_q8_0 *y = vy;
    const v128_t mask = wasm_i8x16_splat(0x0f), eight = wasm_i8x16_splat(8);
    float sum = 0.0f;
    for (int i = 0; i < n / WL_QK; i++) {
        v128_t q = wasm_v128_load(x[i].qs);
        v128_t lo = wasm_i8x16_sub(wasm_v128_and(q, mask), eight);
        v128_t hi = wasm_i8x16_sub(wasm_u8x16_shr(q, 4), eight);
        v128_t acc = wasm_i32x4_add(wl_dot_i8x16(lo, wasm_v128_load(y[i].qs)),
                                    wl_dot_i8x16(hi, wasm_v128_load(y[i].qs + 16)));
        sum += (float)wl_hsum_i32x4(acc) * (wl_fp16_to_fp32(x[i].d) * wl_fp16_to_fp32(y[i].d));
    }
    *s = sum;
#else
    q4_0_dot_q8_0_ref(n, s, vx, vy);
#endif
}
