/*
 * sched.c - the request scheduler of `nnedge serve`: N slots (--threads)
 * that run models, one bounded FIFO of inference requests and N worker
 * threads. A request that finds the queue empty and a slot free runs at once
 * on the calling thread (an HTTP poll thread only when its measured run is
 * short; a gRPC call thread always): no hand-off, no wake-ups. Otherwise a
 * worker takes the oldest request and, for a model with a batch dimension,
 * every queued request of the same version whose other dims match, up to the
 * model's max batch, and waits up to --batch-delay-us for more only while
 * more are on their way (see worker), so a lone request never waits. Inputs
 * are joined along dim 0, the model runs once, outputs are split back. A
 * queued request either has a thread waiting for it (srv_sched_run, which
 * watches its deadline and client itself) or a completion callback
 * (srv_sched_dispatch; the watcher thread cancels it when its deadline
 * passes or its client leaves).
 *
 * Joining pays only where the kernels run a row of a batch faster than a
 * lone row (weights reused across rows). The scheduler measures the compute
 * CPU time per row in each batch size class and caps joins at the largest size
 * whose row costs at most 3/4 of a lone one, joining all it can at the start
 * and now and then again (kernels, load and cache behaviour change): so
 * batching does not cost throughput on kernels where it does not pay.
 */
#include "serve/serve.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

double srv_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU seconds of the calling thread: what a run costs, whatever else the
 * machine runs meanwhile (wall time on a busy machine says more about the
 * others than about the batch size). Helper threads of a context with
 * threads > 1 are not counted, alike at every batch size. */
static double thread_cpu_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void abs_time(struct timespec *ts, double mono_s) {
    /* condition variables below use CLOCK_MONOTONIC (pthread_condattr_setclock) */
    ts->tv_sec = (time_t)mono_s;
    ts->tv_nsec = (long)((mono_s - (double)ts->tv_sec) * 1e9);
    if (ts->tv_nsec >= 1000000000) { ts->tv_sec++; ts->tv_nsec -= 1000000000; }
}

static void cond_init_mono(pthread_cond_t *cv) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cv, &a);
    pthread_condattr_destroy(&a);
}

static void q_remove(srv_sched *s, srv_req *r) {
    if (r->prev) r->prev->next = r->next;
    else s->head = r->next;
    if (r->next) r->next->prev = r->prev;
    else s->tail = r->prev;
    r->next = r->prev = NULL;
    __atomic_fetch_sub(&s->qlen, 1, __ATOMIC_RELAXED); /* read without the lock: srv_sched_queue_full */
}

/* Same version, same dims after dim 0 on every input. */
static int joinable(const srv_req *a, const srv_req *b) {
    if (a->v != b->v || b->batch <= 0) return 0;
    for (int i = 0; i < a->v->ninputs; i++) {
        const nne_tensor *x = &a->in[i], *y = &b->in[i];
        if (x->ndim != y->ndim) return 0;
        for (int d = 1; d < x->ndim; d++)
            if (x->dims[d] != y->dims[d]) return 0;
    }
    return 1;
}

/* Run reqs[0..n) (joined when n > 1) and fill each one's outputs or error. */
static void run_batch(srv_req **reqs, int n) {
    srv_version *v = reqs[0]->v;
    nne_tensor shapes[SRV_MAX_IO];
    void *joined[SRV_MAX_IO] = {0};
    int64_t total = 0;
    char err[512] = "";
    int fail = 0, reason = SRV_FAIL_INTERNAL;
    for (int k = 0; k < n; k++) total += reqs[k]->batch;
    for (int i = 0; i < v->ninputs; i++) {
        shapes[i] = reqs[0]->in[i];
        if (n > 1) {
            shapes[i].dims[0] = total;
            size_t bytes;
            if (nne_tensor_nbytes_checked(&shapes[i], &bytes) != NNE_OK || !(joined[i] = malloc(bytes ? bytes : 1))) {
                snprintf(err, sizeof err, "out of memory joining a batch of %d requests", n);
                fail = 1;
                break;
            }
            size_t off = 0;
            for (int k = 0; k < n; k++) {
                size_t nb = nne_tensor_nbytes(&reqs[k]->in[i]);
                memcpy((char *)joined[i] + off, reqs[k]->in[i].data, nb);
                off += nb;
            }
            shapes[i].data = joined[i];
        }
    }
    size_t in_bytes = 0;
    for (int i = 0; !fail && i < v->ninputs; i++) in_bytes += nne_tensor_nbytes(&shapes[i]);
    double t0 = srv_now(), c0 = thread_cpu_s();
    srv_plan_ent *ent = NULL;
    nne_context *c = fail ? NULL : srv_version_ctx_get(v, shapes, &ent, err, sizeof err);
    if (!fail && !c) { fail = 1; reason = SRV_FAIL_COMPUTE; }
    for (int i = 0; !fail && i < v->ninputs; i++)
        if (nne_context_set_input(c, v->in[i].name, &shapes[i]) != NNE_OK) {
            snprintf(err, sizeof err, "input '%s': %s", v->in[i].name, nne_context_last_error(c));
            fail = 1;
            reason = SRV_FAIL_COMPUTE;
        }
    if (!fail && nne_context_run(c) != NNE_OK) {
        snprintf(err, sizeof err, "model '%s' version %lld: %s", v->model_name, (long long)v->version,
                 nne_context_last_error(c));
        fail = 1;
        reason = SRV_FAIL_COMPUTE;
    }
    double t1 = srv_now(), c1 = thread_cpu_s();
    /* Split the outputs: each request gets its rows (or the whole output
     * when it ran alone). Copies, because the context is reused. */
    for (int o = 0; !fail && o < v->noutputs; o++) {
        nne_tensor y;
        if (nne_context_output(c, o, &y) != NNE_OK) {
            snprintf(err, sizeof err, "output %d: %s", o, nne_context_last_error(c));
            fail = 1;
            break;
        }
        if (n > 1 && (y.ndim < 1 || y.dims[0] != total)) {
            snprintf(err, sizeof err, "output '%s' has no batch dimension of %lld rows: cannot split a batch",
                     v->out[o].name, (long long)total);
            fail = 1;
            break;
        }
        size_t all = nne_tensor_nbytes(&y), row = n > 1 && total > 0 ? all / (size_t)total : 0;
        size_t off = 0;
        for (int k = 0; k < n && !fail; k++) {
            nne_tensor *t = &reqs[k]->out[o];
            *t = y;
            size_t nb = all;
            if (n > 1) {
                t->dims[0] = reqs[k]->batch;
                nb = row * (size_t)reqs[k]->batch;
            }
            t->data = malloc(nb ? nb : 1);
            if (!t->data) {
                snprintf(err, sizeof err, "out of memory for output '%s'", v->out[o].name);
                fail = 1;
                break;
            }
            memcpy(t->data, (const char *)y.data + off, nb);
            off += n > 1 ? nb : 0;
            reqs[k]->nout = o + 1;
        }
    }
    if (c) srv_version_ctx_put(v, ent, c);
    for (int i = 0; i < v->ninputs; i++) free(joined[i]);
    srv_stats_batch(v->stats, n);
    for (int k = 0; k < n; k++) {
        reqs[k]->t_start = t0;
        reqs[k]->t_end = t1;
        reqs[k]->cpu_s = c1 - c0;
        reqs[k]->run_bytes = (double)in_bytes;
        if (fail) {
            reqs[k]->http_status = reason == SRV_FAIL_COMPUTE ? 400 : 500;
            reqs[k]->fail_reason = reason;
            snprintf(reqs[k]->err, sizeof reqs[k]->err, "%s", err);
        }
    }
}

#define SRV_EXPLORE_RUNS 3
#define SRV_EXPLORE_JOINS 12
#define SRV_EXPLORE_MAX_JOINS 256 /* joins while batch sizes the peak could fill are unmeasured */
/* A join must run a row in at most this share of a lone run's time: smaller
 * gains are eaten by what joining costs (copies, a hand-off to a worker,
 * waiting for the batch to fill), and are within the noise of a busy
 * machine. */
#define SRV_JOIN_GAIN 0.75
#define SRV_REEXPLORE_S 1.0 /* a join of every size is tried again this often */

/* Batch sizes are measured in classes: 1, 2-3, 4-7, 8-15, ... (SRV_BATCH_STATS
 * entries), so that each class gathers runs quickly whatever sizes form. */
static int size_class(int64_t rows) {
    int k = 0;
    while (rows > 1 && k < SRV_BATCH_STATS - 1) {
        rows >>= 1;
        k++;
    }
    return k;
}

/* Largest batch (rows) worth joining for v by what was measured (under
 * the scheduler's mutex): the top of the largest size class, measured a
 * few times, whose row costs at most SRV_JOIN_GAIN of a lone one. Lone runs
 * are measured first; classes not measured yet do not count (joins are
 * tried at the start and once every SRV_REEXPLORE_S, see
 * batch_cap): on kernels where batching does not pay, joins stop, and so
 * does waiting for them. */
static int measured_cap(const srv_version *v, int maxb) {
    if (v->row_n[0] < SRV_EXPLORE_RUNS) return 1;
    int cap = 1;
    for (int k = 1; k < SRV_BATCH_STATS && (1LL << k) <= maxb; k++)
        if (v->row_n[k] >= SRV_EXPLORE_RUNS && v->row_s[k] <= v->row_s[0] * SRV_JOIN_GAIN)
            cap = k + 1 < 31 && (1LL << (k + 1)) - 1 < maxb ? (int)((1LL << (k + 1)) - 1) : maxb;
    return cap;
}

/* The cap for the next join: the model's maximum while too few joins were
 * measured and now and then later (kernels, load and cache behaviour
 * change), else the measured one. */
/* Lone runs are measured, and too few joins yet, or (up to
 * SRV_EXPLORE_MAX_JOINS joins) a batch size that the requests in flight
 * lately could fill is not measured yet. Without the second rule the first
 * joins, made while few requests were in flight, decided alone: pairs
 * often cost as much per row as lone runs (GEMM packing is amortized from
 * about 4 rows), the cap closed at 1, and the batches of 8 that 16 clients
 * fill, which do pay, were never tried. Without its bound a model where
 * joins never pay kept joining while some size (16 at once) never came. */
static int exploring(const srv_version *v) {
    if (v->row_n[0] < SRV_EXPLORE_RUNS) return 0;
    uint32_t joins = 0;
    for (int k = 1; k < SRV_BATCH_STATS; k++) joins += v->row_n[k];
    if (joins < SRV_EXPLORE_JOINS) return 1;
    if (joins >= SRV_EXPLORE_MAX_JOINS) return 0;
    int peak = v->peak_cur > v->peak_prev ? v->peak_cur : v->peak_prev;
    if (peak > v->max_batch) peak = v->max_batch;
    for (int k = 1; k < SRV_BATCH_STATS && (1LL << k) <= peak; k++)
        if (v->row_n[k] < SRV_EXPLORE_RUNS) return 1;
    return 0;
}

static int batch_cap(srv_version *v, int maxb) {
    double now = srv_now();
    if (exploring(v)) return maxb;
    if (v->row_n[0] >= SRV_EXPLORE_RUNS && now - v->explore_t >= SRV_REEXPLORE_S) {
        v->explore_t = now;
        return maxb;
    }
    return measured_cap(v, maxb);
}

/* r may be joined with others, and joining pays (or is being measured) for
 * its model. */
static int may_join(const srv_req *r) {
    return r->v->max_batch > 1 && r->batch > 0 && (exploring(r->v) || measured_cap(r->v, r->v->max_batch) > 1);
}

static void batch_measured(srv_version *v, int64_t rows, double seconds) {
    if (rows < 1) return;
    int k = size_class(rows);
    double per_row = seconds / (double)rows;
    /* a slow average: one run slowed by a busy machine must not flip the cap */
    v->row_s[k] = v->row_n[k] ? 0.95 * v->row_s[k] + 0.05 * per_row : per_row;
    if (v->row_n[k] < UINT32_MAX) v->row_n[k]++;
}

/* CPU seconds per input byte of v's runs, whatever their size (under
 * s->mu): what a request's run will take, before it runs. A slow
 * average, so that one run slowed by a busy machine does not move it. */
static void cost_measured(srv_version *v, const srv_req *r) {
    if (r->http_status || r->run_bytes <= 0) return;
    double c = r->cpu_s / r->run_bytes;
    v->cost_per_byte = v->cost_n ? 0.8 * v->cost_per_byte + 0.2 * c : c;
    if (v->cost_n < UINT32_MAX) v->cost_n++;
}

/* The most requests of v inside the scheduler lately (under s->mu). */
static int peak_recent(srv_version *v, double now) {
    if (now - v->peak_t >= SRV_PEAK_WINDOW_S) {
        /* a new window; after two quiet windows the old peak is forgotten */
        v->peak_prev = now - v->peak_t >= 2 * SRV_PEAK_WINDOW_S ? 0 : v->peak_cur;
        v->peak_cur = v->inflight;
        v->peak_t = now;
    }
    return v->peak_cur > v->peak_prev ? v->peak_cur : v->peak_prev;
}

/* A run ended (under s->mu): its slot is free for a queued request, and a
 * worker filling a batch looks again whether to wait (see worker). */
static void run_ended(srv_sched *s) {
    s->running--;
    if (s->head && s->idle) pthread_cond_signal(&s->cv_work);
    if (s->filling) pthread_cond_broadcast(&s->cv_fill);
}

static void *worker(void *arg) {
    srv_sched *s = arg;
    srv_req *batch[SRV_MAX_BATCH_JOIN];
    pthread_mutex_lock(&s->mu);
    for (;;) {
        /* A stopping scheduler still runs what is queued: no request is
         * left without an answer. */
        s->idle++;
        while (!(s->stop && !s->head) && (!s->head || s->running >= s->nthreads))
            pthread_cond_wait(&s->cv_work, &s->mu);
        s->idle--;
        if (!s->head) break;
        srv_req *r = s->head;
        q_remove(s, r);
        r->state = SRV_Q_RUNNING;
        s->running++;
        int n = 1;
        int64_t rows = r->batch;
        int maxb = r->v->max_batch;
        if (maxb > 1 && r->batch > 0) maxb = batch_cap(r->v, maxb);
        if (maxb > 1 && r->batch > 0) {
            double until = srv_now() + (double)s->batch_delay_us * 1e-6;
            for (;;) {
                for (srv_req *q = s->head, *nx; q && n < SRV_MAX_BATCH_JOIN && rows < maxb; q = nx) {
                    nx = q->next;
                    if (rows + q->batch <= maxb && joinable(r, q)) {
                        q_remove(s, q);
                        q->state = SRV_Q_RUNNING;
                        batch[n++] = q;
                        rows += q->batch;
                    }
                }
                /* Wait for more, up to --batch-delay-us, while this batch
                 * holds less than its share of the requests in flight
                 * lately (the most there were, over the --threads slots:
                 * the slots run batches side by side) and more are on
                 * their way: another run computes (its clients send their
                 * next requests when it ends), or fewer requests of this
                 * version are inside the server than lately (the other
                 * clients are between two requests). At concurrency 1
                 * the share is 1: a lone request never waits. */
                double now = srv_now();
                int peak = peak_recent(r->v, now);
                int64_t share = (peak + s->nthreads - 1) / s->nthreads;
                if (rows >= maxb || rows >= share || s->batch_delay_us <= 0 || s->stop || now >= until ||
                    (s->running - s->filling <= 1 && r->v->inflight >= peak))
                    break;
                struct timespec ts;
                abs_time(&ts, until);
                s->filling++;
                int seen = s->qlen, computing = s->running - s->filling;
                while (!s->stop && s->qlen == seen && s->running - s->filling == computing)
                    if (pthread_cond_timedwait(&s->cv_fill, &s->mu, &ts) == ETIMEDOUT) break;
                s->filling--;
            }
        }
        batch[0] = r;
        pthread_mutex_unlock(&s->mu);
        run_batch(batch, n);
        pthread_mutex_lock(&s->mu);
        if (!batch[0]->http_status) batch_measured(batch[0]->v, rows, batch[0]->cpu_s);
        cost_measured(batch[0]->v, batch[0]);
        int nasync = 0;
        for (int k = 0; k < n; k++) {
            batch[k]->state = SRV_Q_DONE;
            if (batch[k]->done) {
                /* told below, without the lock (the callback resumes a
                 * connection: libmicrohttpd's locks come after ours) */
                batch[k]->v->inflight--;
                s->nasync--;
                batch[nasync++] = batch[k];
            } else {
                pthread_cond_signal(&batch[k]->cv);
            }
        }
        run_ended(s);
        if (nasync) {
            pthread_mutex_unlock(&s->mu);
            for (int k = 0; k < nasync; k++) batch[k]->done(batch[k], 0, batch[k]->done_user);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Cancels queued requests of srv_sched_dispatch whose deadline passed or
 * whose client left: every 50 ms while there are any, and at the earliest
 * deadline (their own threads do not wait for them, as srv_sched_run's do). */
static void *watcher(void *arg) {
    srv_sched *s = arg;
    srv_req *gone[SRV_MAX_BATCH_JOIN];
    int why[SRV_MAX_BATCH_JOIN];
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        if (!s->nasync) {
            s->watch_idle = 1;
            pthread_cond_wait(&s->cv_watch, &s->mu);
            s->watch_idle = 0;
            continue;
        }
        double until = srv_now() + 0.05;
        for (srv_req *q = s->head; q; q = q->next)
            if (q->done && q->deadline > 0 && q->deadline < until) until = q->deadline;
        struct timespec ts;
        abs_time(&ts, until);
        pthread_cond_timedwait(&s->cv_watch, &s->mu, &ts);
        if (s->stop) break;
        double now = srv_now();
        int n = 0;
        for (srv_req *q = s->head, *nx; q && n < SRV_MAX_BATCH_JOIN; q = nx) {
            nx = q->next;
            if (!q->done) continue;
            int w = q->deadline > 0 && now >= q->deadline ? SRV_FAIL_TIMEOUT
                    : q->gone && q->gone(q->gone_user)   ? SRV_FAIL_CANCELLED
                                                         : 0;
            if (!w) continue;
            q_remove(s, q);
            q->state = SRV_Q_CANCELLED;
            q->v->inflight--;
            s->nasync--;
            why[n] = w;
            gone[n++] = q;
        }
        if (n) {
            pthread_mutex_unlock(&s->mu);
            for (int k = 0; k < n; k++) gone[k]->done(gone[k], why[k], gone[k]->done_user);
            pthread_mutex_lock(&s->mu);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int srv_sched_start(srv_sched *s, int threads, int max_queue, long batch_delay_us) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    cond_init_mono(&s->cv_work);
    cond_init_mono(&s->cv_fill);
    cond_init_mono(&s->cv_watch);
    s->max_queue = max_queue;
    s->batch_delay_us = batch_delay_us;
    s->threads = calloc((size_t)threads, sizeof *s->threads);
    if (!s->threads) return 0;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&s->threads[i], NULL, worker, s) != 0) break;
        s->nthreads++;
    }
    s->watching = pthread_create(&s->watcher, NULL, watcher, s) == 0;
    return s->nthreads == threads && s->watching;
}

void srv_sched_stop(srv_sched *s) {
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv_work);
    pthread_cond_broadcast(&s->cv_fill);
    pthread_cond_broadcast(&s->cv_watch);
    pthread_mutex_unlock(&s->mu);
    if (s->watching) pthread_join(s->watcher, NULL);
    s->watching = 0;
    for (int i = 0; i < s->nthreads; i++) pthread_join(s->threads[i], NULL);
    free(s->threads);
    s->threads = NULL;
    s->nthreads = 0;
}

/* Queue r (under s->mu); 0, or 503 when the queue is full. */
static int enqueue_locked(srv_sched *s, srv_req *r) {
    if (s->qlen >= s->max_queue || s->stop) return 503;
    r->state = SRV_Q_QUEUED;
    r->t_enqueue = srv_now();
    r->next = NULL;
    r->prev = s->tail;
    if (s->tail) s->tail->next = r;
    else s->head = r;
    s->tail = r;
    __atomic_fetch_add(&s->qlen, 1, __ATOMIC_RELAXED);
    /* One idle worker when a slot is free; every worker filling a batch
     * (each may join it). Separate condition variables, so a filling
     * worker never swallows the wake-up an idle one needs. */
    if (s->idle && s->running < s->nthreads) pthread_cond_signal(&s->cv_work);
    if (s->filling) pthread_cond_broadcast(&s->cv_fill);
    /* the watcher sleeps without a timeout only while none is queued */
    if (r->done && s->nasync++ == 0 && s->watch_idle) pthread_cond_signal(&s->cv_watch);
    return 0;
}

/* The request enters the scheduler (under s->mu): 1 when it should run at
 * once on the calling thread (nothing waits, a slot is free, no batch is
 * worth waiting for, and its measured run takes at most max_s). */
static int admit(srv_sched *s, srv_req *r, double max_s) {
    srv_version *v = r->v;
    double now = srv_now();
    v->inflight++;
    int peak = peak_recent(v, now); /* before the update: "lately" */
    if (v->inflight > v->peak_cur) v->peak_cur = v->inflight;
    if (s->head || s->running >= s->nthreads || (may_join(r) && (s->running > 0 || peak > 1))) return 0;
    if (max_s > 0) {
        /* its run, by the measured cost of an input byte (requests of one
         * model may differ in size: a large one must not pass for a small
         * one); not measured yet: a worker runs it */
        double bytes = 0;
        for (int i = 0; i < v->ninputs; i++) bytes += (double)nne_tensor_nbytes(&r->in[i]);
        if (!v->cost_n || bytes * v->cost_per_byte > max_s) return 0;
    }
    return 1;
}

/* Run r on the calling thread (admitted, under s->mu; returns under it). */
static void run_inline(srv_sched *s, srv_req *r) {
    s->running++;
    r->state = SRV_Q_RUNNING;
    r->t_enqueue = srv_now();
    pthread_mutex_unlock(&s->mu);
    srv_req *one = r;
    run_batch(&one, 1);
    pthread_mutex_lock(&s->mu);
    r->state = SRV_Q_DONE;
    if (!r->http_status) batch_measured(r->v, r->batch, r->cpu_s);
    cost_measured(r->v, r);
    run_ended(s);
    r->v->inflight--;
}

int srv_sched_dispatch(srv_sched *s, srv_req *r, double max_inline_s, double deadline_s, int (*gone)(void *),
                       void *gone_user, void (*done)(srv_req *, int, void *), void *done_user) {
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        return 503;
    }
    if (admit(s, r, max_inline_s)) {
        run_inline(s, r);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    r->done = done;
    r->done_user = done_user;
    r->deadline = deadline_s;
    r->gone = gone;
    r->gone_user = gone_user;
    int result = enqueue_locked(s, r);
    if (result) {
        r->done = NULL;
        r->v->inflight--;
    } else {
        result = SRV_SCHED_QUEUED;
    }
    pthread_mutex_unlock(&s->mu);
    return result;
}

int srv_sched_run(srv_sched *s, srv_req *r, double deadline_s, int (*gone)(void *), void *user) {
    srv_version *v = r->v;
    pthread_mutex_lock(&s->mu);
    if (s->stop) {
        pthread_mutex_unlock(&s->mu);
        return 503;
    }
    int result = 0;
    r->done = NULL;
    if (admit(s, r, 0)) {
        /* Nothing waits and a slot is free: run here, on the thread that
         * parsed the request. Handing it to a worker and back costs two
         * wake-ups (tens of microseconds each on a VM) and gains nothing.
         * A request that batching pays for goes through the queue when
         * others were in flight lately: a worker joins it with the
         * requests on their way (see worker). */
        run_inline(s, r);
        pthread_mutex_unlock(&s->mu);
        return 0;
    }
    cond_init_mono(&r->cv);
    if (enqueue_locked(s, r) != 0) {
        result = 503;
    } else {
        while (r->state != SRV_Q_DONE) {
            /* Wake every 50 ms to look at the client's socket and the deadline. */
            double until = srv_now() + 0.05;
            if (deadline_s > 0 && deadline_s < until) until = deadline_s;
            struct timespec ts;
            abs_time(&ts, until);
            pthread_cond_timedwait(&r->cv, &s->mu, &ts);
            if (r->state != SRV_Q_QUEUED) continue; /* running: it finishes */
            int why = 0;
            if (deadline_s > 0 && srv_now() >= deadline_s) why = SRV_FAIL_TIMEOUT;
            else if (gone && gone(user)) why = SRV_FAIL_CANCELLED;
            if (why) {
                q_remove(s, r);
                r->state = SRV_Q_CANCELLED;
                result = why;
                break;
            }
        }
    }
    v->inflight--;
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&r->cv);
    return result;
}

int srv_sched_queue_full(srv_sched *s) {
    /* a plain read of the count the mutex guards: a refusal never waits
     * behind a worker scanning the queue (a stale answer only moves the
     * refusal to srv_sched_run) */
    return __atomic_load_n(&s->qlen, __ATOMIC_RELAXED) >= s->max_queue;
}

int srv_sched_queue_len(srv_sched *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->qlen;
    pthread_mutex_unlock(&s->mu);
    return n;
}
