/*
 * lazy.c - load numbers of a .nne package (make test-pkg-lazy): time to open
 * it and verify its manifest, resident memory that adds, the full integrity
 * pass (every segment's BLAKE2b-256), decryption (with --key), and the
 * resident memory after the model is loaded, before its first inference.
 * Each timing is the median of REPEATS runs with the file in the page cache.
 *
 *   pkg_lazy PKG.nne TRUST.pub [--key DEVICE.sec] [--repeats N]
 *
 * Prints one JSON object: open_manifest_ms, open_manifest_rss_kib,
 * integrity_ms (unencrypted), decrypt_ms (encrypted: decryption and the
 * digests together, as nnedge checks them), load_ms, loaded_rss_kib (RSS
 * added from before open to after load; decrypted weights are resident),
 * check_cpu_ms (CPU time of the digests + decryption, all threads).
 */
#include "pkg/pkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Resident set in KiB (anonymous + file + shmem), from /proc/self/status. */
static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long v = -1;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) v = atol(line + 6);
    if (f) fclose(f);
    return v;
}

/* CPU time of the process (all threads), ms: on a shared machine the wall
 * time also counts the time other processes held the cores. */
static double cpu_ms(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: pkg_lazy PKG.nne TRUST.pub [--key DEVICE.sec] [--repeats N]\n");
        return 2;
    }
    int reps = 5, have_key = 0;
    nne_pkg_trust trust;
    nne_pkg_key dev;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--repeats")) reps = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "--key")) {
            if (nne_pkg_key_read(argv[i + 1], NNE_KEY_DEVICE_SECRET, &dev) != NNE_OK) return fprintf(stderr, "%s\n", nne_last_error()), 2;
            have_key = 1;
        }
    }
    if (reps < 1 || reps > 100) reps = 5;
    if (nne_pkg_trust_read(argv[2], &trust) != NNE_OK) return fprintf(stderr, "%s\n", nne_last_error()), 2;
    double t_open[100], t_int[100], t_dec[100], t_load[100], c_int[100];
    long rss_open = 0, rss_loaded = 0;
    for (int r = 0; r < reps; r++) {
        long r0 = rss_kib();
        double a = now_ms();
        nne_pkg *p;
        nne_status st = nne_pkg_open(argv[1], &p);
        if (st == NNE_OK) st = nne_pkg_verify_manifest(p, &trust, (int64_t)time(NULL));
        double b = now_ms();
        long r1 = rss_kib();
        /* encrypted: unlock checks the digests while it decrypts (as nnedge does) */
        double cb = cpu_ms();
        if (st == NNE_OK && !have_key) st = nne_pkg_verify_segments(p);
        double c = now_ms();
        if (st == NNE_OK && have_key) st = nne_pkg_unlock(p, dev.sec, dev.pub);
        double d = now_ms();
        c_int[r] = cpu_ms() - cb;
        nne_model *m = NULL;
        if (st == NNE_OK) st = nne_pkg_load_model(p, NULL, &m);
        double e = now_ms();
        long r2 = rss_kib();
        if (st != NNE_OK) {
            fprintf(stderr, "pkg_lazy: %s\n", nne_last_error());
            return 1;
        }
        t_open[r] = b - a;
        t_int[r] = c - b;
        t_dec[r] = d - c;
        t_load[r] = e - d;
        /* the first repetition shows what a fresh process pays (later ones reuse freed heap) */
        if (r == 0) rss_open = r1 - r0, rss_loaded = r2 - r0;
        nne_model_destroy(m);
        nne_pkg_close(p);
    }
    qsort(t_open, (size_t)reps, sizeof(double), cmp_d);
    qsort(t_int, (size_t)reps, sizeof(double), cmp_d);
    qsort(t_dec, (size_t)reps, sizeof(double), cmp_d);
    qsort(t_load, (size_t)reps, sizeof(double), cmp_d);
    qsort(c_int, (size_t)reps, sizeof(double), cmp_d);
    printf("{\"package\": \"%s\", \"repeats\": %d, \"open_manifest_ms\": %.3f, \"open_manifest_rss_kib\": %ld, "
           "\"integrity_ms\": %.1f, \"decrypt_ms\": %.1f, \"check_cpu_ms\": %.1f, \"load_ms\": %.2f, \"loaded_rss_kib\": %ld}\n",
           argv[1], reps, t_open[reps / 2], rss_open, t_int[reps / 2], have_key ? t_dec[reps / 2] : 0.0,
           c_int[reps / 2], t_load[reps / 2], rss_loaded);
    return 0;
}
