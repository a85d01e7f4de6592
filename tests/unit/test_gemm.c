/*
 * test_gemm.c - differential tests of the GEMM kernels (kernels/ref/gemm.c)
 * against naive double loops. The float kernel is run on sizes below, at
 * and above its register tile (4x8) and cache blocks (96 x 128 x 256), with
 * every combination of transposed / padded operands, alpha and beta (beta 0
 * must ignore NaN in C), and on the shapes that take its small-M AXPY and
 * dot-product paths. Scratch is allocated at exactly the advertised size and
 * misaligned, so ASan catches any overrun. Columns of C past N must stay
 * untouched. Double / int32 / int64 are checked on strided operands, the
 * integer ones for two's-complement wrap-around.
 */
#include "kernels/ref/gemm.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t g_seed = 987654u;
static float frand(void) {
    g_seed = g_seed * 1664525u + 1013904223u;
    return (float)((g_seed >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* One float case; returns the number of wrong elements. */
static int run_f32(int64_t M, int64_t N, int64_t K, int ta, int tb, float alpha, float beta) {
    /* A is M x K (or stored K x M when ta), rows padded by 3 */
    int64_t lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
    int64_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
    float *A = malloc(sizeof(float) * (size_t)(na ? na : 1));
    float *B = malloc(sizeof(float) * (size_t)(nb ? nb : 1));
    float *C = malloc(sizeof(float) * (size_t)(nc ? nc : 1));
    float *C0 = malloc(sizeof(float) * (size_t)(nc ? nc : 1));
    for (int64_t i = 0; i < na; i++) A[i] = frand();
    for (int64_t i = 0; i < nb; i++) B[i] = frand();
    for (int64_t i = 0; i < nc; i++) C0[i] = beta == 0.0f && i % 7 == 0 ? NAN : frand();
    memcpy(C, C0, sizeof(float) * (size_t)nc);
    int64_t rsa = ta ? 1 : lda, csa = ta ? lda : 1, rsb = tb ? 1 : ldb, csb = tb ? ldb : 1;
    size_t sb = nne_gemm_f32_scratch(M, N, K);
    char *raw = malloc(sb + 1);
    nne_gemm_f32(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, ldc, raw + 1);
    int bad = 0;
    for (int64_t i = 0; i < M; i++)
        for (int64_t j = 0; j < ldc; j++) {
            float got = C[i * ldc + j], old = C0[i * ldc + j];
            if (j >= N) { /* padding: untouched (NaN compares by bits) */
                if (memcmp(&got, &old, sizeof got) != 0) bad++;
                continue;
            }
            double ref = 0.0, mag = 0.0;
            for (int64_t k = 0; k < K; k++) {
                double p = (double)A[i * rsa + k * csa] * B[k * rsb + j * csb];
                ref += p;
                mag += fabs(p);
            }
            ref *= alpha;
            if (beta != 0.0f) ref += (double)beta * old;
            if (!(fabs(ref - got) <= 1e-4 * (1.0 + mag))) bad++;
        }
    free(A), free(B), free(C), free(C0), free(raw);
    return bad;
}

static void test_f32(void) {
    static const int64_t ms[] = {1, 2, 3, 4, 5, 9, 97, 130};
    static const int64_t ns[] = {1, 3, 4, 7, 8, 9, 17, 260};
    static const int64_t ks[] = {1, 5, 128, 129, 300};
    static const float alphas[] = {1.0f, 0.5f};
    static const float betas[] = {0.0f, 1.0f, -0.75f};
    int bad = 0, cases = 0, idx = 0;
    for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
        for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
            for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++, idx++) {
                int64_t M = ms[a], N = ns[b], K = ks[c];
                if (M * N * K > 2000000) continue; /* keep the sanitizer run short */
                int lay = idx % 4;
                bad += run_f32(M, N, K, lay & 1, lay >> 1, alphas[idx % 2], betas[idx % 3]);
                cases++;
            }
    /* every layout and beta on one shape that crosses all block edges */
    for (int lay = 0; lay < 4; lay++)
        for (int b = 0; b < 3; b++) bad += run_f32(101, 263, 131, lay & 1, lay >> 1, 1.0f, betas[b]);
    /* degenerate: K == 0 and alpha == 0 give beta * C */
    bad += run_f32(5, 9, 0, 0, 0, 1.0f, 0.0f);
    bad += run_f32(5, 9, 0, 0, 0, 1.0f, -0.75f);
    bad += run_f32(6, 10, 7, 0, 1, 0.0f, 1.0f);
    CHECK(cases > 200);
    CHECK(bad == 0);
    CHECK(nne_gemm_f32_scratch(0, 5, 5) == 0);
    CHECK(nne_gemm_f32_scratch(1 << 20, 1 << 20, 1 << 20) == nne_gemm_f32_scratch(1 << 21, 1 << 21, 1 << 21));
}

static void test_f64_int(void) {
    enum { M = 5, N = 6, K = 7 };
    double A[K][M], B[N][K], C[M][N + 1]; /* A and B stored transposed */
    int32_t Ai[M][K], Bi[K][N], Ci[M][N];
    int64_t Al[M][K], Bl[K][N], Cl[M][N];
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            A[k][i] = frand();
            Ai[i][k] = (int32_t)(frand() * 200);
            Al[i][k] = (int64_t)(frand() * 2e6);
        }
    for (int k = 0; k < K; k++)
        for (int j = 0; j < N; j++) {
            B[j][k] = frand();
            Bi[k][j] = (int32_t)(frand() * 200);
            Bl[k][j] = (int64_t)(frand() * 2e6);
        }
    for (int i = 0; i < M; i++)
        for (int j = 0; j <= N; j++) C[i][j] = frand();
    double C0[M][N + 1];
    memcpy(C0, C, sizeof C);
    nne_gemm_f64(M, N, K, 2.0, &A[0][0], 1, M, &B[0][0], 1, K, 0.5, &C[0][0], N + 1);
    int bad = 0;
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double r = 0.5 * C0[i][j];
            for (int k = 0; k < K; k++) r += 2.0 * A[k][i] * B[j][k];
            if (fabs(r - C[i][j]) > 1e-12) bad++;
        }
        if (C[i][N] != C0[i][N]) bad++;
    }
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) Ci[i][j] = 3, Cl[i][j] = 3;
    nne_gemm_i32(M, N, K, &Ai[0][0], K, 1, &Bi[0][0], N, 1, 1, &Ci[0][0], N);
    nne_gemm_i64(M, N, K, &Al[0][0], K, 1, &Bl[0][0], N, 1, 0, &Cl[0][0], N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            int64_t ri = 3, rl = 0;
            for (int k = 0; k < K; k++) ri += (int64_t)Ai[i][k] * Bi[k][j], rl += Al[i][k] * Bl[k][j];
            if (Ci[i][j] != ri || Cl[i][j] != rl) bad++;
        }
    CHECK(bad == 0);
    /* wrap-around instead of overflow */
    int32_t a32 = INT32_MAX, b32 = 2, c32 = 0;
    nne_gemm_i32(1, 1, 1, &a32, 1, 1, &b32, 1, 1, 0, &c32, 1);
    CHECK(c32 == -2);
    int64_t a64 = INT64_MAX, b64 = 2, c64 = 5;
    nne_gemm_i64(1, 1, 1, &a64, 1, 1, &b64, 1, 1, 1, &c64, 1);
    CHECK(c64 == 3);
}

void unit_gemm(void) {
    test_f32();
    test_f64_int();
}
