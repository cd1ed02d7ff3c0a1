/* Helpers shared by the kernel tests (test_quant, test_matmul, test_simd_twins,
 * test_threadpool): a seeded RNG, random rows and a failure counter. */
#ifndef WL_KERNEL_TEST_H
#define WL_KERNEL_TEST_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int test_failures;

#define CHECK(cond, ...)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            test_failures++;                                               \
            if (test_failures <= 20) {                                     \
                printf("FAIL %s:%d: ", __FILE__, __LINE__);                \
                printf(__VA_ARGS__);                                       \
                printf("\n");                                              \
            }                                                              \
        }                                                                  \
    } while (0)

static inline uint32_t rng_next(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static inline float rng_uniform(uint32_t *state) { /* [-1, 1) */
    return (float)((double)rng_next(state) / 2147483648.0 - 1.0);
}

/* Roughly normal (sum of 4 uniforms), with occasional outliers and an
 * all-zero stretch, because quantizers have special cases for both. */
static inline void fill_row(float *x, int n, uint32_t *state) {
    for (int i = 0; i < n; i++) {
        float v = rng_uniform(state) + rng_uniform(state) + rng_uniform(state) + rng_uniform(state);
        if ((rng_next(state) & 63) == 0) v *= 8.0f;
        x[i] = v;
    }
    if (n >= 64) {
        for (int i = 32; i < 64; i++) x[i] = 0.0f;
    }
}

/* Q8_1 stores s = d * sum(q) as f16, and the Q4_1/Q5_1 dots use it for the
 * min term m_x * s_y: per block that adds up to |m_x| * |s_y| * 2^-11 over a
 * dequantize-then-dot reference. |m_x| <= 2 max|x| in the block (m = x_j -
 * q_j d with q_j d <= the block's range). This is that slack, doubled. */
static inline double q8_1_sum_slack(const float *xq, const float *yq, int n) {
    double slack = 0;
    for (int b = 0; b < n; b += 32) {
        double amax = 0, ysum = 0;
        for (int j = b; j < b + 32; j++) {
            amax = fmax(amax, fabs(xq[j]));
            ysum += yq[j];
        }
        slack += 2 * amax * fabs(ysum) * 0x1p-10;
    }
    return slack;
}

static inline int test_summary(const char *name) {
    if (test_failures) {
        printf("%s: %d failure(s)\n", name, test_failures);
        return 1;
    }
    printf("%s: ok\n", name);
    return 0;
}

#endif
