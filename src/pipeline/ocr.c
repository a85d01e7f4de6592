/*
 * ocr.c - post-processing of detection and OCR models: non-maximum
 * suppression, CTC greedy decoding, and PaddleOCR's DB (differentiable
 * binarization) text-box extraction.
 *
 * DB boxes, step by step (PaddleOCR ppocr/postprocess/db_postprocess.py does
 * the same with OpenCV and pyclipper):
 *   1. bitmap = prob > thresh;
 *   2. every 8-connected region of the bitmap, met in row-major order, is
 *      flood-filled; its convex hull is built from the leftmost and rightmost
 *      pixel of each of its rows (the hull of those equals the hull of the
 *      region, and of the outer contour OpenCV's findContours would trace);
 *   3. minimum-area rectangle of the hull: one of its sides lies on a hull
 *      edge, so each edge is tried (rotating calipers, quadratic in the hull
 *      size, which stays small for text regions);
 *   4. rectangles with a side < 3 px are dropped; the score is the mean
 *      probability over the pixels inside the rectangle (pixel centers within
 *      half a pixel of it, as cv2.fillPoly draws its boundary); below
 *      box_thresh it is dropped;
 *   5. unclip: the rectangle grows by d = area * unclip_ratio / perimeter on
 *      every side (pyclipper's round-joined offset of a rectangle has exactly
 *      this as its minimum-area rectangle); a side < 5 px drops it.
 */
#include "core/core.h"
#include "nnedge.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* --------------------------------------------------------------- NMS -- */

typedef struct scored {
    float score;
    int32_t idx;
} scored;

static int scored_cmp(const void *a, const void *b) {
    const scored *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static float box_iou(const float *a, const float *b) {
    float ax1 = fminf(a[0], a[2]), ax2 = fmaxf(a[0], a[2]), ay1 = fminf(a[1], a[3]), ay2 = fmaxf(a[1], a[3]);
    float bx1 = fminf(b[0], b[2]), bx2 = fmaxf(b[0], b[2]), by1 = fminf(b[1], b[3]), by2 = fmaxf(b[1], b[3]);
    float iw = fminf(ax2, bx2) - fmaxf(ax1, bx1), ih = fminf(ay2, by2) - fmaxf(ay1, by1);
    if (!(iw > 0) || !(ih > 0)) return 0;
    float inter = iw * ih;
    float uni = (ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter;
    return uni > 0 ? inter / uni : 0;
}

nne_status nne_nms(const float *boxes, const float *scores, int32_t n, float iou_thresh, float score_thresh,
                   int32_t *keep, int32_t *n_keep) {
    if (n < 0 || (n > 0 && (!boxes || !scores || !keep)) || !n_keep)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_nms: n = %d with a NULL array", (int)n);
    *n_keep = 0;
    if (n == 0) return NNE_OK;
    scored *order = nne_malloc(sizeof(scored) * (size_t)n);
    if (!order) return nne_error(NNE_ERR_OUT_OF_MEMORY, "nne_nms: no memory for %d boxes", (int)n);
    int32_t m = 0;
    for (int32_t i = 0; i < n; i++)
        if (scores[i] >= score_thresh) order[m++] = (scored){scores[i], i}; /* NaN scores never pass */
    qsort(order, (size_t)m, sizeof(scored), scored_cmp);
    int32_t k = 0;
    for (int32_t i = 0; i < m; i++) {
        const float *b = boxes + 4 * (size_t)order[i].idx;
        int ok = 1;
        for (int32_t j = 0; j < k && ok; j++)
            if (box_iou(b, boxes + 4 * (size_t)keep[j]) > iou_thresh) ok = 0;
        if (ok) keep[k++] = order[i].idx;
    }
    *n_keep = k;
    nne_free(order);
    return NNE_OK;
}

/* --------------------------------------------------------------- CTC -- */

nne_status nne_ctc_greedy_decode(const float *scores, int32_t steps, int32_t classes, int32_t blank,
                                 int32_t *labels, int32_t *n_labels, float *score) {
    if (steps < 0 || classes < 1 || blank < 0 || blank >= classes || (steps > 0 && (!scores || !labels)) || !n_labels)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_ctc_greedy_decode: steps %d, classes %d, blank %d (or a NULL array)",
                         (int)steps, (int)classes, (int)blank);
    int32_t n = 0, prev = -1;
    double sum = 0;
    for (int32_t t = 0; t < steps; t++) {
        const float *row = scores + (size_t)t * classes;
        int32_t best = 0;
        for (int32_t c = 1; c < classes; c++)
            if (row[c] > row[best]) best = c;
        if (best != blank && best != prev) {
            labels[n++] = best;
            sum += row[best];
        }
        prev = best;
    }
    *n_labels = n;
    if (score) *score = n ? (float)(sum / n) : 0.0f;
    return NNE_OK;
}

/* ---------------------------------------------------------- DB boxes -- */

typedef struct pt {
    double x, y;
} pt;

static int pt_cmp(const void *a, const void *b) {
    const pt *p = a, *q = b;
    if (p->x != q->x) return p->x < q->x ? -1 : 1;
    return p->y < q->y ? -1 : p->y > q->y;
}

static double cross(pt o, pt a, pt b) { return (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x); }

/* Andrew's monotone chain: the hull of p[0..n) (sorted in place) into h
 * (2n entries), counter-clockwise in y-down coordinates; returns its size. */
static int32_t convex_hull(pt *p, int32_t n, pt *h) {
    qsort(p, (size_t)n, sizeof(pt), pt_cmp);
    if (n < 3) {
        memcpy(h, p, sizeof(pt) * (size_t)n);
        return n;
    }
    int32_t k = 0;
    for (int32_t i = 0; i < n; i++) {
        while (k >= 2 && cross(h[k - 2], h[k - 1], p[i]) <= 0) k--;
        h[k++] = p[i];
    }
    for (int32_t i = n - 2, lo = k + 1; i >= 0; i--) {
        while (k >= lo && cross(h[k - 2], h[k - 1], p[i]) <= 0) k--;
        h[k++] = p[i];
    }
    return k - 1;
}

/* A rotated rectangle: center, unit axis e (its normal is (-e.y, e.x)) and
 * half extents along e and the normal. */
typedef struct rrect {
    pt c, e;
    double hw, hh;
} rrect;

/* Minimum-area rectangle of a convex hull of n >= 3 points. */
static rrect min_area_rect(const pt *h, int32_t n) {
    rrect best = {{0, 0}, {1, 0}, 0, 0};
    double best_area = INFINITY;
    for (int32_t i = 0; i < n; i++) {
        pt a = h[i], b = h[(i + 1) % n];
        double dx = b.x - a.x, dy = b.y - a.y, len = hypot(dx, dy);
        if (len == 0) continue;
        pt e = {dx / len, dy / len}, nn = {-e.y, e.x};
        double s0 = INFINITY, s1 = -INFINITY, t0 = INFINITY, t1 = -INFINITY;
        for (int32_t j = 0; j < n; j++) {
            double s = h[j].x * e.x + h[j].y * e.y, t = h[j].x * nn.x + h[j].y * nn.y;
            s0 = fmin(s0, s), s1 = fmax(s1, s), t0 = fmin(t0, t), t1 = fmax(t1, t);
        }
        double area = (s1 - s0) * (t1 - t0);
        if (area < best_area) {
            best_area = area;
            double sm = (s0 + s1) / 2, tm = (t0 + t1) / 2;
            best.c = (pt){sm * e.x + tm * nn.x, sm * e.y + tm * nn.y};
            best.e = e;
            best.hw = (s1 - s0) / 2;
            best.hh = (t1 - t0) / 2;
        }
    }
    return best;
}

/* The rectangle's corners ordered as PaddleOCR's get_mini_boxes orders them:
 * sorted by x, the left pair gives top-left (smaller y) and bottom-left, the
 * right pair top-right and bottom-right; out = TL, TR, BR, BL. */
static void rect_corners(const rrect *r, pt out[4]) {
    pt nn = {-r->e.y, r->e.x};
    pt c[4];
    const double sx[4] = {-1, 1, 1, -1}, sy[4] = {-1, -1, 1, 1};
    for (int i = 0; i < 4; i++)
        c[i] = (pt){r->c.x + sx[i] * r->hw * r->e.x + sy[i] * r->hh * nn.x,
                    r->c.y + sx[i] * r->hw * r->e.y + sy[i] * r->hh * nn.y};
    qsort(c, 4, sizeof(pt), pt_cmp);
    pt tl = c[0].y <= c[1].y ? c[0] : c[1], bl = c[0].y <= c[1].y ? c[1] : c[0];
    pt tr = c[2].y <= c[3].y ? c[2] : c[3], br = c[2].y <= c[3].y ? c[3] : c[2];
    out[0] = tl, out[1] = tr, out[2] = br, out[3] = bl;
}

/* Mean of prob over the pixels whose centers lie inside the rectangle or
 * within half a pixel of its edges. */
static double rect_score(const float *prob, int32_t H, int32_t W, const rrect *r) {
    pt c[4];
    rect_corners(r, c);
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int i = 0; i < 4; i++) x0 = fmin(x0, c[i].x), x1 = fmax(x1, c[i].x), y0 = fmin(y0, c[i].y), y1 = fmax(y1, c[i].y);
    int64_t xa = (int64_t)fmax(0, floor(x0)), xb = (int64_t)fmin(W - 1, ceil(x1));
    int64_t ya = (int64_t)fmax(0, floor(y0)), yb = (int64_t)fmin(H - 1, ceil(y1));
    pt nn = {-r->e.y, r->e.x};
    double sum = 0;
    int64_t cnt = 0;
    for (int64_t y = ya; y <= yb; y++) {
        for (int64_t x = xa; x <= xb; x++) {
            double dx = x - r->c.x, dy = y - r->c.y;
            double s = dx * r->e.x + dy * r->e.y, t = dx * nn.x + dy * nn.y;
            if (fabs(s) <= r->hw + 0.5 && fabs(t) <= r->hh + 0.5) {
                sum += prob[y * W + x];
                cnt++;
            }
        }
    }
    return cnt ? sum / (double)cnt : 0;
}

nne_status nne_ocr_db_boxes(const float *prob, int32_t height, int32_t width, float thresh, float box_thresh,
                            float unclip_ratio, nne_ocr_box *boxes, int32_t max_boxes, int32_t *n_boxes) {
    const char *fn = "nne_ocr_db_boxes";
    if (!prob || !n_boxes || height <= 0 || width <= 0 || max_boxes < 0 || (max_boxes > 0 && !boxes))
        return nne_error(NNE_ERR_INVALID_ARG, "%s: map %dx%d, max_boxes %d (or a NULL pointer)", fn, (int)width,
                         (int)height, (int)max_boxes);
    if (!isfinite(thresh) || !isfinite(box_thresh) || !(unclip_ratio >= 0) || !isfinite(unclip_ratio))
        return nne_error(NNE_ERR_INVALID_ARG, "%s: thresh %g, box_thresh %g, unclip_ratio %g must be finite (ratio >= 0)",
                         fn, thresh, box_thresh, unclip_ratio);
    *n_boxes = 0;
    size_t npx;
    if (!nne_mul_ok((size_t)height, (size_t)width, &npx) || npx > (size_t)INT32_MAX)
        return nne_error(NNE_ERR_INVALID_ARG, "%s: map %dx%d is too large", fn, (int)width, (int)height);
    const int32_t H = height, W = width;
    /* state: 0 below thresh, 1 above and unvisited, 2 visited */
    uint8_t *state = nne_malloc(npx);
    int32_t *stack = nne_malloc(sizeof(int32_t) * npx);
    int32_t *rmin = nne_malloc(sizeof(int32_t) * (size_t)H), *rmax = nne_malloc(sizeof(int32_t) * (size_t)H);
    pt *pts = nne_malloc(sizeof(pt) * 2 * (size_t)H), *hull = nne_malloc(sizeof(pt) * 4 * (size_t)H + sizeof(pt));
    if (!state || !stack || !rmin || !rmax || !pts || !hull) {
        nne_free(state), nne_free(stack), nne_free(rmin), nne_free(rmax), nne_free(pts), nne_free(hull);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "%s: no memory for a %dx%d map", fn, (int)W, (int)H);
    }
    for (size_t i = 0; i < npx; i++) state[i] = prob[i] > thresh;
    for (int32_t y = 0; y < H; y++) rmin[y] = INT32_MAX, rmax[y] = -1;
    int32_t nb = 0;
    for (size_t seed = 0; seed < npx && nb < max_boxes; seed++) {
        if (state[seed] != 1) continue;
        /* 1-2. flood fill, recording each row's extreme x */
        int32_t sp = 0, ymin = (int32_t)(seed / W), ymax = ymin;
        stack[sp++] = (int32_t)seed;
        state[seed] = 2;
        while (sp) {
            int32_t p = stack[--sp], py = p / W, px = p % W;
            if (px < rmin[py]) rmin[py] = px;
            if (px > rmax[py]) rmax[py] = px;
            if (py > ymax) ymax = py;
            for (int dy = -1; dy <= 1; dy++) {
                int32_t ny = py + dy;
                if (ny < 0 || ny >= H) continue;
                for (int dx = -1; dx <= 1; dx++) {
                    int32_t nx = px + dx;
                    if (nx < 0 || nx >= W) continue;
                    size_t q = (size_t)ny * W + nx;
                    if (state[q] == 1) {
                        state[q] = 2;
                        stack[sp++] = (int32_t)q;
                    }
                }
            }
        }
        int32_t np = 0;
        for (int32_t y = ymin; y <= ymax; y++) {
            if (rmax[y] < 0) continue;
            pts[np++] = (pt){rmin[y], y};
            if (rmax[y] != rmin[y]) pts[np++] = (pt){rmax[y], y};
            rmin[y] = INT32_MAX, rmax[y] = -1;
        }
        /* 3. minimum-area rectangle */
        int32_t nh = convex_hull(pts, np, hull);
        if (nh < 3) continue;
        rrect r = min_area_rect(hull, nh);
        /* 4. size and score */
        if (2 * fmin(r.hw, r.hh) < 3) continue;
        double sc = rect_score(prob, H, W, &r);
        if (sc < box_thresh) continue;
        /* 5. unclip */
        double w = 2 * r.hw, h = 2 * r.hh;
        double d = w * h * unclip_ratio / (2 * (w + h));
        r.hw += d, r.hh += d;
        if (2 * fmin(r.hw, r.hh) < 5) continue;
        pt c[4];
        rect_corners(&r, c);
        for (int i = 0; i < 4; i++) boxes[nb].pts[2 * i] = (float)c[i].x, boxes[nb].pts[2 * i + 1] = (float)c[i].y;
        boxes[nb].score = (float)sc;
        nb++;
    }
    *n_boxes = nb;
    nne_free(state), nne_free(stack), nne_free(rmin), nne_free(rmax), nne_free(pts), nne_free(hull);
    return NNE_OK;
}
