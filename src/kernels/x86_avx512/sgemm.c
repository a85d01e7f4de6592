/*
 * sgemm.c (AVX-512) - the packed SGEMM and depthwise kernels of
 * kernels/sgemm_tmpl.h with 16-float vectors and an 8 x 32 register tile
 * (16 zmm accumulators). Compiled with the AVX-512 flags only (Makefile);
 * called only when the kernel table found AVX-512 F/BW/DQ/VL.
 */
#if defined(__x86_64__)
#define SG_SUF avx512
#define SG_SUF_NAME "avx512"
#define SG_TILE_NAME "8x32"
#define SG_ISA NNE_ISA_AVX512
#define SG_VL 16
#define SG_MR 8
#define SG_KC 256
#define SG_MC 128
#define SG_NC 256
#include "kernels/sgemm_tmpl.h"
#else
typedef int nne_sgemm_avx512_unused; /* ISO C: no empty translation unit */
#endif
