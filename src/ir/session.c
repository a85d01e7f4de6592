/*
 * session.c - prepare and run a graph.
 *
 * Prepare (once per set of input shapes):
 *   1. Seed shapes: initializers are constants, inputs take the given shapes.
 *   2. Walk nodes in topological order. A node whose inputs are all constant
 *      (or, for shape-only ops like Shape, all statically shaped) is executed
 *      now and its outputs become constants (constant folding: this folds the
 *      Shape -> Gather -> Concat -> Reshape chains of exported models). Other
 *      nodes run their op in shape mode, which declares output shapes; an op
 *      that needs unknown data for a shape returns NNE_DYNAMIC, and it and
 *      everything downstream of it is shaped at run time instead.
 *   3. Plan one arena for every statically shaped activation: lifetimes are
 *      [producer, last consumer] (subgraph references count as uses); buffers
 *      are placed largest first at the lowest offset that does not overlap a
 *      placed buffer with an intersecting lifetime (the greedy planner of
 *      TFLM, written anew). A segment tree over node indices finds the
 *      placed buffers whose lifetimes meet a new one, so planning a long
 *      chain is O(n log n) (plan_arena).
 * Run: nodes execute in order; static outputs live in the arena, dynamic ones
 * are allocated as they are produced and freed after their last use.
 * Subgraphs (If/Loop/Scan bodies) run through the same node loop with every
 * value dynamic.
 */
#include "ir/graph.h"
#include "core/core.h"
#include "ops/op.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

enum { VS_UNKNOWN = 0, VS_INPUT, VS_CONST, VS_STATIC, VS_DYNAMIC };
enum { NM_STATIC = 0, NM_FOLDED, NM_DYNAMIC };
enum { POL_PLAN = 0, POL_MALLOC };

static uint8_t g_empty[64] __attribute__((aligned(64)));

typedef struct exec exec;

struct nne_op_ctx {
    exec *ex;
    int node_idx;
    const nne_node *node;
    int shape_only;
    int policy;
    const nne_tensor **ins;
    size_t scratch_req;
    void *scratch_mem; /* malloc'd scratch for POL_MALLOC */
    const nne_attr *bad_attr; /* first attribute read as another type */
    int bad_expect;
};

struct exec {
    nne_session *s;
    const nne_graph *g;
    exec *parent;
    nne_tensor *vals;  /* runtime view of every value */
    uint8_t *owned;    /* vals[v].data malloc'd here */
    int *uses;         /* consumers (incl. subgraph references); is_output adds 1 */
    int *uses_left;
    const nne_tensor **ins;
    int max_in;
    /* implicit inputs: values of this graph that node i's subgraphs read,
     * impl[impl_start[i] .. impl_start[i + 1]) */
    int *impl_start;
    int *impl;
};

struct nne_session {
    const nne_model *m;
    const nne_graph *g;
    nne_session_options opt;
    char err[1024];
    int prepared;
    int nv, nn;
    uint8_t *vstate;
    nne_tensor *shape;      /* prepared dtype/shape per value (data: constant data) */
    uint8_t *folded;        /* shape[v].data allocated by folding */
    uint8_t *node_mode;
    size_t *offset;
    int *life_first, *life_last; /* planned lifetimes (node indices) of static values */
    uint8_t *arena;
    size_t arena_size;
    uint8_t *scratch;
    size_t scratch_cap;
    uint8_t *bound;
    exec main;
    uint64_t rng;
    nne_budget budget;      /* memory charged while preparing/running (alloc.c) */
    int64_t loop_iters;     /* Loop iterations of the current prepare/run (the cap) */
};


/* ------------------------------------------------------------ helpers -- */

typedef struct nne_seq {
    int n;
    nne_tensor items[];
} nne_seq;

static void value_free(nne_tensor *t) {
    if (t->dtype == NNE_DTYPE_SEQUENCE && t->data) {
        nne_seq *q = t->data;
        for (int k = 0; k < q->n; k++) value_free(&q->items[k]);
        nne_free(q);
    } else if (t->data != g_empty) {
        nne_aligned_free(t->data);
    }
    t->data = NULL;
}

int nne_seq_length(const nne_tensor *t) {
    return t && t->dtype == NNE_DTYPE_SEQUENCE && t->data ? ((const nne_seq *)t->data)->n : 0;
}
const nne_tensor *nne_seq_item(const nne_tensor *t, int k) {
    if (k < 0 || k >= nne_seq_length(t)) return NULL;
    return &((const nne_seq *)t->data)->items[k];
}

nne_status nne_tensor_clone(const nne_tensor *src, nne_tensor *dst) {
    *dst = *src;
    dst->data = NULL;
    if (src->dtype == NNE_DTYPE_SEQUENCE) {
        int n = nne_seq_length(src);
        nne_seq *q = nne_calloc(1, sizeof *q + (size_t)n * sizeof(nne_tensor));
        if (!q) return nne_error(NNE_ERR_OUT_OF_MEMORY, "out of memory");
        for (int k = 0; k < n; k++) {
            if (nne_tensor_clone(nne_seq_item(src, k), &q->items[k]) != NNE_OK) {
                q->n = k;
                nne_tensor tmp = {.dtype = NNE_DTYPE_SEQUENCE, .data = q};
                value_free(&tmp);
                return NNE_ERR_OUT_OF_MEMORY;
            }
        }
        q->n = n;
        dst->data = q;
        return NNE_OK;
    }
    size_t nb = nne_tensor_nbytes(src);
    dst->data = nne_aligned_alloc(nb ? nb : 1);
    if (!dst->data) return nne_error(NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes", nb);
    if (nb) memcpy(dst->data, src->data, nb);
    return NNE_OK;
}

static nne_status sess_fail(nne_session *s, nne_status st) {
    if (s->budget.refused) {
        /* the failing call site said "cannot allocate"; say why */
        nne_error_prefix("memory limit of %zu bytes reached (%zu bytes in use, %zu more requested; the session "
                         "option memory_limit_bytes, nnedge --max-memory)",
                         s->budget.limit, s->budget.refused_used, s->budget.refused_bytes);
        s->budget.refused = 0;
        if (st != NNE_ERR_CANCELLED && st != NNE_ERR_LIMIT) st = NNE_ERR_OUT_OF_MEMORY;
    }
    snprintf(s->err, sizeof s->err, "%s", nne_last_error());
    return st;
}

/* The user's cancel callback, called between nodes and at Loop/Scan iterations. */
static nne_status check_cancel(const nne_session *s) {
    if (s->opt.cancel_fn && s->opt.cancel_fn(s->opt.cancel_user))
        return nne_error(NNE_ERR_CANCELLED, "cancelled by the session's cancel callback");
    return NNE_OK;
}

size_t nne_session_options_memory_limit(const nne_session_options *opt) {
    /* only the fields inside the caller's struct_size (abi.c); invalid options: the default */
    nne_session_options o = nne_session_options_default();
    if (nne_options_read(&o, sizeof o, opt, "nne_session_options") != NNE_OK) o = nne_session_options_default();
    if (o.memory_limit_bytes) return o.memory_limit_bytes == SIZE_MAX ? 0 : o.memory_limit_bytes;
    /* half of what the process may use at most: room for the model's weights,
     * the caller's buffers and a second session */
    size_t cap = nne_mem_cap();
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < cap) cap = rl.rlim_cur;
    if (getrlimit(RLIMIT_DATA, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < cap) cap = rl.rlim_cur;
    return cap / 2;
}

size_t nne_session_memory_bytes(const nne_session *s) { return s ? nne_budget_used(&s->budget) : 0; }
size_t nne_session_memory_peak(const nne_session *s) { return s ? s->budget.peak : 0; }

const char *nne_session_last_error(const nne_session *s) { return s ? s->err : "no session"; }

size_t nne_session_arena_bytes(const nne_session *s) { return s ? s->arena_size : 0; }

/* Values of g that the subgraphs of node n read (their OUTER links); out may be NULL to count. */
static int node_implicit_inputs(const nne_node *n, int *out) {
    int k = 0;
    for (int a = 0; a < n->n_attr; a++) {
        const nne_graph *sg = n->attrs[a].g;
        if (!sg) continue;
        for (int v = 0; v < sg->n_values; v++)
            if (sg->values[v].kind == NNE_VAL_OUTER) {
                if (out) out[k] = sg->values[v].outer;
                k++;
            }
    }
    return k;
}

static nne_status exec_init(exec *ex, nne_session *s, const nne_graph *g, exec *parent) {
    memset(ex, 0, sizeof *ex);
    ex->s = s;
    ex->g = g;
    ex->parent = parent;
    size_t nv = (size_t)g->n_values + 1;
    ex->vals = nne_calloc(nv, sizeof *ex->vals);
    ex->owned = nne_calloc(nv, 1);
    ex->uses = nne_calloc(nv, sizeof(int));
    ex->uses_left = nne_calloc(nv, sizeof(int));
    ex->impl_start = nne_calloc((size_t)g->n_nodes + 1, sizeof(int));
    int max_in = 1, n_impl = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].n_in > max_in) max_in = g->nodes[i].n_in;
        n_impl += node_implicit_inputs(&g->nodes[i], NULL);
    }
    ex->max_in = max_in;
    ex->ins = nne_calloc((size_t)max_in, sizeof *ex->ins);
    ex->impl = nne_calloc((size_t)n_impl + 1, sizeof(int));
    if (!ex->vals || !ex->owned || !ex->uses || !ex->uses_left || !ex->ins || !ex->impl_start || !ex->impl)
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory");
    for (int i = 0; i < g->n_nodes; i++) {
        const nne_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++)
            if (n->in[k] >= 0) ex->uses[n->in[k]]++;
        int *imp = ex->impl + ex->impl_start[i];
        int ni = node_implicit_inputs(n, imp);
        ex->impl_start[i + 1] = ex->impl_start[i] + ni;
        for (int k = 0; k < ni; k++) ex->uses[imp[k]]++;
    }
    for (int i = 0; i < g->n_outputs; i++) ex->uses[g->outputs[i]]++;
    return NNE_OK;
}

static void exec_release_dynamic(exec *ex) {
    for (int v = 0; v < ex->g->n_values; v++)
        if (ex->owned[v]) {
            value_free(&ex->vals[v]);
            ex->owned[v] = 0;
        }
}

static void exec_free(exec *ex) {
    if (ex->vals && ex->owned) exec_release_dynamic(ex); /* owned is NULL when exec_init ran out of memory */
    nne_free(ex->vals);
    nne_free(ex->owned);
    nne_free(ex->uses);
    nne_free(ex->uses_left);
    nne_free((void *)ex->ins);
    nne_free(ex->impl_start);
    nne_free(ex->impl);
    memset(ex, 0, sizeof *ex);
}

/* ---------------------------------------------------------- ctx API -- */

int nne_ctx_shape_only(const nne_op_ctx *ctx) { return ctx->shape_only; }
nne_status nne_ctx_check_cancel(nne_op_ctx *ctx) { return check_cancel(ctx->ex->s); }
nne_status nne_ctx_loop_step(nne_op_ctx *ctx, int64_t trip) {
    nne_session *s = ctx->ex->s;
    int64_t cap = s->opt.max_loop_iterations == 0 ? NNE_DEFAULT_MAX_LOOP_ITERATIONS : s->opt.max_loop_iterations;
    if (cap > 0 && s->loop_iters >= cap)
        return nne_ctx_fail(ctx, NNE_ERR_LIMIT,
                            "the run reached the Loop iteration cap of %lld (all Loops together; this one's trip "
                            "count %lld%s); if it is meant to run longer, raise the session option "
                            "max_loop_iterations (nnedge --max-loop-iterations)",
                            (long long)cap, (long long)trip, trip == INT64_MAX ? ": none, the condition decides" : "");
    s->loop_iters++;
    return check_cancel(s);
}
int nne_ctx_opset(const nne_op_ctx *ctx) { return ctx->node->opset; }
const char *nne_ctx_node_name(const nne_op_ctx *ctx) { return ctx->node->name; }
int nne_ctx_num_inputs(const nne_op_ctx *ctx) { return ctx->node->n_in; }
int nne_ctx_num_outputs(const nne_op_ctx *ctx) { return ctx->node->n_out; }

const nne_tensor *nne_ctx_input(const nne_op_ctx *ctx, int i) {
    if (i < 0 || i >= ctx->node->n_in) return NULL;
    return ctx->ins[i];
}

int nne_ctx_has_output(const nne_op_ctx *ctx, int i) {
    if (i < 0 || i >= ctx->node->n_out) return 0;
    int v = ctx->node->out[i];
    return v >= 0 && ctx->ex->uses[v] > 0;
}

nne_status nne_ctx_fail(nne_op_ctx *ctx, nne_status st, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nne_error(st, "node \"%s\" (%s): %s", ctx->node->name, ctx->node->op_type, msg);
}

nne_status nne_ctx_need_data(nne_op_ctx *ctx, const nne_tensor *t) {
    if (t && !t->data) return NNE_DYNAMIC;
    return NNE_OK;
}

nne_status nne_ctx_axis(nne_op_ctx *ctx, int64_t axis, int rank, int *out) {
    int64_t a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank || (rank == 0 && a != 0))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axis %lld is out of range for rank %d", (long long)axis, rank);
    *out = (int)a;
    return NNE_OK;
}

nne_status nne_ctx_output(nne_op_ctx *ctx, int i, nne_dtype dt, int ndim, const int64_t *dims, nne_tensor **out) {
    *out = NULL;
    if (i < 0 || i >= ctx->node->n_out)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "the node has %d outputs; output %d is required",
                            ctx->node->n_out, i + 1);
    if (ndim < 0 || ndim > NNE_MAX_DIMS)
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output rank %d exceeds %d", ndim, NNE_MAX_DIMS);
    if (!nne_dtype_size(dt))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output dtype %s is not supported", nne_dtype_name(dt));
    size_t nbytes;
    if (!nne_dims_nbytes(ndim, dims, nne_dtype_size(dt), &nbytes, NULL)) {
        char b[256];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "output %d would have invalid shape %s", i,
                            nne_dims_str(ndim, dims, b, sizeof b));
    }
    if (nbytes > nne_mem_cap()) {
        char b[256];
        return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "output %d of shape %s needs %zu bytes, more than this machine has",
                            i, nne_dims_str(ndim, dims, b, sizeof b), nbytes);
    }
    int v = ctx->node->out[i];
    exec *ex = ctx->ex;
    nne_session *s = ex->s;
    nne_tensor *t = &ex->vals[v];
    if (ctx->shape_only) {
        /* in shape mode the main exec's shape table is the target */
        t = &s->shape[v];
        t->dtype = dt;
        t->ndim = ndim;
        for (int d = 0; d < ndim; d++) t->dims[d] = dims[d];
        t->data = NULL;
        *out = t;
        return NNE_OK;
    }
    if (ctx->policy == POL_PLAN && s->vstate[v] == VS_STATIC) {
        const nne_tensor *p = &s->shape[v];
        int same = p->dtype == dt && p->ndim == ndim;
        for (int d = 0; same && d < ndim; d++) same = p->dims[d] == dims[d];
        if (!same) {
            char a[256], b[256];
            return nne_ctx_fail(ctx, NNE_ERR_INTERNAL, "output %d shape %s at run time differs from planned %s", i,
                                nne_dims_str(ndim, dims, a, sizeof a), nne_dims_str(p->ndim, p->dims, b, sizeof b));
        }
        t->dtype = dt;
        t->ndim = ndim;
        for (int d = 0; d < ndim; d++) t->dims[d] = dims[d];
        t->data = nbytes ? s->arena + s->offset[v] : g_empty;
        *out = t;
        return NNE_OK;
    }
    if (ex->owned[v]) { /* redeclared: replace */
        value_free(t);
        ex->owned[v] = 0;
    }
    t->dtype = dt;
    t->ndim = ndim;
    for (int d = 0; d < ndim; d++) t->dims[d] = dims[d];
    if (nbytes) {
        t->data = nne_aligned_alloc(nbytes);
        if (!t->data)
            return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes for output %d", nbytes, i);
        ex->owned[v] = 1;
    } else {
        t->data = g_empty;
    }
    *out = t;
    return NNE_OK;
}

nne_status nne_ctx_output_seq(nne_op_ctx *ctx, int i, int n, nne_tensor *items) {
    nne_seq *q = NULL;
    nne_status st = NNE_OK;
    if (ctx->shape_only) {
        st = NNE_DYNAMIC;
    } else if (i < 0 || i >= ctx->node->n_out) {
        st = nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "the node has %d outputs; output %d is required",
                          ctx->node->n_out, i + 1);
    } else if (!(q = nne_calloc(1, sizeof *q + (size_t)(n > 0 ? n : 0) * sizeof(nne_tensor)))) {
        st = nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (st != NNE_OK) {
        for (int k = 0; k < n; k++) value_free(&items[k]);
        return st;
    }
    q->n = n;
    for (int k = 0; k < n; k++) q->items[k] = items[k];
    int v = ctx->node->out[i];
    exec *ex = ctx->ex;
    if (ex->owned[v]) value_free(&ex->vals[v]);
    memset(&ex->vals[v], 0, sizeof ex->vals[v]);
    ex->vals[v].dtype = NNE_DTYPE_SEQUENCE;
    ex->vals[v].data = q;
    ex->owned[v] = 1;
    return NNE_OK;
}

nne_status nne_ctx_output_like(nne_op_ctx *ctx, int i, const nne_tensor *t, nne_tensor **out) {
    int64_t dims[NNE_MAX_DIMS];
    memcpy(dims, t->dims, sizeof dims);
    return nne_ctx_output(ctx, i, t->dtype, t->ndim, dims, out);
}

void *nne_ctx_scratch(nne_op_ctx *ctx, size_t bytes) {
    if (ctx->shape_only) {
        if (bytes > ctx->scratch_req) ctx->scratch_req = bytes;
        return NULL;
    }
    nne_session *s = ctx->ex->s;
    if (ctx->policy == POL_PLAN) {
        if (bytes > s->scratch_cap) {
            /* only nodes shaped at run time get here (a planned size was exceeded) */
            uint8_t *p = nne_aligned_alloc(bytes);
            if (!p) return NULL;
            nne_aligned_free(s->scratch);
            s->scratch = p;
            s->scratch_cap = bytes;
        }
        return bytes ? s->scratch : g_empty;
    }
    nne_aligned_free(ctx->scratch_mem);
    ctx->scratch_mem = nne_aligned_alloc(bytes ? bytes : 1);
    return ctx->scratch_mem;
}

double nne_ctx_rand(nne_op_ctx *ctx) {
    uint64_t *x = &ctx->ex->s->rng;
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return (double)((*x * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

/* attributes
 * An accessor given an attribute of another type (a FLOATS kernel_shape, say)
 * returns the default as if the attribute were absent and records the
 * mismatch; run_node then fails the node naming both types, whatever the op
 * made of the default. An INT where a FLOAT is expected is read as a float. */
static const nne_attr *find_attr(const nne_op_ctx *ctx, const char *name) { return nne_node_attr(ctx->node, name); }

static const nne_attr *typed_attr(const nne_op_ctx *ctx, const char *name, int type) {
    const nne_attr *a = find_attr(ctx, name);
    if (!a || a->type == type || (type == NNE_ATTR_FLOAT && a->type == NNE_ATTR_INT)) return a;
    nne_op_ctx *c = (nne_op_ctx *)ctx; /* accessors take const ctx; the record is bookkeeping */
    if (!c->bad_attr) {
        c->bad_attr = a;
        c->bad_expect = type;
    }
    return NULL;
}

static const char *attr_type_name(int t) {
    static const char *const names[] = {"UNDEFINED", "FLOAT", "INT", "STRING", "TENSOR", "GRAPH", "FLOATS", "INTS",
                                        "STRINGS", "TENSORS", "GRAPHS", "SPARSE_TENSOR", "SPARSE_TENSORS",
                                        "TYPE_PROTO", "TYPE_PROTOS"};
    return t >= 0 && t < (int)NNE_ARRAY_LEN(names) ? names[t] : "unknown";
}

int nne_attr_has(const nne_op_ctx *ctx, const char *name) { return find_attr(ctx, name) != NULL; }
int64_t nne_attr_i(const nne_op_ctx *ctx, const char *name, int64_t def) {
    const nne_attr *a = typed_attr(ctx, name, NNE_ATTR_INT);
    return a ? a->i : def;
}
float nne_attr_f(const nne_op_ctx *ctx, const char *name, float def) {
    const nne_attr *a = typed_attr(ctx, name, NNE_ATTR_FLOAT);
    return a ? (a->type == NNE_ATTR_INT ? (float)a->i : a->f) : def;
}
const char *nne_attr_s(const nne_op_ctx *ctx, const char *name, const char *def) {
    const nne_attr *a = typed_attr(ctx, name, NNE_ATTR_STRING);
    return a && a->s ? a->s : def;
}
int nne_attr_ints(const nne_op_ctx *ctx, const char *name, const int64_t **vals) {
    const nne_attr *a = typed_attr(ctx, name, NNE_ATTR_INTS);
    *vals = NULL;
    if (!a) return -1;
    *vals = a->ints;
    return a->ints ? a->n : 0;
}
int nne_attr_floats(const nne_op_ctx *ctx, const char *name, const float **vals) {
    const nne_attr *a = typed_attr(ctx, name, NNE_ATTR_FLOATS);
    *vals = NULL;
    if (!a) return -1;
    *vals = a->floats;
    return a->floats ? a->n : 0;
}
int nne_attr_strings(const nne_op_ctx *ctx, const char *name, const char *const **vals) {
    const nne_attr *a = typed_attr(ctx, name, NNE_ATTR_STRINGS);
    *vals = NULL;
    if (!a) return -1;
    *vals = (const char *const *)a->strings;
    return a->strings ? a->n : 0;
}
const nne_tensor *nne_attr_t(const nne_op_ctx *ctx, const char *name) {
    const nne_attr *a = typed_attr(ctx, name, NNE_ATTR_TENSOR);
    return a ? a->t : NULL;
}
const struct nne_graph *nne_attr_g(const nne_op_ctx *ctx, const char *name) {
    const nne_attr *a = typed_attr(ctx, name, NNE_ATTR_GRAPH);
    return a ? a->g : NULL;
}
int nne_graph_num_inputs(const struct nne_graph *g) { return g->n_inputs; }
int nne_graph_num_outputs(const struct nne_graph *g) { return g->n_outputs; }

/* ------------------------------------------------------- node running -- */

static nne_status run_node(exec *ex, int ni, int shape_only, int policy, const nne_tensor *shape_tab) {
    const nne_node *n = &ex->g->nodes[ni];
    if (!n->op)
        return nne_error(NNE_ERR_UNSUPPORTED, "node \"%s\": op %s%s%s (opset %d) is not supported", n->name,
                         n->domain, n->domain[0] ? ":" : "", n->op_type, n->opset);
    for (int k = 0; k < n->n_in; k++) {
        int v = n->in[k];
        ex->ins[k] = v < 0 ? NULL : shape_tab ? &shape_tab[v] : &ex->vals[v];
    }
    nne_op_ctx ctx = {.ex = ex, .node_idx = ni, .node = n, .shape_only = shape_only, .policy = policy,
                      .ins = ex->ins};
    nne_status st = n->op->run(&ctx);
    if (ctx.scratch_mem) nne_aligned_free(ctx.scratch_mem);
    if (ctx.bad_attr)
        return nne_error(NNE_ERR_INVALID_ARG, "node \"%s\" (%s): attribute %s has type %s, expected %s", n->name,
                         n->op_type, ctx.bad_attr->name, attr_type_name(ctx.bad_attr->type),
                         attr_type_name(ctx.bad_expect));
    if (shape_only && st == NNE_OK) {
        if (ctx.scratch_req > ex->s->scratch_cap) {
            nne_aligned_free(ex->s->scratch);
            ex->s->scratch = nne_aligned_alloc(ctx.scratch_req);
            ex->s->scratch_cap = ex->s->scratch ? ctx.scratch_req : 0;
            if (!ex->s->scratch)
                return nne_error(NNE_ERR_OUT_OF_MEMORY, "node \"%s\" (%s): cannot allocate %zu bytes of scratch",
                                 n->name, n->op_type, ctx.scratch_req);
        }
    }
    if (st == NNE_OK && !shape_only) {
        /* every output must have been declared */
        for (int o = 0; o < n->n_out; o++) {
            int v = n->out[o];
            if (v >= 0 && !ex->vals[v].data)
                return nne_error(NNE_ERR_INVALID_ARG,
                                 "node \"%s\" (%s): the op gave no output %d of the node's %d; check the node "
                                 "against the op's definition", n->name, n->op_type, o, n->n_out);
        }
    }
    return st;
}

static void release_one(exec *ex, int v) {
    if (v >= 0 && --ex->uses_left[v] == 0 && ex->owned[v]) {
        value_free(&ex->vals[v]);
        ex->owned[v] = 0;
    }
}

/* Release dynamic inputs (explicit and through subgraphs) of node ni whose last use this was. */
static void release_inputs(exec *ex, int ni) {
    const nne_node *n = &ex->g->nodes[ni];
    for (int k = 0; k < n->n_in; k++) release_one(ex, n->in[k]);
    for (int k = ex->impl_start[ni]; k < ex->impl_start[ni + 1]; k++) release_one(ex, ex->impl[k]);
}

/* Bind the views of an exec: constants and outer values. */
static void bind_static_views(exec *ex) {
    const nne_graph *g = ex->g;
    for (int v = 0; v < g->n_values; v++) {
        const nne_value *val = &g->values[v];
        if (val->kind == NNE_VAL_CONST) ex->vals[v] = val->init;
        else if (val->kind == NNE_VAL_OUTER && ex->parent) ex->vals[v] = ex->parent->vals[val->outer];
        if (ex->vals[v].data == NULL && ex->vals[v].ndim >= 0 && val->kind == NNE_VAL_CONST &&
            nne_tensor_nbytes(&ex->vals[v]) == 0)
            ex->vals[v].data = g_empty;
    }
}

nne_status nne_ctx_run_graph(nne_op_ctx *ctx, const struct nne_graph *g, int n_in, const nne_tensor *ins,
                             int n_out, nne_tensor *outs) {
    if (n_in > g->n_inputs)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "subgraph \"%s\" takes %d inputs, got %d", g->name ? g->name : "",
                            g->n_inputs, n_in);
    if (n_out != g->n_outputs)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "subgraph \"%s\" has %d outputs, expected %d",
                            g->name ? g->name : "", g->n_outputs, n_out);
    exec sub;
    nne_status st = exec_init(&sub, ctx->ex->s, g, ctx->ex);
    for (int i = 0; i < n_out; i++) memset(&outs[i], 0, sizeof outs[i]);
    if (st != NNE_OK) goto done;
    bind_static_views(&sub);
    for (int i = 0; i < n_in; i++) {
        sub.vals[g->inputs[i]] = ins[i];
        if (!sub.vals[g->inputs[i]].data) sub.vals[g->inputs[i]].data = g_empty;
    }
    for (int i = n_in; i < g->n_inputs; i++) {
        const nne_value *v = &g->values[g->inputs[i]];
        if (v->kind != NNE_VAL_CONST) {
            st = nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "subgraph input \"%s\" has no value", v->name);
            goto done;
        }
    }
    memcpy(sub.uses_left, sub.uses, (size_t)g->n_values * sizeof(int));
    for (int i = 0; i < g->n_nodes; i++) {
        if ((st = check_cancel(ctx->ex->s)) != NNE_OK) goto done;
        st = run_node(&sub, i, 0, POL_MALLOC, NULL);
        if (st != NNE_OK) goto done;
        release_inputs(&sub, i);
    }
    for (int i = 0; i < n_out; i++) {
        int v = g->outputs[i];
        nne_tensor *t = &sub.vals[v];
        outs[i] = *t;
        outs[i].data = NULL;
        if (sub.owned[v]) { /* hand the buffer over */
            outs[i].data = t->data;
            sub.owned[v] = 0;
            t->data = NULL;
            /* a value returned twice is copied for its later uses */
            for (int j = i + 1; j < n_out; j++)
                if (g->outputs[j] == v) {
                    sub.vals[v] = outs[i];
                    break;
                }
            continue;
        }
        const nne_tensor *src = t->data ? t : NULL;
        for (int j = 0; j < i && !src; j++)
            if (g->outputs[j] == v) src = &outs[j];
        if (!src) {
            st = nne_error(NNE_ERR_INTERNAL, "subgraph output %d has no value", i);
            goto done;
        }
        if ((st = nne_tensor_clone(src, &outs[i])) != NNE_OK) goto done;
    }
done:
    exec_free(&sub);
    if (st != NNE_OK) {
        for (int i = 0; i < n_out; i++) value_free(&outs[i]);
    }
    return st;
}

void nne_tensor_free_data(nne_tensor *t) {
    if (t) value_free(t);
}

/* ------------------------------------------------------------ session -- */

nne_status nne_session_create(const nne_model *m, const nne_session_options *opt, nne_session **out) {
    if (!m || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_create: NULL argument");
    *out = NULL;
    nne_session_options o = nne_session_options_default();
    nne_status st = nne_options_read(&o, sizeof o, opt, "nne_session_options");
    if (st != NNE_OK) return st;
    nne_status wst = nne_model_weights_ready(m); /* misaligned mapped weights get their aligned copy */
    if (wst != NNE_OK) return wst;
    nne_session *s = nne_calloc(1, sizeof *s);
    if (!s) return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory");
    s->m = m;
    s->g = m->graph;
    nne_model_session_ref(m, 1); /* nne_model_optimize refuses while sessions exist */
    s->opt = o;
    s->budget.limit = nne_session_options_memory_limit(&s->opt);
    *out = s;
    return NNE_OK;
}

static void unprepare(nne_session *s) {
    if (s->folded)
        for (int v = 0; v < s->nv; v++)
            if (s->folded[v]) value_free(&s->shape[v]);
    exec_free(&s->main);
    nne_free(s->vstate);
    nne_free(s->shape);
    nne_free(s->folded);
    nne_free(s->node_mode);
    nne_free(s->offset);
    nne_free(s->life_first);
    nne_free(s->life_last);
    s->life_first = s->life_last = NULL;
    nne_free(s->bound);
    nne_aligned_free(s->arena);
    nne_aligned_free(s->scratch);
    s->vstate = NULL;
    s->shape = NULL;
    s->folded = NULL;
    s->node_mode = NULL;
    s->offset = NULL;
    s->bound = NULL;
    s->arena = NULL;
    s->scratch = NULL;
    s->arena_size = s->scratch_cap = 0;
    s->prepared = 0;
}

void nne_session_destroy(nne_session *s) {
    if (!s) return;
    unprepare(s);
    nne_model_session_ref(s->m, -1);
    nne_free(s);
}

typedef struct plan_buf {
    int v;
    size_t size;
    int first, last;
    size_t off;
} plan_buf;

static int cmp_size_desc(const void *a, const void *b) {
    const plan_buf *x = a, *y = b;
    if (x->size != y->size) return x->size < y->size ? 1 : -1;
    return x->v - y->v;
}
static int cmp_off(const void *a, const void *b) {
    const plan_buf *const *x = a, *const *y = b;
    return (*x)->off < (*y)->off ? -1 : (*x)->off > (*y)->off;
}

/* Index of the placed buffers by lifetime, so that placing a buffer looks
 * only at the placed buffers whose lifetimes intersect its own (a few in a
 * long chain) instead of every placed buffer. Two segment trees over the
 * node indices: `cover` keeps a buffer at the O(log n) nodes that cover its
 * lifetime (the buffers alive at time t are on the path from leaf t to the
 * root), `start` keeps it at every ancestor of the leaf of its first use
 * (the buffers that start inside a range are at the range's O(log n)
 * canonical nodes). A lifetime [f, l] meets the buffers alive at f plus
 * those that start in (f, l]; the two sets are disjoint. */
typedef struct plan_index {
    int leaves;          /* power of two > last time */
    int *cover, *start;  /* list heads per tree node (2 * leaves), -1: empty */
    int *next, *buf;     /* entry pool: linked lists */
    int used, cap;
    int *fw_first, *fw_last;  /* Fenwick counts of placed lifetimes by first / last time */
    size_t *sky, *sky_tag;    /* max end offset over time (segment tree: subtree max, whole-range max) */
} plan_index;

/* With more placed buffers alive than this, a buffer goes on top of them
 * (the skyline) instead of into the lowest gap: finding the gap means
 * sorting them all, and only graphs with thousands of tensors alive at once
 * (hostile ones) get there; first fit is kept for everything real. */
#define PLAN_FIRST_FIT_MAX 1024

static void fw_add(int *fw, int n, int i) {
    for (i++; i <= n; i += i & -i) fw[i]++;
}
static int fw_sum(const int *fw, int i) { /* entries at positions <= i */
    int c = 0;
    for (i++; i > 0; i -= i & -i) c += fw[i];
    return c;
}
static void sky_update(plan_index *x, int node, int nl, int nr, int l, int r, size_t v) {
    if (r < nl || nr < l) return;
    if (x->sky[node] < v) x->sky[node] = v;
    if (l <= nl && nr <= r) {
        if (x->sky_tag[node] < v) x->sky_tag[node] = v;
        return;
    }
    int mid = nl + (nr - nl) / 2;
    sky_update(x, 2 * node, nl, mid, l, r, v);
    sky_update(x, 2 * node + 1, mid + 1, nr, l, r, v);
}
static size_t sky_query(const plan_index *x, int node, int nl, int nr, int l, int r) {
    if (r < nl || nr < l) return 0;
    if (l <= nl && nr <= r) return x->sky[node];
    int mid = nl + (nr - nl) / 2;
    size_t a = sky_query(x, 2 * node, nl, mid, l, r), b = sky_query(x, 2 * node + 1, mid + 1, nr, l, r);
    size_t m = a > b ? a : b;
    return m > x->sky_tag[node] ? m : x->sky_tag[node];
}

static void pix_push(plan_index *x, int *head, int node, int b) {
    x->buf[x->used] = b;
    x->next[x->used] = head[node];
    head[node] = x->used++;
}

static void pix_insert(plan_index *x, int b, int first, int last) {
    for (int n = first + x->leaves; n >= 1; n >>= 1) pix_push(x, x->start, n, b);
    for (int lo = first + x->leaves, hi = last + x->leaves + 1; lo < hi; lo >>= 1, hi >>= 1) {
        if (lo & 1) pix_push(x, x->cover, lo++, b);
        if (hi & 1) pix_push(x, x->cover, --hi, b);
    }
}

/* Appends to out the buffers whose lifetimes meet [first, last]; returns the count. */
static int pix_query(const plan_index *x, int first, int last, int *out) {
    int k = 0;
    for (int n = first + x->leaves; n >= 1; n >>= 1)
        for (int e = x->cover[n]; e >= 0; e = x->next[e]) out[k++] = x->buf[e];
    for (int lo = first + 1 + x->leaves, hi = last + x->leaves + 1; lo < hi; lo >>= 1, hi >>= 1) {
        if (lo & 1)
            for (int e = x->start[lo++]; e >= 0; e = x->next[e]) out[k++] = x->buf[e];
        if (hi & 1)
            for (int e = x->start[--hi]; e >= 0; e = x->next[e]) out[k++] = x->buf[e];
    }
    return k;
}

/* Greedy placement: largest first, lowest gap among lifetime-overlapping
 * buffers. O(n log n) plus, per buffer, the sort of the (at most
 * PLAN_FIRST_FIT_MAX) buffers alive with it. */
static nne_status plan_arena(nne_session *s) {
    const nne_graph *g = s->g;
    int nb = 0;
    plan_index px = {0};
    int *hits = NULL;
    plan_buf *bufs = nne_calloc((size_t)s->nv + 1, sizeof *bufs);
    plan_buf **placed = nne_calloc((size_t)s->nv + 1, sizeof *placed);
    if (!bufs || !placed) goto oom;
    for (int v = 0; v < s->nv; v++) {
        if (s->vstate[v] != VS_STATIC) continue;
        size_t sz = nne_tensor_nbytes(&s->shape[v]);
        bufs[nb].v = v;
        bufs[nb].size = nne_size_align64(sz);
        bufs[nb].first = g->values[v].producer;
        bufs[nb].last = g->values[v].is_output ? s->nn : g->values[v].producer;
        nb++;
    }
    /* last uses */
    int *idx_of = nne_calloc((size_t)s->nv + 1, sizeof(int));
    if (!idx_of) goto oom;
    for (int v = 0; v < s->nv; v++) idx_of[v] = -1;
    for (int b = 0; b < nb; b++) idx_of[bufs[b].v] = b;
    for (int i = 0; i < s->nn; i++) {
        const nne_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v >= 0 && idx_of[v] >= 0 && bufs[idx_of[v]].last < i) bufs[idx_of[v]].last = i;
        }
        for (int k = s->main.impl_start[i]; k < s->main.impl_start[i + 1]; k++) {
            int v = s->main.impl[k];
            if (idx_of[v] >= 0 && bufs[idx_of[v]].last < i) bufs[idx_of[v]].last = i;
        }
    }
    nne_free(idx_of);
    qsort(bufs, (size_t)nb, sizeof *bufs, cmp_size_desc);
    int levels = 1;
    px.leaves = 1;
    while (px.leaves <= s->nn) px.leaves <<= 1, levels++;
    px.cap = nb * 3 * levels + 1;
    px.cover = nne_malloc((size_t)px.leaves * 2 * sizeof(int));
    px.start = nne_malloc((size_t)px.leaves * 2 * sizeof(int));
    px.next = nne_calloc((size_t)px.cap, sizeof(int));
    px.buf = nne_calloc((size_t)px.cap, sizeof(int));
    hits = nne_calloc((size_t)nb + 1, sizeof(int));
    px.fw_first = nne_calloc((size_t)px.leaves + 1, sizeof(int));
    px.fw_last = nne_calloc((size_t)px.leaves + 1, sizeof(int));
    px.sky = nne_calloc((size_t)px.leaves * 2, sizeof(size_t));
    px.sky_tag = nne_calloc((size_t)px.leaves * 2, sizeof(size_t));
    if (!px.cover || !px.start || !px.next || !px.buf || !hits || !px.fw_first || !px.fw_last || !px.sky ||
        !px.sky_tag)
        goto oom;
    for (int n = 0; n < 2 * px.leaves; n++) px.cover[n] = px.start[n] = -1;
    size_t total = 0;
    for (int b = 0; b < nb; b++) {
        plan_buf *cur = &bufs[b];
        if (cur->first < 0) cur->first = 0;
        if (cur->last < cur->first) cur->last = cur->first;
        /* placed buffers alive at the same time: all that start by cur's
         * end less those that ended before its start */
        int live = fw_sum(px.fw_first, cur->last) - fw_sum(px.fw_last, cur->first - 1);
        size_t off = 0;
        if (live > PLAN_FIRST_FIT_MAX) {
            off = sky_query(&px, 1, 0, px.leaves - 1, cur->first, cur->last);
        } else {
            /* those buffers sorted by offset; the lowest gap that fits */
            int np = pix_query(&px, cur->first, cur->last, hits);
            for (int p = 0; p < np; p++) placed[p] = &bufs[hits[p]];
            qsort(placed, (size_t)np, sizeof *placed, cmp_off);
            for (int p = 0; p < np; p++) {
                plan_buf *o = placed[p];
                if (o->off >= off + cur->size) break; /* gap before o fits */
                if (o->off + o->size > off) off = o->off + o->size;
            }
        }
        cur->off = off;
        /* a zero-sized buffer never blocks another */
        if (cur->size) {
            pix_insert(&px, b, cur->first, cur->last);
            fw_add(px.fw_first, px.leaves, cur->first);
            fw_add(px.fw_last, px.leaves, cur->last);
            sky_update(&px, 1, 0, px.leaves - 1, cur->first, cur->last, off + cur->size);
        }
        if (off + cur->size > total) total = off + cur->size;
    }
    nne_free(px.cover);
    nne_free(px.start);
    nne_free(px.next);
    nne_free(px.buf);
    nne_free(hits);
    nne_free(px.fw_first);
    nne_free(px.fw_last);
    nne_free(px.sky);
    nne_free(px.sky_tag);
    px.cover = px.start = px.next = px.buf = hits = px.fw_first = px.fw_last = NULL;
    px.sky = px.sky_tag = NULL; /* the oom path below frees them again */
    s->life_first = nne_calloc((size_t)s->nv + 1, sizeof(int));
    s->life_last = nne_calloc((size_t)s->nv + 1, sizeof(int));
    if (!s->life_first || !s->life_last) goto oom;
    for (int b = 0; b < nb; b++) {
        s->offset[bufs[b].v] = bufs[b].off;
        s->life_first[bufs[b].v] = bufs[b].first;
        s->life_last[bufs[b].v] = bufs[b].last;
    }
    nne_free(bufs);
    nne_free(placed);
    if (s->opt.arena_limit_bytes && total > s->opt.arena_limit_bytes)
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: the plan needs %zu arena bytes, over the limit of %zu",
                         total, s->opt.arena_limit_bytes);
    s->arena_size = total;
    s->arena = nne_aligned_alloc(total ? total : NNE_ALIGN);
    if (!s->arena) return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: cannot allocate a %zu-byte arena", total);
    return NNE_OK;
oom:
    nne_free(bufs);
    nne_free(placed);
    nne_free(px.cover);
    nne_free(px.start);
    nne_free(px.next);
    nne_free(px.buf);
    nne_free(hits);
    nne_free(px.fw_first);
    nne_free(px.fw_last);
    nne_free(px.sky);
    nne_free(px.sky_tag);
    return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory");
}

static nne_status seed_input(nne_session *s, int v, int32_t n, const char *const *names, const nne_tensor *shapes) {
    const nne_value *val = &s->g->values[v];
    nne_tensor *t = &s->shape[v];
    const nne_tensor *given = NULL;
    for (int i = 0; i < n; i++)
        if (names && names[i] && strcmp(names[i], val->name) == 0) given = &shapes[i];
    if (val->vtype != NNE_VT_TENSOR)
        return nne_error(NNE_ERR_UNSUPPORTED, "input \"%s\" is a %s, which nnedge does not support yet", val->name,
                         val->vtype == NNE_VT_SEQUENCE ? "sequence" : val->vtype == NNE_VT_OPTIONAL ? "optional" : "map");
    if (given) {
        if (given->ndim < 0 || given->ndim > NNE_MAX_DIMS)
            return nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": rank %d is out of range", val->name, given->ndim);
        if (val->dtype != NNE_DTYPE_UNDEFINED && given->dtype != val->dtype)
            return nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": expected dtype %s, got %s", val->name,
                             nne_dtype_name(val->dtype), nne_dtype_name(given->dtype));
        if (val->ndim >= 0 && given->ndim != val->ndim) {
            char a[256];
            return nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": expected rank %d, got rank %d (shape %s)", val->name,
                             val->ndim, given->ndim, nne_dims_str(given->ndim, given->dims, a, sizeof a));
        }
        for (int d = 0; d < given->ndim; d++) {
            if (given->dims[d] < 0)
                return nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": dim %d is negative", val->name, d);
            if (val->ndim >= 0 && val->dims[d] >= 0 && val->dims[d] != given->dims[d] && !val->dim_names[d]) {
                char a[256], b[256];
                return nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": expected shape %s, got %s", val->name,
                                 nne_dims_str(val->ndim, val->dims, a, sizeof a),
                                 nne_dims_str(given->ndim, given->dims, b, sizeof b));
            }
        }
        if (!nne_dtype_size(given->dtype))
            return nne_error(NNE_ERR_UNSUPPORTED, "input \"%s\": dtype %s is not supported", val->name,
                             nne_dtype_name(given->dtype));
        t->dtype = given->dtype;
        t->ndim = given->ndim;
        memcpy(t->dims, given->dims, sizeof t->dims);
    } else {
        if (val->ndim < 0)
            return nne_error(NNE_ERR_INVALID_ARG, "input \"%s\" has no declared shape; give its shape", val->name);
        if (!nne_dtype_size(val->dtype))
            return nne_error(NNE_ERR_UNSUPPORTED, "input \"%s\": dtype %s is not supported", val->name,
                             nne_dtype_name(val->dtype));
        t->dtype = val->dtype;
        t->ndim = val->ndim;
        for (int d = 0; d < val->ndim; d++) t->dims[d] = val->dims[d] < 0 ? 1 : val->dims[d];
    }
    if (nne_shape_check("input", t->dtype, t->ndim, t->dims, NULL) != NNE_OK) {
        nne_error_prefix("\"%s\"", val->name);
        return NNE_ERR_INVALID_ARG;
    }
    t->data = NULL;
    s->vstate[v] = VS_INPUT;
    return NNE_OK;
}

static nne_status prepare(nne_session *s, int32_t n, const char *const *names, const nne_tensor *shapes);

nne_status nne_session_prepare(nne_session *s, int32_t n, const char *const *names, const nne_tensor *shapes) {
    if (!s) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_prepare: NULL session");
    s->budget.refused = 0;
    s->loop_iters = 0;
    nne_budget *prev = nne_budget_enter(&s->budget);
    nne_status st = prepare(s, n, names, shapes);
    nne_budget_leave(prev);
    return st;
}

static nne_status prepare(nne_session *s, int32_t n, const char *const *names, const nne_tensor *shapes) {
    unprepare(s);
    const nne_graph *g = s->g;
    s->nv = g->n_values;
    s->nn = g->n_nodes;
    s->rng = 0x853c49e6748fea9bull;
    size_t nv = (size_t)s->nv + 1;
    s->vstate = nne_calloc(nv, 1);
    s->shape = nne_calloc(nv, sizeof *s->shape);
    s->folded = nne_calloc(nv, 1);
    s->node_mode = nne_calloc((size_t)s->nn + 1, 1);
    s->offset = nne_calloc(nv, sizeof *s->offset);
    s->bound = nne_calloc(nv, 1);
    nne_status st;
    if (!s->vstate || !s->shape || !s->folded || !s->node_mode || !s->offset || !s->bound) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory");
        goto fail;
    }
    for (int i = 0; i < n; i++) {
        int v = names && names[i] ? nne_graph_find(g, names[i]) : -1;
        if (v < 0 || g->values[v].kind != NNE_VAL_INPUT) {
            st = nne_error(NNE_ERR_INVALID_ARG, "the model has no input named \"%s\"",
                           names && names[i] ? names[i] : "(null)");
            goto fail;
        }
    }
    for (int v = 0; v < s->nv; v++) {
        const nne_value *val = &g->values[v];
        if (val->kind == NNE_VAL_CONST) {
            s->shape[v] = val->init;
            if (!s->shape[v].data) s->shape[v].data = g_empty;
            s->vstate[v] = VS_CONST;
        } else if (val->kind == NNE_VAL_INPUT) {
            if ((st = seed_input(s, v, n, names, shapes)) != NNE_OK) goto fail;
        }
    }
    if ((st = exec_init(&s->main, s, g, NULL)) != NNE_OK) goto fail;
    for (int i = 0; i < s->nn; i++) {
        const nne_node *nd = &g->nodes[i];
        if ((st = check_cancel(s)) != NNE_OK) goto fail;
        if (!nd->op) {
            st = nne_error(NNE_ERR_UNSUPPORTED, "node \"%s\": op %s%s%s (opset %d) is not supported", nd->name,
                           nd->domain, nd->domain[0] ? ":" : "", nd->op_type, nd->opset);
            goto fail;
        }
        int any_dyn = 0, all_const = 1, all_shaped = 1;
        for (int k = 0; k < nd->n_in; k++) {
            int v = nd->in[k];
            if (v < 0) continue;
            if (s->vstate[v] == VS_DYNAMIC || s->vstate[v] == VS_UNKNOWN) any_dyn = 1, all_shaped = 0;
            if (s->vstate[v] != VS_CONST) all_const = 0;
        }
        for (int k = s->main.impl_start[i]; k < s->main.impl_start[i + 1]; k++)
            if (s->vstate[s->main.impl[k]] == VS_DYNAMIC) any_dyn = 1;
        unsigned fl = nd->op->flags;
        int fold = !(fl & (NNE_OPF_NONDETERMINISTIC | NNE_OPF_SUBGRAPH | NNE_OPF_NO_FOLD)) &&
                   (all_const || ((fl & NNE_OPF_SHAPE_ONLY) && all_shaped));
        if (any_dyn && !fold) {
            s->node_mode[i] = NM_DYNAMIC;
        } else if (fold) {
            /* execute now; outputs become constants owned by the session */
            st = run_node(&s->main, i, 0, POL_MALLOC, s->shape);
            if (st != NNE_OK) goto fail;
            for (int o = 0; o < nd->n_out; o++) {
                int v = nd->out[o];
                if (v < 0) continue;
                s->shape[v] = s->main.vals[v];
                s->folded[v] = s->main.owned[v];
                s->main.owned[v] = 0;
                memset(&s->main.vals[v], 0, sizeof s->main.vals[v]);
                s->vstate[v] = VS_CONST;
            }
            s->node_mode[i] = NM_FOLDED;
            continue;
        } else {
            for (int o = 0; o < nd->n_out; o++)
                if (nd->out[o] >= 0) s->shape[nd->out[o]].ndim = -1;
            st = run_node(&s->main, i, 1, POL_PLAN, s->shape);
            if (st == NNE_DYNAMIC) {
                s->node_mode[i] = NM_DYNAMIC;
            } else if (st != NNE_OK) {
                goto fail;
            } else {
                s->node_mode[i] = NM_STATIC;
                for (int o = 0; o < nd->n_out; o++) {
                    int v = nd->out[o];
                    if (v >= 0 && s->shape[v].ndim < 0) {
                        /* a node with more outputs than its op has (the model is wrong) */
                        st = nne_error(NNE_ERR_INVALID_ARG,
                                       "node \"%s\" (%s): the op gives no output %d of the node's %d; check the "
                                       "node against the op's definition", nd->name, nd->op_type, o, nd->n_out);
                        goto fail;
                    }
                }
            }
        }
        for (int o = 0; o < nd->n_out; o++) {
            int v = nd->out[o];
            if (v >= 0) s->vstate[v] = s->node_mode[i] == NM_STATIC ? VS_STATIC : VS_DYNAMIC;
        }
    }
    if ((st = plan_arena(s)) != NNE_OK) goto fail;
    /* runtime views */
    for (int v = 0; v < s->nv; v++) {
        if (s->vstate[v] == VS_CONST) s->main.vals[v] = s->shape[v];
        else if (s->vstate[v] == VS_STATIC) {
            s->main.vals[v] = s->shape[v];
            s->main.vals[v].data = nne_tensor_nbytes(&s->shape[v]) ? s->arena + s->offset[v] : g_empty;
        }
    }
    s->prepared = 1;
    return NNE_OK;
fail:
    st = sess_fail(s, st);
    unprepare(s);
    return st;
}

nne_status nne_session_set_input(nne_session *s, const char *name, const nne_tensor *t) {
    if (!s || !name || !t) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_set_input: NULL argument");
    if (!s->prepared) return sess_fail(s, nne_error(NNE_ERR_INVALID_ARG, "session is not prepared"));
    int v = nne_graph_find(s->g, name);
    if (v < 0 || s->vstate[v] != VS_INPUT)
        return sess_fail(s, nne_error(NNE_ERR_INVALID_ARG, "the model has no input named \"%s\"", name));
    const nne_tensor *p = &s->shape[v];
    int same = p->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = p->dims[d] == t->dims[d];
    char a[256], b[256];
    if (t->dtype != p->dtype)
        return sess_fail(s, nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": expected dtype %s, got %s", name,
                                      nne_dtype_name(p->dtype), nne_dtype_name(t->dtype)));
    if (!same)
        return sess_fail(s, nne_error(NNE_ERR_INVALID_ARG,
                                      "input \"%s\": expected shape %s (as prepared), got %s; prepare again to change "
                                      "shapes",
                                      name, nne_dims_str(p->ndim, p->dims, a, sizeof a),
                                      nne_dims_str(t->ndim, t->dims, b, sizeof b)));
    if (!t->data && nne_tensor_nbytes(t))
        return sess_fail(s, nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": data is NULL", name));
    s->main.vals[v] = *t;
    if (!s->main.vals[v].data) s->main.vals[v].data = g_empty;
    s->bound[v] = 1;
    return NNE_OK;
}

static nne_status run(nne_session *s);

nne_status nne_session_run(nne_session *s) {
    if (!s) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_run: NULL session");
    s->budget.refused = 0;
    s->loop_iters = 0;
    nne_budget *prev = nne_budget_enter(&s->budget);
    nne_status st = run(s);
    nne_budget_leave(prev);
    return st;
}

static nne_status run(nne_session *s) {
    if (!s->prepared) return sess_fail(s, nne_error(NNE_ERR_INVALID_ARG, "session is not prepared"));
    exec *ex = &s->main;
    for (int i = 0; i < s->m->n_feed; i++) {
        int v = s->m->feed[i];
        if (!s->bound[v])
            return sess_fail(s, nne_error(NNE_ERR_INVALID_ARG, "input \"%s\" was not given", s->g->values[v].name));
    }
    exec_release_dynamic(ex);
    memcpy(ex->uses_left, ex->uses, (size_t)s->nv * sizeof(int));
    for (int i = 0; i < s->nn; i++) {
        if (s->node_mode[i] == NM_FOLDED) continue;
        nne_status st = check_cancel(s);
        if (st != NNE_OK) return sess_fail(s, st);
        st = run_node(ex, i, 0, s->node_mode[i] == NM_STATIC ? POL_PLAN : POL_MALLOC, NULL);
        if (st != NNE_OK) return sess_fail(s, st);
        release_inputs(ex, i);
    }
    return NNE_OK;
}

nne_status nne_session_output(const nne_session *s, int32_t i, nne_tensor *out) {
    if (!s || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_output: NULL argument");
    if (!s->prepared || i < 0 || i >= s->g->n_outputs)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_session_output: no output %d", (int)i);
    *out = s->main.vals[s->g->outputs[i]];
    return NNE_OK;
}

int64_t nne_session_macs(const nne_session *s) {
    if (!s || !s->prepared) return 0;
    int64_t total = 0;
    for (int i = 0; i < s->nn; i++) {
        const nne_node *n = &s->g->nodes[i];
        if (s->node_mode[i] == NM_DYNAMIC || n->n_out < 1 || n->out[0] < 0 || n->n_in < 2) continue;
        const char *op = n->op_type;
        const nne_tensor *y = &s->shape[n->out[0]];
        int wi = strcmp(op, "QLinearConv") == 0 ? 3 : 1;
        int ai = 0;
        if (strcmp(op, "QLinearMatMul") == 0) wi = 3;
        if (n->n_in <= wi || n->in[wi] < 0 || n->in[ai] < 0) continue;
        const nne_tensor *a = &s->shape[n->in[ai]], *w = &s->shape[n->in[wi]];
        if (y->ndim < 0 || a->ndim < 1 || w->ndim < 1) continue;
        int64_t yn = nne_tensor_numel(y), k = 0;
        if (!strcmp(op, "Conv") || !strcmp(op, "ConvInteger") || !strcmp(op, "QLinearConv")) {
            k = nne_tensor_numel(w) / (w->dims[0] ? w->dims[0] : 1);
        } else if (!strcmp(op, "ConvTranspose")) {
            yn = nne_tensor_numel(a);
            k = nne_tensor_numel(w) / (w->dims[0] ? w->dims[0] : 1);
        } else if (!strcmp(op, "Gemm")) {
            const nne_attr *ta = nne_node_attr(n, "transA");
            k = a->ndim == 2 ? a->dims[ta && ta->i ? 0 : 1] : 0;
        } else if (!strcmp(op, "MatMul") || !strcmp(op, "MatMulInteger") || !strcmp(op, "QLinearMatMul")) {
            k = a->dims[a->ndim - 1];
        }
        total += yn * k;
    }
    return total;
}

/* ---- introspection for tests (src/ir/session_internal.h) ---- */

void nne_session_debug_counts(const nne_session *s, int *folded, int *planned, int *dynamic) {
    *folded = *planned = *dynamic = 0;
    for (int i = 0; s->prepared && i < s->nn; i++) {
        if (s->node_mode[i] == NM_FOLDED) (*folded)++;
        else if (s->node_mode[i] == NM_STATIC) (*planned)++;
        else (*dynamic)++;
    }
}

int nne_session_plan_check(const nne_session *s) {
    int bad = 0;
    for (int a = 0; s->prepared && a < s->nv; a++) {
        if (s->vstate[a] != VS_STATIC) continue;
        size_t sa = nne_tensor_nbytes(&s->shape[a]);
        if (s->offset[a] + sa > s->arena_size) bad++;
        for (int b = a + 1; b < s->nv; b++) {
            if (s->vstate[b] != VS_STATIC) continue;
            size_t sb = nne_tensor_nbytes(&s->shape[b]);
            int live = !(s->life_last[a] < s->life_first[b] || s->life_last[b] < s->life_first[a]);
            int mem = sa && sb && s->offset[a] < s->offset[b] + sb && s->offset[b] < s->offset[a] + sa;
            if (live && mem) bad++;
        }
    }
    return bad;
}

/* ---- constant folding's entry point (declared in src/ir/graph.h) ---- */

/*
 * Evaluate node ni of g alone: a one-node view of the graph (the node's own
 * attributes, its inputs bound to the given constants, every output wanted)
 * run by a temporary session, first in shape mode to learn the output sizes
 * without computing, then for real. Nothing of the model is modified.
 */
nne_status nne_node_eval(const nne_graph *g, int ni, const nne_tensor *const *ins, size_t max_out_bytes,
                         nne_tensor *outs, int *skipped) {
    const nne_node *src = &g->nodes[ni];
    int n_in = src->n_in, n_out = src->n_out, nv = n_in + n_out;
    *skipped = 0;
    for (int o = 0; o < n_out; o++) memset(&outs[o], 0, sizeof outs[o]);
    nne_graph tg;
    nne_node tn = *src;
    memset(&tg, 0, sizeof tg);
    nne_value *vals = nne_calloc((size_t)nv + 1, sizeof *vals);
    int *idx = nne_calloc((size_t)nv + 1, sizeof(int));
    nne_session *s = nne_calloc(1, sizeof *s);
    nne_status st = NNE_OK;
    if (!vals || !idx || !s) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "constant folding: out of memory");
        goto done;
    }
    /* values 0..n_in-1 are the inputs, then the outputs (all graph outputs) */
    for (int k = 0; k < nv; k++) {
        int ov = k < n_in ? src->in[k] : src->out[k - n_in];
        vals[k].name = ov >= 0 ? g->values[ov].name : "";
        vals[k].kind = k < n_in ? NNE_VAL_CONST : NNE_VAL_NODE;
        vals[k].producer = k < n_in ? -1 : 0;
        vals[k].is_output = k >= n_in;
        vals[k].ndim = -1;
        idx[k] = ov < 0 ? -1 : k;
    }
    tn.in = idx;
    tn.out = idx + n_in;
    tg.values = vals;
    tg.n_values = nv;
    tg.nodes = &tn;
    tg.n_nodes = 1;
    tg.outputs = idx + n_in;
    tg.n_outputs = n_out;
    s->g = &tg;
    s->nv = nv;
    s->nn = 1;
    s->opt = nne_session_options_default();
    s->rng = 0x853c49e6748fea9bull;
    s->shape = nne_calloc((size_t)nv + 1, sizeof *s->shape);
    s->vstate = nne_calloc((size_t)nv + 1, 1);
    if (!s->shape || !s->vstate) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "constant folding: out of memory");
        goto done;
    }
    for (int k = 0; k < n_in; k++)
        if (ins[k]) {
            s->shape[k] = *ins[k];
            if (!s->shape[k].data) s->shape[k].data = g_empty;
            s->vstate[k] = VS_CONST;
        }
    if ((st = exec_init(&s->main, s, &tg, NULL)) != NNE_OK) goto done;
    st = run_node(&s->main, 0, 1, POL_PLAN, s->shape);
    if (st == NNE_DYNAMIC) { /* size known only by running: not folded */
        *skipped = 1;
        st = NNE_OK;
        goto done;
    }
    if (st != NNE_OK) goto done;
    size_t total = 0;
    for (int o = 0; o < n_out; o++) {
        size_t nb = nne_tensor_nbytes(&s->shape[n_in + o]);
        if (s->shape[n_in + o].ndim < 0 || nb > max_out_bytes - total) {
            *skipped = 1;
            goto done;
        }
        total += nb;
    }
    if ((st = run_node(&s->main, 0, 0, POL_MALLOC, s->shape)) != NNE_OK) goto done;
    for (int o = 0; o < n_out; o++) {
        nne_tensor *t = &s->main.vals[n_in + o];
        outs[o] = *t;
        if (s->main.owned[n_in + o]) {
            s->main.owned[n_in + o] = 0; /* handed to the caller */
        } else if (t->data == g_empty || !nne_tensor_nbytes(t)) {
            outs[o].data = NULL;
        } else { /* an output aliasing an input: copy */
            if ((st = nne_tensor_clone(t, &outs[o])) != NNE_OK) goto done;
        }
        t->data = NULL;
    }
done:
    if (st != NNE_OK || *skipped)
        for (int o = 0; o < n_out; o++) {
            if (outs[o].data) value_free(&outs[o]);
            memset(&outs[o], 0, sizeof outs[o]);
        }
    if (s) {
        exec_free(&s->main);
        nne_free(s->shape);
        nne_free(s->vstate);
        nne_aligned_free(s->scratch);
        nne_free(s);
    }
    nne_free(vals);
    nne_free(idx);
    return st;
}
