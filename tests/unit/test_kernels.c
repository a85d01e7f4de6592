/*
 * test_kernels.c - the kernel table (kernels/dispatch.c) and every variant
 * of each family (generated from kernels/<family>.inc) against the plain
 * reference kernel, on shapes around the tile and block edges of the blocked
 * GEMM (MR 4, NR 8, MC 96, KC 128, NC 256) and on convolutions with
 * padding, stride, dilation and groups.
 */
#include "kernels/dispatch.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t g_seed = 424242u;
static float frand(void) {
    g_seed = g_seed * 1664525u + 1013904223u;
    return (float)((g_seed >> 8) & 0xffff) / 65536.0f - 0.5f;
}

/* |a - b| within 1e-5 relative to the magnitude of the sum of |terms| (K * 0.25 at most). */
static int close_enough(float a, float b, int64_t K) {
    float tol = 1e-5f * (float)(K + 1);
    return fabsf(a - b) <= tol || (isnan(a) && isnan(b));
}

static int gemm_case(nne_gemm_f32_fn fn, nne_gemm_f32_scratch_fn sfn, int64_t M, int64_t N, int64_t K, int ta,
                     int tb, float alpha, float beta) {
    int64_t lda = ta ? M : K, ldb = tb ? K : N, ldc = N;
    size_t na = (size_t)(M * K + 1), nb = (size_t)(K * N + 1), nc = (size_t)(M * N + 1);
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    float *C = malloc(nc * sizeof *C), *R = malloc(nc * sizeof *R);
    for (size_t i = 0; i < na; i++) A[i] = frand();
    for (size_t i = 0; i < nb; i++) B[i] = frand();
    for (size_t i = 0; i < nc; i++) C[i] = R[i] = frand();
    size_t sb = sfn(M, N, K);
    void *scr = malloc(sb + 1);
    int64_t rsa = ta ? 1 : lda, csa = ta ? lda : 1, rsb = tb ? 1 : ldb, csb = tb ? ldb : 1;
    fn(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, ldc, scr);
    nne_f32_gemm__ref(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, R, ldc, NULL);
    int bad = 0;
    for (int64_t i = 0; i < M * N; i++) bad += !close_enough(C[i], R[i], K);
    free(A), free(B), free(C), free(R), free(scr);
    return bad;
}

static void test_gemm_variants(void) {
    static const int64_t Ms[] = {1, 3, 4, 5, 8, 95, 96, 97};
    static const int64_t Ns[] = {1, 4, 7, 8, 9, 255, 256, 257};
    static const int64_t Ks[] = {1, 5, 127, 128, 129};
#define NNE_UKERNEL(need, name, scratch)                                                            \
    {                                                                                               \
        int bad = 0, cases = 0;                                                                     \
        for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)                                         \
            for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)                                     \
                for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {                               \
                    int t = (int)(a + b + c) % 4;                                                   \
                    float beta = (a + c) % 3 == 0 ? 0.0f : (a + c) % 3 == 1 ? 1.0f : 0.5f;          \
                    bad += gemm_case(name, scratch, Ms[a], Ns[b], Ks[c], t & 1, t >> 1,             \
                                     b % 2 ? 1.0f : 0.75f, beta) != 0;                              \
                    cases++;                                                                        \
                }                                                                                   \
        if (bad) fprintf(stderr, "%s: %d of %d gemm cases differ from the reference\n", #name, bad, cases); \
        CHECK(bad == 0 && cases == 320);                                                            \
    }
#include "kernels/gemm_f32.inc"
#undef NNE_UKERNEL
}

/* The packed-B form against the reference (every transpose of B). */
static int packed_case(int64_t M, int64_t N, int64_t K, int ta, int tb, float alpha, float beta) {
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    size_t na = (size_t)(M * K + 1), nb = (size_t)(K * N + 1), nc = (size_t)(M * N + 1);
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B);
    float *C = malloc(nc * sizeof *C), *R = malloc(nc * sizeof *R);
    for (size_t i = 0; i < na; i++) A[i] = frand();
    for (size_t i = 0; i < nb; i++) B[i] = frand();
    for (size_t i = 0; i < nc; i++) C[i] = R[i] = frand();
    int64_t rsa = ta ? 1 : lda, csa = ta ? lda : 1, rsb = tb ? 1 : ldb, csb = tb ? ldb : 1;
    size_t pbytes = nne_gemm_f32_packed_b_bytes(N, K);
    float *P = malloc(pbytes + 1);
    void *scr = malloc(nne_gemm_f32_scratch(M, N, K) + 1);
    nne_gemm_f32_pack_b(N, K, B, rsb, csb, P);
    nne_f32_gemm_packed_b__portable(M, N, K, alpha, A, rsa, csa, P, beta, C, N, scr);
    nne_f32_gemm__ref(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, R, N, NULL);
    int bad = 0;
    for (int64_t i = 0; i < M * N; i++) bad += !close_enough(C[i], R[i], K);
    free(A), free(B), free(C), free(R), free(P), free(scr);
    return bad;
}

static void test_gemm_packed(void) {
    static const int64_t Ms[] = {1, 4, 5, 97};
    static const int64_t Ns[] = {1, 7, 8, 9, 257};
    static const int64_t Ks[] = {1, 127, 129};
    int bad = 0, cases = 0;
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 5; b++)
            for (size_t c = 0; c < 3; c++, cases++)
                bad += packed_case(Ms[a], Ns[b], Ks[c], (int)(a + c) % 2, (int)(b + c) % 2, c ? 1.0f : 0.5f,
                                   b % 2 ? 0.0f : 1.0f) != 0;
    if (bad) fprintf(stderr, "packed-B gemm: %d of %d cases differ from the reference\n", bad, cases);
    CHECK(bad == 0 && cases == 60);
    CHECK(nne_gemm_f32_blocked_path(1, 100, 1, 100, 1) == 0 && nne_gemm_f32_blocked_path(64, 100, 1, 100, 1) == 1);
}

static int conv_case(nne_conv_f32_fn fn, nne_conv_f32_scratch_fn sfn, const nne_conv_desc *p) {
    int64_t insp = 1, outsp = 1, taps = 1;
    for (int i = 0; i < p->nsp; i++) insp *= p->in[i], outsp *= p->out[i], taps *= p->k[i];
    size_t nx = (size_t)(p->N * p->C * insp), nw = (size_t)(p->M * (p->C / p->G) * taps);
    size_t ny = (size_t)(p->N * p->M * outsp);
    float *x = malloc((nx + 1) * sizeof *x), *w = malloc((nw + 1) * sizeof *w), *b = malloc(p->M * sizeof *b);
    float *y = malloc((ny + 1) * sizeof *y), *r = malloc((ny + 1) * sizeof *r);
    for (size_t i = 0; i < nx; i++) x[i] = frand();
    for (size_t i = 0; i < nw; i++) w[i] = frand();
    for (int64_t i = 0; i < p->M; i++) b[i] = frand();
    void *scr = aligned_alloc(64, (sfn(p) + 64) / 64 * 64);
    fn(p, x, w, b, y, scr);
    nne_f32_conv__ref(p, x, w, b, r, NULL);
    int bad = 0;
    for (size_t i = 0; i < ny; i++) bad += !close_enough(y[i], r[i], (p->C / p->G) * taps);
    free(x), free(w), free(b), free(y), free(r), free(scr);
    return bad;
}

static void test_conv_variants(void) {
    /* 2-d: pointwise, 3x3 pad 1, stride 2, dilation 2, grouped, depthwise; 1-d and 3-d */
    struct { int nsp; int64_t N, C, M, G, in0, in1, k, s, d, pad; } cs[] = {
        {2, 1, 8, 16, 1, 7, 7, 1, 1, 1, 0},  {2, 2, 3, 5, 1, 9, 11, 3, 1, 1, 1}, {2, 1, 4, 6, 1, 10, 9, 3, 2, 1, 1},
        {2, 1, 5, 7, 1, 12, 12, 3, 1, 2, 2}, {2, 1, 6, 9, 3, 8, 8, 3, 1, 1, 1},  {2, 1, 8, 8, 8, 9, 7, 3, 2, 1, 1},
        {1, 2, 3, 4, 1, 17, 1, 5, 2, 1, 2},  {3, 1, 2, 3, 1, 5, 6, 3, 1, 1, 1},
    };
#define NNE_UKERNEL(need, name, scratch)                                                           \
    {                                                                                              \
        int bad = 0;                                                                               \
        for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {                                      \
            nne_conv_desc p;                                                                       \
            memset(&p, 0, sizeof p);                                                               \
            p.nsp = cs[i].nsp, p.N = cs[i].N, p.C = cs[i].C, p.M = cs[i].M, p.G = cs[i].G;         \
            for (int a = 0; a < p.nsp; a++) {                                                      \
                p.in[a] = a == 1 ? cs[i].in1 : cs[i].in0;                                          \
                p.k[a] = cs[i].k, p.s[a] = cs[i].s, p.d[a] = cs[i].d, p.pb[a] = cs[i].pad;         \
                int64_t ek = (p.k[a] - 1) * p.d[a] + 1;                                            \
                p.out[a] = (p.in[a] + 2 * cs[i].pad - ek) / p.s[a] + 1;                            \
            }                                                                                      \
            int b = conv_case(name, scratch, &p);                                                  \
            if (b) fprintf(stderr, "%s: conv case %zu: %d outputs differ\n", #name, i, b);         \
            bad += b != 0;                                                                         \
        }                                                                                          \
        CHECK(bad == 0);                                                                           \
    }
#include "kernels/conv_f32.inc"
#undef NNE_UKERNEL
}

static void test_table(void) {
    const nne_kernel_table *t = nne_kernels();
    CHECK(t == nne_kernels()); /* filled once */
    CHECK(t->gemm_f32 && t->conv_f32 && t->gemm_f32_name && t->conv_f32_name);
    CHECK(nne_isa_allows(NNE_ISA_AVX2, NNE_ISA_PORTABLE) && !nne_isa_allows(NNE_ISA_REF, NNE_ISA_PORTABLE));
    CHECK(!nne_isa_allows(NNE_ISA_NEON, NNE_ISA_AVX2) && !nne_isa_allows(NNE_ISA_AVX2, NNE_ISA_AVX512));
    CHECK(!t->reference || t->isa == NNE_ISA_REF);
    if (t->isa == NNE_ISA_REF) CHECK(t->gemm_f32 == nne_f32_gemm__ref && t->conv_f32 == nne_f32_conv__ref);
    else CHECK(t->gemm_f32 == nne_f32_gemm_blocked__portable);
    printf("kernels: cpu %s, in use %s, gemm %s, conv %s\n", nne_isa_name(t->cpu_isa), nne_isa_name(t->isa),
           t->gemm_f32_name, t->conv_f32_name);
}

void unit_kernels(void) {
    test_table();
    test_gemm_variants();
    test_gemm_packed();
    test_conv_variants();
}
