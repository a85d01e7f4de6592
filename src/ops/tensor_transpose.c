/*
 * tensor_transpose.c - axis permutations: Transpose, and DepthToSpace /
 * SpaceToDepth, which are a reshape to 6-d, a transpose and a reshape back.
 * All three build a strided view of the input and copy it with
 * nne_tu_copy_nd, so every dtype works.
 */
#include "ops/tensor_util.h"

#include <string.h>

/* Copy x viewed as `nd` dims `vdims` (contiguous) into y permuted by perm:
 * output axis i is view axis perm[i]. */
static void permute_copy(void *y, const void *x, size_t es, int nd, const int64_t *vdims,
                         const int *perm) {
    int64_t vstr[NNE_TU_MAX_VIEW_DIMS], odims[NNE_TU_MAX_VIEW_DIMS];
    int64_t sstr[NNE_TU_MAX_VIEW_DIMS], dstr[NNE_TU_MAX_VIEW_DIMS];
    nne_tu_strides(nd, vdims, vstr);
    for (int i = 0; i < nd; i++) {
        odims[i] = vdims[perm[i]];
        sstr[i] = vstr[perm[i]];
    }
    nne_tu_strides(nd, odims, dstr);
    nne_tu_copy_nd(y, dstr, x, sstr, es, nd, odims);
}

/* Transpose in phases: transpose_run is infer; when planning it keeps the
 * parsed permutation and element size. */
typedef struct tr_state {
    int perm[NNE_MAX_DIMS];
    size_t es;
} tr_state;

static nne_status transpose_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    int r = x->ndim;
    int perm[NNE_MAX_DIMS];
    const int64_t *p = NULL;
    int np = nne_attr_has(ctx, "perm") ? nne_attr_ints(ctx, "perm", &p) : -1;
    if (np < 0) {
        for (int i = 0; i < r; i++) perm[i] = r - 1 - i;
    } else {
        if (np != r)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "perm has %d values, expected %d (input rank)",
                                np, r);
        int seen[NNE_MAX_DIMS] = {0};
        for (int i = 0; i < r; i++) {
            int64_t a = p[i];
            if (a < -r || a >= r)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "perm[%d] = %lld out of range [0, %d)",
                                    i, (long long)a, r);
            if (a < 0) a += r;
            if (seen[a])
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "perm repeats axis %lld", (long long)a);
            seen[a] = 1;
            perm[i] = (int)a;
        }
    }
    int64_t od[NNE_MAX_DIMS];
    for (int i = 0; i < r; i++) od[i] = x->dims[perm[i]];
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, r, od, &y));
    tr_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        memcpy(st->perm, perm, sizeof st->perm);
        st->es = es;
    }
    return NNE_OK;
}

static nne_status transpose_kernel(const void *state, const nne_kernel_args *a) {
    const tr_state *st = state;
    const nne_tensor *x = a->in[0];
    permute_copy(a->out[0]->data, x->data, st->es, x->ndim, x->dims, st->perm);
    return NNE_OK;
}
NNE_OP_DEFINE(Transpose, "", "Transpose", .infer = transpose_run, .run = transpose_kernel,
              .state_size = sizeof(tr_state));

static nne_status block_prologue(nne_op_ctx *ctx, const nne_tensor **x, size_t *es, int64_t *bs) {
    *x = nne_ctx_input(ctx, 0);
    if (!*x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    NNE_TRY(nne_tu_esize(ctx, (*x)->dtype, es));
    if ((*x)->ndim != 4)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input must be 4-D (NCHW), got rank %d",
                            (int)(*x)->ndim);
    if (!nne_attr_has(ctx, "blocksize"))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute 'blocksize' is required");
    *bs = nne_attr_i(ctx, "blocksize", 0);
    if (*bs <= 0 || *bs > (int64_t)1 << 20)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "blocksize %lld is invalid (expected > 0)",
                            (long long)*bs);
    return NNE_OK;
}

/* DepthToSpace / SpaceToDepth: both are one permuted copy of a 6-D view of
 * the input, computed once per plan. */
typedef struct d2s_state {
    size_t es;
    int64_t v[6];
    int perm[6];
} d2s_state;

static nne_status d2s_kernel(const void *state, const nne_kernel_args *a) {
    const d2s_state *st = state;
    permute_copy(a->out[0]->data, a->in[0]->data, st->es, 6, st->v, st->perm);
    return NNE_OK;
}

static nne_status depthtospace_run(nne_op_ctx *ctx) {
    const nne_tensor *x;
    size_t es;
    int64_t b;
    NNE_TRY(block_prologue(ctx, &x, &es, &b));
    const char *mode = nne_attr_s(ctx, "mode", "DCR");
    int crd = !strcmp(mode, "CRD");
    if (!crd && strcmp(mode, "DCR"))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "mode \"%s\" invalid (expected DCR or CRD)", mode);
    int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    if (c % (b * b) != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "channels %lld not divisible by blocksize^2 = %lld", (long long)c,
                            (long long)(b * b));
    int64_t oc = c / (b * b);
    int64_t od[4] = {n, oc, 0, 0};
    /* an empty input (c = 0) leaves h and w free: their products may overflow */
    if (__builtin_mul_overflow(h, b, &od[2]) || __builtin_mul_overflow(w, b, &od[3]))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "spatial size %lldx%lld times blocksize %lld overflows",
                            (long long)h, (long long)w, (long long)b);
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, 4, od, &y));
    d2s_state *st = nne_ctx_plan_state(ctx);
    if (!st) return NNE_OK;
    if (crd) *st = (d2s_state){.es = es, .v = {n, oc, b, b, h, w}, .perm = {0, 1, 4, 2, 5, 3}};
    else *st = (d2s_state){.es = es, .v = {n, b, b, oc, h, w}, .perm = {0, 3, 4, 1, 5, 2}};
    return NNE_OK;
}
NNE_OP_DEFINE(DepthToSpace, "", "DepthToSpace", .infer = depthtospace_run, .run = d2s_kernel,
              .state_size = sizeof(d2s_state));

static nne_status spacetodepth_run(nne_op_ctx *ctx) {
    const nne_tensor *x;
    size_t es;
    int64_t b;
    NNE_TRY(block_prologue(ctx, &x, &es, &b));
    int64_t n = x->dims[0], c = x->dims[1], h = x->dims[2], w = x->dims[3];
    if (h % b != 0 || w % b != 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "spatial size %lldx%lld not divisible by blocksize %lld", (long long)h,
                            (long long)w, (long long)b);
    int64_t od[4] = {n, 0, h / b, w / b};
    /* an empty input (h or w = 0) leaves c free: c * b^2 may overflow */
    if (__builtin_mul_overflow(c, b * b, &od[1]))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "channels %lld times blocksize^2 %lld overflows",
                            (long long)c, (long long)(b * b));
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, 4, od, &y));
    d2s_state *st = nne_ctx_plan_state(ctx);
    if (st) *st = (d2s_state){.es = es, .v = {n, c, h / b, b, w / b, b}, .perm = {0, 3, 5, 1, 2, 4}};
    return NNE_OK;
}
NNE_OP_DEFINE(SpaceToDepth, "", "SpaceToDepth", .infer = spacetodepth_run, .run = d2s_kernel,
              .state_size = sizeof(d2s_state));
