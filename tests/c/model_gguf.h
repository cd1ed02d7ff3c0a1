/* A minimal GGUF v3 writer for tests: builds a whole file in memory from
 * metadata and f32 tensors (optionally stored as f16), so model tests need
 * no files on disk. Header-only; test use only. */
#ifndef TEST_MODEL_GGUF_H
#define TEST_MODEL_GGUF_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "types.h"

typedef struct {
    uint8_t *p;
    size_t len, cap;
} mg_buf;

typedef struct {
    mg_buf kv, info, data;
    uint64_t n_kv, n_tensors;
} model_gguf;

static void mg_put(mg_buf *b, const void *src, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap < b->len + n) cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) { fprintf(stderr, "model_gguf: out of memory\n"); exit(2); }
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}
static void mg_u32(mg_buf *b, uint32_t v) { mg_put(b, &v, 4); }
static void mg_u64(mg_buf *b, uint64_t v) { mg_put(b, &v, 8); }
static void mg_str(mg_buf *b, const char *s) { mg_u64(b, strlen(s)); mg_put(b, s, strlen(s)); }
static void mg_pad(mg_buf *b, size_t align) {
    static const uint8_t zero[64];
    while (b->len % align) mg_put(b, zero, 1);
}

enum { GW_U32 = 4, GW_I32 = 5, GW_F32 = 6, GW_BOOL = 7, GW_STR = 8, GW_ARR = 9 };

static void mg_kv_u32(model_gguf *w, const char *key, uint32_t v) {
    mg_str(&w->kv, key); mg_u32(&w->kv, GW_U32); mg_u32(&w->kv, v); w->n_kv++;
}
static void mg_kv_f32(model_gguf *w, const char *key, float v) {
    mg_str(&w->kv, key); mg_u32(&w->kv, GW_F32); mg_put(&w->kv, &v, 4); w->n_kv++;
}
static void mg_kv_bool(model_gguf *w, const char *key, int v) {
    uint8_t b = (uint8_t)(v != 0);
    mg_str(&w->kv, key); mg_u32(&w->kv, GW_BOOL); mg_put(&w->kv, &b, 1); w->n_kv++;
}
static void mg_kv_str(model_gguf *w, const char *key, const char *v) {
    mg_str(&w->kv, key); mg_u32(&w->kv, GW_STR); mg_str(&w->kv, v); w->n_kv++;
}
static void mg_kv_arr_i32(model_gguf *w, const char *key, const int32_t *v, uint64_t n) {
    mg_str(&w->kv, key); mg_u32(&w->kv, GW_ARR); mg_u32(&w->kv, GW_I32); mg_u64(&w->kv, n);
    mg_put(&w->kv, v, n * 4); w->n_kv++;
}

/* A tensor of ne0 x ne1 x ne2 (ne2 = 1: 2-D; ne1 = 1 too: 1-D) from f32
 * values, stored as `type` (F32 or F16, or any type whose from_float exists). */
static void mg_tensor3(model_gguf *w, const char *name, wl_type type, int64_t ne0, int64_t ne1, int64_t ne2,
                       const float *values) {
    const wl_type_traits *tt = wl_type_get(type);
    const size_t row = wl_row_size(type, ne0);
    mg_pad(&w->data, 32);
    const uint64_t offset = w->data.len;
    uint8_t *tmp = malloc(row);
    for (int64_t r = 0; r < ne1 * ne2; r++) {
        tt->from_float(values + r * ne0, tmp, ne0);
        mg_put(&w->data, tmp, row);
    }
    free(tmp);
    mg_str(&w->info, name);
    const uint32_t n_dims = ne2 > 1 ? 3 : ne1 == 1 ? 1 : 2;
    mg_u32(&w->info, n_dims);
    mg_u64(&w->info, (uint64_t)ne0);
    if (n_dims >= 2) mg_u64(&w->info, (uint64_t)ne1);
    if (n_dims == 3) mg_u64(&w->info, (uint64_t)ne2);
    mg_u32(&w->info, (uint32_t)type);
    mg_u64(&w->info, offset);
    w->n_tensors++;
}

static void mg_tensor(model_gguf *w, const char *name, wl_type type, int64_t ne0, int64_t ne1,
                      const float *values) {
    mg_tensor3(w, name, type, ne0, ne1, 1, values);
}

/* The whole file; the caller frees it. Frees the writer's buffers. */
static uint8_t *mg_finish(model_gguf *w, size_t *len) {
    mg_buf out = {0};
    mg_put(&out, "GGUF", 4);
    mg_u32(&out, 3);
    mg_u64(&out, w->n_tensors);
    mg_u64(&out, w->n_kv);
    if (w->kv.len) mg_put(&out, w->kv.p, w->kv.len);
    if (w->info.len) mg_put(&out, w->info.p, w->info.len);
    mg_pad(&out, 32);
    if (w->data.len) mg_put(&out, w->data.p, w->data.len);
    free(w->kv.p); free(w->info.p); free(w->data.p);
    memset(w, 0, sizeof *w);
    *len = out.len;
    return out.p;
}

#endif
