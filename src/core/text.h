/* text.h - small byte-level text helpers shared by the parsers and writers:
 * UTF-8 decoding and hex digits. */
#ifndef CARBON_TEXT_H
#define CARBON_TEXT_H
#include <stddef.h>
#include <stdint.h>

/* Decodes one UTF-8 sequence at s[0..len) (len >= 1); returns its length,
 * or 0 if it is invalid (overlong, a surrogate, above U+10FFFF, truncated),
 * and the code point in *cp. On a NUL-terminated string, len may be the
 * bytes left (a truncated sequence meets the NUL, which is no continuation
 * byte). */
size_t utf8_next(const unsigned char *s, size_t len, uint32_t *cp);

/* The value of hex digit c (either case), or -1. */
int hex_value(unsigned char c);

#endif
