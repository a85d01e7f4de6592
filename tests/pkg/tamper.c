/*
 * tamper.c - the tamper test of .nne packages, in process: every mutation
 * of a valid package must be refused by the checks `nnedge verify` and
 * `nnedge run --trust` run (nne_pkg_open_memory, verify_manifest against the
 * trusted key, verify_segments, unlock with the device key when given; and
 * the model load + golden check when all of those pass, which must not
 * happen).
 *
 *   pkg_tamper PKG.nne TRUST.pub [--key DEVICE.sec] [--flips N] [--truncations N]
 *              [--tails N] [--seed S]
 *
 * Mutations: N single-byte flips at random offsets (a random non-zero XOR),
 * N truncations to a random shorter length, N appended tails of random length
 * (1 byte to 64 KiB, random bytes, sometimes zeros, sometimes a whole 4 KiB
 * multiple). Prints the counts and exits 1 when any mutation was accepted or
 * a refusal came without a message.
 */
#include "pkg/pkg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static const nne_pkg_trust *g_trust;
static nne_pkg_key g_dev;
static int g_have_key;

/* 0 when refused (the expected outcome), 1 when accepted. */
static int accepted(const uint8_t *buf, size_t n, char *msg, size_t cap) {
    nne_pkg *p = NULL;
    nne_status st = nne_pkg_open_memory(buf, n, &p);
    if (st == NNE_OK) st = nne_pkg_verify_manifest(p, g_trust, (int64_t)time(NULL));
    if (st == NNE_OK) st = nne_pkg_verify_segments(p);
    if (st == NNE_OK && g_have_key) st = nne_pkg_unlock(p, g_dev.sec, g_dev.pub);
    nne_model *m = NULL;
    if (st == NNE_OK && (!nne_pkg_is_encrypted(p) || g_have_key)) {
        int golden;
        st = nne_pkg_load_model(p, NULL, &m);
        if (st == NNE_OK) st = nne_pkg_golden_check(p, m, &golden);
    }
    nne_model_destroy(m);
    nne_pkg_close(p);
    snprintf(msg, cap, "%s", nne_last_error());
    return st == NNE_OK;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: pkg_tamper PKG.nne TRUST.pub [--key DEVICE.sec] [--flips N] [--truncations N] [--tails N] [--seed S]\n");
        return 2;
    }
    long flips = 10000, truncs = 1000, tails = 1000;
    for (int i = 3; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--flips")) flips = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--truncations")) truncs = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--tails")) tails = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--seed")) rng_state = strtoull(argv[i + 1], NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
        else if (!strcmp(argv[i], "--key")) {
            if (nne_pkg_key_read(argv[i + 1], NNE_KEY_DEVICE_SECRET, &g_dev) != NNE_OK) {
                fprintf(stderr, "pkg_tamper: %s\n", nne_last_error());
                return 2;
            }
            g_have_key = 1;
        }
    }
    nne_pkg_trust trust;
    if (nne_pkg_trust_read(argv[2], &trust) != NNE_OK) {
        fprintf(stderr, "pkg_tamper: %s\n", nne_last_error());
        return 2;
    }
    g_trust = &trust;
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    fseek(f, 0, SEEK_END);
    size_t n = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    size_t room = n + 65536;
    uint8_t *buf = malloc(room);
    if (!buf || fread(buf, 1, n, f) != n) return 2;
    fclose(f);
    char msg[1200];
    if (accepted(buf, n, msg, sizeof msg)) {
        /* the unmodified package must pass, or the test proves nothing */
    } else {
        fprintf(stderr, "pkg_tamper: the unmodified package is refused: %s\n", msg);
        return 1;
    }
    long bad = 0, silent = 0, refused = 0;
    for (long k = 0; k < flips; k++) {
        size_t off = (size_t)(rnd() % n);
        uint8_t x = (uint8_t)(rnd() % 255 + 1), old = buf[off];
        buf[off] ^= x;
        if (accepted(buf, n, msg, sizeof msg)) {
            if (bad++ < 5) fprintf(stderr, "ACCEPTED: flip at %zu (^0x%02x)\n", off, x);
        } else {
            refused++;
            silent += msg[0] == 0;
        }
        buf[off] = old;
    }
    long fr = refused;
    for (long k = 0; k < truncs; k++) {
        size_t len = (size_t)(rnd() % n);
        if (accepted(buf, len, msg, sizeof msg)) {
            if (bad++ < 5) fprintf(stderr, "ACCEPTED: truncation to %zu bytes\n", len);
        } else {
            refused++;
            silent += msg[0] == 0;
        }
    }
    long tr = refused - fr;
    for (long k = 0; k < tails; k++) {
        size_t len;
        int mode = (int)(rnd() % 3);
        if (mode == 0) len = (size_t)(rnd() % 65536) + 1;
        else len = (size_t)(rnd() % 16 + 1) * 4096;
        for (size_t i = 0; i < len; i++) buf[n + i] = mode == 1 ? 0 : (uint8_t)rnd();
        if (accepted(buf, n + len, msg, sizeof msg)) {
            if (bad++ < 5) fprintf(stderr, "ACCEPTED: %zu bytes appended\n", len);
        } else {
            refused++;
            silent += msg[0] == 0;
        }
    }
    long ta = refused - fr - tr;
    printf("pkg_tamper: %s: refused %ld/%ld flips, %ld/%ld truncations, %ld/%ld appended tails; %ld accepted, %ld "
           "without a message\n",
           argv[1], fr, flips, tr, truncs, ta, tails, bad, silent);
    free(buf);
    return bad || silent ? 1 : 0;
}
