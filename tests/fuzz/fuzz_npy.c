/*
 * fuzz_npy.c - libFuzzer harness for the .npy reader (nne_npy_read_memory).
 * A successful read must describe exactly the bytes it allocated.
 */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nne_tensor t;
    fuzz_clear_error();
    nne_status st = nne_npy_read_memory(data, size, &t);
    fuzz_check_status(st, "nne_npy_read_memory");
    if (st != NNE_OK) {
        if (t.data) abort(); /* nothing may be left allocated on failure */
        return 0;
    }
    if (!t.data || t.ndim < 0 || t.ndim > NNE_MAX_DIMS || !nne_dtype_size(t.dtype)) abort();
    fuzz_touch(t.data, nne_tensor_nbytes(&t));
    nne_tensor_free_data(&t);
    return 0;
}
