/* server.c - what `carbon sim` asks of the server with the admin token
 * (fleet.h): registering the devices, their calibration, and the alarms it
 * raised for them. */
#include "sim/fleet.h"

#include "core/timeutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* d's calibration as the server takes it: its unit's wiring and true R0. */
static json_t *calibration_json(const struct simdev *d)
{
    const struct mq7_calibration *c = &d->sensor.wiring;
    return json_pack("{s:f,s:f,s:f,s:i,s:f,s:f}", "r0_ohms", c->r0_ohm, "rl_ohms", c->rl_ohm,
                     "divider_ratio", c->divider, "adc_bits", (int)c->adc_bits, "vref_volts",
                     c->vref_v, "vc_volts", c->vc_v);
}

/* PATCHes d's calibration on the server (which converts co_raw with it).
 * False, with the server's message on stderr, if it was not taken. */
bool sim_server_put_calibration(struct sim *sim, const struct simdev *d)
{
    char path[160];
    snprintf(path, sizeof path, "/v1/devices/%s", d->id);
    json_t *patch = json_pack("{s:o}", "calibration", calibration_json(d));
    json_t *ans = NULL;
    long st = patch ? client_call(&sim->cl, "sim", "PATCH", path, patch, &ans) : 0;
    if (st != 200 && st)
        client_print_error("sim", st, ans);
    json_decref(patch);
    json_decref(ans);
    return st == 200;
}

/* Registers the devices (or gives an existing id a new key) and sets their
 * calibration; prints or writes the id,key lines. 0, or 1 with a message. */
int sim_server_create(struct sim *sim)
{
    FILE *kf = NULL;
    if (sim->keys_out && !(kf = fopen(sim->keys_out, "w"))) {
        fprintf(stderr, "carbon sim: cannot write %s: %s\n", sim->keys_out, strerror(errno));
        return 1;
    }
    int rc = 0;
    for (size_t i = 0; i < sim->ndev && rc == 0; i++) {
        struct simdev *d = &sim->dev[i];
        char name[96], path[160];
        snprintf(name, sizeof name, "sim %s #%zu", sim_scenario_name(d->scen), i + 1);
        json_t *body = json_pack("{s:s,s:s,s:o}", "id", d->id, "name", name, "calibration",
                                 calibration_json(d));
        json_t *ans = NULL;
        bool existed = false;
        long st = client_call(&sim->cl, "sim", "POST", "/v1/devices", body, &ans);
        json_decref(body);
        if (st == 409) {
            /* Already there (an earlier run): a new key, then this unit's calibration. */
            existed = true;
            json_decref(ans);
            snprintf(path, sizeof path, "/v1/devices/%s/keys", d->id);
            st = client_call(&sim->cl, "sim", "POST", path, NULL, &ans);
        }
        const char *key = json_string_value(json_object_get(ans, "api_key"));
        if (st != 201 || !key || strlen(key) > FW_KEY_MAX) {
            if (st)
                client_print_error("sim", st, ans);
            fprintf(stderr, "carbon sim: could not register device %s\n", d->id);
            rc = 1;
        } else if (existed && !sim_server_put_calibration(sim, d)) {
            fprintf(stderr, "carbon sim: could not store the calibration of %s\n", d->id);
            rc = 1;
        } else {
            snprintf(d->key, sizeof d->key, "%s", key);
            if (kf)
                fprintf(kf, "%s,%s\n", d->id, d->key);
            else if (!sim->json)
                printf("%s,%s\n", d->id, d->key);
        }
        json_decref(ans);
    }
    if (kf && fclose(kf) != 0 && rc == 0) {
        fprintf(stderr, "carbon sim: cannot write %s\n", sim->keys_out);
        rc = 1;
    }
    fflush(stdout);
    return rc;
}

static int cmp_dev_id(const void *a, const void *b)
{
    return strcmp(((const struct simdev *)a)->id, ((const struct simdev *)b)->id);
}

static struct simdev *find_dev(struct simdev *sorted, size_t n, const char *id)
{
    struct simdev key;
    snprintf(key.id, sizeof key.id, "%s", id);
    return bsearch(&key, sorted, n, sizeof *sorted, cmp_dev_id);
}

/* Fetches the alerts raised since the run's start and marks ours. False if
 * they could not be read. */
bool sim_server_alarms(struct sim *sim)
{
    struct simdev *sorted = malloc(sim->ndev * sizeof *sorted);
    if (!sorted)
        return false;
    memcpy(sorted, sim->dev, sim->ndev * sizeof *sorted);
    qsort(sorted, sim->ndev, sizeof *sorted, cmp_dev_id);
    char from[40], path[256], cursor[32] = "";
    rfc3339_format(sim->epoch0_ms - 3600000, from);
    bool ok = true;
    for (int page = 0; page < 10000; page++) {
        snprintf(path, sizeof path, "/v1/alerts?limit=1000&from=%s%s%s", from,
                 cursor[0] ? "&cursor=" : "", cursor);
        json_t *ans = NULL;
        long st = client_call(&sim->cl, "sim", "GET", path, NULL, &ans);
        if (st != 200) {
            if (st)
                client_print_error("sim", st, ans);
            json_decref(ans);
            ok = false;
            break;
        }
        size_t i;
        json_t *a;
        json_array_foreach(json_object_get(ans, "alerts"), i, a)
        {
            const char *id = json_string_value(json_object_get(a, "device_id"));
            const char *kind = json_string_value(json_object_get(a, "kind"));
            struct simdev *s = id ? find_dev(sorted, sim->ndev, id) : NULL;
            enum alarm_kind k = kind ? alarm_kind_parse(kind) : ALARM_NKINDS;
            if (!s || k == ALARM_NKINDS)
                continue;
            struct simdev *d = &sim->dev[s->idx];
            d->server_kinds |= 1u << k;
            if (json_is_true(json_object_get(a, "active")))
                d->server_active |= 1u << k;
        }
        const char *next = json_string_value(json_object_get(ans, "next_cursor"));
        bool more = next && strlen(next) < sizeof cursor;
        if (more)
            snprintf(cursor, sizeof cursor, "%s", next);
        json_decref(ans);
        if (!more)
            break;
    }
    free(sorted);
    return ok;
}
