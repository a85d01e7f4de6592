/*
 * controller.c - `nnedge fleet run`, the fleet controller (docs/fleet.md §6).
 *
 * One thread owns all state: libmosquitto's callbacks run inside
 * mosquitto_loop() in the main loop, between timer ticks. The package server
 * (pkgserve.c) has its own thread and touches none of it.
 *
 *   node registry   births (full state), deaths (counted only when their
 *                   bdseq is the latest birth's), heartbeats; OFFLINE by death
 *                   or after --offline-after-ms without a heartbeat; a
 *                   heartbeat of the same session brings a node that timed
 *                   out back ONLINE
 *   HAProxy         per node a wanted state (drain while it activates a model,
 *                   maint while its live agent reports the server down, else
 *                   ready: an OFFLINE agent says nothing about its server,
 *                   HAProxy's checks judge it) and weight (lowered while
 *                   overloaded); never the last ready server(s) out; sent
 *                   when it changes, retried after errors, re-sent every 10 s
 *   deployments     canary (ONLINE nodes) -> rolling -> done | aborted; every
 *                   node of the group is a target, OFFLINE ones get their
 *                   desired state retained and apply it on reconnection;
 *                   desired states
 *                   retained on nnedge/cmd/<id>; rollback of upgraded nodes on
 *                   abort; per-node timeouts; all of it saved in --state FILE
 *                   (tmp + fsync + rename) and reloaded at start
 *   status/events   retained status every --status-ms and on each change;
 *                   one event per change, also printed on stdout
 *
 * Every incoming payload is untrusted: size-capped, parsed by jansson, each
 * field checked for type and range; a bad message is ignored with a line
 * on stderr (rate-limited).
 */
#include "fleet/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <mosquitto.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_NODES 4096
#define MAX_DEPLOYMENTS 64 /* kept in status and state; the oldest finished ones go first */
#define MAX_PAYLOAD 65536
#define HAP_RESYNC_MS 10000
#define OVERLOAD_RECOVER_MS 2000

typedef struct pkgref {
    int set;
    char name[129];
    char version[65];
    int64_t counter;
} pkgref;

typedef struct node {
    char id[65];
    int born;             /* a birth was seen */
    char group[65];
    char hap_server[65];
    char serve_url[256];
    int64_t bdseq;
    int has_death;
    int64_t death_bdseq;
    int online, by_death;
    int64_t seen_mono, seen_ms;
    int serve_up;         /* 1 up, 0 down, -1 unknown */
    pkgref current;
    int has_load;
    double load1, p50, p99; /* NAN: null */
    int64_t cpus, inflight, queue, requests, errors, agent_rss_kb, serve_rss_kb;
    int activating;
    int overloaded;
    int64_t ok_since_mono;
    const char *hap_have;  /* NULL: not set yet */
    const char *hap_want;  /* this tick's wanted state */
    int hap_held, hap_was_held; /* kept ready as the last ready server (one event) */
    int weight_have;
    int64_t hap_next_mono; /* next try / resync */
    char hap_err[256];
} node;

enum { DN_PENDING, DN_SENT, DN_WORKING, DN_APPLIED, DN_FAILED, DN_TIMEOUT, DN_RETRACTED };
static const char *const k_dn_names[] = {"pending", "sent", "working", "applied", "failed", "timeout", "retracted"};
enum { RB_NONE, RB_SENT, RB_APPLIED, RB_FAILED, RB_IMPOSSIBLE };
static const char *const k_rb_names[] = {"none", "sent", "applied", "failed", "impossible"};
enum { DEP_CANARY, DEP_ROLLING, DEP_DONE, DEP_ABORTED };
static const char *const k_dep_names[] = {"canary", "rolling", "done", "aborted"};

typedef struct dnode {
    char id[65];
    int state;          /* DN_* */
    char step[24];      /* the agent's last reported state */
    char reason[256];
    int64_t deadline_ms;
    pkgref before;      /* the node's model when the install was sent */
    int rb;             /* RB_* */
    int canary;         /* picked as a canary (among the ONLINE nodes) */
    int nidx;           /* cached index in ctl.nodes + 1 (0: not looked up) */
} dnode;

typedef struct deployment {
    char id[32];
    char group[65];
    pkgref pkg;
    char file[256];     /* below --packages */
    uint64_t bytes;
    char blake[65];
    int has_check;
    char data[256], labels[256];
    double min_top1, max_p50_ms; /* < 0: not given */
    int canary, rate;
    double abort_threshold;
    int64_t timeout_s;
    int state;
    char reason[256];
    int64_t created_ms;
    int n;
    dnode *nodes;
} deployment;

typedef struct desired {
    char id[65];
    char *payload;
} desired;

typedef struct ctl {
    const ctl_options *o;
    struct mosquitto *m;
    char public_url[256];
    int connected;
    int64_t lost_ms;      /* wall clock when the broker was lost (0: never or connected) */
    node *nodes;
    int n_nodes;
    deployment *deps;
    int n_deps;
    int64_t next_dep;
    desired *want;
    int n_want;
    int status_dirty, state_dirty;
    int64_t status_next_mono;
    int64_t warn_sec;
    int warn_count;
    int silent;           /* fuzzing: no warnings */
    int64_t hap_down_until; /* mono ms: HAProxy's socket failed, wait */
    char hap_err[256];    /* the last socket error (one event per new one) */
} ctl;

static volatile sig_atomic_t g_stop;
static void on_signal(int s) {
    (void)s;
    g_stop = 1;
}

/* ---------------------------------------------------------------- log -- */
static void warnf(ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void warnf(ctl *c, const char *fmt, ...) {
    int64_t sec = fleet_mono_ms() / 1000;
    if (sec != c->warn_sec) {
        c->warn_sec = sec;
        c->warn_count = 0;
    }
    if (++c->warn_count > 20 || c->silent) return; /* a flood of bad messages must not flood the log */
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (char *p = buf; *p; p++)
        if ((unsigned char)*p < 0x20) *p = '?';
    fprintf(stderr, "nnedge fleet: %s\n", buf);
}

/* Set a string field. Text cut by snprintf can end in half a UTF-8
 * sequence, which jansson refuses: then bytes >= 0x80 become '?'. */
static void set_str(json_t *o, const char *k, const char *v) {
    json_t *x = v ? json_string(v) : json_null();
    if (!x) {
        char *t = strdup(v);
        if (t) {
            for (char *p = t; *p; p++)
                if ((unsigned char)*p >= 0x80) *p = '?';
            x = json_string(t);
            free(t);
        }
    }
    json_object_set_new(o, k, x ? x : json_null());
}

/* An event: published on nnedge/fleet/event and printed as a timeline line. */
static void event(ctl *c, const char *kind, const char *nodeid, const char *dep, const char *extra_key,
                  const char *extra_val, const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static void event(ctl *c, const char *kind, const char *nodeid, const char *dep, const char *extra_key,
                  const char *extra_val, const char *fmt, ...) {
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    int64_t now = fleet_now_ms();
    json_t *e = json_object();
    json_object_set_new(e, "v", json_integer(1));
    json_object_set_new(e, "time_ms", json_integer(now));
    set_str(e, "kind", kind);
    if (nodeid) set_str(e, "node", nodeid);
    if (dep) set_str(e, "deployment", dep);
    if (extra_key) set_str(e, extra_key, extra_val);
    set_str(e, "text", text);
    char *s = json_dumps(e, JSON_COMPACT);
    json_decref(e);
    if (s) {
        if (c->connected) mosquitto_publish(c->m, NULL, "nnedge/fleet/event", (int)strlen(s), s, 1, false);
        free(s);
    }
    if (!c->o->quiet) {
        time_t t = (time_t)(now / 1000);
        struct tm tm;
        gmtime_r(&t, &tm);
        for (char *p = text; *p; p++) /* reasons come from agents: no terminal escapes */
            if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';
        printf("%02d:%02d:%02d.%03d %-10s %s\n", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(now % 1000), kind, text);
        fflush(stdout);
    }
    c->status_dirty = 1;
}

/* -------------------------------------------------------------- nodes -- */
static node *node_find(ctl *c, const char *id) {
    for (int i = 0; i < c->n_nodes; i++)
        if (strcmp(c->nodes[i].id, id) == 0) return &c->nodes[i];
    return NULL;
}

static node *node_get(ctl *c, const char *id) {
    node *n = node_find(c, id);
    if (n) return n;
    if (c->n_nodes >= MAX_NODES) {
        warnf(c, "more than %d nodes: node %s ignored", MAX_NODES, id);
        return NULL;
    }
    if (c->n_nodes % 64 == 0) {
        node *nn = realloc(c->nodes, (size_t)(c->n_nodes + 64) * sizeof *nn);
        if (!nn) return NULL;
        c->nodes = nn;
    }
    n = &c->nodes[c->n_nodes++];
    memset(n, 0, sizeof *n);
    snprintf(n->id, sizeof n->id, "%s", id);
    n->serve_up = -1;
    n->p50 = n->p99 = NAN;
    return n;
}

static void node_offline(ctl *c, node *n, int by_death, const char *why) {
    if (!n->online) {
        if (by_death) n->by_death = 1;
        return;
    }
    n->online = 0;
    n->by_death = by_death;
    event(c, "offline", n->id, NULL, NULL, NULL, "%s OFFLINE (%s)", n->id, why);
}

static void node_online(ctl *c, node *n, const char *why) {
    if (n->online) return;
    n->online = 1;
    n->by_death = 0;
    event(c, "online", n->id, NULL, NULL, NULL, "%s ONLINE (%s)", n->id, why);
}

/* Read a store entry ({"name","version","counter"} or null). -1 on a bad one. */
static int read_pkgref(const json_t *o, pkgref *r) {
    memset(r, 0, sizeof *r);
    if (!o || json_is_null(o)) return 0;
    if (!json_is_object(o)) return -1;
    const char *name = NULL, *ver = NULL;
    int64_t counter = 0;
    if (ctl_json_str(o, "name", 128, &name) != 1 || ctl_json_str(o, "version", 64, &ver) != 1 ||
        ctl_json_int(o, "counter", 0, INT64_MAX, &counter) != 1)
        return -1;
    snprintf(r->name, sizeof r->name, "%s", name);
    snprintf(r->version, sizeof r->version, "%s", ver);
    r->counter = counter;
    r->set = 1;
    return 1;
}

static json_t *pkgref_json(const pkgref *r) {
    if (!r->set) return json_null();
    json_t *o = json_object();
    set_str(o, "name", r->name);
    set_str(o, "version", r->version);
    json_object_set_new(o, "counter", json_integer(r->counter));
    return o;
}

#define BAD(...)                                                                                                   \
    do {                                                                                                           \
        warnf(c, __VA_ARGS__);                                                                                     \
        return;                                                                                                    \
    } while (0)

static void on_birth(ctl *c, const char *id, const json_t *j, int retained) {
    int64_t bdseq;
    const char *s = NULL, *group = "", *hap = id, *url = "";
    if (ctl_json_int(j, "bdseq", 0, INT64_MAX, &bdseq) != 1) BAD("birth of %s: bdseq must be an integer >= 0", id);
    if (ctl_json_str(j, "group", 64, &group) < 0 || (group[0] && !ctl_name_ok(group)))
        BAD("birth of %s: bad group", id);
    if (ctl_json_str(j, "haproxy_server", 64, &hap) < 0 || !ctl_name_ok(hap))
        BAD("birth of %s: bad haproxy_server (expected [A-Za-z0-9_.:-]{1,64})", id);
    if (ctl_json_str(j, "serve_url", 255, &url) < 0) BAD("birth of %s: bad serve_url", id);
    int serve = -1;
    int r = ctl_json_str(j, "serve", 8, &s);
    if (r < 0 || (r == 1 && strcmp(s, "up") && strcmp(s, "down"))) BAD("birth of %s: serve must be up or down", id);
    if (r == 1) serve = strcmp(s, "up") == 0;
    pkgref cur = {0};
    json_t *store = json_object_get(j, "store");
    if (store && !json_is_null(store)) {
        if (!json_is_object(store)) BAD("birth of %s: store must be an object", id);
        if (read_pkgref(json_object_get(store, "current"), &cur) < 0) BAD("birth of %s: bad store.current", id);
        pkgref prev;
        if (read_pkgref(json_object_get(store, "previous"), &prev) < 0) BAD("birth of %s: bad store.previous", id);
    }
    int activating = 0;
    json_t *dep = json_object_get(j, "deployment");
    if (dep && !json_is_null(dep)) {
        const char *st = NULL;
        if (!json_is_object(dep) || ctl_json_str(dep, "state", 32, &st) < 0) BAD("birth of %s: bad deployment", id);
        activating = st && strcmp(st, "activating") == 0;
    }
    node *n = node_get(c, id);
    if (!n) return;
    int changed_group = n->born && strcmp(n->group, group) != 0;
    n->born = 1;
    n->bdseq = bdseq;
    snprintf(n->group, sizeof n->group, "%s", group);
    if (strcmp(n->hap_server, hap) != 0) {
        snprintf(n->hap_server, sizeof n->hap_server, "%s", hap);
        n->hap_have = NULL; /* a new server name: set it from scratch */
    }
    snprintf(n->serve_url, sizeof n->serve_url, "%s", url);
    n->serve_up = serve;
    n->current = cur;
    n->activating = activating;
    n->seen_mono = fleet_mono_ms();
    n->seen_ms = fleet_now_ms();
    if (changed_group) event(c, "node", id, NULL, NULL, NULL, "%s moved to group %s", id, group);
    if (retained && n->has_death && n->death_bdseq == bdseq) {
        /* the retained birth of a session whose (retained) death came first */
        node_offline(c, n, 1, "its death has the birth's bdseq");
        return;
    }
    /* a live birth is a new session whatever its number (a store wiped and
     * its counter restarted): the old death no longer counts */
    if (!retained) n->has_death = 0;
    n->by_death = 0;
    node_online(c, n, "birth");
    c->status_dirty = 1;
}

static void on_death(ctl *c, const char *id, const json_t *j) {
    int64_t bdseq;
    if (ctl_json_int(j, "bdseq", 0, INT64_MAX, &bdseq) != 1) BAD("death of %s: bdseq must be an integer >= 0", id);
    node *n = node_get(c, id);
    if (!n) return;
    n->has_death = 1;
    n->death_bdseq = bdseq;
    if (!n->born) return;
    if (bdseq != n->bdseq) {
        if (n->online)
            event(c, "stale", id, NULL, NULL, NULL, "%s: death of session %lld ignored (the birth is session %lld)", id,
                  (long long)bdseq, (long long)n->bdseq);
        return;
    }
    node_offline(c, n, 1, "death");
}

static void on_data(ctl *c, const char *id, const json_t *j) {
    int64_t bdseq;
    if (ctl_json_int(j, "bdseq", 0, INT64_MAX, &bdseq) != 1) BAD("heartbeat of %s: bdseq must be an integer", id);
    node *n = node_find(c, id);
    if (!n || !n->born || bdseq != n->bdseq) return; /* not the session we know: wait for its birth */
    const char *s = NULL;
    int r = ctl_json_str(j, "serve", 8, &s);
    if (r < 0 || (r == 1 && strcmp(s, "up") && strcmp(s, "down"))) BAD("heartbeat of %s: serve must be up or down", id);
    double load1 = 0, p50 = NAN, p99 = NAN;
    int64_t v[7] = {0};
    static const char *const keys[7] = {"cpus", "inflight", "queue", "requests", "errors", "agent_rss_kb", "serve_rss_kb"};
    if (ctl_json_num(j, "load1", 0, 1e9, &load1) < 0) BAD("heartbeat of %s: bad load1", id);
    for (int i = 0; i < 7; i++)
        if (ctl_json_int(j, keys[i], 0, INT64_MAX, &v[i]) < 0) BAD("heartbeat of %s: bad %s", id, keys[i]);
    json_t *lat = json_object_get(j, "latency_ms");
    if (lat && !json_is_null(lat)) {
        if (!json_is_object(lat) || ctl_json_num(lat, "p50", 0, 1e12, &p50) < 0 ||
            ctl_json_num(lat, "p99", 0, 1e12, &p99) < 0)
            BAD("heartbeat of %s: bad latency_ms", id);
    }
    if (n->by_death) return; /* that session is over */
    n->seen_mono = fleet_mono_ms();
    n->seen_ms = fleet_now_ms();
    if (r == 1) {
        int up = strcmp(s, "up") == 0;
        if (up != n->serve_up) {
            n->serve_up = up;
            event(c, "serve", id, NULL, NULL, NULL, "%s: server %s", id, up ? "up" : "down");
        }
    }
    n->has_load = 1;
    n->load1 = load1;
    n->p50 = p50;
    n->p99 = p99;
    n->cpus = v[0];
    n->inflight = v[1];
    n->queue = v[2];
    n->requests = v[3];
    n->errors = v[4];
    n->agent_rss_kb = v[5];
    n->serve_rss_kb = v[6];
    int over = (c->o->overload_queue > 0 && n->queue > c->o->overload_queue) ||
               (c->o->overload_p99_ms > 0 && !isnan(p99) && p99 > c->o->overload_p99_ms);
    if (over) {
        n->ok_since_mono = 0;
        if (!n->overloaded) {
            n->overloaded = 1;
            event(c, "overload", id, NULL, NULL, NULL, "%s overloaded (queue %lld, p99 %.2f ms)", id,
                  (long long)n->queue, isnan(p99) ? 0.0 : p99);
        }
    } else if (n->overloaded) {
        if (!n->ok_since_mono) n->ok_since_mono = n->seen_mono;
        if (n->seen_mono - n->ok_since_mono >= OVERLOAD_RECOVER_MS) {
            n->overloaded = 0;
            event(c, "overload", id, NULL, NULL, NULL, "%s recovered from overload", id);
        }
    }
    node_online(c, n, "heartbeat after a timeout");
}

/* -------------------------------------------------------- deployments -- */
static deployment *dep_find(ctl *c, const char *id) {
    for (int i = 0; i < c->n_deps; i++)
        if (strcmp(c->deps[i].id, id) == 0) return &c->deps[i];
    return NULL;
}

static dnode *dep_node(deployment *d, const char *id) {
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->nodes[i].id, id) == 0) return &d->nodes[i];
    return NULL;
}

static int dep_active(const deployment *d) { return d->state == DEP_CANARY || d->state == DEP_ROLLING; }

/* The registry entry of a deployment's node (nodes are never removed, so
 * an index stays valid; checked by id all the same). */
static node *dn_node(ctl *c, dnode *dn) {
    if (dn->nidx > 0 && dn->nidx <= c->n_nodes && strcmp(c->nodes[dn->nidx - 1].id, dn->id) == 0)
        return &c->nodes[dn->nidx - 1];
    node *n = node_find(c, dn->id);
    dn->nidx = n ? (int)(n - c->nodes) + 1 : 0;
    return n;
}

static int dn_online(ctl *c, dnode *dn) {
    const node *n = dn_node(c, dn);
    return n && n->born && n->online;
}

/* Sent to a node that is OFFLINE: its desired state waits, retained, for
 * its reconnection; it holds no --rate slot and its clock has not started. */
static int dn_parked(ctl *c, dnode *dn) {
    return (dn->state == DN_SENT || dn->state == DN_WORKING) && !dn_online(c, dn);
}

static void publish_desired(ctl *c, const desired *w) {
    if (!c->connected) return;
    char topic[128];
    snprintf(topic, sizeof topic, "nnedge/cmd/%s", w->id);
    /* an empty payload clears the retained desired state (a retracted one) */
    int rc = mosquitto_publish(c->m, NULL, topic, (int)strlen(w->payload), w->payload, 1, true);
    if (rc != MOSQ_ERR_SUCCESS) warnf(c, "publish %s: %s", topic, mosquitto_strerror(rc));
}

/* Set (and publish) a node's desired state; takes the json object. */
static void set_desired(ctl *c, const char *id, json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT) : strdup("");
    json_decref(o);
    if (!s) return;
    desired *w = NULL;
    for (int i = 0; i < c->n_want; i++)
        if (strcmp(c->want[i].id, id) == 0) w = &c->want[i];
    if (!w) {
        desired *nw = realloc(c->want, (size_t)(c->n_want + 1) * sizeof *nw);
        if (!nw) {
            free(s);
            return;
        }
        c->want = nw;
        w = &c->want[c->n_want++];
        snprintf(w->id, sizeof w->id, "%s", id);
        w->payload = NULL;
    }
    free(w->payload);
    w->payload = s;
    publish_desired(c, w);
    c->state_dirty = 1;
}

static void send_install(ctl *c, deployment *d, dnode *dn) {
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(1));
    set_str(o, "deployment", d->id);
    set_str(o, "action", "install");
    json_t *p = pkgref_json(&d->pkg);
    char url[600];
    snprintf(url, sizeof url, "%s/%s", c->public_url, d->file);
    set_str(p, "url", url);
    json_object_set_new(p, "bytes", json_integer((json_int_t)d->bytes));
    set_str(p, "blake2b", d->blake);
    json_object_set_new(o, "package", p);
    if (d->has_check) {
        json_t *k = json_object();
        snprintf(url, sizeof url, "%s/%s", c->public_url, d->data);
        set_str(k, "data_url", url);
        snprintf(url, sizeof url, "%s/%s", c->public_url, d->labels);
        set_str(k, "labels_url", url);
        if (d->min_top1 >= 0) json_object_set_new(k, "min_top1", json_real(d->min_top1));
        if (d->max_p50_ms >= 0) json_object_set_new(k, "max_p50_ms", json_real(d->max_p50_ms));
        json_object_set_new(o, "check", k);
    }
    node *n = node_find(c, dn->id);
    dn->before = n ? n->current : (pkgref){0};
    dn->state = DN_SENT;
    dn->deadline_ms = fleet_now_ms() + d->timeout_s * 1000;
    set_desired(c, dn->id, o);
    event(c, "deploy", dn->id, d->id, NULL, NULL, "%s: install %s %s (counter %lld) sent to %s", d->id, d->pkg.name,
          d->pkg.version, (long long)d->pkg.counter, dn->id);
}

static void send_rollback(ctl *c, deployment *d, dnode *dn) {
    if (dn->rb != RB_NONE) return;
    if (!dn->before.set) {
        dn->rb = RB_IMPOSSIBLE;
        event(c, "rollback", dn->id, d->id, NULL, NULL, "%s: cannot roll back %s: it had no model before", d->id,
              dn->id);
        return;
    }
    json_t *o = json_object();
    json_object_set_new(o, "v", json_integer(1));
    char rid[64];
    snprintf(rid, sizeof rid, "%s-rollback", d->id);
    set_str(o, "deployment", rid);
    set_str(o, "action", "rollback");
    json_object_set_new(o, "package", pkgref_json(&dn->before));
    dn->rb = RB_SENT;
    set_desired(c, dn->id, o);
    event(c, "rollback", dn->id, d->id, NULL, NULL, "%s: rollback of %s to %s %s (counter %lld) sent", d->id, dn->id,
          dn->before.name, dn->before.version, (long long)dn->before.counter);
}

static void dep_abort(ctl *c, deployment *d, const char *reason) {
    if (!dep_active(d)) return;
    d->state = DEP_ABORTED;
    snprintf(d->reason, sizeof d->reason, "%s", reason);
    c->state_dirty = 1;
    event(c, "aborted", NULL, d->id, NULL, NULL, "%s aborted: %s", d->id, reason);
    for (int i = 0; i < d->n; i++) {
        dnode *dn = &d->nodes[i];
        if (dn->state == DN_APPLIED) send_rollback(c, d, dn);
        else if (dn->state == DN_SENT || dn->state == DN_WORKING) {
            /* never applied: its desired state goes (an OFFLINE node must
             * not install it when it comes back); one still at work
             * reports applied later and gets its rollback then */
            set_desired(c, dn->id, NULL);
            dn->state = DN_RETRACTED;
            event(c, "retract", dn->id, d->id, NULL, NULL, "%s: desired state of %s retracted (it had not applied it)",
                  d->id, dn->id);
        }
    }
}

static int is_failure(int st) { return st == DN_FAILED || st == DN_TIMEOUT; }

/* Move a deployment on: timeouts, canary verdict, failures against the
 * threshold, the next nodes at --rate, the end.
 *
 * Every node of the group is a target. Canaries are picked among the ONLINE
 * ones (in id order; the deployment waits while there is none). After the
 * canaries, an OFFLINE target gets its install right away (retained: it
 * applies it when it reconnects) and holds no --rate slot; its --timeout-s
 * counts from when it is ONLINE. The deployment ends (done) when every
 * ONLINE target is final; OFFLINE ones stay "pending" and their reports
 * still count when they come. */
static void dep_advance(ctl *c, deployment *d) {
    int64_t now = fleet_now_ms();
    for (int i = 0; i < d->n; i++) {
        dnode *dn = &d->nodes[i];
        if (dn_parked(c, dn)) {
            dn->deadline_ms = now + d->timeout_s * 1000;
            continue;
        }
        if ((dn->state == DN_SENT || dn->state == DN_WORKING) && now > dn->deadline_ms) {
            dn->state = DN_TIMEOUT;
            snprintf(dn->reason, sizeof dn->reason, "no final report in %lld s", (long long)d->timeout_s);
            c->state_dirty = 1;
            event(c, "timeout", dn->id, d->id, NULL, NULL, "%s: %s did not finish in %lld s", d->id, dn->id,
                  (long long)d->timeout_s);
        }
    }
    if (!dep_active(d)) return;
    int ncanary = d->canary < d->n ? d->canary : d->n;
    if (d->state == DEP_CANARY) {
        int applied = 0, picked = 0;
        for (int i = 0; i < d->n; i++) {
            dnode *dn = &d->nodes[i];
            if (!dn->canary) continue;
            picked++;
            if (is_failure(dn->state)) {
                char why[400];
                snprintf(why, sizeof why, "canary %s %s%s%s", dn->id, k_dn_names[dn->state], dn->reason[0] ? ": " : "",
                         dn->reason);
                dep_abort(c, d, why);
                return;
            }
            if (dn->state == DN_APPLIED) applied++;
        }
        for (int i = 0; i < d->n && picked < ncanary; i++) {
            dnode *dn = &d->nodes[i];
            if (dn->canary || dn->state != DN_PENDING || !dn_online(c, dn)) continue;
            dn->canary = 1;
            picked++;
            send_install(c, d, dn);
        }
        if (applied < ncanary) return;
        d->state = DEP_ROLLING;
        c->state_dirty = 1;
        event(c, "rolling", NULL, d->id, NULL, NULL, "%s: %d canary node(s) applied; rolling out to %d more, %d at a time",
              d->id, ncanary, d->n - ncanary, d->rate);
    }
    int failures = 0, inflight = 0, final = 0, parked = 0;
    for (int i = 0; i < d->n; i++) {
        dnode *dn = &d->nodes[i];
        int st = dn->state, park = dn_parked(c, dn);
        failures += is_failure(st);
        parked += park;
        inflight += !park && (st == DN_SENT || st == DN_WORKING);
        final += st == DN_APPLIED || is_failure(st) || park;
    }
    if ((double)failures > d->abort_threshold * (double)d->n) {
        char why[200];
        snprintf(why, sizeof why, "%d of %d nodes failed (more than --abort-threshold %g)", failures, d->n,
                 d->abort_threshold);
        dep_abort(c, d, why);
        return;
    }
    for (int i = 0; i < d->n; i++) {
        dnode *dn = &d->nodes[i];
        if (dn->state != DN_PENDING || dn->canary) continue;
        if (!dn_online(c, dn)) {
            send_install(c, d, dn); /* retained; applied on reconnection */
            parked++;
            final++;
        } else if (inflight < d->rate) {
            send_install(c, d, dn);
            inflight++;
        }
    }
    if (final == d->n) {
        d->state = DEP_DONE;
        char fail[64] = "", park[128] = "";
        if (failures) snprintf(fail, sizeof fail, "%d of %d nodes failed", failures, d->n);
        if (parked) snprintf(park, sizeof park, "%d node(s) OFFLINE: pending, they apply it when they reconnect", parked);
        snprintf(d->reason, sizeof d->reason, "%s%s%s", fail, failures && parked ? "; " : "", park);
        c->state_dirty = 1;
        event(c, "done", NULL, d->id, NULL, NULL, "%s done: %d of %d nodes applied %s %s%s%s", d->id,
              d->n - failures - parked, d->n, d->pkg.name, d->pkg.version, parked ? "; " : "", park);
    }
}

static void on_report(ctl *c, const char *id, const json_t *j) {
    const char *depid = NULL, *state = NULL, *reason = "";
    if (ctl_json_str(j, "deployment", 40, &depid) != 1) BAD("deploy report of %s: deployment must be a string", id);
    if (ctl_json_str(j, "state", 23, &state) != 1) BAD("deploy report of %s: state must be a string", id);
    if (ctl_json_str(j, "reason", 1000, &reason) < 0) BAD("deploy report of %s: reason must be a string", id);
    static const char *const steps[] = {"fetching", "installing", "checking", "activating", "applied", "failed",
                                        "rolled_back"};
    int step = -1;
    for (int i = 0; i < 7; i++)
        if (strcmp(state, steps[i]) == 0) step = i;
    if (step < 0) BAD("deploy report of %s: unknown state", id);
    node *n = node_find(c, id);
    if (n) {
        int act = step == 3;
        if (act != n->activating) {
            n->activating = act;
            c->status_dirty = 1;
        }
        /* A final report ends the activation: a "server down" heard while
         * the server restarted is stale now (the next heartbeat says what
         * holds; HAProxy's checks cover the second between). */
        if (step >= 4 && n->serve_up == 0) {
            n->serve_up = -1;
            c->status_dirty = 1;
        }
    }
    char base[41];
    snprintf(base, sizeof base, "%s", depid);
    size_t bl = strlen(base);
    int is_rb = bl > 9 && strcmp(base + bl - 9, "-rollback") == 0;
    if (is_rb) base[bl - 9] = 0;
    deployment *d = dep_find(c, base);
    dnode *dn = d ? dep_node(d, id) : NULL;
    if (!dn) return; /* not one of ours (an older controller's, or made up) */
    if (is_rb) {
        if (dn->rb != RB_SENT || step < 4) return;
        dn->rb = step == 4 ? RB_APPLIED : RB_FAILED;
        if (step == 4 && n) n->current = dn->before;
        c->state_dirty = 1;
        event(c, "rollback", id, d->id, NULL, NULL, "%s: %s rollback %s%s%s", d->id, id, state, reason[0] ? ": " : "",
              reason);
        return;
    }
    if ((dn->state == DN_TIMEOUT || dn->state == DN_RETRACTED) && step == 4) {
        /* applied after its deadline (it counted as a failure) or after
         * the abort retracted it (it had it already): it is upgraded, so an
         * aborted rollout must roll it back too */
        const char *after = dn->state == DN_TIMEOUT ? "timeout" : "retraction";
        dn->state = DN_APPLIED;
        if (n) n->current = d->pkg;
        c->state_dirty = 1;
        event(c, "applied", id, d->id, NULL, NULL, "%s: %s applied %s %s after its %s", d->id, id, d->pkg.name,
              d->pkg.version, after);
        if (d->state == DEP_ABORTED) send_rollback(c, d, dn);
        return;
    }
    if (dn->state != DN_SENT && dn->state != DN_WORKING) return; /* already final */
    snprintf(dn->step, sizeof dn->step, "%s", state);
    if (step < 4) {
        dn->state = DN_WORKING;
        event(c, "step", id, d->id, NULL, NULL, "%s: %s %s", d->id, id, state);
    } else if (step == 4) {
        dn->state = DN_APPLIED;
        if (n) n->current = d->pkg;
        event(c, "applied", id, d->id, NULL, NULL, "%s: %s applied %s %s", d->id, id, d->pkg.name, d->pkg.version);
        if (d->state == DEP_ABORTED) send_rollback(c, d, dn); /* finished after the abort */
    } else {
        dn->state = DN_FAILED;
        snprintf(dn->reason, sizeof dn->reason, "%s%s%s", state, reason[0] ? ": " : "", reason);
        event(c, "failed", id, d->id, NULL, NULL, "%s: %s %s%s%s", d->id, id, state, reason[0] ? ": " : "", reason);
    }
    c->state_dirty = 1;
    dep_advance(c, d);
}

/* Remove the oldest finished deployments beyond MAX_DEPLOYMENTS - 1. */
static int dep_make_room(ctl *c) {
    while (c->n_deps >= MAX_DEPLOYMENTS) {
        int k = -1;
        for (int i = 0; i < c->n_deps && k < 0; i++)
            if (!dep_active(&c->deps[i])) k = i;
        if (k < 0) return 0;
        free(c->deps[k].nodes);
        memmove(&c->deps[k], &c->deps[k + 1], (size_t)(c->n_deps - k - 1) * sizeof *c->deps);
        c->n_deps--;
    }
    if (c->n_deps % 8 == 0) {
        deployment *nd = realloc(c->deps, (size_t)(c->n_deps + 8) * sizeof *nd);
        if (!nd) return 0;
        c->deps = nd;
    }
    return 1;
}

static int node_cmp(const void *a, const void *b) { return strcmp(((const dnode *)a)->id, ((const dnode *)b)->id); }

/* A path below --packages as the request names it: components of
 * [A-Za-z0-9._-], none starting with '.', no symlink, a regular file. */
static int package_file_ok(ctl *c, const char *rel, char *full, size_t cap) {
    if (!rel[0] || strlen(rel) > 255) return 0;
    const char *p = rel;
    while (*p) {
        const char *slash = strchr(p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || p[0] == '.') return 0;
        for (size_t i = 0; i < n; i++) {
            char ch = p[i];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '.' ||
                  ch == '_' || ch == '-'))
                return 0;
        }
        snprintf(full, cap, "%s/%.*s", c->o->packages, (int)(p + n - rel), rel);
        struct stat st;
        if (lstat(full, &st) != 0 || S_ISLNK(st.st_mode)) return 0;
        if (!slash && !S_ISREG(st.st_mode)) return 0;
        p = slash ? slash + 1 : p + n;
    }
    return 1;
}

static void reject(ctl *c, const char *req, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reject(ctl *c, const char *req, const char *fmt, ...) {
    char text[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    event(c, "rejected", NULL, NULL, "request", req, "request %s rejected: %s", req, text);
}

#define REJECT(...)                                                                                                \
    do {                                                                                                           \
        reject(c, req, __VA_ARGS__);                                                                               \
        return;                                                                                                    \
    } while (0)

static void on_deploy_request(ctl *c, const char *req, const json_t *j) {
    const char *group = NULL, *file = NULL, *blake = NULL, *data = NULL, *labels = NULL;
    int64_t canary = 1, rate = 1, timeout_s = 300, bytes = 0;
    double thr = 0, min_top1 = -1, max_p50 = -1;
    if (ctl_json_str(j, "group", 64, &group) != 1 || !ctl_name_ok(group))
        REJECT("group must be a name [A-Za-z0-9_.:-]{1,64}");
    if (ctl_json_int(j, "canary", 1, 100000, &canary) < 0) REJECT("canary must be 1..100000");
    if (ctl_json_int(j, "rate", 1, 100000, &rate) < 0) REJECT("rate must be 1..100000");
    if (ctl_json_int(j, "timeout_s", 1, 86400 * 7, &timeout_s) < 0) REJECT("timeout_s must be 1..604800");
    if (ctl_json_num(j, "abort_threshold", 0, 1, &thr) < 0) REJECT("abort_threshold must be 0..1");
    json_t *p = json_object_get(j, "package");
    pkgref pr;
    if (!json_is_object(p) || read_pkgref(p, &pr) != 1) REJECT("package needs name, version, counter");
    if (ctl_json_str(p, "file", 255, &file) != 1) REJECT("package.file must be a path below --packages");
    if (ctl_json_int(p, "bytes", 1, INT64_MAX, &bytes) != 1) REJECT("package.bytes must be > 0");
    if (ctl_json_str(p, "blake2b", 64, &blake) != 1 || strlen(blake) != 64 || strspn(blake, "0123456789abcdef") != 64)
        REJECT("package.blake2b must be 64 lowercase hex digits");
    json_t *k = json_object_get(j, "check");
    int has_check = k && !json_is_null(k);
    if (has_check) {
        if (!json_is_object(k) || ctl_json_str(k, "data", 255, &data) != 1 || ctl_json_str(k, "labels", 255, &labels) != 1)
            REJECT("check needs data and labels (paths below --packages)");
        if (ctl_json_num(k, "min_top1", 0, 1, &min_top1) < 0) REJECT("check.min_top1 must be 0..1");
        if (ctl_json_num(k, "max_p50_ms", 0, 1e9, &max_p50) < 0) REJECT("check.max_p50_ms must be >= 0");
    }
    char full[600];
    if (!package_file_ok(c, file, full, sizeof full))
        REJECT("package.file %s is not a regular file below --packages", file);
    char hex[65];
    uint64_t size;
    if (!ctl_file_blake2b(full, hex, &size)) REJECT("cannot read %s", file);
    if (size != (uint64_t)bytes || strcmp(hex, blake) != 0)
        REJECT("%s does not match the request's bytes and blake2b (copied meanwhile?)", file);
    if (has_check && (!package_file_ok(c, data, full, sizeof full) || !package_file_ok(c, labels, full, sizeof full)))
        REJECT("check data or labels is not a regular file below --packages");
    for (int i = 0; i < c->n_deps; i++)
        if (dep_active(&c->deps[i]) && strcmp(c->deps[i].group, group) == 0)
            REJECT("deployment %s to group %s is still running (nnedge fleet abort %s)", c->deps[i].id,
                          group, c->deps[i].id);
    int n = 0, offline = 0;
    for (int i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].born && strcmp(c->nodes[i].group, group) == 0) {
            n++;
            offline += !c->nodes[i].online;
        }
    if (n == 0) REJECT("no node in group %s (none has sent a birth)", group);
    if (!dep_make_room(c)) REJECT("too many deployments still running");
    deployment *d = &c->deps[c->n_deps];
    memset(d, 0, sizeof *d);
    d->nodes = calloc((size_t)n, sizeof *d->nodes);
    if (!d->nodes) REJECT("out of memory");
    for (int i = 0; i < c->n_nodes; i++)
        if (c->nodes[i].born && strcmp(c->nodes[i].group, group) == 0)
            snprintf(d->nodes[d->n++].id, sizeof d->nodes[0].id, "%s", c->nodes[i].id);
    qsort(d->nodes, (size_t)d->n, sizeof *d->nodes, node_cmp);
    c->n_deps++;
    snprintf(d->id, sizeof d->id, "d-%lld", (long long)++c->next_dep);
    snprintf(d->group, sizeof d->group, "%s", group);
    d->pkg = pr;
    snprintf(d->file, sizeof d->file, "%s", file);
    d->bytes = size;
    snprintf(d->blake, sizeof d->blake, "%s", hex);
    d->has_check = has_check;
    if (has_check) {
        snprintf(d->data, sizeof d->data, "%s", data);
        snprintf(d->labels, sizeof d->labels, "%s", labels);
    }
    d->min_top1 = min_top1;
    d->max_p50_ms = max_p50;
    d->canary = (int)canary;
    d->rate = (int)rate;
    d->abort_threshold = thr;
    d->timeout_s = timeout_s;
    d->state = DEP_CANARY;
    d->created_ms = fleet_now_ms();
    c->state_dirty = 1;
    event(c, "accepted", NULL, d->id, "request", req,
          "%s: %s %s (counter %lld) to group %s: %d node(s) (%d OFFLINE%s), canary %d, rate %d, abort threshold %g",
          d->id, pr.name, pr.version, (long long)pr.counter, group, d->n, offline,
          offline == n ? ": waiting for one to come ONLINE as the canary" : "", d->canary, d->rate,
          d->abort_threshold);
    dep_advance(c, d);
}

static void on_request(ctl *c, const json_t *j) {
    const char *op = NULL, *req = NULL;
    if (ctl_json_str(j, "request", 64, &req) != 1 || !ctl_name_ok(req))
        BAD("request without a valid request id ([A-Za-z0-9_.:-]{1,64}) ignored");
    if (ctl_json_str(j, "op", 16, &op) != 1) REJECT("op must be deploy or abort");
    int64_t expires = 0;
    if (ctl_json_int(j, "expires_ms", 0, INT64_MAX, &expires) < 0) REJECT("expires_ms must be an integer");
    if (expires && expires < fleet_now_ms()) REJECT("expired before the controller saw it (it was down?)");
    if (strcmp(op, "deploy") == 0) {
        on_deploy_request(c, req, j);
        return;
    }
    if (strcmp(op, "abort") == 0) {
        const char *id = NULL;
        if (ctl_json_str(j, "deployment", 31, &id) != 1) REJECT("deployment must be a string");
        deployment *d = dep_find(c, id);
        if (!d) REJECT("no deployment %s", id);
        if (!dep_active(d)) REJECT("%s has already ended (%s)", id, k_dep_names[d->state]);
        event(c, "accepted", NULL, d->id, "request", req, "abort of %s requested", d->id);
        char why[128];
        snprintf(why, sizeof why, "aborted by the operator (request %s)", req);
        dep_abort(c, d, why);
        return;
    }
    reject(c, req, "op must be deploy or abort");
}

/* ------------------------------------------------------------ message -- */
/* One incoming message (topic, payload bytes): the whole untrusted surface. */
static void handle_message(ctl *c, const char *topic, const void *payload, int payloadlen, int retained) {
    if (!topic || payloadlen <= 0) return; /* a cleared retained message */
    if (payloadlen > MAX_PAYLOAD) {
        warnf(c, "%s: payload of %d bytes ignored (limit %d)", topic, payloadlen, MAX_PAYLOAD);
        return;
    }
    char id[65] = "";
    const char *kind = NULL;
    if (strncmp(topic, "nnedge/node/", 12) == 0) {
        const char *p = topic + 12, *slash = strchr(p, '/');
        if (!slash || slash - p > 64 || slash == p) return;
        memcpy(id, p, (size_t)(slash - p));
        id[slash - p] = 0;
        kind = slash + 1;
        if (!fleet_id_ok(id)) {
            warnf(c, "%s: bad node id ignored", topic);
            return;
        }
    } else if (strcmp(topic, "nnedge/fleet/request") != 0)
        return;
    json_error_t jerr;
    json_t *j = json_loadb(payload, (size_t)payloadlen, JSON_REJECT_DUPLICATES, &jerr);
    int64_t v = 0;
    if (!j || !json_is_object(j)) {
        warnf(c, "%s: not a JSON object (%s)", topic, j ? "other type" : jerr.text);
        json_decref(j);
        return;
    }
    if (ctl_json_int(j, "v", 1, 1, &v) != 1) {
        warnf(c, "%s: \"v\" must be 1", topic);
        json_decref(j);
        return;
    }
    if (kind) {
        const char *jid = NULL;
        if (ctl_json_str(j, "id", 64, &jid) != 1 || strcmp(jid, id) != 0) {
            warnf(c, "%s: \"id\" is not the topic's node id", topic);
        } else if (strcmp(kind, "birth") == 0) on_birth(c, id, j, retained);
        else if (strcmp(kind, "death") == 0) on_death(c, id, j);
        else if (strcmp(kind, "data") == 0) on_data(c, id, j);
        else if (strcmp(kind, "deploy") == 0) on_report(c, id, j);
    } else {
        on_request(c, j);
    }
    json_decref(j);
}

static void on_message(struct mosquitto *m, void *ud, const struct mosquitto_message *msg) {
    (void)m;
    handle_message(ud, msg->topic, msg->payload, msg->payloadlen, msg->retain);
}

static void on_connect(struct mosquitto *m, void *ud, int rc) {
    ctl *c = ud;
    if (rc != 0) {
        warnf(c, "broker refused the connection: %s", mosquitto_connack_string(rc));
        return;
    }
    c->connected = 1;
    /* Nothing was heard while the broker was away: every node gets a full
     * --offline-after-ms from now, and running deployments get their
     * deadlines moved by the outage (no agent could report meanwhile). */
    int64_t now = fleet_mono_ms(), wall = fleet_now_ms();
    for (int i = 0; i < c->n_nodes; i++) c->nodes[i].seen_mono = now;
    if (c->lost_ms) {
        for (int i = 0; i < c->n_deps; i++)
            for (int k = 0; k < c->deps[i].n; k++) {
                dnode *dn = &c->deps[i].nodes[k];
                if (dn->state == DN_SENT || dn->state == DN_WORKING) dn->deadline_ms += wall - c->lost_ms;
            }
        c->state_dirty = 1;
        c->lost_ms = 0;
    }
    static const char *const subs[] = {"nnedge/node/+/birth", "nnedge/node/+/death", "nnedge/node/+/data",
                                       "nnedge/node/+/deploy", "nnedge/fleet/request"};
    for (int i = 0; i < 5; i++) mosquitto_subscribe(m, NULL, subs[i], i == 2 ? 0 : 1);
    for (int i = 0; i < c->n_want; i++) publish_desired(c, &c->want[i]);
    event(c, "broker", NULL, NULL, NULL, NULL, "connected to the broker; %d desired state(s) republished", c->n_want);
}

static void on_disconnect(struct mosquitto *m, void *ud, int rc) {
    (void)m;
    ctl *c = ud;
    if (c->connected && !g_stop) warnf(c, "lost the broker (%s); reconnecting", rc ? "connection lost" : "disconnected");
    if (c->connected) c->lost_ms = fleet_now_ms();
    c->connected = 0;
}

/* ------------------------------------------------------------ haproxy -- */
static void haproxy_tick(ctl *c) {
    if (!c->o->haproxy) return;
    int64_t now = fleet_mono_ms(), t0 = now;
    if (now < c->hap_down_until) return;
    /* A hung HAProxy must not stall the message loop (nodes would look
     * silent): at most 250 ms of commands per tick, and a socket error
     * stops this round and waits a second. */
    /* What each server should be. An OFFLINE agent says nothing about its
     * server (the broker may be the one down): HAProxy's own checks decide
     * about it, so it stays ready. maint only while a live agent reports
     * its server down, drain while it activates a model. And never the
     * last ready server(s): when no server would be left ready, those that
     * are ready now (or never set: ready in haproxy.cfg) stay so. */
    int ready_after = 0;
    for (int i = 0; i < c->n_nodes; i++) {
        node *n = &c->nodes[i];
        n->hap_want = NULL;
        n->hap_was_held = n->hap_held;
        n->hap_held = 0;
        if (!n->born) continue;
        n->hap_want = !n->online ? "ready" : n->activating ? "drain" : n->serve_up == 0 ? "maint" : "ready";
        /* a server HAProxy refused commands for (unknown name?) is not known ready */
        ready_after += strcmp(n->hap_want, "ready") == 0 && !n->hap_err[0];
    }
    for (int i = 0; i < c->n_nodes && ready_after == 0; i++) {
        node *n = &c->nodes[i];
        if (n->hap_want && !n->hap_err[0] && (!n->hap_have || strcmp(n->hap_have, "ready") == 0)) {
            if (!n->hap_was_held)
                event(c, "haproxy", n->id, NULL, NULL, NULL, "%s/%s: kept ready instead of %s: no other server is ready",
                      c->o->backend, n->hap_server, n->hap_want);
            n->hap_held = 1;
            n->hap_want = "ready";
        }
    }
    for (int i = 0; i < c->n_nodes && fleet_mono_ms() - t0 < 250; i++) {
        node *n = &c->nodes[i];
        if (!n->born) continue;
        const char *want = n->hap_want;
        int weight = n->overloaded ? c->o->overload_weight_pct : 100;
        int changed = !n->hap_have || strcmp(n->hap_have, want) != 0 || n->weight_have != weight;
        if (!changed && now < n->hap_next_mono) continue;
        if (changed && n->hap_err[0] && now < n->hap_next_mono) continue; /* retry later */
        char err[256] = "";
        int sock_err = 0;
        int ok = hap_set_state(c->o->haproxy, c->o->backend, n->hap_server, want, err, sizeof err, &sock_err) &&
                 hap_set_weight_pct(c->o->haproxy, c->o->backend, n->hap_server, weight, err, sizeof err, &sock_err);
        if (sock_err) {
            if (strcmp(err, c->hap_err) != 0)
                event(c, "haproxy", NULL, NULL, NULL, NULL, "haproxy runtime API: %s; retrying every second", err);
            snprintf(c->hap_err, sizeof c->hap_err, "%s", err);
            c->hap_down_until = fleet_mono_ms() + 1000;
            return;
        }
        c->hap_err[0] = 0;
        if (!ok) {
            if (strcmp(err, n->hap_err) != 0)
                event(c, "haproxy", n->id, NULL, NULL, NULL, "%s: %s", n->id, err);
            snprintf(n->hap_err, sizeof n->hap_err, "%s", err);
            n->hap_next_mono = now + 2000;
            continue;
        }
        n->hap_err[0] = 0;
        n->hap_next_mono = now + HAP_RESYNC_MS;
        if (changed) {
            n->hap_have = want;
            n->weight_have = weight;
            event(c, "haproxy", n->id, NULL, NULL, NULL, "%s/%s: state %s, weight %d%%", c->o->backend, n->hap_server,
                  want, weight);
        }
    }
}

/* ------------------------------------------------------------- status -- */
static json_t *dep_json(ctl *c, const deployment *d, int full) {
    json_t *o = json_object();
    set_str(o, "id", d->id);
    set_str(o, "group", d->group);
    json_t *p = pkgref_json(&d->pkg);
    set_str(p, "file", d->file);
    json_object_set_new(p, "bytes", json_integer((json_int_t)d->bytes));
    set_str(p, "blake2b", d->blake);
    json_object_set_new(o, "package", p);
    set_str(o, "state", k_dep_names[d->state]);
    if (d->reason[0]) set_str(o, "reason", d->reason);
    json_object_set_new(o, "created_ms", json_integer(d->created_ms));
    json_object_set_new(o, "canary", json_integer(d->canary));
    json_object_set_new(o, "rate", json_integer(d->rate));
    json_object_set_new(o, "abort_threshold", json_real(d->abort_threshold));
    json_object_set_new(o, "timeout_s", json_integer(d->timeout_s));
    if (d->has_check) {
        json_t *k = json_object();
        set_str(k, "data", d->data);
        set_str(k, "labels", d->labels);
        if (d->min_top1 >= 0) json_object_set_new(k, "min_top1", json_real(d->min_top1));
        if (d->max_p50_ms >= 0) json_object_set_new(k, "max_p50_ms", json_real(d->max_p50_ms));
        json_object_set_new(o, "check", k);
    }
    json_t *nodes = json_object(), *rb = json_object(), *order = json_array(), *detail = json_object(),
           *canaries = json_array();
    for (int i = 0; i < d->n; i++) {
        const dnode *dn = &d->nodes[i];
        const node *nd = dn->state == DN_SENT ? node_find(c, dn->id) : NULL;
        const char *s = dn->state == DN_SENT && !(nd && nd->born && nd->online) ? "pending"
                        : dn->state == DN_WORKING && dn->step[0] ? dn->step
                        : dn->state == DN_FAILED && dn->step[0] ? dn->step
                                                                : k_dn_names[dn->state];
        set_str(nodes, dn->id, s);
        if (dn->rb != RB_NONE) set_str(rb, dn->id, k_rb_names[dn->rb]);
        json_array_append_new(order, json_string(dn->id));
        if (dn->canary) json_array_append_new(canaries, json_string(dn->id));
        if (full) {
            json_t *x = json_object();
            json_object_set_new(x, "state", json_integer(dn->state));
            set_str(x, "step", dn->step);
            set_str(x, "reason", dn->reason);
            json_object_set_new(x, "deadline_ms", json_integer(dn->deadline_ms));
            json_object_set_new(x, "before", pkgref_json(&dn->before));
            json_object_set_new(x, "rb", json_integer(dn->rb));
            json_object_set_new(x, "canary", json_boolean(dn->canary));
            json_object_set_new(detail, dn->id, x);
        } else if (dn->reason[0]) {
            set_str(detail, dn->id, dn->reason);
        }
    }
    json_object_set_new(o, "nodes", nodes);
    json_object_set_new(o, "order", order);
    json_object_set_new(o, "canaries", canaries);
    if (json_object_size(rb)) json_object_set_new(o, "rollback", rb);
    else json_decref(rb);
    if (full || json_object_size(detail)) json_object_set_new(o, full ? "detail" : "reasons", detail);
    else json_decref(detail);
    return o;
}

static double round2(double x) { return floor(x * 100 + 0.5) / 100; }

static json_t *status_json(ctl *c) {
    json_t *s = json_object();
    json_object_set_new(s, "v", json_integer(1));
    json_object_set_new(s, "time_ms", json_integer(fleet_now_ms()));
    json_t *nodes = json_array();
    for (int i = 0; i < c->n_nodes; i++) {
        const node *n = &c->nodes[i];
        if (!n->born) continue;
        json_t *o = json_object();
        set_str(o, "id", n->id);
        set_str(o, "group", n->group);
        set_str(o, "status", n->online ? "ONLINE" : "OFFLINE");
        json_object_set_new(o, "bdseq", json_integer(n->bdseq));
        json_object_set_new(o, "last_seen_ms", json_integer(n->seen_ms));
        set_str(o, "serve", n->serve_up < 0 ? NULL : n->serve_up ? "up" : "down");
        set_str(o, "serve_url", n->serve_url);
        json_object_set_new(o, "current", pkgref_json(&n->current));
        set_str(o, "haproxy_server", n->hap_server);
        set_str(o, "haproxy", c->o->haproxy ? n->hap_have : NULL);
        json_object_set_new(o, "weight", json_integer(n->overloaded ? c->o->overload_weight_pct : 100));
        json_object_set_new(o, "overloaded", json_boolean(n->overloaded));
        if (n->hap_err[0]) set_str(o, "haproxy_error", n->hap_err);
        if (n->has_load) {
            json_t *l = json_object();
            json_object_set_new(l, "load1", json_real(round2(n->load1)));
            json_object_set_new(l, "cpus", json_integer(n->cpus));
            json_object_set_new(l, "inflight", json_integer(n->inflight));
            json_object_set_new(l, "queue", json_integer(n->queue));
            json_object_set_new(l, "requests", json_integer(n->requests));
            json_object_set_new(l, "errors", json_integer(n->errors));
            json_object_set_new(l, "p50_ms", isnan(n->p50) ? json_null() : json_real(round2(n->p50)));
            json_object_set_new(l, "p99_ms", isnan(n->p99) ? json_null() : json_real(round2(n->p99)));
            json_object_set_new(l, "agent_rss_kb", json_integer(n->agent_rss_kb));
            json_object_set_new(l, "serve_rss_kb", json_integer(n->serve_rss_kb));
            json_object_set_new(o, "load", l);
        } else {
            json_object_set_new(o, "load", json_null());
        }
        json_array_append_new(nodes, o);
    }
    json_object_set_new(s, "nodes", nodes);
    json_t *deps = json_array();
    for (int i = 0; i < c->n_deps; i++) json_array_append_new(deps, dep_json(c, &c->deps[i], 0));
    json_object_set_new(s, "deployments", deps);
    return s;
}

static void publish_status(ctl *c) {
    json_t *s = status_json(c);
    char *txt = json_dumps(s, JSON_COMPACT);
    json_decref(s);
    if (txt) {
        mosquitto_publish(c->m, NULL, "nnedge/fleet/status", (int)strlen(txt), txt, 1, true);
        free(txt);
    }
}

/* -------------------------------------------------------- state file -- */
static int state_save(ctl *c) {
    if (!c->o->state_file) return 1;
    json_t *s = json_object();
    json_object_set_new(s, "v", json_integer(1));
    json_object_set_new(s, "next", json_integer(c->next_dep));
    json_t *deps = json_array();
    for (int i = 0; i < c->n_deps; i++) json_array_append_new(deps, dep_json(c, &c->deps[i], 1));
    json_object_set_new(s, "deployments", deps);
    json_t *w = json_object();
    for (int i = 0; i < c->n_want; i++) json_object_set_new(w, c->want[i].id, json_string(c->want[i].payload));
    json_object_set_new(s, "desired", w);
    char *txt = json_dumps(s, JSON_INDENT(1));
    json_decref(s);
    if (!txt) return 0;
    char tmp[4200];
    snprintf(tmp, sizeof tmp, "%s.tmp", c->o->state_file);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ok = fd >= 0;
    size_t len = strlen(txt);
    for (size_t off = 0; ok && off < len;) {
        ssize_t r = write(fd, txt + off, len - off);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) ok = 0;
        else off += (size_t)r;
    }
    free(txt);
    if (ok && !c->silent && fsync(fd) != 0) ok = 0; /* (no fsync when fuzzing: speed) */
    if (fd >= 0) close(fd);
    if (ok && rename(tmp, c->o->state_file) != 0) ok = 0;
    if (ok && !c->silent) { /* the rename itself must survive a power cut */
        char dir[4200];
        snprintf(dir, sizeof dir, "%s", c->o->state_file);
        char *sl = strrchr(dir, '/');
        if (sl) *sl = 0;
        else snprintf(dir, sizeof dir, ".");
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    if (!ok) warnf(c, "--state %s: cannot write: %s", c->o->state_file, strerror(errno));
    return ok;
}

static int copy_field(const json_t *o, const char *k, size_t cap, char *dst, int required) {
    const char *s = NULL;
    int r = ctl_json_str(o, k, cap - 1, &s);
    if (r < 0 || (required && r != 1)) return 0;
    snprintf(dst, cap, "%s", r == 1 ? s : "");
    return 1;
}

/* Read one saved deployment; 0 when anything is off. */
static int dep_load(const json_t *o, deployment *d) {
    memset(d, 0, sizeof *d);
    const char *st = NULL;
    int64_t x;
    if (!json_is_object(o) || !copy_field(o, "id", sizeof d->id, d->id, 1) ||
        !copy_field(o, "group", sizeof d->group, d->group, 1) || ctl_json_str(o, "state", 16, &st) != 1)
        return 0;
    for (int i = 0; i < 4; i++)
        if (strcmp(st, k_dep_names[i]) == 0) d->state = i;
    copy_field(o, "reason", sizeof d->reason, d->reason, 0);
    json_t *p = json_object_get(o, "package");
    if (read_pkgref(p, &d->pkg) != 1 || !copy_field(p, "file", sizeof d->file, d->file, 1) ||
        !copy_field(p, "blake2b", sizeof d->blake, d->blake, 1) || ctl_json_int(p, "bytes", 0, INT64_MAX, &x) != 1)
        return 0;
    d->bytes = (uint64_t)x;
    if (ctl_json_int(o, "created_ms", 0, INT64_MAX, &d->created_ms) != 1) return 0;
    if (ctl_json_int(o, "canary", 1, 100000, &x) != 1) return 0;
    d->canary = (int)x;
    if (ctl_json_int(o, "rate", 1, 100000, &x) != 1) return 0;
    d->rate = (int)x;
    if (ctl_json_num(o, "abort_threshold", 0, 1, &d->abort_threshold) != 1) return 0;
    if (ctl_json_int(o, "timeout_s", 1, 86400 * 7, &d->timeout_s) != 1) return 0;
    d->min_top1 = d->max_p50_ms = -1;
    json_t *k = json_object_get(o, "check");
    if (k) {
        d->has_check = 1;
        if (!copy_field(k, "data", sizeof d->data, d->data, 1) || !copy_field(k, "labels", sizeof d->labels, d->labels, 1))
            return 0;
        ctl_json_num(k, "min_top1", 0, 1, &d->min_top1);
        ctl_json_num(k, "max_p50_ms", 0, 1e9, &d->max_p50_ms);
    }
    json_t *order = json_object_get(o, "order"), *detail = json_object_get(o, "detail");
    if (!json_is_array(order) || !json_is_object(detail) || json_array_size(order) > MAX_NODES) return 0;
    d->n = (int)json_array_size(order);
    d->nodes = calloc((size_t)d->n + 1, sizeof *d->nodes);
    if (!d->nodes) return 0;
    for (int i = 0; i < d->n; i++) {
        dnode *dn = &d->nodes[i];
        const char *id = json_string_value(json_array_get(order, (size_t)i));
        json_t *x2 = id ? json_object_get(detail, id) : NULL;
        int64_t v;
        if (!id || !fleet_id_ok(id) || !json_is_object(x2)) return 0;
        snprintf(dn->id, sizeof dn->id, "%s", id);
        if (ctl_json_int(x2, "state", 0, DN_RETRACTED, &v) != 1) return 0;
        dn->state = (int)v;
        if (ctl_json_int(x2, "rb", 0, RB_IMPOSSIBLE, &v) != 1) return 0;
        dn->rb = (int)v;
        if (ctl_json_int(x2, "deadline_ms", 0, INT64_MAX, &dn->deadline_ms) != 1) return 0;
        copy_field(x2, "step", sizeof dn->step, dn->step, 0);
        copy_field(x2, "reason", sizeof dn->reason, dn->reason, 0);
        if (read_pkgref(json_object_get(x2, "before"), &dn->before) < 0) return 0;
        json_t *cn = json_object_get(x2, "canary"); /* absent in older files: the first ones were */
        dn->canary = cn ? json_is_true(cn) : i < d->canary && dn->state != DN_PENDING;
    }
    return 1;
}

static int state_load(ctl *c, char *err, size_t cap) {
    const char *path = c->o->state_file;
    if (!path) return 1;
    struct stat st;
    if (stat(path, &st) != 0) {
        if (errno == ENOENT) return 1; /* first start */
        snprintf(err, cap, "--state %s: %s", path, strerror(errno));
        return 0;
    }
    json_error_t je;
    json_t *s = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    int64_t v;
    json_t *deps = s ? json_object_get(s, "deployments") : NULL, *w = s ? json_object_get(s, "desired") : NULL;
    if (!s || !json_is_object(s) || ctl_json_int(s, "v", 1, 1, &v) != 1 ||
        ctl_json_int(s, "next", 0, INT64_MAX / 2, &c->next_dep) != 1 || !json_is_array(deps) || !json_is_object(w) ||
        json_array_size(deps) > MAX_DEPLOYMENTS) {
        snprintf(err, cap, "--state %s: not a controller state file (%s); move it away to start afresh", path,
                 s ? "fields" : je.text);
        json_decref(s);
        return 0;
    }
    size_t i;
    json_t *x;
    json_array_foreach(deps, i, x) {
        if (!dep_make_room(c)) break;
        deployment *d = &c->deps[c->n_deps];
        if (!dep_load(x, d)) {
            free(d->nodes);
            snprintf(err, cap, "--state %s: deployment %zu is damaged; move the file away to start afresh", path, i);
            json_decref(s);
            return 0;
        }
        c->n_deps++;
    }
    const char *key;
    json_object_foreach(w, key, x) {
        if (!fleet_id_ok(key) || !json_is_string(x)) continue;
        desired *nw = realloc(c->want, (size_t)(c->n_want + 1) * sizeof *nw);
        if (!nw) break;
        c->want = nw;
        snprintf(c->want[c->n_want].id, sizeof c->want[0].id, "%s", key);
        c->want[c->n_want].payload = strdup(json_string_value(x));
        if (c->want[c->n_want].payload) c->n_want++;
    }
    json_decref(s);
    return 1;
}

/* --------------------------------------------------------------- main -- */
static void tick(ctl *c) {
    /* Without the broker the controller knows nothing new: no node goes
     * OFFLINE, no deadline passes, HAProxy keeps its state (inference goes
     * on through HAProxy while the broker is down). */
    if (!c->connected) return;
    int64_t now = fleet_mono_ms();
    for (int i = 0; i < c->n_nodes; i++) {
        node *n = &c->nodes[i];
        if (n->born && n->online && now - n->seen_mono > c->o->offline_after_ms) {
            char why[80];
            snprintf(why, sizeof why, "no heartbeat for %ld ms", c->o->offline_after_ms);
            node_offline(c, n, 0, why);
        }
    }
    for (int i = 0; i < c->n_deps; i++) dep_advance(c, &c->deps[i]);
    haproxy_tick(c);
}

static void ctl_free(ctl *c) {
    for (int i = 0; i < c->n_deps; i++) free(c->deps[i].nodes);
    free(c->deps);
    for (int i = 0; i < c->n_want; i++) free(c->want[i].payload);
    free(c->want);
    free(c->nodes);
}

int ctl_run(const ctl_options *o) {
    ctl C = {.o = o};
    ctl *c = &C;
    char err[512];
    if (!state_load(c, err, sizeof err)) {
        fprintf(stderr, "nnedge: fleet run: %s\n", err);
        ctl_free(c);
        return 2;
    }
    c->silent = 1; /* the error comes here, once */
    if (!state_save(c)) {
        fprintf(stderr, "nnedge: fleet run: --state %s: cannot write it (%s)\n", o->state_file, strerror(errno));
        ctl_free(c);
        return 2;
    }
    c->silent = 0;
    pkgsrv *srv = pkgsrv_start(o->packages, o->http, err, sizeof err);
    if (!srv) {
        fprintf(stderr, "nnedge: fleet run: %s\n", err);
        return 2;
    }
    if (o->public_url) snprintf(c->public_url, sizeof c->public_url, "%s", o->public_url);
    else {
        char host[128];
        snprintf(host, sizeof host, "%.*s", (int)(strrchr(o->http, ':') - o->http), o->http);
        if (strcmp(host, "0.0.0.0") == 0) snprintf(host, sizeof host, "127.0.0.1");
        snprintf(c->public_url, sizeof c->public_url, "http://%s:%d", host, pkgsrv_port(srv));
    }
    size_t ul = strlen(c->public_url);
    if (ul && c->public_url[ul - 1] == '/') c->public_url[ul - 1] = 0;
    mosquitto_lib_init();
    /* A persistent session under a fixed client id: while the controller is
     * down or restarting, the broker keeps its subscriptions and queues the
     * QoS 1 messages (deploy reports, births, deaths, requests), so a
     * restarted controller misses no report (heartbeats are QoS 0: dropped). */
    c->m = mosquitto_new(o->client_id ? o->client_id : "nnedge-fleet-controller", false, c);
    if (!c->m || !ctl_broker_setup(c->m, &o->broker, err, sizeof err)) {
        fprintf(stderr, "nnedge: fleet run: %s\n", c->m ? err : "mosquitto_new failed");
        pkgsrv_stop(srv);
        mosquitto_destroy(c->m);
        mosquitto_lib_cleanup();
        return 2;
    }
    mosquitto_connect_callback_set(c->m, on_connect);
    mosquitto_disconnect_callback_set(c->m, on_disconnect);
    mosquitto_message_callback_set(c->m, on_message);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!o->quiet) {
        printf("nnedge fleet: controller on %s:%d, packages %s at %s, %d deployment(s) and %d desired state(s) from "
               "--state\n",
               o->broker.host, o->broker.port, o->packages, c->public_url, c->n_deps, c->n_want);
        fflush(stdout);
    }
    int64_t backoff = 250, next_try = 0;
    int socket_up = 0;
    while (!g_stop) {
        int64_t now = fleet_mono_ms();
        if (!socket_up && now >= next_try) {
            int rc = next_try == 0 ? mosquitto_connect(c->m, o->broker.host, o->broker.port, 10)
                                   : mosquitto_reconnect(c->m);
            if (rc == MOSQ_ERR_SUCCESS) {
                socket_up = 1;
                backoff = 250;
            } else {
                if (next_try == 0 || backoff >= 2000)
                    warnf(c, "cannot reach the broker %s:%d (%s); retrying", o->broker.host, o->broker.port,
                          rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
                next_try = now + backoff;
                backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
                if (next_try == 0) next_try = 1;
            }
        }
        if (socket_up) {
            int rc = mosquitto_loop(c->m, 100, 1);
            if (rc != MOSQ_ERR_SUCCESS) {
                socket_up = 0;
                if (c->connected) c->lost_ms = fleet_now_ms();
                c->connected = 0;
                next_try = fleet_mono_ms() + backoff;
                backoff = backoff * 2 > 2000 ? 2000 : backoff * 2;
            }
        } else {
            usleep(50000);
        }
        tick(c);
        now = fleet_mono_ms();
        if (c->state_dirty) {
            state_save(c);
            c->state_dirty = 0;
        }
        if (c->connected && (c->status_dirty || now >= c->status_next_mono)) {
            publish_status(c);
            c->status_dirty = 0;
            c->status_next_mono = now + o->status_ms;
        }
    }
    if (c->state_dirty) state_save(c);
    if (socket_up) {
        publish_status(c);
        mosquitto_loop(c->m, 100, 1);
        mosquitto_disconnect(c->m);
        mosquitto_loop(c->m, 100, 1);
    }
    mosquitto_destroy(c->m);
    mosquitto_lib_cleanup();
    pkgsrv_stop(srv);
    ctl_free(c);
    return 0;
}

/* ------------------------------------------------------------ fuzzing -- */
/* tests/fuzz/fuzz_fleet.c drives the message handlers and the timers
 * without a broker or HAProxy: "connected" with no client (publishes fail
 * and are ignored), no state file unless o names one. */
ctl *ctl_fuzz_create(const ctl_options *o) {
    ctl *c = calloc(1, sizeof *c);
    if (!c) return NULL;
    c->o = o;
    c->connected = 1;
    c->silent = 1;
    snprintf(c->public_url, sizeof c->public_url, "http://127.0.0.1:1");
    return c;
}

void ctl_fuzz_message(ctl *c, const char *topic, const void *payload, int len, int retained) {
    handle_message(c, topic, payload, len, retained);
    tick(c);
    if (c->status_dirty) {
        json_t *s = status_json(c);
        json_decref(s);
        c->status_dirty = 0;
    }
}

int ctl_fuzz_load(ctl *c) {
    char err[512];
    return state_load(c, err, sizeof err);
}

void ctl_fuzz_destroy(ctl *c) {
    if (!c) return;
    if (c->o->state_file) state_save(c);
    ctl_free(c);
    free(c);
}
