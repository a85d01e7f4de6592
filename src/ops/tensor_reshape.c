/*
 * tensor_reshape.c - ops that change only the shape, never the bytes:
 * Reshape (opset <5 `shape` attribute, >=5 input, >=14 allowzero), Flatten,
 * Squeeze / Unsqueeze (axes attribute <13, input >=13), Identity and
 * Dropout (inference semantics: output = input, mask all true).
 * Each output is a plain copy of the input data with a new shape.
 */
#include "train/train.h"
#include "ops/tensor_util.h"

#include <string.h>

static void copy_data(nne_tensor *y, const nne_tensor *x) {
    size_t nb = nne_tensor_nbytes(x);
    if (nb && y->data != x->data) memmove(y->data, x->data, nb);
}

static nne_status need_input0(nne_op_ctx *ctx, const nne_tensor **x) {
    *x = nne_ctx_input(ctx, 0);
    if (!*x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    size_t es;
    return nne_tu_esize(ctx, (*x)->dtype, &es);
}

/* The run phase of Reshape, Flatten, Squeeze, Unsqueeze and Identity: the
 * output holds input 0's bytes (infer decided the shape). */
static nne_status copy_kernel(const void *state, const nne_kernel_args *a) {
    (void)state;
    copy_data(a->out[0], a->in[0]);
    return NNE_OK;
}
#define NNE_OP_COPY(sym, fn, flags_) \
    NNE_OP_DEFINE(sym, "", #sym, .infer = fn, .run = copy_kernel, .flags = flags_)
/* The same for ops whose gradient is the same copy backwards (src/train). */
#define NNE_OP_COPY_G(sym, fn, flags_, grad) \
    NNE_OP_DEFINE(sym, "", #sym, .infer = fn, .run = copy_kernel, .flags = flags_, .gradient = &grad)

/* Output 0 = input 0 bytes with shape (ndim, dims). */
static nne_status emit_reshaped(nne_op_ctx *ctx, const nne_tensor *x, int ndim, const int64_t *dims) {
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, ndim, dims, &y));
    if (nne_ctx_shape_only(ctx)) return NNE_OK;
    copy_data(y, x);
    return NNE_OK;
}

/* ---------------------------------------------------------------- Reshape */

static nne_status reshape_run(nne_op_ctx *ctx) {
    const nne_tensor *x;
    NNE_TRY(need_input0(ctx, &x));
    int opset = nne_ctx_opset(ctx);
    int64_t shp[NNE_MAX_DIMS];
    int64_t n = 0;
    if (opset < 5) {
        const int64_t *v = NULL;
        int c = nne_attr_ints(ctx, "shape", &v);
        if (!nne_attr_has(ctx, "shape"))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute 'shape' is required before opset 5");
        if (c < 0) c = 0;
        if (c > NNE_MAX_DIMS)
            return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "target rank %d exceeds the limit %d", c,
                                NNE_MAX_DIMS);
        for (int i = 0; i < c; i++) shp[i] = v[i];
        n = c;
    } else {
        const nne_tensor *s = nne_ctx_input(ctx, 1);
        if (!s) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 'shape' is missing");
        NNE_TRY(nne_ctx_need_data(ctx, s));
        NNE_TRY(nne_tu_read_ints(ctx, s, "shape", shp, NNE_MAX_DIMS, &n));
    }
    int allowzero = opset >= 14 ? (int)nne_attr_i(ctx, "allowzero", 0) : 0;
    int64_t numel;
    NNE_TRY(nne_tu_numel(ctx, x->ndim, x->dims, "input", &numel));
    int64_t out[NNE_MAX_DIMS];
    int neg = -1, has_zero = 0;
    int64_t known = 1;
    for (int i = 0; i < (int)n; i++) {
        int64_t s = shp[i];
        if (s == 0 && !allowzero) {
            if (i >= x->ndim)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "shape[%d] = 0 copies input dim %d, but the input has rank %d", i,
                                    i, (int)x->ndim);
            s = x->dims[i];
        } else if (s == 0) {
            has_zero = 1;
        }
        if (s == -1) {
            if (neg >= 0)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "shape has more than one -1 (at %d and %d)", neg, i);
            neg = i;
            out[i] = 1;
            continue;
        }
        if (s < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "shape[%d] = %lld is invalid (expected >= -1)",
                                i, (long long)s);
        out[i] = s;
        if (!nne_tu_mul_ok(known, s, &known))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "target shape element count overflows");
    }
    char b1[128], b2[128];
    if (neg >= 0) {
        if (has_zero)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "shape with allowzero=1 cannot contain both 0 and -1");
        if (known == 0 || numel % known != 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "cannot reshape %s (%lld elements) into %s: -1 cannot be inferred",
                                nne_dims_str(x->ndim, x->dims, b1, sizeof b1), (long long)numel,
                                nne_dims_str((int)n, shp, b2, sizeof b2));
        out[neg] = numel / known;
    } else if (known != numel) {
        char b3[128];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "cannot reshape %s (%lld elements) into %s (resolved %s, %lld elements)",
                            nne_dims_str(x->ndim, x->dims, b1, sizeof b1), (long long)numel,
                            nne_dims_str((int)n, shp, b2, sizeof b2),
                            nne_dims_str((int)n, out, b3, sizeof b3), (long long)known);
    }
    return emit_reshaped(ctx, x, (int)n, out);
}
NNE_OP_COPY_G(Reshape, reshape_run, 0, nne_grad_Reshape);

/* ---------------------------------------------------------------- Flatten */

static nne_status flatten_run(nne_op_ctx *ctx) {
    const nne_tensor *x;
    NNE_TRY(need_input0(ctx, &x));
    int r = x->ndim;
    int64_t axis = nne_attr_i(ctx, "axis", 1);
    int64_t lo = nne_ctx_opset(ctx) >= 11 ? -r : 0;
    if (axis < lo || axis > r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axis %lld out of range: expected [%lld, %d]",
                            (long long)axis, (long long)lo, r);
    if (axis < 0) axis += r;
    int64_t out[2];
    NNE_TRY(nne_tu_numel(ctx, (int)axis, x->dims, "input", &out[0]));
    NNE_TRY(nne_tu_numel(ctx, r - (int)axis, x->dims + axis, "input", &out[1]));
    return emit_reshaped(ctx, x, 2, out);
}
NNE_OP_COPY_G(Flatten, flatten_run, 0, nne_grad_Flatten);

/* ---------------------------------------------------------------- Squeeze */

/* Axes from the attribute (opset < 13) or input 1 (>= 13). *n = -1: absent. */
static nne_status read_axes(nne_op_ctx *ctx, int64_t *axes, int64_t max, int64_t *n) {
    *n = -1;
    if (nne_ctx_opset(ctx) < 13) {
        if (!nne_attr_has(ctx, "axes")) return NNE_OK;
        const int64_t *v = NULL;
        int c = nne_attr_ints(ctx, "axes", &v);
        if (c < 0) c = 0;
        if (c > max)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axes has %d values, at most %lld expected",
                                c, (long long)max);
        for (int i = 0; i < c; i++) axes[i] = v[i];
        *n = c;
        return NNE_OK;
    }
    const nne_tensor *a = nne_ctx_input(ctx, 1);
    if (!a) return NNE_OK;
    NNE_TRY(nne_ctx_need_data(ctx, a));
    return nne_tu_read_ints(ctx, a, "axes", axes, max, n);
}

static nne_status squeeze_run(nne_op_ctx *ctx) {
    const nne_tensor *x;
    NNE_TRY(need_input0(ctx, &x));
    int r = x->ndim;
    int64_t axes[NNE_MAX_DIMS];
    int64_t n;
    NNE_TRY(read_axes(ctx, axes, NNE_MAX_DIMS, &n));
    int drop[NNE_MAX_DIMS] = {0};
    if (n <= 0) { /* absent or empty axes: drop every size-1 axis (as ORT does) */
        for (int i = 0; i < r; i++) drop[i] = x->dims[i] == 1;
    } else {
        int ax[NNE_MAX_DIMS];
        NNE_TRY(nne_tu_axes(ctx, axes, n, r, "axes", ax));
        for (int64_t i = 0; i < n; i++) {
            if (x->dims[ax[i]] != 1)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "cannot squeeze axis %d: its size is %lld, expected 1", ax[i],
                                    (long long)x->dims[ax[i]]);
            drop[ax[i]] = 1;
        }
    }
    int64_t out[NNE_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < r; i++)
        if (!drop[i]) out[k++] = x->dims[i];
    return emit_reshaped(ctx, x, k, out);
}
NNE_OP_COPY_G(Squeeze, squeeze_run, 0, nne_grad_Reshape);

/* -------------------------------------------------------------- Unsqueeze */

static nne_status unsqueeze_run(nne_op_ctx *ctx) {
    const nne_tensor *x;
    NNE_TRY(need_input0(ctx, &x));
    int r = x->ndim;
    int64_t axes[NNE_MAX_DIMS];
    int64_t n;
    NNE_TRY(read_axes(ctx, axes, NNE_MAX_DIMS, &n));
    if (n < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axes are required");
    if (r + n > NNE_MAX_DIMS)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output rank %lld exceeds the limit %d",
                            (long long)(r + n), NNE_MAX_DIMS);
    int outr = r + (int)n;
    int ax[NNE_MAX_DIMS];
    NNE_TRY(nne_tu_axes(ctx, axes, n, outr, "axes", ax));
    int ins[NNE_MAX_DIMS] = {0};
    for (int64_t i = 0; i < n; i++) ins[ax[i]] = 1;
    int64_t out[NNE_MAX_DIMS];
    int k = 0;
    for (int i = 0; i < outr; i++) out[i] = ins[i] ? 1 : x->dims[k++];
    return emit_reshaped(ctx, x, outr, out);
}
NNE_OP_COPY_G(Unsqueeze, unsqueeze_run, 0, nne_grad_Reshape);

/* --------------------------------------------------------------- Identity */

static nne_status identity_run(nne_op_ctx *ctx) {
    const nne_tensor *x;
    NNE_TRY(need_input0(ctx, &x));
    return emit_reshaped(ctx, x, x->ndim, x->dims);
}
NNE_OP_COPY_G(Identity, identity_run, 0, nne_grad_Identity);

/* ---------------------------------------------------------------- Dropout */

/* Inference only: Y = X and mask = all true (ones of T before opset 10).
 * Training mode (opset >= 12 input training_mode = true) with ratio > 0 would
 * need random masking and is reported UNSUPPORTED. Before opset 7 `is_test`
 * selected training; inference runtimes treat it as a copy, and so do we. */
typedef struct dropout_state {
    int opset;
    nne_dtype mdt; /* mask dtype */
} dropout_state;

static nne_status dropout_run(nne_op_ctx *ctx) {
    const nne_tensor *x;
    NNE_TRY(need_input0(ctx, &x));
    int opset = nne_ctx_opset(ctx);
    nne_tensor *y, *mask = NULL;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, x->ndim, x->dims, &y));
    int want_mask = nne_ctx_num_outputs(ctx) > 1 && nne_ctx_has_output(ctx, 1);
    nne_dtype mdt = opset >= 10 ? NNE_DTYPE_BOOL : x->dtype;
    if (nne_ctx_num_outputs(ctx) > 1)
        NNE_TRY(nne_ctx_output(ctx, 1, mdt, x->ndim, x->dims, &mask));
    if (opset >= 12) {
        const nne_tensor *tm = nne_ctx_input(ctx, 2);
        if (tm && tm->data) {
            int64_t training;
            NNE_TRY(nne_tu_read_scalar_i64(ctx, tm, "training_mode", &training));
            double ratio = 0.5;
            const nne_tensor *rt = nne_ctx_input(ctx, 1);
            if (rt && !rt->data && nne_ctx_shape_only(ctx)) training = 0; /* decided at run */
            if (rt && rt->data) {
                if (nne_tensor_numel(rt) != 1)
                    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "ratio must be a scalar");
                ratio = nne_ld_f64(rt->data, rt->dtype, 0);
            }
            if (training && ratio > 0)
                return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED,
                                    "training_mode=true with ratio %g is not supported (inference only)",
                                    ratio);
        }
    }
    dropout_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (dropout_state){.opset = opset, .mdt = want_mask ? mdt : NNE_DTYPE_UNDEFINED};
    return NNE_OK;
}

static nne_status dropout_kernel(const void *state, const nne_kernel_args *a) {
    const dropout_state *st = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0], *mask = a->n_out > 1 ? a->out[1] : NULL;
    nne_dtype mdt = st->mdt;
    /* training_mode and ratio are data: when they were not constants at
     * plan, they are checked here */
    const nne_tensor *tm = st->opset >= 12 && a->n_in > 2 ? a->in[2] : NULL;
    if (tm && nne_tensor_numel(tm) == 1 && nne_tensor_get_i64(tm, 0) != 0) {
        const nne_tensor *rt = a->in[1];
        double ratio = rt && nne_tensor_numel(rt) == 1 ? nne_tensor_get_f64(rt, 0) : 0.5;
        if (ratio > 0)
            return nne_ctx_fail(a->ctx, NNE_ERR_UNSUPPORTED,
                                "training_mode=true with ratio %g is not supported (inference only)", ratio);
    }
    copy_data(y, x);
    if (mask && mdt != NNE_DTYPE_UNDEFINED) {
        size_t es = nne_dtype_size(mdt);
        unsigned char one[8];
        nne_st_f64(one, mdt, 0, 1.0, NNE_CVT_WRAP);
        nne_tu_fill(mask->data, one, es, nne_tensor_numel(x));
    }
    return NNE_OK;
}
NNE_OP_DEFINE(Dropout, "", "Dropout", .infer = dropout_run, .run = dropout_kernel,
              .state_size = sizeof(dropout_state), .gradient = &nne_grad_Dropout);
