/* notify.c - notification routes (SPEC 5, 8): test messages, the seed's
 * /notify routes, and Twilio's webhooks (status callbacks, SMS replies, the
 * digit pressed during a call), each checked by its X-Twilio-Signature. */
#include "api/api.h"

#include "api/webhook_seen.h"
#include "auth/auth.h"
#include "core/jsonv.h"
#include "core/log.h"
#include "core/phone.h"
#include "core/ratelimit.h"
#include "core/timeutil.h"
#include "core/ulid.h"
#include "notify/form.h"
#include "notify/service.h"
#include "notify/signature.h"
#include "notify/twiml.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define TEST_WAIT_MS 10000 /* a test route answers after the first attempt, or this */

/* ---- test messages ---- */

enum test_shape { SHAPE_V1, SHAPE_SEED_SMS, SHAPE_SEED_CALL };

struct test_ctx {
    struct app *app;
    struct http_req *req;
    enum test_shape shape;
    int64_t id;
};

static void test_done(void *arg)
{
    struct test_ctx *c = arg;
    http_resume(c->req);
}

/* Reads back the test message of c (freeing c); false after replying with
 * the error when it was not queued or cannot be read. */
static bool read_back(struct http_req *req, struct test_ctx *c, struct notification *n)
{
    struct app *app = c->app;
    int64_t id = c->id;
    free(c);
    if (id < 0) { /* notify_test refused it: -id is the error */
        cb_err e = (cb_err)-id;
        http_reply_error(req, e, "%s",
                         e == CB_ERR_NOT_FOUND    ? "no such user"
                         : e == CB_ERR_VALIDATION ? "the user has no phone number"
                                                  : "the message could not be queued");
        return false;
    }
    cb_err rc = app->store->ops->notif_get(app->store, id, n);
    if (rc != CB_OK) {
        http_reply_error(req, rc, "the message could not be read back");
        return false;
    }
    return true;
}

static void test_reply(struct http_req *req, void *arg)
{
    struct notification n;
    if (!read_back(req, arg, &n))
        return;
    if (n.state == NOTIF_FAILED) {
        http_reply_error_with(req, CB_ERR_VALIDATION,
                              json_pack("{s:o}", "notification", notify_json(&n)),
                              "the provider refused the message: %s", n.last_error);
        return;
    }
    http_reply_json(req, n.state == NOTIF_ACCEPTED ? 200 : 202,
                    json_pack("{s:o}", "notification", notify_json(&n)));
}

static void seed_reply(struct http_req *req, void *arg)
{
    bool call = ((struct test_ctx *)arg)->shape == SHAPE_SEED_CALL;
    struct notification n;
    if (!read_back(req, arg, &n))
        return;
    if (n.state == NOTIF_FAILED) {
        http_reply_error(req, CB_ERR_VALIDATION, "the provider refused the %s: %s",
                         call ? "call" : "SMS", n.last_error);
        return;
    }
    bool sent = n.state == NOTIF_ACCEPTED;
    http_reply_json(
        req, sent ? 200 : 202,
        json_pack("{s:s,s:o,s:s,s:s,s:I}", "message",
                  sent ? (call ? "Call initiated successfully" : "SMS sent successfully")
                       : "queued: the provider has not accepted it yet; it will be retried",
                  "sid", n.sid[0] ? json_string(n.sid) : json_null(), "status",
                  n.provider_status[0] ? n.provider_status
                  : sent               ? "queued"
                                       : "pending",
                  "to", n.to, "notification_id", (json_int_t)n.id));
}

/* Queues the message and suspends the request until its first outcome. */
static void start_test(struct app *app, struct http_req *req, const char *user_id,
                       enum notif_channel ch, const char *text, enum test_shape shape)
{
    int retry = 0;
    if (app->notify_rl && user_id &&
        !ratelimit_take(app->notify_rl, user_id, 1, app->now_ms(), &retry)) {
        http_reply_limited(req, retry, "test messages for this person");
        return;
    }
    struct test_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        return;
    }
    *c = (struct test_ctx){app, req, shape, 0};
    struct notification n;
    http_suspend(req, shape == SHAPE_V1 ? test_reply : seed_reply, c);
    cb_err rc = notify_test(app->notify, user_id, NULL, ch, text, TEST_WAIT_MS, test_done, c, &n);
    if (rc == CB_OK) {
        c->id = n.id;
        return;
    }
    /* Not queued: answer the error from the resumed request. */
    c->id = -(int64_t)rc;
    http_resume(req);
}

/* {"user_id"?: ULID, "channel"?: "sms" | "call"}; false with *e filled. */
static bool test_body(const json_t *body, const char **user_id, const char **channel,
                      struct jv_err *e)
{
    static const char *const keys[] = {"user_id", "channel", NULL};
    if (!json_is_object(body)) {
        jv_fail(e, "", "must be an object like {\"channel\":\"sms\"}");
        return false;
    }
    if (!jv_only_keys(body, keys, e) ||
        !jv_string(body, "channel", false, 1, 8, channel, NULL, e) ||
        !jv_string(body, "user_id", false, 26, 26, user_id, NULL, e))
        return false;
    if (strcmp(*channel, "sms") != 0 && strcmp(*channel, "call") != 0) {
        jv_fail(e, "channel", "must be \"sms\" or \"call\"");
        return false;
    }
    if (*user_id && !ulid_valid(*user_id)) {
        jv_fail(e, "user_id", "must be a user id (a ULID)");
        return false;
    }
    return true;
}

void api_notify_test(struct app *app, struct http_req *req)
{
    json_t *body = api_json_body(req);
    if (!body)
        return;
    struct jv_err e;
    const char *user_id = NULL, *channel = "sms";
    if (!test_body(body, &user_id, &channel, &e)) {
        http_reply_error_with(req, CB_ERR_VALIDATION,
                              json_pack("{s:s,s:s}", "field", e.field, "reason", e.reason), "%s %s",
                              e.field, e.reason);
        json_decref(body);
        return;
    }
    const struct principal *who = http_who(req);
    if (!user_id) {
        if (who->kind != PRINCIPAL_USER && !(who->kind == PRINCIPAL_ADMIN && who->id[0])) {
            json_decref(body);
            http_reply_error_with(req, CB_ERR_VALIDATION,
                                  json_pack("{s:s,s:s}", "field", "user_id", "reason",
                                            "is required with the admin token"),
                                  "user_id is required with the admin token");
            return;
        }
        user_id = who->id;
    }
    /* A user tests only their own phone; another's is "not found". */
    if (!auth_is_admin(who) && strcmp(user_id, who->id) != 0) {
        json_decref(body);
        http_reply_error(req, CB_ERR_NOT_FOUND, "no such user");
        return;
    }
    enum notif_channel ch = strcmp(channel, "call") == 0 ? NOTIF_CALL : NOTIF_SMS;
    char uid[27];
    snprintf(uid, sizeof uid, "%s", user_id);
    json_decref(body);
    start_test(app, req, uid, ch, NULL, SHAPE_V1);
}

/* The seed's POST /notify/send_sms?user_id=&message= and
 * POST /notify/make_call?user_id=[&message=]. */
static void seed_notify(struct app *app, struct http_req *req, enum notif_channel ch)
{
    const char *user_id = http_query(req, "user_id");
    const char *message = http_query(req, "message");
    if (!user_id || !ulid_valid(user_id)) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "user_id is required: a user id (a ULID)");
        return;
    }
    if (ch == NOTIF_SMS && (!message || !message[0])) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "message is required");
        return;
    }
    if (message && strlen(message) > 1600) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "message is longer than 1600 bytes");
        return;
    }
    start_test(app, req, user_id, ch, message, ch == NOTIF_SMS ? SHAPE_SEED_SMS : SHAPE_SEED_CALL);
}

void api_seed_send_sms(struct app *app, struct http_req *req)
{
    seed_notify(app, req, NOTIF_SMS);
}

void api_seed_make_call(struct app *app, struct http_req *req)
{
    seed_notify(app, req, NOTIF_CALL);
}

/* ---- webhooks ---- */

static int64_t mono_ms(void)
{
    return time_mono_ns() / 1000000;
}

/* A webhook refusal worth an operator's attention, logged at most once a
 * second: a flood of forged requests must not flood the log. */
static void webhook_warn(struct app *app, const char *path, const char *what)
{
    uint64_t suppressed;
    if (!webhook_warn_due(app->webhook_seen, mono_ms(), &suppressed))
        return;
    char msg[256];
    snprintf(msg, sizeof msg, "webhook %s: %s", path, what);
    log_json(LOG_WARN, msg,
             suppressed ? json_pack("{s:I}", "suppressed", (json_int_t)suppressed) : NULL);
}

/* Parses the form body and checks X-Twilio-Signature against the URL the
 * provider called: CARBON_PUBLIC_URL + the path, + "?" + the query string
 * exactly as sent when there is one. Replies (403 / 400 / 415) and returns
 * false when it does not hold. Without CARBON_PUBLIC_URL nothing is
 * accepted: the signed URL is the one configured at Twilio, and neither the
 * Host header nor the scheme of this connection (a TLS proxy) says what it
 * was. */
static bool webhook_form(struct app *app, struct http_req *req, const char *path, struct form *f)
{
    memset(f, 0, sizeof *f);
    const char *ct = http_header(req, "Content-Type");
    if (!ct || strncasecmp(ct, "application/x-www-form-urlencoded", 33) != 0) {
        http_reply_error(req, CB_ERR_MEDIA_TYPE,
                         "send the body as Content-Type: application/x-www-form-urlencoded");
        return false;
    }
    const char *token = notify_auth_token(app->notify);
    const char *sig = http_header(req, "X-Twilio-Signature");
    if (!token[0]) {
        http_reply_error(req, CB_ERR_FORBIDDEN, "webhooks need the Twilio auth token configured");
        return false;
    }
    const char *pub = notify_public_url(app->notify);
    if (!pub[0]) {
        webhook_warn(app, path, "refused: CARBON_PUBLIC_URL is not set");
        http_reply_error(req, CB_ERR_FORBIDDEN,
                         "webhooks need CARBON_PUBLIC_URL set: the signature covers the URL "
                         "Twilio calls, which the auth token alone does not tell");
        return false;
    }
    size_t len;
    const char *body = http_body(req, &len);
    const char *why = NULL;
    cb_err rc = form_parse(f, body, len, &why);
    if (rc != CB_OK) {
        http_reply_error(req, rc, "form body: %s", why ? why : "malformed");
        return false;
    }
    const char *query = http_raw_query(req);
    size_t cap = strlen(pub) + strlen(path) + (query ? strlen(query) + 1 : 0) + 1;
    char *url = malloc(cap);
    if (!url) {
        form_free(f);
        http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        return false;
    }
    snprintf(url, cap, "%s%s%s%s", pub, path, query ? "?" : "", query ? query : "");
    bool ok = sig && twilio_sig_verify(token, url, f->pairs, f->n, sig);
    free(url);
    if (!ok) {
        form_free(f);
        webhook_warn(app, path, "bad or missing X-Twilio-Signature");
        http_reply_error(req, CB_ERR_FORBIDDEN, "bad or missing X-Twilio-Signature");
        return false;
    }
    return true;
}

static void reply_twiml(struct http_req *req, struct buf *b, bool ok)
{
    if (!ok || !b->data) {
        buf_free(b);
        http_reply_error(req, CB_ERR_NOMEM, "out of memory");
        return;
    }
    size_t len = b->len;
    http_reply_data(req, 200, "text/xml; charset=utf-8", buf_steal(b), len);
}

void api_twilio_status(struct app *app, struct http_req *req)
{
    struct form f;
    if (!webhook_form(app, req, "/twilio/status", &f))
        return;
    const char *sid = form_get(&f, "MessageSid");
    const char *status = form_get(&f, "MessageStatus");
    if (!sid) {
        sid = form_get(&f, "CallSid");
        status = form_get(&f, "CallStatus");
    }
    const char *code = form_get(&f, "ErrorCode");
    if (!sid || !status || strlen(status) > 31) {
        form_free(&f);
        http_reply_error(req, CB_ERR_BAD_REQUEST,
                         "MessageSid and MessageStatus (or CallSid and CallStatus) are required");
        return;
    }
    int err = code ? atoi(code) : 0;
    cb_err rc = notify_status(app->notify, sid, status, err < 0 ? 0 : err);
    if (rc == CB_ERR_NOT_FOUND)
        log_msg(LOG_INFO, "status callback for an unknown sid (%s): ignored", status);
    form_free(&f);
    /* Unknown sids are not the provider's fault: 204 stops its retries. */
    http_reply_data(req, rc == CB_OK || rc == CB_ERR_NOT_FOUND ? 204 : 503, "text/plain", NULL, 0);
}

/* "ACK", any case, with surrounding spaces or a trailing '.' or '!'. */
static bool is_ack(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    if (strncasecmp(s, "ack", 3) != 0)
        return false;
    s += 3;
    while (*s == '.' || *s == '!' || isspace((unsigned char)*s))
        s++;
    return *s == 0;
}

/* The answer to an ACK: n alarms acknowledged, or rc the error. */
static void ack_text(char *reply, size_t cap, cb_err rc, size_t n)
{
    if (rc != CB_OK)
        snprintf(reply, cap,
                 "Car-Bon could not record your ACK (server error). Please try again, or "
                 "acknowledge in the app.");
    else if (n == 0)
        snprintf(reply, cap,
                 "Car-Bon: no open CO alarm was sent to this number. Nothing to acknowledge.");
    else
        snprintf(reply, cap,
                 "Car-Bon: %zu CO alarm%s acknowledged. We stopped alerting your contacts. "
                 "If anyone feels unwell, get fresh air and call emergency services.",
                 n, n == 1 ? "" : "s");
}

/* An ACK by SMS. A message Twilio already delivered to us (its MessageSid
 * seen: a replay of a captured request, or Twilio retrying) acknowledges
 * nothing more: it gets the first answer again. */
static void sms_ack(struct app *app, const char *from, const char *sid, char *reply, size_t cap)
{
    char masked[PHONE_MAX + 1], key[96];
    phone_mask(from, masked);
    bool keyed = sid && sid[0];
    snprintf(key, sizeof key, "sms:%s", keyed ? sid : "");
    int prev = 0;
    if (keyed && webhook_seen_check(app->webhook_seen, key, mono_ms(), &prev)) {
        log_msg(LOG_INFO,
                "SMS ACK from %s: message %.64s was already handled, not acknowledged "
                "again (a replay or a retry)",
                masked, sid);
        if (prev == WEBHOOK_SEEN_BUSY)
            snprintf(reply, cap, "Car-Bon: your ACK was received and is being handled.");
        else
            ack_text(reply, cap, CB_OK, (size_t)prev);
        return;
    }
    char who[65];
    snprintf(who, sizeof who, "sms:%s", from);
    size_t n = 0;
    cb_err rc = notify_ack_from(app->notify, app->alarms, from, who, &n);
    if (keyed && rc == CB_OK)
        webhook_seen_done(app->webhook_seen, key, n > INT32_MAX ? INT32_MAX : (int)n);
    else if (keyed) /* not done: the same message may be tried again */
        webhook_seen_forget(app->webhook_seen, key);
    ack_text(reply, cap, rc, n);
    log_msg(LOG_INFO, "SMS ACK from %s: %zu alarm(s) acknowledged%s", masked, n,
            rc == CB_OK ? "" : " (store error)");
}

void api_twilio_inbound(struct app *app, struct http_req *req)
{
    struct form f;
    if (!webhook_form(app, req, "/twilio/inbound", &f))
        return;
    const char *from = form_get(&f, "From");
    const char *text = form_get(&f, "Body");
    struct buf b;
    buf_init(&b, 8192);
    char reply[320];
    if (!from || !phone_valid_e164(from)) {
        snprintf(reply, sizeof reply, "Car-Bon could not read the number this came from.");
    } else if (text && is_ack(text)) {
        sms_ack(app, from, form_get(&f, "MessageSid"), reply, sizeof reply);
    } else {
        snprintf(reply, sizeof reply,
                 "Car-Bon CO alarms: reply ACK to acknowledge an alarm. In danger: leave, get "
                 "fresh air, call emergency services.");
    }
    form_free(&f);
    reply_twiml(req, &b, twiml_message(&b, reply));
}

void api_twilio_voice(struct app *app, struct http_req *req)
{
    char *end;
    const char *p = http_param(req, 0);
    long long id = strtoll(p, &end, 10);
    if (*end || id <= 0) {
        http_reply_error(req, CB_ERR_BAD_REQUEST, "alert id must be a positive integer");
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "/twilio/voice/%lld", id);
    struct form f;
    if (!webhook_form(app, req, path, &f))
        return;
    const char *digits = form_get(&f, "Digits");
    const char *to = form_get(&f, "To");
    struct buf b;
    buf_init(&b, 8192);
    bool ok;
    if (digits && strcmp(digits, "1") == 0) {
        /* The same key press of the same call already handled (a replay of
         * a captured request, or Twilio retrying): acknowledged then. */
        const char *call = form_get(&f, "CallSid");
        bool keyed = call && call[0];
        char key[96];
        snprintf(key, sizeof key, "call:%s:%s", keyed ? call : "", digits);
        int prev = 0;
        cb_err rc;
        if (keyed && webhook_seen_check(app->webhook_seen, key, mono_ms(), &prev)) {
            log_msg(LOG_INFO,
                    "call: alert %lld: key press of call %.64s was already handled, not "
                    "acknowledged again (a replay or a retry)",
                    id, call);
            rc = CB_OK;
        } else {
            char who[65];
            snprintf(who, sizeof who, "call:%s", to && phone_valid_e164(to) ? to : "unknown");
            struct alert a;
            rc = alarm_service_ack(app->alarms, id, who, app->now_ms(), &a);
            if (rc == CB_OK)
                notify_poke(app->notify, id); /* escalation stops now */
            if (keyed && rc == CB_OK)
                webhook_seen_done(app->webhook_seen, key, 1);
            else if (keyed)
                webhook_seen_forget(app->webhook_seen, key);
            log_msg(LOG_INFO, "call: alert %lld acknowledged by pressing 1 (%s)", id,
                    cb_strerror(rc));
        }
        ok = twiml_say(&b,
                       rc == CB_OK ? "The alarm is acknowledged. We will stop calling your "
                                     "contacts. If anyone feels unwell, get to fresh air and "
                                     "call emergency services. Goodbye."
                                   : "Sorry, the alarm could not be acknowledged. Please reply "
                                     "ACK to the text message, or use the app.",
                       true);
    } else {
        ok = twiml_say(&b,
                       "The alarm is not acknowledged. We will keep alerting you and your "
                       "contacts. Goodbye.",
                       true);
    }
    form_free(&f);
    reply_twiml(req, &b, ok);
}
