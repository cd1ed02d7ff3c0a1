/* GBNF grammars (llama.cpp's syntax and matching rules) for constrained
 * sampling. Three parts, each in its own file:
 *   grammar_parse.c  text -> rules (flat element arrays), with line:column errors
 *   grammar_stack.c  the pushdown matcher: hash-consed stacks of rule
 *                    positions, sets of them, and their memoized steps
 *   grammar_mask.c   the vocabulary trie and the token masks (a trie walk per
 *                    step plus a cache of context-independent answers)
 * A stack is llama.cpp's llama_grammar_stack: rule positions, top last. Here
 * it is a node (top position, stack below) made once per distinct stack, so
 * equal stacks are equal ids and every answer about one can be cached. */
#ifndef WL_GRAMMAR_H
#define WL_GRAMMAR_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

enum {
    WL_G_END = 0,    /* end of a rule */
    WL_G_ALT,        /* start of another alternative */
    WL_G_REF,        /* value: rule id */
    WL_G_CHAR,       /* value: a code point; starts a class ("a" is the class [a]) */
    WL_G_CHAR_NOT,   /* starts a negated class [^...] */
    WL_G_CHAR_ALT,   /* one more code point of the class */
    WL_G_CHAR_UPPER, /* the previous code point is the lower end of a range up to value */
    WL_G_CHAR_ANY    /* . */
};

typedef struct {
    uint32_t type;
    uint32_t value;
} wl_gelem;

typedef struct {
    wl_gelem *elems;      /* every rule's elements in turn, each rule closed by END */
    uint32_t n_elems;
    uint32_t *rule_start; /* rule id -> its first element */
    uint32_t n_rules;
    uint32_t root;
} wl_grules;

#define WL_G_MAX_ELEMS (1u << 22) /* 32 MB of elements: larger grammars are refused */

/* Parses GBNF text (len bytes; the root rule is "root"). Errors are
 * WL_ERR_BAD_GRAMMAR with "line L, column C: ..." in the message. */
wl_status wl_grammar_parse(const char *text, size_t len, wl_grules *out, wl_error *err);
void wl_grules_free(wl_grules *r);

/* ---- the matcher (grammar_stack.c) ---- */

#define WL_G_NONE 0xffffffffu /* no id: out of memory or over a limit */
#define WL_NODE_EMPTY 0u      /* the empty stack: the grammar is complete */
#define WL_NODE_SENTINEL 1u   /* below a truncated stack: its top frames just completed */
#define WL_NODE_ESCAPED 2u    /* a path that went below a truncated stack and went on */
#define WL_SET_DEAD 0u        /* the empty set: nothing matches */

typedef struct wl_gstacks wl_gstacks;

wl_gstacks *wl_gstacks_new(const wl_grules *g);
void wl_gstacks_free(wl_gstacks *s);
size_t wl_gstacks_bytes(const wl_gstacks *s);
const char *wl_gstacks_error(const wl_gstacks *s); /* why the last call returned WL_G_NONE */
/* The set of terminal-topped stacks the root rule starts with. */
uint32_t wl_gstacks_initial(wl_gstacks *s);
/* The set after one code point; WL_SET_DEAD when nothing matches it. */
uint32_t wl_gstacks_step(wl_gstacks *s, uint32_t set, uint32_t cp);
const uint32_t *wl_gstacks_items(const wl_gstacks *s, uint32_t set, uint32_t *n);
int wl_gstacks_has(const wl_gstacks *s, uint32_t set, uint32_t node);
/* Whether a character that starts with the partial UTF-8 value (n_remain
 * continuation bytes still to come) may match some stack of the set, as
 * llama.cpp decides it at the end of a token. */
int wl_gstacks_partial_ok(const wl_gstacks *s, uint32_t set, uint32_t value, int n_remain);
/* The top k frames of a terminal-topped stack over WL_NODE_SENTINEL (the
 * stack itself when it has no more than k), as a one-stack set. */
uint32_t wl_gstacks_truncated(wl_gstacks *s, uint32_t node, int k);
uint32_t wl_gstacks_singleton(wl_gstacks *s, uint32_t node);

/* Replaces *slots (mask + 1 slots) by an open-addressing table of n_slots
 * (a power of two; linear probing, empty slots WL_G_NONE) holding ids
 * first .. count - 1 by hash(ctx, id); 0 without memory (the old table
 * stays). The matcher's hash-consed tables regrow through it. */
int wl_id_table(uint32_t **slots, uint32_t *mask, uint32_t n_slots, uint32_t first, uint32_t count,
                uint32_t (*hash)(const void *ctx, uint32_t id), const void *ctx);

/* llama.cpp's UTF-8 reading of a token, one byte at a time: a character
 * left open by the previous token is continued first (its bytes must be
 * continuation bytes); inside the token a lead byte 0x80-0xBF makes the
 * whole token invalid, and continuation bytes are not checked. */
typedef struct {
    uint32_t value;
    int8_t n_remain;  /* continuation bytes still to come; -1: invalid */
    uint8_t checked;  /* continuing the previous token's character */
} wl_utf8_state;

/* Feeds one byte; returns 1 and sets *cp when a character completes. */
int wl_utf8_feed(wl_utf8_state *u, uint8_t b, uint32_t *cp);

#endif
