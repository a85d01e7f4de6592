/*
 * tflite.h - TFLite import (.tflite FlatBuffers, schema "TFL3") into the
 * graph IR. nne_model_load_* call it when the file carries the "TFL3"
 * identifier, whatever its name.
 */
#ifndef NNE_IO_TFLITE_H
#define NNE_IO_TFLITE_H

#include "ir/graph.h"

/* 1 when the buffer is a TFLite FlatBuffer (file identifier "TFL3" at byte 4). */
int nne_tflite_detect(const void *data, size_t size);
/* Fill the zeroed model m (graph, opsets, feed list, metadata) from the
 * TFLite file in data[0..size). Weights are copied (the caller keeps data).
 * allow_unsupported: ops without a mapping are skipped... and still reported
 * as NNE_ERR_UNSUPPORTED (the graph would be incomplete). */
nne_status nne_tflite_import(nne_model *m, const void *data, size_t size, int allow_unsupported);

#endif
