/* fw_payload.c - JSON readings for POST /v1/readings (see fw_payload.h). */
#include "fw_payload.h"

#include <math.h>
#include <string.h>

/* A bounded writer: once something does not fit, it stays full. */
struct jw {
    char *p;
    size_t cap, len;
    bool full;
};

static void jw_mem(struct jw *w, const char *s, size_t n)
{
    if (w->full || n >= w->cap - w->len) { /* keep room for the NUL */
        w->full = true;
        return;
    }
    memcpy(w->p + w->len, s, n);
    w->len += n;
    w->p[w->len] = '\0';
}

static void jw_str(struct jw *w, const char *s)
{
    jw_mem(w, s, strlen(s));
}

static void jw_fixed(struct jw *w, double v, unsigned decimals)
{
    char tmp[32];
    size_t n = fw_fmt_fixed(tmp, sizeof tmp, v, decimals);
    if (n == 0)
        w->full = true;
    else
        jw_mem(w, tmp, n);
}

static void jw_int(struct jw *w, int64_t v)
{
    char tmp[24];
    jw_mem(w, tmp, fw_fmt_int(tmp, sizeof tmp, v));
}

bool fw_device_id_valid(const char *id)
{
    size_t n = 0;
    for (; id[n]; n++) {
        char c = id[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == ':' || c == '-';
        if (!ok || n >= 64)
            return false;
    }
    return n > 0;
}

/* The common tail of fw_fmt_int and fw_fmt_fixed: tmp holds n characters
 * written backwards (the fraction, if any); appends u's digits, the sign when
 * neg, and copies the whole reversed into out (0 if it does not fit in cap).
 * tmp has room for n + 21 characters. */
static size_t fmt_finish(char *out, size_t cap, char *tmp, size_t n, uint64_t u, bool neg)
{
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (neg)
        tmp[n++] = '-';
    if (n + 1 > cap)
        return 0;
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

size_t fw_fmt_int(char *out, size_t cap, int64_t v)
{
    char tmp[24];
    uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    return fmt_finish(out, cap, tmp, 0, u, v < 0);
}

size_t fw_fmt_fixed(char *out, size_t cap, double v, unsigned decimals)
{
    if (!isfinite(v) || fabs(v) >= 1e15 || decimals > 6)
        return 0;
    uint64_t scale = 1;
    for (unsigned i = 0; i < decimals; i++)
        scale *= 10;
    double scaled = floor(fabs(v) * (double)scale + 0.5);
    if (scaled >= 9.0e18)
        return 0;
    uint64_t u = (uint64_t)scaled;
    char tmp[32];
    size_t n = 0;
    for (unsigned i = 0; i < decimals; i++) {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    }
    if (decimals)
        tmp[n++] = '.';
    return fmt_finish(out, cap, tmp, n, u, v < 0 && scaled > 0);
}

/* Epoch ms as seconds with three decimals, exactly (no floating point). */
static void jw_ts(struct jw *w, int64_t ts_ms)
{
    char frac[5] = {'.', (char)('0' + ts_ms % 1000 / 100), (char)('0' + ts_ms % 100 / 10),
                    (char)('0' + ts_ms % 10), '\0'};
    jw_int(w, ts_ms / 1000);
    jw_str(w, frac);
}

size_t fw_payload_reading(char *buf, size_t cap, const char *device_id, const struct fw_reading *r,
                          enum fw_payload_mode mode)
{
    if (cap == 0 || r->ts_ms < FW_TS_MIN_MS)
        return 0;
    struct jw w = {.p = buf, .cap = cap};
    buf[0] = '\0';
    jw_str(&w, "{\"device_id\":\"");
    jw_str(&w, device_id); /* validated: nothing to escape */
    jw_str(&w, "\",\"ts\":");
    jw_ts(&w, r->ts_ms);
    bool ppm = fw_reading_has_ppm(r) && mode != FW_PAYLOAD_RAW;
    if (ppm) {
        double v = r->ppm < 0 ? 0 : r->ppm > 10000 ? 10000 : r->ppm;
        jw_str(&w, ",\"co_ppm\":");
        jw_fixed(&w, v, 2);
    }
    if (!ppm || mode != FW_PAYLOAD_PPM) {
        jw_str(&w, ",\"co_raw\":");
        jw_int(&w, r->raw);
    }
    if ((r->flags & FW_RD_TEMP) && r->temp_c >= -40 && r->temp_c <= 125) {
        jw_str(&w, ",\"temperature_c\":");
        jw_fixed(&w, r->temp_c, 2);
    }
    if ((r->flags & FW_RD_HUM) && r->hum_pct >= 0 && r->hum_pct <= 100) {
        jw_str(&w, ",\"humidity_pct\":");
        jw_fixed(&w, r->hum_pct, 2);
    }
    jw_str(&w, "}");
    if (w.full) {
        buf[0] = '\0';
        return 0;
    }
    return w.len;
}

size_t fw_payload_batch(char *buf, size_t cap, const char *device_id, struct fw_ring *ring,
                        uint32_t max, enum fw_payload_mode mode, uint32_t *count)
{
    *count = 0;
    if (cap < 3)
        return 0;
    size_t len = 1;
    buf[0] = '[';
    for (uint32_t i = 0; i < max; i++) {
        const struct fw_reading *r = fw_ring_at(ring, i);
        if (!r)
            break;
        size_t sep = i ? 1 : 0;
        /* Room for the separator, the object and the closing bracket. */
        if (cap - len < sep + 2)
            break;
        size_t n = fw_payload_reading(buf + len + sep, cap - len - sep - 1, device_id, r, mode);
        if (n == 0)
            break;
        if (sep)
            buf[len] = ',';
        len += sep + n;
        (*count)++;
    }
    if (*count == 0) {
        buf[0] = '\0';
        return 0;
    }
    buf[len++] = ']';
    buf[len] = '\0';
    return len;
}
