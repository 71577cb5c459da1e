/* keys.h - `carbon sim --keys FILE`: existing devices, one "device_id,key"
 * line each. */
#ifndef CARBON_SIM_KEYS_H
#define CARBON_SIM_KEYS_H
#include "fw_device.h"

#include <stdbool.h>
#include <stddef.h>

struct sim_key {
    char id[65];
    char key[FW_KEY_MAX + 1];
};

/* Reads path: one "device_id,key" per line (a valid device id, a key of 1
 * to FW_KEY_MAX characters without spaces); blank lines and lines starting
 * with '#' are skipped. Keeps at most max entries; *more is set when the
 * file has further ones. Returns 0 with *out (caller frees) and *n >= 1;
 * 1 when the file cannot be read or memory runs out; 2 when a line is
 * malformed or there is no entry. The reason is in err (cap bytes, no
 * prefix); *out is NULL unless 0 is returned. */
int sim_keys_read(const char *path, size_t max, struct sim_key **out, size_t *n, bool *more,
                  char *err, size_t cap);

#endif
