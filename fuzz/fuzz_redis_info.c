/*
 * redis_info: on any bytes, redis_info_field either finds nothing or
 * returns a value inside the input that holds no line break, preceded by
 * the field's name and a colon at the start of a line; and whenever the
 * input holds such a line, it finds the first. Fields: "role" and
 * "second_repl_offset".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/cluster/redis_info.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The first line of s that begins with field and a colon: its value's
 * offset, or -1. */
static long
first_line(const char *s, size_t len, const char *field)
{
	size_t flen = strlen(field), at = 0;

	while (at < len) {
		if (len - at > flen && memcmp(s + at, field, flen) == 0 && s[at + flen] == ':')
			return (long)(at + flen + 1);
		while (at < len && s[at] != '\n')
			at++;
		at++;
	}
	return -1;
}

static void
check(const char *s, size_t len, const char *field)
{
	const char *v;
	size_t n, i;
	long want = first_line(s, len, field);

	v = redis_info_field(s, len, field, &n);
	if (v == NULL) {
		if (want != -1)
			abort();
		return;
	}
	if (v - s != want || (size_t)(v - s) + n > len)
		abort();
	for (i = 0; i < n; i++)
		if (v[i] == '\r' || v[i] == '\n')
			abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check((const char *)data, size, "role");
	check((const char *)data, size, "second_repl_offset");
	return 0;
}
