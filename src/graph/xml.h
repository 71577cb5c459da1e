/* xml.h - an escaping XML writer: elements, attributes and text go through
 * it, never through string concatenation. Output is well-formed by
 * construction: names are checked, values and text escaped, invalid UTF-8
 * and characters XML forbids replaced, and elements closed in order. */
#ifndef CARBON_XML_H
#define CARBON_XML_H
#include "core/buf.h"

#include <stdbool.h>
#include <stddef.h>

#define XML_MAX_DEPTH 16

struct xml {
    struct buf *out;
    const char *stack[XML_MAX_DEPTH]; /* open element names (static strings) */
    int depth;
    bool in_tag; /* the start tag of stack[depth-1] is still open for attributes */
    bool failed; /* an append failed (cap or memory) or the caller misused the API */
};

/* Starts a document on out (which keeps owning its storage) with the XML
 * declaration. Everything after a failure is a no-op; xml_finish reports it. */
void xml_init(struct xml *w, struct buf *out);
/* Opens <name ...>. name must be a static XML name ([A-Za-z_:][A-Za-z0-9_.:-]*);
 * a bad name or more than XML_MAX_DEPTH levels marks the writer failed. */
void xml_open(struct xml *w, const char *name);
/* Adds name="value" to the element just opened (before any text or child);
 * value is escaped. */
void xml_attr(struct xml *w, const char *name, const char *value);
/* Adds name="number": finite numbers with at most 2 decimals, trailing
 * zeros dropped ("12.5", "300"); NaN and infinities become 0. */
void xml_attr_num(struct xml *w, const char *name, double v);
/* Adds a printf-formatted attribute (the result is escaped like xml_attr). */
void xml_attr_fmt(struct xml *w, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Escaped character data inside the current element. */
void xml_text(struct xml *w, const char *text);
/* Closes the innermost element (<x/> when it has no content). */
void xml_close(struct xml *w);
/* Closes what is still open. True if the document is complete and every
 * append succeeded. */
bool xml_finish(struct xml *w);

/* Escapes s (len bytes) as XML character data or attribute value into out:
 * & < > " ' as entities, C0 controls other than tab/LF/CR, U+FFFE/U+FFFF
 * and invalid UTF-8 as U+FFFD. False if out refused the bytes. */
bool xml_escape(struct buf *out, const char *s, size_t len);

/* Number formatting shared by the chart: at most 2 decimals, no trailing
 * zeros, "-0" as "0". Writes into out (at least 32 bytes); returns the length. */
size_t xml_fmt_num(char *out, double v);

#endif
