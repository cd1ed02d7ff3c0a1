/* Token sampling. Chain order (llama.cpp's default order, minus the samplers
 * we do not offer): repetition/frequency/presence penalties -> top-k ->
 * top-p -> min-p -> temperature -> draw. temperature <= 0 skips the filters
 * and takes the argmax after penalties (lowest id on ties). The RNG (pcg32)
 * lives in the sampler, so the same seed gives the same tokens. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "wasmllm.h"
#ifdef __wasm_simd128__
#include <wasm_simd128.h>
#endif

typedef struct {
    int32_t id;
    float logit;
    float p;
} candidate;

struct wl_sampler {
    float temperature;
    int top_k;
    float top_p;
    float min_p;
    float repeat_penalty;
    int penalty_last_n; /* -1: the whole history */
    float frequency_penalty;
    float presence_penalty;
    uint32_t seed;
    uint64_t rng_state, rng_inc;

    int32_t *history; /* accepted tokens, oldest first */
    int n_history, cap_history;

    candidate *cand; /* n_vocab working set, reused between calls */
    int cap_cand;
    int32_t *window; /* sorted copy of the penalty window */
    int cap_window;

    wl_matcher *matcher; /* grammar constraint, or NULL */
    int32_t *bias_ids;   /* logit biases, applied before everything else */
    float *bias;
    int n_bias;
    float *masked;       /* the logits after the grammar mask and the biases */
    uint32_t *mask;
    int cap_masked;
    wl_error error;
};

/* ---- pcg32 (O'Neill), XSH-RR output ---- */

static uint32_t pcg32_next(wl_sampler *s) {
    uint64_t old = s->rng_state;
    s->rng_state = old * 6364136223846793005ULL + s->rng_inc;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
}

static void pcg32_seed(wl_sampler *s, uint32_t seed) {
    s->rng_state = 0;
    s->rng_inc = ((uint64_t)seed << 1u) | 1u;
    pcg32_next(s);
    s->rng_state += 0x853c49e6748fea9bULL ^ seed;
    pcg32_next(s);
}

/* uniform in [0, 1) with 24 bits */
static float rng_uniform(wl_sampler *s) {
    return (float)(pcg32_next(s) >> 8) * (1.0f / 16777216.0f);
}

wl_sampler *wl_sampler_new(float temperature, int top_k, float top_p, float min_p,
                           float repeat_penalty, int penalty_last_n, float frequency_penalty,
                           float presence_penalty, uint32_t seed) {
    wl_sampler *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->temperature = temperature;
    s->top_k = top_k;
    s->top_p = top_p;
    s->min_p = min_p;
    s->repeat_penalty = repeat_penalty;
    s->penalty_last_n = penalty_last_n < -1 ? 0 : penalty_last_n;
    s->frequency_penalty = frequency_penalty;
    s->presence_penalty = presence_penalty;
    s->seed = seed;
    pcg32_seed(s, seed);
    return s;
}

void wl_sampler_free(wl_sampler *s) {
    if (!s) return;
    free(s->history);
    free(s->cand);
    free(s->window);
    free(s->bias_ids);
    free(s->bias);
    free(s->masked);
    free(s->mask);
    free(s);
}

void wl_sampler_set_matcher(wl_sampler *s, wl_matcher *m) {
    if (s) s->matcher = m;
}

int wl_sampler_set_bias(wl_sampler *s, const int32_t *ids, const float *bias, int n, wl_error *err) {
    if (!s || n < 0 || (n > 0 && (!ids || !bias))) return wl_fail(err, WL_ERR_BAD_ARG, "wl_sampler_set_bias: bad arguments");
    int32_t *i2 = n ? malloc((size_t)n * sizeof *i2) : NULL;
    float *b2 = n ? malloc((size_t)n * sizeof *b2) : NULL;
    if (n && (!i2 || !b2)) {
        free(i2), free(b2);
        return wl_fail(err, WL_ERR_OOM, "out of memory for %d logit biases", n);
    }
    if (n) memcpy(i2, ids, (size_t)n * sizeof *i2), memcpy(b2, bias, (size_t)n * sizeof *b2);
    free(s->bias_ids), free(s->bias);
    s->bias_ids = i2, s->bias = b2, s->n_bias = n;
    return WL_OK;
}

const wl_error *wl_sampler_error(const wl_sampler *s) { return &s->error; }

/* The logits with the grammar's disallowed tokens at -inf and the biases
 * added, in s->masked; NULL when nothing is left (-2 in *status) or the
 * matcher failed (-3). */
static const float *constrain(wl_sampler *s, const float *logits, int n_vocab, int32_t *status) {
    if (n_vocab > s->cap_masked) {
        float *m = realloc(s->masked, (size_t)n_vocab * sizeof *m);
        if (m) s->masked = m;
        uint32_t *k = realloc(s->mask, ((size_t)n_vocab + 31) / 32 * sizeof *k);
        if (k) s->mask = k;
        if (!m || !k) {
            wl_fail(&s->error, WL_ERR_OOM, "out of memory for the sampler's masked logits");
            *status = -3;
            return NULL;
        }
        s->cap_masked = n_vocab;
    }
    float *out = s->masked;
    if (s->matcher && wl_matcher_n_vocab(s->matcher) != n_vocab) {
        wl_fail(&s->error, WL_ERR_BAD_ARG, "the grammar's vocabulary has %d tokens, the logits %d",
                wl_matcher_n_vocab(s->matcher), n_vocab);
        *status = -3;
        return NULL;
    }
    if (s->matcher) {
        if (wl_matcher_fill_mask(s->matcher, s->mask, &s->error) < 0) {
            *status = -3;
            return NULL;
        }
        for (int w = 0; w * 32 < n_vocab; w++) {
            const uint32_t bits = s->mask[w];
            const int lo = w * 32, hi = lo + 32 < n_vocab ? lo + 32 : n_vocab;
            if (bits == 0xffffffffu && hi - lo == 32) {
                memcpy(out + lo, logits + lo, 32 * sizeof *out);
            } else {
                for (int i = lo; i < hi; i++) out[i] = (bits >> (i - lo)) & 1u ? logits[i] : -INFINITY;
            }
        }
    } else {
        memcpy(out, logits, (size_t)n_vocab * sizeof *out);
    }
    for (int k = 0; k < s->n_bias; k++) {
        const int32_t id = s->bias_ids[k];
        if (id < 0 || id >= n_vocab || out[id] == -INFINITY) continue; /* banned stays banned */
        out[id] += s->bias[k];
    }
    for (int i = 0; i < n_vocab; i++)
        if (out[i] > -INFINITY) return out;
    *status = -2;
    return NULL;
}

void wl_sampler_reset(wl_sampler *s) {
    if (!s) return;
    s->n_history = 0;
    pcg32_seed(s, s->seed);
}

void wl_sampler_accept(wl_sampler *s, int32_t token) {
    if (!s || s->penalty_last_n == 0) return;
    /* keep at most a bounded window; compact rather than shift each time */
    if (s->penalty_last_n > 0 && s->n_history >= 2 * s->penalty_last_n + 64) {
        const int keep = s->penalty_last_n;
        memmove(s->history, s->history + s->n_history - keep, (size_t)keep * sizeof(int32_t));
        s->n_history = keep;
    }
    if (s->n_history == s->cap_history) {
        int cap = s->cap_history ? s->cap_history * 2 : 256;
        int32_t *h = realloc(s->history, (size_t)cap * sizeof(int32_t));
        if (!h) return; /* history is advisory: without memory we just stop recording */
        s->history = h;
        s->cap_history = cap;
    }
    s->history[s->n_history++] = token;
}

static int penalties_active(const wl_sampler *s) {
    return s->penalty_last_n != 0 && s->n_history > 0 &&
           ((s->repeat_penalty != 1.0f && s->repeat_penalty > 0.0f) ||
            s->frequency_penalty != 0.0f || s->presence_penalty != 0.0f);
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* llama.cpp's penalties: each distinct token of the window once for the
 * repetition penalty (divide positive logits, multiply negative ones),
 * then count * frequency + presence subtracted. */
static void apply_penalties(wl_sampler *s, candidate *cand, int n_vocab) {
    int n = s->n_history;
    if (s->penalty_last_n > 0 && n > s->penalty_last_n) n = s->penalty_last_n;
    if (n > s->cap_window) {
        int32_t *w = realloc(s->window, (size_t)n * sizeof(int32_t));
        if (!w) return;
        s->window = w;
        s->cap_window = n;
    }
    memcpy(s->window, s->history + s->n_history - n, (size_t)n * sizeof(int32_t));
    qsort(s->window, (size_t)n, sizeof(int32_t), cmp_i32);
    for (int i = 0; i < n;) {
        int j = i;
        while (j < n && s->window[j] == s->window[i]) j++;
        const int32_t tok = s->window[i];
        const int count = j - i;
        i = j;
        if (tok < 0 || tok >= n_vocab) continue;
        float *logit = &cand[tok].logit; /* cand is still in id order here */
        if (s->repeat_penalty > 0.0f && s->repeat_penalty != 1.0f) {
            *logit = *logit <= 0.0f ? *logit * s->repeat_penalty : *logit / s->repeat_penalty;
        }
        *logit -= (float)count * s->frequency_penalty + s->presence_penalty;
    }
}

static int cmp_cand_desc(const void *a, const void *b) {
    const candidate *x = a, *y = b;
    if (x->logit != y->logit) return x->logit < y->logit ? 1 : -1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Sorts the k best candidates to the front (descending logit, ascending id). */
static void sort_top(candidate *cand, int n, int k) {
    if (k >= n || k > 1024) {
        qsort(cand, (size_t)n, sizeof *cand, cmp_cand_desc);
        return;
    }
    /* selection into the first k slots: O(n k) worst case but k is small */
    int filled = 0;
    for (int i = 0; i < n; i++) {
        candidate c = cand[i];
        if (filled == k && cmp_cand_desc(&c, &cand[k - 1]) >= 0) continue;
        int j = filled < k ? filled++ : k - 1;
        while (j > 0 && cmp_cand_desc(&c, &cand[j - 1]) < 0) {
            cand[j] = cand[j - 1];
            j--;
        }
        cand[j] = c;
    }
}

static float max_logit(const candidate *cand, int n) {
    float mx = cand[0].logit;
    for (int i = 1; i < n; i++) mx = cand[i].logit > mx ? cand[i].logit : mx;
    return mx;
}

/* p_i = exp((l_i - max) / temperature), unnormalized; returns their sum. */
static double exp_weights(candidate *cand, int n, float temperature) {
    const float mx = max_logit(cand, n);
    double sum = 0.0;
    for (int i = 0; i < n; i++) {
        cand[i].p = expf((cand[i].logit - mx) / temperature);
        sum += cand[i].p;
    }
    return sum;
}

/* Moves the candidates with logit >= threshold to the front; returns how many. */
static int keep_above(candidate *cand, int n, float threshold) {
    int kept = 0;
    for (int i = 0; i < n; i++) {
        if (cand[i].logit >= threshold) {
            candidate c = cand[kept];
            cand[kept++] = cand[i];
            cand[i] = c;
        }
    }
    return kept;
}

/* A logit threshold whose candidates hold at least top_p of the mass, so
 * the top-p prefix of the sorted list lies inside it: sorting only those is
 * exact. Bisection over [max - 60, max] on the weights in cand[].p. */
static float top_p_bound(const candidate *cand, int n, double total, float top_p) {
    const float mx = max_logit(cand, n);
    float lo = mx - 60.0f, hi = mx;
    double mass = 0.0;
    for (int i = 0; i < n; i++) mass += cand[i].logit >= lo ? cand[i].p : 0.0f;
    if (mass < top_p * total) return -INFINITY;
    for (int it = 0; it < 16; it++) {
        const float mid = 0.5f * (lo + hi);
        mass = 0.0;
        for (int i = 0; i < n; i++) mass += cand[i].logit >= mid ? cand[i].p : 0.0f;
        if (mass >= top_p * total) lo = mid; else hi = mid;
    }
    return lo;
}

static int32_t argmax(const candidate *cand, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (cand[i].logit > cand[best].logit) best = i; /* strict: lowest id wins ties */
    }
    return cand[best].id;
}

/* Draws from the n candidates by their weights in cand[].p. */
static int32_t draw(wl_sampler *s, const candidate *cand, int n, double total) {
    const double r = (double)rng_uniform(s) * total;
    double cum = 0.0;
    for (int i = 0; i < n; i++) {
        cum += cand[i].p;
        if (r < cum) return cand[i].id;
    }
    return cand[n - 1].id;
}

/* argmax over the logits themselves: greedy decoding without penalties
 * needs no candidate list (copying 128k of them cost about 1 ms a token). */
static int32_t argmax_logits_ref(const float *logits, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) {
        if (logits[i] > logits[best]) best = i; /* as argmax: lowest id wins ties */
    }
    return best;
}

/* The same answer four lanes at a time: each lane keeps its first maximum
 * (strict >), then the largest value's lowest index wins. A NaN anywhere
 * goes to the scalar loop, whose answer then depends on where it is. */
static int32_t argmax_logits(const float *logits, int n) {
#ifdef __wasm_simd128__
    if (n >= 8) {
        const int n4 = n / 4 * 4;
        v128_t best = wasm_v128_load(logits), best_i = wasm_i32x4_make(0, 1, 2, 3), nan = wasm_f32x4_ne(best, best);
        v128_t idx = best_i;
        for (int i = 4; i < n4; i += 4) {
            const v128_t x = wasm_v128_load(logits + i);
            idx = wasm_i32x4_add(idx, wasm_i32x4_splat(4));
            const v128_t gt = wasm_f32x4_gt(x, best);
            best = wasm_v128_bitselect(x, best, gt);
            best_i = wasm_v128_bitselect(idx, best_i, gt);
            nan = wasm_v128_or(nan, wasm_f32x4_ne(x, x));
        }
        if (!wasm_v128_any_true(nan)) {
            float v[4];
            int32_t at[4];
            wasm_v128_store(v, best);
            wasm_v128_store(at, best_i);
            int b = 0;
            for (int k = 1; k < 4; k++)
                if (v[k] > v[b] || (v[k] == v[b] && at[k] < at[b])) b = k;
            int32_t arg = at[b];
            for (int i = n4; i < n; i++) {
                if (logits[i] > logits[arg]) arg = i;
            }
            return arg;
        }
    }
#endif
    return argmax_logits_ref(logits, n);
}

int32_t wl_sampler_sample(wl_sampler *s, const float *logits, int n_vocab) {
    if (!s || !logits || n_vocab <= 0 || n_vocab > (1 << 26)) return -1;
    if (s->matcher || s->n_bias) {
        int32_t status = 0;
        logits = constrain(s, logits, n_vocab, &status);
        if (!logits) return status;
    }
    if (s->temperature <= 0.0f && !penalties_active(s)) return argmax_logits(logits, n_vocab);
    if (n_vocab > s->cap_cand) {
        candidate *c = realloc(s->cand, (size_t)n_vocab * sizeof *c);
        if (!c) return -1;
        s->cand = c;
        s->cap_cand = n_vocab;
    }
    candidate *cand = s->cand;
    for (int i = 0; i < n_vocab; i++) {
        cand[i].id = i;
        cand[i].logit = logits[i];
    }
    if (penalties_active(s)) apply_penalties(s, cand, n_vocab);
    if (s->temperature <= 0.0f) return argmax(cand, n_vocab);

    const int use_top_p = s->top_p < 1.0f, use_min_p = s->min_p > 0.0f;
    int n = n_vocab;
    double p_total = 0.0; /* top-p's normalizer: the candidates left by top-k */
    if (s->top_k > 0 && s->top_k < n) {
        sort_top(cand, n, s->top_k);
        n = s->top_k;
        if (use_top_p) p_total = exp_weights(cand, n, 1.0f);
    } else if (use_top_p || use_min_p) {
        /* Only a prefix of the sorted vocabulary can survive top-p and
         * min-p: sort just the candidates that may be in it. */
        float bound = -INFINITY;
        if (use_top_p) {
            p_total = exp_weights(cand, n, 1.0f);
            bound = top_p_bound(cand, n, p_total, s->top_p);
        }
        if (use_min_p) {
            const float t = max_logit(cand, n) + logf(s->min_p);
            bound = t > bound ? t : bound;
        }
        n = keep_above(cand, n, bound);
        if (n == 0) return argmax(cand, n_vocab); /* only NaN logits */
        sort_top(cand, n, n);
    } else {
        /* temperature only: no order needed */
        return draw(s, cand, n, exp_weights(cand, n, s->temperature));
    }

    /* top-p and min-p judge probabilities before temperature, as in
     * llama.cpp's chain; cand[].p holds the temperature-1 weights */
    if (use_top_p) {
        double cum = 0.0;
        for (int i = 0; i < n; i++) {
            cum += cand[i].p;
            if (cum >= s->top_p * p_total) {
                n = i + 1;
                break;
            }
        }
    }
    if (use_min_p) {
        /* p_i >= min_p * p_max  <=>  logit_i >= logit_max + log(min_p) */
        const float threshold = cand[0].logit + logf(s->min_p);
        int keep = 1;
        while (keep < n && cand[keep].logit >= threshold) keep++;
        n = keep;
    }
    return draw(s, cand, n, exp_weights(cand, n, s->temperature));
}
