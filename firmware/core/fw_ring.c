/* fw_ring.c - the offline ring buffer of readings (see fw_ring.h). */
#include "fw_ring.h"

#include <stddef.h>

void fw_ring_init(struct fw_ring *ring, uint32_t cap)
{
    ring->cap = cap < 1 ? 1 : cap > FW_RING_CAP ? FW_RING_CAP : cap;
    ring->head = 0;
    ring->n = 0;
    ring->dropped = 0;
}

static uint32_t slot(const struct fw_ring *ring, uint32_t i)
{
    return (ring->head + i) % ring->cap;
}

struct fw_reading *fw_ring_at(struct fw_ring *ring, uint32_t i)
{
    return i < ring->n ? &ring->r[slot(ring, i)] : NULL;
}

uint32_t fw_ring_count(const struct fw_ring *ring)
{
    return ring->n;
}

void fw_ring_pop(struct fw_ring *ring, uint32_t n)
{
    if (n > ring->n)
        n = ring->n;
    ring->head = slot(ring, n);
    ring->n -= n;
}

/* Removes the i-th oldest, closing the gap by moving the older ones up. */
static void remove_at(struct fw_ring *ring, uint32_t i)
{
    for (uint32_t j = i; j > 0; j--)
        ring->r[slot(ring, j)] = ring->r[slot(ring, j - 1)];
    fw_ring_pop(ring, 1);
}

int fw_ring_push(struct fw_ring *ring, const struct fw_reading *r, double keep_ppm)
{
    int dropped = 0;
    if (ring->n == ring->cap) {
        uint32_t victim = 0;
        for (uint32_t i = 0; i < ring->n; i++) {
            const struct fw_reading *x = &ring->r[slot(ring, i)];
            if (!fw_reading_has_ppm(x) || x->peak_ppm < keep_ppm) {
                victim = i;
                break;
            }
        }
        remove_at(ring, victim);
        ring->dropped++;
        dropped = 1;
    }
    ring->r[slot(ring, ring->n)] = *r;
    ring->n++;
    return dropped;
}
