/* SPDX-License-Identifier: MIT */
/*
 * The running daemon: a configuration turned into live listeners on one
 * event loop, plus the signals that stop it. Owns the config it runs.
 */
#ifndef PORTIER_RUNTIME_H
#define PORTIER_RUNTIME_H

#include <stddef.h>

struct config;
struct config_global;
struct event_base;
struct runtime;

/* Seconds a graceful stop waits for connections to finish. */
#define RUNTIME_DRAIN_SECONDS 10

/*
 * Build and bind every listener of cfg (taking ownership of cfg). On failure
 * prints why to the log, frees what it built and returns NULL; the caller
 * exits with status 2.
 */
struct runtime *runtime_new(struct config *cfg)
	__attribute__((warn_unused_result));

/* Run the event loop until a stop signal and the drain complete. Returns
 * the process exit status. */
int runtime_run(struct runtime *rt);

/* Free everything; accepts NULL. */
void runtime_free(struct runtime *rt);

/* The event loop. */
struct event_base *runtime_base(const struct runtime *rt);

/* The [global] settings in force. */
const struct config_global *runtime_global(const struct runtime *rt);

/* True when total live sessions reached [global] max_connections. */
int runtime_full(const struct runtime *rt);

/* A session ended; while stopping, the last one ends the loop. */
void runtime_session_closed(struct runtime *rt);

#endif
