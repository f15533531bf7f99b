/*
 * utf8: strict UTF-8 decoding as RFC 3629 and Go's unicode/utf8 define it:
 * no overlong forms, no surrogates (U+D800..U+DFFF), nothing past U+10FFFF.
 */
#ifndef GROUPCHAT_UTF8_H
#define GROUPCHAT_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence at s (len > 0 bytes available). Returns its length
 * (1 to 4) and stores the code point in *cp, or returns 0 if the bytes at
 * s do not start a valid sequence (Go then consumes one byte as U+FFFD). */
size_t utf8_decode(const uint8_t *s, size_t len, uint32_t *cp);

/* True if all len bytes are valid UTF-8. ASCII runs are checked a word at
 * a time, so typical chat text costs little more than a memchr. */
bool utf8_valid(const uint8_t *s, size_t len);

#endif
