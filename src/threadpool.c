/* Persistent worker pool. A run bumps a generation counter; workers spin on
 * it briefly (cheap back-to-back ops), then sleep on a condvar (idle between
 * tokens). Each worker slot is claimed with a CAS, so the caller can run a
 * slot whose worker is late (descheduled, or, in a browser, not started yet)
 * instead of waiting: a run can never hang on a missing thread. Workers are
 * detached and the last of {caller, workers} to leave frees the pool, so
 * destroying never blocks on a thread that has not even started.
 * WL_NO_THREADS builds make no pthread calls at all. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime under -std=c11 */
#include <stdlib.h>
#include "threadpool.h"

#ifdef WL_NO_THREADS

struct wl_pool { int n_threads; };

wl_pool *wl_pool_create(int n_threads) {
    if (n_threads != 1) return NULL; /* caller falls back to one thread */
    wl_pool *p = calloc(1, sizeof *p);
    if (p) p->n_threads = 1;
    return p;
}

int wl_pool_size(const wl_pool *pool) { return 1; }

void wl_pool_run(wl_pool *pool, wl_task_fn fn, void *ctx) { fn(ctx, 0, 1); }

void wl_pool_destroy(wl_pool *pool) { free(pool); }

#else

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

/* How long a thread spins before it sleeps: long enough to bridge the
 * single-threaded ops between two matmuls, short enough not to burn a core
 * while the host is idle. */
#define SPIN_NS 200000

typedef struct {
    wl_pool *pool;
    int ith;
    atomic_uint claimed; /* last generation whose work this slot took */
} worker_slot;

struct wl_pool {
    int n_threads;
    pthread_t *threads;  /* n_threads - 1 workers */
    worker_slot *slots;  /* index = ith; slot 0 unused (the caller) */
    wl_task_fn fn;       /* current task, published by the generation bump */
    void *ctx;
    atomic_uint generation;
    atomic_int pending;  /* worker slots of this generation not yet finished */
    atomic_int sleepers; /* workers (about to be) blocked on work_cv */
    atomic_int caller_sleeping;
    atomic_int stop;
    atomic_int refs;     /* caller + live workers; the last one frees the pool */
    pthread_mutex_t mu;
    pthread_cond_t work_cv, done_cv;
};

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* Spins, then sleeps, until the generation differs from `seen`. */
static unsigned wait_for_generation(wl_pool *p, unsigned seen) {
    long long deadline = 0;
    for (int i = 1;; i++) {
        unsigned g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen) return g;
        cpu_relax();
        if ((i & 63) == 0) {
            long long t = now_ns();
            if (deadline == 0) deadline = t + SPIN_NS;
            else if (t > deadline) break;
        }
    }
    unsigned g;
    pthread_mutex_lock(&p->mu);
    /* Announce before the re-check: wl_pool_run bumps the generation before
     * it reads sleepers, so one of us always sees the other (both seq_cst). */
    atomic_fetch_add(&p->sleepers, 1);
    while ((g = atomic_load(&p->generation)) == seen) pthread_cond_wait(&p->work_cv, &p->mu);
    atomic_fetch_sub(&p->sleepers, 1);
    pthread_mutex_unlock(&p->mu);
    return g;
}

/* Runs slot ith of generation gen unless someone already took it. */
static void run_slot(wl_pool *p, int ith, unsigned gen) {
    unsigned expected = gen - 1;
    if (!atomic_compare_exchange_strong(&p->slots[ith].claimed, &expected, gen)) return;
    p->fn(p->ctx, ith, p->n_threads);
    if (atomic_fetch_sub(&p->pending, 1) == 1 && atomic_load(&p->caller_sleeping)) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_signal(&p->done_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void free_pool(wl_pool *p);

static void release(wl_pool *p) {
    if (atomic_fetch_sub(&p->refs, 1) == 1) free_pool(p);
}

static void *worker_main(void *arg) {
    worker_slot *slot = arg;
    wl_pool *p = slot->pool;
    unsigned seen = 0;
    for (;;) {
        unsigned gen = wait_for_generation(p, seen);
        if (atomic_load(&p->stop)) break;
        run_slot(p, slot->ith, gen);
        seen = gen;
    }
    release(p);
    return NULL;
}

static void wake_workers(wl_pool *p) {
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->work_cv);
        pthread_mutex_unlock(&p->mu);
    }
}

/* Tells the workers to leave, then drops the caller's reference. */
static void stop_workers(wl_pool *p, int n_started) {
    atomic_store(&p->stop, 1);
    atomic_fetch_add(&p->generation, 1);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->work_cv);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < n_started; i++) pthread_detach(p->threads[i]);
    release(p);
}

static void free_pool(wl_pool *p) {
    pthread_cond_destroy(&p->work_cv);
    pthread_cond_destroy(&p->done_cv);
    pthread_mutex_destroy(&p->mu);
    free(p->threads);
    free(p->slots);
    free(p);
}

wl_pool *wl_pool_create(int n_threads) {
    if (n_threads < 1 || n_threads > 1024) return NULL;
    wl_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n_threads = n_threads;
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    p->slots = calloc((size_t)n_threads, sizeof *p->slots);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work_cv, NULL);
    pthread_cond_init(&p->done_cv, NULL);
    if (!p->threads || !p->slots) {
        free_pool(p);
        return NULL;
    }
    atomic_init(&p->refs, 1);
    for (int i = 1; i < n_threads; i++) {
        p->slots[i].pool = p;
        p->slots[i].ith = i;
        atomic_fetch_add(&p->refs, 1); /* before the thread can drop it */
        if (pthread_create(&p->threads[i - 1], NULL, worker_main, &p->slots[i]) != 0) {
            atomic_fetch_sub(&p->refs, 1);
            stop_workers(p, i - 1);
            return NULL;
        }
    }
    return p;
}

int wl_pool_size(const wl_pool *pool) {
    return pool ? pool->n_threads : 1;
}

void wl_pool_run(wl_pool *p, wl_task_fn fn, void *ctx) {
    if (!p || p->n_threads == 1) {
        fn(ctx, 0, 1);
        return;
    }
    int n = p->n_threads;
    p->fn = fn;
    p->ctx = ctx;
    atomic_store(&p->pending, n - 1);
    unsigned gen = atomic_fetch_add(&p->generation, 1) + 1; /* publishes fn, ctx */
    wake_workers(p);

    fn(ctx, 0, n);
    for (int i = 1; i < n; i++) run_slot(p, i, gen); /* take over late workers' slots */

    if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
    long long deadline = now_ns() + SPIN_NS;
    for (int i = 1; atomic_load_explicit(&p->pending, memory_order_acquire) != 0; i++) {
        cpu_relax();
        if ((i & 63) == 0 && now_ns() > deadline) break;
    }
    if (atomic_load_explicit(&p->pending, memory_order_acquire) == 0) return;
    pthread_mutex_lock(&p->mu);
    atomic_store(&p->caller_sleeping, 1);
    while (atomic_load(&p->pending) != 0) pthread_cond_wait(&p->done_cv, &p->mu);
    atomic_store(&p->caller_sleeping, 0);
    pthread_mutex_unlock(&p->mu);
}

void wl_pool_destroy(wl_pool *p) {
    if (!p) return;
    stop_workers(p, p->n_threads - 1);
}

#endif
