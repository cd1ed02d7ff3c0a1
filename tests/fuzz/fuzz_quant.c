/* libFuzzer target: the block decoders and dot products on arbitrary
 * weight bytes. Byte 0 picks a type id; every id with kernels (the traits
 * table decides, so new formats are fuzzed without editing this file) gets
 * its blocks dequantized, and dotted, fast and scalar, with activations
 * re-encoded from the decoded values the way matmul does it. Weights come
 * from files, so any bit pattern (NaN/inf scales, extreme codes) must be
 * safe to decode. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

#define MAX_BLOCKS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    const wl_type_traits *tt = wl_type_get(data[0] % WL_TYPE_COUNT);
    if (!tt || !tt->supported || !tt->to_float) return 0;
    size_t n_blocks = (size - 1) / tt->type_size;
    if (n_blocks > MAX_BLOCKS) n_blocks = MAX_BLOCKS;
    if (n_blocks == 0) return 0;
    int64_t n = (int64_t)n_blocks * tt->block_size;

    /* Exact-size, malloc-aligned copy: tensor rows are aligned the same way. */
    uint8_t *x = malloc(n_blocks * tt->type_size);
    memcpy(x, data + 1, n_blocks * tt->type_size);
    float *decoded = malloc((size_t)n * sizeof *decoded);
    tt->to_float(x, decoded, n);

    const wl_type_traits *vt = wl_type_get(tt->vec_dot_type);
    if (vt && vt->from_float && tt->vec_dot && tt->vec_dot_ref) {
        /* Activations are finite in practice; NaN in from_float is its own question. */
        for (int64_t i = 0; i < n; i++)
            if (!isfinite(decoded[i])) decoded[i] = 0.0f;
        size_t y_bytes = wl_row_size(tt->vec_dot_type, n);
        if (y_bytes) {
            void *y = malloc(y_bytes);
            vt->from_float(decoded, y, n);
            float s_fast = 0, s_ref = 0;
            tt->vec_dot((int)n, &s_fast, x, y);
            tt->vec_dot_ref((int)n, &s_ref, x, y);
            volatile float sink = s_fast + s_ref;
            (void)sink;
            free(y);
        }
    }
    free(decoded);
    free(x);
    return 0;
}
