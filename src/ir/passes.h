/*
 * passes.h - graph optimization passes and the pass manager (optimize.c).
 *
 * A pass is a small function from a graph to a graph: it edits the graph it
 * is given (and, where it says so, the subgraphs of its nodes) through the
 * editor of graph.h and counts what it changed. It may leave removed nodes
 * and unused values behind: the manager compacts after every pass, then
 * runs the validator in debug builds.
 */
#ifndef NNE_IR_PASSES_H
#define NNE_IR_PASSES_H

#include "ir/graph.h"

typedef struct nne_pass_stats {
    int removed, added, folded;
} nne_pass_stats;

typedef struct nne_pass_ctx {
    nne_model *m;
    size_t fold_budget;  /* bytes constant folding may still add */
} nne_pass_ctx;

typedef nne_status (*nne_pass_fn)(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);

/* Each pass runs on g and recursively on every subgraph of it. */
nne_status nne_pass_dead_nodes(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
nne_status nne_pass_identity(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
nne_status nne_pass_constant_folding(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
nne_status nne_pass_cse(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);

/* Constant folding limits: a node is folded only when its outputs take at
 * most max(NNE_FOLD_GROWTH x its inputs, NNE_FOLD_SMALL_BYTES), and all
 * folding of one optimize call adds at most NNE_FOLD_BUDGET_BYTES plus the
 * bytes of the model's initializers (so a tiny model cannot expand into
 * gigabytes of constants, while transposing every weight still folds). */
#define NNE_FOLD_SMALL_BYTES ((size_t)4 << 20)
#define NNE_FOLD_GROWTH 2
#define NNE_FOLD_BUDGET_BYTES ((size_t)16 << 20)

/* Nodes in g and all its subgraphs. */
int nne_graph_count_nodes(const nne_graph *g);
/* Pointer to the data of value v when it is a constant that cannot change:
 * an initializer (followed through outer-scope links) that is not also an
 * overridable graph input (IR version >= 4). NULL otherwise. */
const nne_tensor *nne_graph_const_value(const nne_graph *g, int v, int64_t ir_version);
#endif
