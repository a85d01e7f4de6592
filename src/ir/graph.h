/*
 * graph.h - the graph IR: values (tensors by name), nodes, attributes,
 * subgraphs. Importers build it through the builder functions below
 * (graph_edit.c), optimization passes edit it with the editor functions,
 * sessions plan and run it. Once a session exists on a model its graph is
 * read-only (nne_model_optimize checks this).
 *
 * Invariants (checked by nne_graph_validate): every value has at most one
 * producer; nodes are in topological order (a node reads only values made by
 * earlier nodes, inputs, initializers or outer-scope links); every index is in
 * range; an NNE_VAL_OUTER value of a subgraph holds the index of the value of
 * the same name in its parent graph.
 */
#ifndef NNE_IR_GRAPH_H
#define NNE_IR_GRAPH_H

#include "nnedge.h"
#include "ops/op.h"

#include <pthread.h>

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
    int init_from_file;  /* an initializer read from the file (not made by a pass) */
    uint8_t *type_raw;   /* TypeProto bytes of non-tensor types (sequence, map, optional, sparse) */
    size_t type_raw_len;
    /* A trainable parameter (params.c; NNE_VAL_CONST only): its data is
     * owned (never borrowed from a mapping) and updated in place between
     * runs by nne_model_param_set, so plans never fold it into constants nor
     * pack it (they read it at every run); passes treat it as a variable.
     * param_version counts the updates (atomic). */
    int trainable;
    uint64_t param_version;
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
    int dead;            /* removed by nne_graph_remove_node; gone after compaction */
    int cap_in, cap_out, cap_attr; /* allocated slots of in/out/attrs (builder) */
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
    int cap_inputs, cap_outputs; /* allocated slots of inputs/outputs (builder) */
    int anon_serial;     /* numbers the names of anonymous values */
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
    /* packed-weight cache (src/ir/wcache.c): the model's one mutable part,
     * guarded by its lock; set up by nne_model_wcache_init */
    struct nne_wc_entry *wc;
    pthread_mutex_t wc_lock;
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
    int n_sessions;      /* live sessions on this model (atomic; see nne_model_session_ref) */
    int shared;          /* 1 once any session was made: the graph is frozen (atomic) */
    struct nne_budget *budget; /* what loading allocated (core.h); freed last */
    void (*release)(void *user); /* nne_model_load_regions: called after destroy */
    void *release_user;
};

/* Set up / free the packed-weight cache of a model (nne_model_new calls
 * init, nne_model_destroy calls free). */
void nne_model_wcache_init(nne_model *m);
void nne_model_wcache_free(nne_model *m);
typedef struct nne_mapping {
    char *name;          /* external data location, NULL for the model file */
    void *addr;
    uint64_t size;
} nne_mapping;

/* Copy the misaligned weights (init_src) into aligned memory, once; safe to
 * call from several threads. Sessions call it on create. */
nne_status nne_model_weights_ready(const nne_model *m);
/* The whole pages of [p, p + n) leave the resident set when they lie in one
 * of m's read-only file mappings (read again from the file if touched);
 * nothing otherwise. For weights that were copied or folded away. */
void nne_model_drop_pages(const nne_model *m, const void *p, size_t n);
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
/* Rebuild the name hash with cap slots (a power of two above 2 * n_values); 0 on OOM. */
int nne_graph_rehash(nne_graph *g, int cap);
/* Rebuild the name hash in its current slots (allocates nothing: edits that
 * rename values or drop some use it after their point of no return). */
void nne_graph_rehash_inplace(nne_graph *g);
/* Free what a value owns (name, dim names, initializer data); the one place
 * that knows how initializer data is owned (graph teardown and compaction). */
void nne_value_free(nne_value *v);
const nne_attr *nne_node_attr(const nne_node *n, const char *name);
void nne_attr_free(nne_attr *a);

int64_t nne_model_opset_for(const nne_model *m, const char *domain);
/* A zeroed model (importers start from this; free with nne_model_destroy).
 * NULL on OOM. */
nne_model *nne_model_new(void);
/* Count the live sessions of a model (delta +1 at create, -1 at destroy);
 * returns the count after the change. The first +1 also marks the model
 * shared for good: its graph is frozen (plans, caches of packed weights and
 * other state may point into it). Thread-safe. */
int nne_model_session_ref(const nne_model *m, int delta);

/* ------------------------------------------------------------ builder --
 * graph_edit.c. Functions that return nne_status set the error text; a
 * failure leaves the graph valid (nothing half-added is visible). Names
 * are copied. Value and node indices stay stable until nne_graph_compact. */

/* Add graph input `name` (a new NNE_VAL_INPUT value, appended to g->inputs).
 * NNE_ERR_CORRUPT_MODEL when a value of that name exists. */
nne_status nne_graph_add_input(nne_graph *g, const char *name, int *out_idx);
/* Add initializer `name` holding *t. Takes ownership of t->data (also on
 * failure). An existing graph input of that name becomes the initializer
 * (an input with a default value); any other existing value is an error. */
nne_status nne_graph_add_initializer(nne_graph *g, const char *name, nne_tensor *t, int *out_idx);
/* Append value v to the graph outputs (a value may be listed twice). */
nne_status nne_graph_add_output(nne_graph *g, int v);
/* Index of `name` as seen from g: a value of g, else a value of an enclosing
 * graph, to which NNE_VAL_OUTER links are added in g and every graph
 * between. *out_idx = -1 when no graph defines it. */
nne_status nne_graph_resolve(nne_graph *g, const char *name, int *out_idx);
/* A new value whose name starts with `base` and is used by no value of g,
 * its enclosing graphs or its subgraphs. */
nne_status nne_graph_add_unique_value(nne_graph *g, const char *base, int kind, int *out_idx);
/* Append a node; the op is looked up in the op table (node->op NULL when
 * nnedge does not implement it). domain and name may be NULL (""). */
nne_status nne_graph_add_node(nne_graph *g, const char *op_type, const char *domain, const char *name, int opset,
                              int *out_idx);
/* Append an input to node ni: value v, or -1 for an omitted optional input. */
nne_status nne_node_add_input(nne_graph *g, int ni, int v);
/* Append an output to node ni: value v becomes produced by ni (v must have
 * no producer: a new NNE_VAL_NODE value or an NNE_VAL_PENDING forward
 * reference); v = -1 makes a private anonymous value (an omitted output;
 * its name starts "\x01unused:", which no file can hold: writers write ""). */
nne_status nne_node_add_output(nne_graph *g, int ni, int v);
/* A zeroed attribute slot on node ni for the caller to fill (name included:
 * set a->name with nne_strdup). The slot is freed with the node; the pointer
 * is valid until the next attribute is added to the node. */
nne_status nne_node_add_attr(nne_graph *g, int ni, nne_attr **out);
/* Convenience setters (name copied; lists and tensors copied). */
nne_status nne_node_set_attr_int(nne_graph *g, int ni, const char *name, int64_t v);
nne_status nne_node_set_attr_float(nne_graph *g, int ni, const char *name, float v);
nne_status nne_node_set_attr_ints(nne_graph *g, int ni, const char *name, int n, const int64_t *v);
nne_status nne_node_set_attr_string(nne_graph *g, int ni, const char *name, const char *v);
nne_status nne_node_set_attr_tensor(nne_graph *g, int ni, const char *name, const nne_tensor *t);
/* Attach subgraph sub (made with nne_graph_create(g)); takes ownership. */
nne_status nne_node_set_attr_graph(nne_graph *g, int ni, const char *name, nne_graph *sub);

/* ------------------------------------------------------------- editor -- */

/* Atomicity: every editor function below either succeeds or, when an
 * allocation fails, returns NNE_ERR_OUT_OF_MEMORY with the graph exactly as
 * it was (memory is reserved before anything is changed). */

/* One use of a value: node index and input slot; slot -1 is a use through
 * an NNE_VAL_OUTER link of one of the node's subgraphs. */
typedef struct nne_use {
    int node, slot;
} nne_use;
/* Consumer lists of every value of a graph (dead nodes excluded):
 * use[start[v] .. start[v + 1]). A snapshot: rebuild after editing. */
typedef struct nne_graph_uses {
    int n_values;
    int *start;
    nne_use *use;
} nne_graph_uses;
nne_status nne_graph_uses_build(const nne_graph *g, nne_graph_uses *u);
void nne_graph_uses_free(nne_graph_uses *u);
static inline int nne_uses_count(const nne_graph_uses *u, int v) { return u->start[v + 1] - u->start[v]; }

/* Make every node input and subgraph outer-scope link that reads old_v read
 * new_v instead (links are renamed to new_v's name; a subgraph that links to
 * both is merged onto one link). Graph outputs are NOT changed: an output is
 * part of the graph's interface. NNE_ERR_UNSUPPORTED, with the graph
 * unchanged, when a subgraph defines a value of new_v's name itself
 * (shadowing, which ONNX forbids). */
nne_status nne_graph_replace_uses(nne_graph *g, int old_v, int new_v);
/* NNE_OK when nne_graph_replace_uses(g, old_v, new_v) would succeed (changes nothing). */
nne_status nne_graph_can_replace_uses(nne_graph *g, int old_v, int new_v);
/* Remove node ni: frees its contents and marks it dead; values it produced
 * become NNE_VAL_PENDING orphans (the caller re-homes or stops using them).
 * Indices stay valid until nne_graph_compact. */
void nne_graph_remove_node(nne_graph *g, int ni);
/* Free what a node owns (its struct stays; graph destroy and remove use it). */
void nne_node_free(nne_node *n);
/* Drop dead nodes and values nothing refers to (graph inputs and outputs,
 * node inputs and outputs and subgraph links count as references), renumber
 * the rest in order, and remap the NNE_VAL_OUTER links of g's subgraphs. */
nne_status nne_graph_compact(nne_graph *g);
/* nne_graph_compact on every subgraph (innermost first), then on g. */
nne_status nne_graph_compact_all(nne_graph *g);
/* Order nodes topologically (stable: a sorted graph is left as it is);
 * values read by a node's subgraphs count as its inputs.
 * NNE_ERR_CORRUPT_MODEL when the graph has a cycle. */
nne_status nne_graph_topo_sort(nne_graph *g);
/* Call fn on every subgraph of g's nodes (not recursive). */
nne_status nne_graph_for_each_subgraph(nne_graph *g, nne_status (*fn)(nne_graph *sub, void *user), void *user);

/* Check the invariants at the top of this file, in g and its subgraphs, and
 * that declared dtypes and ranks agree with initializer data. Returns
 * NNE_ERR_INTERNAL naming the first violation. */
nne_status nne_graph_validate(const nne_graph *g);
/* 1 when the validator runs after every pass: builds with
 * NNE_DEBUG_VALIDATE (make SAN=1) or env NNE_VALIDATE=1. */
int nne_validate_enabled(void);

/* Evaluate node ni of g on constant inputs (implemented by the session,
 * session.c: the one entry point constant folding uses). ins[k] is the
 * value of input k (NULL for an omitted input). Output k goes to outs[k]
 * (data from nne_aligned_alloc, NULL when empty; the caller frees). When
 * the outputs would take more than max_out_bytes together, or their size
 * is only known by running, nothing is computed and *skipped = 1. */
nne_status nne_node_eval(const nne_graph *g, int ni, const nne_tensor *const *ins, size_t max_out_bytes,
                         nne_tensor *outs, int *skipped);
/* Shape inference of node ni for the passes: inputs k with shape_only_in[k]
 * set carry a dtype and shape and no data; outs get dtype and shape (data
 * NULL); *skipped = 1 when the op needs unknown data to know them. */
nne_status nne_node_infer(const nne_graph *g, int ni, const nne_tensor *const *ins, const uint8_t *shape_only_in,
                          nne_tensor *outs, int *skipped);
#endif
