/* SPDX-License-Identifier: MIT */
/*
 * HTTP sessions: one client connection of an http listener each.
 *
 * A session reads a request head, routes it by Host and path, and forwards
 * it rewritten (http_forward.c) to a backend connection (backend.c), then
 * the body exactly as http.c framed it; the response comes back the same
 * way. Requests are handled one after the other: bytes a client pipelines
 * wait until the response before them is complete. A 101 answer to an
 * Upgrade request hands both sockets to the relay. Every way a session
 * ends goes through http_session_close.
 *
 * Sockets are watched edge-triggered for their whole life, as in the relay:
 * the session remembers which one may be read or written, and hs_run moves
 * bytes until nothing can move. Buffers exist only while bytes wait, so an
 * idle keep-alive connection holds none.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "portier/http_session.h"
#include "portier/accesslog.h"
#include "portier/addr.h"
#include "portier/auth.h"
#include "portier/backend.h"
#include "portier/ca_page.h"
#include "portier/config.h"
#include "portier/http.h"
#include "portier/http_error.h"
#include "portier/http_forward.h"
#include "portier/listener.h"
#include "portier/log.h"
#include "portier/metrics.h"
#include "portier/proxyproto.h"
#include "portier/relay.h"
#include "portier/route.h"
#include "portier/runtime.h"
#include "portier/tls.h"
#include "portier/upstream.h"

/* Steps of hs_run in one turn of the loop before others get theirs. */
#define HS_BUDGET 16

/* Most bytes one read takes for a head or a chunked body. */
#define HS_HEAD_READ 16384


/* Client writes of fewer bytes wait for the end of the loop's turn (see
 * hs_flush). */
#define HS_HOLD_MAX 16384

/* How long a closing connection is read (and discarded) after its last
 * response, so that unread request bytes do not turn the close into a
 * reset that destroys the response. */
#define HS_LINGER_MS 2000

/* How much of a 403's body is kept, over several reads, to look for a
 * dev server's host check in (see hs_host_check_hint). */
#define HS_HINT_MAX 4096

/* Where a session is. */
enum hs_state {
	HS_HEAD,     /* reading a request head, or waiting for one */
	HS_EXCHANGE, /* a request and its response are under way */
	HS_FINISH,   /* writing the last response, then closing */
	HS_TUNNEL,   /* upgraded: the relay moves the bytes */
};

/* Where the response of the exchange is. */
enum hs_response {
	HS_RESP_HEAD,
	HS_RESP_BODY,
	HS_RESP_DONE,
};

/* One client connection. */
struct http_session {
	LIST_ENTRY(http_session) entry;
	TAILQ_ENTRY(http_session) flush_entry; /* while flush_queued */
	struct listener *listener; /* reference held */
	struct backend *b;	   /* the exchange's backend connection */
	struct event *cev;	   /* the client socket's event */
	struct relay *relay;	   /* HS_TUNNEL only */
	SSL *ssl;		   /* the client's TLS, or NULL */
	struct evbuffer *cin;	   /* read from the client, not yet used */
	struct evbuffer *cout;	   /* waiting to be written to the client */
	struct evbuffer *bin;	   /* read from the backend, not yet used */
	struct evbuffer *bout;	   /* waiting to be written to the backend */
	char *retry;		   /* the request head, while a reused
				      connection has not answered yet */
	char *hint_body;	   /* the start of a 403's body, while it
				      may show a dev server's host check */
	struct accesslog_entry *log; /* the request's access log entry */
	const struct config_vhost *vhost; /* the request's vhost, or NULL */
	struct upstream *upstream;	  /* the request's backend */
	struct http_chunked req_chunk;
	struct http_chunked resp_chunk;
	/* The trailers of a chunked body being framed anew, each way. */
	struct evbuffer *req_trailers, *resp_trailers;
	uint64_t req_left;  /* request body bytes still to forward */
	uint64_t resp_left; /* response body bytes still to forward */
	uint64_t bytes_in;  /* from the client, this request */
	uint64_t bytes_out; /* to the client, this request */
	uint64_t conn_in;   /* ... the requests before it */
	uint64_t conn_out;
	uint64_t req_start_us; /* when the request's head came (monotonic) */
	int64_t started_ms;    /* when the connection came (unix ms) */
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} peer;
	int cfd;
	char client_ip[INET6_ADDRSTRLEN]; /* for X-Forwarded-For, once */
	uint32_t last_active; /* coarse ms clock of the last byte moved */
	uint32_t head_start;  /* when the current head began to arrive */
	uint32_t parsed_len;  /* cin length the last incomplete parse saw */
	uint32_t parsed_blen; /* same for bin */
	uint32_t requests;    /* requests on this connection */
	uint16_t status;      /* status sent for the current request */
	uint16_t hint_len;    /* bytes in hint_body */
	uint8_t state;
	uint8_t resp_state;
	uint8_t req_body;  /* enum http_body of the request */
	uint8_t resp_body; /* enum http_body of the response */
	uint8_t c_readable, c_writable, c_rdhup, c_eof;
	uint8_t b_readable, b_writable, b_rdhup, b_connected;
	uint8_t head_timer;  /* the header timeout runs */
	uint8_t req_done;    /* the request went out whole */
	uint8_t client_keep; /* the client connection outlives the exchange */
	uint8_t backend_keep;
	uint8_t method_head;
	uint8_t idempotent;  /* the request may be sent twice */
	uint8_t upgrade;     /* the request asks to upgrade */
	uint8_t client_minor;
	uint8_t dechunk;     /* the response goes to an HTTP/1.0 client */
	uint8_t html;	     /* the client reads HTML */
	uint8_t lingering;   /* HS_FINISH: write side shut, reading to EOF */
	uint8_t retries;
	uint8_t fresh;	     /* the next backend connection is a new one */
	uint8_t req_open;    /* a request is under way, not counted yet */
	uint8_t c_watched;   /* cev watches the socket, not just a timer */
	uint8_t c_timed;     /* c_timeout is set */
	uint8_t flush_queued; /* on hs_flush: runs at the end of the turn */
	uint8_t hint_check;  /* the response's body is looked at for a dev
				server's host check */
	uint32_t retry_len;
	struct timeval c_timeout; /* cev's timer, kept for hs_watch */
};

/* Sessions belong to the worker thread that accepted them. */
static _Thread_local LIST_HEAD(, http_session)
    hs_list = LIST_HEAD_INITIALIZER(hs_list);
static _Thread_local size_t hs_live;
/*
 * Writes to clients wait for the end of the event loop's turn
 * (http_session_flush): the responses of one turn then leave within a few
 * microseconds of each other, and a client that waits on many
 * connections (a browser, a load generator) wakes once for several of
 * them rather than once for each. On 64 keep-alive connections this cut
 * the client's CPU time per request by a tenth. Writes to backends are
 * not held: a request is on its way as soon as it is read.
 */
static _Thread_local TAILQ_HEAD(hs_flush_head, http_session) hs_flush;
static _Thread_local bool hs_flushing;
/* A graceful stop: no connection is kept alive after its response. */
static _Thread_local bool hs_stopping;
/* The head being parsed: too big for each session to keep one. */
static _Thread_local struct http_head hs_head;
/* Where a head is read when nothing waits before it, so that a request
 * or response that comes whole in one read is parsed in place, and where
 * its rewritten head is written: the common exchange then sends straight
 * from here and allocates no buffer at all. */
static _Thread_local char hs_scratch[HS_HEAD_READ];
static _Thread_local char hs_out[HTTP_MAX_HEAD + HTTP_FORWARD_EXTRA + 1024];

static void hs_client_cb(evutil_socket_t fd, short what, void *arg);
static void hs_backend_cb(struct backend *b, short what, void *arg);
static void hs_relay_done_cb(struct relay *relay, enum relay_end why,
                             void *arg);
static void hs_run(struct http_session *s);
static int hs_step(struct http_session *s);
static int hs_head_deadline(struct http_session *s);
static int hs_step_head(struct http_session *s);
static int hs_begin(struct http_session *s, const char *buf, size_t n,
                    bool in_cin);
static ssize_t hs_scratch_read(int fd, SSL *ssl, uint8_t *readable,
                               uint8_t rdhup);
static int hs_queue(int fd, SSL *ssl, struct evbuffer **out,
                    uint8_t *writable, const struct iovec *iov, int n,
                    int flags);
static int hs_queue_request_head(struct http_session *s, const char *head,
                                 size_t len);
static ssize_t hs_final_head(struct http_session *s, const char *buf);
static int hs_response_whole(struct http_session *s, size_t head, size_t n);
static int hs_connect(struct http_session *s);
static int hs_proxy_header(struct http_session *s);
static int hs_step_exchange(struct http_session *s);
static int hs_request_body(struct http_session *s);
static int hs_response(struct http_session *s);
static int hs_response_head(struct http_session *s);
static int hs_response_body(struct http_session *s);
static int hs_backend_gone(struct http_session *s, int err);
static int hs_tunnel(struct http_session *s, const char *buf, size_t n);
static int hs_end_exchange(struct http_session *s);
static int hs_step_finish(struct http_session *s);
static int hs_answer(struct http_session *s, int status, bool keep,
                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int hs_answer_fields(struct http_session *s, int status, bool keep,
                            const char *fields, const char *text);
static int hs_answer_page(struct http_session *s, struct http_error_page *page,
                          bool keep);
static int hs_authorized(struct http_session *s, const char *buf,
                         const struct http_head *h);
static int hs_unauthorized(struct http_session *s, bool keep);
static int hs_bad_gateway(struct http_session *s, int status,
                          const char *why);
static int hs_bad_response(struct http_session *s, const char *why);
static bool hs_take_back(struct http_session *s);
static int hs_redirect_https(struct http_session *s, const char *buf,
                             const struct http_head *h, size_t drain);
static bool hs_same_host(const char *sni, const char *host);
static void hs_host_check_hint(struct http_session *s, const char *body,
                               size_t len);
static void hs_host_check_read(struct http_session *s, struct evbuffer *buf,
                               size_t off);
static void hs_host_check_end(struct http_session *s);
static void hs_timeout(struct http_session *s);
static void hs_log_request(struct http_session *s);
static void hs_open_request(struct http_session *s);
static void hs_count_request(struct http_session *s);
static uint64_t hs_now_us(void);
static void hs_reset_request(struct http_session *s);
static bool hs_client_has_input(const struct http_session *s);
static int hs_arm(struct http_session *s, unsigned ms);
static int hs_timer(struct http_session *s, const struct timeval *tv);
static int hs_watch(struct http_session *s);
static ssize_t hs_recv(int fd, SSL *ssl, struct evbuffer **buf, size_t max,
                       uint8_t *readable, uint8_t rdhup);
static int hs_send(int fd, SSL *ssl, struct evbuffer *buf,
                   uint8_t *writable, int flags, size_t *sent);
static int hs_move_chunked(struct http_chunked *c, struct evbuffer *src,
                           struct evbuffer *dst, bool dechunk,
                           struct evbuffer **trailers, const char **error);
static int hs_end_chunked(struct evbuffer *dst, struct evbuffer *trailers);
static void hs_drop_empty(struct evbuffer **buf);
static uint32_t hs_now(const struct http_session *s);
static bool hs_client_turn(struct http_session *s, size_t pending);
static void hs_close(struct http_session *s);
static void hs_cut_short(struct http_session *s);
static void hs_log(const struct http_session *s, enum log_level level,
                   const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void http_session_start(struct listener *l, int fd, SSL *ssl,
                        const struct sockaddr *sa, socklen_t salen)
{
	struct runtime *rt = listener_runtime(l);
	struct http_session *s = calloc(1, sizeof(*s));

	if (s == NULL) {
		SSL_free(ssl);
		close(fd);
		listener_session_closed(l);
		return;
	}
	s->listener = listener_ref(l);
	s->cfd = fd;
	s->ssl = ssl;
	memcpy(&s->peer, sa,
	       salen < sizeof(s->peer) ? (size_t)salen : sizeof(s->peer));
	LIST_INSERT_HEAD(&hs_list, s, entry);
	hs_live++;
	s->c_writable = 1;
	/* Only a timer until the session has to wait for the socket: a
	 * request read whole at once and answered with a close never
	 * costs an epoll registration (hs_watch). */
	s->cev = event_new(runtime_base(rt), -1, EV_PERSIST, hs_client_cb, s);
	s->last_active = hs_now(s);
	s->head_start = s->last_active;
	{
		struct timeval tv;

		event_base_gettimeofday_cached(runtime_base(rt), &tv);
		s->started_ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
	}
	s->head_timer = 1;
	if (s->cev == NULL ||
	    hs_arm(s, runtime_global(rt)->timeout_header_ms) < 0) {
		hs_log(s, LOG_LEVEL_WARN, "cannot watch the client: %s",
		       strerror(errno));
		hs_close(s);
		return;
	}
	/* A client usually sends its request right after connecting, so
	 * it is often there already: read it now rather than after a poll
	 * (an empty socket costs one EAGAIN, and the edge still comes). */
	s->c_readable = 1;
	hs_run(s);
}

size_t http_session_count(void)
{
	return hs_live;
}

size_t http_session_describe(struct metrics_conn *out, size_t max,
                             size_t *total)
{
	struct http_session *s;
	size_t n = 0;

	*total += hs_live;
	for (s = LIST_FIRST(&hs_list); s != NULL && n < max;
	     s = LIST_NEXT(s, entry)) {
		struct metrics_conn *c = &out[n++];

		addr_format_sa(&s->peer.sa, sizeof(s->peer), c->client,
		               sizeof(c->client));
		snprintf(c->listener, sizeof(c->listener), "%s",
		         listener_config(s->listener)->name);
		snprintf(c->vhost, sizeof(c->vhost), "%s",
		         s->vhost != NULL ? s->vhost->name : "");
		snprintf(c->backend, sizeof(c->backend), "%s",
		         s->upstream != NULL ? s->upstream->name : "");
		c->state = s->state == HS_TUNNEL     ? "upgraded"
		           : s->state == HS_EXCHANGE ? "request"
		           : s->state == HS_FINISH   ? "closing"
		           : s->cin != NULL          ? "reading"
		                                     : "idle";
		c->bytes_in = s->conn_in + (s->req_open ? s->bytes_in : 0);
		c->bytes_out = s->conn_out + (s->req_open ? s->bytes_out : 0);
		if (s->relay != NULL) {
			c->bytes_in += s->relay->nread[RELAY_CLIENT];
			c->bytes_out += s->relay->nread[RELAY_BACKEND];
		}
		c->started_ms = s->started_ms;
	}
	return n;
}

void http_session_stop(void)
{
	hs_stopping = true;
	http_session_retire();
}

void http_session_retire(void)
{
	struct http_session *s, *next;

	for (s = LIST_FIRST(&hs_list); s != NULL; s = next) {
		next = LIST_NEXT(s, entry);
		/* Idle between two requests: nothing is lost by closing now
		 * (a response still being written goes out first), and a
		 * client sends a request again when a connection it reused
		 * closes first (RFC 9112, 9.3.1). A connection that has not
		 * sent its first request yet is no such case at a reload:
		 * clients do not send again on a new connection, and the
		 * service goes on (at a stop it closes, or an open browser
		 * tab's spare connection would hold the stop up). Nor is one
		 * whose next request has come but is not read yet. Those,
		 * and the others, close after their response. */
		if (!hs_stopping && !listener_closed(s->listener))
			continue;
		if (s->state != HS_HEAD || s->cin != NULL)
			continue;
		if (s->cout != NULL) {
			s->state = HS_FINISH;
			continue;
		}
		if ((s->requests == 0 && !hs_stopping) ||
		    hs_client_has_input(s))
			continue;
		hs_log(s, LOG_LEVEL_DEBUG, "closed: %s at a %s",
		       s->requests ? "idle between requests"
		                   : "no request sent yet",
		       hs_stopping ? "stop" : "reload");
		if (s->ssl != NULL)
			tls_close_notify(s->ssl);
		hs_close(s);
	}
}

/* True when bytes from the client wait to be read: in the socket, or
 * decrypted or buffered in OpenSSL. */
static bool hs_client_has_input(const struct http_session *s)
{
	char c;

	if (s->ssl != NULL && SSL_has_pending(s->ssl))
		return true;
	return recv(s->cfd, &c, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

void http_session_close_all(void)
{
	while (!LIST_EMPTY(&hs_list)) {
		struct http_session *s = LIST_FIRST(&hs_list);

		hs_log(s, LOG_LEVEL_INFO,
		       "closed: still open at the end of the drain");
		hs_close(s);
	}
	backend_close_idle();
}

/* --- events ------------------------------------------------------------ */

void http_session_flush(void)
{
	struct http_session *s;

	hs_flushing = true;
	while ((s = TAILQ_FIRST(&hs_flush)) != NULL) {
		TAILQ_REMOVE(&hs_flush, s, flush_entry);
		s->flush_queued = 0;
		hs_run(s);
	}
	hs_flushing = false;
}

/* May s write `pending` bytes to its client now? From
 * http_session_flush, or when they are a bulk transfer's: the client is
 * busy reading then, and holding the bytes would only cost memory. Else
 * s waits on hs_flush. */
static bool hs_client_turn(struct http_session *s, size_t pending)
{
	if (hs_flushing || pending >= HS_HOLD_MAX)
		return true;
	if (!s->flush_queued) {
		/* The head starts zeroed: thread-local, it has no static
		 * initializer, and an empty list can be set up anew. */
		if (TAILQ_EMPTY(&hs_flush))
			TAILQ_INIT(&hs_flush);
		TAILQ_INSERT_TAIL(&hs_flush, s, flush_entry);
		s->flush_queued = 1;
	}
	return false;
}

/* The client socket: readiness or a timeout. */
static void hs_client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct http_session *s = arg;

	(void)fd;
	if (s->state == HS_TUNNEL) {
		relay_io(s->relay, RELAY_CLIENT, what);
		return;
	}
	if (what & EV_TIMEOUT) {
		hs_timeout(s);
		return;
	}
	if (what & EV_CLOSED)
		s->c_rdhup = 1;
	if (what & (EV_READ | EV_CLOSED))
		s->c_readable = 1;
	if (what & EV_WRITE)
		s->c_writable = 1;
	hs_run(s);
}

/* The backend socket: the end of the connect, readiness or a timeout. */
static void hs_backend_cb(struct backend *b, short what, void *arg)
{
	struct http_session *s = arg;

	if (s->state == HS_TUNNEL) {
		relay_io(s->relay, RELAY_BACKEND, what);
		return;
	}
	if (what & BACKEND_FAILED) {
		char why[2 * ADDR_STRLEN + 128];

		metrics_backend_result(
		    listener_backend_metrics(s->listener, s->upstream),
		    b->error);
		backend_describe_error(b, why, sizeof(why));
		if (hs_bad_gateway(s, b->error == ETIMEDOUT ? 504 : 502, why) >=
		    0)
			hs_run(s);
		return;
	}
	if (what & EV_TIMEOUT) {
		hs_timeout(s);
		return;
	}
	if (!s->b_connected) {
		const struct config_global *g =
		    runtime_global(listener_runtime(s->listener));
		struct timeval tv = {g->timeout_idle_ms / 1000,
		                     (g->timeout_idle_ms % 1000) * 1000};

		s->b_connected = 1;
		metrics_backend_result(
		    listener_backend_metrics(s->listener, s->upstream), 0);
		if (backend_set_timeout(b, g->timeout_idle_ms ? &tv : NULL) <
		    0) {
			(void)hs_bad_gateway(s, 502, strerror(errno));
			return;
		}
	}
	if (what & EV_CLOSED)
		s->b_rdhup = 1;
	if (what & (EV_READ | EV_CLOSED))
		s->b_readable = 1;
	if (what & EV_WRITE)
		s->b_writable = 1;
	hs_run(s);
}

/* The tunnel of an upgraded connection ended. */
static void hs_relay_done_cb(struct relay *relay, enum relay_end why,
                             void *arg)
{
	struct http_session *s = arg;

	if (why == RELAY_END_IDLE)
		hs_log(s, LOG_LEVEL_INFO, "upgraded connection closed: idle "
		       "for %u ms", relay->idle_ms);
	else if (why == RELAY_END_ERROR)
		hs_log(s, LOG_LEVEL_DEBUG, "upgraded connection closed: %s on "
		       "the %s side", strerror(relay->error),
		       relay->error_side == RELAY_CLIENT ? "client"
		                                         : "backend");
	else
		hs_log(s, LOG_LEVEL_DEBUG, "upgraded connection closed");
	hs_close(s);
}

/* --- the state machine ------------------------------------------------- */

/* Move bytes until nothing can move, or the budget of this turn is
 * spent; then come back on the next turn. */
static void hs_run(struct http_session *s)
{
	for (int round = 0; round < HS_BUDGET; round++) {
		int r = hs_step(s);

		if (r < 0)
			return;
		if (r == 0) {
			/* Waiting: on the client too, unless all the
			 * exchange still needs is the backend's answer,
			 * or the session runs again at the end of the
			 * turn to write (a response answered with a close
			 * then never costs an epoll registration). */
			if (!s->c_watched && !s->flush_queued &&
			    !(s->state == HS_EXCHANGE && s->req_done &&
			      s->cout == NULL) &&
			    hs_watch(s) < 0) {
				hs_log(s, LOG_LEVEL_WARN, "cannot watch the "
				       "client: %s", strerror(errno));
				hs_close(s);
			}
			return;
		}
	}
	event_active(s->cev, 0, 0);
}

/* One step. Returns 1 when something moved, 0 when nothing could, -1
 * when the session was closed or handed to the relay. */
static int hs_step(struct http_session *s)
{
	int moved = 0;

	switch (s->state) {
	case HS_HEAD:
		moved = hs_step_head(s);
		break;
	case HS_EXCHANGE:
		moved = hs_step_exchange(s);
		break;
	case HS_FINISH:
		moved = hs_step_finish(s);
		break;
	default:
		return -1;
	}
	if (moved < 0)
		return -1;
	/* After the step, so that a response head and the body bytes read
	 * with it leave in one send(2). */
	if (s->cout != NULL && s->c_writable &&
	    hs_client_turn(s, evbuffer_get_length(s->cout))) {
		size_t sent = 0;

		/* The last bytes of the connection: the close that follows
		 * sends its FIN in the same segment (see
		 * hs_response_whole). */
		if (hs_send(s->cfd, s->ssl, s->cout, &s->c_writable,
		            s->state == HS_FINISH ? MSG_MORE : 0, &sent) < 0) {
			hs_log(s, LOG_LEVEL_DEBUG, "closed: %s on the client "
			       "side", strerror(errno));
			hs_log_request(s);
			hs_close(s);
			return -1;
		}
		if (sent > 0) {
			moved = 1;
			s->last_active = hs_now(s);
		}
		hs_drop_empty(&s->cout);
	}
	return moved;
}

/*
 * The head of a request must be whole within timeout_header of its first
 * byte: a deadline, not an idle time, so that a client dripping one byte a
 * second cannot hold the connection. The timer is set to what is left
 * each time part of a head arrives (libevent restarts a persistent
 * event's timer whenever the event runs). Returns 0, 1 when the time is
 * up and the 408 is on its way, or -1 when the session ended.
 */
static int hs_head_deadline(struct http_session *s)
{
	unsigned limit =
	    runtime_global(listener_runtime(s->listener))->timeout_header_ms;
	uint32_t now = hs_now(s), spent;
	struct timeval tv;

	if (!s->head_timer) {
		/* The first byte of a request starts its clock. */
		s->head_timer = 1;
		s->head_start = now;
	}
	if (limit == 0)
		return 0;
	spent = now - s->head_start;
	if (spent >= limit)
		return hs_answer(s, 408, false,
		                 "The request head did not arrive within %u "
		                 "ms.",
		                 limit);
	tv.tv_sec = (limit - spent) / 1000;
	tv.tv_usec = ((limit - spent) % 1000) * 1000;
	if (hs_timer(s, &tv) < 0) {
		hs_close(s);
		return -1;
	}
	return 0;
}

/* HS_HEAD: read until a whole request head is there, then start it. */
static int hs_step_head(struct http_session *s)
{
	size_t len = s->cin ? evbuffer_get_length(s->cin) : 0;
	ssize_t n;

	/* Pipelined requests wait while the client has not taken the
	 * answers before them: one that sends and never reads would fill
	 * memory with responses. Nothing is read meanwhile, and idleness
	 * ends the wait, not the next head's clock. */
	if (s->cout != NULL && evbuffer_get_length(s->cout) >= RELAY_HIGH_WATER) {
		if (s->head_timer) {
			s->head_timer = 0;
			if (hs_arm(s, runtime_global(listener_runtime(
			                  s->listener))->timeout_idle_ms) < 0) {
				hs_close(s);
				return -1;
			}
		}
		return 0;
	}

	if (len > 0 && len != s->parsed_len) {
		size_t want = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
		const char *buf =
		    (const char *)evbuffer_pullup(s->cin, (ssize_t)want);

		if (buf == NULL)
			return hs_answer(s, 500, false, "out of memory");
		n = http_parse_request(buf, want, &hs_head);
		if (n > 0)
			return hs_begin(s, buf, (size_t)n, true);
		if (n < 0)
			return hs_answer(s, hs_head.error_status, false, "%s",
			                 hs_head.error);
		s->parsed_len = (uint32_t)len;
		n = hs_head_deadline(s);
		if (n != 0)
			return (int)n;
	}
	if (!s->c_readable || s->c_eof)
		return 0;
	if (len == 0) {
		/* Nothing waits: read into the scratch space, and parse a
		 * whole head where it landed. */
		n = hs_scratch_read(s->cfd, s->ssl, &s->c_readable, s->c_rdhup);
		if (n > 0) {
			ssize_t h = http_parse_request(hs_scratch, (size_t)n,
			                               &hs_head);

			s->last_active = hs_now(s);
			if (h > 0) {
				if (n > h &&
				    ((s->cin == NULL &&
				      (s->cin = evbuffer_new()) == NULL) ||
				     evbuffer_add(s->cin, hs_scratch + h,
				                  (size_t)(n - h)) < 0))
					return hs_answer(s, 500, false,
					                 "out of memory");
				return hs_begin(s, hs_scratch, (size_t)h,
				                false);
			}
			if ((s->cin == NULL &&
			     (s->cin = evbuffer_new()) == NULL) ||
			    evbuffer_add(s->cin, hs_scratch, (size_t)n) < 0)
				return hs_answer(s, 500, false,
				                 "out of memory");
			return 1;
		}
	} else {
		n = hs_recv(s->cfd, s->ssl, &s->cin, HS_HEAD_READ, &s->c_readable,
		            s->c_rdhup);
		if (n > 0) {
			s->last_active = hs_now(s);
			return 1;
		}
	}
	if (n == -1)
		return 0;
	if (n == 0 && len == 0) {
		/* The client is done with the connection. */
		hs_close(s);
		return -1;
	}
	/* A client that goes away is common; one that breaks the TLS
	 * protocol (a renegotiation, a bad record) is worth a line. */
	hs_log(s, n < 0 && errno == EPROTO ? LOG_LEVEL_INFO : LOG_LEVEL_DEBUG,
	       "closed: %s in the middle of a request head",
	       n == 0 ? "the client closed" : tls_strerror(errno));
	hs_close(s);
	return -1;
}

/* A request head of n bytes is at buf: the start of cin when in_cin,
 * else the scratch space (what followed it already in cin). Route it and
 * forward it. */
static int hs_begin(struct http_session *s, const char *buf, size_t n,
                    bool in_cin)
{
	const struct http_head *h = &hs_head;
	const struct config_listener *cl = listener_config(s->listener);
	struct http_forward_request how = {0};
	struct route_match m;
	char host[ADDR_STRLEN];
	ssize_t head_len;
	bool routed;
	/* Since the head's first byte, when its clock ran (a head that came
	 * whole in one read has taken no time). */
	unsigned age = s->head_timer ? hs_now(s) - s->head_start : 0;

	hs_reset_request(s);
	hs_open_request(s);
	s->requests++;
	s->bytes_in = n;
	s->head_timer = 0;
	s->parsed_len = 0;
	s->method_head = h->method_head;
	s->idempotent = h->idempotent;
	s->client_minor = (uint8_t)h->version_minor;
	s->client_keep = h->keep_alive;
	s->upgrade = h->upgrade && !h->upgrade_h2c;
	s->req_body = (uint8_t)h->body;
	s->req_left = h->content_length;
	s->html = 0;
	for (size_t i = 0; i < h->nheaders; i++) {
		const struct http_slice *v = &h->headers[i].value;

		if (h->kind[i] == HTTP_F_OTHER &&
		    http_slice_eq(buf, h->headers[i].name, "accept") &&
		    memmem(buf + v->off, v->len, "text/html", 9) != NULL)
			s->html = 1;
	}
	if (accesslog_enabled())
		s->log = accesslog_begin(buf, h, &s->peer.sa, age);
	if (h->method_connect) {
		if (in_cin)
			evbuffer_drain(s->cin, n);
		return hs_answer(s, 501, false,
		                 "portier does not tunnel CONNECT requests.");
	}
	if ((h->seen & (1u << HTTP_F_EXPECT)) && !h->expect_continue) {
		if (in_cin)
			evbuffer_drain(s->cin, n);
		return hs_answer(s, 417, false,
		                 "The only expectation understood is "
		                 "100-continue.");
	}
	if (cl->redirect_https)
		return hs_redirect_https(s, buf, h, in_cin ? n : 0);
	if (s->ssl != NULL && h->host[0] != '\0' && tls_sni(s->ssl) != NULL &&
	    !hs_same_host(tls_sni(s->ssl), h->host)) {
		if (in_cin)
			evbuffer_drain(s->cin, n);
		return hs_answer(s, 421, h->body == HTTP_BODY_NONE,
		                 "This connection was opened for %s (the TLS "
		                 "server name), not for %s: open a new "
		                 "connection to reach %s.",
		                 tls_sni(s->ssl), h->host, h->host);
	}
	/* Without a Host (HTTP/1.0), the TLS server name says which site
	 * the client meant. */
	routed = route_lookup(listener_routes(s->listener),
	                      h->host[0] == '\0' && s->ssl != NULL &&
	                              tls_sni(s->ssl) != NULL
	                          ? tls_sni(s->ssl)
	                          : h->host,
	                      buf + h->path.off, h->path.len, &m);
	s->vhost = m.vhost;
	if (!routed) {
		size_t nnames;
		const char *const *names =
		    route_names(listener_routes(s->listener), &nnames);
		char list[1024] = "";
		size_t used = 0, i;

		/* Whole names only, and room kept to say how many more. */
		for (i = 0; i < nnames; i++) {
			size_t len = strlen(names[i]) + (i ? 2 : 0);

			if (used + len + 32 > sizeof(list))
				break;
			snprintf(list + used, sizeof(list) - used, "%s%s",
			         i ? ", " : "", names[i]);
			used += len;
		}
		if (i < nnames)
			snprintf(list + used, sizeof(list) - used,
			         "%sand %zu more", i ? ", " : "", nnames - i);
		if (in_cin)
			evbuffer_drain(s->cin, n);
		return hs_answer(
		    s, 404, h->body == HTTP_BODY_NONE,
		    "No site is configured for the host \"%s\" on listener "
		    "%s.\nThis listener serves: %s.",
		    h->host[0] ? h->host : "(none)", cl->name,
		    nnames ? list : "no names, and it has no default backend");
	}
	hs_log(s, LOG_LEVEL_DEBUG, "%.*s %.*s", (int)h->method.len,
	       buf + h->method.off, (int)h->target.len, buf + h->target.off);
	if (m.vhost != NULL && m.vhost->auth.n > 0) {
		if (hs_authorized(s, buf, h) == 0) {
			if (in_cin)
				evbuffer_drain(s->cin, n);
			return hs_unauthorized(s, h->body == HTTP_BODY_NONE);
		}
		how.drop_authorization = true;
	}
	/* Only now: a request refused above names no backend in the logs. */
	s->upstream = m.upstream;
	if (s->client_ip[0] == '\0')
		http_forward_client_ip(&s->peer.sa, s->client_ip,
		                       sizeof(s->client_ip));
	how.client_ip = s->client_ip;
	how.trusted = cl->trusted_proxies.n > 0 &&
	              cidr_match_any(cl->trusted_proxies.blocks,
	                             cl->trusted_proxies.n, &s->peer.sa);
	how.https = s->ssl != NULL;
	how.upgrade = s->upgrade;
	if (m.vhost != NULL && m.vhost->host_header == CONFIG_HOST_NAME) {
		how.host = m.vhost->host_header_name;
	} else if (h->host[0] == '\0' ||
	           (m.vhost != NULL &&
	            m.vhost->host_header == CONFIG_HOST_BACKEND)) {
		/* (An HTTP/1.0 request without Host goes out as HTTP/1.1,
		 * which needs one: the backend's address.) */
		if (m.upstream->addr.kind == ADDR_UNIX)
			snprintf(host, sizeof(host), "localhost");
		else
			snprintf(host, sizeof(host), "%s", m.upstream->name);
		how.host = host;
	}
	head_len = http_forward_request(hs_out, sizeof(hs_out), buf, h, &how);
	if (in_cin)
		evbuffer_drain(s->cin, n);
	hs_drop_empty(&s->cin);
	if (head_len < 0)
		return hs_answer(s, 500, false, "the rewritten request head "
		                 "does not fit");
	switch (s->req_body) {
	case HTTP_BODY_LENGTH:
		s->req_done = s->req_left == 0;
		break;
	case HTTP_BODY_CHUNKED:
		http_chunked_init(&s->req_chunk);
		break;
	default:
		s->req_done = 1;
	}
	s->state = HS_EXCHANGE;
	s->resp_state = HS_RESP_HEAD;
	if (hs_connect(s) < 0)
		return -1;
	if (s->state != HS_EXCHANGE || s->b == NULL)
		return 1; /* answered: no backend */
	return hs_queue_request_head(s, hs_out, (size_t)head_len);
}

/* Send the rewritten request head to the backend, straight away when
 * nothing waits before it, else after what does. */
static int hs_queue_request_head(struct http_session *s, const char *head,
                                 size_t len)
{
	struct iovec iov = {(void *)(uintptr_t)head, len};

	/* A pooled connection may be closed by the backend just as it is
	 * used: keep the head (a small copy), to send it again on a new
	 * connection. Only an idempotent request without a body goes twice:
	 * the backend may have acted on the first one before it closed (RFC
	 * 9112 section 9.3.1). */
	if (s->b->reused && s->idempotent && s->req_body == HTTP_BODY_NONE &&
	    s->retries < 2) {
		s->retry = malloc(len);
		if (s->retry != NULL) {
			memcpy(s->retry, head, len);
			s->retry_len = (uint32_t)len;
		}
	}
	if (!s->b_connected || s->bout != NULL) {
		if (s->bout == NULL && (s->bout = evbuffer_new()) == NULL)
			return hs_answer(s, 500, false, "out of memory");
		if (evbuffer_add(s->bout, head, len) < 0)
			return hs_answer(s, 500, false, "out of memory");
		return 1;
	}
	if (hs_queue(s->b->fd, NULL, &s->bout, &s->b_writable, &iov, 1, 0) <
	    0)
		return hs_backend_gone(s, errno);
	s->last_active = hs_now(s);
	return 1;
}

/* Check the request's credentials against its vhost's auth lines; log a
 * refusal (never the password). Returns 1 when they are good, else 0. */
static int hs_authorized(struct http_session *s, const char *buf,
                         const struct http_head *h)
{
	const char *value = NULL;
	char user[64];
	size_t len = 0;

	for (size_t i = 0; i < h->nheaders; i++) {
		if (h->kind[i] == HTTP_F_AUTHORIZATION) {
			value = buf + h->headers[i].value.off;
			len = h->headers[i].value.len;
			break;
		}
	}
	switch (auth_check(&s->vhost->auth, value, len, user, sizeof(user))) {
	case AUTH_OK:
		return 1;
	case AUTH_MISSING:
		hs_log(s, LOG_LEVEL_DEBUG, "401: no credentials");
		break;
	case AUTH_MALFORMED:
		hs_log(s, LOG_LEVEL_INFO, "401: credentials that are not "
		       "basic authentication");
		break;
	case AUTH_UNKNOWN_USER:
		hs_log(s, LOG_LEVEL_WARN, "401: unknown user \"%s\"", user);
		break;
	case AUTH_WRONG_PASSWORD:
		hs_log(s, LOG_LEVEL_WARN, "401: wrong password for user "
		       "\"%s\"", user);
		break;
	}
	return 0;
}

/* Ask for credentials: 401 with the vhost's name as the realm. */
static int hs_unauthorized(struct http_session *s, bool keep)
{
	char fields[300];

	snprintf(fields, sizeof(fields),
	         "WWW-Authenticate: Basic realm=\"%s\", charset=\"UTF-8\"\r\n",
	         s->vhost->name);
	return hs_answer_fields(s, 401, keep, fields,
	                        "This site asks for a user name and a "
	                        "password.");
}

/* Get a backend connection for the exchange: from the pool, else new. */
static int hs_connect(struct http_session *s)
{
	struct runtime *rt = listener_runtime(s->listener);
	const struct config_global *g = runtime_global(rt);
	char why[2 * ADDR_STRLEN + 128];

	s->b_readable = s->b_rdhup = 0;
	s->b_writable = 1;
	s->b_connected = 0;
	s->b = backend_get(s->upstream, runtime_base(rt),
	                   g->timeout_connect_ms, !s->fresh, hs_backend_cb, s);
	s->fresh = 0;
	if (s->b == NULL)
		return hs_answer(s, 500, false, "out of memory");
	if (s->b->failed) {
		metrics_backend_result(
		    listener_backend_metrics(s->listener, s->upstream),
		    s->b->error);
		backend_describe_error(s->b, why, sizeof(why));
		return hs_bad_gateway(s, 502, why);
	}
	if (s->b->reused) {
		struct timeval tv = {g->timeout_idle_ms / 1000,
		                     (g->timeout_idle_ms % 1000) * 1000};

		s->b_connected = 1;
		if (backend_set_timeout(s->b, g->timeout_idle_ms ? &tv : NULL) <
		    0)
			return hs_bad_gateway(s, 502, strerror(errno));
	} else if (!s->b->connecting) {
		s->b_connected = 1;
		metrics_backend_result(
		    listener_backend_metrics(s->listener, s->upstream), 0);
	}
	if (!s->b->reused &&
	    listener_config(s->listener)->proxy_protocol != CONFIG_PROXY_OFF &&
	    hs_proxy_header(s) < 0)
		return hs_answer(s, 500, false, "cannot build the PROXY header");
	s->b->requests++;
	return 1;
}

/* Put the PROXY header in front of the first request on a new backend
 * connection. */
static int hs_proxy_header(struct http_session *s)
{
	const struct config_listener *cl = listener_config(s->listener);
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	uint8_t hdr[PROXYPROTO_MAX];
	int n;

	if (getsockname(s->cfd, (struct sockaddr *)&local, &len) < 0)
		memset(&local, 0, sizeof(local));
	n = proxyproto_build(cl->proxy_protocol == CONFIG_PROXY_V1 ? 1 : 2,
	                     &s->peer.sa, (struct sockaddr *)&local, hdr,
	                     sizeof(hdr));
	if (n < 0 || (s->bout == NULL && (s->bout = evbuffer_new()) == NULL))
		return -1;
	return evbuffer_prepend(s->bout, hdr, (size_t)n);
}

/* HS_EXCHANGE: the request body out, the response back. */
static int hs_step_exchange(struct http_session *s)
{
	int moved = 0, r;

	if (!s->req_done) {
		r = hs_request_body(s);
		if (r < 0)
			return -1;
		moved |= r;
	}
	if (s->b == NULL || s->b->connecting)
		return moved;
	if (s->bout != NULL && s->b_writable) {
		size_t sent = 0;

		if (hs_send(s->b->fd, NULL, s->bout, &s->b_writable, 0,
		            &sent) < 0)
			return hs_backend_gone(s, errno);
		moved |= sent > 0;
		if (sent > 0)
			s->last_active = hs_now(s);
		hs_drop_empty(&s->bout);
	}
	r = hs_response(s);
	if (r < 0)
		return -1;
	moved |= r;
	if (s->resp_state == HS_RESP_DONE && !s->req_done) {
		/* The backend answered before the request body ended (a
		 * 413, say): the rest of the body goes nowhere, and the
		 * connection closes after the response. */
		s->req_done = 1;
		s->backend_keep = 0;
		s->client_keep = 0;
		if (s->bout != NULL) {
			evbuffer_free(s->bout);
			s->bout = NULL;
		}
	}
	if (s->resp_state == HS_RESP_DONE && s->req_done && s->bout == NULL)
		return hs_end_exchange(s);
	return moved;
}

/* Forward what the client sent of the request body. */
static int hs_request_body(struct http_session *s)
{
	const char *error = NULL;
	size_t have = s->cin ? evbuffer_get_length(s->cin) : 0;
	size_t queued = s->bout ? evbuffer_get_length(s->bout) : 0;
	ssize_t n;

	if (s->bout == NULL && (s->bout = evbuffer_new()) == NULL)
		return hs_answer(s, 500, false, "out of memory");
	if (have > 0) {
		if (s->req_body == HTTP_BODY_LENGTH) {
			size_t m = have < s->req_left ? have : (size_t)s->req_left;

			evbuffer_remove_buffer(s->cin, s->bout, m);
			s->req_left -= m;
			s->bytes_in += m;
			s->req_done = s->req_left == 0;
		} else {
			int r = hs_move_chunked(&s->req_chunk, s->cin, s->bout,
			                        false, &s->req_trailers,
			                        &error);
			if (r < 0) {
				if (s->resp_state == HS_RESP_HEAD)
					return hs_answer(
					    s, 400, false,
					    "Bad chunked request body: %s.",
					    error);
				hs_log(s, LOG_LEVEL_INFO, "closed: bad chunked "
				       "request body: %s", error);
				hs_close(s);
				return -1;
			}
			s->bytes_in += have - evbuffer_get_length(s->cin);
			s->req_done = s->req_chunk.done;
		}
		hs_drop_empty(&s->cin);
		return 1;
	}
	if (!s->c_readable || s->c_eof || queued >= RELAY_HIGH_WATER)
		return 0;
	if (s->req_body == HTTP_BODY_LENGTH) {
		size_t max = s->req_left < RELAY_MAX_READ ? (size_t)s->req_left
		                                          : RELAY_MAX_READ;

		n = hs_recv(s->cfd, s->ssl, &s->bout, max, &s->c_readable, s->c_rdhup);
		if (n > 0) {
			s->req_left -= (uint64_t)n;
			s->bytes_in += (uint64_t)n;
			s->req_done = s->req_left == 0;
		}
	} else {
		n = hs_recv(s->cfd, s->ssl, &s->cin, HS_HEAD_READ, &s->c_readable,
		            s->c_rdhup);
	}
	if (n > 0) {
		s->last_active = hs_now(s);
		return 1;
	}
	if (n == -1)
		return 0;
	hs_log(s, LOG_LEVEL_INFO, "closed: %s before the request body ended",
	       n == 0 ? "the client closed" : tls_strerror(errno));
	hs_log_request(s);
	hs_close(s);
	return -1;
}

/* Read and forward the response. */
static int hs_response(struct http_session *s)
{
	int r = 0;

	if (s->resp_state == HS_RESP_HEAD) {
		r = hs_response_head(s);
		/* The body bytes that came with the head go out with it. */
		if (r <= 0 || s->resp_state != HS_RESP_BODY)
			return r;
	}
	if (s->resp_state == HS_RESP_BODY) {
		int b = hs_response_body(s);

		return b < 0 ? -1 : (r | b);
	}
	return r;
}

/* Wait for the response head (after any 1xx) and forward it. */
static int hs_response_head(struct http_session *s)
{
	size_t len = s->bin ? evbuffer_get_length(s->bin) : 0;
	struct http_forward_response how = {0};
	const struct http_head *h = &hs_head;
	ssize_t n, out;

	if (len == 0 && s->b_readable) {
		/* Nothing waits: the common response, head and body in one
		 * read, goes out from where it landed. */
		n = hs_scratch_read(s->b->fd, NULL, &s->b_readable, s->b_rdhup);
		if (n == -1)
			return 0;
		if (n <= 0)
			return hs_backend_gone(s, n == 0 ? 0 : errno);
		s->last_active = hs_now(s);
		out = http_parse_response(hs_scratch, (size_t)n,
		                          s->method_head, &hs_head);
		if (out > 0 && h->status >= 200 &&
		    (h->body == HTTP_BODY_NONE || h->body == HTTP_BODY_LENGTH))
			return hs_response_whole(s, (size_t)out, (size_t)n);
		/* Anything else takes the general way, from bin. */
		if ((s->bin == NULL && (s->bin = evbuffer_new()) == NULL) ||
		    evbuffer_add(s->bin, hs_scratch, (size_t)n) < 0)
			return hs_answer(s, 500, false, "out of memory");
		len = (size_t)n;
	}
	if (len > 0 && len != s->parsed_blen) {
		size_t want = len < HTTP_MAX_HEAD ? len : HTTP_MAX_HEAD;
		const char *buf =
		    (const char *)evbuffer_pullup(s->bin, (ssize_t)want);

		if (buf == NULL)
			return hs_answer(s, 500, false, "out of memory");
		n = http_parse_response(buf, want, s->method_head, &hs_head);
		if (n < 0) {
			char why[160];

			snprintf(why, sizeof(why), "a malformed head (%s)",
			         h->error);
			return hs_bad_response(s, why);
		}
		if (n == 0) {
			s->parsed_blen = (uint32_t)len;
		} else if (h->status == 101) {
			if (!s->upgrade)
				return hs_bad_gateway(
				    s, 502, "the backend switched protocols "
				            "without being asked to");
			return hs_tunnel(s, buf, (size_t)n);
		} else {
			/* 100 Continue and friends go to clients that know
			 * them (not HTTP/1.0); then the final response. */
			bool interim = h->status < 200;

			if (interim && s->client_minor == 0)
				out = 0;
			else if (interim)
				out = http_forward_response(
				    hs_out, sizeof(hs_out), buf, h, &how);
			else
				out = hs_final_head(s, buf);
			/* The body bytes that came with a final head. */
			if (!interim)
				hs_host_check_hint(s, buf + n, want - (size_t)n);
			if (out < 0 ||
			    (s->cout == NULL &&
			     (s->cout = evbuffer_new()) == NULL) ||
			    evbuffer_add(s->cout, hs_out, (size_t)out) < 0)
				return hs_answer(s, 500, false, "out of memory");
			s->bytes_out += (uint64_t)out;
			evbuffer_drain(s->bin, (size_t)n);
			s->parsed_blen = 0;
			return 1;
		}
	}
	if (!s->b_readable)
		return 0;
	if (len >= HTTP_MAX_HEAD)
		return hs_bad_response(s, "a head too large to forward");
	n = hs_recv(s->b->fd, NULL, &s->bin, HS_HEAD_READ, &s->b_readable,
	            s->b_rdhup);
	if (n > 0) {
		s->last_active = hs_now(s);
		return 1;
	}
	if (n == -1)
		return 0;
	return hs_backend_gone(s, n == 0 ? 0 : errno);
}

/*
 * The final response head just parsed from buf (hs_head): take its
 * framing, decide whether both connections live on, and write it
 * rewritten into hs_out. Returns its length, or -1.
 */
static ssize_t hs_final_head(struct http_session *s, const char *buf)
{
	const struct http_head *h = &hs_head;
	struct http_forward_response how = {0};

	free(s->retry);
	s->retry = NULL;
	s->status = (uint16_t)h->status;
	s->resp_body = (uint8_t)h->body;
	s->resp_left = h->content_length;
	s->backend_keep = h->keep_alive;
	s->dechunk = h->body == HTTP_BODY_CHUNKED && s->client_minor == 0;
	/* A response that arrives before the request body is whole, or
	 * whose end only a close can tell, ends the client connection
	 * too. */
	if (!s->req_done || h->body == HTTP_BODY_EOF || s->dechunk)
		s->client_keep = 0;
	how.close = !s->client_keep;
	how.keep_alive_10 = s->client_keep && s->client_minor == 0;
	how.dechunk = s->dechunk;
	if (h->body == HTTP_BODY_CHUNKED)
		http_chunked_init(&s->resp_chunk);
	s->resp_state = h->body == HTTP_BODY_NONE ||
	                        (h->body == HTTP_BODY_LENGTH &&
	                         h->content_length == 0)
	                    ? HS_RESP_DONE
	                    : HS_RESP_BODY;
	/* A dev server's host check says so in its 403's body, which is
	 * looked at as it goes by, in whatever reads it comes. */
	s->hint_check = h->status == 403 && s->resp_state == HS_RESP_BODY &&
	                s->upstream != NULL && !s->upstream->hinted;
	return http_forward_response(hs_out, sizeof(hs_out), buf, h, &how);
}

/* A final response without a body or with a Content-Length came, its head
 * of `head` bytes whole, in one read of n bytes into the scratch space:
 * send its rewritten head and the body bytes it brought at once. */
static int hs_response_whole(struct http_session *s, size_t head, size_t n)
{
	uint8_t later = 0; /* "not writable" while the turn runs */
	struct iovec iov[2];
	size_t body = n - head;
	ssize_t out = hs_final_head(s, hs_scratch);

	if (out < 0)
		return hs_answer(s, 500, false, "out of memory");
	if (s->resp_body != HTTP_BODY_LENGTH)
		body = 0;
	else if (body > s->resp_left)
		body = (size_t)s->resp_left;
	s->resp_left -= body;
	if (s->resp_body == HTTP_BODY_LENGTH && s->resp_left == 0)
		s->resp_state = HS_RESP_DONE;
	hs_host_check_hint(s, hs_scratch + head, body);
	/* Bytes after the response: the backend broke its own framing, so
	 * its connection is not used again. */
	if (head + body < n)
		s->backend_keep = 0;
	iov[0].iov_base = hs_out;
	iov[0].iov_len = (size_t)out;
	iov[1].iov_base = hs_scratch + head;
	iov[1].iov_len = body;
	s->bytes_out += (uint64_t)out + body;
	/* The last bytes of a connection: held back (MSG_MORE) for the close
	 * that follows at once to send its FIN (and TLS its close_notify) in
	 * the same segment. */
	if (hs_queue(s->cfd, s->ssl, &s->cout,
	             hs_client_turn(s, (size_t)out + body) ? &s->c_writable
	                                                   : &later,
	             iov,
	             body > 0 ? 2 : 1,
	             s->resp_state == HS_RESP_DONE && !s->client_keep
	                 ? MSG_MORE
	                 : 0) < 0) {
		hs_log(s, LOG_LEVEL_DEBUG, "closed: %s on the client side",
		       strerror(errno));
		hs_log_request(s);
		hs_close(s);
		return -1;
	}
	return 1;
}

/* Forward the response body as its head framed it. */
static int hs_response_body(struct http_session *s)
{
	size_t have = s->bin ? evbuffer_get_length(s->bin) : 0;
	size_t queued = s->cout ? evbuffer_get_length(s->cout) : 0;
	const char *error = NULL;
	ssize_t n;

	if (s->cout == NULL && (s->cout = evbuffer_new()) == NULL) {
		hs_close(s);
		return -1;
	}
	if (have > 0) {
		s->bytes_out -= evbuffer_get_length(s->cout);
		if (s->resp_body == HTTP_BODY_CHUNKED) {
			if (hs_move_chunked(&s->resp_chunk, s->bin, s->cout,
			                    s->dechunk, &s->resp_trailers,
			                    &error) < 0) {
				char why[160];

				snprintf(why, sizeof(why), "a bad chunked body "
				         "(%s)", error);
				/* With the chunks moved before the bad one. */
				s->bytes_out += evbuffer_get_length(s->cout);
				/* None of it left yet: the client can still
				 * be told. */
				if (hs_take_back(s))
					return hs_bad_response(s, why);
				hs_log(s, LOG_LEVEL_WARN, "closed: the backend "
				       "sent %s", why);
				hs_log_request(s);
				hs_cut_short(s);
				return -1;
			}
			if (s->resp_chunk.done)
				s->resp_state = HS_RESP_DONE;
		} else {
			size_t m = have;

			if (s->resp_body == HTTP_BODY_LENGTH &&
			    m > s->resp_left)
				m = (size_t)s->resp_left;
			evbuffer_remove_buffer(s->bin, s->cout, m);
			s->resp_left -= m;
			if (s->resp_body == HTTP_BODY_LENGTH &&
			    s->resp_left == 0)
				s->resp_state = HS_RESP_DONE;
		}
		s->bytes_out += evbuffer_get_length(s->cout);
		hs_drop_empty(&s->bin);
		return 1;
	}
	if (!s->b_readable || queued >= RELAY_HIGH_WATER)
		return 0;
	if (s->resp_body == HTTP_BODY_CHUNKED) {
		n = hs_recv(s->b->fd, NULL, &s->bin, RELAY_MAX_READ, &s->b_readable,
		            s->b_rdhup);
		if (n > 0)
			hs_host_check_read(s, s->bin, have);
	} else {
		size_t max = RELAY_MAX_READ;

		if (s->resp_body == HTTP_BODY_LENGTH && s->resp_left < max)
			max = (size_t)s->resp_left;
		n = hs_recv(s->b->fd, NULL, &s->cout, max, &s->b_readable,
		            s->b_rdhup);
		if (n > 0) {
			s->resp_left -= (uint64_t)n;
			s->bytes_out += (uint64_t)n;
			if (s->resp_body == HTTP_BODY_LENGTH &&
			    s->resp_left == 0)
				s->resp_state = HS_RESP_DONE;
			hs_host_check_read(s, s->cout, queued);
		}
	}
	if (n > 0) {
		s->last_active = hs_now(s);
		return 1;
	}
	if (n == -1)
		return 0;
	if (n == 0 && s->resp_body == HTTP_BODY_EOF) {
		s->resp_state = HS_RESP_DONE;
		s->backend_keep = 0;
		return 1;
	}
	hs_log(s, LOG_LEVEL_WARN, "closed: the backend %s in the middle of "
	       "the response body", n == 0 ? "closed the connection"
	                                    : strerror(errno));
	hs_log_request(s);
	hs_cut_short(s);
	return -1;
}

/* Close a client connection whose exchange failed. When its response was
 * under way and the client reads that body until the close (a body that
 * was chunked, to an HTTP/1.0 client; a body the backend delimited by its
 * close), a FIN would make the part it got look whole: it gets a reset
 * instead (RFC 9112 section 8). Content-Length and chunked bodies show the
 * cut by themselves. */
static void hs_cut_short(struct http_session *s)
{
	if (s->resp_state == HS_RESP_BODY &&
	    (s->dechunk || s->resp_body == HTTP_BODY_EOF)) {
		struct linger abort_close = {1, 0};

		(void)setsockopt(s->cfd, SOL_SOCKET, SO_LINGER, &abort_close,
		                 sizeof(abort_close));
	}
	hs_close(s);
}

/* The backend closed or failed (err 0: a clean close) before its response
 * head: send the request again on a new connection when it went out on a
 * reused one, else answer 502. */
static int hs_backend_gone(struct http_session *s, int err)
{
	char why[160];

	if (s->resp_state != HS_RESP_HEAD) {
		hs_log(s, LOG_LEVEL_WARN, "closed: %s on the backend side",
		       err ? strerror(err) : "the backend closed");
		hs_log_request(s);
		hs_cut_short(s);
		return -1;
	}
	if (s->retry != NULL && (s->bin == NULL ||
	                         evbuffer_get_length(s->bin) == 0)) {
		int r = -1;

		s->retries++;
		hs_log(s, LOG_LEVEL_DEBUG, "a reused backend connection "
		       "closed; sending the request again on a new one");
		backend_close(s->b);
		s->b = NULL;
		if (s->bout != NULL)
			evbuffer_free(s->bout);
		s->bout = evbuffer_new();
		if (s->bout != NULL)
			r = evbuffer_add(s->bout, s->retry, s->retry_len);
		free(s->retry);
		s->retry = NULL;
		if (r < 0)
			return hs_answer(s, 500, false, "out of memory");
		s->b_readable = s->b_rdhup = 0;
		/* Its pooled siblings likely went the same way: a new one. */
		s->fresh = 1;
		return hs_connect(s);
	}
	snprintf(why, sizeof(why), "the backend %s without answering",
	         err ? strerror(err) : "closed the connection");
	return hs_bad_gateway(s, 502, why);
}

/* A 101 answer to an upgrade: forward it, and relay from now on. Bytes
 * the backend sent after its 101 go to the client; bytes the client sent
 * before it are dropped, never tunnelled. */
static int hs_tunnel(struct http_session *s, const char *buf, size_t n)
{
	const struct config_global *g =
	    runtime_global(listener_runtime(s->listener));
	struct http_forward_response how = {.upgrade = true};
	short client_ready = 0, backend_ready = 0;

	ssize_t out;

	s->status = 101;
	out = http_forward_response(hs_out, sizeof(hs_out), buf, &hs_head,
	                            &how);
	if (s->cout == NULL && (s->cout = evbuffer_new()) == NULL)
		return hs_answer(s, 500, false, "out of memory");
	s->bytes_out -= evbuffer_get_length(s->cout);
	if (out < 0 || evbuffer_add(s->cout, hs_out, (size_t)out) < 0)
		return hs_answer(s, 500, false, "out of memory");
	evbuffer_drain(s->bin, n);
	evbuffer_add_buffer(s->cout, s->bin);
	s->bytes_out += evbuffer_get_length(s->cout);
	hs_drop_empty(&s->bin);
	if (s->cin != NULL) {
		evbuffer_free(s->cin);
		s->cin = NULL;
	}
	/* And what the socket holds: the 101 has not left yet, so it all
	 * came before it, whether portier had read it or not. */
	s->c_readable = 1;
	for (int i = 0; s->c_readable; i++) {
		ssize_t r = hs_scratch_read(s->cfd, s->ssl, &s->c_readable,
		                            s->c_rdhup);

		if (r == -1)
			break;
		if (r <= 0 || i == HS_BUDGET) {
			hs_log(s, LOG_LEVEL_DEBUG, "closed: the client %s "
			       "before the 101", r == 0 ? "closed" :
			       r < 0 ? strerror(errno) : "kept sending");
			hs_close(s);
			return -1;
		}
	}
	free(s->retry);
	s->retry = NULL;
	if (hs_watch(s) < 0) {
		hs_log(s, LOG_LEVEL_WARN, "cannot watch the client: %s",
		       strerror(errno));
		hs_close(s);
		return -1;
	}
	s->relay = calloc(1, sizeof(*s->relay));
	if (s->relay == NULL)
		return hs_answer(s, 500, false, "out of memory");
	if (s->c_readable)
		client_ready |= EV_READ;
	if (s->c_rdhup)
		client_ready |= EV_CLOSED;
	if (s->b_readable)
		backend_ready |= EV_READ;
	if (s->b_rdhup)
		backend_ready |= EV_CLOSED;
	s->state = HS_TUNNEL;
	s->relay->side[RELAY_CLIENT].ssl = s->ssl;
	if (relay_start(s->relay, s->cev, s->b->ev, client_ready,
	                backend_ready, s->cout, s->bout, g->timeout_idle_ms,
	                hs_relay_done_cb, s) < 0) {
		s->cout = s->bout = NULL;
		hs_log(s, LOG_LEVEL_WARN, "cannot relay the upgraded "
		       "connection: %s", strerror(errno));
		hs_close(s);
		return -1;
	}
	s->cout = s->bout = NULL;
	hs_log(s, LOG_LEVEL_DEBUG, "upgraded");
	return -1;
}

/* The response went out whole (to the buffer): give the backend connection
 * back, and wait for the next request or close. */
static int hs_end_exchange(struct http_session *s)
{
	const struct config_global *g =
	    runtime_global(listener_runtime(s->listener));
	bool extra = s->bin != NULL && evbuffer_get_length(s->bin) > 0;

	/* Bytes after the end of the response (a backend that sent more
	 * than its Content-Length said) would be the next client's
	 * response: such a connection is not kept. A read that filled its
	 * buffer did not show whether the socket was empty. */
	if (s->backend_keep && !extra && !s->b_rdhup && s->b_readable)
		extra = backend_has_input(s->b);
	if (s->backend_keep && extra)
		hs_log(s, LOG_LEVEL_WARN, "the backend sent more than its "
		       "response; its connection is closed");
	hs_log_request(s);
	hs_host_check_end(s);
	free(s->retry);
	s->retry = NULL;
	/* A connection that began with one client's PROXY header serves no
	 * other client. */
	if (s->backend_keep && !extra && !s->b_rdhup &&
	    listener_config(s->listener)->proxy_protocol == CONFIG_PROXY_OFF)
		backend_release(s->b);
	else
		backend_close(s->b);
	s->b = NULL;
	hs_drop_empty(&s->bin);
	if (s->bin != NULL) {
		evbuffer_free(s->bin);
		s->bin = NULL;
	}
	/* After a reload the next request is for the new configuration,
	 * on a new connection: its routes and auth may differ. */
	if (!s->client_keep || hs_stopping || listener_closed(s->listener)) {
		s->state = HS_FINISH;
		return 1;
	}
	s->state = HS_HEAD;
	hs_drop_empty(&s->cin);
	if (s->cin != NULL) {
		/* The next request is already here: its clock runs. */
		s->head_timer = 1;
		s->head_start = hs_now(s);
		if (hs_arm(s, g->timeout_header_ms) < 0) {
			hs_close(s);
			return -1;
		}
	} else if (hs_arm(s, g->timeout_idle_ms) < 0) {
		hs_close(s);
		return -1;
	}
	return 1;
}

/* HS_FINISH: once the last response is out, close; when the client may
 * still be sending, shut the write side first and read what comes. */
static int hs_step_finish(struct http_session *s)
{
	char sink[4096];
	ssize_t n;

	if (s->cout != NULL)
		return 0;
	hs_drop_empty(&s->cin);
	if (!s->lingering) {
		if (s->cin == NULL && s->c_readable) {
			/* "May be readable" only: look once, so that an
			 * empty socket is simply closed. */
			n = recv(s->cfd, sink, sizeof(sink), 0);
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
				s->c_readable = 0;
			else if (n <= 0) {
				hs_close(s);
				return -1;
			}
		}
		if (!s->c_readable && s->cin == NULL) {
			if (s->ssl != NULL)
				tls_close_notify(s->ssl);
			hs_close(s);
			return -1;
		}
		if (s->cin != NULL) {
			evbuffer_free(s->cin);
			s->cin = NULL;
		}
		if (s->ssl != NULL)
			tls_close_notify(s->ssl);
		if (shutdown(s->cfd, SHUT_WR) < 0 || hs_arm(s, HS_LINGER_MS) < 0) {
			hs_close(s);
			return -1;
		}
		s->lingering = 1;
	}
	for (int reads = 0; s->c_readable; reads++) {
		if (reads == HS_BUDGET)
			return 1; /* more next step: others get their turn */
		n = recv(s->cfd, sink, sizeof(sink), 0);
		if (n > 0)
			continue;
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			s->c_readable = 0;
			return 0;
		}
		break;
	}
	if (s->c_readable) {
		hs_close(s);
		return -1;
	}
	return 0;
}

/* Answer the current request with an error page of portier's own and
 * log why. `keep`: the connection may go on after it. Returns 1, or -1
 * when the session was closed. */
static int hs_answer(struct http_session *s, int status, bool keep,
                     const char *fmt, ...)
{
	char text[1536];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return hs_answer_fields(s, status, keep, NULL, text);
}

/* hs_answer with more header fields (CRLF-terminated lines, or NULL) and
 * a ready text. */
static int hs_answer_fields(struct http_session *s, int status, bool keep,
                            const char *fields, const char *text)
{
	struct http_error_page page = {0};

	page.status = status;
	page.text = text;
	page.fields = fields;
	if (log_enabled(LOG_LEVEL_INFO)) {
		/* One log line: the page's line breaks become spaces. */
		char line[1536];

		snprintf(line, sizeof(line), "%s", text);
		for (char *c = line; *c != '\0'; c++)
			if (*c == '\n')
				*c = ' ';
		hs_log(s, status >= 500 && status != 501 ? LOG_LEVEL_WARN
		                                         : LOG_LEVEL_INFO,
		       "%d %s: %s", status, http_status_text(status), line);
	}
	return hs_answer_page(s, &page, keep);
}

/* Answer the current request with `page` (status, and text or a body;
 * the rest is filled in here). Returns 1, or -1 when the session was
 * closed. */
static int hs_answer_page(struct http_session *s, struct http_error_page *page,
                          bool keep)
{
	if (s->b != NULL) {
		backend_close(s->b);
		s->b = NULL;
	}
	free(s->retry);
	s->retry = NULL;
	if (s->bout != NULL) {
		evbuffer_free(s->bout);
		s->bout = NULL;
	}
	if (s->bin != NULL) {
		evbuffer_free(s->bin);
		s->bin = NULL;
	}
	if (s->state == HS_EXCHANGE && s->resp_state != HS_RESP_HEAD) {
		/* The response has begun: nothing else can be said. */
		hs_log_request(s);
		hs_close(s);
		return -1;
	}
	if (s->state == HS_HEAD && !s->req_open) {
		/* Refused before a head could be parsed: a request of its
		 * own, with none of the facts of the one before, but with
		 * the bytes it sent. */
		hs_reset_request(s);
		hs_open_request(s);
		s->bytes_in = s->cin ? evbuffer_get_length(s->cin) : 0;
	}
	page->html = s->html;
	page->head_only = s->method_head;
	page->close = !keep || !s->client_keep;
	if (s->cout == NULL && (s->cout = evbuffer_new()) == NULL) {
		hs_close(s);
		return -1;
	}
	s->bytes_out -= evbuffer_get_length(s->cout);
	if (http_error_write(s->cout, page) < 0) {
		hs_close(s);
		return -1;
	}
	s->bytes_out += evbuffer_get_length(s->cout);
	s->status = (uint16_t)page->status;
	if (s->log == NULL && s->state == HS_HEAD && accesslog_enabled())
		s->log = accesslog_begin(NULL, NULL, &s->peer.sa,
		                         s->head_timer
		                             ? hs_now(s) - s->head_start
		                             : 0);
	hs_log_request(s);
	if (page->close) {
		s->state = HS_FINISH;
		return 1;
	}
	s->state = HS_EXCHANGE;
	s->req_done = 1;
	s->resp_state = HS_RESP_DONE;
	s->backend_keep = 0;
	return hs_end_exchange(s) < 0 ? -1 : 1;
}

/* redirect_https: 301 to the same host and path on the https port. A
 * request without Host goes to the address it came to. */
static int hs_redirect_https(struct http_session *s, const char *buf,
                             const struct http_head *h, size_t drain)
{
	const struct config_listener *cl = listener_config(s->listener);
	char host[sizeof(hs_head.host) + 8], port[8] = "";
	char fields[HTTP_MAX_HEAD + 300];
	char text[sizeof(fields) + 40];
	const char *path = buf + h->path.off;
	int path_len = (int)h->path.len;
	struct http_error_page page = {0};
	char *body = NULL;
	int r;

	/* The page that offers the local CA to phones lives here, on plain
	 * HTTP, where a phone can open it before it trusts the CA. */
	if (ca_page_answer(runtime_config(listener_runtime(s->listener)), path,
	                   (size_t)path_len, h->host, cl->redirect_https, &page,
	                   &body)) {
		if (drain > 0)
			evbuffer_drain(s->cin, drain);
		hs_log(s, LOG_LEVEL_DEBUG, "%d: the local CA's page",
		       page.status);
		r = hs_answer_page(s, &page, h->body == HTTP_BODY_NONE);
		free(body);
		return r;
	}
	if (h->host[0] != '\0') {
		snprintf(host, sizeof(host), "%s", h->host);
	} else {
		struct sockaddr_storage local;
		socklen_t len = sizeof(local);
		char *colon;

		if (getsockname(s->cfd, (struct sockaddr *)&local, &len) < 0) {
			if (drain > 0)
				evbuffer_drain(s->cin, drain);
			return hs_answer(s, 400, false, "The request has no "
			                 "Host to redirect to.");
		}
		/* "1.2.3.4:80" or "[::1]:80": drop the port. */
		addr_format_sa((struct sockaddr *)&local, len, host,
		               sizeof(host));
		if ((colon = strrchr(host, ':')) != NULL)
			*colon = '\0';
	}
	if (path_len == 0 || path[0] != '/') {
		path = "/";
		path_len = 1;
	}
	if (cl->redirect_https != 443)
		snprintf(port, sizeof(port), ":%u", cl->redirect_https);
	snprintf(fields, sizeof(fields), "Location: https://%s%s%.*s\r\n", host,
	         port, path_len, path);
	/* The page says where, as the Location field does. */
	snprintf(text, sizeof(text), "This site is served over HTTPS: %.*s",
	         (int)(strlen(fields) - 12), fields + 10);
	if (drain > 0)
		evbuffer_drain(s->cin, drain);
	return hs_answer_fields(s, 301, h->body == HTTP_BODY_NONE, fields,
	                        text);
}

/*
 * The next len bytes of a 403's body came from the backend: when they show
 * that a dev server refused the Host it was sent, say once per backend
 * what to change, since the page the browser shows does not mention the
 * proxy. A body can come in several reads, the words of the check split
 * between two: the first HS_HINT_MAX bytes of it are kept until they are
 * found or the body ends.
 */
static void hs_host_check_hint(struct http_session *s, const char *body,
                               size_t len)
{
	const char *hint;
	size_t take = HS_HINT_MAX - s->hint_len;

	if (!s->hint_check || len == 0)
		return;
	if (s->upstream->hinted) {
		hs_host_check_end(s);
		return;
	}
	hint = http_error_dev_host_check(body, len);
	if (take > len)
		take = len;
	if (hint == NULL &&
	    (s->hint_len > 0 || s->resp_state != HS_RESP_DONE)) {
		if (s->hint_body == NULL &&
		    (s->hint_body = malloc(HS_HINT_MAX)) == NULL) {
			hs_host_check_end(s);
			return;
		}
		memcpy(s->hint_body + s->hint_len, body, take);
		s->hint_len += (uint16_t)take;
		if (s->hint_len > take)
			hint = http_error_dev_host_check(s->hint_body,
			                                 s->hint_len);
	}
	if (hint != NULL) {
		s->upstream->hinted = true;
		hs_log(s, LOG_LEVEL_WARN,
		       "the backend refused the Host it was sent (403): %s; or "
		       "have portier send the backend's own address as Host "
		       "(host_header = backend in the vhost, or portier expose "
		       "--host-header backend)",
		       hint);
	}
	if (hint != NULL || s->resp_state == HS_RESP_DONE ||
	    s->hint_len == HS_HINT_MAX)
		hs_host_check_end(s);
}

/* hs_host_check_hint for the bytes of buf after its first off, just read
 * from the backend. */
static void hs_host_check_read(struct http_session *s, struct evbuffer *buf,
                               size_t off)
{
	char body[HS_HINT_MAX];
	struct evbuffer_ptr at;
	ev_ssize_t n;

	if (!s->hint_check || evbuffer_get_length(buf) <= off ||
	    evbuffer_ptr_set(buf, &at, off, EVBUFFER_PTR_SET) < 0)
		return;
	n = evbuffer_copyout_from(buf, &at, body, sizeof(body));
	if (n > 0)
		hs_host_check_hint(s, body, (size_t)n);
}

/* Stop looking at the response's body for a host check. */
static void hs_host_check_end(struct http_session *s)
{
	free(s->hint_body);
	s->hint_body = NULL;
	s->hint_len = 0;
	s->hint_check = 0;
}

/* True when the SNI name and the Host name the same host (any case, a
 * trailing dot ignored). */
static bool hs_same_host(const char *sni, const char *host)
{
	size_t a = strlen(sni), b = strlen(host);

	if (a > 0 && sni[a - 1] == '.')
		a--;
	if (b > 0 && host[b - 1] == '.')
		b--;
	return a == b && strncasecmp(sni, host, a) == 0;
}

/* The backend cannot give an answer: 502 or 504 with what is known. */
static int hs_bad_gateway(struct http_session *s, int status,
                          const char *why)
{
	char explain[768] = "";

	if (status == 502 && s->upstream != NULL &&
	    strstr(why, strerror(ECONNREFUSED)) != NULL)
		http_error_explain_refused(&s->upstream->addr, explain,
		                           sizeof(explain));
	if (status == 504)
		return hs_answer(s, 504, false,
		                 "The backend %s did not answer in time: %s.",
		                 s->upstream ? s->upstream->name : "?", why);
	return hs_answer(s, status, false, "The backend %s cannot be reached: "
	                 "%s.%s%s", s->upstream ? s->upstream->name : "?", why,
	                 explain[0] ? "\n" : "", explain);
}

/* The backend answered with what cannot be forwarded (its response as
 * `why` says): 502, saying so. */
static int hs_bad_response(struct http_session *s, const char *why)
{
	return hs_answer(s, 502, false, "The backend %s sent a response "
	                 "that cannot be forwarded: %s.",
	                 s->upstream ? s->upstream->name : "?", why);
}

/* The response failed with none of it sent yet (its head and body wait
 * in cout, after what is left of earlier responses): take it back, so
 * that the client gets a 502 rather than a connection closed with
 * nothing. False when some of it has left. */
static bool hs_take_back(struct http_session *s)
{
	size_t queued = s->cout ? evbuffer_get_length(s->cout) : 0;
	struct evbuffer *earlier;

	if (s->bytes_out > queued || (earlier = evbuffer_new()) == NULL)
		return false;
	evbuffer_remove_buffer(s->cout, earlier, queued - s->bytes_out);
	evbuffer_free(s->cout);
	s->cout = earlier;
	hs_drop_empty(&s->cout);
	s->bytes_out = 0;
	s->resp_state = HS_RESP_HEAD;
	return true;
}

/* A timer of the session ran out. */
static void hs_timeout(struct http_session *s)
{
	const struct config_global *g =
	    runtime_global(listener_runtime(s->listener));
	uint32_t now = hs_now(s);

	switch (s->state) {
	case HS_HEAD:
		if (s->head_timer) {
			if (now - s->head_start < g->timeout_header_ms)
				return;
			(void)hs_answer(s, 408, false,
			                "The request head did not arrive within "
			                "%u ms.", g->timeout_header_ms);
			hs_run(s);
			return;
		}
		if (!g->timeout_idle_ms || now - s->last_active < g->timeout_idle_ms)
			return;
		/* Answers left behind are news; an idle connection is not. */
		if (s->cout != NULL && evbuffer_get_length(s->cout) > 0)
			hs_log(s, LOG_LEVEL_INFO, "closed: the client took none "
			       "of the %zu bytes of answers that waited for %u "
			       "ms",
			       evbuffer_get_length(s->cout),
			       g->timeout_idle_ms);
		else
			hs_log(s, LOG_LEVEL_DEBUG, "closed: idle keep-alive "
			       "connection");
		hs_close(s);
		return;
	case HS_EXCHANGE:
		/* A connect under way has its own timeout. */
		if (!g->timeout_idle_ms || !s->b_connected ||
		    now - s->last_active < g->timeout_idle_ms)
			return;
		if (s->resp_state == HS_RESP_HEAD && s->req_done &&
		    s->b != NULL && !s->b->connecting) {
			char why[64];

			snprintf(why, sizeof(why), "no response within %u ms",
			         g->timeout_idle_ms);
			(void)hs_bad_gateway(s, 504, why);
			hs_run(s);
			return;
		}
		hs_log(s, LOG_LEVEL_INFO, "closed: idle for %u ms",
		       g->timeout_idle_ms);
		hs_log_request(s);
		hs_cut_short(s);
		return;
	case HS_FINISH:
		/* The last answer waits for the end of the turn, or for a
		 * client that reads slowly: only idleness ends it before it
		 * is out (a timer of the request, such as timeout_header,
		 * may run out in the same turn as the answer is made). The
		 * linger that follows has a timer of its own. */
		if (!s->lingering &&
		    (s->flush_queued || !g->timeout_idle_ms ||
		     now - s->last_active < g->timeout_idle_ms))
			return;
		if (!s->lingering)
			hs_log(s, LOG_LEVEL_INFO, "closed: the client took "
			       "nothing of the answer for %u ms",
			       g->timeout_idle_ms);
		hs_close(s);
		return;
	default:
		hs_close(s);
	}
}

/* The current request ended: count it and write its access log entry,
 * once. */
static void hs_log_request(struct http_session *s)
{
	if (s->req_open)
		hs_count_request(s);
	if (s->log == NULL)
		return;
	accesslog_end(s->log, s->vhost ? s->vhost->name : NULL,
	              s->upstream ? s->upstream->name : NULL, s->status,
	              s->bytes_in, s->bytes_out);
	s->log = NULL;
}

/* A request begins now: it is counted when it ends. */
static void hs_open_request(struct http_session *s)
{
	s->req_open = 1;
	s->req_start_us = hs_now_us();
}

/* Count the request that ends in its listener's and vhost's counters. */
static void hs_count_request(struct http_session *s)
{
	uint64_t now = hs_now_us();

	s->req_open = 0;
	s->conn_in += s->bytes_in;
	s->conn_out += s->bytes_out;
	hs_log(s, LOG_LEVEL_DEBUG, "%u, %llu bytes in, %llu out, %llu us",
	       s->status, (unsigned long long)s->bytes_in,
	       (unsigned long long)s->bytes_out,
	       (unsigned long long)(now > s->req_start_us
	                                ? now - s->req_start_us
	                                : 0));
	metrics_request(listener_metrics(s->listener),
	                listener_vhost_metrics(s->listener, s->vhost),
	                s->status, s->bytes_in, s->bytes_out,
	                now > s->req_start_us ? now - s->req_start_us : 0);
}

/* Forget the facts of the previous request. */
static void hs_reset_request(struct http_session *s)
{
	hs_log_request(s);
	s->vhost = NULL;
	s->upstream = NULL;
	s->status = 0;
	s->bytes_in = s->bytes_out = 0;
	s->req_done = s->backend_keep = s->dechunk = 0;
	s->resp_state = HS_RESP_HEAD;
	s->parsed_blen = 0;
	s->retries = 0;
}

/* Set the client event's timer to ms (0: none). */
static int hs_arm(struct http_session *s, unsigned ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

	if (ms == 0)
		return hs_timer(s, NULL);
	/* A common timeout keeps the timers of one length in a list,
	 * cheaper than libevent's heap for the thousands of sessions that
	 * share it. */
	return hs_timer(s, event_base_init_common_timeout(
	                       event_get_base(s->cev), &tv));
}

/* Set the client event's timer to tv (NULL: none), and remember it. */
static int hs_timer(struct http_session *s, const struct timeval *tv)
{
	s->c_timed = tv != NULL;
	if (tv != NULL)
		s->c_timeout = *tv;
	return event_add(s->cev, tv);
}

/* Watch the client socket from now on (edge-triggered, as the relay
 * does); the timer stays as it was. An epoll registration reports the
 * socket's state at once, so no edge is missed by registering late. */
static int hs_watch(struct http_session *s)
{
	struct event_base *base = event_get_base(s->cev);

	if (s->c_watched)
		return 0;
	event_del(s->cev);
	event_assign(s->cev, base, s->cfd, RELAY_EVENTS, hs_client_cb, s);
	s->c_watched = 1;
	return event_add(s->cev, s->c_timed ? &s->c_timeout : NULL);
}

/* --- bytes ------------------------------------------------------------- */

/*
 * Read at most max bytes from fd into the end of *buf (made when NULL).
 * Returns the count, 0 at EOF, -1 when nothing is there (and *readable is
 * cleared), -2 on an error (errno set). A short read clears *readable too,
 * unless a FIN is known to wait behind the bytes (rdhup): edge-triggered
 * events do not announce it again.
 */
static ssize_t hs_recv(int fd, SSL *ssl, struct evbuffer **buf, size_t max,
                       uint8_t *readable, uint8_t rdhup)
{
	struct evbuffer_iovec vec[2];
	struct iovec iov[2];
	size_t offered = 0;
	bool drained = false;
	ssize_t n;
	int nvec;

	if (*buf == NULL && (*buf = evbuffer_new()) == NULL) {
		errno = ENOMEM;
		return -2;
	}
	nvec = evbuffer_reserve_space(*buf, (ev_ssize_t)max, vec, 2);
	if (nvec < 1) {
		errno = ENOMEM;
		return -2;
	}
	for (int i = 0; i < nvec; i++) {
		if (offered + vec[i].iov_len > max)
			vec[i].iov_len = max - offered;
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len;
		offered += vec[i].iov_len;
	}
	if (ssl != NULL)
		n = tls_readv(ssl, iov, nvec, &drained);
	else
		do
			n = nvec == 1 ? recv(fd, iov[0].iov_base,
			                     iov[0].iov_len, 0)
			              : readv(fd, iov, nvec);
		while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*readable = 0;
			return -1;
		}
		return -2;
	}
	if (n == 0)
		return 0;
	if (ssl == NULL)
		drained = (size_t)n < offered;
	if (drained && !rdhup)
		*readable = 0;
	{
		size_t left = (size_t)n;
		int used = 0;

		while (left > 0) {
			if (vec[used].iov_len > left)
				vec[used].iov_len = left;
			left -= vec[used++].iov_len;
		}
		evbuffer_commit_space(*buf, vec, used);
	}
	return n;
}

/* Read what fd has into the scratch space. Returns as hs_recv. */
static ssize_t hs_scratch_read(int fd, SSL *ssl, uint8_t *readable,
                               uint8_t rdhup)
{
	struct iovec iov = {hs_scratch, sizeof(hs_scratch)};
	bool drained = false;
	ssize_t n;

	if (ssl != NULL)
		n = tls_readv(ssl, &iov, 1, &drained);
	else
		do
			n = recv(fd, hs_scratch, sizeof(hs_scratch), 0);
		while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*readable = 0;
			return -1;
		}
		return -2;
	}
	if (ssl == NULL)
		drained = (size_t)n < sizeof(hs_scratch);
	if (n > 0 && drained && !rdhup)
		*readable = 0;
	return n;
}

/*
 * Send n pieces to fd now when nothing waits in *out and fd is writable,
 * and keep in *out (made when needed) what it did not take; flags go to
 * send(2) (MSG_MORE also through TLS). Returns 0, or -1 with errno on a
 * socket error or ENOMEM.
 */
static int hs_queue(int fd, SSL *ssl, struct evbuffer **out,
                    uint8_t *writable, const struct iovec *iov, int n,
                    int flags)
{
	size_t sent = 0;
	bool tried = *out == NULL && *writable;

	if (tried) {
		struct msghdr msg = {.msg_iov = (struct iovec *)iov,
		                     .msg_iovlen = (size_t)n};
		ssize_t w;

		if (ssl != NULL)
			w = tls_writev(ssl, iov, n, flags);
		else
			do
				w = n == 1 ? send(fd, iov[0].iov_base,
				                  iov[0].iov_len,
				                  MSG_NOSIGNAL | flags)
				           : sendmsg(fd, &msg,
				                     MSG_NOSIGNAL | flags);
			while (w < 0 && errno == EINTR);
		if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if (w < 0)
			*writable = 0;
		else
			sent = (size_t)w;
	}
	for (int i = 0; i < n; i++) {
		size_t skip = sent < iov[i].iov_len ? sent : iov[i].iov_len;

		sent -= skip;
		if (skip == iov[i].iov_len)
			continue;
		/* A short send filled the socket: the next edge tells when
		 * it has room. (Bytes queued behind others change
		 * nothing.) */
		if (tried)
			*writable = 0;
		if ((*out == NULL && (*out = evbuffer_new()) == NULL) ||
		    evbuffer_add(*out, (const char *)iov[i].iov_base + skip,
		                 iov[i].iov_len - skip) < 0) {
			errno = ENOMEM;
			return -1;
		}
	}
	return 0;
}

/* Write as much of buf as fd takes, with flags (MSG_MORE or 0) on its
 * writes; *sent is how much. Returns 0, or -1 with errno on
 * an error. */
static int hs_send(int fd, SSL *ssl, struct evbuffer *buf,
                   uint8_t *writable, int flags, size_t *sent)
{
	*sent = 0;
	while (evbuffer_get_length(buf) > 0) {
		struct evbuffer_iovec vec[16];
		struct iovec iov[16];
		struct msghdr msg = {.msg_iov = iov};
		size_t offered = 0;
		int n = evbuffer_peek(buf, -1, NULL, vec, 16);
		ssize_t w;

		if (n > 16)
			n = 16;
		for (int i = 0; i < n; i++) {
			iov[i].iov_base = vec[i].iov_base;
			iov[i].iov_len = vec[i].iov_len;
			offered += vec[i].iov_len;
		}
		if (ssl != NULL)
			w = tls_writev(ssl, iov, n, flags);
		else if (n == 1)
			w = send(fd, iov[0].iov_base, iov[0].iov_len,
			         MSG_NOSIGNAL | flags);
		else {
			msg.msg_iovlen = (size_t)n;
			w = sendmsg(fd, &msg, MSG_NOSIGNAL | flags);
		}
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				*writable = 0;
				return 0;
			}
			return -1;
		}
		evbuffer_drain(buf, (size_t)w);
		*sent += (size_t)w;
		if ((size_t)w < offered) {
			*writable = 0;
			return 0;
		}
	}
	return 0;
}

/*
 * Move a chunked body from src to dst as far as it has come, checking its
 * framing. `dechunk`: the data only. Else the body is chunked anew, never
 * forwarded as it came: each piece of data becomes a chunk with a plain
 * size line (no extensions, no leading zeros, no whitespace that the next
 * recipient could read otherwise), and the trailer section, gathered in
 * *trailers, keeps only the fields that may be trailers
 * (hs_end_chunked). Returns 0, or -1 on a framing error.
 */
static int hs_move_chunked(struct http_chunked *c, struct evbuffer *src,
                           struct evbuffer *dst, bool dechunk,
                           struct evbuffer **trailers, const char **error)
{
	while (!c->done && evbuffer_get_length(src) > 0) {
		struct evbuffer_iovec v;
		bool trailing = http_chunked_trailing(c);
		size_t data = 0;
		ssize_t n;

		if (evbuffer_peek(src, -1, NULL, &v, 1) < 1)
			break;
		n = http_chunked_step(c, v.iov_base, v.iov_len, &data, error);
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		if (data > 0) {
			if ((!dechunk &&
			     evbuffer_add_printf(dst, "%zx\r\n", data) < 0) ||
			    evbuffer_remove_buffer(src, dst, data) != (int)data ||
			    (!dechunk && evbuffer_add(dst, "\r\n", 2) < 0))
				goto oom;
			continue;
		}
		if (trailing && !dechunk) {
			if (*trailers == NULL &&
			    (*trailers = evbuffer_new()) == NULL)
				goto oom;
			if (evbuffer_remove_buffer(src, *trailers, (size_t)n) !=
			    (int)n)
				goto oom;
		} else {
			evbuffer_drain(src, (size_t)n);
		}
		if (c->done && !dechunk) {
			int r = hs_end_chunked(dst, *trailers);

			if (*trailers != NULL) {
				evbuffer_free(*trailers);
				*trailers = NULL;
			}
			if (r < 0)
				goto oom;
		}
	}
	return 0;
oom:
	*error = "out of memory";
	return -1;
}

/* The last chunk and the trailer fields that may be trailers: none that
 * frames, routes or authenticates a message (RFC 9110 section 6.5.1),
 * which a recipient that merges trailers into the head would believe. The
 * walk has checked the syntax of every line. */
static int hs_end_chunked(struct evbuffer *dst, struct evbuffer *trailers)
{
	static const char *const banned[] = {
	    "content-length", "transfer-encoding", "host", "connection",
	    "keep-alive", "proxy-connection", "proxy-authorization",
	    "proxy-authenticate", "te", "trailer", "upgrade", "authorization",
	    "www-authenticate", "cookie", "set-cookie", "content-type",
	    "content-encoding", "content-range", "expect", "forwarded",
	    "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"};
	char *line;
	size_t len;

	if (evbuffer_add(dst, "0\r\n", 3) < 0)
		return -1;
	while (trailers != NULL &&
	       (line = evbuffer_readln(trailers, &len,
	                               EVBUFFER_EOL_CRLF_STRICT)) != NULL) {
		const char *colon = memchr(line, ':', len);
		bool keep = colon != NULL;

		for (size_t i = 0; keep && i < sizeof(banned) / sizeof(*banned);
		     i++)
			keep = !((size_t)(colon - line) == strlen(banned[i]) &&
			         strncasecmp(line, banned[i],
			                     (size_t)(colon - line)) == 0);
		if (keep && (evbuffer_add(dst, line, len) < 0 ||
		             evbuffer_add(dst, "\r\n", 2) < 0)) {
			free(line);
			return -1;
		}
		free(line);
	}
	return evbuffer_add(dst, "\r\n", 2);
}

/* Free a buffer that holds nothing. */
static void hs_drop_empty(struct evbuffer **buf)
{
	if (*buf != NULL && evbuffer_get_length(*buf) == 0) {
		evbuffer_free(*buf);
		*buf = NULL;
	}
}

/* A coarse millisecond clock from the loop's cached time. */
static uint32_t hs_now(const struct http_session *s)
{
	struct timeval tv;

	event_base_gettimeofday_cached(
	    runtime_base(listener_runtime(s->listener)), &tv);
	return (uint32_t)((uint64_t)tv.tv_sec * 1000 +
	                  (uint64_t)tv.tv_usec / 1000);
}

/* A monotonic clock in microseconds: the loop's cached time ticks too
 * coarsely for request durations. */
static uint64_t hs_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* The one way a session ends. */
static void hs_close(struct http_session *s)
{
	struct listener *l = s->listener;

	/* An upgraded connection is one request until it closes, however
	 * that comes (the relay's end, the end of a stop's drain): its log
	 * entry and counters have the bytes the relay moved. */
	if (s->relay != NULL) {
		s->bytes_in += s->relay->nread[RELAY_CLIENT];
		s->bytes_out += s->relay->nread[RELAY_BACKEND];
	}
	hs_log_request(s);
	SSL_free(s->ssl);
	close(s->cfd);
	if (s->cev != NULL)
		event_free(s->cev);
	if (s->relay != NULL) {
		relay_free(s->relay);
		free(s->relay);
	}
	backend_close(s->b);
	if (s->cin != NULL)
		evbuffer_free(s->cin);
	if (s->req_trailers != NULL)
		evbuffer_free(s->req_trailers);
	if (s->resp_trailers != NULL)
		evbuffer_free(s->resp_trailers);
	if (s->cout != NULL)
		evbuffer_free(s->cout);
	if (s->bin != NULL)
		evbuffer_free(s->bin);
	if (s->bout != NULL)
		evbuffer_free(s->bout);
	free(s->retry);
	free(s->hint_body);
	if (s->flush_queued)
		TAILQ_REMOVE(&hs_flush, s, flush_entry);
	LIST_REMOVE(s, entry);
	hs_live--;
	free(s);
	listener_session_closed(l);
	listener_unref(l);
}

/* Log with the session's context: client, listener, vhost, backend. */
static void hs_log(const struct http_session *s, enum log_level level,
                   const char *fmt, ...)
{
	char client[ADDR_STRLEN];
	struct log_conn c = {
	    .client = client,
	    .listener = listener_config(s->listener)->name,
	    .vhost = s->vhost ? s->vhost->name : NULL,
	    .backend = s->upstream ? s->upstream->name : NULL,
	};
	va_list ap;

	if (!log_enabled(level))
		return;
	addr_format_sa(&s->peer.sa, sizeof(s->peer), client, sizeof(client));
	va_start(ap, fmt);
	log_vconn(level, &c, fmt, ap);
	va_end(ap);
}
