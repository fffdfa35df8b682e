/* flags.c - table-driven GNU-style long flags with env fallback, --help and
 * --version.
 *
 * Values are parsed into the caller's variables, which hold the defaults on
 * entry. Every error is one line on stderr naming the flag (or "$ENV") and
 * the offending text. */
#include "flags.h"
#include "log.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- value parsers: 0 on success, else -1 with why[] filled --------------- */

static int parse_ll(const char *s, long long *out) {
    if (*s == '\0' || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (*end != '\0') return -1;
    if (errno == ERANGE) return -2;
    *out = v;
    return 0;
}

/* "512", "64k", "16m", "1g" (powers of 1024, optional trailing b). */
static int parse_size(const char *s, long long *out) {
    if (!isdigit((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno == ERANGE) return -2;
    unsigned long long mul = 1;
    switch (tolower((unsigned char)*end)) {
    case 'k': mul = 1ULL << 10; end++; break;
    case 'm': mul = 1ULL << 20; end++; break;
    case 'g': mul = 1ULL << 30; end++; break;
    default: break;
    }
    if (tolower((unsigned char)*end) == 'b') end++;
    if (*end != '\0') return -1;
    if (v > (unsigned long long)LLONG_MAX / mul) return -2;
    *out = (long long)(v * mul);
    return 0;
}

/* A Go-like duration: one or more <number>[.<fraction>]<unit> with units
 * ns, us, ms, s, m, h ("1m30s", "1.5s", "250ms"); a bare "0" is allowed. */
static int parse_duration(const char *s, long long *out) {
    static const struct { const char *u; long long ns; } units[] = {
        {"ns", 1}, {"us", 1000}, {"ms", 1000000}, {"s", 1000000000LL},
        {"m", 60000000000LL}, {"h", 3600000000000LL},
    };
    if (strcmp(s, "0") == 0) { *out = 0; return 0; }
    if (*s == '\0') return -1;
    long long total = 0;
    while (*s) {
        if (!isdigit((unsigned char)*s) && *s != '.') return -1;
        unsigned long long whole = 0, frac = 0, scale = 1;
        int digits = 0;
        for (; isdigit((unsigned char)*s); s++, digits++) {
            if (whole > (ULLONG_MAX - 9) / 10) return -2;
            whole = whole * 10 + (unsigned)(*s - '0');
        }
        if (*s == '.') {
            for (s++; isdigit((unsigned char)*s); s++, digits++) {
                if (scale < 1000000000000000000ULL) {
                    frac = frac * 10 + (unsigned)(*s - '0');
                    scale *= 10;
                }
            }
        }
        if (digits == 0) return -1;
        size_t ul = 0;
        long long unit = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
            size_t l = strlen(units[i].u);
            /* "m" must not match the start of "ms". */
            if (strncmp(s, units[i].u, l) == 0 && l > ul &&
                !(l == 1 && s[0] == 'm' && s[1] == 's')) {
                ul = l;
                unit = units[i].ns;
            }
        }
        if (ul == 0) return -3;
        s += ul;
        if (whole > (unsigned long long)LLONG_MAX / (unsigned long long)unit)
            return -2;
        unsigned long long part = whole * (unsigned long long)unit +
            (unsigned long long)((double)frac * (double)unit / (double)scale);
        if (part > (unsigned long long)(LLONG_MAX - total)) return -2;
        total += (long long)part;
    }
    *out = total;
    return 0;
}

static int parse_bool(const char *s, bool *out) {
    if (!strcmp(s, "true") || !strcmp(s, "1") || !strcmp(s, "yes")) *out = true;
    else if (!strcmp(s, "false") || !strcmp(s, "0") || !strcmp(s, "no"))
        *out = false;
    else return -1;
    return 0;
}

static void bounds(const flag_def *d, long long *lo, long long *hi) {
    *lo = d->min;
    *hi = d->max;
    if (d->min == 0 && d->max == 0) {      /* no bounds given */
        *lo = d->type == FLAG_INT ? LLONG_MIN : 0;
        *hi = LLONG_MAX;
    }
}

/* Parse `val` into d->dst; `who` is "--name" or "$ENV" for the message. */
static int set_value(const flag_def *d, const char *who, const char *val,
                     const char *prog) {
    long long v = 0, lo, hi;
    int rc = 0;
    switch (d->type) {
    case FLAG_STRING:
        *(const char **)d->dst = val;
        return 0;
    case FLAG_BOOL:
        if (parse_bool(val, (bool *)d->dst) == 0) return 0;
        fprintf(stderr, "%s: %s: '%s' is not a boolean (true or false)\n",
                prog, who, val);
        return -1;
    case FLAG_LOG_LEVEL:
        if (log_parse_level(val, (log_level *)d->dst) == 0) return 0;
        fprintf(stderr, "%s: %s: '%s' is not a level (debug, info, warn, "
                "error)\n", prog, who, val);
        return -1;
    case FLAG_INT:
        rc = parse_ll(val, &v);
        if (rc == -1) {
            fprintf(stderr, "%s: %s: '%s' is not an integer\n", prog, who, val);
            return -1;
        }
        break;
    case FLAG_SIZE:
        rc = parse_size(val, &v);
        if (rc == -1) {
            fprintf(stderr,
                    "%s: %s: '%s' is not a size (bytes, or with k, m, g)\n",
                    prog, who, val);
            return -1;
        }
        break;
    case FLAG_DURATION:
        rc = parse_duration(val, &v);
        if (rc == -1 || rc == -3) {
            fprintf(stderr, "%s: %s: '%s' is not a duration (a number with a "
                    "unit: ns, us, ms, s, m, h)\n", prog, who, val);
            return -1;
        }
        break;
    }
    bounds(d, &lo, &hi);
    if (rc == -2 || v < lo || v > hi) {
        fprintf(stderr, "%s: %s: '%s' is out of range (%lld..%lld)\n",
                prog, who, val, lo, hi);
        return -1;
    }
    *(long long *)d->dst = v;
    return 0;
}

/* --- --help --------------------------------------------------------------- */

static void format_default(const flag_def *d, char *buf, size_t n) {
    long long v;
    switch (d->type) {
    case FLAG_STRING: {
        const char *s = *(const char **)d->dst;
        snprintf(buf, n, "\"%s\"", s ? s : "");
        return;
    }
    case FLAG_BOOL:
        snprintf(buf, n, "%s", *(bool *)d->dst ? "true" : "false");
        return;
    case FLAG_LOG_LEVEL:
        snprintf(buf, n, "%s", log_level_name(*(log_level *)d->dst));
        return;
    case FLAG_INT:
        snprintf(buf, n, "%lld", *(long long *)d->dst);
        return;
    case FLAG_SIZE:
        v = *(long long *)d->dst;
        if (v && v % (1LL << 30) == 0) snprintf(buf, n, "%lldg", v >> 30);
        else if (v && v % (1LL << 20) == 0) snprintf(buf, n, "%lldm", v >> 20);
        else if (v && v % (1LL << 10) == 0) snprintf(buf, n, "%lldk", v >> 10);
        else snprintf(buf, n, "%lld", v);
        return;
    case FLAG_DURATION:
        v = *(long long *)d->dst;
        if (v == 0) snprintf(buf, n, "0");
        else if (v % 1000000000LL == 0)
            snprintf(buf, n, "%llds", v / 1000000000LL);
        else if (v % 1000000LL == 0) snprintf(buf, n, "%lldms", v / 1000000LL);
        else if (v % 1000LL == 0) snprintf(buf, n, "%lldus", v / 1000LL);
        else snprintf(buf, n, "%lldns", v);
        return;
    }
}

static const char *metavar(flag_type t) {
    switch (t) {
    case FLAG_STRING: return "STRING";
    case FLAG_INT: return "N";
    case FLAG_SIZE: return "SIZE";
    case FLAG_DURATION: return "DURATION";
    case FLAG_BOOL: return "";
    case FLAG_LOG_LEVEL: return "LEVEL";
    }
    return "";
}

static void print_help(const flag_def *defs, const char *prog,
                       const char *summary) {
    printf("Usage: %s [flags]\n", prog);
    if (summary && *summary) printf("\n%s\n", summary);
    printf("\nFlags:\n");
    for (const flag_def *d = defs; d->name; d++) {
        char def[128], left[96];
        format_default(d, def, sizeof(def));
        snprintf(left, sizeof(left), "--%s%s%s", d->name,
                 d->type == FLAG_BOOL ? "" : " ", metavar(d->type));
        printf("  %-28s %s (default %s", left, d->help ? d->help : "", def);
        if (d->env) printf("; env $%s", d->env);
        printf(")\n");
    }
    printf("  %-28s %s\n", "--help", "print this help and exit");
    printf("  %-28s %s\n", "--version", "print the version and exit");
}

/* --- the parser ----------------------------------------------------------- */

static const flag_def *find(const flag_def *defs, const char *name,
                            size_t len) {
    for (const flag_def *d = defs; d->name; d++)
        if (strlen(d->name) == len && strncmp(d->name, name, len) == 0)
            return d;
    return NULL;
}

int flags_parse(int argc, char **argv, const flag_def *defs,
                const char *prog, const char *version, const char *summary) {
    size_t ndefs = 0;
    while (defs[ndefs].name) ndefs++;
    bool given[ndefs + 1];
    memset(given, 0, sizeof(given));

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(defs, prog, summary);
            return 1;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("%s %s\n", prog, version);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            fprintf(stderr, "%s: unexpected argument '%s' (see --help)\n", prog,
                    arg);
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
        const flag_def *d = find(defs, name, nlen);
        if (d == NULL) {
            fprintf(stderr, "%s: unknown flag '--%.*s' (see --help)\n",
                    prog, (int)nlen, name);
            return -1;
        }
        char who[128];
        snprintf(who, sizeof(who), "--%s", d->name);
        const char *val;
        if (eq) {
            val = eq + 1;
        } else if (d->type == FLAG_BOOL) {
            val = "true";
        } else if (i + 1 < argc) {
            val = argv[++i];
        } else {
            fprintf(stderr, "%s: %s: missing value\n", prog, who);
            return -1;
        }
        if (set_value(d, who, val, prog) != 0) return -1;
        given[d - defs] = true;
    }

    for (size_t k = 0; k < ndefs; k++) {
        const flag_def *d = &defs[k];
        if (given[k] || d->env == NULL) continue;
        const char *val = getenv(d->env);
        if (val == NULL || *val == '\0') continue;
        char who[128];
        snprintf(who, sizeof(who), "$%s", d->env);
        if (set_value(d, who, val, prog) != 0) return -1;
    }
    return 0;
}

int flags_parse_duration(const char *s, long long *ns) {
    return parse_duration(s, ns) == 0 ? 0 : -1;
}

int flags_listen_from_env(const char *prog, const char **listen, char *buf,
                          size_t cap) {
    const char *port = getenv("PORT");
    char *end;
    long v;

    if (port == NULL || port[0] == '\0') return 0;
    v = strtol(port, &end, 10);
    if (*end != '\0' || port[0] < '0' || port[0] > '9' || v < 1 || v > 65535) {
        fprintf(stderr, "%s: $PORT: '%s' is not a port number (1..65535)\n",
                prog, port);
        return -1;
    }
    snprintf(buf, cap, "0.0.0.0:%ld", v);
    *listen = buf;
    return 0;
}

int flags_ncpu(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : (int)n;
}
