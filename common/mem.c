/* mem.c - allocation wrappers that log and abort on out-of-memory (see
 * mem.h for why). */
#include "mem.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"

_Noreturn void mem_oom(size_t size) {
    /* log_msg() formats on the stack: it allocates nothing */
    log_msg(LOG_ERROR, "out_of_memory", "cannot allocate %zu bytes: aborting",
            size);
    abort();
}

void *xmalloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (p == NULL) mem_oom(size);
    return p;
}

void *xcalloc(size_t count, size_t size) {
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (p == NULL) mem_oom(count * size);
    return p;
}

void *xrealloc(void *p, size_t size) {
    void *q = realloc(p, size ? size : 1);
    if (q == NULL) mem_oom(size);
    return q;
}

char *xstrdup(const char *s) {
    return xmemdupz(s, strlen(s));
}

char *xmemdupz(const void *p, size_t n) {
    char *s = xmalloc(n + 1);
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}
