/*
 * vec.c (NEON) - the depthwise / element-wise kernels of kernels/vec_tmpl.h
 * with 4-float vectors. AArch64 only; tested under qemu-aarch64 by
 * `make test-neon`.
 */
#if defined(__aarch64__)
#define NV_SUF neon
#define NV_SUF_NAME "neon"
#define NV_ISA NNE_ISA_NEON
#define NV_VL 4
#include "kernels/vec_tmpl.h"
#else
typedef int nne_vec_neon_unused; /* ISO C: no empty translation unit */
#endif
