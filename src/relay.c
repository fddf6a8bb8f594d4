/* SPDX-License-Identifier: MIT */
/*
 * The relay: two sockets that point at each other.
 *
 * One persistent event per socket watches what that side needs: EV_READ
 * while it may send and the other side's output has room, EV_WRITE while
 * its own output is not empty. A read lands in the peer's output evbuffer
 * and is written straight away, so in the common case a chunk costs one
 * read(2) and one write(2) and no change of the epoll set. Buffers exist
 * only while bytes wait: an idle connection holds two events and no buffer.
 * An EOF becomes shutdown(SHUT_WR) on the other side once its output is
 * empty (true half-close, as in nginx's stream proxy); errors and the idle
 * timeout end the relay through relay_end, once.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "portier/relay.h"

static void relay_cb(evutil_socket_t fd, short what, void *arg);
static int relay_pull(struct relay *relay, int from);
static int relay_flush(struct relay *relay, int to);
static int relay_shut(struct relay *relay, int to);
static void relay_drop_empty(struct relay_side *side);
static void relay_watch(struct relay *relay);
static int relay_fail(struct relay *relay, int side, int err);
static int relay_end(struct relay *relay, enum relay_end why);

/*
 * The functions below return -1 once the relay has ended: done_cb may have
 * freed it, so the caller returns at once without touching it.
 */

int relay_start(struct relay *relay, struct event_base *base, int client_fd,
		int backend_fd, struct evbuffer *to_backend, uint32_t idle_ms,
		relay_done_cb done_cb, void *arg)
{
	struct timeval tv = {idle_ms / 1000, (idle_ms % 1000) * 1000};

	relay->side[RELAY_CLIENT].fd = client_fd;
	relay->side[RELAY_BACKEND].fd = backend_fd;
	relay->side[RELAY_BACKEND].out = to_backend;
	relay->done_cb = done_cb;
	relay->arg = arg;
	relay->idle_ms = idle_ms;
	/* Every relay shares one timeout length: libevent then keeps them in
	 * a list instead of its heap. */
	relay->idle_tv = idle_ms ? event_base_init_common_timeout(base, &tv)
				 : NULL;
	for (int i = 0; i < 2; i++) {
		/* Assigned with its real mask by relay_watch. */
		relay->side[i].ev = event_new(base, relay->side[i].fd,
					      EV_PERSIST, relay_cb, relay);
		if (relay->side[i].ev == NULL)
			return -1;
	}
	{
		struct timeval now;

		event_base_gettimeofday_cached(base, &now);
		relay->last_active =
			(uint32_t)((uint64_t)now.tv_sec * 1000 +
				   (uint64_t)now.tv_usec / 1000);
	}
	/* Bytes for the backend go out when it is writable: relay_start
	 * never ends the relay under its caller. */
	relay_watch(relay);
	return 0;
}

void relay_free(struct relay *relay)
{
	for (int i = 0; i < 2; i++) {
		struct relay_side *side = &relay->side[i];

		if (side->ev != NULL) {
			event_free(side->ev);
			side->ev = NULL;
		}
		if (side->out != NULL) {
			evbuffer_free(side->out);
			side->out = NULL;
		}
	}
}

/* A coarse millisecond clock from the loop's cached time. */
static uint32_t relay_now_ms(const struct relay *relay)
{
	struct timeval tv;

	event_base_gettimeofday_cached(
		event_get_base(relay->side[RELAY_CLIENT].ev), &tv);
	return (uint32_t)((uint64_t)tv.tv_sec * 1000 +
			  (uint64_t)tv.tv_usec / 1000);
}

/* One side is readable, writable or timed out. */
static void relay_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *relay = arg;
	int i = fd == relay->side[RELAY_BACKEND].fd ? RELAY_BACKEND
						    : RELAY_CLIENT;

	if (what & EV_TIMEOUT) {
		/* Each side times out on its own; the relay is idle only
		 * when nothing moved either way. The persistent event stays
		 * armed for another period. */
		if (relay_now_ms(relay) - relay->last_active >= relay->idle_ms)
			(void)relay_end(relay, RELAY_END_IDLE);
		return;
	}
	if ((what & EV_WRITE) && relay_flush(relay, i) < 0)
		return;
	if ((what & EV_READ) && relay_pull(relay, i) < 0)
		return;
	relay_watch(relay);
}

/* Read what side `from` sent into the other side's output and push it on. */
static int relay_pull(struct relay *relay, int from)
{
	struct relay_side *src = &relay->side[from];
	struct relay_side *dst = &relay->side[!from];
	struct evbuffer_iovec vec[2];
	struct iovec iov[2];
	ssize_t n;
	int nvec;

	if (dst->out == NULL) {
		dst->out = evbuffer_new();
		if (dst->out == NULL)
			return relay_fail(relay, from, ENOMEM);
	}
	/* Read into space reserved at the end of the peer's output: no copy,
	 * and no FIONREAD round trip as evbuffer_read would make. Two
	 * vectors let the free tail of the last chain be used before a new
	 * chain is added, so small reads do not waste whole chains. */
	nvec = evbuffer_reserve_space(dst->out, RELAY_MAX_READ, vec, 2);
	if (nvec < 1)
		return relay_fail(relay, from, ENOMEM);
	for (int i = 0; i < nvec; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len;
	}
	n = readv(src->fd, iov, nvec);
	if (n > 0) {
		size_t left = (size_t)n;
		int used = 0;

		while (left > 0) {
			if (vec[used].iov_len > left)
				vec[used].iov_len = left;
			left -= vec[used++].iov_len;
		}
		evbuffer_commit_space(dst->out, vec, used);
	}
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
			relay_drop_empty(dst);
			return 0;
		}
		return relay_fail(relay, from, errno);
	}
	if (n == 0) {
		src->eof = 1;
		if (evbuffer_get_length(dst->out) > 0)
			return 0; /* shut once the output drains */
		relay_drop_empty(dst);
		return relay_shut(relay, !from);
	}
	relay->nread[from] += (uint64_t)n;
	relay->last_active = relay_now_ms(relay);
	return relay_flush(relay, !from);
}

/* Write as much of side `to`'s output as it takes now. */
static int relay_flush(struct relay *relay, int to)
{
	struct relay_side *dst = &relay->side[to];
	struct relay_side *src = &relay->side[!to];

	while (dst->out != NULL && evbuffer_get_length(dst->out) > 0) {
		int n = evbuffer_write(dst->out, dst->fd);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			return relay_fail(relay, to, errno);
		}
		relay->last_active = relay_now_ms(relay);
	}
	if (dst->out != NULL && evbuffer_get_length(dst->out) > 0)
		return 0;
	relay_drop_empty(dst);
	if (src->eof && !dst->shut)
		return relay_shut(relay, to);
	return 0;
}

/* Give back an output buffer that holds nothing: idle connections keep no
 * buffer at all. */
static void relay_drop_empty(struct relay_side *side)
{
	if (side->out != NULL && evbuffer_get_length(side->out) == 0) {
		evbuffer_free(side->out);
		side->out = NULL;
	}
}

/* Side `to` will get no more bytes: shut its write half. */
static int relay_shut(struct relay *relay, int to)
{
	struct relay_side *dst = &relay->side[to];

	dst->shut = 1;
	if (shutdown(dst->fd, SHUT_WR) < 0 && errno != ENOTCONN)
		return relay_fail(relay, to, errno);
	if (relay->side[!to].shut)
		return relay_end(relay, RELAY_END_DONE);
	return 0;
}

/* Watch each socket for what it needs now; change the event only when that
 * differs from what it watches. */
static void relay_watch(struct relay *relay)
{
	for (int i = 0; i < 2; i++) {
		struct relay_side *side = &relay->side[i];
		struct relay_side *peer = &relay->side[!i];
		size_t pending = peer->out ? evbuffer_get_length(peer->out) : 0;
		short want = 0;

		/* Backpressure with hysteresis: pause at the high mark,
		 * resume at half of it. */
		if (side->paused && pending <= RELAY_HIGH_WATER / 2)
			side->paused = 0;
		else if (!side->paused && pending >= RELAY_HIGH_WATER)
			side->paused = 1;
		if (!side->eof && !side->paused && !peer->shut)
			want |= EV_READ;
		if (side->out != NULL && evbuffer_get_length(side->out) > 0)
			want |= EV_WRITE;
		if (want == side->events)
			continue;
		event_del(side->ev);
		side->events = (uint8_t)want;
		if (want == 0)
			continue;
		event_assign(side->ev, event_get_base(side->ev), side->fd,
			     want | EV_PERSIST, relay_cb, relay);
		event_add(side->ev, relay->idle_tv);
	}
}

/* A socket error on `side`. */
static int relay_fail(struct relay *relay, int side, int err)
{
	relay->error = err;
	relay->error_side = (uint8_t)side;
	return relay_end(relay, RELAY_END_ERROR);
}

/* Stop every event and report the end once; the owner frees the rest. */
static int relay_end(struct relay *relay, enum relay_end why)
{
	if (relay->ended)
		return -1;
	relay->ended = 1;
	for (int i = 0; i < 2; i++) {
		if (relay->side[i].ev != NULL)
			event_del(relay->side[i].ev);
		relay->side[i].events = 0;
	}
	relay->done_cb(relay, why, relay->arg);
	return -1;
}
