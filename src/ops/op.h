/*
 * op.h - the interface every operator implements.
 *
 * An op is defined in phases (XNNPACK create/reshape/run, TFLM
 * init/prepare/invoke, see STYLE.md section 5):
 *   - infer(ctx): validate attributes and input dtypes/shapes, declare every
 *     output with nne_ctx_output(). Inputs carry dtype and shape; their data
 *     is non-NULL only for constants. If an output shape depends on data not
 *     known yet, return nne_ctx_need_data(ctx, t) == NNE_DYNAMIC: the node is
 *     then shaped, planned and run at run time (outputs allocated then).
 *   - plan(ctx, state): called once per prepared shape, after infer, with the
 *     outputs declared (nne_ctx_output_get). Choose the kernel (dtype, shape,
 *     the kernel table of src/kernels/dispatch.h), parse attributes into
 *     `state` (state_size bytes, zeroed, owned by the plan), precompute
 *     parameters, pack constant weights (through the weight cache,
 *     nne_ctx_weight_cache) and request scratch with nne_ctx_scratch().
 *     plan may be NULL: infer is then called again in planning mode and
 *     fills the state itself (nne_ctx_plan_state(ctx) is non-NULL, outputs
 *     are already declared, nne_ctx_shape_only(ctx) is 1), so one prologue
 *     serves both phases.
 *   - run(state, args): inputs, outputs (already bound), scratch. No
 *     attribute lookups, no allocation. May fail only on data it reads
 *     (indices out of range), with nne_ctx_fail(args->ctx, ...). args->ctx
 *     also serves the per-context generator (nne_ctx_rand: Random*,
 *     Bernoulli, Multinomial) and subgraph runs (nne_ctx_run_graph:
 *     FlexAttention's modifiers, whose values are allocated by the subgraph
 *     run, as for If/Loop/Scan).
 *   - state_free(state): frees what plan allocated besides the state block.
 *   - macs(ctx): multiply-accumulates of the node (ctx as in plan).
 *   - gradient, quant: empty slots, filled by the training and int8 issues.
 * Ops whose output shape depends on data (NonZero, Unique, TopK/OneHot/
 * Range/ConstantOfShape/... with non-constant inputs, NonMaxSuppression)
 * return NNE_DYNAMIC from nne_ctx_need_data at prepare; the node is then
 * shaped at run time: infer runs with the data (and may count in a
 * temporary buffer: infer may allocate, run may not), then plan, then run.
 *
 * A one-function op (the few listed below) is `eval(ctx)`, called in two modes
 * (the adapter in src/ir/session.c runs it as infer in shape mode and as
 * infer + run in run mode):
 *   - shape mode (nne_ctx_shape_only(ctx) != 0): validate, declare outputs,
 *     request scratch, return NNE_OK *before touching data*.
 *   - run mode: the same prologue runs again (outputs get their buffers from
 *     the planned arena), then the kernel computes.
 *
 * Every op is phased except these one-function ops:
 *   - the ops that make sequences: SequenceEmpty, SequenceConstruct,
 *     SequenceInsert, SequenceErase, SplitToSequence, and Optional /
 *     OptionalGetElement (which pass a sequence through). Their output is a
 *     new sequence assembled at run time from tensors they allocate and hand
 *     to nne_ctx_output_seq; outputs cannot be bound before run and run
 *     cannot avoid allocating, so the phases give them nothing. (The ops
 *     that read a sequence and give a tensor -- SequenceAt, SequenceLength,
 *     ConcatFromSequence, OptionalHasElement -- are phased.)
 *   - If, Loop, Scan (control_flow.c). Their output shapes are known only
 *     after a body has run (which branch, how many iterations), so they are
 *     always shaped at run time, where a phased op would get a state made
 *     and freed on every run: infer would have to run the body to declare
 *     the outputs, and plan and run would have nothing left to do. What the
 *     phases give other ops -- work done once and kept -- they get from the
 *     subgraph plans instead: each body is planned once per context and
 *     input-shape signature (nne_ctx_run_graph_view; src/ir/session.c,
 *     "subgraph plans"), so a Loop body's nodes run with their own per-node
 *     state, without attribute lookups or allocation, after the first
 *     iteration. What is left per run here is the node's own prologue (its
 *     subgraph attributes and the copies of loop-carried values).
 * The adapter stays for these.
 *
 * Registration: in src/ops/<op>.c write
 *     NNE_OP_DEFINE(Relu, "", "Relu", .infer = relu_infer, .plan = relu_plan,
 *                   .run = relu_run, .state_size = sizeof(relu_state));
 * or, for a one-function op, NNE_OP_REGISTER(Relu, "", "Relu", relu_eval, 0).
 * The Makefile collects every such line into the op table. The ctx gives the
 * opset version of the node's domain (nne_ctx_opset) so one definition
 * handles all versions of an op.
 */
#ifndef NNE_OPS_OP_H
#define NNE_OPS_OP_H

#include "nnedge.h"
#include "core/size.h"
#include <stdint.h>
#include <stddef.h>

/* Internal status: the output shape depends on data not known at prepare. */
#define NNE_DYNAMIC ((nne_status)100)

#define NNE_TRY(expr) do { nne_status nne_try_st_ = (expr); if (nne_try_st_ != NNE_OK) return nne_try_st_; } while (0)

typedef struct nne_op_ctx nne_op_ctx;
struct nne_graph;

/* One-function op: both modes (see above). */
typedef nne_status (*nne_op_eval_fn)(nne_op_ctx *ctx);
/* Phased op: declare outputs. */
typedef nne_status (*nne_op_infer_fn)(nne_op_ctx *ctx);
/* Phased op: fill `state` (state_size bytes, zeroed) for the shapes in ctx. */
typedef nne_status (*nne_op_plan_fn)(nne_op_ctx *ctx, void *state);

/* What run gets: the node's inputs (NULL where absent), its outputs (data
 * bound; NULL for an empty output name), the scratch requested at plan
 * (64-byte aligned, private to this run), and ctx for nne_ctx_fail only. */
typedef struct nne_kernel_args {
    const nne_tensor *const *in;
    nne_tensor *const *out;
    int n_in, n_out;
    void *scratch;
    nne_op_ctx *ctx;
} nne_kernel_args;
typedef nne_status (*nne_op_run_fn)(const void *state, const nne_kernel_args *a);
typedef void (*nne_op_state_free_fn)(void *state);
typedef int64_t (*nne_op_macs_fn)(nne_op_ctx *ctx);

enum {
    NNE_OPF_NONDETERMINISTIC = 1, /* never constant-folded (Random*) */
    NNE_OPF_SHAPE_ONLY = 2,       /* reads input shapes only, never data (Shape, Size) */
    NNE_OPF_SUBGRAPH = 4,         /* runs subgraphs (If, Loop, Scan) */
    NNE_OPF_NO_FOLD = 8           /* never constant-folded (makes sequences) */
};

/* Sequences (ONNX seq(tensor)) travel as a tensor of this internal dtype
 * whose data points to the sequence; use the nne_seq_* accessors. Sequence
 * values are always shaped at run time. */
#define NNE_DTYPE_SEQUENCE ((nne_dtype)0x100)
int nne_seq_length(const nne_tensor *seq);
const nne_tensor *nne_seq_item(const nne_tensor *seq, int k);
/* Declare output i as a sequence of n tensors. Takes ownership of every
 * items[k].data (allocated with nne_tensor_clone or nne_aligned_alloc), on
 * failure too. In shape mode returns NNE_DYNAMIC. */
nne_status nne_ctx_output_seq(nne_op_ctx *ctx, int i, int n, nne_tensor *items);
/* Deep copy of a tensor (or sequence); dst->data freed with nne_tensor_free_data. */
nne_status nne_tensor_clone(const nne_tensor *src, nne_tensor *dst);

typedef struct nne_op_def {
    const char *domain;  /* "" for ai.onnx */
    const char *op_type;
    unsigned flags;      /* NNE_OPF_* */
    nne_op_eval_fn eval; /* set for ops not converted to phases, else NULL */
    /* phases (eval == NULL) */
    nne_op_infer_fn infer;
    nne_op_plan_fn plan;       /* NULL: infer fills the state (see above) */
    nne_op_run_fn run;
    nne_op_state_free_fn state_free; /* NULL: the state holds no allocations */
    size_t state_size;         /* bytes of per-node state (0: none) */
    nne_op_macs_fn macs;       /* NULL: 0 MACs (any op form) */
    /* slots for later issues; NULL until they fill them */
    const void *gradient; /* training: the op's gradient rule */
    const void *quant;    /* int8: the op's quantization rule */
} nne_op_def;

#define NNE_OP_REGISTER(sym, dom_, type_, fn_, flags_) \
    const nne_op_def nne_opdef_##sym = {.domain = dom_, .op_type = type_, .eval = fn_, .flags = flags_}
#define NNE_OP_DEFINE(sym, dom_, type_, ...) \
    const nne_op_def nne_opdef_##sym = {.domain = dom_, .op_type = type_, __VA_ARGS__}

/* Find the op for (domain, op_type); domain "" and "ai.onnx" are the same. */
const nne_op_def *nne_op_find(const char *domain, const char *op_type);

/* ---- context ---- */
int nne_ctx_shape_only(const nne_op_ctx *ctx);   /* also 1 while planning */
/* The state being planned, when infer is called to fill it (plan == NULL);
 * NULL otherwise. */
void *nne_ctx_plan_state(const nne_op_ctx *ctx);
int nne_ctx_opset(const nne_op_ctx *ctx);          /* opset of the node's domain */
/* An op that runs another op's phases on its own node (the fused ops of
 * nn_fused.c) sets the ONNX opset the inner op sees for this call. */
void nne_ctx_set_inner_opset(nne_op_ctx *ctx, int opset);
const char *nne_ctx_node_name(const nne_op_ctx *ctx);
int nne_ctx_num_inputs(const nne_op_ctx *ctx);      /* as written in the node, incl. empty ones */
int nne_ctx_num_outputs(const nne_op_ctx *ctx);
/* Input i, or NULL when i is out of range or the input name is empty. */
const nne_tensor *nne_ctx_input(const nne_op_ctx *ctx, int i);
/* 1 when output i is consumed or is a graph output (ops may skip the rest,
 * but must still declare every output up to nne_ctx_num_outputs). */
int nne_ctx_has_output(const nne_op_ctx *ctx, int i);
/* Declare output i; *out receives the tensor (data NULL in shape mode).
 * Fails if i is out of range or a dim is negative / the size overflows. */
nne_status nne_ctx_output(nne_op_ctx *ctx, int i, nne_dtype dt, int ndim, const int64_t *dims,
                          nne_tensor **out);
/* Output i as declared by infer (plan and macs), NULL when absent. */
const nne_tensor *nne_ctx_output_get(const nne_op_ctx *ctx, int i);
/* Output i with the same dtype and shape as tensor t. */
nne_status nne_ctx_output_like(nne_op_ctx *ctx, int i, const nne_tensor *t, nne_tensor **out);
/* 1 when input i is a constant (initializer or folded; at plan time). */
int nne_ctx_input_is_const(const nne_op_ctx *ctx, int i);
/* 1 when input i is an initializer of the model (data lives as long as the
 * model: the only inputs whose packed form may be cached by address). */
int nne_ctx_input_is_initializer(const nne_op_ctx *ctx, int i);
/* NNE_OK when t->data is available, NNE_DYNAMIC when not (shape mode only). */
nne_status nne_ctx_need_data(nne_op_ctx *ctx, const nne_tensor *t);
/* Scratch of `bytes` bytes, 64-byte aligned, valid during this node's run.
 * A node has ONE scratch block: every call returns the same block, so
 * request the total once and split it. Returns NULL in shape mode (the size
 * is recorded for the plan). */
void *nne_ctx_scratch(nne_op_ctx *ctx, size_t bytes);
/* Record an error "node \"name\" (OpType): <message>" and return st. */
nne_status nne_ctx_fail(nne_op_ctx *ctx, nne_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* NNE_OK, or NNE_ERR_CANCELLED (message set) when the session's cancel
 * callback asks to stop: ops that iterate (Loop, Scan) call it every iteration. */
nne_status nne_ctx_check_cancel(nne_op_ctx *ctx);
/* Count one Loop iteration against the session's cap (all Loops of a run
 * together, so nested loops cannot multiply it); NNE_ERR_LIMIT with the
 * message set when it is reached. `trip` is the Loop's trip count (for the
 * message; INT64_MAX when none). */
nne_status nne_ctx_loop_step(nne_op_ctx *ctx, int64_t trip);
/* Deterministic per-context random numbers in [0,1) (for Random* ops). */
double nne_ctx_rand(nne_op_ctx *ctx);

/* Packed-weight cache of the model (plan phase only). Returns the buffer
 * cached under (key, tag) -- key is the constant's data, tag says how it was
 * packed -- or makes one of `bytes` bytes with fill(user, buf) and caches
 * it. Plans made again for other shapes (batch sizes) get the same buffer.
 * The plan holds a reference until it is destroyed. NULL on allocation
 * failure (error set). */
typedef void (*nne_pack_fn)(void *user, void *buf);
const void *nne_ctx_packed_weight(nne_op_ctx *ctx, const void *key, uint64_t tag, size_t bytes,
                                  nne_pack_fn fill, void *user);

/* The plan's thread pool (core/threadpool.h; NULL: one thread). Kernels
 * split their work over it with nne_parallel; the plan's contexts share it. */
struct nne_threadpool;
struct nne_threadpool *nne_ctx_pool(const nne_op_ctx *ctx);

/* Run a subgraph (If/Loop/Scan bodies) on the given inputs. Outer-scope
 * values it references are taken from the running graph. outs[i].data is
 * malloc'd: free with nne_tensor_free_data. n_out must equal the subgraph's
 * output count. */
nne_status nne_ctx_run_graph(nne_op_ctx *ctx, const struct nne_graph *g, int n_in,
                             const nne_tensor *ins, int n_out, nne_tensor *outs);
/* The same without copies: *outs[i] are views of the subgraph's outputs,
 * valid until the node's next nne_ctx_run_graph(_view) call or until the
 * node returns; copy what must live longer. The body is planned once per
 * signature (the shapes of its inputs and of the outer values it reads) by
 * the running context and re-planned only when that changes, so a Loop with
 * static shapes runs its body with no shape inference, attribute lookups or
 * allocation after the first iteration (src/ir/session.c, "subgraph plans"). */
nne_status nne_ctx_run_graph_view(nne_op_ctx *ctx, const struct nne_graph *g, int n_in, const nne_tensor *ins,
                                  int n_out, const nne_tensor **outs);
/* The Loop/Scan iteration about to run (from 0): names the observer scope
 * of the body's nodes ("loop/body/iter3/..."). */
void nne_ctx_set_iteration(nne_op_ctx *ctx, int64_t iter);
int nne_graph_num_inputs(const struct nne_graph *g);
int nne_graph_num_outputs(const struct nne_graph *g);

/* ---- attributes (absent -> default / -1 / NULL) ---- */
int nne_attr_has(const nne_op_ctx *ctx, const char *name);
int64_t nne_attr_i(const nne_op_ctx *ctx, const char *name, int64_t def);
float nne_attr_f(const nne_op_ctx *ctx, const char *name, float def);
const char *nne_attr_s(const nne_op_ctx *ctx, const char *name, const char *def);
int nne_attr_ints(const nne_op_ctx *ctx, const char *name, const int64_t **vals);
int nne_attr_floats(const nne_op_ctx *ctx, const char *name, const float **vals);
int nne_attr_strings(const nne_op_ctx *ctx, const char *name, const char *const **vals);
const nne_tensor *nne_attr_t(const nne_op_ctx *ctx, const char *name);
const struct nne_graph *nne_attr_g(const nne_op_ctx *ctx, const char *name);

/* ---- tensor helpers ---- */
/* Element idx of an integer or float tensor as int64 / double (any dtype);
 * set converts with NNE_CVT_SAT. Shorthands of core/dtype_io.h, which has
 * the element and array forms and the conversion rules. */
int64_t nne_tensor_get_i64(const nne_tensor *t, int64_t idx);
double nne_tensor_get_f64(const nne_tensor *t, int64_t idx);
void nne_tensor_set_f64(nne_tensor *t, int64_t idx, double v);
int nne_dtype_is_float(nne_dtype dt);   /* float, double, float16, bfloat16 */
int nne_dtype_is_int(nne_dtype dt);     /* signed/unsigned ints and bool */
int nne_dtype_is_signed(nne_dtype dt);
/* Normalize a possibly negative axis into [0, rank); fails with a message. */
nne_status nne_ctx_axis(nne_op_ctx *ctx, int64_t axis, int rank, int *out);
/* Numpy-style broadcast of two shapes. */
nne_status nne_broadcast_shape(nne_op_ctx *ctx, int na, const int64_t *a, int nb, const int64_t *b,
                               int *nout, int64_t *out);
/* Strides (in elements) of `t` broadcast to an `nout`-rank shape `out`
 * (0 on broadcast axes). */
void nne_broadcast_strides(const nne_tensor *t, int nout, const int64_t *out, int64_t *strides);
/* Format dims as "1x3x224x224" into buf. */
const char *nne_dims_str(int ndim, const int64_t *dims, char *buf, size_t size);

#endif
