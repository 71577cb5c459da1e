/* rollup.h - per-bucket aggregation of readings (count, min, max, sums), the
 * store's "series" operation for backends that only scan. */
#ifndef CARBON_ROLLUP_H
#define CARBON_ROLLUP_H
#include "store/store.h"

/* Streams readings (ascending ts) into buckets of step_ms aligned to the
 * epoch; each non-empty bucket goes to fn when the next one starts and at
 * rollup_finish. */
struct rollup {
    int64_t step_ms;
    struct store_bucket cur;
    store_bucket_fn fn;
    void *arg;
    bool stopped;
};

void rollup_init(struct rollup *r, int64_t step_ms, store_bucket_fn fn, void *arg);
/* Folds one reading into b (count, min, max, sums; an empty b takes the
 * reading's CO as min and max). */
void rollup_bucket_add(struct store_bucket *b, const struct reading *rd);
/* A store_scan_fn: feed it readings in ascending ts. */
bool rollup_add(void *rollup, const struct reading *rd);
/* Adds an aggregate of readings that all fall in one bucket of this rollup
 * (a stored per-minute rollup, when step_ms is a multiple of a minute);
 * part->start orders it like a reading's ts. */
bool rollup_add_part(struct rollup *r, const struct store_bucket *part);
/* Emits the last bucket. */
void rollup_finish(struct rollup *r);

#endif
