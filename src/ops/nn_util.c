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

const float *nn_f32_view(const nne_tensor *t, float *buf) {
    if (!t) return NULL;
    if (t->dtype == NNE_DTYPE_FLOAT) return (const float *)t->data;
    nne_load_f32(t, 0, 1, nne_tensor_numel(t), buf);
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

nne_status nn_conv_group(nne_op_ctx *ctx, int64_t C, int64_t M, int64_t wc, int64_t *G) {
    int64_t g = nne_attr_i(ctx, "group", 1);
    if (g < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "group=%lld, expected >= 1", (long long)g);
    int64_t cin; /* W.shape[1] * group, which a hostile group overflows */
    if (__builtin_mul_overflow(wc, g, &cin) || cin != C)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input channels %lld != W.shape[1]=%lld * group=%lld",
                            (long long)C, (long long)wc, (long long)g);
    if (M % g != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "group=%lld does not divide the %lld output channels",
                            (long long)g, (long long)M);
    *G = g;
    return NNE_OK;
}
