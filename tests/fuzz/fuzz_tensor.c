/*
 * fuzz_tensor.c - libFuzzer harness for the TensorProto parser
 * (nne_onnx_tensor_parse, the reader of .pb test data and initializers).
 */
#include "fuzz_common.h"
#include "io/onnx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    for (int with_name = 0; with_name < 2; with_name++) {
        nne_tensor t;
        char *name = NULL;
        fuzz_clear_error();
        nne_status st = nne_onnx_tensor_parse(data, size, NULL, &t, with_name ? &name : NULL);
        fuzz_check_status(st, "nne_onnx_tensor_parse");
        if (st != NNE_OK) {
            if (t.data || name) abort();
            continue;
        }
        if (!t.data || t.ndim < 0 || t.ndim > NNE_MAX_DIMS || !nne_dtype_size(t.dtype)) abort();
        fuzz_touch(t.data, nne_tensor_nbytes(&t));
        if (name) fuzz_touch(name, strlen(name));
        nne_aligned_free(t.data);
        nne_free(name);
    }
    return 0;
}
