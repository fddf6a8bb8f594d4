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
#include <sys/types.h>

struct http_head;

/* What the request rewrite needs to know beyond the head. */
struct http_forward_request {
	const char *client_ip; /* http_forward_client_ip of the client */
	bool trusted;	/* client in trusted_proxies: keep its X-Forwarded-* */
	bool https;	/* the client came over TLS */
	bool upgrade;	/* forward Upgrade with Connection: upgrade */
	bool drop_authorization; /* the vhost checked it (auth) */
	const char *host; /* Host to send; NULL keeps the client's */
};

/* How the response goes to the client. */
struct http_forward_response {
	bool close;	    /* portier closes the client connection after it */
	bool keep_alive_10; /* an HTTP/1.0 client stays: say keep-alive */
	bool dechunk;	    /* body sent without chunked framing (HTTP/1.0
			       client): drop Transfer-Encoding */
	bool upgrade;	    /* a 101 that turns the connection into a tunnel */
};

/* The most bytes a rewritten head of `h` takes, a forced Host aside
 * (add its length): at most HTTP_MAX_HEAD + HTTP_FORWARD_EXTRA. */
size_t http_forward_bound(const struct http_head *h);

/* What a rewrite adds to a head at most, beyond a forced Host. */
#define HTTP_FORWARD_EXTRA 1536

/* Write the request head `h` parsed from `buf`, rewritten for the backend,
 * into out[0..cap). Returns its length, or -1 when cap is below the bound
 * or when the request has no host and how->host gives none (HTTP/1.1,
 * which the backend gets, needs one). */
ssize_t http_forward_request(char *out, size_t cap, const char *buf,
			     const struct http_head *h,
			     const struct http_forward_request *how)
	__attribute__((warn_unused_result));

/* Write the response head `h` parsed from `buf`, rewritten for the
 * client, into out[0..cap). Returns its length, or -1 when cap is below
 * the bound. */
ssize_t http_forward_response(char *out, size_t cap, const char *buf,
			      const struct http_head *h,
			      const struct http_forward_response *how)
	__attribute__((warn_unused_result));

/* The client's address as X-Forwarded-For writes it (v4-mapped IPv6 as
 * IPv4), into buf (INET6_ADDRSTRLEN bytes). */
void http_forward_client_ip(const struct sockaddr *sa, char *buf,
			    size_t len);

#endif
