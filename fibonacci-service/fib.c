/* fib.c - Fibonacci numbers: the int64 table for small n and exact values
 * of any size from GMP. */
#include <gmp.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fib.h"
#include "mem.h"

/* F(0) .. F(92): every Fibonacci number that fits an int64. */
static const int64_t fib_table[FIB_SMALL_MAX + 1] = {
    0LL, 1LL, 1LL,
    2LL, 3LL, 5LL,
    8LL, 13LL, 21LL,
    34LL, 55LL, 89LL,
    144LL, 233LL, 377LL,
    610LL, 987LL, 1597LL,
    2584LL, 4181LL, 6765LL,
    10946LL, 17711LL, 28657LL,
    46368LL, 75025LL, 121393LL,
    196418LL, 317811LL, 514229LL,
    832040LL, 1346269LL, 2178309LL,
    3524578LL, 5702887LL, 9227465LL,
    14930352LL, 24157817LL, 39088169LL,
    63245986LL, 102334155LL, 165580141LL,
    267914296LL, 433494437LL, 701408733LL,
    1134903170LL, 1836311903LL, 2971215073LL,
    4807526976LL, 7778742049LL, 12586269025LL,
    20365011074LL, 32951280099LL, 53316291173LL,
    86267571272LL, 139583862445LL, 225851433717LL,
    365435296162LL, 591286729879LL, 956722026041LL,
    1548008755920LL, 2504730781961LL, 4052739537881LL,
    6557470319842LL, 10610209857723LL, 17167680177565LL,
    27777890035288LL, 44945570212853LL, 72723460248141LL,
    117669030460994LL, 190392490709135LL, 308061521170129LL,
    498454011879264LL, 806515533049393LL, 1304969544928657LL,
    2111485077978050LL, 3416454622906707LL, 5527939700884757LL,
    8944394323791464LL, 14472334024676221LL, 23416728348467685LL,
    37889062373143906LL, 61305790721611591LL, 99194853094755497LL,
    160500643816367088LL, 259695496911122585LL, 420196140727489673LL,
    679891637638612258LL, 1100087778366101931LL, 1779979416004714189LL,
    2880067194370816120LL, 4660046610375530309LL, 7540113804746346429LL,
};

int64_t fib_small(int n) {
    return fib_table[n];
}

size_t fib_small_decimal(int n, char *buf) {
    int len = snprintf(buf, FIB_SMALL_DIGITS, "%" PRId64, fib_table[n]);
    return (size_t)len;
}

static void *gmp_alloc(size_t size) {
    return xmalloc(size);
}

static void *gmp_realloc(void *p, size_t old_size, size_t new_size) {
    (void)old_size;
    return xrealloc(p, new_size);
}

static void gmp_free(void *p, size_t size) {
    (void)size;
    free(p);
}

void fib_use_mem_policy(void) {
    mp_set_memory_functions(gmp_alloc, gmp_realloc, gmp_free);
}

char *fib_decimal(unsigned long n, size_t *len) {
    mpz_t f;
    mpz_init(f);
    mpz_fib_ui(f, n);

    /* mpz_sizeinbase may overstate the digit count by one; +2 leaves room
     * for that and the NUL, and strlen below gives the true length. */
    size_t cap = mpz_sizeinbase(f, 10) + 2;
    char *s = xmalloc(cap);
    mpz_get_str(s, 10, f);
    *len = strlen(s);
    mpz_clear(f);
    return s;
}
