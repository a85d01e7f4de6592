/*
 * app_classify.c - `nnedge app classify MODEL IMAGE... [--labels FILE]
 * [--top K] [--preprocess SPEC] [--json]`: decode, resize, crop, normalize,
 * run, top-k with labels.
 *
 * SPEC uses the keys of `nnedge pack --preprocess` (the .nne manifest's
 * preprocessing spec), comma-separated KEY=VALUE:
 *   resize=N      shorter side to N, aspect kept;  resize=WxH  exactly
 *   interp=bilinear|nearest|area|align_corners   (default bilinear)
 *   crop=N | WxH  center crop after resizing
 *   mean=A:B:C  std=A:B:C   per channel, after scaling (default 0 and 1)
 *   scale=S       sample multiplier (default 1/255)
 *   layout=nchw|nhwc  (default: from the model's input shape)
 *   color=rgb|bgr|gray  (default: rgb, gray for a 1-channel input)
 * Without resize and crop the image is resized straight to the model's input
 * size. A .nne package brings its own spec and labels (`nnedge pack
 * --preprocess SPEC --labels FILE`); --preprocess and --labels override them. Scores are the model's outputs, passed through softmax unless they
 * already are probabilities (all in [0, 1], summing to 1 within 1e-3).
 */
#include "app.h"
#include "cli_pkg.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct spec {
    int32_t resize_w, resize_h, resize_short; /* 0: not given */
    int32_t crop_w, crop_h;
    nne_resize_mode interp;
    float mean[4], std[4];
    int n_mean, n_std;
    float scale;
    int layout; /* -1: from the model */
    int color;  /* 0 rgb, 1 bgr, 2 gray, -1 from the model */
} spec;

static int parse_wh(const char *v, int32_t *w, int32_t *h, int32_t *one) {
    char *e;
    long a = strtol(v, &e, 10);
    if (e == v || a < 1 || a > 65536) return 0;
    if (!*e) {
        if (!one) *w = *h = (int32_t)a;
        else *one = (int32_t)a;
        return 1;
    }
    if (*e != 'x') return 0;
    const char *p = e + 1;
    long b = strtol(p, &e, 10);
    if (e == p || *e || b < 1 || b > 65536) return 0;
    *w = (int32_t)a, *h = (int32_t)b;
    return 1;
}

static int parse_floats(const char *v, float *out, int *n) {
    *n = 0;
    while (*v) {
        char *e;
        double d = strtod(v, &e);
        if (e == v || *n == 4 || !isfinite(d)) return 0;
        out[(*n)++] = (float)d;
        if (*e == ':') v = e + 1;
        else if (!*e) break;
        else return 0;
    }
    return *n > 0;
}

static int spec_parse(const char *s, spec *sp) {
    memset(sp, 0, sizeof *sp);
    sp->scale = 1.0f / 255;
    sp->layout = -1;
    sp->color = -1;
    sp->interp = NNE_RESIZE_BILINEAR;
    if (!s) return 1;
    char buf[1024];
    if (strlen(s) >= sizeof buf) return cli_usage_error("app classify: --preprocess SPEC is too long"), 0;
    strcpy(buf, s);
    for (char *save = NULL, *it = strtok_r(buf, ",", &save); it; it = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(it, '=');
        if (!eq || eq == it || !eq[1])
            return cli_usage_error("app classify: --preprocess item \"%s\" is not KEY=VALUE", it), 0;
        *eq = 0;
        const char *k = it, *v = eq + 1;
        int ok = 1;
        if (!strcmp(k, "resize")) ok = parse_wh(v, &sp->resize_w, &sp->resize_h, strchr(v, 'x') ? NULL : &sp->resize_short);
        else if (!strcmp(k, "crop")) ok = parse_wh(v, &sp->crop_w, &sp->crop_h, NULL);
        else if (!strcmp(k, "mean")) ok = parse_floats(v, sp->mean, &sp->n_mean);
        else if (!strcmp(k, "std")) ok = parse_floats(v, sp->std, &sp->n_std);
        else if (!strcmp(k, "scale")) {
            char *e;
            double d = strtod(v, &e);
            if (*e == '/') { /* "1/255" */
                double q = strtod(e + 1, &e);
                d = q != 0 ? d / q : NAN;
            }
            ok = !*e && isfinite(d);
            sp->scale = (float)d;
        } else if (!strcmp(k, "layout")) {
            ok = !strcmp(v, "nchw") || !strcmp(v, "nhwc");
            sp->layout = !strcmp(v, "nhwc") ? NNE_LAYOUT_NHWC : NNE_LAYOUT_NCHW;
        } else if (!strcmp(k, "color")) {
            ok = !strcmp(v, "rgb") || !strcmp(v, "bgr") || !strcmp(v, "gray");
            sp->color = !strcmp(v, "rgb") ? 0 : !strcmp(v, "bgr") ? 1 : 2;
        } else if (!strcmp(k, "interp")) {
            if (!strcmp(v, "bilinear")) sp->interp = NNE_RESIZE_BILINEAR;
            else if (!strcmp(v, "align_corners")) sp->interp = NNE_RESIZE_BILINEAR_ALIGN_CORNERS;
            else if (!strcmp(v, "nearest")) sp->interp = NNE_RESIZE_NEAREST;
            else if (!strcmp(v, "area")) sp->interp = NNE_RESIZE_AREA;
            else ok = 0;
        } else
            return cli_usage_error("app classify: --preprocess: unknown key \"%s\" (known: resize, interp, crop, mean, "
                                   "std, scale, layout, color)", k), 0;
        if (!ok) return cli_usage_error("app classify: --preprocess: bad value \"%s\" for %s", v, k), 0;
    }
    return 1;
}

static char **labels_load(const char *path, int *n, char **buf_out) {
    FILE *f = fopen(path, "rb");
    *n = 0;
    if (!f) return cli_usage_error("app classify: cannot open labels \"%s\": %s", path, strerror(errno)), NULL;
    size_t cap = 1 << 16, len = 0, r;
    char *buf = malloc(cap + 1);
    while (buf && (r = fread(buf + len, 1, cap - len, f)) > 0) {
        len += r;
        if (len == cap) {
            char *nb = cap < (64u << 20) ? realloc(buf, 2 * cap + 1) : NULL;
            if (!nb) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb, cap *= 2;
        }
    }
    fclose(f);
    if (!buf) return cli_usage_error("app classify: labels \"%s\" too large", path), NULL;
    buf[len] = 0;
    int lines = 1;
    for (size_t i = 0; i < len; i++) lines += buf[i] == '\n';
    char **l = malloc(sizeof(char *) * (size_t)lines);
    if (!l) return free(buf), cli_usage_error("app classify: no memory"), NULL;
    char *p = buf;
    while (*p) {
        char *nl = strchr(p, '\n');
        if (nl) *nl = 0;
        size_t sl = strlen(p);
        if (sl && p[sl - 1] == '\r') p[--sl] = 0;
        l[(*n)++] = p;
        if (!nl) break;
        p = nl + 1;
    }
    *buf_out = buf;
    return l;
}

/* Preprocess one decoded RGB image into the model input `t` (data allocated). */
static int preprocess(const nne_image *rgb, const spec *sp, int layout, int color, nne_dtype dt, int64_t C, int64_t H,
                      int64_t W, nne_tensor *t) {
    int rc = EXIT_OK;
    nne_status st = NNE_OK;
    nne_image src = *rgb, gray = {0}, rs = {0}, cr = {0};
    if (color == 2) { /* ITU-R BT.601 luma, as Pillow's convert("L") */
        if ((st = nne_image_alloc(rgb->width, rgb->height, 1, NNE_DTYPE_FLOAT, &gray)) != NNE_OK) goto fail;
        const uint8_t *p = rgb->data;
        float *g = gray.data;
        for (size_t i = 0; i < (size_t)rgb->width * rgb->height; i++)
            g[i] = (float)(p[3 * i] * 299 + p[3 * i + 1] * 587 + p[3 * i + 2] * 114) / 1000.0f;
        src = gray;
    }
    int32_t rw = (int32_t)W, rh = (int32_t)H;
    if (sp->resize_short) {
        double f = (double)sp->resize_short / (src.width < src.height ? src.width : src.height);
        rw = src.width < src.height ? sp->resize_short : (int32_t)fmax(1, floor(src.width * f));
        rh = src.width < src.height ? (int32_t)fmax(1, floor(src.height * f)) : sp->resize_short;
    } else if (sp->resize_w)
        rw = sp->resize_w, rh = sp->resize_h;
    else if (sp->crop_w)
        rw = src.width, rh = src.height;
    if ((st = nne_image_alloc(rw, rh, src.channels, NNE_DTYPE_FLOAT, &rs)) != NNE_OK ||
        (st = nne_image_resize(&src, &rs, sp->interp)) != NNE_OK)
        goto fail;
    nne_image *fin = &rs;
    if (sp->crop_w) {
        if (sp->crop_w > rw || sp->crop_h > rh) {
            rc = cli_usage_error("app classify: crop %dx%d is larger than the resized %dx%d image", (int)sp->crop_w,
                                 (int)sp->crop_h, (int)rw, (int)rh);
            goto out;
        }
        if ((st = nne_image_alloc(sp->crop_w, sp->crop_h, src.channels, NNE_DTYPE_FLOAT, &cr)) != NNE_OK ||
            (st = nne_image_crop(&rs, (rw - sp->crop_w) / 2, (rh - sp->crop_h) / 2, &cr)) != NNE_OK)
            goto fail;
        fin = &cr;
    }
    if (fin->width != W || fin->height != H || fin->channels != C) {
        rc = cli_usage_error("app classify: preprocessing gives %dx%d with %d channels, the model wants %lldx%lld with %lld; "
                             "adjust --preprocess resize/crop/color", (int)fin->width, (int)fin->height,
                             (int)fin->channels, (long long)W, (long long)H, (long long)C);
        goto out;
    }
    float mean[4] = {0}, stdv[4] = {1, 1, 1, 1};
    for (int c = 0; c < C; c++) {
        if (sp->n_mean) mean[c] = sp->mean[sp->n_mean == 1 ? 0 : c];
        if (sp->n_std) stdv[c] = sp->std[sp->n_std == 1 ? 0 : c];
    }
    if ((sp->n_mean > 1 && sp->n_mean != C) || (sp->n_std > 1 && sp->n_std != C)) {
        rc = cli_usage_error("app classify: mean/std need 1 or %lld values", (long long)C);
        goto out;
    }
    *t = (nne_tensor){dt, 4, {1, 0, 0, 0}, NULL};
    if (layout == NNE_LAYOUT_NCHW) t->dims[1] = C, t->dims[2] = H, t->dims[3] = W;
    else t->dims[1] = H, t->dims[2] = W, t->dims[3] = C;
    t->data = malloc(nne_tensor_nbytes(t));
    if (!t->data) {
        rc = cli_usage_error("app classify: no memory for the input");
        goto out;
    }
    if ((st = nne_image_to_tensor(fin, sp->scale, mean, stdv, (nne_layout)layout, color == 1, t)) != NNE_OK) goto fail;
    goto out;
fail:
    rc = cli_fail(st, "app classify");
out:
    nne_image_free(&gray);
    nne_image_free(&rs);
    nne_image_free(&cr);
    return rc;
}

int cli_app_classify(int argc, char **argv) {
    const char *model = NULL, *labels_path = NULL, *pre = NULL;
    long top = 5, threads = 1;
    int json = 0, rc = EXIT_OK, nimg = 0, nlab = 0;
    cli_limits lim = {0};
    const char **imgs = calloc((size_t)argc + 1, sizeof(char *));
    char **labels = NULL, *label_buf = NULL;
    int labels_borrowed = 0; /* labels point into the package's manifest */
    nne_pkg *pkg = NULL;
    float *probs = NULL;
    int32_t *order = NULL;
    app_model am;
    memset(&am, 0, sizeof am);
    if (!imgs) return cli_usage_error("app classify: no memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        int lo;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--labels")) {
            if (!(labels_path = cli_opt_value(argc, argv, &i, "FILE"))) { rc = EXIT_BAD_INPUT; goto done; }
        } else if (!strcmp(a, "--preprocess")) {
            if (!(pre = cli_opt_value(argc, argv, &i, "SPEC"))) { rc = EXIT_BAD_INPUT; goto done; }
        } else if (!strcmp(a, "--top")) {
            if (!(v = cli_opt_value(argc, argv, &i, "K")) || !cli_parse_int(v, 1, 100000, &top)) {
                rc = cli_usage_error("app classify: --top needs a count 1..100000");
                goto done;
            }
        } else if (!strcmp(a, "--threads")) {
            if (!(v = cli_opt_value(argc, argv, &i, "N")) || !cli_parse_int(v, 1, 256, &threads)) {
                rc = cli_usage_error("app classify: --threads needs 1..256");
                goto done;
            }
        } else if ((lo = cli_limit_option(argc, argv, &i, &lim)) != 0) {
            if (lo < 0) { rc = EXIT_BAD_INPUT; goto done; }
        } else if (a[0] == '-' && a[1]) {
            rc = cli_usage_error("app classify: unknown option \"%s\"", a);
            goto done;
        } else if (!model)
            model = a;
        else
            imgs[nimg++] = a;
    }
    if (!model || !nimg) {
        rc = cli_usage_error("app classify: usage: nnedge app classify MODEL IMAGE... [--labels FILE] [--top K] "
                             "[--preprocess SPEC] [--json]");
        goto done;
    }
    if ((rc = app_model_open(&am, model, (int)threads, &lim)) != EXIT_OK) goto done;
    if (nne_pkg_sniff_file(model)) { /* the manifest's preprocessing spec and labels */
        nne_status pst = cli_pkg_open_model_package(model, &pkg);
        if (pst != NNE_OK) { rc = cli_fail(pst, NULL); goto done; }
        const nne_pkg_manifest *man = nne_pkg_get_manifest(pkg);
        if (man && !pre && man->preprocess && man->preprocess[0]) pre = man->preprocess;
        if (man && !labels_path && man->n_labels > 0) {
            labels = man->labels;
            nlab = man->n_labels;
            labels_borrowed = 1;
        }
    }
    spec sp;
    if (!spec_parse(pre, &sp)) { rc = EXIT_BAD_INPUT; goto done; }
    if (labels_path && !(labels = labels_load(labels_path, &nlab, &label_buf))) { rc = EXIT_BAD_INPUT; goto done; }
    nne_value_info vi;
    nne_status st;
    if ((st = nne_model_input_info(am.m, 0, &vi)) != NNE_OK) { rc = cli_fail(st, model); goto done; }
    if (vi.ndim != 4 || (vi.dtype != NNE_DTYPE_FLOAT && vi.dtype != NNE_DTYPE_UINT8 && vi.dtype != NNE_DTYPE_INT8)) {
        rc = cli_usage_error("app classify: input \"%s\" is %s of rank %d; expected a 4-D image tensor (float32, uint8 "
                             "or int8)", vi.name, nne_dtype_name(vi.dtype), (int)vi.ndim);
        goto done;
    }
    int layout = sp.layout;
    if (layout < 0) layout = (vi.dims[1] == 1 || vi.dims[1] == 3) ? NNE_LAYOUT_NCHW : NNE_LAYOUT_NHWC;
    int64_t C = layout == NNE_LAYOUT_NCHW ? vi.dims[1] : vi.dims[3];
    int64_t H = layout == NNE_LAYOUT_NCHW ? vi.dims[2] : vi.dims[1];
    int64_t W = layout == NNE_LAYOUT_NCHW ? vi.dims[3] : vi.dims[2];
    if (H <= 0 || W <= 0) { /* symbolic: the spec's size */
        H = sp.crop_w ? sp.crop_h : sp.resize_h;
        W = sp.crop_w ? sp.crop_w : sp.resize_w;
    }
    if (C != 1 && C != 3) {
        rc = cli_usage_error("app classify: input \"%s\" has %lld channels (layout %s); expected 1 or 3", vi.name,
                             (long long)C, layout == NNE_LAYOUT_NCHW ? "nchw" : "nhwc");
        goto done;
    }
    if (H <= 0 || W <= 0) {
        rc = cli_usage_error("app classify: input \"%s\" has no fixed size; give --preprocess crop=WxH or resize=WxH", vi.name);
        goto done;
    }
    int color = sp.color >= 0 ? sp.color : C == 1 ? 2 : 0;
    if ((color == 2) != (C == 1)) {
        rc = cli_usage_error("app classify: color=%s does not fit a %lld-channel input", color == 2 ? "gray" : "rgb/bgr",
                             (long long)C);
        goto done;
    }
    if (json) fputs("{\"images\": [", stdout);
    for (int k = 0; k < nimg; k++) {
        nne_image img;
        nne_tensor in = {0}, out;
        if ((rc = app_image_load(imgs[k], &img)) != EXIT_OK) goto done;
        rc = preprocess(&img, &sp, layout, color, vi.dtype, C, H, W, &in);
        nne_image_free(&img);
        if (rc == EXIT_OK) rc = app_model_run(&am, &in, &out, "app classify");
        free(in.data);
        if (rc != EXIT_OK) goto done;
        int64_t n = nne_tensor_numel(&out);
        if (n < 1 || n > (1 << 24)) {
            rc = cli_usage_error("app classify: output 0 has %lld elements; expected one score per class", (long long)n);
            goto done;
        }
        free(probs);
        free(order);
        probs = malloc(sizeof(float) * (size_t)n);
        order = malloc(sizeof(int32_t) * (size_t)n);
        if (!probs || !order) { rc = cli_usage_error("app classify: no memory"); goto done; }
        const float *o = out.data;
        double sum = 0, mx = -INFINITY;
        int isprob = 1;
        for (int64_t i = 0; i < n; i++) {
            sum += o[i];
            mx = fmax(mx, o[i]);
            isprob &= o[i] >= 0 && o[i] <= 1;
        }
        if (isprob && fabs(sum - 1) <= 1e-3)
            memcpy(probs, o, sizeof(float) * (size_t)n);
        else {
            double z = 0;
            for (int64_t i = 0; i < n; i++) z += exp(o[i] - mx);
            for (int64_t i = 0; i < n; i++) probs[i] = (float)(exp(o[i] - mx) / z);
        }
        /* top-k by partial selection (k is small) */
        int64_t kk = top < n ? top : n;
        for (int64_t i = 0; i < n; i++) order[i] = (int32_t)i;
        for (int64_t i = 0; i < kk; i++) {
            int64_t b = i;
            for (int64_t j = i + 1; j < n; j++)
                if (probs[order[j]] > probs[order[b]]) b = j;
            int32_t t = order[i];
            order[i] = order[b];
            order[b] = t;
        }
        if (json) {
            fputs(k ? ", {\"file\": " : "{\"file\": ", stdout);
            json_str(stdout, imgs[k]);
            fputs(", \"top\": [", stdout);
        } else
            printf("%s:\n", imgs[k]);
        for (int64_t i = 0; i < kk; i++) {
            int32_t c = order[i];
            const char *lab = c < nlab ? labels[c] : NULL;
            if (json) {
                printf("%s{\"index\": %d, \"label\": ", i ? ", " : "", (int)c);
                if (lab) json_str(stdout, lab);
                else fputs("null", stdout);
                printf(", \"score\": %.6f}", probs[c]);
            } else
                printf("  %.4f  %d  %s\n", probs[c], (int)c, lab ? lab : "");
        }
        if (json) fputs("]}", stdout);
    }
    if (json) fputs("]}\n", stdout);
done:
    app_model_close(&am);
    free(imgs);
    if (!labels_borrowed) free(labels);
    nne_pkg_close(pkg);
    free(label_buf);
    free(probs);
    free(order);
    return rc;
}
