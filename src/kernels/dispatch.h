/*
 * dispatch.h - the kernel table: for each kernel family, the variant chosen
 * once for this CPU (STYLE.md section 5).
 *
 * CPU features are detected once (behind a once-guard) and each family's
 * entry is filled from its list (kernels/<family>.inc, best first) with the
 * first variant whose ISA the CPU has, capped by the environment:
 *   NNE_FORCE_REFERENCE=1   every family uses its plain reference kernel
 *   NNE_MAX_ISA=<level>     no variant above <level> (ref, portable, sse2,
 *                           avx2, avx512, avx512vnni, neon), so an AVX-512
 *                           machine can test its AVX2 path
 * The environment is read once, at the first use of the table.
 */
#ifndef NNE_KERNELS_DISPATCH_H
#define NNE_KERNELS_DISPATCH_H

#include "kernels/ref/conv.h"
#include "kernels/ref/gemm.h"
#include "kernels/qgemm.h"
#include "kernels/sgemm.h"

/* ISA levels, ordered: a CPU with a level has every level below it of its
 * architecture. Only ever add at the end of an architecture's range. */
enum {
    NNE_ISA_REF = 0,      /* the plain reference kernels */
    NNE_ISA_PORTABLE = 1, /* optimized portable C (GCC vector extensions) */
    NNE_ISA_SSE2 = 2,     /* x86-64 baseline */
    NNE_ISA_AVX2 = 3,     /* AVX2 + FMA */
    NNE_ISA_AVX512 = 4,   /* AVX-512 F/BW/DQ/VL */
    NNE_ISA_AVX512VNNI = 5, /* AVX-512 F/BW/DQ/VL + VNNI (vpdpbusd) */
    NNE_ISA_NEON = 16     /* AArch64 (separate range: compared only with <= PORTABLE) */
};

typedef void (*nne_gemm_f32_fn)(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                                int64_t csa, const float *B, int64_t rsb, int64_t csb, float beta, float *C,
                                int64_t ldc, void *scratch);
typedef size_t (*nne_gemm_f32_scratch_fn)(int64_t M, int64_t N, int64_t K);
typedef void (*nne_conv_f32_fn)(const nne_conv_desc *p, const float *x, const float *w, const float *bias,
                                float *y, void *scratch);
typedef size_t (*nne_conv_f32_scratch_fn)(const nne_conv_desc *p);
/* GEMM with B pre-packed by pack_b (NULL in a family entry: no packed form). */
typedef void (*nne_gemm_f32_packed_fn)(int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                                       int64_t csa, const float *Pb, float beta, float *C, int64_t ldc,
                                       void *scratch);
typedef void (*nne_gemm_f32_pack_fn)(int64_t N, int64_t K, const float *B, int64_t rsb, int64_t csb, float *P);
typedef size_t (*nne_gemm_f32_packed_bytes_fn)(int64_t N, int64_t K);
typedef int (*nne_gemm_f32_blocked_fn)(int64_t M, int64_t N, int64_t csa, int64_t rsb, int64_t csb);

typedef struct nne_kernel_table {
    int cpu_isa;   /* best level the CPU has */
    int isa;       /* level in use (after NNE_MAX_ISA / NNE_FORCE_REFERENCE) */
    int reference; /* NNE_FORCE_REFERENCE=1 */
    const char *gemm_f32_name;
    nne_gemm_f32_fn gemm_f32;
    nne_gemm_f32_scratch_fn gemm_f32_scratch;
    /* the packed-B form of gemm_f32 (all NULL when it has none, e.g. the
     * reference): pack once per plan, then run with the packed weights */
    nne_gemm_f32_packed_fn gemm_f32_packed;
    nne_gemm_f32_pack_fn gemm_f32_pack_b;
    nne_gemm_f32_packed_bytes_fn gemm_f32_packed_bytes;
    nne_gemm_f32_blocked_fn gemm_f32_packs; /* 1 when packing pays for this shape */
    const char *conv_f32_name;
    nne_conv_f32_fn conv_f32;
    nne_conv_f32_scratch_fn conv_f32_scratch;
    /* the packed SGEMM family of the ISA in use (kernels/sgemm.h): conv
     * with packed weights, fused epilogues, threads; NULL under
     * NNE_FORCE_REFERENCE (ops then use the entries above) */
    const nne_sgemm_ops *sgemm;
    /* the int8 GEMM family of the ISA in use (kernels/qgemm.h); NULL under
     * NNE_FORCE_REFERENCE (the quantized ops then run their int32 reference) */
    const nne_qgemm_ops *qgemm;
    /* the best 8-bit int8 GEMM variant allowed (qgemm.h; NULL: none, or
     * NNE_FORCE_REFERENCE), used for weights in its [wlo, whi] */
    const nne_qgemm_ops *qgemm8;
} nne_kernel_table;

/* The table (filled on first call; thread-safe; never NULL). */
const nne_kernel_table *nne_kernels(void);
/* Name of an ISA level ("avx2"); "unknown" for others. */
const char *nne_isa_name(int isa);
/* Whether a variant needing `need` may run with the level in use `have`. */
int nne_isa_allows(int have, int need);

#endif
