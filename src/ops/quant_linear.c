/*
 * quant_linear.c - QuantizeLinear, DequantizeLinear (opsets 10-25) and
 * DynamicQuantizeLinear (11).
 *
 *   quantize:   y = saturate(round_half_even(x / scale) + zero_point)
 *   dequantize: y = (x - zero_point) * scale
 *
 * Granularity follows the scale's shape: a single value (per tensor), a 1-D
 * vector along `axis` (per axis), or, with block_size > 0, the input's shape
 * with dims[axis] replaced by ceil(dims[axis] / block_size) (blocked).
 * The input is walked as outer x D x inner with D = dims[axis], so the
 * parameter index is cheap to form for all three cases.
 * Integer types int8/uint8/int16/uint16/int32 are supported; float8, int4,
 * int2 and float4 fail with NNE_ERR_UNSUPPORTED.
 */
#include "ops/op.h"
#include "ops/linalg_util.h"
#include "kernels/vec.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

#define CHUNK 256

static int qtype_range(nne_dtype dt, double *lo, double *hi) {
    switch (dt) {
    case NNE_DTYPE_INT8: *lo = -128.0; *hi = 127.0; return 1;
    case NNE_DTYPE_UINT8: *lo = 0.0; *hi = 255.0; return 1;
    case NNE_DTYPE_INT16: *lo = -32768.0; *hi = 32767.0; return 1;
    case NNE_DTYPE_UINT16: *lo = 0.0; *hi = 65535.0; return 1;
    case NNE_DTYPE_INT32: *lo = -2147483648.0; *hi = 2147483647.0; return 1;
    default: return 0;
    }
}

static nne_status qtype_check(nne_op_ctx *ctx, const char *what, nne_dtype dt) {
    double lo, hi;
    if (!qtype_range(dt, &lo, &hi)) {
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED,
                            "%s: dtype %s (%d) not supported; quantized types supported are "
                            "int8, uint8, int16, uint16, int32 (no float8/int4/int2/float4)",
                            what, nne_dtype_name(dt), (int)dt);
    }
    return NNE_OK;
}

typedef struct qgran {
    int64_t outer, D, inner; /* x viewed as outer x D x inner */
    int kind;                /* 0 per tensor, 1 per axis, 2 blocked */
    int64_t block, S;        /* blocked: block size, scale dims[axis] */
} qgran;

/* Work out the granularity of `scale` (and check zp has the same shape). */
static nne_status qgran_make(nne_op_ctx *ctx, const nne_tensor *x, const nne_tensor *scale,
                             const nne_tensor *zp, qgran *g) {
    char s1[96], s2[96];
    int rank = x->ndim, axis = 0;
    int64_t block = nne_ctx_opset(ctx) >= 21 ? nne_attr_i(ctx, "block_size", 0) : 0;
    int64_t ns = nne_tensor_numel(scale);
    memset(g, 0, sizeof *g);
    g->outer = 1;
    g->D = nne_tensor_numel(x);
    g->inner = 1;
    if (zp) {
        int same = zp->ndim == scale->ndim;
        for (int i = 0; same && i < zp->ndim; i++) same = zp->dims[i] == scale->dims[i];
        if (!same && !(nne_tensor_numel(zp) == 1 && ns == 1)) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "zero point shape %s differs from scale shape %s",
                                nne_dims_str(zp->ndim, zp->dims, s1, sizeof s1),
                                nne_dims_str(scale->ndim, scale->dims, s2, sizeof s2));
        }
    }
    if (block < 0) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "block_size must be >= 0, got %" PRId64, block);
    }
    if (block == 0 && ns == 1) {
        g->kind = 0;
        return NNE_OK;
    }
    if (rank == 0) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "scale must be a scalar for a scalar input");
    }
    NNE_TRY(nne_ctx_axis(ctx, nne_attr_i(ctx, "axis", 1), rank, &axis));
    g->outer = nne_la_prod(x->dims, 0, axis);
    g->D = x->dims[axis];
    g->inner = nne_la_prod(x->dims, axis + 1, rank);
    if (block == 0) {
        if (scale->ndim != 1 || scale->dims[0] != g->D) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "per-axis scale must be 1-D of length %" PRId64
                                " (input %s, axis %d), got %s",
                                g->D, nne_dims_str(x->ndim, x->dims, s1, sizeof s1), axis,
                                nne_dims_str(scale->ndim, scale->dims, s2, sizeof s2));
        }
        g->kind = 1;
        return NNE_OK;
    }
    int okb = scale->ndim == rank;
    for (int i = 0; okb && i < rank; i++) {
        if (i == axis) /* ceil without x + block - 1, which overflows for a huge block_size */
            okb = scale->dims[i] == x->dims[i] / block + (x->dims[i] % block != 0);
        else okb = scale->dims[i] == x->dims[i];
    }
    if (!okb) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "blocked scale %s does not match input %s with axis %d and "
                            "block_size %" PRId64 " (expected dims[axis] = ceil(%" PRId64 "/%" PRId64 "))",
                            nne_dims_str(scale->ndim, scale->dims, s1, sizeof s1),
                            nne_dims_str(x->ndim, x->dims, s2, sizeof s2), axis, block, g->D, block);
    }
    g->kind = 2;
    g->block = block;
    g->S = scale->dims[axis];
    return NNE_OK;
}

/* Parameter index for x element (o, k, i). */
static inline int64_t qparam_index(const qgran *g, int64_t o, int64_t k, int64_t i) {
    switch (g->kind) {
    case 0: return 0;
    case 1: return k;
    default: return (o * g->S + k / g->block) * g->inner + i;
    }
}

/* Round v to the precision of dtype dt (float16/bfloat16), else keep float. */
static inline float to_prec(float v, nne_dtype dt) {
    if (dt == NNE_DTYPE_FLOAT16) return nne_f16_to_f32(nne_f32_to_f16(v));
    if (dt == NNE_DTYPE_BFLOAT16) return nne_bf16_to_f32(nne_f32_to_bf16(v));
    return v;
}

/* Per-node state of Quantize/DequantizeLinear: the granularity, dtypes and
 * the scratch layout (scale and zero point converted to double on every run:
 * they are inputs, usually constant but not necessarily). */
typedef struct q_state {
    qgran g;
    nne_dtype ydt, prec;
    double lo, hi;  /* output range (QuantizeLinear) */
    int dbl;        /* QuantizeLinear computes in double */
    int fast;       /* chosen at plan: float <-> int8/uint8, per tensor or per axis */
    int64_t ns;     /* scale elements */
    size_t osv, ozv;
} q_state;

/* ------------------------------------------------------ QuantizeLinear -- */

static nne_status quantizelinear_infer(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *sc = nne_ctx_input(ctx, 1);
    const nne_tensor *zp = nne_ctx_input(ctx, 2);
    int opset = nne_ctx_opset(ctx);
    if (!x || !sc) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs x and y_scale");
    static const nne_dtype xok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                    NNE_DTYPE_INT32, NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
    static const nne_dtype sok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                    NNE_DTYPE_INT32, NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
    NNE_TRY(nne_la_check_dtype(ctx, "x", x->dtype, xok));
    NNE_TRY(nne_la_check_dtype(ctx, "y_scale", sc->dtype, sok));
    nne_dtype ydt = zp ? zp->dtype : NNE_DTYPE_UINT8;
    int64_t odt = opset >= 21 ? nne_attr_i(ctx, "output_dtype", 0) : 0;
    if (odt != 0) {
        if (zp && odt != (int64_t)zp->dtype) {
            return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                                "output_dtype %" PRId64 " differs from y_zero_point dtype %s",
                                odt, nne_dtype_name(zp->dtype));
        }
        ydt = (nne_dtype)odt;
    }
    NNE_TRY(qtype_check(ctx, "y", ydt));
    qgran g;
    NNE_TRY(qgran_make(ctx, x, sc, zp, &g));
    nne_dtype prec = sc->dtype;
    int64_t pa = opset >= 25 ? nne_attr_i(ctx, "precision", 0) : 0;
    if (pa != 0) prec = (nne_dtype)pa;
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, ydt, x->ndim, x->dims, &y));
    int64_t ns = nne_tensor_numel(sc);
    size_t total = 0;
    size_t osv = nne_la_reserve(&total, nne_size_elems(ns, sizeof(double)));
    size_t ozv = nne_la_reserve(&total, nne_size_elems(ns, sizeof(double)));
    nne_ctx_scratch(ctx, total);
    q_state *st = nne_ctx_plan_state(ctx);
    if (st) {
        *st = (q_state){.g = g, .ydt = ydt, .prec = prec, .ns = ns, .osv = osv, .ozv = ozv,
                        .dbl = x->dtype == NNE_DTYPE_INT32 || x->dtype == NNE_DTYPE_DOUBLE ||
                               prec == NNE_DTYPE_DOUBLE || prec == NNE_DTYPE_INT32};
        qtype_range(ydt, &st->lo, &st->hi);
        st->fast = x->dtype == NNE_DTYPE_FLOAT && prec == NNE_DTYPE_FLOAT && g.kind != 2 &&
                   (ydt == NNE_DTYPE_UINT8 || ydt == NNE_DTYPE_INT8);
    }
    return NNE_OK;
}

/* Scale and zero point of this run as doubles, in scratch. */
static void q_params(const q_state *st, const nne_kernel_args *a, double **sv, double **zv) {
    char *scr = a->scratch;
    const nne_tensor *zp = a->n_in > 2 ? a->in[2] : NULL;
    *sv = (double *)(scr + st->osv);
    *zv = (double *)(scr + st->ozv);
    nne_load_f64(a->in[1], 0, 1, st->ns, *sv);
    if (zp) nne_load_f64(zp, 0, 1, st->ns, *zv);
    else memset(*zv, 0, (size_t)st->ns * sizeof(double));
}

/* The fast path of QuantizeLinear: float x and scale, 8-bit y, one scale
 * per run of `inner` elements; the same arithmetic as the general path
 * (float division, round half to even, zero point, saturation), without
 * the conversions through double buffers. */
static void quantize_f32_q8(const q_state *st, const float *x, void *y, const double *sv, const double *zv) {
    const qgran *g = &st->g;
    /* per tensor: one run of every element; per axis: runs of `inner` */
    int64_t runs = g->kind == 0 ? 1 : g->outer * g->D, len = g->kind == 0 ? g->outer * g->D * g->inner : g->inner;
    for (int64_t r = 0; r < runs; r++) {
        int64_t base = r * len, pi = g->kind == 0 ? 0 : r % g->D;
        float s = (float)sv[pi], zf = (float)zv[pi];
        /* clamping before rounding to the integer bounds [lo - z, hi - z]
         * gives what rounding, adding z and clamping give; once |v| <= 2^22,
         * (v + 1.5 * 2^23) - 1.5 * 2^23 rounds half to even (the default
         * rounding mode) in plain SSE2/NEON arithmetic, so the loop
         * vectorizes; NaN gives 0 as in the general path */
        float vlo = (float)st->lo - zf, vhi = (float)st->hi - zf;
        const float *xp = x + base;
        const nne_vec_ops *vo = nne_vec();
        if (vo) { /* the same arithmetic in vectors of the ISA in use */
            vo->q8_quantize(xp, len, s, zf, vlo, vhi, (uint8_t *)y + base);
            continue;
        }
        if (st->ydt == NNE_DTYPE_UINT8) {
            uint8_t *yp = (uint8_t *)y + base;
            for (int64_t i = 0; i < len; i++) yp[i] = (uint8_t)nne_q8_quantize_one(xp[i], s, zf, vlo, vhi);
        } else {
            int8_t *yp = (int8_t *)y + base;
            for (int64_t i = 0; i < len; i++) yp[i] = (int8_t)nne_q8_quantize_one(xp[i], s, zf, vlo, vhi);
        }
    }
}

static nne_status quantizelinear_run(const void *state, const nne_kernel_args *a) {
    const q_state *st = state;
    const qgran g = st->g;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    double *sv, *zv;
    q_params(st, a, &sv, &zv);
    if (st->fast) {
        quantize_f32_q8(st, x->data, y->data, sv, zv);
        return NNE_OK;
    }
    double lo = st->lo, hi = st->hi;
    int dbl = st->dbl;
    nne_dtype prec = st->prec;
    double xb[CHUNK], yb[CHUNK];
    for (int64_t o = 0; o < g.outer; o++) {
        for (int64_t k = 0; k < g.D; k++) {
            int64_t base = (o * g.D + k) * g.inner;
            for (int64_t c = 0; c < g.inner; c += CHUNK) {
                int64_t cn = g.inner - c < CHUNK ? g.inner - c : CHUNK;
                nne_load_f64(x, base + c, 1, cn, xb);
                for (int64_t j = 0; j < cn; j++) {
                    int64_t pi = qparam_index(&g, o, k, c + j);
                    double q;
                    if (dbl) {
                        q = xb[j] / sv[pi];
                    } else {
                        q = to_prec((float)xb[j] / (float)sv[pi], prec);
                    }
                    q = nne_la_round_even(q) + zv[pi];
                    if (!(q == q)) q = 0.0;
                    yb[j] = q < lo ? lo : (q > hi ? hi : q);
                }
                nne_store_f64(y, base + c, 1, cn, yb, NNE_CVT_SAT);
            }
        }
    }
    return NNE_OK;
}

NNE_OP_DEFINE(QuantizeLinear, "", "QuantizeLinear", .infer = quantizelinear_infer, .run = quantizelinear_run,
              .state_size = sizeof(q_state));

/* ---------------------------------------------------- DequantizeLinear -- */

static nne_status dequantizelinear_infer(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *sc = nne_ctx_input(ctx, 1);
    const nne_tensor *zp = nne_ctx_input(ctx, 2);
    int opset = nne_ctx_opset(ctx);
    if (!x || !sc) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs inputs x and x_scale");
    NNE_TRY(qtype_check(ctx, "x", x->dtype));
    if (zp && zp->dtype != x->dtype) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "x_zero_point is %s but x is %s (must match)",
                            nne_dtype_name(zp->dtype), nne_dtype_name(x->dtype));
    }
    static const nne_dtype sok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                    NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
    NNE_TRY(nne_la_check_dtype(ctx, "x_scale", sc->dtype, sok));
    nne_dtype ydt = sc->dtype;
    int64_t odt = opset >= 23 ? nne_attr_i(ctx, "output_dtype", 0) : 0;
    if (odt != 0) ydt = (nne_dtype)odt;
    NNE_TRY(nne_la_check_dtype(ctx, "y (output_dtype)", ydt, sok));
    qgran g;
    NNE_TRY(qgran_make(ctx, x, sc, zp, &g));
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, ydt, x->ndim, x->dims, &y));
    int64_t ns = nne_tensor_numel(sc);
    size_t total = 0;
    size_t osv = nne_la_reserve(&total, nne_size_elems(ns, sizeof(double)));
    size_t ozv = nne_la_reserve(&total, nne_size_elems(ns, sizeof(double)));
    nne_ctx_scratch(ctx, total);
    q_state *st = nne_ctx_plan_state(ctx);
    if (st)
        *st = (q_state){.g = g, .ydt = ydt, .ns = ns, .osv = osv, .ozv = ozv,
                        .fast = ydt == NNE_DTYPE_FLOAT && g.kind != 2 &&
                                (x->dtype == NNE_DTYPE_UINT8 || x->dtype == NNE_DTYPE_INT8)};
    return NNE_OK;
}

/* The fast path of DequantizeLinear: 8-bit x, float y, one scale per run of
 * `inner` elements: y = float(x - zero_point) * scale, as the general path
 * computes it. */
static void dequantize_q8_f32(const q_state *st, nne_dtype xdt, const void *x, float *y, const double *sv,
                              const double *zv) {
    const qgran *g = &st->g;
    /* per tensor: one run of every element; per axis: runs of `inner` */
    int64_t runs = g->kind == 0 ? 1 : g->outer * g->D, len = g->kind == 0 ? g->outer * g->D * g->inner : g->inner;
    for (int64_t r = 0; r < runs; r++) {
        int64_t base = r * len, pi = g->kind == 0 ? 0 : r % g->D;
        float s = (float)sv[pi];
        int32_t z = (int32_t)zv[pi];
        float *yp = y + base;
        if (xdt == NNE_DTYPE_UINT8) {
            const uint8_t *xp = (const uint8_t *)x + base;
            for (int64_t i = 0; i < len; i++) yp[i] = (float)((int32_t)xp[i] - z) * s;
        } else {
            const int8_t *xp = (const int8_t *)x + base;
            for (int64_t i = 0; i < len; i++) yp[i] = (float)((int32_t)xp[i] - z) * s;
        }
    }
}

static nne_status dequantizelinear_run(const void *state, const nne_kernel_args *a) {
    const q_state *st = state;
    const qgran g = st->g;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    nne_dtype ydt = st->ydt;
    double *sv, *zv;
    q_params(st, a, &sv, &zv);
    if (st->fast) {
        dequantize_q8_f32(st, x->dtype, x->data, y->data, sv, zv);
        return NNE_OK;
    }
    double xb[CHUNK], yb[CHUNK];
    for (int64_t o = 0; o < g.outer; o++) {
        for (int64_t k = 0; k < g.D; k++) {
            int64_t base = (o * g.D + k) * g.inner;
            for (int64_t c = 0; c < g.inner; c += CHUNK) {
                int64_t cn = g.inner - c < CHUNK ? g.inner - c : CHUNK;
                nne_load_f64(x, base + c, 1, cn, xb);
                for (int64_t j = 0; j < cn; j++) {
                    int64_t pi = qparam_index(&g, o, k, c + j);
                    double d = xb[j] - zv[pi];
                    if (ydt == NNE_DTYPE_DOUBLE) yb[j] = d * sv[pi];
                    else yb[j] = to_prec((float)d * (float)sv[pi], ydt);
                }
                nne_store_f64(y, base + c, 1, cn, yb, NNE_CVT_SAT);
            }
        }
    }
    return NNE_OK;
}

NNE_OP_DEFINE(DequantizeLinear, "", "DequantizeLinear", .infer = dequantizelinear_infer,
              .run = dequantizelinear_run, .state_size = sizeof(q_state));

/* ----------------------------------------------- DynamicQuantizeLinear -- */

static nne_status dynamicquantizelinear_infer(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "needs input x");
    static const nne_dtype xok[] = {NNE_DTYPE_FLOAT, NNE_DTYPE_FLOAT16, NNE_DTYPE_BFLOAT16,
                                    NNE_DTYPE_DOUBLE, NNE_DTYPE_UNDEFINED};
    NNE_TRY(nne_la_check_dtype(ctx, "x", x->dtype, xok));
    nne_tensor *y, *ys, *yz;
    NNE_TRY(nne_ctx_output(ctx, 0, NNE_DTYPE_UINT8, x->ndim, x->dims, &y));
    NNE_TRY(nne_ctx_output(ctx, 1, NNE_DTYPE_FLOAT, 0, NULL, &ys));
    return nne_ctx_output(ctx, 2, NNE_DTYPE_UINT8, 0, NULL, &yz);
}

/* No state: the scale and zero point come from this run's data. */
static nne_status dynamicquantizelinear_run(const void *state, const nne_kernel_args *a) {
    (void)state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0], *ys = a->out[1], *yz = a->out[2];
    int64_t n = nne_tensor_numel(x);
    double xb[CHUNK];
    float mn = 0.0f, mx = 0.0f;
    for (int64_t c = 0; c < n; c += CHUNK) {
        int64_t cn = n - c < CHUNK ? n - c : CHUNK;
        nne_load_f64(x, c, 1, cn, xb);
        for (int64_t j = 0; j < cn; j++) {
            float v = (float)xb[j];
            if (v < mn) mn = v;
            if (v > mx) mx = v;
        }
    }
    float scale = (mx - mn) / 255.0f;
    float zpf = scale != 0.0f ? 0.0f - mn / scale : 0.0f;
    zpf = !(zpf >= 0.0f) ? 0.0f : (zpf > 255.0f ? 255.0f : zpf); /* NaN -> 0 */
    double zpd = nne_la_round_even((double)zpf);
    if (ys) *(float *)ys->data = scale;
    if (yz) *(uint8_t *)yz->data = (uint8_t)zpd;
    uint8_t *yo = y ? y->data : NULL;
    if (!yo) return NNE_OK;
    for (int64_t c = 0; c < n; c += CHUNK) {
        int64_t cn = n - c < CHUNK ? n - c : CHUNK;
        nne_load_f64(x, c, 1, cn, xb);
        for (int64_t j = 0; j < cn; j++) {
            double q = scale != 0.0f ? nne_la_round_even((double)((float)xb[j] / scale)) + zpd
                                     : zpd;
            yo[c + j] = (uint8_t)(!(q >= 0.0) ? 0.0 : (q > 255.0 ? 255.0 : q));
        }
    }
    return NNE_OK;
}

NNE_OP_DEFINE(DynamicQuantizeLinear, "", "DynamicQuantizeLinear", .infer = dynamicquantizelinear_infer,
              .run = dynamicquantizelinear_run);
