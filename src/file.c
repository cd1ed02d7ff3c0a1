/* A GGUF shard set: one file, or the N shards gguf-split writes (each a
 * complete GGUF holding some of the tensors, with split.no / split.count /
 * split.tensors.count in its metadata). Shards arrive in any order and are
 * parsed in place; nothing is concatenated. */
#include "file.h"

#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct wl_file {
    int n_shards;
    wl_gguf *shards;                        /* ordered by split.no */
    int64_t n_tensors;
    const wl_gguf_tensor **tensors;         /* shard order, then file order */
    const wl_gguf_tensor **tensors_by_name; /* sorted, for lookups across shards */
};

/* The split position of one shard, read from its own metadata. */
typedef struct {
    int has_split;
    uint64_t no, count, tensors_count;
} file_split_info;

static file_split_info file_read_split(const wl_gguf *g) {
    file_split_info s = {0, 0, 0, 0};
    int has_no = wl_gguf_get_u64(g, "split.no", &s.no);
    int has_count = wl_gguf_get_u64(g, "split.count", &s.count);
    int has_total = wl_gguf_get_u64(g, "split.tensors.count", &s.tensors_count);
    s.has_split = has_no || has_count || has_total;
    if (s.has_split && !(has_no && has_count && has_total)) s.has_split = -1; /* partial: an error */
    return s;
}

/* Checks the split keys of every shard and orders `parsed` by split.no
 * into f->shards. A lone file without split keys is shard 0 of 1. */
static wl_status file_order_shards(wl_file *f, wl_gguf *parsed, int n, wl_error *err) {
    uint64_t total = 0;
    for (int i = 0; i < n; i++) total += parsed[i].n_tensors;
    for (int i = 0; i < n; i++) {
        file_split_info s = file_read_split(&parsed[i]);
        if (s.has_split < 0)
            return wl_fail(err, WL_ERR_SHARDS,
                           "shard %d has only some of split.no, split.count and split.tensors.count", i);
        if (!s.has_split) {
            if (n != 1)
                return wl_fail(err, WL_ERR_SHARDS, "%d buffers given but buffer %d has no split.* keys", n, i);
            f->shards[0] = parsed[0];
            return WL_OK;
        }
        if (s.count != (uint64_t)n)
            return wl_fail(err, WL_ERR_SHARDS,
                           "shard split.no=%" PRIu64 " says the set has %" PRIu64 " shards but %d were given",
                           s.no, s.count, n);
        if (s.no >= s.count)
            return wl_fail(err, WL_ERR_SHARDS, "split.no=%" PRIu64 " is not below split.count=%" PRIu64,
                           s.no, s.count);
        if (s.tensors_count != total)
            return wl_fail(err, WL_ERR_SHARDS,
                           "split.tensors.count=%" PRIu64 " in shard %" PRIu64 " but the shards hold %" PRIu64 " tensors",
                           s.tensors_count, s.no, total);
        if (f->shards[s.no].base)
            return wl_fail(err, WL_ERR_SHARDS, "shard split.no=%" PRIu64 " given twice", s.no);
        f->shards[s.no] = parsed[i];
    }
    return WL_OK; /* n distinct numbers below n: every shard is present exactly once */
}

static int file_cmp_tensor(const void *a, const void *b) {
    return wl_str_cmp((*(const wl_gguf_tensor *const *)a)->name, (*(const wl_gguf_tensor *const *)b)->name);
}

/* Lists every shard's tensors and sorts them by name, refusing a name held
 * by two shards (each shard already refused its own duplicates). */
static wl_status file_index_tensors(wl_file *f, wl_error *err) {
    uint64_t total = 0;
    for (int i = 0; i < f->n_shards; i++) total += f->shards[i].n_tensors;
    if (total > INT32_MAX)
        return wl_fail(err, WL_ERR_BAD_TENSOR, "%" PRIu64 " tensors is more than this runtime indexes", total);
    size_t n = (size_t)total;
    f->tensors = malloc((n ? n : 1) * sizeof *f->tensors);
    f->tensors_by_name = malloc((n ? n : 1) * sizeof *f->tensors_by_name);
    if (!f->tensors || !f->tensors_by_name)
        return wl_fail(err, WL_ERR_OOM, "out of memory indexing %zu tensors", n);
    size_t k = 0;
    for (int i = 0; i < f->n_shards; i++)
        for (uint64_t j = 0; j < f->shards[i].n_tensors; j++) f->tensors[k++] = &f->shards[i].tensors[j];
    f->n_tensors = (int64_t)n;
    memcpy(f->tensors_by_name, f->tensors, n * sizeof *f->tensors);
    qsort(f->tensors_by_name, n, sizeof *f->tensors_by_name, file_cmp_tensor);
    for (size_t i = 1; i < n; i++) {
        if (wl_str_cmp(f->tensors_by_name[i - 1]->name, f->tensors_by_name[i]->name) == 0) {
            wl_str s = f->tensors_by_name[i]->name;
            int shown = s.len > 80 ? 80 : (int)s.len;
            return wl_fail(err, WL_ERR_SHARDS, "tensor '%.*s' appears in two shards", shown, s.ptr);
        }
    }
    return WL_OK;
}

/* A shard length crosses from JS as a double: it must be a whole number
 * below 2^53 (exact in a double; JS has no larger sizes) that fits size_t.
 * The 2^53 bound also keeps (double)SIZE_MAX, which rounds up to 2^64 on
 * 64-bit hosts, from letting 2^64 through to an undefined conversion. */
static int file_len_from_double(double d, size_t *out) {
    if (!(d >= 0) || d != floor(d) || d >= 9007199254740992.0 || d > (double)SIZE_MAX) return 0;
    *out = (size_t)d;
    return 1;
}

static wl_status file_parse_shards(const uint8_t *const *shards, const double *lens, int n,
                                   int allow_no_data, wl_gguf *parsed, wl_error *err) {
    for (int i = 0; i < n; i++) {
        size_t len;
        if (!file_len_from_double(lens[i], &len))
            return wl_fail(err, WL_ERR_BAD_ARG, "shard %d: length %g is not a byte count", i, lens[i]);
        wl_status st = wl_gguf_parse(shards[i], len, allow_no_data, &parsed[i], err);
        if (st) {
            if (n > 1 && err) {
                char inner[sizeof err->message];
                memcpy(inner, err->message, sizeof inner);
                wl_fail(err, st, "shard %d: %s", i, inner);
            }
            return st;
        }
    }
    return WL_OK;
}

wl_file *wl_file_open(const uint8_t *const *shards, const double *lens, int n_shards, int allow_no_data,
                      wl_error *err) {
    if (err) { err->code = WL_OK; err->message[0] = 0; }
    if (n_shards < 1 || n_shards > UINT16_MAX || !shards || !lens) {
        wl_fail(err, WL_ERR_BAD_ARG, "wl_file_open needs 1..65535 shards (got %d)", n_shards);
        return NULL;
    }
    wl_file *f = calloc(1, sizeof *f);
    wl_gguf *parsed = calloc((size_t)n_shards, sizeof *parsed);
    if (f) f->shards = calloc((size_t)n_shards, sizeof *f->shards);
    if (!f || !parsed || !f->shards) {
        wl_fail(err, WL_ERR_OOM, "out of memory opening %d shards", n_shards);
        if (f) free(f->shards);
        free(f);
        free(parsed);
        return NULL;
    }
    f->n_shards = n_shards;
    wl_status st = file_parse_shards(shards, lens, n_shards, allow_no_data, parsed, err);
    if (!st) st = file_order_shards(f, parsed, n_shards, err);
    if (st) {
        /* parsed still owns every shard: f->shards only borrowed some. */
        for (int i = 0; i < n_shards; i++) wl_gguf_free(&parsed[i]);
        free(parsed);
        free(f->shards);
        free(f);
        return NULL;
    }
    free(parsed); /* ownership moved into f->shards */
    st = file_index_tensors(f, err);
    if (st) {
        wl_file_free(f);
        return NULL;
    }
    return f;
}

void wl_file_free(wl_file *f) {
    if (!f) return;
    for (int i = 0; i < f->n_shards; i++) wl_gguf_free(&f->shards[i]);
    free(f->shards);
    free(f->tensors);
    free(f->tensors_by_name);
    free(f);
}

int wl_file_tensor_count(const wl_file *f) { return f ? (int)f->n_tensors : 0; }

const wl_gguf *wl_file_meta(const wl_file *f) { return f ? &f->shards[0] : NULL; }

int wl_file_n_shards(const wl_file *f) { return f ? f->n_shards : 0; }

const wl_gguf *wl_file_shard(const wl_file *f, int i) {
    return f && i >= 0 && i < f->n_shards ? &f->shards[i] : NULL;
}

const wl_gguf_tensor *wl_file_tensor(const wl_file *f, int64_t i) {
    return f && i >= 0 && i < f->n_tensors ? f->tensors[i] : NULL;
}

const wl_gguf_tensor *wl_file_find_tensor(const wl_file *f, const char *name) {
    if (!f || !name) return NULL;
    wl_str want = {name, strlen(name)};
    size_t lo = 0, hi = (size_t)f->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = wl_str_cmp(f->tensors_by_name[mid]->name, want);
        if (c == 0) return f->tensors_by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}
