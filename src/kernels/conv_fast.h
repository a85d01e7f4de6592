/*
 * conv_fast.h - float Conv on the packed SGEMM family, with the algorithm
 * chosen per layer shape at plan time (see conv_fast.c), weights packed once
 * per plan, the fused epilogue applied per output tile and the work split
 * over a thread pool.
 *
 * Use: nne_conv_fast_plan once (0: no SGEMM family, e.g. under
 * NNE_FORCE_REFERENCE: use nne_conv_f32 / the reference), pack W with
 * nne_conv_fast_pack_w into nne_conv_fast_packed_w_bytes when
 * nne_conv_fast_packs_w, request nne_conv_fast_scratch bytes (the caller's
 * thread; workers use the pool's scratch), then nne_conv_fast_run per run.
 */
#ifndef NNE_KERNELS_CONV_FAST_H
#define NNE_KERNELS_CONV_FAST_H

#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/ref/conv.h"
#include "kernels/sgemm.h"

enum {
    NNE_CONV_DEPTHWISE = 1, /* 2-d, one input channel per group: direct */
    NNE_CONV_POINTWISE = 2, /* 1x1, stride 1, no padding: X is the GEMM's B */
    NNE_CONV_IMPLICIT = 3,  /* 2-d: im2col packed per GEMM panel */
    NNE_CONV_IM2COL = 4,    /* other ranks: the portable im2col conv */
    NNE_CONV_WINOGRAD = 5,  /* 2-d 3x3 stride 1, one group: Winograd F(4x4, 3x3) */
    NNE_CONV_WINOGRAD_T = 6 /* the same with transposed GEMMs (tiles x channels) for images of few tiles */
};

/* Most scratch one thread's part of a Winograd conv may take (the pool's
 * workers have at least this much, nne_sgemm_worker_scratch). */
#define NNE_WINO_SCRATCH_MAX ((size_t)3 << 20)

typedef struct nne_conv_fast {
    const nne_sgemm_ops *ops;
    int algo;
    int64_t Cg, Mg, taps, K, insp, outsp;
    /* Winograd: tiles per row / column / image, tiles per block, row
     * stride of the V and Y blocks, output channels per GEMM chunk,
     * scratch of one part */
    int64_t tw, th, tiles, nb, ldv, mch;
    size_t wino_scratch;
    /* WINOGRAD_T: output channels per GEMM (columns), groups of them */
    int64_t gw, ngroups;
} nne_conv_fast;

/* The algorithm nne_conv_fast_plan would choose for p, or the named one
 * when `force` (an NNE_CONV_* value) is legal for p (tests and measurements);
 * 0 when force is not legal. */
int nne_conv_fast_plan_algo(const nne_sgemm_ops *ops, const nne_conv_desc *p, nne_conv_fast *cf, int force);

int nne_conv_fast_plan(const nne_sgemm_ops *ops, const nne_conv_desc *p, nne_conv_fast *cf);
const char *nne_conv_fast_algo_name(int algo);
int nne_conv_fast_packs_w(const nne_conv_fast *cf);
size_t nne_conv_fast_packed_w_bytes(const nne_conv_fast *cf, const nne_conv_desc *p);
void nne_conv_fast_pack_w(const nne_conv_fast *cf, const nne_conv_desc *p, const float *w, float *P);
size_t nne_conv_fast_scratch(const nne_conv_fast *cf, const nne_conv_desc *p);
/* Y = act(conv(X, W) + bias + ep's bias/residual). Pw: W packed (or NULL:
 * packed A is then formed per call from w). ep may be NULL; its rows are
 * the N * M channel planes of Y (bias[channel], residual like Y with row
 * stride ld_res = output pixels). */
void nne_conv_fast_run(const nne_conv_fast *cf, const nne_conv_desc *p, const float *x, const float *w,
                       const float *Pw, const float *bias, const nne_epilogue *ep, float *y, void *scratch,
                       nne_threadpool *pool);

/* The reference epilogue on a conv output Y (N x M x outsp): bias per
 * channel, residual like Y. */
void nne_conv_epilogue_apply(const nne_epilogue *ep, float *y, int64_t N, int64_t M, int64_t outsp);

#endif
