/* Weight x activation products. Activations are first re-encoded in the
 * weight type's vec_dot_type (as ggml does), then weight rows are handed out
 * to threads in chunks from a shared counter, so a late or slow thread just
 * takes fewer chunks. Each output element is one vec_dot, so results do not
 * depend on the thread count. */
#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include "matmul.h"

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

size_t wl_matmul_scratch_size(const wl_matrix *w, int n_tokens) {
    const wl_type_traits *t = wl_type_get((uint32_t)w->type);
    if (!t || n_tokens <= 0) return 0;
    return (size_t)n_tokens * wl_row_size(t->vec_dot_type, w->n_cols);
}

static void quantize_task(void *ctx, int ith, int nth) {
    matmul_job *job = ctx;
    int64_t n = job->w->n_cols;
    for (int t = ith; t < job->n_tokens; t += nth) {
        job->act_traits->from_float(job->x + (int64_t)t * n, job->act_dst + (size_t)t * job->act_row_size, n);
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
    int nth = wl_pool_size(pool);

    if (job.traits->vec_dot_type == WL_TYPE_F32) {
        job.act = (const char *)x;
        job.act_row_size = (size_t)w->n_cols * sizeof(float);
    } else {
        job.act = job.act_dst = scratch;
        job.act_row_size = wl_row_size(job.traits->vec_dot_type, w->n_cols);
        /* One token is cheap to encode; more are worth a parallel pass. */
        if (n_tokens == 1 || nth == 1) quantize_task(&job, 0, 1);
        else wl_pool_run(pool, quantize_task, &job);
    }

    if (n_tokens == 1) {
        int64_t target = (int64_t)nth * CHUNKS_PER_THREAD;
        job.chunk_rows = (w->n_rows + target - 1) / target;
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
