/* fuzz_form.c - fuzzes form decoding and the Twilio signature over the
 * decoded parameters. Never crashes; an accepted form has at most
 * FORM_MAX_PAIRS pairs without NUL bytes, re-encodes to a form that decodes
 * to the same pairs, and its own signature verifies (and stops verifying when
 * a value changes); the input as a URL query and as a signature header is
 * handled without crashing. */
#include "notify/form.h"
#include "notify/signature.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define URL "https://carbon.example/twilio/inbound?x=1"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct form f, again;
    struct buf enc;
    const char *why = NULL;
    char sig[TWILIO_SIG_LEN + 1];

    cb_err rc = form_parse(&f, (const char *)data, size, &why);
    if (rc != CB_OK) {
        if (f.n || f.pairs || !why ||
            (rc != CB_ERR_BAD_REQUEST && rc != CB_ERR_TOO_LARGE && rc != CB_ERR_NOMEM))
            abort();
    } else {
        if (f.n > FORM_MAX_PAIRS)
            abort();
        buf_init(&enc, 0);
        for (size_t i = 0; i < f.n; i++)
            if (!form_append(&enc, f.pairs[i].name, f.pairs[i].value))
                abort();
        if (form_parse(&again, enc.data ? enc.data : "", enc.len, NULL) != CB_OK)
            abort();
        /* pieces with an empty name and value ("=") disappear on re-encoding only if
         * both are empty; everything else comes back in order */
        size_t j = 0;
        for (size_t i = 0; i < f.n; i++, j++) {
            if (j >= again.n || strcmp(f.pairs[i].name, again.pairs[j].name) != 0 ||
                strcmp(f.pairs[i].value, again.pairs[j].value) != 0)
                abort();
        }
        if (j != again.n)
            abort();
        form_free(&again);
        buf_free(&enc);

        if (!twilio_sig_compute("token", URL, f.pairs, f.n, sig) || strlen(sig) != TWILIO_SIG_LEN ||
            !twilio_sig_verify("token", URL, f.pairs, f.n, sig) ||
            twilio_sig_verify("other", URL, f.pairs, f.n, sig))
            abort();
        if (f.n) {
            const char *old = f.pairs[0].value;
            f.pairs[0].value = strcmp(old, "tampered") ? "tampered" : "tampered!";
            if (twilio_sig_verify("token", URL, f.pairs, f.n, sig))
                abort();
            f.pairs[0].value = old;
        }
    }
    form_free(&f);

    /* the input as a URL (query and port variants) and as a signature */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    if (form_parse_query(&f, s, NULL) == CB_OK && f.n > FORM_MAX_PAIRS)
        abort();
    form_free(&f);
    if (twilio_sig_compute("token", s, NULL, 0, sig) &&
        !twilio_sig_verify("token", s, NULL, 0, sig))
        abort();
    (void)twilio_sig_verify("token", URL, NULL, 0, s);
    (void)twilio_sig_verify_body("token", s, data, size, "AAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    free(s);
    return 0;
}
