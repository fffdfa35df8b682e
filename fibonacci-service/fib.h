/* fib.h - Fibonacci numbers: a static int64 table for n <= 92 and exact
 * decimal values from GMP above that. Math only: no caching, no I/O. */
#ifndef FIB_H
#define FIB_H

#include <stddef.h>
#include <stdint.h>

/* The largest n whose F(n) fits an int64 (F(92) = 7540113804746346429). */
#define FIB_SMALL_MAX 92

/* Room for the decimal form of any F(n), n <= FIB_SMALL_MAX, with its NUL. */
#define FIB_SMALL_DIGITS 20

/* F(n) for 0 <= n <= FIB_SMALL_MAX, from the table. */
int64_t fib_small(int n);

/* Write F(n), n <= FIB_SMALL_MAX, in decimal into buf (FIB_SMALL_DIGITS
 * bytes); returns the number of digits. */
size_t fib_small_decimal(int n, char *buf);

/* F(n) in decimal for any n, computed with GMP (mpz_fib_ui). Returns a
 * malloc'd NUL-terminated string and its length in *len; the caller frees
 * it. GMP allocates through common/mem.h (fib_use_mem_policy()). */
char *fib_decimal(unsigned long n, size_t *len);

/* Make GMP allocate through common/mem.h, so that running out of memory
 * while computing is logged like any other. Once, before any thread. */
void fib_use_mem_policy(void);

#endif
