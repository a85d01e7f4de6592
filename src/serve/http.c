/*
 * http.c - the HTTP/REST front end of `nnedge serve` on libmicrohttpd: a
 * small pool of poll threads serves every connection (no thread is made
 * per connection, so a refusal such as a full queue's 503 is answered at
 * once, whatever the machine's load). A poll thread parses an inference
 * request and runs it itself when the scheduler has a free slot, nothing
 * queued, and the model's measured run is short (SRV_INLINE_MAX_S);
 * otherwise the request is queued and its connection suspended until a
 * worker (or the scheduler's watcher: deadline passed, client left)
 * resumes it. Work that may take long on a poll thread (repository
 * load/unload, inference bodies over SRV_INLINE_BODY) runs on a thread of
 * its own while the connection is suspended. Routes the Open
 * Inference Protocol v2 endpoints, the repository extension and /metrics;
 * checks bearer tokens per API group (inference, repository admin) from a
 * token file re-read when it changes; TLS 1.3 only, and with
 * --tls-client-ca a verified client certificate on every request.
 */
#include "serve/serve.h"

#include <arpa/inet.h>
#include <errno.h>
#include <gnutls/gnutls.h>
#include <jansson.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SRV_MAX_TOKENS 64
#define SRV_DRAIN_MAX 65536 /* body bytes read and dropped to keep a refused client's connection */
/* A poll thread serves many connections: it runs a request itself only
 * when the model's measured run takes at most this long (else a worker
 * does), and parses a body only up to this size (else a thread of its
 * own does the whole request). */
#define SRV_INLINE_MAX_S 0.001
#define SRV_INLINE_BODY (1u << 20)

typedef struct tokens {
    char tok[SRV_MAX_TOKENS][128];
    int admin[SRV_MAX_TOKENS];
    int n;
} tokens;

typedef struct server {
    srv_core core; /* first: srv_auth gets the server from it */
    /* tokens: re-read when the file's identity changes, checked at most once a second */
    pthread_mutex_t tok_mu;
    tokens tok;
    struct stat tok_st;
    double tok_checked;
    int mtls;
    /* poll thread */
    pthread_mutex_t poll_mu;
    pthread_cond_t poll_cv;
    int poll_stop;
    /* suspended connections: suspension and the resume that ends it are
     * ordered by susp_mu (a worker may finish before the poll thread has
     * suspended); libmicrohttpd must not stop while any is suspended */
    pthread_mutex_t susp_mu;
    atomic_int nsusp;
    atomic_int stopping;
} server;

typedef struct resp {
    int status;
    srv_buf b;
    long json_len;    /* binary extension: JSON part length, else -1 */
    int retry_after;  /* seconds, 503 */
    const char *ctype;
    const char *allow; /* 405 */
} resp;

/* An inference request between parsing and its answer. */
typedef struct pending {
    srv_version *v;
    srv_req *r;
    srv_infer *q;
} pending;

typedef struct conn {
    srv_buf body;
    double t0;
    int answered; /* a response was queued already (early refusal) */
    size_t too_big; /* bytes dropped past --max-body */
    int counted;    /* the request reached a model's metrics */
    int queue_full; /* refused for a full queue: the body is dropped, 503 at its end */
    /* suspended (under susp_mu): waiting for a queued run or a job thread */
    server *S;
    struct MHD_Connection *c;
    int fd;         /* the client's socket, for the watcher's look */
    int suspended;  /* the poll thread suspended the connection */
    int finished;   /* the run or job ended; o is the answer */
    pending p;      /* an inference request being parsed, run or answered */
    resp o;         /* the answer written by a job thread or infer_done */
    int job;        /* the request runs on a thread of its own */
    char *url, *method;
} conn;

/* ------------------------------------------------------------- tokens -- */

/* Token file: one "<group> <token>" per line, group inference or admin (an
 * admin token may also infer); '#' starts a comment. */
static int tokens_read(const char *path, tokens *t, char *err, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) { snprintf(err, cap, "--tokens %s: %s", path, strerror(errno)); return 0; }
    memset(t, 0, sizeof *t);
    char line[512];
    int ln = 0, ok = 1;
    while (ok && fgets(line, sizeof line, f)) {
        ln++;
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '#' || *p == '\n' || !*p) continue;
        char group[32], tok[256];
        if (sscanf(p, "%31s %255s", group, tok) != 2 || strlen(tok) >= sizeof t->tok[0] || strlen(tok) < 8) {
            snprintf(err, cap, "--tokens %s line %d: expected '<inference|admin> TOKEN' with a token of 8..127 bytes", path, ln);
            ok = 0;
        } else if (strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=:!$%&*^|") != strlen(tok)) {
            snprintf(err, cap, "--tokens %s line %d: a token is letters, digits and -._~+/=:!$%%&*^| only", path, ln);
            ok = 0;
        } else if (strcmp(group, "inference") != 0 && strcmp(group, "admin") != 0) {
            snprintf(err, cap, "--tokens %s line %d: group must be inference or admin", path, ln);
            ok = 0;
        } else if (t->n == SRV_MAX_TOKENS) {
            snprintf(err, cap, "--tokens %s: more than %d tokens", path, SRV_MAX_TOKENS);
            ok = 0;
        } else {
            snprintf(t->tok[t->n], sizeof t->tok[0], "%s", tok);
            t->admin[t->n++] = strcmp(group, "admin") == 0;
        }
    }
    fclose(f);
    return ok;
}

static void tokens_refresh(server *S) {
    double now = srv_now();
    pthread_mutex_lock(&S->tok_mu);
    if (now - S->tok_checked >= 1.0) {
        S->tok_checked = now;
        struct stat st;
        if (stat(S->core.cfg.tokens_file, &st) == 0 &&
            (st.st_ino != S->tok_st.st_ino || st.st_size != S->tok_st.st_size ||
             st.st_mtim.tv_sec != S->tok_st.st_mtim.tv_sec || st.st_mtim.tv_nsec != S->tok_st.st_mtim.tv_nsec)) {
            tokens t;
            char err[512];
            if (tokens_read(S->core.cfg.tokens_file, &t, err, sizeof err)) {
                S->tok = t;
                S->tok_st = st;
            } else {
                /* keep the tokens last read: a half-written file must not open the server */
                fprintf(stderr, "nnedge serve: %s (keeping the previous tokens)\n", err);
            }
        }
    }
    pthread_mutex_unlock(&S->tok_mu);
}

/* Constant time in the token's bytes, so timing does not reveal a prefix. */
static int tok_eq(const char *a, const char *b) {
    size_t na = strlen(a), nb = strlen(b);
    unsigned diff = na != nb;
    for (size_t i = 0; i < nb; i++) diff |= (unsigned char)a[i % (na ? na : 1)] ^ (unsigned char)b[i];
    return diff == 0 && na == nb;
}

/* 0 allowed, 401 no or unknown token, 403 a token of the wrong group. */
int srv_auth(srv_core *core, const char *h, int need_admin) {
    server *S = (server *)core;
    if (!S->core.cfg.tokens_file) return 0;
    tokens_refresh(S);
    if (!h || strncasecmp(h, "Bearer ", 7) != 0) return 401;
    const char *t = h + 7;
    int status = 401;
    pthread_mutex_lock(&S->tok_mu);
    for (int i = 0; i < S->tok.n; i++)
        if (tok_eq(S->tok.tok[i], t)) status = (!need_admin || S->tok.admin[i]) ? 0 : 403;
    pthread_mutex_unlock(&S->tok_mu);
    return status;
}

static int auth_check(server *S, struct MHD_Connection *c, int need_admin) {
    if (!S->core.cfg.tokens_file) return 0;
    return srv_auth(&S->core, MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION), need_admin);
}

static int client_cert_ok(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t s = ci ? (gnutls_session_t)ci->tls_session : NULL;
    if (!s) return 0;
    unsigned int n = 0, status = 0;
    if (!gnutls_certificate_get_peers(s, &n) || n == 0) return 0;
    return gnutls_certificate_verify_peers2(s, &status) == 0 && status == 0;
}

/* ---------------------------------------------------------- responses -- */

static void json_error(resp *o, int status, const char *msg) {
    o->status = status;
    srv_buf_free(&o->b);
    srv_buf_str(&o->b, "{\"error\":");
    srv_buf_json_str(&o->b, msg);
    srv_buf_str(&o->b, "}");
}

static enum MHD_Result send_resp(struct MHD_Connection *c, resp *o) {
    if (o->b.oom) json_error(o, 500, "out of memory writing the response");
    struct MHD_Response *r;
    if (o->b.n) {
        r = MHD_create_response_from_buffer(o->b.n, o->b.p, MHD_RESPMEM_MUST_FREE);
        if (r) o->b.p = NULL;
    } else {
        r = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
    }
    srv_buf_free(&o->b);
    if (!r) return MHD_NO;
    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, o->ctype ? o->ctype : "application/json");
    if (o->json_len >= 0) {
        char n[32];
        snprintf(n, sizeof n, "%ld", o->json_len);
        MHD_add_response_header(r, "Inference-Header-Content-Length", n);
    }
    if (o->retry_after > 0) {
        char n[32];
        snprintf(n, sizeof n, "%d", o->retry_after);
        MHD_add_response_header(r, MHD_HTTP_HEADER_RETRY_AFTER, n);
    }
    if (o->status == 401) MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
    if (o->allow) MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, o->allow);
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)o->status, r);
    MHD_destroy_response(r);
    return ret;
}

static enum MHD_Result send_error(struct MHD_Connection *c, int status, const char *msg) {
    resp o = {.json_len = -1};
    json_error(&o, status, msg);
    srv_stats_rejected(status);
    return send_resp(c, &o);
}

/* 503 for a full queue, with Retry-After. */
static enum MHD_Result send_queue_full(server *S, struct MHD_Connection *c) {
    resp o = {.json_len = -1, .retry_after = 1};
    char err[128];
    snprintf(err, sizeof err, "the request queue is full (--max-queue %d); retry later", S->core.cfg.max_queue);
    json_error(&o, 503, err);
    return send_resp(c, &o);
}

/* ------------------------------------------------------------ infer -- */

/* The client closed its connection (the scheduler's watcher asks, from
 * its own thread, while the request is queued). */
static int client_gone(void *user) {
    conn *st = user;
    if (st->fd < 0) return 0;
    struct pollfd p = {.fd = st->fd, .events = POLLRDHUP};
    return poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR));
}

/* The end of a pending request: its metrics, then its memory. */
static void pending_end(conn *st, int reason) {
    pending *p = &st->p;
    if (!p->v) return;
    srv_req *r = p->r;
    srv_stats_done(p->v->stats, reason, r && r->t_start > 0 ? r->t_start - r->t_enqueue : 0,
                   r && r->t_start > 0 ? r->t_end - r->t_start : 0, srv_now() - st->t0);
    if (r) srv_req_free_data(r);
    free(r);
    free(p->q);
    srv_version_release(p->v);
    memset(p, 0, sizeof *p);
}

/* The answer to a pending request: an error (status > 0) or, with status
 * 0, what the scheduler's result w says. */
static void infer_answer(server *S, conn *st, int status, int reason, const char *why, int w, resp *o) {
    char err[600];
    snprintf(err, sizeof err, "%s", why ? why : "");
    srv_req *r = st->p.r;
    if (!status) {
        if (w == 503) {
            status = 503;
            reason = SRV_FAIL_QUEUE_FULL;
            o->retry_after = 1;
            snprintf(err, sizeof err, "the request queue is full (--max-queue %d); retry later", S->core.cfg.max_queue);
        } else if (w) {
            reason = w;
            status = w == SRV_FAIL_TIMEOUT ? 504 : 499;
            snprintf(err, sizeof err, w == SRV_FAIL_TIMEOUT ? "the request's timeout passed while it was queued"
                                                            : "the client closed the connection");
        } else if (r->http_status) {
            status = r->http_status;
            reason = r->fail_reason;
            snprintf(err, sizeof err, "%s", r->err);
        } else {
            status = srv_infer_response(r, st->p.q, &o->b, &o->json_len, err, sizeof err);
            if (status) reason = SRV_FAIL_INTERNAL;
            else if (o->json_len >= 0) o->ctype = "application/octet-stream";
        }
    }
    if (status) json_error(o, status, err);
    else o->status = 200;
    pending_end(st, status ? reason : -1);
}

/* A queued request ran or was cancelled (a worker's or the watcher's
 * thread): the answer is written here (a large output's JSON takes long:
 * not on a poll thread), and the poll thread sends it once the connection
 * is resumed. */
static void infer_done(srv_req *r, int result, void *user) {
    conn *st = user;
    server *S = st->S;
    resp o = {.json_len = -1};
    infer_answer(S, st, 0, -1, NULL, result, &o);
    pthread_mutex_lock(&S->susp_mu);
    st->o = o;
    st->finished = 1;
    if (st->suspended) MHD_resume_connection(st->c);
    pthread_mutex_unlock(&S->susp_mu);
}

/* After starting work that another thread finishes (and then resumes the
 * connection): suspend, unless it finished already. 1 when suspended. */
static int suspend_unless_finished(server *S, conn *st) {
    pthread_mutex_lock(&S->susp_mu);
    if (!st->finished) {
        MHD_suspend_connection(st->c);
        st->suspended = 1;
        atomic_fetch_add(&S->nsusp, 1);
    }
    int s = st->suspended;
    pthread_mutex_unlock(&S->susp_mu);
    return s;
}

/* Parse and run (or queue) an inference request. On a poll thread a
 * request that waits is queued and its connection suspended (st->suspended
 * set, o left empty); on a job thread it waits here. */
static void do_infer(server *S, struct MHD_Connection *c, conn *st, const char *model, int64_t version, resp *o) {
    int status = 0;
    char err[600];
    srv_version *v = srv_repo_get(&S->core.repo, model, version, &status, err, sizeof err);
    if (!v) {
        json_error(o, status, err);
        return;
    }
    st->counted = 1; /* in the model's metrics, not in the refused ones */
    srv_stats_request(v->stats);
    pending *p = &st->p;
    p->v = v;
    p->r = calloc(1, sizeof *p->r);
    p->q = calloc(1, sizeof *p->q);
    if (!p->r || !p->q) {
        infer_answer(S, st, 500, SRV_FAIL_INTERNAL, "out of memory", 0, o);
        return;
    }
    srv_req *r = p->r;
    r->v = v;
    long long hdr = -1;
    const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    if (h) {
        char *e;
        errno = 0;
        hdr = strtoll(h, &e, 10);
        if (!h[0] || *e || errno || hdr < 0 || h[0] == '-' || h[0] == '+') {
            infer_answer(S, st, 400, SRV_FAIL_BAD_REQUEST,
                         "Inference-Header-Content-Length must be a non-negative integer", 0, o);
            return;
        }
    }
    status = srv_infer_parse(v, st->body.p ? st->body.p : "", st->body.n, hdr, S->core.cfg.max_json, r, p->q, err,
                             sizeof err);
    if (status) {
        infer_answer(S, st, status, status >= 500 ? SRV_FAIL_INTERNAL : SRV_FAIL_BAD_REQUEST, err, 0, o);
        return;
    }
    srv_buf_free(&st->body); /* the inputs were copied out */
    double deadline = p->q->timeout_us > 0 ? st->t0 + (double)p->q->timeout_us * 1e-6 : 0;
    int w;
    if (st->job) {
        w = srv_sched_run(&S->core.sched, r, deadline, client_gone, st);
    } else {
        w = srv_sched_dispatch(&S->core.sched, r, SRV_INLINE_MAX_S, deadline, client_gone, st, infer_done, st);
        if (w == SRV_SCHED_QUEUED) {
            if (suspend_unless_finished(S, st)) return; /* answered when resumed */
            *o = st->o; /* infer_done wrote it already */
            st->o = (resp){.json_len = -1};
            return;
        }
    }
    infer_answer(S, st, 0, -1, NULL, w, o);
}

/* ------------------------------------------------------------ routing -- */

static int parse_version(const char *s, int64_t *out) {
    size_t n = strlen(s);
    if (n == 0 || n > 15) return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9') return 0;
    *out = strtoll(s, NULL, 10);
    return *out >= 1;
}

static int method_is(const char *m, const char *want, resp *o) {
    if (strcmp(m, want) == 0) return 1;
    o->allow = want;
    json_error(o, 405, strcmp(want, "GET") == 0 ? "this endpoint takes GET" : "this endpoint takes POST");
    return 0;
}

static void route(server *S, struct MHD_Connection *c, conn *st, const char *url, const char *method, resp *o) {
    char path[1024];
    char *seg[8];
    int ns = 0;
    if (strlen(url) >= sizeof path) { json_error(o, 404, "no such endpoint"); return; }
    snprintf(path, sizeof path, "%s", url);
    for (char *save = NULL, *t = strtok_r(path, "/", &save); t; t = strtok_r(NULL, "/", &save)) {
        if (ns == 8) { json_error(o, 404, "no such endpoint"); return; }
        seg[ns++] = t;
    }
    char err[600];
    if (ns == 1 && strcmp(seg[0], "metrics") == 0) {
        if (!method_is(method, "GET", o)) return;
        srv_metrics_write(&o->b, srv_sched_queue_len(&S->core.sched));
        o->ctype = "text/plain; version=0.0.4";
        o->status = 200;
        return;
    }
    if (ns == 0 || strcmp(seg[0], "v2") != 0) { json_error(o, 404, "no such endpoint (the API is under /v2)"); return; }
    if (ns == 1) {
        if (!method_is(method, "GET", o)) return;
        srv_buf_fmt(&o->b, "{\"name\":\"nnedge\",\"version\":\"%s\",\"extensions\":[\"binary_tensor_data\",\"model_repository\",\"metrics\"]}",
                    nne_version());
        o->status = 200;
        return;
    }
    if (ns == 3 && strcmp(seg[1], "health") == 0 && (strcmp(seg[2], "live") == 0 || strcmp(seg[2], "ready") == 0)) {
        if (!method_is(method, "GET", o)) return;
        if (seg[2][0] == 'r' && !atomic_load(&S->core.ready)) { json_error(o, 503, "the server is starting or stopping"); return; }
        o->status = 200;
        srv_buf_str(&o->b, seg[2][0] == 'l' ? "{\"live\":true}" : "{\"ready\":true}");
        return;
    }
    if (ns >= 3 && strcmp(seg[1], "models") == 0) {
        int a = auth_check(S, c, 0);
        if (a) { json_error(o, a, a == 401 ? "a bearer token is required (inference)" : "this token may not infer"); return; }
        const char *model = seg[2];
        int64_t version = -1;
        int rest = 3;
        if (ns >= 5 && strcmp(seg[3], "versions") == 0) {
            if (!parse_version(seg[4], &version)) { json_error(o, 400, "a version is a positive integer"); return; }
            rest = 5;
        }
        if (ns == rest) {
            if (!method_is(method, "GET", o)) return;
            int s = srv_repo_metadata(&S->core.repo, model, version, &o->b, err, sizeof err);
            if (s) json_error(o, s, err);
            else o->status = 200;
            return;
        }
        if (ns == rest + 1 && strcmp(seg[rest], "ready") == 0) {
            if (!method_is(method, "GET", o)) return;
            int s = 0;
            srv_version *v = srv_repo_get(&S->core.repo, model, version, &s, err, sizeof err);
            if (!v) { json_error(o, s, err); return; }
            srv_version_release(v);
            srv_buf_str(&o->b, "{\"name\":");
            srv_buf_json_str(&o->b, model);
            srv_buf_str(&o->b, ",\"ready\":true}");
            o->status = 200;
            return;
        }
        if (ns == rest + 1 && strcmp(seg[rest], "infer") == 0) {
            if (!method_is(method, "POST", o)) return;
            do_infer(S, c, st, model, version, o);
            return;
        }
        json_error(o, 404, "no such endpoint");
        return;
    }
    if (ns >= 3 && strcmp(seg[1], "repository") == 0) {
        int a = auth_check(S, c, 1);
        if (a) { json_error(o, a, a == 401 ? "an admin bearer token is required" : "this token is not an admin token"); return; }
        if (ns == 3 && strcmp(seg[2], "index") == 0) {
            if (!method_is(method, "POST", o)) return;
            int ready_only = 0;
            if (st->body.n) {
                if (st->body.n > 4096) { json_error(o, 413, "the index request body is limited to 4096 bytes"); return; }
                json_error_t je;
                json_t *j = json_loadb(st->body.p, st->body.n, JSON_REJECT_DUPLICATES, &je);
                json_t *rd = j && json_is_object(j) ? json_object_get(j, "ready") : NULL;
                if (!j || !json_is_object(j) || (rd && !json_is_boolean(rd))) {
                    json_decref(j);
                    json_error(o, 400, "the index request body must be {} or {\"ready\": true|false}");
                    return;
                }
                ready_only = rd && json_is_true(rd);
                json_decref(j);
            }
            srv_repo_index(&S->core.repo, ready_only, &o->b);
            o->status = 200;
            return;
        }
        if (ns == 5 && strcmp(seg[2], "models") == 0 && (strcmp(seg[4], "load") == 0 || strcmp(seg[4], "unload") == 0)) {
            if (!method_is(method, "POST", o)) return;
            if (st->body.n) {
                if (st->body.n > 65536) { json_error(o, 413, "the load request body is limited to 65536 bytes"); return; }
                json_error_t je;
                json_t *j = json_loadb(st->body.p, st->body.n, JSON_REJECT_DUPLICATES, &je);
                int ok = j && json_is_object(j);
                json_t *p = ok ? json_object_get(j, "parameters") : NULL;
                if (p && !json_is_object(p)) ok = 0;
                if (p && json_object_get(p, "config")) ok = -1;
                json_decref(j);
                if (ok == -1) { json_error(o, 400, "loading with a config override is not supported: edit config.json"); return; }
                if (!ok) { json_error(o, 400, "the body must be a JSON object with an optional \"parameters\" object"); return; }
            }
            int s = seg[4][0] == 'l' ? srv_repo_load(&S->core.repo, seg[3], err, sizeof err)
                                     : srv_repo_unload(&S->core.repo, seg[3], err, sizeof err);
            if (s) json_error(o, s, err);
            else o->status = 200;
            return;
        }
        json_error(o, 404, "no such endpoint");
        return;
    }
    json_error(o, 404, "no such endpoint");
}

/* /v2/models/{m}[/versions/{v}]/infer: the model name and version (-1). */
static int infer_url(const char *url, char *model, int64_t *version) {
    const char *p = url;
    if (strncmp(p, "/v2/models/", 11) != 0) return 0;
    p += 11;
    const char *e = strchr(p, '/');
    if (!e || e == p || (size_t)(e - p) >= SRV_NAME_MAX) return 0;
    memcpy(model, p, (size_t)(e - p));
    model[e - p] = 0;
    *version = -1;
    if (strncmp(e, "/versions/", 10) == 0) {
        char vb[16];
        const char *v = e + 10, *ve = strchr(v, '/');
        if (!ve || ve == v || ve - v >= (long)sizeof vb) return 0;
        memcpy(vb, v, (size_t)(ve - v));
        vb[ve - v] = 0;
        if (!parse_version(vb, version)) return 0;
        e = ve;
    }
    return strcmp(e, "/infer") == 0;
}

/* Work that may take long runs on a thread of its own while the
 * connection is suspended, so the poll thread's other connections go on:
 * repository load/unload (a model is read and prepared), and an inference
 * request with a large body (parsing it). */
static int takes_long(const char *url, const char *method, const conn *st) {
    if (strcmp(method, "POST") != 0) return 0;
    char model[SRV_NAME_MAX];
    int64_t ver;
    if (st->body.n > SRV_INLINE_BODY && infer_url(url, model, &ver)) return 1;
    if (strncmp(url, "/v2/repository/models/", 22) != 0) return 0;
    size_t n = strlen(url);
    return (n > 5 && strcmp(url + n - 5, "/load") == 0) || (n > 7 && strcmp(url + n - 7, "/unload") == 0);
}

static void *job_thread(void *arg) {
    conn *st = arg;
    server *S = st->S;
    resp o = {.json_len = -1};
    route(S, st->c, st, st->url, st->method, &o);
    pthread_mutex_lock(&S->susp_mu);
    st->o = o;
    st->finished = 1;
    if (st->suspended) MHD_resume_connection(st->c);
    pthread_mutex_unlock(&S->susp_mu);
    return NULL;
}

/* Start the request on a job thread: 1 when the connection is suspended
 * (the thread resumes it), 0 when the job finished already or no thread
 * could be made (then it ran here); st->o has the answer either way. */
static int start_job(server *S, conn *st, const char *url, const char *method) {
    st->job = 1;
    st->o = (resp){.json_len = -1};
    st->url = strdup(url);
    st->method = strdup(method);
    pthread_attr_t at;
    pthread_t t;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    int made = st->url && st->method && pthread_create(&t, &at, job_thread, st) == 0;
    pthread_attr_destroy(&at);
    if (!made) {
        route(S, st->c, st, url, method, &st->o);
        return 0;
    }
    return suspend_unless_finished(S, st);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **ptr) {
    server *S = cls;
    conn *st = *ptr;
    if (!st) {
        if (!(st = calloc(1, sizeof *st))) return MHD_NO;
        *ptr = st;
        st->t0 = srv_now();
        st->S = S;
        st->c = c;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        st->fd = ci ? ci->connect_fd : -1;
        if (S->mtls && !client_cert_ok(c)) {
            st->answered = 1;
            return send_error(c, 403, "a client certificate signed by --tls-client-ca is required");
        }
        /* Tokens are checked on the headers: a body is never read for a
         * client that may not send it. */
        int need = strncmp(url, "/v2/models/", 11) == 0 ? 1 : strncmp(url, "/v2/repository/", 15) == 0 ? 2 : 0;
        int a = need ? auth_check(S, c, need == 2) : 0;
        if (a) {
            st->answered = 1;
            return send_error(c, a, a == 401 ? "a bearer token is required" : "this token may not do that");
        }
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > S->core.cfg.max_body) {
            st->answered = 1;
            char msg[128];
            snprintf(msg, sizeof msg, "the body is larger than the limit of %zu bytes (--max-body)", S->core.cfg.max_body);
            return send_error(c, 413, msg);
        }
        if (strcmp(method, "POST") == 0 && srv_sched_queue_full(&S->core.sched)) {
            /* A full queue answers 503 as soon as the headers are in,
             * without parsing a body it would only throw away. A small
             * body is read and dropped first, so the connection stays open
             * for the client's next request (a new connection costs a new
             * thread, which a busy machine may be slow to schedule); a
             * large or unsized one is refused at once (the connection
             * closes). */
            char model[SRV_NAME_MAX];
            int64_t ver;
            int status;
            char err[256];
            srv_version *v = infer_url(url, model, &ver) && auth_check(S, c, 0) == 0
                                 ? srv_repo_get(&S->core.repo, model, ver, &status, err, sizeof err) : NULL;
            if (v) {
                st->counted = 1;
                srv_stats_request(v->stats);
                srv_stats_done(v->stats, SRV_FAIL_QUEUE_FULL, 0, 0, srv_now() - st->t0);
                srv_version_release(v);
                if (cl && strtoull(cl, NULL, 10) <= SRV_DRAIN_MAX) {
                    st->queue_full = 1;
                    return MHD_YES;
                }
                st->answered = 1;
                return send_queue_full(S, c);
            }
        }
        return MHD_YES;
    }
    if (*upload_size) {
        size_t n = *upload_size;
        *upload_size = 0;
        if (st->answered || st->queue_full) return MHD_YES;
        if (st->too_big || n > S->core.cfg.max_body - st->body.n) {
            /* libmicrohttpd sends a response only once the body is read:
             * drop the rest (a sender that goes on past twice the limit is
             * cut off) and answer 413 at the end */
            if (!st->too_big) srv_buf_free(&st->body);
            st->too_big += n;
            return st->too_big > 2 * S->core.cfg.max_body ? MHD_NO : MHD_YES;
        }
        srv_buf_add(&st->body, upload, n);
        if (st->body.oom) {
            st->answered = 1;
            return send_error(c, 500, "out of memory reading the body");
        }
        return MHD_YES;
    }
    if (st->too_big && !st->answered) {
        st->answered = 1;
        char msg[128];
        snprintf(msg, sizeof msg, "the body is larger than the limit of %zu bytes (--max-body)", S->core.cfg.max_body);
        return send_error(c, 413, msg);
    }
    if (st->answered) return MHD_YES;
    resp o = {.json_len = -1};
    if (st->suspended) {
        /* resumed: the queued run or the job ended */
        pthread_mutex_lock(&S->susp_mu);
        st->suspended = 0;
        pthread_mutex_unlock(&S->susp_mu);
        atomic_fetch_sub(&S->nsusp, 1);
        o = st->o; /* written by the job thread or infer_done */
        st->o = (resp){.json_len = -1};
    } else if (st->queue_full) {
        st->answered = 1;
        return send_queue_full(S, c);
    } else if (takes_long(url, method, st)) {
        if (atomic_load(&S->stopping)) {
            json_error(&o, 503, "the server is stopping");
        } else {
            if (start_job(S, st, url, method)) return MHD_YES; /* answered when resumed */
            o = st->o;
            st->o = (resp){.json_len = -1};
        }
    } else {
        route(S, c, st, url, method, &o);
        if (st->suspended) return MHD_YES; /* queued: answered when resumed */
    }
    st->answered = 1;
    if (o.status >= 400 && !st->counted) srv_stats_rejected(o.status);
    return send_resp(c, &o);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **ptr, enum MHD_RequestTerminationCode toe) {
    server *S = cls;
    conn *st = *ptr;
    if (!st) return;
    if (st->suspended) {
        /* resumed, and the connection closed before its answer */
        st->suspended = 0;
        atomic_fetch_sub(&S->nsusp, 1);
    }
    srv_buf_free(&st->o.b);
    pending_end(st, SRV_FAIL_CANCELLED);
    srv_buf_free(&st->body);
    free(st->url);
    free(st->method);
    free(st);
    *ptr = NULL;
}

/* --------------------------------------------------------------- main -- */

static void *poll_thread(void *arg) {
    server *S = arg;
    pthread_mutex_lock(&S->poll_mu);
    while (!S->poll_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += S->core.cfg.poll_s;
        pthread_cond_timedwait(&S->poll_cv, &S->poll_mu, &ts);
        if (S->poll_stop) break;
        pthread_mutex_unlock(&S->poll_mu);
        srv_repo_scan(&S->core.repo, 1);
        pthread_mutex_lock(&S->poll_mu);
    }
    pthread_mutex_unlock(&S->poll_mu);
    return NULL;
}

/* libmicrohttpd's messages: kept (not printed) until the daemon runs, so a
 * failed start gives one error line with the reason; afterwards one line
 * each on stderr. */
static char mhd_last[256];
static atomic_int mhd_running;
static void mhd_log(void *cls, const char *fmt, va_list ap) {
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    if (atomic_load(&mhd_running)) fprintf(stderr, "nnedge serve: http: %s\n", msg);
    else snprintf(mhd_last, sizeof mhd_last, "%s", msg);
}

int srv_parse_addr(const char *addr, struct sockaddr_storage *ss, socklen_t *len, int *v6) {
    char host[256];
    const char *colon = strrchr(addr, ':');
    if (!colon || colon == addr || (size_t)(colon - addr) >= sizeof host || !colon[1] ||
        strspn(colon + 1, "0123456789") != strlen(colon + 1) || strlen(colon + 1) > 5)
        return 0;
    long port = strtol(colon + 1, NULL, 10);
    if (port > 65535) return 0;
    memcpy(host, addr, (size_t)(colon - addr));
    host[colon - addr] = 0;
    memset(ss, 0, sizeof *ss);
    *v6 = host[0] == '[';
    if (*v6) {
        size_t hl = strlen(host);
        if (hl < 3 || host[hl - 1] != ']') return 0;
        host[hl - 1] = 0;
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        *len = sizeof *a6;
        return inet_pton(AF_INET6, host + 1, &a6->sin6_addr) == 1;
    }
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    *len = sizeof *a4;
    return inet_pton(AF_INET, host, &a4->sin_addr) == 1;
}

static char *read_text(const char *path, const char *what) {
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "nnedge: %s %s: %s\n", what, path, strerror(errno)); return NULL; }
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n >= (1 << 20) - 1) {
        fprintf(stderr, "nnedge: %s %s: empty or larger than 1 MiB\n", what, path);
        free(buf);
        return NULL;
    }
    buf[n] = 0;
    return buf;
}

int srv_main(const srv_config *cfg) {
    static server S; /* one per process; static so signal-time state stays valid */
    memset(&S, 0, sizeof S);
    S.core.cfg = *cfg;
    pthread_mutex_init(&S.tok_mu, NULL);
    pthread_mutex_init(&S.poll_mu, NULL);
    pthread_cond_init(&S.poll_cv, NULL);
    pthread_mutex_init(&S.susp_mu, NULL);

    struct sockaddr_storage ss;
    socklen_t sslen;
    int v6;
    if (!srv_parse_addr(cfg->http_addr, &ss, &sslen, &v6)) {
        fprintf(stderr, "nnedge: --http %s: expected ADDR:PORT with a numeric address (127.0.0.1:8000, [::1]:8000)\n",
                cfg->http_addr);
        return 2;
    }
    if (cfg->grpc_addr && !srv_parse_addr(cfg->grpc_addr, &(struct sockaddr_storage){0}, &(socklen_t){0}, &(int){0})) {
        fprintf(stderr, "nnedge: --grpc %s: expected ADDR:PORT with a numeric address (127.0.0.1:8001, [::1]:8001)\n",
                cfg->grpc_addr);
        return 2;
    }
    struct sockaddr *sa = (struct sockaddr *)&ss;
    if (cfg->tokens_file) {
        char err[512];
        if (!tokens_read(cfg->tokens_file, &S.tok, err, sizeof err)) { fprintf(stderr, "nnedge: %s\n", err); return 2; }
        stat(cfg->tokens_file, &S.tok_st);
        S.tok_checked = srv_now();
    }
    char *cert = NULL, *key = NULL, *ca = NULL;
    if (cfg->tls_cert) {
        if (!(cert = read_text(cfg->tls_cert, "--tls-cert")) || !(key = read_text(cfg->tls_key, "--tls-key")) ||
            (cfg->tls_client_ca && !(ca = read_text(cfg->tls_client_ca, "--tls-client-ca")))) {
            free(cert);
            free(key);
            return 2;
        }
        S.mtls = ca != NULL;
    }
    struct stat rst;
    if (stat(cfg->repo_dir, &rst) != 0 || !S_ISDIR(rst.st_mode)) {
        fprintf(stderr, "nnedge: --repo %s: not a directory\n", cfg->repo_dir);
        free(cert); free(key); free(ca);
        return 2;
    }
    if (!srv_repo_init(&S.core.repo, cfg->repo_dir) || !(S.core.repo.run_memory = cfg->max_run_memory)) {
        fprintf(stderr, "nnedge: --repo %s: path too long\n", cfg->repo_dir);
        free(cert); free(key); free(ca);
        return 2;
    }
    S.core.repo.load_model = cfg->load_model;
    /* Signals go to sigwait below, not to whichever thread runs. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    srv_repo_scan(&S.core.repo, 0);
    if (!srv_sched_start(&S.core.sched, cfg->threads, cfg->max_queue, cfg->batch_delay_us)) {
        fprintf(stderr, "nnedge: cannot start %d worker threads\n", cfg->threads);
        return 1;
    }
    /* A pool of poll threads (no thread per connection: a refusal never
     * waits for a new thread to be scheduled), one more than the worker
     * slots, so one is free to answer while the others run requests.
     * poll(), not epoll: libmicrohttpd 0.9.75's edge-triggered epoll loses
     * the end of a half-closed connection whose FIN came with its request
     * (the connection then waits for its timeout instead of closing). */
    unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
    unsigned pool = cfg->threads + 1 > 16 ? 16u : (unsigned)cfg->threads + 1;
    if (v6) flags |= MHD_USE_IPv6;
    if (cert) flags |= MHD_USE_TLS;
    struct MHD_OptionItem opts[16];
    int no = 0;
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, pool, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, sa};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, &S};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections, NULL};
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, 60, NULL};
    if (cert) {
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
        opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3"};
        if (ca) opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, ca};
    }
    opts[no++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, &S, MHD_OPTION_ARRAY, opts,
                                            MHD_OPTION_END);
    if (!d) {
        size_t l = strlen(mhd_last);
        while (l && mhd_last[l - 1] == ' ') mhd_last[--l] = 0;
        fprintf(stderr, "nnedge: --http %s: cannot start the server: %s\n", cfg->http_addr,
                mhd_last[0] ? mhd_last : "address in use, or a bad TLS certificate/key");
        srv_sched_stop(&S.core.sched);
        srv_repo_free(&S.core.repo);
        free(cert); free(key); free(ca);
        return 2;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    pthread_t poller;
    int polling = cfg->poll_s > 0 && pthread_create(&poller, NULL, poll_thread, &S) == 0;
    atomic_store(&mhd_running, 1);
    atomic_store(&S.core.ready, 1);
    unsigned gport = 0;
    if (cfg->grpc_addr) {
        char gerr[256];
        if (srv_grpc_start(&S.core, &gport, gerr, sizeof gerr) != 0) {
            fprintf(stderr, "nnedge: --grpc %s: %s\n", cfg->grpc_addr, gerr);
            atomic_store(&S.core.ready, 0);
            MHD_stop_daemon(d);
            srv_sched_stop(&S.core.sched);
            srv_repo_free(&S.core.repo);
            free(cert); free(key); free(ca);
            return 2;
        }
    }
    pthread_mutex_lock(&S.core.repo.mu); /* requests may load models already */
    int nmodels = S.core.repo.n;
    pthread_mutex_unlock(&S.core.repo.mu);
    int hl = (int)(strrchr(cfg->http_addr, ':') - cfg->http_addr);
    printf("nnedge serve: listening on %s://%.*s:%u (%d models, %s mode)", cert ? "https" : "http", hl,
           cfg->http_addr, di ? di->port : 0u, nmodels, polling ? "poll" : "explicit");
    if (cfg->grpc_addr)
        printf(", grpc %.*s:%u", (int)(strrchr(cfg->grpc_addr, ':') - cfg->grpc_addr), cfg->grpc_addr, gport);
    printf("\n");
    fflush(stdout);
    int sig = 0;
    sigwait(&sigs, &sig);
    atomic_store(&S.core.ready, 0);
    if (polling) {
        pthread_mutex_lock(&S.poll_mu);
        S.poll_stop = 1;
        pthread_cond_signal(&S.poll_cv);
        pthread_mutex_unlock(&S.poll_mu);
        pthread_join(poller, NULL);
    }
    if (cfg->grpc_addr) srv_grpc_stop();
    /* New jobs are refused, the scheduler runs what is queued and refuses
     * the rest; then every suspended connection has been resumed (a job
     * still loading a model finishes first), as libmicrohttpd requires
     * before it stops. */
    atomic_store(&S.stopping, 1);
    srv_sched_stop(&S.core.sched);
    while (atomic_load(&S.nsusp) > 0) nanosleep(&(struct timespec){0, 1000000}, NULL);
    MHD_stop_daemon(d);
    srv_repo_free(&S.core.repo);
    free(cert);
    free(key);
    free(ca);
    fprintf(stderr, "nnedge serve: stopped (signal %d)\n", sig);
    return 0;
}
