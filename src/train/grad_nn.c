/*
 * grad_nn.c - gradient rules of pooling (MaxPool, AveragePool, global
 * pools) and BatchNormalization.
 *
 * MaxPool saves the position of each window's maximum (the first one on
 * ties) and routes the gradient there. BatchNormalization in training mode
 * normalizes with the batch's mean and (biased) variance per channel and
 * updates the running statistics in place as ONNX and torch do:
 *     running = momentum * running + (1 - momentum) * batch
 * (the running variance takes the unbiased batch variance, as torch does);
 * its backward is the usual
 *     dx = scale / sqrt(var + eps) / m * (m dy - sum dy - xhat sum(dy xhat)).
 * Outside training it uses the running statistics.
 */
#include "train/train.h"

#include <math.h>
#include <string.h>

/* ------------------------------------------------------------ pooling -- */

typedef struct pool_st {
    nne_train_geo2 geo;
    int64_t NC, pe_h, pe_w; /* planes; end pads */
    int include_pad;
    int32_t *arg;          /* MaxPool: index in the plane of each output's maximum, -1 none */
} pool_st;

static void pool_free(nne_tnode *n) {
    pool_st *s = n->state;
    if (s) nne_aligned_free(s->arg);
}

static nne_status pool_plan_common(nne_tnode *n, int is_max) {
    pool_st *s = n->state;
    NNE_TRY(nne_train_geo2_get(n, NULL, &s->geo));
    s->NC = n->in[0]->dims[0] * n->in[0]->dims[1];
    const nne_attr *p = nne_node_attr(n->node, "pads");
    s->pe_h = p && p->type == NNE_ATTR_INTS && p->n == 4 ? p->ints[2] : 0;
    s->pe_w = p && p->type == NNE_ATTR_INTS && p->n == 4 ? p->ints[3] : 0;
    s->include_pad = (int)nne_train_attr_i(n->node, "count_include_pad", 0);
    if (n->n_out > 1 && n->out[1])
        return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "training does not support MaxPool's Indices output");
    if (is_max) {
        size_t cnt = (size_t)n->out[0]->n;
        s->arg = nne_aligned_alloc((cnt ? cnt : 1) * sizeof(int32_t));
        if (!s->arg) return nne_error(NNE_ERR_OUT_OF_MEMORY, "train: cannot allocate MaxPool indices");
    }
    return NNE_OK;
}
static nne_status maxpool_plan(nne_tnode *n, nne_tctx *c) { return pool_plan_common(n, 1); }
static nne_status avgpool_plan(nne_tnode *n, nne_tctx *c) { return pool_plan_common(n, 0); }

static nne_status maxpool_forward(nne_tnode *n, nne_tctx *c) {
    pool_st *s = n->state;
    const nne_train_geo2 *g = &s->geo;
    const float *x = n->in[0]->x;
    float *y = n->out[0]->x;
    int64_t HW = g->H * g->W, P = g->OH * g->OW;
    /* windows that never leave the image (no padding, floor mode): no bounds checks */
    int inside = g->ph == 0 && g->pw == 0 && (g->OH - 1) * g->sh + (g->kh - 1) * g->dh < g->H &&
                 (g->OW - 1) * g->sw + (g->kw - 1) * g->dw < g->W;
    if (inside) {
        for (int64_t pl = 0; pl < s->NC; pl++) {
            const float *xp = x + pl * HW;
            float *yp = y + pl * P;
            int32_t *ap = s->arg + pl * P;
            for (int64_t oy = 0; oy < g->OH; oy++)
                for (int64_t ox = 0; ox < g->OW; ox++) {
                    int64_t base = oy * g->sh * g->W + ox * g->sw, bi = base;
                    float best = xp[base];
                    for (int64_t ky = 0; ky < g->kh; ky++)
                        for (int64_t kx = 0; kx < g->kw; kx++) {
                            int64_t q = base + ky * g->dh * g->W + kx * g->dw;
                            if (xp[q] > best) {
                                best = xp[q];
                                bi = q;
                            }
                        }
                    yp[oy * g->OW + ox] = best;
                    ap[oy * g->OW + ox] = (int32_t)bi;
                }
        }
        return NNE_OK;
    }
    for (int64_t pl = 0; pl < s->NC; pl++) {
        const float *xp = x + pl * HW;
        float *yp = y + pl * P;
        int32_t *ap = s->arg + pl * P;
        for (int64_t oy = 0; oy < g->OH; oy++)
            for (int64_t ox = 0; ox < g->OW; ox++) {
                float best = -INFINITY;
                int32_t bi = -1;
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh - g->ph + ky * g->dh;
                    if (iy < 0 || iy >= g->H) continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = ox * g->sw - g->pw + kx * g->dw;
                        if (ix < 0 || ix >= g->W) continue;
                        float v = xp[iy * g->W + ix];
                        if (bi < 0 || v > best) {
                            best = v;
                            bi = (int32_t)(iy * g->W + ix);
                        }
                    }
                }
                yp[oy * g->OW + ox] = bi < 0 ? 0.0f : best;
                ap[oy * g->OW + ox] = bi;
            }
    }
    return NNE_OK;
}

static nne_status maxpool_backward(nne_tnode *n, nne_tctx *c) {
    pool_st *s = n->state;
    nne_tval *X = n->in[0];
    if (!X->g) return NNE_OK;
    int64_t HW = s->geo.H * s->geo.W, P = s->geo.OH * s->geo.OW;
    const float *dy = n->out[0]->g;
    for (int64_t pl = 0; pl < s->NC; pl++) {
        float *gx = X->g + pl * HW;
        const int32_t *ap = s->arg + pl * P;
        const float *d = dy + pl * P;
        if (X->g_assign) memset(gx, 0, (size_t)HW * sizeof(float)); /* plane by plane: stays in cache */
        for (int64_t o = 0; o < P; o++)
            if (ap[o] >= 0) gx[ap[o]] += d[o];
    }
    return NNE_OK;
}

/* the divisor of AveragePool's window at (oy, ox) */
static int64_t avg_count(const pool_st *s, int64_t oy, int64_t ox) {
    const nne_train_geo2 *g = &s->geo;
    int64_t cnt = 0;
    for (int64_t ky = 0; ky < g->kh; ky++) {
        int64_t iy = oy * g->sh - g->ph + ky * g->dh;
        int in_y = s->include_pad ? iy >= -g->ph && iy < g->H + s->pe_h : iy >= 0 && iy < g->H;
        if (!in_y) continue;
        for (int64_t kx = 0; kx < g->kw; kx++) {
            int64_t ix = ox * g->sw - g->pw + kx * g->dw;
            cnt += s->include_pad ? ix >= -g->pw && ix < g->W + s->pe_w : ix >= 0 && ix < g->W;
        }
    }
    return cnt;
}

static nne_status avgpool_forward(nne_tnode *n, nne_tctx *c) {
    pool_st *s = n->state;
    const nne_train_geo2 *g = &s->geo;
    int64_t HW = g->H * g->W, P = g->OH * g->OW;
    for (int64_t pl = 0; pl < s->NC; pl++) {
        const float *xp = n->in[0]->x + pl * HW;
        float *yp = n->out[0]->x + pl * P;
        for (int64_t oy = 0; oy < g->OH; oy++)
            for (int64_t ox = 0; ox < g->OW; ox++) {
                float sum = 0;
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh - g->ph + ky * g->dh;
                    if (iy < 0 || iy >= g->H) continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = ox * g->sw - g->pw + kx * g->dw;
                        if (ix >= 0 && ix < g->W) sum += xp[iy * g->W + ix];
                    }
                }
                int64_t cnt = avg_count(s, oy, ox);
                yp[oy * g->OW + ox] = cnt ? sum / (float)cnt : 0.0f;
            }
    }
    return NNE_OK;
}

static nne_status avgpool_backward(nne_tnode *n, nne_tctx *c) {
    pool_st *s = n->state;
    const nne_train_geo2 *g = &s->geo;
    nne_tval *X = n->in[0];
    if (!X->g) return NNE_OK;
    int64_t HW = g->H * g->W, P = g->OH * g->OW;
    for (int64_t pl = 0; pl < s->NC; pl++) {
        float *gx = X->g + pl * HW;
        const float *dy = n->out[0]->g + pl * P;
        if (X->g_assign) memset(gx, 0, (size_t)HW * sizeof(float));
        for (int64_t oy = 0; oy < g->OH; oy++)
            for (int64_t ox = 0; ox < g->OW; ox++) {
                int64_t cnt = avg_count(s, oy, ox);
                if (!cnt) continue;
                float d = dy[oy * g->OW + ox] / (float)cnt;
                for (int64_t ky = 0; ky < g->kh; ky++) {
                    int64_t iy = oy * g->sh - g->ph + ky * g->dh;
                    if (iy < 0 || iy >= g->H) continue;
                    for (int64_t kx = 0; kx < g->kw; kx++) {
                        int64_t ix = ox * g->sw - g->pw + kx * g->dw;
                        if (ix >= 0 && ix < g->W) gx[iy * g->W + ix] += d;
                    }
                }
            }
    }
    return NNE_OK;
}

const nne_grad_rule nne_grad_MaxPool = {.plan = maxpool_plan, .forward = maxpool_forward,
                                        .backward = maxpool_backward, .free = pool_free, .diff_inputs = 1,
                                        .state_size = sizeof(pool_st), .assigns = 1};
const nne_grad_rule nne_grad_AveragePool = {.plan = avgpool_plan, .forward = avgpool_forward,
                                            .backward = avgpool_backward, .free = pool_free, .diff_inputs = 1,
                                            .state_size = sizeof(pool_st), .assigns = 1};

/* global pools: planes of `sp` elements */
typedef struct gpool_st {
    int64_t NC, sp;
    int32_t *arg;
} gpool_st;

static nne_status gpool_plan(nne_tnode *n, nne_tctx *c) {
    gpool_st *s = n->state;
    const nne_tval *x = n->in[0];
    if (x->ndim < 3) return nne_train_fail(n, NNE_ERR_INVALID_ARG, "input must have rank 3 or more");
    s->NC = x->dims[0] * x->dims[1];
    s->sp = x->n / (s->NC ? s->NC : 1);
    return NNE_OK;
}
static nne_status gmax_plan(nne_tnode *n, nne_tctx *c) {
    NNE_TRY(gpool_plan(n, c));
    gpool_st *s = n->state;
    s->arg = nne_aligned_alloc((size_t)(s->NC ? s->NC : 1) * sizeof(int32_t));
    return s->arg ? NNE_OK : nne_error(NNE_ERR_OUT_OF_MEMORY, "train: cannot allocate GlobalMaxPool indices");
}
static void gpool_free(nne_tnode *n) {
    gpool_st *s = n->state;
    if (s) nne_aligned_free(s->arg);
}
static nne_status gavg_forward(nne_tnode *n, nne_tctx *c) {
    const gpool_st *s = n->state;
    for (int64_t pl = 0; pl < s->NC; pl++) {
        const float *xp = n->in[0]->x + pl * s->sp;
        double sum = 0;
        for (int64_t i = 0; i < s->sp; i++) sum += xp[i];
        n->out[0]->x[pl] = (float)(sum / (double)s->sp);
    }
    return NNE_OK;
}
static nne_status gavg_backward(nne_tnode *n, nne_tctx *c) {
    const gpool_st *s = n->state;
    nne_tval *X = n->in[0];
    if (!X->g) return NNE_OK;
    for (int64_t pl = 0; pl < s->NC; pl++) {
        float d = n->out[0]->g[pl] / (float)s->sp;
        float *gx = X->g + pl * s->sp;
        for (int64_t i = 0; i < s->sp; i++) gx[i] += d;
    }
    return NNE_OK;
}
static nne_status gmax_forward(nne_tnode *n, nne_tctx *c) {
    const gpool_st *s = n->state;
    for (int64_t pl = 0; pl < s->NC; pl++) {
        const float *xp = n->in[0]->x + pl * s->sp;
        int32_t bi = 0;
        for (int64_t i = 1; i < s->sp; i++)
            if (xp[i] > xp[bi]) bi = (int32_t)i;
        s->arg[pl] = bi;
        n->out[0]->x[pl] = xp[bi];
    }
    return NNE_OK;
}
static nne_status gmax_backward(nne_tnode *n, nne_tctx *c) {
    const gpool_st *s = n->state;
    nne_tval *X = n->in[0];
    if (!X->g) return NNE_OK;
    for (int64_t pl = 0; pl < s->NC; pl++) X->g[pl * s->sp + s->arg[pl]] += n->out[0]->g[pl];
    return NNE_OK;
}
const nne_grad_rule nne_grad_GlobalAveragePool = {.plan = gpool_plan, .forward = gavg_forward,
                                                  .backward = gavg_backward, .diff_inputs = 1,
                                                  .state_size = sizeof(gpool_st)};
const nne_grad_rule nne_grad_GlobalMaxPool = {.plan = gmax_plan, .forward = gmax_forward, .backward = gmax_backward,
                                              .free = gpool_free, .diff_inputs = 1, .state_size = sizeof(gpool_st)};

/* ------------------------------------------------- BatchNormalization -- */

typedef struct bn_st {
    int64_t N, C, sp;
    float eps, momentum;
    float *mean, *invstd; /* per channel, of the last forward */
    int batch_stats;      /* the last forward used batch statistics */
} bn_st;

static void bn_free(nne_tnode *n) {
    bn_st *s = n->state;
    if (!s) return;
    nne_aligned_free(s->mean);
    nne_aligned_free(s->invstd);
}

static nne_status bn_plan(nne_tnode *n, nne_tctx *c) {
    bn_st *s = n->state;
    const nne_tval *x = n->in[0];
    if (x->ndim < 2 || n->n_in < 5) return nne_train_fail(n, NNE_ERR_INVALID_ARG, "needs X of rank >= 2 and 5 inputs");
    for (int k = 1; k < 5; k++)
        if (!n->in[k] || n->in[k]->n != x->dims[1])
            return nne_train_fail(n, NNE_ERR_INVALID_ARG, "input %d must hold one value per channel", k);
    if (!n->in[3]->is_const || !n->in[4]->is_const)
        return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "training needs the running mean and variance as initializers");
    if (n->n_out > 1)
        return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "training does not support BatchNormalization's extra outputs");
    s->N = x->dims[0];
    s->C = x->dims[1];
    int64_t planes = s->N * s->C;
    s->sp = planes > 0 ? x->n / planes : 0;
    s->eps = nne_train_attr_f(n->node, "epsilon", 1e-5f);
    s->momentum = nne_train_attr_f(n->node, "momentum", 0.9f);
    if (!(s->mean = nne_train_alloc(s->C, "BatchNormalization mean"))) return NNE_ERR_OUT_OF_MEMORY;
    if (!(s->invstd = nne_train_alloc(s->C, "BatchNormalization inverse std"))) return NNE_ERR_OUT_OF_MEMORY;
    return NNE_OK;
}

static nne_status bn_forward(nne_tnode *n, nne_tctx *c) {
    bn_st *s = n->state;
    const float *x = n->in[0]->x, *scale = n->in[1]->x, *bias = n->in[2]->x;
    float *rmean = n->in[3]->x, *rvar = n->in[4]->x, *y = n->out[0]->x;
    int64_t m = s->N * s->sp;
    s->batch_stats = c->training;
    for (int64_t ch = 0; ch < s->C; ch++) {
        double mu, var;
        if (c->training) {
            double sum = 0, sq = 0;
            for (int64_t i = 0; i < s->N; i++) {
                const float *xp = x + (i * s->C + ch) * s->sp;
                for (int64_t k = 0; k < s->sp; k++) sum += xp[k];
            }
            mu = sum / (double)m;
            for (int64_t i = 0; i < s->N; i++) {
                const float *xp = x + (i * s->C + ch) * s->sp;
                for (int64_t k = 0; k < s->sp; k++) sq += (xp[k] - mu) * (xp[k] - mu);
            }
            var = sq / (double)m;
            double unbiased = m > 1 ? sq / (double)(m - 1) : var;
            rmean[ch] = (float)(s->momentum * rmean[ch] + (1.0 - s->momentum) * mu);
            rvar[ch] = (float)(s->momentum * rvar[ch] + (1.0 - s->momentum) * unbiased);
        } else {
            mu = rmean[ch];
            var = rvar[ch];
        }
        float is = (float)(1.0 / sqrt(var + s->eps));
        s->mean[ch] = (float)mu;
        s->invstd[ch] = is;
        float a = scale[ch] * is, b = bias[ch] - (float)mu * a;
        for (int64_t i = 0; i < s->N; i++) {
            const float *xp = x + (i * s->C + ch) * s->sp;
            float *yp = y + (i * s->C + ch) * s->sp;
            for (int64_t k = 0; k < s->sp; k++) yp[k] = xp[k] * a + b;
        }
    }
    return NNE_OK;
}

static nne_status bn_backward(nne_tnode *n, nne_tctx *c) {
    bn_st *s = n->state;
    nne_tval *X = n->in[0], *S = n->in[1], *B = n->in[2];
    const float *x = X->x, *dy = n->out[0]->g;
    int64_t m = s->N * s->sp;
    for (int64_t ch = 0; ch < s->C; ch++) {
        float mu = s->mean[ch], is = s->invstd[ch];
        double sdy = 0, sdyx = 0;
        for (int64_t i = 0; i < s->N; i++) {
            const float *xp = x + (i * s->C + ch) * s->sp, *dp = dy + (i * s->C + ch) * s->sp;
            for (int64_t k = 0; k < s->sp; k++) {
                sdy += dp[k];
                sdyx += dp[k] * (xp[k] - mu) * is;
            }
        }
        if (B->g) B->g[ch] += (float)sdy;
        if (S->g) S->g[ch] += (float)sdyx;
        if (!X->g) continue;
        float sc = S->x[ch] * is;
        if (s->batch_stats) {
            float k1 = (float)(sdy / (double)m), k2 = (float)(sdyx / (double)m);
            for (int64_t i = 0; i < s->N; i++) {
                const float *xp = x + (i * s->C + ch) * s->sp, *dp = dy + (i * s->C + ch) * s->sp;
                float *gp = X->g + (i * s->C + ch) * s->sp;
                for (int64_t k = 0; k < s->sp; k++) gp[k] += sc * (dp[k] - k1 - (xp[k] - mu) * is * k2);
            }
        } else {
            for (int64_t i = 0; i < s->N; i++) {
                const float *dp = dy + (i * s->C + ch) * s->sp;
                float *gp = X->g + (i * s->C + ch) * s->sp;
                for (int64_t k = 0; k < s->sp; k++) gp[k] += sc * dp[k];
            }
        }
    }
    return NNE_OK;
}

const nne_grad_rule nne_grad_BatchNormalization = {.plan = bn_plan, .forward = bn_forward, .backward = bn_backward,
                                                   .free = bn_free, .diff_inputs = 7, .state_size = sizeof(bn_st)};
