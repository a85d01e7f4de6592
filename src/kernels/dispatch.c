/*
 * dispatch.c - CPU feature detection and the per-family kernel tables,
 * filled once (see dispatch.h). nne_gemm_f32 is the GEMM entry every op
 * calls; it runs the variant of the table.
 */
#include "kernels/dispatch.h"
#include "kernels/conv_fast.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static nne_kernel_table g_table;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

const char *nne_isa_name(int isa) {
    switch (isa) {
    case NNE_ISA_REF: return "ref";
    case NNE_ISA_PORTABLE: return "portable";
    case NNE_ISA_SSE2: return "sse2";
    case NNE_ISA_AVX2: return "avx2";
    case NNE_ISA_AVX512: return "avx512";
    case NNE_ISA_AVX512VNNI: return "avx512vnni";
    case NNE_ISA_NEON: return "neon";
    default: return "unknown";
    }
}

static int isa_from_name(const char *s) {
    static const int all[] = {NNE_ISA_REF,    NNE_ISA_PORTABLE,   NNE_ISA_SSE2, NNE_ISA_AVX2,
                              NNE_ISA_AVX512, NNE_ISA_AVX512VNNI, NNE_ISA_NEON};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        if (!strcmp(s, nne_isa_name(all[i]))) return all[i];
    if (!strcmp(s, "none") || !strcmp(s, "scalar")) return NNE_ISA_REF;
    return -1;
}

/* The best level this CPU has. */
static int detect_cpu(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
        return __builtin_cpu_supports("avx512vnni") ? NNE_ISA_AVX512VNNI : NNE_ISA_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return NNE_ISA_AVX2;
    return NNE_ISA_SSE2;
#elif defined(__aarch64__)
    return NNE_ISA_NEON;
#else
    return NNE_ISA_PORTABLE;
#endif
}

int nne_isa_allows(int have, int need) {
    if (need <= NNE_ISA_PORTABLE) return have >= need;
    /* an architecture-specific level: same range, not above */
    if ((have >= NNE_ISA_NEON) != (need >= NNE_ISA_NEON)) return 0;
    return have >= need;
}

/* The packed SGEMM has no unpacked fast paths: packing always pays. */
static int packs_always(int64_t M, int64_t N, int64_t csa, int64_t rsb, int64_t csb) {
    (void)M, (void)N, (void)csa, (void)rsb, (void)csb;
    return 1;
}

static void fill_table(void) {
    nne_kernel_table *t = &g_table;
    t->cpu_isa = detect_cpu();
    t->isa = t->cpu_isa;
    const char *fr = getenv("NNE_FORCE_REFERENCE");
    const char *mx = getenv("NNE_MAX_ISA");
    if (mx && *mx) {
        /* an unknown name caps at the portable level: never above what was asked */
        int cap = isa_from_name(mx);
        if (cap < 0) cap = NNE_ISA_PORTABLE;
        int same_arch = cap <= NNE_ISA_PORTABLE || (cap >= NNE_ISA_NEON) == (t->isa >= NNE_ISA_NEON);
        if (!same_arch) cap = NNE_ISA_PORTABLE; /* another architecture's level: portable only */
        if (cap < t->isa) t->isa = cap;
    }
    if (fr && *fr && strcmp(fr, "0") != 0) {
        t->reference = 1;
        t->isa = NNE_ISA_REF;
    }
#define NNE_UKERNEL(need, name, scratch)                                 \
    if (!t->gemm_f32 && nne_isa_allows(t->isa, need)) {                  \
        t->gemm_f32 = name;                                              \
        t->gemm_f32_scratch = scratch;                                   \
        t->gemm_f32_name = #name;                                        \
    }
#include "kernels/gemm_f32.inc"
#undef NNE_UKERNEL
#define NNE_UKERNEL(need, name, scratch)                                 \
    if (!t->conv_f32 && nne_isa_allows(t->isa, need)) {                  \
        t->conv_f32 = name;                                              \
        t->conv_f32_scratch = scratch;                                   \
        t->conv_f32_name = #name;                                        \
    }
#include "kernels/conv_f32.inc"
#undef NNE_UKERNEL
    /* the packed SGEMM family (conv, fused epilogues, threads): the best
     * variant allowed; none under NNE_FORCE_REFERENCE */
    if (t->isa != NNE_ISA_REF) {
#if defined(__x86_64__)
        if (nne_isa_allows(t->isa, NNE_ISA_AVX512)) t->sgemm = &nne_sgemm_ops__avx512;
        else if (nne_isa_allows(t->isa, NNE_ISA_AVX2)) t->sgemm = &nne_sgemm_ops__avx2;
#endif
#if defined(__aarch64__)
        if (nne_isa_allows(t->isa, NNE_ISA_NEON)) t->sgemm = &nne_sgemm_ops__neon;
#endif
        if (!t->sgemm) t->sgemm = &nne_sgemm_ops__portable;
        const nne_qgemm_ops *v[4];
        int nv = nne_qgemm_variants(v, 4);
        for (int i = 0; i < nv && !t->qgemm; i++)
            if (nne_isa_allows(t->isa, v[i]->isa)) t->qgemm = v[i];
        nv = nne_qgemm8_variants(v, 4);
        for (int i = 0; i < nv && !t->qgemm8; i++)
            if (nne_isa_allows(t->isa, v[i]->isa)) t->qgemm8 = v[i];
    }
    if (t->sgemm && t->gemm_f32 == t->sgemm->gemm) {
        /* the packed-B form of the ISA-specific GEMM: its own panel layout */
        t->gemm_f32_packed = t->sgemm->gemm_packed_b;
        t->gemm_f32_pack_b = t->sgemm->pack_b;
        t->gemm_f32_packed_bytes = t->sgemm->packed_b_bytes;
        t->gemm_f32_packs = packs_always;
    } else if (t->gemm_f32 == nne_f32_gemm_blocked__portable) {
        /* the packed-B form of the portable blocked GEMM */
        t->gemm_f32_packed = nne_f32_gemm_packed_b__portable;
        t->gemm_f32_pack_b = nne_gemm_f32_pack_b;
        t->gemm_f32_packed_bytes = nne_gemm_f32_packed_b_bytes;
        t->gemm_f32_packs = nne_gemm_f32_blocked_path;
    }
}

const nne_kernel_table *nne_kernels(void) {
    pthread_once(&g_once, fill_table);
    return &g_table;
}

void nne_gemm_f32(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa, int64_t csa,
                  const float *B, int64_t rsb, int64_t csb, float beta, float *C, int64_t ldc, void *scratch) {
    nne_kernels()->gemm_f32(M, N, K, alpha, A, rsa, csa, B, rsb, csb, beta, C, ldc, scratch);
}

int nne_qgemm_variants(const nne_qgemm_ops **out, int max) {
    int n = 0, cpu = detect_cpu();
    const nne_qgemm_ops *all[] = {
#if defined(__x86_64__)
        &nne_qgemm_ops__avx512, &nne_qgemm_ops__avx2,
#endif
#if defined(__aarch64__)
        &nne_qgemm_ops__neon,
#endif
        &nne_qgemm_ops__portable};
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < max; i++)
        if (nne_isa_allows(cpu, all[i]->isa)) out[n++] = all[i];
    return n;
}

const nne_qgemm_ops *nne_qgemm_best(void) { return nne_kernels()->qgemm; }
int nne_qgemm8_variants(const nne_qgemm_ops **out, int max) {
    int n = 0, cpu = detect_cpu();
#if defined(__x86_64__)
    const nne_qgemm_ops *all[] = {&nne_qgemm_ops__avx512vnni_u8, &nne_qgemm_ops__avx512_u8, &nne_qgemm_ops__avx2_u8};
    for (size_t i = 0; i < sizeof all / sizeof all[0] && n < max; i++)
        if (nne_isa_allows(cpu, all[i]->isa)) out[n++] = all[i];
#else
    (void)out, (void)max, (void)cpu;
#endif
    return n;
}
const nne_qgemm_ops *nne_qgemm8_best(void) { return nne_kernels()->qgemm8; }
int nne_qgemm_fits(const nne_qgemm_ops *ops, int64_t M, int64_t K, const void *w, int w_u8, int64_t rsw,
                   int64_t csw, const int32_t *wz, int wz_per_row) {
    for (int64_t m = 0; m < M; m++) {
        int32_t z = wz ? wz[wz_per_row ? m : 0] : 0;
        for (int64_t k = 0; k < K; k++) {
            int64_t idx = m * rsw + k * csw;
            int32_t v = (w_u8 ? (int32_t)((const uint8_t *)w)[idx] : (int32_t)((const int8_t *)w)[idx]) - z;
            if (v < ops->wlo || v > ops->whi) return 0;
        }
    }
    return 1;
}

size_t nne_gemm_f32_scratch(int64_t M, int64_t N, int64_t K) { return nne_kernels()->gemm_f32_scratch(M, N, K); }

size_t nne_sgemm_worker_scratch(void) {
    const nne_kernel_table *t = nne_kernels();
    const int64_t big = (int64_t)1 << 30;
    if (!t->sgemm) return 0;
    /* the GEMM's own blocks, or a part of a Winograd conv (conv_fast.h) */
    size_t g = t->sgemm->scratch(big, big, big);
    return g > NNE_WINO_SCRATCH_MAX ? g : NNE_WINO_SCRATCH_MAX;
}
