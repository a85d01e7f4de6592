/*
 * gemm.h - the matrix multiplication kernels of nnedge: one cache-blocked,
 * register-tiled float GEMM (used by Conv, ConvTranspose, DeformConv, Gemm,
 * MatMul, Einsum, Attention and the RNNs) and plain loops for double, int32
 * and int64.
 *
 * Every operand is a base pointer plus strides in elements: A(i,k) =
 * A[i*rsa + k*csa], B(k,j) = B[k*rsb + j*csb], C(i,j) = C[i*ldc + j]. A
 * transposed operand is just swapped strides. Kernels never allocate; the
 * float kernel packs blocks of A and B into caller-provided scratch.
 */
#ifndef NNE_KERNELS_REF_GEMM_H
#define NNE_KERNELS_REF_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of scratch nne_gemm_f32 needs for an M x N x K product (0 when the
 * product is empty). Grows with M, N and K up to a fixed cap (a few hundred
 * KiB), so the result for the largest shape of a loop covers smaller ones. */
size_t nne_gemm_f32_scratch(int64_t M, int64_t N, int64_t K);
/* The scratch of nne_f32_gemm_blocked__portable (and of the packed-B form). */
size_t nne_f32_gemm_scratch__portable(int64_t M, int64_t N, int64_t K);

/*
 * C[M x N] = alpha * A[M x K] * B[K x N] + beta * C.
 * beta == 0 means C is write-only (its old contents, even NaN, are ignored);
 * beta == 1 accumulates into C. C must not overlap A or B.
 * scratch: at least nne_gemm_f32_scratch(M, N, K) bytes, any alignment
 * (64 bytes is best). Runs the variant the kernel table chose
 * (kernels/dispatch.h: NNE_FORCE_REFERENCE=1 picks the reference).
 */
void nne_gemm_f32(int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t rsa, int64_t csa,
                  const float *B, int64_t rsb, int64_t csb,
                  float beta, float *C, int64_t ldc, void *scratch);

/* The float GEMM variants behind nne_gemm_f32 (kernels/gemm_f32.inc):
 * the plain reference (the oracle, no scratch) and the cache-blocked one. */
void nne_f32_gemm__ref(int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t rsa, int64_t csa,
                       const float *B, int64_t rsb, int64_t csb,
                       float beta, float *C, int64_t ldc, void *scratch);
void nne_f32_gemm_blocked__portable(int64_t M, int64_t N, int64_t K, float alpha,
                                    const float *A, int64_t rsa, int64_t csa,
                                    const float *B, int64_t rsb, int64_t csb,
                                    float beta, float *C, int64_t ldc, void *scratch);

/* Pre-packed B (constant weights, packed once per plan):
 * nne_gemm_f32_blocked_path says whether nne_f32_gemm_blocked__portable
 * would take its blocked path for these strides (the small-M / small-N paths
 * read B directly, so packing helps only the blocked one);
 * nne_gemm_f32_pack_b packs B (K x N, strides rsb/csb) into
 * nne_gemm_f32_packed_b_bytes(N, K) bytes; nne_f32_gemm_packed_b__portable
 * is then nne_gemm_f32 with that packed B (scratch:
 * nne_f32_gemm_scratch__portable). */
int nne_gemm_f32_blocked_path(int64_t M, int64_t N, int64_t csa, int64_t rsb, int64_t csb);
size_t nne_gemm_f32_packed_b_bytes(int64_t N, int64_t K);
void nne_gemm_f32_pack_b(int64_t N, int64_t K, const float *B, int64_t rsb, int64_t csb, float *P);
void nne_f32_gemm_packed_b__portable(int64_t M, int64_t N, int64_t K, float alpha,
                                     const float *A, int64_t rsa, int64_t csa, const float *Pb,
                                     float beta, float *C, int64_t ldc, void *scratch);

/* Same contract in double, without scratch (simple i-k-j loops). */
void nne_gemm_f64(int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t rsa, int64_t csa,
                  const double *B, int64_t rsb, int64_t csb,
                  double beta, double *C, int64_t ldc);

/* C = A * B (+ C when accumulate) in wrapping two's-complement arithmetic,
 * like the int32 / int64 accumulators of other ONNX runtimes. */
void nne_gemm_i32(int64_t M, int64_t N, int64_t K,
                  const int32_t *A, int64_t rsa, int64_t csa,
                  const int32_t *B, int64_t rsb, int64_t csb,
                  int accumulate, int32_t *C, int64_t ldc);
void nne_gemm_i64(int64_t M, int64_t N, int64_t K,
                  const int64_t *A, int64_t rsa, int64_t csa,
                  const int64_t *B, int64_t rsb, int64_t csb,
                  int accumulate, int64_t *C, int64_t ldc);

#endif
