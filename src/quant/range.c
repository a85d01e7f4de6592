/*
 * range.c - the calibration methods: which range [lo, hi] of a tensor's
 * values the uint8 grid covers. Values outside are clipped; a wider range
 * clips less but rounds coarser. From the tensor's observed min/max and its
 * histogram of |x| (NNE_QHIST_BINS bins over [0, amax]):
 *
 *   minmax      [min, max]: nothing clipped.
 *   percentile  |x| <= T holds `percentile` % of the values (linear inside a bin).
 *   entropy     T minimizing KL(P || Q), P the histogram up to T with the
 *               clipped tail added to its last bin, Q the same histogram
 *               merged into the grid's levels and spread back over the
 *               bins that were non-zero (TensorRT's int8 calibrator, as in
 *               ONNX Runtime's entropy calibrator); 256 levels for tensors
 *               that are never negative, 128 a side otherwise. Exact zeros
 *               (half of a ReLU output) are left out of P: zero is exact on
 *               the grid, and their spike in the first bin otherwise drives
 *               T down until each level is one bin wide (measured: the
 *               seed CNN lost 1 pp of top-1 that way).
 *   mse         T minimizing the expected squared error: step^2 / 12 for
 *               each value inside, (|x| - T)^2 for each value clipped.
 *
 * A tensor that is never negative gets [0, T]; others [max(min, -T),
 * min(max, T)]. The uint8 parameters then cover the range widened to hold
 * 0 exactly (zero padding and ReLU outputs stay exact):
 *   scale = (hi - lo) / 255, zero_point = round(-lo / scale).
 */
#include "quant/quant.h"

#include <math.h>

void nne_quant_params_u8(double lo, double hi, float *scale, uint8_t *zp) {
    if (lo > 0) lo = 0;
    if (hi < 0) hi = 0;
    if (!(hi - lo > 1e-30)) {
        *scale = 1.0f;
        *zp = 0;
        return;
    }
    float s = (float)((hi - lo) / 255.0);
    if (!(s > 0)) s = 1e-30f;
    double z = nearbyint(-lo / (double)s);
    *scale = s;
    *zp = (uint8_t)(z < 0 ? 0 : z > 255 ? 255 : z);
}

static double hist_total(const double *h, int n) {
    double t = 0;
    for (int i = 0; i < n; i++) t += h[i];
    return t;
}

static double pick_percentile(const double *h, double w, double pct) {
    double total = hist_total(h, NNE_QHIST_BINS), want = total * pct / 100.0, acc = 0;
    for (int i = 0; i < NNE_QHIST_BINS; i++) {
        if (acc + h[i] >= want) {
            double f = h[i] > 0 ? (want - acc) / h[i] : 1.0;
            return (i + f) * w;
        }
        acc += h[i];
    }
    return NNE_QHIST_BINS * w;
}

static double pick_entropy(const double *h, double w, int nq) {
    static const double eps = 1e-10;
    double q[NNE_QHIST_BINS], suffix[NNE_QHIST_BINS + 1];
    suffix[NNE_QHIST_BINS] = 0;
    for (int i = NNE_QHIST_BINS - 1; i >= 0; i--) suffix[i] = suffix[i + 1] + h[i];
    double psum = suffix[0], best = INFINITY;
    int best_i = NNE_QHIST_BINS;
    if (!(psum > 0)) return NNE_QHIST_BINS * w;
    for (int i = nq; i <= NNE_QHIST_BINS; i++) {
        double tail = suffix[i], qsum = 0;
        /* Q: the histogram up to i (without the tail) merged into nq
         * levels, each level's mass spread over the bins where P is
         * non-zero (P's last bin also holds the tail) */
        for (int j = 0; j < nq; j++) {
            int a = (int)((double)j * i / nq), b = j == nq - 1 ? i : (int)((double)(j + 1) * i / nq);
            double tot = 0;
            int nz = 0;
            for (int k = a; k < b; k++) {
                tot += h[k];
                nz += h[k] + (k == i - 1 ? tail : 0) != 0;
            }
            for (int k = a; k < b; k++) q[k] = h[k] + (k == i - 1 ? tail : 0) != 0 ? tot / nz : 0; /* nz > 0 here */
            qsum += tot;
        }
        double kl = 0;
        for (int k = 0; k < i; k++) {
            double p = h[k] + (k == i - 1 ? tail : 0);
            if (p <= 0) continue;
            double pn = p / psum, qn = q[k] / qsum;
            kl += pn * log(pn / (qn < eps ? eps : qn));
        }
        if (kl < best) {
            best = kl;
            best_i = i;
        }
    }
    return best_i * w;
}

static double pick_mse(const double *h, double w, double amax, int nonneg, double mn, double mx) {
    double best = INFINITY, best_t = amax;
    for (int i = 1; i <= NNE_QHIST_BINS; i++) {
        double t = i * w;
        double lo = nonneg ? 0 : fmax(mn, -t), hi = fmin(mx, t);
        if (lo > 0) lo = 0;
        if (hi < 0) hi = 0;
        double step = (hi - lo) / 255.0, err = 0;
        for (int b = 0; b < NNE_QHIST_BINS; b++) {
            if (h[b] == 0) continue;
            double c = (b + 0.5) * w;
            err += h[b] * (c > t ? (c - t) * (c - t) : step * step / 12.0);
        }
        if (err < best) {
            best = err;
            best_t = t;
        }
    }
    return best_t;
}

void nne_quant_choose_range(nne_qstat *s, nne_quant_method method, double percentile) {
    double mn = isfinite(s->min) ? s->min : 0, mx = isfinite(s->max) ? s->max : 0;
    int nonneg = mn >= 0;
    double amax = fmax(fabs(mn), fabs(mx));
    s->lo = mn;
    s->hi = mx;
    if (method != NNE_QUANT_MINMAX && s->hist && amax > 0) {
        double w = amax / NNE_QHIST_BINS, t = amax;
        /* percentile and mse count the zeros (in bin 0), entropy does not */
        s->hist[0] += s->zeros;
        if (method == NNE_QUANT_PERCENTILE) t = pick_percentile(s->hist, w, percentile > 0 ? percentile : 99.99);
        else if (method == NNE_QUANT_MSE) t = pick_mse(s->hist, w, amax, nonneg, mn, mx);
        s->hist[0] -= s->zeros;
        if (method == NNE_QUANT_ENTROPY) t = pick_entropy(s->hist, w, nonneg ? 256 : 128);
        if (t > amax) t = amax;
        s->lo = nonneg ? 0 : fmax(mn, -t);
        s->hi = fmin(mx, t);
    }
    nne_quant_params_u8(s->lo, s->hi, &s->scale, &s->zero_point);
}
