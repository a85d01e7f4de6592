/*
 * quant.h - internals of the int8 quantizer (nne_model_quantize):
 * calibration statistics (calib.c), range choice (range.c), the QDQ graph
 * rewrite (qdq.c) and the driver with evaluation, SQNR and the accuracy
 * guard (quantize.c).
 */
#ifndef NNE_QUANT_QUANT_H
#define NNE_QUANT_QUANT_H

#include "nnedge.h"
#include "ir/graph.h"

#include <stdint.h>

/* Histogram bins of |x| over [0, amax] per tensor (TensorRT and ONNX
 * Runtime's calibrators use 2048 as well). */
#define NNE_QHIST_BINS 2048

/* Statistics of one float tensor over the calibration set. */
typedef struct nne_qstat {
    char *name;
    double min, max;       /* observed */
    int64_t count;         /* elements seen */
    double *hist;          /* NNE_QHIST_BINS counts of nonzero |x| over [0, amax]; NULL until pass 2 */
    double zeros;          /* values exactly 0 (pass 2; not in hist) */
    double amax;           /* max(|min|, |max|) fixed at the end of pass 1 */
    /* chosen range and parameters (uint8 asymmetric) */
    double lo, hi;
    float scale;
    uint8_t zero_point;
} nne_qstat;

typedef struct nne_qstats {
    int n, cap;
    nne_qstat *s;
    int *hash;             /* open addressing over names */
    int hash_cap;
} nne_qstats;

void nne_qstats_free(nne_qstats *q);
/* The statistics of tensor `name`, NULL when it was never seen. */
nne_qstat *nne_qstats_find(const nne_qstats *q, const char *name);

/* Run model m over the calibration samples (pass 1: min/max; pass 2, for the
 * histogram methods: |x| histograms) and fill *q with every float tensor the
 * graph makes and every float model input. Calibration data checks (shape,
 * dtype, NaN) happen here. */
typedef struct nne_qrun {
    const nne_model *m;
    int32_t n;
    const char *const *names;
    const nne_tensor *data;   /* samples on axis 0 */
    int64_t samples;
    int32_t batch;            /* samples per run when the batch dim is free */
    int32_t threads;
    nne_quant_progress_fn progress;
    void *progress_user;
} nne_qrun;
nne_status nne_quant_check_data(const nne_model *m, int32_t n, const char *const *names, const nne_tensor *data,
                                const char *what, int64_t *samples);
nne_status nne_quant_calibrate(const nne_qrun *r, int histograms, nne_qstats *q);

/* Pick lo/hi/scale/zero_point of s by method (range.c). */
void nne_quant_choose_range(nne_qstat *s, nne_quant_method method, double percentile);
/* uint8 asymmetric parameters for [lo, hi] (widened to hold 0). */
void nne_quant_params_u8(double lo, double hi, float *scale, uint8_t *zp);

/* One batch run of a model: run `fn` for each batch with the session's
 * outputs; the observer (may be NULL) sees each batch. Batches follow the
 * first input's batch dim (free: r->batch samples; fixed: that many). */
typedef nne_status (*nne_qbatch_fn)(void *user, nne_session *s, int64_t first, int64_t count);
/* The same one batch at a time (SQNR runs two models in step). */
typedef struct nne_qbatcher {
    const nne_qrun *r;
    nne_session *s;
    nne_tensor *in;
    int64_t prepared, batch;
    nne_observer_fn obs;
    void *obs_user;
} nne_qbatcher;
nne_status nne_qbatcher_open(nne_qbatcher *qb, const nne_qrun *r, nne_observer_fn obs, void *obs_user);
nne_status nne_qbatcher_run(nne_qbatcher *qb, const char *stage, int64_t first, int64_t cnt);
void nne_qbatcher_close(nne_qbatcher *qb);
nne_status nne_quant_run_batches(const nne_qrun *r, const char *stage, nne_observer_fn obs, void *obs_user,
                                 nne_qbatch_fn fn, void *fn_user);

/* The QDQ rewrite (qdq.c) of model q (a private copy, not shared) with the
 * statistics of its float twin. keep[i] names nodes to leave in float.
 * Fills the layer list used by the report and the SQNR measurement. */
typedef struct nne_qlayer {
    char *node, *op;
    char *in_f;            /* the float tensor the layer reads (its activation input) */
    char *in_q;            /* the dequantized tensor it reads in the int8 model (NULL: float) */
    char *out;             /* its output (same name in both models) */
    char *weight;          /* weight initializer name */
    int64_t channels;      /* weight scales (1 per tensor) */
    float wscale_min, wscale_max;
    int quantized;         /* 0: kept in float */
    int node_idx, kind;    /* node index at rewrite time; 1 Conv, 2 Gemm, 3 MatMul */
    int bias_int32;
    double sqnr_in, sqnr_out; /* dB; NAN when not measured */
} nne_qlayer;
typedef struct nne_qtensor {
    char *name;            /* float tensor */
    char *dq;              /* its dequantized value in the int8 model */
    int stat;              /* index in the stats, -1: shares `shared` */
    char *shared;          /* the tensor whose parameters it reuses (same-scale ops) */
    float scale;
    uint8_t zero_point;
    double sqnr;
} nne_qtensor;
typedef struct nne_qplan {
    int n_layers;
    nne_qlayer *layers;
    int n_tensors;
    nne_qtensor *tensors;
    int weights;           /* int8 weight tensors written */
    int per_tensor_forced; /* opset < 13: per-axis DequantizeLinear needs 13 */
} nne_qplan;
void nne_qplan_free(nne_qplan *p);
nne_status nne_quant_rewrite(nne_model *q, const nne_qstats *st, int per_tensor, int full_range, int n_keep,
                             const char *const *keep, nne_qplan *plan);
/* Dynamic quantization of MatMul/Gemm weights (qdq.c). */
nne_status nne_quant_rewrite_dynamic(nne_model *q, int per_tensor, int full_range, int n_keep,
                                     const char *const *keep, nne_qplan *plan);

/* A growable string (report JSON). */
typedef struct nne_qbuf {
    char *s;
    size_t len, cap;
    int oom;
} nne_qbuf;
void nne_qbuf_printf(nne_qbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nne_qbuf_json_str(nne_qbuf *b, const char *s);
void nne_qbuf_num(nne_qbuf *b, double v); /* null for NaN/Inf */

#endif
