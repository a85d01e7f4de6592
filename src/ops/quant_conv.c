/*
 * quant_conv.c - ConvInteger (opset 10) and QLinearConv (opset 10).
 *
 * Both shift X and W by their zero points into int32 scratch and run the
 * int32 reference conv (kernels/ref/conv.c). ConvInteger writes the int32
 * accumulators; QLinearConv adds the int32 bias, requantizes with
 * x_scale * w_scale[m] / y_scale (round half to even), adds y_zero_point and
 * saturates to uint8/int8. W zero points and scales may be per output channel.
 *
 * QLinearConv (and ai.nnedge QLinearConv, the node the qdq_fusion pass makes:
 * the same inputs plus int attributes `qmin`/`qmax` narrowing the output
 * range, a fused Relu or Clip) runs the int8 kernels of kernels/qgemm.h when
 * it is 2-d and its scales, zero points and bias are constants: weights
 * packed once per plan (int16 pairs minus their zero point), requantization
 * multipliers per channel computed once, then per run an implicit-GEMM (or
 * 1x1 direct) int8 GEMM per group, or the depthwise kernel when every group
 * has one channel. Otherwise (or under NNE_FORCE_REFERENCE) the int32
 * reference below runs. Both give the same bytes (tests/unit/test_qgemm.c).
 */
#include "core/core.h"
#include "kernels/dispatch.h"
#include "kernels/qgemm.h"
#include "kernels/ref/conv.h"
#include "ops/nn_util.h"

#include <math.h>
#include <string.h>

static int is_q8(nne_dtype dt) { return dt == NNE_DTYPE_UINT8 || dt == NNE_DTYPE_INT8; }

/* Shared geometry: fills p and the output dims. */
static nne_status qconv_geom(nne_op_ctx *ctx, const nne_tensor *X, const nne_tensor *W,
                             nne_conv_desc *p, int64_t *od) {
    if (X->ndim < 3 || X->ndim - 2 > NNE_CONV_MAX_SP)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X has rank %d, expected 3..%d", X->ndim,
                            NNE_CONV_MAX_SP + 2);
    if (W->ndim != X->ndim)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "W has rank %d, expected %d like X", W->ndim,
                            X->ndim);
    int nsp = X->ndim - 2;
    int64_t C = X->dims[1], M = W->dims[0], G;
    NNE_TRY(nn_conv_group(ctx, C, M, W->dims[1], &G));
    nn_geom g;
    g.nsp = nsp;
    for (int i = 0; i < nsp; i++) g.in[i] = X->dims[2 + i];
    NNE_TRY(nn_geom_conv(ctx, &g, W->dims + 2, 0));
    memset(p, 0, sizeof *p);
    p->nsp = nsp;
    p->N = X->dims[0];
    p->C = C;
    p->M = M;
    p->G = G;
    od[0] = p->N;
    od[1] = M;
    for (int i = 0; i < nsp; i++) {
        p->in[i] = g.in[i];
        p->out[i] = g.out[i];
        p->k[i] = g.k[i];
        p->s[i] = g.s[i];
        p->d[i] = g.d[i];
        p->pb[i] = g.pb[i];
        od[2 + i] = g.out[i];
    }
    return NNE_OK;
}

/* Zero point / scale tensors: absent, a scalar, or (when per_ch > 0) one
 * value per channel. */
static nne_status check_param(nne_op_ctx *ctx, const nne_tensor *t, const char *name,
                              int64_t per_ch, nne_dtype want) {
    if (!t) return NNE_OK;
    int64_t n = nne_tensor_numel(t);
    if (want != NNE_DTYPE_UNDEFINED && t->dtype != want)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s is %s, expected %s", name,
                            nne_dtype_name(t->dtype), nne_dtype_name(want));
    if (n != 1 && !(per_ch > 0 && n == per_ch && t->ndim == 1))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s has %lld values, expected 1%s", name,
                            (long long)n, per_ch > 0 ? " or one per output channel" : "");
    return NNE_OK;
}

static int32_t q_get(const nne_tensor *t, int64_t i) {
    if (!t) return 0;
    int64_t n = nne_tensor_numel(t);
    return (int32_t)nne_tensor_get_i64(t, n == 1 ? 0 : i);
}

typedef struct qconv_buf {
    size_t xi, wi, bi, yi, ks;
    size_t xi_n, wi_n, bi_n, yi_n, ks_n;
} qconv_buf;

static void qconv_plan(nn_carve *c, qconv_buf *b, const nne_conv_desc *p, const nne_tensor *X,
                       const nne_tensor *W, int need_y, int need_b) {
    int64_t outsp = 1;
    for (int i = 0; i < p->nsp; i++) outsp *= p->out[i];
    b->xi_n = nne_size_elems(nne_tensor_numel(X), sizeof(int32_t));
    b->wi_n = nne_size_elems(nne_tensor_numel(W), sizeof(int32_t));
    b->bi_n = need_b ? nne_size_elems(p->M, sizeof(int32_t)) : 0;
    b->yi_n = need_y ? nne_size_elems(p->N * p->M * outsp, sizeof(int32_t)) : 0; /* = Y numel: fits */
    b->ks_n = nne_conv_scratch_i32(p);
    b->xi = nn_carve_add(c, b->xi_n);
    b->wi = nn_carve_add(c, b->wi_n);
    b->bi = nn_carve_add(c, b->bi_n);
    b->yi = nn_carve_add(c, b->yi_n);
    b->ks = nn_carve_add(c, b->ks_n);
}

/* Shift X and W by their zero points into int32. */
static void shift_inputs(const nne_conv_desc *p, const nne_tensor *X, const nne_tensor *xzp,
                         const nne_tensor *W, const nne_tensor *wzp, int32_t *xi, int32_t *wi) {
    int64_t nx = nne_tensor_numel(X), nw = nne_tensor_numel(W);
    int32_t xz = q_get(xzp, 0);
    if (X->dtype == NNE_DTYPE_UINT8) {
        const uint8_t *s = (const uint8_t *)X->data;
        for (int64_t i = 0; i < nx; i++) xi[i] = (int32_t)s[i] - xz;
    } else {
        const int8_t *s = (const int8_t *)X->data;
        for (int64_t i = 0; i < nx; i++) xi[i] = (int32_t)s[i] - xz;
    }
    int64_t per_m = p->M > 0 ? nw / p->M : 0;
    for (int64_t m = 0; m < p->M; m++) {
        int32_t wz = q_get(wzp, m);
        for (int64_t j = 0; j < per_m; j++) {
            int64_t i = m * per_m + j;
            int32_t v = W->dtype == NNE_DTYPE_UINT8 ? (int32_t)((const uint8_t *)W->data)[i]
                                                    : (int32_t)((const int8_t *)W->data)[i];
            wi[i] = v - wz;
        }
    }
}

/* ConvInteger / QLinearConv in phases. infer validates and declares the
 * output; when planning it keeps the geometry and scratch layout and, when
 * W and its zero point are initializers, shifts W by the zero point into
 * int32 once (through the weight cache) instead of on every run. */
/* The int8 kernel path, planned once (see the top of the file). */
typedef struct qconv_fast {
    const nne_qgemm_ops *ops; /* NULL: the reference path */
    int dw, pointwise, wino, x_u8, y_u8, y_i32;
    int32_t xz, yz;
    float lo, hi;
    int64_t Mg, Cg, K, insp, outsp;
    size_t pa_bytes;     /* packed A bytes per group */
    const void *pw;      /* packed A of all groups, or depthwise float taps (weight cache) */
    float *mult;         /* [M], owned */
    int32_t *bias;       /* [M] or NULL, owned */
} qconv_fast;

typedef struct qconv_state {
    nne_conv_desc p;
    qconv_buf b;
    nne_dtype ydt;
    const int32_t *wi; /* W - w_zero_point, precomputed; NULL: per run */
    int32_t qmin, qmax; /* output range (the dtype's, or ai.nnedge's qmin/qmax) */
    qconv_fast f;
} qconv_state;

typedef struct qconv_pack {
    const nne_conv_desc *p;
    const nne_tensor *W, *wzp;
} qconv_pack;

static void qconv_fill(void *user, void *buf) {
    const qconv_pack *q = user;
    const nne_conv_desc *p = q->p;
    const nne_tensor *W = q->W;
    int32_t *wi = buf;
    int64_t nw = nne_tensor_numel(W), per_m = p->M > 0 ? nw / p->M : 0;
    for (int64_t m = 0; m < p->M; m++) {
        int32_t wz = q_get(q->wzp, m);
        for (int64_t j = 0; j < per_m; j++) {
            int64_t i = m * per_m + j;
            wi[i] = (W->dtype == NNE_DTYPE_UINT8 ? (int32_t)((const uint8_t *)W->data)[i]
                                                 : (int32_t)((const int8_t *)W->data)[i]) - wz;
        }
    }
}

/* Fill the state (planning only). */
static nne_status qconv_state_fill(nne_op_ctx *ctx, const nne_conv_desc *p, const qconv_buf *b, nne_dtype ydt,
                                   int wi_in, int wzp_in) {
    qconv_state *st = nne_ctx_plan_state(ctx);
    if (!st) return NNE_OK;
    *st = (qconv_state){.p = *p, .b = *b, .ydt = ydt};
    const nne_tensor *W = nne_ctx_input(ctx, wi_in), *wzp = nne_ctx_input(ctx, wzp_in);
    if (nne_ctx_input_is_initializer(ctx, wi_in) && (!wzp || nne_ctx_input_is_initializer(ctx, wzp_in)) &&
        nne_tensor_numel(W) > 0) {
        /* the tag carries the zero points, so one W with other zero points packs apart */
        uint64_t tag = 0x71636f6e76693332ull; /* "qconvi32" */
        for (int64_t i = 0; wzp && i < nne_tensor_numel(wzp); i++)
            tag = (tag ^ (uint64_t)(nne_tensor_get_i64(wzp, i) & 0xff)) * 0x100000001b3ull;
        qconv_pack q = {p, W, wzp};
        st->wi = nne_ctx_packed_weight(ctx, W->data, tag, b->wi_n, qconv_fill, &q);
        if (!st->wi) return NNE_ERR_OUT_OF_MEMORY;
    }
    return NNE_OK;
}

/* X shifted by its zero point into xi; W likewise into wi unless packed.
 * Returns the int32 W. */
static const int32_t *qconv_shift(const qconv_state *st, const nne_tensor *X, const nne_tensor *xzp,
                                  const nne_tensor *W, const nne_tensor *wzp, void *base) {
    int32_t *xi = (int32_t *)((char *)base + st->b.xi), *wi = (int32_t *)((char *)base + st->b.wi);
    if (!st->wi) {
        shift_inputs(&st->p, X, xzp, W, wzp, xi, wi);
        return wi;
    }
    int64_t nx = nne_tensor_numel(X);
    int32_t xz = q_get(xzp, 0);
    if (X->dtype == NNE_DTYPE_UINT8) {
        const uint8_t *s = (const uint8_t *)X->data;
        for (int64_t i = 0; i < nx; i++) xi[i] = (int32_t)s[i] - xz;
    } else {
        const int8_t *s = (const int8_t *)X->data;
        for (int64_t i = 0; i < nx; i++) xi[i] = (int32_t)s[i] - xz;
    }
    return st->wi;
}

/* 1 when input i is a constant with data at plan time (or absent). */
static int const_or_absent(nne_op_ctx *ctx, int i) {
    const nne_tensor *t = nne_ctx_input(ctx, i);
    return !t || (nne_ctx_input_is_const(ctx, i) && t->data);
}

typedef struct qfast_pack {
    const nne_qgemm_ops *ops;
    const nne_conv_desc *p;
    const nne_tensor *W;
    const int32_t *wz; /* [M] */
    int64_t Mg, K;
    size_t pa_bytes;
    int dw, wino;
} qfast_pack;

static void qfast_fill(void *user, void *buf) {
    const qfast_pack *q = user;
    const nne_tensor *W = q->W;
    int w_u8 = W->dtype == NNE_DTYPE_UINT8;
    if (q->wino) {
        q->ops->wino_pack_a(q->p->M, q->p->C, W->data, w_u8, q->wz, buf);
        return;
    }
    if (q->dw) {
        float *o = buf;
        for (int64_t m = 0; m < q->p->M; m++)
            for (int64_t t = 0; t < q->K; t++) {
                int64_t i = m * q->K + t;
                int32_t v = w_u8 ? (int32_t)((const uint8_t *)W->data)[i] : (int32_t)((const int8_t *)W->data)[i];
                o[i] = (float)(v - q->wz[m]);
            }
        return;
    }
    for (int64_t g = 0; g < q->p->G; g++)
        q->ops->pack_a(q->Mg, q->K, (const char *)W->data + g * q->Mg * q->K, w_u8, q->K, 1, q->wz + g * q->Mg, 1,
                       (char *)buf + (size_t)g * q->pa_bytes);
}

/* Output range [qmin, qmax]: the dtype's, narrowed by ai.nnedge's qmin/qmax. */
static nne_status qout_range(nne_op_ctx *ctx, nne_dtype ydt, int32_t *qmin, int32_t *qmax) {
    *qmin = ydt == NNE_DTYPE_UINT8 ? 0 : -128;
    *qmax = ydt == NNE_DTYPE_UINT8 ? 255 : 127;
    int64_t a = nne_attr_i(ctx, "qmin", *qmin), b = nne_attr_i(ctx, "qmax", *qmax);
    if (a < *qmin) a = *qmin;
    if (b > *qmax) b = *qmax;
    if (a > b) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "qmin %lld > qmax %lld", (long long)a, (long long)b);
    *qmin = (int32_t)a;
    *qmax = (int32_t)b;
    return NNE_OK;
}

/* The GEMM family for these weights (M rows of K, zero point per row or
 * one): the 8-bit variant (qgemm.h) when every weight minus its zero point
 * is in its range (the 7-bit weights of reduce-range quantization on
 * AVX2), else the exact int16-pair one. */
static const nne_qgemm_ops *qfast_gemm_ops(const nne_qgemm_ops *ops, const nne_tensor *W, const nne_tensor *wzp,
                                           int64_t M, int64_t K) {
    const nne_qgemm_ops *o8 = nne_qgemm8_best();
    if (!o8) return ops;
    int w_u8 = W->dtype == NNE_DTYPE_UINT8;
    for (int64_t m = 0; m < M; m++) {
        int32_t z = q_get(wzp, m);
        if (!nne_qgemm_fits(o8, 1, K, (const char *)W->data + m * K, w_u8, K, 1, &z, 0)) return ops;
    }
    return o8;
}

/* Decide whether the int8 kernels run this node: fills f->ops (else NULL)
 * and the geometry; with `plan`, also the multipliers, bias and packed
 * weights. Called identically in shape and plan mode. */
static nne_status qfast_decide(nne_op_ctx *ctx, const nne_conv_desc *p, nne_dtype ydt, qconv_fast *f, int plan,
                                int ci) {
    memset(f, 0, sizeof *f);
    const nne_qgemm_ops *ops = nne_qgemm_best();
    int wi = ci ? 1 : 3, last = ci ? 3 : 8; /* ConvInteger: x, w, x_zero_point, w_zero_point */
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, wi);
    if (!ops || p->nsp != 2 || !nne_ctx_input_is_initializer(ctx, wi) || !W->data) return NNE_OK;
    for (int i = 1; i <= last; i++)
        if (i != wi && !const_or_absent(ctx, i)) return NNE_OK;
    int64_t Cg = p->C / p->G, Mg = p->M / p->G, taps = p->k[0] * p->k[1], K = Cg * taps;
    if (K <= 0 || K >= 33025 || Mg <= 0) return NNE_OK;
    f->y_i32 = ci;
    f->dw = !ci && Cg == 1 && Mg == 1 && nne_qdw_ok(taps);
    f->pointwise = taps == 1 && p->s[0] == 1 && p->s[1] == 1 && p->pb[0] == 0 && p->pb[1] == 0 &&
                   p->out[0] == p->in[0] && p->out[1] == p->in[1];
    f->x_u8 = X->dtype == NNE_DTYPE_UINT8;
    f->y_u8 = ydt == NNE_DTYPE_UINT8;
    f->Mg = Mg;
    f->Cg = Cg;
    f->K = f->dw ? taps : K;
    f->insp = p->in[0] * p->in[1];
    f->outsp = p->out[0] * p->out[1];
    /* Winograd F(2x2, 3x3) (qgemm.h) for 3 x 3, stride 1 convolutions with
     * enough channels both ways to pay for the transforms, where exact */
    if (!ci && !f->dw && p->G == 1 && p->k[0] == 3 && p->k[1] == 3 && p->s[0] == 1 && p->s[1] == 1 &&
        p->d[0] == 1 && p->d[1] == 1 && p->C >= 32 && p->M >= 16 && ops->wino_run) {
        const nne_tensor *xzp = nne_ctx_input(ctx, 2), *wzp = nne_ctx_input(ctx, 5);
        int32_t xz = q_get(xzp, 0), xr = f->x_u8 ? (xz > 255 - xz ? xz : 255 - xz) : (xz + 128 > 127 - xz ? xz + 128 : 127 - xz);
        int32_t *wz = nne_malloc((size_t)p->M * sizeof(int32_t));
        if (!wz) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
        for (int64_t m = 0; m < p->M; m++) wz[m] = q_get(wzp, m);
        f->wino = nne_qwino_fits(p->M, p->C, W->data, W->dtype == NNE_DTYPE_UINT8, wz, xr);
        nne_free(wz);
    }
    if (!f->dw && !f->wino) ops = qfast_gemm_ops(ops, W, nne_ctx_input(ctx, ci ? 3 : 5), p->M, Cg * taps);
    f->pa_bytes = f->wino ? ops->wino_a_bytes(p->M, p->C) : ops->packed_a_bytes(Mg, K);
    f->ops = ops;
    if (!plan) return NNE_OK;
    if (ci) {
        const nne_tensor *xzp = nne_ctx_input(ctx, 2), *wzp = nne_ctx_input(ctx, 3);
        f->xz = q_get(xzp, 0);
        int32_t *wz = nne_malloc((size_t)p->M * sizeof(int32_t));
        if (!wz) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
        uint64_t tag = 0x7138706b61303032ull ^ (uint64_t)(uintptr_t)ops; /* "q8pka002" */
        for (int64_t m = 0; m < p->M; m++) {
            wz[m] = q_get(wzp, m);
            tag = (tag ^ (uint64_t)(wz[m] & 0xff)) * 0x100000001b3ull;
        }
        qfast_pack q = {ops, p, W, wz, Mg, K, f->pa_bytes, 0, 0};
        f->pw = nne_ctx_packed_weight(ctx, W->data, tag, nne_size_mul(f->pa_bytes, (size_t)p->G), qfast_fill, &q);
        nne_free(wz);
        if (!f->pw) return NNE_ERR_OUT_OF_MEMORY;
        return NNE_OK;
    }

    const nne_tensor *xs = nne_ctx_input(ctx, 1), *xzp = nne_ctx_input(ctx, 2), *ws = nne_ctx_input(ctx, 4);
    const nne_tensor *wzp = nne_ctx_input(ctx, 5), *ys = nne_ctx_input(ctx, 6), *yzp = nne_ctx_input(ctx, 7);
    const nne_tensor *B = nne_ctx_input(ctx, 8);
    int32_t qmin, qmax;
    NNE_TRY(qout_range(ctx, ydt, &qmin, &qmax));
    f->xz = q_get(xzp, 0);
    f->yz = q_get(yzp, 0);
    f->lo = (float)(qmin - f->yz);
    f->hi = (float)(qmax - f->yz);
    f->mult = nne_malloc((size_t)p->M * sizeof(float));
    int32_t *wz = nne_malloc((size_t)p->M * sizeof(int32_t));
    if (B) f->bias = nne_malloc((size_t)p->M * sizeof(int32_t));
    if (!f->mult || !wz || (B && !f->bias)) {
        nne_free(wz);
        return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    }
    double xsc = nne_tensor_get_f64(xs, 0), ysc = nne_tensor_get_f64(ys, 0);
    int64_t nws = nne_tensor_numel(ws);
    for (int64_t m = 0; m < p->M; m++) {
        f->mult[m] = (float)(xsc * nne_tensor_get_f64(ws, nws == 1 ? 0 : m) / ysc);
        wz[m] = q_get(wzp, m);
        if (B) f->bias[m] = (int32_t)nne_tensor_get_i64(B, m);
    }
    uint64_t tag = 0x7138706b61303031ull ^ (uint64_t)(uintptr_t)ops ^ (uint64_t)f->dw ^ ((uint64_t)f->wino << 1); /* "q8pka001" */
    for (int64_t m = 0; wzp && m < nne_tensor_numel(wzp); m++)
        tag = (tag ^ (uint64_t)(wz[m] & 0xff)) * 0x100000001b3ull;
    qfast_pack q = {ops, p, W, wz, Mg, K, f->pa_bytes, f->dw, f->wino};
    size_t bytes = f->dw ? nne_size_elems(p->M * taps, sizeof(float)) : nne_size_mul(f->pa_bytes, (size_t)p->G);
    f->pw = nne_ctx_packed_weight(ctx, W->data, tag, bytes, qfast_fill, &q);
    nne_free(wz);
    if (!f->pw) return NNE_ERR_OUT_OF_MEMORY;
    return NNE_OK;
}

static size_t qfast_scratch(const qconv_fast *f, const nne_conv_desc *p) {
    if (f->dw) {
        nne_conv_desc one = *p;
        one.N = 1;
        return f->ops->dw_scratch(&one);
    }
    if (f->wino) {
        nne_conv_desc one = *p;
        one.N = 1;
        return f->ops->wino_scratch(&one);
    }
    return f->ops->scratch(f->Mg, f->outsp, f->K, f->pointwise ? NULL : p);
}

static void qfast_state_free(void *state) {
    qconv_state *st = state;
    nne_free(st->f.mult);
    nne_free(st->f.bias);
    st->f.mult = NULL;
    st->f.bias = NULL;
}

static void qfast_run(const qconv_state *st, const nne_tensor *X, nne_tensor *Y, void *scratch, nne_threadpool *pool) {
    const qconv_fast *f = &st->f;
    const nne_conv_desc *p = &st->p;
    for (int64_t n = 0; n < p->N; n++) {
        const char *xn = (const char *)X->data + n * p->C * f->insp;
        size_t ye = f->y_i32 ? sizeof(int32_t) : 1;
        char *yn = (char *)Y->data + (size_t)(n * p->M * f->outsp) * ye;
        if (f->dw) {
            nne_conv_desc one = *p;
            one.N = 1;
            nne_qreq req = {f->bias, f->mult, f->yz, f->lo, f->hi, f->y_u8, yn, f->outsp, 1, 0};
            f->ops->dwconv(&one, xn, f->x_u8, f->xz, f->pw, &req, scratch, pool);
            continue;
        }
        if (f->wino) {
            nne_conv_desc one = *p;
            one.N = 1;
            nne_qreq req = {f->bias, f->mult, f->yz, f->lo, f->hi, f->y_u8, yn, f->outsp, 1, 0};
            f->ops->wino_run(&one, xn, f->x_u8, f->xz, f->pw, &req, scratch, pool);
            continue;
        }
        for (int64_t g = 0; g < p->G; g++) {
            nne_qsrc src = {xn + g * f->Cg * f->insp, f->x_u8, f->xz, f->insp, 1, f->pointwise ? NULL : p, f->insp,
                            NULL, 0, 0};
            nne_qreq req = {f->bias ? f->bias + g * f->Mg : NULL, f->mult ? f->mult + g * f->Mg : NULL, f->yz, f->lo,
                            f->hi, f->y_u8, yn + (size_t)(g * f->Mg * f->outsp) * ye, f->outsp, 1, f->y_i32};
            nne_qgemm_args ga = {f->Mg, f->outsp, f->K, (const char *)f->pw + (size_t)g * f->pa_bytes, &src, &req};
            f->ops->run(&ga, scratch, pool);
        }
    }
}

static nne_status convinteger_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, 1);
    const nne_tensor *xzp = nne_ctx_input(ctx, 2), *wzp = nne_ctx_input(ctx, 3);
    if (!X || !W) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs x and w are required");
    if (!is_q8(X->dtype) || !is_q8(W->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s / %s not supported (uint8/int8)",
                            nne_dtype_name(X->dtype), nne_dtype_name(W->dtype));
    nne_conv_desc p;
    int64_t od[NNE_MAX_DIMS];
    NNE_TRY(qconv_geom(ctx, X, W, &p, od));
    NNE_TRY(check_param(ctx, xzp, "x_zero_point", 0, X->dtype));
    NNE_TRY(check_param(ctx, wzp, "w_zero_point", p.M, W->dtype));
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_INT32, X->ndim, od, &Y));
    qconv_state *st = nne_ctx_plan_state(ctx);
    qconv_fast f;
    NNE_TRY(qfast_decide(ctx, &p, NNE_DTYPE_INT32, st ? &st->f : &f, 0, 1));
    if ((st ? &st->f : &f)->ops) { /* the int8 kernels, int32 output */
        nne_ctx_scratch(ctx, qfast_scratch(st ? &st->f : &f, &p));
        if (!st) return NNE_OK;
        st->p = p;
        st->ydt = NNE_DTYPE_INT32;
        return qfast_decide(ctx, &p, NNE_DTYPE_INT32, &st->f, 1, 1);
    }
    nn_carve c = {0};
    qconv_buf b;
    qconv_plan(&c, &b, &p, X, W, 0, 0);
    nn_scratch(ctx, &c);
    return qconv_state_fill(ctx, &p, &b, NNE_DTYPE_INT32, 1, 3);
}

static nne_status convinteger_kernel(const void *state, const nne_kernel_args *a) {
    const qconv_state *st = state;
    const nne_tensor *X = a->in[0], *W = a->in[1];
    const nne_tensor *xzp = a->n_in > 2 ? a->in[2] : NULL, *wzp = a->n_in > 3 ? a->in[3] : NULL;
    nne_tensor *Y = a->out[0];
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    if (st->f.ops) {
        qfast_run(st, X, Y, a->scratch, nne_ctx_pool(a->ctx));
        return NNE_OK;
    }
    void *base = a->scratch;
    const int32_t *wi = qconv_shift(st, X, xzp, W, wzp, base);
    nne_conv_i32(&st->p, (int32_t *)((char *)base + st->b.xi), wi, NULL, (int32_t *)Y->data,
                 (char *)base + st->b.ks);
    return NNE_OK;
}

static nne_status qlinearconv_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *xs = nne_ctx_input(ctx, 1);
    const nne_tensor *xzp = nne_ctx_input(ctx, 2), *W = nne_ctx_input(ctx, 3);
    const nne_tensor *ws = nne_ctx_input(ctx, 4), *wzp = nne_ctx_input(ctx, 5);
    const nne_tensor *ys = nne_ctx_input(ctx, 6), *yzp = nne_ctx_input(ctx, 7);
    const nne_tensor *B = nne_ctx_input(ctx, 8);
    if (!X || !xs || !W || !ws || !ys)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "inputs x, x_scale, w, w_scale and y_scale are required");
    if (!is_q8(X->dtype) || !is_q8(W->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s / %s not supported (uint8/int8)",
                            nne_dtype_name(X->dtype), nne_dtype_name(W->dtype));
    nne_conv_desc p;
    int64_t od[NNE_MAX_DIMS];
    NNE_TRY(qconv_geom(ctx, X, W, &p, od));
    NNE_TRY(check_param(ctx, xzp, "x_zero_point", 0, X->dtype));
    NNE_TRY(check_param(ctx, wzp, "w_zero_point", p.M, W->dtype));
    NNE_TRY(check_param(ctx, xs, "x_scale", 0, NNE_DTYPE_UNDEFINED));
    NNE_TRY(check_param(ctx, ws, "w_scale", p.M, NNE_DTYPE_UNDEFINED));
    NNE_TRY(check_param(ctx, ys, "y_scale", 0, NNE_DTYPE_UNDEFINED));
    nne_dtype ydt = yzp ? yzp->dtype : X->dtype;
    if (!is_q8(ydt))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "y_zero_point dtype %s not supported",
                            nne_dtype_name(ydt));
    NNE_TRY(check_param(ctx, yzp, "y_zero_point", 0, ydt));
    if (B && (B->dtype != NNE_DTYPE_INT32 || nne_tensor_numel(B) != p.M))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "B must be int32 of shape [%lld]",
                            (long long)p.M);
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, ydt, X->ndim, od, &Y));
    int32_t qmin, qmax;
    NNE_TRY(qout_range(ctx, ydt, &qmin, &qmax));
    qconv_state *st = nne_ctx_plan_state(ctx);
    qconv_fast f;
    NNE_TRY(qfast_decide(ctx, &p, ydt, st ? &st->f : &f, 0, 0));
    if ((st ? &st->f : &f)->ops) {
        nne_ctx_scratch(ctx, qfast_scratch(st ? &st->f : &f, &p));
        if (!st) return NNE_OK;
        st->p = p;
        st->ydt = ydt;
        return qfast_decide(ctx, &p, ydt, &st->f, 1, 0);
    }
    nn_carve c = {0};
    qconv_buf b;
    qconv_plan(&c, &b, &p, X, W, 1, 0);
    nn_scratch(ctx, &c);
    NNE_TRY(qconv_state_fill(ctx, &p, &b, ydt, 3, 5));
    if (st) {
        st->qmin = qmin;
        st->qmax = qmax;
    }
    return NNE_OK;
}

static nne_status qlinearconv_kernel(const void *state, const nne_kernel_args *a) {
    const qconv_state *st = state;
    const nne_conv_desc p = st->p;
    nne_dtype ydt = st->ydt;
    const nne_tensor *X = a->in[0], *xs = a->in[1], *xzp = a->in[2], *W = a->in[3];
    const nne_tensor *ws = a->in[4], *wzp = a->n_in > 5 ? a->in[5] : NULL, *ys = a->in[6];
    const nne_tensor *yzp = a->n_in > 7 ? a->in[7] : NULL, *B = a->n_in > 8 ? a->in[8] : NULL;
    nne_tensor *Y = a->out[0];
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    if (st->f.ops) {
        qfast_run(st, X, Y, a->scratch, nne_ctx_pool(a->ctx));
        return NNE_OK;
    }
    void *base = a->scratch;
    int32_t *yi = (int32_t *)((char *)base + st->b.yi);
    const int32_t *wi = qconv_shift(st, X, xzp, W, wzp, base);
    nne_conv_i32(&p, (int32_t *)((char *)base + st->b.xi), wi, B ? (const int32_t *)B->data : NULL, yi,
                 (char *)base + st->b.ks);

    int64_t outsp = nne_tensor_numel(Y) / (p.N * p.M);
    double xsc = nne_tensor_get_f64(xs, 0), ysc = nne_tensor_get_f64(ys, 0);
    double yz = yzp ? (double)nne_tensor_get_i64(yzp, 0) : 0.0;
    double lo = st->qmin, hi = st->qmax;
    int64_t nws = nne_tensor_numel(ws);
    for (int64_t n = 0; n < p.N; n++)
        for (int64_t m = 0; m < p.M; m++) {
            float mult = (float)(xsc * nne_tensor_get_f64(ws, nws == 1 ? 0 : m) / ysc);
            int64_t base_i = (n * p.M + m) * outsp;
            for (int64_t i = 0; i < outsp; i++) {
                double v = nearbyint((double)((float)yi[base_i + i] * mult)) + yz;
                if (!(v >= lo)) v = lo; /* NaN (e.g. a zero output scale) saturates low */
                if (v > hi) v = hi;
                if (ydt == NNE_DTYPE_UINT8) ((uint8_t *)Y->data)[base_i + i] = (uint8_t)v;
                else ((int8_t *)Y->data)[base_i + i] = (int8_t)v;
            }
        }
    return NNE_OK;
}

static int64_t convinteger_macs(nne_op_ctx *ctx) { return nne_macs_conv(ctx, 1); }
static int64_t qlinearconv_macs(nne_op_ctx *ctx) { return nne_macs_conv(ctx, 3); }
NNE_OP_DEFINE(ConvInteger, "", "ConvInteger", .infer = convinteger_run, .run = convinteger_kernel,
              .state_free = qfast_state_free, .state_size = sizeof(qconv_state), .macs = convinteger_macs);
NNE_OP_DEFINE(QLinearConv, "", "QLinearConv", .infer = qlinearconv_run, .run = qlinearconv_kernel,
              .state_free = qfast_state_free, .state_size = sizeof(qconv_state), .macs = qlinearconv_macs);
/* The qdq_fusion pass's form: QLinearConv plus qmin/qmax (a fused Relu/Clip). */
NNE_OP_DEFINE(QLinearConvNne, "ai.nnedge", "QLinearConv", .infer = qlinearconv_run, .run = qlinearconv_kernel,
              .state_free = qfast_state_free, .state_size = sizeof(qconv_state), .macs = qlinearconv_macs);
