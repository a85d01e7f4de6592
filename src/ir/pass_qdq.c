/*
 * pass_qdq.c - QDQ fusion (level all; runs first, before constant folding
 * would turn the weights' DequantizeLinear into float): the float islands of
 * a QDQ model (ONNX Runtime's quantizer, `nnedge quantize`) become int8 ops.
 *
 *   DQ(x) , DQ(W const) [, DQ(bias int32 const) | bias float const]
 *     -> Conv [-> Relu | Clip] -> Q          => ai.nnedge QLinearConv
 *     -> Gemm / MatMul [-> Relu | Clip] -> Q => ai.nnedge QLinearGemm
 *     -> Gemm / MatMul (float result)     => ai.nnedge QLinearGemm, y_float
 *   DQ(a), DQ(b) -> Add [-> Relu] -> Q       => ai.nnedge QLinearAdd
 *   DQ(x) -> MaxPool | Flatten | Reshape | Transpose | Squeeze | Unsqueeze
 *     -> Q with the same scale and zero point => the op on the int8 tensor
 *   DQ(x_i)... -> Concat -> Q                => ai.nnedge QLinearConcat
 *   QLinearMatMul with a constant 2-d B      => ai.nnedge QLinearGemm
 *
 * Conditions: activation scales and zero points are constant scalars (one
 * per tensor); weights are uint8/int8 initializers, per tensor or per output
 * channel; the float value between the op and its Q is read by nothing else
 * (and is no graph output). The bias becomes int32 in units of
 * x_scale * w_scale[m]: taken as it is when its DequantizeLinear scale is
 * that product (ORT's and nnedge's quantizers write it so), else rounded
 * half to even from its float value (refused when it does not fit int32).
 * A Relu or Clip between the op and Q becomes the int attributes qmin/qmax
 * (Q is monotone: Q(max(y, 0)) = max(Q(y), Q(0))), so it is exact.
 * What the fused ops compute: the int32 accumulator of the zero-point-
 * shifted int8 inputs, requantized as kernels/qgemm.h documents (float32
 * multiplier, round half to even, saturation). Against the float reference
 * of the QDQ graph (DQ, float op, Q) an output may differ by one step where
 * float rounding of the sum falls on the other side of a .5.
 * The DequantizeLinear nodes left unread are removed by dead-node
 * elimination. Top-level graph only.
 */
#include "ir/passes.h"
#include "core/core.h"

#include <float.h>
#include <math.h>
#include <string.h>

static int is_op(const nne_node *n, const char *type) {
    return !n->dead && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, type);
}

static int64_t irv(nne_pass_ctx *ctx) { return ctx->m ? ctx->m->ir_version : 13; }

static const nne_tensor *cval(nne_pass_ctx *ctx, const nne_graph *g, int v) {
    const nne_tensor *t = v >= 0 ? nne_graph_const_value(g, v, irv(ctx)) : NULL;
    if (!t || (!t->data && nne_tensor_numel(t) > 0)) return NULL;
    return t;
}

static int q8(nne_dtype dt) { return dt == NNE_DTYPE_UINT8 || dt == NNE_DTYPE_INT8; }

/* The one node reading v through an input, or -1. */
static int sole_reader(const nne_graph *g, const nne_graph_uses *u, int v) {
    if (v < 0 || v >= u->n_values || g->values[v].is_output || nne_uses_count(u, v) != 1) return -1;
    nne_use use = u->use[u->start[v]];
    if (use.slot < 0 || g->nodes[use.node].dead) return -1;
    return use.node;
}

/* Quantization parameters of one tensor. */
typedef struct qp {
    int q;          /* the int8 value (DQ's input / Q's output) */
    int s, z;       /* scale and zero-point values (z -1: absent) */
    float scale;
    int32_t zp;
    nne_dtype dt;   /* uint8 / int8 */
} qp;

/* Per-tensor parameters of a DequantizeLinear / QuantizeLinear node: a
 * constant scalar float scale and a constant scalar uint8/int8 zero point
 * (absent: uint8 0). */
static int node_params(nne_pass_ctx *ctx, const nne_graph *g, const nne_node *n, qp *p) {
    if (n->n_in < 2 || n->n_out < 1) return 0;
    const nne_tensor *s = cval(ctx, g, n->in[1]);
    const nne_tensor *z = n->n_in > 2 && n->in[2] >= 0 ? cval(ctx, g, n->in[2]) : NULL;
    if (!s || s->dtype != NNE_DTYPE_FLOAT || nne_tensor_numel(s) != 1) return 0;
    if (n->n_in > 2 && n->in[2] >= 0 && (!z || !q8(z->dtype) || nne_tensor_numel(z) != 1)) return 0;
    p->s = n->in[1];
    p->z = n->n_in > 2 ? n->in[2] : -1;
    p->scale = ((const float *)s->data)[0];
    p->zp = z ? (int32_t)nne_tensor_get_i64(z, 0) : 0;
    p->dt = z ? z->dtype : NNE_DTYPE_UINT8;
    if (!(p->scale > 0.0f) || !isfinite(p->scale)) return 0;
    return 1;
}

/* v is made by a DequantizeLinear of a uint8/int8 tensor with per-tensor
 * parameters: fill p (p->dt: the tensor's dtype, from its zero point or
 * its inferred type). */
static int dq_of(nne_pass_ctx *ctx, const nne_graph *g, const nne_shapes *sh, int v, qp *p) {
    if (v < 0) return 0;
    const nne_value *val = &g->values[v];
    if (val->kind != NNE_VAL_NODE) return 0;
    const nne_node *n = &g->nodes[val->producer];
    if (!is_op(n, "DequantizeLinear") || !node_params(ctx, g, n, p)) return 0;
    p->q = n->in[0];
    const nne_tensor *X = nne_shape_of(sh, p->q);
    if (X && X->dtype != p->dt) return 0;
    if (!X && p->z < 0) return 0; /* no zero point and no known type: int8 or uint8? */
    return 1;
}

/* The Q node reading y alone (after an optional Relu / Clip): its params
 * and the range the activation leaves. *gone gets the nodes to remove. */
static int q_after(nne_pass_ctx *ctx, const nne_graph *g, const nne_graph_uses *u, int y, qp *out, int32_t *qmin,
                   int32_t *qmax, int *gone, int *n_gone) {
    int r = sole_reader(g, u, y);
    if (r < 0) return 0;
    float lo = -INFINITY, hi = INFINITY;
    const nne_node *m = &g->nodes[r];
    if ((is_op(m, "Relu") || is_op(m, "Clip")) && m->n_out == 1 && m->in[0] == y) {
        if (is_op(m, "Relu")) lo = 0.0f;
        else if (m->opset < 11) {
            const nne_attr *a = nne_node_attr(m, "min"), *b = nne_node_attr(m, "max");
            lo = a && a->type == NNE_ATTR_FLOAT ? a->f : -FLT_MAX;
            hi = b && b->type == NNE_ATTR_FLOAT ? b->f : FLT_MAX;
        } else {
            for (int k = 1; k < 3; k++) {
                if (k >= m->n_in || m->in[k] < 0) continue;
                const nne_tensor *t = cval(ctx, g, m->in[k]);
                if (!t || t->dtype != NNE_DTYPE_FLOAT || nne_tensor_numel(t) != 1) return 0;
                if (k == 1) lo = ((const float *)t->data)[0];
                else hi = ((const float *)t->data)[0];
            }
        }
        if (!(lo <= hi)) return 0;
        gone[(*n_gone)++] = r;
        y = m->out[0];
        r = sole_reader(g, u, y);
        if (r < 0) return 0;
        m = &g->nodes[r];
    }
    if (!is_op(m, "QuantizeLinear") || m->in[0] != y || !node_params(ctx, g, m, out)) return 0;
    out->q = m->out[0];
    gone[(*n_gone)++] = r;
    int32_t tmin = out->dt == NNE_DTYPE_UINT8 ? 0 : -128, tmax = out->dt == NNE_DTYPE_UINT8 ? 255 : 127;
    /* Q of a bound, as QuantizeLinear computes it (float division, half to even) */
    *qmin = tmin;
    *qmax = tmax;
    if (lo > -INFINITY) {
        double v = (double)nearbyintf(lo / out->scale) + out->zp;
        *qmin = v < tmin ? tmin : v > tmax ? tmax : (int32_t)v;
    }
    if (hi < INFINITY) {
        double v = (double)nearbyintf(hi / out->scale) + out->zp;
        *qmax = v < tmin ? tmin : v > tmax ? tmax : (int32_t)v;
    }
    return 1;
}

/* Replace node i's inputs with in[0..n) (-1: omitted). */
static nne_status set_inputs(nne_graph *g, int i, int n, const int *in) {
    g->nodes[i].n_in = 0;
    for (int k = 0; k < n; k++) NNE_TRY(nne_node_add_input(g, i, in[k]));
    return NNE_OK;
}

static nne_status finish(nne_graph *g, int i, int out, const int *gone, int n_gone, int32_t qmin, int32_t qmax,
                         int set_range) {
    if (set_range) {
        NNE_TRY(nne_node_set_attr_int(g, i, "qmin", qmin));
        NNE_TRY(nne_node_set_attr_int(g, i, "qmax", qmax));
    }
    for (int k = 0; k < n_gone; k++) nne_graph_remove_node(g, gone[k]);
    nne_pass_move_output(g, i, 0, out);
    return NNE_OK;
}

/* Weight W = DQ(wq initializer, scale, zp) with per-tensor or per-axis
 * (along `axis` of a rank-r weight, length `len`) constants. */
static int weight_dq(nne_pass_ctx *ctx, const nne_graph *g, int v, int axis, int64_t len, int *wq, int *ws,
                     int *wz, const nne_tensor **Ws) {
    if (v < 0 || g->values[v].kind != NNE_VAL_NODE) return 0;
    const nne_node *n = &g->nodes[g->values[v].producer];
    if (!is_op(n, "DequantizeLinear") || n->n_in < 2) return 0;
    const nne_tensor *W = cval(ctx, g, n->in[0]), *s = cval(ctx, g, n->in[1]);
    const nne_tensor *z = n->n_in > 2 && n->in[2] >= 0 ? cval(ctx, g, n->in[2]) : NULL;
    if (!W || !q8(W->dtype) || g->values[n->in[0]].kind != NNE_VAL_CONST || !s || s->dtype != NNE_DTYPE_FLOAT)
        return 0;
    if (n->n_in > 2 && n->in[2] >= 0 && (!z || z->dtype != W->dtype)) return 0;
    if (nne_node_attr(n, "block_size") && nne_node_attr(n, "block_size")->i != 0) return 0;
    int64_t ns = nne_tensor_numel(s);
    if (ns != 1) {
        const nne_attr *ax = nne_node_attr(n, "axis");
        int64_t a = ax ? ax->i : 1;
        if (a < 0) a += W->ndim;
        if (a != axis || s->ndim != 1 || ns != len) return 0;
    }
    if (z && nne_tensor_numel(z) != ns) return 0;
    for (int64_t i = 0; i < ns; i++) {
        float f = ((const float *)s->data)[i];
        if (!(f > 0.0f) || !isfinite(f)) return 0;
    }
    *wq = n->in[0];
    *ws = n->in[1];
    *wz = n->n_in > 2 ? n->in[2] : -1;
    *Ws = s;
    return 1;
}

/* The int32 bias [len] in units of xs * ws[m] from value b (DQ of int32, or
 * float constant); -1 when b is absent; 0 when it cannot be made. */
static int bias_i32(nne_pass_ctx *ctx, nne_graph *g, int b, int64_t len, float xs, const nne_tensor *ws, int *out,
                    int *exact) {
    *out = -1;
    *exact = 1; /* every value taken as it is (no rounding) */
    if (b < 0) return 1;
    const nne_tensor *bf = cval(ctx, g, b);
    const nne_tensor *bq = NULL, *bs = NULL, *bz = NULL;
    if (!bf) {
        if (g->values[b].kind != NNE_VAL_NODE) return 0;
        const nne_node *n = &g->nodes[g->values[b].producer];
        if (!is_op(n, "DequantizeLinear") || n->n_in < 2) return 0;
        bq = cval(ctx, g, n->in[0]);
        bs = cval(ctx, g, n->in[1]);
        bz = n->n_in > 2 && n->in[2] >= 0 ? cval(ctx, g, n->in[2]) : NULL;
        if (!bq || bq->dtype != NNE_DTYPE_INT32 || nne_tensor_numel(bq) != len || !bs ||
            bs->dtype != NNE_DTYPE_FLOAT || (nne_tensor_numel(bs) != 1 && nne_tensor_numel(bs) != len))
            return 0;
        if (n->n_in > 2 && n->in[2] >= 0 && (!bz || nne_tensor_numel(bz) != nne_tensor_numel(bs))) return 0;
    } else if (bf->dtype != NNE_DTYPE_FLOAT || nne_tensor_numel(bf) != len) {
        return 0;
    }
    nne_tensor t = {.dtype = NNE_DTYPE_INT32, .ndim = 1, .dims = {len}};
    t.data = nne_aligned_alloc((size_t)(len ? len : 1) * sizeof(int32_t));
    if (!t.data) return -2;
    int32_t *o = t.data;
    int64_t nws = nne_tensor_numel(ws);
    for (int64_t m = 0; m < len; m++) {
        float unit = xs * ((const float *)ws->data)[nws == 1 ? 0 : m];
        double v;
        if (bq) {
            int64_t ns = nne_tensor_numel(bs);
            float sc = ((const float *)bs->data)[ns == 1 ? 0 : m];
            int64_t zz = bz ? nne_tensor_get_i64(bz, ns == 1 ? 0 : m) : 0;
            int64_t raw = (int64_t)((const int32_t *)bq->data)[m] - zz;
            if (zz == 0 && fabsf(sc - unit) <= 1e-6f * unit) {
                v = (double)raw;
            } else {
                v = nearbyint((double)((float)raw * sc) / unit);
                *exact = 0;
            }
        } else {
            v = nearbyint((double)((const float *)bf->data)[m] / unit);
            *exact = 0;
        }
        if (!(v >= -2147483647.0 && v <= 2147483647.0)) {
            nne_aligned_free(t.data);
            return 0;
        }
        o[m] = (int32_t)v;
    }
    nne_status st = nne_pass_add_const(g, "qdq_bias", &t, out);
    return st == NNE_OK ? 1 : -2;
}

static const nne_attr *attr(const nne_node *n, const char *name) { return nne_node_attr(n, name); }

/* Conv / Gemm / MatMul at node i. Returns 1 when rewritten, 0 when not, -1 on error. */
static int fuse_linear(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, const nne_shapes *sh, int i) {
    nne_node *n = &g->nodes[i];
    int conv = is_op(n, "Conv"), gemm = is_op(n, "Gemm");
    if (n->n_out != 1 || n->n_in < 2) return 0;
    qp x, y;
    if (!dq_of(ctx, g, sh, n->in[0], &x)) return 0;
    const nne_tensor *Wf = n->in[1] >= 0 && g->values[n->in[1]].kind == NNE_VAL_NODE
                               ? cval(ctx, g, g->nodes[g->values[n->in[1]].producer].in[0])
                               : NULL;
    if (!Wf || Wf->ndim < 2) return 0;
    int axis;
    int64_t len;
    if (conv) {
        axis = 0;
        len = Wf->dims[0];
    } else if (gemm) {
        const nne_attr *ta = attr(n, "transA"), *tb = attr(n, "transB"), *al = attr(n, "alpha"), *be = attr(n, "beta");
        if ((ta && ta->i) || (al && al->f != 1.0f) || (be && be->f != 1.0f) || Wf->ndim != 2) return 0;
        axis = tb && tb->i ? 0 : 1;
        len = Wf->dims[axis];
    } else {
        if (Wf->ndim != 2 || n->n_in != 2) return 0;
        axis = 1;
        len = Wf->dims[1];
    }
    /* the int32 sums of the int8 ops hold K < 2^31 / 255^2 products */
    int64_t K = 1;
    if (conv)
        for (int d = 1; d < Wf->ndim; d++) K *= Wf->dims[d];
    else
        K = Wf->dims[axis == 0 ? 1 : 0];
    if (K >= 33025) return 0;
    int wq, ws, wz;
    const nne_tensor *Ws;
    if (!weight_dq(ctx, g, n->in[1], axis, len, &wq, &ws, &wz, &Ws)) return 0;
    int gone[4], n_gone = 0;
    int32_t qmin, qmax;
    /* no QuantizeLinear after a Gemm / MatMul (a classifier's logits): the
     * int8 product with a float output (QLinearGemm y_float) */
    int yf = 0;
    if (!q_after(ctx, g, u, n->out[0], &y, &qmin, &qmax, gone, &n_gone)) {
        const nne_tensor *X = nne_shape_of(sh, x.q);
        if (conv || !X || X->ndim < 2) return 0;
        yf = 1;
        n_gone = 0;
        y.s = y.z = -1;
    }
    if (gemm && n->n_in > 2 && n->in[2] >= 0) {
        const nne_tensor *C = nne_shape_of(sh, n->in[2]);
        if (!C || C->ndim != 1 || C->dims[0] != len) return 0; /* a bias per output column only */
    }
    int bias, exact;
    int rb = bias_i32(ctx, g, n->n_in > 2 ? n->in[2] : -1, len, x.scale, Ws, &bias, &exact);
    if (rb == -2) return -1;
    if (rb == 0) return 0;
    /* (a float output keeps a float bias exactly or not at all: the bias
     * constant made above is then left unread, removed as dead) */
    if (yf && !exact) return 0;
    int ins[9] = {x.q, x.s, x.z, wq, ws, wz, y.s, y.z, bias};
    if (nne_pass_set_op(ctx, g, i, conv ? "QLinearConv" : "QLinearGemm", "ai.nnedge", 1) != NNE_OK) return -1;
    if (set_inputs(g, i, bias >= 0 ? 9 : 8, ins) != NNE_OK) return -1;
    if (!conv && !gemm && nne_node_set_attr_int(g, i, "transB", 0) != NNE_OK) return -1;
    if (yf) return nne_node_set_attr_int(g, i, "y_float", 1) == NNE_OK ? 1 : -1;
    if (finish(g, i, y.q, gone, n_gone, qmin, qmax, 1) != NNE_OK) return -1;
    return 1;
}

static int same_dims(const nne_tensor *a, const nne_tensor *b) {
    if (!a || !b || a->ndim != b->ndim) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    return 1;
}

/* Add of two dequantized tensors of one shape, then Q. */
static int fuse_add(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, const nne_shapes *sh, int i) {
    nne_node *n = &g->nodes[i];
    if (n->n_in != 2 || n->n_out != 1) return 0;
    qp a, b, y;
    if (!dq_of(ctx, g, sh, n->in[0], &a) || !dq_of(ctx, g, sh, n->in[1], &b)) return 0;
    const nne_tensor *A = nne_shape_of(sh, a.q), *B = nne_shape_of(sh, b.q);
    if (!same_dims(A, B) || !q8(A->dtype) || !q8(B->dtype)) return 0;
    int gone[4], n_gone = 0;
    int32_t qmin, qmax;
    if (!q_after(ctx, g, u, n->out[0], &y, &qmin, &qmax, gone, &n_gone)) return 0;
    int ins[8] = {a.q, a.s, a.z, b.q, b.s, b.z, y.s, y.z};
    if (nne_pass_set_op(ctx, g, i, "QLinearAdd", "ai.nnedge", 1) != NNE_OK) return -1;
    if (set_inputs(g, i, 8, ins) != NNE_OK) return -1;
    if (finish(g, i, y.q, gone, n_gone, qmin, qmax, 1) != NNE_OK) return -1;
    return 1;
}

/* An op that moves or selects elements (and MaxPool, which is monotone)
 * between a DQ and a Q with the same parameters: run it on the int8 tensor. */
static int fuse_direct(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, const nne_shapes *sh, int i) {
    nne_node *n = &g->nodes[i];
    if (n->n_out != 1 || n->n_in < 1) return 0;
    if (is_op(n, "MaxPool")) {
        const nne_attr *so = attr(n, "storage_order");
        if (n->opset < 12 || (so && so->i)) return 0; /* int8 MaxPool: opset 12 */
    }
    qp x, y;
    if (!dq_of(ctx, g, sh, n->in[0], &x)) return 0;
    int gone[4], n_gone = 0;
    int32_t qmin, qmax;
    if (!q_after(ctx, g, u, n->out[0], &y, &qmin, &qmax, gone, &n_gone) || n_gone != 1) return 0;
    if (y.scale != x.scale || y.zp != x.zp || y.dt != x.dt) return 0;
    g->nodes[i].in[0] = x.q;
    if (finish(g, i, y.q, gone, n_gone, 0, 0, 0) != NNE_OK) return -1;
    return 1;
}

/* Concat of dequantized tensors, then Q: ai.nnedge QLinearConcat
 * (com.microsoft's input order: y_scale, y_zero_point, then x, scale,
 * zero point per input). */
static int fuse_concat(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, const nne_shapes *sh, int i) {
    nne_node *n = &g->nodes[i];
    if (n->n_out != 1 || n->n_in < 1 || n->n_in > 64) return 0;
    qp xs[64], y;
    for (int k = 0; k < n->n_in; k++) {
        if (!dq_of(ctx, g, sh, n->in[k], &xs[k])) return 0;
    }
    int gone[4], n_gone = 0;
    int32_t qmin, qmax;
    if (!q_after(ctx, g, u, n->out[0], &y, &qmin, &qmax, gone, &n_gone) || n_gone != 1) return 0;
    for (int k = 0; k < n->n_in; k++)
        if (xs[k].dt != y.dt) return 0;
    int ins[2 + 3 * 64];
    int m = 0, nin = n->n_in;
    ins[m++] = y.s;
    ins[m++] = y.z;
    for (int k = 0; k < nin; k++) {
        ins[m++] = xs[k].q;
        ins[m++] = xs[k].s;
        ins[m++] = xs[k].z;
    }
    if (y.z < 0) return 0;
    for (int k = 0; k < nin; k++)
        if (xs[k].z < 0) return 0;
    if (nne_pass_set_op(ctx, g, i, "QLinearConcat", "ai.nnedge", 1) != NNE_OK) return -1;
    if (set_inputs(g, i, m, ins) != NNE_OK) return -1;
    if (finish(g, i, y.q, gone, n_gone, 0, 0, 0) != NNE_OK) return -1;
    return 1;
}

/* ONNX QLinearMatMul with a constant 2-d B: ai.nnedge QLinearGemm takes the
 * same inputs in the same order (transB 0, no bias) and runs the int8 GEMM
 * kernels with B packed once. */
static int fuse_qlinearmatmul(nne_pass_ctx *ctx, nne_graph *g, const nne_shapes *sh, int i) {
    nne_node *n = &g->nodes[i];
    if (n->n_in != 8 || n->n_out != 1) return 0;
    const nne_tensor *B = cval(ctx, g, n->in[3]), *A = nne_shape_of(sh, n->in[0]);
    if (!B || B->ndim != 2 || g->values[n->in[3]].kind != NNE_VAL_CONST || !q8(B->dtype)) return 0;
    if (!A || A->ndim < 2 || !q8(A->dtype)) return 0;
    for (int k = 1; k < 8; k++)
        if (k != 3 && n->in[k] >= 0 && !cval(ctx, g, n->in[k])) return 0;
    static const int scales[3] = {1, 4, 6};
    for (int k = 0; k < 3; k++) {
        const nne_tensor *t = n->in[scales[k]] >= 0 ? cval(ctx, g, n->in[scales[k]]) : NULL;
        if (!t || t->dtype != NNE_DTYPE_FLOAT) return 0;
    }
    if (nne_pass_set_op(ctx, g, i, "QLinearGemm", "ai.nnedge", 1) != NNE_OK) return -1;
    if (nne_node_set_attr_int(g, i, "transB", 0) != NNE_OK) return -1;
    return 1;
}

nne_status nne_pass_qdq_fusion(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    if (g->parent) return NNE_OK;
    int any = 0;
    for (int i = 0; i < g->n_nodes && !any; i++)
        any = is_op(&g->nodes[i], "DequantizeLinear") || is_op(&g->nodes[i], "QLinearMatMul");
    if (!any) return NNE_OK;
    nne_shapes sh;
    NNE_TRY(nne_shapes_infer(ctx, g, &sh));
    nne_graph_uses u = {0};
    nne_status rc = nne_graph_uses_build(g, &u);
    int n_nodes = g->n_nodes;
    for (int i = 0; i < n_nodes && rc == NNE_OK; i++) {
        nne_node *n = &g->nodes[i];
        int r = 0;
        if (n->dead) continue;
        if (is_op(n, "Conv") || is_op(n, "Gemm") || is_op(n, "MatMul")) r = fuse_linear(ctx, g, &u, &sh, i);
        else if (is_op(n, "Add")) r = fuse_add(ctx, g, &u, &sh, i);
        else if (is_op(n, "MaxPool") || is_op(n, "Flatten") || is_op(n, "Reshape") || is_op(n, "Transpose") ||
                 is_op(n, "Squeeze") || is_op(n, "Unsqueeze"))
            r = fuse_direct(ctx, g, &u, &sh, i);
        else if (is_op(n, "Concat")) r = fuse_concat(ctx, g, &u, &sh, i);
        else if (is_op(n, "QLinearMatMul")) r = fuse_qlinearmatmul(ctx, g, &sh, i);
        if (r < 0) rc = nne_error(NNE_ERR_OUT_OF_MEMORY, "qdq_fusion: out of memory");
        if (r > 0) st->folded++;
    }
    nne_graph_uses_free(&u);
    nne_shapes_free(&sh);
    return rc;
}
