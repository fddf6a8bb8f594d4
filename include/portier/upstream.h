/* SPDX-License-Identifier: MIT */
/*
 * A backend address and how to reach it.
 *
 * For `localhost:PORT` the backend may listen on [::1], on 127.0.0.1 or on
 * both; upstream_targets lists both in the order to try, the family that
 * answered last time first, and upstream_answered records which one did.
 */
#ifndef PORTIER_UPSTREAM_H
#define PORTIER_UPSTREAM_H

#include <stdbool.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include "portier/addr.h"

struct backend;

/* A backend of a listener or vhost. */
struct upstream {
	struct addr addr;
	bool prefer_v4;		 /* localhost: 127.0.0.1 answered last */
	char name[ADDR_STRLEN];	 /* as the user wrote it, for logs */
	/* Idle HTTP connections to it (backend.h), of the worker thread
	 * that owns the upstream. */
	LIST_HEAD(upstream_idle, backend) idle;
	unsigned nidle;
	bool hinted; /* the dev-server host check hint was logged */
};

/* A socket address to connect to. */
struct upstream_target {
	union {
		struct sockaddr sa;
		struct sockaddr_storage ss;
	} u;
	socklen_t len;
};

/* Initialise from a parsed backend address. */
void upstream_init(struct upstream *up, const struct addr *addr);

/* Fill out[0..1] with the addresses to try, in order (for localhost,
 * 127.0.0.1 first when v4_first); returns how many. A session takes
 * v4_first from upstream_prefers_v4 once, so that its order holds even
 * when another session's answer changes the preference meanwhile. */
int upstream_targets(const struct upstream *up, bool v4_first,
		     struct upstream_target out[2]);

/* True when 127.0.0.1 answered last for a localhost backend. */
bool upstream_prefers_v4(const struct upstream *up);

/* Remember that the address of `family` answered, so that it is tried
 * first next time. */
void upstream_answered(struct upstream *up, int family);

/*
 * Open a non-blocking, close-on-exec socket for target and start connecting
 * (TCP_NODELAY set for TCP). Returns the fd with *connected set when the
 * connect finished at once (unix sockets), or -1 with errno set when the
 * connect failed at once (ENOENT, ECONNREFUSED...).
 */
int upstream_connect(const struct upstream_target *target, bool *connected)
	__attribute__((warn_unused_result));

/* True when an error from connecting to one localhost family is worth
 * retrying on the other. */
bool upstream_retryable(int err);

#endif
