/* SPDX-License-Identifier: MIT */
/*
 * The checks of a configuration that need more than one key: those of one
 * section, run when the section ends (keys a listener or vhost must have,
 * keys that exclude each other), and those across the whole file, run once
 * it is read (binds that overlap, the admin address against the listeners,
 * the listeners and names of vhosts). Each is reported at the line to
 * change, or at the section header for a key that is missing.
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "portier/config.h"
#include "config_parser.h"

static void config_check_binds(struct config_parser *p, size_t i);
static void config_check_admin(struct config_parser *p);
static void config_check_vhost_listeners(struct config_parser *p, size_t i);
static void config_check_vhost_names(struct config_parser *p, size_t i);
static void config_check_vhost_tls(struct config_parser *p, size_t i);
static void config_check_vhost_passthrough(struct config_parser *p, size_t i);
static void config_check_served(struct config_parser *p, size_t i);
static void config_check_redirect(struct config_parser *p, size_t i);

/* The line where `key` was first given in the current section, or 0. */
static int config_seen(const struct config_parser *p, const char *key)
{
	const struct config_key *k = config_key_find(p->section, key, 0);

	return k ? p->state->seen[k - config_keys] : 0;
}

/* True when a value of `key` was rejected in the current section: checks
 * that depend on it are left out rather than piled on. */
static bool config_bad(const struct config_parser *p, const char *key)
{
	const struct config_key *k = config_key_find(p->section, key, 0);

	return k && p->state->bad[k - config_keys];
}

/* Checks of a listener that need all of its keys. Missing keys are
 * reported at the section header. Also keeps the lines of tls_cert and
 * tls_key in the listener: tls.c reads those files later, and says where
 * they are named. */
void config_listener_check(struct config_parser *p)
{
	struct config_listener *l = p->listener;
	const struct config_key *mode_key;
	bool mode = !config_bad(p, "mode"), tls = !config_bad(p, "tls");
	bool cert = l->tls_cert != NULL, key = l->tls_key != NULL;
	bool udp = mode && l->mode == CONFIG_MODE_UDP;
	int line = l->line;
	/* config_show's copy lasts: this function makes no other */
	const char *n = config_show(p, l->name);

	l->tls_cert_line = config_seen(p, "tls_cert");
	l->tls_key_line = config_seen(p, "tls_key");
	if (!config_seen(p, "bind"))
		config_error(p, line,
		             "listener %s: no bind address; add bind = PORT "
		             "or bind = ADDRESS:PORT",
		             n);
	if (mode && (l->mode == CONFIG_MODE_TCP || udp) &&
	    !config_seen(p, "backend"))
		config_error(p, line, "listener %s: mode %s needs a backend", n,
		             config_mode_name(l->mode));
	if (tls && l->tls == CONFIG_TLS_ON && !config_seen(p, "tls_cert") &&
	    !config_seen(p, "tls_key"))
		config_error(p, line,
		             "listener %s: tls = on needs tls_cert and "
		             "tls_key",
		             n);
	if (cert && !config_seen(p, "tls_key"))
		config_error(p, line, "listener %s: tls_cert without tls_key",
		             n);
	if (key && !config_seen(p, "tls_cert"))
		config_error(p, line, "listener %s: tls_key without tls_cert",
		             n);
	if (tls && l->tls == CONFIG_TLS_OFF && (cert || key))
		config_error(p, config_seen(p, cert ? "tls_cert" : "tls_key"),
		             "listener %s: %s is set but tls is off; add "
		             "tls = on",
		             n, cert ? "tls_cert" : "tls_key");
	if (tls && l->tls == CONFIG_TLS_AUTO && (cert || key))
		config_error(p, config_seen(p, "tls"),
		             "listener %s: tls = auto takes certificates from "
		             "the local CA; remove tls_cert and tls_key, or "
		             "use tls = on",
		             n);
	if (mode && tls && l->tls != CONFIG_TLS_OFF &&
	    (udp || l->mode == CONFIG_MODE_TLS_PASSTHROUGH))
		config_error(p, config_seen(p, "tls"),
		             "listener %s: mode %s cannot terminate TLS; "
		             "remove tls",
		             n, config_mode_name(l->mode));
	if (mode && l->redirect_https && l->mode != CONFIG_MODE_HTTP)
		config_error(p, config_seen(p, "redirect_https"),
		             "listener %s: redirect_https needs mode http, "
		             "not %s",
		             n, config_mode_name(l->mode));
	if (tls && l->redirect_https && l->tls != CONFIG_TLS_OFF)
		config_error(p, config_seen(p, "redirect_https"),
		             "listener %s: redirect_https sends plain HTTP "
		             "clients to https; this listener already speaks "
		             "TLS, remove redirect_https or tls",
		             n);
	if (udp && l->proxy_protocol == CONFIG_PROXY_V1)
		config_error(p, config_seen(p, "proxy_protocol"),
		             "listener %s: proxy_protocol v1 cannot describe "
		             "udp; use v2",
		             n);
	if (udp && l->has_backend && l->backend.kind == ADDR_UNIX)
		config_error(p, config_seen(p, "backend"),
		             "listener %s: a udp backend needs an IP address "
		             "or localhost, not a unix socket",
		             n);
	mode_key = config_key_find(SECTION_LISTENER, "mode", 0);
	if (!config_seen(p, "mode") &&
	    config_pending(mode_key, config_mode_name(l->mode)))
		config_note(p, line,
		            "listener '%s' has mode %s (the default), which is "
		            "not supported yet by this version; it will not be "
		            "started (mode = tcp forwards TCP)",
		            n, config_mode_name(l->mode));
}

/* Checks of a vhost that need all of its keys; keeps the lines of
 * tls_cert and tls_key, as for a listener. */
void config_vhost_check(struct config_parser *p)
{
	struct config_vhost *v = p->vhost;
	bool cert = v->tls_cert != NULL, key = v->tls_key != NULL;

	v->tls_cert_line = config_seen(p, "tls_cert");
	v->tls_key_line = config_seen(p, "tls_key");
	if (!config_seen(p, "backend") && !config_seen(p, "route"))
		config_error(p, v->line,
		             "vhost %s: no backend and no route; add "
		             "backend = PORT",
		             v->name);
	if (cert && !config_seen(p, "tls_key"))
		config_error(p, v->line, "vhost %s: tls_cert without tls_key",
		             v->name);
	if (key && !config_seen(p, "tls_cert"))
		config_error(p, v->line, "vhost %s: tls_key without tls_cert",
		             v->name);
}

/* udp and the tcp-based modes are different protocols: they may share a
 * port. */
static bool config_is_udp(enum config_mode mode)
{
	return mode == CONFIG_MODE_UDP;
}

/* Modes that route by host name. */
static bool config_serves_vhosts(enum config_mode mode)
{
	return mode == CONFIG_MODE_HTTP || mode == CONFIG_MODE_TLS_PASSTHROUGH;
}

/* The line where `key` of [global] was given, or 0. */
static int config_global_line(const struct config_parser *p, const char *key)
{
	const struct config_key *k = config_key_find(SECTION_GLOBAL, key, 0);

	return k ? p->global.seen[k - config_keys] : 0;
}

/* Checks across sections, once the whole file is read. Also keeps the
 * lines of access_log and pidfile: daemon.c checks their directories
 * later, and says where they are named. */
void config_finish(struct config_parser *p)
{
	if (p->oom)
		return;
	p->cfg->global.access_log_line = config_global_line(p, "access_log");
	p->cfg->global.pidfile_line = config_global_line(p, "pidfile");
	if (p->listener_sections == 0)
		config_error(p, 0, "no [listener] section; nothing to do");
	for (size_t i = 0; i < p->cfg->nlisteners; i++)
		config_check_binds(p, i);
	if (p->cfg->global.has_admin)
		config_check_admin(p);
	for (size_t i = 0; i < p->cfg->nvhosts; i++) {
		config_check_vhost_listeners(p, i);
		config_check_vhost_names(p, i);
		config_check_vhost_passthrough(p, i);
		config_check_vhost_tls(p, i);
	}
	for (size_t i = 0; i < p->cfg->nlisteners; i++) {
		config_check_served(p, i);
		config_check_redirect(p, i);
	}
}

/* The first bind, before bind j of listener i, that cannot be bound
 * together with it: bind *m of listener *k. */
static bool config_find_overlap(const struct config *cfg, size_t i, size_t j,
                                size_t *k, size_t *m)
{
	const struct config_listener *b = &cfg->listeners[i];

	for (*k = 0; *k <= i; (*k)++) {
		const struct config_listener *a = &cfg->listeners[*k];
		size_t end = *k == i ? j : a->nbinds;

		if (config_is_udp(a->mode) != config_is_udp(b->mode))
			continue;
		for (*m = 0; *m < end; (*m)++) {
			if (addr_overlaps(&a->binds[*m], &b->binds[j]))
				return true;
		}
	}
	return false;
}

/* Two binds of one protocol on one address: each bind of listener i
 * against the binds before it. */
static void config_check_binds(struct config_parser *p, size_t i)
{
	const struct config_listener *b = &p->cfg->listeners[i];
	char a1[ADDR_STRLEN], a2[ADDR_STRLEN];
	size_t k, m;

	for (size_t j = 0; j < b->nbinds; j++) {
		const struct config_listener *a;
		int line, first;

		if (!config_find_overlap(p->cfg, i, j, &k, &m))
			continue;
		a = &p->cfg->listeners[k];
		line = p->lstates[i].lines[ITEM_BIND][j];
		first = p->lstates[k].lines[ITEM_BIND][m];
		addr_format(&b->binds[j], a1, sizeof(a1));
		addr_format(&a->binds[m], a2, sizeof(a2));
		if (a == b)
			config_error(p, line,
			             "listener %s: bind %s overlaps its own "
			             "bind %s (line %d)",
			             b->name, a1, a2, first);
		else
			config_error(p, line,
			             "listener %s: bind %s overlaps listener "
			             "%s's %s (line %d)",
			             b->name, a1, a->name, a2, first);
	}
}

/* The status page is one more TCP listener. */
static void config_check_admin(struct config_parser *p)
{
	const struct config *cfg = p->cfg;
	const struct config_key *k =
	    config_key_find(SECTION_GLOBAL, "admin", 0);
	char a1[ADDR_STRLEN], a2[ADDR_STRLEN];

	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct config_listener *l = &cfg->listeners[i];

		for (size_t m = 0; m < l->nbinds; m++) {
			if (config_is_udp(l->mode) ||
			    !addr_overlaps(&l->binds[m], &cfg->global.admin))
				continue;
			config_error(
			    p, p->global.seen[k - config_keys],
			    "admin: %s overlaps listener %s's bind %s "
			    "(line %d)",
			    addr_format(&cfg->global.admin, a1, sizeof(a1)),
			    l->name, addr_format(&l->binds[m], a2, sizeof(a2)),
			    p->lstates[i].lines[ITEM_BIND][m]);
			return;
		}
	}
}

/* The listeners of vhost i exist and speak http or tls-passthrough. */
static void config_check_vhost_listeners(struct config_parser *p, size_t i)
{
	const struct config *cfg = p->cfg;
	const struct config_vhost *v = &cfg->vhosts[i];
	bool any = false;

	for (size_t k = 0; k < cfg->nlisteners; k++)
		any |= config_serves_vhosts(cfg->listeners[k].mode);
	if (v->listeners.n == 0 && !any && cfg->nlisteners > 0)
		config_error(p, v->line,
		             "vhost %s: no http or tls-passthrough listener to "
		             "serve it",
		             v->name);
	for (size_t r = 0; r < v->listeners.n; r++) {
		const char *name = v->listeners.v[r];
		const struct config_listener *l =
		    config_find_listener(cfg, name);
		int line = p->vstates[i].lines[ITEM_LISTENER][r];
		size_t len = 1;
		char *names;

		if (l && config_serves_vhosts(l->mode))
			continue;
		if (l) {
			config_error(p, line,
			             "vhost %s: listener '%s' has mode %s; "
			             "vhosts need an http or tls-passthrough "
			             "listener",
			             v->name, name, config_mode_name(l->mode));
			continue;
		}
		for (size_t k = 0; k < cfg->nlisteners; k++)
			len += strlen(cfg->listeners[k].name) + 2;
		if (!(names = malloc(len))) {
			p->oom = true;
			return;
		}
		names[0] = '\0';
		for (size_t k = 0; k < cfg->nlisteners; k++) {
			if (k > 0)
				strcat(names, ", ");
			strcat(names, config_show(p, cfg->listeners[k].name));
		}
		if (cfg->nlisteners > 0)
			config_error(p, line,
			             "vhost %s: no listener named '%s'; "
			             "listeners are: %s",
			             v->name, config_show(p, name), names);
		else
			config_error(p, line,
			             "vhost %s: no listener named '%s'",
			             v->name, config_show(p, name));
		free(names);
	}
}

/* Every name of vhost i (its own and its aliases) names only it: checked
 * against the names seen before each one. */
static void config_check_vhost_names(struct config_parser *p, size_t i)
{
	const struct config *cfg = p->cfg;
	const struct config_vhost *v = &cfg->vhosts[i];

	for (size_t j = 0; j < i; j++) {
		const struct config_vhost *w = &cfg->vhosts[j];

		for (size_t b = 0; b < w->aliases.n; b++) {
			if (strcmp(w->aliases.v[b], v->name) == 0)
				config_error(
				    p, v->line,
				    "vhost %s: name '%s' is already an "
				    "alias of vhost %s (line %d)",
				    v->name, v->name, w->name,
				    p->vstates[j].lines[ITEM_ALIAS][b]);
		}
	}
	for (size_t a = 0; a < v->aliases.n; a++) {
		const char *name = v->aliases.v[a];
		int line = p->vstates[i].lines[ITEM_ALIAS][a];
		bool found = false;

		for (size_t j = 0; j <= i && !found; j++) {
			const struct config_vhost *w = &cfg->vhosts[j];
			size_t end = j == i ? a : w->aliases.n;

			if (strcmp(w->name, name) == 0) {
				found = true;
				if (j == i)
					config_error(p, line,
					             "vhost %s: alias '%s' is "
					             "the vhost's own name",
					             v->name, name);
				else
					config_error(p, line,
					             "vhost %s: alias '%s' is "
					             "already the name of "
					             "vhost %s (line %d)",
					             v->name, name, w->name,
					             w->line);
			}
			for (size_t b = 0; b < end && !found; b++) {
				int first = p->vstates[j].lines[ITEM_ALIAS][b];

				if (strcmp(w->aliases.v[b], name) != 0)
					continue;
				found = true;
				if (j == i)
					config_error(p, line,
					             "vhost %s: alias '%s' "
					             "given twice (first on "
					             "line %d)",
					             v->name, name, first);
				else
					config_error(p, line,
					             "vhost %s: alias '%s' is "
					             "already an alias of "
					             "vhost %s (line %d)",
					             v->name, name, w->name,
					             first);
			}
		}
	}
}

/* A tls-passthrough listener decrypts nothing: it sees a vhost's name, never
 * its requests. A password it cannot ask for would leave the vhost open
 * there, and a vhost it sends somewhere needs a backend, since routes
 * match paths it never reads. Reported with the first such listener, at
 * the line of auth, or of that listener's name, or of the header. */
static void config_check_vhost_passthrough(struct config_parser *p, size_t i)
{
	const struct config *cfg = p->cfg;
	const struct config_vhost *v = &cfg->vhosts[i];
	const struct config_state *st = &p->vstates[i];
	const struct config_key *auth =
	    config_key_find(SECTION_VHOST, "auth", 0);
	const struct config_listener *l = NULL;
	int line = v->line;

	for (size_t k = 0; k < cfg->nlisteners && l == NULL; k++) {
		if (cfg->listeners[k].mode == CONFIG_MODE_TLS_PASSTHROUGH &&
		    config_vhost_serves(v, &cfg->listeners[k]))
			l = &cfg->listeners[k];
	}
	if (l == NULL)
		return;
	for (size_t r = 0; r < v->listeners.n; r++) {
		if (strcmp(v->listeners.v[r], l->name) == 0)
			line = st->lines[ITEM_LISTENER][r];
	}
	if (v->auth.n > 0)
		config_error(p, st->seen[auth - config_keys],
		             "vhost %s: auth cannot be asked on listener '%s': "
		             "tls-passthrough does not decrypt, so its "
		             "clients would reach the backend without a "
		             "password; serve this vhost on http listeners "
		             "only (listener = ...)",
		             v->name, l->name);
	if (!v->has_backend && !l->has_backend)
		config_error(p, line,
		             "vhost %s: listener '%s' is tls-passthrough, "
		             "which routes by name only and never sees a "
		             "path; add backend = PORT to the vhost (its "
		             "routes serve http listeners)",
		             v->name, l->name);
}

/* A vhost's certificate is served by the listeners of the vhost that
 * terminate TLS; on none, it is a certificate the user expects to see and
 * never will (a listener without tls = on, or a tls-passthrough one, whose
 * clients get the backend's). A note, not an error: the file stays valid
 * while a listener is switched to TLS. */
static void config_check_vhost_tls(struct config_parser *p, size_t i)
{
	const struct config *cfg = p->cfg;
	const struct config_vhost *v = &cfg->vhosts[i];

	if (v->tls_cert == NULL || v->tls_cert_line == 0)
		return;
	for (size_t k = 0; k < cfg->nlisteners; k++) {
		const struct config_listener *l = &cfg->listeners[k];

		if (l->mode == CONFIG_MODE_HTTP && l->tls != CONFIG_TLS_OFF &&
		    config_vhost_serves(v, l))
			return;
	}
	config_note(p, v->tls_cert_line,
	            "vhost %s: tls_cert is not used: no listener of this "
	            "vhost terminates TLS (an http listener with tls = on or "
	            "tls = auto)",
	            v->name);
}

/* An http listener without a backend sends a request to the vhost its Host
 * names, and answers 404 when there is none; a tls-passthrough one sends a
 * connection to the vhost its SNI names, and closes it when there is
 * none. With no vhost that serves the listener at all (each names other
 * listeners), and no redirect_https, every request gets 404, or every
 * connection is closed. A note, not an error, as for a certificate no
 * listener uses: the file stays valid while its vhosts are written; doctor
 * reports it as a problem. */
static void config_check_served(struct config_parser *p, size_t i)
{
	const struct config *cfg = p->cfg;
	const struct config_listener *l = &cfg->listeners[i];
	const char *n;

	if ((l->mode != CONFIG_MODE_HTTP &&
	     l->mode != CONFIG_MODE_TLS_PASSTHROUGH) ||
	    l->has_backend || l->redirect_https != 0)
		return;
	for (size_t k = 0; k < cfg->nvhosts; k++) {
		if (config_vhost_serves(&cfg->vhosts[k], l))
			return;
	}
	n = config_show(p, l->name);
	config_listener_note(p, CONFIG_NOTE_UNSERVED, i, l->line,
	                     "listener %s: %s: it has no backend, and no vhost "
	                     "serves it; add backend = PORT, or a vhost with "
	                     "listener = %s",
	                     n,
	                     l->mode == CONFIG_MODE_HTTP
	                         ? "every request gets 404"
	                         : "every connection is closed",
	                     n);
}

/* redirect_https sends browsers to https on a port. A listener of the file
 * serves TLS there when it terminates it (tls = on or auto) or passes it
 * to backends that do (tls-passthrough); else the redirect leads to a
 * plain listener of the file, whose answer is no TLS handshake, or to a
 * port portier does not serve. A note, not an error: another server may
 * serve https on that port. */
static void config_check_redirect(struct config_parser *p, size_t i)
{
	const struct config *cfg = p->cfg;
	const struct config_listener *l = &cfg->listeners[i], *plain = NULL;
	const struct config_key *key =
	    config_key_find(SECTION_LISTENER, "redirect_https", 0);
	unsigned port = l->redirect_https;
	int line = p->lstates[i].seen[key - config_keys];
	const char *n;

	if (port == 0)
		return;
	for (size_t k = 0; k < cfg->nlisteners; k++) {
		const struct config_listener *o = &cfg->listeners[k];
		bool tls = o->tls != CONFIG_TLS_OFF ||
		           o->mode == CONFIG_MODE_TLS_PASSTHROUGH;

		if (o->mode == CONFIG_MODE_UDP)
			continue;
		for (size_t j = 0; j < o->nbinds; j++) {
			if (o->binds[j].port != port)
				continue;
			if (tls)
				return;
			if (plain == NULL)
				plain = o;
		}
	}
	n = config_show(p, l->name);
	if (plain != NULL)
		config_listener_note(p, CONFIG_NOTE_REDIRECT_PLAIN, i, line,
		                     "listener %s: redirect_https = %u, but "
		                     "listener %s serves port %u without TLS: "
		                     "browsers sent there fail their TLS "
		                     "handshake",
		                     n, port, config_show(p, plain->name), port);
	else
		config_listener_note(p, CONFIG_NOTE_REDIRECT, i, line,
		                     "listener %s: redirect_https = %u, but no "
		                     "listener of this file serves TLS on port "
		                     "%u (tls = on or auto, or tls-passthrough): "
		                     "browsers are sent to a port portier does "
		                     "not serve",
		                     n, port, port);
}
