/* Log-probabilities of the next token: the log-softmax of the model's raw
 * logits (before temperature, penalties, biases or a grammar, as OpenAI
 * reports them), and its k most likely tokens. Scalar on purpose: it runs
 * only when a caller asks for log-probabilities, and its cost (one exp per
 * vocabulary entry) is small beside a decode step. */
#include <math.h>

#include "wasmllm.h"

/* log(sum(exp(logits))), summed in double from the maximum down so no term
 * overflows. -inf logits (banned tokens) add nothing; a NaN logit gives NaN. */
static double log_sum_exp(const float *logits, int n) {
    float max = -INFINITY;
    for (int i = 0; i < n; i++) {
        if (logits[i] != logits[i]) return NAN;
        if (logits[i] > max) max = logits[i];
    }
    if (max == -INFINITY) return -INFINITY;
    double sum = 0.0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - (double)max);
    return (double)max + log(sum);
}

/* Keeps ids[0..k) sorted by logit, highest first, lower id first on ties
 * (ids are visited in increasing order, so an equal logit never moves up). */
static void top_k(const float *logits, int n, int k, int32_t *ids) {
    int filled = 0;
    for (int i = 0; i < n; i++) {
        const float v = logits[i];
        if (filled == k && !(v > logits[ids[k - 1]])) continue;
        int j = filled < k ? filled++ : k - 1;
        while (j > 0 && v > logits[ids[j - 1]]) {
            ids[j] = ids[j - 1];
            j--;
        }
        ids[j] = i;
    }
}

double wl_logprobs(const float *logits, int n_vocab, int k, int32_t *top_ids, float *top_logprobs) {
    if (!logits || n_vocab <= 0 || k < 0 || (k > 0 && (!top_ids || !top_logprobs))) return NAN;
    if (k > n_vocab) k = n_vocab;
    const double lse = log_sum_exp(logits, n_vocab);
    if (k > 0) {
        top_k(logits, n_vocab, k, top_ids);
        for (int j = 0; j < k; j++) top_logprobs[j] = (float)((double)logits[top_ids[j]] - lse);
    }
    return lse;
}
