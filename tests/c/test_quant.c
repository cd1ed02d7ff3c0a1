/* Block formats: fp16/bf16 conversions (exhaustive where possible), exact
 * block layouts on hand-built blocks, round-trip error bounds, and each
 * scalar vec_dot against a dequantize-then-dot reference. */
#include <string.h>
#include "../../src/fp16.h"
#include "../../src/quant.h"
#include "../../src/types.h"
#include "kernel_test.h"

/* ---- fp16 ---- */

static double fp16_value(uint16_t h) {
    int e = (h >> 10) & 31, m = h & 1023;
    double v = e == 0 ? ldexp(m, -24) : ldexp(1024 + m, e - 25);
    return (h & 0x8000) ? -v : v;
}

static void test_fp16_all_halves(void) {
    for (uint32_t h = 0; h < 65536; h++) {
        float f = wl_fp16_to_fp32((uint16_t)h);
        int e = (h >> 10) & 31, m = h & 1023;
        if (e == 31) {
            if (m == 0) CHECK(isinf(f) && (signbit(f) != 0) == ((h & 0x8000) != 0), "h=%04x inf", h);
            else CHECK(isnan(f), "h=%04x nan", h);
            uint16_t back = wl_fp32_to_fp16(f);
            CHECK((back & 0x7c00) == 0x7c00 && ((back & 0x3ff) != 0) == (m != 0), "h=%04x back %04x", h, back);
            continue;
        }
        CHECK((double)f == fp16_value((uint16_t)h) && (signbit(f) != 0) == (signbit(fp16_value((uint16_t)h)) != 0),
              "h=%04x -> %a", h, f);
        CHECK(wl_fp32_to_fp16(f) == h, "h=%04x round trip %04x", h, wl_fp32_to_fp16(f));
    }
}

static void test_fp16_known(void) {
    struct { float f; uint16_t h; } cases[] = {
        { 1.0f, 0x3c00 }, { -2.0f, 0xc000 }, { 65504.0f, 0x7bff }, { 65519.99f, 0x7bff },
        { 65520.0f, 0x7c00 }, { 1e6f, 0x7c00 }, { 0x1p-24f, 0x0001 }, { 0x1p-25f, 0x0000 },
        { 0x1.8p-25f, 0x0001 }, { 0x1.8p-24f, 0x0002 }, { 0x1p-14f, 0x0400 },
        { 0x1.ff8p-15f, 0x03ff }, { 0x1.ffcp-15f, 0x0400 }, { 1.0f + 0x1p-11f, 0x3c00 },
        { 1.0f + 0x1.8p-10f, 0x3c02 }, { -0.0f, 0x8000 }, { INFINITY, 0x7c00 },
        { -INFINITY, 0xfc00 }, { 0.1f, 0x2e66 }, { 1e-10f, 0x0000 }, { -1e-10f, 0x8000 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t h = wl_fp32_to_fp16(cases[i].f);
        CHECK(h == cases[i].h, "fp16(%a) = %04x, want %04x", cases[i].f, h, cases[i].h);
    }
    uint16_t n = wl_fp32_to_fp16(NAN);
    CHECK((n & 0x7c00) == 0x7c00 && (n & 0x3ff), "fp16(nan) = %04x", n);
}

/* For random floats, the result must be the nearest half (ties to even). */
static void test_fp16_rounding_random(void) {
    uint32_t rng = 12345;
    for (int i = 0; i < 200000; i++) {
        uint32_t bits = rng_next(&rng);
        bits = (bits & 0x80000000u) | (0x33000000u + (bits & 0x7fffffffu) % 0x14800000u); /* ~2^-25 .. 2^16 */
        float f = wl_bits_f32(bits);
        uint16_t h = wl_fp32_to_fp16(f);
        double a = fabs((double)f);
        if (a >= 65520.0) {
            CHECK((h & 0x7fff) == 0x7c00, "%a should overflow, got %04x", f, h);
            continue;
        }
        uint16_t mag = h & 0x7fff;
        double err = fabs(fp16_value(mag) - a);
        double below = mag > 0 ? fabs(fp16_value(mag - 1) - a) : INFINITY;
        double above = mag < 0x7bff ? fabs(fp16_value(mag + 1) - a) : INFINITY;
        CHECK(err <= below && err <= above, "%a -> %04x not nearest", f, h);
        if (err == below || err == above) CHECK((mag & 1) == 0, "%a tie -> %04x odd", f, h);
        CHECK(((h & 0x8000) != 0) == (signbit(f) != 0), "%a sign", f);
    }
}

static void test_bf16(void) {
    struct { uint32_t f; uint16_t b; } cases[] = {
        { 0x3f800000u, 0x3f80 }, { 0x3f808000u, 0x3f80 }, { 0x3f818000u, 0x3f82 },
        { 0x3f808001u, 0x3f81 }, { 0x7f800000u, 0x7f80 }, { 0xff800000u, 0xff80 },
        { 0x7f7fffffu, 0x7f80 }, { 0x00008000u, 0x0000 }, { 0x00018000u, 0x0002 },
        { 0x80000000u, 0x8000 }, { 0x00010000u, 0x0001 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t b = wl_fp32_to_bf16(wl_bits_f32(cases[i].f));
        CHECK(b == cases[i].b, "bf16(%08x) = %04x, want %04x", cases[i].f, b, cases[i].b);
    }
    uint16_t n = wl_fp32_to_bf16(NAN);
    CHECK((n & 0x7f80) == 0x7f80 && (n & 0x7f), "bf16(nan) = %04x", n);
    for (uint32_t b = 0; b < 65536; b++) {
        float f = wl_bf16_to_fp32((uint16_t)b);
        CHECK(wl_f32_bits(f) == b << 16, "bf16 %04x widen", b);
        if (!isnan(f)) CHECK(wl_fp32_to_bf16(f) == b, "bf16 %04x round trip", b);
    }
}

/* ---- exact layouts on hand-built blocks ---- */

static void test_q4_0_layout(void) {
    wl_block_q4_0 b;
    b.d = wl_fp32_to_fp16(0.5f);
    for (int j = 0; j < 16; j++) b.qs[j] = (uint8_t)(j | ((15 - j) << 4));
    float out[32];
    q4_0_to_float(&b, out, 32);
    for (int j = 0; j < 16; j++) {
        CHECK(out[j] == (j - 8) * 0.5f, "q4_0 low nibble %d: %g", j, out[j]);
        CHECK(out[j + 16] == (7 - j) * 0.5f, "q4_0 high nibble %d: %g", j, out[j + 16]);
    }
    /* The largest-magnitude element maps to -8 exactly, keeping its sign. */
    float x[32] = { 0 };
    x[3] = -4.0f;
    x[20] = 1.0f;
    q4_0_from_float(x, &b, 32);
    CHECK(wl_fp16_to_fp32(b.d) == 0.5f, "q4_0 d = %g", wl_fp16_to_fp32(b.d));
    CHECK((b.qs[3] & 15) == 0, "q4_0 max elem nibble %d", b.qs[3] & 15);
    CHECK((b.qs[4] >> 4) == 10, "q4_0 elem 20 nibble %d", b.qs[4] >> 4);
    CHECK((b.qs[0] & 15) == 8, "q4_0 zero nibble %d", b.qs[0] & 15);
}

static void test_q8_0_layout(void) {
    /* amax = 127 gives d = 1, so rounding is visible directly: ties go away from zero. */
    float x[32] = { 0 };
    x[0] = 127.0f; x[1] = 2.5f; x[2] = -2.5f; x[3] = 0.5f; x[4] = -0.49f; x[31] = -126.6f;
    wl_block_q8_0 b;
    q8_0_from_float(x, &b, 32);
    CHECK(b.d == 0x3c00, "q8_0 d = %04x", b.d);
    int want[] = { 127, 3, -3, 1, 0 };
    for (int j = 0; j < 5; j++) CHECK(b.qs[j] == want[j], "q8_0 q[%d] = %d, want %d", j, b.qs[j], want[j]);
    CHECK(b.qs[31] == -127, "q8_0 q[31] = %d", b.qs[31]);
    float out[32];
    q8_0_to_float(&b, out, 32);
    CHECK(out[1] == 3.0f && out[31] == -127.0f, "q8_0 to_float");
    const unsigned char *raw = (const unsigned char *)&b;
    CHECK(raw[0] == 0x00 && raw[1] == 0x3c && (signed char)raw[2] == 127, "q8_0 byte layout");
}

static void test_q8_K_q8_1(void) {
    /* Q8_K: the largest magnitude maps to -127 and rounding is to nearest even. */
    float x[256] = { 0 };
    x[0] = 127.0f; x[1] = 2.5f; x[2] = 3.5f; x[3] = -0.5f; x[255] = -100.4f;
    wl_block_q8_K b;
    q8_K_from_float(x, &b, 256);
    CHECK(b.d == -1.0f, "q8_K d = %g", b.d);
    CHECK(b.qs[0] == -127 && b.qs[1] == -2 && b.qs[2] == -4 && b.qs[3] == 0 && b.qs[255] == 100,
          "q8_K q = %d %d %d %d %d", b.qs[0], b.qs[1], b.qs[2], b.qs[3], b.qs[255]);
    CHECK(b.bsums[0] == -133 && b.bsums[15] == 100, "q8_K bsums %d %d", b.bsums[0], b.bsums[15]);
    float zero[256] = { 0 };
    q8_K_from_float(zero, &b, 256);
    CHECK(b.d == 0.0f && b.bsums[3] == 0 && b.qs[7] == 0, "q8_K of zeros");
    /* Q8_1: s = d * sum(q). */
    wl_block_q8_1 c;
    q8_1_from_float(x, &c, 32);
    CHECK(c.d == 0x3c00, "q8_1 d = %04x", c.d);
    int sum = 0;
    for (int j = 0; j < 32; j++) sum += c.qs[j];
    CHECK(wl_fp16_to_fp32(c.s) == (float)sum, "q8_1 s = %g, sum %d", wl_fp16_to_fp32(c.s), sum);
}

/* ---- every supported type: round trip and dot vs float reference ---- */

/* Largest round-trip error as a fraction of the group's largest |x|
 * (group = one block, or 32 elements for float types). */
static double roundtrip_bound(wl_type t) {
    switch (t) {
    case WL_TYPE_F32: return 0.0;
    case WL_TYPE_F16: return 0x1p-11;
    case WL_TYPE_BF16: return 0x1p-8;
    case WL_TYPE_Q8_0: return 0.57 / 127.0;  /* d/2 + 127 * (f16 error of d) */
    case WL_TYPE_Q4_0: return 1.01 / 8.0;    /* d, at the +max end that clamps to 15 */
    case WL_TYPE_Q5_0: return 1.01 / 16.0;   /* same, 5 bits */
    case WL_TYPE_Q4_1: return 1.05 / 15.0;   /* d/2 of a range <= 2 amax, + f16 d and m */
    case WL_TYPE_Q5_1: return 1.05 / 31.0;
    case WL_TYPE_IQ4_NL: return 0.15;        /* widest level gap (24 of 127) / 2, scale refit */
    /* Our K-quant / IQ4_XS fits are simple (see quant_k.c); these bounds are
     * what they reach on this data plus ~20%: a regression guard. */
    case WL_TYPE_IQ4_XS: return 0.13;
    case WL_TYPE_Q2_K: return 0.40;
    case WL_TYPE_Q3_K: return 0.27;
    case WL_TYPE_Q4_K: return 0.08;
    case WL_TYPE_Q5_K: return 0.04;
    case WL_TYPE_Q6_K: return 0.035;
    default: return -1.0;
    }
}

static void test_type(wl_type type) {
    const wl_type_traits *t = wl_type_get(type);
    const wl_type_traits *at = wl_type_get(t->vec_dot_type);
    enum { N = 1024 };
    static float x[N], y[N], xq[N], yq[N];
    static unsigned char bx[N * 4], by[N * 4];
    uint32_t rng = 1000 + (uint32_t)type;
    CHECK(wl_row_size(type, N) == (size_t)(N / t->block_size) * t->type_size, "%s row size", t->name);
    for (int iter = 0; iter < 20; iter++) {
        fill_row(x, N, &rng);
        fill_row(y, N, &rng);
        t->from_float(x, bx, N);
        t->to_float(bx, xq, N);
        at->from_float(y, by, N);
        at->to_float(by, yq, N);

        int group = t->block_size > 32 ? t->block_size : 32;
        double bound = roundtrip_bound(type);
        CHECK(bound >= 0, "%s has no round-trip bound", t->name);
        for (int g = 0; g < N; g += group) {
            double amax = 0, emax = 0;
            for (int i = g; i < g + group; i++) {
                amax = fmax(amax, fabs(x[i]));
                emax = fmax(emax, fabs((double)x[i] - xq[i]));
            }
            CHECK(emax <= bound * amax, "%s round trip err %g > %g * %g", t->name, emax, bound, amax);
        }

        /* Products of dequantized values are exact in double, so the
         * reference is the exact dot up to double rounding. The kernel's
         * per-block float scaling and summation add at most a few float
         * ulps per block relative to sum |x*y|. */
        double ref = 0, mag = 0;
        for (int i = 0; i < N; i++) {
            ref += (double)xq[i] * yq[i];
            mag += fabs((double)xq[i] * yq[i]);
        }
        float s_ref = NAN, s = NAN;
        t->vec_dot_ref(N, &s_ref, bx, by);
        t->vec_dot(N, &s, bx, by);
        double tol = 1e-5 * mag;
        if (t->vec_dot_type == WL_TYPE_Q8_1) tol += q8_1_sum_slack(xq, yq, N);
        CHECK(fabs(s_ref - ref) <= tol, "%s dot_ref %g vs %g (mag %g)", t->name, s_ref, ref, mag);
        CHECK(fabs(s - ref) <= tol, "%s dot %g vs %g (mag %g)", t->name, s, ref, mag);
    }
}

static void test_traits_table(void) {
    CHECK(wl_type_get(4) == NULL && wl_type_get(5) == NULL, "removed ids 4, 5");
    CHECK(wl_type_get(WL_TYPE_COUNT) == NULL && wl_type_get(1000) == NULL, "ids past the table");
    CHECK(wl_row_size(WL_TYPE_Q4_0, 33) == 0, "partial block row");
    CHECK(wl_row_size(WL_TYPE_Q4_0, 64) == 36, "q4_0 row");
    CHECK(wl_row_size(WL_TYPE_F16, 7) == 14, "f16 row");
    CHECK(wl_row_size(WL_TYPE_Q8_0, -32) == 0, "negative row");
    int n_supported = 0;
    for (uint32_t id = 0; id < WL_TYPE_COUNT; id++) {
        const wl_type_traits *t = wl_type_get(id);
        if (!t || !t->supported) continue;
        n_supported++;
        CHECK(t->to_float && t->from_float && t->vec_dot && t->vec_dot_ref, "%s kernels", t->name);
        const wl_type_traits *at = wl_type_get(t->vec_dot_type);
        CHECK(at && at->from_float && at->to_float, "%s activation type", t->name);
    }
    CHECK(n_supported >= 5, "only %d supported types", n_supported);
}

int main(void) {
    test_fp16_known();
    test_fp16_all_halves();
    test_fp16_rounding_random();
    test_bf16();
    test_q4_0_layout();
    test_q8_0_layout();
    test_q8_K_q8_1();
    test_traits_table();
    for (uint32_t id = 0; id < WL_TYPE_COUNT; id++) {
        const wl_type_traits *t = wl_type_get(id);
        if (t && t->supported) test_type((wl_type)id);
    }
    return test_summary("test_quant");
}
