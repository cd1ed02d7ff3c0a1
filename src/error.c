#include "error.h"

#include <stdio.h>

wl_status wl_fail(wl_error *err, wl_status code, const char *fmt, ...) {
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->message, sizeof err->message, fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

const char *wl_status_name(wl_status code) {
    switch (code) {
    case WL_OK: return "OK";
    case WL_ERR_TRUNCATED: return "ERR_TRUNCATED";
    case WL_ERR_BAD_MAGIC: return "ERR_BAD_MAGIC";
    case WL_ERR_BAD_VERSION: return "ERR_BAD_VERSION";
    case WL_ERR_BAD_VALUE: return "ERR_BAD_VALUE";
    case WL_ERR_UNKNOWN_TYPE: return "ERR_UNKNOWN_TYPE";
    case WL_ERR_BAD_TENSOR: return "ERR_BAD_TENSOR";
    case WL_ERR_UNSUPPORTED_ARCH: return "ERR_UNSUPPORTED_ARCH";
    case WL_ERR_MISSING_KEY: return "ERR_MISSING_KEY";
    case WL_ERR_MISSING_TENSOR: return "ERR_MISSING_TENSOR";
    case WL_ERR_OOM: return "ERR_OOM";
    case WL_ERR_CONTEXT_FULL: return "ERR_CONTEXT_FULL";
    case WL_ERR_BAD_ARG: return "ERR_BAD_ARG";
    case WL_ERR_SHARDS: return "ERR_SHARDS";
    case WL_ERR_BAD_GRAMMAR: return "ERR_BAD_GRAMMAR";
    }
    return "ERR_UNKNOWN";
}
