/* Error reporting shared by every C module.
 * A failing function fills a caller-owned wl_error and returns its code, so
 * there is no global "last error" state (the brief forbids mutable globals). */
#ifndef WL_ERROR_H
#define WL_ERROR_H

#include <stdarg.h>

/* Stable codes: the JS layer maps them to Error.code strings (web/errors.js). */
typedef enum {
    WL_OK = 0,
    WL_ERR_TRUNCATED = 1,        /* a length, count or offset points past the bytes present */
    WL_ERR_BAD_MAGIC = 2,        /* not a GGUF file */
    WL_ERR_BAD_VERSION = 3,      /* GGUF version we do not read */
    WL_ERR_BAD_VALUE = 4,        /* malformed metadata value (unknown kv type, bad utf-8 key, ...) */
    WL_ERR_UNKNOWN_TYPE = 5,     /* tensor type id we do not know or do not run */
    WL_ERR_BAD_TENSOR = 6,       /* bad dims, overflow, duplicate name, misaligned data */
    WL_ERR_UNSUPPORTED_ARCH = 7, /* general.architecture we do not run */
    WL_ERR_MISSING_KEY = 8,      /* required metadata key absent or of the wrong type */
    WL_ERR_MISSING_TENSOR = 9,   /* required tensor absent or of the wrong shape */
    WL_ERR_OOM = 10,             /* allocation failed or would exceed the heap limit */
    WL_ERR_CONTEXT_FULL = 11,    /* tokens do not fit the context window */
    WL_ERR_BAD_ARG = 12,         /* caller passed an invalid argument */
    WL_ERR_SHARDS = 13,          /* split set incomplete, duplicated or inconsistent */
    WL_ERR_BAD_GRAMMAR = 14      /* GBNF text we cannot parse, or a grammar no token can continue */
} wl_status;

typedef struct {
    wl_status code;
    char message[256];
} wl_error;

/* Sets err (if non-NULL) and returns code, so callers can `return wl_fail(...)`. */
wl_status wl_fail(wl_error *err, wl_status code, const char *fmt, ...);
const char *wl_status_name(wl_status code);

#endif
