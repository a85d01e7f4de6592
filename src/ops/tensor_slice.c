/*
 * tensor_slice.c - Slice: starts/ends/axes attributes before opset 10, inputs
 * (starts, ends, axes, steps) from opset 10. Indices are clamped as the spec
 * says (negative values count from the end; out-of-range values clamp; a
 * negative step walks backwards) and the result is one strided copy.
 */
#include "ops/tensor_util.h"

#include <string.h>

static nne_status read_list(nne_op_ctx *ctx, int in, const char *name, int64_t *v, int64_t *n) {
    *n = -1;
    if (nne_ctx_opset(ctx) < 10) {
        if (!nne_attr_has(ctx, name)) return NNE_OK;
        const int64_t *p = NULL;
        int c = nne_attr_ints(ctx, name, &p);
        if (c < 0) c = 0;
        if (c > NNE_MAX_DIMS)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s has %d values, at most %d expected",
                                name, c, NNE_MAX_DIMS);
        for (int i = 0; i < c; i++) v[i] = p[i];
        *n = c;
        return NNE_OK;
    }
    const nne_tensor *t = nne_ctx_input(ctx, in);
    if (!t) return NNE_OK;
    NNE_TRY(nne_ctx_need_data(ctx, t));
    return nne_tu_read_ints(ctx, t, name, v, NNE_MAX_DIMS, n);
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi) {
    return v < lo ? lo : v > hi ? hi : v;
}

/* Slice in phases: slice_run is infer (starts/ends/axes/steps are inputs,
 * constant when the node is planned); when planning it keeps the resolved
 * start and step per axis. */
typedef struct sl_state {
    int64_t st[NNE_MAX_DIMS], sp[NNE_MAX_DIMS];
    size_t es;
} sl_state;

static nne_status slice_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    int r = x->ndim;
    int64_t starts[NNE_MAX_DIMS], ends[NNE_MAX_DIMS], axes[NNE_MAX_DIMS], steps[NNE_MAX_DIMS];
    int64_t ns, ne, na, nst;
    /* request all data-dependent inputs first so one NNE_DYNAMIC covers them */
    NNE_TRY(read_list(ctx, 1, "starts", starts, &ns));
    NNE_TRY(read_list(ctx, 2, "ends", ends, &ne));
    NNE_TRY(read_list(ctx, 3, "axes", axes, &na));
    if (nne_ctx_opset(ctx) >= 10) NNE_TRY(read_list(ctx, 4, "steps", steps, &nst));
    else nst = -1;
    if (ns < 0 || ne < 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "starts and ends are required");
    if (ns != ne)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "starts has %lld values but ends has %lld",
                            (long long)ns, (long long)ne);
    if (na >= 0 && na != ns)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axes has %lld values, expected %lld",
                            (long long)na, (long long)ns);
    if (nst >= 0 && nst != ns)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "steps has %lld values, expected %lld",
                            (long long)nst, (long long)ns);
    if (ns > r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%lld slice axes for an input of rank %d",
                            (long long)ns, r);
    int ax[NNE_MAX_DIMS];
    if (na < 0) {
        for (int i = 0; i < ns; i++) ax[i] = i;
    } else {
        NNE_TRY(nne_tu_axes(ctx, axes, na, r, "axes", ax));
    }
    int64_t st[NNE_MAX_DIMS], sp[NNE_MAX_DIMS], od[NNE_MAX_DIMS];
    for (int k = 0; k < r; k++) {
        st[k] = 0;
        sp[k] = 1;
        od[k] = x->dims[k];
    }
    for (int i = 0; i < ns; i++) {
        int k = ax[i];
        int64_t d = x->dims[k];
        int64_t step = nst >= 0 ? steps[i] : 1;
        if (step == 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "steps[%d] is 0", i);
        if (step == INT64_MIN) step = -INT64_MAX;
        int64_t s = starts[i], e = ends[i];
        if (s < 0) s += d;
        if (e < 0) e += d;
        int64_t len = 0;
        if (d == 0) {
            s = 0;
        } else if (step > 0) {
            s = clamp64(s, 0, d);
            e = clamp64(e, 0, d);
            len = e > s ? (e - s - 1) / step + 1 : 0;
        } else {
            s = clamp64(s, 0, d - 1);
            e = clamp64(e, -1, d - 1);
            len = s > e ? (s - e - 1) / (-step) + 1 : 0;
        }
        st[k] = len > 0 ? s : 0;
        sp[k] = step;
        od[k] = len;
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, r, od, &y));
    sl_state *sst = nne_ctx_plan_state(ctx);
    if (sst) {
        memcpy(sst->st, st, sizeof sst->st);
        memcpy(sst->sp, sp, sizeof sst->sp);
        sst->es = es;
    }
    return NNE_OK;
}

static nne_status slice_kernel(const void *state, const nne_kernel_args *a) {
    const sl_state *sst = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    int r = x->ndim;
    size_t es = sst->es;
    const int64_t *st = sst->st, *sp = sst->sp, *od = y->dims;
    int64_t istr[NNE_MAX_DIMS], sstr[NNE_MAX_DIMS], dstr[NNE_MAX_DIMS];
    nne_tu_strides(r, x->dims, istr);
    nne_tu_strides(r, od, dstr);
    int64_t off = 0;
    for (int k = 0; k < r; k++) {
        if (od[k] == 0) return NNE_OK;
        off += st[k] * istr[k];
        sstr[k] = od[k] > 1 ? istr[k] * sp[k] : 0; /* |step| < dim when od > 1 */
    }
    nne_tu_copy_nd(y->data, dstr, (const char *)x->data + off * (int64_t)es, sstr, es, r, od);
    return NNE_OK;
}
NNE_OP_DEFINE(Slice, "", "Slice", .infer = slice_run, .run = slice_kernel, .state_size = sizeof(sl_state));
