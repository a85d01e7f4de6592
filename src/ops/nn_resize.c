/*
 * nn_resize.c - Resize (10, 11, 13, 18, 19) and Upsample (1, 7, 9).
 *
 * Resizing is separable: for every resized axis and output coordinate we
 * compute a small list of (input index, weight) taps; the output is the
 * input interpolated along one resized axis at a time (in double, through
 * two scratch buffers; shrinking axes first, so no intermediate is larger
 * than the input or the output), which equals the weighted sum over the
 * tensor product of the axes' taps at the cost of their sum.
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
 * Float tensors resized on their last two axes only (images), with no
 * extrapolated coordinates, take a separable fast path (rs_fast_plane): each
 * needed input row is interpolated along W once per plane into a small row
 * cache, output rows blend the cached rows along H (in float), nearest
 * copies (a repeated source row is one row copy), and the planes are split
 * over the plan's threads.
 */
#include "ops/nn_util.h"
#include "core/core.h"
#include "core/threadpool.h"

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
#define RS_FAST_SLOTS 8 /* cached W-interpolated rows per plane (taps per H coordinate <= 4) */

typedef struct rs_state {
    rs_cfg c;
    size_t es;
    int lin;
    size_t io[NNE_MAX_DIMS], wo[NNE_MAX_DIMS], eo[NNE_MAX_DIMS]; /* offsets in taps */
    void *taps;
    size_t xo, yo; /* scratch layout: two buffers of maxel doubles (linear / cubic) */
    int order[NNE_MAX_DIMS], npass; /* axes interpolated, in this order */
    int any_ex;    /* some coordinate is outside (tf_crop_and_resize): extrapolation_value */
    /* the fast path (float, last two axes): taps as int32 / float */
    int fast, ntx, nty;
    int64_t planes, IH, IW, OH, OW;
    int32_t *fxi, *fyi;
    float *fxw, *fyw;
    void *ftaps;       /* owns fxi .. fyw */
    size_t fast_bytes; /* scratch of one part: the row cache */
    size_t fast_off;   /* the caller's row cache in its scratch */
} rs_state;

static void rs_state_free(void *state) {
    rs_state *st = state;
    nne_aligned_free(st->taps);
    nne_aligned_free(st->ftaps);
}

/* Input row iy interpolated along W into dst[0 .. OW). */
static void rs_fast_hrow(const rs_state *st, const float *x, int64_t iy, float *restrict dst) {
    const float *xr = x + iy * st->IW;
    int64_t OW = st->OW;
    if (st->ntx == 1) {
        for (int64_t o = 0; o < OW; o++) dst[o] = xr[st->fxi[o]];
        return;
    }
    int n = st->ntx;
    for (int64_t o = 0; o < OW; o++) {
        const int32_t *ix = st->fxi + o * n;
        const float *w = st->fxw + o * n;
        float acc = 0.0f;
        for (int t = 0; t < n; t++) acc += w[t] * xr[ix[t]];
        dst[o] = acc;
    }
}

/* One plane: x is IH x IW, y OH x OW; cache holds RS_FAST_SLOTS rows of OW. */
static void rs_fast_plane(const rs_state *st, const float *x, float *y, float *cache) {
    int64_t OW = st->OW, tag[RS_FAST_SLOTS];
    for (int k = 0; k < RS_FAST_SLOTS; k++) tag[k] = -1;
    for (int64_t oy = 0; oy < st->OH; oy++) {
        float *yr = y + oy * OW;
        if (st->nty == 1) {
            int64_t iy = st->fyi[oy];
            if (oy > 0 && st->fyi[oy - 1] == iy) memcpy(yr, yr - OW, (size_t)OW * sizeof(float));
            else rs_fast_hrow(st, x, iy, yr);
            continue;
        }
        for (int t = 0; t < st->nty; t++) {
            int64_t iy = st->fyi[oy * st->nty + t];
            float w = st->fyw[oy * st->nty + t];
            /* consecutive output rows read a sliding window of at most
             * nty + 1 consecutive input rows: no two collide mod 8 */
            int slot = (int)(iy % RS_FAST_SLOTS);
            float *h = cache + slot * OW;
            if (tag[slot] != iy) {
                rs_fast_hrow(st, x, iy, h);
                tag[slot] = iy;
            }
            if (t == 0)
                for (int64_t o = 0; o < OW; o++) yr[o] = w * h[o];
            else
                for (int64_t o = 0; o < OW; o++) yr[o] += w * h[o];
        }
    }
}

typedef struct rs_job {
    const rs_state *st;
    const float *x;
    float *y;
} rs_job;

static void rs_fast_part(void *arg, int part, int nparts, void *scratch) {
    const rs_job *j = arg;
    const rs_state *st = j->st;
    long long lo, hi;
    nne_split_range(st->planes, 1, part, nparts, &lo, &hi);
    float *cache = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
    for (long long p = lo; p < hi; p++)
        rs_fast_plane(st, j->x + p * st->IH * st->IW, j->y + p * st->OH * st->OW, cache);
}

/* Sets up the fast path when the geometry allows it (see the top). */
static nne_status rs_fast_plan(rs_state *st, const nne_tensor *X, const int64_t *const *idx,
                               const double *const *wt, const uint8_t *const *ex) {
    const rs_cfg *c = &st->c;
    int r = c->rank;
    if (X->dtype != NNE_DTYPE_FLOAT || r < 2 || c->ntap[r - 1] > 8 || c->ntap[r - 2] > 4) return NNE_OK;
    for (int d = 0; d < r - 2; d++)
        if (c->resized[d] || c->in[d] != c->out[d]) return NNE_OK;
    for (int d = r - 2; d < r; d++) {
        if (c->in[d] > INT32_MAX) return NNE_OK;
        for (int64_t o = 0; o < c->out[d]; o++)
            if (ex[d][o]) return NNE_OK;
    }
    int64_t planes = 1;
    for (int d = 0; d < r - 2; d++) planes *= c->in[d];
    int ntx = c->ntap[r - 1], nty = c->ntap[r - 2];
    int64_t OH = c->out[r - 2], OW = c->out[r - 1];
    size_t nx = (size_t)(OW * ntx), ny = (size_t)(OH * nty);
    st->ftaps = nne_aligned_alloc((nx + ny) * (sizeof(int32_t) + sizeof(float)) + 64);
    if (!st->ftaps) return NNE_ERR_OUT_OF_MEMORY;
    st->fxw = st->ftaps;
    st->fyw = st->fxw + nx;
    st->fxi = (int32_t *)(st->fyw + ny);
    st->fyi = st->fxi + nx;
    for (size_t k = 0; k < nx; k++) st->fxi[k] = (int32_t)idx[r - 1][k], st->fxw[k] = (float)wt[r - 1][k];
    for (size_t k = 0; k < ny; k++) st->fyi[k] = (int32_t)idx[r - 2][k], st->fyw[k] = (float)wt[r - 2][k];
    st->fast = 1;
    st->ntx = ntx, st->nty = nty;
    st->planes = planes;
    st->IH = c->in[r - 2], st->IW = c->in[r - 1], st->OH = OH, st->OW = OW;
    st->fast_bytes = (size_t)(RS_FAST_SLOTS * OW) * sizeof(float) + 64;
    return NNE_OK;
}

/* The axes that change, in the order the separable path interpolates them:
 * by out/in ascending (shrinking first), so the intermediates stay near
 * max(numel(X), numel(Y)). *maxel: the most elements X, Y or any
 * intermediate has (what each scratch buffer holds); *macs: the
 * multiply-adds, sum over passes of (elements after the pass) * taps. Both
 * saturate. */
static int rs_pass_order(const rs_cfg *c, int *order, int64_t *maxel, int64_t *macs) {
    int n = 0;
    for (int d = 0; d < c->rank; d++)
        if (c->resized[d] || c->in[d] != c->out[d]) order[n++] = d;
    for (int i = 1; i < n; i++) /* insertion sort, stable */
        for (int j = i; j > 0; j--) {
            int a = order[j - 1], b = order[j];
            if ((double)c->out[b] * (double)c->in[a] >= (double)c->out[a] * (double)c->in[b]) break;
            order[j - 1] = b, order[j] = a;
        }
    const int64_t cap = INT64_MAX / 4;
    int64_t cur[NNE_MAX_DIMS], total = 0, most = 0;
    memcpy(cur, c->in, sizeof cur);
    for (int i = -1; i < n; i++) {
        if (i >= 0) cur[order[i]] = c->out[order[i]];
        int64_t e = 1;
        for (int k = 0; k < c->rank; k++) e = cur[k] != 0 && e > cap / cur[k] ? cap : e * cur[k];
        if (e > most) most = e;
        if (i < 0) continue;
        int nt = c->ntap[order[i]] > 0 ? c->ntap[order[i]] : 1;
        e = e > cap / nt ? cap : e * nt;
        total = total > cap - e ? cap : total + e;
    }
    if (maxel) *maxel = most;
    if (macs) *macs = total;
    return n;
}

/* One separable pass: src has dims cur; dst gets the same with axis d of od
 * elements, dst[.., o, ..] = sum over t of w[o*nt + t] * src[.., idx[o*nt + t], ..]
 * (the taps summed in order, as the product form did). */
static void rs_axis_pass(const double *src, double *dst, const int64_t *cur, int rank, int d, int64_t od, int nt,
                         const int64_t *idx, const double *w) {
    int64_t outer = 1, inner = 1, id = cur[d];
    for (int k = 0; k < d; k++) outer *= cur[k];
    for (int k = d + 1; k < rank; k++) inner *= cur[k];
    for (int64_t ob = 0; ob < outer; ob++) {
        const double *sp = src + ob * id * inner;
        double *dp = dst + ob * od * inner;
        for (int64_t o = 0; o < od; o++) {
            const int64_t *ti = idx + o * nt;
            const double *tw = w + o * nt;
            double *y = dp + o * inner;
            if (inner == 1) {
                double acc = 0.0;
                for (int t = 0; t < nt; t++) acc += tw[t] * sp[ti[t]];
                y[0] = acc;
                continue;
            }
            const double *r = sp + ti[0] * inner;
            for (int64_t i = 0; i < inner; i++) y[i] = 0.0 + tw[0] * r[i];
            for (int t = 1; t < nt; t++) {
                r = sp + ti[t] * inner;
                double wt = tw[t];
                for (int64_t i = 0; i < inner; i++) y[i] += wt * r[i];
            }
        }
    }
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
    int order[NNE_MAX_DIMS];
    int64_t maxel = 0;
    int npass = rs_pass_order(c, order, &maxel, NULL);
    size_t xo = nn_carve_add(&cv, lin ? nne_size_elems(maxel, sizeof(double)) : 0);
    size_t yo = nn_carve_add(&cv, lin ? nne_size_elems(maxel, sizeof(double)) : 0);
    /* the fast path's row cache (the generic path's buffers then go unused) */
    size_t fo = 0;
    if (X->dtype == NNE_DTYPE_FLOAT && c->rank >= 2)
        fo = nn_carve_add(&cv, nne_size_elems(RS_FAST_SLOTS * c->out[c->rank - 1] + 16, sizeof(float)));
    nn_scratch(ctx, &cv);
    rs_state *st = nne_ctx_plan_state(ctx);
    if (!st) return NNE_OK;
    st->c = *c;
    st->es = es;
    st->lin = lin;
    st->xo = xo;
    st->yo = yo;
    st->fast_off = fo;
    st->fast = 0;
    st->ftaps = NULL;
    st->npass = npass;
    memcpy(st->order, order, sizeof order);
    st->any_ex = 0;
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
        for (int64_t o = 0; o < c->out[d]; o++) {
            ex[o] = (uint8_t)rs_axis_taps(c, d, o, idx + o * c->ntap[d], wt + o * c->ntap[d]);
            st->any_ex |= ex[o];
        }
    }
    const int64_t *ia[NNE_MAX_DIMS];
    const double *wa[NNE_MAX_DIMS];
    const uint8_t *ea[NNE_MAX_DIMS];
    for (int d = 0; d < c->rank; d++) {
        ia[d] = (const int64_t *)((char *)st->taps + io[d]);
        wa[d] = (const double *)((char *)st->taps + wo[d]);
        ea[d] = (const uint8_t *)((char *)st->taps + eo[d]);
    }
    if (rs_fast_plan(st, X, ia, wa, ea) != NNE_OK)
        return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate the resize taps");
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
    if (st->fast) {
        rs_job job = {st, X->data, Y->data};
        nne_threadpool *pool = nne_ctx_pool(a->ctx);
        int parts = total >= 32768 ? nne_threadpool_threads(pool) : 1;
        if (nne_threadpool_scratch_bytes(pool) < st->fast_bytes) parts = 1;
        if (parts > st->planes) parts = (int)st->planes;
        /* the caller's part: the row cache at the end of its scratch */
        nne_parallel(pool, parts, rs_fast_part, &job, (char *)base + st->fast_off);
        return NNE_OK;
    }
    const int64_t *idx[NNE_MAX_DIMS];
    const double *wt[NNE_MAX_DIMS];
    const uint8_t *ex[NNE_MAX_DIMS];
    for (int d = 0; d < c->rank; d++) {
        idx[d] = (const int64_t *)((const char *)st->taps + st->io[d]);
        wt[d] = (const double *)((const char *)st->taps + st->wo[d]);
        ex[d] = (const uint8_t *)((const char *)st->taps + st->eo[d]);
    }
    if (lin) {
        /* one resized axis at a time, ping-ponging between the two buffers */
        double *src = (double *)((char *)base + xo), *dst = (double *)((char *)base + yo);
        nne_load_f64(X, 0, 1, nne_tensor_numel(X), src);
        int64_t cur[NNE_MAX_DIMS];
        memcpy(cur, c->in, sizeof cur);
        for (int k = 0; k < st->npass; k++) {
            int d = st->order[k];
            rs_axis_pass(src, dst, cur, c->rank, d, c->out[d], c->ntap[d], idx[d], wt[d]);
            cur[d] = c->out[d];
            double *t = src;
            src = dst;
            dst = t;
        }
        if (st->any_ex) {
            /* an output with a coordinate outside the input on any axis */
            int64_t oc[NNE_MAX_DIMS] = {0};
            for (int64_t e = 0; e < total; e++) {
                int outside = 0;
                for (int d = 0; d < c->rank; d++) outside |= ex[d][oc[d]];
                if (outside) src[e] = c->extrap;
                for (int d = c->rank - 1; d >= 0; d--) {
                    if (++oc[d] < c->out[d]) break;
                    oc[d] = 0;
                }
            }
        }
        nne_store_f64(Y, 0, 1, total, src, NNE_CVT_RNE);
        return NNE_OK;
    }
    /* nearest: copy the element each output coordinate picks */
    int64_t xstride[NNE_MAX_DIMS];
    {
        int64_t acc = 1;
        for (int d = c->rank - 1; d >= 0; d--) {
            xstride[d] = acc;
            acc *= c->in[d];
        }
    }
    int64_t oc[NNE_MAX_DIMS] = {0};
    for (int64_t e = 0; e < total; e++) {
        int outside = 0;
        int64_t off = 0;
        for (int d = 0; d < c->rank; d++) {
            outside |= ex[d][oc[d]];
            off += idx[d][oc[d]] * xstride[d];
        }
        if (outside) {
            double v = c->extrap;
            nne_store_f64(Y, e, 1, 1, &v, NNE_CVT_RNE);
        } else {
            memcpy((char *)Y->data + e * (int64_t)es, (const char *)X->data + off * (int64_t)es, es);
        }
        for (int d = c->rank - 1; d >= 0; d--) {
            if (++oc[d] < c->out[d]) break;
            oc[d] = 0;
        }
    }
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

/* Multiply-adds (saturating): the separable passes (see rs_pass_order), or
 * on the fast path the W pass of each input row it reads and the H blend of
 * each output row. Nearest copies: 0. */
static int64_t rs_macs(nne_op_ctx *ctx) {
    const rs_state *st = nne_ctx_plan_state(ctx);
    if (!st || !st->lin) return 0;
    if (st->fast) {
        int64_t rows = st->OH * st->nty < st->IH ? st->OH * st->nty : st->IH;
        return st->planes * st->OW * (st->OH * st->nty + rows * st->ntx);
    }
    int order[NNE_MAX_DIMS];
    int64_t macs = 0;
    rs_pass_order(&st->c, order, NULL, &macs);
    return macs;
}

NNE_OP_DEFINE(Resize, "", "Resize", .infer = resize_run, .run = rs_kernel, .state_size = sizeof(rs_state),
              .state_free = rs_state_free, .macs = rs_macs);
NNE_OP_DEFINE(Upsample, "", "Upsample", .infer = upsample_run, .run = rs_kernel, .state_size = sizeof(rs_state),
              .state_free = rs_state_free, .macs = rs_macs);
