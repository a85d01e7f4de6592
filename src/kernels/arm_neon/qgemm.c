/*
 * qgemm.c (NEON) - the int8 GEMM family (kernels/qgemm.h) with a 6 x 8
 * tile: per k pair, two int16x8 loads of B (4 columns x 2 k each) and, per
 * row, the pair (a0, a1) duplicated into an int16x8; vmlal_s16 /
 * vmlal_high_s16 accumulate the products of even and odd k in separate
 * int32 lanes, summed pairwise (vpaddq) once at the end. Requantization:
 * vcvtq_f32_s32, multiply, vmaxnm/vminnm clamp (a NaN goes to lo),
 * vcvtnq (round half to even), + zero point, saturating narrow.
 * AArch64 only; tested under qemu-aarch64 by `make test-neon`.
 */
#if defined(__aarch64__)
#include "kernels/qgemm.h"

#include <arm_neon.h>
#include <stdint.h>
#include <string.h>

#define QG_SUF neon
#define QG_ISA NNE_ISA_NEON
#define QG_MR 6
#define QG_NR 8
#define QG_VF 4

static inline void qg_store_row(const nne_qreq *q, int64_t m, int64_t n0, int nr, int32x4_t a0, int32x4_t a1) {
    int32x4_t b = vdupq_n_s32(q->bias ? q->bias[m] : 0);
    if (q->y_i32) { /* int32 sums (ConvInteger) */
        int32_t t[8];
        vst1q_s32(t, vaddq_s32(a0, b));
        vst1q_s32(t + 4, vaddq_s32(a1, b));
        for (int c = 0; c < nr; c++) ((int32_t *)q->y)[m * q->rsy + (n0 + c) * q->csy] = t[c];
        return;
    }
    float32x4_t mu = vdupq_n_f32(q->mult[m]), lo = vdupq_n_f32(q->lo), hi = vdupq_n_f32(q->hi);
    float32x4_t f0 = vmulq_f32(vcvtq_f32_s32(vaddq_s32(a0, b)), mu);
    float32x4_t f1 = vmulq_f32(vcvtq_f32_s32(vaddq_s32(a1, b)), mu);
    f0 = vminnmq_f32(vmaxnmq_f32(f0, lo), hi);
    f1 = vminnmq_f32(vmaxnmq_f32(f1, lo), hi);
    int32x4_t z = vdupq_n_s32(q->yz);
    int32x4_t i0 = vaddq_s32(vcvtnq_s32_f32(f0), z), i1 = vaddq_s32(vcvtnq_s32_f32(f1), z);
    int16x8_t w = vcombine_s16(vqmovn_s32(i0), vqmovn_s32(i1));
    uint8_t tmp[8];
    if (q->y_u8) vst1_u8(tmp, vqmovun_s16(w));
    else vst1_s8((int8_t *)tmp, vqmovn_s16(w));
    if (q->csy == 1) memcpy((char *)q->y + m * q->rsy + n0, tmp, (size_t)nr);
    else
        for (int c = 0; c < nr; c++) ((uint8_t *)q->y)[m * q->rsy + (n0 + c) * q->csy] = tmp[c];
}

static void qg_tile(int64_t K2, const int16_t *Pa, const int16_t *Pb, int mr, int nr, int64_t m0, int64_t n0,
                    const nne_qreq *q, int32_t *accp, int mode) {
    int32x4_t c[QG_MR][4];
    int32x4_t zero = vdupq_n_s32(0);
    for (int r = 0; r < QG_MR; r++) {
        if (mode & QG_ACC_LOAD) {
            /* sums S of columns 0..7 back into the even/odd lane form:
             * vpaddq([S0 0 S1 0], [S2 0 S3 0]) = [S0 S1 S2 S3] */
            int32x4_t lo = vld1q_s32(accp + r * 8), hi = vld1q_s32(accp + r * 8 + 4);
            c[r][0] = vzip1q_s32(lo, zero);
            c[r][1] = vzip2q_s32(lo, zero);
            c[r][2] = vzip1q_s32(hi, zero);
            c[r][3] = vzip2q_s32(hi, zero);
        } else {
            c[r][0] = c[r][1] = c[r][2] = c[r][3] = zero;
        }
    }
    const int32_t *a = (const int32_t *)(const void *)Pa;
    for (int64_t kp = 0; kp < K2; kp++) {
        int16x8_t b0 = vld1q_s16(Pb + kp * 16), b1 = vld1q_s16(Pb + kp * 16 + 8);
        const int32_t *ak = a + kp * QG_MR;
        for (int r = 0; r < QG_MR; r++) {
            int16x8_t x = vreinterpretq_s16_s32(vdupq_n_s32(ak[r]));
            c[r][0] = vmlal_s16(c[r][0], vget_low_s16(b0), vget_low_s16(x));
            c[r][1] = vmlal_high_s16(c[r][1], b0, x);
            c[r][2] = vmlal_s16(c[r][2], vget_low_s16(b1), vget_low_s16(x));
            c[r][3] = vmlal_high_s16(c[r][3], b1, x);
        }
    }
    if (!(mode & QG_ACC_FINAL)) {
        for (int r = 0; r < QG_MR; r++) {
            vst1q_s32(accp + r * 8, vpaddq_s32(c[r][0], c[r][1]));
            vst1q_s32(accp + r * 8 + 4, vpaddq_s32(c[r][2], c[r][3]));
        }
        return;
    }
    for (int r = 0; r < mr; r++)
        qg_store_row(q, m0 + r, n0, nr, vpaddq_s32(c[r][0], c[r][1]), vpaddq_s32(c[r][2], c[r][3]));
}

#include "kernels/qgemm_tmpl.h"
#else
typedef int nne_qgemm_neon_unused; /* ISO C: no empty translation unit */
#endif
