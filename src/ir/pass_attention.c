/*
 * pass_attention.c - scaled dot-product attention written out as
 *     S = MatMul(Q, Kt) [-> Mul(S, c) or Div(S, c), c a float scalar]
 *     P = Softmax(S) over the last axis
 *     O = MatMul(P, V)
 * becomes one ai.nnedge FusedAttention(Q, Kt, V, scale = c or 1/c) node
 * (src/ops/nn_fused_attention.c), which never stores the whole score
 * matrix (level all).
 *
 * Fused only when S and P are read by the pattern alone, the dtypes and
 * ranks are known, from static shapes or the values' declared types (float,
 * every MatMul operand of rank >= 2: the fused op has no 1-D matmul forms)
 * and the Softmax normalizes the last axis (any opset: before 13 its axis
 * must then be the last one).
 */
#include "ir/passes.h"
#include "core/core.h"

#include <string.h>

static int att_is_op(const nne_node *n, const char *type) {
    return !n->dead && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, type);
}

/* The node that alone reads value v (not a graph output), or -1. */
static int att_sole_reader(const nne_graph *g, const nne_graph_uses *u, int v) {
    if (v < 0 || g->values[v].is_output || nne_uses_count(u, v) != 1) return -1;
    nne_use use = u->use[u->start[v]];
    if (use.slot < 0 || g->nodes[use.node].dead) return -1;
    return use.node;
}

/* The producer of value v when it is a live node of type `type`, or -1. */
static int att_producer(const nne_graph *g, int v, const char *type) {
    if (v < 0 || g->values[v].kind != NNE_VAL_NODE) return -1;
    int p = g->values[v].producer;
    return p >= 0 && att_is_op(&g->nodes[p], type) ? p : -1;
}

/* Rank and dtype of value v: from the static shapes, the declared type, or
 * (models with symbolic input dims, where neither is known) followed back
 * through the ops that keep or plainly change them; 0 when unknown. */
static int att_info(nne_pass_ctx *ctx, const nne_graph *g, const nne_shapes *sh, int v, int *rank, nne_dtype *dt,
                    int depth) {
    const nne_tensor *t = nne_shape_of(sh, v);
    if (t) {
        *rank = t->ndim, *dt = t->dtype;
        return 1;
    }
    if (v < 0 || depth > 24) return 0;
    const nne_value *val = &g->values[v];
    if (val->vtype == NNE_VT_TENSOR && val->ndim >= 0 && val->dtype != NNE_DTYPE_UNDEFINED) {
        *rank = val->ndim, *dt = val->dtype;
        return 1;
    }
    if (val->kind == NNE_VAL_CONST) {
        *rank = val->init.ndim, *dt = val->init.dtype;
        return 1;
    }
    if (val->kind != NNE_VAL_NODE || val->producer < 0) return 0;
    const nne_node *n = &g->nodes[val->producer];
    if (n->dead || (n->domain[0] && strcmp(n->domain, "ai.onnx")) || n->n_in < 1 || n->out[0] != v) return 0;
    const char *ty = n->op_type;
    static const char *const k_same[] = {"Transpose", "Slice", "Softmax", "Relu", "Sigmoid", "Tanh", "Identity",
                                         "Dropout", "Neg", "Sqrt", "Exp", "Erf", "LayerNormalization"};
    for (size_t k = 0; k < sizeof k_same / sizeof *k_same; k++)
        if (!strcmp(ty, k_same[k])) return att_info(ctx, g, sh, n->in[0], rank, dt, depth + 1);
    int r0, r1;
    nne_dtype d0, d1;
    if (!strcmp(ty, "Add") || !strcmp(ty, "Sub") || !strcmp(ty, "Mul") || !strcmp(ty, "Div") || !strcmp(ty, "MatMul")) {
        if (n->n_in != 2 || !att_info(ctx, g, sh, n->in[0], &r0, &d0, depth + 1) ||
            !att_info(ctx, g, sh, n->in[1], &r1, &d1, depth + 1) || d0 != d1)
            return 0;
        if (!strcmp(ty, "MatMul") && (r0 < 2 || r1 < 2)) return 0; /* the 1-D forms drop an axis */
        *rank = r0 > r1 ? r0 : r1, *dt = d0;
        return 1;
    }
    if (!strcmp(ty, "Squeeze") || !strcmp(ty, "Unsqueeze") || !strcmp(ty, "Reshape")) {
        int64_t na = -1;
        if (!strcmp(ty, "Reshape") || n->opset >= 13) {
            if (n->n_in < 2) return 0;
            const nne_tensor *c = nne_graph_const_value(g, n->in[1], ctx->m ? ctx->m->ir_version : 13);
            if (!c || c->ndim != 1) return 0;
            na = c->dims[0];
        } else {
            const nne_attr *a = nne_node_attr(n, "axes");
            if (!a || a->type != NNE_ATTR_INTS) return 0;
            na = a->n;
        }
        if (!att_info(ctx, g, sh, n->in[0], &r0, &d0, depth + 1)) return 0;
        *rank = !strcmp(ty, "Reshape") ? (int)na : !strcmp(ty, "Squeeze") ? r0 - (int)na : r0 + (int)na;
        *dt = d0;
        return *rank >= 0;
    }
    return 0;
}

static int att_f32_rank2(nne_pass_ctx *ctx, const nne_graph *g, const nne_shapes *sh, int v, int *rank) {
    int r = -1;
    nne_dtype dt = NNE_DTYPE_UNDEFINED;
    if (!att_info(ctx, g, sh, v, &r, &dt, 0)) return 0;
    if (rank) *rank = r;
    return dt == NNE_DTYPE_FLOAT && r >= 2;
}

/* Softmax node n normalizes the last axis of its rank-`rank` input. */
static int att_softmax_last(const nne_node *n, int rank) {
    const nne_attr *a = nne_node_attr(n, "axis");
    int64_t axis = n->opset < 13 ? 1 : -1;
    if (a) {
        if (a->type != NNE_ATTR_INT) return 0;
        axis = a->i;
    }
    if (axis < 0) axis += rank;
    return axis == rank - 1;
}

/* Tries the pattern ending at Softmax node si; 1 in *done when fused. */
static nne_status att_try(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, const nne_shapes *sh, int si,
                          nne_pass_stats *st) {
    const nne_node *sm = &g->nodes[si];
    if (sm->n_in != 1 || sm->n_out != 1) return NNE_OK;
    int srank;
    if (!att_f32_rank2(ctx, g, sh, sm->in[0], &srank) || !att_softmax_last(sm, srank)) return NNE_OK;
    /* P read by the second MatMul alone, as its A */
    int m2 = att_sole_reader(g, u, sm->out[0]);
    if (m2 < 0 || !att_is_op(&g->nodes[m2], "MatMul") || g->nodes[m2].n_in != 2 || g->nodes[m2].in[0] != sm->out[0])
        return NNE_OK;
    /* S, possibly through a scalar Mul/Div, from the first MatMul */
    float scale = 1.0f;
    int sc = -1, s_val = sm->in[0];
    int pm = att_producer(g, s_val, "Mul"), pd = att_producer(g, s_val, "Div");
    if (pm >= 0 || pd >= 0) {
        const nne_node *n = &g->nodes[pm >= 0 ? pm : pd];
        if (n->n_in != 2 || att_sole_reader(g, u, s_val) != si) return NNE_OK;
        /* Mul: either input the scalar; Div: the divisor */
        int64_t ne = 0;
        int c = n->in[1];
        const float *p = nne_pass_const_f32(ctx, g, c, &ne);
        if (pm >= 0 && !(p && ne == 1)) {
            c = n->in[0];
            p = nne_pass_const_f32(ctx, g, c, &ne);
        }
        if (!p || ne != 1 || !(p[0] == p[0]) || p[0] == 0.0f) return NNE_OK;
        scale = pd >= 0 ? 1.0f / p[0] : p[0];
        sc = pm >= 0 ? pm : pd;
        s_val = n->in[0] == c ? n->in[1] : n->in[0];
    }
    int m1 = att_producer(g, s_val, "MatMul");
    if (m1 < 0 || g->nodes[m1].n_in != 2 || att_sole_reader(g, u, s_val) != (sc >= 0 ? sc : si)) return NNE_OK;
    int q = g->nodes[m1].in[0], kt = g->nodes[m1].in[1], v = g->nodes[m2].in[1];
    if (!att_f32_rank2(ctx, g, sh, q, NULL) || !att_f32_rank2(ctx, g, sh, kt, NULL) || !att_f32_rank2(ctx, g, sh, v, NULL) ||
        !att_f32_rank2(ctx, g, sh, g->nodes[m2].out[0], NULL))
        return NNE_OK;
    /* the second MatMul becomes the fused node */
    nne_node *n = &g->nodes[m2];
    for (int k = 0; k < n->n_attr; k++) nne_attr_free(&n->attrs[k]);
    n->n_attr = 0;
    n->in[0] = q;
    n->in[1] = kt;
    NNE_TRY(nne_node_add_input(g, m2, v));
    NNE_TRY(nne_pass_set_op(ctx, g, m2, "FusedAttention", "ai.nnedge", 1));
    if (scale != 1.0f) NNE_TRY(nne_node_set_attr_float(g, m2, "scale", scale));
    nne_graph_remove_node(g, si);
    nne_graph_remove_node(g, m1);
    if (sc >= 0) nne_graph_remove_node(g, sc);
    st->removed += sc >= 0 ? 3 : 2;
    st->folded++;
    return NNE_OK;
}

nne_status nne_pass_attention(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    if (g->parent) return NNE_OK;
    nne_shapes sh;
    NNE_TRY(nne_shapes_infer(ctx, g, &sh));
    nne_graph_uses u = {0};
    nne_status rc = nne_graph_uses_build(g, &u);
    int n = g->n_nodes;
    for (int i = 0; i < n && rc == NNE_OK; i++)
        if (att_is_op(&g->nodes[i], "Softmax")) rc = att_try(ctx, g, &u, &sh, i, st);
    nne_graph_uses_free(&u);
    nne_shapes_free(&sh);
    return rc;
}
