/*
 * graph.h - the graph IR: values (tensors by name), nodes, attributes,
 * subgraphs. Importers build it; sessions plan and run it. A graph is
 * immutable once loaded.
 */
#ifndef NNE_IR_GRAPH_H
#define NNE_IR_GRAPH_H

#include "nnedge.h"
#include "ops/op.h"

/* Attribute types: ONNX AttributeProto.AttributeType numbers. */
enum {
    NNE_ATTR_UNDEFINED = 0, NNE_ATTR_FLOAT = 1, NNE_ATTR_INT = 2, NNE_ATTR_STRING = 3,
    NNE_ATTR_TENSOR = 4, NNE_ATTR_GRAPH = 5, NNE_ATTR_FLOATS = 6, NNE_ATTR_INTS = 7,
    NNE_ATTR_STRINGS = 8, NNE_ATTR_TENSORS = 9, NNE_ATTR_GRAPHS = 10,
    NNE_ATTR_SPARSE_TENSOR = 11, NNE_ATTR_SPARSE_TENSORS = 12, NNE_ATTR_TYPE_PROTO = 13,
    NNE_ATTR_TYPE_PROTOS = 14
};

typedef struct nne_attr {
    char *name;
    int type;
    int64_t i;
    float f;
    char *s;             /* NUL-terminated copy (may contain NULs: slen) */
    size_t slen;
    int n;               /* element count of list attributes */
    int64_t *ints;
    float *floats;
    char **strings;
    nne_tensor *t;       /* TENSOR (owned, aligned data) */
    struct nne_graph *g; /* GRAPH */
} nne_attr;

/* Where a value comes from. */
enum { NNE_VAL_NODE = 0, NNE_VAL_INPUT = 1, NNE_VAL_CONST = 2, NNE_VAL_OUTER = 3, NNE_VAL_PENDING = 4 };
/* What a value holds. */
enum { NNE_VT_TENSOR = 0, NNE_VT_SEQUENCE = 1, NNE_VT_OPTIONAL = 2, NNE_VT_MAP = 3, NNE_VT_SPARSE = 4, NNE_VT_UNKNOWN = 5 };

typedef struct nne_value {
    char *name;
    int kind;            /* NNE_VAL_* */
    int vtype;           /* NNE_VT_* declared type (tensor when unknown) */
    int producer;        /* node index for NNE_VAL_NODE, else -1 */
    int outer;           /* value index in parent graph for NNE_VAL_OUTER */
    int is_output;       /* a graph output */
    /* declared type from input/output/value_info (ndim -1: unknown rank) */
    nne_dtype dtype;
    int32_t ndim;
    int64_t dims[NNE_MAX_DIMS];   /* -1: unknown */
    char *dim_names[NNE_MAX_DIMS];
    nne_tensor init;     /* NNE_VAL_CONST: data owned (aligned) */
} nne_value;

typedef struct nne_node {
    char *name;
    char *op_type;
    char *domain;
    int n_in, n_out;
    int *in, *out;       /* value indices, -1 for an empty name */
    int n_attr;
    nne_attr *attrs;
    const nne_op_def *op; /* NULL: unsupported */
    int opset;
} nne_node;

typedef struct nne_graph {
    char *name;
    struct nne_graph *parent;
    int n_values, cap_values;
    nne_value *values;
    int n_nodes, cap_nodes;
    nne_node *nodes;
    int n_inputs;        /* graph inputs, including initializer-backed ones */
    int *inputs;
    int n_outputs;
    int *outputs;
    /* name -> value index hash (open addressing) */
    int *hash;
    int hash_cap;
} nne_graph;

typedef struct nne_opset_id {
    char *domain;
    int64_t version;
} nne_opset_id;

struct nne_model {
    nne_graph *graph;
    int64_t ir_version;
    int n_opsets;
    nne_opset_id *opsets;
    int n_feed;          /* inputs the user must feed */
    int *feed;           /* value indices */
    char *producer;
    struct nne_budget *budget; /* what loading allocated (core.h); freed last */
};

nne_graph *nne_graph_create(nne_graph *parent);
void nne_graph_destroy(nne_graph *g);
/* Index of value `name` in g (no outer lookup), -1 if absent. */
int nne_graph_find(const nne_graph *g, const char *name);
/* Add a value; returns index or -1 on OOM. */
int nne_graph_add_value(nne_graph *g, const char *name, int kind);
const nne_attr *nne_node_attr(const nne_node *n, const char *name);
void nne_attr_free(nne_attr *a);

int64_t nne_model_opset_for(const nne_model *m, const char *domain);
#endif
