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

static inline void qg_store_half(const nne_qreq *q, int64_t m, int64_t n0, int nr, __m512i a, __m512i b,
                                 __m512 mu) {
    if (nr <= 0) return;
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(_mm512_add_epi32(a, b)), mu);
    f = _mm512_min_ps(_mm512_max_ps(f, _mm512_set1_ps(q->lo)), _mm512_set1_ps(q->hi));
    __m512i i = _mm512_add_epi32(_mm512_cvtps_epi32(f), _mm512_set1_epi32(q->yz));
    __m128i by = _mm512_cvtepi32_epi8(i); /* in range: truncation only narrows */
    int n = nr < 16 ? nr : 16;
    if (q->csy == 1) {
        __mmask16 k = (__mmask16)(n == 16 ? 0xFFFFu : ((1u << n) - 1u));
        _mm_mask_storeu_epi8((char *)q->y + m * q->rsy + n0, k, by);
    } else {
        uint8_t tmp[16];
        _mm_storeu_si128((__m128i *)tmp, by);
        for (int c = 0; c < n; c++) ((uint8_t *)q->y)[m * q->rsy + (n0 + c) * q->csy] = tmp[c];
    }
}

static inline void qg_store_row(const nne_qreq *q, int64_t m, int64_t n0, int nr, __m512i a0, __m512i a1) {
    __m512i b = _mm512_set1_epi32(q->bias ? q->bias[m] : 0);
    if (q->y_i32) { /* int32 sums (ConvInteger) */
        int32_t t[32];
        _mm512_storeu_si512((void *)t, _mm512_add_epi32(a0, b));
        _mm512_storeu_si512((void *)(t + 16), _mm512_add_epi32(a1, b));
        for (int c = 0; c < nr; c++) ((int32_t *)q->y)[m * q->rsy + (n0 + c) * q->csy] = t[c];
        return;
    }
    __m512 mu = _mm512_set1_ps(q->mult[m]);
    qg_store_half(q, m, n0, nr, a0, b, mu);
    qg_store_half(q, m, n0 + 16, nr - 16, a1, b, mu);
}

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
#else
typedef int nne_qgemm_avx512_unused; /* ISO C: no empty translation unit */
#endif
