/*
 * position: on any input, position_parse either refuses it with a reason
 * and leaves the output alone, or accepts exactly the spelling
 * position_format writes back for what it parsed (so accepted positions
 * round-trip byte for byte). Input: the bytes to parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/position.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct position p = { 42, 42 };
	char back[POSITION_MAX];
	const char *why = NULL;
	size_t n;

	if (position_parse((const char *)data, size, &p, &why) == -1) {
		if (why == NULL || why[0] == '\0' || strchr(why, '\n') != NULL)
			abort();
		if (p.epoch != 42 || p.offset != 42)
			abort();
		return 0;
	}
	n = position_format(&p, back);
	if (n != size || memcmp(back, data, size) != 0)
		abort();
	return 0;
}
