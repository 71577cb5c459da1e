/* fw_heater.c - the MQ-7 heater cycle state machine (see fw_heater.h). */
#include "fw_heater.h"

#include <stddef.h>

void fw_heater_config_default(struct fw_heater_config *c)
{
    *c = (struct fw_heater_config){
        .high_ms = 60000, .low_ms = 90000, .sample_lead_ms = 500, .late_ms = 1000};
}

const char *fw_heater_config_check(const struct fw_heater_config *c)
{
    if (c->high_ms <= 0 || c->low_ms <= 0)
        return "heater phases must be longer than 0 ms";
    if (c->sample_lead_ms < 0 || c->sample_lead_ms >= c->low_ms)
        return "sample_lead_ms must be from 0 to less than the low phase";
    if (c->late_ms < 0)
        return "late_ms must not be negative";
    return NULL;
}

void fw_heater_start(struct fw_heater *h, const struct fw_heater_config *c, int64_t now_ms)
{
    *h = (struct fw_heater){.cfg = *c,
                            .phase = FW_HEATER_PHASE_LOW,
                            .pending = FW_HEATER_EV_HIGH,
                            .due_ms = now_ms,
                            .phase_start_ms = now_ms};
}

/* When a phase due at due_ms and started by a call at now_ms begins. */
static int64_t anchor(const struct fw_heater *h, int64_t now_ms)
{
    return now_ms - h->due_ms <= h->cfg.late_ms ? h->due_ms : now_ms;
}

enum fw_heater_event fw_heater_poll(struct fw_heater *h, int64_t now_ms)
{
    if (now_ms < h->due_ms)
        return FW_HEATER_EV_NONE;
    enum fw_heater_event ev = h->pending;
    switch (ev) {
    case FW_HEATER_EV_HIGH:
        h->phase = FW_HEATER_PHASE_HIGH;
        h->phase_start_ms = anchor(h, now_ms);
        h->due_ms = h->phase_start_ms + h->cfg.high_ms;
        h->pending = FW_HEATER_EV_LOW;
        h->cycles++;
        break;
    case FW_HEATER_EV_LOW:
        h->phase = FW_HEATER_PHASE_LOW;
        h->phase_start_ms = anchor(h, now_ms);
        h->due_ms = h->phase_start_ms + h->cfg.low_ms - h->cfg.sample_lead_ms;
        h->pending = FW_HEATER_EV_SAMPLE;
        break;
    case FW_HEATER_EV_SAMPLE:
        /* The low phase still ends at its own time, even if the sample was
         * late: then the switch to high is due at once. */
        h->due_ms = h->phase_start_ms + h->cfg.low_ms;
        h->pending = FW_HEATER_EV_HIGH;
        break;
    case FW_HEATER_EV_NONE:
        break;
    }
    return ev;
}

int64_t fw_heater_until_next(const struct fw_heater *h, int64_t now_ms)
{
    return h->due_ms > now_ms ? h->due_ms - now_ms : 0;
}
