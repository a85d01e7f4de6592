/*
 * vec_tmpl.h - the body of every nne_vec_ops variant (see vec.h), written
 * once with GCC/Clang vector extensions and compiled once per ISA by a small
 * .c file that first defines
 *     NV_SUF  name suffix (avx2)   NV_SUF_NAME "avx2"   NV_ISA  its NNE_ISA_* level
 *     NV_VL   floats per vector
 * and is compiled with that ISA's flags (kernels.mk).
 *
 * Depthwise convolution (NCHW, one plane per channel). For each band of
 * output rows, the input rows the band reads are copied into scratch, zero
 * padded on every side and split into the stride's column phases
 *     Q[(r * sx + ph) * Wq + m] = x[iy0 + r][m * sx + ph - pad_left]
 * so that output columns ox .. ox + VL of tap (ky, kx) are one unaligned,
 * in-bounds vector load at row r = oy * sy + ky * dy - iy0, phase
 * (kx * dx) % sx, column ox + (kx * dx) / sx: no edge cases in the inner
 * loop. A band is sized to stay in L1 (NV_DW_BAND floats). The common
 * shapes (3x3 and 5x5, stride 1 or 2, no dilation) run an unrolled kernel
 * that makes two output rows at once, so each loaded input vector feeds
 * both rows' taps; every other shape runs the generic loop. The epilogue
 * (bias, residual, activation) is applied to each vector before it is
 * stored.
 */
#include "kernels/vec.h"
#include "kernels/dispatch.h"

#include <math.h>
#include <string.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

/* The short tail loops below must stay loops: GCC would make library
 * memcpy/memset calls of them, which cost more than the work on a 7-pixel
 * row. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-tree-loop-distribute-patterns")
#endif

#define NV_CAT2(a, b) a##__##b
#define NV_CAT(a, b) NV_CAT2(a, b)
#define NV_FN(name) NV_CAT(name, NV_SUF)

typedef float nv_vf __attribute__((vector_size(NV_VL * 4)));
typedef int32_t nv_vi __attribute__((vector_size(NV_VL * 4)));

static inline nv_vf nv_ld(const float *p) {
    nv_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}
static inline void nv_st(float *p, nv_vf v) { memcpy(p, &v, sizeof v); }
/* x - (+0) == x for every x, so this folds to a broadcast */
static inline nv_vf nv_splat(float x) { return x - (nv_vf){0}; }
static inline nv_vf nv_sel(nv_vi m, nv_vf a, nv_vf b) { return (nv_vf)((m & (nv_vi)a) | (~m & (nv_vi)b)); }
static inline int64_t nv_min(int64_t a, int64_t b) { return a < b ? a : b; }

/* The first n (0 < n < NV_VL) lanes of a vector: loaded (the others 0) or
 * stored, touching no memory past them: masked moves where the ISA has
 * them, lane by lane elsewhere. */
#if defined(__AVX2__) && NV_VL == 8
static inline __m256i nv_mask8(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
#endif
static inline nv_vf nv_ld_part(const float *p, int64_t n) {
#if defined(__AVX512F__) && NV_VL == 16
    return (nv_vf)_mm512_maskz_loadu_ps((__mmask16)((1u << n) - 1), p);
#elif defined(__AVX2__) && NV_VL == 8
    return (nv_vf)_mm256_maskload_ps(p, nv_mask8(n));
#else
    float t[NV_VL] = {0};
    for (int64_t i = 0; i < n; i++) t[i] = p[i];
    return nv_ld(t);
#endif
}
static inline void nv_st_part(float *p, nv_vf v, int64_t n) {
#if defined(__AVX512F__) && NV_VL == 16
    _mm512_mask_storeu_ps(p, (__mmask16)((1u << n) - 1), (__m512)v);
#elif defined(__AVX2__) && NV_VL == 8
    _mm256_maskstore_ps(p, nv_mask8(n), (__m256)v);
#else
    float t[NV_VL];
    nv_st(t, v);
    for (int64_t i = 0; i < n; i++) p[i] = t[i];
#endif
}

/* ------------------------------------------------------------- math -- */

/* e^x: x = n ln2 + r (n the nearest integer, found with the 1.5 * 2^23
 * trick), e^r by its degree-6 Taylor polynomial (relative error < 2e-7),
 * times 2^n built in the exponent bits. x is clamped to [-87, 88] first;
 * above 88.72 the result is inf, as expf's; below -87.33 (where expf's
 * result is denormal or 0) it is 0, so e^-inf is 0. */
static inline nv_vf nv_exp(nv_vf x0) {
    nv_vf x = nv_sel(x0 > 88.0f, nv_splat(88.0f), x0);
    x = nv_sel(x < -87.0f, nv_splat(-87.0f), x);
    const float magic = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */
    nv_vf t = x * 1.44269504088896341f + magic;
    nv_vi n = (nv_vi)t - (nv_vi)nv_splat(magic);
    nv_vf nf = t - magic;
    nv_vf r = x - nf * 0.693359375f + nf * 2.12194440e-4f;
    nv_vf p = nv_splat(1.0f / 720.0f);
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    nv_vi e = (n + 127) << 23;
    nv_vf y = nv_sel(x0 > 88.72283935546875f, nv_splat(INFINITY), p * (nv_vf)e);
    return nv_sel(x0 < -87.33654475f, (nv_vf){0}, y);
}

/* act(x) for a vector; the activations without a vector form (Tanh, the
 * GELUs) lane by lane through the reference. */
static inline __attribute__((always_inline)) nv_vf nv_act(int act, float al, float be, nv_vf x) {
    nv_vf z = {0}, one = nv_splat(1.0f);
    switch (act) {
    case NNE_ACT_NONE: return x;
    case NNE_ACT_RELU: return nv_sel(x > z, x, z);
    case NNE_ACT_CLIP: {
        /* written so NaN passes through, as Clip does */
        x = nv_sel(x < al, nv_splat(al), x);
        return nv_sel(x > be, nv_splat(be), x);
    }
    case NNE_ACT_LEAKYRELU: return nv_sel(x >= z, x, x * al);
    case NNE_ACT_SIGMOID: return one / (one + nv_exp(-x));
    case NNE_ACT_SILU: return x * (one / (one + nv_exp(-x)));
    case NNE_ACT_HARDSIGMOID:
    case NNE_ACT_HARDSWISH: {
        /* max(0, min(1, v)) as fmaxf/fminf: NaN gives 1 */
        nv_vf v = act == NNE_ACT_HARDSIGMOID ? x * al + be : x * (1.0f / 6.0f) + 0.5f;
        v = nv_sel(v < one, v, one);
        v = nv_sel(v > z, v, z);
        return act == NNE_ACT_HARDSIGMOID ? v : x * v;
    }
    default: {
        float t[NV_VL];
        nv_st(t, x);
        for (int i = 0; i < NV_VL; i++) t[i] = nne_act_f32(act, al, be, t[i]);
        return nv_ld(t);
    }
    }
}

/* y[i] = act(x[i]) for i < n (x == y allowed): the switch on act once,
 * outside the loop; the tail through the same vector code. */
#define NV_ACT_LOOP(A)                                                                                        \
    do {                                                                                                       \
        for (; i + NV_VL <= n; i += NV_VL) nv_st(y + i, nv_act(A, al, be, nv_ld(x + i)));                     \
        if (i < n) nv_st_part(y + i, nv_act(A, al, be, nv_ld_part(x + i, n - i)), n - i);                     \
    } while (0)

static void nv_act_n(int act, float al, float be, const float *x, float *y, int64_t n) {
    int64_t i = 0;
    switch (act) {
    case NNE_ACT_NONE:
        if (x != y) memmove(y, x, (size_t)n * sizeof(float));
        break;
    case NNE_ACT_RELU: NV_ACT_LOOP(NNE_ACT_RELU); break;
    case NNE_ACT_CLIP: NV_ACT_LOOP(NNE_ACT_CLIP); break;
    case NNE_ACT_LEAKYRELU: NV_ACT_LOOP(NNE_ACT_LEAKYRELU); break;
    case NNE_ACT_SIGMOID: NV_ACT_LOOP(NNE_ACT_SIGMOID); break;
    case NNE_ACT_SILU: NV_ACT_LOOP(NNE_ACT_SILU); break;
    case NNE_ACT_HARDSIGMOID: NV_ACT_LOOP(NNE_ACT_HARDSIGMOID); break;
    case NNE_ACT_HARDSWISH: NV_ACT_LOOP(NNE_ACT_HARDSWISH); break;
    default: NV_ACT_LOOP(act); break;
    }
}

/* ------------------------------------------------------ depthwise 2-d -- */

#define NV_DW_BAND 6144 /* floats of input band per channel: 24 KiB, in L1 */
#define NV_DW_MAXK 16
/* Strides above this go to the generic path: the input rows are
 * split into sx phases, so the fill work grows with sx even when the
 * output is one column (a stride of 65536 took 0.6 s on a 5-pixel row). */
#define NV_DW_MAXS 8

typedef struct nv_dwg {
    int64_t IH, IW, OH, OW, KH, KW, sy, sx, dy, dx, pt, pl;
    int64_t nvec; /* vectors per output row */
    int64_t Wq;   /* floats per phase row */
    int64_t rowf; /* floats per input row (sx phases) */
    int64_t khe;  /* input rows one output row reads */
    int64_t BR;   /* output rows per band (even) */
    int64_t rows; /* input rows of a band */
} nv_dwg;

static void nv_dw_geom(const nne_conv_desc *p, nv_dwg *g) {
    g->IH = p->in[0], g->IW = p->in[1], g->OH = p->out[0], g->OW = p->out[1];
    g->KH = p->k[0], g->KW = p->k[1], g->sy = p->s[0], g->sx = p->s[1], g->dy = p->d[0], g->dx = p->d[1];
    g->pt = p->pb[0], g->pl = p->pb[1];
    g->nvec = (g->OW + NV_VL - 1) / NV_VL;
    g->Wq = g->nvec * NV_VL + ((g->KW - 1) * g->dx) / g->sx;
    g->rowf = g->sx * g->Wq;
    g->khe = (g->KH - 1) * g->dy + 1;
    int64_t fit = NV_DW_BAND / g->rowf - g->khe; /* room for more rows after the first output row's */
    int64_t br = fit > 0 ? fit / g->sy + 1 : 1;
    br &= ~(int64_t)1;
    if (br < 2) br = 2;
    int64_t oh2 = (g->OH + 1) & ~(int64_t)1;
    if (br > oh2) br = oh2 > 2 ? oh2 : 2;
    g->BR = br;
    g->rows = (br - 1) * g->sy + g->khe;
}

static size_t NV_FN(nne_f32_dwconv2d_scratch)(const nne_conv_desc *p) {
    if (p->nsp != 2 || p->k[1] > NV_DW_MAXK || p->k[0] < 1 || p->k[1] < 1 || p->s[0] < 1 || p->s[1] < 1 ||
        p->s[0] > NV_DW_MAXS || p->s[1] > NV_DW_MAXS || p->d[0] < 1 || p->d[1] < 1)
        return SIZE_MAX;
    nv_dwg g;
    nv_dw_geom(p, &g);
    return (size_t)(g.rows * g.rowf) * sizeof(float) + 64;
}

#if NV_VL == 16
#define NV_EVEN_IDX 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define NV_ODD_IDX 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#elif NV_VL == 8
#define NV_EVEN_IDX 0, 2, 4, 6, 8, 10, 12, 14
#define NV_ODD_IDX 1, 3, 5, 7, 9, 11, 13, 15
#else
#define NV_EVEN_IDX 0, 2, 4, 6
#define NV_ODD_IDX 1, 3, 5, 7
#endif

/* d0[i] = s[2 i], d1[i] = s[2 i + 1] for i < n (both phases of a stride-2
 * row from one pass; reads s[0 .. 2 n) only). d0 and d1 have `room` >= n
 * floats, and those past n may be written with zeros (the tail: masked
 * loads, whole stores). */
static inline void nv_deint2(float *restrict d0, float *restrict d1, const float *restrict s, int64_t n,
                             int64_t room) {
    int64_t i = 0;
    for (; i < n; i += NV_VL) {
        nv_vf a, b;
        int64_t left = 2 * (n - i); /* floats of s still to read */
        if (left >= 2 * NV_VL) {
            a = nv_ld(s + 2 * i), b = nv_ld(s + 2 * i + NV_VL);
        } else {
            a = left >= NV_VL ? nv_ld(s + 2 * i) : nv_ld_part(s + 2 * i, left);
            b = left > NV_VL ? nv_ld_part(s + 2 * i + NV_VL, left - NV_VL) : (nv_vf){0};
        }
        nv_vf e, o;
#if defined(__AVX2__) && NV_VL == 8
        __m256 ee = _mm256_shuffle_ps((__m256)a, (__m256)b, 0x88), oo = _mm256_shuffle_ps((__m256)a, (__m256)b, 0xDD);
        e = (nv_vf)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ee), 0xD8));
        o = (nv_vf)_mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(oo), 0xD8));
#elif defined(__clang__)
        e = __builtin_shufflevector(a, b, NV_EVEN_IDX);
        o = __builtin_shufflevector(a, b, NV_ODD_IDX);
#else
        e = __builtin_shuffle(a, b, (nv_vi){NV_EVEN_IDX});
        o = __builtin_shuffle(a, b, (nv_vi){NV_ODD_IDX});
#endif
        if (i + NV_VL <= n || i + NV_VL <= room) {
            nv_st(d0 + i, e);
            nv_st(d1 + i, o);
        } else {
            nv_st_part(d0 + i, e, n - i);
            nv_st_part(d1 + i, o, n - i);
        }
    }
}

/* d[i] = s[2 i] for i < n; the vector loop stops while an element is left
 * for the scalar tail, so it never reads past s[2 (n - 1)]. */
static inline void nv_copy_s2(float *restrict d, const float *restrict s, int64_t n) {
    int64_t i = 0;
    for (; i + NV_VL < n; i += NV_VL) {
        nv_vf a = nv_ld(s + 2 * i), b = nv_ld(s + 2 * i + NV_VL);
#if defined(__clang__)
        nv_vf e = __builtin_shufflevector(a, b, NV_EVEN_IDX);
#else
        nv_vf e = __builtin_shuffle(a, b, (nv_vi){NV_EVEN_IDX});
#endif
        nv_st(d + i, e);
    }
    for (; i < n; i++) d[i] = s[2 * i];
}

/* d[0 .. n) = s[0 .. n); d has `room` >= n floats, and those past n may be
 * written with zeros: the tail is then a zero-filled masked load and a
 * whole store (masked stores are slow on some x86 cores). */
static inline void nv_copy(float *restrict d, const float *restrict s, int64_t n, int64_t room) {
    int64_t i = 0;
    for (; i + NV_VL <= n; i += NV_VL) nv_st(d + i, nv_ld(s + i));
    if (i < n) {
        if (i + NV_VL <= room) nv_st(d + i, nv_ld_part(s + i, n - i));
        else nv_st_part(d + i, nv_ld_part(s + i, n - i), n - i);
    }
}
static inline void nv_zero(float *d, int64_t n) {
    int64_t i = 0;
    for (; i + NV_VL <= n; i += NV_VL) nv_st(d + i, (nv_vf){0});
    for (; i < n; i++) d[i] = 0.0f;
}

/* Columns [lo, hi) of phase ph that hold image pixels: q[m] = row[m * sx + off]. */
static inline void nv_dw_cols(const nv_dwg *g, int64_t ph, int64_t *off, int64_t *lo, int64_t *hi) {
    *off = ph - g->pl;
    *lo = *off >= 0 ? 0 : (-*off + g->sx - 1) / g->sx;
    *hi = g->IW - 1 - *off < 0 ? 0 : (g->IW - 1 - *off) / g->sx + 1;
    if (*lo > g->Wq) *lo = g->Wq;
    if (*hi > g->Wq) *hi = g->Wq;
    if (*hi < *lo) *hi = *lo;
}

/* The band's input rows iy0 .. iy0 + nrows of one plane into Q. Only the
 * columns that hold pixels are written (rows outside the image: zeros
 * there); the padding columns are the same for every band and channel and
 * were zeroed once per call. */
static void nv_dw_fill(const nv_dwg *g, const float *plane, int64_t iy0, int64_t nrows, float *restrict Q) {
    if (g->sx == 2) {
        /* both phases from one pass over each row: columns [lo, hi) of both */
        int64_t off0, lo0, hi0, off1, lo1, hi1;
        nv_dw_cols(g, 0, &off0, &lo0, &hi0);
        nv_dw_cols(g, 1, &off1, &lo1, &hi1);
        int64_t lo = lo0 > lo1 ? lo0 : lo1, hi = hi0 < hi1 ? hi0 : hi1;
        if (hi < lo) hi = lo;
        for (int64_t r = 0; r < nrows; r++) {
            int64_t iy = iy0 + r;
            float *q0 = Q + r * g->rowf, *q1 = q0 + g->Wq;
            if (iy < 0 || iy >= g->IH) {
                nv_zero(q0 + lo0, hi0 - lo0);
                nv_zero(q1 + lo1, hi1 - lo1);
                continue;
            }
            const float *row = plane + iy * g->IW;
            nv_deint2(q0 + lo, q1 + lo, row + 2 * lo + off0, hi - lo, g->Wq - lo);
            for (int64_t m = lo0; m < lo; m++) q0[m] = row[2 * m + off0];
            for (int64_t m = hi; m < hi0; m++) q0[m] = row[2 * m + off0];
            for (int64_t m = lo1; m < lo; m++) q1[m] = row[2 * m + off1];
            for (int64_t m = hi; m < hi1; m++) q1[m] = row[2 * m + off1];
        }
        return;
    }
    for (int64_t ph = 0; ph < g->sx; ph++) {
        int64_t off, lo, hi;
        nv_dw_cols(g, ph, &off, &lo, &hi);
        for (int64_t r = 0; r < nrows; r++) {
            int64_t iy = iy0 + r;
            float *q = Q + r * g->rowf + ph * g->Wq;
            if (iy < 0 || iy >= g->IH) {
                nv_zero(q + lo, hi - lo);
                continue;
            }
            const float *row = plane + iy * g->IW;
            /* past hi up to Wq is padding: zeros may be stored there */
            if (g->sx == 1) nv_copy(q + lo, row + lo + off, hi - lo, g->Wq - lo);
            else if (g->sx == 2) nv_copy_s2(q + lo, row + lo * 2 + off, hi - lo);
            else
                for (int64_t m = lo; m < hi; m++) q[m] = row[m * g->sx + off];
        }
    }
}

/* The epilogue of one output vector (j-th of its row), then the store.
 * The row's last vector may be partial: when its extra lanes fit in the
 * `room` floats after the row that the caller writes later (the next
 * rows of the plane), it is stored whole anyway (this saves a masked store
 * on short rows such as 7 or 14 pixels); else only its lanes are written. */
static inline __attribute__((always_inline)) void nv_dw_store(float *o, const float *res, int64_t j, int64_t OW,
                                                              nv_vf a, int64_t room) {
    int64_t x0 = j * NV_VL, n = OW - x0;
    if (n >= NV_VL || NV_VL - n <= room) {
        if (res) a += nv_ld(res + x0);
        nv_st(o + x0, a);
        return;
    }
    if (res) a += nv_ld_part(res + x0, n);
    nv_st_part(o + x0, a, n);
}

/* Two output rows (o1 NULL: one) of a K x K, stride-S, undilated kernel;
 * Q points at the band row of the first row's tap ky = 0. Inlined with
 * constant K and S, so the loops unroll and each input vector is loaded
 * once for both rows. */
static inline __attribute__((always_inline)) void nv_dw_pair(const nv_dwg *g, const float *Q, int K, int S,
                                                             const nv_vf *wv, nv_vf b, float *o0, float *o1,
                                                             const float *res0, const float *res1, int64_t after) {
    const int64_t rowf = g->rowf, Wq = g->Wq;
    /* `after`: rows of the plane after the pair's last row. o0's partial
     * vector may spill into o1 and on only when o1's vector 0 is stored
     * after it (one vector per row) */
    int64_t room1 = after * g->OW, room0 = o1 ? (g->nvec == 1 ? room1 + g->OW : 0) : room1;
    for (int64_t j = 0; j < g->nvec; j++) {
        nv_vf a0 = b, a1 = b;
        const float *qj = Q + j * NV_VL;
#pragma GCC unroll 8
        for (int t = 0; t < K + S; t++) {
            const float *q = qj + t * rowf;
#pragma GCC unroll 8
            for (int kx = 0; kx < K; kx++) {
                nv_vf v = nv_ld(q + (kx % S) * Wq + kx / S);
                if (t < K) a0 += wv[t * K + kx] * v;
                if (t >= S && t - S < K) a1 += wv[(t - S) * K + kx] * v;
            }
        }
        nv_dw_store(o0, res0, j, g->OW, a0, room0);
        if (o1) nv_dw_store(o1, res1, j, g->OW, a1, room1);
    }
}

/* One output row, any kernel: Q points at the band row of tap ky = 0. */
static void nv_dw_row(const nv_dwg *g, const float *Q, const float *wk, const int64_t *koff, nv_vf b, float *o,
                      const float *res, int64_t after) {
    for (int64_t j = 0; j < g->nvec; j++) {
        nv_vf a = b;
        for (int64_t ky = 0; ky < g->KH; ky++) {
            const float *q = Q + ky * g->dy * g->rowf + j * NV_VL;
            const float *w = wk + ky * g->KW;
            for (int64_t kx = 0; kx < g->KW; kx++) a += w[kx] * nv_ld(q + koff[kx]);
        }
        nv_dw_store(o, res, j, g->OW, a, after * g->OW);
    }
}

#define NV_DW_CASE(K, S)                                                                                       \
    for (int64_t oy = oy0; oy < oy1; oy += 2) {                                                                 \
        int two = oy + 1 < oy1;                                                                                 \
        const float *q = Q + (oy - oy0) * S * g.rowf;                                                           \
        nv_dw_pair(&g, q, K, S, wv, bv, out + oy * g.OW, two ? out + (oy + 1) * g.OW : NULL,                   \
                   res ? res + oy * g.OW : NULL, res && two ? res + (oy + 1) * g.OW : NULL,                     \
                   g.OH - (oy + 1 + two));                                                                      \
    }

static void NV_FN(nne_f32_dwconv2d)(const nne_conv_desc *p, const float *x, const float *w, const float *bias,
                                    float *y, int64_t c0, int64_t c1, const nne_epilogue *ep, void *scratch) {
    nv_dwg g;
    nv_dw_geom(p, &g);
    int64_t insp = g.IH * g.IW, outsp = g.OH * g.OW, taps = g.KH * g.KW;
    int64_t mult = p->M / p->C; /* outputs per input channel */
    float *Q = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int act = ep ? ep->act : NNE_ACT_NONE;
    float al = ep ? ep->alpha : 0.0f, be = ep ? ep->beta : 0.0f;
    nv_zero(Q, g.rows * g.rowf);
    int64_t koff[NV_DW_MAXK];
    for (int64_t kx = 0; kx < g.KW; kx++) koff[kx] = ((kx * g.dx) % g.sx) * g.Wq + (kx * g.dx) / g.sx;
    int kind = 0; /* 1..4: the unrolled 3x3/5x5 stride 1/2 kernels */
    if (g.dy == 1 && g.dx == 1 && g.sy == g.sx && g.KH == g.KW && (g.sx == 1 || g.sx == 2) &&
        (g.KH == 3 || g.KH == 5))
        kind = (g.KH == 5) * 2 + g.sx;
    for (int64_t m = c0; m < c1; m++) {
        const float *plane = x + (m / mult) * insp;
        const float *wk = w + m * taps;
        float *out = y + m * outsp;
        const float *res = ep && ep->residual ? ep->residual + m * ep->ld_res : NULL;
        float b0 = (bias ? bias[m] : 0.0f) + (ep && ep->bias ? ep->bias[m] : 0.0f);
        nv_vf bv = nv_splat(b0);
        nv_vf wv[25];
        if (kind)
            for (int64_t t = 0; t < taps; t++) wv[t] = nv_splat(wk[t]);
        for (int64_t oy0 = 0; oy0 < g.OH; oy0 += g.BR) {
            int64_t oy1 = nv_min(oy0 + g.BR, g.OH);
            int64_t nb = (oy1 - oy0 + 1) & ~(int64_t)1; /* pairs: the odd last row's partner reads zeros */
            nv_dw_fill(&g, plane, oy0 * g.sy - g.pt, (nb - 1) * g.sy + g.khe, Q);
            switch (kind) {
            case 1: NV_DW_CASE(3, 1) break;
            case 2: NV_DW_CASE(3, 2) break;
            case 3: NV_DW_CASE(5, 1) break;
            case 4: NV_DW_CASE(5, 2) break;
            default:
                for (int64_t oy = oy0; oy < oy1; oy++)
                    nv_dw_row(&g, Q + (oy - oy0) * g.sy * g.rowf, wk, koff, bv, out + oy * g.OW,
                              res ? res + oy * g.OW : NULL, g.OH - 1 - oy);
            }
            /* the activation over the band's rows while they are in cache,
             * its switch outside the loop */
            if (act != NNE_ACT_NONE) nv_act_n(act, al, be, out + oy0 * g.OW, out + oy0 * g.OW, (oy1 - oy0) * g.OW);
        }
    }
}

/* ------------------------------------------------------- element-wise -- */

static void NV_FN(nne_f32_vact)(int act, float alpha, float beta, const float *x, float *y, int64_t n) {
    nv_act_n(act, alpha, beta, x, y, n);
}

static inline nv_vf nv_bin(int op, nv_vf a, nv_vf b) {
    switch (op) {
    case NNE_VBIN_ADD: return a + b;
    case NNE_VBIN_SUB: return a - b;
    case NNE_VBIN_MUL: return a * b;
    case NNE_VBIN_DIV: return a / b;
    /* as fmaxf/fminf would not: NaN in either gives NaN (ONNX Max/Min) */
    case NNE_VBIN_MAX: return nv_sel(a != a, a, nv_sel(b != b, b, nv_sel(a > b, a, b)));
    default: return nv_sel(a != a, a, nv_sel(b != b, b, nv_sel(a < b, a, b)));
    }
}

/* One op, with the broadcast pattern fixed, so each loop is a plain vector loop. */
#define NV_BIN_LOOPS(OP)                                                                                       \
    if (as && bs) {                                                                                            \
        for (; i + NV_VL <= n; i += NV_VL) nv_st(y + i, nv_bin(OP, nv_ld(a + i), nv_ld(b + i)));               \
    } else if (bs) {                                                                                           \
        nv_vf av = nv_splat(a[0]);                                                                             \
        for (; i + NV_VL <= n; i += NV_VL) nv_st(y + i, nv_bin(OP, av, nv_ld(b + i)));                         \
    } else if (as) {                                                                                           \
        nv_vf bv = nv_splat(b[0]);                                                                             \
        for (; i + NV_VL <= n; i += NV_VL) nv_st(y + i, nv_bin(OP, nv_ld(a + i), bv));                         \
    }

static void NV_FN(nne_f32_vbinary)(int op, const float *a, int as, const float *b, int bs, float *y, int64_t n) {
    int64_t i = 0;
    switch (op) {
    case NNE_VBIN_ADD: NV_BIN_LOOPS(NNE_VBIN_ADD) break;
    case NNE_VBIN_SUB: NV_BIN_LOOPS(NNE_VBIN_SUB) break;
    case NNE_VBIN_MUL: NV_BIN_LOOPS(NNE_VBIN_MUL) break;
    case NNE_VBIN_DIV: NV_BIN_LOOPS(NNE_VBIN_DIV) break;
    case NNE_VBIN_MAX: NV_BIN_LOOPS(NNE_VBIN_MAX) break;
    default: NV_BIN_LOOPS(NNE_VBIN_MIN) break;
    }
    if (i < n) {
        /* the tail (and the both-broadcast case) through the same vector code */
        float ta[NV_VL] = {0}, tb[NV_VL] = {0}, ty[NV_VL];
        for (; i < n; i += NV_VL) {
            int64_t c = nv_min(NV_VL, n - i);
            for (int64_t j = 0; j < c; j++) ta[j] = a[as ? i + j : 0], tb[j] = b[bs ? i + j : 0];
            nv_st(ty, nv_bin(op, nv_ld(ta), nv_ld(tb)));
            for (int64_t j = 0; j < c; j++) y[i + j] = ty[j];
        }
    }
}

static void NV_FN(nne_f32_row_sum)(const float *x, int64_t rows, int64_t n, float *out) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        nv_vf s0 = {0}, s1 = {0};
        int64_t i = 0;
        for (; i + 2 * NV_VL <= n; i += 2 * NV_VL) s0 += nv_ld(xr + i), s1 += nv_ld(xr + i + NV_VL);
        for (; i + NV_VL <= n; i += NV_VL) s0 += nv_ld(xr + i);
        s0 += s1;
        float t[NV_VL], s = 0.0f;
        nv_st(t, s0);
        for (int k = 0; k < NV_VL; k++) s += t[k];
        for (; i < n; i++) s += xr[i];
        out[r] = s;
    }
}

static float nv_hmax(nv_vf v) {
    float t[NV_VL], m;
    nv_st(t, v);
    m = t[0];
    for (int k = 1; k < NV_VL; k++) m = t[k] > m ? t[k] : m;
    return m;
}
static float nv_hsum(nv_vf v) {
    float t[NV_VL], s = 0.0f;
    nv_st(t, v);
    for (int k = 0; k < NV_VL; k++) s += t[k];
    return s;
}

static void NV_FN(nne_f32_softmax_row)(const float *x, float *y, int64_t n) {
    if (n <= 0) return;
    int64_t i = 0;
    float mx = x[0];
    if (n >= NV_VL) {
        nv_vf m = nv_ld(x);
        for (i = NV_VL; i + NV_VL <= n; i += NV_VL) {
            nv_vf v = nv_ld(x + i);
            m = nv_sel(v > m, v, m);
        }
        mx = nv_hmax(m);
    }
    for (; i < n; i++) mx = x[i] > mx ? x[i] : mx;
    /* NaN anywhere makes the sum, so every output, NaN, as in the reference */
    if (isinf(mx)) mx = mx > 0 ? mx : 0.0f;
    nv_vf s0 = {0}, s1 = {0};
    for (i = 0; i + 2 * NV_VL <= n; i += 2 * NV_VL) {
        nv_vf e0 = nv_exp(nv_ld(x + i) - mx), e1 = nv_exp(nv_ld(x + i + NV_VL) - mx);
        nv_st(y + i, e0);
        nv_st(y + i + NV_VL, e1);
        s0 += e0;
        s1 += e1;
    }
    for (; i + NV_VL <= n; i += NV_VL) {
        nv_vf e = nv_exp(nv_ld(x + i) - mx);
        nv_st(y + i, e);
        s0 += e;
    }
    float sum = nv_hsum(s0 + s1);
    if (i < n) {
        nv_st_part(y + i, nv_exp(nv_ld_part(x + i, n - i) - mx), n - i);
        for (; i < n; i++) sum += y[i];
    }
    nv_vf inv = nv_splat(1.0f / sum);
    for (i = 0; i + NV_VL <= n; i += NV_VL) nv_st(y + i, nv_ld(y + i) * inv);
    if (i < n) nv_st_part(y + i, nv_ld_part(y + i, n - i) * inv, n - i);
}

static void NV_FN(nne_f32_layernorm_row)(const float *x, float *y, int64_t n, const float *gamma, const float *beta,
                                         float eps) {
    if (n <= 0) return;
    int64_t i = 0;
    nv_vf s0 = {0}, s1 = {0};
    for (; i + NV_VL <= n; i += NV_VL) s0 += nv_ld(x + i);
    float sum = nv_hsum(s0);
    for (; i < n; i++) sum += x[i];
    float mean = sum / (float)n;
    nv_vf mv = nv_splat(mean);
    for (i = 0; i + NV_VL <= n; i += NV_VL) {
        nv_vf d = nv_ld(x + i) - mv;
        s1 += d * d;
    }
    float ss = nv_hsum(s1);
    for (; i < n; i++) ss += (x[i] - mean) * (x[i] - mean);
    float inv = 1.0f / sqrtf(ss / (float)n + eps);
    nv_vf iv = nv_splat(inv);
    for (i = 0; i + NV_VL <= n; i += NV_VL) {
        nv_vf v = (nv_ld(x + i) - mv) * iv * nv_ld(gamma + i);
        if (beta) v += nv_ld(beta + i);
        nv_st(y + i, v);
    }
    for (; i < n; i++) y[i] = (x[i] - mean) * inv * gamma[i] + (beta ? beta[i] : 0.0f);
}

static void NV_FN(nne_f32_affine)(const float *x, float *y, int64_t n, float a, float b) {
    nv_vf av = nv_splat(a), bv = nv_splat(b);
    int64_t i = 0;
    for (; i + NV_VL <= n; i += NV_VL) nv_st(y + i, nv_ld(x + i) * av + bv);
    if (i < n) nv_st_part(y + i, nv_ld_part(x + i, n - i) * av + bv, n - i);
}

/* Four rows at a time, two vector accumulators each. */
static void NV_FN(nne_f32_gemv)(const float *W, int64_t M, int64_t K, const float *x, float *y) {
    int64_t m = 0;
    for (; m + 4 <= M; m += 4) {
        const float *w0 = W + m * K, *w1 = w0 + K, *w2 = w1 + K, *w3 = w2 + K;
        nv_vf a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
        int64_t k = 0;
        for (; k + NV_VL <= K; k += NV_VL) {
            nv_vf xv = nv_ld(x + k);
            a0 += nv_ld(w0 + k) * xv;
            a1 += nv_ld(w1 + k) * xv;
            a2 += nv_ld(w2 + k) * xv;
            a3 += nv_ld(w3 + k) * xv;
        }
        float s0 = nv_hsum(a0), s1 = nv_hsum(a1), s2 = nv_hsum(a2), s3 = nv_hsum(a3);
        for (; k < K; k++) s0 += w0[k] * x[k], s1 += w1[k] * x[k], s2 += w2[k] * x[k], s3 += w3[k] * x[k];
        y[m] = s0, y[m + 1] = s1, y[m + 2] = s2, y[m + 3] = s3;
    }
    for (; m < M; m++) {
        const float *w0 = W + m * K;
        nv_vf a0 = {0};
        int64_t k = 0;
        for (; k + NV_VL <= K; k += NV_VL) a0 += nv_ld(w0 + k) * nv_ld(x + k);
        float s0 = nv_hsum(a0);
        for (; k < K; k++) s0 += w0[k] * x[k];
        y[m] = s0;
    }
}

/* ------------------------------------------------------ 8-bit data -- */

#if NV_VL == 4
#define NV_BLO 0, 4, 8, 12
#elif NV_VL == 8
#define NV_BLO 0, 4, 8, 12, 16, 20, 24, 28
#else
#define NV_BLO 0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60
#endif
typedef uint8_t nv_vb __attribute__((vector_size(NV_VL)));
typedef int8_t nv_vsb __attribute__((vector_size(NV_VL)));
typedef uint8_t nv_vbb __attribute__((vector_size(NV_VL * 4)));
/* NV_VL bytes (uint8 or int8) as floats, through int32 (a direct byte to
 * float conversion becomes scalar converts in GCC) */
static inline nv_vf nv_ldbf(const uint8_t *p, int u8) {
#if defined(__AVX512F__) && NV_VL == 16
    __m128i x = _mm_loadu_si128((const __m128i *)p);
    return (nv_vf)_mm512_cvtepi32_ps(u8 ? _mm512_cvtepu8_epi32(x) : _mm512_cvtepi8_epi32(x));
#elif defined(__AVX2__) && NV_VL == 8
    __m128i x = _mm_loadl_epi64((const __m128i *)p);
    return (nv_vf)_mm256_cvtepi32_ps(u8 ? _mm256_cvtepu8_epi32(x) : _mm256_cvtepi8_epi32(x));
#else
    if (u8) {
        nv_vb b;
        memcpy(&b, p, sizeof b);
        return __builtin_convertvector(__builtin_convertvector(b, nv_vi), nv_vf);
    }
    nv_vsb b;
    memcpy(&b, p, sizeof b);
    return __builtin_convertvector(__builtin_convertvector(b, nv_vi), nv_vf);
#endif
}
/* the low byte of every lane */
static inline void nv_stb(uint8_t *p, nv_vi r) {
#if defined(__AVX512F__) && NV_VL == 16
    _mm_storeu_si128((__m128i *)p, _mm512_cvtepi32_epi8((__m512i)r));
#elif defined(__AVX2__) && NV_VL == 8
    /* the low byte of each lane: bytes 0, 4, 8, 12 of each half, then the halves' first words */
    __m256i s = _mm256_shuffle_epi8((__m256i)r, _mm256_setr_epi8(0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                                                 -1, -1, -1, 0, 4, 8, 12, -1, -1, -1, -1, -1, -1,
                                                                 -1, -1, -1, -1, -1, -1));
    _mm_storel_epi64((__m128i *)p, _mm_unpacklo_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
#else
    nv_vbb all = (nv_vbb)r;
    nv_vb b = __builtin_shufflevector(all, all, NV_BLO);
    memcpy(p, &b, sizeof b);
#endif
}
/* clamp to [lo, hi] (NaN -> lo), round half to even ((v + 1.5 * 2^23) -
 * 1.5 * 2^23 in the default rounding mode: |v| <= 2^22 after the clamp) */
static inline nv_vf nv_clamp_rne(nv_vf v, nv_vf lo, nv_vf hi) {
    v = nv_sel(v > lo, v, lo);
    v = nv_sel(v < hi, v, hi);
    return (v + 12582912.0f) - 12582912.0f;
}

/* A product the compiler must round before the sum (the ISA files are
 * built with -ffp-contract=fast, which would fuse a * b + c into one FMA:
 * not the two roundings of the QDQ formula): an empty asm that "changes"
 * the value in its register. */
#if defined(__AVX512F__) && NV_VL == 16
#define NV_ROUNDED(v) __asm__("" : "+v"(v))
#define NV_ROUNDED_S(v) __asm__("" : "+v"(v))
#elif defined(__x86_64__) && defined(__AVX2__)
#define NV_ROUNDED(v) __asm__("" : "+x"(v))
#define NV_ROUNDED_S(v) __asm__("" : "+x"(v))
#elif defined(__aarch64__)
#define NV_ROUNDED(v) __asm__("" : "+w"(v))
#define NV_ROUNDED_S(v) __asm__("" : "+w"(v))
#else
#define NV_ROUNDED(v) ((void)0) /* (built without contraction) */
#define NV_ROUNDED_S(v) ((void)0)
#endif

static void NV_FN(nne_q8_add)(const uint8_t *a, int a_u8, float za, float sa, const uint8_t *b, int b_u8, float zb,
                              float sb, float ys, float lo, float hi, int32_t yz, uint8_t *y, int64_t n) {
    nv_vf vza = nv_splat(za), vsa = nv_splat(sa), vzb = nv_splat(zb), vsb = nv_splat(sb), vys = nv_splat(ys);
    nv_vf vlo = nv_splat(lo), vhi = nv_splat(hi);
    int64_t i = 0;
    for (; i + NV_VL <= n; i += NV_VL) {
        /* (float)(x - z) is exact: x - z in [-255, 255] */
        nv_vf pa = (nv_ldbf(a + i, a_u8) - vza) * vsa, pb = (nv_ldbf(b + i, b_u8) - vzb) * vsb;
        NV_ROUNDED(pa);
        NV_ROUNDED(pb);
        nv_vf v = (pa + pb) / vys;
        nv_stb(y + i, __builtin_convertvector(nv_clamp_rne(v, vlo, vhi), nv_vi) + yz);
    }
    for (; i < n; i++) {
        float pa = ((float)(a_u8 ? (int32_t)a[i] : (int32_t)(int8_t)a[i]) - za) * sa;
        float pb = ((float)(b_u8 ? (int32_t)b[i] : (int32_t)(int8_t)b[i]) - zb) * sb;
        NV_ROUNDED_S(pa);
        NV_ROUNDED_S(pb);
        float v = nearbyintf((pa + pb) / ys);
        v = v > lo ? v : lo;
        v = v < hi ? v : hi;
        y[i] = (uint8_t)((int32_t)v + yz);
    }
}

static void NV_FN(nne_q8_quantize)(const float *x, int64_t n, float s, float z, float lo, float hi, uint8_t *y) {
    nv_vf vs = nv_splat(s), vz = nv_splat(z), vlo = nv_splat(lo), vhi = nv_splat(hi);
    int64_t i = 0;
    for (; i + NV_VL <= n; i += NV_VL) {
        nv_vf v = nv_ld(x + i) / vs;
        nv_vi nan = v != v;
        v = nv_sel(nan, -vz, nv_clamp_rne(v, vlo, vhi)) + vz;
        nv_stb(y + i, __builtin_convertvector(v, nv_vi));
    }
    for (; i < n; i++) y[i] = (uint8_t)nne_q8_quantize_one(x[i], s, z, lo, hi);
}

#include "kernels/spmm_tmpl.h"

const nne_vec_ops NV_CAT(nne_vec_ops, NV_SUF) = {
    .name = "nne_f32_vec__" NV_SUF_NAME,
    .isa = NV_ISA,
    .vl = NV_VL,
    .dwconv2d = NV_FN(nne_f32_dwconv2d),
    .dwconv2d_scratch = NV_FN(nne_f32_dwconv2d_scratch),
    .act = NV_FN(nne_f32_vact),
    .binary = NV_FN(nne_f32_vbinary),
    .row_sum = NV_FN(nne_f32_row_sum),
    .softmax_row = NV_FN(nne_f32_softmax_row),
    .layernorm_row = NV_FN(nne_f32_layernorm_row),
    .gemv = NV_FN(nne_f32_gemv),
    .affine = NV_FN(nne_f32_affine),
    .spmm = NV_FN(nne_f32_spmm),
    .q8_add = NV_FN(nne_q8_add),
    .q8_quantize = NV_FN(nne_q8_quantize),
};
