/*
 * pass_fold.c - constant folding of every constant subexpression: a node
 * whose inputs are all constants (initializers that cannot be overridden,
 * earlier folded outputs, or such values of an enclosing graph) is
 * evaluated once with its own op implementation (nne_node_eval, the
 * session's one entry point for this) and its outputs become initializers.
 *
 * Not folded: nondeterministic ops, ops that make sequences or run
 * subgraphs (NNE_OPF_* flags), unknown ops, DequantizeLinear (a weight's
 * Q/DQ pair is the pattern int8 kernels look for; the session still folds it
 * at prepare), nodes whose output size is only known by running, and nodes
 * over the size limits in passes.h, so a small model cannot blow up into
 * gigabytes of constants. A node whose evaluation fails is left for the
 * session to report. Runs on subgraphs too (outer graph first, so constants
 * folded there are visible inside).
 */
#include "ir/passes.h"
#include "core/core.h"

#include <string.h>

#define MAX_FOLD_INPUTS 64

static int foldable_op(const nne_node *n) {
    if (n->dead || !n->op || n->n_out < 1 || n->n_in > MAX_FOLD_INPUTS) return 0;
    if (n->op->flags & (NNE_OPF_NONDETERMINISTIC | NNE_OPF_NO_FOLD | NNE_OPF_SUBGRAPH)) return 0;
    if (!n->domain[0] && strcmp(n->op_type, "DequantizeLinear") == 0) return 0;
    for (int a = 0; a < n->n_attr; a++)
        if (n->attrs[a].g) return 0;
    return 1;
}

static nne_status fold_sub(nne_graph *sub, void *user) {
    return nne_pass_constant_folding(((void **)user)[0], sub, ((void **)user)[1]);
}

/* The constant value of v, as nne_graph_const_value, with g's graph inputs
 * marked in `listed` (so a graph with many inputs costs no scan per use). */
static const nne_tensor *const_in(const nne_graph *g, const uint8_t *listed, int v, int64_t ir) {
    const nne_value *val = &g->values[v];
    if (val->kind == NNE_VAL_OUTER) return nne_graph_const_value(g, v, ir);
    if (val->kind != NNE_VAL_CONST || val->trainable || (ir >= 4 && listed[v])) return NULL;
    return &val->init;
}

/* Fold node i when every input is a constant and its outputs fit `limit`
 * bytes: 1 folded, 0 not (left for the session), -1 out of memory. */
static int fold_node(nne_pass_ctx *ctx, nne_graph *g, const uint8_t *listed, int i, int64_t ir, int dq) {
    nne_node *n = &g->nodes[i];
    const nne_tensor *ins[MAX_FOLD_INPUTS];
    size_t in_bytes = 0;
    for (int k = 0; k < n->n_in; k++) {
        ins[k] = n->in[k] >= 0 ? const_in(g, listed, n->in[k], ir) : NULL;
        if (n->in[k] >= 0 && !ins[k]) return 0;
        if (ins[k]) in_bytes += nne_tensor_nbytes(ins[k]);
    }
    size_t limit = in_bytes > NNE_FOLD_SMALL_BYTES / NNE_FOLD_GROWTH ? in_bytes * NNE_FOLD_GROWTH
                                                                      : NNE_FOLD_SMALL_BYTES;
    if (dq) limit = in_bytes * 4 + NNE_FOLD_SMALL_BYTES; /* int8 -> float */
    if (limit > ctx->fold_budget) limit = ctx->fold_budget;
    nne_tensor *outs = nne_calloc((size_t)n->n_out, sizeof *outs);
    int *ov = nne_calloc((size_t)n->n_out, sizeof(int));
    if (!outs || !ov) {
        nne_free(outs);
        nne_free(ov);
        return -1;
    }
    int skipped = 0;
    nne_status es = nne_node_eval(g, i, ins, limit, outs, &skipped);
    /* any failure (also "too big for this machine" or a failed
     * allocation) only means the node is not folded here */
    if (es != NNE_OK || skipped) {
        if (es != NNE_OK)
            nne_log(NNE_LOG_DEBUG, "constant folding: node \"%s\" (%s) not folded: %s", n->name, n->op_type,
                    nne_last_error());
        nne_free(outs);
        nne_free(ov);
        return 0;
    }
    int n_out = n->n_out;
    memcpy(ov, n->out, (size_t)n_out * sizeof *ov);
    nne_graph_remove_node(g, i); /* its outputs become orphans, re-homed as initializers */
    for (int o = 0; o < n_out; o++) {
        nne_value *v = &g->values[ov[o]];
        size_t nb = nne_tensor_nbytes(&outs[o]);
        ctx->fold_budget -= nb < ctx->fold_budget ? nb : ctx->fold_budget;
        v->kind = NNE_VAL_CONST;
        v->producer = -1;
        v->vtype = NNE_VT_TENSOR;
        v->init = outs[o];
        /* the data is the truth now: declare what it is */
        v->dtype = outs[o].dtype;
        v->ndim = outs[o].ndim;
        for (int d = 0; d < NNE_MAX_DIMS; d++) {
            v->dims[d] = d < outs[o].ndim ? outs[o].dims[d] : 0;
            nne_free(v->dim_names[d]);
            v->dim_names[d] = NULL;
        }
    }
    nne_free(outs);
    nne_free(ov);
    return 1;
}

static int is_dequantize(const nne_node *n) {
    return !n->dead && n->op && !n->domain[0] && strcmp(n->op_type, "DequantizeLinear") == 0 &&
           n->n_in <= MAX_FOLD_INPUTS;
}

/* Folds every node of g that `pick` selects (fold_node's `dq` as given). */
static nne_status fold_nodes(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st, int (*pick)(const nne_node *),
                             int dq) {
    int64_t ir = ctx->m ? ctx->m->ir_version : 13;
    uint8_t *listed = nne_calloc((size_t)g->n_values + 1, 1);
    if (!listed) return nne_error(NNE_ERR_OUT_OF_MEMORY, "constant folding: out of memory");
    for (int i = 0; i < g->n_inputs; i++) listed[g->inputs[i]] = 1;
    nne_status rc = NNE_OK;
    for (int i = 0; i < g->n_nodes && rc == NNE_OK; i++) {
        if (!pick(&g->nodes[i])) continue;
        int r = fold_node(ctx, g, listed, i, ir, dq);
        if (r < 0) rc = nne_error(NNE_ERR_OUT_OF_MEMORY, "constant folding: out of memory");
        if (r > 0) {
            st->removed++;
            st->folded++;
        }
    }
    nne_free(listed);
    return rc;
}

nne_status nne_pass_constant_folding(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    NNE_TRY(fold_nodes(ctx, g, st, foldable_op, 0));
    void *pair[2] = {ctx, st};
    return nne_graph_for_each_subgraph(g, fold_sub, pair);
}

nne_status nne_pass_fold_dequantize(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    return fold_nodes(ctx, g, st, is_dequantize, 1);
}
