/*
 * qgemm8_tmpl.h - the body of every 8-bit int8 GEMM variant (qgemm.h, "the
 * 8-bit variants"): A packed as int8 quads along k with its row sums, B as
 * uint8 quads, cache blocking and the split over the thread pool, as
 * kernels/qgemm_tmpl.h does for the int16-pair variants (a file may include
 * both: every name here is q8_ / Q8_). The including file (one per ISA,
 * compiled with only that ISA's flags) sets
 *     Q8_SUF   name suffix (avx2_u8)   Q8_ISA  its NNE_ISA_* level
 *     Q8_MR    rows of a tile          Q8_NR   columns of a tile
 *     Q8_WLO, Q8_WHI   the range of A - za the tile is exact for
 * and defines, before including this file, the register tile
 *     static void q8_tile(int64_t K4, const int8_t *Pa, const uint8_t *Pb,
 *                         int mr, int nr, int64_t m0, int64_t n0,
 *                         const nne_qreq *q, int32_t *acc, int mode);
 * which multiplies an A panel (per k quad: Q8_MR rows x 4 int8) by a B
 * panel (per k quad: Q8_NR columns x 4 uint8) over K4 quads into int32
 * (the raw sums of A * B: the zero point of B is in q->bias, see run),
 * starting from zero or (mode & QG_ACC_LOAD) from acc, and either stores
 * the requantized mr x nr corner at output (m0, n0) (mode & QG_ACC_FINAL)
 * or saves its sums to acc (Q8_MR x Q8_NR int32).
 *
 * B's values are read as uint8: an int8 B is moved up by 128 (x ^ 0x80)
 * and its zero point with it; a convolution's padding reads as the zero
 * point (so it adds nothing once the zero point is taken out).
 */
#include "kernels/qgemm.h"
#include "kernels/dispatch.h"

#include <string.h>

#define Q8_CAT2(a, b) a##__##b
#define Q8_CAT(a, b) Q8_CAT2(a, b)
#define Q8_FN(name) Q8_CAT(name, Q8_SUF)
#define Q8_STR2(x) #x
#define Q8_STR(x) Q8_STR2(x)
#ifndef Q8_MC_BYTES
#define Q8_MC_BYTES (192 * 1024)
#endif
#ifndef Q8_KC4
#define Q8_KC4 128 /* k quads per slice: a B panel slice is Q8_KC4 * Q8_NR * 4 bytes */
#endif

static inline int64_t q8_min(int64_t a, int64_t b) { return a < b ? a : b; }
static inline size_t q8_round64(size_t b) { return (b + 63) & ~(size_t)63; }

#ifndef Q8_HAVE_VB /* (an ISA file defining its own hooks defines it first) */
typedef uint8_t q8_vb __attribute__((vector_size(Q8_NR)));
#endif
typedef uint32_t q8_vw __attribute__((vector_size(Q8_NR * 4)));
#if Q8_NR == 8
#define Q8_EVN 0, 2, 4, 6, 8, 10, 12, 14
#elif Q8_NR == 16
#define Q8_EVN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30
#elif Q8_NR == 32
#define Q8_EVN 0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36, 38, 40, 42, 44, 46, 48, 50, \
               52, 54, 56, 58, 60, 62
#endif
#if defined(__clang__)
#define Q8_SHUF(a, b, idx) __builtin_shufflevector(a, b, idx)
#else
#define Q8_SHUF(a, b, idx) __builtin_shuffle(a, b, (q8_vb){idx})
#endif

static inline q8_vb q8_ld(const void *p) {
    q8_vb v;
    memcpy(&v, p, sizeof v);
    return v;
}
/* One quad row of the panel: (v0[c], v1[c], v2[c], v3[c]) for every
 * column c; and the NR even bytes of 2 NR at p (stride-2 columns). An ISA
 * file may define its own (Q8_HAVE_ST_QUADS, Q8_HAVE_EVENS): GCC turns the
 * generic forms into byte inserts. Those files define q8_vb (Q8_HAVE_VB)
 * before the hooks. */
#ifndef Q8_HAVE_ST_QUADS
static inline void q8_st_quads(uint8_t *o, q8_vb v0, q8_vb v1, q8_vb v2, q8_vb v3) {
    q8_vw w = __builtin_convertvector(v0, q8_vw) | (__builtin_convertvector(v1, q8_vw) << 8) |
              (__builtin_convertvector(v2, q8_vw) << 16) | (__builtin_convertvector(v3, q8_vw) << 24);
    memcpy(o, &w, sizeof w);
}
#endif
#ifndef Q8_HAVE_EVENS
static inline q8_vb q8_evens(const uint8_t *p) { return Q8_SHUF(q8_ld(p), q8_ld(p + Q8_NR), Q8_EVN); }
#endif

/* A: Mp x K4 quads of int8, then the Mp int32 row sums */
static size_t q8_a_body(int64_t M, int64_t K) {
    int64_t K4 = (K + 3) / 4, Mp = (M + Q8_MR - 1) / Q8_MR * Q8_MR;
    return q8_round64((size_t)Mp * (size_t)K4 * 4);
}

static size_t Q8_FN(q8_packed_a_bytes)(int64_t M, int64_t K) {
    int64_t Mp = (M + Q8_MR - 1) / Q8_MR * Q8_MR;
    return q8_a_body(M, K) + (size_t)Mp * sizeof(int32_t);
}

static void Q8_FN(q8_pack_a)(int64_t M, int64_t K, const void *w, int w_u8, int64_t rsw, int64_t csw,
                             const int32_t *wz, int wz_per_row, void *Pv) {
    int64_t K4 = (K + 3) / 4, Mp = (M + Q8_MR - 1) / Q8_MR * Q8_MR;
    int8_t *P = Pv;
    int32_t *rs = (int32_t *)(void *)((char *)Pv + q8_a_body(M, K));
    for (int64_t m = 0; m < Mp; m++) rs[m] = 0;
    for (int64_t i = 0; i < M; i += Q8_MR) {
        int8_t *pp = P + i * K4 * 4;
        for (int64_t kq = 0; kq < K4; kq++)
            for (int r = 0; r < Q8_MR; r++)
                for (int h = 0; h < 4; h++) {
                    int64_t m = i + r, k = 4 * kq + h;
                    int32_t v = 0;
                    if (m < M && k < K) {
                        int64_t idx = m * rsw + k * csw;
                        int32_t z = wz ? wz[wz_per_row ? m : 0] : 0;
                        v = (w_u8 ? (int32_t)((const uint8_t *)w)[idx] : (int32_t)((const int8_t *)w)[idx]) - z;
                        rs[m] += v;
                    }
                    pp[(kq * Q8_MR + r) * 4 + h] = (int8_t)v;
                }
    }
}

static void q8_pad_dims(const nne_conv_desc *p, int64_t *ph, int64_t *pw) {
    int64_t h = (p->out[0] - 1) * p->s[0] + (p->k[0] - 1) * p->d[0] + 1;
    int64_t w = (p->out[1] - 1) * p->s[1] + (p->k[1] - 1) * p->d[1] + 1;
    *ph = h > p->pb[0] + p->in[0] ? h : p->pb[0] + p->in[0];
    *pw = w > p->pb[1] + p->in[1] ? w : p->pb[1] + p->in[1];
}

/* bytes of slack before and after the padded input copy: the segment
 * loads of the im2col packer read up to 2 NR bytes around what they use */
#define Q8_XP_SLACK (4 * Q8_NR)

static size_t q8_packed_b_bytes(int64_t N, int64_t K) {
    int64_t K4 = (K + 3) / 4, Np = (N + Q8_NR - 1) / Q8_NR * Q8_NR;
    return q8_round64((size_t)Np * (size_t)K4 * 4);
}

static size_t q8_acc_bytes(int64_t M, int64_t N, int64_t K) {
    int64_t K4 = (K + 3) / 4;
    if (K4 <= Q8_KC4) return 0;
    int64_t Mp = (M + Q8_MR - 1) / Q8_MR * Q8_MR, Np = (N + Q8_NR - 1) / Q8_NR * Q8_NR;
    return q8_round64((size_t)Mp * (size_t)Np * sizeof(int32_t));
}

static size_t Q8_FN(q8_scratch)(int64_t M, int64_t N, int64_t K, const nne_conv_desc *p) {
    size_t b = q8_packed_b_bytes(N, K) + q8_acc_bytes(M, N, K) + q8_round64((size_t)M * sizeof(int32_t)) + 64;
    if (p) {
        int64_t ph, pw, taps = p->k[0] * p->k[1];
        q8_pad_dims(p, &ph, &pw);
        b += (size_t)(K / taps) * (size_t)(ph * pw) + 2 * Q8_XP_SLACK + 64 + q8_round64((size_t)K * sizeof(int64_t));
    }
    return b;
}

/* Where the NR columns of an im2col panel read, relative to a tap's start:
 * mode 0 one output row, stride 1 (one load); 1 one row, stride 2 (the even
 * bytes of two); 2 / 4 a few rows, stride 1 / 2 (one masked segment per
 * row); 3 a gather of off[]. */
typedef struct q8_geo {
    int mode, nseg;
    int64_t off[Q8_NR], sbase[Q8_NR];
    q8_vb smask[Q8_NR];
} q8_geo;

static inline q8_vb q8_gather(const uint8_t *r, const q8_geo *g) {
    switch (g->mode) {
    case 0: return q8_ld(r + g->off[0]);
    case 1: return q8_evens(r + g->off[0]);
    case 2:
    case 4: {
        q8_vb acc = {0};
        for (int k = 0; k < g->nseg; k++) {
            const uint8_t *q = r + g->sbase[k];
            q8_vb sv = g->mode == 2 ? q8_ld(q) : q8_evens(q);
            acc = (acc & ~g->smask[k]) | (sv & g->smask[k]);
        }
        return acc;
    }
    default: {
        uint8_t tmp[Q8_NR];
        for (int c = 0; c < Q8_NR; c++) tmp[c] = r[g->off[c]];
        return q8_ld(tmp);
    }
    }
}

/* B panel of columns [n0, n0 + nc) (nc <= NR), all K, into P; flip moves
 * an int8 source to uint8; koff: the taps' offsets in the padded copy (a
 * convolution's im2col). */
static void q8_pack_b_panel(const nne_qsrc *s, const int64_t *koff, uint8_t flip, int64_t K, int64_t n0, int64_t nc,
                            uint8_t *restrict P) {
    int64_t K4 = (K + 3) / 4;
    if (!s->p) {
        if (s->csb == 1 && nc == Q8_NR) {
            const uint8_t *x = (const uint8_t *)s->x + n0;
            for (int64_t kq = 0; kq < K4; kq++) {
                q8_vb v[4];
                for (int h = 0; h < 4; h++) {
                    int64_t k = 4 * kq + h;
                    v[h] = k < K ? q8_ld(x + k * s->rsb) ^ flip : (q8_vb){0};
                }
                q8_st_quads(P + kq * Q8_NR * 4, v[0], v[1], v[2], v[3]);
            }
            return;
        }
        for (int64_t kq = 0; kq < K4; kq++)
            for (int c = 0; c < Q8_NR; c++)
                for (int h = 0; h < 4; h++) {
                    int64_t k = 4 * kq + h;
                    P[(kq * Q8_NR + c) * 4 + h] =
                        (c < nc && k < K) ? (uint8_t)(((const uint8_t *)s->x)[k * s->rsb + (n0 + c) * s->csb] ^ flip)
                                          : 0;
                }
        return;
    }
    /* im2col of a 2-d convolution from the padded uint8 copy xp (row
     * stride PW, plane PH * PW; koff[k]: where tap k = (channel, ky, kx)
     * starts in it), as the int16 packer of qgemm_tmpl.h reads its copy:
     * one vector load per k on one output row, masked segments when the
     * panel wraps rows, a gather otherwise; columns past nc repeat the last
     * one (never stored) */
    const nne_conv_desc *p = s->p;
    const uint8_t *xp = s->xp;
    int64_t PW = s->pw, OW = p->out[1];
    q8_geo geo;
    for (int c = 0; c < Q8_NR; c++) {
        int64_t n = n0 + (c < nc ? c : nc - 1), oy = n / OW, ox = n % OW;
        geo.off[c] = oy * p->s[0] * PW + ox * p->s[1];
    }
    int64_t sx = p->s[1];
    int row = nc == Q8_NR && (n0 % OW) + Q8_NR <= OW;
    geo.nseg = 0;
    geo.mode = row && sx == 1 ? 0 : row && sx == 2 ? 1 : 3;
    if (!row && (sx == 1 || sx == 2)) {
        geo.mode = sx == 1 ? 2 : 4;
        for (int c = 0; c < nc;) {
            int ce = c + 1;
            while (ce < nc && geo.off[ce] == geo.off[c] + (ce - c) * sx) ce++;
            if (ce == nc) ce = Q8_NR;
            geo.sbase[geo.nseg] = geo.off[c] - c * sx;
            q8_vb m = {0};
            for (int l = c; l < ce; l++) m[l] = 0xFF;
            geo.smask[geo.nseg++] = m;
            c = ce;
        }
    }
    int64_t K4f = K / 4;
    for (int64_t kq = 0; kq < K4f; kq++) {
        const int64_t *ko = koff + 4 * kq;
        q8_vb v0 = q8_gather(xp + ko[0], &geo), v1 = q8_gather(xp + ko[1], &geo);
        q8_vb v2 = q8_gather(xp + ko[2], &geo), v3 = q8_gather(xp + ko[3], &geo);
        q8_st_quads(P + kq * Q8_NR * 4, v0, v1, v2, v3);
    }
    if (K4f < K4) { /* the last quad, zeros past K */
        q8_vb v[4];
        for (int h = 0; h < 4; h++) v[h] = 4 * K4f + h < K ? q8_gather(xp + koff[4 * K4f + h], &geo) : (q8_vb){0};
        q8_st_quads(P + K4f * Q8_NR * 4, v[0], v[1], v[2], v[3]);
    }
}

/* The padded uint8 copy of channels [c0, c1) of the group's input: the
 * zero point zp (uint8 domain) around. */
static void q8_pad_input(const nne_qsrc *s, uint8_t *xp, int64_t PH, int64_t PW, int64_t c0, int64_t c1,
                         uint8_t zp, uint8_t flip) {
    const nne_conv_desc *p = s->p;
    int64_t H = p->in[0], W = p->in[1], pt = p->pb[0], pl = p->pb[1];
    for (int64_t c = c0; c < c1; c++) {
        uint8_t *pc = xp + c * PH * PW;
        for (int64_t y = 0; y < PH; y++) {
            uint8_t *d = pc + y * PW;
            int64_t iy = y - pt;
            if (iy < 0 || iy >= H) {
                memset(d, zp, (size_t)PW);
                continue;
            }
            int64_t xe = pl + W < PW ? pl + W : PW, x0 = pl < PW ? pl : PW;
            memset(d, zp, (size_t)x0);
            const uint8_t *src = (const uint8_t *)s->x + c * s->insp + iy * W;
            if (!flip) memcpy(d + x0, src, (size_t)(xe - x0));
            else
                for (int64_t x = x0; x < xe; x++) d[x] = (uint8_t)(src[x - pl] ^ flip);
            memset(d + xe, zp, (size_t)(PW - xe));
        }
    }
}

typedef struct q8_job {
    const nne_qgemm_args *g;
    const int64_t *koff;
    uint8_t *Pb;
    int32_t *acc;
    uint8_t flip;
    int split_m;
} q8_job;

static void q8_compute(const nne_qgemm_args *g, const uint8_t *Pb, int32_t *acc, int64_t m_lo, int64_t m_hi,
                       int64_t j_lo, int64_t j_hi) {
    int64_t K4 = (g->K + 3) / 4, Mp = (g->M + Q8_MR - 1) / Q8_MR * Q8_MR;
    int64_t kc = acc ? Q8_KC4 : K4;
    const int8_t *Pa = g->Pa;
    for (int64_t kb = 0; kb < K4; kb += kc) {
        int64_t kn = q8_min(kc, K4 - kb);
        int mode = (kb > 0 ? QG_ACC_LOAD : 0) | (kb + kn == K4 ? QG_ACC_FINAL : 0);
        int64_t mc = Q8_MC_BYTES / (kn * 4 * Q8_MR) * Q8_MR;
        if (mc < Q8_MR) mc = Q8_MR;
        for (int64_t mb = m_lo; mb < m_hi; mb += mc) {
            int64_t me = q8_min(m_hi, mb + mc);
            for (int64_t j = j_lo; j < j_hi; j++) {
                int64_t n0 = j * Q8_NR;
                int nr = (int)q8_min(Q8_NR, g->N - n0);
                const uint8_t *pb = Pb + j * K4 * Q8_NR * 4 + kb * Q8_NR * 4;
                for (int64_t i = mb; i < me; i += Q8_MR) {
                    int mr = (int)q8_min(Q8_MR, g->M - i);
                    int32_t *ap = acc ? acc + (j * Mp + i) * Q8_NR : NULL;
                    q8_tile(kn, Pa + i * K4 * 4 + kb * Q8_MR * 4, pb, mr, nr, i, n0, g->req, ap, mode);
                }
            }
        }
    }
}

static void q8_part(void *arg, int part, int nparts, void *scratch) {
    (void)scratch;
    const q8_job *jb = arg;
    const nne_qgemm_args *g = jb->g;
    int64_t K4 = (g->K + 3) / 4, npan = (g->N + Q8_NR - 1) / Q8_NR;
    long long lo, hi;
    if (jb->split_m) {
        nne_split_range(g->M, Q8_MR, part, nparts, &lo, &hi);
        if (lo < hi) q8_compute(g, jb->Pb, jb->acc, lo, hi, 0, npan);
        return;
    }
    nne_split_range(npan, 1, part, nparts, &lo, &hi);
    for (long long j = lo; j < hi; j++)
        q8_pack_b_panel(g->b, jb->koff, jb->flip, g->K, j * Q8_NR, q8_min(Q8_NR, g->N - j * Q8_NR),
                        jb->Pb + j * K4 * Q8_NR * 4);
    if (lo < hi) q8_compute(g, jb->Pb, jb->acc, 0, g->M, lo, hi);
}

#ifdef Q8_HAVE_GEMV
/* One column (a matrix-vector product, e.g. a classifier on one image):
 * the tiles would compute Q8_NR columns for it, so the ISA's q8_isa_gemv
 * (K4 quads of the row block at Pa, the vector's uint8 quads xq, padded
 * with zeros to a multiple of 8 quads; the Q8_MR raw sums of A * B out)
 * runs each row block, the sums then take the folded bias and are stored
 * as the tiles store them. */
static void q8_gemv(const nne_qgemm_args *g, const nne_qreq *req, uint8_t flip, uint8_t *xq) {
    int64_t K4 = (g->K + 3) / 4;
    const nne_qsrc *s = g->b;
    for (int64_t k = 0; k < K4 * 4 || k % 32; k++)
        xq[k] = k < g->K ? (uint8_t)(((const uint8_t *)s->x)[k * s->rsb] ^ flip) : 0;
    const int8_t *Pa = g->Pa;
    for (int64_t i = 0; i < g->M; i += Q8_MR) {
        int32_t acc[Q8_MR];
        q8_isa_gemv(K4, Pa + i * K4 * 4, xq, acc);
        for (int r = 0; r < Q8_MR && i + r < g->M; r++) nne_qreq_store(req, i + r, 0, acc[r]);
    }
}
#endif

static void Q8_FN(q8_run)(const nne_qgemm_args *g0, void *scratch, nne_threadpool *pool) {
    if (g0->M <= 0 || g0->N <= 0) return;
    nne_qgemm_args ga = *g0;
    nne_qsrc src = *g0->b;
    nne_qreq req = *g0->req;
    const nne_qgemm_args *g = &ga;
    ga.b = &src;
    ga.req = &req;
    int64_t K4 = (g->K + 3) / 4, npan = (g->N + Q8_NR - 1) / Q8_NR;
    uint8_t flip = src.x_u8 ? 0 : 0x80;
    int32_t zb = src.xz + (src.x_u8 ? 0 : 128); /* B's zero point as uint8 */
    uint8_t *Pb = (uint8_t *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    size_t accb = q8_acc_bytes(g->M, g->N, g->K);
    int32_t *acc = accb ? (int32_t *)(void *)(Pb + q8_packed_b_bytes(g->N, g->K)) : NULL;
    int32_t *bias = (int32_t *)(void *)(Pb + q8_packed_b_bytes(g->N, g->K) + accb);
    /* the zero point of B folded into the bias: - zb * rowsum(A - za) */
    const int32_t *rs = (const int32_t *)(const void *)((const char *)g->Pa + q8_a_body(g->M, g->K));
    for (int64_t m = 0; m < g->M; m++)
        bias[m] = (int32_t)((uint32_t)(g0->req->bias ? g0->req->bias[m] : 0) - (uint32_t)zb * (uint32_t)rs[m]);
    req.bias = bias;
#ifdef Q8_HAVE_GEMV
    if (g->N == 1 && !src.p) { /* (Pb has room: Q8_NR columns of K4 quads) */
        q8_gemv(g, &req, flip, Pb);
        return;
    }
#endif
    int64_t *koff = NULL;
    if (src.p) {
        koff = (int64_t *)(void *)((char *)bias + q8_round64((size_t)g->M * sizeof(int32_t)));
        uint8_t *xp0 = (uint8_t *)koff + q8_round64((size_t)g->K * sizeof(int64_t));
        int64_t ch = g->K / (src.p->k[0] * src.p->k[1]);
        q8_pad_dims(src.p, &src.ph, &src.pw);
        uint8_t *xp = xp0 + Q8_XP_SLACK;
        memset(xp0, (uint8_t)zb, Q8_XP_SLACK);
        memset(xp + ch * src.ph * src.pw, (uint8_t)zb, Q8_XP_SLACK);
        q8_pad_input(&src, xp, src.ph, src.pw, 0, ch, (uint8_t)zb, flip);
        src.xp = xp;
        const nne_conv_desc *p = src.p;
        for (int64_t k = 0, c = 0; c < ch; c++)
            for (int64_t ky = 0; ky < p->k[0]; ky++)
                for (int64_t kx = 0; kx < p->k[1]; kx++)
                    koff[k++] = c * src.ph * src.pw + ky * p->d[0] * src.pw + kx * p->d[1];
    }
    int T = nne_threadpool_threads(pool);
    q8_job jb = {g, koff, Pb, acc, flip, 0};
    if (T <= 1) {
        q8_part(&jb, 0, 1, NULL);
        return;
    }
    int64_t mpan = (g->M + Q8_MR - 1) / Q8_MR;
    if (npan >= T || npan >= mpan) {
        nne_parallel(pool, (int)q8_min(T, npan), q8_part, &jb, NULL);
        return;
    }
    for (int64_t j = 0; j < npan; j++)
        q8_pack_b_panel(g->b, koff, flip, g->K, j * Q8_NR, q8_min(Q8_NR, g->N - j * Q8_NR), Pb + j * K4 * Q8_NR * 4);
    jb.split_m = 1;
    nne_parallel(pool, (int)q8_min(T, mpan), q8_part, &jb, NULL);
}

const nne_qgemm_ops Q8_CAT(nne_qgemm_ops, Q8_SUF) = {
    .name = "nne_q8_gemm_u8s8_" Q8_STR(Q8_MR) "x" Q8_STR(Q8_NR) "__" Q8_STR(Q8_SUF),
    .isa = Q8_ISA,
    .mr = Q8_MR,
    .nr = Q8_NR,
    .wlo = Q8_WLO,
    .whi = Q8_WHI,
    .packed_a_bytes = Q8_FN(q8_packed_a_bytes),
    .pack_a = Q8_FN(q8_pack_a),
    .scratch = Q8_FN(q8_scratch),
    .run = Q8_FN(q8_run),
    .dw_scratch = NULL,
    .dwconv = NULL,
    .wino_a_bytes = NULL,
    .wino_pack_a = NULL,
    .wino_scratch = NULL,
    .wino_run = NULL,
};
