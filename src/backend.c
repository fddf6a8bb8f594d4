/* SPDX-License-Identifier: MIT */
/*
 * HTTP backend connections and their idle pools.
 *
 * Each connection has one edge-triggered event for its whole life, whose
 * argument is the connection itself: handing it from one owner to the pool
 * and on to the next owner changes two pointers, never the epoll set. An
 * idle connection that becomes readable is dead or misbehaving (a backend
 * may close it, and must not send anything unasked), so it is closed.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <event2/event.h>

#include "portier/backend.h"
#include "portier/relay.h"
#include "portier/upstream.h"

/* Idle connections of this thread, for backend_close_idle. */
static _Thread_local LIST_HEAD(, backend)
    backend_idle_all = LIST_HEAD_INITIALIZER(backend_idle_all);

static int backend_connect(struct backend *b, struct event_base *base,
                           unsigned timeout_ms);
static void backend_event_cb(evutil_socket_t fd, short what, void *arg);
static void backend_unpool(struct backend *b);

struct backend *backend_get(struct upstream *up, struct event_base *base,
                            unsigned connect_timeout_ms, bool pooled,
                            backend_io_cb io, void *owner)
{
	struct backend *b = pooled ? LIST_FIRST(&up->idle) : NULL;

	if (b != NULL) {
		backend_unpool(b);
		b->io = io;
		b->owner = owner;
		b->reused = 1;
		return b;
	}
	b = calloc(1, sizeof(*b));
	if (b == NULL)
		return NULL;
	b->up = up;
	b->io = io;
	b->owner = owner;
	b->fd = -1;
	b->v4_first = upstream_prefers_v4(up);
	b->connect_ms = connect_timeout_ms;
	while (backend_connect(b, base, connect_timeout_ms) < 0) {
		if (b->failed)
			return b;
	}
	return b;
}

int backend_set_timeout(struct backend *b, const struct timeval *tv)
{
	if (tv == NULL)
		return event_add(b->ev, NULL);
	return event_add(b->ev, event_base_init_common_timeout(
	                            event_get_base(b->ev), tv));
}

void backend_release(struct backend *b)
{
	struct upstream *up = b->up;
	struct timeval tv = {BACKEND_POOL_IDLE_MS / 1000,
	                     (BACKEND_POOL_IDLE_MS % 1000) * 1000};

	/* A common timeout: parked connections share one list, not the
	 * heap. */
	if (up->nidle >= BACKEND_POOL_MAX ||
	    event_add(b->ev, event_base_init_common_timeout(
	                         event_get_base(b->ev), &tv)) < 0) {
		backend_close(b);
		return;
	}
	b->owner = NULL;
	b->io = NULL;
	b->reused = 0;
	b->idle = 1;
	LIST_INSERT_HEAD(&up->idle, b, pool_entry);
	LIST_INSERT_HEAD(&backend_idle_all, b, all_entry);
	up->nidle++;
}

bool backend_has_input(const struct backend *b)
{
	char c;
	ssize_t r = recv(b->fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

	return r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK);
}

void backend_close(struct backend *b)
{
	if (b == NULL)
		return;
	if (b->idle)
		backend_unpool(b);
	/* close(2) first: the EPOLL_CTL_DEL of event_free then fails at
	 * once instead of searching the epoll set. */
	if (b->fd >= 0)
		close(b->fd);
	if (b->ev != NULL)
		event_free(b->ev);
	free(b);
}

char *backend_describe_error(const struct backend *b, char *buf, size_t len)
{
	struct upstream_target t[2];
	char last[ADDR_STRLEN], first[ADDR_STRLEN];
	int n = upstream_targets(b->up, b->v4_first, t);

	addr_format_sa(&t[b->attempt].u.sa, t[b->attempt].len, last,
	               sizeof(last));
	if (b->attempt == 0 || n < 2) {
		snprintf(buf, len, "connect to %s failed: %s", last,
		         strerror(b->error));
		return buf;
	}
	addr_format_sa(&t[0].u.sa, t[0].len, first, sizeof(first));
	snprintf(buf, len, "connect to %s failed: %s: %s, %s: %s",
	         b->up->name, first, strerror(b->first_error), last,
	         strerror(b->error));
	return buf;
}

void backend_close_idle_of(struct upstream *up)
{
	while (!LIST_EMPTY(&up->idle))
		backend_close(LIST_FIRST(&up->idle));
}

void backend_close_idle(void)
{
	while (!LIST_EMPTY(&backend_idle_all))
		backend_close(LIST_FIRST(&backend_idle_all));
}

/*
 * Connect address number b->attempt. Returns 0 when connected or
 * connecting, -1 when this address failed at once: then either the next
 * address is set up to be tried (call again) or b->failed is set.
 */
static int backend_connect(struct backend *b, struct event_base *base,
                           unsigned timeout_ms)
{
	struct upstream_target t[2];
	struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
	bool connected;
	int err;

	b->ntargets = (uint8_t)upstream_targets(b->up, b->v4_first, t);
	b->fd = upstream_connect(&t[b->attempt], &connected);
	if (b->fd < 0) {
		err = errno;
		goto fail;
	}
	b->ev = event_new(base, b->fd, RELAY_EVENTS, backend_event_cb, b);
	if (b->ev == NULL || event_add(b->ev, &tv) < 0) {
		err = ENOMEM;
		goto fail;
	}
	b->connecting = !connected;
	if (connected)
		upstream_answered(b->up, t[b->attempt].u.sa.sa_family);
	return 0;
fail:
	if (b->ev != NULL) {
		event_free(b->ev);
		b->ev = NULL;
	}
	if (b->fd >= 0) {
		close(b->fd);
		b->fd = -1;
	}
	if (b->attempt + 1 < b->ntargets && upstream_retryable(err)) {
		b->first_error = err;
		b->attempt++;
		return -1;
	}
	b->error = err;
	b->failed = 1;
	return -1;
}

/* The socket's event: the end of a connect, work for the owner, or the
 * end of an idle connection. */
static void backend_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct backend *b = arg;

	if (b->idle) {
		/* Idle: a timeout, a FIN, or bytes nobody asked for end
		 * it; room to write is no news. */
		if (what & (EV_READ | EV_CLOSED | EV_TIMEOUT))
			backend_close(b);
		return;
	}
	if (b->connecting) {
		int err = 0;
		socklen_t len = sizeof(err);
		struct event_base *base = event_get_base(b->ev);

		if (what & EV_TIMEOUT)
			err = ETIMEDOUT;
		else if ((what & EV_READ) &&
		         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
		else if (!(what & EV_WRITE))
			return;
		if (err == 0) {
			struct sockaddr_storage local;

			len = sizeof(local);
			b->connecting = 0;
			if (b->ntargets > 1 &&
			    getsockname(fd, (struct sockaddr *)&local, &len) ==
			        0)
				upstream_answered(b->up, local.ss_family);
			b->io(b, what, b->owner);
			return;
		}
		/* Try the other localhost family, else report. */
		event_free(b->ev);
		b->ev = NULL;
		close(b->fd);
		b->fd = -1;
		if (b->attempt + 1 < b->ntargets && upstream_retryable(err)) {
			b->first_error = err;
			b->attempt++;
			while (backend_connect(b, base, b->connect_ms) < 0) {
				if (b->failed)
					break;
			}
			if (!b->failed)
				return;
		} else {
			b->error = err;
			b->failed = 1;
		}
		b->io(b, BACKEND_FAILED, b->owner);
		return;
	}
	b->io(b, what, b->owner);
}

/* Take b out of the idle pool. */
static void backend_unpool(struct backend *b)
{
	LIST_REMOVE(b, pool_entry);
	LIST_REMOVE(b, all_entry);
	b->up->nidle--;
	b->idle = 0;
}
