/*
 * train.c - `nnedge train MODEL -o OUT.onnx --data X.npy --labels Y.npy
 * [--scale S] [--epochs N] [--batch N] [--lr F] [--optimizer adam|sgd]
 * [--momentum F] [--weight-decay F] [--lr-schedule constant|cosine]
 * [--reinit] [--seed N] [--teacher T.onnx --kd-alpha A --kd-temperature T]
 * [--val-data X.npy --val-labels Y.npy] [--threads N] [--json]`.
 *
 * Trains the model's float weights with cross-entropy on its first output
 * (the logits), plus Hinton distillation from the teacher's logits (run by
 * a session of the teacher, nnedge's own inference kernels, once per
 * sample before the first epoch: the teacher does not change). Samples are
 * shuffled each epoch by a generator seeded with --seed; the last batch of
 * an epoch may be smaller. The cosine schedule decays the rate per step
 * from --lr to 0 over all steps. On a terminal a progress bar shows the
 * running loss and accuracy; --json prints one JSON object per epoch.
 * Bad labels (shape, dtype, range), a teacher with other classes and a
 * diverging loss (NaN/inf) exit 2; OUT is written only after the last epoch.
 */
#include "cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

typedef struct dataset {
    nne_tensor X, Y;
    int64_t n, per;
    int64_t *labels;
} dataset;

static void dataset_free(dataset *d) {
    nne_tensor_free_data(&d->X);
    nne_tensor_free_data(&d->Y);
    free(d->labels);
}

static int is_int_dtype(nne_dtype dt) {
    switch (dt) {
    case NNE_DTYPE_INT8: case NNE_DTYPE_UINT8: case NNE_DTYPE_INT16: case NNE_DTYPE_UINT16:
    case NNE_DTYPE_INT32: case NNE_DTYPE_UINT32: case NNE_DTYPE_INT64: case NNE_DTYPE_UINT64: return 1;
    default: return 0;
    }
}

static int64_t label_i64(const nne_tensor *Y, int64_t i, int *ok) {
    const void *p = Y->data;
    *ok = 1;
    switch (Y->dtype) {
    case NNE_DTYPE_INT8: return ((const int8_t *)p)[i];
    case NNE_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case NNE_DTYPE_INT16: return ((const int16_t *)p)[i];
    case NNE_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case NNE_DTYPE_INT32: return ((const int32_t *)p)[i];
    case NNE_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case NNE_DTYPE_INT64: return ((const int64_t *)p)[i];
    case NNE_DTYPE_UINT64: {
        uint64_t u = ((const uint64_t *)p)[i];
        if (u > (uint64_t)INT64_MAX) *ok = 0;
        return (int64_t)u;
    }
    default: *ok = 0; return 0;
    }
}

static double elem(const nne_tensor *t, int64_t i) {
    switch (t->dtype) {
    case NNE_DTYPE_FLOAT: return ((const float *)t->data)[i];
    case NNE_DTYPE_DOUBLE: return ((const double *)t->data)[i];
    case NNE_DTYPE_UINT8: return ((const uint8_t *)t->data)[i];
    case NNE_DTYPE_INT8: return ((const int8_t *)t->data)[i];
    case NNE_DTYPE_INT16: return ((const int16_t *)t->data)[i];
    case NNE_DTYPE_UINT16: return ((const uint16_t *)t->data)[i];
    case NNE_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    case NNE_DTYPE_INT64: return (double)((const int64_t *)t->data)[i];
    case NNE_DTYPE_FLOAT16: return nne_f16_to_f32(((const uint16_t *)t->data)[i]);
    default: return NAN;
    }
}

/* Load and check a data set: samples on axis 0 fitting the model input's
 * sample shape (`per` values each), labels one integer per sample in
 * [0, classes). Returns 0 after printing the error. */
static int dataset_load(const char *xp, const char *yp, int64_t per, int64_t classes, dataset *d) {
    nne_status st;
    if ((st = nne_npy_read_file(xp, &d->X)) != NNE_OK || (st = nne_npy_read_file(yp, &d->Y)) != NNE_OK) {
        cli_fail(st, NULL);
        return 0;
    }
    if (d->X.ndim < 1 || d->X.dims[0] < 1) {
        cli_usage_error("train: %s has no samples (shape must be (N, ...) with N > 0)", xp);
        return 0;
    }
    if (isnan(elem(&d->X, 0))) {
        cli_usage_error("train: %s has dtype %s; train reads numeric data (float, double, float16 or integers)", xp,
                        nne_dtype_name(d->X.dtype));
        return 0;
    }
    d->n = d->X.dims[0];
    d->per = nne_tensor_numel(&d->X) / d->n;
    if (d->per != per) {
        cli_usage_error("train: each sample of %s has %lld values; the model input takes %lld", xp,
                        (long long)d->per, (long long)per);
        return 0;
    }
    if (!is_int_dtype(d->Y.dtype) || !(d->Y.ndim == 1 || (d->Y.ndim == 2 && d->Y.dims[1] == 1)) ||
        d->Y.dims[0] != d->n) {
        char b[160] = "scalar";
        size_t off = 0;
        for (int k = 0; k < d->Y.ndim && off < sizeof b; k++)
            off += (size_t)snprintf(b + off, sizeof b - off, k ? "x%lld" : "%lld", (long long)d->Y.dims[k]);
        cli_usage_error("train: labels must be integers of shape (%lld,) or (%lld, 1), one per sample of %s; %s holds "
                        "%s of shape %s", (long long)d->n, (long long)d->n, xp, yp, nne_dtype_name(d->Y.dtype), b);
        return 0;
    }
    d->labels = malloc((size_t)d->n * sizeof(int64_t));
    if (!d->labels) {
        cli_usage_error("train: cannot allocate the labels of %s", yp);
        return 0;
    }
    for (int64_t i = 0; i < d->n; i++) {
        int ok;
        int64_t v = label_i64(&d->Y, i, &ok);
        if (!ok || v < 0 || v >= classes) {
            cli_usage_error("train: label %lld of sample %lld in %s is outside the model's classes [0, %lld)",
                            (long long)v, (long long)i, yp, (long long)classes);
            return 0;
        }
        d->labels[i] = v;
    }
    return 1;
}

/* Gather samples idx[0..nb) of d into x (float, times scale). */
static void gather(const dataset *d, const int64_t *idx, int64_t nb, double scale, float *x, int64_t *lab) {
    for (int64_t b = 0; b < nb; b++) {
        int64_t s = idx ? idx[b] : b;
        float *dst = x + b * d->per;
        if (d->X.dtype == NNE_DTYPE_UINT8) {
            const uint8_t *src = (const uint8_t *)d->X.data + s * d->per;
            for (int64_t k = 0; k < d->per; k++) dst[k] = (float)(src[k] * scale);
        } else if (d->X.dtype == NNE_DTYPE_FLOAT && scale == 1.0) {
            memcpy(dst, (const float *)d->X.data + s * d->per, (size_t)d->per * sizeof(float));
        } else {
            for (int64_t k = 0; k < d->per; k++) dst[k] = (float)(elem(&d->X, s * d->per + k) * scale);
        }
        lab[b] = d->labels[s];
    }
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545F4914F6CDD1Dull;
}

static void progress(int epoch, int epochs, int64_t done, int64_t total, double loss, double acc) {
    int width = 30, fill = total ? (int)(width * done / total) : width;
    char bar[64];
    for (int k = 0; k < width; k++) bar[k] = k < fill ? '=' : (k == fill ? '>' : ' ');
    bar[width] = 0;
    fprintf(stderr, "\repoch %d/%d [%s] %3d%% loss %.4f acc %.4f", epoch, epochs, bar,
            total ? (int)(100 * done / total) : 100, loss, acc);
    fflush(stderr);
}

static int parse_float(const char *opt, const char *v, double lo, double hi, double *out) {
    char *e;
    double d = strtod(v, &e);
    if (!v[0] || *e || !isfinite(d) || d < lo || d > hi) {
        cli_usage_error("%s %s: expected a number from %g to %g", opt, v, lo, hi);
        return 0;
    }
    *out = d;
    return 1;
}

int cli_train(int argc, char **argv) {
    const char *path = NULL, *out_path = NULL, *xp = NULL, *yp = NULL, *vxp = NULL, *vyp = NULL, *teacher_path = NULL;
    double scale = 1.0, lr = 1e-3, momentum = 0.9, wd = 0.0, kd_alpha = 0.5, kd_t = 4.0;
    long epochs = 1, batch = 64, threads = 1, seed = 0;
    int json = 0, reinit = 0, cosine = 0, sgd = 0, rc = EXIT_BAD_INPUT, lr_given = 0, kd_given = 0;
    cli_limits lim = {0};
    int lr_rc;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = NULL;
#define VAL(what) if (!(v = cli_opt_value(argc, argv, &i, what))) return EXIT_BAD_INPUT
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--reinit")) reinit = 1;
        else if (!strcmp(a, "-o")) { VAL("OUT.onnx"); out_path = v; }
        else if (!strcmp(a, "--data")) { VAL("X.npy"); xp = v; }
        else if (!strcmp(a, "--labels")) { VAL("Y.npy"); yp = v; }
        else if (!strcmp(a, "--val-data")) { VAL("X.npy"); vxp = v; }
        else if (!strcmp(a, "--val-labels")) { VAL("Y.npy"); vyp = v; }
        else if (!strcmp(a, "--teacher")) { VAL("T.onnx"); teacher_path = v; }
        else if (!strcmp(a, "--scale")) { VAL("S"); if (!parse_float(a, v, -1e30, 1e30, &scale)) return EXIT_BAD_INPUT; }
        else if (!strcmp(a, "--lr")) { VAL("F"); if (!parse_float(a, v, 1e-12, 1e6, &lr)) return EXIT_BAD_INPUT; lr_given = 1; }
        else if (!strcmp(a, "--momentum")) { VAL("F"); if (!parse_float(a, v, 0, 0.999999, &momentum)) return EXIT_BAD_INPUT; }
        else if (!strcmp(a, "--weight-decay")) { VAL("F"); if (!parse_float(a, v, 0, 1e3, &wd)) return EXIT_BAD_INPUT; }
        else if (!strcmp(a, "--kd-alpha")) { VAL("A"); if (!parse_float(a, v, 0, 1, &kd_alpha)) return EXIT_BAD_INPUT; kd_given = 1; }
        else if (!strcmp(a, "--kd-temperature")) { VAL("T"); if (!parse_float(a, v, 1e-3, 1e3, &kd_t)) return EXIT_BAD_INPUT; kd_given = 1; }
        else if (!strcmp(a, "--epochs")) { VAL("N"); if (!cli_parse_int(v, 1, 100000, &epochs)) return cli_usage_error("--epochs %s: expected 1 to 100000", v); }
        else if (!strcmp(a, "--batch")) { VAL("N"); if (!cli_parse_int(v, 1, 1 << 20, &batch)) return cli_usage_error("--batch %s: expected 1 to 1048576", v); }
        else if (!strcmp(a, "--threads")) { VAL("N"); if (!cli_parse_int(v, 1, 1024, &threads)) return cli_usage_error("--threads %s: expected 1 to 1024", v); }
        else if (!strcmp(a, "--seed")) { VAL("N"); if (!cli_parse_int(v, 0, 0x7fffffffL, &seed)) return cli_usage_error("--seed %s: expected 0 to 2147483647", v); }
        else if (!strcmp(a, "--optimizer")) {
            VAL("adam|sgd");
            if (!strcmp(v, "sgd")) sgd = 1;
            else if (strcmp(v, "adam")) return cli_usage_error("--optimizer %s: expected adam or sgd", v);
        } else if (!strcmp(a, "--lr-schedule")) {
            VAL("constant|cosine");
            if (!strcmp(v, "cosine")) cosine = 1;
            else if (strcmp(v, "constant")) return cli_usage_error("--lr-schedule %s: expected constant or cosine", v);
        } else if ((lr_rc = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lr_rc < 0) return EXIT_BAD_INPUT;
        } else if (a[0] == '-') return cli_usage_error("train: unknown option %s", a);
        else if (!path) path = a;
        else return cli_usage_error("train: more than one model given");
#undef VAL
    }
    if (!path || !out_path || !xp || !yp)
        return cli_usage_error("train: usage: nnedge train MODEL -o OUT.onnx --data X.npy --labels Y.npy [--scale S] "
                               "[--epochs N] [--batch N] [--lr F] [--optimizer adam|sgd] [--reinit] [--seed N] "
                               "[--teacher T.onnx --kd-alpha A --kd-temperature T] [--val-data X.npy --val-labels "
                               "Y.npy] [--threads N] [--json]");
    if (!vxp != !vyp) return cli_usage_error("train: --val-data and --val-labels go together");
    if (kd_given && !teacher_path) return cli_usage_error("train: --kd-alpha/--kd-temperature need --teacher");
    (void)lr_given;

    nne_model *m = NULL, *tm = NULL;
    nne_trainer *t = NULL;
    nne_session *ts = NULL;
    dataset tr = {0}, va = {0};
    int64_t *order = NULL, *lab = NULL;
    float *xb = NULL, *tl = NULL, *tall = NULL;
    nne_status st;
    if ((st = cli_load_model(path, &lim, NULL, &m)) != NNE_OK) return cli_fail(st, NULL);
    nne_train_options o = nne_train_options_default();
    o.optimizer = sgd ? NNE_OPTIM_SGD : NNE_OPTIM_ADAM;
    o.lr = (float)lr;
    o.momentum = (float)momentum;
    o.weight_decay = (float)wd;
    o.threads = (int32_t)threads;
    o.seed = (uint64_t)seed;
    o.kd_alpha = (float)kd_alpha;
    o.kd_temperature = (float)kd_t;
    if ((st = nne_trainer_create(m, &o, &t)) != NNE_OK) {
        rc = cli_fail(st, path);
        goto done;
    }
    if (reinit && (st = nne_trainer_reinit(t, (uint64_t)seed)) != NNE_OK) {
        rc = cli_fail(st, NULL);
        goto done;
    }
    int64_t classes = nne_trainer_classes(t);
    nne_value_info vi;
    nne_model_input_info(m, 0, &vi);
    int64_t per = 1;
    for (int d = 1; d < vi.ndim; d++) per *= vi.dims[d];
    if (!dataset_load(xp, yp, per, classes, &tr)) goto done;
    if (vxp && !dataset_load(vxp, vyp, per, classes, &va)) goto done;
    int64_t N = tr.n, B = batch < N ? batch : N;
    order = malloc((size_t)N * sizeof *order);
    lab = malloc((size_t)(B > 256 ? B : 256) * sizeof *lab);
    int64_t xb_n = (B > 256 ? B : 256) * per;
    xb = malloc((size_t)xb_n * sizeof *xb);
    tl = malloc((size_t)B * (size_t)classes * sizeof *tl);
    if (!order || !lab || !xb || !tl) {
        rc = cli_usage_error("train: cannot allocate the batch buffers");
        goto done;
    }
    nne_tensor xt;
    memset(&xt, 0, sizeof xt);
    xt.dtype = NNE_DTYPE_FLOAT;
    xt.ndim = vi.ndim;
    for (int d = 1; d < vi.ndim; d++) xt.dims[d] = vi.dims[d];
    xt.data = xb;
    const char *tin = NULL;
    if (teacher_path) {
        if ((st = cli_load_model(teacher_path, &lim, NULL, &tm)) != NNE_OK) {
            rc = cli_fail(st, teacher_path);
            goto done;
        }
        nne_session_options so = nne_session_options_default();
        so.threads = (int32_t)threads;
        if ((st = nne_session_create(tm, &so, &ts)) != NNE_OK) {
            rc = cli_fail(st, teacher_path);
            goto done;
        }
        nne_value_info tvi;
        nne_model_input_info(tm, 0, &tvi);
        tin = tvi.name;
    }
    /* The teacher runs in inference mode: its logits of a sample are the same
     * every epoch, so they are computed once, in batches of up to 256. */
    if (ts) {
        tall = malloc((size_t)N * (size_t)classes * sizeof *tall);
        if (!tall) {
            rc = cli_usage_error("train: cannot allocate the teacher's logits (%lld x %lld floats)", (long long)N,
                                 (long long)classes);
            goto done;
        }
        int64_t TB = 256, teacher_b = -1;
        for (int64_t b0 = 0; b0 < N; b0 += TB) {
            int64_t nb = N - b0 < TB ? N - b0 : TB;
            for (int64_t k = 0; k < nb; k++) {
                int64_t idx = b0 + k;
                gather(&tr, &idx, 1, scale, xb + k * per, lab);
            }
            xt.dims[0] = nb;
            if (nb != teacher_b) {
                if ((st = nne_session_prepare(ts, 1, &tin, &xt)) != NNE_OK) {
                    rc = cli_fail(st, teacher_path);
                    goto done;
                }
                teacher_b = nb;
            }
            nne_tensor to;
            if ((st = nne_session_set_input(ts, tin, &xt)) != NNE_OK || (st = nne_session_run(ts)) != NNE_OK ||
                (st = nne_session_output(ts, 0, &to)) != NNE_OK) {
                rc = cli_fail(st, teacher_path);
                goto done;
            }
            if (to.dtype != NNE_DTYPE_FLOAT || nne_tensor_numel(&to) != nb * classes) {
                rc = cli_usage_error("train: the teacher %s gives %lld values for a batch of %lld; the student has "
                                     "%lld classes", teacher_path, (long long)nne_tensor_numel(&to), (long long)nb,
                                     (long long)classes);
                goto done;
            }
            memcpy(tall + b0 * classes, to.data, (size_t)(nb * classes) * sizeof(float));
        }
    }
    for (int64_t i = 0; i < N; i++) order[i] = i;
    uint64_t rng = (uint64_t)seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
    int64_t steps_per_epoch = (N + B - 1) / B, total_steps = steps_per_epoch * epochs, step = 0;
    int tty = !json && isatty(2);
    for (long ep = 1; ep <= epochs; ep++) {
        double t0 = cli_now_ms();
        clock_t c0 = clock();
        for (int64_t i = N - 1; i > 0; i--) {
            int64_t j = (int64_t)(rng_next(&rng) % (uint64_t)(i + 1));
            int64_t tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        double loss_sum = 0, cur_lr = lr;
        int64_t correct = 0, seen = 0;
        for (int64_t b0 = 0; b0 < N; b0 += B) {
            int64_t nb = N - b0 < B ? N - b0 : B;
            gather(&tr, order + b0, nb, scale, xb, lab);
            xt.dims[0] = nb;
            if (cosine) {
                cur_lr = 0.5 * lr * (1.0 + cos(3.141592653589793 * (double)step / (double)total_steps));
                nne_trainer_set_lr(t, (float)(cur_lr > 0 ? cur_lr : 1e-12));
            }
            nne_tensor tlt;
            memset(&tlt, 0, sizeof tlt);
            if (tall) { /* the teacher's logits of these samples */
                for (int64_t k = 0; k < nb; k++)
                    memcpy(tl + k * classes, tall + order[b0 + k] * classes, (size_t)classes * sizeof(float));
                tlt.dtype = NNE_DTYPE_FLOAT;
                tlt.ndim = 2;
                tlt.dims[0] = nb;
                tlt.dims[1] = classes;
                tlt.data = tl;
            }
            nne_train_stats s;
            if ((st = nne_trainer_step(t, &xt, lab, tall ? &tlt : NULL, &s)) != NNE_OK) {
                if (tty) fputc('\n', stderr);
                rc = cli_fail(st, NULL);
                goto done;
            }
            step++;
            loss_sum += s.loss * (double)s.n;
            correct += s.correct;
            seen += s.n;
            if (tty && (b0 / B) % 10 == 0) progress((int)ep, (int)epochs, seen, N, loss_sum / seen, (double)correct / seen);
        }
        double secs = (cli_now_ms() - t0) / 1000.0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
        if (tty) {
            progress((int)ep, (int)epochs, N, N, loss_sum / seen, (double)correct / seen);
            fputc('\n', stderr);
        }
        double vloss = 0, vacc = 0;
        if (va.n) {
            int64_t vc = 0;
            for (int64_t b0 = 0; b0 < va.n; b0 += 256) {
                int64_t nb = va.n - b0 < 256 ? va.n - b0 : 256;
                for (int64_t k = 0; k < nb; k++) {
                    int64_t s = b0 + k;
                    float *dst = xb + k * per;
                    for (int64_t q = 0; q < per; q++) dst[q] = (float)(elem(&va.X, s * per + q) * scale);
                    lab[k] = va.labels[s];
                }
                xt.dims[0] = nb;
                nne_train_stats s;
                if ((st = nne_trainer_eval(t, &xt, lab, NULL, &s)) != NNE_OK) {
                    rc = cli_fail(st, NULL);
                    goto done;
                }
                vloss += s.loss * (double)nb;
                vc += s.correct;
            }
            vloss /= (double)va.n;
            vacc = (double)vc / (double)va.n;
        }
        if (json) {
            printf("{\"epoch\": %ld, \"epochs\": %ld, \"loss\": %.6f, \"accuracy\": %.6f, \"lr\": %g, \"seconds\": %.3f, \"cpu_seconds\": %.3f",
                   ep, epochs, loss_sum / seen, (double)correct / seen, cur_lr, secs, cpu);
            if (va.n) printf(", \"val_loss\": %.6f, \"val_accuracy\": %.6f, \"val_n\": %lld", vloss, vacc, (long long)va.n);
            printf("}\n");
            fflush(stdout);
        } else {
            printf("epoch %ld/%ld: loss %.4f accuracy %.4f", ep, epochs, loss_sum / seen, (double)correct / seen);
            if (va.n) printf("  val_loss %.4f val_accuracy %.4f", vloss, vacc);
            printf("  (%.1f s)\n", secs);
            fflush(stdout);
        }
    }
    nne_trainer_destroy(t);
    t = NULL;
    if ((st = nne_model_save_file(m, out_path, NULL)) != NNE_OK) {
        rc = cli_fail(st, out_path);
        goto done;
    }
    if (!json) printf("wrote %s\n", out_path);
    rc = EXIT_OK;
done:
    nne_trainer_destroy(t);
    nne_session_destroy(ts);
    nne_model_destroy(tm);
    nne_model_destroy(m);
    dataset_free(&tr);
    dataset_free(&va);
    free(order);
    free(lab);
    free(xb);
    free(tl);
    free(tall);
    return rc;
}
