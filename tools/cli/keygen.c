/*
 * keygen.c - `nnedge keygen -o PREFIX [--device] [--certify ROOT.sec]...
 * [--expires DURATION] [--threshold N]`: writes PREFIX.sec (mode 0600) and PREFIX.pub.
 * Without --device: an Ed25519 signing key. With --device: an X25519 key a
 * device decrypts packages with. With --certify: the new signing key is a
 * release key, and PREFIX.cert is ROOT's certificate for it, valid from now
 * for DURATION (default 365d): packages signed by it are trusted by devices
 * that trust ROOT.pub, until then. Rotating a release key is running this
 * again; devices keep ROOT.pub. --certify may be given up to 3 times: each
 * root key signs the certificate, for devices whose trust file requires
 * several root keys (nnedge-trust-v1 threshold=K, docs/format.md); more can
 * sign later (nnedge sign PREFIX.cert --key ROOT.sec -o OUT). --threshold N
 * (default 1): packages this key signs need N signatures in all (co-signed
 * with nnedge sign). Existing files are never overwritten.
 */
#include "cli.h"
#include "cli_pkg.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int cli_keygen(int argc, char **argv) {
    const char *prefix = NULL, *certify = NULL, *certs[NNE_PKG_MAX_CERT_SIGS];
    long threshold = 1;
    int n_certs = 0;
    int device = 0, json = 0;
    int64_t expires = 365 * 86400LL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v;
        if (!strcmp(a, "-o")) {
            if (!(prefix = cli_opt_value(argc, argv, &i, "PREFIX"))) return EXIT_BAD_INPUT;
        } else if (!strcmp(a, "--device")) {
            device = 1;
        } else if (!strcmp(a, "--json")) {
            json = 1;
        } else if (!strcmp(a, "--certify")) {
            if (!(certify = cli_opt_value(argc, argv, &i, "ROOT.sec"))) return EXIT_BAD_INPUT;
            if (n_certs >= NNE_PKG_MAX_CERT_SIGS)
                return cli_usage_error("keygen: --certify at most %d times", NNE_PKG_MAX_CERT_SIGS);
            certs[n_certs++] = certify;
        } else if (!strcmp(a, "--expires")) {
            if (!(v = cli_opt_value(argc, argv, &i, "DURATION (like 365d)"))) return EXIT_BAD_INPUT;
            if (!cli_parse_duration(v, &expires))
                return cli_usage_error("--expires %s: expected a duration like 90s, 12h, 30d, 2w or 1y", v);
        } else if (!strcmp(a, "--threshold")) {
            if (!(v = cli_opt_value(argc, argv, &i, "N (signatures a package needs)"))) return EXIT_BAD_INPUT;
            if (!cli_parse_int(v, 1, NNE_PKG_MAX_SIGS, &threshold))
                return cli_usage_error("--threshold %s: expected 1..%d signatures", v, NNE_PKG_MAX_SIGS);
        } else {
            return cli_usage_error("keygen: unknown option %s (usage: nnedge keygen -o PREFIX [--device] "
                                   "[--certify ROOT.sec]... [--expires DURATION] [--threshold N])", a);
        }
    }
    if (!prefix || !prefix[0]) return cli_usage_error("keygen: -o PREFIX is required");
    if (device && certify) return cli_usage_error("keygen: --certify is for signing keys, not --device keys");
    size_t n = strlen(prefix);
    if (n > 4000) return cli_usage_error("keygen: PREFIX is too long");
    char sec_path[4100], pub_path[4100], cert_path[4100];
    snprintf(sec_path, sizeof sec_path, "%s.sec", prefix);
    snprintf(pub_path, sizeof pub_path, "%s.pub", prefix);
    snprintf(cert_path, sizeof cert_path, "%s.cert", prefix);
    if (threshold != 1 && !certify) return cli_usage_error("keygen: --threshold goes into a certificate (--certify ROOT.sec)");
    nne_pkg_key root, roots[NNE_PKG_MAX_CERT_SIGS];
    nne_status st;
    for (int k = 0; k < n_certs; k++)
        if ((st = nne_pkg_key_read(certs[k], NNE_KEY_SIGN_SECRET, &roots[k])) != NNE_OK) return cli_fail(st, NULL);
    if (n_certs) root = roots[0];
    /* refuse before writing anything when any output exists */
    const char *outs[3] = {sec_path, pub_path, certify ? cert_path : NULL};
    for (int k = 0; k < 3; k++)
        if (outs[k] && access(outs[k], F_OK) == 0)
            return cli_usage_error("keygen: %s exists; keys are never overwritten (remove it or pick another PREFIX)",
                                   outs[k]);
    nne_pkg_key sec, pub;
    if ((st = nne_pkg_keygen(device, &sec, &pub)) != NNE_OK) return cli_fail(st, NULL);
    st = nne_pkg_key_write(sec_path, &sec);
    if (st == NNE_OK && (st = nne_pkg_key_write(pub_path, &pub)) != NNE_OK) unlink(sec_path);
    nne_pkg_cert cert;
    int64_t now = (int64_t)time(NULL);
    if (st == NNE_OK && certify) {
        st = nne_pkg_cert_make(&root, pub.pub, now, now + expires, (uint32_t)threshold, &cert);
        for (int k = 1; st == NNE_OK && k < n_certs; k++) st = nne_pkg_cert_cosign(&roots[k], &cert);
        if (st == NNE_OK) st = nne_pkg_cert_write(cert_path, &cert);
        if (st != NNE_OK) unlink(sec_path), unlink(pub_path);
    }
    memset(&sec, 0, sizeof sec);
    memset(&root, 0, sizeof root);
    memset(roots, 0, sizeof roots);
    if (st != NNE_OK) return cli_fail(st, "keygen");
    char hx[65];
    nne_pkg_hex(pub.pub, 32, hx);
    if (json) {
        printf("{\"secret\": ");
        json_str(stdout, sec_path);
        printf(", \"public\": ");
        json_str(stdout, pub_path);
        printf(", \"kind\": \"%s\", \"key\": \"%s\"", device ? "x25519-device" : "ed25519-signing", hx);
        if (certify) {
            printf(", \"cert\": ");
            json_str(stdout, cert_path);
            printf(", \"not_after\": %lld", (long long)(now + expires));
        }
        printf("}\n");
    } else {
        printf("%s key %s\n  secret: %s (keep it private)\n  public: %s\n", device ? "device (X25519)" : "signing (Ed25519)",
               hx, sec_path, pub_path);
        if (certify) printf("  certificate: %s (release key, valid %lld s)\n", cert_path, (long long)expires);
    }
    return EXIT_OK;
}
