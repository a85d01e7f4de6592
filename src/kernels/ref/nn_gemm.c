/*
 * nn_gemm.c - GEMM kernels for the reference convolutions.
 *
 * nn_sgemm follows the usual blocked scheme (Goto/BLIS):
 *   for each NC-wide column block of B and KC-deep slice of K:
 *       pack B[kc x nc] into NR-wide panels (zero padded)
 *       for each MC-tall row block of A:
 *           pack A[mc x kc] into MR-tall panels (zero padded)
 *           for each (MR x NR) tile: micro-kernel accumulates a 4x8 tile of C
 *           in registers over kc and adds it to C.
 * The micro-kernel uses GCC/Clang vector extensions (4-float vectors, which
 * map to SSE or NEON) when available and plain C otherwise.
 */
#include "kernels/ref/nn_gemm.h"

#include <string.h>

#define NN_MR 4
#define NN_NR 8
#define NN_MC 64
#define NN_KC 256
#define NN_NC 256

size_t nn_sgemm_scratch_bytes(void) {
    return (size_t)(NN_MC * NN_KC + NN_KC * NN_NC) * sizeof(float);
}

/* Pack rows [0,mc) x cols [0,kc) of A into MR-row panels: panel p holds, for
 * each k, MR consecutive values A[p*MR + r][k]. */
static void pack_a(int64_t mc, int64_t kc, const float *A, int64_t lda, float *dst) {
    for (int64_t i = 0; i < mc; i += NN_MR) {
        int64_t mr = mc - i < NN_MR ? mc - i : NN_MR;
        for (int64_t k = 0; k < kc; k++) {
            int64_t r = 0;
            for (; r < mr; r++) dst[r] = A[(i + r) * lda + k];
            for (; r < NN_MR; r++) dst[r] = 0.0f;
            dst += NN_MR;
        }
    }
}

/* Pack rows [0,kc) x cols [0,nc) of B into NR-column panels. */
static void pack_b(int64_t kc, int64_t nc, const float *B, int64_t ldb, float *dst) {
    for (int64_t j = 0; j < nc; j += NN_NR) {
        int64_t nr = nc - j < NN_NR ? nc - j : NN_NR;
        for (int64_t k = 0; k < kc; k++) {
            const float *b = B + k * ldb + j;
            if (nr == NN_NR) {
                memcpy(dst, b, NN_NR * sizeof(float));
            } else {
                int64_t c = 0;
                for (; c < nr; c++) dst[c] = b[c];
                for (; c < NN_NR; c++) dst[c] = 0.0f;
            }
            dst += NN_NR;
        }
    }
}

#if defined(__GNUC__) || defined(__clang__)
typedef float nn_v4f __attribute__((vector_size(16)));

static inline nn_v4f v4_load(const float *p) {
    nn_v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void v4_store(float *p, nn_v4f v) { memcpy(p, &v, sizeof v); }
static inline nn_v4f v4_splat(float x) { return (nn_v4f){x, x, x, x}; }

/* acc[MR x NR] = sum_k Ap[k][:] (x) Bp[k][:]; then C[mr x nr] += acc. */
static void ukernel(int64_t kc, const float *restrict Ap, const float *restrict Bp, float *C,
                    int64_t ldc, int64_t mr, int64_t nr) {
    nn_v4f c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    for (int64_t k = 0; k < kc; k++) {
        nn_v4f b0 = v4_load(Bp), b1 = v4_load(Bp + 4);
        nn_v4f a0 = v4_splat(Ap[0]), a1 = v4_splat(Ap[1]);
        nn_v4f a2 = v4_splat(Ap[2]), a3 = v4_splat(Ap[3]);
        c00 += a0 * b0;
        c01 += a0 * b1;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c30 += a3 * b0;
        c31 += a3 * b1;
        Ap += NN_MR;
        Bp += NN_NR;
    }
    if (mr == NN_MR && nr == NN_NR) {
        float *r0 = C, *r1 = C + ldc, *r2 = C + 2 * ldc, *r3 = C + 3 * ldc;
        v4_store(r0, v4_load(r0) + c00);
        v4_store(r0 + 4, v4_load(r0 + 4) + c01);
        v4_store(r1, v4_load(r1) + c10);
        v4_store(r1 + 4, v4_load(r1 + 4) + c11);
        v4_store(r2, v4_load(r2) + c20);
        v4_store(r2 + 4, v4_load(r2 + 4) + c21);
        v4_store(r3, v4_load(r3) + c30);
        v4_store(r3 + 4, v4_load(r3 + 4) + c31);
        return;
    }
    float acc[NN_MR][NN_NR];
    v4_store(acc[0], c00);
    v4_store(acc[0] + 4, c01);
    v4_store(acc[1], c10);
    v4_store(acc[1] + 4, c11);
    v4_store(acc[2], c20);
    v4_store(acc[2] + 4, c21);
    v4_store(acc[3], c30);
    v4_store(acc[3] + 4, c31);
    for (int64_t i = 0; i < mr; i++)
        for (int64_t j = 0; j < nr; j++) C[i * ldc + j] += acc[i][j];
}
#else
static void ukernel(int64_t kc, const float *restrict Ap, const float *restrict Bp, float *C,
                    int64_t ldc, int64_t mr, int64_t nr) {
    float acc[NN_MR][NN_NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < NN_MR; i++)
            for (int j = 0; j < NN_NR; j++) acc[i][j] += Ap[i] * Bp[j];
        Ap += NN_MR;
        Bp += NN_NR;
    }
    for (int64_t i = 0; i < mr; i++)
        for (int64_t j = 0; j < nr; j++) C[i * ldc + j] += acc[i][j];
}
#endif

void nn_sgemm(int64_t M, int64_t N, int64_t K, const float *A, int64_t lda, const float *B,
              int64_t ldb, float *C, int64_t ldc, void *pack) {
    if (M <= 0 || N <= 0 || K <= 0) return;
    float *pa = (float *)pack;
    float *pb = pa + NN_MC * NN_KC;
    for (int64_t jc = 0; jc < N; jc += NN_NC) {
        int64_t nc = N - jc < NN_NC ? N - jc : NN_NC;
        for (int64_t pc = 0; pc < K; pc += NN_KC) {
            int64_t kc = K - pc < NN_KC ? K - pc : NN_KC;
            pack_b(kc, nc, B + pc * ldb + jc, ldb, pb);
            for (int64_t ic = 0; ic < M; ic += NN_MC) {
                int64_t mc = M - ic < NN_MC ? M - ic : NN_MC;
                pack_a(mc, kc, A + ic * lda + pc, lda, pa);
                for (int64_t jr = 0; jr < nc; jr += NN_NR) {
                    int64_t nr = nc - jr < NN_NR ? nc - jr : NN_NR;
                    const float *bp = pb + (jr / NN_NR) * kc * NN_NR;
                    for (int64_t ir = 0; ir < mc; ir += NN_MR) {
                        int64_t mr = mc - ir < NN_MR ? mc - ir : NN_MR;
                        const float *ap = pa + (ir / NN_MR) * kc * NN_MR;
                        ukernel(kc, ap, bp, C + (ic + ir) * ldc + jc + jr, ldc, mr, nr);
                    }
                }
            }
        }
    }
}

void nn_dgemm(int64_t M, int64_t N, int64_t K, const double *A, int64_t lda, const double *B,
              int64_t ldb, double *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        double *c = C + i * ldc;
        for (int64_t k = 0; k < K; k++) {
            double a = A[i * lda + k];
            const double *b = B + k * ldb;
            for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

void nn_igemm(int64_t M, int64_t N, int64_t K, const int32_t *A, int64_t lda, const int32_t *B,
              int64_t ldb, int32_t *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        int32_t *c = C + i * ldc;
        for (int64_t k = 0; k < K; k++) {
            int32_t a = A[i * lda + k];
            if (a == 0) continue;
            const int32_t *b = B + k * ldb;
            /* wrap-around arithmetic like the int32 accumulators of ONNX
             * runtimes; done in unsigned to stay defined */
            for (int64_t j = 0; j < N; j++)
                c[j] = (int32_t)((uint32_t)c[j] + (uint32_t)a * (uint32_t)b[j]);
        }
    }
}
