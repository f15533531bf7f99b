/*
 * form: on any input, form_query_get and form_path_unescape return a
 * defined result, append at most as many bytes as they were given, and
 * agree with an independent count of the escapes in the input.
 * Input: one byte k, then k % 8 key bytes, then the query or path.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "groupchat/core/buf.h"
#include "groupchat/gocompat/form.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
ishex(uint8_t c)
{
	return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Number of %XX escapes in s, or -1 if a '%' starts no valid escape. */
static long
count_escapes(const uint8_t *s, size_t n)
{
	long count = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (s[i] != '%')
			continue;
		if (i + 2 >= n || !ishex(s[i + 1]) || !ishex(s[i + 2]))
			return -1;
		count++;
		i += 2;
	}
	return count;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char key[8];
	size_t klen, n;
	const uint8_t *s;
	struct buf out;
	long esc;
	int rc;

	if (size == 0)
		return 0;
	klen = data[0] % 8;
	if (klen > size - 1)
		klen = size - 1;
	memcpy(key, data + 1, klen);
	key[klen] = '\0'; /* an inner NUL just shortens the key */
	s = data + 1 + klen;
	n = size - 1 - klen;

	buf_init(&out, 0);
	if (buf_puts(&out, "p") == -1)
		abort();
	rc = form_query_get((const char *)s, n, key, &out);
	if (rc == -1 || (rc == 0 && out.len != 1) || out.len - 1 > n)
		abort();

	buf_reset(&out);
	esc = count_escapes(s, n);
	rc = form_path_unescape((const char *)s, n, &out);
	if (esc < 0 ? rc != -1 || errno != EINVAL || out.len != 0 :
	    rc != 0 || out.len != n - 2 * (size_t)esc)
		abort();
	buf_free(&out);
	return 0;
}
