/*
 * conv_fast.c - float convolution on the packed SGEMM family (sgemm.h),
 * the algorithm chosen once per layer shape (nne_conv_fast_plan):
 *   - depthwise 2-d (one input channel per group): the ISA's direct
 *     depthwise kernel, channels split over the threads;
 *   - 1x1, stride 1, no padding: Y_g = W_g * X_g, X read as the GEMM's B
 *     (no im2col);
 *   - any other 2-d conv: implicit GEMM, where the B panels are packed
 *     straight from the image (im2col of just the panel being multiplied,
 *     no column matrix) with runs of contiguous pixels copied at once;
 *   - 1-d / 3-d+ convs: the portable im2col conv (kernels/ref/conv.c), then
 *     the epilogue on its output.
 * W is packed once per plan as the GEMM's A (per group). Bias and the
 * fused epilogue (kernels/epilogue.h; rows = the N*M channel planes of Y)
 * are applied to each output tile as it is written.
 */
#include "kernels/conv_fast.h"
#include "kernels/dispatch.h"

#include <stdint.h>
#include <string.h>

static int64_t prod(const int64_t *v, int n) {
    int64_t r = 1;
    for (int i = 0; i < n; i++) r *= v[i];
    return r;
}

/* Winograd F(4x4, 3x3) applies: 2-d, 3x3, stride 1, no dilation, one group. */
static int wino_legal(const nne_conv_desc *p) {
    return p->nsp == 2 && p->G == 1 && p->k[0] == 3 && p->k[1] == 3 && p->s[0] == 1 && p->s[1] == 1 &&
           p->d[0] == 1 && p->d[1] == 1 && p->out[0] > 0 && p->out[1] > 0 && p->C > 0;
}

/* Blocking of a Winograd conv (see nne_sgemm_ops.wino_in): a block of nb
 * tiles keeps V (36 x C x nb) and one chunk of Y (36 x mch x nb) near
 * 1 MiB, nb a multiple of the GEMM's NR (its panels) unless the image has
 * fewer tiles. 0 when even the smallest block would not fit the most
 * scratch a pool worker has. */
static int wino_setup(const nne_sgemm_ops *ops, const nne_conv_desc *p, nne_conv_fast *cf) {
    int64_t nr = ops->nr, mr = ops->mr;
    cf->th = (p->out[0] + 3) / 4;
    cf->tw = (p->out[1] + 3) / 4;
    cf->tiles = cf->th * cf->tw;
    int64_t mp = (p->M + mr - 1) / mr * mr;
    cf->mch = mp < 16 * mr ? mp : 16 * mr; /* 96 rows of AVX2's 6 x 16 tile */
    int64_t per_tile = 36 * (p->C + cf->mch) * (int64_t)sizeof(float);
    int64_t nb = ((int64_t)1 << 19) / per_tile / nr * nr;
    if (nb < nr) nb = nr;
    if (nb >= cf->tiles) nb = cf->tiles;
    cf->nb = nb;
    cf->ldv = (nb + 16 + 15) / 16 * 16; /* slack for the vector tail, rows 64-byte aligned */
    size_t v = (size_t)36 * ((size_t)(p->C + cf->mch) * (size_t)cf->ldv + 32) * sizeof(float);
    size_t q = (size_t)nne_wino_q_floats(cf->tw) * sizeof(float);
    cf->wino_scratch = v + q + ops->scratch(cf->mch, nb, p->C) + 3 * 64;
    return cf->wino_scratch <= NNE_WINO_SCRATCH_MAX;
}

/* Transposed Winograd (WINOGRAD_T): the GEMMs are Y[xi]^T = V[xi]^T U[xi]^T,
 * tiles x output channels, so an image of a few tiles fills the GEMM's
 * MR-row panels instead of wasting most of an NR-column panel (7x7: 4
 * tiles). One block holds every tile; parts take groups of gw output
 * channels, U^T packed per group as the GEMM's B. V^T is the GEMM's A,
 * packed once per part: with at most MR tiles, V itself with rows of MR
 * floats is that packed layout (one panel; the rows past the tiles hold
 * whatever the transform's vector stores left there, and only produce
 * product rows that are not stored). */
#define WINO_T_GROUP 64
static int wino_setup_t(const nne_sgemm_ops *ops, const nne_conv_desc *p, nne_conv_fast *cf) {
    cf->th = (p->out[0] + 3) / 4;
    cf->tw = (p->out[1] + 3) / 4;
    cf->tiles = cf->nb = cf->th * cf->tw;
    cf->ldv = cf->tiles <= ops->mr ? ops->mr : (cf->tiles + 16 + 7) / 8 * 8;
    cf->gw = WINO_T_GROUP;
    cf->ngroups = (p->M + cf->gw - 1) / cf->gw;
    size_t v = (size_t)36 * ((size_t)p->C * (size_t)cf->ldv + 16) * sizeof(float);
    if (cf->tiles > ops->mr) v += 36 * (ops->packed_a_bytes(cf->tiles, p->C) + 64);
    size_t yt = (size_t)36 * ((size_t)cf->tiles * (size_t)cf->gw + 16) * sizeof(float);
    size_t q = (size_t)nne_wino_q_floats(cf->tw) * sizeof(float);
    cf->wino_scratch = v + yt + q + ops->scratch(cf->tiles, cf->gw, p->C) + 4 * 64;
    return cf->wino_scratch <= NNE_WINO_SCRATCH_MAX;
}

/* Whether Winograd beats the implicit GEMM for this legal shape. Its GEMMs
 * do 36 multiplies per 4x4 tile instead of 9 per output pixel, but over
 * whole tiles and whole NR-column panels of tiles (transposed: MR-row
 * panels): gain = 9 * pixels / (36 * tiles rounded up to the panel) is what
 * remains of the 4x. Measured with `make bench-conv` (AVX2 6x16, 1 thread,
 * implicit time / Winograd time, gain in brackets): 64ch 56x56 2.37 (3.8),
 * 128ch 28x28 1.98 (3.4), 256ch 14x14 1.88 and 64ch 14x14 1.77 (3.1), 64ch
 * 12x12 1.22 and 128ch 1.18 (2.25), 512ch 10x10 0.98 (1.56), 256ch 9x9
 * 0.87 (1.27), 512ch 7x7 0.62 (0.77); few channels still win where the gain
 * is high (3 -> 16 ch 64x64 1.29, 2 -> 8 1.36, 8 -> 4 2.59); with the
 * caches evicted before each run (weights from memory, as in a model: the
 * transformed weights are 4x larger) 256ch 14x14 1.93, 512ch 14x14 2.31.
 * Transposed: 7x7 (gain 2.04) 512ch 1.19, 256ch 1.20, 160 -> 320ch 1.11
 * (cold), 10x10 128ch 1.68 (2.08), 9x9 256ch 1.11 (1.69). So: gain >= 2
 * and at least 2 channels each way (one input channel is a depthwise or
 * pointwise-like layer). Memory: the transformed weights are 36 floats per
 * (m, c) instead of 9, and their GEMMs do padded_tiles / 2 flops per
 * weight byte: with few tiles (7x7: 6 padded, 3 flops/byte) a layer with
 * large weights only streams them (512ch 7x7 in resnet18: 38 MB instead of
 * 9.4 MB per layer, +85 MB peak RSS for 1.2x on three layers). So below 16
 * padded tiles (8 flops/byte) the transformed weights must fit 2 MiB. */
static int wino_pays(const nne_sgemm_ops *ops, const nne_conv_desc *p, const nne_conv_fast *cf, int transposed) {
    if (p->C < 2 || p->M < 2) return 0;
    /* transposed, the tiles fill MR-row panels */
    int64_t unit = transposed ? ops->mr : ops->nr, padded = (cf->tiles + unit - 1) / unit * unit;
    if (padded < 16 && 36 * p->M * p->C * (int64_t)sizeof(float) > ((int64_t)2 << 20)) return 0;
    return 9 * cf->outsp >= 2 * 36 * padded;
}

int nne_conv_fast_plan_algo(const nne_sgemm_ops *ops, const nne_conv_desc *p, nne_conv_fast *cf, int force) {
    memset(cf, 0, sizeof *cf);
    if (!ops || p->G < 1) return 0;
    cf->ops = ops;
    cf->Cg = p->C / p->G;
    cf->Mg = p->M / p->G;
    cf->taps = prod(p->k, p->nsp);
    cf->K = cf->Cg * cf->taps;
    cf->insp = prod(p->in, p->nsp);
    cf->outsp = prod(p->out, p->nsp);
    int pw = 1;
    for (int i = 0; i < p->nsp; i++)
        if (p->k[i] != 1 || p->s[i] != 1 || p->pb[i] != 0 || p->out[i] != p->in[i]) pw = 0;
    int legal = ops->wino_in && wino_legal(p);
    nne_conv_fast wt = *cf;
    int wino = legal && wino_setup(ops, p, cf), winot = legal && wino_setup_t(ops, p, &wt);
    if (force) {
        int ok = force == NNE_CONV_DEPTHWISE     ? p->nsp == 2 && cf->Cg == 1
                 : force == NNE_CONV_POINTWISE   ? pw
                 : force == NNE_CONV_IMPLICIT    ? p->nsp == 2
                 : force == NNE_CONV_WINOGRAD    ? wino
                 : force == NNE_CONV_WINOGRAD_T  ? winot
                                                 : force == NNE_CONV_IM2COL;
        if (!ok) return 0;
        if (force == NNE_CONV_WINOGRAD_T) *cf = wt;
        cf->algo = force;
        return 1;
    }
    if (p->nsp == 2 && cf->Cg == 1 && cf->Mg >= 1) cf->algo = NNE_CONV_DEPTHWISE;
    else if (pw) cf->algo = NNE_CONV_POINTWISE;
    else if (wino && wino_pays(ops, p, cf, 0)) cf->algo = NNE_CONV_WINOGRAD;
    else if (winot && wino_pays(ops, p, &wt, 1)) *cf = wt, cf->algo = NNE_CONV_WINOGRAD_T;
    else if (p->nsp == 2) cf->algo = NNE_CONV_IMPLICIT;
    else cf->algo = NNE_CONV_IM2COL;
    return 1;
}

int nne_conv_fast_plan(const nne_sgemm_ops *ops, const nne_conv_desc *p, nne_conv_fast *cf) {
    return nne_conv_fast_plan_algo(ops, p, cf, 0);
}

const char *nne_conv_fast_algo_name(int algo) {
    switch (algo) {
    case NNE_CONV_DEPTHWISE: return "depthwise";
    case NNE_CONV_POINTWISE: return "pointwise";
    case NNE_CONV_IMPLICIT: return "implicit_gemm";
    case NNE_CONV_IM2COL: return "im2col";
    case NNE_CONV_WINOGRAD: return "winograd";
    case NNE_CONV_WINOGRAD_T: return "winograd_t";
    default: return "?";
    }
}

int nne_conv_fast_packs_w(const nne_conv_fast *cf) {
    return cf->algo == NNE_CONV_POINTWISE || cf->algo == NNE_CONV_IMPLICIT || cf->algo == NNE_CONV_WINOGRAD ||
           cf->algo == NNE_CONV_WINOGRAD_T;
}

size_t nne_conv_fast_packed_w_bytes(const nne_conv_fast *cf, const nne_conv_desc *p) {
    if (!nne_conv_fast_packs_w(cf)) return 0;
    if (cf->algo == NNE_CONV_WINOGRAD) return 36 * cf->ops->packed_a_bytes(p->M, p->C);
    if (cf->algo == NNE_CONV_WINOGRAD_T) return (size_t)(36 * cf->ngroups) * cf->ops->packed_b_bytes(cf->gw, p->C);
    return (size_t)p->G * cf->ops->packed_a_bytes(cf->Mg, cf->K);
}

/* U = G g G^T of every (m, c), written straight into the GEMMs' packed A
 * layout (36 matrices M x C, one per xi = 6 i + j; sgemm.h: K slices of
 * depth kc at kc-th multiples, panels of mr rows, per k mr floats).
 *     G = |  1/4     0     0  |
 *         | -1/6  -1/6  -1/6  |
 *         | -1/6   1/6  -1/6  |
 *         | 1/24  1/12   1/6  |
 *         | 1/24 -1/12   1/6  |
 *         |    0     0     1  | */
static void wino_pack_w(const nne_conv_fast *cf, const nne_conv_desc *p, const float *w, float *P) {
    static const double G[6][3] = {{1.0 / 4, 0, 0},           {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                   {-1.0 / 6, 1.0 / 6, -1.0 / 6}, {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                   {1.0 / 24, -1.0 / 12, 1.0 / 6}, {0, 0, 1}};
    int64_t M = p->M, C = p->C, mr = cf->ops->mr, kcmax = cf->ops->kc;
    int64_t Mp = (M + mr - 1) / mr * mr;
    size_t per = cf->algo == NNE_CONV_WINOGRAD_T ? cf->ops->packed_b_bytes(cf->gw, C) / sizeof(float)
                                                 : cf->ops->packed_a_bytes(M, C) / sizeof(float);
    memset(P, 0, nne_conv_fast_packed_w_bytes(cf, p));
    for (int64_t m = 0; m < M; m++)
        for (int64_t c = 0; c < C; c++) {
            const float *g = w + (m * C + c) * 9;
            double t[6][3], u[6][6];
            for (int i = 0; i < 6; i++)
                for (int b = 0; b < 3; b++)
                    t[i][b] = G[i][0] * g[0 * 3 + b] + G[i][1] * g[1 * 3 + b] + G[i][2] * g[2 * 3 + b];
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++) u[i][j] = t[i][0] * G[j][0] + t[i][1] * G[j][1] + t[i][2] * G[j][2];
            int64_t pc = c / kcmax * kcmax, kc = C - pc < kcmax ? C - pc : kcmax;
            if (cf->algo == NNE_CONV_WINOGRAD_T) {
                /* B = U^T of the group of m: (c, n = m - group start), panels of nr columns */
                int64_t grp = m / cf->gw, n = m % cf->gw, nr = cf->ops->nr;
                int64_t gw = M - grp * cf->gw < cf->gw ? M - grp * cf->gw : cf->gw, Np = (gw + nr - 1) / nr * nr;
                size_t off = (size_t)(pc * Np + (n / nr) * nr * kc + (c - pc) * nr + n % nr);
                for (int xi = 0; xi < 36; xi++) P[(xi * cf->ngroups + grp) * per + off] = (float)u[xi / 6][xi % 6];
                continue;
            }
            size_t off = (size_t)(pc * Mp + (m / mr) * mr * kc + (c - pc) * mr + m % mr);
            for (int xi = 0; xi < 36; xi++) P[xi * per + off] = (float)u[xi / 6][xi % 6];
        }
}

void nne_conv_fast_pack_w(const nne_conv_fast *cf, const nne_conv_desc *p, const float *w, float *P) {
    if (cf->algo == NNE_CONV_WINOGRAD || cf->algo == NNE_CONV_WINOGRAD_T) {
        wino_pack_w(cf, p, w, P);
        return;
    }
    size_t per = cf->ops->packed_a_bytes(cf->Mg, cf->K) / sizeof(float);
    for (int64_t g = 0; g < p->G; g++)
        cf->ops->pack_a(cf->Mg, cf->K, w + g * cf->Mg * cf->K, cf->K, 1, P + (size_t)g * per);
}

size_t nne_conv_fast_scratch(const nne_conv_fast *cf, const nne_conv_desc *p) {
    switch (cf->algo) {
    case NNE_CONV_POINTWISE:
    case NNE_CONV_IMPLICIT: return cf->ops->scratch(cf->Mg, cf->outsp, cf->K);
    case NNE_CONV_IM2COL: return nne_conv_scratch_f32(p);
    case NNE_CONV_WINOGRAD:
    case NNE_CONV_WINOGRAD_T: {
        /* without packed weights (W not constant) the implicit GEMM runs */
        size_t im = cf->ops->scratch(cf->Mg, cf->outsp, cf->K);
        return cf->wino_scratch > im ? cf->wino_scratch : im;
    }
    case NNE_CONV_DEPTHWISE: {
        /* the phase-split plane, when it is of a sane size (else the direct loop) */
        size_t b = cf->ops->dwconv2d_scratch(p);
        return b <= ((size_t)4 << 20) ? b : 0;
    }
    default: return 0;
    }
}

/* ------------------------------------------------------------ Winograd -- */

typedef struct wino_job {
    const nne_conv_fast *cf;
    const nne_conv_desc *p;
    const float *x, *Pw;
    float *y;
    const nne_epilogue *ep;
    int64_t nblocks, mgroups;
} wino_job;

static void *align64(void *q) { return (void *)(((uintptr_t)q + 63) & ~(uintptr_t)63); }

/* Units are (block, output-channel group) pairs, block-major; a part runs
 * a contiguous range of them: per block the input transform into V, then
 * per chunk of mch output channels the 36 GEMMs into Y and the output
 * transform with the epilogue. */
static void wino_part(void *arg, int part, int nparts, void *scratch) {
    const wino_job *j = arg;
    const nne_conv_fast *cf = j->cf;
    const nne_conv_desc *p = j->p;
    const nne_sgemm_ops *ops = cf->ops;
    long long lo, hi;
    nne_split_range(j->nblocks * j->mgroups, 1, part, nparts, &lo, &hi);
    int64_t C = p->C, M = p->M, ldv = cf->ldv;
    int64_t vxs = C * ldv + 16, yxs = cf->mch * ldv + 16;
    float *V = align64(scratch);
    float *Y = align64(V + 36 * vxs);
    float *Q = align64(Y + 36 * yxs);
    void *gs = align64(Q + nne_wino_q_floats(cf->tw));
    size_t per = ops->packed_a_bytes(M, C) / sizeof(float);
    int64_t have = -1; /* the block now in V */
    for (long long u = lo; u < hi; u++) {
        int64_t blk = u / j->mgroups, grp = u % j->mgroups;
        int64_t t0 = blk * cf->nb, t1 = t0 + cf->nb < cf->tiles ? t0 + cf->nb : cf->tiles;
        if (blk != have) {
            nne_wino_in wi = {p, j->x, 0, C, t0, t1, cf->tw, V, ldv, vxs, Q};
            ops->wino_in(&wi);
            have = blk;
        }
        long long ma, mb;
        nne_split_range(M, ops->mr, (int)grp, (int)j->mgroups, &ma, &mb);
        for (int64_t m0 = ma; m0 < mb; m0 += cf->mch) {
            int64_t m1 = m0 + cf->mch < mb ? m0 + cf->mch : mb;
            for (int xi = 0; xi < 36; xi++) {
                nne_sgemm_args g = {.M = M, .N = t1 - t0, .K = C, .alpha = 1.0f, .beta = 0.0f,
                                    .Pa = j->Pw + xi * per, .B = V + xi * vxs, .rsb = ldv, .csb = 1,
                                    .C = Y + xi * yxs, .ldc = ldv, .crow = m0};
                ops->block(&g, m0, m1, gs);
            }
            nne_wino_out wo = {p, Y, ldv, yxs, m0, m1, t0, t1, cf->tw, j->ep, j->y};
            ops->wino_out(&wo);
        }
    }
}

/* WINOGRAD_T: one block of every tile; units are groups of gw output
 * channels (see wino_setup_t). */
static void wino_part_t(void *arg, int part, int nparts, void *scratch) {
    const wino_job *j = arg;
    const nne_conv_fast *cf = j->cf;
    const nne_conv_desc *p = j->p;
    const nne_sgemm_ops *ops = cf->ops;
    long long lo, hi;
    nne_split_range(cf->ngroups, 1, part, nparts, &lo, &hi);
    if (lo >= hi) return;
    int64_t C = p->C, M = p->M, ldv = cf->ldv, tiles = cf->tiles;
    int64_t vxs = C * ldv + 16, yxs = tiles * cf->gw + 16;
    float *V = align64(scratch);
    float *Y = align64(V + 36 * vxs);
    float *Q = align64(Y + 36 * yxs);
    float *Pa = align64(Q + nne_wino_q_floats(cf->tw));
    size_t pa_per = tiles <= ops->mr ? 0 : (ops->packed_a_bytes(tiles, C) + 64) / sizeof(float);
    void *gs = align64(Pa + 36 * pa_per);
    size_t per = ops->packed_b_bytes(cf->gw, C) / sizeof(float);
    nne_wino_in wi = {p, j->x, 0, C, 0, tiles, cf->tw, V, ldv, vxs, Q};
    ops->wino_in(&wi);
    if (tiles > ops->mr)
        for (int xi = 0; xi < 36; xi++) ops->pack_a(tiles, C, V + xi * vxs, 1, ldv, Pa + xi * pa_per);
    for (long long grp = lo; grp < hi; grp++) {
        int64_t m0 = grp * cf->gw, gw = M - m0 < cf->gw ? M - m0 : cf->gw;
        for (int xi = 0; xi < 36; xi++) {
            nne_sgemm_args g = {.M = tiles, .N = gw, .K = C, .alpha = 1.0f, .beta = 0.0f,
                                .Pa = tiles <= ops->mr ? V + xi * vxs : Pa + xi * pa_per,
                                .Pb = j->Pw + (xi * cf->ngroups + grp) * per, .C = Y + xi * yxs, .ldc = cf->gw};
            ops->block(&g, 0, tiles, gs);
        }
        nne_wino_out wo = {p, Y, cf->gw, yxs, m0, m0 + gw, 0, tiles, cf->tw, j->ep, j->y};
        ops->wino_out_t(&wo);
    }
}

static void wino_run(const nne_conv_fast *cf, const nne_conv_desc *p, const float *x, const float *Pw,
                     const nne_epilogue *ep, float *y, void *scratch, nne_threadpool *pool) {
    wino_job job = {cf, p, x, Pw, y, ep, (cf->tiles + cf->nb - 1) / cf->nb, 1};
    int T = nne_threadpool_threads(pool);
    if (cf->wino_scratch > nne_threadpool_scratch_bytes(pool)) T = 1;
    if (cf->algo == NNE_CONV_WINOGRAD_T) {
        int parts = cf->ngroups < T ? (int)cf->ngroups : T;
        nne_parallel(pool, parts, wino_part_t, &job, scratch);
        return;
    }
    /* fewer blocks than threads: split the output channels too (each part
     * transforms its block's input itself) */
    if (T > 1 && job.nblocks < T) {
        int64_t groups = (p->M + cf->ops->mr - 1) / cf->ops->mr;
        job.mgroups = groups < T ? groups : T;
    }
    int64_t units = job.nblocks * job.mgroups;
    int parts = units < T ? (int)units : T;
    nne_parallel(pool, parts, wino_part, &job, scratch);
}

/* ---------------------------------------------------- implicit GEMM -- */

/* ------------------------------------------------------------ depthwise -- */

typedef struct dw_job {
    const nne_conv_fast *cf;
    const nne_conv_desc *p;
    const float *x, *w, *bias;
    float *y;
    const nne_epilogue *ep;
    void *caller_scratch;
    size_t caller_bytes, worker_bytes;
} dw_job;

static void dw_part(void *arg, int part, int nparts, void *scratch) {
    const dw_job *j = arg;
    long long lo, hi;
    nne_split_range(j->p->M, 1, part, nparts, &lo, &hi);
    size_t bytes = scratch == j->caller_scratch ? j->caller_bytes : j->worker_bytes;
    if (lo < hi) j->cf->ops->dwconv2d(j->p, j->x, j->w, j->bias, j->y, lo, hi, j->ep, scratch, bytes);
}

/* ------------------------------------------------------------------ run -- */

void nne_conv_epilogue_apply(const nne_epilogue *ep, float *y, int64_t N, int64_t M, int64_t outsp) {
    if (!nne_epilogue_active(ep)) return;
    for (int64_t n = 0; n < N; n++) {
        nne_epilogue e = *ep;
        if (e.residual) e.residual += n * M * e.ld_res;
        nne_epilogue_apply_f32(&e, y + n * M * outsp, outsp, 0, M, 0, outsp);
    }
}

void nne_conv_fast_run(const nne_conv_fast *cf, const nne_conv_desc *p, const float *x, const float *w,
                       const float *Pw, const float *bias, const nne_epilogue *ep, float *y, void *scratch,
                       nne_threadpool *pool) {
    int64_t outsp = cf->outsp;
    if (!nne_epilogue_active(ep)) ep = NULL;
    if (p->N <= 0 || p->M <= 0 || outsp <= 0) return;
    /* an empty X or W (no channels or no pixels) may be NULL: give the
     * (zero) offsets below a base */
    static const float k_none[1] = {0.0f};
    if (!x) x = k_none;
    if (!w) w = k_none;
    if (cf->algo == NNE_CONV_IM2COL) {
        nne_conv_f32(p, x, w, bias, y, scratch);
        nne_conv_epilogue_apply(ep, y, p->N, p->M, outsp);
        return;
    }
    /* one epilogue for bias and ep; both biases: ep's runs after on the output */
    nne_epilogue base = {0}, post = {0};
    int need_post = 0;
    if (ep) base = *ep;
    if (bias) {
        if (base.bias) {
            post = base;
            need_post = 1;
            base = (nne_epilogue){0};
        }
        base.bias = bias;
        base.bias_per_col = 0;
    }
    for (int64_t n = 0; n < p->N; n++) {
        const float *xn = x + n * p->C * cf->insp;
        float *yn = y + n * p->M * outsp;
        nne_epilogue e = base;
        if (e.residual) e.residual += n * p->M * e.ld_res;
        if ((cf->algo == NNE_CONV_WINOGRAD || cf->algo == NNE_CONV_WINOGRAD_T) && Pw) {
            wino_run(cf, p, xn, Pw, nne_epilogue_active(&e) ? &e : NULL, yn, scratch, pool);
        } else if (cf->algo == NNE_CONV_DEPTHWISE) {
            dw_job job = {cf, p, xn, w, NULL, yn, &e, scratch, nne_conv_fast_scratch(cf, p),
                          nne_threadpool_scratch_bytes(pool)};
            if (!nne_epilogue_active(&e)) job.ep = NULL;
            int parts = nne_threadpool_threads(pool);
            if (parts > p->M) parts = (int)p->M;
            nne_parallel(pool, parts, dw_part, &job, scratch);
        } else {
            size_t per = cf->ops->packed_a_bytes(cf->Mg, cf->K) / sizeof(float);
            for (int64_t g = 0; g < p->G; g++) {
                nne_epilogue eg = e;
                if (eg.bias) eg.bias += g * cf->Mg;
                if (eg.residual) eg.residual += g * cf->Mg * eg.ld_res;
                const float *xg = xn + g * cf->Cg * cf->insp;
                nne_sgemm_args a = {.M = cf->Mg, .N = outsp, .K = cf->K, .alpha = 1.0f, .beta = 0.0f,
                                    .C = yn + g * cf->Mg * outsp, .ldc = outsp,
                                    .ep = nne_epilogue_active(&eg) ? &eg : NULL};
                if (Pw) a.Pa = Pw + (size_t)g * per;
                else a.A = w + g * cf->Mg * cf->K, a.rsa = cf->K, a.csa = 1;
                nne_im2col_src src = {p, xg, cf->insp};
                if (cf->algo == NNE_CONV_POINTWISE) {
                    a.B = xg, a.rsb = cf->insp, a.csb = 1;
                } else {
                    a.packer = cf->ops->im2col_pack;
                    a.packer_src = &src;
                }
                cf->ops->run(&a, scratch, pool);
            }
        }
    }
    if (need_post) nne_conv_epilogue_apply(&post, y, p->N, p->M, outsp);
}
