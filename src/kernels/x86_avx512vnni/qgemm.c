/*
 * qgemm.c (AVX-512 VNNI) - the 8-bit int8 GEMM variant (kernels/qgemm.h)
 * with an 8 x 32 tile: per k quad two 64-byte loads of B (16 columns x 4
 * uint8 each), eight broadcasts of A's quads and sixteen vpdpbusd (four
 * uint8 x int8 products added into int32 without intermediate saturation:
 * exact for any int8 weight, so wlo, whi = -128, 127). Requantization as
 * in x86_avx512/qgemm.c. Compiled with the AVX-512 F/BW/DQ/VL + VNNI flags
 * only; the kernel table picks it only where cpuid reports avx512vnni.
 */
#if defined(__x86_64__)
#include "kernels/qgemm.h"

#include <immintrin.h>
#include <stdint.h>

#include "kernels/x86_avx512/qgemm_store.h"

#define Q8_SUF avx512vnni_u8
#define Q8_ISA NNE_ISA_AVX512VNNI
#define Q8_MR 8
#define Q8_NR 32
#define Q8_WLO (-128)
#define Q8_WHI 127

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
    const int32_t *a = (const int32_t *)(const void *)Pa;
    for (int64_t kq = 0; kq < K4; kq++) {
        __m512i b0 = _mm512_loadu_si512((const void *)(Pb + kq * 128));
        __m512i b1 = _mm512_loadu_si512((const void *)(Pb + kq * 128 + 64));
        const int32_t *ak = a + kq * Q8_MR;
#pragma GCC unroll 8
        for (int r = 0; r < Q8_MR; r++) {
            __m512i x = _mm512_set1_epi32(ak[r]);
            c[r][0] = _mm512_dpbusd_epi32(c[r][0], b0, x);
            c[r][1] = _mm512_dpbusd_epi32(c[r][1], b1, x);
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
typedef int nne_qgemm_avx512vnni_unused; /* ISO C: no empty translation unit */
#endif
