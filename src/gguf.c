/* GGUF v2/v3 parser. The file is untrusted: every count and length is
 * compared with the bytes that remain before it is used to allocate or loop,
 * so a hostile header can make us allocate at most a small multiple of the
 * file size and can never make us read past `len`. */
#include "gguf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_MAGIC "GGUF"
#define GGUF_DEFAULT_ALIGNMENT 32
/* Arrays of arrays are legal GGUF; nobody nests deeply, and a depth limit
 * keeps a file of nested headers from exhausting the (small, wasm) stack.
 * Nine levels of arrays, the same limit web/gguf.js applies. */
#define GGUF_MAX_ARRAY_DEPTH 9
/* Smallest encodings, used to bound counts before allocating:
 * kv = key length (8) + type (4) + a one-byte value (keys may be empty);
 * tensor info = name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8). */
#define GGUF_MIN_KV_BYTES 13
#define GGUF_MIN_TENSOR_INFO_BYTES 32

/* Counts, dimensions and offsets of 2^53 or more are refused: no file
 * is 8 PiB, and 2^53 is where web/gguf.js (JS numbers) stops, so both
 * parsers accept exactly the same files. It also keeps every size product
 * below 2^64 without further checks (2^53 elements * 292 bytes). */
#define GGUF_MAX_COUNT ((UINT64_C(1) << 53) - 1) /* JS's Number.MAX_SAFE_INTEGER */

/* ---- bounded little-endian reader ---- */

typedef struct {
    const uint8_t *base;
    size_t len;
    size_t pos;
} gguf_reader;

static size_t gguf_remaining(const gguf_reader *r) { return r->len - r->pos; }

static int gguf_read_bytes(gguf_reader *r, void *dst, size_t n) {
    if (n > gguf_remaining(r)) return 0;
    memcpy(dst, r->base + r->pos, n);
    r->pos += n;
    return 1;
}

/* Assembled byte by byte so the result does not depend on host endianness. */
static int gguf_read_le(gguf_reader *r, int n_bytes, uint64_t *out) {
    uint8_t b[8];
    if (!gguf_read_bytes(r, b, (size_t)n_bytes)) return 0;
    uint64_t v = 0;
    for (int i = n_bytes - 1; i >= 0; i--) v = (v << 8) | b[i];
    *out = v;
    return 1;
}

static int gguf_read_u32(gguf_reader *r, uint32_t *out) {
    uint64_t v;
    if (!gguf_read_le(r, 4, &v)) return 0;
    *out = (uint32_t)v;
    return 1;
}

static int gguf_read_u64(gguf_reader *r, uint64_t *out) { return gguf_read_le(r, 8, out); }

/* A string is a u64 length then that many bytes; it stays in the buffer. */
static wl_status gguf_read_str(gguf_reader *r, wl_str *out, const char *what, wl_error *err) {
    size_t at = r->pos;
    uint64_t n;
    if (!gguf_read_u64(r, &n))
        return wl_fail(err, WL_ERR_TRUNCATED, "%s: string length at offset %zu is cut off", what, at);
    if (n > gguf_remaining(r))
        return wl_fail(err, WL_ERR_TRUNCATED,
                       "%s: string length %" PRIu64 " at offset %zu runs past the end of the file (%zu bytes)",
                       what, n, at, r->len);
    out->ptr = (const char *)(r->base + r->pos);
    out->len = n;
    r->pos += (size_t)n;
    return WL_OK;
}

/* ---- small helpers ---- */

int wl_str_eq(wl_str s, const char *cstr) {
    size_t n = strlen(cstr);
    return s.len == n && (n == 0 || memcmp(s.ptr, cstr, n) == 0);
}

int wl_str_cmp(wl_str a, wl_str b) {
    uint64_t n = a.len < b.len ? a.len : b.len;
    int c = n ? memcmp(a.ptr, b.ptr, (size_t)n) : 0;
    if (c) return c;
    return (a.len > b.len) - (a.len < b.len);
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int gguf_utf8_valid(const uint8_t *s, uint64_t n) {
    uint64_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) { i++; continue; }
        int extra;
        uint32_t cp, min;
        if ((c & 0xE0) == 0xC0) { extra = 1; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { extra = 2; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { extra = 3; cp = c & 0x07; min = 0x10000; }
        else return 0;
        if ((uint64_t)extra > n - i - 1) return 0;
        for (int k = 1; k <= extra; k++) {
            uint8_t cc = s[i + (uint64_t)k];
            if ((cc & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (cc & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
        i += (uint64_t)extra + 1;
    }
    return 1;
}

/* Size of one encoded element of a fixed-size kv type; 0 for string/array/unknown. */
static size_t gguf_scalar_size(uint32_t type) {
    switch (type) {
    case WL_GGUF_UINT8: case WL_GGUF_INT8: case WL_GGUF_BOOL: return 1;
    case WL_GGUF_UINT16: case WL_GGUF_INT16: return 2;
    case WL_GGUF_UINT32: case WL_GGUF_INT32: case WL_GGUF_FLOAT32: return 4;
    case WL_GGUF_UINT64: case WL_GGUF_INT64: case WL_GGUF_FLOAT64: return 8;
    default: return 0;
    }
}

static int gguf_is_signed(uint32_t type) {
    return type == WL_GGUF_INT8 || type == WL_GGUF_INT16 || type == WL_GGUF_INT32 || type == WL_GGUF_INT64;
}

static int gguf_is_float(uint32_t type) { return type == WL_GGUF_FLOAT32 || type == WL_GGUF_FLOAT64; }

/* Decodes one scalar of `type` from raw little-endian bytes into the value
 * union's form: unsigned and bool in u64, signed in i64 (sign-extended), floats in f64. */
static void gguf_decode_scalar(uint32_t type, const uint8_t *p, wl_gguf_kv *kv) {
    size_t n = gguf_scalar_size(type);
    uint64_t raw = 0;
    for (size_t i = n; i-- > 0;) raw = (raw << 8) | p[i];
    if (type == WL_GGUF_FLOAT32) {
        uint32_t bits = (uint32_t)raw;
        float f;
        memcpy(&f, &bits, 4);
        kv->v.f64 = f;
    } else if (type == WL_GGUF_FLOAT64) {
        memcpy(&kv->v.f64, &raw, 8);
    } else if (gguf_is_signed(type)) {
        int shift = (int)(64 - 8 * n);
        kv->v.i64 = (int64_t)(raw << shift) >> shift;
    } else {
        kv->v.u64 = raw;
    }
}

/* ---- metadata ---- */

/* Skips over the elements of an array, checking every nested length. Counts
 * are compared with the bytes left before looping, so a count of 2^40 in a
 * small file fails at once instead of iterating. */
static wl_status gguf_skip_array(gguf_reader *r, uint32_t elem_type, uint64_t count, int depth,
                                 const char *key, wl_error *err) {
    if (count > GGUF_MAX_COUNT)
        return wl_fail(err, WL_ERR_TRUNCATED, "key '%s': array count %" PRIu64 " is larger than any file",
                       key, count);
    size_t elem = gguf_scalar_size(elem_type);
    if (elem) {
        if (count > gguf_remaining(r) / elem)
            return wl_fail(err, WL_ERR_TRUNCATED,
                           "key '%s': array of %" PRIu64 " elements at offset %zu runs past the end of the file",
                           key, count, r->pos);
        r->pos += (size_t)(count * elem);
        return WL_OK;
    }
    if (elem_type == WL_GGUF_STRING) {
        if (count > gguf_remaining(r) / 8)
            return wl_fail(err, WL_ERR_TRUNCATED,
                           "key '%s': array of %" PRIu64 " strings at offset %zu runs past the end of the file",
                           key, count, r->pos);
        for (uint64_t i = 0; i < count; i++) {
            wl_str s;
            wl_status st = gguf_read_str(r, &s, key, err);
            if (st) return st;
        }
        return WL_OK;
    }
    if (elem_type == WL_GGUF_ARRAY) {
        if (count > gguf_remaining(r) / 12)
            return wl_fail(err, WL_ERR_TRUNCATED,
                           "key '%s': array of %" PRIu64 " arrays at offset %zu runs past the end of the file",
                           key, count, r->pos);
        /* An empty array of arrays opens no deeper level (web/gguf.js agrees). */
        if (count > 0 && depth >= GGUF_MAX_ARRAY_DEPTH)
            return wl_fail(err, WL_ERR_BAD_VALUE, "key '%s': arrays nested deeper than %d levels",
                           key, GGUF_MAX_ARRAY_DEPTH);
        for (uint64_t i = 0; i < count; i++) {
            uint32_t inner_type;
            uint64_t inner_count;
            if (!gguf_read_u32(r, &inner_type) || !gguf_read_u64(r, &inner_count))
                return wl_fail(err, WL_ERR_TRUNCATED, "key '%s': nested array header cut off at offset %zu",
                               key, r->pos);
            wl_status st = gguf_skip_array(r, inner_type, inner_count, depth + 1, key, err);
            if (st) return st;
        }
        return WL_OK;
    }
    return wl_fail(err, WL_ERR_BAD_VALUE, "key '%s': unknown array element type %u", key, elem_type);
}

/* Reads the value of one kv (its type is already in kv->type). */
static wl_status gguf_read_value(gguf_reader *r, wl_gguf_kv *kv, const char *key, wl_error *err) {
    size_t n = gguf_scalar_size(kv->type);
    if (n) {
        if (n > gguf_remaining(r))
            return wl_fail(err, WL_ERR_TRUNCATED, "key '%s': value at offset %zu is cut off", key, r->pos);
        gguf_decode_scalar(kv->type, r->base + r->pos, kv);
        r->pos += n;
        return WL_OK;
    }
    if (kv->type == WL_GGUF_STRING) return gguf_read_str(r, &kv->v.str, key, err);
    if (kv->type == WL_GGUF_ARRAY) {
        uint32_t elem_type;
        uint64_t count;
        if (!gguf_read_u32(r, &elem_type) || !gguf_read_u64(r, &count))
            return wl_fail(err, WL_ERR_TRUNCATED, "key '%s': array header cut off at offset %zu", key, r->pos);
        size_t start = r->pos;
        wl_status st = gguf_skip_array(r, elem_type, count, 1, key, err);
        if (st) return st;
        kv->v.arr.type = (wl_gguf_kv_type)elem_type;
        kv->v.arr.count = count;
        kv->v.arr.data = r->base + start;
        kv->v.arr.n_bytes = r->pos - start;
        return WL_OK;
    }
    return wl_fail(err, WL_ERR_BAD_VALUE, "key '%s': unknown value type %u", key, (unsigned)kv->type);
}

/* Copies a key into a NUL-terminated, truncated buffer for error messages. */
static void gguf_key_for_message(wl_str key, char *buf, size_t size) {
    size_t n = key.len < size - 1 ? (size_t)key.len : size - 1;
    memcpy(buf, key.ptr, n);
    buf[n] = 0;
}

static wl_status gguf_read_kv(gguf_reader *r, wl_gguf_kv *kv, wl_error *err) {
    size_t at = r->pos;
    wl_status st = gguf_read_str(r, &kv->key, "metadata key", err);
    if (st) return st;
    if (!gguf_utf8_valid((const uint8_t *)kv->key.ptr, kv->key.len))
        return wl_fail(err, WL_ERR_BAD_VALUE, "metadata key at offset %zu is not valid UTF-8", at);
    char key[96];
    gguf_key_for_message(kv->key, key, sizeof key);
    uint32_t type;
    if (!gguf_read_u32(r, &type))
        return wl_fail(err, WL_ERR_TRUNCATED, "key '%s': value type cut off at offset %zu", key, r->pos);
    if (type > WL_GGUF_FLOAT64)
        return wl_fail(err, WL_ERR_BAD_VALUE, "key '%s': unknown value type %u", key, type);
    kv->type = (wl_gguf_kv_type)type;
    return gguf_read_value(r, kv, key, err);
}

/* ---- tensor infos ---- */


/* Reads the n_dims dimensions, refusing any that (or whose product) exceeds
 * GGUF_MAX_COUNT; unused dimensions are 1. */
static wl_status gguf_read_dims(gguf_reader *r, wl_gguf_tensor *t, const char *name, wl_error *err) {
    uint64_t n_elems = 1;
    for (int d = 0; d < WL_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        uint64_t ne;
        if (!gguf_read_u64(r, &ne))
            return wl_fail(err, WL_ERR_TRUNCATED, "tensor '%s': dimensions cut off at offset %zu", name, r->pos);
        if (ne > GGUF_MAX_COUNT)
            return wl_fail(err, WL_ERR_TRUNCATED, "tensor '%s': dimension %u = %" PRIu64 " is larger than any file",
                           name, d, ne);
        if (ne != 0 && n_elems > GGUF_MAX_COUNT / ne)
            return wl_fail(err, WL_ERR_BAD_TENSOR, "tensor '%s': element count reaches 2^53", name);
        n_elems *= ne;
        t->ne[d] = (int64_t)ne;
    }
    return WL_OK;
}

static wl_status gguf_read_tensor_info(gguf_reader *r, wl_gguf_tensor *t, uint32_t alignment,
                                       wl_error *err) {
    size_t at = r->pos;
    wl_status st = gguf_read_str(r, &t->name, "tensor name", err);
    if (st) return st;
    /* Names are looked up as C strings and shown in messages: UTF-8 like keys. */
    if (!gguf_utf8_valid((const uint8_t *)t->name.ptr, t->name.len))
        return wl_fail(err, WL_ERR_BAD_VALUE, "tensor name at offset %zu is not valid UTF-8", at);
    char name[96];
    gguf_key_for_message(t->name, name, sizeof name);
    if (!gguf_read_u32(r, &t->n_dims))
        return wl_fail(err, WL_ERR_TRUNCATED, "tensor '%s': info cut off at offset %zu", name, r->pos);
    if (t->n_dims < 1 || t->n_dims > WL_GGUF_MAX_DIMS)
        return wl_fail(err, WL_ERR_BAD_TENSOR, "tensor '%s' (info at offset %zu): %u dimensions (1..%d allowed)",
                       name, at, t->n_dims, WL_GGUF_MAX_DIMS);
    st = gguf_read_dims(r, t, name, err);
    if (st) return st;
    uint32_t type;
    if (!gguf_read_u32(r, &type))
        return wl_fail(err, WL_ERR_TRUNCATED, "tensor '%s': info cut off at offset %zu", name, r->pos);
    /* Any id GGUF defines is accepted here (sizes are all the parser needs);
     * whether kernels exist for it is the model loader's question. */
    const wl_type_traits *ts = wl_type_get(type);
    if (!ts) return wl_fail(err, WL_ERR_UNKNOWN_TYPE, "tensor '%s': unknown ggml type %u", name, type);
    t->type = (wl_type)type;
    if (t->ne[0] % ts->block_size != 0)
        return wl_fail(err, WL_ERR_BAD_TENSOR,
                       "tensor '%s': row length %" PRId64 " is not a multiple of the block size %d",
                       name, t->ne[0], ts->block_size);
    uint64_t n_elems = (uint64_t)(t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3]);
    t->n_bytes = n_elems / (uint64_t)ts->block_size * ts->type_size;
    if (!gguf_read_u64(r, &t->offset))
        return wl_fail(err, WL_ERR_TRUNCATED, "tensor '%s': info cut off at offset %zu", name, r->pos);
    if (t->offset > GGUF_MAX_COUNT)
        return wl_fail(err, WL_ERR_TRUNCATED, "tensor '%s': data offset %" PRIu64 " is larger than any file",
                       name, t->offset);
    if (t->offset % alignment != 0)
        return wl_fail(err, WL_ERR_BAD_TENSOR, "tensor '%s': data offset %" PRIu64 " is not a multiple of the alignment %u",
                       name, t->offset, alignment);
    return WL_OK;
}

/* Points each tensor at its bytes, or fails if they are not all present.
 * With allow_no_data, a tensor outside the buffer gets data = NULL. */
static wl_status gguf_bind_tensor_data(wl_gguf *g, int allow_no_data, wl_error *err) {
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        wl_gguf_tensor *t = &g->tensors[i];
        int inside = g->data_offset <= g->len && t->offset <= g->len - g->data_offset &&
                     t->n_bytes <= g->len - g->data_offset - t->offset;
        if (inside) {
            t->data = g->base + g->data_offset + t->offset;
        } else if (allow_no_data) {
            t->data = NULL;
        } else {
            char name[96];
            gguf_key_for_message(t->name, name, sizeof name);
            return wl_fail(err, WL_ERR_TRUNCATED,
                           "tensor '%s': %" PRIu64 " bytes at data offset %" PRIu64 " (section starts at %" PRIu64
                           ") run past the end of the file (%zu bytes)",
                           name, t->n_bytes, t->offset, g->data_offset, g->len);
        }
    }
    return WL_OK;
}

/* ---- indexes ---- */

static int gguf_cmp_kv(const void *a, const void *b) {
    return wl_str_cmp((*(const wl_gguf_kv *const *)a)->key, (*(const wl_gguf_kv *const *)b)->key);
}

static int gguf_cmp_tensor(const void *a, const void *b) {
    return wl_str_cmp((*(const wl_gguf_tensor *const *)a)->name, (*(const wl_gguf_tensor *const *)b)->name);
}

/* Sorts kv pointers by key and rejects duplicate keys. */
static wl_status gguf_index_keys(wl_gguf *g, wl_error *err) {
    size_t n = (size_t)g->n_kv;
    g->kv_by_key = malloc((n ? n : 1) * sizeof *g->kv_by_key);
    if (!g->kv_by_key) return wl_fail(err, WL_ERR_OOM, "out of memory indexing %zu keys", n);
    for (size_t i = 0; i < n; i++) g->kv_by_key[i] = &g->kv[i];
    qsort(g->kv_by_key, n, sizeof *g->kv_by_key, gguf_cmp_kv);
    for (size_t i = 1; i < n; i++) {
        if (wl_str_cmp(g->kv_by_key[i - 1]->key, g->kv_by_key[i]->key) == 0) {
            char key[96];
            gguf_key_for_message(g->kv_by_key[i]->key, key, sizeof key);
            return wl_fail(err, WL_ERR_BAD_VALUE, "duplicate metadata key '%s'", key);
        }
    }
    return WL_OK;
}

/* Sorts tensor pointers by name and rejects duplicate names. */
static wl_status gguf_index_tensors(wl_gguf *g, wl_error *err) {
    size_t n = (size_t)g->n_tensors;
    g->tensors_by_name = malloc((n ? n : 1) * sizeof *g->tensors_by_name);
    if (!g->tensors_by_name) return wl_fail(err, WL_ERR_OOM, "out of memory indexing %zu tensors", n);
    for (size_t i = 0; i < n; i++) g->tensors_by_name[i] = &g->tensors[i];
    qsort(g->tensors_by_name, n, sizeof *g->tensors_by_name, gguf_cmp_tensor);
    for (size_t i = 1; i < n; i++) {
        if (wl_str_cmp(g->tensors_by_name[i - 1]->name, g->tensors_by_name[i]->name) == 0) {
            char name[96];
            gguf_key_for_message(g->tensors_by_name[i]->name, name, sizeof name);
            return wl_fail(err, WL_ERR_BAD_TENSOR, "duplicate tensor name '%s'", name);
        }
    }
    return WL_OK;
}

/* ---- header ---- */

static wl_status gguf_read_header(gguf_reader *r, wl_gguf *g, wl_error *err) {
    uint8_t magic[4];
    size_t have = r->len < 4 ? r->len : 4;
    if (memcmp(r->base, GGUF_MAGIC, have) != 0)
        return wl_fail(err, WL_ERR_BAD_MAGIC, "not a GGUF file (magic is not \"GGUF\")");
    if (!gguf_read_bytes(r, magic, 4))
        return wl_fail(err, WL_ERR_TRUNCATED, "file too short for a GGUF header (%zu bytes)", r->len);
    if (!gguf_read_u32(r, &g->version))
        return wl_fail(err, WL_ERR_TRUNCATED, "GGUF header cut off before the version");
    if (g->version == 1)
        return wl_fail(err, WL_ERR_BAD_VERSION, "GGUF v1 is not supported (re-convert the model with a newer llama.cpp)");
    if ((g->version & 0xFFFF) == 0 && g->version != 0)
        return wl_fail(err, WL_ERR_BAD_VERSION, "big-endian GGUF is not supported (version field 0x%08x)", g->version);
    if (g->version != 2 && g->version != 3)
        return wl_fail(err, WL_ERR_BAD_VERSION, "GGUF version %u is not supported (2 and 3 are)", g->version);
    if (!gguf_read_u64(r, &g->n_tensors) || !gguf_read_u64(r, &g->n_kv))
        return wl_fail(err, WL_ERR_TRUNCATED, "GGUF header cut off before the tensor and key counts");
    size_t left = gguf_remaining(r);
    if (g->n_kv > left / GGUF_MIN_KV_BYTES)
        return wl_fail(err, WL_ERR_TRUNCATED, "header claims %" PRIu64 " metadata keys but only %zu bytes follow",
                       g->n_kv, left);
    if (g->n_tensors > left / GGUF_MIN_TENSOR_INFO_BYTES)
        return wl_fail(err, WL_ERR_TRUNCATED, "header claims %" PRIu64 " tensors but only %zu bytes follow",
                       g->n_tensors, left);
    if (g->n_kv * GGUF_MIN_KV_BYTES + g->n_tensors * GGUF_MIN_TENSOR_INFO_BYTES > left)
        return wl_fail(err, WL_ERR_TRUNCATED,
                       "header claims %" PRIu64 " keys and %" PRIu64 " tensors but only %zu bytes follow",
                       g->n_kv, g->n_tensors, left);
    return WL_OK;
}

/* general.alignment, if present, must be a nonzero power-of-two u32. */
static wl_status gguf_read_alignment(wl_gguf *g, wl_error *err) {
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    const wl_gguf_kv *kv = wl_gguf_find(g, "general.alignment");
    if (!kv) return WL_OK;
    if (kv->type != WL_GGUF_UINT32)
        return wl_fail(err, WL_ERR_BAD_VALUE, "key 'general.alignment' must be a u32 (got value type %u)",
                       (unsigned)kv->type);
    uint64_t a = kv->v.u64;
    if (a == 0 || (a & (a - 1)) != 0)
        return wl_fail(err, WL_ERR_BAD_VALUE, "key 'general.alignment' = %" PRIu64 " is not a power of two", a);
    g->alignment = (uint32_t)a;
    return WL_OK;
}

static wl_status gguf_parse_into(const uint8_t *data, size_t len, int allow_no_data, wl_gguf *g,
                                 wl_error *err) {
    gguf_reader r = {data, len, 0};
    g->base = data;
    g->len = len;
    wl_status st = gguf_read_header(&r, g, err);
    if (st) return st;

    /* Counts are bounded by the file size above, so these sizes cannot overflow. */
    g->kv = calloc(g->n_kv ? (size_t)g->n_kv : 1, sizeof *g->kv);
    g->tensors = calloc(g->n_tensors ? (size_t)g->n_tensors : 1, sizeof *g->tensors);
    if (!g->kv || !g->tensors)
        return wl_fail(err, WL_ERR_OOM, "out of memory for %" PRIu64 " keys and %" PRIu64 " tensors",
                       g->n_kv, g->n_tensors);
    for (uint64_t i = 0; i < g->n_kv; i++) {
        st = gguf_read_kv(&r, &g->kv[i], err);
        if (st) return st;
    }
    /* Tensor infos need general.alignment, so keys are indexed first. */
    st = gguf_index_keys(g, err);
    if (st) return st;
    st = gguf_read_alignment(g, err);
    if (st) return st;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        st = gguf_read_tensor_info(&r, &g->tensors[i], g->alignment, err);
        if (st) return st;
    }
    st = gguf_index_tensors(g, err);
    if (st) return st;

    uint64_t pad = (g->alignment - r.pos % g->alignment) % g->alignment;
    g->data_offset = (uint64_t)r.pos + pad;
    return gguf_bind_tensor_data(g, allow_no_data, err);
}

wl_status wl_gguf_parse(const uint8_t *data, size_t len, int allow_no_data, wl_gguf *out, wl_error *err) {
    memset(out, 0, sizeof *out);
    if (!data && len) return wl_fail(err, WL_ERR_BAD_ARG, "no buffer for %zu bytes", len);
    if (!data) data = (const uint8_t *)"";
    wl_status st = gguf_parse_into(data, len, allow_no_data, out, err);
    if (st) wl_gguf_free(out);
    return st;
}

void wl_gguf_free(wl_gguf *g) {
    if (!g) return;
    free(g->kv);
    free(g->tensors);
    free(g->kv_by_key);
    free(g->tensors_by_name);
    memset(g, 0, sizeof *g);
}

/* ---- lookups ---- */

const wl_gguf_kv *wl_gguf_find(const wl_gguf *g, const char *key) {
    if (!g || !g->kv_by_key || !key) return NULL;
    wl_str want = {key, strlen(key)};
    size_t lo = 0, hi = (size_t)g->n_kv;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = wl_str_cmp(g->kv_by_key[mid]->key, want);
        if (c == 0) return g->kv_by_key[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

const wl_gguf_tensor *wl_gguf_find_tensor(const wl_gguf *g, const char *name) {
    if (!g || !g->tensors_by_name || !name) return NULL;
    wl_str want = {name, strlen(name)};
    size_t lo = 0, hi = (size_t)g->n_tensors;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = wl_str_cmp(g->tensors_by_name[mid]->name, want);
        if (c == 0) return g->tensors_by_name[mid];
        if (c < 0) lo = mid + 1; else hi = mid;
    }
    return NULL;
}

int wl_gguf_get_u64(const wl_gguf *g, const char *key, uint64_t *out) {
    const wl_gguf_kv *kv = wl_gguf_find(g, key);
    if (!kv || kv->type == WL_GGUF_BOOL || !gguf_scalar_size(kv->type) || gguf_is_float(kv->type)) return 0;
    if (gguf_is_signed(kv->type)) {
        if (kv->v.i64 < 0) return 0;
        *out = (uint64_t)kv->v.i64;
    } else {
        *out = kv->v.u64;
    }
    return 1;
}

int wl_gguf_get_i64(const wl_gguf *g, const char *key, int64_t *out) {
    const wl_gguf_kv *kv = wl_gguf_find(g, key);
    if (!kv || kv->type == WL_GGUF_BOOL || !gguf_scalar_size(kv->type) || gguf_is_float(kv->type)) return 0;
    if (gguf_is_signed(kv->type)) {
        *out = kv->v.i64;
    } else {
        if (kv->v.u64 > (uint64_t)INT64_MAX) return 0;
        *out = (int64_t)kv->v.u64;
    }
    return 1;
}

int wl_gguf_get_f32(const wl_gguf *g, const char *key, float *out) {
    const wl_gguf_kv *kv = wl_gguf_find(g, key);
    if (!kv || !gguf_is_float(kv->type)) return 0;
    *out = (float)kv->v.f64;
    return 1;
}

int wl_gguf_get_bool(const wl_gguf *g, const char *key, int *out) {
    const wl_gguf_kv *kv = wl_gguf_find(g, key);
    if (!kv || kv->type != WL_GGUF_BOOL) return 0;
    *out = kv->v.u64 != 0;
    return 1;
}

int wl_gguf_get_str(const wl_gguf *g, const char *key, wl_str *out) {
    const wl_gguf_kv *kv = wl_gguf_find(g, key);
    if (!kv || kv->type != WL_GGUF_STRING) return 0;
    *out = kv->v.str;
    return 1;
}

int wl_gguf_get_arr_f64(const wl_gguf *g, const char *key, uint64_t i, double *out) {
    const wl_gguf_kv *kv = wl_gguf_find(g, key);
    if (!kv || kv->type != WL_GGUF_ARRAY || i >= kv->v.arr.count) return 0;
    uint32_t elem_type = kv->v.arr.type;
    size_t n = gguf_scalar_size(elem_type);
    if (!n || elem_type == WL_GGUF_BOOL) return 0;
    wl_gguf_kv one;
    gguf_decode_scalar(elem_type, kv->v.arr.data + i * n, &one);
    if (gguf_is_float(elem_type)) *out = one.v.f64;
    else if (gguf_is_signed(elem_type)) *out = (double)one.v.i64;
    else *out = (double)one.v.u64;
    return 1;
}
