/*
 * nn_softmax.c - Softmax, LogSoftmax and Hardmax, all opsets.
 *
 * Opset < 13 coerces the input to 2-D [prod(dims[:axis]), prod(dims[axis:])]
 * (default axis 1) and normalizes each row; opset >= 13 normalizes along the
 * single axis `axis` (default -1). Both are an outer x n x inner view.
 * Softmax subtracts the row maximum before exp for stability. Hardmax gives
 * 1 at the first maximum of each row and 0 elsewhere.
 * Float rows with inner == 1 run in place on the output (Softmax: the
 * vector kernel of kernels/vec.h, rows split over the plan's threads);
 * other dtypes and strided rows go through a double row buffer from
 * scratch.
 */
#include "core/threadpool.h"
#include "kernels/vec.h"
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <math.h>
#include <string.h>

enum { SM_SOFTMAX, SM_LOGSOFTMAX, SM_HARDMAX };

static void row_f64(int kind, double *r, int64_t n) {
    if (n == 0) return;
    double mx = r[0];
    int64_t arg = 0;
    for (int64_t i = 1; i < n; i++) {
        if (r[i] > mx) {
            mx = r[i];
            arg = i;
        }
    }
    if (kind == SM_HARDMAX) {
        for (int64_t i = 0; i < n; i++) r[i] = i == arg ? 1.0 : 0.0;
        return;
    }
    if (isinf(mx)) mx = mx > 0 ? mx : 0.0;
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += exp(r[i] - mx);
    if (kind == SM_SOFTMAX) {
        double inv = 1.0 / sum;
        for (int64_t i = 0; i < n; i++) r[i] = exp(r[i] - mx) * inv;
    } else {
        double ls = log(sum) + mx;
        for (int64_t i = 0; i < n; i++) r[i] = r[i] - ls;
    }
}

static void row_f32(int kind, const float *x, float *y, int64_t n) {
    if (n == 0) return;
    float mx = x[0];
    int64_t arg = 0;
    for (int64_t i = 1; i < n; i++) {
        if (x[i] > mx) {
            mx = x[i];
            arg = i;
        }
    }
    if (kind == SM_HARDMAX) {
        for (int64_t i = 0; i < n; i++) y[i] = i == arg ? 1.0f : 0.0f;
        return;
    }
    if (isinf(mx)) mx = mx > 0 ? mx : 0.0f;
    double sum = 0.0;
    if (kind == SM_SOFTMAX) {
        for (int64_t i = 0; i < n; i++) {
            float e = expf(x[i] - mx);
            y[i] = e;
            sum += e;
        }
        float inv = (float)(1.0 / sum);
        for (int64_t i = 0; i < n; i++) y[i] *= inv;
    } else {
        for (int64_t i = 0; i < n; i++) sum += expf(x[i] - mx);
        float ls = (float)(log(sum) + mx);
        for (int64_t i = 0; i < n; i++) y[i] = x[i] - ls;
    }
}

/* Softmax family in phases: softmax_common is infer; when planning it keeps
 * the row geometry in the state. */
typedef struct sm_state {
    int kind, fast;
    int64_t outer, n, inner;
    const nne_vec_ops *vec; /* float Softmax rows: the vector kernel, or NULL */
} sm_state;

typedef struct sm_job {
    const nne_vec_ops *vec;
    const float *x;
    float *y;
    int64_t rows, n;
} sm_job;

static void sm_part(void *arg, int part, int nparts, void *scratch) {
    const sm_job *j = arg;
    long long lo, hi;
    nne_split_range(j->rows, 1, part, nparts, &lo, &hi);
    for (long long r = lo; r < hi; r++) j->vec->softmax_row(j->x + r * j->n, j->y + r * j->n, j->n);
}

static nne_status softmax_common(nne_op_ctx *ctx, int kind) {
    static const nne_dtype ok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16,
                                   NNE_DTYPE_BFLOAT16, NNE_DTYPE_UNDEFINED};
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs input");
    NNE_TRY(nne_la_check_dtype(ctx, "input", X->dtype, ok));
    int opset = nne_ctx_opset(ctx);
    int rank = X->ndim, axis = 0;
    int legacy = opset < 13;
    int64_t outer, n, inner;
    if (rank == 0) {
        outer = n = inner = 1;
    } else {
        NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", legacy ? 1 : -1), rank, &axis));
        outer = nne_la_prod(X->dims, 0, axis);
        if (legacy) {
            n = nne_la_prod(X->dims, axis, rank);
            inner = 1;
        } else {
            n = X->dims[axis];
            inner = nne_la_prod(X->dims, axis + 1, rank);
        }
    }
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    int fast = X->dtype == NNE_DTYPE_FLOAT && inner == 1;
    if (!fast) nne_ctx_scratch(ctx, nne_size_elems(n, sizeof(double)));
    sm_state *st = nne_ctx_plan_state(ctx);
    if (st)
        *st = (sm_state){.kind = kind, .fast = fast, .outer = outer, .n = n, .inner = inner,
                         .vec = fast && kind == SM_SOFTMAX ? nne_vec() : NULL};
    return NNE_OK;
}

static nne_status softmax_kernel(const void *state, const nne_kernel_args *args) {
    const sm_state *st = state;
    const nne_tensor *X = args->in[0];
    nne_tensor *Y = args->out[0];
    int kind = st->kind, fast = st->fast;
    int64_t outer = st->outer, n = st->n, inner = st->inner;
    double *row = args->scratch;
    if (nne_tensor_numel(X) == 0) return NNE_OK;
    if (st->vec) {
        sm_job job = {st->vec, X->data, Y->data, outer, n};
        nne_threadpool *pool = nne_ctx_pool(args->ctx);
        /* a part must be worth a thread wake-up */
        int parts = outer * n >= 16384 ? nne_threadpool_threads(pool) : 1;
        if (parts > outer) parts = (int)outer;
        nne_parallel(pool, parts, sm_part, &job, NULL);
        return NNE_OK;
    }
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t in = 0; in < inner; in++) {
            int64_t base = o * n * inner + in;
            if (fast) {
                row_f32(kind, (const float *)X->data + base, (float *)Y->data + base, n);
            } else {
                nne_load_f64(X, base, inner, n, row);
                row_f64(kind, row, n);
                nne_store_f64(Y, base, inner, n, row, NNE_CVT_SAT);
            }
        }
    }
    return NNE_OK;
}

static nne_status softmax_run(nne_op_ctx *ctx) { return softmax_common(ctx, SM_SOFTMAX); }
static nne_status logsoftmax_run(nne_op_ctx *ctx) { return softmax_common(ctx, SM_LOGSOFTMAX); }
static nne_status hardmax_run(nne_op_ctx *ctx) { return softmax_common(ctx, SM_HARDMAX); }

NNE_OP_DEFINE(Softmax, "", "Softmax", .infer = softmax_run, .run = softmax_kernel, .state_size = sizeof(sm_state));
NNE_OP_DEFINE(LogSoftmax, "", "LogSoftmax", .infer = logsoftmax_run, .run = softmax_kernel,
              .state_size = sizeof(sm_state));
NNE_OP_DEFINE(Hardmax, "", "Hardmax", .infer = hardmax_run, .run = softmax_kernel, .state_size = sizeof(sm_state));
