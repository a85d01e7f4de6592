/*
 * fuzz_agent.c - the parsers of the fleet agent's inputs from its server
 * (src/fleet/parse.c): the first byte picks one, the rest is the text.
 *   even: an HTTP/1.x response (status line, headers, Content-Length or
 *         chunked body), as src/fleet/httpc.c reads it whole;
 *   odd:  Prometheus text of /metrics, then the heartbeat's quantiles.
 * Checks: the decoded body stays within the input and is NUL-terminated;
 * every quantile is NaN or within the histogram's finite bounds.
 */
#include "fleet/fleet.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    size_t n = size - 1;
    char *b = malloc(n + 1);
    if (!b) return 0;
    memcpy(b, data + 1, n);
    b[n] = 0;
    if ((data[0] & 1) == 0) {
        long status;
        size_t bn = 0;
        char err[256];
        if (fleet_http_parse_response(b, n, 1 << 20, &status, &bn, err, sizeof err)) {
            if (bn > n || b[bn] != 0) abort();
        } else if (!err[0] || strchr(err, '\n')) {
            abort();
        }
    } else {
        static fleet_prom p;
        fleet_prom_parse(b, &p);
        if (p.n < 0 || p.n > FLEET_PROM_SERIES) abort();
        for (int i = 0; i < p.n; i++) {
            const fleet_prom_series *s = &p.s[i];
            if (s->nb < 0 || s->nb > FLEET_PROM_BUCKETS) abort();
            double q = fleet_quantile_ms(s->cum, s->bound, s->nb, 0.99);
            (void)q;
        }
    }
    free(b);
    return 0;
}
