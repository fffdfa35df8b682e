/* stats_sort.c - sort snapshot rows by n with an LSD radix sort.
 *
 * GetStats sorts every snapshot, and with 10000 distinct n qsort() spends
 * about a millisecond in its comparison callback. Here the rows are reduced
 * to 64-bit keys (n << 32 | row index), the keys are radix-sorted a byte of
 * n at a time (bytes that are the same in every key are skipped, so small
 * n take two passes), and the rows are gathered in key order. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stats_sort.h"
#include "mem.h"

/* One counting-sort pass over byte `shift / 8` of the keys, src -> dst.
 * Returns 0 when every key has the same byte there (nothing moved). */
static int radix_pass(const uint64_t *src, uint64_t *dst, size_t len,
                      unsigned shift) {
    size_t count[256] = {0}, pos[256], sum = 0;
    for (size_t i = 0; i < len; i++) count[(src[i] >> shift) & 0xff]++;
    for (unsigned b = 0; b < 256; b++) {
        if (count[b] == len) return 0;
        pos[b] = sum;
        sum += count[b];
    }
    for (size_t i = 0; i < len; i++)
        dst[pos[(src[i] >> shift) & 0xff]++] = src[i];
    return 1;
}

void stats_sort_rows(stats_row **rows, size_t len) {
    if (len < 2) return;
    uint64_t *keys = xmalloc(2 * len * sizeof(*keys));
    uint64_t *tmp = keys + len;
    stats_row *sorted = xmalloc(len * sizeof(*sorted));
    for (size_t i = 0; i < len; i++) {
        keys[i] = (uint64_t)(uint32_t)(*rows)[i].n << 32 | i;
    }
    for (unsigned shift = 32; shift < 64; shift += 8) {
        if (radix_pass(keys, tmp, len, shift)) {
            uint64_t *swap = keys;
            keys = tmp;
            tmp = swap;
        }
    }
    for (size_t i = 0; i < len; i++) sorted[i] = (*rows)[(uint32_t)keys[i]];

    free(keys < tmp ? keys : tmp);      /* the start of the one block */
    free(*rows);
    *rows = sorted;
}
