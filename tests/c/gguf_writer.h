/* A tiny GGUF writer for tests: appends little-endian fields to a growing
 * buffer, so each test can build exactly the (valid or hostile) bytes it
 * needs without fixture files. Header-only; included by test_*.c. */
#ifndef GGUF_WRITER_H
#define GGUF_WRITER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    uint8_t *p;
    size_t len, cap;
} gw_buf;

static void gw_bytes(gw_buf *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) { fprintf(stderr, "gw_bytes: out of memory\n"); exit(2); }
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void gw_le(gw_buf *b, uint64_t v, int n) {
    uint8_t t[8];
    for (int i = 0; i < n; i++) t[i] = (uint8_t)(v >> (8 * i));
    gw_bytes(b, t, (size_t)n);
}

static void gw_u8(gw_buf *b, uint8_t v) { gw_le(b, v, 1); }
static void gw_u16(gw_buf *b, uint16_t v) { gw_le(b, v, 2); }
static void gw_u32(gw_buf *b, uint32_t v) { gw_le(b, v, 4); }
static void gw_u64(gw_buf *b, uint64_t v) { gw_le(b, v, 8); }
static void gw_f32(gw_buf *b, float f) { uint32_t u; memcpy(&u, &f, 4); gw_u32(b, u); }
static void gw_f64(gw_buf *b, double f) { uint64_t u; memcpy(&u, &f, 8); gw_u64(b, u); }

static void gw_str(gw_buf *b, const char *s) {
    gw_u64(b, strlen(s));
    gw_bytes(b, s, strlen(s));
}

/* GGUF header: magic, version, tensor count, kv count. */
static void gw_header(gw_buf *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv) {
    gw_bytes(b, "GGUF", 4);
    gw_u32(b, version);
    gw_u64(b, n_tensors);
    gw_u64(b, n_kv);
}

/* Key and value type; the caller writes the value. */
static void gw_key(gw_buf *b, const char *key, uint32_t type) {
    gw_str(b, key);
    gw_u32(b, type);
}

static void gw_kv_u32(gw_buf *b, const char *key, uint32_t v) { gw_key(b, key, 4); gw_u32(b, v); }
static void gw_kv_u16(gw_buf *b, const char *key, uint16_t v) { gw_key(b, key, 2); gw_u16(b, v); }
static void gw_kv_i32(gw_buf *b, const char *key, int32_t v) { gw_key(b, key, 5); gw_u32(b, (uint32_t)v); }
static void gw_kv_str(gw_buf *b, const char *key, const char *v) { gw_key(b, key, 8); gw_str(b, v); }

static void gw_tensor_info(gw_buf *b, const char *name, uint32_t n_dims, const int64_t *ne,
                           uint32_t type, uint64_t offset) {
    gw_str(b, name);
    gw_u32(b, n_dims);
    for (uint32_t d = 0; d < n_dims; d++) gw_u64(b, (uint64_t)ne[d]);
    gw_u32(b, type);
    gw_u64(b, offset);
}

static void gw_pad(gw_buf *b, size_t align) {
    while (b->len % align) gw_u8(b, 0);
}

static void gw_free(gw_buf *b) {
    free(b->p);
    memset(b, 0, sizeof *b);
}

/* ---- a minimal test harness shared by the parser tests ---- */

static int gw_failures = 0;

#define CHECK(cond) do { \
    if (!(cond)) { fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); gw_failures++; } \
} while (0)

#endif
