/*
 * qgemm.h - the int8 GEMM family behind nnedge's quantized Conv / Gemm /
 * MatMul (QLinearConv, the ai.nnedge ops the qdq_fusion pass makes): one
 * variant per ISA (x86_avx512/, x86_avx2/, arm_neon/ and a portable one),
 * all from kernels/qgemm_tmpl.h.
 *
 *     acc[m][n] = sum_k (A[m][k] - za[m]) * (B[k][n] - zb)       (int32, exact)
 *     y[m][n]   = clamp(round_half_even((float)(acc + bias[m]) * mult[m]) + yz,
 *                       qmin, qmax)                                (uint8 / int8)
 *
 * A is the constant weight matrix (uint8 or int8, zero point per row),
 * packed once per plan; B (the activations, uint8 or int8 with one zero
 * point) is packed per run by a packer (strided matrix or 2-d im2col). Both
 * are widened to int16 with their zero points subtracted while packing
 * ([-255, 255] fits), stored as pairs along k, so one vpmaddwd (AVX2 /
 * AVX-512BW) or vmlal (NEON) multiplies and adds two k at once into int32
 * without the saturation of vpmaddubsw's int16 sums: every variant is
 * bit-exact against the int32 reference (nne_conv_i32 + the requantization
 * above). The accumulator cannot overflow for K < 2^31 / 255^2 = 33025.
 *
 * Requantization (the contract with ONNX QLinearConv / ORT's MLAS): the
 * product (float)(acc + bias) * mult is formed in float32 (mult is
 * (float)(x_scale * w_scale[m] / y_scale), computed in double), clamped to
 * [qmin - yz, qmax - yz] (a NaN goes to qmin - yz), rounded half to even
 * and yz added. qmin/qmax are the output type's range, narrowed by a fused
 * Relu / Clip (monotone, so Q(act(y)) = clamp(Q(y), Q(lo), Q(hi)) exactly).
 */
#ifndef NNE_KERNELS_QGEMM_H
#define NNE_KERNELS_QGEMM_H

#include "core/threadpool.h"
#include "kernels/ref/conv.h"

#include <stddef.h>
#include <stdint.h>

/* The requantizing epilogue: output element (m, n) is
 * y[m * rsy + n * csy] (elements of one byte). */
typedef struct nne_qreq {
    const int32_t *bias; /* [M] or NULL */
    const float *mult;   /* [M] */
    int32_t yz;          /* output zero point */
    float lo, hi;        /* qmin - yz, qmax - yz */
    int y_u8;            /* 1: uint8 output, 0: int8 */
    void *y;
    int64_t rsy, csy;
    int y_i32;           /* 1: store acc + bias as int32 (ConvInteger); mult, yz, lo, hi unused */
} nne_qreq;

/* Where B comes from: a uint8/int8 tensor, zero point xz, either strided
 * (B(k, n) = x[k * rsb + n * csb]) or, with p set, the im2col matrix of a
 * 2-d convolution (k = (c, ky, kx), n = (oy, ox); x points at the group's
 * first input channel, insp = elements per channel; padding reads as xz). */
typedef struct nne_qsrc {
    const void *x;
    int x_u8;
    int32_t xz;
    int64_t rsb, csb;
    const nne_conv_desc *p;
    int64_t insp;
    /* set by the kernel (callers leave them zero): the padded int16 copy */
    const void *xp; /* int16 (qgemm_tmpl.h) or uint8 (qgemm8_tmpl.h) */
    int64_t ph, pw;
} nne_qsrc;

typedef struct nne_qgemm_args {
    int64_t M, N, K;
    const void *Pa; /* A packed by pack_a */
    const nne_qsrc *b;
    const nne_qreq *req;
} nne_qgemm_args;

typedef struct nne_qgemm_ops {
    const char *name;
    int isa;
    int mr, nr;
    /* the range of A's values minus their zero point this variant is exact
     * for: [-255, 255] for the int16-pair variants (any uint8/int8 data);
     * the 8-bit variants (see below) take [wlo, whi] only */
    int32_t wlo, whi;
    /* A (M x K, element (m, k) at w[m * rsw + k * csw], uint8 or int8) minus
     * its zero point (wz[m], or wz[0] for all rows when !wz_per_row; NULL: 0) */
    size_t (*packed_a_bytes)(int64_t M, int64_t K);
    void (*pack_a)(int64_t M, int64_t K, const void *w, int w_u8, int64_t rsw, int64_t csw, const int32_t *wz,
                   int wz_per_row, void *P);
    /* scratch of one run: the packed B of all N columns (shared by the
     * pool's threads, each packing its own columns), int32 sums of every
     * output when K is long enough to be cut into slices, and, for a convolution
     * (p != NULL: B's source is its im2col), the zero-point-shifted, padded
     * int16 copy of the group's input the packer reads without bounds checks */
    size_t (*scratch)(int64_t M, int64_t N, int64_t K, const nne_conv_desc *p);
    void (*run)(const nne_qgemm_args *g, void *scratch, nne_threadpool *pool);
    /* depthwise 2-d convolution of one image: channel c of x (uint8/int8
     * planes of p->in) with taps w (float, already minus the weight zero
     * point, c * taps), requantized by req (rows = channels, bias/mult per
     * channel, y = the image's first output channel, rsy = outsp, csy = 1).
     * Exact while taps * 255^2 < 2^24 (taps <= 258; nne_qdw_ok). */
    size_t (*dw_scratch)(const nne_conv_desc *p);
    void (*dwconv)(const nne_conv_desc *p, const void *x, int x_u8, int32_t xz, const float *w,
                   const nne_qreq *req, void *scratch, nne_threadpool *pool);
    /* Winograd F(2x2, 3x3) of one image (see "Winograd" below; NULL in the
     * 8-bit variants): a 3 x 3, stride 1, undilated, ungrouped 2-d
     * convolution of x (C planes, uint8/int8, zero point xz) with the
     * weights packed by wino_pack_a (w: M x C x 3 x 3 uint8/int8 minus
     * wz[m]; wino_a_bytes(M, C) bytes), requantized by req (rows = output
     * channels, rsy = outsp, csy = 1; no int32 output). Exact where
     * nne_qwino_fits. */
    size_t (*wino_a_bytes)(int64_t M, int64_t C);
    void (*wino_pack_a)(int64_t M, int64_t C, const void *w, int w_u8, const int32_t *wz, void *P);
    size_t (*wino_scratch)(const nne_conv_desc *p);
    void (*wino_run)(const nne_conv_desc *p, const void *x, int x_u8, int32_t xz, const void *Pa,
                     const nne_qreq *req, void *scratch, nne_threadpool *pool);
} nne_qgemm_ops;

/*
 * Winograd (kernels/qgemm_tmpl.h): per 2 x 2 output tile, V = B^T d B of
 * the 4 x 4 input patch d (x - xz), U = G' g G'^T of the 3 x 3 weights g
 * (w - wz) with G' = 2 G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2], so every value is
 * an integer (|V| <= 4 * 255, |U| <= 9 * 255: int16); the 16 products sum
 * over the channels in int32 (M), and A^T M A = 4 y with y the direct
 * convolution's sum. That is exact while no sum overflows: with xr the
 * largest |x - xz| and S the largest sum over c of |U(m, c)| at one of the
 * 16 positions, 9 * 4 * xr * S < 2^31 (an output adds 9 M's, each of
 * magnitude at most S * 4 * xr). nne_qwino_fits checks it on the weights.
 */
/* U = G' g G'^T (g: 3 x 3 row-major, u: 4 x 4). */
static inline void nne_qwino_u(const int32_t g[9], int32_t u[16]) {
    int32_t t[4][3];
    for (int j = 0; j < 3; j++) {
        t[0][j] = 2 * g[j];
        t[1][j] = g[j] + g[3 + j] + g[6 + j];
        t[2][j] = g[j] - g[3 + j] + g[6 + j];
        t[3][j] = 2 * g[6 + j];
    }
    for (int i = 0; i < 4; i++) {
        u[i * 4 + 0] = 2 * t[i][0];
        u[i * 4 + 1] = t[i][0] + t[i][1] + t[i][2];
        u[i * 4 + 2] = t[i][0] - t[i][1] + t[i][2];
        u[i * 4 + 3] = 2 * t[i][2];
    }
}
/* U of filter (m, c) of w (M x C x 3 x 3 bytes, uint8 when w_u8, else
 * int8) minus wz[m]. */
static inline void nne_qwino_u_of(const void *w, int w_u8, const int32_t *wz, int64_t m, int64_t C, int64_t c,
                                  int32_t u[16]) {
    int32_t g[9];
    for (int t = 0; t < 9; t++) {
        int64_t idx = (m * C + c) * 9 + t;
        g[t] = (w_u8 ? (int32_t)((const uint8_t *)w)[idx] : (int32_t)((const int8_t *)w)[idx]) - wz[m];
    }
    nne_qwino_u(g, u);
}
/* Whether the Winograd path is exact for these weights (M x C x 3 x 3,
 * minus wz[m]) and inputs with |x - xz| <= xr. */
int nne_qwino_fits(int64_t M, int64_t C, const void *w, int w_u8, const int32_t *wz, int32_t xr);

/*
 * The 8-bit variants (kernels/qgemm8_tmpl.h; dw_scratch and dwconv NULL):
 * the same contract with A packed as int8 quads along k (plus each row's
 * sum) and B as uint8 quads (an int8 B is moved to uint8 by adding 128 to
 * values and zero point), so one instruction multiplies four k:
 *   AVX2 / AVX-512BW: vpmaddubsw (uint8 x int8, pairs summed into int16
 *     with saturation) then vpmaddwd by ones into int32. Exact when
 *     |A - za| <= 64: a pair sums to at most 2 * 255 * 64 = 32640 < 2^15,
 *     so wlo, whi = -64, 64 (the 7-bit weights of reduce-range quantizers:
 *     [-63, 63], nnedge's default).
 *   AVX-512 VNNI: vpdpbusd (four uint8 x int8 products into int32, no
 *     intermediate rounding): any int8 value, wlo, whi = -128, 127.
 * The zero point of B is taken out after the products:
 *   sum_k (A - za)(B - zb) = sum_k (A - za) B - zb * rowsum(A - za),
 * folded into the bias of each run (wrapping int32 arithmetic: the result
 * is the exact sum whenever that fits in int32, as with the int16 path).
 * A plan picks an 8-bit variant only when every weight of the node fits
 * (nne_qgemm8_fits), else keeps the int16-pair variant.
 */
/* Best 8-bit variant the ISA in use allows (NULL: none, or the reference). */
const nne_qgemm_ops *nne_qgemm8_best(void);
/* Every 8-bit variant this CPU can run (best first), for tests. */
int nne_qgemm8_variants(const nne_qgemm_ops **out, int max);
/* Whether every A - za (A as pack_a takes it) lies in [ops->wlo, ops->whi]. */
int nne_qgemm_fits(const nne_qgemm_ops *ops, int64_t M, int64_t K, const void *w, int w_u8, int64_t rsw,
                   int64_t csw, const int32_t *wz, int wz_per_row);

/* Modes of a variant's register tile (kernels/qgemm_tmpl.h): start from
 * the sums saved by the previous K slice; requantize and store the output
 * (else save the sums for the next slice). */
#define QG_ACC_LOAD 1
#define QG_ACC_FINAL 2

extern const nne_qgemm_ops nne_qgemm_ops__portable;
#if defined(__x86_64__)
extern const nne_qgemm_ops nne_qgemm_ops__avx2;
extern const nne_qgemm_ops nne_qgemm_ops__avx512;
extern const nne_qgemm_ops nne_qgemm_ops__avx2_u8;
extern const nne_qgemm_ops nne_qgemm_ops__avx512_u8;
extern const nne_qgemm_ops nne_qgemm_ops__avx512vnni_u8;
#endif
#if defined(__aarch64__)
extern const nne_qgemm_ops nne_qgemm_ops__neon;
#endif

/* Every variant this CPU can run (best first), for tests; returns count. */
int nne_qgemm_variants(const nne_qgemm_ops **out, int max);
/* The variant in use (kernel table; NULL under NNE_FORCE_REFERENCE). */
const nne_qgemm_ops *nne_qgemm_best(void);

/* The reference of the epilogue: one value. */
static inline int32_t nne_qreq_one(const nne_qreq *q, int64_t m, int32_t acc) {
    int32_t v = (int32_t)((uint32_t)acc + (uint32_t)(q->bias ? q->bias[m] : 0));
    float f = (float)v * q->mult[m];
    f = f > q->lo ? f : q->lo; /* NaN -> lo */
    f = f < q->hi ? f : q->hi;
    return (int32_t)__builtin_nearbyintf(f) + q->yz;
}
static inline void nne_qreq_store(const nne_qreq *q, int64_t m, int64_t n, int32_t acc) {
    if (q->y_i32) {
        ((int32_t *)q->y)[m * q->rsy + n * q->csy] = (int32_t)((uint32_t)acc + (uint32_t)(q->bias ? q->bias[m] : 0));
        return;
    }
    int32_t v = nne_qreq_one(q, m, acc);
    if (q->y_u8) ((uint8_t *)q->y)[m * q->rsy + n * q->csy] = (uint8_t)v;
    else ((int8_t *)q->y)[m * q->rsy + n * q->csy] = (int8_t)v;
}

/* Whether the depthwise kernel is exact for this many taps. */
static inline int nne_qdw_ok(int64_t taps) { return taps > 0 && taps <= 258; }

#endif
