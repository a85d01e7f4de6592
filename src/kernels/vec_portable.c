/*
 * vec_portable.c - the depthwise / element-wise kernels of
 * kernels/vec_tmpl.h with 4-float vectors (SSE2 on x86-64, NEON on ARM,
 * scalar code elsewhere): what every CPU runs when it has none of the
 * ISA-specific variants.
 */
#define NV_SUF portable
#define NV_SUF_NAME "portable"
#define NV_ISA NNE_ISA_PORTABLE
#define NV_VL 4
#include "kernels/vec_tmpl.h"
