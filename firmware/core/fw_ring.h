/* fw_ring.h - the offline buffer: a fixed ring of readings, oldest first.
 *
 * Static storage (FW_RING_CAP entries inside the struct, no heap); a smaller
 * working capacity can be set at init. Overflow policy, when a reading
 * arrives and the ring is full: drop the oldest reading below keep_ppm (the
 * local warning level), so that the evidence of a dangerous episode outlives
 * hours of clean-air readings; if every held reading is at or above
 * keep_ppm, drop the oldest. Each drop is counted. The order of the kept
 * readings never changes, so batches still go out oldest first. */
#ifndef CARBON_FW_RING_H
#define CARBON_FW_RING_H
#include <stdint.h>

#include "fw_reading.h"

#ifndef FW_RING_CAP
/* 42 h of 150 s readings. A reading is 80 bytes where doubles are 8-byte
 * aligned (Xtensa, x86-64; 76 on i386): 80 KiB here, 40 KiB for the ESP32
 * app's 512 (tests/firmware/portable.sh checks the Xtensa size). */
#define FW_RING_CAP 1024
#endif

struct fw_ring {
    uint32_t cap;     /* working capacity, 1..FW_RING_CAP */
    uint32_t head;    /* index of the oldest */
    uint32_t n;       /* readings held */
    uint32_t dropped; /* readings lost to overflow */
    struct fw_reading r[FW_RING_CAP];
};

/* An empty ring holding at most cap readings (clamped to 1..FW_RING_CAP). */
void fw_ring_init(struct fw_ring *ring, uint32_t cap);
/* Appends a copy of *r, dropping one reading first when full (see the
 * policy above). Returns 1 if a reading was dropped, else 0. */
int fw_ring_push(struct fw_ring *ring, const struct fw_reading *r, double keep_ppm);
/* The i-th oldest reading (0 = oldest), or NULL past the end. The pointer
 * stays valid until the next push or pop. */
struct fw_reading *fw_ring_at(struct fw_ring *ring, uint32_t i);
/* Removes the n oldest (all, if n exceeds the count). */
void fw_ring_pop(struct fw_ring *ring, uint32_t n);
uint32_t fw_ring_count(const struct fw_ring *ring);

#endif
