/* fw_reading.c - aggregation of samples into readings (see fw_reading.h). */
#include "fw_reading.h"

#include <string.h>

void fw_agg_reset(struct fw_agg *a)
{
    memset(a, 0, sizeof *a);
}

uint32_t fw_agg_add(struct fw_agg *a, const struct fw_sample *s)
{
    a->n++;
    a->flags |= s->flags;
    a->last = *s;
    if (s->status == MQ7_OK) {
        if (a->ngood == 0 || s->ppm > a->peak.ppm)
            a->peak = *s;
        a->ngood++;
        a->sum_ppm += s->ppm;
    } else {
        a->flags |= FW_RD_FAULT;
        a->status = s->status;
    }
    return a->n;
}

bool fw_agg_take(struct fw_agg *a, bool report_peak, struct fw_reading *out)
{
    if (a->n == 0)
        return false;
    memset(out, 0, sizeof *out);
    out->mono_ms = a->last.mono_ms;
    out->nsamples = (uint16_t)(a->n > UINT16_MAX ? UINT16_MAX : a->n);
    out->ngood = (uint16_t)(a->ngood > UINT16_MAX ? UINT16_MAX : a->ngood);
    out->status = a->status;
    /* Temperature and humidity: the newest; the flags say if they are set. */
    out->flags =
        (a->flags & ~(FW_RD_TEMP | FW_RD_HUM)) | (a->last.flags & (FW_RD_TEMP | FW_RD_HUM));
    out->temp_c = a->last.temp_c;
    out->hum_pct = a->last.hum_pct;
    if (a->ngood) {
        out->raw = a->peak.raw;
        out->peak_ppm = a->peak.ppm;
        out->mean_ppm = a->sum_ppm / a->ngood;
        out->ppm = report_peak ? out->peak_ppm : out->mean_ppm;
    } else {
        out->raw = a->last.raw;
    }
    fw_agg_reset(a);
    return true;
}

bool fw_reading_has_ppm(const struct fw_reading *r)
{
    return r->ngood > 0;
}
