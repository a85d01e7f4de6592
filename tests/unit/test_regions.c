/*
 * test_regions.c - nne_model_load_regions: a model whose bytes and external
 * data lie in caller memory (a .nne package's segments) is loaded in place:
 * the weights point into the region, no file is opened, outputs equal those
 * of the model loaded from its file, release is called exactly once when the
 * model is destroyed and never when loading fails.
 */
#include "ir/graph.h"
#include "core/core.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_released;
static void on_release(void *user) { g_released += user == &g_released; }

static void *read_aligned(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *b = aligned_alloc(4096, (*n + 4095) / 4096 * 4096);
    if (b && fread(b, 1, *n, f) != *n) free(b), b = NULL;
    fclose(f);
    return b;
}

static int run_y(const nne_model *m, float *y, size_t cap) {
    float x[3 * 64];
    for (int i = 0; i < 3 * 64; i++) x[i] = (float)((i * 37) % 17) / 8.0f - 1.0f;
    nne_tensor in = {.dtype = NNE_DTYPE_FLOAT, .ndim = 2, .dims = {3, 64}, .data = x}, out;
    const char *names[] = {"x"};
    nne_session *s = NULL;
    int ok = nne_session_create(m, NULL, &s) == NNE_OK && nne_session_prepare(s, 1, names, &in) == NNE_OK &&
             nne_session_set_input(s, "x", &in) == NNE_OK && nne_session_run(s) == NNE_OK &&
             nne_session_output(s, 0, &out) == NNE_OK && nne_tensor_nbytes(&out) <= cap;
    if (ok) memcpy(y, out.data, nne_tensor_nbytes(&out));
    nne_session_destroy(s);
    return ok;
}

void unit_regions(void) {
    const char *src = "tests/pkg/small_mlp.onnx";
    nne_model *ref = NULL;
    if (nne_model_load_file(src, NULL, &ref) != NNE_OK) {
        fprintf(stderr, "regions: %s: %s\n", src, nne_last_error());
        CHECK(0);
        return;
    }
    char dir[] = "/tmp/nne-unit-regions-XXXXXX", gpath[64], wpath[64];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(gpath, sizeof gpath, "%s/g.onnx", dir);
    snprintf(wpath, sizeof wpath, "%s/weights.bin", dir);
    nne_save_options so = nne_save_options_default();
    so.external_data = "weights.bin";
    CHECK(nne_model_save_file(ref, gpath, &so) == NNE_OK);
    size_t gn = 0, wn = 0;
    uint8_t *g = read_aligned(gpath, &gn), *w = read_aligned(wpath, &wn);
    unlink(gpath);
    unlink(wpath);
    rmdir(dir); /* from here on nothing can be read from files */
    CHECK(g && w);
    if (!g || !w) goto out;
    nne_region rg = {.name = "weights.bin", .data = w, .size = wn};
    /* failures: release never called, caller keeps the memory */
    nne_model *m = NULL;
    nne_region wrong = {.name = "other.bin", .data = w, .size = wn};
    g_released = 0;
    CHECK(nne_model_load_regions(g, gn, 1, &wrong, on_release, &g_released, NULL, &m) == NNE_ERR_CORRUPT_MODEL);
    CHECK(strstr(nne_last_error(), "not one of the model's regions") != NULL);
    CHECK(nne_model_load_regions(g, gn, 0, NULL, on_release, &g_released, NULL, &m) == NNE_ERR_CORRUPT_MODEL);
    nne_region small = {.name = "weights.bin", .data = w, .size = 100};
    CHECK(nne_model_load_regions(g, gn, 1, &small, on_release, &g_released, NULL, &m) == NNE_ERR_CORRUPT_MODEL);
    CHECK(m == NULL && g_released == 0);
    /* success: weights in place, same outputs, release once on destroy */
    CHECK(nne_model_load_regions(g, gn, 1, &rg, on_release, &g_released, NULL, &m) == NNE_OK);
    if (m) {
        int in_place = 0, consts = 0;
        for (int i = 0; i < m->graph->n_values; i++) {
            const nne_value *v = &m->graph->values[i];
            if (v->kind != NNE_VAL_CONST) continue;
            consts++;
            const uint8_t *p = nne_value_init_bytes(v);
            in_place += (p >= w && p < w + wn) || (p >= g && p < g + gn);
        }
        CHECK(consts == 3 && in_place == consts);
        float y0[64], y1[64];
        CHECK(run_y(ref, y0, sizeof y0) && run_y(m, y1, sizeof y1) && memcmp(y0, y1, 30 * sizeof(float)) == 0);
        CHECK(g_released == 0);
        nne_model_destroy(m);
        CHECK(g_released == 1);
    }
out:
    free(g);
    free(w);
    nne_model_destroy(ref);
}
