/*
 * redis_info: reads one field out of the text an INFO command answers
 * ("# Section" headers and "name:value" lines ending in CRLF). A pure
 * parser: nothing here touches a socket (fuzzed by fuzz/fuzz_redis_info.c).
 */
#ifndef GROUPCHAT_REDIS_INFO_H
#define GROUPCHAT_REDIS_INFO_H

#include <stddef.h>

/* The value of the line "field:value" in the INFO text s (len bytes, any
 * bytes): a pointer into s, its length (up to the line's end) in *n; or
 * NULL when no line begins with field and a colon. field is a non-empty
 * C string. */
const char *redis_info_field(const char *s, size_t len, const char *field, size_t *n);

#endif
