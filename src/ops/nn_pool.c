/*
 * nn_pool.c - pooling ops: MaxPool (1, 8, 10, 11, 12, 22; Indices output,
 * storage_order, int8/uint8), AveragePool (1, 7, 10, 11, 19, 22;
 * count_include_pad, ceil_mode, dilations), LpPool (1, 2, 11, 18, 22),
 * GlobalAveragePool, GlobalMaxPool, GlobalLpPool, MaxUnpool (9, 11, 22) and
 * MaxRoiPool (1, 22).
 *
 * The windowed pools share one N-d loop: for every (batch, channel) plane and
 * output position, walk the kernel taps, keep the taps inside the input, and
 * reduce them (max / sum / sum of |x|^p). Values are computed in float
 * (exact for the 8-bit types MaxPool accepts).
 */
#include "train/train.h"
#include "kernels/pool2d.h"
#include "kernels/vec.h"
#include "ops/nn_util.h"

#include <float.h>
#include <math.h>
#include <string.h>

enum { POOL_MAX, POOL_AVG, POOL_LP };

typedef struct pool_args {
    nn_geom g;
    int64_t planes;          /* N * C */
    int kind;
    int count_include_pad;
    int storage_order;       /* Indices: 0 row-major, 1 column-major */
    double p;                /* LpPool exponent */
} pool_args;

/* First tap index kt in [0, k] with start + kt * d >= lim (k when none):
 * the taps of a window that reach coordinate lim. */
static int64_t nn_tap_first(int64_t start, int64_t lim, int64_t d, int64_t k) {
    if (start >= lim) return 0;
    int64_t t = (lim - start + d - 1) / d;
    return t < k ? t : k;
}

static void pool_kernel(const pool_args *a, const float *x, float *y, int64_t *ind) {
    const nn_geom *g = &a->g;
    int nsp = g->nsp;
    int64_t insp = nn_prod(g->in, nsp), outsp = nn_prod(g->out, nsp);
    int64_t istride[NN_MAX_SP], cstride[NN_MAX_SP];
    /* row-major strides for addressing, column-major ones for Indices */
    {
        int64_t acc = 1;
        for (int i = nsp - 1; i >= 0; i--) {
            istride[i] = acc;
            acc *= g->in[i];
        }
        acc = 1;
        for (int i = 0; i < nsp; i++) {
            cstride[i] = acc;
            acc *= g->in[i];
        }
    }
    float pf = (float)a->p;
    for (int64_t pl = 0; pl < a->planes; pl++) {
        const float *xp = insp ? x + pl * insp : x; /* empty input: x may be NULL, no offset on it */
        int64_t oc[NN_MAX_SP] = {0};
        for (int64_t o = 0; o < outsp; o++) {
            /* Clip the window to the input on each axis: taps klo[i] <= kt <
             * khi[i] land inside, so a huge kernel costs only the taps that
             * exist (the taps are walked in the same row-major order as the
             * full window, so MaxPool's first-maximum index is unchanged).
             * count_include_pad counts the taps inside the padded input,
             * which is a product of per-axis counts. */
            int64_t start[NN_MAX_SP], klo[NN_MAX_SP], khi[NN_MAX_SP], kt[NN_MAX_SP];
            double cnt_pad = 1.0; /* may pass 2^63 with 3+ huge axes */
            int64_t cnt = 1;
            for (int i = 0; i < nsp; i++) {
                start[i] = oc[i] * g->s[i] - g->pb[i];
                klo[i] = nn_tap_first(start[i], 0, g->d[i], g->k[i]);
                khi[i] = nn_tap_first(start[i], g->in[i], g->d[i], g->k[i]);
                if (khi[i] < klo[i]) khi[i] = klo[i];
                int64_t plo = nn_tap_first(start[i], -g->pb[i], g->d[i], g->k[i]);
                int64_t phi = nn_tap_first(start[i], g->in[i] + g->pe[i], g->d[i], g->k[i]);
                cnt_pad *= phi > plo ? (double)(phi - plo) : 0.0;
                cnt *= khi[i] - klo[i];
                kt[i] = klo[i];
            }
            float best = -INFINITY;
            int64_t best_i = -1;
            double sum = 0.0;
            for (int64_t t = 0; t < cnt; t++) {
                int64_t off = 0, coff = 0;
                for (int i = 0; i < nsp; i++) {
                    int64_t c = start[i] + kt[i] * g->d[i];
                    off += c * istride[i];
                    coff += c * cstride[i];
                }
                for (int i = nsp - 1; i >= 0; i--) {
                    if (++kt[i] < khi[i]) break;
                    kt[i] = klo[i];
                }
                float v = xp[off];
                if (a->kind == POOL_MAX) {
                    if (best_i < 0 || v > best) {
                        best = v;
                        best_i = a->storage_order ? coff : off;
                    }
                } else if (a->kind == POOL_AVG) {
                    sum += v;
                } else {
                    sum += pf == 2.0f ? (double)v * v : pow(fabs((double)v), a->p);
                }
            }
            float r;
            if (a->kind == POOL_MAX) {
                r = best;
                if (ind) ind[pl * outsp + o] = pl * insp + (best_i < 0 ? 0 : best_i);
            } else if (a->kind == POOL_AVG) {
                double div = a->count_include_pad ? cnt_pad : (double)cnt;
                r = div > 0 ? (float)(sum / div) : 0.0f;
            } else {
                r = a->p == 2.0 ? (float)sqrt(sum) : (float)pow(sum, 1.0 / a->p);
            }
            y[pl * outsp + o] = r;
            for (int i = nsp - 1; i >= 0; i--) {
                if (++oc[i] < g->out[i]) break;
                oc[i] = 0;
            }
        }
    }
}

/* Pools in phases: pool_common / global_pool are infer (validate, parse,
 * declare); when planning they keep what the run needs in a state. */
typedef struct pool_state {
    pool_args a;
    size_t xo, yo;     /* scratch layout */
} pool_state;

typedef struct gpool_state {
    int kind;
    double p;
    int64_t planes, sp;
    size_t ro, yo;
    const nne_vec_ops *vec; /* float GlobalAveragePool: the vector row sums, or NULL */
} gpool_state;

/* Float GlobalAveragePool on the vector kernel: planes split over the threads. */
typedef struct gavg_job {
    const nne_vec_ops *vec;
    const float *x;
    float *y;
    int64_t planes, sp;
} gavg_job;

static void gavg_part(void *arg, int part, int nparts, void *scratch) {
    const gavg_job *j = arg;
    long long lo, hi;
    nne_split_range(j->planes, 1, part, nparts, &lo, &hi);
    if (lo >= hi) return;
    j->vec->row_sum(j->x + lo * j->sp, hi - lo, j->sp, j->y + lo);
    float inv = 1.0f / (float)j->sp;
    for (long long pl = lo; pl < hi; pl++) j->y[pl] *= inv;
}

static nne_status pool_common(nne_op_ctx *ctx, int kind) {
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    nne_dtype dt = X->dtype;
    int ok = nn_is_float_dtype(dt) ||
             (kind == POOL_MAX && (dt == NNE_DTYPE_UINT8 || dt == NNE_DTYPE_INT8));
    if (!ok)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(dt));
    if (X->ndim < 3)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X has rank %d, expected >= 3 (N, C, ...)",
                            X->ndim);
    pool_args a;
    memset(&a, 0, sizeof a);
    a.kind = kind;
    a.g.nsp = X->ndim - 2;
    for (int i = 0; i < a.g.nsp; i++) a.g.in[i] = X->dims[2 + i];
    NNE_TRY(nn_geom_conv(ctx, &a.g, NULL, 1));
    a.planes = X->dims[0] * X->dims[1];
    a.count_include_pad = (int)nne_attr_i(ctx, "count_include_pad", 0);
    a.storage_order = (int)nne_attr_i(ctx, "storage_order", 0);
    if (kind == POOL_LP) {
        /* LpPool-1 has a float p, later versions an int */
        if (nne_ctx_opset(ctx) < 2) a.p = nne_attr_f(ctx, "p", 2.0f);
        else a.p = (double)nne_attr_i(ctx, "p", 2);
        if (!(a.p > 0))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "p=%g, expected > 0", a.p);
    }
    int64_t od[NNE_MAX_DIMS];
    od[0] = X->dims[0];
    od[1] = X->dims[1];
    for (int i = 0; i < a.g.nsp; i++) od[2 + i] = a.g.out[i];
    nne_tensor *Y, *I = NULL;
    NNE_TRY(nne_ctx_output(ctx, 0, dt, X->ndim, od, &Y));
    if (kind == POOL_MAX && nne_ctx_num_outputs(ctx) > 1)
        NNE_TRY(nne_ctx_output(ctx, 1, NNE_DTYPE_INT64, X->ndim, od, &I));
    nn_carve c = {0};
    size_t xo = nn_carve_add(&c, nn_f32_copy_bytes(X));
    size_t yo = nn_carve_add(&c, nn_f32_copy_bytes(Y));
    nn_scratch(ctx, &c);
    pool_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->a = a;
        st->xo = xo;
        st->yo = yo;
    }
    return NNE_OK;
}

static nne_status pool_kernel_run(const void *state, const nne_kernel_args *args) {
    const pool_state *st = state;
    const nne_tensor *X = args->in[0];
    nne_tensor *Y = args->out[0], *I = args->n_out > 1 ? args->out[1] : NULL;
    nne_dtype dt = X->dtype;
    void *base = args->scratch;
    size_t xo = st->xo, yo = st->yo;
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    const pool_args *pq = &st->a;
    if ((dt == NNE_DTYPE_UINT8 || dt == NNE_DTYPE_INT8) && pq->g.nsp == 2 && pq->kind == POOL_MAX && !(I && I->data)) {
        /* 8-bit MaxPool: on the bytes, no float round trip */
        const nn_geom *g = &pq->g;
        nne_pool2d_desc d = {.planes = pq->planes, .ih = g->in[0], .iw = g->in[1], .oh = g->out[0], .ow = g->out[1],
                             .kh = g->k[0], .kw = g->k[1], .sy = g->s[0], .sx = g->s[1], .dy = g->d[0], .dx = g->d[1],
                             .pt = g->pb[0], .pl = g->pb[1], .pbot = g->pe[0], .pr = g->pe[1], .max = 1};
        nne_pool2d_max_q8(&d, X->data, Y->data, dt == NNE_DTYPE_INT8, nne_ctx_pool(args->ctx));
        return NNE_OK;
    }
    const float *x = nn_f32_view(X, (float *)nn_carve_ptr(base, xo, nn_f32_copy_bytes(X)));
    float *y = dt == NNE_DTYPE_FLOAT ? (float *)Y->data
                                     : (float *)nn_carve_ptr(base, yo, nn_f32_copy_bytes(Y));
    const pool_args *pa = &st->a;
    if (pa->g.nsp == 2 && pa->kind != POOL_LP && !(I && I->data)) {
        /* 2-d Max/AveragePool: the clipped-window kernel, over the threads */
        const nn_geom *g = &pa->g;
        nne_pool2d_desc d = {.planes = pa->planes, .ih = g->in[0], .iw = g->in[1], .oh = g->out[0], .ow = g->out[1],
                             .kh = g->k[0], .kw = g->k[1], .sy = g->s[0], .sx = g->s[1], .dy = g->d[0], .dx = g->d[1],
                             .pt = g->pb[0], .pl = g->pb[1], .pbot = g->pe[0], .pr = g->pe[1],
                             .max = pa->kind == POOL_MAX, .count_include_pad = pa->count_include_pad};
        nne_pool2d_f32(&d, x, y, nne_ctx_pool(args->ctx));
    } else {
        pool_kernel(pa, x, y, I && I->data ? (int64_t *)I->data : NULL);
    }
    if (dt != NNE_DTYPE_FLOAT) nne_store_f32(Y, 0, 1, nne_tensor_numel(Y), y, NNE_CVT_RNE);
    return NNE_OK;
}

static nne_status maxpool_run(nne_op_ctx *ctx) { return pool_common(ctx, POOL_MAX); }
static nne_status avgpool_run(nne_op_ctx *ctx) { return pool_common(ctx, POOL_AVG); }
static nne_status lppool_run(nne_op_ctx *ctx) { return pool_common(ctx, POOL_LP); }

/* ---- global pools: reduce every spatial position of each plane ---- */

static nne_status global_pool(nne_op_ctx *ctx, int kind) {
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    if (!nn_is_float_dtype(X->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    if (X->ndim < 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X has rank %d, expected >= 2 (N, C, ...)",
                            X->ndim);
    double p = 2.0;
    if (kind == POOL_LP) {
        p = nne_ctx_opset(ctx) < 2 ? nne_attr_f(ctx, "p", 2.0f) : (double)nne_attr_i(ctx, "p", 2);
        if (!(p > 0)) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "p=%g, expected > 0", p);
    }
    int64_t od[NNE_MAX_DIMS];
    od[0] = X->dims[0];
    od[1] = X->dims[1];
    for (int i = 2; i < X->ndim; i++) od[i] = 1;
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, X->ndim, od, &Y));
    int64_t planes = X->dims[0] * X->dims[1];
    int64_t sp = planes > 0 ? nne_tensor_numel(X) / planes : 0;
    nn_carve c = {0};
    size_t ro = nn_carve_add(&c, nne_size_elems(sp > 0 ? sp : 1, sizeof(double)));
    size_t yo = nn_carve_add(&c, nne_size_elems(planes, sizeof(double)));
    nn_scratch(ctx, &c);
    gpool_state *st = nne_ctx_plan_state(ctx);
    if (st)
        *st = (gpool_state){.kind = kind, .p = p, .planes = planes, .sp = sp, .ro = ro, .yo = yo,
                            .vec = X->dtype == NNE_DTYPE_FLOAT && kind == POOL_AVG && sp > 0 ? nne_vec() : NULL};
    return NNE_OK;
}

static nne_status gpool_kernel(const void *state, const nne_kernel_args *args) {
    const gpool_state *st = state;
    const nne_tensor *X = args->in[0];
    nne_tensor *Y = args->out[0];
    int kind = st->kind;
    double p = st->p;
    int64_t planes = st->planes, sp = st->sp;
    char *base = args->scratch;
    double *row = (double *)(base + st->ro), *yv = (double *)(base + st->yo);
    if (st->vec) {
        if (planes <= 0) return NNE_OK;
        gavg_job job = {st->vec, X->data, Y->data, planes, sp};
        nne_threadpool *pool = nne_ctx_pool(args->ctx);
        int parts = planes * sp >= 32768 ? nne_threadpool_threads(pool) : 1;
        if (parts > planes) parts = (int)planes;
        nne_parallel(pool, parts, gavg_part, &job, NULL);
        return NNE_OK;
    }
    for (int64_t pl = 0; pl < planes; pl++) {
        double acc = kind == POOL_MAX ? -INFINITY : 0.0;
        if (X->dtype == NNE_DTYPE_FLOAT && kind == POOL_AVG) {
            const float *xp = (const float *)X->data + pl * sp;
            acc = nne_f32_sum_f64(xp, sp);
        } else {
            nne_load_f64(X, pl * sp, 1, sp, row);
            for (int64_t i = 0; i < sp; i++) {
                double v = row[i];
                if (kind == POOL_MAX) acc = (v > acc || v != v) ? v : acc;
                else if (kind == POOL_AVG) acc += v;
                else acc += pow(fabs(v), p);
            }
        }
        if (kind == POOL_AVG) acc = sp > 0 ? acc / (double)sp : 0.0;
        else if (kind == POOL_LP) acc = pow(acc, 1.0 / p);
        yv[pl] = acc;
    }
    nne_store_f64(Y, 0, 1, planes, yv, NNE_CVT_RNE);
    return NNE_OK;
}

static nne_status gmaxpool_run(nne_op_ctx *ctx) { return global_pool(ctx, POOL_MAX); }
static nne_status gavgpool_run(nne_op_ctx *ctx) { return global_pool(ctx, POOL_AVG); }
static nne_status glppool_run(nne_op_ctx *ctx) { return global_pool(ctx, POOL_LP); }

/* ---- MaxUnpool ---- */

/* MaxUnpool: output_shape is data (NNE_DYNAMIC unless constant); indices are checked on every run */
typedef struct maxunpool_state {
    size_t es;
    int64_t od[NNE_MAX_DIMS];
    int64_t dd[NNE_MAX_DIMS];
} maxunpool_state;

static nne_status maxunpool_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *I = nne_ctx_input(ctx, 1);
    const nne_tensor *OS = nne_ctx_input(ctx, 2);
    if (!X || !I) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs X and I are required");
    if (I->dtype != NNE_DTYPE_INT64)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "I is %s, expected int64",
                            nne_dtype_name(I->dtype));
    if (X->ndim < 3)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X has rank %d, expected >= 3", X->ndim);
    if (I->ndim != X->ndim || memcmp(I->dims, X->dims, sizeof(int64_t) * (size_t)X->ndim) != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "I must have the shape of X");
    int nsp = X->ndim - 2;
    int64_t k[NN_MAX_SP], s[NN_MAX_SP], pads[2 * NN_MAX_SP];
    const int64_t *ks = NULL;
    if (nne_attr_ints(ctx, "kernel_shape", &ks) != nsp || !ks)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "kernel_shape must have %d values", nsp);
    for (int i = 0; i < nsp; i++) {
        if (ks[i] < 1 || ks[i] > NN_ATTR_MAX)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "kernel_shape[%d]=%lld out of range", i,
                                (long long)ks[i]);
        k[i] = ks[i];
    }
    NNE_TRY(nn_attr_ints_n(ctx, "strides", nsp, 1, 1, s));
    NNE_TRY(nn_attr_ints_n(ctx, "pads", 2 * nsp, 0, 0, pads));
    /* dd: the shape the indices refer to (the unpooled shape implied by the
     * attributes); od: the output shape (output_shape input when given,
     * values are placed at the same coordinates, the rest is zero) */
    int64_t od[NNE_MAX_DIMS], dd[NNE_MAX_DIMS];
    od[0] = dd[0] = X->dims[0];
    od[1] = dd[1] = X->dims[1];
    for (int i = 0; i < nsp; i++) {
        dd[2 + i] = od[2 + i] = (X->dims[2 + i] - 1) * s[i] + k[i] - pads[i] - pads[i + nsp];
        if (dd[2 + i] < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "output size on axis %d is negative",
                                2 + i);
    }
    if (OS) {
        NNE_TRY(nne_ctx_need_data(ctx, OS));
        if (nne_tensor_numel(OS) != X->ndim)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "output_shape has %lld values, expected %d",
                                (long long)nne_tensor_numel(OS), X->ndim);
        for (int i = 0; i < X->ndim; i++) {
            od[i] = nne_tensor_get_i64(OS, i);
            if (od[i] < 0)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "output_shape[%d]=%lld is negative",
                                    i, (long long)od[i]);
        }
    }
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, X->ndim, od, &Y));
    size_t es = nne_dtype_size(X->dtype);
    if (es == 0)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    maxunpool_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->es = es;
        memcpy(st->od, od, sizeof st->od);
        memcpy(st->dd, dd, sizeof st->dd);
    }
    return NNE_OK;
}

static nne_status maxunpool_kernel(const void *state, const nne_kernel_args *a) {
    const maxunpool_state *st = state;
    const nne_tensor *X = a->in[0];
    const nne_tensor *I = a->n_in > 1 ? a->in[1] : NULL;
    nne_tensor *Y = a->out[0];
    size_t es = st->es;
    const int64_t *od = st->od;
    const int64_t *dd = st->dd;
    nne_op_ctx *ctx = a->ctx;
    int64_t ny = nne_tensor_numel(Y), nx = nne_tensor_numel(X);
    int64_t nd = 1;
    for (int i = 0; i < X->ndim; i++) nd *= dd[i];
    memset(Y->data, 0, (size_t)ny * es);
    const int64_t *ip = (const int64_t *)I->data;
    for (int64_t j = 0; j < nx; j++) {
        if (ip[j] < 0 || ip[j] >= nd)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "index I[%lld]=%lld outside the unpooled tensor (%lld elements)",
                                (long long)j, (long long)ip[j], (long long)nd);
        /* re-address the coordinates of ip[j] (in dd) in od */
        int64_t rem = ip[j], off = 0, mul = 1, inside = 1;
        for (int i = X->ndim - 1; i >= 0; i--) {
            int64_t c = rem % dd[i];
            rem /= dd[i];
            if (c >= od[i]) inside = 0;
            off += c * mul;
            mul *= od[i];
        }
        if (!inside) continue;
        memcpy((char *)Y->data + off * (int64_t)es, (const char *)X->data + j * (int64_t)es, es);
    }
    return NNE_OK;
}

/* ---- MaxRoiPool ---- */

/* MaxRoiPool: attributes parsed once per plan */
typedef struct maxroipool_state {
    int64_t ps[2];
    double scale;
    int64_t nr;
    int64_t C;
    int64_t H;
    int64_t W;
    size_t xo;
    size_t yo;
} maxroipool_state;

static nne_status maxroipool_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *R = nne_ctx_input(ctx, 1);
    if (!X || !R) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs X and rois are required");
    if (!nn_is_float_dtype(X->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    if (X->ndim != 4) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must be 4-d (N, C, H, W)");
    if (R->ndim != 2 || R->dims[1] != 5)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "rois must have shape (num_rois, 5)");
    int64_t ps[2];
    const int64_t *pv = NULL;
    if (nne_attr_ints(ctx, "pooled_shape", &pv) != 2 || !pv || pv[0] < 1 || pv[1] < 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "pooled_shape must be 2 positive values");
    ps[0] = pv[0];
    ps[1] = pv[1];
    double scale = nne_attr_f(ctx, "spatial_scale", 1.0f);
    int64_t nr = R->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3];
    int64_t od[4] = {nr, C, ps[0], ps[1]};
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, 4, od, &Y));
    nn_carve c = {0};
    size_t xo = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(X), sizeof(float)));
    size_t yo = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(Y), sizeof(float)));
    nn_scratch(ctx, &c);
    maxroipool_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        memcpy(st->ps, ps, sizeof st->ps);
        st->scale = scale;
        st->nr = nr;
        st->C = C;
        st->H = H;
        st->W = W;
        st->xo = xo;
        st->yo = yo;
    }
    return NNE_OK;
}

static nne_status maxroipool_kernel(const void *state, const nne_kernel_args *a) {
    const maxroipool_state *st = state;
    const nne_tensor *X = a->in[0];
    const nne_tensor *R = a->n_in > 1 ? a->in[1] : NULL;
    nne_tensor *Y = a->out[0];
    const int64_t *ps = st->ps;
    double scale = st->scale;
    int64_t nr = st->nr;
    int64_t C = st->C;
    int64_t H = st->H;
    int64_t W = st->W;
    size_t xo = st->xo;
    size_t yo = st->yo;
    void *base = a->scratch;
    nne_op_ctx *ctx = a->ctx;
    float *x = (float *)((char *)base + xo), *y = (float *)((char *)base + yo);
    nne_load_f32(X, 0, 1, nne_tensor_numel(X), x);
    for (int64_t r = 0; r < nr; r++) {
        double bf = nne_tensor_get_f64(R, r * 5);
        int64_t b = (bf >= 0.0 && bf < (double)X->dims[0]) ? (int64_t)bf : -1;
        if (b < 0 || b >= X->dims[0])
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "roi %lld has batch index %g, expected 0..%lld",
                                (long long)r, bf, (long long)X->dims[0] - 1);
        double cr[4];
        for (int k = 0; k < 4; k++) {
            cr[k] = round(nne_tensor_get_f64(R, r * 5 + 1 + k) * scale);
            if (!(cr[k] > -1e9 && cr[k] < 1e9))
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "roi %lld coordinates out of range",
                                    (long long)r);
        }
        int64_t x1 = (int64_t)cr[0], y1 = (int64_t)cr[1], x2 = (int64_t)cr[2], y2 = (int64_t)cr[3];
        int64_t rw = x2 - x1 + 1 > 1 ? x2 - x1 + 1 : 1, rh = y2 - y1 + 1 > 1 ? y2 - y1 + 1 : 1;
        double bh = (double)rh / (double)ps[0], bw = (double)rw / (double)ps[1];
        for (int64_t ch = 0; ch < C; ch++) {
            const float *plane = x + (b * C + ch) * H * W;
            for (int64_t py = 0; py < ps[0]; py++)
                for (int64_t px = 0; px < ps[1]; px++) {
                    int64_t hs = (int64_t)floor((double)py * bh) + y1;
                    int64_t he = (int64_t)ceil((double)(py + 1) * bh) + y1;
                    int64_t ws = (int64_t)floor((double)px * bw) + x1;
                    int64_t we = (int64_t)ceil((double)(px + 1) * bw) + x1;
                    hs = hs < 0 ? 0 : (hs > H ? H : hs);
                    he = he < 0 ? 0 : (he > H ? H : he);
                    ws = ws < 0 ? 0 : (ws > W ? W : ws);
                    we = we < 0 ? 0 : (we > W ? W : we);
                    float m = (he <= hs || we <= ws) ? 0.0f : -FLT_MAX;
                    for (int64_t yy = hs; yy < he; yy++)
                        for (int64_t xx = ws; xx < we; xx++)
                            if (plane[yy * W + xx] > m) m = plane[yy * W + xx];
                    y[((r * C + ch) * ps[0] + py) * ps[1] + px] = m;
                }
        }
    }
    nne_store_f32(Y, 0, 1, nne_tensor_numel(Y), y, NNE_CVT_RNE);
    return NNE_OK;
}

NNE_OP_DEFINE(MaxPool, "", "MaxPool", .infer = maxpool_run, .run = pool_kernel_run, .state_size = sizeof(pool_state),
              .gradient = &nne_grad_MaxPool);
NNE_OP_DEFINE(AveragePool, "", "AveragePool", .infer = avgpool_run, .run = pool_kernel_run,
              .state_size = sizeof(pool_state), .gradient = &nne_grad_AveragePool);
NNE_OP_DEFINE(LpPool, "", "LpPool", .infer = lppool_run, .run = pool_kernel_run, .state_size = sizeof(pool_state));
NNE_OP_DEFINE(GlobalMaxPool, "", "GlobalMaxPool", .infer = gmaxpool_run, .run = gpool_kernel,
              .state_size = sizeof(gpool_state), .gradient = &nne_grad_GlobalMaxPool);
NNE_OP_DEFINE(GlobalAveragePool, "", "GlobalAveragePool", .infer = gavgpool_run, .run = gpool_kernel,
              .state_size = sizeof(gpool_state), .gradient = &nne_grad_GlobalAveragePool);
NNE_OP_DEFINE(GlobalLpPool, "", "GlobalLpPool", .infer = glppool_run, .run = gpool_kernel,
              .state_size = sizeof(gpool_state));
NNE_OP_DEFINE(MaxUnpool, "", "MaxUnpool", .infer = maxunpool_run, .run = maxunpool_kernel,
              .state_size = sizeof(maxunpool_state));
NNE_OP_DEFINE(MaxRoiPool, "", "MaxRoiPool", .infer = maxroipool_run, .run = maxroipool_kernel,
              .state_size = sizeof(maxroipool_state));
