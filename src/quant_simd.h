/* Small SIMD128 helpers shared by the quant_*.c kernels. */
#ifndef WL_QUANT_SIMD_H
#define WL_QUANT_SIMD_H
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#include "quant.h"

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

/* 8 halves (one v128) to two f32x4 (elements 0-3 in *lo, 4-7 in *hi) for
 * halves known to be finite. Each half goes to the top of a 32-bit lane;
 * an arithmetic shift by 3 then puts exponent+mantissa where a float keeps
 * them (the sign copies are masked off, the sign bit stays) and * 2^112
 * rebiases, exact for normals, subnormals and zero. Exponent 31 (inf/NaN)
 * comes out wrong: callers check for it. */
static inline void wl_fp16x8_finite_to_f32x4x2(v128_t h, v128_t *lo, v128_t *hi) {
    const v128_t zero = wasm_i32x4_splat(0), keep = wasm_i32x4_splat((int32_t)0x8fffe000u);
    const v128_t scale = wasm_f32x4_splat(0x1p112f);
    v128_t a = wasm_i16x8_shuffle(zero, h, 0, 8, 1, 9, 2, 10, 3, 11);
    v128_t b = wasm_i16x8_shuffle(zero, h, 4, 12, 5, 13, 6, 14, 7, 15);
    *lo = wasm_f32x4_mul(wasm_v128_and(wasm_i32x4_shr(a, 3), keep), scale);
    *hi = wasm_f32x4_mul(wasm_v128_and(wasm_i32x4_shr(b, 3), keep), scale);
}

/* Eight halves to floats with the same bits as wl_fp16x4_to_f32x4, at
 * about half its cost: the finite conversion above, and the general path
 * only for a vector holding an inf or NaN (rare in activations and caches).
 * This runs for every cached K and V element attention reads. */
static inline void wl_fp16x8_to_f32x4x2(v128_t h, v128_t *lo, v128_t *hi) {
    const v128_t exp_mask = wasm_i16x8_splat(0x7c00);
    if (wasm_v128_any_true(wasm_i16x8_eq(wasm_v128_and(h, exp_mask), exp_mask))) {
        *lo = wl_fp16x4_to_f32x4(wasm_u32x4_extend_low_u16x8(h));
        *hi = wl_fp16x4_to_f32x4(wasm_u32x4_extend_high_u16x8(h));
        return;
    }
    wl_fp16x8_finite_to_f32x4x2(h, lo, hi);
}

/* Q5's fifth bits as byte masks: 0xff in byte j of *lo (element j) and of
 * *hi (element j + 16) where that element's bit of qh is set. */
static inline void wl_q5_high_masks(uint32_t qh, v128_t *lo, v128_t *hi) {
    const v128_t bits = wasm_u8x16_make(1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128);
    v128_t h = wasm_i32x4_splat((int32_t)qh);
    v128_t blo = wasm_i8x16_swizzle(h, wasm_i8x16_make(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
    v128_t bhi = wasm_i8x16_swizzle(h, wasm_i8x16_make(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
    *lo = wasm_i8x16_eq(wasm_v128_and(blo, bits), bits);
    *hi = wasm_i8x16_eq(wasm_v128_and(bhi, bits), bits);
}

/* Q5_0's 32 values minus 16 as int8 (elements 0-15 in *lo, 16-31 in *hi):
 * (nibble | bit4) - 16 == nibble | 0xf0 where bit4 is clear, as int8. */
static inline void wl_q5_0_unpack(const uint8_t *qs, uint32_t qh, v128_t *lo, v128_t *hi) {
    const v128_t mask = wasm_i8x16_splat(0x0f), minus16 = wasm_i8x16_splat((int8_t)0xf0);
    v128_t hlo, hhi;
    wl_q5_high_masks(qh, &hlo, &hhi);
    v128_t q = wasm_v128_load(qs);
    *lo = wasm_v128_or(wasm_v128_and(q, mask), wasm_v128_andnot(minus16, hlo));
    *hi = wasm_v128_or(wasm_u8x16_shr(q, 4), wasm_v128_andnot(minus16, hhi));
}

/* IQ4's 32 levels (elements 0-15 in *lo, 16-31 in *hi) from 16 bytes of
 * nibbles, by table lookup (swizzle). */
static inline void wl_iq4_unpack(const uint8_t *qs, v128_t *lo, v128_t *hi) {
    const v128_t table = wasm_v128_load(wl_iq4_levels);
    v128_t q = wasm_v128_load(qs);
    *lo = wasm_i8x16_swizzle(table, wasm_v128_and(q, wasm_i8x16_splat(0x0f)));
    *hi = wasm_i8x16_swizzle(table, wasm_u8x16_shr(q, 4));
}

/* K-quant value pieces, 16 elements at a time (shared by the vec_dots and
 * the tile kernels' unpack). Q3_K: the 2 low bits at bit 2 * sh of q and
 * the high bit at bit `bit` of hm, as low + 4 * high - 4. */
static inline v128_t wl_q3_K_values(v128_t q, v128_t hm, int sh, int bit) {
    const v128_t three = wasm_i8x16_splat(3), one = wasm_i8x16_splat(1), four = wasm_i8x16_splat(4);
    return wasm_i8x16_sub(wasm_v128_or(wasm_v128_and(wasm_u8x16_shr(q, 2 * sh), three),
                                       wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(hm, bit), one), 2)), four);
}

/* Q5_K: the nibbles v with bit `bit` of h as their fifth bit. */
static inline v128_t wl_q5_K_values(v128_t v, v128_t h, int bit) {
    return wasm_v128_or(v, wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(h, bit), wasm_i8x16_splat(1)), 4));
}

/* Q6_K: the low 4 bits lo with bits 2k, 2k + 1 of qh on top, minus 32. */
static inline v128_t wl_q6_K_values(v128_t lo, v128_t qh, int k) {
    v128_t top = wasm_i8x16_shl(wasm_v128_and(wasm_u8x16_shr(qh, 2 * k), wasm_i8x16_splat(3)), 4);
    return wasm_i8x16_sub(wasm_v128_or(lo, top), wasm_i8x16_splat(32));
}

#endif
#endif
