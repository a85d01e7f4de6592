/*
 * quantize.c - `nnedge quantize MODEL -o OUT.onnx --calib X.npy [--scale S]
 * [--method minmax|percentile|entropy|mse] [--percentile P] [--per-tensor]
 * [--eval-data X.npy --eval-labels Y.npy [--max-drop PP]] [--report FILE]
 * [--keep-float NODE]... [--dynamic] [--batch N] [--threads N] [--json]`:
 * static int8 post-training quantization into a standard ONNX QDQ model
 * (nne_model_quantize does the work; this file reads and converts the data,
 * draws the progress bar and writes the files).
 *
 * Data: samples on axis 0. Float data (f2, f4, f8) is converted to float32
 * (times --scale when given); integer data (uint8 pixels, ...) needs --scale,
 * because calibrating a model that expects pixels/255 on raw 0..255 values
 * silently gives a useless model. Bool data is refused. A model with several
 * inputs takes --calib NAME=X.npy once per input.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_CALIB 16
#define MAX_KEEP 256

static int is_float_dt(nne_dtype dt) {
    return dt == NNE_DTYPE_FLOAT || dt == NNE_DTYPE_DOUBLE || dt == NNE_DTYPE_FLOAT16 || dt == NNE_DTYPE_BFLOAT16;
}

static double elem_at(const nne_tensor *t, int64_t i) {
    switch (t->dtype) {
    case NNE_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case NNE_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case NNE_DTYPE_FLOAT16: return nne_f16_to_f32(((const uint16_t *)t->data)[i]);
    case NNE_DTYPE_BFLOAT16: return nne_bf16_to_f32(((const uint16_t *)t->data)[i]);
    case NNE_DTYPE_UINT8: return ((const uint8_t *)t->data)[i];
    case NNE_DTYPE_INT8: return ((const int8_t *)t->data)[i];
    case NNE_DTYPE_INT16: return ((const int16_t *)t->data)[i];
    case NNE_DTYPE_UINT16: return ((const uint16_t *)t->data)[i];
    case NNE_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    case NNE_DTYPE_UINT32: return ((const uint32_t *)t->data)[i];
    case NNE_DTYPE_INT64: return (double)((const int64_t *)t->data)[i];
    case NNE_DTYPE_UINT64: return (double)((const uint64_t *)t->data)[i];
    default: return NAN;
    }
}

/* A data array: the tensor and whether its buffer is the CLI's own (malloc)
 * or the library's (nne_tensor_free_data). */
typedef struct data_arr {
    nne_tensor t;
    int own;
} data_arr;

static void data_free(data_arr *d) {
    if (d->own) free(d->t.data);
    else nne_tensor_free_data(&d->t);
    memset(d, 0, sizeof *d);
}

/* Read a data file and convert it to float32 in place of *t (times scale).
 * 0 (error printed) on a bad file or dtype. */
static int load_float(const char *what, const char *path, int have_scale, double scale, data_arr *d) {
    nne_tensor *t = &d->t;
    nne_status st = nne_npy_read_file(path, t);
    if (st != NNE_OK) {
        cli_fail(st, what);
        return 0;
    }
    if (t->dtype == NNE_DTYPE_BOOL || !nne_dtype_size(t->dtype)) {
        cli_usage_error("quantize: %s %s holds %s; expected float samples (or integers with --scale)", what, path,
                        nne_dtype_name(t->dtype));
        return 0;
    }
    if (!is_float_dt(t->dtype) && !have_scale) {
        cli_usage_error("quantize: %s %s holds %s; the model takes float32: pass --scale S to convert it "
                        "(e.g. --scale 0.00392156862745098 for pixels/255)",
                        what, path, nne_dtype_name(t->dtype));
        return 0;
    }
    if (t->ndim < 1) {
        cli_usage_error("quantize: %s %s is a scalar; expected samples on axis 0", what, path);
        return 0;
    }
    if (t->dtype == NNE_DTYPE_FLOAT && (!have_scale || scale == 1.0)) return 1;
    int64_t n = nne_tensor_numel(t);
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
    if (!f) {
        cli_usage_error("quantize: %s %s: cannot allocate %lld floats", what, path, (long long)n);
        return 0;
    }
    for (int64_t i = 0; i < n; i++) f[i] = (float)(elem_at(t, i) * (have_scale ? scale : 1.0));
    nne_tensor_free_data(t);
    t->data = f;
    t->dtype = NNE_DTYPE_FLOAT;
    d->own = 1;
    return 1;
}

static int load_labels(const char *path, data_arr *d) {
    nne_tensor *y = &d->t;
    nne_status st = nne_npy_read_file(path, y);
    if (st != NNE_OK) {
        cli_fail(st, "--eval-labels");
        return 0;
    }
    if (is_float_dt(y->dtype) || y->dtype == NNE_DTYPE_BOOL || !nne_dtype_size(y->dtype)) {
        cli_usage_error("quantize: labels %s hold %s; expected integer class indices", path, nne_dtype_name(y->dtype));
        return 0;
    }
    if (y->dtype == NNE_DTYPE_INT64) return 1;
    int64_t n = nne_tensor_numel(y);
    int64_t *v = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
    if (!v) return cli_usage_error("quantize: out of memory"), 0;
    for (int64_t i = 0; i < n; i++) {
        double d = elem_at(y, i);
        v[i] = d >= 9.2e18 ? INT64_MAX : (int64_t)d;
    }
    nne_tensor_free_data(y);
    y->data = v;
    y->dtype = NNE_DTYPE_INT64;
    d->own = 1;
    return 1;
}

typedef struct progress {
    int on;
    const char *stage;
    int width;
} progress;

static void on_progress(void *user, const char *stage, int64_t done, int64_t total) {
    progress *p = user;
    if (!p->on) return;
    if (p->stage != stage && p->stage) fputc('\n', stderr);
    p->stage = stage;
    int w = 30, fill = total > 0 ? (int)(w * done / total) : w;
    fprintf(stderr, "\r%-14s [", stage);
    for (int i = 0; i < w; i++) fputc(i < fill ? '#' : ' ', stderr);
    fprintf(stderr, "] %lld/%lld", (long long)done, (long long)total);
    if (done >= total) {
        fputc('\n', stderr);
        p->stage = NULL;
    }
    fflush(stderr);
}

static long long file_bytes(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0 ? (long long)sb.st_size : -1;
}

int cli_quantize(int argc, char **argv) {
    const char *path = NULL, *out_path = NULL, *eval_path = NULL, *label_path = NULL, *report_path = NULL;
    const char *calib_arg[MAX_CALIB];
    const char *keep[MAX_KEEP];
    int n_calib = 0, n_keep = 0, json = 0, have_scale = 0, lr, rc = EXIT_BAD_INPUT;
    double scale = 1.0, max_drop = -1.0;
    nne_quant_options qo = nne_quant_options_default();
    cli_limits lim = {0};
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *val;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--per-tensor")) qo.per_tensor = 1;
        else if (!strcmp(a, "--dynamic")) qo.dynamic = 1;
        else if (!strcmp(a, "--full-range")) qo.full_range = 1;
        else if (!strcmp(a, "-o")) {
            if (!(out_path = cli_opt_value(argc, argv, &i, "OUT.onnx"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--calib")) {
            if (!(val = cli_opt_value(argc, argv, &i, "X.npy (calibration samples)"))) return EXIT_BAD_INPUT;
            if (n_calib == MAX_CALIB) return cli_usage_error("quantize: more than %d --calib files", MAX_CALIB);
            calib_arg[n_calib++] = val;
        } else if (!strcmp(a, "--keep-float")) {
            if (!(val = cli_opt_value(argc, argv, &i, "NODE (a node name)"))) return EXIT_BAD_INPUT;
            if (n_keep == MAX_KEEP) return cli_usage_error("quantize: more than %d --keep-float nodes", MAX_KEEP);
            keep[n_keep++] = val;
        } else if (!strcmp(a, "--eval-data")) {
            if (!(eval_path = cli_opt_value(argc, argv, &i, "X.npy (evaluation samples)"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--eval-labels")) {
            if (!(label_path = cli_opt_value(argc, argv, &i, "Y.npy (evaluation labels)"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--report")) {
            if (!(report_path = cli_opt_value(argc, argv, &i, "FILE (JSON report)"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--method")) {
            if (!(val = cli_opt_value(argc, argv, &i, "minmax|percentile|entropy|mse"))) return EXIT_BAD_INPUT;
            nne_quant_method mth;
            if (nne_quant_method_parse(val, &mth) != NNE_OK || mth == NNE_QUANT_DEFAULT)
                return cli_usage_error("quantize: --method %s: expected minmax, percentile, entropy or mse", val);
            qo.method = mth;
        } else if (!strcmp(a, "--scale") || !strcmp(a, "--percentile") || !strcmp(a, "--max-drop")) {
            if (!(val = cli_opt_value(argc, argv, &i, "a number"))) return EXIT_BAD_INPUT;
            char *e;
            double d = strtod(val, &e);
            if (!val[0] || *e || !isfinite(d)) return cli_usage_error("quantize: %s %s: expected a finite number", a, val);
            if (!strcmp(a, "--scale")) scale = d, have_scale = 1;
            else if (!strcmp(a, "--percentile")) {
                if (!(d > 50 && d <= 100)) return cli_usage_error("quantize: --percentile %s: expected a number in (50, 100]", val);
                qo.percentile = d;
            } else {
                if (d < 0) return cli_usage_error("quantize: --max-drop %s: expected percentage points >= 0", val);
                max_drop = d;
            }
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--batch")) {
            if (!(val = cli_opt_value(argc, argv, &i, "N"))) return EXIT_BAD_INPUT;
            if (!cli_parse_int(val, 1, 1024, &v)) return cli_usage_error("quantize: %s %s: expected 1 to 1024", a, val);
            if (!strcmp(a, "--threads")) qo.threads = (int32_t)v;
            else qo.batch = (int32_t)v;
        } else if ((lr = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lr < 0) return EXIT_BAD_INPUT;
        } else if (a[0] == '-') return cli_usage_error("quantize: unknown option %s", a);
        else if (!path) path = a;
        else return cli_usage_error("quantize: more than one model given");
    }
    if (!path || !out_path || (!n_calib && !qo.dynamic))
        return cli_usage_error("quantize: usage: nnedge quantize MODEL -o OUT.onnx --calib X.npy [--scale S] "
                               "[--method minmax|percentile|entropy|mse] [--percentile P] [--per-tensor] "
                               "[--eval-data X.npy --eval-labels Y.npy [--max-drop PP]] [--report FILE] "
                               "[--keep-float NODE]... [--dynamic]");
    if (!eval_path != !label_path) return cli_usage_error("quantize: --eval-data and --eval-labels go together");
    if (max_drop >= 0 && !eval_path)
        return cli_usage_error("quantize: --max-drop needs --eval-data and --eval-labels to measure the drop");
    if (!have_scale) scale = 1.0;

    nne_model *m = NULL, *q = NULL;
    nne_quant_report *rep = NULL;
    data_arr cd[MAX_CALIB], X = {0}, Y = {0};
    nne_tensor calib[MAX_CALIB];
    char names[MAX_CALIB][256];
    const char *namep[MAX_CALIB];
    memset(cd, 0, sizeof cd);
    nne_status st = cli_load_model(path, &lim, NULL, &m);
    if (st != NNE_OK) return cli_fail(st, NULL);
    for (int k = 0; k < n_calib; k++) {
        const char *eq = strchr(calib_arg[k], '='), *file = calib_arg[k];
        if (eq && (size_t)(eq - calib_arg[k]) < sizeof names[k]) {
            memcpy(names[k], calib_arg[k], (size_t)(eq - calib_arg[k]));
            names[k][eq - calib_arg[k]] = 0;
            file = eq + 1;
        } else {
            nne_value_info vi;
            if (n_calib != 1 || nne_model_num_inputs(m) != 1 || nne_model_input_info(m, 0, &vi) != NNE_OK) {
                rc = cli_usage_error("quantize: the model has %d inputs: give --calib NAME=X.npy for each",
                                     nne_model_num_inputs(m));
                goto done;
            }
            snprintf(names[k], sizeof names[k], "%s", vi.name);
        }
        namep[k] = names[k];
        if (!load_float("--calib", file, have_scale, scale, &cd[k])) goto done;
        calib[k] = cd[k].t;
        if (!cli_limits_charge(&lim, nne_tensor_nbytes(&calib[k]), file)) goto done;
    }
    if (eval_path) {
        if (!load_float("--eval-data", eval_path, have_scale, scale, &X) || !load_labels(label_path, &Y)) goto done;
        if (!cli_limits_charge(&lim, nne_tensor_nbytes(&X.t), eval_path)) goto done;
        qo.eval_data = &X.t;
        qo.eval_labels = &Y.t;
        qo.max_drop = max_drop;
    }
    progress pr = {.on = isatty(2) && !json};
    qo.progress = on_progress;
    qo.progress_user = &pr;
    qo.n_keep_float = n_keep;
    qo.keep_float = keep;
    st = nne_model_quantize(m, n_calib, namep, calib, &qo, &q, &rep);
    if (rep && report_path) {
        FILE *f = fopen(report_path, "w");
        if (!f || fputs(nne_quant_report_json(rep), f) < 0 || fclose(f) != 0) {
            rc = cli_usage_error("quantize: cannot write the report %s", report_path);
            goto done;
        }
    }
    if (st != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    if ((st = nne_model_save_file(q, out_path, NULL)) != NNE_OK) {
        rc = cli_fail(st, out_path);
        goto done;
    }
    nne_quant_summary s;
    nne_quant_report_summary(rep, &s);
    long long fb = file_bytes(path), qb = file_bytes(out_path);
    double ratio = fb > 0 && qb >= 0 ? (double)qb / (double)fb : NAN;
    if (json) {
        printf("{\"model\": ");
        json_str(stdout, path);
        printf(", \"output\": ");
        json_str(stdout, out_path);
        printf(", \"method\": \"%s\", \"dynamic\": %s, \"weights_int8\": %d, \"activations_quantized\": %d, "
               "\"kept_float\": %d, \"calibration_samples\": %lld, \"bytes\": %lld, \"float_bytes\": %lld, "
               "\"ratio\": %.4f",
               nne_quant_method_name((nne_quant_method)s.method), qo.dynamic ? "true" : "false", s.weights,
               s.activations, s.kept_float, (long long)s.calib_samples, qb, fb, ratio);
        if (s.evaluated)
            printf(", \"fp32_top1\": %.6f, \"int8_top1\": %.6f, \"drop_pp\": %.4f", s.fp32_top1, s.int8_top1,
                   100 * (s.fp32_top1 - s.int8_top1));
        printf("}\n");
    } else {
        printf("%s -> %s: %d weight tensors int8 (%s), %d activation tensors uint8, ", path, out_path, s.weights,
               qo.dynamic ? "dynamic" : qo.per_tensor ? "per tensor" : "per channel", s.activations);
        if (!qo.dynamic) printf("method %s, %lld calibration samples; ", nne_quant_method_name((nne_quant_method)s.method),
                                (long long)s.calib_samples);
        printf("%lld bytes (%.3fx of %lld)\n", qb, ratio, fb);
        if (s.evaluated)
            printf("top-1: fp32 %.2f%%, int8 %.2f%% (drop %.2f pp%s); %d layer(s) kept in float\n", 100 * s.fp32_top1,
                   100 * s.int8_top1, 100 * (s.fp32_top1 - s.int8_top1), max_drop >= 0 ? "" : ", no --max-drop",
                   s.kept_float);
    }
    rc = EXIT_OK;
done:
    nne_quant_report_destroy(rep);
    nne_model_destroy(q);
    nne_model_destroy(m);
    for (int k = 0; k < n_calib; k++) data_free(&cd[k]);
    data_free(&X);
    data_free(&Y);
    return rc;
}
