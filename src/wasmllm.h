/* The exported C API: the only functions the JS layer calls (see
 * wasm/exports.txt). Plain ints, floats, doubles (for 64-bit sizes) and
 * pointers only, so JS needs no struct layouts and no BigInt. */
#ifndef WASMLLM_H
#define WASMLLM_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"

typedef struct wl_file wl_file;       /* parsed GGUF shard set: metadata + tensor index */
typedef struct wl_model wl_model;     /* an architecture bound to a file's tensors */
typedef struct wl_context wl_context; /* KV cache, scratch and threads for one sequence */
typedef struct wl_sampler wl_sampler; /* sampling settings, RNG and token history */
typedef struct wl_vocab wl_vocab;     /* every token's bytes, as a trie, for grammars */
typedef struct wl_grammar wl_grammar; /* parsed GBNF bound to a vocabulary, with its caches */
typedef struct wl_matcher wl_matcher; /* one generation's position in a grammar */

/* ---- memory and errors ---- */
void *wl_alloc(size_t n_bytes); /* NULL when the heap cannot grow that far */
void wl_free(void *ptr);
/* Bytes currently allocated from the heap (malloc's own count): leak checks
 * compare it before and after a workload. */
double wl_heap_in_use(void);
wl_error *wl_error_new(void);
void wl_error_free(wl_error *err);
int wl_error_code(const wl_error *err);
const char *wl_error_message(const wl_error *err); /* NUL-terminated */
/* Which SIMD instructions this build's kernels use: 0 none (native or
 * scalar builds), 1 SIMD128, 2 SIMD128 with relaxed SIMD's integer dot. */
int wl_build_isa(void);

/* ---- files ----
 * shards[i] points to the whole bytes of shard i (already in this heap, in
 * any order); the caller keeps them alive until wl_file_free. allow_no_data
 * accepts vocab-only files whose tensors have no data. */
wl_file *wl_file_open(const uint8_t *const *shards, const double *lens, int n_shards,
                      int allow_no_data, wl_error *err);
void wl_file_free(wl_file *f);

/* Metadata and the tensor index are read in JS (web/gguf.js) from the same
 * bytes; C parses them again here because it binds tensors and must not
 * trust anything it did not check itself. */
int wl_file_tensor_count(const wl_file *f);

/* ---- models ---- */
wl_model *wl_model_load(const wl_file *f, wl_error *err); /* f must outlive the model */
void wl_model_free(wl_model *m);
/* Rearranges the weights in place for this build's SIMD kernels (repack.h)
 * and returns how many matrices it rearranged (0 in builds without them).
 * Results do not change; the shards' bytes do, so anything that still
 * needs the file's bytes (storing them in a cache) must run first. Never
 * while a decode runs (decodes read what it rewrites); a second call does
 * nothing. */
int wl_model_prepare(wl_model *m);
int wl_model_n_vocab(const wl_model *m);
int wl_model_n_ctx_train(const wl_model *m);
int wl_model_n_embd(const wl_model *m);
int wl_model_n_layer(const wl_model *m);
double wl_model_n_params(const wl_model *m);

/* ---- contexts ----
 * n_ctx 0 = the model's training context (capped by the heap);
 * n_threads 0 = 1 (JS picks the count from hardwareConcurrency);
 * kv_type: how the KV cache stores keys and values, as a GGUF type id:
 * 1 (F16, llama.cpp's default) or 8 (Q8_0: 34 bytes per 32 values, about
 * 53% of F16; needs head dims that are multiples of 32, else WL_ERR_BAD_ARG). */
wl_context *wl_context_new(const wl_model *m, int n_ctx, int n_threads, int kv_type,
                           wl_error *err);
void wl_context_free(wl_context *c);
int wl_context_n_ctx(const wl_context *c);
int wl_context_kv_type(const wl_context *c);     /* the GGUF type id of the KV cache */
double wl_context_kv_bytes(const wl_context *c); /* bytes the KV cache holds (sliding-window layers: their ring) */
int wl_context_pos(const wl_context *c);     /* tokens held in the KV cache */
/* Forgets tokens at >= pos. Models with short-convolution layers (lfm2) can
 * go back only WL_CONV_REWIND positions behind the furthest one reached, and
 * sliding-window layers (gemma2/3) only WL_KV_REWIND positions behind their
 * ring's reach; a deeper truncate forgets everything: read wl_context_pos
 * for what was kept. */
void wl_context_truncate(wl_context *c, int pos);
/* Appends n tokens at the current position and computes the logits of the
 * last one. Fails with WL_ERR_CONTEXT_FULL (nothing appended) if they do not fit. */
int wl_decode(wl_context *c, const int32_t *tokens, int n_tokens, wl_error *err);
float *wl_context_logits(wl_context *c); /* n_vocab floats, valid after wl_decode */
/* wl_decode for several sequences at once: ctxs[s] (distinct contexts of
 * one model and KV cache type) appends the next n_tokens[s] of tokens
 * (every sequence's tokens, concatenated in order) at its own position and
 * gets the logits of its last one. The rows of all sequences share each
 * pass over the weights, on ctxs[0]'s threads; each sequence attends to
 * its own cache. Every sequence's logits and cache are bit-identical to
 * decoding the same tokens alone. Checked before anything runs: an error
 * appends nothing to any sequence. */
int wl_decode_batch(wl_context *const *ctxs, const int32_t *tokens, const int *n_tokens, int n_seq,
                    wl_error *err);
/* wl_decode that also keeps the logits of every token it appends (a
 * draft's verification, prompt logprobs, perplexity):
 * wl_context_logits_all then holds n_tokens rows of n_vocab floats, row i
 * bit-identical to the logits wl_decode gives after token i; NULL once
 * another decode of c has run. WL_ERR_OOM (nothing appended) when the
 * rows do not fit the heap. */
int wl_decode_all(wl_context *c, const int32_t *tokens, int n_tokens, wl_error *err);
float *wl_context_logits_all(wl_context *c);

/* ---- embeddings ----
 * Runs tokens as a fresh sequence (the context's cache is reset first) and
 * writes wl_model_n_embd floats to out: the final hidden states pooled by
 * `pooling` (-1: the model's own pooling_type, else mean for encoders and
 * last for decoders; 1 mean, 2 first token (CLS), 3 last token), divided by
 * their L2 norm when normalize != 0. Encoders (bert, nomic-bert) attend in
 * both directions, decoders causally. */
int wl_embed(wl_context *c, const int32_t *tokens, int n_tokens, int pooling, int normalize,
             float *out, wl_error *err);
/* 1 for embedding-only models (bert, nomic-bert): wl_decode refuses them. */
int wl_model_is_encoder(const wl_model *m);
/* The model's pooling_type (1 mean, 2 CLS, 3 last), or -1 if it has none. */
int wl_model_pooling(const wl_model *m);

/* ---- sampling ----
 * temperature <= 0 is greedy. top_k <= 0, top_p >= 1, min_p <= 0 disable
 * those filters; penalty 1 / 0 disables penalties. Same seed, same tokens. */
wl_sampler *wl_sampler_new(float temperature, int top_k, float top_p, float min_p,
                           float repeat_penalty, int penalty_last_n,
                           float frequency_penalty, float presence_penalty,
                           uint32_t seed);
void wl_sampler_free(wl_sampler *s);
void wl_sampler_accept(wl_sampler *s, int32_t token); /* adds to the penalty history */
void wl_sampler_reset(wl_sampler *s);
/* The next token: -1 on bad arguments, -2 when the grammar and the logit
 * biases leave no token allowed, -3 when the grammar matcher failed
 * (wl_sampler_error says why). */
int32_t wl_sampler_sample(wl_sampler *s, const float *logits, int n_vocab);
/* Samples only among the tokens the matcher allows at its position (NULL:
 * no grammar). The caller then passes the chosen token to wl_matcher_accept.
 * The matcher must outlive its use here. */
void wl_sampler_set_matcher(wl_sampler *s, wl_matcher *m);
/* bias[i] is added to the logit of ids[i] before any other step
 * (-INFINITY bans the token); replaces earlier biases. ids must be in
 * [0, n_vocab) at sampling time; later duplicates add up. */
int wl_sampler_set_bias(wl_sampler *s, const int32_t *ids, const float *bias, int n, wl_error *err);
const wl_error *wl_sampler_error(const wl_sampler *s);

/* ---- grammars (GBNF, as llama.cpp reads it; src/grammar.h) ----
 * A vocabulary: token id i's bytes are bytes[offsets[i] .. offsets[i + 1])
 * (as llama.cpp's token_to_piece renders them, special tokens included);
 * kinds[i]: 0 text, 1 never allowed (control, unknown, unused), 2 ends
 * generation (allowed only where the grammar may end). Copied. */
wl_vocab *wl_vocab_new(const uint8_t *bytes, const uint32_t *offsets, const uint8_t *kinds, int n_vocab,
                       wl_error *err);
void wl_vocab_free(wl_vocab *v);
double wl_vocab_bytes(const wl_vocab *v);
/* Parses GBNF text (len bytes, root rule "root"); errors are
 * WL_ERR_BAD_GRAMMAR naming the line and column. The vocabulary must
 * outlive the grammar; the grammar's caches grow as it is used
 * (wl_grammar_bytes), and any number of matchers may share it. */
wl_grammar *wl_grammar_new(const char *text, int len, const wl_vocab *v, wl_error *err);
void wl_grammar_free(wl_grammar *g);
double wl_grammar_bytes(const wl_grammar *g);
wl_matcher *wl_matcher_new(wl_grammar *g, wl_error *err); /* at the start of the root rule */
void wl_matcher_free(wl_matcher *m);
/* Moves past a token; WL_ERR_BAD_GRAMMAR if the grammar does not allow it. */
int wl_matcher_accept(wl_matcher *m, int32_t token, wl_error *err);
int wl_matcher_can_end(const wl_matcher *m); /* an end-of-generation token is allowed */
int wl_matcher_done(const wl_matcher *m);    /* nothing but the end is allowed */
int wl_matcher_n_vocab(const wl_matcher *m); /* tokens of its vocabulary (bits of a mask) */
/* Sets bit i of bits ((n_vocab + 31) / 32 words) for every token allowed
 * next; returns how many, or -1 (err says why). The _ref twin checks each
 * token on its own (tests compare the two). */
int wl_matcher_fill_mask(wl_matcher *m, uint32_t *bits, wl_error *err);
int wl_matcher_fill_mask_ref(wl_matcher *m, uint32_t *bits, wl_error *err);

/* ---- log-probabilities ----
 * The log-softmax of raw logits (the model's distribution, before sampling
 * settings): returns log(sum(exp(logits))), so token t's log-probability is
 * logits[t] minus it, and writes the k most likely ids (highest first, lower
 * id first on ties) and their log-probabilities. k above n_vocab is cut to
 * n_vocab. NaN for bad arguments or a NaN logit. */
double wl_logprobs(const float *logits, int n_vocab, int k, int32_t *top_ids, float *top_logprobs);

#endif
