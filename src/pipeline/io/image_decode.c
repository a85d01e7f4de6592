/*
 * image_decode.c - JPEG (libjpeg-turbo) and PNG (libpng)
 * decoding into nne_image; the API is include/nnedge_image.h. Not part of
 * libnnedge: built into libnnedge_io (with the audio reader) and the nnedge
 * command. It uses only libnnedge's public API (nne_last_error_set for the
 * messages), so libnnedge_io.so links against libnnedge.so.
 *
 * Untrusted input: the dimensions are checked against max_pixels before any
 * image-sized allocation; libjpeg's and libpng's fatal errors come back through
 * longjmp to a clean error, its warnings are silenced except "premature end of
 * file", which fails the decode (a truncated JPEG would otherwise decode as
 * gray padding).
 */
#include "nnedge_image.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
/* after stdio.h: jpeglib.h uses FILE */
#include <jpeglib.h>
#include <jerror.h>
#include <png.h>
#include <stdlib.h>
#include <string.h>

/* This thread's nne_last_error() = the formatted message; returns st. */
static nne_status io_error(nne_status st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static nne_status io_error(nne_status st, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return nne_last_error_set(st, msg);
}

/* Prefix the last error with "what: ". */
static void io_error_prefix(const char *what) {
    char msg[1024];
    snprintf(msg, sizeof msg, "%.400s: %.600s", what, nne_last_error());
    nne_last_error_set(NNE_OK, msg);
}

static int mul_ok(size_t a, size_t b, size_t *out) { return !__builtin_mul_overflow(a, b, out); }

nne_status nne_image_alloc(int32_t width, int32_t height, int32_t channels, nne_dtype dtype, nne_image *out) {
    if (!out) return io_error(NNE_ERR_INVALID_ARG, "nne_image_alloc: out is NULL");
    memset(out, 0, sizeof *out);
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4 ||
        (dtype != NNE_DTYPE_UINT8 && dtype != NNE_DTYPE_FLOAT))
        return io_error(NNE_ERR_INVALID_ARG, "nne_image_alloc: %dx%d with %d channels of %s; expected positive sizes, "
                         "1-4 channels, uint8 or float32", (int)width, (int)height, (int)channels, nne_dtype_name(dtype));
    size_t n;
    if (!mul_ok((size_t)width, (size_t)height, &n) || !mul_ok(n, (size_t)channels * nne_dtype_size(dtype), &n))
        return io_error(NNE_ERR_INVALID_ARG, "nne_image_alloc: %dx%d image is too large", (int)width, (int)height);
    void *p = calloc(1, n);
    if (!p) return io_error(NNE_ERR_OUT_OF_MEMORY, "nne_image_alloc: no memory for %zu bytes", n);
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
        return io_error(NNE_ERR_INVALID_ARG, "image decode: %s header gives an empty image (%llux%llu)", fmt,
                         (unsigned long long)w, (unsigned long long)h);
    if (w > INT32_MAX || h > INT32_MAX || (double)w * (double)h > (double)limit)
        return io_error(NNE_ERR_LIMIT, "image decode: %s image is %llux%llu pixels, over the limit of %lld pixels", fmt,
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
        return io_error(NNE_ERR_INVALID_ARG, "image decode: corrupt JPEG: %s", err.msg);
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
        return io_error(NNE_ERR_UNSUPPORTED, "image decode: JPEG color space %d (CMYK/YCCK) is not supported; "
                         "convert the image to RGB", (int)cs);
    }
    int32_t want = channels ? channels : (cs == JCS_GRAYSCALE ? 1 : 3);
    cinfo.out_color_space = want == 1 ? JCS_GRAYSCALE : want == 4 ? JCS_EXT_RGBA : JCS_RGB;
    jpeg_start_decompress(&cinfo);
    if (cinfo.output_components != want) {
        jpeg_destroy_decompress(&cinfo);
        return io_error(NNE_ERR_INTERNAL, "image decode: libjpeg gave %d components, not %d", cinfo.output_components,
                         (int)want);
    }
    size_t stride = (size_t)cinfo.output_width * (size_t)want;
    pixels = malloc(stride * cinfo.output_height);
    if (!pixels) {
        jpeg_destroy_decompress(&cinfo);
        return io_error(NNE_ERR_OUT_OF_MEMORY, "image decode: no memory for a %ux%u image", cinfo.output_width,
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

/* libpng's low-level API, so that samples keep their values: the simplified
 * png_image API treats 16-bit files as linear light and gamma-encodes them
 * when it reduces them to 8 bits. Here palette and low-bit gray expand to 8
 * bits, tRNS to alpha, 16-bit samples scale to 8 (v * 255 / 65535, rounded),
 * and the channel conversion is ours (convert_channels). */

typedef struct png_src {
    const unsigned char *p;
    size_t n, off;
} png_src;

typedef struct png_err {
    jmp_buf jump;
    char msg[256];
} png_err;

static void png_read_mem(png_structp png, png_bytep out, png_size_t n) {
    png_src *s = png_get_io_ptr(png);
    if (n > s->n - s->off) png_error(png, "file is truncated");
    memcpy(out, s->p + s->off, n);
    s->off += n;
}

static void png_on_error(png_structp png, png_const_charp msg) {
    png_err *e = png_get_error_ptr(png);
    snprintf(e->msg, sizeof e->msg, "%s", msg);
    longjmp(e->jump, 1);
}

static void png_on_warning(png_structp png, png_const_charp msg) { (void)png, (void)msg; }

/* Convert n pixels of `from` interleaved channels (1 gray, 2 gray+alpha,
 * 3 RGB, 4 RGBA) to `to` channels (1, 3 or 4): gray is replicated, color
 * becomes luma (ITU-R BT.601, as Pillow's convert("L")), a dropped alpha is
 * composited onto white, a missing alpha is opaque. */
static void convert_channels(const unsigned char *src, int from, unsigned char *dst, int to, size_t n) {
    for (size_t i = 0; i < n; i++, src += from, dst += to) {
        unsigned r, g, b, a = 255;
        if (from <= 2) r = g = b = src[0];
        else r = src[0], g = src[1], b = src[2];
        if (from == 2 || from == 4) a = src[from - 1];
        if (to != 4 && a != 255) { /* onto white */
            r = (r * a + 255 * (255 - a) + 127) / 255;
            g = (g * a + 255 * (255 - a) + 127) / 255;
            b = (b * a + 255 * (255 - a) + 127) / 255;
        }
        if (to == 1) dst[0] = from <= 2 ? (unsigned char)r : (unsigned char)((r * 299 + g * 587 + b * 114 + 500) / 1000);
        else {
            dst[0] = (unsigned char)r, dst[1] = (unsigned char)g, dst[2] = (unsigned char)b;
            if (to == 4) dst[3] = (unsigned char)a;
        }
    }
}

/* Walks the chunk list before libpng does: a chunk that declares more bytes
 * than the file has left is refused here, because libpng allocates a
 * chunk's declared length before it reads it (a 200-byte file declaring a
 * 2 GB zTXt chunk cost 2 GB and seconds; found by fuzz_png). Every chunk
 * libpng buffers is then bounded by the file's size. */
static nne_status png_prescan(const unsigned char *p, size_t n) {
    size_t off = 8;
    while (n - off >= 8) {
        uint32_t len = (uint32_t)p[off] << 24 | (uint32_t)p[off + 1] << 16 | (uint32_t)p[off + 2] << 8 | p[off + 3];
        const unsigned char *t = p + off + 4;
        char name[5] = "?";
        if (((t[0] | 32) >= 'a' && (t[0] | 32) <= 'z') && ((t[1] | 32) >= 'a' && (t[1] | 32) <= 'z') &&
            ((t[2] | 32) >= 'a' && (t[2] | 32) <= 'z') && ((t[3] | 32) >= 'a' && (t[3] | 32) <= 'z'))
            memcpy(name, t, 4), name[4] = 0;
        if ((uint64_t)len + 12 > n - off)
            return io_error(NNE_ERR_INVALID_ARG, "image decode: corrupt PNG: chunk \"%s\" at byte %zu declares %u data "
                             "bytes, the file has %zu left (truncated file?)", name, off, len, n - off - 12 < n ? n - off - 12 : 0);
        if (!memcmp(t, "IEND", 4)) break;
        off += 12 + (size_t)len;
    }
    return NNE_OK;
}

static nne_status decode_png(const unsigned char *data, size_t size, int32_t channels, int64_t max_pixels,
                             nne_image *out) {
    nne_status pst = png_prescan(data, size);
    if (pst != NNE_OK) return pst;
    png_err err;
    err.msg[0] = 0;
    png_src src = {data, size, 0};
    png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &err, png_on_error, png_on_warning);
    if (!png) return io_error(NNE_ERR_OUT_OF_MEMORY, "image decode: libpng could not start");
    png_infop info = png_create_info_struct(png);
    /* volatile: read after longjmp */
    unsigned char *volatile raw = NULL, *volatile pixels = NULL;
    png_bytepp volatile rows = NULL;
    volatile nne_status st = NNE_OK;
    if (!info) {
        png_destroy_read_struct(&png, NULL, NULL);
        return io_error(NNE_ERR_OUT_OF_MEMORY, "image decode: libpng could not start");
    }
    if (setjmp(err.jump)) {
        png_destroy_read_struct(&png, &info, NULL);
        free(raw), free(pixels), free(rows);
        if (st != NNE_OK) return st;
        return io_error(NNE_ERR_INVALID_ARG, "image decode: corrupt PNG: %s", err.msg);
    }
    png_set_read_fn(png, &src, png_read_mem);
    /* ancillary chunks of hostile files: at most 8 MB each (decompressed
     * text included), 1000 in all; the chunks nothing here uses are skipped
     * without being buffered or inflated */
    png_set_chunk_malloc_max(png, 8u << 20);
    png_set_chunk_cache_max(png, 1000);
    static const png_byte skip[] = "tEXt\0zTXt\0iTXt\0iCCP\0sPLT\0eXIf\0tIME\0pCAL\0sCAL\0hIST\0oFFs\0pHYs\0";
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, skip, (int)(sizeof skip / 5));
    png_read_info(png, info);
    png_uint_32 w = png_get_image_width(png, info), h = png_get_image_height(png, info);
    if ((st = check_size("PNG", w, h, max_pixels)) != NNE_OK) longjmp(err.jump, 1);
    png_set_expand(png);
    png_set_scale_16(png);
    png_set_interlace_handling(png);
    png_read_update_info(png, info);
    int from = png_get_channels(png, info);
    if (from < 1 || from > 4 || png_get_bit_depth(png, info) != 8) {
        snprintf(err.msg, sizeof err.msg, "libpng gives %d channels of %d bits", from, png_get_bit_depth(png, info));
        longjmp(err.jump, 1);
    }
    int32_t want = channels ? channels : (from == 1 ? 1 : from == 3 ? 3 : 4);
    size_t stride = (size_t)w * (size_t)from;
    raw = malloc(stride * h);
    rows = malloc(sizeof(png_bytep) * h);
    pixels = malloc((size_t)w * h * (size_t)want);
    if (!raw || !rows || !pixels) {
        st = io_error(NNE_ERR_OUT_OF_MEMORY, "image decode: no memory for a %ux%u image", (unsigned)w, (unsigned)h);
        longjmp(err.jump, 1);
    }
    for (png_uint_32 y = 0; y < h; y++) rows[y] = raw + stride * y;
    png_read_image(png, rows);
    png_read_end(png, NULL);
    convert_channels(raw, from, pixels, want, (size_t)w * h);
    *out = (nne_image){(int32_t)w, (int32_t)h, want, NNE_DTYPE_UINT8, pixels};
    png_destroy_read_struct(&png, &info, NULL);
    free(raw), free(rows);
    return NNE_OK;
}

/* ------------------------------------------------------------------ API -- */

nne_status nne_image_decode_memory(const void *data, size_t size, int32_t channels, int64_t max_pixels,
                                   nne_image *out) {
    if (!out) return io_error(NNE_ERR_INVALID_ARG, "image decode: out is NULL");
    memset(out, 0, sizeof *out);
    if (!data && size) return io_error(NNE_ERR_INVALID_ARG, "image decode: data is NULL");
    if (channels != 0 && channels != 1 && channels != 3 && channels != 4)
        return io_error(NNE_ERR_INVALID_ARG, "image decode: channels %d; expected 0 (as stored), 1, 3 or 4",
                         (int)channels);
    const unsigned char *p = data;
    if (size == 0) return io_error(NNE_ERR_INVALID_ARG, "image decode: the image is empty (0 bytes)");
    if (size >= 3 && p[0] == 0xFF && p[1] == 0xD8 && p[2] == 0xFF) return decode_jpeg(p, size, channels, max_pixels, out);
    static const unsigned char png_sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    if (size >= 8 && !memcmp(p, png_sig, 8)) return decode_png(p, size, channels, max_pixels, out);
    return io_error(NNE_ERR_INVALID_ARG, "image decode: %zu bytes that are neither JPEG (FF D8 FF) nor PNG "
                     "(89 50 4E 47 0D 0A 1A 0A); convert the image to one of them", size);
}

nne_status nne_image_decode_file(const char *path, int32_t channels, int64_t max_pixels, nne_image *out) {
    if (!path || !out) return io_error(NNE_ERR_INVALID_ARG, "image decode: path or out is NULL");
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return io_error(NNE_ERR_IO, "image decode: cannot open \"%s\": %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            size_t nc = cap ? cap * 2 : 65536;
            if (nc > ((size_t)1 << 31)) {
                free(buf);
                fclose(f);
                return io_error(NNE_ERR_LIMIT, "image decode: \"%s\" is over 2 GiB", path);
            }
            unsigned char *nb = realloc(buf, nc);
            if (!nb) {
                free(buf);
                fclose(f);
                return io_error(NNE_ERR_OUT_OF_MEMORY, "image decode: no memory to read \"%s\"", path);
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
        return io_error(NNE_ERR_IO, "image decode: cannot read \"%s\"", path);
    }
    nne_status st = nne_image_decode_memory(buf, n, channels, max_pixels, out);
    free(buf);
    if (st != NNE_OK) io_error_prefix(path);
    return st;
}
