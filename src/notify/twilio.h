/* twilio.h - a Twilio REST client (libcurl): send an SMS, place a call, and
 * classify the outcome for the outbox (accepted, retry, permanent, config). */
#ifndef CARBON_TWILIO_H
#define CARBON_TWILIO_H
#include <stdbool.h>
#include <stdint.h>

#define TWILIO_API_BASE "https://api.twilio.com"
#define TWILIO_MAX_REPLY (64 * 1024) /* reply bytes kept; more is not read */
#define TWILIO_SMS_MAX 1600          /* Body characters (UTF-16 units) Twilio takes */
#define TWILIO_TWIML_MAX 4000        /* Twiml bytes (Twilio error 32018 above 4000 chars) */
#define TWILIO_SID_MAX 64
#define TWILIO_STATUS_MAX 32
#define TWILIO_ERR_MAX 160

struct twilio_config {
    const char *api_base;    /* NULL or "": TWILIO_API_BASE; http(s)://host[:port], no '/' at end */
    const char *account_sid; /* "AC..." */
    const char *auth_token;  /* never logged nor put in results */
    const char *from;        /* E.164 sender number */
    long connect_timeout_ms; /* <= 0: 5000 */
    long timeout_ms;         /* whole request, <= 0: 15000 */
};

enum twilio_outcome {
    /* The provider took the request (2xx). sid may be "" when the reply could
     * not be read (message says so): never resend it. */
    TWILIO_ACCEPTED,
    /* Try again later (backoff_delay_ms, with retry_after_ms as a floor):
     * network errors, timeouts, 408, 429 (and Twilio codes 20429, 14107,
     * 21611), 5xx. When maybe_delivered is set the provider may have acted on
     * it: a retry can repeat the message (record it as a possible duplicate). */
    TWILIO_RETRY,
    /* This recipient or message cannot be sent, now or later: other 4xx
     * (21211 invalid To, 21614 not a mobile, 21610 the recipient replied
     * STOP, ...), or a refusal before sending (not E.164, an emergency number,
     * an empty or oversized body). Move on to the next contact. */
    TWILIO_PERMANENT,
    /* Our configuration is wrong, not the recipient: 401/403/404 (20003
     * authenticate, wrong account SID), sender problems (21212 invalid From,
     * 21606/21659 From not able to send, 21603 From missing, 21608 trial
     * account), 3xx (api_base is wrong: redirects are not followed), TLS
     * certificate or URL errors. Keep the message pending and alert operators:
     * every other contact would fail the same way. */
    TWILIO_CONFIG,
};

struct twilio_result {
    enum twilio_outcome outcome;
    long http_status;               /* 0 if no HTTP reply */
    long error_code;                /* Twilio's "code" (e.g. 21211), 0 if none */
    char sid[TWILIO_SID_MAX];       /* "SM..." / "CA..." on ACCEPTED, else "" */
    char status[TWILIO_STATUS_MAX]; /* "queued", ... on ACCEPTED, else "" */
    /* Short, printable-ASCII, never holds the token or a request body:
     * Twilio's "message", a curl error, or our own reason. */
    char message[TWILIO_ERR_MAX];
    int64_t retry_after_ms; /* from Retry-After (delta seconds or HTTP-date); -1 if none */
    /* The request may have reached the provider: it was (at least partly)
     * sent before the failure, or a 2xx/500/502/504 was answered. False only
     * when it surely was not acted on (no connection, 429, 503, 4xx). */
    bool maybe_delivered;
};

/* One client with one libcurl easy handle (connections are kept alive and
 * reused). NOT thread-safe: use one handle per thread. */
struct twilio;

/* Creates a client; the configuration strings are copied. NULL on a missing
 * account_sid, auth_token or from, an api_base that is not http(s)://, or no
 * memory; *why (if why) then says which, without the secret. curl_global_init
 * must have been called by the program (the server does it at start). */
struct twilio *twilio_new(const struct twilio_config *cfg, const char **why);
/* Frees the client (NULL is fine) and wipes its copy of the token. */
void twilio_free(struct twilio *t);

/* POST {api_base}/2010-04-01/Accounts/{sid}/Messages.json with To, From,
 * Body and (if status_callback is non-NULL and not empty) StatusCallback.
 * Fills *r (always, whatever the outcome). Blocks at most about timeout_ms. */
void twilio_send_sms(struct twilio *t, const char *to, const char *body,
                     const char *status_callback, struct twilio_result *r);

/* POST .../Calls.json with To, From, Twiml, Timeout (ring seconds, clamped
 * to 5..600; <= 0 leaves Twilio's default of 60) and, when status_callback is
 * given, StatusCallback with StatusCallbackEvent=completed (Twilio's default,
 * stated explicitly: the outcome of the call is what the outbox needs). */
void twilio_place_call(struct twilio *t, const char *to, const char *twiml, int ring_timeout_s,
                       const char *status_callback, struct twilio_result *r);

/* "accepted", "retry", "permanent", "config" ("unknown" if out of range). */
const char *twilio_outcome_name(enum twilio_outcome o);

#endif
