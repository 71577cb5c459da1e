/* downsample.c - min/max per pixel column and gap detection. */
#include "graph/downsample.h"

#include "store/rollup.h"

#include <stdlib.h>

int ds_column(int64_t t, int64_t from, int64_t to, int cols)
{
    if (t <= from || to <= from || cols <= 1)
        return 0;
    if (t >= to)
        return cols - 1;
    /* (t - from) * cols / (to - from) without overflow: ranges are at most
     * centuries of ms (~2^42) and cols at most a few thousand (~2^12). */
    __int128 c = (__int128)(t - from) * cols / (to - from);
    return c >= cols ? cols - 1 : (int)c;
}

static void col_add(struct gcol *c, const struct reading *r)
{
    if (c->agg.count == 0)
        *c = (struct gcol){.t_first = r->ts_ms, .t_min = r->ts_ms, .t_max = r->ts_ms};
    c->t_last = r->ts_ms;
    if (c->agg.count && r->co_ppm < c->agg.co_min)
        c->t_min = r->ts_ms;
    if (c->agg.count && r->co_ppm > c->agg.co_max)
        c->t_max = r->ts_ms;
    rollup_bucket_add(&c->agg, r);
}

size_t ds_minmax(const struct reading *r, size_t n, int64_t from, int64_t to, int cols,
                 struct gcol *out)
{
    size_t k = 0;
    int cur = -1;
    for (size_t i = 0; i < n; i++) {
        int c = ds_column(r[i].ts_ms, from, to, cols);
        if (c != cur) {
            cur = c;
            out[k++].agg.count = 0;
        }
        col_add(&out[k - 1], &r[i]);
    }
    return k;
}

void ds_from_bucket(const struct store_bucket *b, int64_t step_ms, struct gcol *out)
{
    int64_t mid = b->start + step_ms / 2;
    *out = (struct gcol){.t_first = b->start,
                         .t_last = b->start + step_ms - 1,
                         .t_min = mid,
                         .t_max = mid,
                         .agg = *b};
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t ds_typical_interval(const struct reading *r, size_t n)
{
    if (n < 2)
        return 0;
    int64_t *d = malloc((n - 1) * sizeof *d);
    if (!d)
        return 0;
    for (size_t i = 1; i < n; i++)
        d[i - 1] = r[i].ts_ms - r[i - 1].ts_ms;
    qsort(d, n - 1, sizeof *d, cmp_i64);
    int64_t med = d[(n - 1) / 2];
    free(d);
    return med;
}

bool ds_is_gap(const struct gcol *a, const struct gcol *b, int64_t typical_ms, int64_t min_gap_ms)
{
    int64_t silence = b->t_first - a->t_last;
    if (typical_ms <= 0)
        return false; /* a single reading: nothing to compare with */
    int64_t limit = typical_ms > INT64_MAX / DS_GAP_FACTOR ? INT64_MAX : typical_ms * DS_GAP_FACTOR;
    if (limit < min_gap_ms)
        limit = min_gap_ms;
    return silence > limit;
}
