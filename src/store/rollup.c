/* rollup.c - per-bucket aggregation of readings for the store's series op. */
#include "store/rollup.h"

static int64_t floor_div(int64_t a, int64_t b)
{
    return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

void rollup_init(struct rollup *r, int64_t step_ms, store_bucket_fn fn, void *arg)
{
    *r = (struct rollup){.step_ms = step_ms, .fn = fn, .arg = arg};
}

static void emit(struct rollup *r)
{
    if (r->cur.count && !r->stopped && !r->fn(r->arg, &r->cur))
        r->stopped = true;
}

void rollup_bucket_add(struct store_bucket *b, const struct reading *rd)
{
    if (!b->count)
        b->co_min = b->co_max = rd->co_ppm;
    b->count++;
    b->co_sum += rd->co_ppm;
    if (rd->co_ppm < b->co_min)
        b->co_min = rd->co_ppm;
    if (rd->co_ppm > b->co_max)
        b->co_max = rd->co_ppm;
    if (rd->flags & READING_HAS_TEMP) {
        b->temp_n++;
        b->temp_sum += rd->temp_c;
    }
    if (rd->flags & READING_HAS_HUM) {
        b->hum_n++;
        b->hum_sum += rd->hum_pct;
    }
}

bool rollup_add(void *arg, const struct reading *rd)
{
    struct rollup *r = arg;
    int64_t start = floor_div(rd->ts_ms, r->step_ms) * r->step_ms;
    if (!r->cur.count || start != r->cur.start) {
        emit(r);
        r->cur = (struct store_bucket){.start = start};
    }
    rollup_bucket_add(&r->cur, rd);
    return !r->stopped;
}

bool rollup_add_part(struct rollup *r, const struct store_bucket *part)
{
    int64_t start = floor_div(part->start, r->step_ms) * r->step_ms;
    if (!part->count)
        return !r->stopped;
    if (!r->cur.count || start != r->cur.start) {
        emit(r);
        r->cur =
            (struct store_bucket){.start = start, .co_min = part->co_min, .co_max = part->co_max};
    }
    struct store_bucket *b = &r->cur;
    b->count += part->count;
    b->co_sum += part->co_sum;
    if (part->co_min < b->co_min)
        b->co_min = part->co_min;
    if (part->co_max > b->co_max)
        b->co_max = part->co_max;
    b->temp_n += part->temp_n;
    b->temp_sum += part->temp_sum;
    b->hum_n += part->hum_n;
    b->hum_sum += part->hum_sum;
    return !r->stopped;
}

void rollup_finish(struct rollup *r)
{
    emit(r);
    r->cur.count = 0;
}
