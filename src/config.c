/* SPDX-License-Identifier: MIT */
/*
 * The configuration file: DESIGN.md's INI language, read with inih into an
 * immutable struct config. This file holds the public entry points, the
 * reading of the file, its sections, and the messages about it.
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
 * The rest of the parser: config_keys.c, the table of keys and what each
 * value sets; config_check.c, the checks that need more than one key;
 * config_value.c, the syntax of single values. config_parser.h is what they
 * share.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ini.h>

#include "portier/config.h"
#include "config_parser.h"

/* Largest configuration file read; a config is a few kilobytes. */
#define CONFIG_FILE_MAX (1024 * 1024)

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
static void config_long_line(struct config_parser *p, const char *s,
                             const char *eq, const char *e);
static void config_key_line(struct config_parser *p, const char *name,
                            const char *value);
static void config_section_begin(struct config_parser *p, const char *text,
                                 size_t n);
static void config_section_end(struct config_parser *p);
static void config_write_errors(struct config_parser *p, char *err,
                                size_t errlen);
static void config_move_notes(struct config_parser *p);
static void config_msgs_clear(struct config_msgs *m);
static size_t config_cut(char *out, const char *text, size_t n, size_t max);
static int config_read(FILE *f, char **text, size_t *len);
static void config_unknown_key(struct config_parser *p, const char *name);
static void config_pending_note(struct config_parser *p,
                                const struct config_key *k, const char *value);
static void config_listener_begin(struct config_parser *p, const char *name);
static void config_vhost_begin(struct config_parser *p, const char *name);

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
	free(cfg->notes_about);
	free(cfg);
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

bool config_vhost_serves(const struct config_vhost *v,
                         const struct config_listener *l)
{
	if (v->listeners.n == 0)
		return l->mode == CONFIG_MODE_HTTP ||
		       l->mode == CONFIG_MODE_TLS_PASSTHROUGH;
	for (size_t i = 0; i < v->listeners.n; i++) {
		if (strcmp(v->listeners.v[i], l->name) == 0)
			return true;
	}
	return false;
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
	/* A file with CR but no LF was saved with old Mac line ends: each CR
	 * ends a line, as in the editor that shows it. Elsewhere a CR is a
	 * blank (the CR of CRLF) and does not count. */
	p.eol =
	    !memchr(text, '\n', len) && memchr(text, '\r', len) ? '\r' : '\n';

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
		const char *nl = memchr(s, p->eol, p->len - p->pos);
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
				             "section header '%s' has no "
				             "closing ']'",
				             config_show_n(p, s, n));
			else if (close + 1 != e)
				config_error(p, p->lineno,
				             "text after ']' in section "
				             "header '%s'",
				             config_show_n(p, s, n));
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
			             "not '%s'",
			             config_show_n(p, s, n));
			continue;
		}
		if (num < 2 || n > (size_t)num - 2) {
			/* Longer than inih's line buffer (a long path, say):
			 * split here the way inih does. */
			config_long_line(p, s, eq, e);
			continue;
		}
		memcpy(buf, s, n);
		buf[n] = '\n';
		buf[n + 1] = '\0';
		return buf;
	}
	return NULL;
}

/* A "key = value" line too long for inih, s..e with its '=' at eq: the
 * key without trailing blanks, the value without leading ones, as inih
 * would hand them over. */
static void config_long_line(struct config_parser *p, const char *s,
                             const char *eq, const char *e)
{
	const char *ke = eq, *v = eq + 1;
	char *name, *value;

	while (ke > s && isspace((unsigned char)ke[-1]))
		ke--;
	while (v < e && isspace((unsigned char)*v))
		v++;
	name = strndup(s, (size_t)(ke - s));
	value = strndup(v, (size_t)(e - v));
	if (name == NULL || value == NULL)
		p->oom = true;
	else
		config_key_line(p, name, value);
	free(name);
	free(value);
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
	/* inih's section name is truncated at 49 bytes: p tracks its own */
	(void)section;
#if INI_HANDLER_LINENO
	(void)lineno;
#endif
	config_key_line(user, name, value ? value : "");
	return 1;
}

/* One "key = value" line of the current section. */
static void config_key_line(struct config_parser *p, const char *name,
                            const char *value)
{
	const struct config_key *k;
	size_t idx;
	int r;

	if (p->oom || p->section == SECTION_SKIP)
		return;
	if (*name == '\0') {
		config_error(p, p->lineno, "missing key before '='");
		return;
	}
	k = p->section == SECTION_NONE ? NULL
	                               : config_key_find(p->section, name, 0);
	if (!k) {
		config_unknown_key(p, name);
		return;
	}
	idx = (size_t)(k - config_keys);
	if (p->state->seen[idx] && !(k->flags & KEY_LIST)) {
		config_error(p, p->lineno, "%s given twice (first on line %d)",
		             name, p->state->seen[idx]);
		return;
	}
	if (!p->state->seen[idx])
		p->state->seen[idx] = p->lineno;
	r = k->set(p, k, value);
	if (r < 0)
		p->state->bad[idx] = true;
	if (r > 0)
		config_pending_note(p, k, value);
}

/* Add a note when `k` set to `value` is a pending feature. */
static void config_pending_note(struct config_parser *p,
                                const struct config_key *k, const char *value)
{
	const char *name = config_show(p, p->listener ? p->listener->name : "");

	if (!config_pending(k, value) || (p->kind->flags & KEY_PENDING))
		return;
	if (k->flags & KEY_SECRET)
		config_note(
		    p, p->lineno, "%s is not supported yet by this version; %s",
		    k->name,
		    k->pending_effect ? k->pending_effect : "it is ignored");
	else if (k->flags & KEY_STOPS)
		config_note(p, p->lineno,
		            "%s = %s is not supported yet by this version; "
		            "listener '%s' will not be started",
		            k->name, config_show(p, value), name);
	else if (k->pending_effect)
		config_note(p, p->lineno,
		            "%s = %s is not supported yet by this version; %s",
		            k->name, config_show(p, value), k->pending_effect);
	else
		config_note(p, p->lineno,
		            "%s = %s is not supported yet by this version and "
		            "is ignored",
		            k->name, config_show(p, value));
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
		             config_show(p, name));
	else if (nhomes)
		config_error(p, p->lineno,
		             "'%s' is not a [%s] key; it belongs in %s", name,
		             p->kind->name, homes);
	else if ((near = config_nearest(name, words, nwords)) != NULL)
		config_error(p, p->lineno,
		             "unknown key '%s' in %s; did you mean '%s'?",
		             config_show(p, name), p->where, near);
	else
		config_error(p, p->lineno, "unknown key '%s' in %s",
		             config_show(p, name), p->where);
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
			             config_show(p, all), near,
			             *name ? " " : "", config_show(p, name));
		else
			config_error(p, p->lineno,
			             "unknown section [%s]; sections are "
			             "[global], [listener NAME] and "
			             "[vhost HOSTNAME]",
			             config_show(p, all));
		free(word);
		free(all);
		return;
	}
	p->kind = kind;
	p->section = kind->section;
	snprintf(p->where, sizeof(p->where), "[%s%s%s]", kind->name,
	         *name ? " " : "", config_show(p, name));

	if (kind->section == SECTION_GLOBAL) {
		if (*name)
			config_error(p, p->lineno,
			             "[global] takes no name (found [%s])",
			             config_show(p, all));
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
		             config_show(p, name));
	else if (dup)
		config_error(p, p->lineno,
		             "[listener %s] given twice (first on line %d)",
		             config_show(p, name), dup->line);
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
		config_error(p, p->lineno, "vhost name '%s' %s",
		             config_show(p, name), why);
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

/* --- memory and messages ------------------------------------------------ */

/* Resize the array whose pointer is at `ptrp` to n elements. */
int config_realloc(struct config_parser *p, void *ptrp, size_t n, size_t size)
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

/* Longest message kept whole. Quoted values are shortened by config_show;
 * this bounds the rest (a long listener name, a list of them). */
#define CONFIG_MSG_MAX 1024

static struct config_msg *config_vmsg(struct config_parser *p,
                                      struct config_msgs *m, int line,
                                      const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Keep one message; returns it, or NULL when it is only counted. */
static struct config_msg *config_vmsg(struct config_parser *p,
                                      struct config_msgs *m, int line,
                                      const char *fmt, va_list ap)
{
	char *text;
	int len;

	if (m->n >= CONFIG_MSGS_MAX) {
		m->n++;
		return NULL;
	}
	if ((len = vasprintf(&text, fmt, ap)) < 0) {
		p->oom = true;
		return NULL;
	}
	config_cut(text, text, (size_t)len, CONFIG_MSG_MAX);
	if (config_realloc(p, &m->v, m->n + 1, sizeof(*m->v)) < 0) {
		free(text);
		return NULL;
	}
	m->v[m->n].line = line;
	m->v[m->n].seq = p->seq++;
	m->v[m->n].text = text;
	m->v[m->n].about.kind = CONFIG_NOTE_FILE;
	m->v[m->n].about.listener = 0;
	return &m->v[m->n++];
}

/* Record an error at `line` (0: about the whole file). */
void config_error(struct config_parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vmsg(p, &p->errors, line, fmt, ap);
	va_end(ap);
}

/* Record a note about a pending feature at `line`. */
void config_note(struct config_parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_vmsg(p, &p->notes, line, fmt, ap);
	va_end(ap);
}

/* Record a note about what a listener will serve. */
void config_listener_note(struct config_parser *p, enum config_note_kind kind,
                          size_t listener, int line, const char *fmt, ...)
{
	struct config_msg *msg;
	va_list ap;

	va_start(ap, fmt);
	msg = config_vmsg(p, &p->notes, line, fmt, ap);
	va_end(ap);
	if (msg != NULL) {
		msg->about.kind = kind;
		msg->about.listener = listener;
	}
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
 * bytes; when they do not all fit, the last line is "...". A first error
 * too long for err on its own is not dropped: its text is cut in the
 * middle around "...", after its FILE:LINE. */
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
		size_t n, head, reserve = i + 1 < m->n ? 4 : 0;

		line[0] = '\0';
		if (msg->line)
			snprintf(line, sizeof(line), ":%d", msg->line);
		head = strlen(p->name) + strlen(line) + 2; /* "FILE:LINE: " */
		n = head + strlen(msg->text) + 1;
		if (used + n + reserve >= errlen && used == 0 &&
		    errlen > head + 2 + reserve + 8) {
			/* too long alone: its FILE:LINE and a cut text,
			 * "\n\0" and the "...\n" of the others */
			snprintf(err, errlen, "%s%s: ", p->name, line);
			used = head + config_cut(err + head, msg->text,
			                         strlen(msg->text),
			                         errlen - head - 2 - reserve);
			memcpy(err + used, "\n", 2);
			used++;
			cut = reserve > 0;
			break;
		}
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

/* Move the notes into cfg->notes as "FILE:LINE: text", in line order,
 * and what each is about into cfg->notes_about. */
static void config_move_notes(struct config_parser *p)
{
	struct config_strings *notes = &p->cfg->notes;
	struct config_msgs *m = &p->notes;
	size_t stored = m->n < CONFIG_MSGS_MAX ? m->n : CONFIG_MSGS_MAX;

	config_msgs_sort(m);
	for (size_t i = 0; i < stored; i++) {
		char *text;

		if (config_realloc(p, &notes->v, notes->n + 1, sizeof(char *)) <
		        0 ||
		    config_realloc(p, &p->cfg->notes_about, notes->n + 1,
		                   sizeof(*p->cfg->notes_about)) < 0)
			return;
		p->cfg->notes_about[notes->n] = m->v[i].about;
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

/* `text` as a message quotes it: itself when short, else cut to
 * CONFIG_SHOW_MAX bytes in one of p's buffers. */
const char *config_show(struct config_parser *p, const char *text)
{
	size_t n = strlen(text);

	return n <= CONFIG_SHOW_MAX ? text : config_show_n(p, text, n);
}

/* As config_show, for the n bytes at `text`; always a copy. */
const char *config_show_n(struct config_parser *p, const char *text, size_t n)
{
	char *buf = p->shown[p->nshown++ % CONFIG_SHOW_SLOTS];

	config_cut(buf, text, n, CONFIG_SHOW_MAX);
	return buf;
}

/*
 * Copy the n bytes at `text` to out (which may be text itself) and end them
 * with a NUL; when n > max, only the first two thirds and the last third of
 * max bytes, whole UTF-8 characters, around "...": the start of a value
 * says what it is, its end where it went wrong. Returns the length.
 */
static size_t config_cut(char *out, const char *text, size_t n, size_t max)
{
	size_t head, tail;

	if (n <= max) {
		memmove(out, text, n);
		out[n] = '\0';
		return n;
	}
	if (max < 3) {
		out[0] = '\0';
		return 0;
	}
	head = (max - 3) * 2 / 3;
	tail = n - (max - 3 - head);
	while (head > 0 && ((unsigned char)text[head] & 0xC0) == 0x80)
		head--;
	while (tail < n && ((unsigned char)text[tail] & 0xC0) == 0x80)
		tail++;
	memmove(out, text, head);
	memmove(out + head + 3, text + tail, n - tail);
	memcpy(out + head, "...", 3);
	out[head + 3 + n - tail] = '\0';
	return head + 3 + n - tail;
}
