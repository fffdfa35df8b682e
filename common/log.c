/* log.c - structured logging: one JSON object per line on stderr.
 *
 * A line is assembled in the caller's log_line (on its stack) and written
 * with a single write(2). The buffer keeps room for the closing
 * ,"truncated":true}\n so a cut line is still one valid JSON object. */
#include "log.h"

#include <errno.h>
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define LOG_TAIL ",\"truncated\":true}\n"
#define LOG_CAP (LOG_LINE_MAX - sizeof(LOG_TAIL))

static atomic_int log_min = LOG_INFO;
static char log_service[128] = "unknown";

static const char *level_names[] = {"debug", "info", "warn", "error"};

void log_init(const char *service, log_level min_level) {
    snprintf(log_service, sizeof(log_service), "%s",
             service ? service : "unknown");
    atomic_store(&log_min, (int)min_level);
}

int log_parse_level(const char *name, log_level *out) {
    if (name == NULL) return -1;
    for (int i = LOG_DEBUG; i <= LOG_ERROR; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LOG_WARN;
        return 0;
    }
    return -1;
}

const char *log_level_name(log_level level) {
    if (level < LOG_DEBUG || level > LOG_ERROR) return "unknown";
    return level_names[level];
}

bool log_enabled(log_level level) {
    return (int)level >= atomic_load_explicit(&log_min, memory_order_relaxed);
}

/* --- building the line ---------------------------------------------------- */

/* Append raw bytes if they fit; otherwise mark the line truncated. */
static bool put(log_line *l, const char *s, size_t n) {
    if (l->truncated || l->len + n > LOG_CAP) {
        l->truncated = true;
        return false;
    }
    memcpy(l->buf + l->len, s, n);
    l->len += n;
    return true;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n) {
    size_t len;
    unsigned min;
    unsigned cp;
    if (s[0] >= 0xC2 && s[0] <= 0xDF) {
        len = 2; cp = s[0] & 0x1F; min = 0x80;
    } else if ((s[0] & 0xF0) == 0xE0) {
        len = 3; cp = s[0] & 0x0F; min = 0x800;
    } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
        len = 4; cp = s[0] & 0x07; min = 0x10000;
    } else {
        return 0;
    }
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

/* The JSON form of the character at s[0] (n bytes left): points *out at the
 * bytes to write (esc[] when escaped), sets *olen, and returns how many input
 * bytes they stand for. Invalid UTF-8 bytes become U+FFFD. */
static size_t json_unit(const unsigned char *s, size_t n, char esc[8],
                        const char **out, size_t *olen) {
    unsigned char c = s[0];
    size_t step = 1;
    *out = esc;
    *olen = 2;
    if (c == '"' || c == '\\') { esc[0] = '\\'; esc[1] = (char)c; }
    else if (c == '\n') *out = "\\n";
    else if (c == '\r') *out = "\\r";
    else if (c == '\t') *out = "\\t";
    else if (c < 0x20) { snprintf(esc, 8, "\\u%04x", c); *olen = 6; }
    else if (c < 0x80) { *out = (const char *)s; *olen = 1; }
    else if ((step = utf8_len(s, n)) > 0) {
        *out = (const char *)s; *olen = step;
    }
    else { *out = "\\ufffd"; *olen = 6; step = 1; }
    return step;
}

/* Append `s` as a JSON string. When it does not fit, as much as fits is
 * written, the string is closed and the line marked truncated. */
static void put_json_str(log_line *l, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    if (l->truncated || l->len + 2 > LOG_CAP) {   /* both quotes */
        l->truncated = true;
        return;
    }
    l->buf[l->len++] = '"';
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *out;
        size_t olen, step = json_unit(s + i, n - i, esc, &out, &olen);
        if (l->len + olen + 1 > LOG_CAP) {   /* keep room for the quote */
            l->truncated = true;
            break;
        }
        memcpy(l->buf + l->len, out, olen);
        l->len += olen;
        i += step;
    }
    l->buf[l->len++] = '"';   /* room was kept above */
}

void log_json_fwrite(FILE *f, const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    fputc('"', f);
    for (size_t i = 0; i < n;) {
        char esc[8];
        const char *out;
        size_t olen;
        i += json_unit(s + i, n - i, esc, &out, &olen);
        fwrite(out, 1, olen, f);
    }
    fputc('"', f);
}

/* ,"key": -- on failure the line is left as it was before the field. */
static bool put_key(log_line *l, const char *key) {
    if (l->truncated) return false;
    size_t start = l->len;
    put(l, ",", 1);
    put_json_str(l, key, strlen(key));
    if (l->truncated || !put(l, ":", 1)) {
        l->len = start;
        return false;
    }
    return true;
}

static void put_scalar(log_line *l, const char *key, const char *text,
                       size_t n) {
    size_t start = l->len;
    if (!put_key(l, key)) return;
    if (!put(l, text, n)) l->len = start;
}

bool log_begin(log_line *l, log_level level, const char *event) {
    if (!log_enabled(level)) return false;
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    l->truncated = false;
    l->len = (size_t)snprintf(l->buf, LOG_CAP,
        "{\"time\":\"%04d-%02d-%02dT%02d:%02d:%02d.%06ldZ\",\"level\":\"%s\"",
        tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
        tm.tm_sec, ts.tv_nsec / 1000, log_level_name(level));
    log_str(l, "service", log_service);
    log_str(l, "event", event);
    return true;
}

void log_strn(log_line *l, const char *key, const char *value, size_t len) {
    size_t start = l->len;
    if (!put_key(l, key)) return;
    size_t value_at = l->len;
    put_json_str(l, value, len);
    if (l->len == value_at) l->len = start;   /* not even "" fitted */
}

void log_str(log_line *l, const char *key, const char *value) {
    if (value == NULL) put_scalar(l, key, "null", 4);
    else log_strn(l, key, value, strlen(value));
}

void log_int(log_line *l, const char *key, long long value) {
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%lld", value);
    put_scalar(l, key, tmp, (size_t)n);
}

void log_uint(log_line *l, const char *key, unsigned long long value) {
    char tmp[32];
    int n = snprintf(tmp, sizeof(tmp), "%llu", value);
    put_scalar(l, key, tmp, (size_t)n);
}

void log_double(log_line *l, const char *key, double value) {
    char tmp[40];
    int n;
    if (!isfinite(value)) n = snprintf(tmp, sizeof(tmp), "null");
    else n = snprintf(tmp, sizeof(tmp), "%.15g", value);
    put_scalar(l, key, tmp, (size_t)n);
}

void log_bool(log_line *l, const char *key, bool value) {
    if (value) put_scalar(l, key, "true", 4);
    else put_scalar(l, key, "false", 5);
}

void log_end(log_line *l) {
    /* LOG_CAP left room for the tail. */
    const char *tail = l->truncated ? LOG_TAIL : "}\n";
    size_t n = strlen(tail);
    memcpy(l->buf + l->len, tail, n);
    l->len += n;
    size_t off = 0;
    while (off < l->len) {
        ssize_t w = write(STDERR_FILENO, l->buf + off, l->len - off);
        if (w < 0) {
            if (errno == EINTR) continue;
            break;
        }
        off += (size_t)w;
    }
}

void log_msg(log_level level, const char *event, const char *fmt, ...) {
    log_line l;
    if (!log_begin(&l, level, event)) return;
    char msg[LOG_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    log_str(&l, "msg", msg);
    log_end(&l);
}
