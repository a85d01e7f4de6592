/*
 * nn_resize.c - Resize (10, 11, 13, 18, 19) and Upsample (1, 7, 9).
 *
 * Resizing is separable: for every resized axis and output coordinate we
 * compute a small list of (input index, weight) taps, then every output
 * element is the weighted sum over the tensor product of its axes' taps.
 * The taps follow the ONNX definition:
 *   - the output coordinate is mapped to x_original by
 *     coordinate_transformation_mode (half_pixel, half_pixel_symmetric,
 *     pytorch_half_pixel, align_corners, asymmetric, tf_crop_and_resize);
 *   - base = floor(x_original), or x_original - 1 when it is integral (so the
 *     fractional "ratio" lies in (0, 1]);
 *   - nearest picks base or base+1 by nearest_mode; linear uses
 *     [1-ratio, ratio] on base, base+1; cubic uses Keys' kernel with
 *     cubic_coeff_a on base-1..base+2; with antialias (downscaling) the
 *     linear / cubic kernel is stretched by 1/scale and normalized;
 *   - input indices are clamped to the edge; exclude_outside zeroes the
 *     weights of outside taps and renormalizes;
 *   - tf_crop_and_resize coordinates outside the input give
 *     extrapolation_value.
 * Nearest copies raw elements (any dtype); linear / cubic compute in double.
 */
#include "ops/nn_util.h"
#include "core/core.h"

#include <math.h>
#include <string.h>

enum { RS_NEAREST, RS_LINEAR, RS_CUBIC };
enum { CT_HALF_PIXEL, CT_HALF_PIXEL_SYM, CT_PYTORCH, CT_ALIGN, CT_ASYM, CT_TF_CROP };
enum { NM_PREFER_FLOOR, NM_PREFER_CEIL, NM_FLOOR, NM_CEIL, NM_SIMPLE };

typedef struct rs_cfg {
    int mode, ct, nm, antialias, exclude_outside;
    double cubic_a, extrap;
    int rank;
    int64_t in[NNE_MAX_DIMS], out[NNE_MAX_DIMS];
    double scale[NNE_MAX_DIMS];
    double roi0[NNE_MAX_DIMS], roi1[NNE_MAX_DIMS];
    int resized[NNE_MAX_DIMS];   /* 0: identity axis */
    int ntap[NNE_MAX_DIMS];      /* taps per output coordinate */
} rs_cfg;

/* Taps of the (possibly antialiased) kernel on an axis with this scale. */
static int kernel_taps(const rs_cfg *c, double scale) {
    if (c->mode == RS_NEAREST) return 1;
    if (!c->antialias || scale >= 1.0) return c->mode == RS_LINEAR ? 2 : 4;
    /* sizes of 0 give scale 0: there are no output coordinates to sample */
    if (!(scale > 0.0)) return 1;
    /* in double: a tiny scale would overflow an integer (the caller rejects > 1 << 20) */
    double taps = 2.0 - 2.0 * (floor((c->mode == RS_LINEAR ? -1.0 : -2.0) / scale) + 1.0);
    return taps > (double)(1 << 21) ? 1 << 21 : (int)taps;
}

static double cubic_w(double x, double A) {
    x = fabs(x);
    if (x <= 1.0) return ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0;
    if (x < 2.0) return ((A * x - 5.0 * A) * x + 8.0 * A) * x - 4.0 * A;
    return 0.0;
}

/* x_original of output coordinate o on axis d. */
static double rs_coord(const rs_cfg *c, int d, int64_t o) {
    double in = (double)c->in[d], outi = (double)c->out[d], s = c->scale[d], x = (double)o;
    /* the fractional output width in * scale is used, as in the ONNX reference */
    double outf = in * s;
    switch (c->ct) {
    case CT_HALF_PIXEL: return (x + 0.5) / s - 0.5;
    case CT_HALF_PIXEL_SYM: {
        double adj = outi / (s * in);
        double center = in / 2.0;
        return center * (1.0 - adj) + (x + 0.5) / s - 0.5;
    }
    case CT_PYTORCH: return c->out[d] > 1 ? (x + 0.5) / s - 0.5 : 0.0;
    case CT_ALIGN: return c->out[d] > 1 ? x * (in - 1.0) / (outf - 1.0) : 0.0;
    case CT_ASYM: return x / s;
    default: {
        double r0 = c->roi0[d], r1 = c->roi1[d];
        double v = c->out[d] > 1 ? x * (r1 - r0) * (in - 1.0) / (outf - 1.0)
                                 : (r1 - r0) * (in - 1.0) / 2.0;
        return v + r0 * (in - 1.0);
    }
    }
}

/* Fill n taps for output coordinate o on axis d; returns 0, or 1 when the
 * coordinate is outside (tf_crop_and_resize extrapolation). */
static int rs_axis_taps(const rs_cfg *c, int d, int64_t o, int64_t *idx, double *w) {
    int n = c->ntap[d];
    int64_t in = c->in[d];
    if (!c->resized[d]) {
        idx[0] = o;
        w[0] = 1.0;
        return 0;
    }
    double x = rs_coord(c, d, o);
    if (!(x > -1e15 && x < 1e15)) x = c->ct == CT_TF_CROP ? -1.0 : 0.0; /* NaN / inf guard */
    if (c->ct == CT_TF_CROP && (x < 0.0 || x > (double)(in - 1))) {
        for (int t = 0; t < n; t++) {
            idx[t] = 0;
            w[t] = 0.0;
        }
        return 1;
    }
    double fl = floor(x);
    int integral = x == fl;
    double ratio = integral ? 1.0 : x - fl;
    int64_t base = integral ? (int64_t)fl - 1 : (int64_t)fl;
    if (c->mode == RS_NEAREST) {
        int64_t i;
        switch (c->nm) {
        case NM_PREFER_FLOOR: i = integral ? (int64_t)fl : (ratio <= 0.5 ? base : base + 1); break;
        case NM_PREFER_CEIL: i = integral ? (int64_t)fl : (ratio < 0.5 ? base : base + 1); break;
        case NM_FLOOR: i = integral ? (int64_t)fl : base; break;
        case NM_CEIL: i = integral ? (int64_t)fl : base + 1; break;
        default: /* opset < 11 "simple": floor when upsampling, ceil when downsampling */
            i = c->scale[d] < 1.0 ? (int64_t)ceil(x) : (int64_t)fl;
            break;
        }
        idx[0] = i < 0 ? 0 : (i >= in ? in - 1 : i);
        w[0] = 1.0;
        return 0;
    }
    /* neighbours base - n/2 + 1 ... base + n/2 */
    int64_t first = base - n / 2 + 1;
    double sum = 0.0;
    double s = c->scale[d] < 1.0 ? c->scale[d] : 1.0;
    for (int t = 0; t < n; t++) {
        double dist = (double)(first + t) - x; /* signed distance from x */
        double wt;
        if (c->mode == RS_LINEAR) {
            if (c->antialias && c->scale[d] < 1.0) {
                wt = 1.0 - fabs(dist) * s;
                if (wt < 0.0) wt = 0.0;
            } else {
                wt = t == 0 ? 1.0 - ratio : ratio;
            }
        } else {
            if (c->antialias && c->scale[d] < 1.0) wt = cubic_w(dist * s, c->cubic_a);
            else wt = cubic_w(dist, c->cubic_a);
        }
        int64_t i = first + t;
        if (c->exclude_outside && (i < 0 || i >= in)) wt = 0.0;
        idx[t] = i < 0 ? 0 : (i >= in ? in - 1 : i);
        w[t] = wt;
        sum += wt;
    }
    if ((c->antialias && c->scale[d] < 1.0) || c->exclude_outside) {
        if (sum != 0.0)
            for (int t = 0; t < n; t++) w[t] /= sum;
    }
    return 0;
}

static nne_status parse_str(nne_op_ctx *ctx, const char *attr, const char *def,
                            const char *const *names, int count, int *out) {
    const char *s = nne_attr_s(ctx, attr, def);
    for (int i = 0; i < count; i++)
        if (!strcmp(s, names[i])) {
            *out = i;
            return NNE_OK;
        }
    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s \"%s\" is not supported", attr, s);
}

/* Resize and Upsample in phases: rs_execute is the end of infer; when
 * planning it computes the taps of every axis (source indices, weights,
 * outside flags) once into memory the state owns, so a run only
 * interpolates. */
typedef struct rs_state {
    rs_cfg c;
    size_t es;
    int lin;
    size_t io[NNE_MAX_DIMS], wo[NNE_MAX_DIMS], eo[NNE_MAX_DIMS]; /* offsets in taps */
    void *taps;
    size_t xo, yo; /* scratch layout */
} rs_state;

static void rs_state_free(void *state) {
    rs_state *st = state;
    nne_aligned_free(st->taps);
}

static nne_status rs_kernel(const void *state, const nne_kernel_args *a);

/* Check the geometry, declare Y, request scratch; when planning, fill the state. */
static nne_status rs_execute(nne_op_ctx *ctx, rs_cfg *c, const nne_tensor *X) {
    for (int d = 0; d < c->rank; d++) {
        if (c->resized[d] && c->scale[d] == 1.0 && c->in[d] == c->out[d] && c->ct != CT_TF_CROP)
            c->resized[d] = 0;
        c->ntap[d] = c->resized[d] ? kernel_taps(c, c->scale[d]) : 1;
        if (c->ntap[d] < 1 || c->ntap[d] > 1 << 20)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scale %g on axis %d is out of range",
                                c->scale[d], d);
    }
    nne_tensor *Y;
    NNE_TRY(nne_ctx_output(ctx, 0, X->dtype, c->rank, c->out, &Y));
    size_t es = nne_dtype_size(X->dtype);
    if (es == 0)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    if (c->mode != RS_NEAREST && !(nn_is_float_dtype(X->dtype) || nne_dtype_is_int(X->dtype)))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported",
                            nne_dtype_name(X->dtype));
    nn_carve tv = {0}, cv = {0};
    size_t io[NNE_MAX_DIMS], wo[NNE_MAX_DIMS], eo[NNE_MAX_DIMS];
    for (int d = 0; d < c->rank; d++) {
        size_t n = (size_t)(c->out[d] * c->ntap[d]);
        io[d] = nn_carve_add(&tv, n * sizeof(int64_t));
        wo[d] = nn_carve_add(&tv, n * sizeof(double));
        eo[d] = nn_carve_add(&tv, (size_t)c->out[d]);
    }
    int lin = c->mode != RS_NEAREST;
    size_t xo = nn_carve_add(&cv, lin ? nne_size_elems(nne_tensor_numel(X), sizeof(double)) : 0);
    size_t yo = nn_carve_add(&cv, lin ? nne_size_elems(nne_tensor_numel(Y), sizeof(double)) : 0);
    nn_scratch(ctx, &cv);
    rs_state *st = nne_ctx_plan_state(ctx);
    if (!st) return NNE_OK;
    st->c = *c;
    st->es = es;
    st->lin = lin;
    st->xo = xo;
    st->yo = yo;
    memcpy(st->io, io, sizeof io);
    memcpy(st->wo, wo, sizeof wo);
    memcpy(st->eo, eo, sizeof eo);
    if (nne_tensor_numel(Y) == 0) return NNE_OK;
    if (!(st->taps = nne_aligned_alloc(tv.total ? tv.total : 64)))
        return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of resize taps", tv.total);
    for (int d = 0; d < c->rank; d++) {
        int64_t *idx = (int64_t *)((char *)st->taps + io[d]);
        double *wt = (double *)((char *)st->taps + wo[d]);
        uint8_t *ex = (uint8_t *)((char *)st->taps + eo[d]);
        if (c->in[d] == 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "cannot resize an empty axis %d to %lld",
                                d, (long long)c->out[d]);
        for (int64_t o = 0; o < c->out[d]; o++)
            ex[o] = (uint8_t)rs_axis_taps(c, d, o, idx + o * c->ntap[d], wt + o * c->ntap[d]);
    }
    return NNE_OK;
}

static nne_status rs_kernel(const void *state, const nne_kernel_args *a) {
    const rs_state *st = state;
    const rs_cfg *c = &st->c;
    const nne_tensor *X = a->in[0];
    nne_tensor *Y = a->out[0];
    size_t es = st->es, xo = st->xo, yo = st->yo;
    int lin = st->lin;
    void *base = a->scratch;
    int64_t total = nne_tensor_numel(Y);
    if (total == 0) return NNE_OK;
    const int64_t *idx[NNE_MAX_DIMS];
    const double *wt[NNE_MAX_DIMS];
    const uint8_t *ex[NNE_MAX_DIMS];
    for (int d = 0; d < c->rank; d++) {
        idx[d] = (const int64_t *)((const char *)st->taps + st->io[d]);
        wt[d] = (const double *)((const char *)st->taps + st->wo[d]);
        ex[d] = (const uint8_t *)((const char *)st->taps + st->eo[d]);
    }
    int64_t xstride[NNE_MAX_DIMS];
    {
        int64_t acc = 1;
        for (int d = c->rank - 1; d >= 0; d--) {
            xstride[d] = acc;
            acc *= c->in[d];
        }
    }
    double *xd = lin ? (double *)((char *)base + xo) : NULL;
    double *yd = lin ? (double *)((char *)base + yo) : NULL;
    if (lin) nne_load_f64(X, 0, 1, nne_tensor_numel(X), xd);
    int64_t oc[NNE_MAX_DIMS] = {0};
    for (int64_t e = 0; e < total; e++) {
        int outside = 0;
        for (int d = 0; d < c->rank; d++) outside |= ex[d][oc[d]];
        if (!lin) {
            int64_t off = 0;
            for (int d = 0; d < c->rank; d++) off += idx[d][oc[d]] * xstride[d];
            if (outside) {
                double v = c->extrap;
                nne_store_f64(Y, e, 1, 1, &v, NNE_CVT_RNE);
            } else {
                memcpy((char *)Y->data + e * (int64_t)es, (const char *)X->data + off * (int64_t)es, es);
            }
        } else if (outside) {
            yd[e] = c->extrap;
        } else {
            /* sum over the product of taps */
            int t[NNE_MAX_DIMS] = {0};
            double acc = 0.0;
            for (;;) {
                int64_t off = 0;
                double w = 1.0;
                for (int d = 0; d < c->rank; d++) {
                    int64_t k = oc[d] * c->ntap[d] + t[d];
                    off += idx[d][k] * xstride[d];
                    w *= wt[d][k];
                }
                acc += w * xd[off];
                int d = c->rank - 1;
                for (; d >= 0; d--) {
                    if (++t[d] < c->ntap[d]) break;
                    t[d] = 0;
                }
                if (d < 0) break;
            }
            yd[e] = acc;
        }
        for (int d = c->rank - 1; d >= 0; d--) {
            if (++oc[d] < c->out[d]) break;
            oc[d] = 0;
        }
    }
    if (lin) nne_store_f64(Y, 0, 1, total, yd, NNE_CVT_RNE);
    return NNE_OK;
}

static nne_status resize_run(nne_op_ctx *ctx) {
    int opset = nne_ctx_opset(ctx);
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    const nne_tensor *roi = NULL, *scales = NULL, *sizes = NULL;
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    if (opset < 11) {
        scales = nne_ctx_input(ctx, 1);
    } else {
        roi = nne_ctx_input(ctx, 1);
        scales = nne_ctx_input(ctx, 2);
        sizes = nne_ctx_input(ctx, 3);
    }
    if (scales && nne_tensor_numel(scales) == 0) scales = NULL;
    if (sizes && nne_tensor_numel(sizes) == 0) sizes = NULL;
    if (roi && nne_tensor_numel(roi) == 0) roi = NULL;
    if (!scales && !sizes)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "one of scales and sizes is required");
    if (scales && sizes)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scales and sizes cannot both be given");

    rs_cfg c;
    memset(&c, 0, sizeof c);
    c.rank = X->ndim;
    static const char *const modes[] = {"nearest", "linear", "cubic"};
    static const char *const cts[] = {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel",
                                      "align_corners", "asymmetric", "tf_crop_and_resize"};
    static const char *const nms[] = {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"};
    NNE_TRY(parse_str(ctx, "mode", "nearest", modes, opset < 11 ? 2 : 3, &c.mode));
    if (opset < 11) {
        c.ct = CT_ASYM;
        c.nm = NM_SIMPLE;
    } else {
        NNE_TRY(parse_str(ctx, "coordinate_transformation_mode", "half_pixel", cts, 6, &c.ct));
        if (c.ct == CT_HALF_PIXEL_SYM && opset < 19)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "half_pixel_symmetric needs opset 19, model has %d", opset);
        NNE_TRY(parse_str(ctx, "nearest_mode", "round_prefer_floor", nms, 4, &c.nm));
    }
    c.cubic_a = nne_attr_f(ctx, "cubic_coeff_a", -0.75f);
    c.exclude_outside = (int)nne_attr_i(ctx, "exclude_outside", 0);
    c.extrap = nne_attr_f(ctx, "extrapolation_value", 0.0f);
    c.antialias = opset >= 18 ? (int)nne_attr_i(ctx, "antialias", 0) : 0;

    /* axes the scales/sizes/roi refer to */
    int axes[NNE_MAX_DIMS], na = c.rank;
    for (int i = 0; i < c.rank; i++) axes[i] = i;
    const int64_t *av = NULL;
    int nav = opset >= 18 ? nne_attr_ints(ctx, "axes", &av) : 0;
    if (nav > 0 && av) {
        if (nav > c.rank)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axes has %d values, rank is %d", nav,
                                c.rank);
        na = nav;
        for (int i = 0; i < nav; i++) NNE_TRY(nne_ctx_axis(ctx, av[i], c.rank, &axes[i]));
    }
    for (int d = 0; d < c.rank; d++) {
        c.in[d] = c.out[d] = X->dims[d];
        c.scale[d] = 1.0;
        c.roi0[d] = 0.0;
        c.roi1[d] = 1.0;
    }
    if (roi && c.ct == CT_TF_CROP) {
        NNE_TRY(nne_ctx_need_data(ctx, roi));
        if (nne_tensor_numel(roi) != 2 * na)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "roi has %lld values, expected %d",
                                (long long)nne_tensor_numel(roi), 2 * na);
    }
    if (scales) {
        NNE_TRY(nne_ctx_need_data(ctx, scales));
        if (nne_tensor_numel(scales) != na)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scales has %lld values, expected %d",
                                (long long)nne_tensor_numel(scales), na);
        for (int i = 0; i < na; i++) {
            int d = axes[i];
            double s = (double)(float)nne_tensor_get_f64(scales, i);
            if (!(s > 0.0))
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scales[%d]=%g, expected > 0", i, s);
            double o = floor((double)c.in[d] * s);
            if (!(o < 9e15))
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scales[%d]=%g gives a too large output", i, s);
            c.scale[d] = s;
            c.out[d] = (int64_t)o;
            c.resized[d] = 1;
        }
    } else {
        NNE_TRY(nne_ctx_need_data(ctx, sizes));
        if (nne_tensor_numel(sizes) != na)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sizes has %lld values, expected %d",
                                (long long)nne_tensor_numel(sizes), na);
        const char *pol = opset >= 18 ? nne_attr_s(ctx, "keep_aspect_ratio_policy", "stretch")
                                      : "stretch";
        int policy = 0;
        if (!strcmp(pol, "not_larger")) policy = 1;
        else if (!strcmp(pol, "not_smaller")) policy = 2;
        else if (strcmp(pol, "stretch") != 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "keep_aspect_ratio_policy \"%s\" unknown",
                                pol);
        double common = policy == 1 ? INFINITY : 0.0;
        for (int i = 0; i < na; i++) {
            int64_t v = nne_tensor_get_i64(sizes, i);
            if (v < 0)
                return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sizes[%d]=%lld is negative", i,
                                    (long long)v);
            int d = axes[i];
            double r = c.in[d] > 0 ? (double)v / (double)c.in[d] : 1.0;
            if (policy == 1 && r < common) common = r;
            if (policy == 2 && r > common) common = r;
            c.out[d] = v;
            c.scale[d] = r;
            c.resized[d] = 1;
        }
        if (policy) {
            for (int i = 0; i < na; i++) {
                int d = axes[i];
                c.scale[d] = common;
                double o = floor(common * (double)c.in[d] + 0.5);
                if (!(o >= 0.0 && o < 9e15))
                    return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "sizes give a too large output");
                c.out[d] = (int64_t)o;
            }
        }
    }
    if (roi && c.ct == CT_TF_CROP) {
        for (int i = 0; i < na; i++) {
            c.roi0[axes[i]] = nne_tensor_get_f64(roi, i);
            c.roi1[axes[i]] = nne_tensor_get_f64(roi, na + i);
        }
    }
    return rs_execute(ctx, &c, X);
}

static nne_status upsample_run(nne_op_ctx *ctx) {
    int opset = nne_ctx_opset(ctx);
    const nne_tensor *X = nne_ctx_input(ctx, 0);
    if (!X) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input X is required");
    rs_cfg c;
    memset(&c, 0, sizeof c);
    c.rank = X->ndim;
    const char *m = nne_attr_s(ctx, "mode", "nearest");
    if (!strcmp(m, "nearest")) c.mode = RS_NEAREST;
    else if (!strcmp(m, "linear") || !strcmp(m, "bilinear")) c.mode = RS_LINEAR;
    else return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "mode \"%s\" is not supported", m);
    c.ct = CT_ASYM;
    c.nm = NM_SIMPLE;
    c.cubic_a = -0.75;
    for (int d = 0; d < c.rank; d++) {
        c.in[d] = X->dims[d];
        c.scale[d] = 1.0;
    }
    if (opset < 7) {
        if (c.rank != 4) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "X must be 4-d");
        c.scale[2] = nne_attr_f(ctx, "height_scale", 1.0f);
        c.scale[3] = nne_attr_f(ctx, "width_scale", 1.0f);
    } else if (opset < 9) {
        const float *sv = NULL;
        int n = nne_attr_floats(ctx, "scales", &sv);
        if (n != c.rank || !sv)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scales has %d values, expected %d", n,
                                c.rank);
        for (int d = 0; d < c.rank; d++) c.scale[d] = sv[d];
    } else {
        const nne_tensor *S = nne_ctx_input(ctx, 1);
        if (!S) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input scales is required");
        NNE_TRY(nne_ctx_need_data(ctx, S));
        if (nne_tensor_numel(S) != c.rank)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scales has %lld values, expected %d",
                                (long long)nne_tensor_numel(S), c.rank);
        for (int d = 0; d < c.rank; d++) c.scale[d] = (double)(float)nne_tensor_get_f64(S, d);
    }
    for (int d = 0; d < c.rank; d++) {
        if (!(c.scale[d] > 0.0))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scale %g on axis %d, expected > 0",
                                c.scale[d], d);
        double o = floor((double)c.in[d] * c.scale[d]);
        if (!(o < 9e15))
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scale %g on axis %d gives a too large output",
                                c.scale[d], d);
        c.out[d] = (int64_t)o;
        c.resized[d] = 1;
    }
    return rs_execute(ctx, &c, X);
}

/* Multiply-adds: every output element sums the product of its axes' taps
 * (an antialiased downscale by a large factor has many); saturates. */
static int64_t rs_macs(nne_op_ctx *ctx) {
    const rs_state *st = nne_ctx_plan_state(ctx);
    if (!st) return 0;
    const int64_t cap = INT64_MAX / 4;
    int64_t n = 1;
    for (int d = 0; d < st->c.rank; d++) {
        int64_t f = st->c.out[d] * (int64_t)st->c.ntap[d];
        if (f == 0) return 0;
        n = n > cap / f ? cap : n * f;
    }
    return st->lin ? n : 0;
}

NNE_OP_DEFINE(Resize, "", "Resize", .infer = resize_run, .run = rs_kernel, .state_size = sizeof(rs_state),
              .state_free = rs_state_free, .macs = rs_macs);
NNE_OP_DEFINE(Upsample, "", "Upsample", .infer = upsample_run, .run = rs_kernel, .state_size = sizeof(rs_state),
              .state_free = rs_state_free, .macs = rs_macs);
