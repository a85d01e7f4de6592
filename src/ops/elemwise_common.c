/*
 * elemwise_common.c - the broadcast iterator and the unary/binary drivers
 * shared by the element-wise ops (see elemwise_common.h for the design).
 *
 * The drivers do the op prologue common to every element-wise op: check the
 * inputs and their dtypes, compute the output shape (numpy broadcasting, or
 * the legacy `broadcast`/`axis` attributes of opset < 7), declare the output,
 * and in run mode walk the broadcast runs calling the chosen row kernel.
 */
#include "ops/elemwise_common.h"
#include "core/threadpool.h"

/* ------------------------------------------------- broadcast iterator -- */

void ew_iter_init(ew_iter *it, const nne_tensor *out, int nin, const nne_tensor *const *ins)
{
    int64_t st[EW_MAX_OPS][NNE_MAX_DIMS];
    int nops = nin + 1;
    int rank = out->ndim;
    memset(it, 0, sizeof *it);
    it->nops = nops;

    /* output strides: C-contiguous */
    int64_t acc = 1;
    for (int d = rank - 1; d >= 0; d--) {
        st[0][d] = acc;
        acc *= out->dims[d];
    }
    for (int k = 1; k < nops; k++)
        nne_broadcast_strides(ins[k - 1], rank, out->dims, st[k]);

    int64_t numel = 1;
    for (int d = 0; d < rank; d++)
        numel *= out->dims[d];

    /* Coalesce from the innermost dim outwards into (dims, strides) stored
     * inner-first; size-1 dims are dropped; dim d merges into the current
     * group when every operand's stride at d equals its group stride times
     * the group size (i.e. the operand is contiguous across both). */
    int64_t cd[NNE_MAX_DIMS];
    int64_t cs[EW_MAX_OPS][NNE_MAX_DIMS];
    int nd = 0;
    for (int d = rank - 1; d >= 0; d--) {
        int64_t n = out->dims[d];
        if (n == 1)
            continue;
        if (nd > 0) {
            int merge = 1;
            for (int k = 0; k < nops; k++) {
                if (st[k][d] != cs[k][nd - 1] * cd[nd - 1]) {
                    merge = 0;
                    break;
                }
            }
            if (merge) {
                cd[nd - 1] *= n;
                continue;
            }
        }
        cd[nd] = n;
        for (int k = 0; k < nops; k++)
            cs[k][nd] = st[k][d];
        nd++;
    }
    if (nd == 0) { /* scalar or all-ones shape: one run of one element */
        cd[0] = 1;
        for (int k = 0; k < nops; k++)
            cs[k][0] = 0;
        nd = 1;
    }
    it->ndim = nd;
    for (int i = 0; i < nd; i++) {
        it->dims[i] = cd[nd - 1 - i];
        for (int k = 0; k < nops; k++)
            it->strides[k][i] = cs[k][nd - 1 - i];
    }
    it->n = it->dims[nd - 1];
    for (int k = 0; k < nops; k++)
        it->step[k] = it->strides[k][nd - 1];
    it->step[0] = 1; /* output runs are always contiguous */
    it->runs_left = numel == 0 ? 0 : numel / it->n;
}

int ew_iter_next(ew_iter *it)
{
    if (it->runs_left <= 0)
        return 0;
    if (it->started) {
        /* odometer over the outer dims */
        for (int d = it->ndim - 2; d >= 0; d--) {
            it->idx[d]++;
            for (int k = 0; k < it->nops; k++)
                it->off[k] += it->strides[k][d];
            if (it->idx[d] < it->dims[d])
                break;
            for (int k = 0; k < it->nops; k++)
                it->off[k] -= it->strides[k][d] * it->dims[d];
            it->idx[d] = 0;
        }
    }
    it->started = 1;
    it->runs_left--;
    return 1;
}

nne_status ew_broadcast_n(nne_op_ctx *ctx, int n, const nne_tensor *const *ts, int *ndim,
                          int64_t *dims)
{
    int nd = ts[0]->ndim;
    int64_t cur[NNE_MAX_DIMS];
    memcpy(cur, ts[0]->dims, sizeof(int64_t) * (size_t)nd);
    for (int i = 1; i < n; i++) {
        int64_t next[NNE_MAX_DIMS];
        int nn = 0;
        NNE_TRY(nne_broadcast_shape(ctx, nd, cur, ts[i]->ndim, ts[i]->dims, &nn, next));
        nd = nn;
        memcpy(cur, next, sizeof(int64_t) * (size_t)nd);
    }
    *ndim = nd;
    memcpy(dims, cur, sizeof(int64_t) * (size_t)nd);
    return NNE_OK;
}

/* ------------------------------------------------------------ drivers -- */

nne_status ew_fail_dtype(nne_op_ctx *ctx, const char *what, nne_dtype dt)
{
    return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported for %s",
                        nne_dtype_name(dt), what);
}

ew_unary_fn ew_unop_pick(const ew_unop *op, nne_dtype dt)
{
    unsigned c = ew_class(dt);
    if (!(c & op->types))
        return NULL;
    switch (c) {
    case EW_TF: return (dt == NNE_DTYPE_FLOAT && op->f32) ? op->f32 : op->gf;
    case EW_TS: return op->gi;
    default: return op->gu;
    }
}

ew_binary_fn ew_binop_pick(const ew_binop *op, nne_dtype dt)
{
    unsigned c = ew_class(dt);
    if (!(c & op->types))
        return NULL;
    switch (c) {
    case EW_TF: return (dt == NNE_DTYPE_FLOAT && op->f32) ? op->f32 : op->gf;
    case EW_TS: return op->gi;
    default: return op->gu;
    }
}

nne_status ew_unary_run(nne_op_ctx *ctx, const ew_unop *op, ew_k *k)
{
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "missing input 0 (X)");
    ew_unary_fn fn = ew_unop_pick(op, x->dtype);
    if (!fn)
        return ew_fail_dtype(ctx, "input X", x->dtype);
    nne_dtype odt = op->out_bool ? NNE_DTYPE_BOOL : x->dtype;
    nne_tensor *y = NULL;
    NNE_TRY(nne_ctx_output(ctx, 0, odt, x->ndim, x->dims, &y));
    k->ta = x->dtype;
    k->tb = x->dtype;
    k->to = odt;
    ew_un_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->k = *k;
        st->fn = fn;
    }
    if (nne_ctx_shape_only(ctx))
        return NNE_OK;
    int64_t n = nne_tensor_numel(x);
    if (n > 0)
        fn(k, x->data, y->data, n);
    return NNE_OK;
}

void ew_binary_exec(const ew_k *k, ew_binary_fn fn, nne_tensor *y, const nne_tensor *a,
                    const nne_tensor *b)
{
    const nne_tensor *ins[2] = {a, b};
    size_t ea = ew_esize(a->dtype), eb = ew_esize(b->dtype), eo = ew_esize(y->dtype);
    const char *pa = (const char *)a->data;
    const char *pb = (const char *)b->data;
    char *po = (char *)y->data;
    ew_iter it;
    ew_iter_init(&it, y, 2, ins);
    while (ew_iter_next(&it))
        fn(k, pa + it.off[1] * (int64_t)ea, it.step[1], pb + it.off[2] * (int64_t)eb, it.step[2],
           po + it.off[0] * (int64_t)eo, it.n);
}

/*
 * Legacy broadcasting of opset < 7 (Add/Sub/Mul/Div/Pow/And/Or/Xor/Equal/
 * Greater/Less): with broadcast=1, B's shape is a contiguous run of A's dims
 * starting at `axis` (suffix matching when axis is absent), or B has one
 * element. We express that as a view of B with trailing 1-dims so numpy
 * broadcasting does the rest, then require the result to have A's shape.
 * broadcast=0 requires equal shapes; we accept numpy broadcasting there too
 * (a superset) rather than rejecting old models.
 */
static nne_status ew_legacy_view(nne_op_ctx *ctx, const nne_tensor *a, const nne_tensor *b,
                                 nne_tensor *bv)
{
    *bv = *b;
    if (!nne_attr_i(ctx, "broadcast", 0))
        return NNE_OK;
    if (nne_tensor_numel(b) == 1) {
        bv->ndim = 0;
        return NNE_OK;
    }
    if (!nne_attr_has(ctx, "axis"))
        return NNE_OK;
    int64_t axis = nne_attr_i(ctx, "axis", 0);
    if (axis < 0)
        axis += a->ndim;
    if (axis < 0 || axis + b->ndim > a->ndim)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "legacy broadcast: axis=%lld with B of rank %d does not fit A of rank %d",
                            (long long)nne_attr_i(ctx, "axis", 0), b->ndim, a->ndim);
    for (int d = 0; d < b->ndim; d++) {
        if (b->dims[d] != a->dims[axis + d] && b->dims[d] != 1) {
            char sa[128], sb[128];
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "legacy broadcast: B shape %s placed at axis %lld does not match A "
                                "shape %s (B dim %d is %lld, A dim %lld is %lld)",
                                nne_dims_str(b->ndim, b->dims, sb, sizeof sb), (long long)axis,
                                nne_dims_str(a->ndim, a->dims, sa, sizeof sa), d,
                                (long long)b->dims[d], (long long)(axis + d),
                                (long long)a->dims[axis + d]);
        }
    }
    bv->ndim = a->ndim - (int)axis;
    for (int d = b->ndim; d < bv->ndim; d++)
        bv->dims[d] = 1;
    return NNE_OK;
}

nne_status ew_binary_run(nne_op_ctx *ctx, const ew_binop *op, ew_k *k)
{
    const nne_tensor *a = nne_ctx_input(ctx, 0);
    const nne_tensor *b = nne_ctx_input(ctx, 1);
    if (!a || !b)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs 2 inputs, input %d missing", a ? 1 : 0);
    ew_binary_fn fn = ew_binop_pick(op, a->dtype);
    if (!fn)
        return ew_fail_dtype(ctx, "input A", a->dtype);
    if (op->mixed) {
        if (!(ew_class(b->dtype) & op->types_b))
            return ew_fail_dtype(ctx, "input B", b->dtype);
        if (fn == op->f32 && b->dtype != a->dtype) /* f32 path needs float32 B too */
            fn = op->gf;
    } else if (a->dtype != b->dtype) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs must have the same dtype, got %s and %s",
                            nne_dtype_name(a->dtype), nne_dtype_name(b->dtype));
    }

    nne_tensor bv = *b;
    int legacy = op->legacy && nne_ctx_opset(ctx) < 7;
    if (legacy)
        NNE_TRY(ew_legacy_view(ctx, a, b, &bv));
    int nd = 0;
    int64_t dims[NNE_MAX_DIMS];
    NNE_TRY(nne_broadcast_shape(ctx, a->ndim, a->dims, bv.ndim, bv.dims, &nd, dims));
    if (legacy && nne_attr_i(ctx, "broadcast", 0)) {
        int same = nd == a->ndim;
        for (int d = 0; same && d < nd; d++)
            same = dims[d] == a->dims[d];
        if (!same) {
            char sa[128], sb[128];
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "legacy broadcast: B shape %s does not broadcast to A shape %s",
                                nne_dims_str(b->ndim, b->dims, sb, sizeof sb),
                                nne_dims_str(a->ndim, a->dims, sa, sizeof sa));
        }
    }

    nne_dtype odt = op->out_bool ? NNE_DTYPE_BOOL : a->dtype;
    nne_tensor *y = NULL;
    NNE_TRY(nne_ctx_output(ctx, 0, odt, nd, dims, &y));
    k->ta = a->dtype;
    k->tb = b->dtype;
    k->to = odt;
    ew_bin_state *st = nne_ctx_plan_state(ctx);
    if (st)
        ew_bin_state_set(st, k, fn, &bv);
    if (nne_ctx_shape_only(ctx))
        return NNE_OK;
    ew_binary_exec(k, fn, y, a, &bv);
    return NNE_OK;
}

/* ------------------------------------------------------------- phases -- */

void ew_bin_state_set(ew_bin_state *st, const ew_k *k, ew_binary_fn fn, const nne_tensor *bview)
{
    st->k = *k;
    st->fn = fn;
    st->b_ndim = bview->ndim;
    memcpy(st->b_dims, bview->dims, sizeof st->b_dims);
}

nne_status ew_unary_kernel(const void *state, const nne_kernel_args *a)
{
    const ew_un_state *st = state;
    int64_t n = nne_tensor_numel(a->in[0]);
    if (n > 0)
        st->fn(&st->k, a->in[0]->data, a->out[0]->data, n);
    return NNE_OK;
}

/*
 * Threads for big binary ops: the output is split along its first axis of
 * size > 1 (the axes before it are 1, so each part is a contiguous slab),
 * each operand sliced alike where it has that axis (a broadcast operand is
 * shared), and every part runs the plain broadcast walk on its slabs.
 */
typedef struct ew_par_job {
    const ew_k *k;
    ew_binary_fn fn;
    const nne_tensor *y, *a, *b;
    int axis;
} ew_par_job;

/* t restricted to [lo, hi) of `axis` when it has that axis at full size. */
static nne_tensor ew_slab(const nne_tensor *t, int out_ndim, int axis, int64_t lo, int64_t hi)
{
    nne_tensor s = *t;
    int d = axis - (out_ndim - t->ndim); /* the operand's own axis (right-aligned) */
    if (d < 0 || t->dims[d] == 1)
        return s;
    int64_t inner = 1;
    for (int k = d + 1; k < t->ndim; k++)
        inner *= t->dims[k];
    s.data = (char *)t->data + (size_t)(lo * inner) * ew_esize(t->dtype);
    s.dims[d] = hi - lo;
    return s;
}

static void ew_par_part(void *arg, int part, int nparts, void *scratch)
{
    const ew_par_job *j = arg;
    long long lo, hi;
    nne_split_range(j->y->dims[j->axis], 1, part, nparts, &lo, &hi);
    if (lo >= hi)
        return;
    nne_tensor y = ew_slab(j->y, j->y->ndim, j->axis, lo, hi);
    nne_tensor a = ew_slab(j->a, j->y->ndim, j->axis, lo, hi);
    nne_tensor b = ew_slab(j->b, j->y->ndim, j->axis, lo, hi);
    ew_binary_exec(j->k, j->fn, &y, &a, &b);
}

nne_status ew_binary_kernel(const void *state, const nne_kernel_args *a)
{
    const ew_bin_state *st = state;
    nne_tensor bv = *a->in[1];
    bv.ndim = st->b_ndim;
    memcpy(bv.dims, st->b_dims, sizeof bv.dims);
    nne_tensor *y = a->out[0];
    nne_threadpool *pool = nne_ctx_pool(a->ctx);
    int parts = nne_threadpool_threads(pool);
    int axis = 0;
    while (axis < y->ndim && y->dims[axis] == 1)
        axis++;
    /* worth a thread wake-up; the slabs of an output that aliases an input
     * are the input's own slabs, so in place stays legal */
    if (parts > 1 && axis < y->ndim && nne_tensor_numel(y) >= 32768 && y->dtype == NNE_DTYPE_FLOAT &&
        a->in[0]->dtype == NNE_DTYPE_FLOAT && bv.dtype == NNE_DTYPE_FLOAT && a->in[0]->ndim <= y->ndim &&
        bv.ndim <= y->ndim) {
        if (parts > y->dims[axis])
            parts = (int)y->dims[axis];
        ew_par_job job = {&st->k, st->fn, y, a->in[0], &bv, axis};
        nne_parallel(pool, parts, ew_par_part, &job, NULL);
        return NNE_OK;
    }
    ew_binary_exec(&st->k, st->fn, y, a->in[0], &bv);
    return NNE_OK;
}
