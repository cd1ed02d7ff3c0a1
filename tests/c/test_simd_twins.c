/* Under SIMD128 (emcc -msimd128): every supported type's vec_dot against its
 * scalar twin vec_dot_ref on random rows. Quantized types sum exact block
 * integers and scale them in the twin's order, so they must be bit-identical;
 * the float types sum in four lanes instead of one double, so they must
 * agree within a few float ulps of sum |x*y|. Native builds have no SIMD
 * twin to compare, and say so. */
#include <string.h>
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
#endif

int main(void) {
#ifdef __wasm_simd128__
    int n_types = 0;
    for (uint32_t id = 0; id < WL_TYPE_COUNT; id++) {
        const wl_type_traits *t = wl_type_get(id);
        if (!t || !t->supported) continue;
        CHECK(t->vec_dot != t->vec_dot_ref, "%s has no SIMD twin", t->name);
        test_type((wl_type)id);
        n_types++;
    }
    printf("compared %d types\n", n_types);
    return test_summary("test_simd_twins");
#else
    printf("test_simd_twins: skipped: not a SIMD build (run tools/run-wasm-ctest.sh)\n");
    return 0;
#endif
}
