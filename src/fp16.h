/* Exact IEEE half (binary16) and bfloat16 <-> float conversions, done with
 * integer bit tricks so results are identical on every target (no reliance on
 * hardware f16 support, which wasm does not have). Rounding is to nearest,
 * ties to even, like ggml's reference conversions. */
#ifndef WL_FP16_H
#define WL_FP16_H

#include <stdint.h>
#include <string.h>

static inline uint32_t wl_f32_bits(float f) {
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float wl_bits_f32(uint32_t u) {
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* Shifting the half's exponent+mantissa into float position and multiplying
 * by 2^112 rebiases the exponent (15 -> 127) and, because the product is
 * exact, also turns half subnormals into the right float normals.
 * Inf/NaN (exponent 31) only need their exponent field set to all ones. */
static inline float wl_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t em = (uint32_t)(h & 0x7fffu) << 13;
    uint32_t bits;
    if (em >= 0x0f800000u) {
        bits = em | 0x70000000u;
    } else {
        bits = wl_f32_bits(wl_bits_f32(em) * 0x1p112f);
    }
    return wl_bits_f32(bits | sign);
}

static inline uint16_t wl_fp32_to_fp16(float f) {
    uint32_t u = wl_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000u);
    u &= 0x7fffffffu;
    if (u > 0x7f800000u) return sign | 0x7e00u;      /* NaN stays a (quiet) NaN */
    if (u >= 0x477ff000u) return sign | 0x7c00u;     /* >= 65520 rounds to inf */
    if (u < 0x38800000u) {
        /* Result is a half subnormal: adding 0.5 (whose ulp is 2^-24, the
         * half subnormal step) lets the FPU do the round-to-nearest-even. */
        float r = wl_bits_f32(u) + 0.5f;
        return sign | (uint16_t)(wl_f32_bits(r) - 0x3f000000u);
    }
    /* Normal: rebias the exponent and round the 13 dropped mantissa bits,
     * ties to even (the carry may correctly ripple into the exponent). */
    uint32_t odd = (u >> 13) & 1u;
    u += 0xc8000000u + 0xfffu + odd; /* (15 - 127) << 23, wrapped */
    return sign | (uint16_t)(u >> 13);
}

static inline float wl_bf16_to_fp32(uint16_t b) {
    return wl_bits_f32((uint32_t)b << 16);
}

static inline uint16_t wl_fp32_to_bf16(float f) {
    uint32_t u = wl_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

#endif
