/*
 * vec.c - choice of the nne_vec_ops variant (vec.h) for the ISA in use, and
 * the threaded driver of its depthwise convolution: a batch's output
 * channels split statically into one contiguous range per thread.
 */
#include "kernels/vec.h"
#include "kernels/dispatch.h"

const nne_vec_ops *const nne_vec_all[] = {
#if defined(__x86_64__)
    &nne_vec_ops__avx512,
    &nne_vec_ops__avx2,
#endif
#if defined(__aarch64__)
    &nne_vec_ops__neon,
#endif
    &nne_vec_ops__portable,
    NULL,
};

const nne_vec_ops *nne_vec(void) {
    const nne_kernel_table *t = nne_kernels();
    if (t->reference) return NULL;
    for (int i = 0; nne_vec_all[i]; i++)
        if (nne_isa_allows(t->isa, nne_vec_all[i]->isa)) return nne_vec_all[i];
    return NULL;
}

int nne_vec_dwconv_supported(const nne_vec_ops *ops, const nne_conv_desc *p) {
    return ops && p->nsp == 2 && p->G == p->C && p->C > 0 && p->M % p->C == 0 &&
           ops->dwconv2d_scratch(p) != SIZE_MAX;
}

size_t nne_vec_dwconv_scratch(const nne_vec_ops *ops, const nne_conv_desc *p) {
    return nne_vec_dwconv_supported(ops, p) ? ops->dwconv2d_scratch(p) : 0;
}

typedef struct dw_job {
    const nne_vec_ops *ops;
    const nne_conv_desc *p;
    const float *x, *w, *bias;
    const nne_epilogue *ep;
    float *y;
} dw_job;

static void dw_part(void *arg, int part, int nparts, void *scratch) {
    const dw_job *j = arg;
    long long lo, hi;
    nne_split_range(j->p->M, 1, part, nparts, &lo, &hi);
    if (lo < hi) j->ops->dwconv2d(j->p, j->x, j->w, j->bias, j->y, lo, hi, j->ep, scratch);
}

void nne_vec_dwconv_run(const nne_vec_ops *ops, const nne_conv_desc *p, const float *x, const float *w,
                        const float *bias, const nne_epilogue *ep, float *y, void *scratch, nne_threadpool *pool) {
    int64_t insp = p->in[0] * p->in[1], outsp = p->out[0] * p->out[1];
    if (p->N <= 0 || p->M <= 0 || outsp <= 0) return;
    if (!nne_epilogue_active(ep)) ep = NULL;
    /* workers need the same scratch as the caller: fewer parts otherwise */
    int parts = nne_threadpool_threads(pool);
    if (nne_threadpool_scratch_bytes(pool) < ops->dwconv2d_scratch(p)) parts = 1;
    if (parts > p->M) parts = (int)p->M;
    for (int64_t n = 0; n < p->N; n++) {
        nne_epilogue e;
        if (ep) {
            e = *ep;
            if (e.residual) e.residual += n * p->M * e.ld_res;
        }
        dw_job job = {ops, p, x + n * p->C * insp, w, bias, ep ? &e : NULL, y + n * p->M * outsp};
        nne_parallel(pool, parts, dw_part, &job, scratch);
    }
}

int nne_vec_conv1x1_supported(const nne_vec_ops *ops, const nne_conv_desc *p) {
    if (!ops || p->G != 1 || p->nsp < 1) return 0;
    for (int i = 0; i < p->nsp; i++)
        if (p->in[i] != 1 || p->out[i] != 1 || p->k[i] != 1 || p->pb[i] != 0) return 0;
    return 1;
}

typedef struct c11_job {
    const nne_vec_ops *ops;
    const nne_conv_desc *p;
    const float *x, *w, *bias;
    const nne_epilogue *ep;
    float *y;
} c11_job;

static void c11_part(void *arg, int part, int nparts, void *scratch) {
    const c11_job *j = arg;
    const nne_conv_desc *p = j->p;
    long long lo, hi;
    nne_split_range(p->M, 1, part, nparts, &lo, &hi);
    if (lo >= hi) return;
    for (int64_t n = 0; n < p->N; n++) {
        float *y = j->y + n * p->M + lo;
        j->ops->gemv(j->w + lo * p->C, hi - lo, p->C, j->x + n * p->C, y);
        const nne_epilogue *e = j->ep;
        for (long long m = lo; m < hi; m++) {
            float v = y[m - lo];
            if (j->bias) v += j->bias[m];
            if (e && e->bias) v += e->bias[m];
            if (e && e->residual) v += e->residual[(n * p->M + m) * e->ld_res];
            y[m - lo] = v;
        }
        if (e && e->act != NNE_ACT_NONE) j->ops->act(e->act, e->alpha, e->beta, y, y, hi - lo);
    }
}

void nne_vec_conv1x1_run(const nne_vec_ops *ops, const nne_conv_desc *p, const float *x, const float *w,
                         const float *bias, const nne_epilogue *ep, float *y, nne_threadpool *pool) {
    if (p->N <= 0 || p->M <= 0) return;
    static const float k_none[1] = {0.0f};
    if (!x) x = k_none; /* no input channels: W and x are empty */
    if (!w) w = k_none;
    if (!nne_epilogue_active(ep)) ep = NULL;
    /* a part must be worth a thread wake-up */
    int parts = p->M * p->C * p->N >= 65536 ? nne_threadpool_threads(pool) : 1;
    if (parts > p->M) parts = (int)p->M;
    c11_job job = {ops, p, x, w, bias, ep, y};
    nne_parallel(pool, parts, c11_part, &job, NULL);
}
