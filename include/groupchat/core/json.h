/*
 * json: JSON string escaping, byte for byte as Go's encoding/json writes
 * strings with HTML escaping on (json.Marshal's default, Go 1.22 and later).
 */
#ifndef GROUPCHAT_JSON_H
#define GROUPCHAT_JSON_H

#include <stddef.h>

#include "groupchat/core/buf.h"

/* Appends the escaped content of the len bytes at s to out, without the
 * surrounding quotes: '"' and '\' backslashed; \b \f \n \r \t; other
 * control characters as \u00xx (lowercase hex); '<' '>' '&' as \u003c
 * \u003e \u0026; U+2028 and U+2029 as \u2028 \u2029; each byte that is
 * not part of valid UTF-8 as \ufffd; all other UTF-8 as is. Never blocks.
 * 0, or -1 with errno from buf (ENOMEM, EMSGSIZE) and out as it was. */
int json_escape(struct buf *out, const void *s, size_t len);

#endif
