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
 * Runs on subgraphs too. Cost: O(nodes + edges) plus, per value read by a
 * subgraph, one walk to rename the links.
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
    /* 1: identities that are not graph outputs, replaced in one walk */
    nne_alias al;
    NNE_TRY(nne_alias_init(&al, g));
    nne_status rc = NNE_OK;
    for (int i = 0; i < g->n_nodes && rc == NNE_OK; i++) {
        nne_node *n = &g->nodes[i];
        if (n->dead) continue;
        nne_alias_inputs(&al, n);
        if (!is_identity(n) || g->values[n->out[0]].is_output) continue;
        int x = n->in[0], y = n->out[0];
        if (nne_alias_can_replace(&al, g, y, x) != NNE_OK) continue;
        if ((rc = nne_alias_replace(&al, g, y, x)) != NNE_OK) break;
        nne_graph_remove_node(g, i);
        st->removed++;
    }
    /* 2: Y = Identity(X) with Y a graph output: X's producer makes Y. The
     * readers of X come from consumer lists made after step 1 (each X is
     * renamed once; a later Identity reading a renamed X reads an output) */
    nne_graph_uses u = {0};
    if (rc == NNE_OK) rc = nne_graph_uses_build(g, &u);
    for (int i = 0; i < g->n_nodes && rc == NNE_OK; i++) {
        nne_node *n = &g->nodes[i];
        if (!is_identity(n)) continue;
        int x = n->in[0], y = n->out[0];
        nne_value *X = &g->values[x], *Y = &g->values[y];
        int p = X->kind == NNE_VAL_NODE ? X->producer : -1;
        if (!Y->is_output || p < 0 || X->is_output) continue;
        if (al.linked[x]) {
            if (nne_graph_can_replace_uses(g, x, y) != NNE_OK) continue;
            if ((rc = nne_graph_replace_uses(g, x, y)) != NNE_OK) break;
        } else {
            for (int k = u.start[x]; k < u.start[x + 1]; k++) {
                nne_use use = u.use[k];
                if (use.slot >= 0 && g->nodes[use.node].in[use.slot] == x) g->nodes[use.node].in[use.slot] = y;
            }
        }
        nne_node *P = &g->nodes[p];
        for (int k = 0; k < P->n_out; k++)
            if (P->out[k] == x) P->out[k] = y;
        Y->producer = p;
        X->kind = NNE_VAL_PENDING; /* unused now: compaction drops it */
        X->producer = -1;
        nne_graph_remove_node(g, i);
        st->removed++;
    }
    nne_graph_uses_free(&u);
    nne_alias_free(&al);
    NNE_TRY(rc);
    void *pair[2] = {ctx, st};
    return nne_graph_for_each_subgraph(g, identity_sub, pair);
}
