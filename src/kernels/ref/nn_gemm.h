/*
 * nn_gemm.h - small GEMM kernels used by the reference convolutions:
 * a cache-blocked, register-tiled float GEMM and plain double / int32 ones.
 * All matrices are row-major with explicit leading dimensions (elements).
 */
#ifndef NNE_KERNELS_REF_NN_GEMM_H
#define NNE_KERNELS_REF_NN_GEMM_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of packing scratch nn_sgemm needs (a constant). */
size_t nn_sgemm_scratch_bytes(void);

/* C[M x N] += A[M x K] * B[K x N]. `pack` holds nn_sgemm_scratch_bytes()
 * bytes, 64-byte aligned (float packing buffers). */
void nn_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
              int64_t ldb, float *C, int64_t ldc, void *pack);

/* C[M x N] += A[M x K] * B[K x N] in double / int32 (no scratch). */
void nn_dgemm(int64_t M, int64_t N, int64_t K, const double *A, int64_t lda, const double *B,
              int64_t ldb, double *C, int64_t ldc);
void nn_igemm(int64_t M, int64_t N, int64_t K, const int32_t *A, int64_t lda, const int32_t *B,
              int64_t ldb, int32_t *C, int64_t ldc);

#endif
