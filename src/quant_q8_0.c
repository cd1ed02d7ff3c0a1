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
int wl_quantize_block_i8_ref(const float *x, int8_t *qs, float *d_out) {
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

#ifdef __wasm_simd128__
/* roundf, lane-wise: trunc, then one step away from zero when the dropped
 * fraction is at least one half (exact: v - trunc(v) is exact here). */
static inline v128_t round_half_away(v128_t v) {
    v128_t t = wasm_f32x4_trunc(v);
    v128_t half = wasm_f32x4_ge(wasm_f32x4_abs(wasm_f32x4_sub(v, t)), wasm_f32x4_splat(0.5f));
    v128_t one = wasm_v128_or(wasm_v128_and(v, wasm_i32x4_splat((int32_t)0x80000000u)), wasm_f32x4_splat(1.0f));
    return wasm_f32x4_add(t, wasm_v128_and(half, one));
}

/* The same numbers as the twin, 4 lanes at a time. pmax/pmin keep the
 * non-NaN operand where fmaxf/fminf would, so NaN input maps the same way. */
int wl_quantize_block_i8(const float *x, int8_t *qs, float *d_out) {
    v128_t v[8];
    v128_t amax = wasm_f32x4_splat(0.0f);
    for (int j = 0; j < 8; j++) {
        v[j] = wasm_v128_load(x + 4 * j);
        amax = wasm_f32x4_pmax(amax, wasm_f32x4_abs(v[j]));
    }
    amax = wasm_f32x4_pmax(amax, wasm_i32x4_shuffle(amax, amax, 2, 3, 0, 1));
    amax = wasm_f32x4_pmax(amax, wasm_i32x4_shuffle(amax, amax, 1, 0, 3, 2));
    float d = wasm_f32x4_extract_lane(amax, 0) / 127.0f;
    float id = d != 0.0f ? 1.0f / d : 0.0f;
    const v128_t vid = wasm_f32x4_splat(id), lo = wasm_f32x4_splat(-127.0f), hi = wasm_f32x4_splat(127.0f);
    v128_t q32[8];
    for (int j = 0; j < 8; j++) {
        v128_t s = wasm_f32x4_mul(v[j], vid);
        s = wasm_f32x4_pmin(hi, wasm_f32x4_pmax(lo, s));
        q32[j] = wasm_i32x4_trunc_sat_f32x4(round_half_away(s));
    }
    v128_t sum = wasm_i32x4_add(wasm_i32x4_add(wasm_i32x4_add(q32[0], q32[1]), wasm_i32x4_add(q32[2], q32[3])),
                                wasm_i32x4_add(wasm_i32x4_add(q32[4], q32[5]), wasm_i32x4_add(q32[6], q32[7])));
    for (int j = 0; j < 2; j++) {
        v128_t a = wasm_i16x8_narrow_i32x4(q32[4 * j], q32[4 * j + 1]);
        v128_t b = wasm_i16x8_narrow_i32x4(q32[4 * j + 2], q32[4 * j + 3]);
        wasm_v128_store(qs + 16 * j, wasm_i8x16_narrow_i16x8(a, b));
    }
    *d_out = d;
    return wl_hsum_i32x4(sum);
}
#else
int wl_quantize_block_i8(const float *x, int8_t *qs, float *d_out) {
    return wl_quantize_block_i8_ref(x, qs, d_out);
}
#endif

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
        wl_quantize_block_i8(src + i * WL_QK, b[i].qs, &d);
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
        int sum = wl_quantize_block_i8(src + i * WL_QK, b[i].qs, &d);
        b[i].d = wl_fp32_to_fp16(d);
        b[i].s = wl_fp32_to_fp16((float)sum * d);
    }
}
