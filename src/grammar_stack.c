/* The pushdown matcher over parsed rules, in llama.cpp's terms: a stack is
 * rule positions with the next expected element on top; "expanding" it
 * replaces a rule reference on top by each alternative of the rule (with the
 * element after the reference below it), until every stack has a character
 * class on top or is empty (llama_grammar_advance_stack); a code point then
 * moves each stack whose class matches it past that class and expands again.
 *
 * Stacks are nodes (top position, node below) made once each, so a stack is
 * an id; sets of stacks (sorted ids) are made once each too, so "the set
 * after code point c" is remembered per (set, c) and a step that was taken
 * before is one hash lookup. */
#include <stdlib.h>
#include <string.h>

#include "grammar.h"

#define MAX_NODES (1u << 21) /* 40 MB of nodes */
#define MAX_EXPAND_WORK (1u << 18) /* stacks visited by one expansion */

typedef struct {
    uint32_t set, cp, to; /* cp: the code point's class (cp_class) */
} step_slot;

struct wl_gstacks {
    const wl_grules *g;
    const char *error;
    /* nodes */
    uint32_t *pos, *parent, *expanded, *trunc, *stamp;
    uint32_t n_nodes, cap_nodes, cur_stamp;
    uint32_t *node_slots, node_mask;
    /* sets: items[off[s] .. off[s] + len[s]) */
    uint32_t *items;
    size_t n_items, cap_items;
    uint32_t *off, *len;
    uint32_t n_sets, cap_sets;
    uint32_t *set_slots, set_mask;
    /* memoized steps: (set, code point class) -> set. Code points between
     * the same two boundaries of the grammar's classes match the same
     * classes, so they step alike: keying by class keeps the table to
     * sets x classes rather than sets x every character of the vocabulary. */
    step_slot *t;
    uint32_t t_mask, t_count;
    uint32_t *bounds; /* sorted class boundaries: a class is the code points from one to the next */
    uint32_t n_bounds;
    uint16_t ascii_class[128];
    /* scratch lists */
    uint32_t *ex, *un, *todo;
    size_t cap_ex, cap_un, cap_todo;
};

static uint32_t fail(wl_gstacks *s, const char *why) {
    if (!s->error) s->error = why;
    return WL_G_NONE;
}

static const char OOM[] = "out of memory in the grammar matcher";

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
    if (need <= *cap) return 1;
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q) return 0;
    *p = q;
    *cap = c;
    return 1;
}

static int list_push(uint32_t **l, size_t *cap, size_t *n, uint32_t v) {
    if (!grow((void **)l, cap, *n + 1, sizeof **l)) return 0;
    (*l)[(*n)++] = v;
    return 1;
}

static uint32_t mix(uint32_t a, uint32_t b) {
    uint32_t h = a * 0x9e3779b1u ^ (b + 0x7f4a7c15u) * 0x85ebca77u;
    h ^= h >> 15;
    h *= 0xc2b2ae3du;
    return h ^ (h >> 13);
}

static int is_seq_end(const wl_grules *g, uint32_t at) {
    const uint32_t t = g->elems[at].type;
    return t == WL_G_END || t == WL_G_ALT;
}

static int is_terminal(uint32_t type) {
    return type == WL_G_CHAR || type == WL_G_CHAR_NOT || type == WL_G_CHAR_ANY;
}

/* ---- nodes ---- */

int wl_id_table(uint32_t **slots, uint32_t *mask, uint32_t n_slots, uint32_t first, uint32_t count,
                uint32_t (*hash)(const void *ctx, uint32_t id), const void *ctx) {
    uint32_t *t = malloc(n_slots * sizeof *t);
    if (!t) return 0;
    memset(t, 0xff, n_slots * sizeof *t);
    for (uint32_t id = first; id < count; id++) {
        uint32_t h = hash(ctx, id) & (n_slots - 1);
        while (t[h] != WL_G_NONE) h = (h + 1) & (n_slots - 1);
        t[h] = id;
    }
    free(*slots);
    *slots = t;
    *mask = n_slots - 1;
    return 1;
}

static uint32_t node_hash(const void *ctx, uint32_t id) {
    const wl_gstacks *s = ctx;
    return mix(s->pos[id], s->parent[id]);
}

static int rehash_nodes(wl_gstacks *s, uint32_t n_slots) {
    return wl_id_table(&s->node_slots, &s->node_mask, n_slots, 3, s->n_nodes, node_hash, s);
}

static uint32_t add_node(wl_gstacks *s, uint32_t pos, uint32_t parent) {
    if (s->n_nodes >= MAX_NODES) return fail(s, "the grammar matcher holds too many stacks (over 2M)");
    if (s->n_nodes == s->cap_nodes) {
        const size_t cap = s->cap_nodes ? (size_t)s->cap_nodes * 2 : 1024;
        uint32_t **arrays[] = {&s->pos, &s->parent, &s->expanded, &s->trunc, &s->stamp};
        for (size_t k = 0; k < sizeof arrays / sizeof *arrays; k++) {
            uint32_t *q = realloc(*arrays[k], cap * sizeof *q);
            if (!q) return fail(s, OOM);
            *arrays[k] = q;
        }
        s->cap_nodes = (uint32_t)cap;
    }
    const uint32_t id = s->n_nodes++;
    s->pos[id] = pos;
    s->parent[id] = parent;
    s->expanded[id] = WL_G_NONE;
    s->trunc[id] = WL_G_NONE;
    s->stamp[id] = 0;
    return id;
}

static uint32_t make_node(wl_gstacks *s, uint32_t pos, uint32_t parent) {
    if ((s->n_nodes + 1) * 2 > s->node_mask + 1 && !rehash_nodes(s, (s->node_mask + 1) * 2)) return fail(s, OOM);
    uint32_t h = mix(pos, parent) & s->node_mask;
    for (;; h = (h + 1) & s->node_mask) {
        const uint32_t id = s->node_slots[h];
        if (id == WL_G_NONE) break;
        if (s->pos[id] == pos && s->parent[id] == parent) return id;
    }
    const uint32_t id = add_node(s, pos, parent);
    if (id != WL_G_NONE) s->node_slots[h] = id;
    return id;
}

/* ---- sets ---- */

static uint32_t hash_items(const uint32_t *v, size_t n) {
    uint32_t h = (uint32_t)n;
    for (size_t i = 0; i < n; i++) h = mix(h, v[i]);
    return h;
}

static uint32_t set_hash(const void *ctx, uint32_t id) {
    const wl_gstacks *s = ctx;
    return hash_items(s->items + s->off[id], s->len[id]);
}

static int rehash_sets(wl_gstacks *s, uint32_t n_slots) {
    return wl_id_table(&s->set_slots, &s->set_mask, n_slots, 1, s->n_sets, set_hash, s);
}

static int cmp_u32(const void *a, const void *b) {
    const uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Sorts and dedupes v[0..n) in place; returns the new length. */
static size_t sort_unique(uint32_t *v, size_t n) {
    if (n < 16) {
        for (size_t i = 1; i < n; i++) {
            const uint32_t x = v[i];
            size_t j = i;
            while (j > 0 && v[j - 1] > x) v[j] = v[j - 1], j--;
            v[j] = x;
        }
    } else {
        qsort(v, n, sizeof *v, cmp_u32);
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (m == 0 || v[m - 1] != v[i]) v[m++] = v[i];
    return m;
}

/* The id of the set holding v[0..n) (sorted, unique); made on first sight. */
static uint32_t intern(wl_gstacks *s, const uint32_t *v, size_t n) {
    if (n == 0) return WL_SET_DEAD;
    if ((s->n_sets + 1) * 2 > s->set_mask + 1 && !rehash_sets(s, (s->set_mask + 1) * 2)) return fail(s, OOM);
    uint32_t h = hash_items(v, n) & s->set_mask;
    for (;; h = (h + 1) & s->set_mask) {
        const uint32_t id = s->set_slots[h];
        if (id == WL_G_NONE) break;
        if (s->len[id] == n && memcmp(s->items + s->off[id], v, n * sizeof *v) == 0) return id;
    }
    if (s->n_sets == s->cap_sets) {
        const size_t cap = s->cap_sets ? (size_t)s->cap_sets * 2 : 256;
        uint32_t *off = realloc(s->off, cap * sizeof *off);
        if (off) s->off = off;
        uint32_t *len = realloc(s->len, cap * sizeof *len);
        if (len) s->len = len;
        if (!off || !len) return fail(s, OOM);
        s->cap_sets = (uint32_t)cap;
    }
    if (s->n_items + n > 0xffffffffu || !grow((void **)&s->items, &s->cap_items, s->n_items + n, sizeof *s->items))
        return fail(s, OOM);
    const uint32_t id = s->n_sets++;
    s->off[id] = (uint32_t)s->n_items;
    s->len[id] = (uint32_t)n;
    memcpy(s->items + s->n_items, v, n * sizeof *v);
    s->n_items += n;
    s->set_slots[h] = id;
    return id;
}

uint32_t wl_gstacks_singleton(wl_gstacks *s, uint32_t node) {
    return node == WL_G_NONE ? WL_G_NONE : intern(s, &node, 1);
}

const uint32_t *wl_gstacks_items(const wl_gstacks *s, uint32_t set, uint32_t *n) {
    *n = s->len[set];
    return s->items + s->off[set];
}

int wl_gstacks_has(const wl_gstacks *s, uint32_t set, uint32_t node) {
    const uint32_t *v = s->items + s->off[set];
    for (uint32_t i = 0; i < s->len[set]; i++)
        if (v[i] == node) return 1;
    return 0;
}

/* ---- expansion ---- */

/* Every terminal-topped (or empty) stack the stack `node` expands to, as a
 * set; remembered per node. Iterative with a visited mark, as rule
 * references can loop through rules that match nothing. */
static uint32_t expand(wl_gstacks *s, uint32_t node) {
    if (node == WL_G_NONE) return WL_G_NONE;
    if (s->expanded[node] != WL_G_NONE) return s->expanded[node];
    const wl_grules *g = s->g;
    const uint32_t stamp = ++s->cur_stamp;
    size_t n_ex = 0, n_todo = 0;
    uint32_t work = 0;
    if (!list_push(&s->todo, &s->cap_todo, &n_todo, node)) return fail(s, OOM);
    while (n_todo > 0) {
        const uint32_t x = s->todo[--n_todo];
        if (s->stamp[x] == stamp) continue;
        s->stamp[x] = stamp;
        if (++work > MAX_EXPAND_WORK) {
            return fail(s, "the grammar's rules expand without end (a rule that can match nothing repeats on the left)");
        }
        if (x != node && s->expanded[x] != WL_G_NONE) {
            const uint32_t e = s->expanded[x];
            for (uint32_t k = 0; k < s->len[e]; k++)
                if (!list_push(&s->ex, &s->cap_ex, &n_ex, s->items[s->off[e] + k])) return fail(s, OOM);
            continue;
        }
        if (x <= WL_NODE_ESCAPED || is_terminal(g->elems[s->pos[x]].type)) {
            if (!list_push(&s->ex, &s->cap_ex, &n_ex, x)) return fail(s, OOM);
            continue;
        }
        const uint32_t at = s->pos[x];
        const uint32_t below = is_seq_end(g, at + 1) ? s->parent[x] : make_node(s, at + 1, s->parent[x]);
        if (below == WL_G_NONE) return WL_G_NONE;
        uint32_t a = g->rule_start[g->elems[at].value];
        for (;;) {
            const uint32_t y = is_seq_end(g, a) ? below : make_node(s, a, below);
            if (y == WL_G_NONE || !list_push(&s->todo, &s->cap_todo, &n_todo, y)) return fail(s, OOM);
            while (!is_seq_end(g, a)) a++;
            if (g->elems[a].type != WL_G_ALT) break;
            a++;
        }
    }
    n_ex = sort_unique(s->ex, n_ex);
    const uint32_t set = intern(s, s->ex, n_ex);
    if (set != WL_G_NONE) s->expanded[node] = set;
    return set;
}

/* ---- classes ---- */

/* Whether code point cp matches the class at `at`; *after gets the position past it. */
static int class_match(const wl_grules *g, uint32_t at, uint32_t cp, uint32_t *after) {
    const wl_gelem *e = g->elems;
    const int positive = e[at].type != WL_G_CHAR_NOT;
    int found = 0;
    do {
        if (e[at + 1].type == WL_G_CHAR_UPPER) {
            found |= e[at].value <= cp && cp <= e[at + 1].value;
            at += 2;
        } else if (e[at].type == WL_G_CHAR_ANY) {
            found = 1;
            at += 1;
        } else {
            found |= e[at].value == cp;
            at += 1;
        }
    } while (e[at].type == WL_G_CHAR_ALT);
    *after = at;
    return found == positive;
}

/* llama.cpp's test for a token that ends inside a character: could some
 * completion of it match the class? (For a negated class, any overlap of the
 * possible completions with an excluded range answers no, as there.) */
static int class_partial(const wl_grules *g, uint32_t at, uint32_t value, int n_remain) {
    const wl_gelem *e = g->elems;
    const int positive = e[at].type != WL_G_CHAR_NOT;
    if (n_remain < 0 || (n_remain == 1 && value < 2)) return 0; /* invalid, or an overlong 2-byte form */
    uint32_t low = value << (n_remain * 6);
    const uint32_t high = low | ((1u << (n_remain * 6)) - 1);
    if (low == 0 && n_remain == 2) low = 1u << 11;
    if (low == 0 && n_remain == 3) low = 1u << 16;
    do {
        if (e[at + 1].type == WL_G_CHAR_UPPER) {
            if (e[at].value <= high && low <= e[at + 1].value) return positive;
            at += 2;
        } else if (e[at].type == WL_G_CHAR_ANY) {
            return 1;
        } else {
            if (low <= e[at].value && e[at].value <= high) return positive;
            at += 1;
        }
    } while (e[at].type == WL_G_CHAR_ALT);
    return !positive;
}

int wl_gstacks_partial_ok(const wl_gstacks *s, uint32_t set, uint32_t value, int n_remain) {
    for (uint32_t k = 0; k < s->len[set]; k++) {
        const uint32_t x = s->items[s->off[set] + k];
        if (x > WL_NODE_ESCAPED && class_partial(s->g, s->pos[x], value, n_remain)) return 1;
    }
    return 0;
}

/* ---- steps ---- */

static int rehash_steps(wl_gstacks *s, uint32_t n_slots) {
    step_slot *t = malloc(n_slots * sizeof *t);
    if (!t) return 0;
    memset(t, 0xff, n_slots * sizeof *t);
    for (uint32_t i = 0; s->t && i <= s->t_mask; i++) {
        if (s->t[i].set == WL_G_NONE) continue;
        uint32_t h = mix(s->t[i].set, s->t[i].cp) & (n_slots - 1);
        while (t[h].set != WL_G_NONE) h = (h + 1) & (n_slots - 1);
        t[h] = s->t[i];
    }
    free(s->t);
    s->t = t;
    s->t_mask = n_slots - 1;
    return 1;
}

/* Which class of code points cp is in: how many boundaries are <= cp. */
static uint32_t cp_class(const wl_gstacks *s, uint32_t cp) {
    if (cp < 128) return s->ascii_class[cp];
    uint32_t lo = 0, hi = s->n_bounds;
    while (lo < hi) {
        const uint32_t mid = (lo + hi) / 2;
        if (s->bounds[mid] <= cp) lo = mid + 1; else hi = mid;
    }
    return lo;
}

/* Every value a class element names starts a class of code points, and so
 * does the one past it (past a range's upper end). */
static int find_bounds(wl_gstacks *s) {
    const wl_grules *g = s->g;
    size_t n = 0;
    for (uint32_t i = 0; i < g->n_elems; i++) {
        const uint32_t t = g->elems[i].type;
        if (t == WL_G_CHAR || t == WL_G_CHAR_NOT || t == WL_G_CHAR_ALT || t == WL_G_CHAR_UPPER) n += 2;
    }
    s->bounds = malloc((n ? n : 1) * sizeof *s->bounds);
    if (!s->bounds) return 0;
    n = 0;
    for (uint32_t i = 0; i < g->n_elems; i++) {
        const uint32_t t = g->elems[i].type, v = g->elems[i].value;
        if (t != WL_G_CHAR && t != WL_G_CHAR_NOT && t != WL_G_CHAR_ALT && t != WL_G_CHAR_UPPER) continue;
        if (t != WL_G_CHAR_UPPER) s->bounds[n++] = v;
        if (v != 0xffffffffu) s->bounds[n++] = v + 1;
    }
    s->n_bounds = (uint32_t)sort_unique(s->bounds, n);
    for (uint32_t cp = 0; cp < 128; cp++) {
        uint32_t c = 0;
        while (c < s->n_bounds && s->bounds[c] <= cp) c++;
        s->ascii_class[cp] = (uint16_t)c;
    }
    return 1;
}

static uint32_t step_uncached(wl_gstacks *s, uint32_t set, uint32_t cp) {
    size_t n_un = 0;
    for (uint32_t k = 0; k < s->len[set]; k++) {
        const uint32_t x = s->items[s->off[set] + k]; /* re-read: expand may move items */
        if (x == WL_NODE_EMPTY) continue; /* a complete grammar takes nothing more */
        if (x == WL_NODE_SENTINEL || x == WL_NODE_ESCAPED) {
            if (!list_push(&s->un, &s->cap_un, &n_un, WL_NODE_ESCAPED)) return fail(s, OOM);
            continue;
        }
        uint32_t after;
        if (!class_match(s->g, s->pos[x], cp, &after)) continue;
        const uint32_t below = is_seq_end(s->g, after) ? s->parent[x] : make_node(s, after, s->parent[x]);
        const uint32_t e = expand(s, below);
        if (e == WL_G_NONE) return WL_G_NONE;
        for (uint32_t q = 0; q < s->len[e]; q++)
            if (!list_push(&s->un, &s->cap_un, &n_un, s->items[s->off[e] + q])) return fail(s, OOM);
    }
    n_un = sort_unique(s->un, n_un);
    return intern(s, s->un, n_un);
}

uint32_t wl_gstacks_step(wl_gstacks *s, uint32_t set, uint32_t cp) {
    if (set == WL_SET_DEAD || set == WL_G_NONE) return set;
    const uint32_t c = cp_class(s, cp);
    uint32_t h = mix(set, c) & s->t_mask;
    for (; s->t[h].set != WL_G_NONE; h = (h + 1) & s->t_mask)
        if (s->t[h].set == set && s->t[h].cp == c) return s->t[h].to;
    const uint32_t to = step_uncached(s, set, cp);
    if (to == WL_G_NONE) return to;
    if ((s->t_count + 1) * 2 > s->t_mask + 1) {
        if (!rehash_steps(s, (s->t_mask + 1) * 2)) return fail(s, OOM);
        h = mix(set, c) & s->t_mask;
        while (s->t[h].set != WL_G_NONE) h = (h + 1) & s->t_mask;
    }
    s->t[h] = (step_slot){set, c, to};
    s->t_count++;
    return to;
}

/* ---- truncation ---- */

uint32_t wl_gstacks_truncated(wl_gstacks *s, uint32_t node, int k) {
    if (node <= WL_NODE_ESCAPED) return node;
    if (s->trunc[node] != WL_G_NONE) return s->trunc[node];
    uint32_t chain[16];
    if (k > 16) k = 16;
    int depth = 0;
    uint32_t x = node;
    while (x != WL_NODE_EMPTY && depth < k) chain[depth++] = s->pos[x], x = s->parent[x];
    uint32_t t = node;
    if (x != WL_NODE_EMPTY) { /* deeper than k: rebuild the top k over the sentinel */
        t = WL_NODE_SENTINEL;
        for (int i = depth - 1; i >= 0 && t != WL_G_NONE; i--) t = make_node(s, chain[i], t);
    }
    if (t != WL_G_NONE) s->trunc[node] = t;
    return t;
}

/* ---- life cycle ---- */

wl_gstacks *wl_gstacks_new(const wl_grules *g) {
    wl_gstacks *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    s->g = g;
    int ok = find_bounds(s) && rehash_nodes(s, 1024) && rehash_sets(s, 256) && rehash_steps(s, 1024);
    for (int i = 0; ok && i < 3; i++) ok = add_node(s, WL_G_NONE, WL_G_NONE) != WL_G_NONE; /* EMPTY, SENTINEL, ESCAPED */
    if (ok) ok = s->cap_sets == 0 && (s->off = malloc(256 * sizeof *s->off)) && (s->len = malloc(256 * sizeof *s->len));
    if (ok) {
        s->cap_sets = 256;
        s->off[0] = 0, s->len[0] = 0, s->n_sets = 1; /* WL_SET_DEAD */
    }
    if (!ok) {
        wl_gstacks_free(s);
        return NULL;
    }
    return s;
}

void wl_gstacks_free(wl_gstacks *s) {
    if (!s) return;
    free(s->pos), free(s->parent), free(s->expanded), free(s->trunc), free(s->stamp), free(s->node_slots);
    free(s->items), free(s->off), free(s->len), free(s->set_slots);
    free(s->t), free(s->bounds);
    free(s->ex), free(s->un), free(s->todo);
    free(s);
}

size_t wl_gstacks_bytes(const wl_gstacks *s) {
    return (size_t)s->cap_nodes * 5 * 4 + ((size_t)s->node_mask + 1) * 4 + s->cap_items * 4 +
           (size_t)s->cap_sets * 8 + ((size_t)s->set_mask + 1) * 4 + ((size_t)s->t_mask + 1) * 12 +
           (s->cap_ex + s->cap_un + s->cap_todo) * 4;
}

const char *wl_gstacks_error(const wl_gstacks *s) { return s->error ? s->error : "unknown grammar matcher failure"; }

uint32_t wl_gstacks_initial(wl_gstacks *s) {
    const wl_grules *g = s->g;
    size_t n = 0;
    uint32_t a = g->rule_start[g->root];
    for (;;) {
        const uint32_t e = expand(s, is_seq_end(g, a) ? WL_NODE_EMPTY : make_node(s, a, WL_NODE_EMPTY));
        if (e == WL_G_NONE) return WL_G_NONE;
        for (uint32_t q = 0; q < s->len[e]; q++)
            if (!list_push(&s->un, &s->cap_un, &n, s->items[s->off[e] + q])) return fail(s, OOM);
        while (!is_seq_end(g, a)) a++;
        if (g->elems[a].type != WL_G_ALT) break;
        a++;
    }
    n = sort_unique(s->un, n);
    return intern(s, s->un, n);
}

/* ---- UTF-8, as llama.cpp's decode_utf8 reads a token ---- */

int wl_utf8_feed(wl_utf8_state *u, uint8_t b, uint32_t *cp) {
    if (u->n_remain < 0) return 0;
    if (u->n_remain > 0) {
        if (u->checked && (b >> 6) != 2) {
            u->n_remain = -1;
            return 0;
        }
        u->value = (u->value << 6) | (b & 0x3fu);
        if (--u->n_remain > 0) return 0;
        u->checked = 0;
        *cp = u->value;
        return 1;
    }
    static const int8_t extra[16] = {0, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, 1, 1, 2, 3};
    const int n = extra[b >> 4];
    if (n < 0) {
        u->n_remain = -1;
        return 0;
    }
    u->value = b & ((1u << (7 - n)) - 1);
    u->n_remain = (int8_t)n;
    u->checked = 0;
    if (n > 0) return 0;
    *cp = u->value;
    return 1;
}
