/* test_notify_twilio.c - the Twilio REST client (src/notify/twilio.c) against
 * an in-process HTTP server on 127.0.0.1 that answers canned replies, hangs,
 * or sends an endless body; the request it sent is checked byte for byte. */
#include "notify/form.h"
#include "notify/twilio.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#define SID "AC0123456789abcdef0123456789abcdef"
#define TOKEN "s3cret-token"
#define FROM "+15005550006"
#define TO "+14155550100"

enum mode { CANNED, HANG, HUGE };

struct srv {
    int fd, port;
    pthread_t th;
    enum mode mode;
    const char *reply; /* CANNED: the whole HTTP reply */
    char req[64 * 1024];
    size_t req_len;
    int requests;
};

static void *serve(void *arg)
{
    struct srv *s = arg;
    for (;;) {
        int c = accept(s->fd, NULL, NULL);
        if (c < 0)
            break;
        size_t len = 0, need = 0;
        char *hdr_end = NULL;
        while (len < sizeof s->req - 1) {
            ssize_t r = read(c, s->req + len, sizeof s->req - 1 - len);
            if (r <= 0)
                break;
            len += (size_t)r;
            s->req[len] = '\0';
            if (!hdr_end && (hdr_end = strstr(s->req, "\r\n\r\n"))) {
                const char *cl = strcasestr(s->req, "\r\nContent-Length:");
                need = (size_t)(hdr_end + 4 - s->req) + (cl ? strtoul(cl + 17, NULL, 10) : 0);
            }
            if (hdr_end && len >= need)
                break;
        }
        s->req_len = len;
        s->requests++;
        if (s->mode == CANNED) {
            (void)!send(c, s->reply, strlen(s->reply), MSG_NOSIGNAL);
        } else if (s->mode == HANG) {
            struct pollfd p = {.fd = c, .events = POLLIN};
            char tmp[64];
            while (poll(&p, 1, 5000) > 0 && read(c, tmp, sizeof tmp) > 0)
                ; /* until the client gives up */
        } else {
            const char *h = "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
                            "Content-Length: 10485760\r\n\r\n{\"sid\":\"SM1\",\"x\":\"";
            char chunk[8192];
            memset(chunk, 'x', sizeof chunk);
            (void)!send(c, h, strlen(h), MSG_NOSIGNAL);
            for (int i = 0; i < 1280; i++)
                if (send(c, chunk, sizeof chunk, MSG_NOSIGNAL) < 0)
                    break;
        }
        close(c);
    }
    return NULL;
}

static void srv_start(struct srv *s, enum mode mode, const char *reply)
{
    memset(s, 0, sizeof *s);
    s->mode = mode;
    s->reply = reply;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(s->fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(s->fd, 8), 0);
    assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &al), 0);
    s->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&s->th, NULL, serve, s), 0);
}

static void srv_stop(struct srv *s)
{
    shutdown(s->fd, SHUT_RDWR);
    pthread_join(s->th, NULL);
    close(s->fd);
}

static struct twilio *client(int port, long timeout_ms)
{
    char base[64];
    snprintf(base, sizeof base, "http://127.0.0.1:%d/", port);
    struct twilio_config cfg = {.api_base = base,
                                .account_sid = SID,
                                .auth_token = TOKEN,
                                .from = FROM,
                                .connect_timeout_ms = 1000,
                                .timeout_ms = timeout_ms};
    const char *why = NULL;
    struct twilio *t = twilio_new(&cfg, &why);
    if (!t)
        fail_msg("twilio_new: %s", why);
    return t;
}

/* Sends one SMS to a server answering reply; returns the result. */
static struct twilio_result sms_against(const char *reply, struct srv *s)
{
    struct twilio_result r;
    srv_start(s, CANNED, reply);
    struct twilio *t = client(s->port, 5000);
    twilio_send_sms(t, TO, "CO 85 ppm & rising", "https://cb.example/twilio/status?n=1", &r);
    twilio_free(t);
    srv_stop(s);
    return r;
}

/* The body of the captured request, parsed. */
static void request_form(const struct srv *s, struct form *f)
{
    const char *b = strstr(s->req, "\r\n\r\n");
    assert_non_null(b);
    b += 4;
    assert_int_equal(form_parse(f, b, s->req_len - (size_t)(b - s->req), NULL), CB_OK);
}

static void test_sms_accepted(void **state)
{
    static struct srv s;
    struct twilio_result r = sms_against(
        "HTTP/1.1 201 Created\r\nContent-Type: application/json\r\nContent-Length: 79\r\n"
        "Connection: close\r\n\r\n"
        "{\"sid\": \"SM0123456789abcdef0123456789abcdef\", \"status\": \"queued\", \"to\": \"+1\"} "
        " ",
        &s);
    assert_int_equal(r.outcome, TWILIO_ACCEPTED);
    assert_int_equal(r.http_status, 201);
    assert_string_equal(r.sid, "SM0123456789abcdef0123456789abcdef");
    assert_string_equal(r.status, "queued");
    assert_int_equal(r.error_code, 0);
    assert_int_equal(r.retry_after_ms, -1);
    assert_true(r.maybe_delivered);

    /* the request as sent */
    assert_int_equal(s.requests, 1);
    assert_memory_equal(s.req, "POST /2010-04-01/Accounts/" SID "/Messages.json HTTP/1.1\r\n",
                        strlen("POST /2010-04-01/Accounts/" SID "/Messages.json HTTP/1.1\r\n"));
    char auth[256];
    unsigned char b64[128];
    const char *cred = SID ":" TOKEN;
    EVP_EncodeBlock(b64, (const unsigned char *)cred, (int)strlen(cred));
    snprintf(auth, sizeof auth, "\r\nAuthorization: Basic %s\r\n", (const char *)b64);
    assert_non_null(strstr(s.req, auth));
    assert_non_null(strstr(s.req, "\r\nContent-Type: application/x-www-form-urlencoded\r\n"));
    assert_non_null(strstr(s.req, "\r\nAccept: application/json\r\n"));
    assert_null(strcasestr(s.req, "Expect:"));
    struct form f;
    request_form(&s, &f);
    assert_int_equal(f.n, 4);
    assert_string_equal(form_get(&f, "To"), TO);
    assert_string_equal(form_get(&f, "From"), FROM);
    assert_string_equal(form_get(&f, "Body"), "CO 85 ppm & rising");
    assert_string_equal(form_get(&f, "StatusCallback"), "https://cb.example/twilio/status?n=1");
    form_free(&f);
}

static void test_sms_errors(void **state)
{
    static struct srv s;
    struct twilio_result r;

    r = sms_against("HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                    "Connection: close\r\n\r\n"
                    "{\"code\": 21211, \"message\": \"The 'To' number +1415 is not a valid phone "
                    "number.\", \"more_info\": \"https://www.twilio.com/docs/errors/21211\", "
                    "\"status\": 400}",
                    &s);
    assert_int_equal(r.outcome, TWILIO_PERMANENT);
    assert_int_equal(r.http_status, 400);
    assert_int_equal(r.error_code, 21211);
    assert_string_equal(r.message, "The 'To' number +1415 is not a valid phone number.");
    assert_string_equal(r.sid, "");
    assert_false(r.maybe_delivered);

    r = sms_against("HTTP/1.1 401 Unauthorized\r\nConnection: close\r\n\r\n"
                    "{\"code\": 20003, \"message\": \"Authenticate\", \"more_info\": "
                    "\"https://www.twilio.com/docs/errors/20003\", \"status\": 401}",
                    &s);
    assert_int_equal(r.outcome, TWILIO_CONFIG);
    assert_int_equal(r.error_code, 20003);
    assert_string_equal(r.message, "Authenticate");
    assert_false(r.maybe_delivered);

    /* a sender problem is ours, even as a 400 */
    r = sms_against("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
                    "{\"code\": 21606, \"message\": \"The From phone number is not a valid, "
                    "SMS-capable inbound phone number\", \"status\": 400}",
                    &s);
    assert_int_equal(r.outcome, TWILIO_CONFIG);

    r = sms_against("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 7\r\nConnection: close\r\n\r\n"
                    "{\"code\": 20429, \"message\": \"Too Many Requests\", \"status\": 429}",
                    &s);
    assert_int_equal(r.outcome, TWILIO_RETRY);
    assert_int_equal(r.http_status, 429);
    assert_int_equal(r.retry_after_ms, 7000);
    assert_false(r.maybe_delivered);

    /* an HTTP-date, taken relative to the reply's Date header */
    r = sms_against("HTTP/1.1 503 Service Unavailable\r\nDate: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
                    "Retry-After: Wed, 21 Oct 2015 07:28:30 GMT\r\nConnection: close\r\n\r\n",
                    &s);
    assert_int_equal(r.outcome, TWILIO_RETRY);
    assert_int_equal(r.retry_after_ms, 30000);
    assert_false(r.maybe_delivered);
    assert_string_equal(r.message, "an HTTP error without a Twilio error message");

    /* a huge delta is capped at a day, garbage ignored */
    r = sms_against("HTTP/1.1 429 Too Many Requests\r\nRetry-After: 99999999999999999999\r\n"
                    "Connection: close\r\n\r\n",
                    &s);
    assert_int_equal(r.retry_after_ms, 24 * 3600 * 1000LL);
    r = sms_against("HTTP/1.1 429 Too Many Requests\r\nRetry-After: soon\r\n"
                    "Connection: close\r\n\r\n",
                    &s);
    assert_int_equal(r.retry_after_ms, -1);

    r = sms_against("HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
                    "Connection: close\r\n\r\n",
                    &s);
    assert_int_equal(r.outcome, TWILIO_RETRY);
    assert_int_equal(r.http_status, 500);
    assert_true(r.maybe_delivered);

    /* redirects are not followed: the API base is wrong */
    r = sms_against("HTTP/1.1 302 Found\r\nLocation: http://elsewhere.example/\r\n"
                    "Content-Length: 0\r\nConnection: close\r\n\r\n",
                    &s);
    assert_int_equal(r.outcome, TWILIO_CONFIG);
    assert_int_equal(s.requests, 1);

    /* a Twilio message with control characters and UTF-8 comes back sanitized and bounded */
    r = sms_against("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n"
                    "{\"code\": 21614, \"message\": \"caf\\u00e9\\nline\\u0007 "
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}",
                    &s);
    assert_int_equal(r.outcome, TWILIO_PERMANENT);
    assert_int_equal(r.error_code, 21614);
    assert_memory_equal(r.message, "caf? line  aaa", 14);
    assert_int_equal(strlen(r.message), TWILIO_ERR_MAX - 1);
}

static void test_sms_odd_success(void **state)
{
    static struct srv s;
    struct twilio_result r;
    /* accepted, but nothing we can read: still accepted, never resent */
    r = sms_against("HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n<html>ok</html>", &s);
    assert_int_equal(r.outcome, TWILIO_ACCEPTED);
    assert_string_equal(r.sid, "");
    assert_string_equal(r.message, "accepted, but the reply is not JSON");
    r = sms_against("HTTP/1.1 201 Created\r\nContent-Length: 500\r\nConnection: close\r\n\r\n"
                    "{\"sid\": \"SM1\"}",
                    &s);
    assert_int_equal(r.outcome, TWILIO_ACCEPTED);
    assert_string_equal(r.sid, "");
    assert_string_equal(r.message, "accepted, but the reply was cut off");
    assert_true(r.maybe_delivered);
    r = sms_against("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"sid\": \"SM<script>\"}", &s);
    assert_int_equal(r.outcome, TWILIO_ACCEPTED);
    assert_string_equal(r.sid, "");
    assert_string_equal(r.message, "accepted, but the reply has no valid sid");

    /* a body over the cap: the status decides, the body is not read further */
    srv_start(&s, HUGE, NULL);
    struct twilio *t = client(s.port, 5000);
    twilio_send_sms(t, TO, "x", NULL, &r);
    twilio_free(t);
    srv_stop(&s);
    assert_int_equal(r.outcome, TWILIO_ACCEPTED);
    assert_int_equal(r.http_status, 201);
    assert_string_equal(r.sid, "");
    assert_string_equal(r.message, "accepted, but the reply was too large to read");
    struct form f;
    request_form(&s, &f);
    assert_int_equal(f.n, 3); /* no StatusCallback when none is given */
    assert_null(form_get(&f, "StatusCallback"));
    form_free(&f);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_network_failures(void **state)
{
    static struct srv s;
    struct twilio_result r;

    /* the request went out and no answer came: it may have been acted on */
    srv_start(&s, HANG, NULL);
    struct twilio *t = client(s.port, 300);
    double t0 = now_s();
    twilio_send_sms(t, TO, "x", NULL, &r);
    double took = now_s() - t0;
    twilio_free(t);
    srv_stop(&s);
    assert_int_equal(r.outcome, TWILIO_RETRY);
    assert_int_equal(r.http_status, 0);
    assert_true(r.maybe_delivered);
    assert_true(took >= 0.25 && took < 3.0);
    assert_int_equal(s.requests, 1);
    assert_non_null(strstr(r.message, "imeout") ? r.message : strstr(r.message, "timed out"));

    /* nobody listening: surely not delivered */
    srv_start(&s, CANNED, "");
    int port = s.port;
    srv_stop(&s);
    t = client(port, 2000);
    twilio_send_sms(t, TO, "x", NULL, &r);
    assert_int_equal(r.outcome, TWILIO_RETRY);
    assert_int_equal(r.http_status, 0);
    assert_false(r.maybe_delivered);
    assert_int_equal(r.retry_after_ms, -1);
    twilio_free(t);
}

static void test_call(void **state)
{
    static struct srv s;
    struct twilio_result r;
    const char *twiml = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Response><Say>CO &amp; "
                        "you</Say></Response>";
    srv_start(&s, CANNED,
              "HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n"
              "{\"sid\": \"CA0123456789abcdef0123456789abcdef\", \"status\": \"queued\"}");
    struct twilio *t = client(s.port, 5000);
    twilio_place_call(t, TO, twiml, 2, "https://cb.example/twilio/status", &r);
    assert_int_equal(r.outcome, TWILIO_ACCEPTED);
    assert_string_equal(r.sid, "CA0123456789abcdef0123456789abcdef");
    const char *line = "POST /2010-04-01/Accounts/" SID "/Calls.json HTTP/1.1\r\n";
    assert_memory_equal(s.req, line, strlen(line));
    struct form f;
    request_form(&s, &f);
    assert_string_equal(form_get(&f, "To"), TO);
    assert_string_equal(form_get(&f, "From"), FROM);
    assert_string_equal(form_get(&f, "Twiml"), twiml);
    assert_string_equal(form_get(&f, "Timeout"), "5"); /* clamped */
    assert_string_equal(form_get(&f, "StatusCallback"), "https://cb.example/twilio/status");
    assert_string_equal(form_get(&f, "StatusCallbackEvent"), "completed");
    form_free(&f);

    /* the same handle again (a new connection: the server closed the last one) */
    twilio_place_call(t, TO, twiml, 0, NULL, &r);
    assert_int_equal(r.outcome, TWILIO_ACCEPTED);
    assert_int_equal(s.requests, 2);
    request_form(&s, &f);
    assert_int_equal(f.n, 3);
    assert_null(form_get(&f, "Timeout"));
    assert_null(form_get(&f, "StatusCallbackEvent"));
    form_free(&f);
    twilio_free(t);
    srv_stop(&s);
}

static void test_refused_locally(void **state)
{
    static struct srv s;
    struct twilio_result r;
    srv_start(&s, CANNED, "HTTP/1.1 201 Created\r\nConnection: close\r\n\r\n{\"sid\":\"SM1\"}");
    struct twilio *t = client(s.port, 5000);
    static const char *bad_to[] = {"911", "+112", "112", "4155550100", "", "+1 415 555 0100"};
    for (size_t i = 0; i < sizeof bad_to / sizeof bad_to[0]; i++) {
        twilio_send_sms(t, bad_to[i], "x", NULL, &r);
        assert_int_equal(r.outcome, TWILIO_PERMANENT);
        assert_int_equal(r.http_status, 0);
        assert_false(r.maybe_delivered);
        assert_true(strncmp(r.message, "refused: ", 9) == 0);
    }
    twilio_send_sms(t, NULL, "x", NULL, &r);
    assert_int_equal(r.outcome, TWILIO_PERMANENT);
    twilio_send_sms(t, TO, "", NULL, &r);
    assert_int_equal(r.outcome, TWILIO_PERMANENT);
    char *big = malloc(TWILIO_SMS_MAX + 2);
    memset(big, 'a', TWILIO_SMS_MAX + 1);
    big[TWILIO_SMS_MAX + 1] = '\0';
    twilio_send_sms(t, TO, big, NULL, &r);
    assert_int_equal(r.outcome, TWILIO_PERMANENT);
    /* 1600 characters pass even when they are 3200 bytes */
    char *wide = malloc(2 * TWILIO_SMS_MAX + 1);
    for (int i = 0; i < TWILIO_SMS_MAX; i++)
        memcpy(wide + 2 * i, "\xC3\xA9", 2);
    wide[2 * TWILIO_SMS_MAX] = '\0';
    twilio_send_sms(t, TO, wide, NULL, &r);
    assert_int_equal(r.outcome, TWILIO_ACCEPTED);
    twilio_place_call(t, TO, "", 30, NULL, &r);
    assert_int_equal(r.outcome, TWILIO_PERMANENT);
    twilio_place_call(t, "+999", "<Response/>", 30, NULL, &r);
    assert_int_equal(r.outcome, TWILIO_PERMANENT);
    assert_int_equal(s.requests, 1); /* only the valid one went out */
    free(big);
    free(wide);
    twilio_free(t);
    srv_stop(&s);
}

static void test_config(void **state)
{
    const char *why = NULL;
    struct twilio_config ok = {.account_sid = SID, .auth_token = TOKEN, .from = FROM};
    struct twilio *t = twilio_new(&ok, &why);
    assert_non_null(t); /* default API base */
    twilio_free(t);
    twilio_free(NULL);

    struct twilio_config c = ok;
    c.api_base = "ftp://api.twilio.com";
    assert_null(twilio_new(&c, &why));
    assert_non_null(strstr(why, "http"));
    c = ok;
    c.account_sid = "AC/../x";
    assert_null(twilio_new(&c, &why));
    c.account_sid = NULL;
    assert_null(twilio_new(&c, &why));
    c = ok;
    c.auth_token = "";
    assert_null(twilio_new(&c, &why));
    assert_null(strstr(why, TOKEN));
    c.auth_token = "a\nb";
    assert_null(twilio_new(&c, NULL));
    c = ok;
    c.from = NULL;
    assert_null(twilio_new(&c, &why));

    assert_string_equal(twilio_outcome_name(TWILIO_ACCEPTED), "accepted");
    assert_string_equal(twilio_outcome_name(TWILIO_RETRY), "retry");
    assert_string_equal(twilio_outcome_name(TWILIO_PERMANENT), "permanent");
    assert_string_equal(twilio_outcome_name(TWILIO_CONFIG), "config");
    assert_string_equal(twilio_outcome_name((enum twilio_outcome)42), "unknown");
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sms_accepted),
        cmocka_unit_test(test_sms_errors),
        cmocka_unit_test(test_sms_odd_success),
        cmocka_unit_test(test_network_failures),
        cmocka_unit_test(test_call),
        cmocka_unit_test(test_refused_locally),
        cmocka_unit_test(test_config),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
