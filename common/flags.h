/* flags.h - table-driven command-line flags for the daemons.
 *
 * Flags are GNU-style long options: "--name value" or "--name=value".
 * Every daemon gets --help and --version for free. A flag may name an
 * environment variable used when the flag is not given (the original Go
 * system's PORT and STATS_SERVICE_URL). */
#ifndef COMMON_FLAGS_H
#define COMMON_FLAGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    FLAG_STRING,    /* const char **     */
    FLAG_INT,       /* long long *; decimal, range-checked */
    FLAG_SIZE,      /* long long * bytes; accepts k, m, g suffixes (1024s) */
    FLAG_DURATION,  /* long long * ns; needs a unit: ns, us, ms, s, m */
    FLAG_BOOL,      /* bool *; "--name" sets true, "--name=false" clears */
    FLAG_LOG_LEVEL  /* log_level *; debug, info, warn, error (log.h) */
} flag_type;

typedef struct {
    const char *name;       /* without the leading dashes */
    flag_type   type;
    void       *dst;        /* holds the default on entry */
    long long   min, max;   /* FLAG_INT/SIZE/DURATION bounds (inclusive);
                               both 0: unbounded (sizes, durations >= 0) */
    const char *env;        /* environment fallback, or NULL */
    const char *help;       /* one line for --help */
} flag_def;

/* Parse argv into the table (terminated by an entry with name NULL).
 * Returns 0 to go on, 1 when --help or --version was printed (exit 0), and
 * -1 after printing "prog: <what is wrong>" to stderr (exit 2). Env values
 * are parsed like the flag and reported as "$PORT" in errors. */
int flags_parse(int argc, char **argv, const flag_def *defs,
                const char *prog, const char *version, const char *summary);

/* Parse a duration as FLAG_DURATION does ("250ms", "1m30s", "0") into
 * nanoseconds; 0 on success, -1 if malformed or out of range. For tools
 * that parse their own arguments (fibctl). */
int flags_parse_duration(const char *s, long long *ns);

/* The original system's PORT=N: serve on 0.0.0.0:N. Call before
 * flags_parse() with *listen holding the default: it only moves the default,
 * so an explicit --listen still wins. `buf` (at least 32 bytes) must outlive
 * *listen. Returns 0 (also when $PORT is unset or empty), or -1 after
 * printing "prog: $PORT: 'x' is not a port number (1..65535)". */
int flags_listen_from_env(const char *prog, const char **listen, char *buf,
                          size_t cap);

/* Number of online cores, at least 1. */
int flags_ncpu(void);

#endif
