/*
 * nn_loss.c - NegativeLogLikelihoodLoss (12, 13, 22) and
 * SoftmaxCrossEntropyLoss (12, 13).
 *
 * input/scores: [N, C, d1..dk]; target/labels: [N, d1..dk] (int32/int64).
 * Per sample: loss = -logp[n, c, d...] * w[c] (w = 1 without weights), and 0
 * where the label equals ignore_index. reduction "none" keeps [N, d1..dk],
 * "sum" sums, "mean" divides the sum by the sum of the weights used (the
 * number of non-ignored samples without weights).
 * SCE first takes LogSoftmax over axis 1 (into double scratch, optionally
 * written to the log_prob output) and then applies the same loss.
 * Computed in double; labels are bounds-checked against C.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

enum { RED_NONE, RED_SUM, RED_MEAN };

/* NegativeLogLikelihoodLoss / SoftmaxCrossEntropyLoss in phases: reduction and ignore_index parsed once per plan */
typedef struct loss_state {
    int sce;
    int64_t N;
    int64_t C;
    int64_t D;
    int red;
    int has_ii;
    int64_t ii;
    int64_t nx;
    int64_t nt;
    size_t olp;
    size_t olo;
    size_t ow;
} loss_state;

static nne_status loss_common(nne_op_ctx *ctx, int sce) {
    static const nne_dtype ok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16,
                                   NNE_DTYPE_BFLOAT16, NNE_DTYPE_UNDEFINED};
    const nne_tensor *X = nne_ctx_input(ctx, 0), *T = nne_ctx_input(ctx, 1);
    const nne_tensor *W = nne_ctx_input(ctx, 2);
    char s1[96], s2[96];
    if (!X || !T) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs %s", sce ? "scores and labels" : "input and target");
    NNE_TRY(nne_la_check_dtype(ctx, sce ? "scores" : "input", X->dtype, ok));
    if (T->dtype != NNE_DTYPE_INT32 && T->dtype != NNE_DTYPE_INT64) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s must be int32 or int64, got %s",
                            sce ? "labels" : "target", nne_dtype_name(T->dtype));
    }
    if (X->ndim < 2 || T->ndim != X->ndim - 1) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "expected input [N, C, d1..dk] and target [N, d1..dk], got %s and %s",
                            nne_dims_str(X->ndim, X->dims, s1, sizeof s1),
                            nne_dims_str(T->ndim, T->dims, s2, sizeof s2));
    }
    int okshape = T->dims[0] == X->dims[0];
    for (int i = 1; okshape && i < T->ndim; i++) okshape = T->dims[i] == X->dims[i + 1];
    if (!okshape) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "target shape %s does not match input %s without its class axis",
                            nne_dims_str(T->ndim, T->dims, s1, sizeof s1),
                            nne_dims_str(X->ndim, X->dims, s2, sizeof s2));
    }
    int64_t N = X->dims[0], C = X->dims[1], D = nne_la_prod(X->dims, 2, X->ndim);
    if (W && (W->ndim != 1 || W->dims[0] != C || W->dtype != X->dtype)) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "weight must be 1-D of %" PRId64 " %s values, got %s %s", C,
                            nne_dtype_name(X->dtype), nne_dtype_name(W->dtype),
                            nne_dims_str(W->ndim, W->dims, s1, sizeof s1));
    }
    const char *rs = nne_attr_s(ctx, "reduction", "mean");
    int red;
    if (!strcmp(rs, "none")) red = RED_NONE;
    else if (!strcmp(rs, "sum")) red = RED_SUM;
    else if (!strcmp(rs, "mean")) red = RED_MEAN;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "reduction must be none, sum or mean, got \"%s\"", rs);
    int has_ii = nne_attr_has(ctx, "ignore_index");
    int64_t ii = nne_attr_i(ctx, "ignore_index", 0);
    nne_tensor *Y, *LP = NULL;
    if (red == RED_NONE) NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, T->ndim, T->dims, &Y));
    else NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, 0, NULL, &Y));
    if (sce && nne_ctx_num_outputs(ctx) > 1) NNE_TRY(nne_ctx_output_like(ctx, 1, X, &LP));
    int64_t nx = nne_tensor_numel(X), nt = nne_tensor_numel(T);
    size_t total = 0;
    size_t olp = nne_la_reserve(&total, nne_size_elems(nx, sizeof(double)));
    size_t olo = nne_la_reserve(&total, nne_size_elems(nt + 1, sizeof(double)));
    size_t ow = nne_la_reserve(&total, nne_size_elems(C + 1, sizeof(double)));
    nne_ctx_scratch(ctx, total);
    loss_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->sce = sce;
        st_->N = N;
        st_->C = C;
        st_->D = D;
        st_->red = red;
        st_->has_ii = has_ii;
        st_->ii = ii;
        st_->nx = nx;
        st_->nt = nt;
        st_->olp = olp;
        st_->olo = olo;
        st_->ow = ow;
    }
    return NNE_OK;
}

static nne_status loss_kernel(const void *state, const nne_kernel_args *a) {
    const loss_state *st_ = state;
    const nne_tensor *X = a->in[0];
    const nne_tensor *T = a->n_in > 1 ? a->in[1] : NULL;
    const nne_tensor *W = a->n_in > 2 ? a->in[2] : NULL;
    nne_tensor *Y = a->out[0];
    nne_tensor *LP = a->n_out > 1 ? a->out[1] : NULL;
    int sce = st_->sce;
    int64_t N = st_->N;
    int64_t C = st_->C;
    int64_t D = st_->D;
    int red = st_->red;
    int has_ii = st_->has_ii;
    int64_t ii = st_->ii;
    int64_t nx = st_->nx;
    int64_t nt = st_->nt;
    size_t olp = st_->olp;
    size_t olo = st_->olo;
    size_t ow = st_->ow;
    char *scr = a->scratch;
    nne_op_ctx *ctx = a->ctx;
    double *lp = (double *)(scr + olp), *loss = (double *)(scr + olo), *wv = (double *)(scr + ow);

    nne_load_f64(X, 0, 1, nx, lp);
    if (sce) {
        /* log-softmax over the class axis: stride D */
        for (int64_t n = 0; n < N; n++) {
            for (int64_t d = 0; d < D; d++) {
                double *r = lp + n * C * D + d;
                double mx = -INFINITY;
                for (int64_t c = 0; c < C; c++) mx = r[c * D] > mx ? r[c * D] : mx;
                if (isinf(mx)) mx = 0.0;
                double sum = 0.0;
                for (int64_t c = 0; c < C; c++) sum += exp(r[c * D] - mx);
                double ls = log(sum) + mx;
                for (int64_t c = 0; c < C; c++) r[c * D] -= ls;
            }
        }
        if (LP) nne_store_f64(LP, 0, 1, nx, lp, NNE_CVT_SAT);
    }
    if (W) nne_load_f64(W, 0, 1, C, wv);
    double tsum = 0.0, wsum = 0.0;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t d = 0; d < D; d++) {
            int64_t t = nne_tensor_get_i64(T, n * D + d);
            double l = 0.0;
            if (!(has_ii && t == ii)) {
                if (t < 0 || t >= C) {
                    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                        "%s value %" PRId64 " at index %" PRId64
                                        " is outside [0, %" PRId64 ")%s",
                                        sce ? "label" : "target", t, n * D + d, C,
                                        has_ii ? " and is not ignore_index" : "");
                }
                double w = W ? wv[t] : 1.0;
                l = -lp[(n * C + t) * D + d] * w;
                wsum += w;
            }
            loss[n * D + d] = l;
            tsum += l;
        }
    }
    if (red == RED_NONE) {
        nne_store_f64(Y, 0, 1, nt, loss, NNE_CVT_SAT);
    } else {
        double v = red == RED_SUM ? tsum : tsum / wsum;
        nne_store_f64(Y, 0, 1, 1, &v, NNE_CVT_SAT);
    }
    return NNE_OK;
}

static nne_status nll_run(nne_op_ctx *ctx) { return loss_common(ctx, 0); }
static nne_status sce_run(nne_op_ctx *ctx) { return loss_common(ctx, 1); }

NNE_OP_DEFINE(NegativeLogLikelihoodLoss, "", "NegativeLogLikelihoodLoss", .infer = nll_run, .run = loss_kernel,
              .state_size = sizeof(loss_state));
NNE_OP_DEFINE(SoftmaxCrossEntropyLoss, "", "SoftmaxCrossEntropyLoss", .infer = sce_run, .run = loss_kernel,
              .state_size = sizeof(loss_state));
