/*
 * qgemm.c (AVX-512BW) - the int8 GEMM family (kernels/qgemm.h) with an
 * 8 x 32 tile: per k pair, two 32 x int16 loads of B (16 columns x 2 k
 * each), eight 32-bit broadcasts of A's pairs and sixteen vpmaddwd into
 * int32 (exact: no int16 saturation). Requantization as in the AVX2 file,
 * narrowed with vpmovdb (the values are in range) and stored with a byte
 * mask at the tail. Compiled with the AVX-512 F/BW/DQ/VL flags only.
 */
#if defined(__x86_64__)
#include "kernels/qgemm.h"

#include <immintrin.h>
#include <stdint.h>

#define QG_SUF avx512
#define QG_ISA NNE_ISA_AVX512
#define QG_MR 8
#define QG_NR 32
#define QG_VF 16

/* Rows of the int8 depthwise (qgemm_tmpl.h, QG_HAVE_DW_HOOKS). */
#define QG_HAVE_DW_HOOKS
static void qg_isa_tofloat(const void *src, int u8, float z, float *dst, int64_t n) {
    const uint8_t *s = src;
    __m512 vz = _mm512_set1_ps(z);
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i b = _mm_loadu_si128((const __m128i *)(s + i));
        __m512i w = u8 ? _mm512_cvtepu8_epi32(b) : _mm512_cvtepi8_epi32(b);
        _mm512_storeu_ps(dst + i, _mm512_sub_ps(_mm512_cvtepi32_ps(w), vz));
    }
    for (; i < n; i++) dst[i] = (u8 ? (float)s[i] : (float)(int8_t)s[i]) - z;
}
static void qg_isa_requant(const float *acc, int64_t n, int32_t bias, float mult, float lo, float hi, int32_t yz,
                           int y_u8, void *dst) {
    (void)y_u8; /* in range: the low byte is the uint8 or int8 value */
    __m512i vb = _mm512_set1_epi32(bias), vz = _mm512_set1_epi32(yz);
    __m512 vm = _mm512_set1_ps(mult), vlo = _mm512_set1_ps(lo), vhi = _mm512_set1_ps(hi);
    uint8_t *d = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m512i a = _mm512_add_epi32(_mm512_cvttps_epi32(_mm512_loadu_ps(acc + i)), vb);
        __m512 f = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_cvtepi32_ps(a), vm), vlo), vhi);
        _mm_storeu_si128((__m128i *)(d + i), _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(f), vz)));
    }
    for (; i < n; i++) {
        int32_t v = (int32_t)((uint32_t)(int32_t)acc[i] + (uint32_t)bias);
        float f = (float)v * mult;
        f = f > lo ? f : lo;
        f = f < hi ? f : hi;
        d[i] = (uint8_t)((int32_t)__builtin_nearbyintf(f) + yz);
    }
}

#include "kernels/x86_avx512/qgemm_store.h"

static void qg_tile(int64_t K2, const int16_t *Pa, const int16_t *Pb, int mr, int nr, int64_t m0, int64_t n0,
                    const nne_qreq *q, int32_t *accp, int mode) {
    __m512i c[QG_MR][2];
    for (int r = 0; r < QG_MR; r++) {
        if (mode & QG_ACC_LOAD) {
            c[r][0] = _mm512_loadu_si512((const void *)(accp + r * 32));
            c[r][1] = _mm512_loadu_si512((const void *)(accp + r * 32 + 16));
        } else {
            c[r][0] = c[r][1] = _mm512_setzero_si512();
        }
    }
    const int32_t *a = (const int32_t *)(const void *)Pa;
    for (int64_t kp = 0; kp < K2; kp++) {
        __m512i b0 = _mm512_loadu_si512((const void *)(Pb + kp * 64));
        __m512i b1 = _mm512_loadu_si512((const void *)(Pb + kp * 64 + 32));
        const int32_t *ak = a + kp * QG_MR;
#pragma GCC unroll 8
        for (int r = 0; r < QG_MR; r++) {
            __m512i x = _mm512_set1_epi32(ak[r]);
            c[r][0] = _mm512_add_epi32(c[r][0], _mm512_madd_epi16(x, b0));
            c[r][1] = _mm512_add_epi32(c[r][1], _mm512_madd_epi16(x, b1));
        }
    }
    if (!(mode & QG_ACC_FINAL)) {
        for (int r = 0; r < QG_MR; r++) {
            _mm512_storeu_si512((void *)(accp + r * 32), c[r][0]);
            _mm512_storeu_si512((void *)(accp + r * 32 + 16), c[r][1]);
        }
        return;
    }
    for (int r = 0; r < mr; r++) qg_store_row(q, m0 + r, n0, nr, c[r][0], c[r][1]);
}

#include "kernels/qgemm_tmpl.h"

/* The 8-bit variant (qgemm.h): 8 x 32 tile, per k quad two 64-byte loads
 * of B (16 columns x 4 uint8 each), eight broadcasts of A's quads,
 * vpmaddubsw (exact for |A - za| <= 64) then vpmaddwd by ones. */
#define Q8_SUF avx512_u8
#define Q8_ISA NNE_ISA_AVX512
#define Q8_MR 8
#define Q8_NR 32
#define Q8_WLO (-64)
#define Q8_WHI 64

typedef uint8_t q8_vb __attribute__((vector_size(32)));
#define Q8_HAVE_VB
#define Q8_HAVE_ST_QUADS
#define Q8_HAVE_EVENS
/* 4 x 32 bytes (k0..k3 of 32 columns) -> 32 quads: byte then 16-bit
 * unpacks (within 128-bit lanes), the lanes put in column order */
static inline void q8_st_quads(uint8_t *o, q8_vb v0, q8_vb v1, q8_vb v2, q8_vb v3) {
    __m256i a = (__m256i)v0, b = (__m256i)v1, c = (__m256i)v2, d = (__m256i)v3;
    __m256i ab0 = _mm256_unpacklo_epi8(a, b), ab1 = _mm256_unpackhi_epi8(a, b);
    __m256i cd0 = _mm256_unpacklo_epi8(c, d), cd1 = _mm256_unpackhi_epi8(c, d);
    __m256i q0 = _mm256_unpacklo_epi16(ab0, cd0), q1 = _mm256_unpackhi_epi16(ab0, cd0); /* 0-3|16-19, 4-7|20-23 */
    __m256i q2 = _mm256_unpacklo_epi16(ab1, cd1), q3 = _mm256_unpackhi_epi16(ab1, cd1); /* 8-11|24-27, 12-15|28-31 */
    _mm256_storeu_si256((__m256i *)o, _mm256_permute2x128_si256(q0, q1, 0x20));
    _mm256_storeu_si256((__m256i *)(o + 32), _mm256_permute2x128_si256(q2, q3, 0x20));
    _mm256_storeu_si256((__m256i *)(o + 64), _mm256_permute2x128_si256(q0, q1, 0x31));
    _mm256_storeu_si256((__m256i *)(o + 96), _mm256_permute2x128_si256(q2, q3, 0x31));
}
/* the 32 even bytes of 64: vpmovwb keeps each 16-bit lane's low byte */
static inline q8_vb q8_evens(const uint8_t *p) { return (q8_vb)_mm512_cvtepi16_epi8(_mm512_loadu_si512((const void *)p)); }

static void q8_tile(int64_t K4, const int8_t *Pa, const uint8_t *Pb, int mr, int nr, int64_t m0, int64_t n0,
                    const nne_qreq *q, int32_t *accp, int mode) {
    __m512i c[Q8_MR][2];
    for (int r = 0; r < Q8_MR; r++) {
        if (mode & QG_ACC_LOAD) {
            c[r][0] = _mm512_loadu_si512((const void *)(accp + r * 32));
            c[r][1] = _mm512_loadu_si512((const void *)(accp + r * 32 + 16));
        } else {
            c[r][0] = c[r][1] = _mm512_setzero_si512();
        }
    }
    const __m512i ones = _mm512_set1_epi16(1);
    const int32_t *a = (const int32_t *)(const void *)Pa;
    for (int64_t kq = 0; kq < K4; kq++) {
        __m512i b0 = _mm512_loadu_si512((const void *)(Pb + kq * 128));
        __m512i b1 = _mm512_loadu_si512((const void *)(Pb + kq * 128 + 64));
        const int32_t *ak = a + kq * Q8_MR;
#pragma GCC unroll 8
        for (int r = 0; r < Q8_MR; r++) {
            __m512i x = _mm512_set1_epi32(ak[r]);
            c[r][0] = _mm512_add_epi32(c[r][0], _mm512_madd_epi16(_mm512_maddubs_epi16(b0, x), ones));
            c[r][1] = _mm512_add_epi32(c[r][1], _mm512_madd_epi16(_mm512_maddubs_epi16(b1, x), ones));
        }
    }
    if (!(mode & QG_ACC_FINAL)) {
        for (int r = 0; r < Q8_MR; r++) {
            _mm512_storeu_si512((void *)(accp + r * 32), c[r][0]);
            _mm512_storeu_si512((void *)(accp + r * 32 + 16), c[r][1]);
        }
        return;
    }
    for (int r = 0; r < mr; r++) qg_store_row(q, m0 + r, n0, nr, c[r][0], c[r][1]);
}

#include "kernels/qgemm8_tmpl.h"
#else
typedef int nne_qgemm_avx512_unused; /* ISO C: no empty translation unit */
#endif
