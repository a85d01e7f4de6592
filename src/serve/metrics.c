/*
 * metrics.c - Prometheus metrics of the server: per model version request
 * counters (successes, failures by reason), queue / compute / end-to-end
 * latency and batch size histograms, memory held; server-wide queue length,
 * resident memory and requests refused before reaching a model. Written in
 * the Prometheus text exposition format (version 0.0.4).
 */
#include "serve/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Latency buckets in seconds, 50 us .. 10 s. */
static const double lat_bounds[SRV_HIST_N] = {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                              0.025,   0.05,   0.1,     0.25,   0.5,   1.0,    2.5,   10.0};
static const double batch_bounds[SRV_HIST_N] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 256, 512};
static const char *const fail_names[SRV_FAIL_N] = {"bad_request", "queue_full", "timeout",
                                                   "cancelled",   "compute",    "internal"};

static pthread_mutex_t reg_mu = PTHREAD_MUTEX_INITIALIZER;
static srv_stats *reg_head;
static int reg_count;
/* Refused before a model: by HTTP status. */
static uint64_t rejected[600];

/* The registry is bounded: a client cannot grow it (entries are made only
 * for versions the repository loaded). */
#define SRV_MAX_STATS 4096

srv_stats *srv_stats_get(const char *model, int64_t version) {
    pthread_mutex_lock(&reg_mu);
    srv_stats *s;
    for (s = reg_head; s; s = s->next)
        if (s->version == version && strcmp(s->model, model) == 0) break;
    if (!s && reg_count < SRV_MAX_STATS && (s = calloc(1, sizeof *s))) {
        snprintf(s->model, sizeof s->model, "%s", model);
        s->version = version;
        pthread_mutex_init(&s->mu, NULL);
        /* kept sorted by model then version, so the output is stable */
        srv_stats **pp = &reg_head;
        while (*pp && (strcmp((*pp)->model, model) < 0 ||
                       (strcmp((*pp)->model, model) == 0 && (*pp)->version < version)))
            pp = &(*pp)->next;
        s->next = *pp;
        *pp = s;
        reg_count++;
    }
    pthread_mutex_unlock(&reg_mu);
    return s;
}

static void hist_add(srv_hist *h, const double *bounds, double v) {
    int i = 0;
    while (i < SRV_HIST_N && v > bounds[i]) i++;
    h->bucket[i]++;
    h->count++;
    h->sum += v;
}

void srv_stats_request(srv_stats *s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->requests++;
    pthread_mutex_unlock(&s->mu);
}

void srv_stats_done(srv_stats *s, int fail_reason, double queue_s, double compute_s, double total_s) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    if (fail_reason < 0) {
        s->success++;
        hist_add(&s->queue_s, lat_bounds, queue_s);
        hist_add(&s->compute_s, lat_bounds, compute_s);
    } else if (fail_reason < SRV_FAIL_N) {
        s->fail[fail_reason]++;
    }
    hist_add(&s->request_s, lat_bounds, total_s);
    pthread_mutex_unlock(&s->mu);
}

void srv_stats_batch(srv_stats *s, int n) {
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    s->batches++;
    s->inferences += (uint64_t)n;
    hist_add(&s->batch_size, batch_bounds, (double)n);
    pthread_mutex_unlock(&s->mu);
}

void srv_stats_rejected(int http_status) {
    if (http_status < 100 || http_status >= 600) return;
    pthread_mutex_lock(&reg_mu);
    rejected[http_status]++;
    pthread_mutex_unlock(&reg_mu);
}

/* Model names are limited to [A-Za-z0-9_.-] (srv_name_ok), so they need no
 * escaping inside a label value. */
static void labels(srv_buf *b, const srv_stats *s) {
    srv_buf_fmt(b, "model=\"%s\",version=\"%lld\"", s->model, (long long)s->version);
}

static void bound_str(char *out, size_t cap, double v) { snprintf(out, cap, "%g", v); }

static void hist_write(srv_buf *b, const char *name, const srv_stats *s, const srv_hist *h, const double *bounds) {
    uint64_t cum = 0;
    for (int i = 0; i <= SRV_HIST_N; i++) {
        cum += h->bucket[i];
        char le[32];
        if (i < SRV_HIST_N) bound_str(le, sizeof le, bounds[i]);
        else snprintf(le, sizeof le, "+Inf");
        srv_buf_fmt(b, "%s_bucket{", name);
        labels(b, s);
        srv_buf_fmt(b, ",le=\"%s\"} %llu\n", le, (unsigned long long)cum);
    }
    srv_buf_fmt(b, "%s_sum{", name);
    labels(b, s);
    srv_buf_fmt(b, "} %.9g\n", h->sum);
    srv_buf_fmt(b, "%s_count{", name);
    labels(b, s);
    srv_buf_fmt(b, "} %llu\n", (unsigned long long)h->count);
}

static size_t rss_bytes(void) {
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long pages = 0, res = 0;
    int ok = fscanf(f, "%lu %lu", &pages, &res) == 2;
    fclose(f);
    return ok ? (size_t)res * (size_t)sysconf(_SC_PAGESIZE) : 0;
}

void srv_metrics_write(srv_buf *b, int queue_len) {
    pthread_mutex_lock(&reg_mu);
    /* Snapshot each entry under its own lock, so a scrape sees consistent counters. */
    int n = 0;
    for (srv_stats *s = reg_head; s; s = s->next) n++;
    srv_stats *snap = n ? calloc((size_t)n, sizeof *snap) : NULL;
    if (n && !snap) {
        pthread_mutex_unlock(&reg_mu);
        b->oom = 1;
        return;
    }
    int i = 0;
    for (srv_stats *s = reg_head; s; s = s->next, i++) {
        pthread_mutex_lock(&s->mu);
        memcpy(&snap[i], s, sizeof *s);
        pthread_mutex_unlock(&s->mu);
        snap[i].memory = atomic_load(&s->memory);
    }
    uint64_t rej[600];
    memcpy(rej, rejected, sizeof rej);
    pthread_mutex_unlock(&reg_mu);

    static const struct { const char *name, *type, *help; } ctr[] = {
        {"nnedge_requests_total", "counter", "Inference requests that reached a model version."},
        {"nnedge_request_success_total", "counter", "Inference requests answered with outputs."},
    };
    for (int k = 0; k < 2; k++) {
        srv_buf_fmt(b, "# HELP %s %s\n# TYPE %s %s\n", ctr[k].name, ctr[k].help, ctr[k].name, ctr[k].type);
        for (i = 0; i < n; i++) {
            srv_buf_fmt(b, "%s{", ctr[k].name);
            labels(b, &snap[i]);
            srv_buf_fmt(b, "} %llu\n", (unsigned long long)(k == 0 ? snap[i].requests : snap[i].success));
        }
    }
    srv_buf_str(b, "# HELP nnedge_request_failure_total Inference requests that failed, by reason.\n"
                   "# TYPE nnedge_request_failure_total counter\n");
    for (i = 0; i < n; i++)
        for (int r = 0; r < SRV_FAIL_N; r++) {
            srv_buf_str(b, "nnedge_request_failure_total{");
            labels(b, &snap[i]);
            srv_buf_fmt(b, ",reason=\"%s\"} %llu\n", fail_names[r], (unsigned long long)snap[i].fail[r]);
        }
    srv_buf_str(b, "# HELP nnedge_batches_total Model executions (each runs one batch of requests).\n"
                   "# TYPE nnedge_batches_total counter\n");
    for (i = 0; i < n; i++) {
        srv_buf_str(b, "nnedge_batches_total{");
        labels(b, &snap[i]);
        srv_buf_fmt(b, "} %llu\n", (unsigned long long)snap[i].batches);
    }
    static const struct { const char *name, *help; int off; } hs[] = {
        {"nnedge_queue_duration_seconds", "Time a successful request waited in the queue.", offsetof(srv_stats, queue_s)},
        {"nnedge_compute_duration_seconds", "Time the model ran for a successful request's batch.", offsetof(srv_stats, compute_s)},
        {"nnedge_request_duration_seconds", "End-to-end time of an inference request in the server.", offsetof(srv_stats, request_s)},
        {"nnedge_batch_size", "Requests joined in one model execution.", offsetof(srv_stats, batch_size)},
    };
    for (int k = 0; k < 4; k++) {
        srv_buf_fmt(b, "# HELP %s %s\n# TYPE %s histogram\n", hs[k].name, hs[k].help, hs[k].name);
        for (i = 0; i < n; i++)
            hist_write(b, hs[k].name, &snap[i], (const srv_hist *)((const char *)&snap[i] + hs[k].off),
                       k == 3 ? batch_bounds : lat_bounds);
    }
    srv_buf_str(b, "# HELP nnedge_model_memory_bytes Bytes a loaded model version holds (weights, plans, contexts); 0 when unloaded.\n"
                   "# TYPE nnedge_model_memory_bytes gauge\n");
    for (i = 0; i < n; i++) {
        srv_buf_str(b, "nnedge_model_memory_bytes{");
        labels(b, &snap[i]);
        srv_buf_fmt(b, "} %zu\n", (size_t)snap[i].memory);
    }
    srv_buf_str(b, "# HELP nnedge_requests_rejected_total HTTP requests refused before reaching a model, by status code.\n"
                   "# TYPE nnedge_requests_rejected_total counter\n");
    for (int c = 100; c < 600; c++)
        if (rej[c]) srv_buf_fmt(b, "nnedge_requests_rejected_total{code=\"%d\"} %llu\n", c, (unsigned long long)rej[c]);
    srv_buf_fmt(b, "# HELP nnedge_queue_length Inference requests waiting for a worker.\n"
                   "# TYPE nnedge_queue_length gauge\nnnedge_queue_length %d\n", queue_len);
    srv_buf_fmt(b, "# HELP nnedge_process_resident_memory_bytes Resident memory of the server process.\n"
                   "# TYPE nnedge_process_resident_memory_bytes gauge\nnnedge_process_resident_memory_bytes %zu\n",
                rss_bytes());
    free(snap);
}
