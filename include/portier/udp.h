/* SPDX-License-Identifier: MIT */
/*
 * UDP forwarding (mode = udp): one bound socket per bind address, and a
 * flow per client address, each with its own connected socket to the
 * backend so that the backend's answers find their way back to the client
 * that caused them. A flow ends after timeout_idle without a datagram
 * either way, or when the flow limit (max_connections) makes room for a
 * new client by evicting the least recently used one.
 *
 * A udp_listener belongs to one worker; its flows live in that worker's
 * thread and count toward max_connections like TCP sessions, but a
 * graceful stop does not wait for them.
 */
#ifndef PORTIER_UDP_H
#define PORTIER_UDP_H

#include <stddef.h>

struct addr;
struct config_listener;
struct metrics_conn;
struct runtime;

struct udp_listener;

/*
 * Bind every address of `cfg` (mode udp) for worker `rt` (keeping the
 * sockets of a reload's previous listeners), for the generation
 * runtime_building(rt) gives; reading starts with udp_listener_start. On
 * failure writes "cannot bind ADDR (listener NAME): why" into
 * err, closes what it opened and returns NULL. `cfg` must outlive the
 * listener.
 */
struct udp_listener *udp_listener_new(struct runtime *rt,
				      const struct config_listener *cfg,
				      char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Start reading the clients' datagrams; in the thread of the listener's
 * worker. Returns 0 or -1. */
int udp_listener_start(struct udp_listener *u)
	__attribute__((warn_unused_result));

/* The bound socket of u for address a, or -1 (for a reload to keep). */
int udp_listener_find_socket(const struct udp_listener *u,
			     const struct addr *a);

/* The listener's configuration. */
const struct config_listener *udp_listener_config(const struct udp_listener *u);

/* Its live flows. */
size_t udp_listener_flows(const struct udp_listener *u);

/* A reload replaced `from` with `to`, a listener of the same name, worker,
 * backend and PROXY setting: its flows move to `to`, whose sockets hold the
 * same addresses, so that each client keeps its flow (and the backend
 * sees it from the same port). Flows whose address `to` does not bind
 * stay with `from`. In the worker's thread. */
void udp_listener_adopt(struct udp_listener *to, struct udp_listener *from);

/* Stop reading the clients' datagrams (graceful stop). Live flows still
 * deliver the backend's answers until udp_close_all; a listener without
 * flows closes its sockets at once. */
void udp_listener_close(struct udp_listener *u);

/* Close the sockets and every flow, and free the listener; accepts NULL.
 * Runs after the owning worker's loop ended. */
void udp_listener_free(struct udp_listener *u);

/* Flows alive in every worker together. */
size_t udp_flow_count(void);

/* Describe up to max flows of this worker thread into out; returns how
 * many, and adds how many there are to *total. */
size_t udp_describe(struct metrics_conn *out, size_t max, size_t *total);

/* End every flow of this worker thread now (end of the drain period). */
void udp_close_all(void);

#endif
