/*
 * tensor_gather.c - index-driven reads: Gather, GatherElements, GatherND.
 * Indices may be any integer dtype (int32/int64 in the spec); negative
 * indices wrap once, anything still out of range fails with INVALID_ARG
 * naming the index and the bound. Data of any dtype is copied as bytes.
 */
#include "ops/tensor_util.h"

#include <string.h>

static nne_status idx_tensor_ok(nne_op_ctx *ctx, const nne_tensor *ind) {
    if (!nne_dtype_is_int(ind->dtype) || ind->dtype == NNE_DTYPE_BOOL)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "indices dtype %s is not an integer type",
                            nne_dtype_name(ind->dtype));
    return NNE_OK;
}

static int64_t idx_at(const nne_tensor *ind, int64_t i) {
    return nne_ld_i64((const char *)ind->data + (size_t)i * nne_dtype_size(ind->dtype), ind->dtype, 0);
}

static nne_status prologue(nne_op_ctx *ctx, const nne_tensor **x, const nne_tensor **ind, size_t *es) {
    *x = nne_ctx_input(ctx, 0);
    *ind = nne_ctx_input(ctx, 1);
    if (!*x || !*ind) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs data and indices are required");
    NNE_TRY(nne_tu_esize(ctx, (*x)->dtype, es));
    return idx_tensor_ok(ctx, *ind);
}

/* ----------------------------------------------------------------- Gather */

/* Gather in phases: gather_run is infer; when planning it keeps the axis and
 * element size. Indices are data: checked on every run. */
typedef struct ga_state {
    int axis;
    size_t es;
} ga_state;

static nne_status gather_run(nne_op_ctx *ctx) {
    const nne_tensor *x, *ind;
    size_t es;
    NNE_TRY(prologue(ctx, &x, &ind, &es));
    int r = x->ndim, q = ind->ndim;
    if (r < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "data must have rank >= 1");
    int axis;
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", 0), r, &axis));
    if (r - 1 + q > NNE_MAX_DIMS)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output rank %d exceeds the limit %d", r - 1 + q,
                            NNE_MAX_DIMS);
    int64_t od[NNE_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < axis; i++) od[k++] = x->dims[i];
    for (int i = 0; i < q; i++) od[k++] = ind->dims[i];
    for (int i = axis + 1; i < r; i++) od[k++] = x->dims[i];
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, k, od, &y));
    ga_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (ga_state){.axis = axis, .es = es};
    return NNE_OK;
}

static nne_status gather_kernel(const void *state, const nne_kernel_args *a) {
    const ga_state *st = state;
    const nne_tensor *x = a->in[0], *ind = a->in[1];
    nne_tensor *y = a->out[0];
    nne_op_ctx *ctx = a->ctx; /* for error messages only */
    int axis = st->axis, r = x->ndim;
    size_t es = st->es;
    int64_t outer = 1, inner = 1, n = x->dims[axis], ni = nne_tensor_numel(ind);
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = axis + 1; i < r; i++) inner *= x->dims[i];
    int64_t v;
    for (int64_t j = 0; j < ni; j++) NNE_TRY(nne_tu_index(ctx, idx_at(ind, j), n, "index", &v));
    size_t row = (size_t)inner * es;
    if (row == 0) return NNE_OK;
    char *d = y->data;
    const char *s = x->data;
    for (int64_t o = 0; o < outer; o++) {
        const char *so = s + (size_t)(o * n) * row;
        for (int64_t j = 0; j < ni; j++) {
            int64_t i = idx_at(ind, j);
            if (i < 0) i += n;
            memcpy(d, so + (size_t)i * row, row);
            d += row;
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(Gather, "", "Gather", .infer = gather_run, .run = gather_kernel, .state_size = sizeof(ga_state));

/* --------------------------------------------------------- GatherElements */

/* GatherElements and GatherND keep the element size and the axis (or
 * batch_dims) in their state. */
typedef struct gx_state {
    size_t es;
    int axis;    /* GatherElements: the axis; GatherND: batch_dims */
} gx_state;

static nne_status gather_elements_run(nne_op_ctx *ctx) {
    const nne_tensor *x, *ind;
    size_t es;
    NNE_TRY(prologue(ctx, &x, &ind, &es));
    int r = x->ndim;
    if (r < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "data must have rank >= 1");
    if (ind->ndim != r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "indices rank %d differs from data rank %d",
                            (int)ind->ndim, r);
    int axis;
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", 0), r, &axis));
    for (int i = 0; i < r; i++)
        if (i != axis && ind->dims[i] > x->dims[i])
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "indices dim %d is %lld, larger than data dim %lld", i,
                                (long long)ind->dims[i], (long long)x->dims[i]);
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, r, ind->dims, &y));
    gx_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (gx_state){.es = es, .axis = axis};
    return NNE_OK;
}

static nne_status gather_elements_kernel(const void *state, const nne_kernel_args *a) {
    const gx_state *st = state;
    const nne_tensor *x = a->in[0], *ind = a->in[1];
    nne_tensor *y = a->out[0];
    nne_op_ctx *ctx = a->ctx;
    size_t es = st->es;
    int r = x->ndim, axis = st->axis;
    int64_t n = nne_tensor_numel(ind);
    if (n == 0) return NNE_OK;
    int64_t xstr[NNE_MAX_DIMS], pos[NNE_MAX_DIMS] = {0};
    nne_tu_strides(r, x->dims, xstr);
    int64_t base = 0; /* data offset of pos with the axis coordinate left out */
    char *d = y->data;
    const char *s = x->data;
    for (int64_t e = 0; e < n; e++) {
        int64_t i;
        NNE_TRY(nne_tu_index(ctx, idx_at(ind, e), x->dims[axis], "index", &i));
        memcpy(d + (size_t)e * es, s + (size_t)(base + i * xstr[axis]) * es, es);
        for (int k = r - 1; k >= 0; k--) {
            pos[k]++;
            if (k != axis) base += xstr[k];
            if (pos[k] < ind->dims[k]) break;
            if (k != axis) base -= xstr[k] * pos[k];
            pos[k] = 0;
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(GatherElements, "", "GatherElements", .infer = gather_elements_run, .run = gather_elements_kernel,
              .state_size = sizeof(gx_state));

/* --------------------------------------------------------------- GatherND */

static nne_status gathernd_run(nne_op_ctx *ctx) {
    const nne_tensor *x, *ind;
    size_t es;
    NNE_TRY(prologue(ctx, &x, &ind, &es));
    int r = x->ndim, q = ind->ndim;
    int64_t b = nne_ctx_opset(ctx) >= 12 ? nne_attr_i(ctx, "batch_dims", 0) : 0;
    if (r < 1 || q < 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "data and indices must have rank >= 1");
    if (b < 0 || b >= r || b >= q)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "batch_dims %lld invalid: expected [0, min(%d, %d))", (long long)b, r, q);
    int64_t k = ind->dims[q - 1];
    if (k < 0 || k > r - b)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "last indices dim is %lld, expected 1..%lld (data rank - batch_dims)",
                            (long long)k, (long long)(r - b));
    for (int i = 0; i < b; i++)
        if (ind->dims[i] != x->dims[i])
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "batch dim %d differs: indices %lld, data %lld", i,
                                (long long)ind->dims[i], (long long)x->dims[i]);
    int orank = q - 1 + r - (int)b - (int)k;
    if (orank > NNE_MAX_DIMS)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output rank %d exceeds the limit %d", orank,
                            NNE_MAX_DIMS);
    int64_t od[NNE_MAX_DIMS];
    int o = 0;
    for (int i = 0; i < q - 1; i++) od[o++] = ind->dims[i];
    for (int i = (int)(b + k); i < r; i++) od[o++] = x->dims[i];
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, orank, od, &y));
    gx_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (gx_state){.es = es, .axis = (int)b};
    return NNE_OK;
}

static nne_status gathernd_kernel(const void *state, const nne_kernel_args *a) {
    const gx_state *st = state;
    const nne_tensor *x = a->in[0], *ind = a->in[1];
    nne_tensor *y = a->out[0];
    nne_op_ctx *ctx = a->ctx;
    size_t es = st->es;
    int r = x->ndim, q = ind->ndim;
    int64_t b = st->axis, k = ind->dims[q - 1];
    int64_t nb = 1, m = 1, slice = 1;
    for (int i = 0; i < b; i++) nb *= x->dims[i];
    for (int i = (int)b; i < q - 1; i++) m *= ind->dims[i];
    for (int i = (int)(b + k); i < r; i++) slice *= x->dims[i];
    int64_t xstr[NNE_MAX_DIMS];
    nne_tu_strides(r, x->dims, xstr);
    int64_t bstride = b > 0 ? xstr[b - 1] : 0; /* elements per batch */
    size_t row = (size_t)slice * es;
    char *d = y->data;
    const char *s = x->data;
    for (int64_t bi = 0; bi < nb; bi++) {
        for (int64_t mi = 0; mi < m; mi++) {
            int64_t t = (bi * m + mi) * k, off = bi * bstride;
            for (int64_t j = 0; j < k; j++) {
                int64_t v;
                NNE_TRY(nne_tu_index(ctx, idx_at(ind, t + j), x->dims[b + j], "index", &v));
                off += v * xstr[b + j];
            }
            if (row) memcpy(d, s + (size_t)off * es, row);
            d += row;
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(GatherND, "", "GatherND", .infer = gathernd_run, .run = gathernd_kernel,
              .state_size = sizeof(gx_state));
