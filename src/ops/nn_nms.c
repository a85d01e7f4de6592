/*
 * nn_nms.c - NonMaxSuppression (opsets 10 and 11).
 *
 * For each (batch, class): boxes scoring above score_threshold are taken in
 * order of decreasing score (ties: lower box index first); a box is selected
 * unless its IoU with an already selected box is greater than iou_threshold,
 * until max_output_boxes_per_class boxes are selected. The output lists
 * [batch, class, box] triples in that order, so its length depends on the
 * data: the op is always shaped at run time (or folded when every input is a
 * constant). In phases: infer selects once into a temporary buffer to count
 * the boxes (infer may allocate, run may not); planning keeps the
 * parameters, and run selects again in scratch, writing the output.
 */
#include "ops/op.h"
#include "core/core.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    float score;
    int64_t idx;
} nms_cand;

static int cand_cmp(const void *pa, const void *pb) {
    const nms_cand *a = pa, *b = pb;
    if (a->score != b->score) return a->score > b->score ? -1 : 1;
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Box as (ymin, xmin, ymax, xmax). */
static void box_corners(const float *b, int center, float *o) {
    if (center) { /* [x_center, y_center, width, height] */
        float hw = b[2] * 0.5f, hh = b[3] * 0.5f;
        o[0] = b[1] - hh;
        o[1] = b[0] - hw;
        o[2] = b[1] + hh;
        o[3] = b[0] + hw;
    } else { /* [y1, x1, y2, x2], any diagonal */
        o[0] = b[0] < b[2] ? b[0] : b[2];
        o[2] = b[0] < b[2] ? b[2] : b[0];
        o[1] = b[1] < b[3] ? b[1] : b[3];
        o[3] = b[1] < b[3] ? b[3] : b[1];
    }
}

/* 1 when the IoU of a and b (corner form) exceeds thr. */
static int iou_over(const float *a, const float *b, float thr) {
    float area_a = (a[2] - a[0]) * (a[3] - a[1]), area_b = (b[2] - b[0]) * (b[3] - b[1]);
    if (area_a <= 0.f || area_b <= 0.f) return 0;
    float y0 = a[0] > b[0] ? a[0] : b[0], x0 = a[1] > b[1] ? a[1] : b[1];
    float y1 = a[2] < b[2] ? a[2] : b[2], x1 = a[3] < b[3] ? a[3] : b[3];
    float ih = y1 - y0, iw = x1 - x0;
    if (ih <= 0.f || iw <= 0.f) return 0;
    float inter = ih * iw;
    float iou = inter / (area_a + area_b - inter);
    return iou > thr;
}

static nne_status nms_scalar(nne_op_ctx *ctx, const nne_tensor *t, const char *what) {
    if (t && nne_tensor_numel(t) != 1) {
        char b[64];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s must hold one value, got shape %s", what,
                            nne_dims_str(t->ndim, t->dims, b, sizeof b));
    }
    return NNE_OK;
}

typedef struct nms_state {
    int center, has_score_thr;
    int64_t max_out;
    float iou_thr, score_thr;
} nms_state;

/* Select boxes; writes the triples to trip when non-NULL. cand holds ns
 * candidates, sel ns corner boxes. Returns the number selected. */
static int64_t nms_select(const nms_state *p, const nne_tensor *boxes, const nne_tensor *scores, nms_cand *cand,
                          float *sel, int64_t *trip) {
    const int64_t nb = boxes->dims[0], nc = scores->dims[1], ns = boxes->dims[1];
    int64_t max_out = p->max_out, nsel_all = 0;
    const float *B = boxes->data, *S = scores->data;
    for (int64_t b = 0; b < nb && max_out > 0; b++) {
        for (int64_t c = 0; c < nc; c++) {
            const float *s = S + (b * nc + c) * ns;
            int64_t n = 0;
            for (int64_t i = 0; i < ns; i++)
                if (s[i] == s[i] && (!p->has_score_thr || s[i] > p->score_thr)) { /* NaN never selected */
                    cand[n].score = s[i];
                    cand[n].idx = i;
                    n++;
                }
            qsort(cand, (size_t)n, sizeof *cand, cand_cmp);
            int64_t nsel = 0;
            for (int64_t k = 0; k < n && nsel < max_out; k++) {
                float box[4];
                box_corners(B + (b * ns + cand[k].idx) * 4, p->center, box);
                int keep = 1;
                for (int64_t j = 0; j < nsel && keep; j++)
                    if (iou_over(box, sel + j * 4, p->iou_thr)) keep = 0;
                if (!keep) continue;
                memcpy(sel + nsel * 4, box, sizeof box);
                nsel++;
                if (trip) {
                    trip[nsel_all * 3] = b;
                    trip[nsel_all * 3 + 1] = c;
                    trip[nsel_all * 3 + 2] = cand[k].idx;
                }
                nsel_all++;
            }
        }
    }
    return nsel_all;
}

static size_t nms_scratch_bytes(int64_t ns) {
    return nne_size_add(nne_size_elems(ns, sizeof(nms_cand)), nne_size_elems(ns, 4 * sizeof(float)));
}

static nne_status nms_infer(nne_op_ctx *ctx) {
    const nne_tensor *boxes = nne_ctx_input(ctx, 0), *scores = nne_ctx_input(ctx, 1);
    const nne_tensor *tmax = nne_ctx_input(ctx, 2), *tiou = nne_ctx_input(ctx, 3), *tscore = nne_ctx_input(ctx, 4);
    if (!boxes || !scores) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs boxes and scores are required");
    if (boxes->dtype != NNE_DTYPE_FLOAT || scores->dtype != NNE_DTYPE_FLOAT)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "boxes/scores dtype %s/%s not supported (float only)",
                            nne_dtype_name(boxes->dtype), nne_dtype_name(scores->dtype));
    char b1[128], b2[128];
    if (boxes->ndim != 3 || boxes->dims[2] != 4 || scores->ndim != 3 || scores->dims[0] != boxes->dims[0] ||
        scores->dims[2] != boxes->dims[1])
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "boxes %s and scores %s: expected [batches, boxes, 4] and [batches, classes, boxes]",
                            nne_dims_str(boxes->ndim, boxes->dims, b1, sizeof b1),
                            nne_dims_str(scores->ndim, scores->dims, b2, sizeof b2));
    NNE_TRY(nms_scalar(ctx, tmax, "max_output_boxes_per_class"));
    NNE_TRY(nms_scalar(ctx, tiou, "iou_threshold"));
    NNE_TRY(nms_scalar(ctx, tscore, "score_threshold"));
    if (tmax && !nne_dtype_is_int(tmax->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "max_output_boxes_per_class must be int64, got %s",
                            nne_dtype_name(tmax->dtype));
    int center = (int)nne_attr_i(ctx, "center_point_box", 0);
    if (center != 0 && center != 1)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "center_point_box must be 0 or 1, got %d", center);
    /* the output length depends on the data: shape at run time */
    const nne_tensor *all[5] = {boxes, scores, tmax, tiou, tscore};
    nne_status need = NNE_OK;
    for (int i = 0; i < 5; i++)
        if (all[i] && nne_ctx_need_data(ctx, all[i]) != NNE_OK) need = NNE_DYNAMIC;
    NNE_TRY(need);
    const int64_t ns = boxes->dims[1];
    nms_state p = {.center = center, .has_score_thr = tscore != NULL,
                   .max_out = tmax ? nne_tensor_get_i64(tmax, 0) : 0,
                   .iou_thr = tiou ? (float)nne_tensor_get_f64(tiou, 0) : 0.f,
                   .score_thr = tscore ? (float)nne_tensor_get_f64(tscore, 0) : 0.f};
    if (p.max_out < 0) p.max_out = 0;
    if (p.max_out > ns) p.max_out = ns;
    size_t bytes = nms_scratch_bytes(ns);
    nms_state *st = nne_ctx_plan_state(ctx);
    if (st) { /* outputs already declared */
        *st = p;
        nne_ctx_scratch(ctx, bytes);
        return NNE_OK;
    }
    uint8_t *buf = nne_malloc(bytes ? bytes : 1);
    if (!buf) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes", bytes);
    int64_t n = nms_select(&p, boxes, scores, (nms_cand *)buf,
                           (float *)(buf + nne_size_elems(ns, sizeof(nms_cand))), NULL);
    nne_free(buf);
    nne_tensor *out;
    int64_t dims[2] = {n, 3};
    return nne_ctx_output(ctx, 0, NNE_DTYPE_INT64, 2, dims, &out);
}

static nne_status nms_kernel(const void *state, const nne_kernel_args *a) {
    const nms_state *st = state;
    const nne_tensor *boxes = a->in[0], *scores = a->in[1];
    nne_tensor *out = a->out[0];
    const int64_t ns = boxes->dims[1];
    uint8_t *sc = a->scratch;
    int64_t n = nms_select(st, boxes, scores, (nms_cand *)sc, (float *)(sc + nne_size_elems(ns, sizeof(nms_cand))),
                           out->data);
    if (n != out->dims[0]) /* the data changed between infer and run */
        return nne_ctx_fail(a->ctx, NNE_ERR_INTERNAL, "selected %lld boxes, %lld at infer", (long long)n,
                            (long long)out->dims[0]);
    return NNE_OK;
}

NNE_OP_DEFINE(NonMaxSuppression, "", "NonMaxSuppression", .infer = nms_infer, .run = nms_kernel,
              .state_size = sizeof(nms_state));
