/* phone.c - E.164 phone numbers: validation, normalisation from national
 * formats with an ISO 3166-1 alpha-2 country, emergency short numbers. */
#include "core/phone.h"

#include <stdint.h> /* SIZE_MAX */
#include <stdlib.h>
#include <string.h>

/* Digits kept while scanning; an input with more is PHONE_TOO_LONG whatever its prefix. */
#define DIGITS_CAP 64
#define E164_MAX_DIGITS 15
#define E164_MIN_DIGITS 8

/* Public emergency short numbers that are never dialled automatically, in any country
 * (a false alarm on a number that is not an emergency one in the user's country costs
 * nothing: every entry is far shorter than a subscriber number). Sources: ITU-T E.161.1
 * (112 and 911 as the harmonised numbers), 3GPP TS 22.101, and the national numbers as
 * collected in Wikipedia's "List of emergency telephone numbers", noted per entry. */
static const char *const emergency_numbers[] = {
    "112",   /* GSM/3GPP TS 22.101 and EU universal; works on every mobile handset */
    "911",   /* NANP, Mexico, most of Latin America, Philippines */
    "999",   /* UK, Ireland, Hong Kong, Malaysia, Singapore police, Bangladesh, Poland */
    "000",   /* Australia */
    "111",   /* New Zealand */
    "110",   /* police: Germany, Japan, China, Taiwan, Indonesia, Iran */
    "119",   /* fire/ambulance: Japan, Korea, Taiwan, China fire, Indonesia, Jamaica */
    "120",   /* China ambulance */
    "122",   /* Austria fire, Egypt police, China traffic police */
    "123",   /* Egypt ambulance, Colombia */
    "133",   /* Austria and Chile police */
    "144",   /* Austria and Switzerland ambulance */
    "117",   /* Switzerland police */
    "118",   /* Switzerland fire, Italy medical */
    "113",   /* Italy police, Norway medical, Vietnam police */
    "114",   /* Vietnam fire */
    "115",   /* Italy fire, Vietnam ambulance */
    "100",   /* police: India, Greece, Israel; Belgium fire/ambulance */
    "101",   /* India fire, Israel ambulance, Belgium police, Argentina police */
    "102",   /* India ambulance, Israel fire, Russia and Ukraine police */
    "103",   /* Russia and Ukraine ambulance */
    "104",   /* Russia and Ukraine gas emergency */
    "108",   /* India emergency ambulance */
    "15",    /* France SAMU (medical) */
    "17",    /* France police */
    "18",    /* France fire */
    "01",    /* former USSR plans: fire */
    "02",    /* former USSR plans: police */
    "03",    /* former USSR plans: ambulance */
    "04",    /* former USSR plans: gas */
    "08",    /* kept from the original service's list; two digits never form a number */
    "061",   /* Spain medical */
    "062",   /* Spain Guardia Civil */
    "080",   /* Spain fire */
    "091",   /* Spain national police */
    "092",   /* Spain local police */
    "060",   /* Mexico, former national emergency number */
    "066",   /* Mexico, former emergency number */
    "190",   /* Brazil military police */
    "191",   /* Thailand police, Brazil highway police */
    "192",   /* Brazil ambulance, North Macedonia police */
    "193",   /* Brazil fire, North Macedonia fire */
    "194",   /* North Macedonia ambulance */
    "197",   /* Brazil civil police */
    "199",   /* Greece and Thailand fire */
    "995",   /* Singapore fire/ambulance */
    "997",   /* Poland police */
    "998",   /* Poland fire */
    "1122",  /* Pakistan rescue */
    "10111", /* South Africa police */
    "10177", /* South Africa ambulance */
};

/* Digits and where the input put its "+". */
struct scan {
    char d[DIGITS_CAP];
    size_t n; /* digits seen; may exceed DIGITS_CAP, then only the first are kept */
    bool plus;
};

/* Splits in into digits, rejecting anything but separators and one leading "+". */
static enum phone_err scan(const char *in, struct scan *s)
{
    s->n = 0;
    s->plus = false;
    for (const char *p = in; *p; p++) {
        char c = *p;
        if (c >= '0' && c <= '9') {
            if (s->n < DIGITS_CAP)
                s->d[s->n] = c;
            s->n++;
        } else if (c == '+') {
            if (s->plus || s->n > 0)
                return PHONE_BAD_CHARS;
            s->plus = true;
        } else if (c != ' ' && c != '\t' && c != '-' && c != '.' && c != '/' && c != '(' &&
                   c != ')') {
            return PHONE_BAD_CHARS;
        }
    }
    return s->n ? PHONE_OK : PHONE_EMPTY;
}

static bool is_emergency_digits(const char *d, size_t n)
{
    for (size_t i = 0; i < sizeof emergency_numbers / sizeof emergency_numbers[0]; i++)
        if (strlen(emergency_numbers[i]) == n && memcmp(emergency_numbers[i], d, n) == 0)
            return true;
    return false;
}

static int cmp_code(const void *a, const void *b)
{
    unsigned short x = *(const unsigned short *)a, y = *(const unsigned short *)b;
    return (x > y) - (x < y);
}

bool phone_code_assigned(int code)
{
    if (code <= 0 || code > 999)
        return false;
    unsigned short key = (unsigned short)code;
    return bsearch(&key, phone_calling_codes, phone_calling_codes_len, sizeof key, cmp_code) !=
           NULL;
}

/* Length (1..3) of the assigned calling code d starts with, 0 if none. The set is
 * prefix-free, so at most one length matches. */
static size_t calling_code_len(const char *d, size_t n, int *code)
{
    int v = 0;
    if (n == 0 || d[0] == '0') /* no code starts with 0 ("01" is not +1) */
        return 0;
    for (size_t len = 1; len <= 3 && len <= n; len++) {
        v = v * 10 + (d[len - 1] - '0');
        if (phone_code_assigned(v)) {
            *code = v;
            return len;
        }
    }
    return 0;
}

/* Length of the first "|"-separated alternative of list that d starts with, 0 if none. */
static size_t match_prefix(const char *list, const char *d, size_t n)
{
    if (!list)
        return 0;
    while (*list) {
        size_t len = strcspn(list, "|");
        if (len && len <= n && memcmp(list, d, len) == 0)
            return len;
        list += len;
        if (*list == '|')
            list++;
    }
    return 0;
}

static int cmp_country(const void *key, const void *row)
{
    return strcmp(key, ((const struct phone_country *)row)->iso2);
}

static const struct phone_country *find_country(const char *iso2)
{
    char key[3];
    if (!iso2)
        return NULL;
    for (int i = 0; i < 2; i++) {
        char c = iso2[i];
        if (c >= 'a' && c <= 'z')
            c = (char)(c - 'a' + 'A');
        if (c < 'A' || c > 'Z')
            return NULL;
        key[i] = c;
    }
    if (iso2[2] != '\0')
        return NULL;
    key[2] = '\0';
    return bsearch(key, phone_countries, phone_countries_len, sizeof phone_countries[0],
                   cmp_country);
}

int phone_country_code(const char *iso2)
{
    const struct phone_country *c = find_country(iso2);
    return c ? c->code : 0;
}

/* True if numbers under this geographic calling code may begin with 0 (Italy, ...): then a 0
 * written after "+<code>" is part of the number, not a stray trunk prefix. False for codes no
 * table row uses (the non-geographic ones), whose numbers are left as written. */
static bool code_drops_zero(int code)
{
    bool seen = false;
    for (size_t i = 0; i < phone_countries_len; i++) {
        if (phone_countries[i].code != code)
            continue;
        if (phone_countries[i].trunk[0] == '\0')
            return false;
        seen = true;
    }
    return seen;
}

/* The range of national digits allowed after code, from phone_plan_lens or E.164's 8..15. */
static void national_len(int code, size_t code_len, size_t *min, size_t *max)
{
    for (size_t i = 0; i < phone_plan_lens_len; i++) {
        if (phone_plan_lens[i].code == code) {
            *min = phone_plan_lens[i].min;
            *max = phone_plan_lens[i].max;
            return;
        }
    }
    *min = E164_MIN_DIGITS - code_len;
    *max = E164_MAX_DIGITS - code_len;
}

/* Everything after scanning: s has 1..DIGITS_CAP digits; c is the country or NULL, and
 * country_given says whether a country was named (c NULL then means unknown). Writes out
 * only on PHONE_OK. */
static enum phone_err classify(const struct scan *s, const struct phone_country *c,
                               bool country_given, char out[PHONE_MAX + 1])
{
    const char *nat;
    size_t nn, start, k;
    int code = 0;

    if (is_emergency_digits(s->d, s->n))
        return PHONE_EMERGENCY;
    if (s->plus)
        start = 0;
    else if (c && (k = match_prefix(c->idd, s->d, s->n)))
        start = k;
    else if (s->n >= 2 && s->d[0] == '0' && s->d[1] == '0')
        start = 2;
    else
        start = SIZE_MAX;

    if (start != SIZE_MAX) {
        const char *r = s->d + start;
        size_t rn = s->n - start;
        size_t len = calling_code_len(r, rn, &code);
        if (is_emergency_digits(r, rn))
            return PHONE_EMERGENCY;
        if (!len)
            return rn < 3 && (rn == 0 || r[0] != '0') ? PHONE_TOO_SHORT : PHONE_BAD_CALLING_CODE;
        nat = r + len;
        nn = rn - len;
        if (is_emergency_digits(nat, nn))
            return PHONE_EMERGENCY;
    } else {
        if (!c)
            return country_given ? PHONE_UNKNOWN_COUNTRY : PHONE_NEED_COUNTRY;
        k = match_prefix(c->trunk, s->d, s->n);
        nat = s->d + k;
        nn = s->n - k;
        if (is_emergency_digits(nat, nn))
            return PHONE_EMERGENCY;
        code = c->code;
    }
    /* "+44 (0)20 ...", "+49 030 ...", "1 0..." in the NANP: zeros left in front of a number
     * that never starts with 0 are stray trunk prefixes. */
    if (nn && nat[0] == '0' && code_drops_zero(code)) {
        while (nn && nat[0] == '0') {
            nat++;
            nn--;
        }
        if (is_emergency_digits(nat, nn))
            return PHONE_EMERGENCY;
    }

    char cc[4];
    size_t cl = 0;
    for (int v = code; v; v /= 10)
        cc[cl++] = (char)('0' + v % 10);
    size_t total = cl + nn, min, max;
    national_len(code, cl, &min, &max);
    if (nn > max)
        return PHONE_TOO_LONG;
    if (nn < min)
        return PHONE_TOO_SHORT;
    out[0] = '+';
    for (size_t i = 0; i < cl; i++)
        out[1 + i] = cc[cl - 1 - i];
    memcpy(out + 1 + cl, nat, nn);
    out[1 + total] = '\0';
    return PHONE_OK;
}

enum phone_err phone_normalize(const char *in, const char *country, char out[PHONE_MAX + 1])
{
    struct scan s;
    enum phone_err rc;

    out[0] = '\0';
    if (!in)
        return PHONE_EMPTY;
    rc = scan(in, &s);
    if (rc != PHONE_OK)
        return rc;
    if (s.n > DIGITS_CAP)
        return PHONE_TOO_LONG;
    bool given = country && country[0];
    return classify(&s, given ? find_country(country) : NULL, given, out);
}

bool phone_is_emergency(const char *number)
{
    struct scan s;
    char out[PHONE_MAX + 1];

    if (!number || scan(number, &s) != PHONE_OK || s.n > DIGITS_CAP)
        return false;
    /* Without a country, every country's prefixes are tried: emergency in any of them. */
    if (classify(&s, NULL, false, out) == PHONE_EMERGENCY)
        return true;
    for (size_t i = 0; i < phone_countries_len; i++)
        if (classify(&s, &phone_countries[i], true, out) == PHONE_EMERGENCY)
            return true;
    return false;
}

bool phone_valid_e164(const char *s)
{
    char out[PHONE_MAX + 1];
    return s && s[0] == '+' && phone_normalize(s, NULL, out) == PHONE_OK && strcmp(out, s) == 0;
}

void phone_mask(const char *e164, char out[PHONE_MAX + 1])
{
    static const char invalid[] = "(invalid)";
    size_t n = e164 ? strlen(e164) : 0;
    int code = 0;
    size_t cl = 0;
    bool ok = n >= 2 && n <= PHONE_MAX && e164[0] == '+';
    for (size_t i = 1; ok && i < n; i++)
        ok = e164[i] >= '0' && e164[i] <= '9';
    if (ok)
        cl = calling_code_len(e164 + 1, n - 1, &code);
    if (!ok || !cl) {
        memcpy(out, invalid, sizeof invalid);
        return;
    }
    size_t keep_from = n; /* digits at or after this index stay */
    if (n - 1 - cl > 4)
        keep_from = n - 2;
    for (size_t i = 0; i < n; i++)
        out[i] = i <= cl || i >= keep_from ? e164[i] : '*';
    out[n] = '\0';
}

const char *phone_strerror(enum phone_err e)
{
    switch (e) {
    case PHONE_OK:
        return "ok";
    case PHONE_EMPTY:
        return "enter a phone number, e.g. +14155550100";
    case PHONE_BAD_CHARS:
        return "use only digits, one leading +, and spaces, dashes, dots, slashes or parentheses";
    case PHONE_TOO_SHORT:
        return "number too short: give the full number with its area code, e.g. +14155550100";
    case PHONE_TOO_LONG:
        return "number too long: an E.164 number has at most 15 digits after the +";
    case PHONE_UNKNOWN_COUNTRY:
        return "unknown country: use an ISO 3166-1 alpha-2 code such as US, GB or DE";
    case PHONE_NEED_COUNTRY:
        return "use E.164 like +14155550100, or give a country";
    case PHONE_BAD_CALLING_CODE:
        return "no country uses that calling code: check the digits after + (e.g. +1, +44, +49)";
    case PHONE_EMERGENCY:
        return "emergency numbers (112, 911, 999, ...) are never called automatically";
    }
    return "invalid phone number";
}
