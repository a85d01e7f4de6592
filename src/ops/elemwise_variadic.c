/*
 * elemwise_variadic.c - variadic element-wise ops and Where:
 *   Max Min Sum Mean: any number (>= 1) of inputs broadcast together (numpy
 *     rules; opset < 8 required equal shapes, a subset we also accept). The
 *     result is folded pairwise into the output: y = op(in0, in1), then
 *     y = op(y, in_i). Mean divides by the count at the end.
 *   Where(condition, X, Y): 3-way broadcast select, any element dtype (the
 *     element is copied as raw bytes).
 */
#include "ops/elemwise_common.h"

/* y = x broadcast to y's shape (raw element copy). */
static void broadcast_copy(nne_tensor *y, const nne_tensor *x)
{
    size_t es = ew_esize(y->dtype);
    const char *px = (const char *)x->data;
    char *py = (char *)y->data;
    const nne_tensor *ins[1] = {x};
    ew_iter it;
    ew_iter_init(&it, y, 1, ins);
    while (ew_iter_next(&it)) {
        const char *s = px + it.off[1] * (int64_t)es;
        char *d = py + it.off[0] * (int64_t)es;
        if (it.step[1] == 1) {
            if (s != d)
                memmove(d, s, (size_t)it.n * es);
        } else {
            for (int64_t i = 0; i < it.n; i++)
                memcpy(d + i * (int64_t)es, s + i * it.step[1] * (int64_t)es, es);
        }
    }
}

/* Max/Min/Sum/Mean and Where in phases: the *_run functions are infer;
 * when planning they keep the kernel (variadic) in the state. */
typedef struct va_state {
    ew_binary_fn fn;
    int mean;
} va_state;

static nne_status variadic_kernel(const void *state, const nne_kernel_args *a);

static nne_status variadic_run(nne_op_ctx *ctx, const ew_binop *op, int mean)
{
    int n = nne_ctx_num_inputs(ctx);
    if (n < 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs at least one input");
    const nne_tensor *x0 = nne_ctx_input(ctx, 0);
    if (!x0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    nne_dtype dt = x0->dtype;
    ew_binary_fn fn = ew_binop_pick(op, dt);
    if (!fn || (mean && ew_class(dt) != EW_TF))
        return ew_fail_dtype(ctx, "inputs", dt);

    int nd = x0->ndim;
    int64_t dims[NNE_MAX_DIMS];
    memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)nd);
    for (int i = 1; i < n; i++) {
        const nne_tensor *t = nne_ctx_input(ctx, i);
        if (!t)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d is missing", i);
        if (t->dtype != dt)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d has dtype %s, input 0 has %s", i,
                                nne_dtype_name(t->dtype), nne_dtype_name(dt));
        int64_t next[NNE_MAX_DIMS];
        int nn = 0;
        NNE_TRY(nne_broadcast_shape(ctx, nd, dims, t->ndim, t->dims, &nn, next));
        nd = nn;
        memcpy(dims, next, sizeof(int64_t) * (size_t)nd);
    }
    nne_tensor *y = NULL;
    NNE_TRY(nne_ctx_output(ctx, 0, dt, nd, dims, &y));
    va_state *vst = nne_ctx_plan_state(ctx);
    if (vst) {
        vst->fn = fn;
        vst->mean = mean;
    }
    return NNE_OK;
}

static nne_status variadic_kernel(const void *state, const nne_kernel_args *a)
{
    const va_state *vst = state;
    ew_binary_fn fn = vst->fn;
    int mean = vst->mean, n = a->n_in;
    const nne_tensor *x0 = a->in[0];
    nne_tensor *y = a->out[0];
    nne_dtype dt = x0->dtype;
    if (nne_tensor_numel(y) == 0)
        return NNE_OK;

    ew_k k;
    memset(&k, 0, sizeof k);
    k.ta = k.tb = k.to = dt;
    /* If the output buffer is shared with an input (in-place planning), fold
     * that input first so it is read before being overwritten; the ops are
     * commutative. */
    int first = 0;
    for (int i = 0; i < n; i++) {
        if (a->in[i]->data == y->data) {
            first = i;
            break;
        }
    }
    if (n == 1) {
        broadcast_copy(y, x0);
    } else {
        int second = first == 0 ? 1 : 0;
        ew_binary_exec(&k, fn, y, a->in[first], a->in[second]);
        for (int i = 0; i < n; i++) {
            if (i == first || i == second)
                continue;
            ew_binary_exec(&k, fn, y, y, a->in[i]);
        }
    }
    if (mean && n > 1) {
        int64_t cnt = nne_tensor_numel(y);
        if (dt == NNE_DTYPE_FLOAT) {
            float *p = (float *)y->data;
            float fn_ = (float)n;
            for (int64_t i = 0; i < cnt; i++)
                p[i] /= fn_;
        } else {
            for (int64_t i = 0; i < cnt; i++)
                nne_st_f64(y->data, dt, i, nne_ld_f64(y->data, dt, i) / n, NNE_CVT_WRAP);
        }
    }
    return NNE_OK;
}

static nne_status max_run(nne_op_ctx *ctx) { return variadic_run(ctx, &ew_binop_max, 0); }
static nne_status min_run(nne_op_ctx *ctx) { return variadic_run(ctx, &ew_binop_min, 0); }
static nne_status sum_run(nne_op_ctx *ctx) { return variadic_run(ctx, &ew_binop_add, 0); }
static nne_status mean_run(nne_op_ctx *ctx) { return variadic_run(ctx, &ew_binop_add, 1); }

/* --------------------------------------------------------------- Where -- */

#define WHERE_ROW(T)                                                                  \
    do {                                                                              \
        const uint8_t *c = pc + it.off[1];                                            \
        const T *x = (const T *)px + it.off[2];                                       \
        const T *yv = (const T *)py + it.off[3];                                      \
        T *o = (T *)po + it.off[0];                                                   \
        int64_t sc = it.step[1], sx = it.step[2], sy = it.step[3];                    \
        for (int64_t i = 0; i < it.n; i++)                                            \
            o[i] = c[i * sc] ? x[i * sx] : yv[i * sy];                                \
    } while (0)

static nne_status where_run(nne_op_ctx *ctx)
{
    const nne_tensor *c = nne_ctx_input(ctx, 0);
    const nne_tensor *x = nne_ctx_input(ctx, 1);
    const nne_tensor *yt = nne_ctx_input(ctx, 2);
    if (!c || !x || !yt)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs 3 inputs (condition, X, Y)");
    if (c->dtype != NNE_DTYPE_BOOL)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "condition must be bool, got %s",
                            nne_dtype_name(c->dtype));
    if (x->dtype != yt->dtype)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X and Y dtypes differ: %s vs %s",
                            nne_dtype_name(x->dtype), nne_dtype_name(yt->dtype));
    size_t es = ew_esize(x->dtype);
    if (es == 0)
        return ew_fail_dtype(ctx, "X/Y", x->dtype);
    const nne_tensor *ins[3] = {c, x, yt};
    int nd = 0;
    int64_t dims[NNE_MAX_DIMS];
    NNE_TRY(ew_broadcast_n(ctx, 3, ins, &nd, dims));
    nne_tensor *out = NULL;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, nd, dims, &out));
    return NNE_OK;
}

/* The run phase of Where (no state: the dtypes say everything). */
static nne_status where_kernel(const void *state, const nne_kernel_args *a)
{
    (void)state;
    const nne_tensor *c = a->in[0], *x = a->in[1], *yt = a->in[2];
    nne_tensor *out = a->out[0];
    size_t es = ew_esize(x->dtype);
    const nne_tensor *ins[3] = {c, x, yt};
    const uint8_t *pc = (const uint8_t *)c->data;
    const void *px = x->data, *py = yt->data;
    void *po = out->data;
    ew_iter it;
    ew_iter_init(&it, out, 3, ins);
    while (ew_iter_next(&it)) {
        switch (es) {
        case 1: WHERE_ROW(uint8_t); break;
        case 2: WHERE_ROW(uint16_t); break;
        case 4: WHERE_ROW(uint32_t); break;
        default: WHERE_ROW(uint64_t); break;
        }
    }
    return NNE_OK;
}

NNE_OP_DEFINE(Max, "", "Max", .infer = max_run, .run = variadic_kernel, .state_size = sizeof(va_state));
NNE_OP_DEFINE(Min, "", "Min", .infer = min_run, .run = variadic_kernel, .state_size = sizeof(va_state));
NNE_OP_DEFINE(Sum, "", "Sum", .infer = sum_run, .run = variadic_kernel, .state_size = sizeof(va_state));
NNE_OP_DEFINE(Mean, "", "Mean", .infer = mean_run, .run = variadic_kernel, .state_size = sizeof(va_state));
NNE_OP_DEFINE(Where, "", "Where", .infer = where_run, .run = where_kernel);
