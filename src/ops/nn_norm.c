/*
 * nn_norm.c - normalization ops: BatchNormalization (1, 6, 7, 9, 14, 15;
 * inference and training outputs), InstanceNormalization (1, 6, 22),
 * LayerNormalization (17; Mean / InvStdDev outputs), GroupNormalization
 * (18: per-group scale/bias, 21: per-channel), RMSNormalization (23),
 * LRN (1, 13), LpNormalization (1, 22) and MeanVarianceNormalization (9, 13).
 *
 * Statistics are computed in double from a double copy of X in scratch and
 * the result converted back to X's dtype; BatchNormalization inference on
 * float32 runs directly (it is on the hot path of CNNs).
 */
#include "train/train.h"
#include "ops/nn_util.h"
#include "core/core.h"
#include "core/threadpool.h"
#include "kernels/vec.h"

#include <math.h>
#include <string.h>

/* Iterates the offsets of a tensor broadcast (unidirectionally) to a shape,
 * element by element in C order of that shape. */
typedef struct bc_iter {
    int nd;
    int64_t dims[NNE_MAX_DIMS], strides[NNE_MAX_DIMS], idx[NNE_MAX_DIMS];
    int64_t off;
} bc_iter;

static void bc_init(bc_iter *it, const nne_tensor *t, int nd, const int64_t *dims) {
    it->nd = nd;
    memcpy(it->dims, dims, sizeof(int64_t) * (size_t)nd);
    nne_broadcast_strides(t, nd, dims, it->strides);
    memset(it->idx, 0, sizeof it->idx);
    it->off = 0;
}
static void bc_next(bc_iter *it) {
    for (int i = it->nd - 1; i >= 0; i--) {
        it->off += it->strides[i];
        if (++it->idx[i] < it->dims[i]) return;
        it->off -= it->strides[i] * it->dims[i];
        it->idx[i] = 0;
    }
}

/* t must broadcast unidirectionally to dims (rank <= nd, each dim 1 or equal). */
static nne_status check_bcast(nne_op_ctx *ctx, const nne_tensor *t, const char *name, int nd,
                              const int64_t *dims) {
    if (t->ndim > nd) goto bad;
    for (int i = 0; i < t->ndim; i++) {
        int64_t a = t->dims[t->ndim - 1 - i], b = dims[nd - 1 - i];
        if (a != 1 && a != b) goto bad;
    }
    return NNE_OK;
bad: {
    char b1[128], b2[128];
    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s of shape %s does not broadcast to %s", name,
                        nne_dims_str(t->ndim, t->dims, b1, sizeof b1),
                        nne_dims_str(nd, dims, b2, sizeof b2));
}
}

static nne_status need_float(nne_op_ctx *ctx, const nne_tensor *t, const char *name) {
    if (!t) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %s is required", name);
    if (!nn_is_float_dtype(t->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "%s: dtype %s not supported", name,
                            nne_dtype_name(t->dtype));
    return NNE_OK;
}

/* Scratch for a double copy of X and a double Y. */
static void dbuf_plan(nne_op_ctx *ctx, const nne_tensor *X, nn_carve *c, size_t *xo, size_t *yo) {
    (void)ctx;
    size_t n = nne_size_elems(nne_tensor_numel(X), sizeof(double));
    *xo = nn_carve_add(c, n);
    *yo = nn_carve_add(c, n);
}

/* ---- BatchNormalization ---- */

/* BatchNormalization in phases. infer validates, parses the attributes and
 * declares the outputs; when planning it also keeps them in the state and,
 * in inference mode with constant scale/B/mean/var (the usual case), folds
 * them into one float multiplier and offset per channel, computed once per
 * plan instead of on every run. The run reads no attributes. */
typedef struct bn_state {
    double eps, mom;
    int spatial, training, fast;
    int64_t N, C, SP, P;
    size_t po, so, xo, yo;  /* scratch layout */
    float *ab;              /* folded multiplier [P] and offset [P], or NULL */
} bn_state;

static void bn_state_free(void *state) {
    bn_state *st = state;
    nne_free(st->ab);
}

static nne_status batchnorm_infer(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *S = nne_ctx_input(ctx, 1);
    const nne_tensor *Bi = nne_ctx_input(ctx, 2), *Mn = nne_ctx_input(ctx, 3);
    const nne_tensor *Vr = nne_ctx_input(ctx, 4);
    NNE_TRY(need_float(ctx, X, "X"));
    NNE_TRY(need_float(ctx, S, "scale"));
    NNE_TRY(need_float(ctx, Bi, "B"));
    NNE_TRY(need_float(ctx, Mn, "mean"));
    NNE_TRY(need_float(ctx, Vr, "var"));
    int opset = nne_ctx_opset(ctx);
    double eps = nne_attr_f(ctx, "epsilon", 1e-5f);
    double mom = nne_attr_f(ctx, "momentum", 0.9f);
    int spatial = opset < 9 ? (int)nne_attr_i(ctx, "spatial", 1) : 1;
    int training;
    if (opset >= 14) training = (int)nne_attr_i(ctx, "training_mode", 0) != 0;
    else {
        /* before opset 14 the mode is implied by the extra outputs; many old
         * exports list them unused, so only consumed ones select training */
        training = 0;
        for (int i = 1; i < nne_ctx_num_outputs(ctx) && i < 5; i++)
            if (nne_ctx_has_output(ctx, i)) training = 1;
        if (opset < 7 && nne_attr_i(ctx, "is_test", 0) != 0) training = 0;
    }
    if (X->ndim < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must have rank >= 1");
    int64_t N = X->dims[0], C = X->ndim >= 2 ? X->dims[1] : 1;
    int64_t SP = 1;
    for (int i = 2; i < X->ndim; i++) SP *= X->dims[i];
    int64_t P = spatial ? C : C * SP; /* parameter count */
    const nne_tensor *prm[4] = {S, Bi, Mn, Vr};
    const char *pn[4] = {"scale", "B", "mean", "var"};
    for (int i = 0; i < 4; i++)
        if (nne_tensor_numel(prm[i]) != P)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s has %lld values, expected %lld",
                                pn[i], (long long)nne_tensor_numel(prm[i]), (long long)P);
    nne_tensor *Y, *O[4] = {0};
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    int nout = nne_ctx_num_outputs(ctx);
    /* extra outputs: declared whenever listed; in inference mode they carry
     * the given mean / var unchanged */
    int extra = opset >= 14 ? (training ? 2 : 0) : 4;
    for (int i = 1; i < nout && i <= extra; i++)
        NNE_TRY(nne_ctx_output_like(ctx, i, (i == 2 || i == 4) ? Vr : Mn, &O[i - 1]));
    nn_carve c = {0};
    size_t po = nn_carve_add(&c, nne_size_elems(P, 4 * sizeof(double)));
    size_t so = nn_carve_add(&c, nne_size_elems(P, 2 * sizeof(double)));
    size_t xo = 0, yo = 0;
    int fast = X->dtype == NNE_DTYPE_FLOAT && spatial;
    if (!fast) dbuf_plan(ctx, X, &c, &xo, &yo);
    nn_scratch(ctx, &c);
    bn_state *st = nne_ctx_plan_state(ctx);
    if (!st) return NNE_OK;
    *st = (bn_state){.eps = eps, .mom = mom, .spatial = spatial, .training = training, .fast = fast,
                     .N = N, .C = C, .SP = SP, .P = P, .po = po, .so = so, .xo = xo, .yo = yo};
    int consts = 1;
    for (int i = 1; i <= 4; i++) consts &= nne_ctx_input_is_const(ctx, i);
    /* only Y: the optional outputs (running stats) take the general path */
    if (fast && !training && consts && P > 0 && nout == 1) {
        if (!(st->ab = nne_malloc((size_t)P * 2 * sizeof(float))))
            return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate the folded parameters");
        double pv[4];
        for (int64_t p = 0; p < P; p++) {
            for (int i = 0; i < 4; i++) nne_load_f64(prm[i], p, 1, 1, &pv[i]);
            /* as in the run: y = x * a + b, a and b in double, then float */
            double a = pv[0] / sqrt(pv[3] + eps);
            st->ab[p] = (float)a;
            st->ab[P + p] = (float)(pv[1] - pv[2] * a);
        }
    }
    return NNE_OK;
}

/* The folded form over planes [lo, hi) of N*C: the vector affine kernel
 * (or plain C under NNE_FORCE_REFERENCE); planes split over threads. */
typedef struct bn_job {
    const bn_state *st;
    const nne_vec_ops *vec;
    const float *x;
    float *y;
} bn_job;

static void bn_part(void *arg, int part, int nparts, void *scratch) {
    const bn_job *j = arg;
    const bn_state *st = j->st;
    long long lo, hi;
    nne_split_range(st->N * st->C, 1, part, nparts, &lo, &hi);
    for (long long pl = lo; pl < hi; pl++) {
        int64_t ch = pl % st->C;
        float a = st->ab[ch], b = st->ab[st->P + ch];
        const float *xp = j->x + pl * st->SP;
        float *yp = j->y + pl * st->SP;
        if (j->vec) j->vec->affine(xp, yp, st->SP, a, b);
        else
            for (int64_t s = 0; s < st->SP; s++) yp[s] = xp[s] * a + b;
    }
}

static nne_status batchnorm_kernel(const void *state, const nne_kernel_args *args) {
    const bn_state *st = state;
    const nne_tensor *X = args->in[0];
    const nne_tensor *prm[4] = {args->in[1], args->in[2], args->in[3], args->in[4]};
    nne_tensor *Y = args->out[0], *O[4] = {0};
    for (int i = 1; i < args->n_out && i <= 4; i++) O[i - 1] = args->out[i];
    double eps = st->eps, mom = st->mom;
    int spatial = st->spatial, training = st->training, fast = st->fast;
    int64_t N = st->N, C = st->C, SP = st->SP, P = st->P;
    size_t po = st->po, so = st->so, xo = st->xo, yo = st->yo;
    if (st->ab) {
        /* folded at plan: inference mode, float, constant parameters */
        if (N * C == 0) return NNE_OK;
        bn_job job = {st, nne_vec(), X->data, Y->data};
        nne_threadpool *pool = nne_ctx_pool(args->ctx);
        int parts = N * C * SP >= 32768 ? nne_threadpool_threads(pool) : 1;
        if (parts > N * C) parts = (int)(N * C);
        nne_parallel(pool, parts, bn_part, &job, NULL);
        return NNE_OK;
    }
    void *base = args->scratch;
    double *pv = (double *)((char *)base + po); /* scale, B, mean, var */
    double *ab = (double *)((char *)base + so); /* per-param multiplier, offset */
    for (int i = 0; i < 4; i++) nne_load_f64(prm[i], 0, 1, P, pv + i * P);
    double *bmean = NULL, *bvar = NULL;
    double *xd = NULL, *yd = NULL;
    if (!fast) {
        xd = (double *)((char *)base + xo);
        yd = (double *)((char *)base + yo);
        nne_load_f64(X, 0, 1, nne_tensor_numel(X), xd);
    }
    if (training) {
        /* batch statistics per parameter; the mean/var slots of pv are
         * replaced after the running values are computed */
        bmean = ab;        /* reuse: P values */
        bvar = ab + P;
        int64_t cnt = spatial ? N * SP : N;
        for (int64_t p = 0; p < P; p++) bmean[p] = bvar[p] = 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t ch = 0; ch < C; ch++)
                for (int64_t s = 0; s < SP; s++) {
                    int64_t i = (n * C + ch) * SP + s;
                    double v = xd ? xd[i] : ((const float *)X->data)[i];
                    bmean[spatial ? ch : ch * SP + s] += v;
                }
        for (int64_t p = 0; p < P; p++) bmean[p] = cnt > 0 ? bmean[p] / (double)cnt : 0.0;
        for (int64_t n = 0; n < N; n++)
            for (int64_t ch = 0; ch < C; ch++)
                for (int64_t s = 0; s < SP; s++) {
                    int64_t i = (n * C + ch) * SP + s;
                    int64_t p = spatial ? ch : ch * SP + s;
                    double v = (xd ? xd[i] : ((const float *)X->data)[i]) - bmean[p];
                    bvar[p] += v * v;
                }
        for (int64_t p = 0; p < P; p++) bvar[p] = cnt > 0 ? bvar[p] / (double)cnt : 0.0;
        double *run = (double *)((char *)base + po); /* write outputs before overwriting */
        for (int i = 0; i < 4; i++) {
            nne_tensor *o = O[i];
            if (!o || !o->data) continue;
            for (int64_t p = 0; p < P; p++) {
                double v;
                if (i == 0) v = run[2 * P + p] * mom + bmean[p] * (1.0 - mom);
                else if (i == 1) v = run[3 * P + p] * mom + bvar[p] * (1.0 - mom);
                else if (i == 2) v = bmean[p];
                else v = bvar[p];
                nne_tensor_set_f64(o, p, v);
            }
        }
        for (int64_t p = 0; p < P; p++) {
            pv[2 * P + p] = bmean[p];
            pv[3 * P + p] = bvar[p];
        }
    }
    if (!training)
        for (int i = 0; i < 4; i++)
            if (O[i] && O[i]->data) nne_store_f64(O[i], 0, 1, P, pv + ((i == 1 || i == 3) ? 3 : 2) * P, NNE_CVT_RNE);
    /* y = x * a + b with a = scale / sqrt(var + eps), b = B - mean * a */
    double *A = ab, *Bb = ab + P;
    for (int64_t p = 0; p < P; p++) {
        double a = pv[p] / sqrt(pv[3 * P + p] + eps);
        double b = pv[P + p] - pv[2 * P + p] * a;
        A[p] = a;
        Bb[p] = b;
    }
    if (fast) {
        const float *x = (const float *)X->data;
        float *y = (float *)Y->data;
        for (int64_t n = 0; n < N; n++)
            for (int64_t ch = 0; ch < C; ch++) {
                float a = (float)A[ch], b = (float)Bb[ch];
                const float *xp = x + (n * C + ch) * SP;
                float *yp = y + (n * C + ch) * SP;
                for (int64_t s = 0; s < SP; s++) yp[s] = xp[s] * a + b;
            }
        return NNE_OK;
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++)
            for (int64_t s = 0; s < SP; s++) {
                int64_t i = (n * C + ch) * SP + s;
                int64_t p = spatial ? ch : ch * SP + s;
                yd[i] = xd[i] * A[p] + Bb[p];
            }
    nne_store_f64(Y, 0, 1, nne_tensor_numel(Y), yd, NNE_CVT_RNE);
    return NNE_OK;
}

/* ---- InstanceNormalization / GroupNormalization ---- */

/* Normalize each of `rows` contiguous rows of length `len` in place:
 * x = (x - mean) / sqrt(var + eps). */
static void norm_rows(double *x, int64_t rows, int64_t len, double eps, double *mean_out,
                      double *inv_out) {
    for (int64_t r = 0; r < rows; r++) {
        double *p = x + r * len, m = 0.0, v = 0.0;
        for (int64_t i = 0; i < len; i++) m += p[i];
        m = len > 0 ? m / (double)len : 0.0;
        for (int64_t i = 0; i < len; i++) v += (p[i] - m) * (p[i] - m);
        v = len > 0 ? v / (double)len : 0.0;
        double inv = 1.0 / sqrt(v + eps);
        for (int64_t i = 0; i < len; i++) p[i] = (p[i] - m) * inv;
        if (mean_out) mean_out[r] = m;
        if (inv_out) inv_out[r] = inv;
    }
}

/* InstanceNormalization / GroupNormalization in phases: chan_norm is infer;
 * when planning it keeps the geometry, epsilon and scratch layout. */
typedef struct cn_state {
    double eps;
    int64_t N, C, SP, G, ns, nb;
    int per_group;
    size_t xo, so;
} cn_state;

/* Per-channel (or per-group) affine for (N, C, SP) laid out data. */
static nne_status chan_norm(nne_op_ctx *ctx, int groups_mode) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *S = nne_ctx_input(ctx, 1);
    const nne_tensor *Bi = nne_ctx_input(ctx, 2);
    NNE_TRY(need_float(ctx, X, "X"));
    NNE_TRY(need_float(ctx, S, "scale"));
    NNE_TRY(need_float(ctx, Bi, "B"));
    if (X->ndim < 2) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must have rank >= 2");
    double eps = nne_attr_f(ctx, "epsilon", 1e-5f);
    int64_t N = X->dims[0], C = X->dims[1], SP = 1;
    for (int i = 2; i < X->ndim; i++) SP *= X->dims[i];
    int64_t G = C;
    if (groups_mode) {
        if (!nne_attr_has(ctx, "num_groups"))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute num_groups is required");
        G = nne_attr_i(ctx, "num_groups", 1);
        if (G < 1 || C % G != 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "num_groups=%lld must be positive and divide the %lld channels",
                                (long long)G, (long long)C);
    }
    int64_t ns = nne_tensor_numel(S), nb = nne_tensor_numel(Bi);
    int per_group = 0;
    if (ns == C && nb == C) per_group = 0;
    else if (groups_mode && ns == G && nb == G) per_group = 1; /* GroupNormalization-18 */
    else
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "scale/bias have %lld/%lld values, expected %lld (channels)",
                            (long long)ns, (long long)nb, (long long)C);
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    nn_carve c = {0};
    size_t xo, yo;
    dbuf_plan(ctx, X, &c, &xo, &yo);
    size_t so = nn_carve_add(&c, nne_size_elems(ns + nb, sizeof(double)));
    nn_scratch(ctx, &c);
    cn_state *st = nne_ctx_plan_state(ctx);
    if (st)
        *st = (cn_state){.eps = eps, .N = N, .C = C, .SP = SP, .G = G, .ns = ns, .nb = nb,
                         .per_group = per_group, .xo = xo, .so = so};
    return NNE_OK;
}

static nne_status chan_norm_kernel(const void *state, const nne_kernel_args *a) {
    const cn_state *st = state;
    const nne_tensor *X = a->in[0], *S = a->in[1], *Bi = a->in[2];
    nne_tensor *Y = a->out[0];
    double eps = st->eps;
    int64_t N = st->N, C = st->C, SP = st->SP, G = st->G, ns = st->ns, nb = st->nb;
    int per_group = st->per_group;
    size_t xo = st->xo, so = st->so;
    void *base = a->scratch;
    if (nne_tensor_numel(X) == 0) return NNE_OK;
    double *xd = (double *)((char *)base + xo), *sb = (double *)((char *)base + so);
    nne_load_f64(X, 0, 1, nne_tensor_numel(X), xd);
    nne_load_f64(S, 0, 1, ns, sb);
    nne_load_f64(Bi, 0, 1, nb, sb + ns);
    norm_rows(xd, N * G, (C / G) * SP, eps, NULL, NULL);
    int64_t cpg = C / G;
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t pi = per_group ? ch / cpg : ch;
            double a = sb[pi], b = sb[ns + pi];
            double *p = xd + (n * C + ch) * SP;
            for (int64_t s = 0; s < SP; s++) p[s] = p[s] * a + b;
        }
    nne_store_f64(Y, 0, 1, nne_tensor_numel(Y), xd, NNE_CVT_RNE);
    return NNE_OK;
}

static nne_status instancenorm_run(nne_op_ctx *ctx) { return chan_norm(ctx, 0); }
static nne_status groupnorm_run(nne_op_ctx *ctx) { return chan_norm(ctx, 1); }

/* ---- LayerNormalization / RMSNormalization ---- */

static nne_dtype stash_dtype(nne_op_ctx *ctx) {
    int64_t st = nne_attr_i(ctx, "stash_type", 1);
    if (st == NNE_DTYPE_DOUBLE || st == NNE_DTYPE_FLOAT16 || st == NNE_DTYPE_BFLOAT16)
        return (nne_dtype)st;
    return NNE_DTYPE_FLOAT;
}

/* LayerNormalization / RMSNormalization in phases: last_axes_norm is infer;
 * when planning it keeps the row geometry, epsilon and scratch layout. */
typedef struct ln_state {
    int rms;
    double eps;
    int64_t rows, len;
    size_t xo, mo;
    /* float LayerNormalization with Scale/B of the row's length and no
     * Mean/InvStdDev outputs: the vector kernel (kernels/vec.h), or NULL */
    const nne_vec_ops *vec;
} ln_state;

typedef struct ln_job {
    const ln_state *st;
    const float *x, *g, *b;
    float *y;
} ln_job;

static void ln_part(void *arg, int part, int nparts, void *scratch) {
    const ln_job *j = arg;
    long long lo, hi;
    int64_t len = j->st->len;
    nne_split_range(j->st->rows, 1, part, nparts, &lo, &hi);
    for (long long r = lo; r < hi; r++)
        j->st->vec->layernorm_row(j->x + r * len, j->y + r * len, len, j->g, j->b, (float)j->st->eps);
}

static nne_status last_axes_norm(nne_op_ctx *ctx, int rms) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *S = nne_ctx_input(ctx, 1);
    const nne_tensor *Bi = rms ? NULL : nne_ctx_input(ctx, 2);
    NNE_TRY(need_float(ctx, X, "X"));
    NNE_TRY(need_float(ctx, S, "Scale"));
    if (Bi) NNE_TRY(need_float(ctx, Bi, "B"));
    if (X->ndim < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must have rank >= 1");
    int axis;
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", -1), X->ndim, &axis));
    NNE_TRY(check_bcast(ctx, S, "Scale", X->ndim, X->dims));
    if (Bi) NNE_TRY(check_bcast(ctx, Bi, "B", X->ndim, X->dims));
    double eps = nne_attr_f(ctx, "epsilon", 1e-5f);
    int64_t rows = 1, len = 1;
    for (int i = 0; i < axis; i++) rows *= X->dims[i];
    for (int i = axis; i < X->ndim; i++) len *= X->dims[i];
    nne_tensor *Y, *Mo = NULL, *Io = NULL;
    nne_dtype ydt = X->dtype;
    if (rms && S->dtype != X->dtype) ydt = S->dtype; /* RMSNormalization: Y is V (scale's type) */
    NNE_TRY(nne_ctx_output(ctx, 0, ydt, X->ndim, X->dims, &Y));
    if (!rms) {
        int64_t sd[NNE_MAX_DIMS];
        for (int i = 0; i < X->ndim; i++) sd[i] = i < axis ? X->dims[i] : 1;
        nne_dtype u = stash_dtype(ctx);
        if (nne_ctx_num_outputs(ctx) > 1) NNE_TRY(nne_ctx_output(ctx, 1, u, X->ndim, sd, &Mo));
        if (nne_ctx_num_outputs(ctx) > 2) NNE_TRY(nne_ctx_output(ctx, 2, u, X->ndim, sd, &Io));
    }
    nn_carve c = {0};
    size_t xo, yo;
    dbuf_plan(ctx, X, &c, &xo, &yo);
    size_t mo = nn_carve_add(&c, nne_size_elems(rows, 2 * sizeof(double)));
    nn_scratch(ctx, &c);
    ln_state *lst = nne_ctx_plan_state(ctx);
    if (lst) {
        int fast = !rms && X->dtype == NNE_DTYPE_FLOAT && ydt == NNE_DTYPE_FLOAT && S->dtype == NNE_DTYPE_FLOAT &&
                   nne_tensor_numel(S) == len && (!Bi || (Bi->dtype == NNE_DTYPE_FLOAT && nne_tensor_numel(Bi) == len)) &&
                   !Mo && !Io;
        *lst = (ln_state){.rms = rms, .eps = eps, .rows = rows, .len = len, .xo = xo, .mo = mo,
                          .vec = fast ? nne_vec() : NULL};
    }
    return NNE_OK;
}

static nne_status last_axes_kernel(const void *state, const nne_kernel_args *a) {
    const ln_state *lst = state;
    const nne_tensor *X = a->in[0], *S = a->in[1];
    const nne_tensor *Bi = !lst->rms && a->n_in > 2 ? a->in[2] : NULL;
    nne_tensor *Y = a->out[0];
    nne_tensor *Mo = !lst->rms && a->n_out > 1 ? a->out[1] : NULL, *Io = !lst->rms && a->n_out > 2 ? a->out[2] : NULL;
    int rms = lst->rms;
    double eps = lst->eps;
    int64_t rows = lst->rows, len = lst->len;
    char *base = a->scratch;
    double *xd = (double *)(base + lst->xo), *st = (double *)(base + lst->mo);
    int64_t total = nne_tensor_numel(X);
    if (lst->vec) {
        if (total == 0) return NNE_OK;
        ln_job job = {lst, X->data, S->data, Bi ? Bi->data : NULL, Y->data};
        nne_threadpool *pool = nne_ctx_pool(a->ctx);
        int parts = total >= 16384 ? nne_threadpool_threads(pool) : 1;
        if (parts > rows) parts = (int)rows;
        nne_parallel(pool, parts, ln_part, &job, NULL);
        return NNE_OK;
    }
    nne_load_f64(X, 0, 1, total, xd);
    if (rms) {
        for (int64_t r = 0; r < rows; r++) {
            double *p = xd + r * len, ss = 0.0;
            for (int64_t i = 0; i < len; i++) ss += p[i] * p[i];
            double inv = 1.0 / sqrt((len > 0 ? ss / (double)len : 0.0) + eps);
            for (int64_t i = 0; i < len; i++) p[i] *= inv;
        }
    } else {
        norm_rows(xd, rows, len, eps, st, st + rows);
    }
    bc_iter si, bi;
    bc_init(&si, S, X->ndim, X->dims);
    if (Bi) bc_init(&bi, Bi, X->ndim, X->dims);
    for (int64_t i = 0; i < total; i++) {
        double v = xd[i] * nne_tensor_get_f64(S, si.off);
        if (Bi) {
            v += nne_tensor_get_f64(Bi, bi.off);
            bc_next(&bi);
        }
        bc_next(&si);
        xd[i] = v;
    }
    nne_store_f64(Y, 0, 1, total, xd, NNE_CVT_RNE);
    if (Mo && Mo->data) nne_store_f64(Mo, 0, 1, rows, st, NNE_CVT_RNE);
    if (Io && Io->data) nne_store_f64(Io, 0, 1, rows, st + rows, NNE_CVT_RNE);
    return NNE_OK;
}

static nne_status layernorm_run(nne_op_ctx *ctx) { return last_axes_norm(ctx, 0); }
static nne_status rmsnorm_run(nne_op_ctx *ctx) { return last_axes_norm(ctx, 1); }

/* ---- LRN ---- */

typedef struct lrn_state {
    int64_t size;
    double alpha, beta, bias;
    size_t xo, yo;
} lrn_state;

static nne_status lrn_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    NNE_TRY(need_float(ctx, X, "X"));
    if (X->ndim < 2) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must have rank >= 2");
    if (!nne_attr_has(ctx, "size"))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute size is required");
    int64_t size = nne_attr_i(ctx, "size", 1);
    if (size < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "size=%lld, expected >= 1", (long long)size);
    double alpha = nne_attr_f(ctx, "alpha", 1e-4f), beta = nne_attr_f(ctx, "beta", 0.75f);
    double bias = nne_attr_f(ctx, "bias", 1.0f);
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    nn_carve c = {0};
    size_t xo, yo;
    dbuf_plan(ctx, X, &c, &xo, &yo);
    nn_scratch(ctx, &c);
    lrn_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (lrn_state){.size = size, .alpha = alpha, .beta = beta, .bias = bias, .xo = xo, .yo = yo};
    return NNE_OK;
}

static nne_status lrn_kernel(const void *state, const nne_kernel_args *a) {
    const lrn_state *st = state;
    const nne_tensor *X = a->in[0];
    nne_tensor *Y = a->out[0];
    int64_t size = st->size;
    double alpha = st->alpha, beta = st->beta, bias = st->bias;
    char *base = a->scratch;
    double *xd = (double *)(base + st->xo), *yd = (double *)(base + st->yo);
    int64_t total = nne_tensor_numel(X);
    nne_load_f64(X, 0, 1, total, xd);
    int64_t N = X->dims[0], C = X->dims[1], SP = 1;
    for (int i = 2; i < X->ndim; i++) SP *= X->dims[i];
    int64_t lo_off = (size - 1) / 2, hi_off = size - 1 - lo_off; /* floor, ceil of (size-1)/2 */
    for (int64_t n = 0; n < N; n++)
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t c0 = ch - lo_off < 0 ? 0 : ch - lo_off;
            int64_t c1 = ch + hi_off > C - 1 ? C - 1 : ch + hi_off;
            for (int64_t s = 0; s < SP; s++) {
                double sq = 0.0;
                for (int64_t k = c0; k <= c1; k++) {
                    double v = xd[(n * C + k) * SP + s];
                    sq += v * v;
                }
                int64_t i = (n * C + ch) * SP + s;
                yd[i] = xd[i] / pow(bias + alpha / (double)size * sq, beta);
            }
        }
    nne_store_f64(Y, 0, 1, total, yd, NNE_CVT_RNE);
    return NNE_OK;
}

/* ---- LpNormalization ---- */

typedef struct lpn_state {
    int axis;
    int64_t p;
    size_t xo;
} lpn_state;

static nne_status lpnorm_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    NNE_TRY(need_float(ctx, X, "input"));
    if (X->ndim < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input must have rank >= 1");
    int axis;
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", -1), X->ndim, &axis));
    int64_t p = nne_attr_i(ctx, "p", 2);
    if (p != 1 && p != 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "p=%lld, expected 1 or 2", (long long)p);
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    nn_carve c = {0};
    size_t xo, yo;
    dbuf_plan(ctx, X, &c, &xo, &yo);
    nn_scratch(ctx, &c);
    lpn_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (lpn_state){.axis = axis, .p = p, .xo = xo};
    return NNE_OK;
}

static nne_status lpnorm_kernel(const void *state, const nne_kernel_args *a) {
    const lpn_state *st = state;
    const nne_tensor *X = a->in[0];
    nne_tensor *Y = a->out[0];
    int axis = st->axis;
    int64_t p = st->p;
    double *xd = (double *)((char *)a->scratch + st->xo);
    int64_t total = nne_tensor_numel(X);
    nne_load_f64(X, 0, 1, total, xd);
    int64_t outer = 1, len = X->dims[axis], inner = 1;
    for (int i = 0; i < axis; i++) outer *= X->dims[i];
    for (int i = axis + 1; i < X->ndim; i++) inner *= X->dims[i];
    for (int64_t o = 0; o < outer; o++)
        for (int64_t in = 0; in < inner; in++) {
            double *b = xd + o * len * inner + in, nrm = 0.0;
            for (int64_t k = 0; k < len; k++) nrm += p == 1 ? fabs(b[k * inner]) : b[k * inner] * b[k * inner];
            if (p == 2) nrm = sqrt(nrm);
            for (int64_t k = 0; k < len; k++) b[k * inner] = nrm != 0.0 ? b[k * inner] / nrm : 0.0;
        }
    nne_store_f64(Y, 0, 1, total, xd, NNE_CVT_RNE);
    return NNE_OK;
}

/* ---- MeanVarianceNormalization ---- */

typedef struct mvn_state {
    int red[NNE_MAX_DIMS]; /* 1 on reduced axes */
    int64_t groups;
    size_t xo, go;
} mvn_state;

static nne_status mvn_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    NNE_TRY(need_float(ctx, X, "X"));
    int r = X->ndim;
    int red[NNE_MAX_DIMS] = {0};
    const int64_t *axes = NULL;
    int na = nne_attr_ints(ctx, "axes", &axes);
    if (na > 0 && axes) {
        for (int i = 0; i < na; i++) {
            int a;
            NNE_TRY(nne_ctx_axis(ctx, axes[i], r, &a));
            red[a] = 1;
        }
    } else {
        static const int def[3] = {0, 2, 3};
        for (int i = 0; i < 3; i++) {
            if (def[i] >= r)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "default axes [0,2,3] need rank >= 4, X has rank %d", r);
            red[def[i]] = 1;
        }
    }
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    int64_t groups = 1;
    for (int i = 0; i < r; i++)
        if (!red[i]) groups *= X->dims[i];
    nn_carve c = {0};
    size_t xo, yo;
    dbuf_plan(ctx, X, &c, &xo, &yo);
    size_t go = nn_carve_add(&c, nne_size_elems(groups, 3 * sizeof(double)));
    nn_scratch(ctx, &c);
    mvn_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        *st = (mvn_state){.groups = groups, .xo = xo, .go = go};
        memcpy(st->red, red, sizeof st->red);
    }
    return NNE_OK;
}

static nne_status mvn_kernel(const void *state, const nne_kernel_args *a) {
    const mvn_state *st = state;
    const nne_tensor *X = a->in[0];
    nne_tensor *Y = a->out[0];
    int r = X->ndim;
    const int *red = st->red;
    int64_t groups = st->groups;
    size_t xo = st->xo, go = st->go;
    char *base = a->scratch;
    double *xd = (double *)((char *)base + xo), *gs = (double *)((char *)base + go);
    int64_t total = nne_tensor_numel(X);
    nne_load_f64(X, 0, 1, total, xd);
    /* group index of each element: its coordinates on the kept axes */
    int64_t gstride[NNE_MAX_DIMS];
    int64_t acc = 1;
    for (int i = r - 1; i >= 0; i--) {
        gstride[i] = red[i] ? 0 : acc;
        if (!red[i]) acc *= X->dims[i];
    }
    for (int64_t g = 0; g < 3 * groups; g++) gs[g] = 0.0;
    for (int pass = 0; pass < 2; pass++) {
        int64_t idx[NNE_MAX_DIMS] = {0}, gi = 0;
        for (int64_t i = 0; i < total; i++) {
            if (pass == 0) {
                gs[gi] += xd[i];
                gs[groups + gi] += xd[i] * xd[i];
                gs[2 * groups + gi] += 1.0;
            } else {
                double n = gs[2 * groups + gi];
                double m = gs[gi] / n, var = gs[groups + gi] / n - m * m;
                xd[i] = (xd[i] - m) / (sqrt(var > 0 ? var : 0.0) + 1e-9);
            }
            for (int d = r - 1; d >= 0; d--) {
                gi += gstride[d];
                if (++idx[d] < X->dims[d]) break;
                gi -= gstride[d] * X->dims[d];
                idx[d] = 0;
            }
        }
    }
    nne_store_f64(Y, 0, 1, total, xd, NNE_CVT_RNE);
    return NNE_OK;
}

NNE_OP_DEFINE(BatchNormalization, "", "BatchNormalization", .infer = batchnorm_infer, .run = batchnorm_kernel,
              .state_size = sizeof(bn_state), .state_free = bn_state_free,
              .gradient = &nne_grad_BatchNormalization);
NNE_OP_DEFINE(InstanceNormalization, "", "InstanceNormalization", .infer = instancenorm_run,
              .run = chan_norm_kernel, .state_size = sizeof(cn_state));
NNE_OP_DEFINE(GroupNormalization, "", "GroupNormalization", .infer = groupnorm_run, .run = chan_norm_kernel,
              .state_size = sizeof(cn_state));
NNE_OP_DEFINE(LayerNormalization, "", "LayerNormalization", .infer = layernorm_run, .run = last_axes_kernel,
              .state_size = sizeof(ln_state));
/* The same op in nnedge's domain: what the LayerNorm pattern pass writes for
 * models below opset 17 (pass_patterns.c). */
NNE_OP_DEFINE(NneLayerNormalization, "ai.nnedge", "LayerNormalization", .infer = layernorm_run,
              .run = last_axes_kernel, .state_size = sizeof(ln_state));
NNE_OP_DEFINE(RMSNormalization, "", "RMSNormalization", .infer = rmsnorm_run, .run = last_axes_kernel,
              .state_size = sizeof(ln_state));
NNE_OP_DEFINE(LRN, "", "LRN", .infer = lrn_run, .run = lrn_kernel, .state_size = sizeof(lrn_state));
NNE_OP_DEFINE(LpNormalization, "", "LpNormalization", .infer = lpnorm_run, .run = lpnorm_kernel,
              .state_size = sizeof(lpn_state));
NNE_OP_DEFINE(MeanVarianceNormalization, "", "MeanVarianceNormalization", .infer = mvn_run, .run = mvn_kernel,
              .state_size = sizeof(mvn_state));
