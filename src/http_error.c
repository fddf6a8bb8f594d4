/* SPDX-License-Identifier: MIT */
/*
 * Error pages and the diagnosis of a refused backend. A page is small and
 * needs nothing from the network: a browser gets a few lines of HTML, curl
 * and scripts get the same words as plain text.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <event2/buffer.h>

#include "portier/http_error.h"
#include "portier/addr.h"
#include "portier/http.h"
#include "portier/portdiag.h"

static int http_error_escaped(struct evbuffer *out, const char *s, size_t n);
static bool http_error_cached(const struct addr *backend, char *buf,
                              size_t len);
static void http_error_remember(const struct addr *backend, const char *text);

int http_error_write(struct evbuffer *out, const struct http_error_page *page)
{
	const char *reason = http_status_text(page->status);
	const char *text = page->text ? page->text : "";
	struct evbuffer *body = evbuffer_new();
	int r = 0;

	if (body == NULL)
		return -1;
	if (page->body != NULL) {
		r |= evbuffer_add(body, page->body, page->body_len);
	} else if (page->html) {
		r |= evbuffer_add_printf(
		    body,
		    "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">"
		    "<title>%d %s</title><style>body{font-family:sans-serif;"
		    "max-width:40em;margin:3em auto;padding:0 1em;color:#222}"
		    "p{line-height:1.4}small{color:#666}</style></head>\n"
		    "<body><h1>%d %s</h1>\n",
		    page->status, reason, page->status, reason);
		while (*text != '\0') {
			size_t n = strcspn(text, "\n");

			r |= evbuffer_add(body, "<p>", 3);
			r |= http_error_escaped(body, text, n);
			r |= evbuffer_add(body, "</p>\n", 5);
			text += n + (text[n] == '\n');
		}
		r |= evbuffer_add_printf(body,
		                         "<hr><small>portier</small></body>"
		                         "</html>\n");
	} else {
		r |= evbuffer_add_printf(body, "%d %s\n", page->status,
		                         reason);
		if (*text != '\0')
			r |= evbuffer_add_printf(body, "%s\n", text);
	}
	r |= evbuffer_add_printf(
	    out,
	    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\n%s%s\r\n",
	    page->status, reason,
	    page->body != NULL ? page->type
	    : page->html       ? "text/html; charset=utf-8"
	                       : "text/plain; charset=utf-8",
	    evbuffer_get_length(body), page->fields ? page->fields : "",
	    page->close ? "Connection: close\r\n" : "");
	if (!page->head_only)
		r |= evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	return r < 0 ? -1 : 0;
}

const char *http_error_dev_host_check(const char *body, size_t len)
{
	static const struct {
		const char *marker;
		const char *hint;
	} servers[] = {
	    {"Blocked request", "it is Vite's host check: add the name to "
	                        "server.allowedHosts in vite.config.js"},
	    {"Invalid Host header",
	     "it is webpack-dev-server's host check: add the name to "
	     "devServer.allowedHosts in webpack.config.js"},
	    {"allowedDevOrigins", "it is the Next.js dev server's origin "
	                          "check: add the name to allowedDevOrigins "
	                          "in next.config.js"},
	};

	for (size_t i = 0; i < sizeof(servers) / sizeof(servers[0]); i++) {
		if (memmem(body, len, servers[i].marker,
		           strlen(servers[i].marker)) != NULL)
			return servers[i].hint;
	}
	return NULL;
}

char *http_error_explain_refused(const struct addr *backend, char *buf,
                                 size_t len)
{
	struct portdiag_socket *list = NULL;
	size_t n = 0, used = 0;
	bool v4 = false, v6 = false;

	buf[0] = '\0';
	if (backend->kind == ADDR_UNIX) {
		struct stat st;
		const char *path = backend->sa.sun.sun_path;

		if (stat(path, &st) < 0)
			snprintf(buf, len, "%s does not exist: is the service "
			         "running?", path);
		else if (!S_ISSOCK(st.st_mode))
			snprintf(buf, len, "%s is not a socket.", path);
		else
			snprintf(buf, len, "%s exists but nothing accepts on "
			         "it: the service may have stopped.", path);
		return buf;
	}
	if (http_error_cached(backend, buf, len))
		return buf;
	if (portdiag_list_port("/proc", IPPROTO_TCP, backend->port, &list,
	                       &n) < 0) {
		snprintf(buf, len, "Could not look at the listening sockets "
		         "of this machine.");
		return buf;
	}
	for (size_t i = 0; i < n; i++) {
		const struct portdiag_socket *s = &list[i];
		char holder[160], where[ADDR_STRLEN];
		int w;

		if (s->family == AF_INET)
			v4 = true;
		else
			v6 = true;
		portdiag_describe_holder(s, holder, sizeof(holder));
		addr_format_sa((const struct sockaddr *)&s->addr, s->addrlen,
		               where, sizeof(where));
		w = snprintf(buf + used, len - used, "%s%s listens on %s.",
		             used ? " " : "", holder, where);
		if (w > 0 && (size_t)w < len - used)
			used += (size_t)w;
	}
	free(list);
	if (!v4 && !v6)
		snprintf(buf, len, "Nothing listens on port %u, on 127.0.0.1 "
		         "or on ::1: is the service running?", backend->port);
	else if (backend->kind == ADDR_INET && v6 && !v4 &&
	         backend->sa.sa.sa_family == AF_INET)
		snprintf(buf + used, len - used, " The service listens on "
		         "IPv6 only: set the backend to localhost:%u or "
		         "[::1]:%u.", backend->port, backend->port);
	else if (backend->kind == ADDR_INET && v4 && !v6 &&
	         backend->sa.sa.sa_family == AF_INET6)
		snprintf(buf + used, len - used, " The service listens on "
		         "IPv4 only: set the backend to localhost:%u or "
		         "127.0.0.1:%u.", backend->port, backend->port);
	http_error_remember(backend, buf);
	return buf;
}

/*
 * The last explanation of each worker, reused for HTTP_ERROR_CACHE_S: the
 * search for a port's holder reads every process's descriptors, which a
 * flood of refused requests must not repeat inside the event loop.
 */
#define HTTP_ERROR_CACHE_S 5

static _Thread_local struct {
	uint16_t port;
	int family;
	time_t at;
	char text[768];
} http_error_cache;

/* Copy a recent explanation for this backend into buf, if there is one. */
static bool http_error_cached(const struct addr *backend, char *buf,
                              size_t len)
{
	time_t now = time(NULL);

	if (http_error_cache.at == 0 || now - http_error_cache.at >=
	                                    HTTP_ERROR_CACHE_S ||
	    http_error_cache.port != backend->port ||
	    http_error_cache.family != (int)backend->kind * 100 +
	                                   backend->sa.sa.sa_family)
		return false;
	snprintf(buf, len, "%s", http_error_cache.text);
	return true;
}

/* Keep an explanation for http_error_cached. */
static void http_error_remember(const struct addr *backend, const char *text)
{
	http_error_cache.port = backend->port;
	http_error_cache.family =
	    (int)backend->kind * 100 + backend->sa.sa.sa_family;
	http_error_cache.at = time(NULL);
	snprintf(http_error_cache.text, sizeof(http_error_cache.text), "%s",
	         text);
}

/* Append n bytes of s with HTML's special characters escaped. */
static int http_error_escaped(struct evbuffer *out, const char *s, size_t n)
{
	int r = 0;

	for (size_t i = 0; i < n; i++) {
		switch (s[i]) {
		case '<': r |= evbuffer_add(out, "&lt;", 4); break;
		case '>': r |= evbuffer_add(out, "&gt;", 4); break;
		case '&': r |= evbuffer_add(out, "&amp;", 5); break;
		case '"': r |= evbuffer_add(out, "&quot;", 6); break;
		default: r |= evbuffer_add(out, &s[i], 1);
		}
	}
	return r;
}
