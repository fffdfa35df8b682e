/* log.h - structured logging: one JSON object per line on stderr.
 *
 * Every line carries "time" (RFC 3339, UTC, microseconds), "level",
 * "service" and "event", then the event's own fields in the order added:
 *
 *   log_line l;
 *   if (log_begin(&l, LOG_DEBUG, "getfib")) {
 *       log_int(&l, "n", n);
 *       log_str(&l, "peer", peer);
 *       log_end(&l);
 *   }
 *
 * A line is built in a stack buffer and written with one write(2), so lines
 * from concurrent threads never interleave. Strings are JSON-escaped; a line
 * longer than LOG_LINE_MAX is cut and marked "truncated":true. */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define LOG_LINE_MAX 2048

typedef enum {
    LOG_DEBUG = 0,
    LOG_INFO,
    LOG_WARN,
    LOG_ERROR
} log_level;

typedef struct {
    char   buf[LOG_LINE_MAX];
    size_t len;
    bool   truncated;
} log_line;

/* Set the service name printed in every line and the lowest level written.
 * Before log_init() the service is "unknown" and the level LOG_INFO. */
void log_init(const char *service, log_level min_level);

/* "debug", "info", "warn" (or "warning"), "error"; 0 on success, -1 if the
 * name is not a level. */
int log_parse_level(const char *name, log_level *out);
const char *log_level_name(log_level level);

/* True when lines at this level are written; cheap, lock-free. */
bool log_enabled(log_level level);

/* Start a line. Returns false (and writes nothing) when the level is
 * filtered out; the caller then skips the field calls and log_end(). */
bool log_begin(log_line *l, log_level level, const char *event);

void log_str(log_line *l, const char *key, const char *value); /* NULL: null */
void log_strn(log_line *l, const char *key, const char *value, size_t len);
void log_int(log_line *l, const char *key, long long value);
void log_uint(log_line *l, const char *key, unsigned long long value);
void log_double(log_line *l, const char *key, double value);
void log_bool(log_line *l, const char *key, bool value);

/* Close the object and write it, with a newline, to stderr. */
void log_end(log_line *l);

/* One-call form for lines with a single human-readable "msg" field. */
void log_msg(log_level level, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Write n bytes of `s` to `f` as a JSON string literal, escaped as in log
 * lines but with no length limit. For tools that print JSON (fibctl). */
void log_json_fwrite(FILE *f, const char *s, size_t n);

#endif
