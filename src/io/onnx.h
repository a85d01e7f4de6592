/*
 * onnx.h - ONNX protobuf import (ModelProto -> graph IR, TensorProto -> tensor).
 */
#ifndef NNE_IO_ONNX_H
#define NNE_IO_ONNX_H

#include "ir/graph.h"
#include "io/pb.h"

/* Parse a serialized TensorProto from buf (a whole .pb file or a field
 * payload). On success out->data is nne_aligned_alloc'd (free with
 * nne_aligned_free) and *name (if not NULL) is a malloc'd copy of the name.
 * base_dir resolves external data (NULL: external data is an error). */
nne_status nne_onnx_tensor_parse(const void *buf, size_t len, const char *base_dir, nne_tensor *out,
                                 char **name);

#endif
