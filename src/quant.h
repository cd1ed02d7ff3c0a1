/* Block layouts (bit-exact with ggml/GGUF) and the per-format kernels that
 * types.c wires into the traits table. Internal to the kernels: model code
 * uses types.h / matmul.h only.
 *
 * Naming: <fmt>_to_float / <fmt>_from_float convert whole rows;
 * <weights>_dot_<activations> is the fast dot (SIMD128 when compiled with
 * it), <weights>_dot_<activations>_ref its scalar twin. */
#ifndef WL_QUANT_H
#define WL_QUANT_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include "types.h"

#define WL_QK 32   /* elements per block of the legacy formats */
#define WL_QK_K 256 /* elements per super-block of the K-quants */

/* ---- block scans shared by the quantizers ---- */

/* The signed value of largest magnitude in x[0..n), 0 if every value is 0
 * or NaN; the first of equal magnitudes wins, as in ggml's quantizers. */
static inline float wl_signed_absmax(const float *x, int n) {
    float amax = 0.0f, max = 0.0f;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) { amax = fabsf(x[j]); max = x[j]; }
    }
    return max;
}

/* Smallest and largest of x[0..n), n >= 1 (fminf/fmaxf skip a NaN after the first). */
static inline void wl_min_max(const float *x, int n, float *min_out, float *max_out) {
    float min = x[0], max = x[0];
    for (int j = 1; j < n; j++) {
        min = fminf(min, x[j]);
        max = fmaxf(max, x[j]);
    }
    *min_out = min;
    *max_out = max;
}

typedef struct { uint16_t d; int8_t qs[WL_QK]; } wl_block_q8_0;
typedef struct { uint16_t d; uint16_t s; int8_t qs[WL_QK]; } wl_block_q8_1; /* s = d * sum(qs) */
typedef struct { uint16_t d; uint8_t qs[WL_QK / 2]; } wl_block_q4_0;
typedef struct { uint16_t d; uint16_t m; uint8_t qs[WL_QK / 2]; } wl_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[WL_QK / 2]; } wl_block_q5_0;
typedef struct { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[WL_QK / 2]; } wl_block_q5_1;
typedef struct { uint16_t d; uint8_t qs[WL_QK / 2]; } wl_block_iq4_nl;

typedef struct { float d; int8_t qs[WL_QK_K]; int16_t bsums[WL_QK_K / 16]; } wl_block_q8_K;
typedef struct { uint8_t scales[16]; uint8_t qs[64]; uint16_t d; uint16_t dmin; } wl_block_q2_K;
typedef struct { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; } wl_block_q3_K;
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[128]; } wl_block_q4_K;
typedef struct { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; } wl_block_q5_K;
typedef struct { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; } wl_block_q6_K;
typedef struct { uint16_t d; uint16_t scales_h; uint8_t scales_l[4]; uint8_t qs[128]; } wl_block_iq4_xs;

_Static_assert(sizeof(wl_block_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(wl_block_q8_1) == 36, "q8_1 layout");
_Static_assert(sizeof(wl_block_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(wl_block_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(wl_block_q5_0) == 22, "q5_0 layout");
_Static_assert(sizeof(wl_block_q5_1) == 24, "q5_1 layout");
_Static_assert(sizeof(wl_block_iq4_nl) == 18, "iq4_nl layout");
_Static_assert(sizeof(wl_block_q8_K) == 292, "q8_K layout");
_Static_assert(sizeof(wl_block_q2_K) == 84, "q2_K layout");
_Static_assert(sizeof(wl_block_q3_K) == 110, "q3_K layout");
_Static_assert(sizeof(wl_block_q4_K) == 144, "q4_K layout");
_Static_assert(sizeof(wl_block_q5_K) == 176, "q5_K layout");
_Static_assert(sizeof(wl_block_q6_K) == 210, "q6_K layout");
_Static_assert(sizeof(wl_block_iq4_xs) == 136, "iq4_xs layout");

/* ---- float formats (quant_float.c) ---- */
void f32_to_float(const void *src, float *dst, int64_t n);
void f32_from_float(const float *src, void *dst, int64_t n);
void f32_dot_f32(int n, float *s, const void *x, const void *y);
void f32_dot_f32_ref(int n, float *s, const void *x, const void *y);
void f16_to_float(const void *src, float *dst, int64_t n);
void f16_from_float(const float *src, void *dst, int64_t n);
void f16_dot_f16(int n, float *s, const void *x, const void *y);
void f16_dot_f16_ref(int n, float *s, const void *x, const void *y);
void bf16_to_float(const void *src, float *dst, int64_t n);
void bf16_from_float(const float *src, void *dst, int64_t n);
void bf16_dot_bf16(int n, float *s, const void *x, const void *y);
void bf16_dot_bf16_ref(int n, float *s, const void *x, const void *y);

/* ---- Q8_0 (quant_q8_0.c) ---- */
/* One 32-value block to int8 codes and its scale d (unrounded); returns
 * sum(qs). The SIMD version and its scalar twin give identical bytes. */
int wl_quantize_block_i8(const float *x, int8_t *qs, float *d_out);
int wl_quantize_block_i8_ref(const float *x, int8_t *qs, float *d_out);
void q8_0_to_float(const void *src, float *dst, int64_t n);
void q8_0_from_float(const float *src, void *dst, int64_t n);
void q8_0_dot_q8_0(int n, float *s, const void *x, const void *y);
void q8_0_dot_q8_0_ref(int n, float *s, const void *x, const void *y);

/* ---- Q4_0 (quant_q4_0.c) ---- */
void q4_0_to_float(const void *src, float *dst, int64_t n);
void q4_0_from_float(const float *src, void *dst, int64_t n);
void q4_0_dot_q8_0(int n, float *s, const void *x, const void *y);
void q4_0_dot_q8_0_ref(int n, float *s, const void *x, const void *y);

/* ---- Q8_1 (quant_q8_0.c): activations for Q4_1 / Q5_1 ---- */
void q8_1_to_float(const void *src, float *dst, int64_t n);
void q8_1_from_float(const float *src, void *dst, int64_t n);

/* ---- Q4_1 (quant_q4_1.c) ---- */
void q4_1_to_float(const void *src, float *dst, int64_t n);
void q4_1_from_float(const float *src, void *dst, int64_t n);
void q4_1_dot_q8_1(int n, float *s, const void *x, const void *y);
void q4_1_dot_q8_1_ref(int n, float *s, const void *x, const void *y);

/* ---- Q5_0, Q5_1 (quant_q5.c) ---- */
void q5_0_to_float(const void *src, float *dst, int64_t n);
void q5_0_from_float(const float *src, void *dst, int64_t n);
void q5_0_dot_q8_0(int n, float *s, const void *x, const void *y);
void q5_0_dot_q8_0_ref(int n, float *s, const void *x, const void *y);
void q5_1_to_float(const void *src, float *dst, int64_t n);
void q5_1_from_float(const float *src, void *dst, int64_t n);
void q5_1_dot_q8_1(int n, float *s, const void *x, const void *y);
void q5_1_dot_q8_1_ref(int n, float *s, const void *x, const void *y);

/* ---- K-quants (quant_k.c) ---- */
void q8_K_to_float(const void *src, float *dst, int64_t n);
void q8_K_from_float(const float *src, void *dst, int64_t n);
void q2_K_to_float(const void *src, float *dst, int64_t n);
void q2_K_from_float(const float *src, void *dst, int64_t n);
void q2_K_dot_q8_K(int n, float *s, const void *x, const void *y);
void q2_K_dot_q8_K_ref(int n, float *s, const void *x, const void *y);
void q3_K_to_float(const void *src, float *dst, int64_t n);
void q3_K_from_float(const float *src, void *dst, int64_t n);
void q3_K_dot_q8_K(int n, float *s, const void *x, const void *y);
void q3_K_dot_q8_K_ref(int n, float *s, const void *x, const void *y);
void q4_K_to_float(const void *src, float *dst, int64_t n);
void q4_K_from_float(const float *src, void *dst, int64_t n);
void q4_K_dot_q8_K(int n, float *s, const void *x, const void *y);
void q4_K_dot_q8_K_ref(int n, float *s, const void *x, const void *y);
void q5_K_to_float(const void *src, float *dst, int64_t n);
void q5_K_from_float(const float *src, void *dst, int64_t n);
void q5_K_dot_q8_K(int n, float *s, const void *x, const void *y);
void q5_K_dot_q8_K_ref(int n, float *s, const void *x, const void *y);
void q6_K_to_float(const void *src, float *dst, int64_t n);
void q6_K_from_float(const float *src, void *dst, int64_t n);
void q6_K_dot_q8_K(int n, float *s, const void *x, const void *y);
void q6_K_dot_q8_K_ref(int n, float *s, const void *x, const void *y);

/* The 16 6-bit Q3_K scales, minus 32. */
void wl_q3_K_unpack_scales(const uint8_t packed[12], int out[16]);
/* The 8 6-bit scales and mins of Q4_K / Q5_K (inline: the decode tiles
 * call it once per row and super-block). */
static inline void wl_q4_K_unpack_scales(const uint8_t q[12], int sc[8], int m[8]) {
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            sc[j] = q[j] & 63;
            m[j] = q[j + 4] & 63;
        } else {
            sc[j] = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
            m[j] = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
        }
    }
}

/* Q6_K: the stored 6-bit q (0..63) of element e (0..255); the value is
 * q - 32. Element 128h + 32k + l (l < 32) keeps its low four bits in the
 * low (k < 2) or high (k >= 2) nibble of ql[64h + 32(k & 1) + l] and its
 * top two bits at bits 2k, 2k + 1 of qh[32h + l]. */
static inline int wl_q6_K_q(const wl_block_q6_K *b, int e) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    const uint8_t low = b->ql[64 * h + 32 * (k & 1) + l];
    return (k < 2 ? low & 15 : low >> 4) | ((b->qh[32 * h + l] >> (2 * k)) & 3) << 4;
}

/* The inverse: stores q as element e of b (whose ql and qh start zeroed). */
static inline void wl_q6_K_put(wl_block_q6_K *b, int e, int q) {
    const int h = e / 128, k = (e % 128) / 32, l = e % 32;
    b->ql[64 * h + 32 * (k & 1) + l] |= (uint8_t)((q & 15) << (k < 2 ? 0 : 4));
    b->qh[32 * h + l] |= (uint8_t)((q >> 4) << (2 * k));
}

/* Q4_K / Q5_K: the 4-bit q of element e (0..255) of a super-block's qs.
 * Element 64c + l (l < 32) is the low nibble of qs[32c + l], element
 * 64c + 32 + l its high nibble. */
static inline int wl_q4_K_nibble(const uint8_t qs[128], int e) {
    const uint8_t byte = qs[32 * (e / 64) + e % 32];
    return e % 64 < 32 ? byte & 15 : byte >> 4;
}

/* The inverse of wl_q4_K_unpack_scales: 6-bit scales and mins (0..63)
 * into the 12 packed bytes. */
static inline void wl_q4_K_pack_scales(const int sc[8], const int m[8], uint8_t q[12]) {
    for (int j = 0; j < 4; j++) {
        q[j] = (uint8_t)(sc[j] | ((sc[j + 4] >> 4) << 6));
        q[j + 4] = (uint8_t)(m[j] | ((m[j + 4] >> 4) << 6));
        q[j + 8] = (uint8_t)((sc[j + 4] & 15) | ((m[j + 4] & 15) << 4));
    }
}

/* Q4_K / Q5_K's mins term: sum over the 8 sub-blocks of m times the
 * sub-block's activation sum (two Q8_K bsums of 16 each). */
static inline int wl_q4_K_mins_dot(const int m[8], const int16_t bsums[16]) {
    int s = 0;
    for (int j = 0; j < 8; j++) s += m[j] * (bsums[2 * j] + bsums[2 * j + 1]);
    return s;
}

/* ---- IQ4_NL, IQ4_XS (quant_iq4.c) ---- */
extern const int8_t wl_iq4_levels[16]; /* the fixed non-linear levels */
void iq4_nl_to_float(const void *src, float *dst, int64_t n);
void iq4_nl_from_float(const float *src, void *dst, int64_t n);
void iq4_nl_dot_q8_0(int n, float *s, const void *x, const void *y);
void iq4_nl_dot_q8_0_ref(int n, float *s, const void *x, const void *y);
void iq4_xs_to_float(const void *src, float *dst, int64_t n);
void iq4_xs_from_float(const float *src, void *dst, int64_t n);
void iq4_xs_dot_q8_K(int n, float *s, const void *x, const void *y);
void iq4_xs_dot_q8_K_ref(int n, float *s, const void *x, const void *y);

/* ---- SIMD128 tile kernels (quant_tiles.c; wasm SIMD builds only) ----
 * For the formats whose activations are Q8_0 (Q4_0, Q5_0, Q8_0, IQ4_NL),
 * matmul can use a wider activation encoding: per token, the Q8_0 values as
 * int16 (so no per-row widening), then the block scales as f32, then each
 * block's sum of values as int32 (Q4_0 folds its -8 offset in with it). The
 * tile kernels then compute several rows x tokens per pass, reusing loads,
 * with per-output float operations in the same order as vec_dot_ref: the
 * results are bit-identical to the scalar twins (test_matmul checks this). */
/* out[t * out_stride + r] = dot(weight row r, token t) for r < n_rows,
 * t < n_tokens; rows are w_stride bytes apart, tokens act_stride bytes. */
typedef void (*wl_tile_fn)(int n, const void *w, size_t w_stride, int64_t n_rows,
                           const void *act, size_t act_stride, int n_tokens,
                           float *out, int64_t out_stride);
#ifdef __wasm_simd128__
#define WL_HAVE_TILES 1
/* Bytes per token of the wide encoding (n a multiple of 32), 16-aligned. */
size_t wl_q8_0_wide_row_size(int64_t n);
/* x quantized exactly as q8_0_from_float, stored in the wide encoding. */
void wl_q8_0_wide_from_float(const float *x, void *dst, int64_t n);
/* K-quants and IQ4_XS: Q8_K values as int16, then the f32 super-block
 * scales, then the int16 sums of each 16 values (the bsums). */
size_t wl_q8_K_wide_row_size(int64_t n);
void wl_q8_K_wide_from_float(const float *x, void *dst, int64_t n);
/* Float weights (F32, F16, BF16): activations as f32 rounded through the
 * weight type (F16/BF16), rows 16-aligned; F32 uses the activations as is. */
size_t wl_float_wide_row_size(int64_t n);
void wl_float_wide_from_float(int type, const float *x, float *dst, int64_t n);
/* NULL when the type has no tile kernel (use vec_dot). Q8_0-family kernels
 * need n % 32 == 0, float ones n % 8 == 0 (wl_matmul checks). */
wl_tile_fn wl_tile_kernel(int type);
/* The same products for a matrix whose rows are in the x4 layout below
 * (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q4_K, Q5_K, Q6_K); NULL for other types. The kernel is handed
 * chunks that start at a multiple of 4 rows: each whole group of 4 is read
 * interleaved, a last partial group (the matrix's final n_rows % 4 rows)
 * as plain rows. */
wl_tile_fn wl_tile_kernel_x4(int type);
/* The same for the x16 layout below (Q4_0, Q4_K); NULL for other types. Chunks
 * start at a multiple of 16 rows; the matrix's final n_rows % 16 rows are
 * plain rows. */
wl_tile_fn wl_tile_kernel_x16(int type);
/* The same for the x96 layout below (Q6_K); NULL for other types. Chunks
 * start at a multiple of 96 rows; the matrix's final n_rows % 96 rows are
 * plain rows. */
wl_tile_fn wl_tile_kernel_x96(int type);
#endif

/* ---- the x4 layout (repack.c writes it, the x4 tile kernels read it) ----
 * Four consecutive rows of a Q8_0-family matrix, block by block: for block
 * b, the four rows' f16 scales (8 bytes), for Q4_1 and Q5_1 their f16 mins
 * (8 bytes), then their payloads. Q4_0, Q4_1 and IQ4_NL: each row's 16
 * bytes of nibbles, as stored; Q8_0: each row's 32 bytes. Q5_0 and Q5_1: a
 * 16-byte bit plane H, then each row's 16 bytes of nibbles; bit v of H's
 * byte L is the fifth bit of element 16 * (v % 2) + L of row v / 2, so one
 * uniform shift and mask put every lane's bit in place. A
 * group block is exactly 4 plain blocks long, so the rows keep their byte
 * extent and a final partial group stays as it was. Why: one contiguous
 * stream per 4 rows, the four scales in one load, and Q5_0's fifth bits
 * without a byte shuffle per block. Q4_K, Q5_K and Q6_K: the four rows'
 * super-blocks b side by side, each as stored (their scales are spread
 * through the block, so there is nothing to gather): one stream per 4 rows
 * and the four rows' sums combined in one f32x4. */
#define WL_X4_ROWS 4
/* The K-quants' x4 layout keeps whole blocks. */
static inline int wl_x4_whole_blocks(int type) {
    return type == WL_TYPE_Q4_K || type == WL_TYPE_Q5_K || type == WL_TYPE_Q6_K;
}
/* Offset of row r's payload inside a group block (after the 8 scale bytes
 * and, for Q5_0, the bit plane). */
static inline int wl_x4_has_min(int type) {
    return type == WL_TYPE_Q4_1 || type == WL_TYPE_Q5_1;
}
static inline int wl_x4_has_bit_plane(int type) {
    return type == WL_TYPE_Q5_0 || type == WL_TYPE_Q5_1;
}
/* Where the bit plane starts (Q5_0, Q5_1). */
static inline size_t wl_x4_bit_plane_offset(int type) {
    return wl_x4_has_min(type) ? 16 : 8;
}
static inline size_t wl_x4_payload_offset(int type, int r) {
    size_t per_row = type == WL_TYPE_Q8_0 ? WL_QK : WL_QK / 2;
    return wl_x4_bit_plane_offset(type) + (wl_x4_has_bit_plane(type) ? 16 : 0) + per_row * (size_t)r;
}

/* ---- the x16 layout (Q4_0, Q4_K): sixteen rows' nibbles stacked in 16-bit lanes ----
 * The unit is a nibble block: 32 consecutive elements of 16 rows in 16
 * vectors of 16 bytes, vector c for elements 2c and 2c + 1. In vector c,
 * 16-bit lane 2k + e holds element 2c + e of rows k, 4 + k, 8 + k and
 * 12 + k in bits 0-3, 4-7, 8-11 and 12-15: the value q as stored in the
 * first three, q ^ 8 (q - 8 as a signed nibble) in the top one, so the lane
 * read as int16 is exactly q0 + 16 q1 + 256 q2 + 4096 (q3 - 8). Why:
 * i32x4.dot_i16x8 of vector c, and of it shifted right arithmetically by 4,
 * 8 and 12, with the pair (y[2c], y[2c + 1]) in every lane gives four
 * stacked sums whose lane k belongs to rows k, 4 + k, 8 + k and 12 + k; a
 * shift and a subtraction per sum take them apart. That is 32 products per
 * 4 dot instructions with no masks, widenings or horizontal sums; the x4
 * kernels need about half again as many instructions per product
 * (bench/kernels.c --cold measures both).
 * Q4_0, per block of 32: the 16 rows' f16 scales (32 bytes, in row order),
 * then the nibble block. Q4_K, per super-block of 256: the 16 rows' d (32
 * bytes), their dmin (32 bytes), then the 6-bit sub-block scales sc and
 * mins m: for sub-block j, 16 bytes whose byte r is sc & 15 | (m & 15) << 4
 * of row r; for each pair of sub-blocks 2p, 2p + 1, 16 bytes whose byte r
 * holds the top two bits of row r's sc and m of 2p + 1 in bits 0-1 and 2-3,
 * of 2p in bits 4-5 and 6-7 (so one mask or one shift and a mask puts them
 * at bits 4-5); then the 8 sub-blocks' nibble blocks. Either way a group
 * block is exactly 16 plain blocks long. */
#define WL_X16_ROWS 16
#define WL_X16_SCALE_BYTES (2 * WL_X16_ROWS)
#define WL_X16_NIBBLE_BLOCK_BYTES (WL_X16_ROWS * WL_QK / 2)
/* Q4_K: where the scale bytes and the first nibble block start. */
#define WL_X16_K_SCALES (2 * WL_X16_SCALE_BYTES)
#define WL_X16_K_HIGH_BITS (WL_X16_K_SCALES + 8 * WL_X16_ROWS)
#define WL_X16_K_NIBBLES (WL_X16_K_HIGH_BITS + 4 * WL_X16_ROWS)
/* Where element 2c + e of row r sits in a nibble block: the byte offset of
 * its 16-bit lane, and the bit offset of its nibble in the lane. */
static inline size_t wl_x16_lane_offset(int r, int c, int e) {
    return 16 * (size_t)c + 2 * (size_t)(2 * (r % 4) + e);
}
static inline int wl_x16_field_shift(int r) {
    return 4 * (r / 4);
}

/* The relaxed-SIMD build (__wasm_relaxed_simd__) arranges a nibble block
 * for i32x4.relaxed_dot_i8x16_i7x16_add instead, whose lane sums four
 * byte products: vector 2i + p holds elements 4i..4i + 3 of rows 8p..8p + 7,
 * byte 4k + l the element 4i + l of row 8p + k in its low nibble and of row
 * 8p + 4 + k in its high one, every value as stored (0..15). A mask, or a
 * 16-bit shift and a mask, gives four rows' four elements as bytes 0..15,
 * within the instruction's 7-bit operand on every CPU, against the four
 * activation bytes splatted; lane k is one row's sum. WL_X16_TOP_XOR(r)
 * is what a row's stored nibbles are XORed with (8 for the SIMD128 build's
 * top rows). */
#ifdef __wasm_relaxed_simd__
#define WL_X16_TOP_XOR(r) 0
static inline size_t wl_x16_nibble_byte(int r, int e) {
    return 16 * (size_t)(2 * (e / 4) + r / 8) + 4 * (size_t)(r % 4) + (size_t)(e % 4);
}
static inline int wl_x16_nibble_shift(int r) {
    return 4 * ((r / 4) % 2);
}
#else
#define WL_X16_TOP_XOR(r) ((r) / 4 == 3 ? 8 : 0)
static inline size_t wl_x16_nibble_byte(int r, int e) {
    return wl_x16_lane_offset(r, e / 2, e % 2) + (size_t)(wl_x16_field_shift(r) / 8);
}
static inline int wl_x16_nibble_shift(int r) {
    return wl_x16_field_shift(r) % 8;
}
#endif


/* ---- the x96 layout (Q6_K): three rows' 6-bit values in one 16-bit lane ----
 * A group is 96 rows: A rows 0-31, B rows 32-63, C rows 64-95, and row
 * set s (0..7) is A rows 4s..4s + 3 with the B and C rows 32 and 64 further
 * on. Per super-block of 256 columns, in the order the kernel reads them:
 *   d:  the 96 rows' f16 scales (row order, 192 bytes);
 *   hi: for sub-block j (16 columns) and column pair c (0..7), a vector
 *       whose 16-bit lane 2k + e holds the top two bits (q >> 4) of column
 *       16j + 2c + e of C rows 64 + 4f + k at bits 2f, 2f + 1 (f = 0..7),
 *       the top one stored ^ 2 (so the lane read as int16 is exactly
 *       h0 + 4 h1 + ... + 4^7 (h7 - 2));
 *   then per row set s: its 16 sub-blocks' int8 scales, 12 bytes each
 *       (A rows, B rows, C rows, four each), and its tri vectors: for
 *       sub-block j and column pair c, lane 2k + e holds column 16j + 2c + e
 *       of A row 4s + k at bits 0-5, of B row 32 + 4s + k at bits 6-11 and
 *       the low four bits of C row 64 + 4s + k at bits 12-15, stored ^ 8
 *       (so the lane is exact as int16: qA + 64 qB + 4096 (lowC - 8)).
 * Why: like x16, i32x4.dot_i16x8 of a tri vector with the column pair
 * splatted, and of it shifted right arithmetically by 6 and 12, gives
 * stacked sums S0, S1, S2 whose lane k is a row; A = S0 - 64 S1,
 * B = S1 - 64 S2, and C = S2 plus 16 times the hi vectors' sums: about
 * six values per dot with no masks or widening (the x4 kernel assembles
 * every value from two nibble fields and widens it). The order is the
 * order of reading, so weights streamed from memory come in one forward
 * stream (a layout with the scales of all sets together ran at 60% of the
 * speed cold). A group block is exactly 96 plain super-blocks long. */
#define WL_X96_ROWS 96
#define WL_X96_SETS 8
#define WL_X96_HI (2 * WL_X96_ROWS)                 /* after the f16 scales */
#define WL_X96_SET_SCALES 192                       /* 16 sub-blocks x 12 bytes */
#define WL_X96_SET_BYTES (WL_X96_SET_SCALES + 2048) /* + 16 sub-blocks x 8 pairs x 16 bytes */
#define WL_X96_FIRST_SET (WL_X96_HI + 2048)
_Static_assert(WL_X96_FIRST_SET + WL_X96_SETS * WL_X96_SET_BYTES == WL_X96_ROWS * sizeof(wl_block_q6_K),
               "an x96 group block is 96 plain super-blocks");
/* Row r of a group (0..95): its set, and which of the set's three row
 * quads (0 A, 1 B, 2 C) and which lane slot k it is. */
static inline int wl_x96_set(int r) {
    return (r % 32) / 4;
}
static inline int wl_x96_role(int r) {
    return r / 32;
}
/* Where column col (0..255) of the row with lane slot k lies in the hi
 * vectors, or in its set's tri vectors: the byte offset of its 16-bit lane
 * from the first vector. */
static inline size_t wl_x96_lane_offset(int col, int k) {
    return 128 * (size_t)(col / 16) + 16 * (size_t)((col % 16) / 2) + 2 * (size_t)(2 * k + col % 2);
}

#endif
