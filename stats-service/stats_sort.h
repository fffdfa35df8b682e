/* stats_sort.h - sorting snapshot rows by n. */
#ifndef STATS_SORT_H
#define STATS_SORT_H

#include <stddef.h>

#include "stats_store.h"

/* Sort rows[0..len) by n (every n >= 0, each n once). *rows may be replaced
 * by a new array (the old one is freed). */
void stats_sort_rows(stats_row **rows, size_t len);

#endif
