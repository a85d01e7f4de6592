/*
 * image_tool.c - the image pipeline's functions on .npy files, for the
 * numpy/Pillow reference checks of tests/app/check_kernels.py:
 *
 *   image_tool resize IN.npy OUT.npy W H bilinear|align_corners|nearest|area [u8]
 *   image_tool tensor IN.npy OUT.npy SCALE M0:M1:M2 S0:S1:S2 nchw|nhwc SWAP_RB [PAD_H PAD_W]
 *   image_tool warp IN.npy OUT.npy W H x0 y0 x1 y1 x2 y2 x3 y3
 *   image_tool rotate IN.npy OUT.npy K
 *   image_tool crop IN.npy OUT.npy X Y W H
 *   image_tool decode FILE OUT.npy CHANNELS
 *   image_tool ctc SCORES.npy BLANK            prints "score label label ..."
 *   image_tool nms BOXES.npy SCORES.npy IOU SCORE_THRESH   prints the kept indices
 *   image_tool db PROB.npy THRESH BOX_THRESH UNCLIP        prints "score x0 y0 ... x3 y3" per box
 * Images are [H, W, C] uint8 or float32 arrays. Exit 2 with the library's
 * message on any error.
 */
#include "nnedge.h"
#include "nnedge_image.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(nne_status st, const char *what) {
    fprintf(stderr, "image_tool: %s: %s\n", what, nne_last_error());
    return st == NNE_OK ? 1 : 2;
}

static int load_image(const char *path, nne_tensor *t, nne_image *im) {
    nne_status st = nne_npy_read_file(path, t);
    if (st != NNE_OK) return fail(st, path);
    if (t->ndim != 3) return fprintf(stderr, "image_tool: %s: expected [H, W, C]\n", path), 2;
    *im = (nne_image){(int32_t)t->dims[1], (int32_t)t->dims[0], (int32_t)t->dims[2], t->dtype, t->data};
    return 0;
}

static int save_image(const char *path, const nne_image *im) {
    nne_tensor t = {im->dtype, 3, {im->height, im->width, im->channels}, im->data};
    nne_status st = nne_npy_write_file(path, &t);
    return st == NNE_OK ? 0 : fail(st, path);
}

/* "A:B:C", or "A" for all three */
static int parse3(const char *s, float *v) {
    int n = sscanf(s, "%f:%f:%f", &v[0], &v[1], &v[2]);
    if (n == 1) v[1] = v[2] = v[0];
    return n == 1 || n == 3;
}

int main(int argc, char **argv) {
    if (argc < 3) return fprintf(stderr, "usage: see tests/app/image_tool.c\n"), 2;
    const char *cmd = argv[1];
    nne_tensor t = {0};
    nne_image in, out = {0};
    nne_status st;
    int rc = 0;
    if (!strcmp(cmd, "decode") && argc == 5) {
        if ((st = nne_image_decode_file(argv[2], atoi(argv[4]), 0, &out)) != NNE_OK) return fail(st, argv[2]);
        rc = save_image(argv[3], &out);
        nne_image_free(&out);
        return rc;
    }
    if (!strcmp(cmd, "ctc") && argc == 4) {
        if ((st = nne_npy_read_file(argv[2], &t)) != NNE_OK) return fail(st, argv[2]);
        int32_t T = (int32_t)t.dims[0], C = (int32_t)t.dims[1], n = 0;
        int32_t *lab = malloc(sizeof(int32_t) * (size_t)(T + 1));
        float score;
        if ((st = nne_ctc_greedy_decode(t.data, T, C, atoi(argv[3]), lab, &n, &score)) != NNE_OK) return fail(st, "ctc");
        printf("%.6f", score);
        for (int32_t i = 0; i < n; i++) printf(" %d", (int)lab[i]);
        printf("\n");
        free(lab);
        nne_tensor_free_data(&t);
        return 0;
    }
    if (!strcmp(cmd, "nms") && argc == 6) {
        nne_tensor s = {0};
        if ((st = nne_npy_read_file(argv[2], &t)) != NNE_OK) return fail(st, argv[2]);
        if ((st = nne_npy_read_file(argv[3], &s)) != NNE_OK) return fail(st, argv[3]);
        int32_t n = (int32_t)s.dims[0], k = 0;
        int32_t *keep = malloc(sizeof(int32_t) * (size_t)(n + 1));
        if ((st = nne_nms(t.data, s.data, n, (float)atof(argv[4]), (float)atof(argv[5]), keep, &k)) != NNE_OK)
            return fail(st, "nms");
        for (int32_t i = 0; i < k; i++) printf("%s%d", i ? " " : "", (int)keep[i]);
        printf("\n");
        free(keep);
        nne_tensor_free_data(&t);
        nne_tensor_free_data(&s);
        return 0;
    }
    if (!strcmp(cmd, "db") && argc == 6) {
        if ((st = nne_npy_read_file(argv[2], &t)) != NNE_OK) return fail(st, argv[2]);
        nne_ocr_box boxes[1000];
        int32_t n = 0;
        if ((st = nne_ocr_db_boxes(t.data, (int32_t)t.dims[0], (int32_t)t.dims[1], (float)atof(argv[3]),
                                   (float)atof(argv[4]), (float)atof(argv[5]), boxes, 1000, &n)) != NNE_OK)
            return fail(st, "db");
        for (int32_t i = 0; i < n; i++) {
            printf("%.6f", boxes[i].score);
            for (int k = 0; k < 8; k++) printf(" %.4f", boxes[i].pts[k]);
            printf("\n");
        }
        nne_tensor_free_data(&t);
        return 0;
    }
    if (argc < 4 || (rc = load_image(argv[2], &t, &in)) != 0) return rc ? rc : (fprintf(stderr, "image_tool: bad arguments\n"), 2);
    if (!strcmp(cmd, "resize") && (argc == 7 || argc == 8)) {
        static const char *modes[] = {"bilinear", "align_corners", "nearest", "area"};
        int mode = -1;
        for (int i = 0; i < 4; i++)
            if (!strcmp(argv[6], modes[i])) mode = i;
        nne_dtype dt = argc == 8 ? NNE_DTYPE_UINT8 : NNE_DTYPE_FLOAT;
        if ((st = nne_image_alloc(atoi(argv[4]), atoi(argv[5]), in.channels, dt, &out)) != NNE_OK ||
            (st = nne_image_resize(&in, &out, (nne_resize_mode)mode)) != NNE_OK)
            rc = fail(st, "resize");
        else
            rc = save_image(argv[3], &out);
    } else if (!strcmp(cmd, "warp") && argc == 14) {
        float q[8];
        for (int i = 0; i < 8; i++) q[i] = (float)atof(argv[6 + i]);
        if ((st = nne_image_alloc(atoi(argv[4]), atoi(argv[5]), in.channels, NNE_DTYPE_FLOAT, &out)) != NNE_OK ||
            (st = nne_image_warp_quad(&in, q, &out)) != NNE_OK)
            rc = fail(st, "warp");
        else
            rc = save_image(argv[3], &out);
    } else if (!strcmp(cmd, "rotate") && argc == 5) {
        int k = atoi(argv[4]);
        int odd = ((k % 4) + 4) % 4 % 2;
        if ((st = nne_image_alloc(odd ? in.height : in.width, odd ? in.width : in.height, in.channels, in.dtype, &out)) != NNE_OK ||
            (st = nne_image_rotate90(&in, k, &out)) != NNE_OK)
            rc = fail(st, "rotate");
        else
            rc = save_image(argv[3], &out);
    } else if (!strcmp(cmd, "crop") && argc == 8) {
        if ((st = nne_image_alloc(atoi(argv[6]), atoi(argv[7]), in.channels, in.dtype, &out)) != NNE_OK ||
            (st = nne_image_crop(&in, atoi(argv[4]), atoi(argv[5]), &out)) != NNE_OK)
            rc = fail(st, "crop");
        else
            rc = save_image(argv[3], &out);
    } else if (!strcmp(cmd, "tensor") && (argc == 9 || argc == 11)) {
        float mean[3], stdv[3];
        if (!parse3(argv[5], mean) || !parse3(argv[6], stdv)) return fprintf(stderr, "image_tool: bad mean/std\n"), 2;
        int nhwc = !strcmp(argv[7], "nhwc");
        int64_t H = argc == 11 ? atoi(argv[9]) : in.height, W = argc == 11 ? atoi(argv[10]) : in.width;
        nne_tensor o = {NNE_DTYPE_FLOAT, 4, {1, nhwc ? H : in.channels, nhwc ? W : H, nhwc ? in.channels : W}, NULL};
        o.data = malloc(nne_tensor_nbytes(&o));
        if ((st = nne_image_to_tensor(&in, (float)atof(argv[4]), mean, stdv, nhwc ? NNE_LAYOUT_NHWC : NNE_LAYOUT_NCHW,
                                      atoi(argv[8]), &o)) != NNE_OK)
            rc = fail(st, "tensor");
        else if ((st = nne_npy_write_file(argv[3], &o)) != NNE_OK)
            rc = fail(st, argv[3]);
        free(o.data);
    } else {
        fprintf(stderr, "image_tool: unknown command or argument count\n");
        rc = 2;
    }
    nne_image_free(&out);
    nne_tensor_free_data(&t);
    return rc;
}
