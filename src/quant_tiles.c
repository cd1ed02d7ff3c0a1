/* SIMD128 tile kernels for the formats dotted against Q8_0 / Q8_1
 * activations (Q4_0, Q5_0, Q8_0, IQ4_NL; Q4_1, Q5_1 with their mins), the
 * float formats and the K-quants, used by wl_matmul in wasm SIMD builds.
 *
 * Why: a lone vec_dot re-widens the activations for every weight row, sums
 * each block horizontally and converts two f16 scales per block. Here the
 * activations are widened to int16 once per matmul (the "wide" encoding in
 * quant.h), and one pass computes 4 rows x 1 token (decode) or 1 row x 4
 * tokens (prompt): the unpacked weights or the activations are reused four
 * times, four block sums are reduced together, and four outputs are scaled
 * and accumulated in one f32x4. Each output lane still accumulates
 * (float)block_sum * (d_x * d_y) in block order, exactly like the scalar
 * twins, so results are bit-identical to vec_dot_ref. */
#include <stddef.h>
#include <string.h>
#include "fp16.h"
#include "quant.h"
#include "quant_simd.h"
#include "types.h"

#ifdef __wasm_simd128__

#define ALWAYS_INLINE static inline __attribute__((always_inline))

enum { KIND_Q4_0, KIND_Q5_0, KIND_Q8_0, KIND_IQ4_NL, KIND_Q4_1, KIND_Q5_1 };

/* Every one of these blocks starts with its f16 scale. */
ALWAYS_INLINE size_t block_bytes(int kind) {
    switch (kind) {
    case KIND_Q4_0: return sizeof(wl_block_q4_0);
    case KIND_Q5_0: return sizeof(wl_block_q5_0);
    case KIND_Q8_0: return sizeof(wl_block_q8_0);
    case KIND_Q4_1: return sizeof(wl_block_q4_1);
    case KIND_Q5_1: return sizeof(wl_block_q5_1);
    default: return sizeof(wl_block_iq4_nl);
    }
}

/* Q4_1 and Q5_1 add m * s_y per block (their f16 min m follows d). */
ALWAYS_INLINE int has_min(int kind) {
    return kind == KIND_Q4_1 || kind == KIND_Q5_1;
}

ALWAYS_INLINE uint16_t block_min(const uint8_t *blk) {
    uint16_t m;
    memcpy(&m, blk + 2, sizeof m);
    return m;
}

ALWAYS_INLINE uint16_t block_scale(const uint8_t *blk) {
    uint16_t d;
    memcpy(&d, blk, sizeof d);
    return d;
}

/* 16 bytes of nibbles as four u16x8: the low nibbles of bytes 0-7, of
 * bytes 8-15, then the high nibbles of bytes 0-7 and 8-15 (Q4_0's and
 * Q4_1's elements 0-7, 8-15, 16-23, 24-31; one Q4_K/Q5_K chunk's lo and hi). */
ALWAYS_INLINE void widen_nibbles(v128_t q, v128_t lo[2], v128_t hi[2]) {
    const v128_t mask16 = wasm_i16x8_splat(0x0f);
    v128_t a = wasm_u16x8_extend_low_u8x16(q), b = wasm_u16x8_extend_high_u8x16(q);
    lo[0] = wasm_v128_and(a, mask16);
    lo[1] = wasm_v128_and(b, mask16);
    hi[0] = wasm_u16x8_shr(a, 4);
    hi[1] = wasm_u16x8_shr(b, 4);
}

/* 32 int8 values (elements 0-15 in lo, 16-31 in hi) as four i16x8. */
ALWAYS_INLINE void widen_i8(v128_t lo, v128_t hi, v128_t x[4]) {
    x[0] = wasm_i16x8_extend_low_i8x16(lo);
    x[1] = wasm_i16x8_extend_high_i8x16(lo);
    x[2] = wasm_i16x8_extend_low_i8x16(hi);
    x[3] = wasm_i16x8_extend_high_i8x16(hi);
}

/* The block's 32 values as four i16x8 (elements 0-7, 8-15, 16-23, 24-31).
 * Q4_0 yields its raw nibbles 0..15: the -8 offset is applied once per
 * block as -8 * sum(y) (see block_offset), saving the per-value work.
 * Q4_1 and Q5_1 values are unsigned as stored. */
ALWAYS_INLINE void unpack(int kind, const uint8_t *blk, v128_t x[4]) {
    v128_t lo, hi;
    if (kind == KIND_Q4_0 || kind == KIND_Q4_1) {
        widen_nibbles(wasm_v128_load(blk + (kind == KIND_Q4_1 ? offsetof(wl_block_q4_1, qs) : offsetof(wl_block_q4_0, qs))),
                      x, x + 2);
        return;
    }
    if (kind == KIND_Q8_0) {
        lo = wasm_v128_load(blk + 2);
        hi = wasm_v128_load(blk + 18);
    } else if (kind == KIND_IQ4_NL) {
        wl_iq4_unpack(blk + 2, &lo, &hi);
    } else if (kind == KIND_Q5_1) {
        const v128_t mask = wasm_i8x16_splat(0x0f), bit4 = wasm_i8x16_splat(0x10);
        uint32_t qh;
        memcpy(&qh, blk + offsetof(wl_block_q5_1, qh), sizeof qh);
        v128_t hlo, hhi, q = wasm_v128_load(blk + offsetof(wl_block_q5_1, qs));
        wl_q5_high_masks(qh, &hlo, &hhi);
        lo = wasm_v128_or(wasm_v128_and(q, mask), wasm_v128_and(hlo, bit4));
        hi = wasm_v128_or(wasm_u8x16_shr(q, 4), wasm_v128_and(hhi, bit4)); /* 0..31: signed widening is exact */
    } else {
        uint32_t qh;
        memcpy(&qh, blk + offsetof(wl_block_q5_0, qh), sizeof qh);
        wl_q5_0_unpack(blk + offsetof(wl_block_q5_0, qs), qh, &lo, &hi);
    }
    widen_i8(lo, hi, x);
}

/* Block of unpacked weights dot 32 wide activations: 4 i32 partials. */
ALWAYS_INLINE v128_t dot_wide(const v128_t x[4], const int16_t *y) {
    v128_t a = wasm_i32x4_dot_i16x8(x[0], wasm_v128_load(y));
    v128_t b = wasm_i32x4_dot_i16x8(x[1], wasm_v128_load(y + 8));
    v128_t c = wasm_i32x4_dot_i16x8(x[2], wasm_v128_load(y + 16));
    v128_t d = wasm_i32x4_dot_i16x8(x[3], wasm_v128_load(y + 24));
    return wasm_i32x4_add(wasm_i32x4_add(a, b), wasm_i32x4_add(c, d));
}

/* Bit v of each byte of h moved to bit 4 (the fifth bit of a Q5 value).
 * 16-bit shifts are exact here: moving by at most 4 never carries a bit
 * across a byte's bit 4. */
ALWAYS_INLINE v128_t bit_to_4(v128_t h, int v) {
    return v < 4 ? wasm_i16x8_shl(h, 4 - v) : v == 4 ? h : wasm_u16x8_shr(h, v - 4);
}

/* What to add to a block's raw integer sum: -8 * sum(y) for Q4_0's raw
 * nibbles, nothing for the others. */
ALWAYS_INLINE int32_t block_offset(int kind, int32_t ysum) {
    return kind == KIND_Q4_0 ? -8 * ysum : 0;
}

/* Lane k = horizontal sum of sk. */
ALWAYS_INLINE v128_t reduce4(v128_t s0, v128_t s1, v128_t s2, v128_t s3) {
    v128_t u01 = wasm_i32x4_add(wasm_i32x4_shuffle(s0, s1, 0, 4, 1, 5), wasm_i32x4_shuffle(s0, s1, 2, 6, 3, 7));
    v128_t u23 = wasm_i32x4_add(wasm_i32x4_shuffle(s2, s3, 0, 4, 1, 5), wasm_i32x4_shuffle(s2, s3, 2, 6, 3, 7));
    return wasm_i32x4_add(wasm_i32x4_shuffle(u01, u23, 0, 1, 4, 5), wasm_i32x4_shuffle(u01, u23, 2, 3, 6, 7));
}

/* The four lanes of acc to out[0], out[os], out[2os], out[3os]: one row's
 * results for four tokens. */
ALWAYS_INLINE void store_strided(v128_t acc, float *out, int64_t os) {
    out[0] = wasm_f32x4_extract_lane(acc, 0);
    out[os] = wasm_f32x4_extract_lane(acc, 1);
    out[2 * os] = wasm_f32x4_extract_lane(acc, 2);
    out[3 * os] = wasm_f32x4_extract_lane(acc, 3);
}

/* Lane r of v in all four lanes (shuffles take constant lanes only). */
ALWAYS_INLINE v128_t lane_splat(v128_t v, int r) {
    switch (r) {
    case 0: return wasm_i32x4_shuffle(v, v, 0, 0, 0, 0);
    case 1: return wasm_i32x4_shuffle(v, v, 1, 1, 1, 1);
    case 2: return wasm_i32x4_shuffle(v, v, 2, 2, 2, 2);
    default: return wasm_i32x4_shuffle(v, v, 3, 3, 3, 3);
    }
}

/* One token's wide row: n int16 values, n/32 f32 scales, n/32 int32 sums,
 * n/32 f32 Q8_1 sums s (d * sum rounded through f16, as a Q8_1 block
 * stores it, for Q4_1's and Q5_1's m * s); in the relaxed-SIMD build also
 * the n values as int8 (q8), the relaxed dot's signed operand. */
typedef struct { const int16_t *q; const float *d; const int32_t *sum; const float *s; const int8_t *q8; } q8_act;

/* Bytes of the int8 copy the relaxed build appends to a wide row. */
ALWAYS_INLINE size_t wide_i8_bytes(int64_t n) {
#ifdef __wasm_relaxed_simd__
    return (size_t)n;
#else
    (void)n;
    return 0;
#endif
}

ALWAYS_INLINE q8_act q8_act_at(const uint8_t *row, int n) {
    const size_t nb = (size_t)(n / WL_QK);
    q8_act a;
    a.q = (const int16_t *)row;
    a.d = (const float *)(row + (size_t)n * 2);
    a.sum = (const int32_t *)(row + (size_t)n * 2 + nb * 4);
    a.s = (const float *)(row + (size_t)n * 2 + nb * 8);
    a.q8 = (const int8_t *)(row + (size_t)n * 2 + nb * 12);
    return a;
}

size_t wl_q8_0_wide_row_size(int64_t n) {
    size_t bytes = (size_t)n * sizeof(int16_t) + (size_t)(n / WL_QK) * (2 * sizeof(float) + sizeof(int32_t)) +
                   wide_i8_bytes(n);
    return (bytes + 15) & ~(size_t)15;
}

void wl_q8_0_wide_from_float(const float *x, void *dst, int64_t n) {
    q8_act a = q8_act_at(dst, (int)n);
    for (int64_t b = 0; b < n / WL_QK; b++) {
        int8_t qs[WL_QK];
        float d;
        int32_t sum = wl_quantize_block_i8(x + b * WL_QK, qs, &d);
        int16_t *q = (int16_t *)a.q + b * WL_QK;
        for (int j = 0; j < WL_QK; j += 16) {
            v128_t v = wasm_v128_load(qs + j);
            wasm_v128_store(q + j, wasm_i16x8_extend_low_i8x16(v));
            wasm_v128_store(q + j + 8, wasm_i16x8_extend_high_i8x16(v));
        }
        /* the scale as a Q8_0 block stores it: rounded to f16 */
        ((float *)a.d)[b] = wl_fp16_to_fp32(wl_fp32_to_fp16(d));
        ((int32_t *)a.sum)[b] = sum;
        ((float *)a.s)[b] = wl_fp16_to_fp32(wl_fp32_to_fp16((float)sum * d));
        memcpy((int8_t *)a.q8 + b * WL_QK, qs, wide_i8_bytes(WL_QK));
    }
}

/* acc + each lane's block term, in the twins' order: f32(sum) * (d_x * d_y),
 * plus m_x * s_y for the formats with mins. */
ALWAYS_INLINE v128_t combine(int kind, v128_t acc, v128_t sums, v128_t scale, v128_t mx, v128_t sy) {
    v128_t t = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sums), scale);
    if (has_min(kind)) t = wasm_f32x4_add(t, wasm_f32x4_mul(mx, sy));
    return wasm_f32x4_add(acc, t);
}

/* 4 consecutive weight rows x 1 token -> out[0..3]. */
ALWAYS_INLINE void tile_4x1(int kind, int nb, const uint8_t *w, size_t ws, q8_act y, float *out) {
    const size_t bb = block_bytes(kind);
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
        const uint8_t *b0 = w + (size_t)b * bb, *b1 = b0 + ws, *b2 = b1 + ws, *b3 = b2 + ws;
        const int16_t *yq = y.q + WL_QK * b;
        v128_t x[4], s0, s1, s2, s3;
        unpack(kind, b0, x);
        s0 = dot_wide(x, yq);
        unpack(kind, b1, x);
        s1 = dot_wide(x, yq);
        unpack(kind, b2, x);
        s2 = dot_wide(x, yq);
        unpack(kind, b3, x);
        s3 = dot_wide(x, yq);
        v128_t sums = wasm_i32x4_add(reduce4(s0, s1, s2, s3), wasm_i32x4_splat(block_offset(kind, y.sum[b])));
        v128_t dx = wl_fp16x4_to_f32x4(wasm_i32x4_make(block_scale(b0), block_scale(b1), block_scale(b2), block_scale(b3)));
        v128_t scale = wasm_f32x4_mul(dx, wasm_f32x4_splat(y.d[b]));
        v128_t mx = has_min(kind) ? wl_fp16x4_to_f32x4(wasm_i32x4_make(block_min(b0), block_min(b1), block_min(b2), block_min(b3)))
                                  : wasm_f32x4_splat(0.0f);
        acc = combine(kind, acc, sums, scale, mx, wasm_f32x4_splat(has_min(kind) ? y.s[b] : 0.0f));
    }
    wasm_v128_store(out, acc);
}

/* 1 weight row x 4 tokens (act_stride bytes apart) -> out[k * out_stride]. */
ALWAYS_INLINE void tile_1x4(int kind, int n, const uint8_t *w, const uint8_t *act, size_t as, float *out,
                            int64_t os) {
    const size_t bb = block_bytes(kind);
    const int nb = n / WL_QK;
    q8_act y0 = q8_act_at(act, n), y1 = q8_act_at(act + as, n);
    q8_act y2 = q8_act_at(act + 2 * as, n), y3 = q8_act_at(act + 3 * as, n);
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = w + (size_t)b * bb;
        v128_t x[4];
        unpack(kind, blk, x);
        int off = WL_QK * b;
        v128_t sums = reduce4(dot_wide(x, y0.q + off), dot_wide(x, y1.q + off),
                              dot_wide(x, y2.q + off), dot_wide(x, y3.q + off));
        if (kind == KIND_Q4_0) {
            sums = wasm_i32x4_add(sums, wasm_i32x4_make(block_offset(kind, y0.sum[b]), block_offset(kind, y1.sum[b]),
                                                        block_offset(kind, y2.sum[b]), block_offset(kind, y3.sum[b])));
        }
        v128_t dy = wasm_f32x4_make(y0.d[b], y1.d[b], y2.d[b], y3.d[b]);
        v128_t scale = wasm_f32x4_mul(wasm_f32x4_splat(wl_fp16_to_fp32(block_scale(blk))), dy);
        v128_t mx = wasm_f32x4_splat(has_min(kind) ? wl_fp16_to_fp32(block_min(blk)) : 0.0f);
        v128_t sy = has_min(kind) ? wasm_f32x4_make(y0.s[b], y1.s[b], y2.s[b], y3.s[b]) : mx;
        acc = combine(kind, acc, sums, scale, mx, sy);
    }
    store_strided(acc, out, os);
}

/* 1 row x 1 token, for the leftovers. */
ALWAYS_INLINE float tile_1x1(int kind, int nb, const uint8_t *w, q8_act y) {
    const size_t bb = block_bytes(kind);
    float sum = 0.0f;
    for (int b = 0; b < nb; b++) {
        const uint8_t *blk = w + (size_t)b * bb;
        v128_t x[4];
        unpack(kind, blk, x);
        int32_t sumi = wl_hsum_i32x4(dot_wide(x, y.q + WL_QK * b)) + block_offset(kind, y.sum[b]);
        if (has_min(kind)) {
            sum += (wl_fp16_to_fp32(block_scale(blk)) * y.d[b]) * (float)sumi + wl_fp16_to_fp32(block_min(blk)) * y.s[b];
        } else {
            sum += (float)sumi * (wl_fp16_to_fp32(block_scale(blk)) * y.d[b]);
        }
    }
    return sum;
}

/* ---- float weights (F32, F16, BF16) ----
 * Activations: f32, already rounded through the weight type's vec_dot_type
 * (so F16 x F16 and BF16 x BF16 products are what vec_dot computes). The
 * sums run in float lanes, not in the twins' double: results agree with
 * vec_dot_ref to rounding, as the SIMD vec_dots do. */

/* Numbered after the Q8_0 family's kinds (and the K family after these) so
 * that the shared driver can tell a kind's family. */
enum { KIND_F32 = KIND_Q5_1 + 1, KIND_F16, KIND_BF16 };

/* 8 weights starting at element i as two f32x4; *hmax tracks the F16 |h|. */
ALWAYS_INLINE void load_float8(int kind, const uint8_t *w, int i, v128_t *lo, v128_t *hi, v128_t *hmax) {
    if (kind == KIND_F32) {
        *lo = wasm_v128_load(w + 4 * i);
        *hi = wasm_v128_load(w + 4 * i + 16);
    } else if (kind == KIND_BF16) {
        const v128_t zero = wasm_i32x4_splat(0);
        v128_t b = wasm_v128_load(w + 2 * i);
        *lo = wasm_i16x8_shuffle(zero, b, 0, 8, 1, 9, 2, 10, 3, 11);
        *hi = wasm_i16x8_shuffle(zero, b, 4, 12, 5, 13, 6, 14, 7, 15);
    } else {
        v128_t h = wasm_v128_load(w + 2 * i);
        /* inf/NaN convert wrongly here: the caller redoes such rows exactly */
        *hmax = wasm_u16x8_max(*hmax, wasm_v128_and(h, wasm_i16x8_splat(0x7fff)));
        wl_fp16x8_finite_to_f32x4x2(h, lo, hi);
    }
}

/* Any F16 inf/NaN seen? (|h| >= 0x7c00 in some lane) */
ALWAYS_INLINE int has_special(v128_t hmax) {
    return wasm_v128_any_true(wasm_u16x8_ge(hmax, wasm_i16x8_splat(0x7c00)));
}

/* Exact dot of one F16 row with f32 activations, for rows holding inf/NaN. */
static float f16_row_exact(int n, const uint8_t *w, const float *y) {
    const uint16_t *h = (const uint16_t *)w;
    float sum = 0.0f;
    for (int i = 0; i < n; i++) sum += wl_fp16_to_fp32(h[i]) * y[i];
    return sum;
}

/* The same float operations per output as float_4x1 and float_1x4, so a
 * row's result does not depend on which tile computed it: how many tokens
 * share a matmul (one sequence's or a batch's) leaves every sequence's bits
 * unchanged. */
ALWAYS_INLINE float float_1x1(int kind, int n, const uint8_t *w, const float *y) {
    v128_t acc = wasm_f32x4_splat(0.0f), hmax = wasm_i32x4_splat(0);
    for (int i = 0; i < n; i += 8) {
        v128_t lo, hi;
        load_float8(kind, w, i, &lo, &hi, &hmax);
        acc = wasm_f32x4_add(acc, wasm_f32x4_add(wasm_f32x4_mul(lo, wasm_v128_load(y + i)),
                                                 wasm_f32x4_mul(hi, wasm_v128_load(y + i + 4))));
    }
    if (kind == KIND_F16 && has_special(hmax)) return f16_row_exact(n, w, y);
    return wl_hsum_f32x4(acc);
}

ALWAYS_INLINE void float_4x1(int kind, int n, const uint8_t *w, size_t ws, const float *y, float *out) {
    v128_t acc[4], hmax[4];
    for (int r = 0; r < 4; r++) acc[r] = wasm_f32x4_splat(0.0f), hmax[r] = wasm_i32x4_splat(0);
    for (int i = 0; i < n; i += 8) {
        v128_t y0 = wasm_v128_load(y + i), y1 = wasm_v128_load(y + i + 4);
        for (int r = 0; r < 4; r++) {
            v128_t lo, hi;
            load_float8(kind, w + r * ws, i, &lo, &hi, &hmax[r]);
            acc[r] = wasm_f32x4_add(acc[r], wasm_f32x4_add(wasm_f32x4_mul(lo, y0), wasm_f32x4_mul(hi, y1)));
        }
    }
    for (int r = 0; r < 4; r++) {
        out[r] = kind == KIND_F16 && has_special(hmax[r]) ? f16_row_exact(n, w + r * ws, y) : wl_hsum_f32x4(acc[r]);
    }
}

ALWAYS_INLINE void float_1x4(int kind, int n, const uint8_t *w, const uint8_t *act, size_t as, float *out, int64_t os) {
    const float *y[4];
    v128_t acc[4], hmax = wasm_i32x4_splat(0);
    for (int t = 0; t < 4; t++) y[t] = (const float *)(act + t * as), acc[t] = wasm_f32x4_splat(0.0f);
    for (int i = 0; i < n; i += 8) {
        v128_t lo, hi;
        load_float8(kind, w, i, &lo, &hi, &hmax);
        for (int t = 0; t < 4; t++) {
            acc[t] = wasm_f32x4_add(acc[t], wasm_f32x4_add(wasm_f32x4_mul(lo, wasm_v128_load(y[t] + i)),
                                                           wasm_f32x4_mul(hi, wasm_v128_load(y[t] + i + 4))));
        }
    }
    int special = kind == KIND_F16 && has_special(hmax);
    for (int t = 0; t < 4; t++) out[t * os] = special ? f16_row_exact(n, w, y[t]) : wl_hsum_f32x4(acc[t]);
}

size_t wl_float_wide_row_size(int64_t n) {
    return ((size_t)n * sizeof(float) + 15) & ~(size_t)15;
}

void wl_float_wide_from_float(int type, const float *x, float *dst, int64_t n) {
    for (int64_t i = 0; i < n; i++) {
        if (type == WL_TYPE_F16) dst[i] = wl_fp16_to_fp32(wl_fp32_to_fp16(x[i]));
        else if (type == WL_TYPE_BF16) dst[i] = wl_bf16_to_fp32(wl_fp32_to_bf16(x[i]));
        else dst[i] = x[i];
    }
}

/* ---- K-quants and IQ4_XS (Q8_K activations) ----
 * A weight super-block is first unpacked to 256 int16 values already
 * multiplied by their sub-block scale (|q * scale| <= 4096 for every format,
 * so int16 holds it and the int32 dot sums cannot overflow), plus 16 mins
 * per 16 values. The integer super-block sum is then one plain int16 dot,
 * exact, and the float combine is the twins' expression:
 *   sum += (d_x * d_y) * isum - (dmin_x * d_y) * mins
 * (dmin_x = 0 for the formats without mins, which leaves d * isum exact). */

enum { KIND_Q2_K = KIND_BF16 + 1, KIND_Q3_K, KIND_Q4_K, KIND_Q5_K, KIND_Q6_K, KIND_IQ4_XS };

typedef struct {
    int16_t q[WL_QK_K] __attribute__((aligned(16)));
    int mins[16];   /* per 16 values; all 0 without mins */
    float d, dmin;  /* dmin 0 without mins */
    int has_mins;
} k_unpacked;

ALWAYS_INLINE size_t k_block_bytes(int kind) {
    switch (kind) {
    case KIND_Q2_K: return sizeof(wl_block_q2_K);
    case KIND_Q3_K: return sizeof(wl_block_q3_K);
    case KIND_Q4_K: return sizeof(wl_block_q4_K);
    case KIND_Q5_K: return sizeof(wl_block_q5_K);
    case KIND_Q6_K: return sizeof(wl_block_q6_K);
    default: return sizeof(wl_block_iq4_xs);
    }
}

/* 16 signed bytes times scale, widened, to dst[0..15]. */
ALWAYS_INLINE void put16(int16_t *dst, v128_t q, int scale) {
    v128_t s = wasm_i16x8_splat((int16_t)scale);
    wasm_v128_store(dst, wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(q), s));
    wasm_v128_store(dst + 8, wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(q), s));
}

ALWAYS_INLINE void k_unpack(int kind, const uint8_t *blk, k_unpacked *u) {
    const v128_t mask = wasm_i8x16_splat(15), three = wasm_i8x16_splat(3);
    u->has_mins = kind == KIND_Q2_K || kind == KIND_Q4_K || kind == KIND_Q5_K;
    u->dmin = 0.0f;
    if (kind == KIND_Q2_K) {
        const wl_block_q2_K *b = (const wl_block_q2_K *)blk;
        u->d = wl_fp16_to_fp32(b->d);
        u->dmin = wl_fp16_to_fp32(b->dmin);
        for (int g = 0; g < 16; g++) u->mins[g] = b->scales[g] >> 4;
        for (int h = 0; h < 2; h++) {
            v128_t q0 = wasm_v128_load(b->qs + 32 * h), q1 = wasm_v128_load(b->qs + 32 * h + 16);
            for (int sh = 0; sh < 4; sh++) {
                int e = 128 * h + 32 * sh;
                put16(u->q + e, wasm_v128_and(wasm_u8x16_shr(q0, 2 * sh), three), b->scales[e / 16] & 15);
                put16(u->q + e + 16, wasm_v128_and(wasm_u8x16_shr(q1, 2 * sh), three), b->scales[e / 16 + 1] & 15);
            }
        }
    } else if (kind == KIND_Q3_K) {
        const wl_block_q3_K *b = (const wl_block_q3_K *)blk;
        int sc[16];
        wl_q3_K_unpack_scales(b->scales, sc);
        u->d = wl_fp16_to_fp32(b->d);
        v128_t hm0 = wasm_v128_load(b->hmask), hm1 = wasm_v128_load(b->hmask + 16);
        for (int h = 0; h < 2; h++) {
            v128_t q0 = wasm_v128_load(b->qs + 32 * h), q1 = wasm_v128_load(b->qs + 32 * h + 16);
            for (int sh = 0; sh < 4; sh++) {
                int bit = 4 * h + sh, e = 128 * h + 32 * sh;
                put16(u->q + e, wl_q3_K_values(q0, hm0, sh, bit), sc[e / 16]);
                put16(u->q + e + 16, wl_q3_K_values(q1, hm1, sh, bit), sc[e / 16 + 1]);
            }
        }
    } else if (kind == KIND_Q4_K || kind == KIND_Q5_K) {
        const uint8_t *scales, *qs;
        uint16_t d, dmin;
        v128_t h0 = wasm_i32x4_splat(0), h1 = h0;
        if (kind == KIND_Q4_K) {
            const wl_block_q4_K *b = (const wl_block_q4_K *)blk;
            scales = b->scales, qs = b->qs, d = b->d, dmin = b->dmin;
        } else {
            const wl_block_q5_K *b = (const wl_block_q5_K *)blk;
            scales = b->scales, qs = b->qs, d = b->d, dmin = b->dmin;
            h0 = wasm_v128_load(b->qh), h1 = wasm_v128_load(b->qh + 16);
        }
        int sc[8], m[8];
        wl_q4_K_unpack_scales(scales, sc, m);
        u->d = wl_fp16_to_fp32(d);
        u->dmin = wl_fp16_to_fp32(dmin);
        for (int g = 0; g < 16; g++) u->mins[g] = m[g / 2];
        for (int c = 0; c < 4; c++) {
            v128_t a = wasm_v128_load(qs + 32 * c), b = wasm_v128_load(qs + 32 * c + 16);
            v128_t alo = wasm_v128_and(a, mask), blo = wasm_v128_and(b, mask);
            v128_t ahi = wasm_u8x16_shr(a, 4), bhi = wasm_u8x16_shr(b, 4);
            if (kind == KIND_Q5_K) {
                alo = wl_q5_K_values(alo, h0, 2 * c);
                blo = wl_q5_K_values(blo, h1, 2 * c);
                ahi = wl_q5_K_values(ahi, h0, 2 * c + 1);
                bhi = wl_q5_K_values(bhi, h1, 2 * c + 1);
            }
            put16(u->q + 64 * c, alo, sc[2 * c]);
            put16(u->q + 64 * c + 16, blo, sc[2 * c]);
            put16(u->q + 64 * c + 32, ahi, sc[2 * c + 1]);
            put16(u->q + 64 * c + 48, bhi, sc[2 * c + 1]);
        }
    } else if (kind == KIND_Q6_K) {
        const wl_block_q6_K *b = (const wl_block_q6_K *)blk;
        u->d = wl_fp16_to_fp32(b->d);
        for (int h = 0; h < 2; h++) {
            for (int half = 0; half < 2; half++) {
                int l0 = 16 * half;
                v128_t qlA = wasm_v128_load(b->ql + 64 * h + l0), qlB = wasm_v128_load(b->ql + 64 * h + 32 + l0);
                v128_t qh = wasm_v128_load(b->qh + 32 * h + l0);
                v128_t v[4] = { wasm_v128_and(qlA, mask), wasm_v128_and(qlB, mask), wasm_u8x16_shr(qlA, 4), wasm_u8x16_shr(qlB, 4) };
                for (int k = 0; k < 4; k++) {
                    int e0 = 128 * h + 32 * k + l0;
                    put16(u->q + e0, wl_q6_K_values(v[k], qh, k), b->scales[e0 / 16]);
                }
            }
        }
    } else { /* IQ4_XS */
        const wl_block_iq4_xs *b = (const wl_block_iq4_xs *)blk;
        const v128_t table = wasm_v128_load(wl_iq4_levels);
        u->d = wl_fp16_to_fp32(b->d);
        for (int ib = 0; ib < 8; ib++) {
            int lo = (b->scales_l[ib / 2] >> (4 * (ib % 2))) & 15, hi = (b->scales_h >> (2 * ib)) & 3;
            int ls = (lo | (hi << 4)) - 32;
            v128_t q = wasm_v128_load(b->qs + 16 * ib);
            put16(u->q + 32 * ib, wasm_i8x16_swizzle(table, wasm_v128_and(q, mask)), ls);
            put16(u->q + 32 * ib + 16, wasm_i8x16_swizzle(table, wasm_u8x16_shr(q, 4)), ls);
        }
    }
    if (!u->has_mins) memset(u->mins, 0, sizeof u->mins);
}

/* Integer dot of an unpacked super-block with 256 wide activations. */
ALWAYS_INLINE v128_t k_dot(const int16_t *x, const int16_t *y) {
    v128_t a0 = wasm_i32x4_splat(0), a1 = a0;
    for (int i = 0; i < WL_QK_K; i += 16) {
        a0 = wasm_i32x4_add(a0, wasm_i32x4_dot_i16x8(wasm_v128_load(x + i), wasm_v128_load(y + i)));
        a1 = wasm_i32x4_add(a1, wasm_i32x4_dot_i16x8(wasm_v128_load(x + i + 8), wasm_v128_load(y + i + 8)));
    }
    return wasm_i32x4_add(a0, a1);
}

ALWAYS_INLINE int k_mins(const k_unpacked *u, const int16_t *bsums) {
    if (!u->has_mins) return 0;
    int s = 0;
    for (int g = 0; g < 16; g++) s += u->mins[g] * bsums[g];
    return s;
}

/* Pointers into one token's wide Q8_K row (q8: the relaxed build's int8 copy). */
typedef struct { const int16_t *q; const float *d; const int16_t *bsums; const int8_t *q8; } k_act;

ALWAYS_INLINE k_act k_act_at(const uint8_t *row, int n) {
    k_act a;
    a.q = (const int16_t *)row;
    a.d = (const float *)(row + (size_t)n * 2);
    a.bsums = (const int16_t *)(row + (size_t)n * 2 + (size_t)(n / WL_QK_K) * 4);
    a.q8 = (const int8_t *)(row + (size_t)n * 2 + (size_t)(n / WL_QK_K) * 4 + (size_t)(n / 16) * 2);
    return a;
}

size_t wl_q8_K_wide_row_size(int64_t n) {
    size_t bytes = (size_t)n * 2 + (size_t)(n / WL_QK_K) * 4 + (size_t)(n / 16) * 2 + wide_i8_bytes(n);
    return (bytes + 15) & ~(size_t)15;
}

void wl_q8_K_wide_from_float(const float *x, void *dst, int64_t n) {
    k_act a = k_act_at(dst, (int)n);
    for (int64_t b = 0; b < n / WL_QK_K; b++) {
        wl_block_q8_K blk;
        q8_K_from_float(x + b * WL_QK_K, &blk, WL_QK_K);
        int16_t *q = (int16_t *)a.q + b * WL_QK_K;
        for (int j = 0; j < WL_QK_K; j++) q[j] = blk.qs[j];
        ((float *)a.d)[b] = blk.d;
        memcpy((int16_t *)a.bsums + b * 16, blk.bsums, sizeof blk.bsums);
        memcpy((int8_t *)a.q8 + b * WL_QK_K, blk.qs, wide_i8_bytes(WL_QK_K));
    }
}

ALWAYS_INLINE v128_t k_combine(v128_t acc, v128_t dx, v128_t dmx, v128_t dy, v128_t isum, v128_t mins) {
    v128_t scale = wasm_f32x4_mul(dx, dy), smin = wasm_f32x4_mul(dmx, dy);
    return wasm_f32x4_add(acc, wasm_f32x4_sub(wasm_f32x4_mul(scale, wasm_f32x4_convert_i32x4(isum)),
                                              wasm_f32x4_mul(smin, wasm_f32x4_convert_i32x4(mins))));
}

ALWAYS_INLINE void k_4x1(int kind, int nb, const uint8_t *w, size_t ws, k_act y, float *out) {
    const size_t bb = k_block_bytes(kind);
    k_unpacked u[4];
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
        for (int r = 0; r < 4; r++) k_unpack(kind, w + r * ws + (size_t)b * bb, &u[r]);
        const int16_t *yq = y.q + WL_QK_K * b;
        v128_t s[4];
        for (int r = 0; r < 4; r++) s[r] = wasm_i32x4_splat(0);
        for (int i = 0; i < WL_QK_K; i += 8) {
            v128_t yv = wasm_v128_load(yq + i);
            for (int r = 0; r < 4; r++) s[r] = wasm_i32x4_add(s[r], wasm_i32x4_dot_i16x8(wasm_v128_load(u[r].q + i), yv));
        }
        const int16_t *bs = y.bsums + 16 * b;
        v128_t mins = wasm_i32x4_make(k_mins(&u[0], bs), k_mins(&u[1], bs), k_mins(&u[2], bs), k_mins(&u[3], bs));
        acc = k_combine(acc, wasm_f32x4_make(u[0].d, u[1].d, u[2].d, u[3].d),
                        wasm_f32x4_make(u[0].dmin, u[1].dmin, u[2].dmin, u[3].dmin), wasm_f32x4_splat(y.d[b]),
                        reduce4(s[0], s[1], s[2], s[3]), mins);
    }
    wasm_v128_store(out, acc);
}

/* Q4_K's 8 sub-block scales as two i32x4 (sub-blocks 0-3, 4-7) and its 8
 * mins, each twice, in i16 lanes (m0 m0 m1 m1 ...) to dot with the 16
 * bsums: wl_q4_K_unpack_scales in a few byte shuffles instead of ~30
 * scalar operations per row and super-block. Reads 4 bytes past the 12
 * scale bytes, which are the block's own qs. */
ALWAYS_INLINE v128_t q4_K_scale_bytes(const uint8_t *q) {
    const v128_t zero = wasm_i32x4_splat(0);
    v128_t v = wasm_v128_load(q);
    /* low bits: q[0..3] & 63 (sc 0-3), q[8..11] & 15 (sc 4-7), q[4..7] & 63 (m 0-3), q[8..11] >> 4 (m 4-7) */
    v128_t a = wasm_i8x16_shuffle(v, v, 0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 8, 9, 10, 11);
    a = wasm_i8x16_shuffle(a, wasm_u8x16_shr(a, 4), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 28, 29, 30, 31);
    a = wasm_v128_and(a, wasm_i8x16_make(63, 63, 63, 63, 15, 15, 15, 15, 63, 63, 63, 63, 15, 15, 15, 15));
    /* top two bits of sc 4-7 and m 4-7: q[0..3] >> 6 and q[4..7] >> 6, at bits 4-5 */
    v128_t h = wasm_i8x16_shuffle(v, zero, 16, 16, 16, 16, 0, 1, 2, 3, 16, 16, 16, 16, 4, 5, 6, 7);
    return wasm_v128_or(a, wasm_v128_and(wasm_u8x16_shr(h, 2), wasm_i8x16_splat(0x30)));
}

ALWAYS_INLINE void q4_K_scales_mins(const uint8_t *q, v128_t *sc_lo, v128_t *sc_hi, v128_t *md0, v128_t *md1) {
    const v128_t zero = wasm_i32x4_splat(0);
    v128_t sm = q4_K_scale_bytes(q);
    v128_t sc16 = wasm_u16x8_extend_low_u8x16(sm);
    *sc_lo = wasm_u32x4_extend_low_u16x8(sc16);
    *sc_hi = wasm_u32x4_extend_high_u16x8(sc16);
    *md0 = wasm_i8x16_shuffle(sm, zero, 8, 16, 8, 16, 9, 16, 9, 16, 10, 16, 10, 16, 11, 16, 11, 16);
    *md1 = wasm_i8x16_shuffle(sm, zero, 12, 16, 12, 16, 13, 16, 13, 16, 14, 16, 14, 16, 15, 16, 15, 16);
}

/* Q5_K's fifth bits (qh) widened to 16-bit lanes: hw[k] holds qh[8k..8k+7],
 * whose bits 2c and 2c + 1 belong to chunk c. */
ALWAYS_INLINE void q5_K_high_words(const wl_block_q5_K *b, v128_t hw[4]) {
    v128_t h0 = wasm_v128_load(b->qh), h1 = wasm_v128_load(b->qh + 16);
    hw[0] = wasm_u16x8_extend_low_u8x16(h0), hw[1] = wasm_u16x8_extend_high_u8x16(h0);
    hw[2] = wasm_u16x8_extend_low_u8x16(h1), hw[3] = wasm_u16x8_extend_high_u8x16(h1);
}

/* Chunk c (64 values) of a Q4_K / Q5_K super-block in 16-bit lanes, in the
 * wide activations' order: lo = values 64c..64c+31 (the low nibbles), hi =
 * 64c+32..64c+63 (the high ones). Q5_K's fifth bits come from hw, which is
 * shifted right by 2 here so the next chunk finds its bits at 0 and 1
 * (constant shifts: a per-chunk shift amount ran 3x slower). */
ALWAYS_INLINE void q45_K_chunk(int kind, const uint8_t *qs, int c, v128_t hw[4], v128_t lo[4], v128_t hi[4]) {
    const v128_t bit4 = wasm_i16x8_splat(0x10);
    widen_nibbles(wasm_v128_load(qs + 32 * c), lo, hi);
    widen_nibbles(wasm_v128_load(qs + 32 * c + 16), lo + 2, hi + 2);
    if (kind != KIND_Q5_K) return;
    for (int k = 0; k < 4; k++) {
        lo[k] = wasm_v128_or(lo[k], wasm_v128_and(wasm_i16x8_shl(hw[k], 4), bit4));
        hi[k] = wasm_v128_or(hi[k], wasm_v128_and(wasm_i16x8_shl(hw[k], 3), bit4));
        hw[k] = wasm_u16x8_shr(hw[k], 2);
    }
}

/* A Q4_K / Q5_K super-block's integer sum for one token, straight from the
 * packed block: each chunk is widened in registers and dotted with the
 * wide activations; the eight sub-block sums are gathered into two vectors
 * and scaled at once, left as four i32 partials (the x4 kernel reduces
 * four rows' partials together). Exact, so equal to the twin's sum of
 * sc * sub. */
ALWAYS_INLINE v128_t q45_K_isum4(int kind, const wl_block_q4_K *head, v128_t sc_lo, v128_t sc_hi, const int16_t *yq) {
    const uint8_t *qs = kind == KIND_Q4_K ? head->qs : ((const wl_block_q5_K *)head)->qs;
    v128_t hw[4] = { 0 }, sub[8];
    if (kind == KIND_Q5_K) q5_K_high_words((const wl_block_q5_K *)head, hw);
    for (int c = 0; c < 4; c++) {
        v128_t lo[4], hi[4];
        q45_K_chunk(kind, qs, c, hw, lo, hi);
        sub[2 * c] = dot_wide(lo, yq + 64 * c);
        sub[2 * c + 1] = dot_wide(hi, yq + 64 * c + 32);
    }
    v128_t s0 = reduce4(sub[0], sub[1], sub[2], sub[3]), s1 = reduce4(sub[4], sub[5], sub[6], sub[7]);
    return wasm_i32x4_add(wasm_i32x4_mul(s0, sc_lo), wasm_i32x4_mul(s1, sc_hi));
}
ALWAYS_INLINE int32_t q45_K_isum(int kind, const wl_block_q4_K *head, v128_t sc_lo, v128_t sc_hi, const int16_t *yq) {
    return wl_hsum_i32x4(q45_K_isum4(kind, head, sc_lo, sc_hi, yq));
}

/* The mins term for one token: sum of m[j] * (bsum[2j] + bsum[2j + 1]),
 * as four i32 partials. */
ALWAYS_INLINE v128_t q45_K_mins(v128_t md0, v128_t md1, const int16_t *bs) {
    return wasm_i32x4_add(wasm_i32x4_dot_i16x8(md0, wasm_v128_load(bs)), wasm_i32x4_dot_i16x8(md1, wasm_v128_load(bs + 8)));
}

/* Q4_K and Q5_K, 4 rows x 1 token (decode) without unpacking super-blocks
 * to memory. Row by row: measured on weights streamed from memory
 * (bench/kernels.c --cold), interleaving four rows' super-blocks ran at
 * half the speed. Both formats start with d, dmin and the packed scales. */
ALWAYS_INLINE float q45_K_row(int kind, int nb, const uint8_t *x, k_act y) {
    const size_t bb = k_block_bytes(kind);
    float sum = 0.0f;
    for (int b = 0; b < nb; b++) {
        const wl_block_q4_K *head = (const wl_block_q4_K *)(x + (size_t)b * bb);
        const int16_t *bs = y.bsums + 16 * b, *yq = y.q + WL_QK_K * b;
        v128_t sc_lo, sc_hi, md0, md1;
        q4_K_scales_mins(head->scales, &sc_lo, &sc_hi, &md0, &md1);
        const int mins = wl_hsum_i32x4(q45_K_mins(md0, md1, bs));
        float isum = (float)q45_K_isum(kind, head, sc_lo, sc_hi, yq);
        float d = wl_fp16_to_fp32(head->d) * y.d[b], dmin = wl_fp16_to_fp32(head->dmin) * y.d[b];
        sum += d * isum - dmin * (float)mins;
    }
    return sum;
}

ALWAYS_INLINE void q45_K_4x1(int kind, int nb, const uint8_t *w, size_t ws, k_act y, float *out) {
    for (int r = 0; r < 4; r++) out[r] = q45_K_row(kind, nb, w + r * ws, y);
}

/* Q6_K's 16 sub-block scales as two i16x8 (scales 0-7, 8-15). */
ALWAYS_INLINE void q6_K_scales16(const wl_block_q6_K *b, v128_t sc16[2]) {
    const v128_t sc8 = wasm_v128_load(b->scales);
    sc16[0] = wasm_i16x8_extend_low_i8x16(sc8), sc16[1] = wasm_i16x8_extend_high_i8x16(sc8);
}

/* What the values' -32 takes from one token's super-block sum, as four
 * i32 partials: 32 * sum(scale * bsum) over the 16 groups. */
ALWAYS_INLINE v128_t q6_K_offset(const v128_t sc16[2], const int16_t *bs) {
    return wasm_i32x4_shl(wasm_i32x4_add(wasm_i32x4_dot_i16x8(sc16[0], wasm_v128_load(bs)),
                                         wasm_i32x4_dot_i16x8(sc16[1], wasm_v128_load(bs + 8))), 5);
}

/* Q6_K's 6-bit values for elements 128h + 32k + l0 .. +15 in bytes, without
 * their -32: ql's nibble (low for k < 2, from ql + 32 for odd k) and qh's
 * bits 2k, 2k + 1 at bits 4-5. 16-bit shifts are exact here: each mask
 * keeps only bits that stayed inside their byte (x86 has no 8-bit shifts). */
ALWAYS_INLINE v128_t q6_K_bytes(const wl_block_q6_K *b, int h, int k, int l0) {
    const v128_t m4 = wasm_i8x16_splat(0x0f), m30 = wasm_i8x16_splat(0x30);
    v128_t ql = wasm_v128_load(b->ql + 64 * h + 32 * (k & 1) + l0), qh = wasm_v128_load(b->qh + 32 * h + l0);
    v128_t lo = wasm_v128_and(k < 2 ? ql : wasm_u16x8_shr(ql, 4), m4);
    v128_t top = k == 0 ? wasm_i16x8_shl(qh, 4) : k == 1 ? wasm_i16x8_shl(qh, 2) : k == 2 ? qh : wasm_u16x8_shr(qh, 2);
    return wasm_v128_or(lo, wasm_v128_and(top, m30));
}

/* Q6_K's integer super-block sum for one row, from the packed block: the
 * values are assembled 16 at a time in bytes, widened once and dotted
 * with the wide activations; sub-block sums go four at a time through one
 * multiply by their scales. The -32 is applied once as
 * -32 * sum(scale * bsum) over the 16 groups. Exact, so equal to the
 * twin's sum of scale * sub. */
ALWAYS_INLINE v128_t q6_K_isum4(const wl_block_q6_K *b, const int16_t *yq, const int16_t *bs) {
    v128_t sc16[2], acc = wasm_i32x4_splat(0);
    q6_K_scales16(b, sc16);
    for (int h = 0; h < 2; h++) {
        for (int kp = 0; kp < 2; kp++) {
            /* scales 8h + 4kp .. + 3 belong to k = 2kp, 2kp + 1, halves 0, 1 */
            v128_t sub[4];
            for (int j = 0; j < 4; j++) {
                const int k = 2 * kp + j / 2, l0 = 16 * (j % 2);
                const v128_t v = q6_K_bytes(b, h, k, l0);
                const int16_t *y = yq + 128 * h + 32 * k + l0;
                sub[j] = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(v), wasm_v128_load(y)),
                                        wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(v), wasm_v128_load(y + 8)));
            }
            v128_t sc = kp == 0 ? wasm_i32x4_extend_low_i16x8(sc16[h]) : wasm_i32x4_extend_high_i16x8(sc16[h]);
            acc = wasm_i32x4_add(acc, wasm_i32x4_mul(reduce4(sub[0], sub[1], sub[2], sub[3]), sc));
        }
    }
    return wasm_i32x4_sub(acc, q6_K_offset(sc16, bs));
}

ALWAYS_INLINE int32_t q6_K_isum(const wl_block_q6_K *b, const int16_t *yq, const int16_t *bs) {
    return wl_hsum_i32x4(q6_K_isum4(b, yq, bs));
}

ALWAYS_INLINE float q6_K_row(int nb, const wl_block_q6_K *x, k_act y) {
    float sum = 0.0f;
    for (int b = 0; b < nb; b++) {
        float isum = (float)q6_K_isum(&x[b], y.q + WL_QK_K * b, y.bsums + 16 * b);
        sum += wl_fp16_to_fp32(x[b].d) * y.d[b] * isum;
    }
    return sum;
}

ALWAYS_INLINE void q6_K_4x1(int nb, const uint8_t *w, size_t ws, k_act y, float *out) {
    for (int r = 0; r < 4; r++) out[r] = q6_K_row(nb, (const wl_block_q6_K *)(w + r * ws), y);
}

/* Q4_K / Q5_K, 1 row x 4 tokens (prompts): each chunk is widened once in
 * registers and dotted with four tokens, instead of unpacking the
 * super-block to memory and reading it back per token (k_1x4). The float
 * combine is k_1x4's, so the results are the same bits. */
ALWAYS_INLINE void q45_K_1x4(int kind, int n, const uint8_t *w, size_t bstep, const uint8_t *act, size_t as, float *out,
                             int64_t os) {
    const int nb = n / WL_QK_K;
    k_act y[4];
    for (int t = 0; t < 4; t++) y[t] = k_act_at(act + t * as, n);
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
        const wl_block_q4_K *head = (const wl_block_q4_K *)(w + (size_t)b * bstep);
        const uint8_t *qs = kind == KIND_Q4_K ? head->qs : ((const wl_block_q5_K *)head)->qs;
        v128_t sc_lo, sc_hi, md0, md1, hw[4] = { 0 }, isum[4];
        q4_K_scales_mins(head->scales, &sc_lo, &sc_hi, &md0, &md1);
        if (kind == KIND_Q5_K) q5_K_high_words((const wl_block_q5_K *)head, hw);
        for (int t = 0; t < 4; t++) isum[t] = wasm_i32x4_splat(0);
        for (int c = 0; c < 4; c++) {
            v128_t lo[4], hi[4];
            q45_K_chunk(kind, qs, c, hw, lo, hi);
            v128_t s_lo = lane_splat(c < 2 ? sc_lo : sc_hi, (2 * c) % 4);
            v128_t s_hi = lane_splat(c < 2 ? sc_lo : sc_hi, (2 * c + 1) % 4);
            for (int t = 0; t < 4; t++) {
                const int16_t *yq = y[t].q + WL_QK_K * b + 64 * c;
                isum[t] = wasm_i32x4_add(isum[t], wasm_i32x4_add(wasm_i32x4_mul(dot_wide(lo, yq), s_lo),
                                                                 wasm_i32x4_mul(dot_wide(hi, yq + 32), s_hi)));
            }
        }
        v128_t mins = reduce4(q45_K_mins(md0, md1, y[0].bsums + 16 * b), q45_K_mins(md0, md1, y[1].bsums + 16 * b),
                              q45_K_mins(md0, md1, y[2].bsums + 16 * b), q45_K_mins(md0, md1, y[3].bsums + 16 * b));
        acc = k_combine(acc, wasm_f32x4_splat(wl_fp16_to_fp32(head->d)), wasm_f32x4_splat(wl_fp16_to_fp32(head->dmin)),
                        wasm_f32x4_make(y[0].d[b], y[1].d[b], y[2].d[b], y[3].d[b]),
                        reduce4(isum[0], isum[1], isum[2], isum[3]), mins);
    }
    store_strided(acc, out, os);
}

/* Q6_K, 1 row x 4 tokens (prompts): each 16 values are assembled once,
 * multiplied by their scale in 16-bit lanes (at most 63 * 127, so exact)
 * and dotted with four tokens. The float combine is k_1x4's with no mins,
 * so the results are the same bits. */
ALWAYS_INLINE void q6_K_1x4(int n, const uint8_t *w, size_t bstep, const uint8_t *act, size_t as, float *out, int64_t os) {
    const int nb = n / WL_QK_K;
    k_act y[4];
    for (int t = 0; t < 4; t++) y[t] = k_act_at(act + t * as, n);
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int bi = 0; bi < nb; bi++) {
        const wl_block_q6_K *b = (const wl_block_q6_K *)(w + (size_t)bi * bstep);
        v128_t sc16[2], isum[4];
        q6_K_scales16(b, sc16);
        for (int t = 0; t < 4; t++) isum[t] = wasm_i32x4_splat(0);
        for (int h = 0; h < 2; h++) {
            for (int k = 0; k < 4; k++) {
                for (int l0 = 0; l0 < 32; l0 += 16) {
                    const v128_t v = q6_K_bytes(b, h, k, l0), s = wasm_i16x8_splat(b->scales[8 * h + 2 * k + l0 / 16]);
                    const v128_t lo = wasm_i16x8_mul(wasm_u16x8_extend_low_u8x16(v), s);
                    const v128_t hi = wasm_i16x8_mul(wasm_u16x8_extend_high_u8x16(v), s);
                    for (int t = 0; t < 4; t++) {
                        const int16_t *yq = y[t].q + WL_QK_K * bi + 128 * h + 32 * k + l0;
                        isum[t] = wasm_i32x4_add(isum[t], wasm_i32x4_add(wasm_i32x4_dot_i16x8(lo, wasm_v128_load(yq)),
                                                                         wasm_i32x4_dot_i16x8(hi, wasm_v128_load(yq + 8))));
                    }
                }
            }
        }
        for (int t = 0; t < 4; t++) isum[t] = wasm_i32x4_sub(isum[t], q6_K_offset(sc16, y[t].bsums + 16 * bi));
        acc = k_combine(acc, wasm_f32x4_splat(wl_fp16_to_fp32(b->d)), wasm_f32x4_splat(0.0f),
                        wasm_f32x4_make(y[0].d[bi], y[1].d[bi], y[2].d[bi], y[3].d[bi]),
                        reduce4(isum[0], isum[1], isum[2], isum[3]), wasm_i32x4_splat(0));
    }
    store_strided(acc, out, os);
}

ALWAYS_INLINE void k_1x4(int kind, int n, const uint8_t *w, const uint8_t *act, size_t as, float *out, int64_t os) {
    const size_t bb = k_block_bytes(kind);
    const int nb = n / WL_QK_K;
    k_act y[4];
    for (int t = 0; t < 4; t++) y[t] = k_act_at(act + t * as, n);
    k_unpacked u;
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
        k_unpack(kind, w + (size_t)b * bb, &u);
        v128_t s[4];
        int m[4];
        for (int t = 0; t < 4; t++) {
            s[t] = k_dot(u.q, y[t].q + WL_QK_K * b);
            m[t] = k_mins(&u, y[t].bsums + 16 * b);
        }
        acc = k_combine(acc, wasm_f32x4_splat(u.d), wasm_f32x4_splat(u.dmin),
                        wasm_f32x4_make(y[0].d[b], y[1].d[b], y[2].d[b], y[3].d[b]),
                        reduce4(s[0], s[1], s[2], s[3]), wasm_i32x4_make(m[0], m[1], m[2], m[3]));
    }
    store_strided(acc, out, os);
}

ALWAYS_INLINE float k_1x1(int kind, int nb, const uint8_t *w, k_act y) {
    const size_t bb = k_block_bytes(kind);
    k_unpacked u;
    float sum = 0.0f;
    for (int b = 0; b < nb; b++) {
        k_unpack(kind, w + (size_t)b * bb, &u);
        float isum = (float)wl_hsum_i32x4(k_dot(u.q, y.q + WL_QK_K * b));
        float mins = (float)k_mins(&u, y.bsums + 16 * b);
        sum += (u.d * y.d[b]) * isum - (u.dmin * y.d[b]) * mins;
    }
    return sum;
}

/* ---- one driver for the three families ---- */

/* The token's wide row is passed as bytes; each family reads its layout. */
ALWAYS_INLINE void run_4x1(int kind, int n, const uint8_t *w, size_t ws, const uint8_t *y, float *out) {
    if (kind < KIND_F32) tile_4x1(kind, n / WL_QK, w, ws, q8_act_at(y, n), out);
    else if (kind < KIND_Q2_K) float_4x1(kind, n, w, ws, (const float *)y, out);
    else if (kind == KIND_Q4_K || kind == KIND_Q5_K) q45_K_4x1(kind, n / WL_QK_K, w, ws, k_act_at(y, n), out);
    else if (kind == KIND_Q6_K) q6_K_4x1(n / WL_QK_K, w, ws, k_act_at(y, n), out);
    else k_4x1(kind, n / WL_QK_K, w, ws, k_act_at(y, n), out);
}

ALWAYS_INLINE void run_1x4(int kind, int n, const uint8_t *w, const uint8_t *act, size_t as, float *out, int64_t os) {
    if (kind < KIND_F32) tile_1x4(kind, n, w, act, as, out, os);
    else if (kind < KIND_Q2_K) float_1x4(kind, n, w, act, as, out, os);
    else if (kind == KIND_Q4_K || kind == KIND_Q5_K) q45_K_1x4(kind, n, w, k_block_bytes(kind), act, as, out, os);
    else if (kind == KIND_Q6_K) q6_K_1x4(n, w, k_block_bytes(kind), act, as, out, os);
    else k_1x4(kind, n, w, act, as, out, os);
}

ALWAYS_INLINE float run_1x1(int kind, int n, const uint8_t *w, const uint8_t *y) {
    if (kind < KIND_F32) return tile_1x1(kind, n / WL_QK, w, q8_act_at(y, n));
    if (kind < KIND_Q2_K) return float_1x1(kind, n, w, (const float *)y);
    return k_1x1(kind, n / WL_QK_K, w, k_act_at(y, n));
}

/* Decode (fewer than 4 tokens) reuses each token across 4 rows; prompts
 * reuse each unpacked row across 4 tokens. */
ALWAYS_INLINE void tiles(int kind, int n, const void *vw, size_t ws, int64_t n_rows, const void *vact, size_t as,
                         int n_tokens, float *out, int64_t os) {
    const uint8_t *w = vw, *act = vact;
    int t = 0;
    if (n_tokens < 4) {
        for (; t < n_tokens; t++) {
            const uint8_t *y = act + (size_t)t * as;
            int64_t r = 0;
            for (; r + 4 <= n_rows; r += 4) run_4x1(kind, n, w + (size_t)r * ws, ws, y, out + t * os + r);
            for (; r < n_rows; r++) out[t * os + r] = run_1x1(kind, n, w + (size_t)r * ws, y);
        }
        return;
    }
    for (; t + 4 <= n_tokens; t += 4) {
        for (int64_t r = 0; r < n_rows; r++) run_1x4(kind, n, w + (size_t)r * ws, act + (size_t)t * as, as, out + t * os + r, os);
    }
    for (; t < n_tokens; t++) {
        const uint8_t *y = act + (size_t)t * as;
        for (int64_t r = 0; r < n_rows; r++) out[t * os + r] = run_1x1(kind, n, w + (size_t)r * ws, y);
    }
}

/* One wl_tile_fn per kind and layout: the driver inlined with a constant kind. */
#define TILE_FN(name, driver, kind)                                                                           \
    static void name(int n, const void *w, size_t ws, int64_t nr, const void *a, size_t as, int nt, float *o, \
                     int64_t os) {                                                                            \
        driver(kind, n, w, ws, nr, a, as, nt, o, os);                                                         \
    }
#define TILES(name, kind) TILE_FN(name, tiles, kind)
TILES(q4_0_tiles, KIND_Q4_0)
TILES(q5_0_tiles, KIND_Q5_0)
TILES(q8_0_tiles, KIND_Q8_0)
TILES(iq4_nl_tiles, KIND_IQ4_NL)
TILES(q4_1_tiles, KIND_Q4_1)
TILES(q5_1_tiles, KIND_Q5_1)
TILES(f32_tiles, KIND_F32)
TILES(f16_tiles, KIND_F16)
TILES(bf16_tiles, KIND_BF16)
TILES(q2_K_tiles, KIND_Q2_K)
TILES(q3_K_tiles, KIND_Q3_K)
TILES(q4_K_tiles, KIND_Q4_K)
TILES(q5_K_tiles, KIND_Q5_K)
TILES(q6_K_tiles, KIND_Q6_K)
TILES(iq4_xs_tiles, KIND_IQ4_XS)

/* ---- the x4 layout (quant.h): four rows interleaved block by block ----
 * The same per-output float operations as tile_4x1 and tile_1x4 above, so
 * the results are bit-identical to the plain layout's (and to vec_dot_ref). */

ALWAYS_INLINE int x4_type(int kind) {
    switch (kind) {
    case KIND_Q4_0: return WL_TYPE_Q4_0;
    case KIND_Q5_0: return WL_TYPE_Q5_0;
    case KIND_Q8_0: return WL_TYPE_Q8_0;
    case KIND_Q4_1: return WL_TYPE_Q4_1;
    case KIND_Q5_1: return WL_TYPE_Q5_1;
    default: return WL_TYPE_IQ4_NL;
    }
}

/* The four rows' scales (at g) or mins (at g + 8) of a group block.
 * repack.c keeps a matrix with an inf/NaN scale or min in the plain
 * layout, so the finite conversion is exact. */
ALWAYS_INLINE v128_t x4_halves(const uint8_t *g) {
    v128_t lo, hi;
    wl_fp16x8_finite_to_f32x4x2(wasm_v128_load64_zero(g), &lo, &hi);
    return lo;
}

/* Row r's 32 values in a group block as four i16x8, in unpack()'s order:
 * Q4_0's raw nibbles 0..15 and Q5_0's raw values 0..31 (their -8 and -16
 * go in per block through x4_offset), Q8_0's and IQ4_NL's signed values. */
ALWAYS_INLINE void x4_unpack(int kind, const uint8_t *g, int r, v128_t x[4]) {
    const uint8_t *p = g + wl_x4_payload_offset(x4_type(kind), r);
    v128_t lo, hi;
    if (kind == KIND_Q4_0 || kind == KIND_Q5_0 || kind == KIND_Q4_1 || kind == KIND_Q5_1) {
        const v128_t m4 = wasm_i8x16_splat(0x0f);
        v128_t q = wasm_v128_load(p);
        if (kind == KIND_Q4_0 || kind == KIND_Q4_1) {
            widen_nibbles(q, x, x + 2);
            return;
        }
        const v128_t bit4 = wasm_i8x16_splat(0x10);
        v128_t h = wasm_v128_load(g + wl_x4_bit_plane_offset(x4_type(kind)));
        lo = wasm_v128_or(wasm_v128_and(q, m4), wasm_v128_and(bit_to_4(h, 2 * r), bit4));
        hi = wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(q, 4), m4), wasm_v128_and(bit_to_4(h, 2 * r + 1), bit4));
        widen_i8(lo, hi, x); /* 0..31: signed widening is exact */
        return;
    }
    if (kind == KIND_Q8_0) {
        lo = wasm_v128_load(p);
        hi = wasm_v128_load(p + 16);
    } else {
        wl_iq4_unpack(p, &lo, &hi);
    }
    widen_i8(lo, hi, x);
}

ALWAYS_INLINE int32_t x4_offset(int kind, int32_t ysum) {
    return kind == KIND_Q4_0 ? -8 * ysum : kind == KIND_Q5_0 ? -16 * ysum : 0;
}

/* One group (4 rows) x 1 token -> out[0..3]. */
ALWAYS_INLINE void x4_4x1(int kind, int nb, const uint8_t *g, q8_act y, float *out) {
    const size_t gb = WL_X4_ROWS * block_bytes(kind);
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
        const uint8_t *gk = g + (size_t)b * gb;
        const int16_t *yq = y.q + WL_QK * b;
        v128_t x[4], s0, s1, s2, s3;
        x4_unpack(kind, gk, 0, x);
        s0 = dot_wide(x, yq);
        x4_unpack(kind, gk, 1, x);
        s1 = dot_wide(x, yq);
        x4_unpack(kind, gk, 2, x);
        s2 = dot_wide(x, yq);
        x4_unpack(kind, gk, 3, x);
        s3 = dot_wide(x, yq);
        v128_t sums = wasm_i32x4_add(reduce4(s0, s1, s2, s3), wasm_i32x4_splat(x4_offset(kind, y.sum[b])));
        v128_t scale = wasm_f32x4_mul(x4_halves(gk), wasm_f32x4_splat(y.d[b]));
        v128_t mx = has_min(kind) ? x4_halves(gk + 8) : wasm_f32x4_splat(0.0f);
        acc = combine(kind, acc, sums, scale, mx, wasm_f32x4_splat(has_min(kind) ? y.s[b] : 0.0f));
    }
    wasm_v128_store(out, acc);
}

/* One group x 4 tokens (act_stride bytes apart) -> out[t * os + r]. */
ALWAYS_INLINE void x4_4x4(int kind, int n, const uint8_t *g, const uint8_t *act, size_t as, float *out, int64_t os) {
    const size_t gb = WL_X4_ROWS * block_bytes(kind);
    const int nb = n / WL_QK;
    q8_act y0 = q8_act_at(act, n), y1 = q8_act_at(act + as, n);
    q8_act y2 = q8_act_at(act + 2 * as, n), y3 = q8_act_at(act + 3 * as, n);
    v128_t acc[4];
    for (int r = 0; r < 4; r++) acc[r] = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
        const uint8_t *gk = g + (size_t)b * gb;
        const int off = WL_QK * b;
        v128_t dx = x4_halves(gk);
        v128_t dy = wasm_f32x4_make(y0.d[b], y1.d[b], y2.d[b], y3.d[b]);
        v128_t mx = has_min(kind) ? x4_halves(gk + 8) : wasm_f32x4_splat(0.0f);
        v128_t sy = has_min(kind) ? wasm_f32x4_make(y0.s[b], y1.s[b], y2.s[b], y3.s[b]) : mx;
        v128_t offs = wasm_i32x4_make(x4_offset(kind, y0.sum[b]), x4_offset(kind, y1.sum[b]),
                                      x4_offset(kind, y2.sum[b]), x4_offset(kind, y3.sum[b]));
        for (int r = 0; r < 4; r++) {
            v128_t x[4];
            x4_unpack(kind, gk, r, x);
            v128_t sums = reduce4(dot_wide(x, y0.q + off), dot_wide(x, y1.q + off),
                                  dot_wide(x, y2.q + off), dot_wide(x, y3.q + off));
            sums = wasm_i32x4_add(sums, offs);
            v128_t scale = wasm_f32x4_mul(lane_splat(dx, r), dy);
            acc[r] = combine(kind, acc[r], sums, scale, lane_splat(mx, r), sy);
        }
    }
    for (int r = 0; r < 4; r++) {
        out[r] = wasm_f32x4_extract_lane(acc[r], 0);
        out[os + r] = wasm_f32x4_extract_lane(acc[r], 1);
        out[2 * os + r] = wasm_f32x4_extract_lane(acc[r], 2);
        out[3 * os + r] = wasm_f32x4_extract_lane(acc[r], 3);
    }
}

/* ---- K-quants (Q4_K, Q5_K, Q6_K) in the x4 layout: the four rows'
 * super-blocks back to back (quant.h) ---- */

ALWAYS_INLINE int is_k_x4(int kind) {
    return kind == KIND_Q4_K || kind == KIND_Q5_K || kind == KIND_Q6_K;
}

/* Row r's super-block b in a group. */
ALWAYS_INLINE const uint8_t *k_x4_block(int kind, const uint8_t *g, int b, int r) {
    return g + ((size_t)b * WL_X4_ROWS + (size_t)r) * k_block_bytes(kind);
}

/* One group x 1 token -> out[0..3]: each row's integer sums as in
 * q45_K_row / q6_K_row, but the four rows' sums reduced together and their
 * f16 scales converted in one go, and the float combine done for four rows
 * in one f32x4 (the same operations per lane, so the same bits). Measured
 * (bench/kernels.c --cold): this over four plain rows read side by side
 * ran slower, over four rows' blocks in one stream faster. */
ALWAYS_INLINE void k_x4_4x1(int kind, int nb, const uint8_t *g, k_act y, float *out) {
    v128_t acc = wasm_f32x4_splat(0.0f);
    for (int b = 0; b < nb; b++) {
        const int16_t *bs = y.bsums + 16 * b, *yq = y.q + WL_QK_K * b;
        const v128_t dy = wasm_f32x4_splat(y.d[b]);
        v128_t is[4], mn[4];
        uint32_t dm[4];
        if (kind == KIND_Q6_K) {
            for (int r = 0; r < 4; r++) {
                const wl_block_q6_K *blk = (const wl_block_q6_K *)k_x4_block(kind, g, b, r);
                is[r] = q6_K_isum4(blk, yq, bs);
                dm[r] = blk->d;
            }
            v128_t scale = wasm_f32x4_mul(wl_fp16x4_to_f32x4(wasm_i32x4_make(dm[0], dm[1], dm[2], dm[3])), dy);
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(scale, wasm_f32x4_convert_i32x4(reduce4(is[0], is[1], is[2], is[3]))));
            continue;
        }
        /* bsum[2j] + bsum[2j + 1] for the 8 mins, shared by the four rows
         * (each at most 32 * 127: exact in 16 bits) */
        const v128_t ones = wasm_i16x8_splat(1);
        const v128_t pairs = wasm_i16x8_narrow_i32x4(wasm_i32x4_dot_i16x8(wasm_v128_load(bs), ones),
                                                     wasm_i32x4_dot_i16x8(wasm_v128_load(bs + 8), ones));
        for (int r = 0; r < 4; r++) {
            const wl_block_q4_K *head = (const wl_block_q4_K *)k_x4_block(kind, g, b, r);
            const v128_t sm = q4_K_scale_bytes(head->scales), sc16 = wasm_u16x8_extend_low_u8x16(sm);
            mn[r] = wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(sm), pairs);
            is[r] = q45_K_isum4(kind, head, wasm_u32x4_extend_low_u16x8(sc16), wasm_u32x4_extend_high_u16x8(sc16), yq);
            memcpy(&dm[r], head, sizeof dm[r]); /* d, then dmin */
        }
        v128_t lo, hi;
        wl_fp16x8_to_f32x4x2(wasm_i32x4_make(dm[0], dm[1], dm[2], dm[3]), &lo, &hi);
        acc = k_combine(acc, wasm_i32x4_shuffle(lo, hi, 0, 2, 4, 6), wasm_i32x4_shuffle(lo, hi, 1, 3, 5, 7), dy,
                        reduce4(is[0], is[1], is[2], is[3]), reduce4(mn[0], mn[1], mn[2], mn[3]));
    }
    wasm_v128_store(out, acc);
}

/* One group x 4 tokens: the prompt kernels, row by row, stepping over the
 * other rows' blocks. */
ALWAYS_INLINE void k_x4_4x4(int kind, int n, const uint8_t *g, const uint8_t *act, size_t as, float *out, int64_t os) {
    const size_t bstep = WL_X4_ROWS * k_block_bytes(kind);
    for (int r = 0; r < 4; r++) {
        const uint8_t *first = k_x4_block(kind, g, 0, r);
        if (kind == KIND_Q6_K) q6_K_1x4(n, first, bstep, act, as, out + r, os);
        else q45_K_1x4(kind, n, first, bstep, act, as, out + r, os);
    }
}

/* A chunk of an x4 matrix: whole groups interleaved, then the matrix's last
 * n_rows % 4 rows (only in its final chunk) as plain rows. */
ALWAYS_INLINE void tiles_x4(int kind, int n, const void *vw, size_t ws, int64_t n_rows, const void *vact, size_t as,
                            int n_tokens, float *out, int64_t os) {
    const uint8_t *w = vw, *act = vact;
    const int64_t grouped = n_rows & ~(int64_t)(WL_X4_ROWS - 1);
    int t = 0;
    for (; n_tokens >= 4 && t + 4 <= n_tokens; t += 4) {
        for (int64_t r = 0; r < grouped; r += 4) {
            const uint8_t *g = w + (size_t)r * ws, *a = act + (size_t)t * as;
            if (is_k_x4(kind)) k_x4_4x4(kind, n, g, a, as, out + t * os + r, os);
            else x4_4x4(kind, n, g, a, as, out + t * os + r, os);
        }
    }
    for (; t < n_tokens; t++) {
        const uint8_t *a = act + (size_t)t * as;
        for (int64_t r = 0; r < grouped; r += 4) {
            if (is_k_x4(kind)) k_x4_4x1(kind, n / WL_QK_K, w + (size_t)r * ws, k_act_at(a, n), out + t * os + r);
            else x4_4x1(kind, n / WL_QK, w + (size_t)r * ws, q8_act_at(a, n), out + t * os + r);
        }
    }
    if (grouped < n_rows) tiles(kind, n, w + (size_t)grouped * ws, ws, n_rows - grouped, act, as, n_tokens, out + grouped, os);
}

#define TILES_X4(name, kind) TILE_FN(name, tiles_x4, kind)
TILES_X4(q4_0_tiles_x4, KIND_Q4_0)
TILES_X4(q5_0_tiles_x4, KIND_Q5_0)
TILES_X4(q8_0_tiles_x4, KIND_Q8_0)
TILES_X4(iq4_nl_tiles_x4, KIND_IQ4_NL)
TILES_X4(q4_1_tiles_x4, KIND_Q4_1)
TILES_X4(q5_1_tiles_x4, KIND_Q5_1)
TILES_X4(q4_K_tiles_x4, KIND_Q4_K)
TILES_X4(q5_K_tiles_x4, KIND_Q5_K)
TILES_X4(q6_K_tiles_x4, KIND_Q6_K)

/* ---- Q4_0 and Q4_K in the x16 layout (quant.h): 16 rows' nibbles stacked ---- */

/* The first `pairs` vectors of a nibble block (16 rows x 2 * pairs
 * elements) against nt tokens' wide values y[t]: out[t][f] lane k = row 4f + k's sum of q * y, except that
 * the top rows (f = 3) get (q - 8) * y. sum[f] gathers the lanes shifted
 * right by 4f, so lane k holds S_f = sum of y * (q_f + 16 q_{f+1} + ...)
 * and row 4f + k's own sum is S_f - 16 S_{f+1} (exact: no sum comes near
 * 2^31). The shifts are shared by the tokens. */
ALWAYS_INLINE void x16_nibble_sums(int nt, int pairs, const uint8_t *nb, const int16_t *const y[2], v128_t out[2][4]) {
    v128_t sum[2][4];
    for (int t = 0; t < nt; t++)
        for (int f = 0; f < 4; f++) sum[t][f] = wasm_i32x4_splat(0);
    const int16_t *yt[2] = { y[0], nt > 1 ? y[1] : y[0] };
    /* pointers step, as in x96_tri_sums */
    for (const uint8_t *end = nb + 16 * pairs; nb != end; nb += 16, yt[0] += 2, yt[1] += 2) {
        const v128_t w0 = wasm_v128_load(nb);
        const v128_t w[4] = { w0, wasm_i16x8_shr(w0, 4), wasm_i16x8_shr(w0, 8), wasm_i16x8_shr(w0, 12) };
        for (int t = 0; t < nt; t++) {
            const v128_t pair = wasm_v128_load32_splat(yt[t]);
            for (int f = 0; f < 4; f++) sum[t][f] = wasm_i32x4_add(sum[t][f], wasm_i32x4_dot_i16x8(w[f], pair));
        }
    }
    for (int t = 0; t < nt; t++) {
        for (int f = 0; f < 3; f++) out[t][f] = wasm_i32x4_sub(sum[t][f], wasm_i32x4_shl(sum[t][f + 1], 4));
        out[t][3] = sum[t][3];
    }
}

#ifdef __wasm_relaxed_simd__
/* The relaxed build's nibble sums (its nibble block in quant.h): out[t][f]
 * lane k = row 4f + k's sum of q * y over the block's 32 elements, every
 * row's q as stored (0..15, within the 7-bit operand, so the same sums on
 * every CPU). y[t]: the token's 32 int8 values. Each vector gives four
 * rows' four products per lane in one instruction; the masks are shared
 * by the tokens. */
ALWAYS_INLINE void x16_nibble_sums_i8(int nt, const uint8_t *nb, const int8_t *const y[2], v128_t out[2][4]) {
    const v128_t m4 = wasm_i8x16_splat(0x0f);
    /* one token: two accumulators per row quad (even and odd i) halve the
     * dependency chains; two tokens have eight chains already */
    const int chains = nt == 1 ? 2 : 1;
    v128_t acc[2][2][4];
    for (int t = 0; t < 2; t++)
        for (int c = 0; c < 2; c++)
            for (int f = 0; f < 4; f++) acc[t][c][f] = wasm_i32x4_splat(0);
    for (int i = 0; i < WL_QK / 4; i++, nb += 32) {
        const v128_t v0 = wasm_v128_load(nb), v1 = wasm_v128_load(nb + 16);
        const v128_t w[4] = { wasm_v128_and(v0, m4), wasm_v128_and(wasm_u16x8_shr(v0, 4), m4),
                              wasm_v128_and(v1, m4), wasm_v128_and(wasm_u16x8_shr(v1, 4), m4) };
        const int c = chains > 1 ? i % 2 : 0;
        for (int t = 0; t < nt; t++) {
            const v128_t ys = wasm_v128_load32_splat(y[t] + 4 * i);
            for (int f = 0; f < 4; f++) acc[t][c][f] = wasm_i32x4_relaxed_dot_i8x16_i7x16_add(ys, w[f], acc[t][c][f]);
        }
    }
    for (int t = 0; t < nt; t++)
        for (int f = 0; f < 4; f++) out[t][f] = chains > 1 ? wasm_i32x4_add(acc[t][0][f], acc[t][1][f]) : acc[t][0][f];
}
#endif

/* One x16 nibble block (32 elements of 16 rows) against nt tokens:
 * out[t][f] lane k is row 4f + k's integer sum, of (q - 8) * y for the rows
 * WL_X16_TOP_XOR biases and of q * y for the others. y16: the tokens'
 * int16 values, y8: the same as int8 (the relaxed build reads these). */
ALWAYS_INLINE void x16_block_sums(int nt, const uint8_t *nb, const int16_t *const y16[2], const int8_t *const y8[2],
                                  v128_t out[2][4]) {
#ifdef __wasm_relaxed_simd__
    (void)y16;
    x16_nibble_sums_i8(nt, nb, y8, out);
#else
    (void)y8;
    x16_nibble_sums(nt, WL_QK / 2, nb, y16, out);
#endif
}

/* 16 bytes (one per row) to four i32x4 in row order: rows 4f..4f + 3 in v[f]. */
ALWAYS_INLINE void x16_bytes_to_i32(v128_t b, v128_t v[4]) {
    const v128_t lo = wasm_u16x8_extend_low_u8x16(b), hi = wasm_u16x8_extend_high_u8x16(b);
    v[0] = wasm_u32x4_extend_low_u16x8(lo);
    v[1] = wasm_u32x4_extend_high_u16x8(lo);
    v[2] = wasm_u32x4_extend_low_u16x8(hi);
    v[3] = wasm_u32x4_extend_high_u16x8(hi);
}

/* The x16 kernels' float accumulators: zeroed, then stored as
 * out[t * os + 4f + k] (row 4f + k, token t). */
ALWAYS_INLINE void x16_acc_zero(int nt, v128_t acc[2][4]) {
    for (int t = 0; t < nt; t++)
        for (int f = 0; f < 4; f++) acc[t][f] = wasm_f32x4_splat(0.0f);
}

ALWAYS_INLINE void x16_acc_store(int nt, v128_t acc[2][4], float *out, int64_t os) {
    for (int t = 0; t < nt; t++)
        for (int f = 0; f < 4; f++) wasm_v128_store(out + t * os + 4 * f, acc[t][f]);
}

/* Q4_0: one group (16 rows) x nt tokens (1 or 2, as bytes apart) ->
 * out[t * os + r]. Q4_0's -8 goes in per block as -8 * sum(y) for the
 * rows whose nibbles are raw; then, per lane, the twins' float steps:
 * f32(sum) * (d_x * d_y) added in block order. */
ALWAYS_INLINE void x16_q4_0_group(int nt, int nb, const uint8_t *g, const uint8_t *act, size_t as, float *out,
                                  int64_t os) {
    q8_act y[2];
    v128_t acc[2][4];
    x16_acc_zero(nt, acc);
    for (int t = 0; t < nt; t++) y[t] = q8_act_at(act + (size_t)t * as, nb * WL_QK);
    for (int b = 0; b < nb; b++) {
        const uint8_t *gb = g + (size_t)b * WL_X16_ROWS * sizeof(wl_block_q4_0);
        const int16_t *yq[2] = { y[0].q + WL_QK * b, nt > 1 ? y[1].q + WL_QK * b : NULL };
        const int8_t *y8[2] = { y[0].q8 + WL_QK * b, nt > 1 ? y[1].q8 + WL_QK * b : NULL };
        v128_t own[2][4], dx[4];
        x16_block_sums(nt, gb + WL_X16_SCALE_BYTES, yq, y8, own);
        wl_fp16x8_finite_to_f32x4x2(wasm_v128_load(gb), &dx[0], &dx[1]);
        wl_fp16x8_finite_to_f32x4x2(wasm_v128_load(gb + 16), &dx[2], &dx[3]);
        for (int t = 0; t < nt; t++) {
            const v128_t off = wasm_i32x4_splat(-8 * y[t].sum[b]), dy = wasm_f32x4_splat(y[t].d[b]);
            for (int f = 0; f < 4; f++) {
                v128_t sums = WL_X16_TOP_XOR(4 * f) ? own[t][f] : wasm_i32x4_add(own[t][f], off);
                acc[t][f] = wasm_f32x4_add(acc[t][f], wasm_f32x4_mul(wasm_f32x4_convert_i32x4(sums),
                                                                     wasm_f32x4_mul(dx[f], dy)));
            }
        }
    }
    x16_acc_store(nt, acc, out, os);
}

/* Q4_K: the same for super-blocks. Per sub-block j, the 16 rows' 6-bit sc
 * and m are put together from their low nibbles and top bits (quant.h),
 * the nibble sums (the top rows' -8 undone as +8 * sum(y)) are multiplied
 * by sc, and m by the sub-block's sum(y); then k_combine's float steps, as
 * the twin: d_x * d_y * f32(isum) - dmin_x * d_y * f32(mins). */
ALWAYS_INLINE void x16_q4_K_group(int nt, int nb, const uint8_t *g, const uint8_t *act, size_t as, float *out,
                                  int64_t os) {
    const v128_t low4 = wasm_i8x16_splat(0x0f), bits45 = wasm_i8x16_splat(0x30);
    k_act y[2];
    v128_t acc[2][4];
    x16_acc_zero(nt, acc);
    for (int t = 0; t < nt; t++) y[t] = k_act_at(act + (size_t)t * as, nb * WL_QK_K);
    for (int b = 0; b < nb; b++) {
        const uint8_t *gb = g + (size_t)b * WL_X16_ROWS * sizeof(wl_block_q4_K);
        v128_t isum[2][4], mins[2][4];
        for (int t = 0; t < nt; t++)
            for (int f = 0; f < 4; f++) isum[t][f] = mins[t][f] = wasm_i32x4_splat(0);
        for (int j = 0; j < 8; j++) {
            const v128_t lo = wasm_v128_load(gb + WL_X16_K_SCALES + 16 * j);
            const v128_t hi = wasm_v128_load(gb + WL_X16_K_HIGH_BITS + 16 * (j / 2));
            const v128_t sc_top = j % 2 ? wasm_i16x8_shl(hi, 4) : hi, m_top = j % 2 ? wasm_i16x8_shl(hi, 2) : wasm_u16x8_shr(hi, 2);
            v128_t sc[4], m[4];
            x16_bytes_to_i32(wasm_v128_or(wasm_v128_and(lo, low4), wasm_v128_and(sc_top, bits45)), sc);
            x16_bytes_to_i32(wasm_v128_or(wasm_u8x16_shr(lo, 4), wasm_v128_and(m_top, bits45)), m);
            const int16_t *yq[2] = { y[0].q + WL_QK_K * b + WL_QK * j, nt > 1 ? y[1].q + WL_QK_K * b + WL_QK * j : NULL };
            const int8_t *y8[2] = { y[0].q8 + WL_QK_K * b + WL_QK * j, nt > 1 ? y[1].q8 + WL_QK_K * b + WL_QK * j : NULL };
            v128_t own[2][4];
            x16_block_sums(nt, gb + WL_X16_K_NIBBLES + (size_t)j * WL_X16_NIBBLE_BLOCK_BYTES, yq, y8, own);
            for (int t = 0; t < nt; t++) {
                const int16_t *bs = y[t].bsums + 16 * b + 2 * j;
                const int32_t ysum = bs[0] + bs[1];
                if (WL_X16_TOP_XOR(12)) own[t][3] = wasm_i32x4_add(own[t][3], wasm_i32x4_splat(8 * ysum));
                for (int f = 0; f < 4; f++) {
                    isum[t][f] = wasm_i32x4_add(isum[t][f], wasm_i32x4_mul(own[t][f], sc[f]));
                    mins[t][f] = wasm_i32x4_add(mins[t][f], wasm_i32x4_mul(m[f], wasm_i32x4_splat(ysum)));
                }
            }
        }
        v128_t dx[4], dmx[4];
        wl_fp16x8_to_f32x4x2(wasm_v128_load(gb), &dx[0], &dx[1]);
        wl_fp16x8_to_f32x4x2(wasm_v128_load(gb + 16), &dx[2], &dx[3]);
        wl_fp16x8_to_f32x4x2(wasm_v128_load(gb + WL_X16_SCALE_BYTES), &dmx[0], &dmx[1]);
        wl_fp16x8_to_f32x4x2(wasm_v128_load(gb + WL_X16_SCALE_BYTES + 16), &dmx[2], &dmx[3]);
        for (int t = 0; t < nt; t++) {
            const v128_t dy = wasm_f32x4_splat(y[t].d[b]);
            for (int f = 0; f < 4; f++) acc[t][f] = k_combine(acc[t][f], dx[f], dmx[f], dy, isum[t][f], mins[t][f]);
        }
    }
    x16_acc_store(nt, acc, out, os);
}

/* ---- Q6_K in the x96 layout (quant.h): three rows' values per 16-bit lane ---- */

/* One sub-block's hi vectors (8 column pairs) against one token's 16
 * values y: what C rows 64 + 4f + k need on top of their low four bits,
 * 16 * sum(y * (q >> 4)), less 24 * sum(y), which with the +8 that undoes
 * the low bits' ^ 8 makes the -32 of every Q6_K value (see x96_group).
 * The sums come stacked as in x16_nibble_sums, two bits per field. The
 * loop stays rolled: unrolled, the engine hoists every load and spills. */
ALWAYS_INLINE void x96_hi_sums(const uint8_t *hi, const int16_t *y, int32_t ysum, v128_t cfix[8]) {
    v128_t t[8];
    for (int f = 0; f < 8; f++) t[f] = wasm_i32x4_splat(0);
#pragma clang loop unroll(disable)
    for (const uint8_t *end = hi + 128; hi != end; hi += 16, y += 2) {
        const v128_t w = wasm_v128_load(hi), pair = wasm_v128_load32_splat(y);
        for (int f = 0; f < 8; f++) t[f] = wasm_i32x4_add(t[f], wasm_i32x4_dot_i16x8(wasm_i16x8_shr(w, 2 * f), pair));
    }
    const v128_t fix = wasm_i32x4_splat(-24 * ysum);
    for (int f = 0; f < 7; f++)
        cfix[f] = wasm_i32x4_add(wasm_i32x4_shl(wasm_i32x4_sub(t[f], wasm_i32x4_shl(t[f + 1], 2)), 4), fix);
    cfix[7] = wasm_i32x4_add(wasm_i32x4_shl(wasm_i32x4_add(t[7], wasm_i32x4_splat(2 * ysum)), 4), fix);
}

/* One row set's sub-block (8 tri vectors) against nt tokens: the stacked
 * sums S0, S1, S2 (lane k: rows 4s + k of A, B and C), shifts shared.
 * Pointers step through both loops: indexing from the loop counter costs
 * the engine about five integer instructions per vector (8% here). */
ALWAYS_INLINE void x96_tri_sums(int nt, const uint8_t *tri, const int16_t *const y[2], v128_t sum[2][3]) {
    const int16_t *yt[2] = { y[0], nt > 1 ? y[1] : y[0] };
    for (int t = 0; t < nt; t++) sum[t][0] = sum[t][1] = sum[t][2] = wasm_i32x4_splat(0);
#pragma clang loop unroll(disable)
    for (const uint8_t *end = tri + 128; tri != end; tri += 16, yt[0] += 2, yt[1] += 2) {
        const v128_t w0 = wasm_v128_load(tri);
        const v128_t w[3] = { w0, wasm_i16x8_shr(w0, 6), wasm_i16x8_shr(w0, 12) };
        for (int t = 0; t < nt; t++) {
            const v128_t pair = wasm_v128_load32_splat(yt[t]);
            for (int f = 0; f < 3; f++) sum[t][f] = wasm_i32x4_add(sum[t][f], wasm_i32x4_dot_i16x8(w[f], pair));
        }
    }
}

/* One group (96 rows) x nt tokens (1 or 2, as bytes apart) -> out[t * os + r].
 * Per sub-block j of row set s: A = S0 - 64 S1 and B = S1 - 64 S2, less
 * 32 * sum(y) for the values' -32; C = S2 plus the hi sums' fix; each
 * times its row's scale into the row's integer sum, exact as in the twin
 * (sum of scale * sum((q - 32) * y)). Then the twin's float step per
 * super-block, f32(isum) * (d_x * d_y), in block order. */
ALWAYS_INLINE void x96_group(int nt, int nb, const uint8_t *g, const uint8_t *act, size_t as, float *out, int64_t os) {
    k_act y[2];
    v128_t acc[2][24];
    for (int t = 0; t < nt; t++) {
        y[t] = k_act_at(act + (size_t)t * as, nb * WL_QK_K);
        for (int i = 0; i < 24; i++) acc[t][i] = wasm_f32x4_splat(0.0f);
    }
    for (int b = 0; b < nb; b++) {
        const uint8_t *gb = g + (size_t)b * WL_X96_ROWS * sizeof(wl_block_q6_K);
        v128_t cfix[2][16][8], y32[2][16];
        for (int t = 0; t < nt; t++) {
            for (int j = 0; j < 16; j++) {
                const int32_t ysum = y[t].bsums[16 * b + j];
                x96_hi_sums(gb + WL_X96_HI + 128 * j, y[t].q + WL_QK_K * b + 16 * j, ysum, cfix[t][j]);
                y32[t][j] = wasm_i32x4_splat(32 * ysum);
            }
        }
        for (int s = 0; s < WL_X96_SETS; s++) {
            const uint8_t *set = gb + WL_X96_FIRST_SET + (size_t)s * WL_X96_SET_BYTES;
            v128_t isum[2][3];
            for (int t = 0; t < nt; t++) isum[t][0] = isum[t][1] = isum[t][2] = wasm_i32x4_splat(0);
            for (int j = 0; j < 16; j++) {
                const int16_t *yq[2] = { y[0].q + WL_QK_K * b + 16 * j, nt > 1 ? y[1].q + WL_QK_K * b + 16 * j : NULL };
                v128_t sum[2][3];
                x96_tri_sums(nt, set + WL_X96_SET_SCALES + 128 * j, yq, sum);
                /* the 12 scales: A and B rows from one 8-byte load, C rows from the next */
                const v128_t ab = wasm_i16x8_load8x8(set + 12 * j);
                const v128_t sc[3] = { wasm_i32x4_extend_low_i16x8(ab), wasm_i32x4_extend_high_i16x8(ab),
                                       wasm_i32x4_extend_low_i16x8(wasm_i16x8_load8x8(set + 12 * j + 8)) };
                for (int t = 0; t < nt; t++) {
                    const v128_t a = wasm_i32x4_sub(wasm_i32x4_sub(sum[t][0], wasm_i32x4_shl(sum[t][1], 6)), y32[t][j]);
                    const v128_t bq = wasm_i32x4_sub(wasm_i32x4_sub(sum[t][1], wasm_i32x4_shl(sum[t][2], 6)), y32[t][j]);
                    const v128_t c = wasm_i32x4_add(sum[t][2], cfix[t][j][s]);
                    isum[t][0] = wasm_i32x4_add(isum[t][0], wasm_i32x4_mul(a, sc[0]));
                    isum[t][1] = wasm_i32x4_add(isum[t][1], wasm_i32x4_mul(bq, sc[1]));
                    isum[t][2] = wasm_i32x4_add(isum[t][2], wasm_i32x4_mul(c, sc[2]));
                }
            }
            for (int role = 0; role < 3; role++) {
                v128_t dx[2];
                wl_fp16x8_to_f32x4x2(wasm_v128_load64_zero(gb + 2 * (32 * role + 4 * s)), &dx[0], &dx[1]);
                for (int t = 0; t < nt; t++) {
                    const v128_t scale = wasm_f32x4_mul(dx[0], wasm_f32x4_splat(y[t].d[b]));
                    v128_t *a = &acc[t][8 * role + s];
                    *a = wasm_f32x4_add(*a, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum[t][role]), scale));
                }
            }
        }
    }
    for (int t = 0; t < nt; t++)
        for (int i = 0; i < 24; i++) wasm_v128_store(out + t * os + 4 * (i % 8) + 32 * (i / 8), acc[t][i]);
}

/* ---- one driver for the stacked layouts (x16: Q4_0, Q4_K; x96: Q6_K) ---- */

/* One group x nt tokens (1 or 2) of type's stacked layout. */
ALWAYS_INLINE void stacked_group(int type, int nt, int n, const uint8_t *g, const uint8_t *act, size_t as, float *out,
                                 int64_t os) {
    if (type == WL_TYPE_Q4_0) x16_q4_0_group(nt, n / WL_QK, g, act, as, out, os);
    else if (type == WL_TYPE_Q4_K) x16_q4_K_group(nt, n / WL_QK_K, g, act, as, out, os);
    else x96_group(nt, n / WL_QK_K, g, act, as, out, os);
}

/* A chunk of an x16 or x96 matrix: whole groups, tokens two at a time (the
 * unpacking shifts and scales shared), then the matrix's last rows past its
 * last whole group (only in its final chunk) as plain rows. */
ALWAYS_INLINE void tiles_stacked(int type, int n, const void *vw, size_t ws, int64_t n_rows, const void *vact, size_t as,
                                 int n_tokens, float *out, int64_t os) {
    const uint8_t *w = vw, *act = vact;
    const int64_t rows = type == WL_TYPE_Q6_K ? WL_X96_ROWS : WL_X16_ROWS, grouped = n_rows / rows * rows;
    int t = 0;
    for (; t + 2 <= n_tokens; t += 2)
        for (int64_t r = 0; r < grouped; r += rows)
            stacked_group(type, 2, n, w + (size_t)r * ws, act + (size_t)t * as, as, out + t * os + r, os);
    for (; t < n_tokens; t++)
        for (int64_t r = 0; r < grouped; r += rows)
            stacked_group(type, 1, n, w + (size_t)r * ws, act + (size_t)t * as, as, out + t * os + r, os);
    if (grouped == n_rows) return;
    const uint8_t *tail = w + (size_t)grouped * ws;
    if (type == WL_TYPE_Q4_0) q4_0_tiles(n, tail, ws, n_rows - grouped, act, as, n_tokens, out + grouped, os);
    else if (type == WL_TYPE_Q4_K) q4_K_tiles(n, tail, ws, n_rows - grouped, act, as, n_tokens, out + grouped, os);
    else q6_K_tiles(n, tail, ws, n_rows - grouped, act, as, n_tokens, out + grouped, os);
}

TILE_FN(q4_0_tiles_x16, tiles_stacked, WL_TYPE_Q4_0)
TILE_FN(q4_K_tiles_x16, tiles_stacked, WL_TYPE_Q4_K)
TILE_FN(q6_K_tiles_x96, tiles_stacked, WL_TYPE_Q6_K)

wl_tile_fn wl_tile_kernel_x96(int type) {
    return type == WL_TYPE_Q6_K ? q6_K_tiles_x96 : 0;
}

wl_tile_fn wl_tile_kernel_x16(int type) {
    switch (type) {
    case WL_TYPE_Q4_0: return q4_0_tiles_x16;
    case WL_TYPE_Q4_K: return q4_K_tiles_x16;
    default: return 0;
    }
}

wl_tile_fn wl_tile_kernel_x4(int type) {
    switch (type) {
    case WL_TYPE_Q4_0: return q4_0_tiles_x4;
    case WL_TYPE_Q5_0: return q5_0_tiles_x4;
    case WL_TYPE_Q8_0: return q8_0_tiles_x4;
    case WL_TYPE_IQ4_NL: return iq4_nl_tiles_x4;
    case WL_TYPE_Q4_1: return q4_1_tiles_x4;
    case WL_TYPE_Q5_1: return q5_1_tiles_x4;
    case WL_TYPE_Q4_K: return q4_K_tiles_x4;
    case WL_TYPE_Q5_K: return q5_K_tiles_x4;
    case WL_TYPE_Q6_K: return q6_K_tiles_x4;
    default: return 0;
    }
}

wl_tile_fn wl_tile_kernel(int type) {
    switch (type) {
    case WL_TYPE_Q4_0: return q4_0_tiles;
    case WL_TYPE_Q5_0: return q5_0_tiles;
    case WL_TYPE_Q8_0: return q8_0_tiles;
    case WL_TYPE_IQ4_NL: return iq4_nl_tiles;
    case WL_TYPE_Q4_1: return q4_1_tiles;
    case WL_TYPE_Q5_1: return q5_1_tiles;
    case WL_TYPE_F32: return f32_tiles;
    case WL_TYPE_F16: return f16_tiles;
    case WL_TYPE_BF16: return bf16_tiles;
    case WL_TYPE_Q2_K: return q2_K_tiles;
    case WL_TYPE_Q3_K: return q3_K_tiles;
    case WL_TYPE_Q4_K: return q4_K_tiles;
    case WL_TYPE_Q5_K: return q5_K_tiles;
    case WL_TYPE_Q6_K: return q6_K_tiles;
    case WL_TYPE_IQ4_XS: return iq4_xs_tiles;
    default: return 0;
    }
}

#endif
