/*
 * serve.h - internals of `nnedge serve`, the Open Inference Protocol (KServe
 * v2) server: model repository with hot swap, request scheduler with dynamic
 * batching, request parsing and response writing, Prometheus metrics and the
 * libmicrohttpd front end. Runs on the public nnedge API only (nnedge.h).
 */
#ifndef NNE_SERVE_H
#define NNE_SERVE_H

#include "nnedge.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Limits the server never goes past, whatever a request or a file says. */
#define SRV_MAX_IO 64          /* inputs or outputs of one model / request */
#define SRV_MAX_VERSIONS 16    /* served versions of one model */
#define SRV_MAX_MODELS 256     /* models of one repository */
#define SRV_MAX_PLANS 16       /* cached plans (input shapes) of one version */
#define SRV_NAME_MAX 128       /* model name bytes */
#define SRV_MAX_BATCH_JOIN 256 /* requests joined in one run */
#define SRV_BATCH_STATS 9      /* batch size classes whose cost is measured: 1, 2-3, 4-7, ..., 256+ */
#define SRV_PEAK_WINDOW_S 0.05 /* window of the in-flight peak a batch waits for */

/* ------------------------------------------------------------- config -- */

typedef struct srv_config {
    const char *repo_dir;
    const char *http_addr;     /* "127.0.0.1:8000" */
    const char *grpc_addr;     /* NULL: no gRPC */
    int threads;               /* scheduler worker threads */
    int max_queue;             /* queued requests before 503 */
    long batch_delay_us;       /* extra wait for a batch to fill, only when others are queued */
    const char *tokens_file;   /* NULL: no authentication */
    const char *tls_cert, *tls_key, *tls_client_ca;
    long poll_s;               /* 0: explicit mode */
    size_t max_body;           /* bytes of one request body */
    size_t max_json;           /* bytes of the JSON part of one request */
    int max_connections;
    size_t max_run_memory;     /* bytes one context may use (arena, scratch, outputs) */
    /* Loads a model file of the repository (model.onnx, model.nne or
     * model.tflite); NULL: nne_model_load_file. The command sets it to the
     * package loader, which checks signatures (--trust) and decrypts (--key). */
    nne_status (*load_model)(const char *path, nne_model **m);
} srv_config;

/* Runs the server until SIGINT/SIGTERM; returns a process exit code. */
int srv_main(const srv_config *cfg);

/* --------------------------------------------------------------- buffer -- */

typedef struct srv_buf {
    char *p;
    size_t n, cap;
    int oom; /* an append failed: the content is incomplete */
} srv_buf;

void srv_buf_add(srv_buf *b, const void *p, size_t n);
void srv_buf_str(srv_buf *b, const char *s);
void srv_buf_fmt(srv_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* s as a JSON string (quoted, escaped, invalid UTF-8 as U+FFFD). */
void srv_buf_json_str(srv_buf *b, const char *s);
void srv_buf_free(srv_buf *b);

/* ------------------------------------------------------------- metrics -- */

#define SRV_HIST_N 16
typedef struct srv_hist {
    uint64_t bucket[SRV_HIST_N + 1]; /* last: +Inf */
    uint64_t count;
    double sum;
} srv_hist;

enum srv_fail {
    SRV_FAIL_BAD_REQUEST, SRV_FAIL_QUEUE_FULL, SRV_FAIL_TIMEOUT, SRV_FAIL_CANCELLED,
    SRV_FAIL_COMPUTE, SRV_FAIL_INTERNAL, SRV_FAIL_N
};

/* Counters of one model version; kept for the server's life (a version
 * unloaded and loaded again continues its counters). */
typedef struct srv_stats {
    char model[SRV_NAME_MAX];
    int64_t version;
    pthread_mutex_t mu;
    uint64_t requests, success, fail[SRV_FAIL_N], batches, inferences;
    srv_hist queue_s, compute_s, request_s, batch_size;
    atomic_size_t memory; /* bytes the loaded version holds (0 when unloaded) */
    struct srv_stats *next;
} srv_stats;

srv_stats *srv_stats_get(const char *model, int64_t version);
void srv_stats_request(srv_stats *s);
void srv_stats_done(srv_stats *s, int fail_reason /* -1: success */, double queue_s, double compute_s,
                    double total_s);
void srv_stats_batch(srv_stats *s, int n);
/* Requests that never reached a model (unknown path or model, refused token). */
void srv_stats_rejected(int http_status);
void srv_metrics_write(srv_buf *b, int queue_len);

/* ----------------------------------------------------------- repository -- */

typedef struct srv_plan_ent {
    int64_t key[SRV_MAX_IO * (NNE_MAX_DIMS + 1)];
    int keylen;
    nne_plan *plan;
    nne_context **free_ctx; /* contexts not in use; one per worker at most */
    int nfree, inuse;
    uint64_t last_used;
} srv_plan_ent;

/* One loaded version of a model. Requests hold a reference while they run;
 * the repository holds one while the version is served. The last release
 * frees the contexts, plans and model. */
typedef struct srv_version {
    char model_name[SRV_NAME_MAX];
    int64_t version;
    nne_model *m;
    atomic_int refs;
    int ninputs, noutputs;
    nne_value_info in[SRV_MAX_IO], out[SRV_MAX_IO];
    int max_batch;  /* > 1: requests may be joined along dim 0 */
    int threads;    /* threads of each context */
    size_t run_memory; /* memory limit of each context */
    /* identity of the file loaded, to notice a rewrite */
    dev_t dev;
    ino_t ino;
    int64_t mtime_ns;
    off_t size;
    /* Measured compute CPU seconds per row in each batch size class (EWMA;
     * under the scheduler's mutex): joins are capped at the sizes that run a
     * row in at most 3/4 of the time a lone request takes (see sched.c). */
    double row_s[SRV_BATCH_STATS];
    uint32_t row_n[SRV_BATCH_STATS];
    double explore_t; /* when a join of every size was last tried */
    /* Compute CPU seconds per input byte, every run (EWMA; under the
     * scheduler's mutex): whether a request's run is short enough for an
     * HTTP poll thread (srv_sched_dispatch). */
    double cost_per_byte;
    uint32_t cost_n;
    /* Requests of this version inside the scheduler now, and the most
     * there were in this and the last window of SRV_PEAK_WINDOW_S (under
     * the scheduler's mutex): how many clients a batch may wait for. */
    int inflight, peak_cur, peak_prev;
    double peak_t;
    pthread_mutex_t mu; /* plan cache */
    srv_plan_ent *plans[SRV_MAX_PLANS];
    int nplans;
    uint64_t tick;
    srv_stats *stats;
} srv_version;

typedef struct srv_model {
    char name[SRV_NAME_MAX];
    srv_version *ver[SRV_MAX_VERSIONS]; /* served, ascending version */
    int nver;
    char state[16];   /* READY, UNAVAILABLE */
    char reason[256]; /* why not ready */
} srv_model;

typedef struct srv_repo {
    char dir[4096];
    pthread_mutex_t mu;      /* models[] and each model's ver[] */
    pthread_mutex_t load_mu; /* one load/unload at a time */
    srv_model *models[SRV_MAX_MODELS];
    int n;
    size_t run_memory; /* limit of each context of every version */
    nne_status (*load_model)(const char *path, nne_model **m); /* NULL: nne_model_load_file */
} srv_repo;

int srv_repo_init(srv_repo *r, const char *dir);
void srv_repo_free(srv_repo *r);
/* Valid model directory name: [A-Za-z0-9_.-], not starting with '.', < SRV_NAME_MAX. */
int srv_name_ok(const char *name);
/* (Re)load model `name` from the repository: versions picked by its policy,
 * each new or rewritten one loaded and prepared before it replaces the old
 * one. Returns 0, or an HTTP status with err filled (404 no such model
 * directory, 400 a model that fails to load: the old versions stay). */
int srv_repo_load(srv_repo *r, const char *name, char *err, size_t errcap);
/* Stop serving `name`; in-flight requests finish on the versions they hold. */
int srv_repo_unload(srv_repo *r, const char *name, char *err, size_t errcap);
/* Load every model directory (startup) / apply changes (poll mode). */
void srv_repo_scan(srv_repo *r, int unload_missing);
/* The version to serve (version < 0: the newest), with a reference; NULL
 * with a status (404 unknown model or version, 400 not ready). */
srv_version *srv_repo_get(srv_repo *r, const char *name, int64_t version, int *status, char *err, size_t errcap);
void srv_version_release(srv_version *v);
/* Index of the repository as JSON (ready_only: only models with a served version). */
void srv_repo_index(srv_repo *r, int ready_only, srv_buf *b);
/* A context of the plan for these input shapes (made and cached on first
 * use); put it back with srv_version_ctx_put. NULL with err filled. */
nne_context *srv_version_ctx_get(srv_version *v, const nne_tensor *shapes, srv_plan_ent **ent, char *err, size_t cap);
void srv_version_ctx_put(srv_version *v, srv_plan_ent *ent, nne_context *c);
size_t srv_version_memory(srv_version *v);

/* ------------------------------------------------------------ requests -- */

/* One inference request: inputs in model order, outputs as computed. */
typedef struct srv_req {
    srv_version *v;
    nne_tensor in[SRV_MAX_IO];   /* data owned by the request (malloc) */
    nne_tensor out[SRV_MAX_IO];  /* filled by the worker (malloc) */
    int nout;
    int64_t batch;               /* dim 0 of every input when batchable */
    /* scheduler state, under the scheduler's mutex */
    int state;                   /* SRV_Q_* */
    pthread_cond_t cv;
    struct srv_req *next, *prev;
    double t_enqueue, t_start, t_end;
    double cpu_s;                /* CPU seconds of the run it was part of */
    double run_bytes;            /* input bytes of that run */
    int http_status;             /* 0: ok */
    int fail_reason;
    char err[512];
    /* queued by srv_sched_dispatch: told once, from a worker or the
     * scheduler's watcher, that it ran (0) or was cancelled; NULL for a
     * request of srv_sched_run, whose thread waits for it */
    void (*done)(struct srv_req *r, int result, void *user);
    void *done_user;
    double deadline;             /* 0: none */
    int (*gone)(void *user);     /* the client left (NULL: never asked) */
    void *gone_user;
} srv_req;

enum { SRV_Q_NEW, SRV_Q_QUEUED, SRV_Q_RUNNING, SRV_Q_DONE, SRV_Q_CANCELLED };

typedef struct srv_sched {
    pthread_mutex_t mu;
    pthread_cond_t cv_work; /* idle workers */
    pthread_cond_t cv_fill; /* workers waiting for a batch to fill */
    srv_req *head, *tail;
    int qlen, max_queue;
    long batch_delay_us;
    pthread_t *threads;
    int nthreads, stop;
    int idle;    /* workers waiting for work */
    int filling; /* workers waiting for a batch to fill */
    int running; /* runs in progress (workers and inline), at most nthreads */
    /* the watcher: cancels queued requests of srv_sched_dispatch whose
     * deadline passed or whose client left (their threads do not wait) */
    pthread_t watcher;
    int watching;
    pthread_cond_t cv_watch;
    int nasync; /* queued requests of srv_sched_dispatch */
    int watch_idle; /* the watcher waits for the first of them */
} srv_sched;

int srv_sched_start(srv_sched *s, int threads, int max_queue, long batch_delay_us);
void srv_sched_stop(srv_sched *s);
/* Run r and wait for it. On the calling thread when nothing is queued, one
 * of the --threads slots is free and no batch is worth waiting for (a lone
 * request is never handed to a worker); else queued (503 when the queue is
 * full) for a worker, which may join it with others. Queued work is
 * cancelled (removed from the queue) when the deadline passes (deadline_s
 * 0: none) or gone(user) says the client left. Returns 0 done, 503 queue
 * full, SRV_FAIL_TIMEOUT or SRV_FAIL_CANCELLED. */
int srv_sched_run(srv_sched *s, srv_req *r, double deadline_s, int (*gone)(void *), void *user);
/* The same for a caller that must not block (an HTTP poll thread serving
 * many connections): runs r on the calling thread only under the
 * conditions of srv_sched_run and when its measured run time is at most
 * max_inline_s, and returns 0; else queues it and returns SRV_SCHED_QUEUED:
 * done(r, result, user) follows exactly once, from another thread, with 0
 * (ran), SRV_FAIL_TIMEOUT or SRV_FAIL_CANCELLED (the watcher checks the
 * deadline and gone(gone_user) every 50 ms, gone must be safe from any
 * thread); or returns 503 (queue full or stopping) with no callback. A
 * stopping scheduler runs what is queued before its workers exit. */
#define SRV_SCHED_QUEUED 1
int srv_sched_dispatch(srv_sched *s, srv_req *r, double max_inline_s, double deadline_s, int (*gone)(void *),
                       void *gone_user, void (*done)(srv_req *, int, void *), void *done_user);
int srv_sched_queue_len(srv_sched *s);
/* The queue holds --max-queue requests (read without the lock). */
int srv_sched_queue_full(srv_sched *s);

double srv_now(void);

/* ------------------------------------------------------------ front ends -- */

/* What the HTTP and gRPC front ends share (http.c owns it). */
typedef struct srv_core {
    srv_config cfg;
    srv_repo repo;
    srv_sched sched;
    atomic_int ready;
} srv_core;

/* Bearer token check of an Authorization value (NULL: none): 0 allowed,
 * 401 missing or unknown token, 403 a token of the wrong group. */
int srv_auth(srv_core *core, const char *authorization, int need_admin);
/* gRPC (HTTP/2 cleartext, nghttp2 + protobuf-c) on cfg.grpc_addr; fills
 * *port. 0, or -1 with err filled. */
int srv_grpc_start(srv_core *core, unsigned *port, char *err, size_t cap);
void srv_grpc_stop(void);
/* Served version numbers of a model, ascending; the count (0: none). */
int srv_repo_versions(srv_repo *r, const char *name, int64_t *out, int cap);
/* "ADDR:PORT" / "[V6]:PORT" into a socket address; 0 on a bad address. */
int srv_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, int *v6);

/* ------------------------------------------------------------ protocol -- */

/* Parsed infer request (JSON header + binary part). */
typedef struct srv_infer {
    char id[256];
    int has_id;
    int binary_out_all;          /* parameters.binary_data_output */
    int64_t timeout_us;          /* parameters.timeout, 0: none */
    int nreq_out;                /* 0: every output */
    char req_out[SRV_MAX_IO][256];
    int req_out_binary[SRV_MAX_IO];
} srv_infer;

/* Parse the body of an infer request for version v into r->in (model order)
 * and q. hdr_len: Inference-Header-Content-Length (-1: none, the whole body
 * is JSON). Returns 0 or an HTTP status with err filled. */
int srv_infer_parse(srv_version *v, const char *body, size_t len, long long hdr_len, size_t max_json,
                    srv_req *r, srv_infer *q, char *err, size_t errcap);
/* Check input `name` (datatype dtname, shape dims[0..ndim)) against v and
 * the inputs seen[] so far: *idx is the model input, in[*idx] gets dtype and
 * shape, *nbytes its size. 0 or 400 with err filled. */
int srv_input_check(const srv_version *v, const char *name, const char *dtname, int ndim, const int64_t *dims,
                    const int *seen, int *idx, nne_tensor *in, size_t *nbytes, char *err, size_t cap);
/* r->batch: the rows along dim 0 when r may be joined with others, else -1. */
void srv_req_batch(const srv_version *v, srv_req *r);
/* The response to a done request: JSON, or JSON + binary outputs with
 * *json_len set to the JSON part's length (else -1). */
int srv_infer_response(const srv_req *r, const srv_infer *q, srv_buf *b, long *json_len, char *err,
                       size_t errcap);
void srv_req_free_data(srv_req *r);
/* Protocol datatype name of a dtype ("FP32"), NULL when none. */
const char *srv_dtype_name(nne_dtype dt);
/* "inputs": [...], "outputs": [...] of a version's metadata. */
void srv_version_io_json(const srv_version *v, srv_buf *b);
/* Model metadata JSON of `name` (version < 0: the newest served); 0 or an
 * HTTP status with err filled. */
int srv_repo_metadata(srv_repo *r, const char *name, int64_t version, srv_buf *b, char *err, size_t errcap);

#endif
