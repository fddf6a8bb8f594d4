/* SPDX-License-Identifier: MIT */
/*
 * What the files of the configuration parser share, and nothing outside
 * them sees: the key table, the state of one parse, and the few functions
 * one file of the parser offers the others. config.c reads the file and
 * opens its sections, config_keys.c turns each value into its struct config
 * field, config_check.c checks what needs more than one key, and
 * config_value.c knows the syntax of single values and names.
 */
#ifndef PORTIER_CONFIG_PARSER_H
#define PORTIER_CONFIG_PARSER_H

#include <stdbool.h>
#include <stddef.h>

#include "portier/config.h"

/* Longest vhost or listener name shown in a "[...]" location. */
#define CONFIG_WHERE_MAX 320

/* Longest text from the file quoted in a message; config_show cuts the
 * middle of a longer one. */
#define CONFIG_SHOW_MAX 80

/* Texts config_show can hand out for one message. */
#define CONFIG_SHOW_SLOTS 4

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

/* Entries of config_keys; the compiler checks the count. */
#define CONFIG_NKEYS 36

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

/* Every section kind and key: CONFIG_NKEYS entries, in config_keys.c. */
extern const struct config_key config_keys[];

/* One error or note, before it is written out. */
struct config_msg {
	int line; /* 0: about the whole file */
	size_t seq;
	char *text;
	struct config_note_about about; /* of a note */
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
	char eol;   /* '\n', or '\r' in a file of CR-only line ends */
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
	/* config_show's copies, used in turn */
	char shown[CONFIG_SHOW_SLOTS][CONFIG_SHOW_MAX + 1];
	unsigned nshown;
};

/* --- config.c ----------------------------------------------------------- */

/* Record an error at `line` (0: about the whole file). */
void config_error(struct config_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a note about a pending feature at `line`. */
void config_note(struct config_parser *p, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Record a note at `line` about what listener `listener` (an index into
 * cfg->listeners) will serve. */
void config_listener_note(struct config_parser *p, enum config_note_kind kind,
                          size_t listener, int line, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/* `text` as a message quotes it: itself when short, else its start and
 * end around "..." in one of p's CONFIG_SHOW_SLOTS buffers, which later
 * calls reuse; so at most that many per message. */
const char *config_show(struct config_parser *p, const char *text);

/* As config_show, for the n bytes at `text`. */
const char *config_show_n(struct config_parser *p, const char *text, size_t n);

/* Resize the array whose pointer is at `ptrp` to n elements; on failure
 * sets p->oom and returns -1. */
int config_realloc(struct config_parser *p, void *ptrp, size_t n, size_t size);

/* --- config_keys.c ------------------------------------------------------ */

/* The key table entry for `name` in `section`: a key, or with KEY_SECTION
 * a section kind. NULL if there is none. */
const struct config_key *config_key_find(enum config_section section,
                                         const char *name, int flags);

/* True when `k` set to `value` (not its default) is a pending feature. */
bool config_pending(const struct config_key *k, const char *value);

/* --- config_check.c ----------------------------------------------------- */

/* Checks of the current listener that need all of its keys. */
void config_listener_check(struct config_parser *p);

/* Checks of the current vhost that need all of its keys. */
void config_vhost_check(struct config_parser *p);

/* Checks across sections, once the whole file is read. */
void config_finish(struct config_parser *p);

/* --- config_value.c ----------------------------------------------------- */

/* Parse a duration into ms; -1 when malformed, -2 when too long. */
int config_duration(const char *text, unsigned *ms);

/* Parse a decimal number from min to max. */
int config_uint(const char *text, unsigned min, unsigned max, unsigned *out);

/* True for a listener name: letters, digits, '-', '_' and '.'. */
bool config_name_ok(const char *name);

/* Check a host name (with `wildcard` also "*.suffix") and lower-case it in
 * place; NULL when fine, else what is wrong, to follow "'NAME' ". */
const char *config_hostname_check(char *name, bool wildcard);

/* The word of `words` nearest to `word`, for "did you mean"; or NULL. */
const char *config_nearest(const char *word, const char *const *words,
                           size_t n);

#endif
