/* The traits table: GGUF type id -> block geometry and kernels.
 * Ids that GGUF defines but we have no kernels for still get their block
 * geometry (supported = 0), so the GGUF parser can size and skip them. */
#include <stdint.h>
#include "types.h"
#include "quant.h"

#define KERNELS(vdt, to, from, dot, dot_ref) 1, vdt, to, from, dot, dot_ref
#define GEOMETRY_ONLY 0, WL_TYPE_F32, 0, 0, 0, 0
/* Activation encodings: convertible, but never weights we dot with. */
#define ACTIVATION_ONLY(to, from) 0, WL_TYPE_F32, to, from, 0, 0

static const wl_type_traits type_table[WL_TYPE_COUNT] = {
    [WL_TYPE_F32] = { "F32", 1, 4, KERNELS(WL_TYPE_F32, f32_to_float, f32_from_float, f32_dot_f32, f32_dot_f32_ref) },
    [WL_TYPE_F16] = { "F16", 1, 2, KERNELS(WL_TYPE_F16, f16_to_float, f16_from_float, f16_dot_f16, f16_dot_f16_ref) },
    [WL_TYPE_BF16] = { "BF16", 1, 2, KERNELS(WL_TYPE_BF16, bf16_to_float, bf16_from_float, bf16_dot_bf16, bf16_dot_bf16_ref) },
    [WL_TYPE_Q4_0] = { "Q4_0", 32, 18, KERNELS(WL_TYPE_Q8_0, q4_0_to_float, q4_0_from_float, q4_0_dot_q8_0, q4_0_dot_q8_0_ref) },
    [WL_TYPE_Q8_0] = { "Q8_0", 32, 34, KERNELS(WL_TYPE_Q8_0, q8_0_to_float, q8_0_from_float, q8_0_dot_q8_0, q8_0_dot_q8_0_ref) },
    [WL_TYPE_Q4_1] = { "Q4_1", 32, 20, KERNELS(WL_TYPE_Q8_1, q4_1_to_float, q4_1_from_float, q4_1_dot_q8_1, q4_1_dot_q8_1_ref) },
    [WL_TYPE_Q5_0] = { "Q5_0", 32, 22, KERNELS(WL_TYPE_Q8_0, q5_0_to_float, q5_0_from_float, q5_0_dot_q8_0, q5_0_dot_q8_0_ref) },
    [WL_TYPE_Q5_1] = { "Q5_1", 32, 24, KERNELS(WL_TYPE_Q8_1, q5_1_to_float, q5_1_from_float, q5_1_dot_q8_1, q5_1_dot_q8_1_ref) },
    [WL_TYPE_Q8_1] = { "Q8_1", 32, 36, ACTIVATION_ONLY(q8_1_to_float, q8_1_from_float) },
    [WL_TYPE_Q2_K] = { "Q2_K", 256, 84, KERNELS(WL_TYPE_Q8_K, q2_K_to_float, q2_K_from_float, q2_K_dot_q8_K, q2_K_dot_q8_K_ref) },
    [WL_TYPE_Q3_K] = { "Q3_K", 256, 110, KERNELS(WL_TYPE_Q8_K, q3_K_to_float, q3_K_from_float, q3_K_dot_q8_K, q3_K_dot_q8_K_ref) },
    [WL_TYPE_Q4_K] = { "Q4_K", 256, 144, KERNELS(WL_TYPE_Q8_K, q4_K_to_float, q4_K_from_float, q4_K_dot_q8_K, q4_K_dot_q8_K_ref) },
    [WL_TYPE_Q5_K] = { "Q5_K", 256, 176, KERNELS(WL_TYPE_Q8_K, q5_K_to_float, q5_K_from_float, q5_K_dot_q8_K, q5_K_dot_q8_K_ref) },
    [WL_TYPE_Q6_K] = { "Q6_K", 256, 210, KERNELS(WL_TYPE_Q8_K, q6_K_to_float, q6_K_from_float, q6_K_dot_q8_K, q6_K_dot_q8_K_ref) },
    [WL_TYPE_Q8_K] = { "Q8_K", 256, 292, ACTIVATION_ONLY(q8_K_to_float, q8_K_from_float) },
    [16] = { "IQ2_XXS", 256, 66, GEOMETRY_ONLY },
    [17] = { "IQ2_XS", 256, 74, GEOMETRY_ONLY },
    [18] = { "IQ3_XXS", 256, 98, GEOMETRY_ONLY },
    [19] = { "IQ1_S", 256, 50, GEOMETRY_ONLY },
    [WL_TYPE_IQ4_NL] = { "IQ4_NL", 32, 18, KERNELS(WL_TYPE_Q8_0, iq4_nl_to_float, iq4_nl_from_float, iq4_nl_dot_q8_0, iq4_nl_dot_q8_0_ref) },
    [21] = { "IQ3_S", 256, 110, GEOMETRY_ONLY },
    [22] = { "IQ2_S", 256, 82, GEOMETRY_ONLY },
    [WL_TYPE_IQ4_XS] = { "IQ4_XS", 256, 136, KERNELS(WL_TYPE_Q8_K, iq4_xs_to_float, iq4_xs_from_float, iq4_xs_dot_q8_K, iq4_xs_dot_q8_K_ref) },
    [24] = { "I8", 1, 1, GEOMETRY_ONLY },
    [25] = { "I16", 1, 2, GEOMETRY_ONLY },
    [26] = { "I32", 1, 4, GEOMETRY_ONLY },
    [27] = { "I64", 1, 8, GEOMETRY_ONLY },
    [28] = { "F64", 1, 8, GEOMETRY_ONLY },
    [29] = { "IQ1_M", 256, 56, GEOMETRY_ONLY },
    [34] = { "TQ1_0", 256, 54, GEOMETRY_ONLY },
    [35] = { "TQ2_0", 256, 66, GEOMETRY_ONLY },
    [39] = { "MXFP4", 32, 17, GEOMETRY_ONLY },
};

const wl_type_traits *wl_type_get(uint32_t type) {
    if (type >= WL_TYPE_COUNT || type_table[type].name == 0) return 0;
    return &type_table[type];
}

size_t wl_row_size(wl_type type, int64_t n) {
    const wl_type_traits *t = wl_type_get((uint32_t)type);
    if (!t || n < 0 || n % t->block_size != 0) return 0;
    /* 0 also for rows whose size would not fit size_t (32 bits in wasm). */
    if ((uint64_t)(n / t->block_size) > SIZE_MAX / t->type_size) return 0;
    return (size_t)(n / t->block_size) * t->type_size;
}
