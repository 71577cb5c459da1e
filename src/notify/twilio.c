/* twilio.c - Twilio REST client over libcurl: form POSTs with Basic auth,
 * bounded replies, and one classification of every outcome. */
#include "notify/twilio.h"

#include "core/buf.h"
#include "core/phone.h"
#include "notify/form.h"

#include <curl/curl.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TWILIO_MAX_REQUEST (32 * 1024)
#define RETRY_AFTER_MAX_S (24 * 3600) /* a longer Retry-After is taken as a day */

struct twilio {
    CURL *h;
    struct curl_slist *headers;
    char *api_base, *sid, *token, *from;
    long connect_timeout_ms, timeout_ms;
};

/* What one exchange left behind, filled by the curl callbacks. */
struct reply {
    struct buf body;
    bool truncated;       /* the body went over TWILIO_MAX_REPLY */
    bool incomplete;      /* the transfer failed after the status line */
    char retry_after[64]; /* the header's value, "" if none */
    char date[64];
};

const char *twilio_outcome_name(enum twilio_outcome o)
{
    switch (o) {
    case TWILIO_ACCEPTED:
        return "accepted";
    case TWILIO_RETRY:
        return "retry";
    case TWILIO_PERMANENT:
        return "permanent";
    case TWILIO_CONFIG:
        return "config";
    }
    return "unknown";
}

static bool printable(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s == 0x7f)
            return false;
    return true;
}

static bool alnum_only(const char *s)
{
    if (!*s)
        return false;
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9')))
            return false;
    return true;
}

void twilio_free(struct twilio *t)
{
    if (!t)
        return;
    if (t->h)
        curl_easy_cleanup(t->h);
    curl_slist_free_all(t->headers);
    if (t->token) {
        OPENSSL_cleanse(t->token, strlen(t->token));
        free(t->token);
    }
    free(t->api_base);
    free(t->sid);
    free(t->from);
    free(t);
}

struct twilio *twilio_new(const struct twilio_config *cfg, const char **why)
{
    const char *dummy;
    struct twilio *t = NULL;
    if (!why)
        why = &dummy;
    const char *base = cfg->api_base && *cfg->api_base ? cfg->api_base : TWILIO_API_BASE;
    if (strncmp(base, "https://", 8) != 0 && strncmp(base, "http://", 7) != 0) {
        *why = "the Twilio API base must be an http:// or https:// URL";
        return NULL;
    }
    if (!printable(base) || strchr(base, ' ')) {
        *why = "the Twilio API base has invalid characters";
        return NULL;
    }
    if (!cfg->account_sid || !alnum_only(cfg->account_sid) || strlen(cfg->account_sid) > 64) {
        *why = "the Twilio account SID is missing or not alphanumeric";
        return NULL;
    }
    if (!cfg->auth_token || !*cfg->auth_token || !printable(cfg->auth_token)) {
        *why = "the Twilio auth token is missing or has control characters";
        return NULL;
    }
    if (!cfg->from || !*cfg->from || !printable(cfg->from)) {
        *why = "the Twilio sender (from) is missing or has control characters";
        return NULL;
    }
    t = calloc(1, sizeof *t);
    if (!t)
        goto nomem;
    t->api_base = strdup(base);
    t->sid = strdup(cfg->account_sid);
    t->token = strdup(cfg->auth_token);
    t->from = strdup(cfg->from);
    t->h = curl_easy_init();
    if (!t->api_base || !t->sid || !t->token || !t->from || !t->h)
        goto nomem;
    size_t n = strlen(t->api_base);
    while (n > 8 && t->api_base[n - 1] == '/')
        t->api_base[--n] = '\0';
    t->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms : 5000;
    t->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : 15000;
    const char *hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
                          "Accept: application/json", "Expect:"};
    for (size_t i = 0; i < sizeof hdrs / sizeof hdrs[0]; i++) {
        struct curl_slist *l = curl_slist_append(t->headers, hdrs[i]);
        if (!l)
            goto nomem;
        t->headers = l;
    }
    return t;
nomem:
    *why = "out of memory";
    twilio_free(t);
    return NULL;
}

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    struct reply *rep = arg;
    if (!buf_append(&rep->body, p, size * n)) {
        rep->truncated = true;
        return 0; /* stops the transfer: CURLE_WRITE_ERROR */
    }
    return size * n;
}

/* Copies the value of header line p (len bytes) into out if its name is
 * name; trims spaces and the CRLF. */
static void header_value(const char *p, size_t len, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl || strncasecmp(p, name, nl) != 0 || p[nl] != ':')
        return;
    p += nl + 1;
    len -= nl + 1;
    while (len && (*p == ' ' || *p == '\t'))
        p++, len--;
    while (len && (p[len - 1] == '\r' || p[len - 1] == '\n' || p[len - 1] == ' '))
        len--;
    if (len >= cap)
        len = cap - 1;
    memcpy(out, p, len);
    out[len] = '\0';
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    struct reply *rep = arg;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) { /* a new response: forget the last one's */
        rep->retry_after[0] = rep->date[0] = '\0';
        return len;
    }
    header_value(p, len, "Retry-After", rep->retry_after, sizeof rep->retry_after);
    header_value(p, len, "Date", rep->date, sizeof rep->date);
    return len;
}

/* Retry-After as milliseconds from now: delta seconds, or an HTTP-date taken
 * relative to the reply's Date header (the server's clock) if it has one. */
static int64_t retry_after_ms(const struct reply *rep)
{
    const char *v = rep->retry_after;
    if (!*v)
        return -1;
    if (strspn(v, "0123456789") == strlen(v)) {
        int64_t s = 0;
        for (; *v && s <= RETRY_AFTER_MAX_S; v++)
            s = s * 10 + (*v - '0');
        return (s > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : s) * 1000;
    }
    time_t when = curl_getdate(v, NULL);
    if (when == -1)
        return -1;
    time_t now = rep->date[0] ? curl_getdate(rep->date, NULL) : -1;
    if (now == -1)
        now = time(NULL);
    int64_t d = (int64_t)when - (int64_t)now;
    if (d < 0)
        d = 0;
    return (d > RETRY_AFTER_MAX_S ? RETRY_AFTER_MAX_S : d) * 1000;
}

/* Copies s into out as printable ASCII ('?' for anything else), truncated. */
static void sanitize(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; s && *s && o + 1 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x80) {
            while ((unsigned char)s[1] >= 0x80 && (unsigned char)s[1] < 0xc0)
                s++; /* one '?' per UTF-8 character */
            c = '?';
        } else if (c < 0x20 || c == 0x7f) {
            c = ' ';
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
}

static void set_message(struct twilio_result *r, const char *text)
{
    sanitize(r->message, sizeof r->message, text);
}

/* Twilio error codes whose cause is our account or sender, not the
 * recipient (https://www.twilio.com/docs/api/errors). */
static bool config_code(long code)
{
    static const long codes[] = {
        20003, /* authenticate */
        20005, /* account not active */
        20404, /* resource not found: wrong account SID */
        21210, /* 'From' phone number not verified */
        21212, /* invalid 'From' number */
        21603, /* 'From' phone number is required */
        21606, /* 'From' number is not a valid, SMS-capable number for this account */
        21608, /* trial account: unverified 'To' number (every contact would fail) */
        21659, /* 'From' is not a Twilio number or verified ID */
    };
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (codes[i] == code)
            return true;
    return false;
}

/* Twilio error codes meaning "too much right now" whatever the HTTP status. */
static bool retry_code(long code)
{
    return code == 20429 || code == 14107 || code == 21611;
}

static void classify_http(struct twilio_result *r, const struct reply *rep)
{
    json_t *j = NULL;
    long st = r->http_status;
    if (!rep->truncated && !rep->incomplete && rep->body.len)
        j = json_loadb(rep->body.data, rep->body.len, 0, NULL);
    if (st >= 200 && st < 300) {
        const char *sid = json_string_value(json_object_get(j, "sid"));
        const char *status = json_string_value(json_object_get(j, "status"));
        r->outcome = TWILIO_ACCEPTED;
        r->maybe_delivered = true;
        if (sid && alnum_only(sid) && strlen(sid) < sizeof r->sid) {
            memcpy(r->sid, sid, strlen(sid) + 1);
            if (status)
                sanitize(r->status, sizeof r->status, status);
        } else {
            /* The provider said yes: resending could duplicate the alarm. */
            set_message(r, rep->truncated    ? "accepted, but the reply was too large to read"
                           : rep->incomplete ? "accepted, but the reply was cut off"
                           : j               ? "accepted, but the reply has no valid sid"
                                             : "accepted, but the reply is not JSON");
        }
        goto out;
    }
    json_t *code = json_object_get(j, "code");
    if (json_is_integer(code))
        r->error_code = (long)json_integer_value(code);
    const char *msg = json_string_value(json_object_get(j, "message"));
    if (msg)
        sanitize(r->message, sizeof r->message, msg);
    else
        set_message(r, "an HTTP error without a Twilio error message");
    if (st == 429 || st == 408 || st >= 500 || retry_code(r->error_code)) {
        r->outcome = TWILIO_RETRY;
        r->maybe_delivered = st == 500 || st == 502 || st == 504;
    } else if (st == 401 || st == 403 || st == 404 || (st >= 300 && st < 400) ||
               config_code(r->error_code)) {
        r->outcome = TWILIO_CONFIG;
    } else if (st >= 400 && st < 500) {
        r->outcome = TWILIO_PERMANENT;
    } else { /* 1xx as final status, or nonsense: the provider may have it */
        r->outcome = TWILIO_RETRY;
        r->maybe_delivered = true;
    }
out:
    json_decref(j);
}

static void classify_curl(struct twilio_result *r, CURLcode rc, bool sent)
{
    set_message(r, curl_easy_strerror(rc));
    r->maybe_delivered = sent;
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_LOGIN_DENIED:
        r->outcome = TWILIO_CONFIG;
        break;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT:
        r->outcome = TWILIO_RETRY;
        r->maybe_delivered = false;
        break;
    default: /* timeouts, resets, TLS hiccups, empty replies, memory */
        r->outcome = TWILIO_RETRY;
        break;
    }
}

/* POSTs form to {api_base}/2010-04-01/Accounts/{sid}/{what} and fills r. */
static void post(struct twilio *t, const char *what, const struct buf *form,
                 struct twilio_result *r)
{
    char url[1024];
    struct reply rep;
    memset(&rep, 0, sizeof rep);
    buf_init(&rep.body, TWILIO_MAX_REPLY);
    if ((size_t)snprintf(url, sizeof url, "%s/2010-04-01/Accounts/%s/%s", t->api_base, t->sid,
                         what) >= sizeof url) {
        r->outcome = TWILIO_CONFIG;
        set_message(r, "the Twilio API URL is too long");
        goto out;
    }
    CURL *h = t->h;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h, CURLOPT_USERNAME, t->sid);
    curl_easy_setopt(h, CURLOPT_PASSWORD, t->token);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, t->headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "carbon/" CARBON_VERSION);
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, form->data);
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)form->len);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, t->timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &rep);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &rep);

    CURLcode rc = curl_easy_perform(h);
    long status = 0, sent_bytes = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &sent_bytes);
    r->http_status = status;
    r->retry_after_ms = retry_after_ms(&rep);
    /* A 2xx status line means the provider took it, whatever happened to
     * the rest of the reply (too large, cut off, timed out). */
    rep.incomplete = rc != CURLE_OK && !rep.truncated;
    if (status >= 100 && (rc == CURLE_OK || (status >= 200 && status < 300) ||
                          (rc == CURLE_WRITE_ERROR && rep.truncated)))
        classify_http(r, &rep);
    else
        classify_curl(r, rc, sent_bytes > 0 || status > 0);
out:
    /* The handle keeps pointers to these until the next request: drop them. */
    curl_easy_setopt(t->h, CURLOPT_WRITEDATA, NULL);
    curl_easy_setopt(t->h, CURLOPT_HEADERDATA, NULL);
    curl_easy_setopt(t->h, CURLOPT_POSTFIELDS, NULL);
    buf_free(&rep.body);
}

static void result_init(struct twilio_result *r)
{
    memset(r, 0, sizeof *r);
    r->retry_after_ms = -1;
}

/* Refuses, before any network use, a recipient that must never be sent to. */
static bool check_to(const char *to, struct twilio_result *r)
{
    if (to && phone_valid_e164(to) && !phone_is_emergency(to))
        return true;
    r->outcome = TWILIO_PERMANENT;
    set_message(r, to && phone_is_emergency(to)
                       ? "refused: an emergency number is never messaged automatically"
                       : "refused: the recipient is not an E.164 number");
    return false;
}

/* UTF-16 code units of a UTF-8 string (what Twilio's length limits count). */
static size_t utf16_units(const char *s)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if ((*p & 0xc0) != 0x80)
            n += *p >= 0xf0 ? 2 : 1;
    return n;
}

static bool form_common(struct buf *form, const struct twilio *t, const char *to,
                        const char *status_callback)
{
    return form_append(form, "To", to) && form_append(form, "From", t->from) &&
           (!status_callback || !*status_callback ||
            form_append(form, "StatusCallback", status_callback));
}

void twilio_send_sms(struct twilio *t, const char *to, const char *body,
                     const char *status_callback, struct twilio_result *r)
{
    struct buf form;
    result_init(r);
    buf_init(&form, TWILIO_MAX_REQUEST);
    if (!check_to(to, r))
        goto out;
    if (!body || !*body || utf16_units(body) > TWILIO_SMS_MAX) {
        r->outcome = TWILIO_PERMANENT;
        set_message(r, "refused: the SMS body is empty or over 1600 characters");
        goto out;
    }
    if (!form_common(&form, t, to, status_callback) || !form_append(&form, "Body", body)) {
        r->outcome = TWILIO_PERMANENT;
        set_message(r, "refused: the request does not fit its size cap");
        goto out;
    }
    post(t, "Messages.json", &form, r);
out:
    buf_free(&form);
}

void twilio_place_call(struct twilio *t, const char *to, const char *twiml, int ring_timeout_s,
                       const char *status_callback, struct twilio_result *r)
{
    struct buf form;
    char ring[16];
    result_init(r);
    buf_init(&form, TWILIO_MAX_REQUEST);
    if (!check_to(to, r))
        goto out;
    if (!twiml || !*twiml || utf16_units(twiml) > TWILIO_TWIML_MAX) {
        r->outcome = TWILIO_PERMANENT;
        set_message(r, "refused: the TwiML is empty or over 4000 characters");
        goto out;
    }
    if (ring_timeout_s > 0)
        snprintf(ring, sizeof ring, "%d",
                 ring_timeout_s < 5     ? 5
                 : ring_timeout_s > 600 ? 600
                                        : ring_timeout_s);
    if (!form_common(&form, t, to, status_callback) || !form_append(&form, "Twiml", twiml) ||
        (ring_timeout_s > 0 && !form_append(&form, "Timeout", ring)) ||
        (status_callback && *status_callback &&
         !form_append(&form, "StatusCallbackEvent", "completed"))) {
        r->outcome = TWILIO_PERMANENT;
        set_message(r, "refused: the request does not fit its size cap");
        goto out;
    }
    post(t, "Calls.json", &form, r);
out:
    buf_free(&form);
}
