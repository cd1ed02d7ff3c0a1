/* Cross-checks our block formats against ggml itself, using the prebuilt
 * libggml that node-llama-cpp installs under tests/ref (the parity
 * reference). For every supported type, on blocks that ggml's own quantizer
 * wrote from random data:
 * - our to_float must equal ggml's dequantize_row_* bit for bit (layouts),
 * - our activation encoders (Q8_0, Q8_1, Q8_K) and the quantizers that follow
 *   ggml's reference (Q4_0, Q4_1, Q5_0, Q5_1) must write identical bytes,
 * - our vec_dot must agree with ggml-cpu's vec_dot to float rounding.
 * Skips (and says so) where the library is absent (wasm, no tests/ref). */
#include <stdio.h>

#if defined(__linux__) && defined(__x86_64__) && !defined(__EMSCRIPTEN__)
#define _GNU_SOURCE
#include <dlfcn.h>
#include <string.h>
#include "../../src/types.h"
#include "kernel_test.h"

#define LIBDIR "tests/ref/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64/"

typedef void (*ggml_to_float)(const void *x, float *y, int64_t k);
typedef void (*ggml_from_float)(const float *x, void *y, int64_t k);
typedef size_t (*ggml_quantize_chunk_fn)(int type, const float *src, void *dst, int64_t start,
                                         int64_t nrows, int64_t n_per_row, const float *imatrix);
typedef void (*ggml_vec_dot)(int n, float *s, size_t bs, const void *x, size_t bx, const void *y, size_t by, int nrc);
typedef struct {
    ggml_from_float from_float;
    ggml_vec_dot vec_dot;
    int vec_dot_type;
    int64_t nrows;
} ggml_cpu_traits;

static const struct { wl_type type; const char *suffix; int exact_quantizer; } kinds[] = {
    { WL_TYPE_Q4_0, "q4_0", 1 }, { WL_TYPE_Q4_1, "q4_1", 1 }, { WL_TYPE_Q5_0, "q5_0", 1 },
    { WL_TYPE_Q5_1, "q5_1", 1 }, { WL_TYPE_Q8_0, "q8_0", 1 }, { WL_TYPE_Q2_K, "q2_K", 0 },
    { WL_TYPE_Q3_K, "q3_K", 0 }, { WL_TYPE_Q4_K, "q4_K", 0 }, { WL_TYPE_Q5_K, "q5_K", 0 },
    { WL_TYPE_Q6_K, "q6_K", 0 }, { WL_TYPE_IQ4_NL, "iq4_nl", 0 }, { WL_TYPE_IQ4_XS, "iq4_xs", 0 },
};

static void *sym(void *lib, const char *name) {
    void *p = dlsym(lib, name);
    CHECK(p != NULL, "missing symbol %s", name);
    return p;
}

/* Our encoder of `type` must write the same bytes as ggml's reference. */
static void check_encoder(void *base, wl_type type, const char *suffix, const float *x, int n) {
    char name[64];
    snprintf(name, sizeof name, "quantize_row_%s_ref", suffix);
    ggml_from_float ref = (ggml_from_float)sym(base, name);
    const wl_type_traits *t = wl_type_get(type);
    size_t bytes = wl_row_size(type, n);
    static unsigned char a[1 << 16], b[1 << 16];
    memset(a, 0, bytes);
    memset(b, 0, bytes);
    if (!ref) return;
    ref(x, a, n);
    t->from_float(x, b, n);
    CHECK(memcmp(a, b, bytes) == 0, "%s encoder differs from ggml's", t->name);
}

int main(void) {
    void *base = dlopen(LIBDIR "libggml-base.so", RTLD_NOW | RTLD_GLOBAL);
    void *cpu = base ? dlopen(LIBDIR "libggml-cpu-x64.so", RTLD_NOW | RTLD_GLOBAL) : NULL;
    if (!base || !cpu) {
        printf("test_ggml_crosscheck: skipped: %s (install tests/ref)\n", dlerror());
        return 0;
    }
    void (*cpu_init)(void) = (void (*)(void))sym(cpu, "ggml_cpu_init");
    const ggml_cpu_traits *(*cpu_traits)(int) = (const ggml_cpu_traits *(*)(int))sym(cpu, "ggml_get_type_traits_cpu");
    ggml_quantize_chunk_fn quantize_chunk = (ggml_quantize_chunk_fn)sym(base, "ggml_quantize_chunk");
    if (!cpu_init || !cpu_traits || !quantize_chunk) return test_summary("test_ggml_crosscheck");
    cpu_init();

    enum { N = 4096 };
    static float x[N], y[N], ours[N], theirs[N];
    static unsigned char wq[N * 2], aq[N * 2];
    uint32_t rng = 4242;

    for (int iter = 0; iter < 8; iter++) {
        fill_row(x, N, &rng);
        fill_row(y, N, &rng);
        check_encoder(base, WL_TYPE_Q8_0, "q8_0", y, N);
        check_encoder(base, WL_TYPE_Q8_1, "q8_1", y, N);
        check_encoder(base, WL_TYPE_Q8_K, "q8_K", y, N);
        for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
            const wl_type_traits *t = wl_type_get(kinds[k].type);
            char name[64];
            snprintf(name, sizeof name, "dequantize_row_%s", kinds[k].suffix);
            ggml_to_float deq = (ggml_to_float)sym(base, name);
            if (!deq) continue;
            if (kinds[k].exact_quantizer) check_encoder(base, kinds[k].type, kinds[k].suffix, x, N);

            /* ggml's production quantizer writes the weights. */
            quantize_chunk((int)kinds[k].type, x, wq, 0, 1, N, NULL);
            deq(wq, theirs, N);
            t->to_float(wq, ours, N);
            CHECK(memcmp(ours, theirs, sizeof(float) * N) == 0, "%s to_float differs from ggml", t->name);

            /* Our own quantizer's blocks must read back the same in ggml. */
            t->from_float(x, wq, N);
            deq(wq, theirs, N);
            t->to_float(wq, ours, N);
            CHECK(memcmp(ours, theirs, sizeof(float) * N) == 0, "%s (our blocks) to_float differs from ggml", t->name);

            /* Dots on ggml-written weights and our encoded activations. */
            quantize_chunk((int)kinds[k].type, x, wq, 0, 1, N, NULL);
            const ggml_cpu_traits *ct = cpu_traits((int)kinds[k].type);
            CHECK(ct->vec_dot_type == (int)t->vec_dot_type, "%s vec_dot_type %d vs ggml %d", t->name,
                  (int)t->vec_dot_type, ct->vec_dot_type);
            wl_type_get(t->vec_dot_type)->from_float(y, aq, N);
            float s_ggml = 0, s_ref = 0, s = 0;
            ct->vec_dot(N, &s_ggml, 0, wq, 0, aq, 0, 1);
            t->vec_dot_ref(N, &s_ref, wq, aq);
            t->vec_dot(N, &s, wq, aq);
            t->to_float(wq, ours, N);
            wl_type_get(t->vec_dot_type)->to_float(aq, theirs, N);
            double mag = 0;
            for (int i = 0; i < N; i++) mag += fabs((double)ours[i] * theirs[i]);
            CHECK(fabs(s_ref - s_ggml) <= 1e-5 * mag, "%s dot %g vs ggml %g (mag %g)", t->name, s_ref, s_ggml, mag);
            CHECK(fabs(s - s_ggml) <= 1e-5 * mag, "%s fast dot %g vs ggml %g", t->name, s, s_ggml);
        }
    }
    return test_summary("test_ggml_crosscheck");
}

#else
int main(void) {
    printf("test_ggml_crosscheck: skipped: needs the x86-64 Linux libggml from tests/ref\n");
    return 0;
}
#endif
