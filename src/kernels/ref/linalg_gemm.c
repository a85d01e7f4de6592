/*
 * linalg_gemm.c - matrix multiplication kernels.
 *
 * nne_gemm_f32 follows the usual blocked (Goto) scheme:
 *   for each NC-wide column block of B
 *     for each KC-deep slice of K
 *       pack B[kc x nc] into NR-wide column panels (zero padded)
 *       for each MC-high row block of A
 *         pack A[mc x kc] into MR-high row panels (zero padded)
 *         for each (MR x NR) tile: micro-kernel over kc, then add into C
 * The micro-kernel keeps an MR x NR accumulator block in registers; its inner
 * loop runs over NR contiguous floats with a constant trip count, which the
 * compiler turns into SIMD code. Packing makes every operand access
 * contiguous whatever the strides (transposes) of A and B are.
 * Very small M (a vector times a matrix) skips packing: the product is done
 * as row AXPYs or dot products directly on the operands.
 */
#include "kernels/ref/linalg_gemm.h"

#include <string.h>

#define MR 6
#define NR 8
#define MC 72   /* multiple of MR */
#define KC 256
#define NC 512  /* multiple of NR */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

size_t nne_gemm_f32_scratch(int64_t M, int64_t N, int64_t K) {
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    int64_t mc = round_up(min64(M, MC), MR);
    int64_t nc = round_up(min64(N, NC), NR);
    int64_t kc = min64(K, KC);
    return (size_t)((mc + nc) * kc) * sizeof(float) + 64;
}

/* Pack A(i0.., k0..) [mc x kc] into panels of MR rows: P[p][k][r]. */
static void pack_a(int64_t mc, int64_t kc, const float *A, int64_t rsa, int64_t csa,
                   float *restrict P) {
    for (int64_t i = 0; i < mc; i += MR) {
        int64_t mr = min64(MR, mc - i);
        const float *a = A + i * rsa;
        if (mr == MR && csa == 1) {
            for (int64_t k = 0; k < kc; k++) {
                for (int r = 0; r < MR; r++) P[r] = a[r * rsa + k];
                P += MR;
            }
        } else {
            for (int64_t k = 0; k < kc; k++) {
                int r = 0;
                for (; r < mr; r++) P[r] = a[r * rsa + k * csa];
                for (; r < MR; r++) P[r] = 0.0f;
                P += MR;
            }
        }
    }
}

/* Pack B(k0.., j0..) [kc x nc] into panels of NR columns: P[p][k][c]. */
static void pack_b(int64_t kc, int64_t nc, const float *B, int64_t rsb, int64_t csb,
                   float *restrict P) {
    for (int64_t j = 0; j < nc; j += NR) {
        int64_t nr = min64(NR, nc - j);
        const float *b = B + j * csb;
        if (nr == NR && csb == 1) {
            for (int64_t k = 0; k < kc; k++) {
                memcpy(P, b + k * rsb, NR * sizeof(float));
                P += NR;
            }
        } else if (nr == NR && rsb == 1) {
            /* transposed B: walk each column contiguously */
            for (int c = 0; c < NR; c++) {
                const float *col = b + c * csb;
                for (int64_t k = 0; k < kc; k++) P[k * NR + c] = col[k];
            }
            P += kc * NR;
        } else {
            for (int64_t k = 0; k < kc; k++) {
                int c = 0;
                for (; c < nr; c++) P[c] = b[k * rsb + c * csb];
                for (; c < NR; c++) P[c] = 0.0f;
                P += NR;
            }
        }
    }
}

/* acc[MR][NR] = sum_k Ap[k][r] * Bp[k][c] */
#if defined(__GNUC__) && NR == 8
/* GNU vector extension: two 4-float vectors per row (SSE/NEON width, or
 * split into scalars by the compiler on targets without SIMD). */
typedef float v4f __attribute__((vector_size(16)));

static inline v4f ld4(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void micro_kernel(int64_t kc, const float *restrict Ap, const float *restrict Bp,
                         float acc[MR][NR]) {
    v4f c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0};
    v4f c30 = {0}, c31 = {0}, c40 = {0}, c41 = {0}, c50 = {0}, c51 = {0};
    for (int64_t k = 0; k < kc; k++) {
        v4f b0 = ld4(Bp + k * NR), b1 = ld4(Bp + k * NR + 4);
        const float *a = Ap + k * MR;
        v4f a0 = {a[0], a[0], a[0], a[0]}, a1 = {a[1], a[1], a[1], a[1]};
        v4f a2 = {a[2], a[2], a[2], a[2]}, a3 = {a[3], a[3], a[3], a[3]};
        v4f a4 = {a[4], a[4], a[4], a[4]}, a5 = {a[5], a[5], a[5], a[5]};
        c00 += a0 * b0; c01 += a0 * b1;
        c10 += a1 * b0; c11 += a1 * b1;
        c20 += a2 * b0; c21 += a2 * b1;
        c30 += a3 * b0; c31 += a3 * b1;
        c40 += a4 * b0; c41 += a4 * b1;
        c50 += a5 * b0; c51 += a5 * b1;
    }
    memcpy(acc[0], &c00, 16); memcpy(acc[0] + 4, &c01, 16);
    memcpy(acc[1], &c10, 16); memcpy(acc[1] + 4, &c11, 16);
    memcpy(acc[2], &c20, 16); memcpy(acc[2] + 4, &c21, 16);
    memcpy(acc[3], &c30, 16); memcpy(acc[3] + 4, &c31, 16);
    memcpy(acc[4], &c40, 16); memcpy(acc[4] + 4, &c41, 16);
    memcpy(acc[5], &c50, 16); memcpy(acc[5] + 4, &c51, 16);
}
#else
static void micro_kernel(int64_t kc, const float *restrict Ap, const float *restrict Bp,
                         float acc[MR][NR]) {
    float c0[NR] = {0}, c1[NR] = {0}, c2[NR] = {0}, c3[NR] = {0}, c4[NR] = {0}, c5[NR] = {0};
    for (int64_t k = 0; k < kc; k++) {
        const float *b = Bp + k * NR;
        const float *a = Ap + k * MR;
        float a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3], a4 = a[4], a5 = a[5];
        for (int c = 0; c < NR; c++) {
            float bv = b[c];
            c0[c] += a0 * bv;
            c1[c] += a1 * bv;
            c2[c] += a2 * bv;
            c3[c] += a3 * bv;
            c4[c] += a4 * bv;
            c5[c] += a5 * bv;
        }
    }
    memcpy(acc[0], c0, sizeof c0);
    memcpy(acc[1], c1, sizeof c1);
    memcpy(acc[2], c2, sizeof c2);
    memcpy(acc[3], c3, sizeof c3);
    memcpy(acc[4], c4, sizeof c4);
    memcpy(acc[5], c5, sizeof c5);
}
#endif

/* C tile (mr x nr) = alpha*acc + beta*C (beta==0: C write-only). */
static void store_tile(int64_t mr, int64_t nr, float acc[MR][NR], float alpha, float beta,
                       float *C, int64_t ldc) {
    for (int64_t r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        if (beta == 0.0f) {
            for (int64_t j = 0; j < nr; j++) c[j] = alpha * acc[r][j];
        } else if (beta == 1.0f) {
            for (int64_t j = 0; j < nr; j++) c[j] += alpha * acc[r][j];
        } else {
            for (int64_t j = 0; j < nr; j++) c[j] = alpha * acc[r][j] + beta * c[j];
        }
    }
}

static void scale_rows(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f) {
            memset(c, 0, (size_t)N * sizeof(float));
        } else if (beta != 1.0f) {
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
        }
    }
}

/* Small M, row-contiguous B: C[i,:] += (alpha*A(i,k)) * B[k,:]. */
static void gemm_small_axpy(int64_t M, int64_t N, int64_t K, float alpha,
                            const float *A, int64_t rsa, int64_t csa,
                            const float *B, int64_t rsb, float beta, float *C, int64_t ldc) {
    scale_rows(M, N, beta, C, ldc);
    for (int64_t i = 0; i < M; i++) {
        float *restrict c = C + i * ldc;
        for (int64_t k = 0; k < K; k++) {
            float a = alpha * A[i * rsa + k * csa];
            const float *restrict b = B + k * rsb;
            for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
        }
    }
}

/* Dot product of two contiguous vectors with 8 independent partial sums
 * (scalars, so they stay in registers). */
static float dot_f32(int64_t n, const float *restrict x, const float *restrict y) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
    int64_t k = 0;
    for (; k + 8 <= n; k += 8) {
        s0 += x[k] * y[k];
        s1 += x[k + 1] * y[k + 1];
        s2 += x[k + 2] * y[k + 2];
        s3 += x[k + 3] * y[k + 3];
        s4 += x[k + 4] * y[k + 4];
        s5 += x[k + 5] * y[k + 5];
        s6 += x[k + 6] * y[k + 6];
        s7 += x[k + 7] * y[k + 7];
    }
    float t = ((s0 + s4) + (s1 + s5)) + ((s2 + s6) + (s3 + s7));
    for (; k < n; k++) t += x[k] * y[k];
    return t;
}

/* Small M, column-contiguous B (B transposed) and row-contiguous A. */
static void gemm_small_dot(int64_t M, int64_t N, int64_t K, float alpha,
                           const float *A, int64_t rsa, const float *B, int64_t csb,
                           float beta, float *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        const float *a = A + i * rsa;
        float *c = C + i * ldc;
        for (int64_t j = 0; j < N; j++) {
            float v = alpha * dot_f32(K, a, B + j * csb);
            c[j] = beta == 0.0f ? v : v + beta * c[j];
        }
    }
}

void nne_gemm_f32(int64_t M, int64_t N, int64_t K, float alpha,
                  const float *A, int64_t rsa, int64_t csa,
                  const float *B, int64_t rsb, int64_t csb,
                  float beta, float *C, int64_t ldc, void *scratch) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_rows(M, N, beta, C, ldc);
        return;
    }
    if (M <= 4) {
        if (csb == 1) {
            gemm_small_axpy(M, N, K, alpha, A, rsa, csa, B, rsb, beta, C, ldc);
            return;
        }
        if (rsb == 1 && csa == 1) {
            gemm_small_dot(M, N, K, alpha, A, rsa, B, csb, beta, C, ldc);
            return;
        }
    }
    float *packA = (float *)scratch;
    int64_t mcmax = round_up(min64(M, MC), MR);
    int64_t kcmax = min64(K, KC);
    float *packB = packA + mcmax * kcmax;
    float acc[MR][NR];

    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = min64(NC, N - jc);
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = min64(KC, K - pc);
            float bt = pc == 0 ? beta : 1.0f;
            pack_b(kc, nc, B + pc * rsb + jc * csb, rsb, csb, packB);
            for (int64_t ic = 0; ic < M; ic += MC) {
                int64_t mc = min64(MC, M - ic);
                pack_a(mc, kc, A + ic * rsa + pc * csa, rsa, csa, packA);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    int64_t nr = min64(NR, nc - jr);
                    const float *bp = packB + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        int64_t mr = min64(MR, mc - ir);
                        micro_kernel(kc, packA + ir * kc, bp, acc);
                        store_tile(mr, nr, acc, alpha, bt,
                                   C + (ic + ir) * ldc + jc + jr, ldc);
                    }
                }
            }
        }
    }
}

void nne_gemm_f64(int64_t M, int64_t N, int64_t K, double alpha,
                  const double *A, int64_t rsa, int64_t csa,
                  const double *B, int64_t rsb, int64_t csb,
                  double beta, double *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        double *restrict c = C + i * ldc;
        if (beta == 0.0) {
            for (int64_t j = 0; j < N; j++) c[j] = 0.0;
        } else if (beta != 1.0) {
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
        }
        for (int64_t k = 0; k < K; k++) {
            double a = alpha * A[i * rsa + k * csa];
            const double *b = B + k * rsb;
            if (csb == 1) {
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j * csb];
            }
        }
    }
}

void nne_gemm_i64(int64_t M, int64_t N, int64_t K,
                  const int64_t *A, int64_t rsa, int64_t csa,
                  const int64_t *B, int64_t rsb, int64_t csb,
                  int accumulate, int64_t *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        /* unsigned arithmetic: wrap-around instead of UB on overflow */
        uint64_t *restrict c = (uint64_t *)(C + i * ldc);
        if (!accumulate) {
            for (int64_t j = 0; j < N; j++) c[j] = 0;
        }
        for (int64_t k = 0; k < K; k++) {
            uint64_t a = (uint64_t)A[i * rsa + k * csa];
            const int64_t *b = B + k * rsb;
            for (int64_t j = 0; j < N; j++) c[j] += a * (uint64_t)b[j * csb];
        }
    }
}
