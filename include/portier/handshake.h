/* SPDX-License-Identifier: MIT */
/*
 * The TLS handshake of a connection accepted on a tls listener, before
 * its session starts: bounded by timeout_header, logged with the client's
 * address and OpenSSL's reason when it fails, and touching no other
 * connection. A completed handshake hands the socket and its SSL to
 * session_begin.
 */
#ifndef PORTIER_HANDSHAKE_H
#define PORTIER_HANDSHAKE_H

#include <stddef.h>
#include <sys/socket.h>

struct listener;
struct metrics_conn;

/* Start the handshake on a freshly accepted socket of a tls listener;
 * takes ownership of fd (closed on failure) and a reference on l. */
void handshake_start(struct listener *l, int fd, const struct sockaddr *sa,
                     socklen_t salen);

/* Number of handshakes under way in this worker thread. */
size_t handshake_count(void);

/* Describe up to max handshakes of this thread into out; returns how
 * many, and adds how many there are to *total. */
size_t handshake_describe(struct metrics_conn *out, size_t max,
                          size_t *total);

/* Abandon every handshake of this worker thread (end of the drain). */
void handshake_close_all(void);

#endif
