/*
 * ctl_mqtt.c - helpers of the fleet controller and its client commands:
 * broker URL, password file and TLS for libmosquitto, name checks, JSON
 * field readers that check type and range, BLAKE2b-256 of a file.
 * (The agent has its own in mqtt.c; these could be shared later.)
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

int ctl_broker_parse(const char *url, ctl_broker *b, char *err, size_t cap) {
    memset(b->host, 0, sizeof b->host);
    const char *p;
    if (strncmp(url, "mqtt://", 7) == 0) {
        b->tls = 0;
        b->port = 1883;
        p = url + 7;
    } else if (strncmp(url, "mqtts://", 8) == 0) {
        b->tls = 1;
        b->port = 8883;
        p = url + 8;
    } else {
        snprintf(err, cap, "--broker %s: expected mqtt://HOST[:PORT] or mqtts://HOST[:PORT]", url);
        return 0;
    }
    const char *colon = strrchr(p, ':');
    const char *end = p + strlen(p);
    if (end > p && end[-1] == '/') end--;
    if (colon && colon < end && p[0] != '[') {
        char *e;
        errno = 0;
        long port = strtol(colon + 1, &e, 10);
        if (errno || e != end || port < 1 || port > 65535) {
            snprintf(err, cap, "--broker %s: the port must be 1..65535", url);
            return 0;
        }
        b->port = (int)port;
        end = colon;
    }
    size_t n = (size_t)(end - p);
    if (n == 0 || n >= sizeof b->host) {
        snprintf(err, cap, "--broker %s: no host name", url);
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (!(c == '.' || c == '-' || c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z'))) {
            snprintf(err, cap, "--broker %s: bad character in the host name", url);
            return 0;
        }
    }
    memcpy(b->host, p, n);
    return 1;
}

int ctl_broker_password(const char *path, ctl_broker *b, char *err, size_t cap) {
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "--password-file %s: %s", path, strerror(errno));
        return 0;
    }
    char line[sizeof b->password + 2];
    if (!fgets(line, sizeof line, f)) line[0] = 0;
    fclose(f);
    size_t n = strcspn(line, "\r\n");
    if (n == 0 || n >= sizeof b->password) {
        snprintf(err, cap, "--password-file %s: expected the password on the first line (1..255 bytes)", path);
        return 0;
    }
    memcpy(b->password, line, n);
    b->password[n] = 0;
    b->has_password = 1;
    sodium_memzero(line, sizeof line);
    return 1;
}

int ctl_broker_setup(struct mosquitto *m, const ctl_broker *b, char *err, size_t cap) {
    int rc = MOSQ_ERR_SUCCESS;
    if (b->user || b->has_password) rc = mosquitto_username_pw_set(m, b->user, b->has_password ? b->password : NULL);
    if (rc != MOSQ_ERR_SUCCESS) {
        snprintf(err, cap, "broker user/password: %s", mosquitto_strerror(rc));
        return 0;
    }
    mosquitto_int_option(m, MOSQ_OPT_PROTOCOL_VERSION, MQTT_PROTOCOL_V311);
    if (b->tls) {
        rc = mosquitto_tls_set(m, b->ca, b->ca ? NULL : "/etc/ssl/certs", NULL, NULL, NULL);
        if (rc != MOSQ_ERR_SUCCESS) {
            snprintf(err, cap, "TLS setup (--ca %s): %s", b->ca ? b->ca : "(system)", mosquitto_strerror(rc));
            return 0;
        }
    }
    return 1;
}

int ctl_broker_connect(struct mosquitto *m, const ctl_broker *b, int keepalive, char *err, size_t cap) {
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

int ctl_id_ok(const char *s) { return name_chars(s, "", 64); }
int ctl_name_ok(const char *s) { return s && s[0] != '.' && name_chars(s, ".:", 64); }

int64_t ctl_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t ctl_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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
