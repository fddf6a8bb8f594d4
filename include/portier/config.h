/* SPDX-License-Identifier: MIT */
/*
 * The configuration file, parsed and checked.
 *
 * config_load reads an INI file (DESIGN.md's language) with inih and returns
 * an immutable struct config, or NULL with every error written as
 * "FILE:LINE: message". Nothing here knows about libevent or OpenSSL: the
 * runtime turns a config into live objects. Keys whose feature this version
 * does not implement yet are accepted and listed in `notes` so that start-up
 * can say so; they are never silently ignored.
 */
#ifndef PORTIER_CONFIG_H
#define PORTIER_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "portier/addr.h"
#include "portier/log.h"

/* Most workers (event-loop threads) a configuration may ask for. */
#define CONFIG_WORKERS_MAX 256u

/* What a listener speaks. */
enum config_mode {
	CONFIG_MODE_HTTP,
	CONFIG_MODE_TCP,
	CONFIG_MODE_UDP,
	CONFIG_MODE_TLS_PASSTHROUGH,
};

/* TLS termination on a listener. */
enum config_tls {
	CONFIG_TLS_OFF,
	CONFIG_TLS_ON,
	CONFIG_TLS_AUTO,
};

/* PROXY protocol header sent to the backend. */
enum config_proxy_protocol {
	CONFIG_PROXY_OFF,
	CONFIG_PROXY_V1,
	CONFIG_PROXY_V2,
};

/* Access log format. */
enum config_log_format {
	CONFIG_LOG_COMBINED,
	CONFIG_LOG_JSON,
};

/* Host header sent to a vhost's backend. */
enum config_host_header {
	CONFIG_HOST_KEEP,
	CONFIG_HOST_BACKEND,
	CONFIG_HOST_NAME, /* host_header_name */
};

/* A list of CIDR blocks; n == 0 means "no list given". */
struct config_acl {
	struct cidr *blocks;
	size_t n;
};

/* A list of strings. */
struct config_strings {
	char **v;
	size_t n;
};

/* [global] */
struct config_global {
	enum log_level log_level;	   /* default info */
	char *access_log;		   /* NULL = off, "stderr" or a path */
	enum config_log_format access_log_format; /* default combined */
	char *state_dir;		   /* NULL = default location */
	char *user;			   /* NULL = no privilege drop */
	char *group;
	char *pidfile;			   /* NULL = none */
	int access_log_line; /* lines of access_log and pidfile (0: not */
	int pidfile_line;    /* set), for messages about their files */
	bool has_admin;
	struct addr admin;		   /* valid when has_admin */
	unsigned max_connections;	   /* default 10000 */
	unsigned timeout_connect_ms;	   /* default 5000 */
	unsigned timeout_idle_ms;	   /* default 60000 */
	unsigned timeout_header_ms;	   /* default 10000 */
	unsigned workers;		   /* default 1; 0 = auto */
	/* No key: set by portier expose, which has no user key to point
	 * to, so that staying root is not met with advice about one. */
	bool quiet_root;
};

/* [listener NAME] */
struct config_listener {
	char *name;
	int line; /* line of the section header */
	struct addr *binds;
	size_t nbinds;	       /* at least 1 */
	enum config_mode mode; /* default http */
	bool has_backend;
	struct addr backend; /* required for tcp and udp */
	enum config_tls tls; /* default off */
	char *tls_cert;	     /* required with tls = on */
	char *tls_key;
	int tls_cert_line;   /* lines of tls_cert and tls_key (0: not set), */
	int tls_key_line;    /* for messages about the files they name */
	struct config_acl allow; /* empty = anyone */
	struct config_acl deny;	 /* checked before allow */
	enum config_proxy_protocol proxy_protocol;
	struct config_acl trusted_proxies;
	unsigned max_connections; /* 0 = only the global limit */
	uint16_t redirect_https;  /* 0 = off */
};

/* One `route = PREFIX BACKEND` of a vhost. */
struct config_route {
	char *prefix; /* starts with '/' */
	struct addr backend;
};

/* [vhost HOSTNAME] */
struct config_vhost {
	char *name; /* lower case; "*.suffix" for a wildcard */
	int line;
	struct config_strings listeners; /* empty = every http/passthrough one */
	bool has_backend;
	struct addr backend;
	struct config_strings aliases; /* lower case */
	struct config_route *routes;
	size_t nroutes;
	enum config_host_header host_header;
	char *host_header_name; /* with CONFIG_HOST_NAME */
	char *tls_cert;
	char *tls_key;
	int tls_cert_line; /* lines of tls_cert and tls_key (0: not set) */
	int tls_key_line;
	struct config_strings auth; /* "user:HASH" */
};

/* What a note of struct config is about. */
enum config_note_kind {
	CONFIG_NOTE_FILE,     /* a key or a value of the file */
	CONFIG_NOTE_UNSERVED, /* an http listener that answers 404 to all */
	CONFIG_NOTE_REDIRECT, /* redirect_https to a port no listener of
	                         the file serves */
	CONFIG_NOTE_REDIRECT_PLAIN, /* redirect_https to a port a listener
	                               of the file serves without TLS */
};

/* The subject of one note, for doctor, which reports a note about a
 * listener under that listener. */
struct config_note_about {
	enum config_note_kind kind;
	size_t listener; /* index into listeners; not with CONFIG_NOTE_FILE */
};

/* A whole configuration file. Immutable once returned. */
struct config {
	char *path;
	struct config_global global;
	struct config_listener *listeners;
	size_t nlisteners;
	struct config_vhost *vhosts;
	size_t nvhosts;
	/* "FILE:LINE: KEY ... is not supported yet ..." for each key set whose
	 * feature this version lacks, and what a valid file will not do as it
	 * reads (a certificate no listener uses, a listener that serves
	 * nothing, a redirect to a port no listener serves TLS on); printed
	 * at start-up, at a reload and by -t. */
	struct config_strings notes;
	struct config_note_about *notes_about; /* one per note */
};

/*
 * Read and check the file at `path`. On success returns a config the caller
 * frees with config_free. On failure returns NULL and writes every error,
 * one "FILE:LINE: message\n" per line (at most errlen bytes, truncated with
 * "...\n"), into err.
 */
struct config *config_load(const char *path, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* As config_load, from a string; `name` stands for FILE in messages. */
struct config *config_parse_string(const char *text, const char *name,
				   char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* A config with no listeners and every default; for `portier expose`. */
struct config *config_new_default(void) __attribute__((warn_unused_result));

/* Why `name` cannot be a vhost name or alias ("app.test", "*.app.test",
 * "192.168.1.2", "[fd00::2]"), in words that follow "'NAME' "; NULL when it
 * can. For portier expose, which checks --name before writing it into a
 * configuration. */
const char *config_hostname_error(const char *name);

/* Free a config; accepts NULL. */
void config_free(struct config *cfg);

/* Name of a mode as written in the file ("tcp"). */
const char *config_mode_name(enum config_mode mode);

/* Find a listener by name; NULL if none. */
const struct config_listener *config_find_listener(const struct config *cfg,
						   const char *name);

/* True when vhost v serves listener l: v names l, or v names no listener
 * and l routes by host name (http, tls-passthrough). */
bool config_vhost_serves(const struct config_vhost *v,
			 const struct config_listener *l);

/* Parse a duration ("250ms", "5s", "2m", "1h"; a bare number is seconds)
 * into milliseconds. Returns -1 on a bad or overflowing value. */
int config_parse_duration(const char *text, unsigned *ms);

/* Parse a size ("512", "16k", "1m", "1g"; binary multiples) into bytes. */
int config_parse_size(const char *text, uint64_t *bytes);

/* Parse a boolean (yes/no/on/off/true/false/1/0, any case). */
int config_parse_bool(const char *text, bool *out);

#endif
