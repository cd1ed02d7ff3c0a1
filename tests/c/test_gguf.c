/* GGUF parser tests: every value type round-trips, alignment and versions
 * behave, and each kind of hostile header fails with the right code and
 * without reading out of bounds (run under ASan to see the last part). */
#include <dirent.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"
#include "gguf_writer.h"

/* Parses b and returns the status; on success the result is freed again. */
static wl_status parse_status(const gw_buf *b, int allow_no_data) {
    wl_gguf g;
    wl_error err = {0};
    wl_status st = wl_gguf_parse(b->p, b->len, allow_no_data, &g, &err);
    if (st == WL_OK) wl_gguf_free(&g);
    else if (err.message[0] == 0) { fprintf(stderr, "status %d without a message\n", st); gw_failures++; }
    return st;
}

static void expect_status(const gw_buf *b, wl_status want, const char *what) {
    wl_gguf g;
    wl_error err = {0};
    wl_status st = wl_gguf_parse(b->p, b->len, 0, &g, &err);
    if (st != want) {
        fprintf(stderr, "%s: got %s (%s), want %s\n", what, wl_status_name(st), err.message, wl_status_name(want));
        gw_failures++;
    }
    if (st == WL_OK) wl_gguf_free(&g);
    else if (g.kv || g.tensors || g.n_kv || g.n_tensors) {
        fprintf(stderr, "%s: failed parse left a non-empty result\n", what);
        gw_failures++;
    }
}

/* A small valid model: a name, an alignment, two tensors with data. */
static gw_buf make_valid(uint32_t version, uint32_t alignment) {
    gw_buf b = {0};
    int n_kv = alignment ? 2 : 1;
    gw_header(&b, version, 2, (uint64_t)n_kv);
    gw_kv_str(&b, "general.name", "tiny");
    if (alignment) gw_kv_u32(&b, "general.alignment", alignment);
    uint32_t a = alignment ? alignment : 32;
    int64_t ne_a[2] = {4, 2};  /* F32 4x2 = 32 bytes */
    int64_t ne_b[1] = {32};    /* Q8_0, one block = 34 bytes */
    gw_tensor_info(&b, "a.weight", 2, ne_a, WL_TYPE_F32, 0);
    uint64_t off_b = (32 + a - 1) / a * a;
    gw_tensor_info(&b, "b.weight", 1, ne_b, WL_TYPE_Q8_0, off_b);
    gw_pad(&b, a);
    size_t data_start = b.len;
    for (int i = 0; i < 8; i++) gw_f32(&b, (float)i + 0.5f);
    while (b.len < data_start + off_b) gw_u8(&b, 0);
    for (int i = 0; i < 34; i++) gw_u8(&b, (uint8_t)i);
    return b;
}

static void test_value_types(void) {
    gw_buf b = {0};
    gw_header(&b, 3, 0, 15);
    gw_key(&b, "t.u8", WL_GGUF_UINT8); gw_u8(&b, 200);
    gw_key(&b, "t.i8", WL_GGUF_INT8); gw_u8(&b, (uint8_t)-5);
    gw_key(&b, "t.u16", WL_GGUF_UINT16); gw_u16(&b, 60000);
    gw_key(&b, "t.i16", WL_GGUF_INT16); gw_u16(&b, (uint16_t)-300);
    gw_key(&b, "t.u32", WL_GGUF_UINT32); gw_u32(&b, 4000000000u);
    gw_key(&b, "t.i32", WL_GGUF_INT32); gw_u32(&b, (uint32_t)-7);
    gw_key(&b, "t.f32", WL_GGUF_FLOAT32); gw_f32(&b, 1.5f);
    gw_key(&b, "t.bool", WL_GGUF_BOOL); gw_u8(&b, 1);
    gw_key(&b, "t.str", WL_GGUF_STRING); gw_str(&b, "héllo");
    gw_key(&b, "t.arr_i32", WL_GGUF_ARRAY); gw_u32(&b, WL_GGUF_INT32); gw_u64(&b, 3);
    gw_u32(&b, 1); gw_u32(&b, (uint32_t)-2); gw_u32(&b, 3);
    gw_key(&b, "t.u64", WL_GGUF_UINT64); gw_u64(&b, UINT64_MAX);
    gw_key(&b, "t.i64", WL_GGUF_INT64); gw_u64(&b, (uint64_t)INT64_MIN);
    gw_key(&b, "t.f64", WL_GGUF_FLOAT64); gw_f64(&b, -2.25);
    gw_key(&b, "t.arr_str", WL_GGUF_ARRAY); gw_u32(&b, WL_GGUF_STRING); gw_u64(&b, 2);
    gw_str(&b, "ab"); gw_str(&b, "");
    /* Array of two arrays: [u8 x2], [f32 x1]. */
    gw_key(&b, "t.arr_arr", WL_GGUF_ARRAY); gw_u32(&b, WL_GGUF_ARRAY); gw_u64(&b, 2);
    gw_u32(&b, WL_GGUF_UINT8); gw_u64(&b, 2); gw_u8(&b, 9); gw_u8(&b, 8);
    gw_u32(&b, WL_GGUF_FLOAT32); gw_u64(&b, 1); gw_f32(&b, 0.25f);

    wl_gguf g;
    wl_error err = {0};
    wl_status st = wl_gguf_parse(b.p, b.len, 0, &g, &err);
    CHECK(st == WL_OK);
    if (st != WL_OK) { fprintf(stderr, "value types: %s\n", err.message); gw_free(&b); return; }
    CHECK(g.version == 3 && g.n_kv == 15 && g.n_tensors == 0 && g.alignment == 32);
    uint64_t u; int64_t i; float f; int bo; wl_str s; double d;
    CHECK(wl_gguf_get_u64(&g, "t.u8", &u) && u == 200);
    CHECK(wl_gguf_get_i64(&g, "t.i8", &i) && i == -5);
    CHECK(!wl_gguf_get_u64(&g, "t.i8", &u)); /* negative does not read as unsigned */
    CHECK(wl_gguf_get_u64(&g, "t.u16", &u) && u == 60000);
    CHECK(wl_gguf_get_i64(&g, "t.i16", &i) && i == -300);
    CHECK(wl_gguf_get_u64(&g, "t.u32", &u) && u == 4000000000u);
    CHECK(wl_gguf_get_i64(&g, "t.u32", &i) && i == 4000000000);
    CHECK(wl_gguf_get_i64(&g, "t.i32", &i) && i == -7);
    CHECK(wl_gguf_get_f32(&g, "t.f32", &f) && f == 1.5f);
    CHECK(!wl_gguf_get_u64(&g, "t.f32", &u));
    CHECK(wl_gguf_get_bool(&g, "t.bool", &bo) && bo == 1);
    CHECK(!wl_gguf_get_u64(&g, "t.bool", &u));
    CHECK(wl_gguf_get_str(&g, "t.str", &s) && wl_str_eq(s, "héllo"));
    CHECK(!wl_gguf_get_str(&g, "t.u8", &s));
    CHECK(wl_gguf_get_arr_f64(&g, "t.arr_i32", 1, &d) && d == -2.0);
    CHECK(wl_gguf_get_arr_f64(&g, "t.arr_i32", 2, &d) && d == 3.0);
    CHECK(!wl_gguf_get_arr_f64(&g, "t.arr_i32", 3, &d));
    CHECK(wl_gguf_get_u64(&g, "t.u64", &u) && u == UINT64_MAX);
    CHECK(!wl_gguf_get_i64(&g, "t.u64", &i)); /* does not fit int64 */
    CHECK(wl_gguf_get_i64(&g, "t.i64", &i) && i == INT64_MIN);
    CHECK(wl_gguf_get_f32(&g, "t.f64", &f) && f == -2.25f);
    const wl_gguf_kv *kv = wl_gguf_find(&g, "t.arr_str");
    CHECK(kv && kv->type == WL_GGUF_ARRAY && kv->v.arr.type == WL_GGUF_STRING && kv->v.arr.count == 2);
    CHECK(kv && kv->v.arr.n_bytes == 8 + 2 + 8);
    CHECK(!wl_gguf_get_arr_f64(&g, "t.arr_str", 0, &d));
    kv = wl_gguf_find(&g, "t.arr_arr");
    CHECK(kv && kv->v.arr.type == WL_GGUF_ARRAY && kv->v.arr.count == 2);
    CHECK(kv && kv->v.arr.n_bytes == (12 + 2) + (12 + 4));
    CHECK(kv && kv->v.arr.data[12] == 9);
    CHECK(wl_gguf_find(&g, "t.missing") == NULL);
    CHECK(wl_gguf_find(&g, "t.u") == NULL); /* prefix of a key is not the key */
    wl_gguf_free(&g);
    gw_free(&b);
}

static void test_valid_file(uint32_t version, uint32_t alignment) {
    gw_buf b = make_valid(version, alignment);
    wl_gguf g;
    wl_error err = {0};
    wl_status st = wl_gguf_parse(b.p, b.len, 0, &g, &err);
    CHECK(st == WL_OK);
    if (st != WL_OK) { fprintf(stderr, "valid v%u align %u: %s\n", version, alignment, err.message); gw_free(&b); return; }
    uint32_t a = alignment ? alignment : 32;
    CHECK(g.version == version && g.alignment == a && g.data_offset % a == 0);
    CHECK(g.n_tensors == 2);
    const wl_gguf_tensor *ta = wl_gguf_find_tensor(&g, "a.weight");
    const wl_gguf_tensor *tb = wl_gguf_find_tensor(&g, "b.weight");
    CHECK(ta && ta->type == WL_TYPE_F32 && ta->n_dims == 2 && ta->ne[0] == 4 && ta->ne[1] == 2 &&
          ta->ne[2] == 1 && ta->ne[3] == 1 && ta->n_bytes == 32);
    CHECK(tb && tb->type == WL_TYPE_Q8_0 && tb->n_bytes == 34 && tb->offset % a == 0);
    if (ta && tb) {
        CHECK(ta->data == b.p + g.data_offset);
        float x;
        memcpy(&x, ta->data + 4 * 3, 4);
        CHECK(x == 3.5f);
        CHECK(tb->data == b.p + g.data_offset + tb->offset && tb->data[33] == 33);
    }
    CHECK(wl_gguf_find_tensor(&g, "c.weight") == NULL);
    wl_gguf_free(&g);
    gw_free(&b);
}

/* Every proper prefix of a valid file must fail cleanly (ASan checks "cleanly"). */
static void test_every_prefix_fails(void) {
    gw_buf b = make_valid(3, 0);
    int bad = 0;
    for (size_t n = 0; n < b.len; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact-size copy so ASan sees any overread */
        memcpy(copy, b.p, n);
        wl_gguf g;
        wl_error err = {0};
        wl_status st = wl_gguf_parse(copy, n, 0, &g, &err);
        if (st == WL_OK) { wl_gguf_free(&g); bad++; fprintf(stderr, "prefix %zu parsed\n", n); }
        else if (err.message[0] == 0) bad++;
        free(copy);
    }
    CHECK(bad == 0);
    gw_free(&b);
}

static void test_versions(void) {
    gw_buf b = {0};
    gw_header(&b, 1, 0, 0);
    expect_status(&b, WL_ERR_BAD_VERSION, "v1");
    gw_free(&b);
    gw_header(&b, 0x03000000, 0, 0);
    expect_status(&b, WL_ERR_BAD_VERSION, "big-endian v3");
    gw_free(&b);
    gw_header(&b, 4, 0, 0);
    expect_status(&b, WL_ERR_BAD_VERSION, "v4");
    gw_free(&b);
    gw_header(&b, 2, 0, 0);
    expect_status(&b, WL_OK, "empty v2");
    gw_free(&b);
    gw_bytes(&b, "GGML", 4);
    gw_u32(&b, 3);
    expect_status(&b, WL_ERR_BAD_MAGIC, "wrong magic");
    gw_free(&b);
    gw_bytes(&b, "GG", 2);
    expect_status(&b, WL_ERR_TRUNCATED, "half a magic");
    gw_free(&b);
}

/* Header claiming n_kv keys followed by `pad` zero bytes. */
static void test_hostile_counts(void) {
    gw_buf b = {0};
    gw_header(&b, 3, UINT64_C(1) << 63, 0);
    for (int i = 0; i < 64; i++) gw_u8(&b, 0);
    expect_status(&b, WL_ERR_TRUNCATED, "tensor count 2^63");
    gw_free(&b);

    gw_header(&b, 3, 0, UINT64_MAX);
    for (int i = 0; i < 64; i++) gw_u8(&b, 0);
    expect_status(&b, WL_ERR_TRUNCATED, "kv count 2^64-1");
    gw_free(&b);

    gw_header(&b, 3, 0, 1);
    gw_u64(&b, UINT64_C(1) << 62); /* key length */
    gw_bytes(&b, "general.x", 9);
    gw_u32(&b, 0); gw_u8(&b, 0);
    expect_status(&b, WL_ERR_TRUNCATED, "key length past end");
    gw_free(&b);

    gw_header(&b, 3, 0, 1);
    gw_key(&b, "general.name", WL_GGUF_STRING);
    gw_u64(&b, 100);
    gw_bytes(&b, "short", 5);
    expect_status(&b, WL_ERR_TRUNCATED, "string value past end");
    gw_free(&b);

    gw_header(&b, 3, 0, 1);
    gw_key(&b, "tokenizer.ggml.tokens", WL_GGUF_ARRAY);
    gw_u32(&b, WL_GGUF_STRING); gw_u64(&b, UINT64_C(1) << 40);
    gw_str(&b, "a");
    expect_status(&b, WL_ERR_TRUNCATED, "array of 2^40 strings");
    gw_free(&b);

    gw_header(&b, 3, 0, 1);
    gw_key(&b, "x.scores", WL_GGUF_ARRAY);
    gw_u32(&b, WL_GGUF_FLOAT32); gw_u64(&b, UINT64_C(1) << 40);
    gw_f32(&b, 1);
    expect_status(&b, WL_ERR_TRUNCATED, "array of 2^40 floats");
    gw_free(&b);

    /* 2^62 u32 elements: count * 4 overflows 64 bits if computed naively. */
    gw_header(&b, 3, 0, 1);
    gw_key(&b, "x.ids", WL_GGUF_ARRAY);
    gw_u32(&b, WL_GGUF_UINT32); gw_u64(&b, UINT64_C(1) << 62);
    gw_u32(&b, 1);
    expect_status(&b, WL_ERR_TRUNCATED, "array count * size overflow");
    gw_free(&b);

    gw_header(&b, 3, 0, 1);
    gw_key(&b, "x.nested", WL_GGUF_ARRAY);
    gw_u32(&b, WL_GGUF_ARRAY); gw_u64(&b, 1);
    gw_u32(&b, WL_GGUF_UINT8); gw_u64(&b, UINT64_C(1) << 40);
    gw_u8(&b, 1);
    expect_status(&b, WL_ERR_TRUNCATED, "nested array of 2^40");
    gw_free(&b);

    /* 20 levels of one-element arrays: refused, not recursed into. */
    gw_header(&b, 3, 0, 1);
    gw_key(&b, "x.deep", WL_GGUF_ARRAY);
    for (int i = 0; i < 20; i++) { gw_u32(&b, WL_GGUF_ARRAY); gw_u64(&b, 1); }
    gw_u32(&b, WL_GGUF_UINT8); gw_u64(&b, 0);
    expect_status(&b, WL_ERR_BAD_VALUE, "arrays nested 20 deep");
    gw_free(&b);
}

static void test_hostile_values(void) {
    gw_buf b = {0};
    gw_header(&b, 3, 0, 1);
    gw_key(&b, "x.bad_type", 13); gw_u8(&b, 0);
    expect_status(&b, WL_ERR_BAD_VALUE, "kv type 13");
    gw_free(&b);

    gw_header(&b, 3, 0, 1);
    gw_key(&b, "x.bad_elem", WL_GGUF_ARRAY); gw_u32(&b, 99); gw_u64(&b, 0);
    expect_status(&b, WL_ERR_BAD_VALUE, "array element type 99");
    gw_free(&b);

    const char *bad_keys[] = {"bad\xff", "over\xc0\x80long", "surr\xed\xa0\x80", "cut\xe2\x82", "big\xf4\x90\x80\x80"};
    for (int k = 0; k < 5; k++) {
        gw_header(&b, 3, 0, 1);
        gw_kv_u32(&b, bad_keys[k], 1);
        expect_status(&b, WL_ERR_BAD_VALUE, "non-UTF-8 key");
        gw_free(&b);
    }
    gw_header(&b, 3, 0, 1);
    gw_kv_u32(&b, "ok.\xe2\x82\xac.\xf0\x9f\x98\x80", 1); /* euro sign and an emoji are fine */
    expect_status(&b, WL_OK, "UTF-8 key");
    gw_free(&b);

    /* The smallest possible kv: empty key, u8 value (13 bytes). */
    gw_header(&b, 3, 0, 1);
    gw_key(&b, "", WL_GGUF_UINT8); gw_u8(&b, 1);
    expect_status(&b, WL_OK, "empty key, one-byte value");
    gw_free(&b);

    gw_header(&b, 3, 1, 0);
    int64_t one[1] = {4};
    gw_tensor_info(&b, "bad\xff", 1, one, WL_TYPE_F32, 0);
    gw_pad(&b, 32);
    for (int i = 0; i < 16; i++) gw_u8(&b, 0);
    expect_status(&b, WL_ERR_BAD_VALUE, "non-UTF-8 tensor name");
    gw_free(&b);

    /* Nine levels of arrays are accepted, ten are not (as in web/gguf.js). */
    for (int levels = 9; levels <= 10; levels++) {
        gw_header(&b, 3, 0, 1);
        gw_key(&b, "x.deep", WL_GGUF_ARRAY);
        for (int i = 0; i < levels - 1; i++) { gw_u32(&b, WL_GGUF_ARRAY); gw_u64(&b, 1); }
        gw_u32(&b, WL_GGUF_UINT8); gw_u64(&b, 1); gw_u8(&b, 7);
        expect_status(&b, levels == 9 ? WL_OK : WL_ERR_BAD_VALUE, "nested arrays");
        gw_free(&b);
    }

    gw_header(&b, 3, 0, 2);
    gw_kv_u32(&b, "general.x", 1);
    gw_kv_u32(&b, "general.x", 2);
    expect_status(&b, WL_ERR_BAD_VALUE, "duplicate key");
    gw_free(&b);

    gw_header(&b, 3, 0, 1);
    gw_kv_u32(&b, "general.alignment", 48);
    expect_status(&b, WL_ERR_BAD_VALUE, "alignment 48");
    gw_free(&b);
    gw_header(&b, 3, 0, 1);
    gw_kv_u32(&b, "general.alignment", 0);
    expect_status(&b, WL_ERR_BAD_VALUE, "alignment 0");
    gw_free(&b);
    gw_header(&b, 3, 0, 1);
    gw_kv_str(&b, "general.alignment", "32");
    expect_status(&b, WL_ERR_BAD_VALUE, "alignment as a string");
    gw_free(&b);
}

/* One tensor info with the given fields, then 64 zero bytes of "data". */
static gw_buf one_tensor(const char *name, uint32_t n_dims, const int64_t *ne, uint32_t type, uint64_t offset) {
    gw_buf b = {0};
    gw_header(&b, 3, 1, 0);
    gw_tensor_info(&b, name, n_dims, ne, type, offset);
    gw_pad(&b, 32);
    for (int i = 0; i < 64; i++) gw_u8(&b, 0);
    return b;
}

static void test_hostile_tensors(void) {
    int64_t ne4[5] = {4, 1, 1, 1, 1};
    gw_buf b = one_tensor("t", 1, ne4, WL_TYPE_F32, 0);
    expect_status(&b, WL_OK, "baseline tensor");
    gw_free(&b);

    b = one_tensor("t", 5, ne4, WL_TYPE_F32, 0);
    expect_status(&b, WL_ERR_BAD_TENSOR, "5 dims");
    gw_free(&b);
    b = one_tensor("t", 0, ne4, WL_TYPE_F32, 0);
    expect_status(&b, WL_ERR_BAD_TENSOR, "0 dims");
    gw_free(&b);

    /* A negative dimension reads as a u64 of 2^64 - 1: past any file. */
    int64_t neg[2] = {4, -1};
    b = one_tensor("t", 2, neg, WL_TYPE_F32, 0);
    expect_status(&b, WL_ERR_TRUNCATED, "negative dim");
    gw_free(&b);

    /* 2^53 - 1 is the largest count both parsers (C and JS numbers) take. */
    int64_t safe_max[1] = {(INT64_C(1) << 53) - 1}, past_safe[1] = {INT64_C(1) << 53};
    b = one_tensor("t", 1, safe_max, 24 /* I8 */, 0);
    CHECK(parse_status(&b, 1) == WL_OK);
    gw_free(&b);
    b = one_tensor("t", 1, past_safe, 24 /* I8 */, 0);
    CHECK(parse_status(&b, 1) == WL_ERR_TRUNCATED);
    gw_free(&b);
    int64_t safe_split[2] = {INT64_C(1) << 27, INT64_C(1) << 26};
    b = one_tensor("t", 2, safe_split, 24 /* I8 */, 0);
    CHECK(parse_status(&b, 1) == WL_ERR_BAD_TENSOR); /* 2^53 elements */
    gw_free(&b);
    b = one_tensor("t", 1, ne4, WL_TYPE_F32, (UINT64_C(1) << 53) + 32);
    CHECK(parse_status(&b, 1) == WL_ERR_TRUNCATED);
    gw_free(&b);

    int64_t huge[2] = {INT64_C(1) << 32, INT64_C(1) << 32};
    b = one_tensor("t", 2, huge, WL_TYPE_F32, 0);
    expect_status(&b, WL_ERR_BAD_TENSOR, "dims product 2^64");
    gw_free(&b);

    /* 2^62 elements: 2^62 * 4 bytes would not even fit 64 bits. */
    int64_t big[2] = {INT64_C(1) << 31, INT64_C(1) << 31};
    b = one_tensor("t", 2, big, WL_TYPE_F32, 0);
    expect_status(&b, WL_ERR_BAD_TENSOR, "byte size overflow");
    gw_free(&b);

    /* 2^52 elements * 4 = 2^54 bytes: representable, so only the missing data fails. */
    int64_t fits[2] = {INT64_C(1) << 26, INT64_C(1) << 26};
    b = one_tensor("t", 2, fits, WL_TYPE_F32, 0);
    expect_status(&b, WL_ERR_TRUNCATED, "2^63-byte tensor in a small file");
    CHECK(parse_status(&b, 1) == WL_OK);
    gw_free(&b);

    int64_t ne64[1] = {64}; /* 256 bytes */
    b = one_tensor("t", 1, ne64, WL_TYPE_F32, UINT64_MAX - 31);
    expect_status(&b, WL_ERR_TRUNCATED, "offset + size overflow");
    CHECK(parse_status(&b, 1) == WL_ERR_TRUNCATED); /* even for a vocab-only read */
    gw_free(&b);

    b = one_tensor("t", 1, ne4, WL_TYPE_F32, UINT64_C(1) << 40);
    expect_status(&b, WL_ERR_TRUNCATED, "data past end");
    CHECK(parse_status(&b, 1) == WL_OK); /* fine for a vocab-only read */
    gw_free(&b);

    b = one_tensor("t", 1, ne4, WL_TYPE_F32, 4);
    expect_status(&b, WL_ERR_BAD_TENSOR, "misaligned offset");
    gw_free(&b);

    b = one_tensor("t", 1, ne4, 4, 0);
    expect_status(&b, WL_ERR_UNKNOWN_TYPE, "removed type 4 (Q4_2)");
    gw_free(&b);
    b = one_tensor("t", 1, ne4, 1000, 0);
    expect_status(&b, WL_ERR_UNKNOWN_TYPE, "type 1000");
    gw_free(&b);

    int64_t ne33[1] = {33};
    b = one_tensor("t", 1, ne33, WL_TYPE_Q4_0, 0);
    expect_status(&b, WL_ERR_BAD_TENSOR, "row not a multiple of the block");
    gw_free(&b);

    gw_header(&b, 3, 2, 0);
    gw_tensor_info(&b, "same", 1, ne4, WL_TYPE_F32, 0);
    gw_tensor_info(&b, "same", 1, ne4, WL_TYPE_F32, 32);
    gw_pad(&b, 32);
    for (int i = 0; i < 64; i++) gw_u8(&b, 0);
    expect_status(&b, WL_ERR_BAD_TENSOR, "duplicate tensor names");
    gw_free(&b);

    /* A tensor with a zero dimension has no bytes; ggml allows it. */
    int64_t zero[2] = {4, 0};
    b = one_tensor("t", 2, zero, WL_TYPE_F32, 0);
    expect_status(&b, WL_OK, "zero-sized tensor");
    gw_free(&b);
}

/* Many tensors: the sorted index must find every one of them. */
static void test_many_tensors(void) {
    enum { N = 3000 };
    gw_buf b = {0};
    gw_header(&b, 3, N, 0);
    int64_t ne[1] = {8};
    char name[32];
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "blk.%d.w", (i * 7919) % N);
        gw_tensor_info(&b, name, 1, ne, WL_TYPE_F32, (uint64_t)i * 32);
    }
    gw_pad(&b, 32);
    for (int i = 0; i < N * 32; i++) gw_u8(&b, (uint8_t)i);
    wl_gguf g;
    wl_error err = {0};
    CHECK(wl_gguf_parse(b.p, b.len, 0, &g, &err) == WL_OK);
    int found = 0;
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "blk.%d.w", i);
        const wl_gguf_tensor *t = wl_gguf_find_tensor(&g, name);
        if (t && wl_str_eq(t->name, name)) found++;
    }
    CHECK(found == N);
    wl_gguf_free(&g);
    gw_free(&b);
}

/* The reference vocab files are real llama.cpp output (vocab only, no data). */
static void test_real_vocab_files(void) {
    const char *dir = "/work/shared/data/vocab";
    DIR *d = opendir(dir);
    if (!d) { fprintf(stderr, "skipping real files: %s missing\n", dir); return; }
    struct dirent *e;
    int n_files = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".gguf") != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        FILE *fp = fopen(path, "rb");
        if (!fp) { CHECK(0); continue; }
        fseek(fp, 0, SEEK_END);
        long size = ftell(fp);
        fseek(fp, 0, SEEK_SET);
        uint8_t *buf = malloc((size_t)size);
        CHECK(fread(buf, 1, (size_t)size, fp) == (size_t)size);
        fclose(fp);
        wl_gguf g;
        wl_error err = {0};
        wl_status st = wl_gguf_parse(buf, (size_t)size, 1, &g, &err);
        if (st != WL_OK) { fprintf(stderr, "%s: %s\n", path, err.message); CHECK(0); free(buf); continue; }
        wl_str model;
        CHECK(wl_gguf_get_str(&g, "tokenizer.ggml.model", &model) && model.len > 0);
        const wl_gguf_kv *tokens = wl_gguf_find(&g, "tokenizer.ggml.tokens");
        CHECK(tokens && tokens->type == WL_GGUF_ARRAY && tokens->v.arr.type == WL_GGUF_STRING &&
              tokens->v.arr.count > 1000);
        printf("%s: v%u, %" PRIu64 " keys, %" PRIu64 " tensors, model %.*s, %" PRIu64 " tokens\n", e->d_name,
               g.version, g.n_kv, g.n_tensors, (int)model.len, model.ptr, tokens ? tokens->v.arr.count : 0);
        wl_gguf_free(&g);
        free(buf);
        n_files++;
    }
    closedir(d);
    CHECK(n_files >= 5);
}

int main(void) {
    test_value_types();
    test_valid_file(3, 0);
    test_valid_file(2, 0);
    test_valid_file(3, 64);
    test_valid_file(3, 8);
    test_every_prefix_fails();
    test_versions();
    test_hostile_counts();
    test_hostile_values();
    test_hostile_tensors();
    test_many_tensors();
    test_real_vocab_files();
    if (gw_failures) { fprintf(stderr, "test_gguf: %d failures\n", gw_failures); return 1; }
    printf("test_gguf: ok\n");
    return 0;
}
