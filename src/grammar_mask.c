/* Which tokens a grammar allows next. llama.cpp checks every token against
 * every stack each step; here the vocabulary is a byte trie (tokens sorted
 * by bytes, nodes in depth-first order), walked with the set of stacks, so
 * tokens that share a prefix share its steps and a dead prefix skips its
 * whole subtree.
 *
 * Most of a mask does not depend on the whole stack: a token that is used up
 * inside the top few frames (rule positions) of a stack is allowed or not
 * whatever lies below them. Per truncated stack (its top TRUNC_FRAMES frames
 * over a sentinel) the walk is done once and cached: tokens accepted inside
 * the frames, and the "context-dependent" ones that went below them, which
 * each step then checks against the full stacks with a walk that only enters
 * subtrees holding such tokens (XGrammar's split). */
#include <stdlib.h>
#include <string.h>

#include "grammar.h"
#include "wasmllm.h"

#define TRUNC_FRAMES 3
#define STATE_CACHE 64 /* whole masks kept per set of stacks (16 KB each for 128k tokens) */

enum { KIND_TEXT = 0, KIND_NEVER = 1, KIND_END = 2 };

struct wl_vocab {
    int n_vocab;
    uint8_t *kind;
    uint8_t *bytes;     /* token id's bytes: bytes[off[id] .. off[id + 1]) */
    uint32_t *off;
    uint32_t n_text;    /* tokens in the trie */
    uint32_t *sorted;   /* trie order -> token id */
    uint32_t n_nodes;   /* trie nodes in depth-first order; node 0 is the root */
    uint8_t *t_byte;    /* the byte on the edge into the node */
    uint32_t *t_size;   /* nodes in its subtree, itself included */
    uint32_t *t_tok;    /* first trie-order token of its subtree (n_nodes + 1 entries) */
    uint32_t max_len;
    uint32_t *end_ids;  /* the end-of-generation tokens */
    uint32_t n_end;
};

/* ---- the vocabulary trie ---- */

/* Orders tokens by bytes, shorter first, then by id. key[id] holds a
 * token's first four bytes big-endian (0 past its end: tokens hold no NUL),
 * so most comparisons are one integer compare. */
static int token_less(const wl_vocab *v, const uint32_t *key, uint32_t a, uint32_t b) {
    if (key[a] != key[b]) return key[a] < key[b];
    const uint32_t la = v->off[a + 1] - v->off[a], lb = v->off[b + 1] - v->off[b];
    if (la > 4 && lb > 4) {
        const uint32_t l = (la < lb ? la : lb) - 4;
        const int c = memcmp(v->bytes + v->off[a] + 4, v->bytes + v->off[b] + 4, l);
        if (c != 0) return c < 0;
    }
    if (la != lb) return la < lb;
    return a < b;
}

/* Bottom-up merge sort of ids by their bytes (qsort has no context). */
static int sort_tokens(const wl_vocab *v, uint32_t *ids, uint32_t n) {
    uint32_t *tmp = malloc((n ? n : 1) * sizeof *tmp), *key = malloc((size_t)v->n_vocab * sizeof *key);
    if (!tmp || !key) {
        free(tmp), free(key);
        return 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        const uint32_t id = ids[i], len = v->off[id + 1] - v->off[id];
        const uint8_t *t = v->bytes + v->off[id];
        uint32_t k = 0;
        for (uint32_t j = 0; j < 4; j++) k = k << 8 | (j < len ? t[j] : 0u);
        key[id] = k;
    }
    uint32_t *src = ids, *dst = tmp;
    for (uint32_t w = 1; w < n; w *= 2) {
        for (uint32_t lo = 0; lo < n; lo += 2 * w) {
            const uint32_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            uint32_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = token_less(v, key, src[j], src[i]) ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        uint32_t *t = src;
        src = dst, dst = t;
    }
    if (src != ids) memcpy(ids, src, n * sizeof *ids);
    free(tmp);
    free(key);
    return 1;
}

static int build_trie(wl_vocab *v) {
    uint64_t total = 1;
    for (uint32_t i = 0; i < v->n_text; i++) total += v->off[v->sorted[i] + 1] - v->off[v->sorted[i]];
    if (total > 0xfffffff0u) return 0;
    v->t_byte = malloc(total);
    v->t_size = malloc(total * sizeof *v->t_size);
    v->t_tok = malloc((total + 1) * sizeof *v->t_tok);
    uint32_t *path = malloc(((size_t)v->max_len + 1) * sizeof *path);
    if (!v->t_byte || !v->t_size || !v->t_tok || !path) {
        free(path);
        return 0;
    }
    uint32_t n = 0, depth = 0;
    v->t_byte[0] = 0, v->t_tok[0] = 0, path[0] = n++;
    const uint8_t *prev = NULL;
    uint32_t prev_len = 0;
    for (uint32_t i = 0; i < v->n_text; i++) {
        const uint32_t id = v->sorted[i];
        const uint8_t *t = v->bytes + v->off[id];
        const uint32_t len = v->off[id + 1] - v->off[id];
        uint32_t l = 0;
        while (prev && l < len && l < prev_len && t[l] == prev[l]) l++;
        for (; depth > l; depth--) v->t_size[path[depth]] = n - path[depth];
        for (; depth < len; depth++) {
            v->t_byte[n] = t[depth], v->t_tok[n] = i;
            path[depth + 1] = n++;
        }
        prev = t, prev_len = len;
    }
    for (;; depth--) {
        v->t_size[path[depth]] = n - path[depth];
        if (depth == 0) break;
    }
    v->t_tok[n] = v->n_text;
    v->n_nodes = n;
    free(path);
    /* the bound above counted every byte of every token; shared prefixes made fewer nodes */
    uint8_t *b = realloc(v->t_byte, n);
    uint32_t *z = realloc(v->t_size, n * sizeof *z), *t = realloc(v->t_tok, (n + 1) * sizeof *t);
    if (b) v->t_byte = b;
    if (z) v->t_size = z;
    if (t) v->t_tok = t;
    return 1;
}

wl_vocab *wl_vocab_new(const uint8_t *bytes, const uint32_t *offsets, const uint8_t *kinds, int n_vocab,
                       wl_error *err) {
    if (!bytes || !offsets || !kinds || n_vocab <= 0 || n_vocab > (1 << 26)) {
        wl_fail(err, WL_ERR_BAD_ARG, "wl_vocab_new: bad arguments (n_vocab %d)", n_vocab);
        return NULL;
    }
    for (int i = 0; i < n_vocab; i++) {
        if (offsets[i + 1] < offsets[i]) {
            wl_fail(err, WL_ERR_BAD_ARG, "wl_vocab_new: offsets decrease at token %d", i);
            return NULL;
        }
    }
    wl_vocab *v = calloc(1, sizeof *v);
    if (!v) goto oom;
    v->n_vocab = n_vocab;
    v->kind = malloc((size_t)n_vocab);
    v->off = malloc(((size_t)n_vocab + 1) * sizeof *v->off);
    v->bytes = malloc(offsets[n_vocab] ? offsets[n_vocab] : 1);
    v->sorted = malloc((size_t)n_vocab * sizeof *v->sorted);
    v->end_ids = malloc((size_t)n_vocab * sizeof *v->end_ids);
    if (!v->kind || !v->off || !v->bytes || !v->sorted || !v->end_ids) goto oom;
    uint32_t at = 0;
    for (int i = 0; i < n_vocab; i++) {
        /* llama.cpp reads pieces as C strings: a NUL ends a token, and one
         * that starts with NUL (or is empty) is never allowed */
        const uint8_t *p = bytes + offsets[i];
        const uint8_t *nul = memchr(p, 0, offsets[i + 1] - offsets[i]);
        const uint32_t len = nul ? (uint32_t)(nul - p) : offsets[i + 1] - offsets[i];
        v->off[i] = at;
        v->kind[i] = kinds[i] > KIND_END ? KIND_NEVER : kinds[i];
        if (v->kind[i] == KIND_END) v->end_ids[v->n_end++] = (uint32_t)i;
        if (v->kind[i] != KIND_TEXT) continue;
        if (len == 0) {
            v->kind[i] = KIND_NEVER;
            continue;
        }
        memcpy(v->bytes + at, p, len);
        at += len;
        v->sorted[v->n_text++] = (uint32_t)i;
        if (len > v->max_len) v->max_len = len;
    }
    v->off[n_vocab] = at;
    if (!sort_tokens(v, v->sorted, v->n_text) || !build_trie(v)) goto oom;
    return v;
oom:
    wl_vocab_free(v);
    wl_fail(err, WL_ERR_OOM, "out of memory building the vocabulary trie (%d tokens)", n_vocab);
    return NULL;
}

void wl_vocab_free(wl_vocab *v) {
    if (!v) return;
    free(v->kind), free(v->bytes), free(v->off), free(v->sorted), free(v->end_ids);
    free(v->t_byte), free(v->t_size), free(v->t_tok);
    free(v);
}

double wl_vocab_bytes(const wl_vocab *v) {
    return (double)v->n_vocab * 13 + v->off[v->n_vocab] + (double)v->n_nodes * 9;
}

/* ---- grammars bound to a vocabulary ---- */

typedef struct {
    uint32_t key;      /* truncated stack (a node) */
    uint32_t n_acc;    /* tokens accepted inside it */
    uint32_t *acc;     /* their ids, or NULL when acc_bits holds them */
    uint32_t *acc_bits;
    uint32_t n_cd;     /* ranges of trie-order tokens that went below it (lo, hi pairs) */
    uint32_t *cd;
} ci_entry;

typedef struct {
    uint32_t node, set, next; /* trie node, stacks after its bytes, next child to visit */
    wl_utf8_state u;
} frame;

typedef struct {
    uint32_t *v;
    size_t n, cap;
} u32list;

struct wl_grammar {
    wl_grules rules;
    wl_gstacks *stacks;
    const wl_vocab *vocab;
    uint32_t initial;
    int n_words;
    ci_entry *ci;
    uint32_t n_ci, cap_ci;
    uint32_t *ci_slots, ci_mask;
    frame *frames;
    u32list acc, cd, cand; /* walk outputs and a step's candidates: trie-order ranges as (lo, hi) pairs */
    size_t ci_bytes;
    /* whole masks of recent sets of stacks, direct-mapped: inside a string
     * or a number the set after each character is the same one */
    uint32_t state_key[STATE_CACHE];
    int state_count[STATE_CACHE];
    uint32_t *state_bits; /* STATE_CACHE x n_words */
};

struct wl_matcher {
    wl_grammar *g;
    uint32_t set;
    wl_utf8_state u; /* a character the last token left open */
};

static int u32_push(u32list *l, uint32_t x) {
    if (l->n == l->cap) {
        const size_t cap = l->cap ? l->cap * 2 : 256;
        uint32_t *v = realloc(l->v, cap * sizeof *v);
        if (!v) return 0;
        l->v = v, l->cap = cap;
    }
    l->v[l->n++] = x;
    return 1;
}

/* Appends [lo, hi) to a list of ranges, merging with the last one. */
static int add_range(u32list *l, uint32_t lo, uint32_t hi) {
    if (lo == hi) return 1;
    if (l->n >= 2 && l->v[l->n - 1] == lo) {
        l->v[l->n - 1] = hi;
        return 1;
    }
    return u32_push(l, lo) && u32_push(l, hi);
}

enum { MODE_FULL, MODE_TRUNC };

/* Nodes of the trie below `at` hold trie-order tokens [t_tok[at], t_tok[at + size]). */
static uint32_t sub_lo(const wl_vocab *v, uint32_t at) { return v->t_tok[at]; }
static uint32_t sub_hi(const wl_vocab *v, uint32_t at) { return v->t_tok[at + v->t_size[at]]; }
static uint32_t ends_here(const wl_vocab *v, uint32_t at) {
    return (v->t_size[at] > 1 ? v->t_tok[at + 1] : sub_hi(v, at)) - v->t_tok[at];
}

static int only_escaped(const wl_gstacks *s, uint32_t set) {
    uint32_t n;
    const uint32_t *it = wl_gstacks_items(s, set, &n);
    return n == 1 && it[0] == WL_NODE_ESCAPED;
}

static int has_below(const wl_gstacks *s, uint32_t set) {
    return wl_gstacks_has(s, set, WL_NODE_SENTINEL) || wl_gstacks_has(s, set, WL_NODE_ESCAPED);
}

/* Walks the trie from the stacks `set0` (with u0 a character left open).
 * Accepted tokens go to g->acc as trie-order ranges; in MODE_TRUNC, tokens
 * whose answer depends on the stack below the sentinel go to g->cd. With
 * cand (sorted, disjoint ranges), only subtrees that overlap one are entered.
 * Returns 0 when the matcher failed (memory, a runaway grammar). */
static int walk(wl_grammar *g, uint32_t set0, wl_utf8_state u0, int mode, const u32list *cand) {
    const wl_vocab *v = g->vocab;
    wl_gstacks *s = g->stacks;
    g->acc.n = g->cd.n = 0;
    size_t cur = 0; /* first candidate range not yet passed */
    int depth = 0;
    g->frames[0] = (frame){.node = 0, .set = set0, .next = 1, .u = u0};
    while (depth >= 0) {
        frame *f = &g->frames[depth];
        if (f->next >= f->node + v->t_size[f->node]) {
            depth--;
            continue;
        }
        const uint32_t c = f->next;
        f->next = c + v->t_size[c];
        const uint32_t lo = sub_lo(v, c), hi = sub_hi(v, c);
        if (cand) {
            while (cur < cand->n && cand->v[cur + 1] <= lo) cur += 2;
            if (cur == cand->n || cand->v[cur] >= hi) continue;
        }
        wl_utf8_state u = f->u;
        uint32_t set = f->set, cp;
        if (wl_utf8_feed(&u, v->t_byte[c], &cp)) {
            set = wl_gstacks_step(s, set, cp);
            if (set == WL_G_NONE) return 0;
        }
        if (u.n_remain < 0 || set == WL_SET_DEAD) continue;
        if (mode == MODE_TRUNC && only_escaped(s, set)) {
            if (!add_range(&g->cd, lo, hi)) return 0;
            continue;
        }
        const uint32_t ne = ends_here(v, c);
        if (ne) {
            int verdict; /* 1 accepted, 2 depends on the stack below, 0 rejected */
            if (u.n_remain == 0) verdict = 1;
            else if (wl_gstacks_partial_ok(s, set, u.value, u.n_remain)) verdict = 1;
            else verdict = mode == MODE_TRUNC && has_below(s, set) ? 2 : 0;
            if (verdict && !add_range(verdict == 1 ? &g->acc : &g->cd, lo, lo + ne)) return 0;
        }
        if (v->t_size[c] > 1) {
            depth++;
            g->frames[depth] = (frame){.node = c, .set = set, .next = c + 1, .u = u};
        }
    }
    return 1;
}

static void set_bit(uint32_t *bits, uint32_t id) { bits[id >> 5] |= 1u << (id & 31); }

static void set_ranges(const wl_vocab *v, const u32list *ranges, uint32_t *bits) {
    for (size_t r = 0; r < ranges->n; r += 2)
        for (uint32_t i = ranges->v[r]; i < ranges->v[r + 1]; i++) set_bit(bits, v->sorted[i]);
}

static uint32_t ci_hash_key(uint32_t key) { return key * 0x9e3779b1u; }
static uint32_t ci_hash(const void *ctx, uint32_t e) { return ci_hash_key(((const wl_grammar *)ctx)->ci[e].key); }

static int rehash_ci(wl_grammar *g, uint32_t n_slots) {
    return wl_id_table(&g->ci_slots, &g->ci_mask, n_slots, 0, g->n_ci, ci_hash, g);
}

/* The cached walk of a truncated stack; computed on first use. */
static const ci_entry *ci_get(wl_grammar *g, uint32_t key) {
    uint32_t h = ci_hash_key(key) & g->ci_mask;
    for (; g->ci_slots[h] != WL_G_NONE; h = (h + 1) & g->ci_mask)
        if (g->ci[g->ci_slots[h]].key == key) return &g->ci[g->ci_slots[h]];
    const uint32_t set = wl_gstacks_singleton(g->stacks, key);
    if (set == WL_G_NONE || !walk(g, set, (wl_utf8_state){0}, MODE_TRUNC, NULL)) return NULL;
    ci_entry e = {.key = key};
    for (size_t r = 0; r < g->acc.n; r += 2) e.n_acc += g->acc.v[r + 1] - g->acc.v[r];
    e.n_cd = (uint32_t)g->cd.n;
    const wl_vocab *v = g->vocab;
    if (e.n_acc > (uint32_t)v->n_vocab / 32) {
        e.acc_bits = calloc((size_t)g->n_words, sizeof *e.acc_bits);
        if (!e.acc_bits) return NULL;
        set_ranges(v, &g->acc, e.acc_bits);
        g->ci_bytes += (size_t)g->n_words * 4;
    } else if (e.n_acc) {
        e.acc = malloc(e.n_acc * sizeof *e.acc);
        if (!e.acc) return NULL;
        uint32_t k = 0;
        for (size_t r = 0; r < g->acc.n; r += 2)
            for (uint32_t i = g->acc.v[r]; i < g->acc.v[r + 1]; i++) e.acc[k++] = v->sorted[i];
        g->ci_bytes += e.n_acc * 4;
    }
    if (e.n_cd) {
        e.cd = malloc(e.n_cd * sizeof *e.cd);
        if (!e.cd) {
            free(e.acc), free(e.acc_bits);
            return NULL;
        }
        memcpy(e.cd, g->cd.v, e.n_cd * sizeof *e.cd);
        g->ci_bytes += e.n_cd * 4;
    }
    if (g->n_ci == g->cap_ci) {
        const uint32_t cap = g->cap_ci ? g->cap_ci * 2 : 64;
        ci_entry *ci = realloc(g->ci, cap * sizeof *ci);
        if (!ci) {
            free(e.acc), free(e.acc_bits), free(e.cd);
            return NULL;
        }
        g->ci = ci, g->cap_ci = cap;
    }
    g->ci[g->n_ci++] = e;
    if (g->n_ci * 2 > g->ci_mask + 1) {
        if (!rehash_ci(g, (g->ci_mask + 1) * 2)) return NULL;
    } else {
        g->ci_slots[h] = g->n_ci - 1;
    }
    return &g->ci[g->n_ci - 1];
}

wl_grammar *wl_grammar_new(const char *text, int len, const wl_vocab *vocab, wl_error *err) {
    if (!vocab || len < 0 || (!text && len)) {
        wl_fail(err, WL_ERR_BAD_ARG, "wl_grammar_new: bad arguments");
        return NULL;
    }
    wl_grammar *g = calloc(1, sizeof *g);
    if (!g) {
        wl_fail(err, WL_ERR_OOM, "out of memory for a grammar");
        return NULL;
    }
    if (wl_grammar_parse(text, (size_t)len, &g->rules, err) != WL_OK) {
        free(g);
        return NULL;
    }
    g->vocab = vocab;
    g->n_words = (vocab->n_vocab + 31) / 32;
    g->stacks = wl_gstacks_new(&g->rules);
    g->frames = malloc(((size_t)vocab->max_len + 2) * sizeof *g->frames);
    if (!g->stacks || !g->frames || !rehash_ci(g, 64)) {
        wl_grammar_free(g);
        wl_fail(err, WL_ERR_OOM, "out of memory for a grammar");
        return NULL;
    }
    g->initial = wl_gstacks_initial(g->stacks);
    if (g->initial == WL_G_NONE) {
        wl_fail(err, WL_ERR_BAD_GRAMMAR, "%s", wl_gstacks_error(g->stacks));
        wl_grammar_free(g);
        return NULL;
    }
    return g;
}

void wl_grammar_free(wl_grammar *g) {
    if (!g) return;
    for (uint32_t e = 0; e < g->n_ci; e++) free(g->ci[e].acc), free(g->ci[e].acc_bits), free(g->ci[e].cd);
    free(g->ci), free(g->ci_slots), free(g->frames), free(g->state_bits);
    free(g->acc.v), free(g->cd.v), free(g->cand.v);
    wl_gstacks_free(g->stacks);
    wl_grules_free(&g->rules);
    free(g);
}

double wl_grammar_bytes(const wl_grammar *g) {
    return (double)wl_gstacks_bytes(g->stacks) + (double)g->ci_bytes + (double)g->cap_ci * sizeof(ci_entry) +
           (g->state_bits ? (double)STATE_CACHE * g->n_words * 4 : 0) +
           (double)g->rules.n_elems * sizeof(wl_gelem);
}

/* ---- matchers: one generation's position in a grammar ---- */

wl_matcher *wl_matcher_new(wl_grammar *g, wl_error *err) {
    wl_matcher *m = g ? calloc(1, sizeof *m) : NULL;
    if (!m) {
        wl_fail(err, g ? WL_ERR_OOM : WL_ERR_BAD_ARG, "cannot make a grammar matcher");
        return NULL;
    }
    m->g = g;
    m->set = g->initial;
    return m;
}

void wl_matcher_free(wl_matcher *m) { free(m); }

int wl_matcher_can_end(const wl_matcher *m) {
    return m->u.n_remain == 0 && wl_gstacks_has(m->g->stacks, m->set, WL_NODE_EMPTY);
}

int wl_matcher_n_vocab(const wl_matcher *m) { return m->g->vocab->n_vocab; }

int wl_matcher_done(const wl_matcher *m) {
    uint32_t n;
    const uint32_t *it = wl_gstacks_items(m->g->stacks, m->set, &n);
    return n == 1 && it[0] == WL_NODE_EMPTY;
}

/* The stacks after a token's bytes (WL_SET_DEAD if they do not match), as
 * llama.cpp reads them; *u carries the character left open. */
static uint32_t run_bytes(wl_grammar *g, uint32_t set, wl_utf8_state *u, const uint8_t *b, uint32_t n) {
    for (uint32_t i = 0; i < n && set != WL_SET_DEAD && set != WL_G_NONE; i++) {
        uint32_t cp;
        if (wl_utf8_feed(u, b[i], &cp)) set = wl_gstacks_step(g->stacks, set, cp);
        if (u->n_remain < 0) return WL_SET_DEAD;
    }
    return set;
}

int wl_matcher_accept(wl_matcher *m, int32_t token, wl_error *err) {
    const wl_vocab *v = m->g->vocab;
    if (token < 0 || token >= v->n_vocab) return wl_fail(err, WL_ERR_BAD_ARG, "token %d is not in the vocabulary", token);
    if (v->kind[token] == KIND_END) {
        if (wl_matcher_can_end(m)) return WL_OK;
        return wl_fail(err, WL_ERR_BAD_GRAMMAR, "end-of-generation token %d where the grammar cannot end", token);
    }
    if (v->kind[token] == KIND_NEVER) {
        return wl_fail(err, WL_ERR_BAD_GRAMMAR, "token %d (a control or empty token) never matches a grammar", token);
    }
    wl_utf8_state u = m->u;
    const uint32_t set = run_bytes(m->g, m->set, &u, v->bytes + v->off[token], v->off[token + 1] - v->off[token]);
    if (set == WL_G_NONE) return wl_fail(err, WL_ERR_BAD_GRAMMAR, "%s", wl_gstacks_error(m->g->stacks));
    if (set == WL_SET_DEAD) return wl_fail(err, WL_ERR_BAD_GRAMMAR, "token %d does not match the grammar here", token);
    m->set = set;
    m->u = u;
    m->u.checked = u.n_remain > 0;
    return WL_OK;
}

static int finish_mask(const wl_matcher *m, uint32_t *bits) {
    const wl_vocab *v = m->g->vocab;
    if (wl_matcher_can_end(m))
        for (uint32_t i = 0; i < v->n_end; i++) set_bit(bits, v->end_ids[i]);
    int count = 0;
    for (int w = 0; w < m->g->n_words; w++) count += __builtin_popcount(bits[w]);
    return count;
}

/* Orders (lo, hi) pairs by lo. */
static int cmp_range(const void *a, const void *b) {
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorts the ranges and merges those that overlap or touch. */
static void merge_ranges(u32list *l) {
    qsort(l->v, l->n / 2, 2 * sizeof *l->v, cmp_range);
    size_t m = 0;
    for (size_t i = 0; i < l->n; i += 2) {
        if (m > 0 && l->v[i] <= l->v[m - 1]) {
            if (l->v[i + 1] > l->v[m - 1]) l->v[m - 1] = l->v[i + 1];
        } else {
            l->v[m] = l->v[i], l->v[m + 1] = l->v[i + 1];
            m += 2;
        }
    }
    l->n = m;
}

static int matcher_failed(wl_matcher *m, wl_error *err) {
    const char *why = wl_gstacks_error(m->g->stacks);
    wl_fail(err, strncmp(why, "out of memory", 13) == 0 ? WL_ERR_OOM : WL_ERR_BAD_GRAMMAR, "%s", why);
    return -1;
}

int wl_matcher_fill_mask(wl_matcher *m, uint32_t *bits, wl_error *err) {
    wl_grammar *g = m->g;
    memset(bits, 0, (size_t)g->n_words * sizeof *bits);
    if (m->u.n_remain != 0) {
        /* a character is open: only its continuation bytes can follow, a
         * short walk that is not worth caching */
        if (!walk(g, m->set, m->u, MODE_FULL, NULL)) return matcher_failed(m, err);
        set_ranges(g->vocab, &g->acc, bits);
        return finish_mask(m, bits);
    }
    const uint32_t slot = (m->set * 0x9e3779b1u) >> 26; /* 64 slots */
    if (g->state_bits && g->state_key[slot] == m->set) {
        memcpy(bits, g->state_bits + (size_t)slot * g->n_words, (size_t)g->n_words * sizeof *bits);
        return g->state_count[slot];
    }
    g->cand.n = 0;
    uint32_t n;
    wl_gstacks_items(g->stacks, m->set, &n);
    int sources = 0;
    for (uint32_t k = 0; k < n; k++) {
        uint32_t n_items;
        const uint32_t x = wl_gstacks_items(g->stacks, m->set, &n_items)[k]; /* re-read: ci_get may move items */
        if (x == WL_NODE_EMPTY) continue;
        const uint32_t key = wl_gstacks_truncated(g->stacks, x, TRUNC_FRAMES);
        const ci_entry *e = key == WL_G_NONE ? NULL : ci_get(g, key);
        if (!e) return matcher_failed(m, err);
        if (e->acc_bits) {
            for (int w = 0; w < g->n_words; w++) bits[w] |= e->acc_bits[w];
        } else {
            for (uint32_t i = 0; i < e->n_acc; i++) set_bit(bits, e->acc[i]);
        }
        if (e->n_cd) sources++;
        for (uint32_t i = 0; i < e->n_cd; i++)
            if (!u32_push(&g->cand, e->cd[i])) return matcher_failed(m, err);
    }
    if (g->cand.n) {
        if (sources > 1) merge_ranges(&g->cand);
        if (!walk(g, m->set, m->u, MODE_FULL, &g->cand)) return matcher_failed(m, err);
        set_ranges(g->vocab, &g->acc, bits);
    }
    const int count = finish_mask(m, bits);
    if (!g->state_bits) {
        g->state_bits = malloc((size_t)STATE_CACHE * g->n_words * sizeof *g->state_bits);
        memset(g->state_key, 0xff, sizeof g->state_key);
    }
    if (g->state_bits) {
        g->state_key[slot] = m->set;
        g->state_count[slot] = count;
        memcpy(g->state_bits + (size_t)slot * g->n_words, bits, (size_t)g->n_words * sizeof *bits);
    }
    return count;
}

/* The scalar twin: every token on its own through the stacks, no trie and
 * no cache. Tests compare the two masks. */
int wl_matcher_fill_mask_ref(wl_matcher *m, uint32_t *bits, wl_error *err) {
    wl_grammar *g = m->g;
    const wl_vocab *v = g->vocab;
    memset(bits, 0, (size_t)g->n_words * sizeof *bits);
    for (int id = 0; id < v->n_vocab; id++) {
        if (v->kind[id] != KIND_TEXT) continue;
        wl_utf8_state u = m->u;
        const uint32_t set = run_bytes(g, m->set, &u, v->bytes + v->off[id], v->off[id + 1] - v->off[id]);
        if (set == WL_G_NONE) return matcher_failed(m, err);
        if (set == WL_SET_DEAD) continue;
        if (u.n_remain == 0 || wl_gstacks_partial_ok(g->stacks, set, u.value, u.n_remain)) set_bit(bits, (uint32_t)id);
    }
    return finish_mask(m, bits);
}
