/* gmpbench.c - the anchor of the cold big n benchmark: what GMP alone
 * spends on F(n) in decimal, with none of the service around it.
 *
 *   gmpbench N COUNT
 *
 * Computes F(N), F(N+1), ..., F(N+COUNT-1), each with mpz_fib_ui and
 * mpz_get_str into a buffer of its own (the two calls a service cannot do
 * without), and prints one JSON line: n, count and the process CPU time
 * per value in microseconds (user + system, so comparable with the
 * daemon's /proc figures), plus the same for mpz_fib_ui alone.
 *
 * gmp_decimals() is the measured loop, by that name for valgrind's
 * --toggle-collect (bench/instructions counts its instructions). */
#include <gmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double cpu_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

/* F(n) .. F(n+count-1) in decimal; how many came out non-empty. */
__attribute__((noinline)) static long gmp_decimals(unsigned long n,
                                                   long count) {
    long made = 0;
    for (long i = 0; i < count; i++) {
        mpz_t f;
        mpz_init(f);
        mpz_fib_ui(f, n + (unsigned long)i);
        char *s = malloc(mpz_sizeinbase(f, 10) + 2);
        if (s == NULL) {
            fprintf(stderr, "gmpbench: out of memory\n");
            exit(1);
        }
        mpz_get_str(s, 10, f);
        made += (s[0] != '\0');
        free(s);
        mpz_clear(f);
    }
    return made;
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: gmpbench N COUNT\n");
        return 2;
    }
    char *end;
    unsigned long n = strtoul(argv[1], &end, 10);
    long count = strtol(argv[2], NULL, 10);
    if (*end != '\0' || count <= 0) {
        fprintf(stderr, "gmpbench: N and COUNT must be positive numbers\n");
        return 2;
    }

    double t0 = cpu_us();
    long made = gmp_decimals(n, count);
    double t1 = cpu_us();
    for (long i = 0; i < count; i++) {
        mpz_t f;
        mpz_init(f);
        mpz_fib_ui(f, n + (unsigned long)i);
        mpz_clear(f);
    }
    double t2 = cpu_us();
    if (made != count) return 1;
    printf("{\"n\":%lu,\"count\":%ld,\"cpu_us\":%.1f,\"fib_only_us\":%.1f}\n",
           n, count, (t1 - t0) / (double)count, (t2 - t1) / (double)count);
    return 0;
}
