/*
 * audio_mel.c - framing and the log-mel spectrogram (nnedge.h, "log-mel
 * spectrogram"), computed as librosa does it, in double precision.
 *
 * Per frame of n_fft samples (hop_length apart, no centre padding):
 *   1. multiply by a periodic Hann window of win_length samples, centred in
 *      n_fft (librosa's pad_center);
 *   2. DFT: an iterative radix-2 FFT when n_fft is a power of two, else a
 *      direct DFT with a cosine table (O(n_fft^2), no size limit);
 *   3. |X[k]|^power for the n_fft/2 + 1 bins;
 *   4. the mel filter bank (librosa.filters.mel: triangles between mel
 *      points equally spaced on the Slaney or HTK scale, Slaney area norm);
 *   5. 10*log10(max(x, amin)); after every frame, top_db raises the values
 *      below (maximum of the call) - top_db; then * scale + offset.
 */
#include "core/core.h"
#include "nnedge.h"

#include <math.h>
#include <string.h>

struct nne_logmel {
    nne_logmel_params p;
    int32_t n_bins;   /* n_fft/2 + 1 */
    int pow2;         /* n_fft is a power of two */
    double *window;   /* n_fft (zero outside the centred Hann window) */
    double *fb;       /* n_mels x n_bins */
    float *fb_f32;    /* the same as float, for nne_logmel_filters */
    double *re, *im;  /* n_fft scratch */
    double *twc, *tws; /* pow2: n_fft/2 twiddles; else n_fft cos/sin table */
    int32_t *rev;     /* pow2: bit reversal permutation */
    double *spec;     /* n_bins scratch */
    int32_t *band;    /* n_mels x {first, end}: the bins where a filter is not 0 */
};

int64_t nne_audio_num_frames(int64_t n, int32_t frame_len, int32_t hop) {
    if (frame_len < 1 || hop < 1 || n < 0) return -1;
    if (n < frame_len) return 0;
    return (n - frame_len) / hop + 1;
}

nne_status nne_audio_frames(const float *x, int64_t n, int32_t frame_len, int32_t hop, const float *window,
                            float *out, int64_t cap_frames, int64_t *n_frames) {
    if (n_frames) *n_frames = 0;
    int64_t nf = nne_audio_num_frames(n, frame_len, hop);
    if (nf < 0) return nne_error(NNE_ERR_INVALID_ARG, "nne_audio_frames: frame_len %d and hop %d must be >= 1, n %lld >= 0",
                                 (int)frame_len, (int)hop, (long long)n);
    if ((!x && n > 0) || (!out && nf > 0)) return nne_error(NNE_ERR_INVALID_ARG, "nne_audio_frames: NULL buffer");
    if (nf > cap_frames)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_audio_frames: %lld frames do not fit in a buffer of %lld",
                         (long long)nf, (long long)cap_frames);
    for (int64_t f = 0; f < nf; f++) {
        const float *src = x + f * hop;
        float *dst = out + f * frame_len;
        for (int32_t i = 0; i < frame_len; i++) dst[i] = window ? src[i] * window[i] : src[i];
    }
    if (n_frames) *n_frames = nf;
    return NNE_OK;
}

/* librosa.hz_to_mel / mel_to_hz */
static double hz_to_mel(double f, int htk) {
    if (htk) return 2595.0 * log10(1.0 + f / 700.0);
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    if (f >= min_log_hz) return min_log_mel + log(f / min_log_hz) / logstep;
    return f / f_sp;
}
static double mel_to_hz(double m, int htk) {
    if (htk) return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    if (m >= min_log_mel) return min_log_hz * exp(logstep * (m - min_log_mel));
    return f_sp * m;
}

static int is_pow2(int32_t n) { return n > 0 && (n & (n - 1)) == 0; }

void nne_logmel_destroy(nne_logmel *lm) {
    if (!lm) return;
    nne_free(lm->window);
    nne_free(lm->fb);
    nne_free(lm->fb_f32);
    nne_free(lm->re);
    nne_free(lm->im);
    nne_free(lm->twc);
    nne_free(lm->tws);
    nne_free(lm->rev);
    nne_free(lm->spec);
    nne_free(lm->band);
    nne_free(lm);
}

static nne_status check_params(const nne_logmel_params *p) {
#define BAD(...) nne_error(NNE_ERR_INVALID_ARG, "nne_logmel_create: " __VA_ARGS__)
    if (p->sample_rate < 1) return BAD("sample_rate %d must be >= 1", (int)p->sample_rate);
    /* 2^20 samples: far beyond any spectrogram, and the tables stay small */
    if (p->n_fft < 2 || p->n_fft > (1 << 20)) return BAD("n_fft %d must be in 2..1048576", (int)p->n_fft);
    if (!is_pow2(p->n_fft) && p->n_fft > 65536)
        return BAD("n_fft %d: sizes that are not a power of two are limited to 65536", (int)p->n_fft);
    if (p->win_length < 1 || p->win_length > p->n_fft)
        return BAD("win_length %d must be in 1..n_fft (%d)", (int)p->win_length, (int)p->n_fft);
    if (p->hop_length < 1) return BAD("hop_length %d must be >= 1", (int)p->hop_length);
    if (p->n_mels < 1 || p->n_mels > 4096) return BAD("n_mels %d must be in 1..4096", (int)p->n_mels);
    if (p->htk != 0 && p->htk != 1) return BAD("htk %d must be 0 or 1", (int)p->htk);
    if (p->slaney_norm != 0 && p->slaney_norm != 1) return BAD("slaney_norm %d must be 0 or 1", (int)p->slaney_norm);
    if (p->log != 0 && p->log != 1) return BAD("log %d must be 0 or 1", (int)p->log);
    if (!(p->fmin >= 0) || !(p->fmax > p->fmin) || !(p->fmax <= p->sample_rate / 2.0))
        return BAD("need 0 <= fmin (%g) < fmax (%g) <= sample_rate/2 (%g)", p->fmin, p->fmax, p->sample_rate / 2.0);
    if (!(p->power > 0) || !isfinite(p->power)) return BAD("power %g must be > 0", p->power);
    if (p->log && (!(p->amin > 0) || !isfinite(p->amin))) return BAD("amin %g must be > 0", p->amin);
    if (!isfinite(p->top_db)) return BAD("top_db %g must be finite", p->top_db);
    if (!isfinite(p->scale) || !isfinite(p->offset)) return BAD("scale %g and offset %g must be finite", p->scale, p->offset);
#undef BAD
    return NNE_OK;
}

nne_status nne_logmel_create(const nne_logmel_params *p, nne_logmel **out) {
    if (!out) return nne_error(NNE_ERR_INVALID_ARG, "nne_logmel_create: NULL out");
    *out = NULL;
    if (!p) return nne_error(NNE_ERR_INVALID_ARG, "nne_logmel_create: NULL params");
    nne_status st = check_params(p);
    if (st != NNE_OK) return st;
    nne_logmel *lm = nne_calloc(1, sizeof *lm);
    if (!lm) return nne_error(NNE_ERR_OUT_OF_MEMORY, "nne_logmel_create: out of memory");
    lm->p = *p;
    int32_t n = p->n_fft, nb = n / 2 + 1, nm = p->n_mels;
    lm->n_bins = nb;
    lm->pow2 = is_pow2(n);
    lm->window = nne_calloc((size_t)n, sizeof(double));
    lm->fb = nne_calloc((size_t)nm * nb, sizeof(double));
    lm->fb_f32 = nne_calloc((size_t)nm * nb, sizeof(float));
    lm->re = nne_calloc((size_t)n, sizeof(double));
    lm->im = nne_calloc((size_t)n, sizeof(double));
    lm->spec = nne_calloc((size_t)nb, sizeof(double));
    lm->band = nne_calloc((size_t)nm * 2, sizeof(int32_t));
    size_t tw = lm->pow2 ? (size_t)(n / 2 > 0 ? n / 2 : 1) : (size_t)n;
    lm->twc = nne_calloc(tw, sizeof(double));
    lm->tws = nne_calloc(tw, sizeof(double));
    if (lm->pow2) lm->rev = nne_calloc((size_t)n, sizeof(int32_t));
    if (!lm->window || !lm->fb || !lm->fb_f32 || !lm->re || !lm->im || !lm->spec || !lm->band || !lm->twc ||
        !lm->tws || (lm->pow2 && !lm->rev)) {
        nne_logmel_destroy(lm);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "nne_logmel_create: out of memory for n_fft %d", (int)n);
    }
    /* periodic Hann window, centred */
    int32_t wl = p->win_length, off = (n - wl) / 2;
    for (int32_t i = 0; i < wl; i++) lm->window[off + i] = 0.5 - 0.5 * cos(2.0 * M_PI * i / wl);
    if (lm->pow2) {
        for (size_t k = 0; k < tw; k++) {
            lm->twc[k] = cos(2.0 * M_PI * (double)k / n);
            lm->tws[k] = -sin(2.0 * M_PI * (double)k / n);
        }
        int bits = 0;
        while ((1 << bits) < n) bits++;
        for (int32_t i = 0; i < n; i++) {
            int32_t r = 0;
            for (int b = 0; b < bits; b++)
                if (i & (1 << b)) r |= 1 << (bits - 1 - b);
            lm->rev[i] = r;
        }
    } else {
        for (int32_t k = 0; k < n; k++) {
            lm->twc[k] = cos(2.0 * M_PI * (double)k / n);
            lm->tws[k] = -sin(2.0 * M_PI * (double)k / n);
        }
    }
    /* mel filter bank (librosa.filters.mel) */
    double mlo = hz_to_mel(p->fmin, p->htk), mhi = hz_to_mel(p->fmax, p->htk);
    double *mel_f = nne_calloc((size_t)nm + 2, sizeof(double));
    if (!mel_f) {
        nne_logmel_destroy(lm);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "nne_logmel_create: out of memory");
    }
    for (int32_t i = 0; i < nm + 2; i++) mel_f[i] = mel_to_hz(mlo + (mhi - mlo) * i / (nm + 1), p->htk);
    for (int32_t m = 0; m < nm; m++) {
        double d0 = mel_f[m + 1] - mel_f[m], d1 = mel_f[m + 2] - mel_f[m + 1];
        double enorm = p->slaney_norm ? 2.0 / (mel_f[m + 2] - mel_f[m]) : 1.0;
        for (int32_t k = 0; k < nb; k++) {
            double f = (double)k * p->sample_rate / n;
            double lower = (f - mel_f[m]) / d0, upper = (mel_f[m + 2] - f) / d1;
            double w = lower < upper ? lower : upper;
            if (!(w > 0)) w = 0;
            lm->fb[(size_t)m * nb + k] = w * enorm;
            lm->fb_f32[(size_t)m * nb + k] = (float)(w * enorm);
        }
        /* a triangle covers a few bins: the run sums only those (the zero
         * weights elsewhere would add exact zeros to non-negative sums) */
        int32_t lo = 0, hi = nb;
        while (lo < nb && lm->fb[(size_t)m * nb + lo] == 0) lo++;
        while (hi > lo && lm->fb[(size_t)m * nb + hi - 1] == 0) hi--;
        lm->band[2 * m] = lo;
        lm->band[2 * m + 1] = hi;
    }
    nne_free(mel_f);
    *out = lm;
    return NNE_OK;
}

int64_t nne_logmel_num_frames(const nne_logmel *lm, int64_t n) {
    if (!lm) return -1;
    return nne_audio_num_frames(n, lm->p.n_fft, lm->p.hop_length);
}

const float *nne_logmel_filters(const nne_logmel *lm) { return lm ? lm->fb_f32 : NULL; }

/* In-place iterative radix-2 FFT of re/im (n a power of two). */
static void fft_pow2(nne_logmel *lm) {
    int32_t n = lm->p.n_fft;
    double *re = lm->re, *im = lm->im;
    for (int32_t i = 0; i < n; i++) {
        int32_t j = lm->rev[i];
        if (j > i) {
            double t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (int32_t len = 2; len <= n; len <<= 1) {
        int32_t half = len / 2, step = n / len;
        for (int32_t s = 0; s < n; s += len) {
            for (int32_t k = 0; k < half; k++) {
                double wr = lm->twc[k * step], wi = lm->tws[k * step];
                double xr = re[s + k + half], xi = im[s + k + half];
                double tr = xr * wr - xi * wi, ti = xr * wi + xi * wr;
                re[s + k + half] = re[s + k] - tr;
                im[s + k + half] = im[s + k] - ti;
                re[s + k] += tr;
                im[s + k] += ti;
            }
        }
    }
}

/* |DFT|^power of the windowed frame in lm->re into lm->spec. */
static void frame_spectrum(nne_logmel *lm) {
    int32_t n = lm->p.n_fft, nb = lm->n_bins;
    if (lm->pow2) {
        memset(lm->im, 0, (size_t)n * sizeof(double));
        fft_pow2(lm);
    } else {
        /* direct DFT: X[k] = sum x[t] e^{-2 pi i k t / n}; the table index
         * k*t mod n is kept incrementally (no overflow, no products) */
        for (int32_t k = 0; k < nb; k++) {
            double sr = 0, si = 0;
            int32_t idx = 0;
            for (int32_t t = 0; t < n; t++) {
                sr += lm->re[t] * lm->twc[idx];
                si += lm->re[t] * lm->tws[idx];
                idx += k;
                if (idx >= n) idx -= n;
            }
            lm->im[k] = si;
            lm->spec[k] = sr; /* real part parked in spec, moved below */
        }
        for (int32_t k = 0; k < nb; k++) lm->re[k] = lm->spec[k];
    }
    double pw = lm->p.power;
    for (int32_t k = 0; k < nb; k++) {
        double e = lm->re[k] * lm->re[k] + lm->im[k] * lm->im[k];
        lm->spec[k] = pw == 2.0 ? e : pow(sqrt(e), pw);
    }
}

nne_status nne_logmel_run(nne_logmel *lm, const float *x, int64_t n, float *out, int64_t cap_frames,
                          int64_t *n_frames) {
    if (n_frames) *n_frames = 0;
    if (!lm) return nne_error(NNE_ERR_INVALID_ARG, "nne_logmel_run: NULL transform");
    int64_t nf = nne_logmel_num_frames(lm, n);
    if (nf < 0) return nne_error(NNE_ERR_INVALID_ARG, "nne_logmel_run: negative sample count %lld", (long long)n);
    if ((!x && n > 0) || (!out && nf > 0)) return nne_error(NNE_ERR_INVALID_ARG, "nne_logmel_run: NULL buffer");
    if (nf > cap_frames)
        return nne_error(NNE_ERR_INVALID_ARG, "nne_logmel_run: %lld frames do not fit in a buffer of %lld",
                         (long long)nf, (long long)cap_frames);
    for (int64_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return nne_error(NNE_ERR_INVALID_ARG, "nne_logmel_run: sample %lld is not finite", (long long)i);
    const nne_logmel_params *p = &lm->p;
    int32_t nfft = p->n_fft, nb = lm->n_bins, nm = p->n_mels;
    double vmax = -INFINITY;
    for (int64_t f = 0; f < nf; f++) {
        const float *src = x + f * p->hop_length;
        for (int32_t t = 0; t < nfft; t++) lm->re[t] = (double)src[t] * lm->window[t];
        frame_spectrum(lm);
        for (int32_t m = 0; m < nm; m++) {
            const double *w = lm->fb + (size_t)m * nb;
            double acc = 0;
            for (int32_t k = lm->band[2 * m], end = lm->band[2 * m + 1]; k < end; k++) acc += w[k] * lm->spec[k];
            double v = p->log ? 10.0 * log10(acc > p->amin ? acc : (double)p->amin) : acc;
            if (v > vmax) vmax = v;
            out[f * nm + m] = (float)v;
        }
    }
    int64_t total = nf * nm;
    if (p->log && p->top_db > 0 && nf > 0) {
        float floor_v = (float)(vmax - p->top_db);
        for (int64_t i = 0; i < total; i++)
            if (out[i] < floor_v) out[i] = floor_v;
    }
    if (p->scale != 1.0f || p->offset != 0.0f)
        for (int64_t i = 0; i < total; i++) out[i] = (float)((double)out[i] * p->scale + p->offset);
    if (n_frames) *n_frames = nf;
    return NNE_OK;
}
