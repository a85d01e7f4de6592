/*
 * grad_linear.c - gradient rules of Gemm and MatMul.
 *
 * Gemm: Y = alpha * op(A) * op(B) + beta * C (C broadcast to M x N).
 *     dA = alpha * dY * op(B)^T (transposed back when transA), likewise dB,
 *     dC = beta * dY summed over the broadcast axes.
 * MatMul: A (..., M, K) times a 2-d B (K, N): A's leading axes are rows.
 * All products are strided calls of the packed SGEMM.
 */
#include "train/train.h"

typedef struct lin_st {
    int64_t M, N, K;
    int ta, tb;
    float alpha, beta;
    int64_t cr, cc; /* C's rows and columns after broadcasting rules (1 or M, 1 or N) */
} lin_st;

static nne_status lin_reserve(nne_tctx *c, const lin_st *s) {
    NNE_TRY(nne_train_gemm_reserve(c, s->M, s->N, s->K));
    NNE_TRY(nne_train_gemm_reserve(c, s->M, s->K, s->N));
    NNE_TRY(nne_train_gemm_reserve(c, s->K, s->N, s->M));
    NNE_TRY(nne_train_gemm_reserve(c, s->K, s->M, s->N));
    return nne_train_gemm_reserve(c, s->N, s->K, s->M);
}

static nne_status gemm_plan(nne_tnode *n, nne_tctx *c) {
    lin_st *s = n->state;
    const nne_tval *a = n->in[0], *b = n->in[1], *cv = n->in[2];
    if (a->ndim != 2 || b->ndim != 2) return nne_train_fail(n, NNE_ERR_INVALID_ARG, "A and B must be 2-d");
    s->ta = (int)nne_train_attr_i(n->node, "transA", 0);
    s->tb = (int)nne_train_attr_i(n->node, "transB", 0);
    s->alpha = nne_train_attr_f(n->node, "alpha", 1.0f);
    s->beta = nne_train_attr_f(n->node, "beta", 1.0f);
    s->M = s->ta ? a->dims[1] : a->dims[0];
    s->K = s->ta ? a->dims[0] : a->dims[1];
    s->N = s->tb ? b->dims[0] : b->dims[1];
    s->cr = s->cc = 0;
    if (cv) {
        int64_t r = 1, col = 1;
        if (cv->ndim == 1) col = cv->dims[0];
        else if (cv->ndim == 2) {
            r = cv->dims[0];
            col = cv->dims[1];
        } else if (cv->ndim != 0)
            return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "C of rank %d", cv->ndim);
        if ((r != 1 && r != s->M) || (col != 1 && col != s->N))
            return nne_train_fail(n, NNE_ERR_INVALID_ARG, "C does not broadcast to the output");
        s->cr = r;
        s->cc = col;
    }
    return lin_reserve(c, s);
}

static nne_status gemm_forward(nne_tnode *n, nne_tctx *c) {
    const lin_st *s = n->state;
    const nne_tval *a = n->in[0], *b = n->in[1], *cv = n->in[2];
    float *y = n->out[0]->x;
    int64_t rsa = s->ta ? 1 : s->K, csa = s->ta ? s->M : 1;
    int64_t rsb = s->tb ? 1 : s->N, csb = s->tb ? s->K : 1;
    float beta = 0.0f;
    if (cv && s->beta != 0.0f) {
        for (int64_t i = 0; i < s->M; i++)
            for (int64_t j = 0; j < s->N; j++)
                y[i * s->N + j] = s->beta * cv->x[(s->cr == 1 ? 0 : i) * s->cc + (s->cc == 1 ? 0 : j)];
        beta = 1.0f;
    }
    nne_train_gemm(c, s->M, s->N, s->K, s->alpha, a->x, rsa, csa, b->x, rsb, csb, beta, y, s->N);
    return NNE_OK;
}

static nne_status gemm_backward(nne_tnode *n, nne_tctx *c) {
    const lin_st *s = n->state;
    nne_tval *a = n->in[0], *b = n->in[1], *cv = n->in[2];
    const float *dy = n->out[0]->g;
    if (a->g) {
        /* dop(A) = alpha dY op(B)^T: M x K. Written as A's layout directly. */
        if (!s->ta) /* dA[M,K] += dY[M,N] * op(B)^T[N,K]; op(B)^T(j,k) = op(B)(k,j) */
            nne_train_gemm(c, s->M, s->K, s->N, s->alpha, dy, s->N, 1, b->x, s->tb ? s->K : 1, s->tb ? 1 : s->N,
                           1.0f, a->g, s->K);
        else /* dA[K,M] += op(B)[K,N] * dY^T[N,M] */
            nne_train_gemm(c, s->K, s->M, s->N, s->alpha, b->x, s->tb ? 1 : s->N, s->tb ? s->K : 1, dy, 1, s->N,
                           1.0f, a->g, s->M);
    }
    if (b->g) {
        if (!s->tb) /* dB[K,N] += op(A)^T[K,M] * dY[M,N]; op(A)^T(k,i) = op(A)(i,k) */
            nne_train_gemm(c, s->K, s->N, s->M, s->alpha, a->x, s->ta ? s->M : 1, s->ta ? 1 : s->K, dy, s->N, 1,
                           1.0f, b->g, s->N);
        else /* dB[N,K] += dY^T[N,M] * op(A)[M,K] */
            nne_train_gemm(c, s->N, s->K, s->M, s->alpha, dy, 1, s->N, a->x, s->ta ? 1 : s->K, s->ta ? s->M : 1,
                           1.0f, b->g, s->K);
    }
    if (cv && cv->g)
        for (int64_t i = 0; i < s->M; i++)
            for (int64_t j = 0; j < s->N; j++)
                cv->g[(s->cr == 1 ? 0 : i) * s->cc + (s->cc == 1 ? 0 : j)] += s->beta * dy[i * s->N + j];
    return NNE_OK;
}

const nne_grad_rule nne_grad_Gemm = {.plan = gemm_plan, .forward = gemm_forward, .backward = gemm_backward,
                                     .diff_inputs = 7, .state_size = sizeof(lin_st)};

static nne_status mm_plan(nne_tnode *n, nne_tctx *c) {
    lin_st *s = n->state;
    const nne_tval *a = n->in[0], *b = n->in[1];
    if (a->ndim < 2 || b->ndim != 2 || a->dims[a->ndim - 1] != b->dims[0])
        return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "training supports MatMul of A (..., M, K) by a 2-d B (K, N)");
    s->K = b->dims[0];
    s->N = b->dims[1];
    s->M = a->n / (s->K ? s->K : 1);
    s->alpha = 1.0f;
    return lin_reserve(c, s);
}

static nne_status mm_forward(nne_tnode *n, nne_tctx *c) {
    const lin_st *s = n->state;
    nne_train_gemm(c, s->M, s->N, s->K, 1.0f, n->in[0]->x, s->K, 1, n->in[1]->x, s->N, 1, 0.0f, n->out[0]->x, s->N);
    return NNE_OK;
}

static nne_status mm_backward(nne_tnode *n, nne_tctx *c) {
    const lin_st *s = n->state;
    nne_tval *a = n->in[0], *b = n->in[1];
    const float *dy = n->out[0]->g;
    if (a->g) nne_train_gemm(c, s->M, s->K, s->N, 1.0f, dy, s->N, 1, b->x, 1, s->N, 1.0f, a->g, s->K);
    if (b->g) nne_train_gemm(c, s->K, s->N, s->M, 1.0f, a->x, 1, s->K, dy, s->N, 1, 1.0f, b->g, s->N);
    return NNE_OK;
}

const nne_grad_rule nne_grad_MatMul = {.plan = mm_plan, .forward = mm_forward, .backward = mm_backward,
                                       .diff_inputs = 3, .state_size = sizeof(lin_st)};
