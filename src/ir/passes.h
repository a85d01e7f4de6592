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
/* DequantizeLinear of constants folded into float initializers (level all,
 * after qdq_fusion has reached its fixed point; top-level graph). */
nne_status nne_pass_fold_dequantize(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
nne_status nne_pass_cse(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);

/* Level basic (as ONNX Runtime's level 1): BatchNormalization folded into
 * the Conv/Gemm before it; a constant per-channel Mul/Add after a Conv
 * folded into its weights and bias (pass_bn_fold.c). Transpose/Reshape
 * chains simplified (pass_reshape.c). */
nne_status nne_pass_bn_fold(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
nne_status nne_pass_conv_scale(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
nne_status nne_pass_reshape_chains(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
/* Values computable from fixed input shapes become initializers (pass_shapes.c). */
nne_status nne_pass_shape_folding(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
/* Level all (ONNX Runtime's extended level): activation, bias and residual
 * Add fused into the producing Conv/Gemm/MatMul (pass_fuse.c, fused ops in
 * src/ops/nn_fused.c); decomposed LayerNormalization and GELU recognised
 * (pass_patterns.c). */
nne_status nne_pass_fuse_epilogue(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
nne_status nne_pass_patterns(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
/* Level all, first of all: DequantizeLinear -> op -> QuantizeLinear islands
 * of QDQ models become int8 ops (pass_qdq.c; ops in src/ops/quant_conv.c
 * and src/ops/quant_fused.c). */
nne_status nne_pass_qdq_fusion(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
/* MatMul -> [scale] -> Softmax -> MatMul as ai.nnedge FusedAttention (pass_attention.c). */
nne_status nne_pass_attention(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);
/* Mul(X, scalar) -> Add(., scalar) as ai.nnedge Affine (pass_affine.c). */
nne_status nne_pass_affine(nne_pass_ctx *ctx, nne_graph *g, nne_pass_stats *st);

/* Static dtypes and shapes of a graph's values (pass_shapes.c): known[v] 0
 * unknown, 1 dtype and shape in t[v], 2 also data (constants, small
 * propagated values). A snapshot: values added later are unknown. */
typedef struct nne_shapes {
    int n;
    nne_tensor *t;
    uint8_t *known, *owned;
} nne_shapes;
nne_status nne_shapes_infer(nne_pass_ctx *ctx, const nne_graph *g, nne_shapes *sh);
void nne_shapes_free(nne_shapes *sh);
static inline const nne_tensor *nne_shape_of(const nne_shapes *sh, int v) {
    return v >= 0 && v < sh->n && sh->known[v] ? &sh->t[v] : NULL;
}

/* Helpers of the rewriting passes (optimize.c). */
/* A new initializer (name from base, made unique) holding *t; takes t->data. */
nne_status nne_pass_add_const(nne_graph *g, const char *base, nne_tensor *t, int *out_v);
/* Make node ni's op (op_type, domain, opset) another; the op is looked up
 * again. The model's opset imports get the domain when it is new. */
nne_status nne_pass_set_op(nne_pass_ctx *ctx, nne_graph *g, int ni, const char *op_type, const char *domain,
                           int opset);
/* Node ni now makes value `to` in place of its output slot o (the old
 * output value is left unused, to be dropped by compaction). */
void nne_pass_move_output(nne_graph *g, int ni, int o, int to);
/* A folded-away initializer of a mapped model file: its pages leave the
 * resident set (folding copies weights; without this both copies would
 * count toward the peak RSS). No effect on weights in memory. */
void nne_pass_drop_pages(nne_pass_ctx *ctx, const nne_value *v);
/* A list-of-floats attribute on node ni. */
nne_status nne_pass_set_attr_floats(nne_graph *g, int ni, const char *name, int n, const float *v);
/* Float data of a constant value (NULL unless a float32 constant). */
const float *nne_pass_const_f32(nne_pass_ctx *ctx, const nne_graph *g, int v, int64_t *numel);

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
