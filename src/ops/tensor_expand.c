/*
 * tensor_expand.c - replication ops: Expand (numpy broadcast of the input
 * to a shape given as data) and Tile (repeats per axis; opset 1 takes a
 * scalar `tiles` and `axis`). Both are one strided copy: Expand reads with
 * stride 0 along broadcast axes, Tile views its output [r0*d0, r1*d1, ...]
 * as [r0, d0, r1, d1, ...] and reads the input with stride 0 on the r axes.
 */
#include "ops/tensor_util.h"

#include <string.h>

/* Expand and Tile in phases: the *_run functions are infer; when planning
 * they keep the strided copy (view dims and source strides) in the state. */
typedef struct rep_state {
    int nd;                                /* view rank */
    int64_t vd[NNE_TU_MAX_VIEW_DIMS];      /* view dims */
    int64_t vs[NNE_TU_MAX_VIEW_DIMS];      /* source strides (0: repeated) */
    size_t es;
} rep_state;

static nne_status rep_kernel(const void *state, const nne_kernel_args *a) {
    const rep_state *st = state;
    int64_t dstr[NNE_TU_MAX_VIEW_DIMS];
    nne_tu_strides(st->nd, st->vd, dstr);
    nne_tu_copy_nd(a->out[0]->data, dstr, a->in[0]->data, st->vs, st->es, st->nd, st->vd);
    return NNE_OK;
}

static nne_status expand_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *s = nne_ctx_input(ctx, 1);
    if (!x || !s) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs input and shape are required");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    NNE_TRY(nne_ctx_need_data(ctx, s));
    int64_t shp[NNE_MAX_DIMS], n;
    NNE_TRY(nne_tu_read_ints(ctx, s, "shape", shp, NNE_MAX_DIMS, &n));
    int r = x->ndim;
    int orank = r > n ? r : (int)n;
    int64_t od[NNE_MAX_DIMS], sstr[NNE_MAX_DIMS], istr[NNE_MAX_DIMS], dstr[NNE_MAX_DIMS];
    nne_tu_strides(r, x->dims, istr);
    char b1[128], b2[128];
    for (int i = 0; i < orank; i++) {
        int xi = i - (orank - r), si = i - (orank - (int)n);
        int64_t a = xi >= 0 ? x->dims[xi] : 1;
        int64_t b = si >= 0 ? shp[si] : 1;
        if (b < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "shape[%d] = %lld is negative", si,
                                (long long)b);
        if (a == b || b == 1) od[i] = a;
        else if (a == 1) od[i] = b;
        else
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "input shape %s cannot be broadcast to %s (axis %d: %lld vs %lld)",
                                nne_dims_str(r, x->dims, b1, sizeof b1),
                                nne_dims_str((int)n, shp, b2, sizeof b2), i, (long long)a,
                                (long long)b);
        sstr[i] = (xi >= 0 && a == od[i]) ? istr[xi] : 0;
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, orank, od, &y));
    rep_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->nd = orank;
        st->es = es;
        memcpy(st->vd, od, sizeof(int64_t) * (size_t)orank);
        memcpy(st->vs, sstr, sizeof(int64_t) * (size_t)orank);
    }
    (void)dstr;
    return NNE_OK;
}
NNE_OP_DEFINE(Expand, "", "Expand", .infer = expand_run, .run = rep_kernel, .state_size = sizeof(rep_state));

static nne_status tile_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *rp = nne_ctx_input(ctx, 1);
    if (!x || !rp) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs input and repeats are required");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    int r = x->ndim;
    int64_t rep[NNE_MAX_DIMS], n;
    if (nne_ctx_opset(ctx) < 6) {
        const nne_tensor *ax = nne_ctx_input(ctx, 2);
        if (!ax) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input axis is required before opset 6");
        NNE_TRY(nne_ctx_need_data(ctx, rp));
        NNE_TRY(nne_ctx_need_data(ctx, ax));
        int64_t tiles, a;
        NNE_TRY(nne_tu_read_scalar_i64(ctx, rp, "tiles", &tiles));
        NNE_TRY(nne_tu_read_scalar_i64(ctx, ax, "axis", &a));
        int axis;
        NNE_TRY(nne_ctx_axis(ctx, a, r, &axis));
        for (int i = 0; i < r; i++) rep[i] = i == axis ? tiles : 1;
        n = r;
    } else {
        NNE_TRY(nne_ctx_need_data(ctx, rp));
        NNE_TRY(nne_tu_read_ints(ctx, rp, "repeats", rep, NNE_MAX_DIMS, &n));
    }
    if (n != r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "repeats has %lld values, expected %d (input rank)",
                            (long long)n, r);
    int64_t od[NNE_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        if (rep[i] < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "repeats[%d] = %lld is negative", i,
                                (long long)rep[i]);
        if (!nne_tu_mul_ok(x->dims[i], rep[i], &od[i]))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "output dim %d overflows", i);
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, r, od, &y));
    rep_state *st = nne_ctx_plan_state(ctx);
    if (!st) return NNE_OK;
    int64_t *vd = st->vd, *vs = st->vs;
    int64_t istr[NNE_MAX_DIMS];
    nne_tu_strides(r, x->dims, istr);
    for (int i = 0; i < r; i++) {
        vd[2 * i] = rep[i];
        vs[2 * i] = 0;
        vd[2 * i + 1] = x->dims[i];
        vs[2 * i + 1] = istr[i];
    }
    st->nd = 2 * r;
    st->es = es;
    return NNE_OK;
}
NNE_OP_DEFINE(Tile, "", "Tile", .infer = tile_run, .run = rep_kernel, .state_size = sizeof(rep_state));
