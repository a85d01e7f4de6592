/*
 * fuzz_wav.c - libFuzzer harness for the audio path of `nnedge app wakeword`:
 * bytes -> nne_audio_reader_open_memory (the container sniffed, a WAV
 * file's chunks walked and its header rebuilt, then libsndfile: WAV,
 * AIFF, AU, FLAC, Ogg, MP3) -> mono -> libsamplerate to 16 kHz -> int16 in 80 ms chunks -> log-mel
 * (openWakeWord's parameters) of the first and the last whole chunk. Errors
 * must be documented statuses with a one-line message; nothing may crash or
 * leak. At most 2^14 output samples (about 1 s) are read and converted per
 * input, so a header announcing hours of audio stays fast. The log-mel runs
 * on two chunks, not all twelve: its work does not depend on the samples
 * (int16-range values, fixed sizes), and on every chunk it took most of the
 * harness's time. (build-fuzz/obj/src/pipeline/audio_mel.o is built without
 * comparison tracing, see fuzz.mk.)
 * (libsndfile itself is not instrumented: coverage guides through our code;
 * ASan still checks every buffer we hand it. Run it with -timeout: its one
 * finding so far was a hang inside libsndfile, see audio_file.c.)
 */
#include "fuzz_common.h"
#include "nnedge_audio.h"

#define CHUNK 1280
#define MAX_SAMPLES (1 << 14)

static void check_msg(nne_status st, const char *err) {
    if (st == NNE_ERR_INTERNAL || st < NNE_ERR_INVALID_ARG || st > NNE_ERR_IO) {
        fprintf(stderr, "fuzz_wav: status %d: %s\n", (int)st, err);
        abort();
    }
    if (!err[0] || strchr(err, '\n')) {
        fprintf(stderr, "fuzz_wav: status %d with a message that is empty or not one line: \"%s\"\n", (int)st, err);
        abort();
    }
}

/* Log-mel of one chunk (int16 scale): 5 frames, no NaN (finite audio). */
static void check_mel(nne_logmel *lm, const float *chunk) {
    float mel[32 * 8];
    int64_t nf = 0;
    if (nne_logmel_run(lm, chunk, CHUNK, mel, 8, &nf) != NNE_OK || nf != 5) abort();
    for (int i = 0; i < 5 * 32; i++)
        if (!(mel[i] == mel[i])) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static nne_logmel *lm;
    if (!lm) {
        nne_logmel_params p = nne_logmel_params_openwakeword();
        if (nne_logmel_create(&p, &lm) != NNE_OK) abort();
    }
    char err[512] = "";
    nne_audio_reader *r = NULL;
    nne_status st = nne_audio_reader_open_memory(data, size, 16000, &r, err, sizeof err);
    if (st != NNE_OK) {
        if (r) abort();
        check_msg(st, err);
        return 0;
    }
    float buf[CHUNK], last[CHUNK];
    int16_t pcm[CHUNK];
    int64_t total = 0, fill = 0, chunks = 0;
    while (total < MAX_SAMPLES) {
        int64_t got = 0;
        err[0] = 0;
        st = nne_audio_reader_read(r, buf + fill, CHUNK - fill, &got, err, sizeof err);
        if (st != NNE_OK) {
            check_msg(st, err);
            break;
        }
        if (got == 0) break;
        if (got < 0 || got > CHUNK - fill) abort();
        total += got;
        fill += got;
        if (fill < CHUNK) continue;
        fill = 0;
        nne_audio_to_int16(buf, CHUNK, pcm);
        for (int i = 0; i < CHUNK; i++) last[i] = pcm[i];
        if (chunks++ == 0) check_mel(lm, last);
    }
    if (chunks > 1) check_mel(lm, last);
    nne_audio_file_info info;
    nne_audio_reader_info(r, &info);
    if (info.channels < 1 || info.sample_rate < 1) abort();
    nne_audio_reader_close(r);
    return 0;
}
