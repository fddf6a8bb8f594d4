/* SPDX-License-Identifier: MIT */
/*
 * Sessions: one client connection each.
 *
 * A session connects its listener's backend (each address of a localhost
 * backend in turn), writes the PROXY header if asked, then hands both
 * bufferevents to the relay. Every way a session ends, a refused backend,
 * a timeout, an error or a clean close, goes through session_close, which
 * alone frees it.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "portier/session.h"
#include "portier/addr.h"
#include "portier/config.h"
#include "portier/listener.h"
#include "portier/log.h"
#include "portier/proxyproto.h"
#include "portier/relay.h"
#include "portier/runtime.h"
#include "portier/upstream.h"

/* Where a session is in its life. */
enum session_state {
	SESSION_CONNECTING,
	SESSION_RELAYING,
};

/* One client connection. */
struct session {
	LIST_ENTRY(session) entry;
	struct listener *listener;   /* reference held */
	struct upstream *upstream;   /* the backend, owned by the listener */
	struct bufferevent *client;  /* owned; closes the fd on free */
	struct bufferevent *backend; /* owned; NULL until connecting */
	struct relay relay;
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} peer; /* client address, for logs */
	struct timeval started;
	uint8_t state;
	uint8_t attempt;  /* index of the backend address being tried */
	uint8_t ntargets; /* addresses the backend has */
};

static LIST_HEAD(, session) session_list = LIST_HEAD_INITIALIZER(session_list);
static size_t session_live;

static void session_connect(struct session *s);
static void session_connected(struct session *s);
static void session_connect_failed(struct session *s, int err, bool timeout);
static void session_connect_cb(struct bufferevent *bev, short what,
			       void *arg);
static void session_relay_done_cb(struct relay *relay, enum relay_end why,
				  void *arg);
static void session_close(struct session *s);
static void session_log(const struct session *s, enum log_level level,
			const char *fmt, ...) __attribute__((format(printf, 3, 4)));

void session_start(struct listener *l, int fd, const struct sockaddr *sa,
		   socklen_t salen)
{
	struct runtime *rt = listener_runtime(l);
	struct session *s;

	s = calloc(1, sizeof(*s));
	if (s == NULL) {
		close(fd);
		listener_session_closed(l);
		return;
	}
	s->listener = listener_ref(l);
	s->upstream = listener_upstream(l);
	memcpy(&s->peer, sa,
	       salen < sizeof(s->peer) ? (size_t)salen : sizeof(s->peer));
	event_base_gettimeofday_cached(runtime_base(rt), &s->started);
	LIST_INSERT_HEAD(&session_list, s, entry);
	session_live++;

	s->client = bufferevent_socket_new(runtime_base(rt), fd,
					   BEV_OPT_CLOSE_ON_FREE);
	if (s->client == NULL) {
		close(fd);
		session_log(s, LOG_LEVEL_WARN, "out of memory");
		session_close(s);
		return;
	}
	/* The client is not read until the backend answers: the kernel
	 * holds what it sends meanwhile. */
	bufferevent_disable(s->client, EV_READ | EV_WRITE);
	s->ntargets = 0;
	session_connect(s);
}

size_t session_count(void)
{
	return session_live;
}

void session_close_all(void)
{
	while (!LIST_EMPTY(&session_list)) {
		struct session *s = LIST_FIRST(&session_list);

		session_log(s, LOG_LEVEL_INFO,
			    "closed: still open at the end of the drain");
		session_close(s);
	}
}

/* Connect the backend address number s->attempt. */
static void session_connect(struct session *s)
{
	const struct config_global *g =
		runtime_global(listener_runtime(s->listener));
	const struct config_listener *cfg = listener_config(s->listener);
	struct upstream_target targets[2];
	struct timeval tv = {g->timeout_connect_ms / 1000,
			     (g->timeout_connect_ms % 1000) * 1000};
	bool connected;
	int fd;

	s->state = SESSION_CONNECTING;
	s->ntargets = (uint8_t)upstream_targets(s->upstream, targets);
	fd = upstream_connect(&targets[s->attempt], &connected);
	if (fd < 0) {
		session_connect_failed(s, errno, false);
		return;
	}
	s->backend = bufferevent_socket_new(
		bufferevent_get_base(s->client), fd, BEV_OPT_CLOSE_ON_FREE);
	if (s->backend == NULL) {
		close(fd);
		session_connect_failed(s, ENOMEM, false);
		return;
	}
	if (cfg->proxy_protocol != CONFIG_PROXY_OFF) {
		uint8_t hdr[PROXYPROTO_MAX];
		struct sockaddr_storage local;
		socklen_t len = sizeof(local);
		int n;

		if (getsockname(bufferevent_getfd(s->client),
				(struct sockaddr *)&local, &len) < 0)
			memset(&local, 0, sizeof(local));
		n = proxyproto_build(cfg->proxy_protocol == CONFIG_PROXY_V1 ? 1
									    : 2,
				     &s->peer.sa, (struct sockaddr *)&local,
				     hdr, sizeof(hdr));
		if (n > 0)
			bufferevent_write(s->backend, hdr, (size_t)n);
	}
	if (connected) {
		session_connected(s);
		return;
	}
	bufferevent_setcb(s->backend, NULL, NULL, session_connect_cb, s);
	bufferevent_set_timeouts(s->backend, NULL, &tv);
	if (bufferevent_socket_connect(s->backend, NULL, 0) < 0)
		session_connect_failed(s, errno, false);
}

/* The backend accepted: remember which address answered and relay. */
static void session_connected(struct session *s)
{
	const struct config_global *g =
		runtime_global(listener_runtime(s->listener));
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);

	if (getsockname(bufferevent_getfd(s->backend),
			(struct sockaddr *)&local, &len) == 0)
		upstream_answered(s->upstream, local.ss_family);
	s->state = SESSION_RELAYING;
	session_log(s, LOG_LEVEL_DEBUG, "connected");
	relay_start(&s->relay, s->client, s->backend, g->timeout_idle_ms,
		    session_relay_done_cb, s);
}

/* Connecting failed: try the next address of a localhost backend, else
 * give up and close the client. */
static void session_connect_failed(struct session *s, int err, bool timeout)
{
	struct upstream_target targets[2];
	char target[ADDR_STRLEN];
	const struct config_global *g =
		runtime_global(listener_runtime(s->listener));

	upstream_targets(s->upstream, targets);
	addr_format_sa(&targets[s->attempt].u.sa, targets[s->attempt].len,
		       target, sizeof(target));
	if (s->backend != NULL) {
		bufferevent_free(s->backend);
		s->backend = NULL;
	}
	if (s->attempt + 1 < s->ntargets &&
	    (timeout || upstream_retryable(err))) {
		session_log(s, LOG_LEVEL_DEBUG,
			    "connect to %s failed: %s; trying the next address",
			    target, timeout ? "timed out" : strerror(err));
		s->attempt++;
		session_connect(s);
		return;
	}
	if (timeout)
		session_log(s, LOG_LEVEL_WARN,
			    "connect to %s timed out after %u ms; closing the "
			    "client connection",
			    target, g->timeout_connect_ms);
	else
		session_log(s, LOG_LEVEL_WARN,
			    "connect to %s failed: %s; closing the client "
			    "connection",
			    target, strerror(err));
	session_close(s);
}

/* The backend connect finished, failed or timed out. */
static void session_connect_cb(struct bufferevent *bev, short what, void *arg)
{
	struct session *s = arg;

	if (what & BEV_EVENT_CONNECTED) {
		session_connected(s);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		session_connect_failed(s, ETIMEDOUT, true);
		return;
	}
	session_connect_failed(s, EVUTIL_SOCKET_ERROR(), false);
}

/* The relay ended: log how, then close. */
static void session_relay_done_cb(struct relay *relay, enum relay_end why,
				  void *arg)
{
	struct session *s = arg;

	switch (why) {
	case RELAY_END_DONE:
		session_log(s, LOG_LEVEL_DEBUG, "closed");
		break;
	case RELAY_END_IDLE:
		session_log(s, LOG_LEVEL_INFO, "closed: idle for %u ms",
			    relay->idle_ms);
		break;
	case RELAY_END_ERROR:
		session_log(s, relay->error == ECONNRESET || relay->error == EPIPE
				       ? LOG_LEVEL_DEBUG
				       : LOG_LEVEL_INFO,
			    "closed: %s on the %s side", strerror(relay->error),
			    relay->error_side == RELAY_CLIENT ? "client"
							      : "backend");
		break;
	}
	session_close(s);
}

/* The one way a session ends: free both sockets and the session. */
static void session_close(struct session *s)
{
	struct listener *l = s->listener;

	if (s->client != NULL)
		bufferevent_free(s->client);
	if (s->backend != NULL)
		bufferevent_free(s->backend);
	LIST_REMOVE(s, entry);
	session_live--;
	free(s);
	listener_session_closed(l);
	listener_unref(l);
}

/* Log with the session's context: client, listener, backend, bytes. */
static void session_log(const struct session *s, enum log_level level,
			const char *fmt, ...)
{
	char client[ADDR_STRLEN], msg[512];
	va_list ap;

	if (!log_enabled(level))
		return;
	addr_format_sa(&s->peer.sa, sizeof(s->peer), client, sizeof(client));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (s->state == SESSION_RELAYING)
		log_msg(level,
			"client=%s listener=%s backend=%s: %s (%llu bytes in, "
			"%llu out)",
			client, listener_config(s->listener)->name,
			s->upstream->name, msg,
			(unsigned long long)s->relay.nread[RELAY_CLIENT],
			(unsigned long long)s->relay.nread[RELAY_BACKEND]);
	else
		log_msg(level, "client=%s listener=%s backend=%s: %s", client,
			listener_config(s->listener)->name, s->upstream->name,
			msg);
}
