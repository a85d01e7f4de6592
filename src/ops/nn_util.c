/*
 * nn_util.c - helpers shared by the neural-network ops: whole-array dtype
 * conversion to and from float/double, and the Conv/pooling geometry
 * (output sizes and pads from kernel_shape, strides, dilations, pads,
 * auto_pad and ceil_mode) as described in the ONNX Conv and MaxPool docs.
 */
#include "ops/nn_util.h"

#include <math.h>
#include <string.h>

int nn_is_float_dtype(nne_dtype dt) { return nne_dtype_is_float(dt); }

size_t nn_f32_copy_bytes(const nne_tensor *t) {
    if (!t || t->dtype == NNE_DTYPE_FLOAT) return 0;
    return nne_size_elems(nne_tensor_numel(t), sizeof(float));
}

/* nn_load_f32 / nn_load_f64: elements [start, start + n) of t converted to
 * float / double (unknown dtypes read as 0). One body, two element types. */
#define NN_LOAD_LOOP(T)                                           \
    do {                                                          \
        const T *p = (const T *)t->data + start;                  \
        for (int64_t i = 0; i < n; i++) dst[i] = p[i];            \
    } while (0)

#define NN_DEFINE_LOAD(name, D)                                                        \
    void name(const nne_tensor *t, int64_t start, int64_t n, D *dst) {                 \
        switch (t->dtype) {                                                            \
        case NNE_DTYPE_FLOAT: NN_LOAD_LOOP(float); break;                              \
        case NNE_DTYPE_DOUBLE: NN_LOAD_LOOP(double); break;                            \
        case NNE_DTYPE_FLOAT16: {                                                      \
            const uint16_t *p = (const uint16_t *)t->data + start;                     \
            for (int64_t i = 0; i < n; i++) dst[i] = nne_f16_to_f32(p[i]);             \
            break;                                                                     \
        }                                                                              \
        case NNE_DTYPE_BFLOAT16: {                                                     \
            const uint16_t *p = (const uint16_t *)t->data + start;                     \
            for (int64_t i = 0; i < n; i++) dst[i] = nne_bf16_to_f32(p[i]);            \
            break;                                                                     \
        }                                                                              \
        case NNE_DTYPE_INT8: NN_LOAD_LOOP(int8_t); break;                              \
        case NNE_DTYPE_UINT8: case NNE_DTYPE_BOOL: NN_LOAD_LOOP(uint8_t); break;       \
        case NNE_DTYPE_INT16: NN_LOAD_LOOP(int16_t); break;                            \
        case NNE_DTYPE_UINT16: NN_LOAD_LOOP(uint16_t); break;                          \
        case NNE_DTYPE_INT32: NN_LOAD_LOOP(int32_t); break;                            \
        case NNE_DTYPE_UINT32: NN_LOAD_LOOP(uint32_t); break;                          \
        case NNE_DTYPE_INT64: NN_LOAD_LOOP(int64_t); break;                            \
        case NNE_DTYPE_UINT64: NN_LOAD_LOOP(uint64_t); break;                          \
        default:                                                                       \
            for (int64_t i = 0; i < n; i++) dst[i] = 0;                                \
            break;                                                                     \
        }                                                                              \
    }

NN_DEFINE_LOAD(nn_load_f32, float)
NN_DEFINE_LOAD(nn_load_f64, double)
#undef NN_DEFINE_LOAD
#undef NN_LOAD_LOOP

/* Round to nearest even and clamp into [lo, hi]; NaN becomes 0. */
static double nn_sat(double v, double lo, double hi) {
    if (v != v) return 0.0;
    v = nearbyint(v);
    if (v < lo) return lo;
    if (v > hi) return hi;
    return v;
}

#define NN_STORE_INT(T, lo, hi)                                            \
    do {                                                                   \
        T *p = (T *)t->data + start;                                       \
        for (int64_t i = 0; i < n; i++) p[i] = (T)nn_sat(src[i], lo, hi); \
    } while (0)

#define NN_STORE_BODY                                                                      \
    switch (t->dtype) {                                                                    \
    case NNE_DTYPE_FLOAT: {                                                                \
        float *p = (float *)t->data + start;                                               \
        for (int64_t i = 0; i < n; i++) p[i] = (float)src[i];                              \
        break;                                                                             \
    }                                                                                      \
    case NNE_DTYPE_DOUBLE: {                                                               \
        double *p = (double *)t->data + start;                                             \
        for (int64_t i = 0; i < n; i++) p[i] = src[i];                                     \
        break;                                                                             \
    }                                                                                      \
    case NNE_DTYPE_FLOAT16: {                                                              \
        uint16_t *p = (uint16_t *)t->data + start;                                         \
        for (int64_t i = 0; i < n; i++) p[i] = nne_f32_to_f16((float)src[i]);              \
        break;                                                                             \
    }                                                                                      \
    case NNE_DTYPE_BFLOAT16: {                                                             \
        uint16_t *p = (uint16_t *)t->data + start;                                         \
        for (int64_t i = 0; i < n; i++) p[i] = nne_f32_to_bf16((float)src[i]);             \
        break;                                                                             \
    }                                                                                      \
    case NNE_DTYPE_INT8: NN_STORE_INT(int8_t, -128.0, 127.0); break;                       \
    case NNE_DTYPE_UINT8: NN_STORE_INT(uint8_t, 0.0, 255.0); break;                        \
    case NNE_DTYPE_BOOL: {                                                                 \
        uint8_t *p = (uint8_t *)t->data + start;                                           \
        for (int64_t i = 0; i < n; i++) p[i] = src[i] != 0;                                \
        break;                                                                             \
    }                                                                                      \
    case NNE_DTYPE_INT16: NN_STORE_INT(int16_t, -32768.0, 32767.0); break;                 \
    case NNE_DTYPE_UINT16: NN_STORE_INT(uint16_t, 0.0, 65535.0); break;                    \
    case NNE_DTYPE_INT32: NN_STORE_INT(int32_t, -2147483648.0, 2147483647.0); break;       \
    case NNE_DTYPE_UINT32: NN_STORE_INT(uint32_t, 0.0, 4294967295.0); break;               \
    case NNE_DTYPE_INT64: NN_STORE_INT(int64_t, -9223372036854775808.0, 9223372036854774784.0); break; \
    case NNE_DTYPE_UINT64: NN_STORE_INT(uint64_t, 0.0, 18446744073709549568.0); break;     \
    default: break;                                                                        \
    }

void nn_store_f32(nne_tensor *t, int64_t start, int64_t n, const float *src) {
    if (t->dtype == NNE_DTYPE_FLOAT) {
        memcpy((float *)t->data + start, src, (size_t)n * sizeof(float));
        return;
    }
    NN_STORE_BODY
}

void nn_store_f64(nne_tensor *t, int64_t start, int64_t n, const double *src) {
    NN_STORE_BODY
}
#undef NN_STORE_BODY
#undef NN_STORE_INT

const float *nn_f32_view(const nne_tensor *t, float *buf) {
    if (!t) return NULL;
    if (t->dtype == NNE_DTYPE_FLOAT) return (const float *)t->data;
    nn_load_f32(t, 0, nne_tensor_numel(t), buf);
    return buf;
}

/* ---- geometry ---- */

nne_status nn_auto_pad(nne_op_ctx *ctx, int *out) {
    const char *s = nne_attr_s(ctx, "auto_pad", "NOTSET");
    if (!strcmp(s, "NOTSET") || !s[0]) *out = NN_PAD_NOTSET;
    else if (!strcmp(s, "SAME_UPPER")) *out = NN_PAD_SAME_UPPER;
    else if (!strcmp(s, "SAME_LOWER")) *out = NN_PAD_SAME_LOWER;
    else if (!strcmp(s, "VALID")) *out = NN_PAD_VALID;
    else
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "auto_pad \"%s\" is not NOTSET, SAME_UPPER, SAME_LOWER or VALID", s);
    return NNE_OK;
}

nne_status nn_attr_ints_n(nne_op_ctx *ctx, const char *name, int n, int64_t def, int64_t minv,
                          int64_t *out) {
    const int64_t *v = NULL;
    int cnt = nne_attr_ints(ctx, name, &v);
    if (cnt <= 0 || !v) {
        for (int i = 0; i < n; i++) out[i] = def;
        return NNE_OK;
    }
    if (cnt != n)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute %s has %d values, expected %d", name,
                            cnt, n);
    for (int i = 0; i < n; i++) {
        /* the upper bound keeps the geometry arithmetic far from overflow */
        if (v[i] < minv || v[i] > NN_ATTR_MAX)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "attribute %s[%d]=%lld, expected %lld..%lld", name, i,
                                (long long)v[i], (long long)minv, (long long)NN_ATTR_MAX);
        out[i] = v[i];
    }
    return NNE_OK;
}

nne_status nn_geom_conv(nne_op_ctx *ctx, nn_geom *g, const int64_t *kernel, int pool) {
    int n = g->nsp;
    if (n < 1 || n > NN_MAX_SP)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%d spatial axes, expected 1..%d", n, NN_MAX_SP);
    if (kernel) {
        const int64_t *ks = NULL;
        int cnt = nne_attr_ints(ctx, "kernel_shape", &ks);
        if (cnt > 0 && ks) {
            if (cnt != n)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "kernel_shape has %d values, expected %d", cnt, n);
            for (int i = 0; i < n; i++)
                if (ks[i] != kernel[i])
                    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                        "kernel_shape[%d]=%lld does not match the weights (%lld)", i,
                                        (long long)ks[i], (long long)kernel[i]);
        }
        for (int i = 0; i < n; i++) g->k[i] = kernel[i];
    } else {
        const int64_t *ks = NULL;
        int cnt = nne_attr_ints(ctx, "kernel_shape", &ks);
        if (cnt <= 0 || !ks)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute kernel_shape is required");
        if (cnt != n)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "kernel_shape has %d values, expected %d",
                                cnt, n);
        for (int i = 0; i < n; i++) g->k[i] = ks[i];
    }
    for (int i = 0; i < n; i++)
        if (g->k[i] < 1 || g->k[i] > NN_ATTR_MAX)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "kernel size %lld on axis %d, expected 1..%lld", (long long)g->k[i],
                                i, (long long)NN_ATTR_MAX);
    NNE_TRY(nn_attr_ints_n(ctx, "strides", n, 1, 1, g->s));
    NNE_TRY(nn_attr_ints_n(ctx, "dilations", n, 1, 1, g->d));
    int64_t pads[2 * NN_MAX_SP];
    NNE_TRY(nn_attr_ints_n(ctx, "pads", 2 * n, 0, 0, pads));
    int ap;
    NNE_TRY(nn_auto_pad(ctx, &ap));
    int ceil_mode = pool ? (int)nne_attr_i(ctx, "ceil_mode", 0) : 0;
    for (int i = 0; i < n; i++) {
        /* k, d, s and pads are at most 2^31 (checked above) but the input
         * size is any dim (huge in a zero-sized tensor), so every step that
         * mixes them is overflow-checked */
        int64_t ek = (g->k[i] - 1) * g->d[i] + 1; /* effective kernel extent, < 2^62 */
        int64_t in = g->in[i], s = g->s[i];
        int bad = 0;
        if (ap == NN_PAD_NOTSET) {
            g->pb[i] = pads[i];
            g->pe[i] = pads[i + n];
            int64_t padded, span;
            bad |= __builtin_add_overflow(in, g->pb[i] + g->pe[i], &padded);
            bad |= __builtin_sub_overflow(padded, ek, &span);
            if (!bad && span < 0)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "kernel extent %lld exceeds padded input %lld on spatial axis %d",
                                    (long long)ek, (long long)padded, i);
            if (!bad) {
                int64_t o = ceil_mode ? span / s + (span % s != 0) + 1 : span / s + 1;
                /* windows starting in the end padding are dropped */
                int64_t x = in + g->pb[i]; /* <= padded: no overflow */
                if (ceil_mode && (o - 1) >= x / s + (x % s != 0)) o--;
                g->out[i] = o;
            }
        } else if (ap == NN_PAD_VALID) {
            g->pb[i] = g->pe[i] = 0;
            g->out[i] = in >= ek ? (in - ek) / s + 1 : 0;
        } else {
            int64_t o = in / s + (in % s != 0), total;
            /* total = (o - 1) * s + ek - in, without overflow */
            bad |= __builtin_mul_overflow(o > 0 ? o - 1 : 0, s, &total);
            bad |= __builtin_add_overflow(total, ek - (o > 0 ? 0 : s), &total);
            bad |= __builtin_sub_overflow(total, in, &total);
            if (total < 0) total = 0;
            if (ap == NN_PAD_SAME_UPPER) {
                g->pb[i] = total / 2;
            } else {
                g->pb[i] = total - total / 2;
            }
            g->pe[i] = total - g->pb[i];
            g->out[i] = o;
        }
        if (bad)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "input size %lld with kernel %lld, stride %lld on spatial axis %d overflows",
                                (long long)in, (long long)g->k[i], (long long)s, i);
    }
    return NNE_OK;
}
