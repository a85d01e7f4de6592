/*
 * test_kernels.c - the kernel table (kernels/dispatch.c) and every variant
 * of each family (generated from kernels/<family>.inc) against the plain
 * reference kernel, on shapes around the tile and block edges of the blocked
 * GEMMs (portable: MR 4, NR 8, MC 96, KC 128, NC 256; packed SGEMM: MR 4/6/8,
 * NR 8/16/32, KC 256, NC 256/512) and on convolutions with padding, stride,
 * dilation and groups. Every variant the CPU may run (NNE_MAX_ISA caps it)
 * is tested; the output says which ran.
 */

#include "kernels/conv_fast.h"
#include "kernels/pool2d.h"
#include "kernels/dispatch.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Whether a variant needing `need` may run here (under NNE_FORCE_REFERENCE
 * the variants are still tested, up to what the CPU has). */
static int variant_runs(int need) {
    const nne_kernel_table *t = nne_kernels();
    return nne_isa_allows(t->reference ? t->cpu_isa : t->isa, need);
}

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
    static const int64_t Ms[] = {1, 3, 5, 8, 13, 97, 129};
    static const int64_t Ns[] = {1, 7, 9, 31, 33, 257, 513};
    static const int64_t Ks[] = {1, 5, 129, 257};
#define NNE_UKERNEL(need, name, scratch)                                                            \
    if (!variant_runs(need)) {                                                                      \
        printf("kernels: %s skipped (needs %s)\n", #name, nne_isa_name(need));                      \
    } else {                                                                                        \
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
        CHECK(bad == 0 && cases == 196);                                                            \
        printf("kernels: %s tested (%d cases)\n", #name, cases);                                    \
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
    void *scr = malloc(nne_f32_gemm_scratch__portable(M, N, K) + 1);
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
    if (t->isa == NNE_ISA_REF) CHECK(t->gemm_f32 == nne_f32_gemm__ref && t->conv_f32 == nne_f32_conv__ref && !t->sgemm);
    else CHECK(t->sgemm && nne_isa_allows(t->isa, t->sgemm->isa));
    if (t->sgemm && t->sgemm->isa > NNE_ISA_PORTABLE) CHECK(t->gemm_f32 == t->sgemm->gemm);
    printf("kernels: cpu %s, in use %s, gemm %s, conv %s, sgemm %s\n", nne_isa_name(t->cpu_isa), nne_isa_name(t->isa),
           t->gemm_f32_name, t->conv_f32_name, t->sgemm ? t->sgemm->name : "none");
}

/* ------------------------------------------------ packed SGEMM family -- */

/* The sgemm variants this build has. */
static const nne_sgemm_ops *const k_sgemm_all[] = {
#if defined(__x86_64__)
    &nne_sgemm_ops__avx512, &nne_sgemm_ops__avx2,
#endif
#if defined(__aarch64__)
    &nne_sgemm_ops__neon,
#endif
    &nne_sgemm_ops__portable,
};

/* One product through ops->run: A packed (pa) or strided (transposed: ta),
 * B packed (pb), strided (tb) or (pk) through a packer; an epilogue of
 * kind ek (0 none, 1 row bias + relu, 2 column bias + residual + clip,
 * 3 residual + sigmoid); checked against the reference GEMM + epilogue. */
typedef struct test_b_src {
    const float *B;
    int64_t rsb, csb;
} test_b_src;
static void test_packer(const void *srcp, int64_t k0, int64_t kc, int64_t n0, int64_t nc, int nr, float *P) {
    const test_b_src *s = srcp;
    for (int64_t j0 = 0; j0 < nc; j0 += nr)
        for (int64_t k = 0; k < kc; k++)
            for (int q = 0; q < nr; q++)
                *P++ = j0 + q < nc ? s->B[(k0 + k) * s->rsb + (n0 + j0 + q) * s->csb] : 0.0f;
}

static int sgemm_case(const nne_sgemm_ops *ops, nne_threadpool *pool, int64_t M, int64_t N, int64_t K, int ta,
                      int tb, int pa, int pb, int pk, int ek, float alpha, float beta) {
    int64_t lda = ta ? M : K, ldb = tb ? K : N;
    size_t na = (size_t)(M * K + 1), nb = (size_t)(K * N + 1), nc = (size_t)(M * N + 1);
    float *A = malloc(na * sizeof *A), *B = malloc(nb * sizeof *B), *C = malloc(nc * sizeof *C);
    float *R = malloc(nc * sizeof *R), *res = malloc(nc * sizeof *res);
    float *bias = malloc((size_t)(M > N ? M : N) * sizeof *bias);
    for (size_t i = 0; i < na; i++) A[i] = frand();
    for (size_t i = 0; i < nb; i++) B[i] = frand();
    for (size_t i = 0; i < nc; i++) C[i] = R[i] = frand(), res[i] = frand();
    for (int64_t i = 0; i < (M > N ? M : N); i++) bias[i] = frand();
    int64_t rsa = ta ? 1 : lda, csa = ta ? lda : 1, rsb = tb ? 1 : ldb, csb = tb ? ldb : 1;
    nne_epilogue e = {0};
    if (ek == 1) e.bias = bias, e.act = NNE_ACT_RELU;
    if (ek == 2) e.bias = bias, e.bias_per_col = 1, e.residual = res, e.ld_res = N, e.act = NNE_ACT_CLIP,
                 e.alpha = -0.1f, e.beta = 0.2f;
    if (ek == 3) e.residual = res, e.ld_res = N, e.act = K % 2 ? NNE_ACT_SILU : NNE_ACT_SIGMOID;
    float *PA = pa ? malloc(ops->packed_a_bytes(M, K) + 1) : NULL;
    float *PB = pb ? malloc(ops->packed_b_bytes(N, K) + 1) : NULL;
    if (PA) ops->pack_a(M, K, A, rsa, csa, PA);
    if (PB) ops->pack_b(N, K, B, rsb, csb, PB);
    test_b_src src = {B, rsb, csb};
    nne_sgemm_args g = {.M = M, .N = N, .K = K, .alpha = alpha, .beta = beta, .A = A, .rsa = rsa, .csa = csa,
                        .Pa = PA, .B = B, .rsb = rsb, .csb = csb, .Pb = PB, .C = C, .ldc = N,
                        .ep = ek ? &e : NULL};
    if (pk && !pb) g.packer = test_packer, g.packer_src = &src;
    void *scr = malloc(ops->scratch(M, N, K) + 1);
    ops->run(&g, scr, pool);
    nne_f32_gemm__ref(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, R, N, NULL);
    nne_epilogue_apply_f32(ek ? &e : NULL, R, N, 0, M, 0, N);
    int bad = 0;
    for (int64_t i = 0; i < M * N; i++) bad += !close_enough(C[i], R[i], K);
    free(A), free(B), free(C), free(R), free(res), free(bias), free(PA), free(PB), free(scr);
    return bad;
}

static void test_sgemm_variants(void) {
    static const int64_t Ms[] = {1, 2, 7, 8, 13, 64, 97, 131};
    static const int64_t Ns[] = {1, 5, 16, 33, 100, 513, 1031};
    static const int64_t Ks[] = {1, 3, 27, 256, 300};
    nne_threadpool *pool = nne_threadpool_create(3, nne_sgemm_worker_scratch());
    for (size_t v = 0; v < sizeof k_sgemm_all / sizeof *k_sgemm_all; v++) {
        const nne_sgemm_ops *ops = k_sgemm_all[v];
        if (!variant_runs(ops->isa)) {
            printf("kernels: %s skipped (needs %s)\n", ops->name, nne_isa_name(ops->isa));
            continue;
        }
        int bad = 0, cases = 0;
        for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
            for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
                for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++, cases++) {
                    int h = (int)(a * 7 + b * 3 + c);
                    if (Ms[a] * Ns[b] * Ks[c] > 4000000) h &= ~3; /* big ones: plain strides, fewer modes */
                    float beta = h % 3 == 0 ? 0.0f : h % 3 == 1 ? 1.0f : 0.5f;
                    int b1 = sgemm_case(ops, (h & 1) ? pool : NULL, Ms[a], Ns[b], Ks[c], h & 1, (h >> 1) & 1,
                                        (h >> 2) & 1, (h >> 3) & 1, (h >> 4) & 1, h % 4, h % 5 ? 1.0f : 0.5f, beta);
                    if (b1) fprintf(stderr, "%s: M %lld N %lld K %lld mode %d: %d outputs differ\n", ops->name,
                                    (long long)Ms[a], (long long)Ns[b], (long long)Ks[c], h, b1);
                    bad += b1 != 0;
                }
        CHECK(bad == 0 && cases == 280);
        printf("kernels: %s tested (%d cases, threads 1 and 3)\n", ops->name, cases);
    }
    nne_threadpool_destroy(pool);
}

/* Every activation of the epilogue on values from -100 to 100 (and
 * infinities, NaN), through a K = 1 product, against nne_act_f32: relative
 * error 1e-5 (the vector exp), NaN where the reference gives NaN. */
static void test_epilogue_acts(void) {
    enum { N = 1031 };
    static float B[N], C[3 * N], R[3 * N];
    for (int j = 0; j < N; j++) B[j] = -100.0f + 200.0f * (float)j / (N - 1);
    B[5] = INFINITY, B[6] = -INFINITY, B[7] = NAN, B[8] = 0.0f, B[9] = -0.0f, B[10] = 1e-30f, B[11] = -90.0f;
    float A[3] = {1.0f, 0.5f, -0.25f};
    for (size_t v = 0; v < sizeof k_sgemm_all / sizeof *k_sgemm_all; v++) {
        const nne_sgemm_ops *ops = k_sgemm_all[v];
        if (!variant_runs(ops->isa)) continue;
        void *scr = malloc(ops->scratch(3, N, 1));
        for (int act = 0; act < NNE_ACT_COUNT; act++) {
            nne_epilogue e = {.act = act, .alpha = act == NNE_ACT_CLIP ? -1.0f : 0.2f, .beta = act == NNE_ACT_CLIP ? 2.0f : 0.5f};
            nne_sgemm_args g = {.M = 3, .N = N, .K = 1, .alpha = 1.0f, .beta = 0.0f, .A = A, .rsa = 1, .csa = 1,
                                .B = B, .rsb = N, .csb = 1, .C = C, .ldc = N, .ep = &e};
            ops->run(&g, scr, NULL);
            for (int i = 0; i < 3; i++)
                for (int j = 0; j < N; j++) R[i * N + j] = nne_act_f32(act, e.alpha, e.beta, A[i] * B[j]);
            int bad = 0;
            for (int i = 0; i < 3 * N; i++) {
                float a = C[i], b = R[i];
                int ok = (isnan(a) && isnan(b)) || a == b || fabsf(a - b) <= 1e-5f * fabsf(b) + 1e-30f;
                if (!ok && bad++ < 3) fprintf(stderr, "%s act %s: x %g: %g, reference %g\n", ops->name,
                                              nne_act_name(act), A[i / N] * B[i % N], a, b);
            }
            CHECK(bad == 0);
            /* the element-wise form: the same vector code, so the same bits
             * (n = N and an odd tail; in place too) */
            static float V[N];
            ops->vact(act, e.alpha, e.beta, B, V, N);
            int diff = 0;
            for (int j = 0; j < N; j++) diff += !(V[j] == C[j] || (isnan(V[j]) && isnan(C[j])));
            memcpy(V, B, sizeof V);
            ops->vact(act, e.alpha, e.beta, V, V, N - 3);
            for (int j = 0; j < N - 3; j++) diff += !(V[j] == C[j] || (isnan(V[j]) && isnan(C[j])));
            for (int j = N - 3; j < N; j++) diff += !(V[j] == B[j] || (isnan(V[j]) && isnan(B[j])));
            CHECK(diff == 0);
        }
        free(scr);
    }
}

/* Conv through conv_fast (every algorithm) with bias, residual and an
 * activation, against the reference conv + epilogue, 1 and 3 threads. */
static int conv_fast_case(const nne_sgemm_ops *ops, nne_threadpool *pool, const nne_conv_desc *p, int ek,
                          int packed, int force, int *algo) {
    int64_t insp = 1, outsp = 1, taps = 1;
    for (int i = 0; i < p->nsp; i++) insp *= p->in[i], outsp *= p->out[i], taps *= p->k[i];
    size_t nx = (size_t)(p->N * p->C * insp), nw = (size_t)(p->M * (p->C / p->G) * taps);
    size_t ny = (size_t)(p->N * p->M * outsp);
    float *x = malloc((nx + 1) * sizeof *x), *w = malloc((nw + 1) * sizeof *w), *b = malloc(p->M * sizeof *b);
    float *b2 = malloc(p->M * sizeof *b2);
    float *y = malloc((ny + 1) * sizeof *y), *r = malloc((ny + 1) * sizeof *r), *res = malloc((ny + 1) * sizeof *res);
    for (size_t i = 0; i < nx; i++) x[i] = frand();
    for (size_t i = 0; i < nw; i++) w[i] = frand();
    for (int64_t i = 0; i < p->M; i++) b[i] = frand(), b2[i] = frand();
    for (size_t i = 0; i < ny; i++) res[i] = frand(), y[i] = NAN;
    nne_epilogue e = {0};
    if (ek == 1) e.act = NNE_ACT_RELU;
    if (ek == 2) e.residual = res, e.ld_res = outsp, e.act = NNE_ACT_CLIP, e.alpha = 0.0f, e.beta = 6.0f;
    if (ek == 3) e.bias = b2, e.residual = res, e.ld_res = outsp, e.act = NNE_ACT_HARDSWISH;
    nne_conv_fast cf;
    CHECK(nne_conv_fast_plan_algo(ops, p, &cf, force));
    *algo = cf.algo;
    float *P = NULL;
    if (packed && nne_conv_fast_packs_w(&cf)) {
        P = malloc(nne_conv_fast_packed_w_bytes(&cf, p) + 1);
        nne_conv_fast_pack_w(&cf, p, w, P);
    }
    void *scr = aligned_alloc(64, (nne_conv_fast_scratch(&cf, p) + 64) / 64 * 64);
    nne_conv_fast_run(&cf, p, x, w, P, b, ek ? &e : NULL, y, scr, pool);
    nne_f32_conv__ref(p, x, w, b, r, NULL);
    nne_conv_epilogue_apply(ek ? &e : NULL, r, p->N, p->M, outsp);
    int bad = 0;
    for (size_t i = 0; i < ny; i++) bad += !close_enough(y[i], r[i], (p->C / p->G) * taps);
    free(x), free(w), free(b), free(b2), free(y), free(r), free(res), free(P), free(scr);
    return bad;
}

static void test_conv_fast(void) {
    struct { int nsp; int64_t N, C, M, G, in0, in1, k, s, d, pad; } cs[] = {
        {2, 1, 8, 16, 1, 7, 7, 1, 1, 1, 0},   {2, 2, 3, 5, 1, 9, 11, 3, 1, 1, 1},   {2, 1, 4, 6, 1, 10, 9, 3, 2, 1, 1},
        {2, 1, 5, 7, 1, 12, 12, 3, 1, 2, 2},  {2, 1, 6, 9, 3, 8, 8, 3, 1, 1, 1},    {2, 1, 8, 8, 8, 9, 7, 3, 2, 1, 1},
        {1, 2, 3, 4, 1, 17, 1, 5, 2, 1, 2},   {3, 1, 2, 3, 1, 5, 6, 3, 1, 1, 1},    {2, 1, 3, 13, 1, 23, 29, 7, 2, 1, 3},
        {2, 2, 17, 40, 1, 15, 13, 1, 1, 1, 0}, {2, 1, 9, 11, 1, 11, 10, 1, 2, 1, 0}, {2, 1, 24, 24, 24, 37, 35, 3, 1, 1, 1},
        {2, 1, 12, 12, 12, 19, 21, 5, 2, 1, 2}, {2, 1, 7, 7, 7, 20, 33, 5, 1, 1, 2}, {2, 1, 6, 12, 6, 9, 9, 3, 1, 1, 1},
        {2, 1, 4, 4, 4, 6, 5, 3, 1, 2, 2},    {2, 1, 64, 70, 1, 20, 20, 3, 1, 1, 1}, {2, 1, 300, 33, 1, 6, 6, 1, 1, 1, 0},
        {2, 1, 3, 5, 1, 3, 4, 7, 1, 1, 5},    {2, 2, 5, 6, 1, 9, 8, 5, 2, 3, 6},   {2, 1, 2, 3, 1, 1, 1, 3, 1, 1, 2},
        {2, 1, 3, 8, 1, 40, 75, 3, 2, 1, 1},  {2, 1, 16, 16, 16, 33, 71, 3, 2, 1, 1}, {2, 1, 3, 9, 1, 30, 79, 7, 2, 1, 3},
        /* 3x3 stride 1 (Winograd where it applies; forced on all of them below):
         * 1-pixel and odd images, padding 0..2, M past one GEMM chunk, C past
         * one K slice, several blocks of tiles, fewer blocks than threads */
        {2, 1, 3, 5, 1, 1, 1, 3, 1, 1, 1},    {2, 2, 16, 20, 1, 13, 17, 3, 1, 1, 1}, {2, 1, 7, 9, 1, 5, 23, 3, 1, 1, 0},
        {2, 1, 19, 33, 1, 29, 31, 3, 1, 1, 2}, {2, 1, 300, 20, 1, 9, 10, 3, 1, 1, 1}, {2, 1, 24, 131, 1, 14, 14, 3, 1, 1, 1},
        {2, 1, 64, 64, 1, 41, 38, 3, 1, 1, 1}, {2, 1, 32, 37, 1, 7, 7, 3, 1, 1, 1},   {2, 1, 2, 3, 1, 6, 2, 3, 1, 1, 2},
        {2, 2, 270, 150, 1, 7, 5, 3, 1, 1, 1},
    };
    nne_threadpool *pool = nne_threadpool_create(3, nne_sgemm_worker_scratch());
    for (size_t v = 0; v < sizeof k_sgemm_all / sizeof *k_sgemm_all; v++) {
        const nne_sgemm_ops *ops = k_sgemm_all[v];
        if (!variant_runs(ops->isa)) continue;
        int bad = 0, seen[7] = {0}, nwino = 0;
        for (size_t i = 0; i < sizeof cs / sizeof *cs; i++) {
            nne_conv_desc p;
            memset(&p, 0, sizeof p);
            p.nsp = cs[i].nsp, p.N = cs[i].N, p.C = cs[i].C, p.M = cs[i].M, p.G = cs[i].G;
            for (int a = 0; a < p.nsp; a++) {
                p.in[a] = a == 1 ? cs[i].in1 : cs[i].in0;
                p.k[a] = cs[i].k, p.s[a] = cs[i].s, p.d[a] = cs[i].d, p.pb[a] = cs[i].pad;
                int64_t ek = (p.k[a] - 1) * p.d[a] + 1;
                p.out[a] = (p.in[a] + 2 * cs[i].pad - ek) / p.s[a] + 1;
            }
            nne_conv_fast probe;
            int wino = nne_conv_fast_plan_algo(ops, &p, &probe, NNE_CONV_WINOGRAD);
            int winot = nne_conv_fast_plan_algo(ops, &p, &probe, NNE_CONV_WINOGRAD_T);
            nwino += wino;
            /* the planned algorithm, then both Winograd forms forced where legal */
            static const int forms[3] = {0, NNE_CONV_WINOGRAD, NNE_CONV_WINOGRAD_T};
            for (int f = 0; f < 3; f++)
                for (int ek = 0; ek < 4 && (f == 0 || (f == 1 ? wino : winot)); ek++) {
                    int algo = 0;
                    int b = conv_fast_case(ops, ek & 1 ? pool : NULL, &p, ek, ek != 2 || f, forms[f], &algo);
                    if (b)
                        fprintf(stderr, "%s: conv_fast case %zu (%s) epilogue %d: %d outputs differ\n", ops->name, i,
                                nne_conv_fast_algo_name(algo), ek, b);
                    bad += b != 0;
                    seen[algo] = 1;
                }
        }
        CHECK(bad == 0 && seen[NNE_CONV_DEPTHWISE] && seen[NNE_CONV_POINTWISE] && seen[NNE_CONV_IMPLICIT] &&
              seen[NNE_CONV_IM2COL] && seen[NNE_CONV_WINOGRAD] && seen[NNE_CONV_WINOGRAD_T]);
        printf("kernels: conv_fast on %s tested (%zu shapes x 4 epilogues; %d also forced to the Winograd forms)\n",
               ops->name,
               sizeof cs / sizeof *cs, nwino);
    }
    nne_threadpool_destroy(pool);
}

/* 2-d Max/AveragePool against direct loops over the padded window (the
 * ONNX definition), with NaN inputs, 1 and 3 threads. */
static void test_pool2d(void) {
    struct { int64_t ih, iw, k, s, d, pad; } cs[] = {
        {7, 9, 3, 1, 1, 1}, {13, 40, 3, 1, 1, 1}, {14, 33, 3, 2, 1, 1}, {9, 17, 5, 1, 2, 2}, {6, 6, 2, 2, 1, 0},
        {30, 37, 3, 1, 1, 0}, {5, 4, 7, 1, 1, 3}, {11, 23, 3, 3, 1, 2}, {20, 61, 3, 2, 1, 0}, {9, 45, 5, 2, 2, 1},
    };
    nne_threadpool *pool = nne_threadpool_create(3, 0);
    int bad = 0;
    for (size_t i = 0; i < sizeof cs / sizeof *cs; i++)
        for (int kind = 0; kind < 3; kind++) {
            nne_pool2d_desc d = {.planes = 5, .ih = cs[i].ih, .iw = cs[i].iw, .kh = cs[i].k, .kw = cs[i].k,
                                 .sy = cs[i].s, .sx = cs[i].s, .dy = cs[i].d, .dx = cs[i].d, .pt = cs[i].pad,
                                 .pl = cs[i].pad, .pbot = cs[i].pad, .pr = cs[i].pad, .max = kind == 0,
                                 .count_include_pad = kind == 2};
            int64_t ek = (d.kh - 1) * d.dy + 1;
            d.oh = (d.ih + 2 * cs[i].pad - ek) / d.sy + 1;
            d.ow = (d.iw + 2 * cs[i].pad - ek) / d.sx + 1;
            int64_t nx = d.planes * d.ih * d.iw, ny = d.planes * d.oh * d.ow;
            float *x = malloc(nx * sizeof *x), *y = malloc(ny * sizeof *y);
            for (int64_t j = 0; j < nx; j++) x[j] = j % 37 == 5 ? NAN : frand();
            nne_pool2d_f32(&d, x, y, i % 2 ? pool : NULL);
            for (int64_t pl = 0; pl < d.planes; pl++)
                for (int64_t oy = 0; oy < d.oh; oy++)
                    for (int64_t ox = 0; ox < d.ow; ox++) {
                        float best = -INFINITY;
                        int first = 1;
                        double sum = 0.0;
                        int64_t cnt = 0, cntp = 0;
                        for (int64_t ky = 0; ky < d.kh; ky++)
                            for (int64_t kx = 0; kx < d.kw; kx++) {
                                int64_t iy = oy * d.sy + ky * d.dy - d.pt, ix = ox * d.sx + kx * d.dx - d.pl;
                                if (iy >= -d.pt && iy < d.ih + d.pbot && ix >= -d.pl && ix < d.iw + d.pr) cntp++;
                                if (iy < 0 || iy >= d.ih || ix < 0 || ix >= d.iw) continue;
                                float v = x[(pl * d.ih + iy) * d.iw + ix];
                                if (first || v > best) best = v, first = 0;
                                sum += v;
                                cnt++;
                            }
                        float r = kind == 0 ? best : (float)(sum / (double)(kind == 2 ? cntp : cnt));
                        float got = y[(pl * d.oh + oy) * d.ow + ox];
                        if (!((isnan(r) && isnan(got)) || fabsf(r - got) <= 1e-6f)) {
                            if (bad++ < 3)
                                fprintf(stderr, "pool2d case %zu kind %d (%lld,%lld): %g, reference %g\n", i, kind,
                                        (long long)oy, (long long)ox, got, r);
                        }
                    }
            free(x), free(y);
        }
    CHECK(bad == 0);
    nne_threadpool_destroy(pool);
}

/* The pool: every part runs once, in a worker or (when no worker has
 * claimed it by the time the caller's own part is done) the caller; a busy
 * pool runs a second job in its caller. */
typedef struct pool_job {
    int hits[8];
    void *scr[8];
} pool_job;
static void pool_part(void *arg, int part, int nparts, void *scratch) {
    pool_job *j = arg;
    (void)nparts;
    if (part == 0) {
        /* give the workers time to claim theirs */
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    j->hits[part]++;
    j->scr[part] = scratch;
}
static void test_threadpool(void) {
    CHECK(nne_threadpool_create(1, 0) == NULL && nne_threadpool_threads(NULL) == 1);
    nne_threadpool *pool = nne_threadpool_create(4, 256);
    CHECK(pool && nne_threadpool_threads(pool) == 4 && nne_threadpool_scratch_bytes(pool) == 256);
    char mine[8];
    int in_workers = 0;
    for (int round = 0; round < 100; round++) {
        pool_job j = {{0}, {0}};
        int n = 1 + round % 4;
        nne_parallel(pool, n, pool_part, &j, mine);
        for (int p = 0; p < n; p++) CHECK(j.hits[p] == 1);
        CHECK(j.scr[0] == mine);
        for (int p = 1; p < n; p++) CHECK(j.scr[p] != NULL);
        for (int p = 1; p < n; p++) in_workers += j.scr[p] != mine;
    }
    CHECK(in_workers > 0);
    pool_job j = {{0}, {0}};
    nne_parallel(pool, 6, pool_part, &j, mine); /* more parts than threads: all in the caller */
    for (int p = 0; p < 6; p++) CHECK(j.hits[p] == 1 && j.scr[p] == mine);
    long long lo, hi, prev = 0;
    for (int p = 0; p < 3; p++) {
        nne_split_range(100, 8, p, 3, &lo, &hi);
        CHECK(lo == prev && (hi == 100 || hi % 8 == 0));
        prev = hi;
    }
    CHECK(prev == 100);
    nne_threadpool_destroy(pool);
}

void unit_kernels(void) {
    test_table();
    test_threadpool();
    test_gemm_variants();
    test_gemm_packed();
    test_conv_variants();
    test_sgemm_variants();
    test_epilogue_acts();
    test_conv_fast();
    test_pool2d();
}
