/* Matmul micro-benchmark: GFLOP/s of wl_matmul for SmolLM2-135M's shapes.
 *
 * wasm (what ships), from the repository root:
 *   NODE_PATH=/usr/share/nodejs emcc -O3 -msimd128 -pthread -Isrc bench/kernels.c \
 *     src/types.c src/quant_*.c src/matmul.c src/repack.c src/threadpool.c -o /tmp/bench-kernels.js \
 *     -sPTHREAD_POOL_SIZE=4 -sPROXY_TO_PTHREAD=1 -sEXIT_RUNTIME=1 -sINITIAL_MEMORY=512MB -sALLOW_MEMORY_GROWTH=1 \
 *     -sENVIRONMENT=node && node --no-experimental-fetch /tmp/bench-kernels.js [--cold] [TYPE...]
 * native:
 *   cc -O3 -march=native -Isrc bench/kernels.c src/types.c src/quant_*.c src/matmul.c \
 *     src/threadpool.c -lm -lpthread -o /tmp/bench-kernels && /tmp/bench-kernels [TYPE...]
 * TYPE defaults to Q4_0 Q8_0; any name from the traits table works (F16, Q4_K, ...).
 * Each figure is the best of several runs (the machine may be shared).
 * --cold (first argument): one-token products over 2048 x 2048 matrices
 * cycled through 160 MB, so weights come from memory as in a real decode
 * step; a kernel's in-cache speed can hide how it streams (Q4_K's and
 * Q6_K's 4-row interleaved decode tiles ran at half speed this way). */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "matmul.h"
#include "repack.h"
#include "threadpool.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static uint32_t rng_state = 1;
static float rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 17;
    rng_state ^= rng_state << 5;
    return (float)rng_state / 4294967296.0f * 2.0f - 1.0f;
}

static const char *const layout_names[] = { "   ", " x4", "x16", "x96" };

static wl_type type_by_name(const char *name) {
    for (uint32_t id = 0; id < WL_TYPE_COUNT; id++) {
        const wl_type_traits *t = wl_type_get(id);
        if (t && t->supported && strcmp(t->name, name) == 0) return (wl_type)id;
    }
    fprintf(stderr, "unknown or unsupported type %s\n", name);
    exit(2);
}

static void bench(wl_type type, int n_rows, int n_cols, int n_tokens, wl_pool *pool) {
    const wl_type_traits *t = wl_type_get(type);
    size_t row = wl_row_size(type, n_cols);
    if (row == 0) return; /* e.g. K-quants need n_cols % 256 == 0 */
    char *w = malloc(row * n_rows);
    float *tmp = malloc(sizeof(float) * n_cols);
    for (int r = 0; r < n_rows; r++) {
        for (int i = 0; i < n_cols; i++) tmp[i] = rnd();
        t->from_float(tmp, w + (size_t)r * row, n_cols);
    }
    float *x = malloc(sizeof(float) * (size_t)n_cols * n_tokens);
    for (size_t i = 0; i < (size_t)n_cols * n_tokens; i++) x[i] = rnd();
    float *out = malloc(sizeof(float) * (size_t)n_rows * n_tokens);
    wl_matrix m = { type, n_cols, n_rows, row, w };
    wl_matrix_repack(&m); /* as a model load does, where this build has a SIMD layout */
    void *scratch = malloc(wl_matmul_scratch_size(&m, n_tokens) + 64);

    double flops = 2.0 * n_rows * n_cols * n_tokens;
    /* Warm caches and threads, and let the engine tier the kernels up
     * (V8 first runs wasm with a baseline compiler): 0.2 s or 3 runs. */
    double warm_start = now_s();
    for (int i = 0; i < 3 || now_s() - warm_start < 0.2; i++) wl_matmul(pool, &m, x, n_tokens, out, scratch);
    double best = 1e30, total = 0;
    for (int rep = 0; rep < 200 && (rep < 3 || total < 0.5); rep++) {
        double t0 = now_s();
        wl_matmul(pool, &m, x, n_tokens, out, scratch);
        double dt = now_s() - t0;
        total += dt;
        if (dt < best) best = dt;
    }
    printf("%-6s%s %6d x %-5d tokens %4d threads %d: %8.3f ms  %6.2f GFLOP/s\n", t->name, layout_names[m.layout],
           n_rows, n_cols, n_tokens, wl_pool_size(pool), best * 1e3, flops / best * 1e-9);
    fflush(stdout);
    free(w); free(tmp); free(x); free(out); free(scratch);
}

/* One-token products over distinct copies of a 2048 x 2048 matrix, 160 MB
 * in all, each pass touching every copy once: GFLOP/s and GB/s of weights. */
static void bench_cold(wl_type type, wl_pool *pool) {
    enum { N = 2048 };
    const wl_type_traits *t = wl_type_get(type);
    size_t row = wl_row_size(type, N), bytes = row * N;
    if (row == 0) return;
    int copies = (int)(160e6 / (double)bytes) + 1;
    char *w = malloc(bytes * copies);
    float *tmp = malloc(sizeof(float) * N), *x = malloc(sizeof(float) * N), *out = malloc(sizeof(float) * N);
    if (!w || !tmp || !x || !out) {
        fprintf(stderr, "out of memory for the cold benchmark\n");
        exit(1);
    }
    for (int i = 0; i < N; i++) tmp[i] = rnd();
    /* the same encoded row everywhere: what matters is where it is read from */
    t->from_float(tmp, w, N);
    for (size_t r = 1; r < (size_t)N * copies; r++) memcpy(w + r * row, w, row);
    for (int i = 0; i < N; i++) x[i] = rnd();
    wl_matrix m = { type, N, N, row, w };
    void *scratch = malloc(wl_matmul_scratch_size(&m, 1) + 64);
    /* the plain layout, then (where this build has one) the repacked layout */
    for (int pass_layout = 0; pass_layout < 2; pass_layout++) {
        if (pass_layout == 1) {
            int repacked = 0;
            for (int c = 0; c < copies; c++) {
                m.data = w + (size_t)c * bytes;
                m.layout = WL_LAYOUT_ROWS;
                repacked += wl_matrix_repack(&m);
            }
            if (!repacked) break;
        }
        double best = 1e30;
        for (int pass = 0; pass < 4; pass++) {
            double t0 = now_s();
            for (int c = 0; c < copies; c++) {
                m.data = w + (size_t)c * bytes;
                wl_matmul(pool, &m, x, 1, out, scratch);
            }
            double dt = now_s() - t0;
            if (pass > 0 && dt < best) best = dt; /* pass 0 warms the engine up */
        }
        printf("%-6s%s cold %d x %d x %d copies threads %d: %6.2f GFLOP/s  %5.2f GB/s\n", t->name,
               layout_names[m.layout], N, N, copies, wl_pool_size(pool),
               2.0 * N * N * copies / best * 1e-9, (double)bytes * copies / best * 1e-9);
        fflush(stdout);
    }
    free(w); free(tmp); free(x); free(out); free(scratch);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--cold") == 0) {
        for (int ti = 2; ti < argc; ti++) {
            for (int threads = 1; threads <= 2; threads++) {
                wl_pool *pool = wl_pool_create(threads);
                if (!pool) continue;
                bench_cold(type_by_name(argv[ti]), pool);
                wl_pool_destroy(pool);
            }
        }
        return 0;
    }
    /* SmolLM2-135M (n_embd 576, n_ff 1536, vocab 49152); 2048 x 2048 for
     * formats whose 256-element super-blocks do not divide 576. */
    static const int shapes[][2] = { { 576, 576 }, { 1536, 576 }, { 576, 1536 }, { 49152, 576 }, { 2048, 2048 } };
    const char *defaults[] = { "Q4_0", "Q8_0" };
    int n_types = argc > 1 ? argc - 1 : 2;
    for (int ti = 0; ti < n_types; ti++) {
        wl_type type = type_by_name(argc > 1 ? argv[ti + 1] : defaults[ti]);
        for (int threads = 1; threads <= 2; threads++) {
            wl_pool *pool = wl_pool_create(threads);
            if (!pool) continue;
            for (int tok = 1; tok <= 128; tok *= 128) {
                for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
                    bench(type, shapes[s][0], shapes[s][1], tok, pool);
                }
            }
            wl_pool_destroy(pool);
        }
    }
    return 0;
}
