/*
 * test_vec.c - every nne_vec_ops variant (kernels/vec.h) the CPU may run
 * against the reference code: the depthwise convolution against the plain
 * reference conv + epilogue (kernels/ref/conv.c, kernels/epilogue.c) over
 * odd shapes (sizes 1, primes, widths around the vector length, every
 * padding / stride / dilation / depth multiplier in use, bands of rows,
 * 1 and 3 threads), the activations against nne_act_f32, the binary ops
 * (each broadcast form, tails, in place) bit for bit against plain C, and
 * the row sums. Prints which variants ran; a variant the CPU lacks is
 * reported skipped.
 */
#include "kernels/dispatch.h"
#include "kernels/vec.h"
#include "kernels/sgemm.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static uint32_t g_vseed = 777u;
static float vrand(void) {
    g_vseed = g_vseed * 1664525u + 1013904223u;
    return (float)((g_vseed >> 8) & 0xffff) / 32768.0f - 1.0f;
}

static int vec_runs(const nne_vec_ops *ops) {
    const nne_kernel_table *t = nne_kernels();
    return nne_isa_allows(t->reference ? t->cpu_isa : t->isa, ops->isa);
}

typedef struct dw_shape {
    int64_t N, C, mult, IH, IW, KH, KW, sy, sx, dy, dx, pt, pl, pbot, pr;
} dw_shape;

/* One case: kind 0 none, 1 bias + Relu, 2 residual + Clip, 3 ep bias +
 * SiLU, 4 HardSwish, 5 Sigmoid + residual + both biases. */
static int dw_case(const nne_vec_ops *ops, nne_threadpool *pool, const dw_shape *s, int kind) {
    nne_conv_desc p;
    memset(&p, 0, sizeof p);
    p.nsp = 2, p.N = s->N, p.C = s->C, p.M = s->C * s->mult, p.G = s->C;
    int64_t in[2] = {s->IH, s->IW}, k[2] = {s->KH, s->KW}, st[2] = {s->sy, s->sx}, d[2] = {s->dy, s->dx};
    int64_t pb[2] = {s->pt, s->pl}, pe[2] = {s->pbot, s->pr};
    for (int a = 0; a < 2; a++) {
        p.in[a] = in[a], p.k[a] = k[a], p.s[a] = st[a], p.d[a] = d[a], p.pb[a] = pb[a];
        p.out[a] = (in[a] + pb[a] + pe[a] - ((k[a] - 1) * d[a] + 1)) / st[a] + 1;
        if (p.out[a] < 1) return 0;
    }
    int64_t outsp = p.out[0] * p.out[1];
    size_t nx = (size_t)(p.N * p.C * in[0] * in[1]), nw = (size_t)(p.M * k[0] * k[1]);
    size_t ny = (size_t)(p.N * p.M * outsp);
    float *x = malloc(nx * sizeof *x), *w = malloc(nw * sizeof *w), *b = malloc(p.M * sizeof *b);
    float *b2 = malloc(p.M * sizeof *b2), *res = malloc(ny * sizeof *res);
    float *y = malloc(ny * sizeof *y), *r = malloc(ny * sizeof *r);
    for (size_t i = 0; i < nx; i++) x[i] = vrand();
    for (size_t i = 0; i < nw; i++) w[i] = vrand();
    for (int64_t i = 0; i < p.M; i++) b[i] = vrand(), b2[i] = vrand();
    for (size_t i = 0; i < ny; i++) res[i] = vrand(), y[i] = NAN;
    nne_epilogue e = {0};
    const float *bias = kind == 1 || kind == 5 ? b : NULL;
    if (kind == 1) e.act = NNE_ACT_RELU;
    if (kind == 2) e.residual = res, e.ld_res = outsp, e.act = NNE_ACT_CLIP, e.alpha = -0.5f, e.beta = 0.75f;
    if (kind == 3) e.bias = b2, e.act = NNE_ACT_SILU;
    if (kind == 4) e.act = NNE_ACT_HARDSWISH;
    if (kind == 5) e.bias = b2, e.residual = res, e.ld_res = outsp, e.act = NNE_ACT_SIGMOID;
    size_t sb = nne_vec_dwconv_scratch(ops, &p);
    void *scr = aligned_alloc(64, (sb + 64) / 64 * 64);
    nne_vec_dwconv_run(ops, &p, x, w, bias, kind ? &e : NULL, y, scr, pool);
    nne_f32_conv__ref(&p, x, w, bias, r, NULL);
    for (int64_t n = 0; n < p.N; n++) {
        nne_epilogue en = e;
        if (en.residual) en.residual += n * p.M * outsp;
        nne_epilogue_apply_f32(kind ? &en : NULL, r + n * p.M * outsp, outsp, 0, p.M, 0, outsp);
    }
    int bad = 0;
    float tol = 2e-6f * (float)(k[0] * k[1] + 2);
    for (size_t i = 0; i < ny; i++)
        if (!(fabsf(y[i] - r[i]) <= tol + 1e-5f * fabsf(r[i]))) {
            if (bad++ < 3)
                fprintf(stderr, "%s dwconv kind %d: y[%zu] = %g, reference %g\n", ops->name, kind, i, y[i], r[i]);
        }
    free(x), free(w), free(b), free(b2), free(res), free(y), free(r), free(scr);
    return bad;
}

static void test_vec_dwconv(void) {
    static const dw_shape cs[] = {
        /* N  C  mult IH   IW  KH KW sy sx dy dx pt pl pb pr */
        {1, 3, 1, 1, 1, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},      {1, 5, 1, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
        {2, 4, 1, 13, 17, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},    {1, 6, 1, 14, 14, 5, 5, 1, 1, 1, 1, 2, 2, 2, 2},
        {1, 7, 1, 15, 29, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2},    {1, 3, 1, 28, 28, 5, 5, 2, 2, 1, 1, 1, 1, 2, 2},
        {1, 9, 1, 112, 112, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 4, 1, 112, 112, 3, 3, 2, 2, 1, 1, 0, 0, 1, 1},
        {1, 2, 1, 101, 333, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1}, {1, 2, 1, 97, 301, 5, 5, 2, 2, 1, 1, 2, 2, 2, 2},
        {1, 3, 2, 11, 9, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},     {1, 5, 3, 10, 12, 3, 3, 2, 2, 1, 1, 1, 1, 1, 1},
        {1, 4, 1, 12, 12, 3, 3, 1, 1, 2, 2, 2, 2, 2, 2},    {1, 3, 1, 9, 23, 1, 7, 1, 1, 1, 1, 0, 3, 0, 3},
        {1, 3, 1, 23, 9, 7, 1, 1, 1, 1, 1, 3, 0, 3, 0},     {1, 2, 1, 19, 31, 3, 5, 1, 2, 1, 1, 1, 2, 1, 2},
        {1, 2, 1, 16, 20, 3, 3, 3, 3, 1, 1, 1, 1, 1, 1},    {1, 3, 1, 8, 9, 2, 2, 1, 1, 1, 1, 0, 0, 1, 1},
        {1, 2, 1, 6, 5, 3, 3, 1, 1, 1, 1, 0, 0, 0, 0},      {1, 1, 1, 40, 8, 9, 9, 1, 1, 1, 1, 4, 4, 4, 4},
        {1, 2, 1, 33, 47, 16, 16, 2, 2, 1, 1, 7, 7, 8, 8},  {1, 3, 1, 4, 70, 3, 3, 1, 2, 1, 3, 1, 3, 1, 3},
        {1, 2, 1, 5, 6, 3, 3, 1, 1, 1, 1, 4, 5, 4, 5},      {3, 2, 1, 17, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1},
    };
    nne_threadpool *pool = nne_threadpool_create(3, nne_sgemm_worker_scratch());
    for (int v = 0; nne_vec_all[v]; v++) {
        const nne_vec_ops *ops = nne_vec_all[v];
        if (!vec_runs(ops)) {
            printf("kernels: %s skipped (needs %s)\n", ops->name, nne_isa_name(ops->isa));
            continue;
        }
        int bad = 0, cases = 0;
        for (size_t i = 0; i < sizeof cs / sizeof *cs; i++)
            for (int kind = 0; kind < 6; kind++, cases++) {
                int b = dw_case(ops, kind & 1 ? pool : NULL, &cs[i], kind);
                if (b) fprintf(stderr, "%s: dwconv shape %zu kind %d: %d outputs differ\n", ops->name, i, kind, b);
                bad += b != 0;
            }
        CHECK(bad == 0);
        /* a kernel wider than 16 is refused (callers use another kernel) */
        nne_conv_desc wide = {.nsp = 2, .N = 1, .C = 1, .M = 1, .G = 1, .in = {3, 40}, .out = {1, 4},
                              .k = {3, 17}, .s = {1, 1}, .d = {1, 1}};
        CHECK(!nne_vec_dwconv_supported(ops, &wide));
        printf("kernels: %s dwconv tested (%d cases, threads 1 and 3)\n", ops->name, cases);
    }
    nne_threadpool_destroy(pool);
}

/* Activations on -100 .. 100, infinities, NaN, signed zeros: relative
 * error 1e-5 (the vector exp) against nne_act_f32; NaN where it gives NaN. */
static void test_vec_act(void) {
    enum { N = 1031 };
    static float X[N], Y[N];
    for (int j = 0; j < N; j++) X[j] = -100.0f + 200.0f * (float)j / (N - 1);
    X[5] = INFINITY, X[6] = -INFINITY, X[7] = NAN, X[8] = 0.0f, X[9] = -0.0f, X[10] = 1e-30f, X[11] = -90.0f;
    X[12] = 88.5f, X[13] = -87.5f, X[14] = 89.0f;
    for (int v = 0; nne_vec_all[v]; v++) {
        const nne_vec_ops *ops = nne_vec_all[v];
        if (!vec_runs(ops)) continue;
        int bad = 0;
        for (int act = 0; act < NNE_ACT_COUNT; act++) {
            float al = act == NNE_ACT_CLIP ? -1.0f : 0.2f, be = act == NNE_ACT_CLIP ? 2.0f : 0.5f;
            for (int n = 0; n <= 19; n += n < 3 ? 1 : 8) {
                ops->act(act, al, be, X, Y, n == 19 ? N : n);
                for (int j = 0; j < (n == 19 ? N : n); j++) {
                    float a = Y[j], b = nne_act_f32(act, al, be, X[j]);
                    int ok = (isnan(a) && isnan(b)) || a == b || fabsf(a - b) <= 1e-5f * fabsf(b) + 1e-30f;
                    if (!ok && bad++ < 3)
                        fprintf(stderr, "%s act %s: x %g: %g, reference %g\n", ops->name, nne_act_name(act), X[j], a, b);
                }
            }
            /* in place, odd length: the same values */
            memcpy(Y, X, sizeof Y);
            ops->act(act, al, be, Y, Y, N - 3);
            for (int j = 0; j < N - 3; j++) {
                float b = nne_act_f32(act, al, be, X[j]);
                bad += !((isnan(Y[j]) && isnan(b)) || Y[j] == b || fabsf(Y[j] - b) <= 1e-5f * fabsf(b) + 1e-30f);
            }
            for (int j = N - 3; j < N; j++) bad += !(Y[j] == X[j] || (isnan(Y[j]) && isnan(X[j])));
        }
        CHECK(bad == 0);
    }
}

static float bin_ref(int op, float a, float b) {
    switch (op) {
    case NNE_VBIN_ADD: return a + b;
    case NNE_VBIN_SUB: return a - b;
    case NNE_VBIN_MUL: return a * b;
    case NNE_VBIN_DIV: return a / b;
    case NNE_VBIN_MAX: return isnan(a) || isnan(b) ? NAN : a > b ? a : b;
    default: return isnan(a) || isnan(b) ? NAN : a < b ? a : b;
    }
}

static void test_vec_binary(void) {
    enum { N = 203 };
    static float A[N], B[N], Y[N];
    for (int i = 0; i < N; i++) A[i] = vrand() * 4.0f, B[i] = vrand() * 4.0f;
    A[3] = NAN, B[7] = NAN, B[11] = 0.0f, A[12] = -0.0f, B[12] = 0.0f;
    for (int v = 0; nne_vec_all[v]; v++) {
        const nne_vec_ops *ops = nne_vec_all[v];
        if (!vec_runs(ops)) continue;
        int bad = 0;
        static const int ns[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 33, 64, N};
        for (int op = 0; op < NNE_VBIN_COUNT; op++)
            for (int m = 0; m < 4; m++)
                for (size_t t = 0; t < sizeof ns / sizeof *ns; t++) {
                    int n = ns[t], as = m & 1 ? 0 : 1, bs = m & 2 ? 0 : 1;
                    ops->binary(op, A, as, B, bs, Y, n);
                    for (int i = 0; i < n; i++) {
                        float r = bin_ref(op, A[as ? i : 0], B[bs ? i : 0]);
                        if (!(Y[i] == r || (isnan(Y[i]) && isnan(r))) && bad++ < 3)
                            fprintf(stderr, "%s binary %d mode %d n %d: y[%d] %g, expected %g\n", ops->name, op, m, n,
                                    i, Y[i], r);
                    }
                }
        /* in place: y == a */
        memcpy(Y, A, sizeof Y);
        ops->binary(NNE_VBIN_MUL, Y, 1, B, 0, Y, N);
        for (int i = 0; i < N; i++) bad += !(Y[i] == A[i] * B[0] || (isnan(Y[i]) && isnan(A[i] * B[0])));
        CHECK(bad == 0);
        /* row sums */
        static float S[7];
        float X[7 * 29];
        for (int i = 0; i < 7 * 29; i++) X[i] = vrand();
        int rs_bad = 0;
        static const int rn[] = {0, 1, 7, 8, 9, 17, 29};
        for (size_t t = 0; t < sizeof rn / sizeof *rn; t++) {
            int n = rn[t];
            ops->row_sum(X, 7, n, S);
            for (int r = 0; r < 7; r++) {
                double s = 0;
                for (int i = 0; i < n; i++) s += X[r * n + i];
                rs_bad += fabs(S[r] - s) > 1e-5 * (n + 1);
            }
        }
        CHECK(rs_bad == 0);
        printf("kernels: %s act, binary, row_sum tested\n", ops->name);
    }
}

/* Softmax rows against a double-precision reference: 1e-6 + 1e-5 relative;
 * -inf entries give 0, a row of -inf NaN (as the reference kernel). */
static void test_vec_softmax(void) {
    static const int ns[] = {1, 3, 8, 9, 17, 100, 6625};
    static float X[6625], Y[6625];
    for (int v = 0; nne_vec_all[v]; v++) {
        const nne_vec_ops *ops = nne_vec_all[v];
        if (!vec_runs(ops)) continue;
        int bad = 0;
        for (size_t t = 0; t < sizeof ns / sizeof *ns; t++)
            for (int mode = 0; mode < 3; mode++) {
                int n = ns[t];
                for (int i = 0; i < n; i++) X[i] = vrand() * 30.0f;
                if (mode == 1) X[n / 2] = -INFINITY, X[0] = -INFINITY;
                if (mode == 2)
                    for (int i = 0; i < n; i++) X[i] = -INFINITY;
                ops->softmax_row(X, Y, n);
                double mx = -INFINITY, sum = 0.0;
                for (int i = 0; i < n; i++) mx = X[i] > mx ? X[i] : mx;
                if (isinf(mx)) mx = mx > 0 ? mx : 0.0;
                for (int i = 0; i < n; i++) sum += exp((double)X[i] - mx);
                for (int i = 0; i < n; i++) {
                    double r = exp((double)X[i] - mx) / sum;
                    int ok = mode == 2 || isnan(r) ? isnan(Y[i]) && isnan(r) : fabs(Y[i] - r) <= 1e-6 + 1e-5 * r;
                    if (!ok && bad++ < 3)
                        fprintf(stderr, "%s softmax n %d mode %d: y[%d] %g, expected %g\n", ops->name, n, mode, i,
                                Y[i], r);
                }
            }
        /* in place */
        for (int i = 0; i < 29; i++) X[i] = Y[i] = vrand();
        ops->softmax_row(Y, Y, 29);
        ops->softmax_row(X, X + 100, 29);
        for (int i = 0; i < 29; i++) bad += Y[i] != X[100 + i];
        CHECK(bad == 0);
        printf("kernels: %s softmax tested\n", ops->name);
    }
}

/* LayerNorm rows against a double-precision reference (1e-5 + 1e-4 relative:
 * float sums), with and without beta, in place. */
static void test_vec_layernorm(void) {
    static const int ns[] = {1, 5, 8, 13, 120, 384, 1001};
    static float X[1001], Y[1001], G[1001], B[1001];
    for (int v = 0; nne_vec_all[v]; v++) {
        const nne_vec_ops *ops = nne_vec_all[v];
        if (!vec_runs(ops)) continue;
        int bad = 0;
        for (size_t t = 0; t < sizeof ns / sizeof *ns; t++)
            for (int mode = 0; mode < 3; mode++) {
                int n = ns[t];
                for (int i = 0; i < n; i++) X[i] = vrand() * 3.0f + 2.0f, G[i] = vrand(), B[i] = vrand();
                float *out = mode == 2 ? X : Y;
                float x0[1001];
                memcpy(x0, X, sizeof(float) * (size_t)n);
                ops->layernorm_row(X, out, n, G, mode ? B : NULL, 1e-5f);
                double mean = 0, var = 0;
                for (int i = 0; i < n; i++) mean += x0[i];
                mean /= n;
                for (int i = 0; i < n; i++) var += (x0[i] - mean) * (x0[i] - mean);
                var /= n;
                for (int i = 0; i < n; i++) {
                    double r = (x0[i] - mean) / sqrt(var + 1e-5) * G[i] + (mode ? B[i] : 0.0);
                    if (!(fabs(out[i] - r) <= 1e-5 + 1e-4 * fabs(r)) && bad++ < 3)
                        fprintf(stderr, "%s layernorm n %d mode %d: y[%d] %g, expected %g\n", ops->name, n, mode, i,
                                out[i], r);
                }
            }
        CHECK(bad == 0);
        printf("kernels: %s layernorm tested\n", ops->name);
    }
}

/* 1x1 convs of 1x1 images (the matrix-vector path) against the reference
 * conv + epilogue, 1 and 3 threads. */
static void test_vec_conv1x1(void) {
    static const int64_t shapes[][4] = {/* N, C, M, nsp */
                                        {1, 1, 1, 2},    {1, 7, 5, 2},     {2, 48, 97, 2}, {1, 1152, 48, 2},
                                        {1, 48, 1152, 2}, {3, 33, 17, 1},  {1, 9, 4, 3},   {2, 300, 301, 2}};
    nne_threadpool *pool = nne_threadpool_create(3, nne_sgemm_worker_scratch());
    for (int v = 0; nne_vec_all[v]; v++) {
        const nne_vec_ops *ops = nne_vec_all[v];
        if (!vec_runs(ops)) continue;
        int bad = 0;
        for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
            for (int kind = 0; kind < 4; kind++) {
                nne_conv_desc p;
                memset(&p, 0, sizeof p);
                p.nsp = (int)shapes[i][3], p.N = shapes[i][0], p.C = shapes[i][1], p.M = shapes[i][2], p.G = 1;
                for (int a = 0; a < p.nsp; a++) p.in[a] = p.out[a] = p.k[a] = p.s[a] = p.d[a] = 1;
                CHECK(nne_vec_conv1x1_supported(ops, &p));
                size_t nx = (size_t)(p.N * p.C), nw = (size_t)(p.M * p.C), ny = (size_t)(p.N * p.M);
                float *x = malloc(nx * 4), *w = malloc(nw * 4), *b = malloc(p.M * 4), *b2 = malloc(p.M * 4);
                float *res = malloc(ny * 4), *y = malloc(ny * 4), *r = malloc(ny * 4);
                for (size_t k = 0; k < nx; k++) x[k] = vrand();
                for (size_t k = 0; k < nw; k++) w[k] = vrand();
                for (int64_t k = 0; k < p.M; k++) b[k] = vrand(), b2[k] = vrand();
                for (size_t k = 0; k < ny; k++) res[k] = vrand(), y[k] = NAN;
                nne_epilogue e = {0};
                if (kind == 1) e.act = NNE_ACT_SILU;
                if (kind == 2) e.bias = b2, e.residual = res, e.ld_res = 1, e.act = NNE_ACT_HARDSIGMOID, e.alpha = 0.2f,
                    e.beta = 0.5f;
                if (kind == 3) e.act = NNE_ACT_SIGMOID;
                const float *bias = kind == 1 || kind == 2 ? b : NULL;
                nne_vec_conv1x1_run(ops, &p, x, w, bias, kind ? &e : NULL, y, kind & 1 ? pool : NULL);
                nne_f32_conv__ref(&p, x, w, bias, r, NULL);
                for (int64_t n = 0; n < p.N; n++) {
                    nne_epilogue en = e;
                    if (en.residual) en.residual += n * p.M;
                    nne_epilogue_apply_f32(kind ? &en : NULL, r + n * p.M, 1, 0, p.M, 0, 1);
                }
                for (size_t k = 0; k < ny; k++)
                    if (!(fabsf(y[k] - r[k]) <= 1e-5f * (float)(p.C + 1) + 1e-5f * fabsf(r[k])) && bad++ < 3)
                        fprintf(stderr, "%s conv1x1 shape %zu kind %d: y[%zu] %g, reference %g\n", ops->name, i, kind,
                                k, y[k], r[k]);
                free(x), free(w), free(b), free(b2), free(res), free(y), free(r);
            }
        CHECK(bad == 0);
        nne_conv_desc sp = {.nsp = 2, .N = 1, .C = 2, .M = 2, .G = 1, .in = {2, 1}, .out = {2, 1}, .k = {1, 1},
                            .s = {1, 1}, .d = {1, 1}};
        CHECK(!nne_vec_conv1x1_supported(ops, &sp)); /* images of more than one pixel: the GEMM path */
        printf("kernels: %s conv1x1 (matrix-vector) tested\n", ops->name);
    }
    nne_threadpool_destroy(pool);
}

void unit_vec(void) {
    test_vec_conv1x1();
    test_vec_layernorm();
    test_vec_softmax();
    test_vec_dwconv();
    test_vec_act();
    test_vec_binary();
}
