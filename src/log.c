/* SPDX-License-Identifier: MIT */
/*
 * Logging. Every line goes to stderr as
 *   2026-11-23T01:02:03.456Z info  message
 * and is written with one write(2) so that lines from a crashing process or
 * from several threads never interleave.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "portier/log.h"

static enum log_level log_threshold = LOG_LEVEL_INFO;

static const char *const log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARN] = "warn",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void log_set_level(enum log_level level)
{
	log_threshold = level;
}

bool log_enabled(enum log_level level)
{
	return level <= log_threshold;
}

const char *log_level_name(enum log_level level)
{
	if ((unsigned)level >= sizeof(log_names) / sizeof(log_names[0]))
		return "?";
	return log_names[level];
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048];
	struct timeval tv;
	struct tm tm;
	size_t n;
	int saved_errno = errno;
	int r;

	if (!log_enabled(level))
		return;
	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(line + n, sizeof(line) - n, ".%03ldZ %-5s ",
		     (long)(tv.tv_usec / 1000), log_level_name(level));
	if (r > 0)
		n += (size_t)r;
	r = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	if (r < 0)
		r = 0;
	n += (size_t)r;
	if (n > sizeof(line) - 2) {
		n = sizeof(line) - 5;
		memcpy(line + n, "...", 3);
		n += 3;
	}
	line[n++] = '\n';
	/* One write per line; a short write to a pipe is not retried. */
	if (write(STDERR_FILENO, line, n) < 0) {
		/* nowhere left to report it */
	}
	errno = saved_errno;
}

void log_conn(enum log_level level, const struct log_conn *c,
              const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vconn(level, c, fmt, ap);
	va_end(ap);
}

void log_vconn(enum log_level level, const struct log_conn *c,
               const char *fmt, va_list ap)
{
	char msg[1024];

	if (!log_enabled(level))
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	log_msg(level, "client=%s listener=%s%s%s%s%s%s%s: %s", c->client,
	        c->listener, c->vhost ? " vhost=" : "", c->vhost ? c->vhost : "",
	        c->sni ? " sni=" : "", c->sni ? c->sni : "",
	        c->backend ? " backend=" : "", c->backend ? c->backend : "",
	        msg);
}

void log_vthrottled(struct log_throttle *t, const char *kind,
                    const char *name, enum log_level level, const char *fmt,
                    va_list ap)
{
	time_t now = time(NULL);

	if (now != t->second) {
		if (t->suppressed)
			log_msg(level,
			        "%s%s%s: %u more such messages were not logged",
			        kind, name != NULL ? " " : "",
			        name != NULL ? name : "", t->suppressed);
		t->second = now;
		t->logged = 0;
		t->suppressed = 0;
	}
	if (t->logged >= LOG_THROTTLE_BURST) {
		t->suppressed++;
		return;
	}
	t->logged++;
	log_vmsg(level, fmt, ap);
}
