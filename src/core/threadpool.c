/*
 * threadpool.c - persistent workers for a plan's kernels (see threadpool.h).
 *
 * One job at a time: the caller that wins `busy` publishes (fn, arg, nparts),
 * marks parts 1.. nparts-1 available for this generation and bumps the
 * generation counter; each worker claims the part matching its index (a
 * compare-and-swap of its `avail` word from the generation to 0), runs it
 * and counts itself done. The caller runs part 0, then claims and runs
 * every part no worker has claimed yet (on a loaded machine a worker may
 * not have been scheduled at all: its part is not left waiting for it),
 * and waits only for the parts workers claimed. A worker that wakes late
 * finds its part taken (the word is 0, or a later generation) and goes
 * back to waiting; it reads the job only after a successful claim, while
 * the job cannot finish without it. Workers wait for the next generation by spinning a short while
 * (cheap when nodes follow each other) and then on a condition variable, so
 * an idle pool costs no CPU. All hand-offs are C11 atomics with
 * acquire/release order (the condition variable only parks threads), which
 * ThreadSanitizer follows.
 */
#include "core/threadpool.h"
#include "core/core.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long a worker spins for the next job before sleeping. */
#define SPIN_NS 200000LL

typedef struct worker {
    nne_threadpool *pool;
    int index; /* runs part index + 1 */
    atomic_uint avail; /* the generation whose part index + 1 is unclaimed, or 0 */
    pthread_t tid;
    void *scratch;
} worker;

struct nne_threadpool {
    int threads;
    size_t scratch_bytes;
    worker *w;
    int started; /* workers actually running */
    atomic_int busy;      /* a job is in flight (trylock for submitters) */
    atomic_uint gen;      /* bumped for every job and for stop */
    atomic_int done;      /* parts claimed by workers and finished, this generation */
    atomic_int sleepers;  /* workers parked on cv */
    atomic_int stop;
    /* the job (written before gen is bumped, read after it is seen) */
    nne_task_fn fn;
    void *arg;
    int nparts;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void *worker_main(void *p) {
    worker *w = p;
    nne_threadpool *pool = w->pool;
    /* generation 0 is the pool's creation: a job published before this
     * thread got to run is still seen as new */
    unsigned seen = 0;
    for (;;) {
        unsigned g = atomic_load_explicit(&pool->gen, memory_order_acquire);
        if (g == seen) {
            long long t0 = now_ns();
            for (int i = 0;; i++) {
                cpu_relax();
                g = atomic_load_explicit(&pool->gen, memory_order_acquire);
                if (g != seen) break;
                if ((i & 255) == 255 && now_ns() - t0 > SPIN_NS) break;
            }
        }
        if (g == seen) {
            pthread_mutex_lock(&pool->mu);
            atomic_fetch_add(&pool->sleepers, 1);
            while ((g = atomic_load_explicit(&pool->gen, memory_order_acquire)) == seen)
                pthread_cond_wait(&pool->cv, &pool->mu);
            atomic_fetch_sub(&pool->sleepers, 1);
            pthread_mutex_unlock(&pool->mu);
        }
        seen = g;
        if (atomic_load_explicit(&pool->stop, memory_order_acquire)) break;
        unsigned want = g;
        if (g != 0 && atomic_compare_exchange_strong_explicit(&w->avail, &want, 0u, memory_order_acq_rel,
                                                              memory_order_relaxed)) {
            pool->fn(pool->arg, w->index + 1, pool->nparts, w->scratch);
            atomic_fetch_add_explicit(&pool->done, 1, memory_order_release);
        }
    }
    return NULL;
}

/* Wakes parked workers after gen was bumped. */
static void wake_all(nne_threadpool *pool) {
    if (atomic_load(&pool->sleepers) == 0) {
        /* a worker between its last spin check and parking takes mu first and
         * re-checks gen under it, so it cannot miss this generation */
        pthread_mutex_lock(&pool->mu);
        pthread_mutex_unlock(&pool->mu);
        if (atomic_load(&pool->sleepers) == 0) return;
    }
    pthread_mutex_lock(&pool->mu);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
}

nne_threadpool *nne_threadpool_create(int threads, size_t worker_scratch) {
    if (threads <= 1) return NULL;
    nne_threadpool *pool = nne_calloc(1, sizeof *pool);
    if (!pool) return NULL;
    pool->threads = threads;
    pool->scratch_bytes = worker_scratch;
    pool->w = nne_calloc((size_t)threads - 1, sizeof *pool->w);
    if (!pool->w || pthread_mutex_init(&pool->mu, NULL) != 0) {
        nne_free(pool->w);
        nne_free(pool);
        return NULL;
    }
    if (pthread_cond_init(&pool->cv, NULL) != 0) {
        pthread_mutex_destroy(&pool->mu);
        nne_free(pool->w);
        nne_free(pool);
        return NULL;
    }
    atomic_init(&pool->busy, 0);
    atomic_init(&pool->gen, 0);
    atomic_init(&pool->done, 0);
    atomic_init(&pool->sleepers, 0);
    atomic_init(&pool->stop, 0);
    for (int i = 0; i < threads - 1; i++) {
        worker *w = &pool->w[i];
        w->pool = pool;
        w->index = i;
        atomic_init(&w->avail, 0u);
        w->scratch = worker_scratch ? nne_aligned_alloc(worker_scratch) : NULL;
        if (worker_scratch && !w->scratch) break;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setstacksize(&at, (size_t)1 << 20);
        int rc = pthread_create(&w->tid, &at, worker_main, w);
        pthread_attr_destroy(&at);
        if (rc != 0) {
            nne_aligned_free(w->scratch);
            w->scratch = NULL;
            break;
        }
        pool->started++;
    }
    if (pool->started != threads - 1) {
        nne_threadpool_destroy(pool);
        return NULL;
    }
    return pool;
}

void nne_threadpool_destroy(nne_threadpool *pool) {
    if (!pool) return;
    atomic_store_explicit(&pool->stop, 1, memory_order_release);
    atomic_fetch_add_explicit(&pool->gen, 1, memory_order_release);
    pthread_mutex_lock(&pool->mu);
    pthread_cond_broadcast(&pool->cv);
    pthread_mutex_unlock(&pool->mu);
    for (int i = 0; i < pool->started; i++) {
        pthread_join(pool->w[i].tid, NULL);
        nne_aligned_free(pool->w[i].scratch);
    }
    pthread_cond_destroy(&pool->cv);
    pthread_mutex_destroy(&pool->mu);
    nne_free(pool->w);
    nne_free(pool);
}

int nne_threadpool_threads(const nne_threadpool *pool) { return pool ? pool->threads : 1; }

size_t nne_threadpool_scratch_bytes(const nne_threadpool *pool) { return pool ? pool->scratch_bytes : 0; }

void nne_parallel(nne_threadpool *pool, int nparts, nne_task_fn fn, void *arg, void *caller_scratch) {
    int expected = 0;
    if (nparts <= 1 || !pool || nparts > pool->threads ||
        !atomic_compare_exchange_strong_explicit(&pool->busy, &expected, 1, memory_order_acquire,
                                                 memory_order_relaxed)) {
        for (int p = 0; p < nparts; p++) fn(arg, p, nparts, caller_scratch);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    pool->nparts = nparts;
    atomic_store_explicit(&pool->done, 0, memory_order_relaxed);
    /* generation 0 marks "claimed": skip it when the counter wraps */
    unsigned g = atomic_load_explicit(&pool->gen, memory_order_relaxed) + 1;
    if (g == 0) g = 1;
    for (int p = 1; p < nparts; p++) atomic_store_explicit(&pool->w[p - 1].avail, g, memory_order_release);
    atomic_store_explicit(&pool->gen, g, memory_order_release);
    wake_all(pool);
    fn(arg, 0, nparts, caller_scratch);
    /* parts no worker has started: run them here */
    int claimed = 0;
    for (int p = 1; p < nparts; p++) {
        unsigned want = g;
        if (atomic_compare_exchange_strong_explicit(&pool->w[p - 1].avail, &want, 0u, memory_order_acq_rel,
                                                    memory_order_relaxed))
            fn(arg, p, nparts, caller_scratch);
        else
            claimed++;
    }
    for (int i = 0; atomic_load_explicit(&pool->done, memory_order_acquire) < claimed; i++) {
        /* on a loaded machine a worker may be descheduled: give up the CPU */
        if (i < 4096) cpu_relax();
        else sched_yield();
    }
    atomic_store_explicit(&pool->busy, 0, memory_order_release);
}

void nne_split_range(long long n, long long align, int part, int parts, long long *lo, long long *hi) {
    if (align < 1) align = 1;
    long long units = (n + align - 1) / align;
    long long base = units / parts, rem = units % parts;
    long long u0 = part * base + (part < rem ? part : rem);
    long long u1 = u0 + base + (part < rem ? 1 : 0);
    long long a = u0 * align, b = u1 * align;
    *lo = a < n ? a : n;
    *hi = b < n ? b : n;
}
