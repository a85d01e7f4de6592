/*
 * reduce_argmax.c - ArgMax and ArgMin (all opsets): int64 index of the
 * largest / smallest element along `axis`; keepdims keeps the axis as size 1;
 * select_last_index (opset 12+) picks the last of equal extremes. NaN counts
 * as the extreme (first NaN wins), as in numpy.
 * The input is viewed as outer x n x inner; each (outer, inner) column is
 * loaded as doubles in chunks and scanned.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <string.h>

#define CHUNK 256

/* ArgMax / ArgMin in phases: arg_common is infer and keeps the parsed
 * attributes in the state when planning. */
typedef struct arg_state {
    int want_max, last, axis;
} arg_state;

static nne_status arg_common(nne_op_ctx *ctx, int want_max) {
    static const nne_dtype ok[] = {
        NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
        NNE_DTYPE_INT8, NNE_DTYPE_UINT8, NNE_DTYPE_INT16, NNE_DTYPE_UINT16, NNE_DTYPE_INT32,
        NNE_DTYPE_UINT32, NNE_DTYPE_INT64, NNE_DTYPE_UINT64, NNE_DTYPE_BOOL, NNE_DTYPE_UNDEFINED};
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs input data");
    NNE_TRY(nne_la_check_dtype(ctx, "data", X->dtype, ok));
    int keepdims = nne_attr_i(ctx, "keepdims", 1) != 0;
    int last = nne_ctx_opset(ctx) >= 12 && nne_attr_i(ctx, "select_last_index", 0) != 0;
    int rank = X->ndim, axis = 0;
    if (rank == 0) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input must have rank >= 1");
    }
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", 0), rank, &axis));
    int64_t n = X->dims[axis];
    int64_t odims[NNE_MAX_DIMS];
    int ond = 0;
    for (int i = 0; i < rank; i++) {
        if (i == axis) {
            if (keepdims) odims[ond++] = 1;
        } else {
            odims[ond++] = X->dims[i];
        }
    }
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_INT64, ond, odims, &Y));
    int64_t ny = nne_tensor_numel(Y);
    if (n == 0 && ny > 0) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "cannot take the arg%s of an empty axis %d",
                            want_max ? "max" : "min", axis);
    }
    arg_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (arg_state){.want_max = want_max, .last = last, .axis = axis};
    return NNE_OK;
}

static nne_status arg_kernel(const void *state, const nne_kernel_args *a) {
    const arg_state *st = state;
    const nne_tensor *X = a->in[0];
    nne_tensor *Y = a->out[0];
    int want_max = st->want_max, last = st->last, axis = st->axis, rank = X->ndim;
    int64_t n = X->dims[axis];
    int64_t outer = nne_la_prod(X->dims, 0, axis), inner = nne_la_prod(X->dims, axis + 1, rank);
    int64_t *y = Y->data;
    double buf[CHUNK];
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * n * inner + in;
            int64_t best = 0;
            double bv = 0.0;
            int bnan = 0;
            for (int64_t c = 0; c < n; c += CHUNK) {
                int64_t cn = n - c < CHUNK ? n - c : CHUNK;
                nne_load_f64(X, base + c * inner, inner, cn, buf);
                for (int64_t j = 0; j < cn; j++) {
                    double v = buf[j];
                    int64_t k = c + j;
                    if (k == 0) {
                        bv = v;
                        bnan = v != v;
                        continue;
                    }
                    if (bnan) break;
                    if (v != v) {
                        best = k;
                        bv = v;
                        bnan = 1;
                        break;
                    }
                    int better = want_max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
                    if (better) {
                        best = k;
                        bv = v;
                    }
                }
                if (bnan) break;
            }
            y[o * inner + in] = best;
        }
    }
    return NNE_OK;
}

static nne_status argmax_run(nne_op_ctx *ctx) { return arg_common(ctx, 1); }
static nne_status argmin_run(nne_op_ctx *ctx) { return arg_common(ctx, 0); }

NNE_OP_DEFINE(ArgMax, "", "ArgMax", .infer = argmax_run, .run = arg_kernel, .state_size = sizeof(arg_state));
NNE_OP_DEFINE(ArgMin, "", "ArgMin", .infer = argmin_run, .run = arg_kernel, .state_size = sizeof(arg_state));
