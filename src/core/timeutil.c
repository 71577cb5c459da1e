/* timeutil.c - RFC 3339 parsing/formatting and epoch-millisecond helpers. */
#include "core/timeutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Reads exactly n ASCII digits. */
static bool digits(const char *s, size_t n, unsigned *out)
{
    unsigned v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    *out = v;
    return true;
}

bool rfc3339_parse(const char *s, size_t len, int64_t *ms)
{
    unsigned Y, M, D, h, mi, sec, frac = 0;
    /* "YYYY-MM-DDTHH:MM:SS" is 19 characters. */
    if (len < 20 || !digits(s, 4, &Y) || s[4] != '-' || !digits(s + 5, 2, &M) || s[7] != '-' ||
        !digits(s + 8, 2, &D) || (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2, &h) ||
        s[13] != ':' || !digits(s + 14, 2, &mi) || s[16] != ':' || !digits(s + 17, 2, &sec))
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        /* Rounded to the nearest millisecond, like epoch seconds are, so one
         * instant has one identity whichever way it is written. */
        size_t start = ++i;
        unsigned scale = 1000;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            frac += (unsigned)(s[i] - '0') * scale;
            scale /= 10;
            i++;
        }
        if (i == start)
            return false;
        frac = (frac + 5) / 10;
    }
    int off_min = 0;
    if (i >= len)
        return false;
    if (s[i] == 'Z' || s[i] == 'z') {
        i++;
    } else if (s[i] == '+' || s[i] == '-') {
        unsigned oh, om;
        if (len - i != 6 || !digits(s + i + 1, 2, &oh) || s[i + 3] != ':' ||
            !digits(s + i + 4, 2, &om) || oh > 23 || om > 59)
            return false;
        off_min = (int)(oh * 60 + om) * (s[i] == '-' ? -1 : 1);
        i += 6;
    } else {
        return false;
    }
    if (i != len)
        return false;
    if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M) || h > 23 || mi > 59 || sec > 60)
        return false;
    int64_t total_min = days_from_civil(Y, M, D) * 1440 + h * 60 + mi - off_min;
    if (sec == 60) {
        /* A leap second can only be the last second of a UTC day. */
        if (((total_min % 1440) + 1440) % 1440 != 1439)
            return false;
        sec = 59;
        frac = 999;
    }
    *ms = total_min * 60000 + (int64_t)sec * 1000 + frac;
    return true;
}

size_t rfc3339_format(int64_t ms, char *out)
{
    /* Clamp the instant (not just the year) to 0000-01-01 .. 9999-12-31. */
    if (ms < -62167219200000LL)
        ms = -62167219200000LL;
    if (ms > 253402300799999LL)
        ms = 253402300799999LL;
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    int64_t rem = ms - days * 86400000;
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    unsigned hh = (unsigned)(rem / 3600000), mm = (unsigned)(rem / 60000 % 60),
             ss = (unsigned)(rem / 1000 % 60), fff = (unsigned)(rem % 1000);
    int n = snprintf(out, 25, "%04d-%02u-%02uT%02u:%02u:%02u.%03uZ", (int)y, m, d, hh, mm, ss, fff);
    return n > 0 ? (size_t)n : 0;
}

bool epoch_seconds_to_ms(double x, int64_t *ms)
{
    if (!isfinite(x) || x > 1e13 || x < -1e13)
        return false;
    *ms = (int64_t)llround(x * 1000.0);
    return true;
}

bool time_param_parse(const char *s, int64_t *ms)
{
    size_t len = strlen(s);
    if (len == 0 || len > 64)
        return false;
    if (rfc3339_parse(s, len, ms))
        return true;
    /* Plain decimal seconds: digits with an optional fraction, optional sign. */
    const char *p = s;
    if (*p == '-')
        p++;
    bool any = false, dot = false;
    for (; *p; p++) {
        if (*p >= '0' && *p <= '9')
            any = true;
        else if (*p == '.' && !dot)
            dot = true;
        else
            return false;
    }
    if (!any)
        return false;
    char *end;
    double v = strtod(s, &end);
    return *end == '\0' && epoch_seconds_to_ms(v, ms);
}

int64_t time_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t time_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
