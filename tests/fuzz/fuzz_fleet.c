/*
 * fuzz_fleet.c - libFuzzer harness for the fleet controller's message
 * handling (src/fleet/controller.c): births, deaths, heartbeats, deploy
 * reports and requests, in any order, against a controller that already
 * runs a deployment (4 nodes born, one valid deploy request), then the
 * timers and the status after each message, and a state file save/reload
 * round trip at the end.
 *
 * Input: records [kind][node][len lo][len hi][payload...]; kind picks the
 * topic (birth, death, data, deploy, request; bit 7: delivered as a
 * retained message), node one of a few topic ids (valid and not). Seeds: tests/fleet/gen_fuzz_seeds.py.
 * Built by tests/fleet/controller.mk (`make fuzz-fleet`), not by fuzz.mk:
 * it needs only src/fleet and Debian libraries, not libnnedge.
 */
#include "fleet/ctl.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char g_dir[256];
static char g_state[300];
static char g_request[1024];

static void setup(void) {
    snprintf(g_dir, sizeof g_dir, "/tmp/fuzz_fleet.%d", (int)getpid());
    char sub[300], file[340];
    mkdir(g_dir, 0700);
    snprintf(sub, sizeof sub, "%s/packages", g_dir);
    mkdir(sub, 0700);
    snprintf(file, sizeof file, "%s/p.nne", sub);
    FILE *f = fopen(file, "wb");
    if (f) {
        fputs("not really a package: the controller only hashes it", f);
        fclose(f);
    }
    char hex[65];
    uint64_t bytes = 0;
    if (!ctl_file_blake2b(file, hex, &bytes)) abort();
    snprintf(g_request, sizeof g_request,
             "{\"v\":1,\"op\":\"deploy\",\"request\":\"r1\",\"group\":\"g\",\"package\":{\"file\":\"packages/p.nne\","
             "\"name\":\"m\",\"version\":\"1.0.0\",\"counter\":2,\"bytes\":%llu,\"blake2b\":\"%s\"},\"canary\":1,"
             "\"rate\":2,\"abort_threshold\":0.3,\"timeout_s\":60}",
             (unsigned long long)bytes, hex);
    snprintf(g_state, sizeof g_state, "%s/state.json", g_dir);
}

static const char *const k_ids[] = {"node0", "node1", "node2", "node3", "x", "a.b", "", "node0/x"};
static const char *const k_kinds[] = {"birth", "death", "data", "deploy"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static int ready;
    if (!ready) {
        if (sodium_init() < 0) abort();
        setup();
        ready = 1;
    }
    ctl_options o = {.packages = g_dir, .offline_after_ms = 3000, .overload_queue = 4, .overload_p99_ms = 10,
                     .overload_weight_pct = 10, .status_ms = 1000, .quiet = 1, .state_file = g_state};
    unlink(g_state);
    ctl *c = ctl_fuzz_create(&o);
    if (!c) return 0;
    char topic[128], msg[512];
    for (int i = 0; i < 4; i++) {
        snprintf(topic, sizeof topic, "nnedge/node/node%d/birth", i);
        snprintf(msg, sizeof msg,
                 "{\"v\":1,\"id\":\"node%d\",\"group\":\"g\",\"bdseq\":5,\"serve\":\"up\",\"store\":{\"current\":"
                 "{\"name\":\"m\",\"version\":\"0.9\",\"counter\":1},\"previous\":null}}",
                 i);
        ctl_fuzz_message(c, topic, msg, (int)strlen(msg), 1);
    }
    ctl_fuzz_message(c, "nnedge/fleet/request", g_request, (int)strlen(g_request), 0);
    size_t off = 0;
    while (off + 4 <= size) {
        uint8_t kind = data[off], node = data[off + 1];
        size_t len = (size_t)data[off + 2] | (size_t)data[off + 3] << 8;
        off += 4;
        if (len > size - off) len = size - off;
        if (kind % 5 == 4) snprintf(topic, sizeof topic, "nnedge/fleet/request");
        else snprintf(topic, sizeof topic, "nnedge/node/%s/%s", k_ids[node % 8], k_kinds[kind % 5]);
        ctl_fuzz_message(c, topic, data + off, (int)len, kind >= 128); /* the high bit: retained */
        off += len;
    }
    ctl_fuzz_destroy(c); /* saves the state file */
    /* the saved state must load back */
    c = ctl_fuzz_create(&o);
    if (c && !ctl_fuzz_load(c)) abort();
    ctl_fuzz_destroy(c);
    return 0;
}
