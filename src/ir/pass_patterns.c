/*
 * pass_patterns.c - decomposed subgraphs recognised as the one op they
 * compute (level all):
 *
 *   GELU, erf form (as PyTorch exports nn.GELU()):
 *       x * (1 + Erf(x / sqrt 2)) * 0.5    (x / sqrt 2 also as x * (1/sqrt 2),
 *       the 0.5 also applied to x first)   -> Gelu(x)
 *   GELU, tanh form (nn.GELU(approximate="tanh")):
 *       x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 x^3))) * 0.5
 *                                          -> Gelu(x, approximate="tanh")
 *
 *   LayerNormalization over the last axis:
 *       (x - mean(x)) / Sqrt(mean((x - mean(x))^2) + eps) * gamma + beta
 *                                          -> LayerNormalization(x, gamma, beta)
 *       (ONNX has the op from opset 17; before that the node is
 *       ai.nnedge LayerNormalization, the same op in nnedge's own domain:
 *       the ONNX checker refuses the ONNX-domain op below opset 17)
 *
 *   HardSwish (as PaddlePaddle exports it):
 *       x * Clip(x + 3, 0, 6) / 6          -> HardSwish(x) (opset 14 on),
 *                                             else x * HardSigmoid(x)
 *
 * The GELU op is ONNX Gelu when the model's opset has it (20), else ONNX
 * Runtime's com.microsoft Gelu or FastGelu (the same functions; nnedge
 * implements them).
 * Every intermediate value must be read by the pattern alone. Constants are
 * matched with a relative tolerance of 1e-4 (exporters write sqrt 2 rounded
 * to float).
 */
#include "ir/passes.h"
#include "core/core.h"

#include <math.h>
#include <string.h>

static int is_op(const nne_node *n, const char *type) {
    return !n->dead && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, type);
}

static int sole_reader(const nne_graph *g, const nne_graph_uses *u, int v) {
    if (v < 0 || g->values[v].is_output || nne_uses_count(u, v) != 1) return -1;
    nne_use use = u->use[u->start[v]];
    if (use.slot < 0 || g->nodes[use.node].dead) return -1;
    return use.node;
}

/* Binary node n reads v and a float scalar constant close to want: 1. */
static int with_scalar(nne_pass_ctx *ctx, const nne_graph *g, const nne_node *n, int v, double want, int *other) {
    if (n->n_in != 2 || n->n_out != 1) return 0;
    int c = n->in[0] == v ? n->in[1] : n->in[1] == v ? n->in[0] : -2;
    if (c == -2) return 0;
    int64_t ne = 0;
    const float *p = nne_pass_const_f32(ctx, g, c, &ne);
    if (other) *other = c;
    return p && ne == 1 && fabs(p[0] - want) <= 1e-4 * fabs(want);
}

/* The other input of binary node n (which reads v). */
static int other_in(const nne_node *n, int v) { return n->in[0] == v ? n->in[1] : n->in[0]; }

/* The common tail of both GELU forms after t = erf(...) or tanh(...) (node
 * ti): (x * (1 + t)) * 0.5 or (x * 0.5) * (1 + t). Appends the tail's nodes
 * but the last to gone, sets *last to the last; 1 when it matches. */
static int gelu_tail(nne_pass_ctx *ctx, const nne_graph *g, const nne_graph_uses *u, int ti, int x, int *gone,
                     int *n_gone, int *last) {
    const nne_node *t = &g->nodes[ti];
    int ai = sole_reader(g, u, t->out[0]);
    if (ai < 0 || !is_op(&g->nodes[ai], "Add") || !with_scalar(ctx, g, &g->nodes[ai], t->out[0], 1.0, NULL)) return 0;
    int c1 = g->nodes[ai].out[0];
    int m1 = sole_reader(g, u, c1);
    if (m1 < 0 || !is_op(&g->nodes[m1], "Mul") || g->nodes[m1].n_in != 2) return 0;
    int other = other_in(&g->nodes[m1], c1);
    if (other == x) { /* (x * (1 + t)) * 0.5 */
        int m2 = sole_reader(g, u, g->nodes[m1].out[0]);
        if (m2 < 0 || !is_op(&g->nodes[m2], "Mul") || !with_scalar(ctx, g, &g->nodes[m2], g->nodes[m1].out[0], 0.5, NULL))
            return 0;
        gone[(*n_gone)++] = ai;
        gone[(*n_gone)++] = m1;
        *last = m2;
        return 1;
    }
    /* (x * 0.5) * (1 + t) */
    const nne_value *hv = other >= 0 ? &g->values[other] : NULL;
    if (!hv || hv->kind != NNE_VAL_NODE || sole_reader(g, u, other) != m1) return 0;
    int hi = hv->producer;
    if (!is_op(&g->nodes[hi], "Mul") || !with_scalar(ctx, g, &g->nodes[hi], x, 0.5, NULL)) return 0;
    gone[(*n_gone)++] = ai;
    gone[(*n_gone)++] = hi;
    *last = m1;
    return 1;
}

/* The GELU node replaces the tail's last node: ONNX Gelu from opset 20, else
 * ONNX Runtime's com.microsoft Gelu (erf) or FastGelu (tanh). */
static nne_status gelu_make(nne_pass_ctx *ctx, nne_graph *g, int last, int x, int tanh_form, const int *gone,
                            int n_gone, nne_pass_stats *st) {
    int onnx = ctx->m && nne_model_opset_for(ctx->m, "") >= 20;
    nne_node *l = &g->nodes[last];
    for (int k = 0; k < l->n_attr; k++) nne_attr_free(&l->attrs[k]);
    l->n_attr = 0;
    l->in[0] = x;
    l->n_in = 1;
    if (onnx) {
        NNE_TRY(nne_pass_set_op(ctx, g, last, "Gelu", "", g->nodes[last].opset));
        if (tanh_form) NNE_TRY(nne_node_set_attr_string(g, last, "approximate", "tanh"));
    } else {
        NNE_TRY(nne_pass_set_op(ctx, g, last, tanh_form ? "FastGelu" : "Gelu", "com.microsoft", 1));
    }
    for (int k = 0; k < n_gone; k++) nne_graph_remove_node(g, gone[k]);
    st->removed += n_gone;
    st->folded++;
    return NNE_OK;
}

/* The producer of v when v is read by node `reader` alone; -1 otherwise. */
static int sole_producer(const nne_graph *g, const nne_graph_uses *u, int v, int reader) {
    if (v < 0 || g->values[v].kind != NNE_VAL_NODE || sole_reader(g, u, v) != reader) return -1;
    return g->values[v].producer;
}

static nne_status gelu_erf(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, int ei, nne_pass_stats *st) {
    const nne_node *e = &g->nodes[ei];
    if (e->n_in != 1 || e->n_out != 1 || e->in[0] < 0) return NNE_OK;
    int di = sole_producer(g, u, e->in[0], ei);
    if (di < 0) return NNE_OK;
    const nne_node *d = &g->nodes[di];
    int x;
    if (is_op(d, "Div") && d->n_in == 2 && with_scalar(ctx, g, d, d->in[0], M_SQRT2, NULL) && d->in[1] != d->in[0])
        x = d->in[0];
    else if (is_op(d, "Mul") && d->n_in == 2 &&
             (with_scalar(ctx, g, d, d->in[0], M_SQRT1_2, NULL) || with_scalar(ctx, g, d, d->in[1], M_SQRT1_2, NULL)))
        x = nne_pass_const_f32(ctx, g, d->in[0], NULL) ? d->in[1] : d->in[0];
    else
        return NNE_OK;
    int gone[8] = {di, ei}, n_gone = 2, last;
    if (!gelu_tail(ctx, g, u, ei, x, gone, &n_gone, &last)) return NNE_OK;
    return gelu_make(ctx, g, last, x, 0, gone, n_gone, st);
}

/* tanh form: t = tanh(sqrt(2/pi) * (x + 0.044715 * x^3)), x^3 as Pow(x, 3)
 * or x * (x * x). Starts at the Tanh. */
static nne_status gelu_tanh(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, int ti, nne_pass_stats *st) {
    const nne_node *t = &g->nodes[ti];
    if (t->n_in != 1 || t->n_out != 1 || t->in[0] < 0) return NNE_OK;
    int ki = sole_producer(g, u, t->in[0], ti); /* sqrt(2/pi) * s */
    if (ki < 0 || !is_op(&g->nodes[ki], "Mul") || g->nodes[ki].n_in != 2) return NNE_OK;
    const nne_node *k = &g->nodes[ki];
    int s = nne_pass_const_f32(ctx, g, k->in[0], NULL) ? k->in[1] : k->in[0];
    if (!with_scalar(ctx, g, k, s, 0.7978845608028654, NULL)) return NNE_OK;
    int si = sole_producer(g, u, s, ki); /* x + c */
    if (si < 0 || !is_op(&g->nodes[si], "Add") || g->nodes[si].n_in != 2) return NNE_OK;
    int gone[10] = {ki, si, ti}, n_gone = 3;
    for (int side = 0; side < 2; side++) {
        int x = g->nodes[si].in[side], c = g->nodes[si].in[1 - side];
        int ci = sole_producer(g, u, c, si); /* 0.044715 * x^3 */
        if (ci < 0 || !is_op(&g->nodes[ci], "Mul") || g->nodes[ci].n_in != 2) continue;
        const nne_node *cn = &g->nodes[ci];
        int p = nne_pass_const_f32(ctx, g, cn->in[0], NULL) ? cn->in[1] : cn->in[0];
        if (!with_scalar(ctx, g, cn, p, 0.044715, NULL)) continue;
        int pi = sole_producer(g, u, p, ci);
        if (pi < 0) continue;
        const nne_node *pn = &g->nodes[pi];
        int n2 = n_gone;
        int cube = 0;
        if (is_op(pn, "Pow") && pn->n_in == 2 && pn->in[0] == x && with_scalar(ctx, g, pn, x, 3.0, NULL)) {
            cube = 1;
        } else if (is_op(pn, "Mul") && pn->n_in == 2 && (pn->in[0] == x || pn->in[1] == x)) {
            int sq = other_in(pn, x);
            int qi = sole_producer(g, u, sq, pi);
            if (qi >= 0 && is_op(&g->nodes[qi], "Mul") && g->nodes[qi].in[0] == x && g->nodes[qi].in[1] == x) {
                gone[n2++] = qi;
                cube = 1;
            }
        }
        if (!cube) continue;
        gone[n2++] = ci;
        gone[n2++] = pi;
        int last;
        if (!gelu_tail(ctx, g, u, ti, x, gone, &n2, &last)) return NNE_OK;
        return gelu_make(ctx, g, last, x, 1, gone, n2, st);
    }
    return NNE_OK;
}

/* Clip node c bounds its input to [lo, hi] (attributes before opset 11,
 * constant inputs after): 1. */
static int clip_bounds(nne_pass_ctx *ctx, const nne_graph *g, const nne_node *c, double lo, double hi) {
    if (c->opset < 11) {
        const nne_attr *a = nne_node_attr(c, "min"), *b = nne_node_attr(c, "max");
        return a && b && a->type == NNE_ATTR_FLOAT && b->type == NNE_ATTR_FLOAT && a->f == lo && b->f == hi;
    }
    int64_t n1 = 0, n2 = 0;
    const float *p1 = c->n_in > 1 ? nne_pass_const_f32(ctx, g, c->in[1], &n1) : NULL;
    const float *p2 = c->n_in > 2 ? nne_pass_const_f32(ctx, g, c->in[2], &n2) : NULL;
    return p1 && p2 && n1 == 1 && n2 == 1 && p1[0] == lo && p2[0] == hi;
}

/* HardSwish written out: x * Clip(x + 3, 0, 6) / 6 (the division also as
 * * (1/6)) -> HardSwish(x) from opset 14, else x * HardSigmoid(x) with
 * alpha 1/6, beta 1/2 (two ONNX ops every runtime has, which the epilogue
 * fusion takes as one HardSwish activation). Starts at the Clip. */
static nne_status hardswish(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, int ci, nne_pass_stats *st) {
    const nne_node *c = &g->nodes[ci];
    if (c->n_in < 1 || c->n_out != 1 || c->in[0] < 0 || !clip_bounds(ctx, g, c, 0.0, 6.0)) return NNE_OK;
    int a = c->in[0];
    const nne_value *av = &g->values[a];
    if (av->kind != NNE_VAL_NODE || sole_reader(g, u, a) != ci) return NNE_OK;
    int ai = av->producer;
    const nne_node *an = &g->nodes[ai];
    int three = -1;
    if (!is_op(an, "Add") || an->n_in != 2) return NNE_OK;
    int x = nne_pass_const_f32(ctx, g, an->in[0], NULL) ? an->in[1] : an->in[0];
    if (x < 0 || !with_scalar(ctx, g, an, x, 3.0, &three)) return NNE_OK;
    int mi = sole_reader(g, u, c->out[0]);
    if (mi < 0 || !is_op(&g->nodes[mi], "Mul") || g->nodes[mi].n_in != 2 || other_in(&g->nodes[mi], c->out[0]) != x)
        return NNE_OK;
    int di = sole_reader(g, u, g->nodes[mi].out[0]);
    if (di < 0) return NNE_OK;
    const nne_node *d = &g->nodes[di];
    int m_out = g->nodes[mi].out[0];
    if (!((is_op(d, "Div") && d->in[0] == m_out && with_scalar(ctx, g, d, m_out, 6.0, NULL)) ||
          (is_op(d, "Mul") && with_scalar(ctx, g, d, m_out, 1.0 / 6.0, NULL))))
        return NNE_OK;
    int onnx = ctx->m && nne_model_opset_for(ctx->m, "") >= 14;
    nne_node *l = &g->nodes[di];
    for (int k = 0; k < l->n_attr; k++) nne_attr_free(&l->attrs[k]);
    l->n_attr = 0;
    if (onnx) { /* HardSwish(x) at the Div; Add, Clip, Mul go */
        l->in[0] = x;
        l->n_in = 1;
        NNE_TRY(nne_pass_set_op(ctx, g, di, "HardSwish", "", g->nodes[di].opset));
        nne_graph_remove_node(g, ai);
        nne_graph_remove_node(g, ci);
        nne_graph_remove_node(g, mi);
        st->removed += 3;
    } else { /* the Clip becomes HardSigmoid(x), the Div Mul(x, it); Add and Mul go */
        nne_node *cn = &g->nodes[ci];
        for (int k = 0; k < cn->n_attr; k++) nne_attr_free(&cn->attrs[k]);
        cn->n_attr = 0;
        cn->in[0] = x;
        cn->n_in = 1;
        NNE_TRY(nne_pass_set_op(ctx, g, ci, "HardSigmoid", "", g->nodes[ci].opset));
        NNE_TRY(nne_node_set_attr_float(g, ci, "alpha", 1.0f / 6.0f));
        NNE_TRY(nne_node_set_attr_float(g, ci, "beta", 0.5f));
        l = &g->nodes[di];
        l->in[0] = x;
        l->in[1] = g->nodes[ci].out[0];
        NNE_TRY(nne_pass_set_op(ctx, g, di, "Mul", "", g->nodes[di].opset));
        nne_graph_remove_node(g, ai);
        nne_graph_remove_node(g, mi);
        st->removed += 2;
    }
    st->folded++;
    return NNE_OK;
}

/* ReduceMean over the last axis only, keeping dims (axes as attribute
 * before opset 18, as a constant input from 18). */
static int mean_last(nne_pass_ctx *ctx, const nne_graph *g, const nne_node *n) {
    if (!is_op(n, "ReduceMean") || n->n_out != 1 || n->n_in < 1) return 0;
    const nne_attr *kd = nne_node_attr(n, "keepdims");
    if (kd && (kd->type != NNE_ATTR_INT || kd->i != 1)) return 0;
    if (n->opset < 18) {
        const nne_attr *ax = nne_node_attr(n, "axes");
        return n->n_in == 1 && ax && ax->type == NNE_ATTR_INTS && ax->n == 1 && ax->ints[0] == -1;
    }
    const nne_tensor *t = n->n_in >= 2 ? nne_graph_const_value(g, n->in[1], ctx->m ? ctx->m->ir_version : 13) : NULL;
    return t && t->dtype == NNE_DTYPE_INT64 && nne_tensor_numel(t) == 1 && t->data &&
           ((const int64_t *)t->data)[0] == -1;
}

/* LayerNormalization written out (from opset 17, where ONNX has the op):
 *   d = x - ReduceMean(x); v = ReduceMean(d^2) (Pow(d, 2) or d * d);
 *   y = d / Sqrt(v + eps) * gamma [+ beta]    -> LayerNormalization(x, gamma, beta)
 * over the last axis. Starts at the first ReduceMean. */
static nne_status layernorm(nne_pass_ctx *ctx, nne_graph *g, const nne_graph_uses *u, int ri, nne_pass_stats *st) {
    const nne_node *r1 = &g->nodes[ri];
    if (!mean_last(ctx, g, r1)) return NNE_OK;
    int x = r1->in[0], mu = r1->out[0];
    int si = sole_reader(g, u, mu);
    if (si < 0 || !is_op(&g->nodes[si], "Sub") || g->nodes[si].n_in != 2 || g->nodes[si].in[0] != x ||
        g->nodes[si].in[1] != mu)
        return NNE_OK;
    int d = g->nodes[si].out[0];
    if (g->values[d].is_output || nne_uses_count(u, d) != 2) return NNE_OK;
    int pi = -1, di = -1;
    for (int k = u->start[d]; k < u->start[d + 1]; k++) {
        nne_use use = u->use[k];
        if (use.slot < 0) return NNE_OK;
        const nne_node *n = &g->nodes[use.node];
        if (is_op(n, "Div") && n->n_in == 2 && n->in[0] == d) di = use.node;
        else if ((is_op(n, "Pow") && n->n_in == 2 && n->in[0] == d && with_scalar(ctx, g, n, d, 2.0, NULL)) ||
                 (is_op(n, "Mul") && n->n_in == 2 && n->in[0] == d && n->in[1] == d))
            pi = use.node;
    }
    if (pi < 0 || di < 0) return NNE_OK;
    int r2 = sole_reader(g, u, g->nodes[pi].out[0]);
    if (r2 < 0 || !mean_last(ctx, g, &g->nodes[r2])) return NNE_OK;
    int ai = sole_reader(g, u, g->nodes[r2].out[0]);
    int eps_v = -1;
    if (ai < 0 || !is_op(&g->nodes[ai], "Add") || g->nodes[ai].n_in != 2) return NNE_OK;
    eps_v = other_in(&g->nodes[ai], g->nodes[r2].out[0]);
    int64_t ne = 0;
    const float *eps = nne_pass_const_f32(ctx, g, eps_v, &ne);
    if (!eps || ne != 1 || !(eps[0] > 0.0f)) return NNE_OK;
    int qi = sole_reader(g, u, g->nodes[ai].out[0]);
    if (qi < 0 || !is_op(&g->nodes[qi], "Sqrt") || sole_reader(g, u, g->nodes[qi].out[0]) != di) return NNE_OK;
    if (g->nodes[di].in[1] != g->nodes[qi].out[0]) return NNE_OK;
    int mi = sole_reader(g, u, g->nodes[di].out[0]);
    if (mi < 0 || !is_op(&g->nodes[mi], "Mul") || g->nodes[mi].n_in != 2) return NNE_OK;
    int gamma = other_in(&g->nodes[mi], g->nodes[di].out[0]);
    const nne_tensor *gt = nne_graph_const_value(g, gamma, ctx->m ? ctx->m->ir_version : 13);
    if (!gt || gt->dtype != NNE_DTYPE_FLOAT || gt->ndim != 1) return NNE_OK;
    int last = mi, beta = -1;
    int bi = sole_reader(g, u, g->nodes[mi].out[0]);
    if (bi >= 0 && is_op(&g->nodes[bi], "Add") && g->nodes[bi].n_in == 2) {
        int b = other_in(&g->nodes[bi], g->nodes[mi].out[0]);
        const nne_tensor *bt = nne_graph_const_value(g, b, ctx->m ? ctx->m->ir_version : 13);
        if (bt && bt->dtype == NNE_DTYPE_FLOAT && bt->ndim == 1 && bt->dims[0] == gt->dims[0]) {
            beta = b;
            last = bi;
        }
    }
    float e = eps[0];
    nne_node *l = &g->nodes[last];
    for (int k = 0; k < l->n_attr; k++) nne_attr_free(&l->attrs[k]);
    l->n_attr = 0;
    l->in[0] = x;
    l->in[1] = gamma;
    l->n_in = 2;
    if (beta >= 0) NNE_TRY(nne_node_add_input(g, last, beta));
    /* ONNX's op from opset 17; before that nnedge's own domain (the ONNX
     * checker refuses ONNX-domain LayerNormalization below 17) */
    if (ctx->m && nne_model_opset_for(ctx->m, "") >= 17)
        NNE_TRY(nne_pass_set_op(ctx, g, last, "LayerNormalization", "", g->nodes[last].opset));
    else
        NNE_TRY(nne_pass_set_op(ctx, g, last, "LayerNormalization", "ai.nnedge", 1));
    NNE_TRY(nne_node_set_attr_int(g, last, "axis", -1));
    NNE_TRY(nne_node_set_attr_float(g, last, "epsilon", e));
    int gone[8] = {ri, si, pi, r2, ai, qi, di, mi};
    int n_gone = last == mi ? 7 : 8;
    for (int k = 0; k < n_gone; k++) nne_graph_remove_node(g, gone[k]);
    st->removed += n_gone;
    st->folded++;
    return NNE_OK;
}

nne_status nne_pass_patterns(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    nne_graph_uses u = {0};
    NNE_TRY(nne_graph_uses_build(g, &u));
    nne_status rc = NNE_OK;
    int n = g->n_nodes;
    for (int i = 0; i < n && rc == NNE_OK; i++)
        if (is_op(&g->nodes[i], "Erf")) rc = gelu_erf(ctx, g, &u, i, st);
        else if (is_op(&g->nodes[i], "Tanh")) rc = gelu_tanh(ctx, g, &u, i, st);
        else if (is_op(&g->nodes[i], "Clip")) rc = hardswish(ctx, g, &u, i, st);
        else if (is_op(&g->nodes[i], "ReduceMean") && !g->nodes[i].dead)
            rc = layernorm(ctx, g, &u, i, st);
    nne_graph_uses_free(&u);
    return rc;
}
