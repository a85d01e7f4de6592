/*
 * linalg_det.c - Det (opset 11, 22): determinant of each square matrix in
 * the last two axes, [*, M, M] -> [*].
 * LU decomposition with partial pivoting in double, on a scratch copy.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <math.h>

static double det_lu(double *a, int64_t n) {
    double det = 1.0;
    for (int64_t c = 0; c < n; c++) {
        int64_t p = c;
        double best = fabs(a[c * n + c]);
        for (int64_t r = c + 1; r < n; r++) {
            double v = fabs(a[r * n + c]);
            if (v > best) {
                best = v;
                p = r;
            }
        }
        if (best == 0.0) return 0.0;
        if (p != c) {
            for (int64_t j = 0; j < n; j++) {
                double t = a[c * n + j];
                a[c * n + j] = a[p * n + j];
                a[p * n + j] = t;
            }
            det = -det;
        }
        double piv = a[c * n + c];
        det *= piv;
        for (int64_t r = c + 1; r < n; r++) {
            double f = a[r * n + c] / piv;
            if (f == 0.0) continue;
            for (int64_t j = c + 1; j < n; j++) a[r * n + j] -= f * a[c * n + j];
        }
    }
    return det;
}

/* Det: matrix size fixed per plan */
typedef struct det_state {
    int64_t n;
} det_state;

static nne_status det_run(nne_op_ctx *ctx) {
    static const nne_dtype ok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16,
                                   NNE_DTYPE_BFLOAT16, NNE_DTYPE_UNDEFINED};
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs input X");
    NNE_TRY(nne_la_check_dtype(ctx, "X", X->dtype, ok));
    char s[96];
    if (X->ndim < 2 || X->dims[X->ndim - 1] != X->dims[X->ndim - 2]) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "X must be [*, M, M] (square matrices in the last two axes), got %s",
                            nne_dims_str(X->ndim, X->dims, s, sizeof s));
    }
    int64_t n = X->dims[X->ndim - 1];
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, X->ndim - 2, X->dims, &Y));
    nne_ctx_scratch(ctx, nne_size_elems(n * n + 1, sizeof(double)));
    det_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->n = n;
    }
    return NNE_OK;
}

static nne_status det_kernel(const void *state, const nne_kernel_args *args) {
    const det_state *st_ = state;
    const nne_tensor *X = args->in[0];
    nne_tensor *Y = args->out[0];
    int64_t n = st_->n;
    double *a = args->scratch;
    int64_t batch = nne_tensor_numel(Y);
    for (int64_t b = 0; b < batch; b++) {
        nne_load_f64(X, b * n * n, 1, n * n, a);
        double d = det_lu(a, n);
        nne_store_f64(Y, b, 1, 1, &d, NNE_CVT_SAT);
    }
    return NNE_OK;
}

NNE_OP_DEFINE(Det, "", "Det", .infer = det_run, .run = det_kernel,
              .state_size = sizeof(det_state));
