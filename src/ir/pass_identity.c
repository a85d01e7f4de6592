/*
 * pass_identity.c - Identity elimination: Y = Identity(X) goes away and
 * Y's readers read X.
 *
 * Graph outputs are names callers (and the ONNX file) depend on, and a
 * subgraph's outputs are bound by position but must still be values of the
 * subgraph, so:
 *   - Y not a graph output: every use of Y (node inputs and outer-scope
 *     links of subgraphs, which are renamed) moves to X; the node goes.
 *   - Y a graph output, X made by a node P of this graph and not itself a
 *     graph output: P now makes Y directly and X's readers read Y.
 *   - otherwise (X is a graph input, an initializer, an outer-scope value or
 *     also a graph output) the Identity stays: it is what gives the output
 *     its own name.
 * Runs on subgraphs too.
 */
#include "ir/passes.h"
#include "core/core.h"

#include <string.h>

static int is_identity(const nne_node *n) {
    return !n->dead && n->n_in == 1 && n->n_out == 1 && n->in[0] >= 0 && n->out[0] >= 0 &&
           strcmp(n->op_type, "Identity") == 0 && (!n->domain[0] || strcmp(n->domain, "ai.onnx") == 0);
}

static nne_status identity_sub(nne_graph *sub, void *user) {
    return nne_pass_identity(((void **)user)[0], sub, ((void **)user)[1]);
}

nne_status nne_pass_identity(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    for (int i = 0; i < g->n_nodes; i++) {
        nne_node *n = &g->nodes[i];
        if (!is_identity(n)) continue;
        int x = n->in[0], y = n->out[0];
        nne_value *X = &g->values[x], *Y = &g->values[y];
        if (!Y->is_output) {
            if (nne_graph_can_replace_uses(g, y, x) != NNE_OK) continue;
            NNE_TRY(nne_graph_replace_uses(g, y, x));
        } else {
            int p = X->kind == NNE_VAL_NODE ? X->producer : -1;
            if (p < 0 || X->is_output || nne_graph_can_replace_uses(g, x, y) != NNE_OK) continue;
            NNE_TRY(nne_graph_replace_uses(g, x, y));
            nne_node *P = &g->nodes[p];
            for (int k = 0; k < P->n_out; k++)
                if (P->out[k] == x) P->out[k] = y;
            Y->producer = p;
            X->kind = NNE_VAL_PENDING; /* unused now: compaction drops it */
            X->producer = -1;
        }
        nne_graph_remove_node(g, i);
        st->removed++;
    }
    void *pair[2] = {ctx, st};
    return nne_graph_for_each_subgraph(g, identity_sub, pair);
}
