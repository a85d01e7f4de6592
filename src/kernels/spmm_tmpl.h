/*
 * spmm_tmpl.h - the sparse x dense kernel of kernels/spmm.h, included by
 * kernels/vec_tmpl.h (so it is compiled once per ISA with the vec family's
 * vector type nv_vf of NV_VL floats and its helpers).
 *
 * Rows [m0, m1) of Y. Columns go in blocks of 4 vectors, then single
 * vectors, then a tail: masked vector loads when at least 3 columns are
 * left, else scalar sums with four partial accumulators over the nonzeros
 * (Gemm at batch 1 is that case: a sparse dot product per output). Each
 * nonzero is one broadcast weight times the vectors of its X row. The
 * epilogue (bias, residual, activation) is applied to the accumulators
 * before they are stored.
 */

typedef struct nv_sp_ep {
    const float *bias, *ebias, *res;
    int64_t ldr;
    int act;
    float al, be;
} nv_sp_ep;

static inline __attribute__((always_inline)) nv_vf nv_sp_fin(const nv_sp_ep *e, int64_t m, int64_t j, nv_vf a,
                                                            int64_t len) {
    float b = (e->bias ? e->bias[m] : 0.0f) + (e->ebias ? e->ebias[m] : 0.0f);
    a += nv_splat(b);
    if (e->res) a += len == NV_VL ? nv_ld(e->res + m * e->ldr + j) : nv_ld_part(e->res + m * e->ldr + j, len);
    if (e->act != NNE_ACT_NONE) a = nv_act(e->act, e->al, e->be, a);
    return a;
}

static void NV_FN(nne_f32_spmm)(const nne_spmat *s, int64_t m0, int64_t m1, const float *X, int64_t ldx, int64_t n,
                                float *Y, int64_t ldy, const float *bias, const nne_epilogue *ep) {
    nv_sp_ep e = {bias, NULL, NULL, 0, NNE_ACT_NONE, 0.0f, 0.0f};
    if (ep) {
        e.ebias = ep->bias;
        e.res = ep->residual;
        e.ldr = ep->ld_res;
        e.act = ep->act;
        e.al = ep->alpha;
        e.be = ep->beta;
    }
    const int32_t *rp = s->rp, *ci = s->ci;
    const float *v = s->v;
    int64_t j = 0;
    /* blocks of 4 vectors: the columns of W in chunks, so that the chunk's
     * rows of X stay in L1 while every output row uses them; the partial
     * sums wait in Y (the same additions in the same order as one pass) */
    const int32_t *cp = s->cp;
    int64_t nch = s->nch;
    for (; nch > 1 && j + 4 * NV_VL <= n; j += 4 * NV_VL) {
        const float *xb = X + j;
        for (int64_t c = 0; c < nch; c++)
            for (int64_t m = m0; m < m1; m++) {
                float *y = Y + m * ldy + j;
                nv_vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
                if (c > 0) a0 = nv_ld(y), a1 = nv_ld(y + NV_VL), a2 = nv_ld(y + 2 * NV_VL), a3 = nv_ld(y + 3 * NV_VL);
                for (int32_t q = cp[m * (nch + 1) + c], qe = cp[m * (nch + 1) + c + 1]; q < qe; q++) {
                    const float *x = xb + (int64_t)ci[q] * ldx;
                    nv_vf w = nv_splat(v[q]);
                    a0 += w * nv_ld(x);
                    a1 += w * nv_ld(x + NV_VL);
                    a2 += w * nv_ld(x + 2 * NV_VL);
                    a3 += w * nv_ld(x + 3 * NV_VL);
                }
                if (c == nch - 1) {
                    a0 = nv_sp_fin(&e, m, j, a0, NV_VL);
                    a1 = nv_sp_fin(&e, m, j + NV_VL, a1, NV_VL);
                    a2 = nv_sp_fin(&e, m, j + 2 * NV_VL, a2, NV_VL);
                    a3 = nv_sp_fin(&e, m, j + 3 * NV_VL, a3, NV_VL);
                }
                nv_st(y, a0);
                nv_st(y + NV_VL, a1);
                nv_st(y + 2 * NV_VL, a2);
                nv_st(y + 3 * NV_VL, a3);
            }
    }
    for (; j + 4 * NV_VL <= n; j += 4 * NV_VL) {
        const float *xb = X + j;
        for (int64_t m = m0; m < m1; m++) {
            nv_vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
            for (int32_t q = rp[m], qe = rp[m + 1]; q < qe; q++) {
                const float *x = xb + (int64_t)ci[q] * ldx;
                nv_vf w = nv_splat(v[q]);
                a0 += w * nv_ld(x);
                a1 += w * nv_ld(x + NV_VL);
                a2 += w * nv_ld(x + 2 * NV_VL);
                a3 += w * nv_ld(x + 3 * NV_VL);
            }
            float *y = Y + m * ldy + j;
            nv_st(y, nv_sp_fin(&e, m, j, a0, NV_VL));
            nv_st(y + NV_VL, nv_sp_fin(&e, m, j + NV_VL, a1, NV_VL));
            nv_st(y + 2 * NV_VL, nv_sp_fin(&e, m, j + 2 * NV_VL, a2, NV_VL));
            nv_st(y + 3 * NV_VL, nv_sp_fin(&e, m, j + 3 * NV_VL, a3, NV_VL));
        }
    }
    for (; j + NV_VL <= n; j += NV_VL) {
        const float *xb = X + j;
        for (int64_t m = m0; m < m1; m++) {
            nv_vf a0 = {0};
            for (int32_t q = rp[m], qe = rp[m + 1]; q < qe; q++) a0 += nv_splat(v[q]) * nv_ld(xb + (int64_t)ci[q] * ldx);
            nv_st(Y + m * ldy + j, nv_sp_fin(&e, m, j, a0, NV_VL));
        }
    }
    int64_t t = n - j;
    if (t >= 3) {
        const float *xb = X + j;
        for (int64_t m = m0; m < m1; m++) {
            nv_vf a0 = {0};
            for (int32_t q = rp[m], qe = rp[m + 1]; q < qe; q++)
                a0 += nv_splat(v[q]) * nv_ld_part(xb + (int64_t)ci[q] * ldx, t);
            nv_st_part(Y + m * ldy + j, nv_sp_fin(&e, m, j, a0, t), t);
        }
    } else if (n == 1 && ldx == 1) {
        /* a sparse matrix-vector product (Gemm at batch 1) */
        for (int64_t m = m0; m < m1; m++) {
            float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
            int32_t q = rp[m], qe = rp[m + 1];
            for (; q + 4 <= qe; q += 4) {
                s0 += v[q] * X[ci[q]];
                s1 += v[q + 1] * X[ci[q + 1]];
                s2 += v[q + 2] * X[ci[q + 2]];
                s3 += v[q + 3] * X[ci[q + 3]];
            }
            for (; q < qe; q++) s0 += v[q] * X[ci[q]];
            float a = (s0 + s1) + (s2 + s3);
            a += (e.bias ? e.bias[m] : 0.0f) + (e.ebias ? e.ebias[m] : 0.0f);
            if (e.res) a += e.res[m * e.ldr];
            Y[m * ldy] = nne_act_f32(e.act, e.al, e.be, a);
        }
    } else {
        for (; j < n; j++) {
            const float *xb = X + j;
            for (int64_t m = m0; m < m1; m++) {
                float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
                int32_t q = rp[m], qe = rp[m + 1];
                for (; q + 4 <= qe; q += 4) {
                    s0 += v[q] * xb[(int64_t)ci[q] * ldx];
                    s1 += v[q + 1] * xb[(int64_t)ci[q + 1] * ldx];
                    s2 += v[q + 2] * xb[(int64_t)ci[q + 2] * ldx];
                    s3 += v[q + 3] * xb[(int64_t)ci[q + 3] * ldx];
                }
                for (; q < qe; q++) s0 += v[q] * xb[(int64_t)ci[q] * ldx];
                float a = (s0 + s1) + (s2 + s3);
                a += (e.bias ? e.bias[m] : 0.0f) + (e.ebias ? e.ebias[m] : 0.0f);
                if (e.res) a += e.res[m * e.ldr + j];
                Y[m * ldy + j] = nne_act_f32(e.act, e.al, e.be, a);
            }
        }
    }
}
