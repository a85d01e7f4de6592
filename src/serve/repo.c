/*
 * repo.c - the model repository of `nnedge serve`: DIR/<model>/<version>/
 * model.onnx plus an optional DIR/<model>/config.json. Each served version
 * holds one loaded model and a small cache of plans (one per input shapes:
 * batch sizes), each plan a pool of contexts (one per worker that used it).
 * Versions are reference counted: the repository holds one reference while a
 * version is served, each request one while it runs; a new version is loaded
 * and prepared beside the old one, then replaces it under the lock, and the
 * old one is freed by the last request that held it (hot swap without failed
 * requests, unload without leaks).
 */
#include "serve/serve.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define SRV_DEFAULT_MAX_BATCH 8
#define SRV_MAX_BATCH_LIMIT 1024
#define SRV_CONFIG_MAX_BYTES (64 * 1024)

typedef struct mcfg {
    enum { POLICY_LATEST, POLICY_ALL, POLICY_SPECIFIC } policy;
    int latest_n;
    int64_t specific[SRV_MAX_VERSIONS];
    int nspecific;
    int max_batch; /* -1: default */
    int threads;
} mcfg;

int srv_name_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n >= SRV_NAME_MAX || name[0] == '.') return 0;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
              c == '.'))
            return 0;
    }
    return 1;
}

int srv_repo_init(srv_repo *r, const char *dir) {
    memset(r, 0, sizeof *r);
    if (strlen(dir) >= sizeof r->dir - SRV_NAME_MAX - 64) return 0;
    snprintf(r->dir, sizeof r->dir, "%s", dir);
    pthread_mutex_init(&r->mu, NULL);
    pthread_mutex_init(&r->load_mu, NULL);
    return 1;
}

/* ---------------------------------------------------------- versions -- */

static size_t version_memory_locked(srv_version *v) {
    size_t total = nne_model_memory_bytes(v->m);
    for (int i = 0; i < v->nplans; i++) {
        srv_plan_ent *e = v->plans[i];
        total += nne_plan_arena_bytes(e->plan) * (size_t)(e->nfree + e->inuse);
    }
    return total;
}

size_t srv_version_memory(srv_version *v) {
    pthread_mutex_lock(&v->mu);
    size_t n = version_memory_locked(v);
    pthread_mutex_unlock(&v->mu);
    return n;
}

/* Memory accounted in the metrics: versions of one (model, version) may
 * overlap during a swap of a rewritten file, so each adds its own share. */
static size_t *mem_counted(srv_version *v);
static void mem_update_locked(srv_version *v) {
    if (!v->stats) return;
    size_t now = version_memory_locked(v), *was = mem_counted(v);
    atomic_fetch_add(&v->stats->memory, now - *was); /* modular: works for a decrease too */
    *was = now;
}

/* The share lives after the version struct (allocated together). */
typedef struct srv_version_ext {
    srv_version v;
    size_t counted;
} srv_version_ext;
static size_t *mem_counted(srv_version *v) { return &((srv_version_ext *)v)->counted; }

static void plan_ent_free(srv_plan_ent *e) {
    if (!e) return;
    for (int i = 0; i < e->nfree; i++) nne_context_destroy(e->free_ctx[i]);
    free(e->free_ctx);
    nne_plan_destroy(e->plan);
    free(e);
}

static void version_destroy(srv_version *v) {
    if (v->stats) atomic_fetch_sub(&v->stats->memory, *mem_counted(v));
    for (int i = 0; i < v->nplans; i++) plan_ent_free(v->plans[i]);
    nne_model_destroy(v->m);
    pthread_mutex_destroy(&v->mu);
    free(v);
}

void srv_version_release(srv_version *v) {
    if (v && atomic_fetch_sub(&v->refs, 1) == 1) version_destroy(v);
}

static int shapes_key(const srv_version *v, const nne_tensor *shapes, int64_t *key) {
    int n = 0;
    for (int i = 0; i < v->ninputs; i++) {
        key[n++] = shapes[i].ndim;
        for (int d = 0; d < shapes[i].ndim; d++) key[n++] = shapes[i].dims[d];
    }
    return n;
}

static srv_plan_ent *plan_make(srv_version *v, const nne_tensor *shapes, char *err, size_t cap) {
    srv_plan_ent *e = calloc(1, sizeof *e);
    const char *names[SRV_MAX_IO];
    if (!e) { snprintf(err, cap, "out of memory"); return NULL; }
    for (int i = 0; i < v->ninputs; i++) names[i] = v->in[i].name;
    nne_session_options so = nne_session_options_default();
    so.threads = v->threads;
    /* A request chooses its batch size: the memory a plan of it may take is
     * bounded, so one request cannot claim the machine. */
    so.arena_limit_bytes = v->run_memory;
    so.memory_limit_bytes = v->run_memory;
    nne_status st = nne_plan_create(v->m, &so, v->ninputs, names, shapes, &e->plan);
    if (st != NNE_OK) {
        snprintf(err, cap, "preparing model '%s' version %lld for these shapes: %s%s", v->model_name,
                 (long long)v->version, nne_last_error(),
                 st == NNE_ERR_OUT_OF_MEMORY ? " (each run may use --max-run-memory bytes)" : "");
        free(e);
        return NULL;
    }
    e->keylen = shapes_key(v, shapes, e->key);
    return e;
}

nne_context *srv_version_ctx_get(srv_version *v, const nne_tensor *shapes, srv_plan_ent **out, char *err,
                                 size_t cap) {
    int64_t key[SRV_MAX_IO * (NNE_MAX_DIMS + 1)];
    int keylen = shapes_key(v, shapes, key);
    nne_context *c = NULL;
    pthread_mutex_lock(&v->mu);
    srv_plan_ent *e = NULL;
    for (int i = 0; i < v->nplans; i++)
        if (v->plans[i]->keylen == keylen && memcmp(v->plans[i]->key, key, (size_t)keylen * sizeof *key) == 0) {
            e = v->plans[i];
            break;
        }
    if (!e) {
        /* Plans are made outside the lock (other batch sizes keep running);
         * two workers may make the same one: the second is dropped. */
        pthread_mutex_unlock(&v->mu);
        srv_plan_ent *ne = plan_make(v, shapes, err, cap);
        if (!ne) return NULL;
        pthread_mutex_lock(&v->mu);
        for (int i = 0; i < v->nplans; i++)
            if (v->plans[i]->keylen == keylen && memcmp(v->plans[i]->key, key, (size_t)keylen * sizeof *key) == 0) {
                e = v->plans[i];
                break;
            }
        if (e) {
            plan_ent_free(ne);
        } else {
            if (v->nplans == SRV_MAX_PLANS) {
                /* evict the least recently used plan no context of which is in use */
                int victim = -1;
                for (int i = 0; i < v->nplans; i++)
                    if (v->plans[i]->inuse == 0 && (victim < 0 || v->plans[i]->last_used < v->plans[victim]->last_used))
                        victim = i;
                if (victim >= 0) {
                    plan_ent_free(v->plans[victim]);
                    v->plans[victim] = v->plans[--v->nplans];
                }
            }
            if (v->nplans < SRV_MAX_PLANS) {
                v->plans[v->nplans++] = ne;
            } else {
                ne->keylen = -1; /* every plan busy: this one lives for one run */
            }
            e = ne;
        }
    }
    e->last_used = ++v->tick;
    e->inuse++;
    if (e->nfree > 0) c = e->free_ctx[--e->nfree];
    pthread_mutex_unlock(&v->mu);
    if (!c) {
        if (nne_context_create(e->plan, &c) != NNE_OK) {
            snprintf(err, cap, "creating a context: %s", nne_last_error());
            pthread_mutex_lock(&v->mu);
            e->inuse--;
            pthread_mutex_unlock(&v->mu);
            if (e->keylen < 0) plan_ent_free(e);
            return NULL;
        }
        pthread_mutex_lock(&v->mu);
        mem_update_locked(v);
        pthread_mutex_unlock(&v->mu);
    }
    *out = e;
    return c;
}

void srv_version_ctx_put(srv_version *v, srv_plan_ent *e, nne_context *c) {
    if (e->keylen < 0) {
        nne_context_destroy(c);
        plan_ent_free(e);
        return;
    }
    pthread_mutex_lock(&v->mu);
    e->inuse--;
    nne_context **fc = realloc(e->free_ctx, (size_t)(e->nfree + 1) * sizeof *fc);
    if (fc) {
        e->free_ctx = fc;
        fc[e->nfree++] = c;
    } else {
        nne_context_destroy(c);
        mem_update_locked(v);
    }
    pthread_mutex_unlock(&v->mu);
}

/* ------------------------------------------------------------ config -- */

static int read_small_file(const char *path, char **out, size_t *len, char *err, size_t cap) {
    FILE *f = fopen(path, "rb");
    if (!f) { snprintf(err, cap, "%s: %s", path, strerror(errno)); return 0; }
    char *buf = malloc(SRV_CONFIG_MAX_BYTES + 1);
    size_t n = buf ? fread(buf, 1, SRV_CONFIG_MAX_BYTES + 1, f) : 0;
    fclose(f);
    if (!buf) { snprintf(err, cap, "out of memory"); return 0; }
    if (n > SRV_CONFIG_MAX_BYTES) {
        free(buf);
        snprintf(err, cap, "%s: larger than %d bytes", path, SRV_CONFIG_MAX_BYTES);
        return 0;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 1;
}

/* config.json: {"version_policy": {"latest": {"num_versions": N}} |
 * {"all": {}} | {"specific": {"versions": [..]}}, "max_batch_size": N,
 * "threads": N}. Unknown keys are errors (a typo must not pass silently). */
static int config_read(const char *dir, const char *name, mcfg *c, char *err, size_t cap) {
    memset(c, 0, sizeof *c);
    c->policy = POLICY_LATEST;
    c->latest_n = 1;
    c->max_batch = -1;
    c->threads = 1;
    char path[4400];
    snprintf(path, sizeof path, "%s/%s/config.json", dir, name);
    struct stat st;
    if (stat(path, &st) != 0) return 1; /* optional */
    char *text;
    size_t len;
    if (!read_small_file(path, &text, &len, err, cap)) return 0;
    json_error_t je;
    json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);
    free(text);
    if (!root || !json_is_object(root)) {
        snprintf(err, cap, "%s: %s", path, root ? "not a JSON object" : je.text);
        json_decref(root);
        return 0;
    }
    int ok = 1;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (strcmp(key, "max_batch_size") == 0) {
            if (!json_is_integer(val) || json_integer_value(val) < 0 || json_integer_value(val) > SRV_MAX_BATCH_LIMIT) {
                snprintf(err, cap, "%s: max_batch_size must be an integer 0..%d", path, SRV_MAX_BATCH_LIMIT);
                ok = 0;
            } else c->max_batch = (int)json_integer_value(val);
        } else if (strcmp(key, "threads") == 0) {
            if (!json_is_integer(val) || json_integer_value(val) < 1 || json_integer_value(val) > 256) {
                snprintf(err, cap, "%s: threads must be an integer 1..256", path);
                ok = 0;
            } else c->threads = (int)json_integer_value(val);
        } else if (strcmp(key, "version_policy") == 0) {
            json_t *p;
            if (!json_is_object(val) || json_object_size(val) != 1) {
                snprintf(err, cap, "%s: version_policy must be an object with one of latest, all, specific", path);
                ok = 0;
            } else if ((p = json_object_get(val, "latest"))) {
                json_t *n = json_is_object(p) ? json_object_get(p, "num_versions") : NULL;
                if (!n || !json_is_integer(n) || json_integer_value(n) < 1 || json_integer_value(n) > SRV_MAX_VERSIONS) {
                    snprintf(err, cap, "%s: version_policy.latest.num_versions must be 1..%d", path, SRV_MAX_VERSIONS);
                    ok = 0;
                } else {
                    c->policy = POLICY_LATEST;
                    c->latest_n = (int)json_integer_value(n);
                }
            } else if ((p = json_object_get(val, "all"))) {
                c->policy = POLICY_ALL;
            } else if ((p = json_object_get(val, "specific"))) {
                json_t *vs = json_is_object(p) ? json_object_get(p, "versions") : NULL;
                if (!vs || !json_is_array(vs) || json_array_size(vs) == 0 || json_array_size(vs) > SRV_MAX_VERSIONS) {
                    snprintf(err, cap, "%s: version_policy.specific.versions must list 1..%d versions", path, SRV_MAX_VERSIONS);
                    ok = 0;
                } else {
                    c->policy = POLICY_SPECIFIC;
                    for (size_t i = 0; i < json_array_size(vs) && ok; i++) {
                        json_t *x = json_array_get(vs, i);
                        if (!json_is_integer(x) || json_integer_value(x) < 1) {
                            snprintf(err, cap, "%s: version_policy.specific.versions: versions are integers >= 1", path);
                            ok = 0;
                        } else c->specific[c->nspecific++] = json_integer_value(x);
                    }
                }
            } else {
                snprintf(err, cap, "%s: version_policy must be an object with one of latest, all, specific", path);
                ok = 0;
            }
        } else {
            snprintf(err, cap, "%s: unknown key '%.64s' (known: version_policy, max_batch_size, threads)", path, key);
            ok = 0;
        }
        if (!ok) break;
    }
    json_decref(root);
    return ok;
}

/* ---------------------------------------------------------- scanning -- */

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* The model file of a version directory: model.onnx, model.nne or
 * model.tflite, the first that is a regular file (model.onnx's path when
 * none is). */
static void model_path(const srv_repo *r, const char *name, int64_t ver, char *out, size_t cap) {
    static const char *const k_names[] = {"model.onnx", "model.nne", "model.tflite"};
    for (size_t i = 0; i < sizeof k_names / sizeof *k_names; i++) {
        snprintf(out, cap, "%s/%s/%lld/%s", r->dir, name, (long long)ver, k_names[i]);
        struct stat st;
        if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) return;
    }
    snprintf(out, cap, "%s/%s/%lld/model.onnx", r->dir, name, (long long)ver);
}

/* Version directories with a model file, picked by the policy, ascending. */
static int versions_wanted(const srv_repo *r, const char *name, const mcfg *c, int64_t *out, int *nout, char *err,
                           size_t cap) {
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    DIR *d = opendir(path);
    if (!d) { snprintf(err, cap, "%s: %s", path, strerror(errno)); return 0; }
    int64_t all[256];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 256) {
        const char *s = de->d_name;
        if (!s[0] || strlen(s) > 15) continue;
        int digits = 1;
        for (const char *p = s; *p; p++) digits &= *p >= '0' && *p <= '9';
        if (!digits) continue;
        int64_t v = strtoll(s, NULL, 10);
        if (v < 1) continue;
        char mp[4400];
        model_path(r, name, v, mp, sizeof mp);
        struct stat st;
        if (stat(mp, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        all[n++] = v;
    }
    closedir(d);
    qsort(all, (size_t)n, sizeof *all, cmp_i64);
    *nout = 0;
    if (c->policy == POLICY_LATEST) {
        int k = n < c->latest_n ? n : c->latest_n;
        for (int i = n - k; i < n; i++) out[(*nout)++] = all[i];
    } else if (c->policy == POLICY_ALL) {
        for (int i = n > SRV_MAX_VERSIONS ? n - SRV_MAX_VERSIONS : 0; i < n; i++) out[(*nout)++] = all[i];
    } else {
        for (int i = 0; i < n; i++)
            for (int j = 0; j < c->nspecific; j++)
                if (all[i] == c->specific[j]) { out[(*nout)++] = all[i]; break; }
    }
    if (*nout == 0) {
        snprintf(err, cap, "%s: no version directory <N>/model.{onnx,nne,tflite} matches the version policy", path);
        return 0;
    }
    return 1;
}

static srv_version *version_load(const srv_repo *r, const char *name, int64_t ver, const mcfg *c, char *err,
                                 size_t cap) {
    char path[4400];
    model_path(r, name, ver, path, sizeof path);
    struct stat st;
    if (stat(path, &st) != 0) { snprintf(err, cap, "%s: %s", path, strerror(errno)); return NULL; }
    srv_version_ext *x = calloc(1, sizeof *x);
    if (!x) { snprintf(err, cap, "out of memory"); return NULL; }
    srv_version *v = &x->v;
    snprintf(v->model_name, sizeof v->model_name, "%s", name);
    v->version = ver;
    v->threads = c->threads;
    v->run_memory = r->run_memory;
    v->dev = st.st_dev;
    v->ino = st.st_ino;
    v->mtime_ns = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
    v->size = st.st_size;
    pthread_mutex_init(&v->mu, NULL);
    atomic_init(&v->refs, 1);
    nne_status s = r->load_model ? r->load_model(path, &v->m) : nne_model_load_file(path, NULL, &v->m);
    if (s != NNE_OK) {
        snprintf(err, cap, "loading %s: %s", path, nne_last_error());
        version_destroy(v);
        return NULL;
    }
    v->ninputs = nne_model_num_inputs(v->m);
    v->noutputs = nne_model_num_outputs(v->m);
    if (v->ninputs > SRV_MAX_IO || v->noutputs > SRV_MAX_IO || v->noutputs < 1) {
        snprintf(err, cap, "%s: %d inputs and %d outputs (the server takes 0..%d inputs, 1..%d outputs)", path,
                 v->ninputs, v->noutputs, SRV_MAX_IO, SRV_MAX_IO);
        version_destroy(v);
        return NULL;
    }
    /* Batching along dim 0 needs every input and output to have a free dim 0. */
    int batch_dim = v->ninputs > 0;
    for (int i = 0; i < v->ninputs; i++) {
        nne_model_input_info(v->m, i, &v->in[i]);
        if (v->in[i].ndim < 1 || v->in[i].dims[0] >= 0) batch_dim = 0;
    }
    for (int i = 0; i < v->noutputs; i++) {
        nne_model_output_info(v->m, i, &v->out[i]);
        if (v->out[i].ndim < 1 || v->out[i].dims[0] >= 0) batch_dim = 0;
    }
    v->max_batch = batch_dim ? (c->max_batch < 0 ? SRV_DEFAULT_MAX_BATCH : c->max_batch) : 0;
    v->stats = srv_stats_get(name, ver);
    /* Prepare the declared shapes (free dims 1) now, beside the version
     * being served, so the first requests after a swap find a plan. A
     * model whose declared shapes do not prepare (shapes only requests
     * decide) is still served. */
    nne_tensor shapes[SRV_MAX_IO];
    memset(shapes, 0, sizeof shapes);
    int known = 1;
    for (int i = 0; i < v->ninputs; i++) {
        shapes[i].dtype = v->in[i].dtype;
        shapes[i].ndim = v->in[i].ndim;
        if (v->in[i].ndim < 0) known = 0;
        for (int d = 0; d < v->in[i].ndim; d++) shapes[i].dims[d] = v->in[i].dims[d] < 0 ? 1 : v->in[i].dims[d];
    }
    if (known) {
        char perr[256];
        srv_plan_ent *e;
        nne_context *ctx = srv_version_ctx_get(v, shapes, &e, perr, sizeof perr);
        if (ctx) srv_version_ctx_put(v, e, ctx);
    }
    pthread_mutex_lock(&v->mu);
    mem_update_locked(v);
    pthread_mutex_unlock(&v->mu);
    return v;
}

/* After an unload or a swap, hand the freed heap back to the system: an
 * edge box reloading models for weeks must not keep the high-water mark of
 * every version it ever held. (Only what the last request released is
 * freed; versions still held by requests are freed by them later.) */
static void heap_trim(void) {
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

static srv_model *model_find(srv_repo *r, const char *name) {
    for (int i = 0; i < r->n; i++)
        if (strcmp(r->models[i]->name, name) == 0) return r->models[i];
    return NULL;
}

/* Records why a model did not load; a model never loaded gets an entry
 * (no version, UNAVAILABLE) so that the index and requests give the reason. */
static void model_set_failed(srv_repo *r, const char *name, const char *why) {
    pthread_mutex_lock(&r->mu);
    srv_model *m = model_find(r, name);
    if (!m && r->n < SRV_MAX_MODELS && (m = calloc(1, sizeof *m))) {
        snprintf(m->name, sizeof m->name, "%s", name);
        snprintf(m->state, sizeof m->state, "UNAVAILABLE");
        r->models[r->n++] = m;
    }
    if (m) snprintf(m->reason, sizeof m->reason, "%s", why);
    pthread_mutex_unlock(&r->mu);
}

static int same_file(const srv_version *v, const struct stat *st) {
    return v->dev == st->st_dev && v->ino == st->st_ino && v->size == st->st_size &&
           v->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
}

int srv_repo_load(srv_repo *r, const char *name, char *err, size_t cap) {
    if (!srv_name_ok(name)) {
        snprintf(err, cap, "'%.64s' is not a model name ([A-Za-z0-9_.-], not starting with '.')", name);
        return 404;
    }
    pthread_mutex_lock(&r->load_mu);
    char path[4400];
    snprintf(path, sizeof path, "%s/%s", r->dir, name);
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "no model directory '%s' in the repository", name);
        pthread_mutex_unlock(&r->load_mu);
        return 404;
    }
    mcfg c;
    int64_t want[SRV_MAX_VERSIONS];
    int nwant = 0;
    if (!config_read(r->dir, name, &c, err, cap) || !versions_wanted(r, name, &c, want, &nwant, err, cap)) {
        model_set_failed(r, name, err);
        pthread_mutex_unlock(&r->load_mu);
        return 400;
    }
    /* What is served now, with references of our own. */
    srv_version *cur[SRV_MAX_VERSIONS];
    int ncur = 0;
    pthread_mutex_lock(&r->mu);
    srv_model *m = model_find(r, name);
    if (m)
        for (int i = 0; i < m->nver; i++) {
            cur[ncur] = m->ver[i];
            atomic_fetch_add(&cur[ncur++]->refs, 1);
        }
    pthread_mutex_unlock(&r->mu);

    srv_version *next[SRV_MAX_VERSIONS];
    int nnext = 0, failed = 0;
    for (int i = 0; i < nwant && !failed; i++) {
        srv_version *keep = NULL;
        char mp[4400];
        model_path(r, name, want[i], mp, sizeof mp);
        struct stat fs;
        for (int j = 0; j < ncur; j++)
            if (cur[j]->version == want[i] && stat(mp, &fs) == 0 && same_file(cur[j], &fs)) keep = cur[j];
        if (keep) {
            atomic_fetch_add(&keep->refs, 1);
            next[nnext++] = keep;
        } else if ((next[nnext] = version_load(r, name, want[i], &c, err, cap))) {
            nnext++;
        } else {
            failed = 1;
        }
    }
    for (int j = 0; j < ncur; j++) srv_version_release(cur[j]);
    if (failed) {
        for (int i = 0; i < nnext; i++) srv_version_release(next[i]);
        model_set_failed(r, name, err);
        pthread_mutex_unlock(&r->load_mu);
        return 400;
    }
    /* The swap: one pointer list replaced under the lock. */
    srv_version *old[SRV_MAX_VERSIONS];
    int nold = 0, full = 0;
    pthread_mutex_lock(&r->mu);
    m = model_find(r, name);
    if (!m) {
        if (r->n < SRV_MAX_MODELS && (m = calloc(1, sizeof *m))) {
            snprintf(m->name, sizeof m->name, "%s", name);
            r->models[r->n++] = m;
        } else full = 1;
    }
    if (m) {
        nold = m->nver;
        memcpy(old, m->ver, (size_t)nold * sizeof *old);
        memcpy(m->ver, next, (size_t)nnext * sizeof *next);
        m->nver = nnext;
        snprintf(m->state, sizeof m->state, "READY");
        m->reason[0] = 0;
    }
    pthread_mutex_unlock(&r->mu);
    if (full) {
        for (int i = 0; i < nnext; i++) srv_version_release(next[i]);
        snprintf(err, cap, "the repository serves %d models already", SRV_MAX_MODELS);
        pthread_mutex_unlock(&r->load_mu);
        return 400;
    }
    for (int i = 0; i < nold; i++) srv_version_release(old[i]);
    if (nold) heap_trim();
    pthread_mutex_unlock(&r->load_mu);
    return 0;
}

int srv_repo_unload(srv_repo *r, const char *name, char *err, size_t cap) {
    pthread_mutex_lock(&r->load_mu);
    srv_version *old[SRV_MAX_VERSIONS];
    int nold = 0, found = 0;
    pthread_mutex_lock(&r->mu);
    srv_model *m = model_find(r, name);
    if (m) {
        found = 1;
        nold = m->nver;
        memcpy(old, m->ver, (size_t)nold * sizeof *old);
        m->nver = 0;
        snprintf(m->state, sizeof m->state, "UNAVAILABLE");
        snprintf(m->reason, sizeof m->reason, "unloaded");
    }
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < nold; i++) srv_version_release(old[i]);
    if (nold) heap_trim();
    pthread_mutex_unlock(&r->load_mu);
    if (!found) {
        snprintf(err, cap, "model '%.128s' is not loaded", name);
        return 404;
    }
    return 0;
}

void srv_repo_scan(srv_repo *r, int unload_missing) {
    DIR *d = opendir(r->dir);
    if (!d) {
        fprintf(stderr, "nnedge serve: repository %s: %s\n", r->dir, strerror(errno));
        return;
    }
    char names[SRV_MAX_MODELS][SRV_NAME_MAX];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < SRV_MAX_MODELS) {
        if (!srv_name_ok(de->d_name)) continue;
        char p[4400];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", r->dir, de->d_name);
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        memcpy(names[n++], de->d_name, strlen(de->d_name) + 1); /* srv_name_ok: shorter than SRV_NAME_MAX */
    }
    closedir(d);
    for (int i = 0; i < n; i++) {
        char err[512], before[256] = "";
        pthread_mutex_lock(&r->mu);
        srv_model *m = model_find(r, names[i]);
        if (m) snprintf(before, sizeof before, "%s", m->reason);
        pthread_mutex_unlock(&r->mu);
        if (srv_repo_load(r, names[i], err, sizeof err) != 0 && strncmp(before, err, sizeof before - 1) != 0)
            fprintf(stderr, "nnedge serve: model %s: %s\n", names[i], err); /* once per new reason */
    }
    if (!unload_missing) return;
    char gone[SRV_MAX_MODELS][SRV_NAME_MAX];
    int ngone = 0;
    pthread_mutex_lock(&r->mu);
    for (int j = 0; j < r->n; j++) {
        int present = 0;
        for (int i = 0; i < n && !present; i++) present = strcmp(names[i], r->models[j]->name) == 0;
        if (!present && r->models[j]->nver > 0) snprintf(gone[ngone++], SRV_NAME_MAX, "%s", r->models[j]->name);
    }
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < ngone; i++) {
        char err[256];
        srv_repo_unload(r, gone[i], err, sizeof err);
    }
}

srv_version *srv_repo_get(srv_repo *r, const char *name, int64_t version, int *status, char *err, size_t cap) {
    srv_version *v = NULL;
    pthread_mutex_lock(&r->mu);
    srv_model *m = model_find(r, name);
    if (!m) {
        *status = 404;
        snprintf(err, cap, "unknown model '%.128s'", name);
    } else if (m->nver == 0) {
        *status = 400;
        snprintf(err, cap, "model '%.128s' is not ready: %s", name, m->reason[0] ? m->reason : "no version loaded");
    } else if (version < 0) {
        v = m->ver[m->nver - 1];
    } else {
        for (int i = 0; i < m->nver; i++)
            if (m->ver[i]->version == version) v = m->ver[i];
        if (!v) {
            *status = 404;
            snprintf(err, cap, "model '%.128s' has no version %lld loaded", name, (long long)version);
        }
    }
    if (v) atomic_fetch_add(&v->refs, 1);
    pthread_mutex_unlock(&r->mu);
    return v;
}

int srv_repo_versions(srv_repo *r, const char *name, int64_t *out, int cap) {
    int n = 0;
    pthread_mutex_lock(&r->mu);
    srv_model *m = model_find(r, name);
    for (int i = 0; m && i < m->nver && n < cap; i++) out[n++] = m->ver[i]->version;
    pthread_mutex_unlock(&r->mu);
    return n;
}

int srv_repo_metadata(srv_repo *r, const char *name, int64_t version, srv_buf *b, char *err, size_t cap) {
    int status = 0;
    srv_version *v = srv_repo_get(r, name, version, &status, err, cap);
    if (!v) return status;
    srv_buf_str(b, "{\"name\":");
    srv_buf_json_str(b, name);
    srv_buf_str(b, ",\"versions\":[");
    pthread_mutex_lock(&r->mu);
    srv_model *m = model_find(r, name);
    for (int i = 0; m && i < m->nver; i++) srv_buf_fmt(b, "%s\"%lld\"", i ? "," : "", (long long)m->ver[i]->version);
    pthread_mutex_unlock(&r->mu);
    srv_buf_str(b, "],\"platform\":\"onnx\",");
    srv_version_io_json(v, b);
    srv_buf_fmt(b, ",\"parameters\":{\"max_batch_size\":%d}}", v->max_batch);
    srv_version_release(v);
    return 0;
}

void srv_repo_index(srv_repo *r, int ready_only, srv_buf *b) {
    srv_buf_str(b, "[");
    int first = 1;
    pthread_mutex_lock(&r->mu);
    for (int i = 0; i < r->n; i++) {
        srv_model *m = r->models[i];
        for (int k = 0; k < m->nver; k++) {
            srv_buf_str(b, first ? "{\"name\":" : ",{\"name\":");
            first = 0;
            srv_buf_json_str(b, m->name);
            srv_buf_fmt(b, ",\"version\":\"%lld\",\"state\":\"READY\",\"reason\":\"\"}", (long long)m->ver[k]->version);
        }
        if (m->nver == 0 && !ready_only) {
            srv_buf_str(b, first ? "{\"name\":" : ",{\"name\":");
            first = 0;
            srv_buf_json_str(b, m->name);
            srv_buf_str(b, ",\"state\":\"UNAVAILABLE\",\"reason\":");
            srv_buf_json_str(b, m->reason);
            srv_buf_str(b, "}");
        }
    }
    pthread_mutex_unlock(&r->mu);
    /* Model directories never loaded (explicit mode: added after start). */
    DIR *d = ready_only ? NULL : opendir(r->dir);
    struct dirent *de;
    while (d && (de = readdir(d))) {
        if (!srv_name_ok(de->d_name)) continue;
        char p[4400];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", r->dir, de->d_name);
        if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) continue;
        pthread_mutex_lock(&r->mu);
        int known = model_find(r, de->d_name) != NULL;
        pthread_mutex_unlock(&r->mu);
        if (known) continue;
        srv_buf_str(b, first ? "{\"name\":" : ",{\"name\":");
        first = 0;
        srv_buf_json_str(b, de->d_name);
        srv_buf_str(b, ",\"state\":\"UNAVAILABLE\",\"reason\":\"not loaded\"}");
    }
    if (d) closedir(d);
    srv_buf_str(b, "]");
}

void srv_repo_free(srv_repo *r) {
    for (int i = 0; i < r->n; i++) {
        for (int k = 0; k < r->models[i]->nver; k++) srv_version_release(r->models[i]->ver[k]);
        free(r->models[i]);
    }
    r->n = 0;
    pthread_mutex_destroy(&r->mu);
    pthread_mutex_destroy(&r->load_mu);
}
