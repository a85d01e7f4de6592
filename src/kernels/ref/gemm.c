/*
 * gemm.c - matrix multiplication kernels (see gemm.h for the contract).
 *
 * nne_f32_gemm_blocked__portable, the optimized portable float GEMM that
 * the kernel table (kernels/dispatch.c) selects for nne_gemm_f32, picks one
 * of three paths:
 *   - A few rows (M <= 4) and row-contiguous B (csb == 1): C rows are
 *     updated with AXPYs straight from the operands, four rows of B at a time.
 *   - Few rows or few columns, row-contiguous A and column-contiguous B
 *     (B transposed, e.g. a Linear layer's weight): one dot product per
 *     output, four columns of B sharing each load of A.
 *   - Everything else goes through the blocked (Goto / BLIS) scheme:
 *       for each NC-wide column block of B
 *         for each KC-deep slice of K
 *           pack B[kc x nc] into NR-wide column panels (zero padded)
 *           for each MC-high row block of A
 *             pack A[mc x kc] into MR-high row panels (zero padded), each
 *             value stored four times, already broadcast to a vector
 *             for each (MR x NR) tile: the micro-kernel keeps the 4x8 tile
 *             in eight 4-float registers over kc, then C = alpha*acc + beta*C
 *     Packing makes every operand access contiguous whatever the strides
 *     (transposes) of A and B are; contiguous rows are copied with memcpy.
 *     Storing A pre-broadcast costs 4x the packing stores but takes every
 *     shuffle out of the inner loop, which then is only loads, multiplies and
 *     adds (measured ~30% faster than broadcasting in the loop on x86-64
 *     SSE2, the baseline this file is compiled for).
 * The vector code uses GCC/Clang vector extensions (4 floats: SSE or NEON);
 * other compilers get plain C loops with the same blocking.
 */
#include "kernels/ref/gemm.h"
#include "kernels/dispatch.h"

#include <string.h>

#define GEMM_MR 4   /* rows of the register tile */
#define GEMM_NR 8   /* columns of the register tile */
#define GEMM_MC 96  /* rows of a packed A block, multiple of GEMM_MR */
#define GEMM_KC 128 /* depth of a packed slice */
#define GEMM_NC 256 /* columns of a packed B block, multiple of GEMM_NR */
#define GEMM_AW 4   /* copies of each packed A value (one vector) */

static int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }
static int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

/* Floats of packed A / packed B for a block of the given size. */
static int64_t packa_floats(int64_t M, int64_t K) {
    return round_up(min64(M, GEMM_MC), GEMM_MR) * min64(K, GEMM_KC) * GEMM_AW;
}
static int64_t packb_floats(int64_t N, int64_t K) {
    return round_up(min64(N, GEMM_NC), GEMM_NR) * min64(K, GEMM_KC);
}

size_t nne_f32_gemm_scratch__portable(int64_t M, int64_t N, int64_t K) {
    if (M <= 0 || N <= 0 || K <= 0) return 0;
    /* packed B starts on a 64-byte boundary after packed A */
    return (size_t)(round_up(packa_floats(M, K), 16) + packb_floats(N, K)) * sizeof(float) + 64;
}

/* C[M x N] = beta * C (beta == 0: zeros, whatever C held). */
static void scale_rows(int64_t M, int64_t N, float beta, float *C, int64_t ldc) {
    if (beta == 1.0f) return;
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * ldc;
        if (beta == 0.0f) {
            memset(c, 0, (size_t)N * sizeof(float));
        } else {
            for (int64_t j = 0; j < N; j++) c[j] *= beta;
        }
    }
}

/* One output of a tile: alpha * acc + beta * c, with beta 0 / 1 exact. */
static inline float blend(float acc, float alpha, float beta, float c) {
    float x = alpha * acc;
    return beta == 0.0f ? x : beta == 1.0f ? c + x : beta * c + x;
}

#if defined(__GNUC__) || defined(__clang__)
#define GEMM_VEC 1
typedef float v4f __attribute__((vector_size(16)));

static inline v4f ld4(const float *p) {
    v4f v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void st4(float *p, v4f v) { memcpy(p, &v, sizeof v); }
static inline v4f splat4(float x) { return (v4f){x, x, x, x}; }
static inline float hsum4(v4f v) { return (v[0] + v[2]) + (v[1] + v[3]); }
/* p[0..GEMM_AW) = x */
static inline void put_bcast(float *p, float x) { st4(p, splat4(x)); }
#else
#define GEMM_VEC 0
static inline void put_bcast(float *p, float x) {
    for (int q = 0; q < GEMM_AW; q++) p[q] = x;
}
#endif

/* ------------------------------------------------------------ packing -- */

/* Pack A(0.., 0..) [mc x kc] into panels of MR rows; panel p holds, for each
 * k, the MR values A(p*MR + r, k), each repeated GEMM_AW times. Rows past mc
 * are zeros. */
static void pack_a(int64_t mc, int64_t kc, const float *A, int64_t rsa, int64_t csa,
                   float *restrict P) {
    for (int64_t i = 0; i < mc; i += GEMM_MR) {
        int64_t mr = min64(GEMM_MR, mc - i);
        const float *a = A + i * rsa;
        if (mr == GEMM_MR) {
            const float *a0 = a, *a1 = a + rsa, *a2 = a + 2 * rsa, *a3 = a + 3 * rsa;
            for (int64_t k = 0; k < kc; k++) {
                int64_t o = k * csa;
                put_bcast(P, a0[o]);
                put_bcast(P + GEMM_AW, a1[o]);
                put_bcast(P + 2 * GEMM_AW, a2[o]);
                put_bcast(P + 3 * GEMM_AW, a3[o]);
                P += GEMM_MR * GEMM_AW;
            }
            continue;
        }
        for (int64_t k = 0; k < kc; k++) {
            int64_t r = 0;
            for (; r < mr; r++) put_bcast(P + r * GEMM_AW, a[r * rsa + k * csa]);
            for (; r < GEMM_MR; r++) put_bcast(P + r * GEMM_AW, 0.0f);
            P += GEMM_MR * GEMM_AW;
        }
    }
}

/* Pack B(0.., 0..) [kc x nc] into panels of NR columns: panel p holds, for
 * each k, B(k, p*NR + c) for c < NR. Columns past nc are zeros. */
static void pack_b(int64_t kc, int64_t nc, const float *B, int64_t rsb, int64_t csb,
                   float *restrict P) {
    for (int64_t j = 0; j < nc; j += GEMM_NR) {
        int64_t nr = min64(GEMM_NR, nc - j);
        const float *b = B + j * csb;
        if (nr == GEMM_NR && csb == 1) {
            for (int64_t k = 0; k < kc; k++) {
                memcpy(P, b + k * rsb, GEMM_NR * sizeof(float));
                P += GEMM_NR;
            }
        } else if (nr == GEMM_NR && rsb == 1) {
            /* transposed B: walk each column contiguously */
            for (int64_t c = 0; c < GEMM_NR; c++) {
                const float *col = b + c * csb;
                for (int64_t k = 0; k < kc; k++) P[k * GEMM_NR + c] = col[k];
            }
            P += kc * GEMM_NR;
        } else {
            for (int64_t k = 0; k < kc; k++) {
                int64_t c = 0;
                for (; c < nr; c++) P[c] = b[k * rsb + c * csb];
                for (; c < GEMM_NR; c++) P[c] = 0.0f;
                P += GEMM_NR;
            }
        }
    }
}

/* ------------------------------------------------------- micro-kernels -- */

#if GEMM_VEC
/* C tile row (8 floats) = alpha*(x0,x1) + beta*C. */
static inline void store_row8(float *c, v4f x0, v4f x1, float alpha, float beta) {
    if (alpha != 1.0f) {
        x0 *= splat4(alpha);
        x1 *= splat4(alpha);
    }
    if (beta == 1.0f) {
        x0 += ld4(c);
        x1 += ld4(c + 4);
    } else if (beta != 0.0f) {
        x0 += splat4(beta) * ld4(c);
        x1 += splat4(beta) * ld4(c + 4);
    }
    st4(c, x0);
    st4(c + 4, x1);
}

/* 4x8 tile over kc: Ap holds 4 broadcast vectors per k, Bp 8 floats per k.
 * C[mr x nr] = alpha * tile + beta * C. */
static void f32_gemm_ukernel_4x8(int64_t kc, const float *restrict Ap, const float *restrict Bp,
                                 float *C, int64_t ldc, int64_t mr, int64_t nr, float alpha,
                                 float beta) {
    v4f c00 = {0}, c01 = {0}, c10 = {0}, c11 = {0}, c20 = {0}, c21 = {0}, c30 = {0}, c31 = {0};
    for (int64_t k = 0; k < kc; k++) {
        v4f b0 = ld4(Bp), b1 = ld4(Bp + 4);
        v4f a0 = ld4(Ap), a1 = ld4(Ap + 4), a2 = ld4(Ap + 8), a3 = ld4(Ap + 12);
        c00 += a0 * b0;
        c01 += a0 * b1;
        c10 += a1 * b0;
        c11 += a1 * b1;
        c20 += a2 * b0;
        c21 += a2 * b1;
        c30 += a3 * b0;
        c31 += a3 * b1;
        Ap += GEMM_MR * GEMM_AW;
        Bp += GEMM_NR;
    }
    if (mr == GEMM_MR && nr == GEMM_NR) {
        store_row8(C, c00, c01, alpha, beta);
        store_row8(C + ldc, c10, c11, alpha, beta);
        store_row8(C + 2 * ldc, c20, c21, alpha, beta);
        store_row8(C + 3 * ldc, c30, c31, alpha, beta);
        return;
    }
    float acc[GEMM_MR][GEMM_NR];
    st4(acc[0], c00), st4(acc[0] + 4, c01);
    st4(acc[1], c10), st4(acc[1] + 4, c11);
    st4(acc[2], c20), st4(acc[2] + 4, c21);
    st4(acc[3], c30), st4(acc[3] + 4, c31);
    for (int64_t i = 0; i < mr; i++)
        for (int64_t j = 0; j < nr; j++) C[i * ldc + j] = blend(acc[i][j], alpha, beta, C[i * ldc + j]);
}
#else
static void f32_gemm_ukernel_4x8(int64_t kc, const float *restrict Ap, const float *restrict Bp,
                                 float *C, int64_t ldc, int64_t mr, int64_t nr, float alpha,
                                 float beta) {
    float acc[GEMM_MR][GEMM_NR] = {{0}};
    for (int64_t k = 0; k < kc; k++) {
        for (int i = 0; i < GEMM_MR; i++)
            for (int j = 0; j < GEMM_NR; j++) acc[i][j] += Ap[i * GEMM_AW] * Bp[j];
        Ap += GEMM_MR * GEMM_AW;
        Bp += GEMM_NR;
    }
    for (int64_t i = 0; i < mr; i++)
        for (int64_t j = 0; j < nr; j++) C[i * ldc + j] = blend(acc[i][j], alpha, beta, C[i * ldc + j]);
}
#endif

/* ---------------------------------------------------- small-M / -N paths -- */

/* M <= 4, csb == 1: C[i,:] = beta*C[i,:] + sum_k (alpha*A(i,k)) * B[k,:],
 * four rows of B per pass over C (they stay in cache across the M rows). */
static void gemm_axpy(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                      int64_t csa, const float *B, int64_t rsb, float beta, float *C,
                      int64_t ldc) {
    scale_rows(M, N, beta, C, ldc);
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
        const float *restrict b0 = B + k * rsb, *restrict b1 = b0 + rsb;
        const float *restrict b2 = b1 + rsb, *restrict b3 = b2 + rsb;
        for (int64_t i = 0; i < M; i++) {
            const float *a = A + i * rsa + k * csa;
            float a0 = alpha * a[0], a1 = alpha * a[csa], a2 = alpha * a[2 * csa];
            float a3 = alpha * a[3 * csa];
            float *restrict c = C + i * ldc;
            int64_t j = 0;
#if GEMM_VEC
            v4f va0 = splat4(a0), va1 = splat4(a1), va2 = splat4(a2), va3 = splat4(a3);
            for (; j + 4 <= N; j += 4)
                st4(c + j, ld4(c + j) + ((va0 * ld4(b0 + j) + va1 * ld4(b1 + j)) +
                                         (va2 * ld4(b2 + j) + va3 * ld4(b3 + j))));
#endif
            for (; j < N; j++) c[j] += (a0 * b0[j] + a1 * b1[j]) + (a2 * b2[j] + a3 * b3[j]);
        }
    }
    for (; k < K; k++) {
        const float *restrict b = B + k * rsb;
        for (int64_t i = 0; i < M; i++) {
            float a = alpha * A[i * rsa + k * csa];
            float *restrict c = C + i * ldc;
            int64_t j = 0;
#if GEMM_VEC
            v4f va = splat4(a);
            for (; j + 4 <= N; j += 4) st4(c + j, ld4(c + j) + va * ld4(b + j));
#endif
            for (; j < N; j++) c[j] += a * b[j];
        }
    }
}

/* Four dot products of a (length K, contiguous) with b0..b3 (contiguous). */
static void dot4(int64_t K, const float *restrict a, const float *restrict b0,
                 const float *restrict b1, const float *restrict b2, const float *restrict b3,
                 float out[4]) {
    int64_t k = 0;
    float t0 = 0.0f, t1 = 0.0f, t2 = 0.0f, t3 = 0.0f;
#if GEMM_VEC
    v4f s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0};
    for (; k + 4 <= K; k += 4) {
        v4f av = ld4(a + k);
        s0 += av * ld4(b0 + k);
        s1 += av * ld4(b1 + k);
        s2 += av * ld4(b2 + k);
        s3 += av * ld4(b3 + k);
    }
    t0 = hsum4(s0), t1 = hsum4(s1), t2 = hsum4(s2), t3 = hsum4(s3);
#endif
    for (; k < K; k++) {
        t0 += a[k] * b0[k];
        t1 += a[k] * b1[k];
        t2 += a[k] * b2[k];
        t3 += a[k] * b3[k];
    }
    out[0] = t0, out[1] = t1, out[2] = t2, out[3] = t3;
}

/* csa == 1, rsb == 1: C(i,j) = alpha * <A row i, B column j> + beta * C(i,j).
 * Four columns at a time; the M rows of A reuse them while they are hot. */
static void gemm_dot(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                     const float *B, int64_t csb, float beta, float *C, int64_t ldc) {
    float t[4];
    for (int64_t j = 0; j < N; j += 4) {
        int64_t nj = min64(4, N - j);
        const float *b0 = B + j * csb;
        /* missing columns of the last group repeat column j (results unused) */
        const float *b1 = nj > 1 ? b0 + csb : b0, *b2 = nj > 2 ? b0 + 2 * csb : b0;
        const float *b3 = nj > 3 ? b0 + 3 * csb : b0;
        for (int64_t i = 0; i < M; i++) {
            dot4(K, A + i * rsa, b0, b1, b2, b3, t);
            float *c = C + i * ldc + j;
            for (int64_t q = 0; q < nj; q++) c[q] = blend(t[q], alpha, beta, c[q]);
        }
    }
}

/* ------------------------------------------------------------- driver -- */

void nne_f32_gemm_blocked__portable(int64_t M, int64_t N, int64_t K, float alpha,
                                    const float *A, int64_t rsa, int64_t csa,
                                    const float *B, int64_t rsb, int64_t csb,
                                    float beta, float *C, int64_t ldc, void *scratch) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_rows(M, N, beta, C, ldc);
        return;
    }
    if (M <= GEMM_MR && csb == 1) {
        gemm_axpy(M, N, K, alpha, A, rsa, csa, B, rsb, beta, C, ldc);
        return;
    }
    if ((M <= GEMM_MR || N <= 4) && csa == 1 && rsb == 1) {
        gemm_dot(M, N, K, alpha, A, rsa, B, csb, beta, C, ldc);
        return;
    }
    float *packA = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    float *packB = packA + round_up(packa_floats(M, K), 16);

    for (int64_t jc = 0; jc < N; jc += GEMM_NC) {
        int64_t nc = min64(GEMM_NC, N - jc);
        for (int64_t pc = 0; pc < K; pc += GEMM_KC) {
            int64_t kc = min64(GEMM_KC, K - pc);
            float bt = pc == 0 ? beta : 1.0f;
            pack_b(kc, nc, B + pc * rsb + jc * csb, rsb, csb, packB);
            for (int64_t ic = 0; ic < M; ic += GEMM_MC) {
                int64_t mc = min64(GEMM_MC, M - ic);
                pack_a(mc, kc, A + ic * rsa + pc * csa, rsa, csa, packA);
                for (int64_t jr = 0; jr < nc; jr += GEMM_NR) {
                    int64_t nr = min64(GEMM_NR, nc - jr);
                    const float *bp = packB + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += GEMM_MR) {
                        int64_t mr = min64(GEMM_MR, mc - ir);
                        f32_gemm_ukernel_4x8(kc, packA + ir * kc * GEMM_AW, bp,
                                             C + (ic + ir) * ldc + jc + jr, ldc, mr, nr, alpha,
                                             bt);
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------- pre-packed B (weights) --
 * A constant B (the weights of Gemm / MatMul) is packed once per plan into
 * the panels the blocked driver would build on every call: for each NC-wide
 * column block jc, for each KC-deep slice pc, the slice packed as pack_b
 * does, at float offset jc*K + round_up(nc, NR)*pc. The driver then only
 * packs A. */

int nne_gemm_f32_blocked_path(int64_t M, int64_t N, int64_t csa, int64_t rsb, int64_t csb) {
    if (M <= GEMM_MR && csb == 1) return 0;
    if ((M <= GEMM_MR || N <= 4) && csa == 1 && rsb == 1) return 0;
    return 1;
}

size_t nne_gemm_f32_packed_b_bytes(int64_t N, int64_t K) {
    if (N <= 0 || K <= 0) return 0;
    return (size_t)(round_up(N, GEMM_NR) * K) * sizeof(float);
}

void nne_gemm_f32_pack_b(int64_t N, int64_t K, const float *B, int64_t rsb, int64_t csb, float *P) {
    for (int64_t jc = 0; jc < N; jc += GEMM_NC) {
        int64_t nc = min64(GEMM_NC, N - jc);
        for (int64_t pc = 0; pc < K; pc += GEMM_KC) {
            int64_t kc = min64(GEMM_KC, K - pc);
            pack_b(kc, nc, B + pc * rsb + jc * csb, rsb, csb, P + jc * K + round_up(nc, GEMM_NR) * pc);
        }
    }
}

void nne_f32_gemm_packed_b__portable(int64_t M, int64_t N, int64_t K, float alpha,
                                     const float *A, int64_t rsa, int64_t csa, const float *Pb,
                                     float beta, float *C, int64_t ldc, void *scratch) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0 || alpha == 0.0f) {
        scale_rows(M, N, beta, C, ldc);
        return;
    }
    float *packA = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    for (int64_t jc = 0; jc < N; jc += GEMM_NC) {
        int64_t nc = min64(GEMM_NC, N - jc);
        for (int64_t pc = 0; pc < K; pc += GEMM_KC) {
            int64_t kc = min64(GEMM_KC, K - pc);
            float bt = pc == 0 ? beta : 1.0f;
            const float *packB = Pb + jc * K + round_up(nc, GEMM_NR) * pc;
            for (int64_t ic = 0; ic < M; ic += GEMM_MC) {
                int64_t mc = min64(GEMM_MC, M - ic);
                pack_a(mc, kc, A + ic * rsa + pc * csa, rsa, csa, packA);
                for (int64_t jr = 0; jr < nc; jr += GEMM_NR) {
                    int64_t nr = min64(GEMM_NR, nc - jr);
                    const float *bp = packB + jr * kc;
                    for (int64_t ir = 0; ir < mc; ir += GEMM_MR) {
                        int64_t mr = min64(GEMM_MR, mc - ir);
                        f32_gemm_ukernel_4x8(kc, packA + ir * kc * GEMM_AW, bp,
                                             C + (ic + ir) * ldc + jc + jr, ldc, mr, nr, alpha,
                                             bt);
                    }
                }
            }
        }
    }
}

/* ---------------------------------------------------- double, integers -- */

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
        if (alpha == 0.0) continue;
        for (int64_t k = 0; k < K; k++) {
            double a = alpha * A[i * rsa + k * csa];
            const double *restrict b = B + k * rsb;
            if (csb == 1) {
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j];
            } else {
                for (int64_t j = 0; j < N; j++) c[j] += a * b[j * csb];
            }
        }
    }
}

/* Unsigned arithmetic: wrap-around instead of undefined overflow. */
void nne_gemm_i32(int64_t M, int64_t N, int64_t K,
                  const int32_t *A, int64_t rsa, int64_t csa,
                  const int32_t *B, int64_t rsb, int64_t csb,
                  int accumulate, int32_t *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        int32_t *restrict c = C + i * ldc;
        if (!accumulate) memset(c, 0, (size_t)N * sizeof(int32_t));
        for (int64_t k = 0; k < K; k++) {
            uint32_t a = (uint32_t)A[i * rsa + k * csa];
            if (a == 0) continue; /* zero-point-shifted inputs are often 0 */
            const int32_t *restrict b = B + k * rsb;
            for (int64_t j = 0; j < N; j++)
                c[j] = (int32_t)((uint32_t)c[j] + a * (uint32_t)b[j * csb]);
        }
    }
}

void nne_gemm_i64(int64_t M, int64_t N, int64_t K,
                  const int64_t *A, int64_t rsa, int64_t csa,
                  const int64_t *B, int64_t rsb, int64_t csb,
                  int accumulate, int64_t *C, int64_t ldc) {
    for (int64_t i = 0; i < M; i++) {
        uint64_t *restrict c = (uint64_t *)(C + i * ldc);
        if (!accumulate) memset(c, 0, (size_t)N * sizeof(uint64_t));
        for (int64_t k = 0; k < K; k++) {
            uint64_t a = (uint64_t)A[i * rsa + k * csa];
            const int64_t *restrict b = B + k * rsb;
            for (int64_t j = 0; j < N; j++) c[j] += a * (uint64_t)b[j * csb];
        }
    }
}
