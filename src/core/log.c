/*
 * log: event lines on stderr. Each line is built in a local buffer and
 * written with one write(2), which keeps lines whole across threads
 * without a lock. Level and format are set once at start-up, before any
 * thread exists, and only read afterwards.
 */
#include "groupchat/core/log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "groupchat/core/buf.h"
#include "groupchat/core/json.h"

/* Atomics: several servers in one process (the cluster tests) each set
 * them at start while the others' threads log. */
static atomic_int log_threshold = LOG_INFO;
static atomic_int log_fmt = LOG_TEXT;
static atomic_int log_fd = 2;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void
log_setup(enum log_level level, enum log_format format, int fd)
{
	atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
	atomic_store_explicit(&log_fmt, (int)format, memory_order_relaxed);
	atomic_store_explicit(&log_fd, fd, memory_order_relaxed);
}

int
log_level_parse(const char *s)
{
	for (int i = 0; i < 4; i++)
		if (strcmp(s, level_names[i]) == 0)
			return i;
	return -1;
}

int
log_format_parse(const char *s)
{
	if (strcmp(s, "text") == 0)
		return LOG_TEXT;
	if (strcmp(s, "json") == 0)
		return LOG_JSON;
	return -1;
}

/* 1 if a line at level would be written. */
static int
log_enabled(enum log_level level)
{
	return (int)level >= atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

/* A text value is bare when it is non-empty printable ASCII without
 * spaces, quotes or '='; anything else is quoted with C-style escapes so
 * that a line always splits back into the same fields. */
static void
text_value(struct buf *b, const char *v, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	int bare = len > 0;

	for (size_t i = 0; i < len && bare; i++) {
		unsigned char c = (unsigned char)v[i];
		bare = c > ' ' && c < 0x7f && c != '"' && c != '=' && c != '\\';
	}
	if (bare) {
		buf_append(b, v, len);
		return;
	}
	buf_append(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)v[i];
		if (c == '"' || c == '\\') {
			char e[2] = {'\\', (char)c};
			buf_append(b, e, 2);
		} else if (c >= ' ' && c < 0x7f) {
			buf_append(b, &v[i], 1);
		} else {
			char e[4] = {'\\', 'x', hex[c >> 4], hex[c & 15]};
			buf_append(b, e, 4);
		}
	}
	buf_append(b, "\"", 1);
}

static void
field(struct buf *b, const char *key, const char *val, size_t len)
{
	if (atomic_load_explicit(&log_fmt, memory_order_relaxed) == LOG_JSON) {
		buf_puts(b, ",\"");
		buf_puts(b, key);
		buf_puts(b, "\":\"");
		json_escape(b, val, len);
		buf_puts(b, "\"");
	} else {
		buf_printf(b, " %s=", key);
		text_value(b, val, len);
	}
}

static void
start(struct buf *b, enum log_level level, const char *event)
{
	struct timespec ts;
	struct tm tm;
	char when[40];

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	if (atomic_load_explicit(&log_fmt, memory_order_relaxed) == LOG_JSON)
		buf_printf(b, "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":\"%s\"",
		    when, ts.tv_nsec / 1000000, level_names[level], event);
	else
		buf_printf(b, "%s.%03ldZ %s %s", when, ts.tv_nsec / 1000000,
		    level_names[level], event);
}

static void
finish(struct buf *b, const char *first_key, const char *first_val,
    size_t first_len, va_list ap)
{
	const char *k, *v;

	if (first_key != NULL)
		field(b, first_key, first_val, first_len);
	while ((k = va_arg(ap, const char *)) != NULL) {
		v = va_arg(ap, const char *);
		if (v == NULL)
			v = "";
		field(b, k, v, strlen(v));
	}
	buf_puts(b, atomic_load_explicit(&log_fmt, memory_order_relaxed) == LOG_JSON ? "}\n" : "\n");
	if (b->len > 0 && write(atomic_load_explicit(&log_fd, memory_order_relaxed), b->data, b->len) < 0) {
		/* Nowhere left to report a failed log write. */
	}
	buf_free(b);
}

/* One line: the event, the first field if any, then ap's pairs. */
static void
emit(enum log_level level, const char *event, const char *first_key,
    const char *first_val, size_t first_len, va_list ap)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	start(&b, level, event);
	finish(&b, first_key, first_val, first_len, ap);
}

void
log_event(enum log_level level, const char *event, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, event);
	emit(level, event, NULL, NULL, 0, ap);
	va_end(ap);
}

void
log_event_id(enum log_level level, const char *event, const char *key,
    const char *val, size_t len, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, len);
	/* Ids may be long; a log line shows at most 256 bytes of one. */
	emit(level, event, key, val, len > 256 ? 256 : len, ap);
	va_end(ap);
}
