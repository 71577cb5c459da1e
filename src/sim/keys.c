/* keys.c - `carbon sim --keys FILE`: existing devices (keys.h). */
#include "sim/keys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int sim_keys_read(const char *path, size_t max, struct sim_key **out, size_t *n, bool *more,
                  char *err, size_t cap)
{
    struct sim_key *v = NULL;
    size_t len = 0, room = 0, lineno = 0;
    char line[512];
    int rc = 0;
    *out = NULL;
    *n = 0;
    *more = false;
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, cap, "cannot read %s: %s", path, strerror(errno));
        return 1;
    }
    while (fgets(line, sizeof line, f)) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0] || line[0] == '#')
            continue;
        char *comma = strchr(line, ',');
        if (comma)
            *comma = '\0';
        if (!comma || !fw_device_id_valid(line) || !comma[1] || strlen(comma + 1) > FW_KEY_MAX ||
            strchr(comma + 1, ' ')) {
            snprintf(err, cap, "%s:%zu: expected device_id,key", path, lineno);
            rc = 2;
            goto out;
        }
        if (len == max) {
            *more = true;
            break;
        }
        if (len == room) {
            room = room ? 2 * room : 64;
            struct sim_key *bigger = realloc(v, room * sizeof *v);
            if (!bigger) {
                snprintf(err, cap, "out of memory reading %s", path);
                rc = 1;
                goto out;
            }
            v = bigger;
        }
        /* Valid ids are at most 64 characters, keys at most FW_KEY_MAX. */
        memcpy(v[len].id, line, strlen(line) + 1);
        memcpy(v[len].key, comma + 1, strlen(comma + 1) + 1);
        len++;
    }
    if (ferror(f)) {
        snprintf(err, cap, "cannot read %s", path);
        rc = 1;
    } else if (len == 0) {
        snprintf(err, cap, "%s holds no device_id,key line", path);
        rc = 2;
    }
out:
    fclose(f);
    if (rc == 0) {
        *out = v;
        *n = len;
    } else {
        free(v);
    }
    return rc;
}
