/*
 * post.c - post-processing of model scores (nnedge.h, "post-processing"):
 * sigmoid, softmax, top-k, a threshold with hysteresis, and fusing several
 * models' score vectors (average, weighted, vote, max). Plain loops: these
 * run on a few hundred values per inference, never on activations.
 */
#include "core/core.h"
#include "nnedge.h"

#include <math.h>

void nne_post_sigmoid(float *x, int64_t n) {
    if (!x) return;
    for (int64_t i = 0; i < n; i++) {
        float v = x[i];
        /* exp of a non-positive argument only: no overflow at either end */
        if (v >= 0) x[i] = 1.0f / (1.0f + expf(-v));
        else if (v < 0) {
            float e = expf(v);
            x[i] = e / (1.0f + e);
        } /* NaN stays NaN */
    }
}

nne_status nne_post_softmax(float *x, int64_t rows, int64_t cols, float temperature) {
    if (rows < 0 || cols < 1 || (!x && rows > 0))
        return nne_error(NNE_ERR_INVALID_ARG, "nne_post_softmax: need rows >= 0, cols >= 1 and a buffer (rows %lld, cols %lld)",
                         (long long)rows, (long long)cols);
    if (!(temperature > 0) || !isfinite(temperature))
        return nne_error(NNE_ERR_INVALID_ARG, "nne_post_softmax: temperature %g must be finite and > 0", temperature);
    for (int64_t r = 0; r < rows; r++) {
        float *v = x + r * cols;
        double mx = -INFINITY;
        for (int64_t j = 0; j < cols; j++)
            if (v[j] > mx) mx = v[j];
        double sum = 0;
        if (isinf(mx) && mx > 0) {
            /* +inf entries share the mass; the rest get 0 */
            for (int64_t j = 0; j < cols; j++) sum += isinf(v[j]) && v[j] > 0;
            for (int64_t j = 0; j < cols; j++) v[j] = (isinf(v[j]) && v[j] > 0) ? (float)(1.0 / sum) : 0.0f;
            continue;
        }
        for (int64_t j = 0; j < cols; j++) {
            double e = exp(((double)v[j] - mx) / temperature);
            v[j] = (float)e;
            sum += e;
        }
        for (int64_t j = 0; j < cols; j++) v[j] = (float)(v[j] / sum);
    }
    return NNE_OK;
}

/* a ranks before b: higher score, NaN last, lower index on ties */
static int ranks_before(float a, int64_t ia, float b, int64_t ib) {
    if (isnan(a)) return isnan(b) && ia < ib;
    if (isnan(b)) return 1;
    if (a != b) return a > b;
    return ia < ib;
}

nne_status nne_post_topk(const float *scores, int64_t n, int32_t k, int64_t *idx, float *val, int32_t *k_out) {
    if (k_out) *k_out = 0;
    if (n < 0 || k < 0 || (!scores && n > 0) || (!idx && k > 0))
        return nne_error(NNE_ERR_INVALID_ARG, "nne_post_topk: need n >= 0, k >= 0 and buffers (n %lld, k %d)",
                         (long long)n, (int)k);
    int32_t kk = (int64_t)k < n ? k : (int32_t)n;
    if (kk == 0) return NNE_OK;
    /* insertion into a sorted list of at most kk entries */
    int32_t have = 0;
    for (int64_t i = 0; i < n; i++) {
        float s = scores[i];
        if (have == kk && !ranks_before(s, i, scores[idx[kk - 1]], idx[kk - 1])) continue;
        int32_t pos = have < kk ? have : kk - 1;
        while (pos > 0 && ranks_before(s, i, scores[idx[pos - 1]], idx[pos - 1])) {
            idx[pos] = idx[pos - 1];
            pos--;
        }
        idx[pos] = i;
        if (have < kk) have++;
    }
    if (val)
        for (int32_t j = 0; j < have; j++) val[j] = scores[idx[j]];
    if (k_out) *k_out = have;
    return NNE_OK;
}

nne_status nne_hysteresis_init(nne_hysteresis *h, float on, float off) {
    if (!h) return nne_error(NNE_ERR_INVALID_ARG, "nne_hysteresis_init: NULL state");
    if (!isfinite(on) || !isfinite(off) || off > on)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_hysteresis_init: need finite thresholds with off (%g) <= on (%g)",
                         off, on);
    h->on = on;
    h->off = off;
    h->active = 0;
    h->peak = 0;
    h->frame = 0;
    h->start = -1;
    h->hold = 0;
    return NNE_OK;
}

int32_t nne_hysteresis_update(nne_hysteresis *h, float score) {
    if (!h) return 0;
    int32_t ev = 0;
    if (!h->active) {
        if (score >= h->on) {
            h->active = 1;
            h->peak = score;
            h->start = h->frame;
            ev = 1;
        }
    } else if (!(score >= h->off) && h->frame - h->start >= h->hold) { /* below off (or NaN), held long enough */
        h->active = 0;
        ev = -1;
    } else if (score > h->peak) {
        h->peak = score;
    }
    h->frame++;
    return ev;
}

nne_status nne_post_fuse(nne_fuse_mode mode, int32_t n_models, const float *const *scores, int64_t n,
                         const float *weights, float *out) {
    if (n_models < 1 || n < 1 || !scores || !out)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_post_fuse: need >= 1 model, >= 1 value and buffers (models %d, n %lld)",
                         (int)n_models, (long long)n);
    if (mode != NNE_FUSE_AVERAGE && mode != NNE_FUSE_WEIGHTED && mode != NNE_FUSE_VOTE && mode != NNE_FUSE_MAX)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_post_fuse: unknown mode %d", (int)mode);
    for (int32_t m = 0; m < n_models; m++) {
        if (!scores[m]) return nne_error(NNE_ERR_INVALID_ARG, "nne_post_fuse: model %d has no scores", (int)m);
        for (int64_t j = 0; j < n; j++)
            if (isnan(scores[m][j]))
                return nne_error(NNE_ERR_INVALID_ARG, "nne_post_fuse: model %d score %lld is NaN", (int)m, (long long)j);
    }
    int use_w = mode == NNE_FUSE_WEIGHTED || (mode == NNE_FUSE_VOTE && weights);
    double wsum = 0;
    if (mode == NNE_FUSE_WEIGHTED && !weights) return nne_error(NNE_ERR_INVALID_ARG, "nne_post_fuse: weighted needs weights");
    if (use_w) {
        for (int32_t m = 0; m < n_models; m++) {
            if (!(weights[m] >= 0) || !isfinite(weights[m]))
                return nne_error(NNE_ERR_INVALID_ARG, "nne_post_fuse: weight %d (%g) must be finite and >= 0", (int)m,
                                 weights[m]);
            wsum += weights[m];
        }
        if (!(wsum > 0)) return nne_error(NNE_ERR_INVALID_ARG, "nne_post_fuse: the weights sum to 0");
    } else {
        wsum = n_models;
    }
    switch (mode) {
    case NNE_FUSE_AVERAGE:
    case NNE_FUSE_WEIGHTED:
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int32_t m = 0; m < n_models; m++) acc += (use_w ? weights[m] : 1.0) * scores[m][j];
            out[j] = (float)(acc / wsum);
        }
        break;
    case NNE_FUSE_MAX:
        for (int64_t j = 0; j < n; j++) {
            float mx = scores[0][j];
            for (int32_t m = 1; m < n_models; m++)
                if (scores[m][j] > mx) mx = scores[m][j];
            out[j] = mx;
        }
        break;
    case NNE_FUSE_VOTE:
        for (int64_t j = 0; j < n; j++) out[j] = 0;
        {
            /* accumulate in double per class would need a buffer: the votes
             * are few, so add each model's share straight into out */
            for (int32_t m = 0; m < n_models; m++) {
                int64_t best = 0;
                for (int64_t j = 1; j < n; j++)
                    if (scores[m][j] > scores[m][best]) best = j;
                out[best] += (float)((use_w ? weights[m] : 1.0) / wsum);
            }
        }
        break;
    }
    return NNE_OK;
}
