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

static bool http_forward_hop(const struct http_head *h, size_t i,
                             bool upgrade);
static void http_forward_ip(const struct sockaddr *sa, char *buf, size_t len,
                            bool forwarded);
static int http_forward_joined(struct evbuffer *out, const char *buf,
                               const struct http_head *h, enum http_field kind,
                               const char *name, const char *ours);
static int http_forward_field(struct evbuffer *out, const char *buf,
                              const struct http_header *f);

int http_forward_request(struct evbuffer *out, const char *buf,
                         const struct http_head *h,
                         const struct http_forward_request *how)
{
	char ip[INET6_ADDRSTRLEN + 2], fwd_ip[INET6_ADDRSTRLEN + 4];
	char host[300], forwarded[640];
	const char *proto = how->https ? "https" : "http";
	bool trusted = how->trusted;
	int r = 0;

	/* The request line in origin form: an absolute-form target's
	 * authority has become the Host below. */
	if (h->absolute_form)
		r |= evbuffer_add_printf(
		    out, "%.*s %.*s HTTP/1.1\r\n", (int)h->method.len,
		    buf + h->method.off, h->path.len ? (int)h->path.len : 1,
		    h->path.len ? buf + h->path.off : "/");
	else
		r |= evbuffer_add_printf(out, "%.*s %.*s HTTP/1.1\r\n",
		                         (int)h->method.len, buf + h->method.off,
		                         (int)h->target.len, buf + h->target.off);
	if (h->host_port)
		snprintf(host, sizeof(host), "%s:%u", h->host, h->host_port);
	else
		snprintf(host, sizeof(host), "%s", h->host);
	if (how->host != NULL)
		r |= evbuffer_add_printf(out, "Host: %s\r\n", how->host);
	else if (host[0] != '\0')
		r |= evbuffer_add_printf(out, "Host: %s\r\n", host);
	for (size_t i = 0; i < h->nheaders; i++) {
		switch (h->kind[i]) {
		case HTTP_F_HOST:
			continue;
		case HTTP_F_X_FORWARDED_FOR:
		case HTTP_F_FORWARDED:
			continue; /* joined below */
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
		r |= http_forward_field(out, buf, &h->headers[i]);
	}
	http_forward_ip(how->client, ip, sizeof(ip), false);
	http_forward_ip(how->client, fwd_ip, sizeof(fwd_ip), true);
	r |= http_forward_joined(out, buf, h,
	                         trusted ? HTTP_F_X_FORWARDED_FOR : HTTP_F_COUNT,
	                         "X-Forwarded-For", ip);
	if (!trusted || !(h->seen & (1u << HTTP_F_X_FORWARDED_PROTO)))
		r |= evbuffer_add_printf(out, "X-Forwarded-Proto: %s\r\n",
		                         proto);
	if ((!trusted || !(h->seen & (1u << HTTP_F_X_FORWARDED_HOST))) &&
	    host[0] != '\0')
		r |= evbuffer_add_printf(out, "X-Forwarded-Host: %s\r\n", host);
	if (host[0] != '\0')
		snprintf(forwarded, sizeof(forwarded),
		         "for=%s;host=\"%s\";proto=%s", fwd_ip, host, proto);
	else
		snprintf(forwarded, sizeof(forwarded), "for=%s;proto=%s",
		         fwd_ip, proto);
	r |= http_forward_joined(out, buf, h,
	                         trusted ? HTTP_F_FORWARDED : HTTP_F_COUNT,
	                         "Forwarded", forwarded);
	if (how->upgrade)
		r |= evbuffer_add(out, "Connection: upgrade\r\n", 21);
	r |= evbuffer_add(out, "\r\n", 2);
	return r < 0 ? -1 : 0;
}

int http_forward_response(struct evbuffer *out, const char *buf,
                          const struct http_head *h,
                          const struct http_forward_response *how)
{
	int r = 0;

	r |= evbuffer_add_printf(out, "HTTP/1.1 %03d %.*s\r\n", h->status,
	                         (int)h->reason.len, buf + h->reason.off);
	for (size_t i = 0; i < h->nheaders; i++) {
		if (http_forward_hop(h, i, how->upgrade))
			continue;
		if (how->dechunk &&
		    h->kind[i] == HTTP_F_TRANSFER_ENCODING)
			continue;
		r |= http_forward_field(out, buf, &h->headers[i]);
	}
	if (how->upgrade)
		r |= evbuffer_add(out, "Connection: upgrade\r\n", 21);
	else if (how->close)
		r |= evbuffer_add(out, "Connection: close\r\n", 19);
	else if (how->keep_alive_10)
		r |= evbuffer_add(out, "Connection: keep-alive\r\n", 24);
	r |= evbuffer_add(out, "\r\n", 2);
	return r < 0 ? -1 : 0;
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

/* Write `name: ` with the values of every field of `kind` joined by ", "
 * (none when kind is HTTP_F_COUNT), then `ours`. */
static int http_forward_joined(struct evbuffer *out, const char *buf,
                               const struct http_head *h, enum http_field kind,
                               const char *name, const char *ours)
{
	int r = evbuffer_add_printf(out, "%s: ", name);

	for (size_t i = 0; kind != HTTP_F_COUNT && i < h->nheaders; i++) {
		const struct http_slice *v = &h->headers[i].value;

		if (h->kind[i] != kind || v->len == 0)
			continue;
		r |= evbuffer_add(out, buf + v->off, v->len);
		r |= evbuffer_add(out, ", ", 2);
	}
	r |= evbuffer_add_printf(out, "%s\r\n", ours);
	return r < 0 ? -1 : 0;
}

/* Copy one field as "Name: value\r\n". */
static int http_forward_field(struct evbuffer *out, const char *buf,
                              const struct http_header *f)
{
	int r = 0;

	r |= evbuffer_add(out, buf + f->name.off, f->name.len);
	r |= evbuffer_add(out, ": ", 2);
	r |= evbuffer_add(out, buf + f->value.off, f->value.len);
	r |= evbuffer_add(out, "\r\n", 2);
	return r < 0 ? -1 : 0;
}
