/*
 * conv_ref.c - the reference float convolution: for every output element,
 * the sum over input channels of its group and every kernel tap, in direct
 * loops over an N-d index (no im2col, no GEMM, no blocking). It is the oracle
 * that the im2col + GEMM convolution is tested against and what
 * NNE_FORCE_REFERENCE=1 runs. Accumulates in double.
 */
#include "kernels/ref/conv.h"

size_t nne_f32_conv_scratch__ref(const nne_conv_desc *p) {
    (void)p;
    return 0;
}

void nne_f32_conv__ref(const nne_conv_desc *p, const float *x, const float *w, const float *bias,
                       float *y, void *scratch) {
    (void)scratch;
    int nsp = p->nsp;
    int64_t Cg = p->C / p->G, Mg = p->M / p->G;
    int64_t insp = 1, outsp = 1, taps = 1;
    for (int i = 0; i < nsp; i++) {
        insp *= p->in[i];
        outsp *= p->out[i];
        taps *= p->k[i];
    }
    for (int64_t n = 0; n < p->N; n++) {
        for (int64_t m = 0; m < p->M; m++) {
            int64_t g = m / Mg;
            for (int64_t o = 0; o < outsp; o++) {
                /* output coordinates of flat index o */
                int64_t oc[NNE_CONV_MAX_SP], r = o;
                for (int i = nsp - 1; i >= 0; i--) {
                    oc[i] = r % p->out[i];
                    r /= p->out[i];
                }
                double acc = bias ? (double)bias[m] : 0.0;
                for (int64_t t = 0; t < taps; t++) {
                    /* tap coordinates of flat index t, and the input position */
                    int64_t tc, rt = t, off = 0, stride = 1, inside = 1;
                    for (int i = nsp - 1; i >= 0; i--) {
                        tc = rt % p->k[i];
                        rt /= p->k[i];
                        int64_t pos = oc[i] * p->s[i] + tc * p->d[i] - p->pb[i];
                        if (pos < 0 || pos >= p->in[i]) inside = 0;
                        off += pos * stride;
                        stride *= p->in[i];
                    }
                    if (!inside) continue;
                    for (int64_t c = 0; c < Cg; c++) {
                        double xv = x[(n * p->C + g * Cg + c) * insp + off];
                        double wv = w[(m * Cg + c) * taps + t];
                        acc += xv * wv;
                    }
                }
                y[(n * p->M + m) * outsp + o] = (float)acc;
            }
        }
    }
}
