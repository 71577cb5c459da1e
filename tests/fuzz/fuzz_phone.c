/* fuzz_phone.c - fuzzes phone number normalisation: the first byte picks a country from the
 * table (or none, or ""), the rest is the number. Never crashes; any accepted number is valid
 * E.164, normalises to itself with or without the country and is not an emergency number;
 * a rejected one leaves out empty; an emergency verdict agrees with phone_is_emergency. */
#include "core/phone.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char in[4096];
    char out[PHONE_MAX + 1], again[PHONE_MAX + 1];
    const char *country = NULL;

    if (size < 1)
        return 0;
    if (data[0] < phone_countries_len)
        country = phone_countries[data[0]].iso2;
    else if (data[0] == 0xff)
        country = "";
    size_t n = size - 1 < sizeof in - 1 ? size - 1 : sizeof in - 1;
    memcpy(in, data + 1, n);
    in[n] = '\0';

    enum phone_err rc = phone_normalize(in, country, out);
    if (rc > PHONE_EMERGENCY || !phone_strerror(rc))
        abort();
    bool emergency = phone_is_emergency(in);
    if (rc != PHONE_OK) {
        if (out[0] != '\0' || (rc == PHONE_EMERGENCY && !emergency))
            abort();
        return 0;
    }
    size_t len = strlen(out);
    if (len < 8 || len > PHONE_MAX || out[0] != '+' || !phone_valid_e164(out) ||
        phone_is_emergency(out))
        abort();
    if (phone_normalize(out, NULL, again) != PHONE_OK || strcmp(out, again) != 0)
        abort();
    if (phone_normalize(out, country, again) != PHONE_OK || strcmp(out, again) != 0)
        abort();
    return 0;
}
