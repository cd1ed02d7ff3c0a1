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

/* Weight rows per chunk when several tokens share the pass: a tile small
 * enough to stay in L1 while every token's activations stream past it. */
#define TILE_ROWS 16
/* Chunks per thread for one token: enough to even out uneven threads. */
#define CHUNKS_PER_THREAD 8

typedef struct {
    const wl_matrix *w;
    const wl_type_traits *traits;
    const wl_type_traits *act_traits;
    const float *x;
    int n_tokens;
    float *out;
    const char *act;     /* activations in act_traits' encoding */
    char *act_dst;       /* same buffer, writable, while quantizing */
    size_t act_row_size;
    wl_tile_fn tile;     /* SIMD tile kernel on wide activations, or NULL */
    int64_t chunk_rows;
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
    int multiple = is_float_type(w->type) ? 8 : t && is_k_type(t) ? WL_QK_K : WL_QK;
    if (w->n_cols % multiple != 0) return NULL;
    /* Measured (bench/kernels.c, node 20): for one token the K-quants' own
     * vec_dots beat unpacking super-blocks to memory, except Q6_K's. */
    if (t && is_k_type(t) && w->type != WL_TYPE_Q6_K && n_tokens < 4) return NULL;
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
    for (int t = ith; t < job->n_tokens; t += nth) {
        const float *x = job->x + (int64_t)t * n;
        char *dst = job->act_dst + (size_t)t * job->act_row_size;
#ifdef WL_HAVE_TILES
        if (job->tile) {
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
    matmul_job *job = ctx;
    const wl_matrix *w = job->w;
    const char *base = w->data;
    wl_vec_dot_fn dot = job->traits->vec_dot;
    int n = (int)w->n_cols;
    for (;;) {
        int64_t c = atomic_fetch_add_explicit(&job->next_chunk, 1, memory_order_relaxed);
        if (c >= job->n_chunks) return;
        int64_t r0 = c * job->chunk_rows;
        int64_t r1 = r0 + job->chunk_rows < w->n_rows ? r0 + job->chunk_rows : w->n_rows;
        if (job->tile) {
            job->tile(n, base + (size_t)r0 * w->row_stride, w->row_stride, r1 - r0, job->act, job->act_row_size,
                      job->n_tokens, job->out + r0, w->n_rows);
            continue;
        }
        for (int t = 0; t < job->n_tokens; t++) {
            const char *a = job->act + (size_t)t * job->act_row_size;
            float *o = job->out + (int64_t)t * w->n_rows;
            for (int64_t r = r0; r < r1; r++) dot(n, &o[r], base + (size_t)r * w->row_stride, a);
        }
    }
}

void wl_matmul(wl_pool *pool, const wl_matrix *w, const float *x, int n_tokens,
               float *out, void *scratch) {
    if (n_tokens <= 0 || !wl_matmul_supported(w)) return;
    matmul_job job = {
        .w = w,
        .traits = wl_type_get((uint32_t)w->type),
        .x = x,
        .n_tokens = n_tokens,
        .out = out,
    };
    job.act_traits = wl_type_get((uint32_t)job.traits->vec_dot_type);
    job.tile = tile_kernel_for(w, n_tokens);
    int nth = wl_pool_size(pool);

    if (job.traits->vec_dot_type == WL_TYPE_F32) {
        job.act = (const char *)x;
        job.act_row_size = (size_t)w->n_cols * sizeof(float);
    } else {
        char *aligned = (char *)(((uintptr_t)scratch + 15) & ~(uintptr_t)15);
        job.act = job.act_dst = aligned;
        job.act_row_size = act_row_size_for(w, job.traits, n_tokens);
        /* One token is cheap to encode; more are worth a parallel pass. */
        if (n_tokens == 1 || nth == 1) quantize_task(&job, 0, 1);
        else wl_pool_run(pool, quantize_task, &job);
    }

    if (n_tokens == 1) {
        int64_t target = (int64_t)nth * CHUNKS_PER_THREAD;
        job.chunk_rows = (w->n_rows + target - 1) / target;
        job.chunk_rows = (job.chunk_rows + 3) & ~(int64_t)3; /* whole 4-row tiles */
        if (job.chunk_rows < 4) job.chunk_rows = 4;
    } else {
        job.chunk_rows = TILE_ROWS;
    }
    job.n_chunks = (w->n_rows + job.chunk_rows - 1) / job.chunk_rows;
    atomic_init(&job.next_chunk, 0);
    wl_pool_run(pool, matmul_task, &job);
}

void wl_matrix_get_row(const wl_matrix *w, int64_t r, float *dst) {
    const wl_type_traits *t = wl_type_get((uint32_t)w->type);
    if (!t || !t->to_float || r < 0 || r >= w->n_rows) return;
    t->to_float((const char *)w->data + (size_t)r * w->row_stride, dst, w->n_cols);
}
