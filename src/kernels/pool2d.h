/*
 * pool2d.h - 2-d MaxPool / AveragePool over planes (no Indices output),
 * windows clipped to the image once per output row and column instead of
 * per tap; the planes split over a thread pool. Same results as the N-d
 * loop of ops/nn_pool.c: MaxPool keeps the first value of the window and
 * replaces it only by a greater one (so NaN behaves the same), AveragePool
 * sums in double.
 */
#ifndef NNE_KERNELS_POOL2D_H
#define NNE_KERNELS_POOL2D_H

#include "core/threadpool.h"

#include <stdint.h>

typedef struct nne_pool2d_desc {
    int64_t planes;            /* N * C */
    int64_t ih, iw, oh, ow;
    int64_t kh, kw, sy, sx, dy, dx;
    int64_t pt, pl, pbot, pr;  /* pads: top, left, bottom, right */
    int max;                   /* 1 MaxPool, 0 AveragePool */
    int count_include_pad;
} nne_pool2d_desc;

void nne_pool2d_f32(const nne_pool2d_desc *p, const float *x, float *y, nne_threadpool *pool);
/* MaxPool of uint8 (is_signed 0) or int8 planes, straight on the bytes
 * (max is exact in any type; the int8 MaxPool of opset 12). */
void nne_pool2d_max_q8(const nne_pool2d_desc *p, const void *x, void *y, int is_signed, nne_threadpool *pool);

/* The sum of x[0 .. n) in double (GlobalAveragePool). */
double nne_f32_sum_f64(const float *x, int64_t n);

#endif
