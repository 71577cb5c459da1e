/* fuzz_params.c - fuzzes the query-parameter parsers: time_param_parse
 * (from=, to=, seed timestamps) and the listen-address parser. */
#include "core/config.h"
#include "core/timeutil.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    int64_t ms;
    (void)time_param_parse(s, &ms);
    char host[256];
    unsigned port;
    if (config_parse_listen(s, host, sizeof host, &port) && port > 65535)
        abort();
    free(s);
    return 0;
}
