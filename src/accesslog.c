/* SPDX-License-Identifier: MIT */
/*
 * Access log lines. Strings that come from clients are escaped (\" and
 * \xHH in the combined format, JSON escapes in JSON), so that a request
 * cannot forge a line or break a parser reading the log.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "portier/accesslog.h"
#include "portier/addr.h"
#include "portier/config.h"
#include "portier/http.h"
#include "portier/log.h"

/* Longest copy of a client's string a line keeps. */
#define ACCESSLOG_FIELD_MAX 2048

/* One request under way. */
struct accesslog_entry {
	struct timespec start; /* CLOCK_MONOTONIC */
	time_t wall;
	int version_minor;
	char client[ADDR_STRLEN];
	char *method, *target, *host, *referer, *agent;
};

static int accesslog_fd = -1;
static bool accesslog_owned;
static enum config_log_format accesslog_format;
/* The file opened at the start, which SIGUSR1 opens again: a reload
 * does not change it. */
static char *accesslog_path;
/* Lines that could not be written since the last one that was; and
 * whether a line was cut short (a full disk), so that the next one
 * begins with a newline instead of being glued to the piece. */
static atomic_ulong accesslog_lost;
static atomic_bool accesslog_torn;

static void accesslog_write(char *buf, size_t n);
static char *accesslog_copy(const char *buf, uint32_t off, uint32_t len);
static char *accesslog_field(const char *buf, const struct http_head *h,
                             const char *name);
static void accesslog_escape(char *out, size_t outlen, const char *s,
                             bool json);
static const char *accesslog_host_only(char *addr);
static void accesslog_rfc3339(char *buf, size_t len, const struct tm *tm);
static size_t utf8_len(const unsigned char *s);

int accesslog_open(const struct config_global *g, char *err, size_t errlen)
{
	accesslog_format = g->access_log_format;
	if (g->access_log == NULL)
		return 0;
	if (strcmp(g->access_log, "stderr") == 0) {
		accesslog_fd = STDERR_FILENO;
		return 0;
	}
	accesslog_fd = open(g->access_log,
	                    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (accesslog_fd < 0) {
		snprintf(err, errlen, "cannot open the access log %s: %s",
		         g->access_log, strerror(errno));
		return -1;
	}
	accesslog_path = strdup(g->access_log);
	if (accesslog_path == NULL) {
		snprintf(err, errlen, "out of memory");
		close(accesslog_fd);
		accesslog_fd = -1;
		return -1;
	}
	accesslog_owned = true;
	return 0;
}

void accesslog_close(void)
{
	if (accesslog_owned)
		close(accesslog_fd);
	accesslog_fd = -1;
	accesslog_owned = false;
	free(accesslog_path);
	accesslog_path = NULL;
}

int accesslog_reopen(char *err, size_t errlen)
{
	int fd;

	if (!accesslog_owned)
		return 0;
	fd = open(accesslog_path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC,
	          0640);
	if (fd < 0) {
		int e = errno;

		/* Opened as root at the start, the file is made anew by the
		 * user portier became. */
		snprintf(err, errlen, "cannot open the access log %s: %s%s",
		         accesslog_path, strerror(e),
		         e == EACCES && geteuid() != 0
		             ? " (portier dropped root's privileges at the "
		               "start: the log's directory must let its user "
		               "make files, such as a directory it owns)"
		             : "");
		return -1;
	}
	/* dup3 swaps the file under the descriptor in one step: a worker
	 * writing a line meanwhile writes it whole to one file or the
	 * other. */
	if (dup3(fd, accesslog_fd, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot reopen the access log %s: %s",
		         accesslog_path, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/*
 * Write the line buf[1..n) with one write(2), so that the lines of
 * several workers never mix; buf[0] is room for a newline that ends a
 * line cut short before. A line that cannot be written is counted: the
 * first loss is logged with why, and the count once writing works again.
 */
static void accesslog_write(char *buf, size_t n)
{
	bool torn = atomic_exchange(&accesslog_torn, false);
	size_t off = torn ? 0 : 1, done = 0;
	unsigned long lost;
	ssize_t w = 0;
	int e = 0;

	buf[0] = '\n';
	while (off + done < n) {
		w = write(accesslog_fd, buf + off + done, n - off - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : ENOSPC;
			break;
		}
		done += (size_t)w;
	}
	if (off + done == n) {
		lost = atomic_exchange(&accesslog_lost, 0);
		if (lost > 0)
			log_warn("access log: writing again; %lu line%s could "
			         "not be written",
			         lost, lost == 1 ? "" : "s");
		return;
	}
	if (done > 0 || torn)
		atomic_store(&accesslog_torn, true);
	if (atomic_fetch_add(&accesslog_lost, 1) == 0)
		log_error("access log: cannot write to %s: %s; lines are lost "
		          "until it can be written again",
		          accesslog_path != NULL ? accesslog_path : "stderr",
		          strerror(e));
}

bool accesslog_enabled(void)
{
	return accesslog_fd >= 0;
}

struct accesslog_entry *accesslog_begin(const char *buf,
                                        const struct http_head *h,
                                        const struct sockaddr *client,
                                        unsigned age_ms)
{
	struct accesslog_entry *e = calloc(1, sizeof(*e));

	if (e == NULL)
		return NULL;
	clock_gettime(CLOCK_MONOTONIC, &e->start);
	e->start.tv_sec -= (time_t)(age_ms / 1000);
	e->start.tv_nsec -= (long)(age_ms % 1000) * 1000000;
	if (e->start.tv_nsec < 0) {
		e->start.tv_sec--;
		e->start.tv_nsec += 1000000000;
	}
	e->wall = time(NULL);
	e->version_minor = h ? h->version_minor : -1;
	addr_format_sa(client, sizeof(struct sockaddr_storage), e->client,
	               sizeof(e->client));
	(void)accesslog_host_only(e->client);
	if (h == NULL) {
		/* A request refused before its head could be read. */
		e->method = strdup("-");
		e->target = strdup("-");
		e->host = strdup("");
		e->referer = strdup("");
		e->agent = strdup("");
		return e;
	}
	e->method = accesslog_copy(buf, h->method.off, h->method.len);
	e->target = accesslog_copy(buf, h->target.off, h->target.len);
	e->host = strdup(h->host);
	e->referer = accesslog_field(buf, h, "referer");
	e->agent = accesslog_field(buf, h, "user-agent");
	return e;
}

void accesslog_end(struct accesslog_entry *e, const char *vhost,
                   const char *backend, int status, uint64_t bytes_in,
                   uint64_t bytes_out)
{
	/* Escaping can make a string four times longer. */
	char method[64 * 4], target[ACCESSLOG_FIELD_MAX * 4 + 1];
	char referer[ACCESSLOG_FIELD_MAX * 4 + 1], agent[1024 * 4 + 1];
	char host[256 * 4 + 1], when[64];
	char vhost_e[256 * 6 + 1], backend_e[512 * 6 + 1];
	char *line;
	struct timespec now;
	struct tm tm;
	long ms;
	int n;
	bool json = accesslog_format == CONFIG_LOG_JSON;
	char proto[24] = "-";

	if (e == NULL)
		return;
	if (e->version_minor >= 0)
		snprintf(proto, sizeof(proto), "HTTP/1.%d", e->version_minor);
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - e->start.tv_sec) * 1000 +
	     (now.tv_nsec - e->start.tv_nsec) / 1000000;
	accesslog_escape(method, sizeof(method), e->method, json);
	accesslog_escape(target, sizeof(target), e->target, json);
	accesslog_escape(referer, sizeof(referer), e->referer, json);
	accesslog_escape(agent, sizeof(agent), e->agent, json);
	accesslog_escape(host, sizeof(host), e->host, json);
	accesslog_escape(vhost_e, sizeof(vhost_e), vhost, json);
	accesslog_escape(backend_e, sizeof(backend_e), backend, json);
	localtime_r(&e->wall, &tm);
	line = malloc(sizeof(target) + sizeof(referer) + sizeof(agent) +
	              sizeof(host) + sizeof(vhost_e) + sizeof(backend_e) +
	              1024);
	if (line == NULL)
		goto out;
	if (json) {
		accesslog_rfc3339(when, sizeof(when), &tm);
		n = sprintf(line + 1,
		            "{\"time\":\"%s\",\"client\":\"%s\",\"host\":\"%s\","
		            "\"vhost\":%s%s%s,\"method\":\"%s\","
		            "\"target\":\"%s\",\"protocol\":\"%s\","
		            "\"status\":%d,\"bytes_in\":%llu,\"bytes_out\":%llu,"
		            "\"backend\":%s%s%s,\"duration_ms\":%ld,"
		            "\"referer\":\"%s\",\"user_agent\":\"%s\"}\n",
		            when, e->client, host, vhost ? "\"" : "",
		            vhost ? vhost_e : "null", vhost ? "\"" : "", method,
		            target, proto, status,
		            (unsigned long long)bytes_in,
		            (unsigned long long)bytes_out, backend ? "\"" : "",
		            backend ? backend_e : "null", backend ? "\"" : "", ms,
		            referer, agent);
	} else {
		strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
		n = sprintf(line + 1,
		            "%s - - [%s] \"%s %s %s\" %d %llu \"%s\" "
		            "\"%s\" vhost=%s backend=%s in=%llu ms=%ld\n",
		            e->client, when, method, target, proto,
		            status, (unsigned long long)bytes_out,
		            referer[0] ? referer : "-", agent[0] ? agent : "-",
		            vhost ? vhost_e : "-", backend ? backend_e : "-",
		            (unsigned long long)bytes_in, ms);
	}
	if (n > 0)
		accesslog_write(line, (size_t)n + 1);
	free(line);
out:
	free(e->method);
	free(e->target);
	free(e->host);
	free(e->referer);
	free(e->agent);
	free(e);
}

void accesslog_stream(const char *proto, const struct log_conn *c,
                      uint64_t bytes_in, uint64_t bytes_out,
                      uint64_t duration_ms, const char *end)
{
	char listener[256 * 4 + 1], sni[256 * 4 + 1], backend[512 * 4 + 1];
	char when[64], line[4096 + sizeof(listener) + sizeof(sni) +
	                   sizeof(backend)];
	char client[ADDR_STRLEN];
	const char *port;
	bool json = accesslog_format == CONFIG_LOG_JSON;
	time_t now = time(NULL);
	struct tm tm;
	int n;

	if (accesslog_fd < 0)
		return;
	snprintf(client, sizeof(client), "%s", c->client);
	port = accesslog_host_only(client);
	accesslog_escape(listener, sizeof(listener), c->listener, json);
	accesslog_escape(sni, sizeof(sni), c->sni, json);
	accesslog_escape(backend, sizeof(backend), c->backend, json);
	localtime_r(&now, &tm);
	if (json) {
		accesslog_rfc3339(when, sizeof(when), &tm);
		n = snprintf(line + 1, sizeof(line) - 1,
		             "{\"time\":\"%s\",\"client\":\"%s\","
		             "\"client_port\":%s,"
		             "\"listener\":\"%s\",\"protocol\":\"%s\","
		             "\"sni\":%s%s%s,\"backend\":%s%s%s,"
		             "\"bytes_in\":%llu,\"bytes_out\":%llu,"
		             "\"duration_ms\":%llu,\"end\":\"%s\"}\n",
		             when, client, port[0] ? port : "null", listener,
		             proto, c->sni ? "\"" : "", c->sni ? sni : "null",
		             c->sni ? "\"" : "", c->backend ? "\"" : "",
		             c->backend ? backend : "null",
		             c->backend ? "\"" : "", (unsigned long long)bytes_in,
		             (unsigned long long)bytes_out,
		             (unsigned long long)duration_ms, end);
	} else {
		strftime(when, sizeof(when), "%d/%b/%Y:%H:%M:%S %z", &tm);
		n = snprintf(line + 1, sizeof(line) - 1,
		             "%s - - [%s] \"%s %s\" - %llu \"-\" \"-\" "
		             "port=%s sni=%s backend=%s in=%llu ms=%llu "
		             "end=\"%s\"\n",
		             client, when, proto, listener,
		             (unsigned long long)bytes_out, port[0] ? port : "-",
		             c->sni ? sni : "-", c->backend ? backend : "-",
		             (unsigned long long)bytes_in,
		             (unsigned long long)duration_ms, end);
	}
	if (n > 0 && (size_t)n < sizeof(line) - 1)
		accesslog_write(line, (size_t)n + 1);
}

/* tm as RFC 3339 has it, "2026-11-24T06:46:14-03:30": strftime's %z
 * writes the offset without its colon. */
static void accesslog_rfc3339(char *buf, size_t len, const struct tm *tm)
{
	size_t n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S%z", tm);

	/* "+hhmm" at the end becomes "+hh:mm". */
	if (n >= 5 && n + 1 < len) {
		memmove(buf + n - 1, buf + n - 2, 3);
		buf[n - 2] = ':';
	}
}

/* Cut "1.2.3.4:5678" or "[::1]:5678" to the address alone, as combined
 * logs have it; returns the port ("" when there is none). */
static const char *accesslog_host_only(char *addr)
{
	char *colon;

	if (addr[0] == '[') {
		char *end = strchr(addr, ']');
		const char *port;

		if (end == NULL)
			return "";
		/* Only the address moves; the port stays where it is. */
		port = end[1] == ':' ? end + 2 : "";
		*end = '\0';
		memmove(addr, addr + 1, strlen(addr + 1) + 1);
		return port;
	}
	colon = strrchr(addr, ':');
	if (colon == NULL)
		return "";
	*colon = '\0';
	return colon + 1;
}

/* A NUL-terminated copy of len bytes at buf + off, cut at the limit. */
static char *accesslog_copy(const char *buf, uint32_t off, uint32_t len)
{
	char *s;

	if (len > ACCESSLOG_FIELD_MAX)
		len = ACCESSLOG_FIELD_MAX;
	s = malloc(len + 1u);
	if (s != NULL) {
		memcpy(s, buf + off, len);
		s[len] = '\0';
	}
	return s;
}

/* A copy of the first field named `name` (lower case), or "". */
static char *accesslog_field(const char *buf, const struct http_head *h,
                             const char *name)
{
	for (size_t i = 0; i < h->nheaders; i++) {
		if (http_slice_eq(buf, h->headers[i].name, name))
			return accesslog_copy(buf, h->headers[i].value.off,
			                      h->headers[i].value.len);
	}
	return strdup("");
}

/*
 * Copy s into out, escaped for the format: the combined format writes
 * bytes outside printable ASCII as \xHH, as nginx does; JSON keeps
 * well-formed UTF-8 as it is and writes any other byte as U+FFFD, since a
 * JSON string holds characters, not bytes.
 */
static void accesslog_escape(char *out, size_t outlen, const char *s,
                             bool json)
{
	size_t o = 0, u;

	for (; s != NULL && *s != '\0' && o + 7 < outlen; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (json && c >= 0x80 &&
		           (u = utf8_len((const unsigned char *)s)) > 0) {
			memcpy(out + o, s, u);
			o += u;
			s += u - 1;
		} else if (json && c >= 0x80) {
			memcpy(out + o, "\\ufffd", 6);
			o += 6;
		} else if (c < 0x20 || c >= 0x7f) {
			o += (size_t)snprintf(out + o, outlen - o,
			                      json ? "\\u%04x" : "\\x%02X", c);
		} else {
			out[o++] = (char)c;
		}
	}
	out[o] = '\0';
}

/* The length of the well-formed UTF-8 sequence that starts at s (RFC
 * 3629: no overlong form, no surrogate, nothing above U+10FFFF), or 0.
 * s is NUL-terminated, which stops the look at a short sequence. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (s[0] == 0xe0 || s[0] == 0xf0)
		lo = s[0] == 0xe0 ? 0xa0 : 0x90;
	if (s[0] == 0xed || s[0] == 0xf4)
		hi = s[0] == 0xed ? 0x9f : 0x8f;
	if (s[0] >= 0xe0 && s[0] <= 0xef)
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3
		                                                          : 0;
	if (s[0] >= 0xf0 && s[0] <= 0xf4)
		return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 &&
		               (s[3] & 0xc0) == 0x80
		           ? 4
		           : 0;
	return 0;
}
