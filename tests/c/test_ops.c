/* Transformer ops against values computed by hand. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fp16.h"
#include "ops.h"
#include "types.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

static void check_vec(const char *what, const float *got, const float *want, int n, float tol) {
    for (int i = 0; i < n; i++) {
        CHECK(fabsf(got[i] - want[i]) <= tol, "%s[%d] = %.7f, want %.7f", what, i, got[i], want[i]);
    }
}

static void test_norms(void) {
    const float x[4] = {1, 2, 3, 4};
    float out[4];
    /* mean(x^2) = 7.5 -> x / sqrt(7.5) */
    wl_rmsnorm(out, x, NULL, 4, 0.0f);
    check_vec("rmsnorm", out, (const float[]){0.3651484f, 0.7302967f, 1.0954451f, 1.4605935f}, 4, 1e-6f);
    const float w[4] = {1, 1, 2, 0.5f};
    wl_rmsnorm(out, x, w, 4, 0.0f);
    check_vec("rmsnorm*w", out, (const float[]){0.3651484f, 0.7302967f, 2.1908902f, 0.7302967f}, 4, 1e-6f);
    /* eps enters under the root: mean 7.5 + 0.5 = 8 */
    wl_rmsnorm(out, x, NULL, 4, 0.5f);
    check_vec("rmsnorm eps", out, (const float[]){0.3535534f, 0.7071068f, 1.0606602f, 1.4142136f}, 4, 1e-6f);
    /* mean 2.5, variance 1.25 */
    wl_layernorm(out, x, NULL, NULL, 4, 0.0f);
    check_vec("layernorm", out, (const float[]){-1.3416408f, -0.4472136f, 0.4472136f, 1.3416408f}, 4, 1e-6f);
    const float b[4] = {1, 0, 0, -1};
    wl_layernorm(out, x, w, b, 4, 0.0f);
    check_vec("layernorm*w+b", out, (const float[]){-0.3416408f, -0.4472136f, 0.8944272f, -0.3291796f}, 4, 1e-6f);
}

static void test_rope(void) {
    float cs[4];
    /* pos 1, n_rot 4, base 10000: angles 1 and 10000^(-1/2) = 0.01 */
    wl_rope_cache(cs, 4, 1, 10000.0f, 1.0f, NULL, NULL);
    check_vec("rope cache", cs, (const float[]){cosf(1.0f), sinf(1.0f), cosf(0.01f), sinf(0.01f)}, 4, 1e-6f);

    float x[4] = {1, 0, 0, 1};
    wl_rope_apply(x, 1, 4, 4, cs, WL_ROPE_NORMAL);
    /* (1,0) turned by 1 rad, (0,1) turned by 0.01 rad */
    check_vec("rope normal", x, (const float[]){0.5403023f, 0.8414710f, -0.0099998f, 0.9999500f}, 4, 1e-6f);

    float y[4] = {1, 0, 0, 1};
    wl_rope_apply(y, 1, 4, 4, cs, WL_ROPE_NEOX);
    /* neox pairs (y0, y2) by 1 rad and (y1, y3) by 0.01 rad */
    check_vec("rope neox", y, (const float[]){0.5403023f, -0.0099998f, 0.8414710f, 0.9999500f}, 4, 1e-6f);

    /* only the first n_rot dims of each head rotate; two heads */
    float z[6] = {1, 0, 7, 1, 0, 7};
    wl_rope_apply(z, 2, 3, 2, cs, WL_ROPE_NORMAL);
    check_vec("rope partial", z, (const float[]){0.5403023f, 0.8414710f, 7, 0.5403023f, 0.8414710f, 7}, 6, 1e-6f);

    /* position 0 is the identity */
    wl_rope_cache(cs, 4, 0, 10000.0f, 1.0f, NULL, NULL);
    check_vec("rope pos 0", cs, (const float[]){1, 0, 1, 0}, 4, 0.0f);

    /* linear scaling 1/2 at pos 2 == no scaling at pos 1 */
    float a[4], b[4];
    wl_rope_cache(a, 4, 2, 10000.0f, 0.5f, NULL, NULL);
    wl_rope_cache(b, 4, 1, 10000.0f, 1.0f, NULL, NULL);
    check_vec("rope linear", a, b, 4, 1e-6f);

    /* freq factors divide the angle of their pair */
    const float ff[2] = {1.0f, 2.0f};
    wl_rope_cache(a, 4, 1, 10000.0f, 1.0f, ff, NULL);
    check_vec("rope freq factors", a, (const float[]){cosf(1.0f), sinf(1.0f), cosf(0.005f), sinf(0.005f)}, 4, 1e-6f);
}

static void test_softmax_and_acts(void) {
    float x[3] = {1, 2, 3};
    wl_softmax(x, 3);
    check_vec("softmax", x, (const float[]){0.0900306f, 0.2447285f, 0.6652410f}, 3, 1e-6f);
    float big[2] = {1000, 1000};
    wl_softmax(big, 2);
    check_vec("softmax big", big, (const float[]){0.5f, 0.5f}, 2, 0.0f);

    CHECK(fabsf(wl_silu(1.0f) - 0.7310586f) < 1e-6f, "silu(1) = %f", wl_silu(1.0f));
    CHECK(fabsf(wl_silu(-2.0f) + 0.2384058f) < 1e-6f, "silu(-2) = %f", wl_silu(-2.0f));
    /* tanh GELU(1) = 0.841192, then rounded to f16 as ggml's table is */
    CHECK(fabsf(wl_gelu(1.0f) - 0.8413086f) < 1e-6f, "gelu(1) = %.7f", wl_gelu(1.0f));
    CHECK(wl_gelu(-11.0f) == 0.0f && wl_gelu(12.0f) == 12.0f, "gelu saturation");

    float gate[2] = {1, -2}, up[2] = {2, 3}, out[2];
    wl_gated_act(out, gate, up, 2, WL_ACT_SILU);
    check_vec("swiglu", out, (const float[]){1.4621172f, -0.7152174f}, 2, 1e-6f);

    float cap[2] = {0.5f, 100.0f};
    wl_softcap(cap, 2, 30.0f);
    check_vec("softcap", cap, (const float[]){30.0f * tanhf(0.5f / 30.0f), 30.0f * tanhf(100.0f / 30.0f)}, 2, 1e-5f);
}

static void test_attention(void) {
    const wl_type_traits *f16 = wl_type_get(WL_TYPE_F16);
    /* two cached positions, head size 2 */
    const float kf[4] = {1, 0, 0, 1}, vf[4] = {1, 2, 3, 4};
    uint16_t k[4], v[4];
    float scratch[8];
    f16->from_float(kf, k, 4);
    f16->from_float(vf, v, 4);
    wl_attn_head h = { .k = k, .v = v, .k_stride = 4, .v_stride = 4, .k_type = WL_TYPE_F16,
                       .v_type = WL_TYPE_F16, .head_dim_k = 2, .head_dim_v = 2, .scale = 1.0f };
    CHECK(wl_attend_scratch_floats(WL_TYPE_F16, WL_TYPE_F16, 2, 2) <= 8, "attend scratch");
    const float q[2] = {1, 0};
    float out[2];
    /* scores (1, 0). Like ggml's flash attention the running sum of V is
     * kept in f16: after v0 it is (1, 2); adding e^-1 * v1 gives
     * (2.10364, 3.47152), rounded to f16 (steps of 2^-9) = (2.1035156, 3.4707031),
     * then divided by 1 + e^-1. Exact math would give (1.5378828, 2.5378828). */
    wl_attend(&h, q, 0, 2, out, scratch);
    check_vec("attend", out, (const float[]){2.103515625f / 1.36787944f, 3.470703125f / 1.36787944f}, 2, 1e-6f);
    /* the first position alone: out = v0 */
    wl_attend(&h, q, 0, 1, out, scratch);
    check_vec("attend causal", out, (const float[]){1, 2}, 2, 1e-6f);
    /* a window that starts at position 1: out = v1 */
    wl_attend(&h, q, 1, 2, out, scratch);
    check_vec("attend window", out, (const float[]){3, 4}, 2, 1e-6f);
    /* scale 2: scores (2, 0) */
    h.scale = 2.0f;
    wl_attend(&h, q, 0, 2, out, scratch);
    /* (1, 2) + e^-2 (3, 4) = (1.40601, 2.54134) -> f16 (1.40625, 2.5410156), / (1 + e^-2) */
    check_vec("attend scale", out, (const float[]){1.40625f / 1.13533528f, 2.541015625f / 1.13533528f}, 2, 1e-6f);
}

/* The SIMD f16 accumulator against its scalar twin (exact), and the
 * rounding itself on values around every f16 boundary. */
static void test_f16_accumulator(void) {
    enum { N = 203 };
    static float a[N], b[N];
    static uint16_t v[N];
    const wl_type_traits *f16 = wl_type_get(WL_TYPE_F16);
    uint32_t x = 12345u;
    float src[N];
    for (int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        /* v from f16 subnormals to 2^15 (finite, so no inf - inf NaNs);
         * sums past 65504 exercise the overflow to infinity */
        const float mag = ldexpf(1.0f, (int)(x >> 27) - 26 + (i % 3 == 0 ? 9 : 0));
        src[i] = ((x >> 8) & 1 ? -1.0f : 1.0f) * mag * (1.0f + (float)((x >> 9) & 1023) / 1024.0f);
        a[i] = b[i] = (float)((int)((x >> 4) & 255) - 128) / 64.0f;
    }
    f16->from_float(src, v, N);
    const float scales[4] = {0.37f, 1.0f, 1e-7f, 3.5f};
    for (int k = 0; k < 4; k++) {
        wl_f16_acc_mad(a, v, scales[k], N);
        wl_f16_acc_mad_ref(b, v, scales[k], N);
        wl_f16_acc_scale(a, scales[3 - k], N);
        wl_f16_acc_scale_ref(b, scales[3 - k], N);
    }
    CHECK(memcmp(a, b, sizeof a) == 0, "SIMD and scalar f16 accumulators differ");
    /* every result is an f16 value: converting to f16 and back changes nothing */
    uint16_t h[N];
    float back[N];
    f16->from_float(b, h, N);
    f16->to_float(h, back, N);
    CHECK(memcmp(back, b, sizeof b) == 0, "accumulator values are not all f16 values");
    /* one element by hand: 0 + 1 * 0.1 -> f16(0.1) = 0.0999755859375 */
    float one = 0.0f;
    const float tenth = 0.1f;
    uint16_t ht;
    f16->from_float(&tenth, &ht, 1);
    wl_f16_acc_mad_ref(&one, &ht, 1.0f, 1);
    CHECK(one == 0.0999755859375f, "f16(0.1) = %.10g", one);
    /* overflow and subnormals: 65504 + 16 -> inf; 2^-24 * 0.75 -> 2^-24 */
    float big = 65504.0f, tiny = 0.0f;
    const float sixteen = 16.0f, sub = 0x1p-24f;
    uint16_t h16, hs;
    f16->from_float(&sixteen, &h16, 1);
    f16->from_float(&sub, &hs, 1);
    wl_f16_acc_mad_ref(&big, &h16, 1.0f, 1);
    wl_f16_acc_mad_ref(&tiny, &hs, 0.75f, 1);
    CHECK(isinf(big) && tiny == 0x1p-24f, "f16 rounding edges: %g %g", big, tiny);
}

/* The attention score kernel against its double-sum twin, and one by hand. */
static void test_f16_dot_f32(void) {
    enum { N = 131 };
    uint16_t k[N];
    float kf[N], q[N];
    uint32_t x = 777u;
    for (int i = 0; i < N; i++) {
        x = x * 1664525u + 1013904223u;
        kf[i] = (float)((int)(x >> 20) - 2048) / 512.0f;
        q[i] = (float)((int)((x >> 8) & 4095) - 2048) / 1024.0f;
    }
    wl_type_get(WL_TYPE_F16)->from_float(kf, k, N);
    double mag = 0.0;
    for (int i = 0; i < N; i++) mag += fabs((double)wl_fp16_to_fp32(k[i]) * q[i]);
    const float fast = wl_f16_dot_f32(k, q, N), ref = wl_f16_dot_f32_ref(k, q, N);
    CHECK(fabs((double)fast - ref) <= 1e-5 * mag, "f16 . f32: %g vs ref %g", fast, ref);
    /* (1, 2, 3) . (0.5, -1, 2) = 4.5, with a tail element past the lanes */
    const float kh[3] = {1, 2, 3}, qh[3] = {0.5f, -1, 2};
    uint16_t k3[3];
    wl_type_get(WL_TYPE_F16)->from_float(kh, k3, 3);
    CHECK(wl_f16_dot_f32(k3, qh, 3) == 4.5f, "f16 . f32 by hand: %g", wl_f16_dot_f32(k3, qh, 3));
}

int main(void) {
    test_f16_dot_f32();
    test_norms();
    test_rope();
    test_softmax_and_acts();
    test_attention();
    test_f16_accumulator();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("test_ops: ok\n");
    return 0;
}
