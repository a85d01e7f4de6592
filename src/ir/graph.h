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
    /* kept for the writer */
    char *doc;           /* doc_string, NULL if none */
    uint8_t *raw;        /* whole AttributeProto bytes of kinds the IR does not decode
                            (TENSORS, GRAPHS, SPARSE_TENSOR(S), TYPE_PROTO(S)); written back verbatim */
    size_t raw_len;
} nne_attr;

/* A metadata_props entry. */
typedef struct nne_kv {
    char *key, *value;
} nne_kv;

/* A field the IR does not model, kept as its serialized bytes to be written
 * back verbatim (FunctionProto, TrainingInfoProto, quantization_annotation). */
typedef struct nne_raw_field {
    uint32_t num;        /* field number in the enclosing message */
    uint8_t *data;       /* owned */
    size_t len;
} nne_raw_field;

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
    nne_tensor init;     /* NNE_VAL_CONST: data owned (aligned), or borrowed (below) */
    /* Weights in place: init_borrowed = init.data points into a mapping owned
     * by the model (never freed here). init_src != NULL with init.data == NULL:
     * the bytes lie in a model mapping at an address not aligned for the
     * dtype; nne_model_weights_ready() copies them on first use (sessions call
     * it; init_src stays set). Code that reads init.data outside a session
     * calls it first, or reads the bytes with nne_value_init_bytes(). */
    int init_borrowed;
    const void *init_src;
    /* kept for the writer */
    char *doc;           /* ValueInfoProto.doc_string */
    int in_value_info;   /* declared in the graph's value_info */
    uint8_t *type_raw;   /* TypeProto bytes of non-tensor types (sequence, map, optional, sparse) */
    size_t type_raw_len;
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
    char *doc;           /* kept for the writer */
    int n_meta;
    nne_kv *meta;
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
    /* kept for the writer */
    char *doc;
    int n_meta;
    nne_kv *meta;
    int n_raw;
    nne_raw_field *raw;  /* quantization_annotation */
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
    /* kept for the writer */
    char *producer_version;
    char *domain;
    char *doc;
    int64_t model_version;
    int n_meta;
    nne_kv *meta;
    int n_raw;
    nne_raw_field *raw;  /* functions (25), training_info (20), configuration (26) */
    /* mappings the weights may point into (model file, external data files) */
    int n_maps;
    struct nne_mapping *maps;
    int weights_ready;   /* set once by nne_model_weights_ready (atomic) */
};

typedef struct nne_mapping {
    char *name;          /* external data location, NULL for the model file */
    void *addr;
    uint64_t size;
} nne_mapping;

/* Copy the misaligned weights (init_src) into aligned memory, once; safe to
 * call from several threads. Sessions call it on create. */
nne_status nne_model_weights_ready(const nne_model *m);
/* Bytes of an initializer wherever they lie (init.data or init_src). */
static inline const void *nne_value_init_bytes(const nne_value *v) {
    const void *d = __atomic_load_n(&v->init.data, __ATOMIC_ACQUIRE);
    return d ? d : v->init_src;
}
void nne_kv_free(int n, nne_kv *kv);
/* 1 when the models hold the same graph and header (graph_equal.c); else 0
 * and the first difference in why. */
int nne_model_equal(const nne_model *a, const nne_model *b, char *why, size_t why_cap);
void nne_raw_free(int n, nne_raw_field *raw);

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
