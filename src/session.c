/* SPDX-License-Identifier: MIT */
/*
 * Sessions: one client connection each.
 *
 * A session connects its listener's backend (each address of a localhost
 * backend in turn), queues the PROXY header if asked, then hands both
 * sockets to the relay. The session owns both sockets; every way it ends,
 * a refused backend, a timeout, an error or a clean close, goes through
 * session_close, which alone closes them and frees it.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/ssl.h>

#include "portier/session.h"
#include "portier/addr.h"
#include "portier/accesslog.h"
#include "portier/clienthello.h"
#include "portier/config.h"
#include "portier/handshake.h"
#include "portier/http_session.h"
#include "portier/listener.h"
#include "portier/log.h"
#include "portier/metrics.h"
#include "portier/proxyproto.h"
#include "portier/relay.h"
#include "portier/route.h"
#include "portier/runtime.h"
#include "portier/udp.h"
#include "portier/upstream.h"

/* TLS alerts sent when a tls-passthrough connection is turned away. */
#define SESSION_ALERT_DECODE_ERROR 50
#define SESSION_ALERT_UNRECOGNIZED_NAME 112

/* Where a session is in its life. */
enum session_state {
	SESSION_NEW,
	SESSION_HELLO, /* tls-passthrough: reading the ClientHello */
	SESSION_CONNECTING,
	SESSION_RELAYING,
};

/* One client connection. */
struct session {
	LIST_ENTRY(session) entry;
	struct listener *listener; /* reference held */
	struct upstream *upstream; /* the backend, owned by the listener */
	struct event *client_ev;   /* owned */
	struct event *backend_ev;  /* owned; created when connecting */
	int client_fd;             /* owned */
	int backend_fd;            /* owned; -1 until connecting */
	struct relay relay;
	struct evbuffer *hello; /* tls-passthrough: the client's first bytes,
	                           sent to the backend first */
	char *sni;              /* tls-passthrough: the name asked for */
	const struct config_vhost *vhost; /* tls-passthrough: its vhost */
	int64_t started_ms;               /* when it began (unix time in ms) */
	const char *end;    /* how it ended, for the access log (static) */
	uint32_t hello_len; /* bytes of the ClientHello read to route */
	uint64_t counted_in, counted_out; /* bytes in the counters already */
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} peer;          /* client address, for logs */
	int first_error; /* why the first of two addresses failed */
	uint8_t state;
	uint8_t client_ready; /* readiness the client reported before the
	                         relay (edges do not come twice) */
	uint8_t attempt;  /* index of the backend address being tried */
	uint8_t ntargets; /* addresses the backend has */
	uint8_t v4_first; /* localhost order, fixed at the first attempt */
};

/* Sessions belong to the worker thread that accepted them. */
static _Thread_local LIST_HEAD(, session)
    session_list = LIST_HEAD_INITIALIZER(session_list);
static _Thread_local size_t session_live;

static void session_read_hello(struct session *s);
static void session_hello_wait(struct session *s);
static void session_hello_timeout(struct session *s);
static void session_route_hello(struct session *s,
                                enum clienthello_result r, const char *name);
static void session_alert(struct session *s, uint8_t alert);
static void session_connect(struct session *s);
static void session_connected(struct session *s, short ready);
static void session_connect_failed(struct session *s, int err, bool timeout);
static void session_io_cb(evutil_socket_t fd, short what, void *arg);
static void session_relay_done_cb(struct relay *relay, enum relay_end why,
                                  void *arg);
static void session_close(struct session *s);
static void session_add_bytes(struct session *s);
static void session_log(const struct session *s, enum log_level level,
                        const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int64_t session_now_ms(struct event_base *base);
static uint64_t session_bytes_in(const struct session *s);
static void session_access_log(const struct session *s, uint64_t in,
                               uint64_t out);

void session_start(struct listener *l, int fd, const struct sockaddr *sa,
                   socklen_t salen)
{
	if (listener_tls(l) != NULL)
		handshake_start(l, fd, sa, salen);
	else
		session_begin(l, fd, NULL, sa, salen);
}

void session_begin(struct listener *l, int fd, SSL *ssl,
                   const struct sockaddr *sa, socklen_t salen)
{
	struct session *s;

	if (listener_config(l)->mode == CONFIG_MODE_HTTP) {
		http_session_start(l, fd, ssl, sa, salen);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		SSL_free(ssl);
		close(fd);
		listener_session_closed(l);
		return;
	}
	s->listener = listener_ref(l);
	s->client_fd = fd;
	s->backend_fd = -1;
	s->started_ms = session_now_ms(runtime_base(listener_runtime(l)));
	memcpy(&s->peer, sa,
	       salen < sizeof(s->peer) ? (size_t)salen : sizeof(s->peer));
	LIST_INSERT_HEAD(&session_list, s, entry);
	session_live++;
	runtime_sweep_start(listener_runtime(l));
	if (ssl != NULL) {
		/* The handshake may have read bytes that OpenSSL holds: no
		 * edge will announce them. */
		s->relay.side[RELAY_CLIENT].ssl = ssl;
		s->client_ready = EV_READ;
	}
	/* The client is watched from the start, so that the poll that tells
	 * of the backend's answer brings its request along; it is not read
	 * until the backend answers, the kernel holds it meanwhile. */
	s->client_ev = event_new(runtime_base(listener_runtime(l)), fd,
	                         RELAY_EVENTS,
	                         session_io_cb, s);
	if (s->client_ev == NULL || event_add(s->client_ev, NULL) < 0) {
		session_log(s, LOG_LEVEL_WARN, "cannot watch the client: %s",
		            strerror(errno));
		session_close(s);
		return;
	}
	if (listener_config(l)->mode == CONFIG_MODE_TLS_PASSTHROUGH) {
		s->state = SESSION_HELLO;
		session_read_hello(s);
		return;
	}
	s->upstream = listener_upstream(l);
	session_connect(s);
}

size_t session_count(void)
{
	return session_live + http_session_count() + handshake_count();
}

size_t session_describe(struct metrics_conn *out, size_t max, size_t *total)
{
	struct session *s;
	size_t n = 0;

	*total = session_live;
	for (s = LIST_FIRST(&session_list); s != NULL && n < max;
	     s = LIST_NEXT(s, entry)) {
		struct metrics_conn *c = &out[n];

		addr_format_sa(&s->peer.sa, sizeof(s->peer), c->client,
		               sizeof(c->client));
		snprintf(c->listener, sizeof(c->listener), "%s",
		         listener_config(s->listener)->name);
		snprintf(c->vhost, sizeof(c->vhost), "%s",
		         s->vhost != NULL ? s->vhost->name
		         : s->sni != NULL ? s->sni
		                          : "");
		snprintf(c->backend, sizeof(c->backend), "%s",
		         s->upstream != NULL ? s->upstream->name : "");
		c->state = s->state == SESSION_RELAYING ? "relaying"
		           : s->state == SESSION_HELLO  ? "hello"
		                                        : "connecting";
		c->bytes_in = session_bytes_in(s);
		c->bytes_out = s->relay.nread[RELAY_BACKEND];
		c->started_ms = s->started_ms;
		n++;
	}
	n += http_session_describe(out + n, max - n, total);
	n += handshake_describe(out + n, max - n, total);
	n += udp_describe(out + n, max - n, total);
	return n;
}

void session_close_all(void)
{
	while (!LIST_EMPTY(&session_list)) {
		struct session *s = LIST_FIRST(&session_list);

		session_log(s, LOG_LEVEL_INFO,
		            "closed: still open at the end of the drain");
		session_close(s);
	}
	http_session_close_all();
	handshake_close_all();
	udp_close_all();
}

/*
 * tls-passthrough: read what the client sent so far and look for the SNI
 * name in it, within CLIENTHELLO_MAX bytes and timeout_header. The bytes
 * stay in s->hello, to be sent to the backend untouched.
 */
static void session_read_hello(struct session *s)
{
	const struct config_global *g =
	    runtime_global(listener_runtime(s->listener));
	char name[CLIENTHELLO_NAME_MAX];
	enum clienthello_result r = CLIENTHELLO_MORE;

	if (s->hello == NULL) {
		struct timeval tv = {g->timeout_header_ms / 1000,
		                     (g->timeout_header_ms % 1000) * 1000};

		s->hello = evbuffer_new();
		if (s->hello == NULL || (g->timeout_header_ms &&
		                         event_add(s->client_ev, &tv) < 0)) {
			session_log(s, LOG_LEVEL_WARN, "out of memory");
			session_close(s);
			return;
		}
	}
	for (;;) {
		size_t have = evbuffer_get_length(s->hello);
		int n = evbuffer_read(s->hello, s->client_fd,
		                      (int)(CLIENTHELLO_MAX - have));

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			session_log(s, LOG_LEVEL_DEBUG,
			            "closed before its ClientHello ended: %s",
			            n == 0 ? "end of stream" : strerror(errno));
			session_close(s);
			return;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			session_hello_wait(s);
			return;
		}
		r = clienthello_parse(evbuffer_pullup(s->hello, -1),
		                      evbuffer_get_length(s->hello), name,
		                      sizeof(name));
		if (r != CLIENTHELLO_MORE)
			break;
	}
	session_route_hello(s, r, name);
}

/* Wait for more of the ClientHello, until timeout_header after the
 * accept: the client event persists, so its timer would start again with
 * every byte and a client sending one byte at a time would never meet it.
 * The time left is set anew after each read. */
static void session_hello_wait(struct session *s)
{
	unsigned ms = runtime_global(listener_runtime(s->listener))
	                  ->timeout_header_ms;
	int64_t left;
	struct timeval tv;

	if (ms == 0)
		return;
	left = s->started_ms + ms -
	       session_now_ms(runtime_base(listener_runtime(s->listener)));
	if (left <= 0) {
		session_hello_timeout(s);
		return;
	}
	tv.tv_sec = (time_t)(left / 1000);
	tv.tv_usec = (suseconds_t)(left % 1000) * 1000;
	if (event_add(s->client_ev, &tv) < 0) {
		session_log(s, LOG_LEVEL_WARN, "cannot watch the client: %s",
		            strerror(errno));
		session_close(s);
	}
}

/* No complete ClientHello within timeout_header. */
static void session_hello_timeout(struct session *s)
{
	session_log(s, LOG_LEVEL_INFO,
	            "closed: no complete TLS ClientHello within %u ms",
	            runtime_global(listener_runtime(s->listener))
	                ->timeout_header_ms);
	s->end = "no ClientHello in time";
	session_close(s);
}

/* The ClientHello is read: pick the backend of the vhost its SNI name
 * routes to (the listener's backend without one), and connect it. */
static void session_route_hello(struct session *s, enum clienthello_result r,
                                const char *name)
{
	const struct route_table *t = listener_routes(s->listener);
	struct route_match m = {0};

	if (r == CLIENTHELLO_OK) {
		s->sni = strdup(name);
		if (s->sni == NULL) {
			session_close(s);
			return;
		}
		(void)route_lookup_name(t, name, &m);
		s->upstream = m.upstream;
		s->vhost = m.vhost;
		if (s->upstream == NULL) {
			session_log(s, LOG_LEVEL_INFO,
			            "closed: no vhost for the TLS server name "
			            "%s and no backend on the listener",
			            name);
			session_alert(s, SESSION_ALERT_UNRECOGNIZED_NAME);
			s->end = "unknown server name";
			session_close(s);
			return;
		}
	} else if (r == CLIENTHELLO_NO_SNI) {
		s->upstream = listener_config(s->listener)->has_backend
		                  ? listener_upstream(s->listener)
		                  : NULL;
		if (s->upstream == NULL) {
			session_log(s, LOG_LEVEL_INFO,
			            "closed: the ClientHello names no server "
			            "(SNI) and the listener has no backend");
			session_alert(s, SESSION_ALERT_UNRECOGNIZED_NAME);
			s->end = "unknown server name";
			session_close(s);
			return;
		}
	} else {
		session_log(s, LOG_LEVEL_INFO, "closed: no TLS ClientHello: %s",
		            clienthello_result_str(r));
		if (r == CLIENTHELLO_MALFORMED || r == CLIENTHELLO_TOO_BIG)
			session_alert(s, SESSION_ALERT_DECODE_ERROR);
		s->end = "no ClientHello";
		session_close(s);
		return;
	}
	/* Bytes may have come after the hello without a new edge: the
	 * relay looks at the client first thing. The header timer ends. */
	s->hello_len = (uint32_t)evbuffer_get_length(s->hello);
	s->client_ready |= EV_READ;
	if (event_add(s->client_ev, NULL) < 0) {
		session_close(s);
		return;
	}
	session_connect(s);
}

/* Tell a TLS client why it is turned away with a fatal alert, as a TLS
 * server would, so that it reports the reason rather than a reset. Best
 * effort: the socket has room for seven bytes. */
static void session_alert(struct session *s, uint8_t alert)
{
	const uint8_t record[7] = {21, 3, 3, 0, 2, 2, alert};
	ssize_t n = send(s->client_fd, record, sizeof(record), MSG_NOSIGNAL);

	(void)n;
}

/* Connect the backend address number s->attempt. */
static void session_connect(struct session *s)
{
	struct runtime *rt = listener_runtime(s->listener);
	const struct config_global *g = runtime_global(rt);
	struct upstream_target targets[2];
	struct timeval tv = {g->timeout_connect_ms / 1000,
	                     (g->timeout_connect_ms % 1000) * 1000};
	bool connected;

	if (s->state != SESSION_CONNECTING) {
		s->state = SESSION_CONNECTING;
		s->v4_first = upstream_prefers_v4(s->upstream);
	}
	s->ntargets =
	    (uint8_t)upstream_targets(s->upstream, s->v4_first, targets);
	s->backend_fd = upstream_connect(&targets[s->attempt], &connected);
	if (s->backend_fd < 0) {
		session_connect_failed(s, errno, false);
		return;
	}
	/* One edge-triggered event watches the backend for its whole life:
	 * first for the end of the connect, then for the relay. */
	s->backend_ev = event_new(runtime_base(rt), s->backend_fd, RELAY_EVENTS,
	                          session_io_cb, s);
	if (s->backend_ev == NULL) {
		session_connect_failed(s, ENOMEM, false);
		return;
	}
	if (connected) {
		session_connected(s, EV_WRITE);
		return;
	}
	if (event_add(s->backend_ev, &tv) < 0)
		session_connect_failed(s, ENOMEM, false);
}

/* The backend accepted (`ready`: the readiness seen on it): remember which
 * address answered and relay. */
static void session_connected(struct session *s, short ready)
{
	struct runtime *rt = listener_runtime(s->listener);
	const struct config_listener *cfg = listener_config(s->listener);
	struct evbuffer *prefix = NULL;
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);

	if (s->ntargets > 1 &&
	    getsockname(s->backend_fd, (struct sockaddr *)&local, &len) == 0)
		upstream_answered(s->upstream, local.ss_family);
	metrics_backend_result(
	    listener_backend_metrics(s->listener, s->upstream), 0);
	if (cfg->proxy_protocol != CONFIG_PROXY_OFF) {
		uint8_t hdr[PROXYPROTO_MAX];
		int n;

		len = sizeof(local);
		if (getsockname(s->client_fd, (struct sockaddr *)&local, &len) <
		    0)
			memset(&local, 0, sizeof(local));
		n = proxyproto_build(
		    cfg->proxy_protocol == CONFIG_PROXY_V1 ? 1 : 2, &s->peer.sa,
		    (struct sockaddr *)&local, hdr, sizeof(hdr));
		prefix = evbuffer_new();
		if (n < 0 || prefix == NULL ||
		    evbuffer_add(prefix, hdr, (size_t)n) < 0) {
			if (prefix != NULL)
				evbuffer_free(prefix);
			session_log(s, LOG_LEVEL_WARN,
			            "cannot build the PROXY header");
			session_close(s);
			return;
		}
	}
	if (s->hello != NULL) {
		/* The ClientHello read to route the connection goes first. */
		if (prefix == NULL) {
			prefix = s->hello;
		} else if (evbuffer_add_buffer(prefix, s->hello) < 0) {
			evbuffer_free(prefix);
			session_log(s, LOG_LEVEL_WARN, "out of memory");
			session_close(s);
			return;
		}
		if (prefix != s->hello)
			evbuffer_free(s->hello);
		s->hello = NULL;
	}
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		struct upstream_target targets[2];
		char target[ADDR_STRLEN];

		upstream_targets(s->upstream, s->v4_first, targets);
		addr_format_sa(&targets[s->attempt].u.sa,
		               targets[s->attempt].len, target, sizeof(target));
		session_log(s, LOG_LEVEL_DEBUG, "connected to %s", target);
	}
	s->state = SESSION_RELAYING;
	if (relay_start(&s->relay, s->client_ev, s->backend_ev,
	                s->client_ready, ready, NULL, prefix,
	                runtime_global(rt)->timeout_idle_ms,
	                session_relay_done_cb, s) < 0) {
		session_log(s, LOG_LEVEL_WARN, "cannot watch the sockets: %s",
		            strerror(errno));
		session_close(s);
	}
}

/* Connecting failed: try the next address of a localhost backend, else
 * give up and close the client. */
static void session_connect_failed(struct session *s, int err, bool timeout)
{
	const struct config_global *g =
	    runtime_global(listener_runtime(s->listener));
	struct upstream_target targets[2];
	char target[ADDR_STRLEN], first[ADDR_STRLEN], why[128];

	upstream_targets(s->upstream, s->v4_first, targets);
	addr_format_sa(&targets[s->attempt].u.sa, targets[s->attempt].len,
	               target, sizeof(target));
	if (s->backend_ev != NULL) {
		event_free(s->backend_ev);
		s->backend_ev = NULL;
	}
	if (s->backend_fd >= 0) {
		close(s->backend_fd);
		s->backend_fd = -1;
	}
	if (timeout)
		snprintf(why, sizeof(why), "timed out after %u ms",
		         g->timeout_connect_ms);
	else if (err == EMFILE || err == ENFILE)
		snprintf(why, sizeof(why),
		         "%s (raise the open-file limit or lower "
		         "max_connections)",
		         strerror(err));
	else
		snprintf(why, sizeof(why), "%s", strerror(err));
	if (s->attempt + 1 < s->ntargets &&
	    (timeout || upstream_retryable(err))) {
		session_log(s, LOG_LEVEL_DEBUG,
		            "connect to %s failed: %s; trying the next address",
		            target, why);
		s->first_error = timeout ? ETIMEDOUT : err;
		s->attempt++;
		session_connect(s);
		return;
	}
	metrics_backend_result(
	    listener_backend_metrics(s->listener, s->upstream),
	    timeout ? ETIMEDOUT : err);
	if (s->attempt == 0) {
		session_log(s, LOG_LEVEL_WARN,
		            "connect to %s failed: %s; closing the client "
		            "connection",
		            target, why);
	} else {
		/* Both loopback families failed: name each, so that a
		 * service on the wrong one is easy to spot. */
		addr_format_sa(&targets[0].u.sa, targets[0].len, first,
		               sizeof(first));
		session_log(s, LOG_LEVEL_WARN,
		            "connect to %s failed: %s: %s, %s: %s; closing the "
		            "client connection",
		            s->upstream->name, first,
		            s->first_error == ETIMEDOUT
		                ? "timed out"
		                : strerror(s->first_error),
		            target, why);
	}
	session_close(s);
}

/* Readiness or a timeout on either socket: the end of the backend connect,
 * or work for the relay. */
static void session_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct session *s = arg;
	socklen_t len = sizeof(int);
	int err = 0;

	if (s->state == SESSION_RELAYING) {
		relay_io(&s->relay,
		         fd == s->client_fd ? RELAY_CLIENT : RELAY_BACKEND,
		         what);
		return;
	}
	if (s->state == SESSION_HELLO) {
		if (what & EV_TIMEOUT) {
			session_hello_timeout(s);
			return;
		}
		/* A FIN that came with the hello's last bytes has its one
		 * edge here: the relay reads the bytes after the hello, and
		 * without EV_CLOSED would wait for another edge. */
		s->client_ready |= (uint8_t)(what & EV_CLOSED);
		session_read_hello(s);
		return;
	}
	if (fd == s->client_fd) {
		s->client_ready |= (uint8_t)what;
		return;
	}
	if (what & EV_TIMEOUT) {
		session_connect_failed(s, ETIMEDOUT, true);
		return;
	}
	/* Writable alone means connected; an error also raises EPOLLERR,
	 * which libevent reports as EV_READ too. Only then is SO_ERROR
	 * worth a system call. */
	if ((what & EV_READ) &&
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	if (err != 0) {
		session_connect_failed(s, err, false);
		return;
	}
	if (what & EV_WRITE)
		session_connected(s, what);
}

/* The relay ended: log how, then close. */
static void session_relay_done_cb(struct relay *relay, enum relay_end why,
                                  void *arg)
{
	struct session *s = arg;

	switch (why) {
	case RELAY_END_DONE:
		s->end = "done";
		session_log(s, LOG_LEVEL_DEBUG, "closed");
		break;
	case RELAY_END_IDLE:
		s->end = "idle";
		session_log(s, LOG_LEVEL_INFO, "closed: idle for %u ms",
		            relay->idle_ms);
		break;
	case RELAY_END_ERROR:
		s->end = relay->error_side == RELAY_CLIENT ? "client error"
		                                           : "backend error";
		session_log(s,
		            relay->error == ECONNRESET || relay->error == EPIPE
		                ? LOG_LEVEL_DEBUG
		                : LOG_LEVEL_INFO,
		            "closed: %s on the %s side", strerror(relay->error),
		            relay->error_side == RELAY_CLIENT ? "client"
		                                              : "backend");
		/* A reset goes on as a reset: a FIN would tell the other
		 * side that what it got is the whole of it. */
		if (relay->error == ECONNRESET) {
			int fd = relay->error_side == RELAY_CLIENT
			             ? s->backend_fd
			             : s->client_fd;
			struct linger abort = {.l_onoff = 1, .l_linger = 0};

			if (fd >= 0)
				(void)setsockopt(fd, SOL_SOCKET, SO_LINGER,
				                 &abort, sizeof(abort));
		}
		break;
	}
	session_close(s);
}

/* The one way a session ends: stop its events, close both sockets and
 * free it. */
static void session_close(struct session *s)
{
	struct listener *l = s->listener;
	uint64_t in = session_bytes_in(s);
	uint64_t out = s->relay.nread[RELAY_BACKEND];

	session_add_bytes(s);
	if (accesslog_enabled())
		session_access_log(s, in, out);

	/* close(2) first: it drops the sockets from epoll, and the
	 * EPOLL_CTL_DEL that event_free then issues fails at once with
	 * EBADF (which libevent expects) instead of searching the set. */
	close(s->client_fd);
	if (s->backend_fd >= 0)
		close(s->backend_fd);
	if (s->client_ev != NULL)
		event_free(s->client_ev);
	if (s->backend_ev != NULL)
		event_free(s->backend_ev);
	relay_free(&s->relay);
	SSL_free(s->relay.side[RELAY_CLIENT].ssl);
	if (s->hello != NULL)
		evbuffer_free(s->hello);
	free(s->sni);
	LIST_REMOVE(s, entry);
	session_live--;
	free(s);
	listener_session_closed(l);
	listener_unref(l);
}

/* The access log line of a connection that ends. */
static void session_access_log(const struct session *s, uint64_t in,
                               uint64_t out)
{
	char client[ADDR_STRLEN];
	const struct config_listener *cl = listener_config(s->listener);
	struct log_conn c = {
	    .client = client,
	    .listener = cl->name,
	    .sni = s->sni,
	    .backend = s->state >= SESSION_CONNECTING && s->upstream
	                   ? s->upstream->name
	                   : NULL,
	};
	const char *end = s->end;
	int64_t now = session_now_ms(runtime_base(listener_runtime(s->listener)));

	if (end == NULL)
		end = s->state == SESSION_RELAYING     ? "closed"
		      : s->state == SESSION_CONNECTING ? "no backend connection"
		      : s->state == SESSION_HELLO      ? "closed in the ClientHello"
		                                       : "refused";
	addr_format_sa(&s->peer.sa, sizeof(s->peer), client, sizeof(client));
	accesslog_stream(cl->mode == CONFIG_MODE_TLS_PASSTHROUGH ? "TLS"
	                                                         : "TCP",
	                 &c, in, out,
	                 now > s->started_ms ? (uint64_t)(now - s->started_ms)
	                                     : 0,
	                 end);
}

/* Add to the counters of the listener (and vhost) what s moved since the
 * last call: a connection held for days shows its traffic as it goes,
 * not all at its end. */
static void session_add_bytes(struct session *s)
{
	struct listener *l = s->listener;
	struct metrics_listener *m = listener_metrics(l);
	uint64_t in = session_bytes_in(s) - s->counted_in;
	uint64_t out = s->relay.nread[RELAY_BACKEND] - s->counted_out;

	if (in == 0 && out == 0)
		return;
	metrics_add(&m->bytes_in, in);
	metrics_add(&m->bytes_out, out);
	if (listener_routes(l) != NULL) {
		struct metrics_vhost *v = listener_vhost_metrics(l, s->vhost);

		metrics_add(&v->bytes_in, in);
		metrics_add(&v->bytes_out, out);
	}
	s->counted_in += in;
	s->counted_out += out;
}

bool session_count_bytes(void)
{
	struct session *s;

	/* A passthrough session still reading its ClientHello has no
	 * vhost yet: its bytes wait for the one it routes to. */
	LIST_FOREACH(s, &session_list, entry)
		if (s->state != SESSION_HELLO)
			session_add_bytes(s);
	return !LIST_EMPTY(&session_list);
}

/* Bytes read from the client: the ClientHello read to route, then what
 * the relay read. */
static uint64_t session_bytes_in(const struct session *s)
{
	if (s->hello_len == 0 && s->hello != NULL)
		return evbuffer_get_length(s->hello);
	return s->hello_len + s->relay.nread[RELAY_CLIENT];
}

/* The loop's clock as unix time in ms. */
static int64_t session_now_ms(struct event_base *base)
{
	struct timeval tv;

	event_base_gettimeofday_cached(base, &tv);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* Log with the session's context: client, listener, backend, bytes. */
static void session_log(const struct session *s, enum log_level level,
                        const char *fmt, ...)
{
	char client[ADDR_STRLEN], msg[512];
	struct log_conn c = {
	    .client = client,
	    .listener = listener_config(s->listener)->name,
	    .sni = s->sni,
	    .backend = s->upstream ? s->upstream->name : NULL,
	};
	va_list ap;

	if (!log_enabled(level))
		return;
	addr_format_sa(&s->peer.sa, sizeof(s->peer), client, sizeof(client));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->state == SESSION_RELAYING)
		log_conn(level, &c,
		         "%s (%llu bytes from the client, %llu from the "
		         "backend)",
		         msg, (unsigned long long)session_bytes_in(s),
		         (unsigned long long)s->relay.nread[RELAY_BACKEND]);
	else
		log_conn(level, &c, "%s", msg);
}
