/*
 * tensor_scatter.c - index-driven writes: Scatter (opset 9-10, and the
 * deprecated opset-11 alias), ScatterElements and ScatterND, with the
 * `reduction` attribute (none/add/mul from opset 16, max/min from 18).
 * Output = copy of data, then updates are applied in index order, so with
 * reduction "none" and repeated indices the last update wins.
 */
#include "ops/tensor_util.h"

#include <string.h>

static nne_status scatter_prologue(nne_op_ctx *ctx, const nne_tensor **x, const nne_tensor **ind,
                                   const nne_tensor **upd, size_t *es, nne_tensor **y) {
    *x = nne_ctx_input(ctx, 0);
    *ind = nne_ctx_input(ctx, 1);
    *upd = nne_ctx_input(ctx, 2);
    if (!*x || !*ind || !*upd)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs data, indices and updates are required");
    NNE_TRY(nne_tu_esize(ctx, (*x)->dtype, es));
    if (!nne_dtype_is_int((*ind)->dtype) || (*ind)->dtype == NNE_DTYPE_BOOL)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "indices dtype %s is not an integer type",
                            nne_dtype_name((*ind)->dtype));
    if ((*upd)->dtype != (*x)->dtype)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "updates dtype %s differs from data dtype %s",
                            nne_dtype_name((*upd)->dtype), nne_dtype_name((*x)->dtype));
    return nne_ctx_output_like(ctx, 0, *x, y);
}

static int64_t idx_at(const nne_tensor *ind, int64_t i) {
    return nne_ld_i64((const char *)ind->data + (size_t)i * nne_dtype_size(ind->dtype), ind->dtype, 0);
}

static void copy_data(nne_tensor *y, const nne_tensor *x) {
    size_t nb = nne_tensor_nbytes(x);
    if (nb && y->data != x->data) memmove(y->data, x->data, nb);
}

/* Both scatters keep the element size, the reduction and the axis in their
 * state; indices are data, checked on every run. */
typedef struct scatter_state {
    size_t es;
    int red, axis;
} scatter_state;

/* ------------------------------------------------------- ScatterElements */

static nne_status scatter_elements_run(nne_op_ctx *ctx) {
    const nne_tensor *x, *ind, *upd;
    size_t es;
    nne_tensor *y;
    NNE_TRY(scatter_prologue(ctx, &x, &ind, &upd, &es, &y));
    int red = NNE_TU_RED_NONE;
    NNE_TRY(nne_tu_reduction_attr(ctx, &red));
    int r = x->ndim;
    if (r < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "data must have rank >= 1");
    if (ind->ndim != r || upd->ndim != r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "indices (rank %d) and updates (rank %d) must have the data rank %d",
                            (int)ind->ndim, (int)upd->ndim, r);
    int axis;
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", 0), r, &axis));
    char b1[128], b2[128];
    for (int i = 0; i < r; i++) {
        if (ind->dims[i] != upd->dims[i])
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "indices shape %s differs from updates shape %s",
                                nne_dims_str(ind->ndim, ind->dims, b1, sizeof b1),
                                nne_dims_str(upd->ndim, upd->dims, b2, sizeof b2));
        if (i != axis && ind->dims[i] > x->dims[i])
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "indices dim %d is %lld, larger than data dim %lld", i,
                                (long long)ind->dims[i], (long long)x->dims[i]);
    }
    scatter_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (scatter_state){.es = es, .red = red, .axis = axis};
    return NNE_OK;
}

static nne_status scatter_elements_kernel(const void *state, const nne_kernel_args *a) {
    const scatter_state *st = state;
    const nne_tensor *x = a->in[0], *ind = a->in[1], *upd = a->in[2];
    nne_tensor *y = a->out[0];
    nne_op_ctx *ctx = a->ctx;
    size_t es = st->es;
    int red = st->red, axis = st->axis, r = x->ndim;
    copy_data(y, x);
    int64_t n = nne_tensor_numel(ind);
    if (n == 0) return NNE_OK;
    int64_t xstr[NNE_MAX_DIMS], pos[NNE_MAX_DIMS] = {0};
    nne_tu_strides(r, x->dims, xstr);
    int64_t base = 0;
    char *d = y->data;
    const char *u = upd->data;
    for (int64_t e = 0; e < n; e++) {
        int64_t i;
        NNE_TRY(nne_tu_index(ctx, idx_at(ind, e), x->dims[axis], "index", &i));
        char *dp = d + (size_t)(base + i * xstr[axis]) * es;
        if (red == NNE_TU_RED_NONE) memcpy(dp, u + (size_t)e * es, es);
        else nne_tu_reduce(x->dtype, red, dp, u + (size_t)e * es);
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
NNE_OP_DEFINE(ScatterElements, "", "ScatterElements", .infer = scatter_elements_run, .run = scatter_elements_kernel,
              .state_size = sizeof(scatter_state));
NNE_OP_DEFINE(Scatter, "", "Scatter", .infer = scatter_elements_run, .run = scatter_elements_kernel,
              .state_size = sizeof(scatter_state));

/* -------------------------------------------------------------- ScatterND */

static nne_status scatternd_run(nne_op_ctx *ctx) {
    const nne_tensor *x, *ind, *upd;
    size_t es;
    nne_tensor *y;
    NNE_TRY(scatter_prologue(ctx, &x, &ind, &upd, &es, &y));
    int red = NNE_TU_RED_NONE;
    NNE_TRY(nne_tu_reduction_attr(ctx, &red));
    int r = x->ndim, q = ind->ndim;
    if (r < 1 || q < 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "data and indices must have rank >= 1");
    int64_t k = ind->dims[q - 1];
    if (k < 0 || k > r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "last indices dim is %lld, expected 0..%d",
                            (long long)k, r);
    /* updates shape must be indices.shape[:-1] + data.shape[k:] */
    int ur = q - 1 + r - (int)k;
    int ok = upd->ndim == ur;
    for (int i = 0; ok && i < q - 1; i++) ok = upd->dims[i] == ind->dims[i];
    for (int i = (int)k; ok && i < r; i++) ok = upd->dims[q - 1 + i - k] == x->dims[i];
    if (!ok) {
        char b1[128], b2[128], b3[128];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "updates shape %s does not match indices %s and data %s "
                            "(expected indices.shape[:-1] + data.shape[k:])",
                            nne_dims_str(upd->ndim, upd->dims, b1, sizeof b1),
                            nne_dims_str(q, ind->dims, b2, sizeof b2),
                            nne_dims_str(r, x->dims, b3, sizeof b3));
    }
    scatter_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (scatter_state){.es = es, .red = red};
    return NNE_OK;
}

static nne_status scatternd_kernel(const void *state, const nne_kernel_args *a) {
    const scatter_state *st = state;
    const nne_tensor *x = a->in[0], *ind = a->in[1], *upd = a->in[2];
    nne_tensor *y = a->out[0];
    nne_op_ctx *ctx = a->ctx;
    size_t es = st->es;
    int red = st->red, r = x->ndim, q = ind->ndim;
    int64_t k = ind->dims[q - 1];
    copy_data(y, x);
    int64_t m = 1, slice = 1;
    for (int i = 0; i < q - 1; i++) m *= ind->dims[i];
    for (int i = (int)k; i < r; i++) slice *= x->dims[i];
    int64_t xstr[NNE_MAX_DIMS];
    nne_tu_strides(r, x->dims, xstr);
    char *d = y->data;
    const char *u = upd->data;
    for (int64_t mi = 0; mi < m; mi++) {
        int64_t off = 0;
        for (int64_t j = 0; j < k; j++) {
            int64_t v;
            NNE_TRY(nne_tu_index(ctx, idx_at(ind, mi * k + j), x->dims[j], "index", &v));
            off += v * xstr[j];
        }
        char *dp = d + (size_t)off * es;
        const char *up = u + (size_t)(mi * slice) * es;
        if (red == NNE_TU_RED_NONE) {
            if (slice) memcpy(dp, up, (size_t)slice * es);
        } else {
            for (int64_t e = 0; e < slice; e++)
                nne_tu_reduce(x->dtype, red, dp + (size_t)e * es, up + (size_t)e * es);
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(ScatterND, "", "ScatterND", .infer = scatternd_run, .run = scatternd_kernel,
              .state_size = sizeof(scatter_state));
