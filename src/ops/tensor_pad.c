/*
 * tensor_pad.c - Pad and CenterCropPad.
 * Pad: pads from the `paddings` (opset 1) / `pads` (2-10) attribute or the
 * pads input (>= 11), optional constant_value input (>= 11) or `value`
 * attribute, optional axes input (>= 18); modes constant, reflect, edge and
 * wrap (>= 19). Negative pads crop.
 * Constant mode (and CenterCropPad, which pads with zeros) fills the output
 * and copies the overlapping box in one strided copy; the other modes map
 * every output coordinate back to an input coordinate per axis.
 */
#include "ops/tensor_util.h"

#include <string.h>

enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP };

/* Copy the part of x that lands inside y when output coordinate o maps to
 * input coordinate o - shift[k] on each axis. */
static void copy_overlap(nne_tensor *y, const nne_tensor *x, size_t es, const int64_t *shift) {
    int r = x->ndim;
    int64_t istr[NNE_MAX_DIMS], ostr[NNE_MAX_DIMS], len[NNE_MAX_DIMS];
    nne_tu_strides(r, x->dims, istr);
    nne_tu_strides(r, y->dims, ostr);
    int64_t ioff = 0, ooff = 0;
    for (int k = 0; k < r; k++) {
        int64_t lo = shift[k] < 0 ? -shift[k] : 0;
        int64_t hi = y->dims[k] - shift[k];
        if (hi > x->dims[k]) hi = x->dims[k];
        if (hi <= lo) return;
        len[k] = hi - lo;
        ioff += lo * istr[k];
        ooff += (lo + shift[k]) * ostr[k];
    }
    nne_tu_copy_nd((char *)y->data + ooff * (int64_t)es, ostr,
                   (const char *)x->data + ioff * (int64_t)es, istr, es, r, len);
}

static int64_t map_index(int64_t o, int64_t pb, int64_t d, int mode) {
    int64_t i = o - pb;
    if (i >= 0 && i < d) return i;
    switch (mode) {
    case PAD_EDGE: return i < 0 ? 0 : d - 1;
    case PAD_WRAP: return ((i % d) + d) % d;
    case PAD_REFLECT: {
        if (d == 1) return 0;
        int64_t p = 2 * (d - 1);
        i = ((i % p) + p) % p;
        return i >= d ? p - i : i;
    }
    default: return -1;
    }
}

/* Pad in phases: pad_run is infer (pads are an attribute or a constant
 * input when planned); when planning it keeps the mode and the pads. */
typedef struct pad_state {
    int mode, opset;
    size_t es;
    float value;                 /* opset < 11: the value attribute */
    int64_t pb[NNE_MAX_DIMS];    /* pads at the start of each axis */
} pad_state;

static nne_status pad_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input 0 is missing");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    int r = x->ndim, opset = nne_ctx_opset(ctx);
    const char *ms = nne_attr_s(ctx, "mode", "constant");
    int mode;
    if (!strcmp(ms, "constant")) mode = PAD_CONSTANT;
    else if (!strcmp(ms, "reflect")) mode = PAD_REFLECT;
    else if (!strcmp(ms, "edge")) mode = PAD_EDGE;
    else if (!strcmp(ms, "wrap") && opset >= 19) mode = PAD_WRAP;
    else
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "mode \"%s\" invalid at opset %d (expected constant, reflect, edge%s)", ms,
                            opset, opset >= 19 ? ", wrap" : "");

    int64_t pads[2 * NNE_MAX_DIMS], np = 0, axv[NNE_MAX_DIMS], na = -1;
    if (opset < 11) {
        const char *an = opset < 2 ? "paddings" : "pads";
        const int64_t *v = NULL;
        int c = nne_attr_has(ctx, an) ? nne_attr_ints(ctx, an, &v) : -1;
        if (c < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "attribute '%s' is required", an);
        if (c > 2 * NNE_MAX_DIMS)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s has %d values, expected %d", an, c, 2 * r);
        for (int i = 0; i < c; i++) pads[i] = v[i];
        np = c;
    } else {
        const nne_tensor *pt = nne_ctx_input(ctx, 1);
        if (!pt) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input pads is required");
        const nne_tensor *at = opset >= 18 ? nne_ctx_input(ctx, 3) : NULL;
        nne_status s1 = nne_ctx_need_data(ctx, pt);
        nne_status s2 = at ? nne_ctx_need_data(ctx, at) : NNE_OK;
        NNE_TRY(s1);
        NNE_TRY(s2);
        NNE_TRY(nne_tu_read_ints(ctx, pt, "pads", pads, 2 * NNE_MAX_DIMS, &np));
        if (at) NNE_TRY(nne_tu_read_ints(ctx, at, "axes", axv, NNE_MAX_DIMS, &na));
    }
    int ax[NNE_MAX_DIMS], nax;
    if (na >= 0) {
        NNE_TRY(nne_tu_axes(ctx, axv, na, r, "axes", ax));
        nax = (int)na;
    } else {
        for (int i = 0; i < r; i++) ax[i] = i;
        nax = r;
    }
    if (np != 2 * nax)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "pads has %lld values, expected %d (2 x %d axes)",
                            (long long)np, 2 * nax, nax);
    int64_t pb[NNE_MAX_DIMS] = {0}, pe[NNE_MAX_DIMS] = {0}, od[NNE_MAX_DIMS];
    for (int i = 0; i < nax; i++) {
        pb[ax[i]] = pads[i];
        pe[ax[i]] = pads[i + nax];
    }
    for (int k = 0; k < r; k++) {
        int64_t big = (int64_t)1 << 40;
        if (pb[k] > big || pb[k] < -big || pe[k] > big || pe[k] < -big)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "pads for axis %d too large", k);
        od[k] = x->dims[k] + pb[k] + pe[k];
        if (od[k] < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "pads %lld,%lld on axis %d of size %lld give a negative size", (long long)pb[k],
                                (long long)pe[k], k, (long long)x->dims[k]);
        if (mode != PAD_CONSTANT && x->dims[k] == 0 && od[k] > 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "cannot pad empty axis %d in %s mode", k, ms);
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, r, od, &y));
    pad_state *pst = nne_ctx_plan_state(ctx);
    if (pst) {
        *pst = (pad_state){.mode = mode, .opset = opset, .es = es,
                           .value = opset < 11 ? nne_attr_f(ctx, "value", 0.0f) : 0.0f};
        memcpy(pst->pb, pb, sizeof pst->pb);
    }
    return NNE_OK;
}

static nne_status pad_kernel(const void *state, const nne_kernel_args *a) {
    const pad_state *pst = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    int mode = pst->mode, opset = pst->opset, r = x->ndim;
    size_t es = pst->es;
    const int64_t *pb = pst->pb, *od = y->dims;
    int64_t on = nne_tensor_numel(y);
    if (on == 0) return NNE_OK;

    if (mode == PAD_CONSTANT) {
        unsigned char val[16] = {0};
        if (opset < 11) {
            nne_st_f64(val, x->dtype, 0, pst->value, NNE_CVT_WRAP);
        } else {
            /* the constant value is an input: data, read on every run */
            const nne_tensor *cv = a->n_in > 2 ? a->in[2] : NULL;
            if (cv && nne_tensor_numel(cv) > 0) {
                if (cv->dtype == x->dtype) memcpy(val, cv->data, es);
                else nne_st_f64(val, x->dtype, 0, nne_ld_f64(cv->data, cv->dtype, 0), NNE_CVT_WRAP);
            }
        }
        nne_tu_fill(y->data, val, es, on);
        copy_overlap(y, x, es, pb);
        return NNE_OK;
    }

    /* reflect / edge / wrap: odometer over output rows (all but the last
     * axis), mapped element by element along the last axis */
    int64_t istr[NNE_MAX_DIMS];
    nne_tu_strides(r, x->dims, istr);
    char *d = y->data;
    const char *s = x->data;
    if (r == 0) {
        memcpy(d, s, es);
        return NNE_OK;
    }
    int64_t pos[NNE_MAX_DIMS] = {0};
    int last = r - 1;
    for (;;) {
        int64_t base = 0;
        for (int k = 0; k < last; k++) base += map_index(pos[k], pb[k], x->dims[k], mode) * istr[k];
        for (int64_t j = 0; j < od[last]; j++) {
            int64_t i = map_index(j, pb[last], x->dims[last], mode);
            memcpy(d, s + (size_t)(base + i) * es, es);
            d += es;
        }
        int k = last - 1;
        while (k >= 0 && ++pos[k] == od[k]) pos[k--] = 0;
        if (k < 0) break;
    }
    return NNE_OK;
}
NNE_OP_DEFINE(Pad, "", "Pad", .infer = pad_run, .run = pad_kernel, .state_size = sizeof(pad_state));

/* CenterCropPad: the crop/pad shift of every axis computed once per plan (shape is data: NNE_DYNAMIC unless constant) */
typedef struct ccp_state {
    size_t es;
    int64_t shift[NNE_MAX_DIMS];
} ccp_state;

static nne_status center_crop_pad_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *st = nne_ctx_input(ctx, 1);
    if (!x || !st) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "inputs input_data and shape are required");
    size_t es;
    NNE_TRY(nne_tu_esize(ctx, x->dtype, &es));
    int r = x->ndim;
    NNE_TRY(nne_ctx_need_data(ctx, st));
    int64_t shp[NNE_MAX_DIMS], ns;
    NNE_TRY(nne_tu_read_ints(ctx, st, "shape", shp, NNE_MAX_DIMS, &ns));
    int ax[NNE_MAX_DIMS], nax = r;
    const int64_t *av = NULL;
    if (nne_attr_has(ctx, "axes")) {
        int c = nne_attr_ints(ctx, "axes", &av);
        if (c < 0) c = 0;
        if (c > r) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axes has %d values for rank %d", c, r);
        NNE_TRY(nne_tu_axes(ctx, av, c, r, "axes", ax));
        nax = c;
    } else {
        for (int i = 0; i < r; i++) ax[i] = i;
    }
    if (ns != nax)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "shape has %lld values, expected %d (one per axis)",
                            (long long)ns, nax);
    int64_t od[NNE_MAX_DIMS], shift[NNE_MAX_DIMS];
    for (int k = 0; k < r; k++) {
        od[k] = x->dims[k];
        shift[k] = 0;
    }
    for (int i = 0; i < nax; i++) {
        int k = ax[i];
        if (shp[i] < 0)
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "shape[%d] = %lld is negative", i,
                                (long long)shp[i]);
        od[k] = shp[i];
        /* crop: start (in - out) / 2 rounded down; pad: (out - in) / 2 before */
        shift[k] = od[k] >= x->dims[k] ? (od[k] - x->dims[k]) / 2 : -((x->dims[k] - od[k]) / 2);
    }
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, r, od, &y));
    ccp_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->es = es;
        memcpy(st_->shift, shift, sizeof st_->shift);
    }
    return NNE_OK;
}

static nne_status ccp_kernel(const void *state, const nne_kernel_args *a) {
    const ccp_state *st_ = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    size_t es = st_->es;
    const int64_t *shift = st_->shift;
    int64_t on = nne_tensor_numel(y);
    if (on == 0) return NNE_OK;
    memset(y->data, 0, (size_t)on * es);
    copy_overlap(y, x, es, shift);
    return NNE_OK;
}
NNE_OP_DEFINE(CenterCropPad, "", "CenterCropPad", .infer = center_crop_pad_run, .run = ccp_kernel,
              .state_size = sizeof(ccp_state));
