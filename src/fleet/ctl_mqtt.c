/*
 * ctl_mqtt.c - helpers of the fleet controller and its client commands:
 * the broker connection (on the agent's fleet_broker, mqtt.c), name checks,
 * JSON field readers that check type and range, BLAKE2b-256 of a file.
 */
#include "fleet/ctl.h"

#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int ctl_broker_setup(struct mosquitto *m, const fleet_broker *b, char *err, size_t cap) {
    if (!fleet_mqtt_configure(m, b, err, cap)) return 0;
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    return 1;
}

int ctl_broker_connect(struct mosquitto *m, const fleet_broker *b, int keepalive, char *err, size_t cap) {
    int rc = mosquitto_connect(m, b->host, b->port, keepalive);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, cap, "cannot connect to the broker %s:%d: %s", b->host, b->port,
                 rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc));
        return 0;
    }
    return 1;
}

static int name_chars(const char *s, const char *extra, size_t max) {
    if (!s) return 0;
    size_t n = 0;
    for (; s[n]; n++) {
        char c = s[n];
        if (n >= max) return 0;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '-')
            continue;
        if (strchr(extra, c)) continue;
        return 0;
    }
    return n > 0;
}

int ctl_name_ok(const char *s) { return s && s[0] != '.' && name_chars(s, ".:", 64); }

int ctl_json_int(const json_t *o, const char *key, int64_t lo, int64_t hi, int64_t *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < lo || x > hi) return -1;
    *out = (int64_t)x;
    return 1;
}

int ctl_json_num(const json_t *o, const char *key, double lo, double hi, double *out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return -1;
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return -1; /* also refuses NaN */
    *out = x;
    return 1;
}

int ctl_json_str(const json_t *o, const char *key, size_t max_len, const char **out) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return -1;
    if (json_string_length(v) > max_len) return -1;
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v)) return -1; /* an embedded NUL */
    *out = s;
    return 1;
}

int ctl_file_blake2b(const char *path, char hex[65], uint64_t *bytes) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    unsigned char buf[1 << 15];
    uint64_t total = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            close(fd);
            return 0;
        }
        if (r == 0) break;
        crypto_generichash_update(&st, buf, (size_t)r);
        total += (uint64_t)r;
    }
    close(fd);
    unsigned char h[32];
    crypto_generichash_final(&st, h, 32);
    sodium_bin2hex(hex, 65, h, 32);
    *bytes = total;
    return 1;
}
