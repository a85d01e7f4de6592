/*
 * vec.c (AVX2 + FMA) - the depthwise / element-wise kernels of kernels/vec_tmpl.h
 * with 8-float vectors. Compiled with -mavx2 -mfma only (kernels.mk);
 * called only when the kernel table found AVX2 and FMA.
 */
#if defined(__x86_64__)
#define NV_SUF avx2
#define NV_SUF_NAME "avx2"
#define NV_ISA NNE_ISA_AVX2
#define NV_VL 8
#include "kernels/vec_tmpl.h"
#else
typedef int nne_vec_avx2_unused; /* ISO C: no empty translation unit */
#endif
