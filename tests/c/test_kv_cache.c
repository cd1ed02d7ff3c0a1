/* The Q8_0 KV cache: attention over Q8_0 keys and values against exact f32
 * attention, the cache's size and the head dims it refuses.
 *
 * Two references, both exact attention in double:
 * - over the values the cache holds (q, K, V after Q8_0 rounding): wl_attend
 *   must match it up to float rounding, 1e-5 of max |V| (measured: < 1e-6),
 *   which pins down the block layout, scales and softmax;
 * - over the f32 values, the quantization's real effect, with a tolerance
 *   that is not a guess but a bound that holds for any inputs. With scores
 * s_j from the exact q and k_j, and s'_j from the values attention really
 * dots (q and k_j after Q8_0 rounding), let delta = max_j |s'_j - s_j|.
 * Every softmax weight then moves by a factor within [e^-2delta, e^2delta],
 * so the weights' total change is at most e^(2 delta) - 1, and since the
 * weights sum to 1 on both sides, output dim d moves by at most
 *   max_j |v'_jd - v_jd|  +  (e^(2 delta) - 1) * (max_j v_jd - min_j v_jd) / 2
 * (v' = V after Q8_0 rounding), plus float rounding of the running sums.
 * The test checks that bound, that it is tight enough to catch a cache of
 * zeros or K and V swapped, and prints the measured error. */
#include <float.h>
#include <math.h>
#include <string.h>

#include <stdlib.h>

#include "../../src/fp16.h"
#include "../../src/forward.h"
#include "../../src/kv_cache.h"
#include "../../src/ops.h"
#include "../../src/types.h"
#include "kernel_test.h"

enum { MAX_POS = 512, MAX_HD = 128 };

typedef struct {
    int head_dim, n_pos, lo;
    float scale, softcap;
    float key_gain; /* how peaked attention is: scores grow with it */
} attn_case;

/* Exact attention in double over rows [lo, n_pos): the reference. */
static void attend_exact(const attn_case *c, const float *q, const float *k, const float *v,
                         double *out) {
    double s[MAX_POS], mx = -INFINITY, sum = 0.0;
    for (int j = c->lo; j < c->n_pos; j++) {
        double dot = 0.0;
        for (int i = 0; i < c->head_dim; i++) dot += (double)q[i] * k[j * c->head_dim + i];
        s[j] = c->softcap != 0.0f ? c->softcap * tanh(dot * c->scale / c->softcap) : dot * c->scale;
        mx = fmax(mx, s[j]);
    }
    for (int d = 0; d < c->head_dim; d++) out[d] = 0.0;
    for (int j = c->lo; j < c->n_pos; j++) {
        const double p = exp(s[j] - mx);
        sum += p;
        for (int d = 0; d < c->head_dim; d++) out[d] += p * v[j * c->head_dim + d];
    }
    for (int d = 0; d < c->head_dim; d++) out[d] /= sum;
}

/* Float rounding allowed against the dequantized reference: the scores'
 * block sums and exp, and the running f32 sums over the positions. */
static double rounding_tolerance(const attn_case *c, const float *vr) {
    double vabs = 0.0;
    for (int j = c->lo; j < c->n_pos; j++) {
        for (int d = 0; d < c->head_dim; d++) vabs = fmax(vabs, fabs(vr[j * c->head_dim + d]));
    }
    return 1e-5 * vabs;
}

/* Largest change of a score between exact q, k and their Q8_0 roundings. */
static double score_shift(const attn_case *c, const float *q, const float *qr, const float *k,
                          const float *kr) {
    double delta = 0.0;
    for (int j = c->lo; j < c->n_pos; j++) {
        double a = 0.0, b = 0.0;
        for (int i = 0; i < c->head_dim; i++) {
            a += (double)q[i] * k[j * c->head_dim + i];
            b += (double)qr[i] * kr[j * c->head_dim + i];
        }
        a *= c->scale;
        b *= c->scale;
        if (c->softcap != 0.0f) {
            a = c->softcap * tanh(a / c->softcap);
            b = c->softcap * tanh(b / c->softcap);
        }
        delta = fmax(delta, fabs(a - b));
    }
    return delta;
}

/* The bound of the header comment for output dim d. */
static double dim_bound(const attn_case *c, const float *v, const float *vr, double delta, int d) {
    double verr = 0.0, vmin = INFINITY, vmax = -INFINITY, vabs = 0.0;
    for (int j = c->lo; j < c->n_pos; j++) {
        const float x = v[j * c->head_dim + d];
        verr = fmax(verr, fabs((double)vr[j * c->head_dim + d] - x));
        vmin = fmin(vmin, x);
        vmax = fmax(vmax, x);
        vabs = fmax(vabs, fabs(x));
    }
    /* float running sums: a few ulps per position of the largest value */
    const double rounding = 4.0 * (c->n_pos - c->lo) * FLT_EPSILON * vabs;
    return verr + expm1(2.0 * (delta + 1e-5)) * (vmax - vmin) / 2.0 + rounding;
}

static void fill(float *x, int n, float gain, uint32_t *rng) {
    for (int i = 0; i < n; i++) {
        x[i] = gain * (rng_uniform(rng) + rng_uniform(rng) + rng_uniform(rng));
    }
}

/* Rows of n_pos positions into a cache-like buffer of `type`, and back to floats. */
static void to_cache(wl_type type, const float *x, int n_pos, int hd, uint8_t *rows, float *back) {
    const wl_type_traits *t = wl_type_get(type);
    const size_t row = wl_row_size(type, hd);
    for (int j = 0; j < n_pos; j++) {
        t->from_float(x + j * hd, rows + j * row, hd);
        t->to_float(rows + j * row, back + j * hd, hd);
    }
}

/* Max |out - exact| over dims, and whether every dim is within its bound. */
static double max_error(const attn_case *c, const float *out, const double *exact,
                        const double *bound, int *within) {
    double worst = 0.0;
    *within = 1;
    for (int d = 0; d < c->head_dim; d++) {
        const double e = fabs(out[d] - exact[d]);
        worst = fmax(worst, e);
        if (!(e <= bound[d])) *within = 0;
    }
    return worst;
}

static void test_attend_q8_0(const attn_case *c, uint32_t seed) {
    static float q[MAX_HD], qr[MAX_HD], k[MAX_POS * MAX_HD], v[MAX_POS * MAX_HD];
    static float kr[MAX_POS * MAX_HD], vr[MAX_POS * MAX_HD], zero_v[MAX_POS * MAX_HD];
    static uint8_t kq[MAX_POS * MAX_HD * 2], vq[MAX_POS * MAX_HD * 2], zq[MAX_POS * MAX_HD * 2];
    static uint8_t qq[MAX_HD * 2];
    static float scratch[2 * MAX_HD + 64], out[MAX_HD];
    double exact[MAX_HD], bound[MAX_HD];
    const int hd = c->head_dim;
    uint32_t rng = seed;
    fill(q, hd, 1.0f, &rng);
    fill(k, c->n_pos * hd, c->key_gain, &rng);
    fill(v, c->n_pos * hd, 1.0f, &rng);
    const wl_type_traits *q8 = wl_type_get(WL_TYPE_Q8_0);
    to_cache(WL_TYPE_Q8_0, k, c->n_pos, hd, kq, kr);
    to_cache(WL_TYPE_Q8_0, v, c->n_pos, hd, vq, vr);
    q8->from_float(q, qq, hd); /* what wl_attend dots K with */
    q8->to_float(qq, qr, hd);

    double dequantized[MAX_HD];
    attend_exact(c, qr, kr, vr, dequantized);
    attend_exact(c, q, k, v, exact);
    const double delta = score_shift(c, q, qr, k, kr);
    double widest = 0.0;
    for (int d = 0; d < hd; d++) {
        bound[d] = dim_bound(c, v, vr, delta, d);
        widest = fmax(widest, bound[d]);
    }
    CHECK(wl_attend_scratch_floats(WL_TYPE_Q8_0, WL_TYPE_Q8_0, hd, hd) <= 2 * MAX_HD + 64,
          "scratch for hd %d", hd);

    const size_t row = wl_row_size(WL_TYPE_Q8_0, hd);
    wl_attn_head h = { .k = kq, .v = vq, .k_stride = row, .v_stride = row,
                       .k_type = WL_TYPE_Q8_0, .v_type = WL_TYPE_Q8_0,
                       .head_dim_k = hd, .head_dim_v = hd, .scale = c->scale, .softcap = c->softcap };
    int within;
    wl_attend(&h, q, c->lo, c->n_pos, out, scratch);
    double rounding = 0.0;
    for (int d = 0; d < hd; d++) rounding = fmax(rounding, fabs(out[d] - dequantized[d]));
    CHECK(rounding <= rounding_tolerance(c, vr),
          "hd %d, %d positions from %d: %.3g from attention over the cached values (allowed %.3g)",
          hd, c->n_pos, c->lo, rounding, rounding_tolerance(c, vr));
    const double err = max_error(c, out, exact, bound, &within);
    CHECK(within, "hd %d, %d positions from %d: error %.3g exceeds its bound (widest %.3g)", hd,
          c->n_pos, c->lo, err, widest);
    /* The cache really is Q8_0: not bit-for-bit the f32 answer. */
    CHECK(err > 0.0, "hd %d: Q8_0 attention equals exact attention to the last bit", hd);

    /* The bound is tight enough to catch a broken cache: V all zeros... */
    memset(zero_v, 0, sizeof zero_v);
    to_cache(WL_TYPE_Q8_0, zero_v, c->n_pos, hd, zq, zero_v);
    wl_attn_head zeros = h;
    zeros.v = zq;
    wl_attend(&zeros, q, c->lo, c->n_pos, out, scratch);
    const double err_zeros = max_error(c, out, exact, bound, &within);
    CHECK(!within, "hd %d: a V cache of zeros passes the bound (error %.3g)", hd, err_zeros);
    /* ...or K and V swapped. */
    wl_attn_head swapped = h;
    swapped.k = vq;
    swapped.v = kq;
    wl_attend(&swapped, q, c->lo, c->n_pos, out, scratch);
    const double err_swapped = max_error(c, out, exact, bound, &within);
    CHECK(!within, "hd %d: K and V swapped passes the bound (error %.3g)", hd, err_swapped);

    printf("hd %3d, positions [%d, %d), softcap %g: vs f32 %.2e (bound %.2e; score shift %.2e), "
           "vs cached values %.1e; zeros %.2e, swapped %.2e\n",
           hd, c->lo, c->n_pos, c->softcap, err, widest, delta, rounding, err_zeros, err_swapped);
}

/* wl_attend_group is n_q calls of wl_attend, bit for bit: F16 caches (the
 * grouped SIMD path: blocks of 64 positions, heads four and two at a time
 * plus leftovers, dims eight at a time plus a scalar tail) and Q8_0 ones,
 * with values that reach f16's subnormals, its overflow to infinity and
 * NaN, and windows that start mid-block. */
/* The same float bits, or NaN on both sides (a NaN's payload may differ). */
static int same_result(float a, float b) {
    return (isnan(a) && isnan(b)) || memcmp(&a, &b, sizeof a) == 0;
}

static void test_attend_group(wl_type kv_type, int n_q, int hk, int hv, int lo, int n_pos, float softcap,
                              float v_gain, uint32_t seed) {
    const wl_type_traits *t = wl_type_get(kv_type);
    const size_t k_row = wl_row_size(kv_type, hk), v_row = wl_row_size(kv_type, hv);
    float *k = malloc(sizeof(float) * (size_t)n_pos * hk), *v = malloc(sizeof(float) * (size_t)n_pos * hv);
    float *q = malloc(sizeof(float) * (size_t)n_q * hk);
    unsigned char *kc = malloc(k_row * n_pos), *vc = malloc(v_row * n_pos);
    float *one = malloc(sizeof(float) * (size_t)n_q * hv), *group = malloc(sizeof(float) * (size_t)n_q * hv);
    const int64_t scratch_floats = wl_attend_group_scratch_floats(kv_type, kv_type, hk, hv, n_q);
    float *scratch = malloc(sizeof(float) * (size_t)scratch_floats);
    uint32_t rng = seed;
    for (int i = 0; i < n_pos * hk; i++) k[i] = rng_uniform(&rng);
    for (int i = 0; i < n_pos * hv; i++) v[i] = v_gain * (rng_uniform(&rng));
    for (int i = 0; i < n_q * hk; i++) q[i] = 3.0f * (rng_uniform(&rng));
    for (int j = 0; j < n_pos; j++) {
        t->from_float(k + (size_t)j * hk, kc + (size_t)j * k_row, hk);
        t->from_float(v + (size_t)j * hv, vc + (size_t)j * v_row, hv);
    }
    wl_attn_head h = { .k = kc, .v = vc, .k_stride = k_row, .v_stride = v_row, .k_type = kv_type, .v_type = kv_type,
                       .head_dim_k = hk, .head_dim_v = hv, .scale = 1.0f / sqrtf((float)hk), .softcap = softcap };
    for (int i = 0; i < n_q; i++) wl_attend(&h, q + (size_t)i * hk, lo, n_pos, one + (size_t)i * hv, scratch);
    memset(group, 0xff, sizeof(float) * (size_t)n_q * hv);
    wl_attend_group(&h, q, n_q, lo, n_pos, group, scratch);
    int diff = 0;
    for (int i = 0; i < n_q * hv; i++) {
        if (!same_result(one[i], group[i]) && diff++ == 0)
            CHECK(0, "%s group of %d, hd %d/%d, [%d, %d), gain %g: out[%d] %.9g != one head's %.9g", t->name, n_q, hk,
                  hv, lo, n_pos, v_gain, i, group[i], one[i]);
    }
    free(k); free(v); free(q); free(kc); free(vc); free(one); free(group); free(scratch);
}

static void test_attend_groups(void) {
    /* n_q, hk, hv, lo, n_pos, softcap, v_gain */
    static const struct { int n_q, hk, hv, lo, n_pos; float softcap, v_gain; } cases[] = {
        { 4, 64, 64, 0, 150, 0.0f, 1.0f },     /* Llama-3.2-1B's groups */
        { 7, 64, 64, 0, 200, 0.0f, 1.0f },     /* Qwen2.5-0.5B's: four, two and one at a time */
        { 1, 64, 64, 0, 65, 0.0f, 1.0f },
        { 3, 72, 40, 10, 129, 0.0f, 1.0f },    /* dims past the last 8; a window mid-block */
        { 2, 128, 128, 0, 64, 50.0f, 1.0f },   /* softcap; exactly one block */
        { 4, 64, 64, 0, 300, 0.0f, 2e-5f },    /* running sums among f16 subnormals */
        { 4, 64, 64, 0, 300, 0.0f, 60000.0f }, /* sums overflowing to infinity */
        { 2, 64, 64, 5, 6, 0.0f, 1.0f },       /* one position */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (int ty = 0; ty < 2; ty++) {
            const wl_type kv_type = ty ? WL_TYPE_Q8_0 : WL_TYPE_F16;
            if (kv_type == WL_TYPE_Q8_0 && (cases[i].hk % 32 || cases[i].hv % 32)) continue;
            test_attend_group(kv_type, cases[i].n_q, cases[i].hk, cases[i].hv, cases[i].lo, cases[i].n_pos,
                              cases[i].softcap, cases[i].v_gain, 7u + (uint32_t)i);
        }
    }
    /* NaN in V reaches the same heads and dims either way */
    {
        enum { NQ = 4, HD = 64, NP = 80 };
        const size_t row = wl_row_size(WL_TYPE_F16, HD);
        uint16_t kc[NP * HD], vc[NP * HD];
        float q[NQ * HD], one[NQ * HD], group[NQ * HD];
        float *scratch = malloc(sizeof(float) * (size_t)wl_attend_group_scratch_floats(WL_TYPE_F16, WL_TYPE_F16, HD, HD, NQ));
        uint32_t rng = 99;
        for (int i = 0; i < NP * HD; i++) kc[i] = wl_fp32_to_fp16(0.5f * rng_uniform(&rng)), vc[i] = wl_fp32_to_fp16(rng_uniform(&rng));
        for (int i = 0; i < NQ * HD; i++) q[i] = rng_uniform(&rng);
        vc[70 * HD + 9] = 0x7e00;  /* NaN */
        vc[30 * HD + 17] = 0x7c00; /* inf */
        wl_attn_head h = { .k = kc, .v = vc, .k_stride = row, .v_stride = row, .k_type = WL_TYPE_F16,
                           .v_type = WL_TYPE_F16, .head_dim_k = HD, .head_dim_v = HD, .scale = 0.125f };
        for (int i = 0; i < NQ; i++) wl_attend(&h, q + i * HD, 0, NP, one + i * HD, scratch);
        wl_attend_group(&h, q, NQ, 0, NP, group, scratch);
        for (int i = 0; i < NQ * HD; i++) {
            CHECK(same_result(one[i], group[i]), "NaN/inf V: out[%d] %g != one head's %g", i, group[i], one[i]);
        }
        CHECK(isnan(one[9]) && !isfinite(one[17]), "the NaN and inf did not reach the output");
        free(scratch);
    }
}

/* A sliding-window ring (position j in row j % rows, rows < positions
 * written) gives the bits of the same window read from a cache that kept
 * every position, for one head and for a group, F16 and Q8_0, with the
 * window wrapping around the ring's end. */
static void test_attend_ring(wl_type kv_type, int n_q, int hd, int window, int rows, int n_pos, uint32_t seed) {
    const wl_type_traits *t = wl_type_get(kv_type);
    const size_t row = wl_row_size(kv_type, hd);
    float *kv32 = malloc(sizeof(float) * (size_t)n_pos * hd), *q = malloc(sizeof(float) * (size_t)n_q * hd);
    unsigned char *kc = malloc(row * n_pos), *vc = malloc(row * n_pos), *kr = malloc(row * rows), *vr = malloc(row * rows);
    float *full = malloc(sizeof(float) * (size_t)n_q * hd), *ring = malloc(sizeof(float) * (size_t)n_q * hd);
    float *group = malloc(sizeof(float) * (size_t)n_q * hd);
    float *scratch = malloc(sizeof(float) * (size_t)wl_attend_group_scratch_floats(kv_type, kv_type, hd, hd, n_q));
    uint32_t rng = seed;
    for (int i = 0; i < n_q * hd; i++) q[i] = 3.0f * rng_uniform(&rng);
    for (int j = 0; j < n_pos; j++) {
        for (int i = 0; i < hd; i++) kv32[(size_t)j * hd + i] = rng_uniform(&rng);
        t->from_float(kv32 + (size_t)j * hd, kc + (size_t)j * row, hd);
        t->from_float(kv32 + (size_t)j * hd, kr + (size_t)(j % rows) * row, hd); /* later positions overwrite */
        for (int i = 0; i < hd; i++) kv32[(size_t)j * hd + i] = 2.0f * rng_uniform(&rng);
        t->from_float(kv32 + (size_t)j * hd, vc + (size_t)j * row, hd);
        t->from_float(kv32 + (size_t)j * hd, vr + (size_t)(j % rows) * row, hd);
    }
    const int lo = n_pos - window;
    wl_attn_head h = { .k = kc, .v = vc, .k_stride = row, .v_stride = row, .k_type = kv_type, .v_type = kv_type,
                       .head_dim_k = hd, .head_dim_v = hd, .scale = 1.0f / sqrtf((float)hd) };
    wl_attn_head hr = h;
    hr.k = kr, hr.v = vr, hr.ring_rows = rows;
    for (int i = 0; i < n_q; i++) {
        wl_attend(&h, q + (size_t)i * hd, lo, n_pos, full + (size_t)i * hd, scratch);
        wl_attend(&hr, q + (size_t)i * hd, lo, n_pos, ring + (size_t)i * hd, scratch);
    }
    wl_attend_group(&hr, q, n_q, lo, n_pos, group, scratch);
    int diff = 0;
    for (int i = 0; i < n_q * hd; i++) {
        if ((!same_result(full[i], ring[i]) || !same_result(full[i], group[i])) && diff++ == 0)
            CHECK(0, "%s ring of %d rows, window [%d, %d): out[%d] full %.9g, ring %.9g, ring group %.9g", t->name,
                  rows, lo, n_pos, i, full[i], ring[i], group[i]);
    }
    CHECK((lo % rows) + window > rows, "the window [%d, %d) does not wrap a ring of %d rows", lo, n_pos, rows);
    free(kv32); free(q); free(kc); free(vc); free(kr); free(vr); free(full); free(ring); free(group); free(scratch);
}

static wl_hparams hparams(int n_layer, int n_head_kv, int head_dim_k, int head_dim_v) {
    wl_hparams hp;
    memset(&hp, 0, sizeof hp);
    hp.n_layer = n_layer;
    hp.n_head = n_head_kv * 3;
    hp.n_head_kv = n_head_kv;
    hp.head_dim_k = head_dim_k;
    hp.head_dim_v = head_dim_v;
    return hp;
}

/* 34 bytes per 32 values against 2 bytes per value: exactly 17/32 of F16. */
static void test_cache_bytes(void) {
    const wl_hparams hp = hparams(30, 3, 64, 64); /* SmolLM2-135M */
    const double f16 = wl_kv_cache_bytes(&hp, WL_TYPE_F16, 4096);
    const double q8 = wl_kv_cache_bytes(&hp, WL_TYPE_Q8_0, 4096);
    CHECK(f16 == 30.0 * 3 * (64 + 64) * 2 * 4096, "F16 cache: %.0f bytes", f16);
    CHECK(q8 == 30.0 * 3 * (2 * 34 + 2 * 34) * 4096, "Q8_0 cache: %.0f bytes", q8);
    CHECK(q8 / f16 == 17.0 / 32.0, "Q8_0 / F16 = %g", q8 / f16);

    /* The allocated rows match: 2 blocks per head and position, each head's
     * 8 positions together. */
    wl_kv_cache kv;
    wl_error err = {0};
    CHECK(wl_kv_cache_init(&kv, &hp, WL_TYPE_Q8_0, 8, &err) == WL_OK, "init: %s", err.message);
    if (kv.k) {
        CHECK(kv.k_pos == 2 * 34 && kv.v_pos == kv.k_pos && wl_kv_k_head(&kv, 29) == 8 * 2 * 34 &&
                  wl_kv_v_head(&kv, 29) == wl_kv_k_head(&kv, 29),
              "positions %zu / %zu bytes, heads %zu / %zu", kv.k_pos, kv.v_pos, wl_kv_k_head(&kv, 29),
              wl_kv_v_head(&kv, 29));
        CHECK(wl_kv_k(&kv, 29, 2, 7) == kv.k[29] + 2 * wl_kv_k_head(&kv, 29) + 7 * kv.k_pos,
              "head 2, position 7 of layer 29");
        CHECK(wl_kv_v(&kv, 29, 2, 7) == kv.v[29] + 2 * wl_kv_v_head(&kv, 29) + 7 * kv.v_pos,
              "V: head 2, position 7 of layer 29");
        wl_kv_cache_free(&kv);
    }
}

/* Gemma-3-1B's shape: 26 layers, every 6th global, the others a 512-token
 * window, 1 K/V head of 256 dims. Global layers keep n_ctx rows, local ones
 * a ring of window + chunk - 1 + WL_KV_REWIND; a truncate keeps its
 * position while each ring still reaches the next token's window. */
static void test_sliding_window_rows(void) {
    wl_hparams hp = hparams(26, 1, 256, 256);
    hp.causal = 1;
    hp.sliding_window = 512;
    for (int il = 0; il < 26; il++) hp.layer_swa[il] = il % 6 != 5;
    const int ring = 512 + WL_MAX_CHUNK - 1 + WL_KV_REWIND;
    CHECK(wl_kv_layer_rows(&hp, 0, 4096) == ring && wl_kv_layer_rows(&hp, 5, 4096) == 4096,
          "rows: local %d, global %d", wl_kv_layer_rows(&hp, 0, 4096), wl_kv_layer_rows(&hp, 5, 4096));
    CHECK(wl_kv_layer_rows(&hp, 0, 300) == 300, "a context shorter than the ring: %d rows", wl_kv_layer_rows(&hp, 0, 300));
    const double bytes = wl_kv_cache_bytes(&hp, WL_TYPE_F16, 4096);
    CHECK(bytes == (4.0 * 4096 + 22.0 * ring) * 1 * (256 + 256) * 2, "gemma-3-1b shape at 4096: %.0f bytes", bytes);
    wl_hparams all_global = hp;
    all_global.sliding_window = 0;
    const double before = wl_kv_cache_bytes(&all_global, WL_TYPE_F16, 4096);
    CHECK(before == 26.0 * 4096 * 1024 && bytes < before / 3, "before %.0f, after %.0f", before, bytes);

    wl_kv_cache kv;
    wl_error err = {0};
    CHECK(wl_kv_cache_init(&kv, &hp, WL_TYPE_F16, 4096, &err) == WL_OK, "init: %s", err.message);
    if (!kv.k) return;
    CHECK(kv.rows[0] == ring && kv.rows[5] == 4096, "allocated rows %d / %d", kv.rows[0], kv.rows[5]);
    CHECK(wl_kv_k(&kv, 0, 0, ring + 3) == wl_kv_k(&kv, 0, 0, 3), "position ring + 3 shares row 3");
    /* 2000 positions written: the rings hold 2000 - ring .. 1999 */
    CHECK(wl_kv_cache_rewind(&kv, &hp, 1990, 2000) == 1990, "10 back: kept");
    /* the next chunk overwrites only rows behind its first token's window, so
     * the chunk's slack counts too */
    const int deepest = 2000 - WL_MAX_CHUNK - WL_KV_REWIND;
    CHECK(wl_kv_cache_rewind(&kv, &hp, deepest, 2000) == deepest, "the deepest rewind the ring allows");
    CHECK(wl_kv_cache_rewind(&kv, &hp, deepest - 1, 2000) == 0, "one further: recompute");
    CHECK(wl_kv_cache_rewind(&kv, &hp, 1000, 2000) == 0, "1000 back: the ring overwrote that window");
    CHECK(wl_kv_cache_rewind(&kv, &hp, 300, 500) == 300, "nothing overwritten yet: kept");
    wl_kv_cache_free(&kv);
}

static void test_refusals(void) {
    wl_error err = {0};
    const wl_hparams odd_k = hparams(2, 2, 48, 64);
    CHECK(wl_kv_cache_check(&odd_k, WL_TYPE_Q8_0, &err) == WL_ERR_BAD_ARG &&
              strstr(err.message, "K head dim is 48") && strstr(err.message, "multiples of 32"),
          "head dim 48: code %d '%s'", err.code, err.message);
    const wl_hparams odd_v = hparams(2, 2, 64, 16);
    CHECK(wl_kv_cache_check(&odd_v, WL_TYPE_Q8_0, &err) == WL_ERR_BAD_ARG &&
              strstr(err.message, "V head dim is 16"),
          "V head dim 16: code %d '%s'", err.code, err.message);
    CHECK(wl_kv_cache_check(&odd_k, WL_TYPE_F16, &err) == WL_OK, "F16 takes any head dim");
    CHECK(wl_kv_cache_check(&odd_v, WL_TYPE_Q4_0, &err) == WL_ERR_BAD_ARG && strstr(err.message, "type 2"),
          "Q4_0 cache: code %d '%s'", err.code, err.message);
    wl_kv_cache kv;
    CHECK(wl_kv_cache_init(&kv, &odd_k, WL_TYPE_Q8_0, 4, &err) == WL_ERR_BAD_ARG && kv.k == NULL,
          "init with head dim 48 must fail without allocating");
    wl_kv_cache_free(&kv);
}

int main(void) {
    const attn_case cases[] = {
        /* head_dim, n_pos, lo, scale, softcap, key_gain */
        { 32, 64, 0, 0.17677670f, 0.0f, 1.0f },
        { 64, 300, 0, 0.125f, 0.0f, 1.0f },
        { 64, 300, 0, 0.125f, 0.0f, 3.0f },  /* peaked attention */
        { 64, 300, 250, 0.125f, 0.0f, 2.0f }, /* a sliding window */
        { 128, 512, 0, 0.08838835f, 0.0f, 1.5f },
        { 128, 200, 0, 0.08838835f, 20.0f, 4.0f }, /* gemma2-style softcap */
        { 32, 1, 0, 0.17677670f, 0.0f, 1.0f },     /* one position: out = v0 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) test_attend_q8_0(&cases[i], 101u + (uint32_t)i);
    test_attend_groups();
    test_attend_ring(WL_TYPE_F16, 1, 64, 32, 95, 300, 7u);
    test_attend_ring(WL_TYPE_F16, 4, 64, 32, 95, 290, 8u);   /* grouped; the window wraps mid-block */
    test_attend_ring(WL_TYPE_Q8_0, 3, 64, 40, 95, 320, 9u);
    test_attend_ring(WL_TYPE_F16, 8, 256, 200, 263, 1100, 10u);
    test_cache_bytes();
    test_sliding_window_rows();
    test_refusals();
    return test_summary("test_kv_cache");
}
