/* buf.h - growable byte buffer with a hard size cap. */
#ifndef CARBON_BUF_H
#define CARBON_BUF_H
#include <stdbool.h>
#include <stddef.h>

struct buf {
    char *data; /* always NUL-terminated when non-NULL */
    size_t len;
    size_t cap;
    size_t max; /* appends that would exceed this fail; 0 = no cap */
};

/* Starts an empty buffer that refuses to grow past max bytes (0: no cap). */
void buf_init(struct buf *b, size_t max);
/* Appends n bytes. Returns false (buffer unchanged) on cap or allocation failure. */
bool buf_append(struct buf *b, const void *p, size_t n);
bool buf_puts(struct buf *b, const char *s);
/* printf-style append; false on cap, allocation failure or format error. */
bool buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Frees the storage; the buffer may be reused after buf_init. */
void buf_free(struct buf *b);
/* Hands the storage to the caller (who frees it) and resets the buffer. */
char *buf_steal(struct buf *b);

#endif
