/*
 * test_qgemm.c - every int8 GEMM variant (kernels/qgemm.h) against a plain
 * int32 reference, bit for bit: GEMMs with odd M, N, K (below, at and above
 * the tiles), uint8/int8 operands and outputs, zero points per row, biases,
 * narrowed output ranges (a fused Relu/Clip), row- and column-major stores;
 * 2-d convolutions through the im2col packer (strides, pads, dilations);
 * depthwise convolutions (strides 1, 2, 3). At 1 and 3 threads. Variants
 * whose ISA the CPU lacks are reported as skipped.
 */
#include "unit.h"

#include "core/threadpool.h"
#include "kernels/dispatch.h"
#include "kernels/pool2d.h"
#include "kernels/qgemm.h"
#include "kernels/vec.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint32_t q_rng = 12345;
static uint32_t qr(void) {
    q_rng = q_rng * 1664525u + 1013904223u;
    return q_rng >> 8;
}
static int32_t qri(int32_t lo, int32_t hi) { return lo + (int32_t)(qr() % (uint32_t)(hi - lo + 1)); }

static int32_t at8(const void *p, int u8, int64_t i) {
    return u8 ? (int32_t)((const uint8_t *)p)[i] : (int32_t)((const int8_t *)p)[i];
}

static void fill8(void *p, int64_t n) {
    for (int64_t i = 0; i < n; i++) ((uint8_t *)p)[i] = (uint8_t)qr();
}

/* Output parameters: random zero point, multipliers that spread the sums
 * over the range, sometimes a narrowed range. */
static void make_req(nne_qreq *q, int64_t M, int64_t K, int y_u8, float *mult, int32_t *bias, void *y) {
    int32_t tmin = y_u8 ? 0 : -128, tmax = y_u8 ? 255 : 127;
    q->yz = qri(tmin, tmax);
    int32_t qmin = tmin, qmax = tmax;
    if (qr() % 3 == 0) qmin = q->yz; /* a fused Relu */
    if (qr() % 4 == 0) qmax = qri(qmin, tmax);
    q->lo = (float)(qmin - q->yz);
    q->hi = (float)(qmax - q->yz);
    for (int64_t m = 0; m < M; m++) {
        mult[m] = (float)(qri(1, 1000)) / (1000.0f * 40.0f * (float)(K > 0 ? K : 1)) * 8.0f;
        bias[m] = qri(-20000, 20000);
    }
    q->bias = qr() % 4 ? bias : NULL;
    q->y_i32 = 0;
    q->mult = mult;
    q->y_u8 = y_u8;
    q->y = y;
}

static int g_cases;

/* For an 8-bit variant (ops->whi < 255): weights moved inside its range
 * (A - za in [wlo, whi], kept in the dtype's range); extreme: every one at
 * an end of the range (the largest pair sums vpmaddubsw can see). */
static void fit_weights(const nne_qgemm_ops *ops, uint8_t *A, int a_u8, int64_t M, int64_t K, const int32_t *za,
                        int extreme) {
    if (ops->whi >= 255) return;
    int32_t tmin = a_u8 ? 0 : -128, tmax = a_u8 ? 255 : 127;
    for (int64_t m = 0; m < M; m++)
        for (int64_t k = 0; k < K; k++) {
            int32_t v = za[m] + (extreme ? ((qr() & 1) ? ops->wlo : ops->whi) : qri(ops->wlo, ops->whi));
            v = v < tmin ? tmin : v > tmax ? tmax : v;
            A[m * K + k] = (uint8_t)v;
        }
}

static void gemm_case(const nne_qgemm_ops *ops, nne_threadpool *pool, int64_t M, int64_t N, int64_t K, int colmajor,
                      int extreme) {
    int a_u8 = qr() & 1, b_u8 = qr() & 1, y_u8 = qr() & 1, i32 = qr() % 4 == 0;
    size_t es = i32 ? 4 : 1;
    uint8_t *A = malloc((size_t)(M * K + 1)), *B = malloc((size_t)(K * N + 1));
    uint8_t *Y = malloc((size_t)(M * N) * es + 1), *R = malloc((size_t)(M * N) * es + 1);
    int32_t *za = malloc((size_t)M * sizeof(int32_t)), *bias = malloc((size_t)M * sizeof(int32_t));
    float *mult = malloc((size_t)M * sizeof(float));
    fill8(A, M * K);
    fill8(B, K * N);
    for (int64_t m = 0; m < M; m++) za[m] = a_u8 ? qri(0, 255) : qri(-128, 127);
    int32_t zb = b_u8 ? qri(0, 255) : qri(-128, 127);
    nne_qreq q;
    make_req(&q, M, K, y_u8, mult, bias, Y);
    q.y_i32 = i32;
    q.rsy = colmajor ? 1 : N;
    q.csy = colmajor ? M : 1;
    int per_row = qr() & 1;
    if (!per_row)
        for (int64_t m = 1; m < M; m++) za[m] = za[0];
    if (extreme) {
        /* weights at the ends of the range against B's extremes */
        for (int64_t m = 0; m < M; m++) za[m] = a_u8 ? 128 : 0;
        for (int64_t i = 0; i < K * N; i++) B[i] = (qr() & 3) ? (b_u8 ? 255 : 0x80) : (b_u8 ? 0 : 0x7f);
    }
    fit_weights(ops, A, a_u8, M, K, za, extreme);
    CHECK(nne_qgemm_fits(ops, M, K, A, a_u8, K, 1, za, 1));
    void *Pa = malloc(ops->packed_a_bytes(M, K) + 64);
    ops->pack_a(M, K, A, a_u8, K, 1, za, per_row, Pa);
    void *scr = malloc(ops->scratch(M, N, K, NULL) + 64);
    nne_qsrc src = {B, b_u8, zb, N, 1, NULL, 0, NULL, 0, 0};
    nne_qgemm_args g = {M, N, K, Pa, &src, &q};
    memset(Y, 0xAB, (size_t)(M * N) * es);
    ops->run(&g, scr, pool);
    nne_qreq qr2 = q;
    qr2.y = R;
    for (int64_t m = 0; m < M; m++)
        for (int64_t n = 0; n < N; n++) {
            int32_t acc = 0;
            for (int64_t k = 0; k < K; k++) acc += (at8(A, a_u8, m * K + k) - za[m]) * (at8(B, b_u8, k * N + n) - zb);
            nne_qreq_store(&qr2, m, n, acc);
        }
    int same = !memcmp(Y, R, (size_t)(M * N) * es);
    if (!same)
        fprintf(stderr, "qgemm %s: M %lld N %lld K %lld colmajor %d int32 %d differs\n", ops->name, (long long)M,
                (long long)N, (long long)K, colmajor, i32);
    CHECK(same);
    g_cases++;
    free(A), free(B), free(Y), free(R), free(za), free(bias), free(mult), free(Pa), free(scr);
}

/* kind: 0 a convolution by the GEMM, 1 depthwise, 2 Winograd (3 x 3, stride 1) */
static void conv_case(const nne_qgemm_ops *ops, nne_threadpool *pool, int kind) {
    int dw = kind == 1, wino = kind == 2;
    nne_conv_desc p;
    memset(&p, 0, sizeof p);
    p.nsp = 2;
    p.N = 1;
    p.C = dw ? qri(1, 19) : wino ? qri(1, 40) : qri(1, 6);
    p.M = dw ? p.C : qri(1, 21);
    p.G = dw ? p.C : 1;
    for (int i = 0; i < 2; i++) {
        p.in[i] = (dw || wino) && qr() % 3 == 0 ? qri(17, 70) : qri(1, 17); /* (wider planes: the 16-output chunks) */
        p.k[i] = wino ? 3 : qri(1, 5);
        p.s[i] = wino ? 1 : qri(1, 3);
        p.d[i] = wino ? 1 : qri(1, 2);
        p.pb[i] = qri(0, 2);
        int64_t pe = qri(0, 2), span = (p.k[i] - 1) * p.d[i] + 1, tot = p.in[i] + p.pb[i] + pe;
        if (tot < span) {
            if (wino) p.in[i] = 3;
            else {
                p.k[i] = 1;
                span = 1;
            }
        }
        p.out[i] = (tot - span) / p.s[i] + 1;
    }
    if (dw && p.s[1] != p.s[0]) p.s[1] = p.s[0]; /* (any pair works; keep one stride per case) */
    for (int i = 0; i < 2; i++) {
        int64_t span = (p.k[i] - 1) * p.d[i] + 1;
        p.out[i] = (p.in[i] + p.pb[i] + 1 - span) / p.s[i] + 1; /* pe = 1 */
        if (p.out[i] < 1) p.out[i] = 1;
    }
    int64_t taps = p.k[0] * p.k[1], Cg = p.C / p.G, K = Cg * taps, outsp = p.out[0] * p.out[1];
    int64_t insp = p.in[0] * p.in[1];
    int x_u8 = qr() & 1, w_u8 = dw ? 0 : qr() & 1, y_u8 = qr() & 1, i32 = !dw && !wino && qr() % 4 == 0;
    size_t es = i32 ? 4 : 1;
    uint8_t *X = malloc((size_t)(p.C * insp)), *Wt = malloc((size_t)(p.M * K));
    uint8_t *Y = malloc((size_t)(p.M * outsp) * es), *R = malloc((size_t)(p.M * outsp) * es);
    int32_t *wz = malloc((size_t)p.M * sizeof(int32_t)), *bias = malloc((size_t)p.M * sizeof(int32_t));
    float *mult = malloc((size_t)p.M * sizeof(float)), *wf = malloc((size_t)(p.M * K) * sizeof(float));
    fill8(X, p.C * insp);
    fill8(Wt, p.M * K);
    int32_t xz = x_u8 ? qri(0, 255) : qri(-128, 127);
    for (int64_t m = 0; m < p.M; m++) wz[m] = w_u8 ? qri(0, 255) : qri(-128, 127);
    if (!dw && !wino) fit_weights(ops, Wt, w_u8, p.M, K, wz, 0);
    nne_qreq q;
    make_req(&q, p.M, K, y_u8, mult, bias, Y);
    q.y_i32 = i32;
    q.rsy = outsp;
    q.csy = 1;
    memset(Y, 0xAB, (size_t)(p.M * outsp) * es);
    void *scr = NULL;
    void *Pa = NULL;
    if (wino) {
        CHECK(nne_qwino_fits(p.M, p.C, Wt, w_u8, wz, 255));
        Pa = malloc(ops->wino_a_bytes(p.M, p.C) + 64);
        ops->wino_pack_a(p.M, p.C, Wt, w_u8, wz, Pa);
        scr = malloc(ops->wino_scratch(&p) + 64);
        ops->wino_run(&p, X, x_u8, xz, Pa, &q, scr, pool);
    } else if (dw) {
        for (int64_t i = 0; i < p.M * K; i++) wf[i] = (float)(at8(Wt, w_u8, i) - wz[i / K]);
        scr = malloc(ops->dw_scratch(&p) + 64);
        ops->dwconv(&p, X, x_u8, xz, wf, &q, scr, pool);
    } else {
        Pa = malloc(ops->packed_a_bytes(p.M, K) + 64);
        ops->pack_a(p.M, K, Wt, w_u8, K, 1, wz, 1, Pa);
        scr = malloc(ops->scratch(p.M, outsp, K, &p) + 64);
        nne_qsrc src = {X, x_u8, xz, insp, 1, &p, insp, NULL, 0, 0};
        nne_qgemm_args g = {p.M, outsp, K, Pa, &src, &q};
        ops->run(&g, scr, pool);
    }
    nne_qreq qr2 = q;
    qr2.y = R;
    for (int64_t m = 0; m < p.M; m++) {
        int64_t g = m / (p.M / p.G);
        for (int64_t oy = 0; oy < p.out[0]; oy++)
            for (int64_t ox = 0; ox < p.out[1]; ox++) {
                int32_t acc = 0;
                for (int64_t c = 0; c < Cg; c++)
                    for (int64_t ky = 0; ky < p.k[0]; ky++)
                        for (int64_t kx = 0; kx < p.k[1]; kx++) {
                            int64_t iy = oy * p.s[0] + ky * p.d[0] - p.pb[0], ix = ox * p.s[1] + kx * p.d[1] - p.pb[1];
                            if (iy < 0 || iy >= p.in[0] || ix < 0 || ix >= p.in[1]) continue;
                            int32_t xv = at8(X, x_u8, (g * Cg + c) * insp + iy * p.in[1] + ix) - xz;
                            int32_t wv = at8(Wt, w_u8, m * K + (c * p.k[0] + ky) * p.k[1] + kx) - wz[m];
                            acc += xv * wv;
                        }
                nne_qreq_store(&qr2, m, oy * p.out[1] + ox, acc);
            }
    }
    int same = !memcmp(Y, R, (size_t)(p.M * outsp) * es);
    if (!same)
        fprintf(stderr, "qgemm %s %s: C %lld M %lld in %lldx%lld k %lldx%lld s %lld,%lld d %lld,%lld p %lld,%lld differs\n",
                ops->name, dw ? "dwconv" : wino ? "winograd" : "conv", (long long)p.C, (long long)p.M, (long long)p.in[0],
                (long long)p.in[1], (long long)p.k[0], (long long)p.k[1], (long long)p.s[0], (long long)p.s[1],
                (long long)p.d[0], (long long)p.d[1], (long long)p.pb[0], (long long)p.pb[1]);
    CHECK(same);
    g_cases++;
    free(X), free(Wt), free(Y), free(R), free(wz), free(bias), free(mult), free(wf), free(scr), free(Pa);
}

/* 8-bit MaxPool (kernels/pool2d.c) against the plain clipped-window max. */
static void maxpool_q8_cases(nne_threadpool *pool) {
    int cases = 0;
    for (int i = 0; i < 80; i++) {
        nne_pool2d_desc d = {.planes = qri(1, 5), .ih = qri(1, 40), .iw = qri(1, 120), .kh = qri(1, 4), .kw = qri(1, 4),
                             .sy = qri(1, 3), .sx = qri(1, 3), .dy = qri(1, 2), .dx = i % 3 ? 1 : qri(1, 2),
                             .pt = qri(0, 1), .pl = qri(0, 1), .max = 1};
        d.pbot = d.pt;
        d.pr = d.pl;
        int64_t sh = (d.kh - 1) * d.dy + 1, sw = (d.kw - 1) * d.dx + 1;
        if (d.ih + d.pt + d.pbot < sh || d.iw + d.pl + d.pr < sw) continue;
        d.oh = (d.ih + d.pt + d.pbot - sh) / d.sy + 1;
        d.ow = (d.iw + d.pl + d.pr - sw) / d.sx + 1;
        int sgn = qr() & 1;
        int64_t nin = d.planes * d.ih * d.iw, nout = d.planes * d.oh * d.ow;
        uint8_t *x = malloc((size_t)nin), *y = malloc((size_t)nout), *r = malloc((size_t)nout);
        fill8(x, nin);
        nne_pool2d_max_q8(&d, x, y, sgn, pool);
        for (int64_t pl = 0; pl < d.planes; pl++)
            for (int64_t oy = 0; oy < d.oh; oy++)
                for (int64_t ox = 0; ox < d.ow; ox++) {
                    int best = sgn ? -128 : 0;
                    for (int64_t ky = 0; ky < d.kh; ky++)
                        for (int64_t kx = 0; kx < d.kw; kx++) {
                            int64_t iy = oy * d.sy + ky * d.dy - d.pt, ix = ox * d.sx + kx * d.dx - d.pl;
                            if (iy < 0 || iy >= d.ih || ix < 0 || ix >= d.iw) continue;
                            int v = at8(x, !sgn, (pl * d.ih + iy) * d.iw + ix);
                            best = v > best ? v : best;
                        }
                    r[(pl * d.oh + oy) * d.ow + ox] = (uint8_t)best;
                }
        CHECK(!memcmp(y, r, (size_t)nout));
        cases++;
        free(x), free(y), free(r);
    }
    printf("kernels: nne_pool2d_max_q8 tested (%d cases)\n", cases);
}

/* The 8-bit element-wise vector kernels (kernels/vec.h: q8_add,
 * q8_quantize) against their scalar formulas, on every variant the CPU
 * runs: odd lengths, both byte types, values on rounding ties, NaN/inf. */
static void vec_q8_cases(void) {
    int cpu = nne_kernels()->cpu_isa;
    for (int v = 0; nne_vec_all[v]; v++) {
        const nne_vec_ops *ops = nne_vec_all[v];
        if (!nne_isa_allows(cpu, ops->isa)) continue;
        int cases = 0;
        for (int it = 0; it < 40; it++) {
            int64_t n = qri(1, 300);
            int a_u8 = qr() & 1, b_u8 = qr() & 1, y_u8 = qr() & 1;
            uint8_t *a = malloc((size_t)n), *b = malloc((size_t)n), *y = malloc((size_t)n);
            float *x = malloc((size_t)n * sizeof(float));
            fill8(a, n);
            fill8(b, n);
            float sa = (float)qri(1, 1000) / 4096.0f, sb = (float)qri(1, 1000) / 4096.0f;
            float ys = it % 4 == 0 ? sa : (float)qri(1, 1000) / 2048.0f; /* ys = sa: ties */
            float za = (float)(a_u8 ? qri(0, 255) : qri(-128, 127)), zb = (float)(b_u8 ? qri(0, 255) : qri(-128, 127));
            int32_t yz = y_u8 ? qri(0, 255) : qri(-128, 127), qmin = y_u8 ? 0 : -128, qmax = y_u8 ? 255 : 127;
            if (it % 5 == 1) qmin = yz > qmin ? yz : qmin; /* a fused Relu */
            float lo = (float)(qmin - yz), hi = (float)(qmax - yz);
            ops->q8_add(a, a_u8, za, sa, b, b_u8, zb, sb, ys, lo, hi, yz, y, n);
            int same = 1;
            for (int64_t i = 0; i < n; i++) {
                float fa = (float)(a_u8 ? (int32_t)a[i] : (int32_t)(int8_t)a[i]) - za;
                float fb = (float)(b_u8 ? (int32_t)b[i] : (int32_t)(int8_t)b[i]) - zb;
                float r = nearbyintf((fa * sa + fb * sb) / ys);
                r = r > lo ? r : lo;
                r = r < hi ? r : hi;
                same &= y[i] == (uint8_t)((int32_t)r + yz);
            }
            CHECK(same);
            /* quantize: x on ties of the scale and around the range, a NaN and infinities */
            for (int64_t i = 0; i < n; i++) x[i] = ((float)qri(-700, 700) * 0.5f) * ys;
            if (n > 3) {
                x[1] = NAN;
                x[2] = INFINITY;
                x[3] = -INFINITY;
            }
            float z = (float)yz;
            ops->q8_quantize(x, n, ys, z, lo, hi, y);
            same = 1;
            for (int64_t i = 0; i < n; i++) {
                float r = x[i] / ys;
                int32_t q = r != r ? 0 : (int32_t)nearbyintf(r < lo ? lo : r > hi ? hi : r) + yz;
                same &= y[i] == (uint8_t)q;
            }
            CHECK(same);
            cases++;
            free(a), free(b), free(y), free(x);
        }
        printf("kernels: %s q8_add / q8_quantize tested (%d cases)\n", ops->name, cases);
    }
}

void unit_qgemm(void) {
    /* every variant built for this architecture; run those the CPU has */
    const nne_qgemm_ops *all[] = {
#if defined(__x86_64__)
        &nne_qgemm_ops__avx512vnni_u8, &nne_qgemm_ops__avx512_u8, &nne_qgemm_ops__avx2_u8,
        &nne_qgemm_ops__avx512, &nne_qgemm_ops__avx2,
#endif
#if defined(__aarch64__)
        &nne_qgemm_ops__neon,
#endif
        &nne_qgemm_ops__portable};
    int cpu = nne_kernels()->cpu_isa;
    nne_threadpool *pool3 = nne_threadpool_create(3, 0);
    static const int64_t Ms[] = {1, 4, 5, 7, 13, 33}, Ns[] = {1, 3, 16, 17, 40}, Ks[] = {1, 2, 3, 31, 64, 300, 514, 1101};
    for (size_t v = 0; v < sizeof all / sizeof all[0]; v++) {
        const nne_qgemm_ops *ops = all[v];
        if (!nne_isa_allows(cpu, ops->isa)) {
            printf("kernels: %s skipped (needs %s)\n", ops->name, nne_isa_name(ops->isa));
            continue;
        }
        g_cases = 0;
        for (int t = 0; t < 2; t++) {
            nne_threadpool *pool = t ? pool3 : NULL;
            for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
                for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
                    for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++)
                        gemm_case(ops, pool, Ms[a], Ns[b], Ks[c], (a + b + c) & 1, 0);
            for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) gemm_case(ops, pool, 13, 40, Ks[c], c & 1, 1);
            for (int i = 0; i < 60; i++) conv_case(ops, pool, 0);
            for (int i = 0; i < 120 && ops->dwconv; i++) conv_case(ops, pool, 1);
            for (int i = 0; i < 60 && ops->wino_run; i++) conv_case(ops, pool, 2);
        }
        printf("kernels: %s tested (%d cases, threads 1 and 3)\n", ops->name, g_cases);
    }
    /* the 8-bit variants refuse weights outside their range (plans then
     * keep the int16-pair variant) */
    const nne_qgemm_ops *v8[4];
    int n8 = nne_qgemm8_variants(v8, 4);
    for (int i = 0; i < n8; i++) {
        const nne_qgemm_ops *o = v8[i];
        int8_t w[4] = {0, 1, (int8_t)o->wlo, (int8_t)o->whi};
        int32_t z = 0;
        CHECK(nne_qgemm_fits(o, 1, 4, w, 0, 4, 1, &z, 0));
        /* one past the top: whi + 1 itself (7-bit ranges), or 127 - (-1) */
        w[1] = (int8_t)(o->whi < 127 ? o->whi + 1 : 127);
        z = o->whi < 127 ? 0 : -1;
        w[2] = w[3] = (int8_t)z;
        CHECK(!nne_qgemm_fits(o, 1, 4, w, 0, 4, 1, &z, 0));
        w[1] = (int8_t)(o->wlo > -128 ? o->wlo - 1 : -128); /* one past the bottom */
        z = o->wlo > -128 ? 0 : 1;
        w[2] = w[3] = (int8_t)z;
        CHECK(!nne_qgemm_fits(o, 1, 4, w, 0, 4, 1, &z, 0));
    }
    const nne_qgemm_ops *b8 = nne_qgemm8_best();
    printf("kernels: 8-bit int8 GEMM in use: %s\n", b8 ? b8->name : "none");
    vec_q8_cases();
    maxpool_q8_cases(NULL);
    maxpool_q8_cases(pool3);
    nne_threadpool_destroy(pool3);
}
