/*
 * image.c - image pre-processing on caller-owned buffers: resize (bilinear
 * half-pixel / align-corners, nearest, area), crop, rotated (perspective)
 * crop, 90-degree rotations, and normalization into a model's input tensor
 * (layout, channel order and dtype conversion). See nnedge.h, "image and OCR
 * pipeline", for the exact definitions each function follows.
 *
 * Resizing is separable: for each axis and output coordinate we compute a
 * short list of (source index, weight) taps, run the horizontal pass into a
 * float buffer of height_in x width_out (only the rows some vertical tap
 * reads), then the vertical pass into dst.
 * Accumulation is in double, so every mode is within float rounding of its
 * definition.
 */
#include "core/core.h"
#include "nnedge.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

/* ---------------------------------------------------------- helpers -- */

static int dtype_ok(nne_dtype dt) { return dt == NNE_DTYPE_UINT8 || dt == NNE_DTYPE_FLOAT; }

/* Checks an image and returns its element count in *count. */
static nne_status image_check(const char *fn, const char *which, const nne_image *im, size_t *count) {
    if (!im) return nne_error(NNE_ERR_INVALID_ARG, "%s: %s image is NULL", fn, which);
    if (im->width <= 0 || im->height <= 0 || im->channels < 1 || im->channels > 4)
        return nne_error(NNE_ERR_INVALID_ARG, "%s: %s image is %dx%d with %d channels; expected positive sizes and 1-4 channels",
                         fn, which, (int)im->width, (int)im->height, (int)im->channels);
    if (!dtype_ok(im->dtype))
        return nne_error(NNE_ERR_UNSUPPORTED, "%s: %s image has dtype %s; expected uint8 or float32", fn, which,
                         nne_dtype_name(im->dtype));
    if (!im->data) return nne_error(NNE_ERR_INVALID_ARG, "%s: %s image has no data", fn, which);
    size_t n;
    if (!nne_mul_ok((size_t)im->width, (size_t)im->height, &n) || !nne_mul_ok(n, (size_t)im->channels, &n))
        return nne_error(NNE_ERR_INVALID_ARG, "%s: %s image is too large", fn, which);
    if (count) *count = n;
    return NNE_OK;
}

static inline float load_px(const nne_image *im, size_t i) {
    return im->dtype == NNE_DTYPE_UINT8 ? (float)((const uint8_t *)im->data)[i] : ((const float *)im->data)[i];
}

static inline uint8_t sat_u8(double v) {
    if (!(v > 0)) return 0; /* also NaN */
    if (v >= 255) return 255;
    return (uint8_t)lrint(v);
}

static inline void store_px(nne_image *im, size_t i, double v) {
    if (im->dtype == NNE_DTYPE_UINT8)
        ((uint8_t *)im->data)[i] = sat_u8(v);
    else
        ((float *)im->data)[i] = (float)v;
}

/* ------------------------------------------------------------ resize -- */

/* Taps of one axis: output i reads idx[start[i] .. start[i] + cnt[i]) with
 * weights w[...]. */
typedef struct taps {
    int32_t *start, *cnt, *idx;
    double *w;
} taps;

static void taps_free(taps *t) {
    nne_free(t->start);
    nne_free(t->cnt);
    nne_free(t->idx);
    nne_free(t->w);
}

static int64_t clampi(int64_t v, int64_t lo, int64_t hi) { return v < lo ? lo : v > hi ? hi : v; }

static nne_status taps_make(int32_t in, int32_t out, nne_resize_mode mode, taps *t) {
    memset(t, 0, sizeof *t);
    /* area taps cover ceil(in / out) + 1 source pixels at most */
    int32_t per = mode == NNE_RESIZE_AREA ? (int32_t)((in + out - 1) / out) + 2 : 2;
    size_t cap = (size_t)out * (size_t)per;
    t->start = nne_malloc(sizeof(int32_t) * (size_t)out);
    t->cnt = nne_malloc(sizeof(int32_t) * (size_t)out);
    t->idx = nne_malloc(sizeof(int32_t) * cap);
    t->w = nne_malloc(sizeof(double) * cap);
    if (!t->start || !t->cnt || !t->idx || !t->w) {
        taps_free(t);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "nne_image_resize: no memory for %zu taps", cap);
    }
    double scale = (double)out / (double)in;
    int32_t k = 0;
    for (int32_t i = 0; i < out; i++) {
        t->start[i] = k;
        switch (mode) {
        case NNE_RESIZE_BILINEAR:
        case NNE_RESIZE_BILINEAR_ALIGN_CORNERS: {
            double x;
            if (mode == NNE_RESIZE_BILINEAR)
                x = ((double)i + 0.5) / scale - 0.5;
            else
                x = out > 1 ? (double)i * (double)(in - 1) / (double)(out - 1) : 0.0;
            if (x < 0) x = 0;
            if (x > in - 1) x = in - 1;
            double b = floor(x), f = x - b;
            t->idx[k] = (int32_t)b;
            t->w[k++] = 1.0 - f;
            t->idx[k] = (int32_t)clampi((int64_t)b + 1, 0, in - 1);
            t->w[k++] = f;
            break;
        }
        case NNE_RESIZE_NEAREST: {
            double x = ((double)i + 0.5) / scale - 0.5;
            double b = floor(x);
            /* round_prefer_floor: halves go down */
            int64_t j = (x - b == 0.5) ? (int64_t)b : (int64_t)floor(x + 0.5);
            t->idx[k] = (int32_t)clampi(j, 0, in - 1);
            t->w[k++] = 1.0;
            break;
        }
        case NNE_RESIZE_AREA: {
            /* source interval [x0, x1) in input pixels */
            double x0 = (double)i * in / out, x1 = (double)(i + 1) * in / out;
            int64_t j0 = (int64_t)floor(x0), j1 = (int64_t)ceil(x1);
            double len = x1 - x0;
            for (int64_t j = j0; j < j1 && j < in; j++) {
                double a = j > x0 ? (double)j : x0, b = (double)(j + 1) < x1 ? (double)(j + 1) : x1;
                if (b <= a) continue;
                t->idx[k] = (int32_t)j;
                t->w[k++] = (b - a) / len;
            }
            break;
        }
        }
        t->cnt[i] = k - t->start[i];
    }
    return NNE_OK;
}

/* One separable pass along one axis. Both images are seen as
 * [outer][axis][inner]: out[o][i][e] = sum over the taps k of output i of
 * w[k] * in[o][idx[k]][e], for o < n_outer (skipping o where skip[o] == 0,
 * when skip is given), i < n_out, e < inner. Strides are in elements. */
static void resize_pass(const nne_image *in, nne_image *out, const taps *t, int32_t n_outer, int32_t n_out,
                        size_t in_outer, size_t out_outer, size_t in_axis, size_t out_axis, size_t inner,
                        const uint8_t *skip) {
    for (int32_t o = 0; o < n_outer; o++) {
        if (skip && !skip[o]) continue;
        const size_t ib = (size_t)o * in_outer, ob = (size_t)o * out_outer;
        for (int32_t i = 0; i < n_out; i++) {
            const int32_t k0 = t->start[i], k1 = k0 + t->cnt[i];
            for (size_t e = 0; e < inner; e++) {
                double acc = 0;
                for (int32_t k = k0; k < k1; k++) acc += t->w[k] * load_px(in, ib + (size_t)t->idx[k] * in_axis + e);
                store_px(out, ob + (size_t)i * out_axis + e, acc);
            }
        }
    }
}

nne_status nne_image_resize(const nne_image *src, nne_image *dst, nne_resize_mode mode) {
    const char *fn = "nne_image_resize";
    nne_status st;
    if ((st = image_check(fn, "source", src, NULL)) != NNE_OK || (st = image_check(fn, "destination", dst, NULL)) != NNE_OK)
        return st;
    if (src->channels != dst->channels)
        return nne_error(NNE_ERR_INVALID_ARG, "%s: source has %d channels, destination %d; they must match", fn,
                         (int)src->channels, (int)dst->channels);
    if (mode != NNE_RESIZE_BILINEAR && mode != NNE_RESIZE_BILINEAR_ALIGN_CORNERS && mode != NNE_RESIZE_NEAREST &&
        mode != NNE_RESIZE_AREA)
        return nne_error(NNE_ERR_UNSUPPORTED, "%s: unknown resize mode %d", fn, (int)mode);
    const int32_t C = src->channels, wi = src->width, hi = src->height, wo = dst->width, ho = dst->height;
    taps tx, ty;
    if ((st = taps_make(wi, wo, mode, &tx)) != NNE_OK) return st;
    if ((st = taps_make(hi, ho, mode, &ty)) != NNE_OK) {
        taps_free(&tx);
        return st;
    }
    uint8_t *need = nne_calloc((size_t)hi, 1); /* source rows some vertical tap reads */
    if (!need) {
        taps_free(&tx);
        taps_free(&ty);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "%s: no memory for a %d-row map", fn, (int)hi);
    }
    double nrows = 0; /* rows the horizontal-first order filters */
    for (int32_t y = 0; y < ho; y++)
        for (int32_t k = ty.start[y]; k < ty.start[y] + ty.cnt[y]; k++)
            if (!need[ty.idx[k]]) {
                need[ty.idx[k]] = 1;
                nrows++;
            }
    /* The two passes in the cheaper order (multiply-adds per channel):
     * horizontal first filters every needed source row to wo columns, then
     * each output pixel sums its vertical taps; vertical first filters every
     * source column to ho rows, then each output pixel sums its horizontal
     * taps. A tall thin image (65025x1 to 17x13) costs 50x less vertical
     * first. */
    const double kx = (double)(tx.start[wo - 1] + tx.cnt[wo - 1]); /* taps of all wo columns */
    const double ky = (double)(ty.start[ho - 1] + ty.cnt[ho - 1]); /* taps of all ho rows */
    const int vfirst = (double)wi * ky + (double)ho * kx < nrows * kx + (double)wo * ky;
    size_t tmp_n;
    if (!nne_mul_ok(vfirst ? (size_t)ho : (size_t)hi, vfirst ? (size_t)wi : (size_t)wo, &tmp_n) ||
        !nne_mul_ok(tmp_n, (size_t)C * sizeof(float), &tmp_n)) {
        nne_free(need);
        taps_free(&tx);
        taps_free(&ty);
        return nne_error(NNE_ERR_INVALID_ARG, "%s: %dx%d -> %dx%d is too large", fn, (int)wi, (int)hi, (int)wo, (int)ho);
    }
    float *tmp = nne_malloc(tmp_n);
    if (!tmp) {
        nne_free(need);
        taps_free(&tx);
        taps_free(&ty);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "%s: no memory for a %zu-byte row buffer", fn, tmp_n);
    }
    /* tmp is a float image between the passes; both orders are two calls
     * of one one-axis pass */
    nne_image mid = {.width = vfirst ? wi : wo, .height = vfirst ? ho : hi, .channels = C,
                     .dtype = NNE_DTYPE_FLOAT, .data = tmp};
    const size_t rin = (size_t)wi * C, rmid = (size_t)mid.width * C, rout = (size_t)wo * C;
    if (vfirst) {
        resize_pass(src, &mid, &ty, 1, ho, 0, 0, rin, rin, rin, NULL);     /* every source column to ho rows */
        resize_pass(&mid, dst, &tx, ho, wo, rmid, rout, C, C, C, NULL);   /* then each row to wo columns */
    } else {
        /* only the source rows the vertical pass reads (a bilinear shrink
         * of a tall image reads 2 rows per output row) */
        resize_pass(src, &mid, &tx, hi, wo, rin, rmid, C, C, C, need);
        resize_pass(&mid, dst, &ty, 1, ho, 0, 0, rmid, rout, rout, NULL);
    }
    nne_free(tmp);
    nne_free(need);
    taps_free(&tx);
    taps_free(&ty);
    return NNE_OK;
}

/* -------------------------------------------------------------- crop -- */

nne_status nne_image_crop(const nne_image *src, int32_t x, int32_t y, nne_image *dst) {
    const char *fn = "nne_image_crop";
    nne_status st;
    if ((st = image_check(fn, "source", src, NULL)) != NNE_OK || (st = image_check(fn, "destination", dst, NULL)) != NNE_OK)
        return st;
    if (src->channels != dst->channels)
        return nne_error(NNE_ERR_INVALID_ARG, "%s: source has %d channels, destination %d; they must match", fn,
                         (int)src->channels, (int)dst->channels);
    if (x < 0 || y < 0 || (int64_t)x + dst->width > src->width || (int64_t)y + dst->height > src->height)
        return nne_error(NNE_ERR_INVALID_ARG, "%s: rectangle %dx%d at (%d, %d) is not inside the %dx%d image", fn,
                         (int)dst->width, (int)dst->height, (int)x, (int)y, (int)src->width, (int)src->height);
    const int32_t C = src->channels;
    for (int32_t r = 0; r < dst->height; r++)
        for (int32_t i = 0; i < dst->width * C; i++)
            store_px(dst, (size_t)r * dst->width * C + i, load_px(src, ((size_t)(y + r) * src->width + x) * C + i));
    return NNE_OK;
}

/* ------------------------------------------------------ warp / rotate -- */

/* Solves the 8x8 system a * h = b in place (Gaussian elimination with
 * partial pivoting). Returns 0 when it is singular. */
static int solve8(double a[8][9]) {
    for (int c = 0; c < 8; c++) {
        int p = c;
        for (int r = c + 1; r < 8; r++)
            if (fabs(a[r][c]) > fabs(a[p][c])) p = r;
        if (fabs(a[p][c]) < 1e-12) return 0;
        if (p != c)
            for (int k = 0; k < 9; k++) {
                double t = a[c][k];
                a[c][k] = a[p][k];
                a[p][k] = t;
            }
        for (int r = 0; r < 8; r++) {
            if (r == c) continue;
            double f = a[r][c] / a[c][c];
            for (int k = c; k < 9; k++) a[r][k] -= f * a[c][k];
        }
    }
    for (int r = 0; r < 8; r++) a[r][8] /= a[r][r];
    return 1;
}

nne_status nne_image_warp_quad(const nne_image *src, const float quad[8], nne_image *dst) {
    const char *fn = "nne_image_warp_quad";
    nne_status st;
    if ((st = image_check(fn, "source", src, NULL)) != NNE_OK || (st = image_check(fn, "destination", dst, NULL)) != NNE_OK)
        return st;
    if (src->channels != dst->channels)
        return nne_error(NNE_ERR_INVALID_ARG, "%s: source has %d channels, destination %d; they must match", fn,
                         (int)src->channels, (int)dst->channels);
    if (!quad) return nne_error(NNE_ERR_INVALID_ARG, "%s: quad is NULL", fn);
    for (int i = 0; i < 8; i++)
        if (!isfinite(quad[i])) return nne_error(NNE_ERR_INVALID_ARG, "%s: quad coordinate %d is not finite", fn, i);
    /* homography H (h8 = 1) with H * (u, v, 1) ~ (x, y, 1) for the four
     * corner pairs: two equations per pair */
    const double W = dst->width, Hh = dst->height;
    const double us[4] = {0, W, W, 0}, vs[4] = {0, 0, Hh, Hh};
    double a[8][9];
    for (int i = 0; i < 4; i++) {
        double u = us[i], v = vs[i], x = quad[2 * i], y = quad[2 * i + 1];
        double r0[9] = {u, v, 1, 0, 0, 0, -u * x, -v * x, x};
        double r1[9] = {0, 0, 0, u, v, 1, -u * y, -v * y, y};
        memcpy(a[2 * i], r0, sizeof r0);
        memcpy(a[2 * i + 1], r1, sizeof r1);
    }
    if (!solve8(a))
        return nne_error(NNE_ERR_INVALID_ARG, "%s: the quad (%g,%g) (%g,%g) (%g,%g) (%g,%g) is degenerate", fn, quad[0],
                         quad[1], quad[2], quad[3], quad[4], quad[5], quad[6], quad[7]);
    double h[8];
    for (int i = 0; i < 8; i++) h[i] = a[i][8];
    const int32_t C = src->channels, ws = src->width, hs = src->height;
    for (int32_t v = 0; v < dst->height; v++) {
        for (int32_t u = 0; u < dst->width; u++) {
            double d = h[6] * u + h[7] * v + 1.0;
            double x = (h[0] * u + h[1] * v + h[2]) / d, y = (h[3] * u + h[4] * v + h[5]) / d;
            if (!isfinite(x) || !isfinite(y)) x = y = 0;
            /* clamp far-away points first so floor() stays in range */
            if (x < -1) x = -1;
            if (x > ws) x = ws;
            if (y < -1) y = -1;
            if (y > hs) y = hs;
            double fx0 = floor(x), fy0 = floor(y), fx = x - fx0, fy = y - fy0;
            int64_t x0 = clampi((int64_t)fx0, 0, ws - 1), x1 = clampi((int64_t)fx0 + 1, 0, ws - 1);
            int64_t y0 = clampi((int64_t)fy0, 0, hs - 1), y1 = clampi((int64_t)fy0 + 1, 0, hs - 1);
            for (int32_t c = 0; c < C; c++) {
                double p00 = load_px(src, ((size_t)y0 * ws + x0) * C + c), p01 = load_px(src, ((size_t)y0 * ws + x1) * C + c);
                double p10 = load_px(src, ((size_t)y1 * ws + x0) * C + c), p11 = load_px(src, ((size_t)y1 * ws + x1) * C + c);
                double val = (p00 * (1 - fx) + p01 * fx) * (1 - fy) + (p10 * (1 - fx) + p11 * fx) * fy;
                store_px(dst, ((size_t)v * dst->width + u) * C + c, val);
            }
        }
    }
    return NNE_OK;
}

nne_status nne_image_rotate90(const nne_image *src, int32_t k, nne_image *dst) {
    const char *fn = "nne_image_rotate90";
    nne_status st;
    if ((st = image_check(fn, "source", src, NULL)) != NNE_OK || (st = image_check(fn, "destination", dst, NULL)) != NNE_OK)
        return st;
    k = ((k % 4) + 4) % 4;
    int32_t ew = (k & 1) ? src->height : src->width, eh = (k & 1) ? src->width : src->height;
    if (dst->channels != src->channels || dst->dtype != src->dtype || dst->width != ew || dst->height != eh)
        return nne_error(NNE_ERR_INVALID_ARG, "%s: destination is %dx%dx%d %s; expected %dx%dx%d %s for k=%d", fn,
                         (int)dst->width, (int)dst->height, (int)dst->channels, nne_dtype_name(dst->dtype), (int)ew,
                         (int)eh, (int)src->channels, nne_dtype_name(src->dtype), (int)k);
    const int32_t C = src->channels, W = src->width, H = src->height;
    const size_t es = nne_dtype_size(src->dtype) * (size_t)C;
    const uint8_t *s = src->data;
    uint8_t *d = dst->data;
    for (int32_t i = 0; i < eh; i++) {
        for (int32_t j = 0; j < ew; j++) {
            int32_t sy, sx; /* source pixel of out[i][j] */
            switch (k) {
            case 0: sy = i, sx = j; break;
            case 1: sy = j, sx = W - 1 - i; break;
            case 2: sy = H - 1 - i, sx = W - 1 - j; break;
            default: sy = H - 1 - j, sx = i; break;
            }
            memcpy(d + ((size_t)i * ew + j) * es, s + ((size_t)sy * W + sx) * es, es);
        }
    }
    return NNE_OK;
}

/* --------------------------------------------------------- to tensor -- */

nne_status nne_image_to_tensor(const nne_image *src, float scale, const float *mean, const float *std,
                               nne_layout layout, int32_t swap_rb, nne_tensor *dst) {
    const char *fn = "nne_image_to_tensor";
    nne_status st;
    if ((st = image_check(fn, "source", src, NULL)) != NNE_OK) return st;
    if (!dst || !dst->data) return nne_error(NNE_ERR_INVALID_ARG, "%s: destination tensor or its data is NULL", fn);
    if (layout != NNE_LAYOUT_NCHW && layout != NNE_LAYOUT_NHWC)
        return nne_error(NNE_ERR_UNSUPPORTED, "%s: unknown layout %d", fn, (int)layout);
    if (dst->dtype != NNE_DTYPE_FLOAT && dst->dtype != NNE_DTYPE_UINT8 && dst->dtype != NNE_DTYPE_INT8)
        return nne_error(NNE_ERR_UNSUPPORTED, "%s: destination dtype %s; expected float32, uint8 or int8", fn,
                         nne_dtype_name(dst->dtype));
    const int32_t C = src->channels;
    int64_t TC = layout == NNE_LAYOUT_NCHW ? dst->dims[1] : dst->dims[3];
    int64_t TH = layout == NNE_LAYOUT_NCHW ? dst->dims[2] : dst->dims[1];
    int64_t TW = layout == NNE_LAYOUT_NCHW ? dst->dims[3] : dst->dims[2];
    if (dst->ndim != 4 || dst->dims[0] != 1 || TC != C || TH < src->height || TW < src->width)
        return nne_error(NNE_ERR_INVALID_ARG,
                         "%s: destination must be [1, %s] with C = %d and H, W at least %d, %d (got ndim %d, dims %lld %lld %lld %lld)",
                         fn, layout == NNE_LAYOUT_NCHW ? "C, H, W" : "H, W, C", (int)C, (int)src->height,
                         (int)src->width, (int)dst->ndim, (long long)dst->dims[0], (long long)dst->dims[1],
                         (long long)dst->dims[2], (long long)dst->dims[3]);
    if (swap_rb && C < 3) return nne_error(NNE_ERR_INVALID_ARG, "%s: swap_rb needs 3 or 4 channels, not %d", fn, (int)C);
    for (int32_t c = 0; c < C; c++)
        if (std && !(std[c] != 0))
            return nne_error(NNE_ERR_INVALID_ARG, "%s: std[%d] is %g; it must be non-zero", fn, (int)c, std ? std[c] : 0.0);
    size_t total;
    if (nne_tensor_nbytes_checked(dst, &total) != NNE_OK) return NNE_ERR_INVALID_ARG;
    memset(dst->data, 0, total);
    for (int64_t y = 0; y < src->height; y++) {
        for (int64_t x = 0; x < src->width; x++) {
            for (int32_t c = 0; c < C; c++) {
                int32_t sc = swap_rb && c < 3 ? 2 - c : c; /* tensor channel c reads source channel sc */
                double v = (double)load_px(src, ((size_t)y * src->width + x) * C + sc) * scale;
                if (mean) v -= mean[c];
                if (std) v /= std[c];
                size_t o = layout == NNE_LAYOUT_NCHW ? ((size_t)c * TH + y) * TW + x : ((size_t)y * TW + x) * C + c;
                if (dst->dtype == NNE_DTYPE_FLOAT)
                    ((float *)dst->data)[o] = (float)v;
                else if (dst->dtype == NNE_DTYPE_UINT8)
                    ((uint8_t *)dst->data)[o] = sat_u8(v);
                else {
                    double r = isnan(v) ? 0 : v < -128 ? -128 : v > 127 ? 127 : v;
                    ((int8_t *)dst->data)[o] = (int8_t)lrint(r);
                }
            }
        }
    }
    return NNE_OK;
}

nne_status nne_image_from_tensor(const nne_tensor *src, nne_layout layout, float scale, float bias, nne_image *dst) {
    const char *fn = "nne_image_from_tensor";
    nne_status st;
    if ((st = image_check(fn, "destination", dst, NULL)) != NNE_OK) return st;
    if (!src || !src->data) return nne_error(NNE_ERR_INVALID_ARG, "%s: source tensor or its data is NULL", fn);
    if (layout != NNE_LAYOUT_NCHW && layout != NNE_LAYOUT_NHWC)
        return nne_error(NNE_ERR_UNSUPPORTED, "%s: unknown layout %d", fn, (int)layout);
    if (src->dtype != NNE_DTYPE_FLOAT)
        return nne_error(NNE_ERR_UNSUPPORTED, "%s: source dtype %s; expected float32", fn, nne_dtype_name(src->dtype));
    const int nchw = layout == NNE_LAYOUT_NCHW;
    if (src->ndim != 4 || src->dims[0] != 1 || src->dims[nchw ? 1 : 3] != dst->channels ||
        src->dims[nchw ? 2 : 1] != dst->height || src->dims[nchw ? 3 : 2] != dst->width)
        return nne_error(NNE_ERR_INVALID_ARG, "%s: source must be [1, %s] = %d, %d, %d for a %dx%d image with %d channels", fn,
                         nchw ? "C, H, W" : "H, W, C", nchw ? (int)dst->channels : (int)dst->height,
                         nchw ? (int)dst->height : (int)dst->width, nchw ? (int)dst->width : (int)dst->channels,
                         (int)dst->width, (int)dst->height, (int)dst->channels);
    const float *in = src->data;
    const int32_t C = dst->channels, H = dst->height, W = dst->width;
    for (int32_t y = 0; y < H; y++)
        for (int32_t x = 0; x < W; x++)
            for (int32_t c = 0; c < C; c++) {
                size_t i = nchw ? ((size_t)c * H + y) * W + x : ((size_t)y * W + x) * C + c;
                store_px(dst, ((size_t)y * W + x) * C + c, (double)in[i] * scale + bias);
            }
    return NNE_OK;
}
