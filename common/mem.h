/* mem.h - the daemons' one out-of-memory policy: allocate through these
 * wrappers, which never return NULL. When the C library cannot allocate,
 * they log one line (event "out_of_memory", with the size asked for) and
 * abort(), as Redis's zmalloc does: a daemon that cannot allocate a few
 * bytes cannot answer correctly either, and a core dump says where. So
 * callers never test the result, and there are no half-built objects to
 * unwind. GMP and uthash are pointed at the same policy.
 *
 * Free with free(). The nginx module does not use this: it follows
 * nginx's conventions (ngx_alloc, pools, NULL checks). */
#ifndef COMMON_MEM_H
#define COMMON_MEM_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t size);
char *xstrdup(const char *s);
/* n bytes of p (NULs included), then a NUL. */
char *xmemdupz(const void *p, size_t n);

/* Log and abort: for allocators that report failure in their own way. */
_Noreturn void mem_oom(size_t size);

/* uthash allocates through xmalloc() in a file that includes this header
 * before <uthash.h>. */
#define uthash_malloc(size) xmalloc(size)

#endif
