/* F32, F16 and BF16: rows of plain floats. The dots accumulate the way ggml's
 * scalar code does (float products summed in double); the SIMD128 versions
 * sum in four float lanes, so they differ from the twins by rounding only. */
#include <string.h>
#include "fp16.h"
#include "quant.h"
#include "quant_simd.h"

/* ---- F32 ---- */

void f32_to_float(const void *src, float *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void f32_from_float(const float *src, void *dst, int64_t n) {
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void f32_dot_f32_ref(int n, float *s, const void *vx, const void *vy) {
    const float *x = vx, *y = vy;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(x[i] * y[i]);
    *s = (float)sum;
}

void f32_dot_f32(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const float *x = vx, *y = vy;
    v128_t acc[4] = { wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0), wasm_f32x4_splat(0) };
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        for (int k = 0; k < 4; k++) {
            v128_t p = wasm_f32x4_mul(wasm_v128_load(x + i + 4 * k), wasm_v128_load(y + i + 4 * k));
            acc[k] = wasm_f32x4_add(acc[k], p);
        }
    }
    float sum = wl_hsum_f32x4(wasm_f32x4_add(wasm_f32x4_add(acc[0], acc[1]), wasm_f32x4_add(acc[2], acc[3])));
    for (; i < n; i++) sum += x[i] * y[i];
    *s = sum;
#else
    f32_dot_f32_ref(n, s, vx, vy);
#endif
}

/* ---- F16 ---- */

void f16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++) dst[i] = wl_fp16_to_fp32(h[i]);
}

void f16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = wl_fp32_to_fp16(src[i]);
}

void f16_dot_f16_ref(int n, float *s, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(wl_fp16_to_fp32(x[i]) * wl_fp16_to_fp32(y[i]));
    *s = (float)sum;
}

void f16_dot_f16(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const uint16_t *x = vx, *y = vy;
    v128_t acc0 = wasm_f32x4_splat(0), acc1 = wasm_f32x4_splat(0);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t hx = wasm_v128_load(x + i), hy = wasm_v128_load(y + i);
        v128_t xl = wl_fp16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(hx));
        v128_t xh = wl_fp16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(hx));
        v128_t yl = wl_fp16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(hy));
        v128_t yh = wl_fp16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(hy));
        acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(xl, yl));
        acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(xh, yh));
    }
    float sum = wl_hsum_f32x4(wasm_f32x4_add(acc0, acc1));
    for (; i < n; i++) sum += wl_fp16_to_fp32(x[i]) * wl_fp16_to_fp32(y[i]);
    *s = sum;
#else
    f16_dot_f16_ref(n, s, vx, vy);
#endif
}

/* ---- BF16 ---- */

void bf16_to_float(const void *src, float *dst, int64_t n) {
    const uint16_t *b = src;
    for (int64_t i = 0; i < n; i++) dst[i] = wl_bf16_to_fp32(b[i]);
}

void bf16_from_float(const float *src, void *dst, int64_t n) {
    uint16_t *b = dst;
    for (int64_t i = 0; i < n; i++) b[i] = wl_fp32_to_bf16(src[i]);
}

void bf16_dot_bf16_ref(int n, float *s, const void *vx, const void *vy) {
    const uint16_t *x = vx, *y = vy;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += (double)(wl_bf16_to_fp32(x[i]) * wl_bf16_to_fp32(y[i]));
    *s = (float)sum;
}

void bf16_dot_bf16(int n, float *s, const void *vx, const void *vy) {
#ifdef __wasm_simd128__
    const uint16_t *x = vx, *y = vy;
    const v128_t zero = wasm_i32x4_splat(0);
    v128_t acc0 = zero, acc1 = zero;
    int i = 0;
    for (; i + 8 <= n; i += 8) {
        v128_t bx = wasm_v128_load(x + i), by = wasm_v128_load(y + i);
        /* A bf16 is the high half of a float: interleave with zeros. */
        v128_t xl = wasm_i16x8_shuffle(zero, bx, 0, 8, 1, 9, 2, 10, 3, 11);
        v128_t xh = wasm_i16x8_shuffle(zero, bx, 4, 12, 5, 13, 6, 14, 7, 15);
        v128_t yl = wasm_i16x8_shuffle(zero, by, 0, 8, 1, 9, 2, 10, 3, 11);
        v128_t yh = wasm_i16x8_shuffle(zero, by, 4, 12, 5, 13, 6, 14, 7, 15);
        acc0 = wasm_f32x4_add(acc0, wasm_f32x4_mul(xl, yl));
        acc1 = wasm_f32x4_add(acc1, wasm_f32x4_mul(xh, yh));
    }
    float sum = wl_hsum_f32x4(wasm_f32x4_add(acc0, acc1));
    for (; i < n; i++) sum += wl_bf16_to_fp32(x[i]) * wl_bf16_to_fp32(y[i]);
    *s = sum;
#else
    bf16_dot_bf16_ref(n, s, vx, vy);
#endif
}
