/*
 * qgemm_store.h - the requantizing store of an AVX-512 int8 GEMM tile row
 * (32 int32 sums -> bytes), shared by x86_avx512/qgemm.c and
 * x86_avx512vnni/qgemm.c (included only by files compiled with AVX-512 flags).
 */
#ifndef NNE_KERNELS_X86_AVX512_QGEMM_STORE_H
#define NNE_KERNELS_X86_AVX512_QGEMM_STORE_H

#include "kernels/qgemm.h"

#include <immintrin.h>
#include <stdint.h>

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

#endif
