/*
 * sgemm_portable.c - the packed SGEMM and depthwise kernels of
 * kernels/sgemm_tmpl.h with 4-float vectors (SSE2 on x86-64, NEON on ARM,
 * scalar code elsewhere) and a 4 x 8 register tile: what every CPU runs
 * when it has none of the ISA-specific variants.
 */
#define SG_SUF portable
#define SG_SUF_NAME "portable"
#define SG_TILE_NAME "4x8"
#define SG_ISA NNE_ISA_PORTABLE
#define SG_VL 4
#define SG_MR 4
#define SG_KC 256
#define SG_MC 64
#define SG_NC 256
#include "kernels/sgemm_tmpl.h"
