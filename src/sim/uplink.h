/* uplink.h - one keep-alive HTTP connection of `carbon sim` (libcurl),
 * over which simulated devices POST their readings. */
#ifndef CARBON_SIM_UPLINK_H
#define CARBON_SIM_UPLINK_H
#include "fw_device.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sim_uplink;

/* True when the POST should be given up now; elapsed_ms is how long it has
 * been going (0: not started yet). Called from the thread doing the POST,
 * before it and about once a second during it (libcurl's progress
 * callback): it must be cheap. */
typedef bool (*sim_uplink_stop_fn)(void *ctx, int64_t elapsed_ms);

/* What one POST got. */
struct sim_answer {
    long status;                 /* the HTTP status; 0: no answer */
    bool stopped;                /* no answer because stop() said so */
    uint32_t retry_after_s;      /* the answer's Retry-After (at most 86400), else 0 */
    uint64_t stored, duplicates; /* a 2xx answer's {"stored":N,"duplicates":M} */
    char body[512];              /* the start of the answer, for messages */
};

/* A connection to base ("http://host:port", no trailing slash; copied).
 * stop (may be NULL) and ctx are kept for every POST. NULL when libcurl
 * cannot make a handle or base is too long. Free with sim_uplink_free. */
struct sim_uplink *sim_uplink_new(const char *base, sim_uplink_stop_fn stop, void *ctx);
void sim_uplink_free(struct sim_uplink *u);

/* POSTs body (len bytes) to base + path with the headers given (the
 * connection adds Host and Content-Length), waiting at most timeout_ms
 * for the whole exchange. Fills *ans: status 0 when no answer came
 * (refused, timed out, or stopped). The connection is kept open for the
 * next POST. One thread at a time per connection. */
void sim_uplink_post(struct sim_uplink *u, const char *path, const struct fw_http_header *headers,
                     size_t nheaders, const char *body, size_t len, long timeout_ms,
                     struct sim_answer *ans);

#endif
