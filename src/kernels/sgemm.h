/*
 * sgemm.h - the packed, register-blocked float GEMM family (one variant per
 * ISA: x86_avx512/, x86_avx2/, arm_neon/ and a portable one, all generated
 * from kernels/sgemm_tmpl.h) and the depthwise convolution that lives with
 * it.
 *
 *     C[M x N] = act(alpha * A[M x K] * B[K x N] + beta * C + bias + residual)
 *
 * Either operand may be pre-packed once per plan (constant weights: Conv's
 * W is A, Gemm/MatMul's B is B), packed per call from strides, or (B only)
 * produced by a packer callback (implicit-GEMM convolution: im2col straight
 * into the packed panels, no column matrix). The epilogue (kernels/
 * epilogue.h) is applied to each finished MR x NR tile while it is in L1.
 * With a thread pool the output is split into one block of whole tiles per
 * thread (over N when the pixels/columns are many, else over M); each
 * thread packs what it reads into its own scratch.
 */
#ifndef NNE_KERNELS_SGEMM_H
#define NNE_KERNELS_SGEMM_H

#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/ref/conv.h"

#include <stddef.h>
#include <stdint.h>

/* Fills P with B(k0 .. k0+kc, n0 .. n0+nc) in panels of nr columns: panel p
 * holds, for each k, nr floats (columns past nc zero). */
typedef void (*nne_sgemm_packer_fn)(const void *src, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr,
                                    float *P);

/* The source of the im2col packer (nne_sgemm_ops.im2col_pack) of a 2-d
 * convolution: B(k, j) = x[c][oy*sy + ky*dy - py][ox*sx + kx*dx - px] with
 * k = (c, ky, kx) and j = (oy, ox), zero outside the image. */
typedef struct nne_im2col_src {
    const nne_conv_desc *p;
    const float *x; /* the group's first input channel */
    int64_t insp;   /* floats per input channel */
} nne_im2col_src;

/* Winograd F(4x4, 3x3): tiles of 4x4 outputs, numbered t = ty * tw + tx
 * over the image; a block is the tiles [t0, t1). The 6x6 transformed values
 * of a tile are 36 GEMMs apart: V[xi][c][t - t0] (xi = 6 i + j) holds the
 * input transform B^T d B of channel c, Y[xi][m - m0][t - t0] the products
 * U[xi] V[xi] summed over c. Rows of V and Y are ld floats with at least
 * the vector width of slack past the block's tiles; the 36 planes are xs
 * floats apart (not a multiple of 4 KiB: the 36 stores of a tile would
 * all fall in one L1 set). */
typedef struct nne_wino_in {
    const nne_conv_desc *p;
    const float *x;      /* the image's first channel */
    int64_t c0, c1;      /* channels to transform */
    int64_t t0, t1, tw;  /* the block, tiles per tile row */
    float *V;
    int64_t ldv, xs;     /* row stride, plane stride */
    float *Q;            /* scratch: nne_wino_q_floats(tw) floats */
} nne_wino_in;
typedef struct nne_wino_out {
    const nne_conv_desc *p;
    const float *Y;
    int64_t ldy, xs;     /* row stride, plane stride */
    int64_t m0, m1;      /* output channels: Y row m - m0 */
    int64_t t0, t1, tw;
    const nne_epilogue *ep; /* bias per channel, residual like y, act; or NULL */
    float *y;            /* the image's first output channel */
    /* wino_out_t only: Y is transposed, Y[xi][t - t0][m - m0] (row stride
     * ldy >= m1 - m0 rounded up to the vector width) */
} nne_wino_out;
/* Floats of nne_wino_in.Q for tw tiles per row (6 rows, 4 phases). */
#define nne_wino_q_floats(tw) (24 * ((tw) + 2 + 16))

typedef struct nne_sgemm_args {
    int64_t M, N, K;
    float alpha, beta; /* beta == 0: C is write-only */
    /* A: pre-packed (Pa, from pack_a) or strided */
    const float *A;
    int64_t rsa, csa;
    const float *Pa;
    /* B: pre-packed (Pb, from pack_b), a packer, or strided */
    const float *B;
    int64_t rsb, csb;
    const float *Pb;
    nne_sgemm_packer_fn packer;
    const void *packer_src;
    float *C;
    int64_t ldc;
    /* C points at row crow of the product (row crow is C's first row; used
     * by `block` calls on a slice of rows; 0 otherwise) */
    int64_t crow;
    /* applied after the last K slice; rows/columns are C's (NULL: none) */
    const nne_epilogue *ep;
} nne_sgemm_args;

typedef struct nne_sgemm_ops {
    const char *name;
    int isa;
    int mr, nr;
    int kc; /* depth of a K slice of the packed layouts */
    /* scratch of one thread (the caller's part) for this shape; the pool's
     * workers need at most scratch(big, big, big) */
    size_t (*scratch)(int64_t M, int64_t N, int64_t K);
    void (*run)(const nne_sgemm_args *g, void *scratch, nne_threadpool *pool);
    /* rows [m0, m1) (m0 % mr == 0) of all N columns, on the calling thread
     * (scratch: scratch(m1 - m0, N, K) bytes) */
    void (*block)(const nne_sgemm_args *g, int64_t m0, int64_t m1, void *scratch);
    size_t (*packed_a_bytes)(int64_t M, int64_t K);
    void (*pack_a)(int64_t M, int64_t K, const float *A, int64_t rsa, int64_t csa, float *P);
    size_t (*packed_b_bytes)(int64_t N, int64_t K);
    void (*pack_b)(int64_t N, int64_t K, const float *B, int64_t rsb, int64_t csb, float *P);
    /* legacy entry points of the kernel table (nne_gemm_f32 signature) */
    void (*gemm)(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa, int64_t csa,
                 const float *B, int64_t rsb, int64_t csb, float beta, float *C, int64_t ldc, void *scratch);
    void (*gemm_packed_b)(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa, int64_t csa,
                          const float *Pb, float beta, float *C, int64_t ldc, void *scratch);
    /* depthwise 2-d convolution of channels [c0, c1) of one image (x and y
     * point at the image's first channel; w is M x taps; bias may be NULL;
     * ep applies per channel row of y, its bias replaces `bias`). With
     * dwconv2d_scratch(p) bytes of scratch every tap is a vector load from
     * a padded, phase-split copy of the plane; with less, a slower direct
     * loop runs. */
    void (*dwconv2d)(const nne_conv_desc *p, const float *x, const float *w, const float *bias, float *y,
                     int64_t c0, int64_t c1, const nne_epilogue *ep, void *scratch, size_t scratch_bytes);
    size_t (*dwconv2d_scratch)(const nne_conv_desc *p);
    /* the implicit-GEMM packer of 2-d convs (src: nne_im2col_src) */
    nne_sgemm_packer_fn im2col_pack;
    /* y[i] = act(x[i]) (nne_act; the epilogue's vector code; x == y allowed,
     * no other overlap) for element-wise ops */
    void (*vact)(int act, float alpha, float beta, const float *x, float *y, int64_t n);
    /* Winograd F(4x4, 3x3) transforms of 2-d 3x3 stride-1 convs
     * (kernels/winograd_tmpl.h; the driver is kernels/conv_fast.c) */
    void (*wino_in)(const nne_wino_in *a);
    void (*wino_out)(const nne_wino_out *a);
    void (*wino_out_t)(const nne_wino_out *a);
} nne_sgemm_ops;

/* The variants built for this architecture, and their nne_gemm_f32-style
 * entries for kernels/gemm_f32.inc. */
#define NNE_SGEMM_DECLARE(isa)                                                                                  \
    extern const nne_sgemm_ops nne_sgemm_ops__##isa;                                                            \
    size_t nne_f32_sgemm_scratch__##isa(int64_t M, int64_t N, int64_t K);                                       \
    void nne_f32_gemm__##isa(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,         \
                             int64_t csa, const float *B, int64_t rsb, int64_t csb, float beta, float *C,       \
                             int64_t ldc, void *scratch);
NNE_SGEMM_DECLARE(portable)
#if defined(__x86_64__)
NNE_SGEMM_DECLARE(avx2)
NNE_SGEMM_DECLARE(avx512)
#endif
#if defined(__aarch64__)
NNE_SGEMM_DECLARE(neon)
#endif

/* Worker scratch a pool needs for any sgemm variant of this build. */
size_t nne_sgemm_worker_scratch(void);

#endif
