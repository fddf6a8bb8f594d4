/* SPDX-License-Identifier: MIT */
/*
 * The byte relay between two connected sockets.
 *
 * Bytes read on one side go straight into an evbuffer of the other side's
 * pending output and are written at once; only what the peer cannot take
 * yet stays buffered, and each direction holds at most RELAY_HIGH_WATER
 * bytes (plus one read) before its reader pauses until the writer drains to
 * half of it. An EOF on one side is carried to the other as
 * shutdown(SHUT_WR) once everything read before it has been written; the
 * relay is done when both directions are. The relay owns its events and
 * buffers, never the sockets: its owner closes them after done_cb.
 */
#ifndef PORTIER_RELAY_H
#define PORTIER_RELAY_H

#include <stdbool.h>
#include <stdint.h>

struct event;
struct event_base;
struct evbuffer;

/* Most bytes buffered in one direction before its reader pauses. */
#define RELAY_HIGH_WATER (256 * 1024)

/* Most bytes one read(2) takes from a socket. */
#define RELAY_MAX_READ (64 * 1024)

/* The two sides. */
enum relay_side_id {
	RELAY_CLIENT,
	RELAY_BACKEND,
};

/* Why a relay ended. */
enum relay_end {
	RELAY_END_DONE,	 /* both directions closed cleanly */
	RELAY_END_IDLE,	 /* no byte either way for idle_ms */
	RELAY_END_ERROR, /* a socket error on error_side (errno in error) */
};

struct relay;

/* Called once when the relay ends, after its events are gone; the owner
 * then calls relay_free and closes the sockets. */
typedef void (*relay_done_cb)(struct relay *relay, enum relay_end why,
			      void *arg);

/* One socket of the relay. */
struct relay_side {
	struct event *ev;     /* readiness of fd; NULL before start */
	struct evbuffer *out; /* bytes waiting to be written to fd; NULL
				 while there are none */
	int fd;
	uint8_t events;	      /* EV_READ/EV_WRITE currently watched */
	uint8_t eof;	      /* EOF read from this side */
	uint8_t shut;	      /* this side's write half is shut down */
	uint8_t paused;	      /* reading paused: the peer's output is full */
};

/* A relay; embedded in its owner (a session), so its fields are visible,
 * but only relay.c changes them. Zero it before relay_start. */
struct relay {
	struct relay_side side[2]; /* indexed by enum relay_side_id */
	uint64_t nread[2];	   /* bytes read from each side */
	relay_done_cb done_cb;
	void *arg;
	const struct timeval *idle_tv; /* libevent common timeout, or NULL */
	uint32_t idle_ms;
	uint32_t last_active; /* coarse ms clock of the last byte either way */
	int error;	      /* errno of RELAY_END_ERROR */
	uint8_t error_side;   /* side of RELAY_END_ERROR */
	uint8_t ended;
};

/*
 * Start relaying between two connected, non-blocking sockets. `to_backend`
 * (may be NULL; taken over) holds bytes to send the backend first, such as
 * a PROXY header. Returns 0, or -1 when out of memory (nothing started;
 * call relay_free).
 */
int relay_start(struct relay *relay, struct event_base *base, int client_fd,
		int backend_fd, struct evbuffer *to_backend, uint32_t idle_ms,
		relay_done_cb done_cb, void *arg)
	__attribute__((warn_unused_result));

/* Free the relay's events and buffers (not the sockets); safe on a zeroed
 * or ended relay. */
void relay_free(struct relay *relay);

#endif
