/* wl_logprobs: log-softmax against a hand-checked case, probabilities that
 * sum to 1, top-k order and ties, -inf and NaN logits, bad arguments. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "wasmllm.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

static void test_by_hand(void) {
    /* logits log(1), log(2), log(3), log(4): probabilities 0.1 .. 0.4 */
    const float logits[4] = {0.0f, logf(2.0f), logf(3.0f), logf(4.0f)};
    int32_t ids[4];
    float lp[4];
    const double lse = wl_logprobs(logits, 4, 4, ids, lp);
    CHECK(fabs(lse - log(10.0)) < 1e-6, "lse %f != log 10", lse);
    const int want[4] = {3, 2, 1, 0};
    for (int j = 0; j < 4; j++) {
        CHECK(ids[j] == want[j], "top %d is %d", j, ids[j]);
        CHECK(fabsf(lp[j] - logf((float)(4 - j) / 10.0f)) < 1e-6f, "logprob %d %f", j, lp[j]);
    }
}

static void test_large_vocab(void) {
    const int n = 128256;
    float *logits = malloc((size_t)n * sizeof *logits);
    unsigned x = 12345;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        logits[i] = (float)((x >> 8) % 20000) / 1000.0f - 10.0f; /* [-10, 10), many ties */
    }
    int32_t ids[20];
    float lp[20];
    const double lse = wl_logprobs(logits, n, 20, ids, lp);
    double sum = 0.0;
    int argmax = 0;
    for (int i = 0; i < n; i++) {
        sum += exp((double)logits[i] - lse);
        if (logits[i] > logits[argmax]) argmax = i;
    }
    CHECK(fabs(sum - 1.0) < 1e-9, "probabilities sum to %.12f", sum);
    CHECK(ids[0] == argmax, "top 1 %d != argmax %d", ids[0], argmax);
    for (int j = 1; j < 20; j++) {
        CHECK(lp[j] <= lp[j - 1], "top-k not sorted at %d", j);
        if (logits[ids[j]] == logits[ids[j - 1]]) CHECK(ids[j] > ids[j - 1], "ties not by id at %d", j);
    }
    /* nothing outside the top 20 beats the 20th */
    int beaten = 0;
    for (int i = 0; i < n; i++) {
        int in = 0;
        for (int j = 0; j < 20; j++) in |= ids[j] == i;
        if (!in && (logits[i] > logits[ids[19]] || (logits[i] == logits[ids[19]] && i < ids[19]))) beaten++;
    }
    CHECK(beaten == 0, "%d tokens outside the top 20 beat it", beaten);
    free(logits);
}

static void test_edges(void) {
    const float banned[3] = {-INFINITY, 1.0f, -INFINITY};
    int32_t ids[3];
    float lp[3];
    const double lse = wl_logprobs(banned, 3, 3, ids, lp);
    CHECK(fabs(lse - 1.0) < 1e-9, "only one token left: lse %f", lse);
    CHECK(ids[0] == 1 && lp[0] == 0.0f, "the only token has log-probability 0");
    CHECK(isinf(lp[1]) && lp[1] < 0, "a banned token has -inf");
    const float nan[2] = {0.0f, NAN};
    CHECK(isnan(wl_logprobs(nan, 2, 0, NULL, NULL)), "NaN logits give NaN");
    CHECK(isnan(wl_logprobs(banned, 3, 1, NULL, lp)), "k > 0 needs the buffers");
    CHECK(isnan(wl_logprobs(banned, 0, 0, NULL, NULL)), "empty vocabulary");
    int32_t one[3];
    float one_lp[3];
    wl_logprobs(banned, 3, 10, one, one_lp); /* k past n_vocab is cut, not overrun */
    CHECK(one[0] == 1, "k > n_vocab");
}

int main(void) {
    test_by_hand();
    test_large_vocab();
    test_edges();
    if (failures) fprintf(stderr, "%d failures\n", failures);
    else printf("test_logprobs: ok\n");
    return failures ? 1 : 0;
}
