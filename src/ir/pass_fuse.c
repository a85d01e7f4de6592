/*
 * pass_fuse.c - epilogue fusion (level all): what follows a Conv, Gemm or
 * MatMul element by element goes into it, so the output is written once
 * instead of being read and written again by each follower:
 *
 *   MatMul(A 2-D, B) + Add(bias [N])   -> Gemm(A, B, bias)        (ONNX)
 *   MatMul(A, B) + Add(bias [N])       -> ai.nnedge FusedMatMul
 *   Conv/MatMul + Add(Z of Y's shape)  -> residual Z of the fused node
 *   ... + activation                    -> `activation` of the fused node
 *
 * Activations: Relu, Clip (constant bounds), LeakyRelu, Sigmoid, Tanh,
 * HardSigmoid, HardSwish, Gelu (erf or tanh), Swish with alpha 1, SiLU
 * written as x * Sigmoid(x) and HardSwish as x * HardSigmoid(x) (alpha 1/6,
 * beta 1/2). The order is bias, residual, activation (ONNX
 * Runtime's FusedConv). The result is com.microsoft FusedConv / FusedGemm
 * when ONNX Runtime implements the activation, ai.nnedge otherwise
 * (src/ops/nn_fused.c). Only float values whose shapes are known statically
 * (pass_shapes.c) are fused; a value read by more than one node, a graph
 * output or a value a subgraph reads is never folded away. Top-level graph
 * only. A residual made after the fused node moves the node after it
 * (stable topological sort).
 */
#include "ir/passes.h"
#include "core/core.h"
#include "kernels/epilogue.h"

#include <float.h>
#include <math.h>
#include <string.h>

enum { FK_CONV = 0, FK_GEMM, FK_MATMUL };

static int is_op(const nne_node *n, const char *type) {
    return !n->dead && (!n->domain[0] || !strcmp(n->domain, "ai.onnx")) && !strcmp(n->op_type, type);
}

/* The one node reading v (through an input, not a subgraph link), or -1. */
static int sole_reader(const nne_graph *g, const nne_graph_uses *u, int v) {
    if (v < 0 || v >= u->n_values || g->values[v].is_output || nne_uses_count(u, v) != 1) return -1;
    nne_use use = u->use[u->start[v]];
    if (use.slot < 0 || g->nodes[use.node].dead) return -1;
    return use.node;
}

/* Node n makes float32: its output is known as such, or its weight input
 * (W of Conv, B of Gemm/MatMul) is a float32 constant, which ONNX requires
 * to have the dtype of the other operand and the output. */
static int makes_f32(nne_pass_ctx *ctx, const nne_graph *g, const nne_shapes *sh, const nne_node *n) {
    const nne_tensor *t = nne_shape_of(sh, n->out[0]);
    if (t) return t->dtype == NNE_DTYPE_FLOAT;
    return n->n_in >= 2 && nne_pass_const_f32(ctx, g, n->in[1], NULL) != NULL;
}

static int same_shape(const nne_tensor *a, const nne_tensor *b) {
    if (!a || !b || a->ndim != b->ndim || a->dtype != b->dtype) return 0;
    for (int d = 0; d < a->ndim; d++)
        if (a->dims[d] != b->dims[d]) return 0;
    return 1;
}

/* A scalar float constant input (Clip bounds); 1 when found. */
static int scalar_in(nne_pass_ctx *ctx, const nne_graph *g, const nne_node *n, int k, float *out) {
    if (k >= n->n_in || n->in[k] < 0) return 1; /* omitted: keep the default */
    int64_t ne = 0;
    const float *p = nne_pass_const_f32(ctx, g, n->in[k], &ne);
    if (!p || ne != 1) return 0;
    *out = p[0];
    return 1;
}

static float attr_f(const nne_node *n, const char *name, float def) {
    const nne_attr *a = nne_node_attr(n, name);
    return a && a->type == NNE_ATTR_FLOAT ? a->f : def;
}

/* Node m applies an activation to its first input alone: which one. */
static int activation_of(nne_pass_ctx *ctx, const nne_graph *g, const nne_node *m, float *alpha, float *beta) {
    if (m->n_out != 1 || m->n_in < 1) return -1;
    *alpha = *beta = 0.0f;
    if (is_op(m, "Relu")) return NNE_ACT_RELU;
    if (is_op(m, "Sigmoid")) return NNE_ACT_SIGMOID;
    if (is_op(m, "Tanh")) return NNE_ACT_TANH;
    if (is_op(m, "HardSwish")) return NNE_ACT_HARDSWISH;
    if (is_op(m, "LeakyRelu")) {
        *alpha = attr_f(m, "alpha", 0.01f);
        return NNE_ACT_LEAKYRELU;
    }
    if (is_op(m, "HardSigmoid")) {
        *alpha = attr_f(m, "alpha", 0.2f);
        *beta = attr_f(m, "beta", 0.5f);
        return NNE_ACT_HARDSIGMOID;
    }
    if (is_op(m, "Swish")) {
        return attr_f(m, "alpha", 1.0f) == 1.0f ? NNE_ACT_SILU : -1;
    }
    if (!m->dead && !strcmp(m->domain, "com.microsoft") && !strcmp(m->op_type, "Gelu")) return NNE_ACT_GELU;
    if (!m->dead && !strcmp(m->domain, "com.microsoft") && !strcmp(m->op_type, "FastGelu") && m->n_in == 1)
        return NNE_ACT_GELU_TANH;
    if (is_op(m, "Gelu")) {
        const nne_attr *a = nne_node_attr(m, "approximate");
        if (!a || (a->type == NNE_ATTR_STRING && !strcmp(a->s, "none"))) return NNE_ACT_GELU;
        if (a->type == NNE_ATTR_STRING && !strcmp(a->s, "tanh")) return NNE_ACT_GELU_TANH;
        return -1;
    }
    if (is_op(m, "Clip")) {
        float lo = -FLT_MAX, hi = FLT_MAX;
        if (m->opset < 11) {
            lo = attr_f(m, "min", lo);
            hi = attr_f(m, "max", hi);
        } else if (!scalar_in(ctx, g, m, 1, &lo) || !scalar_in(ctx, g, m, 2, &hi)) {
            return -1;
        }
        if (!(lo <= hi)) return -1; /* min > max (or NaN): left to Clip's own rule */
        *alpha = lo;
        *beta = hi;
        return NNE_ACT_CLIP;
    }
    return -1;
}

/* ONNX Runtime's FusedConv / FusedGemm know this activation. */
static int ort_knows(int kind, int act) {
    switch (act) {
    case NNE_ACT_NONE: case NNE_ACT_RELU: case NNE_ACT_TANH: case NNE_ACT_SIGMOID: case NNE_ACT_LEAKYRELU:
    case NNE_ACT_HARDSIGMOID: return kind != FK_MATMUL;
    case NNE_ACT_CLIP: return kind == FK_CONV;
    default: return 0;
    }
}

/* Constant float vector of n elements (a [n] or [1, n] bias): its value. */
static int bias_vector(nne_pass_ctx *ctx, const nne_graph *g, int v, int64_t n) {
    const nne_tensor *t = v >= 0 ? nne_graph_const_value(g, v, ctx->m ? ctx->m->ir_version : 13) : NULL;
    if (!t || t->dtype != NNE_DTYPE_FLOAT || t->ndim != 1 || t->dims[0] != n) return 0;
    return 1;
}

typedef struct fuse_plan {
    int kind;
    int act;
    float alpha, beta;
    int bias, res;    /* values, -1: none */
    int out;          /* the value the fused node makes */
    int gone[4];      /* nodes folded in */
    int n_gone;
    int to_gemm;      /* a 2-D MatMul + bias becomes an ONNX Gemm */
} fuse_plan;

/* Follow y's readers from node i and record what can be fused. */
static void plan_fusion(nne_pass_ctx *ctx, const nne_graph *g, const nne_graph_uses *u, const nne_shapes *sh,
                        int i, fuse_plan *fp) {
    const nne_node *n = &g->nodes[i];
    int y = n->out[0];
    const nne_tensor *Y = nne_shape_of(sh, y);
    fp->out = y;
    for (;;) {
        int r = sole_reader(g, u, fp->out);
        if (r < 0 || fp->n_gone >= 3) {
            /* SiLU: out read by exactly Sigmoid(out) and Mul(out, that) */
            if (fp->act == NNE_ACT_NONE && fp->n_gone < 3 && !g->values[fp->out].is_output &&
                nne_uses_count(u, fp->out) == 2) {
                nne_use a = u->use[u->start[fp->out]], b = u->use[u->start[fp->out] + 1];
                if (a.slot < 0 || b.slot < 0) return;
                const nne_node *na = &g->nodes[a.node], *nb = &g->nodes[b.node];
                if (is_op(nb, "Sigmoid") || is_op(nb, "HardSigmoid")) {
                    const nne_node *t = na;
                    na = nb;
                    nb = t;
                    int tn = a.node;
                    a.node = b.node;
                    b.node = tn;
                }
                int gate = is_op(na, "Sigmoid") ? NNE_ACT_SILU : NNE_ACT_NONE;
                if (is_op(na, "HardSigmoid") && fabsf(attr_f(na, "alpha", 0.2f) - 1.0f / 6.0f) < 1e-6f &&
                    attr_f(na, "beta", 0.5f) == 0.5f)
                    gate = NNE_ACT_HARDSWISH; /* x * HardSigmoid(x) with alpha 1/6, beta 1/2 */
                if (gate == NNE_ACT_NONE || !is_op(nb, "Mul") || na->n_out != 1 || nb->n_in != 2 ||
                    na->in[0] != fp->out)
                    return;
                int s = na->out[0];
                int other = nb->in[0] == fp->out ? nb->in[1] : nb->in[0];
                if (other != s || sole_reader(g, u, s) != b.node) return;
                fp->act = gate;
                fp->gone[fp->n_gone++] = a.node;
                fp->gone[fp->n_gone++] = b.node;
                fp->out = nb->out[0];
            }
            return;
        }
        const nne_node *m = &g->nodes[r];
        if (is_op(m, "Add") && m->n_in == 2 && m->n_out == 1 && fp->act == NNE_ACT_NONE) {
            int other = m->in[0] == fp->out ? m->in[1] : m->in[0];
            if (other == fp->out || other < 0) return;
            int64_t ncols = Y && Y->ndim >= 1 ? Y->dims[Y->ndim - 1] : -1;
            if (fp->kind == FK_MATMUL && fp->bias < 0 && fp->res < 0 && bias_vector(ctx, g, other, ncols)) {
                fp->bias = other;
            } else if (fp->kind != FK_GEMM && fp->res < 0 && same_shape(nne_shape_of(sh, other), Y)) {
                fp->res = other;
            } else {
                return;
            }
            fp->gone[fp->n_gone++] = r;
            fp->out = m->out[0];
            continue;
        }
        float al, be;
        int act = fp->act == NNE_ACT_NONE ? activation_of(ctx, g, m, &al, &be) : -1;
        if (act < 0 || m->in[0] != fp->out) return;
        fp->act = act;
        fp->alpha = al;
        fp->beta = be;
        fp->gone[fp->n_gone++] = r;
        fp->out = m->out[0];
    }
}

static nne_status apply_fusion(nne_pass_ctx *ctx, nne_graph *g, int i, fuse_plan *fp) {
    nne_node *n = &g->nodes[i];
    int kind = fp->kind;
    if (kind == FK_MATMUL && fp->bias >= 0 && fp->res < 0) {
        /* a 2-D MatMul with a constant 2-D B and a bias is a Gemm (runs in ONNX Runtime as it is) */
        fp->to_gemm = fp->to_gemm && n->opset >= 11;
        if (fp->to_gemm) kind = FK_GEMM;
    }
    /* with a residual Z: ai.nnedge. ONNX Runtime runs com.microsoft FusedConv
     * with Z right at its levels up to extended, but its NCHWc layout pass
     * (level all) miscomputes such nodes read from a file (resnet18: outputs
     * off by 3.6; mobilenet_v2: "output and sum shape must match") */
    const char *dom = ort_knows(kind, fp->act) && fp->res < 0 ? "com.microsoft" : "ai.nnedge";
    if (kind == FK_GEMM && fp->act == NNE_ACT_NONE) {
        /* plain Gemm: MatMul + bias only */
        NNE_TRY(nne_pass_set_op(ctx, g, i, "Gemm", "", n->opset));
    } else {
        const char *ty = kind == FK_CONV ? "FusedConv" : kind == FK_GEMM ? "FusedGemm" : "FusedMatMul";
        /* version 1 of the contrib domains, as the loader will read it */
        NNE_TRY(nne_pass_set_op(ctx, g, i, ty, dom, 1));
    }
    n = &g->nodes[i];
    if (fp->act != NNE_ACT_NONE) {
        NNE_TRY(nne_node_set_attr_string(g, i, "activation", nne_act_name(fp->act)));
        int np = fp->act == NNE_ACT_LEAKYRELU ? 1 : fp->act == NNE_ACT_CLIP || fp->act == NNE_ACT_HARDSIGMOID ? 2 : 0;
        float p[2] = {fp->alpha, fp->beta};
        if (kind == FK_GEMM) {
            if (np >= 1) NNE_TRY(nne_node_set_attr_float(g, i, "activation_alpha", fp->alpha));
            if (np >= 2) NNE_TRY(nne_node_set_attr_float(g, i, "activation_beta", fp->beta));
        } else if (np) {
            NNE_TRY(nne_pass_set_attr_floats(g, i, "activation_params", np, p));
        }
    }
    n = &g->nodes[i];
    if (kind == FK_CONV && fp->res >= 0) {
        while (g->nodes[i].n_in < 3) NNE_TRY(nne_node_add_input(g, i, -1));
        NNE_TRY(nne_node_add_input(g, i, fp->res));
    } else if (kind == FK_GEMM && fp->bias >= 0) {
        NNE_TRY(nne_node_add_input(g, i, fp->bias)); /* C (beta defaults to 1) */
    } else if (kind == FK_MATMUL) {
        NNE_TRY(nne_node_add_input(g, i, fp->bias));
        if (fp->res >= 0) NNE_TRY(nne_node_add_input(g, i, fp->res));
    }
    for (int k = 0; k < fp->n_gone; k++) nne_graph_remove_node(g, fp->gone[k]);
    nne_pass_move_output(g, i, 0, fp->out);
    return NNE_OK;
}

nne_status nne_pass_fuse_epilogue(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    if (g->parent) return NNE_OK;
    nne_shapes sh;
    NNE_TRY(nne_shapes_infer(ctx, g, &sh));
    nne_graph_uses u = {0};
    nne_status rc = nne_graph_uses_build(g, &u);
    int reorder = 0;
    int n_nodes = g->n_nodes;
    for (int i = 0; i < n_nodes && rc == NNE_OK; i++) {
        nne_node *n = &g->nodes[i];
        fuse_plan fp = {.bias = -1, .res = -1};
        if (n->n_out != 1 || n->out[0] < 0 || !makes_f32(ctx, g, &sh, n)) continue;
        if (is_op(n, "Conv") && n->n_in >= 2 && n->n_in <= 3) fp.kind = FK_CONV;
        else if (is_op(n, "Gemm") && n->n_in == 3 && n->in[2] >= 0) fp.kind = FK_GEMM;
        else if (is_op(n, "MatMul") && n->n_in == 2) fp.kind = FK_MATMUL;
        else continue;
        plan_fusion(ctx, g, &u, &sh, i, &fp);
        if (fp.n_gone == 0) continue;
        if (fp.kind == FK_MATMUL) {
            const nne_tensor *A = nne_shape_of(&sh, n->in[0]), *B = nne_shape_of(&sh, n->in[1]);
            fp.to_gemm = A && B && A->ndim == 2 && B->ndim == 2;
            if (fp.res >= 0 && fp.bias < 0 && fp.act == NNE_ACT_NONE) continue; /* MatMul + Add: nothing gained */
        }
        if (fp.kind == FK_GEMM && fp.act == NNE_ACT_NONE) continue;
        if (fp.res >= 0) {
            const nne_value *zv = &g->values[fp.res];
            if (zv->kind == NNE_VAL_NODE && zv->producer > i) reorder = 1;
        }
        rc = apply_fusion(ctx, g, i, &fp);
        if (rc == NNE_OK) {
            st->removed += fp.n_gone;
            st->folded++;
        }
    }
    nne_graph_uses_free(&u);
    nne_shapes_free(&sh);
    NNE_TRY(rc);
    if (reorder) {
        NNE_TRY(nne_graph_compact(g));
        NNE_TRY(nne_graph_topo_sort(g));
    }
    return NNE_OK;
}
