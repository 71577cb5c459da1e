/* form.c - application/x-www-form-urlencoded decoding and encoding. */
#include "notify/form.h"

#include "core/text.h"

#include <stdlib.h>
#include <string.h>

/* Decodes s[0..n) into out (room for n + 1 bytes) and NUL-terminates it.
 * False on a bad escape or a decoded NUL. */
static bool decode(const char *s, size_t n, char *out, const char **why)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            c = ' ';
        } else if (c == '%') {
            int h = i + 2 < n ? hex_value((unsigned char)s[i + 1]) : -1;
            int l = h >= 0 ? hex_value((unsigned char)s[i + 2]) : -1;
            if (l < 0) {
                *why = "a '%' is not followed by two hex digits";
                return false;
            }
            c = (unsigned char)(h << 4 | l);
            i += 2;
        }
        if (c == '\0') {
            *why = "a NUL byte";
            return false;
        }
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

cb_err form_parse(struct form *f, const char *s, size_t len, const char **why)
{
    const char *dummy;
    cb_err rc = CB_OK;
    size_t pieces = 0;

    memset(f, 0, sizeof *f);
    if (!why)
        why = &dummy;
    if (len > FORM_MAX_BYTES) {
        *why = "the form is too large";
        return CB_ERR_TOO_LARGE;
    }
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        if (end > i)
            pieces++;
        i = end + 1;
    }
    if (pieces > FORM_MAX_PAIRS) {
        *why = "too many form fields";
        return CB_ERR_TOO_LARGE;
    }
    if (pieces == 0)
        return CB_OK;
    /* Decoding never grows a piece: len bytes plus two NULs per pair suffice. */
    f->pairs = calloc(pieces, sizeof *f->pairs);
    f->arena = malloc(len + 2 * pieces);
    if (!f->pairs || !f->arena) {
        *why = "out of memory";
        rc = CB_ERR_NOMEM;
        goto out;
    }
    char *w = f->arena;
    for (size_t i = 0; i < len;) {
        const char *amp = memchr(s + i, '&', len - i);
        size_t end = amp ? (size_t)(amp - s) : len;
        if (end > i) {
            const char *eq = memchr(s + i, '=', end - i);
            size_t nlen = eq ? (size_t)(eq - (s + i)) : end - i;
            size_t vstart = eq ? (size_t)(eq - s) + 1 : end;
            struct form_pair *p = &f->pairs[f->n];
            p->name = w;
            if (!decode(s + i, nlen, w, why)) {
                rc = CB_ERR_BAD_REQUEST;
                goto out;
            }
            w += strlen(w) + 1;
            p->value = w;
            if (!decode(s + vstart, end - vstart, w, why)) {
                rc = CB_ERR_BAD_REQUEST;
                goto out;
            }
            w += strlen(w) + 1;
            f->n++;
        }
        i = end + 1;
    }
out:
    if (rc != CB_OK)
        form_free(f);
    return rc;
}

cb_err form_parse_query(struct form *f, const char *url, const char **why)
{
    const char *q = url ? strchr(url, '?') : NULL;
    if (!q) {
        memset(f, 0, sizeof *f);
        return CB_OK;
    }
    q++;
    return form_parse(f, q, strcspn(q, "#"), why);
}

const char *form_get(const struct form *f, const char *name)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->pairs[i].name, name) == 0)
            return f->pairs[i].value;
    return NULL;
}

void form_free(struct form *f)
{
    free(f->pairs);
    free(f->arena);
    memset(f, 0, sizeof *f);
}

static bool encode(struct buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        unsigned char c = *p;
        bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                     c == '*' || c == '-' || c == '.' || c == '_';
        char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
        bool ok = plain      ? buf_append(out, p, 1)
                  : c == ' ' ? buf_append(out, "+", 1)
                             : buf_append(out, esc, 3);
        if (!ok)
            return false;
    }
    return true;
}

bool form_append(struct buf *out, const char *name, const char *value)
{
    size_t old = out->len;
    bool ok = (old == 0 || buf_append(out, "&", 1)) && encode(out, name) &&
              buf_append(out, "=", 1) && encode(out, value);
    if (!ok && out->data) {
        out->len = old;
        out->data[old] = '\0';
    }
    return ok;
}
