/* metrics.h - process counters and latency histograms, Prometheus text output. */
#ifndef CARBON_METRICS_H
#define CARBON_METRICS_H
#include "core/buf.h"

#include <stdint.h>

struct metrics;

/* Creates counters for nroutes routes named by their patterns (borrowed; must
 * outlive the metrics). Index nroutes is used for requests matching no route. */
struct metrics *metrics_new(size_t nroutes, const char *const *route_names,
                            const char *const *route_methods);
void metrics_free(struct metrics *m);

/* Records one finished request. Lock-free. */
void metrics_request(struct metrics *m, size_t route, unsigned status, int64_t duration_ns);
void metrics_readings(struct metrics *m, uint64_t stored, uint64_t duplicates);

/* Appends the Prometheus text exposition. False if out of memory. */
bool metrics_render(struct metrics *m, struct buf *out);

#endif
