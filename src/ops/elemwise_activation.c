/*
 * elemwise_activation.c - activations with attributes or extra inputs:
 *   Elu Selu LeakyRelu HardSigmoid HardSwish Celu Gelu Mish ThresholdedRelu
 *   Shrink Swish Clip PRelu.
 * Clip takes its bounds from attributes `min`/`max` before opset 11 and from
 * optional scalar inputs from opset 11 on (all numeric dtypes from 12).
 * PRelu's slope broadcasts unidirectionally to X; before opset 7 a 1-D slope
 * of length C = X.dims[1] is also accepted (per-channel, Caffe style).
 */
#include "train/train.h"
#include "kernels/dispatch.h"
#include "ops/elemwise_common.h"
#include <float.h>

static inline float ew_softplusf_(float x)
{
    return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}
static inline double ew_softplus_(double x)
{
    return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}
static inline float ew_sigmoidf_(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
static inline double ew_sigmoid_(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
/* clamp to [0, 1] keeping NaN */
#define EW_SAT01(t) ((t) < 0 ? 0 : ((t) > 1 ? 1 : (t)))

#define EW_AF(nm, F32EXPR, F64EXPR) EW_UNARY_F32(nm##_f32, F32EXPR) EW_UNARY_GF(nm##_gf, F64EXPR)

EW_AF(elu, x > 0.0f ? x : k->falpha * expm1f(x), x > 0.0 ? x : k->alpha * expm1(x))
EW_AF(selu, x > 0.0f ? k->fgamma * x : k->fgamma * k->falpha * expm1f(x),
      x > 0.0 ? k->gamma * x : k->gamma * k->alpha * expm1(x))
EW_AF(leaky, x >= 0.0f ? x : k->falpha * x, x >= 0.0 ? x : k->alpha * x)
EW_AF(hsig, EW_SAT01(k->falpha * x + k->fbeta), EW_SAT01(k->alpha * x + k->beta))
EW_AF(hswish_s, x * EW_SAT01(x * (1.0f / 6.0f) + 0.5f), x * EW_SAT01(x / 6.0 + 0.5))
#define hswish_gf hswish_s_gf

/* Float kernels through the SGEMM family's vector activation
 * (kernels/sgemm.h; same NaN behaviour as the scalar expressions here) when
 * the kernel table has one and X, Y do not partly overlap. */
static int ew_vact(int act, float a, float b, const void *xp, void *yp, int64_t n)
{
    const nne_sgemm_ops *sg = nne_kernels()->sgemm;
    size_t nb = (size_t)n * sizeof(float);
    if (!sg || !(xp == yp || ew_disjoint(xp, nb, yp, nb))) return 0;
    sg->vact(act, a, b, xp, yp, n);
    return 1;
}
static void hswish_f32(const ew_k *k, const void *xp, void *yp, int64_t n)
{
    if (!ew_vact(NNE_ACT_HARDSWISH, 0.0f, 0.0f, xp, yp, n)) hswish_s_f32(k, xp, yp, n);
}
EW_AF(celu, (x > 0.0f ? x : 0.0f) + (x < 0.0f ? k->falpha * expm1f(x / k->falpha) : 0.0f),
      (x > 0.0 ? x : 0.0) + (x < 0.0 ? k->alpha * expm1(x / k->alpha) : 0.0))
EW_AF(gelu, 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)),
      0.5 * x * (1.0 + erf(x * 0.70710678118654752440)))
EW_AF(gelut, 0.5f * x * (1.0f + tanhf(0.79788456080286536f * (x + 0.044715f * x * x * x))),
      0.5 * x * (1.0 + tanh(0.79788456080286535588 * (x + 0.044715 * x * x * x))))
EW_AF(mish, x * tanhf(ew_softplusf_(x)), x * tanh(ew_softplus_(x)))
EW_AF(thrrelu, x > k->falpha ? x : 0.0f, x > k->alpha ? x : 0.0)
EW_AF(shrink, x < -k->falpha ? x + k->fbeta : (x > k->falpha ? x - k->fbeta : 0.0f),
      x < -k->alpha ? x + k->beta : (x > k->alpha ? x - k->beta : 0.0))
EW_AF(swish, x * ew_sigmoidf_(k->falpha * x), x * ew_sigmoid_(k->alpha * x))

/* Runs a float-only activation with the given parameters. */
static nne_status run_act(nne_op_ctx *ctx, ew_unary_fn f32, ew_unary_fn gf, double alpha,
                          double beta, double gamma)
{
    ew_unop op = {EW_TF, 0, f32, gf, NULL, NULL};
    ew_k k;
    memset(&k, 0, sizeof k);
    ew_k_params(&k, alpha, beta, gamma);
    return ew_unary_run(ctx, &op, &k);
}

static nne_status elu_run(nne_op_ctx *ctx)
{
    return run_act(ctx, elu_f32, elu_gf, nne_attr_f(ctx, "alpha", 1.0f), 0, 0);
}

static nne_status selu_run(nne_op_ctx *ctx)
{
    /* opset 1 documented rounded defaults; later ones the float32 values */
    int old = nne_ctx_opset(ctx) < 6;
    float da = old ? 1.6732f : 1.67326319217681884765625f;
    float dg = old ? 1.0507f : 1.05070102214813232421875f;
    return run_act(ctx, selu_f32, selu_gf, nne_attr_f(ctx, "alpha", da), 0,
                   nne_attr_f(ctx, "gamma", dg));
}

static nne_status leaky_run(nne_op_ctx *ctx)
{
    return run_act(ctx, leaky_f32, leaky_gf, nne_attr_f(ctx, "alpha", 0.01f), 0, 0);
}

static nne_status hsig_run(nne_op_ctx *ctx)
{
    return run_act(ctx, hsig_f32, hsig_gf, nne_attr_f(ctx, "alpha", 0.2f),
                   nne_attr_f(ctx, "beta", 0.5f), 0);
}

static nne_status hswish_run(nne_op_ctx *ctx)
{
    return run_act(ctx, hswish_f32, hswish_gf, 0, 0, 0);
}

static nne_status celu_run(nne_op_ctx *ctx)
{
    float alpha = nne_attr_f(ctx, "alpha", 1.0f);
    if (alpha == 0.0f)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute alpha must be non-zero");
    return run_act(ctx, celu_f32, celu_gf, alpha, 0, 0);
}

static nne_status gelu_run(nne_op_ctx *ctx)
{
    const char *ap = nne_attr_s(ctx, "approximate", "none");
    if (strcmp(ap, "none") == 0)
        return run_act(ctx, gelu_f32, gelu_gf, 0, 0, 0);
    if (strcmp(ap, "tanh") == 0)
        return run_act(ctx, gelut_f32, gelut_gf, 0, 0, 0);
    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                        "attribute approximate=\"%s\" unknown, expected \"none\" or \"tanh\"", ap);
}

static nne_status mish_run(nne_op_ctx *ctx)
{
    return run_act(ctx, mish_f32, mish_gf, 0, 0, 0);
}

static nne_status thrrelu_run(nne_op_ctx *ctx)
{
    return run_act(ctx, thrrelu_f32, thrrelu_gf, nne_attr_f(ctx, "alpha", 1.0f), 0, 0);
}

static nne_status shrink_run(nne_op_ctx *ctx)
{
    /* all numeric dtypes: integers go through the double kernel */
    ew_unop op = {EW_TNUM, 0, shrink_f32, shrink_gf, shrink_gf, shrink_gf};
    ew_k k;
    memset(&k, 0, sizeof k);
    ew_k_params(&k, nne_attr_f(ctx, "lambd", 0.5f), nne_attr_f(ctx, "bias", 0.0f), 0);
    return ew_unary_run(ctx, &op, &k);
}

static nne_status swish_run(nne_op_ctx *ctx)
{
    return run_act(ctx, swish_f32, swish_gf, nne_attr_f(ctx, "alpha", 1.0f), 0, 0);
}

/* ---------------------------------------------------------------- Clip -- */

/* min(max(x, lo), hi): when lo > hi everything becomes hi; NaN stays NaN. */
#define EW_CLIP(x, lo, hi) ((x) < (lo) ? ((lo) > (hi) ? (hi) : (lo)) : ((x) > (hi) ? (hi) : (x)))
EW_UNARY_F32(clip_s_f32, EW_CLIP(x, (float)k->lo_f, (float)k->hi_f))
static void clip_f32(const ew_k *k, const void *xp, void *yp, int64_t n)
{
    /* the vector Clip is EW_CLIP: below lo gives lo (hi when lo > hi), NaN stays */
    if (!ew_vact(NNE_ACT_CLIP, (float)k->lo_f, (float)k->hi_f, xp, yp, n)) clip_s_f32(k, xp, yp, n);
}
EW_UNARY_GF(clip_gf, EW_CLIP(x, k->lo_f, k->hi_f))
EW_UNARY_GI(clip_gi, EW_CLIP(x, k->lo_i, k->hi_i))
EW_UNARY_GU(clip_gu, EW_CLIP(x, k->lo_u, k->hi_u))

/* Reads the scalar bound input i (if given) into the domain of dtype dt. */
static nne_status clip_bound(nne_op_ctx *ctx, int i, nne_dtype dt, ew_k *k)
{
    const nne_tensor *t = nne_ctx_input(ctx, i);
    if (!t)
        return NNE_OK;
    const char *name = i == 1 ? "min" : "max";
    if (ew_class(t->dtype) == 0 || ew_class(t->dtype) == EW_TB)
        return ew_fail_dtype(ctx, name, t->dtype);
    if (nne_tensor_numel(t) != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %s must be a scalar, got %lld elements",
                            name, (long long)nne_tensor_numel(t));
    if (nne_ctx_shape_only(ctx))
        return NNE_OK;
    switch (ew_class(dt)) {
    case EW_TF:
        if (i == 1)
            k->lo_f = nne_ld_f64(t->data, t->dtype, 0);
        else
            k->hi_f = nne_ld_f64(t->data, t->dtype, 0);
        break;
    case EW_TS:
        if (i == 1)
            k->lo_i = nne_ld_i64(t->data, t->dtype, 0);
        else
            k->hi_i = nne_ld_i64(t->data, t->dtype, 0);
        break;
    default:
        if (i == 1)
            k->lo_u = nne_ld_u64(t->data, t->dtype, 0);
        else
            k->hi_u = nne_ld_u64(t->data, t->dtype, 0);
        break;
    }
    return NNE_OK;
}

static nne_status clip_run(nne_op_ctx *ctx)
{
    static const ew_unop op_new = {EW_TNUM, 0, clip_f32, clip_gf, clip_gi, clip_gu};
    static const ew_unop op_old = {EW_TF, 0, clip_f32, clip_gf, NULL, NULL};
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing input 0 (input)");
    ew_k k;
    memset(&k, 0, sizeof k);
    k.lo_i = INT64_MIN;
    k.hi_i = INT64_MAX;
    k.lo_u = 0;
    k.hi_u = UINT64_MAX;
    if (nne_ctx_opset(ctx) < 11) {
        k.lo_f = nne_attr_f(ctx, "min", -FLT_MAX);
        k.hi_f = nne_attr_f(ctx, "max", FLT_MAX);
        return ew_unary_run(ctx, &op_old, &k);
    }
    k.lo_f = -INFINITY;
    k.hi_f = INFINITY;
    k.iarg = 1; /* bounds from inputs: the phased run reads them (clip_kernel) */
    NNE_TRY(clip_bound(ctx, 1, x->dtype, &k));
    NNE_TRY(clip_bound(ctx, 2, x->dtype, &k));
    return ew_unary_run(ctx, &op_new, &k);
}

/* The run phase of Clip: the state holds the kernel; bounds given as
 * inputs (opset 11+) are data, read here on every run. */
static nne_status clip_kernel(const void *state, const nne_kernel_args *a)
{
    const ew_un_state *st = state;
    ew_k k = st->k;
    for (int i = 1; k.iarg && i <= 2 && i < a->n_in; i++) {
        const nne_tensor *t = a->in[i];
        if (!t)
            continue;
        switch (ew_class(k.ta)) {
        case EW_TF:
            *(i == 1 ? &k.lo_f : &k.hi_f) = nne_ld_f64(t->data, t->dtype, 0);
            break;
        case EW_TS:
            *(i == 1 ? &k.lo_i : &k.hi_i) = nne_ld_i64(t->data, t->dtype, 0);
            break;
        default:
            *(i == 1 ? &k.lo_u : &k.hi_u) = nne_ld_u64(t->data, t->dtype, 0);
            break;
        }
    }
    int64_t n = nne_tensor_numel(a->in[0]);
    if (n > 0)
        st->fn(&k, a->in[0]->data, a->out[0]->data, n);
    return NNE_OK;
}

/* --------------------------------------------------------------- PRelu -- */

EW_BINARY_F32(prelu_f32, x < 0.0f ? y * x : x)
EW_BINARY_GF(prelu_gf, x < 0.0 ? y * x : x)
EW_BINARY_GI(prelu_gi, x < 0 ? ew_wmul(y, x) : x)
EW_BINARY_GU(prelu_gu, ((void)y, x)) /* unsigned: never negative */

/* 1 when s broadcasts to x's shape without changing it (unidirectional). */
static int unidir_ok(const nne_tensor *x, const nne_tensor *s)
{
    if (s->ndim > x->ndim)
        return 0;
    for (int i = 1; i <= s->ndim; i++) {
        int64_t sd = s->dims[s->ndim - i], xd = x->dims[x->ndim - i];
        if (sd != xd && sd != 1)
            return 0;
    }
    return 1;
}

static nne_status prelu_run(nne_op_ctx *ctx)
{
    static const ew_binop op = {EW_TNUM, 0, 0, 0, 0, prelu_f32, prelu_gf, prelu_gi, prelu_gu};
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    const nne_tensor *s = nne_ctx_input(ctx, 1);
    if (!x || !s)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs X and slope");
    ew_binary_fn fn = ew_binop_pick(&op, x->dtype);
    if (!fn)
        return ew_fail_dtype(ctx, "input X", x->dtype);
    if (s->dtype != x->dtype)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "slope dtype %s differs from X dtype %s",
                            nne_dtype_name(s->dtype), nne_dtype_name(x->dtype));
    nne_tensor sv = *s;
    if (!unidir_ok(x, s)) {
        int64_t n = nne_tensor_numel(s);
        if (nne_ctx_opset(ctx) < 7 && n == 1) {
            sv.ndim = 0;
        } else if (nne_ctx_opset(ctx) < 7 && x->ndim >= 2 && n == x->dims[1]) {
            /* per-channel slope: view as [C, 1, ..., 1] aligned at axis 1 */
            sv.ndim = x->ndim - 1;
            sv.dims[0] = n;
            for (int d = 1; d < sv.ndim; d++)
                sv.dims[d] = 1;
        } else {
            char bx[128], bs[128];
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "slope shape %s is not unidirectionally broadcastable to X shape %s",
                                nne_dims_str(s->ndim, s->dims, bs, sizeof bs),
                                nne_dims_str(x->ndim, x->dims, bx, sizeof bx));
        }
    }
    nne_tensor *y = NULL;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, x->ndim, x->dims, &y));
    ew_k k;
    memset(&k, 0, sizeof k);
    k.ta = k.tb = k.to = x->dtype;
    ew_bin_state *st = nne_ctx_plan_state(ctx);
    if (st)
        ew_bin_state_set(st, &k, fn, &sv);
    if (nne_ctx_shape_only(ctx))
        return NNE_OK;
    ew_binary_exec(&k, fn, y, x, &sv);
    return NNE_OK;
}

NNE_OP_EW_UNARY_G(Elu, "Elu", elu_run, nne_grad_Elu);
NNE_OP_EW_UNARY(Selu, "Selu", selu_run);
NNE_OP_EW_UNARY_G(LeakyRelu, "LeakyRelu", leaky_run, nne_grad_LeakyRelu);
NNE_OP_EW_UNARY_G(HardSigmoid, "HardSigmoid", hsig_run, nne_grad_HardSigmoid);
NNE_OP_EW_UNARY_G(HardSwish, "HardSwish", hswish_run, nne_grad_HardSwish);
NNE_OP_EW_UNARY(Celu, "Celu", celu_run);
NNE_OP_EW_UNARY(Gelu, "Gelu", gelu_run);
NNE_OP_EW_UNARY(Mish, "Mish", mish_run);
NNE_OP_EW_UNARY(ThresholdedRelu, "ThresholdedRelu", thrrelu_run);
NNE_OP_EW_UNARY(Shrink, "Shrink", shrink_run);
NNE_OP_EW_UNARY(Swish, "Swish", swish_run);
NNE_OP_DEFINE(Clip, "", "Clip", .infer = clip_run, .run = clip_kernel, .state_size = sizeof(ew_un_state),
              .gradient = &nne_grad_Clip);
NNE_OP_EW_BINARY(PRelu, "PRelu", prelu_run);
