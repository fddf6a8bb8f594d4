/* SPDX-License-Identifier: MIT */
/*
 * Rewriting heads on their way through: the request for the backend, the
 * response for the client. The fields of a parsed head are copied one by
 * one, except those that only concern one hop; the fields portier owns
 * (Host, the forwarding fields, Connection) are then written once, so that
 * a client cannot smuggle a second copy past the proxy.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>


#include "portier/http_forward.h"
#include "portier/http.h"

/* A head being written into the caller's buffer: plain memcpy, no
 * printf. */
struct head_writer {
	char *p;
	size_t len;
	size_t cap;
};

static bool http_forward_hop(const struct http_head *h, size_t i,
                             bool upgrade);
static bool untrusted_field(const char *buf, const struct http_header *f,
                            bool trusted);
static bool x_forwarded(const char *buf, const struct http_header *f);
static int writer_open(struct head_writer *w, char *out, size_t cap,
                       size_t need);
static void put(struct head_writer *w, const void *s, size_t n);
static void put_str(struct head_writer *w, const char *s);
static void put_slice(struct head_writer *w, const char *buf,
                      struct http_slice sl);
static void put_field(struct head_writer *w, const char *buf,
                      const struct http_header *f);
static void put_chunked(struct head_writer *w);
static void put_joined(struct head_writer *w, const char *buf,
                       const struct http_head *h, enum http_field kind,
                       const char *name, const char *ours);
static void put_u16(struct head_writer *w, unsigned v);

ssize_t http_forward_request(char *out, size_t cap, const char *buf,
                             const struct http_head *h,
                             const struct http_forward_request *how)
{
	const char *ip = how->client_ip;
	const char *proto = how->https ? "https" : "http";
	bool trusted = how->trusted;
	struct head_writer w, hw;
	char host[300];

	/* HTTP/1.1 needs a Host; an HTTP/1.0 request may have come without
	 * one, and then the caller names it. */
	if ((how->host == NULL && h->host[0] == '\0') ||
	    writer_open(&w, out, cap,
	                http_forward_bound(h) +
	                    (how->host ? strlen(how->host) : 0)) < 0)
		return -1;
	/* The client's host and port, as X-Forwarded-Host and Forwarded
	 * give it. */
	hw.p = host;
	hw.len = 0;
	hw.cap = sizeof(host) - 1;
	put_str(&hw, h->host);
	if (h->host_port) {
		put(&hw, ":", 1);
		put_u16(&hw, h->host_port);
	}
	host[hw.len] = '\0';
	/* The request line in origin form: an absolute-form target's
	 * authority has become the Host below. */
	put_slice(&w, buf, h->method);
	put(&w, " ", 1);
	if (!h->absolute_form) {
		put_slice(&w, buf, h->target);
	} else {
		/* "http://a.test?x" has the path "?x": origin form wants
		 * "/?x". */
		if (h->path.len == 0 || buf[h->path.off] != '/')
			put(&w, "/", 1);
		put_slice(&w, buf, h->path);
	}
	put(&w, " HTTP/1.1\r\n", 11);
	if (how->host != NULL || host[0] != '\0') {
		const struct http_header *field = NULL;

		/* The client's Host as it wrote it (the parsed one is in
		 * lower case); an absolute-form target's authority has
		 * replaced it. */
		for (size_t i = 0; how->host == NULL && !h->absolute_form &&
		                   i < h->nheaders;
		     i++)
			if (h->kind[i] == HTTP_F_HOST)
				field = &h->headers[i];
		put(&w, "Host: ", 6);
		if (field != NULL)
			put_slice(&w, buf, field->value);
		else
			put_str(&w, how->host != NULL ? how->host : host);
		put(&w, "\r\n", 2);
	}
	for (size_t i = 0; i < h->nheaders; i++) {
		switch (h->kind[i]) {
		case HTTP_F_HOST:
		case HTTP_F_X_FORWARDED_FOR:
		case HTTP_F_FORWARDED:
		case HTTP_F_TRANSFER_ENCODING:
			continue; /* written below */
		case HTTP_F_X_FORWARDED_PROTO:
		case HTTP_F_X_FORWARDED_HOST:
			if (!trusted)
				continue;
			break;
		case HTTP_F_AUTHORIZATION:
			if (how->drop_authorization)
				continue;
			break;
		default:
			if (http_forward_hop(h, i, how->upgrade))
				continue;
			if (untrusted_field(buf, &h->headers[i], trusted))
				continue;
		}
		put_field(&w, buf, &h->headers[i]);
	}
	if (h->body == HTTP_BODY_CHUNKED)
		put_chunked(&w);
	put_joined(&w, buf, h,
	           trusted ? HTTP_F_X_FORWARDED_FOR : HTTP_F_COUNT,
	           "X-Forwarded-For: ", ip);
	if (!trusted || !(h->seen & (1u << HTTP_F_X_FORWARDED_PROTO))) {
		put(&w, "X-Forwarded-Proto: ", 19);
		put_str(&w, proto);
		put(&w, "\r\n", 2);
	}
	if ((!trusted || !(h->seen & (1u << HTTP_F_X_FORWARDED_HOST))) &&
	    host[0] != '\0') {
		put(&w, "X-Forwarded-Host: ", 18);
		put_str(&w, host);
		put(&w, "\r\n", 2);
	}
	{
		char forwarded[INET6_ADDRSTRLEN + 340];
		struct head_writer fw = {forwarded, 0, sizeof(forwarded) - 1};

		/* An IPv6 node is quoted and bracketed (RFC 7239 section 6). */
		if (strchr(ip, ':') != NULL) {
			put(&fw, "for=\"[", 6);
			put_str(&fw, ip);
			put(&fw, "]\"", 2);
		} else {
			put(&fw, "for=", 4);
			put_str(&fw, ip);
		}
		if (host[0] != '\0') {
			put(&fw, ";host=\"", 7);
			put_str(&fw, host);
			put(&fw, "\"", 1);
		}
		put(&fw, ";proto=", 7);
		put_str(&fw, proto);
		forwarded[fw.len] = '\0';
		put_joined(&w, buf, h,
		           trusted ? HTTP_F_FORWARDED : HTTP_F_COUNT,
		           "Forwarded: ", forwarded);
	}
	if (how->upgrade)
		put(&w, "Connection: upgrade\r\n", 21);
	put(&w, "\r\n", 2);
	return (ssize_t)w.len;
}

ssize_t http_forward_response(char *out, size_t cap, const char *buf,
                              const struct http_head *h,
                              const struct http_forward_response *how)
{
	struct head_writer w;

	if (writer_open(&w, out, cap, http_forward_bound(h)) < 0)
		return -1;
	put(&w, "HTTP/1.1 ", 9);
	put_u16(&w, (unsigned)h->status);
	put(&w, " ", 1);
	put_slice(&w, buf, h->reason);
	put(&w, "\r\n", 2);
	for (size_t i = 0; i < h->nheaders; i++) {
		if (http_forward_hop(h, i, how->upgrade))
			continue;
		if (h->kind[i] == HTTP_F_TRANSFER_ENCODING)
			continue;
		put_field(&w, buf, &h->headers[i]);
	}
	if (h->body == HTTP_BODY_CHUNKED && !how->dechunk)
		put_chunked(&w);
	if (how->upgrade)
		put(&w, "Connection: upgrade\r\n", 21);
	else if (how->close)
		put(&w, "Connection: close\r\n", 19);
	else if (how->keep_alive_10)
		put(&w, "Connection: keep-alive\r\n", 24);
	put(&w, "\r\n", 2);
	return (ssize_t)w.len;
}

/*
 * A client's field that the backend must not get:
 * - from a client not in trusted_proxies, X-Forwarded-Port, -Prefix,
 *   -Ssl... (frameworks believe them as they believe -Proto), and the
 *   client address of other proxies' dialects, X-Real-IP and
 *   True-Client-IP (believed as X-Forwarded-For is);
 * - from anyone, Proxy, which CGI makes HTTP_PROXY, the proxy a backend's
 *   own requests would then go through ("httpoxy"); it is no standard
 *   field, and no client needs it.
 * Names compare in any case, with '_' for '-' (X_Real_IP reaches a CGI
 * backend as X-Real-IP).
 */
static bool untrusted_field(const char *buf, const struct http_header *f,
                            bool trusted)
{
	if (f->name.len == 5 && http_name_starts(buf, f->name, "proxy"))
		return true;
	if (trusted)
		return false;
	return x_forwarded(buf, f) ||
	       (f->name.len == 9 && http_name_starts(buf, f->name, "x-real-ip")) ||
	       (f->name.len == 14 &&
	        http_name_starts(buf, f->name, "true-client-ip"));
}

/* True for a field named "X-Forwarded-" and more, any case, with '_'
 * for '-' (X_Forwarded_For reaches a CGI backend as X-Forwarded-For). */
static bool x_forwarded(const char *buf, const struct http_header *f)
{
	static const char prefix[] = "x-forwarded-";

	return f->name.len > sizeof(prefix) - 1 &&
	       http_name_starts(buf, f->name, prefix);
}

/* True when header i concerns only one hop (RFC 9110 section 7.6.1). */
static bool http_forward_hop(const struct http_head *h, size_t i,
                             bool upgrade)
{
	switch (h->kind[i]) {
	case HTTP_F_CONNECTION:
	case HTTP_F_KEEP_ALIVE:
	case HTTP_F_TE:
	case HTTP_F_TRAILER:
	case HTTP_F_PROXY_CONNECTION:
	case HTTP_F_PROXY_AUTHORIZATION:
	case HTTP_F_PROXY_AUTHENTICATE:
	case HTTP_F_CONNECTION_LISTED:
		return true;
	case HTTP_F_UPGRADE:
		return !upgrade;
	default:
		return false;
	}
}

void http_forward_client_ip(const struct sockaddr *sa, char *buf,
                            size_t len)
{
	const void *a;
	int family = sa->sa_family;

	if (family == AF_INET) {
		a = &((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else {
		const struct in6_addr *a6 =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		a = a6;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			family = AF_INET;
			a = &a6->s6_addr[12];
		}
	}
	if (inet_ntop(family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "unknown");
}

/* The most a rewritten head of `h` can take: its fields (the joined
 * forwarding fields replace the ones they join), its request or status
 * line, and what portier adds (Host, X-Forwarded-*, Forwarded, Connection:
 * well under 1.5 KiB). */
size_t http_forward_bound(const struct http_head *h)
{
	size_t n = (size_t)h->method.len + h->target.len + h->reason.len;

	for (size_t i = 0; i < h->nheaders; i++)
		n += h->headers[i].name.len + h->headers[i].value.len + 4u;
	return n + HTTP_FORWARD_EXTRA;
}

/* Write into out, whose cap bytes must hold the `need` of the bound. */
static int writer_open(struct head_writer *w, char *out, size_t cap,
                       size_t need)
{
	if (cap < need)
		return -1;
	w->p = out;
	w->len = 0;
	w->cap = cap;
	return 0;
}

/* Append n bytes; the bound makes overflow impossible, but a wrong bound
 * truncates rather than overruns. */
static void put(struct head_writer *w, const void *s, size_t n)
{
	if (n > w->cap - w->len)
		n = w->cap - w->len;
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

/* Append a C string. */
static void put_str(struct head_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

/* Append a slice of the parsed buffer. */
static void put_slice(struct head_writer *w, const char *buf,
                      struct http_slice sl)
{
	put(w, buf + sl.off, sl.len);
}

/* Append one field as "Name: value\r\n". */
static void put_field(struct head_writer *w, const char *buf,
                      const struct http_header *f)
{
	put_slice(w, buf, f->name);
	put(w, ": ", 2);
	put_slice(w, buf, f->value);
	put(w, "\r\n", 2);
}

/* Append the one Transfer-Encoding a chunked message is sent with: the
 * field lines it came with may be split, or hold empty list elements,
 * that the next recipient could read differently (RFC 9110 5.6.1). */
static void put_chunked(struct head_writer *w)
{
	put(w, "Transfer-Encoding: chunked\r\n", 28);
}

/* Append `name` (with its ": ") and the values of every field of `kind`
 * joined by ", " (none when kind is HTTP_F_COUNT), then `ours`. */
static void put_joined(struct head_writer *w, const char *buf,
                       const struct http_head *h, enum http_field kind,
                       const char *name, const char *ours)
{
	put_str(w, name);
	for (size_t i = 0; kind != HTTP_F_COUNT && i < h->nheaders; i++) {
		if (h->kind[i] != kind || h->headers[i].value.len == 0)
			continue;
		put_slice(w, buf, h->headers[i].value);
		put(w, ", ", 2);
	}
	put_str(w, ours);
	put(w, "\r\n", 2);
}

/* Append a number below 65536 in decimal (status codes, ports). */
static void put_u16(struct head_writer *w, unsigned v)
{
	char digits[5];
	size_t n = 0;

	do
		digits[sizeof(digits) - ++n] = (char)('0' + v % 10);
	while ((v /= 10) != 0 && n < sizeof(digits));
	put(w, digits + sizeof(digits) - n, n);
}
