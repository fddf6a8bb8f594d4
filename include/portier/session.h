/* SPDX-License-Identifier: MIT */
/*
 * One client connection, from accept to close: connect the backend (trying
 * each address of a localhost backend), send the PROXY header, relay, and
 * log why it ended. session_close is the only path that frees one.
 */
#ifndef PORTIER_SESSION_H
#define PORTIER_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct listener;
struct metrics_conn;
struct ssl_st;

/* Start a session for a freshly accepted client socket: the TLS
 * handshake first on a tls listener, then session_begin. Takes ownership
 * of fd (closed on any failure) and a reference on the listener. */
void session_start(struct listener *l, int fd, const struct sockaddr *sa,
		   socklen_t salen);

/* Start the session proper of the listener's mode, with the connection's
 * TLS (handshake done) or NULL; takes ownership of fd and ssl. */
void session_begin(struct listener *l, int fd, struct ssl_st *ssl,
		   const struct sockaddr *sa, socklen_t salen);

/* Number of sessions alive in this worker thread. */
size_t session_count(void);

/* Add the bytes this worker thread's sessions moved since the last call
 * to their counters (every second, from the worker's sweep). True while
 * any session lives. */
bool session_count_bytes(void);

/* Describe up to max connections of this worker thread, of every kind
 * (sessions, HTTP sessions, TLS handshakes, UDP flows), into out for the
 * status page; returns how many, and sets *total to how many there are. */
size_t session_describe(struct metrics_conn *out, size_t max,
			size_t *total);

/* Close every session of this worker thread now (end of the drain
 * period). */
void session_close_all(void);

#endif
