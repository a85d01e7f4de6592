/*
 * nnedge_image.h - decoding JPEG and PNG files into nne_image (nnedge.h).
 *
 * This part of the API needs libjpeg(-turbo) and libpng, so it is not in
 * libnnedge (which needs only libc, libm and pthreads): it is libnnedge_io
 * (with nnedge_audio.h's audio reader; src/pipeline/io/ and
 * src/pipeline/audio_file.c), which `make install` installs next to libnnedge
 * with its pkg-config file nnedge-io.pc:
 *
 *   cc app.c $(pkg-config --cflags --libs nnedge-io)              shared
 *   cc app.c $(pkg-config --static --cflags --libs nnedge-io)     static
 *   cc app.c build/libnnedge_io.a build/libnnedge.a -ljpeg -lpng      from the
 *      -lsndfile -lsamplerate -lm -pthread                        build tree
 *
 * The rest of the image pipeline (nne_image_resize, nne_image_crop,
 * nne_image_to_tensor, ...) is in nnedge.h and libnnedge.
 *
 *   nne_image im;
 *   if (nne_image_decode_file("cat.jpg", 3, 0, &im) != NNE_OK)
 *       fprintf(stderr, "%s\n", nne_last_error());
 *   ...
 *   nne_image_free(&im);
 *
 * Errors are reported as everywhere in nnedge: a status, and the message in
 * nne_last_error(). Every function is thread-safe.
 */
#ifndef NNEDGE_IMAGE_H
#define NNEDGE_IMAGE_H

#include "nnedge.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Default pixel limit of the decoders (max_pixels = 0): 64 Mpixels. */
#define NNE_IMAGE_DEFAULT_MAX_PIXELS (64LL * 1024 * 1024)

/* Decode a JPEG (baseline or progressive; grayscale, YCbCr or RGB) or a PNG
 * (any bit depth and color type; 16-bit samples are scaled to 8 bits, palette
 * expanded) held in memory, chosen by the file's signature, into an 8-bit
 * image. channels: 0 keeps the file's (1 for gray, 3 for color, 4 when a PNG
 * has alpha), or 1 (gray), 3 (RGB) or 4 (RGBA) to convert; a dropped PNG alpha
 * channel is composited onto white. An image with more than max_pixels pixels (0: the
 * default above) is refused before anything is allocated for it. On success
 * out->data is malloc'd, freed with nne_image_free. Statuses:
 * NNE_ERR_INVALID_ARG (bad arguments, data that is neither JPEG nor PNG, a
 * corrupt or truncated file: the message says which and what the codec
 * said), NNE_ERR_UNSUPPORTED (a JPEG color space such as CMYK),
 * NNE_ERR_LIMIT (over max_pixels), NNE_ERR_OUT_OF_MEMORY. */
NNE_API nne_status nne_image_decode_memory(const void *data, size_t size, int32_t channels, int64_t max_pixels,
                                           nne_image *out);
/* The same for a file (NNE_ERR_IO when it cannot be read). */
NNE_API nne_status nne_image_decode_file(const char *path, int32_t channels, int64_t max_pixels, nne_image *out);

/* Allocate an image (data zeroed); NNE_ERR_INVALID_ARG for bad sizes or
 * dtype, NNE_ERR_OUT_OF_MEMORY. Free with nne_image_free. */
NNE_API nne_status nne_image_alloc(int32_t width, int32_t height, int32_t channels, nne_dtype dtype, nne_image *out);
/* Free the data of an image from this header's functions and clear it;
 * NULL or an empty image does nothing. */
NNE_API void nne_image_free(nne_image *im);

#ifdef __cplusplus
}
#endif
#endif /* NNEDGE_IMAGE_H */
