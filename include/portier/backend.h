/* SPDX-License-Identifier: MIT */
/*
 * Connections to HTTP backends, and the idle pool that lets later requests
 * reuse them.
 *
 * A backend connection is either in use by one owner (an HTTP session),
 * which gets every event of its socket through a callback, or idle in its
 * upstream's pool, where a timeout, a close by the backend or any byte it
 * sends unasked ends it. Pools belong to the worker thread that made them,
 * like the upstreams they hang on.
 */
#ifndef PORTIER_BACKEND_H
#define PORTIER_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct event;
struct event_base;
struct upstream;
struct backend;

/* Idle connections a pool keeps per upstream and worker. */
#define BACKEND_POOL_MAX 64

/* How long an idle connection is kept: below the 5 s keep-alive timeout
 * of Node's HTTP server, which many dev servers run on. */
#define BACKEND_POOL_IDLE_MS 4000

/* Passed to the owner's callback when connecting failed for good. */
#define BACKEND_FAILED 0x1000

/* An owner's callback: `what` holds libevent's EV_READ, EV_WRITE,
 * EV_CLOSED, EV_TIMEOUT, or BACKEND_FAILED. During the connect, EV_WRITE
 * means connected. */
typedef void (*backend_io_cb)(struct backend *b, short what, void *owner);

/* One connection to a backend. */
struct backend {
	LIST_ENTRY(backend) pool_entry; /* in the upstream's idle pool */
	LIST_ENTRY(backend) all_entry;	/* in the thread's idle list */
	struct upstream *up;
	backend_io_cb io;
	void *owner; /* NULL while idle */
	struct event *ev;
	int fd;
	int error;	     /* connect failure: errno (ETIMEDOUT on timeout) */
	int first_error;     /* localhost: why the first address failed */
	uint32_t requests;   /* requests sent on it */
	uint32_t connect_ms; /* connect timeout of each address */
	uint8_t connecting;  /* the connect has not finished */
	uint8_t failed;	     /* the connect failed for good */
	uint8_t attempt;     /* index of the address tried */
	uint8_t ntargets;    /* addresses the upstream has */
	uint8_t v4_first;    /* localhost order of this connection */
	uint8_t reused;	     /* taken from the pool */
	uint8_t idle;	     /* in the pool */
};

/*
 * A connection to `up` for `owner`: an idle one from the pool when
 * `pooled` and there is one (reused set; its liveness was watched while
 * idle), else a new
 * connect that reports through `io` (EV_WRITE when connected,
 * BACKEND_FAILED with b->error otherwise), trying each address of a
 * localhost backend. A connect that fails at once on every address
 * returns a backend with `failed` set, whose callback never runs: the
 * caller reads the error and frees it. Returns NULL only when out of
 * memory.
 */
struct backend *backend_get(struct upstream *up, struct event_base *base,
			    unsigned connect_timeout_ms, bool pooled,
			    backend_io_cb io, void *owner)
	__attribute__((warn_unused_result));

/* Set the timeout of the connection's event (the owner's idle timeout; a
 * NULL tv for none). Returns 0 or -1. */
int backend_set_timeout(struct backend *b, const struct timeval *tv)
	__attribute__((warn_unused_result));

/* Give a connection back after a complete exchange: parked in the pool, or
 * closed when the pool is full. The owner must not touch it again. */
void backend_release(struct backend *b);

/* True when the connection's socket holds bytes, or its end, that nobody
 * has read: it must not serve another request. */
bool backend_has_input(const struct backend *b);

/* Close a connection and free it; accepts NULL. */
void backend_close(struct backend *b);

/* "connect to 127.0.0.1:3000 failed: Connection refused" and, for both
 * localhost families, each address with its error, into buf. */
char *backend_describe_error(const struct backend *b, char *buf, size_t len);

/* Close every idle connection of this thread (end of the worker). */
void backend_close_idle(void);

/* Close the idle connections to one backend (its listener is going). */
void backend_close_idle_of(struct upstream *up);

#endif
