/*
 * fuzz_image.h - shared body of the image decoder harnesses (fuzz_jpeg.c,
 * fuzz_png.c): decode the bytes (channels chosen by the input's length, a
 * 64 Kpixel limit so each run stays fast; larger headers take the refusal
 * path), then check the image and run the pre-processing kernels on it, so
 * that whatever a decoder accepts also goes through resize and normalization
 * under the sanitizers.
 */
#ifndef NNE_FUZZ_IMAGE_H
#define NNE_FUZZ_IMAGE_H

#include "fuzz_common.h"
#include "nnedge_image.h"

static inline int fuzz_image_one(const uint8_t *data, size_t size) {
    static const int32_t chans[4] = {0, 1, 3, 4};
    nne_image im;
    fuzz_clear_error();
    nne_status st = nne_image_decode_memory(data, size, chans[size % 4], 1 << 16, &im);
    if (st == NNE_ERR_LIMIT) { /* over the pixel limit: a documented status */
        if (!nne_last_error()[0] || im.data) abort();
        return 0;
    }
    fuzz_check_status(st, "nne_image_decode_memory");
    if (st != NNE_OK) {
        if (im.data) abort(); /* nothing may be left allocated on failure */
        return 0;
    }
    if (!im.data || im.width <= 0 || im.height <= 0 || im.channels < 1 || im.channels > 4 ||
        (size_t)im.width * im.height > (1u << 16) || (chans[size % 4] && im.channels != chans[size % 4]))
        abort();
    fuzz_touch(im.data, (size_t)im.width * im.height * im.channels);
    float small[17 * 13 * 4];
    nne_image dst = {17, 13, im.channels, NNE_DTYPE_FLOAT, small};
    /* one resize mode per input (chosen by its length), so a run stays cheap */
    if (nne_image_resize(&im, &dst, (nne_resize_mode)((size / 4) % 4)) != NNE_OK) abort();
    float t[4 * 13 * 17];
    nne_tensor tt = {NNE_DTYPE_FLOAT, 4, {1, im.channels, 13, 17}, t};
    if (nne_image_to_tensor(&dst, 1.0f / 255, NULL, NULL, NNE_LAYOUT_NCHW, 0, &tt) != NNE_OK) abort();
    nne_image_free(&im);
    return 0;
}

#endif
