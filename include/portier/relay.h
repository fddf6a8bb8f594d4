/* SPDX-License-Identifier: MIT */
/*
 * The byte relay between two connected bufferevents.
 *
 * Bytes read on one side are moved (never copied) to the other side's
 * output. Each direction buffers at most RELAY_HIGH_WATER bytes: past that
 * the reading side pauses until the writer drains to half of it. An EOF on
 * one side is carried to the other as shutdown(SHUT_WR) once everything read
 * before it has been written; the relay is done when both directions are.
 * The relay borrows the bufferevents: its owner frees them in done_cb.
 */
#ifndef PORTIER_RELAY_H
#define PORTIER_RELAY_H

#include <stdbool.h>
#include <stdint.h>

struct bufferevent;

/* Most bytes buffered in one direction before its reader pauses. */
#define RELAY_HIGH_WATER (256 * 1024)

/* The two sides. */
enum relay_side {
	RELAY_CLIENT,
	RELAY_BACKEND,
};

/* Why a relay ended. */
enum relay_end {
	RELAY_END_DONE,	   /* both directions closed cleanly */
	RELAY_END_IDLE,	   /* no byte either way for idle_ms */
	RELAY_END_ERROR,   /* a socket error on `side` (errno in `error`) */
};

struct relay;

/* Called once when the relay ends; the owner frees both bufferevents. */
typedef void (*relay_done_cb)(struct relay *relay, enum relay_end why,
			      void *arg);

/* A relay; embedded in its owner (a session), so its fields are visible,
 * but only relay.c changes them. */
struct relay {
	struct bufferevent *bev[2]; /* indexed by enum relay_side */
	uint64_t nread[2];	    /* bytes read from each side */
	relay_done_cb done_cb;
	void *arg;
	uint32_t idle_ms;
	uint32_t last_active; /* seconds, coarse clock of the last byte */
	int error;	      /* errno of RELAY_END_ERROR */
	uint8_t error_side;   /* side of RELAY_END_ERROR */
	uint8_t eof[2];	      /* EOF read from this side */
	uint8_t shut[2];      /* write side of this side shut down */
	uint8_t paused[2];    /* reading this side paused for backpressure */
};

/*
 * Start relaying between two connected bufferevents. Installs the relay's
 * callbacks on both, sets the idle timeout, and enables reading. Bytes
 * already in either input buffer are forwarded at once.
 */
void relay_start(struct relay *relay, struct bufferevent *client,
		 struct bufferevent *backend, uint32_t idle_ms,
		 relay_done_cb done_cb, void *arg);

#endif
