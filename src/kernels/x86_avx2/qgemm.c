/*
 * qgemm.c (AVX2) - the int8 GEMM family (kernels/qgemm.h) with a 5 x 16
 * tile: per k pair, two 16 x int16 loads of B (8 columns x 2 k each), five
 * 32-bit broadcasts of A's pairs and ten vpmaddwd into int32 (no
 * intermediate saturation, unlike vpmaddubsw). The requantization runs on
 * the accumulators: cvtdq2ps, multiply, clamp, cvtps2dq (round half to
 * even), + zero point, packed to bytes. Compiled with -mavx2 -mfma only.
 */
#if defined(__x86_64__)
#include "kernels/qgemm.h"

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define QG_SUF avx2
#define QG_ISA NNE_ISA_AVX2
#define QG_MR 5
#define QG_NR 16
#define QG_VF 8

/* Rows of the int8 depthwise (qgemm_tmpl.h, QG_HAVE_DW_HOOKS). */
#define QG_HAVE_DW_HOOKS
static void qg_isa_tofloat(const void *src, int u8, float z, float *dst, int64_t n) {
    const uint8_t *s = src;
    __m256 vz = _mm256_set1_ps(z);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i b = _mm_loadl_epi64((const __m128i *)(s + i));
        __m256i w = u8 ? _mm256_cvtepu8_epi32(b) : _mm256_cvtepi8_epi32(b);
        _mm256_storeu_ps(dst + i, _mm256_sub_ps(_mm256_cvtepi32_ps(w), vz));
    }
    for (; i < n; i++) dst[i] = (u8 ? (float)s[i] : (float)(int8_t)s[i]) - z;
}
static void qg_isa_requant(const float *acc, int64_t n, int32_t bias, float mult, float lo, float hi, int32_t yz,
                           int y_u8, void *dst) {
    __m256i vb = _mm256_set1_epi32(bias), vz = _mm256_set1_epi32(yz);
    __m256 vm = _mm256_set1_ps(mult), vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    uint8_t *d = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a0 = _mm256_add_epi32(_mm256_cvttps_epi32(_mm256_loadu_ps(acc + i)), vb);
        __m256i a1 = _mm256_add_epi32(_mm256_cvttps_epi32(_mm256_loadu_ps(acc + i + 8)), vb);
        __m256 f0 = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a0), vm), vlo), vhi);
        __m256 f1 = _mm256_min_ps(_mm256_max_ps(_mm256_mul_ps(_mm256_cvtepi32_ps(a1), vm), vlo), vhi);
        __m256i i0 = _mm256_add_epi32(_mm256_cvtps_epi32(f0), vz), i1 = _mm256_add_epi32(_mm256_cvtps_epi32(f1), vz);
        __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(i0, i1), 0xD8);
        __m128i wl = _mm256_castsi256_si128(w), wh = _mm256_extracti128_si256(w, 1);
        _mm_storeu_si128((__m128i *)(d + i), y_u8 ? _mm_packus_epi16(wl, wh) : _mm_packs_epi16(wl, wh));
    }
    for (; i < n; i++) {
        int32_t v = (int32_t)((uint32_t)(int32_t)acc[i] + (uint32_t)bias);
        float f = (float)v * mult;
        f = f > lo ? f : lo;
        f = f < hi ? f : hi;
        d[i] = (uint8_t)((int32_t)__builtin_nearbyintf(f) + yz);
    }
}

/* The native int8 depthwise (qgemm_tmpl.h, QG_HAVE_DW_NATIVE): stride 1
 * or 2, no dilation, kernels up to 7 x 8. Per channel the plane minus its
 * zero point is widened once into an int16 buffer whose border stays 0
 * (the padding). Taps are paired along a row (w[2j], w[2j+1]; the last one
 * with 0), so one vpmaddwd multiplies two taps of 8 outputs, each a plain
 * 32-byte load: at stride 2 the 16 values at 2 ox + 2j are the 8 pairs
 * (x[2 o + 2j], x[2 o + 2j + 1]) of outputs o = ox..ox+7; at stride 1 the
 * values at ox + 2j pair up for the even outputs and those at ox + 2j + 1
 * for the odd ones (interleaved again before the store). Each product of
 * a pair is at most 2 * 255 * 255 in magnitude and the int32 sums wrap like
 * the reference's, so the result is exact for any weights. */
#define QG_HAVE_DW_NATIVE
#define QG_DWN_KH 7
#define QG_DWN_KP 4 /* tap pairs per row: kw <= 8 */

static int qg_isa_dw_ok(const nne_conv_desc *p) {
    return p->nsp == 2 && p->d[0] == 1 && p->d[1] == 1 && (p->s[1] == 1 || p->s[1] == 2) && p->s[0] >= 1 &&
           p->s[0] <= 2 && p->k[0] >= 1 && p->k[0] <= QG_DWN_KH && p->k[1] >= 1 && p->k[1] <= 2 * QG_DWN_KP;
}
/* the padded plane: ph rows of rs int16 (room for the 16-output chunks
 * past the last output and the 16-value loads of their taps, and for the
 * 16-value stores of the copy past a row's end) */
static void qg_isa_dw_geom(const nne_conv_desc *p, int64_t *ph, int64_t *rs) {
    int64_t h = p->out[0] * p->s[0] + p->k[0], w = p->pb[1] + p->in[1] + 16; /* (a row past the last: qg_dwn_rows2) */
    int64_t need = ((p->out[1] + 15) / 16 * 16) * p->s[1] + 2 * QG_DWN_KP + 32;
    *ph = h > p->pb[0] + p->in[0] ? h : p->pb[0] + p->in[0];
    *rs = ((need > w ? need : w) + 15) & ~(int64_t)15;
}
static size_t qg_isa_dw_bytes(const nne_conv_desc *p) {
    int64_t ph, rs;
    qg_isa_dw_geom(p, &ph, &rs);
    return ((size_t)(ph * rs) * sizeof(int16_t) + 64 + 63) & ~(size_t)63;
}
/* Zero the buffer of one part (the border of every channel). */
static void qg_isa_dw_prep(const nne_conv_desc *p, void *buf) {
    int64_t ph, rs;
    qg_isa_dw_geom(p, &ph, &rs);
    memset(buf, 0, (size_t)(ph * rs) * sizeof(int16_t));
}

/* Requantize 8 sums (+ bias, * mult, clamp, round half to even, + zero point). */
static inline __m256i qg_dwn_req(__m256i acc, __m256i b, __m256 mu, __m256 lo, __m256 hi, __m256i z) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(acc, b)), mu);
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi); /* max_ps(NaN, lo) = lo */
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), z);
}
static inline __m256i qg_dwn_ld(const int16_t *r) { return _mm256_loadu_si256((const __m256i *)r); }
/* The first n < 16 bytes of v to d (without a call to memcpy). */
static inline void qg_dwn_store_part(uint8_t *d, __m128i v, int64_t n) {
    if (n & 8) {
        _mm_storel_epi64((__m128i *)d, v);
        v = _mm_srli_si128(v, 8);
        d += 8;
    }
    if (n & 4) {
        uint32_t t = (uint32_t)_mm_cvtsi128_si32(v);
        memcpy(d, &t, 4);
        v = _mm_srli_si128(v, 4);
        d += 4;
    }
    uint32_t t = (uint32_t)_mm_cvtsi128_si32(v);
    if (n & 2) {
        uint16_t h = (uint16_t)t;
        memcpy(d, &h, 2);
        t >>= 16;
        d += 2;
    }
    if (n & 1) *d = (uint8_t)t;
}
static inline void qg_dwn_store(uint8_t *yr, int64_t ox, int64_t OW, __m128i by) {
    if (ox + 16 <= OW) _mm_storeu_si128((__m128i *)(yr + ox), by);
    else qg_dwn_store_part(yr + ox, by, OW - ox);
}

/* One output row of one channel: kh rows of taps from r (row stride rs),
 * np tap pairs per row, stride sx; 16 outputs at a time (the last chunk
 * computed whole, its first OW - ox bytes stored). Inlined with constant
 * kh, np, sx for the common 3 x 3 shapes. */
static inline __attribute__((always_inline)) void qg_dwn_row(const int16_t *r, int64_t rs, int kh, int np, int sx,
                                                             const __m256i *W, int64_t OW, uint8_t *yr, __m256i b,
                                                             __m256 mu, __m256 lo, __m256 hi, __m256i z, int y_u8) {
    for (int64_t ox = 0; ox < OW; ox += 16) {
        __m256i e = _mm256_setzero_si256(), d = e;
        const int16_t *q = r + ox * sx;
        for (int ky = 0; ky < kh; ky++, q += rs)
            for (int j = 0; j < np; j++) {
                /* stride 1: e outputs ox, ox + 2, ..., ox + 14, d ox + 1, ..., ox + 15;
                 * stride 2: e ox..ox+7, d ox+8..ox+15 */
                __m256i wv = W[ky * QG_DWN_KP + j];
                e = _mm256_add_epi32(e, _mm256_madd_epi16(qg_dwn_ld(q + 2 * j), wv));
                d = _mm256_add_epi32(d, _mm256_madd_epi16(qg_dwn_ld(q + 2 * j + (sx == 1 ? 1 : 16)), wv));
            }
        e = qg_dwn_req(e, b, mu, lo, hi, z);
        d = qg_dwn_req(d, b, mu, lo, hi, z);
        __m256i w;
        if (sx == 1) {
            __m256i l = _mm256_unpacklo_epi32(e, d), h = _mm256_unpackhi_epi32(e, d); /* 0-3 8-11 | 4-7 12-15 */
            w = _mm256_packs_epi32(l, h);                                              /* 0-7 | 8-15 */
        } else {
            w = _mm256_permute4x64_epi64(_mm256_packs_epi32(e, d), 0xD8);
        }
        __m128i wl = _mm256_castsi256_si128(w), wh = _mm256_extracti128_si256(w, 1);
        qg_dwn_store(yr, ox, OW, y_u8 ? _mm_packus_epi16(wl, wh) : _mm_packs_epi16(wl, wh));
    }
}

/* Two output rows of at most 8 outputs (rows A at r and B at r + sy * rs;
 * ya, yb their outputs, yb NULL: A alone) in one chunk: at stride 1 the
 * low 128-bit half of each load serves A and the high half B, at stride 2
 * e serves A and d B. */
static inline __attribute__((always_inline)) void qg_dwn_rows2(const int16_t *r, int64_t rs, int64_t brow, int kh,
                                                               int np, int sx, const __m256i *W, int64_t OW,
                                                               uint8_t *ya, uint8_t *yb, __m256i b, __m256 mu,
                                                               __m256 lo, __m256 hi, __m256i z, int y_u8) {
    __m256i e = _mm256_setzero_si256(), d = e;
    const int16_t *q = r;
    for (int ky = 0; ky < kh; ky++, q += rs)
        for (int j = 0; j < np; j++) {
            __m256i wv = W[ky * QG_DWN_KP + j];
            if (sx == 1) {
                e = _mm256_add_epi32(e, _mm256_madd_epi16(_mm256_loadu2_m128i((const __m128i *)(q + brow + 2 * j),
                                                                              (const __m128i *)(q + 2 * j)), wv));
                d = _mm256_add_epi32(d, _mm256_madd_epi16(_mm256_loadu2_m128i((const __m128i *)(q + brow + 2 * j + 1),
                                                                              (const __m128i *)(q + 2 * j + 1)), wv));
            } else {
                e = _mm256_add_epi32(e, _mm256_madd_epi16(qg_dwn_ld(q + 2 * j), wv));
                d = _mm256_add_epi32(d, _mm256_madd_epi16(qg_dwn_ld(q + brow + 2 * j), wv));
            }
        }
    e = qg_dwn_req(e, b, mu, lo, hi, z);
    d = qg_dwn_req(d, b, mu, lo, hi, z);
    __m256i w;
    if (sx == 1) /* lanes: A 0-3 | B 0-3 and A 4-7 | B 4-7 */
        w = _mm256_packs_epi32(_mm256_unpacklo_epi32(e, d), _mm256_unpackhi_epi32(e, d)); /* A 0-7 | B 0-7 */
    else
        w = _mm256_permute4x64_epi64(_mm256_packs_epi32(e, d), 0xD8);
    __m128i wl = _mm256_castsi256_si128(w), wh = _mm256_extracti128_si256(w, 1);
    __m128i by = y_u8 ? _mm_packus_epi16(wl, wh) : _mm_packs_epi16(wl, wh); /* A 0-7, B 0-7 */
    qg_dwn_store_part(ya, by, OW);
    if (yb) qg_dwn_store_part(yb, _mm_srli_si128(by, 8), OW);
}

/* Channel c: x its plane (uint8/int8), wc its taps (float, minus the
 * weight zero point: exact integers), buf the part's buffer (zeroed by
 * qg_isa_dw_prep; only the interior is written here). */
static void qg_isa_dw_channel(const nne_conv_desc *p, const void *x, int x_u8, int32_t xz, const float *wc,
                              const nne_qreq *q, int64_t c, void *buf) {
    int64_t ph, rs;
    qg_isa_dw_geom(p, &ph, &rs);
    int64_t H = p->in[0], Wd = p->in[1], OH = p->out[0], OW = p->out[1];
    int kh = (int)p->k[0], kw = (int)p->k[1], np = (kw + 1) / 2, sy = (int)p->s[0], sx = (int)p->s[1];
    int16_t *pl = buf;
    __m256i vz = _mm256_set1_epi16((int16_t)xz), zero = _mm256_setzero_si256();
    /* the interior rows, 16 values at a time (the last store of a row runs
     * into its right border, zeroed again after) */
    for (int64_t y = 0; y < H; y++) {
        const uint8_t *s = (const uint8_t *)x + y * Wd;
        int16_t *dst = pl + (y + p->pb[0]) * rs + p->pb[1];
        for (int64_t i = 0; i < Wd; i += 16) {
            __m128i v;
            /* past the row's end: the next rows' bytes (the store runs
             * into the border, zeroed below) while the image has 16 */
            if (i + 16 <= Wd || (H - y) * Wd - i + (p->C - 1 - c) * H * Wd >= 16)
                v = _mm_loadu_si128((const __m128i *)(s + i));
            else {
                uint8_t t[16] = {0};
                memcpy(t, s + i, (size_t)(Wd - i));
                v = _mm_loadu_si128((const __m128i *)t);
            }
            __m256i w = x_u8 ? _mm256_cvtepu8_epi16(v) : _mm256_cvtepi8_epi16(v);
            _mm256_storeu_si256((__m256i *)(dst + i), _mm256_sub_epi16(w, vz));
        }
        _mm256_storeu_si256((__m256i *)(dst + Wd), zero);
    }
    __m256i Wv[QG_DWN_KH * QG_DWN_KP];
    for (int ky = 0; ky < kh; ky++)
        for (int j = 0; j < np; j++) {
            int32_t a = (int32_t)wc[ky * kw + 2 * j], bb = 2 * j + 1 < kw ? (int32_t)wc[ky * kw + 2 * j + 1] : 0;
            Wv[ky * QG_DWN_KP + j] = _mm256_set1_epi32((int32_t)(((uint32_t)(uint16_t)bb << 16) | (uint16_t)a));
        }
    __m256i b = _mm256_set1_epi32(q->bias ? q->bias[c] : 0), z = _mm256_set1_epi32(q->yz);
    __m256 mu = _mm256_set1_ps(q->mult[c]), lo = _mm256_set1_ps(q->lo), hi = _mm256_set1_ps(q->hi);
    uint8_t *yc = (uint8_t *)q->y + c * q->rsy;
    if (OW <= 8) { /* two rows a chunk */
        int64_t brow = sy * rs;
        for (int64_t oy = 0; oy < OH; oy += 2) {
            const int16_t *r = pl + oy * sy * rs;
            uint8_t *ya = yc + oy * OW, *yb = oy + 1 < OH ? ya + OW : NULL;
            if (kh == 3 && np == 2 && sx == 1)
                qg_dwn_rows2(r, rs, brow, 3, 2, 1, Wv, OW, ya, yb, b, mu, lo, hi, z, q->y_u8);
            else if (kh == 3 && np == 2)
                qg_dwn_rows2(r, rs, brow, 3, 2, 2, Wv, OW, ya, yb, b, mu, lo, hi, z, q->y_u8);
            else if (sx == 1)
                qg_dwn_rows2(r, rs, brow, kh, np, 1, Wv, OW, ya, yb, b, mu, lo, hi, z, q->y_u8);
            else
                qg_dwn_rows2(r, rs, brow, kh, np, 2, Wv, OW, ya, yb, b, mu, lo, hi, z, q->y_u8);
        }
        return;
    }
    for (int64_t oy = 0; oy < OH; oy++) {
        const int16_t *r = pl + oy * sy * rs;
        uint8_t *yr = yc + oy * OW;
        if (kh == 3 && np == 2 && sx == 1) qg_dwn_row(r, rs, 3, 2, 1, Wv, OW, yr, b, mu, lo, hi, z, q->y_u8);
        else if (kh == 3 && np == 2) qg_dwn_row(r, rs, 3, 2, 2, Wv, OW, yr, b, mu, lo, hi, z, q->y_u8);
        else if (sx == 1) qg_dwn_row(r, rs, kh, np, 1, Wv, OW, yr, b, mu, lo, hi, z, q->y_u8);
        else qg_dwn_row(r, rs, kh, np, 2, Wv, OW, yr, b, mu, lo, hi, z, q->y_u8);
    }
}

/* Requantize one row's 16 accumulators and store the first nr bytes. */
static inline void qg_store_row(const nne_qreq *q, int64_t m, int64_t n0, int nr, __m256i a0, __m256i a1) {
    __m256i b = _mm256_set1_epi32(q->bias ? q->bias[m] : 0);
    if (q->y_i32) { /* int32 sums (ConvInteger) */
        int32_t t[16];
        _mm256_storeu_si256((__m256i *)t, _mm256_add_epi32(a0, b));
        _mm256_storeu_si256((__m256i *)(t + 8), _mm256_add_epi32(a1, b));
        for (int c = 0; c < nr; c++) ((int32_t *)q->y)[m * q->rsy + (n0 + c) * q->csy] = t[c];
        return;
    }
    __m256 mu = _mm256_set1_ps(q->mult[m]), lo = _mm256_set1_ps(q->lo), hi = _mm256_set1_ps(q->hi);
    __m256i z = _mm256_set1_epi32(q->yz);
    __m256 f0 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(a0, b)), mu);
    __m256 f1 = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(a1, b)), mu);
    f0 = _mm256_min_ps(_mm256_max_ps(f0, lo), hi); /* max_ps(NaN, lo) = lo */
    f1 = _mm256_min_ps(_mm256_max_ps(f1, lo), hi);
    __m256i i0 = _mm256_add_epi32(_mm256_cvtps_epi32(f0), z), i1 = _mm256_add_epi32(_mm256_cvtps_epi32(f1), z);
    /* in range already: the packs only narrow */
    __m256i w = _mm256_permute4x64_epi64(_mm256_packs_epi32(i0, i1), 0xD8); /* 16 x int16 in order */
    __m128i wl = _mm256_castsi256_si128(w), wh = _mm256_extracti128_si256(w, 1);
    __m128i by = q->y_u8 ? _mm_packus_epi16(wl, wh) : _mm_packs_epi16(wl, wh);
    if (q->csy == 1) {
        char *dst = (char *)q->y + m * q->rsy + n0;
        if (nr == QG_NR) _mm_storeu_si128((__m128i *)dst, by);
        else {
            uint8_t tmp[16];
            _mm_storeu_si128((__m128i *)tmp, by);
            memcpy(dst, tmp, (size_t)nr);
        }
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, by);
        for (int c = 0; c < nr; c++) ((uint8_t *)q->y)[m * q->rsy + (n0 + c) * q->csy] = tmp[c];
    }
}

/* The tile of a last panel of at most 8 columns: the first B vector only
 * (half the work; the sums of columns 8-15 saved as zeros). */
static void qg_tile_half(int64_t K2, const int16_t *Pa, const int16_t *Pb, int mr, int nr, int64_t m0, int64_t n0,
                         const nne_qreq *q, int32_t *accp, int mode) {
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0;
    if (mode & QG_ACC_LOAD) {
#define QG_LD(r) _mm256_loadu_si256((const __m256i *)(accp + (r) * 16))
        c0 = QG_LD(0), c1 = QG_LD(1), c2 = QG_LD(2), c3 = QG_LD(3), c4 = QG_LD(4);
#undef QG_LD
    }
    const int32_t *a = (const int32_t *)(const void *)Pa;
    for (int64_t kp = 0; kp < K2; kp++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(Pb + kp * 32));
        const int32_t *ak = a + kp * QG_MR;
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_set1_epi32(ak[0]), b0));
        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_set1_epi32(ak[1]), b0));
        c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(_mm256_set1_epi32(ak[2]), b0));
        c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(_mm256_set1_epi32(ak[3]), b0));
        c4 = _mm256_add_epi32(c4, _mm256_madd_epi16(_mm256_set1_epi32(ak[4]), b0));
    }
    __m256i z = _mm256_setzero_si256();
    if (!(mode & QG_ACC_FINAL)) {
#define QG_ST(r, v) _mm256_storeu_si256((__m256i *)(accp + (r) * 16), v), \
                    _mm256_storeu_si256((__m256i *)(accp + (r) * 16 + 8), z)
        QG_ST(0, c0), QG_ST(1, c1), QG_ST(2, c2), QG_ST(3, c3), QG_ST(4, c4);
#undef QG_ST
        return;
    }
    qg_store_row(q, m0, n0, nr, c0, z);
    if (mr > 1) qg_store_row(q, m0 + 1, n0, nr, c1, z);
    if (mr > 2) qg_store_row(q, m0 + 2, n0, nr, c2, z);
    if (mr > 3) qg_store_row(q, m0 + 3, n0, nr, c3, z);
    if (mr > 4) qg_store_row(q, m0 + 4, n0, nr, c4, z);
}

static void qg_tile(int64_t K2, const int16_t *Pa, const int16_t *Pb, int mr, int nr, int64_t m0, int64_t n0,
                    const nne_qreq *q, int32_t *accp, int mode) {
    if (nr <= 8) {
        qg_tile_half(K2, Pa, Pb, mr, nr, m0, n0, q, accp, mode);
        return;
    }
    /* 10 accumulators + 2 B + broadcast + product: 14 of the 16 ymm, so
     * nothing spills (6 rows need 16 and GCC spills two) */
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00;
    if (mode & QG_ACC_LOAD) {
#define QG_LD(r, h) _mm256_loadu_si256((const __m256i *)(accp + (r) * 16 + (h) * 8))
        c00 = QG_LD(0, 0), c01 = QG_LD(0, 1), c10 = QG_LD(1, 0), c11 = QG_LD(1, 1), c20 = QG_LD(2, 0);
        c21 = QG_LD(2, 1), c30 = QG_LD(3, 0), c31 = QG_LD(3, 1), c40 = QG_LD(4, 0), c41 = QG_LD(4, 1);
#undef QG_LD
    }
    const int32_t *a = (const int32_t *)(const void *)Pa;
    for (int64_t kp = 0; kp < K2; kp++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(Pb + kp * 32));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(Pb + kp * 32 + 16));
        const int32_t *ak = a + kp * QG_MR;
        __m256i x;
        x = _mm256_set1_epi32(ak[0]);
        c00 = _mm256_add_epi32(c00, _mm256_madd_epi16(x, b0));
        c01 = _mm256_add_epi32(c01, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32(ak[1]);
        c10 = _mm256_add_epi32(c10, _mm256_madd_epi16(x, b0));
        c11 = _mm256_add_epi32(c11, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32(ak[2]);
        c20 = _mm256_add_epi32(c20, _mm256_madd_epi16(x, b0));
        c21 = _mm256_add_epi32(c21, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32(ak[3]);
        c30 = _mm256_add_epi32(c30, _mm256_madd_epi16(x, b0));
        c31 = _mm256_add_epi32(c31, _mm256_madd_epi16(x, b1));
        x = _mm256_set1_epi32(ak[4]);
        c40 = _mm256_add_epi32(c40, _mm256_madd_epi16(x, b0));
        c41 = _mm256_add_epi32(c41, _mm256_madd_epi16(x, b1));
    }
    if (!(mode & QG_ACC_FINAL)) {
#define QG_ST(r, h, v) _mm256_storeu_si256((__m256i *)(accp + (r) * 16 + (h) * 8), v)
        QG_ST(0, 0, c00), QG_ST(0, 1, c01), QG_ST(1, 0, c10), QG_ST(1, 1, c11), QG_ST(2, 0, c20);
        QG_ST(2, 1, c21), QG_ST(3, 0, c30), QG_ST(3, 1, c31), QG_ST(4, 0, c40), QG_ST(4, 1, c41);
#undef QG_ST
        return;
    }
    qg_store_row(q, m0, n0, nr, c00, c01);
    if (mr > 1) qg_store_row(q, m0 + 1, n0, nr, c10, c11);
    if (mr > 2) qg_store_row(q, m0 + 2, n0, nr, c20, c21);
    if (mr > 3) qg_store_row(q, m0 + 3, n0, nr, c30, c31);
    if (mr > 4) qg_store_row(q, m0 + 4, n0, nr, c40, c41);
}

/* The Winograd output stage (qgemm_tmpl.h, QW_HAVE_OUT_HOOK): 16 tiles in
 * two vectors of 8 per value. */
#define QW_HAVE_OUT_HOOK
static inline __m256i qw_req8(__m256i y, __m256i b, __m256 mu, __m256 lo, __m256 hi, __m256i z) {
    __m256 f = _mm256_mul_ps(_mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_srai_epi32(y, 2), b)), mu);
    f = _mm256_min_ps(_mm256_max_ps(f, lo), hi); /* max_ps(NaN, lo) = lo */
    return _mm256_add_epi32(_mm256_cvtps_epi32(f), z);
}
/* the pairs (a[l], b[l]) of 8 + 8 tiles as 32 bytes */
static inline void qw_zip8(uint8_t *o, __m256i a0, __m256i b0, __m256i a1, __m256i b1, int y_u8) {
    __m256i w0 = _mm256_packs_epi32(_mm256_unpacklo_epi32(a0, b0), _mm256_unpackhi_epi32(a0, b0)); /* tiles 0-3 | 4-7 */
    __m256i w1 = _mm256_packs_epi32(_mm256_unpacklo_epi32(a1, b1), _mm256_unpackhi_epi32(a1, b1));
    __m256i by = y_u8 ? _mm256_packus_epi16(w0, w1) : _mm256_packs_epi16(w0, w1);
    _mm256_storeu_si256((__m256i *)o, _mm256_permute4x64_epi64(by, 0xD8));
}
static inline void qw_out(const int32_t *Mp, size_t ld, int32_t bias, float mult, const nne_qreq *q, uint8_t *r0,
                          uint8_t *r1) {
    __m256i b = _mm256_set1_epi32(bias), z = _mm256_set1_epi32(q->yz);
    __m256 mu = _mm256_set1_ps(mult), lo = _mm256_set1_ps(q->lo), hi = _mm256_set1_ps(q->hi);
    __m256i y[2][4];
    for (int h = 0; h < 2; h++) {
#define QW_M(ij) _mm256_loadu_si256((const __m256i *)(Mp + (ij) * ld + 8 * h))
        __m256i a0[4], a1[4];
        for (int j = 0; j < 4; j++) {
            __m256i m1 = QW_M(4 + j), m2 = QW_M(8 + j);
            a0[j] = _mm256_add_epi32(_mm256_add_epi32(QW_M(j), m1), m2);
            a1[j] = _mm256_sub_epi32(_mm256_sub_epi32(m1, m2), QW_M(12 + j));
        }
#undef QW_M
        y[h][0] = qw_req8(_mm256_add_epi32(_mm256_add_epi32(a0[0], a0[1]), a0[2]), b, mu, lo, hi, z);
        y[h][1] = qw_req8(_mm256_sub_epi32(_mm256_sub_epi32(a0[1], a0[2]), a0[3]), b, mu, lo, hi, z);
        y[h][2] = qw_req8(_mm256_add_epi32(_mm256_add_epi32(a1[0], a1[1]), a1[2]), b, mu, lo, hi, z);
        y[h][3] = qw_req8(_mm256_sub_epi32(_mm256_sub_epi32(a1[1], a1[2]), a1[3]), b, mu, lo, hi, z);
    }
    qw_zip8(r0, y[0][0], y[0][1], y[1][0], y[1][1], q->y_u8);
    qw_zip8(r1, y[0][2], y[0][3], y[1][2], y[1][3], q->y_u8);
}

#include "kernels/qgemm_tmpl.h"

/* The 8-bit variant (qgemm.h): 5 x 16 tile, per k quad two 32-byte loads
 * of B (8 columns x 4 uint8 each), five broadcasts of A's quads, and per
 * product vpmaddubsw (uint8 x int8 -> pair sums in int16, exact for
 * |A - za| <= 64) then vpmaddwd by ones (-> int32 sums of four k). */
#define Q8_SUF avx2_u8
#define Q8_ISA NNE_ISA_AVX2
#define Q8_MR 5
#define Q8_NR 16
#define Q8_WLO (-64)
#define Q8_WHI 64

typedef uint8_t q8_vb __attribute__((vector_size(16)));
#define Q8_HAVE_VB
#define Q8_HAVE_ST_QUADS
#define Q8_HAVE_EVENS
/* 4 x 16 bytes (k0..k3 of 16 columns) -> 16 quads: two byte unpacks, then
 * 16-bit unpacks */
static inline void q8_st_quads(uint8_t *o, q8_vb v0, q8_vb v1, q8_vb v2, q8_vb v3) {
    __m128i a = (__m128i)v0, b = (__m128i)v1, c = (__m128i)v2, d = (__m128i)v3;
    __m128i ab0 = _mm_unpacklo_epi8(a, b), ab1 = _mm_unpackhi_epi8(a, b);
    __m128i cd0 = _mm_unpacklo_epi8(c, d), cd1 = _mm_unpackhi_epi8(c, d);
    _mm_storeu_si128((__m128i *)o, _mm_unpacklo_epi16(ab0, cd0));
    _mm_storeu_si128((__m128i *)(o + 16), _mm_unpackhi_epi16(ab0, cd0));
    _mm_storeu_si128((__m128i *)(o + 32), _mm_unpacklo_epi16(ab1, cd1));
    _mm_storeu_si128((__m128i *)(o + 48), _mm_unpackhi_epi16(ab1, cd1));
}
/* the 16 even bytes of 32 */
static inline q8_vb q8_evens(const uint8_t *p) {
    __m128i m = _mm_set1_epi16(0xFF);
    __m128i lo = _mm_and_si128(_mm_loadu_si128((const __m128i *)p), m);
    __m128i hi = _mm_and_si128(_mm_loadu_si128((const __m128i *)(p + 16)), m);
    return (q8_vb)_mm_packus_epi16(lo, hi);
}

/* The tile of a last panel of at most 8 columns: the first B vector only
 * (half the work; the sums of columns 8-15 saved as zeros). */
static void q8_tile_half(int64_t K4, const int8_t *Pa, const uint8_t *Pb, int mr, int nr, int64_t m0, int64_t n0,
                         const nne_qreq *q, int32_t *accp, int mode) {
    __m256i c0 = _mm256_setzero_si256(), c1 = c0, c2 = c0, c3 = c0, c4 = c0;
    if (mode & QG_ACC_LOAD) {
#define QG_LD(r) _mm256_loadu_si256((const __m256i *)(accp + (r) * 16))
        c0 = QG_LD(0), c1 = QG_LD(1), c2 = QG_LD(2), c3 = QG_LD(3), c4 = QG_LD(4);
#undef QG_LD
    }
    const __m256i ones = _mm256_set1_epi16(1);
    const int32_t *a = (const int32_t *)(const void *)Pa;
    for (int64_t kq = 0; kq < K4; kq++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(Pb + kq * 64));
        const int32_t *ak = a + kq * Q8_MR;
        c0 = _mm256_add_epi32(c0, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, _mm256_set1_epi32(ak[0])), ones));
        c1 = _mm256_add_epi32(c1, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, _mm256_set1_epi32(ak[1])), ones));
        c2 = _mm256_add_epi32(c2, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, _mm256_set1_epi32(ak[2])), ones));
        c3 = _mm256_add_epi32(c3, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, _mm256_set1_epi32(ak[3])), ones));
        c4 = _mm256_add_epi32(c4, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, _mm256_set1_epi32(ak[4])), ones));
    }
    __m256i z = _mm256_setzero_si256();
    if (!(mode & QG_ACC_FINAL)) {
#define QG_ST(r, v) _mm256_storeu_si256((__m256i *)(accp + (r) * 16), v), \
                    _mm256_storeu_si256((__m256i *)(accp + (r) * 16 + 8), z)
        QG_ST(0, c0), QG_ST(1, c1), QG_ST(2, c2), QG_ST(3, c3), QG_ST(4, c4);
#undef QG_ST
        return;
    }
    qg_store_row(q, m0, n0, nr, c0, z);
    if (mr > 1) qg_store_row(q, m0 + 1, n0, nr, c1, z);
    if (mr > 2) qg_store_row(q, m0 + 2, n0, nr, c2, z);
    if (mr > 3) qg_store_row(q, m0 + 3, n0, nr, c3, z);
    if (mr > 4) qg_store_row(q, m0 + 4, n0, nr, c4, z);
}

static void q8_tile(int64_t K4, const int8_t *Pa, const uint8_t *Pb, int mr, int nr, int64_t m0, int64_t n0,
                    const nne_qreq *q, int32_t *accp, int mode) {
    if (nr <= 8) {
        q8_tile_half(K4, Pa, Pb, mr, nr, m0, n0, q, accp, mode);
        return;
    }
    __m256i c00 = _mm256_setzero_si256(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
    __m256i c30 = c00, c31 = c00, c40 = c00, c41 = c00;
    if (mode & QG_ACC_LOAD) {
#define QG_LD(r, h) _mm256_loadu_si256((const __m256i *)(accp + (r) * 16 + (h) * 8))
        c00 = QG_LD(0, 0), c01 = QG_LD(0, 1), c10 = QG_LD(1, 0), c11 = QG_LD(1, 1), c20 = QG_LD(2, 0);
        c21 = QG_LD(2, 1), c30 = QG_LD(3, 0), c31 = QG_LD(3, 1), c40 = QG_LD(4, 0), c41 = QG_LD(4, 1);
#undef QG_LD
    }
    const __m256i ones = _mm256_set1_epi16(1);
    const int32_t *a = (const int32_t *)(const void *)Pa;
    for (int64_t kq = 0; kq < K4; kq++) {
        __m256i b0 = _mm256_loadu_si256((const __m256i *)(Pb + kq * 64));
        __m256i b1 = _mm256_loadu_si256((const __m256i *)(Pb + kq * 64 + 32));
        const int32_t *ak = a + kq * Q8_MR;
        __m256i x;
#define Q8_ROW(r, lo, hi)                                                                   \
    x = _mm256_set1_epi32(ak[r]);                                                         \
    lo = _mm256_add_epi32(lo, _mm256_madd_epi16(_mm256_maddubs_epi16(b0, x), ones));      \
    hi = _mm256_add_epi32(hi, _mm256_madd_epi16(_mm256_maddubs_epi16(b1, x), ones));
        Q8_ROW(0, c00, c01)
        Q8_ROW(1, c10, c11)
        Q8_ROW(2, c20, c21)
        Q8_ROW(3, c30, c31)
        Q8_ROW(4, c40, c41)
#undef Q8_ROW
    }
    if (!(mode & QG_ACC_FINAL)) {
#define QG_ST(r, h, v) _mm256_storeu_si256((__m256i *)(accp + (r) * 16 + (h) * 8), v)
        QG_ST(0, 0, c00), QG_ST(0, 1, c01), QG_ST(1, 0, c10), QG_ST(1, 1, c11), QG_ST(2, 0, c20);
        QG_ST(2, 1, c21), QG_ST(3, 0, c30), QG_ST(3, 1, c31), QG_ST(4, 0, c40), QG_ST(4, 1, c41);
#undef QG_ST
        return;
    }
    qg_store_row(q, m0, n0, nr, c00, c01);
    if (mr > 1) qg_store_row(q, m0 + 1, n0, nr, c10, c11);
    if (mr > 2) qg_store_row(q, m0 + 2, n0, nr, c20, c21);
    if (mr > 3) qg_store_row(q, m0 + 3, n0, nr, c30, c31);
    if (mr > 4) qg_store_row(q, m0 + 4, n0, nr, c40, c41);
}

/* The matrix-vector product (qgemm8_tmpl.h, Q8_HAVE_GEMV): 8 k quads of
 * the 5 rows (160 bytes: dword d is row d % 5 of quad d / 5) in five
 * vectors; the vector's 8 quads go under them by a dword permutation
 * (quad (8 j + l) / 5 to lane l of vector j); vpmaddubsw, vpmaddwd by ones,
 * and each lane's sum belongs to row (8 j + l) % 5. */
#define Q8_HAVE_GEMV
static void q8_isa_gemv(int64_t K4, const int8_t *Pa, const uint8_t *xq, int32_t out[5]) {
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i p0 = _mm256_setr_epi32(0, 0, 0, 0, 0, 1, 1, 1), p1 = _mm256_setr_epi32(1, 1, 2, 2, 2, 2, 2, 3);
    const __m256i p2 = _mm256_setr_epi32(3, 3, 3, 3, 4, 4, 4, 4), p3 = _mm256_setr_epi32(4, 5, 5, 5, 5, 5, 6, 6);
    const __m256i p4 = _mm256_setr_epi32(6, 6, 6, 7, 7, 7, 7, 7);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0;
    int64_t kq = 0;
    for (; kq + 8 <= K4; kq += 8) {
        const __m256i *w = (const __m256i *)(Pa + kq * 20);
        __m256i x = _mm256_loadu_si256((const __m256i *)(xq + kq * 4));
#define Q8_GV(acc, j, pj) \
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_permutevar8x32_epi32(x, pj), \
                                                                       _mm256_loadu_si256(w + j)), ones))
        Q8_GV(a0, 0, p0);
        Q8_GV(a1, 1, p1);
        Q8_GV(a2, 2, p2);
        Q8_GV(a3, 3, p3);
        Q8_GV(a4, 4, p4);
#undef Q8_GV
    }
    int32_t t[40];
    _mm256_storeu_si256((__m256i *)t, a0);
    _mm256_storeu_si256((__m256i *)(t + 8), a1);
    _mm256_storeu_si256((__m256i *)(t + 16), a2);
    _mm256_storeu_si256((__m256i *)(t + 24), a3);
    _mm256_storeu_si256((__m256i *)(t + 32), a4);
    for (int r = 0; r < 5; r++) out[r] = 0;
    for (int d = 0; d < 40; d++) out[d % 5] = (int32_t)((uint32_t)out[d % 5] + (uint32_t)t[d]);
    for (; kq < K4; kq++) /* the last quads */
        for (int r = 0; r < 5; r++)
            for (int h = 0; h < 4; h++)
                out[r] = (int32_t)((uint32_t)out[r] + (uint32_t)((int32_t)Pa[(kq * 5 + r) * 4 + h] * xq[kq * 4 + h]));
}

#include "kernels/qgemm8_tmpl.h"
#else
typedef int nne_qgemm_avx2_unused; /* ISO C: no empty translation unit */
#endif
