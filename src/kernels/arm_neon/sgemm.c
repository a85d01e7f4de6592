/*
 * sgemm.c (NEON) - the packed SGEMM and depthwise kernels of
 * kernels/sgemm_tmpl.h with 4-float vectors and an 8 x 8 register tile
 * (16 of the 32 q registers accumulate). AArch64 only (NEON is part of
 * the base ISA there); tested under qemu-aarch64 by `make test-neon`.
 */
#if defined(__aarch64__)
#define SG_SUF neon
#define SG_SUF_NAME "neon"
#define SG_TILE_NAME "8x8"
#define SG_ISA NNE_ISA_NEON
#define SG_VL 4
#define SG_MR 8
#define SG_KC 256
#define SG_MC 64
#define SG_NC 256
#include "kernels/sgemm_tmpl.h"
#else
typedef int nne_sgemm_neon_unused; /* ISO C: no empty translation unit */
#endif
