/*
 * sign.c - `nnedge sign FILE --key KEY.sec [--cert KEY.cert] -o OUT [--json]`:
 * add one signature to something already signed, in a separate step, by
 * another key holder (docs/format.md, "Keys and the chain of trust"):
 *   - a package (.nne): a co-signature by a release key (its certificate is
 *     found next to the key, or given with --cert) or by a root key. Only
 *     the header changes; the manifest and the model bytes are kept as they
 *     are. This is how a package meets a threshold of two signatures.
 *   - a certificate (nnedge-cert-v2): one more root key certifies the same
 *     release key (for trust files with threshold=K).
 *   - a revocation list (nnedge-revocation-v1): one more root key signs it.
 * The input is checked first (every signature in it must verify; a package's
 * segment digests too). OUT is written via a temporary file and rename
 * (packages) or created new (certificates and lists are never overwritten).
 */
#include "cli.h"
#include "cli_pkg.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_sign(int argc, char **argv) {
    const char *in = NULL, *key = NULL, *cert = NULL, *out = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--key")) {
            if (!(key = cli_opt_value(argc, argv, &i, "KEY.sec"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--cert")) {
            if (!(cert = cli_opt_value(argc, argv, &i, "KEY.cert"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "-o")) {
            if (!(out = cli_opt_value(argc, argv, &i, "OUT"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (a[0] == '-' && a[1]) {
            return cli_usage_error("sign: unknown option %s", a);
        } else if (!in) {
            in = a;
        } else {
            return cli_usage_error("sign: more than one input (%s and %s)", in, a);
        }
    }
    if (!in) return cli_usage_error("sign: FILE is required (a .nne package, a certificate or a revocation list)");
    if (!key) return cli_usage_error("sign: --key KEY.sec is required");
    if (!out) return cli_usage_error("sign: -o OUT is required");
    nne_pkg_key sk;
    nne_status st;
    if ((st = nne_pkg_key_read(key, NNE_KEY_SIGN_SECRET, &sk)) != NNE_OK) return cli_fail(st, NULL);
    char hx[65];
    nne_pkg_hex(sk.pub, 32, hx);
    const char *what;
    int count = 0;
    if (nne_pkg_sniff_file(in)) {
        what = "package";
        nne_pkg_cert cr;
        char cp[4200];
        size_t L = strlen(key);
        if (!cert && L > 4 && L < 4000 && !strcmp(key + L - 4, ".sec")) {
            snprintf(cp, sizeof cp, "%.*s.cert", (int)(L - 4), key);
            if (access(cp, F_OK) == 0) cert = cp;
        }
        if (cert) {
            if ((st = nne_pkg_cert_read(cert, &cr)) != NNE_OK) {
                memset(&sk, 0, sizeof sk);
                return cli_fail(st, NULL);
            }
            if (memcmp(cr.key, sk.pub, 32) != 0) {
                memset(&sk, 0, sizeof sk);
                return cli_usage_error("--cert %s: certifies another key than %s", cert, key);
            }
            if ((int64_t)time(NULL) > cr.not_after) {
                memset(&sk, 0, sizeof sk);
                return cli_usage_error("--cert %s: the release key's certificate has expired", cert);
            }
        }
        st = nne_pkg_cosign(in, out, &sk, cert ? &cr : NULL);
        if (st == NNE_OK) {
            nne_pkg *p;
            if (nne_pkg_open(out, &p) == NNE_OK) {
                count = (int)nne_pkg_get_header(p)->n_sigs;
                nne_pkg_close(p);
            }
        }
    } else {
        char head[24] = "";
        FILE *f = fopen(in, "r");
        if (f) {
            if (!fgets(head, sizeof head, f)) head[0] = 0;
            fclose(f);
        }
        if (!strncmp(head, "nnedge-cert-v", 13)) {
            what = "certificate";
            nne_pkg_cert c;
            if ((st = nne_pkg_cert_read(in, &c)) == NNE_OK && (st = nne_pkg_cert_cosign(&sk, &c)) == NNE_OK &&
                (st = nne_pkg_cert_write(out, &c)) == NNE_OK)
                count = c.n_sigs;
        } else if (!strncmp(head, "nnedge-revocation-v", 19)) {
            what = "revocation list";
            nne_pkg_revocation r;
            if ((st = nne_pkg_revocation_read(in, &r)) == NNE_OK && (st = nne_pkg_revocation_sign(&sk, &r)) == NNE_OK &&
                (st = nne_pkg_revocation_write(out, &r)) == NNE_OK)
                count = r.n_sigs;
        } else {
            memset(&sk, 0, sizeof sk);
            return cli_usage_error("sign: %s is not a .nne package, a certificate or a revocation list", in);
        }
    }
    memset(&sk, 0, sizeof sk);
    if (st != NNE_OK) return cli_fail(st, "sign");
    if (json) {
        printf("{\"signed\": ");
        json_str(stdout, out);
        printf(", \"kind\": \"%s\", \"key\": \"%s\", \"signatures\": %d}\n", what, hx, count);
    } else {
        printf("signed %s %s by %.16s...: %d signature(s) now\n", what, out, hx, count);
    }
    return EXIT_OK;
}
