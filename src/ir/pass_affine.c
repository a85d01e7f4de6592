/*
 * pass_affine.c - Mul(X, a) -> Add(., b) with a and b float scalar
 * constants becomes one ai.nnedge Affine(X, alpha = a, beta = b) node
 * (src/ops/nn_affine.c): one pass over the tensor instead of two (level
 * all). PP-LCNetV3, the backbone of the PP-OCRv4 models, ends every
 * activation with such a "learnable affine block".
 *
 * Fused only when the Mul's output is read by the Add alone (and is not a
 * graph output) and the scalars cannot change the output's shape: rank 0,
 * or rank 1 (size 1) when X is known to have rank >= 1 (its static or
 * declared shape, or the op that makes it keeps its input's rank of >= 1).
 */
#include "ir/passes.h"
#include "core/core.h"

#include <string.h>

static int af_is_op(const nne_node *n, const char *type) {
    return !n->dead && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, type);
}

/* The float scalar constant v (numel 1, rank <= 1): its value, *rank. */
static int af_scalar(nne_pass_ctx *ctx, const nne_graph *g, int v, float *val, int *rank) {
    int64_t ne = 0;
    const float *p = nne_pass_const_f32(ctx, g, v, &ne);
    if (!p || ne != 1) return 0;
    const nne_tensor *t = nne_graph_const_value(g, v, ctx->m ? ctx->m->ir_version : 13);
    if (!t || t->ndim > 1) return 0;
    *val = p[0];
    *rank = t->ndim;
    return 1;
}

/* Value v surely has rank >= 1. */
static int af_rank_ge1(const nne_graph *g, const nne_shapes *sh, int v, int depth) {
    const nne_tensor *t = nne_shape_of(sh, v);
    if (t) return t->ndim >= 1;
    if (v < 0 || depth > 16) return 0;
    const nne_value *val = &g->values[v];
    if (val->vtype == NNE_VT_TENSOR && val->ndim >= 0) return val->ndim >= 1;
    if (val->kind != NNE_VAL_NODE || val->producer < 0) return 0;
    const nne_node *n = &g->nodes[val->producer];
    if (n->dead || n->n_in < 1) return 0;
    /* Conv-like ops: rank >= 3 by definition */
    static const char *const k_conv[] = {"Conv", "FusedConv", "ConvTranspose", "MaxPool", "AveragePool",
                                         "BatchNormalization", "GlobalAveragePool"};
    for (size_t k = 0; k < sizeof k_conv / sizeof *k_conv; k++)
        if (!strcmp(n->op_type, k_conv[k])) return 1;
    /* element-wise: the output has at least the rank of each input */
    static const char *const k_ew[] = {"Relu", "Sigmoid", "HardSwish", "HardSigmoid", "Clip", "Tanh", "Add",
                                       "Sub", "Mul", "Div", "Affine", "LeakyRelu"};
    for (size_t k = 0; k < sizeof k_ew / sizeof *k_ew; k++)
        if (!strcmp(n->op_type, k_ew[k])) {
            for (int i = 0; i < n->n_in; i++)
                if (af_rank_ge1(g, sh, n->in[i], depth + 1)) return 1;
            return 0;
        }
    return 0;
}

nne_status nne_pass_affine(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    if (g->parent) return NNE_OK;
    nne_shapes sh;
    NNE_TRY(nne_shapes_infer(ctx, g, &sh));
    nne_graph_uses u = {0};
    nne_status rc = nne_graph_uses_build(g, &u);
    int n_nodes = g->n_nodes;
    for (int i = 0; i < n_nodes && rc == NNE_OK; i++) {
        const nne_node *m = &g->nodes[i];
        if (!af_is_op(m, "Mul") || m->n_in != 2 || m->n_out != 1) continue;
        float a, b;
        int ra, rb, xi;
        if (af_scalar(ctx, g, m->in[1], &a, &ra)) xi = 0;
        else if (af_scalar(ctx, g, m->in[0], &a, &ra)) xi = 1;
        else continue;
        int x = m->in[xi], mo = m->out[0];
        if (mo < 0 || g->values[mo].is_output || nne_uses_count(&u, mo) != 1) continue;
        nne_use use = u.use[u.start[mo]];
        if (use.slot < 0) continue;
        int ai = use.node;
        const nne_node *ad = &g->nodes[ai];
        if (!af_is_op(ad, "Add") || ad->n_in != 2 || ad->n_out != 1) continue;
        int bv = ad->in[0] == mo ? ad->in[1] : ad->in[0];
        if (!af_scalar(ctx, g, bv, &b, &rb)) continue;
        if ((ra == 1 || rb == 1) && !af_rank_ge1(g, &sh, x, 0)) continue;
        /* the Add becomes Affine(X) */
        nne_node *n = &g->nodes[ai];
        for (int k = 0; k < n->n_attr; k++) nne_attr_free(&n->attrs[k]);
        n->n_attr = 0;
        n->in[0] = x;
        n->n_in = 1;
        rc = nne_pass_set_op(ctx, g, ai, "Affine", "ai.nnedge", 1);
        if (rc == NNE_OK) rc = nne_node_set_attr_float(g, ai, "alpha", a);
        if (rc == NNE_OK) rc = nne_node_set_attr_float(g, ai, "beta", b);
        if (rc != NNE_OK) break;
        nne_graph_remove_node(g, i);
        st->removed++;
        st->folded++;
    }
    nne_graph_uses_free(&u);
    nne_shapes_free(&sh);
    return rc;
}
