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

struct config;
struct config_global;
struct config_listener;
struct event_base;
struct runtime;
struct tls_server;

/* Seconds a graceful stop waits for connections to finish. */
#define RUNTIME_DRAIN_SECONDS 10

/*
 * Build and bind every listener of cfg (taking ownership of cfg). On failure
 * prints why to the log, frees what it built and returns NULL; the caller
 * exits with status 2.
 */
struct runtime *runtime_new(struct config *cfg)
	__attribute__((warn_unused_result));

/* Start the other workers' threads and run worker 0's loop until a stop
 * signal and the drain complete, then wait for the workers. Returns the
 * process exit status. */
int runtime_run(struct runtime *rt);

/* Free everything; accepts NULL. */
void runtime_free(struct runtime *rt);

/* This worker's event loop. */
struct event_base *runtime_base(const struct runtime *rt);

/* The [global] settings in force. */
const struct config_global *runtime_global(const struct runtime *rt);

/* The whole configuration in force. */
const struct config *runtime_config(const struct runtime *rt);

/* The TLS side of listener `cl`, shared by every worker; NULL without
 * TLS. */
struct tls_server *runtime_tls(const struct runtime *rt,
			       const struct config_listener *cl);

/* The number of workers (event loops) running. */
unsigned runtime_workers(const struct runtime *rt);

/* True for worker 0, the one in the main thread. */
bool runtime_is_first(const struct runtime *rt);

/* Whether a new connection fits the limits. */
enum runtime_admit {
	RUNTIME_ADMITTED,
	RUNTIME_FULL,	       /* [global] max_connections reached */
	RUNTIME_LISTENER_FULL, /* the listener's max_connections reached */
};

/* Count a new session of listener `cl` against the global and listener
 * limits (shared by every worker); when it does not fit, nothing is
 * counted. */
enum runtime_admit runtime_admit(struct runtime *rt,
				 const struct config_listener *cl);

/* An admitted session of `cl` ended; while stopping, this worker's last
 * one ends its loop. */
void runtime_session_closed(struct runtime *rt,
			    const struct config_listener *cl);

#endif
