/*
 * vec.h - the vector kernel family of the non-GEMM float work: depthwise
 * 2-d convolution (with the fused epilogue), element-wise activations and
 * binary ops with broadcasting of one operand along rows, channel scaling
 * and row reductions. One body (kernels/vec_tmpl.h) compiled per ISA:
 * x86_avx512/vec.c, x86_avx2/vec.c, arm_neon/vec.c and vec_portable.c.
 *
 * nne_vec() gives the variant of the ISA in use (NNE_MAX_ISA caps it), or
 * NULL under NNE_FORCE_REFERENCE: callers then run their reference code.
 * The variants are tested against the reference kernels in
 * tests/unit/test_vec.c over odd shapes.
 */
#ifndef NNE_KERNELS_VEC_H
#define NNE_KERNELS_VEC_H

#include "core/threadpool.h"
#include "kernels/epilogue.h"
#include "kernels/ref/conv.h"
#include "kernels/spmm.h"

#include <stddef.h>
#include <stdint.h>

/* Binary operations of nne_vec_ops.binary. */
enum { NNE_VBIN_ADD = 0, NNE_VBIN_SUB, NNE_VBIN_MUL, NNE_VBIN_DIV, NNE_VBIN_MAX, NNE_VBIN_MIN, NNE_VBIN_COUNT };

typedef struct nne_vec_ops {
    const char *name;
    int isa; /* NNE_ISA_* the variant needs */
    int vl;  /* floats per vector */
    /* Depthwise 2-d convolution of output channels [c0, c1) of one image:
     * x, y at the image's first channel, w is M x (kh * kw), channel m
     * reads input channel m / (M / C). Every tap is a vector load from a
     * zero-padded, phase-split band of input rows held in scratch
     * (dwconv2d_scratch(p) bytes, 64-byte aligned; SIZE_MAX: shape not
     * supported, kernel width above 16). y = act(conv + bias + ep->bias +
     * residual); bias and ep may be NULL; ep's rows are y's channels
     * (residual at ep->residual + m * ep->ld_res). */
    void (*dwconv2d)(const nne_conv_desc *p, const float *x, const float *w, const float *bias, float *y,
                     int64_t c0, int64_t c1, const nne_epilogue *ep, void *scratch);
    size_t (*dwconv2d_scratch)(const nne_conv_desc *p);
    /* y[i] = act(x[i]) (nne_act), x == y allowed */
    void (*act)(int act, float alpha, float beta, const float *x, float *y, int64_t n);
    /* y[i] = a[i] op b[i] for i < n; a_step / b_step 0 broadcasts a[0] / b[0]
     * (1 otherwise); y may equal a or b */
    void (*binary)(int op, const float *a, int a_step, const float *b, int b_step, float *y, int64_t n);
    /* out[r] = sum of x[r * n .. r * n + n) for r < rows */
    void (*row_sum)(const float *x, int64_t rows, int64_t n, float *out);
    /* y = softmax(x) over n contiguous floats (the row maximum subtracted
     * first, as the reference kernel does); x == y allowed */
    void (*softmax_row)(const float *x, float *y, int64_t n);
    /* y = (x - mean) / sqrt(var + eps) * gamma + beta over n contiguous
     * floats (two passes: mean, then the centred variance); beta may be
     * NULL; x == y allowed */
    void (*layernorm_row)(const float *x, float *y, int64_t n, const float *gamma, const float *beta, float eps);
    /* y[i] = x[i] * a + b (one rounding where the ISA fuses), x == y allowed */
    void (*affine)(const float *x, float *y, int64_t n, float a, float b);
    /* y[m] = sum over k of W[m * K + k] * x[k] for m < M (matrix-vector) */
    void (*gemv)(const float *W, int64_t M, int64_t K, const float *x, float *y);
    /* QLinearAdd of 8-bit tensors (ops/quant_fused.c), the float formula:
     * y = sat(rne(((a - za) * sa + (b - zb) * sb) / ys) + yz), the rounded
     * value clamped to [lo, hi] (= qmin - yz, qmax - yz) first; bytes are
     * uint8 or int8 (a_u8, b_u8) and y's byte is the value's low byte */
    void (*q8_add)(const uint8_t *a, int a_u8, float za, float sa, const uint8_t *b, int b_u8, float zb, float sb,
                   float ys, float lo, float hi, int32_t yz, uint8_t *y, int64_t n);
    /* QuantizeLinear of floats to 8 bits (ops/quant_linear.c): v = x / s
     * clamped to [lo, hi] (= qmin - z, qmax - z), rounded half to even, + z;
     * NaN gives 0 */
    void (*q8_quantize)(const float *x, int64_t n, float s, float z, float lo, float hi, uint8_t *y);
    /* rows [m0, m1) of the sparse x dense product of kernels/spmm.h */
    void (*spmm)(const nne_spmat *s, int64_t m0, int64_t m1, const float *X, int64_t ldx, int64_t n, float *Y,
                 int64_t ldy, const float *bias, const nne_epilogue *ep);
} nne_vec_ops;

/* One value of q8_quantize before the cast to its byte: x / s clamped to
 * [lo, hi], rounded half to even ((v + 1.5 * 2^23) - 1.5 * 2^23 in the
 * default rounding mode), + z; NaN gives z - z = 0 after the cast's + z. */
static inline int32_t nne_q8_quantize_one(float x, float s, float z, float lo, float hi) {
    float v = x / s;
    int nan = v != v;
    v = v < lo ? lo : v;
    v = v > hi ? hi : v;
    v = (v + 12582912.0f) - 12582912.0f;
    v = nan ? -z : v;
    return (int32_t)(v + z);
}

#define NNE_VEC_DECLARE(isa) extern const nne_vec_ops nne_vec_ops__##isa;
NNE_VEC_DECLARE(portable)
#if defined(__x86_64__)
NNE_VEC_DECLARE(avx2)
NNE_VEC_DECLARE(avx512)
#endif
#if defined(__aarch64__)
NNE_VEC_DECLARE(neon)
#endif

/* The variant for the ISA in use; NULL under NNE_FORCE_REFERENCE. */
const nne_vec_ops *nne_vec(void);
/* Every variant built for this architecture, best first, NULL-terminated
 * (tests run those the CPU allows). */
extern const nne_vec_ops *const nne_vec_all[];

/* A 1x1 Conv on 1x1 images (squeeze-excitation blocks): y[n][m] =
 * act(W[m] . x[n] + bias + ep bias + residual) for each image n, W M x C
 * row-major (one group); output channels split over the pool. */
int nne_vec_conv1x1_supported(const nne_vec_ops *ops, const nne_conv_desc *p);
void nne_vec_conv1x1_run(const nne_vec_ops *ops, const nne_conv_desc *p, const float *x, const float *w,
                         const float *bias, const nne_epilogue *ep, float *y, nne_threadpool *pool);

/* Depthwise 2-d Conv of a whole batch with the work split by channels over
 * the pool: the scratch of the caller (and of each worker, which must have
 * nne_vec_dwconv_scratch bytes) as described above. Returns 0 (and does
 * nothing) when ops cannot run this shape (caller uses another kernel). */
int nne_vec_dwconv_supported(const nne_vec_ops *ops, const nne_conv_desc *p);
size_t nne_vec_dwconv_scratch(const nne_vec_ops *ops, const nne_conv_desc *p);
void nne_vec_dwconv_run(const nne_vec_ops *ops, const nne_conv_desc *p, const float *x, const float *w,
                        const float *bias, const nne_epilogue *ep, float *y, void *scratch, nne_threadpool *pool);

#endif
