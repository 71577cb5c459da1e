/* message.c - alarm texts: SMS with a shortening ladder, spoken text, all
 * clear, test message, SMS segment counting, emergency numbers. */
#include "notify/message.h"

#include "core/phone.h"
#include "core/text.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NAME_MAX_BYTES 120
#define OWNER_MAX_BYTES 80
#define MANUAL_MAX_BYTES 600

/* ---- UTF-8 and the GSM 03.38 alphabet ---- */

/* Septets of cp in GSM 03.38: 1 (default alphabet), 2 (extension), 0 (none). */
static int gsm_septets(uint32_t cp)
{
    static const uint32_t basic[] = {
        0x0A, 0x0D, 0x20, 0x21,  0x22,  0x23,  0x25,  0x26,  0x27,  0x28,  0x29,  0x2A,  0x2B,
        0x2C, 0x2D, 0x2E, 0x2F,  0x3A,  0x3B,  0x3C,  0x3D,  0x3E,  0x3F,  0x40,  0x24,  0x5F,
        0xA1, 0xA3, 0xA4, 0xA5,  0xA7,  0xBF,  0xC4,  0xC5,  0xC6,  0xC7,  0xC9,  0xD1,  0xD6,
        0xD8, 0xDC, 0xDF, 0xE0,  0xE4,  0xE5,  0xE6,  0xE8,  0xE9,  0xEC,  0xF1,  0xF2,  0xF6,
        0xF8, 0xF9, 0xFC, 0x393, 0x394, 0x398, 0x39B, 0x39E, 0x3A0, 0x3A3, 0x3A6, 0x3A8, 0x3A9,
    };
    static const uint32_t ext[] = {0x0C, 0x5B, 0x5C, 0x5D, 0x5E, 0x7B, 0x7C, 0x7D, 0x7E, 0x20AC};
    if ((cp >= '0' && cp <= '9') || (cp >= 'A' && cp <= 'Z') || (cp >= 'a' && cp <= 'z'))
        return 1;
    for (size_t i = 0; i < sizeof basic / sizeof basic[0]; i++)
        if (basic[i] == cp)
            return 1;
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++)
        if (ext[i] == cp)
            return 2;
    return 0;
}

static bool is_gsm(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        uint32_t cp;
        size_t n = utf8_next(p, 4, &cp);
        if (!n || !gsm_septets(cp))
            return false;
        p += n;
    }
    return true;
}

void message_sms_count(const char *text, struct sms_count *out)
{
    const unsigned char *p = (const unsigned char *)(text ? text : "");
    bool ucs2 = !is_gsm((const char *)p);
    unsigned per = ucs2 ? 67 : 153, units = 0, segs = 0, room = 0;
    while (*p) {
        uint32_t cp = 0xFFFD;
        size_t n = utf8_next(p, 4, &cp);
        unsigned u = ucs2 ? (cp > 0xFFFF ? 2 : 1) : (unsigned)gsm_septets(cp);
        p += n ? n : 1;
        units += u;
        if (u > room) { /* a pair never straddles two segments */
            segs++;
            room = per;
        }
        room -= u;
    }
    out->ucs2 = ucs2;
    out->units = units;
    out->segments = units == 0 ? 0 : units <= (ucs2 ? 70u : 160u) ? 1 : segs;
}

static size_t cp_count(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Copies s cleaned into out (room for max_bytes + 1): control characters
 * (C0, DEL, C1) as spaces, invalid UTF-8 as '?', spaces trimmed at both
 * ends. If it is longer than max_bytes bytes or max_cp characters (0: no
 * limit), it is cut on a character boundary so that it and ellipsis fit. */
static void clean(const char *s, char *out, size_t max_bytes, size_t max_cp, const char *ellipsis)
{
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t o = 0, cps = 0, el = strlen(ellipsis), ecp = cp_count(ellipsis);
    bool cut = false;
    while (*p == ' ')
        p++;
    while (*p) {
        uint32_t cp;
        size_t n = utf8_next(p, 4, &cp);
        char one = 0;
        if (!n)
            one = '?';
        else if (cp < 0x20 || cp == 0x7F || (cp >= 0x80 && cp < 0xA0))
            one = ' ';
        size_t w = one ? 1 : n;
        if ((max_cp && cps == max_cp) || o + w > max_bytes) {
            cut = true;
            break;
        }
        if (one)
            out[o] = one;
        else
            memcpy(out + o, p, n);
        o += w;
        cps++;
        p += n ? n : 1;
    }
    if (cut) {
        while (o && (o + el > max_bytes || (max_cp && cps + ecp > max_cp) || out[o - 1] == ' ')) {
            do
                o--;
            while (o && ((unsigned char)out[o] & 0xC0) == 0x80);
            cps--;
        }
        if (o + el <= max_bytes && (!max_cp || cps + ecp <= max_cp)) {
            memcpy(out + o, ellipsis, el);
            o += el;
        }
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = '\0';
}

/* ---- the alarm texts ---- */

struct ctx {
    const struct message_input *in;
    const char *ellipsis; /* "..." in GSM-7 text, U+2026 when UCS-2 anyway */
    char device[NAME_MAX_BYTES + 1], location[NAME_MAX_BYTES + 1], owner[OWNER_MAX_BYTES + 1];
    char manual[MANUAL_MAX_BYTES + 1];
    char number[16];        /* the emergency number, "" if none */
    char since[16];         /* "03:12 UTC", "" if none */
    char ppm[16], peak[16]; /* "" if not shown */
};

/* One rung of the shortening ladder. */
struct opts {
    bool location, since, compact;
    size_t name_cp; /* cut names to this many characters; 0: as they are */
};

static void fmt_ppm(double v, char out[16])
{
    out[0] = '\0';
    if (isnan(v) || v < 0)
        return;
    snprintf(out, 16, "%.0f", v > 99999 ? 99999.0 : v);
}

static void ctx_init(struct ctx *c, const struct message_input *in)
{
    memset(c, 0, sizeof *c);
    c->in = in;
    c->ellipsis = "...";
    clean(in->device_name, c->device, NAME_MAX_BYTES, 0, c->ellipsis);
    clean(in->location, c->location, NAME_MAX_BYTES, 0, c->ellipsis);
    clean(in->owner_name, c->owner, OWNER_MAX_BYTES, 0, c->ellipsis);
    clean(in->manual_text, c->manual, MANUAL_MAX_BYTES, 0, c->ellipsis);
    if (!is_gsm(c->device) || !is_gsm(c->owner) || !is_gsm(c->manual))
        c->ellipsis = "\xE2\x80\xA6";
    const char *num = in->emergency_number;
    if (num && *num && strlen(num) < sizeof c->number && strspn(num, "0123456789") == strlen(num))
        memcpy(c->number, num, strlen(num) + 1);
    if (in->since_ms > 0) {
        time_t t = (time_t)(in->since_ms / 1000);
        struct tm tm;
        if (gmtime_r(&t, &tm))
            snprintf(c->since, sizeof c->since, "%02d:%02d UTC", tm.tm_hour, tm.tm_min);
    }
    fmt_ppm(in->ppm, c->ppm);
    if (c->ppm[0] && !isnan(in->peak_ppm) && in->peak_ppm >= 0) {
        fmt_ppm(in->peak_ppm, c->peak);
        double a = in->ppm > 99999 ? 99999 : in->ppm,
               b = in->peak_ppm > 99999 ? 99999 : in->peak_ppm;
        if (!(round(b) > round(a)))
            c->peak[0] = '\0';
    }
}

static bool is_co(enum alarm_kind k)
{
    return k == ALARM_CO_HIGH || k == ALARM_CO_EXPOSURE || k == ALARM_CO_RISING;
}

static bool critical(const struct ctx *c)
{
    return c->in->severity == ALARM_SEV_CRITICAL;
}

static bool contact(const struct ctx *c)
{
    return c->in->role != MESSAGE_OWNER;
}

/* The names as this rung shows them. */
struct names {
    char device[NAME_MAX_BYTES + 1], owner[OWNER_MAX_BYTES + 1];
};

static void names_for(const struct ctx *c, const struct opts *o, struct names *n)
{
    clean(c->device, n->device, NAME_MAX_BYTES, o->name_cp, c->ellipsis);
    clean(c->owner, n->owner, OWNER_MAX_BYTES, o->name_cp, c->ellipsis);
}

/* " at Kitchen, Home" (or less); nothing without a device name or location. */
static void put_where(struct buf *b, const struct ctx *c, const struct opts *o,
                      const struct names *n)
{
    bool loc = o->location && c->location[0];
    if (n->device[0])
        buf_printf(b, " at %s%s%s", n->device, loc ? ", " : "", loc ? c->location : "");
    else if (loc)
        buf_printf(b, " at %s", c->location);
}

static void put_call(struct buf *b, const struct ctx *c, bool compact)
{
    if (c->number[0])
        buf_printf(b, "call %s", c->number);
    else
        buf_puts(b, compact ? "call emergency services" : "call your local emergency number");
}

static void render_sms(const struct ctx *c, const struct opts *o, struct buf *b)
{
    const struct message_input *in = c->in;
    struct names n;
    names_for(c, o, &n);
    buf_puts(b, critical(c) ? "DANGER: " : "Warning: ");
    if (contact(c) && n.owner[0])
        buf_printf(b, "%s's CO alarm: ", n.owner);
    switch (in->kind) {
    case ALARM_CO_HIGH:
    case ALARM_CO_EXPOSURE:
    case ALARM_CO_RISING:
        buf_puts(b, in->kind == ALARM_CO_RISING ? "CO rising fast" : "CO");
        if (c->ppm[0])
            buf_printf(b, "%s %s ppm", in->kind == ALARM_CO_RISING ? ", now" : "", c->ppm);
        if (in->kind == ALARM_CO_EXPOSURE)
            buf_puts(b, " for too long");
        if (c->peak[0])
            buf_printf(b, " (peak %s)", c->peak);
        break;
    case ALARM_OFFLINE:
        buf_puts(b, "no data from CO alarm");
        break;
    case ALARM_SENSOR_FAULT:
        buf_puts(b, "CO sensor fault");
        break;
    case ALARM_MANUAL:
    default:
        buf_puts(b, "alarm raised");
        break;
    }
    put_where(b, c, o, &n);
    if (o->since && c->since[0])
        buf_printf(b, " since %s", c->since);
    buf_puts(b, ". ");
    if (in->kind == ALARM_MANUAL && c->manual[0])
        buf_printf(b, "\"%s\" ", c->manual);
    if ((is_co(in->kind) || in->kind == ALARM_MANUAL) && critical(c)) {
        if (contact(c))
            buf_printf(b, o->compact ? "Check on them, " : "Check on %s now; ",
                       n.owner[0] ? n.owner : "the household");
        else
            buf_puts(b, o->compact ? "Leave now, " : "Leave now, get fresh air, ");
        put_call(b, c, o->compact);
        buf_puts(b, contact(c) && !o->compact ? " if needed. " : ". ");
    } else if (is_co(in->kind) || in->kind == ALARM_MANUAL) {
        if (contact(c))
            buf_printf(b, o->compact ? "Please check on them. " : "Please check on %s. ",
                       n.owner[0] ? n.owner : "the household");
        else
            buf_puts(b, o->compact ? "Ventilate; leave if unwell. "
                                   : "Open windows and ventilate; leave if anyone feels unwell. ");
    } else if (in->kind == ALARM_OFFLINE) {
        buf_puts(b, o->compact ? "Check the device. " : "Check its power and Wi-Fi. ");
    } else {
        buf_puts(b, o->compact ? "Check the device. " : "Check or replace the device. ");
    }
    buf_puts(b, o->compact ? "Reply ACK." : "Reply ACK to acknowledge.");
}

typedef void render_fn(const struct ctx *c, const struct opts *o, struct buf *b);

/* Renders the rungs in order and appends the first that fits one segment
 * (else the first rung) to out. */
static bool ladder(const struct ctx *c, render_fn *render, const struct opts *rungs, size_t n,
                   struct buf *out)
{
    struct buf b;
    bool ok = false;
    buf_init(&b, MESSAGE_SMS_MAX);
    for (size_t i = 0; i <= n; i++) {
        b.len = 0;
        if (b.data)
            b.data[0] = '\0';
        render(c, &rungs[i < n ? i : 0], &b);
        struct sms_count sc;
        message_sms_count(b.data, &sc);
        if (i == n || sc.segments == 1)
            break;
    }
    /* A rung the cap refused (cannot happen with the input caps) is cut off
     * midway; buf_printf fails whole, so the text is still valid UTF-8. */
    if (b.len)
        ok = buf_append(out, b.data, b.len);
    buf_free(&b);
    return ok;
}

bool message_sms(const struct message_input *in, struct buf *out)
{
    static const struct opts rungs[] = {
        {.location = true, .since = true}, {.since = true},
        {.since = true, .compact = true},  {.compact = true},
        {.compact = true, .name_cp = 32},  {.compact = true, .name_cp = 24},
        {.compact = true, .name_cp = 16},  {.compact = true, .name_cp = 12},
        {.compact = true, .name_cp = 8},   {.compact = true, .name_cp = 6},
    };
    struct ctx c;
    ctx_init(&c, in);
    return ladder(&c, render_sms, rungs, sizeof rungs / sizeof rungs[0], out);
}

static void render_all_clear(const struct ctx *c, const struct opts *o, struct buf *b)
{
    const struct message_input *in = c->in;
    struct names n;
    names_for(c, o, &n);
    if (contact(c) && n.owner[0])
        buf_printf(b, "%s's CO alarm: ", n.owner);
    switch (in->kind) {
    case ALARM_OFFLINE:
        buf_puts(b, "Back online: CO alarm");
        put_where(b, c, o, &n);
        buf_puts(b, " is sending data again.");
        break;
    case ALARM_SENSOR_FAULT:
        buf_puts(b, "Fixed: the CO sensor");
        put_where(b, c, o, &n);
        buf_puts(b, " works again.");
        break;
    default:
        buf_puts(b, in->kind == ALARM_MANUAL ? "All clear: the alarm" : "All clear: CO");
        put_where(b, c, o, &n);
        buf_puts(b, in->kind == ALARM_MANUAL ? " was cleared" : " is back to normal");
        if (c->peak[0] || (c->ppm[0] && is_co(in->kind)))
            buf_printf(b, " (peak %s ppm)", c->peak[0] ? c->peak : c->ppm);
        buf_puts(b, ".");
        break;
    }
    buf_puts(b, " No action needed.");
}

bool message_all_clear(const struct message_input *in, struct buf *out)
{
    static const struct opts rungs[] = {
        {.location = true}, {.name_cp = 0}, {.name_cp = 24}, {.name_cp = 16}, {.name_cp = 8},
    };
    struct ctx c;
    ctx_init(&c, in);
    return ladder(&c, render_all_clear, rungs, sizeof rungs / sizeof rungs[0], out);
}

bool message_test(const char *user_name, struct buf *out)
{
    char name[OWNER_MAX_BYTES + 1];
    clean(user_name, name, OWNER_MAX_BYTES, 40, "...");
    size_t old = out->len;
    bool ok = buf_printf(out,
                         "Car-Bon test message: CO alarm notifications for %s will reach this "
                         "phone. No action needed.",
                         name[0] ? name : "you");
    if (!ok && out->data) {
        out->len = old;
        out->data[old] = '\0';
    }
    return ok;
}

/* ---- the spoken text ---- */

static void put_spoken_number(struct buf *b, const struct ctx *c)
{
    if (!c->number[0]) {
        buf_puts(b, "your local emergency number");
        return;
    }
    for (const char *d = c->number; *d; d++)
        buf_printf(b, "%s%c", d == c->number ? "" : " ", *d);
}

bool message_voice(const struct message_input *in, struct buf *out)
{
    struct ctx c;
    struct buf b;
    bool ok = false;
    ctx_init(&c, in);
    /* Shorter caps than the SMS: spoken names past ~60 characters help no one. */
    char device[NAME_MAX_BYTES + 1], location[NAME_MAX_BYTES + 1], owner[OWNER_MAX_BYTES + 1];
    char manual[MANUAL_MAX_BYTES + 1];
    clean(c.device, device, 80, 60, "");
    clean(c.location, location, 80, 60, "");
    clean(c.owner, owner, 60, 40, "");
    clean(c.manual, manual, 250, 0, "");
    buf_init(&b, MESSAGE_VOICE_MAX);

    if (contact(&c))
        buf_printf(&b, "This is the Car-Bon carbon monoxide alarm of %s. ",
                   owner[0] ? owner : "someone who listed you as a contact");
    else
        buf_puts(&b, "This is your Car-Bon carbon monoxide alarm. ");
    buf_puts(&b, critical(&c) ? "Danger! " : "Warning. ");
    char where[2 * NAME_MAX_BYTES + 8] = "";
    if (device[0] || location[0])
        snprintf(where, sizeof where, "%s%s%s", device, device[0] && location[0] ? ", " : "",
                 location);
    switch (in->kind) {
    case ALARM_CO_HIGH:
    case ALARM_CO_EXPOSURE:
    case ALARM_CO_RISING:
        buf_puts(&b, in->kind == ALARM_CO_RISING ? "Carbon monoxide is rising fast"
                                                 : "Carbon monoxide has been detected");
        if (where[0])
            buf_printf(&b, " at %s", where);
        if (c.ppm[0])
            buf_printf(&b, ". The level is %s parts per million", c.ppm);
        if (c.peak[0])
            buf_printf(&b, ", with a peak of %s", c.peak);
        if (in->kind == ALARM_CO_EXPOSURE)
            buf_puts(&b, ", for longer than is safe");
        break;
    case ALARM_OFFLINE:
        buf_printf(&b, "The carbon monoxide alarm%s%s has stopped sending data",
                   where[0] ? " " : "", where);
        break;
    case ALARM_SENSOR_FAULT:
        buf_printf(&b,
                   "The carbon monoxide alarm%s%s reports a sensor fault and may not detect "
                   "carbon monoxide",
                   where[0] ? " " : "", where);
        break;
    case ALARM_MANUAL:
    default:
        buf_printf(&b, "An alarm was raised%s%s", where[0] ? " at " : "", where);
        if (manual[0])
            buf_printf(&b, ", with this message: %s", manual);
        break;
    }
    if (c.since[0])
        buf_printf(&b, ", since %.5s U T C", c.since);
    buf_puts(&b, ". ");
    if ((is_co(in->kind) || in->kind == ALARM_MANUAL) && critical(&c)) {
        if (contact(&c))
            buf_printf(&b, "Please check on %s now, and call ", owner[0] ? owner : "them");
        else
            buf_puts(&b, "Leave the building now, get to fresh air, and call ");
        put_spoken_number(&b, &c);
        buf_puts(&b, contact(&c) ? " if you cannot reach them." : ".");
    } else if (is_co(in->kind) || in->kind == ALARM_MANUAL) {
        if (contact(&c))
            buf_printf(&b, "Please check on %s.", owner[0] ? owner : "them");
        else
            buf_puts(&b, "Open the windows to ventilate, and leave if anyone feels unwell.");
    } else if (in->kind == ALARM_OFFLINE) {
        buf_puts(&b, "Please check its power and network connection.");
    } else {
        buf_puts(&b, "Please check or replace the device.");
    }
    if (b.len)
        ok = buf_append(out, b.data, b.len);
    buf_free(&b);
    return ok;
}

/* ---- emergency numbers ---- */

/* Sources: 112 in every EU member state (Directive (EU) 2018/1972, the
 * European Electronic Communications Code, art. 109) and the national
 * numbers in Wikipedia's "List of emergency telephone numbers" (the list
 * core/phone.c already cites). Only countries with one number we are sure
 * reaches fire or ambulance from a mobile phone; for CO poisoning the
 * medical or fire number where they differ (China 120, Brazil 192 SAMU). */
static const struct {
    unsigned short code;
    const char *number;
} emergency_by_code[] = {
    {1, "911"},   {7, "112"},   {27, "112"},  {30, "112"},  {31, "112"},  {32, "112"},
    {33, "112"},  {34, "112"},  {36, "112"},  {39, "112"},  {40, "112"},  {41, "112"},
    {43, "112"},  {44, "999"},  {45, "112"},  {46, "112"},  {47, "112"},  {48, "112"},
    {49, "112"},  {52, "911"},  {55, "192"},  {57, "123"},  {60, "999"},  {61, "000"},
    {62, "112"},  {63, "911"},  {64, "111"},  {65, "995"},  {81, "119"},  {82, "119"},
    {86, "120"},  {90, "112"},  {91, "112"},  {351, "112"}, {352, "112"}, {353, "112"},
    {354, "112"}, {356, "112"}, {357, "112"}, {358, "112"}, {359, "112"}, {370, "112"},
    {371, "112"}, {372, "112"}, {373, "112"}, {376, "112"}, {377, "112"}, {380, "112"},
    {382, "112"}, {385, "112"}, {386, "112"}, {389, "112"}, {420, "112"}, {421, "112"},
    {423, "112"}, {852, "999"}, {886, "119"}, {972, "112"}, {994, "112"}, {995, "112"},
};

/* NANP area codes of countries (not US territories) sharing +1 whose
 * emergency numbers differ or are not all 911 (Caribbean, Bermuda). */
static const unsigned short nanp_not_911[] = {
    242, 246, 264, 268, 284, 345, 441, 473, 649, 658, 664,
    721, 758, 767, 784, 809, 829, 849, 868, 869, 876,
};

const char *message_emergency_number(const char *e164)
{
    if (!e164 || e164[0] != '+')
        return NULL;
    const char *d = e164 + 1;
    size_t nd = strspn(d, "0123456789");
    if (nd != strlen(d) || nd < 4)
        return NULL;
    /* Calling codes are prefix-free: the first assigned prefix is the code. */
    int code = 0;
    for (size_t len = 1; len <= 3; len++) {
        code = code * 10 + (d[len - 1] - '0');
        if (phone_code_assigned(code))
            break;
        if (len == 3)
            return NULL;
    }
    if (code == 1) {
        int area = (d[1] - '0') * 100 + (d[2] - '0') * 10 + (d[3] - '0');
        for (size_t i = 0; i < sizeof nanp_not_911 / sizeof nanp_not_911[0]; i++)
            if (nanp_not_911[i] == area)
                return NULL;
    }
    for (size_t i = 0; i < sizeof emergency_by_code / sizeof emergency_by_code[0]; i++)
        if (emergency_by_code[i].code == code)
            return emergency_by_code[i].number;
    return NULL;
}
