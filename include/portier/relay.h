/* SPDX-License-Identifier: MIT */
/*
 * The byte relay between two connected sockets.
 *
 * Bytes read on one side go straight into an evbuffer of the other side's
 * pending output and are written at once; only what the peer cannot take
 * yet stays buffered, and a side is read only while its peer's output holds
 * less than RELAY_HIGH_WATER bytes. An EOF on one side is carried to the
 * other as shutdown(SHUT_WR) once everything read before it has been
 * written; the relay is done when both directions are.
 *
 * The owner creates one edge-triggered event per socket (RELAY_EVENTS) and
 * passes every activation to relay_io; the relay
 * remembers which side is readable and writable, so no event is ever
 * re-armed while bytes flow. The relay owns its buffers, never the events
 * or sockets: its owner frees them after done_cb.
 */
#ifndef PORTIER_RELAY_H
#define PORTIER_RELAY_H

#include <stdbool.h>
#include <stdint.h>

struct event;
struct evbuffer;
struct timeval;

/* A side is read only while its peer's output holds less than this. */
#define RELAY_HIGH_WATER (256 * 1024)

/* The events the owner watches each socket for, for its whole life. */
#define RELAY_EVENTS (EV_READ | EV_WRITE | EV_CLOSED | EV_ET | EV_PERSIST)

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

/* Called once when the relay ends; the owner then frees the events, calls
 * relay_free and closes the sockets. */
typedef void (*relay_done_cb)(struct relay *relay, enum relay_end why,
			      void *arg);

/* One socket of the relay. */
struct relay_side {
	struct event *ev;     /* the owner's event for fd */
	struct evbuffer *out; /* bytes waiting to be written to fd; NULL
				 while there are none */
	struct ssl_st *ssl;   /* TLS on this side, or NULL; set by the
				 owner before relay_start, not owned */
	int fd;
	uint32_t outq;	  /* kernel send queue at the last idle check */
	uint8_t readable; /* may have bytes to read (no EAGAIN since) */
	uint8_t writable; /* may take bytes (no EAGAIN since) */
	uint8_t rdhup;	  /* the peer's FIN has arrived (EV_CLOSED) */
	uint8_t eof;	  /* EOF read from this side */
	uint8_t shut;	  /* this side's write half is shut down */
	uint8_t eof_later; /* its FIN is to be read on the next turn */
};

/* A relay; embedded in its owner (a session), so its fields are visible,
 * but only relay.c changes them. Zero it before relay_start. */
struct relay {
	struct relay_side side[2]; /* indexed by enum relay_side_id */
	uint64_t nread[2];	   /* bytes read from each side */
	relay_done_cb done_cb;
	void *arg;
	const struct timeval *idle_tv; /* the events' idle timeout, or NULL */
	struct event *later;	       /* brings put-off FINs; made on use */
	uint32_t idle_ms;
	uint32_t last_active; /* coarse ms clock of the last byte either way */
	int error;	      /* errno of RELAY_END_ERROR */
	uint8_t error_side;   /* side of RELAY_END_ERROR */
	uint8_t early_close;  /* the loop reports EV_CLOSED */
	uint8_t ended;
};

/*
 * Start relaying between two connected, non-blocking sockets watched by
 * `client_ev` and `backend_ev` (edge-triggered, both directions, already
 * added; the relay sets their idle timeout). `client_ready` and
 * `backend_ready` hold the readiness (EV_READ, EV_WRITE, EV_CLOSED) their
 * events already reported, whose edges will not come again. `to_client`
 * and `to_backend` (may be NULL; taken over, even on failure) hold bytes
 * to send first: a PROXY header, or what a backend sent right after its
 * 101 answer. Never calls done_cb itself.
 * Returns 0, or -1 when the events cannot be added (the owner closes the
 * session).
 */
int relay_start(struct relay *relay, struct event *client_ev,
		 struct event *backend_ev, short client_ready,
		 short backend_ready, struct evbuffer *to_client,
		 struct evbuffer *to_backend, uint32_t idle_ms,
		 relay_done_cb done_cb, void *arg)
	__attribute__((warn_unused_result));

/* Handle an activation (EV_READ, EV_WRITE, EV_TIMEOUT) of one side's
 * event. May call done_cb, after which the relay must not be touched. */
void relay_io(struct relay *relay, enum relay_side_id side, short what);

/* Free the relay's buffers (not events or sockets); safe on a zeroed or
 * ended relay. */
void relay_free(struct relay *relay);

#endif
