/*
 * audio_file.c - audio files (include/nnedge_audio.h; in libnnedge_io and the
 * nnedge command):
 * libsndfile decodes blocks of frames, they are averaged to mono and, when
 * the file's rate differs from the one asked for, resampled with
 * libsamplerate's streaming API. Buffers are a few blocks long whatever the
 * file's length. Tools side: this file depends on no libnnedge function
 * (only nnedge.h's status values), so it links in any order.
 */
#include "nnedge_audio.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <samplerate.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 4096        /* frames read from the file at a time */
#define OUT_BLOCK 8192    /* resampled samples produced at a time */
#define MAX_CHANNELS 256
#define MAX_RATE 1536000

struct nne_audio_reader {
    SNDFILE *sf;
    int fd;                    /* the file's descriptor (-1: memory), closed after sf_close */
    SF_INFO info;
    /* memory source */
    const unsigned char *mem;
    sf_count_t mem_size, mem_pos;
    /* decoding */
    float *inter;              /* BLOCK * channels interleaved */
    float *mono;               /* BLOCK */
    int64_t mono_len, mono_pos; /* samples in mono, next one to use */
    int eof;
    int64_t frame;             /* frames decoded so far (for messages) */
    /* resampling */
    SRC_STATE *src;
    double ratio;
    float *out;                /* OUT_BLOCK */
    int64_t out_len, out_pos;
    int done;
};

static void set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t cap, const char *fmt, ...) {
    if (!err || !cap) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, cap, fmt, ap);
    va_end(ap);
}

/* ---- libsndfile virtual I/O on a memory buffer ---- */
static sf_count_t vio_len(void *u) { return ((nne_audio_reader *)u)->mem_size; }
static sf_count_t vio_seek(sf_count_t off, int whence, void *u) {
    nne_audio_reader *r = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? r->mem_pos : r->mem_size;
    /* saturate instead of overflowing on a hostile offset */
    sf_count_t pos;
    if (__builtin_add_overflow(base, off, &pos) || pos < 0) return -1;
    r->mem_pos = pos;
    return pos;
}
static sf_count_t vio_read(void *ptr, sf_count_t count, void *u) {
    nne_audio_reader *r = u;
    if (count <= 0 || r->mem_pos >= r->mem_size) return 0;
    sf_count_t n = r->mem_size - r->mem_pos;
    if (count < n) n = count;
    memcpy(ptr, r->mem + r->mem_pos, (size_t)n);
    r->mem_pos += n;
    return n;
}
static sf_count_t vio_write(const void *ptr, sf_count_t count, void *u) { return 0; }
static sf_count_t vio_tell(void *u) { return ((nne_audio_reader *)u)->mem_pos; }

void nne_audio_reader_close(nne_audio_reader *r) {
    if (!r) return;
    if (r->sf) sf_close(r->sf);
    if (r->fd >= 0) close(r->fd);
    if (r->src) src_delete(r->src);
    free(r->inter);
    free(r->mono);
    free(r->out);
    free(r);
}

/* After sf_open*: check the header, allocate the blocks, set up resampling. */
static nne_status finish_open(nne_audio_reader *r, const char *name, int32_t rate, nne_audio_reader **out, char *err,
                              size_t errcap) {
    if (!r->sf) {
        set_err(err, errcap, "%s: not an audio file libsndfile can read (%s)", name, sf_strerror(NULL));
        nne_audio_reader_close(r);
        return NNE_ERR_CORRUPT_MODEL;
    }
    if (r->info.channels < 1 || r->info.channels > MAX_CHANNELS || r->info.samplerate < 1 ||
        r->info.samplerate > MAX_RATE) {
        set_err(err, errcap, "%s: %d channels at %d Hz; expected 1..%d channels and 1..%d Hz", name,
                r->info.channels, r->info.samplerate, MAX_CHANNELS, MAX_RATE);
        nne_audio_reader_close(r);
        return NNE_ERR_CORRUPT_MODEL;
    }
    /* full scale 1.0 for integer formats (libsndfile's default, made explicit) */
    sf_command(r->sf, SFC_SET_NORM_FLOAT, NULL, SF_TRUE);
    r->inter = malloc(sizeof(float) * BLOCK * (size_t)r->info.channels);
    r->mono = malloc(sizeof(float) * BLOCK);
    if (!r->inter || !r->mono) {
        set_err(err, errcap, "%s: out of memory", name);
        nne_audio_reader_close(r);
        return NNE_ERR_OUT_OF_MEMORY;
    }
    if (rate > 0 && rate != r->info.samplerate) {
        r->ratio = (double)rate / r->info.samplerate;
        if (!src_is_valid_ratio(r->ratio)) {
            set_err(err, errcap, "%s: cannot resample %d Hz to %d Hz (libsamplerate takes ratios 1/256..256)", name,
                    r->info.samplerate, (int)rate);
            nne_audio_reader_close(r);
            return NNE_ERR_UNSUPPORTED;
        }
        int e = 0;
        r->src = src_new(SRC_SINC_MEDIUM_QUALITY, 1, &e);
        r->out = malloc(sizeof(float) * OUT_BLOCK);
        if (!r->src || !r->out) {
            set_err(err, errcap, "%s: resampler: %s", name, r->src ? "out of memory" : src_strerror(e));
            nne_audio_reader_close(r);
            return NNE_ERR_OUT_OF_MEMORY;
        }
    }
    *out = r;
    return NNE_OK;
}

nne_status nne_audio_reader_open_file(const char *path, int32_t rate, nne_audio_reader **out, char *err,
                                      size_t errcap) {
    if (!out || !path) {
        set_err(err, errcap, "audio: NULL argument");
        return NNE_ERR_INVALID_ARG;
    }
    *out = NULL;
    /* O_NONBLOCK: a FIFO is refused below, never waited on */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        set_err(err, errcap, "%s: cannot open: %s", path, strerror(errno));
        return NNE_ERR_IO;
    }
    struct stat stt;
    if (fstat(fd, &stt) != 0 || !S_ISREG(stt.st_mode)) {
        set_err(err, errcap, "%s: not a regular file", path);
        close(fd);
        return NNE_ERR_IO;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0) fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    nne_audio_reader *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        set_err(err, errcap, "%s: out of memory", path);
        return NNE_ERR_OUT_OF_MEMORY;
    }
    /* close_desc false: the descriptor is ours on every path (libsndfile
     * closes it itself on some failures when asked to own it) */
    r->fd = fd;
    r->sf = sf_open_fd(fd, SFM_READ, &r->info, SF_FALSE);
    return finish_open(r, path, rate, out, err, errcap);
}

nne_status nne_audio_reader_open_memory(const void *data, size_t size, int32_t rate, nne_audio_reader **out,
                                        char *err, size_t errcap) {
    if (!out || (!data && size)) {
        set_err(err, errcap, "audio: NULL argument");
        return NNE_ERR_INVALID_ARG;
    }
    *out = NULL;
    nne_audio_reader *r = calloc(1, sizeof *r);
    if (!r) {
        set_err(err, errcap, "audio: out of memory");
        return NNE_ERR_OUT_OF_MEMORY;
    }
    r->fd = -1;
    r->mem = data;
    r->mem_size = (sf_count_t)size;
    SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
    r->sf = sf_open_virtual(&vio, SFM_READ, &r->info, r);
    return finish_open(r, "audio", rate, out, err, errcap);
}

void nne_audio_reader_info(const nne_audio_reader *r, nne_audio_file_info *info) {
    if (!r || !info) return;
    info->sample_rate = r->info.samplerate;
    info->channels = r->info.channels;
    info->frames = r->info.frames;
    info->format = r->info.format;
}

/* Decode the next block into r->mono (r->eof at the end). */
static nne_status decode_block(nne_audio_reader *r, char *err, size_t errcap) {
    int ch = r->info.channels;
    sf_count_t got = sf_readf_float(r->sf, r->inter, BLOCK);
    if (got < 0) got = 0;
    if (got == 0) {
        /* a decoding error mid-file is an error; a plain end is not */
        int e = sf_error(r->sf);
        if (e != SF_ERR_NO_ERROR) {
            set_err(err, errcap, "audio: decoding failed after %lld frames: %s", (long long)r->frame, sf_strerror(r->sf));
            return NNE_ERR_CORRUPT_MODEL;
        }
        r->eof = 1;
    }
    for (sf_count_t i = 0; i < got; i++) {
        double acc = 0;
        for (int c = 0; c < ch; c++) {
            float v = r->inter[i * ch + c];
            if (!isfinite(v)) {
                set_err(err, errcap, "audio: sample %lld of channel %d is not a finite number", (long long)(r->frame + i),
                        c);
                return NNE_ERR_CORRUPT_MODEL;
            }
            acc += v;
        }
        r->mono[i] = (float)(acc / ch);
    }
    r->frame += got;
    r->mono_len = got;
    r->mono_pos = 0;
    return NNE_OK;
}

nne_status nne_audio_reader_read(nne_audio_reader *r, float *out, int64_t cap, int64_t *got, char *err,
                                 size_t errcap) {
    *got = 0;
    if (!r || (!out && cap > 0) || cap < 0) {
        set_err(err, errcap, "audio: bad read arguments");
        return NNE_ERR_INVALID_ARG;
    }
    int64_t n = 0;
    while (n < cap && !r->done) {
        if (!r->src) {
            if (r->mono_pos == r->mono_len) {
                if (r->eof) {
                    r->done = 1;
                    break;
                }
                nne_status st = decode_block(r, err, errcap);
                if (st != NNE_OK) return st;
                continue;
            }
            int64_t k = r->mono_len - r->mono_pos;
            if (k > cap - n) k = cap - n;
            memcpy(out + n, r->mono + r->mono_pos, (size_t)k * sizeof(float));
            r->mono_pos += k;
            n += k;
            continue;
        }
        if (r->out_pos < r->out_len) {
            int64_t k = r->out_len - r->out_pos;
            if (k > cap - n) k = cap - n;
            memcpy(out + n, r->out + r->out_pos, (size_t)k * sizeof(float));
            r->out_pos += k;
            n += k;
            continue;
        }
        if (r->mono_pos == r->mono_len && !r->eof) {
            nne_status st = decode_block(r, err, errcap);
            if (st != NNE_OK) return st;
            continue;
        }
        SRC_DATA d = {
            .data_in = r->mono + r->mono_pos,
            .input_frames = (long)(r->mono_len - r->mono_pos),
            .data_out = r->out,
            .output_frames = OUT_BLOCK,
            .end_of_input = r->eof,
            .src_ratio = r->ratio,
        };
        int e = src_process(r->src, &d);
        if (e) {
            set_err(err, errcap, "audio: resampling failed: %s", src_strerror(e));
            return NNE_ERR_INTERNAL;
        }
        r->mono_pos += d.input_frames_used;
        r->out_len = d.output_frames_gen;
        r->out_pos = 0;
        if (r->eof && d.output_frames_gen == 0 && r->mono_pos == r->mono_len) r->done = 1;
    }
    *got = n;
    return NNE_OK;
}

void nne_audio_to_int16(const float *x, int64_t n, int16_t *out) {
    for (int64_t i = 0; i < n; i++) {
        float v = x[i] * 32768.0f;
        if (!(v > -32768.0f)) v = -32768.0f; /* and NaN, which the reader refuses anyway */
        if (v > 32767.0f) v = 32767.0f;
        out[i] = (int16_t)lrintf(v);
    }
}
