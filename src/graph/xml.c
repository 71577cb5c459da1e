/* xml.c - the escaping XML writer behind every SVG the server draws. */
#include "graph/xml.h"

#include "core/text.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

void xml_init(struct xml *w, struct buf *out)
{
    *w = (struct xml){.out = out};
    w->failed = !buf_puts(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
}

static bool name_ok(const char *n)
{
    if (!n || !*n)
        return false;
    for (const char *p = n; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c == ':';
        bool more = (c >= '0' && c <= '9') || c == '-' || c == '.';
        if (!alpha && (p == n || !more))
            return false;
    }
    return true;
}

static void put(struct xml *w, const char *s, size_t n)
{
    if (!w->failed && !buf_append(w->out, s, n))
        w->failed = true;
}

static void puts_(struct xml *w, const char *s)
{
    put(w, s, strlen(s));
}

/* Ends a pending start tag with '>' before content. */
static void end_start_tag(struct xml *w)
{
    if (w->in_tag) {
        put(w, ">", 1);
        w->in_tag = false;
    }
}

void xml_open(struct xml *w, const char *name)
{
    if (w->failed)
        return;
    if (!name_ok(name) || w->depth >= XML_MAX_DEPTH) {
        w->failed = true;
        return;
    }
    end_start_tag(w);
    put(w, "<", 1);
    puts_(w, name);
    w->stack[w->depth++] = name;
    w->in_tag = true;
}

bool xml_escape(struct buf *out, const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, run = 0; /* bytes [i - run, i) are plain and not yet copied */
    bool ok = true;
    while (ok && i < len) {
        uint32_t cp;
        size_t n = utf8_next(p + i, len - i, &cp);
        const char *rep = NULL;
        if (n == 0) {
            rep = replacement;
            n = 1;
        } else if (cp == '&') {
            rep = "&amp;";
        } else if (cp == '<') {
            rep = "&lt;";
        } else if (cp == '>') {
            rep = "&gt;";
        } else if (cp == '"') {
            rep = "&quot;";
        } else if (cp == '\'') {
            rep = "&apos;";
        } else if ((cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') || cp == 0xFFFE ||
                   cp == 0xFFFF) {
            rep = replacement;
        }
        if (rep) {
            ok = buf_append(out, s + i - run, run) && buf_puts(out, rep);
            run = 0;
        } else {
            run += n;
        }
        i += n;
    }
    return ok && buf_append(out, s + i - run, run);
}

void xml_attr(struct xml *w, const char *name, const char *value)
{
    if (w->failed)
        return;
    if (!w->in_tag || !name_ok(name)) {
        w->failed = true;
        return;
    }
    put(w, " ", 1);
    puts_(w, name);
    put(w, "=\"", 2);
    if (!w->failed && !xml_escape(w->out, value, strlen(value)))
        w->failed = true;
    put(w, "\"", 1);
}

size_t xml_fmt_num(char *out, double v)
{
    if (!isfinite(v))
        v = 0;
    double r = round(v * 100) / 100;
    if (r == 0)
        r = 0; /* no "-0" */
    int n = snprintf(out, 32, "%.2f", r);
    if (n < 0 || n >= 32) {
        out[0] = '0', out[1] = '\0';
        return 1;
    }
    size_t len = (size_t)n;
    while (len && out[len - 1] == '0')
        len--;
    if (len && out[len - 1] == '.')
        len--;
    out[len] = '\0';
    return len;
}

void xml_attr_num(struct xml *w, const char *name, double v)
{
    char num[32];
    xml_fmt_num(num, v);
    xml_attr(w, name, num);
}

void xml_attr_fmt(struct xml *w, const char *name, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= sizeof small) {
        w->failed = true;
        return;
    }
    xml_attr(w, name, small);
}

void xml_text(struct xml *w, const char *text)
{
    if (w->failed)
        return;
    if (w->depth == 0) {
        w->failed = true;
        return;
    }
    end_start_tag(w);
    if (!xml_escape(w->out, text, strlen(text)))
        w->failed = true;
}

void xml_close(struct xml *w)
{
    if (w->failed)
        return;
    if (w->depth == 0) {
        w->failed = true;
        return;
    }
    const char *name = w->stack[--w->depth];
    if (w->in_tag) {
        put(w, "/>", 2);
        w->in_tag = false;
    } else {
        put(w, "</", 2);
        puts_(w, name);
        put(w, ">", 1);
    }
    if (w->depth == 0)
        put(w, "\n", 1);
}

bool xml_finish(struct xml *w)
{
    while (!w->failed && w->depth > 0)
        xml_close(w);
    return !w->failed;
}
