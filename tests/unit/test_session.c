/* Unit tests of model loading errors and session planning on tiny models. */
#include "nnedge.h"
#include "unit.h"

#include <string.h>

void unit_session(void) {
    nne_model *m = NULL;
    /* empty and garbage buffers */
    CHECK(nne_model_load_memory("", 0, NULL, NULL, &m) == NNE_ERR_CORRUPT_MODEL && !m);
    const uint8_t junk[] = {0x3a, 0x7f, 0x01};
    CHECK(nne_model_load_memory(junk, sizeof junk, NULL, NULL, &m) == NNE_ERR_CORRUPT_MODEL && !m);
    CHECK(strstr(nne_last_error(), "offset") != NULL);
    CHECK(nne_model_load_file("/nonexistent.onnx", NULL, &m) == NNE_ERR_IO);
    nne_model_destroy(NULL);
    nne_session_destroy(NULL);
}
