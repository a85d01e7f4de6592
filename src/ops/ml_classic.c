/*
 * ml_classic.c - ops of the ai.onnx.ml domain: ArrayFeatureExtractor, Binarizer,
 * LabelEncoder (numeric keys and values; string tensors are not supported by
 * nnedge), TreeEnsemble (ml opset 5) and the deprecated TreeEnsembleRegressor.
 */
#include "ops/op.h"
#include "core/core.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------ ArrayFeatureExtractor -- */

/* Z = X[..., Y] with Y flattened; a 1-D X gives shape [1, len(Y)]. */
/* ArrayFeatureExtractor: indices are data, checked on every run */
typedef struct afe_state {
    int64_t k;
    int64_t last;
} afe_state;

static nne_status afe_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *idx = nne_ctx_input(ctx, 1);
    if (!x || !idx) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs X and Y are required");
    if (!nne_dtype_size(x->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(x->dtype));
    if (!nne_dtype_is_int(idx->dtype) || idx->dtype == NNE_DTYPE_BOOL)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "indices must be int64, got %s", nne_dtype_name(idx->dtype));
    if (x->ndim < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must have rank >= 1, got a scalar");
    int64_t k = nne_tensor_numel(idx), last = x->dims[x->ndim - 1];
    int64_t dims[NNE_MAX_DIMS];
    int nd;
    if (x->ndim == 1) {
        dims[0] = 1;
        dims[1] = k;
        nd = 2;
    } else {
        nd = x->ndim;
        for (int i = 0; i < nd - 1; i++) dims[i] = x->dims[i];
        dims[nd - 1] = k;
    }
    nne_tensor *z;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, nd, dims, &z));
    afe_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->k = k;
        st_->last = last;
    }
    return NNE_OK;
}

static nne_status afe_kernel(const void *state, const nne_kernel_args *a) {
    const afe_state *st_ = state;
    const nne_tensor *x = a->in[0];
    const nne_tensor *idx = a->n_in > 1 ? a->in[1] : NULL;
    nne_tensor *z = a->out[0];
    int64_t k = st_->k;
    int64_t last = st_->last;
    nne_op_ctx *ctx = a->ctx;
    for (int64_t j = 0; j < k; j++) {
        int64_t v = nne_tensor_get_i64(idx, j);
        if (v < 0 || v >= last)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "index Y[%lld] = %lld is outside [0, %lld)", (long long)j,
                                (long long)v, (long long)last);
    }
    size_t es = nne_dtype_size(x->dtype);
    int64_t rows = last ? nne_tensor_numel(x) / last : 0;
    const uint8_t *src = x->data;
    uint8_t *dst = z->data;
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < k; j++) {
            int64_t v = nne_tensor_get_i64(idx, j);
            memcpy(dst + (size_t)(r * k + j) * es, src + (size_t)(r * last + v) * es, es);
        }
    return NNE_OK;
}

/* ------------------------------------------------------------ Binarizer -- */

/* Binarizer: threshold parsed once per plan */
typedef struct binarizer_state {
    double thr;
} binarizer_state;

static nne_status binarizer_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    if (!nne_dtype_size(x->dtype) || x->dtype == NNE_DTYPE_BOOL)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(x->dtype));
    nne_tensor *y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, x, &y));
    double thr = nne_attr_f(ctx, "threshold", 0.f);
    binarizer_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->thr = thr;
    }
    return NNE_OK;
}

static nne_status binarizer_kernel(const void *state, const nne_kernel_args *a) {
    const binarizer_state *st_ = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    double thr = st_->thr;
    int64_t n = nne_tensor_numel(x);
    if (x->dtype == NNE_DTYPE_FLOAT) {
        const float *xs = x->data;
        float *ys = y->data, t = (float)thr;
        for (int64_t i = 0; i < n; i++) ys[i] = xs[i] > t ? 1.f : 0.f;
    } else {
        for (int64_t i = 0; i < n; i++) nne_tensor_set_f64(y, i, nne_tensor_get_f64(x, i) > thr ? 1.0 : 0.0);
    }
    return NNE_OK;
}

/* --------------------------------------------------------- LabelEncoder -- */

/* A list of keys or values: an ints/floats attribute or a 1-D tensor attribute. */
typedef struct {
    int64_t n;
    const int64_t *ints;
    const float *floats;
    const nne_tensor *t;
    nne_dtype dt; /* element type it maps to */
} le_list;

static int64_t le_get_i(const le_list *l, int64_t i) {
    return l->ints ? l->ints[i] : l->floats ? (int64_t)l->floats[i] : nne_tensor_get_i64(l->t, i);
}
static double le_get_f(const le_list *l, int64_t i) {
    return l->ints ? (double)l->ints[i] : l->floats ? l->floats[i] : nne_tensor_get_f64(l->t, i);
}

/* Finds "<prefix>_int64s", "_floats", "_tensor" (and "_strings": unsupported). */
static nne_status le_list_get(nne_op_ctx *ctx, const char *prefix, le_list *l) {
    char name[32];
    memset(l, 0, sizeof *l);
    int found = 0, n;
    snprintf(name, sizeof name, "%s_strings", prefix);
    if (nne_attr_has(ctx, name))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "%s: string keys/values are not supported", name);
    snprintf(name, sizeof name, "%s_int64s", prefix);
    if ((n = nne_attr_ints(ctx, name, &l->ints)) >= 0) {
        l->n = n;
        l->dt = NNE_DTYPE_INT64;
        found++;
    }
    snprintf(name, sizeof name, "%s_floats", prefix);
    if ((n = nne_attr_floats(ctx, name, &l->floats)) >= 0) {
        l->n = n;
        l->dt = NNE_DTYPE_FLOAT;
        found++;
    }
    snprintf(name, sizeof name, "%s_tensor", prefix);
    if ((l->t = nne_attr_t(ctx, name)) != NULL) {
        if (!nne_dtype_size(l->t->dtype) || l->t->dtype == NNE_DTYPE_BOOL)
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "%s of dtype %s is not supported", name,
                                nne_dtype_name(l->t->dtype));
        l->n = nne_tensor_numel(l->t);
        l->dt = l->t->dtype;
        found++;
    }
    if (found != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "exactly one of %s_int64s/_floats/_tensor must be set, found %d",
                            prefix, found);
    return NNE_OK;
}

typedef struct {
    int64_t ik;  /* key as an integer (integer keys) */
    double fk;   /* key as a double (float keys) */
    int64_t idx; /* position in the lists */
} le_entry;

static int le_cmp_i(const void *pa, const void *pb) {
    const le_entry *a = pa, *b = pb;
    if (a->ik != b->ik) return a->ik < b->ik ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}
static int le_cmp_f(const void *pa, const void *pb) {
    const le_entry *a = pa, *b = pb;
    if (a->fk != b->fk) return a->fk < b->fk ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* LabelEncoder in phases: the sorted key table is built once per plan (the
 * keys are attributes) and kept in the state. */
typedef struct le_state {
    le_list vals;
    int key_float, val_float;
    nne_dtype odt;
    int64_t def_i;
    double def_f;
    int64_t nt, nan_idx;
    le_entry *tab;
} le_state;

static void le_state_free(void *state) {
    le_state *st = state;
    nne_free(st->tab);
}

static nne_status label_encoder_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    if (nne_ctx_opset(ctx) < 2)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "LabelEncoder-1 maps strings, which are not supported");
    le_list keys, vals;
    NNE_TRY(le_list_get(ctx, "keys", &keys));
    NNE_TRY(le_list_get(ctx, "values", &vals));
    if (keys.n != vals.n)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%lld keys but %lld values", (long long)keys.n,
                            (long long)vals.n);
    int key_float = nne_dtype_is_float(keys.dt);
    if (nne_dtype_is_float(x->dtype) != key_float || !nne_dtype_size(x->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input dtype %s does not match the keys' dtype %s",
                            nne_dtype_name(x->dtype), nne_dtype_name(keys.dt));
    nne_dtype odt = vals.dt;
    /* default: default_tensor, else default_int64 / default_float */
    const nne_tensor *dtens = nne_attr_t(ctx, "default_tensor");
    if (dtens && nne_tensor_numel(dtens) < 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "default_tensor is empty");
    nne_tensor *y;
    int64_t dims[NNE_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = x->dims[i];
    NNE_TRY(nne_ctx_output(ctx, 0, odt, x->ndim, dims, &y));
    le_state *st = nne_ctx_plan_state(ctx);
    if (!st) return NNE_OK;
    le_entry *tab = nne_malloc(nne_size_elems(keys.n ? keys.n : 1, sizeof(le_entry)));
    if (!tab) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate the key table");
    int val_float = nne_dtype_is_float(odt);
    int64_t def_i = dtens ? nne_tensor_get_i64(dtens, 0) : nne_attr_i(ctx, "default_int64", -1);
    double def_f = dtens ? nne_tensor_get_f64(dtens, 0) : nne_attr_f(ctx, "default_float", -0.0f);
    /* sorted table of the keys; a repeated key maps to its last value; NaN keys match NaN */
    int64_t nt = 0, nan_idx = -1;
    for (int64_t i = 0; i < keys.n; i++) {
        le_entry e = {0, 0.0, i};
        if (key_float) {
            e.fk = le_get_f(&keys, i);
            if (e.fk != e.fk) {
                nan_idx = i;
                continue;
            }
        } else {
            e.ik = le_get_i(&keys, i);
        }
        tab[nt++] = e;
    }
    qsort(tab, (size_t)nt, sizeof *tab, key_float ? le_cmp_f : le_cmp_i);
    *st = (le_state){.vals = vals, .key_float = key_float, .val_float = val_float, .odt = odt,
                     .def_i = def_i, .def_f = def_f, .nt = nt, .nan_idx = nan_idx, .tab = tab};
    return NNE_OK;
}

static nne_status label_encoder_kernel(const void *state, const nne_kernel_args *a) {
    const le_state *st = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    const le_list vals = st->vals;
    int key_float = st->key_float, val_float = st->val_float;
    nne_dtype odt = st->odt;
    int64_t def_i = st->def_i, nt = st->nt, nan_idx = st->nan_idx;
    double def_f = st->def_f;
    const le_entry *tab = st->tab;
    int64_t n = nne_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t hit = -1;
        if (key_float) {
            double v = nne_tensor_get_f64(x, i);
            if (v != v) {
                hit = nan_idx;
            } else { /* last entry with fk == v */
                int64_t lo = 0, hi = nt;
                while (lo < hi) {
                    int64_t mid = lo + (hi - lo) / 2;
                    if (tab[mid].fk <= v) lo = mid + 1;
                    else hi = mid;
                }
                if (lo > 0 && tab[lo - 1].fk == v) hit = tab[lo - 1].idx;
            }
        } else {
            int64_t v = nne_tensor_get_i64(x, i);
            int64_t lo = 0, hi = nt;
            while (lo < hi) {
                int64_t mid = lo + (hi - lo) / 2;
                if (tab[mid].ik <= v) lo = mid + 1;
                else hi = mid;
            }
            if (lo > 0 && tab[lo - 1].ik == v) hit = tab[lo - 1].idx;
        }
        if (val_float) {
            nne_tensor_set_f64(y, i, hit >= 0 ? le_get_f(&vals, hit) : def_f);
        } else if (odt == NNE_DTYPE_INT64) {
            ((int64_t *)y->data)[i] = hit >= 0 ? le_get_i(&vals, hit) : def_i;
        } else {
            nne_tensor_set_f64(y, i, (double)(hit >= 0 ? le_get_i(&vals, hit) : def_i));
        }
    }
    return NNE_OK;
}

/* --------------------------------------------------------- TreeEnsemble -- */

enum { TE_LEQ, TE_LT, TE_GTE, TE_GT, TE_EQ, TE_NEQ, TE_MEMBER };
enum { TE_AVG, TE_SUM, TE_MIN, TE_MAX };
enum { TE_NONE, TE_SOFTMAX, TE_LOGISTIC, TE_SOFTMAX_ZERO, TE_PROBIT };

typedef struct {
    int64_t nn, nl, nroots, ntargets;
    const int64_t *feat, *tnode, *fnode, *tleaf, *fleaf, *ltarget, *roots, *miss;
    const nne_tensor *splits, *modes, *lweights, *members;
} te_model;

/* Inverse error function: initial rational guess refined by Newton steps. */
static double te_erfinv(double y) {
    if (y <= -1.0) return -INFINITY;
    if (y >= 1.0) return INFINITY;
    double w = -log((1.0 - y) * (1.0 + y)), x;
    if (w < 5.0) {
        w -= 2.5;
        x = 2.81022636e-08;
        x = 3.43273939e-07 + x * w;
        x = -3.5233877e-06 + x * w;
        x = -4.39150654e-06 + x * w;
        x = 0.00021858087 + x * w;
        x = -0.00125372503 + x * w;
        x = -0.00417768164 + x * w;
        x = 0.246640727 + x * w;
        x = 1.50140941 + x * w;
    } else {
        w = sqrt(w) - 3.0;
        x = -0.000200214257;
        x = 0.000100950558 + x * w;
        x = 0.00134934322 + x * w;
        x = -0.00367342844 + x * w;
        x = 0.00573950773 + x * w;
        x = -0.0076224613 + x * w;
        x = 0.00943887047 + x * w;
        x = 1.00167406 + x * w;
        x = 2.83297682 + x * w;
    }
    x *= y;
    for (int i = 0; i < 2; i++) /* Newton on erf(x) - y */
        x -= (erf(x) - y) / (1.1283791670955126 * exp(-x * x));
    return x;
}

/* Applies post_transform to acc[0..n). */
static void te_post(int post, double *acc, int64_t n) {
    if (post == TE_SOFTMAX || post == TE_SOFTMAX_ZERO) {
        double mx = -INFINITY, sum = 0.0;
        for (int64_t t = 0; t < n; t++)
            if ((post == TE_SOFTMAX || acc[t] != 0.0) && acc[t] > mx) mx = acc[t];
        for (int64_t t = 0; t < n; t++) {
            if (post == TE_SOFTMAX_ZERO && acc[t] == 0.0) continue;
            acc[t] = exp(acc[t] - mx);
            sum += acc[t];
        }
        for (int64_t t = 0; t < n; t++)
            if (post == TE_SOFTMAX || acc[t] != 0.0) acc[t] = sum > 0.0 ? acc[t] / sum : 0.0;
    } else if (post == TE_LOGISTIC) {
        for (int64_t t = 0; t < n; t++) acc[t] = 1.0 / (1.0 + exp(-acc[t]));
    } else if (post == TE_PROBIT) {
        for (int64_t t = 0; t < n; t++) acc[t] = 1.4142135623730951 * te_erfinv(2.0 * acc[t] - 1.0);
    }
}

static nne_status te_ints(nne_op_ctx *ctx, const char *name, int64_t want, int required, const int64_t **out) {
    int n = nne_attr_ints(ctx, name, out);
    if (n < 0) {
        if (!required) return NNE_OK;
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute %s is required", name);
    }
    if (want >= 0 && n != want)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute %s has %d entries; expected %lld", name, n,
                            (long long)want);
    return NNE_OK;
}

static nne_status te_tensor(nne_op_ctx *ctx, const char *name, int64_t want, int required, const nne_tensor **out) {
    *out = nne_attr_t(ctx, name);
    if (!*out) {
        if (!required) return NNE_OK;
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute %s is required", name);
    }
    if (!nne_dtype_size((*out)->dtype) || (*out)->dtype == NNE_DTYPE_BOOL)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "attribute %s has dtype %s", name, nne_dtype_name((*out)->dtype));
    if (want >= 0 && nne_tensor_numel(*out) != want)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute %s has %lld entries; expected %lld", name,
                            (long long)nne_tensor_numel(*out), (long long)want);
    return NNE_OK;
}

static nne_status te_load(nne_op_ctx *ctx, te_model *m, int64_t nfeat) {
    memset(m, 0, sizeof *m);
    int n = nne_attr_ints(ctx, "nodes_featureids", &m->feat);
    if (n < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute nodes_featureids is required");
    m->nn = n;
    NNE_TRY(te_ints(ctx, "nodes_truenodeids", m->nn, 1, &m->tnode));
    NNE_TRY(te_ints(ctx, "nodes_falsenodeids", m->nn, 1, &m->fnode));
    NNE_TRY(te_ints(ctx, "nodes_trueleafs", m->nn, 1, &m->tleaf));
    NNE_TRY(te_ints(ctx, "nodes_falseleafs", m->nn, 1, &m->fleaf));
    NNE_TRY(te_ints(ctx, "nodes_missing_value_tracks_true", m->nn, 0, &m->miss));
    NNE_TRY(te_tensor(ctx, "nodes_splits", m->nn, 1, &m->splits));
    NNE_TRY(te_tensor(ctx, "nodes_modes", m->nn, 1, &m->modes));
    NNE_TRY(te_tensor(ctx, "membership_values", -1, 0, &m->members));
    n = nne_attr_ints(ctx, "leaf_targetids", &m->ltarget);
    if (n < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute leaf_targetids is required");
    m->nl = n;
    NNE_TRY(te_tensor(ctx, "leaf_weights", m->nl, 1, &m->lweights));
    n = nne_attr_ints(ctx, "tree_roots", &m->roots);
    if (n < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute tree_roots is required");
    m->nroots = n;
    m->ntargets = nne_attr_i(ctx, "n_targets", 1);
    if (m->ntargets < 1 || m->ntargets > ((int64_t)1 << 30))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "n_targets %lld is out of range", (long long)m->ntargets);
    /* every index must be in range */
    for (int64_t i = 0; i < m->nn; i++) {
        int64_t md = nne_tensor_get_i64(m->modes, i);
        if (md < TE_LEQ || md > TE_MEMBER)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "nodes_modes[%lld] = %lld is not a mode (0..6)",
                                (long long)i, (long long)md);
        if (m->feat[i] < 0 || m->feat[i] >= nfeat)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "nodes_featureids[%lld] = %lld is outside [0, %lld)",
                                (long long)i, (long long)m->feat[i], (long long)nfeat);
        int64_t tl = m->tleaf[i] ? m->nl : m->nn, fl = m->fleaf[i] ? m->nl : m->nn;
        if (m->tnode[i] < 0 || m->tnode[i] >= tl || m->fnode[i] < 0 || m->fnode[i] >= fl)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "node %lld branches to %lld/%lld, outside the %s/%s lists",
                                (long long)i, (long long)m->tnode[i], (long long)m->fnode[i],
                                m->tleaf[i] ? "leaf" : "node", m->fleaf[i] ? "leaf" : "node");
    }
    for (int64_t i = 0; i < m->nl; i++)
        if (m->ltarget[i] < 0 || m->ltarget[i] >= m->ntargets)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "leaf_targetids[%lld] = %lld is outside [0, %lld)",
                                (long long)i, (long long)m->ltarget[i], (long long)m->ntargets);
    for (int64_t i = 0; i < m->nroots; i++)
        if (m->roots[i] < 0 || m->roots[i] >= m->nn)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "tree_roots[%lld] = %lld is outside [0, %lld)",
                                (long long)i, (long long)m->roots[i], (long long)m->nn);
    return NNE_OK;
}

/* TreeEnsemble in phases: the model (pointers into the attributes, which live as long as the model) is loaded and checked once per plan */
typedef struct tree_ensemble_state {
    te_model m;
    int64_t nb;
    int64_t nf;
    int agg;
    int post;
    int64_t *mset; /* per node [start, end) of its membership set; built per plan */
} tree_ensemble_state;

static void tree_ensemble_state_free(void *state) {
    tree_ensemble_state *st = state;
    nne_free(st->mset);
}

/* Membership sets: consumed in node order, each ended by a NaN. */
static nne_status te_msets(nne_op_ctx *ctx, const te_model *m, int64_t **out) {
    int64_t *mset = nne_calloc((size_t)(m->nn > 0 ? 2 * m->nn : 1), sizeof(int64_t));
    if (!mset) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate the membership table");
    *out = mset;
    int64_t nmem = m->members ? nne_tensor_numel(m->members) : 0, pos = 0;
    for (int64_t i = 0; i < m->nn; i++) {
        if (nne_tensor_get_i64(m->modes, i) != TE_MEMBER) continue;
        if (pos >= nmem)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "membership_values has no set for node %lld",
                                (long long)i);
        mset[2 * i] = pos;
        while (pos < nmem) {
            double v = nne_tensor_get_f64(m->members, pos);
            if (v != v) break;
            pos++;
        }
        mset[2 * i + 1] = pos;
        pos++; /* the NaN */
    }
    return NNE_OK;
}

static nne_status tree_ensemble_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    if (!nne_dtype_is_float(x->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(x->dtype));
    if (x->ndim != 2 && x->ndim != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must be [batch, features], got rank %d", x->ndim);
    const int64_t nb = x->ndim == 2 ? x->dims[0] : 1, nf = x->dims[x->ndim - 1];
    te_model m;
    NNE_TRY(te_load(ctx, &m, nf));
    int agg = (int)nne_attr_i(ctx, "aggregate_function", TE_SUM), post = (int)nne_attr_i(ctx, "post_transform", TE_NONE);
    if (agg < TE_AVG || agg > TE_MAX)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "aggregate_function %d is not 0..3", agg);
    if (post < TE_NONE || post > TE_PROBIT)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "post_transform %d is not 0..4", post);
    int64_t dims[2] = {nb, m.ntargets};
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, 2, dims, &y));
    /* scratch: per node [start, end) of its membership set, per batch row the targets */
    nne_ctx_scratch(ctx, nne_size_elems(m.ntargets, sizeof(double))); /* acc */
    tree_ensemble_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->m = m;
        st_->nb = nb;
        st_->nf = nf;
        st_->agg = agg;
        st_->post = post;
        NNE_TRY(te_msets(ctx, &m, &st_->mset));
    }
    return NNE_OK;
}

static nne_status tree_ensemble_kernel(const void *state, const nne_kernel_args *args) {
    const tree_ensemble_state *st_ = state;
    const nne_tensor *x = args->in[0];
    nne_tensor *y = args->out[0];
    te_model m = st_->m;
    int64_t nb = st_->nb;
    int64_t nf = st_->nf;
    int agg = st_->agg;
    int post = st_->post;
    const int64_t *mset = st_->mset;
    nne_op_ctx *ctx = args->ctx;
    double *acc = args->scratch;


    double init = 0.0;
    if (agg == TE_MIN || agg == TE_MAX) {
        double big = x->dtype == NNE_DTYPE_DOUBLE ? DBL_MAX : x->dtype == NNE_DTYPE_FLOAT16 ? 65504.0
                     : x->dtype == NNE_DTYPE_BFLOAT16                                       ? 3.3895313892515355e38
                                                                                            : FLT_MAX;
        init = agg == TE_MIN ? big : -big;
    }
    for (int64_t b = 0; b < nb; b++) {
        for (int64_t t = 0; t < m.ntargets; t++) acc[t] = init;
        for (int64_t r = 0; r < m.nroots; r++) {
            int64_t node = m.roots[r], steps = 0;
            int leaf = 0;
            while (!leaf) {
                if (++steps > m.nn)
                    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "tree %lld has a cycle", (long long)r);
                double v = nne_tensor_get_f64(x, b * nf + m.feat[node]);
                double s = nne_tensor_get_f64(m.splits, node);
                int c;
                switch (nne_tensor_get_i64(m.modes, node)) {
                case TE_LEQ: c = v <= s; break;
                case TE_LT: c = v < s; break;
                case TE_GTE: c = v >= s; break;
                case TE_GT: c = v > s; break;
                case TE_EQ: c = v == s; break;
                case TE_NEQ: c = v != s; break;
                default:
                    c = 0;
                    for (int64_t k = mset[2 * node]; k < mset[2 * node + 1] && !c; k++)
                        c = nne_tensor_get_f64(m.members, k) == v;
                }
                if (v != v && m.miss && m.miss[node]) c = 1;
                leaf = (int)(c ? m.tleaf[node] : m.fleaf[node]);
                node = c ? m.tnode[node] : m.fnode[node];
            }
            double w = nne_tensor_get_f64(m.lweights, node);
            double *a = &acc[m.ltarget[node]];
            if (agg == TE_SUM) *a += w;
            else if (agg == TE_AVG) *a += w / (double)m.nroots;
            else if (agg == TE_MIN) *a = w < *a ? w : *a;
            else *a = w > *a ? w : *a;
        }
        te_post(post, acc, m.ntargets);
        for (int64_t t = 0; t < m.ntargets; t++) nne_tensor_set_f64(y, b * m.ntargets + t, acc[t]);
    }
    return NNE_OK;
}

/* ------------------------------------------------ TreeEnsembleRegressor -- */

/*
 * The deprecated regressor (ml opsets 1 and 3): nodes are addressed by
 * (treeid, nodeid); leaves (mode "LEAF") carry any number of votes
 * (target_treeids/nodeids/ids/weights). Per run, the node and vote lists are
 * sorted by (tree, node) in scratch so children and votes are found by
 * binary search; then each row walks every tree from its node 0.
 * aggregate_function: SUM, AVERAGE (sum / trees), MIN, MAX (a target with no
 * vote gets 0); base_values are added, then post_transform.
 */
typedef struct {
    int64_t tree, node, idx;
} ter_key;

static int ter_cmp(const void *pa, const void *pb) {
    const ter_key *a = pa, *b = pb;
    if (a->tree != b->tree) return a->tree < b->tree ? -1 : 1;
    if (a->node != b->node) return a->node < b->node ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* First position in k[0..n) not less than (tree, node). */
static int64_t ter_lower(const ter_key *k, int64_t n, int64_t tree, int64_t node) {
    int64_t lo = 0, hi = n;
    while (lo < hi) {
        int64_t mid = lo + (hi - lo) / 2;
        if (k[mid].tree < tree || (k[mid].tree == tree && k[mid].node < node)) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

/* Values of "<name>" (floats) or "<name>_as_tensor"; *n = -1 when absent. */
static nne_status ter_floats(nne_op_ctx *ctx, const char *name, const float **f, const nne_tensor **t, int64_t *n) {
    char tn[64];
    int k = nne_attr_floats(ctx, name, f);
    snprintf(tn, sizeof tn, "%s_as_tensor", name);
    *t = nne_attr_t(ctx, tn);
    *n = k >= 0 ? k : -1;
    if (*t) {
        if (!nne_dtype_is_float((*t)->dtype))
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "%s has dtype %s", tn, nne_dtype_name((*t)->dtype));
        *n = nne_tensor_numel(*t);
        *f = NULL;
    }
    return NNE_OK;
}
static double ter_fget(const float *f, const nne_tensor *t, int64_t i) {
    return f ? (double)f[i] : nne_tensor_get_f64(t, i);
}

static const char *const k_ter_modes[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT",
                                           "BRANCH_EQ", "BRANCH_NEQ", "LEAF"};
static const char *const k_post[] = {"NONE", "SOFTMAX", "LOGISTIC", "SOFTMAX_ZERO", "PROBIT"};
static const char *const k_agg[] = {"AVERAGE", "SUM", "MIN", "MAX"};

static int str_index(const char *s, const char *const *list, int n) {
    for (int i = 0; i < n; i++)
        if (!strcmp(s, list[i])) return i;
    return -1;
}

/* TreeEnsembleRegressor in phases: attributes parsed and checked once per plan */
typedef struct ter_state {
    int64_t nb;
    int64_t nf;
    const int64_t *tree;
    const int64_t *nid;
    const int64_t *feat;
    const int64_t *tn;
    const int64_t *fn;
    const int64_t *miss;
    const int64_t *vtree;
    const int64_t *vnode;
    const int64_t *vtarget;
    const char *const *modes;
    const float *split_f;
    const float *w_f;
    const float *base_f;
    const nne_tensor *split_t;
    const nne_tensor *w_t;
    const nne_tensor *base_t;
    int64_t nn;
    int64_t nv;
    int64_t ntg;
    int64_t nbase;
    int agg;
    int post;
    /* built once per plan (ter_build): nodes and votes sorted by (tree,
     * node), per sorted node [mode, true pos, false pos, first vote, vote
     * end], the root of each tree */
    ter_key *nk, *vk;
    int64_t *info, *roots, ntrees;
} ter_state;

static void ter_state_free(void *state) {
    ter_state *st = state;
    nne_free(st->nk); /* one block: nk, vk, info, roots */
}

/* Sort the nodes and votes and link the trees; checks the structure. */
static nne_status ter_build(nne_op_ctx *ctx, ter_state *st) {
    const int64_t nn = st->nn, nv = st->nv;
    const int64_t *tree = st->tree, *nid = st->nid, *tn = st->tn, *fn = st->fn, *vtree = st->vtree,
                  *vnode = st->vnode;
    size_t bytes = nne_size_add(nne_size_elems(nn + nv, sizeof(ter_key)), nne_size_elems(6 * nn, sizeof(int64_t)));
    ter_key *nk = nne_malloc(bytes ? bytes : 1);
    if (!nk) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate the tree tables (%zu bytes)", bytes);
    ter_key *vk = nk + nn;
    int64_t *info = (int64_t *)(vk + nv), *roots = info + 5 * nn;
    st->nk = nk;
    st->vk = vk;
    st->info = info;
    st->roots = roots;
    for (int64_t i = 0; i < nn; i++) nk[i] = (ter_key){tree[i], nid[i], i};
    for (int64_t i = 0; i < nv; i++) vk[i] = (ter_key){vtree[i], vnode[i], i};
    qsort(nk, (size_t)nn, sizeof *nk, ter_cmp);
    qsort(vk, (size_t)nv, sizeof *vk, ter_cmp);
    int64_t ntrees = 0;
    for (int64_t k = 0; k < nn; k++) {
        if (k > 0 && nk[k].tree == nk[k - 1].tree && nk[k].node == nk[k - 1].node)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "node (tree %lld, id %lld) appears twice",
                                (long long)nk[k].tree, (long long)nk[k].node);
        if (k == 0 || nk[k].tree != nk[k - 1].tree) {
            if (nk[k].node != 0)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "tree %lld has no node 0", (long long)nk[k].tree);
            roots[ntrees++] = k;
        }
    }
    st->ntrees = ntrees;
    /* info is indexed by sorted position */
    for (int64_t k = 0; k < nn; k++) {
        int64_t i = nk[k].idx, *in = info + 5 * k;
        in[0] = str_index(st->modes[i], k_ter_modes, 7);
        in[1] = in[2] = -1;
        if (in[0] != 6) {
            int64_t pt = ter_lower(nk, nn, tree[i], tn[i]), pf = ter_lower(nk, nn, tree[i], fn[i]);
            if (pt >= nn || nk[pt].tree != tree[i] || nk[pt].node != tn[i] || pf >= nn || nk[pf].tree != tree[i] ||
                nk[pf].node != fn[i])
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "node (tree %lld, id %lld) branches to missing node %lld/%lld",
                                    (long long)tree[i], (long long)nid[i], (long long)tn[i], (long long)fn[i]);
            in[1] = pt;
            in[2] = pf;
        }
        in[3] = ter_lower(vk, nv, tree[i], nid[i]);
        in[4] = in[3];
        while (in[4] < nv && vk[in[4]].tree == tree[i] && vk[in[4]].node == nid[i]) in[4]++;
    }
    return NNE_OK;
}

static nne_status ter_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    if (x->dtype != NNE_DTYPE_FLOAT && x->dtype != NNE_DTYPE_DOUBLE && x->dtype != NNE_DTYPE_INT64 &&
        x->dtype != NNE_DTYPE_INT32)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(x->dtype));
    if (x->ndim != 2 && x->ndim != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must be [N, F], got rank %d", x->ndim);
    const int64_t nb = x->ndim == 2 ? x->dims[0] : 1, nf = x->dims[x->ndim - 1];
    const int64_t *tree, *nid, *feat, *tn, *fn, *miss = NULL, *vtree, *vnode, *vtarget;
    const char *const *modes;
    int n = nne_attr_ints(ctx, "nodes_treeids", &tree);
    if (n < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute nodes_treeids is required");
    const int64_t nn = n;
    NNE_TRY(te_ints(ctx, "nodes_nodeids", nn, 1, &nid));
    NNE_TRY(te_ints(ctx, "nodes_featureids", nn, 1, &feat));
    NNE_TRY(te_ints(ctx, "nodes_truenodeids", nn, 1, &tn));
    NNE_TRY(te_ints(ctx, "nodes_falsenodeids", nn, 1, &fn));
    NNE_TRY(te_ints(ctx, "nodes_missing_value_tracks_true", nn, 0, &miss));
    if (nne_attr_strings(ctx, "nodes_modes", &modes) != n)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "nodes_modes must have %d entries", n);
    const float *split_f, *w_f, *base_f;
    const nne_tensor *split_t, *w_t, *base_t;
    int64_t nsplit, nw, nbase;
    NNE_TRY(ter_floats(ctx, "nodes_values", &split_f, &split_t, &nsplit));
    if (nsplit != nn) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "nodes_values must have %d entries", n);
    n = nne_attr_ints(ctx, "target_treeids", &vtree);
    if (n < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute target_treeids is required");
    const int64_t nv = n;
    NNE_TRY(te_ints(ctx, "target_nodeids", nv, 1, &vnode));
    NNE_TRY(te_ints(ctx, "target_ids", nv, 1, &vtarget));
    NNE_TRY(ter_floats(ctx, "target_weights", &w_f, &w_t, &nw));
    if (nw != nv) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "target_weights must have %lld entries", (long long)nv);
    const int64_t ntg = nne_attr_i(ctx, "n_targets", 1);
    if (ntg < 1 || ntg > ((int64_t)1 << 30))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "n_targets %lld is out of range", (long long)ntg);
    NNE_TRY(ter_floats(ctx, "base_values", &base_f, &base_t, &nbase));
    if (nbase >= 0 && nbase != ntg)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "base_values has %lld entries; expected n_targets %lld",
                            (long long)nbase, (long long)ntg);
    int agg = str_index(nne_attr_s(ctx, "aggregate_function", "SUM"), k_agg, 4);
    int post = str_index(nne_attr_s(ctx, "post_transform", "NONE"), k_post, 5);
    if (agg < 0 || post < 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "aggregate_function \"%s\" / post_transform \"%s\" not known",
                            nne_attr_s(ctx, "aggregate_function", "SUM"), nne_attr_s(ctx, "post_transform", "NONE"));
    for (int64_t i = 0; i < nn; i++) {
        int md = str_index(modes[i], k_ter_modes, 7);
        if (md < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "nodes_modes[%lld] = \"%s\" is not a mode", (long long)i,
                                modes[i]);
        if (md != 6 && (feat[i] < 0 || feat[i] >= nf))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "nodes_featureids[%lld] = %lld is outside [0, %lld)",
                                (long long)i, (long long)feat[i], (long long)nf);
    }
    for (int64_t i = 0; i < nv; i++)
        if (vtarget[i] < 0 || vtarget[i] >= ntg)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "target_ids[%lld] = %lld is outside [0, %lld)",
                                (long long)i, (long long)vtarget[i], (long long)ntg);
    int64_t dims[2] = {nb, ntg};
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_FLOAT, 2, dims, &y));
    /* scratch: sorted nodes, sorted votes, per node [mode, true idx, false idx, first vote, vote end], roots, acc */
    nne_ctx_scratch(ctx, (size_t)ntg * (sizeof(double) + 1) + 64); /* acc, has */
    ter_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->nb = nb;
        st_->nf = nf;
        st_->tree = tree;
        st_->nid = nid;
        st_->feat = feat;
        st_->tn = tn;
        st_->fn = fn;
        st_->miss = miss;
        st_->vtree = vtree;
        st_->vnode = vnode;
        st_->vtarget = vtarget;
        st_->modes = modes;
        st_->split_f = split_f;
        st_->w_f = w_f;
        st_->base_f = base_f;
        st_->split_t = split_t;
        st_->w_t = w_t;
        st_->base_t = base_t;
        st_->nn = nn;
        st_->nv = nv;
        st_->ntg = ntg;
        st_->nbase = nbase;
        st_->agg = agg;
        st_->post = post;
        NNE_TRY(ter_build(ctx, st_));
    }
    return NNE_OK;
}

static nne_status ter_kernel(const void *state, const nne_kernel_args *args) {
    const ter_state *st_ = state;
    const nne_tensor *x = args->in[0];
    nne_tensor *y = args->out[0];
    int64_t nb = st_->nb;
    int64_t nf = st_->nf;
    const int64_t * feat = st_->feat;
    const int64_t * miss = st_->miss;
    const int64_t * vtarget = st_->vtarget;
    const float * split_f = st_->split_f;
    const float * w_f = st_->w_f;
    const float * base_f = st_->base_f;
    const nne_tensor * split_t = st_->split_t;
    const nne_tensor * w_t = st_->w_t;
    const nne_tensor * base_t = st_->base_t;
    int64_t nn = st_->nn;
    int64_t ntg = st_->ntg;
    int64_t nbase = st_->nbase;
    int agg = st_->agg;
    int post = st_->post;
    uint8_t *sc = args->scratch;
    nne_op_ctx *ctx = args->ctx;
    const ter_key *nk = st_->nk, *vk = st_->vk;
    const int64_t *info = st_->info, *roots = st_->roots, ntrees = st_->ntrees;
    double *acc = (double *)sc;
    uint8_t *has = (uint8_t *)(acc + ntg);
    for (int64_t b = 0; b < nb; b++) {
        for (int64_t t = 0; t < ntg; t++) {
            acc[t] = 0.0;
            has[t] = 0;
        }
        for (int64_t r = 0; r < ntrees; r++) {
            int64_t k = roots[r], steps = 0;
            while (info[5 * k] != 6) {
                if (++steps > nn)
                    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "tree %lld has a cycle", (long long)nk[k].tree);
                int64_t i = nk[k].idx;
                double v = nne_tensor_get_f64(x, b * nf + feat[i]), s = ter_fget(split_f, split_t, i);
                int c;
                switch (info[5 * k]) {
                case TE_LEQ: c = v <= s; break;
                case TE_LT: c = v < s; break;
                case TE_GTE: c = v >= s; break;
                case TE_GT: c = v > s; break;
                case TE_EQ: c = v == s; break;
                default: c = v != s; break;
                }
                if (v != v && miss && miss[i]) c = 1;
                k = c ? info[5 * k + 1] : info[5 * k + 2];
            }
            for (int64_t j = info[5 * k + 3]; j < info[5 * k + 4]; j++) {
                int64_t vi = vk[j].idx, t = vtarget[vi];
                double w = ter_fget(w_f, w_t, vi);
                if (agg == TE_SUM || agg == TE_AVG) acc[t] += w;
                else if (!has[t] || (agg == TE_MIN ? w < acc[t] : w > acc[t])) acc[t] = w;
                has[t] = 1;
            }
        }
        for (int64_t t = 0; t < ntg; t++) {
            if (agg == TE_AVG && ntrees) acc[t] /= (double)ntrees;
            if (nbase > 0) acc[t] += ter_fget(base_f, base_t, t);
        }
        te_post(post, acc, ntg);
        for (int64_t t = 0; t < ntg; t++) ((float *)y->data)[b * ntg + t] = (float)acc[t];
    }
    return NNE_OK;
}

NNE_OP_DEFINE(ml_ArrayFeatureExtractor, "ai.onnx.ml", "ArrayFeatureExtractor", .infer = afe_run, .run = afe_kernel,
              .state_size = sizeof(afe_state));
NNE_OP_DEFINE(ml_Binarizer, "ai.onnx.ml", "Binarizer", .infer = binarizer_run, .run = binarizer_kernel,
              .state_size = sizeof(binarizer_state));
NNE_OP_DEFINE(ml_LabelEncoder, "ai.onnx.ml", "LabelEncoder", .infer = label_encoder_run, .run = label_encoder_kernel,
              .state_size = sizeof(le_state), .state_free = le_state_free);
NNE_OP_DEFINE(ml_TreeEnsemble, "ai.onnx.ml", "TreeEnsemble", .infer = tree_ensemble_run, .run = tree_ensemble_kernel,
              .state_size = sizeof(tree_ensemble_state), .state_free = tree_ensemble_state_free);
NNE_OP_DEFINE(ml_TreeEnsembleRegressor, "ai.onnx.ml", "TreeEnsembleRegressor", .infer = ter_run, .run = ter_kernel,
              .state_size = sizeof(ter_state), .state_free = ter_state_free);
