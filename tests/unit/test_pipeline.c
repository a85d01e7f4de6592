/* Image / OCR pipeline (src/pipeline): argument checks with a message, exact
 * small cases (identity resize, nearest upsampling, rotations), and OOM
 * injection: every allocation of resize, DB boxes, NMS, CTC and the warp is
 * failed in turn; each call must return NNE_OK or NNE_ERR_OUT_OF_MEMORY and
 * leave nothing allocated. Numerical checks against numpy / Pillow / ONNX
 * are in tests/app/check_kernels.py. */
#include "nnedge.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

typedef struct pl_oom {
    long count, fail_at, live;
} pl_oom;

static void *pl_malloc(void *u, size_t n) {
    pl_oom *s = u;
    if (++s->count == s->fail_at) return NULL;
    void *p = malloc(n);
    if (p) s->live++;
    return p;
}
static void *pl_realloc(void *u, void *p, size_t n) {
    pl_oom *s = u;
    if (++s->count == s->fail_at) return NULL;
    void *q = realloc(p, n);
    if (q && !p) s->live++;
    return q;
}
static void *pl_aligned(void *u, size_t a, size_t n) {
    pl_oom *s = u;
    if (++s->count == s->fail_at) return NULL;
    void *p = aligned_alloc(a, n);
    if (p) s->live++;
    return p;
}
static void pl_free(void *u, void *p) {
    pl_oom *s = u;
    if (p) s->live--;
    free(p);
}

static float g_src[12 * 10 * 3], g_dst[7 * 5 * 3], g_prob[40 * 60];

/* One call of each allocating function; returns the first non-OK status. */
static nne_status pl_calls(void) {
    nne_image src = {10, 12, 3, NNE_DTYPE_FLOAT, g_src}, dst = {5, 7, 3, NNE_DTYPE_FLOAT, g_dst};
    nne_status st;
    if ((st = nne_image_resize(&src, &dst, NNE_RESIZE_AREA)) != NNE_OK) return st;
    nne_ocr_box boxes[8];
    int32_t n;
    if ((st = nne_ocr_db_boxes(g_prob, 40, 60, 0.3f, 0.6f, 1.5f, boxes, 8, &n)) != NNE_OK) return st;
    float b[12] = {0, 0, 10, 10, 1, 1, 10, 10, 20, 20, 30, 30}, sc[3] = {0.9f, 0.8f, 0.7f};
    int32_t keep[3], nk;
    if ((st = nne_nms(b, sc, 3, 0.5f, 0.0f, keep, &nk)) != NNE_OK) return st;
    float q[8] = {1, 1, 8, 2, 8, 9, 1, 8};
    if ((st = nne_image_warp_quad(&src, q, &dst)) != NNE_OK) return st;
    return NNE_OK;
}

void unit_pipeline(void) {
    /* argument checks */
    float px[4 * 4] = {0};
    nne_image a = {4, 4, 1, NNE_DTYPE_FLOAT, px}, bad = {0, 4, 1, NNE_DTYPE_FLOAT, px};
    CHECK(nne_image_resize(&a, &bad, NNE_RESIZE_BILINEAR) == NNE_ERR_INVALID_ARG && strstr(nne_last_error(), "destination"));
    nne_image i16 = {4, 4, 1, NNE_DTYPE_INT16, px};
    CHECK(nne_image_resize(&i16, &a, NNE_RESIZE_BILINEAR) == NNE_ERR_UNSUPPORTED);
    CHECK(nne_image_resize(&a, &a, (nne_resize_mode)9) == NNE_ERR_UNSUPPORTED);
    float q0[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    CHECK(nne_image_warp_quad(&a, q0, &a) == NNE_ERR_INVALID_ARG && strstr(nne_last_error(), "degenerate"));
    nne_image c2 = {2, 2, 1, NNE_DTYPE_FLOAT, px};
    CHECK(nne_image_crop(&a, 3, 3, &c2) == NNE_ERR_INVALID_ARG && strstr(nne_last_error(), "not inside"));
    int32_t lab[4], nl;
    CHECK(nne_ctc_greedy_decode(px, 4, 4, 4, lab, &nl, NULL) == NNE_ERR_INVALID_ARG);
    CHECK(nne_ocr_db_boxes(px, 4, 4, 0.3f, 0.6f, -1.0f, NULL, 0, &nl) == NNE_ERR_INVALID_ARG);
    float t[1 * 1 * 3 * 3];
    nne_tensor small = {NNE_DTYPE_FLOAT, 4, {1, 1, 3, 3}, t};
    CHECK(nne_image_to_tensor(&a, 1, NULL, NULL, NNE_LAYOUT_NCHW, 0, &small) == NNE_ERR_INVALID_ARG);

    /* identity resize is exact for every mode; nearest 2x duplicates pixels */
    for (int i = 0; i < 16; i++) px[i] = (float)(i * 7 % 11) / 3.0f;
    float out[8 * 8];
    for (int mode = 0; mode < 4; mode++) {
        nne_image o = {4, 4, 1, NNE_DTYPE_FLOAT, out};
        CHECK(nne_image_resize(&a, &o, (nne_resize_mode)mode) == NNE_OK && !memcmp(out, px, sizeof px));
    }
    nne_image up = {8, 8, 1, NNE_DTYPE_FLOAT, out};
    CHECK(nne_image_resize(&a, &up, NNE_RESIZE_NEAREST) == NNE_OK);
    int same = 1;
    for (int y = 0; y < 8; y++)
        for (int x = 0; x < 8; x++) same &= out[y * 8 + x] == px[(y / 2) * 4 + x / 2];
    CHECK(same);
    /* rotating four times by 90 degrees gives the image back */
    float r1[16], r2[16];
    nne_image ra = {4, 4, 1, NNE_DTYPE_FLOAT, r1}, rb = {4, 4, 1, NNE_DTYPE_FLOAT, r2};
    CHECK(nne_image_rotate90(&a, 1, &ra) == NNE_OK && nne_image_rotate90(&ra, 3, &rb) == NNE_OK &&
          !memcmp(r2, px, sizeof px));

    /* OOM injection */
    for (int i = 0; i < 12 * 10 * 3; i++) g_src[i] = (float)(i % 17);
    for (int y = 10; y < 25; y++)
        for (int x = 5; x < 50; x++) g_prob[y * 60 + x] = 0.9f;
    CHECK(pl_calls() == NNE_OK);
    int clean = 1, steps = 0;
    for (long k = 1; k < 1000; k++) {
        pl_oom s = {0, k, 0};
        nne_allocator al = {pl_malloc, pl_realloc, pl_aligned, pl_free, &s};
        nne_allocator_set(&al);
        nne_status st = pl_calls();
        nne_allocator_set(NULL);
        if (st != NNE_OK && st != NNE_ERR_OUT_OF_MEMORY) clean = 0;
        if (s.live != 0) clean = 0;
        steps++;
        if (st == NNE_OK) break; /* past the last allocation */
    }
    CHECK(clean && steps > 4);
}
