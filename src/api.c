/* The memory and error half of the exported API (src/wasmllm.h). JS owns
 * these objects through pointers, so every one has an explicit free. */
#include "wasmllm.h"

#include <malloc.h>
#include <stdlib.h>

void *wl_alloc(size_t n_bytes) {
    /* malloc(0) may return NULL; JS treats NULL as "heap full", so an empty
     * request still gets a real (1-byte) block. */
    return malloc(n_bytes ? n_bytes : 1);
}

void wl_free(void *ptr) { free(ptr); }

double wl_heap_in_use(void) {
#if defined(__EMSCRIPTEN__)
    return (double)mallinfo().uordblks;
#elif defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
    return (double)mallinfo2().uordblks;
#else
    return -1.0; /* unknown on this libc */
#endif
}

wl_error *wl_error_new(void) { return calloc(1, sizeof(wl_error)); }

void wl_error_free(wl_error *err) { free(err); }

int wl_error_code(const wl_error *err) { return err ? (int)err->code : WL_ERR_BAD_ARG; }

const char *wl_error_message(const wl_error *err) { return err ? err->message : "no error object"; }

int wl_build_isa(void) {
#if defined(__wasm_relaxed_simd__)
    return 2;
#elif defined(__wasm_simd128__)
    return 1;
#else
    return 0;
#endif
}
