/*
 * pass_shapes.c - static dtypes and shapes of a graph's values for the
 * passes that need them (a residual Add fuses only when its other operand
 * has the output's exact shape; fusions are float only).
 *
 * Inputs take their declared shape when every dim is known; constants are
 * known with their data. Nodes are walked in order: a node whose inputs are
 * all known is inferred with its own op (nne_node_infer, the session's shape
 * phase on a one-node plan); small all-data nodes and shape-only ops (Shape,
 * Size) are evaluated, so the Shape -> Gather -> Concat -> Reshape chains of
 * exported models keep shapes known downstream. Anything else is unknown,
 * and a pass that needs a shape leaves the node alone. Top-level graph only
 * (a subgraph's inputs have no shapes here). Inputs count as known only when
 * every dim is a fixed number (a named dim may take another size at
 * prepare; fixed ones may not).
 *
 * nne_pass_shape_folding (level basic, as ONNX Runtime folds Shape on
 * static shapes) turns every value known with data that a node makes into
 * an initializer: Shape -> Gather -> Unsqueeze -> Concat chains of exported
 * models disappear when the input shapes are fixed.
 */
#include "ir/passes.h"
#include "core/core.h"

#include <string.h>

/* small data worth propagating (shape vectors, scalars) */
#define SHAPES_DATA_MAX 4096
#define SHAPES_MAX_INPUTS 64

void nne_shapes_free(nne_shapes *sh) {
    if (sh->t && sh->owned)
        for (int v = 0; v < sh->n; v++)
            if (sh->owned[v]) nne_aligned_free(sh->t[v].data);
    nne_free(sh->t);
    nne_free(sh->known);
    nne_free(sh->owned);
    memset(sh, 0, sizeof *sh);
}

nne_status nne_shapes_infer(nne_pass_ctx *ctx, const nne_graph *g, nne_shapes *sh) {
    memset(sh, 0, sizeof *sh);
    int64_t ir = ctx->m ? ctx->m->ir_version : 13;
    sh->n = g->n_values;
    sh->t = nne_calloc((size_t)sh->n + 1, sizeof *sh->t);
    sh->known = nne_calloc((size_t)sh->n + 1, 1);
    sh->owned = nne_calloc((size_t)sh->n + 1, 1);
    if (!sh->t || !sh->known || !sh->owned) {
        nne_shapes_free(sh);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
    }
    if (g->parent) return NNE_OK; /* subgraph: nothing known */
    for (int v = 0; v < g->n_values; v++) {
        const nne_value *val = &g->values[v];
        const nne_tensor *c = nne_graph_const_value(g, v, ir);
        if (c) {
            sh->t[v] = *c;
            sh->known[v] = 2; /* with data */
        } else if (val->kind == NNE_VAL_INPUT && val->ndim >= 0 && val->vtype == NNE_VT_TENSOR &&
                   val->dtype != NNE_DTYPE_UNDEFINED) {
            int ok = 1;
            /* a named dim may be given another size at prepare */
            for (int d = 0; d < val->ndim; d++) ok &= val->dims[d] >= 0 && !val->dim_names[d];
            if (!ok) continue;
            sh->t[v].dtype = val->dtype;
            sh->t[v].ndim = val->ndim;
            memcpy(sh->t[v].dims, val->dims, sizeof val->dims);
            sh->known[v] = 1;
        }
    }
    const nne_tensor *ins[SHAPES_MAX_INPUTS];
    uint8_t shape_only[SHAPES_MAX_INPUTS];
    nne_tensor outs[16];
    for (int i = 0; i < g->n_nodes; i++) {
        const nne_node *n = &g->nodes[i];
        if (n->dead || !n->op || n->n_in > SHAPES_MAX_INPUTS || n->n_out > 16 || n->n_out < 1) continue;
        if (n->op->flags & (NNE_OPF_SUBGRAPH | NNE_OPF_NONDETERMINISTIC | NNE_OPF_NO_FOLD)) continue;
        int ok = 1, all_data = 1;
        size_t bytes = 0;
        for (int k = 0; k < n->n_in && ok; k++) {
            int v = n->in[k];
            ins[k] = NULL;
            shape_only[k] = 0;
            if (v < 0) continue;
            if (!sh->known[v]) ok = 0;
            ins[k] = &sh->t[v];
            shape_only[k] = sh->known[v] == 1;
            if (sh->known[v] != 2) all_data = 0;
            else bytes += nne_tensor_nbytes(&sh->t[v]);
        }
        for (int a = 0; a < n->n_attr; a++)
            if (n->attrs[a].g) ok = 0;
        if (!ok) continue;
        int skipped = 0, with_data = 0;
        nne_status st;
        if ((all_data && bytes <= SHAPES_DATA_MAX) || (n->op->flags & NNE_OPF_SHAPE_ONLY)) {
            /* shape-only ops never read data: their inputs go in as they are */
            if (!all_data) {
                for (int k = 0; k < n->n_in; k++) shape_only[k] = 0;
            }
            st = nne_node_eval(g, i, ins, SHAPES_DATA_MAX, outs, &skipped);
            with_data = 1;
        } else {
            st = nne_node_infer(g, i, ins, shape_only, outs, &skipped);
        }
        if (st != NNE_OK || skipped) continue; /* unknown: the session will say what is wrong */
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            if (v < 0) {
                if (outs[o].data) nne_aligned_free(outs[o].data);
                continue;
            }
            sh->t[v] = outs[o];
            sh->known[v] = with_data ? 2 : 1;
            sh->owned[v] = with_data && outs[o].data != NULL;
            if (with_data && !outs[o].data && nne_tensor_nbytes(&outs[o]) == 0) sh->known[v] = 1;
        }
    }
    return NNE_OK;
}

nne_status nne_pass_shape_folding(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    if (g->parent) return NNE_OK;
    nne_shapes sh;
    NNE_TRY(nne_shapes_infer(ctx, g, &sh));
    /* Values an If/Loop/Scan input is computed from stay as they are: a
     * constant If condition lets a runtime inline one branch and check it
     * more strictly than a branch taken at run time (ONNX Runtime then
     * refuses models it runs as written). Marked backwards from those inputs. */
    uint8_t *cone = nne_calloc((size_t)g->n_values + 1, 1);
    if (!cone) {
        nne_shapes_free(&sh);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "optimize: out of memory");
    }
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        const nne_node *n = &g->nodes[i];
        if (n->dead) continue;
        int mark = n->op && (n->op->flags & NNE_OPF_SUBGRAPH);
        for (int o = 0; o < n->n_out && !mark; o++) mark = n->out[o] >= 0 && cone[n->out[o]];
        for (int k = 0; mark && k < n->n_in; k++)
            if (n->in[k] >= 0) cone[n->in[k]] = 1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        nne_node *n = &g->nodes[i];
        if (n->dead || n->n_out < 1) continue;
        int all = 1;
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            all &= v >= 0 && sh.known[v] == 2 && sh.owned[v] && !g->values[v].is_output && !cone[v];
        }
        if (!all) continue;
        int n_out = n->n_out, outs[16];
        memcpy(outs, n->out, (size_t)n_out * sizeof(int));
        nne_graph_remove_node(g, i);
        for (int o = 0; o < n_out; o++) {
            int v = outs[o];
            nne_value *val = &g->values[v];
            val->kind = NNE_VAL_CONST;
            val->producer = -1;
            val->vtype = NNE_VT_TENSOR;
            val->init = sh.t[v];
            sh.owned[v] = 0; /* the value owns the data now */
            val->dtype = sh.t[v].dtype;
            val->ndim = sh.t[v].ndim;
            for (int d = 0; d < NNE_MAX_DIMS; d++) {
                val->dims[d] = d < sh.t[v].ndim ? sh.t[v].dims[d] : 0;
                nne_free(val->dim_names[d]);
                val->dim_names[d] = NULL;
            }
        }
        st->removed++;
        st->folded++;
    }
    nne_free(cone);
    nne_shapes_free(&sh);
    return NNE_OK;
}
