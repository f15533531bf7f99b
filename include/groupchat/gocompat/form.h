/*
 * form: URL query and path decoding as Go's net/url does it
 * (url.ParseQuery + Values.Get, url.PathUnescape), so a request's id
 * decodes to the same bytes the Go server sees.
 */
#ifndef GROUPCHAT_FORM_H
#define GROUPCHAT_FORM_H

#include <stddef.h>
#include <stdint.h>

#include "groupchat/core/buf.h"

/* Looks key up in the raw (undecoded) query string of len bytes, as
 * r.URL.Query().Get(key) does: pairs are split on '&'; a pair containing
 * ';' and an empty pair are skipped; key and value are split at the first
 * '=' (none: the value is empty) and decoded with '+' as space and %XX
 * (hex of either case); a pair whose key or value has a bad or truncated
 * escape is skipped; the first pair whose decoded key equals key (case-
 * sensitive) wins. Never blocks. Returns 1 and appends its decoded value
 * (possibly empty) to out, 0 if there is none, or -1 with errno from buf
 * (ENOMEM, EMSGSIZE). */
int form_query_get(const char *query, size_t len, const char *key,
                   struct buf *out);

/* Appends the len bytes at s with each %XX decoded and '+' kept, as
 * url.PathUnescape does. Never blocks. 0, or -1 with errno EINVAL (a '%'
 * not followed by two hex digits; out unchanged) or from buf. */
int form_path_unescape(const char *s, size_t len, struct buf *out);

/* The value of hex digit c (either case), or -1 if c is not one. */
int form_hexval(uint8_t c);

#endif
