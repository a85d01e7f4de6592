/*
 * grad_conv.c - the gradient rule of 2-d Conv (groups, pads, strides,
 * dilations, auto_pad).
 *
 * The whole batch is one GEMM per group. Forward: im2col of the batch into
 * col[K][N*P] (K = Cg*kh*kw taps, P output pixels; kept for backward), then
 * Yt[Mg][N*P] = W_g * col, scattered into Y (N, M, P) with the bias.
 * Backward, with dYt the same gather of dY:
 *     dW_g += dYt * col^T              (Mg x K, inner N*P)
 *     dcol  = W_g^T * dYt              (K x N*P, inner Mg), col2im into dX
 *     dB   += row sums of dYt
 * The transposes are strides of the packed SGEMM (no copies).
 */
#include "train/train.h"

#include <string.h>

typedef struct conv_st {
    nne_train_geo2 geo;
    int64_t N, C, M, G, Cg, Mg, K, P, NP;
    float *col;  /* G x K x NP (saved input columns) */
    float *yt;   /* Mg x NP */
    float *dcol; /* K x NP (only when X has a gradient) */
} conv_st;

/* col[k][n*P + oy*OW + ox] of one group (channels c0 .. c0+Cg). */
static void im2col(const conv_st *s, const float *x, int64_t c0, float *col) {
    const nne_train_geo2 *g = &s->geo;
    int64_t HW = g->H * g->W;
    for (int64_t c = 0; c < s->Cg; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                float *row = col + ((c * g->kh + ky) * g->kw + kx) * s->NP;
                /* ox range whose input column is inside the image */
                int64_t off = kx * g->dw - g->pw;
                int64_t ox0 = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
                int64_t ox1 = g->W - off <= 0 ? 0 : (g->W - off + g->sw - 1) / g->sw;
                if (ox1 > g->OW) ox1 = g->OW;
                if (ox0 > ox1) ox0 = ox1;
                for (int64_t n = 0; n < s->N; n++) {
                    const float *plane = x + (n * s->C + c0 + c) * HW;
                    float *r = row + n * s->P;
                    for (int64_t oy = 0; oy < g->OH; oy++, r += g->OW) {
                        int64_t iy = oy * g->sh + ky * g->dh - g->ph;
                        if (iy < 0 || iy >= g->H) {
                            memset(r, 0, (size_t)g->OW * sizeof(float));
                            continue;
                        }
                        const float *src = plane + iy * g->W + off;
                        for (int64_t ox = 0; ox < ox0; ox++) r[ox] = 0;
                        if (g->sw == 1) memcpy(r + ox0, src + ox0, (size_t)(ox1 - ox0) * sizeof(float));
                        else
                            for (int64_t ox = ox0; ox < ox1; ox++) r[ox] = src[ox * g->sw];
                        for (int64_t ox = ox1; ox < g->OW; ox++) r[ox] = 0;
                    }
                }
            }
}

/* The adjoint of im2col: dx += scatter(dcol). */
static void col2im(const conv_st *s, const float *col, int64_t c0, float *dx) {
    const nne_train_geo2 *g = &s->geo;
    int64_t HW = g->H * g->W;
    for (int64_t c = 0; c < s->Cg; c++)
        for (int64_t ky = 0; ky < g->kh; ky++)
            for (int64_t kx = 0; kx < g->kw; kx++) {
                const float *row = col + ((c * g->kh + ky) * g->kw + kx) * s->NP;
                int64_t off = kx * g->dw - g->pw;
                int64_t ox0 = off < 0 ? (-off + g->sw - 1) / g->sw : 0;
                int64_t ox1 = g->W - off <= 0 ? 0 : (g->W - off + g->sw - 1) / g->sw;
                if (ox1 > g->OW) ox1 = g->OW;
                if (ox0 > ox1) ox0 = ox1;
                for (int64_t n = 0; n < s->N; n++) {
                    float *plane = dx + (n * s->C + c0 + c) * HW;
                    const float *r = row + n * s->P;
                    for (int64_t oy = 0; oy < g->OH; oy++, r += g->OW) {
                        int64_t iy = oy * g->sh + ky * g->dh - g->ph;
                        if (iy < 0 || iy >= g->H) continue;
                        float *dst = plane + iy * g->W + off;
                        if (g->sw == 1)
                            for (int64_t ox = ox0; ox < ox1; ox++) dst[ox] += r[ox];
                        else
                            for (int64_t ox = ox0; ox < ox1; ox++) dst[ox * g->sw] += r[ox];
                    }
                }
            }
}

static void conv_free(nne_tnode *n) {
    conv_st *s = n->state;
    if (!s) return;
    nne_aligned_free(s->col);
    nne_aligned_free(s->yt);
    nne_aligned_free(s->dcol);
}

static nne_status conv_plan(nne_tnode *n, nne_tctx *c) {
    conv_st *s = n->state;
    const nne_tval *x = n->in[0], *w = n->in[1];
    if (!w || w->ndim != 4) return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "training supports 2-d Conv only");
    NNE_TRY(nne_train_geo2_get(n, &w->dims[2], &s->geo));
    s->N = x->dims[0];
    s->C = x->dims[1];
    s->M = w->dims[0];
    s->G = nne_train_attr_i(n->node, "group", 1);
    if (s->G < 1 || s->C % s->G || s->M % s->G || w->dims[1] != s->C / s->G)
        return nne_train_fail(n, NNE_ERR_INVALID_ARG, "group %lld does not match %lld input / %lld output channels",
                              (long long)s->G, (long long)s->C, (long long)s->M);
    s->Cg = s->C / s->G;
    s->Mg = s->M / s->G;
    s->K = s->Cg * s->geo.kh * s->geo.kw;
    s->P = s->geo.OH * s->geo.OW;
    s->NP = s->N * s->P;
    if (!(s->col = nne_train_alloc(s->G * s->K * s->NP, "Conv columns"))) return NNE_ERR_OUT_OF_MEMORY;
    if (!(s->yt = nne_train_alloc(s->Mg * s->NP, "Conv output"))) return NNE_ERR_OUT_OF_MEMORY;
    if (x->g && !(s->dcol = nne_train_alloc(s->K * s->NP, "Conv column gradient"))) return NNE_ERR_OUT_OF_MEMORY;
    NNE_TRY(nne_train_gemm_reserve(c, s->Mg, s->NP, s->K));
    NNE_TRY(nne_train_gemm_reserve(c, s->Mg, s->K, s->NP));
    NNE_TRY(nne_train_gemm_reserve(c, s->K, s->NP, s->Mg));
    return NNE_OK;
}

static nne_status conv_forward(nne_tnode *n, nne_tctx *c) {
    conv_st *s = n->state;
    const float *x = n->in[0]->x, *w = n->in[1]->x, *b = n->in[2] ? n->in[2]->x : NULL;
    float *y = n->out[0]->x;
    for (int64_t g = 0; g < s->G; g++) {
        float *col = s->col + g * s->K * s->NP;
        im2col(s, x, g * s->Cg, col);
        nne_train_gemm(c, s->Mg, s->NP, s->K, 1.0f, w + g * s->Mg * s->K, s->K, 1, col, s->NP, 1, 0.0f, s->yt, s->NP);
        for (int64_t m = 0; m < s->Mg; m++) {
            float bias = b ? b[g * s->Mg + m] : 0.0f;
            const float *src = s->yt + m * s->NP;
            for (int64_t i = 0; i < s->N; i++) {
                float *dst = y + (i * s->M + g * s->Mg + m) * s->P;
                const float *sp = src + i * s->P;
                for (int64_t p = 0; p < s->P; p++) dst[p] = sp[p] + bias;
            }
        }
    }
    return NNE_OK;
}

static nne_status conv_backward(nne_tnode *n, nne_tctx *c) {
    conv_st *s = n->state;
    nne_tval *X = n->in[0], *W = n->in[1], *B = n->in[2];
    const float *dy = n->out[0]->g;
    for (int64_t g = 0; g < s->G; g++) {
        for (int64_t m = 0; m < s->Mg; m++) {
            float *dst = s->yt + m * s->NP;
            double sum = 0;
            for (int64_t i = 0; i < s->N; i++) {
                const float *src = dy + (i * s->M + g * s->Mg + m) * s->P;
                float *d = dst + i * s->P, part = 0;
                memcpy(d, src, (size_t)s->P * sizeof(float));
                for (int64_t p = 0; p < s->P; p++) part += src[p];
                sum += part;
            }
            if (B && B->g) B->g[g * s->Mg + m] += (float)sum;
        }
        const float *col = s->col + g * s->K * s->NP;
        if (W->g)
            nne_train_gemm(c, s->Mg, s->K, s->NP, 1.0f, s->yt, s->NP, 1, col, 1, s->NP, 1.0f, W->g + g * s->Mg * s->K,
                           s->K);
        if (X->g) {
            if (X->g_assign) /* zero this group's input planes just before the scatter */
                for (int64_t i = 0; i < s->N; i++)
                    memset(X->g + (i * s->C + g * s->Cg) * s->geo.H * s->geo.W, 0,
                           (size_t)(s->Cg * s->geo.H * s->geo.W) * sizeof(float));
            nne_train_gemm(c, s->K, s->NP, s->Mg, 1.0f, W->x + g * s->Mg * s->K, 1, s->K, s->yt, s->NP, 1, 0.0f,
                           s->dcol, s->NP);
            col2im(s, s->dcol, g * s->Cg, X->g);
        }
    }
    return NNE_OK;
}

const nne_grad_rule nne_grad_Conv = {.plan = conv_plan, .forward = conv_forward, .backward = conv_backward,
                                     .free = conv_free, .diff_inputs = 7, .state_size = sizeof(conv_st),
                                     .assigns = 1};
