/* phone.h - E.164 phone numbers: validation, normalisation from national
 * formats with an ISO 3166-1 alpha-2 country, emergency short numbers. */
#ifndef CARBON_PHONE_H
#define CARBON_PHONE_H
#include <stdbool.h>
#include <stddef.h>

#define PHONE_MAX 16 /* "+" and at most 15 digits */

enum phone_err {
    PHONE_OK,
    PHONE_EMPTY,            /* NULL, or no digits at all */
    PHONE_BAD_CHARS,        /* a letter, "+" not in front, or anything not a separator */
    PHONE_TOO_SHORT,        /* fewer than 8 digits after "+" (see phone_plan_lens) */
    PHONE_TOO_LONG,         /* more than 15 digits after "+" (see phone_plan_lens) */
    PHONE_UNKNOWN_COUNTRY,  /* country given but not an alpha-2 code in the table */
    PHONE_NEED_COUNTRY,     /* a national number and no country */
    PHONE_BAD_CALLING_CODE, /* international number whose calling code is not in service */
    PHONE_EMERGENCY,        /* an emergency short number: never dialled automatically */
};

/* Normalises in to E.164 "+<digits>" in out (PHONE_MAX + 1 bytes).
 * - Separators: spaces, tabs, dashes, dots, slashes and parentheses; one "+" before the first
 *   digit. Anything else -> PHONE_BAD_CHARS; no digit at all (or in NULL) -> PHONE_EMPTY.
 * - International: "+", the country's own international prefix if it has one besides "00"
 *   ("011" in the NANP, "0011" AU, "010" JP, "810" RU/KZ/BY, ...: phone_countries.c), or "00".
 *   The calling code must be assigned and in service, else PHONE_BAD_CALLING_CODE. country
 *   only selects the prefix here; it is otherwise ignored, even if unknown.
 * - National (anything else): needs country (NULL or "" -> PHONE_NEED_COUNTRY), a
 *   case-insensitive alpha-2 code (else PHONE_UNKNOWN_COUNTRY). Its trunk prefix is dropped
 *   ("0" for most, "1" NANP, "8" RU/KZ, "06" HU, ...) and its calling code prefixed.
 * - Zeros right after the calling code ("+44 (0)20 ...", "+49 030 ...", "1 0..." in the NANP)
 *   are dropped as stray trunk prefixes, except under codes whose numbers may start with 0
 *   (IT/VA +39, SM +378, BJ, BF, CG, CI, GA, NE, TJ) and the non-geographic codes.
 * - Length: 8..15 digits after "+", except where phone_plan_lens says otherwise: exactly 10
 *   national digits after +1 and +7; 4..5 after +290 and 4..7 after +683 and +690, small plans
 *   with 4-digit numbers (7 digits in all). Too few -> PHONE_TOO_SHORT, too many -> TOO_LONG.
 * - An emergency short number (phone_is_emergency), alone or after a prefix, calling code or
 *   trunk prefix -> PHONE_EMERGENCY, checked before the country and length errors.
 * On any error out is "". in and out must not overlap. */
enum phone_err phone_normalize(const char *in, const char *country, char out[PHONE_MAX + 1]);

/* A message saying what to fix, e.g. "use E.164 like +14155550100, or give a country".
 * Static storage, never NULL (an out-of-range value gets a generic message). */
const char *phone_strerror(enum phone_err e);

/* Calling code of an ISO 3166-1 alpha-2 country (case-insensitive), e.g. "GB" -> 44,
 * "us" -> 1; 0 if unknown (also for NULL, or anything but exactly two letters). */
int phone_country_code(const char *iso2);

/* True if the string (any format: separators, a leading "+", "00" or a trunk digit, or
 * "+<calling code>" before it) is a public emergency short number that must never be dialled
 * automatically: 112, 911, 999, 000, 110, 119, 15, 17, 18, ... (list in phone.c). False for
 * NULL and for strings with characters other than digits, separators and a leading "+". */
bool phone_is_emergency(const char *number);

/* True if s is already a valid E.164 number (as phone_normalize would output): exactly
 * phone_normalize(s, NULL) succeeding with s unchanged. */
bool phone_valid_e164(const char *s);

/* e164 for logs, without the number: the "+", the country calling code and the last 2 digits,
 * every other digit replaced by '*' (same length): "+14155550101" -> "+1********01",
 * "+447700900123" -> "+44********23". When 4 or fewer digits follow the calling code, all of
 * them are masked. Anything that is not "+" and 1 to 15 digits starting with an assigned calling
 * code (NULL, "", a national number, garbage) gives "(invalid)": never the input. out may not
 * overlap e164. */
void phone_mask(const char *e164, char out[PHONE_MAX + 1]);

/* The calling-code table (data in phone_countries.c), exported for tests and fuzzing. */
struct phone_country {
    char iso2[3]; /* upper case; rows sorted by it */
    unsigned short code;
    const char *trunk; /* national prefixes dropped, "|"-separated, first match wins; "" none */
    const char *idd;   /* international prefixes besides "00", "|"-separated, or NULL */
};
extern const struct phone_country phone_countries[];
extern const size_t phone_countries_len;

/* Country calling codes assigned by the ITU and in service, ascending. */
extern const unsigned short phone_calling_codes[];
extern const size_t phone_calling_codes_len;

/* National number lengths of the calling codes whose plans are stricter than 8..15 in all
 * (NANP, +7) or allow 7 in all (+290, +683, +690 have 4-digit numbers). */
struct phone_plan_len {
    unsigned short code;
    unsigned char min, max; /* digits after the calling code */
};
extern const struct phone_plan_len phone_plan_lens[];
extern const size_t phone_plan_lens_len;

/* True if code is one of phone_calling_codes. */
bool phone_code_assigned(int code);

#endif
