/*
 * train.h - the training engine's internal interface: reverse-mode autodiff
 * on the graph IR (src/train/trainer.c) and the gradient rules of the ops
 * (src/train/grad_*.c), which each op's definition points to through
 * nne_op_def.gradient (src/ops/op.h).
 *
 * The trainer keeps one float buffer per graph value (nne_tval.x) and, for
 * values a loss gradient flows into, one gradient buffer (nne_tval.g). A
 * training step runs every node's rule forward in order (saving what its
 * backward needs in its own state), then backward in reverse order: a
 * rule reads its outputs' gradients and ADDS into the gradients of the
 * inputs that have one (a value read by several nodes sums their parts;
 * the trainer zeroes every gradient before the backward pass).
 *
 * A rule's plan runs once per batch size, after the trainer has set the
 * output shapes (through the op's own shape inference, nne_node_infer): it
 * parses attributes and allocates what forward/backward need, so a step
 * allocates nothing.
 */
#ifndef NNE_TRAIN_TRAIN_H
#define NNE_TRAIN_TRAIN_H

#include "ir/graph.h"
#include "core/core.h"
#include "core/threadpool.h"
#include "kernels/sgemm.h"

#include <stdint.h>

#define NNE_TRAIN_MAX_IO 8

typedef struct nne_tval {
    int ndim;
    int64_t dims[NNE_MAX_DIMS];
    int64_t n;              /* elements */
    float *x;               /* values (float graphs only); owned unless `borrowed` */
    float *g;               /* gradient (same shape), NULL when nothing flows into it */
    const nne_tensor *cst;  /* a constant of any dtype (Reshape's shape): its tensor */
    int borrowed;           /* x is the model's initializer buffer (parameters, constants) */
    int is_const;           /* an initializer or a value computed from initializers only */
    int is_param;           /* a parameter the optimizer updates */
    /* The gradient is not zeroed before backward: its one consumer's rule
     * (one with .assigns set) writes every element instead of adding. */
    int g_assign;
} nne_tval;

typedef struct nne_tnode nne_tnode;
typedef struct nne_tctx nne_tctx;

typedef struct nne_grad_rule {
    /* Parse attributes, allocate state (n->state) for the planned shapes. */
    nne_status (*plan)(nne_tnode *n, nne_tctx *c);
    /* out[k]->x from in[k]->x; c->training selects batch statistics and
     * dropout. Saves what backward needs. */
    nne_status (*forward)(nne_tnode *n, nne_tctx *c);
    /* in[k]->g += d loss / d in[k] for every in[k]->g != NULL, from out[k]->g. */
    nne_status (*backward)(nne_tnode *n, nne_tctx *c);
    /* Free what plan allocated besides n->state (which the trainer frees). */
    void (*free)(nne_tnode *n);
    /* Inputs that are differentiable (bit k: input k). A parameter is
     * trained only in such a slot; BatchNormalization's mean and variance
     * are state, not trained. */
    unsigned diff_inputs;
    size_t state_size; /* bytes of n->state (zeroed by the trainer, freed by it) */
    /* 1: backward writes (rather than adds to) the whole gradient of input 0
     * when in[0]->g_assign is set (the trainer sets it for a value read by
     * this node only, and then skips zeroing it). */
    int assigns;
} nne_grad_rule;

struct nne_tnode {
    const nne_graph *g;
    const nne_node *node;
    const nne_grad_rule *rule;
    int n_in, n_out;
    nne_tval *in[NNE_TRAIN_MAX_IO];  /* NULL for an absent input */
    nne_tval *out[NNE_TRAIN_MAX_IO];
    void *state;  /* the rule's, allocated by plan with nne_aligned_alloc-free semantics of free() */
};

struct nne_tctx {
    nne_threadpool *pool;
    const nne_sgemm_ops *ops;   /* packed SGEMM of the ISA in use (NULL: a plain loop) */
    void *gemm_scratch;         /* the caller thread's sgemm scratch */
    size_t gemm_scratch_bytes;
    int training;               /* 1: batch statistics, dropout on */
    uint64_t rng;               /* dropout's generator state */
};

/* C = alpha * A * B + beta * C with strided operands, on the packed SGEMM
 * (threads from c->pool) or a plain loop. */
void nne_train_gemm(nne_tctx *c, int64_t M, int64_t N, int64_t K, float alpha, const float *A, int64_t rsa,
                    int64_t csa, const float *B, int64_t rsb, int64_t csb, float beta, float *C, int64_t ldc);
/* Grow c's sgemm scratch to fit an M x N x K product (plan time). */
nne_status nne_train_gemm_reserve(nne_tctx *c, int64_t M, int64_t N, int64_t K);
/* Uniform double in [0, 1) from c->rng (xorshift64*). */
double nne_train_rand(uint64_t *state);
/* Zeroed aligned float buffer of n elements; NULL (error set) on OOM. */
float *nne_train_alloc(int64_t n, const char *what);
/* Attribute helpers on a node. */
int64_t nne_train_attr_i(const nne_node *nd, const char *name, int64_t def);
float nne_train_attr_f(const nne_node *nd, const char *name, float def);
/* 2-d spatial geometry of a Conv/pool node: kernel, strides, dilations,
 * pads (begin), from attributes (auto_pad resolved from the input and the
 * inferred output sizes). Fails for other ranks. */
typedef struct nne_train_geo2 {
    int64_t kh, kw, sh, sw, dh, dw, ph, pw;
    int64_t H, W, OH, OW;
} nne_train_geo2;
nne_status nne_train_geo2_get(const nne_tnode *n, const int64_t *kshape, nne_train_geo2 *geo);
nne_status nne_train_fail(const nne_tnode *n, nne_status st, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Test hook: the trainer's planned value `name` (values and gradients of
 * the last step), NULL when absent. */
struct nne_trainer;
nne_tval *nne_trainer_value(struct nne_trainer *t, const char *name);

/* The rules (one per op; src/ops point at them). */
#define NNE_GRAD_DECLARE(sym) extern const nne_grad_rule nne_grad_##sym;
NNE_GRAD_DECLARE(Conv)
NNE_GRAD_DECLARE(Gemm)
NNE_GRAD_DECLARE(MatMul)
NNE_GRAD_DECLARE(Relu)
NNE_GRAD_DECLARE(LeakyRelu)
NNE_GRAD_DECLARE(Sigmoid)
NNE_GRAD_DECLARE(Tanh)
NNE_GRAD_DECLARE(Elu)
NNE_GRAD_DECLARE(Softplus)
NNE_GRAD_DECLARE(HardSigmoid)
NNE_GRAD_DECLARE(HardSwish)
NNE_GRAD_DECLARE(Clip)
NNE_GRAD_DECLARE(Identity)
NNE_GRAD_DECLARE(Flatten)
NNE_GRAD_DECLARE(Reshape)
NNE_GRAD_DECLARE(Dropout)
NNE_GRAD_DECLARE(Add)
NNE_GRAD_DECLARE(Sub)
NNE_GRAD_DECLARE(Mul)
NNE_GRAD_DECLARE(Concat)
NNE_GRAD_DECLARE(MaxPool)
NNE_GRAD_DECLARE(AveragePool)
NNE_GRAD_DECLARE(GlobalAveragePool)
NNE_GRAD_DECLARE(GlobalMaxPool)
NNE_GRAD_DECLARE(BatchNormalization)

#endif
