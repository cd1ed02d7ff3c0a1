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

/* Four halves (zero-extended in u32 lanes) to floats; the same exact bit
 * trick as wl_fp16_to_fp32 in fp16.h, lane-wise. */
static inline v128_t wl_fp16x4_to_f32x4(v128_t h) {
    v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);
    v128_t em = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7fff)), 13);
    v128_t scaled = wasm_f32x4_mul(em, wasm_f32x4_splat(0x1p112f));
    v128_t special = wasm_u32x4_ge(em, wasm_i32x4_splat(0x0f800000));
    v128_t infnan = wasm_v128_or(em, wasm_i32x4_splat(0x70000000));
    return wasm_v128_or(wasm_v128_bitselect(infnan, scaled, special), sign);
}

#endif
#endif
