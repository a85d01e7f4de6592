/*
 * fuzz_png.c - libFuzzer harness for the PNG decoder of nne_image_decode_memory
 * (src/pipeline/io/image_decode.c); the checks are in fuzz_image.h.
 */
#include "fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_image_one(data, size); }
