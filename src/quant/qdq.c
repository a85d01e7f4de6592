/*
 * qdq.c - the QDQ rewrite: turns a float graph into the standard ONNX
 * quantized form that ONNX Runtime's quantizer writes and its (and
 * nnedge's) QDQ fusions recognise.
 *
 *  1. Layers: Conv, Gemm and MatMul whose weight (input 1) is a float
 *     constant and whose activation input was calibrated. Each layer's
 *     activation input gets a Q/DQ pair; so does its output, taken after a
 *     Relu or constant Clip that alone reads it (kept in the graph; the
 *     int8 op folds it into its output clamp), unless nothing reads it.
 *     Add with two activations, Concat of activations and the average
 *     pools get Q/DQ on inputs and output as well.
 *  2. Data-movement ops (MaxPool, Reshape, Flatten, Transpose, Squeeze,
 *     Unsqueeze) whose input is quantized give their output the input's
 *     scale and zero point (ONNX Runtime drops their Q/DQ only then).
 *  3. Each quantized tensor X: Q(X, s, zp) -> X_quantized (uint8) ->
 *     DQ -> X_dequantized, and every reader but the layers kept in float
 *     reads X_dequantized. Graph outputs stay float.
 *  4. Weights: int8, symmetric (zero point 0, range [-63, 63], or [-127,
 *     127] with full_range; see nne_quant_options), scale max|w| / 63 (127)
 *     per output channel (Conv axis 0, Gemm axis 0 with
 *     transB else 1, MatMul axis 1) or per tensor; a DequantizeLinear makes
 *     the float weight the layer reads. Biases of Conv and Gemm (beta 1):
 *     int32 with scale s_x * s_w[c] and no zero point.
 * Opset 10-12 has no per-axis DequantizeLinear: weights are then per tensor.
 * The float weights are dropped (compaction), so the file is about 1/4.
 */
#include "quant/quant.h"
#include "core/core.h"
#include "ir/passes.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int is_op(const nne_node *n, const char *t) {
    return !n->dead && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, t);
}

static int kept(const char *name, int n_keep, const char *const *keep) {
    for (int i = 0; i < n_keep; i++)
        if (keep[i] && !strcmp(keep[i], name)) return 1;
    return 0;
}

void nne_qplan_free(nne_qplan *p) {
    for (int i = 0; i < p->n_layers; i++) {
        nne_qlayer *l = &p->layers[i];
        nne_free(l->node), nne_free(l->op), nne_free(l->in_f), nne_free(l->in_q), nne_free(l->out),
            nne_free(l->weight);
    }
    for (int i = 0; i < p->n_tensors; i++) {
        nne_free(p->tensors[i].name), nne_free(p->tensors[i].dq), nne_free(p->tensors[i].shared);
    }
    nne_free(p->layers);
    nne_free(p->tensors);
    memset(p, 0, sizeof *p);
}

typedef struct qctx {
    nne_model *m;
    nne_graph *g;
    nne_graph_uses u;
    int64_t opset;
    const nne_qstats *st;
    nne_qplan *plan;
    int *mark;      /* per value: 0 no, 1 own parameters, 2 shares src[v]'s */
    int *src;
    int *entry;     /* per value: index into plan->tensors, -1 */
    uint8_t *keepn; /* per node: a layer kept in float */
    int qmax;       /* weight grid [-qmax, qmax] */
} qctx;

static const float *const_f32(const qctx *c, int v, const nne_tensor **t) {
    const nne_tensor *x = v >= 0 ? nne_graph_const_value(c->g, v, c->m->ir_version) : NULL;
    if (!x || x->dtype != NNE_DTYPE_FLOAT || !x->data) return NULL;
    if (t) *t = x;
    return x->data;
}

/* A float activation the calibration saw (not a constant). */
static const nne_qstat *act_stat(const qctx *c, int v) {
    if (v < 0 || c->g->values[v].kind == NNE_VAL_CONST || c->g->values[v].kind == NNE_VAL_OUTER) return NULL;
    return nne_qstats_find(c->st, c->g->values[v].name);
}

/* The layer kind of node i: 1 Conv, 2 Gemm, 3 MatMul, 0 none. */
static int layer_kind(const qctx *c, int i) {
    const nne_node *n = &c->g->nodes[i];
    const nne_tensor *w;
    if (n->n_in < 2 || n->n_out < 1 || !act_stat(c, n->in[0])) return 0;
    if (is_op(n, "Conv") && const_f32(c, n->in[1], &w) && w->ndim >= 3) return 1;
    if (is_op(n, "Gemm") && const_f32(c, n->in[1], &w) && w->ndim == 2) {
        const nne_attr *ta = nne_node_attr(n, "transA");
        if (ta && ta->i) return 0;
        return 2;
    }
    if (is_op(n, "MatMul") && const_f32(c, n->in[1], &w) && w->ndim == 2) return 3;
    return 0;
}

/* A Clip with constant bounds (inputs from opset 11, else attributes). */
static int const_clip(const qctx *c, const nne_node *r) {
    if (!is_op(r, "Clip") || r->n_out != 1 || r->n_in < 1) return 0;
    for (int k = 1; k < r->n_in; k++) {
        const nne_tensor *t;
        if (r->in[k] >= 0 && (!const_f32(c, r->in[k], &t) || nne_tensor_numel(t) != 1)) return 0;
    }
    return 1;
}

/* The value a layer's result is quantized at: its output, or the output of
 * a Relu or a constant Clip (ReLU6) that alone reads it, as ONNX Runtime's
 * quantizer does: the int8 op then applies the activation exactly as the
 * clamp of its requantization (one rounding, no Q/DQ pair in between). */
static int effective_out(const qctx *c, int v) {
    const nne_graph *g = c->g;
    if (v < 0 || g->values[v].is_output || nne_uses_count(&c->u, v) != 1) return v;
    nne_use use = c->u.use[c->u.start[v]];
    if (use.slot != 0) return v;
    const nne_node *r = &g->nodes[use.node];
    if ((is_op(r, "Relu") || const_clip(c, r)) && r->n_out == 1 && !c->keepn[use.node]) return r->out[0];
    return v;
}

/* Every input of node n is a calibrated activation. */
static int all_acts(const qctx *c, const nne_node *n) {
    if (n->n_in < 1) return 0;
    for (int k = 0; k < n->n_in; k++)
        if (!act_stat(c, n->in[k])) return 0;
    return 1;
}

static void want(qctx *c, int v) {
    if (v >= 0 && !c->mark[v] && nne_uses_count(&c->u, v) > 0 && act_stat(c, v)) c->mark[v] = 1;
}

static nne_status add_scalar(nne_graph *g, const char *base, nne_dtype dt, const void *val, int *out) {
    nne_tensor t = {.dtype = dt, .ndim = 0};
    size_t sz = nne_dtype_size(dt);
    t.data = nne_aligned_alloc(64);
    if (!t.data) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    memcpy(t.data, val, sz);
    return nne_pass_add_const(g, base, &t, out);
}

static nne_status add_vec(nne_graph *g, const char *base, nne_dtype dt, int ndim, const int64_t *dims, void **data,
                          int *out) {
    nne_tensor t = {.dtype = dt, .ndim = ndim};
    for (int d = 0; d < ndim; d++) t.dims[d] = dims[d];
    size_t nb = nne_tensor_nbytes(&t);
    t.data = nne_aligned_alloc(nb ? (nb + 63) / 64 * 64 : 64);
    if (!t.data) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    memset(t.data, 0, nb);
    *data = t.data;
    return nne_pass_add_const(g, base, &t, out);
}

/* node_name, or node_name_<k> when a node has that name already (ONNX
 * Runtime refuses two nodes of one name: a weight read by two layers gets
 * two DequantizeLinear nodes). */
static void unique_node_name(const nne_graph *g, const char *base, char *out, size_t cap) {
    snprintf(out, cap, "%s", base);
    for (int k = 2;; k++) {
        int used = 0;
        for (int i = 0; i < g->n_nodes && !used; i++) used = !g->nodes[i].dead && g->nodes[i].name && !strcmp(g->nodes[i].name, out);
        if (!used) return;
        snprintf(out, cap, "%s_%d", base, k);
    }
}

/* node op(ins) -> new value named base; *out the value */
static nne_status add_op(qctx *c, const char *op, const char *node_name, int n_in, const int *ins, const char *base,
                         int *out, int64_t axis) {
    nne_graph *g = c->g;
    int ni, v;
    NNE_TRY(nne_graph_add_unique_value(g, base, NNE_VAL_PENDING, &v));
    char nm[640];
    unique_node_name(g, node_name, nm, sizeof nm);
    NNE_TRY(nne_graph_add_node(g, op, "", nm, (int)c->opset, &ni));
    for (int k = 0; k < n_in; k++) NNE_TRY(nne_node_add_input(g, ni, ins[k]));
    NNE_TRY(nne_node_add_output(g, ni, v));
    if (axis != INT64_MIN) NNE_TRY(nne_node_set_attr_int(g, ni, "axis", axis));
    g->values[v].vtype = NNE_VT_TENSOR;
    *out = v;
    return NNE_OK;
}

/* Q/DQ for value v with the parameters of plan entry e; readers (those in
 * the uses snapshot, but layers kept in float) read the DQ output. */
static nne_status insert_qdq(qctx *c, int v, int e) {
    nne_graph *g = c->g;
    nne_qtensor *t = &c->plan->tensors[e];
    char base[600];
    const char *nm = g->values[v].name;
    int vs, vz, vq, vdq;
    snprintf(base, sizeof base, "%s_scale", nm);
    NNE_TRY(add_scalar(g, base, NNE_DTYPE_FLOAT, &t->scale, &vs));
    snprintf(base, sizeof base, "%s_zero_point", nm);
    NNE_TRY(add_scalar(g, base, NNE_DTYPE_UINT8, &t->zero_point, &vz));
    char node[600];
    snprintf(base, sizeof base, "%s_quantized", g->values[v].name);
    snprintf(node, sizeof node, "%s_QuantizeLinear", g->values[v].name);
    NNE_TRY(add_op(c, "QuantizeLinear", node, 3, (int[]){v, vs, vz}, base, &vq, INT64_MIN));
    snprintf(base, sizeof base, "%s_dequantized", g->values[v].name);
    snprintf(node, sizeof node, "%s_DequantizeLinear", g->values[v].name);
    NNE_TRY(add_op(c, "DequantizeLinear", node, 3, (int[]){vq, vs, vz}, base, &vdq, INT64_MIN));
    for (int k = c->u.start[v]; k < c->u.start[v + 1]; k++) {
        nne_use us = c->u.use[k];
        if (us.slot < 0 || c->keepn[us.node]) continue;
        g->nodes[us.node].in[us.slot] = vdq;
    }
    if (!(t->dq = nne_strdup(g->values[vdq].name))) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    return NNE_OK;
}

/* Weight of layer node ni (kind k) as int8 + DQ; bias as int32 + DQ. */

/* Per-channel max |w| in sc[0..n) -> symmetric scales: the overall max with
 * per_tensor, divided by qmax; an all-zero channel gets scale 1. */
static void finish_scales(float *sc, int64_t n, int per_tensor, int qmax) {
    if (per_tensor) {
        float mx = 0;
        for (int64_t j = 0; j < n; j++) mx = sc[j] > mx ? sc[j] : mx;
        for (int64_t j = 0; j < n; j++) sc[j] = mx;
    }
    for (int64_t j = 0; j < n; j++) {
        sc[j] /= (float)qmax;
        if (!(sc[j] > 1e-30f)) sc[j] = 1.0f;
    }
}

static nne_status quantize_weights(qctx *c, int ni, int kind, int per_tensor, nne_qlayer *L) {
    nne_graph *g = c->g;
    nne_node *n = &g->nodes[ni];
    const nne_tensor *W = NULL;
    const float *w = const_f32(c, n->in[1], &W);
    if (!w || !W) return nne_error(NNE_ERR_INTERNAL, "quantize: layer weight is not a float constant");
    nne_tensor Wt = *W; /* g->values moves as constants are added */
    W = &Wt;
    int axis = 0;
    if (kind == 2) {
        const nne_attr *tb = nne_node_attr(n, "transB");
        axis = tb && tb->i ? 0 : 1;
    } else if (kind == 3) {
        axis = 1;
    }
    int64_t ch = per_tensor ? 1 : W->dims[axis];
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; d++) outer *= W->dims[d];
    for (int d = axis + 1; d < W->ndim; d++) inner *= W->dims[d];
    int64_t D = W->dims[axis];
    float *sc = nne_malloc((size_t)(D + 1) * sizeof(float));
    if (!sc) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    /* per-channel max |w| */
    for (int64_t j = 0; j < D; j++) sc[j] = 0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t j = 0; j < D; j++) {
            const float *p = w + (o * D + j) * inner;
            for (int64_t k = 0; k < inner; k++) {
                float a = fabsf(p[k]);
                if (a > sc[j]) sc[j] = a;
            }
        }
    finish_scales(sc, D, per_tensor, c->qmax);
    char base[600];
    const char *wname = g->values[n->in[1]].name;
    int vq, vs, vz, vdq;
    void *qd, *sd, *zd;
    snprintf(base, sizeof base, "%s_quantized", wname);
    nne_status st = add_vec(g, base, NNE_DTYPE_INT8, W->ndim, W->dims, &qd, &vq);
    if (st == NNE_OK) {
        int8_t *q = qd;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < D; j++) {
                const float *p = w + (o * D + j) * inner;
                int8_t *qp = q + (o * D + j) * inner;
                float inv = 1.0f / sc[j];
                for (int64_t k = 0; k < inner; k++) {
                    float r = nearbyintf(p[k] * inv);
                    qp[k] = (int8_t)(r > c->qmax ? c->qmax : r < -c->qmax ? -c->qmax : r);
                }
            }
        snprintf(base, sizeof base, "%s_scale", wname);
        st = add_vec(g, base, NNE_DTYPE_FLOAT, ch > 1 ? 1 : 0, &ch, &sd, &vs);
    }
    if (st == NNE_OK) {
        memcpy(sd, sc, (size_t)ch * sizeof(float));
        snprintf(base, sizeof base, "%s_zero_point", wname);
        st = add_vec(g, base, NNE_DTYPE_INT8, ch > 1 ? 1 : 0, &ch, &zd, &vz);
    }
    if (st == NNE_OK) {
        char node[600];
        snprintf(base, sizeof base, "%s_dequantized", wname);
        snprintf(node, sizeof node, "%s_DequantizeLinear", wname);
        st = add_op(c, "DequantizeLinear", node, 3, (int[]){vq, vs, vz}, base, &vdq, ch > 1 ? axis : INT64_MIN);
    }
    if (st == NNE_OK) {
        n = &g->nodes[ni];
        n->in[1] = vdq;
        c->plan->weights++;
        L->channels = ch;
        L->wscale_min = INFINITY, L->wscale_max = 0;
        for (int64_t j = 0; j < D; j++) {
            L->wscale_min = fminf(L->wscale_min, sc[j]);
            L->wscale_max = fmaxf(L->wscale_max, sc[j]);
        }
    }
    /* bias: int32 with scale s_x * s_w[c] */
    n = &g->nodes[ni];
    const nne_tensor *B;
    int v0 = nne_graph_find(g, L->in_f); /* the layer's input before the DQ was put in front */
    int ex = v0 >= 0 && v0 < c->u.n_values ? c->entry[v0] : -1;
    const nne_attr *beta = kind == 2 ? nne_node_attr(n, "beta") : NULL;
    int64_t nout = kind == 1 ? W->dims[0] : W->dims[axis];
    if (st == NNE_OK && kind != 3 && n->n_in > 2 && ex >= 0 && (!beta || beta->f == 1.0f) &&
        const_f32(c, n->in[2], &B) && B->ndim == 1 && B->dims[0] == nout && (kind == 1 ? axis == 0 : 1)) {
        float sx = c->plan->tensors[ex].scale;
        const float *b = B->data;
        nne_tensor Bt = *B;
        B = &Bt;
        int ok = 1;
        for (int64_t j = 0; j < nout; j++) ok &= sx * sc[per_tensor ? 0 : j] > 0;
        if (ok) {
            int64_t bch = c->opset >= 13 ? nout : 1;
            const char *bname = g->values[n->in[2]].name;
            snprintf(base, sizeof base, "%s_quantized", bname);
            int vbq, vbs, vbdq;
            void *bq, *bs;
            st = add_vec(g, base, NNE_DTYPE_INT32, 1, &nout, &bq, &vbq);
            if (st == NNE_OK) {
                snprintf(base, sizeof base, "%s_scale", bname);
                st = add_vec(g, base, NNE_DTYPE_FLOAT, bch > 1 ? 1 : 0, &bch, &bs, &vbs);
            }
            if (st == NNE_OK) {
                int32_t *q = bq;
                float *s = bs;
                for (int64_t j = 0; j < nout; j++) {
                    float sj = sx * sc[per_tensor || bch == 1 ? 0 : j];
                    if (j < bch) s[j] = sj;
                    double r = nearbyint((double)b[j] / sj);
                    q[j] = (int32_t)(r > 2147483647.0 ? 2147483647.0 : r < -2147483647.0 ? -2147483647.0 : r);
                }
                char node[600];
                snprintf(base, sizeof base, "%s_dequantized", bname);
                snprintf(node, sizeof node, "%s_DequantizeLinear", bname);
                st = add_op(c, "DequantizeLinear", node, 2, (int[]){vbq, vbs}, base, &vbdq,
                            bch > 1 ? 0 : INT64_MIN);
            }
            if (st == NNE_OK) {
                g->nodes[ni].in[2] = vbdq;
                L->bias_int32 = 1;
            }
        }
    }
    nne_free(sc);
    return st;
}

static nne_status rewrite(qctx *c, int per_tensor, int n_keep, const char *const *keep) {
    nne_graph *g = c->g;
    nne_qplan *plan = c->plan;
    int nv = g->n_values, nn = g->n_nodes;
    /* 1. layers and the tensors they want quantized */
    int n_layers = 0;
    for (int i = 0; i < nn; i++) {
        nne_node *n = &g->nodes[i];
        c->keepn[i] = layer_kind(c, i) && kept(n->name, n_keep, keep);
        n_layers += layer_kind(c, i) != 0;
    }
    if (!n_layers) return NNE_OK;
    plan->layers = nne_calloc((size_t)n_layers, sizeof *plan->layers);
    if (!plan->layers) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    for (int i = 0; i < nn; i++) {
        nne_node *n = &g->nodes[i];
        int k = layer_kind(c, i);
        if (k) {
            nne_qlayer *L = &plan->layers[plan->n_layers++];
            L->node = nne_strdup(n->name);
            L->op = nne_strdup(n->op_type);
            L->in_f = nne_strdup(g->values[n->in[0]].name);
            L->out = nne_strdup(g->values[n->out[0]].name);
            L->weight = nne_strdup(g->values[n->in[1]].name);
            L->sqnr_in = L->sqnr_out = NAN;
            L->node_idx = i;
            L->kind = k;
            if (!L->node || !L->op || !L->in_f || !L->out || !L->weight)
                return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
            if (c->keepn[i]) continue;
            L->quantized = 1;
            want(c, n->in[0]);
            int eo = effective_out(c, n->out[0]);
            if (!g->values[eo].is_output) want(c, eo);
        } else if ((is_op(n, "Add") && n->n_in == 2 && act_stat(c, n->in[0]) && act_stat(c, n->in[1])) ||
                   ((is_op(n, "GlobalAveragePool") || is_op(n, "AveragePool")) && n->n_in == 1) ||
                   (is_op(n, "Concat") && all_acts(c, n))) {
            if (n->n_out != 1 || !act_stat(c, n->out[0])) continue;
            for (int k2 = 0; k2 < n->n_in; k2++) want(c, n->in[k2]);
            int eo = effective_out(c, n->out[0]);
            if (!g->values[eo].is_output) want(c, eo);
        }
    }
    /* 2. data-movement ops pass their input's parameters on */
    for (int i = 0; i < nn; i++) {
        nne_node *n = &g->nodes[i];
        int mv = is_op(n, "MaxPool") || is_op(n, "Reshape") || is_op(n, "Flatten") || is_op(n, "Transpose") ||
                 is_op(n, "Squeeze") || is_op(n, "Unsqueeze");
        if (!mv || n->n_in < 1 || n->n_out < 1 || n->in[0] < 0 || !c->mark[n->in[0]]) continue;
        if (is_op(n, "MaxPool") && n->n_out > 1 && n->out[1] >= 0) continue;
        int o = n->out[0];
        if (o < 0 || g->values[o].is_output || nne_uses_count(&c->u, o) == 0) continue;
        c->mark[o] = 2;
        c->src[o] = c->src[n->in[0]] >= 0 ? c->src[n->in[0]] : n->in[0];
    }
    /* 3. plan entries: sources first (a shared value comes after its source) */
    int cnt = 0;
    for (int v = 0; v < nv; v++) cnt += c->mark[v] != 0;
    plan->tensors = nne_calloc((size_t)cnt + 1, sizeof *plan->tensors);
    if (!plan->tensors) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    for (int pass = 1; pass <= 2; pass++)
        for (int v = 0; v < nv; v++) {
            if (c->mark[v] != pass) continue;
            nne_qtensor *t = &plan->tensors[plan->n_tensors];
            t->sqnr = NAN;
            t->stat = -1;
            if (!(t->name = nne_strdup(g->values[v].name))) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
            if (pass == 1) {
                const nne_qstat *s = act_stat(c, v);
                t->stat = (int)(s - c->st->s);
                t->scale = s->scale;
                t->zero_point = s->zero_point;
            } else {
                int e = c->entry[c->src[v]];
                if (e < 0) return nne_error(NNE_ERR_INTERNAL, "quantize: shared parameters without a source");
                t->scale = plan->tensors[e].scale;
                t->zero_point = plan->tensors[e].zero_point;
                if (!(t->shared = nne_strdup(plan->tensors[e].name)))
                    return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
            }
            c->entry[v] = plan->n_tensors++;
        }
    /* 4. Q/DQ pairs, then weights and biases */
    for (int v = 0; v < nv; v++)
        if (c->entry[v] >= 0) NNE_TRY(insert_qdq(c, v, c->entry[v]));
    for (int l = 0; l < plan->n_layers; l++) {
        nne_qlayer *L = &plan->layers[l];
        if (L->quantized) NNE_TRY(quantize_weights(c, L->node_idx, L->kind, per_tensor, L));
    }
    /* the layer input each quantized layer reads in the int8 model */
    for (int l = 0; l < plan->n_layers; l++) {
        nne_qlayer *L = &plan->layers[l];
        int v = nne_graph_find(g, L->in_f);
        if (L->quantized && v >= 0 && c->entry[v] >= 0 && !(L->in_q = nne_strdup(plan->tensors[c->entry[v]].dq)))
            return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    }
    return NNE_OK;
}

nne_status nne_quant_rewrite(nne_model *m, const nne_qstats *st, int per_tensor, int full_range, int n_keep,
                             const char *const *keep, nne_qplan *plan) {
    memset(plan, 0, sizeof *plan);
    qctx c = {.m = m, .g = m->graph, .st = st, .plan = plan, .qmax = full_range ? 127 : 63};
    c.opset = nne_model_opset_for(m, "");
    if (c.opset < 10)
        return nne_error(NNE_ERR_UNSUPPORTED,
                         "quantize: the model's opset is %lld; QuantizeLinear needs opset 10 (13 for per-channel "
                         "weights): re-export the model with opset 13 or later",
                         (long long)c.opset);
    if (c.opset < 13 && !per_tensor) {
        per_tensor = 1;
        plan->per_tensor_forced = 1;
    }
    nne_graph *g = m->graph;
    nne_status rc = nne_graph_uses_build(g, &c.u);
    if (rc != NNE_OK) return rc;
    int nv = g->n_values;
    c.mark = nne_calloc((size_t)nv + 1, sizeof(int));
    c.src = nne_malloc(((size_t)nv + 1) * sizeof(int));
    c.entry = nne_malloc(((size_t)nv + 1) * sizeof(int));
    c.keepn = nne_calloc((size_t)g->n_nodes + 1, 1);
    if (!c.mark || !c.src || !c.entry || !c.keepn) {
        rc = nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    } else {
        for (int v = 0; v < nv; v++) c.src[v] = c.entry[v] = -1;
        rc = rewrite(&c, per_tensor, n_keep, keep);
    }
    nne_free(c.mark), nne_free(c.src), nne_free(c.entry), nne_free(c.keepn);
    nne_graph_uses_free(&c.u);
    if (rc == NNE_OK && plan->n_layers == 0)
        rc = nne_error(NNE_ERR_UNSUPPORTED,
                       "quantize: nothing to quantize: the model has no Conv, Gemm or MatMul with float weights "
                       "(an already quantized model, or weights computed at run time)");
    if (rc == NNE_OK) rc = nne_graph_topo_sort(g);
    if (rc == NNE_OK) rc = nne_graph_compact(g);
    if (rc == NNE_OK && nne_validate_enabled()) rc = nne_graph_validate(g);
    return rc;
}

/*
 * Dynamic quantization (ONNX Runtime's quantize_dynamic form): each
 * MatMul/Gemm with a constant float 2-D weight W (Gemm: alpha 1, beta 1,
 * transA 0; W^T is stored for transB) becomes
 *   DynamicQuantizeLinear(X) -> (Xq uint8, Xs, Xzp)
 *   MatMulInteger(Xq, Wq int8 [K, N], Xzp, Wzp) -> int32
 *   Cast(float) * (Xs * Ws) [+ C]
 * with Ws one scale per output column (or one per tensor) and Wzp 0. The
 * activations' range is measured on every run, so no calibration is needed.
 */
static nne_status dyn_layer(qctx *c, int ni, int kind, int per_tensor, nne_qlayer *L) {
    nne_graph *g = c->g;
    nne_node *n = &g->nodes[ni];
    const nne_tensor *W0 = NULL;
    const float *w = const_f32(c, n->in[1], &W0);
    nne_tensor W = *W0;
    int tb = 0;
    if (kind == 2) {
        const nne_attr *a = nne_node_attr(n, "transB");
        tb = a && a->i;
    }
    int64_t K = tb ? W.dims[1] : W.dims[0], N = tb ? W.dims[0] : W.dims[1];
    int64_t ch = per_tensor ? 1 : N;
    float *sc = nne_calloc((size_t)N + 1, sizeof(float));
    if (!sc) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    for (int64_t k = 0; k < K; k++)
        for (int64_t j = 0; j < N; j++) {
            float a = fabsf(tb ? w[j * K + k] : w[k * N + j]);
            if (a > sc[j]) sc[j] = a;
        }
    finish_scales(sc, N, per_tensor, c->qmax);
    char base[600], node[600];
    const char *wname = g->values[n->in[1]].name, *nname = n->name;
    int vq, vs, vz, xq, xs, xz, y32, yf, s, y;
    void *qd, *sd, *zd;
    int64_t kn[2] = {K, N};
    snprintf(base, sizeof base, "%s_quantized", wname);
    nne_status st = add_vec(g, base, NNE_DTYPE_INT8, 2, kn, &qd, &vq);
    if (st == NNE_OK) {
        int8_t *q = qd;
        for (int64_t k = 0; k < K; k++)
            for (int64_t j = 0; j < N; j++) {
                float r = nearbyintf((tb ? w[j * K + k] : w[k * N + j]) / sc[j]);
                q[k * N + j] = (int8_t)(r > c->qmax ? c->qmax : r < -c->qmax ? -c->qmax : r);
            }
        snprintf(base, sizeof base, "%s_scale", wname);
        st = add_vec(g, base, NNE_DTYPE_FLOAT, ch > 1 ? 1 : 0, &ch, &sd, &vs);
    }
    if (st == NNE_OK) {
        memcpy(sd, sc, (size_t)ch * sizeof(float));
        snprintf(base, sizeof base, "%s_zero_point", wname);
        st = add_vec(g, base, NNE_DTYPE_INT8, ch > 1 ? 1 : 0, &ch, &zd, &vz);
    }
    nne_free(sc);
    if (st != NNE_OK) return st;
    n = &g->nodes[ni];
    int x = n->in[0], out = n->out[0], bias = kind == 2 && n->n_in > 2 ? n->in[2] : -1;
    char *nm = nne_strdup(nname);
    if (!nm) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    /* DynamicQuantizeLinear: three outputs */
    int dq;
    char uniq[640];
    snprintf(node, sizeof node, "%s_DynamicQuantizeLinear", nm);
    unique_node_name(g, node, uniq, sizeof uniq);
    st = nne_graph_add_node(g, "DynamicQuantizeLinear", "", uniq, (int)c->opset, &dq);
    const char *suf[3] = {"_quantized", "_scale", "_zero_point"};
    int *outs[3] = {&xq, &xs, &xz};
    for (int k = 0; k < 3 && st == NNE_OK; k++) {
        snprintf(base, sizeof base, "%s_input%s", nm, suf[k]);
        st = nne_graph_add_unique_value(g, base, NNE_VAL_PENDING, outs[k]);
        if (st == NNE_OK) st = nne_node_add_output(g, dq, *outs[k]);
    }
    if (st == NNE_OK) st = nne_node_add_input(g, dq, x);
    if (st == NNE_OK) {
        snprintf(node, sizeof node, "%s_MatMulInteger", nm);
        snprintf(base, sizeof base, "%s_int32", nm);
        st = add_op(c, "MatMulInteger", node, 4, (int[]){xq, vq, xz, vz}, base, &y32, INT64_MIN);
    }
    if (st == NNE_OK) {
        int ci;
        snprintf(node, sizeof node, "%s_Cast", nm);
        snprintf(base, sizeof base, "%s_float", nm);
        st = add_op(c, "Cast", node, 1, (int[]){y32}, base, &yf, INT64_MIN);
        ci = g->n_nodes - 1;
        if (st == NNE_OK) st = nne_node_set_attr_int(g, ci, "to", NNE_DTYPE_FLOAT);
    }
    if (st == NNE_OK) {
        snprintf(node, sizeof node, "%s_scale_Mul", nm);
        snprintf(base, sizeof base, "%s_scale", nm);
        st = add_op(c, "Mul", node, 2, (int[]){xs, vs}, base, &s, INT64_MIN);
    }
    if (st == NNE_OK) {
        /* the layer goes; its output is made by the last new node */
        nne_graph_remove_node(g, ni);
        int last;
        snprintf(node, sizeof node, "%s_output_Mul", nm);
        unique_node_name(g, node, uniq, sizeof uniq);
        st = nne_graph_add_node(g, "Mul", "", uniq, (int)c->opset, &last);
        if (st == NNE_OK) st = nne_node_add_input(g, last, yf);
        if (st == NNE_OK) st = nne_node_add_input(g, last, s);
        if (bias < 0) {
            if (st == NNE_OK) st = nne_node_add_output(g, last, out);
        } else {
            snprintf(base, sizeof base, "%s_scaled", nm);
            if (st == NNE_OK) st = nne_graph_add_unique_value(g, base, NNE_VAL_PENDING, &y);
            if (st == NNE_OK) st = nne_node_add_output(g, last, y);
            snprintf(node, sizeof node, "%s_bias_Add", nm);
            unique_node_name(g, node, uniq, sizeof uniq);
            if (st == NNE_OK) st = nne_graph_add_node(g, "Add", "", uniq, (int)c->opset, &last);
            if (st == NNE_OK) st = nne_node_add_input(g, last, y);
            if (st == NNE_OK) st = nne_node_add_input(g, last, bias);
            if (st == NNE_OK) st = nne_node_add_output(g, last, out);
        }
    }
    nne_free(nm);
    if (st == NNE_OK) {
        c->plan->weights++;
        L->channels = ch;
        L->quantized = 1;
    }
    return st;
}

nne_status nne_quant_rewrite_dynamic(nne_model *m, int per_tensor, int full_range, int n_keep,
                                     const char *const *keep, nne_qplan *plan) {
    memset(plan, 0, sizeof *plan);
    qctx c = {.m = m, .g = m->graph, .plan = plan, .qmax = full_range ? 127 : 63};
    c.opset = nne_model_opset_for(m, "");
    if (c.opset < 11)
        return nne_error(NNE_ERR_UNSUPPORTED,
                         "quantize: the model's opset is %lld; DynamicQuantizeLinear needs opset 11: re-export the "
                         "model with opset 13 or later",
                         (long long)c.opset);
    nne_graph *g = m->graph;
    int nn = g->n_nodes;
    plan->layers = nne_calloc((size_t)nn + 1, sizeof *plan->layers);
    if (!plan->layers) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    nne_status rc = NNE_OK;
    for (int i = 0; i < nn && rc == NNE_OK; i++) {
        nne_node *n = &g->nodes[i];
        const nne_tensor *W;
        int kind = 0;
        if (n->dead || n->n_in < 2 || n->n_out != 1 || n->in[0] < 0 || g->values[n->in[0]].kind == NNE_VAL_CONST)
            continue;
        if (is_op(n, "MatMul") && const_f32(&c, n->in[1], &W) && W->ndim == 2) kind = 3;
        if (is_op(n, "Gemm") && const_f32(&c, n->in[1], &W) && W->ndim == 2) {
            const nne_attr *ta = nne_node_attr(n, "transA"), *al = nne_node_attr(n, "alpha"),
                           *be = nne_node_attr(n, "beta");
            const nne_tensor *C = NULL;
            int cok = n->n_in < 3 || n->in[2] < 0 || const_f32(&c, n->in[2], &C);
            if (!(ta && ta->i) && (!al || al->f == 1.0f) && (!be || be->f == 1.0f) && cok) kind = 2;
        }
        if (!kind) continue;
        nne_qlayer *L = &plan->layers[plan->n_layers++];
        L->node = nne_strdup(n->name);
        L->op = nne_strdup(n->op_type);
        L->in_f = nne_strdup(g->values[n->in[0]].name);
        L->out = nne_strdup(g->values[n->out[0]].name);
        L->weight = nne_strdup(g->values[n->in[1]].name);
        L->sqnr_in = L->sqnr_out = NAN;
        L->node_idx = i;
        L->kind = kind;
        if (!L->node || !L->op || !L->in_f || !L->out || !L->weight) {
            rc = nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
            break;
        }
        if (kept(n->name, n_keep, keep)) continue;
        rc = dyn_layer(&c, i, kind, per_tensor, L);
    }
    if (rc == NNE_OK && plan->weights == 0)
        rc = nne_error(NNE_ERR_UNSUPPORTED,
                       "quantize: --dynamic: nothing to quantize: the model has no MatMul or Gemm (alpha 1, beta 1, "
                       "transA 0) with a float 2-D weight");
    if (rc == NNE_OK) rc = nne_graph_topo_sort(g);
    if (rc == NNE_OK) rc = nne_graph_compact(g);
    if (rc == NNE_OK && nne_validate_enabled()) rc = nne_graph_validate(g);
    return rc;
}
