/* SPDX-License-Identifier: MIT */
/*
 * The heads portier forwards: a client's request rewritten for the backend,
 * and a backend's response rewritten for the client.
 *
 * Both drop the hop-by-hop fields of RFC 9110 section 7.6.1 (Connection and
 * the fields it names, Keep-Alive, TE, Trailer, Proxy-*, and Upgrade unless
 * the message upgrades) and write the framing fields exactly as http.c
 * understood them. A request also gets its Host as the vhost asks, and
 * X-Forwarded-For, X-Forwarded-Proto, X-Forwarded-Host and Forwarded
 * (RFC 7239); copies of those from the client are kept only when the
 * client is a trusted proxy.
 */
#ifndef PORTIER_HTTP_FORWARD_H
#define PORTIER_HTTP_FORWARD_H

#include <stdbool.h>
#include <sys/socket.h>

struct evbuffer;
struct http_head;

/* What the request rewrite needs to know beyond the head. */
struct http_forward_request {
	const struct sockaddr *client; /* the client's address */
	bool trusted;	/* client in trusted_proxies: keep its X-Forwarded-* */
	bool https;	/* the client came over TLS */
	bool upgrade;	/* forward Upgrade with Connection: upgrade */
	bool drop_authorization; /* the vhost checked it (auth) */
	const char *host; /* Host to send; NULL keeps the client's */
};

/* Append the request head `h` parsed from `buf`, rewritten for the backend,
 * to `out`. Returns 0, or -1 when out of memory. */
int http_forward_request(struct evbuffer *out, const char *buf,
			 const struct http_head *h,
			 const struct http_forward_request *how)
	__attribute__((warn_unused_result));

/* How the response goes to the client. */
struct http_forward_response {
	bool close;	  /* portier closes the client connection after it */
	bool keep_alive_10; /* an HTTP/1.0 client stays: say keep-alive */
	bool dechunk;	  /* body sent without chunked framing (HTTP/1.0
			     client): drop Transfer-Encoding */
	bool upgrade;	  /* a 101 that turns the connection into a tunnel */
};

/* Append the response head `h` parsed from `buf`, rewritten for the
 * client, to `out`. Returns 0, or -1 when out of memory. */
int http_forward_response(struct evbuffer *out, const char *buf,
			  const struct http_head *h,
			  const struct http_forward_response *how)
	__attribute__((warn_unused_result));

#endif
