/* SPDX-License-Identifier: MIT */
/*
 * One client connection of an http listener: read each request head,
 * route it, forward it to a backend connection (new or from the pool) with
 * its body, send the response back, and go on with the next request of a
 * keep-alive connection; an answered upgrade turns the connection into the
 * byte relay. http_session_close is the only path that frees one.
 */
#ifndef PORTIER_HTTP_SESSION_H
#define PORTIER_HTTP_SESSION_H

#include <stddef.h>
#include <sys/socket.h>

struct listener;
struct metrics_conn;
struct ssl_st;

/* Start a session for a freshly accepted client socket of an http
 * listener, with its TLS (after the handshake) or NULL; takes ownership of
 * fd and ssl (freed on any failure) and a reference on the listener. */
void http_session_start(struct listener *l, int fd, struct ssl_st *ssl,
			const struct sockaddr *sa, socklen_t salen);

/* Number of HTTP sessions alive in this worker thread. */
size_t http_session_count(void);

/* Describe up to max HTTP sessions of this thread into out; returns how
 * many, and adds how many there are to *total. */
size_t http_session_describe(struct metrics_conn *out, size_t max,
			     size_t *total);

/* A graceful stop began: close this worker's connections that wait
 * between requests now, and every other after its response. */
void http_session_stop(void);

/* A reload replaced listeners: this worker's connections of those
 * listeners that wait between requests close now, the others after their
 * response, so that every next request meets the new configuration. */
void http_session_retire(void);

/* The event loop's turn is over: write what this worker's sessions have
 * for their clients (they hold it until then; see http_session.c). */
void http_session_flush(void);

/* Close every HTTP session and idle backend connection of this worker
 * thread now (end of the drain period). */
void http_session_close_all(void);

#endif
