/* SPDX-License-Identifier: MIT */
/*
 * The keys of the configuration language, and what their values set.
 *
 * config_keys is the one table of sections and keys: where each key may
 * appear, whether it may repeat, how its value is parsed and whether its
 * feature is still pending in this version (accepted, with a note). Each
 * setter parses one value into the struct config of the current section and
 * reports what is wrong with it at the line being read.
 */
#include "config.h"

#include <crypt.h>
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "portier/config.h"
#include "config_parser.h"

/* Limits of the integer keys. */
#define CONFIG_CONNECTIONS_MAX 1000000u

static config_set_fn config_set_log_level, config_set_access_log,
    config_set_log_format, config_set_string, config_set_admin,
    config_set_global_max, config_set_timeout, config_set_workers,
    config_set_binds, config_set_mode, config_set_listener_backend,
    config_set_tls, config_set_path, config_set_acl, config_set_proxy_protocol,
    config_set_listener_max, config_set_redirect, config_set_vhost_listeners,
    config_set_vhost_backend, config_set_aliases, config_set_route,
    config_set_host_header, config_set_auth, config_set_account;

static int config_strings_add(struct config_parser *p, struct config_strings *s,
                              const char *str);
static int config_hash_check(struct config_parser *p, const char *value,
                             size_t user);
static int config_state_line(struct config_parser *p, enum config_item item,
                             size_t count);
static bool config_off(const char *value);
static bool config_on(const char *value);
static size_t config_why_len(const char *text);
static void config_why(struct config_parser *p, const struct config_key *k,
                       char *why);

#define GLOBAL(field)   offsetof(struct config_global, field)
#define LISTENER(field) offsetof(struct config_listener, field)
#define VHOST(field)    offsetof(struct config_vhost, field)

/*
 * Every section kind and key. A feature that lands in a later version
 * drops its KEY_PENDING; a pending section kind is noted once at its header
 * and the notes of its keys are left out.
 */
const struct config_key config_keys[] = {
    {"global", SECTION_GLOBAL, KEY_SECTION, NULL, NULL, NULL, 0},
    {"listener", SECTION_LISTENER, KEY_SECTION, NULL, NULL, NULL, 0},
    {"vhost", SECTION_VHOST, KEY_SECTION, NULL, NULL, NULL, 0},

    {"log_level", SECTION_GLOBAL, 0, NULL, NULL, config_set_log_level, 0},
    {"access_log", SECTION_GLOBAL, 0, NULL, NULL, config_set_access_log, 0},
    {"access_log_format", SECTION_GLOBAL, 0, NULL, NULL, config_set_log_format,
     0},
    {"state_dir", SECTION_GLOBAL, 0, NULL, NULL, config_set_string,
     GLOBAL(state_dir)},
    {"user", SECTION_GLOBAL, 0, NULL, NULL,
     config_set_account, GLOBAL(user)},
    {"group", SECTION_GLOBAL, 0, NULL, NULL,
     config_set_account, GLOBAL(group)},
    {"pidfile", SECTION_GLOBAL, 0, NULL, NULL,
     config_set_string, GLOBAL(pidfile)},
    {"admin", SECTION_GLOBAL, 0, NULL, NULL, config_set_admin, 0},
    {"max_connections", SECTION_GLOBAL, 0, NULL, NULL, config_set_global_max,
     0},
    {"timeout_connect", SECTION_GLOBAL, 0, NULL, NULL, config_set_timeout,
     GLOBAL(timeout_connect_ms)},
    {"timeout_idle", SECTION_GLOBAL, 0, NULL, NULL, config_set_timeout,
     GLOBAL(timeout_idle_ms)},
    {"timeout_header", SECTION_GLOBAL, 0, NULL, NULL, config_set_timeout,
     GLOBAL(timeout_header_ms)},
    {"workers", SECTION_GLOBAL, 0, NULL, NULL, config_set_workers, 0},

    {"bind", SECTION_LISTENER, KEY_LIST, NULL, NULL, config_set_binds, 0},
    {"mode", SECTION_LISTENER, 0, NULL, NULL, config_set_mode, 0},
    {"backend", SECTION_LISTENER, 0, NULL, NULL, config_set_listener_backend,
     0},
    {"tls", SECTION_LISTENER, 0, NULL, NULL,
     config_set_tls, 0},
    {"tls_cert", SECTION_LISTENER, 0, NULL, NULL, config_set_path,
     LISTENER(tls_cert)},
    {"tls_key", SECTION_LISTENER, 0, NULL, NULL, config_set_path,
     LISTENER(tls_key)},
    {"allow", SECTION_LISTENER, KEY_LIST, NULL, NULL, config_set_acl,
     LISTENER(allow)},
    {"deny", SECTION_LISTENER, KEY_LIST, NULL, NULL, config_set_acl,
     LISTENER(deny)},
    {"proxy_protocol", SECTION_LISTENER, 0, NULL, NULL,
     config_set_proxy_protocol, 0},
    {"trusted_proxies", SECTION_LISTENER, KEY_LIST, NULL, NULL,
     config_set_acl, LISTENER(trusted_proxies)},
    {"max_connections", SECTION_LISTENER, 0, NULL, NULL,
     config_set_listener_max, 0},
    {"redirect_https", SECTION_LISTENER, 0, NULL, NULL,
     config_set_redirect, 0},

    {"listener", SECTION_VHOST, KEY_LIST, NULL, NULL,
     config_set_vhost_listeners, 0},
    {"backend", SECTION_VHOST, 0, NULL, NULL,
     config_set_vhost_backend, 0},
    {"alias", SECTION_VHOST, KEY_LIST, NULL, NULL,
     config_set_aliases, 0},
    {"route", SECTION_VHOST, KEY_LIST, NULL, NULL,
     config_set_route, 0},
    {"host_header", SECTION_VHOST, 0, NULL, NULL,
     config_set_host_header, 0},
    {"tls_cert", SECTION_VHOST, 0, NULL, NULL, config_set_path,
     VHOST(tls_cert)},
    {"tls_key", SECTION_VHOST, 0, NULL, NULL, config_set_path,
     VHOST(tls_key)},
    {"auth", SECTION_VHOST, KEY_LIST | KEY_SECRET, NULL, NULL, config_set_auth,
     0},
};

_Static_assert(sizeof(config_keys) / sizeof(config_keys[0]) == CONFIG_NKEYS,
               "CONFIG_NKEYS is the number of config_keys entries");

/* The modes as written in the file, in enum config_mode order. */
static const char *const config_mode_names[] = {
    [CONFIG_MODE_HTTP] = "http",
    [CONFIG_MODE_TCP] = "tcp",
    [CONFIG_MODE_UDP] = "udp",
    [CONFIG_MODE_TLS_PASSTHROUGH] = "tls-passthrough",
};

const char *config_mode_name(enum config_mode mode)
{
	if ((unsigned)mode >= sizeof(config_mode_names) / sizeof(char *))
		return "?";
	return config_mode_names[mode];
}

/* The key table entry for `name` in `section`: a key, or with KEY_SECTION
 * a section kind. */
const struct config_key *config_key_find(enum config_section section,
                                         const char *name, int flags)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];

		if ((k->flags & KEY_SECTION) != flags)
			continue;
		if ((section == SECTION_NONE || k->section == section) &&
		    strcmp(k->name, name) == 0)
			return k;
	}
	return NULL;
}

/* True when `k` set to `value` (not its default) is a pending feature. */
bool config_pending(const struct config_key *k, const char *value)
{
	const char *s = k->pending_values;
	size_t n = strlen(value);

	if (!(k->flags & KEY_PENDING))
		return false;
	if (!s)
		return true;
	while (*s) {
		size_t w = strcspn(s, ",");

		if (w == n && strncasecmp(s, value, n) == 0)
			return true;
		s += w;
		s += strspn(s, ", ");
	}
	return false;
}

/* --- values ------------------------------------------------------------- */

/* The struct the current section fills in for key `k`. */
static char *config_base(struct config_parser *p, const struct config_key *k)
{
	if (k->section == SECTION_GLOBAL)
		return (char *)&p->cfg->global;
	if (k->section == SECTION_LISTENER)
		return (char *)p->listener;
	return (char *)p->vhost;
}

/* Index of `value` in `words` (any case), or -1 after an error that lists
 * them and suggests the nearest. */
static int config_word(struct config_parser *p, const struct config_key *k,
                       const char *value, const char *const *words, size_t n)
{
	char list[256] = "";
	const char *near;

	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(value, words[i]) == 0)
			return (int)i;
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		         "%s%s", i ? ", " : "", words[i]);
	}
	near = config_nearest(value, words, n);
	if (*value == '\0')
		config_error(p, p->lineno, "%s: no value; use one of %s",
		             k->name, list);
	else if (near)
		config_error(p, p->lineno,
		             "%s: '%s' is not one of %s; did you mean '%s'?",
		             k->name, config_show(p, value), list, near);
	else
		config_error(p, p->lineno, "%s: '%s' is not one of %s", k->name,
		             config_show(p, value), list);
	return -1;
}

/* As config_uint, reporting "KEY: 'VALUE' is not a number from MIN to
 * MAX". */
static int config_number(struct config_parser *p, const struct config_key *k,
                         const char *value, unsigned min, unsigned max,
                         unsigned *out)
{
	if (config_uint(value, min, max, out) == 0)
		return 0;
	config_error(p, p->lineno, "%s: '%s' is not a number from %u to %u",
	             k->name, config_show(p, value), min, max);
	return -1;
}

/* Call `add` for each item of a comma-separated list. Returns -1 if any
 * item is bad, 0 for an empty value, 1 otherwise. */
static int config_each(struct config_parser *p, const struct config_key *k,
                       const char *value,
                       int (*add)(struct config_parser *p,
                                  const struct config_key *k, const char *item))
{
	const char *s = value;
	bool empty = false;
	int rc = 1;

	if (*value == '\0')
		return 0;
	for (;;) {
		const char *comma = strchr(s, ',');
		size_t n = comma ? (size_t)(comma - s) : strlen(s);
		char *item;

		for (; n > 0 && isspace((unsigned char)*s); n--)
			s++;
		while (n > 0 && isspace((unsigned char)s[n - 1]))
			n--;
		if (n == 0) {
			if (!empty)
				config_error(p, p->lineno,
				             "%s: empty item in the list '%s'",
				             k->name, config_show(p, value));
			empty = true;
			rc = -1;
		} else if (!(item = strndup(s, n))) {
			p->oom = true;
			return -1;
		} else {
			if (add(p, k, item) < 0)
				rc = -1;
			free(item);
		}
		if (!comma)
			return rc;
		s = comma + 1;
	}
}

/* Parse an address for key `k` into out, reporting "KEY: why". */
static int config_addr(struct config_parser *p, const struct config_key *k,
                       const char *text, enum addr_use use, struct addr *out)
{
	size_t len = config_why_len(text);
	char *why = malloc(len);
	int rc;

	if (!why) {
		p->oom = true;
		return -1;
	}
	if ((rc = addr_parse(text, use, out, why, len)) < 0)
		config_why(p, k, why);
	free(why);
	return rc < 0 ? -1 : 0;
}

/* Copy `value` into the string field of `k`; empty means none. */
static int config_set_string(struct config_parser *p,
                             const struct config_key *k, const char *value)
{
	char **field = (char **)(void *)(config_base(p, k) + k->off);

	free(*field);
	*field = NULL;
	if (*value == '\0')
		return 0;
	if (!(*field = strdup(value))) {
		p->oom = true;
		return -1;
	}
	return 1;
}

/* user and group: an account of this machine, looked up now, so that a
 * name that does not exist is an error at its line with all the others,
 * before any port is opened. */
static int config_set_account(struct config_parser *p,
                              const struct config_key *k, const char *value)
{
	bool user = strcmp(k->name, "user") == 0;

	if (*value != '\0' &&
	    (user ? (void *)getpwnam(value) : (void *)getgrnam(value)) ==
	        NULL) {
		config_error(p, p->lineno, "%s %s: no such %s on this machine",
		             k->name, config_show(p, value), k->name);
		return -1;
	}
	return config_set_string(p, k, value);
}

static int config_set_log_level(struct config_parser *p,
                                const struct config_key *k, const char *value)
{
	static const char *const levels[] = {
	    [LOG_LEVEL_ERROR] = "error",
	    [LOG_LEVEL_WARN] = "warn",
	    [LOG_LEVEL_INFO] = "info",
	    [LOG_LEVEL_DEBUG] = "debug",
	};
	int i;

	if (strcasecmp(value, "warning") == 0)
		value = "warn";
	if ((i = config_word(p, k, value, levels, 4)) < 0)
		return -1;
	p->cfg->global.log_level = (enum log_level)i;
	return i != LOG_LEVEL_INFO;
}

static int config_set_access_log(struct config_parser *p,
                                 const struct config_key *k, const char *value)
{
	char **field = &p->cfg->global.access_log;

	if (*value == '\0') {
		config_error(p, p->lineno,
		             "access_log: no value; use off, stderr or a file "
		             "path");
		return -1;
	}
	if (config_on(value)) {
		config_error(p, p->lineno,
		             "access_log: '%s' means on but names no "
		             "destination; use stderr or a file path (./%s "
		             "for a file of that name)",
		             value, value);
		return -1;
	}
	free(*field);
	*field = NULL;
	if (config_off(value))
		return 0;
	/* accesslog.c tells standard error from a file by this spelling */
	if (strcasecmp(value, "stderr") == 0)
		value = "stderr";
	if (!(*field = strdup(value))) {
		p->oom = true;
		return -1;
	}
	return 1;
}

static int config_set_log_format(struct config_parser *p,
                                 const struct config_key *k, const char *value)
{
	static const char *const formats[] = {
	    [CONFIG_LOG_COMBINED] = "combined",
	    [CONFIG_LOG_JSON] = "json",
	};
	int i = config_word(p, k, value, formats, 2);

	if (i < 0)
		return -1;
	p->cfg->global.access_log_format = (enum config_log_format)i;
	return i != CONFIG_LOG_COMBINED;
}

/* A file path that must be given. */
static int config_set_path(struct config_parser *p, const struct config_key *k,
                           const char *value)
{
	if (*value == '\0') {
		config_error(p, p->lineno, "%s: no value; give a file path",
		             k->name);
		return -1;
	}
	return config_set_string(p, k, value);
}

static int config_set_admin(struct config_parser *p, const struct config_key *k,
                            const char *value)
{
	struct config_global *g = &p->cfg->global;

	g->has_admin = false;
	if (*value == '\0' || config_off(value))
		return 0;
	if (config_on(value)) {
		config_error(p, p->lineno,
		             "admin: '%s' means on but names no address; give "
		             "the status page's ADDRESS:PORT, as in admin = "
		             "127.0.0.1:9000",
		             value);
		return -1;
	}
	if (config_addr(p, k, value, ADDR_FOR_BIND, &g->admin) < 0)
		return -1;
	g->has_admin = true;
	return 1;
}

static int config_set_global_max(struct config_parser *p,
                                 const struct config_key *k, const char *value)
{
	unsigned *max = &p->cfg->global.max_connections;

	if (config_number(p, k, value, 1, CONFIG_CONNECTIONS_MAX, max) < 0)
		return -1;
	return *max != 10000;
}

static int config_set_timeout(struct config_parser *p,
                              const struct config_key *k, const char *value)
{
	unsigned *ms = (unsigned *)(void *)(config_base(p, k) + k->off);
	unsigned v;
	int r = config_duration(value, &v);

	if (r == -2) {
		config_error(p, p->lineno,
		             "%s: '%s' is too long (at most 49 days)", k->name,
		             config_show(p, value));
		return -1;
	}
	if (r < 0) {
		config_error(p, p->lineno,
		             "%s: '%s' is not a duration (250ms, 5s, 2m, 1h)",
		             k->name, config_show(p, value));
		return -1;
	}
	if (v == 0) {
		config_error(p, p->lineno, "%s: '%s' must be longer than 0",
		             k->name, config_show(p, value));
		return -1;
	}
	*ms = v;
	return 1;
}

static int config_set_workers(struct config_parser *p,
                              const struct config_key *k, const char *value)
{
	unsigned *workers = &p->cfg->global.workers;

	if (strcasecmp(value, "auto") == 0) {
		*workers = 0;
		return 1;
	}
	if (config_uint(value, 1, CONFIG_WORKERS_MAX, workers) < 0) {
		config_error(p, p->lineno,
		             "workers: '%s' is not auto or a number from 1 "
		             "to %u",
		             config_show(p, value), CONFIG_WORKERS_MAX);
		return -1;
	}
	return *workers != 1;
}

static int config_add_bind(struct config_parser *p, const struct config_key *k,
                           const char *item)
{
	struct config_listener *l = p->listener;
	struct addr a;

	if (config_addr(p, k, item, ADDR_FOR_BIND, &a) < 0)
		return -1;
	if (config_realloc(p, &l->binds, l->nbinds + 1, sizeof(a)) < 0)
		return -1;
	l->binds[l->nbinds++] = a;
	return config_state_line(p, ITEM_BIND, l->nbinds);
}

static int config_set_binds(struct config_parser *p, const struct config_key *k,
                            const char *value)
{
	if (*value == '\0') {
		config_error(p, p->lineno,
		             "bind: no value; use PORT or ADDRESS:PORT");
		return -1;
	}
	return config_each(p, k, value, config_add_bind);
}

static int config_set_mode(struct config_parser *p, const struct config_key *k,
                           const char *value)
{
	int i = config_word(p, k, value, config_mode_names,
	                    sizeof(config_mode_names) / sizeof(char *));

	if (i < 0)
		return -1;
	p->listener->mode = (enum config_mode)i;
	return 1;
}

static int config_set_listener_backend(struct config_parser *p,
                                       const struct config_key *k,
                                       const char *value)
{
	struct config_listener *l = p->listener;

	if (config_addr(p, k, value, ADDR_FOR_BACKEND, &l->backend) < 0)
		return -1;
	l->has_backend = true;
	return 1;
}

static int config_set_tls(struct config_parser *p, const struct config_key *k,
                          const char *value)
{
	static const char *const modes[] = {
	    [CONFIG_TLS_OFF] = "off",
	    [CONFIG_TLS_ON] = "on",
	    [CONFIG_TLS_AUTO] = "auto",
	};
	bool on;
	int i;

	if (config_parse_bool(value, &on) == 0)
		i = on ? CONFIG_TLS_ON : CONFIG_TLS_OFF;
	else if ((i = config_word(p, k, value, modes, 3)) < 0)
		return -1;
	p->listener->tls = (enum config_tls)i;
	return i != CONFIG_TLS_OFF;
}

static int config_add_cidr(struct config_parser *p, const struct config_key *k,
                           const char *item)
{
	struct config_acl *acl =
	    (struct config_acl *)(void *)(config_base(p, k) + k->off);
	size_t len = config_why_len(item);
	char *why = malloc(len);
	struct cidr c;
	int rc;

	if (!why) {
		p->oom = true;
		return -1;
	}
	if ((rc = cidr_parse(item, &c, why, len)) < 0)
		config_why(p, k, why);
	free(why);
	if (rc < 0)
		return -1;
	if (config_realloc(p, &acl->blocks, acl->n + 1, sizeof(c)) < 0)
		return -1;
	acl->blocks[acl->n++] = c;
	return 0;
}

static int config_set_acl(struct config_parser *p, const struct config_key *k,
                          const char *value)
{
	return config_each(p, k, value, config_add_cidr);
}

static int config_set_proxy_protocol(struct config_parser *p,
                                     const struct config_key *k,
                                     const char *value)
{
	static const char *const versions[] = {
	    [CONFIG_PROXY_OFF] = "off",
	    [CONFIG_PROXY_V1] = "v1",
	    [CONFIG_PROXY_V2] = "v2",
	};
	int i = CONFIG_PROXY_OFF;

	if (config_on(value)) {
		config_error(p, p->lineno,
		             "proxy_protocol: '%s' means on but names no "
		             "version; use v1 or v2, the one the backend reads",
		             value);
		return -1;
	}
	if (!config_off(value) &&
	    (i = config_word(p, k, value, versions, 3)) < 0)
		return -1;
	p->listener->proxy_protocol = (enum config_proxy_protocol)i;
	return i != CONFIG_PROXY_OFF;
}

static int config_set_listener_max(struct config_parser *p,
                                   const struct config_key *k,
                                   const char *value)
{
	unsigned *max = &p->listener->max_connections;

	if (config_number(p, k, value, 0, CONFIG_CONNECTIONS_MAX, max) < 0)
		return -1;
	return *max != 0;
}

static int config_set_redirect(struct config_parser *p,
                               const struct config_key *k, const char *value)
{
	unsigned port;

	p->listener->redirect_https = 0;
	if (*value == '\0' || config_off(value))
		return 0;
	if (config_on(value)) {
		config_error(p, p->lineno,
		             "redirect_https: '%s' means on but names no port; "
		             "give the https port to redirect to, as in "
		             "redirect_https = 443",
		             value);
		return -1;
	}
	if (config_uint(value, 1, 65535, &port) < 0) {
		config_error(p, p->lineno,
		             "redirect_https: '%s' is not a port number "
		             "(1-65535)",
		             config_show(p, value));
		return -1;
	}
	p->listener->redirect_https = (uint16_t)port;
	return 1;
}

static int config_add_vhost_listener(struct config_parser *p,
                                     const struct config_key *k,
                                     const char *item)
{
	struct config_strings *s = &p->vhost->listeners;

	for (size_t i = 0; i < s->n; i++) {
		if (strcmp(s->v[i], item) == 0) {
			config_error(p, p->lineno,
			             "listener: '%s' given twice (first on "
			             "line %d)",
			             config_show(p, item),
			             p->state->lines[ITEM_LISTENER][i]);
			return -1;
		}
	}
	if (config_strings_add(p, s, item) < 0)
		return -1;
	return config_state_line(p, ITEM_LISTENER, s->n);
}

static int config_set_vhost_listeners(struct config_parser *p,
                                      const struct config_key *k,
                                      const char *value)
{
	return config_each(p, k, value, config_add_vhost_listener);
}

static int config_set_vhost_backend(struct config_parser *p,
                                    const struct config_key *k,
                                    const char *value)
{
	struct config_vhost *v = p->vhost;

	if (config_addr(p, k, value, ADDR_FOR_BACKEND, &v->backend) < 0)
		return -1;
	v->has_backend = true;
	return 1;
}

static int config_add_alias(struct config_parser *p, const struct config_key *k,
                            const char *item)
{
	struct config_strings *s = &p->vhost->aliases;
	char *name = strdup(item);
	const char *why;
	int r;

	if (!name) {
		p->oom = true;
		return -1;
	}
	if ((why = config_hostname_check(name, true)) != NULL) {
		config_error(p, p->lineno, "alias: '%s' %s",
		             config_show(p, item), why);
		free(name);
		return -1;
	}
	r = config_strings_add(p, s, name);
	free(name);
	if (r < 0)
		return -1;
	return config_state_line(p, ITEM_ALIAS, s->n);
}

static int config_set_aliases(struct config_parser *p,
                              const struct config_key *k, const char *value)
{
	return config_each(p, k, value, config_add_alias);
}

static int config_set_route(struct config_parser *p, const struct config_key *k,
                            const char *value)
{
	struct config_vhost *v = p->vhost;
	size_t n = strcspn(value, " \t");
	const char *target = value + n;
	struct config_route r;

	target += strspn(target, " \t");
	if (n == 0 || *target == '\0' || target[strcspn(target, " \t")]) {
		config_error(p, p->lineno,
		             "route: expected 'PREFIX BACKEND', as in "
		             "route = /api 127.0.0.1:4000");
		return -1;
	}
	if (value[0] != '/') {
		config_error(p, p->lineno,
		             "route: prefix '%s' does not start with '/'",
		             config_show_n(p, value, n));
		return -1;
	}
	for (size_t i = 0; i < v->nroutes; i++) {
		if (strlen(v->routes[i].prefix) == n &&
		    strncmp(v->routes[i].prefix, value, n) == 0) {
			config_error(p, p->lineno,
			             "route: prefix %s given twice (first "
			             "on line %d)",
			             config_show_n(p, value, n),
			             p->state->lines[ITEM_ROUTE][i]);
			return -1;
		}
	}
	if (config_addr(p, k, target, ADDR_FOR_BACKEND, &r.backend) < 0)
		return -1;
	if (!(r.prefix = strndup(value, n)) ||
	    config_realloc(p, &v->routes, v->nroutes + 1, sizeof(r)) < 0) {
		free(r.prefix);
		p->oom = true;
		return -1;
	}
	v->routes[v->nroutes++] = r;
	return config_state_line(p, ITEM_ROUTE, v->nroutes);
}

static int config_set_host_header(struct config_parser *p,
                                  const struct config_key *k, const char *value)
{
	struct config_vhost *v = p->vhost;
	size_t n = strcspn(value, ":");
	unsigned port;
	char *host;
	bool ok;

	free(v->host_header_name);
	v->host_header_name = NULL;
	if (strcasecmp(value, "keep") == 0) {
		v->host_header = CONFIG_HOST_KEEP;
		return 0;
	}
	if (strcasecmp(value, "backend") == 0) {
		v->host_header = CONFIG_HOST_BACKEND;
		return 1;
	}
	if (!(host = strndup(value, n))) {
		p->oom = true;
		return -1;
	}
	ok = *host && !config_hostname_check(host, false) &&
	     (value[n] == '\0' ||
	      config_uint(value + n + 1, 1, 65535, &port) == 0);
	free(host);
	if (!ok) {
		config_error(p, p->lineno,
		             "host_header: '%s' is not keep, backend or a "
		             "host name (with an optional :PORT)",
		             config_show(p, value));
		return -1;
	}
	if (!(v->host_header_name = strdup(value))) {
		p->oom = true;
		return -1;
	}
	v->host_header = CONFIG_HOST_NAME;
	return 1;
}

static int config_set_auth(struct config_parser *p, const struct config_key *k,
                           const char *value)
{
	struct config_strings *s = &p->vhost->auth;
	size_t user = strcspn(value, ":");

	if (value[user] != ':' || value[strcspn(value, " \t")]) {
		config_error(p, p->lineno,
		             "auth: expected USER:HASH without spaces");
		return -1;
	}
	if (user == 0) {
		config_error(p, p->lineno, "auth: the user name is empty");
		return -1;
	}
	if (value[user + 1] != '$') {
		config_error(p, p->lineno,
		             "auth: the password of '%s' is not a crypt(3) "
		             "hash; make one with: portier hash",
		             config_show_n(p, value, user));
		return -1;
	}
	if (config_hash_check(p, value, user) < 0)
		return -1;
	for (size_t i = 0; i < s->n; i++) {
		if (strncmp(s->v[i], value, user + 1) == 0) {
			config_error(p, p->lineno,
			             "auth: user '%s' given twice",
			             config_show_n(p, value, user));
			return -1;
		}
	}
	return config_strings_add(p, s, value) < 0 ? -1 : 1;
}

/*
 * The hash of auth line `value` (user name `user` bytes long) is one that
 * crypt(3) can check: crypt_r of any password with it as the setting gives
 * a hash of its method and length. An unknown method (htpasswd's default
 * $apr1$) gives "*0", a cut one a longer hash: with either no password
 * would ever match, and every login would read as a wrong password.
 */
static int config_hash_check(struct config_parser *p, const char *value,
                             size_t user)
{
	const char *hash = value + user + 1, *got;
	struct crypt_data *data = calloc(1, sizeof(*data));
	size_t method = strcspn(hash + 1, "$") + 2;
	int status = -1;

	if (method > strlen(hash))
		method = strlen(hash); /* "$9": no second '$' */

	if (data == NULL) {
		p->oom = true;
		return -1;
	}
	got = crypt_r("", hash, data);
	if (strncmp(hash, "$apr1$", 6) == 0)
		config_error(p, p->lineno,
		             "auth: the hash of '%s' is Apache's $apr1$, which "
		             "crypt(3) cannot check; make one with: portier "
		             "hash (or htpasswd -B)",
		             config_show_n(p, value, user));
	else if (got == NULL || got[0] == '*')
		config_error(p, p->lineno,
		             "auth: the hash of '%s' starts with %s, a method "
		             "this system's crypt(3) does not know; make one "
		             "with: portier hash",
		             config_show_n(p, value, user),
		             config_show_n(p, hash, method));
	else if (strlen(got) != strlen(hash))
		config_error(p, p->lineno,
		             "auth: the hash of '%s' is cut or damaged (%zu "
		             "characters where its method makes %zu); make one "
		             "with: portier hash",
		             config_show_n(p, value, user), strlen(hash),
		             strlen(got));
	else
		status = 0;
	free(data);
	return status;
}

/* Append a copy of str to s. */
static int config_strings_add(struct config_parser *p, struct config_strings *s,
                              const char *str)
{
	char *copy = strdup(str);

	if (!copy || config_realloc(p, &s->v, s->n + 1, sizeof(char *)) < 0) {
		free(copy);
		p->oom = true;
		return -1;
	}
	s->v[s->n++] = copy;
	return 0;
}

/* Remember the current line for item number `count` (1-based) of the
 * current section. Returns 1, or -1 when out of memory. */
static int config_state_line(struct config_parser *p, enum config_item item,
                             size_t count)
{
	struct config_state *st = p->state;

	if (config_realloc(p, &st->lines[item], count, sizeof(int)) < 0)
		return -1;
	st->lines[item][count - 1] = p->lineno;
	return 1;
}

/*
 * True for a boolean "no" in any of its spellings (no, off, false, 0): the
 * off value of every key that has one, as DESIGN.md's booleans promise.
 * "0" is never a file, port or address a user means: ./0 is the file.
 */
static bool config_off(const char *value)
{
	bool on;

	return config_parse_bool(value, &on) == 0 && !on;
}

/* True for a boolean "yes" (yes, on, true, 1): for a key whose values are
 * off or something to name, a word that names nothing. */
static bool config_on(const char *value)
{
	bool on;

	return config_parse_bool(value, &on) == 0 && on;
}

/* Room for addr.c's message about `text`: it quotes the text, or parts of
 * it, and at most an address of its own. */
static size_t config_why_len(const char *text)
{
	return 2 * strlen(text) + 256;
}

/* Report "KEY: why", `why` being addr.c's message about a value, with each
 * part it quotes shortened as config_show does. */
static void config_why(struct config_parser *p, const struct config_key *k,
                       char *why)
{
	char *w = why, *r = why, *close;

	while (*r) {
		const char *shown;
		size_t n;

		if (*r != '\'' || !(close = strchr(r + 1, '\''))) {
			*w++ = *r++;
			continue;
		}
		/* never longer than the part it stands for: w stays <= r */
		shown = config_show_n(p, r + 1, (size_t)(close - r - 1));
		n = strlen(shown);
		*w++ = '\'';
		memmove(w, shown, n);
		w += n;
		*w++ = '\'';
		r = close + 1;
	}
	*w = '\0';
	config_error(p, p->lineno, "%s: %s", k->name, why);
}
