/* message.h - the texts people get about an alarm: SMS (kept to one segment
 * where possible), spoken call text, all clear, test message; SMS segment
 * counting; the emergency number to tell people to call. */
#ifndef CARBON_MESSAGE_H
#define CARBON_MESSAGE_H
#include "alarm/alarm.h"
#include "core/buf.h"

#include <stdbool.h>
#include <stdint.h>

#define MESSAGE_SMS_MAX 1600   /* bytes: never more (Twilio takes 1600 characters) */
#define MESSAGE_VOICE_MAX 1000 /* bytes of a spoken text: two fit a 4000-byte TwiML */

enum message_role {
    MESSAGE_OWNER,     /* the device's owner: "Leave now" */
    MESSAGE_SECONDARY, /* a secondary contact: "Alice's CO alarm ... check on Alice" */
    MESSAGE_EMERGENCY, /* an emergency contact: same wording as a secondary one */
};

struct message_input {
    const char *device_name;      /* NULL or "": not named */
    const char *location;         /* NULL or "": none */
    enum alarm_kind kind;         /* ALARM_CO_HIGH ... ALARM_MANUAL */
    enum alarm_severity severity; /* ALARM_SEV_CRITICAL: "DANGER", else "Warning" */
    double ppm;                   /* current CO; NaN or < 0: not shown */
    double peak_ppm;              /* shown when it is above ppm (rounded) */
    /* Start of the alarm, epoch ms; <= 0: not shown. Always written as
     * "HH:MM UTC": the project has no per-user time zone. */
    int64_t since_ms;
    enum message_role role;
    const char *owner_name; /* for contacts: "Alice's CO alarm"; NULL or "": left out */
    /* What to call: "911", "112", ... (message_emergency_number of the
     * recipient's number); NULL or "": "your local emergency number". */
    const char *emergency_number;
    const char *manual_text; /* ALARM_MANUAL: what the person wrote; may be NULL */
};

/* Names, location and manual text are cleaned first: control characters
 * become spaces, invalid UTF-8 '?', and they are cut (with "...") to 120
 * bytes (manual text 600) on a character boundary. */

/* The alarm SMS, appended to out: what happened (kind, ppm, peak, where,
 * since), what to do (leave / ventilate / check the device; call the
 * emergency number when critical) and "Reply ACK to acknowledge". To keep it
 * in one segment (160 GSM-7 septets, or 70 UCS-2 units when a name needs
 * UCS-2) these are tried in order: the full text; without the location;
 * compact wording ("Leave now, call 911. Reply ACK."); without the time;
 * then names cut to 32, 24, 16, 12, 8 and 6 characters. If none fits one
 * segment, the full text (multipart) is used. Never over MESSAGE_SMS_MAX
 * bytes. False (out unchanged) only if out refused the bytes. */
bool message_sms(const struct message_input *in, struct buf *out);

/* The text spoken in the alarm call (twiml_call adds "Press 1 to
 * acknowledge."): words instead of abbreviations ("parts per million",
 * "U T C"), the emergency number digit by digit ("9 1 1"). At most
 * MESSAGE_VOICE_MAX bytes. False (out unchanged) if out refused the bytes. */
bool message_voice(const struct message_input *in, struct buf *out);

/* The SMS saying an alarm has cleared (CO back to normal, device back
 * online, fault gone), one segment where possible (drops the location, then
 * cuts names). False (out unchanged) if out refused the bytes. */
bool message_all_clear(const struct message_input *in, struct buf *out);

/* The test SMS of POST /v1/notify/test, for user_name (NULL or "": "you").
 * False (out unchanged) if out refused the bytes. */
bool message_test(const char *user_name, struct buf *out);

struct sms_count {
    unsigned segments; /* 0 for "", 1 up to 160/70 units, else ceil over 153/67 */
    unsigned units;    /* GSM-7 septets (extension characters count 2) or UTF-16 units */
    bool ucs2;         /* some character is outside the GSM 03.38 alphabet */
};

/* Counts text (UTF-8) the way SMS carriers do: GSM 03.38 default alphabet
 * (1 septet) and its extension table (^{}\[~]|€ and form feed, 2 septets),
 * otherwise UCS-2 where a character outside the BMP takes 2 units. A
 * multipart message has 153 septets (67 units) per segment, and an escape
 * pair or a surrogate pair is never split across two. Invalid UTF-8 bytes
 * count as U+FFFD. NULL counts as "". */
void message_sms_count(const char *text, struct sms_count *out);

/* The emergency number to tell the owner of E.164 number e164 to call:
 * "911" (+1 US/CA and US territories, +52, +63), "999" (+44, +60, +852),
 * "000" (+61), "111" (+64), "119" (+81, +82, +886), "120" (+86), "995"
 * (+65), "112" (EU and other countries where 112 is routed), ...; NULL when
 * the country is not in the table or has no single number we are sure of
 * (then say "your local emergency number"). Static storage. */
const char *message_emergency_number(const char *e164);

#endif
