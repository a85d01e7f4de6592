/*
 * qgemm_tmpl.h - the body of every int8 GEMM variant (see qgemm.h): packing
 * of A and B into int16 pairs, cache blocking, the split over the thread
 * pool and the depthwise convolution. The including file (one per ISA,
 * compiled with only that ISA's flags) sets
 *     QG_SUF   name suffix (avx2)     QG_ISA  its NNE_ISA_* level
 *     QG_MR    rows of a tile         QG_NR   columns of a tile
 * and defines, before including this file, the register tile
 *     static void qg_tile(int64_t K2, const int16_t *Pa, const int16_t *Pb,
 *                         int mr, int nr, int64_t m0, int64_t n0,
 *                         const nne_qreq *q, int32_t *acc, int mode);
 * which multiplies an A panel (per k pair: QG_MR rows x 2 int16) by a B
 * panel (per k pair: QG_NR columns x 2 int16) over K2 pairs into int32,
 * starting from zero or (mode & QG_ACC_LOAD) from acc (QG_MR x QG_NR int32),
 * and either writes the requantized mr x nr corner of the tile at output
 * (m0, n0) (mode & QG_ACC_FINAL) or stores its sums back to acc.
 *
 * Blocking (Goto): B is packed for all columns of a part (a part = one
 * thread's columns). K is cut into slices of QG_KC2 pairs when longer (the
 * sums wait in an int32 buffer between slices), so a slice of a B panel
 * stays in L1 while the tiles of a block of A rows (QG_MC_BYTES of the
 * slice, in L2) pass over it.
 */
#include "kernels/qgemm.h"
#include "kernels/dispatch.h"
#include "kernels/vec.h"

#include <math.h>
#include <string.h>

#define QG_CAT2(a, b) a##__##b
#define QG_CAT(a, b) QG_CAT2(a, b)
#define QG_FN(name) QG_CAT(name, QG_SUF)
#define QG_STR2(x) #x
#define QG_STR(x) QG_STR2(x)
#ifndef QG_MC_BYTES
#define QG_MC_BYTES (192 * 1024)
#endif
#ifndef QG_KC2
#define QG_KC2 256 /* k pairs per slice: a B panel slice is QG_KC2 * QG_NR * 4 bytes */
#endif


static inline int64_t qg_min(int64_t a, int64_t b) { return a < b ? a : b; }

/* NR-lane vectors (GCC/Clang vector extensions) for the packers. */
typedef int16_t qg_vh __attribute__((vector_size(QG_NR * 2)));
typedef uint8_t qg_vu8 __attribute__((vector_size(QG_NR)));
typedef int8_t qg_vs8 __attribute__((vector_size(QG_NR)));
#if QG_NR == 8
#define QG_ILO 0, 8, 1, 9, 2, 10, 3, 11
#define QG_IHI 4, 12, 5, 13, 6, 14, 7, 15
#define QG_EVN 0, 2, 4, 6, 8, 10, 12, 14
#elif QG_NR == 16
#define QG_ILO 0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23
#define QG_IHI 8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31
#define QG_EVN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#elif QG_NR == 32
#define QG_ILO 0, 32, 1, 33, 2, 34, 3, 35, 4, 36, 5, 37, 6, 38, 7, 39, 8, 40, 9, 41, 10, 42, 11, 43, 12, 44, 13, 45, \
               14, 46, 15, 47
#define QG_IHI 16, 48, 17, 49, 18, 50, 19, 51, 20, 52, 21, 53, 22, 54, 23, 55, 24, 56, 25, 57, 26, 58, 27, 59, 28, \
               60, 29, 61, 30, 62, 31, 63
#define QG_EVN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, \
               52, 54, 56, 58, 60, 62
#endif
#if defined(__clang__)
#define QG_SHUF(a, b, idx) __builtin_shufflevector(a, b, idx)
#else
#define QG_SHUF(a, b, idx) __builtin_shuffle(a, b, (qg_vh){idx})
#endif

static inline qg_vh qg_ldh(const int16_t *p) {
    qg_vh v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* NR int16 from NR bytes, minus z */
static inline qg_vh qg_ldb(const void *p, int u8, int16_t z) {
    if (u8) {
        qg_vu8 b;
        memcpy(&b, p, sizeof b);
        return __builtin_convertvector(b, qg_vh) - z;
    }
    qg_vs8 b;
    memcpy(&b, p, sizeof b);
    return __builtin_convertvector(b, qg_vh) - z;
}
/* the pair panel row of one k pair: (a[c], b[c]) for every column c */
static inline void qg_st_pairs(int16_t *o, qg_vh a, qg_vh b) {
    qg_vh lo = QG_SHUF(a, b, QG_ILO), hi = QG_SHUF(a, b, QG_IHI);
    memcpy(o, &lo, sizeof lo);
    memcpy(o + QG_NR, &hi, sizeof hi);
}

static size_t QG_FN(qg_packed_a_bytes)(int64_t M, int64_t K) {
    int64_t K2 = (K + 1) / 2, Mp = (M + QG_MR - 1) / QG_MR * QG_MR;
    return (size_t)Mp * (size_t)K2 * 2 * sizeof(int16_t);
}

static void QG_FN(qg_pack_a)(int64_t M, int64_t K, const void *w, int w_u8, int64_t rsw, int64_t csw,
                             const int32_t *wz, int wz_per_row, void *Pv) {
    int16_t *P = Pv;
    int64_t K2 = (K + 1) / 2;
    for (int64_t i = 0; i < M; i += QG_MR) {
        int16_t *pp = P + i * K2 * 2;
        for (int64_t kp = 0; kp < K2; kp++)
            for (int r = 0; r < QG_MR; r++)
                for (int h = 0; h < 2; h++) {
                    int64_t m = i + r, k = 2 * kp + h;
                    int32_t v = 0;
                    if (m < M && k < K) {
                        int64_t idx = m * rsw + k * csw;
                        int32_t z = wz ? wz[wz_per_row ? m : 0] : 0;
                        v = (w_u8 ? (int32_t)((const uint8_t *)w)[idx] : (int32_t)((const int8_t *)w)[idx]) - z;
                    }
                    pp[(kp * QG_MR + r) * 2 + h] = (int16_t)v;
                }
    }
}

/* Rows and columns of the padded copy of a 2-d convolution's input: every
 * tap reads inside it. */
static void qg_pad_dims(const nne_conv_desc *p, int64_t *ph, int64_t *pw) {
    int64_t h = (p->out[0] - 1) * p->s[0] + (p->k[0] - 1) * p->d[0] + 1;
    int64_t w = (p->out[1] - 1) * p->s[1] + (p->k[1] - 1) * p->d[1] + 1;
    *ph = h > p->pb[0] + p->in[0] ? h : p->pb[0] + p->in[0];
    *pw = w > p->pb[1] + p->in[1] ? w : p->pb[1] + p->in[1];
}

/* int16 of slack before and after the padded input copy: the segment loads
 * of the im2col packer read up to 2 * NR elements around what they use */
#define QG_XP_SLACK (4 * QG_NR)

static size_t qg_packed_b_bytes(int64_t N, int64_t K) {
    int64_t K2 = (K + 1) / 2, Np = (N + QG_NR - 1) / QG_NR * QG_NR;
    return ((size_t)Np * (size_t)K2 * 2 * sizeof(int16_t) + 63) & ~(size_t)63;
}

/* int32 sums of all outputs, one QG_MR x QG_NR block per tile, when K is
 * cut into slices (0 otherwise) */
static size_t qg_acc_bytes(int64_t M, int64_t N, int64_t K) {
    int64_t K2 = (K + 1) / 2;
    if (K2 <= QG_KC2) return 0;
    int64_t Mp = (M + QG_MR - 1) / QG_MR * QG_MR, Np = (N + QG_NR - 1) / QG_NR * QG_NR;
    return ((size_t)Mp * (size_t)Np * sizeof(int32_t) + 63) & ~(size_t)63;
}

static size_t QG_FN(qg_scratch)(int64_t M, int64_t N, int64_t K, const nne_conv_desc *p) {
    size_t b = qg_packed_b_bytes(N, K) + qg_acc_bytes(M, N, K) + 64;
    if (p) {
        int64_t ph, pw, taps = p->k[0] * p->k[1];
        qg_pad_dims(p, &ph, &pw);
        b += ((size_t)(K / taps) * (size_t)(ph * pw) + 2 * QG_XP_SLACK) * sizeof(int16_t) + 64;
    }
    return b;
}

static inline int32_t qg_ld(const nne_qsrc *s, int64_t idx) {
    return (s->x_u8 ? (int32_t)((const uint8_t *)s->x)[idx] : (int32_t)((const int8_t *)s->x)[idx]) - s->xz;
}

/* B panel of columns [n0, n0 + nc) (nc <= NR), all K, into P. */
static void qg_pack_b_panel(const nne_qsrc *s, int64_t K, int64_t n0, int64_t nc, int16_t *restrict P) {
    int64_t K2 = (K + 1) / 2;
    if (!s->p) {
        if (s->csb == 1 && nc == QG_NR) {
            /* two rows of B per k pair, interleaved */
            int16_t z = (int16_t)s->xz;
            for (int64_t kp = 0; kp < K2; kp++) {
                int64_t k0 = 2 * kp, k1 = k0 + 1;
                const char *ra = (const char *)s->x + k0 * s->rsb + n0;
                qg_vh va = qg_ldb(ra, s->x_u8, z), vb = {0};
                if (k1 < K) vb = qg_ldb(ra + s->rsb, s->x_u8, z);
                qg_st_pairs(P + kp * QG_NR * 2, va, vb);
            }
            return;
        }
        for (int64_t kp = 0; kp < K2; kp++)
            for (int c = 0; c < QG_NR; c++)
                for (int h = 0; h < 2; h++) {
                    int64_t k = 2 * kp + h;
                    P[(kp * QG_NR + c) * 2 + h] =
                        (c < nc && k < K) ? (int16_t)qg_ld(s, k * s->rsb + (n0 + c) * s->csb) : 0;
                }
        return;
    }
    /* im2col of a 2-d convolution, from the padded int16 copy xp (row
     * stride PW, plane PH * PW): column c reads xp at off[c] + the tap's
     * offset, no bounds checks; columns past nc repeat the last one (their
     * results are never stored) */
    const nne_conv_desc *p = s->p;
    const int16_t *xp = s->xp;
    int64_t PH = s->ph, PW = s->pw, OW = p->out[1];
    int64_t kh = p->k[0], kw = p->k[1];
    int64_t off[QG_NR];
    for (int c = 0; c < QG_NR; c++) {
        int64_t n = n0 + (c < nc ? c : nc - 1), oy = n / OW, ox = n % OW;
        off[c] = oy * p->s[0] * PW + ox * p->s[1];
    }
    int64_t sx = p->s[1];
    int row = nc == QG_NR && (n0 % OW) + QG_NR <= OW; /* one output row: off[c] = off[0] + c * sx */
    /* otherwise the panel's columns fall in a few output rows: one segment
     * each, lanes [cs, ce) reading r[base + c * sx]; a segment is one
     * vector load (stride 2: two, evens kept) blended in under its mask.
     * The loads touch up to 2 NR elements outside the segment: the copy
     * has QG_XP_SLACK on both sides. */
    int nseg = 0;
    int64_t sbase[QG_NR];
    qg_vh smask[QG_NR];
    if (!row && (sx == 1 || sx == 2)) {
        for (int c = 0; c < nc;) {
            int ce = c + 1;
            while (ce < nc && off[ce] == off[c] + (ce - c) * sx) ce++;
            if (ce == nc) ce = QG_NR; /* lanes past nc: anything (never stored) */
            sbase[nseg] = off[c] - c * sx;
            qg_vh m = {0};
            for (int l = c; l < ce; l++) m[l] = -1;
            smask[nseg++] = m;
            c = ce;
        }
    }
    int64_t ch = 0, ky = 0, kx = 0; /* k = (ch, ky, kx), advanced with k */
    for (int64_t kp = 0; kp < K2; kp++) {
        int16_t *restrict o = P + kp * QG_NR * 2;
        qg_vh v[2];
        for (int h = 0; h < 2; h++) {
            int64_t k = 2 * kp + h;
            if (k >= K) {
                v[h] = (qg_vh){0};
                continue;
            }
            const int16_t *r = xp + ch * PH * PW + ky * p->d[0] * PW + kx * p->d[1];
            if (++kx == kw) {
                kx = 0;
                if (++ky == kh) {
                    ky = 0;
                    ch++;
                }
            }
            if (row && sx == 1) {
                v[h] = qg_ldh(r + off[0]);
            } else if (row && sx == 2) {
                /* reads one int16 past the last tap: inside the slack */
                v[h] = QG_SHUF(qg_ldh(r + off[0]), qg_ldh(r + off[0] + QG_NR), QG_EVN);
            } else if (nseg) {
                qg_vh acc = {0};
                for (int g2 = 0; g2 < nseg; g2++) {
                    const int16_t *q = r + sbase[g2];
                    qg_vh sv = sx == 1 ? qg_ldh(q) : QG_SHUF(qg_ldh(q), qg_ldh(q + QG_NR), QG_EVN);
                    acc = (acc & ~smask[g2]) | (sv & smask[g2]);
                }
                v[h] = acc;
            } else {
                int16_t tmp[QG_NR];
                for (int c = 0; c < QG_NR; c++) tmp[c] = r[off[c]];
                v[h] = qg_ldh(tmp);
            }
        }
        qg_st_pairs(o, v[0], v[1]);
    }
}

/* The padded, zero-point-shifted int16 copy of channels [c0, c1) of the
 * group's input (zeros around: padding reads as the zero point). */
static void qg_pad_input(const nne_qsrc *s, int16_t *xp, int64_t PH, int64_t PW, int64_t c0, int64_t c1) {
    const nne_conv_desc *p = s->p;
    int64_t H = p->in[0], W = p->in[1], pt = p->pb[0], pl = p->pb[1];
    for (int64_t c = c0; c < c1; c++) {
        int16_t *pc = xp + c * PH * PW;
        for (int64_t y = 0; y < PH; y++) {
            int16_t *d = pc + y * PW;
            int64_t iy = y - pt;
            if (iy < 0 || iy >= H) {
                memset(d, 0, (size_t)PW * sizeof(int16_t));
                continue;
            }
            for (int64_t x = 0; x < pl && x < PW; x++) d[x] = 0;
            int64_t xe = pl + W < PW ? pl + W : PW;
            if (s->x_u8) {
                const uint8_t *src = (const uint8_t *)s->x + c * s->insp + iy * W;
                for (int64_t x = pl; x < xe; x++) d[x] = (int16_t)((int32_t)src[x - pl] - s->xz);
            } else {
                const int8_t *src = (const int8_t *)s->x + c * s->insp + iy * W;
                for (int64_t x = pl; x < xe; x++) d[x] = (int16_t)((int32_t)src[x - pl] - s->xz);
            }
            for (int64_t x = xe; x < PW; x++) d[x] = 0;
        }
    }
}

typedef struct qg_job {
    const nne_qgemm_args *g;
    int16_t *Pb;
    int32_t *acc; /* sums between K slices (NULL: one slice) */
    int split_m; /* 1: parts split M (B packed before), 0: parts split N and pack their own B */
} qg_job;

/* Tiles of rows [m_lo, m_hi) x panels [j_lo, j_hi) (B packed). The sums of
 * tile (i, j) wait in acc at (j * Mp + i) * QG_NR between K slices. */
static void qg_compute(const nne_qgemm_args *g, const int16_t *Pb, int32_t *acc, int64_t m_lo, int64_t m_hi,
                       int64_t j_lo, int64_t j_hi) {
    int64_t K2 = (g->K + 1) / 2, Mp = (g->M + QG_MR - 1) / QG_MR * QG_MR;
    int64_t kc = acc ? QG_KC2 : K2;
    for (int64_t kb = 0; kb < K2; kb += kc) {
        int64_t kn = qg_min(kc, K2 - kb);
        int mode = (kb > 0 ? QG_ACC_LOAD : 0) | (kb + kn == K2 ? QG_ACC_FINAL : 0);
        int64_t mc = QG_MC_BYTES / (kn * 4 * QG_MR) * QG_MR;
        if (mc < QG_MR) mc = QG_MR;
        for (int64_t mb = m_lo; mb < m_hi; mb += mc) {
            int64_t me = qg_min(m_hi, mb + mc);
            for (int64_t j = j_lo; j < j_hi; j++) {
                int64_t n0 = j * QG_NR;
                int nr = (int)qg_min(QG_NR, g->N - n0);
                const int16_t *pb = Pb + j * K2 * QG_NR * 2 + kb * QG_NR * 2;
                for (int64_t i = mb; i < me; i += QG_MR) {
                    int mr = (int)qg_min(QG_MR, g->M - i);
                    int32_t *ap = acc ? acc + (j * Mp + i) * QG_NR : NULL;
                    qg_tile(kn, (const int16_t *)g->Pa + i * K2 * 2 + kb * QG_MR * 2, pb, mr, nr, i, n0, g->req, ap, mode);
                }
            }
        }
    }
}

static void qg_part(void *arg, int part, int nparts, void *scratch) {
    (void)scratch;
    const qg_job *jb = arg;
    const nne_qgemm_args *g = jb->g;
    int64_t K2 = (g->K + 1) / 2, npan = (g->N + QG_NR - 1) / QG_NR;
    long long lo, hi;
    if (jb->split_m) {
        nne_split_range(g->M, QG_MR, part, nparts, &lo, &hi);
        if (lo < hi) qg_compute(g, jb->Pb, jb->acc, lo, hi, 0, npan);
        return;
    }
    nne_split_range(npan, 1, part, nparts, &lo, &hi);
    for (long long j = lo; j < hi; j++)
        qg_pack_b_panel(g->b, g->K, j * QG_NR, qg_min(QG_NR, g->N - j * QG_NR), jb->Pb + j * K2 * QG_NR * 2);
    if (lo < hi) qg_compute(g, jb->Pb, jb->acc, 0, g->M, lo, hi);
}

static void QG_FN(qg_run)(const nne_qgemm_args *g0, void *scratch, nne_threadpool *pool) {
    if (g0->M <= 0 || g0->N <= 0) return;
    nne_qgemm_args ga = *g0;
    nne_qsrc src = *g0->b;
    const nne_qgemm_args *g = &ga;
    ga.b = &src;
    int64_t K2 = (g->K + 1) / 2, npan = (g->N + QG_NR - 1) / QG_NR;
    int16_t *Pb = (int16_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    size_t accb = qg_acc_bytes(g->M, g->N, g->K);
    int32_t *acc = accb ? (int32_t *)(void *)((char *)Pb + qg_packed_b_bytes(g->N, g->K)) : NULL;
    if (src.p) {
        int16_t *xp = (int16_t *)((char *)Pb + qg_packed_b_bytes(g->N, g->K) + accb) + QG_XP_SLACK;
        qg_pad_dims(src.p, &src.ph, &src.pw);
        qg_pad_input(&src, xp, src.ph, src.pw, 0, g->K / (src.p->k[0] * src.p->k[1]));
        src.xp = xp;
    }
    int T = nne_threadpool_threads(pool);
    qg_job jb = {g, Pb, acc, 0};
    if (T <= 1) {
        qg_part(&jb, 0, 1, NULL);
        return;
    }
    int64_t mpan = (g->M + QG_MR - 1) / QG_MR;
    if (npan >= T || npan >= mpan) {
        nne_parallel(pool, (int)qg_min(T, npan), qg_part, &jb, NULL);
        return;
    }
    for (int64_t j = 0; j < npan; j++)
        qg_pack_b_panel(g->b, g->K, j * QG_NR, qg_min(QG_NR, g->N - j * QG_NR), Pb + j * K2 * QG_NR * 2);
    jb.split_m = 1;
    nne_parallel(pool, (int)qg_min(T, mpan), qg_part, &jb, NULL);
}

/* ------------------------------------------------------- depthwise -- */

/* Depthwise: per channel, the input plane minus its zero point as float
 * (padding 0), split by column parity when the stride is 2 so every tap of
 * QG_VF consecutive outputs is one contiguous vector load; the taps are
 * summed in registers with float multiply-adds. Every partial sum is an
 * integer of magnitude below taps * 255^2 < 2^24 (nne_qdw_ok), so float is
 * exact and the result is the int32 sum. Requantized in vectors: + bias in
 * int32, * mult in float, clamp, round half to even ((v + 1.5 * 2^23) -
 * 1.5 * 2^23 in the default rounding mode, exact for |v| <= 2^22), + zero
 * point. Strides above 2 take a scalar loop. */
#ifndef QG_VF
#define QG_VF 4
#endif
typedef float qg_vf __attribute__((vector_size(QG_VF * 4)));
typedef int32_t qg_vi __attribute__((vector_size(QG_VF * 4)));
typedef uint8_t qg_vb8 __attribute__((vector_size(QG_VF)));
typedef int8_t qg_vs8f __attribute__((vector_size(QG_VF)));
typedef uint8_t qg_vbb __attribute__((vector_size(QG_VF * 4)));
#if QG_VF == 4
#define QG_BLO 0, 4, 8, 12
#define QG_FEVN 0, 2, 4, 6
#define QG_FODD 1, 3, 5, 7
#elif QG_VF == 8
#define QG_BLO 0, 4, 8, 12, 16, 20, 24, 28
#define QG_FEVN 0, 2, 4, 6, 8, 10, 12, 14
#define QG_FODD 1, 3, 5, 7, 9, 11, 13, 15
#else
#define QG_BLO 0, 4, 8, 12, 16, 20, 24, 28, 32, 36, 40, 44, 48, 52, 56, 60
#define QG_FEVN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#define QG_FODD 1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31
#endif
#if defined(__clang__)
#define QG_FSHUF(a, b, idx) __builtin_shufflevector(a, b, idx)
#else
#define QG_FSHUF(a, b, idx) __builtin_shuffle(a, b, (qg_vi){idx})
#endif
/* QG_VF bytes as floats minus z (through int32: GCC turns a direct byte
 * to float conversion into scalar converts) */
static inline qg_vf qg_ldbf(const void *p, int u8, float z) {
    if (u8) {
        qg_vb8 b;
        memcpy(&b, p, sizeof b);
        return __builtin_convertvector(__builtin_convertvector(b, qg_vi), qg_vf) - z;
    }
    qg_vs8f b;
    memcpy(&b, p, sizeof b);
    return __builtin_convertvector(__builtin_convertvector(b, qg_vi), qg_vf) - z;
}

static inline qg_vf qg_ldf(const float *p) {
    qg_vf v;
    memcpy(&v, p, sizeof v);
    return v;
}

static void qg_dw_dims(const nne_conv_desc *p, int64_t *ph, int64_t *pw) {
    /* rows/columns the taps read: the padded image, at least */
    int64_t h = (p->out[0] - 1) * p->s[0] + (p->k[0] - 1) * p->d[0] + 1;
    int64_t w = (p->out[1] - 1) * p->s[1] + (p->k[1] - 1) * p->d[1] + 1;
    *ph = h > p->pb[0] + p->in[0] ? h : p->pb[0] + p->in[0];
    *pw = w > p->pb[1] + p->in[1] ? w : p->pb[1] + p->in[1];
}

/* Floats of one part's plane buffer (row stride rs: room for a vector read
 * past the last output of a row; 2 phases when the stride is 2). */
static int64_t qg_dw_rs(const nne_conv_desc *p, int64_t pw) {
    return (p->s[1] == 2 ? (pw + 1) / 2 : pw) + 2 * QG_VF;
}
static size_t qg_dw_plane_bytes(const nne_conv_desc *p) {
    int64_t ph, pw;
    qg_dw_dims(p, &ph, &pw);
    int64_t rs = qg_dw_rs(p, pw), phases = p->s[1] == 2 ? 2 : 1;
    size_t b = (size_t)(phases * ph * rs + 4 * QG_VF + p->out[1]) * sizeof(float);
    return (b + 63) & ~(size_t)63;
}

/* The float depthwise kernel of the vector family (kernels/vec.h) on one
 * channel: the shape of that call, and whether it runs it. */
static nne_conv_desc qg_dw_one(const nne_conv_desc *p) {
    nne_conv_desc o = *p;
    o.N = o.C = o.M = o.G = 1;
    return o;
}
static const nne_vec_ops *qg_dw_vec(const nne_conv_desc *p) {
    const nne_vec_ops *v = nne_vec();
    nne_conv_desc o = qg_dw_one(p);
    return nne_vec_dwconv_supported(v, &o) ? v : NULL;
}
/* Channels per call of the vector kernel: as many as keep their float
 * planes (in and out) within about 64 KiB, so small planes do not pay the
 * kernel's per-call setup once per channel. */
static int64_t qg_dw_chunk(const nne_conv_desc *p) {
    int64_t per = p->in[0] * p->in[1] + p->out[0] * p->out[1], cs = 16384 / (per > 0 ? per : 1);
    return cs < 1 ? 1 : cs > p->C ? p->C : cs;
}
/* One part's bytes on the vector path: the input planes and the output
 * planes of a chunk as floats, then the vector kernel's scratch. */
static size_t qg_dw_vec_bytes(const nne_vec_ops *v, const nne_conv_desc *p) {
    nne_conv_desc o = qg_dw_one(p);
    size_t b = (size_t)(qg_dw_chunk(p) * (p->in[0] * p->in[1] + p->out[0] * p->out[1]) + 2 * QG_VF) * sizeof(float);
    return ((b + 63) & ~(size_t)63) + ((nne_vec_dwconv_scratch(v, &o) + 63) & ~(size_t)63);
}

/* An ISA file may define QG_HAVE_DW_NATIVE and a depthwise kernel of its
 * own on the int8 data, used where qg_isa_dw_ok(p):
 *     qg_isa_dw_bytes(p)        bytes of one part's buffer
 *     qg_isa_dw_prep(p, buf)    ready it once per part
 *     qg_isa_dw_channel(p, x, x_u8, xz, w, req, c, buf)   channel c
 *                               (x: its plane; w: its float taps) */
static size_t qg_dw_part_bytes(const nne_conv_desc *p) {
#ifdef QG_HAVE_DW_NATIVE
    if (qg_isa_dw_ok(p)) return qg_isa_dw_bytes(p);
#endif
    const nne_vec_ops *v = qg_dw_vec(p);
    return v ? qg_dw_vec_bytes(v, p) : qg_dw_plane_bytes(p);
}

static size_t QG_FN(qg_dw_scratch)(const nne_conv_desc *p) {
    size_t b = qg_dw_part_bytes(p);
    return b * 4 + 64;
}

typedef struct qg_dw_job {
    const nne_conv_desc *p;
    const void *x;
    int x_u8;
    int32_t xz;
    const float *w;
    const nne_qreq *req;
    char *base;
    size_t plane;
} qg_dw_job;

/* One channel's requantization constants, splat once per channel. */
typedef struct qg_dwq {
    qg_vi bias, yz;
    qg_vf mult, lo, hi;
} qg_dwq;

static inline qg_dwq qg_dwq_make(const nne_qreq *q, int64_t c) {
    qg_dwq k;
    k.bias = (qg_vi){0} + (q->bias ? q->bias[c] : 0);
    k.yz = (qg_vi){0} + q->yz;
    k.mult = (qg_vf){0} + q->mult[c];
    k.lo = (qg_vf){0} + q->lo;
    k.hi = (qg_vf){0} + q->hi;
    return k;
}

/* Requantize QG_VF sums; the bytes (n <= QG_VF of them are kept). */
static inline qg_vb8 qg_dw_req(const qg_dwq *k, qg_vf acc) {
    qg_vi iv = __builtin_convertvector(acc, qg_vi) + k->bias;
    qg_vf f = __builtin_convertvector(iv, qg_vf) * k->mult;
    qg_vi m = f > k->lo; /* NaN -> lo */
    f = (qg_vf)((m & (qg_vi)f) | (~m & (qg_vi)k->lo));
    m = f < k->hi;
    f = (qg_vf)((m & (qg_vi)f) | (~m & (qg_vi)k->hi));
    f = (f + 12582912.0f) - 12582912.0f;
    qg_vi r = __builtin_convertvector(f, qg_vi) + k->yz;
    /* in range: the low byte (little-endian) of each lane is the uint8 or
     * int8 value; one byte shuffle gathers them */
    qg_vbb all = (qg_vbb)r;
    return __builtin_shufflevector(all, all, QG_BLO);
}

/* Channels of one part on the vector path: each plane minus the zero point
 * as floats, the float depthwise kernel (direct taps, so every partial sum
 * is an exact integer below taps * 255^2 < 2^24 and the order of the sums
 * does not matter), requantized in vectors. An ISA file may define
 * QG_HAVE_DW_HOOKS and the two row functions
 *     qg_isa_tofloat(src, u8, z, dst, n)    dst[i] = src[i] - z
 *     qg_isa_requant(acc, n, bias, mult, lo, hi, yz, y_u8, dst)
 * (the epilogue of nne_qreq_one on n exact integer sums) with intrinsics:
 * GCC extracts byte vectors lane by lane in the generic forms. */
static void qg_dw_vec_part(const qg_dw_job *jb, const nne_vec_ops *v, int part, int nparts) {
    const nne_conv_desc *p = jb->p;
    int64_t cs = qg_dw_chunk(p);
    nne_conv_desc o = qg_dw_one(p);
    o.C = o.M = o.G = cs;
    int64_t insp = p->in[0] * p->in[1], outsp = p->out[0] * p->out[1], taps = p->k[0] * p->k[1];
    char *base = jb->base + (size_t)part * jb->plane;
    float *xf = (float *)(void *)base, *yf = xf + cs * insp;
    size_t fb = ((size_t)(cs * (insp + outsp) + 2 * QG_VF) * sizeof(float) + 63) & ~(size_t)63;
    void *vs = base + fb;
    const nne_qreq *q = jb->req;
    float z = (float)jb->xz;
    long long c0, c1;
    nne_split_range(p->C, 1, part, nparts, &c0, &c1);
    for (long long cb = c0; cb < c1; cb += cs) {
        int64_t n = c1 - cb < cs ? c1 - cb : cs;
        const char *src = (const char *)jb->x + cb * insp;
#ifdef QG_HAVE_DW_HOOKS
        qg_isa_tofloat(src, jb->x_u8, z, xf, n * insp);
#else
        int64_t i = 0;
        for (; i + QG_VF <= n * insp; i += QG_VF) {
            qg_vf f = qg_ldbf(src + i, jb->x_u8, z);
            memcpy(xf + i, &f, sizeof f);
        }
        for (; i < n * insp; i++)
            xf[i] = (jb->x_u8 ? (float)((const uint8_t *)src)[i] : (float)((const int8_t *)src)[i]) - z;
#endif
        v->dwconv2d(&o, xf, jb->w + cb * taps, NULL, yf, 0, n, NULL, vs);
        for (int64_t k = 0; k < n; k++) {
            int64_t c = cb + k;
            const float *yc_f = yf + k * outsp;
            char *yc = (char *)q->y + c * q->rsy;
#ifdef QG_HAVE_DW_HOOKS
            qg_isa_requant(yc_f, outsp, q->bias ? q->bias[c] : 0, q->mult[c], q->lo, q->hi, q->yz, q->y_u8, yc);
#else
            qg_dwq kq = qg_dwq_make(q, c);
            int64_t i = 0;
            for (; i + QG_VF <= outsp; i += QG_VF) {
                qg_vb8 by = qg_dw_req(&kq, qg_ldf(yc_f + i));
                memcpy(yc + i, &by, QG_VF);
            }
            for (; i < outsp; i++) nne_qreq_store(q, c, i, (int32_t)yc_f[i]);
#endif
        }
    }
}

static void qg_dw_part(void *arg, int part, int nparts, void *scratch) {
    (void)scratch;
    const qg_dw_job *jb = arg;
#ifdef QG_HAVE_DW_NATIVE
    if (qg_isa_dw_ok(jb->p)) {
        const nne_conv_desc *p = jb->p;
        void *buf = jb->base + (size_t)part * jb->plane;
        int64_t insp = p->in[0] * p->in[1];
        long long c0, c1;
        nne_split_range(p->C, 1, part, nparts, &c0, &c1);
        if (c0 >= c1) return;
        qg_isa_dw_prep(p, buf);
        for (long long c = c0; c < c1; c++)
            qg_isa_dw_channel(p, (const char *)jb->x + c * insp, jb->x_u8, jb->xz, jb->w + c * p->k[0] * p->k[1],
                              jb->req, c, buf);
        return;
    }
#endif
    const nne_vec_ops *vops = qg_dw_vec(jb->p);
    if (vops) {
        qg_dw_vec_part(jb, vops, part, nparts);
        return;
    }
    const nne_conv_desc *p = jb->p;
    int64_t H = p->in[0], W = p->in[1], OH = p->out[0], OW = p->out[1];
    int64_t kh = p->k[0], kw = p->k[1], sy = p->s[0], sx = p->s[1], dy = p->d[0], dx = p->d[1];
    int64_t PH, PW;
    qg_dw_dims(p, &PH, &PW);
    int64_t rs = qg_dw_rs(p, PW), taps = kh * kw;
    int split = sx == 2;
    float *pl = (float *)(jb->base + (size_t)part * jb->plane);
    float *po = pl + PH * rs; /* odd columns (stride 2) */
    const nne_qreq *q = jb->req;
    int64_t toff[258];
    qg_vf wv[258];
    long long c0, c1;
    nne_split_range(p->C, 1, part, nparts, &c0, &c1);
    memset(pl, 0, jb->plane);
    /* each tap: an offset from the output row's base (and, per channel, a
     * splat weight) */
    for (int64_t t = 0; t < taps && sx <= 2; t++) {
        int64_t ky = t / kw, kx = t % kw, col = kx * dx;
        toff[t] = ky * dy * rs + (split ? ((col & 1) ? PH * rs : 0) + (col >> 1) : col);
    }
    for (long long c = c0; c < c1; c++) {
        /* the plane, shifted by the zero point; the border stays 0 */
        for (int64_t y = 0; y < H; y++) {
            int64_t py = y + p->pb[0], px0 = p->pb[1];
            float *d = pl + py * rs, *e = po + py * rs;
            const uint8_t *su = (const uint8_t *)jb->x + (c * H + y) * W;
            const int8_t *ss = (const int8_t *)jb->x + (c * H + y) * W;
            float z = (float)jb->xz;
            const char *src = (const char *)jb->x + (c * H + y) * W;
            int64_t x = 0;
            if (!split) {
                for (; x + QG_VF <= W; x += QG_VF) {
                    qg_vf v = qg_ldbf(src + x, jb->x_u8, z);
                    memcpy(d + px0 + x, &v, sizeof v);
                }
                for (; x < W; x++) d[px0 + x] = (jb->x_u8 ? (float)su[x] : (float)ss[x]) - z;
            } else {
                if (px0 & 1) { /* the first column is odd: it alone, then pairs from an even one */
                    if (W > 0) e[px0 >> 1] = (jb->x_u8 ? (float)su[0] : (float)ss[0]) - z;
                    x = 1;
                }
                for (; x + 2 * QG_VF <= W; x += 2 * QG_VF) {
                    qg_vf a = qg_ldbf(src + x, jb->x_u8, z), bb = qg_ldbf(src + x + QG_VF, jb->x_u8, z);
                    qg_vf ev = QG_FSHUF(a, bb, QG_FEVN), od = QG_FSHUF(a, bb, QG_FODD);
                    int64_t h = (px0 + x) >> 1;
                    memcpy(d + h, &ev, sizeof ev);
                    memcpy(e + h, &od, sizeof od);
                }
                for (; x < W; x++) {
                    int64_t px = px0 + x;
                    float f = (jb->x_u8 ? (float)su[x] : (float)ss[x]) - z;
                    ((px & 1) ? e : d)[px >> 1] = f;
                }
            }
        }
        const float *wc = jb->w + c * taps;
        if (sx > 2) {
            for (int64_t oy = 0; oy < OH; oy++)
                for (int64_t ox = 0; ox < OW; ox++) {
                    float acc = 0.0f;
                    for (int64_t ky = 0; ky < kh; ky++)
                        for (int64_t kx = 0; kx < kw; kx++)
                            acc += pl[(oy * sy + ky * dy) * rs + ox * sx + kx * dx] * wc[ky * kw + kx];
                    nne_qreq_store(q, c, oy * OW + ox, (int32_t)acc);
                }
            continue;
        }
        for (int64_t t = 0; t < taps; t++) wv[t] = (qg_vf){0} + wc[t];
        qg_dwq kq = qg_dwq_make(q, c);
        char *yc = (char *)q->y + c * q->rsy;
        for (int64_t oy = 0; oy < OH; oy++) {
            const float *b = pl + oy * sy * rs;
            int64_t ox = 0;
            char *yr = yc + oy * OW;
            if (taps == 9) {
                for (; ox + QG_VF <= OW; ox += QG_VF) {
                    qg_vf acc = qg_ldf(b + toff[0] + ox) * wv[0];
                    for (int t = 1; t < 9; t++) acc += qg_ldf(b + toff[t] + ox) * wv[t];
                    qg_vb8 by = qg_dw_req(&kq, acc);
                    memcpy(yr + ox, &by, QG_VF);
                }
            } else {
                for (; ox + QG_VF <= OW; ox += QG_VF) {
                    qg_vf acc = {0};
                    for (int64_t t = 0; t < taps; t++) acc += qg_ldf(b + toff[t] + ox) * wv[t];
                    qg_vb8 by = qg_dw_req(&kq, acc);
                    memcpy(yr + ox, &by, QG_VF);
                }
            }
            if (ox < OW) { /* the last columns: a whole vector, part of it kept */
                qg_vf acc = {0};
                for (int64_t t = 0; t < taps; t++) acc += qg_ldf(b + toff[t] + ox) * wv[t];
                qg_vb8 by = qg_dw_req(&kq, acc);
                memcpy(yr + ox, &by, (size_t)(OW - ox));
            }
        }
    }
}

static void QG_FN(qg_dwconv)(const nne_conv_desc *p, const void *x, int x_u8, int32_t xz, const float *w,
                             const nne_qreq *req, void *scratch, nne_threadpool *pool) {
    qg_dw_job jb = {p, x, x_u8, xz, w, req, (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63),
                    qg_dw_part_bytes(p)};
    int T = nne_threadpool_threads(pool);
    if (T > 4) T = 4;
    if (T > p->C) T = (int)p->C;
    if (T <= 1) qg_dw_part(&jb, 0, 1, NULL);
    else nne_parallel(pool, T, qg_dw_part, &jb, NULL);
}

/* ----------------------------------------- Winograd F(2x2, 3x3), int16 -- */

/* A 3 x 3, stride 1, undilated, ungrouped convolution as 16 GEMMs over
 * 2 x 2 output tiles (Lavin & Gray; kernels/qgemm.h, "Winograd"): per tile
 * the 4 x 4 input patch d (x minus its zero point, 0 in the padding) goes
 * to V = B^T d B (|V| <= 4 * 255, int16), the weights to U = G' g G'^T with
 * G' = 2 G integer (|U| <= 9 * 255), and for each of the 16 positions the
 * products sum over channels by the int16-pair tiles of this variant
 * (qg_tile, into int32 sums: M = sum_c U V); the output is A^T M A = 4 y,
 * exact in int32 (nne_qwino_fits bounds every sum), so y = (A^T M A) >> 2
 * is the convolution's int32 sum, requantized as everywhere else. Tiles are
 * the GEMMs' columns, QG_NR to a panel (flattened tile index ty * TW + tx);
 * the input is kept as a padded int16 copy split into even and odd columns,
 * so tile tx's four patch columns are E[tx], O[tx], E[tx + 1], O[tx + 1]:
 * one vector load per segment of a panel that lies in one tile row. */
typedef int32_t qw_vi __attribute__((vector_size(QG_NR * 4)));
typedef uint32_t qw_vu __attribute__((vector_size(QG_NR * 4)));
typedef float qw_vf __attribute__((vector_size(QG_NR * 4)));
typedef uint8_t qw_vb __attribute__((vector_size(QG_NR)));
typedef uint16_t qw_vh16 __attribute__((vector_size(QG_NR * 2)));

#define QW_PARTS 4         /* most parts (threads) of one run */
#define QW_MB (QG_MR * 8)  /* output channels per block of sums */
#define QW_NBP 8           /* most panels per block */

typedef struct qw_geo {
    int64_t TH, TW, N; /* tile rows, tile columns, tiles */
    int64_t PH, RS;    /* padded rows; int16 per padded row (E then O, RS / 2 each) */
    int64_t plane;     /* int16 per channel */
    int64_t K2, nbp;   /* channel pairs; panels per block */
    size_t xp_bytes, v_bytes, acc_bytes, row_bytes;
} qw_geo;

static void qw_geom(const nne_conv_desc *p, qw_geo *g) {
    g->TH = (p->out[0] + 1) / 2;
    g->TW = (p->out[1] + 1) / 2;
    g->N = g->TH * g->TW;
    int64_t ph = 2 * g->TH + 2, pw = 2 * g->TW + 2;
    if (ph < p->pb[0] + p->in[0]) ph = p->pb[0] + p->in[0];
    if (pw < p->pb[1] + p->in[1]) pw = p->pb[1] + p->in[1];
    g->PH = ph;
    /* each phase a whole number of vectors: the copy deinterleaves without a tail */
    g->RS = 2 * (((pw + 1) / 2 + QG_NR - 1) / QG_NR * QG_NR);
    g->plane = g->PH * g->RS;
    g->K2 = (p->C + 1) / 2;
    /* panels per block: every panel of a block reuses the weights read for
     * it (16 M C int16, streamed once per block), within about 256 KiB of V */
    int64_t nbp = 262144 / (16 * g->K2 * 2 * QG_NR * 2 + 1);
    int64_t npan = (g->N + QG_NR - 1) / QG_NR;
    g->nbp = nbp < 1 ? 1 : nbp > QW_NBP ? QW_NBP : nbp;
    if (g->nbp > npan) g->nbp = npan;
    /* the copy, with QG_NR + 4 int16 of slack before and 3 QG_NR + 4 after
     * (the masked loads of a panel's segments reach up to QG_NR outside) */
    g->xp_bytes = ((size_t)(p->C * g->plane + 4 * QG_NR + 8) * sizeof(int16_t) + 63) & ~(size_t)63;
    g->v_bytes = (size_t)16 * (size_t)g->nbp * (size_t)g->K2 * QG_NR * 2 * sizeof(int16_t);
    g->acc_bytes = (size_t)16 * (size_t)g->nbp * QW_MB * QG_NR * sizeof(int32_t);
    g->row_bytes = ((size_t)(2 * (g->RS + QG_NR)) * sizeof(int16_t) + 63) & ~(size_t)63;
}
static size_t qw_part_bytes(const qw_geo *g) { return g->v_bytes + g->acc_bytes + g->row_bytes; }

static size_t QG_FN(qw_scratch)(const nne_conv_desc *p) {
    qw_geo g;
    qw_geom(p, &g);
    return g.xp_bytes + QW_PARTS * qw_part_bytes(&g) + 3 * 64;
}

static size_t QG_FN(qw_a_bytes)(int64_t M, int64_t C) { return 16 * QG_FN(qg_packed_a_bytes)(M, C); }

/* U of every (m, c) into 16 int16-pair A matrices (M x C each, in the
 * layout of qg_pack_a), w: M x C x 3 x 3, minus wz[m]. */
static void QG_FN(qw_pack_a)(int64_t M, int64_t C, const void *w, int w_u8, const int32_t *wz, void *Pv) {
    int64_t K2 = (C + 1) / 2;
    size_t per = QG_FN(qg_packed_a_bytes)(M, C) / sizeof(int16_t);
    int16_t *P = Pv;
    memset(P, 0, 16 * per * sizeof(int16_t));
    for (int64_t m = 0; m < M; m++)
        for (int64_t c = 0; c < C; c++) {
            int32_t u[16];
            nne_qwino_u_of(w, w_u8, wz, m, C, c, u);
            int64_t i = m / QG_MR * QG_MR, r = m - i, kp = c / 2, h = c & 1;
            for (int ij = 0; ij < 16; ij++) P[(size_t)ij * per + i * K2 * 2 + (kp * QG_MR + r) * 2 + h] = (int16_t)u[ij];
        }
}

typedef struct qw_job {
    const nne_conv_desc *p;
    const qw_geo *g;
    const void *x;
    int x_u8;
    int32_t xz;
    const int16_t *Pa;
    const nne_qreq *req;
    int16_t *xp;
    char *parts;
    int64_t nblk;
} qw_job;

/* Channels [c0, c1) of the padded, shifted, phase-split copy. */
static void qw_fill(const qw_job *jb, int64_t c0, int64_t c1, int part) {
    const nne_conv_desc *p = jb->p;
    const qw_geo *g = jb->g;
    int64_t H = p->in[0], W = p->in[1], pt = p->pb[0], pl = p->pb[1], half = g->RS / 2;
    int16_t *row = (int16_t *)(void *)(jb->parts + (size_t)part * qw_part_bytes(g) + g->v_bytes + g->acc_bytes);
    size_t row_n = (size_t)(2 * (g->RS + QG_NR));
    int16_t z = (int16_t)jb->xz;
    for (int64_t c = c0; c < c1; c++) {
        int16_t *pc = jb->xp + c * g->plane;
        for (int64_t y = 0; y < g->PH; y++) {
            int16_t *d = pc + y * g->RS;
            int64_t iy = y - pt;
            if (iy < 0 || iy >= H) {
                memset(d, 0, (size_t)g->RS * sizeof(int16_t));
                continue;
            }
            memset(row, 0, (size_t)pl * sizeof(int16_t));
            memset(row + pl + W, 0, (row_n - (size_t)(pl + W)) * sizeof(int16_t));
            const char *src = (const char *)jb->x + (c * H + iy) * W;
            int64_t x = 0;
            /* whole vectors while the image has the bytes (those past the
             * row land in the right padding, cleared after) */
            int64_t left = (p->C - c) * H * W - iy * W;
            for (; x < W && (x + QG_NR <= W || left - x >= QG_NR); x += QG_NR) {
                qg_vh v = qg_ldb(src + x, jb->x_u8, z);
                memcpy(row + pl + x, &v, sizeof v);
            }
            for (; x < W; x++)
                row[pl + x] = (int16_t)((jb->x_u8 ? (int32_t)((const uint8_t *)src)[x] : (int32_t)((const int8_t *)src)[x]) - z);
            memset(row + pl + W, 0, QG_NR * sizeof(int16_t));
            int64_t i = 0;
            for (; i + QG_NR <= half; i += QG_NR) {
                qg_vh a = qg_ldh(row + 2 * i), b = qg_ldh(row + 2 * i + QG_NR);
                qg_vh e = QG_SHUF(a, b, QG_EVN), o = QG_SHUF(qg_ldh(row + 2 * i + 1), qg_ldh(row + 2 * i + 1 + QG_NR), QG_EVN);
                memcpy(d + i, &e, sizeof e);
                memcpy(d + half + i, &o, sizeof o);
            }
            for (; i < half; i++) {
                d[i] = row[2 * i];
                d[half + i] = row[2 * i + 1];
            }
        }
    }
}

/* The lanes of one panel (tiles n0 .. n0 + QG_NR - 1, nc of them real) as
 * segments of one tile row each: lane l of segment k reads tile column
 * base[k] + l of tile row ty[k], under mask[k] (lanes past nc join the last). */
typedef struct qw_seg {
    int n;
    int64_t ty[QG_NR], base[QG_NR];
    int l0[QG_NR + 1];
    qg_vh mask[QG_NR];
} qw_seg;

static void qw_segments(const qw_geo *g, int64_t n0, int nc, qw_seg *s) {
    s->n = 0;
    for (int l = 0; l < nc;) {
        int64_t n = n0 + l, ty = n / g->TW, tx = n % g->TW;
        int le = l + (int)(g->TW - tx);
        if (le >= nc) le = QG_NR;
        s->ty[s->n] = ty;
        s->base[s->n] = tx - l;
        s->l0[s->n] = l;
        qg_vh m = {0};
        for (int k = l; k < le; k++) m[k] = -1;
        s->mask[s->n++] = m;
        l = le;
    }
    s->l0[s->n] = QG_NR;
}

/* V of one panel and channel: 16 vectors (position i * 4 + j). */
static inline void qw_in_tf(const qw_geo *g, const qw_seg *s, const int16_t *xc, qg_vh V[16]) {
    qg_vh d[4][4];
    int64_t half = g->RS / 2;
    for (int r = 0; r < 4; r++) {
        if (s->n == 1) {
            const int16_t *b = xc + (2 * s->ty[0] + r) * g->RS + s->base[0];
            d[r][0] = qg_ldh(b);
            d[r][1] = qg_ldh(b + half);
            d[r][2] = qg_ldh(b + 1);
            d[r][3] = qg_ldh(b + half + 1);
            continue;
        }
        for (int j = 0; j < 4; j++) d[r][j] = (qg_vh){0};
        for (int k = 0; k < s->n; k++) {
            const int16_t *b = xc + (2 * s->ty[k] + r) * g->RS + s->base[k];
            qg_vh m = s->mask[k];
            d[r][0] |= qg_ldh(b) & m;
            d[r][1] |= qg_ldh(b + half) & m;
            d[r][2] |= qg_ldh(b + 1) & m;
            d[r][3] |= qg_ldh(b + half + 1) & m;
        }
    }
    /* t = B^T d (rows), V = t B (columns); B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1] */
    qg_vh t[4][4];
    for (int j = 0; j < 4; j++) {
        t[0][j] = d[0][j] - d[2][j];
        t[1][j] = d[1][j] + d[2][j];
        t[2][j] = d[2][j] - d[1][j];
        t[3][j] = d[1][j] - d[3][j];
    }
    for (int i = 0; i < 4; i++) {
        V[i * 4 + 0] = t[i][0] - t[i][2];
        V[i * 4 + 1] = t[i][1] + t[i][2];
        V[i * 4 + 2] = t[i][2] - t[i][1];
        V[i * 4 + 3] = t[i][1] - t[i][3];
    }
}

#ifndef QW_HAVE_OUT_HOOK
static inline qw_vb qw_req(const qw_vi *y, int32_t bias, float mult, const nne_qreq *q) {
    qw_vi v = (qw_vi)((qw_vu)*y + (uint32_t)bias);
    qw_vf f = __builtin_convertvector(v, qw_vf) * mult;
    qw_vf lo = (qw_vf){0} + q->lo, hi = (qw_vf){0} + q->hi;
    qw_vi m = f > lo; /* NaN -> lo */
    f = (qw_vf)((m & (qw_vi)f) | (~m & (qw_vi)lo));
    m = f < hi;
    f = (qw_vf)((m & (qw_vi)f) | (~m & (qw_vi)hi));
    f = (f + 12582912.0f) - 12582912.0f; /* round half to even (|f| <= 2^22) */
    return __builtin_convertvector(__builtin_convertvector(f, qw_vi) + q->yz, qw_vb);
}
/* (a[l], b[l]) byte pairs: little-endian 16-bit lanes */
static inline void qw_zip(uint8_t *o, qw_vb a, qw_vb b) {
    qw_vh16 w = __builtin_convertvector(a, qw_vh16) | (__builtin_convertvector(b, qw_vh16) << 8);
    memcpy(o, &w, sizeof w);
}
/* The output stage of one channel and panel: Mp[ij * ld + lane] the sums
 * of position ij; Y = A^T M A, A^T = [1 1 1 0; 0 1 -1 -1], y = Y / 4,
 * requantized; r0, r1: the tiles' two output rows as byte pairs (left,
 * right column of tile l at 2 l, 2 l + 1). An ISA file may define
 * QW_HAVE_OUT_HOOK and its own qw_out with intrinsics (GCC lowers these
 * vector conversions lane by lane). */
static inline void qw_out(const int32_t *Mp, size_t ld, int32_t bias, float mult, const nne_qreq *q, uint8_t *r0,
                          uint8_t *r1) {
    qw_vi Mv[16];
    for (int ij = 0; ij < 16; ij++) memcpy(&Mv[ij], Mp + ij * ld, sizeof(qw_vi));
    qw_vi a0[4], a1[4];
    for (int j = 0; j < 4; j++) {
        a0[j] = Mv[0 * 4 + j] + Mv[1 * 4 + j] + Mv[2 * 4 + j];
        a1[j] = Mv[1 * 4 + j] - Mv[2 * 4 + j] - Mv[3 * 4 + j];
    }
    qw_vi y00 = (a0[0] + a0[1] + a0[2]) >> 2, y01 = (a0[1] - a0[2] - a0[3]) >> 2;
    qw_vi y10 = (a1[0] + a1[1] + a1[2]) >> 2, y11 = (a1[1] - a1[2] - a1[3]) >> 2;
    qw_zip(r0, qw_req(&y00, bias, mult, q), qw_req(&y01, bias, mult, q));
    qw_zip(r1, qw_req(&y10, bias, mult, q), qw_req(&y11, bias, mult, q));
}
#endif

/* Output row 2 ty + dy of one channel for the panel's tiles, from the
 * byte pairs ab (qw_out). */
static inline void qw_store_row(const nne_conv_desc *p, const qw_seg *s, uint8_t *ym, int dy, const uint8_t *ab) {
    int64_t OH = p->out[0], OW = p->out[1];
    for (int k = 0; k < s->n; k++) {
        int64_t oy = 2 * s->ty[k] + dy;
        if (oy >= OH) continue;
        int l0 = s->l0[k], l1 = s->l0[k + 1];
        int64_t ox = 2 * (s->base[k] + l0), nb = 2 * (int64_t)(l1 - l0);
        if (ox + nb > OW) nb = OW - ox;
        if (nb <= 0) continue;
        if (nb == 2 * QG_NR) memcpy(ym + oy * OW + ox, ab, 2 * QG_NR);
        else memcpy(ym + oy * OW + ox, ab + 2 * l0, (size_t)nb);
    }
}

/* The register tile out of line: inlined into qw_blocks, GCC spilled its
 * accumulators. */
static __attribute__((noinline)) void qw_tile(int64_t K2, const int16_t *Pa, const int16_t *Pb, int mr,
                                              int32_t *accp, int mode) {
    qg_tile(K2, Pa, Pb, mr, QG_NR, 0, 0, NULL, accp, mode);
}

/* Blocks [b0, b1) of nbp panels, with this part's buffers. */
static void qw_blocks(const qw_job *jb, int64_t b0, int64_t b1, int part) {
    const nne_conv_desc *p = jb->p;
    const qw_geo *g = jb->g;
    const nne_qreq *q = jb->req;
    int64_t C = p->C, M = p->M, K2 = g->K2, npan = (g->N + QG_NR - 1) / QG_NR;
    size_t per_a = QG_FN(qg_packed_a_bytes)(M, C) / sizeof(int16_t);
    char *base = jb->parts + (size_t)part * qw_part_bytes(g);
    int16_t *Vb = (int16_t *)(void *)base;
    int32_t *acc = (int32_t *)(void *)(base + g->v_bytes);
    int64_t nbp = g->nbp;
    size_t vstride = (size_t)K2 * QG_NR * 2; /* int16 per (position, panel) */
    qw_seg seg[QW_NBP];
    for (int64_t blk = b0; blk < b1; blk++) {
        int64_t j0 = blk * nbp, nj = qg_min(nbp, npan - j0);
        /* V of the block's panels, channel pairs interleaved */
        for (int64_t pj = 0; pj < nj; pj++) {
            int64_t n0 = (j0 + pj) * QG_NR;
            qw_segments(g, n0, (int)qg_min(QG_NR, g->N - n0), &seg[pj]);
            for (int64_t kp = 0; kp < K2; kp++) {
                qg_vh v0[16], v1[16];
                qw_in_tf(g, &seg[pj], jb->xp + 2 * kp * g->plane, v0);
                if (2 * kp + 1 < C) qw_in_tf(g, &seg[pj], jb->xp + (2 * kp + 1) * g->plane, v1);
                else
                    for (int ij = 0; ij < 16; ij++) v1[ij] = (qg_vh){0};
                for (int ij = 0; ij < 16; ij++)
                    qg_st_pairs(Vb + ((size_t)ij * nbp + pj) * vstride + kp * QG_NR * 2, v0[ij], v1[ij]);
            }
        }
        for (int64_t mb = 0; mb < M; mb += QW_MB) {
            int64_t me = qg_min(M, mb + QW_MB);
            for (int ij = 0; ij < 16; ij++) {
                const int16_t *Pa = jb->Pa + (size_t)ij * per_a;
                for (int64_t kb = 0; kb < K2; kb += QG_KC2) {
                    int64_t kn = qg_min(QG_KC2, K2 - kb);
                    for (int64_t i = mb; i < me; i += QG_MR)
                        for (int64_t pj = 0; pj < nj; pj++) {
                            int32_t *ap = acc + (((size_t)ij * nbp + pj) * QW_MB + (i - mb)) * QG_NR;
                            qw_tile(kn, Pa + i * K2 * 2 + kb * QG_MR * 2,
                                    Vb + ((size_t)ij * nbp + pj) * vstride + kb * QG_NR * 2, (int)qg_min(QG_MR, M - i),
                                    ap, kb ? QG_ACC_LOAD : 0);
                        }
                }
            }
            /* Y = A^T M A, A^T = [1 1 1 0; 0 1 -1 -1]; y = Y / 4 */
            for (int64_t m = mb; m < me; m++) {
                int32_t bias = q->bias ? q->bias[m] : 0;
                float mult = q->mult[m];
                uint8_t *ym = (uint8_t *)q->y + m * q->rsy;
                for (int64_t pj = 0; pj < nj; pj++) {
                    uint8_t r0[2 * QG_NR], r1[2 * QG_NR];
                    qw_out(acc + (pj * QW_MB + (m - mb)) * QG_NR, (size_t)nbp * QW_MB * QG_NR, bias, mult, q, r0, r1);
                    qw_store_row(p, &seg[pj], ym, 0, r0);
                    qw_store_row(p, &seg[pj], ym, 1, r1);
                }
            }
        }
    }
}

static void qw_part(void *arg, int part, int nparts, void *scratch) {
    (void)scratch;
    const qw_job *jb = arg;
    long long lo, hi;
    nne_split_range(jb->nblk, 1, part, nparts, &lo, &hi);
    if (lo < hi) qw_blocks(jb, lo, hi, part);
}
static void qw_fill_part(void *arg, int part, int nparts, void *scratch) {
    (void)scratch;
    const qw_job *jb = arg;
    long long lo, hi;
    nne_split_range(jb->p->C, 1, part, nparts, &lo, &hi);
    if (lo < hi) qw_fill(jb, lo, hi, part);
}

static void QG_FN(qw_run)(const nne_conv_desc *p, const void *x, int x_u8, int32_t xz, const void *Pa,
                          const nne_qreq *req, void *scratch, nne_threadpool *pool) {
    qw_geo g;
    qw_geom(p, &g);
    char *base = (char *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    int64_t npan = (g.N + QG_NR - 1) / QG_NR;
    qw_job jb = {p, &g, x, x_u8, xz, Pa, req, (int16_t *)(void *)base + QG_NR + 4, base + g.xp_bytes,
                 (npan + g.nbp - 1) / g.nbp};
    /* the slack around the copy (read under masks) */
    memset(base, 0, (size_t)(QG_NR + 4) * sizeof(int16_t));
    memset(jb.xp + p->C * g.plane, 0, (size_t)(3 * QG_NR + 4) * sizeof(int16_t));
    int T = nne_threadpool_threads(pool);
    if (T > QW_PARTS) T = QW_PARTS;
    if (T <= 1) {
        qw_fill(&jb, 0, p->C, 0);
        qw_blocks(&jb, 0, jb.nblk, 0);
        return;
    }
    nne_parallel(pool, (int)qg_min(T, p->C), qw_fill_part, &jb, NULL);
    nne_parallel(pool, (int)qg_min(T, jb.nblk), qw_part, &jb, NULL);
}

const nne_qgemm_ops QG_CAT(nne_qgemm_ops, QG_SUF) = {
    .name = "nne_q8_gemm_ukernel_" QG_STR(QG_MR) "x" QG_STR(QG_NR) "__" QG_STR(QG_SUF),
    .isa = QG_ISA,
    .mr = QG_MR,
    .nr = QG_NR,
    .wlo = -255,
    .whi = 255,
    .packed_a_bytes = QG_FN(qg_packed_a_bytes),
    .pack_a = QG_FN(qg_pack_a),
    .scratch = QG_FN(qg_scratch),
    .run = QG_FN(qg_run),
    .dw_scratch = QG_FN(qg_dw_scratch),
    .dwconv = QG_FN(qg_dwconv),
    .wino_a_bytes = QG_FN(qw_a_bytes),
    .wino_pack_a = QG_FN(qw_pack_a),
    .wino_scratch = QG_FN(qw_scratch),
    .wino_run = QG_FN(qw_run),
};
