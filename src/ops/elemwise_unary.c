/*
 * elemwise_unary.c - attribute-free unary element-wise ops:
 *   Abs Neg Floor Ceil Round Sqrt Reciprocal Exp Log Sin Cos Tan Asin Acos
 *   Atan Sinh Cosh Asinh Acosh Atanh Erf Sign Sigmoid Tanh Relu Softsign
 *   Softplus Not BitwiseNot IsNaN IsInf (detect_positive/negative attrs).
 * Each op is a table of row kernels (float32 fast path, generic float,
 * signed, unsigned) run by ew_unary_run; all opset versions share semantics
 * (old versions only had the ignored `consumed_inputs` attribute or fewer
 * types).
 */
#include "train/train.h"
#include "kernels/dispatch.h"
#include "ops/elemwise_common.h"

/* Numerically stable logistic function. */
static inline float ew_sigmoidf(float x)
{
    if (x >= 0.0f)
        return 1.0f / (1.0f + expf(-x));
    float e = expf(x);
    return e / (1.0f + e);
}
static inline double ew_sigmoid(double x)
{
    if (x >= 0.0)
        return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}

/* log(1 + exp(x)) without overflow. */
static inline float ew_softplusf(float x)
{
    return x > 0.0f ? x + log1pf(expf(-x)) : log1pf(expf(x));
}
static inline double ew_softplus(double x)
{
    return x > 0.0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

/* Sign keeping NaN. */
#define EW_SIGN(x) ((x) > 0 ? 1 : ((x) < 0 ? -1 : (x)))

/* Defines the float32 and generic float kernels of op `nm`. */
#define EW_UF(nm, F32EXPR, F64EXPR) EW_UNARY_F32(nm##_f32, F32EXPR) EW_UNARY_GF(nm##_gf, F64EXPR)

EW_UF(abs, fabsf(x), fabs(x))
EW_UNARY_GI(abs_gi, x < 0 ? ew_wneg(x) : x)
EW_UNARY_GU(abs_gu, x)
EW_UF(neg, -x, -x)
EW_UNARY_GI(neg_gi, ew_wneg(x))
EW_UF(floor, floorf(x), floor(x))
EW_UF(ceil, ceilf(x), ceil(x))
EW_UF(round, rintf(x), rint(x)) /* round half to even in the default mode */
EW_UF(sqrt, sqrtf(x), sqrt(x))
EW_UF(recip, 1.0f / x, 1.0 / x)
EW_UF(exp, expf(x), exp(x))
EW_UF(log, logf(x), log(x))
EW_UF(sin, sinf(x), sin(x))
EW_UF(cos, cosf(x), cos(x))
EW_UF(tan, tanf(x), tan(x))
EW_UF(asin, asinf(x), asin(x))
EW_UF(acos, acosf(x), acos(x))
EW_UF(atan, atanf(x), atan(x))
EW_UF(sinh, sinhf(x), sinh(x))
EW_UF(cosh, coshf(x), cosh(x))
EW_UF(asinh, asinhf(x), asinh(x))
EW_UF(acosh, acoshf(x), acosh(x))
EW_UF(atanh, atanhf(x), atanh(x))
EW_UF(erf, erff(x), erf(x)) /* ints use erf_gf: double in, converted back */
EW_UF(sign, (float)EW_SIGN(x), (double)EW_SIGN(x))
EW_UNARY_GI(sign_gi, (x > 0) - (x < 0))
EW_UNARY_GU(sign_gu, x != 0)
EW_UF(sigmoid_s, ew_sigmoidf(x), ew_sigmoid(x))
/* float Sigmoid: the SGEMM family's vector activation (kernels/sgemm.h) when
 * the table has one and X, Y do not partly overlap */
static void sigmoid_f32(const ew_k *k, const void *xp, void *yp, int64_t n)
{
    const nne_sgemm_ops *sg = nne_kernels()->sgemm;
    size_t nb = (size_t)n * sizeof(float);
    if (sg && (xp == yp || ew_disjoint(xp, nb, yp, nb))) sg->vact(NNE_ACT_SIGMOID, 0.0f, 0.0f, xp, yp, n);
    else sigmoid_s_f32(k, xp, yp, n);
}
#define sigmoid_gf sigmoid_s_gf
EW_UF(tanh, tanhf(x), tanh(x))
EW_UF(relu, (x > 0.0f || x != x) ? x : 0.0f, (x > 0.0 || x != x) ? x : 0.0) /* keeps NaN */
EW_UNARY_GI(relu_gi, x > 0 ? x : 0)
EW_UF(softsign, x / (1.0f + fabsf(x)), x / (1.0 + fabs(x)))
EW_UF(softplus, ew_softplusf(x), ew_softplus(x))
EW_UNARY_GU(not_gu, x == 0)
EW_UNARY_GU(bitnot_gu, ~x)
EW_UNARY_GF(isnan_gf, x != x)
EW_UNARY_GF(isinf_gf, (isinf(x) && ((x > 0 && (k->iarg & 1)) || (x < 0 && (k->iarg & 2)))))

#define EW_FLOAT_OP(nm) {EW_TF, 0, nm##_f32, nm##_gf, NULL, NULL}

static nne_status run_table(nne_op_ctx *ctx, const ew_unop *op)
{
    ew_k k;
    memset(&k, 0, sizeof k);
    return ew_unary_run(ctx, op, &k);
}

/* One run function per op: a static table and the shared driver. */
#define EW_UNARY_OP(fn, ...)                                       \
    static nne_status fn(nne_op_ctx *ctx)                          \
    {                                                              \
        static const ew_unop op = __VA_ARGS__;                     \
        return run_table(ctx, &op);                                \
    }

EW_UNARY_OP(abs_run, {EW_TNUM, 0, abs_f32, abs_gf, abs_gi, abs_gu})
EW_UNARY_OP(neg_run, {EW_TF | EW_TS, 0, neg_f32, neg_gf, neg_gi, NULL})
EW_UNARY_OP(floor_run, EW_FLOAT_OP(floor))
EW_UNARY_OP(ceil_run, EW_FLOAT_OP(ceil))
EW_UNARY_OP(round_run, EW_FLOAT_OP(round))
EW_UNARY_OP(sqrt_run, EW_FLOAT_OP(sqrt))
EW_UNARY_OP(recip_run, EW_FLOAT_OP(recip))
EW_UNARY_OP(exp_run, EW_FLOAT_OP(exp))
EW_UNARY_OP(log_run, EW_FLOAT_OP(log))
EW_UNARY_OP(sin_run, EW_FLOAT_OP(sin))
EW_UNARY_OP(cos_run, EW_FLOAT_OP(cos))
EW_UNARY_OP(tan_run, EW_FLOAT_OP(tan))
EW_UNARY_OP(asin_run, EW_FLOAT_OP(asin))
EW_UNARY_OP(acos_run, EW_FLOAT_OP(acos))
EW_UNARY_OP(atan_run, EW_FLOAT_OP(atan))
EW_UNARY_OP(sinh_run, EW_FLOAT_OP(sinh))
EW_UNARY_OP(cosh_run, EW_FLOAT_OP(cosh))
EW_UNARY_OP(asinh_run, EW_FLOAT_OP(asinh))
EW_UNARY_OP(acosh_run, EW_FLOAT_OP(acosh))
EW_UNARY_OP(atanh_run, EW_FLOAT_OP(atanh))
EW_UNARY_OP(erf_run, {EW_TNUM, 0, erf_f32, erf_gf, erf_gf, erf_gf})
EW_UNARY_OP(sign_run, {EW_TNUM, 0, sign_f32, sign_gf, sign_gi, sign_gu})
EW_UNARY_OP(sigmoid_run, EW_FLOAT_OP(sigmoid))
EW_UNARY_OP(tanh_run, EW_FLOAT_OP(tanh))
EW_UNARY_OP(relu_run, {EW_TF | EW_TS, 0, relu_f32, relu_gf, relu_gi, NULL})
EW_UNARY_OP(softsign_run, EW_FLOAT_OP(softsign))
EW_UNARY_OP(softplus_run, EW_FLOAT_OP(softplus))
EW_UNARY_OP(not_run, {EW_TB, 0, NULL, NULL, NULL, not_gu})
EW_UNARY_OP(bitnot_run, {EW_TINT, 0, NULL, NULL, bitnot_gu, bitnot_gu})
EW_UNARY_OP(isnan_run, {EW_TF, 1, NULL, isnan_gf, NULL, NULL})

static nne_status isinf_run(nne_op_ctx *ctx)
{
    static const ew_unop op = {EW_TF, 1, NULL, isinf_gf, NULL, NULL};
    ew_k k;
    memset(&k, 0, sizeof k);
    k.iarg = (nne_attr_i(ctx, "detect_positive", 1) ? 1 : 0) |
             (nne_attr_i(ctx, "detect_negative", 1) ? 2 : 0);
    return ew_unary_run(ctx, &op, &k);
}

NNE_OP_EW_UNARY(Abs, "Abs", abs_run);
NNE_OP_EW_UNARY(Neg, "Neg", neg_run);
NNE_OP_EW_UNARY(Floor, "Floor", floor_run);
NNE_OP_EW_UNARY(Ceil, "Ceil", ceil_run);
NNE_OP_EW_UNARY(Round, "Round", round_run);
NNE_OP_EW_UNARY(Sqrt, "Sqrt", sqrt_run);
NNE_OP_EW_UNARY(Reciprocal, "Reciprocal", recip_run);
NNE_OP_EW_UNARY(Exp, "Exp", exp_run);
NNE_OP_EW_UNARY(Log, "Log", log_run);
NNE_OP_EW_UNARY(Sin, "Sin", sin_run);
NNE_OP_EW_UNARY(Cos, "Cos", cos_run);
NNE_OP_EW_UNARY(Tan, "Tan", tan_run);
NNE_OP_EW_UNARY(Asin, "Asin", asin_run);
NNE_OP_EW_UNARY(Acos, "Acos", acos_run);
NNE_OP_EW_UNARY(Atan, "Atan", atan_run);
NNE_OP_EW_UNARY(Sinh, "Sinh", sinh_run);
NNE_OP_EW_UNARY(Cosh, "Cosh", cosh_run);
NNE_OP_EW_UNARY(Asinh, "Asinh", asinh_run);
NNE_OP_EW_UNARY(Acosh, "Acosh", acosh_run);
NNE_OP_EW_UNARY(Atanh, "Atanh", atanh_run);
NNE_OP_EW_UNARY(Erf, "Erf", erf_run);
NNE_OP_EW_UNARY(Sign, "Sign", sign_run);
NNE_OP_EW_UNARY_G(Sigmoid, "Sigmoid", sigmoid_run, nne_grad_Sigmoid);
NNE_OP_EW_UNARY_G(Tanh, "Tanh", tanh_run, nne_grad_Tanh);
NNE_OP_EW_UNARY_G(Relu, "Relu", relu_run, nne_grad_Relu);
NNE_OP_EW_UNARY(Softsign, "Softsign", softsign_run);
NNE_OP_EW_UNARY_G(Softplus, "Softplus", softplus_run, nne_grad_Softplus);
NNE_OP_EW_UNARY(Not, "Not", not_run);
NNE_OP_EW_UNARY(BitwiseNot, "BitwiseNot", bitnot_run);
NNE_OP_EW_UNARY(IsNaN, "IsNaN", isnan_run);
NNE_OP_EW_UNARY(IsInf, "IsInf", isinf_run);
