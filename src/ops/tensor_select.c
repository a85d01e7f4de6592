/*
 * tensor_select.c - ops whose output size depends on input values:
 * Compress (keep the slices where condition is true) and NonZero
 * (coordinates of non-zero elements). Both need their value inputs at
 * shape time (nne_ctx_need_data); when those are computed at run time the
 * node is shaped at run time.
 */
#include "ops/tensor_util.h"

#include <string.h>

/* Compress and NonZero: output shapes follow the data (condition / input),
 * so a node whose data is not constant is shaped at run time (NNE_DYNAMIC
 * from nne_ctx_need_data); the state keeps the element sizes and the axis. */
typedef struct sel_state {
    size_t es, ces;
    int has_axis, axis;
} sel_state;

static nne_status compress_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *c = nne_ctx_input(ctx, 1);
    if (!x || !c) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs input and condition are required");
    size_t es, ces;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    NNE_TRY(nne_tu_esize(ctx, c->dtype, &ces));
    if (c->ndim != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "condition must be 1-D, got rank %d", (int)c->ndim);
    NNE_TRY(nne_ctx_need_data(ctx, c));
    int has_axis = nne_attr_has(ctx, "axis");
    int axis = 0;
    int64_t dim;
    if (has_axis) {
        NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", 0), x->ndim, &axis));
        dim = x->dims[axis];
    } else {
        dim = nne_tensor_numel(x);
    }
    int64_t nc = c->dims[0], cnt = 0;
    const char *cp = c->data;
    for (int64_t i = 0; i < nc; i++) {
        if (!nne_tu_is_nonzero(c->dtype, cp + (size_t)i * ces)) continue;
        if (i >= dim)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "condition[%lld] is true but the selected axis has only %lld entries",
                                (long long)i, (long long)dim);
        cnt++;
    }
    int64_t od[NNE_MAX_DIMS];
    int orank;
    if (has_axis) {
        orank = x->ndim;
        for (int i = 0; i < orank; i++) od[i] = x->dims[i];
        od[axis] = cnt;
    } else {
        orank = 1;
        od[0] = cnt;
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, orank, od, &y));
    sel_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (sel_state){.es = es, .ces = ces, .has_axis = has_axis, .axis = axis};
    return NNE_OK;
}

static nne_status compress_kernel(const void *state, const nne_kernel_args *a) {
    const sel_state *st = state;
    const nne_tensor *x = a->in[0], *c = a->in[1];
    nne_tensor *y = a->out[0];
    size_t es = st->es, ces = st->ces;
    int has_axis = st->has_axis, axis = st->axis;
    int64_t dim = has_axis ? x->dims[axis] : nne_tensor_numel(x);
    int64_t nc = c->dims[0], cnt = has_axis ? y->dims[axis] : y->dims[0];
    const char *cp = c->data;
    int64_t outer = 1, inner = 1;
    if (has_axis) {
        for (int i = 0; i < axis; i++) outer *= x->dims[i];
        for (int i = axis + 1; i < x->ndim; i++) inner *= x->dims[i];
    }
    size_t row = (size_t)inner * es;
    if (row == 0 || cnt == 0) return NNE_OK;
    int64_t lim = nc < dim ? nc : dim;
    char *d = y->data;
    const char *s = x->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < lim; i++) {
            if (!nne_tu_is_nonzero(c->dtype, cp + (size_t)i * ces)) continue;
            memcpy(d, s + (size_t)(o * dim + i) * row, row);
            d += row;
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(Compress, "", "Compress", .infer = compress_run, .run = compress_kernel,
              .state_size = sizeof(sel_state));

/* Output [rank, count] int64; a scalar input is treated as shape [1]. */
static nne_status nonzero_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    NNE_TRY(nne_ctx_need_data(ctx, x));
    int64_t n = nne_tensor_numel(x), cnt = 0;
    const char *s = x->data;
    for (int64_t i = 0; i < n; i++) cnt += nne_tu_is_nonzero(x->dtype, s + (size_t)i * es);
    int r = x->ndim;
    int64_t od[2] = {r > 0 ? r : 1, cnt};
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_INT64, 2, od, &y));
    sel_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (sel_state){.es = es};
    return NNE_OK;
}

static nne_status nonzero_kernel(const void *state, const nne_kernel_args *a) {
    const sel_state *st = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    size_t es = st->es;
    int64_t n = nne_tensor_numel(x), cnt = y->dims[1];
    int r = x->ndim;
    const char *s = x->data;
    int64_t *d = y->data;
    if (r == 0) {
        for (int64_t j = 0; j < cnt; j++) d[j] = 0;
        return NNE_OK;
    }
    int64_t pos[NNE_MAX_DIMS] = {0}, j = 0;
    for (int64_t i = 0; i < n; i++) {
        if (nne_tu_is_nonzero(x->dtype, s + (size_t)i * es)) {
            for (int k = 0; k < r; k++) d[k * cnt + j] = pos[k];
            j++;
        }
        for (int k = r - 1; k >= 0 && ++pos[k] == x->dims[k]; k--) pos[k] = 0;
    }
    return NNE_OK;
}
NNE_OP_DEFINE(NonZero, "", "NonZero", .infer = nonzero_run, .run = nonzero_kernel, .state_size = sizeof(sel_state));
