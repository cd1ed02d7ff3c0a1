/* Weights rearranged at load time for the SIMD kernels (the x4 layout in
 * quant.h). Matmul and row lookup read either layout; only these functions
 * write one. */
#ifndef WL_REPACK_H
#define WL_REPACK_H

#include "matmul.h"

/* Rewrites m's rows in place in the x4 layout when the build has kernels
 * for it and that pays (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL, Q4_K, Q5_K, Q6_K with at least
 * 4 densely stored rows and only finite scales and mins); returns 1 if it
 * did, 0 if m is left as it was. */
int wl_matrix_repack_x4(wl_matrix *m);

/* Row r of an x4 matrix as floats (the same values as before repacking). */
void wl_x4_get_row(const wl_matrix *m, int64_t r, float *dst);

#endif
