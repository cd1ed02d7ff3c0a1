/* GBNF text -> rules, with llama.cpp's reading of every construct (its
 * llama_grammar_parser is the reference; this is a separate implementation):
 *   name ::= alternatives        a rule; a newline ends it outside ( )
 *   "lit" [a-z] [^...] .         literals, classes, negated classes, any char
 *   ( ... ) a | b                groups, alternatives
 *   x* x+ x? x{m} x{m,} x{m,n}   repetitions, rewritten into helper rules
 *   # comment                    to the end of the line
 * Escapes: \x## \u#### \U######## \t \n \r \\ \" \[ \] \-. Repetitions
 * follow llama.cpp's rewrite and its limits (2000). Undefined rules, a
 * missing root and left recursion are errors; so are token references
 * (<...>, !<...>), which we do not implement. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "grammar.h"

#define MAX_REPETITION 2000u
#define NO_MAX UINT64_MAX

typedef struct {
    wl_gelem *v;
    uint32_t n, cap;
} gvec;

typedef struct {
    const char *src;
    size_t len;
    wl_error *err;
    int failed;
    int depth; /* of ( ) nesting: the parser recurses into groups */
    size_t total_elems;

    /* symbols: named rules and generated helper rules share one id space */
    uint32_t n_sym, cap_sym;
    gvec *rules;          /* id -> elements (defined[id] says whether it was given) */
    uint8_t *defined;
    uint32_t *name_of;    /* id -> the named symbol it is, or was generated from */
    size_t *first_ref;    /* id -> offset of its first use (or definition) */
    /* named symbols: offset and length of the name in src, hashed */
    size_t *name_off;
    uint32_t *name_len;
    uint32_t *slots;      /* hash slot -> id + 1 (0 empty) */
    uint32_t n_slots;
} parser;

/* ---- errors with line:column ---- */

static void fail_at(parser *p, size_t at, const char *what) {
    if (p->failed) return;
    p->failed = 1;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < at && i < p->len; i++) {
        const unsigned char c = (unsigned char)p->src[i];
        if (c == '\n') line++, col = 1;
        else if ((c & 0xc0) != 0x80) col++; /* columns count characters, not bytes */
    }
    wl_fail(p->err, WL_ERR_BAD_GRAMMAR, "grammar line %zu, column %zu: %s", line, col, what);
}

static void fail_oom(parser *p) {
    if (p->failed) return;
    p->failed = 1;
    wl_fail(p->err, WL_ERR_OOM, "out of memory while parsing the grammar");
}

/* ---- element vectors ---- */

static void push(parser *p, gvec *r, uint32_t type, uint32_t value) {
    if (p->failed) return;
    if (++p->total_elems > WL_G_MAX_ELEMS) {
        p->failed = 1;
        wl_fail(p->err, WL_ERR_BAD_GRAMMAR, "the grammar expands to more than %u elements (repetitions too large)",
                WL_G_MAX_ELEMS);
        return;
    }
    if (r->n == r->cap) {
        uint32_t cap = r->cap ? r->cap * 2 : 8;
        wl_gelem *v = realloc(r->v, cap * sizeof *v);
        if (!v) return fail_oom(p);
        r->v = v;
        r->cap = cap;
    }
    r->v[r->n].type = type;
    r->v[r->n].value = value;
    r->n++;
}

static void append(parser *p, gvec *r, const wl_gelem *e, uint32_t n) {
    for (uint32_t i = 0; i < n && !p->failed; i++) push(p, r, e[i].type, e[i].value);
}

/* ---- symbols ---- */

static uint32_t hash_name(const char *s, uint32_t n) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static uint32_t new_symbol(parser *p, uint32_t name_of, size_t at) {
    if (p->failed) return 0;
    if (p->n_sym == p->cap_sym) {
        uint32_t cap = p->cap_sym ? p->cap_sym * 2 : 32;
        gvec *rules = realloc(p->rules, cap * sizeof *rules);
        if (rules) p->rules = rules;
        uint8_t *defined = realloc(p->defined, cap);
        if (defined) p->defined = defined;
        uint32_t *name_of_ = realloc(p->name_of, cap * sizeof *name_of_);
        if (name_of_) p->name_of = name_of_;
        size_t *first_ref = realloc(p->first_ref, cap * sizeof *first_ref);
        if (first_ref) p->first_ref = first_ref;
        size_t *name_off = realloc(p->name_off, cap * sizeof *name_off);
        if (name_off) p->name_off = name_off;
        uint32_t *name_len = realloc(p->name_len, cap * sizeof *name_len);
        if (name_len) p->name_len = name_len;
        if (!rules || !defined || !name_of_ || !first_ref || !name_off || !name_len) {
            fail_oom(p);
            return 0;
        }
        p->cap_sym = cap;
    }
    const uint32_t id = p->n_sym++;
    memset(&p->rules[id], 0, sizeof p->rules[id]);
    p->defined[id] = 0;
    p->name_of[id] = name_of == WL_G_NONE ? id : name_of;
    p->first_ref[id] = at;
    p->name_off[id] = at;
    p->name_len[id] = 0;
    return id;
}

static int grow_slots(parser *p) {
    const uint32_t n = p->n_slots ? p->n_slots * 2 : 64;
    uint32_t *slots = calloc(n, sizeof *slots);
    if (!slots) return 0;
    for (uint32_t i = 0; i < p->n_slots; i++) {
        const uint32_t id1 = p->slots[i];
        if (!id1) continue;
        uint32_t h = hash_name(p->src + p->name_off[id1 - 1], p->name_len[id1 - 1]) & (n - 1);
        while (slots[h]) h = (h + 1) & (n - 1);
        slots[h] = id1;
    }
    free(p->slots);
    p->slots = slots;
    p->n_slots = n;
    return 1;
}

/* The id of the named rule src[at, at + n), made on first sight. */
static uint32_t symbol(parser *p, size_t at, uint32_t n) {
    if (p->failed) return 0;
    if (p->n_sym * 2 >= p->n_slots && !grow_slots(p)) {
        fail_oom(p);
        return 0;
    }
    const char *name = p->src + at;
    uint32_t h = hash_name(name, n) & (p->n_slots - 1);
    for (; p->slots[h]; h = (h + 1) & (p->n_slots - 1)) {
        const uint32_t id = p->slots[h] - 1;
        if (p->name_len[id] == n && memcmp(p->src + p->name_off[id], name, n) == 0) return id;
    }
    const uint32_t id = new_symbol(p, WL_G_NONE, at);
    if (p->failed) return 0;
    p->name_len[id] = n;
    p->slots[h] = id + 1;
    return id;
}

/* ---- lexical pieces ---- */

static int at_end(const parser *p, size_t i) { return i >= p->len; }
static char ch(const parser *p, size_t i) { return i < p->len ? p->src[i] : '\0'; }
static int is_digit(char c) { return c >= '0' && c <= '9'; }
static int is_word(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || is_digit(c); }

static size_t skip_space(const parser *p, size_t i, int newline_ok) {
    while (!at_end(p, i)) {
        const char c = p->src[i];
        if (c == '#') {
            while (!at_end(p, i) && p->src[i] != '\r' && p->src[i] != '\n') i++;
        } else if (c == ' ' || c == '\t' || (newline_ok && (c == '\r' || c == '\n'))) {
            i++;
        } else {
            break;
        }
    }
    return i;
}

static size_t parse_name(parser *p, size_t i) {
    size_t e = i;
    while (is_word(ch(p, e))) e++;
    if (e == i) fail_at(p, i, "expected a rule name");
    return e;
}

/* Decimal integer at i; *v gets its value (capped past 2^32, which every
 * limit below is far under). */
static size_t parse_int(parser *p, size_t i, uint64_t *v) {
    size_t e = i;
    *v = 0;
    while (is_digit(ch(p, e))) {
        if (*v < (1ull << 32)) *v = *v * 10 + (uint64_t)(p->src[e] - '0');
        e++;
    }
    if (e == i) fail_at(p, i, "expected an integer");
    return e;
}

static size_t parse_hex(parser *p, size_t i, int digits, uint32_t *v) {
    *v = 0;
    for (int k = 0; k < digits; k++, i++) {
        const char c = ch(p, i);
        uint32_t d;
        if (c >= '0' && c <= '9') d = (uint32_t)(c - '0');
        else if (c >= 'a' && c <= 'f') d = (uint32_t)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F') d = (uint32_t)(c - 'A' + 10);
        else {
            char msg[64];
            snprintf(msg, sizeof msg, "expected %d hex digits", digits);
            fail_at(p, i, msg);
            return i;
        }
        *v = (*v << 4) | d;
    }
    return i;
}

/* One character of a literal or class: an escape, or one UTF-8 sequence
 * (read as llama.cpp reads it: a stray continuation byte is a character). */
static size_t parse_char(parser *p, size_t i, uint32_t *cp) {
    *cp = 0;
    if (at_end(p, i)) {
        fail_at(p, i, "unexpected end of input");
        return i;
    }
    const unsigned char c = (unsigned char)p->src[i];
    if (c == '\\') {
        const char e = ch(p, i + 1);
        switch (e) {
        case 'x': return parse_hex(p, i + 2, 2, cp);
        case 'u': return parse_hex(p, i + 2, 4, cp);
        case 'U': return parse_hex(p, i + 2, 8, cp);
        case 't': *cp = '\t'; return i + 2;
        case 'r': *cp = '\r'; return i + 2;
        case 'n': *cp = '\n'; return i + 2;
        case '\\': case '"': case '[': case ']': case '-': *cp = (uint32_t)e; return i + 2;
        default: fail_at(p, i, "unknown escape (use \\x, \\u, \\U, \\t, \\r, \\n, \\\\, \\\", \\[, \\], \\-)"); return i;
        }
    }
    static const uint8_t len_of[16] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4};
    const int n = len_of[c >> 4];
    uint32_t v = c & ((1u << (8 - n)) - 1);
    size_t j = i + 1;
    for (; j < i + (size_t)n && !at_end(p, j); j++) v = (v << 6) | ((unsigned char)p->src[j] & 0x3f);
    *cp = v;
    return j;
}

/* ---- rules ---- */

static size_t parse_alternates(parser *p, size_t i, uint32_t rule_id, int nested);

/* x* x+ x? x{m,n} applied to rule->v[last..]: llama.cpp's rewrite
 *   S{m,n} -> S (m times) then S'(n-m), S'(k) ::= S S'(k-1) |, S'(1) ::= S |
 *   S{m,}  -> S (m times) then S',      S' ::= S S' |
 * and its limit on (rules repeated) x (repetitions). */
static void repeat(parser *p, gvec *rule, uint32_t last, uint32_t base, uint64_t min, uint64_t max,
                   uint64_t *n_prev, size_t at) {
    if (p->failed) return;
    if (last == rule->n) {
        fail_at(p, at, "expected an item before the repetition operator");
        return;
    }
    const int no_max = max == NO_MAX;
    if (!no_max && max < min) {
        fail_at(p, at, "repetition {m,n} needs n >= m");
        return;
    }
    uint64_t total = 1;
    if (!no_max && max > 0) total = max;
    else if (min > 0) total = min;
    if (*n_prev * total >= MAX_REPETITION) {
        fail_at(p, at, "repetition too large: the rules repeated times the count must stay under 2000");
        return;
    }
    const uint32_t n_s = rule->n - last;
    wl_gelem *s = malloc(n_s * sizeof *s);
    if (!s) return fail_oom(p);
    memcpy(s, rule->v + last, n_s * sizeof *s);
    if (min == 0) rule->n = last;
    for (uint64_t k = 1; k < min; k++) append(p, rule, s, n_s);
    const uint64_t n_opt = no_max ? 1 : max - min;
    uint32_t prev_id = 0;
    for (uint64_t k = 0; k < n_opt && !p->failed; k++) {
        const uint32_t id = new_symbol(p, p->name_of[base], at);
        if (p->failed) break;
        gvec *r = &p->rules[id];
        append(p, r, s, n_s);
        if (k > 0 || no_max) push(p, r, WL_G_REF, no_max ? id : prev_id);
        push(p, r, WL_G_ALT, 0);
        push(p, r, WL_G_END, 0);
        p->defined[id] = 1;
        prev_id = id;
    }
    if (n_opt > 0) push(p, rule, WL_G_REF, prev_id);
    *n_prev *= total;
    free(s);
}

/* Items up to the next | ) or line end, appended to rule. */
static size_t parse_sequence(parser *p, size_t i, uint32_t rule_id, gvec *rule, int nested) {
    uint32_t last = rule->n;
    uint64_t n_prev = 1;
    while (!at_end(p, i) && !p->failed) {
        const char c = p->src[i];
        const size_t at = i;
        if (c == '"') {
            i++;
            last = rule->n;
            n_prev = 1;
            while (!p->failed && ch(p, i) != '"') {
                if (at_end(p, i)) {
                    fail_at(p, at, "string literal is not closed");
                    break;
                }
                uint32_t cp;
                i = parse_char(p, i, &cp);
                push(p, rule, WL_G_CHAR, cp);
            }
            i = skip_space(p, i + 1, nested);
        } else if (c == '[') {
            i++;
            uint32_t start_type = WL_G_CHAR;
            if (ch(p, i) == '^') {
                i++;
                start_type = WL_G_CHAR_NOT;
            }
            last = rule->n;
            n_prev = 1;
            while (!p->failed && ch(p, i) != ']') {
                if (at_end(p, i)) {
                    fail_at(p, at, "character class is not closed");
                    break;
                }
                uint32_t cp;
                i = parse_char(p, i, &cp);
                push(p, rule, rule->n > last ? WL_G_CHAR_ALT : start_type, cp);
                if (ch(p, i) == '-' && ch(p, i + 1) != ']') {
                    if (at_end(p, i + 1)) {
                        fail_at(p, i + 1, "unexpected end of input");
                        break;
                    }
                    i = parse_char(p, i + 1, &cp);
                    push(p, rule, WL_G_CHAR_UPPER, cp);
                }
            }
            i = skip_space(p, i + 1, nested);
        } else if (c == '<' || c == '!') {
            fail_at(p, i, "token references (<...>, !<...>) are not supported; write the text instead");
        } else if (is_word(c)) {
            const size_t e = parse_name(p, i);
            const uint32_t id = symbol(p, i, (uint32_t)(e - i));
            i = skip_space(p, e, nested);
            last = rule->n;
            n_prev = 1;
            push(p, rule, WL_G_REF, id);
        } else if (c == '(') {
            if (++p->depth > 256) {
                fail_at(p, i, "groups nested more than 256 deep");
                break;
            }
            i = skip_space(p, i + 1, 1);
            const uint32_t before = p->n_sym;
            const uint32_t sub = new_symbol(p, p->name_of[rule_id], at);
            i = parse_alternates(p, i, sub, 1);
            p->depth--;
            n_prev = p->n_sym - before > 1 ? p->n_sym - before : 1;
            last = rule->n;
            push(p, rule, WL_G_REF, sub);
            if (p->failed) break;
            if (ch(p, i) != ')') {
                fail_at(p, i, "expected ')'");
                break;
            }
            i = skip_space(p, i + 1, nested);
        } else if (c == '.') {
            last = rule->n;
            n_prev = 1;
            push(p, rule, WL_G_CHAR_ANY, 0);
            i = skip_space(p, i + 1, nested);
        } else if (c == '*' || c == '+' || c == '?') {
            i = skip_space(p, i + 1, nested);
            repeat(p, rule, last, rule_id, c == '+' ? 1 : 0, c == '?' ? 1 : NO_MAX, &n_prev, at);
        } else if (c == '{') {
            i = skip_space(p, i + 1, nested);
            uint64_t min, max = NO_MAX;
            if (!is_digit(ch(p, i))) {
                fail_at(p, i, "expected an integer after '{'");
                break;
            }
            i = skip_space(p, parse_int(p, i, &min), nested);
            if (ch(p, i) == '}') {
                max = min;
                i = skip_space(p, i + 1, nested);
            } else if (ch(p, i) == ',') {
                i = skip_space(p, i + 1, nested);
                if (is_digit(ch(p, i))) i = skip_space(p, parse_int(p, i, &max), nested);
                if (ch(p, i) != '}') {
                    fail_at(p, i, "expected '}'");
                    break;
                }
                i = skip_space(p, i + 1, nested);
            } else {
                fail_at(p, i, "expected ',' or '}'");
                break;
            }
            if (min > MAX_REPETITION) {
                fail_at(p, at, "repetition count over 2000");
                break;
            }
            if (max != NO_MAX && max > MAX_REPETITION) max = NO_MAX; /* as llama.cpp: unbounded */
            repeat(p, rule, last, rule_id, min, max, &n_prev, at);
        } else {
            break;
        }
    }
    return i;
}

static size_t parse_alternates(parser *p, size_t i, uint32_t rule_id, int nested) {
    gvec rule = {0};
    i = parse_sequence(p, i, rule_id, &rule, nested);
    while (!p->failed && ch(p, i) == '|') {
        push(p, &rule, WL_G_ALT, 0);
        i = skip_space(p, i + 1, 1);
        i = parse_sequence(p, i, rule_id, &rule, nested);
    }
    push(p, &rule, WL_G_END, 0);
    if (p->failed) {
        free(rule.v);
        return i;
    }
    free(p->rules[rule_id].v); /* a rule defined twice keeps its last definition, as in llama.cpp */
    p->rules[rule_id] = rule;
    p->defined[rule_id] = 1;
    return i;
}

static size_t parse_rule(parser *p, size_t i) {
    const size_t e = parse_name(p, i);
    if (p->failed) return i;
    const uint32_t id = symbol(p, i, (uint32_t)(e - i));
    size_t j = skip_space(p, e, 0);
    if (!(ch(p, j) == ':' && ch(p, j + 1) == ':' && ch(p, j + 2) == '=')) {
        fail_at(p, j, "expected '::=' after the rule name");
        return j;
    }
    if (!p->failed) p->first_ref[id] = p->first_ref[id] < i ? p->first_ref[id] : i;
    j = parse_alternates(p, skip_space(p, j + 3, 1), id, 0);
    if (p->failed) return j;
    if (ch(p, j) == '\r') j += ch(p, j + 1) == '\n' ? 2 : 1;
    else if (ch(p, j) == '\n') j++;
    else if (!at_end(p, j)) {
        fail_at(p, j, "expected a newline or the end after the rule");
        return j;
    }
    return skip_space(p, j, 1);
}

/* ---- checks ---- */

static int is_seq_end(uint32_t type) { return type == WL_G_END || type == WL_G_ALT; }

/* llama.cpp's left-recursion test: from each rule, follow the leftmost
 * references, and past one only while it may be empty (has an empty
 * alternative); reaching a rule still being followed is left recursion.
 * Iterative: repetitions make rule chains thousands deep. Returns the rule
 * found left-recursive, or WL_G_NONE. */
static uint32_t find_left_recursion(parser *p) {
    const uint32_t n = p->n_sym;
    uint8_t *state = calloc(n, 1); /* 0 unvisited, 1 in progress, 2 done */
    uint8_t *may_be_empty = calloc(n, 1);
    uint32_t *stack_rule = malloc(n * sizeof *stack_rule);
    uint32_t *stack_at = malloc(n * sizeof *stack_at);
    uint8_t *stack_go = malloc(n);
    uint32_t found = WL_G_NONE;
    if (!state || !may_be_empty || !stack_rule || !stack_at || !stack_go) {
        fail_oom(p);
        goto done;
    }
    for (uint32_t r0 = 0; r0 < n && found == WL_G_NONE; r0++) {
        if (state[r0] == 2) continue;
        int depth = 0;
        /* enter r0 */
        stack_rule[0] = r0, stack_at[0] = 0, stack_go[0] = 1, state[r0] = 1, depth = 1;
        {
            const gvec *r = &p->rules[r0];
            int start = 1;
            for (uint32_t k = 0; k < r->n; k++) {
                if (is_seq_end(r->v[k].type)) { if (start) { may_be_empty[r0] = 1; break; } start = 1; }
                else start = 0;
            }
        }
        while (depth > 0 && found == WL_G_NONE) {
            const uint32_t rid = stack_rule[depth - 1];
            const gvec *r = &p->rules[rid];
            uint32_t k = stack_at[depth - 1];
            if (k >= r->n) {
                state[rid] = 2;
                depth--;
                if (depth > 0) {
                    /* returned from the reference at stack_at[depth-1]: go on past it only if it may be empty */
                    const uint32_t pk = stack_at[depth - 1];
                    if (!may_be_empty[rid]) stack_go[depth - 1] = 0;
                    stack_at[depth - 1] = pk + 1;
                }
                continue;
            }
            const wl_gelem e = r->v[k];
            if (e.type == WL_G_REF && stack_go[depth - 1]) {
                const uint32_t sub = e.value;
                if (state[sub] == 1) {
                    found = sub;
                    break;
                }
                /* enter sub (even if visited before, as llama.cpp does) */
                state[sub] = 1;
                const gvec *sr = &p->rules[sub];
                int start = 1;
                for (uint32_t q = 0; q < sr->n; q++) {
                    if (is_seq_end(sr->v[q].type)) { if (start) { may_be_empty[sub] = 1; break; } start = 1; }
                    else start = 0;
                }
                stack_rule[depth] = sub, stack_at[depth] = 0, stack_go[depth] = 1;
                depth++;
                continue;
            }
            if (is_seq_end(e.type)) stack_go[depth - 1] = 1;
            else if (e.type != WL_G_REF) stack_go[depth - 1] = 0;
            stack_at[depth - 1] = k + 1;
        }
    }
done:
    free(state);
    free(may_be_empty);
    free(stack_rule);
    free(stack_at);
    free(stack_go);
    return found;
}

static void fail_named(parser *p, size_t at, const char *fmt, uint32_t id) {
    char msg[200];
    const uint32_t nm = p->name_of[id];
    snprintf(msg, sizeof msg, fmt, (int)(p->name_len[nm] > 64 ? 64 : p->name_len[nm]), p->src + p->name_off[nm]);
    fail_at(p, at, msg);
}

static void free_parser(parser *p) {
    for (uint32_t i = 0; i < p->n_sym; i++) free(p->rules[i].v);
    free(p->rules);
    free(p->defined);
    free(p->name_of);
    free(p->first_ref);
    free(p->name_off);
    free(p->name_len);
    free(p->slots);
}

wl_status wl_grammar_parse(const char *text, size_t len, wl_grules *out, wl_error *err) {
    memset(out, 0, sizeof *out);
    if (!text && len) return wl_fail(err, WL_ERR_BAD_ARG, "grammar text is NULL");
    parser p = {.src = text, .len = len, .err = err};
    const char *nul = len ? memchr(text, '\0', len) : NULL;
    if (nul) fail_at(&p, (size_t)(nul - text), "the grammar contains a NUL character");
    size_t i = skip_space(&p, 0, 1);
    while (!p.failed && !at_end(&p, i)) i = parse_rule(&p, i);
    if (!p.failed && p.n_sym == 0) {
        p.failed = 1;
        wl_fail(err, WL_ERR_BAD_GRAMMAR, "the grammar is empty: it needs at least a root ::= ... rule");
    }
    for (uint32_t id = 0; !p.failed && id < p.n_sym; id++) {
        if (!p.defined[id]) fail_named(&p, p.first_ref[id], "undefined rule '%.*s'", id);
    }
    uint32_t root = WL_G_NONE;
    for (uint32_t id = 0; !p.failed && id < p.n_sym; id++) {
        if (p.name_of[id] == id && p.name_len[id] == 4 && memcmp(text + p.name_off[id], "root", 4) == 0) root = id;
    }
    if (!p.failed && root == WL_G_NONE) {
        p.failed = 1;
        wl_fail(err, WL_ERR_BAD_GRAMMAR, "the grammar has no 'root' rule (generation starts at root ::= ...)");
    }
    if (!p.failed) {
        const uint32_t lr = find_left_recursion(&p);
        if (lr != WL_G_NONE) fail_named(&p, p.first_ref[p.name_of[lr]], "rule '%.*s' is left-recursive (not supported)", lr);
    }
    if (!p.failed) {
        out->n_rules = p.n_sym;
        out->root = root;
        out->n_elems = (uint32_t)p.total_elems;
        out->rule_start = malloc(p.n_sym * sizeof *out->rule_start);
        out->elems = malloc((p.total_elems ? p.total_elems : 1) * sizeof *out->elems);
        if (!out->rule_start || !out->elems) {
            wl_grules_free(out);
            fail_oom(&p);
        } else {
            uint32_t at = 0;
            for (uint32_t id = 0; id < p.n_sym; id++) {
                out->rule_start[id] = at;
                memcpy(out->elems + at, p.rules[id].v, p.rules[id].n * sizeof *out->elems);
                at += p.rules[id].n;
            }
            out->n_elems = at;
        }
    }
    free_parser(&p);
    return p.failed ? (err ? err->code : WL_ERR_BAD_GRAMMAR) : WL_OK;
}

void wl_grules_free(wl_grules *r) {
    if (!r) return;
    free(r->elems);
    free(r->rule_start);
    memset(r, 0, sizeof *r);
}
