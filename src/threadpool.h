/* A persistent pool of worker threads. The only mutable shared state in the
 * runtime lives here. One wl_pool_run = one parallel operation = one barrier. */
#ifndef WL_THREADPOOL_H
#define WL_THREADPOOL_H

/* Called once per thread: ith in [0, nth). Work is split by the callee. */
typedef void (*wl_task_fn)(void *ctx, int ith, int nth);

typedef struct wl_pool wl_pool;

/* n_threads >= 1 counts the calling thread; n_threads == 1 spawns nothing.
 * Returns NULL on failure (e.g. no pthreads in this build: caller uses 1). */
wl_pool *wl_pool_create(int n_threads);
int wl_pool_size(const wl_pool *pool);
/* Runs fn on all threads (the caller is thread 0) and returns when all are done. */
void wl_pool_run(wl_pool *pool, wl_task_fn fn, void *ctx);
void wl_pool_destroy(wl_pool *pool);

#endif
