/* Matrix products between a weight tensor (any wl_type) and f32 activations.
 * Model code calls only these; block formats stay in the quant files. */
#ifndef WL_MATMUL_H
#define WL_MATMUL_H

#include <stdint.h>
#include "threadpool.h"
#include "types.h"

/* How a matrix's bytes are arranged: as in GGUF, or rearranged at load
 * time for the SIMD kernels (repack.h; the x4, x16 and x96 layouts in quant.h). */
enum { WL_LAYOUT_ROWS = 0, WL_LAYOUT_X4 = 1, WL_LAYOUT_X16 = 2, WL_LAYOUT_X96 = 3 };

/* A 2-D weight matrix as stored in GGUF: n_rows rows of n_cols elements
 * (GGUF ne[0] = n_cols is the contiguous dimension), row_stride bytes apart. */
typedef struct {
    wl_type type;
    int64_t n_cols;
    int64_t n_rows;
    size_t row_stride;
    const void *data;
    int layout; /* WL_LAYOUT_*; 0 (rows) for any zero-initialised matrix */
} wl_matrix;

/* 1 if wl_matmul can run w: its type has kernels, n_cols is a whole number of
 * blocks (and fits an int), row_stride covers a row. Check at load time;
 * wl_matmul does nothing for matrices that fail this. */
int wl_matmul_supported(const wl_matrix *w);

/* Scratch bytes wl_matmul needs for n_tokens activation rows of length n_cols
 * (the activations re-encoded in the weight type's vec_dot_type). */
size_t wl_matmul_scratch_size(const wl_matrix *w, int n_tokens);

/* out[t*n_rows + r] = sum_k W[r][k] * x[t*n_cols + k] for t in [0, n_tokens).
 * One token is matrix x vector (decode); several is matrix x matrix (prompt). */
void wl_matmul(wl_pool *pool, const wl_matrix *w, const float *x, int n_tokens,
               float *out, void *scratch);

/* Several products of the same x (Q, K and V; gate and up): out[i] = ws[i] x.
 * When every matrix takes the same activation encoding, x is encoded once and
 * all rows run in one pool pass; otherwise one wl_matmul after another. The
 * results equal separate wl_matmul calls exactly. scratch is sized for the
 * largest wl_matmul_scratch_size among ws. Does nothing if any matrix fails
 * wl_matmul_supported or n_w is outside [1, WL_MATMUL_MAX_MANY]. */
#define WL_MATMUL_MAX_MANY 16
void wl_matmul_many(wl_pool *pool, const wl_matrix *const *ws, float *const *outs, int n_w,
                    const float *x, int n_tokens, void *scratch);

/* The same with an input per matrix (a mixture of experts' down
 * projections, each fed its own expert's hidden rows): out[i] = ws[i] xs[i].
 * One pool pass when every matrix takes the same activation encoding (each
 * input encoded once), else one wl_matmul after another; the results equal
 * separate wl_matmul calls exactly. scratch holds
 * wl_matmul_each_scratch_size bytes. */
void wl_matmul_each(wl_pool *pool, const wl_matrix *const *ws, const float *const *xs, float *const *outs,
                    int n_w, int n_tokens, void *scratch);
size_t wl_matmul_each_scratch_size(const wl_matrix *w, int n_w, int n_tokens);

/* Row r of W as floats (embedding lookup). */
void wl_matrix_get_row(const wl_matrix *w, int64_t r, float *dst);

#endif
