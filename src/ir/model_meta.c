/*
 * model_meta.c - read access to a model's metadata entries (ONNX
 * metadata_props, TFLite signatures and quantization parameters), for the
 * CLI and the Python binding.
 */
#include "ir/graph.h"
#include "core/core.h"

int32_t nne_model_metadata_count(const nne_model *m) { return m ? m->n_meta : 0; }

nne_status nne_model_metadata_get(const nne_model *m, int32_t i, const char **key, const char **value) {
    if (!m || !key || !value || i < 0 || i >= m->n_meta)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_model_metadata_get: index %d out of range (%d entries)", (int)i,
                         m ? m->n_meta : 0);
    *key = m->meta[i].key;
    *value = m->meta[i].value;
    return NNE_OK;
}
