/*
 * test_nn_kernels.c - differential tests of the reference convolution
 * kernels (kernels/ref/conv.c) against naive loops: Conv / ConvTranspose in
 * float, double and int32 over 1-3 spatial axes with groups, depthwise,
 * pointwise, strides, dilations and pads, and the im2col / col2im adjoint
 * identity <im2col(x), c> == <x, col2im(c)>.
 */
#include "kernels/ref/conv.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t g_seed = 12345u;
static float frand(void) {
    g_seed = g_seed * 1664525u + 1013904223u;
    return (float)((g_seed >> 8) & 0xffff) / 65536.0f - 0.5f;
}

static void *alloc64(size_t bytes) { return aligned_alloc(64, (bytes + 63) / 64 * 64 + 64); }

/* Naive N-d conv (double) on the geometry of p. */
static void naive_conv(const nne_conv_desc *p, const double *x, const double *w, const double *b,
                       double *y, int transposed) {
    int n = p->nsp;
    int64_t insp = 1, outsp = 1, taps = 1;
    for (int i = 0; i < n; i++) insp *= p->in[i], outsp *= p->out[i], taps *= p->k[i];
    int64_t Cg = p->C / p->G, Mg = p->M / p->G;
    for (int64_t i = 0; i < p->N * p->M * outsp; i++) y[i] = b ? b[(i / outsp) % p->M] : 0.0;
    for (int64_t bn = 0; bn < p->N; bn++)
        for (int64_t ci = 0; ci < p->C; ci++)
            for (int64_t xi = 0; xi < insp; xi++)
                for (int64_t t = 0; t < taps; t++) {
                    /* decode coordinates of the input position and tap */
                    int64_t xc[NNE_CONV_MAX_SP], kc[NNE_CONV_MAX_SP], r = xi, rt = t;
                    for (int d = n - 1; d >= 0; d--) {
                        xc[d] = r % p->in[d], r /= p->in[d];
                        kc[d] = rt % p->k[d], rt /= p->k[d];
                    }
                    int64_t g = ci / Cg;
                    for (int64_t m = g * Mg; m < (g + 1) * Mg; m++) {
                        int64_t off = 0, ok = 1;
                        for (int d = 0; d < n; d++) {
                            int64_t o;
                            if (!transposed) {
                                /* x = o*s + k*d - pb  ->  o = (x - k*d + pb) / s */
                                int64_t num = xc[d] - kc[d] * p->d[d] + p->pb[d];
                                if (num < 0 || num % p->s[d]) ok = 0;
                                o = num / p->s[d];
                            } else {
                                o = xc[d] * p->s[d] + kc[d] * p->d[d] - p->pb[d];
                            }
                            if (o < 0 || o >= p->out[d]) ok = 0;
                            off = off * p->out[d] + o;
                        }
                        if (!ok) continue;
                        double wv = transposed ? w[(ci * Mg + (m - g * Mg)) * taps + t]
                                               : w[(m * Cg + (ci - g * Cg)) * taps + t];
                        y[(bn * p->M + m) * outsp + off] += wv * x[(bn * p->C + ci) * insp + xi];
                    }
                }
}

typedef struct conv_case {
    int nsp, N, C, M, G;
    int in[3], k[3], s[3], d[3], pb[3], pe[3];
} conv_case;

static void test_conv_cases(int transposed) {
    static const conv_case cases[] = {
        {2, 1, 3, 4, 1, {7, 6}, {3, 3}, {1, 1}, {1, 1}, {1, 1}, {1, 1}},
        {2, 2, 4, 6, 2, {5, 7}, {3, 2}, {2, 1}, {1, 2}, {0, 1}, {2, 0}},
        {2, 1, 5, 5, 5, {9, 8}, {3, 3}, {2, 2}, {1, 1}, {1, 1}, {1, 1}},     /* depthwise */
        {2, 1, 3, 6, 3, {6, 6}, {3, 3}, {1, 1}, {2, 2}, {2, 2}, {2, 2}},     /* multiplier 2 */
        {2, 1, 8, 5, 1, {4, 5}, {1, 1}, {1, 1}, {1, 1}, {0, 0}, {0, 0}},     /* pointwise */
        {1, 2, 3, 2, 1, {11}, {4}, {3}, {2}, {2}, {1}},
        {3, 1, 2, 3, 1, {4, 5, 3}, {2, 3, 2}, {1, 2, 1}, {1, 1, 2}, {1, 0, 1}, {0, 1, 1}},
        {2, 1, 2, 2, 1, {3, 3}, {5, 5}, {1, 1}, {1, 1}, {2, 2}, {2, 2}},     /* kernel > input */
    };
    int nc = (int)(sizeof cases / sizeof cases[0]);
    for (int ci = 0; ci < nc; ci++) {
        const conv_case *cc = &cases[ci];
        nne_conv_desc p;
        memset(&p, 0, sizeof p);
        p.nsp = cc->nsp;
        p.N = cc->N, p.C = cc->C, p.M = cc->M, p.G = cc->G;
        int64_t insp = 1, outsp = 1, taps = 1;
        for (int i = 0; i < cc->nsp; i++) {
            p.in[i] = cc->in[i], p.k[i] = cc->k[i], p.s[i] = cc->s[i], p.d[i] = cc->d[i];
            p.pb[i] = cc->pb[i];
            int64_t ek = (p.k[i] - 1) * p.d[i] + 1;
            p.out[i] = transposed ? p.s[i] * (p.in[i] - 1) + ek - cc->pb[i] - cc->pe[i]
                                  : (p.in[i] + cc->pb[i] + cc->pe[i] - ek) / p.s[i] + 1;
            insp *= p.in[i], outsp *= p.out[i], taps *= p.k[i];
        }
        int64_t nx = p.N * p.C * insp, ny = p.N * p.M * outsp;
        int64_t nw = transposed ? p.C * (p.M / p.G) * taps : p.M * (p.C / p.G) * taps;
        double *xd = malloc(sizeof(double) * (size_t)nx), *wd = malloc(sizeof(double) * (size_t)nw);
        double *bd = malloc(sizeof(double) * (size_t)p.M), *yr = malloc(sizeof(double) * (size_t)ny);
        float *xf = malloc(sizeof(float) * (size_t)nx), *wf = malloc(sizeof(float) * (size_t)nw);
        float *bf = malloc(sizeof(float) * (size_t)p.M), *yf = malloc(sizeof(float) * (size_t)ny);
        double *yd = malloc(sizeof(double) * (size_t)ny);
        int32_t *xi = malloc(sizeof(int32_t) * (size_t)nx), *wi = malloc(sizeof(int32_t) * (size_t)nw);
        int32_t *bi = malloc(sizeof(int32_t) * (size_t)p.M), *yi = malloc(sizeof(int32_t) * (size_t)ny);
        for (int64_t i = 0; i < nx; i++) xi[i] = (int32_t)(frand() * 20), xd[i] = xf[i] = (float)xi[i];
        for (int64_t i = 0; i < nw; i++) wi[i] = (int32_t)(frand() * 10), wd[i] = wf[i] = (float)wi[i];
        for (int64_t i = 0; i < p.M; i++) bi[i] = (int32_t)(frand() * 8), bd[i] = bf[i] = (float)bi[i];
        naive_conv(&p, xd, wd, bd, yr, transposed);
        size_t sf = transposed ? nne_convt_scratch_f32(&p) : nne_conv_scratch_f32(&p);
        size_t sd = transposed ? nne_convt_scratch_f64(&p) : nne_conv_scratch_f64(&p);
        size_t si = transposed ? 0 : nne_conv_scratch_i32(&p);
        void *scr = alloc64(sf > sd ? (sf > si ? sf : si) : (sd > si ? sd : si));
        if (transposed) {
            nne_convt_f32(&p, xf, wf, bf, yf, scr);
            nne_convt_f64(&p, xd, wd, bd, yd, scr);
        } else {
            nne_conv_f32(&p, xf, wf, bf, yf, scr);
            nne_conv_f64(&p, xd, wd, bd, yd, scr);
            nne_conv_i32(&p, xi, wi, bi, yi, scr);
        }
        int bad = 0;
        for (int64_t i = 0; i < ny; i++) {
            if (fabs(yr[i] - yf[i]) > 1e-3 * (1.0 + fabs(yr[i]))) bad++;
            if (fabs(yr[i] - yd[i]) > 1e-9 * (1.0 + fabs(yr[i]))) bad++;
            if (!transposed && (double)yi[i] != yr[i]) bad++;
        }
        if (bad) fprintf(stderr, "conv case %d (transposed=%d): %d mismatches\n", ci, transposed, bad);
        CHECK(bad == 0);
        free(xd), free(wd), free(bd), free(yr), free(xf), free(wf), free(bf), free(yf), free(yd);
        free(xi), free(wi), free(bi), free(yi), free(scr);
    }
}

static void test_col_adjoint(void) {
    nne_col_geo g;
    memset(&g, 0, sizeof g);
    g.nsp = 2;
    int64_t img[2] = {6, 7}, k[2] = {3, 2}, s[2] = {2, 1}, d[2] = {1, 2}, pb[2] = {1, 0};
    int64_t pe[2] = {2, 1};
    int64_t L = 1, taps = 1, isz = 1;
    for (int i = 0; i < 2; i++) {
        g.nimg[i] = img[i], g.k[i] = k[i], g.s[i] = s[i], g.d[i] = d[i], g.pb[i] = pb[i];
        g.ncol[i] = (img[i] + pb[i] + pe[i] - ((k[i] - 1) * d[i] + 1)) / s[i] + 1;
        L *= g.ncol[i], taps *= k[i], isz *= img[i];
    }
    int64_t C = 2;
    double *x = calloc((size_t)(C * isz), sizeof(double)), *xb = calloc((size_t)(C * isz), sizeof(double));
    double *col = malloc(sizeof(double) * (size_t)(C * taps * L)), *c2 = malloc(sizeof(double) * (size_t)(C * taps * L));
    for (int64_t i = 0; i < C * isz; i++) x[i] = frand();
    for (int64_t i = 0; i < C * taps * L; i++) c2[i] = frand();
    /* two bands exercise the row-range arguments */
    int64_t inner = g.ncol[1], r1 = g.ncol[0] / 2;
    nne_im2col_f64(&g, x, C, 0, g.ncol[0], col);
    nne_col2im_f64(&g, c2, C, 0, g.ncol[0], xb);
    double lhs = 0, rhs = 0;
    for (int64_t i = 0; i < C * taps * L; i++) lhs += col[i] * c2[i];
    for (int64_t i = 0; i < C * isz; i++) rhs += x[i] * xb[i];
    CHECK(fabs(lhs - rhs) < 1e-9 * (1.0 + fabs(lhs)));
    /* banded im2col equals the matching columns of the full one */
    double *band = malloc(sizeof(double) * (size_t)(C * taps * r1 * inner));
    nne_im2col_f64(&g, x, C, 0, r1, band);
    int bad = 0;
    for (int64_t row = 0; row < C * taps; row++)
        for (int64_t j = 0; j < r1 * inner; j++)
            if (band[row * r1 * inner + j] != col[row * L + j]) bad++;
    CHECK(bad == 0);
    free(x), free(xb), free(col), free(c2), free(band);
}

void unit_nn_kernels(void) {
    test_conv_cases(0);
    test_conv_cases(1);
    test_col_adjoint();
}
