/*
 * quantize.c - nne_model_quantize: the driver of static int8 post-training
 * quantization and its accuracy story.
 *
 *  1. Copy the model (written and read back: the caller's model stays
 *     untouched and shareable) and optimize the copy at level basic, so
 *     BatchNormalization is folded into the Conv before calibration.
 *  2. Calibrate the copy (calib.c) and choose each tensor's range (range.c).
 *  3. Rewrite a second copy into QDQ form (qdq.c).
 *  4. Measure: SQNR (10 log10(sum x^2 / sum (x - x_q)^2), dB) of every
 *     quantized tensor and of each layer's output, the float copy and the
 *     int8 model run in step on up to NNE_QSQNR_SAMPLES calibration samples;
 *     with evaluation data, top-1 of both models.
 *  5. Accuracy guard: while the top-1 drop exceeds max_drop, keep in float
 *     the quantized layer that loses most SQNR from its quantized input to
 *     its output, and go back to 3.
 * The report (JSON) holds every number of 2-5.
 */
#include "quant/quant.h"
#include "core/core.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The default method: the one with the best int8 top-1 on the Fashion-MNIST
 * test models (README "Quantization" has the table). */
#define NNE_QUANT_BEST NNE_QUANT_MINMAX
#define NNE_QSQNR_SAMPLES 256

struct nne_quant_report {
    char *json;
    nne_quant_summary sum;
};

static const char *const k_methods[] = {"default", "minmax", "percentile", "entropy", "mse"};

const char *nne_quant_method_name(nne_quant_method m) {
    return m >= 0 && m < (int)NNE_ARRAY_LEN(k_methods) ? k_methods[m] : "unknown";
}

nne_status nne_quant_method_parse(const char *s, nne_quant_method *out) {
    for (int i = 0; s && i < (int)NNE_ARRAY_LEN(k_methods); i++)
        if (!strcmp(s, k_methods[i])) {
            *out = (nne_quant_method)i;
            return NNE_OK;
        }
    return nne_error(NNE_ERR_INVALID_ARG, "unknown calibration method \"%s\"; expected minmax, percentile, entropy or mse",
                     s ? s : "(null)");
}

const char *nne_quant_report_json(const nne_quant_report *r) { return r && r->json ? r->json : "{}"; }
void nne_quant_report_summary(const nne_quant_report *r, nne_quant_summary *out) {
    if (r) *out = r->sum;
    else memset(out, 0, sizeof *out);
}
void nne_quant_report_destroy(nne_quant_report *r) {
    if (!r) return;
    nne_free(r->json);
    nne_free(r);
}

/* ------------------------------------------------------------- strings -- */

void nne_qbuf_printf(nne_qbuf *b, const char *fmt, ...) {
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? room : 0, fmt, ap);
        va_end(ap);
        if (n < 0) return;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = (b->cap + (size_t)n + 1) * 2;
        char *s = nne_realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

void nne_qbuf_json_str(nne_qbuf *b, const char *s) {
    nne_qbuf_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') nne_qbuf_printf(b, "\\%c", *p);
        else if (*p < 0x20 || *p == 0x7f) nne_qbuf_printf(b, "\\u%04x", *p);
        else if (*p < 0x80) nne_qbuf_printf(b, "%c", *p);
        else {
            /* keep valid UTF-8, replace anything else by U+FFFD */
            int len = *p >= 0xf0 && *p < 0xf5 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc2 && *p < 0xe0 ? 2 : 0;
            int ok = len > 0;
            for (int k = 1; ok && k < len; k++) ok = (p[k] & 0xc0) == 0x80;
            if (ok) {
                nne_qbuf_printf(b, "%.*s", len, (const char *)p);
                p += len - 1;
            } else {
                nne_qbuf_printf(b, "\\ufffd");
            }
        }
    }
    nne_qbuf_printf(b, "\"");
}

void nne_qbuf_num(nne_qbuf *b, double v) {
    if (isfinite(v)) nne_qbuf_printf(b, "%.9g", v);
    else nne_qbuf_printf(b, "null");
}

/* --------------------------------------------------------------- models -- */

static nne_status clone_model(const nne_model *m, nne_model **out) {
    void *buf = NULL;
    size_t size = 0;
    *out = NULL;
    nne_status st = nne_model_save_memory(m, &buf, &size);
    if (st != NNE_OK) return st;
    st = nne_model_load_memory(buf, size, NULL, NULL, out);
    nne_buffer_free(buf);
    if (st != NNE_OK) nne_error_prefix("quantize: copying the model");
    return st;
}

/* ---------------------------------------------------------- evaluation -- */

typedef struct eval_acc {
    const nne_tensor *labels;
    int64_t correct, n;
} eval_acc;

static int64_t label_of(const nne_tensor *y, int64_t i) { return ((const int64_t *)y->data)[i]; }

static nne_status eval_batch(void *user, nne_session *s, int64_t first, int64_t cnt) {
    eval_acc *a = user;
    nne_tensor o;
    NNE_TRY(nne_session_output(s, 0, &o));
    int64_t ne = nne_tensor_numel(&o);
    if (o.dtype != NNE_DTYPE_FLOAT || ne <= 0 || ne % cnt)
        return nne_error(NNE_ERR_UNSUPPORTED,
                         "quantize: evaluation needs a classifier: output 0 must be float scores, one row per sample "
                         "(got %s with %lld elements for %lld samples)",
                         nne_dtype_name(o.dtype), (long long)ne, (long long)cnt);
    int64_t classes = ne / cnt;
    const float *z = o.data;
    for (int64_t i = 0; i < cnt; i++) {
        const float *row = z + i * classes;
        int64_t best = 0;
        for (int64_t k = 0; k < classes; k++) {
            if (!isfinite(row[k]))
                return nne_error(NNE_ERR_INVALID_ARG, "quantize: evaluation: sample %lld has a NaN or infinite score",
                                 (long long)(first + i));
            if (row[k] > row[best]) best = k;
        }
        int64_t y = label_of(a->labels, first + i);
        if (y < 0 || y >= classes)
            return nne_error(NNE_ERR_INVALID_ARG, "quantize: label %lld of sample %lld is outside the model's classes [0, %lld)",
                             (long long)y, (long long)(first + i), (long long)classes);
        a->correct += best == y;
        a->n++;
    }
    return NNE_OK;
}

static nne_status evaluate(const nne_qrun *base, const nne_model *m, const char *stage, const nne_tensor *labels,
                           double *top1) {
    nne_qrun r = *base;
    r.m = m;
    eval_acc a = {.labels = labels};
    NNE_TRY(nne_quant_run_batches(&r, stage, NULL, NULL, eval_batch, &a));
    *top1 = a.n ? (double)a.correct / (double)a.n : NAN;
    return NNE_OK;
}

/* ---------------------------------------------------------------- SQNR -- */

typedef struct sq_pair {
    const char *f, *q;   /* tensor in the float model, its counterpart in the int8 one */
    float *buf;
    int64_t len, cap;
    int have;
    double sx, se;
} sq_pair;

typedef struct sq_ctx {
    int n;
    sq_pair *p;
    int oom;
} sq_ctx;

static void sq_capture(sq_pair *p, const nne_tensor *t, sq_ctx *c) {
    int64_t ne = nne_tensor_numel(t);
    if (ne > p->cap) {
        /* outside the session's memory budget: the buffer outlives the run */
        nne_budget *prev = nne_budget_enter(NULL);
        float *b = nne_realloc(p->buf, (size_t)ne * sizeof(float));
        nne_budget_leave(prev);
        if (!b) {
            c->oom = 1;
            return;
        }
        p->buf = b;
        p->cap = ne;
    }
    memcpy(p->buf, t->data, (size_t)ne * sizeof(float));
    p->len = ne;
    p->have = 1;
}

static void sq_obs_float(void *user, const char *node, const char *op, int32_t n, const char *const *names,
                         const nne_tensor *outs) {
    sq_ctx *c = user;
    for (int32_t i = 0; i < n; i++) {
        if (outs[i].dtype != NNE_DTYPE_FLOAT || !outs[i].data || !names[i]) continue;
        for (int k = 0; k < c->n; k++)
            if (!strcmp(c->p[k].f, names[i])) sq_capture(&c->p[k], &outs[i], c);
    }
}

static void sq_obs_quant(void *user, const char *node, const char *op, int32_t n, const char *const *names,
                         const nne_tensor *outs) {
    sq_ctx *c = user;
    for (int32_t i = 0; i < n; i++) {
        if (outs[i].dtype != NNE_DTYPE_FLOAT || !outs[i].data || !names[i]) continue;
        for (int k = 0; k < c->n; k++) {
            sq_pair *p = &c->p[k];
            if (strcmp(p->q, names[i]) || !p->have || nne_tensor_numel(&outs[i]) != p->len) continue;
            const float *q = outs[i].data;
            for (int64_t j = 0; j < p->len; j++) {
                double x = p->buf[j], e = x - q[j];
                p->sx += x * x;
                p->se += e * e;
            }
        }
    }
}

static double sqnr_db(const sq_pair *p) {
    if (!(p->sx > 0)) return NAN;
    if (!(p->se > 0)) return INFINITY;
    return 10.0 * log10(p->sx / p->se);
}

static nne_status measure_sqnr(const nne_qrun *base, const nne_model *fm, const nne_model *qm, nne_qplan *plan) {
    int np = plan->n_tensors + plan->n_layers;
    sq_ctx c = {0};
    c.p = nne_calloc((size_t)np + 1, sizeof *c.p);
    if (!c.p) return nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
    for (int i = 0; i < plan->n_tensors; i++) {
        if (!plan->tensors[i].dq) continue;
        c.p[c.n].f = plan->tensors[i].name;
        c.p[c.n++].q = plan->tensors[i].dq;
    }
    for (int i = 0; i < plan->n_layers; i++) {
        c.p[c.n].f = plan->layers[i].out;
        c.p[c.n++].q = plan->layers[i].out;
    }
    nne_qrun rf = *base, rq = *base;
    rf.m = fm;
    rq.m = qm;
    rf.samples = rq.samples = base->samples < NNE_QSQNR_SAMPLES ? base->samples : NNE_QSQNR_SAMPLES;
    nne_qbatcher bf, bq;
    nne_status st = nne_qbatcher_open(&bf, &rf, sq_obs_float, &c);
    if (st == NNE_OK) {
        st = nne_qbatcher_open(&bq, &rq, sq_obs_quant, &c);
        if (st != NNE_OK) nne_qbatcher_close(&bf);
    }
    if (st != NNE_OK) {
        nne_free(c.p);
        return st;
    }
    /* a fixed batch dim may not divide the sample subset: use whole batches */
    int64_t total = rf.samples - rf.samples % bf.batch;
    if (!total) total = rf.samples;
    for (int64_t first = 0; first < total && st == NNE_OK; first += bf.batch) {
        int64_t cnt = total - first < bf.batch ? total - first : bf.batch;
        for (int k = 0; k < c.n; k++) c.p[k].have = 0;
        /* model inputs are never reported by the observer: take them from the data */
        for (int k = 0; k < c.n; k++)
            for (int32_t j = 0; j < base->n; j++)
                if (!strcmp(c.p[k].f, base->names[j]) && base->data[j].dtype == NNE_DTYPE_FLOAT) {
                    nne_tensor t = base->data[j];
                    size_t per = nne_tensor_nbytes(&t) / (size_t)t.dims[0];
                    t.dims[0] = cnt;
                    t.data = (char *)t.data + (size_t)first * per;
                    sq_capture(&c.p[k], &t, &c);
                }
        st = nne_qbatcher_run(&bf, "sqnr", first, cnt);
        if (st == NNE_OK) st = nne_qbatcher_run(&bq, "sqnr", first, cnt);
        if (st == NNE_OK && c.oom) st = nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
        if (base->progress) base->progress(base->progress_user, "sqnr", first + cnt, total);
    }
    nne_qbatcher_close(&bf);
    nne_qbatcher_close(&bq);
    int k = 0;
    for (int i = 0; i < plan->n_tensors; i++)
        if (plan->tensors[i].dq) plan->tensors[i].sqnr = sqnr_db(&c.p[k++]);
    for (int i = 0; i < plan->n_layers; i++) {
        nne_qlayer *L = &plan->layers[i];
        L->sqnr_out = sqnr_db(&c.p[k++]);
        L->sqnr_in = NAN;
        for (int j = 0; j < plan->n_tensors; j++)
            if (L->in_q && plan->tensors[j].dq && !strcmp(plan->tensors[j].dq, L->in_q)) L->sqnr_in = plan->tensors[j].sqnr;
    }
    for (int i = 0; i < c.n; i++) nne_free(c.p[i].buf);
    nne_free(c.p);
    return st;
}

/* -------------------------------------------------------------- report -- */

typedef struct attempt {
    double top1;
    int n_kept;
} attempt;

static void report_json(nne_qbuf *b, const nne_quant_options *o, int method, const nne_qstats *st, const nne_qplan *plan,
                        const nne_quant_summary *sum, int n_keep, char **keep, const attempt *att, int n_att) {
    nne_qbuf_printf(b, "{\"method\": \"%s\", \"per_channel\": %s, \"dynamic\": %s, \"weight_range\": %d",
                    nne_quant_method_name(method), o->per_tensor || plan->per_tensor_forced ? "false" : "true",
                    o->dynamic ? "true" : "false", o->full_range ? 127 : 63);
    if (method == NNE_QUANT_PERCENTILE) {
        nne_qbuf_printf(b, ", \"percentile\": ");
        nne_qbuf_num(b, o->percentile > 0 ? o->percentile : 99.99);
    }
    nne_qbuf_printf(b, ", \"calibration_samples\": %lld, \"weights_int8\": %d, \"activations_quantized\": %d",
                    (long long)sum->calib_samples, sum->weights, sum->activations);
    nne_qbuf_printf(b, ", \"fp32_top1\": ");
    nne_qbuf_num(b, sum->evaluated ? sum->fp32_top1 : NAN);
    nne_qbuf_printf(b, ", \"int8_top1\": ");
    nne_qbuf_num(b, sum->evaluated ? sum->int8_top1 : NAN);
    nne_qbuf_printf(b, ", \"drop_pp\": ");
    nne_qbuf_num(b, sum->evaluated ? 100.0 * (sum->fp32_top1 - sum->int8_top1) : NAN);
    nne_qbuf_printf(b, ", \"max_drop_pp\": ");
    nne_qbuf_num(b, o->eval_data && o->max_drop >= 0 ? o->max_drop : NAN);
    nne_qbuf_printf(b, ", \"guard_met\": %s, \"kept_float\": [", sum->guard_met ? "true" : "false");
    for (int i = 0; i < n_keep; i++) {
        nne_qbuf_printf(b, "%s", i ? ", " : "");
        nne_qbuf_json_str(b, keep[i]);
    }
    nne_qbuf_printf(b, "], \"attempts\": [");
    for (int i = 0; i < n_att; i++) {
        nne_qbuf_printf(b, "%s{\"kept_float\": %d, \"int8_top1\": ", i ? ", " : "", att[i].n_kept);
        nne_qbuf_num(b, att[i].top1);
        nne_qbuf_printf(b, "}");
    }
    nne_qbuf_printf(b, "], \"sqnr_samples\": %lld, \"layers\": [",
                    (long long)(sum->calib_samples < NNE_QSQNR_SAMPLES ? sum->calib_samples : NNE_QSQNR_SAMPLES));
    for (int i = 0; i < plan->n_layers; i++) {
        const nne_qlayer *L = &plan->layers[i];
        nne_qbuf_printf(b, "%s\n  {\"node\": ", i ? "," : "");
        nne_qbuf_json_str(b, L->node);
        nne_qbuf_printf(b, ", \"op\": ");
        nne_qbuf_json_str(b, L->op);
        nne_qbuf_printf(b, ", \"quantized\": %s, \"input\": ", L->quantized ? "true" : "false");
        nne_qbuf_json_str(b, L->in_f);
        nne_qbuf_printf(b, ", \"output\": ");
        nne_qbuf_json_str(b, L->out);
        nne_qbuf_printf(b, ", \"weight\": ");
        nne_qbuf_json_str(b, L->weight);
        if (L->quantized) {
            nne_qbuf_printf(b, ", \"weight_scales\": %lld, \"weight_scale_min\": ", (long long)L->channels);
            nne_qbuf_num(b, L->wscale_min);
            nne_qbuf_printf(b, ", \"weight_scale_max\": ");
            nne_qbuf_num(b, L->wscale_max);
            nne_qbuf_printf(b, ", \"bias_int32\": %s", L->bias_int32 ? "true" : "false");
        }
        nne_qbuf_printf(b, ", \"sqnr_in_db\": ");
        nne_qbuf_num(b, L->sqnr_in);
        nne_qbuf_printf(b, ", \"sqnr_out_db\": ");
        nne_qbuf_num(b, L->sqnr_out);
        nne_qbuf_printf(b, "}");
    }
    nne_qbuf_printf(b, "],\n \"tensors\": [");
    for (int i = 0; i < plan->n_tensors; i++) {
        const nne_qtensor *t = &plan->tensors[i];
        nne_qbuf_printf(b, "%s\n  {\"name\": ", i ? "," : "");
        nne_qbuf_json_str(b, t->name);
        if (t->stat >= 0) {
            const nne_qstat *s = &st->s[t->stat];
            nne_qbuf_printf(b, ", \"min\": ");
            nne_qbuf_num(b, s->min);
            nne_qbuf_printf(b, ", \"max\": ");
            nne_qbuf_num(b, s->max);
            nne_qbuf_printf(b, ", \"range\": [");
            nne_qbuf_num(b, s->lo);
            nne_qbuf_printf(b, ", ");
            nne_qbuf_num(b, s->hi);
            nne_qbuf_printf(b, "]");
        } else {
            nne_qbuf_printf(b, ", \"shares\": ");
            nne_qbuf_json_str(b, t->shared);
        }
        nne_qbuf_printf(b, ", \"scale\": ");
        nne_qbuf_num(b, t->scale);
        nne_qbuf_printf(b, ", \"zero_point\": %u, \"sqnr_db\": ", (unsigned)t->zero_point);
        nne_qbuf_num(b, t->sqnr);
        nne_qbuf_printf(b, "}");
    }
    nne_qbuf_printf(b, "]}\n");
}

/* -------------------------------------------------------------- driver -- */

static nne_status check_labels(const nne_tensor *y, int64_t n) {
    if (!y) return nne_error(NNE_ERR_INVALID_ARG, "quantize: evaluation data without labels");
    if (y->dtype != NNE_DTYPE_INT64 || !(y->ndim == 1 || (y->ndim == 2 && y->dims[1] == 1)) || y->dims[0] != n ||
        (!y->data && n))
        return nne_error(NNE_ERR_INVALID_ARG,
                         "quantize: labels must be int64 of shape (%lld,) or (%lld, 1), one per evaluation sample "
                         "(got %s, %d dims, %lld rows)",
                         (long long)n, (long long)n, nne_dtype_name(y->dtype), (int)y->ndim,
                         (long long)(y->ndim ? y->dims[0] : 0));
    return NNE_OK;
}

nne_status nne_model_quantize(const nne_model *m, int32_t n, const char *const *names, const nne_tensor *calib,
                              const nne_quant_options *opt_in, nne_model **out, nne_quant_report **report) {
    if (out) *out = NULL;
    if (report) *report = NULL;
    if (!m || !out) return nne_error(NNE_ERR_INVALID_ARG, "nne_model_quantize: model and out are required");
    nne_quant_options o = nne_quant_options_default();
    NNE_TRY(nne_options_read(&o, sizeof o, opt_in, "nne_quant_options"));
    if (o.method < 0 || o.method > NNE_QUANT_MSE)
        return nne_error(NNE_ERR_INVALID_ARG, "quantize: unknown method %d", (int)o.method);
    if (o.percentile != 0 && !(o.percentile > 50 && o.percentile <= 100))
        return nne_error(NNE_ERR_INVALID_ARG, "quantize: percentile %g is outside (50, 100]", o.percentile);
    if (o.eval_data && !isfinite(o.max_drop))
        return nne_error(NNE_ERR_INVALID_ARG, "quantize: max_drop must be a finite number of percentage points");
    if (o.n_keep_float < 0 || (o.n_keep_float && !o.keep_float))
        return nne_error(NNE_ERR_INVALID_ARG, "quantize: keep_float: %d names but no list", (int)o.n_keep_float);
    int method = o.method ? o.method : NNE_QUANT_BEST;
    /* a quantized model's weights are DequantizeLinear outputs, which the
     * optimizer would fold back into float: refuse it instead of quantizing
     * twice */
    for (int i = 0; i < m->graph->n_nodes; i++) {
        static const char *const qops[] = {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "QLinearConv",
                                           "QLinearMatMul", "ConvInteger", "MatMulInteger", "QGemm"};
        const nne_node *nd = &m->graph->nodes[i];
        for (size_t k = 0; k < NNE_ARRAY_LEN(qops); k++)
            if (!nd->dead && !strcmp(nd->op_type, qops[k]))
                return nne_error(NNE_ERR_UNSUPPORTED,
                                 "quantize: nothing to quantize: the model is already quantized (node \"%s\" is %s, "
                                 "its weights are not float); quantize the float model instead",
                                 nd->name, nd->op_type);
    }

    nne_model *fm = NULL, *qm = NULL;
    nne_qstats stats = {0};
    nne_qplan plan = {0};
    nne_quant_summary sum = {.method = method, .fp32_top1 = -1, .int8_top1 = -1, .guard_met = 1};
    char **keep = NULL;
    int n_keep = 0;
    attempt att[64];
    int n_att = 0;
    nne_status st = clone_model(m, &fm);
    if (st == NNE_OK) st = nne_model_optimize(fm, NNE_OPT_BASIC, NULL);
    if (st != NNE_OK) goto done;

    if (o.dynamic) {
        st = clone_model(fm, &qm);
        if (st == NNE_OK) st = nne_quant_rewrite_dynamic(qm, o.per_tensor, o.full_range, o.n_keep_float, o.keep_float, &plan);
        sum.weights = plan.weights;
        for (int i = 0; i < plan.n_layers; i++) sum.kept_float += !plan.layers[i].quantized;
        goto done;
    }

    int64_t samples = 0, neval = 0;
    st = nne_quant_check_data(fm, n, names, calib, "quantize: calibration data", &samples);
    if (st != NNE_OK) goto done;
    sum.calib_samples = samples;
    nne_qrun rc = {.m = fm, .n = n, .names = names, .data = calib, .samples = samples, .batch = o.batch,
                   .threads = o.threads, .progress = o.progress, .progress_user = o.progress_user};
    nne_qrun re = rc;
    nne_value_info vi0;
    const char *ename = NULL;
    if (o.eval_data) {
        if (nne_model_num_inputs(fm) != 1 || nne_model_input_info(fm, 0, &vi0) != NNE_OK) {
            st = nne_error(NNE_ERR_UNSUPPORTED, "quantize: evaluation (max_drop) needs a model with one input");
            goto done;
        }
        ename = vi0.name;
        st = nne_quant_check_data(fm, 1, &ename, o.eval_data, "quantize: evaluation data", &neval);
        if (st == NNE_OK) st = check_labels(o.eval_labels, neval);
        if (st != NNE_OK) goto done;
        re.n = 1;
        re.names = &ename;
        re.data = o.eval_data;
        re.samples = neval;
    }
    st = nne_quant_calibrate(&rc, method != NNE_QUANT_MINMAX, &stats);
    if (st != NNE_OK) goto done;
    for (int i = 0; i < stats.n; i++) nne_quant_choose_range(&stats.s[i], method, o.percentile);

    keep = nne_calloc((size_t)o.n_keep_float + 1024, sizeof *keep);
    if (!keep) {
        st = nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
        goto done;
    }
    for (int i = 0; i < o.n_keep_float; i++) keep[n_keep++] = (char *)o.keep_float[i];
    int n_user_keep = n_keep;
    if (o.eval_data) {
        st = evaluate(&re, fm, "evaluate fp32", o.eval_labels, &sum.fp32_top1);
        if (st != NNE_OK) goto done;
        sum.evaluated = 1;
    }
    for (;;) {
        nne_model_destroy(qm);
        qm = NULL;
        nne_qplan_free(&plan);
        st = clone_model(fm, &qm);
        if (st == NNE_OK) st = nne_quant_rewrite(qm, &stats, o.per_tensor, o.full_range, n_keep, (const char *const *)keep, &plan);
        if (st == NNE_OK) st = measure_sqnr(&rc, fm, qm, &plan);
        if (st == NNE_OK && o.eval_data) st = evaluate(&re, qm, "evaluate int8", o.eval_labels, &sum.int8_top1);
        if (st != NNE_OK) goto done;
        if (n_att < (int)NNE_ARRAY_LEN(att)) att[n_att++] = (attempt){.top1 = sum.int8_top1, .n_kept = n_keep};
        if (!o.eval_data || o.max_drop < 0 || 100.0 * (sum.fp32_top1 - sum.int8_top1) <= o.max_drop) break;
        /* the layer that loses most SQNR between its quantized input and its output */
        int pick = -1;
        double worst = -INFINITY;
        for (int i = 0; i < plan.n_layers; i++) {
            const nne_qlayer *L = &plan.layers[i];
            if (!L->quantized) continue;
            double loss = isfinite(L->sqnr_in) && isfinite(L->sqnr_out) ? L->sqnr_in - L->sqnr_out
                          : isfinite(L->sqnr_out)                       ? 100.0 - L->sqnr_out
                                                                        : -INFINITY;
            if (pick < 0 || loss > worst) {
                pick = i;
                worst = loss;
            }
        }
        if (pick < 0 || n_keep >= o.n_keep_float + 1023 || n_att >= (int)NNE_ARRAY_LEN(att)) {
            sum.guard_met = 0;
            break;
        }
        if (!(keep[n_keep] = nne_strdup(plan.layers[pick].node))) {
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
            goto done;
        }
        n_keep++;
    }
    sum.weights = plan.weights;
    sum.activations = plan.n_tensors;
    for (int i = 0; i < plan.n_layers; i++) sum.kept_float += !plan.layers[i].quantized;
    if (report) {
        nne_qbuf b = {0};
        report_json(&b, &o, method, &stats, &plan, &sum, n_keep, keep, att, n_att);
        nne_quant_report *r = nne_calloc(1, sizeof *r);
        if (b.oom || !r) {
            nne_free(b.s);
            nne_free(r);
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
            goto done;
        }
        r->json = b.s;
        r->sum = sum;
        *report = r;
    }
    if (!sum.guard_met)
        st = nne_error(NNE_ERR_LIMIT,
                       "quantize: the accuracy drop stays above --max-drop %g pp with %d layer(s) kept in float and "
                       "no further layer to try (fp32 top-1 %.2f%%, int8 %.2f%%); no model written",
                       o.max_drop, n_keep, 100 * sum.fp32_top1, 100 * sum.int8_top1);
    for (int i = n_user_keep; i < n_keep; i++) nne_free(keep[i]);
    n_keep = n_user_keep;
done:
    if (keep)
        for (int i = o.n_keep_float; i < n_keep; i++) nne_free(keep[i]);
    nne_free(keep);
    if (st == NNE_OK && o.dynamic && report) {
        nne_qbuf b = {0};
        report_json(&b, &o, method, &stats, &plan, &sum, 0, NULL, NULL, 0);
        nne_quant_report *r = nne_calloc(1, sizeof *r);
        if (b.oom || !r) {
            nne_free(b.s);
            nne_free(r);
            st = nne_error(NNE_ERR_OUT_OF_MEMORY, "quantize: out of memory");
        } else {
            r->json = b.s;
            r->sum = sum;
            *report = r;
        }
    }
    nne_qplan_free(&plan);
    nne_qstats_free(&stats);
    nne_model_destroy(fm);
    if (st == NNE_OK) *out = qm;
    else nne_model_destroy(qm);
    return st;
}
