/* libFuzzer target: GBNF text from anywhere (API users, JSON Schema
 * conversions). Every input either parses or fails with a message; a
 * grammar that parses is then driven a few steps over a small byte
 * vocabulary, with the fast mask checked against its per-token twin, and
 * every allowed token accepted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wasmllm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) return 0;
    /* tokens: each byte 1..255 alone, a few multi-byte pieces, one end token */
    static const char *pieces[] = {"ab", "\"", "{\"", "é", "\xC3", "\xA9", "  ", "12", "\xE2\x82", "\xAC"};
    enum { N_PIECES = sizeof pieces / sizeof *pieces, N = 256 + N_PIECES + 1 };
    uint8_t bytes[256 + 32], kinds[N];
    uint32_t off[N + 1], at = 0;
    for (int i = 0; i < 256; i++) off[i] = at, bytes[at++] = (uint8_t)i, kinds[i] = 0;
    for (int i = 0; i < N_PIECES; i++) {
        off[256 + i] = at;
        memcpy(bytes + at, pieces[i], strlen(pieces[i]));
        at += (uint32_t)strlen(pieces[i]);
        kinds[256 + i] = 0;
    }
    off[N - 1] = at, kinds[N - 1] = 2, off[N] = at;
    wl_error err = {0};
    wl_vocab *v = wl_vocab_new(bytes, off, kinds, N, &err);
    if (!v) abort();
    wl_grammar *g = wl_grammar_new((const char *)data, (int)size, v, &err);
    if (!g) {
        if (err.code == WL_OK || err.message[0] == '\0') abort();
        wl_vocab_free(v);
        return 0;
    }
    wl_matcher *m = wl_matcher_new(g, &err);
    uint32_t fast[(N + 31) / 32], ref[(N + 31) / 32];
    for (int step = 0; step < 8 && m; step++) {
        const int a = wl_matcher_fill_mask(m, fast, &err), b = wl_matcher_fill_mask_ref(m, ref, &err);
        if (a != b || (a >= 0 && memcmp(fast, ref, sizeof fast) != 0)) abort();
        if (a <= 0) break;
        int id = -1;
        for (int i = 0, k = (int)(size + (size_t)step * 7) % a; i < N; i++)
            if ((ref[i >> 5] >> (i & 31)) & 1 && k-- == 0) id = i;
        if (id < 0 || id == N - 1) break;
        if (wl_matcher_accept(m, id, &err) != WL_OK) abort();
    }
    wl_matcher_free(m);
    wl_grammar_free(g);
    wl_vocab_free(v);
    return 0;
}
