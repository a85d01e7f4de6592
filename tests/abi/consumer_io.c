/*
 * consumer_io.c - an application outside the source tree built against an
 * installed nnedge with `pkg-config nnedge-io` (tests/abi/install.sh): the
 * documented pre-processing API end to end.
 *
 *   images: nne_image_decode_file (nnedge_image.h, libnnedge_io) to gray,
 *           nne_image_resize (area) to the model's input size when it differs,
 *           nne_image_to_tensor (scale 1/255, mean 0.5, std 0.5), then the
 *           model (nnedge.h, libnnedge); prints "IMAGE TOP1 LOGIT..." per image
 *   audio:  nne_audio_reader_open_file (nnedge_audio.h) resampling to 16 kHz,
 *           nne_logmel_run with openWakeWord's parameters; prints
 *           "audio SAMPLES ZERO_CROSSINGS FRAMES PEAK_HZ": the samples read,
 *           their sign changes, the log-mel frames and the centre frequency
 *           of the loudest mel band
 *   errors: a file that is no image must fail with nne_last_error() naming
 *           it (libnnedge_io sets libnnedge's per-thread message); prints
 *           "error MESSAGE"
 *
 * Usage: consumer_io MODEL(fashion_cnn.onnx) WAV NOT_AN_IMAGE IMAGE...
 */
#include <nnedge.h>
#include <nnedge_audio.h>
#include <nnedge_image.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what) {
    fprintf(stderr, "consumer_io: %s: %s\n", what, nne_last_error());
    return 1;
}

static int run_image(nne_session *s, const char *in_name, const nne_value_info *in, const char *path) {
    nne_image im, small = {0};
    if (nne_image_decode_file(path, 1, 0, &im) != NNE_OK) return fail(path);
    int32_t h = (int32_t)in->dims[2], w = (int32_t)in->dims[3];
    const nne_image *src = &im;
    if (im.width != w || im.height != h) {
        small = (nne_image){w, h, 1, NNE_DTYPE_FLOAT, malloc(sizeof(float) * (size_t)w * (size_t)h)};
        if (!small.data || nne_image_resize(&im, &small, NNE_RESIZE_AREA) != NNE_OK) return fail("resize");
        src = &small;
    }
    float *x = malloc(sizeof(float) * (size_t)w * (size_t)h);
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4, .dims = {1, 1, h, w}, .data = x};
    const float mean[1] = {0.5f}, std[1] = {0.5f};
    if (!x || nne_image_to_tensor(src, 1.0f / 255, mean, std, NNE_LAYOUT_NCHW, 0, &t) != NNE_OK)
        return fail("to_tensor");
    nne_tensor out;
    if (nne_session_set_input(s, in_name, &t) != NNE_OK || nne_session_run(s) != NNE_OK ||
        nne_session_output(s, 0, &out) != NNE_OK)
        return fail("run");
    int64_t n = nne_tensor_numel(&out);
    const float *y = out.data;
    int64_t top = 0;
    for (int64_t i = 1; i < n; i++)
        if (y[i] > y[top]) top = i;
    printf("%s %lld", path, (long long)top);
    for (int64_t i = 0; i < n; i++) printf(" %.9g", y[i]);
    printf("\n");
    free(x);
    free(small.data);
    nne_image_free(&im);
    return 0;
}

static int run_audio(const char *path) {
    char err[256];
    nne_audio_reader *r;
    if (nne_audio_reader_open_file(path, 16000, &r, err, sizeof err) != NNE_OK) {
        fprintf(stderr, "consumer_io: %s\n", err);
        return 1;
    }
    size_t cap = 1 << 16;
    float *x = malloc(sizeof(float) * cap);
    int64_t n = 0, got = 0;
    do {
        if (nne_audio_reader_read(r, x + n, (int64_t)cap - n, &got, err, sizeof err) != NNE_OK) {
            fprintf(stderr, "consumer_io: %s\n", err);
            return 1;
        }
        n += got;
    } while (got > 0 && n < (int64_t)cap);
    nne_audio_reader_close(r);
    int64_t zc = 0;
    for (int64_t i = 1; i < n; i++) zc += (x[i - 1] < 0) != (x[i] < 0);
    int16_t *pcm = malloc(sizeof(int16_t) * (size_t)n);
    nne_audio_to_int16(x, n, pcm);
    for (int64_t i = 0; i < n; i++) x[i] = pcm[i];
    nne_logmel_params p = nne_logmel_params_openwakeword();
    nne_logmel *lm;
    if (nne_logmel_create(&p, &lm) != NNE_OK) return fail("logmel");
    int64_t frames = nne_logmel_num_frames(lm, n), nf = 0;
    float *mel = malloc(sizeof(float) * (size_t)(frames > 0 ? frames : 1) * (size_t)p.n_mels);
    if (frames < 1 || nne_logmel_run(lm, x, n, mel, frames, &nf) != NNE_OK || nf != frames) return fail("logmel run");
    /* the loudest band over all frames, and the FFT bin where its filter peaks */
    int32_t best = 0;
    double best_sum = -INFINITY;
    for (int32_t b = 0; b < p.n_mels; b++) {
        double sum = 0;
        for (int64_t f = 0; f < nf; f++) sum += mel[f * p.n_mels + b];
        if (!isfinite(sum)) return fail("log-mel is not finite");
        if (sum > best_sum) best_sum = sum, best = b;
    }
    const float *fb = nne_logmel_filters(lm) + (size_t)best * (size_t)(p.n_fft / 2 + 1);
    int32_t peak = 0;
    for (int32_t k = 1; k <= p.n_fft / 2; k++)
        if (fb[k] > fb[peak]) peak = k;
    printf("audio %lld %lld %lld %.1f\n", (long long)n, (long long)zc, (long long)nf,
           (double)peak * p.sample_rate / p.n_fft);
    nne_logmel_destroy(lm);
    free(mel);
    free(pcm);
    free(x);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: consumer_io MODEL WAV NOT_AN_IMAGE IMAGE...\n");
        return 1;
    }
    nne_model_options mo = nne_model_options_default();
    nne_session_options so = nne_session_options_default();
    nne_model *m = NULL;
    nne_session *s = NULL;
    nne_value_info in;
    if (nne_model_load_file(argv[1], &mo, &m) != NNE_OK || nne_model_input_info(m, 0, &in) != NNE_OK)
        return fail(argv[1]);
    if (in.ndim != 4 || in.dims[1] != 1 || in.dims[2] < 1 || in.dims[3] < 1) {
        fprintf(stderr, "consumer_io: %s: expected a [N, 1, H, W] input\n", argv[1]);
        return 1;
    }
    const char *name = in.name;
    nne_tensor shape = {.dtype = NNE_DTYPE_FLOAT, .ndim = 4, .dims = {1, 1, in.dims[2], in.dims[3]}};
    if (nne_session_create(m, &so, &s) != NNE_OK || nne_session_prepare(s, 1, &name, &shape) != NNE_OK)
        return fail("session");
    for (int i = 4; i < argc; i++)
        if (run_image(s, name, &in, argv[i])) return 1;
    if (run_audio(argv[2])) return 1;
    nne_image bad;
    if (nne_image_decode_file(argv[3], 0, 0, &bad) == NNE_OK) {
        fprintf(stderr, "consumer_io: %s decoded as an image\n", argv[3]);
        return 1;
    }
    printf("error %s\n", nne_last_error());
    nne_session_destroy(s);
    nne_model_destroy(m);
    return 0;
}
