/*
 * pass_dead.c - dead-node elimination: remove nodes none of whose outputs
 * reaches a graph output, directly or through later nodes or the
 * outer-scope references of subgraphs.
 *
 * Subgraphs are cleaned first and compacted, so a link that a subgraph no
 * longer needs stops keeping the outer value alive. Then one walk from the
 * last node to the first with use counts removes whole dead chains (a
 * consumer always comes after its producer). ONNX ops have no side effects,
 * random ones included, so any dead node may go; nodes of ops nnedge does
 * not know (custom domains, loaded for inspection) are kept, since we cannot
 * know what they do.
 */
#include "ir/passes.h"
#include "core/core.h"

static nne_status dead_sub(nne_graph *sub, void *user) {
    nne_pass_stats *st = ((void **)user)[1];
    NNE_TRY(nne_pass_dead_nodes(((void **)user)[0], sub, st));
    return nne_graph_compact(sub);
}

nne_status nne_pass_dead_nodes(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st) {
    void *pair[2] = {ctx, st};
    NNE_TRY(nne_graph_for_each_subgraph(g, dead_sub, pair));
    nne_graph_uses u;
    NNE_TRY(nne_graph_uses_build(g, &u));
    int *cnt = nne_calloc((size_t)g->n_values + 1, sizeof(int));
    if (!cnt) {
        nne_graph_uses_free(&u);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "dead-node elimination: out of memory");
    }
    for (int v = 0; v < g->n_values; v++) cnt[v] = nne_uses_count(&u, v) + g->values[v].is_output;
    nne_graph_uses_free(&u);
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        nne_node *n = &g->nodes[i];
        if (n->dead || !n->op) continue;
        int used = 0;
        for (int k = 0; k < n->n_out && !used; k++) used = n->out[k] >= 0 && cnt[n->out[k]] > 0;
        if (used) continue;
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) cnt[n->in[k]]--;
        for (int a = 0; a < n->n_attr; a++) {
            const nne_graph *sg = n->attrs[a].g;
            for (int v = 0; sg && v < sg->n_values; v++)
                if (sg->values[v].kind == NNE_VAL_OUTER && sg->values[v].outer >= 0) cnt[sg->values[v].outer]--;
        }
        nne_graph_remove_node(g, i);
        st->removed++;
    }
    nne_free(cnt);
    return NNE_OK;
}
