/*
 * gen_random.c - RandomNormal, RandomUniform, RandomNormalLike, RandomUniformLike,
 * Bernoulli and Multinomial (every opset).
 *
 * All draw from the session's generator (nne_ctx_rand), so a session gives a
 * reproducible stream; the `seed` attribute is accepted and not used (the
 * spec allows implementations to differ even with a seed). The ops are
 * registered NONDETERMINISTIC so they are never constant-folded.
 */
#include "ops/op.h"

#include <math.h>

static int is_float_dt(int64_t dt) {
    return dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_DOUBLE || dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
}

/* Standard normal sample (Box-Muller). */
static double rand_normal(nne_op_ctx *ctx) {
    double u1 = 1.0 - nne_ctx_rand(ctx); /* (0, 1] */
    double u2 = nne_ctx_rand(ctx);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Output dtype of the generator ops: attribute `dtype`, else `def`. */
static nne_status rand_dtype(nne_op_ctx *ctx, int64_t def, nne_dtype *out) {
    int64_t dt = nne_attr_i(ctx, "dtype", def);
    if (!is_float_dt(dt))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported (expected a float type)",
                            nne_dtype_name((nne_dtype)dt));
    *out = (nne_dtype)dt;
    return NNE_OK;
}

/* kind 0: normal(mean, scale), 1: uniform[low, high). like: shape from input 0. */
/* Random* in phases: the distribution parameters are parsed once per plan; run draws from the context generator (nne_ctx_rand) */
typedef struct random_state {
    int kind;
    double p0;
    double p1;
} random_state;

static nne_status random_common(nne_op_ctx *ctx, int kind, int like) {
    int64_t dims[NNE_MAX_DIMS];
    int ndim;
    nne_dtype dt;
    if (like) {
        const nne_tensor *x = nne_ctx_input(ctx, 0);
        if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input is required");
        NNE_TRY(rand_dtype(ctx, x->dtype, &dt));
        ndim = x->ndim;
        for (int i = 0; i < ndim; i++) dims[i] = x->dims[i];
    } else {
        const int64_t *shape;
        int n = nne_attr_ints(ctx, "shape", &shape);
        if (n < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute shape is required");
        if (n > NNE_MAX_DIMS) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "shape has rank %d > %d", n, NNE_MAX_DIMS);
        for (int i = 0; i < n; i++) {
            if (shape[i] < 0)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "shape[%d] = %lld is negative", i, (long long)shape[i]);
            dims[i] = shape[i];
        }
        ndim = n;
        NNE_TRY(rand_dtype(ctx, NNE_DTYPE_FLOAT, &dt));
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, dt, ndim, dims, &y));
    /* normal: p0 = mean, p1 = scale; uniform: p0 = low, p1 = high */
    double p0 = kind == 0 ? nne_attr_f(ctx, "mean", 0.f) : nne_attr_f(ctx, "low", 0.f);
    double p1 = kind == 0 ? nne_attr_f(ctx, "scale", 1.f) : nne_attr_f(ctx, "high", 1.f);
    random_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->kind = kind;
        st_->p0 = p0;
        st_->p1 = p1;
    }
    return NNE_OK;
}

static nne_status random_kernel(const void *state, const nne_kernel_args *a) {
    const random_state *st_ = state;
    nne_tensor *y = a->out[0];
    int kind = st_->kind;
    double p0 = st_->p0;
    double p1 = st_->p1;
    nne_op_ctx *ctx = a->ctx;
    int64_t n = nne_tensor_numel(y);
    if (kind == 0) {
        for (int64_t i = 0; i < n; i++) nne_tensor_set_f64(y, i, p0 + p1 * rand_normal(ctx));
    } else {
        for (int64_t i = 0; i < n; i++) nne_tensor_set_f64(y, i, p0 + (p1 - p0) * nne_ctx_rand(ctx));
    }
    return NNE_OK;
}

static nne_status random_normal_run(nne_op_ctx *ctx) { return random_common(ctx, 0, 0); }
static nne_status random_uniform_run(nne_op_ctx *ctx) { return random_common(ctx, 1, 0); }
static nne_status random_normal_like_run(nne_op_ctx *ctx) { return random_common(ctx, 0, 1); }
static nne_status random_uniform_like_run(nne_op_ctx *ctx) { return random_common(ctx, 1, 1); }

/* Bernoulli: y = 1 with probability x, else 0; dtype attribute or x's dtype. */
static nne_status bernoulli_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input is required");
    if (!is_float_dt(x->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(x->dtype));
    int64_t dt = nne_attr_i(ctx, "dtype", x->dtype);
    if (!nne_dtype_size((nne_dtype)dt))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output dtype %lld not supported", (long long)dt);
    nne_tensor *y;
    int64_t dims[NNE_MAX_DIMS];
    for (int i = 0; i < x->ndim; i++) dims[i] = x->dims[i];
    return nne_ctx_output(ctx, 0, (nne_dtype)dt, x->ndim, dims, &y);
}

static nne_status bernoulli_kernel(const void *state, const nne_kernel_args *a) {
    (void)state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    nne_op_ctx *ctx = a->ctx;
    int64_t n = nne_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) nne_tensor_set_f64(y, i, nne_ctx_rand(ctx) < nne_tensor_get_f64(x, i) ? 1.0 : 0.0);
    return NNE_OK;
}

/* Multinomial: x [batch, classes] unnormalized log-probabilities; y [batch, sample_size]
 * class indices (int32 or int64). Sampling inverts the cumulative distribution. */
/* Multinomial: sample_size parsed once per plan */
typedef struct multinomial_state {
    int64_t ss;
    int64_t nb;
    int64_t nc;
} multinomial_state;

static nne_status multinomial_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input is required");
    if (!is_float_dt(x->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(x->dtype));
    if (x->ndim != 2) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input must be [batch, classes], got rank %d", x->ndim);
    int64_t dt = nne_attr_i(ctx, "dtype", NNE_DTYPE_INT32);
    if (dt != NNE_DTYPE_INT32 && dt != NNE_DTYPE_INT64)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported (int32 or int64)",
                            nne_dtype_name((nne_dtype)dt));
    int64_t ss = nne_attr_i(ctx, "sample_size", 1);
    if (ss < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sample_size %lld is negative", (long long)ss);
    const int64_t nb = x->dims[0], nc = x->dims[1];
    int64_t dims[2] = {nb, ss};
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, (nne_dtype)dt, 2, dims, &y));
    nne_ctx_scratch(ctx, nne_size_elems(nc > 0 ? nc : 1, sizeof(double)));
    multinomial_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->ss = ss;
        st_->nb = nb;
        st_->nc = nc;
    }
    return NNE_OK;
}

static nne_status multinomial_kernel(const void *state, const nne_kernel_args *a) {
    const multinomial_state *st_ = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    int64_t ss = st_->ss;
    int64_t nb = st_->nb;
    int64_t nc = st_->nc;
    double *cdf = a->scratch;
    nne_op_ctx *ctx = a->ctx;
    for (int64_t b = 0; b < nb; b++) {
        double mx = -INFINITY, total = 0.0;
        for (int64_t c = 0; c < nc; c++) {
            double v = nne_tensor_get_f64(x, b * nc + c);
            if (v > mx) mx = v;
        }
        for (int64_t c = 0; c < nc; c++) {
            double v = nne_tensor_get_f64(x, b * nc + c);
            total += (mx == -INFINITY || v != v) ? 0.0 : exp(v - mx);
            cdf[c] = total;
        }
        for (int64_t s = 0; s < ss; s++) {
            int64_t k = nc > 0 ? nc - 1 : 0;
            if (total > 0.0) {
                double u = nne_ctx_rand(ctx) * total;
                int64_t lo = 0, hi = nc - 1; /* first c with cdf[c] > u */
                while (lo < hi) {
                    int64_t mid = lo + (hi - lo) / 2;
                    if (cdf[mid] > u) hi = mid;
                    else lo = mid + 1;
                }
                k = lo;
            }
            nne_tensor_set_f64(y, b * ss + s, (double)k);
        }
    }
    return NNE_OK;
}

NNE_OP_DEFINE(RandomNormal, "", "RandomNormal", .infer = random_normal_run, .run = random_kernel,
              .state_size = sizeof(random_state), .flags = NNE_OPF_NONDETERMINISTIC);
NNE_OP_DEFINE(RandomUniform, "", "RandomUniform", .infer = random_uniform_run, .run = random_kernel,
              .state_size = sizeof(random_state), .flags = NNE_OPF_NONDETERMINISTIC);
NNE_OP_DEFINE(RandomNormalLike, "", "RandomNormalLike", .infer = random_normal_like_run, .run = random_kernel,
              .state_size = sizeof(random_state), .flags = NNE_OPF_NONDETERMINISTIC);
NNE_OP_DEFINE(RandomUniformLike, "", "RandomUniformLike", .infer = random_uniform_like_run, .run = random_kernel,
              .state_size = sizeof(random_state), .flags = NNE_OPF_NONDETERMINISTIC);
NNE_OP_DEFINE(Bernoulli, "", "Bernoulli", .infer = bernoulli_run, .run = bernoulli_kernel, .flags = NNE_OPF_NONDETERMINISTIC);
NNE_OP_DEFINE(Multinomial, "", "Multinomial", .infer = multinomial_run, .run = multinomial_kernel,
              .state_size = sizeof(multinomial_state), .flags = NNE_OPF_NONDETERMINISTIC);
