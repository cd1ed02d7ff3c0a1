/* Tensor element types, numbered exactly as GGUF/ggml number them, and the
 * per-type traits table that lets model code stay ignorant of block formats. */
#ifndef WL_TYPES_H
#define WL_TYPES_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
    WL_TYPE_F32 = 0,
    WL_TYPE_F16 = 1,
    WL_TYPE_Q4_0 = 2,
    WL_TYPE_Q4_1 = 3,
    WL_TYPE_Q5_0 = 6,
    WL_TYPE_Q5_1 = 7,
    WL_TYPE_Q8_0 = 8,
    WL_TYPE_Q8_1 = 9,
    WL_TYPE_Q2_K = 10,
    WL_TYPE_Q3_K = 11,
    WL_TYPE_Q4_K = 12,
    WL_TYPE_Q5_K = 13,
    WL_TYPE_Q6_K = 14,
    WL_TYPE_Q8_K = 15,
    WL_TYPE_IQ4_NL = 20,
    WL_TYPE_IQ4_XS = 23,
    WL_TYPE_BF16 = 30,
    WL_TYPE_COUNT = 40 /* table size; ids >= this are unknown */
} wl_type;

/* Dot product of n elements: *s = sum(x[i] * y[i]), x in the weight type,
 * y in that type's vec_dot_type (activations quantized the way ggml does). */
typedef void (*wl_vec_dot_fn)(int n, float *s, const void *x, const void *y);
typedef void (*wl_to_float_fn)(const void *src, float *dst, int64_t n);
typedef void (*wl_from_float_fn)(const float *src, void *dst, int64_t n);

typedef struct {
    const char *name;           /* "Q4_0", as GGUF tools print it */
    int block_size;             /* elements per block (1 for float types) */
    size_t type_size;           /* bytes per block */
    int supported;              /* 0: known id but no kernels yet */
    wl_type vec_dot_type;       /* how activations are stored for the dot */
    wl_to_float_fn to_float;    /* dequantize a row (reference) */
    wl_from_float_fn from_float;/* quantize a row into this type (reference, used for activations) */
    wl_vec_dot_fn vec_dot;      /* fastest available (SIMD128 when built with it) */
    wl_vec_dot_fn vec_dot_ref;  /* scalar twin, for tests */
} wl_type_traits;

/* NULL for ids that are not GGUF types at all. */
const wl_type_traits *wl_type_get(uint32_t type);
/* Bytes for a row of n elements; 0 if n is not a multiple of the block size. */
size_t wl_row_size(wl_type type, int64_t n);

#endif
