/*
 * reduce_cumsum.c - CumSum (opset 11, 14) and CumProd (opset 26).
 *
 * The axis comes from the second input (a scalar or 1-element int32/int64
 * tensor). `exclusive` shifts the running value by one position, `reverse`
 * runs from the end. The input is viewed as outer x n x inner: a running
 * row of `inner` accumulators (double for float dtypes, wrapping int64 for
 * integers) walks the n slices, each a contiguous run of `inner` elements.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <string.h>

/* CumSum / CumProd in phases: cum_common is infer and keeps the attributes
 * and scratch layout; the axis is an input (data), read on every run. */
typedef struct cum_state {
    int prod, exclusive, reverse;
    size_t oacc, orow;
} cum_state;

static nne_status cum_common(nne_op_ctx *ctx, int prod) {
    static const nne_dtype ok[] = {
        NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
        NNE_DTYPE_INT8, NNE_DTYPE_UINT8, NNE_DTYPE_INT16, NNE_DTYPE_UINT16, NNE_DTYPE_INT32,
        NNE_DTYPE_UINT32, NNE_DTYPE_INT64, NNE_DTYPE_UINT64, NNE_DTYPE_UNDEFINED};
    const nne_tensor *X = nne_ctx_input(ctx, 0), *A = nne_ctx_input(ctx, 1);
    if (!X || !A) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs x and axis");
    NNE_TRY(nne_la_check_dtype(ctx, "x", X->dtype, ok));
    if ((A->dtype != NNE_DTYPE_INT32 && A->dtype != NNE_DTYPE_INT64) || nne_tensor_numel(A) != 1) {
        char s[64];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "axis must be a single int32/int64 value, got %s of shape %s",
                            nne_dtype_name(A->dtype), nne_dims_str(A->ndim, A->dims, s, sizeof s));
    }
    if (X->ndim == 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "x must have rank >= 1");
    int exclusive = nne_attr_i(ctx, "exclusive", 0) != 0;
    int reverse = nne_attr_i(ctx, "reverse", 0) != 0;
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    int rank = X->ndim;
    /* the axis may be unknown at prepare: plan for axis 0 (the largest inner run) */
    int64_t maxinner = nne_la_prod(X->dims, 1, rank);
    if (A->data) {
        int ax0;
        NNE_TRY(nne_ctx_axis(ctx, nne_tensor_get_i64(A, 0), rank, &ax0));
        maxinner = nne_la_prod(X->dims, ax0 + 1, rank);
    }
    size_t total = 0;
    size_t oacc = nne_la_reserve(&total, nne_size_elems(maxinner, 8));
    size_t orow = nne_la_reserve(&total, nne_size_elems(maxinner, 8));
    nne_ctx_scratch(ctx, total);
    cum_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (cum_state){.prod = prod, .exclusive = exclusive, .reverse = reverse, .oacc = oacc, .orow = orow};
    return NNE_OK;
}

static nne_status cum_kernel(const void *state, const nne_kernel_args *a) {
    const cum_state *st = state;
    const nne_tensor *X = a->in[0], *A = a->in[1];
    nne_tensor *Y = a->out[0];
    nne_op_ctx *ctx = a->ctx;
    int prod = st->prod, exclusive = st->exclusive, reverse = st->reverse;
    int rank = X->ndim, isf = nne_dtype_is_float(X->dtype);
    char *scr = a->scratch;
    void *accv = scr + st->oacc, *rowv = scr + st->orow;
    int axis;
    NNE_TRY(nne_ctx_axis(ctx, nne_tensor_get_i64(A, 0), rank, &axis));
    int64_t outer = nne_la_prod(X->dims, 0, axis), n = X->dims[axis];
    int64_t inner = nne_la_prod(X->dims, axis + 1, rank);
    if (nne_tensor_numel(X) == 0) return NNE_OK;
    for (int64_t o = 0; o < outer; o++) {
        if (isf) {
            double *acc = accv, *row = rowv;
            for (int64_t j = 0; j < inner; j++) acc[j] = prod ? 1.0 : 0.0;
            for (int64_t s = 0; s < n; s++) {
                int64_t k = reverse ? n - 1 - s : s;
                int64_t off = (o * n + k) * inner;
                nne_load_f64(X, off, 1, inner, row);
                for (int64_t j = 0; j < inner; j++) {
                    double nv = prod ? acc[j] * row[j] : acc[j] + row[j];
                    row[j] = exclusive ? acc[j] : nv;
                    acc[j] = nv;
                }
                nne_store_f64(Y, off, 1, inner, row, NNE_CVT_SAT);
            }
        } else {
            uint64_t *acc = accv;
            int64_t *row = rowv;
            for (int64_t j = 0; j < inner; j++) acc[j] = prod ? 1 : 0;
            for (int64_t s = 0; s < n; s++) {
                int64_t k = reverse ? n - 1 - s : s;
                int64_t off = (o * n + k) * inner;
                nne_load_i64(X, off, 1, inner, row);
                for (int64_t j = 0; j < inner; j++) {
                    uint64_t nv = prod ? acc[j] * (uint64_t)row[j] : acc[j] + (uint64_t)row[j];
                    row[j] = (int64_t)(exclusive ? acc[j] : nv);
                    acc[j] = nv;
                }
                nne_store_i64(Y, off, 1, inner, row);
            }
        }
    }
    return NNE_OK;
}

static nne_status cumsum_run(nne_op_ctx *ctx) { return cum_common(ctx, 0); }
static nne_status cumprod_run(nne_op_ctx *ctx) { return cum_common(ctx, 1); }

NNE_OP_DEFINE(CumSum, "", "CumSum", .infer = cumsum_run, .run = cum_kernel, .state_size = sizeof(cum_state));
NNE_OP_DEFINE(CumProd, "", "CumProd", .infer = cumprod_run, .run = cum_kernel, .state_size = sizeof(cum_state));
