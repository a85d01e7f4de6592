/*
 * audio_wakeword.c - openWakeWord's streaming pipeline on nnedge sessions
 * (nnedge.h, "wake word"). One call per 80 ms chunk:
 *
 *   input  = the 480 samples before the chunk + the chunk    (1760 floats)
 *   mel    = melspectrogram model(input) / 10 + 2            (8 x 32)
 *   window = last 76 mel frames (a sliding buffer)           (76 x 32)
 *   e      = embedding model(window)                         (96)
 *   hist   = last W_max embeddings (a sliding buffer)        (W_max x 96)
 *   score  = head(last W_h of hist), per head                (1 or C-1 each)
 *
 * openWakeWord (openwakeword/utils.py, AudioFeatures._streaming_features)
 * computes the mel frames of each 1280-sample chunk from the chunk and the
 * 3 hops (480 samples) before it, keeps the last 76 mel frames for one
 * embedding per chunk, and feeds each head its last 16 (or W) embeddings.
 * Every buffer here has a fixed size set at create time; the sessions are
 * prepared once for their fixed shapes, so a step allocates nothing.
 */
#include "core/core.h"
#include "nnedge.h"

#include <stdio.h>
#include <string.h>

#define WW_HISTORY 480 /* samples before a chunk that the mel model sees (3 hops) */
#define WW_MEL_BINS 32
#define WW_MEL_FRAMES 76
#define WW_EMB 96
#define WW_MAX_WINDOW 1024

typedef struct ww_head {
    nne_session *s;
    const char *in_name;
    int32_t window;  /* W */
    int32_t classes; /* output values: 1, or C with class 0 the background */
} ww_head;

struct nne_wakeword {
    nne_session *mel, *emb;
    const char *mel_in, *emb_in;
    int32_t n_heads, n_scores, max_window;
    ww_head *heads;
    int32_t *score_head, *score_class;
    float *audio;  /* WW_HISTORY + chunk, int16 scale */
    float *melbuf; /* WW_MEL_FRAMES x WW_MEL_BINS */
    float *emb_hist; /* max_window x WW_EMB */
    float *silence_mel; /* one mel frame of digital silence */
    float *silence_emb; /* embedding of a window of silence_mel */
};

void nne_wakeword_destroy(nne_wakeword *w) {
    if (!w) return;
    nne_session_destroy(w->mel);
    nne_session_destroy(w->emb);
    if (w->heads)
        for (int32_t h = 0; h < w->n_heads; h++) nne_session_destroy(w->heads[h].s);
    nne_free(w->heads);
    nne_free(w->score_head);
    nne_free(w->score_class);
    nne_free(w->audio);
    nne_free(w->melbuf);
    nne_free(w->emb_hist);
    nne_free(w->silence_mel);
    nne_free(w->silence_emb);
    nne_free(w);
}

/* One input and at least one output, input dtype float. */
static nne_status model_io(const nne_model *m, const char *what, nne_value_info *in, nne_value_info *out0) {
    if (!m) return nne_error(NNE_ERR_INVALID_ARG, "nne_wakeword_create: no %s model", what);
    if (nne_model_num_inputs(m) != 1 || nne_model_num_outputs(m) < 1)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_wakeword_create: the %s model has %d inputs and %d outputs; expected 1 input",
                         what, (int)nne_model_num_inputs(m), (int)nne_model_num_outputs(m));
    nne_status st = nne_model_input_info(m, 0, in);
    if (st == NNE_OK) st = nne_model_output_info(m, 0, out0);
    if (st != NNE_OK) return st;
    if (in->dtype != NNE_DTYPE_FLOAT)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_wakeword_create: the %s model's input \"%s\" is %s; expected float",
                         what, in->name, nne_dtype_name(in->dtype));
    return NNE_OK;
}

static nne_status make_session(const nne_model *m, int32_t threads, const char *name, int32_t ndim,
                               const int64_t *dims, nne_session **out) {
    nne_session_options so = nne_session_options_default();
    so.threads = threads;
    nne_status st = nne_session_create(m, &so, out);
    if (st != NNE_OK) return st;
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = ndim};
    for (int32_t i = 0; i < ndim; i++) t.dims[i] = dims[i];
    return nne_session_prepare(*out, 1, &name, &t);
}

/* Run a prepared session on `in` (its one input) and check the float
 * output 0's size: numel must be `want`, or a multiple of `per` (want 0),
 * then *out points at it. */
static nne_status run_one(nne_session *s, const char *what, const char *name, int32_t ndim, const int64_t *dims,
                          float *in, int64_t want, int64_t per, const float **out, int64_t *numel) {
    nne_tensor t = {.dtype = NNE_DTYPE_FLOAT, .ndim = ndim, .data = in};
    for (int32_t i = 0; i < ndim; i++) t.dims[i] = dims[i];
    nne_status st = nne_session_set_input(s, name, &t);
    if (st == NNE_OK) st = nne_session_run(s);
    if (st != NNE_OK) {
        nne_error(st, "wakeword: %s model: %s", what, nne_session_last_error(s));
        return st;
    }
    nne_tensor o;
    st = nne_session_output(s, 0, &o);
    if (st != NNE_OK) return st;
    int64_t n = nne_tensor_numel(&o);
    if (o.dtype != NNE_DTYPE_FLOAT || n < 1 || (want && n != want) || (!want && n % per))
        return nne_error(NNE_ERR_INVALID_ARG, "wakeword: the %s model's output is %s with %lld values; expected float, %s %lld",
                         what, nne_dtype_name(o.dtype), (long long)n, want ? "exactly" : "a multiple of",
                         (long long)(want ? want : per));
    *out = o.data;
    if (numel) *numel = n;
    return NNE_OK;
}

static const int64_t mel_dims[2] = {1, WW_HISTORY + NNE_WAKEWORD_CHUNK};
static const int64_t emb_dims[4] = {1, WW_MEL_FRAMES, WW_MEL_BINS, 1};

/* Mel frames of w->audio appended to the mel window; then one embedding
 * appended to the history. */
static nne_status advance(nne_wakeword *w) {
    const float *mel;
    int64_t n;
    nne_status st = run_one(w->mel, "melspectrogram", w->mel_in, 2, mel_dims, w->audio, 0, WW_MEL_BINS, &mel, &n);
    if (st != NNE_OK) return st;
    int64_t nf = n / WW_MEL_BINS;
    if (nf > WW_MEL_FRAMES) {
        mel += (nf - WW_MEL_FRAMES) * WW_MEL_BINS;
        nf = WW_MEL_FRAMES;
    }
    size_t keep = (size_t)(WW_MEL_FRAMES - nf) * WW_MEL_BINS;
    memmove(w->melbuf, w->melbuf + nf * WW_MEL_BINS, keep * sizeof(float));
    for (int64_t i = 0; i < nf * WW_MEL_BINS; i++) w->melbuf[keep + i] = mel[i] / 10.0f + 2.0f;
    const float *e;
    st = run_one(w->emb, "embedding", w->emb_in, 4, emb_dims, w->melbuf, WW_EMB, 0, &e, NULL);
    if (st != NNE_OK) return st;
    memmove(w->emb_hist, w->emb_hist + WW_EMB, (size_t)(w->max_window - 1) * WW_EMB * sizeof(float));
    memcpy(w->emb_hist + (size_t)(w->max_window - 1) * WW_EMB, e, WW_EMB * sizeof(float));
    return NNE_OK;
}

nne_status nne_wakeword_reset(nne_wakeword *w) {
    if (!w) return nne_error(NNE_ERR_INVALID_ARG, "nne_wakeword_reset: NULL object");
    memset(w->audio, 0, (WW_HISTORY + NNE_WAKEWORD_CHUNK) * sizeof(float));
    for (int32_t f = 0; f < WW_MEL_FRAMES; f++)
        memcpy(w->melbuf + f * WW_MEL_BINS, w->silence_mel, WW_MEL_BINS * sizeof(float));
    for (int32_t i = 0; i < w->max_window; i++)
        memcpy(w->emb_hist + (size_t)i * WW_EMB, w->silence_emb, WW_EMB * sizeof(float));
    return NNE_OK;
}

/* The mel frame and the embedding of digital silence (the state before a
 * stream), from the models themselves. */
static nne_status silence_state(nne_wakeword *w) {
    memset(w->audio, 0, (WW_HISTORY + NNE_WAKEWORD_CHUNK) * sizeof(float));
    const float *mel;
    int64_t n;
    nne_status st = run_one(w->mel, "melspectrogram", w->mel_in, 2, mel_dims, w->audio, 0, WW_MEL_BINS, &mel, &n);
    if (st != NNE_OK) return st;
    for (int32_t b = 0; b < WW_MEL_BINS; b++) w->silence_mel[b] = mel[b] / 10.0f + 2.0f;
    for (int32_t f = 0; f < WW_MEL_FRAMES; f++)
        memcpy(w->melbuf + f * WW_MEL_BINS, w->silence_mel, WW_MEL_BINS * sizeof(float));
    const float *e;
    st = run_one(w->emb, "embedding", w->emb_in, 4, emb_dims, w->melbuf, WW_EMB, 0, &e, NULL);
    if (st != NNE_OK) return st;
    memcpy(w->silence_emb, e, WW_EMB * sizeof(float));
    return nne_wakeword_reset(w);
}

nne_status nne_wakeword_create(const nne_model *melspectrogram, const nne_model *embedding, int32_t n_heads,
                               const nne_model *const *heads, int32_t threads, nne_wakeword **out) {
    if (!out) return nne_error(NNE_ERR_INVALID_ARG, "nne_wakeword_create: NULL out");
    *out = NULL;
    if (n_heads < 1 || n_heads > 4096 || !heads)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_wakeword_create: need 1..4096 heads (got %d)", (int)n_heads);
    if (threads <= 0) threads = 1;
    nne_value_info min, mout, ein, eout;
    nne_status st = model_io(melspectrogram, "melspectrogram", &min, &mout);
    if (st != NNE_OK) return st;
    if (min.ndim != 2)
        return nne_error(NNE_ERR_INVALID_ARG,
                         "nne_wakeword_create: the melspectrogram model's input \"%s\" has rank %d; expected [1, samples]",
                         min.name, (int)min.ndim);
    st = model_io(embedding, "embedding", &ein, &eout);
    if (st != NNE_OK) return st;
    if (ein.ndim != 4 || (ein.dims[1] >= 0 && ein.dims[1] != WW_MEL_FRAMES) ||
        (ein.dims[2] >= 0 && ein.dims[2] != WW_MEL_BINS) || (ein.dims[3] >= 0 && ein.dims[3] != 1))
        return nne_error(NNE_ERR_INVALID_ARG,
                         "nne_wakeword_create: the embedding model's input \"%s\" must be [N, 76, 32, 1]", ein.name);
    nne_wakeword *w = nne_calloc(1, sizeof *w);
    if (!w) return nne_error(NNE_ERR_OUT_OF_MEMORY, "nne_wakeword_create: out of memory");
    w->n_heads = n_heads;
    w->heads = nne_calloc((size_t)n_heads, sizeof *w->heads);
    if (!w->heads) goto oom;
    w->mel_in = min.name;
    w->emb_in = ein.name;
    st = make_session(melspectrogram, threads, min.name, 2, mel_dims, &w->mel);
    if (st == NNE_OK) st = make_session(embedding, threads, ein.name, 4, emb_dims, &w->emb);
    if (st != NNE_OK) goto fail;
    w->max_window = 1;
    for (int32_t h = 0; h < n_heads; h++) {
        nne_value_info hin, hout;
        char what[32];
        snprintf(what, sizeof what, "head %d", (int)h);
        st = model_io(heads[h], what, &hin, &hout);
        if (st != NNE_OK) goto fail;
        if (hin.ndim != 3 || (hin.dims[0] >= 0 && hin.dims[0] != 1) || hin.dims[1] < 1 || hin.dims[1] > WW_MAX_WINDOW ||
            (hin.dims[2] >= 0 && hin.dims[2] != WW_EMB)) {
            st = nne_error(NNE_ERR_INVALID_ARG,
                           "nne_wakeword_create: head %d's input \"%s\" must be [1, W, 96] with a fixed W in 1..%d",
                           (int)h, hin.name, WW_MAX_WINDOW);
            goto fail;
        }
        if (hout.dtype != NNE_DTYPE_FLOAT || hout.ndim < 1) {
            st = nne_error(NNE_ERR_INVALID_ARG, "nne_wakeword_create: head %d's output \"%s\" must be float [1, C]",
                           (int)h, hout.name);
            goto fail;
        }
        int64_t hd[3] = {1, hin.dims[1], WW_EMB};
        w->heads[h].in_name = hin.name;
        w->heads[h].window = (int32_t)hin.dims[1];
        st = make_session(heads[h], threads, hin.name, 3, hd, &w->heads[h].s);
        if (st != NNE_OK) goto fail;
        if (w->heads[h].window > w->max_window) w->max_window = w->heads[h].window;
    }
    w->audio = nne_calloc(WW_HISTORY + NNE_WAKEWORD_CHUNK, sizeof(float));
    w->melbuf = nne_calloc((size_t)WW_MEL_FRAMES * WW_MEL_BINS, sizeof(float));
    w->emb_hist = nne_calloc((size_t)w->max_window * WW_EMB, sizeof(float));
    w->silence_mel = nne_calloc(WW_MEL_BINS, sizeof(float));
    w->silence_emb = nne_calloc(WW_EMB, sizeof(float));
    if (!w->audio || !w->melbuf || !w->emb_hist || !w->silence_mel || !w->silence_emb) goto oom;
    st = silence_state(w);
    if (st != NNE_OK) goto fail;
    /* the heads' output sizes, from one run on the silent history */
    w->n_scores = 0;
    for (int32_t h = 0; h < n_heads; h++) {
        ww_head *hd = &w->heads[h];
        int64_t dims[3] = {1, hd->window, WW_EMB};
        const float *y;
        int64_t n;
        char what[32];
        snprintf(what, sizeof what, "head %d", (int)h);
        st = run_one(hd->s, what, hd->in_name, 3, dims, w->emb_hist + (size_t)(w->max_window - hd->window) * WW_EMB, 0,
                     1, &y, &n);
        if (st != NNE_OK) goto fail;
        if (n > 65536) {
            st = nne_error(NNE_ERR_INVALID_ARG, "nne_wakeword_create: head %d gives %lld scores; expected [1, C] with C <= 65536",
                           (int)h, (long long)n);
            goto fail;
        }
        hd->classes = (int32_t)n;
        w->n_scores += n > 1 ? (int32_t)n - 1 : 1;
    }
    w->score_head = nne_calloc((size_t)w->n_scores, sizeof(int32_t));
    w->score_class = nne_calloc((size_t)w->n_scores, sizeof(int32_t));
    if (!w->score_head || !w->score_class) goto oom;
    for (int32_t h = 0, i = 0; h < n_heads; h++) {
        int32_t c = w->heads[h].classes;
        if (c == 1) {
            w->score_head[i] = h;
            w->score_class[i++] = 0;
        } else {
            for (int32_t k = 1; k < c; k++) {
                w->score_head[i] = h;
                w->score_class[i++] = k;
            }
        }
    }
    *out = w;
    return NNE_OK;
oom:
    st = nne_error(NNE_ERR_OUT_OF_MEMORY, "nne_wakeword_create: out of memory");
fail:
    nne_wakeword_destroy(w);
    return st;
}

int32_t nne_wakeword_num_scores(const nne_wakeword *w) { return w ? w->n_scores : 0; }

int32_t nne_wakeword_score_head(const nne_wakeword *w, int32_t i, int32_t *class_index) {
    if (!w || i < 0 || i >= w->n_scores) return -1;
    if (class_index) *class_index = w->score_class[i];
    return w->score_head[i];
}

int32_t nne_wakeword_head_window(const nne_wakeword *w, int32_t h) {
    if (!w || h < 0 || h >= w->n_heads) return -1;
    return w->heads[h].window;
}

nne_status nne_wakeword_step(nne_wakeword *w, const int16_t *chunk, float *scores) {
    if (!w || !chunk || !scores) return nne_error(NNE_ERR_INVALID_ARG, "nne_wakeword_step: NULL argument");
    /* slide the audio: keep the last WW_HISTORY samples, append the chunk */
    memmove(w->audio, w->audio + NNE_WAKEWORD_CHUNK, WW_HISTORY * sizeof(float));
    for (int32_t i = 0; i < NNE_WAKEWORD_CHUNK; i++) w->audio[WW_HISTORY + i] = (float)chunk[i];
    nne_status st = advance(w);
    if (st != NNE_OK) return st;
    int32_t i = 0;
    for (int32_t h = 0; h < w->n_heads; h++) {
        ww_head *hd = &w->heads[h];
        int64_t dims[3] = {1, hd->window, WW_EMB};
        const float *y;
        char what[32];
        snprintf(what, sizeof what, "head %d", (int)h);
        st = run_one(hd->s, what, hd->in_name, 3, dims, w->emb_hist + (size_t)(w->max_window - hd->window) * WW_EMB,
                     hd->classes, 0, &y, NULL);
        if (st != NNE_OK) return st;
        if (hd->classes == 1) scores[i++] = y[0];
        else
            for (int32_t k = 1; k < hd->classes; k++) scores[i++] = y[k];
    }
    return NNE_OK;
}
