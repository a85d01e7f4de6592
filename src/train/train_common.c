/*
 * train_common.c - helpers the gradient rules share: GEMM on the packed
 * SGEMM family, attribute lookups, 2-d window geometry, the generator.
 */
#include "train/train.h"
#include "kernels/dispatch.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

nne_status nne_train_fail(const nne_tnode *n, nne_status st, const char *fmt, ...) {
    char buf[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return nne_error(st, "train: node \"%s\" (%s): %s", n->node->name ? n->node->name : "", n->node->op_type, buf);
}

float *nne_train_alloc(int64_t n, const char *what) {
    if (n < 0 || (uint64_t)n > SIZE_MAX / sizeof(float) - NNE_ALIGN) {
        nne_error(NNE_ERR_OUT_OF_MEMORY, "train: %s: %lld floats is too large", what, (long long)n);
        return NULL;
    }
    size_t nb = (size_t)(n ? n : 1) * sizeof(float);
    float *p = nne_aligned_alloc(nb);
    if (!p) {
        nne_error(NNE_ERR_OUT_OF_MEMORY, "train: cannot allocate %zu bytes for %s", nb, what);
        return NULL;
    }
    memset(p, 0, nb);
    return p;
}

double nne_train_rand(uint64_t *s) {
    uint64_t x = *s ? *s : 0x9E3779B97F4A7C15ull;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return (double)((x * 0x2545F4914F6CDD1Dull) >> 11) * (1.0 / 9007199254740992.0);
}

int64_t nne_train_attr_i(const nne_node *nd, const char *name, int64_t def) {
    const nne_attr *a = nne_node_attr(nd, name);
    return a && a->type == NNE_ATTR_INT ? a->i : def;
}

float nne_train_attr_f(const nne_node *nd, const char *name, float def) {
    const nne_attr *a = nne_node_attr(nd, name);
    return a && a->type == NNE_ATTR_FLOAT ? a->f : def;
}

/* attribute `name` as exactly `n` ints, or `def` for each when absent */
static nne_status ints_attr(const nne_tnode *t, const char *name, int n, int64_t def, int64_t *out) {
    const nne_attr *a = nne_node_attr(t->node, name);
    for (int k = 0; k < n; k++) out[k] = def;
    if (!a) return NNE_OK;
    if (a->type != NNE_ATTR_INTS || a->n != n)
        return nne_train_fail(t, NNE_ERR_UNSUPPORTED, "attribute %s must hold %d ints for 2-d training", name, n);
    for (int k = 0; k < n; k++) out[k] = a->ints[k];
    return NNE_OK;
}

nne_status nne_train_geo2_get(const nne_tnode *n, const int64_t *kshape, nne_train_geo2 *geo) {
    const nne_tval *x = n->in[0], *y = n->out[0];
    if (x->ndim != 4 || y->ndim != 4)
        return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "training supports 2-d windows only (input rank 4), got rank %d",
                              x->ndim);
    int64_t k[2], s[2], d[2], p[4];
    if (kshape) {
        k[0] = kshape[0];
        k[1] = kshape[1];
    } else {
        NNE_TRY(ints_attr(n, "kernel_shape", 2, -1, k));
        if (k[0] < 1 || k[1] < 1) return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "kernel_shape is missing");
    }
    NNE_TRY(ints_attr(n, "strides", 2, 1, s));
    NNE_TRY(ints_attr(n, "dilations", 2, 1, d));
    NNE_TRY(ints_attr(n, "pads", 4, 0, p));
    geo->kh = k[0]; geo->kw = k[1];
    geo->sh = s[0]; geo->sw = s[1];
    geo->dh = d[0]; geo->dw = d[1];
    geo->H = x->dims[2]; geo->W = x->dims[3];
    geo->OH = y->dims[2]; geo->OW = y->dims[3];
    geo->ph = p[0]; geo->pw = p[1];
    const nne_attr *ap = nne_node_attr(n->node, "auto_pad");
    if (ap && ap->type == NNE_ATTR_STRING && ap->s && strncmp(ap->s, "SAME", 4) == 0) {
        int64_t tot_h = (geo->OH - 1) * geo->sh + (geo->kh - 1) * geo->dh + 1 - geo->H;
        int64_t tot_w = (geo->OW - 1) * geo->sw + (geo->kw - 1) * geo->dw + 1 - geo->W;
        if (tot_h < 0) tot_h = 0;
        if (tot_w < 0) tot_w = 0;
        int lower = strcmp(ap->s, "SAME_LOWER") == 0;
        geo->ph = lower ? tot_h - tot_h / 2 : tot_h / 2;
        geo->pw = lower ? tot_w - tot_w / 2 : tot_w / 2;
    } else if (ap && ap->type == NNE_ATTR_STRING && ap->s && strcmp(ap->s, "VALID") == 0) {
        geo->ph = geo->pw = 0;
    }
    if (geo->sh < 1 || geo->sw < 1 || geo->dh < 1 || geo->dw < 1)
        return nne_train_fail(n, NNE_ERR_UNSUPPORTED, "strides and dilations must be positive");
    return NNE_OK;
}

nne_status nne_train_gemm_reserve(nne_tctx *c, int64_t M, int64_t N, int64_t K) {
    if (!c->ops) return NNE_OK;
    size_t need = c->ops->scratch(M, N, K);
    if (need <= c->gemm_scratch_bytes) return NNE_OK;
    void *p = nne_aligned_alloc(need);
    if (!p) return nne_error(NNE_ERR_OUT_OF_MEMORY, "train: cannot allocate %zu bytes of GEMM scratch", need);
    nne_aligned_free(c->gemm_scratch);
    c->gemm_scratch = p;
    c->gemm_scratch_bytes = need;
    return NNE_OK;
}

void nne_train_gemm(nne_tctx *c, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                    int64_t csa, const float *B, int64_t rsb, int64_t csb, float beta, float *C, int64_t ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) {
        for (int64_t i = 0; i < M; i++)
            for (int64_t j = 0; j < N; j++) C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
        return;
    }
    if (c->ops && c->ops->scratch(M, N, K) <= c->gemm_scratch_bytes) {
        nne_sgemm_args a;
        memset(&a, 0, sizeof a);
        a.M = M; a.N = N; a.K = K;
        a.alpha = alpha; a.beta = beta;
        a.A = A; a.rsa = rsa; a.csa = csa;
        a.B = B; a.rsb = rsb; a.csb = csb;
        a.C = C; a.ldc = ldc;
        c->ops->run(&a, c->gemm_scratch, c->pool);
        return;
    }
    /* reference: no SGEMM family (NNE_FORCE_REFERENCE) */
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < N; j++) {
            double s = 0;
            for (int64_t k = 0; k < K; k++) s += (double)A[i * rsa + k * csa] * B[k * rsb + j * csb];
            float prev = beta == 0 ? 0.0f : beta * C[i * ldc + j];
            C[i * ldc + j] = (float)(alpha * s) + prev;
        }
}
