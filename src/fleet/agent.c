/*
 * agent.c - the node agent (docs/fleet.md sections 1-5), run by
 * build/nnedge-agent, which `nnedge agent` starts.
 *
 * Three threads:
 *   - the network loop (the caller's thread): connects to the broker with a
 *     fresh session number (bdseq, S/agent.bdseq) in its last will, publishes
 *     the retained birth with the node's full state, subscribes to its desired
 *     state (nnedge/cmd/<id>), and reconnects with backoff 0.25 s doubling to
 *     2 s when the broker goes away (mosquitto_loop; libmosquitto's own
 *     reconnect counts whole seconds and cannot change the will between
 *     sessions);
 *   - heartbeats: every --heartbeat-ms, the server's readiness and /metrics
 *     (interval p50/p99 from the histogram's bucket deltas) and /proc;
 *   - deployments: one at a time, each step in a child process of the nnedge
 *     command (agent --fetch, install, eval, bench, install --revert), then
 *     the new version published into the server's repository, loaded, and the
 *     older version directories removed.
 * The server never depends on any of this: while the broker is down, nothing
 * here stops inference; heartbeats are dropped, deployment reports wait in
 * libmosquitto's queue (QoS 1) for the next session.
 *
 * Files in the store S besides nnedge install's: agent.bdseq (the session
 * counter), agent.last (the last deployment handled: its desired state, id
 * and final state, so a retained desired state is not applied twice), and
 * during a deployment incoming.nne, check_x.npy, check_y.npy.
 */
#include "fleet/fleet.h"
#include "nnedge.h" /* NNE_VERSION_* only: the agent links no libnnedge */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mosquitto.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define STR_(x) #x
#define STR(x) STR_(x)
#define AGENT_VERSION "nnedge " STR(NNE_VERSION_MAJOR) "." STR(NNE_VERSION_MINOR) "." STR(NNE_VERSION_PATCH)

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}


typedef struct agent {
    const fleet_agent_config *c;
    struct mosquitto *m;
    fleet_httpc serve;
    char token[256];
    int have_token;
    char t_birth[128], t_death[128], t_data[128], t_deploy[128], t_cmd[128];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu */
    int connected;
    long long bdseq, hb_seq;
    json_t *store;      /* {"current":..., "previous":...} */
    int serve_up;
    json_t *deployment; /* {"id","state"} or NULL */
    char *pending;      /* the newest desired state not yet taken */
    int pending_len;
    pid_t child;
    int death_mid, death_acked;
    int64_t backoff_ms;
    /* deployment thread only */
    char *last_key;
} agent;

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...) {
    char buf[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    fprintf(stderr, "nnedge agent: %s\n", buf);
}

/* ------------------------------------------------------------ files -- */

static int fsync_dir(const char *dir) {
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return 0;
    int ok = fsync(fd) == 0;
    close(fd);
    return ok;
}

/* Write path atomically: path.tmp, fsync, rename, fsync the directory. */
static int write_atomic(const char *dir, const char *name, const char *text) {
    char p[4400], t[4400];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    snprintf(t, sizeof t, "%s/%s.tmp", dir, name);
    int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return 0;
    size_t n = strlen(text);
    int ok = write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    ok &= close(fd) == 0;
    ok = ok && rename(t, p) == 0 && fsync_dir(dir);
    if (!ok) unlink(t);
    return ok;
}

static char *read_small(const char *path, size_t max) {
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *b = malloc(max + 1);
    size_t n = b ? fread(b, 1, max, f) : 0;
    fclose(f);
    if (!b) return NULL;
    b[n] = 0;
    return b;
}

/* The next session number, recorded (fsynced) before it is used. */
static int bdseq_next(agent *a, char *err, size_t cap) {
    char p[4400];
    snprintf(p, sizeof p, "%s/agent.bdseq", a->c->store);
    char *s = read_small(p, 64);
    long long v = s ? strtoll(s, NULL, 10) : 0;
    free(s);
    if (v < 0) v = 0;
    char t[32];
    snprintf(t, sizeof t, "%lld\n", v + 1);
    if (!write_atomic(a->c->store, "agent.bdseq", t)) {
        snprintf(err, cap, "cannot write %s: %s", p, strerror(errno));
        return 0;
    }
    pthread_mutex_lock(&a->mu);
    a->bdseq = v + 1;
    pthread_mutex_unlock(&a->mu);
    return 1;
}

/* ------------------------------------------------------ child steps -- */

/* Run the nnedge command with args (NULL-terminated, without argv[0]) in a
 * child process; its stdout (at most 1 MiB) into *out, the last line of its
 * stderr into errline. Returns the exit status, -1 when it could not run or
 * was killed (timeout, or the agent stopping). */
static int run_child(agent *a, const char *const *args, fleet_buf *out, char *errline, size_t errcap, long timeout_ms) {
    const char *argv[48];
    int n = 0;
    argv[n++] = "nnedge";
    for (; args[n - 1] && n < 47; n++) argv[n] = args[n - 1];
    argv[n] = NULL;
    int po[2], pe[2];
    errline[0] = 0;
    out->n = 0;
    if (pipe2(po, O_CLOEXEC) != 0) { snprintf(errline, errcap, "pipe: %s", strerror(errno)); return -1; }
    if (pipe2(pe, O_CLOEXEC) != 0) {
        close(po[0]), close(po[1]);
        snprintf(errline, errcap, "pipe: %s", strerror(errno));
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        /* the child dies with the agent's deployment thread (kill -9 of the agent) */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        dup2(po[1], 1);
        dup2(pe[1], 2);
        sigset_t none;
        sigemptyset(&none);
        pthread_sigmask(SIG_SETMASK, &none, NULL);
        execv(a->c->nnedge, (char *const *)argv);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    if (pid < 0) {
        close(po[0]), close(pe[0]);
        snprintf(errline, errcap, "fork: %s", strerror(errno));
        return -1;
    }
    pthread_mutex_lock(&a->mu);
    a->child = pid;
    pthread_mutex_unlock(&a->mu);
    char ebuf[4096];
    size_t en = 0;
    int64_t deadline = fleet_mono_ms() + timeout_ms;
    int open_o = 1, open_e = 1, killed = 0;
    while (open_o || open_e) {
        if (g_stop || fleet_mono_ms() > deadline) {
            if (!killed) kill(pid, SIGKILL);
            killed = 1;
        }
        struct pollfd p[2] = {{.fd = open_o ? po[0] : -1, .events = POLLIN}, {.fd = open_e ? pe[0] : -1, .events = POLLIN}};
        int r = poll(p, 2, 200);
        if (r < 0 && errno != EINTR) break;
        if (r <= 0) continue;
        if (open_o && (p[0].revents & (POLLIN | POLLHUP))) {
            if (out->n + 4097 > out->cap && out->cap < (1u << 20)) {
                size_t nc = out->cap ? out->cap * 2 : 8192;
                char *q = realloc(out->p, nc);
                if (q) out->p = q, out->cap = nc;
            }
            char dump[4096];
            int room = out->p && out->n + 4097 <= out->cap;
            ssize_t k = read(po[0], room ? out->p + out->n : dump, 4096);
            if (k <= 0) open_o = 0;
            else if (room) out->n += (size_t)k;
        }
        if (open_e && (p[1].revents & (POLLIN | POLLHUP))) {
            char tmp[2048];
            ssize_t k = read(pe[0], tmp, sizeof tmp);
            if (k <= 0) open_e = 0;
            else {
                if (en + (size_t)k > sizeof ebuf - 1) {
                    size_t drop = en + (size_t)k - (sizeof ebuf - 1);
                    if (drop > en) drop = en;
                    memmove(ebuf, ebuf + drop, en - drop);
                    en -= drop;
                }
                size_t take = (size_t)k < sizeof ebuf - 1 ? (size_t)k : sizeof ebuf - 1;
                memcpy(ebuf + en, tmp + k - take, take);
                en += take;
            }
        }
    }
    close(po[0]);
    close(pe[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&a->mu);
    a->child = 0;
    pthread_mutex_unlock(&a->mu);
    if (out->p) out->p[out->n] = 0;
    /* the last non-empty stderr line, without the "nnedge: " prefix */
    ebuf[en] = 0;
    while (en && (ebuf[en - 1] == '\n' || ebuf[en - 1] == '\r')) ebuf[--en] = 0;
    char *ls = strrchr(ebuf, '\n');
    ls = ls ? ls + 1 : ebuf;
    if (!strncmp(ls, "nnedge: ", 8)) ls += 8;
    snprintf(errline, errcap, "%s", ls);
    if (killed) {
        snprintf(errline, errcap, "%s", g_stop ? "stopped: the agent is exiting" : "timed out");
        return -1;
    }
    if (WIFEXITED(status)) {
        if (WEXITSTATUS(status) == 127 && !errline[0]) snprintf(errline, errcap, "cannot run %s", a->c->nnedge);
        return WEXITSTATUS(status);
    }
    snprintf(errline, errcap, "killed by signal %d", WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

/* run_child for a step that prints one JSON object: the object, or NULL
 * (err says why: the step's last stderr line, or that what it printed was
 * not JSON). */
static json_t *run_child_json(agent *a, const char *const *args, const char *what, long timeout_ms, char *err,
                              size_t cap) {
    fleet_buf out = {0};
    int rc = run_child(a, args, &out, err, cap, timeout_ms);
    json_t *j = rc == 0 && out.p ? json_loads(out.p, 0, NULL) : NULL;
    fleet_buf_free(&out);
    if (!j && rc == 0) snprintf(err, cap, "%s printed no JSON", what);
    return j;
}

/* Append the package options every step that opens a package takes. */
static int pkg_args(const agent *a, const char **v, int n) {
    v[n++] = "--trust";
    v[n++] = a->c->trust;
    if (a->c->key) v[n++] = "--key", v[n++] = a->c->key;
    return n;
}

/* The store's state from `nnedge install --store S --status --json`:
 * {"current": {"name","version","counter"} | null, "previous": ...}. */
static json_t *store_entry(json_t *e) {
    if (!json_is_object(e) || !json_is_string(json_object_get(e, "model_id"))) return json_null();
    return json_pack("{s:O,s:O,s:O}", "name", json_object_get(e, "model_id"), "version", json_object_get(e, "version"),
                     "counter", json_object_get(e, "counter"));
}

static int store_refresh(agent *a, char *err, size_t cap) {
    struct stat sb;
    json_t *st;
    if (stat(a->c->store, &sb) != 0) {
        st = json_pack("{s:n,s:n}", "current", "previous");
    } else {
        const char *args[] = {"install", "--store", a->c->store, "--status", "--json", NULL};
        json_t *j = run_child_json(a, args, "install --status", 60000, err, cap);
        if (!j) return 0;
        st = json_pack("{s:o,s:o}", "current", store_entry(json_object_get(j, "current")), "previous",
                       store_entry(json_object_get(j, "previous")));
        json_decref(j);
    }
    pthread_mutex_lock(&a->mu);
    json_decref(a->store);
    a->store = st;
    pthread_mutex_unlock(&a->mu);
    return 1;
}

/* counter of store.current / store.previous (0: none); name copied out */
static long long store_get(agent *a, const char *which, char *name, size_t cap) {
    pthread_mutex_lock(&a->mu);
    json_t *e = a->store ? json_object_get(a->store, which) : NULL;
    long long c = json_is_object(e) ? (long long)json_integer_value(json_object_get(e, "counter")) : 0;
    if (name) snprintf(name, cap, "%s", c ? json_string_value(json_object_get(e, "name")) : "");
    pthread_mutex_unlock(&a->mu);
    return c;
}

/* ---------------------------------------------------------- messages -- */

static json_t *birth_json(agent *a) {
    pthread_mutex_lock(&a->mu);
    json_t *j = json_pack("{s:i,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:O,s:s,s:O}", "v", 1, "id", a->c->id, "group",
                          a->c->group ? a->c->group : "", "bdseq", (json_int_t)a->bdseq, "time_ms",
                          (json_int_t)fleet_now_ms(), "agent", AGENT_VERSION, "serve_url", a->c->serve_url,
                          "haproxy_server", a->c->haproxy_server ? a->c->haproxy_server : a->c->id, "store",
                          a->store ? a->store : json_null(), "serve", a->serve_up ? "up" : "down", "deployment",
                          a->deployment ? a->deployment : json_null());
    pthread_mutex_unlock(&a->mu);
    return j;
}

static void publish(agent *a, const char *topic, json_t *j, int qos, int retain) {
    if (!j) return;
    int rc = fleet_json_publish(a->m, topic, j, qos, retain, NULL);
    /* QoS 1 while disconnected: libmosquitto keeps it for the next session */
    if (rc != MOSQ_ERR_SUCCESS && rc != MOSQ_ERR_NO_CONN)
        logf_("publish %s: %s", topic, mosquitto_strerror(rc));
    json_decref(j);
}

/* A deployment step report; extra (may be NULL, stolen) adds fields. */
static void report(agent *a, const char *dep, const char *state, const char *reason, json_t *extra) {
    json_t *j = json_pack("{s:i,s:s,s:s,s:s,s:I}", "v", 1, "id", a->c->id, "deployment", dep, "state", state,
                          "time_ms", (json_int_t)fleet_now_ms());
    if (reason) json_object_set_new(j, "reason", json_string(reason));
    if (extra) json_object_update(j, extra), json_decref(extra);
    pthread_mutex_lock(&a->mu);
    json_decref(a->deployment);
    a->deployment = json_pack("{s:s,s:s}", "id", dep, "state", state);
    pthread_mutex_unlock(&a->mu);
    logf_("deployment %s: %s%s%s", dep, state, reason ? ": " : "", reason ? reason : "");
    publish(a, a->t_deploy, j, 1, 0);
}

/* Give back the resident pages of shared-library code and constants that
 * were touched once: at startup and in the TLS handshake of each connect
 * (X.509 and signature checks, key exchange: OpenSSL's handshake alone
 * leaves about 3 MB of libcrypto/libssl pages resident, which RSS counts
 * although they are clean copies of the files in the page cache). Only
 * mappings that are read-only, backed by a file and hold no private
 * (copied-on-write) page are advised MADV_DONTNEED: their pages come back
 * from the page cache on the next use, unchanged. Mappings with private
 * pages (relocated data, RELRO) are never touched. Measured with mqtts:
 * 7.0 MB after the handshake, 3.5-3.9 MB once trimmed and running. */
static void trim_file_pages(void) {
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f) return;
    char l[600];
    unsigned long lo = 0, hi = 0;
    int cand = 0;
    while (fgets(l, sizeof l, f)) {
        unsigned long x, y, kb;
        char perm[8], path[512] = "";
        if (sscanf(l, "%lx-%lx %7s %*s %*s %*s %511s", &x, &y, perm, path) >= 3) {
            lo = x, hi = y;
            cand = path[0] == '/' && !strchr(perm, 'w');
            /* no fault-around: the kernel maps 64 KiB around each faulting
             * page of a file mapping, so code run once (OpenSSL's init and
             * handshake) keeps 16x its size resident; MADV_RANDOM maps only
             * the pages actually used */
            if (cand && hi > lo) madvise((void *)lo, hi - lo, MADV_RANDOM);
        } else if (cand && sscanf(l, "Anonymous: %lu kB", &kb) == 1) {
            if (kb == 0 && hi > lo) madvise((void *)lo, hi - lo, MADV_DONTNEED);
            cand = 0;
        }
    }
    fclose(f);
}

/* ----------------------------------------------------------- network -- */

static int last_refusal = -1; /* a CONNACK refusal is logged once until it changes or a connection works */

static void on_connect(struct mosquitto *m, void *obj, int rc) {
    agent *a = obj;
    if (rc != 0) {
        if (rc != last_refusal) logf_("the broker refused the connection: %s; retrying", mosquitto_connack_string(rc));
        last_refusal = rc;
        mosquitto_disconnect(m);
        return;
    }
    last_refusal = -1;
    pthread_mutex_lock(&a->mu);
    a->connected = 1;
    a->backoff_ms = 250;
    long long bd = a->bdseq;
    pthread_mutex_unlock(&a->mu);
    logf_("connected to %s:%d (bdseq %lld)", a->c->broker.host, a->c->broker.port, bd);
    publish(a, a->t_birth, birth_json(a), 1, 1);
    int s = mosquitto_subscribe(m, NULL, a->t_cmd, 1);
    if (s != MOSQ_ERR_SUCCESS) logf_("subscribe %s: %s", a->t_cmd, mosquitto_strerror(s));
    trim_file_pages();
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc) {
    (void)m;
    agent *a = obj;
    pthread_mutex_lock(&a->mu);
    int was = a->connected;
    a->connected = 0;
    pthread_mutex_unlock(&a->mu);
    if (was && !g_stop) logf_("disconnected from the broker (%s); reconnecting", mosquitto_strerror(rc));
    /* the TLS shutdown and error paths run once per outage (1.3 MB of
     * libcrypto pages measured): give them back for the time without a broker */
    trim_file_pages();
}

static void on_publish(struct mosquitto *m, void *obj, int mid) {
    (void)m;
    agent *a = obj;
    pthread_mutex_lock(&a->mu);
    if (mid == a->death_mid) a->death_acked = 1;
    pthread_mutex_unlock(&a->mu);
}

static void on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg) {
    (void)m;
    agent *a = obj;
    if (strcmp(msg->topic, a->t_cmd) != 0 || msg->payloadlen <= 0) return;
    char *p = malloc((size_t)msg->payloadlen + 1);
    if (!p) return;
    memcpy(p, msg->payload, (size_t)msg->payloadlen);
    p[msg->payloadlen] = 0;
    pthread_mutex_lock(&a->mu);
    free(a->pending);
    a->pending = p;
    a->pending_len = msg->payloadlen;
    pthread_cond_broadcast(&a->cv);
    pthread_mutex_unlock(&a->mu);
}

static json_t *death_json(agent *a) {
    pthread_mutex_lock(&a->mu);
    json_t *j = json_pack("{s:i,s:s,s:I}", "v", 1, "id", a->c->id, "bdseq", (json_int_t)a->bdseq);
    pthread_mutex_unlock(&a->mu);
    return j;
}

/* ---------------------------------------------------------- heartbeat -- */

/* Interval histogram of s since prev (a counter reset counts from 0). */
static void delta(const fleet_prom_series *s, const fleet_prom *prev, double *d) {
    const fleet_prom_series *p = NULL;
    if (s->nb == 0) return;
    for (int i = 0; prev && i < prev->n; i++)
        if (prev->s[i].version == s->version && !strcmp(prev->s[i].model, s->model)) p = &prev->s[i];
    int reset = p && p->nb == s->nb && p->cum[s->nb - 1] > s->cum[s->nb - 1];
    for (int k = 0; k < s->nb; k++) d[k] = s->cum[k] - (p && p->nb == s->nb && !reset ? p->cum[k] : 0);
}

/* v to 3 decimals (no libm: each shared library costs the agent resident pages) */
static json_t *num_or_null(double v) {
    if (isnan(v) || isinf(v)) return json_null();
    double r = v * 1000;
    if (r > -9e15 && r < 9e15) r = (double)(long long)(r + (r < 0 ? -0.5 : 0.5));
    return json_real(r / 1000);
}

static long self_rss_kb(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char l[256];
    long kb = -1;
    while (fgets(l, sizeof l, f))
        if (!strncmp(l, "VmRSS:", 6)) kb = strtol(l + 6, NULL, 10);
    fclose(f);
    return kb;
}

static void *heartbeat_main(void *arg) {
    agent *a = arg;
    static fleet_prom cur, prev;
    int have_prev = 0;
    fleet_buf body = {0};
    int64_t next = fleet_mono_ms();
    while (!g_stop) {
        next += a->c->heartbeat_ms;
        int64_t now = fleet_mono_ms();
        if (next < now) next = now; /* late (a stopped process): no burst */
        while (!g_stop && (now = fleet_mono_ms()) < next) {
            int64_t w = next - now < 100 ? next - now : 100;
            struct timespec ts = {.tv_sec = w / 1000, .tv_nsec = (long)(w % 1000) * 1000000};
            nanosleep(&ts, NULL);
        }
        if (g_stop) break;
        char err[300];
        long st = 0;
        int up = fleet_httpc_request(&a->serve, "GET", "/v2/health/ready", NULL, NULL, 500, 4096, &body, &st, err,
                                     sizeof err) && st == 200;
        int scraped = fleet_httpc_request(&a->serve, "GET", "/metrics", NULL, NULL, 800, 8u << 20, &body, &st, err,
                                          sizeof err) && st == 200;
        if (scraped) fleet_prom_parse(body.p, &cur);
        if (body.cap > (64u << 10)) fleet_buf_free(&body); /* a large scrape: give it back */
        pthread_mutex_lock(&a->mu);
        a->serve_up = up;
        int conn = a->connected;
        long long seq = ++a->hb_seq, bd = a->bdseq;
        pthread_mutex_unlock(&a->mu);
        double la[3] = {NAN, NAN, NAN};
        FILE *lf = fopen("/proc/loadavg", "r");
        if (lf) {
            if (fscanf(lf, "%lf %lf %lf", &la[0], &la[1], &la[2]) != 3) la[0] = NAN;
            fclose(lf);
        }
        json_t *j = json_pack("{s:i,s:s,s:I,s:I,s:I,s:s,s:o,s:i,s:I}", "v", 1, "id", a->c->id, "bdseq", (json_int_t)bd,
                              "seq", (json_int_t)seq, "time_ms", (json_int_t)fleet_now_ms(), "serve",
                              up ? "up" : "down", "load1", num_or_null(la[0]), "cpus",
                              (int)sysconf(_SC_NPROCESSORS_ONLN), "agent_rss_kb", (json_int_t)self_rss_kb());
        if (scraped) {
            double req = 0, ok = 0, fail = 0, all[FLEET_PROM_BUCKETS] = {0}, bound[FLEET_PROM_BUCKETS] = {0}, d[FLEET_PROM_BUCKETS] = {0};
            int nb = 0;
            json_t *models = json_array();
            for (int i = 0; i < cur.n; i++) {
                fleet_prom_series *s = &cur.s[i];
                req += s->requests, ok += s->success, fail += s->failures;
                delta(s, have_prev ? &prev : NULL, d);
                if (s->nb && (nb == 0 || nb == s->nb)) {
                    nb = s->nb;
                    for (int k = 0; k < nb; k++) all[k] += d[k], bound[k] = s->bound[k];
                }
                if (s->memory > 0)
                    json_array_append_new(models, json_pack("{s:s,s:I,s:I,s:I,s:o}", "name", s->model, "version",
                                                            (json_int_t)s->version, "requests", (json_int_t)s->requests,
                                                            "errors", (json_int_t)s->failures, "p99_ms",
                                                            num_or_null(fleet_quantile_ms(d, s->bound, s->nb, 0.99))));
            }
            double inflight = req - ok - fail;
            json_object_set_new(j, "inflight", json_integer(inflight > 0 ? (json_int_t)inflight : 0));
            json_object_set_new(j, "queue", cur.have_queue ? json_integer((json_int_t)cur.queue) : json_null());
            json_object_set_new(j, "requests", json_integer((json_int_t)req));
            json_object_set_new(j, "errors", json_integer((json_int_t)fail));
            json_object_set_new(j, "latency_ms", json_pack("{s:o,s:o}", "p50", num_or_null(fleet_quantile_ms(all, bound, nb, 0.5)),
                                                           "p99", num_or_null(fleet_quantile_ms(all, bound, nb, 0.99))));
            json_object_set_new(j, "serve_rss_kb", cur.have_rss ? json_integer((json_int_t)(cur.rss / 1024)) : json_null());
            json_object_set_new(j, "models", models);
            prev = cur;
            have_prev = 1;
        } else {
            json_object_set_new(j, "latency_ms", json_pack("{s:n,s:n}", "p50", "p99"));
            json_object_set_new(j, "models", json_array());
        }
        if (conn) publish(a, a->t_data, j, 0, 0);
        else json_decref(j);
    }
    fleet_buf_free(&body);
    return NULL;
}

/* ---------------------------------------------------------- activation -- */

static int name_ok(const char *s) {
    size_t n = strlen(s);
    if (n == 0 || n > 127 || s[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return 1;
}

static int all_digits(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

static void rm_tree(const char *path) {
    DIR *d = opendir(path);
    if (d) {
        struct dirent *de;
        while ((de = readdir(d))) {
            if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
            char p[4400];
            snprintf(p, sizeof p, "%s/%s", path, de->d_name);
            struct stat sb;
            if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) rm_tree(p);
            else unlink(p);
        }
        closedir(d);
    }
    rmdir(path);
}

static int copy_file(const char *from, const char *to) {
    int in = open(from, O_RDONLY | O_CLOEXEC);
    if (in < 0) return 0;
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) { close(in); return 0; }
    char buf[65536];
    int ok = 1;
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) { ok = n == 0; break; }
        if (write(out, buf, (size_t)n) != n) { ok = 0; break; }
    }
    ok = ok && fsync(out) == 0;
    close(in);
    ok &= close(out) == 0;
    return ok;
}

static int serve_load(agent *a, const char *name, char *err, size_t cap) {
    char path[300];
    snprintf(path, sizeof path, "/v2/repository/models/%s/load", name);
    fleet_buf b = {0};
    long st = 0;
    int ok = fleet_httpc_request(&a->serve, "POST", path, a->have_token ? a->token : NULL, "{}", 120000, 65536, &b,
                                 &st, err, cap);
    if (ok && st != 200) {
        json_t *j = b.p ? json_loads(b.p, 0, NULL) : NULL;
        json_t *msg = j ? json_object_get(json_object_get(j, "error"), "message") : NULL;
        snprintf(err, cap, "the server refused to load %s (HTTP %ld): %s", name, st,
                 json_is_string(msg) ? json_string_value(msg) : (b.p ? b.p : ""));
        json_decref(j);
        ok = 0;
    } else if (!ok) {
        char e2[400];
        snprintf(e2, sizeof e2, "%s", err);
        snprintf(err, cap, "load request to %s failed: %s", a->c->serve_url, e2);
    }
    fleet_buf_free(&b);
    return ok;
}

/* Publish S/current.nne (model `name`, version `counter`) into the server's
 * repository as R/<name>/<counter>/model.nne (tmp + rename), ask the server
 * to load it, wait until that version is ready, then remove the other
 * version directories. The other versions are moved aside (to
 * R/<name>/.old-<v>, which the server ignores) before the load, so the
 * default "latest" policy picks this version even when it is older (a
 * rollback); on failure they are put back and loaded again. */
static int activate(agent *a, const char *name, long long counter, char *err, size_t cap) {
    if (!name_ok(name)) { snprintf(err, cap, "model name \"%s\" cannot be a repository directory", name); return 0; }
    char mdir[4400], vdir[4400], tmp[4500], dst[4500], src[4400];
    snprintf(mdir, sizeof mdir, "%s/%s", a->c->serve_repo, name);
    snprintf(vdir, sizeof vdir, "%s/%lld", mdir, counter);
    snprintf(tmp, sizeof tmp, "%s/model.nne.tmp", vdir);
    snprintf(dst, sizeof dst, "%s/model.nne", vdir);
    snprintf(src, sizeof src, "%s/current.nne", a->c->store);
    if ((mkdir(mdir, 0755) != 0 && errno != EEXIST) || (mkdir(vdir, 0755) != 0 && errno != EEXIST)) {
        snprintf(err, cap, "cannot create %s: %s", vdir, strerror(errno));
        return 0;
    }
    struct stat vst;
    int existed = stat(dst, &vst) == 0; /* this version is in the repository already */
    unlink(tmp);
    /* a hard link when the store and the repository share a file system:
     * install never writes into a file it has renamed into place */
    if (link(src, tmp) != 0 && !copy_file(src, tmp)) {
        snprintf(err, cap, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return 0;
    }
    if (rename(tmp, dst) != 0 || !fsync_dir(vdir) || !fsync_dir(mdir)) {
        snprintf(err, cap, "cannot write %s: %s", dst, strerror(errno));
        unlink(tmp);
        return 0;
    }
    /* move the other versions aside */
    char hidden[16][64];
    int nh = 0;
    DIR *d = opendir(mdir);
    struct dirent *de;
    while (d && (de = readdir(d)) && nh < 16) {
        if (!all_digits(de->d_name) || strtoll(de->d_name, NULL, 10) == counter) continue;
        char from[4500], to[4500];
        snprintf(from, sizeof from, "%s/%s", mdir, de->d_name);
        snprintf(hidden[nh], sizeof hidden[nh], ".old-%.50s", de->d_name);
        snprintf(to, sizeof to, "%s/%s", mdir, hidden[nh]);
        rm_tree(to);
        if (rename(from, to) == 0) nh++;
    }
    if (d) closedir(d);
    fsync_dir(mdir);
    int ok = serve_load(a, name, err, cap);
    if (ok) {
        char path[300];
        snprintf(path, sizeof path, "/v2/models/%s/versions/%lld/ready", name, counter);
        int64_t deadline = fleet_mono_ms() + 10000;
        fleet_buf b = {0};
        long st = 0;
        char e2[300];
        while (!(fleet_httpc_request(&a->serve, "GET", path, NULL, NULL, 2000, 65536, &b, &st, e2, sizeof e2) &&
                 st == 200)) {
            if (fleet_mono_ms() > deadline || g_stop) {
                snprintf(err, cap, "version %lld of %s loaded but not ready in 10 s", counter, name);
                ok = 0;
                break;
            }
            usleep(100000);
        }
        fleet_buf_free(&b);
    }
    for (int i = 0; i < nh; i++) {
        char p[4500], back[4500];
        snprintf(p, sizeof p, "%s/%s", mdir, hidden[i]);
        if (ok) {
            rm_tree(p);
        } else {
            snprintf(back, sizeof back, "%s/%s", mdir, hidden[i] + 5);
            rename(p, back);
        }
    }
    if (!ok) {
        /* serve what was served before */
        if (!existed) rm_tree(vdir);
        fsync_dir(mdir);
        char e3[300];
        if (nh) serve_load(a, name, e3, sizeof e3);
    }
    fsync_dir(mdir);
    return ok;
}

/* Activate the store's current package unless the repository has it (an
 * agent restarted in the middle of an activation). */
static void reconcile(agent *a) {
    char name[256], err[600];
    long long c = store_get(a, "current", name, sizeof name);
    if (!c || !name_ok(name)) return;
    char p[4600];
    snprintf(p, sizeof p, "%s/%s/%lld/model.nne", a->c->serve_repo, name, c);
    if (access(p, F_OK) == 0) return;
    if (activate(a, name, c, err, sizeof err)) logf_("activated %s version %lld from the store", name, c);
    else logf_("could not activate %s version %lld from the store: %s", name, c, err);
}

/* -------------------------------------------------------- deployments -- */

static int revert_store(agent *a, char *err, size_t cap) {
    const char *args[16] = {"install", "--store", a->c->store, "--revert", "--json"};
    int n = pkg_args(a, args, 5);
    args[n] = NULL;
    fleet_buf out = {0};
    int rc = run_child(a, args, &out, err, cap, 120000);
    fleet_buf_free(&out);
    char e2[300];
    store_refresh(a, e2, sizeof e2);
    return rc == 0;
}

/* The `nnedge agent --fetch` child: download url into the store as file;
 * compare the size and BLAKE2b-256 when given (bytes > 0, hex != NULL). */
static int fetch(agent *a, const char *url, const char *file, long long bytes, const char *hex, char *err,
                 size_t cap) {
    char dest[4400], maxb[32];
    snprintf(dest, sizeof dest, "%s/%s", a->c->store, file);
    snprintf(maxb, sizeof maxb, "%lld", bytes > 0 ? bytes : (512LL << 20));
    const char *args[16] = {"agent", "--fetch", url, "-o", dest, "--max-bytes", maxb};
    int n = 7;
    if (a->c->broker.ca) args[n++] = "--ca", args[n++] = a->c->broker.ca;
    args[n] = NULL;
    json_t *j = run_child_json(a, args, "the download step", 600000, err, cap);
    if (!j) {
        unlink(dest);
        return 0;
    }
    long long got = (long long)json_integer_value(json_object_get(j, "bytes"));
    const char *gh = json_string_value(json_object_get(j, "blake2b"));
    int ok = 1;
    if (bytes > 0 && got != bytes) {
        snprintf(err, cap, "%s has %lld bytes, the desired state says %lld", url, got, bytes);
        ok = 0;
    } else if (hex && (!gh || strcasecmp(gh, hex) != 0)) {
        snprintf(err, cap, "%s: BLAKE2b-256 %s, the desired state says %s", url, gh ? gh : "?", hex);
        ok = 0;
    }
    json_decref(j);
    if (!ok) unlink(dest);
    return ok;
}

/* Run a --json step and return one number from its output (NAN on failure). */
static double json_step(agent *a, const char **args, const char *key, char *err, size_t cap) {
    fleet_buf out = {0};
    int rc = run_child(a, args, &out, err, cap, 600000);
    double v = NAN;
    /* the last line that parses (bench and eval print one object) */
    json_t *j = NULL;
    if (rc == 0 && out.p) {
        char *line = out.p;
        for (char *nl; line && *line; line = nl) {
            nl = strchr(line, '\n');
            if (nl) *nl++ = 0;
            json_t *t = json_loads(line, 0, NULL);
            if (t) json_decref(j), j = t;
        }
    }
    if (j && json_is_number(json_object_get(j, key))) v = json_number_value(json_object_get(j, key));
    else if (rc == 0) snprintf(err, cap, "%s printed no \"%s\"", args[0], key);
    json_decref(j);
    fleet_buf_free(&out);
    return v;
}

typedef struct desired {
    const char *dep, *action, *name, *version, *url, *blake2b;
    long long counter, bytes;
    json_t *check;
} desired;

static int hex64_ok(const char *s) {
    if (!s || strlen(s) != 64) return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f') || (*s >= 'A' && *s <= 'F'))) return 0;
    return 1;
}

static json_t *pkg_extra(const desired *d, json_t *check) {
    json_t *e = json_object();
    if (d->version) json_object_set_new(e, "version", json_string(d->version));
    if (d->counter) json_object_set_new(e, "counter", json_integer(d->counter));
    if (check) json_object_set(e, "check", check);
    return e;
}

/* An activation or check failed after the install: back to the previous
 * package, in the store and in the server. */
static void roll_back(agent *a, const desired *d, const char *why, json_t *check) {
    char err[600], reason[1400], name[256];
    if (!revert_store(a, err, sizeof err)) {
        snprintf(reason, sizeof reason, "%s; revert FAILED: %s", why, err);
        report(a, d->dep, "failed", reason, pkg_extra(d, check));
        return;
    }
    long long c = store_get(a, "current", name, sizeof name);
    if (c && !activate(a, name, c, err, sizeof err)) {
        snprintf(reason, sizeof reason, "%s; reverted the store, but the server did not take the previous version: %s",
                 why, err);
        report(a, d->dep, "rolled_back", reason, pkg_extra(d, check));
        return;
    }
    report(a, d->dep, "rolled_back", why, pkg_extra(d, check));
}

static const char *deploy_install(agent *a, const desired *d) {
    char err[1000], name[256];
    report(a, d->dep, "fetching", NULL, pkg_extra(d, NULL));
    long long cur = store_get(a, "current", name, sizeof name);
    if (!(cur == d->counter && !strcmp(name, d->name))) {
        if (!fetch(a, d->url, "incoming.nne", d->bytes, d->blake2b, err, sizeof err)) {
            report(a, d->dep, "failed", err, pkg_extra(d, NULL));
            return "failed";
        }
        report(a, d->dep, "installing", NULL, pkg_extra(d, NULL));
        char inc[4400];
        snprintf(inc, sizeof inc, "%s/incoming.nne", a->c->store);
        const char *args[16] = {"install", inc, "--store", a->c->store, "--json"};
        int n = pkg_args(a, args, 5);
        if (a->c->revoked) args[n++] = "--revoked", args[n++] = a->c->revoked;
        args[n] = NULL;
        fleet_buf out = {0};
        int rc = run_child(a, args, &out, err, sizeof err, 600000);
        fleet_buf_free(&out);
        unlink(inc);
        char e2[300];
        store_refresh(a, e2, sizeof e2);
        if (rc != 0) {
            report(a, d->dep, "failed", err[0] ? err : "install failed", pkg_extra(d, NULL));
            return "failed";
        }
        cur = store_get(a, "current", name, sizeof name);
        if (cur != d->counter || strcmp(name, d->name) != 0) {
            char why[600];
            snprintf(why, sizeof why, "the package is %s counter %lld, the desired state names %s counter %lld", name,
                     cur, d->name, d->counter);
            roll_back(a, d, why, NULL);
            return "rolled_back";
        }
    }
    json_t *check = NULL;
    if (d->check) {
        report(a, d->dep, "checking", NULL, pkg_extra(d, NULL));
        const char *xu = json_string_value(json_object_get(d->check, "data_url"));
        const char *yu = json_string_value(json_object_get(d->check, "labels_url"));
        json_t *mt = json_object_get(d->check, "min_top1"), *mp = json_object_get(d->check, "max_p50_ms");
        char cur_path[4400], xp[4400], yp[4400];
        snprintf(cur_path, sizeof cur_path, "%s/current.nne", a->c->store);
        snprintf(xp, sizeof xp, "%s/check_x.npy", a->c->store);
        snprintf(yp, sizeof yp, "%s/check_y.npy", a->c->store);
        double top1 = NAN, p50 = NAN;
        int passed = 1;
        char why[1200] = "";
        if (json_is_number(mt)) {
            if (!xu || !yu) {
                snprintf(why, sizeof why, "check: min_top1 needs data_url and labels_url");
                passed = 0;
            } else if (!fetch(a, xu, "check_x.npy", 0, NULL, err, sizeof err) ||
                       !fetch(a, yu, "check_y.npy", 0, NULL, err, sizeof err)) {
                snprintf(why, sizeof why, "check data: %s", err);
                passed = 0;
            } else {
                const char *args[16] = {"eval", cur_path, "--data", xp, "--labels", yp, "--json"};
                int n = pkg_args(a, args, 7);
                args[n] = NULL;
                top1 = json_step(a, args, "top1", err, sizeof err);
                if (isnan(top1)) snprintf(why, sizeof why, "check: eval failed: %s", err), passed = 0;
                else if (top1 < json_number_value(mt))
                    snprintf(why, sizeof why, "check failed: top-1 %.4f below min_top1 %.4f", top1, json_number_value(mt)),
                        passed = 0;
            }
            unlink(xp);
            unlink(yp);
        }
        if (passed && json_is_number(mp)) {
            const char *args[16] = {"bench", cur_path, "--json"};
            int n = pkg_args(a, args, 3);
            args[n] = NULL;
            p50 = json_step(a, args, "median_ms", err, sizeof err);
            if (isnan(p50)) snprintf(why, sizeof why, "check: bench failed: %s", err), passed = 0;
            else if (p50 > json_number_value(mp))
                snprintf(why, sizeof why, "check failed: median latency %.3f ms above max_p50_ms %.3f", p50,
                         json_number_value(mp)),
                    passed = 0;
        }
        check = json_pack("{s:o,s:o,s:b}", "top1", num_or_null(top1), "p50_ms", num_or_null(p50), "passed", passed);
        if (!passed) {
            roll_back(a, d, why, check);
            json_decref(check);
            return "rolled_back";
        }
    }
    report(a, d->dep, "activating", NULL, pkg_extra(d, check));
    if (!activate(a, d->name, d->counter, err, sizeof err)) {
        char why[1100];
        snprintf(why, sizeof why, "activation failed: %s", err);
        roll_back(a, d, why, check);
        json_decref(check);
        return "rolled_back";
    }
    report(a, d->dep, "applied", NULL, pkg_extra(d, check));
    json_decref(check);
    return "applied";
}

static const char *deploy_rollback(agent *a, const desired *d) {
    char err[1000], name[256], why[1200];
    report(a, d->dep, "installing", NULL, pkg_extra(d, NULL));
    long long cur = store_get(a, "current", name, sizeof name);
    if (cur != d->counter) {
        long long prev = store_get(a, "previous", NULL, 0);
        if (prev != d->counter) {
            snprintf(why, sizeof why, "rollback to counter %lld: the store's previous package is %s%lld", d->counter,
                     prev ? "counter " : "none", prev ? prev : 0);
            if (!prev) snprintf(why, sizeof why, "rollback to counter %lld: the store has no previous package", d->counter);
            report(a, d->dep, "failed", why, pkg_extra(d, NULL));
            return "failed";
        }
        if (!revert_store(a, err, sizeof err)) {
            report(a, d->dep, "failed", err, pkg_extra(d, NULL));
            return "failed";
        }
        cur = store_get(a, "current", name, sizeof name);
    }
    report(a, d->dep, "activating", NULL, pkg_extra(d, NULL));
    if (!activate(a, name, cur, err, sizeof err)) {
        snprintf(why, sizeof why, "activation failed: %s", err);
        report(a, d->dep, "failed", why, pkg_extra(d, NULL));
        return "failed";
    }
    report(a, d->dep, "applied", NULL, pkg_extra(d, NULL));
    return "applied";
}

/* Apply one desired state (payload) unless it is the one last handled. */
static void deploy(agent *a, const char *payload, int len) {
    char err[600];
    json_t *j = fleet_json_parse_msg(payload, len, err, sizeof err);
    if (!j) {
        logf_("desired state on %s ignored: %s", a->t_cmd, err);
        return;
    }
    char *key = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
    if (key && a->last_key && !strcmp(key, a->last_key)) {
        free(key);
        json_decref(j);
        return;
    }
    desired d = {0};
    json_t *pkg = json_object_get(j, "package");
    d.dep = json_string_value(json_object_get(j, "deployment"));
    d.action = json_string_value(json_object_get(j, "action"));
    d.name = json_string_value(json_object_get(pkg, "name"));
    d.version = json_string_value(json_object_get(pkg, "version"));
    d.url = json_string_value(json_object_get(pkg, "url"));
    d.blake2b = json_string_value(json_object_get(pkg, "blake2b"));
    d.counter = json_is_integer(json_object_get(pkg, "counter")) ? (long long)json_integer_value(json_object_get(pkg, "counter")) : 0;
    d.bytes = json_is_integer(json_object_get(pkg, "bytes")) ? (long long)json_integer_value(json_object_get(pkg, "bytes")) : 0;
    d.check = json_is_object(json_object_get(j, "check")) ? json_object_get(j, "check") : NULL;
    const char *bad = NULL;
    if (!d.dep || !d.dep[0] || strlen(d.dep) > 128) bad = "\"deployment\" must be a string of 1..128 bytes";
    else if (!d.action || (strcmp(d.action, "install") && strcmp(d.action, "rollback")))
        bad = "\"action\" must be install or rollback";
    else if (d.counter < 1) bad = "\"package.counter\" must be a positive integer";
    else if (!strcmp(d.action, "install") && (!d.name || !name_ok(d.name)))
        bad = "\"package.name\" must be a model name ([A-Za-z0-9_.-], not starting with '.')";
    else if (!strcmp(d.action, "install") && !d.url) bad = "\"package.url\" is required";
    else if (!strcmp(d.action, "install") && (d.bytes < 1 || d.bytes > (64LL << 30)))
        bad = "\"package.bytes\" must be 1..2^36";
    else if (!strcmp(d.action, "install") && !hex64_ok(d.blake2b)) bad = "\"package.blake2b\" must be 64 hex digits";
    const char *final;
    if (bad) {
        if (d.dep) report(a, d.dep, "failed", bad, NULL);
        else logf_("desired state ignored: %s", bad);
        final = "failed";
    } else if (!strcmp(d.action, "install")) {
        final = deploy_install(a, &d);
    } else {
        final = deploy_rollback(a, &d);
    }
    /* remembered, so the retained message is not applied again; not when
     * the agent is stopping (a step it cut short is retried at the next start) */
    if (g_stop) {
        free(key);
        json_decref(j);
        return;
    }
    json_t *last = json_pack("{s:s,s:s,s:s}", "key", key ? key : "", "deployment", d.dep ? d.dep : "", "state", final);
    char *ls = json_dumps(last, JSON_COMPACT);
    if (!ls || !write_atomic(a->c->store, "agent.last", ls)) logf_("cannot write %s/agent.last: %s", a->c->store, strerror(errno));
    free(ls);
    json_decref(last);
    free(a->last_key);
    a->last_key = key;
    json_decref(j);
}

static void *deploy_main(void *arg) {
    agent *a = arg;
    reconcile(a);
    for (;;) {
        pthread_mutex_lock(&a->mu);
        while (!a->pending && !g_stop) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_nsec += 200000000;
            if (ts.tv_nsec >= 1000000000) ts.tv_sec++, ts.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&a->cv, &a->mu, &ts);
        }
        char *p = a->pending;
        int n = a->pending_len;
        a->pending = NULL;
        pthread_mutex_unlock(&a->mu);
        if (g_stop) {
            free(p);
            break;
        }
        deploy(a, p, n);
        free(p);
    }
    return NULL;
}

/* ---------------------------------------------------------------- run -- */

static void load_last(agent *a) {
    char p[4400];
    snprintf(p, sizeof p, "%s/agent.last", a->c->store);
    char *s = read_small(p, 1 << 20);
    json_t *j = s ? json_loads(s, 0, NULL) : NULL;
    free(s);
    const char *k = json_string_value(json_object_get(j, "key"));
    const char *dep = json_string_value(json_object_get(j, "deployment"));
    const char *st = json_string_value(json_object_get(j, "state"));
    if (k && k[0]) a->last_key = strdup(k);
    if (dep && dep[0] && st) a->deployment = json_pack("{s:s,s:s}", "id", dep, "state", st);
    json_decref(j);
}

int fleet_agent_run(const fleet_agent_config *c) {
    static agent A;
    agent *a = &A;
    memset(a, 0, sizeof *a);
    a->c = c;
    a->backoff_ms = 250;
    char err[600];
    if (!fleet_httpc_parse(c->serve_url, &a->serve, err, sizeof err)) {
        fprintf(stderr, "nnedge: agent: %s\n", err);
        return 2;
    }
    if (c->admin_token_file) {
        char line[300];
        if (!fleet_read_secret(c->admin_token_file, line, sizeof line, err, sizeof err)) {
            fprintf(stderr, "nnedge: agent: --admin-token %s\n", err);
            return 2;
        }
        /* a bare token, or serve's token-file line "admin TOKEN" */
        const char *t = !strncmp(line, "admin ", 6) ? line + 6 : line;
        snprintf(a->token, sizeof a->token, "%s", t);
        a->have_token = 1;
    }
    if (mkdir(c->store, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "nnedge: agent: cannot create the store %s: %s\n", c->store, strerror(errno));
        return 2;
    }
    struct stat sb;
    if (stat(c->serve_repo, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        fprintf(stderr, "nnedge: agent: --serve-repo %s is not a directory\n", c->serve_repo);
        return 2;
    }
    if (access(c->nnedge, X_OK) != 0) {
        fprintf(stderr, "nnedge: agent: cannot run %s (the nnedge command the steps run in)\n", c->nnedge);
        return 2;
    }
    fleet_topic(a->t_birth, sizeof a->t_birth, "node", c->id, "birth");
    fleet_topic(a->t_death, sizeof a->t_death, "node", c->id, "death");
    fleet_topic(a->t_data, sizeof a->t_data, "node", c->id, "data");
    fleet_topic(a->t_deploy, sizeof a->t_deploy, "node", c->id, "deploy");
    fleet_topic(a->t_cmd, sizeof a->t_cmd, "cmd", c->id, NULL);
    pthread_mutex_init(&a->mu, NULL);
    pthread_cond_init(&a->cv, NULL);

    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    load_last(a);
    if (!store_refresh(a, err, sizeof err)) logf_("reading the store %s: %s", c->store, err);
    {
        /* the first birth says whether the server is up */
        fleet_buf b = {0};
        long st = 0;
        a->serve_up = fleet_httpc_request(&a->serve, "GET", "/v2/health/ready", NULL, NULL, 500, 4096, &b, &st, err,
                                          sizeof err) && st == 200;
        fleet_buf_free(&b);
    }

    trim_file_pages(); /* MADV_RANDOM before OpenSSL's init runs */
    mosquitto_lib_init();
    a->m = mosquitto_new(c->id, true, a);
    if (!a->m) {
        fprintf(stderr, "nnedge: agent: mosquitto_new: %s\n", strerror(errno));
        return 1;
    }
    if (!fleet_mqtt_configure(a->m, &c->broker, err, sizeof err)) {
        fprintf(stderr, "nnedge: agent: %s\n", err);
        mosquitto_destroy(a->m);
        mosquitto_lib_cleanup();
        return 2;
    }
    /* our own threads publish while this one runs the loop */
    mosquitto_threaded_set(a->m, true);
    mosquitto_connect_callback_set(a->m, on_connect);
    mosquitto_disconnect_callback_set(a->m, on_disconnect);
    mosquitto_message_callback_set(a->m, on_message);
    mosquitto_publish_callback_set(a->m, on_publish);

    pthread_t hb, dep;
    pthread_create(&hb, NULL, heartbeat_main, a);
    pthread_create(&dep, NULL, deploy_main, a);

    int session = 0, bdseq_used = 1, logged_down = 0;
    int64_t next_try = 0;
    while (!g_stop) {
        if (!session) {
            int64_t now = fleet_mono_ms();
            if (now < next_try) {
                struct timespec ts = {0, (long)((next_try - now < 100 ? next_try - now : 100) * 1000000)};
                nanosleep(&ts, NULL);
                continue;
            }
            /* a fresh bdseq for every CONNECT the broker may have seen */
            if (bdseq_used) {
                if (!bdseq_next(a, err, sizeof err)) {
                    logf_("%s", err);
                    next_try = fleet_mono_ms() + 2000;
                    continue;
                }
                json_t *will = death_json(a);
                char *ws = json_dumps(will, JSON_COMPACT);
                json_decref(will);
                mosquitto_will_set(a->m, a->t_death, (int)strlen(ws), ws, 1, true);
                free(ws);
                bdseq_used = 0;
            }
            int rc = mosquitto_connect(a->m, c->broker.host, c->broker.port, c->broker.keepalive_s);
            if (rc != MOSQ_ERR_SUCCESS) {
                pthread_mutex_lock(&a->mu);
                int64_t b = a->backoff_ms;
                a->backoff_ms = b * 2 > 2000 ? 2000 : b * 2;
                pthread_mutex_unlock(&a->mu);
                if (!logged_down)
                    logf_("broker %s:%d unreachable (%s); retrying every %.2f..2 s", c->broker.host, c->broker.port,
                          rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc), (double)b / 1000);
                logged_down = 1;
                next_try = fleet_mono_ms() + b;
                /* a refused attempt still built a TLS context (CA file,
                 * X.509 parsing: 3-4 MB of libcrypto pages measured) */
                trim_file_pages();
                continue;
            }
            bdseq_used = 1;
            session = 1;
            logged_down = 0;
        }
        int rc = mosquitto_loop(a->m, 100, 1);
        if (rc != MOSQ_ERR_SUCCESS && !g_stop) {
            session = 0;
            pthread_mutex_lock(&a->mu);
            a->connected = 0;
            int64_t b = a->backoff_ms;
            a->backoff_ms = b * 2 > 2000 ? 2000 : b * 2;
            pthread_mutex_unlock(&a->mu);
            next_try = fleet_mono_ms() + b;
            trim_file_pages(); /* a session that broke before CONNACK: as above */
        }
    }
    /* clean exit: the death, by hand (a DISCONNECT discards the will) */
    pthread_mutex_lock(&a->mu);
    int conn = a->connected;
    pid_t ch = a->child;
    pthread_mutex_unlock(&a->mu);
    if (ch > 0) kill(ch, SIGKILL);
    if (conn) {
        int mid = 0;
        json_t *dj = death_json(a);
        int rc = fleet_json_publish(a->m, a->t_death, dj, 1, 1, &mid);
        json_decref(dj);
        pthread_mutex_lock(&a->mu);
        a->death_mid = mid;
        pthread_mutex_unlock(&a->mu);
        int64_t until = fleet_mono_ms() + 2000;
        for (;;) {
            pthread_mutex_lock(&a->mu);
            int acked = a->death_acked;
            pthread_mutex_unlock(&a->mu);
            if (acked || rc != MOSQ_ERR_SUCCESS || fleet_mono_ms() > until) break;
            if (mosquitto_loop(a->m, 50, 1) != MOSQ_ERR_SUCCESS) break;
        }
        mosquitto_disconnect(a->m);
        mosquitto_loop(a->m, 50, 1);
        logf_("stopped (death published, bdseq %lld)", a->bdseq);
    }
    pthread_join(hb, NULL);
    pthread_join(dep, NULL);
    mosquitto_destroy(a->m);
    mosquitto_lib_cleanup();
    json_decref(a->store);
    json_decref(a->deployment);
    free(a->pending);
    free(a->last_key);
    return 0;
}

/* ------------------------------------------------------------ options -- */

int fleet_agent_parse(int argc, char **argv, fleet_agent_config *c, char *err, size_t cap) {
    memset(c, 0, sizeof *c);
    c->heartbeat_ms = 1000;
    c->broker.keepalive_s = 5;
    const char *url = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        static const char *const with_value[] = {
            "--broker", "--id",   "--group", "--store",  "--serve-repo",   "--serve-url",    "--admin-token",
            "--trust",  "--key",  "--revoked", "--ca",   "--cert", "--cert-key",         "--user",         "--password-file",
            "--heartbeat-ms", "--keepalive-s", "--haproxy-server", "--nnedge", NULL};
        int known = 0;
        for (int k = 0; with_value[k]; k++) known |= !strcmp(o, with_value[k]);
        if (!known) {
            snprintf(err, cap, "agent: unknown option %s", o);
            return 0;
        }
        if (i + 1 >= argc || (argv[i + 1][0] == '-' && argv[i + 1][1] == '-')) {
            snprintf(err, cap, "agent: option %s needs a value", o);
            return 0;
        }
        const char *v = argv[++i];
        if (!strcmp(o, "--broker")) url = v;
        else if (!strcmp(o, "--id")) c->id = v;
        else if (!strcmp(o, "--group")) c->group = v;
        else if (!strcmp(o, "--store")) c->store = v;
        else if (!strcmp(o, "--serve-repo")) c->serve_repo = v;
        else if (!strcmp(o, "--serve-url")) c->serve_url = v;
        else if (!strcmp(o, "--admin-token")) c->admin_token_file = v;
        else if (!strcmp(o, "--trust")) c->trust = v;
        else if (!strcmp(o, "--key")) c->key = v;
        else if (!strcmp(o, "--revoked")) c->revoked = v;
        else if (!strcmp(o, "--ca")) c->broker.ca = v;
        else if (!strcmp(o, "--cert")) c->broker.cert = v;
        else if (!strcmp(o, "--cert-key")) c->broker.key = v;
        else if (!strcmp(o, "--user")) c->broker.user = v;
        else if (!strcmp(o, "--password-file")) c->broker.password_file = v;
        else if (!strcmp(o, "--haproxy-server")) c->haproxy_server = v;
        else if (!strcmp(o, "--nnedge")) c->nnedge = v;
        else {
            char *e;
            long n = strtol(v, &e, 10);
            int hb = !strcmp(o, "--heartbeat-ms");
            long lo = hb ? 100 : 5, hi = hb ? 600000 : 3600; /* libmosquitto: keepalive >= 5 */
            if (e == v || *e || n < lo || n > hi) {
                snprintf(err, cap, "agent: %s %s: expected an integer %ld..%ld", o, v, lo, hi);
                return 0;
            }
            if (hb) c->heartbeat_ms = (int)n;
            else c->broker.keepalive_s = (int)n;
        }
    }
    const char *missing = !url ? "--broker URL" : !c->id ? "--id NODE" : !c->store ? "--store DIR"
                          : !c->serve_repo ? "--serve-repo DIR" : !c->serve_url ? "--serve-url URL"
                          : !c->trust ? "--trust ROOT.pub" : NULL;
    if (missing) {
        snprintf(err, cap, "agent: %s is required", missing);
        return 0;
    }
    if (!fleet_id_ok(c->id)) {
        snprintf(err, cap, "agent: --id %s: a node id is 1..64 of [A-Za-z0-9_-]", c->id);
        return 0;
    }
    if (c->haproxy_server && !fleet_id_ok(c->haproxy_server)) {
        snprintf(err, cap, "agent: --haproxy-server %s: 1..64 of [A-Za-z0-9_-]", c->haproxy_server);
        return 0;
    }
    if (c->group && (!c->group[0] || strlen(c->group) > 64)) {
        snprintf(err, cap, "agent: --group must be 1..64 bytes");
        return 0;
    }
    if (strlen(c->store) > 4000 || strlen(c->serve_repo) > 4000) {
        snprintf(err, cap, "agent: --store / --serve-repo path too long");
        return 0;
    }
    if (!fleet_broker_parse_url(url, &c->broker, err, cap)) return 0;
    if (!c->broker.cert != !c->broker.key) {
        snprintf(err, cap, "agent: --cert and --cert-key go together");
        return 0;
    }
    if (c->broker.password_file && !c->broker.user) c->broker.user = c->id;
    fleet_httpc h;
    if (!fleet_httpc_parse(c->serve_url, &h, err, cap)) return 0;
    return 1;
}
