/* twiml.h - the TwiML documents Car-Bon hands to Twilio, written with the
 * escaping XML writer (graph/xml.h): the alarm call, an SMS reply and a
 * spoken reply. */
#ifndef CARBON_TWIML_H
#define CARBON_TWIML_H
#include "core/buf.h"

#include <stdbool.h>

#define TWIML_ACK_PROMPT "Press 1 to acknowledge."
#define TWIML_GOODBYE "We did not get an answer. Goodbye."

/* The document of an alarm call, into out (appended; out keeps its storage):
 *   <Response>
 *     <Gather numDigits="1" action="{action_url}" method="POST" timeout="8">
 *       <Say>{message}</Say><Say>Press 1 to acknowledge.</Say>
 *     </Gather>
 *     (the same Gather once more)
 *     <Say>{goodbye, or TWIML_GOODBYE when NULL}</Say>
 *   </Response>
 * If that is longer than TWILIO_TWIML_MAX (4000) bytes, the Gather is written
 * once. False if it still does not fit, if message or action_url is NULL or
 * empty, or out refused the bytes; out is then back to what it was. */
bool twiml_call(struct buf *out, const char *message, const char *action_url, const char *goodbye);

/* <Response><Message>{text}</Message></Response>: the answer to an inbound
 * SMS. An empty or NULL text gives <Response/> (no reply). False if out
 * refused the bytes. */
bool twiml_message(struct buf *out, const char *text);

/* <Response><Say>{text}</Say>[<Hangup/>]</Response>: the answer to a digit
 * pressed during a call. False if text is NULL or out refused the bytes. */
bool twiml_say(struct buf *out, const char *text, bool hangup);

#endif
