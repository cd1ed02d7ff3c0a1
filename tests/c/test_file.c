/* Shard-set tests: a single file, a 3-shard gguf-split set given in any
 * order, and every way a set can be incomplete or inconsistent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"
#include "gguf_writer.h"

/* One shard of a split set: split keys (unless no_split), general.name on
 * shard 0 only (as gguf-split writes it), then one F32[4] tensor per name. */
typedef struct {
    int no, count, total; /* split.no, split.count, split.tensors.count */
    int no_split;         /* write no split.* keys at all */
    int partial_split;    /* write split.no only */
    const char *names[4];
} shard_spec;

static gw_buf make_shard(const shard_spec *s) {
    int n_t = 0;
    while (n_t < 4 && s->names[n_t]) n_t++;
    int n_kv = (s->no_split ? 0 : s->partial_split ? 1 : 3) + (s->no == 0 ? 1 : 0);
    gw_buf b = {0};
    gw_header(&b, 3, (uint64_t)n_t, (uint64_t)n_kv);
    if (s->no == 0) gw_kv_str(&b, "general.name", "sharded");
    if (!s->no_split) {
        gw_kv_u16(&b, "split.no", (uint16_t)s->no);
        if (!s->partial_split) {
            gw_kv_u16(&b, "split.count", (uint16_t)s->count);
            gw_kv_i32(&b, "split.tensors.count", s->total);
        }
    }
    int64_t ne[1] = {4};
    for (int i = 0; i < n_t; i++) gw_tensor_info(&b, s->names[i], 1, ne, WL_TYPE_F32, (uint64_t)i * 32);
    gw_pad(&b, 32);
    /* Each tensor's first float identifies it: shard * 10 + index. */
    for (int i = 0; i < n_t; i++) {
        gw_f32(&b, (float)(s->no * 10 + i));
        for (int k = 1; k < 8; k++) gw_f32(&b, 0);
    }
    return b;
}

/* Opens the given shards (order as given) and returns the file or NULL. */
static wl_file *open_set(gw_buf *bufs, int n, wl_error *err) {
    const uint8_t *ptrs[8];
    double lens[8];
    for (int i = 0; i < n; i++) { ptrs[i] = bufs[i].p; lens[i] = (double)bufs[i].len; }
    return wl_file_open(ptrs, lens, n, 0, err);
}

static float first_float(const wl_gguf_tensor *t) {
    float x;
    memcpy(&x, t->data, 4);
    return x;
}

static void test_single_file(void) {
    shard_spec s = {.no = 0, .no_split = 1, .names = {"tok_embd.weight", "output.weight"}};
    gw_buf b = make_shard(&s);
    wl_error err = {0};
    wl_file *f = open_set(&b, 1, &err);
    CHECK(f != NULL);
    if (!f) { fprintf(stderr, "single: %s\n", err.message); gw_free(&b); return; }
    CHECK(err.code == WL_OK);
    CHECK(wl_file_n_shards(f) == 1 && wl_file_tensor_count(f) == 2);
    wl_str name;
    CHECK(wl_gguf_get_str(wl_file_meta(f), "general.name", &name) && wl_str_eq(name, "sharded"));
    const wl_gguf_tensor *t = wl_file_find_tensor(f, "output.weight");
    CHECK(t && first_float(t) == 1.0f && t->data >= b.p && t->data < b.p + b.len);
    CHECK(wl_file_tensor(f, 0) && wl_str_eq(wl_file_tensor(f, 0)->name, "tok_embd.weight"));
    CHECK(wl_file_tensor(f, 2) == NULL && wl_file_tensor(f, -1) == NULL);
    CHECK(wl_file_find_tensor(f, "missing") == NULL);
    wl_file_free(f);
    gw_free(&b);
}

static void make_three(gw_buf out[3]) {
    shard_spec s0 = {.no = 0, .count = 3, .total = 5, .names = {"a", "b"}};
    shard_spec s1 = {.no = 1, .count = 3, .total = 5, .names = {"c", "d"}};
    shard_spec s2 = {.no = 2, .count = 3, .total = 5, .names = {"e"}};
    out[0] = make_shard(&s0);
    out[1] = make_shard(&s1);
    out[2] = make_shard(&s2);
}

static void test_split_any_order(void) {
    gw_buf s[3];
    make_three(s);
    int orders[3][3] = {{0, 1, 2}, {2, 0, 1}, {1, 2, 0}};
    for (int o = 0; o < 3; o++) {
        gw_buf given[3] = {s[orders[o][0]], s[orders[o][1]], s[orders[o][2]]};
        wl_error err = {0};
        wl_file *f = open_set(given, 3, &err);
        CHECK(f != NULL);
        if (!f) { fprintf(stderr, "split order %d: %s\n", o, err.message); continue; }
        CHECK(wl_file_n_shards(f) == 3 && wl_file_tensor_count(f) == 5);
        /* Metadata and iteration follow split.no, not the order given. */
        CHECK(wl_file_meta(f)->base == s[0].p);
        CHECK(wl_file_shard(f, 2)->base == s[2].p);
        wl_str name;
        CHECK(wl_gguf_get_str(wl_file_meta(f), "general.name", &name));
        const char *want[5] = {"a", "b", "c", "d", "e"};
        for (int i = 0; i < 5; i++) CHECK(wl_str_eq(wl_file_tensor(f, i)->name, want[i]));
        const wl_gguf_tensor *d = wl_file_find_tensor(f, "d");
        CHECK(d && first_float(d) == 11.0f && d->data >= s[1].p && d->data < s[1].p + s[1].len);
        const wl_gguf_tensor *e = wl_file_find_tensor(f, "e");
        CHECK(e && first_float(e) == 20.0f);
        wl_file_free(f);
    }
    for (int i = 0; i < 3; i++) gw_free(&s[i]);
}

static void expect_open_fails(gw_buf *bufs, int n, wl_status want, const char *what) {
    wl_error err = {0};
    wl_file *f = open_set(bufs, n, &err);
    if (f || err.code != want) {
        fprintf(stderr, "%s: got %s (%s), want %s\n", what, f ? "success" : wl_status_name(err.code), err.message,
                wl_status_name(want));
        gw_failures++;
    }
    wl_file_free(f);
}

static void test_bad_sets(void) {
    gw_buf s[3];
    make_three(s);
    gw_buf missing[2] = {s[0], s[2]};
    expect_open_fails(missing, 2, WL_ERR_SHARDS, "missing shard 1");
    gw_buf dup[3] = {s[0], s[1], s[1]};
    expect_open_fails(dup, 3, WL_ERR_SHARDS, "shard 1 twice, shard 2 missing");
    gw_buf four[4] = {s[0], s[1], s[2], s[2]};
    expect_open_fails(four, 4, WL_ERR_SHARDS, "four buffers for a set of three");

    shard_spec wrong_total = {.no = 2, .count = 3, .total = 6, .names = {"e"}};
    gw_buf t[3] = {s[0], s[1], make_shard(&wrong_total)};
    expect_open_fails(t, 3, WL_ERR_SHARDS, "split.tensors.count disagrees");
    gw_free(&t[2]);

    shard_spec clash = {.no = 2, .count = 3, .total = 5, .names = {"a"}};
    gw_buf c[3] = {s[0], s[1], make_shard(&clash)};
    expect_open_fails(c, 3, WL_ERR_SHARDS, "tensor in two shards");
    gw_free(&c[2]);

    shard_spec out_of_range = {.no = 3, .count = 3, .total = 5, .names = {"e"}};
    gw_buf r[3] = {s[0], s[1], make_shard(&out_of_range)};
    expect_open_fails(r, 3, WL_ERR_SHARDS, "split.no >= split.count");
    gw_free(&r[2]);

    shard_spec plain = {.no = 2, .no_split = 1, .names = {"e"}};
    gw_buf p[3] = {s[0], s[1], make_shard(&plain)};
    expect_open_fails(p, 3, WL_ERR_SHARDS, "one buffer without split keys");
    gw_free(&p[2]);

    shard_spec partial = {.no = 0, .partial_split = 1, .names = {"a"}};
    gw_buf q = make_shard(&partial);
    expect_open_fails(&q, 1, WL_ERR_SHARDS, "split.no without split.count");
    gw_free(&q);

    /* A parse error in one shard names that shard. */
    gw_buf bad[3] = {s[0], s[1], s[2]};
    bad[2].len = 20;
    wl_error err = {0};
    CHECK(open_set(bad, 3, &err) == NULL && err.code == WL_ERR_TRUNCATED && strstr(err.message, "shard 2"));
    for (int i = 0; i < 3; i++) gw_free(&s[i]);
}

static void test_bad_args(void) {
    shard_spec s = {.no = 0, .no_split = 1, .names = {"a"}};
    gw_buf b = make_shard(&s);
    const uint8_t *ptr = b.p;
    double lens[6] = {-1, 0.5, NAN, 1e30, 18446744073709551616.0 /* 2^64 */, INFINITY};
    for (int i = 0; i < 6; i++) {
        wl_error err = {0};
        CHECK(wl_file_open(&ptr, &lens[i], 1, 0, &err) == NULL && err.code == WL_ERR_BAD_ARG);
    }
    wl_error err = {0};
    double len = (double)b.len;
    CHECK(wl_file_open(&ptr, &len, 0, 0, &err) == NULL && err.code == WL_ERR_BAD_ARG);
    CHECK(wl_file_open(NULL, &len, 1, 0, &err) == NULL && err.code == WL_ERR_BAD_ARG);
    /* A short length cuts the data off: only allow_no_data accepts that. */
    double short_len = (double)(b.len - 20); /* 12 of the 16 bytes remain */
    CHECK(wl_file_open(&ptr, &short_len, 1, 0, &err) == NULL && err.code == WL_ERR_TRUNCATED);
    wl_file *f = wl_file_open(&ptr, &short_len, 1, 1, &err);
    CHECK(f && err.code == WL_OK && wl_file_find_tensor(f, "a") && wl_file_find_tensor(f, "a")->data == NULL);
    wl_file_free(f);
    wl_file_free(NULL);
    CHECK(wl_file_tensor_count(NULL) == 0 && wl_file_meta(NULL) == NULL);
    gw_free(&b);
}

static void test_error_api(void) {
    wl_error *err = wl_error_new();
    CHECK(err && wl_error_code(err) == WL_OK && wl_error_message(err)[0] == 0);
    const uint8_t *junk = (const uint8_t *)"GGML....";
    double len = 8;
    CHECK(wl_file_open(&junk, &len, 1, 0, err) == NULL);
    CHECK(wl_error_code(err) == WL_ERR_BAD_MAGIC && strstr(wl_error_message(err), "GGUF"));
    wl_error_free(err);
    void *p = wl_alloc(0);
    CHECK(p != NULL);
    wl_free(p);
}

/* The model the package ships: a real file with data, opened as a set of one. */
static void test_shipped_model(void) {
    const char *path = "models/shakespeare.gguf";
    FILE *fp = fopen(path, "rb");
    if (!fp) { fprintf(stderr, "skipping %s: not present\n", path); return; }
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)size);
    CHECK(fread(buf, 1, (size_t)size, fp) == (size_t)size);
    fclose(fp);
    const uint8_t *ptr = buf;
    double len = (double)size;
    wl_error err = {0};
    wl_file *f = wl_file_open(&ptr, &len, 1, 0, &err);
    CHECK(f != NULL);
    if (!f) { fprintf(stderr, "%s: %s\n", path, err.message); free(buf); return; }
    const wl_gguf *g = wl_file_meta(f);
    wl_str arch;
    CHECK(wl_gguf_get_str(g, "general.architecture", &arch) && arch.len > 0);
    CHECK(wl_file_tensor_count(f) > 0 && wl_file_find_tensor(f, "token_embd.weight") != NULL);
    uint64_t total = 0;
    for (int i = 0; i < wl_file_tensor_count(f); i++) {
        const wl_gguf_tensor *t = wl_file_tensor(f, i);
        CHECK(t->data && (size_t)(t->data - buf) % g->alignment == 0);
        CHECK((size_t)(t->data - buf) + t->n_bytes <= (size_t)size);
        total += t->n_bytes;
    }
    CHECK(total <= (uint64_t)size - g->data_offset);
    printf("%s: %.*s, %d tensors, %.1f MB of data\n", path, (int)arch.len, arch.ptr, wl_file_tensor_count(f),
           (double)total / 1e6);
    wl_file_free(f);
    free(buf);
}

int main(void) {
    test_single_file();
    test_split_any_order();
    test_bad_sets();
    test_bad_args();
    test_error_api();
    test_shipped_model();
    if (gw_failures) { fprintf(stderr, "test_file: %d failures\n", gw_failures); return 1; }
    printf("test_file: ok\n");
    return 0;
}
