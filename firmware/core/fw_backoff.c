/* fw_backoff.c - exponential backoff with equal jitter (see fw_backoff.h). */
#include "fw_backoff.h"

void fw_backoff_init(struct fw_backoff *b, int64_t min_ms, int64_t max_ms)
{
    *b = (struct fw_backoff){.min_ms = min_ms > 0 ? min_ms : 1,
                             .max_ms = max_ms > min_ms ? max_ms : (min_ms > 0 ? min_ms : 1)};
}

int64_t fw_backoff_fail(struct fw_backoff *b, uint32_t rnd)
{
    if (b->step_ms == 0)
        b->step_ms = b->min_ms;
    else if (b->step_ms < b->max_ms)
        b->step_ms = b->step_ms > b->max_ms / 2 ? b->max_ms : b->step_ms * 2;
    b->failures++;
    int64_t half = b->step_ms / 2;
    return b->step_ms - half + (int64_t)(rnd % (uint64_t)(half + 1));
}

void fw_backoff_reset(struct fw_backoff *b)
{
    b->step_ms = 0;
    b->failures = 0;
}
