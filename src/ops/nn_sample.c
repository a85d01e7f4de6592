/*
 * nn_sample.c - sampling ops: GridSample (16, 20, 22; nearest / linear /
 * cubic, zeros / border / reflection padding, align_corners, any number of
 * spatial axes), AffineGrid (20) and RoiAlign (10, 16, 22; avg / max,
 * half_pixel / output_half_pixel).
 *
 * GridSample follows the ONNX reference: a grid value g in [-1, 1] is
 * denormalized to x = (g+1)/2*(size-1) (align_corners) or ((g+1)*size-1)/2;
 * nearest rounds half to even first; coordinates outside the border range
 * are clamped (border) or reflected (reflection); then each interpolation
 * tap's integer index is resolved by the padding mode (zeros: 0 outside).
 * N-d interpolation is the tensor product of the per-axis taps.
 */
#include "ops/nn_util.h"

#include <math.h>
#include <string.h>

/* ---- GridSample ---- */

enum { GS_NEAREST, GS_LINEAR, GS_CUBIC };
enum { GS_ZEROS, GS_BORDER, GS_REFLECT };

static double gs_reflect(double x, double lo, double hi) {
    double rng = hi - lo;
    if (rng <= 0.0) return lo;
    if (x < lo) {
        double dx = lo - x;
        int64_t n = (int64_t)(dx / rng);
        double r = dx - (double)n * rng;
        return n % 2 == 0 ? lo + r : hi - r;
    }
    if (x > hi) {
        double dx = x - hi;
        int64_t n = (int64_t)(dx / rng);
        double r = dx - (double)n * rng;
        return n % 2 == 0 ? hi - r : lo + r;
    }
    return x;
}

/* Resolve integer index i on an axis of length len; -1 means "zero". */
static int64_t gs_index(int64_t i, int64_t len, int pad, double lo, double hi) {
    if (pad == GS_ZEROS) return (i >= 0 && i < len) ? i : -1;
    if (pad == GS_BORDER) return i < 0 ? 0 : (i >= len ? len - 1 : i);
    int64_t r = (int64_t)gs_reflect((double)i, lo, hi);
    return r < 0 ? 0 : (r >= len ? len - 1 : r);
}

static double cubic_coef(double x) {
    const double A = -0.75;
    x = fabs(x);
    if (x <= 1.0) return ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    if (x < 2.0) return ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    return 0.0;
}

/* GridSample in phases: modes parsed once per plan */
typedef struct gridsample_state {
    int r;
    int mode;
    int pad;
    int align;
    int64_t od[NNE_MAX_DIMS];
    size_t xo;
    size_t go;
    size_t yo;
} gridsample_state;

static nne_status gridsample_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *Gd = nne_ctx_input(ctx, 1);
    if (!X || !Gd) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs X and grid are required");
    if (!nn_is_float_dtype(Gd->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "grid dtype %s not supported",
                            nne_dtype_name(Gd->dtype));
    if (!nn_is_float_dtype(X->dtype) && !nne_dtype_is_int(X->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    if (X->ndim < 3)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X has rank %d, expected >= 3", X->ndim);
    int r = X->ndim - 2;
    if (Gd->ndim != X->ndim || Gd->dims[0] != X->dims[0] || Gd->dims[Gd->ndim - 1] != r)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "grid must have shape (N, D1_out..Dr_out, %d) with N=%lld", r,
                            (long long)X->dims[0]);
    const char *ms = nne_attr_s(ctx, "mode", nne_ctx_opset(ctx) < 20 ? "bilinear" : "linear");
    int mode;
    if (!strcmp(ms, "linear") || !strcmp(ms, "bilinear")) mode = GS_LINEAR;
    else if (!strcmp(ms, "nearest")) mode = GS_NEAREST;
    else if (!strcmp(ms, "cubic") || !strcmp(ms, "bicubic")) mode = GS_CUBIC;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "mode \"%s\" is not supported", ms);
    const char *ps = nne_attr_s(ctx, "padding_mode", "zeros");
    int pad;
    if (!strcmp(ps, "zeros")) pad = GS_ZEROS;
    else if (!strcmp(ps, "border")) pad = GS_BORDER;
    else if (!strcmp(ps, "reflection")) pad = GS_REFLECT;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "padding_mode \"%s\" is not supported", ps);
    int align = (int)nne_attr_i(ctx, "align_corners", 0);
    int64_t od[NNE_MAX_DIMS];
    od[0] = X->dims[0];
    od[1] = X->dims[1];
    for (int i = 0; i < r; i++) od[2 + i] = Gd->dims[1 + i];
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, X->ndim, od, &Y));
    nn_carve c = {0};
    size_t xo = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(X), sizeof(double)));
    size_t go = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(Gd), sizeof(double)));
    size_t yo = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(Y), sizeof(double)));
    nn_scratch(ctx, &c);
    gridsample_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->r = r;
        st->mode = mode;
        st->pad = pad;
        st->align = align;
        memcpy(st->od, od, sizeof st->od);
        st->xo = xo;
        st->go = go;
        st->yo = yo;
    }
    return NNE_OK;
}

static nne_status gridsample_kernel(const void *state, const nne_kernel_args *a) {
    const gridsample_state *st = state;
    const nne_tensor *X = a->in[0];
    const nne_tensor *Gd = a->n_in > 1 ? a->in[1] : NULL;
    nne_tensor *Y = a->out[0];
    int r = st->r;
    int mode = st->mode;
    int pad = st->pad;
    int align = st->align;
    const int64_t *od = st->od;
    size_t xo = st->xo;
    size_t go = st->go;
    size_t yo = st->yo;
    void *base = a->scratch;
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    double *xd = (double *)((char *)base + xo), *gd = (double *)((char *)base + go);
    double *yd = (double *)((char *)base + yo);
    nne_load_f64(X, 0, 1, nne_tensor_numel(X), xd);
    nne_load_f64(Gd, 0, 1, nne_tensor_numel(Gd), gd);
    int64_t N = X->dims[0], C = X->dims[1];
    const int64_t *in = X->dims + 2;
    int64_t insp = nn_prod(in, r), outsp = nn_prod(od + 2, r);
    int64_t xstride[NN_MAX_SP];
    for (int d = r - 1; d >= 0; d--) xstride[d] = d == r - 1 ? 1 : xstride[d + 1] * in[d + 1];
    double lo[NN_MAX_SP], hi[NN_MAX_SP];
    for (int d = 0; d < r; d++) {
        lo[d] = align ? 0.0 : -0.5;
        hi[d] = align ? (double)in[d] - 1.0 : (double)in[d] - 0.5;
    }
    int nt = mode == GS_NEAREST ? 1 : (mode == GS_LINEAR ? 2 : 4);
    for (int64_t n = 0; n < N; n++)
        for (int64_t o = 0; o < outsp; o++) {
            const double *g = gd + (n * outsp + o) * r;
            int64_t tidx[NN_MAX_SP][4];
            double tw[NN_MAX_SP][4];
            for (int d = 0; d < r; d++) {
                double gv = g[r - 1 - d]; /* grid lists the innermost axis first */
                double len = (double)in[d];
                double x = align ? (gv + 1.0) / 2.0 * (len - 1.0) : ((gv + 1.0) * len - 1.0) / 2.0;
                /* keep casts to int64 defined for NaN / huge grid values */
                if (x != x) x = -1e9;
                if (x < -1e9) x = -1e9;
                if (x > 1e9) x = 1e9;
                if (mode == GS_NEAREST) x = nearbyint(x);
                if (x < lo[d] || x > hi[d]) {
                    if (pad == GS_BORDER) x = x < 0 ? 0 : (x > len - 1 ? len - 1 : x);
                    else if (pad == GS_REFLECT) x = gs_reflect(x, lo[d], hi[d]);
                }
                if (mode == GS_NEAREST) {
                    tidx[d][0] = gs_index((int64_t)x, in[d], pad, lo[d], hi[d]);
                    tw[d][0] = 1.0;
                } else if (mode == GS_LINEAR) {
                    double f = floor(x);
                    tidx[d][0] = gs_index((int64_t)f, in[d], pad, lo[d], hi[d]);
                    tidx[d][1] = gs_index((int64_t)f + 1, in[d], pad, lo[d], hi[d]);
                    tw[d][0] = 1.0 - (x - f);
                    tw[d][1] = x - f;
                } else {
                    double f = floor(x), t = x - f;
                    for (int k = 0; k < 4; k++) {
                        tidx[d][k] = gs_index((int64_t)f - 1 + k, in[d], pad, lo[d], hi[d]);
                        tw[d][k] = cubic_coef((double)(k - 1) - t);
                    }
                }
            }
            for (int64_t ch = 0; ch < C; ch++) {
                const double *plane = xd + (n * C + ch) * insp;
                int t[NN_MAX_SP] = {0};
                double acc = 0.0;
                for (;;) {
                    double w = 1.0;
                    int64_t off = 0;
                    int zero = 0;
                    for (int d = 0; d < r; d++) {
                        int64_t ix = tidx[d][t[d]];
                        if (ix < 0) zero = 1;
                        else off += ix * xstride[d];
                        w *= tw[d][t[d]];
                    }
                    if (!zero) acc += w * plane[off];
                    int d = r - 1;
                    for (; d >= 0; d--) {
                        if (++t[d] < nt) break;
                        t[d] = 0;
                    }
                    if (d < 0) break;
                }
                yd[(n * C + ch) * outsp + o] = acc;
            }
        }
    nne_store_f64(Y, 0, 1, nne_tensor_numel(Y), yd, NNE_CVT_RNE);
    return NNE_OK;
}

/* ---- AffineGrid ---- */

/* AffineGrid: size is data (NNE_DYNAMIC unless constant); the state keeps the output geometry */
typedef struct affinegrid_state {
    int r;
    int align;
    int64_t N;
    int64_t od[5];
    size_t to;
    size_t yo;
} affinegrid_state;

static nne_status affinegrid_run(nne_op_ctx *ctx) {
    const nne_tensor *T = nne_ctx_input(ctx, 0), *S = nne_ctx_input(ctx, 1);
    if (!T || !S) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs theta and size are required");
    if (!nn_is_float_dtype(T->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(T->dtype));
    NNE_TRY(nne_ctx_need_data(ctx, S));
    int64_t ns = nne_tensor_numel(S);
    if (ns != 4 && ns != 5)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "size has %lld values, expected 4 or 5",
                            (long long)ns);
    int r = (int)ns - 2;
    int64_t sz[5];
    for (int i = 0; i < ns; i++) {
        sz[i] = nne_tensor_get_i64(S, i);
        if (sz[i] < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "size[%d] is negative", i);
    }
    int64_t N = sz[0];
    if (T->ndim != 3 || T->dims[0] != N || T->dims[1] != r || T->dims[2] != r + 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "theta must have shape (%lld, %d, %d)",
                            (long long)N, r, r + 1);
    int align = (int)nne_attr_i(ctx, "align_corners", 0);
    int64_t od[5];
    od[0] = N;
    for (int i = 0; i < r; i++) od[1 + i] = sz[2 + i];
    od[1 + r] = r;
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, T->dtype, r + 2, od, &Y));
    nn_carve c = {0};
    size_t to = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(T), sizeof(double)));
    size_t yo = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(Y), sizeof(double)));
    nn_scratch(ctx, &c);
    affinegrid_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->r = r;
        st->align = align;
        st->N = N;
        memcpy(st->od, od, sizeof st->od);
        st->to = to;
        st->yo = yo;
    }
    return NNE_OK;
}

static nne_status affinegrid_kernel(const void *state, const nne_kernel_args *a) {
    const affinegrid_state *st = state;
    const nne_tensor *T = a->in[0];
    nne_tensor *Y = a->out[0];
    int r = st->r;
    int align = st->align;
    int64_t N = st->N;
    const int64_t *od = st->od;
    size_t to = st->to;
    size_t yo = st->yo;
    void *base = a->scratch;
    double *th = (double *)((char *)base + to), *yd = (double *)((char *)base + yo);
    nne_load_f64(T, 0, 1, nne_tensor_numel(T), th);
    int64_t sp = nn_prod(od + 1, r);
    for (int64_t n = 0; n < N; n++) {
        const double *m = th + n * r * (r + 1);
        int64_t idx[3] = {0, 0, 0};
        for (int64_t p = 0; p < sp; p++) {
            /* homogeneous base position, innermost axis first: (x, y[, z], 1) */
            double v[4];
            for (int d = 0; d < r; d++) {
                int64_t L = od[1 + d], i = idx[d];
                double b;
                if (align) b = L > 1 ? -1.0 + 2.0 * (double)i / (double)(L - 1) : 0.0;
                else b = (2.0 * (double)i + 1.0) / (double)L - 1.0;
                v[r - 1 - d] = b;
            }
            v[r] = 1.0;
            for (int k = 0; k < r; k++) {
                double a = 0.0;
                for (int j = 0; j <= r; j++) a += m[k * (r + 1) + j] * v[j];
                yd[(n * sp + p) * r + k] = a;
            }
            for (int d = r - 1; d >= 0; d--) {
                if (++idx[d] < od[1 + d]) break;
                idx[d] = 0;
            }
        }
    }
    nne_store_f64(Y, 0, 1, nne_tensor_numel(Y), yd, NNE_CVT_RNE);
    return NNE_OK;
}

/* ---- RoiAlign ---- */

/* RoiAlign: attributes parsed once per plan; rois and batch indices are data */
typedef struct roialign_state {
    int is_max;
    int half_pixel;
    int64_t oh;
    int64_t ow;
    int64_t sr;
    double scale;
    int64_t nr;
    int64_t C;
    int64_t H;
    int64_t W;
    size_t xo;
    size_t yo;
} roialign_state;

static nne_status roialign_run(nne_op_ctx *ctx) {
    const nne_tensor *X = nne_ctx_input(ctx, 0), *R = nne_ctx_input(ctx, 1);
    const nne_tensor *BI = nne_ctx_input(ctx, 2);
    if (!X || !R || !BI)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs X, rois and batch_indices are required");
    if (!nn_is_float_dtype(X->dtype) || !nn_is_float_dtype(R->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    if (X->ndim != 4) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must be 4-d (N, C, H, W)");
    if (R->ndim != 2 || R->dims[1] != 4)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "rois must have shape (num_rois, 4)");
    if (nne_tensor_numel(BI) != R->dims[0] || !nne_dtype_is_int(BI->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "batch_indices must be an integer tensor of %lld values",
                            (long long)R->dims[0]);
    const char *ms = nne_attr_s(ctx, "mode", "avg");
    int is_max;
    if (!strcmp(ms, "avg")) is_max = 0;
    else if (!strcmp(ms, "max")) is_max = 1;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "mode \"%s\" is not avg or max", ms);
    int half_pixel = 0;
    if (nne_ctx_opset(ctx) >= 16) {
        const char *ct = nne_attr_s(ctx, "coordinate_transformation_mode", "half_pixel");
        if (!strcmp(ct, "half_pixel")) half_pixel = 1;
        else if (strcmp(ct, "output_half_pixel") != 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "coordinate_transformation_mode \"%s\" unknown", ct);
    }
    int64_t oh = nne_attr_i(ctx, "output_height", 1), ow = nne_attr_i(ctx, "output_width", 1);
    int64_t sr = nne_attr_i(ctx, "sampling_ratio", 0);
    double scale = nne_attr_f(ctx, "spatial_scale", 1.0f);
    if (oh < 1 || ow < 1 || sr < 0)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "output_height/output_width must be >= 1 and sampling_ratio >= 0");
    int64_t nr = R->dims[0], C = X->dims[1], H = X->dims[2], W = X->dims[3];
    int64_t od[4] = {nr, C, oh, ow};
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, 4, od, &Y));
    nn_carve c = {0};
    size_t xo = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(X), sizeof(double)));
    size_t yo = nn_carve_add(&c, nne_size_elems(nne_tensor_numel(Y), sizeof(double)));
    nn_scratch(ctx, &c);
    roialign_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        st->is_max = is_max;
        st->half_pixel = half_pixel;
        st->oh = oh;
        st->ow = ow;
        st->sr = sr;
        st->scale = scale;
        st->nr = nr;
        st->C = C;
        st->H = H;
        st->W = W;
        st->xo = xo;
        st->yo = yo;
    }
    return NNE_OK;
}

static nne_status roialign_kernel(const void *state, const nne_kernel_args *a) {
    const roialign_state *st = state;
    const nne_tensor *X = a->in[0];
    const nne_tensor *R = a->n_in > 1 ? a->in[1] : NULL;
    const nne_tensor *BI = a->n_in > 2 ? a->in[2] : NULL;
    nne_tensor *Y = a->out[0];
    int is_max = st->is_max;
    int half_pixel = st->half_pixel;
    int64_t oh = st->oh;
    int64_t ow = st->ow;
    int64_t sr = st->sr;
    double scale = st->scale;
    int64_t nr = st->nr;
    int64_t C = st->C;
    int64_t H = st->H;
    int64_t W = st->W;
    size_t xo = st->xo;
    size_t yo = st->yo;
    void *base = a->scratch;
    nne_op_ctx *ctx = a->ctx;
    double *xd = (double *)((char *)base + xo), *yd = (double *)((char *)base + yo);
    nne_load_f64(X, 0, 1, nne_tensor_numel(X), xd);
    double off = half_pixel ? 0.5 : 0.0;
    for (int64_t ri = 0; ri < nr; ri++) {
        int64_t b = nne_tensor_get_i64(BI, ri);
        if (b < 0 || b >= X->dims[0])
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "batch_indices[%lld]=%lld outside 0..%lld", (long long)ri,
                                (long long)b, (long long)X->dims[0] - 1);
        double x1 = nne_tensor_get_f64(R, ri * 4) * scale - off;
        double y1 = nne_tensor_get_f64(R, ri * 4 + 1) * scale - off;
        double x2 = nne_tensor_get_f64(R, ri * 4 + 2) * scale - off;
        double y2 = nne_tensor_get_f64(R, ri * 4 + 3) * scale - off;
        if (!isfinite(x1) || !isfinite(y1) || !isfinite(x2) || !isfinite(y2))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "roi %lld has non-finite coordinates",
                                (long long)ri);
        double rw = x2 - x1, rh = y2 - y1;
        if (!half_pixel) {
            if (rw < 1.0) rw = 1.0;
            if (rh < 1.0) rh = 1.0;
        }
        double bh = rh / (double)oh, bw = rw / (double)ow;
        int64_t gh = sr > 0 ? sr : (int64_t)ceil(rh / (double)oh);
        int64_t gw = sr > 0 ? sr : (int64_t)ceil(rw / (double)ow);
        if (gh < 0) gh = 0;
        if (gw < 0) gw = 0;
        if (gh > (1 << 20) || gw > (1 << 20))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "roi %lld needs %lldx%lld samples per bin; set sampling_ratio",
                                (long long)ri, (long long)gh, (long long)gw);
        double count = (double)(gh * gw > 1 ? gh * gw : 1);
        for (int64_t ch = 0; ch < C; ch++) {
            const double *pl = xd + (b * C + ch) * H * W;
            for (int64_t py = 0; py < oh; py++)
                for (int64_t px = 0; px < ow; px++) {
                    double acc = 0.0;
                    int first = 1;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        double y = y1 + (double)py * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double x = x1 + (double)px * bw + ((double)ix + 0.5) * bw / (double)gw;
                            double w[4] = {0, 0, 0, 0};
                            int64_t p[4] = {0, 0, 0, 0};
                            if (!(y < -1.0 || y > (double)H || x < -1.0 || x > (double)W) && H > 0 &&
                                W > 0) {
                                double yy = y < 0 ? 0 : y, xx = x < 0 ? 0 : x;
                                int64_t yl = (int64_t)yy, xl = (int64_t)xx, yh, xh;
                                if (yl >= H - 1) {
                                    yh = yl = H - 1;
                                    yy = (double)yl;
                                } else {
                                    yh = yl + 1;
                                }
                                if (xl >= W - 1) {
                                    xh = xl = W - 1;
                                    xx = (double)xl;
                                } else {
                                    xh = xl + 1;
                                }
                                double ly = yy - (double)yl, lx = xx - (double)xl;
                                double hy = 1.0 - ly, hx = 1.0 - lx;
                                w[0] = hy * hx;
                                w[1] = hy * lx;
                                w[2] = ly * hx;
                                w[3] = ly * lx;
                                p[0] = yl * W + xl;
                                p[1] = yl * W + xh;
                                p[2] = yh * W + xl;
                                p[3] = yh * W + xh;
                            }
                            if (is_max) {
                                for (int k = 0; k < 4; k++) {
                                    double v = H > 0 && W > 0 ? w[k] * pl[p[k]] : 0.0;
                                    if (first || v > acc) acc = v;
                                    first = 0;
                                }
                            } else if (H > 0 && W > 0) {
                                acc += w[0] * pl[p[0]] + w[1] * pl[p[1]] + w[2] * pl[p[2]] +
                                       w[3] * pl[p[3]];
                            }
                        }
                    }
                    yd[((ri * C + ch) * oh + py) * ow + px] = is_max ? acc : acc / count;
                }
        }
    }
    nne_store_f64(Y, 0, 1, nne_tensor_numel(Y), yd, NNE_CVT_RNE);
    return NNE_OK;
}

NNE_OP_DEFINE(GridSample, "", "GridSample", .infer = gridsample_run, .run = gridsample_kernel,
              .state_size = sizeof(gridsample_state));
NNE_OP_DEFINE(AffineGrid, "", "AffineGrid", .infer = affinegrid_run, .run = affinegrid_kernel,
              .state_size = sizeof(affinegrid_state));
NNE_OP_DEFINE(RoiAlign, "", "RoiAlign", .infer = roialign_run, .run = roialign_kernel,
              .state_size = sizeof(roialign_state));
