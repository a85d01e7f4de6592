/*
 * linalg_gemm.h - cache-blocked single-precision GEMM used by Gemm, MatMul,
 * Einsum and Attention, plus plain loops for double and 64-bit integers.
 *
 * Matrices are described by a base pointer and two strides in elements
 * (row stride rs, column stride cs), so a transposed operand is just
 * swapped strides. The float kernel packs blocks of A and B into caller
 * provided scratch (see nne_gemm_f32_scratch) and never allocates.
 */
#ifndef NNE_KERNELS_REF_LINALG_GEMM_H
#define NNE_KERNELS_REF_LINALG_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of scratch nne_gemm_f32 needs for an M x N x K product. */
size_t nne_gemm_f32_scratch(int64_t M, int64_t N, int64_t K);

/*
 * C[M x N] = alpha * A[M x K] * B[K x N] + beta * C.
 * A(i,k) = A[i*rsa + k*csa], B(k,j) = B[k*rsb + j*csb], C(i,j) = C[i*ldc + j].
 * beta == 0 means C is write-only (its old contents, even NaN, are ignored).
 * scratch: at least nne_gemm_f32_scratch(M, N, K) bytes, 16-byte aligned.
 */
void nne_gemm_f32(int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t rsa, int64_t csa,
                  const float *B, int64_t rsb, int64_t csb,
                  float beta, float *C, int64_t ldc, void *scratch);

/* Same contract in double, without scratch (simple i-k-j loops). */
void nne_gemm_f64(int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t rsa, int64_t csa,
                  const double *B, int64_t rsb, int64_t csb,
                  double beta, double *C, int64_t ldc);

/* C = A * B (+ C when accumulate) in wrapping 64-bit integer arithmetic. */
void nne_gemm_i64(int64_t M, int64_t N, int64_t K,
                  const int64_t *A, int64_t rsa, int64_t csa,
                  const int64_t *B, int64_t rsb, int64_t csb,
                  int accumulate, int64_t *C, int64_t ldc);

#endif
