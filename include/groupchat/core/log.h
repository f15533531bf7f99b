/*
 * log: one line per event on stderr, "TIME LEVEL EVENT key=value ...", or
 * one JSON object per line. Lines are written with a single write(2), so
 * lines from different threads never interleave.
 */
#ifndef GROUPCHAT_LOG_H
#define GROUPCHAT_LOG_H

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };
enum log_format { LOG_TEXT, LOG_JSON };

/* Sets the threshold and format, and the fd lines go to (2 by default). */
void log_setup(enum log_level level, enum log_format format, int fd);

/* Parses "debug", "info", "warn", "error" / "text", "json". -1 if unknown. */
int log_level_parse(const char *s);
int log_format_parse(const char *s);

/* Logs event with fields given as alternating key and value strings,
 * ending with NULL: log_event(LOG_INFO, "join", "group", id, "client",
 * cid, NULL). Values are quoted and escaped when needed. */
void log_event(enum log_level level, const char *event, ...)
	__attribute__((sentinel));

/* Like log_event, with a value of explicit length (ids may hold any byte):
 * the first field's value is val/len, the rest as log_event. */
void log_event_id(enum log_level level, const char *event, const char *key,
                  const char *val, size_t len, ...)
	__attribute__((sentinel));

#endif
