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

/*
 * Replacing values while walking nodes in order, in O(1) per replacement:
 * a pass that meets a node first calls nne_alias_inputs on it (its inputs
 * follow the replacements made so far; every reader comes after its
 * producer, so it has seen them all), and nne_alias_replace records
 * old -> new. Only a value read by a subgraph link is replaced at once
 * through nne_graph_replace_uses (links carry names, which must change).
 * Graph outputs never change (see nne_graph_replace_uses).
 */
typedef struct nne_alias {
    int n;
    int *rep;         /* rep[v]: the value v now stands for, -1: itself */
    uint8_t *linked;  /* 1: a subgraph links to v */
} nne_alias;
nne_status nne_alias_init(nne_alias *a, const nne_graph *g);
void nne_alias_free(nne_alias *a);
int nne_alias_find(nne_alias *a, int v);
void nne_alias_inputs(nne_alias *a, nne_node *n);
/* NNE_OK when old_v's readers can read new_v (only links can refuse). */
nne_status nne_alias_can_replace(nne_alias *a, nne_graph *g, int old_v, int new_v);
nne_status nne_alias_replace(nne_alias *a, nne_graph *g, int old_v, int new_v);

/* Nodes in g and all its subgraphs. */
int nne_graph_count_nodes(const nne_graph *g);
/* Pointer to the data of value v when it is a constant that cannot change:
 * an initializer (followed through outer-scope links) that is not also an
 * overridable graph input (IR version >= 4). NULL otherwise. */
const nne_tensor *nne_graph_const_value(const nne_graph *g, int v, int64_t ir_version);
#endif
