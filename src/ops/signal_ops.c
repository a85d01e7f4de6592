/*
 * signal_ops.c - signal processing ops: HannWindow, HammingWindow, BlackmanWindow,
 * DFT (opset 17: axis attribute; opset 20: axis input), STFT and
 * MelWeightMatrix (all opset 17+).
 *
 * Transforms compute in double. A length that is a power of two uses an
 * iterative radix-2 FFT; any other length a direct DFT with a table of
 * twiddle factors (O(N^2), fine for frame sizes like 400).
 * Complex tensors carry [re, im] in a last dimension of 2; real ones a last
 * dimension of 1.
 */
#include "ops/op.h"

#include <math.h>
#include <string.h>

#define SIG_PI 3.14159265358979323846

/* ------------------------------------------------------------ windows -- */

enum { WIN_HANN, WIN_HAMMING, WIN_BLACKMAN };

static nne_status scalar_int(nne_op_ctx *ctx, const nne_tensor *t, const char *what, int64_t *out) {
    if (!t) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %s is required", what);
    if (nne_tensor_numel(t) != 1 || !nne_dtype_is_int(t->dtype)) {
        char b[64];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s must be one integer, got %s %s", what,
                            nne_dtype_name(t->dtype), nne_dims_str(t->ndim, t->dims, b, sizeof b));
    }
    NNE_TRY(nne_ctx_need_data(ctx, t));
    *out = nne_tensor_get_i64(t, 0);
    return NNE_OK;
}

static nne_status numeric_out_dtype(nne_op_ctx *ctx, nne_dtype *out) {
    int64_t dt = nne_attr_i(ctx, "output_datatype", NNE_DTYPE_FLOAT);
    if (dt == NNE_DTYPE_BOOL || dt == NNE_DTYPE_STRING || !nne_dtype_size((nne_dtype)dt))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "output_datatype %lld not supported", (long long)dt);
    *out = (nne_dtype)dt;
    return NNE_OK;
}

/* Hann/Hamming/BlackmanWindow: size is data (NNE_DYNAMIC unless constant); the state keeps it and periodic */
typedef struct window_state {
    int kind;
    int periodic;
    int64_t size;
} window_state;

static nne_status window_common(nne_op_ctx *ctx, int kind) {
    int64_t size;
    NNE_TRY(scalar_int(ctx, nne_ctx_input(ctx, 0), "size", &size));
    if (size < 0) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "window size %lld is negative", (long long)size);
    nne_dtype dt;
    NNE_TRY(numeric_out_dtype(ctx, &dt));
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, dt, 1, &size, &y));
    int periodic = nne_attr_i(ctx, "periodic", 1) != 0;
    window_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->kind = kind;
        st_->periodic = periodic;
        st_->size = size;
    }
    return NNE_OK;
}

static nne_status window_kernel(const void *state, const nne_kernel_args *a) {
    const window_state *st_ = state;
    nne_tensor *y = a->out[0];
    int kind = st_->kind;
    int periodic = st_->periodic;
    int64_t size = st_->size;
    double N = (double)(periodic ? size : size - 1);
    for (int64_t n = 0; n < size; n++) {
        double x = N > 0 ? 2.0 * SIG_PI * (double)n / N : 0.0, w;
        if (kind == WIN_HANN) w = 0.5 - 0.5 * cos(x);
        else if (kind == WIN_HAMMING) w = 25.0 / 46.0 - (21.0 / 46.0) * cos(x);
        else w = 0.42 - 0.5 * cos(x) + 0.08 * cos(2.0 * x);
        nne_tensor_set_f64(y, n, w);
    }
    return NNE_OK;
}

static nne_status hann_run(nne_op_ctx *ctx) { return window_common(ctx, WIN_HANN); }
static nne_status hamming_run(nne_op_ctx *ctx) { return window_common(ctx, WIN_HAMMING); }
static nne_status blackman_run(nne_op_ctx *ctx) { return window_common(ctx, WIN_BLACKMAN); }

/* -------------------------------------------------------- transforms -- */

/* Workspace for transforms of length n: 6n doubles. */
typedef struct {
    int64_t n;
    int pow2;
    double *buf; /* [2n] data, interleaved re/im */
    double *tmp; /* [2n] */
    double *tw;  /* [2n] exp(sign * 2 pi i m / n) */
} dft_plan;

static void plan_init(dft_plan *p, int64_t n, int inverse, double *mem) {
    p->n = n;
    p->pow2 = n > 0 && (n & (n - 1)) == 0;
    p->buf = mem;
    p->tmp = mem + 2 * n;
    p->tw = mem + 4 * n;
    double sign = inverse ? 1.0 : -1.0;
    for (int64_t m = 0; m < n; m++) {
        double a = 2.0 * SIG_PI * (double)m / (double)n;
        p->tw[2 * m] = cos(a);
        p->tw[2 * m + 1] = sign * sin(a);
    }
}

/* In-place transform of p->buf (unnormalized). */
static void plan_exec(dft_plan *p) {
    const int64_t n = p->n;
    double *x = p->buf;
    if (p->pow2) {
        for (int64_t i = 1, j = 0; i < n; i++) { /* bit-reversal permutation */
            int64_t bit = n >> 1;
            for (; j & bit; bit >>= 1) j ^= bit;
            j ^= bit;
            if (i < j) {
                double r = x[2 * i], im = x[2 * i + 1];
                x[2 * i] = x[2 * j];
                x[2 * i + 1] = x[2 * j + 1];
                x[2 * j] = r;
                x[2 * j + 1] = im;
            }
        }
        for (int64_t len = 2; len <= n; len <<= 1) {
            int64_t half = len >> 1, step = n / len;
            for (int64_t s = 0; s < n; s += len)
                for (int64_t k = 0; k < half; k++) {
                    double wr = p->tw[2 * k * step], wi = p->tw[2 * k * step + 1];
                    double *a = x + 2 * (s + k), *b = x + 2 * (s + k + half);
                    double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
                    b[0] = a[0] - br;
                    b[1] = a[1] - bi;
                    a[0] += br;
                    a[1] += bi;
                }
        }
        return;
    }
    for (int64_t k = 0; k < n; k++) {
        double sr = 0.0, si = 0.0;
        int64_t m = 0; /* k * j mod n, kept incrementally */
        for (int64_t j = 0; j < n; j++) {
            double wr = p->tw[2 * m], wi = p->tw[2 * m + 1];
            sr += x[2 * j] * wr - x[2 * j + 1] * wi;
            si += x[2 * j] * wi + x[2 * j + 1] * wr;
            m += k;
            if (m >= n) m -= n;
        }
        p->tmp[2 * k] = sr;
        p->tmp[2 * k + 1] = si;
    }
    memcpy(x, p->tmp, (size_t)(2 * n) * sizeof(double));
}

static int is_float_dt(nne_dtype dt) {
    return dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_DOUBLE || dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
}

/* DFT in phases: axis, length and sidedness fixed per plan */
typedef struct dft_state {
    int r;
    int cin;
    int64_t axis;
    int inverse;
    int onesided;
    int64_t n_in;
    int64_t N;
    int64_t n_out;
    int cout;
} dft_state;

static nne_status dft_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *tlen = nne_ctx_input(ctx, 1);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input is required");
    if (!is_float_dt(x->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(x->dtype));
    const int r = x->ndim;
    if (r < 2 || (x->dims[r - 1] != 1 && x->dims[r - 1] != 2)) {
        char b[128];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input shape %s: expected [..., 1] (real) or [..., 2] (complex)",
                            nne_dims_str(r, x->dims, b, sizeof b));
    }
    const int cin = (int)x->dims[r - 1];
    int64_t axis;
    if (nne_ctx_opset(ctx) >= 20) {
        axis = -2;
        const nne_tensor *ta = nne_ctx_input(ctx, 2);
        if (ta) NNE_TRY(scalar_int(ctx, ta, "axis", &axis));
    } else {
        axis = nne_attr_i(ctx, "axis", 1);
    }
    if (axis < 0) axis += r;
    if (axis < 0 || axis > r - 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "axis %lld is out of range for rank %d (the last axis holds re/im)",
                            (long long)axis, r);
    int inverse = nne_attr_i(ctx, "inverse", 0) != 0, onesided = nne_attr_i(ctx, "onesided", 0) != 0;
    const int64_t n_in = x->dims[axis];
    int64_t N = onesided && inverse ? 2 * (n_in - 1) : n_in;
    if (tlen) NNE_TRY(scalar_int(ctx, tlen, "dft_length", &N));
    if (N < 1 || N > ((int64_t)1 << 40))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "dft_length %lld is out of range (must be >= 1)", (long long)N);
    if (onesided && inverse && cin != 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "onesided inverse DFT needs complex input (last dim 2)");
    const int64_t n_out = onesided && !inverse ? N / 2 + 1 : N;
    const int cout = onesided && inverse ? 1 : 2;
    int64_t dims[NNE_MAX_DIMS];
    for (int i = 0; i < r; i++) dims[i] = x->dims[i];
    dims[axis] = n_out;
    dims[r - 1] = cout;
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, r, dims, &y));
    nne_ctx_scratch(ctx, nne_size_elems(6 * N, sizeof(double)));
    dft_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->r = r;
        st_->cin = cin;
        st_->axis = axis;
        st_->inverse = inverse;
        st_->onesided = onesided;
        st_->n_in = n_in;
        st_->N = N;
        st_->n_out = n_out;
        st_->cout = cout;
    }
    return NNE_OK;
}

static nne_status dft_kernel(const void *state, const nne_kernel_args *a) {
    const dft_state *st_ = state;
    const nne_tensor *x = a->in[0];
    nne_tensor *y = a->out[0];
    int r = st_->r;
    int cin = st_->cin;
    int64_t axis = st_->axis;
    int inverse = st_->inverse;
    int onesided = st_->onesided;
    int64_t n_in = st_->n_in;
    int64_t N = st_->N;
    int64_t n_out = st_->n_out;
    int cout = st_->cout;
    double *mem = a->scratch;

    int64_t outer = 1, inner = 1;
    for (int i = 0; i < axis; i++) outer *= x->dims[i];
    for (int i = (int)axis + 1; i < r - 1; i++) inner *= x->dims[i];
    dft_plan p;
    plan_init(&p, N, inverse, mem);
    const double scale = inverse ? 1.0 / (double)N : 1.0;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < inner; i++) {
            double *b = p.buf;
            if (onesided && inverse) { /* rebuild the Hermitian-symmetric spectrum */
                for (int64_t k = 0; k <= N / 2; k++) {
                    int64_t src = ((o * n_in + k) * inner + i) * 2;
                    b[2 * k] = k < n_in ? nne_tensor_get_f64(x, src) : 0.0;
                    b[2 * k + 1] = k < n_in ? nne_tensor_get_f64(x, src + 1) : 0.0;
                }
                for (int64_t k = N / 2 + 1; k < N; k++) {
                    b[2 * k] = b[2 * (N - k)];
                    b[2 * k + 1] = -b[2 * (N - k) + 1];
                }
            } else {
                for (int64_t k = 0; k < N; k++) {
                    int64_t src = ((o * n_in + k) * inner + i) * cin;
                    b[2 * k] = k < n_in ? nne_tensor_get_f64(x, src) : 0.0;
                    b[2 * k + 1] = k < n_in && cin == 2 ? nne_tensor_get_f64(x, src + 1) : 0.0;
                }
            }
            plan_exec(&p);
            for (int64_t k = 0; k < n_out; k++) {
                int64_t dst = ((o * n_out + k) * inner + i) * cout;
                nne_tensor_set_f64(y, dst, b[2 * k] * scale);
                if (cout == 2) nne_tensor_set_f64(y, dst + 1, b[2 * k + 1] * scale);
            }
        }
    return NNE_OK;
}

/* STFT: signal [batch, length, 1|2], frame_step, window [w] (optional),
 * frame_length (optional) -> [batch, frames, bins, 2]. */
/* STFT in phases: frame geometry fixed per plan */
typedef struct stft_state {
    int64_t nb;
    int64_t len;
    int cin;
    int64_t step;
    int64_t flen;
    int onesided;
    int64_t frames;
    int64_t bins;
    int64_t wlen;
} stft_state;

static nne_status stft_run(nne_op_ctx *ctx) {
    const nne_tensor *x = nne_ctx_input(ctx, 0), *tstep = nne_ctx_input(ctx, 1);
    const nne_tensor *win = nne_ctx_input(ctx, 2), *tlen = nne_ctx_input(ctx, 3);
    if (!x) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input signal is required");
    if (!is_float_dt(x->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_UNSUPPORTED, "dtype %s not supported", nne_dtype_name(x->dtype));
    char b1[128];
    if (x->ndim == 2) { /* [batch, length]: a real signal without the last dim */
    } else if (x->ndim != 3 || (x->dims[2] != 1 && x->dims[2] != 2)) {
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "signal shape %s: expected [batch, length, 1 or 2]",
                            nne_dims_str(x->ndim, x->dims, b1, sizeof b1));
    }
    const int64_t nb = x->dims[0], len = x->dims[1];
    const int cin = x->ndim == 3 ? (int)x->dims[2] : 1;
    int64_t step, flen = -1;
    NNE_TRY(scalar_int(ctx, tstep, "frame_step", &step));
    if (step < 1) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "frame_step %lld must be >= 1", (long long)step);
    if (win && (win->ndim != 1 || win->dtype != x->dtype))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "window must be a 1-D %s tensor, got %s %s",
                            nne_dtype_name(x->dtype), nne_dtype_name(win->dtype),
                            nne_dims_str(win->ndim, win->dims, b1, sizeof b1));
    if (tlen) NNE_TRY(scalar_int(ctx, tlen, "frame_length", &flen));
    else flen = win ? win->dims[0] : len;
    if (flen < 1 || flen > ((int64_t)1 << 40))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "frame_length %lld must be >= 1", (long long)flen);
    int onesided = nne_attr_i(ctx, "onesided", 1) != 0;
    if (onesided && cin == 2)
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "onesided=1 needs a real signal (last dim 1)");
    const int64_t frames = len >= flen ? 1 + (len - flen) / step : 0;
    const int64_t bins = onesided ? flen / 2 + 1 : flen;
    const int64_t wlen = win ? win->dims[0] : flen;
    int64_t dims[4] = {nb, frames, bins, 2};
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, x->dtype, 4, dims, &y));
    nne_ctx_scratch(ctx, nne_size_elems(6 * flen, sizeof(double)));
    stft_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->nb = nb;
        st_->len = len;
        st_->cin = cin;
        st_->step = step;
        st_->flen = flen;
        st_->onesided = onesided;
        st_->frames = frames;
        st_->bins = bins;
        st_->wlen = wlen;
    }
    return NNE_OK;
}

static nne_status stft_kernel(const void *state, const nne_kernel_args *a) {
    const stft_state *st_ = state;
    const nne_tensor *x = a->in[0];
    const nne_tensor *win = a->n_in > 2 ? a->in[2] : NULL;
    nne_tensor *y = a->out[0];
    int64_t nb = st_->nb;
    int64_t len = st_->len;
    int cin = st_->cin;
    int64_t step = st_->step;
    int64_t flen = st_->flen;
    int64_t frames = st_->frames;
    int64_t bins = st_->bins;
    int64_t wlen = st_->wlen;
    double *mem = a->scratch;
    dft_plan p;
    plan_init(&p, flen, 0, mem);
    for (int64_t b = 0; b < nb; b++)
        for (int64_t f = 0; f < frames; f++) {
            double *buf = p.buf;
            for (int64_t k = 0; k < flen; k++) {
                int64_t t = f * step + k;
                double re = 0.0, im = 0.0;
                if (k < wlen && t < len) {
                    double w = win ? nne_tensor_get_f64(win, k) : 1.0;
                    int64_t src = (b * len + t) * cin;
                    re = w * nne_tensor_get_f64(x, src);
                    if (cin == 2) im = w * nne_tensor_get_f64(x, src + 1);
                }
                buf[2 * k] = re;
                buf[2 * k + 1] = im;
            }
            plan_exec(&p);
            for (int64_t k = 0; k < bins; k++) {
                int64_t dst = ((b * frames + f) * bins + k) * 2;
                nne_tensor_set_f64(y, dst, buf[2 * k]);
                nne_tensor_set_f64(y, dst + 1, buf[2 * k + 1]);
            }
        }
    return NNE_OK;
}

/* ---------------------------------------------------- MelWeightMatrix -- */

static nne_status scalar_float(nne_op_ctx *ctx, const nne_tensor *t, const char *what, double *out) {
    if (!t) return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "input %s is required", what);
    if (nne_tensor_numel(t) != 1) {
        char b[64];
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "%s must be one value, got shape %s", what,
                            nne_dims_str(t->ndim, t->dims, b, sizeof b));
    }
    NNE_TRY(nne_ctx_need_data(ctx, t));
    *out = nne_tensor_get_f64(t, 0);
    return NNE_OK;
}

/*
 * Triangular filters with peak 1 between mel-spaced band edges: the
 * num_mel_bins + 2 edges are spaced evenly in mel from lower to upper edge
 * (step (high - low) / (num_mel_bins + 2), as the ONNX reference does), then
 * mapped to spectrogram bins floor((dft_length + 1) * hz / sample_rate).
 * Filter i rises from edge i to edge i+1 and falls to edge i+2.
 */
/* MelWeightMatrix: its scalars are data (NNE_DYNAMIC unless constant), kept in the state */
typedef struct mel_state {
    int64_t nmel;
    int64_t nfft;
    int64_t rate;
    double lo;
    double hi;
    int64_t nspec;
} mel_state;

static nne_status mel_run(nne_op_ctx *ctx) {
    int64_t nmel, nfft, rate;
    double lo, hi;
    NNE_TRY(scalar_int(ctx, nne_ctx_input(ctx, 0), "num_mel_bins", &nmel));
    NNE_TRY(scalar_int(ctx, nne_ctx_input(ctx, 1), "dft_length", &nfft));
    NNE_TRY(scalar_int(ctx, nne_ctx_input(ctx, 2), "sample_rate", &rate));
    NNE_TRY(scalar_float(ctx, nne_ctx_input(ctx, 3), "lower_edge_hertz", &lo));
    NNE_TRY(scalar_float(ctx, nne_ctx_input(ctx, 4), "upper_edge_hertz", &hi));
    if (nmel < 0 || nfft < 0 || rate <= 0 || nmel > ((int64_t)1 << 24) || nfft > ((int64_t)1 << 32))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG, "num_mel_bins %lld, dft_length %lld, sample_rate %lld out of range",
                            (long long)nmel, (long long)nfft, (long long)rate);
    /* mel(f) = 2595 log10(1 + f / 700) is defined for f > -700 Hz only; outside
     * it (or for NaN/inf) every edge would be NaN and the matrix meaningless */
    if (!(lo > -700.0 && hi > -700.0 && isfinite(lo) && isfinite(hi)))
        return nne_ctx_fail(ctx, NNE_ERR_INVALID_ARG,
                            "lower_edge_hertz %g, upper_edge_hertz %g: the mel scale needs finite edges above -700 Hz",
                            lo, hi);
    nne_dtype dt;
    NNE_TRY(numeric_out_dtype(ctx, &dt));
    const int64_t nspec = nfft / 2 + 1;
    int64_t dims[2] = {nspec, nmel};
    nne_tensor *y;
    NNE_TRY(nne_ctx_output(ctx, 0, dt, 2, dims, &y));
    nne_ctx_scratch(ctx, nne_size_elems(nmel + 2, sizeof(int64_t)));
    mel_state *st_ = nne_ctx_plan_state(ctx);
    if (st_) {
        st_->nmel = nmel;
        st_->nfft = nfft;
        st_->rate = rate;
        st_->lo = lo;
        st_->hi = hi;
        st_->nspec = nspec;
    }
    return NNE_OK;
}

static nne_status mel_kernel(const void *state, const nne_kernel_args *a) {
    const mel_state *st_ = state;
    nne_tensor *y = a->out[0];
    int64_t nmel = st_->nmel;
    int64_t nfft = st_->nfft;
    int64_t rate = st_->rate;
    double lo = st_->lo;
    double hi = st_->hi;
    int64_t nspec = st_->nspec;
    int64_t *edge = a->scratch;
    double mlo = 2595.0 * log10(1.0 + lo / 700.0), mhi = 2595.0 * log10(1.0 + hi / 700.0);
    double mstep = (mhi - mlo) / (double)(nmel + 2);
    for (int64_t i = 0; i < nmel + 2; i++) {
        double hz = 700.0 * (pow(10.0, ((double)i * mstep + mlo) / 2595.0) - 1.0);
        double e = floor((double)(nfft + 1) * hz / (double)rate);
        edge[i] = e != e ? 0 : e < -1e15 ? (int64_t)-1e15 : e > 1e15 ? (int64_t)1e15 : (int64_t)e;
    }
    int64_t n = nspec * nmel;
    for (int64_t e = 0; e < n; e++) nne_tensor_set_f64(y, e, 0.0);
    for (int64_t i = 0; i < nmel; i++) {
        int64_t l = edge[i], c = edge[i + 1], h = edge[i + 2];
        if (c == l) {
            if (c >= 0 && c < nspec) nne_tensor_set_f64(y, c * nmel + i, 1.0);
        } else {
            for (int64_t j = l > 0 ? l : 0; j <= c && j < nspec; j++)
                nne_tensor_set_f64(y, j * nmel + i, (double)(j - l) / (double)(c - l));
        }
        if (h > c)
            for (int64_t j = c > 0 ? c : 0; j < h && j < nspec; j++)
                nne_tensor_set_f64(y, j * nmel + i, (double)(h - j) / (double)(h - c));
    }
    return NNE_OK;
}

NNE_OP_DEFINE(HannWindow, "", "HannWindow", .infer = hann_run, .run = window_kernel,
              .state_size = sizeof(window_state));
NNE_OP_DEFINE(HammingWindow, "", "HammingWindow", .infer = hamming_run, .run = window_kernel,
              .state_size = sizeof(window_state));
NNE_OP_DEFINE(BlackmanWindow, "", "BlackmanWindow", .infer = blackman_run, .run = window_kernel,
              .state_size = sizeof(window_state));
NNE_OP_DEFINE(DFT, "", "DFT", .infer = dft_run, .run = dft_kernel,
              .state_size = sizeof(dft_state));
NNE_OP_DEFINE(STFT, "", "STFT", .infer = stft_run, .run = stft_kernel,
              .state_size = sizeof(stft_state));
NNE_OP_DEFINE(MelWeightMatrix, "", "MelWeightMatrix", .infer = mel_run, .run = mel_kernel,
              .state_size = sizeof(mel_state));
