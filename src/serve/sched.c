/*
 * sched.c - the request scheduler of `nnedge serve`: one bounded FIFO of
 * inference requests and N worker threads. A worker takes the oldest request
 * and, for a model with a batch dimension, every queued request of the same
 * version whose other dims match, up to the model's max batch; only when
 * others were queued (the server is busy) does it wait up to
 * --batch-delay-us for more, so a lone request never waits. Inputs are
 * joined along dim 0, the model runs once, outputs are split back.
 *
 * Joining pays only where the kernels run a row of a batch faster than a
 * lone row (weights reused across rows). The scheduler measures the compute
 * time per row at each batch size and caps joins at the sizes no slower per
 * row (by 5%) than batch 1, trying every size a few times first and now and then
 * again (kernels, load and cache behaviour change): so batching never costs
 * throughput on kernels where it does not pay.
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
    s->qlen--;
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
    double t0 = srv_now();
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
    double t1 = srv_now();
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
        if (fail) {
            reqs[k]->http_status = reason == SRV_FAIL_COMPUTE ? 400 : 500;
            reqs[k]->fail_reason = reason;
            snprintf(reqs[k]->err, sizeof reqs[k]->err, "%s", err);
        }
    }
}

#define SRV_EXPLORE_RUNS 3
#define SRV_REEXPLORE_EVERY 256

/* Largest batch (rows) worth joining for v now; under the scheduler's mutex. */
static int batch_cap(srv_version *v, int maxb) {
    if (++v->batch_seq % SRV_REEXPLORE_EVERY == 0 || v->row_n[1] < SRV_EXPLORE_RUNS) return maxb;
    int cap = 1;
    for (int b = 2; b <= maxb; b++) {
        int k = b < SRV_BATCH_STATS ? b : SRV_BATCH_STATS - 1;
        if (v->row_n[k] < SRV_EXPLORE_RUNS || v->row_s[k] <= v->row_s[1] * 0.95) cap = b;
    }
    return cap;
}

static void batch_measured(srv_version *v, int64_t rows, double seconds) {
    if (rows < 1) return;
    int k = rows < SRV_BATCH_STATS ? (int)rows : SRV_BATCH_STATS - 1;
    double per_row = seconds / (double)rows;
    v->row_s[k] = v->row_n[k] ? 0.8 * v->row_s[k] + 0.2 * per_row : per_row;
    if (v->row_n[k] < UINT32_MAX) v->row_n[k]++;
}

static void *worker(void *arg) {
    srv_sched *s = arg;
    srv_req *batch[SRV_MAX_BATCH_JOIN];
    pthread_mutex_lock(&s->mu);
    for (;;) {
        s->idle++;
        while (!s->stop && !s->head) pthread_cond_wait(&s->cv_work, &s->mu);
        s->idle--;
        if (s->stop) break;
        srv_req *r = s->head;
        q_remove(s, r);
        r->state = SRV_Q_RUNNING;
        int n = 1;
        int64_t rows = r->batch;
        int maxb = r->v->max_batch;
        if (maxb > 1 && r->batch > 0) maxb = batch_cap(r->v, maxb);
        /* Requests an idle worker would run in parallel are not joined. */
        if (s->qlen <= s->idle) maxb = 1;
        if (maxb > 1 && r->batch > 0) {
            int waited = 0;
            double until = srv_now() + (double)s->batch_delay_us * 1e-6;
            for (;;) {
                for (srv_req *q = s->head, *nx; q && n < SRV_MAX_BATCH_JOIN; q = nx) {
                    nx = q->next;
                    if (rows + q->batch <= maxb && joinable(r, q)) {
                        q_remove(s, q);
                        q->state = SRV_Q_RUNNING;
                        batch[n++] = q;
                        rows += q->batch;
                    }
                }
                /* Wait for more only when the server is busy (others were
                 * queued with this one): a lone request runs at once. */
                if (n == 1 || rows >= maxb || s->batch_delay_us <= 0 || waited || s->stop) break;
                struct timespec ts;
                abs_time(&ts, until);
                while (!s->stop && srv_now() < until) {
                    if (pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) == ETIMEDOUT) break;
                    if (s->head) break; /* something arrived: try to take it */
                }
                if (srv_now() >= until) waited = 1;
            }
        }
        batch[0] = r;
        pthread_mutex_unlock(&s->mu);
        run_batch(batch, n);
        pthread_mutex_lock(&s->mu);
        if (!batch[0]->http_status) batch_measured(batch[0]->v, rows, batch[0]->t_end - batch[0]->t_start);
        for (int k = 0; k < n; k++) {
            batch[k]->state = SRV_Q_DONE;
            pthread_cond_signal(&batch[k]->cv);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int srv_sched_start(srv_sched *s, int threads, int max_queue, long batch_delay_us) {
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->mu, NULL);
    cond_init_mono(&s->cv_work);
    s->max_queue = max_queue;
    s->batch_delay_us = batch_delay_us;
    s->threads = calloc((size_t)threads, sizeof *s->threads);
    if (!s->threads) return 0;
    for (int i = 0; i < threads; i++) {
        if (pthread_create(&s->threads[i], NULL, worker, s) != 0) break;
        s->nthreads++;
    }
    return s->nthreads == threads;
}

void srv_sched_stop(srv_sched *s) {
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nthreads; i++) pthread_join(s->threads[i], NULL);
    free(s->threads);
    s->threads = NULL;
    s->nthreads = 0;
}

int srv_sched_submit(srv_sched *s, srv_req *r) {
    cond_init_mono(&r->cv);
    pthread_mutex_lock(&s->mu);
    if (s->qlen >= s->max_queue || s->stop) {
        pthread_mutex_unlock(&s->mu);
        pthread_cond_destroy(&r->cv);
        return 503;
    }
    r->state = SRV_Q_QUEUED;
    r->t_enqueue = srv_now();
    r->next = NULL;
    r->prev = s->tail;
    if (s->tail) s->tail->next = r;
    else s->head = r;
    s->tail = r;
    s->qlen++;
    /* broadcast: a worker waiting to fill a batch must not swallow the
     * wake-up an idle worker needs for a request it cannot join */
    pthread_cond_broadcast(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    return 0;
}

int srv_sched_wait(srv_sched *s, srv_req *r, double deadline_s, int (*gone)(void *), void *user) {
    int result = 0;
    pthread_mutex_lock(&s->mu);
    while (r->state != SRV_Q_DONE) {
        /* Wake every 50 ms to look at the client's socket and the deadline. */
        double now = srv_now(), until = now + 0.05;
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
    pthread_mutex_unlock(&s->mu);
    pthread_cond_destroy(&r->cv);
    return result;
}

int srv_sched_queue_len(srv_sched *s) {
    pthread_mutex_lock(&s->mu);
    int n = s->qlen;
    pthread_mutex_unlock(&s->mu);
    return n;
}
