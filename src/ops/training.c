/*
 * training.c - optimizer steps of the ai.onnx.preview.training domain:
 * Adagrad, Adam and Momentum (standard and Nesterov), opset 1.
 *
 * Inputs are R (learning rate), T (update count), then the n optimized
 * tensors, their n gradients and their n (or 2n for Adam) state tensors.
 * Outputs are the n new tensors followed by the new states, in input order;
 * a node may list fewer outputs. Each output has its tensor's shape; the
 * gradient and states must have the same number of elements. Computed in
 * double.
 */
#include "ops/op.h"

#include <math.h>
#include <string.h>

enum { OPT_ADAGRAD, OPT_ADAM, OPT_MOMENTUM };

static nne_status scalar_in(nne_op_ctx *ctx, int i, const char *what, double *out) {
    const nne_tensor *t = nne_ctx_input(ctx, i);
    if (!t) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %s is required", what);
    if (nne_tensor_numel(t) != 1 || !nne_dtype_size(t->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s must be a scalar, got %lld elements", what,
                            (long long)nne_tensor_numel(t));
    *out = nne_ctx_shape_only(ctx) ? 0.0 : nne_tensor_get_f64(t, 0);
    return NNE_OK;
}

/* Adagrad / Adam / Momentum in phases: attributes parsed once per plan; R and T are data, read on every run */
typedef struct optimizer_state {
    int kind;
    int n;
    int nout;
    double norm;
    double eps;
    double decay;
    double post;
    double alpha;
    double beta;
    int nesterov;
} optimizer_state;

static nne_status optimizer_common(nne_op_ctx *ctx, int kind) {
    const int groups = kind == OPT_ADAM ? 4 : 3; /* X, G, states */
    int nin = nne_ctx_num_inputs(ctx), nout = nne_ctx_num_outputs(ctx);
    if (nin < 2 + groups || (nin - 2) % groups)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%d inputs: expected R, T and %d groups of n tensors", nin,
                            groups);
    const int n = (nin - 2) / groups;
    if (nout > n * (groups - 1))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%d outputs for %d tensors: at most %d", nout, n,
                            n * (groups - 1));
    double R, T;
    NNE_TRY(scalar_in(ctx, 0, "R", &R));
    NNE_TRY(scalar_in(ctx, 1, "T", &T));
    for (int i = 0; i < n; i++) {
        const nne_tensor *x = nne_ctx_input(ctx, 2 + i);
        if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "tensor input %d is missing", 2 + i);
        if (!nne_dtype_is_float(x->dtype))
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(x->dtype));
        for (int g = 1; g < groups; g++) {
            const nne_tensor *s = nne_ctx_input(ctx, 2 + g * n + i);
            if (!s || !nne_dtype_is_float(s->dtype) || nne_tensor_numel(s) != nne_tensor_numel(x))
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "input %d must be a float tensor with the %lld elements of input %d", 2 + g * n + i,
                                    (long long)nne_tensor_numel(x), 2 + i);
        }
    }
    nne_tensor *outs[64];
    if (nout > 64) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "%d outputs (at most 64)", nout);
    for (int k = 0; k < nout; k++) NNE_TRY(nne_ctx_output_like(ctx, k, nne_ctx_input(ctx, 2 + k % n), &outs[k]));
    const double norm = nne_attr_f(ctx, "norm_coefficient", 0.f), eps = nne_attr_f(ctx, "epsilon", 0.f);
    const double decay = nne_attr_f(ctx, "decay_factor", 0.f), post = nne_attr_f(ctx, "norm_coefficient_post", 0.f);
    const double alpha = nne_attr_f(ctx, "alpha", kind == OPT_ADAM ? 0.9f : 0.f);
    const double beta = nne_attr_f(ctx, "beta", kind == OPT_ADAM ? 0.999f : 0.f);
    int nesterov = 0;
    if (kind == OPT_MOMENTUM) {
        const char *mode = nne_attr_s(ctx, "mode", "standard");
        if (!strcmp(mode, "nesterov")) nesterov = 1;
        else if (strcmp(mode, "standard") != 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "mode \"%s\" is not \"standard\" or \"nesterov\"", mode);
    }
    optimizer_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->kind = kind;
        st_->n = n;
        st_->nout = nout;
        st_->norm = norm;
        st_->eps = eps;
        st_->decay = decay;
        st_->post = post;
        st_->alpha = alpha;
        st_->beta = beta;
        st_->nesterov = nesterov;
    }
    return NNE_OK;
}

static nne_status optimizer_kernel(const void *state, const nne_kernel_args *a) {
    const optimizer_state *st_ = state;
    int kind = st_->kind;
    int n = st_->n;
    int nout = st_->nout;
    double norm = st_->norm;
    double eps = st_->eps;
    double decay = st_->decay;
    double post = st_->post;
    double alpha = st_->alpha;
    double beta = st_->beta;
    int nesterov = st_->nesterov;
    double R = nne_tensor_get_f64(a->in[0], 0), T = nne_tensor_get_f64(a->in[1], 0);
    double r = R;
    if (kind == OPT_ADAGRAD) r = R / (1.0 + T * decay);
    else if (kind == OPT_ADAM && T > 0) r = R * sqrt(1.0 - pow(beta, T)) / (1.0 - pow(alpha, T));
    const double beta_adj = T > 0 ? beta : 1.0;

    for (int i = 0; i < n; i++) {
        const nne_tensor *X = a->in[2 + i], *G = a->in[2 + n + i];
        const nne_tensor *S1 = a->in[2 + 2 * n + i];
        const nne_tensor *S2 = kind == OPT_ADAM ? a->in[2 + 3 * n + i] : NULL;
        nne_tensor *ox = i < nout ? a->out[i] : NULL, *o1 = n + i < nout ? a->out[n + i] : NULL;
        nne_tensor *o2 = 2 * n + i < nout ? a->out[2 * n + i] : NULL;
        int64_t ne = nne_tensor_numel(X);
        for (int64_t e = 0; e < ne; e++) {
            double x = nne_tensor_get_f64(X, e), g = norm * x + nne_tensor_get_f64(G, e);
            double s1 = nne_tensor_get_f64(S1, e), xn, s1n, s2n = 0.0;
            if (kind == OPT_ADAGRAD) {
                s1n = s1 + g * g;
                xn = x - r * g / (sqrt(s1n) + eps);
            } else if (kind == OPT_ADAM) {
                s1n = alpha * s1 + (1.0 - alpha) * g;
                s2n = beta * nne_tensor_get_f64(S2, e) + (1.0 - beta) * g * g;
                xn = (1.0 - post) * (x - r * s1n / (sqrt(s2n) + eps));
            } else {
                s1n = alpha * s1 + beta_adj * g;
                xn = nesterov ? x - r * (g + alpha * s1n) : x - r * s1n;
            }
            if (ox) nne_tensor_set_f64(ox, e, xn);
            if (o1) nne_tensor_set_f64(o1, e, s1n);
            if (o2) nne_tensor_set_f64(o2, e, s2n);
        }
    }
    return NNE_OK;
}

static nne_status adagrad_run(nne_op_ctx *ctx) { return optimizer_common(ctx, OPT_ADAGRAD); }
static nne_status adam_run(nne_op_ctx *ctx) { return optimizer_common(ctx, OPT_ADAM); }
static nne_status momentum_run(nne_op_ctx *ctx) { return optimizer_common(ctx, OPT_MOMENTUM); }

NNE_OP_DEFINE(training_Adagrad, "ai.onnx.preview.training", "Adagrad", .infer = adagrad_run, .run = optimizer_kernel,
              .state_size = sizeof(optimizer_state));
NNE_OP_DEFINE(training_Adam, "ai.onnx.preview.training", "Adam", .infer = adam_run, .run = optimizer_kernel,
              .state_size = sizeof(optimizer_state));
NNE_OP_DEFINE(training_Momentum, "ai.onnx.preview.training", "Momentum", .infer = momentum_run, .run = optimizer_kernel,
              .state_size = sizeof(optimizer_state));
