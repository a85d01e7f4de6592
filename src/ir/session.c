/*
 * session.c - prepared plans, execution contexts and the session on top.
 *
 * A plan (nne_plan_create, once per set of input shapes) is immutable once
 * made and shared by any number of contexts:
 *   1. Seed shapes: initializers are constants, inputs take the given shapes.
 *   2. Walk nodes in topological order. A node whose inputs are all constant
 *      (or, for shape-only ops like Shape, all statically shaped) is executed
 *      now and its outputs become constants (constant folding: this folds the
 *      Shape -> Gather -> Concat -> Reshape chains of exported models). Other
 *      nodes infer their output shapes (the op's infer phase, or a
 *      one-function op in shape mode); an op that needs unknown data for a
 *      shape returns NNE_DYNAMIC, and it and everything downstream of it is
 *      shaped at run time instead. A statically shaped node of a phased op
 *      is then planned: its per-node state (parsed attributes, precomputed
 *      parameters, packed weights, kernel choice) and scratch size are kept
 *      by the plan.
 *   3. Plan one arena layout for every statically shaped activation:
 *      lifetimes are [producer, last consumer] (subgraph references count as
 *      uses); buffers are placed largest first at the lowest offset that
 *      does not overlap a placed buffer with an intersecting lifetime (the
 *      greedy planner of TFLM, written anew). A segment tree over node
 *      indices finds the placed buffers whose lifetimes meet a new one, so
 *      planning a long chain is O(n log n) (plan_arena).
 * A context (nne_context_create) owns only what a run writes: its arena,
 * scratch, bound inputs, dynamic values and random-number state. Run: nodes
 * execute in order; static outputs live in the arena, dynamic ones are
 * allocated as they are produced and freed after their last use.
 * Subgraphs (If/Loop/Scan bodies) are planned the same way, once per
 * signature of the shapes they are fed, by the context that runs them, and
 * run on a context of their own (see "subgraph plans"); bodies that cannot
 * be planned run through the same node loop with every value dynamic.
 * Trainable parameters (params.c) are seeded as VS_PARAM: shaped, never
 * folded or packed, read where they lie at every run.
 * A plan made by nne_plan_create and a context made by nne_context_create_opt
 * each charge what they allocate to a memory budget of their own (alloc.c);
 * inside a session the session's budget is charged instead.
 * A session is one plan plus one context.
 */
#include "ir/graph.h"
#include "ir/session_internal.h"
#include "core/core.h"
#include "core/threadpool.h"
#include "kernels/sgemm.h"
#include "ops/op.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* VS_PARAM: a trainable parameter (params.c), shaped but read at run time */
enum { VS_UNKNOWN = 0, VS_INPUT, VS_CONST, VS_STATIC, VS_DYNAMIC, VS_PARAM };
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
    int planning;      /* in a phased op's plan: scratch requests are recorded,
                          outputs are already declared */
    void *plan_state;  /* the state being planned (plan NULL: infer fills it) */
    int infer_only;    /* a phased op's infer at run time: outputs are allocated,
                          but the op must not compute (shape_only reads 1) */
    const nne_tensor **ins;
    size_t scratch_req;
    void *scratch_mem; /* malloc'd scratch for POL_MALLOC */
    const nne_attr *bad_attr; /* first attribute read as another type */
    int bad_expect;
    int inner_opset;   /* nonzero: the opset a wrapped op sees (nne_ctx_set_inner_opset) */
    int64_t iter;      /* the Loop/Scan iteration being run (-1: none), for observer scopes */
    nne_tensor *held;  /* outputs of an unplanned subgraph run lent as views (nne_ctx_run_graph_view) */
    int n_held;
};

/* One graph being run (or, while a plan is made, shaped and folded). */
struct exec {
    nne_plan *p;       /* written only while the plan is being made */
    nne_context *cx;   /* NULL while the plan is being made */
    uint64_t *rng;
    const nne_graph *g;
    exec *parent;
    nne_tensor *vals;  /* runtime view of every value */
    uint8_t *owned;    /* vals[v].data malloc'd here */
    int *uses_left;
    const nne_tensor **ins;
    nne_tensor **outs;
    int max_in, max_out;
    /* graph structure, computed once per plan (main graph) or per call
     * (subgraphs); borrowed from the plan when own_struct is 0 */
    int own_struct;
    int *uses;         /* consumers (incl. subgraph references); is_output adds 1 */
    /* implicit inputs: values of this graph that node i's subgraphs read,
     * impl[impl_start[i] .. impl_start[i + 1]) */
    int *impl_start;
    int *impl;
    const char *scope; /* observer name prefix of this graph's nodes (NULL: none) */
};

/* A packed weight, kept by the model for its lifetime (src/ir/wcache.c). */
const void *nne_wcache_get(const nne_model *m, const void *key, uint64_t tag, size_t bytes, nne_pack_fn fill,
                           void *user);

struct nne_plan {
    const nne_model *m;
    const nne_graph *g;
    nne_session_options opt;
    int nv, nn;
    uint8_t *vstate;
    nne_tensor *shape;      /* prepared dtype/shape per value (data: constant data) */
    uint8_t *folded;        /* shape[v].data allocated by folding */
    uint8_t *node_mode;
    void **state;           /* per-node state of phased ops (static nodes) */
    int64_t *macs;          /* per-node MACs (static nodes) */
    size_t *offset;
    int *life_first, *life_last; /* planned lifetimes (node indices) of static values */
    int *inplace_of;        /* the value whose buffer v took in place (plan_arena), -1: none */
    size_t arena_size;
    size_t arena_bound;     /* lower bound of the arena: the most bytes alive at one node */
    size_t scratch_size;    /* the largest scratch of one node */
    exec build;             /* structure of the main graph; folding while made */
    uint64_t build_rng;
    int64_t build_loop_iters; /* Loop iterations while the plan is made (the cap) */
    /* every subgraph (If/Loop/Scan bodies, nested too) with its structure
     * (uses, implicit inputs), computed once; runs borrow it */
    int n_sub;
    const nne_graph **sub_g;
    exec *sub_ex;
    int is_sub;             /* a subgraph body's plan (made by a context, see "subgraph plans") */
    size_t packed_bytes;    /* packed weights this plan uses (counted against its budget) */
    nne_budget budget;      /* nne_plan_create's memory limit (unused when made by a session) */
    int own_budget;
    nne_threadpool *pool;   /* opt.threads > 1: the kernels' workers, shared by the contexts */
    nne_threadpool *pool_borrowed; /* a subgraph plan's: its parent's pool (not destroyed with it) */
};

/* A subgraph (If/Loop/Scan body) planned for one signature -- the shapes of
 * its inputs and of the outer values it reads -- with a context to run it,
 * kept by the context that runs the node (see "subgraph plans"). */
typedef struct sub_cache {
    const nne_graph *g;
    nne_plan *p;            /* NULL: not planned (yet, or disabled) */
    nne_context *c;
    int n_outer;
    int *outer_v;           /* g's NNE_VAL_OUTER values, in value order */
    int64_t *sig;           /* per fed value: dtype, ndim, dims[ndim] */
    int sig_len, sig_cap;
    int misses;             /* plans made in a row without reuse */
    int disabled;           /* shapes change every run: run unplanned */
} sub_cache;

struct nne_context {
    const nne_plan *p;
    uint8_t *arena;
    uint8_t *scratch;
    size_t scratch_cap;
    exec main;
    uint8_t *bound;
    uint64_t rng;
    int64_t loop_iters;     /* Loop iterations of the current run (the cap) */
    nne_observer_fn observer;
    void *observer_user;
    const char **obs_names;
    nne_tensor *obs_vals;
    char err[1024];
    /* subgraph plans (see "subgraph plans") */
    nne_context *root;      /* the context the user runs (self, or the one whose node runs this body) */
    int n_subs, cap_subs;
    sub_cache *subs;
    char scope[512];        /* observer name prefix of this body's nodes ("loop/body/iter3/"), "" at the root */
    char obs_name[1024];
    nne_budget budget;      /* the context's memory limit (nne_context_create_opt) */
    int own_budget;
    int no_sub_plans;       /* env NNE_SUBGRAPH_PLANS=0: run bodies unplanned (benchmarks, bug reports) */
};

struct nne_session {
    const nne_model *m;
    nne_session_options opt;
    nne_plan *p;
    nne_context *c;
    char err[1024];
    nne_budget budget;      /* memory charged while preparing/running (alloc.c) */
};

/* A call that owns a memory budget failed: when the budget refused an
 * allocation, say so (the failing call site said "cannot allocate ...") and
 * make the status NNE_ERR_OUT_OF_MEMORY. `who` is "plan" or "context",
 * `option` the setting that sets the limit. */
static nne_status budget_fail(nne_budget *b, nne_status st, const char *who, const char *option) {
    if (!b->refused) return st;
    nne_error_prefix("%s memory limit of %zu bytes reached (%zu bytes in use, %zu more requested; %s)", who, b->limit,
                     b->refused_used, b->refused_bytes, option);
    b->refused = 0;
    return st == NNE_ERR_CANCELLED || st == NNE_ERR_LIMIT ? st : NNE_ERR_OUT_OF_MEMORY;
}

/* The user's cancel callback, called between nodes and at Loop/Scan iterations. */
static nne_status check_cancel(const nne_session_options *opt) {
    if (opt->cancel_fn && opt->cancel_fn(opt->cancel_user))
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

/* Set up an exec of g. With `shared` (an exec of the same graph) the
 * structure arrays are borrowed from it instead of computed. */
static nne_status exec_init(exec *ex, nne_plan *p, nne_context *cx, uint64_t *rng, const nne_graph *g,
                            exec *parent, const exec *shared) {
    memset(ex, 0, sizeof *ex);
    ex->p = p;
    ex->cx = cx;
    ex->rng = rng;
    ex->g = g;
    ex->parent = parent;
    size_t nv = (size_t)g->n_values + 1;
    int max_in = 1, max_out = 1, n_impl = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (g->nodes[i].n_in > max_in) max_in = g->nodes[i].n_in;
        if (g->nodes[i].n_out > max_out) max_out = g->nodes[i].n_out;
        if (!shared) n_impl += node_implicit_inputs(&g->nodes[i], NULL);
    }
    ex->max_in = max_in;
    ex->max_out = max_out;
    ex->vals = nne_calloc(nv, sizeof *ex->vals);
    ex->owned = nne_calloc(nv, 1);
    ex->uses_left = nne_calloc(nv, sizeof(int));
    ex->ins = nne_calloc((size_t)max_in, sizeof *ex->ins);
    ex->outs = nne_calloc((size_t)max_out, sizeof *ex->outs);
    if (!ex->vals || !ex->owned || !ex->uses_left || !ex->ins || !ex->outs)
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory");
    if (shared) {
        ex->uses = shared->uses;
        ex->impl_start = shared->impl_start;
        ex->impl = shared->impl;
        return NNE_OK;
    }
    ex->own_struct = 1;
    ex->uses = nne_calloc(nv, sizeof(int));
    ex->impl_start = nne_calloc((size_t)g->n_nodes + 1, sizeof(int));
    ex->impl = nne_calloc((size_t)n_impl + 1, sizeof(int));
    if (!ex->uses || !ex->impl_start || !ex->impl) return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory");
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
    nne_free(ex->uses_left);
    nne_free((void *)ex->ins);
    nne_free(ex->outs);
    if (ex->own_struct) {
        nne_free(ex->uses);
        nne_free(ex->impl_start);
        nne_free(ex->impl);
    }
    memset(ex, 0, sizeof *ex);
}

/* ---------------------------------------------------------- ctx API -- */

int nne_ctx_shape_only(const nne_op_ctx *ctx) { return ctx->shape_only || ctx->planning || ctx->infer_only; }
void *nne_ctx_plan_state(const nne_op_ctx *ctx) { return ctx->planning ? ctx->plan_state : NULL; }
nne_status nne_ctx_check_cancel(nne_op_ctx *ctx) { return check_cancel(&ctx->ex->p->opt); }
nne_status nne_ctx_loop_step(nne_op_ctx *ctx, int64_t trip) {
    const nne_session_options *o = &ctx->ex->p->opt;
    /* per run: the context's counter; while a plan is made, the plan's */
    int64_t *iters = ctx->ex->cx ? &ctx->ex->cx->root->loop_iters : &ctx->ex->p->build_loop_iters;
    int64_t cap = o->max_loop_iterations == 0 ? NNE_DEFAULT_MAX_LOOP_ITERATIONS : o->max_loop_iterations;
    if (cap > 0 && *iters >= cap)
        return nne_ctx_fail(ctx, NNE_ERR_LIMIT,
                            "the run reached the Loop iteration cap of %lld (all Loops together; this one's trip "
                            "count %lld%s); if it is meant to run longer, raise the session option "
                            "max_loop_iterations (nnedge --max-loop-iterations)",
                            (long long)cap, (long long)trip, trip == INT64_MAX ? ": none, the condition decides" : "");
    (*iters)++;
    return check_cancel(o);
}
int nne_ctx_opset(const nne_op_ctx *ctx) { return ctx->inner_opset ? ctx->inner_opset : ctx->node->opset; }
void nne_ctx_set_inner_opset(nne_op_ctx *ctx, int opset) { ctx->inner_opset = opset; }
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

const nne_tensor *nne_ctx_output_get(const nne_op_ctx *ctx, int i) {
    if (i < 0 || i >= ctx->node->n_out || ctx->node->out[i] < 0) return NULL;
    int v = ctx->node->out[i];
    return ctx->shape_only ? &ctx->ex->p->shape[v] : &ctx->ex->vals[v];
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
    const nne_plan *p = ex->p;
    nne_tensor *t = &ex->vals[v];
    if (ctx->planning) {
        /* infer run again to fill a state: the output is already declared */
        *out = ctx->shape_only ? &ex->p->shape[v] : t;
        return NNE_OK;
    }
    if (ctx->shape_only) {
        /* in shape mode the plan's shape table is the target */
        t = &ex->p->shape[v];
        t->dtype = dt;
        t->ndim = ndim;
        for (int d = 0; d < ndim; d++) t->dims[d] = dims[d];
        t->data = NULL;
        *out = t;
        return NNE_OK;
    }
    if (ctx->policy == POL_PLAN && p->vstate[v] == VS_STATIC) {
        const nne_tensor *ps = &p->shape[v];
        int same = ps->dtype == dt && ps->ndim == ndim;
        for (int d = 0; same && d < ndim; d++) same = ps->dims[d] == dims[d];
        if (!same) {
            char a[256], b[256];
            return nne_ctx_fail(ctx, NNE_ERR_INTERNAL, "output %d shape %s at run time differs from planned %s", i,
                                nne_dims_str(ndim, dims, a, sizeof a), nne_dims_str(ps->ndim, ps->dims, b, sizeof b));
        }
        t->dtype = dt;
        t->ndim = ndim;
        for (int d = 0; d < ndim; d++) t->dims[d] = dims[d];
        t->data = nbytes ? ex->cx->arena + p->offset[v] : g_empty;
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
    if (ctx->shape_only || ctx->planning || ctx->infer_only) {
        if (bytes > ctx->scratch_req) ctx->scratch_req = bytes;
        return NULL;
    }
    nne_context *cx = ctx->ex->cx;
    if (ctx->policy == POL_PLAN) {
        if (bytes > cx->scratch_cap) {
            /* a planned size was exceeded (a bug in an op's shape mode): grow */
            uint8_t *q = nne_aligned_alloc(bytes);
            if (!q) return NULL;
            nne_aligned_free(cx->scratch);
            cx->scratch = q;
            cx->scratch_cap = bytes;
        }
        return bytes ? cx->scratch : g_empty;
    }
    nne_aligned_free(ctx->scratch_mem);
    ctx->scratch_mem = nne_aligned_alloc(bytes ? bytes : 1);
    return ctx->scratch_mem;
}

double nne_ctx_rand(nne_op_ctx *ctx) {
    uint64_t *x = ctx->ex->rng;
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return (double)((*x * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

const void *nne_ctx_packed_weight(nne_op_ctx *ctx, const void *key, uint64_t tag, size_t bytes, nne_pack_fn fill,
                                  void *user) {
    nne_plan *p = ctx->ex->p;
    if (p->own_budget && p->budget.limit) {
        /* packed weights live in the model's cache (shared by its plans), but
         * a plan made with a memory limit counts those it uses */
        size_t used = nne_budget_used(&p->budget) + p->packed_bytes;
        if (bytes > p->budget.limit || used > p->budget.limit - bytes) {
            nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY,
                         "plan memory limit of %zu bytes reached by %zu bytes of packed weights (%zu bytes in use; "
                         "the memory_limit_bytes option given to nne_plan_create)",
                         p->budget.limit, bytes, used);
            return NULL;
        }
    }
    const void *r = nne_wcache_get(p->m, key, tag, bytes, fill, user);
    if (!r) nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of packed weights", bytes);
    else p->packed_bytes += bytes;
    return r;
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

int nne_ctx_input_is_const(const nne_op_ctx *ctx, int i) {
    if (i < 0 || i >= ctx->node->n_in || ctx->node->in[i] < 0) return 0;
    if (ctx->shape_only) return ctx->ins[i] && ctx->ins[i]->data != NULL;
    const nne_value *val = &ctx->ex->g->values[ctx->node->in[i]];
    return val->kind == NNE_VAL_CONST && !val->trainable; /* a parameter changes between runs */
}

nne_threadpool *nne_ctx_pool(const nne_op_ctx *ctx) {
    const nne_plan *p = ctx->ex->cx ? ctx->ex->cx->p : ctx->ex->p;
    return p ? (p->pool ? p->pool : p->pool_borrowed) : NULL;
}

int nne_ctx_input_is_initializer(const nne_op_ctx *ctx, int i) {
    /* no model (nne_node_eval's one-node plans): nothing lives long enough to cache */
    if (i < 0 || i >= ctx->node->n_in || ctx->node->in[i] < 0 || !ctx->ex->p->m) return 0;
    const nne_value *val = &ctx->ex->g->values[ctx->node->in[i]];
    return val->kind == NNE_VAL_CONST && !val->trainable && ctx->ins[i] && ctx->ins[i]->data;
}

/* ------------------------------------------------------- node running -- */

/* An attribute read as another type fails the node (whatever the op made of
 * the default it got). */
static nne_status check_attr_types(const nne_op_ctx *ctx, nne_status st) {
    if (!ctx->bad_attr) return st;
    const nne_node *n = ctx->node;
    return nne_error(NNE_ERR_INVALID_ARG, "node \"%s\" (%s): attribute %s has type %s, expected %s", n->name,
                     n->op_type, ctx->bad_attr->name, attr_type_name(ctx->bad_attr->type),
                     attr_type_name(ctx->bad_expect));
}

static void bind_outs(exec *ex, const nne_node *n) {
    for (int o = 0; o < n->n_out; o++) ex->outs[o] = n->out[o] >= 0 ? &ex->vals[n->out[o]] : NULL;
}

/* Every output of the node is an empty tensor: its kernel has nothing to
 * write, and is not called (an op's loops over the other dims of an empty
 * tensor, e.g. LRN over 2^31 channels of zero pixels, would only burn time).
 * Phased ops (the only ones that get here) produce tensors, never sequences. */
static int outs_all_empty(exec *ex, const nne_node *n) {
    int any = 0;
    for (int o = 0; o < n->n_out; o++) {
        if (!ex->outs[o]) continue;
        if (nne_tensor_numel(ex->outs[o]) != 0) return 0;
        any = 1;
    }
    return any;
}

/* Free the subgraph outputs a node was lent (nne_ctx_run_graph_view, unplanned runs). */
static void held_free(nne_op_ctx *ctx) {
    for (int i = 0; i < ctx->n_held; i++) value_free(&ctx->held[i]);
    nne_free(ctx->held);
    ctx->held = NULL;
    ctx->n_held = 0;
}

/* The phased op adapter for nodes shaped at run time (dynamic nodes,
 * subgraphs, constant folding): infer (outputs allocated), plan into a
 * temporary state, run, free the state. */
static nne_status run_phased_now(nne_op_ctx *ctx) {
    const nne_op_def *op = ctx->node->op;
    exec *ex = ctx->ex;
    ctx->infer_only = 1;
    nne_status st = check_attr_types(ctx, op->infer(ctx));
    ctx->infer_only = 0;
    if (st != NNE_OK) return st;
    void *state = NULL;
    if (op->state_size && !(state = nne_calloc(1, op->state_size)))
        return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate the node's state");
    ctx->planning = 1;
    ctx->plan_state = state;
    st = check_attr_types(ctx, op->plan ? op->plan(ctx, state) : op->infer(ctx));
    ctx->planning = 0;
    void *scratch = g_empty;
    if (st == NNE_OK && ctx->scratch_req) {
        scratch = ctx->scratch_mem = nne_aligned_alloc(ctx->scratch_req);
        if (!scratch)
            st = nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate %zu bytes of scratch", ctx->scratch_req);
    }
    if (st == NNE_OK) {
        bind_outs(ex, ctx->node);
        nne_kernel_args a = {.in = ctx->ins, .out = ex->outs, .n_in = ctx->node->n_in,
                             .n_out = ctx->node->n_out, .scratch = scratch, .ctx = ctx};
        if (!outs_all_empty(ex, ctx->node)) st = op->run(state, &a);
    }
    if (state && op->state_free) op->state_free(state);
    nne_free(state);
    return st;
}

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
                      .ins = ex->ins, .iter = -1};
    const nne_op_def *op = n->op;
    nne_status st;
    if (op->eval) {
        st = op->eval(&ctx);
    } else if (shape_only) {
        st = op->infer(&ctx);
    } else if (policy == POL_PLAN) {
        /* a planned node: outputs are bound to the arena, state and scratch come from the plan */
        bind_outs(ex, n);
        nne_kernel_args a = {.in = ex->ins, .out = ex->outs, .n_in = n->n_in, .n_out = n->n_out,
                             .scratch = ex->cx->scratch ? (void *)ex->cx->scratch : (void *)g_empty, .ctx = &ctx};
        st = outs_all_empty(ex, n) ? NNE_OK : op->run(ex->p->state[ni], &a);
        held_free(&ctx);
        return st;
    } else {
        st = run_phased_now(&ctx);
    }
    held_free(&ctx);
    if (ctx.scratch_mem) nne_aligned_free(ctx.scratch_mem);
    if (ctx.bad_attr) return check_attr_types(&ctx, st);
    if (shape_only && st == NNE_OK && ctx.scratch_req > ex->p->scratch_size) ex->p->scratch_size = ctx.scratch_req;
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

/* Plan a statically shaped node of a phased op (outputs already inferred):
 * its state and scratch size go into the plan; also its MACs. */
static nne_status plan_node(exec *ex, int ni) {
    nne_plan *p = ex->p;
    const nne_node *n = &ex->g->nodes[ni];
    const nne_op_def *op = n->op;
    for (int k = 0; k < n->n_in; k++) ex->ins[k] = n->in[k] < 0 ? NULL : &p->shape[n->in[k]];
    nne_op_ctx ctx = {.ex = ex, .node_idx = ni, .node = n, .shape_only = 1, .policy = POL_PLAN, .ins = ex->ins};
    if (op->eval) {
        if (op->macs) p->macs[ni] = op->macs(&ctx);
        return check_attr_types(&ctx, NNE_OK);
    }
    if (op->state_size && !(p->state[ni] = nne_calloc(1, op->state_size)))
        return nne_ctx_fail(&ctx, NNE_ERR_OUT_OF_MEMORY, "cannot allocate the node's state");
    ctx.planning = 1;
    ctx.plan_state = p->state[ni];
    NNE_TRY(check_attr_types(&ctx, op->plan ? op->plan(&ctx, p->state[ni]) : op->infer(&ctx)));
    if (ctx.scratch_req > p->scratch_size) p->scratch_size = ctx.scratch_req;
    /* after planning: a phased op's macs may read its state */
    if (op->macs) p->macs[ni] = op->macs(&ctx);
    return NNE_OK;
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

/* ------------------------------------------------------ subgraph plans --
 *
 * If/Loop/Scan bodies run through nne_ctx_run_graph_view. The first run of a
 * body on a context plans it like a top-level graph (a sub-plan: folded
 * constants, per-node state, packed weights, arena layout) for the shapes it
 * is fed -- its inputs and the outer-scope values it reads, the signature --
 * and makes a context for it; later runs with the same signature bind the
 * inputs and run the planned nodes: no shape inference, no attribute
 * lookups, no allocation (for statically shaped bodies). A new signature
 * plans again; a body whose signature changes on most runs (a carried value
 * growing each iteration) is run unplanned from then on, as is a body fed
 * sequences or run while a plan is being made (no context): every node shaped
 * and run as it comes, outputs allocated (run_graph_unplanned).
 * Sub-plans belong to the context that runs the node (one thread), so they
 * need no lock; packed weights still come from the model's shared cache.
 * Nested bodies are planned by the sub-context that runs them.
 */

static nne_status plan_build(nne_plan *s);
static nne_status plan_alloc(nne_plan *s);
static void observe(nne_context *c, int ni);
static nne_status context_exec(nne_context *c);

/* After this many plans of one body in a row without a reuse, the body is run unplanned. */
#define SUB_MAX_MISSES 4

void nne_ctx_set_iteration(nne_op_ctx *ctx, int64_t iter) { ctx->iter = iter; }

/* The observer scope of subgraph g run by ctx's node: "<outer scope><node>/<attr>/[iter<k>/]". */
static void scope_for(char *dst, size_t cap, const nne_op_ctx *ctx, const nne_graph *g) {
    const nne_node *n = ctx->node;
    const char *attr = "subgraph";
    for (int a = 0; a < n->n_attr; a++)
        if (n->attrs[a].g == g) attr = n->attrs[a].name;
    const char *outer = ctx->ex->scope ? ctx->ex->scope : "";
    const char *label = n->name && n->name[0] ? n->name : n->op_type;
    if (ctx->iter >= 0) snprintf(dst, cap, "%s%s/%s/iter%lld/", outer, label, attr, (long long)ctx->iter);
    else snprintf(dst, cap, "%s%s/%s/", outer, label, attr);
}

/* Node ni of an unplanned subgraph run, to the root context's observer. */
static void observe_exec(nne_context *root, const char *scope, const exec *ex, int ni, const char **names,
                         nne_tensor *vals, char *name_buf, size_t name_cap) {
    const nne_node *n = &ex->g->nodes[ni];
    int k = 0;
    for (int o = 0; o < n->n_out; o++) {
        int v = n->out[o];
        if (v < 0) continue;
        names[k] = ex->g->values[v].name;
        vals[k] = ex->vals[v];
        if (vals[k].dtype == NNE_DTYPE_SEQUENCE || !vals[k].data) memset(&vals[k], 0, sizeof vals[k]);
        k++;
    }
    snprintf(name_buf, name_cap, "%s%s", scope, n->name);
    root->observer(root->observer_user, name_buf, n->op_type, k, names, vals);
}

/* Run g on its own exec, every node shaped and run as it comes; outs[i].data
 * are allocated (free with nne_tensor_free_data). */
static nne_status run_graph_unplanned(nne_op_ctx *ctx, const struct nne_graph *g, int n_in, const nne_tensor *ins,
                                      int n_out, nne_tensor *outs) {
    exec sub;
    const exec *shared = NULL;
    for (int k = 0; k < ctx->ex->p->n_sub && !shared; k++)
        if (ctx->ex->p->sub_g[k] == g) shared = &ctx->ex->p->sub_ex[k];
    nne_status st = exec_init(&sub, ctx->ex->p, ctx->ex->cx, ctx->ex->rng, g, ctx->ex, shared);
    for (int i = 0; i < n_out; i++) memset(&outs[i], 0, sizeof outs[i]);
    /* observer: the nodes of the body, named with their scope */
    nne_context *root = ctx->ex->cx ? ctx->ex->cx->root : NULL;
    char scope[512], name_buf[1024];
    const char **obs_names = NULL;
    nne_tensor *obs_vals = NULL;
    if (root && !root->observer) root = NULL;
    if (st != NNE_OK) goto done;
    if (root) {
        scope_for(scope, sizeof scope, ctx, g);
        sub.scope = scope;
        obs_names = nne_calloc((size_t)sub.max_out, sizeof *obs_names);
        obs_vals = nne_calloc((size_t)sub.max_out, sizeof *obs_vals);
        if (!obs_names || !obs_vals) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory");
            goto done;
        }
    }
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
        if ((st = check_cancel(&ctx->ex->p->opt)) != NNE_OK) goto done;
        st = run_node(&sub, i, 0, POL_MALLOC, NULL);
        if (st != NNE_OK) goto done;
        if (root) observe_exec(root, scope, &sub, i, obs_names, obs_vals, name_buf, sizeof name_buf);
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
    nne_free((void *)obs_names);
    nne_free(obs_vals);
    if (st != NNE_OK) {
        for (int i = 0; i < n_out; i++) value_free(&outs[i]);
    }
    return st;
}

/* The tensor fed to value k of a body's signature: its inputs, then its outer values. */
static const nne_tensor *sub_fed(const sub_cache *e, int k, int n_in, const nne_tensor *ins, const exec *outer) {
    if (k < n_in) return &ins[k];
    return &outer->vals[e->g->values[e->outer_v[k - n_in]].outer];
}

/* 1 when every fed value is a plain tensor with data (a sub-plan can take it). */
static int sub_plannable(const sub_cache *e, int n_in, const nne_tensor *ins, const exec *outer) {
    for (int k = 0; k < n_in + e->n_outer; k++) {
        const nne_tensor *t = sub_fed(e, k, n_in, ins, outer);
        if (t->dtype == NNE_DTYPE_SEQUENCE || !nne_dtype_size(t->dtype) || t->ndim < 0 || t->ndim > NNE_MAX_DIMS ||
            (!t->data && nne_tensor_nbytes(t)))
            return 0;
    }
    return 1;
}

static int sub_sig_match(const sub_cache *e, int n_in, const nne_tensor *ins, const exec *outer) {
    int j = 0;
    for (int k = 0; k < n_in + e->n_outer; k++) {
        const nne_tensor *t = sub_fed(e, k, n_in, ins, outer);
        if (j + 2 + t->ndim > e->sig_len || e->sig[j] != t->dtype || e->sig[j + 1] != t->ndim) return 0;
        for (int d = 0; d < t->ndim; d++)
            if (e->sig[j + 2 + d] != t->dims[d]) return 0;
        j += 2 + t->ndim;
    }
    return j == e->sig_len;
}

static void sub_cache_drop_plan(sub_cache *e) {
    nne_context_destroy(e->c);
    nne_plan_destroy(e->p);
    e->c = NULL;
    e->p = NULL;
    e->sig_len = 0;
}

/* Plan body e->g for the fed shapes and make its context. */
static nne_status sub_plan(nne_context *cx, sub_cache *e, int n_in, const nne_tensor *ins, const exec *outer) {
    const nne_plan *parent = cx->p;
    const nne_graph *g = e->g;
    sub_cache_drop_plan(e);
    int need = 0;
    for (int k = 0; k < n_in + e->n_outer; k++) need += 2 + sub_fed(e, k, n_in, ins, outer)->ndim;
    if (need > e->sig_cap) {
        int64_t *q = nne_realloc(e->sig, (size_t)need * sizeof *q);
        if (!q) return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory planning a subgraph");
        e->sig = q;
        e->sig_cap = need;
    }
    nne_plan *s = nne_calloc(1, sizeof *s);
    if (!s) return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory planning a subgraph");
    s->m = parent->m;
    if (s->m) nne_model_session_ref(s->m, 1);
    s->g = g;
    s->opt = parent->opt;
    s->opt.arena_limit_bytes = 0; /* that limit is the top-level arena's; the memory limit covers bodies */
    s->is_sub = 1;
    s->pool_borrowed = parent->pool ? parent->pool : parent->pool_borrowed; /* bodies run on the plan's threads */
    s->nv = g->n_values;
    s->nn = g->n_nodes;
    s->build_rng = 0x853c49e6748fea9bull;
    nne_status st = plan_alloc(s);
    if (st != NNE_OK) goto fail;
    for (int v = 0; v < s->nv; v++) {
        const nne_value *val = &g->values[v];
        if (val->kind == NNE_VAL_CONST) {
            s->shape[v] = val->init;
            if (!s->shape[v].data) s->shape[v].data = g_empty;
            s->vstate[v] = VS_CONST;
        }
    }
    for (int i = n_in; i < g->n_inputs; i++)
        if (g->values[g->inputs[i]].kind != NNE_VAL_CONST) {
            st = nne_error(NNE_ERR_INVALID_ARG, "subgraph input \"%s\" has no value", g->values[g->inputs[i]].name);
            goto fail;
        }
    int j = 0;
    for (int k = 0; k < n_in + e->n_outer; k++) {
        const nne_tensor *t = sub_fed(e, k, n_in, ins, outer);
        int v = k < n_in ? g->inputs[k] : e->outer_v[k - n_in];
        s->shape[v] = *t;
        s->shape[v].data = NULL;
        s->vstate[v] = VS_INPUT;
        e->sig[j++] = t->dtype;
        e->sig[j++] = t->ndim;
        for (int d = 0; d < t->ndim; d++) e->sig[j++] = t->dims[d];
    }
    if ((st = plan_build(s)) != NNE_OK) goto fail;
    if ((st = nne_context_create(s, &e->c)) != NNE_OK) goto fail;
    e->p = s;
    e->sig_len = j;
    e->c->root = cx->root;
    e->c->main.rng = cx->root->main.rng; /* one random stream per run, as unplanned */
    return NNE_OK;
fail:
    nne_plan_destroy(s);
    return st;
}

/* The cache entry of body g on context cx (made on first use). */
static sub_cache *sub_cache_get(nne_context *cx, const nne_graph *g) {
    for (int k = 0; k < cx->n_subs; k++)
        if (cx->subs[k].g == g) return &cx->subs[k];
    if (cx->n_subs == cx->cap_subs) {
        int cap = cx->cap_subs ? 2 * cx->cap_subs : 4;
        sub_cache *q = nne_realloc(cx->subs, (size_t)cap * sizeof *q);
        if (!q) return NULL;
        cx->subs = q;
        cx->cap_subs = cap;
    }
    int n_outer = 0;
    for (int v = 0; v < g->n_values; v++) n_outer += g->values[v].kind == NNE_VAL_OUTER;
    int *ov = nne_calloc((size_t)n_outer + 1, sizeof(int));
    if (!ov) return NULL;
    sub_cache *e = &cx->subs[cx->n_subs++];
    memset(e, 0, sizeof *e);
    e->g = g;
    e->outer_v = ov;
    for (int v = 0; v < g->n_values; v++)
        if (g->values[v].kind == NNE_VAL_OUTER) ov[e->n_outer++] = v;
    return e;
}

static void sub_caches_free(nne_context *c) {
    for (int k = 0; k < c->n_subs; k++) {
        sub_cache_drop_plan(&c->subs[k]);
        nne_free(c->subs[k].outer_v);
        nne_free(c->subs[k].sig);
    }
    nne_free(c->subs);
    c->subs = NULL;
    c->n_subs = c->cap_subs = 0;
}

/* 1 for failures of a sub-plan that the unplanned path may still get past
 * (a declared shape the fed one contradicts, an op that cannot plan what
 * it is fed); running out of memory, cancellation and limits are final. */
static int sub_plan_retryable(nne_status st) {
    return st != NNE_ERR_OUT_OF_MEMORY && st != NNE_ERR_CANCELLED && st != NNE_ERR_LIMIT;
}

nne_status nne_ctx_run_graph_view(nne_op_ctx *ctx, const struct nne_graph *g, int n_in, const nne_tensor *ins,
                                  int n_out, const nne_tensor **outs) {
    if (n_in > g->n_inputs)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "subgraph \"%s\" takes %d inputs, got %d", g->name ? g->name : "",
                            g->n_inputs, n_in);
    if (n_out != g->n_outputs)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "subgraph \"%s\" has %d outputs, expected %d",
                            g->name ? g->name : "", g->n_outputs, n_out);
    held_free(ctx);
    nne_context *cx = ctx->ex->cx;
    sub_cache *e = NULL;
    if (cx && !(e = sub_cache_get(cx, g)))
        return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory planning subgraph \"%s\"", g->name ? g->name : "");
    if (e && !e->disabled && !cx->root->no_sub_plans && sub_plannable(e, n_in, ins, ctx->ex)) {
        nne_status st = NNE_OK;
        if (!e->p || !sub_sig_match(e, n_in, ins, ctx->ex)) {
            if (e->p && ++e->misses >= SUB_MAX_MISSES) {
                /* the shapes keep changing: planning costs more than it saves */
                sub_cache_drop_plan(e);
                e->disabled = 1;
                goto unplanned;
            }
            st = sub_plan(cx, e, n_in, ins, ctx->ex);
            if (st != NNE_OK) {
                if (!sub_plan_retryable(st)) return st;
                nne_log(NNE_LOG_DEBUG, "subgraph \"%s\" of node \"%s\" runs unplanned: %s", g->name ? g->name : "",
                        ctx->node->name, nne_last_error());
                e->disabled = 1;
                goto unplanned;
            }
        } else {
            e->misses = 0;
        }
        nne_context *sc = e->c;
        for (int k = 0; k < n_in + e->n_outer; k++) {
            int v = k < n_in ? g->inputs[k] : e->outer_v[k - n_in];
            sc->main.vals[v] = *sub_fed(e, k, n_in, ins, ctx->ex);
            if (!sc->main.vals[v].data) sc->main.vals[v].data = g_empty;
        }
        sc->observer = cx->root->observer;
        sc->observer_user = cx->root->observer_user;
        if (sc->observer) scope_for(sc->scope, sizeof sc->scope, ctx, g);
        if ((st = context_exec(sc)) != NNE_OK) return st;
        for (int i = 0; i < n_out; i++) outs[i] = &sc->main.vals[g->outputs[i]];
        return NNE_OK;
    }
unplanned:;
    nne_tensor *held = nne_calloc((size_t)n_out + 1, sizeof *held);
    if (!held) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    nne_status st = run_graph_unplanned(ctx, g, n_in, ins, n_out, held);
    if (st != NNE_OK) {
        nne_free(held);
        return st;
    }
    ctx->held = held;
    ctx->n_held = n_out;
    for (int i = 0; i < n_out; i++) outs[i] = &held[i];
    return NNE_OK;
}

nne_status nne_ctx_run_graph(nne_op_ctx *ctx, const struct nne_graph *g, int n_in, const nne_tensor *ins,
                             int n_out, nne_tensor *outs) {
    for (int i = 0; i < n_out; i++) memset(&outs[i], 0, sizeof outs[i]);
    const nne_tensor **views = nne_calloc((size_t)n_out + 1, sizeof *views);
    if (!views) return nne_ctx_fail(ctx, NNE_ERR_OUT_OF_MEMORY, "out of memory");
    nne_status st = nne_ctx_run_graph_view(ctx, g, n_in, ins, n_out, views);
    for (int i = 0; i < n_out && st == NNE_OK; i++) st = nne_tensor_clone(views[i], &outs[i]);
    if (st != NNE_OK)
        for (int i = 0; i < n_out; i++) value_free(&outs[i]);
    nne_free(views);
    held_free(ctx);
    return st;
}

void nne_tensor_free_data(nne_tensor *t) {
    if (t) value_free(t);
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

/* Free the index's arrays and NULL them (safe to call twice). */
static void plan_index_free(plan_index *px) {
    nne_free(px->cover);
    nne_free(px->start);
    nne_free(px->next);
    nne_free(px->buf);
    nne_free(px->fw_first);
    nne_free(px->fw_last);
    nne_free(px->sky);
    nne_free(px->sky_tag);
    px->cover = px->start = px->next = px->buf = px->fw_first = px->fw_last = NULL;
    px->sky = px->sky_tag = NULL;
}

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

/* Ops whose kernels compute each output element from the input elements
 * of the same index alone (float), so the output may take the buffer of an
 * input of the same shape that dies at the node: the kernel reads every
 * element before it writes it. */
static int inplace_op(const nne_node *n) {
    static const char *const k_ops[] = {
        "Relu", "Sigmoid", "Tanh", "LeakyRelu", "HardSigmoid", "HardSwish", "Clip", "Elu", "Selu", "Celu",
        "Softplus", "Softsign", "Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Erf", "Gelu", "Mish",
        "Floor", "Ceil", "Round", "Sign", "Sin", "Cos", "Add", "Sub", "Mul", "Div"};
    if (n->n_out != 1) return 0;
    if (!strcmp(n->domain, "com.microsoft")) return !strcmp(n->op_type, "Gelu") || !strcmp(n->op_type, "FastGelu");
    if (!strcmp(n->domain, "ai.nnedge")) return !strcmp(n->op_type, "Affine");
    if (n->domain[0] && strcmp(n->domain, "ai.onnx")) return 0;
    for (size_t k = 0; k < sizeof k_ops / sizeof k_ops[0]; k++)
        if (!strcmp(n->op_type, k_ops[k])) return 1;
    return 0;
}

/* Ops whose output holds input 0's bytes unchanged under a new shape
 * (tensor_reshape.c): the output may take input 0's buffer when input 0
 * dies at the node, and the copy is then skipped (the kernel sees the same
 * pointer). */
static int alias_op(const nne_node *n) {
    static const char *const k_ops[] = {"Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"};
    if (n->n_out != 1 || n->n_in < 1 || (n->domain[0] && strcmp(n->domain, "ai.onnx"))) return 0;
    for (size_t k = 0; k < sizeof k_ops / sizeof k_ops[0]; k++)
        if (!strcmp(n->op_type, k_ops[k])) return 1;
    return 0;
}

static int grp_root(int *up, int b) {
    while (up[b] != b) b = up[b] = up[up[b]];
    return b;
}

/* Place bufs[0..nb) (sorted largest first): each at the lowest offset
 * (best = 0) or in the smallest gap that fits (best = 1) among the placed
 * buffers whose lifetimes meet its own. Returns the arena size, or
 * SIZE_MAX on OOM. O(n log n) plus, per buffer, the sort of the (at most
 * PLAN_FIRST_FIT_MAX) buffers alive with it. */
static size_t place_bufs(plan_buf *bufs, int nb, int nn, int best) {
    plan_index px = {0};
    int levels = 1;
    px.leaves = 1;
    while (px.leaves <= nn) px.leaves <<= 1, levels++;
    px.cap = nb * 3 * levels + 1;
    px.cover = nne_malloc((size_t)px.leaves * 2 * sizeof(int));
    px.start = nne_malloc((size_t)px.leaves * 2 * sizeof(int));
    px.next = nne_calloc((size_t)px.cap, sizeof(int));
    px.buf = nne_calloc((size_t)px.cap, sizeof(int));
    int *hits = nne_calloc((size_t)nb + 1, sizeof(int));
    plan_buf **placed = nne_calloc((size_t)nb + 1, sizeof *placed);
    px.fw_first = nne_calloc((size_t)px.leaves + 1, sizeof(int));
    px.fw_last = nne_calloc((size_t)px.leaves + 1, sizeof(int));
    px.sky = nne_calloc((size_t)px.leaves * 2, sizeof(size_t));
    px.sky_tag = nne_calloc((size_t)px.leaves * 2, sizeof(size_t));
    size_t total = 0;
    if (!px.cover || !px.start || !px.next || !px.buf || !hits || !placed || !px.fw_first || !px.fw_last ||
        !px.sky || !px.sky_tag) {
        total = SIZE_MAX;
        goto done;
    }
    for (int n = 0; n < 2 * px.leaves; n++) px.cover[n] = px.start[n] = -1;
    for (int b = 0; b < nb; b++) {
        plan_buf *cur = &bufs[b];
        /* placed buffers alive at the same time: all that start by cur's
         * end less those that ended before its start */
        int live = fw_sum(px.fw_first, cur->last) - fw_sum(px.fw_last, cur->first - 1);
        size_t off = 0;
        if (live > PLAN_FIRST_FIT_MAX) {
            off = sky_query(&px, 1, 0, px.leaves - 1, cur->first, cur->last);
        } else {
            /* those buffers sorted by offset; the lowest (or smallest) gap that fits */
            int np = pix_query(&px, cur->first, cur->last, hits);
            for (int p = 0; p < np; p++) placed[p] = &bufs[hits[p]];
            qsort(placed, (size_t)np, sizeof *placed, cmp_off);
            size_t end = 0, best_off = SIZE_MAX, best_gap = SIZE_MAX;
            for (int p = 0; p < np; p++) {
                plan_buf *o = placed[p];
                if (o->off >= end + cur->size) { /* the gap [end, o->off) fits */
                    if (!best) break;        /* first fit: the lowest such gap */
                    if (o->off - end < best_gap) best_gap = o->off - end, best_off = end;
                }
                if (o->off + o->size > end) end = o->off + o->size;
            }
            /* first fit stopped at its gap (or went past every buffer);
             * best fit takes the smallest gap, else the top */
            off = best && best_off != SIZE_MAX ? best_off : end;
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
done:
    plan_index_free(&px);
    nne_free(hits);
    nne_free(placed);
    return total;
}

/*
 * The arena layout. Lifetimes are [producer, last reader]. In place: the
 * output of an element-by-element op (inplace_op) takes the buffer of a
 * float input of its shape whose last reader it is (the chain of such
 * values shares one buffer, alive from its first producer to its last
 * reader). Buffers are sorted largest first and placed twice, first fit
 * and best fit; the smaller arena wins. s->arena_bound is the lower bound
 * of any placement of these buffers: the most bytes alive at one node.
 */
static nne_status plan_arena(nne_plan *s) {
    const nne_graph *g = s->g;
    int nb = 0, ng = 0;
    plan_buf *bufs = nne_calloc((size_t)s->nv + 1, sizeof *bufs);
    plan_buf *grp = nne_calloc((size_t)s->nv + 1, sizeof *grp);
    int *idx_of = nne_calloc((size_t)s->nv + 1, sizeof(int));
    int *up = nne_calloc((size_t)s->nv + 1, sizeof(int));
    int *gi = nne_calloc((size_t)s->nv + 1, sizeof(int));
    int *par = nne_calloc((size_t)s->nv + 1, sizeof(int)); /* the buffer an output took in place, -1 */
    size_t *live = nne_calloc((size_t)s->nn + 2, sizeof(size_t));
    if (!bufs || !grp || !idx_of || !up || !gi || !par || !live) goto oom;
    for (int v = 0; v < s->nv; v++) idx_of[v] = -1;
    for (int v = 0; v < s->nv; v++) {
        if (s->vstate[v] != VS_STATIC) continue;
        size_t sz = nne_tensor_nbytes(&s->shape[v]);
        bufs[nb].v = v;
        bufs[nb].size = nne_size_align64(sz);
        bufs[nb].first = g->values[v].producer;
        bufs[nb].last = g->values[v].is_output ? s->nn : g->values[v].producer;
        if (bufs[nb].first < 0) bufs[nb].first = 0;
        if (bufs[nb].last < bufs[nb].first) bufs[nb].last = bufs[nb].first;
        up[nb] = nb;
        par[nb] = -1;
        idx_of[v] = nb++;
    }
    /* last uses */
    for (int i = 0; i < s->nn; i++) {
        const nne_node *n = &g->nodes[i];
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v >= 0 && idx_of[v] >= 0 && bufs[idx_of[v]].last < i) bufs[idx_of[v]].last = i;
        }
        for (int k = s->build.impl_start[i]; k < s->build.impl_start[i + 1]; k++) {
            int v = s->build.impl[k];
            if (idx_of[v] >= 0 && bufs[idx_of[v]].last < i) bufs[idx_of[v]].last = i;
        }
    }
    /* in place: an output joins the buffer of an input that dies at its node */
    for (int i = 0; i < s->nn; i++) {
        const nne_node *n = &g->nodes[i];
        if (s->node_mode[i] != NM_STATIC || n->n_out < 1 || n->out[0] < 0 || idx_of[n->out[0]] < 0) continue;
        if (alias_op(n)) {
            /* reshape-like: input 0's bytes, any dtype */
            int v = n->in[0];
            const nne_tensor *o = &s->shape[n->out[0]];
            if (v < 0 || idx_of[v] < 0 || bufs[idx_of[v]].last != i || bufs[idx_of[v]].first == i) continue;
            const nne_tensor *t = &s->shape[v];
            if (t->dtype != o->dtype || nne_tensor_nbytes(t) != nne_tensor_nbytes(o)) continue;
            up[idx_of[n->out[0]]] = grp_root(up, idx_of[v]);
            par[idx_of[n->out[0]]] = idx_of[v];
            continue;
        }
        if (!inplace_op(n)) continue;
        const nne_tensor *o = &s->shape[n->out[0]];
        if (o->dtype != NNE_DTYPE_FLOAT) continue;
        for (int k = 0; k < n->n_in; k++) {
            int v = n->in[k];
            if (v < 0 || idx_of[v] < 0 || bufs[idx_of[v]].last != i || bufs[idx_of[v]].first == i) continue;
            const nne_tensor *t = &s->shape[v];
            int same = t->dtype == o->dtype && t->ndim == o->ndim;
            for (int d = 0; same && d < t->ndim; d++) same = t->dims[d] == o->dims[d];
            if (!same) continue;
            up[idx_of[n->out[0]]] = grp_root(up, idx_of[v]);
            par[idx_of[n->out[0]]] = idx_of[v];
            break;
        }
    }
    /* one placed buffer per group */
    for (int b = 0; b < nb; b++) {
        int r = grp_root(up, b);
        if (r == b) {
            grp[ng] = bufs[b];
            grp[ng].v = b;
            gi[b] = ng++;
        }
    }
    for (int b = 0; b < nb; b++) {
        plan_buf *G = &grp[gi[grp_root(up, b)]];
        if (bufs[b].size > G->size) G->size = bufs[b].size;
        if (bufs[b].first < G->first) G->first = bufs[b].first;
        if (bufs[b].last > G->last) G->last = bufs[b].last;
    }
    /* the lower bound: the most bytes alive at one node */
    for (int k = 0; k < ng; k++) {
        live[grp[k].first] += grp[k].size;
        live[grp[k].last + 1] -= grp[k].size;
    }
    size_t cur = 0, bound = 0;
    for (int i = 0; i <= s->nn; i++) {
        cur += live[i];
        if (cur > bound) bound = cur;
    }
    qsort(grp, (size_t)ng, sizeof *grp, cmp_size_desc);
    size_t t_first = place_bufs(grp, ng, s->nn, 0);
    size_t total = t_first;
    if (t_first != SIZE_MAX && t_first > bound) {
        /* keep first fit's offsets in bufs[].off while best fit tries */
        for (int k = 0; k < ng; k++) bufs[grp[k].v].off = grp[k].off;
        size_t t_best = place_bufs(grp, ng, s->nn, 1);
        if (t_best == SIZE_MAX) total = SIZE_MAX;
        else if (t_best < t_first) total = t_best;
        else
            for (int k = 0; k < ng; k++) grp[k].off = bufs[grp[k].v].off;
    }
    if (total == SIZE_MAX) goto oom;
    for (int k = 0; k < ng; k++) bufs[grp[k].v].off = grp[k].off; /* the root's offset */
    s->life_first = nne_calloc((size_t)s->nv + 1, sizeof(int));
    s->life_last = nne_calloc((size_t)s->nv + 1, sizeof(int));
    s->inplace_of = nne_calloc((size_t)s->nv + 1, sizeof(int));
    if (!s->life_first || !s->life_last || !s->inplace_of) goto oom;
    for (int v = 0; v < s->nv; v++) s->inplace_of[v] = -1;
    for (int b = 0; b < nb; b++) {
        int v = bufs[b].v;
        s->offset[v] = bufs[grp_root(up, b)].off;
        s->life_first[v] = bufs[b].first;
        s->life_last[v] = bufs[b].last;
        if (par[b] >= 0) s->inplace_of[v] = bufs[par[b]].v;
    }
    nne_free(bufs);
    nne_free(grp);
    nne_free(idx_of);
    nne_free(up);
    nne_free(gi);
    nne_free(par);
    nne_free(live);
    if (s->opt.arena_limit_bytes && total > s->opt.arena_limit_bytes)
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: the plan needs %zu arena bytes, over the limit of %zu",
                         total, s->opt.arena_limit_bytes);
    s->arena_size = total;
    s->arena_bound = bound;
    return NNE_OK;
oom:
    nne_free(bufs);
    nne_free(grp);
    nne_free(idx_of);
    nne_free(up);
    nne_free(gi);
    nne_free(par);
    nne_free(live);
    return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory");
}

static nne_status seed_input(nne_plan *s, int v, int32_t n, const char *const *names, const nne_tensor *shapes) {
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

/* --------------------------------------------------------------- plan -- */

/* Subgraphs of g and of their nodes, recursively: count, or fill p->sub_*. */
static int count_subgraphs(const nne_graph *g) {
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++)
            if (g->nodes[i].attrs[a].g) n += 1 + count_subgraphs(g->nodes[i].attrs[a].g);
    return n;
}
static nne_status plan_subgraphs(nne_plan *p, const nne_graph *g) {
    for (int i = 0; i < g->n_nodes; i++)
        for (int a = 0; a < g->nodes[i].n_attr; a++) {
            const nne_graph *sg = g->nodes[i].attrs[a].g;
            if (!sg) continue;
            p->sub_g[p->n_sub] = sg;
            /* counted before init: a half-initialized exec is freed by nne_plan_destroy too */
            exec *sx = &p->sub_ex[p->n_sub++];
            NNE_TRY(exec_init(sx, p, NULL, &p->build_rng, sg, NULL, NULL));
            NNE_TRY(plan_subgraphs(p, sg));
        }
    return NNE_OK;
}

void nne_plan_destroy(nne_plan *p) {
    if (!p) return;
    if (p->folded)
        for (int v = 0; v < p->nv; v++)
            if (p->folded[v]) value_free(&p->shape[v]);
    if (p->state)
        for (int i = 0; i < p->nn; i++) {
            const nne_op_def *op = p->g->nodes[i].op;
            if (p->state[i] && op && op->state_free) op->state_free(p->state[i]);
            nne_free(p->state[i]);
        }
    if (p->m) nne_model_session_ref(p->m, -1);
    exec_free(&p->build);
    nne_threadpool_destroy(p->pool);
    for (int k = 0; k < p->n_sub; k++) exec_free(&p->sub_ex[k]);
    nne_free(p->sub_ex);
    nne_free((void *)p->sub_g);
    nne_free(p->vstate);
    nne_free(p->shape);
    nne_free(p->folded);
    nne_free(p->node_mode);
    nne_free(p->state);
    nne_free(p->macs);
    nne_free(p->offset);
    nne_free(p->life_first);
    nne_free(p->life_last);
    nne_free(p->inplace_of);
    nne_free(p);
}

/* The plan's per-value and per-node arrays (s->nv, s->nn set). */
static nne_status plan_alloc(nne_plan *s) {
    size_t nv = (size_t)s->nv + 1;
    s->vstate = nne_calloc(nv, 1);
    s->shape = nne_calloc(nv, sizeof *s->shape);
    s->folded = nne_calloc(nv, 1);
    s->node_mode = nne_calloc((size_t)s->nn + 1, 1);
    s->state = nne_calloc((size_t)s->nn + 1, sizeof *s->state);
    s->macs = nne_calloc((size_t)s->nn + 1, sizeof *s->macs);
    s->offset = nne_calloc(nv, sizeof *s->offset);
    if (!s->vstate || !s->shape || !s->folded || !s->node_mode || !s->state || !s->macs || !s->offset)
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "plan: out of memory");
    return NNE_OK;
}

/* Steps 2 and 3 (see the top of the file) on a plan whose constants and
 * inputs are seeded: fold, shape and plan every node, then lay out the arena. */
static nne_status plan_build(nne_plan *s) {
    const nne_graph *g = s->g;
    nne_status st;
    if ((st = exec_init(&s->build, s, NULL, &s->build_rng, g, NULL, NULL)) != NNE_OK) return st;
    int n_sub = count_subgraphs(g);
    if (n_sub) {
        s->sub_g = nne_calloc((size_t)n_sub, sizeof *s->sub_g);
        s->sub_ex = nne_calloc((size_t)n_sub, sizeof *s->sub_ex);
        if (!s->sub_g || !s->sub_ex) return nne_error(NNE_ERR_OUT_OF_MEMORY, "plan: out of memory");
        if ((st = plan_subgraphs(s, g)) != NNE_OK) return st;
    }
    for (int i = 0; i < s->nn; i++) {
        const nne_node *nd = &g->nodes[i];
        if ((st = check_cancel(&s->opt)) != NNE_OK) return st;
        if (!nd->op)
            return nne_error(NNE_ERR_UNSUPPORTED, "node \"%s\": op %s%s%s (opset %d) is not supported", nd->name,
                             nd->domain, nd->domain[0] ? ":" : "", nd->op_type, nd->opset);
        int any_dyn = 0, all_const = 1, all_shaped = 1;
        for (int k = 0; k < nd->n_in; k++) {
            int v = nd->in[k];
            if (v < 0) continue;
            if (s->vstate[v] == VS_DYNAMIC || s->vstate[v] == VS_UNKNOWN) any_dyn = 1, all_shaped = 0;
            if (s->vstate[v] != VS_CONST) all_const = 0;
        }
        for (int k = s->build.impl_start[i]; k < s->build.impl_start[i + 1]; k++)
            if (s->vstate[s->build.impl[k]] == VS_DYNAMIC) any_dyn = 1;
        unsigned fl = nd->op->flags;
        int fold = !(fl & (NNE_OPF_NONDETERMINISTIC | NNE_OPF_SUBGRAPH | NNE_OPF_NO_FOLD)) &&
                   (all_const || ((fl & NNE_OPF_SHAPE_ONLY) && all_shaped));
        if (any_dyn && !fold) {
            s->node_mode[i] = NM_DYNAMIC;
        } else if (fold) {
            /* execute now; outputs become constants owned by the plan */
            st = run_node(&s->build, i, 0, POL_MALLOC, s->shape);
            if (st != NNE_OK) return st;
            for (int o = 0; o < nd->n_out; o++) {
                int v = nd->out[o];
                if (v < 0) continue;
                s->shape[v] = s->build.vals[v];
                s->folded[v] = s->build.owned[v];
                s->build.owned[v] = 0;
                memset(&s->build.vals[v], 0, sizeof s->build.vals[v]);
                s->vstate[v] = VS_CONST;
            }
            s->node_mode[i] = NM_FOLDED;
            continue;
        } else {
            for (int o = 0; o < nd->n_out; o++)
                if (nd->out[o] >= 0) s->shape[nd->out[o]].ndim = -1;
            st = run_node(&s->build, i, 1, POL_PLAN, s->shape);
            if (st == NNE_DYNAMIC) {
                s->node_mode[i] = NM_DYNAMIC;
            } else if (st != NNE_OK) {
                return st;
            } else {
                s->node_mode[i] = NM_STATIC;
                for (int o = 0; o < nd->n_out; o++) {
                    int v = nd->out[o];
                    if (v >= 0 && s->shape[v].ndim < 0)
                        /* a node with more outputs than its op has (the model is wrong) */
                        return nne_error(NNE_ERR_INVALID_ARG,
                                         "node \"%s\" (%s): the op gives no output %d of the node's %d; check the "
                                         "node against the op's definition", nd->name, nd->op_type, o, nd->n_out);
                }
                if ((st = plan_node(&s->build, i)) != NNE_OK) return st;
            }
        }
        for (int o = 0; o < nd->n_out; o++) {
            int v = nd->out[o];
            if (v >= 0) s->vstate[v] = s->node_mode[i] == NM_STATIC ? VS_STATIC : VS_DYNAMIC;
        }
    }
    return plan_arena(s);
}

nne_status nne_plan_create(const nne_model *m, const nne_session_options *opt, int32_t n, const char *const *names,
                           const nne_tensor *shapes, nne_plan **out) {
    if (!m || !out || (n > 0 && (!names || !shapes)) || n < 0)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_plan_create: NULL argument");
    *out = NULL;
    nne_session_options o = nne_session_options_default();
    nne_status ost = nne_options_read(&o, sizeof o, opt, "nne_session_options");
    if (ost != NNE_OK) return ost;
    nne_status wst = nne_model_weights_ready(m); /* misaligned mapped weights get their aligned copy */
    if (wst != NNE_OK) return wst;
    nne_plan *s = nne_calloc(1, sizeof *s);
    if (!s) return nne_error(NNE_ERR_OUT_OF_MEMORY, "plan: out of memory");
    const nne_graph *g = m->graph;
    s->m = m;
    /* a plan's state and packed weights point into the graph: it is frozen
     * while plans exist (nne_model_optimize refuses) */
    nne_model_session_ref(m, 1);
    s->g = g;
    s->opt = o;
    /* no pool (out of memory or threads) runs single-threaded: same results */
    /* more threads than this only add wake-ups: kernels split into at most one part per thread */
    if (o.threads > 1) s->pool = nne_threadpool_create(o.threads > 64 ? 64 : o.threads, nne_sgemm_worker_scratch());
    s->nv = g->n_values;
    s->nn = g->n_nodes;
    s->build_rng = 0x853c49e6748fea9bull;
    /* the plan's memory limit: what it allocates from here on (its budget
     * lives in the plan, which is allocated before it), plus the packed
     * weights it uses; a session charges its own budget instead */
    nne_budget *prev = NULL;
    int entered = 0;
    if (!nne_budget_current()) {
        s->own_budget = entered = 1;
        s->budget.limit = nne_session_options_memory_limit(&o);
        prev = nne_budget_enter(&s->budget);
    }
    nne_status st = plan_alloc(s);
    if (st != NNE_OK) goto fail;
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
        if (val->kind == NNE_VAL_CONST && val->trainable) {
            /* shaped, but no data at plan time: nothing folds or packs it */
            s->shape[v] = val->init;
            s->shape[v].data = NULL;
            s->vstate[v] = VS_PARAM;
        } else if (val->kind == NNE_VAL_CONST) {
            s->shape[v] = val->init;
            if (!s->shape[v].data) s->shape[v].data = g_empty;
            s->vstate[v] = VS_CONST;
        } else if (val->kind == NNE_VAL_INPUT) {
            if ((st = seed_input(s, v, n, names, shapes)) != NNE_OK) goto fail;
        }
    }
    if ((st = plan_build(s)) != NNE_OK) goto fail;
    if (entered) nne_budget_leave(prev);
    *out = s;
    return NNE_OK;
fail:
    if (entered) st = budget_fail(&s->budget, st, "plan", "the memory_limit_bytes option given to nne_plan_create");
    nne_plan_destroy(s);
    if (entered) nne_budget_leave(prev);
    return st;
}

size_t nne_plan_arena_bytes(const nne_plan *p) { return p ? p->arena_size : 0; }
size_t nne_plan_arena_bound_bytes(const nne_plan *p) { return p ? p->arena_bound : 0; }
size_t nne_plan_memory_bytes(const nne_plan *p) { return p ? nne_budget_used(&p->budget) : 0; }
size_t nne_plan_packed_bytes(const nne_plan *p) { return p ? p->packed_bytes : 0; }
size_t nne_plan_scratch_bytes(const nne_plan *p) { return p ? p->scratch_size : 0; }

int64_t nne_plan_macs(const nne_plan *p) {
    int64_t total = 0;
    for (int i = 0; p && i < p->nn; i++)
        if (p->node_mode[i] == NM_STATIC) total += p->macs[i];
    return total;
}

/* ------------------------------------------------------------ context -- */

static nne_status ctx_fail(nne_context *c, nne_status st) {
    snprintf(c->err, sizeof c->err, "%s", nne_last_error());
    return st;
}

const char *nne_context_last_error(const nne_context *c) { return c ? c->err : "no context"; }

void nne_context_destroy(nne_context *c) {
    if (!c) return;
    sub_caches_free(c);
    exec_free(&c->main);
    nne_aligned_free(c->arena);
    nne_aligned_free(c->scratch);
    nne_free(c->bound);
    nne_free((void *)c->obs_names);
    nne_free(c->obs_vals);
    nne_free(c);
}

nne_status nne_context_create(const nne_plan *p, nne_context **out) { return nne_context_create_opt(p, NULL, out); }

nne_status nne_context_create_opt(const nne_plan *p, const nne_context_options *opt, nne_context **out) {
    if (!p || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_context_create: NULL argument");
    *out = NULL;
    nne_context_options o = nne_context_options_default();
    NNE_TRY(nne_options_read(&o, sizeof o, opt, "nne_context_options"));
    nne_context *c = nne_calloc(1, sizeof *c);
    if (!c) return nne_error(NNE_ERR_OUT_OF_MEMORY, "context: out of memory");
    c->p = p;
    c->root = c;
    const char *sp = getenv("NNE_SUBGRAPH_PLANS");
    c->no_sub_plans = sp && !strcmp(sp, "0");
    c->rng = 0x853c49e6748fea9bull;
    /* the context's memory limit covers everything allocated from here on
     * and by its runs (its budget lives in c, allocated before it); inside a
     * session's call or a running context (a subgraph's context) the current
     * budget is charged instead */
    nne_budget *prev = NULL;
    int entered = 0;
    if (!nne_budget_current()) {
        c->own_budget = entered = 1;
        c->budget.limit = o.memory_limit_bytes == SIZE_MAX ? 0
                          : o.memory_limit_bytes    ? o.memory_limit_bytes
                                                    : nne_session_options_memory_limit(NULL);
        prev = nne_budget_enter(&c->budget);
    }
    /* the exec never writes the plan at run time: p is only read */
    nne_status st = exec_init(&c->main, (nne_plan *)p, c, &c->rng, p->g, NULL, &p->build);
    c->main.scope = c->scope;
    if (st != NNE_OK) goto fail;
    c->bound = nne_calloc((size_t)p->nv + 1, 1);
    c->arena = nne_aligned_alloc(p->arena_size ? p->arena_size : NNE_ALIGN);
    c->scratch = p->scratch_size ? nne_aligned_alloc(p->scratch_size) : NULL;
    c->scratch_cap = p->scratch_size;
    c->obs_names = nne_calloc((size_t)c->main.max_out, sizeof *c->obs_names);
    c->obs_vals = nne_calloc((size_t)c->main.max_out, sizeof *c->obs_vals);
    if (!c->bound || !c->obs_names || !c->obs_vals) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "context: out of memory");
        goto fail;
    }
    if (!c->arena) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "context: cannot allocate a %zu-byte arena", p->arena_size);
        goto fail;
    }
    if (p->scratch_size && !c->scratch) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "context: cannot allocate %zu bytes of scratch", p->scratch_size);
        goto fail;
    }
    /* runtime views: constants, and static values at their arena offsets */
    for (int v = 0; v < p->nv; v++) {
        if (p->vstate[v] == VS_CONST) c->main.vals[v] = p->shape[v];
        else if (p->vstate[v] == VS_PARAM) { /* its buffer, updated in place by nne_model_param_set */
            c->main.vals[v] = p->g->values[v].init;
            if (!c->main.vals[v].data) c->main.vals[v].data = g_empty;
        } else if (p->vstate[v] == VS_STATIC) {
            c->main.vals[v] = p->shape[v];
            c->main.vals[v].data = nne_tensor_nbytes(&p->shape[v]) ? c->arena + p->offset[v] : g_empty;
        }
    }
    if (entered) nne_budget_leave(prev);
    *out = c;
    return NNE_OK;
fail:
    if (entered) st = budget_fail(&c->budget, st, "context", "nne_context_options.memory_limit_bytes");
    nne_context_destroy(c);
    if (entered) nne_budget_leave(prev);
    return st;
}

nne_status nne_context_set_input(nne_context *c, const char *name, const nne_tensor *t) {
    if (!c || !name || !t) return nne_error(NNE_ERR_INVALID_ARG, "nne_context_set_input: NULL argument");
    const nne_plan *s = c->p;
    int v = nne_graph_find(s->g, name);
    if (v < 0 || s->vstate[v] != VS_INPUT)
        return ctx_fail(c, nne_error(NNE_ERR_INVALID_ARG, "the model has no input named \"%s\"", name));
    const nne_tensor *p = &s->shape[v];
    int same = p->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++) same = p->dims[d] == t->dims[d];
    char a[256], b[256];
    if (t->dtype != p->dtype)
        return ctx_fail(c, nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": expected dtype %s, got %s", name,
                                     nne_dtype_name(p->dtype), nne_dtype_name(t->dtype)));
    if (!same)
        return ctx_fail(c, nne_error(NNE_ERR_INVALID_ARG,
                                     "input \"%s\": expected shape %s (as prepared), got %s; prepare again to change "
                                     "shapes",
                                     name, nne_dims_str(p->ndim, p->dims, a, sizeof a),
                                     nne_dims_str(t->ndim, t->dims, b, sizeof b)));
    if (!t->data && nne_tensor_nbytes(t))
        return ctx_fail(c, nne_error(NNE_ERR_INVALID_ARG, "input \"%s\": data is NULL", name));
    c->main.vals[v] = *t;
    if (!c->main.vals[v].data) c->main.vals[v].data = g_empty;
    c->bound[v] = 1;
    return NNE_OK;
}

void nne_context_set_observer(nne_context *c, nne_observer_fn fn, void *user) {
    if (!c) return;
    c->observer = fn;
    c->observer_user = user;
}

/* Hand node ni's outputs to the observer (sequences and other non-tensor
 * values as dtype UNDEFINED with no data). */
static void observe(nne_context *c, int ni) {
    const nne_node *n = &c->p->g->nodes[ni];
    int k = 0;
    for (int o = 0; o < n->n_out; o++) {
        int v = n->out[o];
        if (v < 0) continue;
        c->obs_names[k] = c->p->g->values[v].name;
        c->obs_vals[k] = c->main.vals[v];
        if (c->obs_vals[k].dtype == NNE_DTYPE_SEQUENCE || !c->obs_vals[k].data) {
            memset(&c->obs_vals[k], 0, sizeof c->obs_vals[k]);
        }
        k++;
    }
    const char *name = n->name;
    if (c->scope[0]) { /* a subgraph body's node: named with its scope */
        snprintf(c->obs_name, sizeof c->obs_name, "%s%s", c->scope, n->name);
        name = c->obs_name;
    }
    c->observer(c->observer_user, name, n->op_type, k, c->obs_names, c->obs_vals);
}

nne_status nne_context_run(nne_context *c) {
    if (!c) return nne_error(NNE_ERR_INVALID_ARG, "nne_context_run: NULL context");
    const nne_plan *s = c->p;
    for (int i = 0; i < s->m->n_feed; i++) {
        int v = s->m->feed[i];
        if (!c->bound[v])
            return ctx_fail(c, nne_error(NNE_ERR_INVALID_ARG, "input \"%s\" was not given", s->g->values[v].name));
    }
    c->loop_iters = 0;
    nne_budget *prev = c->own_budget ? nne_budget_enter(&c->budget) : NULL;
    nne_status st = context_exec(c);
    if (st != NNE_OK && c->own_budget) st = budget_fail(&c->budget, st, "context", "nne_context_options.memory_limit_bytes");
    if (c->own_budget) nne_budget_leave(prev);
    return st == NNE_OK ? st : ctx_fail(c, st);
}

/* Run the nodes of c's plan on its bound inputs (a context run by the user,
 * or a subgraph body's context). */
static nne_status context_exec(nne_context *c) {
    const nne_plan *s = c->p;
    exec *ex = &c->main;
    exec_release_dynamic(ex);
    memcpy(ex->uses_left, ex->uses, (size_t)s->nv * sizeof(int));
    for (int i = 0; i < s->nn; i++) {
        if (s->node_mode[i] != NM_FOLDED) {
            nne_status st = check_cancel(&s->opt);
            if (st != NNE_OK) return st;
            st = run_node(ex, i, 0, s->node_mode[i] == NM_STATIC ? POL_PLAN : POL_MALLOC, NULL);
            if (st != NNE_OK) return st;
        }
        if (c->observer) observe(c, i);
        if (s->node_mode[i] != NM_FOLDED) release_inputs(ex, i);
    }
    return NNE_OK;
}

nne_status nne_context_output(const nne_context *c, int32_t i, nne_tensor *out) {
    if (!c || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_context_output: NULL argument");
    if (i < 0 || i >= c->p->g->n_outputs)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_context_output: no output %d", (int)i);
    *out = c->main.vals[c->p->g->outputs[i]];
    return NNE_OK;
}

size_t nne_context_arena_bytes(const nne_context *c) { return c ? c->p->arena_size : 0; }
size_t nne_context_memory_bytes(const nne_context *c) { return c ? nne_budget_used(&c->budget) : 0; }
size_t nne_context_memory_peak(const nne_context *c) { return c ? c->budget.peak : 0; }

/* ------------------------------------------------------------ session -- */

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

size_t nne_session_memory_bytes(const nne_session *s) { return s ? nne_budget_used(&s->budget) : 0; }
size_t nne_session_memory_peak(const nne_session *s) { return s ? s->budget.peak : 0; }

const char *nne_session_last_error(const nne_session *s) { return s ? s->err : "no session"; }

nne_status nne_session_create(const nne_model *m, const nne_session_options *opt, nne_session **out) {
    if (!m || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_create: NULL argument");
    *out = NULL;
    nne_session_options o = nne_session_options_default();
    nne_status ost = nne_options_read(&o, sizeof o, opt, "nne_session_options");
    if (ost != NNE_OK) return ost;
    nne_status wst = nne_model_weights_ready(m); /* misaligned mapped weights get their aligned copy */
    if (wst != NNE_OK) return wst;
    nne_session *s = nne_calloc(1, sizeof *s);
    if (!s) return nne_error(NNE_ERR_OUT_OF_MEMORY, "session: out of memory");
    s->m = m;
    nne_model_session_ref(m, 1); /* nne_model_optimize refuses while sessions exist */
    s->opt = o;
    s->budget.limit = nne_session_options_memory_limit(&s->opt);
    *out = s;
    return NNE_OK;
}

static void unprepare(nne_session *s) {
    nne_context_destroy(s->c);
    nne_plan_destroy(s->p);
    s->c = NULL;
    s->p = NULL;
}

void nne_session_destroy(nne_session *s) {
    if (!s) return;
    unprepare(s);
    nne_model_session_ref(s->m, -1);
    nne_free(s);
}

nne_status nne_session_prepare(nne_session *s, int32_t n, const char *const *names, const nne_tensor *shapes) {
    if (!s) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_prepare: NULL session");
    /* everything the plan and the context allocate is charged to the
     * session's memory budget (alloc.c) */
    s->budget.refused = 0;
    nne_budget *prev = nne_budget_enter(&s->budget);
    unprepare(s);
    nne_status st = nne_plan_create(s->m, &s->opt, n, names, shapes, &s->p);
    if (st == NNE_OK) st = nne_context_create(s->p, &s->c);
    if (st != NNE_OK) {
        st = sess_fail(s, st);
        unprepare(s);
    }
    nne_budget_leave(prev);
    return st;
}

nne_status nne_session_set_input(nne_session *s, const char *name, const nne_tensor *t) {
    if (!s || !name || !t) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_set_input: NULL argument");
    if (!s->c) return sess_fail(s, nne_error(NNE_ERR_INVALID_ARG, "session is not prepared"));
    nne_status st = nne_context_set_input(s->c, name, t);
    return st == NNE_OK ? st : sess_fail(s, st);
}

nne_status nne_session_run(nne_session *s) {
    if (!s) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_run: NULL session");
    if (!s->c) return sess_fail(s, nne_error(NNE_ERR_INVALID_ARG, "session is not prepared"));
    s->budget.refused = 0;
    nne_budget *prev = nne_budget_enter(&s->budget);
    nne_status st = nne_context_run(s->c);
    if (st != NNE_OK) st = sess_fail(s, st);
    nne_budget_leave(prev);
    return st;
}

nne_status nne_session_output(const nne_session *s, int32_t i, nne_tensor *out) {
    if (!s || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_output: NULL argument");
    if (!s->c) return nne_error(NNE_ERR_INVALID_ARG, "nne_session_output: no output %d", (int)i);
    return nne_context_output(s->c, i, out);
}

void nne_session_set_observer(nne_session *s, nne_observer_fn fn, void *user) {
    if (s) nne_context_set_observer(s->c, fn, user);
}

size_t nne_session_arena_bytes(const nne_session *s) { return s ? nne_plan_arena_bytes(s->p) : 0; }
size_t nne_session_arena_bound_bytes(const nne_session *s) { return s ? nne_plan_arena_bound_bytes(s->p) : 0; }
int32_t nne_session_num_nodes(const nne_session *s) { return s && s->p ? s->p->nn : 0; }
nne_status nne_session_node_info(const nne_session *s, int32_t i, const char **name, const char **op_type) {
    if (!s || !s->p || i < 0 || i >= s->p->nn)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_session_node_info: node %d out of range (%d nodes)", (int)i,
                         s && s->p ? s->p->nn : 0);
    if (name) *name = s->p->g->nodes[i].name;
    if (op_type) *op_type = s->p->g->nodes[i].op_type;
    return NNE_OK;
}
int64_t nne_session_node_macs(const nne_session *s, int32_t i) {
    if (!s || !s->p || i < 0 || i >= s->p->nn) return -1;
    return s->p->node_mode[i] == NM_STATIC ? s->p->macs[i] : 0;
}
int64_t nne_session_macs(const nne_session *s) { return s ? nne_plan_macs(s->p) : 0; }
const nne_plan *nne_session_plan(const nne_session *s) { return s ? s->p : NULL; }
nne_context *nne_session_context(nne_session *s) { return s ? s->c : NULL; }

/* ---- introspection for tests (src/ir/session_internal.h) ---- */

void nne_plan_debug_counts(const nne_plan *s, int *folded, int *planned, int *dynamic) {
    *folded = *planned = *dynamic = 0;
    for (int i = 0; s && i < s->nn; i++) {
        if (s->node_mode[i] == NM_FOLDED) (*folded)++;
        else if (s->node_mode[i] == NM_STATIC) (*planned)++;
        else (*dynamic)++;
    }
}

void nne_session_debug_counts(const nne_session *s, int *folded, int *planned, int *dynamic) {
    nne_plan_debug_counts(s ? s->p : NULL, folded, planned, dynamic);
}

int nne_plan_check(const nne_plan *s) {
    int bad = 0;
    for (int a = 0; s && a < s->nv; a++) {
        if (s->vstate[a] != VS_STATIC) continue;
        size_t sa = nne_tensor_nbytes(&s->shape[a]);
        if (s->offset[a] + sa > s->arena_size) bad++;
        for (int b = a + 1; b < s->nv; b++) {
            if (s->vstate[b] != VS_STATIC) continue;
            size_t sb = nne_tensor_nbytes(&s->shape[b]);
            int live = !(s->life_last[a] < s->life_first[b] || s->life_last[b] < s->life_first[a]);
            /* an output made in place of an input that dies at its node */
            if ((s->inplace_of[b] == a && s->life_last[a] == s->life_first[b]) ||
                (s->inplace_of[a] == b && s->life_last[b] == s->life_first[a]))
                live = 0;
            int mem = sa && sb && s->offset[a] < s->offset[b] + sb && s->offset[b] < s->offset[a] + sa;
            if (live && mem) bad++;
        }
    }
    return bad;
}

int nne_session_plan_check(const nne_session *s) { return nne_plan_check(s ? s->p : NULL); }

/* Node i of the plan: 1 when it is planned with per-node state (a phased op). */
int nne_plan_node_phased(const nne_plan *p, int i) {
    return p && i >= 0 && i < p->nn && p->node_mode[i] == NM_STATIC && p->g->nodes[i].op &&
           !p->g->nodes[i].op->eval;
}

/* ---- constant folding's entry point (declared in src/ir/graph.h) ---- */

/*
 * Evaluate node ni of g alone: a one-node view of the graph (the node's own
 * attributes, its inputs bound to the given constants, every output wanted)
 * run through a temporary plan with no model (so nothing is cached), first
 * in shape mode to learn the output sizes without computing, then for real.
 * Nothing of the model is modified.
 */
static nne_status node_eval(const nne_graph *g, int ni, const nne_tensor *const *ins, const uint8_t *shape_only_in,
                            size_t max_out_bytes, nne_tensor *outs, int *skipped);

nne_status nne_node_eval(const nne_graph *g, int ni, const nne_tensor *const *ins, size_t max_out_bytes,
                         nne_tensor *outs, int *skipped) {
    return node_eval(g, ni, ins, NULL, max_out_bytes, outs, skipped);
}

/* Shape inference of one node for the passes: as nne_node_eval, but inputs
 * marked in shape_only_in have a shape and no data (the op sees them as
 * activations), nothing is computed, and outs get dtype and shape only
 * (*skipped = 1 when the op needs data to know them). */
nne_status nne_node_infer(const nne_graph *g, int ni, const nne_tensor *const *ins, const uint8_t *shape_only_in,
                          nne_tensor *outs, int *skipped) {
    return node_eval(g, ni, ins, shape_only_in, 0, outs, skipped);
}

static nne_status node_eval(const nne_graph *g, int ni, const nne_tensor *const *ins, const uint8_t *shape_only_in,
                            size_t max_out_bytes, nne_tensor *outs, int *skipped) {
    const nne_node *src = &g->nodes[ni];
    int n_in = src->n_in, n_out = src->n_out, nv = n_in + n_out;
    *skipped = 0;
    for (int o = 0; o < n_out; o++) memset(&outs[o], 0, sizeof outs[o]);
    nne_graph tg;
    nne_node tn = *src;
    memset(&tg, 0, sizeof tg);
    nne_value *vals = nne_calloc((size_t)nv + 1, sizeof *vals);
    int *idx = nne_calloc((size_t)nv + 1, sizeof(int));
    nne_plan *s = nne_calloc(1, sizeof *s);
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
    s->m = NULL; /* no model: no packed-weight cache */
    s->g = &tg;
    s->nv = nv;
    s->nn = 1;
    s->opt = nne_session_options_default();
    s->build_rng = 0x853c49e6748fea9bull;
    s->shape = nne_calloc((size_t)nv + 1, sizeof *s->shape);
    s->vstate = nne_calloc((size_t)nv + 1, 1);
    if (!s->shape || !s->vstate) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "constant folding: out of memory");
        goto done;
    }
    for (int k = 0; k < n_in; k++)
        if (ins[k]) {
            s->shape[k] = *ins[k];
            if (shape_only_in && shape_only_in[k]) {
                s->shape[k].data = NULL;
                s->vstate[k] = VS_STATIC;
                continue;
            }
            if (!s->shape[k].data) s->shape[k].data = g_empty;
            s->vstate[k] = VS_CONST;
        }
    if ((st = exec_init(&s->build, s, NULL, &s->build_rng, &tg, NULL, NULL)) != NNE_OK) goto done;
    st = run_node(&s->build, 0, 1, POL_PLAN, s->shape);
    if (st == NNE_DYNAMIC) { /* size known only by running: not folded */
        *skipped = 1;
        st = NNE_OK;
        goto done;
    }
    if (st != NNE_OK) goto done;
    if (shape_only_in) { /* inference only: dtype and shape */
        for (int o = 0; o < n_out; o++) {
            outs[o] = s->shape[n_in + o];
            outs[o].data = NULL;
            if (outs[o].ndim < 0) *skipped = 1;
        }
        goto done;
    }
    size_t total = 0;
    for (int o = 0; o < n_out; o++) {
        size_t nb = nne_tensor_nbytes(&s->shape[n_in + o]);
        if (s->shape[n_in + o].ndim < 0 || nb > max_out_bytes - total) {
            *skipped = 1;
            goto done;
        }
        total += nb;
    }
    if ((st = run_node(&s->build, 0, 0, POL_MALLOC, s->shape)) != NNE_OK) goto done;
    for (int o = 0; o < n_out; o++) {
        nne_tensor *t = &s->build.vals[n_in + o];
        outs[o] = *t;
        if (s->build.owned[n_in + o]) {
            s->build.owned[n_in + o] = 0; /* handed to the caller */
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
        exec_free(&s->build);
        nne_free(s->shape);
        nne_free(s->vstate);
        nne_free(s);
    }
    nne_free(vals);
    nne_free(idx);
    return st;
}
