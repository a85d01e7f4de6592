/*
 * nnedge_audio.h - reading audio files into mono float samples at the rate a
 * model wants (libsndfile decodes, libsamplerate resamples). A reader
 * streams: it holds a few blocks of samples whatever the file's length, so a
 * stream of any length is read in constant memory.
 *
 * Like nnedge_image.h this is libnnedge_io, not libnnedge (which links
 * neither library); `make install` installs both with nnedge-io.pc:
 *
 *   cc app.c $(pkg-config --cflags --libs nnedge-io)
 *
 *   nne_audio_reader *r;
 *   char err[256];
 *   if (nne_audio_reader_open_file("speech.wav", 16000, &r, err, sizeof err) != NNE_OK) ...
 *   float buf[1280];
 *   int64_t got;
 *   while (nne_audio_reader_read(r, buf, 1280, &got, err, sizeof err) == NNE_OK && got > 0)
 *       ...   (nne_logmel_run, nne_wakeword_step of nnedge.h)
 *   nne_audio_reader_close(r);
 *
 * Errors: a status and a one-line message in the caller's err buffer (these
 * functions do not touch nne_last_error()). A reader is used by one thread
 * at a time; different readers are independent.
 */
#ifndef NNEDGE_AUDIO_H
#define NNEDGE_AUDIO_H

#include "nnedge.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct nne_audio_reader nne_audio_reader;

/* What the file holds (before downmixing and resampling). */
typedef struct nne_audio_file_info {
    int32_t sample_rate; /* Hz */
    int32_t channels;
    int64_t frames;      /* samples per channel the header announces */
    int32_t format;      /* libsndfile's SF_FORMAT_* major|subtype */
} nne_audio_file_info;

/* Open an audio file: WAV (RIFF, RIFX, RF64/BW64; PCM 8/16/24/32-bit,
 * float, double, A-law, mu-law, IMA/MS ADPCM, GSM), AIFF/AIFC, AU, FLAC,
 * Ogg (Vorbis, Opus) or MP3, decoded by libsndfile. The container is
 * sniffed here and others are refused; the chunks of a WAV or AIFF file
 * are checked and only its format and audio data reach libsndfile (its
 * metadata parsers hang on some hostile files).
 * Samples come out as mono floats (channels averaged; full scale 1.0) at
 * `rate` Hz (resampled with libsamplerate's SRC_SINC_MEDIUM_QUALITY when the
 * file's rate differs; rate <= 0 keeps the file's rate). Only regular files
 * are opened (a FIFO or device is refused, never waited on).
 * NNE_ERR_IO: cannot open; NNE_ERR_CORRUPT_MODEL: not an audio file
 * of those, a malformed WAV or AIFF chunk list, or a header out of range (channels 1..256, rate
 * 1..1536000 Hz). `err` (errcap bytes) gets a one-line message. */
NNE_API nne_status nne_audio_reader_open_file(const char *path, int32_t rate, nne_audio_reader **out, char *err,
                                              size_t errcap);
/* The same on bytes in memory (the caller keeps them alive until close). */
NNE_API nne_status nne_audio_reader_open_memory(const void *data, size_t size, int32_t rate, nne_audio_reader **out,
                                                char *err, size_t errcap);
/* Up to cap samples into out (OUT); *got = 0 at the end of the file.
 * NNE_ERR_CORRUPT_MODEL on a decoding error or a sample that is not a
 * finite number (message in err). */
NNE_API nne_status nne_audio_reader_read(nne_audio_reader *r, float *out, int64_t cap, int64_t *got, char *err,
                                         size_t errcap);
NNE_API void nne_audio_reader_info(const nne_audio_reader *r, nne_audio_file_info *info);
NNE_API void nne_audio_reader_close(nne_audio_reader *r);

/* Full-scale floats to int16 scale as a 16-bit PCM file would hold them:
 * round to nearest, clip to -32768..32767. */
NNE_API void nne_audio_to_int16(const float *x, int64_t n, int16_t *out);

#ifdef __cplusplus
}
#endif
#endif /* NNEDGE_AUDIO_H */
