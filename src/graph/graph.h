/* graph.h - a device's CO chart from the store: picks raw readings or the
 * store's per-bucket rollups by range, downsamples, adds thresholds and
 * alarm periods, and draws the SVG. Shared by the API and `carbon graph`. */
#ifndef CARBON_GRAPH_H
#define CARBON_GRAPH_H
#include "core/buf.h"
#include "core/err.h"
#include "graph/params.h"
#include "store/store.h"

/* Raw readings are drawn (downsampled in memory) while a range holds at
 * most this many per plot column; beyond, the store's rollups are read. */
#define GRAPH_RAW_PER_COLUMN 8
#define GRAPH_MAX_SVG (4u * 1024 * 1024) /* a cap far above any chart we draw */

/* What a render did, for logs and the benchmark. */
struct graph_info {
    uint64_t readings; /* readings behind the chart */
    size_t columns;    /* columns drawn */
    bool rollup;       /* read from the store's per-bucket series */
    int64_t step_ms;   /* bucket width when rollup */
};

/* Draws device d's chart for p into svg (initialized by the caller; on
 * success it holds the document). now_ms ends alarm periods still active.
 * CB_ERR_* from the store, CB_ERR_NOMEM; the buffer then holds nothing
 * useful (the caller frees it either way). info may be NULL. */
cb_err graph_render(struct store *st, const struct device *d, const struct graph_params *p,
                    int64_t now_ms, struct buf *svg, struct graph_info *info);

/* A strong ETag for body: "\"<32 hex digits>\"" (SHA-256 prefix). out: 40 bytes. */
void graph_etag(const char *body, size_t len, char out[40]);

#endif
