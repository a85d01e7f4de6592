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
