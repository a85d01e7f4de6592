/*
 * fuzz_tflite.c - libFuzzer harness for the TFLite reader and importer
 * (src/io/tflite_fb.c, tflite_load.c).
 *
 * Every input is given the "TFL3" file identifier (bytes 4..7) so that the
 * loader always takes the TFLite path, then goes through what fuzz_model.c
 * does with an ONNX model: load (allow_unsupported off and on, the second
 * time optimized), the info calls, and a session prepared and run on zeros
 * within the same limits. The seed corpus (tests/fuzz/corpus/tflite) is the
 * generated edge-case models of tests/tflite/models.
 */
#define LLVMFuzzerTestOneInput fuzz_model_one_input
#include "fuzz_model.c"
#undef LLVMFuzzerTestOneInput

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 8) return fuzz_model_one_input(data, size);
    uint8_t *copy = malloc(size);
    if (!copy) return 0;
    memcpy(copy, data, size);
    memcpy(copy + 4, "TFL3", 4);
    fuzz_model_one_input(copy, size);
    free(copy);
    return 0;
}
