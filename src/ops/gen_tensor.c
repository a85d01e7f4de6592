/*
 * gen_tensor.c - ops that generate tensors from shapes or attributes:
 * Shape (start/end from opset 15), Size, ConstantOfShape, Constant,
 * EyeLike and Range. Shape, Size and EyeLike read only the input's shape
 * (NNE_OPF_SHAPE_ONLY); ConstantOfShape and Range need their inputs' data
 * to know the output shape (nne_ctx_need_data).
 */
#include "ops/tensor_util.h"

#include <math.h>
#include <string.h>

/* Shape keeps the first axis copied; Size needs no state. */
typedef struct shape_state {
    int64_t start;
} shape_state;

static nne_status shape_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    int64_t r = x->ndim, start = 0, end = r;
    if (nne_ctx_opset(ctx) >= 15) {
        start = nne_attr_i(ctx, "start", 0);
        end = nne_attr_i(ctx, "end", r);
        if (start < 0) start += r;
        if (end < 0) end += r;
        start = start < 0 ? 0 : start > r ? r : start;
        end = end < 0 ? 0 : end > r ? r : end;
    }
    int64_t n = end > start ? end - start : 0;
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_INT64, 1, &n, &y));
    shape_state *st = nne_ctx_plan_state(ctx);
    if (st) st->start = start;
    return NNE_OK;
}

static nne_status shape_kernel(const void *state, const nne_kernel_args *a) {
    const shape_state *st = state;
    nne_tensor *y = a->out[0];
    int64_t *d = y->data;
    for (int64_t i = 0; i < y->dims[0]; i++) d[i] = a->in[0]->dims[st->start + i];
    return NNE_OK;
}
NNE_OP_DEFINE(Shape, "", "Shape", .infer = shape_run, .run = shape_kernel, .state_size = sizeof(shape_state),
              .flags = NNE_OPF_SHAPE_ONLY);

static nne_status size_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    nne_tensor *y;
    return nne_ctx_output(ctx, 0, NNE_DTYPE_INT64, 0, NULL, &y);
}

static nne_status size_kernel(const void *state, const nne_kernel_args *a) {
    (void)state;
    int64_t n = nne_tensor_numel(a->in[0]);
    memcpy(a->out[0]->data, &n, sizeof n);
    return NNE_OK;
}
NNE_OP_DEFINE(Size, "", "Size", .infer = size_run, .run = size_kernel, .flags = NNE_OPF_SHAPE_ONLY);

/* -------------------------------------------------------- ConstantOfShape */

/* ConstantOfShape and Constant keep the element bytes to write (Constant:
 * where the attribute's data lies; it lives as long as the model). */
typedef struct fill_state {
    size_t es;
    unsigned char val[16]; /* ConstantOfShape: the fill element */
    const void *src;       /* Constant: the data to copy */
    size_t nb;
} fill_state;

static nne_status constant_of_shape_run(nne_op_ctx *ctx) {
    const nne_tensor *s = nne_ctx_input(ctx, 0);
    if (!s) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input shape is missing");
    NNE_TRY(nne_ctx_need_data(ctx, s));
    int64_t shp[NNE_MAX_DIMS], n;
    NNE_TRY(nne_tu_read_ints(ctx, s, "shape", shp, NNE_MAX_DIMS, &n));
    for (int i = 0; i < n; i++)
        if (shp[i] < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "shape[%d] = %lld is negative", i,
                                (long long)shp[i]);
    const nne_tensor *v = nne_attr_t(ctx, "value");
    nne_dtype dt = NNE_DTYPE_FLOAT;
    size_t es = 4;
    if (v) {
        dt = v->dtype;
        NNE_TRY(nne_tu_esize(ctx, dt, &es));
        if (nne_tensor_numel(v) != 1)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute value must hold one element, got %lld",
                                (long long)nne_tensor_numel(v));
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, dt, (int)n, shp, &y));
    fill_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->es = es;
        if (v) memcpy(st->val, v->data, es);
    }
    return NNE_OK;
}

static nne_status constant_of_shape_kernel(const void *state, const nne_kernel_args *a) {
    const fill_state *st = state;
    nne_tu_fill(a->out[0]->data, st->val, st->es, nne_tensor_numel(a->out[0]));
    return NNE_OK;
}
NNE_OP_DEFINE(ConstantOfShape, "", "ConstantOfShape", .infer = constant_of_shape_run,
              .run = constant_of_shape_kernel, .state_size = sizeof(fill_state));

/* --------------------------------------------------------------- Constant */

static nne_status constant_run(nne_op_ctx *ctx) {
    if (nne_attr_has(ctx, "sparse_value"))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "attribute sparse_value is not supported");
    if (nne_attr_has(ctx, "value_string") || nne_attr_has(ctx, "value_strings"))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "string constants are not supported");
    nne_tensor *y;
    fill_state *st = nne_ctx_plan_state(ctx);
    const nne_tensor *v = nne_attr_t(ctx, "value");
    if (v) {
        size_t es;
        NNE_TRY(nne_tu_esize(ctx, v->dtype, &es));
        NNE_TRY(nne_ctx_output(ctx, 0, v->dtype, v->ndim, v->dims, &y));
        if (st) *st = (fill_state){.src = v->data, .nb = nne_tensor_nbytes(v)};
        return NNE_OK;
    }
    if (nne_attr_has(ctx, "value_float")) {
        NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_FLOAT, 0, NULL, &y));
        if (st) {
            float f = nne_attr_f(ctx, "value_float", 0.0f);
            memcpy(st->val, &f, sizeof f);
            st->nb = sizeof f;
        }
        return NNE_OK;
    }
    if (nne_attr_has(ctx, "value_int")) {
        NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_INT64, 0, NULL, &y));
        if (st) {
            int64_t i = nne_attr_i(ctx, "value_int", 0);
            memcpy(st->val, &i, sizeof i);
            st->nb = sizeof i;
        }
        return NNE_OK;
    }
    if (nne_attr_has(ctx, "value_floats")) {
        const float *f = NULL;
        int c = nne_attr_floats(ctx, "value_floats", &f);
        int64_t n = c < 0 ? 0 : c;
        NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_FLOAT, 1, &n, &y));
        if (st) *st = (fill_state){.src = f, .nb = (size_t)n * sizeof *f};
        return NNE_OK;
    }
    if (nne_attr_has(ctx, "value_ints")) {
        const int64_t *iv = NULL;
        int c = nne_attr_ints(ctx, "value_ints", &iv);
        int64_t n = c < 0 ? 0 : c;
        NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_INT64, 1, &n, &y));
        if (st) *st = (fill_state){.src = iv, .nb = (size_t)n * sizeof *iv};
        return NNE_OK;
    }
    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                        "no value attribute (expected value, value_float(s) or value_int(s))");
}

static nne_status constant_kernel(const void *state, const nne_kernel_args *a) {
    const fill_state *st = state;
    if (st->nb) memcpy(a->out[0]->data, st->src ? st->src : st->val, st->nb);
    return NNE_OK;
}
NNE_OP_DEFINE(Constant, "", "Constant", .infer = constant_run, .run = constant_kernel, .state_size = sizeof(fill_state));

/* ---------------------------------------------------------------- EyeLike */

typedef struct eye_state {
    nne_dtype dt;
    size_t es;
    int64_t k;
} eye_state;

static nne_status eyelike_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    if (x->ndim != 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input must be 2-D, got rank %d", (int)x->ndim);
    nne_dtype dt = (nne_dtype)nne_attr_i(ctx, "dtype", x->dtype);
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, dt, &es));
    int64_t k = nne_attr_i(ctx, "k", 0);
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, dt, 2, x->dims, &y));
    eye_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (eye_state){.dt = dt, .es = es, .k = k};
    return NNE_OK;
}

static nne_status eyelike_kernel(const void *state, const nne_kernel_args *a) {
    const eye_state *st = state;
    nne_tensor *y = a->out[0];
    nne_dtype dt = st->dt;
    size_t es = st->es;
    int64_t k = st->k, rows = y->dims[0], cols = y->dims[1];
    if (rows * cols == 0) return NNE_OK;
    memset(y->data, 0, (size_t)(rows * cols) * es);
    unsigned char one[16];
    nne_st_f64(one, dt, 0, 1.0, NNE_CVT_WRAP);
    char *d = y->data;
    for (int64_t i = 0; i < rows; i++) {
        if (k > cols || k < -rows) break;
        int64_t j = i + k;
        if (j >= 0 && j < cols) memcpy(d + (size_t)(i * cols + j) * es, one, es);
    }
    return NNE_OK;
}
NNE_OP_DEFINE(EyeLike, "", "EyeLike", .infer = eyelike_run, .run = eyelike_kernel, .state_size = sizeof(eye_state),
              .flags = NNE_OPF_SHAPE_ONLY);

/* ------------------------------------------------------------------ Range */

/* Range: the output length follows the data (NNE_DYNAMIC unless start,
 * limit and delta are constants); the state keeps the values read at plan
 * and the accumulation mode. */
typedef struct range_state {
    nne_dtype dt;
    size_t es;
    int isf, half_acc;
    double fs, fd;
    int64_t is, id;
} range_state;

static nne_status range_run(nne_op_ctx *ctx) {
    const nne_tensor *ts = nne_ctx_input(ctx, 0), *tl = nne_ctx_input(ctx, 1), *td = nne_ctx_input(ctx, 2);
    if (!ts || !tl || !td)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs start, limit and delta are required");
    nne_dtype dt = ts->dtype;
    if (tl->dtype != dt || td->dtype != dt)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "start, limit and delta must share one dtype");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, dt, &es));
    if (dt == NNE_DTYPE_BOOL)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(dt));
    nne_status s1 = nne_ctx_need_data(ctx, ts), s2 = nne_ctx_need_data(ctx, tl),
               s3 = nne_ctx_need_data(ctx, td);
    NNE_TRY(s1);
    NNE_TRY(s2);
    NNE_TRY(s3);
    if (nne_tensor_numel(ts) != 1 || nne_tensor_numel(tl) != 1 || nne_tensor_numel(td) != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "start, limit and delta must be scalars");
    int64_t n;
    int isf = nne_dtype_is_float(dt);
    double fs = 0, fd = 0;
    int64_t is = 0, id = 0;
    if (isf) {
        fs = nne_ld_f64(ts->data, dt, 0);
        double fl = nne_ld_f64(tl->data, dt, 0);
        fd = nne_ld_f64(td->data, dt, 0);
        if (fd == 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "delta is 0");
        double c = ceil((fl - fs) / fd);
        if (c != c || c > 1e15)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "range (%g, %g, %g) has too many elements",
                                fs, fl, fd);
        n = c > 0 ? (int64_t)c : 0;
    } else {
        is = nne_ld_i64(ts->data, dt, 0);
        int64_t il = nne_ld_i64(tl->data, dt, 0);
        id = nne_ld_i64(td->data, dt, 0);
        if (id == 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "delta is 0");
        uint64_t diff, step, cnt;
        if (id > 0 && il > is) {
            diff = (uint64_t)il - (uint64_t)is;
            step = (uint64_t)id;
        } else if (id < 0 && il < is) {
            diff = (uint64_t)is - (uint64_t)il;
            step = (uint64_t)0 - (uint64_t)id;
        } else {
            diff = 0;
            step = 1;
        }
        cnt = diff ? (diff - 1) / step + 1 : 0;
        if (cnt > (uint64_t)INT64_MAX)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "range has too many elements");
        n = (int64_t)cnt;
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, dt, 1, &n, &y));
    range_state *st = nne_ctx_plan_state(ctx);
    int half = dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
    if (st)
        *st = (range_state){.dt = dt, .es = es, .isf = isf, .fs = fs, .fd = fd, .is = is, .id = id,
                            .half_acc = half && nne_ctx_opset(ctx) >= 27 && nne_attr_i(ctx, "stash_type", 1) == 0};
    return NNE_OK;
}

static nne_status range_kernel(const void *state, const nne_kernel_args *a) {
    const range_state *st = state;
    const nne_tensor *ts = a->in[0];
    nne_tensor *y = a->out[0];
    nne_dtype dt = st->dt;
    size_t es = st->es;
    int isf = st->isf;
    double fs = st->fs, fd = st->fd;
    int64_t is = st->is, id = st->id, n = y->dims[0];
    char *d = y->data;
    int half = dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
    if (st->half_acc) {
        /* accumulate in the half type itself */
        unsigned char acc[8]; /* 2 used; 8 so the generic load sees room for any dtype */
        memcpy(acc, ts->data, 2);
        for (int64_t i = 0; i < n; i++) {
            memcpy(d + (size_t)i * es, acc, 2);
            nne_st_f64(acc, dt, 0, (float)nne_ld_f64(acc, dt, 0) + (float)fd, NNE_CVT_WRAP);
        }
    } else if (half || dt == NNE_DTYPE_FLOAT) {
        float s = (float)fs, dd = (float)fd;
        for (int64_t i = 0; i < n; i++) nne_st_f64(d + (size_t)i * es, dt, 0, s + (float)i * dd, NNE_CVT_WRAP);
    } else if (isf) {
        for (int64_t i = 0; i < n; i++) nne_st_f64(d + (size_t)i * es, dt, 0, fs + (double)i * fd, NNE_CVT_WRAP);
    } else {
        for (int64_t i = 0; i < n; i++)
            nne_st_i64(d + (size_t)i * es, dt, 0, (int64_t)((uint64_t)is + (uint64_t)i * (uint64_t)id));
    }
    return NNE_OK;
}
NNE_OP_DEFINE(Range, "", "Range", .infer = range_run, .run = range_kernel, .state_size = sizeof(range_state));
