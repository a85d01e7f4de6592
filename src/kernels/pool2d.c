/*
 * pool2d.c - 2-d MaxPool / AveragePool (see pool2d.h). For each output row
 * the taps inside the image on the vertical axis are found once; for each
 * output column the horizontal ones; the window is then two plain loops.
 */
#include "kernels/pool2d.h"

#include <math.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

/* First tap kt in [0, k] with start + kt * d >= lim. */
static int64_t tap_first(int64_t start, int64_t lim, int64_t d, int64_t k) {
    if (start >= lim) return 0;
    int64_t t = (lim - start + d - 1) / d;
    return t < k ? t : k;
}

#if defined(__GNUC__) || defined(__clang__)
#define POOL_VEC 4
typedef float pool_vf __attribute__((vector_size(4 * POOL_VEC)));
typedef int32_t pool_vi __attribute__((vector_size(4 * POOL_VEC)));
static inline pool_vf pool_ld(const float *p) {
    pool_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

#if defined(__clang__)
#define POOL_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6)
#else
#define POOL_EVEN(a, b) __builtin_shuffle(a, b, (pool_vi){0, 2, 4, 6})
#endif
/* Stride 1: POOL_VEC consecutive floats; stride 2: the even ones of
 * 2 * POOL_VEC (reads one float past the last one used). */
static inline pool_vf pool_ld_s(const float *p, int s2) {
    return s2 ? POOL_EVEN(pool_ld(p), pool_ld(p + POOL_VEC)) : pool_ld(p);
}

/* MaxPool, stride 1 or 2, output columns [ox0, ox1) whose windows lie
 * inside the row: POOL_VEC outputs at a time, the taps in the scalar order
 * (first tap, then replaced only by a greater value: NaN behaves as in the
 * scalar loop). Stride 2 stops one vector early so the extra float read is
 * inside the next column's window. Returns the first column not done. */
static int64_t max_row_vec(const nne_pool2d_desc *p, const float *xp, int64_t sy0, int64_t ky0, int64_t ky1,
                           int64_t ox0, int64_t ox1, float *yrow) {
    int64_t ox = ox0;
    int s2 = p->sx == 2;
    if (ky1 <= ky0) return ox;
    for (; s2 ? ox + POOL_VEC < ox1 : ox + POOL_VEC <= ox1; ox += POOL_VEC) {
        const float *base = xp + ox * p->sx - p->pl;
        pool_vf best = pool_ld_s(base + (sy0 + ky0 * p->dy) * p->iw, s2);
        for (int64_t ky = ky0; ky < ky1; ky++) {
            const float *row = base + (sy0 + ky * p->dy) * p->iw;
            for (int64_t kx = ky == ky0 ? 1 : 0; kx < p->kw; kx++) {
                pool_vf v = pool_ld_s(row + kx * p->dx, s2);
                pool_vi m = v > best;
                best = (pool_vf)((m & (pool_vi)v) | (~m & (pool_vi)best));
            }
        }
        memcpy(yrow + ox, &best, sizeof best);
    }
    return ox;
}
#endif

typedef struct pool_job {
    const nne_pool2d_desc *p;
    const float *x;
    float *y;
} pool_job;

#define POOL_COLS 1024 /* output columns whose tap ranges are computed once */

static void pool_planes(const nne_pool2d_desc *p, const float *x, float *y, int64_t pl0, int64_t pl1) {
    int64_t insp = p->ih * p->iw, outsp = p->oh * p->ow;
    /* the horizontal tap range of each output column, the same on every row */
    int64_t ckx0[POOL_COLS], ckx1[POOL_COLS];
    int64_t ncols = p->ow < POOL_COLS ? p->ow : POOL_COLS;
    for (int64_t ox = 0; ox < ncols; ox++) {
        int64_t sx0 = ox * p->sx - p->pl;
        int64_t a = tap_first(sx0, 0, p->dx, p->kw), b = tap_first(sx0, p->iw, p->dx, p->kw);
        ckx0[ox] = a;
        ckx1[ox] = b < a ? a : b;
    }
    for (int64_t pl = pl0; pl < pl1; pl++) {
        const float *xp = insp ? x + pl * insp : x; /* empty input: x may be NULL, no offset on it */
        float *yp = y + pl * outsp;
        for (int64_t oy = 0; oy < p->oh; oy++) {
            int64_t sy0 = oy * p->sy - p->pt;
            int64_t ky0 = tap_first(sy0, 0, p->dy, p->kh), ky1 = tap_first(sy0, p->ih, p->dy, p->kh);
            if (ky1 < ky0) ky1 = ky0;
            int64_t pky0 = tap_first(sy0, -p->pt, p->dy, p->kh), pky1 = tap_first(sy0, p->ih + p->pbot, p->dy, p->kh);
            int64_t vdone0 = 0, vdone1 = 0; /* columns [vdone0, vdone1) done by the vector path */
#ifdef POOL_VEC
            if (p->max && (p->sx == 1 || p->sx == 2)) {
                /* columns whose window is inside the row: ox*sx - pl >= 0 and
                 * ox*sx - pl + (kw-1)*dx <= iw - 1 */
                int64_t lo = (p->pl + p->sx - 1) / p->sx, last = p->iw - 1 + p->pl - (p->kw - 1) * p->dx;
                int64_t hi = last < 0 ? 0 : last / p->sx + 1;
                if (hi > p->ow) hi = p->ow;
                if (lo < hi) {
                    vdone0 = lo;
                    vdone1 = max_row_vec(p, xp, sy0, ky0, ky1, lo, hi, yp + oy * p->ow);
                }
            }
#endif
            for (int64_t ox = 0; ox < p->ow; ox++) {
                if (ox == vdone0 && vdone1 > vdone0) {
                    ox = vdone1 - 1;
                    continue;
                }
                int64_t sx0 = ox * p->sx - p->pl, kx0, kx1;
                if (ox < ncols) {
                    kx0 = ckx0[ox], kx1 = ckx1[ox];
                } else {
                    kx0 = tap_first(sx0, 0, p->dx, p->kw), kx1 = tap_first(sx0, p->iw, p->dx, p->kw);
                    if (kx1 < kx0) kx1 = kx0;
                }
                float r;
                if (p->max) {
                    float best = -INFINITY;
                    int first = 1;
                    for (int64_t ky = ky0; ky < ky1; ky++) {
                        const float *row = xp + (sy0 + ky * p->dy) * p->iw + sx0;
                        for (int64_t kx = kx0; kx < kx1; kx++) {
                            float v = row[kx * p->dx];
                            if (first || v > best) best = v, first = 0;
                        }
                    }
                    r = best;
                } else {
                    double sum = 0.0;
                    for (int64_t ky = ky0; ky < ky1; ky++) {
                        const float *row = xp + (sy0 + ky * p->dy) * p->iw + sx0;
                        for (int64_t kx = kx0; kx < kx1; kx++) sum += row[kx * p->dx];
                    }
                    double div;
                    if (p->count_include_pad) {
                        int64_t pkx0 = tap_first(sx0, -p->pl, p->dx, p->kw);
                        int64_t pkx1 = tap_first(sx0, p->iw + p->pr, p->dx, p->kw);
                        div = (double)(pky1 > pky0 ? pky1 - pky0 : 0) * (double)(pkx1 > pkx0 ? pkx1 - pkx0 : 0);
                    } else {
                        div = (double)(ky1 - ky0) * (double)(kx1 - kx0);
                    }
                    r = div > 0 ? (float)(sum / div) : 0.0f;
                }
                yp[oy * p->ow + ox] = r;
            }
        }
    }
}

static void pool_part(void *arg, int part, int nparts, void *scratch) {
    (void)scratch;
    const pool_job *j = arg;
    long long lo, hi;
    nne_split_range(j->p->planes, 1, part, nparts, &lo, &hi);
    pool_planes(j->p, j->x, j->y, lo, hi);
}

void nne_pool2d_f32(const nne_pool2d_desc *p, const float *x, float *y, nne_threadpool *pool) {
    if (p->planes <= 0 || p->oh <= 0 || p->ow <= 0) return;
    pool_job j = {p, x, y};
    int parts = nne_threadpool_threads(pool);
    if (p->planes * p->oh * p->ow < 4096) parts = 1; /* not worth a wake-up */
    if (parts > p->planes) parts = (int)(p->planes > 0 ? p->planes : 1);
    nne_parallel(pool, parts, pool_part, &j, NULL);
}

double nne_f32_sum_f64(const float *x, int64_t n) {
    /* eight independent chains: the adds overlap instead of waiting on one
     * another (the compiler may not reorder floating-point sums itself) */
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) a[j] += x[i + j];
    double s = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
    for (; i < n; i++) s += x[i];
    return s;
}

/* ---- 8-bit MaxPool ---- */

typedef struct poolq_job {
    const nne_pool2d_desc *p;
    const void *x;
    void *y;
    int is_signed;
} poolq_job;

/* Planes [pl0, pl1). Per output row: the max over the window's rows of
 * each input column (a byte-wise max of whole rows, which vectorizes),
 * then per output column the max over its columns. Windows are clipped to
 * the image (padding never wins); an empty window gives the type's minimum.
 * Values are biased to unsigned (int8 ^ 0x80) so one loop serves both. */
#define POOLQ_W 4096
typedef uint8_t poolq_v16 __attribute__((vector_size(16)));
#if defined(__clang__)
#define POOLQ_EVEN(a, b) __builtin_shufflevector(a, b, 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30)
#else
#define POOLQ_EVEN(a, b) \
    __builtin_shuffle(a, b, (poolq_v16){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30})
#endif
/* byte-wise unsigned max (one instruction on SSE2 / NEON; GCC does not see
 * the compare-and-select as one) */
static inline poolq_v16 poolq_max(poolq_v16 a, poolq_v16 b) {
#if defined(__SSE2__)
    return (poolq_v16)_mm_max_epu8((__m128i)a, (__m128i)b);
#elif defined(__ARM_NEON)
    return (poolq_v16)vmaxq_u8((uint8x16_t)a, (uint8x16_t)b);
#else
    poolq_v16 m = (poolq_v16)(b > a);
    return (b & m) | (a & ~m);
#endif
}

static void poolq_planes(const poolq_job *j, int64_t pl0, int64_t pl1) {
    const nne_pool2d_desc *p = j->p;
    int64_t insp = p->ih * p->iw, outsp = p->oh * p->ow;
    uint8_t bias = j->is_signed ? 0x80 : 0;
    uint8_t t[POOLQ_W] = {0};
    for (int64_t pl = pl0; pl < pl1; pl++) {
        const uint8_t *xp = (const uint8_t *)j->x + pl * insp;
        uint8_t *yp = (uint8_t *)j->y + pl * outsp;
        for (int64_t oy = 0; oy < p->oh; oy++) {
            int64_t sy0 = oy * p->sy - p->pt;
            int64_t ky0 = tap_first(sy0, 0, p->dy, p->kh), ky1 = tap_first(sy0, p->ih, p->dy, p->kh);
            uint8_t *yr = yp + oy * p->ow;
            if (ky1 <= ky0) {
                memset(yr, bias ? 0x80 : 0, (size_t)p->ow);
                continue;
            }
            const uint8_t *r0 = xp + (sy0 + ky0 * p->dy) * p->iw;
            int64_t x0 = 0;
            poolq_v16 vb = {0};
            vb += bias;
            for (; x0 < p->iw && p->iw >= 16; x0 += 16) {
                if (x0 + 16 > p->iw) x0 = p->iw - 16; /* the last columns: overlap the previous vector */
                poolq_v16 a;
                memcpy(&a, r0 + x0, 16);
                a ^= vb;
                for (int64_t ky = ky0 + 1; ky < ky1; ky++) {
                    poolq_v16 v;
                    memcpy(&v, xp + (sy0 + ky * p->dy) * p->iw + x0, 16);
                    v ^= vb;
                    a = poolq_max(a, v);
                }
                memcpy(t + x0, &a, 16);
            }
            for (int64_t x = x0; x < p->iw; x++) {
                uint8_t a = r0[x] ^ bias;
                for (int64_t ky = ky0 + 1; ky < ky1; ky++) {
                    uint8_t v = xp[(sy0 + ky * p->dy) * p->iw + x] ^ bias;
                    a = v > a ? v : a;
                }
                t[x] = a;
            }
            /* columns whose window lies inside the row, 16 at a time (stride
             * 1 or 2, no dilation): one load (stride 2: two, evens kept) per tap */
            int64_t vlo = 0, vhi = 0;
            if ((p->sx == 1 || p->sx == 2) && p->dx == 1 && p->iw + p->kw + 128 <= POOLQ_W) {
                vlo = (p->pl + p->sx - 1) / p->sx;
                int64_t last = p->iw - 1 + p->pl - (p->kw - 1);
                vhi = last < 0 ? 0 : last / p->sx + 1;
                if (vhi > p->ow) vhi = p->ow;
                /* 16 columns a vector; the last ones overlap the previous
                 * vector, or (fewer than 16 in all) are the first bytes of
                 * one whose other lanes read t past the row (zeros or stale
                 * maxima, never stored) */
                for (int64_t ox = vlo; ox < vhi; ox += 16) {
                    int64_t n = 16;
                    if (ox + 16 > vhi) {
                        if (vhi - vlo >= 16) ox = vhi - 16;
                        else n = vhi - ox;
                    }
                    const uint8_t *b = t + ox * p->sx - p->pl;
                    poolq_v16 best = {0};
                    for (int64_t kx = 0; kx < p->kw; kx++) {
                        poolq_v16 v;
                        if (p->sx == 1) {
                            memcpy(&v, b + kx, 16);
                        } else {
                            poolq_v16 a, c;
                            memcpy(&a, b + kx, 16);
                            memcpy(&c, b + kx + 16, 16);
                            v = POOLQ_EVEN(a, c);
                        }
                        best = poolq_max(best, v);
                    }
                    best ^= vb;
                    memcpy(yr + ox, &best, (size_t)n);
                }
                if (vhi < vlo) vhi = vlo;
            }
            for (int64_t ox = 0; ox < p->ow; ox++) {
                if (ox == vlo && vhi > vlo) {
                    ox = vhi - 1;
                    continue;
                }
                int64_t sx0 = ox * p->sx - p->pl, kx0 = 0, kx1 = p->kw;
                if (sx0 < 0 || sx0 + (p->kw - 1) * p->dx >= p->iw) {
                    kx0 = tap_first(sx0, 0, p->dx, p->kw);
                    kx1 = tap_first(sx0, p->iw, p->dx, p->kw);
                }
                uint8_t best = 0;
                for (int64_t kx = kx0; kx < kx1; kx++) {
                    uint8_t v = t[sx0 + kx * p->dx];
                    best = v > best ? v : best;
                }
                yr[ox] = best ^ bias;
            }
        }
    }
}

/* The same, one output at a time (rows wider than POOLQ_W). */
static void poolq_planes_wide(const poolq_job *j, int64_t pl0, int64_t pl1) {
    const nne_pool2d_desc *p = j->p;
    int64_t insp = p->ih * p->iw, outsp = p->oh * p->ow;
    for (int64_t pl = pl0; pl < pl1; pl++) {
        for (int64_t oy = 0; oy < p->oh; oy++) {
            int64_t sy0 = oy * p->sy - p->pt;
            int64_t ky0 = tap_first(sy0, 0, p->dy, p->kh), ky1 = tap_first(sy0, p->ih, p->dy, p->kh);
            for (int64_t ox = 0; ox < p->ow; ox++) {
                int64_t sx0 = ox * p->sx - p->pl;
                int64_t kx0 = tap_first(sx0, 0, p->dx, p->kw), kx1 = tap_first(sx0, p->iw, p->dx, p->kw);
                int best = j->is_signed ? -128 : 0;
                for (int64_t ky = ky0; ky < ky1; ky++) {
                    int64_t r = pl * insp + (sy0 + ky * p->dy) * p->iw + sx0;
                    for (int64_t kx = kx0; kx < kx1; kx++) {
                        int v = j->is_signed ? ((const int8_t *)j->x)[r + kx * p->dx]
                                             : ((const uint8_t *)j->x)[r + kx * p->dx];
                        best = v > best ? v : best;
                    }
                }
                if (j->is_signed) ((int8_t *)j->y)[pl * outsp + oy * p->ow + ox] = (int8_t)best;
                else ((uint8_t *)j->y)[pl * outsp + oy * p->ow + ox] = (uint8_t)best;
            }
        }
    }
}

static void poolq_part(void *arg, int part, int nparts, void *scratch) {
    (void)scratch;
    const poolq_job *j = arg;
    long long lo, hi;
    nne_split_range(j->p->planes, 1, part, nparts, &lo, &hi);
    if (j->p->iw <= POOLQ_W) poolq_planes(j, lo, hi);
    else poolq_planes_wide(j, lo, hi);
}

void nne_pool2d_max_q8(const nne_pool2d_desc *p, const void *x, void *y, int is_signed, nne_threadpool *pool) {
    if (p->planes <= 0 || p->oh <= 0 || p->ow <= 0) return;
    poolq_job j = {p, x, y, is_signed};
    int parts = nne_threadpool_threads(pool);
    if (p->planes * p->oh * p->ow < 4096) parts = 1;
    if (parts > p->planes) parts = (int)(p->planes > 0 ? p->planes : 1);
    nne_parallel(pool, parts, poolq_part, &j, NULL);
}
