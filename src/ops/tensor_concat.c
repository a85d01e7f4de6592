/*
 * tensor_concat.c - Concat and Split along one axis.
 * Both view a tensor as [outer, axis * inner] rows and move one contiguous
 * run of bytes per (outer row, input/output). Split takes its sizes from the
 * `split` attribute (opset < 13; opset 1 also accepts a second input), the
 * `split` input (>= 13), or equal parts over the outputs; from opset 18
 * `num_outputs` gives ceil-sized chunks with a smaller last one.
 */
#include "train/train.h"
#include "ops/tensor_util.h"

#include <string.h>

/* Concat in phases: concat_run is infer; when planning it keeps the axis and
 * element size. */
typedef struct cc_state {
    int axis;
    size_t es;
} cc_state;

static nne_status concat_run(nne_op_ctx *ctx) {
    int nin = nne_ctx_num_inputs(ctx);
    const nne_tensor *first = NULL;
    for (int i = 0; i < nin && !first; i++) first = nne_ctx_input(ctx, i);
    if (!first) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "no inputs");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, first->dtype, &es));
    int r = first->ndim;
    if (r == 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "cannot concatenate scalars (rank 0)");
    int opset = nne_ctx_opset(ctx);
    if (opset >= 4 && !nne_attr_has(ctx, "axis"))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute 'axis' is required");
    int64_t a = nne_attr_i(ctx, "axis", 1);
    if (a < -r || a >= r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axis %lld out of range for rank %d",
                            (long long)a, r);
    int axis = (int)(a < 0 ? a + r : a);
    int64_t od[NNE_MAX_DIMS];
    for (int k = 0; k < r; k++) od[k] = first->dims[k];
    od[axis] = 0;
    char b1[128], b2[128];
    for (int i = 0; i < nin; i++) {
        const nne_tensor *t = nne_ctx_input(ctx, i);
        if (!t) continue;
        if (t->dtype != first->dtype)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d has dtype %s, expected %s", i,
                                nne_dtype_name(t->dtype), nne_dtype_name(first->dtype));
        if (t->ndim != r)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d has rank %d, expected %d", i,
                                (int)t->ndim, r);
        for (int k = 0; k < r; k++)
            if (k != axis && t->dims[k] != first->dims[k])
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                    "input %d shape %s does not match %s except on axis %d", i,
                                    nne_dims_str(t->ndim, t->dims, b1, sizeof b1),
                                    nne_dims_str(r, first->dims, b2, sizeof b2), axis);
        if (__builtin_add_overflow(od[axis], t->dims[axis], &od[axis]))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "concatenated size overflows");
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, first->dtype, r, od, &y));
    cc_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (cc_state){.axis = axis, .es = es};
    return NNE_OK;
}

static nne_status concat_kernel(const void *state, const nne_kernel_args *a) {
    const cc_state *st = state;
    int axis = st->axis, nin = a->n_in;
    size_t es = st->es;
    nne_tensor *y = a->out[0];
    int r = y->ndim;
    const int64_t *od = y->dims;
    int64_t outer = 1, inner = 1;
    for (int k = 0; k < axis; k++) outer *= od[k];
    for (int k = axis + 1; k < r; k++) inner *= od[k];
    size_t orow = (size_t)(od[axis] * inner) * es;
    size_t off = 0;
    for (int i = 0; i < nin; i++) {
        const nne_tensor *t = a->in[i];
        if (!t) continue;
        size_t row = (size_t)(t->dims[axis] * inner) * es;
        if (row == 0) continue;
        char *d = (char *)y->data + off;
        const char *s = t->data;
        for (int64_t o = 0; o < outer; o++) memcpy(d + (size_t)o * orow, s + (size_t)o * row, row);
        off += row;
    }
    return NNE_OK;
}
NNE_OP_DEFINE(Concat, "", "Concat", .infer = concat_run, .run = concat_kernel, .state_size = sizeof(cc_state),
              .gradient = &nne_grad_Concat);

/* ------------------------------------------------------------------ Split */

/* Where the part sizes come from; part_size() reads them one at a time so no
 * per-output array is needed (the output count is unbounded). */
typedef struct {
    const nne_tensor *t;  /* split input, or NULL */
    const int64_t *attr;  /* split attribute, or NULL */
    int64_t chunk, last;  /* computed sizes otherwise */
    int n;
} split_sizes;

static int64_t part_size(const split_sizes *z, int i) {
    if (z->t) return nne_ld_i64((const char *)z->t->data + (size_t)i * nne_dtype_size(z->t->dtype), z->t->dtype, 0);
    if (z->attr) return z->attr[i];
    return i == z->n - 1 ? z->last : z->chunk;
}

/* Split in phases: split_run is infer; when planning it keeps the axis and
 * element size (each part's size is its output's dim on the axis). */
static nne_status split_kernel(const void *state, const nne_kernel_args *a) {
    const cc_state *st = state;
    const nne_tensor *x = a->in[0];
    int axis = st->axis, r = x->ndim;
    size_t es = st->es;
    int64_t outer = 1, inner = 1, dim = x->dims[axis];
    for (int k = 0; k < axis; k++) outer *= x->dims[k];
    for (int k = axis + 1; k < r; k++) inner *= x->dims[k];
    size_t irow = (size_t)(dim * inner) * es, off = 0;
    for (int i = 0; i < a->n_out; i++) {
        nne_tensor *y = a->out[i];
        if (!y) continue; /* every output of a Split is named (the op's infer checked) */
        size_t row = (size_t)(y->dims[axis] * inner) * es;
        if (row && y->data) {
            char *d = y->data;
            const char *s = (const char *)x->data + off;
            for (int64_t o = 0; o < outer; o++) memcpy(d + (size_t)o * row, s + (size_t)o * irow, row);
        }
        off += row;
    }
    return NNE_OK;
}

static nne_status split_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    int r = x->ndim;
    int opset = nne_ctx_opset(ctx);
    int nout = nne_ctx_num_outputs(ctx);
    if (nout < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "the node has no outputs");
    int64_t a = nne_attr_i(ctx, "axis", 0);
    if (a < -r || a >= r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axis %lld out of range for rank %d",
                            (long long)a, r);
    int axis = (int)(a < 0 ? a + r : a);
    int64_t dim = x->dims[axis];

    split_sizes z = {NULL, NULL, 0, 0, nout};
    int64_t ns = -1;
    const nne_tensor *st = (opset >= 13 || opset < 2) ? nne_ctx_input(ctx, 1) : NULL;
    if (st) {
        NNE_TRY(nne_ctx_need_data(ctx, st));
        if (st->ndim != 1 || !nne_dtype_size(st->dtype))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "split must be a 1-D numeric tensor");
        z.t = st;
        ns = st->dims[0];
    } else if (opset < 13 && nne_attr_has(ctx, "split")) {
        int c = nne_attr_ints(ctx, "split", &z.attr);
        ns = c < 0 ? 0 : c;
    }
    if (ns >= 0) {
        if (ns != nout)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "split has %lld values but the node has %d outputs",
                                (long long)ns, nout);
        int64_t sum = 0;
        for (int i = 0; i < nout; i++) {
            int64_t v = part_size(&z, i);
            if (v < 0)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "split[%d] = %lld is negative", i, (long long)v);
            if (__builtin_add_overflow(sum, v, &sum))
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "split sizes overflow");
        }
        if (sum != dim)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "split sizes sum to %lld, expected %lld (dim of axis %d)",
                                (long long)sum, (long long)dim, axis);
    } else if (opset >= 18 && nne_attr_has(ctx, "num_outputs")) {
        int64_t no = nne_attr_i(ctx, "num_outputs", 0);
        if (no != nout)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "num_outputs = %lld but the node has %d outputs",
                                (long long)no, nout);
        z.chunk = (dim + nout - 1) / nout;
        z.last = dim - z.chunk * (nout - 1);
        if (z.last < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "cannot split size %lld into %d chunks of %lld", (long long)dim, nout,
                                (long long)z.chunk);
    } else {
        if (dim % nout != 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "axis %d of size %lld cannot be split into %d equal parts", axis,
                                (long long)dim, nout);
        z.chunk = z.last = dim / nout;
    }

    /* declare every output (split_kernel fills them) */
    int64_t od[NNE_MAX_DIMS];
    for (int k = 0; k < r; k++) od[k] = x->dims[k];
    for (int i = 0; i < nout; i++) {
        nne_tensor *y;
        od[axis] = part_size(&z, i);
        NNE_TRY(nne_ctx_output(ctx, i, x->dtype, r, od, &y));
    }
    return NNE_OK;
}

static nne_status split_infer(nne_op_ctx *ctx) {
    NNE_TRY(split_run(ctx));
    cc_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        const nne_tensor *x = nne_ctx_input(ctx, 0);
        int r = x->ndim;
        int64_t a = nne_attr_i(ctx, "axis", 0);
        st->axis = (int)(a < 0 ? a + r : a);
        st->es = nne_dtype_size(x->dtype);
    }
    return NNE_OK;
}
NNE_OP_DEFINE(Split, "", "Split", .infer = split_infer, .run = split_kernel, .state_size = sizeof(cc_state));
