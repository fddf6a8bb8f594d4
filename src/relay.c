/* SPDX-License-Identifier: MIT */
/*
 * The relay: two bufferevents that point at each other.
 *
 * Each side's read callback moves its input to the other side's output with
 * evbuffer_add_buffer (chains change owner, bytes are not copied). When an
 * output grows past RELAY_HIGH_WATER, reading the side that feeds it stops,
 * and the output's write watermark is set so that its write callback fires
 * at half of it and resumes reading. EOF is carried as shutdown(SHUT_WR)
 * once the other output is empty, as nginx's stream proxy and redsocks do.
 * The relay never frees anything: it reports the end once to its owner.
 */
#include "config.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "portier/relay.h"

static void relay_read_cb(struct bufferevent *bev, void *arg);
static void relay_write_cb(struct bufferevent *bev, void *arg);
static void relay_event_cb(struct bufferevent *bev, short what, void *arg);
static void relay_forward_eof(struct relay *relay, int from);
static void relay_end(struct relay *relay, enum relay_end why);

/* Bytes one read(2) may take from a socket; libevent's default of 16 KiB
 * costs too many callbacks on bulk transfers. */
#define RELAY_MAX_READ (64 * 1024)

void relay_start(struct relay *relay, struct bufferevent *client,
		 struct bufferevent *backend, uint32_t idle_ms,
		 relay_done_cb done_cb, void *arg)
{
	struct timeval tv = {idle_ms / 1000, (idle_ms % 1000) * 1000};

	relay->bev[RELAY_CLIENT] = client;
	relay->bev[RELAY_BACKEND] = backend;
	relay->done_cb = done_cb;
	relay->arg = arg;
	relay->idle_ms = idle_ms;
	for (int i = 0; i < 2; i++) {
		struct bufferevent *bev = relay->bev[i];

		bufferevent_setcb(bev, relay_read_cb, relay_write_cb,
				  relay_event_cb, relay);
		bufferevent_setwatermark(bev, EV_READ | EV_WRITE, 0, 0);
		bufferevent_set_timeouts(bev, idle_ms ? &tv : NULL,
					 idle_ms ? &tv : NULL);
		bufferevent_set_max_single_read(bev, RELAY_MAX_READ);
		bufferevent_set_max_single_write(bev, RELAY_MAX_READ);
	}
	bufferevent_enable(client, EV_READ | EV_WRITE);
	bufferevent_enable(backend, EV_READ | EV_WRITE);

	/* Anything read before the relay started goes across now. */
	for (int i = 0; i < 2; i++) {
		if (evbuffer_get_length(bufferevent_get_input(relay->bev[i])))
			relay_read_cb(relay->bev[i], relay);
	}
}

/* A coarse millisecond clock from the loop's cached time. */
static uint32_t relay_now_ms(struct bufferevent *bev)
{
	struct timeval tv;

	event_base_gettimeofday_cached(bufferevent_get_base(bev), &tv);
	return (uint32_t)((uint64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000);
}

/* Which side a bufferevent is. */
static int relay_side_of(const struct relay *relay,
			 const struct bufferevent *bev)
{
	return bev == relay->bev[RELAY_BACKEND] ? RELAY_BACKEND : RELAY_CLIENT;
}

/* Move what one side sent to the other side's output. */
static void relay_read_cb(struct bufferevent *bev, void *arg)
{
	struct relay *relay = arg;
	int side = relay_side_of(relay, bev);
	struct bufferevent *peer = relay->bev[!side];
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(peer);

	relay->nread[side] += evbuffer_get_length(in);
	relay->last_active = relay_now_ms(bev);
	if (relay->shut[!side]) {
		/* Peer's write side is gone; nothing more can reach it. */
		evbuffer_drain(in, evbuffer_get_length(in));
		return;
	}
	evbuffer_add_buffer(out, in);
	if (evbuffer_get_length(out) >= RELAY_HIGH_WATER) {
		bufferevent_disable(bev, EV_READ);
		relay->paused[side] = 1;
		bufferevent_setwatermark(peer, EV_WRITE, RELAY_HIGH_WATER / 2,
					 0);
	}
}

/* An output drained to its low watermark: resume the paused reader, or
 * carry a pending EOF across. */
static void relay_write_cb(struct bufferevent *bev, void *arg)
{
	struct relay *relay = arg;
	int side = relay_side_of(relay, bev);
	int from = !side;

	if (relay->paused[from]) {
		relay->paused[from] = 0;
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		bufferevent_enable(relay->bev[from], EV_READ);
	}
	if (relay->eof[from] && !relay->shut[side] &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		relay_forward_eof(relay, from);
}

/* EOF, error or timeout on one side. */
static void relay_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct relay *relay = arg;
	int side = relay_side_of(relay, bev);

	if (what & BEV_EVENT_EOF) {
		struct evbuffer *in = bufferevent_get_input(bev);

		if (evbuffer_get_length(in))
			relay_read_cb(bev, relay);
		relay->eof[side] = 1;
		if (evbuffer_get_length(
			    bufferevent_get_output(relay->bev[!side])) == 0)
			relay_forward_eof(relay, side);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT) {
		uint32_t idle = relay_now_ms(bev) - relay->last_active;

		/* The timer is per side and per direction; the relay is
		 * idle only when nothing moved either way. */
		if (idle < relay->idle_ms) {
			bufferevent_enable(bev, (what & BEV_EVENT_READING)
							? EV_READ
							: EV_WRITE);
			return;
		}
		relay_end(relay, RELAY_END_IDLE);
		return;
	}
	relay->error = EVUTIL_SOCKET_ERROR();
	relay->error_side = (uint8_t)side;
	relay_end(relay, RELAY_END_ERROR);
}

/* Side `from` sent EOF and everything before it is written: shut the
 * other side's write half; the relay is done once both are shut. */
static void relay_forward_eof(struct relay *relay, int from)
{
	int to = !from;
	evutil_socket_t fd = bufferevent_getfd(relay->bev[to]);

	relay->shut[to] = 1;
	if (shutdown(fd, SHUT_WR) < 0 && errno != ENOTCONN) {
		relay->error = errno;
		relay->error_side = (uint8_t)to;
		relay_end(relay, RELAY_END_ERROR);
		return;
	}
	/* Nothing more will be written to `to`; stop watching its output. */
	bufferevent_disable(relay->bev[to], EV_WRITE);
	if (relay->shut[from])
		relay_end(relay, RELAY_END_DONE);
}

/* Report the end once; the owner frees the bufferevents. */
static void relay_end(struct relay *relay, enum relay_end why)
{
	for (int i = 0; i < 2; i++) {
		bufferevent_disable(relay->bev[i], EV_READ | EV_WRITE);
		bufferevent_setcb(relay->bev[i], NULL, NULL, NULL, NULL);
	}
	relay->done_cb(relay, why, relay->arg);
}
