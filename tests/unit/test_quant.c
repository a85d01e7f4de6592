/*
 * test_quant.c - the quantizer's range choice and uint8 parameters
 * (src/quant/range.c) against hand-computed values, with the round-trip
 * error bound as a named constant: dequantize(quantize(x)) is within half a
 * step of x for every x inside the chosen range.
 */
#include "unit.h"
#include "quant/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* |dq(q(x)) - x| <= QUANT_ROUNDTRIP_STEPS * scale inside the range (round to
 * nearest: half a step, plus float rounding of the scale) */
#define QUANT_ROUNDTRIP_STEPS 0.5001

static double roundtrip(double x, float s, uint8_t zp) {
    double q = nearbyint(x / s) + zp;
    q = q < 0 ? 0 : q > 255 ? 255 : q;
    return (q - zp) * s;
}

static void test_params(void) {
    float s;
    uint8_t zp;
    nne_quant_params_u8(0, 1, &s, &zp);
    CHECK(fabsf(s - 1.0f / 255) < 1e-9f && zp == 0);
    nne_quant_params_u8(-1, 1, &s, &zp);
    CHECK(fabsf(s - 2.0f / 255) < 1e-9f && (zp == 127 || zp == 128)); /* 1 / s = 127.49999 in float */
    nne_quant_params_u8(2, 5, &s, &zp); /* widened to hold 0 */
    CHECK(fabsf(s - 5.0f / 255) < 1e-9f && zp == 0);
    nne_quant_params_u8(-6, -3, &s, &zp);
    CHECK(fabsf(s - 6.0f / 255) < 1e-9f && zp == 255);
    nne_quant_params_u8(0, 0, &s, &zp); /* a tensor that is always 0 */
    CHECK(s == 1.0f && zp == 0);
    double ranges[][2] = {{0, 1}, {-1, 1}, {-0.3, 7.9}, {-100, 0.001}, {-1e-3, 2e-3}};
    for (size_t r = 0; r < sizeof ranges / sizeof ranges[0]; r++) {
        nne_quant_params_u8(ranges[r][0], ranges[r][1], &s, &zp);
        double worst = 0;
        for (int k = 0; k <= 1000; k++) {
            double x = ranges[r][0] + (ranges[r][1] - ranges[r][0]) * k / 1000.0;
            worst = fmax(worst, fabs(roundtrip(x, s, zp) - x));
        }
        CHECK(worst <= QUANT_ROUNDTRIP_STEPS * s);
        CHECK(roundtrip(0.0, s, zp) == 0.0); /* zero is exact */
    }
}

/* 10,000 values uniform in [0, 1) and one outlier at 100 */
static void outlier_stat(nne_qstat *st) {
    memset(st, 0, sizeof *st);
    st->min = 0;
    st->max = 100;
    st->amax = 100;
    st->hist = calloc(NNE_QHIST_BINS, sizeof(double));
    double w = st->amax / NNE_QHIST_BINS;
    for (int i = 0; i < 10000; i++) st->hist[(int)((i / 10000.0) / w)] += 1;
    st->hist[NNE_QHIST_BINS - 1] += 1;
}

static void test_methods(void) {
    nne_qstat st;
    outlier_stat(&st);
    nne_quant_choose_range(&st, NNE_QUANT_MINMAX, 0);
    CHECK(st.lo == 0 && st.hi == 100);
    nne_quant_choose_range(&st, NNE_QUANT_PERCENTILE, 99.9);
    CHECK(st.lo == 0 && st.hi > 0.95 && st.hi < 1.1);
    /* mse: clipping one value of 10,001 at T = 1 costs 99.5^2 ~ 9900, while
     * the coarser grid of T = 100 costs 10^4 * (100/255)^2 / 12 ~ 128: keep it */
    nne_quant_choose_range(&st, NNE_QUANT_MSE, 0);
    CHECK(st.lo == 0 && st.hi > 90);
    nne_quant_choose_range(&st, NNE_QUANT_ENTROPY, 0);
    CHECK(st.lo == 0 && st.hi > 0.5 && st.hi < 100);
    CHECK(st.scale > 0 && st.zero_point == 0);
    /* a signed tensor keeps its sign: [-T, T] within [min, max] */
    st.min = -100;
    nne_quant_choose_range(&st, NNE_QUANT_PERCENTILE, 99.9);
    CHECK(st.lo < 0 && st.lo >= -1.1 && st.hi <= 1.1);
    free(st.hist);
    /* no histogram (minmax calibration): every method falls back to min/max */
    memset(&st, 0, sizeof st);
    st.min = -2;
    st.max = 3;
    nne_quant_choose_range(&st, NNE_QUANT_ENTROPY, 0);
    CHECK(st.lo == -2 && st.hi == 3);
    nne_quant_method m;
    CHECK(nne_quant_method_parse("mse", &m) == NNE_OK && m == NNE_QUANT_MSE);
    CHECK(nne_quant_method_parse("kl", &m) == NNE_ERR_INVALID_ARG);
    CHECK(!strcmp(nne_quant_method_name(NNE_QUANT_PERCENTILE), "percentile"));
}

void unit_quant(void) {
    test_params();
    test_methods();
}
