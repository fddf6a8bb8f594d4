/* SPDX-License-Identifier: MIT */
/*
 * The route table of one http (or tls-passthrough) listener: which vhost a
 * Host or SNI name picks, and which backend a path within it goes to.
 *
 * Built once from the configuration, then only read. Lookup order, as
 * DESIGN.md says: an exact name or alias, then the longest matching
 * "*.suffix" wildcard, then the listener's own backend; within a vhost,
 * the longest matching route prefix, then the vhost's backend. The table
 * owns the upstreams of its vhosts and routes.
 */
#ifndef PORTIER_ROUTE_H
#define PORTIER_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

struct config;
struct config_listener;
struct config_vhost;
struct upstream;
struct route_table;

/* What a request goes to. */
struct route_match {
	const struct config_vhost *vhost; /* NULL when no vhost matched */
	struct upstream *upstream;	  /* NULL: nothing serves it (404) */
	const char *prefix;		  /* the route prefix that matched,
					     or NULL */
};

/*
 * Build the table of listener `l` from the vhosts of `cfg` that serve it
 * (those that name it, and those that name no listener). `fallback` is the
 * listener's own backend, or NULL when it has none; it is not owned. Both
 * `cfg` and `fallback` must outlive the table. Returns NULL when out of
 * memory.
 */
struct route_table *route_table_new(const struct config *cfg,
				    const struct config_listener *l,
				    struct upstream *fallback)
	__attribute__((warn_unused_result));


/* The backends of the table's vhosts and routes (to close their idle
 * connections before the table goes). Sets *n. */
struct upstream *route_upstreams(struct route_table *t, size_t *n);

/* Free a table; accepts NULL. */
void route_table_free(struct route_table *t);

/*
 * Route a request for `host` (lower case, no port, as http.c gives it; ""
 * when there was none) and `path` (the request target's path, len bytes,
 * query included; may be empty). Fills *m and returns true when something
 * serves it, false (m->upstream NULL) when the answer is 404. A wildcard
 * "*.app.test" matches "x.app.test" and "a.b.app.test", not "app.test".
 * A route prefix "/api" matches "/api", "/api/...", "/api?..." but not
 * "/apix"; a prefix that ends in '/' matches everything below it. A path
 * that matches none of the routes of a vhost without a backend goes to the
 * listener's backend, or is a 404; m->vhost names that vhost either way.
 * Does not allocate.
 */
bool route_lookup(const struct route_table *t, const char *host,
		  const char *path, size_t len, struct route_match *m);

/* Route a TLS connection by its server name alone, as tls-passthrough
 * does: to the backend of the vhost `host` names (its routes are not
 * looked at), else to the listener's. As route_lookup otherwise. */
bool route_lookup_name(const struct route_table *t, const char *host,
		       struct route_match *m);

/* The vhost names (names, aliases, wildcards) this listener serves, in
 * the order of the configuration file, for the 404 page. Sets *n. */
const char *const *route_names(const struct route_table *t, size_t *n);

/* The vhost that serves `host` (lower case, no port): an exact name or
 * alias, else the longest matching wildcard; NULL when none does (for
 * SNI). Does not allocate. */
const struct config_vhost *route_vhost(const struct route_table *t,
				       const char *host);

#endif
