/* fuzz_reading.c - fuzzes the POST /v1/readings body path: JSON parsing and
 * the validation of every item. Accepted readings must be in range. */
#include "api/api.h"
#include "core/jsonv.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(const json_t *item)
{
    const int64_t now = 1764086400000LL;
    struct reading r;
    const char *id;
    struct jv_err e;
    struct api_raw raw;
    if (!api_reading_parse(item, now, &r, &id, &raw, &e))
        return;
    if (raw.present && !(raw.value >= 0 && raw.value <= CALIBRATION_RAW_MAX))
        abort();
    if (!jv_valid_id(id) || !(r.co_ppm >= 0 && r.co_ppm <= 10000) || r.ts_ms < API_TS_MIN_MS ||
        r.ts_ms > now + API_TS_MAX_SKEW_MS)
        abort();
    if ((r.flags & READING_HAS_TEMP) && !(r.temp_c >= -40 && r.temp_c <= 125))
        abort();
    if ((r.flags & READING_HAS_HUM) && !(r.hum_pct >= 0 && r.hum_pct <= 100))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[200];
    json_t *root = jv_parse((const char *)data, size, err, sizeof err);
    if (!root)
        return 0;
    if (json_is_array(root)) {
        for (size_t i = 0; i < json_array_size(root) && i < 1000; i++)
            check(json_array_get(root, i));
    } else {
        check(root);
    }
    json_decref(root);
    return 0;
}
