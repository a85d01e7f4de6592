/*
 * sgemm.c (AVX2 + FMA) - the packed SGEMM and depthwise kernels of
 * kernels/sgemm_tmpl.h with 8-float vectors and a 6 x 16 register tile
 * (12 ymm accumulators of 16 registers). Compiled with -mavx2 -mfma only
 * (Makefile); called only when the kernel table found AVX2 and FMA.
 */
#if defined(__x86_64__)
#define SG_SUF avx2
#define SG_SUF_NAME "avx2"
#define SG_TILE_NAME "6x16"
#define SG_ISA NNE_ISA_AVX2
#define SG_VL 8
#define SG_MR 6
#define SG_KC 256
#define SG_MC 96
#define SG_NC 256
#include "kernels/sgemm_tmpl.h"
#else
typedef int nne_sgemm_avx2_unused; /* ISO C: no empty translation unit */
#endif
