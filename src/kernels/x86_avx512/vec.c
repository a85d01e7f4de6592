/*
 * vec.c (AVX-512) - the depthwise / element-wise kernels of kernels/vec_tmpl.h
 * with 16-float vectors. Compiled with the AVX-512 flags only
 * (kernels.mk); called only when the kernel table found AVX-512 F/BW/DQ/VL.
 */
#if defined(__x86_64__)
#define NV_SUF avx512
#define NV_SUF_NAME "avx512"
#define NV_ISA NNE_ISA_AVX512
#define NV_VL 16
#include "kernels/vec_tmpl.h"
#else
typedef int nne_vec_avx512_unused; /* ISO C: no empty translation unit */
#endif
