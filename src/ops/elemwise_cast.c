/*
 * elemwise_cast.c - Cast (all versions) and CastLike.
 *
 * Supported: every numeric dtype nnedge stores (float16, bfloat16, float,
 * double, int8..int64, uint8..uint64, bool) to every other. Conversions:
 *   float -> float: IEEE rounding (+-inf when out of range)
 *   float -> int:   truncation toward zero; out of range is undefined in
 *                   ONNX, here it saturates to int64 and keeps the low bits
 *                   (never C undefined behaviour); NaN -> 0
 *   int -> int:     keep the low bits (two's complement wrap)
 *   x -> bool:      x != 0 (NaN is true)
 * Targets string, float8*, int4/uint4, int2/uint2, float4 fail with
 * NNE_ERR_UNSUPPORTED (`saturate` and `round_mode` only matter for float8 and
 * are ignored). Cast-1 names the target as a string ("FLOAT"); later
 * versions use the TensorProto number.
 */
#include "ops/elemwise_common.h"
#include <strings.h>

/* TensorProto names of data types, indexed by number (for messages and
 * Cast-1's string attribute). */
static const char *const proto_names[] = {
    "UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
    "BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
    "FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4",
    "FLOAT4E2M1", "FLOAT8E8M0", "UINT2", "INT2"};
#define N_PROTO_NAMES ((int64_t)(sizeof proto_names / sizeof proto_names[0]))

static const char *proto_name(int64_t v)
{
    return (v >= 0 && v < N_PROTO_NAMES) ? proto_names[v] : "unknown";
}

/* Checks a target dtype number; sets *out when nnedge can produce it. */
static nne_status cast_target(nne_op_ctx *ctx, int64_t to, nne_dtype *out)
{
    if (to > 0 && to < 64 && ew_class((nne_dtype)to) != 0) {
        *out = (nne_dtype)to;
        return NNE_OK;
    }
    if (to > 0 && to < N_PROTO_NAMES)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "cast to %s (%lld) not supported",
                            proto_name(to), (long long)to);
    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute to=%lld is not a known data type",
                        (long long)to);
}

#define CAST_LOOP(TI, TO, EXPR)                        \
    do {                                               \
        const TI *s_ = (const TI *)x->data;            \
        TO *d_ = (TO *)y->data;                        \
        for (int64_t i = 0; i < n; i++) {              \
            const TI v = s_[i];                        \
            d_[i] = (EXPR);                            \
        }                                              \
    } while (0)

#define PAIR(a, b) ((unsigned)(a) * 64u + (unsigned)(b))

/* y = cast(x); same element count, y's dtype is the target. */
static void cast_exec(const nne_tensor *x, nne_tensor *y, int64_t n)
{
    nne_dtype ti = x->dtype, to = y->dtype;
    if (ti == to) {
        if (x->data != y->data)
            memmove(y->data, x->data, (size_t)n * ew_esize(ti));
        return;
    }
    /* typed fast paths for the common pairs */
    switch (PAIR(ti, to)) {
    case PAIR(NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE): CAST_LOOP(float, double, v); return;
    case PAIR(NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT): CAST_LOOP(double, float, (float)v); return;
    case PAIR(NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16): CAST_LOOP(float, uint16_t, nne_f32_to_f16(v)); return;
    case PAIR(NNE_DTYPE_FLOAT16, NNE_DTYPE_FLOAT): CAST_LOOP(uint16_t, float, nne_f16_to_f32(v)); return;
    case PAIR(NNE_DTYPE_FLOAT, NNE_DTYPE_BFLOAT16): CAST_LOOP(float, uint16_t, nne_f32_to_bf16(v)); return;
    case PAIR(NNE_DTYPE_BFLOAT16, NNE_DTYPE_FLOAT): CAST_LOOP(uint16_t, float, nne_bf16_to_f32(v)); return;
    case PAIR(NNE_DTYPE_FLOAT, NNE_DTYPE_INT64): CAST_LOOP(float, int64_t, nne_f64_to_i64_sat(v)); return;
    case PAIR(NNE_DTYPE_FLOAT, NNE_DTYPE_INT32):
        CAST_LOOP(float, int32_t, (int32_t)(uint32_t)(uint64_t)nne_f64_to_i64_sat(v));
        return;
    case PAIR(NNE_DTYPE_INT64, NNE_DTYPE_FLOAT): CAST_LOOP(int64_t, float, (float)v); return;
    case PAIR(NNE_DTYPE_INT32, NNE_DTYPE_FLOAT): CAST_LOOP(int32_t, float, (float)v); return;
    case PAIR(NNE_DTYPE_UINT8, NNE_DTYPE_FLOAT): CAST_LOOP(uint8_t, float, (float)v); return;
    case PAIR(NNE_DTYPE_BOOL, NNE_DTYPE_FLOAT): CAST_LOOP(uint8_t, float, v ? 1.0f : 0.0f); return;
    case PAIR(NNE_DTYPE_FLOAT, NNE_DTYPE_BOOL): CAST_LOOP(float, uint8_t, v != 0.0f); return;
    case PAIR(NNE_DTYPE_INT64, NNE_DTYPE_INT32): CAST_LOOP(int64_t, int32_t, (int32_t)(uint32_t)(uint64_t)v); return;
    case PAIR(NNE_DTYPE_INT32, NNE_DTYPE_INT64): CAST_LOOP(int32_t, int64_t, v); return;
    case PAIR(NNE_DTYPE_INT64, NNE_DTYPE_DOUBLE): CAST_LOOP(int64_t, double, (double)v); return;
    case PAIR(NNE_DTYPE_DOUBLE, NNE_DTYPE_INT64): CAST_LOOP(double, int64_t, nne_f64_to_i64_sat(v)); return;
    default: break;
    }
    unsigned ci = ew_class(ti), co = ew_class(to);
    if (ci == EW_TF) {
        for (int64_t i = 0; i < n; i++)
            nne_st_f64(y->data, to, i, nne_ld_f64(x->data, ti, i), NNE_CVT_WRAP);
    } else if (to == NNE_DTYPE_FLOAT) { /* int -> float32 directly (no double rounding) */
        float *d = (float *)y->data;
        for (int64_t i = 0; i < n; i++)
            d[i] = ci == EW_TS ? (float)nne_ld_i64(x->data, ti, i) : (float)nne_ld_u64(x->data, ti, i);
    } else if (co == EW_TF) {
        for (int64_t i = 0; i < n; i++)
            nne_st_f64(y->data, to, i,
                    ci == EW_TS ? (double)nne_ld_i64(x->data, ti, i) : (double)nne_ld_u64(x->data, ti, i), NNE_CVT_WRAP);
    } else { /* int/bool -> int/bool: sign- or zero-extend, keep the low bits */
        for (int64_t i = 0; i < n; i++)
            nne_st_u64(y->data, to, i, nne_ld_u64(x->data, ti, i));
    }
}

static nne_status cast_to(nne_op_ctx *ctx, nne_dtype to)
{
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing input 0");
    if (ew_class(x->dtype) == 0)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "cast from dtype %s not supported",
                            nne_dtype_name(x->dtype));
    nne_tensor *y = NULL;
    NNE_TRY(nne_ctx_output(ctx, 0, to, x->ndim, x->dims, &y));
    if (nne_ctx_shape_only(ctx))
        return NNE_OK;
    int64_t n = nne_tensor_numel(x);
    if (n > 0)
        cast_exec(x, y, n);
    return NNE_OK;
}

/* The run phase of Cast and CastLike: infer fixed the output dtype. */
static nne_status cast_kernel(const void *state, const nne_kernel_args *a)
{
    (void)state;
    int64_t n = nne_tensor_numel(a->in[0]);
    if (n > 0)
        cast_exec(a->in[0], a->out[0], n);
    return NNE_OK;
}

static nne_status cast_run(nne_op_ctx *ctx)
{
    if (!nne_attr_has(ctx, "to"))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute 'to' is required");
    int64_t to = -1;
    const char *s = nne_ctx_opset(ctx) < 6 ? nne_attr_s(ctx, "to", NULL) : NULL;
    if (s) { /* Cast-1: the type's name */
        for (int64_t i = 1; i < N_PROTO_NAMES; i++) {
            if (strcasecmp(s, proto_names[i]) == 0) {
                to = i;
                break;
            }
        }
        if (to < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute to=\"%s\" is not a data type name", s);
    } else {
        to = nne_attr_i(ctx, "to", -1);
    }
    nne_dtype dt = NNE_DTYPE_UNDEFINED;
    NNE_TRY(cast_target(ctx, to, &dt));
    return cast_to(ctx, dt);
}

static nne_status castlike_run(nne_op_ctx *ctx)
{
    const nne_tensor *like = nne_ctx_input(ctx, 1);
    if (!like)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing input 1 (target_type)");
    nne_dtype dt = NNE_DTYPE_UNDEFINED;
    NNE_TRY(cast_target(ctx, like->dtype, &dt));
    return cast_to(ctx, dt);
}

NNE_OP_DEFINE(Cast, "", "Cast", .infer = cast_run, .run = cast_kernel);
NNE_OP_DEFINE(CastLike, "", "CastLike", .infer = castlike_run, .run = cast_kernel);
