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

#include <event2/buffer.h>

#include "portier/http_forward.h"
#include "portier/http.h"

/* A head being written into space reserved in an evbuffer: plain
 * memcpy, no printf, one commit. */
struct head_writer {
	char *p;
	size_t len;
	size_t cap;
};

static bool http_forward_hop(const struct http_head *h, size_t i,
                             bool upgrade);
static void http_forward_ip(const struct sockaddr *sa, char *buf, size_t len,
                            bool forwarded);
static size_t http_forward_bound(const struct http_head *h);
static int writer_open(struct head_writer *w, struct evbuffer *out,
                       struct evbuffer_iovec *vec, size_t cap);
static void put(struct head_writer *w, const void *s, size_t n);
static void put_str(struct head_writer *w, const char *s);
static void put_slice(struct head_writer *w, const char *buf,
                      struct http_slice sl);
static void put_field(struct head_writer *w, const char *buf,
                      const struct http_header *f);
static void put_joined(struct head_writer *w, const char *buf,
                       const struct http_head *h, enum http_field kind,
                       const char *name, const char *ours);
static int writer_commit(struct head_writer *w, struct evbuffer *out,
                         struct evbuffer_iovec *vec);

int http_forward_request(struct evbuffer *out, const char *buf,
                         const struct http_head *h,
                         const struct http_forward_request *how)
{
	char ip[INET6_ADDRSTRLEN + 2], fwd_ip[INET6_ADDRSTRLEN + 4];
	char host[300], port[8] = "";
	const char *proto = how->https ? "https" : "http";
	bool trusted = how->trusted;
	struct evbuffer_iovec vec;
	struct head_writer w;

	if (writer_open(&w, out, &vec,
	                http_forward_bound(h) +
	                    (how->host ? strlen(how->host) : 0)) < 0)
		return -1;
	/* The request line in origin form: an absolute-form target's
	 * authority has become the Host below. */
	put_slice(&w, buf, h->method);
	put(&w, " ", 1);
	if (!h->absolute_form)
		put_slice(&w, buf, h->target);
	else if (h->path.len > 0)
		put_slice(&w, buf, h->path);
	else
		put(&w, "/", 1);
	put(&w, " HTTP/1.1\r\n", 11);
	if (h->host_port)
		snprintf(port, sizeof(port), ":%u", h->host_port);
	snprintf(host, sizeof(host), "%s%s", h->host, port);
	if (how->host != NULL || host[0] != '\0') {
		put(&w, "Host: ", 6);
		put_str(&w, how->host != NULL ? how->host : host);
		put(&w, "\r\n", 2);
	}
	for (size_t i = 0; i < h->nheaders; i++) {
		switch (h->kind[i]) {
		case HTTP_F_HOST:
		case HTTP_F_X_FORWARDED_FOR:
		case HTTP_F_FORWARDED:
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
		}
		put_field(&w, buf, &h->headers[i]);
	}
	http_forward_ip(how->client, ip, sizeof(ip), false);
	http_forward_ip(how->client, fwd_ip, sizeof(fwd_ip), true);
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

		if (host[0] != '\0')
			snprintf(forwarded, sizeof(forwarded),
			         "for=%s;host=\"%s\";proto=%s", fwd_ip, host,
			         proto);
		else
			snprintf(forwarded, sizeof(forwarded),
			         "for=%s;proto=%s", fwd_ip, proto);
		put_joined(&w, buf, h,
		           trusted ? HTTP_F_FORWARDED : HTTP_F_COUNT,
		           "Forwarded: ", forwarded);
	}
	if (how->upgrade)
		put(&w, "Connection: upgrade\r\n", 21);
	put(&w, "\r\n", 2);
	return writer_commit(&w, out, &vec);
}

int http_forward_response(struct evbuffer *out, const char *buf,
                          const struct http_head *h,
                          const struct http_forward_response *how)
{
	struct evbuffer_iovec vec;
	struct head_writer w;
	char status[8];

	if (writer_open(&w, out, &vec, http_forward_bound(h)) < 0)
		return -1;
	snprintf(status, sizeof(status), "%03d ", h->status);
	put(&w, "HTTP/1.1 ", 9);
	put_str(&w, status);
	put_slice(&w, buf, h->reason);
	put(&w, "\r\n", 2);
	for (size_t i = 0; i < h->nheaders; i++) {
		if (http_forward_hop(h, i, how->upgrade))
			continue;
		if (how->dechunk && h->kind[i] == HTTP_F_TRANSFER_ENCODING)
			continue;
		put_field(&w, buf, &h->headers[i]);
	}
	if (how->upgrade)
		put(&w, "Connection: upgrade\r\n", 21);
	else if (how->close)
		put(&w, "Connection: close\r\n", 19);
	else if (how->keep_alive_10)
		put(&w, "Connection: keep-alive\r\n", 24);
	put(&w, "\r\n", 2);
	return writer_commit(&w, out, &vec);
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

/* The client's address as X-Forwarded-For writes it, or as a Forwarded
 * node ("[2001:db8::1]" quoted, RFC 7239 section 6). v4-mapped addresses
 * are written as IPv4. */
static void http_forward_ip(const struct sockaddr *sa, char *buf, size_t len,
                            bool forwarded)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET,
		          &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
		          ip, sizeof(ip));
		snprintf(buf, len, "%s", ip);
		return;
	}
	{
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			inet_ntop(AF_INET, &a->s6_addr[12], ip, sizeof(ip));
			snprintf(buf, len, "%s", ip);
			return;
		}
		inet_ntop(AF_INET6, a, ip, sizeof(ip));
	}
	if (forwarded)
		snprintf(buf, len, "\"[%s]\"", ip);
	else
		snprintf(buf, len, "%s", ip);
}

/* The most a rewritten head of `h` can take: its fields (the joined
 * forwarding fields replace the ones they join), its request or status
 * line, and what portier adds (Host, X-Forwarded-*, Forwarded, Connection:
 * well under 1.5 KiB). */
static size_t http_forward_bound(const struct http_head *h)
{
	size_t n = (size_t)h->method.len + h->target.len + h->reason.len;

	for (size_t i = 0; i < h->nheaders; i++)
		n += h->headers[i].name.len + h->headers[i].value.len + 4u;
	return n + 1536;
}

/* Reserve cap contiguous bytes at the end of out. */
static int writer_open(struct head_writer *w, struct evbuffer *out,
                       struct evbuffer_iovec *vec, size_t cap)
{
	if (evbuffer_reserve_space(out, (ev_ssize_t)cap, vec, 1) != 1 ||
	    vec->iov_len < cap)
		return -1;
	w->p = vec->iov_base;
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

/* Commit what was written. */
static int writer_commit(struct head_writer *w, struct evbuffer *out,
                         struct evbuffer_iovec *vec)
{
	vec->iov_len = w->len;
	return evbuffer_commit_space(out, vec, 1);
}
