/* SPDX-License-Identifier: MIT */
/*
 * The route table of one http or tls-passthrough listener: the vhosts that
 * serve it, found by name, and the backend of each request path.
 *
 * Exact names and aliases sit in one open-addressing hash set; the
 * suffixes of the "*.suffix" wildcards sit in another, with a bitmap of
 * their lengths so that a lookup hashes only the host's suffixes that
 * could match. The cost of a lookup thus depends on the host's length and
 * labels, never on the number of vhosts. Routes are kept per vhost,
 * longest prefix first, so the first that matches is the longest.
 *
 * Decisions the header leaves open:
 * - Two vhosts with one name cannot pass the configuration checks; should
 *   one reach this module anyway, the first in file order keeps it.
 * - A vhost without a backend whose routes do not match a path sends it to
 *   the listener's backend, else answers 404; route_match.vhost still
 *   names that vhost, so that its settings (auth) apply.
 * - Host names are compared in any case (the caller lower-cases them, but
 *   a TLS server name may come as the client wrote it), and one trailing
 *   dot is ignored ("app.test." is "app.test").
 * - Paths are compared byte for byte, as sent: no case folding, no
 *   percent-decoding, no dot-segment removal. The query (from '?') is not
 *   part of the path; an empty path, or one that does not start with '/'
 *   (asterisk form), is matched as "/".
 *
 * The table owns its upstreams; everything else points into the config.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "portier/route.h"
#include "portier/config.h"
#include "portier/upstream.h"

/* Longest host name the table can hold (RFC 1035, and config's limit). */
#define ROUTE_NAME_MAX 255

/* One entry of a hash set: an exact name, or a wildcard's suffix (what
 * follows "*."). */
struct route_slot {
	const char *name; /* lower case; NULL: the slot is free */
	uint32_t len;
	uint32_t hash;
	uint32_t vhost; /* index into route_table.vhosts */
};

/* An open-addressing hash set with linear probing, at most half full. */
struct route_set {
	struct route_slot *slots; /* NULL when the set is empty */
	uint32_t mask;            /* number of slots - 1 (a power of two) */
};

/* One `route = PREFIX BACKEND`. */
struct route_path {
	const char *prefix;
	size_t len;
	struct upstream *upstream;
};

/* A vhost that serves this listener. */
struct route_vhost {
	const struct config_vhost *conf;
	struct upstream *backend; /* NULL when the vhost has none */
	struct route_path *paths; /* longest prefix first */
	size_t npaths;
};

struct route_table {
	struct upstream *fallback; /* the listener's backend, or NULL */
	struct route_vhost *vhosts;
	size_t nvhosts;
	struct upstream *upstreams; /* of every vhost and route */
	size_t nupstreams;
	struct route_path *paths;   /* of every vhost */
	struct route_set exact;
	struct route_set wild;
	/* bit n set: some wildcard suffix is n bytes long */
	uint64_t wild_lens[(ROUTE_NAME_MAX + 64) / 64];
	const char **names; /* every name and alias, file order */
	size_t nnames;
};

static int route_set_init(struct route_set *s, size_t n);
static void route_set_add(struct route_set *s, const char *name,
                          uint32_t vhost);
static const struct route_slot *route_set_get(const struct route_set *s,
                                              const char *name, size_t len);
static void route_add_name(struct route_table *t, const char *name,
                           uint32_t vhost);
static void route_sort_paths(struct route_path *p, size_t n);
static const struct route_vhost *route_find(const struct route_table *t,
                                            const char *host);
static const struct route_path *route_find_path(const struct route_vhost *v,
                                                const char *path, size_t len);

struct route_table *route_table_new(const struct config *cfg,
                                    const struct config_listener *l,
                                    struct upstream *fallback)
{
	struct route_table *t;
	size_t nv = 0, nnames = 0, nwild = 0, npaths = 0, nup = 0;
	struct upstream *up;
	struct route_path *path;

	if (!(t = calloc(1, sizeof(*t))))
		return NULL;
	t->fallback = fallback;
	for (size_t i = 0; i < cfg->nvhosts; i++) {
		const struct config_vhost *v = &cfg->vhosts[i];

		if (!config_vhost_serves(v, l))
			continue;
		nv++;
		nnames += 1 + v->aliases.n;
		nwild += strncmp(v->name, "*.", 2) == 0;
		for (size_t a = 0; a < v->aliases.n; a++)
			nwild += strncmp(v->aliases.v[a], "*.", 2) == 0;
		npaths += v->nroutes;
		nup += v->has_backend + v->nroutes;
	}
	t->nupstreams = nup;
	if (nv > UINT32_MAX)
		goto err;
	if ((nv && !(t->vhosts = calloc(nv, sizeof(*t->vhosts)))) ||
	    (nnames && !(t->names = calloc(nnames, sizeof(*t->names)))) ||
	    (npaths && !(t->paths = calloc(npaths, sizeof(*t->paths)))) ||
	    (nup && !(t->upstreams = calloc(nup, sizeof(*t->upstreams)))) ||
	    route_set_init(&t->exact, nnames - nwild) < 0 ||
	    route_set_init(&t->wild, nwild) < 0)
		goto err;

	up = t->upstreams;
	path = t->paths;
	for (size_t i = 0; i < cfg->nvhosts; i++) {
		const struct config_vhost *v = &cfg->vhosts[i];
		struct route_vhost *rv = &t->vhosts[t->nvhosts];

		if (!config_vhost_serves(v, l))
			continue;
		rv->conf = v;
		if (v->has_backend) {
			upstream_init(up, &v->backend);
			rv->backend = up++;
		}
		rv->paths = path;
		rv->npaths = v->nroutes;
		for (size_t r = 0; r < v->nroutes; r++, path++) {
			upstream_init(up, &v->routes[r].backend);
			path->prefix = v->routes[r].prefix;
			path->len = strlen(path->prefix);
			path->upstream = up++;
		}
		route_sort_paths(rv->paths, rv->npaths);
		route_add_name(t, v->name, (uint32_t)t->nvhosts);
		for (size_t a = 0; a < v->aliases.n; a++)
			route_add_name(t, v->aliases.v[a],
			               (uint32_t)t->nvhosts);
		t->nvhosts++;
	}
	return t;

err:
	route_table_free(t);
	return NULL;
}

struct upstream *route_upstreams(struct route_table *t, size_t *n)
{
	*n = t->nupstreams;
	return t->upstreams;
}

void route_table_free(struct route_table *t)
{
	if (!t)
		return;
	free(t->exact.slots);
	free(t->wild.slots);
	free(t->names);
	free(t->paths);
	free(t->upstreams);
	free(t->vhosts);
	free(t);
}

bool route_lookup(const struct route_table *t, const char *host,
                  const char *path, size_t len, struct route_match *m)
{
	const struct route_vhost *v = route_find(t, host);
	const struct route_path *r;

	m->vhost = NULL;
	m->upstream = NULL;
	m->prefix = NULL;
	if (v) {
		m->vhost = v->conf;
		if ((r = route_find_path(v, path, len))) {
			m->upstream = r->upstream;
			m->prefix = r->prefix;
			return true;
		}
		m->upstream = v->backend;
	}
	if (!m->upstream)
		m->upstream = t->fallback;
	return m->upstream != NULL;
}

bool route_lookup_name(const struct route_table *t, const char *host,
                       struct route_match *m)
{
	const struct route_vhost *v = route_find(t, host);

	m->vhost = v ? v->conf : NULL;
	m->upstream = v && v->backend ? v->backend : t->fallback;
	m->prefix = NULL;
	return m->upstream != NULL;
}

const char *const *route_names(const struct route_table *t, size_t *n)
{
	*n = t->nnames;
	return t->names;
}

const struct config_vhost *route_vhost(const struct route_table *t,
                                       const char *host)
{
	const struct route_vhost *v = route_find(t, host);

	return v ? v->conf : NULL;
}

/* ASCII lower case, whatever the locale. */
static inline unsigned char route_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + ('a' - 'A')) : c;
}

/* FNV-1a of name[0..len), in lower case. */
static uint32_t route_hash(const char *name, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++) {
		h ^= route_lower((unsigned char)name[i]);
		h *= 16777619u;
	}
	return h;
}

/* True when name[0..len), in any case, is the lower-case key. */
static bool route_same(const char *name, const char *key, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (route_lower((unsigned char)name[i]) !=
		    (unsigned char)key[i])
			return false;
	}
	return true;
}

/* Room for n names; an empty set allocates nothing. */
static int route_set_init(struct route_set *s, size_t n)
{
	size_t size = 8;

	if (n == 0)
		return 0;
	while (size < 2 * n) {
		if (size > UINT32_MAX / 2)
			return -1;
		size *= 2;
	}
	if (!(s->slots = calloc(size, sizeof(*s->slots))))
		return -1;
	s->mask = (uint32_t)(size - 1);
	return 0;
}

/* Add name. A name added twice keeps its first entry: probing meets it
 * first, as nothing is ever removed. */
static void route_set_add(struct route_set *s, const char *name, uint32_t vhost)
{
	size_t len = strlen(name);
	uint32_t h = route_hash(name, len), i;

	for (i = h & s->mask; s->slots[i].name; i = (i + 1) & s->mask)
		;
	s->slots[i].name = name;
	s->slots[i].len = (uint32_t)len;
	s->slots[i].hash = h;
	s->slots[i].vhost = vhost;
}

/* The entry for name[0..len) in any case, or NULL. */
static const struct route_slot *route_set_get(const struct route_set *s,
                                              const char *name, size_t len)
{
	uint32_t h, i;

	if (!s->slots || len > ROUTE_NAME_MAX)
		return NULL;
	h = route_hash(name, len);
	for (i = h & s->mask; s->slots[i].name; i = (i + 1) & s->mask) {
		const struct route_slot *e = &s->slots[i];

		if (e->hash == h && e->len == len &&
		    route_same(name, e->name, len))
			return e;
	}
	return NULL;
}

/* File one name or alias of vhost index `vhost`: a wildcard by its
 * suffix, anything else as it is. */
static void route_add_name(struct route_table *t, const char *name,
                           uint32_t vhost)
{
	t->names[t->nnames++] = name;
	if (strncmp(name, "*.", 2) == 0) {
		size_t len = strlen(name + 2);

		if (len > ROUTE_NAME_MAX)
			return;
		route_set_add(&t->wild, name + 2, vhost);
		t->wild_lens[len / 64] |= UINT64_C(1) << (len % 64);
	} else {
		route_set_add(&t->exact, name, vhost);
	}
}

/* Longest prefix first; equal lengths keep file order (insertion sort:
 * a vhost has a handful of routes). */
static void route_sort_paths(struct route_path *p, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		struct route_path x = p[i];
		size_t j = i;

		for (; j > 0 && p[j - 1].len < x.len; j--)
			p[j] = p[j - 1];
		p[j] = x;
	}
}

/* The vhost that serves host: an exact name, else the longest wildcard
 * suffix that leaves at least one character in front of its dot. */
static const struct route_vhost *route_find(const struct route_table *t,
                                            const char *host)
{
	const struct route_slot *e;
	size_t n = strlen(host);

	if (n > 0 && host[n - 1] == '.')
		n--;
	if (n == 0)
		return NULL;
	if ((e = route_set_get(&t->exact, host, n)))
		return &t->vhosts[e->vhost];
	if (!t->wild.slots)
		return NULL;
	for (size_t i = 1; i + 1 < n; i++) {
		size_t len = n - i - 1;

		if (host[i] != '.' || len > ROUTE_NAME_MAX ||
		    !(t->wild_lens[len / 64] & (UINT64_C(1) << (len % 64))))
			continue;
		if ((e = route_set_get(&t->wild, host + i + 1, len)))
			return &t->vhosts[e->vhost];
	}
	return NULL;
}

/* The longest route of v whose prefix matches path[0..len), or NULL. A
 * prefix matches at a segment boundary unless it ends in '/'. */
static const struct route_path *route_find_path(const struct route_vhost *v,
                                                const char *path, size_t len)
{
	const char *query;

	if (v->npaths == 0)
		return NULL;
	if (len > 0 && (query = memchr(path, '?', len)))
		len = (size_t)(query - path);
	if (len == 0 || path[0] != '/') {
		path = "/";
		len = 1;
	}
	for (size_t i = 0; i < v->npaths; i++) {
		const struct route_path *r = &v->paths[i];

		if (r->len > len || memcmp(path, r->prefix, r->len) != 0)
			continue;
		if (r->len == 0 || r->prefix[r->len - 1] == '/' ||
		    r->len == len || path[r->len] == '/')
			return r;
	}
	return NULL;
}
