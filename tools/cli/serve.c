/*
 * serve.c - `nnedge serve`: the Open Inference Protocol (KServe v2) server
 * over a model repository (src/serve/). This file only reads the options.
 */
#include "cli.h"
#include "cli_pkg.h"
#include "serve/serve.h"

#include <stdlib.h>
#include <string.h>

/* Every model file of the repository: a .nne package goes through every
 * package check (--trust: a signer this key certifies; --key: decryption);
 * with --trust or --key, a file that is not a package is refused. */
static nne_status serve_load_model(const char *path, nne_model **m) {
    return cli_pkg_wanted(path) ? cli_pkg_load_model(path, NULL, m) : nne_model_load_file(path, NULL, m);
}

int cli_serve(int argc, char **argv) {
    srv_config c = {
        .http_addr = "127.0.0.1:8000",
        .threads = 2,
        .max_queue = 64,
        .batch_delay_us = 0,
        .max_body = 64u << 20,
        .max_json = 8u << 20,
        .max_connections = 256,
        .max_run_memory = 512u << 20,
        .load_model = serve_load_model,
    };
    for (int i = 1; i < argc; i++) { /* argv[0] is "serve" */
        const char *a = argv[i], *v;
        long n;
        int pk = cli_pkg_option(argc, argv, &i);
        if (pk < 0) return EXIT_BAD_INPUT;
        if (pk > 0) continue;
        if (!strcmp(a, "--repo")) {
            if (!(v = cli_opt_value(argc, argv, &i, "DIR"))) return EXIT_BAD_INPUT;
            c.repo_dir = v;
        } else if (!strcmp(a, "--http")) {
            if (!(v = cli_opt_value(argc, argv, &i, "ADDR:PORT"))) return EXIT_BAD_INPUT;
            c.http_addr = v;
        } else if (!strcmp(a, "--grpc")) {
            if (!(v = cli_opt_value(argc, argv, &i, "ADDR:PORT"))) return EXIT_BAD_INPUT;
            c.grpc_addr = v;
        } else if (!strcmp(a, "--threads") || !strcmp(a, "--max-queue") || !strcmp(a, "--batch-delay-us") ||
                   !strcmp(a, "--poll-s") || !strcmp(a, "--max-body") || !strcmp(a, "--max-json") ||
                   !strcmp(a, "--max-connections") || !strcmp(a, "--max-run-memory")) {
            if (!(v = cli_opt_value(argc, argv, &i, "N"))) return EXIT_BAD_INPUT;
            long lo = 1, hi = 1024;
            if (!strcmp(a, "--max-queue")) hi = 1000000;
            if (!strcmp(a, "--batch-delay-us")) lo = 0, hi = 1000000;
            if (!strcmp(a, "--poll-s")) lo = 0, hi = 86400;
            if (!strcmp(a, "--max-body")) lo = 1024, hi = 1L << 32;
            if (!strcmp(a, "--max-json")) lo = 1024, hi = 1L << 28;
            if (!strcmp(a, "--max-connections")) hi = 10000;
            if (!strcmp(a, "--max-run-memory")) lo = 1L << 20, hi = 1L << 40;
            if (!cli_parse_int(v, lo, hi, &n)) return cli_usage_error("%s %s: expected an integer %ld..%ld", a, v, lo, hi);
            if (!strcmp(a, "--threads")) c.threads = (int)n;
            else if (!strcmp(a, "--max-queue")) c.max_queue = (int)n;
            else if (!strcmp(a, "--batch-delay-us")) c.batch_delay_us = n;
            else if (!strcmp(a, "--poll-s")) c.poll_s = n;
            else if (!strcmp(a, "--max-body")) c.max_body = (size_t)n;
            else if (!strcmp(a, "--max-json")) c.max_json = (size_t)n;
            else if (!strcmp(a, "--max-run-memory")) c.max_run_memory = (size_t)n;
            else c.max_connections = (int)n;
        } else if (!strcmp(a, "--tokens")) {
            if (!(v = cli_opt_value(argc, argv, &i, "FILE"))) return EXIT_BAD_INPUT;
            c.tokens_file = v;
        } else if (!strcmp(a, "--tls-cert")) {
            if (!(v = cli_opt_value(argc, argv, &i, "FILE"))) return EXIT_BAD_INPUT;
            c.tls_cert = v;
        } else if (!strcmp(a, "--tls-key")) {
            if (!(v = cli_opt_value(argc, argv, &i, "FILE"))) return EXIT_BAD_INPUT;
            c.tls_key = v;
        } else if (!strcmp(a, "--tls-client-ca")) {
            if (!(v = cli_opt_value(argc, argv, &i, "FILE"))) return EXIT_BAD_INPUT;
            c.tls_client_ca = v;
        } else {
            return cli_usage_error("serve: unknown option %s", a);
        }
    }
    if (!c.repo_dir) return cli_usage_error("serve: --repo DIR is required");
    if (!c.tls_cert != !c.tls_key) return cli_usage_error("serve: --tls-cert and --tls-key go together");
    if (c.tls_client_ca && !c.tls_cert) return cli_usage_error("serve: --tls-client-ca needs --tls-cert and --tls-key");
    if (c.max_json > c.max_body) c.max_json = c.max_body;
    return srv_main(&c);
}
