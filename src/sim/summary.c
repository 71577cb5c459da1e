/* summary.c - the report at the end of a `carbon sim` run (fleet.h), as
 * text or JSON. */
#include "sim/fleet.h"

#include <stdio.h>
#include <string.h>

void sim_summary_sum(const struct sim *sim, struct sim_totals *t)
{
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < sim->ndev; i++) {
        const struct simdev *d = &sim->dev[i];
        const struct fw_stats *s = fw_get_stats(d->fw);
        t->readings += s->readings;
        t->produced += s->queued;
        t->warmup += s->readings - s->queued;
        t->sent += s->sent;
        t->rejected += s->rejected;
        t->dropped += fw_dropped(d->fw);
        t->unsent += fw_pending(d->fw);
        t->posts += s->posts;
        t->retried += s->post_failures;
        t->stored += d->stored;
        t->dups += d->dups;
        t->no_answer += d->no_answer;
        t->link_down += d->link_down;
        t->http_retry += d->http_retry;
        t->out[d->max_out & 3]++;
        if (d->server_kinds)
            t->server_devices++;
        for (int k = 0; k < ALARM_NKINDS; k++)
            if (d->server_kinds & (1u << k))
                t->server_alerts[k]++;
    }
}

static json_t *kinds_json(unsigned bits)
{
    json_t *a = json_array();
    for (int k = 0; k < ALARM_NKINDS; k++)
        if (bits & (1u << k))
            json_array_append_new(a, json_string(alarm_kind_name((enum alarm_kind)k)));
    return a;
}

void sim_summary_print(const struct sim *sim, const struct sim_totals *t, const char *server_skip)
{
    int64_t simulated = atomic_load(&sim->end_ms);
    double rate = sim->real_s > 0 ? (double)t->stored / sim->real_s : 0;
    if (sim->json) {
        json_t *kinds = json_object();
        for (int k = 0; k < ALARM_NKINDS; k++)
            if (t->server_alerts[k])
                json_object_set_new(kinds, alarm_kind_name((enum alarm_kind)k),
                                    json_integer((json_int_t)t->server_alerts[k]));
        json_t *devs = json_array();
        for (size_t i = 0; i < sim->ndev; i++) {
            const struct simdev *d = &sim->dev[i];
            const struct fw_stats *s = fw_get_stats(d->fw);
            json_t *o = json_pack(
                "{s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:s,s:o,s:o,s:f}", "id", d->id, "scenario",
                sim_scenario_name(d->scen), "produced", (json_int_t)s->queued, "sent",
                (json_int_t)s->sent, "stored", (json_int_t)d->stored, "duplicates",
                (json_int_t)d->dups, "rejected", (json_int_t)s->rejected, "unsent",
                (json_int_t)fw_pending(d->fw), "local_max", fw_output_name(d->max_out),
                "server_alarms", kinds_json(d->server_kinds), "server_active",
                kinds_json(d->server_active), "r0_ohms", d->sensor.wiring.r0_ohm);
            if (!sim->keys_out && sim->create)
                json_object_set_new(o, "api_key", json_string(d->key));
            json_array_append_new(devs, o);
        }
        json_t *root = json_pack(
            "{s:s,s:I,s:f,s:I,s:f,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I},"
            "s:{s:I,s:I,s:I,s:I},s:f,s:{s:{s:I,s:I,s:I},s:o},s:o}",
            "server", sim->cl.base, "devices", (json_int_t)sim->ndev, "speed", sim->speed,
            "simulated_s", (json_int_t)(simulated / 1000), "real_s", sim->real_s, "readings",
            "produced", (json_int_t)t->produced, "sent", (json_int_t)t->sent, "accepted",
            (json_int_t)t->stored, "duplicates", (json_int_t)t->dups, "rejected",
            (json_int_t)t->rejected, "dropped", (json_int_t)t->dropped, "unsent",
            (json_int_t)t->unsent, "warmup", (json_int_t)t->warmup, "posts", "total",
            (json_int_t)t->posts, "retried", (json_int_t)t->retried, "no_answer",
            (json_int_t)(t->no_answer + t->link_down), "http_retry", (json_int_t)t->http_retry,
            "readings_per_s", rate, "alarms", "local", "warning",
            (json_int_t)t->out[FW_OUT_WARNING], "critical", (json_int_t)t->out[FW_OUT_CRITICAL],
            "fault", (json_int_t)t->out[FW_OUT_FAULT], "server",
            !server_skip
                ? json_pack("{s:I,s:o}", "devices", (json_int_t)t->server_devices, "by_kind", kinds)
                : (json_decref(kinds), json_null()),
            "per_device", devs);
        json_dumpf(root, stdout, JSON_INDENT(1));
        putchar('\n');
        json_decref(root);
        return;
    }
    printf("carbon sim: %zu device(s), %lld simulated s in %.1f real s (speed %g) against %s\n",
           sim->ndev, (long long)(simulated / 1000), sim->real_s, sim->speed, sim->cl.base);
    printf("readings: produced %llu, sent %llu, accepted %llu, duplicates %llu, rejected %llu, "
           "dropped %llu, unsent %llu\n",
           (unsigned long long)t->produced, (unsigned long long)t->sent,
           (unsigned long long)t->stored, (unsigned long long)t->dups,
           (unsigned long long)t->rejected, (unsigned long long)t->dropped,
           (unsigned long long)t->unsent);
    printf("posts: %llu, retried %llu (no answer or link down %llu, HTTP 429/5xx/401 %llu); "
           "%.1f readings/s accepted\n",
           (unsigned long long)t->posts, (unsigned long long)t->retried,
           (unsigned long long)(t->no_answer + t->link_down), (unsigned long long)t->http_retry,
           rate);
    printf("alarms seen locally: %llu device(s) (critical %llu, warning %llu, fault %llu)\n",
           (unsigned long long)(t->out[1] + t->out[2] + t->out[3]),
           (unsigned long long)t->out[FW_OUT_CRITICAL], (unsigned long long)t->out[FW_OUT_WARNING],
           (unsigned long long)t->out[FW_OUT_FAULT]);
    if (server_skip) {
        printf("alarms on the server: not checked (%s)\n", server_skip);
        return;
    }
    printf("alarms on the server: %llu device(s)", (unsigned long long)t->server_devices);
    const char *sep = " (";
    for (int k = 0; k < ALARM_NKINDS; k++)
        if (t->server_alerts[k]) {
            printf("%s%s %llu", sep, alarm_kind_name((enum alarm_kind)k),
                   (unsigned long long)t->server_alerts[k]);
            sep = ", ";
        }
    printf("%s\n", sep[0] == ',' ? ")" : "");
}
