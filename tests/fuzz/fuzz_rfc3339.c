/* fuzz_rfc3339.c - fuzzes the RFC 3339 parser: never crashes, and anything
 * it accepts formats back to a string that parses to the same instant. */
#include "core/timeutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int64_t ms;
    if (!rfc3339_parse((const char *)data, size, &ms))
        return 0;
    char out[32];
    size_t n = rfc3339_format(ms, out);
    int64_t again;
    /* Years outside 0000-9999 are clamped by the formatter: skip those. */
    if (ms >= -62167219200000LL && ms < 253402300800000LL &&
        (!rfc3339_parse(out, n, &again) || again != ms))
        abort();
    return 0;
}
