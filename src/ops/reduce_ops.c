/*
 * reduce_ops.c - the Reduce* family (Sum, Mean, Max, Min, Prod, L1, L2,
 * LogSum, LogSumExp, SumSquare) for every opset.
 *
 * Axes come from the `axes` attribute, or from the second input for
 * ReduceSum >= 13 and all others >= 18. Empty/missing axes reduce everything
 * unless noop_with_empty_axes=1 (then only the element-wise part runs).
 *
 * Algorithm: adjacent axes with the same reduced/kept status are merged, so
 * the input becomes alternating "kept" and "reduced" runs. The input is read
 * in order, one contiguous innermost run at a time (converted to double in a
 * small stack buffer), and folded into a double accumulator per output
 * element, whose offset follows an odometer over the outer merged axes.
 * LogSumExp makes a first pass for the maximum (numerical stability).
 * 64-bit integer inputs use exact int64 accumulators instead.
 * Reducing an empty set gives the identity (0, 1, -inf/+inf, or the dtype's
 * min/max for integer Max/Min).
 */
#include "ops/op.h"
#include "ops/linalg_util.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_PROD, R_L1, R_L2, R_LOGSUM, R_LOGSUMEXP, R_SUMSQUARE };

#define CHUNK 256

typedef struct red_shape {
    int n;                       /* merged rank */
    int64_t dims[NNE_MAX_DIMS];  /* merged dims */
    int red[NNE_MAX_DIMS];       /* 1 if merged axis is reduced */
    int64_t ostr[NNE_MAX_DIMS];  /* output stride per merged axis (0 when reduced) */
} red_shape;

/* Per-element transform applied before accumulation. */
static inline double pre(int op, double x, double shift) {
    switch (op) {
    case R_L1: return fabs(x);
    case R_L2: case R_SUMSQUARE: return x * x;
    case R_LOGSUMEXP: return exp(x - shift);
    default: return x;
    }
}

static inline double combine(int op, double acc, double x) {
    switch (op) {
    case R_MAX: return (x > acc || x != x) ? x : acc;
    case R_MIN: return (x < acc || x != x) ? x : acc;
    case R_PROD: return acc * x;
    default: return acc + x;
    }
}

/*
 * One pass over the input: acc[o] = combine(acc[o], pre(x, shift[o])).
 * pass_op is the op used for this pass (R_MAX for LogSumExp's first pass).
 */
static void reduce_pass(const nne_tensor *X, const red_shape *rs, int pass_op, double *acc,
                        const double *shift) {
    int n = rs->n;
    int64_t inner = rs->dims[n - 1];
    int inner_red = rs->red[n - 1];
    int64_t total = nne_tensor_numel(X);
    int64_t idx[NNE_MAX_DIMS] = {0};
    int64_t ooff = 0;
    double buf[CHUNK];
    for (int64_t base = 0; base < total; base += inner) {
        for (int64_t c = 0; c < inner; c += CHUNK) {
            int64_t cn = inner - c < CHUNK ? inner - c : CHUNK;
            nne_load_f64(X, base + c, 1, cn, buf);
            if (inner_red) {
                double a = acc[ooff];
                double sh = shift ? shift[ooff] : 0.0;
                if (pass_op == R_SUM || pass_op == R_MEAN || pass_op == R_LOGSUM) {
                    for (int64_t j = 0; j < cn; j++) a += buf[j];
                } else {
                    for (int64_t j = 0; j < cn; j++) a = combine(pass_op, a, pre(pass_op, buf[j], sh));
                }
                acc[ooff] = a;
            } else {
                double *ao = acc + ooff + c;
                const double *so = shift ? shift + ooff + c : NULL;
                if (pass_op == R_SUM || pass_op == R_MEAN || pass_op == R_LOGSUM) {
                    for (int64_t j = 0; j < cn; j++) ao[j] += buf[j];
                } else {
                    for (int64_t j = 0; j < cn; j++) {
                        ao[j] = combine(pass_op, ao[j], pre(pass_op, buf[j], so ? so[j] : 0.0));
                    }
                }
            }
        }
        /* advance the odometer over merged axes [0, n-1) */
        for (int d = n - 2; d >= 0; d--) {
            idx[d]++;
            ooff += rs->ostr[d];
            if (idx[d] < rs->dims[d]) break;
            ooff -= rs->ostr[d] * idx[d];
            idx[d] = 0;
        }
    }
}

/* Exact integer version for int64/uint64 (Sum, Mean, Max, Min, Prod, L1, SumSquare). */
static void reduce_pass_i64(const nne_tensor *X, const red_shape *rs, int op, int is_unsigned,
                            int64_t *acc) {
    int n = rs->n;
    int64_t inner = rs->dims[n - 1];
    int64_t inner_os = rs->red[n - 1] ? 0 : 1;
    int64_t total = nne_tensor_numel(X);
    int64_t idx[NNE_MAX_DIMS] = {0};
    int64_t ooff = 0;
    const int64_t *x = X->data;
    for (int64_t base = 0; base < total; base += inner) {
        for (int64_t j = 0; j < inner; j++) {
            int64_t *a = acc + ooff + j * inner_os;
            int64_t v = x[base + j];
            uint64_t ua = (uint64_t)*a, uv = (uint64_t)v;
            switch (op) {
            case R_MAX:
                if (is_unsigned ? uv > ua : v > *a) *a = v;
                break;
            case R_MIN:
                if (is_unsigned ? uv < ua : v < *a) *a = v;
                break;
            case R_PROD: *a = (int64_t)(ua * uv); break;
            case R_L1: *a = (int64_t)(ua + (uint64_t)(v < 0 && !is_unsigned ? -uv : uv)); break;
            case R_SUMSQUARE: *a = (int64_t)(ua + uv * uv); break;
            default: *a = (int64_t)(ua + uv); break;
            }
        }
        for (int d = n - 2; d >= 0; d--) {
            idx[d]++;
            ooff += rs->ostr[d];
            if (idx[d] < rs->dims[d]) break;
            ooff -= rs->ostr[d] * idx[d];
            idx[d] = 0;
        }
    }
}

static double dtype_min(nne_dtype dt) {
    switch (dt) {
    case NNE_DTYPE_INT8: return -128.0;
    case NNE_DTYPE_INT16: return -32768.0;
    case NNE_DTYPE_INT32: return -2147483648.0;
    case NNE_DTYPE_UINT8: case NNE_DTYPE_UINT16: case NNE_DTYPE_UINT32: case NNE_DTYPE_BOOL:
        return 0.0;
    default: return -INFINITY;
    }
}

static double dtype_max(nne_dtype dt) {
    switch (dt) {
    case NNE_DTYPE_INT8: return 127.0;
    case NNE_DTYPE_INT16: return 32767.0;
    case NNE_DTYPE_INT32: return 2147483647.0;
    case NNE_DTYPE_UINT8: return 255.0;
    case NNE_DTYPE_UINT16: return 65535.0;
    case NNE_DTYPE_UINT32: return 4294967295.0;
    case NNE_DTYPE_BOOL: return 1.0;
    default: return INFINITY;
    }
}

/* Reductions in phases: reduce_common is infer (axes are an attribute or a
 * constant input when planned); when planning it keeps the reduced-axes mask
 * and the scratch layout. */
typedef struct rd_state {
    int op, exact;
    int mask[NNE_MAX_DIMS];
    int64_t count;
    size_t oacc, osh;
} rd_state;

static nne_status reduce_common(nne_op_ctx *ctx, int op) {
    static const nne_dtype ok[] = {
        NNE_DTYPE_FLOAT, NNE_DTYPE_DOUBLE, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
        NNE_DTYPE_INT8, NNE_DTYPE_UINT8, NNE_DTYPE_INT16, NNE_DTYPE_UINT16, NNE_DTYPE_INT32,
        NNE_DTYPE_UINT32, NNE_DTYPE_INT64, NNE_DTYPE_UINT64, NNE_DTYPE_BOOL, NNE_DTYPE_UNDEFINED};
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs input data");
    NNE_TRY(nne_la_check_dtype(ctx, "data", X->dtype, ok));
    if (X->dtype == NNE_DTYPE_BOOL && op != R_MAX && op != R_MIN) {
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype bool not supported (only ReduceMax/ReduceMin take bool)");
    }
    int opset = nne_ctx_opset(ctx);
    int axes_input = op == R_SUM ? opset >= 13 : opset >= 18;
    int keepdims = nne_attr_i(ctx, "keepdims", 1) != 0;
    int noop = axes_input ? nne_attr_i(ctx, "noop_with_empty_axes", 0) != 0 : 0;
    int rank = X->ndim;
    int mask[NNE_MAX_DIMS] = {0};
    int naxes = 0;
    if (axes_input) {
        const nne_tensor *ax = nne_ctx_input(ctx, 1);
        if (ax && nne_tensor_numel(ax) > 0) {
            if (ax->dtype != NNE_DTYPE_INT64 && ax->dtype != NNE_DTYPE_INT32) {
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axes must be int64, got %s",
                                    nne_dtype_name(ax->dtype));
            }
            if (ax->ndim > 1) {
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axes must be 1-D, got rank %d", ax->ndim);
            }
            NNE_TRY(nne_ctx_need_data(ctx, ax));
            int64_t na = nne_tensor_numel(ax);
            for (int64_t i = 0; i < na; i++) {
                int a;
                NNE_TRY(nne_ctx_axis(ctx, nne_tensor_get_i64(ax, i), rank, &a));
                mask[a] = 1;
                naxes++;
            }
        }
    } else {
        const int64_t *av = NULL;
        int na = nne_attr_ints(ctx, "axes", &av);
        for (int i = 0; i < na; i++) {
            int a;
            NNE_TRY(nne_ctx_axis(ctx, av[i], rank, &a));
            mask[a] = 1;
            naxes++;
        }
    }
    if (naxes == 0 && !noop) {
        for (int i = 0; i < rank; i++) mask[i] = 1;
    }
    int64_t odims[NNE_MAX_DIMS];
    int ond = 0;
    int64_t count = 1; /* elements reduced into each output */
    for (int i = 0; i < rank; i++) {
        if (mask[i]) {
            count *= X->dims[i];
            if (keepdims) odims[ond++] = 1;
        } else {
            odims[ond++] = X->dims[i];
        }
    }
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, ond, odims, &Y));
    int64_t ny = nne_tensor_numel(Y);
    int exact = (X->dtype == NNE_DTYPE_INT64 || X->dtype == NNE_DTYPE_UINT64) &&
                op != R_L2 && op != R_LOGSUM && op != R_LOGSUMEXP;
    size_t total = 0;
    size_t oacc = nne_la_reserve(&total, nne_size_elems(ny, sizeof(double))); /* int64 in exact mode */
    size_t osh = op == R_LOGSUMEXP ? nne_la_reserve(&total, nne_size_elems(ny, sizeof(double))) : 0;
    nne_ctx_scratch(ctx, total);
    rd_state *rst = nne_ctx_plan_state(ctx);
    if (rst) {
        *rst = (rd_state){.op = op, .exact = exact, .count = count, .oacc = oacc, .osh = osh};
        memcpy(rst->mask, mask, sizeof rst->mask);
    }
    return NNE_OK;
}

static nne_status reduce_kernel(const void *state, const nne_kernel_args *args) {
    const rd_state *rst = state;
    const nne_tensor *X = args->in[0];
    nne_tensor *Y = args->out[0];
    int op = rst->op, exact = rst->exact, rank = X->ndim;
    const int *mask = rst->mask;
    int64_t count = rst->count, ny = nne_tensor_numel(Y);
    size_t oacc = rst->oacc, osh = rst->osh;
    char *scr = args->scratch;
    if (ny == 0) return NNE_OK;
    double *acc = (double *)(scr + oacc);
    double *shift = op == R_LOGSUMEXP ? (double *)(scr + osh) : NULL;

    /* merged shape (size-1 axes dropped; they change nothing) */
    red_shape rs;
    rs.n = 0;
    for (int i = 0; i < rank; i++) {
        if (X->dims[i] == 1) continue;
        if (rs.n > 0 && rs.red[rs.n - 1] == mask[i]) {
            rs.dims[rs.n - 1] *= X->dims[i];
        } else {
            rs.dims[rs.n] = X->dims[i];
            rs.red[rs.n] = mask[i];
            rs.n++;
        }
    }
    if (rs.n == 0) {
        rs.n = 1;
        rs.dims[0] = 1;
        rs.red[0] = 0;
    }
    int64_t s = 1;
    for (int i = rs.n - 1; i >= 0; i--) {
        rs.ostr[i] = rs.red[i] ? 0 : s;
        if (!rs.red[i]) s *= rs.dims[i];
    }
    int64_t nx = nne_tensor_numel(X);

    if (exact) {
        int is_u = X->dtype == NNE_DTYPE_UINT64;
        int64_t *ia = (int64_t *)acc;
        int64_t init = 0;
        if (op == R_PROD) init = 1;
        if (op == R_MAX) init = is_u ? 0 : INT64_MIN;
        if (op == R_MIN) init = is_u ? (int64_t)UINT64_MAX : INT64_MAX;
        for (int64_t i = 0; i < ny; i++) ia[i] = init;
        if (nx > 0) reduce_pass_i64(X, &rs, op, is_u, ia);
        if (op == R_MEAN) {
            for (int64_t i = 0; i < ny; i++) {
                if (count == 0) ia[i] = 0;
                else ia[i] = is_u ? (int64_t)((uint64_t)ia[i] / (uint64_t)count) : ia[i] / count;
            }
        }
        nne_store_i64(Y, 0, 1, ny, ia);
        return NNE_OK;
    }

    int isint = !nne_dtype_is_float(X->dtype);
    double init = 0.0;
    if (op == R_PROD) init = 1.0;
    if (op == R_MAX) init = isint ? dtype_min(X->dtype) : -INFINITY;
    if (op == R_MIN) init = isint ? dtype_max(X->dtype) : INFINITY;
    if (op == R_LOGSUMEXP) {
        for (int64_t i = 0; i < ny; i++) shift[i] = -INFINITY;
        if (nx > 0) reduce_pass(X, &rs, R_MAX, shift, NULL);
        for (int64_t i = 0; i < ny; i++) {
            if (!isfinite(shift[i])) shift[i] = 0.0; /* all -inf / inf / NaN: no shift */
        }
    }
    for (int64_t i = 0; i < ny; i++) acc[i] = init;
    if (nx > 0) reduce_pass(X, &rs, op, acc, shift);
    for (int64_t i = 0; i < ny; i++) {
        double v = acc[i];
        switch (op) {
        case R_MEAN: v = count > 0 ? v / (double)count : NAN; break;
        case R_L2: v = sqrt(v); break;
        case R_LOGSUM: v = log(v); break;
        case R_LOGSUMEXP: v = log(v) + shift[i]; break;
        default: break;
        }
        if (isint && op == R_MEAN && count == 0) v = 0.0;
        acc[i] = v;
    }
    nne_store_f64(Y, 0, 1, ny, acc, NNE_CVT_SAT);
    return NNE_OK;
}

static nne_status reduce_sum_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_SUM); }
static nne_status reduce_mean_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_MEAN); }
static nne_status reduce_max_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_MAX); }
static nne_status reduce_min_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_MIN); }
static nne_status reduce_prod_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_PROD); }
static nne_status reduce_l1_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_L1); }
static nne_status reduce_l2_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_L2); }
static nne_status reduce_logsum_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_LOGSUM); }
static nne_status reduce_logsumexp_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_LOGSUMEXP); }
static nne_status reduce_sumsquare_run(nne_op_ctx *ctx) { return reduce_common(ctx, R_SUMSQUARE); }

NNE_OP_DEFINE(ReduceSum, "", "ReduceSum", .infer = reduce_sum_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
NNE_OP_DEFINE(ReduceMean, "", "ReduceMean", .infer = reduce_mean_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
NNE_OP_DEFINE(ReduceMax, "", "ReduceMax", .infer = reduce_max_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
NNE_OP_DEFINE(ReduceMin, "", "ReduceMin", .infer = reduce_min_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
NNE_OP_DEFINE(ReduceProd, "", "ReduceProd", .infer = reduce_prod_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
NNE_OP_DEFINE(ReduceL1, "", "ReduceL1", .infer = reduce_l1_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
NNE_OP_DEFINE(ReduceL2, "", "ReduceL2", .infer = reduce_l2_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
NNE_OP_DEFINE(ReduceLogSum, "", "ReduceLogSum", .infer = reduce_logsum_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
NNE_OP_DEFINE(ReduceLogSumExp, "", "ReduceLogSumExp", .infer = reduce_logsumexp_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
NNE_OP_DEFINE(ReduceSumSquare, "", "ReduceSumSquare", .infer = reduce_sumsquare_run, .run = reduce_kernel, .state_size = sizeof(rd_state));
