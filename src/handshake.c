/* SPDX-License-Identifier: MIT */
/*
 * TLS handshakes: SSL_do_handshake driven by one event per connection,
 * re-armed for whichever direction OpenSSL waits on. The timer is
 * timeout_header, so a client that connects and says nothing (or drips a
 * ClientHello) holds a descriptor and a few hundred bytes for that long
 * only. A client that speaks plain HTTP to a TLS port gets a short plain
 * answer that says so, instead of a reset it cannot explain.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "portier/handshake.h"
#include "portier/addr.h"
#include "portier/config.h"
#include "portier/listener.h"
#include "portier/log.h"
#include "portier/metrics.h"
#include "portier/runtime.h"
#include "portier/session.h"
#include "portier/tls.h"

/* One handshake under way. */
struct handshake {
	LIST_ENTRY(handshake) entry;
	struct listener *listener; /* reference held */
	struct event *ev;
	SSL *ssl;
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} peer;
	socklen_t salen;
	struct timeval deadline; /* end of the time allowed */
	int64_t started_ms;      /* unix time in ms of the accept */
	size_t nfirst;
	char first[16]; /* the client's first bytes */
	int fd;
};

static _Thread_local LIST_HEAD(, handshake)
    handshake_list = LIST_HEAD_INITIALIZER(handshake_list);
static _Thread_local size_t handshake_live;

static void handshake_step(struct handshake *h);
static void handshake_cb(evutil_socket_t fd, short what, void *arg);
static void handshake_failed(struct handshake *h, int r);
static void handshake_free(struct handshake *h, bool close_fd);
static bool handshake_plain_http(const struct handshake *h);

void handshake_start(struct listener *l, int fd, const struct sockaddr *sa,
                     socklen_t salen)
{
	struct handshake *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		close(fd);
		listener_session_closed(l);
		return;
	}
	h->listener = listener_ref(l);
	h->fd = fd;
	h->salen = salen < sizeof(h->peer) ? salen : sizeof(h->peer);
	memcpy(&h->peer, sa, h->salen);
	LIST_INSERT_HEAD(&handshake_list, h, entry);
	handshake_live++;
	{
		struct timeval now;

		event_base_gettimeofday_cached(
		    runtime_base(listener_runtime(l)), &now);
		h->started_ms = (int64_t)now.tv_sec * 1000 + now.tv_usec / 1000;
	}
	h->ssl = tls_server_accept(listener_tls(l), fd);
	h->ev = event_new(runtime_base(listener_runtime(l)), fd, 0,
	                  handshake_cb, h);
	if (h->ssl == NULL || h->ev == NULL) {
		log_warn("listener %s: cannot start a TLS handshake: out of "
		         "memory",
		         listener_config(l)->name);
		handshake_free(h, true);
		return;
	}
	runtime_sweep_start(listener_runtime(l));
	/* The ClientHello often came with the connection: try now. */
	handshake_step(h);
}

size_t handshake_count(void)
{
	return handshake_live;
}

size_t handshake_describe(struct metrics_conn *out, size_t max, size_t *total)
{
	struct handshake *h;
	size_t n = 0;

	*total += handshake_live;
	for (h = LIST_FIRST(&handshake_list); h != NULL && n < max;
	     h = LIST_NEXT(h, entry)) {
		struct metrics_conn *c = &out[n++];

		memset(c, 0, sizeof(*c));
		addr_format_sa(&h->peer.sa, h->salen, c->client,
		               sizeof(c->client));
		snprintf(c->listener, sizeof(c->listener), "%s",
		         listener_config(h->listener)->name);
		c->state = "handshake";
		c->started_ms = h->started_ms;
	}
	return n;
}

void handshake_close_all(void)
{
	while (!LIST_EMPTY(&handshake_list))
		handshake_free(LIST_FIRST(&handshake_list), true);
}

/* Go on with the handshake; when it is done, hand the connection over. */
static void handshake_step(struct handshake *h)
{
	const struct config_global *g =
	    runtime_global(listener_runtime(h->listener));
	struct timeval tv = {g->timeout_header_ms / 1000,
	                     (g->timeout_header_ms % 1000) * 1000};
	short want;
	int r;

	if (h->nfirst < sizeof(h->first))
		tls_capture_first(h->first, sizeof(h->first), &h->nfirst);
	r = tls_handshake(h->ssl);
	tls_capture_first(NULL, 0, NULL);

	if (r == 1) {
		struct listener *l = h->listener;
		SSL *ssl = h->ssl;

		h->ssl = NULL;
		metrics_add(&listener_metrics(l)->tls_ok, 1);
		session_begin(l, h->fd, ssl, &h->peer.sa, h->salen);
		handshake_free(h, false);
		return;
	}
	switch (SSL_get_error(h->ssl, r)) {
	case SSL_ERROR_WANT_READ:
		want = EV_READ;
		break;
	case SSL_ERROR_WANT_WRITE:
		want = EV_WRITE;
		break;
	default:
		handshake_failed(h, r);
		return;
	}
	/* The deadline runs from the accept, whatever the round trips. */
	if (g->timeout_header_ms) {
		struct timeval now;

		event_base_gettimeofday_cached(event_get_base(h->ev), &now);
		if (!timerisset(&h->deadline))
			timeradd(&now, &tv, &h->deadline);
		timersub(&h->deadline, &now, &tv);
		if (tv.tv_sec < 0)
			tv.tv_sec = tv.tv_usec = 0;
	}
	event_del(h->ev);
	event_assign(h->ev, event_get_base(h->ev), h->fd, want, handshake_cb,
	             h);
	if (event_add(h->ev, g->timeout_header_ms ? &tv : NULL) < 0) {
		log_warn("listener %s: cannot watch a TLS handshake",
		         listener_config(h->listener)->name);
		handshake_free(h, true);
	}
}

/* Readiness, or the end of the time allowed. */
static void handshake_cb(evutil_socket_t fd, short what, void *arg)
{
	struct handshake *h = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		metrics_add(&listener_metrics(h->listener)->tls_failed, 1);
		if (log_enabled(LOG_LEVEL_INFO)) {
			char client[ADDR_STRLEN];

			addr_format_sa(&h->peer.sa, h->salen, client,
			               sizeof(client));
			log_info("client=%s listener=%s: TLS handshake timed "
			         "out after %u ms",
			         client, listener_config(h->listener)->name,
			         runtime_global(listener_runtime(h->listener))
			             ->timeout_header_ms);
		}
		handshake_free(h, true);
		return;
	}
	handshake_step(h);
}

/* The handshake failed: log why (a client that left without a word only
 * at debug level), answer plain HTTP with a hint, and close. */
static void handshake_failed(struct handshake *h, int r)
{
	static const char hint[] =
	    "HTTP/1.1 400 Bad Request\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Content-Length: 62\r\n"
	    "Connection: close\r\n"
	    "\r\n"
	    "This port speaks HTTPS: use https:// in front of the address.\n";
	int err = SSL_get_error(h->ssl, r);
	unsigned long e = ERR_peek_last_error();
	enum log_level level = LOG_LEVEL_INFO;
	char client[ADDR_STRLEN], why[256];
	const char *refusal;

	metrics_add(&listener_metrics(h->listener)->tls_failed, 1);
	if ((ERR_GET_LIB(e) == ERR_LIB_SSL &&
	     ERR_GET_REASON(e) == SSL_R_HTTP_REQUEST) ||
	    handshake_plain_http(h)) {
		/* Best effort: the socket has room for a few bytes. */
		ssize_t w = send(h->fd, hint, sizeof(hint) - 1, MSG_NOSIGNAL);

		(void)w;
		snprintf(why, sizeof(why), "the client spoke plain HTTP");
		ERR_clear_error();
	} else if ((err == SSL_ERROR_SYSCALL || err == SSL_ERROR_ZERO_RETURN) &&
	           e == 0) {
		/* Closed or reset before the handshake ended: port scans
		 * and browsers' unused preconnections do that all day. With
		 * SSL_OP_IGNORE_UNEXPECTED_EOF a close is ZERO_RETURN. */
		level = LOG_LEVEL_DEBUG;
		snprintf(why, sizeof(why), "%s",
		         err == SSL_ERROR_SYSCALL && errno
		             ? strerror(errno)
		             : "the client closed the connection");
	} else if ((refusal = tls_take_refusal()) != NULL) {
		snprintf(why, sizeof(why), "%s", refusal);
		ERR_clear_error();
	} else {
		tls_error_reason(why, sizeof(why));
	}
	if (log_enabled(level)) {
		addr_format_sa(&h->peer.sa, h->salen, client, sizeof(client));
		log_msg(level, "client=%s listener=%s: TLS handshake failed: %s",
		        client, listener_config(h->listener)->name, why);
	}
	handshake_free(h, true);
}

/* True when the client's first bytes are an HTTP request line's start: a
 * method in capitals and a space. OpenSSL knows GET, POST, HEAD and PUT
 * only; OPTIONS, DELETE or PATCH deserve the same hint. (A TLS record
 * starts with a byte below 0x20.) */
static bool handshake_plain_http(const struct handshake *h)
{
	size_t i = 0;

	while (i < h->nfirst && h->first[i] >= 'A' && h->first[i] <= 'Z')
		i++;
	return i >= 3 && i < h->nfirst && h->first[i] == ' ';
}

/* Free a handshake; close_fd: it ends here, the connection with it. */
static void handshake_free(struct handshake *h, bool close_fd)
{
	struct listener *l = h->listener;

	if (close_fd)
		close(h->fd);
	if (h->ev != NULL)
		event_free(h->ev);
	SSL_free(h->ssl);
	LIST_REMOVE(h, entry);
	handshake_live--;
	free(h);
	if (close_fd)
		listener_session_closed(l);
	listener_unref(l);
}
