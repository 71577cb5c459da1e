/* signature.h - X-Twilio-Signature: computing and verifying the HMAC-SHA1
 * Twilio puts on its webhook requests. */
#ifndef CARBON_SIGNATURE_H
#define CARBON_SIGNATURE_H
#include "notify/form.h"

#include <stdbool.h>
#include <stddef.h>

#define TWILIO_SIG_LEN 28                /* base64 of a 20-byte SHA-1 digest, with its padding */
#define TWILIO_SIG_MAX_DATA (256 * 1024) /* cap on URL + parameters signed */

/* Computes base64(HMAC-SHA1(token, url + name1 + value1 + name2 + ...)) into
 * out, the parameters taken sorted by name (bytewise), duplicate names by
 * value (identical pairs are all kept, not merged). The URL is used exactly
 * as given (Twilio signs the URL it called, query string included). n may be
 * 0 (p may then be NULL). False (out "") on an empty token, the data over
 * TWILIO_SIG_MAX_DATA, or an OpenSSL or memory failure. */
bool twilio_sig_compute(const char *token, const char *url, const struct form_pair *p, size_t n,
                        char out[TWILIO_SIG_LEN + 1]);

/* True if signature (the X-Twilio-Signature header; NULL or "" is false) is
 * the signature of url and the form parameters, compared in constant time.
 * Like Twilio's own validators it also accepts the signature of the URL with
 * its scheme's default port made explicit ("https://host/x" signed as
 * "https://host:443/x", ":80" for http) or removed when the URL has it; other
 * ports are used only as given. */
bool twilio_sig_verify(const char *token, const char *url, const struct form_pair *p, size_t n,
                       const char *signature);

/* For a request whose body is not a form (JSON): url must carry
 * bodySHA256=<hex SHA-256 of the body> in its query string (hex in either
 * case), and the signature covers the URL alone (same port variants). False
 * if the parameter is missing, malformed or does not match the body. */
bool twilio_sig_verify_body(const char *token, const char *url, const void *body, size_t len,
                            const char *signature);

#endif
