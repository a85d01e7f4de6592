/*
 * conv.h - reference convolution kernels (pure functions of their inputs and
 * a caller-provided scratch buffer): N-d Conv and ConvTranspose in float,
 * double and int32, plus the im2col / col2im building blocks that Col2Im and
 * DeformConv reuse.
 *
 * Layouts are ONNX's: X (N, C, D1..Dn), Conv W (M, C/G, k1..kn),
 * ConvTranspose W (C, M/G, k1..kn), Y (N, M, O1..On), bias (M).
 */
#ifndef NNE_KERNELS_REF_CONV_H
#define NNE_KERNELS_REF_CONV_H

#include <stddef.h>
#include <stdint.h>

#define NNE_CONV_MAX_SP 10

/* Geometry of a (transposed) convolution. */
typedef struct nne_conv_desc {
    int nsp;                       /* spatial axes, 1..NNE_CONV_MAX_SP */
    int64_t N;                     /* batch */
    int64_t C;                     /* channels of X */
    int64_t M;                     /* channels of Y */
    int64_t G;                     /* groups; divides C and M */
    int64_t in[NNE_CONV_MAX_SP];   /* spatial sizes of X */
    int64_t out[NNE_CONV_MAX_SP];  /* spatial sizes of Y */
    int64_t k[NNE_CONV_MAX_SP];    /* kernel sizes */
    int64_t s[NNE_CONV_MAX_SP];    /* strides */
    int64_t d[NNE_CONV_MAX_SP];    /* dilations */
    int64_t pb[NNE_CONV_MAX_SP];   /* padding at the start of each axis */
} nne_conv_desc;

/* Geometry for im2col / col2im: the column matrix has rows
 * (channel, kernel tap) and columns over the "col" grid; column position o
 * and tap t map to image coordinate o*s + t*d - pb (per axis). */
typedef struct nne_col_geo {
    int nsp;
    int64_t ncol[NNE_CONV_MAX_SP];  /* column grid sizes */
    int64_t nimg[NNE_CONV_MAX_SP];  /* image sizes */
    int64_t k[NNE_CONV_MAX_SP];
    int64_t s[NNE_CONV_MAX_SP];
    int64_t d[NNE_CONV_MAX_SP];
    int64_t pb[NNE_CONV_MAX_SP];
} nne_col_geo;

/* im2col of `channels` image planes, restricted to columns whose first grid
 * coordinate is in [r0, r1): col is (channels*taps) x ((r1-r0)*inner), where
 * inner is the product of ncol[1..]. Out-of-image taps read 0. */
void nne_im2col_f32(const nne_col_geo *g, const float *img, int64_t channels, int64_t r0,
                    int64_t r1, float *col);
void nne_im2col_f64(const nne_col_geo *g, const double *img, int64_t channels, int64_t r0,
                    int64_t r1, double *col);
void nne_im2col_i32(const nne_col_geo *g, const int32_t *img, int64_t channels, int64_t r0,
                    int64_t r1, int32_t *col);
/* The adjoint: img += scatter of col (same layout as im2col's output). */
void nne_col2im_f32(const nne_col_geo *g, const float *col, int64_t channels, int64_t r0,
                    int64_t r1, float *img);
void nne_col2im_f64(const nne_col_geo *g, const double *col, int64_t channels, int64_t r0,
                    int64_t r1, double *img);

/* Conv: Y = conv(X, W) + bias (bias may be NULL). Scratch bytes from
 * nne_conv_scratch_*; scratch must be 64-byte aligned. */
size_t nne_conv_scratch_f32(const nne_conv_desc *p);
void nne_conv_f32(const nne_conv_desc *p, const float *x, const float *w, const float *bias,
                  float *y, void *scratch);
size_t nne_conv_scratch_f64(const nne_conv_desc *p);
void nne_conv_f64(const nne_conv_desc *p, const double *x, const double *w, const double *bias,
                  double *y, void *scratch);
/* Integer conv with int32 accumulation (inputs already zero-point shifted). */
size_t nne_conv_scratch_i32(const nne_conv_desc *p);
void nne_conv_i32(const nne_conv_desc *p, const int32_t *x, const int32_t *w, const int32_t *bias,
                  int32_t *y, void *scratch);

/* The plain reference float convolution (the oracle: direct loops over
 * every output and tap, no scratch, double accumulation). */
size_t nne_f32_conv_scratch__ref(const nne_conv_desc *p);
void nne_f32_conv__ref(const nne_conv_desc *p, const float *x, const float *w, const float *bias,
                       float *y, void *scratch);

/* ConvTranspose: Y = conv_transpose(X, W) + bias. p->out must already include
 * output_padding / output_shape; p->pb are the start pads. */
size_t nne_convt_scratch_f32(const nne_conv_desc *p);
void nne_convt_f32(const nne_conv_desc *p, const float *x, const float *w, const float *bias,
                   float *y, void *scratch);
size_t nne_convt_scratch_f64(const nne_conv_desc *p);
void nne_convt_f64(const nne_conv_desc *p, const double *x, const double *w, const double *bias,
                   double *y, void *scratch);

#endif
