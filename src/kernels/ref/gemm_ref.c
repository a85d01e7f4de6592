/*
 * gemm_ref.c - the reference float GEMM: C = alpha * A * B + beta * C in
 * three plain loops, written to be read, not to be fast. It is the oracle
 * the optimized variants are tested against and what NNE_FORCE_REFERENCE=1
 * runs. Products accumulate in double so the oracle is at least as accurate
 * as any variant.
 */
#include "kernels/ref/gemm.h"

void nne_f32_gemm__ref(int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t rsa, int64_t csa,
                       const float *B, int64_t rsb, int64_t csb,
                       float beta, float *C, int64_t ldc, void *scratch) {
    (void)scratch;
    for (int64_t i = 0; i < M; i++) {
        for (int64_t j = 0; j < N; j++) {
            double acc = 0.0;
            for (int64_t k = 0; k < K; k++) acc += (double)A[i * rsa + k * csa] * (double)B[k * rsb + j * csb];
            float x = alpha * (float)acc;
            float *c = &C[i * ldc + j];
            /* beta == 0: C is write-only (NaN in it is ignored) */
            *c = beta == 0.0f ? x : beta == 1.0f ? *c + x : beta * *c + x;
        }
    }
}
