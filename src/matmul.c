/* Weight x activation products. Activations are first re-encoded in the
 * weight type's vec_dot_type (as ggml does), then weight rows are handed out
 * to threads in chunks from a shared counter, so a late or slow thread just
 * takes fewer chunks. Each output element is one vec_dot, so results do not
 * depend on the thread count. */
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "matmul.h"
#include "quant.h"
#include "repack.h"

/* Weight rows per chunk when several tokens share the pass: a tile small
 * enough to stay in L1 while every token's activations stream past it,
 * and a whole number of groups of every layout. */
#define TILE_ROWS 16
_Static_assert(TILE_ROWS % WL_X16_ROWS == 0 && TILE_ROWS % WL_X4_ROWS == 0, "chunks of whole groups");
/* Chunks per thread for one token: enough to even out uneven threads. */
#define CHUNKS_PER_THREAD 8
/* Work below which the caller runs it alone: a pool pass (wake, barrier)
 * costs more than encoding a few rows or a MoE router's 32 x 1024 products. */
#define SERIAL_VALUES 32768

typedef struct {
    const wl_matrix *w;  /* the first matrix: sets the activation encoding */
    const wl_type_traits *traits;
    const wl_type_traits *act_traits;
    const float *xs[WL_MATMUL_MAX_MANY]; /* the inputs: one shared by all matrices, or one each */
    int n_x;
    int n_tokens;
    const char *acts[WL_MATMUL_MAX_MANY]; /* matrix m's activations in act_traits' encoding */
    char *act_dst;       /* the encoded inputs one after another, writable, while quantizing */
    size_t act_row_size;
    int wide;            /* activations in a tile kernel's wide encoding */
    /* The matrices sharing these activations, and their outputs: chunk c
     * belongs to the first matrix m with c < chunk_end[m]. */
    const wl_matrix *mats[WL_MATMUL_MAX_MANY];
    float *outs[WL_MATMUL_MAX_MANY];
    wl_tile_fn tiles[WL_MATMUL_MAX_MANY]; /* SIMD tile kernel per matrix, or NULL */
    wl_vec_dot_fn dots[WL_MATMUL_MAX_MANY];
    int64_t chunk_rows[WL_MATMUL_MAX_MANY];
    int64_t chunk_end[WL_MATMUL_MAX_MANY];
    int64_t n_chunks;
    atomic_llong next_chunk;
} matmul_job;

int wl_matmul_supported(const wl_matrix *w) {
    const wl_type_traits *t = wl_type_get((uint32_t)w->type);
    if (!t || !t->supported || !t->vec_dot) return 0;
    if (w->n_cols <= 0 || w->n_cols > INT_MAX || w->n_rows <= 0) return 0;
    const wl_type_traits *at = wl_type_get((uint32_t)t->vec_dot_type);
    if (!at || !at->from_float) return 0;
    size_t row = wl_row_size(w->type, w->n_cols);
    return row != 0 && w->row_stride >= row && wl_row_size(t->vec_dot_type, w->n_cols) != 0;
}

/* Where the SIMD tile kernels apply, they take their own activation
 * encodings (quant.h); elsewhere activations are in the vec_dot_type. */
static inline int is_float_type(wl_type t) {
    return t == WL_TYPE_F32 || t == WL_TYPE_F16 || t == WL_TYPE_BF16;
}

static inline int is_k_type(const wl_type_traits *t) {
    return t->vec_dot_type == WL_TYPE_Q8_K;
}

static wl_tile_fn tile_kernel_for(const wl_matrix *w, int n_tokens) {
#ifdef WL_HAVE_TILES
    const wl_type_traits *t = wl_type_get((uint32_t)w->type);
    if (w->layout == WL_LAYOUT_X4) return wl_tile_kernel_x4(w->type);
    if (w->layout == WL_LAYOUT_X16) return wl_tile_kernel_x16(w->type);
    if (w->layout == WL_LAYOUT_X96) return wl_tile_kernel_x96(w->type);
    int multiple = is_float_type(w->type) ? 8 : t && is_k_type(t) ? WL_QK_K : WL_QK;
    if (w->n_cols % multiple != 0) return NULL;
    /* Measured (bench/kernels.c, node 20): for one token the K-quants' own
     * vec_dots beat unpacking super-blocks to memory; Q4_K's, Q5_K's and
     * Q6_K's decode kernels read the packed blocks and beat their vec_dots. */
    if (t && is_k_type(t) && w->type != WL_TYPE_Q6_K && w->type != WL_TYPE_Q4_K && w->type != WL_TYPE_Q5_K &&
        n_tokens < 4)
        return NULL;
    return wl_tile_kernel(w->type);
#else
    (void)w, (void)n_tokens;
    return NULL;
#endif
}

static size_t act_row_size_for(const wl_matrix *w, const wl_type_traits *t, int n_tokens) {
#ifdef WL_HAVE_TILES
    if (tile_kernel_for(w, n_tokens)) {
        if (is_float_type(w->type)) return wl_float_wide_row_size(w->n_cols);
        if (is_k_type(t)) return wl_q8_K_wide_row_size(w->n_cols);
        return wl_q8_0_wide_row_size(w->n_cols);
    }
#endif
    return wl_row_size(t->vec_dot_type, w->n_cols);
}

size_t wl_matmul_scratch_size(const wl_matrix *w, int n_tokens) {
    const wl_type_traits *t = wl_type_get((uint32_t)w->type);
    if (!t || n_tokens <= 0) return 0;
    /* +16: the wide encoding is aligned to 16 bytes inside the scratch.
     * Fewer tokens never need more: the wide encodings are the larger ones
     * and a kernel choice only switches to them as n_tokens grows. */
    return (size_t)n_tokens * act_row_size_for(w, t, n_tokens) + 16;
}

static void quantize_task(void *ctx, int ith, int nth) {
    matmul_job *job = ctx;
    int64_t n = job->w->n_cols;
    for (int i = ith; i < job->n_x * job->n_tokens; i += nth) {
        const float *x = job->xs[i / job->n_tokens] + (int64_t)(i % job->n_tokens) * n;
        char *dst = job->act_dst + (size_t)i * job->act_row_size;
#ifdef WL_HAVE_TILES
        if (job->wide) {
            if (is_float_type(job->w->type)) wl_float_wide_from_float(job->w->type, x, (float *)dst, n);
            else if (is_k_type(job->traits)) wl_q8_K_wide_from_float(x, dst, n);
            else wl_q8_0_wide_from_float(x, dst, n);
            continue;
        }
#endif
        job->act_traits->from_float(x, dst, n);
    }
}

static void matmul_task(void *ctx, int ith, int nth) {
    (void)ith, (void)nth;
    matmul_job *job = ctx;
    int m = 0;
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&job->next_chunk, 1, memory_order_relaxed);
        if (c >= job->n_chunks) return;
        while (c >= job->chunk_end[m]) m++; /* chunks are taken in increasing order */
        const wl_matrix *w = job->mats[m];
        const char *base = w->data;
        int n = (int)w->n_cols;
        int64_t first = m ? job->chunk_end[m - 1] : 0;
        int64_t r0 = (c - first) * job->chunk_rows[m];
        int64_t r1 = r0 + job->chunk_rows[m] < w->n_rows ? r0 + job->chunk_rows[m] : w->n_rows;
        if (job->tiles[m]) {
            job->tiles[m](n, base + (size_t)r0 * w->row_stride, w->row_stride, r1 - r0, job->acts[m], job->act_row_size,
                      job->n_tokens, job->outs[m] + r0, w->n_rows);
            continue;
        }
        for (int t = 0; t < job->n_tokens; t++) {
            const char *a = job->acts[m] + (size_t)t * job->act_row_size;
            float *o = job->outs[m] + (int64_t)t * w->n_rows;
            for (int64_t r = r0; r < r1; r++) job->dots[m](n, &o[r], base + (size_t)r * w->row_stride, a);
        }
    }
}

/* Rows per chunk: for one token, about CHUNKS_PER_THREAD chunks per thread
 * in whole groups; for several, an L1-sized tile, or one group of a layout
 * with larger groups. */
static int64_t chunk_rows_for(const wl_matrix *w, int n_tokens, int nth) {
    const int64_t g = wl_layout_group_rows(w->layout), target = (int64_t)nth * CHUNKS_PER_THREAD;
    if (n_tokens > 1) return g > TILE_ROWS ? g : TILE_ROWS;
    int64_t rows = (w->n_rows + target - 1) / target;
    /* down to whole groups: rounding 128 rows up to 192 (x96) left 2048-row
     * matrices in 11 chunks, 6 against 5 on two threads */
    rows = rows / g * g;
    return rows < g ? g : rows;
}

/* Can b share the activations encoded for a? The same length, and the same
 * encoding: both a tile kernel's wide form of one vec_dot_type, or both that
 * vec_dot_type itself. */
static int same_activations(const wl_matrix *a, const wl_matrix *b, int n_tokens) {
    const wl_type_traits *ta = wl_type_get((uint32_t)a->type), *tb = wl_type_get((uint32_t)b->type);
    return a->n_cols == b->n_cols && ta->vec_dot_type == tb->vec_dot_type &&
           !tile_kernel_for(a, n_tokens) == !tile_kernel_for(b, n_tokens);
}

/* Encodes the activations once (n_x inputs: 1 shared by all matrices, or
 * one per matrix), then runs every matrix's rows in one pool pass (one
 * barrier for all of them). */
static void matmul_shared(wl_pool *pool, const wl_matrix *const *ws, float *const *outs, int n_w,
                          const float *const *xs, int n_x, int n_tokens, void *scratch) {
    matmul_job job = {
        .w = ws[0],
        .traits = wl_type_get((uint32_t)ws[0]->type),
        .n_x = n_x,
        .n_tokens = n_tokens,
    };
    for (int i = 0; i < n_x; i++) job.xs[i] = xs[i];
    job.act_traits = wl_type_get((uint32_t)job.traits->vec_dot_type);
    job.wide = tile_kernel_for(ws[0], n_tokens) != NULL;
    int nth = wl_pool_size(pool);

    if (job.traits->vec_dot_type == WL_TYPE_F32) {
        job.act_row_size = (size_t)ws[0]->n_cols * sizeof(float);
        for (int m = 0; m < n_w; m++) job.acts[m] = (const char *)xs[n_x > 1 ? m : 0];
    } else {
        char *aligned = (char *)(((uintptr_t)scratch + 15) & ~(uintptr_t)15);
        job.act_dst = aligned;
        job.act_row_size = act_row_size_for(ws[0], job.traits, n_tokens);
        for (int m = 0; m < n_w; m++) {
            job.acts[m] = aligned + (n_x > 1 ? (size_t)m * n_tokens * job.act_row_size : 0);
        }
        /* A few rows are cheap to encode; more are worth a parallel pass. */
        if ((int64_t)n_x * n_tokens * ws[0]->n_cols <= SERIAL_VALUES || nth == 1) quantize_task(&job, 0, 1);
        else wl_pool_run(pool, quantize_task, &job);
    }

    int64_t end = 0;
    for (int m = 0; m < n_w; m++) {
        job.mats[m] = ws[m];
        job.outs[m] = outs[m];
        job.tiles[m] = tile_kernel_for(ws[m], n_tokens);
        job.dots[m] = wl_type_get((uint32_t)ws[m]->type)->vec_dot;
        job.chunk_rows[m] = chunk_rows_for(ws[m], n_tokens, nth);
        end += (ws[m]->n_rows + job.chunk_rows[m] - 1) / job.chunk_rows[m];
        job.chunk_end[m] = end;
    }
    job.n_chunks = end;
    atomic_init(&job.next_chunk, 0);
    int64_t values = 0;
    for (int m = 0; m < n_w; m++) values += ws[m]->n_rows * ws[m]->n_cols * n_tokens;
    if (values <= SERIAL_VALUES) matmul_task(&job, 0, 1);
    else wl_pool_run(pool, matmul_task, &job);
}

void wl_matmul(wl_pool *pool, const wl_matrix *w, const float *x, int n_tokens,
               float *out, void *scratch) {
    if (n_tokens <= 0 || !wl_matmul_supported(w)) return;
    matmul_shared(pool, &w, &out, 1, &x, 1, n_tokens, scratch);
}

/* Can all of ws run in one pass? Kernels for each, and one activation encoding. */
static int one_pass(const wl_matrix *const *ws, int n_w, int n_tokens) {
    if (n_tokens <= 0 || n_w <= 0 || n_w > WL_MATMUL_MAX_MANY) return -1;
    for (int i = 0; i < n_w; i++) if (!wl_matmul_supported(ws[i])) return -1;
    int shared = 1;
    for (int i = 1; i < n_w; i++) shared &= same_activations(ws[0], ws[i], n_tokens);
    return shared;
}

void wl_matmul_many(wl_pool *pool, const wl_matrix *const *ws, float *const *outs, int n_w,
                    const float *x, int n_tokens, void *scratch) {
    const int shared = one_pass(ws, n_w, n_tokens);
    if (shared < 0) return;
    if (shared) {
        matmul_shared(pool, ws, outs, n_w, &x, 1, n_tokens, scratch);
        return;
    }
    /* Mixed encodings (a K-quant mix, say): one product after another. */
    for (int i = 0; i < n_w; i++) matmul_shared(pool, &ws[i], &outs[i], 1, &x, 1, n_tokens, scratch);
}

void wl_matmul_each(wl_pool *pool, const wl_matrix *const *ws, const float *const *xs, float *const *outs,
                    int n_w, int n_tokens, void *scratch) {
    const int shared = one_pass(ws, n_w, n_tokens);
    if (shared < 0) return;
    if (shared) {
        matmul_shared(pool, ws, outs, n_w, xs, n_w, n_tokens, scratch);
        return;
    }
    for (int i = 0; i < n_w; i++) matmul_shared(pool, &ws[i], &outs[i], 1, &xs[i], 1, n_tokens, scratch);
}

size_t wl_matmul_each_scratch_size(const wl_matrix *w, int n_w, int n_tokens) {
    const wl_type_traits *t = wl_type_get((uint32_t)w->type);
    if (!t || n_tokens <= 0 || n_w <= 0) return 0;
    return (size_t)n_w * (size_t)n_tokens * act_row_size_for(w, t, n_tokens) + 16;
}

void wl_matrix_get_row(const wl_matrix *w, int64_t r, float *dst) {
    const wl_type_traits *t = wl_type_get((uint32_t)w->type);
    if (!t || !t->to_float || r < 0 || r >= w->n_rows) return;
    const int64_t g = wl_layout_group_rows(w->layout);
    if (w->layout != WL_LAYOUT_ROWS && r < w->n_rows / g * g) {
        if (w->layout == WL_LAYOUT_X96) wl_x96_get_row(w, r, dst);
        else if (w->layout == WL_LAYOUT_X16) wl_x16_get_row(w, r, dst);
        else wl_x4_get_row(w, r, dst);
        return;
    }
    t->to_float((const char *)w->data + (size_t)r * w->row_stride, dst, w->n_cols);
}
