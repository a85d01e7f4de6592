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
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BLOCK 4096        /* frames read from the file at a time */
#define OUT_BLOCK 8192    /* resampled samples produced at a time */
#define MAX_CHANNELS 256
#define MAX_RATE 1536000
#define FMT_MAX 1024      /* bytes of a WAV 'fmt ' chunk (WAVEFORMATEXTENSIBLE: 40; MS ADPCM: 50 + 4 per extra coefficient) */
#define FACT_MAX 64
#define HDR_MAX (12 + 36 + 8 + FMT_MAX + 8 + FACT_MAX + 8)
#define MAX_CHUNKS 65536  /* WAV chunks before the audio data */

struct nne_audio_reader {
    SNDFILE *sf;
    int fd;                    /* the file's descriptor (-1: memory), closed after sf_close */
    SF_INFO info;
    /* the source: bytes in memory, or a regular file read with pread */
    const unsigned char *mem;
    int64_t src_size;
    /* what libsndfile sees (see "The bytes libsndfile sees"): hdr_len bytes
     * of hdr, then the source's bytes [body_off, body_off + body_len) */
    unsigned char hdr[HDR_MAX];
    int64_t hdr_len, body_off, body_len, pos;
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

/* ---- The bytes libsndfile sees ----
 * libsndfile's parsers for the metadata inside WAV files (LIST/INFO, cue,
 * smpl, acid, bext, PEAK...) are where hostile files hurt: Debian's 1.2.0
 * loops for ever in sf_open on a 100-byte WAV whose INFO chunk holds a
 * sub-chunk size that wraps its 32-bit arithmetic into a backward jump
 * (found by fuzz_wav; libsndfile issue 1118). Audio needs none of that
 * metadata, so a WAV file (RIFF, RIFX, RF64/BW64) is walked here, chunk by
 * chunk with 64-bit arithmetic, and libsndfile is shown a header made of
 * the file's 'fmt ' chunk (and 'fact', if any) and a 'data' chunk that maps
 * to the file's audio bytes (an RF64 header with 'ds64' for RF64 files and
 * for data over 4 GiB): nothing else of the file reaches libsndfile.
 * AIFF gets the same treatment ('COMM', 'SSND'). Other containers are
 * passed through as they are, and only those this reader is meant for
 * (AU, FLAC, Ogg, MP3): the sniffing happens here,
 * not in libsndfile's guesser, so the rarely used formats it also parses
 * (PAF, IRCAM, VOC, MAT, SD2, ...) never see a byte. */
static int64_t src_read(nne_audio_reader *r, int64_t off, void *buf, int64_t n) {
    if (off < 0 || off >= r->src_size || n <= 0) return 0;
    if (n > r->src_size - off) n = r->src_size - off;
    if (r->mem) {
        memcpy(buf, r->mem + off, (size_t)n);
        return n;
    }
    int64_t done = 0;
    while (done < n) {
        ssize_t k = pread(r->fd, (char *)buf + done, (size_t)(n - done), (off_t)(off + done));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        done += k;
    }
    return done;
}

static sf_count_t vio_len(void *u) {
    nne_audio_reader *r = u;
    return r->hdr_len + r->body_len;
}
static sf_count_t vio_seek(sf_count_t off, int whence, void *u) {
    nne_audio_reader *r = u;
    sf_count_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? r->pos : vio_len(u);
    sf_count_t pos;
    if (__builtin_add_overflow(base, off, &pos) || pos < 0) return -1;
    r->pos = pos;
    return pos;
}
static sf_count_t vio_read(void *ptr, sf_count_t count, void *u) {
    nne_audio_reader *r = u;
    sf_count_t n = 0;
    while (n < count && r->pos < vio_len(u)) {
        int64_t k;
        if (r->pos < r->hdr_len) {
            k = r->hdr_len - r->pos;
            if (k > count - n) k = count - n;
            memcpy((char *)ptr + n, r->hdr + r->pos, (size_t)k);
        } else {
            int64_t at = r->pos - r->hdr_len, left = r->body_len - at;
            k = src_read(r, r->body_off + at, (char *)ptr + n, left < count - n ? left : count - n);
            if (k <= 0) break;
        }
        r->pos += k;
        n += k;
    }
    return n;
}
static sf_count_t vio_write(const void *ptr, sf_count_t count, void *u) { return 0; }
static sf_count_t vio_tell(void *u) { return ((nne_audio_reader *)u)->pos; }

static uint32_t get32(const unsigned char *p, int le) {
    return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
              : (uint32_t)p[3] | (uint32_t)p[2] << 8 | (uint32_t)p[1] << 16 | (uint32_t)p[0] << 24;
}
static void put32(unsigned char *p, uint32_t v, int le) {
    for (int i = 0; i < 4; i++) p[le ? i : 3 - i] = (unsigned char)(v >> (8 * i));
}
static void put_chunk(nne_audio_reader *r, const char *id, uint32_t size, int le) {
    memcpy(r->hdr + r->hdr_len, id, 4);
    put32(r->hdr + r->hdr_len + 4, size, le);
    r->hdr_len += 8;
}

/* A chunk of the rebuilt header: id, size (made even), body, a zero pad
 * byte when the body's length is odd. */
static void put_chunk_body(nne_audio_reader *r, const char *id, const unsigned char *body, int64_t len, int le) {
    int64_t pad = len & 1;
    put_chunk(r, id, (uint32_t)(len + pad), le);
    memcpy(r->hdr + r->hdr_len, body, (size_t)len);
    if (pad) r->hdr[r->hdr_len + len] = 0;
    r->hdr_len += len + pad;
}

/* A chunk id for messages: printable, or hex. */
static const char *chunk_name(const unsigned char *id, char *buf) {
    int printable = 1;
    for (int i = 0; i < 4; i++) printable &= id[i] >= 0x20 && id[i] < 0x7f && id[i] != '\'';
    if (printable)
        snprintf(buf, 16, "'%.4s'", (const char *)id);
    else
        snprintf(buf, 16, "0x%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
    return buf;
}

#define BAD(...) (set_err(err, errcap, __VA_ARGS__), NNE_ERR_CORRUPT_MODEL)

/* WAV (RIFF/RIFX/RF64/BW64 + WAVE): the walk and the header described above. */
static nne_status normalize_wav(nne_audio_reader *r, const unsigned char *head, const char *name, char *err,
                                size_t errcap) {
    int le = memcmp(head, "RIFX", 4) != 0, rf64 = !memcmp(head, "RF64", 4) || !memcmp(head, "BW64", 4);
    uint32_t riff_size = get32(head + 4, le);
    unsigned char fmt[FMT_MAX], fact[FACT_MAX], ch[8];
    char cn[16];
    int64_t fmt_len = -1, fact_len = -1, data_off = -1, data_len = 0, ds64_data = -1, off = 12;
    for (int n = 0;; n++) {
        if (n == MAX_CHUNKS) return BAD("%s: not an audio file nnedge reads: more than %d chunks before the audio data", name, MAX_CHUNKS);
        if (src_read(r, off, ch, 8) != 8)
            return BAD("%s: not an audio file nnedge reads: a WAV file without %s (the chunks end at byte %lld)", name,
                       fmt_len < 0 ? "a 'fmt ' chunk" : "a 'data' chunk", (long long)off);
        uint32_t size = get32(ch + 4, le);
        int64_t body = off + 8, left = r->src_size - body;
        if (!memcmp(ch, "data", 4)) {
            if (fmt_len < 0) return BAD("%s: not an audio file nnedge reads: WAV 'data' chunk before the 'fmt ' chunk", name);
            data_off = body;
            /* RF64: the real size is in ds64; 0xffffffff (and 0 in a header
             * never finished: RIFF size 0 or 8) means up to the end */
            if (rf64 && size == 0xffffffffu && ds64_data >= 0)
                data_len = ds64_data;
            else if (size == 0xffffffffu || (size == 0 && (riff_size == 0 || riff_size == 8 || riff_size == 0xffffffffu)))
                data_len = left;
            else
                data_len = size;
            if (data_len > left) data_len = left; /* a truncated file: what is there */
            break;
        }
        if (size > left) {
            /* any chunk but 'data' must fit: beyond it nothing can be found */
            return BAD("%s: not an audio file nnedge reads: WAV chunk %s at byte %lld declares %u bytes, %lld are left", name,
                       chunk_name(ch, cn), (long long)off, size, (long long)(left < 0 ? 0 : left));
        }
        if (!memcmp(ch, "fmt ", 4) && fmt_len < 0) {
            if (size < 16 || size > FMT_MAX)
                return BAD("%s: not an audio file nnedge reads: WAV 'fmt ' chunk of %u bytes (16..%d expected)", name, size, FMT_MAX);
            if (src_read(r, body, fmt, size) != size) return BAD("%s: cannot read the 'fmt ' chunk", name);
            fmt_len = size;
        } else if (!memcmp(ch, "fact", 4) && fact_len < 0 && size >= 4 && size <= FACT_MAX) {
            if (src_read(r, body, fact, size) != size) return BAD("%s: cannot read the 'fact' chunk", name);
            fact_len = size;
        } else if (!memcmp(ch, "ds64", 4) && rf64 && size >= 16) {
            unsigned char d[16];
            if (src_read(r, body, d, 16) != 16) return BAD("%s: cannot read the 'ds64' chunk", name);
            uint64_t v = (uint64_t)get32(d + 8, 1) | (uint64_t)get32(d + 12, 1) << 32;
            ds64_data = v > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)v;
        }
        off = body + size + (size & 1);
    }
    /* RF64 in, or over 4 GiB of data: an RF64 header (ds64 holds the sizes) */
    int out64 = rf64 || data_len > (int64_t)UINT32_MAX - HDR_MAX;
    if (out64 && !le)
        return BAD("%s: %lld bytes of audio data: big-endian RIFX data over 4 GiB is not supported", name, (long long)data_len);
    /* the header: RIFF (RIFX, RF64) size WAVE, [ds64], fmt (even size), [fact], data */
    r->hdr_len = 0;
    put_chunk(r, out64 ? "RF64" : le ? "RIFF" : "RIFX", out64 ? 0xffffffffu : 0, le);
    memcpy(r->hdr + 8, "WAVE", 4);
    r->hdr_len = 12;
    int64_t ds64_at = -1;
    if (out64) {
        put_chunk(r, "ds64", 28, 1);
        ds64_at = r->hdr_len;
        memset(r->hdr + r->hdr_len, 0, 28); /* RIFF size, data size, frames (64-bit), table length 0 */
        r->hdr_len += 28;
    }
    put_chunk_body(r, "fmt ", fmt, fmt_len, le);
    if (fact_len > 0) put_chunk_body(r, "fact", fact, fact_len, le);
    put_chunk(r, "data", out64 ? 0xffffffffu : (uint32_t)data_len, le);
    if (out64) {
        uint32_t align = (uint32_t)fmt[12] | (uint32_t)fmt[13] << 8;
        uint64_t v[3] = {(uint64_t)(r->hdr_len - 8 + data_len), (uint64_t)data_len, align ? (uint64_t)data_len / align : 0};
        for (int i = 0; i < 3; i++) {
            put32(r->hdr + ds64_at + 8 * i, (uint32_t)v[i], 1);
            put32(r->hdr + ds64_at + 8 * i + 4, (uint32_t)(v[i] >> 32), 1);
        }
    } else {
        put32(r->hdr + 4, (uint32_t)(r->hdr_len - 8 + data_len), le);
    }
    r->body_off = data_off;
    r->body_len = data_len;
    return NNE_OK;
}

/* AIFF/AIFC (FORM, big-endian chunks in any order): the same, from the
 * 'COMM' chunk (and 'FVER'), with one 'SSND' chunk over the file's sound
 * data (offset and block size 0). */
#define COMM_MAX 256
static nne_status normalize_aiff(nne_audio_reader *r, const unsigned char *head, const char *name, char *err,
                                 size_t errcap) {
    unsigned char comm[COMM_MAX], fver[4], ch[8];
    char cn[16];
    int64_t comm_len = -1, fver_len = -1, data_off = -1, data_len = 0, off = 12;
    for (int n = 0; comm_len < 0 || data_off < 0; n++) {
        if (n == MAX_CHUNKS) return BAD("%s: not an audio file nnedge reads: more than %d AIFF chunks", name, MAX_CHUNKS);
        if (src_read(r, off, ch, 8) != 8)
            return BAD("%s: not an audio file nnedge reads: an AIFF file without %s (the chunks end at byte %lld)", name,
                       comm_len < 0 ? "a 'COMM' chunk" : "an 'SSND' chunk", (long long)off);
        uint32_t size = get32(ch + 4, 0);
        int64_t body = off + 8, left = r->src_size - body;
        if (!memcmp(ch, "SSND", 4) && data_off < 0) {
            unsigned char d[8];
            if (size < 8 || src_read(r, body, d, 8) != 8)
                return BAD("%s: not an audio file nnedge reads: AIFF 'SSND' chunk of %u bytes", name, size);
            uint32_t skip = get32(d, 0);
            int64_t avail = (size > left ? left : (int64_t)size) - 8; /* a truncated file: what is there */
            if (skip > avail) return BAD("%s: not an audio file nnedge reads: AIFF 'SSND' offset %u past its %lld bytes", name, skip, (long long)avail);
            data_off = body + 8 + skip;
            data_len = avail - skip;
            if (size > left) {
                if (comm_len < 0) return BAD("%s: not an audio file nnedge reads: AIFF 'SSND' chunk runs past the end before a 'COMM' chunk", name);
                break;
            }
        } else if (size > left) {
            return BAD("%s: not an audio file nnedge reads: AIFF chunk %s at byte %lld declares %u bytes, %lld are left", name,
                       chunk_name(ch, cn), (long long)off, size, (long long)(left < 0 ? 0 : left));
        } else if (!memcmp(ch, "COMM", 4) && comm_len < 0) {
            if (size < 18 || size > COMM_MAX)
                return BAD("%s: not an audio file nnedge reads: AIFF 'COMM' chunk of %u bytes (18..%d expected)", name, size, COMM_MAX);
            if (src_read(r, body, comm, size) != size) return BAD("%s: cannot read the 'COMM' chunk", name);
            comm_len = size;
        } else if (!memcmp(ch, "FVER", 4) && fver_len < 0 && size == 4) {
            if (src_read(r, body, fver, 4) != 4) return BAD("%s: cannot read the 'FVER' chunk", name);
            fver_len = 4;
        }
        off = body + size + (size & 1);
    }
    if (data_len > (int64_t)UINT32_MAX - HDR_MAX)
        return BAD("%s: %lld bytes of sound data: AIFF data over 4 GiB is not supported", name, (long long)data_len);
    memcpy(r->hdr, head, 12); /* FORM, size (set below), AIFF or AIFC */
    r->hdr_len = 12;
    if (fver_len > 0) put_chunk_body(r, "FVER", fver, 4, 0);
    put_chunk_body(r, "COMM", comm, comm_len, 0);
    put_chunk(r, "SSND", (uint32_t)(8 + data_len), 0);
    memset(r->hdr + r->hdr_len, 0, 8);
    r->hdr_len += 8;
    put32(r->hdr + 4, (uint32_t)(r->hdr_len - 8 + data_len), 0);
    r->body_off = data_off;
    r->body_len = data_len;
    return NNE_OK;
}

/* Sniff the container; WAV and AIFF get their header rebuilt, the others
 * listed pass as they are, anything else is refused. */
static nne_status prepare_source(nne_audio_reader *r, const char *name, char *err, size_t errcap) {
    unsigned char h[16] = {0};
    int64_t n = src_read(r, 0, h, sizeof h);
    r->hdr_len = 0;
    r->body_off = 0;
    r->body_len = r->src_size;
    if (n >= 12 && (!memcmp(h, "RIFF", 4) || !memcmp(h, "RIFX", 4) || !memcmp(h, "RF64", 4) || !memcmp(h, "BW64", 4)) &&
        !memcmp(h + 8, "WAVE", 4))
        return normalize_wav(r, h, name, err, errcap);
    if (n >= 12 && !memcmp(h, "FORM", 4) && (!memcmp(h + 8, "AIFF", 4) || !memcmp(h + 8, "AIFC", 4)))
        return normalize_aiff(r, h, name, err, errcap);
    /* ID3v2 tags (before MP3 or FLAC): skipped by libsndfile too; what
     * follows them must be one of the two */
    int64_t at = 0;
    for (int tags = 0; n >= 10 && !memcmp(h, "ID3", 3); tags++) {
        if (tags == 8 || (h[6] | h[7] | h[8] | h[9]) & 0x80) return BAD("%s: not an audio file nnedge reads: bad ID3 tags", name);
        at += 10 + ((int64_t)h[6] << 21 | (int64_t)h[7] << 14 | (int64_t)h[8] << 7 | h[9]) + (h[5] & 0x10 ? 10 : 0);
        memset(h, 0, sizeof h);
        n = src_read(r, at, h, sizeof h);
        if (n < 4 || !(!memcmp(h, "fLaC", 4) || !memcmp(h, "ID3", 3) || (h[0] == 0xff && (h[1] & 0xe0) == 0xe0)))
            return BAD("%s: not an audio file nnedge reads: ID3 tags followed by neither MP3 nor FLAC", name);
    }
    int ok = n >= 4 && (!memcmp(h, "fLaC", 4) || !memcmp(h, "OggS", 4) || !memcmp(h, ".snd", 4) ||
                        (h[0] == 0xff && (h[1] & 0xe0) == 0xe0));
    if (!ok)
        return BAD("%s: not an audio file nnedge reads (WAV, RF64, AIFF, AU, FLAC, Ogg or MP3; %lld bytes)", name,
                   (long long)r->src_size);
    return NNE_OK;
}

/* Open the prepared source with libsndfile. */
static void open_view(nne_audio_reader *r) {
    SF_VIRTUAL_IO vio = {vio_len, vio_seek, vio_read, vio_write, vio_tell};
    r->pos = 0;
    r->sf = sf_open_virtual(&vio, SFM_READ, &r->info, r);
}

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
    /* the descriptor is ours on every path: libsndfile reads it through
     * the virtual I/O below */
    r->fd = fd;
    r->src_size = (int64_t)stt.st_size;
    nne_status st = prepare_source(r, path, err, errcap);
    if (st != NNE_OK) {
        nne_audio_reader_close(r);
        return st;
    }
    open_view(r);
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
    r->src_size = (int64_t)size;
    nne_status st = prepare_source(r, "audio", err, errcap);
    if (st != NNE_OK) {
        nne_audio_reader_close(r);
        return st;
    }
    open_view(r);
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
