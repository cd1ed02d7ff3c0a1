/* wl_matmul against references, for every supported weight type:
 * - exactly equal to vec_dot_ref on the same encoded activations (native;
 *   under SIMD128 the float types' lane sums may differ by rounding),
 * - close to a double-precision dot of the dequantized operands,
 * - bit-identical for 1, 2 and 3 threads (each output is one vec_dot). */
#include <string.h>
#include "../../src/matmul.h"
#include "../../src/quant.h"
#include "../../src/repack.h"
#include "../../src/threadpool.h"
#include "kernel_test.h"

static int exact_twins(wl_type type) {
#ifdef __wasm_simd128__
    return type != WL_TYPE_F32 && type != WL_TYPE_F16 && type != WL_TYPE_BF16;
#else
    (void)type;
    return 1;
#endif
}

/* Which types this build rearranges (into the x4 layout, or Q4_0 and Q4_K
 * with 16 rows or more into the x16 one). */
static int x4_expected(wl_type type) {
#ifdef __wasm_simd128__
    return type == WL_TYPE_Q4_0 || type == WL_TYPE_Q5_0 || type == WL_TYPE_Q8_0 || type == WL_TYPE_IQ4_NL ||
           type == WL_TYPE_Q4_1 || type == WL_TYPE_Q5_1 || type == WL_TYPE_Q4_K || type == WL_TYPE_Q5_K ||
           type == WL_TYPE_Q6_K;
#else
    (void)type;
    return 0;
#endif
}

/* A matrix with an inf scale stays in the plain layout (the x4 and x16
 * kernels convert scales assuming they are finite): 8 rows would go to
 * x4, 32 to x16. */
static void test_x4_refuses_inf_scale(void) {
    enum { COLS = 64, MAX_ROWS = 32 };
    static wl_block_q4_0 blocks[MAX_ROWS * COLS / WL_QK];
    for (int rows = 8; rows <= MAX_ROWS; rows *= 4) {
        uint32_t rng = 5;
        float wf[COLS];
        for (int r = 0; r < rows; r++) {
            fill_row(wf, COLS, &rng);
            q4_0_from_float(wf, blocks + r * (COLS / WL_QK), COLS);
        }
        blocks[2 * rows - 3].d = 0x7c00;
        wl_matrix m = { WL_TYPE_Q4_0, COLS, rows, sizeof(wl_block_q4_0) * (COLS / WL_QK), blocks };
        CHECK(!wl_matrix_repack(&m) && m.layout == WL_LAYOUT_ROWS, "%d rows: inf scale repacked", rows);
    }
}

/* Random rows of a K-quant with an inf d in row 5's second super-block
 * and (Q4_K, Q5_K) an inf dmin in row 2's first. Q4_K and Q5_K blocks start
 * with d, dmin; Q6_K's ends with d. */
static void k_rows_with_inf(wl_type type, unsigned char *w, int rows, int cols) {
    const wl_type_traits *t = wl_type_get(type);
    const size_t row = wl_row_size(type, cols), bb = t->type_size;
    const uint16_t inf = 0x7c00;
    uint32_t rng = 11 + type;
    float wf[512];
    for (int r = 0; r < rows; r++) {
        fill_row(wf, cols, &rng);
        t->from_float(wf, w + r * row, cols);
    }
    memcpy(w + 5 * row + bb + (type == WL_TYPE_Q6_K ? bb - 2 : 0), &inf, 2);
    if (type != WL_TYPE_Q6_K) memcpy(w + 2 * row + 2, &inf, 2);
}

/* The K-quants' x4, x16 and x96 kernels convert any f16 scale: a matrix
 * with an inf scale is repacked and gives the plain layout's results, the
 * inf or NaN rows included, for one token and for several (rows 8: x4; 20:
 * Q4_K's x16 and 4 plain rows; 100: Q6_K's x96 and 4 plain rows). */
static void test_k_x4_inf_scale(wl_pool *pool, wl_type type, int rows) {
    enum { COLS = 512, TOKENS = 5 };
    const wl_type_traits *t = wl_type_get(type);
    const size_t row = wl_row_size(type, COLS);
    unsigned char *w = malloc(row * rows);
    float *x = malloc(sizeof(float) * COLS * TOKENS), *plain = malloc(sizeof(float) * rows * TOKENS);
    float *x4 = malloc(sizeof(float) * rows * TOKENS);
    for (int i = 0; i < COLS * TOKENS; i++) x[i] = (float)((i * 37) % 19) / 9.0f - 1.0f;
    for (int nt = 1; nt <= TOKENS; nt += TOKENS - 1) {
        k_rows_with_inf(type, w, rows, COLS);
        wl_matrix m = { type, COLS, rows, row, w };
        void *scratch = malloc(wl_matmul_scratch_size(&m, nt) + 1);
        wl_matmul(pool, &m, x, nt, plain, scratch);
        CHECK(wl_matrix_repack(&m), "%s with an inf scale not repacked", t->name);
        wl_matmul(pool, &m, x, nt, x4, scratch);
        for (int i = 0; i < rows * nt; i++) {
            int same = (isnan(plain[i]) && isnan(x4[i])) || memcmp(&plain[i], &x4[i], sizeof(float)) == 0;
            CHECK(same, "%s inf scale, %d tokens: out[%d] %g != plain %g", t->name, nt, i, x4[i], plain[i]);
        }
        CHECK(!isfinite(plain[5]), "%s: the inf scale did not reach row 5 (%g)", t->name, plain[5]);
        free(scratch);
    }
    free(w); free(x); free(plain); free(x4);
}

static void test_shape(wl_pool **pools, wl_type type, int n_cols, int n_rows, int n_tokens, size_t pad) {
    const wl_type_traits *t = wl_type_get(type);
    const wl_type_traits *at = wl_type_get(t->vec_dot_type);
    size_t row_size = wl_row_size(type, n_cols);
    size_t stride = row_size + pad;
    uint32_t rng = (uint32_t)(type * 7919 + n_cols * 31 + n_rows * 17 + n_tokens);

    float *wf = malloc(sizeof(float) * n_cols);
    unsigned char *wq = malloc(stride * n_rows);
    float *wdq = malloc(sizeof(float) * (size_t)n_cols * n_rows);
    float *x = malloc(sizeof(float) * (size_t)n_cols * n_tokens);
    size_t act_row = wl_row_size(t->vec_dot_type, n_cols);
    unsigned char *act = malloc(act_row * n_tokens);
    float *adq = malloc(sizeof(float) * (size_t)n_cols * n_tokens);
    float *out = malloc(sizeof(float) * (size_t)n_rows * n_tokens);
    float *out1 = malloc(sizeof(float) * (size_t)n_rows * n_tokens);
    size_t scratch_size = 0;
    wl_matrix w = { type, n_cols, n_rows, stride, wq };
    scratch_size = wl_matmul_scratch_size(&w, n_tokens);
    void *scratch = malloc(scratch_size ? scratch_size : 1);

    memset(wq, 0xa5, stride * n_rows); /* padding must be ignored */
    for (int r = 0; r < n_rows; r++) {
        fill_row(wf, n_cols, &rng);
        t->from_float(wf, wq + r * stride, n_cols);
        t->to_float(wq + r * stride, wdq + (size_t)r * n_cols, n_cols);
    }
    for (int k = 0; k < n_tokens; k++) {
        fill_row(x + (size_t)k * n_cols, n_cols, &rng);
        at->from_float(x + (size_t)k * n_cols, act + k * act_row, n_cols);
        at->to_float(act + k * act_row, adq + (size_t)k * n_cols, n_cols);
    }
    CHECK(wl_matmul_supported(&w), "%s %dx%d not supported", t->name, n_rows, n_cols);

    for (int p = 0; p < 3; p++) {
        memset(out, 0xff, sizeof(float) * (size_t)n_rows * n_tokens);
        wl_matmul(pools[p], &w, x, n_tokens, out, scratch);
        for (int k = 0; k < n_tokens; k++) {
            for (int r = 0; r < n_rows; r++) {
                float got = out[(size_t)k * n_rows + r];
                float twin;
                t->vec_dot_ref(n_cols, &twin, wq + r * stride, act + k * act_row);
                double ref = 0, mag = 0;
                for (int i = 0; i < n_cols; i++) {
                    double prod = (double)wdq[(size_t)r * n_cols + i] * adq[(size_t)k * n_cols + i];
                    ref += prod;
                    mag += fabs(prod);
                }
                if (exact_twins(type)) {
                    CHECK(got == twin, "%s t%d r%d k%d: %g != twin %g", t->name, p + 1, r, k, got, twin);
                }
                double tol = 1e-5 * mag + 1e-30;
                if (t->vec_dot_type == WL_TYPE_Q8_1)
                    tol += q8_1_sum_slack(wdq + (size_t)r * n_cols, adq + (size_t)k * n_cols, n_cols);
                CHECK(fabs(got - ref) <= tol, "%s t%d r%d k%d: %g vs ref %g (mag %g)",
                      t->name, p + 1, r, k, got, ref, mag);
            }
        }
        if (p == 0) memcpy(out1, out, sizeof(float) * (size_t)n_rows * n_tokens);
        else CHECK(memcmp(out1, out, sizeof(float) * (size_t)n_rows * n_tokens) == 0,
                   "%s: %d threads differ from 1", t->name, p + 1);
    }

    /* wl_matrix_get_row is the dequantized row. */
    float *row = malloc(sizeof(float) * n_cols);
    wl_matrix_get_row(&w, n_rows - 1, row);
    CHECK(memcmp(row, wdq + (size_t)(n_rows - 1) * n_cols, sizeof(float) * n_cols) == 0, "%s get_row", t->name);

    /* Repacked (x4 or x16 layout): the same bytes out of every product and
     * every row lookup, at every thread count. */
    if (wl_matrix_repack(&w)) {
        const int want = type == WL_TYPE_Q6_K && n_rows >= WL_X96_ROWS                                  ? WL_LAYOUT_X96
                         : (type == WL_TYPE_Q4_0 || type == WL_TYPE_Q4_K) && n_rows >= WL_X16_ROWS ? WL_LAYOUT_X16
                                                                                                  : WL_LAYOUT_X4;
        CHECK(w.layout == want && pad == 0 && n_rows >= 4, "%s repacked %d rows as layout %d, pad %zu", t->name,
              n_rows, w.layout, pad);
        CHECK(x4_expected(type), "%s has no x4 kernel but was repacked", t->name);
        for (int p = 0; p < 3; p++) {
            memset(out, 0xff, sizeof(float) * (size_t)n_rows * n_tokens);
            wl_matmul(pools[p], &w, x, n_tokens, out, scratch);
            for (size_t i = 0; i < (size_t)n_rows * n_tokens; i++) {
                CHECK(out[i] == out1[i], "%s layout %d t%d: out[%zu] %g != plain %g", t->name, w.layout, p + 1, i, out[i], out1[i]);
            }
        }
        for (int r = 0; r < n_rows; r++) {
            wl_matrix_get_row(&w, r, row);
            CHECK(memcmp(row, wdq + (size_t)r * n_cols, sizeof(float) * n_cols) == 0, "%s layout %d get_row %d", t->name, w.layout, r);
        }
        CHECK(!wl_matrix_repack(&w), "%s repacked twice", t->name);
    } else {
        CHECK(!x4_expected(type) || pad != 0 || n_rows < 4, "%s %dx%d not repacked", t->name, n_rows, n_cols);
    }
    free(row);
    free(wf); free(wq); free(wdq); free(x); free(act); free(adq); free(out); free(out1); free(scratch);
}

static void test_unsupported(void) {
    static const unsigned char data[64];
    wl_matrix bad_cols = { WL_TYPE_Q4_0, 33, 1, 64, data };
    CHECK(!wl_matmul_supported(&bad_cols), "partial block accepted");
    wl_matrix bad_stride = { WL_TYPE_Q4_0, 64, 2, 18, data };
    CHECK(!wl_matmul_supported(&bad_stride), "short stride accepted");
    wl_matrix no_kernels = { (wl_type)29, 256, 1, 56, data };
    CHECK(!wl_matmul_supported(&no_kernels), "IQ1_M accepted");
}

/* F16 weights holding inf / NaN give what the twin gives (the SIMD path
 * converts halves with a shortcut that needs a fallback for those). */
static void test_f16_specials(wl_pool *pool) {
    enum { COLS = 64, ROWS = 6, TOKENS = 5 };
    static uint16_t w[ROWS * COLS];
    static float x[TOKENS * COLS], out[TOKENS * ROWS];
    static uint16_t act[COLS];
    uint32_t rng = 99;
    for (int i = 0; i < ROWS * COLS; i++) w[i] = (uint16_t)(rng_next(&rng) & 0x3bff); /* |h| < 1 */
    for (int i = 0; i < TOKENS * COLS; i++) x[i] = rng_uniform(&rng);
    w[1 * COLS + 9] = 0x7c00;  /* +inf */
    w[4 * COLS + 40] = 0x7e00; /* NaN */
    wl_matrix m = { WL_TYPE_F16, COLS, ROWS, COLS * 2, w };
    void *scratch = malloc(wl_matmul_scratch_size(&m, TOKENS));
    for (int nt = 1; nt <= TOKENS; nt += TOKENS - 1) {
        wl_matmul(pool, &m, x, nt, out, scratch);
        for (int t = 0; t < nt; t++) {
            const wl_type_traits *tr = wl_type_get(WL_TYPE_F16);
            tr->from_float(x + t * COLS, act, COLS);
            for (int r = 0; r < ROWS; r++) {
                float twin;
                tr->vec_dot_ref(COLS, &twin, w + r * COLS, act);
                float got = out[t * ROWS + r];
                CHECK(isnan(got) == isnan(twin) && isinf(got) == isinf(twin) && (!isinf(got) || got == twin),
                      "f16 specials t%d r%d: %g vs twin %g", t, r, got, twin);
                if (isfinite(twin)) CHECK(fabsf(got - twin) <= 1e-4f * (1 + fabsf(twin)), "f16 r%d %g vs %g", r, got, twin);
            }
        }
    }
    free(scratch);
}

/* wl_matmul_many: the same bytes as one wl_matmul per matrix, whether the
 * matrices share an activation encoding (one pass) or not (one by one). */
static void test_many(wl_pool *pool, const wl_type *types, int n_w, int n_cols, int n_tokens) {
    const int rows[WL_MATMUL_MAX_MANY] = { 72, 24, 24, 40 };
    uint32_t rng = 99u + (uint32_t)n_tokens;
    wl_matrix ws[WL_MATMUL_MAX_MANY];
    const wl_matrix *wp[WL_MATMUL_MAX_MANY];
    float *many[WL_MATMUL_MAX_MANY], *one[WL_MATMUL_MAX_MANY];
    float *wf = malloc(sizeof(float) * n_cols);
    float *x = malloc(sizeof(float) * (size_t)n_cols * n_tokens);
    size_t scratch_size = 0;
    for (int i = 0; i < n_w; i++) {
        size_t stride = wl_row_size(types[i], n_cols);
        unsigned char *q = malloc(stride * rows[i]);
        for (int r = 0; r < rows[i]; r++) {
            fill_row(wf, n_cols, &rng);
            wl_type_get(types[i])->from_float(wf, q + r * stride, n_cols);
        }
        ws[i] = (wl_matrix){ types[i], n_cols, rows[i], stride, q };
        wp[i] = &ws[i];
        many[i] = malloc(sizeof(float) * rows[i] * n_tokens);
        one[i] = malloc(sizeof(float) * rows[i] * n_tokens);
        size_t need = wl_matmul_scratch_size(&ws[i], n_tokens);
        if (need > scratch_size) scratch_size = need;
    }
    for (int k = 0; k < n_tokens; k++) fill_row(x + (size_t)k * n_cols, n_cols, &rng);
    void *scratch = malloc(scratch_size);
    wl_matmul_many(pool, wp, many, n_w, x, n_tokens, scratch);
    for (int i = 0; i < n_w; i++) {
        wl_matmul(pool, &ws[i], x, n_tokens, one[i], scratch);
        CHECK(memcmp(many[i], one[i], sizeof(float) * rows[i] * n_tokens) == 0,
              "matmul_many: matrix %d (%s) of %d, %d tokens, differs from wl_matmul", i,
              wl_type_get(types[i])->name, n_w, n_tokens);
    }
    free(scratch);

    /* wl_matmul_each: an input per matrix (the first n_w rows-blocks of xe) */
    float *xe = malloc(sizeof(float) * (size_t)n_cols * n_tokens * n_w);
    const float *xs[WL_MATMUL_MAX_MANY];
    size_t each_size = 0;
    for (int i = 0; i < n_w; i++) {
        for (int k = 0; k < n_tokens; k++) fill_row(xe + ((size_t)i * n_tokens + k) * n_cols, n_cols, &rng);
        xs[i] = xe + (size_t)i * n_tokens * n_cols;
        size_t need = wl_matmul_each_scratch_size(&ws[i], n_w, n_tokens);
        if (need > each_size) each_size = need;
    }
    scratch = malloc(each_size > scratch_size ? each_size : scratch_size);
    wl_matmul_each(pool, wp, xs, many, n_w, n_tokens, scratch);
    for (int i = 0; i < n_w; i++) {
        wl_matmul(pool, &ws[i], xs[i], n_tokens, one[i], scratch);
        CHECK(memcmp(many[i], one[i], sizeof(float) * rows[i] * n_tokens) == 0,
              "matmul_each: matrix %d (%s) of %d, %d tokens, differs from wl_matmul", i,
              wl_type_get(types[i])->name, n_w, n_tokens);
        free((void *)ws[i].data), free(many[i]), free(one[i]);
    }
    free(scratch), free(xe), free(x), free(wf);
}

int main(void) {
    wl_pool *pools[3];
    for (int i = 0; i < 3; i++) {
        pools[i] = wl_pool_create(i + 1);
#ifdef WL_NO_THREADS
        if (!pools[i]) pools[i] = wl_pool_create(1);
#endif
        CHECK(pools[i] != NULL, "pool of %d", i + 1);
    }
    test_unsupported();
    test_x4_refuses_inf_scale();
#ifdef __wasm_simd128__
    test_k_x4_inf_scale(pools[0], WL_TYPE_Q4_K, 8);
    test_k_x4_inf_scale(pools[1], WL_TYPE_Q4_K, 20);
    test_k_x4_inf_scale(pools[0], WL_TYPE_Q5_K, 8);
    test_k_x4_inf_scale(pools[1], WL_TYPE_Q6_K, 8);
    test_k_x4_inf_scale(pools[1], WL_TYPE_Q6_K, 100);
#endif
    for (uint32_t id = 0; id < WL_TYPE_COUNT; id++) {
        const wl_type_traits *t = wl_type_get(id);
        if (!t || !t->supported) continue;
        int cols = t->block_size > 32 ? 512 : 320;
        test_shape(pools, (wl_type)id, cols, 67, 1, 0);
        test_shape(pools, (wl_type)id, cols, 67, 3, 0);
        test_shape(pools, (wl_type)id, cols, 67, 9, 0); /* 4-token tiles, x4 layout included */
        test_shape(pools, (wl_type)id, cols, 40, 19, 8); /* padded rows, still aligned */
        test_shape(pools, (wl_type)id, t->block_size, 1, 2, 0);
    }
    test_shape(pools, WL_TYPE_Q4_0, 320, 9, 5, 0);  /* too few rows for x16: x4 */
    test_shape(pools, WL_TYPE_Q4_0, 256, 48, 1, 0); /* x16, whole groups only, split over threads */
    test_shape(pools, WL_TYPE_Q4_0, 256, 35, 2, 0); /* x16: 2 groups, one token pair, 3 plain rows */
    test_shape(pools, WL_TYPE_Q4_K, 512, 48, 1, 0);
    test_shape(pools, WL_TYPE_Q4_K, 768, 35, 2, 0);
    test_shape(pools, WL_TYPE_Q6_K, 256, 96, 1, 0);  /* x96: one whole group */
    test_shape(pools, WL_TYPE_Q6_K, 512, 295, 1, 0); /* x96: 3 groups split over threads, 7 plain rows */
    test_shape(pools, WL_TYPE_Q6_K, 512, 200, 2, 0); /* x96: one token pair */
    test_shape(pools, WL_TYPE_Q6_K, 768, 200, 5, 0); /* x96: two pairs and an odd token, 8 plain rows */
    test_shape(pools, WL_TYPE_F32, 101, 5, 2, 4); /* float rows need no block multiple */
    test_shape(pools, WL_TYPE_F16, 100, 9, 6, 2);
    test_f16_specials(pools[1]);
    const wl_type same[] = { WL_TYPE_Q4_0, WL_TYPE_Q4_0, WL_TYPE_Q4_0 };
    const wl_type shared_act[] = { WL_TYPE_Q4_0, WL_TYPE_Q8_0, WL_TYPE_IQ4_NL }; /* all dot Q8_0 */
    const wl_type mixed[] = { WL_TYPE_Q4_K, WL_TYPE_Q4_K, WL_TYPE_Q6_K, WL_TYPE_F16 };
    for (int p = 0; p < 3; p++) {
        for (int nt = 1; nt <= 5; nt += 4) {
            test_many(pools[p], same, 3, 512, nt);
            test_many(pools[p], shared_act, 3, 512, nt);
            test_many(pools[p], mixed, 4, 512, nt);
            test_many(pools[p], mixed + 3, 1, 512, nt);
        }
    }
    for (int i = 0; i < 3; i++) wl_pool_destroy(pools[i]);
    return test_summary("test_matmul");
}
