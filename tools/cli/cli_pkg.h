/*
 * cli_pkg.h - .nne package helpers shared by the verbs (tools/cli/package.c).
 */
#ifndef NNE_CLI_PKG_H
#define NNE_CLI_PKG_H

#include "nnedge.h"
#include "pkg/pkg.h"

/* argv[*i] is --trust, --revoked or --key: take its value (advancing *i), return 1;
 * -1 after printing the error; 0 for any other option. */
int cli_pkg_option(int argc, char **argv, int *i);
/* 1 when `path` must go through the package loader (a package, or --trust
 * or --key given). */
int cli_pkg_wanted(const char *path);
/* Load a package's model with every check (--trust, --key as given). */
nne_status cli_pkg_load_model(const char *path, const nne_model_options *mo, nne_model **m);
/* Open a package and run every check up to the model: trusted signer
 * (trust_path may be NULL), signature, manifest, expiry against `now`,
 * segment digests, decryption with key_path (may be NULL). */
nne_status cli_pkg_open_checked(const char *path, const char *trust_path, const char *key_path, int64_t now,
                                nne_pkg **out);

/* The revocation list every check applies (--revoked; install: the store's). */
void cli_pkg_set_revoked(const char *path);
/* Read a trust file and apply the revocation list, if any (verified against it). */
nne_status cli_pkg_trust_read(const char *trust_path, nne_pkg_trust *trust);

/* "30d", "12h", "90s", "2w", "1y" or seconds (at most 100 years); 0 on a bad value. */
int cli_parse_duration(const char *s, int64_t *out);

#endif
