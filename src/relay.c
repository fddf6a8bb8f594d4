/* SPDX-License-Identifier: MIT */
/*
 * The relay: two sockets that point at each other.
 *
 * Both sockets are watched edge-triggered for reading and writing for their
 * whole life, so the epoll set never changes while bytes flow, under
 * backpressure included. Each side remembers whether it may be read or
 * written; relay_pump then moves bytes while there is something to read and
 * room to put it. A read lands in space reserved at the end of the peer's
 * output evbuffer and is written at once, so a chunk usually costs one
 * recv(2) and one send(2) and never a user-space copy. Buffers exist
 * only while bytes wait: an idle connection holds no buffer at all.
 *
 * An EOF becomes shutdown(SHUT_WR) on the other side once its output is
 * empty (true half-close, as in nginx's stream proxy); when that completes
 * both directions the sockets are simply closed by the owner. A FIN that
 * arrives with the last bytes needs no read of its own: the bytes go out
 * with MSG_MORE and leave in one segment with the FIN that follows them,
 * and when the other peer's FIN is already there too, both directions end
 * at once with no shutdown(2). Errors and the idle timeout end the relay
 * through relay_end, once.
 */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "portier/relay.h"
#include "portier/tls.h"

/* Chains one write hands to the kernel; an output holds a handful. */
#define RELAY_IOV_MAX 16

/* Reads per side in one turn of the loop before others get theirs. */
#define RELAY_BUDGET 4

static uint32_t relay_now_ms(const struct relay *relay);
static bool relay_kernel_moved(struct relay *relay);
static void relay_pump(struct relay *relay);
static int relay_pull(struct relay *relay, int from);
static int relay_flush(struct relay *relay, int to);
static ssize_t relay_send(struct relay_side *dst, int flags, size_t *offered);
static int relay_defer_eof(struct relay *relay, int from);
static void relay_later_cb(evutil_socket_t fd, short what, void *arg);
static bool relay_at_eof(const struct relay_side *side);
static int relay_shut(struct relay *relay, int to);
static void relay_drop_empty(struct relay_side *side);
static int relay_fail(struct relay *relay, int side, int err);
static int relay_end(struct relay *relay, enum relay_end why);

/*
 * The static functions that return int give -1 once the relay has ended:
 * done_cb may have freed it, so the caller returns at once without touching
 * it.
 */

int relay_start(struct relay *relay, struct event *client_ev,
                struct event *backend_ev, short client_ready,
                short backend_ready, struct evbuffer *to_client,
                struct evbuffer *to_backend, uint32_t idle_ms,
                relay_done_cb done_cb, void *arg)
{
	struct event_base *base = event_get_base(client_ev);
	struct timeval tv = {idle_ms / 1000, (idle_ms % 1000) * 1000};
	const struct timeval *idle_tv = NULL;

	relay->side[RELAY_CLIENT].ev = client_ev;
	relay->side[RELAY_BACKEND].ev = backend_ev;
	for (int i = 0; i < 2; i++) {
		relay->side[i].fd = event_get_fd(relay->side[i].ev);
		/* Both sockets just proved writable: accepted, connected. */
		relay->side[i].writable = 1;
	}
	relay->side[RELAY_CLIENT].readable =
	    (client_ready & (EV_READ | EV_CLOSED)) != 0;
	relay->side[RELAY_CLIENT].rdhup = (client_ready & EV_CLOSED) != 0;
	relay->side[RELAY_BACKEND].readable =
	    (backend_ready & (EV_READ | EV_CLOSED)) != 0;
	relay->side[RELAY_BACKEND].rdhup = (backend_ready & EV_CLOSED) != 0;
	/* Without EPOLLRDHUP a short read cannot tell a pending FIN apart. */
	relay->early_close =
	    (event_base_get_features(base) & EV_FEATURE_EARLY_CLOSE) != 0;
	relay->side[RELAY_CLIENT].out = to_client;
	relay->side[RELAY_BACKEND].out = to_backend;
	relay->done_cb = done_cb;
	relay->arg = arg;
	relay->idle_ms = idle_ms;
	relay->last_active = relay_now_ms(relay);
	/* Every relay shares one timeout length: libevent then keeps them in
	 * a list instead of its heap. */
	if (idle_ms)
		idle_tv = event_base_init_common_timeout(base, &tv);
	relay->idle_tv = idle_tv;
	/* The events are already added; this sets their idle timeout. */
	if (event_add(client_ev, idle_tv) < 0 ||
	    event_add(backend_ev, idle_tv) < 0)
		return -1;
	/* Work already known to be there is done on the next turn of the
	 * loop: relay_start never ends the relay under its caller. */
	if (to_backend != NULL || to_client != NULL ||
	    relay->side[RELAY_CLIENT].readable ||
	    relay->side[RELAY_BACKEND].readable)
		event_active(backend_ev, 0, 0);
	return 0;
}

void relay_io(struct relay *relay, enum relay_side_id side, short what)
{
	if (what & EV_TIMEOUT) {
		/* Each side's timer runs on its own; the relay is idle
		 * only when nothing moved either way. A persistent event
		 * stays armed for another period. */
		if (relay->idle_ms == 0 || relay_kernel_moved(relay))
			return;
		if (relay_now_ms(relay) - relay->last_active >= relay->idle_ms)
			(void)relay_end(relay, RELAY_END_IDLE);
		return;
	}
	if (what & EV_CLOSED)
		relay->side[side].rdhup = 1;
	if (what & (EV_READ | EV_CLOSED))
		relay->side[side].readable = 1;
	if (what & EV_WRITE)
		relay->side[side].writable = 1;
	relay_pump(relay);
}

void relay_free(struct relay *relay)
{
	if (relay->later != NULL) {
		event_free(relay->later);
		relay->later = NULL;
	}
	for (int i = 0; i < 2; i++) {
		if (relay->side[i].out != NULL) {
			evbuffer_free(relay->side[i].out);
			relay->side[i].out = NULL;
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

/* True when either socket's kernel send queue changed since the last
 * look: a slow reader draining bytes portier wrote long ago is activity
 * too, though the relay sees no event for it. */
static bool relay_kernel_moved(struct relay *relay)
{
	bool moved = false;

	for (int i = 0; i < 2; i++) {
		int queued = 0;

		if (ioctl(relay->side[i].fd, SIOCOUTQ, &queued) < 0)
			continue;
		if ((uint32_t)queued != relay->side[i].outq) {
			relay->side[i].outq = (uint32_t)queued;
			moved = true;
		}
	}
	if (moved)
		relay->last_active = relay_now_ms(relay);
	return moved;
}

/* Bytes waiting in a side's output. */
static size_t relay_pending(const struct relay_side *side)
{
	return side->out ? evbuffer_get_length(side->out) : 0;
}

/* True when side `from` may be read now: it has not ended, it is
 * readable, and its peer can still take bytes. */
static bool relay_can_pull(const struct relay *relay, int from)
{
	const struct relay_side *src = &relay->side[from];
	const struct relay_side *dst = &relay->side[!from];

	return src->readable && !src->eof && !dst->shut &&
	       relay_pending(dst) < RELAY_HIGH_WATER;
}

/* Move bytes both ways until nothing is readable, or nothing has room, or
 * the budget of this turn is spent. Outputs are flushed before inputs are
 * read, so that room made on one side lets the other be read at once. */
static void relay_pump(struct relay *relay)
{
	for (int round = 0; round < RELAY_BUDGET; round++) {
		bool moved = false;

		for (int i = 0; i < 2; i++) {
			struct relay_side *side = &relay->side[i];

			if (side->writable && relay_pending(side) > 0 &&
			    relay_flush(relay, i) < 0)
				return;
		}
		for (int i = 0; i < 2; i++) {
			int r;

			if (!relay_can_pull(relay, i))
				continue;
			r = relay_pull(relay, i);
			if (r < 0)
				return;
			moved |= r > 0;
		}
		if (!moved)
			return;
	}
	/* Budget spent with bytes still to read: no new edge will come for
	 * them, so come back on the next turn of the loop. */
	for (int i = 0; i < 2; i++) {
		if (relay_can_pull(relay, i)) {
			event_active(relay->side[i].ev, 0, 0);
			return;
		}
	}
}

/* Read what side `from` sent into the other side's output and push it on.
 * Returns 1 when bytes moved, 0 when none did, -1 when the relay ended. */
static int relay_pull(struct relay *relay, int from)
{
	struct relay_side *src = &relay->side[from];
	struct relay_side *dst = &relay->side[!from];
	struct evbuffer_iovec vec[2];
	struct iovec iov[2];
	bool drained = false;
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
	if (src->ssl != NULL)
		n = tls_readv(src->ssl, iov, nvec, &drained);
	else
		do
			n = nvec == 1 ? recv(src->fd, iov[0].iov_base,
			                     iov[0].iov_len, 0)
			              : readv(src->fd, iov, nvec);
		while (n < 0 && errno == EINTR);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			src->readable = 0;
			relay_drop_empty(dst);
			return 0;
		}
		return relay_fail(relay, from, errno);
	}
	if (n == 0) {
		src->eof = 1;
		if (relay_pending(dst) > 0)
			return 0; /* shut once the output drains */
		relay_drop_empty(dst);
		return relay_shut(relay, !from) < 0 ? -1 : 0;
	}
	{
		size_t offered = 0, left = (size_t)n;
		int used = 0;

		for (int i = 0; i < nvec; i++)
			offered += vec[i].iov_len;
		if (src->ssl == NULL)
			drained = (size_t)n < offered;
		/* A short read emptied the socket: the next byte to arrive
		 * brings a new edge, so no read to EAGAIN is needed. Not so
		 * for a FIN that came with the bytes: its edge is spent, and
		 * only EV_CLOSED (EPOLLRDHUP) told of it. On a plain socket
		 * that FIN is all that is left: the side has ended, and the
		 * bytes leave with the FIN in one segment. TLS has its
		 * close_notify to read first, on the next turn. */
		if (drained && relay->early_close) {
			src->readable = 0;
			if (src->rdhup && src->ssl == NULL)
				src->eof = 1;
			else if (src->rdhup && relay_defer_eof(relay, from) < 0)
				return relay_fail(relay, from, ENOMEM);
		}
		while (left > 0) {
			if (vec[used].iov_len > left)
				vec[used].iov_len = left;
			left -= vec[used++].iov_len;
		}
		evbuffer_commit_space(dst->out, vec, used);
	}
	relay->nread[from] += (uint64_t)n;
	relay->last_active = relay_now_ms(relay);
	if (dst->writable && relay_flush(relay, !from) < 0)
		return -1;
	return 1;
}

/* Write as much of side `to`'s output as it takes now. */
static int relay_flush(struct relay *relay, int to)
{
	struct relay_side *dst = &relay->side[to];
	struct relay_side *src = &relay->side[!to];

	while (relay_pending(dst) > 0) {
		size_t offered;
		ssize_t n = relay_send(dst, src->eof ? MSG_MORE : 0, &offered);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) {
				dst->writable = 0;
				return 0;
			}
			return relay_fail(relay, to, errno);
		}
		evbuffer_drain(dst->out, (size_t)n);
		relay->last_active = relay_now_ms(relay);
		/* A short write filled the socket: the kernel signals the
		 * room it makes later with a new edge. */
		if ((size_t)n < offered) {
			dst->writable = 0;
			return 0;
		}
	}
	relay_drop_empty(dst);
	if (src->eof && !dst->shut)
		return relay_shut(relay, to);
	return 0;
}

/* Write the first chains of a side's output; *offered is how many bytes
 * were handed to the kernel. One chain, the usual case, goes out with
 * send(2), which the kernel handles more cheaply than an iovec; more go
 * out with sendmsg(2). MSG_NOSIGNAL: a vanished peer is an EPIPE, not a
 * signal. flags may add MSG_MORE: the last bytes then wait for the FIN
 * that the shutdown(2) or close(2) about to follow sends with them. */
static ssize_t relay_send(struct relay_side *dst, int flags, size_t *offered)
{
	struct evbuffer_iovec vec[RELAY_IOV_MAX];
	struct iovec iov[RELAY_IOV_MAX];
	struct msghdr msg = {.msg_iov = iov};
	int n = evbuffer_peek(dst->out, -1, NULL, vec, RELAY_IOV_MAX);

	if (n > RELAY_IOV_MAX)
		n = RELAY_IOV_MAX;
	*offered = 0;
	for (int i = 0; i < n; i++) {
		iov[i].iov_base = vec[i].iov_base;
		iov[i].iov_len = vec[i].iov_len;
		*offered += vec[i].iov_len;
	}
	if (dst->ssl != NULL)
		return tls_writev(dst->ssl, iov, n, flags);
	if (n == 1)
		return send(dst->fd, iov[0].iov_base, iov[0].iov_len,
		            MSG_NOSIGNAL | flags);
	msg.msg_iovlen = (size_t)n;
	return sendmsg(dst->fd, &msg, MSG_NOSIGNAL | flags);
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

/*
 * Read the end of a TLS side whose last bytes came with its FIN (its
 * close_notify comes before the FIN) on the next turn of the loop rather
 * than now: by then the other peer, which is being sent those bytes, has
 * often closed too, and both directions end with two close(2) and no
 * shutdown(2) (HAProxy gets the same by reading again only when polled).
 * A timer of its own, due at once, runs after the loop's
 * next poll, whose events come first. (A zero timeout on the side's event
 * would do the same, but libevent takes an event whose timer fires out of
 * epoll and puts it back: two epoll_ctl(2) per connection.)
 */
static int relay_defer_eof(struct relay *relay, int from)
{
	static const struct timeval now = {0, 0};

	if (relay->later == NULL) {
		relay->later = event_new(event_get_base(relay->side[from].ev),
		                         -1, 0, relay_later_cb, relay);
		if (relay->later == NULL)
			return -1;
	}
	relay->side[from].eof_later = 1;
	return event_add(relay->later, &now);
}

/* The turn after relay_defer_eof: read the FINs put off. */
static void relay_later_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay *relay = arg;

	(void)fd;
	(void)what;
	for (int i = 0; i < 2; i++) {
		if (relay->side[i].eof_later) {
			relay->side[i].eof_later = 0;
			relay->side[i].readable = 1;
		}
	}
	relay_pump(relay);
}

/* True when the next thing to read from the side is its FIN. */
static bool relay_at_eof(const struct relay_side *side)
{
	char byte;
	ssize_t n;

	do
		n = recv(side->fd, &byte, 1, MSG_PEEK);
	while (n < 0 && errno == EINTR);
	return n == 0;
}

/* Side `to` will get no more bytes: shut its write half. When that ends
 * the second direction the relay is done, and the owner's close sends the
 * FIN: no shutdown(2) is needed for it. */
static int relay_shut(struct relay *relay, int to)
{
	struct relay_side *dst = &relay->side[to];

	dst->shut = 1;
	/* TLS says where the stream ends with close_notify, before any FIN:
	 * without it a client cannot tell the end from a truncation. */
	if (dst->ssl != NULL)
		tls_close_notify(dst->ssl);
	if (relay->side[!to].shut)
		return relay_end(relay, RELAY_END_DONE);
	/* The peer's own FIN is already here. If no byte comes before it,
	 * both directions end now and close(2) sends the FIN, which spares
	 * the peer a half-closed socket and the shutdown(2) its own. */
	if (dst->rdhup && !dst->eof && relay_pending(&relay->side[!to]) == 0 &&
	    relay_at_eof(dst)) {
		dst->eof = 1;
		relay->side[!to].shut = 1;
		return relay_end(relay, RELAY_END_DONE);
	}
	if (shutdown(dst->fd, SHUT_WR) < 0 && errno != ENOTCONN)
		return relay_fail(relay, to, errno);
	return 0;
}

/* A socket error on `side`. */
static int relay_fail(struct relay *relay, int side, int err)
{
	relay->error = err;
	relay->error_side = (uint8_t)side;
	return relay_end(relay, RELAY_END_ERROR);
}

/* Report the end once; the owner frees the rest. */
static int relay_end(struct relay *relay, enum relay_end why)
{
	if (!relay->ended) {
		relay->ended = 1;
		relay->done_cb(relay, why, relay->arg);
	}
	return -1;
}
