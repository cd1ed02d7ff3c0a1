/* The pool runs every slot exactly once per wl_pool_run, makes the caller's
 * writes visible to tasks and the tasks' writes visible after the run, both
 * when workers are spinning (back-to-back runs) and when they sleep. */
#define _POSIX_C_SOURCE 200809L
#include <string.h>
#include <time.h>
#include "../../src/threadpool.h"
#include "kernel_test.h"

typedef struct {
    int run;           /* written by the caller before each run */
    int nth_seen[8];
    int runs_seen[8];  /* slot i writes run + 1 here */
    int calls[8];
    long long partial[8];
    const int *data;
    int n_data;
} job;

static void task(void *ctx, int ith, int nth) {
    job *j = ctx;
    j->nth_seen[ith] = nth;
    j->runs_seen[ith] = j->run + 1;
    j->calls[ith]++;
    long long s = 0;
    for (int i = ith; i < j->n_data; i += nth) s += j->data[i];
    j->partial[ith] = s;
}

static void sleep_ms(int ms) {
    struct timespec ts = { 0, ms * 1000000L };
    nanosleep(&ts, NULL);
}

static void test_pool(int n) {
    wl_pool *pool = wl_pool_create(n);
#ifdef WL_NO_THREADS
    if (n > 1) {
        CHECK(pool == NULL, "no-threads build made a pool of %d", n);
        return;
    }
#endif
    CHECK(pool != NULL, "create %d", n);
    if (!pool) return;
    CHECK(wl_pool_size(pool) == n, "size %d", wl_pool_size(pool));
    static int data[10007];
    long long total = 0;
    for (int i = 0; i < 10007; i++) total += data[i] = i * 3 - 7;
    job j;
    memset(&j, 0, sizeof j);
    j.data = data;
    j.n_data = 10007;
    int runs = 3000;
    for (int r = 0; r < runs; r++) {
        j.run = r;
        if (r % 500 == 499) sleep_ms(3); /* let workers fall asleep */
        wl_pool_run(pool, task, &j);
        long long s = 0;
        for (int i = 0; i < n; i++) {
            CHECK(j.runs_seen[i] == r + 1, "n=%d run %d slot %d saw run %d", n, r, i, j.runs_seen[i] - 1);
            CHECK(j.nth_seen[i] == n, "nth %d", j.nth_seen[i]);
            s += j.partial[i];
        }
        CHECK(s == total, "n=%d run %d sum %lld != %lld", n, r, s, total);
    }
    for (int i = 0; i < n; i++) CHECK(j.calls[i] == runs, "n=%d slot %d ran %d times", n, i, j.calls[i]);
    wl_pool_destroy(pool);
}

int main(void) {
    for (int n = 1; n <= 4; n++) test_pool(n);
    for (int i = 0; i < 30; i++) wl_pool_destroy(wl_pool_create(1 + i % 4)); /* create/destroy churn */
    job j;
    memset(&j, 0, sizeof j);
    wl_pool_run(NULL, task, &j); /* a missing pool means one thread */
    CHECK(j.calls[0] == 1 && j.nth_seen[0] == 1, "NULL pool");
    CHECK(wl_pool_size(NULL) == 1, "NULL pool size");
    return test_summary("test_threadpool");
}
