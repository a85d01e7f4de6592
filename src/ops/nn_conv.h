/*
 * nn_conv.h - the Conv op's phases, for ops that are a Conv plus an
 * epilogue (the fused Conv nodes of the graph passes): infer and plan as
 * Conv's (inputs X, W, optional B and Conv's attributes; state of
 * nne_conv_state_size() bytes), then run with an nne_epilogue (NULL: plain
 * Conv). The epilogue's rows are the N * M channel planes of Y (bias per
 * channel; residual laid out like Y, ld_res = output pixels). It is applied
 * per output tile by the SGEMM kernels; in float16/bfloat16 models it
 * applies to the float result before conversion (its pointers must then be
 * float).
 */
#ifndef NNE_OPS_NN_CONV_H
#define NNE_OPS_NN_CONV_H

#include "kernels/epilogue.h"
#include "ops/op.h"

/* Conv's plan state is opaque; a fused op's state embeds these many bytes
 * (aligned like max_align_t) and passes them as `state`. */
#define NNE_CONV_STATE_SIZE 1024
typedef struct nne_conv_state nne_conv_state;
size_t nne_conv_state_size(void);
nne_status nne_conv_infer(nne_op_ctx *ctx);
nne_status nne_conv_plan(nne_op_ctx *ctx, void *state);
nne_status nne_conv_run_ep(const void *state, const nne_kernel_args *a, const nne_epilogue *ep);

#endif
