/*
 * calib.c - calibration: runs the float model over the calibration samples
 * with an observer (nne_session_set_observer) and records, per float tensor,
 * its min and max (pass 1) and a histogram of |x| over [0, amax] with
 * NNE_QHIST_BINS bins (pass 2, only for the histogram methods: the bins need
 * the final amax, and keeping every activation of 1,000 samples would take
 * gigabytes). Model inputs get the same statistics from the data itself.
 * Also the checks of calibration and evaluation data (shape, dtype, empty
 * set, NaN/Inf) and the batch loop shared with evaluation.
 */
#include "quant/quant.h"
#include "core/core.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------- statistics -- */

static uint32_t name_hash(const char *s) {
    uint32_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

void nne_qstats_free(nne_qstats *q) {
    for (int i = 0; i < q->n; i++) {
        nne_free(q->s[i].name);
        nne_free(q->s[i].hist);
    }
    nne_free(q->s);
    nne_free(q->hash);
    memset(q, 0, sizeof *q);
}

nne_qstat *nne_qstats_find(const nne_qstats *q, const char *name) {
    if (!q->hash_cap) return NULL;
    for (uint32_t h = name_hash(name) & (q->hash_cap - 1);; h = (h + 1) & (q->hash_cap - 1)) {
        int i = q->hash[h];
        if (i < 0) return NULL;
        if (!strcmp(q->s[i].name, name)) return &q->s[i];
    }
}

static nne_qstat *qstats_add(nne_qstats *q, const char *name) {
    nne_qstat *f = nne_qstats_find(q, name);
    if (f) return f;
    if (q->n == q->cap) {
        int cap = q->cap ? q->cap * 2 : 64;
        nne_qstat *s = nne_realloc(q->s, (size_t)cap * sizeof *s);
        if (!s) return NULL;
        q->s = s;
        q->cap = cap;
    }
    if ((q->n + 1) * 2 > q->hash_cap) {
        int hc = q->hash_cap ? q->hash_cap * 2 : 128;
        while ((q->n + 1) * 2 > hc) hc *= 2;
        int *h = nne_malloc((size_t)hc * sizeof *h);
        if (!h) return NULL;
        for (int i = 0; i < hc; i++) h[i] = -1;
        for (int i = 0; i < q->n; i++) {
            uint32_t k = name_hash(q->s[i].name) & (hc - 1);
            while (h[k] >= 0) k = (k + 1) & (hc - 1);
            h[k] = i;
        }
        nne_free(q->hash);
        q->hash = h;
        q->hash_cap = hc;
    }
    nne_qstat *s = &q->s[q->n];
    memset(s, 0, sizeof *s);
    if (!(s->name = nne_strdup(name))) return NULL;
    s->min = INFINITY;
    s->max = -INFINITY;
    uint32_t k = name_hash(name) & (q->hash_cap - 1);
    while (q->hash[k] >= 0) k = (k + 1) & (q->hash_cap - 1);
    q->hash[k] = q->n++;
    return s;
}

/* Pass 1 on n floats; returns the index of the first NaN/Inf or -1. */
static int64_t stat_minmax(nne_qstat *s, const float *x, int64_t n) {
    float lo = INFINITY, hi = -INFINITY;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        if (!isfinite(v)) return i;
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
    }
    if (lo < s->min) s->min = lo;
    if (hi > s->max) s->max = hi;
    s->count += n;
    return -1;
}

static int stat_hist(nne_qstat *s, const float *x, int64_t n) {
    if (!s->hist) {
        if (!(s->hist = nne_calloc(NNE_QHIST_BINS, sizeof(double)))) return 0;
    }
    if (!(s->amax > 0)) {
        s->zeros += (double)n;
        return 1;
    }
    double inv = NNE_QHIST_BINS / s->amax;
    if (!isfinite(inv)) inv = 0; /* amax denormal: everything in bin 0 */
    for (int64_t i = 0; i < n; i++) {
        if (x[i] == 0) { /* exact on any grid: kept apart (see range.c) */
            s->zeros += 1.0;
            continue;
        }
        double a = fabs((double)x[i]) * inv;
        int b = a >= NNE_QHIST_BINS ? NNE_QHIST_BINS - 1 : (int)a;
        s->hist[b] += 1.0;
    }
    return 1;
}

/* ---------------------------------------------------------------- data -- */

static int find_input(const nne_model *m, const char *name, nne_value_info *vi) {
    for (int32_t i = 0; i < nne_model_num_inputs(m); i++)
        if (nne_model_input_info(m, i, vi) == NNE_OK && !strcmp(vi->name, name)) return 1;
    return 0;
}

static void dims_str(char *b, size_t cap, int ndim, const int64_t *dims, const char *const *names) {
    size_t o = 0;
    b[0] = 0;
    o += snprintf(b + o, cap - o, "(");
    for (int d = 0; d < ndim && o < cap; d++)
        o += dims[d] >= 0 || !names || !names[d]
                 ? (dims[d] >= 0 ? snprintf(b + o, cap - o, "%s%lld", d ? ", " : "", (long long)dims[d])
                                 : snprintf(b + o, cap - o, "%s?", d ? ", " : ""))
                 : snprintf(b + o, cap - o, "%s%s", d ? ", " : "", names[d]);
    if (o < cap) snprintf(b + o, cap - o, ")");
}

nne_status nne_quant_check_data(const nne_model *m, int32_t n, const char *const *names, const nne_tensor *data,
                                const char *what, int64_t *samples) {
    *samples = -1;
    if (n < 1 || !names || !data) return nne_error(NNE_ERR_INVALID_ARG, "%s: no data given", what);
    for (int32_t i = 0; i < nne_model_num_inputs(m); i++) {
        nne_value_info vi;
        if (nne_model_input_info(m, i, &vi) != NNE_OK) continue;
        int given = 0;
        for (int32_t k = 0; k < n; k++) given |= names[k] && !strcmp(names[k], vi.name);
        if (!given)
            return nne_error(NNE_ERR_INVALID_ARG, "%s: no data for model input \"%s\" (every input needs samples)",
                             what, vi.name);
    }
    for (int32_t k = 0; k < n; k++) {
        nne_value_info vi;
        const nne_tensor *t = &data[k];
        if (!names[k] || !find_input(m, names[k], &vi))
            return nne_error(NNE_ERR_INVALID_ARG, "%s: the model has no input \"%s\"", what,
                             names[k] ? names[k] : "(null)");
        char want[256], got[256];
        dims_str(want, sizeof want, vi.ndim, vi.dims, vi.dim_names);
        dims_str(got, sizeof got, t->ndim, t->dims, NULL);
        if (t->dtype != vi.dtype)
            return nne_error(NNE_ERR_INVALID_ARG, "%s: data for input \"%s\" is %s, the model takes %s%s", what,
                             vi.name, nne_dtype_name(t->dtype), nne_dtype_name(vi.dtype),
                             vi.dtype == NNE_DTYPE_FLOAT ? " (convert it, e.g. with --scale for uint8 pixels)" : "");
        if (vi.ndim >= 0 && t->ndim != vi.ndim)
            return nne_error(NNE_ERR_INVALID_ARG,
                             "%s: data for input \"%s\" has shape %s, the model takes %s (samples on axis 0)",
                             what, vi.name, got, want);
        if (t->ndim < 1 || nne_tensor_numel(t) < 0)
            return nne_error(NNE_ERR_INVALID_ARG, "%s: data for input \"%s\" has shape %s: needs samples on axis 0",
                             what, vi.name, got);
        for (int d = 1; d < t->ndim; d++)
            if (vi.ndim >= 0 && vi.dims[d] >= 0 && vi.dims[d] != t->dims[d])
                return nne_error(NNE_ERR_INVALID_ARG,
                                 "%s: data for input \"%s\" has shape %s, the model takes %s (dim %d: %lld, "
                                 "expected %lld)",
                                 what, vi.name, got, want, d, (long long)t->dims[d], (long long)vi.dims[d]);
        if (t->dims[0] == 0)
            return nne_error(NNE_ERR_INVALID_ARG, "%s: data for input \"%s\" is empty (shape %s, no samples)", what,
                             vi.name, got);
        if (*samples >= 0 && t->dims[0] != *samples)
            return nne_error(NNE_ERR_INVALID_ARG, "%s: inputs have different sample counts (%lld and %lld)", what,
                             (long long)*samples, (long long)t->dims[0]);
        *samples = t->dims[0];
        if (!t->data && nne_tensor_numel(t) > 0)
            return nne_error(NNE_ERR_INVALID_ARG, "%s: data for input \"%s\" has no buffer", what, vi.name);
        if (t->dtype == NNE_DTYPE_FLOAT) {
            const float *x = t->data;
            int64_t ne = nne_tensor_numel(t), per = ne / t->dims[0];
            for (int64_t j = 0; j < ne; j++)
                if (!isfinite(x[j]))
                    return nne_error(NNE_ERR_INVALID_ARG, "%s: data for input \"%s\" holds %s at sample %lld (element %lld)",
                                     what, vi.name, isnan(x[j]) ? "NaN" : "an infinity", (long long)(j / per),
                                     (long long)j);
        }
    }
    return NNE_OK;
}

/* ----------------------------------------------------------- batch loop -- */

nne_status nne_qbatcher_open(nne_qbatcher *qb, const nne_qrun *r, nne_observer_fn obs, void *obs_user) {
    memset(qb, 0, sizeof *qb);
    qb->r = r;
    qb->obs = obs;
    qb->obs_user = obs_user;
    qb->prepared = -1;
    nne_value_info vi;
    if (!find_input(r->m, r->names[0], &vi)) return nne_error(NNE_ERR_INVALID_ARG, "quantize: no input %s", r->names[0]);
    int64_t fixed = vi.ndim > 0 && vi.dims[0] >= 0 ? vi.dims[0] : -1;
    if (fixed == 0) return nne_error(NNE_ERR_UNSUPPORTED, "quantize: input \"%s\" has a batch dim of 0", vi.name);
    if (fixed > 0 && r->samples % fixed)
        return nne_error(NNE_ERR_INVALID_ARG,
                         "quantize: %lld samples are not a multiple of the model's fixed batch size %lld "
                         "(input \"%s\")", (long long)r->samples, (long long)fixed, vi.name);
    qb->batch = fixed > 0 ? fixed : (r->batch > 0 ? r->batch : 32);
    nne_session_options so = nne_session_options_default();
    so.threads = r->threads > 0 ? r->threads : 1;
    NNE_TRY(nne_session_create(r->m, &so, &qb->s));
    if (!(qb->in = nne_calloc((size_t)r->n, sizeof *qb->in))) {
        nne_qbatcher_close(qb);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    }
    return NNE_OK;
}

nne_status nne_qbatcher_run(nne_qbatcher *qb, const char *stage, int64_t first, int64_t cnt) {
    const nne_qrun *r = qb->r;
    nne_status st = NNE_OK;
    for (int32_t k = 0; k < r->n; k++) {
        const nne_tensor *t = &r->data[k];
        qb->in[k] = *t;
        qb->in[k].dims[0] = cnt;
        size_t per = nne_tensor_nbytes(t) / (size_t)t->dims[0];
        qb->in[k].data = (char *)t->data + (size_t)first * per;
    }
    if (cnt != qb->prepared) {
        st = nne_session_prepare(qb->s, r->n, r->names, qb->in);
        if (st != NNE_OK)
            return nne_error(st, "quantize: preparing the model for %lld samples: %s", (long long)cnt,
                             nne_session_last_error(qb->s));
        if (qb->obs) nne_session_set_observer(qb->s, qb->obs, qb->obs_user);
        qb->prepared = cnt;
    }
    for (int32_t k = 0; k < r->n && st == NNE_OK; k++) st = nne_session_set_input(qb->s, r->names[k], &qb->in[k]);
    if (st == NNE_OK) st = nne_session_run(qb->s);
    if (st != NNE_OK)
        return nne_error(st, "quantize: %s: running samples %lld..%lld: %s", stage, (long long)first,
                         (long long)(first + cnt - 1), nne_session_last_error(qb->s));
    return NNE_OK;
}

void nne_qbatcher_close(nne_qbatcher *qb) {
    nne_session_destroy(qb->s);
    nne_free(qb->in);
    memset(qb, 0, sizeof *qb);
}

nne_status nne_quant_run_batches(const nne_qrun *r, const char *stage, nne_observer_fn obs, void *obs_user,
                                 nne_qbatch_fn fn, void *fn_user) {
    nne_qbatcher qb;
    nne_status st = nne_qbatcher_open(&qb, r, obs, obs_user);
    for (int64_t first = 0; first < r->samples && st == NNE_OK; first += qb.batch) {
        int64_t cnt = r->samples - first < qb.batch ? r->samples - first : qb.batch;
        st = nne_qbatcher_run(&qb, stage, first, cnt);
        if (st == NNE_OK && fn) st = fn(fn_user, qb.s, first, cnt);
        if (r->progress) r->progress(r->progress_user, stage, first + cnt, r->samples);
    }
    nne_qbatcher_close(&qb);
    return st;
}

/* ---------------------------------------------------------- calibration -- */

typedef struct calib_obs {
    nne_qstats *q;
    int pass;
    nne_status st;
    char bad[512];
} calib_obs;

static void calib_observe_(calib_obs *c, const char *node, const char *op, int32_t n, const char *const *names,
                           const nne_tensor *outs);
/* Observers run inside the session's run, while its memory budget is the
 * thread's current one: statistics outlive the session, so they are
 * allocated outside any budget (else freeing them later would uncharge a
 * budget that is gone). */
static void calib_observe(void *user, const char *node, const char *op, int32_t n, const char *const *names,
                          const nne_tensor *outs) {
    nne_budget *prev = nne_budget_enter(NULL);
    calib_observe_(user, node, op, n, names, outs);
    nne_budget_leave(prev);
}

static void calib_observe_(calib_obs *c, const char *node, const char *op, int32_t n, const char *const *names,
                           const nne_tensor *outs) {
    if (c->st != NNE_OK) return;
    for (int32_t i = 0; i < n; i++) {
        const nne_tensor *t = &outs[i];
        if (t->dtype != NNE_DTYPE_FLOAT || !names[i] || !names[i][0]) continue;
        int64_t ne = nne_tensor_numel(t);
        if (ne <= 0 || !t->data) continue;
        nne_qstat *s = c->pass == 1 ? qstats_add(c->q, names[i]) : nne_qstats_find(c->q, names[i]);
        if (!s) {
            if (c->pass == 1) c->st = NNE_ERR_OUT_OF_MEMORY;
            continue;
        }
        if (c->pass == 1) {
            int64_t bad = stat_minmax(s, t->data, ne);
            if (bad >= 0) {
                c->st = NNE_ERR_INVALID_ARG;
                snprintf(c->bad, sizeof c->bad,
                         "calibration: node \"%s\" (%s) output \"%s\" holds %s (element %lld): the float model "
                         "itself overflows on this data; check the data and its scaling",
                         node, op, names[i], isnan(((const float *)t->data)[bad]) ? "NaN" : "an infinity",
                         (long long)bad);
                return;
            }
        } else if (!stat_hist(s, t->data, ne)) {
            c->st = NNE_ERR_OUT_OF_MEMORY;
        }
    }
}

nne_status nne_quant_calibrate(const nne_qrun *r, int histograms, nne_qstats *q) {
    calib_obs c = {.q = q, .pass = 1, .st = NNE_OK};
    for (int32_t k = 0; k < r->n; k++) {
        if (r->data[k].dtype != NNE_DTYPE_FLOAT) continue;
        nne_qstat *s = qstats_add(q, r->names[k]);
        if (!s) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
        stat_minmax(s, r->data[k].data, nne_tensor_numel(&r->data[k])); /* finite: checked before */
    }
    nne_status st = nne_quant_run_batches(r, "calibrate", calib_observe, &c, NULL, NULL);
    if (st == NNE_OK && c.st != NNE_OK)
        st = c.st == NNE_ERR_OUT_OF_MEMORY ? nne_error(c.st, "quantize: out of memory") : nne_error(c.st, "%s", c.bad);
    if (st != NNE_OK || !histograms) return st;
    for (int i = 0; i < q->n; i++) {
        nne_qstat *s = &q->s[i];
        s->amax = fmax(fabs(s->min), fabs(s->max));
    }
    for (int32_t k = 0; k < r->n; k++) {
        nne_qstat *s = r->data[k].dtype == NNE_DTYPE_FLOAT ? nne_qstats_find(q, r->names[k]) : NULL;
        if (s && !stat_hist(s, r->data[k].data, nne_tensor_numel(&r->data[k])))
            return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    }
    c.pass = 2;
    st = nne_quant_run_batches(r, "histogram", calib_observe, &c, NULL, NULL);
    if (st == NNE_OK && c.st != NNE_OK) st = nne_error(c.st, "quantize: out of memory");
    return st;
}
