/* Under SIMD128 (emcc -msimd128): every supported type's vec_dot against its
 * scalar twin vec_dot_ref on random rows. Quantized types sum exact block
 * integers and scale them in the twin's order, so they must be bit-identical;
 * the float types sum in four lanes instead of one double, so they must
 * agree within a few float ulps of sum |x*y|. Native builds have no SIMD
 * twin to compare, and say so. */
#include <string.h>
#include "../../src/fp16.h"
#include "../../src/layer.h"
#include "../../src/ops.h"
#include "../../src/quant.h"
#include "../../src/quant_simd.h"
#include "../../src/types.h"
#include "kernel_test.h"

#ifdef __wasm_simd128__
static int must_be_exact(wl_type type) {
    return type != WL_TYPE_F32 && type != WL_TYPE_F16 && type != WL_TYPE_BF16;
}

static void test_type(wl_type type) {
    const wl_type_traits *t = wl_type_get(type);
    const wl_type_traits *at = wl_type_get(t->vec_dot_type);
    enum { MAXN = 4096 };
    static float x[MAXN], y[MAXN], xq[MAXN], yq[MAXN];
    static unsigned char bx[MAXN * 4], by[MAXN * 4];
    uint32_t rng = 77 + (uint32_t)type;
    int lens[] = { 256, 512, 768, 1536, 4096 };
    for (int li = 0; li < 5; li++) {
        int n = lens[li];
        for (int iter = 0; iter < 50; iter++) {
            fill_row(x, n, &rng);
            fill_row(y, n, &rng);
            t->from_float(x, bx, n);
            at->from_float(y, by, n);
            if (iter < 2 && must_be_exact(type)) {
                /* Extreme codes: bytes 0x80 / 0xff hit -128 and all-ones nibbles. */
                memset(bx + 8, iter ? 0xff : 0x80, 40);
            }
            float fast = NAN, ref = NAN;
            t->vec_dot(n, &fast, bx, by);
            t->vec_dot_ref(n, &ref, bx, by);
            if (must_be_exact(type)) {
                CHECK(memcmp(&fast, &ref, sizeof fast) == 0, "%s n=%d: simd %a != ref %a", t->name, n, fast, ref);
            } else {
                t->to_float(bx, xq, n);
                at->to_float(by, yq, n);
                double mag = 0;
                for (int i = 0; i < n; i++) mag += fabs((double)xq[i] * yq[i]);
                /* Lane-wise float sums: a few ulps of sum |x*y|; one
                 * dropped or wrong element would cost ~mag/n >= 2.4e-4 mag. */
                CHECK(fabs((double)fast - ref) <= 1e-5 * mag, "%s n=%d: simd %g vs ref %g (mag %g)", t->name, n, fast, ref, mag);
            }
        }
    }
}

/* The activation quantizer: identical codes, scale and sum to its twin,
 * on random blocks, exact ties (x/d = k + 0.5 with d = 1), all-zero
 * blocks, and NaN/inf lanes. */
static void check_block_i8(const float *x, const char *what) {
    int8_t qa[WL_QK], qb[WL_QK];
    float da, db;
    int sa = wl_quantize_block_i8(x, qa, &da);
    int sb = wl_quantize_block_i8_ref(x, qb, &db);
    CHECK(memcmp(qa, qb, sizeof qa) == 0 && memcmp(&da, &db, sizeof da) == 0 && sa == sb,
          "quantize_block_i8 (%s): simd d=%a sum=%d vs ref d=%a sum=%d", what, da, sa, db, sb);
}

static void test_block_quantizer(void) {
    float x[WL_QK];
    uint32_t rng = 4242;
    for (int iter = 0; iter < 2000; iter++) {
        fill_row(x, WL_QK, &rng);
        check_block_i8(x, "random");
    }
    for (int j = 0; j < WL_QK; j++) x[j] = (float)(j % 2 ? j - 16 : 16 - j) + 0.5f;
    x[0] = 127.0f; /* amax 127: d = 1, so every other value is an exact tie */
    check_block_i8(x, "ties");
    int8_t q[WL_QK];
    float d;
    wl_quantize_block_i8(x, q, &d);
    CHECK(q[1] == -15 && q[2] == 15, "ties round away from zero: got %d, %d", q[1], q[2]);
    for (int j = 0; j < WL_QK; j++) x[j] = 0.0f;
    check_block_i8(x, "zeros");
    x[3] = NAN;
    x[7] = 1.0f;
    check_block_i8(x, "NaN");
    x[9] = INFINITY;
    check_block_i8(x, "inf");
}
#endif

#ifdef __wasm_simd128__
/* Every one of the 65536 halves, eight per vector in every lane position:
 * the fast conversion gives wl_fp16_to_fp32's bits (inf and NaN take the
 * general path, subnormals and zeros the fast one). */
static void test_fp16x8_conversion(void) {
    int bad = 0;
    for (uint32_t base = 0; base < 65536; base += 8) {
        uint16_t h[8];
        for (int k = 0; k < 8; k++) h[k] = (uint16_t)(base + (uint32_t)((k * 3) % 8));
        v128_t lo, hi;
        wl_fp16x8_to_f32x4x2(wasm_v128_load(h), &lo, &hi);
        float out[8];
        wasm_v128_store(out, lo);
        wasm_v128_store(out + 4, hi);
        for (int k = 0; k < 8; k++) {
            float want = wl_fp16_to_fp32(h[k]);
            if (memcmp(&want, &out[k], 4) != 0 && bad++ < 5) {
                CHECK(0, "half %04x: %a, want %a", h[k], out[k], want);
            }
        }
    }
    CHECK(bad == 0, "%d halves converted wrongly", bad);
}

/* The attention score kernel has F16's vec_dot bits when q holds f16
 * values, so attention over an F16 cache is unchanged by it. */
static void test_f16_dot_f32(void) {
    enum { MAXN = 256 };
    static float k32[MAXN], q[MAXN], qf[MAXN];
    static uint16_t k16[MAXN], q16[MAXN];
    const wl_type_traits *f16 = wl_type_get(WL_TYPE_F16);
    uint32_t rng = 991;
    const int lens[] = { 64, 80, 96, 128, 131, 256 };
    for (int li = 0; li < 6; li++) {
        int n = lens[li];
        for (int iter = 0; iter < 20; iter++) {
            fill_row(k32, n, &rng);
            fill_row(q, n, &rng);
            f16->from_float(k32, k16, n);
            f16->from_float(q, q16, n);
            f16->to_float(q16, qf, n);
            float want = NAN;
            f16->vec_dot(n, &want, k16, q16);
            float got = wl_f16_dot_f32(k16, qf, n);
            CHECK(memcmp(&got, &want, 4) == 0, "n=%d: f16 . f32 %a != vec_dot %a", n, got, want);
        }
    }
}
#endif

#ifdef __wasm_simd128__
/* The Mamba-2 scan's state row (ssm.c): the same updated state bits, and
 * a dot within a few float ulps of sum |s * c|, for d_state sizes with
 * and without a scalar tail. */
static void test_ssm_state_row(void) {
    enum { MAXN = 256 };
    static float s0[MAXN], s1[MAXN], s2[MAXN], b[MAXN], c[MAXN];
    uint32_t rng = 2026;
    const int lens[] = { 1, 3, 16, 64, 127, 128, 256 };
    for (int li = 0; li < 7; li++) {
        const int n = lens[li];
        for (int iter = 0; iter < 100; iter++) {
            fill_row(s0, n, &rng);
            fill_row(b, n, &rng);
            fill_row(c, n, &rng);
            memcpy(s1, s0, (size_t)n * sizeof(float));
            memcpy(s2, s0, (size_t)n * sizeof(float));
            const float a = 0.5f + 0.004f * (float)iter, x_dt = 0.01f * (float)(iter - 50);
            const float fast = wl_ssm_state_row(s1, b, c, a, x_dt, n);
            const float ref = wl_ssm_state_row_ref(s2, b, c, a, x_dt, n);
            CHECK(memcmp(s1, s2, (size_t)n * sizeof(float)) == 0, "ssm_state_row n=%d: state differs", n);
            double mag = 0;
            for (int k = 0; k < n; k++) mag += fabs((double)s2[k] * c[k]);
            CHECK(fabs((double)fast - ref) <= 1e-5 * mag + 1e-30, "ssm_state_row n=%d: simd %g vs ref %g (mag %g)",
                  n, fast, ref, mag);
        }
    }
}
#endif

int main(void) {
#ifdef __wasm_simd128__
    test_ssm_state_row();
    test_fp16x8_conversion();
    test_f16_dot_f32();
    int n_types = 0;
    for (uint32_t id = 0; id < WL_TYPE_COUNT; id++) {
        const wl_type_traits *t = wl_type_get(id);
        if (!t || !t->supported) continue;
        CHECK(t->vec_dot != t->vec_dot_ref, "%s has no SIMD twin", t->name);
        test_type((wl_type)id);
        n_types++;
    }
    printf("compared %d types\n", n_types);
    test_block_quantizer();
    return test_summary("test_simd_twins");
#else
    printf("test_simd_twins: skipped: not a SIMD build (run tools/run-wasm-ctest.sh)\n");
    return 0;
#endif
}
