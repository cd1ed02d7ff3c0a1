/* Weights rearranged at load time for the SIMD kernels (the x4, x16 and
 * x96 layouts in quant.h). Matmul and row lookup read every layout; only these
 * functions write one. */
#ifndef WL_REPACK_H
#define WL_REPACK_H

#include "matmul.h"

/* Rewrites m's rows in place in a SIMD layout when the build has kernels
 * for it and that pays: Q6_K with at least 96 rows in the x96 layout;
 * Q4_0 and Q4_K with at least 16 rows in the x16 layout; Q4_0, Q4_K and
 * Q6_K with fewer, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL and Q5_K, with at least
 * 4 rows, in the x4 layout. Rows past the last whole group stay as they
 * are (x16 and x96). Rows must be densely stored and
 * (except for the K-quants) have only finite scales and mins. Returns 1 if
 * it did (m->layout says which), 0 if m is left as it was. */
int wl_matrix_repack(wl_matrix *m);

/* Rows in one group of a layout: 96 for x96, 16 for x16, 4 for x4 (and
 * for the plain layout, whose tiles take 4 rows at a time). */
int64_t wl_layout_group_rows(int layout);

/* Row r of an x4 matrix as floats (the same values as before repacking). */
void wl_x4_get_row(const wl_matrix *m, int64_t r, float *dst);
/* Row r (in a whole group of 16) of an x16 matrix as floats. */
void wl_x16_get_row(const wl_matrix *m, int64_t r, float *dst);
/* Row r (in a whole group of 96) of an x96 matrix as floats. */
void wl_x96_get_row(const wl_matrix *m, int64_t r, float *dst);

#endif
