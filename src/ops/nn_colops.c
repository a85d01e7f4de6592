/*
 * nn_colops.c - column-based ops: Col2Im (18), DeformConv (19, 22; N-d,
 * offset groups, optional mask and bias) and CausalConvWithState (27).
 *
 * Col2Im is the col2im kernel of kernels/ref/conv.c on a double copy.
 * DeformConv builds, per batch item, a column matrix whose entry for
 * (channel, kernel tap, output position) is the input sampled (N-linear,
 * zero outside) at the tap's position plus its learned offset, times the
 * mask; the output is then W_g * col_g per group, as in Conv.
 * CausalConvWithState is a depthwise 1-d convolution over
 * concat(past_state or zeros, input) with an optional fused SiLU.
 */
#include "kernels/ref/conv.h"
#include "kernels/ref/gemm.h"
#include "ops/nn_util.h"

#include <math.h>
#include <string.h>

/* ---- Col2Im ---- */

/* Col2Im: image and block shapes are inputs (NNE_DYNAMIC unless constant); the state keeps the geometry */
typedef struct col2im_state {
    int n;
    int64_t taps;
    int64_t L;
    int64_t C;
    nne_col_geo g;
    size_t xo;
    size_t yo;
} col2im_state;

static nne_status col2im_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *IS = nne_ctx_input(ctx, 1);
    const nne_tensor *BS = nne_ctx_input(ctx, 2);
    if (!X || !IS || !BS)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "inputs input, image_shape and block_shape are required");
    if (!nn_is_float_dtype(X->dtype) && !nne_dtype_is_int(X->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    if (X->ndim != 3)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input has rank %d, expected 3", X->ndim);
    NNE_TRY(nne_ctx_need_data(ctx, IS));
    NNE_TRY(nne_ctx_need_data(ctx, BS));
    int n = (int)nne_tensor_numel(IS);
    if (n < 1 || n > NNE_CONV_MAX_SP || nne_tensor_numel(BS) != n)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "image_shape and block_shape must have the same length 1..%d",
                            NNE_CONV_MAX_SP);
    nne_col_geo g;
    memset(&g, 0, sizeof g);
    g.nsp = n;
    int64_t pads[2 * NNE_CONV_MAX_SP];
    NNE_TRY(nn_attr_ints_n(ctx, "strides", n, 1, 1, g.s));
    NNE_TRY(nn_attr_ints_n(ctx, "dilations", n, 1, 1, g.d));
    NNE_TRY(nn_attr_ints_n(ctx, "pads", 2 * n, 0, 0, pads));
    int64_t taps = 1, L = 1;
    for (int i = 0; i < n; i++) {
        g.nimg[i] = nne_tensor_get_i64(IS, i);
        g.k[i] = nne_tensor_get_i64(BS, i);
        g.pb[i] = pads[i];
        if (g.nimg[i] < 0 || g.nimg[i] > NN_ATTR_MAX || g.k[i] < 1 || g.k[i] > NN_ATTR_MAX)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "image_shape[%d]=%lld / block_shape[%d]=%lld out of range", i,
                                (long long)g.nimg[i], i, (long long)g.k[i]);
        int64_t span = g.nimg[i] + pads[i] + pads[i + n] - (g.d[i] * (g.k[i] - 1) + 1);
        g.ncol[i] = span < 0 ? 0 : span / g.s[i] + 1;
        taps *= g.k[i];
        L *= g.ncol[i];
    }
    if (X->dims[1] % taps != 0 || X->dims[2] != L)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "input shape (%lld, %lld, %lld) does not match %lld taps x %lld blocks",
                            (long long)X->dims[0], (long long)X->dims[1], (long long)X->dims[2],
                            (long long)taps, (long long)L);
    int64_t C = X->dims[1] / taps;
    int64_t od[NNE_MAX_DIMS];
    od[0] = X->dims[0];
    od[1] = C;
    for (int i = 0; i < n; i++) od[2 + i] = g.nimg[i];
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, n + 2, od, &Y));
    nn_carve c = {0};
    size_t xo = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(X), sizeof(double)));
    size_t yo = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(Y), sizeof(double)));
    nn_scratch(ctx, &c);
    col2im_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->n = n;
        st->taps = taps;
        st->L = L;
        st->C = C;
        st->g = g;
        st->xo = xo;
        st->yo = yo;
    }
    return NNE_OK;
}

static nne_status col2im_kernel(const void *state, const nne_kernel_args *a) {
    const col2im_state *st = state;
    const nne_tensor *X = a->in[0];
    nne_tensor *Y = a->out[0];
    int n = st->n;
    int64_t taps = st->taps;
    int64_t L = st->L;
    int64_t C = st->C;
    nne_col_geo g = st->g;
    size_t xo = st->xo;
    size_t yo = st->yo;
    void *base = a->scratch;
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    double *xd = (double *)((char *)base + xo), *yd = (double *)((char *)base + yo);
    nne_load_f64(X, 0, 1, nne_tensor_numel(X), xd);
    int64_t ny = nne_tensor_numel(Y);
    for (int64_t i = 0; i < ny; i++) yd[i] = 0.0;
    int64_t isz = nn_prod(g.nimg, n);
    for (int64_t b = 0; b < X->dims[0]; b++)
        nne_col2im_f64(&g, xd + b * C * taps * L, C, 0, g.ncol[0], yd + b * C * isz);
    nne_store_f64(Y, 0, 1, ny, yd, NNE_CVT_RNE);
    return NNE_OK;
}

/* ---- DeformConv ---- */

/* N-linear sample of plane (sizes in[]) at real coordinates pos[], zero
 * outside. */
static float sample_nlinear(const float *plane, int n, const int64_t *in, const int64_t *stride,
                            const double *pos) {
    int64_t lo[NNE_CONV_MAX_SP];
    double fr[NNE_CONV_MAX_SP];
    for (int d = 0; d < n; d++) {
        if (!(pos[d] > -1.0 && pos[d] < (double)in[d])) return 0.0f; /* also NaN */
        double f = floor(pos[d]);
        lo[d] = (int64_t)f;
        fr[d] = pos[d] - f;
    }
    double acc = 0.0;
    for (int corner = 0; corner < (1 << n); corner++) {
        double w = 1.0;
        int64_t off = 0;
        int ok = 1;
        for (int d = 0; d < n; d++) {
            int hi = (corner >> (n - 1 - d)) & 1;
            int64_t i = lo[d] + hi;
            if (i < 0 || i >= in[d]) {
                ok = 0;
                break;
            }
            w *= hi ? fr[d] : 1.0 - fr[d];
            off += i * stride[d];
        }
        if (ok && w != 0.0) acc += w * plane[off];
    }
    return (float)acc;
}

/* DeformConv: geometry and scratch layout computed once per plan */
typedef struct deformconv_state {
    int nsp;
    int64_t N;
    int64_t C;
    int64_t M;
    int64_t G;
    int64_t OG;
    nn_geom g;
    int64_t taps;
    int64_t outsp;
    int64_t insp;
    size_t xo;
    size_t wo;
    size_t oo;
    size_t mo;
    size_t bo;
    size_t yo;
    size_t co;
    size_t po;
} deformconv_state;

static nne_status deformconv_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, 1);
    const nne_tensor *OF = nne_ctx_input(ctx, 2), *B = nne_ctx_input(ctx, 3);
    const nne_tensor *MK = nne_ctx_input(ctx, 4);
    if (!X || !W || !OF)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs X, W and offset are required");
    if (!nn_is_float_dtype(X->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    if (X->ndim < 3 || X->ndim - 2 > NNE_CONV_MAX_SP || W->ndim != X->ndim)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X and W must have the same rank 3..%d",
                            NNE_CONV_MAX_SP + 2);
    int nsp = X->ndim - 2;
    int64_t N = X->dims[0], C = X->dims[1], M = W->dims[0];
    int64_t G = nne_attr_i(ctx, "group", 1), OG = nne_attr_i(ctx, "offset_group", 1);
    int64_t wc; /* W.shape[1] * group, which a hostile group overflows */
    if (G < 1 || OG < 1 || C % G || M % G || C % OG || __builtin_mul_overflow(W->dims[1], G, &wc) || wc != C)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "group=%lld / offset_group=%lld do not fit C=%lld, oC=%lld, "
                            "W.shape[1]=%lld",
                            (long long)G, (long long)OG, (long long)C, (long long)M,
                            (long long)W->dims[1]);
    nn_geom g;
    g.nsp = nsp;
    for (int i = 0; i < nsp; i++) g.in[i] = X->dims[2 + i];
    NNE_TRY(nn_geom_conv(ctx, &g, W->dims + 2, 0));
    int64_t taps = nn_prod(g.k, nsp), outsp = nn_prod(g.out, nsp), insp = nn_prod(g.in, nsp);
    /* offset: (N, OG*taps*nsp, out...), mask: (N, OG*taps, out...); a hostile
     * offset_group (with C = 0 any value divides C) must not overflow these */
    int64_t ogt, ogtn, ofn, mkn;
    if (__builtin_mul_overflow(OG, taps, &ogt) || __builtin_mul_overflow(ogt, (int64_t)nsp, &ogtn) ||
        __builtin_mul_overflow(N, ogtn, &ofn) || __builtin_mul_overflow(ofn, outsp, &ofn) ||
        __builtin_mul_overflow(N, ogt, &mkn) || __builtin_mul_overflow(mkn, outsp, &mkn))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "offset_group=%lld is too large", (long long)OG);
    if (OF->ndim != X->ndim || OF->dims[0] != N || OF->dims[1] != ogtn || nne_tensor_numel(OF) != ofn)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "offset must have shape (N, offset_group*%lld, output spatial)",
                            (long long)(taps * nsp));
    if (MK && (MK->dims[0] != N || nne_tensor_numel(MK) != mkn))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "mask must have shape (N, offset_group*%lld, output spatial)",
                            (long long)taps);
    if (B && nne_tensor_numel(B) != M)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "B must have %lld values", (long long)M);
    int64_t od[NNE_MAX_DIMS];
    od[0] = N;
    od[1] = M;
    for (int i = 0; i < nsp; i++) od[2 + i] = g.out[i];
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, X->ndim, od, &Y));
    nn_carve c = {0};
    size_t xo = nn_carve_add(&c, nn_f32_copy_bytes(X));
    size_t wo = nn_carve_add(&c, nn_f32_copy_bytes(W));
    size_t oo = nn_carve_add(&c, nn_f32_copy_bytes(OF));
    size_t mo = nn_carve_add(&c, MK ? nn_f32_copy_bytes(MK) : 0);
    size_t bo = nn_carve_add(&c, B ? nn_f32_copy_bytes(B) : 0);
    size_t yo = nn_carve_add(&c, nn_f32_copy_bytes(Y));
    size_t co = nn_carve_add(&c, nne_size_mul(nne_size_mul(nne_size_elems(C, sizeof(float)), (size_t)taps), (size_t)outsp));
    size_t po = nn_carve_add(&c, nne_gemm_f32_scratch(M / G, outsp, C / G * taps));
    nn_scratch(ctx, &c);
    deformconv_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->nsp = nsp;
        st->N = N;
        st->C = C;
        st->M = M;
        st->G = G;
        st->OG = OG;
        st->g = g;
        st->taps = taps;
        st->outsp = outsp;
        st->insp = insp;
        st->xo = xo;
        st->wo = wo;
        st->oo = oo;
        st->mo = mo;
        st->bo = bo;
        st->yo = yo;
        st->co = co;
        st->po = po;
    }
    return NNE_OK;
}

static nne_status deformconv_kernel(const void *state, const nne_kernel_args *a) {
    const deformconv_state *st = state;
    const nne_tensor *X = a->in[0];
    const nne_tensor *W = a->n_in > 1 ? a->in[1] : NULL;
    const nne_tensor *OF = a->n_in > 2 ? a->in[2] : NULL;
    const nne_tensor *B = a->n_in > 3 ? a->in[3] : NULL;
    const nne_tensor *MK = a->n_in > 4 ? a->in[4] : NULL;
    nne_tensor *Y = a->out[0];
    int nsp = st->nsp;
    int64_t N = st->N;
    int64_t C = st->C;
    int64_t M = st->M;
    int64_t G = st->G;
    int64_t OG = st->OG;
    nn_geom g = st->g;
    int64_t taps = st->taps;
    int64_t outsp = st->outsp;
    int64_t insp = st->insp;
    size_t xo = st->xo;
    size_t wo = st->wo;
    size_t oo = st->oo;
    size_t mo = st->mo;
    size_t bo = st->bo;
    size_t yo = st->yo;
    size_t co = st->co;
    size_t po = st->po;
    void *base = a->scratch;
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    const float *x = nn_f32_view(X, (float *)nn_carve_ptr(base, xo, nn_f32_copy_bytes(X)));
    const float *w = nn_f32_view(W, (float *)nn_carve_ptr(base, wo, nn_f32_copy_bytes(W)));
    const float *of = nn_f32_view(OF, (float *)nn_carve_ptr(base, oo, nn_f32_copy_bytes(OF)));
    const float *mk = MK ? nn_f32_view(MK, (float *)nn_carve_ptr(base, mo, nn_f32_copy_bytes(MK)))
                         : NULL;
    const float *bs = B ? nn_f32_view(B, (float *)nn_carve_ptr(base, bo, nn_f32_copy_bytes(B)))
                        : NULL;
    float *y = X->dtype == NNE_DTYPE_FLOAT ? (float *)Y->data
                                           : (float *)nn_carve_ptr(base, yo, nn_f32_copy_bytes(Y));
    float *col = (float *)((char *)base + co);
    void *pack = (char *)base + po;
    int64_t stride[NNE_CONV_MAX_SP];
    for (int d = nsp - 1; d >= 0; d--) stride[d] = d == nsp - 1 ? 1 : stride[d + 1] * g.in[d + 1];
    int64_t cpo = C / OG, Cg = C / G, Mg = M / G, K = Cg * taps;
    for (int64_t n = 0; n < N; n++) {
        for (int64_t ch = 0; ch < C; ch++) {
            int64_t og = ch / cpo;
            const float *plane = x + (n * C + ch) * insp;
            for (int64_t t = 0; t < taps; t++) {
                int64_t kt[NNE_CONV_MAX_SP], rem = t;
                for (int d = nsp - 1; d >= 0; d--) {
                    kt[d] = rem % g.k[d];
                    rem /= g.k[d];
                }
                float *dst = col + (ch * taps + t) * outsp;
                const float *ofb = of + ((n * OG + og) * taps + t) * nsp * outsp;
                const float *mkb = mk ? mk + ((n * OG + og) * taps + t) * outsp : NULL;
                int64_t oc[NNE_CONV_MAX_SP] = {0};
                for (int64_t o = 0; o < outsp; o++) {
                    double pos[NNE_CONV_MAX_SP];
                    for (int d = 0; d < nsp; d++)
                        pos[d] = (double)(oc[d] * g.s[d] - g.pb[d] + kt[d] * g.d[d]) +
                                 ofb[d * outsp + o];
                    float v = sample_nlinear(plane, nsp, g.in, stride, pos);
                    dst[o] = mkb ? v * mkb[o] : v;
                    for (int d = nsp - 1; d >= 0; d--) {
                        if (++oc[d] < g.out[d]) break;
                        oc[d] = 0;
                    }
                }
            }
        }
        for (int64_t gi = 0; gi < G; gi++) {
            float *yg = y + (n * M + gi * Mg) * outsp;
            for (int64_t m = 0; m < Mg; m++) {
                float bv = bs ? bs[gi * Mg + m] : 0.0f;
                for (int64_t o = 0; o < outsp; o++) yg[m * outsp + o] = bv;
            }
            nne_gemm_f32(Mg, outsp, K, 1.0f, w + gi * Mg * K, K, 1, col + gi * K * outsp, outsp, 1, 1.0f,
                         yg, outsp, pack);
        }
    }
    if (X->dtype != NNE_DTYPE_FLOAT) nne_store_f32(Y, 0, 1, nne_tensor_numel(Y), y, NNE_CVT_RNE);
    return NNE_OK;
}

/* ---- CausalConvWithState ---- */

/* CausalConvWithState: activation parsed once per plan */
typedef struct causalconv_state {
    int64_t Bn;
    int64_t C;
    int64_t L;
    int64_t K;
    int silu;
    size_t po;
    size_t wo;
    size_t yo;
} causalconv_state;

static nne_status causalconv_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *W = nne_ctx_input(ctx, 1);
    const nne_tensor *B = nne_ctx_input(ctx, 2), *PS = nne_ctx_input(ctx, 3);
    if (!X || !W) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs input and weight are required");
    if (!nn_is_float_dtype(X->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    if (X->ndim != 3) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input must be 3-d (B, C, L)");
    int64_t Bn = X->dims[0], C = X->dims[1], L = X->dims[2];
    if (W->ndim != 3 || W->dims[0] != C || W->dims[1] != 1 || W->dims[2] < 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "weight must have shape (%lld, 1, k)",
                            (long long)C);
    int64_t K = W->dims[2];
    if (B && nne_tensor_numel(B) != C)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "bias must have %lld values", (long long)C);
    if (PS && (PS->ndim != 3 || PS->dims[0] != Bn || PS->dims[1] != C || PS->dims[2] != K - 1))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "past_state must have shape (%lld, %lld, %lld)",
                            (long long)Bn, (long long)C, (long long)(K - 1));
    const char *act = nne_attr_s(ctx, "activation", "none");
    int silu;
    if (!strcmp(act, "none")) silu = 0;
    else if (!strcmp(act, "silu") || !strcmp(act, "swish")) silu = 1;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "activation \"%s\" is not none, silu or swish", act);
    nne_tensor *Y, *S = NULL;
    NNE_TRY(nne_ctx_output_like(ctx, 0, X, &Y));
    int64_t sd[3] = {Bn, C, K - 1};
    if (nne_ctx_num_outputs(ctx) > 1) NNE_TRY(nne_ctx_output(ctx, 1, X->dtype, 3, sd, &S));
    int64_t P = K - 1 + L;
    nn_carve c = {0};
    size_t po = nn_carve_add(&c, nne_size_elems(P, sizeof(double)));
    size_t wo = nn_carve_add(&c, nne_size_elems(K, sizeof(double)));
    size_t yo = nn_carve_add(&c, nne_size_elems(L > K ? L : K, sizeof(double)));
    nn_scratch(ctx, &c);
    causalconv_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->Bn = Bn;
        st->C = C;
        st->L = L;
        st->K = K;
        st->silu = silu;
        st->po = po;
        st->wo = wo;
        st->yo = yo;
    }
    return NNE_OK;
}

static nne_status causalconv_kernel(const void *state, const nne_kernel_args *a) {
    const causalconv_state *st = state;
    const nne_tensor *X = a->in[0];
    const nne_tensor *W = a->n_in > 1 ? a->in[1] : NULL;
    const nne_tensor *B = a->n_in > 2 ? a->in[2] : NULL;
    const nne_tensor *PS = a->n_in > 3 ? a->in[3] : NULL;
    nne_tensor *Y = a->out[0];
    nne_tensor *S = a->n_out > 1 ? a->out[1] : NULL;
    int64_t Bn = st->Bn;
    int64_t C = st->C;
    int64_t L = st->L;
    int64_t K = st->K;
    int silu = st->silu;
    size_t po = st->po;
    size_t wo = st->wo;
    size_t yo = st->yo;
    void *base = a->scratch;
    double *pad = (double *)((char *)base + po), *wk = (double *)((char *)base + wo);
    double *yr = (double *)((char *)base + yo);
    for (int64_t b = 0; b < Bn; b++)
        for (int64_t ch = 0; ch < C; ch++) {
            if (PS) nne_load_f64(PS, (b * C + ch) * (K - 1), 1, K - 1, pad);
            else
                for (int64_t i = 0; i < K - 1; i++) pad[i] = 0.0;
            nne_load_f64(X, (b * C + ch) * L, 1, L, pad + K - 1);
            nne_load_f64(W, ch * K, 1, K, wk);
            double bv = B ? nne_tensor_get_f64(B, ch) : 0.0;
            for (int64_t t = 0; t < L; t++) {
                double acc = bv;
                for (int64_t k = 0; k < K; k++) acc += wk[k] * pad[t + k];
                if (silu) acc = acc / (1.0 + exp(-acc));
                yr[t] = acc;
            }
            nne_store_f64(Y, (b * C + ch) * L, 1, L, yr, NNE_CVT_RNE);
            if (S && S->data && K > 1) nne_store_f64(S, (b * C + ch) * (K - 1), 1, K - 1, pad + L, NNE_CVT_RNE);
        }
    return NNE_OK;
}

NNE_OP_DEFINE(Col2Im, "", "Col2Im", .infer = col2im_run, .run = col2im_kernel,
              .state_size = sizeof(col2im_state));
NNE_OP_DEFINE(DeformConv, "", "DeformConv", .infer = deformconv_run, .run = deformconv_kernel,
              .state_size = sizeof(deformconv_state));
NNE_OP_DEFINE(CausalConvWithState, "", "CausalConvWithState", .infer = causalconv_run, .run = causalconv_kernel,
              .state_size = sizeof(causalconv_state));
