/*
 * seq_ops.c - sequence ops (SequenceEmpty/Construct/Insert/At/Erase/Length,
 * ConcatFromSequence, SplitToSequence) and the optional-value ops whose
 * values are plain tensors or absent inputs (Optional, OptionalHasElement,
 * OptionalGetElement).
 */
#include "ops/op.h"
#include "core/core.h"

#include <string.h>

static void free_items(nne_tensor *it, int n) {
    for (int k = 0; k < n; k++) nne_tensor_free_data(&it[k]);
}

static nne_status need_seq(nne_op_ctx *ctx, const nne_tensor *s, int i) {
    if (!s || s->dtype != NNE_DTYPE_SEQUENCE)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d must be a sequence", i);
    return NNE_OK;
}

/* Build output 0 from clones of src items [0,n) with `ins` inserted at pos (or erased at pos). */
static nne_status seq_rebuild(nne_op_ctx *ctx, const nne_tensor *seq, const nne_tensor *ins, int64_t pos, int erase) {
    int n = nne_seq_length(seq);
    int m = n + (ins ? 1 : 0) - (erase ? 1 : 0);
    nne_tensor *items = nne_calloc((size_t)(m > 0 ? m : 0) + 1, sizeof *items);
    if (!items) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    int k = 0;
    nne_status st = NNE_OK;
    for (int j = 0; j <= n && st == NNE_OK; j++) {
        if (ins && j == pos) st = nne_tensor_clone(ins, &items[k++]);
        if (j == n || st != NNE_OK) break;
        if (erase && j == pos) continue;
        st = nne_tensor_clone(nne_seq_item(seq, j), &items[k++]);
    }
    if (st != NNE_OK) {
        free_items(items, k);
        nne_free(items);
        return nne_ctx_fail(ctx, st, "out of memory");
    }
    st = nne_ctx_output_seq(ctx, 0, k, items);
    nne_free(items);
    return st;
}

static nne_status seq_empty_run(nne_op_ctx *ctx) {
    return nne_ctx_output_seq(ctx, 0, 0, NULL);
}
NNE_OP_REGISTER(SequenceEmpty, "", "SequenceEmpty", seq_empty_run, NNE_OPF_NO_FOLD);

static nne_status seq_construct_run(nne_op_ctx *ctx) {
    int n = nne_ctx_num_inputs(ctx);
    for (int i = 0; i < n; i++) {
        const nne_tensor *x = nne_ctx_input(ctx, i);
        if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %d is empty", i);
        if (x->dtype != nne_ctx_input(ctx, 0)->dtype)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs have different dtypes (%s vs %s)",
                                nne_dtype_name(x->dtype), nne_dtype_name(nne_ctx_input(ctx, 0)->dtype));
    }
    if (nne_ctx_shape_only(ctx)) return NNE_DYNAMIC;
    nne_tensor *items = nne_calloc((size_t)n + 1, sizeof *items);
    if (!items) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    for (int i = 0; i < n; i++)
        if (nne_tensor_clone(nne_ctx_input(ctx, i), &items[i]) != NNE_OK) {
            free_items(items, i);
            nne_free(items);
            return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
        }
    nne_status st = nne_ctx_output_seq(ctx, 0, n, items);
    nne_free(items);
    return st;
}
NNE_OP_REGISTER(SequenceConstruct, "", "SequenceConstruct", seq_construct_run, NNE_OPF_NO_FOLD);

/* Position input p (scalar int) normalized against n; `hi` is the largest allowed. */
static nne_status seq_pos(nne_op_ctx *ctx, const nne_tensor *p, int n, int64_t def, int64_t hi, int64_t *out) {
    if (!p) {
        *out = def;
        return NNE_OK;
    }
    if (nne_tensor_numel(p) != 1 || nne_dtype_is_float(p->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "position must be an integer scalar");
    int64_t v = nne_tensor_get_i64(p, 0);
    if (v < -(int64_t)n || v > hi)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "position %lld is out of range for a sequence of %d", (long long)v,
                            n);
    *out = v < 0 ? v + n : v;
    return NNE_OK;
}

static nne_status seq_insert_run(nne_op_ctx *ctx) {
    const nne_tensor *s = nne_ctx_input(ctx, 0), *x = nne_ctx_input(ctx, 1);
    if (nne_ctx_shape_only(ctx)) return NNE_DYNAMIC;
    NNE_TRY(need_seq(ctx, s, 0));
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing tensor to insert");
    int n = nne_seq_length(s);
    if (n && nne_seq_item(s, 0)->dtype != x->dtype)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "tensor dtype %s differs from the sequence's %s",
                            nne_dtype_name(x->dtype), nne_dtype_name(nne_seq_item(s, 0)->dtype));
    int64_t pos;
    NNE_TRY(seq_pos(ctx, nne_ctx_input(ctx, 2), n, n, n, &pos));
    return seq_rebuild(ctx, s, x, pos, 0);
}
NNE_OP_REGISTER(SequenceInsert, "", "SequenceInsert", seq_insert_run, NNE_OPF_NO_FOLD);

static nne_status seq_erase_run(nne_op_ctx *ctx) {
    const nne_tensor *s = nne_ctx_input(ctx, 0);
    if (nne_ctx_shape_only(ctx)) return NNE_DYNAMIC;
    NNE_TRY(need_seq(ctx, s, 0));
    int n = nne_seq_length(s);
    if (n == 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "cannot erase from an empty sequence");
    int64_t pos;
    NNE_TRY(seq_pos(ctx, nne_ctx_input(ctx, 1), n, n - 1, n - 1, &pos));
    return seq_rebuild(ctx, s, NULL, pos, 1);
}
NNE_OP_REGISTER(SequenceErase, "", "SequenceErase", seq_erase_run, NNE_OPF_NO_FOLD);

/* The ops below read a sequence and give a tensor: they are phased. A
 * sequence has no value before run time, so their infer returns NNE_DYNAMIC
 * at prepare and runs when the node is shaped at run time (with the data). */
static int seq_pending(nne_op_ctx *ctx, const nne_tensor *s) { return nne_ctx_shape_only(ctx) && (!s || !s->data); }

static nne_status seq_at_run(nne_op_ctx *ctx) {
    const nne_tensor *s = nne_ctx_input(ctx, 0);
    if (seq_pending(ctx, s)) return NNE_DYNAMIC;
    NNE_TRY(need_seq(ctx, s, 0));
    int n = nne_seq_length(s);
    int64_t pos;
    if (!nne_ctx_input(ctx, 1)) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing position");
    NNE_TRY(seq_pos(ctx, nne_ctx_input(ctx, 1), n, 0, n - 1, &pos));
    const nne_tensor *x = nne_seq_item(s, (int)pos);
    nne_tensor *y;
    return nne_ctx_output_like(ctx, 0, x, &y);
}

static nne_status seq_at_kernel(const void *state, const nne_kernel_args *a) {
    (void)state;
    int64_t pos;
    NNE_TRY(seq_pos(a->ctx, a->in[1], nne_seq_length(a->in[0]), 0, nne_seq_length(a->in[0]) - 1, &pos));
    const nne_tensor *x = nne_seq_item(a->in[0], (int)pos);
    memcpy(a->out[0]->data, x->data, nne_tensor_nbytes(x));
    return NNE_OK;
}
NNE_OP_DEFINE(SequenceAt, "", "SequenceAt", .infer = seq_at_run, .run = seq_at_kernel);

static nne_status seq_length_run(nne_op_ctx *ctx) {
    const nne_tensor *s = nne_ctx_input(ctx, 0);
    nne_tensor *y;
    if (seq_pending(ctx, s)) return NNE_DYNAMIC;
    NNE_TRY(need_seq(ctx, s, 0));
    return nne_ctx_output(ctx, 0, NNE_DTYPE_INT64, 0, NULL, &y);
}

static nne_status seq_length_kernel(const void *state, const nne_kernel_args *a) {
    (void)state;
    *(int64_t *)a->out[0]->data = nne_seq_length(a->in[0]);
    return NNE_OK;
}
NNE_OP_DEFINE(SequenceLength, "", "SequenceLength", .infer = seq_length_run, .run = seq_length_kernel);

typedef struct cfs_state {
    int axis;
} cfs_state;

static nne_status concat_from_seq_run(nne_op_ctx *ctx) {
    const nne_tensor *s = nne_ctx_input(ctx, 0);
    if (seq_pending(ctx, s)) return NNE_DYNAMIC;
    NNE_TRY(need_seq(ctx, s, 0));
    int n = nne_seq_length(s);
    if (n == 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "cannot concatenate an empty sequence");
    int new_axis = nne_attr_i(ctx, "new_axis", 0) != 0;
    const nne_tensor *x0 = nne_seq_item(s, 0);
    int r = x0->ndim + new_axis, axis;
    if (!nne_attr_has(ctx, "axis")) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing axis attribute");
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", 0), r, &axis));
    if (r > NNE_MAX_DIMS) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "rank too large");
    int64_t dims[NNE_MAX_DIMS], total = 0;
    for (int k = 0; k < n; k++) {
        const nne_tensor *x = nne_seq_item(s, k);
        if (x->ndim != x0->ndim || x->dtype != x0->dtype)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sequence items differ in rank or dtype");
        for (int d = 0; d < x->ndim; d++)
            if ((new_axis || d != axis) && x->dims[d] != x0->dims[d])
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sequence items differ on axis %d", d);
        total += new_axis ? 1 : x->dims[axis];
    }
    if (!new_axis)
        for (int d = 0; d < r; d++) dims[d] = d == axis ? total : x0->dims[d];
    else
        for (int d = 0, q = 0; d < r; d++) dims[d] = d == axis ? total : x0->dims[q++];
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x0->dtype, r, dims, &y));
    cfs_state *st = nne_ctx_plan_state(ctx);
    if (st) st->axis = axis;
    return NNE_OK;
}

static nne_status concat_from_seq_kernel(const void *state, const nne_kernel_args *a) {
    const cfs_state *st = state;
    const nne_tensor *s = a->in[0];
    nne_tensor *y = a->out[0];
    int n = nne_seq_length(s), axis = st->axis;
    const int64_t *dims = y->dims;
    int64_t outer = 1;
    for (int d = 0; d < axis; d++) outer *= dims[d];
    size_t off = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int k = 0; k < n; k++) {
            const nne_tensor *x = nne_seq_item(s, k);
            int64_t xo = 1;
            for (int d = 0; d < axis; d++) xo *= x->dims[d];
            size_t chunk = nne_tensor_nbytes(x) / (size_t)(xo ? xo : 1);
            if (xo == 0) continue;
            memcpy((uint8_t *)y->data + off, (const uint8_t *)x->data + (size_t)o * chunk, chunk);
            off += chunk;
        }
    return NNE_OK;
}
NNE_OP_DEFINE(ConcatFromSequence, "", "ConcatFromSequence", .infer = concat_from_seq_run, .run = concat_from_seq_kernel,
              .state_size = sizeof(cfs_state));

static nne_status split_to_seq_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *sp = nne_ctx_input(ctx, 1);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing input");
    int axis;
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", 0), x->ndim, &axis));
    if (nne_ctx_shape_only(ctx)) return NNE_DYNAMIC;
    int keepdims = nne_attr_i(ctx, "keepdims", 1) != 0;
    int64_t L = x->dims[axis];
    int64_t lens_buf[1024];
    int64_t *lens = lens_buf;
    int n;
    if (!sp) {
        if (L > 1024) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "axis length %lld > 1024", (long long)L);
        n = (int)L;
        for (int k = 0; k < n; k++) lens[k] = 1;
    } else if (sp->ndim == 0) {
        int64_t c = nne_tensor_get_i64(sp, 0);
        if (c <= 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "split must be positive, got %lld", (long long)c);
        int64_t cnt = L / c + (L % c != 0); /* L + c - 1 overflows for a huge split */
        if (cnt > 1024) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "more than 1024 pieces");
        n = (int)cnt;
        for (int k = 0; k < n; k++) lens[k] = (k == n - 1) ? L - c * (n - 1) : c;
        keepdims = 1;
    } else {
        int64_t cnt = nne_tensor_numel(sp), sum = 0;
        if (cnt > 1024) return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "more than 1024 pieces");
        n = (int)cnt;
        for (int k = 0; k < n; k++) {
            lens[k] = nne_tensor_get_i64(sp, k);
            if (lens[k] < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "negative split length");
            sum += lens[k];
        }
        if (sum != L)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "split lengths sum to %lld, axis has %lld", (long long)sum,
                                (long long)L);
        keepdims = 1;
    }
    nne_tensor *items = nne_calloc((size_t)n + 1, sizeof *items);
    if (!items) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    size_t es = nne_dtype_size(x->dtype);
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= x->dims[d];
    for (int d = axis + 1; d < x->ndim; d++) inner *= x->dims[d];
    int64_t start = 0;
    for (int k = 0; k < n; k++) {
        nne_tensor *t = &items[k];
        t->dtype = x->dtype;
        t->ndim = 0;
        for (int d = 0; d < x->ndim; d++) {
            if (d == axis && !keepdims) continue;
            t->dims[t->ndim++] = d == axis ? lens[k] : x->dims[d];
        }
        size_t nb = (size_t)(outer * lens[k] * inner) * es;
        t->data = nne_aligned_alloc(nb ? nb : 1);
        if (!t->data) {
            free_items(items, k);
            nne_free(items);
            return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
        }
        for (int64_t o = 0; o < outer; o++)
            memcpy((uint8_t *)t->data + (size_t)(o * lens[k] * inner) * es,
                   (const uint8_t *)x->data + (size_t)((o * L + start) * inner) * es, (size_t)(lens[k] * inner) * es);
        start += lens[k];
    }
    nne_status st = nne_ctx_output_seq(ctx, 0, n, items);
    nne_free(items);
    return st;
}
NNE_OP_REGISTER(SplitToSequence, "", "SplitToSequence", split_to_seq_run, NNE_OPF_NO_FOLD);

/* Optional values that hold a tensor are that tensor; an absent input is None. */
static nne_status opt_has_run(nne_op_ctx *ctx) {
    nne_tensor *y;
    return nne_ctx_output(ctx, 0, NNE_DTYPE_BOOL, 0, NULL, &y);
}

static nne_status opt_has_kernel(const void *state, const nne_kernel_args *a) {
    (void)state;
    *(uint8_t *)a->out[0]->data = a->n_in > 0 && a->in[0] != NULL;
    return NNE_OK;
}
NNE_OP_DEFINE(OptionalHasElement, "", "OptionalHasElement", .infer = opt_has_run, .run = opt_has_kernel,
              .flags = NNE_OPF_SHAPE_ONLY);

static nne_status opt_get_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "the optional input is empty");
    if (x->dtype == NNE_DTYPE_SEQUENCE) {
        if (nne_ctx_shape_only(ctx)) return NNE_DYNAMIC;
        nne_tensor c;
        NNE_TRY(nne_tensor_clone(x, &c));
        int n = nne_seq_length(&c);
        /* hand the cloned items over as a new sequence */
        nne_tensor *items = nne_calloc((size_t)n + 1, sizeof *items);
        if (!items) {
            nne_tensor_free_data(&c);
            return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
        }
        for (int k = 0; k < n; k++) NNE_TRY(nne_tensor_clone(nne_seq_item(&c, k), &items[k]));
        nne_tensor_free_data(&c);
        nne_status st = nne_ctx_output_seq(ctx, 0, n, items);
        nne_free(items);
        return st;
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output_like(ctx, 0, x, &y));
    if (nne_ctx_shape_only(ctx)) return NNE_OK;
    memcpy(y->data, x->data, nne_tensor_nbytes(x));
    return NNE_OK;
}
NNE_OP_REGISTER(OptionalGetElement, "", "OptionalGetElement", opt_get_run, 0);

static nne_status optional_run(nne_op_ctx *ctx) {
    if (!nne_ctx_input(ctx, 0))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "empty optionals (Optional without input) are not supported");
    return opt_get_run(ctx);
}
NNE_OP_REGISTER(Optional, "", "Optional", optional_run, 0);
