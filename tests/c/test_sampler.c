/* Sampler: greedy ties, top-k = 1 equals greedy, seeded determinism,
 * penalties as llama.cpp applies them, and the filters' effect on draws. */
#include <math.h>
#include <stdio.h>

#include "wasmllm.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

static wl_sampler *greedy_with(float repeat, int last_n, float freq, float presence) {
    return wl_sampler_new(0.0f, 0, 1.0f, 0.0f, repeat, last_n, freq, presence, 1);
}

static void test_greedy(void) {
    wl_sampler *s = greedy_with(1.0f, 64, 0.0f, 0.0f);
    const float logits[4] = {0.1f, 0.5f, 0.5f, 0.2f};
    CHECK(wl_sampler_sample(s, logits, 4) == 1, "greedy takes the lowest id on ties");
    const float neg[3] = {-3.0f, -1.0f, -2.0f};
    CHECK(wl_sampler_sample(s, neg, 3) == 1, "greedy with negative logits");
    wl_sampler_free(s);

    /* top-k = 1 with any temperature is the argmax */
    float many[50];
    for (int i = 0; i < 50; i++) many[i] = sinf((float)i * 1.7f);
    int best = 0;
    for (int i = 1; i < 50; i++) if (many[i] > many[best]) best = i;
    wl_sampler *k1 = wl_sampler_new(1.5f, 1, 1.0f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 7);
    for (int t = 0; t < 20; t++) CHECK(wl_sampler_sample(k1, many, 50) == best, "top-k 1 != argmax");
    wl_sampler_free(k1);
}

/* Greedy over a long vocabulary (the four-lane argmax in SIMD builds):
 * the first of equal maxima wherever they fall among the lanes, a maximum
 * in the tail past the last whole vector, and NaN where the plain loop's
 * answer depends on its position. */
static int argmax_plain(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[best]) best = i;
    return best;
}

static void test_greedy_long(void) {
    enum { N = 1003 };
    static float x[N];
    wl_sampler *s = greedy_with(1.0f, 64, 0.0f, 0.0f);
    for (int i = 0; i < N; i++) x[i] = sinf((float)i * 0.37f) * 3.0f;
    CHECK(wl_sampler_sample(s, x, N) == argmax_plain(x, N), "long vocabulary");
    x[901] = 9.0f, x[518] = 9.0f, x[517] = 8.0f;
    CHECK(wl_sampler_sample(s, x, N) == 518, "first of equal maxima in different lanes: %d", wl_sampler_sample(s, x, N));
    x[517] = 9.0f;
    CHECK(wl_sampler_sample(s, x, N) == 517, "first of equal maxima: %d", wl_sampler_sample(s, x, N));
    x[1001] = 10.0f;
    CHECK(wl_sampler_sample(s, x, N) == 1001, "maximum in the tail: %d", wl_sampler_sample(s, x, N));
    x[1002] = 10.0f;
    CHECK(wl_sampler_sample(s, x, N) == 1001, "tie in the tail: %d", wl_sampler_sample(s, x, N));
    x[0] = -INFINITY;
    x[600] = NAN;
    CHECK(wl_sampler_sample(s, x, N) == argmax_plain(x, N), "a NaN in the middle");
    x[0] = NAN;
    CHECK(wl_sampler_sample(s, x, N) == 0 && argmax_plain(x, N) == 0, "NaN first: the plain loop's 0");
    for (int i = 0; i < N; i++) x[i] = -INFINITY;
    CHECK(wl_sampler_sample(s, x, N) == 0, "all -inf: the first id");
    wl_sampler_free(s);
}

static void test_penalties(void) {
    const float logits[3] = {2.0f, 1.9f, 0.5f};
    wl_sampler *s = greedy_with(1.5f, 64, 0.0f, 0.0f);
    CHECK(wl_sampler_sample(s, logits, 3) == 0, "no history, no penalty");
    wl_sampler_accept(s, 0);
    /* 2.0 / 1.5 = 1.33 < 1.9 */
    CHECK(wl_sampler_sample(s, logits, 3) == 1, "repetition penalty divides a positive logit");
    wl_sampler_reset(s);
    CHECK(wl_sampler_sample(s, logits, 3) == 0, "reset clears the history");
    wl_sampler_free(s);

    const float neg[2] = {-1.0f, -1.2f};
    s = greedy_with(1.5f, 64, 0.0f, 0.0f);
    wl_sampler_accept(s, 0);
    /* -1.0 * 1.5 = -1.5 < -1.2 */
    CHECK(wl_sampler_sample(s, neg, 2) == 1, "repetition penalty multiplies a negative logit");
    wl_sampler_free(s);

    /* frequency: 2 - 2*0.06 = 1.88 < 1.9 ; 2 - 2*0.04 = 1.92 > 1.9 */
    s = greedy_with(1.0f, 64, 0.06f, 0.0f);
    wl_sampler_accept(s, 0);
    wl_sampler_accept(s, 0);
    CHECK(wl_sampler_sample(s, logits, 3) == 1, "frequency penalty counts occurrences");
    wl_sampler_free(s);
    s = greedy_with(1.0f, 64, 0.04f, 0.0f);
    wl_sampler_accept(s, 0);
    wl_sampler_accept(s, 0);
    CHECK(wl_sampler_sample(s, logits, 3) == 0, "small frequency penalty keeps the argmax");
    wl_sampler_free(s);

    /* presence: once, however often the token appeared: 2 - 0.2 = 1.8 */
    s = greedy_with(1.0f, 64, 0.0f, 0.2f);
    wl_sampler_accept(s, 0);
    CHECK(wl_sampler_sample(s, logits, 3) == 1, "presence penalty");
    wl_sampler_free(s);

    /* repetition applies once per distinct token: 2.0/1.02 = 1.96 > 1.9 even after 5 repeats */
    s = greedy_with(1.02f, 64, 0.0f, 0.0f);
    for (int i = 0; i < 5; i++) wl_sampler_accept(s, 0);
    CHECK(wl_sampler_sample(s, logits, 3) == 0, "repetition penalty is not compounded");
    wl_sampler_free(s);

    /* only the last penalty_last_n tokens count */
    s = greedy_with(1.5f, 1, 0.0f, 0.0f);
    wl_sampler_accept(s, 0);
    wl_sampler_accept(s, 2);
    CHECK(wl_sampler_sample(s, logits, 3) == 0, "a token outside the penalty window must not be penalized");
    for (int i = 0; i < 500; i++) wl_sampler_accept(s, 2); /* history compaction keeps the window */
    wl_sampler_accept(s, 0);
    CHECK(wl_sampler_sample(s, logits, 3) == 1, "penalty window after compaction");
    wl_sampler_free(s);
}

static void test_seeded(void) {
    float logits[10];
    for (int i = 0; i < 10; i++) logits[i] = 0.1f * (float)i;
    wl_sampler *a = wl_sampler_new(1.0f, 0, 1.0f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 42);
    wl_sampler *b = wl_sampler_new(1.0f, 0, 1.0f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 42);
    wl_sampler *c = wl_sampler_new(1.0f, 0, 1.0f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 43);
    int32_t first[50];
    int same_ab = 1, same_ac = 1;
    for (int i = 0; i < 50; i++) {
        int32_t ta = wl_sampler_sample(a, logits, 10);
        first[i] = ta;
        same_ab &= ta == wl_sampler_sample(b, logits, 10);
        same_ac &= ta == wl_sampler_sample(c, logits, 10);
    }
    CHECK(same_ab, "same seed, different tokens");
    CHECK(!same_ac, "different seeds gave 50 identical draws");
    wl_sampler_reset(a);
    int same_again = 1;
    for (int i = 0; i < 50; i++) same_again &= first[i] == wl_sampler_sample(a, logits, 10);
    CHECK(same_again, "reset does not restart the RNG");
    wl_sampler_free(a);
    wl_sampler_free(b);
    wl_sampler_free(c);
}

static void test_filters(void) {
    const float logits[4] = {3.0f, 2.0f, 1.0f, 0.0f}; /* p = .644 .237 .087 .032 */
    int counts[4] = {0};
    wl_sampler *s = wl_sampler_new(1.0f, 0, 0.5f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 3);
    for (int i = 0; i < 200; i++) counts[wl_sampler_sample(s, logits, 4)]++;
    CHECK(counts[0] == 200, "top-p 0.5 keeps only the first token (%d)", counts[0]);
    wl_sampler_free(s);

    counts[0] = counts[1] = counts[2] = counts[3] = 0;
    s = wl_sampler_new(1.0f, 0, 0.85f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 3);
    for (int i = 0; i < 400; i++) counts[wl_sampler_sample(s, logits, 4)]++;
    CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] == 0 && counts[3] == 0,
          "top-p 0.85 keeps two tokens: %d %d %d %d", counts[0], counts[1], counts[2], counts[3]);
    wl_sampler_free(s);

    /* min-p 0.3: p/p_max = 1, .37, .14, .05 -> two tokens */
    counts[0] = counts[1] = counts[2] = counts[3] = 0;
    s = wl_sampler_new(1.0f, 0, 1.0f, 0.3f, 1.0f, 0, 0.0f, 0.0f, 5);
    for (int i = 0; i < 400; i++) counts[wl_sampler_sample(s, logits, 4)]++;
    CHECK(counts[0] > 0 && counts[1] > 0 && counts[2] == 0 && counts[3] == 0,
          "min-p 0.3 keeps two tokens: %d %d %d %d", counts[0], counts[1], counts[2], counts[3]);
    wl_sampler_free(s);

    /* top-k 3 never draws the fourth */
    counts[0] = counts[1] = counts[2] = counts[3] = 0;
    s = wl_sampler_new(5.0f, 3, 1.0f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 9);
    for (int i = 0; i < 400; i++) counts[wl_sampler_sample(s, logits, 4)]++;
    CHECK(counts[3] == 0 && counts[2] > 0, "top-k 3: %d %d %d %d", counts[0], counts[1], counts[2], counts[3]);
    wl_sampler_free(s);

    /* the draw follows the distribution: p(1) = 3/4 */
    const float two[2] = {0.0f, logf(3.0f)};
    int ones = 0;
    s = wl_sampler_new(1.0f, 0, 1.0f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 11);
    for (int i = 0; i < 4000; i++) ones += wl_sampler_sample(s, two, 2);
    CHECK(ones > 2880 && ones < 3120, "p(1) = 0.75 drew %d of 4000", ones);
    wl_sampler_free(s);

    /* temperature 0.5 sharpens: p(1) = 9/10 */
    ones = 0;
    s = wl_sampler_new(0.5f, 0, 1.0f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 12);
    for (int i = 0; i < 4000; i++) ones += wl_sampler_sample(s, two, 2);
    CHECK(ones > 3510 && ones < 3690, "temperature 0.5: p(1) = 0.9 drew %d of 4000", ones);
    wl_sampler_free(s);
}

/* top-p / min-p without top-k sort only the candidates that can survive;
 * that must draw exactly what sorting the whole vocabulary draws. */
static void test_partial_sort_is_exact(void) {
    enum { N = 50000 };
    static float logits[N];
    uint32_t x = 2463534242u;
    int lowest = 0;
    for (int i = 0; i < N; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        logits[i] = (float)(x % 20000) / 1000.0f; /* [0, 20), with ties */
        if (logits[i] < logits[lowest]) lowest = i;
    }
    const float settings[3][2] = { {0.9f, 0.0f}, {1.0f, 0.05f}, {0.5f, 0.2f} };
    for (int k = 0; k < 3; k++) {
        /* top_k = N - 1 takes the full-sort path and drops only the lowest
         * logit, which none of these filters keeps anyway */
        wl_sampler *fast = wl_sampler_new(1.3f, 0, settings[k][0], settings[k][1], 1.0f, 0, 0.0f, 0.0f, 77);
        wl_sampler *full = wl_sampler_new(1.3f, N - 1, settings[k][0], settings[k][1], 1.0f, 0, 0.0f, 0.0f, 77);
        int same = 1;
        for (int t = 0; t < 200; t++) {
            int32_t a = wl_sampler_sample(fast, logits, N), b = wl_sampler_sample(full, logits, N);
            same &= a == b && a != lowest;
        }
        CHECK(same, "partial sort draws differ from full sort (top_p %g, min_p %g)", settings[k][0], settings[k][1]);
        wl_sampler_free(fast);
        wl_sampler_free(full);
    }
}

int main(void) {
    test_greedy();
    test_greedy_long();
    test_penalties();
    test_seeded();
    test_filters();
    test_partial_sort_is_exact();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("test_sampler: ok\n");
    return 0;
}
