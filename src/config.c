/* SPDX-License-Identifier: MIT */
/*
 * The configuration file: DESIGN.md's INI language, read with inih into an
 * immutable struct config.
 *
 * inih splits "key = value" lines; the rest is done here. A reader callback
 * hands inih one line at a time: it counts lines, so that every message
 * carries FILE:LINE whatever options the library was built with, strips
 * comments and indentation (an indented key is a key, never a continuation),
 * and opens sections itself, because inih neither reports section headers to
 * the handler nor keeps section names longer than 49 bytes. Errors are
 * collected with their line and written out in line order, all of them, so
 * that one run shows everything that is wrong with a file.
 *
 * config_keys is the one table of sections and keys: where each key may
 * appear, whether it may repeat, how its value is parsed and whether its
 * feature is still pending in this version (accepted, with a note).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "portier/config.h"

/* Largest configuration file read; a config is a few kilobytes. */
#define CONFIG_FILE_MAX (1024 * 1024)
/* Limits of the integer keys. */
#define CONFIG_CONNECTIONS_MAX 1000000u
#define CONFIG_WORKERS_MAX     256u
/* Longest vhost or listener name shown in a "[...]" location. */
#define CONFIG_WHERE_MAX 320

/* What the current section is. */
enum config_section {
	SECTION_NONE, /* before the first header */
	SECTION_SKIP, /* after a broken header: keys are not looked at */
	SECTION_GLOBAL,
	SECTION_LISTENER,
	SECTION_VHOST,
};

/* Flags of a config_keys entry. */
enum {
	KEY_LIST = 1 << 0,    /* repeatable: values accumulate */
	KEY_PENDING = 1 << 1, /* feature not implemented yet: note it */
	KEY_STOPS = 1 << 2,   /* pending value keeps the listener down */
	KEY_SECRET = 1 << 3,  /* never echo the value */
	KEY_SECTION = 1 << 4, /* a section kind, not a key */
};

/* Lines remembered for list items, for messages about them later. */
enum config_item {
	ITEM_BIND,
	ITEM_ALIAS,
	ITEM_LISTENER,
	ITEM_ROUTE,
	ITEM_COUNT,
};

struct config_parser;
struct config_key;

/* Parse `value` into the current section. Returns -1 after reporting an
 * error, 0 for the default or "off" value, 1 for any other value. */
typedef int config_set_fn(struct config_parser *p, const struct config_key *k,
                          const char *value);

/* One section kind or key. */
struct config_key {
	const char *name;
	enum config_section section;
	int flags;
	/* With KEY_PENDING: the values whose feature is pending (lower
	 * case, ", "-separated); NULL: every value but the default. */
	const char *pending_values;
	/* With KEY_PENDING: what the note says happens instead. */
	const char *pending_effect;
	config_set_fn *set;
	size_t off; /* field for the generic setters */
};

static config_set_fn config_set_log_level, config_set_access_log,
    config_set_log_format, config_set_string, config_set_admin,
    config_set_global_max, config_set_timeout, config_set_workers,
    config_set_binds, config_set_mode, config_set_listener_backend,
    config_set_tls, config_set_path, config_set_acl, config_set_proxy_protocol,
    config_set_listener_max, config_set_redirect, config_set_vhost_listeners,
    config_set_vhost_backend, config_set_aliases, config_set_route,
    config_set_host_header, config_set_auth;

#define GLOBAL(field)   offsetof(struct config_global, field)
#define LISTENER(field) offsetof(struct config_listener, field)
#define VHOST(field)    offsetof(struct config_vhost, field)

/*
 * Every section kind and key. A feature that lands in a later version
 * drops its KEY_PENDING; a pending section kind is noted once at its header
 * and the notes of its keys are left out.
 */
static const struct config_key config_keys[] = {
    {"global", SECTION_GLOBAL, KEY_SECTION, NULL, NULL, NULL, 0},
    {"listener", SECTION_LISTENER, KEY_SECTION, NULL, NULL, NULL, 0},
    {"vhost", SECTION_VHOST, KEY_SECTION | KEY_PENDING, NULL, NULL, NULL, 0},

    {"log_level", SECTION_GLOBAL, 0, NULL, NULL, config_set_log_level, 0},
    {"access_log", SECTION_GLOBAL, KEY_PENDING, NULL,
     "no access log is written", config_set_access_log, 0},
    {"access_log_format", SECTION_GLOBAL, 0, NULL, NULL, config_set_log_format,
     0},
    {"state_dir", SECTION_GLOBAL, KEY_PENDING, NULL, NULL, config_set_string,
     GLOBAL(state_dir)},
    {"user", SECTION_GLOBAL, KEY_PENDING, NULL, "privileges are not dropped",
     config_set_string, GLOBAL(user)},
    {"group", SECTION_GLOBAL, KEY_PENDING, NULL, "privileges are not dropped",
     config_set_string, GLOBAL(group)},
    {"pidfile", SECTION_GLOBAL, KEY_PENDING, NULL, "no pid file is written",
     config_set_string, GLOBAL(pidfile)},
    {"admin", SECTION_GLOBAL, KEY_PENDING, NULL, "no status page is served",
     config_set_admin, 0},
    {"max_connections", SECTION_GLOBAL, 0, NULL, NULL, config_set_global_max,
     0},
    {"timeout_connect", SECTION_GLOBAL, 0, NULL, NULL, config_set_timeout,
     GLOBAL(timeout_connect_ms)},
    {"timeout_idle", SECTION_GLOBAL, 0, NULL, NULL, config_set_timeout,
     GLOBAL(timeout_idle_ms)},
    {"timeout_header", SECTION_GLOBAL, 0, NULL, NULL, config_set_timeout,
     GLOBAL(timeout_header_ms)},
    {"workers", SECTION_GLOBAL, KEY_PENDING, NULL, "one worker thread runs",
     config_set_workers, 0},

    {"bind", SECTION_LISTENER, KEY_LIST, NULL, NULL, config_set_binds, 0},
    {"mode", SECTION_LISTENER, KEY_PENDING | KEY_STOPS,
     "http, udp, tls-passthrough", NULL, config_set_mode, 0},
    {"backend", SECTION_LISTENER, 0, NULL, NULL, config_set_listener_backend,
     0},
    {"tls", SECTION_LISTENER, KEY_PENDING | KEY_STOPS, NULL, NULL,
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
    {"trusted_proxies", SECTION_LISTENER, KEY_LIST | KEY_PENDING, NULL, NULL,
     config_set_acl, LISTENER(trusted_proxies)},
    {"max_connections", SECTION_LISTENER, 0, NULL, NULL,
     config_set_listener_max, 0},
    {"redirect_https", SECTION_LISTENER, KEY_PENDING, NULL,
     "no redirect is sent", config_set_redirect, 0},

    {"listener", SECTION_VHOST, KEY_LIST | KEY_PENDING, NULL, NULL,
     config_set_vhost_listeners, 0},
    {"backend", SECTION_VHOST, KEY_PENDING, NULL, NULL,
     config_set_vhost_backend, 0},
    {"alias", SECTION_VHOST, KEY_LIST | KEY_PENDING, NULL, NULL,
     config_set_aliases, 0},
    {"route", SECTION_VHOST, KEY_LIST | KEY_PENDING, NULL, NULL,
     config_set_route, 0},
    {"host_header", SECTION_VHOST, KEY_PENDING, NULL, NULL,
     config_set_host_header, 0},
    {"tls_cert", SECTION_VHOST, KEY_PENDING, NULL, NULL, config_set_path,
     VHOST(tls_cert)},
    {"tls_key", SECTION_VHOST, KEY_PENDING, NULL, NULL, config_set_path,
     VHOST(tls_key)},
    {"auth", SECTION_VHOST, KEY_LIST | KEY_PENDING | KEY_SECRET, NULL, NULL,
     config_set_auth, 0},
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

/* One error or note, before it is written out. */
struct config_msg {
	int line; /* 0: about the whole file */
	size_t seq;
	char *text;
};

/* Errors or notes in the order they were found. */
struct config_msgs {
	struct config_msg *v;
	size_t n;
};

/* What the parser remembers about one section beyond struct config. */
struct config_state {
	int seen[CONFIG_NKEYS]; /* line where each key was first given */
	bool bad[CONFIG_NKEYS]; /* a value of the key was rejected */
	int *lines[ITEM_COUNT]; /* line of each bind, alias, ... */
};

/* The state of one parse. */
struct config_parser {
	struct config *cfg;
	const char *name; /* FILE in messages */
	const char *text;
	size_t len;
	size_t pos;
	int lineno; /* of the line inih is working on */
	bool oom;
	size_t seq;
	struct config_msgs errors;
	struct config_msgs notes;

	enum config_section section;
	const struct config_key *kind;    /* of the current section */
	char where[CONFIG_WHERE_MAX];     /* "[listener web]" */
	bool scratch;                     /* current section is checked, then
	                                     dropped */
	struct config_listener *listener; /* current */
	struct config_vhost *vhost;
	struct config_state *state;

	struct config_state global;   /* every [global] section */
	struct config_state *lstates; /* one per cfg->listeners */
	size_t nlstates;
	struct config_state *vstates; /* one per cfg->vhosts */
	size_t nvstates;
	size_t listener_sections; /* broken ones included */
	struct config_listener scratch_listener;
	struct config_vhost scratch_vhost;
	struct config_state scratch_state;
};

static struct config *config_parse_buffer(const char *text, size_t len,
                                          const char *name, char *err,
                                          size_t errlen);
static void config_global_init(struct config_global *g);
static void config_listener_init(struct config_listener *l);
static void config_vhost_init(struct config_vhost *v);
static void config_listener_clear(struct config_listener *l);
static void config_vhost_clear(struct config_vhost *v);
static void config_strings_clear(struct config_strings *s);
static void config_state_clear(struct config_state *st);
static char *config_reader_cb(char *buf, int num, void *stream);
#if INI_HANDLER_LINENO
static int config_handler_cb(void *user, const char *section, const char *name,
                             const char *value, int lineno);
#else
static int config_handler_cb(void *user, const char *section, const char *name,
                             const char *value);
#endif
static void config_section_begin(struct config_parser *p, const char *text,
                                 size_t n);
static void config_section_end(struct config_parser *p);
static void config_finish(struct config_parser *p);
static void config_check_binds(struct config_parser *p, size_t i);
static void config_check_admin(struct config_parser *p);
static void config_check_vhost_listeners(struct config_parser *p, size_t i);
static void config_check_vhost_names(struct config_parser *p, size_t i);
static void config_error(struct config_parser *p, int line, const char *fmt,
                         ...) __attribute__((format(printf, 3, 4)));
static void config_note(struct config_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void config_write_errors(struct config_parser *p, char *err,
                                size_t errlen);
static void config_move_notes(struct config_parser *p);
static void config_msgs_clear(struct config_msgs *m);
static const char *config_nearest(const char *word, const char *const *words,
                                  size_t n);
static int config_duration(const char *text, unsigned *ms);
static int config_read(FILE *f, char **text, size_t *len);
static int config_realloc(struct config_parser *p, void *ptrp, size_t n,
                          size_t size);
static int config_strings_add(struct config_parser *p, struct config_strings *s,
                              const char *str);
static int config_state_line(struct config_parser *p, enum config_item item,
                             size_t count);
static const struct config_key *config_key_find(enum config_section section,
                                                const char *name, int flags);
static void config_unknown_key(struct config_parser *p, const char *name);
static void config_pending_note(struct config_parser *p,
                                const struct config_key *k, const char *value);

static bool config_name_ok(const char *name);
static const char *config_hostname_check(char *name, bool wildcard);
static void config_listener_begin(struct config_parser *p, const char *name);
static void config_vhost_begin(struct config_parser *p, const char *name);
static void config_listener_check(struct config_parser *p);
static void config_vhost_check(struct config_parser *p);

struct config *config_load(const char *path, char *err, size_t errlen)
{
	struct config *cfg = NULL;
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (err && errlen > 0)
		err[0] = '\0';
	if (!(f = fopen(path, "r"))) {
		if (err && errlen > 0)
			snprintf(err, errlen, "%s: cannot open: %s\n", path,
			         strerror(errno));
		return NULL;
	}
	rc = config_read(f, &text, &len);
	if (rc == 0)
		cfg = config_parse_buffer(text, len, path, err, errlen);
	else if (err && errlen > 0)
		snprintf(err, errlen, "%s: cannot read: %s\n", path,
		         rc == -2 ? "larger than 1 MiB" : strerror(errno));
	fclose(f);
	free(text);
	return cfg;
}

struct config *config_parse_string(const char *text, const char *name,
                                   char *err, size_t errlen)
{
	if (err && errlen > 0)
		err[0] = '\0';
	return config_parse_buffer(text, strlen(text), name, err, errlen);
}

struct config *config_new_default(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	if (cfg)
		config_global_init(&cfg->global);
	return cfg;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	free(cfg->path);
	free(cfg->global.access_log);
	free(cfg->global.state_dir);
	free(cfg->global.user);
	free(cfg->global.group);
	free(cfg->global.pidfile);
	for (size_t i = 0; i < cfg->nlisteners; i++)
		config_listener_clear(&cfg->listeners[i]);
	free(cfg->listeners);
	for (size_t i = 0; i < cfg->nvhosts; i++)
		config_vhost_clear(&cfg->vhosts[i]);
	free(cfg->vhosts);
	config_strings_clear(&cfg->notes);
	free(cfg);
}

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

const struct config_listener *config_find_listener(const struct config *cfg,
                                                   const char *name)
{
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		if (strcmp(cfg->listeners[i].name, name) == 0)
			return &cfg->listeners[i];
	}
	return NULL;
}

int config_parse_duration(const char *text, unsigned *ms)
{
	return config_duration(text, ms) == 0 ? 0 : -1;
}

int config_parse_size(const char *text, uint64_t *bytes)
{
	uint64_t v = 0, unit = 1;
	const char *s = text;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s == 'k' || *s == 'K')
		unit = UINT64_C(1) << 10;
	else if (*s == 'm' || *s == 'M')
		unit = UINT64_C(1) << 20;
	else if (*s == 'g' || *s == 'G')
		unit = UINT64_C(1) << 30;
	else if (*s != '\0')
		return -1;
	if (*s != '\0' && s[1] != '\0')
		return -1;
	if (v > UINT64_MAX / unit)
		return -1;
	*bytes = v * unit;
	return 0;
}

int config_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"yes", "on", "true", "1"};
	static const char *const no[] = {"no", "off", "false", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* --- parsing ------------------------------------------------------------ */

/* Read all of f into a NUL-terminated *text. Returns -1 with errno set, or
 * -2 when the file is larger than CONFIG_FILE_MAX. */
static int config_read(FILE *f, char **text, size_t *len)
{
	char *buf = NULL, *more;
	size_t n, used = 0;
	int saved;

	do {
		if (used > CONFIG_FILE_MAX) {
			free(buf);
			return -2;
		}
		if (!(more = realloc(buf, used + 4096 + 1))) {
			free(buf);
			errno = ENOMEM;
			return -1;
		}
		buf = more;
		n = fread(buf + used, 1, 4096, f);
		used += n;
	} while (n == 4096);
	if (ferror(f) || used > CONFIG_FILE_MAX) {
		saved = errno;
		free(buf);
		errno = saved;
		return ferror(f) ? -1 : -2;
	}
	buf[used] = '\0';
	*text = buf;
	*len = used;
	return 0;
}

/* Parse `len` bytes of `text`; the common body of config_load and
 * config_parse_string. */
static struct config *config_parse_buffer(const char *text, size_t len,
                                          const char *name, char *err,
                                          size_t errlen)
{
	struct config_parser p;
	struct config *cfg;

	memset(&p, 0, sizeof(p));
	cfg = config_new_default();
	if (!cfg || !(cfg->path = strdup(name))) {
		config_free(cfg);
		if (err && errlen > 0)
			snprintf(err, errlen, "%s: out of memory\n", name);
		return NULL;
	}
	p.cfg = cfg;
	p.name = name;
	p.text = text;
	p.len = len;
	p.section = SECTION_NONE;

	if (ini_parse_stream(config_reader_cb, &p, config_handler_cb, &p) == -2)
		p.oom = true;
	config_section_end(&p);
	config_finish(&p);
	if (p.errors.n == 0 && !p.oom)
		config_move_notes(&p);
	if (p.oom) {
		if (err && errlen > 0)
			snprintf(err, errlen, "%s: out of memory\n", name);
	} else if (p.errors.n > 0 && err && errlen > 0) {
		config_write_errors(&p, err, errlen);
	}
	if (p.oom || p.errors.n > 0) {
		config_free(cfg);
		cfg = NULL;
	}
	config_state_clear(&p.global);
	for (size_t i = 0; i < p.nlstates; i++)
		config_state_clear(&p.lstates[i]);
	for (size_t i = 0; i < p.nvstates; i++)
		config_state_clear(&p.vstates[i]);
	free(p.lstates);
	free(p.vstates);
	config_msgs_clear(&p.errors);
	config_msgs_clear(&p.notes);
	return cfg;
}

/* The reader inih calls for each line: hands over the next key line,
 * handles everything else itself. */
static char *config_reader_cb(char *buf, int num, void *stream)
{
	struct config_parser *p = stream;

	while (p->pos < p->len && !p->oom) {
		const char *s = p->text + p->pos;
		const char *nl = memchr(s, '\n', p->len - p->pos);
		const char *e = nl ? nl : p->text + p->len;
		const char *eq, *colon;
		size_t n;

		p->pos = (size_t)(e - p->text) + (nl != NULL);
		p->lineno++;
		if (p->lineno == 1 && e - s >= 3 &&
		    memcmp(s, "\xEF\xBB\xBF", 3) == 0)
			s += 3;
		if (memchr(s, '\0', (size_t)(e - s))) {
			config_error(p, p->lineno, "line contains a NUL byte");
			continue;
		}
		while (s < e && isspace((unsigned char)*s))
			s++;
		if (s == e || *s == ';' || *s == '#')
			continue;
		/* an inline comment starts with ';' or '#' after a space */
		for (const char *c = s + 1; c < e; c++) {
			if ((*c == ';' || *c == '#') &&
			    isspace((unsigned char)c[-1])) {
				e = c;
				break;
			}
		}
		while (e > s && isspace((unsigned char)e[-1]))
			e--;
		n = (size_t)(e - s);
		if (*s == '[') {
			const char *close = memchr(s, ']', n);

			if (!close)
				config_error(p, p->lineno,
				             "section header '%.*s' has no "
				             "closing ']'",
				             (int)n, s);
			else if (close + 1 != e)
				config_error(p, p->lineno,
				             "text after ']' in section "
				             "header '%.*s'",
				             (int)n, s);
			else
				config_section_begin(p, s + 1, n - 2);
			if (!close || close + 1 != e)
				config_section_begin(p, NULL, 0);
			continue;
		}
		eq = memchr(s, '=', n);
		colon = memchr(s, ':', n);
		if (!eq || (colon && colon < eq)) {
			config_error(p, p->lineno,
			             "expected 'KEY = VALUE' or '[SECTION]', "
			             "not '%.*s'",
			             n > 60 ? 60 : (int)n, s);
			continue;
		}
		if (num < 2 || n > (size_t)num - 2) {
			config_error(p, p->lineno,
			             "line is longer than %d characters; "
			             "split long lists over several lines",
			             num < 2 ? 0 : num - 2);
			continue;
		}
		memcpy(buf, s, n);
		buf[n] = '\n';
		buf[n + 1] = '\0';
		return buf;
	}
	return NULL;
}

/* The handler inih calls for each "key = value" line. */
#if INI_HANDLER_LINENO
static int config_handler_cb(void *user, const char *section, const char *name,
                             const char *value, int lineno)
#else
static int config_handler_cb(void *user, const char *section, const char *name,
                             const char *value)
#endif
{
	struct config_parser *p = user;
	const struct config_key *k;
	size_t idx;
	int r;

	/* inih's section name is truncated at 49 bytes: p tracks its own */
	(void)section;
	if (p->oom || p->section == SECTION_SKIP)
		return 1;
	if (!value)
		value = "";
	if (*name == '\0') {
		config_error(p, p->lineno, "missing key before '='");
		return 1;
	}
	k = p->section == SECTION_NONE ? NULL
	                               : config_key_find(p->section, name, 0);
	if (!k) {
		config_unknown_key(p, name);
		return 1;
	}
	idx = (size_t)(k - config_keys);
	if (p->state->seen[idx] && !(k->flags & KEY_LIST)) {
		config_error(p, p->lineno, "%s given twice (first on line %d)",
		             name, p->state->seen[idx]);
		return 1;
	}
	if (!p->state->seen[idx])
		p->state->seen[idx] = p->lineno;
	r = k->set(p, k, value);
	if (r < 0)
		p->state->bad[idx] = true;
	if (r > 0)
		config_pending_note(p, k, value);
	return 1;
}

/* True when `k` set to `value` (not its default) is a pending feature. */
static bool config_pending(const struct config_key *k, const char *value)
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

/* Add a note when `k` set to `value` is a pending feature. */
static void config_pending_note(struct config_parser *p,
                                const struct config_key *k, const char *value)
{
	const char *name = p->listener ? p->listener->name : "";

	if (!config_pending(k, value) || (p->kind->flags & KEY_PENDING))
		return;
	if (k->flags & KEY_SECRET)
		config_note(p, p->lineno,
		            "%s is not supported yet by this version and is "
		            "ignored",
		            k->name);
	else if (k->flags & KEY_STOPS)
		config_note(p, p->lineno,
		            "%s = %s is not supported yet by this version; "
		            "listener '%s' will not be started",
		            k->name, value, name);
	else if (k->pending_effect)
		config_note(p, p->lineno,
		            "%s = %s is not supported yet by this version; %s",
		            k->name, value, k->pending_effect);
	else
		config_note(p, p->lineno,
		            "%s = %s is not supported yet by this version and "
		            "is ignored",
		            k->name, value);
}

/* The key table entry for `name` in `section`: a key, or with KEY_SECTION
 * a section kind. */
static const struct config_key *config_key_find(enum config_section section,
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

/* Report a key that the current section does not have: where it belongs
 * if it is a key at all, or the nearest key of the section. */
static void config_unknown_key(struct config_parser *p, const char *name)
{
	const char *words[CONFIG_NKEYS];
	char homes[96] = "";
	size_t nwords = 0, nhomes = 0, total = 0;
	const char *near;

	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		total += !(config_keys[i].flags & KEY_SECTION) &&
		         strcmp(config_keys[i].name, name) == 0;
	for (size_t i = 0; i < CONFIG_NKEYS; i++) {
		const struct config_key *k = &config_keys[i];
		size_t len = strlen(homes);

		if (!(k->flags & KEY_SECTION)) {
			if (k->section == p->section)
				words[nwords++] = k->name;
			continue;
		}
		if (!config_key_find(k->section, name, 0))
			continue;
		nhomes++;
		snprintf(homes + len, sizeof(homes) - len, "%s[%s%s]",
		         nhomes == 1       ? ""
		         : nhomes == total ? " or "
		                           : ", ",
		         k->name,
		         p->section != SECTION_NONE       ? ""
		         : k->section == SECTION_LISTENER ? " NAME"
		         : k->section == SECTION_VHOST    ? " HOSTNAME"
		                                          : "");
	}
	if (p->section == SECTION_NONE && nhomes)
		config_error(p, p->lineno,
		             "key '%s' outside a section; it belongs in %s",
		             name, homes);
	else if (p->section == SECTION_NONE)
		config_error(p, p->lineno,
		             "key '%s' outside a section; sections are "
		             "[global], [listener NAME] and [vhost HOSTNAME]",
		             name);
	else if (nhomes)
		config_error(p, p->lineno,
		             "'%s' is not a [%s] key; it belongs in %s", name,
		             p->kind->name, homes);
	else if ((near = config_nearest(name, words, nwords)) != NULL)
		config_error(p, p->lineno,
		             "unknown key '%s' in %s; did you mean '%s'?", name,
		             p->where, near);
	else
		config_error(p, p->lineno, "unknown key '%s' in %s", name,
		             p->where);
}

/* --- sections ----------------------------------------------------------- */

/* Open the section whose header holds the n bytes of `text` between the
 * brackets; with NULL, skip the keys up to the next header. */
static void config_section_begin(struct config_parser *p, const char *text,
                                 size_t n)
{
	const char *kinds[CONFIG_NKEYS];
	const struct config_key *kind;
	size_t nkinds = 0, wlen;
	char *all, *word, *name;
	const char *near;

	config_section_end(p);
	p->section = SECTION_SKIP;
	if (!text)
		return;
	for (; n > 0 && isspace((unsigned char)*text); n--)
		text++;
	while (n > 0 && isspace((unsigned char)text[n - 1]))
		n--;
	all = strndup(text, n);
	word = all ? strndup(all, strcspn(all, " \t")) : NULL;
	if (!word) {
		free(all);
		p->oom = true;
		return;
	}
	wlen = strlen(word);
	name = all + wlen;
	while (isspace((unsigned char)*name))
		name++;
	kind = config_key_find(SECTION_NONE, word, KEY_SECTION);
	if (!kind) {
		for (size_t i = 0; i < CONFIG_NKEYS; i++) {
			if (config_keys[i].flags & KEY_SECTION)
				kinds[nkinds++] = config_keys[i].name;
		}
		near = config_nearest(word, kinds, nkinds);
		if (near)
			config_error(p, p->lineno,
			             "unknown section [%s]; did you mean "
			             "[%s%s%s]?",
			             all, near, *name ? " " : "", name);
		else
			config_error(p, p->lineno,
			             "unknown section [%s]; sections are "
			             "[global], [listener NAME] and "
			             "[vhost HOSTNAME]",
			             all);
		free(word);
		free(all);
		return;
	}
	p->kind = kind;
	p->section = kind->section;
	snprintf(p->where, sizeof(p->where), "[%s%s%.*s]", kind->name,
	         *name ? " " : "", CONFIG_WHERE_MAX / 2, name);

	if (kind->section == SECTION_GLOBAL) {
		if (*name)
			config_error(p, p->lineno,
			             "[global] takes no name (found [%s])",
			             all);
		p->state = &p->global;
	} else if (kind->section == SECTION_LISTENER) {
		config_listener_begin(p, name);
	} else {
		config_vhost_begin(p, name);
	}
	free(word);
	free(all);
}

/* Open [listener NAME]: a new listener, or a scratch one that is checked
 * and dropped when the header is wrong. */
static void config_listener_begin(struct config_parser *p, const char *name)
{
	const struct config_listener *dup = config_find_listener(p->cfg, name);
	struct config_listener *l = &p->scratch_listener;
	struct config_state *st = &p->scratch_state;

	p->listener_sections++;
	if (!*name)
		config_error(p, p->lineno,
		             "[listener] needs a name, as in [listener web]");
	else if (!config_name_ok(name))
		config_error(p, p->lineno,
		             "listener name '%s' has a character other than "
		             "letters, digits, '-', '_' and '.'",
		             name);
	else if (dup)
		config_error(p, p->lineno,
		             "[listener %s] given twice (first on line %d)",
		             name, dup->line);
	else if (config_realloc(p, &p->cfg->listeners, p->cfg->nlisteners + 1,
	                        sizeof(*l)) == 0 &&
	         config_realloc(p, &p->lstates, p->nlstates + 1, sizeof(*st)) ==
	             0) {
		l = &p->cfg->listeners[p->cfg->nlisteners++];
		st = &p->lstates[p->nlstates++];
	}
	p->scratch = l == &p->scratch_listener;
	config_listener_init(l);
	memset(st, 0, sizeof(*st));
	l->line = p->lineno;
	if (!(l->name = strdup(name)))
		p->oom = true;
	p->listener = l;
	p->state = st;
}

/* Open [vhost HOSTNAME], as config_listener_begin. */
static void config_vhost_begin(struct config_parser *p, const char *name)
{
	struct config_vhost *v = &p->scratch_vhost;
	struct config_state *st = &p->scratch_state;
	const struct config_vhost *dup = NULL;
	char *lower = strdup(name);
	const char *why;

	if (!lower) {
		p->oom = true;
		return;
	}
	why = config_hostname_check(lower, true);
	for (size_t i = 0; !why && i < p->cfg->nvhosts; i++) {
		if (strcmp(p->cfg->vhosts[i].name, lower) == 0)
			dup = &p->cfg->vhosts[i];
	}
	if (!*name)
		config_error(p, p->lineno,
		             "[vhost] needs a host name, as in "
		             "[vhost app.test]");
	else if (why)
		config_error(p, p->lineno, "vhost name '%s' %s", name, why);
	else if (dup)
		config_error(p, p->lineno,
		             "[vhost %s] given twice (first on line %d)", name,
		             dup->line);
	else if (config_realloc(p, &p->cfg->vhosts, p->cfg->nvhosts + 1,
	                        sizeof(*v)) == 0 &&
	         config_realloc(p, &p->vstates, p->nvstates + 1, sizeof(*st)) ==
	             0) {
		v = &p->cfg->vhosts[p->cfg->nvhosts++];
		st = &p->vstates[p->nvstates++];
	}
	p->scratch = v == &p->scratch_vhost;
	config_vhost_init(v);
	memset(st, 0, sizeof(*st));
	v->line = p->lineno;
	v->name = lower;
	p->vhost = v;
	p->state = st;
	if (!p->scratch && (p->kind->flags & KEY_PENDING))
		config_note(p, p->lineno,
		            "[vhost %s] is not supported yet by this version "
		            "and is ignored",
		            v->name);
}

/* Close the current section: check what needs all of its keys. */
static void config_section_end(struct config_parser *p)
{
	if (!p->scratch && !p->oom && p->section == SECTION_LISTENER)
		config_listener_check(p);
	if (!p->scratch && !p->oom && p->section == SECTION_VHOST)
		config_vhost_check(p);
	if (p->scratch) {
		config_listener_clear(&p->scratch_listener);
		config_vhost_clear(&p->scratch_vhost);
		config_state_clear(&p->scratch_state);
		p->scratch = false;
	}
	p->section = SECTION_NONE;
	p->kind = NULL;
	p->listener = NULL;
	p->vhost = NULL;
	p->state = NULL;
}

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
 * reported at the section header. */
static void config_listener_check(struct config_parser *p)
{
	const struct config_listener *l = p->listener;
	const struct config_key *mode_key;
	bool mode = !config_bad(p, "mode"), tls = !config_bad(p, "tls");
	bool cert = l->tls_cert != NULL, key = l->tls_key != NULL;
	bool udp = mode && l->mode == CONFIG_MODE_UDP;
	int line = l->line;
	const char *n = l->name;

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

/* Checks of a vhost that need all of its keys. */
static void config_vhost_check(struct config_parser *p)
{
	const struct config_vhost *v = p->vhost;
	bool cert = v->tls_cert != NULL, key = v->tls_key != NULL;

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

/* Checks across sections, once the whole file is read. */
static void config_finish(struct config_parser *p)
{
	if (p->oom)
		return;
	if (p->listener_sections == 0)
		config_error(p, 0, "no [listener] section; nothing to do");
	for (size_t i = 0; i < p->cfg->nlisteners; i++)
		config_check_binds(p, i);
	if (p->cfg->global.has_admin)
		config_check_admin(p);
	for (size_t i = 0; i < p->cfg->nvhosts; i++) {
		config_check_vhost_listeners(p, i);
		config_check_vhost_names(p, i);
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
			strcat(names, cfg->listeners[k].name);
		}
		if (cfg->nlisteners > 0)
			config_error(p, line,
			             "vhost %s: no listener named '%s'; "
			             "listeners are: %s",
			             v->name, name, names);
		else
			config_error(p, line,
			             "vhost %s: no listener named '%s'",
			             v->name, name);
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
		             k->name, value, list, near);
	else
		config_error(p, p->lineno, "%s: '%s' is not one of %s", k->name,
		             value, list);
	return -1;
}

/* Parse a decimal number from min to max. */
static int config_uint(const char *text, unsigned min, unsigned max,
                       unsigned *out)
{
	unsigned long long v = 0;

	if (!isdigit((unsigned char)*text))
		return -1;
	for (; isdigit((unsigned char)*text); text++) {
		v = v * 10 + (unsigned)(*text - '0');
		if (v > max)
			return -1;
	}
	if (*text != '\0' || v < min)
		return -1;
	*out = (unsigned)v;
	return 0;
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
	             k->name, value, min, max);
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
				             k->name, value);
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
	char why[256];

	if (addr_parse(text, use, out, why, sizeof(why)) == 0)
		return 0;
	config_error(p, p->lineno, "%s: %s", k->name, why);
	return -1;
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
	free(*field);
	*field = NULL;
	if (strcasecmp(value, "off") == 0)
		return 0;
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
	if (*value == '\0' || strcasecmp(value, "off") == 0)
		return 0;
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
		             value);
		return -1;
	}
	if (r < 0) {
		config_error(p, p->lineno,
		             "%s: '%s' is not a duration (250ms, 5s, 2m, 1h)",
		             k->name, value);
		return -1;
	}
	if (v == 0) {
		config_error(p, p->lineno, "%s: '%s' must be longer than 0",
		             k->name, value);
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
		             value, CONFIG_WORKERS_MAX);
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
	char why[256];
	struct cidr c;

	if (cidr_parse(item, &c, why, sizeof(why)) < 0) {
		config_error(p, p->lineno, "%s: %s", k->name, why);
		return -1;
	}
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
	int i = config_word(p, k, value, versions, 3);

	if (i < 0)
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
	if (*value == '\0' || strcasecmp(value, "off") == 0)
		return 0;
	if (config_uint(value, 1, 65535, &port) < 0) {
		config_error(p, p->lineno,
		             "redirect_https: '%s' is not a port number "
		             "(1-65535)",
		             value);
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
			             item, p->state->lines[ITEM_LISTENER][i]);
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
		config_error(p, p->lineno, "alias: '%s' %s", item, why);
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
		             "route: prefix '%.*s' does not start with '/'",
		             (int)n, value);
		return -1;
	}
	for (size_t i = 0; i < v->nroutes; i++) {
		if (strlen(v->routes[i].prefix) == n &&
		    strncmp(v->routes[i].prefix, value, n) == 0) {
			config_error(p, p->lineno,
			             "route: prefix %.*s given twice (first "
			             "on line %d)",
			             (int)n, value,
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
		             value);
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
		             "auth: the password of '%.*s' is not a crypt(3) "
		             "hash; make one with: openssl passwd -6",
		             (int)user, value);
		return -1;
	}
	for (size_t i = 0; i < s->n; i++) {
		if (strncmp(s->v[i], value, user + 1) == 0) {
			config_error(p, p->lineno,
			             "auth: user '%.*s' given twice", (int)user,
			             value);
			return -1;
		}
	}
	return config_strings_add(p, s, value) < 0 ? -1 : 1;
}

/* Parse a duration; -1 when malformed, -2 when too long. */
static int config_duration(const char *text, unsigned *ms)
{
	uint64_t v = 0, unit;
	const char *s = text;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT_MAX)
			v = (uint64_t)UINT_MAX + 1; /* stays too long */
	}
	if (strcmp(s, "ms") == 0)
		unit = 1;
	else if (*s == '\0' || strcmp(s, "s") == 0)
		unit = 1000;
	else if (strcmp(s, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(s, "h") == 0)
		unit = 3600 * 1000;
	else
		return -1;
	if (v > UINT_MAX / unit)
		return -2;
	*ms = (unsigned)(v * unit);
	return 0;
}

/* --- names -------------------------------------------------------------- */

/* True for a listener name: letters, digits, '-', '_' and '.'. */
static bool config_name_ok(const char *name)
{
	for (const char *s = name; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	}
	return *name != '\0';
}

/*
 * Check a vhost name or alias ("app.test", with `wildcard` also
 * "*.app.test") and lower-case it in place. Returns NULL when it is fine,
 * or what is wrong, to follow "'NAME' ".
 */
static const char *config_hostname_check(char *name, bool wildcard)
{
	size_t n = strlen(name);
	char *s = name;

	for (size_t i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	if (n == 0)
		return "is empty";
	if (strchr(name, ':'))
		return "has a port; leave it out (the port is ignored when "
		       "matching)";
	if (n > 253)
		return "is longer than 253 characters";
	if (wildcard && s[0] == '*' && s[1] == '.')
		s += 2;
	for (;;) {
		size_t label = strcspn(s, ".");

		if (label == 0)
			return "has an empty label (two dots, or a dot at "
			       "either end)";
		if (label > 63)
			return "has a label longer than 63 characters";
		if (s[0] == '-' || s[label - 1] == '-')
			return "has a label that starts or ends with '-'";
		for (size_t i = 0; i < label; i++) {
			if (s[i] == '*')
				return wildcard ? "has a '*' other than as the "
				                  "whole first label (as in "
				                  "*.example.test)"
				                : "has a '*'";
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
			    s[i] != '_')
				return "has a character other than letters, "
				       "digits, '-', '_' and '.'";
		}
		if (s[label] == '\0')
			return NULL;
		s += label + 1;
	}
}

/* Optimal string alignment distance between a and b, any case; large
 * when either is long. */
static size_t config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j - 1] + (ca != cb);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    cb == tolower((unsigned char)a[i - 2]) &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* The word of `words` nearest to `word` (at most 2 edits, and fewer than
 * the length of `word`), or NULL. */
static const char *config_nearest(const char *word, const char *const *words,
                                  size_t n)
{
	const char *best = NULL;
	size_t dbest = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = config_distance(word, words[i]);

		if (d < dbest && d < strlen(word)) {
			best = words[i];
			dbest = d;
		}
	}
	return best;
}

/* --- memory and messages ------------------------------------------------ */

/* Resize the array whose pointer is at `ptrp` to n elements. */
static int config_realloc(struct config_parser *p, void *ptrp, size_t n,
                          size_t size)
{
	void *old, *new;

	memcpy(&old, ptrp, sizeof(old));
	if (n > SIZE_MAX / size || !(new = realloc(old, n * size))) {
		p->oom = true;
		return -1;
	}
	memcpy(ptrp, &new, sizeof(new));
	return 0;
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

static void config_state_clear(struct config_state *st)
{
	for (size_t i = 0; i < ITEM_COUNT; i++)
		free(st->lines[i]);
	memset(st, 0, sizeof(*st));
}

static void config_global_init(struct config_global *g)
{
	memset(g, 0, sizeof(*g));
	g->log_level = LOG_LEVEL_INFO;
	g->access_log_format = CONFIG_LOG_COMBINED;
	g->max_connections = 10000;
	g->timeout_connect_ms = 5000;
	g->timeout_idle_ms = 60000;
	g->timeout_header_ms = 10000;
	g->workers = 1;
}

static void config_listener_init(struct config_listener *l)
{
	memset(l, 0, sizeof(*l));
	l->mode = CONFIG_MODE_HTTP;
	l->tls = CONFIG_TLS_OFF;
	l->proxy_protocol = CONFIG_PROXY_OFF;
}

static void config_vhost_init(struct config_vhost *v)
{
	memset(v, 0, sizeof(*v));
	v->host_header = CONFIG_HOST_KEEP;
}

static void config_strings_clear(struct config_strings *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

static void config_listener_clear(struct config_listener *l)
{
	free(l->name);
	free(l->binds);
	free(l->tls_cert);
	free(l->tls_key);
	free(l->allow.blocks);
	free(l->deny.blocks);
	free(l->trusted_proxies.blocks);
	memset(l, 0, sizeof(*l));
}

static void config_vhost_clear(struct config_vhost *v)
{
	free(v->name);
	config_strings_clear(&v->listeners);
	config_strings_clear(&v->aliases);
	for (size_t i = 0; i < v->nroutes; i++)
		free(v->routes[i].prefix);
	free(v->routes);
	free(v->host_header_name);
	free(v->tls_cert);
	free(v->tls_key);
	config_strings_clear(&v->auth);
	memset(v, 0, sizeof(*v));
}

/* Messages kept per parse; more are counted, not stored. */
#define CONFIG_MSGS_MAX 1000

static void config_vmsg(struct config_parser *p, struct config_msgs *m,
                        int line, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

static void config_vmsg(struct config_parser *p, struct config_msgs *m,
                        int line, const char *fmt, va_list ap)
{
	char *text;

	if (m->n >= CONFIG_MSGS_MAX) {
		m->n++;
		return;
	}
	if (vasprintf(&text, fmt, ap) < 0) {
		p->oom = true;
		return;
	}
	if (config_realloc(p, &m->v, m->n + 1, sizeof(*m->v)) < 0) {
		free(text);
		return;
	}
	m->v[m->n].line = line;
	m->v[m->n].seq = p->seq++;
	m->v[m->n].text = text;
	m->n++;
}

/* Record an error at `line` (0: about the whole file). */
static void config_error(struct config_parser *p, int line, const char *fmt,
                         ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vmsg(p, &p->errors, line, fmt, ap);
	va_end(ap);
}

/* Record a note about a pending feature at `line`. */
static void config_note(struct config_parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vmsg(p, &p->notes, line, fmt, ap);
	va_end(ap);
}

/* Line order; messages about the whole file last. */
static int config_msg_cmp(const void *a, const void *b)
{
	const struct config_msg *x = a, *y = b;
	unsigned lx = x->line ? (unsigned)x->line : UINT_MAX;
	unsigned ly = y->line ? (unsigned)y->line : UINT_MAX;

	if (lx != ly)
		return lx < ly ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Sort messages into line order; those about the whole file last. */
static void config_msgs_sort(struct config_msgs *m)
{
	size_t stored = m->n < CONFIG_MSGS_MAX ? m->n : CONFIG_MSGS_MAX;

	if (stored > 0)
		qsort(m->v, stored, sizeof(*m->v), config_msg_cmp);
}

/* Write the errors as "FILE:LINE: text\n" lines into err, at most errlen
 * bytes; when they do not all fit, the last line is "...". */
static void config_write_errors(struct config_parser *p, char *err,
                                size_t errlen)
{
	struct config_msgs *m = &p->errors;
	size_t stored = m->n < CONFIG_MSGS_MAX ? m->n : CONFIG_MSGS_MAX;
	bool cut = stored < m->n;
	size_t used = 0;
	char line[32];

	config_msgs_sort(m);
	for (size_t i = 0; i < stored; i++) {
		const struct config_msg *msg = &m->v[i];
		size_t n, reserve = i + 1 < m->n ? 4 : 0;

		line[0] = '\0';
		if (msg->line)
			snprintf(line, sizeof(line), ":%d", msg->line);
		n = strlen(p->name) + strlen(line) + strlen(msg->text) + 3;
		if (used + n + reserve >= errlen) {
			cut = true;
			break;
		}
		snprintf(err + used, errlen - used, "%s%s: %s\n", p->name, line,
		         msg->text);
		used += n;
	}
	if (cut && used + 4 < errlen)
		memcpy(err + used, "...\n", 5);
}

/* Move the notes into cfg->notes as "FILE:LINE: text", in line order. */
static void config_move_notes(struct config_parser *p)
{
	struct config_strings *notes = &p->cfg->notes;
	struct config_msgs *m = &p->notes;
	size_t stored = m->n < CONFIG_MSGS_MAX ? m->n : CONFIG_MSGS_MAX;

	config_msgs_sort(m);
	for (size_t i = 0; i < stored; i++) {
		char *text;

		if (config_realloc(p, &notes->v, notes->n + 1, sizeof(char *)) <
		    0)
			return;
		if (asprintf(&text, "%s:%d: %s", p->name, m->v[i].line,
		             m->v[i].text) < 0) {
			p->oom = true;
			return;
		}
		notes->v[notes->n++] = text;
	}
}

static void config_msgs_clear(struct config_msgs *m)
{
	size_t stored = m->n < CONFIG_MSGS_MAX ? m->n : CONFIG_MSGS_MAX;

	for (size_t i = 0; i < stored; i++)
		free(m->v[i].text);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}
