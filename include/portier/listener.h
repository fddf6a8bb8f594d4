/* SPDX-License-Identifier: MIT */
/*
 * A configured listener: its bound sockets (one per bind address, two for
 * `*:PORT` and `localhost:PORT`), its backend, its access list and limits.
 * Sessions hold a reference so that the listener outlives them.
 */
#ifndef PORTIER_LISTENER_H
#define PORTIER_LISTENER_H

#include <stdbool.h>
#include <stddef.h>

struct addr;
struct config_listener;
struct config_vhost;
struct metrics_backend;
struct metrics_listener;
struct metrics_vhost;
struct runtime;
struct route_table;
struct upstream;
struct tls_server;

struct listener;

/*
 * Bind every address of `cfg` (keeping the sockets of a reload's previous
 * listeners), for the generation runtime_building(rt) gives; accepting
 * starts with listener_start. On failure writes
 * "cannot bind ADDR (listener NAME): why" into err, closes what it opened
 * and returns NULL. `cfg` must outlive the listener.
 */
struct listener *listener_new(struct runtime *rt,
			      const struct config_listener *cfg, char *err,
			      size_t errlen) __attribute__((warn_unused_result));

/* Start accepting; in the thread of the listener's worker. Returns 0 or
 * -1. */
int listener_start(struct listener *l) __attribute__((warn_unused_result));

/* The listening socket of l bound to a, or -1 (for a reload to keep). */
int listener_find_socket(const struct listener *l, const struct addr *a);

/* Stop accepting and close the listening sockets; sessions go on. */
void listener_close(struct listener *l);

/* True once listener_close ran: a reload (or the stop) replaced it, and
 * its sessions serve what they began, not more. */
bool listener_closed(const struct listener *l);

/* Take a reference. */
struct listener *listener_ref(struct listener *l);

/* Drop a reference; the last one frees the listener. Accepts NULL. */
void listener_unref(struct listener *l);

/* The listener's configuration. */
const struct config_listener *listener_config(const struct listener *l);

/* The listener's default backend. */
struct upstream *listener_upstream(struct listener *l);

/* The route table of an http or tls-passthrough listener; NULL for
 * other modes. */
const struct route_table *listener_routes(const struct listener *l);

/* The listener's TLS contexts, or NULL when it does not terminate TLS. */
struct tls_server *listener_tls(const struct listener *l);

/* The runtime the listener belongs to. */
struct runtime *listener_runtime(const struct listener *l);

/* A session of this listener ended (counts toward max_connections). */
void listener_session_closed(struct listener *l);

/* This worker's counters of the listener. */
struct metrics_listener *listener_metrics(const struct listener *l);

/* ... of vhost v (of the listener's configuration; NULL: a request no
 * vhost served) on this listener; v must serve the listener. */
struct metrics_vhost *listener_vhost_metrics(const struct listener *l,
					     const struct config_vhost *v);

/* ... of backend up: the listener's own, or one of its route table's. */
struct metrics_backend *listener_backend_metrics(const struct listener *l,
						 const struct upstream *up);

#endif
