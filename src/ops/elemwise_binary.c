/*
 * elemwise_binary.c - binary element-wise ops with numpy broadcasting:
 *   arithmetic  Add Sub Mul Div Pow Mod
 *   logic       And Or Xor (bool)
 *   compare     Equal Greater Less GreaterOrEqual LessOrEqual (-> bool)
 *   bitwise     BitShift BitwiseAnd BitwiseOr BitwiseXor
 * Opset < 7 versions of Add/Sub/Mul/Div/Pow/And/Or/Xor/Equal/Greater/Less
 * take the legacy `broadcast`/`axis` attributes (handled in ew_binary_run).
 *
 * Integer semantics: add/sub/mul wrap (computed in uint64); division and
 * modulo by zero give 0 instead of trapping; INT_MIN / -1 wraps. Integer Div
 * truncates toward zero. Mod with fmod=0 follows Python (result has the
 * divisor's sign), fmod=1 follows C fmod (dividend's sign), for ints and
 * floats alike. Pow accepts a base and exponent of different dtypes; the
 * output has the base's dtype.
 *
 * The Add/Max/Min tables are shared with the variadic ops (Sum, Mean, Max,
 * Min in elemwise_variadic.c).
 */
#include "kernels/vec.h"
#include "train/train.h"
#include "ops/elemwise_common.h"

/* NaN-propagating max/min (numpy maximum/minimum semantics). */
#define EW_FMAX(x, y) ((x) != (x) ? (x) : ((y) != (y) ? (y) : ((x) > (y) ? (x) : (y))))
#define EW_FMIN(x, y) ((x) != (x) ? (x) : ((y) != (y) ? (y) : ((x) < (y) ? (x) : (y))))

/* ---------------------------------------------------------- arithmetic -- */

EW_BINARY_F32(add_f32, x + y)
EW_BINARY_GF(add_gf, x + y)
EW_BINARY_GI(add_gi, ew_wadd(x, y))
EW_BINARY_GU(add_gu, x + y)

EW_BINARY_F32(sub_f32, x - y)
EW_BINARY_GF(sub_gf, x - y)
EW_BINARY_GI(sub_gi, ew_wsub(x, y))
EW_BINARY_GU(sub_gu, x - y)

EW_BINARY_F32(mul_f32, x * y)
EW_BINARY_GF(mul_gf, x * y)
EW_BINARY_GI(mul_gi, ew_wmul(x, y))
EW_BINARY_GU(mul_gu, x * y)

EW_BINARY_F32(div_f32, x / y)
EW_BINARY_GF(div_gf, x / y)
EW_BINARY_GI(div_gi, y == 0 ? 0 : (y == -1 ? ew_wneg(x) : x / y))
EW_BINARY_GU(div_gu, y == 0 ? 0 : x / y)

EW_BINARY_F32(max_f32, EW_FMAX(x, y))
EW_BINARY_GF(max_gf, EW_FMAX(x, y))
EW_BINARY_GI(max_gi, x > y ? x : y)
EW_BINARY_GU(max_gu, x > y ? x : y)

EW_BINARY_F32(min_f32, EW_FMIN(x, y))
EW_BINARY_GF(min_gf, EW_FMIN(x, y))
EW_BINARY_GI(min_gi, x < y ? x : y)
EW_BINARY_GU(min_gu, x < y ? x : y)

/* The float forms on the vector kernels (kernels/vec.h) for runs that are
 * contiguous or broadcast (step 0 or 1), long enough, and whose output is
 * an operand or apart from it (the loops above handle partial overlap);
 * the same single IEEE operation per element, so the same bits. */
static int ew_vec_ok(const void *a, int64_t sa, const void *b, int64_t sb, const void *o, int64_t n)
{
    size_t no = (size_t)n * sizeof(float);
    size_t na = sa ? no : sizeof(float), nb = sb ? no : sizeof(float);
    return n >= 16 && (sa == 0 || sa == 1) && (sb == 0 || sb == 1) && ((o == a && sa) || ew_disjoint(o, no, a, na)) &&
           ((o == b && sb) || ew_disjoint(o, no, b, nb));
}
#define EW_VBINARY_F32(name, VOP, plain)                                                                   \
    static void name(const ew_k *k, const void *a, int64_t sa, const void *b, int64_t sb, void *o,         \
                     int64_t n)                                                                            \
    {                                                                                                      \
        const nne_vec_ops *v = ew_vec_ok(a, sa, b, sb, o, n) ? nne_vec() : NULL;                           \
        if (v)                                                                                             \
            v->binary(VOP, a, (int)sa, b, (int)sb, o, n);                                                  \
        else                                                                                               \
            plain(k, a, sa, b, sb, o, n);                                                                  \
    }
EW_VBINARY_F32(vadd_f32, NNE_VBIN_ADD, add_f32)
EW_VBINARY_F32(vsub_f32, NNE_VBIN_SUB, sub_f32)
EW_VBINARY_F32(vmul_f32, NNE_VBIN_MUL, mul_f32)
EW_VBINARY_F32(vdiv_f32, NNE_VBIN_DIV, div_f32)
EW_VBINARY_F32(vmax_f32, NNE_VBIN_MAX, max_f32)
EW_VBINARY_F32(vmin_f32, NNE_VBIN_MIN, min_f32)

const ew_binop ew_binop_add = {EW_TNUM, 0, 0, 1, 0, vadd_f32, add_gf, add_gi, add_gu};
const ew_binop ew_binop_max = {EW_TNUM, 0, 0, 0, 0, vmax_f32, max_gf, max_gi, max_gu};
const ew_binop ew_binop_min = {EW_TNUM, 0, 0, 0, 0, vmin_f32, min_gf, min_gi, min_gu};

/* Modulo: k->iarg = fmod attribute. */
static inline float ew_modf(float x, float y, int64_t cmod)
{
    float r = fmodf(x, y);
    if (!cmod && r != 0.0f && ((r < 0.0f) != (y < 0.0f)))
        r += y;
    return r;
}
static inline double ew_mod(double x, double y, int64_t cmod)
{
    double r = fmod(x, y);
    if (!cmod && r != 0.0 && ((r < 0.0) != (y < 0.0)))
        r += y;
    return r;
}
static inline int64_t ew_modi(int64_t x, int64_t y, int64_t cmod)
{
    if (y == 0 || y == -1) /* x % -1 is 0; avoids INT64_MIN % -1 */
        return 0;
    int64_t r = x % y;
    if (!cmod && r != 0 && ((r < 0) != (y < 0)))
        r += y;
    return r;
}
EW_BINARY_F32(mod_f32, ew_modf(x, y, k->iarg))
EW_BINARY_GF(mod_gf, ew_mod(x, y, k->iarg))
EW_BINARY_GI(mod_gi, ew_modi(x, y, k->iarg))
EW_BINARY_GU(mod_gu, y == 0 ? 0 : x % y)

/* Integer power by squaring, wrapping on overflow. A negative exponent gives
 * the truncated reciprocal: 1 for base 1, +-1 for base -1, else 0. */
static int64_t ew_ipow(int64_t b, int64_t e)
{
    if (e < 0) {
        if (b == 1)
            return 1;
        if (b == -1)
            return (e & 1) ? -1 : 1;
        return 0;
    }
    uint64_t r = 1, base = (uint64_t)b;
    while (e) {
        if (e & 1)
            r *= base;
        base *= base;
        e >>= 1;
    }
    return ew_u2i(r);
}

EW_BINARY_F32(pow_f32, powf(x, y))
/* float base: the exponent of any dtype is loaded as double by nne_ld_f64 */
EW_BINARY_GF(pow_gf, pow(x, y))

/* integer base: integer exponent -> exact power; float exponent -> pow() in
 * double, truncated back to the base's integer type */
static void pow_gi(const ew_k *k, const void *ap, int64_t sa, const void *bp, int64_t sb, void *op,
                   int64_t n)
{
    int int_exp = ew_class(k->tb) != EW_TF;
    for (int64_t i = 0; i < n; i++) {
        int64_t x = nne_ld_i64(ap, k->ta, i * sa);
        int64_t r;
        if (int_exp)
            r = ew_ipow(x, nne_ld_i64(bp, k->tb, i * sb));
        else
            r = nne_f64_to_i64_sat(pow((double)x, nne_ld_f64(bp, k->tb, i * sb)));
        nne_st_i64(op, k->to, i, r);
    }
}

static const ew_binop op_sub = {EW_TNUM, 0, 0, 1, 0, vsub_f32, sub_gf, sub_gi, sub_gu};
static const ew_binop op_mul = {EW_TNUM, 0, 0, 1, 0, vmul_f32, mul_gf, mul_gi, mul_gu};
static const ew_binop op_div = {EW_TNUM, 0, 0, 1, 0, vdiv_f32, div_gf, div_gi, div_gu};
static const ew_binop op_mod = {EW_TNUM, 0, 0, 0, 0, mod_f32, mod_gf, mod_gi, mod_gu};
static const ew_binop op_pow = {EW_TNUM, EW_TNUM, 0, 1, 1, pow_f32, pow_gf, pow_gi, pow_gi};

/* ------------------------------------------------------- logic/compare -- */

EW_BINARY_GU_B(and_gu, x != 0 && y != 0)
EW_BINARY_GU_B(or_gu, x != 0 || y != 0)
EW_BINARY_GU_B(xor_gu, (x != 0) != (y != 0))

#define EW_CMP(nm, OP)                    \
    EW_BINARY_F32_B(nm##_f32, x OP y)     \
    EW_BINARY_GF_B(nm##_gf, x OP y)       \
    EW_BINARY_GI_B(nm##_gi, x OP y)       \
    EW_BINARY_GU_B(nm##_gu, x OP y)
EW_CMP(eq, ==)
EW_CMP(gt, >)
EW_CMP(lt, <)
EW_CMP(ge, >=)
EW_CMP(le, <=)

static const ew_binop op_and = {EW_TB, 0, 1, 1, 0, NULL, NULL, NULL, and_gu};
static const ew_binop op_or = {EW_TB, 0, 1, 1, 0, NULL, NULL, NULL, or_gu};
static const ew_binop op_xor = {EW_TB, 0, 1, 1, 0, NULL, NULL, NULL, xor_gu};
static const ew_binop op_eq = {EW_TALL, 0, 1, 1, 0, eq_f32, eq_gf, eq_gi, eq_gu};
static const ew_binop op_gt = {EW_TNUM, 0, 1, 1, 0, gt_f32, gt_gf, gt_gi, gt_gu};
static const ew_binop op_lt = {EW_TNUM, 0, 1, 1, 0, lt_f32, lt_gf, lt_gi, lt_gu};
static const ew_binop op_ge = {EW_TNUM, 0, 1, 0, 0, ge_f32, ge_gf, ge_gi, ge_gu};
static const ew_binop op_le = {EW_TNUM, 0, 1, 0, 0, le_f32, le_gf, le_gi, le_gu};

/* ------------------------------------------------------------- bitwise -- */

/* k->iarg: 1 = LEFT, 0 = RIGHT; shifting by >= 64 bits gives 0 */
EW_BINARY_GU(shift_gu, y >= 64 ? 0 : (k->iarg ? x << y : x >> y))
/* signed values are sign-extended, so and/or/xor on the bit pattern and
 * truncation on store give the right result for every integer dtype */
EW_BINARY_GU(band_gu, x & y)
EW_BINARY_GU(bor_gu, x | y)
EW_BINARY_GU(bxor_gu, x ^ y)

static const ew_binop op_shift = {EW_TU, 0, 0, 0, 0, NULL, NULL, NULL, shift_gu};
static const ew_binop op_band = {EW_TINT, 0, 0, 0, 0, NULL, NULL, band_gu, band_gu};
static const ew_binop op_bor = {EW_TINT, 0, 0, 0, 0, NULL, NULL, bor_gu, bor_gu};
static const ew_binop op_bxor = {EW_TINT, 0, 0, 0, 0, NULL, NULL, bxor_gu, bxor_gu};

/* ---------------------------------------------------------------- runs -- */

#define EW_BINARY_OP(fn, table)                   \
    static nne_status fn(nne_op_ctx *ctx)         \
    {                                             \
        ew_k k;                                   \
        memset(&k, 0, sizeof k);                  \
        return ew_binary_run(ctx, &(table), &k);  \
    }

EW_BINARY_OP(add_run, ew_binop_add)
EW_BINARY_OP(sub_run, op_sub)
EW_BINARY_OP(mul_run, op_mul)
EW_BINARY_OP(div_run, op_div)
EW_BINARY_OP(pow_run, op_pow)
EW_BINARY_OP(and_run, op_and)
EW_BINARY_OP(or_run, op_or)
EW_BINARY_OP(xor_run, op_xor)
EW_BINARY_OP(eq_run, op_eq)
EW_BINARY_OP(gt_run, op_gt)
EW_BINARY_OP(lt_run, op_lt)
EW_BINARY_OP(ge_run, op_ge)
EW_BINARY_OP(le_run, op_le)
EW_BINARY_OP(band_run, op_band)
EW_BINARY_OP(bor_run, op_bor)
EW_BINARY_OP(bxor_run, op_bxor)

static nne_status mod_run(nne_op_ctx *ctx)
{
    ew_k k;
    memset(&k, 0, sizeof k);
    int64_t f = nne_attr_i(ctx, "fmod", 0);
    if (f != 0 && f != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute fmod=%lld, expected 0 or 1",
                            (long long)f);
    k.iarg = f;
    return ew_binary_run(ctx, &op_mod, &k);
}

static nne_status shift_run(nne_op_ctx *ctx)
{
    ew_k k;
    memset(&k, 0, sizeof k);
    const char *dir = nne_attr_s(ctx, "direction", NULL);
    if (!dir)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute direction is required (LEFT or RIGHT)");
    if (strcmp(dir, "LEFT") == 0)
        k.iarg = 1;
    else if (strcmp(dir, "RIGHT") == 0)
        k.iarg = 0;
    else
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "attribute direction=\"%s\", expected \"LEFT\" or \"RIGHT\"", dir);
    return ew_binary_run(ctx, &op_shift, &k);
}

NNE_OP_EW_BINARY_G(Add, "Add", add_run, nne_grad_Add);
NNE_OP_EW_BINARY_G(Sub, "Sub", sub_run, nne_grad_Sub);
NNE_OP_EW_BINARY_G(Mul, "Mul", mul_run, nne_grad_Mul);
NNE_OP_EW_BINARY(Div, "Div", div_run);
NNE_OP_EW_BINARY(Pow, "Pow", pow_run);
NNE_OP_EW_BINARY(Mod, "Mod", mod_run);
NNE_OP_EW_BINARY(And, "And", and_run);
NNE_OP_EW_BINARY(Or, "Or", or_run);
NNE_OP_EW_BINARY(Xor, "Xor", xor_run);
NNE_OP_EW_BINARY(Equal, "Equal", eq_run);
NNE_OP_EW_BINARY(Greater, "Greater", gt_run);
NNE_OP_EW_BINARY(Less, "Less", lt_run);
NNE_OP_EW_BINARY(GreaterOrEqual, "GreaterOrEqual", ge_run);
NNE_OP_EW_BINARY(LessOrEqual, "LessOrEqual", le_run);
NNE_OP_EW_BINARY(BitShift, "BitShift", shift_run);
NNE_OP_EW_BINARY(BitwiseAnd, "BitwiseAnd", band_run);
NNE_OP_EW_BINARY(BitwiseOr, "BitwiseOr", bor_run);
NNE_OP_EW_BINARY(BitwiseXor, "BitwiseXor", bxor_run);
