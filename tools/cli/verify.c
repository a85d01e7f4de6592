/*
 * verify.c - `nnedge verify PKG.nne --trust ROOT.pub [--key DEVICE.sec]
 * [--json]`: every check of a package, in order, stopping at the first that
 * fails (exit 2 and one line naming it): the fixed header (sizes: truncation
 * and appended data), the signers (trusted root keys, or release keys they
 * certified whose certificates have not expired and that --revoked does not
 * list, enough of them for the trust file's and certificates' thresholds), the signature over
 * header + manifest, the manifest (limits, layout: segments tile the file),
 * expiry (not_after), the BLAKE2b-256 digest of every segment with its
 * padding, decryption with --key (encrypted packages), the model itself and
 * the golden health check. Without --key an encrypted package is checked up
 * to its digests ("decrypted": false).
 */
#include "cli.h"
#include "cli_pkg.h"

#include <string.h>
#include <time.h>

int cli_verify(int argc, char **argv) {
    const char *path = NULL, *trust = NULL, *key = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--trust")) {
            if (!(trust = cli_opt_value(argc, argv, &i, "ROOT.pub"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--key")) {
            if (!(key = cli_opt_value(argc, argv, &i, "DEVICE.sec"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--revoked")) {
            const char *r = cli_opt_value(argc, argv, &i, "FILE (a revocation list)");
            if (!r) return EXIT_BAD_INPUT;
            cli_pkg_set_revoked(r);
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("verify: unknown option %s", a);
        } else if (!path) {
            path = a;
        } else {
            return cli_usage_error("verify: more than one package (%s and %s)", path, a);
        }
    }
    if (!path) return cli_usage_error("verify: PKG.nne is required (nnedge verify PKG.nne --trust ROOT.pub)");
    if (!trust) return cli_usage_error("verify: --trust ROOT.pub is required (the key packages must be signed by)");
    nne_pkg *p = NULL;
    nne_model *m = NULL;
    double t0 = cli_now_ms();
    nne_status st = cli_pkg_open_checked(path, trust, key, (int64_t)time(NULL), &p);
    int golden = 0, decrypted = 0;
    if (st == NNE_OK && (!nne_pkg_is_encrypted(p) || key)) {
        decrypted = nne_pkg_is_encrypted(p);
        if ((st = nne_pkg_load_model(p, NULL, &m)) == NNE_OK) st = nne_pkg_golden_check(p, m, &golden);
    }
    double ms = cli_now_ms() - t0;
    if (st != NNE_OK) {
        if (json) {
            printf("{\"ok\": false, \"error\": ");
            json_str(stdout, nne_last_error());
            printf("}\n");
        }
        nne_model_destroy(m);
        nne_pkg_close(p);
        return cli_fail(st, path);
    }
    const nne_pkg_header *h = nne_pkg_get_header(p);
    const nne_pkg_manifest *man = nne_pkg_get_manifest(p);
    char signer[65] = "", issuer[65] = "";
    int n_sigs = (int)h->n_sigs, cert = n_sigs > 0 && h->sigs[0].has_cert, enc = nne_pkg_is_encrypted(p);
    if (n_sigs) nne_pkg_hex(h->sigs[0].signer, 32, signer);
    if (cert) nne_pkg_hex(h->sigs[0].cert.issuer[0], 32, issuer);
    const char *gold = golden ? "passed" : (enc && !key) ? "skipped (encrypted, no --key)" : "none";
    if (json) {
        printf("{\"ok\": true, \"package\": ");
        json_str(stdout, path);
        printf(", \"model_id\": ");
        json_str(stdout, man->model_id);
        printf(", \"version\": ");
        json_str(stdout, man->semver);
        printf(", \"counter\": %llu, \"created\": %lld, \"not_after\": %lld, \"signer\": \"%s\", \"certified_by\": ",
               (unsigned long long)man->counter, (long long)man->created, (long long)man->not_after, signer);
        if (cert) printf("\"%s\", \"cert_not_after\": %lld", issuer, (long long)h->sigs[0].cert.not_after);
        else printf("null");
        printf(", \"signatures\": %d", n_sigs);
        printf(", \"encrypted\": %s, \"decrypted\": %s, \"recipients\": %d, \"segments\": %d, \"golden\": \"%s\", "
               "\"ms\": %.3f}\n",
               enc ? "true" : "false", decrypted ? "true" : "false", man->n_recipients, man->n_segments,
               golden ? "passed" : (enc && !key) ? "skipped" : "none", ms);
    } else {
        printf("ok: %s %s (counter %llu): %d signature(s), the first by %s%.16s..., %d segments intact%s, golden check %s\n",
               man->model_id, man->semver, (unsigned long long)man->counter, n_sigs,
               cert ? "a release key certified by " : "", cert ? issuer : signer, man->n_segments, enc ? (key ? ", decrypted" : ", encrypted (not decrypted)") : "",
               gold);
    }
    nne_model_destroy(m);
    nne_pkg_close(p);
    return EXIT_OK;
}
