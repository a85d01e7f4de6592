/*
 * conv.c - reference convolution kernels.
 *
 * Conv (any number of spatial axes) is computed per (batch, group) as
 *     Y_g[Mg x OUT] = W_g[Mg x K] * col[K x OUT],   K = (C/G) * prod(kernel)
 * where col is the im2col matrix of the group's input channels. To bound the
 * scratch, col is built for a band of rows of the first output axis at a
 * time (at most NN_COL_BUDGET bytes, at least one row). 1x1 convolutions with
 * unit stride and no padding use X directly as the column matrix, and 2-d
 * depthwise convolutions (one input channel per group) use a direct loop.
 *
 * ConvTranspose is the adjoint: per (batch, group)
 *     col[(Mg*taps) x IN] = W_g^T * X_g, then col2im scatters col into Y
 * (W_g^T is read in place through the GEMM's strides).
 * All products go through the shared GEMM kernels of gemm.c.
 *
 * im2col/col2im walk the spatial axes recursively; on the last axis the
 * range of in-image positions is computed once so the inner loop is a
 * straight copy (memcpy for unit stride).
 */
#include "kernels/ref/conv.h"
#include "kernels/ref/gemm.h"

#include <string.h>

#define NN_COL_BUDGET ((size_t)8 << 20)

static size_t align64(size_t b) { return (b + 63) & ~(size_t)63; }

static int64_t prod64(const int64_t *v, int n) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) p *= v[i];
    return p;
}

/* Positions o in [o0, o1) with 0 <= o*s + off < n form the range [*lo, *hi). */
static inline void valid_range(int64_t off, int64_t s, int64_t n, int64_t o0, int64_t o1,
                               int64_t *lo, int64_t *hi) {
    int64_t a = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t b = (n - 1 - off) < 0 ? 0 : (n - 1 - off) / s + 1;
    if (a < o0) a = o0;
    if (a > o1) a = o1;
    if (b > o1) b = o1;
    if (b < a) b = a;
    *lo = a;
    *hi = b;
}

typedef struct col_walk {
    const nne_col_geo *g;
    int64_t inner_col[NNE_CONV_MAX_SP]; /* product of ncol[dim+1..] */
    int64_t inner_img[NNE_CONV_MAX_SP]; /* product of nimg[dim+1..] */
    int64_t tap[NNE_CONV_MAX_SP];       /* current kernel tap */
} col_walk;

static void walk_init(col_walk *w, const nne_col_geo *g) {
    w->g = g;
    int64_t pc = 1, pi = 1;
    for (int i = g->nsp - 1; i >= 0; i--) {
        w->inner_col[i] = pc;
        w->inner_img[i] = pi;
        pc *= g->ncol[i];
        pi *= g->nimg[i];
    }
}

/* Decode tap index t into w->tap (row-major over g->k). */
static void walk_tap(col_walk *w, int64_t t) {
    for (int i = w->g->nsp - 1; i >= 0; i--) {
        w->tap[i] = t % w->g->k[i];
        t /= w->g->k[i];
    }
}

#define NN_DEF_IM2COL(SUF, T)                                                                 \
    static void im2col_rec_##SUF(const col_walk *w, int dim, const T *img, int64_t o0,        \
                                 int64_t o1, T **dstp) {                                      \
        const nne_col_geo *g = w->g;                                                          \
        int64_t n = g->nimg[dim], s = g->s[dim];                                              \
        int64_t off = w->tap[dim] * g->d[dim] - g->pb[dim];                                   \
        T *dst = *dstp;                                                                       \
        if (dim == g->nsp - 1) {                                                              \
            int64_t lo, hi;                                                                   \
            valid_range(off, s, n, o0, o1, &lo, &hi);                                         \
            for (int64_t o = o0; o < lo; o++) *dst++ = 0;                                     \
            if (s == 1) {                                                                     \
                if (hi > lo) memcpy(dst, img + lo + off, (size_t)(hi - lo) * sizeof(T));      \
                dst += hi - lo;                                                               \
            } else {                                                                          \
                for (int64_t o = lo; o < hi; o++) *dst++ = img[o * s + off];                  \
            }                                                                                 \
            for (int64_t o = hi; o < o1; o++) *dst++ = 0;                                     \
        } else {                                                                              \
            int64_t ic = w->inner_col[dim];                                                   \
            for (int64_t o = o0; o < o1; o++) {                                               \
                int64_t i = o * s + off;                                                      \
                if (i < 0 || i >= n) {                                                        \
                    memset(dst, 0, (size_t)ic * sizeof(T));                                   \
                    dst += ic;                                                                \
                } else {                                                                      \
                    im2col_rec_##SUF(w, dim + 1, img + i * w->inner_img[dim], 0,              \
                                     g->ncol[dim + 1], &dst);                                 \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        *dstp = dst;                                                                          \
    }                                                                                         \
    void nne_im2col_##SUF(const nne_col_geo *g, const T *img, int64_t channels, int64_t r0,   \
                          int64_t r1, T *col) {                                               \
        col_walk w;                                                                           \
        walk_init(&w, g);                                                                     \
        int64_t taps = prod64(g->k, g->nsp), isz = prod64(g->nimg, g->nsp);                   \
        T *dst = col;                                                                         \
        for (int64_t c = 0; c < channels; c++)                                                \
            for (int64_t t = 0; t < taps; t++) {                                              \
                walk_tap(&w, t);                                                              \
                im2col_rec_##SUF(&w, 0, img + c * isz, r0, r1, &dst);                         \
            }                                                                                 \
    }

#define NN_DEF_COL2IM(SUF, T)                                                                 \
    static void col2im_rec_##SUF(const col_walk *w, int dim, T *img, int64_t o0, int64_t o1,  \
                                 const T **srcp) {                                            \
        const nne_col_geo *g = w->g;                                                          \
        int64_t n = g->nimg[dim], s = g->s[dim];                                              \
        int64_t off = w->tap[dim] * g->d[dim] - g->pb[dim];                                   \
        const T *src = *srcp;                                                                 \
        if (dim == g->nsp - 1) {                                                              \
            int64_t lo, hi;                                                                   \
            valid_range(off, s, n, o0, o1, &lo, &hi);                                         \
            src += lo - o0;                                                                   \
            for (int64_t o = lo; o < hi; o++) img[o * s + off] += *src++;                     \
            src += o1 - hi;                                                                   \
        } else {                                                                              \
            int64_t ic = w->inner_col[dim];                                                   \
            for (int64_t o = o0; o < o1; o++) {                                               \
                int64_t i = o * s + off;                                                      \
                if (i < 0 || i >= n) {                                                        \
                    src += ic;                                                                \
                } else {                                                                      \
                    col2im_rec_##SUF(w, dim + 1, img + i * w->inner_img[dim], 0,              \
                                     g->ncol[dim + 1], &src);                                 \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
        *srcp = src;                                                                          \
    }                                                                                         \
    void nne_col2im_##SUF(const nne_col_geo *g, const T *col, int64_t channels, int64_t r0,   \
                          int64_t r1, T *img) {                                               \
        col_walk w;                                                                           \
        walk_init(&w, g);                                                                     \
        int64_t taps = prod64(g->k, g->nsp), isz = prod64(g->nimg, g->nsp);                   \
        const T *src = col;                                                                   \
        for (int64_t c = 0; c < channels; c++)                                                \
            for (int64_t t = 0; t < taps; t++) {                                              \
                walk_tap(&w, t);                                                              \
                col2im_rec_##SUF(&w, 0, img + c * isz, r0, r1, &src);                         \
            }                                                                                 \
    }

NN_DEF_IM2COL(f32, float)
NN_DEF_IM2COL(f64, double)
NN_DEF_IM2COL(i32, int32_t)
NN_DEF_COL2IM(f32, float)
NN_DEF_COL2IM(f64, double)

/* ---- plans ---- */

typedef struct conv_plan {
    int64_t Cg, Mg, taps, K, insp, outsp;
    int64_t inner;      /* columns per row of the first banded axis */
    int64_t rows;       /* rows of the first axis per band */
    int pointwise;      /* X is the column matrix */
    int depthwise2d;    /* direct 2-d depthwise loop (float only) */
    size_t col_bytes;   /* scratch for the column band */
} conv_plan;

static void conv_geo(const nne_conv_desc *p, nne_col_geo *g, int transposed) {
    g->nsp = p->nsp;
    for (int i = 0; i < p->nsp; i++) {
        g->ncol[i] = transposed ? p->in[i] : p->out[i];
        g->nimg[i] = transposed ? p->out[i] : p->in[i];
        g->k[i] = p->k[i];
        g->s[i] = p->s[i];
        g->d[i] = p->d[i];
        g->pb[i] = p->pb[i];
    }
}

/* Band the first axis of `grid` so that rowsK * rows * inner elements fit the
 * budget. */
static void plan_band(conv_plan *pl, const int64_t *grid, int nsp, int64_t rowsK, size_t esz) {
    pl->inner = prod64(grid + 1, nsp - 1);
    int64_t per_row = rowsK * pl->inner;
    int64_t rows = grid[0];
    if (per_row > 0) {
        int64_t fit = (int64_t)(NN_COL_BUDGET / esz) / per_row;
        if (fit < 1) fit = 1;
        if (rows > fit) rows = fit;
    }
    if (rows < 1) rows = 1;
    pl->rows = rows;
    pl->col_bytes = align64((size_t)(per_row * rows) * esz);
}

static void conv_plan_make(const nne_conv_desc *p, size_t esz, int allow_dw, conv_plan *pl) {
    memset(pl, 0, sizeof *pl);
    pl->Cg = p->G > 0 ? p->C / p->G : 0;
    pl->Mg = p->G > 0 ? p->M / p->G : 0;
    pl->taps = prod64(p->k, p->nsp);
    pl->K = pl->Cg * pl->taps;
    pl->insp = prod64(p->in, p->nsp);
    pl->outsp = prod64(p->out, p->nsp);
    int pw = 1;
    for (int i = 0; i < p->nsp; i++)
        if (p->k[i] != 1 || p->s[i] != 1 || p->pb[i] != 0 || p->out[i] != p->in[i]) pw = 0;
    pl->pointwise = pw;
    pl->depthwise2d = allow_dw && !pw && p->nsp == 2 && pl->Cg == 1;
    if (!pl->pointwise && !pl->depthwise2d) plan_band(pl, p->out, p->nsp, pl->K, esz);
}

/* Direct 2-d depthwise conv for one (batch, output channel). */
static void dw2d_f32(const nne_conv_desc *p, const float *plane, const float *wk, float *out) {
    int64_t IH = p->in[0], IW = p->in[1], OH = p->out[0], OW = p->out[1];
    int64_t KH = p->k[0], KW = p->k[1], sy = p->s[0], sx = p->s[1];
    for (int64_t oy = 0; oy < OH; oy++) {
        float *orow = out + oy * OW;
        for (int64_t ky = 0; ky < KH; ky++) {
            int64_t iy = oy * sy + ky * p->d[0] - p->pb[0];
            if (iy < 0 || iy >= IH) continue;
            const float *irow = plane + iy * IW;
            for (int64_t kx = 0; kx < KW; kx++) {
                float wv = wk[ky * KW + kx];
                int64_t off = kx * p->d[1] - p->pb[1], lo, hi;
                valid_range(off, sx, IW, 0, OW, &lo, &hi);
                if (sx == 1) {
                    const float *ip = irow + off;
                    for (int64_t ox = lo; ox < hi; ox++) orow[ox] += wv * ip[ox];
                } else {
                    for (int64_t ox = lo; ox < hi; ox++) orow[ox] += wv * irow[ox * sx + off];
                }
            }
        }
    }
}

/* C[M x N] += A * B with A(i,k) = A[i*rsa + k*csa] and row-major B, C. */
static void gemm_f32(int64_t M, int64_t N, int64_t K, const float *A, int64_t rsa, int64_t csa,
                     const float *B, int64_t ldb, float *C, int64_t ldc, void *pack) {
    nne_gemm_f32(M, N, K, 1.0f, A, rsa, csa, B, ldb, 1, 1.0f, C, ldc, pack);
}
static void gemm_f64(int64_t M, int64_t N, int64_t K, const double *A, int64_t rsa,
                     int64_t csa, const double *B, int64_t ldb, double *C, int64_t ldc,
                     void *pack) {
    (void)pack;
    nne_gemm_f64(M, N, K, 1.0, A, rsa, csa, B, ldb, 1, 1.0, C, ldc);
}
static void gemm_i32(int64_t M, int64_t N, int64_t K, const int32_t *A, int64_t rsa,
                     int64_t csa, const int32_t *B, int64_t ldb, int32_t *C, int64_t ldc,
                     void *pack) {
    (void)pack;
    nne_gemm_i32(M, N, K, A, rsa, csa, B, ldb, 1, 1, C, ldc);
}

/* GEMM packing scratch of a plan (float only; the others need none). Conv
 * calls are at most Mg x outsp x K, ConvTranspose ones K x insp x Cg. */
#define CONV_PACK_F32(pl) nne_gemm_f32_scratch((pl).Mg, (pl).outsp, (pl).K)
#define CONV_PACK_NONE(pl) ((size_t)0)
#define CONVT_PACK_F32(pl) nne_gemm_f32_scratch((pl).K, (pl).insp, (pl).Cg)

#define NN_DEF_CONV(SUF, T, PACK_BYTES, ALLOW_DW)                                             \
    size_t nne_conv_scratch_##SUF(const nne_conv_desc *p) {                                   \
        conv_plan pl;                                                                         \
        conv_plan_make(p, sizeof(T), ALLOW_DW, &pl);                                          \
        return pl.col_bytes + PACK_BYTES(pl);                                                 \
    }                                                                                         \
    void nne_conv_##SUF(const nne_conv_desc *p, const T *x, const T *w, const T *bias, T *y,  \
                        void *scratch) {                                                      \
        conv_plan pl;                                                                         \
        conv_plan_make(p, sizeof(T), ALLOW_DW, &pl);                                          \
        T *col = (T *)scratch;                                                                \
        void *pack = (char *)scratch + pl.col_bytes;                                          \
        nne_col_geo geo;                                                                      \
        conv_geo(p, &geo, 0);                                                                 \
        for (int64_t n = 0; n < p->N; n++)                                                    \
            for (int64_t g = 0; g < p->G; g++) {                                              \
                const T *xg = x + (n * p->C + g * pl.Cg) * pl.insp;                           \
                const T *wg = w + g * pl.Mg * pl.K;                                           \
                T *yg = y + (n * p->M + g * pl.Mg) * pl.outsp;                                \
                for (int64_t m = 0; m < pl.Mg; m++) {                                         \
                    T bv = bias ? bias[g * pl.Mg + m] : (T)0;                                 \
                    T *yp = yg + m * pl.outsp;                                                \
                    for (int64_t i = 0; i < pl.outsp; i++) yp[i] = bv;                        \
                }                                                                             \
                if (pl.depthwise2d) {                                                         \
                    for (int64_t m = 0; m < pl.Mg; m++)                                       \
                        conv_dw_##SUF(p, xg, wg + m * pl.taps, yg + m * pl.outsp);            \
                } else if (pl.pointwise) {                                                    \
                    gemm_##SUF(pl.Mg, pl.outsp, pl.Cg, wg, pl.K, 1, xg, pl.insp, yg,          \
                               pl.outsp, pack);                                               \
                } else {                                                                      \
                    for (int64_t r0 = 0; r0 < p->out[0]; r0 += pl.rows) {                     \
                        int64_t r1 = r0 + pl.rows < p->out[0] ? r0 + pl.rows : p->out[0];     \
                        int64_t cols = (r1 - r0) * pl.inner;                                  \
                        nne_im2col_##SUF(&geo, xg, pl.Cg, r0, r1, col);                       \
                        gemm_##SUF(pl.Mg, cols, pl.K, wg, pl.K, 1, col, cols,                 \
                                   yg + r0 * pl.inner, pl.outsp, pack);                       \
                    }                                                                         \
                }                                                                             \
            }                                                                                 \
    }

static void conv_dw_f32(const nne_conv_desc *p, const float *xg, const float *wk, float *out) {
    dw2d_f32(p, xg, wk, out);
}
/* Never called: the depthwise path is float only. */
static void conv_dw_f64(const nne_conv_desc *p, const double *xg, const double *wk, double *out) {
    (void)p, (void)xg, (void)wk, (void)out;
}
static void conv_dw_i32(const nne_conv_desc *p, const int32_t *xg, const int32_t *wk,
                        int32_t *out) {
    (void)p, (void)xg, (void)wk, (void)out;
}

NN_DEF_CONV(f32, float, CONV_PACK_F32, 1)
NN_DEF_CONV(f64, double, CONV_PACK_NONE, 0)
NN_DEF_CONV(i32, int32_t, CONV_PACK_NONE, 0)

/* ---- ConvTranspose ---- */

static void convt_plan_make(const nne_conv_desc *p, size_t esz, conv_plan *pl) {
    memset(pl, 0, sizeof *pl);
    pl->Cg = p->G > 0 ? p->C / p->G : 0;
    pl->Mg = p->G > 0 ? p->M / p->G : 0;
    pl->taps = prod64(p->k, p->nsp);
    pl->K = pl->Mg * pl->taps; /* rows of col */
    pl->insp = prod64(p->in, p->nsp);
    pl->outsp = prod64(p->out, p->nsp);
    plan_band(pl, p->in, p->nsp, pl->K, esz);
}

#define NN_DEF_CONVT(SUF, T, PACK_BYTES)                                                      \
    size_t nne_convt_scratch_##SUF(const nne_conv_desc *p) {                                  \
        conv_plan pl;                                                                         \
        convt_plan_make(p, sizeof(T), &pl);                                                   \
        return pl.col_bytes + PACK_BYTES(pl);                                                 \
    }                                                                                         \
    void nne_convt_##SUF(const nne_conv_desc *p, const T *x, const T *w, const T *bias, T *y, \
                         void *scratch) {                                                     \
        conv_plan pl;                                                                         \
        convt_plan_make(p, sizeof(T), &pl);                                                   \
        T *col = (T *)scratch;                                                                \
        void *pack = (char *)scratch + pl.col_bytes;                                          \
        nne_col_geo geo;                                                                      \
        conv_geo(p, &geo, 1);                                                                 \
        for (int64_t n = 0; n < p->N; n++)                                                    \
            for (int64_t m = 0; m < p->M; m++) {                                              \
                T bv = bias ? bias[m] : (T)0;                                                 \
                T *yp = y + (n * p->M + m) * pl.outsp;                                        \
                for (int64_t i = 0; i < pl.outsp; i++) yp[i] = bv;                            \
            }                                                                                 \
        /* an empty input adds nothing (its rows would still be walked one by one) */        \
        if (pl.insp == 0 || pl.Cg == 0 || pl.K == 0 || pl.outsp == 0) return;                 \
        for (int64_t g = 0; g < p->G; g++) {                                                  \
            /* W_g is Cg x K; W_g^T (K x Cg) has strides (1, K) */                            \
            const T *wg = w + g * pl.Cg * pl.K;                                               \
            for (int64_t n = 0; n < p->N; n++) {                                              \
                const T *xg = x + (n * p->C + g * pl.Cg) * pl.insp;                           \
                T *yg = y + (n * p->M + g * pl.Mg) * pl.outsp;                                \
                for (int64_t r0 = 0; r0 < p->in[0]; r0 += pl.rows) {                          \
                    int64_t r1 = r0 + pl.rows < p->in[0] ? r0 + pl.rows : p->in[0];           \
                    int64_t cols = (r1 - r0) * pl.inner;                                      \
                    memset(col, 0, (size_t)(pl.K * cols) * sizeof(T));                        \
                    gemm_##SUF(pl.K, cols, pl.Cg, wg, 1, pl.K, xg + r0 * pl.inner, pl.insp,   \
                               col, cols, pack);                                              \
                    nne_col2im_##SUF(&geo, col, pl.Mg, r0, r1, yg);                           \
                }                                                                             \
            }                                                                                 \
        }                                                                                     \
    }

NN_DEF_CONVT(f32, float, CONVT_PACK_F32)
NN_DEF_CONVT(f64, double, CONV_PACK_NONE)
