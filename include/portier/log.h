/* SPDX-License-Identifier: MIT */
/*
 * Logging to stderr (and later to files): one line per event with a
 * timestamp, the level and, for connection events, the connection's context.
 */
#ifndef PORTIER_LOG_H
#define PORTIER_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <time.h>

/* Severity, most severe first; a message is written when its level is at
 * most the configured one. */
enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Set the threshold; messages above it are dropped. */
void log_set_level(enum log_level level);

/* True when a message at `level` would be written; lets callers skip
 * formatting work. */
bool log_enabled(enum log_level level);

/* Name of a level ("info"). */
const char *log_level_name(enum log_level level);

/* Write one line: "2026-11-23T01:02:03.456Z info  message". */
void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* As log_msg with a va_list. */
void log_vmsg(enum log_level level, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

/* What a line about a connection names, in this order; NULL fields are
 * left out (client and listener always come). */
struct log_conn {
	const char *client; /* the client's address, formatted */
	const char *listener;
	const char *vhost;
	const char *sni;
	const char *backend;
};

/* Write "client=ADDR listener=NAME [vhost=..] [sni=..] [backend=..]: "
 * and the message. */
void log_conn(enum log_level level, const struct log_conn *c,
	      const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* As log_conn with a va_list. */
void log_vconn(enum log_level level, const struct log_conn *c,
	       const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));

/* A budget of log lines per second for messages that clients can cause
 * at will (refusals, evictions): zero it before use. */
struct log_throttle {
	time_t second;       /* the second of the counts below */
	unsigned logged;     /* lines written in that second */
	unsigned suppressed; /* ... and left out */
};

/* Lines a throttle lets through each second before it counts instead. */
#define LOG_THROTTLE_BURST 10

/* As log_vmsg, unless t's budget for this second is spent; then the line
 * is counted, and the count is logged in the next second that logs, for
 * "KIND NAME" ("listener web"; KIND alone when name is NULL). */
void log_vthrottled(struct log_throttle *t, const char *kind,
		    const char *name, enum log_level level, const char *fmt,
		    va_list ap) __attribute__((format(printf, 5, 0)));

#define log_error(...) log_msg(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_enabled(LOG_LEVEL_DEBUG))                              \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                 \
	} while (0)

#endif
