/*
 * fuzz_roundtrip.c - libFuzzer harness for load -> write -> load.
 *
 * Each input is loaded from memory (allow_unsupported on, no base directory,
 * so external data fails cleanly). A model that loads is written with
 * nne_model_save_memory and the bytes loaded again: that must succeed and
 * give the same graph (nne_model_equal), and writing the reloaded model must
 * give the same bytes again (the writer is deterministic and loses nothing
 * it wrote). Any other outcome aborts. Seeded from the model corpus.
 */
#include "fuzz_common.h"
#include "ir/graph.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    nne_model_options opt = nne_model_options_default();
    opt.allow_unsupported = 1;
    nne_model *a = NULL, *b = NULL;
    void *wa = NULL, *wb = NULL;
    size_t na = 0, nb = 0;
    fuzz_clear_error();
    nne_status st = nne_model_load_memory(data, size, NULL, &opt, &a);
    fuzz_check_status(st, "nne_model_load_memory");
    if (st != NNE_OK) return 0;
    st = nne_model_save_memory(a, &wa, &na);
    fuzz_check_status(st, "nne_model_save_memory");
    if (st == NNE_OK) {
        st = nne_model_load_memory(wa, na, NULL, &opt, &b);
        if (st != NNE_OK) {
            fprintf(stderr, "fuzz: a written model does not load again: %s\n", nne_last_error());
            abort();
        }
        char why[1024];
        if (!nne_model_equal(a, b, why, sizeof why)) {
            fprintf(stderr, "fuzz: the written model is another graph: %s\n", why);
            abort();
        }
        if (nne_model_save_memory(b, &wb, &nb) != NNE_OK || nb != na || memcmp(wa, wb, na) != 0) {
            fprintf(stderr, "fuzz: writing the reloaded model gives other bytes (%zu vs %zu)\n", nb, na);
            abort();
        }
    }
    nne_buffer_free(wa);
    nne_buffer_free(wb);
    nne_model_destroy(b);
    nne_model_destroy(a);
    return 0;
}
