/* twiml.c - TwiML documents through the escaping XML writer. */
#include "notify/twiml.h"

#include "graph/xml.h"
#include "notify/twilio.h"

#include <string.h>

static void rollback(struct buf *out, size_t len)
{
    if (out->data) {
        out->len = len;
        out->data[len] = '\0';
    }
}

static void gather(struct xml *w, const char *message, const char *action_url)
{
    xml_open(w, "Gather");
    xml_attr(w, "numDigits", "1");
    xml_attr(w, "action", action_url);
    xml_attr(w, "method", "POST");
    xml_attr(w, "timeout", "8");
    xml_open(w, "Say");
    xml_text(w, message);
    xml_close(w);
    xml_open(w, "Say");
    xml_text(w, TWIML_ACK_PROMPT);
    xml_close(w);
    xml_close(w);
}

static bool call_doc(struct buf *out, const char *message, const char *action_url,
                     const char *goodbye, int rounds)
{
    struct xml w;
    size_t start = out->len;
    xml_init(&w, out);
    xml_open(&w, "Response");
    for (int i = 0; i < rounds; i++)
        gather(&w, message, action_url);
    xml_open(&w, "Say");
    xml_text(&w, goodbye ? goodbye : TWIML_GOODBYE);
    xml_close(&w);
    bool ok = xml_finish(&w) && out->len - start <= TWILIO_TWIML_MAX;
    if (!ok)
        rollback(out, start);
    return ok;
}

bool twiml_call(struct buf *out, const char *message, const char *action_url, const char *goodbye)
{
    if (!message || !*message || !action_url || !*action_url)
        return false;
    return call_doc(out, message, action_url, goodbye, 2) ||
           call_doc(out, message, action_url, goodbye, 1);
}

bool twiml_message(struct buf *out, const char *text)
{
    struct xml w;
    size_t start = out->len;
    xml_init(&w, out);
    xml_open(&w, "Response");
    if (text && *text) {
        xml_open(&w, "Message");
        xml_text(&w, text);
    }
    bool ok = xml_finish(&w);
    if (!ok)
        rollback(out, start);
    return ok;
}

bool twiml_say(struct buf *out, const char *text, bool hangup)
{
    struct xml w;
    size_t start = out->len;
    if (!text)
        return false;
    xml_init(&w, out);
    xml_open(&w, "Response");
    xml_open(&w, "Say");
    xml_text(&w, text);
    xml_close(&w);
    if (hangup) {
        xml_open(&w, "Hangup");
        xml_close(&w);
    }
    bool ok = xml_finish(&w);
    if (!ok)
        rollback(out, start);
    return ok;
}
