/* Grammars: the GBNF parser (and its line:column errors), the matcher on
 * whole strings, UTF-8 split across tokens, and the fast mask (trie walk +
 * context-independent cache) against its scalar twin on random
 * vocabularies, step after step of random allowed tokens. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar.h"
#include "wasmllm.h"

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

/* A vocabulary from NUL-separated-free strings plus `n_end` end tokens. */
static wl_vocab *vocab_of(const char *const *tokens, int n, int n_end) {
    size_t total = 0;
    for (int i = 0; i < n; i++) total += strlen(tokens[i]);
    uint8_t *bytes = malloc(total + 1), *kinds = malloc((size_t)n + n_end);
    uint32_t *off = malloc(((size_t)n + n_end + 1) * sizeof *off);
    uint32_t at = 0;
    for (int i = 0; i < n; i++) {
        off[i] = at;
        memcpy(bytes + at, tokens[i], strlen(tokens[i]));
        at += (uint32_t)strlen(tokens[i]);
        kinds[i] = 0;
    }
    for (int i = n; i < n + n_end; i++) off[i] = at, kinds[i] = 2;
    off[n + n_end] = at;
    wl_error err = {0};
    wl_vocab *v = wl_vocab_new(bytes, off, kinds, n + n_end, &err);
    if (!v) fprintf(stderr, "vocab: %s\n", err.message);
    free(bytes), free(kinds), free(off);
    return v;
}

/* Token i = byte i (byte 0 is never allowed), then one end token (256). */
static wl_vocab *byte_vocab(void) {
    uint8_t bytes[256], kinds[257];
    uint32_t off[258];
    for (int i = 0; i < 256; i++) bytes[i] = (uint8_t)i, off[i] = (uint32_t)i, kinds[i] = 0;
    off[256] = 256, off[257] = 256, kinds[256] = 2;
    return wl_vocab_new(bytes, off, kinds, 257, NULL);
}

/* Whether the grammar matches the whole string, fed one byte token at a time. */
static int matches(const char *gbnf, const char *text) {
    wl_vocab *v = byte_vocab();
    wl_error err = {0};
    wl_grammar *g = wl_grammar_new(gbnf, (int)strlen(gbnf), v, &err);
    if (!g) {
        fprintf(stderr, "grammar failed: %s\n", err.message);
        wl_vocab_free(v);
        return -1;
    }
    wl_matcher *m = wl_matcher_new(g, &err);
    int ok = 1;
    for (const char *p = text; *p && ok; p++) ok = wl_matcher_accept(m, (uint8_t)*p, &err) == WL_OK;
    ok = ok && wl_matcher_accept(m, 256, &err) == WL_OK;
    wl_matcher_free(m);
    wl_grammar_free(g);
    wl_vocab_free(v);
    return ok;
}

static void test_parse_errors(void) {
    static const struct { const char *gbnf, *where, *what; } bad[] = {
        {"", NULL, "empty"},
        {"# only a comment\n", NULL, "empty"},
        {"rot ::= \"a\"", NULL, "no 'root'"},
        {"root ::= foo", "line 1, column 10", "undefined rule 'foo'"},
        {"root ::= \"a\"\nx ::= y\n", "line 2, column 7", "undefined rule 'y'"},
        {"root ::= \"abc", "line 1, column 10", "not closed"},
        {"root ::= [a-z", "line 1, column 10", "not closed"},
        {"root ::= (\"a\"", "line 1, column 14", "expected ')'"},
        {"root := \"a\"", "line 1, column 6", "'::='"},
        {"root ::= \"a\" )", "line 1, column 14", "newline"},
        {"root ::= \"\\q\"", "line 1, column 11", "unknown escape"},
        {"root ::= \"\\x4\"", "line 1, column 14", "hex digits"},
        {"root ::= * \"a\"", "line 1, column 10", "before the repetition"},
        {"root ::= \"a\"{3,1}", "line 1, column 13", "n >= m"},
        {"root ::= \"a\"{2001}", "line 1, column 13", "over 2000"},
        {"root ::= \"a\"{x}", "line 1, column 14", "integer"},
        {"root ::= \"a\"{1;}", "line 1, column 15", "',' or '}'"},
        {"root ::= root \"a\" | \"b\"", "line 1, column 1", "left-recursive"},
        {"root ::= x\nx ::= \"\" | x \"a\"\n", "line 1, column 10", "left-recursive"},
        {"root ::= <[12]>", "line 1, column 10", "token references"},
        {"root ::= \"a\"\n  | \"b\"\n", "line 2, column 3", "rule name"},
        {"root ::= \"é\" ?? [", "line 1, column 17", "not closed"},
        {"root ::= (\"a\"{1,40}){60}", "line 1, column 21", "repetition too large"},
    };
    wl_vocab *v = byte_vocab();
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        wl_error err = {0};
        wl_grammar *g = wl_grammar_new(bad[i].gbnf, (int)strlen(bad[i].gbnf), v, &err);
        CHECK(!g, "bad grammar #%zu accepted: %s", i, bad[i].gbnf);
        wl_grammar_free(g);
        CHECK(err.code == WL_ERR_BAD_GRAMMAR, "#%zu: code %d", i, err.code);
        CHECK(strstr(err.message, bad[i].what), "#%zu: message '%s' lacks '%s'", i, err.message, bad[i].what);
        if (bad[i].where) CHECK(strstr(err.message, bad[i].where), "#%zu: message '%s' lacks '%s'", i, err.message, bad[i].where);
    }
    /* left recursion through a rule that only matches nothing: not caught by
     * llama.cpp's test, and its stacks would grow without end */
    const char *runaway = "root ::= a\na ::= b a \"y\" | \"x\"\nb ::= c\nc ::= \"\"\n";
    wl_error rerr = {0};
    wl_grammar *rg = wl_grammar_new(runaway, (int)strlen(runaway), v, &rerr);
    CHECK(!rg && rerr.code == WL_ERR_BAD_GRAMMAR && strstr(rerr.message, "without end"), "runaway: %s", rerr.message);
    wl_grammar_free(rg);
    const char nul[] = "root ::= \"a\0\"";
    wl_error err = {0};
    CHECK(!wl_grammar_new(nul, (int)sizeof nul - 1, v, &err) && strstr(err.message, "NUL"), "NUL: %s", err.message);
    wl_vocab_free(v);
}

static void test_strings(void) {
    static const struct { const char *gbnf, *text; int ok; } cases[] = {
        {"root ::= \"abc\"", "abc", 1},
        {"root ::= \"abc\"", "ab", 0},
        {"root ::= \"abc\"", "abcd", 0},
        {"root ::= [a-c]+ # comment\n", "abccba", 1},
        {"root ::= [a-c]+", "", 0},
        {"root ::= [^a-c]*", "xyz", 1},
        {"root ::= [^a-c]*", "xaz", 0},
        {"root ::= \"a\" | \"b\" (\"c\" | \"d\")", "bd", 1},
        {"root ::= \"a\" | \"b\" (\"c\" | \"d\")", "ac", 0},
        {"root ::= x{2,3}\nx ::= \"ab\"", "abab", 1},
        {"root ::= x{2,3}\nx ::= \"ab\"", "ababab", 1},
        {"root ::= x{2,3}\nx ::= \"ab\"", "abababab", 0},
        {"root ::= x{2,3}\nx ::= \"ab\"", "ab", 0},
        {"root ::= \"a\"{2,}", "aaaaa", 1},
        {"root ::= \"a\"{0}", "", 1},
        {"root ::= \"a\"? \"b\"", "b", 1},
        {"root ::= . . \".\"", "é€.", 1},
        {"root ::= [\\u00e0-\\u00ff]", "é", 1},
        {"root ::= [\\u00e0-\\u00ff]", "e", 0},
        {"root ::= \"\\x41\\n\\t\\\"\\\\\"", "A\n\t\"\\", 1},
        {"root ::= [\\]\\[-]+", "][-", 1},
        {"root ::= [a-]+", "a-a", 1},
        {"root ::= (\n  \"a\"\n  | \"b\"\n)", "b", 1},
        {"root ::= list\nlist ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= [0-9]+", "[1,22,333]", 1},
        {"root ::= list\nlist ::= \"[\" (item (\",\" item)*)? \"]\"\nitem ::= [0-9]+", "[1,]", 0},
        {"root ::= (\" \"?)* \"x\"", "  x", 1},
        {"root ::= [🙂-🙃]", "🙃", 1},
        {"root ::= \"a\"\nroot ::= \"b\"", "b", 1}, /* the last definition wins */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const int got = matches(cases[i].gbnf, cases[i].text);
        CHECK(got == cases[i].ok, "#%zu: %s on '%s': %d, expected %d", i, cases[i].gbnf, cases[i].text, got, cases[i].ok);
    }
}

static int allowed(wl_matcher *m, int id, int n_vocab) {
    uint32_t bits[64] = {0};
    if (n_vocab > 64 * 32) return -1;
    if (wl_matcher_fill_mask(m, bits, NULL) < 0) return -1;
    return (bits[id >> 5] >> (id & 31)) & 1;
}

/* A character split over tokens: the first byte is allowed where some
 * completion could match; the next token must continue it. */
static void test_utf8_split(void) {
    const char *toks[] = {"\xC3", "\xA9", "é", "e", "\xA9x", "\xC3\xA9\xC3", "\x80"};
    wl_vocab *v = vocab_of(toks, 7, 1);
    const char *gbnf = "root ::= \"é\"+";
    wl_grammar *g = wl_grammar_new(gbnf, (int)strlen(gbnf), v, NULL);
    wl_matcher *m = wl_matcher_new(g, NULL);
    CHECK(allowed(m, 0, 8) == 1 && allowed(m, 2, 8) == 1 && allowed(m, 5, 8) == 1, "lead byte, whole char, char + lead");
    CHECK(allowed(m, 1, 8) == 0 && allowed(m, 3, 8) == 0 && allowed(m, 6, 8) == 0, "continuation or other char");
    CHECK(allowed(m, 7, 8) == 0, "end before any char");
    CHECK(wl_matcher_accept(m, 0, NULL) == WL_OK, "accept lead byte");
    CHECK(allowed(m, 1, 8) == 1 && allowed(m, 4, 8) == 0, "continuation, continuation + x");
    CHECK(allowed(m, 2, 8) == 0 && allowed(m, 0, 8) == 0 && allowed(m, 7, 8) == 0, "a new char while one is open");
    CHECK(wl_matcher_accept(m, 1, NULL) == WL_OK && allowed(m, 7, 8) == 1, "end after the char");
    wl_matcher_free(m);
    wl_grammar_free(g);
    /* a negated class: llama.cpp refuses a lead byte whose completions include an excluded char */
    const char *neg = "root ::= [^é]";
    g = wl_grammar_new(neg, (int)strlen(neg), v, NULL);
    m = wl_matcher_new(g, NULL);
    CHECK(allowed(m, 0, 8) == 0 && allowed(m, 3, 8) == 1 && allowed(m, 2, 8) == 0, "negated class and partial chars");
    wl_matcher_free(m);
    wl_grammar_free(g);
    wl_vocab_free(v);
}

/* The sampler under a grammar and logit biases: only allowed tokens, the
 * best of them greedy, -inf bans, -2 when nothing is left, -3 on a
 * vocabulary of another size. */
static void test_sampler_constraints(void) {
    const char *toks[] = {"a", "b", "ab", "c"};
    wl_vocab *v = vocab_of(toks, 4, 1);
    const char *gbnf = "root ::= \"ab\"";
    wl_grammar *g = wl_grammar_new(gbnf, (int)strlen(gbnf), v, NULL);
    wl_matcher *m = wl_matcher_new(g, NULL);
    wl_sampler *s = wl_sampler_new(0.0f, 0, 1.0f, 0.0f, 1.0f, 0, 0.0f, 0.0f, 1);
    const float logits[5] = {1.0f, 3.0f, 2.0f, 9.0f, 8.0f};
    CHECK(wl_sampler_sample(s, logits, 5) == 3, "no constraint: the argmax");
    wl_sampler_set_matcher(s, m);
    CHECK(wl_sampler_sample(s, logits, 5) == 2, "grammar: 'ab' is the best allowed token");
    const int32_t ban[1] = {2};
    const float minus_inf[1] = {-INFINITY};
    CHECK(wl_sampler_set_bias(s, ban, minus_inf, 1, NULL) == WL_OK, "set bias");
    CHECK(wl_sampler_sample(s, logits, 5) == 0, "'ab' banned: 'a'");
    CHECK(wl_sampler_sample(s, logits, 4) == -3 && strstr(wl_sampler_error(s)->message, "vocabulary"), "size mismatch");
    CHECK(wl_matcher_accept(m, 0, NULL) == WL_OK && wl_sampler_sample(s, logits, 5) == 1, "after 'a': 'b'");
    CHECK(wl_matcher_accept(m, 1, NULL) == WL_OK && wl_matcher_done(m), "done after 'ab'");
    CHECK(wl_sampler_sample(s, logits, 5) == 4, "only the end token is left");
    const int32_t ban_end[1] = {4};
    CHECK(wl_sampler_set_bias(s, ban_end, minus_inf, 1, NULL) == WL_OK && wl_sampler_sample(s, logits, 5) == -2,
          "end banned too: nothing left");
    wl_sampler_set_matcher(s, NULL);
    const int32_t push_b[1] = {1};
    const float plus[1] = {7.0f};
    CHECK(wl_sampler_set_bias(s, push_b, plus, 1, NULL) == WL_OK && wl_sampler_sample(s, logits, 5) == 1, "bias alone");
    wl_sampler_free(s);
    wl_matcher_free(m);
    wl_grammar_free(g);
    wl_vocab_free(v);
}

/* ---- fast mask vs its scalar twin ---- */

static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
    rng_state = rng_state * 1664525u + 1013904223u;
    return rng_state >> 8;
}

static const char JSON_GBNF[] =
    "root ::= object\n"
    "value ::= object | array | string | number | (\"true\" | \"false\" | \"null\") ws\n"
    "object ::= \"{\" ws ( string \":\" ws value (\",\" ws string \":\" ws value)* )? \"}\" ws\n"
    "array ::= \"[\" ws ( value (\",\" ws value)* )? \"]\" ws\n"
    "string ::= \"\\\"\" ( [^\"\\\\\\x7F\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) )* \"\\\"\" ws\n"
    "number ::= (\"-\"? ([0-9] | [1-9] [0-9]{0,15})) (\".\" [0-9]+)? ([eE] [-+]? [0-9]{1,3})? ws\n"
    "ws ::= | \" \" | \"\\n\" [ \\t]{0,20}\n";

static const char *const GRAMMARS[] = {
    JSON_GBNF,
    "root ::= (\"ab\" | \"a\" [b-d]* \"é\" | [^a]{2,5} \"€\")+ \"!\"",
    "root ::= x*\nx ::= \"\\\"\" [^\"]* \"\\\"\" | [0-9]+ \",\"",
    "root ::= .{1,40}",
    "root ::= \"yes\" | \"no\" | \"maybe not\"",
};

/* Tokens: random pieces of JSON-ish text, random UTF-8 and random bytes
 * (invalid sequences and stray continuation bytes included). */
static wl_vocab *random_vocab(int n, int *n_vocab) {
    static const char *pieces[] = {"{", "}", "[", "]", "\"", ":", ",", " ", "\n", "  ", "\\", "u", "n", "a", "b",
                                   "ab", "true", "null", "1", "0", "-", ".", "e", "é", "€", "!", "x", "\"}", "\":",
                                   "\",", "\":\"", "{\"", "\t", "12", "3.", "🙂", "ok", "yes", "no", " maybe"};
    const int n_pieces = (int)(sizeof pieces / sizeof *pieces);
    uint8_t *bytes = malloc((size_t)n * 16), *kinds = malloc((size_t)n + 2);
    uint32_t *off = malloc(((size_t)n + 3) * sizeof *off);
    uint32_t at = 0;
    for (int i = 0; i < n; i++) {
        off[i] = at;
        kinds[i] = 0;
        const int parts = 1 + (int)(rnd() % 3);
        for (int k = 0; k < parts && at - off[i] < 12; k++) {
            if (rnd() % 8 == 0) {
                bytes[at++] = (uint8_t)(1 + rnd() % 255);
            } else {
                const char *p = pieces[rnd() % n_pieces];
                const size_t l = strlen(p);
                if (at - off[i] + l > 15) break;
                memcpy(bytes + at, p, l);
                at += (uint32_t)l;
            }
        }
        if (i % 97 == 5) kinds[i] = 1;
    }
    off[n] = at, kinds[n] = 2;
    off[n + 1] = at, kinds[n + 1] = 2;
    off[n + 2] = at;
    *n_vocab = n + 2;
    wl_vocab *v = wl_vocab_new(bytes, off, kinds, n + 2, NULL);
    free(bytes), free(kinds), free(off);
    return v;
}

static void test_mask_vs_twin(void) {
    int n_vocab;
    wl_vocab *v = random_vocab(3000, &n_vocab);
    const int n_words = (n_vocab + 31) / 32;
    uint32_t *fast = malloc((size_t)n_words * 4), *ref = malloc((size_t)n_words * 4);
    for (size_t gi = 0; gi < sizeof GRAMMARS / sizeof *GRAMMARS; gi++) {
        wl_error err = {0};
        wl_grammar *g = wl_grammar_new(GRAMMARS[gi], (int)strlen(GRAMMARS[gi]), v, &err);
        CHECK(g, "grammar %zu: %s", gi, err.message);
        if (!g) continue;
        for (int run = 0; run < 6; run++) {
            wl_matcher *m = wl_matcher_new(g, NULL);
            for (int stepno = 0; stepno < 60; stepno++) {
                const int a = wl_matcher_fill_mask(m, fast, &err), b = wl_matcher_fill_mask_ref(m, ref, &err);
                CHECK(a == b && memcmp(fast, ref, (size_t)n_words * 4) == 0,
                      "grammar %zu run %d step %d: fast mask (%d tokens) != twin (%d)", gi, run, stepno, a, b);
                if (a <= 0) break;
                /* a random allowed token (an end token stops the run) */
                int pick = (int)(rnd() % (uint32_t)a), id = -1;
                for (int i = 0; i < n_vocab && id < 0; i++)
                    if ((ref[i >> 5] >> (i & 31)) & 1 && pick-- == 0) id = i;
                if (id >= n_vocab - 2) break;
                CHECK(wl_matcher_accept(m, id, &err) == WL_OK, "grammar %zu: allowed token %d refused: %s", gi, id, err.message);
            }
            wl_matcher_free(m);
        }
        wl_grammar_free(g);
    }
    free(fast), free(ref);
    wl_vocab_free(v);
}

int main(void) {
    test_parse_errors();
    test_strings();
    test_utf8_split();
    test_sampler_constraints();
    test_mask_vs_twin();
    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("test_grammar: ok\n");
    return 0;
}
