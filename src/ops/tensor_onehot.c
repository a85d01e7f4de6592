/*
 * tensor_onehot.c - OneHot (depth read as data, values = [off, on]) and
 * Trilu (keep the upper or lower triangle of the last two axes, shifted by
 * the optional diagonal input k). OneHot indices outside [-depth, depth)
 * give all-off rows, as the spec says.
 */
#include "ops/tensor_util.h"

#include <string.h>

/* OneHot: depth is data (NNE_DYNAMIC unless constant); the state keeps the
 * element sizes, the axis and the depth found when planning. */
typedef struct onehot_state {
    size_t es, ies;
    int axis;
    int64_t depth;
} onehot_state;

static nne_status onehot_run(nne_op_ctx *ctx) {
    const nne_tensor *ind = nne_ctx_input(ctx, 0), *dep = nne_ctx_input(ctx, 1),
                     *val = nne_ctx_input(ctx, 2);
    if (!ind || !dep || !val)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs indices, depth and values are required");
    size_t es, ies;
    NNE_TRY(nne_tu_esize(ctx, val->dtype, &es));
    NNE_TRY(nne_tu_esize(ctx, ind->dtype, &ies));
    if (nne_tensor_numel(val) != 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "values must hold 2 elements [off, on], got %lld",
                            (long long)nne_tensor_numel(val));
    NNE_TRY(nne_ctx_need_data(ctx, dep));
    if (nne_tensor_numel(dep) != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "depth must hold one value");
    int64_t depth = nne_ld_i64(dep->data, dep->dtype, 0);
    if (depth <= 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "depth %lld must be positive", (long long)depth);
    int r = ind->ndim;
    if (r + 1 > NNE_MAX_DIMS)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output rank %d exceeds the limit %d", r + 1,
                            NNE_MAX_DIMS);
    int axis;
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", -1), r + 1, &axis));
    int64_t od[NNE_MAX_DIMS];
    for (int i = 0, k = 0; i <= r; i++) od[i] = i == axis ? depth : ind->dims[k++];
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, val->dtype, r + 1, od, &y));
    onehot_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (onehot_state){.es = es, .ies = ies, .axis = axis, .depth = depth};
    return NNE_OK;
}

static nne_status onehot_kernel(const void *state, const nne_kernel_args *a) {
    const onehot_state *st = state;
    const nne_tensor *ind = a->in[0], *val = a->in[2];
    nne_tensor *y = a->out[0];
    size_t es = st->es, ies = st->ies;
    int axis = st->axis, r = ind->ndim;
    int64_t depth = st->depth;
    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= ind->dims[i];
    for (int i = axis; i < r; i++) inner *= ind->dims[i];
    const char *off = val->data, *on = (const char *)val->data + es;
    char *d = y->data;
    nne_tu_fill(d, off, es, nne_tensor_numel(y));
    const char *ip = ind->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t i = 0; i < inner; i++) {
            int64_t v = nne_ld_i64(ip + (size_t)(o * inner + i) * ies, ind->dtype, 0);
            if (v < 0) v += depth;
            if (v < 0 || v >= depth) continue;
            memcpy(d + (size_t)((o * depth + v) * inner + i) * es, on, es);
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(OneHot, "", "OneHot", .infer = onehot_run, .run = onehot_kernel, .state_size = sizeof(onehot_state));

typedef struct trilu_state {
    size_t es;
    int upper;
} trilu_state;

static nne_status trilu_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    if (x->ndim < 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input rank %d, expected >= 2", (int)x->ndim);
    int upper = nne_attr_i(ctx, "upper", 1) != 0;
    nne_tensor *y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, x, &y));
    trilu_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (trilu_state){.es = es, .upper = upper};
    return NNE_OK;
}

/* k (the diagonal) is data, read on every run. */
static nne_status trilu_kernel(const void *state, const nne_kernel_args *a) {
    const trilu_state *st = state;
    const nne_tensor *x = a->in[0], *kt = a->n_in > 1 ? a->in[1] : NULL;
    nne_tensor *y = a->out[0];
    size_t es = st->es;
    int upper = st->upper;
    int64_t k = 0;
    if (kt) NNE_TRY(nne_tu_read_scalar_i64(a->ctx, kt, "k", &k));
    int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1];
    int64_t mats = 1;
    for (int i = 0; i < x->ndim - 2; i++) mats *= x->dims[i];
    /* keep column j of row i when j >= i + k (upper) or j <= i + k (lower) */
    if (k > cols) k = cols + 1;
    if (k < -rows) k = -rows - 1;
    const char *s = x->data;
    char *d = y->data;
    for (int64_t m = 0; m < mats; m++) {
        for (int64_t i = 0; i < rows; i++) {
            int64_t b = i + k; /* boundary column */
            size_t rowoff = (size_t)((m * rows + i) * cols) * es;
            int64_t keep_lo, keep_hi; /* kept columns [lo, hi) */
            if (upper) {
                keep_lo = b < 0 ? 0 : b > cols ? cols : b;
                keep_hi = cols;
            } else {
                keep_lo = 0;
                keep_hi = b + 1 < 0 ? 0 : b + 1 > cols ? cols : b + 1;
            }
            if (keep_hi < keep_lo) keep_hi = keep_lo;
            /* zero outside [lo, hi) only, so y may alias x */
            if (keep_hi > keep_lo && d != s)
                memcpy(d + rowoff + (size_t)keep_lo * es, s + rowoff + (size_t)keep_lo * es,
                       (size_t)(keep_hi - keep_lo) * es);
            memset(d + rowoff, 0, (size_t)keep_lo * es);
            memset(d + rowoff + (size_t)keep_hi * es, 0, (size_t)(cols - keep_hi) * es);
        }
    }
    return NNE_OK;
}
NNE_OP_DEFINE(Trilu, "", "Trilu", .infer = trilu_run, .run = trilu_kernel, .state_size = sizeof(trilu_state));
