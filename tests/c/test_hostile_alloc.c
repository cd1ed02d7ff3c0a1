/* The C loader's memory on hostile files: every committed GGUF fuzz seed
 * (tests/fuzz/corpus/gguf, the corpus of tools/make-hostile-ggufs.js plus
 * valid files) goes through wl_file_open while this file counts the bytes
 * malloc hands out. No file may make the parser hold more than a small,
 * fixed multiple of its own bytes: a count or length read from the file
 * (2^63 tensors, a 2^40-element array) must be checked against the bytes
 * left before it sizes an allocation.
 *
 * Counting replaces malloc/calloc/realloc/free in this executable (glibc
 * lets a program define them and reach its own through __libc_*). Under
 * ASan the sanitizer owns malloc, so the sanitizer build only checks that
 * every seed fails or opens cleanly; the peak bound is checked in the plain
 * build. */
#define _GNU_SOURCE
#include <dirent.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WL_UNDER_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define WL_UNDER_ASAN 1
#endif

#define CORPUS "tests/fuzz/corpus/gguf"
#define MAX_SHARDS 4
/* Parsed structures per byte of file: a tensor record is at least 32 bytes
 * in the file and its parsed form (name, dims, type, offset, data pointer,
 * size) plus the by-name index is a few times that; a key-value record is at
 * least 13 bytes. 8x the file plus a fixed 4 KiB (the file and error
 * records, qsort scratch) is far below anything sized by a lying count. */
#define PEAK_PER_BYTE 8
#define PEAK_FIXED 4096

#if defined(__GLIBC__) && !defined(WL_UNDER_ASAN)
#define WL_COUNTING 1
extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

/* Test-only counters: this executable runs wl_file_open on one thread. */
static long long g_in_use, g_peak;

static void count(long long delta) {
    g_in_use += delta;
    if (g_in_use > g_peak) g_peak = g_in_use;
}

void *malloc(size_t n) {
    void *p = __libc_malloc(n);
    if (p) count((long long)malloc_usable_size(p));
    return p;
}

void *calloc(size_t n, size_t size) {
    void *p = __libc_calloc(n, size);
    if (p) count((long long)malloc_usable_size(p));
    return p;
}

void *realloc(void *p, size_t n) {
    const long long old = p ? (long long)malloc_usable_size(p) : 0;
    void *q = __libc_realloc(p, n);
    if (q) count((long long)malloc_usable_size(q) - old);
    else if (n == 0) count(-old);
    return q;
}

void free(void *p) {
    if (p) count(-(long long)malloc_usable_size(p));
    __libc_free(p);
}
#else
#define WL_COUNTING 0
static long long g_in_use, g_peak;
#endif

static uint8_t *read_all(const char *path, size_t *size) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return NULL;
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 4096;
            uint8_t *grown = realloc(buf, cap);
            if (!grown) break;
            buf = grown;
        }
        const size_t got = fread(buf + len, 1, cap - len, fp);
        if (got == 0) break;
        len += got;
    }
    fclose(fp);
    *size = len;
    return buf;
}

/* Splits a fuzz input (byte 0: bit 0 allow_no_data, bits 1-2 shards - 1;
 * then u32 length + bytes for every shard but the last) like fuzz_gguf.c. */
static int split_input(const uint8_t *data, size_t size, const uint8_t **ptrs, double *lens,
                       int *allow_no_data) {
    if (size < 1) return 0;
    *allow_no_data = data[0] & 1;
    const int n = 1 + ((data[0] >> 1) & 3);
    size_t pos = 1;
    for (int i = 0; i < n; i++) {
        size_t len = size - pos;
        if (i < n - 1) {
            uint32_t want = 0;
            if (size - pos >= 4) {
                want = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8 |
                       (uint32_t)data[pos + 2] << 16 | (uint32_t)data[pos + 3] << 24;
                pos += 4;
            } else {
                pos = size;
            }
            len = want < size - pos ? want : size - pos;
        }
        ptrs[i] = data + pos;
        lens[i] = (double)len;
        pos += len;
    }
    return n;
}

int main(void) {
    DIR *dir = opendir(CORPUS);
    if (!dir) {
        fprintf(stderr, "test_hostile_alloc: cannot open %s (run from the repository root)\n", CORPUS);
        return 1;
    }
    int failures = 0, files = 0;
    long long worst_peak = 0;
    double worst_ratio = 0.0;
    struct dirent *e;
    while ((e = readdir(dir)) != NULL) {
        const size_t name_len = strlen(e->d_name);
        if (name_len < 5 || strcmp(e->d_name + name_len - 4, ".bin") != 0) continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", CORPUS, e->d_name);
        size_t size = 0;
        uint8_t *data = read_all(path, &size);
        if (!data) {
            fprintf(stderr, "%s: cannot read\n", path);
            failures++;
            continue;
        }
        const uint8_t *ptrs[MAX_SHARDS];
        double lens[MAX_SHARDS];
        int allow_no_data = 0;
        const int n = split_input(data, size, ptrs, lens, &allow_no_data);
        double bytes = 0.0;
        for (int i = 0; i < n; i++) bytes += lens[i];

        wl_error err;
        g_in_use = g_peak = 0;
        wl_file *f = n ? wl_file_open(ptrs, lens, n, allow_no_data, &err) : NULL;
        const long long peak = g_peak;
        if (f) wl_file_free(f);
        const long long leaked = g_in_use;
        files++;

        if (!f && n && (err.code == WL_OK || err.message[0] == 0)) {
            fprintf(stderr, "%s: failed without a code and message\n", e->d_name);
            failures++;
        }
        if (WL_COUNTING) {
            const double limit = PEAK_PER_BYTE * bytes + PEAK_FIXED;
            const double ratio = bytes > 0 ? (double)peak / bytes : 0.0;
            if (peak > worst_peak) worst_peak = peak;
            if (ratio > worst_ratio) worst_ratio = ratio;
            if ((double)peak > limit) {
                fprintf(stderr, "%s: %.0f bytes of file made the parser hold %lld bytes (limit %.0f)\n",
                        e->d_name, bytes, peak, limit);
                failures++;
            }
            if (leaked != 0) {
                fprintf(stderr, "%s: %lld bytes still allocated after wl_file_open/wl_file_free\n",
                        e->d_name, leaked);
                failures++;
            }
        }
        free(data);
    }
    closedir(dir);
    if (files < 20) {
        fprintf(stderr, "test_hostile_alloc: only %d seeds in %s\n", files, CORPUS);
        failures++;
    }
    if (WL_COUNTING) {
        printf("test_hostile_alloc: %d files, largest peak %lld bytes, at most %.1f bytes held per byte of file\n",
               files, worst_peak, worst_ratio);
    } else {
        printf("test_hostile_alloc: %d files opened or refused cleanly (allocation counting off under ASan)\n",
               files);
    }
    return failures ? 1 : 0;
}
