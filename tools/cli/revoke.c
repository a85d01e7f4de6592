/*
 * revoke.c - `nnedge revoke RELEASE.pub... --sign ROOT.sec... --version N
 * -o REVOKED [--json]`: a revocation list signed by root keys. Devices that
 * apply it (`--revoked REVOKED` on verify and every loading verb; `install
 * --revoked` keeps the newest list in the store) no longer count signatures
 * by the listed release keys, even inside their certificates' validity: a
 * package signed only by a revoked key is refused. The version must grow
 * with every new list (a store refuses an older one, so an attacker cannot
 * bring a revoked key back with an old list); each list names every key
 * still revoked. More root keys can sign it later (`nnedge sign REVOKED
 * --key ROOT2.sec -o OUT`) to meet a trust file's threshold.
 */
#include "cli.h"
#include "cli_pkg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

int cli_revoke(int argc, char **argv) {
    const char *out = NULL, *signers[NNE_PKG_MAX_TRUST], *keys[NNE_PKG_MAX_REVOKED];
    int n_signers = 0, n_keys = 0, json = 0;
    long long version = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "--sign")) {
            if (!(v = cli_opt_value(argc, argv, &i, "ROOT.sec"))) return EXIT_BAD_INPUT;
            if (n_signers >= NNE_PKG_MAX_TRUST) return cli_usage_error("revoke: --sign at most %d times", NNE_PKG_MAX_TRUST);
            signers[n_signers++] = v;
        } else if (!strcmp(a, "--version")) {
            if (!(v = cli_opt_value(argc, argv, &i, "N (1, 2, ...)"))) return EXIT_BAD_INPUT;
            char *e;
            version = strtoll(v, &e, 10);
            if (e == v || *e || version < 1) return cli_usage_error("revoke: --version %s: expected an integer >= 1", v);
        } else if (!strcmp(a, "-o")) {
            if (!(out = cli_opt_value(argc, argv, &i, "REVOKED"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("revoke: unknown option %s", a);
        } else {
            if (n_keys >= NNE_PKG_MAX_REVOKED) return cli_usage_error("revoke: at most %d keys", NNE_PKG_MAX_REVOKED);
            keys[n_keys++] = a;
        }
    }
    if (!n_keys) return cli_usage_error("revoke: name the release keys to revoke (RELEASE.pub...)");
    if (!n_signers) return cli_usage_error("revoke: --sign ROOT.sec is required");
    if (!version) return cli_usage_error("revoke: --version N is required (higher than the last list's)");
    if (!out) return cli_usage_error("revoke: -o REVOKED is required");
    nne_pkg_revocation r;
    memset(&r, 0, sizeof r);
    r.version = (uint64_t)version;
    r.issued = (int64_t)time(NULL);
    nne_status st;
    for (int k = 0; k < n_keys; k++) {
        nne_pkg_key pk;
        if ((st = nne_pkg_key_read(keys[k], NNE_KEY_SIGN_PUBLIC, &pk)) != NNE_OK) return cli_fail(st, NULL);
        for (int j = 0; j < r.n_keys; j++)
            if (!memcmp(r.keys[j], pk.pub, 32)) return cli_usage_error("revoke: %s is listed twice", keys[k]);
        memcpy(r.keys[r.n_keys++], pk.pub, 32);
    }
    for (int k = 0; k < n_signers; k++) {
        nne_pkg_key sk;
        if ((st = nne_pkg_key_read(signers[k], NNE_KEY_SIGN_SECRET, &sk)) != NNE_OK) return cli_fail(st, NULL);
        st = nne_pkg_revocation_sign(&sk, &r);
        memset(&sk, 0, sizeof sk);
        if (st != NNE_OK) return cli_fail(st, "revoke");
    }
    if ((st = nne_pkg_revocation_write(out, &r)) != NNE_OK) return cli_fail(st, "revoke");
    if (json) {
        printf("{\"revocation_list\": ");
        json_str(stdout, out);
        printf(", \"version\": %lld, \"keys\": %d, \"signatures\": %d}\n", version, r.n_keys, r.n_sigs);
    } else {
        printf("revocation list %s: version %lld, %d key(s) revoked, %d root signature(s)\n", out, version, r.n_keys,
               r.n_sigs);
    }
    return EXIT_OK;
}
