/*
 * conv_fast.c - float convolution on the packed SGEMM family (sgemm.h),
 * the algorithm chosen once per layer shape (nne_conv_fast_plan):
 *   - depthwise 2-d (one input channel per group): the ISA's direct
 *     depthwise kernel, channels split over the threads;
 *   - 1x1, stride 1, no padding: Y_g = W_g * X_g, X read as the GEMM's B
 *     (no im2col);
 *   - any other 2-d conv: implicit GEMM, where the B panels are packed
 *     straight from the image (im2col of just the panel being multiplied,
 *     no column matrix) with runs of contiguous pixels copied at once;
 *   - 1-d / 3-d+ convs: the portable im2col conv (kernels/ref/conv.c), then
 *     the epilogue on its output.
 * W is packed once per plan as the GEMM's A (per group). Bias and the
 * fused epilogue (kernels/epilogue.h; rows = the N*M channel planes of Y)
 * are applied to each output tile as it is written.
 */
#include "kernels/conv_fast.h"
#include "kernels/dispatch.h"

#include <string.h>

static int64_t prod(const int64_t *v, int n) {
    int64_t r = 1;
    for (int i = 0; i < n; i++) r *= v[i];
    return r;
}

int nne_conv_fast_plan(const nne_sgemm_ops *ops, const nne_conv_desc *p, nne_conv_fast *cf) {
    memset(cf, 0, sizeof *cf);
    if (!ops || p->G < 1) return 0;
    cf->ops = ops;
    cf->Cg = p->C / p->G;
    cf->Mg = p->M / p->G;
    cf->taps = prod(p->k, p->nsp);
    cf->K = cf->Cg * cf->taps;
    cf->insp = prod(p->in, p->nsp);
    cf->outsp = prod(p->out, p->nsp);
    int pw = 1;
    for (int i = 0; i < p->nsp; i++)
        if (p->k[i] != 1 || p->s[i] != 1 || p->pb[i] != 0 || p->out[i] != p->in[i]) pw = 0;
    if (p->nsp == 2 && cf->Cg == 1 && cf->Mg >= 1) cf->algo = NNE_CONV_DEPTHWISE;
    else if (pw) cf->algo = NNE_CONV_POINTWISE;
    else if (p->nsp == 2) cf->algo = NNE_CONV_IMPLICIT;
    else cf->algo = NNE_CONV_IM2COL;
    return 1;
}

const char *nne_conv_fast_algo_name(int algo) {
    switch (algo) {
    case NNE_CONV_DEPTHWISE: return "depthwise";
    case NNE_CONV_POINTWISE: return "pointwise";
    case NNE_CONV_IMPLICIT: return "implicit_gemm";
    case NNE_CONV_IM2COL: return "im2col";
    default: return "?";
    }
}

int nne_conv_fast_packs_w(const nne_conv_fast *cf) {
    return cf->algo == NNE_CONV_POINTWISE || cf->algo == NNE_CONV_IMPLICIT;
}

size_t nne_conv_fast_packed_w_bytes(const nne_conv_fast *cf, const nne_conv_desc *p) {
    if (!nne_conv_fast_packs_w(cf)) return 0;
    return (size_t)p->G * cf->ops->packed_a_bytes(cf->Mg, cf->K);
}

void nne_conv_fast_pack_w(const nne_conv_fast *cf, const nne_conv_desc *p, const float *w, float *P) {
    size_t per = cf->ops->packed_a_bytes(cf->Mg, cf->K) / sizeof(float);
    for (int64_t g = 0; g < p->G; g++)
        cf->ops->pack_a(cf->Mg, cf->K, w + g * cf->Mg * cf->K, cf->K, 1, P + (size_t)g * per);
}

size_t nne_conv_fast_scratch(const nne_conv_fast *cf, const nne_conv_desc *p) {
    switch (cf->algo) {
    case NNE_CONV_POINTWISE:
    case NNE_CONV_IMPLICIT: return cf->ops->scratch(cf->Mg, cf->outsp, cf->K);
    case NNE_CONV_IM2COL: return nne_conv_scratch_f32(p);
    case NNE_CONV_DEPTHWISE: {
        /* the phase-split plane, when it is of a sane size (else the direct loop) */
        size_t b = cf->ops->dwconv2d_scratch(p);
        return b <= ((size_t)4 << 20) ? b : 0;
    }
    default: return 0;
    }
}

/* ---------------------------------------------------- implicit GEMM -- */

/* ------------------------------------------------------------ depthwise -- */

typedef struct dw_job {
    const nne_conv_fast *cf;
    const nne_conv_desc *p;
    const float *x, *w, *bias;
    float *y;
    const nne_epilogue *ep;
    void *caller_scratch;
    size_t caller_bytes, worker_bytes;
} dw_job;

static void dw_part(void *arg, int part, int nparts, void *scratch) {
    const dw_job *j = arg;
    long long lo, hi;
    nne_split_range(j->p->M, 1, part, nparts, &lo, &hi);
    size_t bytes = scratch == j->caller_scratch ? j->caller_bytes : j->worker_bytes;
    if (lo < hi) j->cf->ops->dwconv2d(j->p, j->x, j->w, j->bias, j->y, lo, hi, j->ep, scratch, bytes);
}

/* ------------------------------------------------------------------ run -- */

void nne_conv_epilogue_apply(const nne_epilogue *ep, float *y, int64_t N, int64_t M, int64_t outsp) {
    if (!nne_epilogue_active(ep)) return;
    for (int64_t n = 0; n < N; n++) {
        nne_epilogue e = *ep;
        if (e.residual) e.residual += n * M * e.ld_res;
        nne_epilogue_apply_f32(&e, y + n * M * outsp, outsp, 0, M, 0, outsp);
    }
}

void nne_conv_fast_run(const nne_conv_fast *cf, const nne_conv_desc *p, const float *x, const float *w,
                       const float *Pw, const float *bias, const nne_epilogue *ep, float *y, void *scratch,
                       nne_threadpool *pool) {
    int64_t outsp = cf->outsp;
    if (!nne_epilogue_active(ep)) ep = NULL;
    if (p->N <= 0 || p->M <= 0 || outsp <= 0) return;
    /* an empty X or W (no channels or no pixels) may be NULL: give the
     * (zero) offsets below a base */
    static const float k_none[1] = {0.0f};
    if (!x) x = k_none;
    if (!w) w = k_none;
    if (cf->algo == NNE_CONV_IM2COL) {
        nne_conv_f32(p, x, w, bias, y, scratch);
        nne_conv_epilogue_apply(ep, y, p->N, p->M, outsp);
        return;
    }
    /* one epilogue for bias and ep; both biases: ep's runs after on the output */
    nne_epilogue base = {0}, post = {0};
    int need_post = 0;
    if (ep) base = *ep;
    if (bias) {
        if (base.bias) {
            post = base;
            need_post = 1;
            base = (nne_epilogue){0};
        }
        base.bias = bias;
        base.bias_per_col = 0;
    }
    for (int64_t n = 0; n < p->N; n++) {
        const float *xn = x + n * p->C * cf->insp;
        float *yn = y + n * p->M * outsp;
        nne_epilogue e = base;
        if (e.residual) e.residual += n * p->M * e.ld_res;
        if (cf->algo == NNE_CONV_DEPTHWISE) {
            dw_job job = {cf, p, xn, w, NULL, yn, &e, scratch, nne_conv_fast_scratch(cf, p),
                          nne_threadpool_scratch_bytes(pool)};
            if (!nne_epilogue_active(&e)) job.ep = NULL;
            int parts = nne_threadpool_threads(pool);
            if (parts > p->M) parts = (int)p->M;
            nne_parallel(pool, parts, dw_part, &job, scratch);
        } else {
            size_t per = cf->ops->packed_a_bytes(cf->Mg, cf->K) / sizeof(float);
            for (int64_t g = 0; g < p->G; g++) {
                nne_epilogue eg = e;
                if (eg.bias) eg.bias += g * cf->Mg;
                if (eg.residual) eg.residual += g * cf->Mg * eg.ld_res;
                const float *xg = xn + g * cf->Cg * cf->insp;
                nne_sgemm_args a = {.M = cf->Mg, .N = outsp, .K = cf->K, .alpha = 1.0f, .beta = 0.0f,
                                    .C = yn + g * cf->Mg * outsp, .ldc = outsp,
                                    .ep = nne_epilogue_active(&eg) ? &eg : NULL};
                if (Pw) a.Pa = Pw + (size_t)g * per;
                else a.A = w + g * cf->Mg * cf->K, a.rsa = cf->K, a.csa = 1;
                nne_im2col_src src = {p, xg, cf->insp};
                if (cf->algo == NNE_CONV_POINTWISE) {
                    a.B = xg, a.rsb = cf->insp, a.csb = 1;
                } else {
                    a.packer = cf->ops->im2col_pack;
                    a.packer_src = &src;
                }
                cf->ops->run(&a, scratch, pool);
            }
        }
    }
    if (need_post) nne_conv_epilogue_apply(&post, y, p->N, p->M, outsp);
}
