/*
 * test_pipeline_audio.c - edge cases of the audio and post-processing API
 * (src/pipeline/audio_mel.c, post.c) under the sanitizers: empty and tiny
 * inputs, k = 0 and k > n, infinities and NaN, bad parameters. The numeric
 * comparisons with numpy are in tests/wakeword/test_pipeline.py.
 */
#include "nnedge.h"
#include "unit.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_topk(void) {
    float s[6] = {0.1f, 0.9f, NAN, 0.9f, -1.0f, 0.5f};
    int64_t idx[8];
    float val[8];
    int32_t k = -1;
    CHECK(nne_post_topk(s, 6, 0, idx, val, &k) == NNE_OK && k == 0);
    CHECK(nne_post_topk(s, 0, 3, idx, val, &k) == NNE_OK && k == 0);
    CHECK(nne_post_topk(NULL, 0, 0, NULL, NULL, &k) == NNE_OK && k == 0);
    CHECK(nne_post_topk(s, 6, 8, idx, val, &k) == NNE_OK && k == 6);
    /* ties to the lower index, NaN last */
    CHECK(idx[0] == 1 && idx[1] == 3 && idx[2] == 5 && idx[3] == 0 && idx[4] == 4 && idx[5] == 2);
    CHECK(nne_post_topk(s, 6, 2, idx, NULL, &k) == NNE_OK && k == 2 && idx[0] == 1 && idx[1] == 3);
    CHECK(nne_post_topk(s, -1, 2, idx, val, &k) == NNE_ERR_INVALID_ARG);
    CHECK(nne_post_topk(s, 6, -1, idx, val, &k) == NNE_ERR_INVALID_ARG);
}

static void test_softmax_sigmoid(void) {
    float x[4] = {INFINITY, 1.0f, INFINITY, -INFINITY};
    CHECK(nne_post_softmax(x, 1, 4, 1.0f) == NNE_OK && x[0] == 0.5f && x[1] == 0.0f && x[2] == 0.5f && x[3] == 0.0f);
    float y[3] = {1e30f, -1e30f, 0.0f};
    CHECK(nne_post_softmax(y, 1, 3, 1.0f) == NNE_OK && y[0] == 1.0f && y[1] == 0.0f);
    CHECK(nne_post_softmax(y, 1, 3, 0.0f) == NNE_ERR_INVALID_ARG);
    CHECK(nne_post_softmax(y, 1, 0, 1.0f) == NNE_ERR_INVALID_ARG);
    CHECK(nne_post_softmax(NULL, 0, 3, 1.0f) == NNE_OK);
    float z[5] = {-INFINITY, INFINITY, NAN, -100.0f, 100.0f};
    nne_post_sigmoid(z, 5);
    CHECK(z[0] == 0.0f && z[1] == 1.0f && isnan(z[2]) && z[3] >= 0.0f && z[3] < 1e-40f && z[4] == 1.0f);
    nne_post_sigmoid(NULL, 3);
}

static void test_fuse_hysteresis(void) {
    float a[3] = {0.1f, 0.7f, 0.2f}, b[3] = {0.6f, 0.3f, 0.1f}, out[3];
    const float *v[2] = {a, b};
    float w[2] = {3.0f, 1.0f};
    CHECK(nne_post_fuse(NNE_FUSE_VOTE, 2, v, 3, w, out) == NNE_OK && out[1] == 0.75f && out[0] == 0.25f);
    CHECK(nne_post_fuse(NNE_FUSE_WEIGHTED, 2, v, 3, NULL, out) == NNE_ERR_INVALID_ARG);
    CHECK(nne_post_fuse((nne_fuse_mode)9, 2, v, 3, w, out) == NNE_ERR_INVALID_ARG);
    const float *bad[2] = {a, NULL};
    CHECK(nne_post_fuse(NNE_FUSE_AVERAGE, 2, bad, 3, NULL, out) == NNE_ERR_INVALID_ARG);
    float n[3] = {0, NAN, 0};
    const float *vn[1] = {n};
    CHECK(nne_post_fuse(NNE_FUSE_MAX, 1, vn, 3, NULL, out) == NNE_ERR_INVALID_ARG);
    nne_hysteresis h;
    CHECK(nne_hysteresis_init(&h, 0.5f, 0.6f) == NNE_ERR_INVALID_ARG);
    CHECK(nne_hysteresis_init(&h, NAN, 0.1f) == NNE_ERR_INVALID_ARG);
    CHECK(nne_hysteresis_init(&h, 0.5f, 0.2f) == NNE_OK);
    h.hold = 2;
    CHECK(nne_hysteresis_update(&h, 0.6f) == 1 && h.start == 0);
    CHECK(nne_hysteresis_update(&h, 0.1f) == 0); /* held */
    CHECK(nne_hysteresis_update(&h, 0.8f) == 0 && h.peak == 0.8f);
    CHECK(nne_hysteresis_update(&h, NAN) == -1 && !h.active);
}

static void test_logmel(void) {
    nne_logmel_params p = nne_logmel_params_openwakeword();
    nne_logmel *lm = NULL;
    CHECK(nne_logmel_create(&p, &lm) == NNE_OK && lm);
    float x[1760];
    for (int i = 0; i < 1760; i++) x[i] = (float)(1000.0 * sin(i * 0.3));
    float out[8 * 32];
    int64_t nf = -1;
    CHECK(nne_logmel_num_frames(lm, 1760) == 8 && nne_logmel_num_frames(lm, 511) == 0);
    CHECK(nne_logmel_run(lm, x, 1760, out, 8, &nf) == NNE_OK && nf == 8);
    CHECK(nne_logmel_run(lm, x, 1760, out, 7, &nf) == NNE_ERR_INVALID_ARG && nf == 0);
    CHECK(nne_logmel_run(lm, x, 100, NULL, 0, &nf) == NNE_OK && nf == 0);
    x[5] = NAN;
    CHECK(nne_logmel_run(lm, x, 1760, out, 8, &nf) == NNE_ERR_INVALID_ARG);
    nne_logmel_destroy(lm);
    nne_logmel_destroy(NULL);
    nne_logmel_params q = p;
    q.fmax = 9000.0f;
    CHECK(nne_logmel_create(&q, &lm) == NNE_ERR_INVALID_ARG && !lm);
    q = p;
    q.win_length = 600;
    CHECK(nne_logmel_create(&q, &lm) == NNE_ERR_INVALID_ARG);
    q = p;
    q.n_fft = 3; /* odd, tiny: direct DFT */
    q.win_length = 3;
    q.n_mels = 1;
    q.fmin = 0.0f;
    CHECK(nne_logmel_create(&q, &lm) == NNE_OK);
    CHECK(nne_logmel_run(lm, x, 3, out, 1, &nf) == NNE_OK && nf == 1);
    nne_logmel_destroy(lm);
    float fr[4 * 2];
    CHECK(nne_audio_num_frames(10, 4, 3) == 3 && nne_audio_num_frames(3, 4, 1) == 0 && nne_audio_num_frames(3, 0, 1) == -1);
    CHECK(nne_audio_frames(x, 10, 4, 3, NULL, fr, 2, &nf) == NNE_ERR_INVALID_ARG);
    CHECK(nne_wakeword_create(NULL, NULL, 0, NULL, 1, NULL) == NNE_ERR_INVALID_ARG);
    nne_wakeword *w = (nne_wakeword *)&w;
    CHECK(nne_wakeword_create(NULL, NULL, 1, NULL, 1, &w) == NNE_ERR_INVALID_ARG && w == NULL);
    nne_wakeword_destroy(NULL);
}

void unit_pipeline_audio(void) {
    test_topk();
    test_softmax_sigmoid();
    test_fuse_hysteresis();
    test_logmel();
}
