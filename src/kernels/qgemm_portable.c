/*
 * qgemm_portable.c - the int8 GEMM family (kernels/qgemm.h) in plain C: a
 * 4 x 8 int32 tile, for CPUs without a SIMD variant and as the reference
 * the SIMD tiles are compared with (tests/unit/test_qgemm.c).
 */
#include "kernels/qgemm.h"

#include <stdint.h>
#include <string.h>

#define QG_SUF portable
#define QG_ISA NNE_ISA_PORTABLE
#define QG_MR 4
#define QG_NR 8

static void qg_tile(int64_t K2, const int16_t *Pa, const int16_t *Pb, int mr, int nr, int64_t m0, int64_t n0,
                    const nne_qreq *q, int32_t *accp, int mode) {
    int32_t acc[QG_MR][QG_NR] = {{0}};
    if (mode & QG_ACC_LOAD) memcpy(acc, accp, sizeof acc);
    for (int64_t kp = 0; kp < K2; kp++) {
        const int16_t *a = Pa + kp * QG_MR * 2, *b = Pb + kp * QG_NR * 2;
        for (int r = 0; r < QG_MR; r++)
            for (int c = 0; c < QG_NR; c++)
                acc[r][c] += (int32_t)a[2 * r] * b[2 * c] + (int32_t)a[2 * r + 1] * b[2 * c + 1];
    }
    if (!(mode & QG_ACC_FINAL)) {
        memcpy(accp, acc, sizeof acc);
        return;
    }
    for (int r = 0; r < mr; r++)
        for (int c = 0; c < nr; c++) nne_qreq_store(q, m0 + r, n0 + c, acc[r][c]);
}

#include "kernels/qgemm_tmpl.h"

int nne_qwino_fits(int64_t M, int64_t C, const void *w, int w_u8, const int32_t *wz, int32_t xr) {
    if (M <= 0 || C <= 0 || xr < 0 || xr > 255) return 0;
    int64_t lim = (((int64_t)1 << 31) - 1) / (36 * (int64_t)(xr > 0 ? xr : 1));
    for (int64_t m = 0; m < M; m++) {
        int64_t s[16] = {0};
        for (int64_t c = 0; c < C; c++) {
            int32_t u[16];
            nne_qwino_u_of(w, w_u8, wz, m, C, c, u);
            for (int k = 0; k < 16; k++) s[k] += u[k] < 0 ? -(int64_t)u[k] : u[k];
        }
        for (int k = 0; k < 16; k++)
            if (s[k] > lim) return 0;
    }
    return 1;
}
