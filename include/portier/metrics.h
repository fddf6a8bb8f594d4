/* SPDX-License-Identifier: MIT */
/*
 * Counters behind the status page and /metrics, and the snapshots of live
 * connections behind its list of connections.
 *
 * Counting costs next to nothing where connections and requests are
 * handled. Every counter block belongs to one worker thread, which alone
 * writes it (a relaxed load and store: no locked instruction), and starts
 * on a cache line of its own, so two workers never write the same line. A
 * listener takes its blocks (its own, one per vhost it serves, one per
 * backend it may connect) from a registry keyed by name when it is built:
 * the hot path never looks anything up. Readers sum the blocks of every
 * worker with relaxed atomic loads: a sum may be a moment old, never torn.
 * Blocks are never freed, so a counter goes on across reloads for as long
 * as its name stays in the configuration.
 */
#ifndef PORTIER_METRICS_H
#define PORTIER_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portier/addr.h"

/* Buckets of the request duration histogram: the bounds of
 * metrics_bucket_us, then +Inf. */
#define METRICS_BUCKETS 13

/* Status classes counted: 1xx to 5xx. */
#define METRICS_CLASSES 5

/* Most live connections one worker describes in a snapshot. */
#define METRICS_LIVE_MAX 200

/* The upper bounds of the histogram's finite buckets, in microseconds. */
extern const uint64_t metrics_bucket_us[METRICS_BUCKETS - 1];

/* The counters of one listener in one worker. */
struct metrics_listener {
	_Atomic uint64_t accepted;	/* admitted connections (udp: flows) */
	_Atomic uint64_t closed;	/* of those, ended */
	_Atomic uint64_t refused_acl;	/* closed by deny or allow (udp:
					   datagrams dropped) */
	_Atomic uint64_t refused_limit; /* closed by max_connections */
	_Atomic uint64_t tls_ok;	/* TLS handshakes completed */
	_Atomic uint64_t tls_failed;	/* ... failed or timed out */
	_Atomic uint64_t bytes_in;	/* read from clients */
	_Atomic uint64_t bytes_out;	/* written to clients */
	/* HTTP request durations, head received to response complete. */
	_Atomic uint64_t duration[METRICS_BUCKETS];
	_Atomic uint64_t duration_sum_us;
};

/* The counters of one vhost of one listener in one worker (vhost "":
 * requests that no vhost served). */
struct metrics_vhost {
	_Atomic uint64_t requests[METRICS_CLASSES]; /* by status class */
	_Atomic uint64_t bytes_in;
	_Atomic uint64_t bytes_out;
};

struct metrics_backend_state;

/* The counters of one backend address in one worker. */
struct metrics_backend {
	_Atomic uint64_t connects; /* connects that succeeded */
	_Atomic uint64_t failures; /* connects that failed */
	struct metrics_backend_state *state; /* shared by the workers */
};

/* A backend's state as the last connect to it left it. */
enum metrics_up {
	METRICS_UNKNOWN, /* never tried */
	METRICS_UP,	 /* the last connect succeeded */
	METRICS_DOWN,	 /* the last connect failed */
};

/* Sums over the workers, for readers. */
struct metrics_listener_sum {
	uint64_t accepted, closed, refused_acl, refused_limit;
	uint64_t tls_ok, tls_failed, bytes_in, bytes_out;
	uint64_t duration[METRICS_BUCKETS]; /* not cumulative */
	uint64_t duration_sum_us;
};

struct metrics_vhost_sum {
	uint64_t requests[METRICS_CLASSES];
	uint64_t bytes_in, bytes_out;
};

struct metrics_backend_sum {
	uint64_t connects, failures;
	enum metrics_up up;
	int64_t since;	    /* unix time of the last change of `up` */
	int64_t failed_at;  /* unix time of the last failure, or 0 */
	int last_error;	    /* errno of the last failure */
};

/* One live connection, as a worker described it. */
struct metrics_conn {
	char client[ADDR_STRLEN];
	char listener[64];
	char vhost[128];		/* "" when none */
	char backend[ADDR_STRLEN];	/* "" when none yet */
	const char *state;		/* a static string: "relaying"... */
	uint64_t bytes_in, bytes_out;	/* from and to the client */
	int64_t started_ms;		/* unix time in ms */
};

/* Add n to a counter of a block that this thread alone writes. */
static inline void metrics_add(_Atomic uint64_t *c, uint64_t n)
{
	atomic_store_explicit(
	    c, atomic_load_explicit(c, memory_order_relaxed) + n,
	    memory_order_relaxed);
}

/* Set up the registry for `nworkers` workers; once, before any block is
 * asked for. Returns 0 or -1 (out of memory). */
int metrics_init(unsigned nworkers) __attribute__((warn_unused_result));

/* The blocks of worker `worker` for a listener, a vhost of a listener and
 * a backend address, made on first use; NULL when out of memory. Safe
 * from any thread. */
struct metrics_listener *metrics_listener_get(const char *listener,
					      unsigned worker);
struct metrics_vhost *metrics_vhost_get(const char *listener,
					const char *vhost, unsigned worker);
struct metrics_backend *metrics_backend_get(const char *backend,
					    unsigned worker);

/* An HTTP request ended with `status` (0: no response was sent), having
 * moved the bytes given, `us` microseconds after its head came. */
void metrics_request(struct metrics_listener *l, struct metrics_vhost *v,
		     int status, uint64_t bytes_in, uint64_t bytes_out,
		     uint64_t us);

/* A connect to a backend ended: err 0 when it succeeded, else its errno.
 * The shared state is written only when it changes, or on a failure. */
void metrics_backend_result(struct metrics_backend *b, int err);

/* A reload (SIGHUP) succeeded or was refused. */
void metrics_reload(bool ok);

/* Reloads that succeeded and that were refused; the start (unix time). */
void metrics_reloads(uint64_t *ok, uint64_t *failed);
int64_t metrics_started(void);

/* Sums of a name's blocks; false (and zeros) for a name never seen. */
bool metrics_listener_read(const char *listener,
			   struct metrics_listener_sum *out);
bool metrics_vhost_read(const char *listener, const char *vhost,
			struct metrics_vhost_sum *out);
bool metrics_backend_read(const char *backend,
			  struct metrics_backend_sum *out);

/* Call fn for every name seen since the start, in the order first seen,
 * with its sums; fn must not call back into the registry. */
void metrics_listener_each(void (*fn)(const char *listener,
				      const struct metrics_listener_sum *s,
				      void *arg),
			   void *arg);
void metrics_vhost_each(void (*fn)(const char *listener, const char *vhost,
				   const struct metrics_vhost_sum *s,
				   void *arg),
			void *arg);
void metrics_backend_each(void (*fn)(const char *backend,
				     const struct metrics_backend_sum *s,
				     void *arg),
			  void *arg);

/*
 * Live connections. Sessions live in their worker's thread, so a reader
 * asks each worker for a snapshot (metrics_live_ask, then an order to
 * every worker, which calls metrics_live_take in its thread) and waits
 * until metrics_live_ready. A snapshot costs nothing until asked for.
 */

/* A new request for snapshots; returns the number to wait for. */
uint64_t metrics_live_ask(void);

/* In worker `worker`'s thread: fill its snapshot with `describe`, which
 * writes up to max connections into out and sets *total to how many the
 * worker has. Answers every request made so far. */
void metrics_live_take(unsigned worker,
		       size_t (*describe)(struct metrics_conn *out, size_t max,
					  size_t *total));

/* The last request worker `worker` answered. */
uint64_t metrics_live_answered(unsigned worker);

/* True when every worker answered request `seq`. */
bool metrics_live_ready(uint64_t seq);

/* Call fn with each worker's snapshot (its connections, how many the
 * worker had, and whether it answered request `seq`), under the
 * snapshot's lock. */
void metrics_live_read(uint64_t seq,
		       void (*fn)(const struct metrics_conn *c, size_t n,
				  size_t total, bool fresh, void *arg),
		       void *arg);

#endif
