/* GGUF v2/v3 reader. Parses a file that is already in memory, in place:
 * strings, arrays and tensor data stay in the caller's buffer (no copies),
 * and every length, count and offset is checked against `len` before use. */
#ifndef WL_GGUF_H
#define WL_GGUF_H

#include <stddef.h>
#include <stdint.h>
#include "error.h"
#include "types.h"

#define WL_GGUF_MAX_DIMS 4

typedef enum {
    WL_GGUF_UINT8 = 0, WL_GGUF_INT8 = 1, WL_GGUF_UINT16 = 2, WL_GGUF_INT16 = 3,
    WL_GGUF_UINT32 = 4, WL_GGUF_INT32 = 5, WL_GGUF_FLOAT32 = 6, WL_GGUF_BOOL = 7,
    WL_GGUF_STRING = 8, WL_GGUF_ARRAY = 9, WL_GGUF_UINT64 = 10, WL_GGUF_INT64 = 11,
    WL_GGUF_FLOAT64 = 12
} wl_gguf_kv_type;

typedef struct {
    const char *ptr; /* not NUL-terminated: points into the file */
    uint64_t len;
} wl_str;

typedef struct {
    wl_str key;
    wl_gguf_kv_type type;
    /* Scalars are decoded; strings point into the file; arrays keep the
     * element type, count and a pointer to their first element's bytes. */
    union {
        uint64_t u64;
        int64_t i64;
        double f64;
        wl_str str;
        struct {
            wl_gguf_kv_type type;
            uint64_t count;
            const uint8_t *data;
            uint64_t n_bytes; /* byte length of the encoded array */
        } arr;
    } v;
} wl_gguf_kv;

typedef struct {
    wl_str name;
    uint32_t n_dims;
    int64_t ne[WL_GGUF_MAX_DIMS]; /* ne[0] is contiguous; unused dims are 1 */
    wl_type type;
    uint64_t offset;  /* relative to the data section */
    uint64_t n_bytes;
    const uint8_t *data; /* resolved pointer into the file buffer */
} wl_gguf_tensor;

typedef struct {
    uint32_t version;
    uint64_t n_kv;
    wl_gguf_kv *kv;
    uint64_t n_tensors;
    wl_gguf_tensor *tensors;
    uint32_t alignment;
    uint64_t data_offset;
    const uint8_t *base;
    size_t len;
    /* Lookup indexes (owned): kv and tensor pointers sorted by name, so
     * finds are O(log n) and duplicates are caught in O(n log n) even for
     * hostile files (no hash a file could make collide). */
    const wl_gguf_kv **kv_by_key;
    const wl_gguf_tensor **tensors_by_name;
} wl_gguf;

/* Parses the header, metadata and tensor infos. With allow_no_data the tensor
 * data may be missing (vocab-only reads); otherwise each tensor's bytes must
 * lie inside the buffer. On failure *out is left empty and err says why. */
wl_status wl_gguf_parse(const uint8_t *data, size_t len, int allow_no_data,
                        wl_gguf *out, wl_error *err);
void wl_gguf_free(wl_gguf *g);

const wl_gguf_kv *wl_gguf_find(const wl_gguf *g, const char *key);
const wl_gguf_tensor *wl_gguf_find_tensor(const wl_gguf *g, const char *name);

/* Typed getters: return 1 and fill *out if the key exists with a compatible
 * type (any integer width for ints, f32/f64 for floats), else 0. */
int wl_gguf_get_u64(const wl_gguf *g, const char *key, uint64_t *out);
int wl_gguf_get_i64(const wl_gguf *g, const char *key, int64_t *out);
int wl_gguf_get_f32(const wl_gguf *g, const char *key, float *out);
int wl_gguf_get_bool(const wl_gguf *g, const char *key, int *out);
int wl_gguf_get_str(const wl_gguf *g, const char *key, wl_str *out);
/* Element i of a numeric array as f64 (for per-layer arrays); 0 if absent. */
int wl_gguf_get_arr_f64(const wl_gguf *g, const char *key, uint64_t i, double *out);

int wl_str_eq(wl_str s, const char *cstr);
/* memcmp-style order of two names (bytes, then length); used by the indexes. */
int wl_str_cmp(wl_str a, wl_str b);

#endif
