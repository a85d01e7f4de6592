/*
 * image_decode.c - JPEG (libjpeg-turbo) and PNG (libpng's simplified API)
 * decoding into nne_image; the API is include/nnedge_image.h. Not part of
 * libnnedge: built into libnnedge_imageio.a for the nnedge command.
 *
 * Untrusted input: the dimensions are checked against max_pixels before any
 * image-sized allocation; libjpeg's fatal errors come back through longjmp
 * to a clean error, its warnings are silenced except "premature end of
 * file", which fails the decode (a truncated JPEG would otherwise decode as
 * gray padding); libpng's simplified API reports errors in its message field.
 */
#include "nnedge_image.h"
#include "core/core.h"

#include <setjmp.h>
#include <stdio.h>
/* after stdio.h: jpeglib.h uses FILE */
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

nne_status nne_image_alloc(int32_t width, int32_t height, int32_t channels, nne_dtype dtype, nne_image *out) {
    if (!out) return nne_error(NNE_ERR_INVALID_ARG, "nne_image_alloc: out is NULL");
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4 ||
        (dtype != NNE_DTYPE_UINT8 && dtype != NNE_DTYPE_FLOAT))
        return nne_error(NNE_ERR_INVALID_ARG, "nne_image_alloc: %dx%d with %d channels of %s; expected positive sizes, "
                         "1-4 channels, uint8 or float32", (int)width, (int)height, (int)channels, nne_dtype_name(dtype));
    size_t n;
    if (!nne_mul_ok((size_t)width, (size_t)height, &n) || !nne_mul_ok(n, (size_t)channels * nne_dtype_size(dtype), &n))
        return nne_error(NNE_ERR_INVALID_ARG, "nne_image_alloc: %dx%d image is too large", (int)width, (int)height);
    void *p = calloc(1, n);
    if (!p) return nne_error(NNE_ERR_OUT_OF_MEMORY, "nne_image_alloc: no memory for %zu bytes", n);
    *out = (nne_image){width, height, channels, dtype, p};
    return NNE_OK;
}

void nne_image_free(nne_image *im) {
    if (!im) return;
    free(im->data);
    memset(im, 0, sizeof *im);
}

static nne_status check_size(const char *fmt, uint64_t w, uint64_t h, int64_t max_pixels) {
    int64_t limit = max_pixels > 0 ? max_pixels : NNE_IMAGE_DEFAULT_MAX_PIXELS;
    if (w == 0 || h == 0)
        return nne_error(NNE_ERR_INVALID_ARG, "image decode: %s header gives an empty image (%llux%llu)", fmt,
                         (unsigned long long)w, (unsigned long long)h);
    if (w > INT32_MAX || h > INT32_MAX || (double)w * (double)h > (double)limit)
        return nne_error(NNE_ERR_LIMIT, "image decode: %s image is %llux%llu pixels, over the limit of %lld pixels", fmt,
                         (unsigned long long)w, (unsigned long long)h, (long long)limit);
    return NNE_OK;
}

/* ------------------------------------------------------------------ JPEG -- */

typedef struct jerr {
    struct jpeg_error_mgr mgr;
    jmp_buf jump;
    char msg[JMSG_LENGTH_MAX];
} jerr;

static void jpeg_fail(j_common_ptr cinfo) {
    jerr *e = (jerr *)cinfo->err;
    (*cinfo->err->format_message)(cinfo, e->msg);
    longjmp(e->jump, 1);
}

static void jpeg_emit(j_common_ptr cinfo, int level) {
    /* level -1: a warning. A truncated file is an error for us. */
    if (level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) jpeg_fail(cinfo);
}

static nne_status decode_jpeg(const unsigned char *data, size_t size, int32_t channels, int64_t max_pixels,
                              nne_image *out) {
    struct jpeg_decompress_struct cinfo;
    jerr err;
    /* volatile: read after longjmp */
    unsigned char *volatile pixels = NULL;
    volatile nne_status st = NNE_OK;
    memset(&cinfo, 0, sizeof cinfo);
    cinfo.err = jpeg_std_error(&err.mgr);
    err.mgr.error_exit = jpeg_fail;
    err.mgr.emit_message = jpeg_emit;
    err.msg[0] = 0;
    if (setjmp(err.jump)) {
        jpeg_destroy_decompress(&cinfo);
        free(pixels);
        if (st != NNE_OK) return st;
        return nne_error(NNE_ERR_INVALID_ARG, "image decode: corrupt JPEG: %s", err.msg);
    }
    jpeg_create_decompress(&cinfo);
    jpeg_mem_src(&cinfo, data, (unsigned long)size);
    jpeg_read_header(&cinfo, TRUE);
    if ((st = check_size("JPEG", cinfo.image_width, cinfo.image_height, max_pixels)) != NNE_OK) {
        jpeg_destroy_decompress(&cinfo);
        return st;
    }
    J_COLOR_SPACE cs = cinfo.jpeg_color_space;
    if (cs != JCS_GRAYSCALE && cs != JCS_YCbCr && cs != JCS_RGB) {
        jpeg_destroy_decompress(&cinfo);
        return nne_error(NNE_ERR_UNSUPPORTED, "image decode: JPEG color space %d (CMYK/YCCK) is not supported; "
                         "convert the image to RGB", (int)cs);
    }
    int32_t want = channels ? channels : (cs == JCS_GRAYSCALE ? 1 : 3);
    cinfo.out_color_space = want == 1 ? JCS_GRAYSCALE : want == 4 ? JCS_EXT_RGBA : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != want) {
        jpeg_destroy_decompress(&cinfo);
        return nne_error(NNE_ERR_INTERNAL, "image decode: libjpeg gave %d components, not %d", cinfo.output_components,
                         (int)want);
    }
    size_t stride = (size_t)cinfo.output_width * (size_t)want;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "image decode: no memory for a %ux%u image", cinfo.output_width,
                         cinfo.output_height);
    }
    while (cinfo.output_scanline < cinfo.output_height) {
        JSAMPROW row = pixels + stride * cinfo.output_scanline;
        jpeg_read_scanlines(&cinfo, &row, 1);
    }
    jpeg_finish_decompress(&cinfo);
    *out = (nne_image){(int32_t)cinfo.output_width, (int32_t)cinfo.output_height, want, NNE_DTYPE_UINT8, pixels};
    jpeg_destroy_decompress(&cinfo);
    return NNE_OK;
}

/* ------------------------------------------------------------------- PNG -- */

static nne_status decode_png(const unsigned char *data, size_t size, int32_t channels, int64_t max_pixels,
                             nne_image *out) {
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_memory(&img, data, size)) {
        nne_status st = nne_error(NNE_ERR_INVALID_ARG, "image decode: corrupt PNG: %s", img.message);
        png_image_free(&img);
        return st;
    }
    nne_status st = check_size("PNG", img.width, img.height, max_pixels);
    if (st != NNE_OK) {
        png_image_free(&img);
        return st;
    }
    int has_color = (img.format & PNG_FORMAT_FLAG_COLOR) != 0, has_alpha = (img.format & PNG_FORMAT_FLAG_ALPHA) != 0;
    int32_t want = channels ? channels : has_color ? (has_alpha ? 4 : 3) : (has_alpha ? 4 : 1);
    img.format = want == 1 ? PNG_FORMAT_GRAY : want == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
    size_t stride = (size_t)img.width * (size_t)want;
    unsigned char *pixels = malloc(stride * img.height);
    if (!pixels) {
        png_image_free(&img);
        return nne_error(NNE_ERR_OUT_OF_MEMORY, "image decode: no memory for a %ux%u image", img.width, img.height);
    }
    /* an alpha channel that is dropped is composited onto white (dark text
     * on a transparent background stays readable) */
    png_color white = {255, 255, 255};
    if (!png_image_finish_read(&img, &white, pixels, (png_int_32)stride, NULL)) {
        st = nne_error(NNE_ERR_INVALID_ARG, "image decode: corrupt PNG: %s", img.message);
        free(pixels);
        png_image_free(&img);
        return st;
    }
    *out = (nne_image){(int32_t)img.width, (int32_t)img.height, want, NNE_DTYPE_UINT8, pixels};
    png_image_free(&img);
    return NNE_OK;
}

/* ------------------------------------------------------------------ API -- */

nne_status nne_image_decode_memory(const void *data, size_t size, int32_t channels, int64_t max_pixels,
                                   nne_image *out) {
    if (!out) return nne_error(NNE_ERR_INVALID_ARG, "image decode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return nne_error(NNE_ERR_INVALID_ARG, "image decode: data is NULL");
    if (channels != 0 && channels != 1 && channels != 3 && channels != 4)
        return nne_error(NNE_ERR_INVALID_ARG, "image decode: channels %d; expected 0 (as stored), 1, 3 or 4",
                         (int)channels);
    const unsigned char *p = data;
    if (size >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return decode_jpeg(p, size, channels, max_pixels, out);
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size >= 8 && !memcmp(p, png_sig, 8)) return decode_png(p, size, channels, max_pixels, out);
    return nne_error(NNE_ERR_INVALID_ARG, "image decode: %zu bytes that are neither JPEG (FF D8 FF) nor PNG "
                     "(89 50 4E 47 0D 0A 1A 0A); convert the image to one of them", size);
}

nne_status nne_image_decode_file(const char *path, int32_t channels, int64_t max_pixels, nne_image *out) {
    if (!path || !out) return nne_error(NNE_ERR_INVALID_ARG, "image decode: path or out is NULL");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return nne_error(NNE_ERR_IO, "image decode: cannot open \"%s\"", path);
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            if (nc > ((size_t)1 << 31)) {
                free(buf);
                fclose(f);
                return nne_error(NNE_ERR_LIMIT, "image decode: \"%s\" is over 2 GiB", path);
            }
            unsigned char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return nne_error(NNE_ERR_OUT_OF_MEMORY, "image decode: no memory to read \"%s\"", path);
            }
            buf = nb, cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return nne_error(NNE_ERR_IO, "image decode: cannot read \"%s\"", path);
    }
    nne_status st = nne_image_decode_memory(buf, n, channels, max_pixels, out);
    free(buf);
    if (st != NNE_OK) nne_error_prefix("%s", path);
    return st;
}
