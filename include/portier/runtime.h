/* SPDX-License-Identifier: MIT */
/*
 * The running daemon: a configuration turned into live listeners on one
 * event loop per worker, plus the signals that stop it. Owns the config
 * it runs. A struct runtime is one worker; runtime_new returns worker 0,
 * which runs in the main thread, and runtime_run starts the others.
 */
#ifndef PORTIER_RUNTIME_H
#define PORTIER_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct config_global;
struct config_listener;
struct event_base;
struct addr;
struct runtime;
struct tls_server;

/* Seconds a graceful stop waits for connections to finish. */
#define RUNTIME_DRAIN_SECONDS 10

/*
 * Build and bind every listener of cfg (taking ownership of cfg). On failure
 * prints why to the log, frees what it built, sets *status to the exit
 * status it calls for and returns NULL: 1 when a file the configuration
 * names is not what it should be (not a PEM certificate chain or key, a
 * key of another certificate, a directory), found before any port is
 * opened; 2 for a runtime error (a certificate or key file that is missing
 * or may not be read, a port that cannot be bound, a privilege drop that
 * fails).
 */
struct runtime *runtime_new(struct config *cfg, int *status)
	__attribute__((warn_unused_result));

/* Start the other workers' threads and run worker 0's loop until a stop
 * signal and the drain complete, then wait for the workers. Returns the
 * process exit status. */
int runtime_run(struct runtime *rt);

/* Free everything; accepts NULL. */
void runtime_free(struct runtime *rt);

/* This worker's event loop. */
struct event_base *runtime_base(const struct runtime *rt);

/* A TLS connection or a stream session starts in rt's thread: from now
 * on, while any lives, a sweep runs every second (the buffers of idle TLS
 * connections go back, the bytes that sessions moved are counted). */
void runtime_sweep_start(struct runtime *rt);

/* The [global] settings in force. */
const struct config_global *runtime_global(const struct runtime *rt);

/* The whole configuration in force. */
const struct config *runtime_config(const struct runtime *rt);

/*
 * A generation: one configuration brought to life, with what every worker
 * shares of it (TLS contexts, per-listener connection counts). A reload
 * makes a new one; listeners hold a reference on theirs, so the old one
 * lives until the last connection that began under it ends.
 */
struct runtime_gen;

/* Take or drop a reference on a generation (any thread). */
struct runtime_gen *runtime_gen_ref(struct runtime_gen *gen);
void runtime_gen_unref(struct runtime_gen *gen);

/* The generation's configuration. */
const struct config *runtime_gen_config(const struct runtime_gen *gen);

/* The TLS side of listener `cl` of the generation; NULL without TLS. */
struct tls_server *runtime_gen_tls(const struct runtime_gen *gen,
				   const struct config_listener *cl);

/* The generation new listeners of this worker belong to: the current one,
 * or during a reload the one being built. */
struct runtime_gen *runtime_building(const struct runtime *rt);

/*
 * A listening socket of this worker's running listeners bound to `a`
 * (type SOCK_STREAM or SOCK_DGRAM), duplicated, for a reload to keep the
 * address open without a moment's gap; -1 when there is none.
 */
int runtime_inherit_socket(const struct runtime *rt, const struct addr *a,
			   int type);

/* During a reload: true when the running listener of this worker named
 * `name` listens on `a` (type SOCK_STREAM or SOCK_DGRAM), an address the
 * new one of that name keeps rather than begins; false at the start. */
bool runtime_listened(const struct runtime *rt, const char *name,
		      const struct addr *a, int type);

/* The number of workers (event loops) running. */
unsigned runtime_workers(const struct runtime *rt);

/* True for worker 0, the one in the main thread. */
bool runtime_is_first(const struct runtime *rt);

/* Say at info level what a new listener does ("listener NAME: listening
 * on ..."), once for all workers (worker 0 says it). At the start the
 * line is written at once; during a reload it waits until the new
 * configuration is in force, and is dropped when the reload fails, so
 * that the log never announces a port that was not kept. */
void runtime_announce(struct runtime *rt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The worker's number, 0 to runtime_workers() - 1. */
unsigned runtime_index(const struct runtime *rt);

/* From worker 0: ask every worker for a snapshot of its live connections
 * (metrics_live_take; worker 0's own is taken at once). Returns the number
 * metrics_live_ready waits for. */
uint64_t runtime_describe(struct runtime *rt);

/* Whether a new connection fits the limits. */
enum runtime_admit {
	RUNTIME_ADMITTED,
	RUNTIME_FULL,	       /* [global] max_connections reached */
	RUNTIME_LISTENER_FULL, /* the listener's max_connections reached */
};

/* Count a new session of listener `cl` against the global and listener
 * limits (shared by every worker); when it does not fit, nothing is
 * counted. */
enum runtime_admit runtime_admit(struct runtime *rt, struct runtime_gen *gen,
				 const struct config_listener *cl);

/* An admitted session of `cl` ended; while stopping, this worker's last
 * one ends its loop. */
void runtime_session_closed(struct runtime *rt, struct runtime_gen *gen,
			    const struct config_listener *cl);

#endif
