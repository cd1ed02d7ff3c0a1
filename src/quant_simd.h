/* Small SIMD128 helpers shared by the quant_*.c kernels. */
#ifndef WL_QUANT_SIMD_H
#define WL_QUANT_SIMD_H
#ifdef __wasm_simd128__
#include <wasm_simd128.h>

/* Sum of a[i]*b[i] over 16 signed bytes, as 4 i32 partial sums. Widening to
 * i16 first means no product or pair sum can overflow, even for -128. */
static inline v128_t wl_dot_i8x16(v128_t a, v128_t b) {
    v128_t lo = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(a), wasm_i16x8_extend_low_i8x16(b));
    v128_t hi = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(a), wasm_i16x8_extend_high_i8x16(b));
    return wasm_i32x4_add(lo, hi);
}

static inline int32_t wl_hsum_i32x4(v128_t v) {
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_i32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_i32x4_extract_lane(v, 0);
}

static inline float wl_hsum_f32x4(v128_t v) {
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 2, 3, 0, 1));
    v = wasm_f32x4_add(v, wasm_i32x4_shuffle(v, v, 1, 0, 3, 2));
    return wasm_f32x4_extract_lane(v, 0);
}

#endif
#endif
