/*
 * threadpool.h - the persistent worker pool of a plan: the kernels of its
 * nodes split their work statically into one part per thread.
 *
 * A pool of T threads has T - 1 workers; the caller of nne_parallel is the
 * T-th. Workers spin briefly after a job (the next node usually follows
 * within microseconds), then sleep on a condition variable, so an idle
 * process holding a prepared plan uses no CPU.
 *
 * The contexts of a plan share its pool and may run at once: a caller that
 * finds the pool busy with another context's job runs its own job's parts
 * itself, one after the other (never waits for the other job, never mixes
 * parts of two jobs). Parts run in the caller get the caller's scratch;
 * parts run in a worker get that worker's own scratch (worker_scratch bytes,
 * 64-byte aligned, made at create), so a kernel whose part needs more than
 * nne_threadpool_scratch_bytes() must not split.
 */
#ifndef NNE_CORE_THREADPOOL_H
#define NNE_CORE_THREADPOOL_H

#include <stddef.h>

typedef struct nne_threadpool nne_threadpool;

/* Part `part` of `nparts` of a job; scratch as described above. */
typedef void (*nne_task_fn)(void *arg, int part, int nparts, void *scratch);

/* A pool of `threads` threads (threads - 1 workers), each worker with
 * worker_scratch bytes of scratch. NULL when threads <= 1 or when memory or
 * threads cannot be had (callers then run single-threaded). */
nne_threadpool *nne_threadpool_create(int threads, size_t worker_scratch);
/* Stops and joins the workers. NULL does nothing. */
void nne_threadpool_destroy(nne_threadpool *pool);
/* Threads of the pool (1 for NULL). */
int nne_threadpool_threads(const nne_threadpool *pool);
/* Scratch bytes each worker has (0 for NULL). */
size_t nne_threadpool_scratch_bytes(const nne_threadpool *pool);

/* Runs fn(arg, p, nparts, scratch) for every p in [0, nparts) and returns
 * when all have finished. nparts <= nne_threadpool_threads(pool) spreads the
 * parts over the threads (part 0 in the caller); with a NULL or busy pool, or
 * more parts than threads, the caller runs them in order with
 * caller_scratch. */
void nne_parallel(nne_threadpool *pool, int nparts, nne_task_fn fn, void *arg, void *caller_scratch);

/* Splits [0, n) into `parts` contiguous ranges whose bounds are multiples of
 * `align` (except n): range `part` is [*lo, *hi), possibly empty. */
void nne_split_range(long long n, long long align, int part, int parts, long long *lo, long long *hi);

#endif
