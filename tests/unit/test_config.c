/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for config.c: a table of good files with what they must turn
 * into (every key, every default, the notes about pending features), a
 * table of bad files with the exact error output each must give, the value
 * parsers, and config_load on real files (line numbers, unreadable files).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "portier/config.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Real crypt(3) hashes of "secret": config_set_auth checks them. */
#define HASH_SHA512                                                        \
	"$6$salt$egUxKNxDs8kPfh8iPMNcosMhb2eWah6d"                                   \
	"3R44JDm5Rj/j/XWR5E33QPd0YmHXoDHOIDR6kL5D3JcQcz0O8FHE00"
#define HASH_BCRYPT "$2b$05$abcdefghijklmnopqrstuuOQiyCxlgf/oeuTqixKmWdcYUh4Hjl0a"

/* A valid tcp listener, four lines, for tests about something else. */
#define TCP_A "[listener a]\nbind = 1000\nmode = tcp\nbackend = 2000\n"

/* An address as the user would write it; four results may be in use. */
static const char *addr_str(const struct addr *a)
{
	static char buf[4][ADDR_STRLEN];
	static unsigned i;

	i = (i + 1) % 4;
	return addr_format(a, buf[i], sizeof(buf[i]));
}

static const char *cidr_str(const struct cidr *c)
{
	static char buf[4][64];
	static unsigned i;

	i = (i + 1) % 4;
	return cidr_format(c, buf[i], sizeof(buf[i]));
}

/* All notes of cfg, one per line. */
static char *notes_str(const struct config *cfg)
{
	static char buf[4096];

	buf[0] = '\0';
	for (size_t i = 0; i < cfg->notes.n; i++) {
		strcat(buf, cfg->notes.v[i]);
		strcat(buf, "\n");
	}
	return buf;
}

static void assert_global_defaults(const struct config_global *g)
{
	assert_int_equal(g->log_level, LOG_LEVEL_INFO);
	assert_null(g->access_log);
	assert_int_equal(g->access_log_format, CONFIG_LOG_COMBINED);
	assert_null(g->state_dir);
	assert_null(g->user);
	assert_null(g->group);
	assert_null(g->pidfile);
	assert_false(g->has_admin);
	assert_int_equal(g->max_connections, 10000);
	assert_int_equal(g->timeout_connect_ms, 5000);
	assert_int_equal(g->timeout_idle_ms, 60000);
	assert_int_equal(g->timeout_header_ms, 10000);
	assert_int_equal(g->workers, 1);
}

/* --- good files --------------------------------------------------------- */

static void check_minimal_tcp(const struct config *cfg)
{
	const struct config_listener *l = &cfg->listeners[0];

	assert_string_equal(cfg->path, "t.ini");
	assert_global_defaults(&cfg->global);
	assert_int_equal(cfg->nlisteners, 1);
	assert_int_equal(cfg->nvhosts, 0);
	assert_string_equal(l->name, "db");
	assert_int_equal(l->line, 2);
	assert_int_equal(l->nbinds, 1);
	assert_int_equal(l->binds[0].kind, ADDR_INET);
	assert_string_equal(addr_str(&l->binds[0]), "127.0.0.1:5432");
	assert_int_equal(l->mode, CONFIG_MODE_TCP);
	assert_true(l->has_backend);
	assert_string_equal(addr_str(&l->backend), "127.0.0.1:15432");
	assert_int_equal(l->tls, CONFIG_TLS_OFF);
	assert_null(l->tls_cert);
	assert_null(l->tls_key);
	assert_int_equal(l->allow.n, 0);
	assert_int_equal(l->deny.n, 0);
	assert_int_equal(l->proxy_protocol, CONFIG_PROXY_OFF);
	assert_int_equal(l->trusted_proxies.n, 0);
	assert_int_equal(l->max_connections, 0);
	assert_int_equal(l->redirect_https, 0);
	assert_ptr_equal(config_find_listener(cfg, "db"), l);
	assert_null(config_find_listener(cfg, "web"));
	assert_null(config_find_listener(cfg, "DB"));
}

static void check_every_global_key(const struct config *cfg)
{
	const struct config_global *g = &cfg->global;

	assert_int_equal(g->log_level, LOG_LEVEL_DEBUG);
	assert_string_equal(g->access_log, "/var/log/portier.log");
	assert_int_equal(g->access_log_format, CONFIG_LOG_JSON);
	assert_string_equal(g->state_dir, "/var/lib/portier-test");
	assert_string_equal(g->user, "nobody");
	assert_string_equal(g->group, "nogroup");
	assert_string_equal(g->pidfile, "/run/portier.pid");
	assert_true(g->has_admin);
	assert_string_equal(addr_str(&g->admin), "127.0.0.1:9000");
	assert_int_equal(g->max_connections, 500);
	assert_int_equal(g->timeout_connect_ms, 250);
	assert_int_equal(g->timeout_idle_ms, 120000);
	assert_int_equal(g->timeout_header_ms, 3600000);
	assert_int_equal(g->workers, 4);
	assert_int_equal(cfg->nlisteners, 1);
}

static void check_every_listener_key(const struct config *cfg)
{
	const struct config_listener *web = config_find_listener(cfg, "web");
	const struct config_listener *sec = config_find_listener(cfg, "secure");
	const struct config_listener *dns = config_find_listener(cfg, "dns");
	const struct config_listener *pass = config_find_listener(cfg, "pass");

	assert_global_defaults(&cfg->global);
	assert_int_equal(cfg->nlisteners, 4);
	assert_ptr_equal(web, &cfg->listeners[0]);
	assert_ptr_equal(pass, &cfg->listeners[3]);

	assert_int_equal(web->line, 1);
	assert_int_equal(web->nbinds, 3);
	assert_string_equal(addr_str(&web->binds[0]), "127.0.0.1:8080");
	assert_string_equal(addr_str(&web->binds[1]), "[::1]:8080");
	assert_string_equal(addr_str(&web->binds[2]), "192.168.1.10:8080");
	assert_int_equal(web->mode, CONFIG_MODE_HTTP);
	assert_true(web->has_backend);
	assert_int_equal(web->backend.kind, ADDR_LOCALHOST);
	assert_string_equal(addr_str(&web->backend), "localhost:3000");
	assert_int_equal(web->allow.n, 3);
	assert_string_equal(cidr_str(&web->allow.blocks[0]), "192.168.0.0/16");
	assert_string_equal(cidr_str(&web->allow.blocks[1]), "::1/128");
	assert_string_equal(cidr_str(&web->allow.blocks[2]), "10.0.0.0/8");
	assert_int_equal(web->deny.n, 1);
	assert_string_equal(cidr_str(&web->deny.blocks[0]), "192.168.1.66/32");
	assert_int_equal(web->trusted_proxies.n, 1);
	assert_string_equal(cidr_str(&web->trusted_proxies.blocks[0]),
	                    "127.0.0.1/32");
	assert_int_equal(web->max_connections, 100);
	assert_int_equal(web->redirect_https, 8443);
	assert_int_equal(web->tls, CONFIG_TLS_OFF);

	assert_int_equal(sec->line, 13);
	assert_int_equal(sec->nbinds, 1);
	assert_int_equal(sec->binds[0].kind, ADDR_ANY);
	assert_string_equal(addr_str(&sec->binds[0]), "*:8443");
	assert_int_equal(sec->mode, CONFIG_MODE_HTTP);
	assert_int_equal(sec->tls, CONFIG_TLS_ON);
	assert_string_equal(sec->tls_cert, "/etc/portier/cert.pem");
	assert_string_equal(sec->tls_key, "/etc/portier/key.pem");
	assert_int_equal(sec->tls_cert_line, 16);
	assert_int_equal(sec->tls_key_line, 17);
	assert_int_equal(sec->backend.kind, ADDR_UNIX);
	assert_string_equal(addr_str(&sec->backend), "unix:/run/app.sock");
	assert_int_equal(sec->proxy_protocol, CONFIG_PROXY_V2);
	assert_int_equal(sec->allow.n, 0);

	assert_int_equal(dns->mode, CONFIG_MODE_UDP);
	assert_string_equal(addr_str(&dns->backend), "[::1]:53");
	assert_int_equal(pass->mode, CONFIG_MODE_TLS_PASSTHROUGH);
	assert_true(pass->has_backend);
	assert_string_equal(addr_str(&pass->backend), "127.0.0.1:8443");
	assert_int_equal(pass->proxy_protocol, CONFIG_PROXY_V1);
}

static void check_every_vhost_key(const struct config *cfg)
{
	const struct config_vhost *v = &cfg->vhosts[0];
	const struct config_vhost *w = &cfg->vhosts[1];
	const struct config_vhost *x = &cfg->vhosts[2];

	assert_int_equal(cfg->nlisteners, 3);
	assert_int_equal(cfg->nvhosts, 3);

	assert_string_equal(v->name, "app.test");
	assert_int_equal(v->line, 11);
	assert_int_equal(v->listeners.n, 2);
	assert_string_equal(v->listeners.v[0], "web");
	assert_string_equal(v->listeners.v[1], "tls");
	assert_true(v->has_backend);
	assert_string_equal(addr_str(&v->backend), "127.0.0.1:5173");
	assert_int_equal(v->aliases.n, 3);
	assert_string_equal(v->aliases.v[0], "app.local");
	assert_string_equal(v->aliases.v[1], "*.app.test");
	assert_string_equal(v->aliases.v[2], "www.app.test");
	assert_int_equal(v->nroutes, 2);
	assert_string_equal(v->routes[0].prefix, "/api");
	assert_string_equal(addr_str(&v->routes[0].backend), "127.0.0.1:4000");
	assert_string_equal(v->routes[1].prefix, "/ws");
	assert_string_equal(addr_str(&v->routes[1].backend),
	                    "unix:/run/ws.sock");
	assert_int_equal(v->host_header, CONFIG_HOST_BACKEND);
	assert_null(v->host_header_name);
	assert_string_equal(v->tls_cert, "app.pem");
	assert_string_equal(v->tls_key, "app-key.pem");
	assert_int_equal(v->tls_cert_line, 19);
	assert_int_equal(v->tls_key_line, 20);
	assert_int_equal(v->auth.n, 2);
	assert_string_equal(v->auth.v[0], "alice:" HASH_SHA512);
	assert_string_equal(v->auth.v[1], "bob:" HASH_BCRYPT);

	assert_string_equal(w->name, "*.dev.test");
	assert_int_equal(w->listeners.n, 0);
	assert_false(w->has_backend);
	assert_int_equal(w->nroutes, 1);
	assert_string_equal(w->routes[0].prefix, "/");
	assert_string_equal(addr_str(&w->routes[0].backend), "localhost:3000");
	assert_int_equal(w->host_header, CONFIG_HOST_NAME);
	assert_string_equal(w->host_header_name, "upstream.internal:8080");
	assert_null(w->tls_cert);
	assert_int_equal(w->tls_cert_line, 0);
	assert_int_equal(w->aliases.n, 0);
	assert_int_equal(w->auth.n, 0);

	assert_string_equal(x->name, "plain.test");
	assert_int_equal(x->host_header, CONFIG_HOST_KEEP);
}

static void check_syntax(const struct config *cfg)
{
	const struct config_global *g = &cfg->global;
	const struct config_listener *l = &cfg->listeners[0];

	assert_int_equal(g->log_level, LOG_LEVEL_WARN);
	assert_int_equal(g->workers, 0);
	assert_null(g->user);
	assert_false(g->has_admin);
	assert_null(g->access_log);
	assert_int_equal(g->timeout_idle_ms, 90000);
	assert_string_equal(l->name, "fwd");
	assert_int_equal(l->line, 10);
	assert_string_equal(addr_str(&l->binds[0]), "*:2222");
	assert_int_equal(l->mode, CONFIG_MODE_TCP);
	assert_string_equal(addr_str(&l->backend), "127.0.0.1:22");
	assert_int_equal(l->tls, CONFIG_TLS_OFF);
	assert_int_equal(l->deny.n, 0);
	assert_int_equal(l->max_connections, 0);
	assert_int_equal(l->redirect_https, 0);
}

static void check_shared_port(const struct config *cfg)
{
	assert_int_equal(cfg->nlisteners, 2);
	assert_int_equal(cfg->listeners[0].mode, CONFIG_MODE_UDP);
	assert_int_equal(cfg->listeners[1].mode, CONFIG_MODE_TCP);
}

static void check_long_names(const struct config *cfg)
{
	assert_string_equal(cfg->listeners[0].name,
	                    "a-listener-name-that-is-much-longer-than-fifty-"
	                    "characters");
	assert_string_equal(cfg->vhosts[0].name,
	                    "a-very-long-host-name-for-a-test.example-domain."
	                    "test");
}

static void check_nothing(const struct config *cfg)
{
	assert_non_null(cfg);
}

static void check_long_line(const struct config *cfg)
{
	assert_int_equal(cfg->listeners[0].allow.n, 18);
	assert_int_equal(cfg->listeners[0].deny.n, 1);
}

static void check_longer_line(const struct config *cfg)
{
	assert_int_equal(cfg->listeners[0].allow.n, 30);
}

/* The redirect notes name their listeners, a to c; b's port is a plain
 * listener's. */
static void check_redirect(const struct config *cfg)
{
	assert_int_equal(cfg->notes.n, 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(cfg->notes_about[i].kind,
		                 i == 1 ? CONFIG_NOTE_REDIRECT_PLAIN
		                        : CONFIG_NOTE_REDIRECT);
		assert_int_equal(cfg->notes_about[i].listener, i);
	}
}

/* The notes name the listeners they are about, for doctor. */
static void check_unserved(const struct config *cfg)
{
	assert_int_equal(cfg->notes.n, 3);
	assert_int_equal(cfg->notes_about[0].kind, CONFIG_NOTE_UNSERVED);
	assert_int_equal(cfg->notes_about[0].listener, 0);
	assert_int_equal(cfg->notes_about[1].kind, CONFIG_NOTE_UNSERVED);
	assert_int_equal(cfg->notes_about[1].listener, 1);
	assert_int_equal(cfg->notes_about[2].kind, CONFIG_NOTE_UNSERVED);
	assert_int_equal(cfg->notes_about[2].listener, 4);
}

struct good_case {
	const char *title;
	const char *text;
	void (*check)(const struct config *cfg);
	const char *notes;
};

static const struct good_case good_cases[] = {
    {"minimal tcp forward",
     "; a database\n"
     "[listener db]\n"
     "bind = 5432\n"
     "mode = tcp\n"
     "backend = 127.0.0.1:15432\n",
     check_minimal_tcp, ""},
    {"every global key",
     "[global]\n"
     "log_level = debug\n"
     "access_log = /var/log/portier.log\n"
     "access_log_format = json\n"
     "state_dir = /var/lib/portier-test\n"
     "user = nobody\n"
     "group = nogroup\n"
     "pidfile = /run/portier.pid\n"
     "admin = 127.0.0.1:9000\n"
     "max_connections = 500\n"
     "timeout_connect = 250ms\n"
     "timeout_idle = 2m\n"
     "timeout_header = 1h\n"
     "workers = 4\n" TCP_A,
     check_every_global_key, ""},
    {"every listener key",
     "[listener web]\n"
     "bind = 8080, [::1]:8080\n"
     "bind = 192.168.1.10:8080\n"
     "mode = http\n"
     "backend = localhost:3000\n"
     "allow = 192.168.0.0/16, ::1\n"
     "allow = 10.0.0.0/8\n"
     "deny = 192.168.1.66\n"
     "trusted_proxies = 127.0.0.1\n"
     "max_connections = 100\n"
     "redirect_https = 8443\n"
     "\n"
     "[listener secure]\n"
     "bind = *:8443\n"
     "tls = on\n"
     "tls_cert = /etc/portier/cert.pem\n"
     "tls_key = /etc/portier/key.pem\n"
     "backend = unix:/run/app.sock\n"
     "proxy_protocol = v2\n"
     "[listener dns]\n"
     "bind = 5353\n"
     "mode = udp\n"
     "backend = [::1]:53\n"
     "[listener pass]\n"
     "bind = 9443\n"
     "mode = tls-passthrough\n"
     "proxy_protocol = v1\n"
     "backend = 8443\n",
     check_every_listener_key, ""},
    {"every vhost key",
     "[listener web]\n"
     "bind = 8080\n"
     "[listener tls]\n"
     "bind = 8443\n"
     "tls = auto\n"
     "[listener db]\n"
     "bind = 5432\n"
     "mode = tcp\n"
     "backend = 15432\n"
     "\n"
     "[vhost App.Test]\n"
     "listener = web, tls\n"
     "backend = 5173\n"
     "alias = app.local, *.App.Test\n"
     "alias = www.app.test\n"
     "route = /api 127.0.0.1:4000\n"
     "route = /ws   unix:/run/ws.sock\n"
     "host_header = backend\n"
     "tls_cert = app.pem\n"
     "tls_key = app-key.pem\n"
     "auth = alice:" HASH_SHA512 "\n"
     "auth = bob:" HASH_BCRYPT "\n"
     "[vhost *.dev.test]\n"
     "route = / localhost:3000\n"
     "host_header = upstream.internal:8080\n"
     "[vhost plain.test]\n"
     "backend = 3000\n"
     "host_header = keep\n",
     check_every_vhost_key, ""},
    {"comments, indentation, CRLF, BOM, empty and default values",
     "\xEF\xBB\xBF; portier test\r\n"
     "# a hash comment\r\n"
     "\r\n"
     "[global]   ; inline comment\r\n"
     "\tlog_level=WARNING\r\n"
     "  workers = auto # inline hash comment\r\n"
     "user =\r\n"
     "admin = off\r\n"
     "access_log = off\r\n"
     "[listener fwd]\n"
     "  bind = *:2222 ; ssh\n"
     "mode = TCP\n"
     "backend = 22\n"
     "tls = no\n"
     "deny =\n"
     "max_connections = 0\n"
     "redirect_https =\n"
     "[global]\n"
     "timeout_idle = 90\n",
     check_syntax, ""},
    {"CR-only line ends (old Mac) end lines",
     "; a database\r"
     "[listener db]\r"
     "bind = 5432\r"
     "mode = tcp\r"
     "backend = 127.0.0.1:15432\r",
     check_minimal_tcp, ""},
    {"udp and tcp share a port",
     "[listener dns-udp]\n"
     "bind = 5353\n"
     "mode = udp\n"
     "backend = 53\n"
     "[listener dns-tcp]\n"
     "bind = 5353\n"
     "mode = tcp\n"
     "backend = 53\n",
     check_shared_port, ""},
    {"names longer than inih keeps",
     "[listener a-listener-name-that-is-much-longer-than-fifty-characters]"
     "\nbind = 80\n"
     "[vhost a-very-long-host-name-for-a-test.example-domain.test]\n"
     "backend = 8080\n",
     check_long_names, ""},
    {"default values give no notes",
     "[global]\n"
     "log_level = info\n"
     "access_log = off\n"
     "access_log_format = combined\n"
     "state_dir =\n"
     "user =\n"
     "group =\n"
     "pidfile =\n"
     "admin = off\n"
     "workers = 1\n"
     "[listener a]\n"
     "bind = 1000\n"
     "mode = tcp\n"
     "backend = 2000\n"
     "tls = off\n"
     "proxy_protocol = off\n"
     "trusted_proxies =\n"
     "redirect_https = off\n",
     check_nothing, ""},
    {"lists split over lines; wildcard and loopback on other ports",
     "[listener a]\n"
     "bind = *:80\n"
     "bind = 81,82\n"
     "mode = tcp\n"
     "backend = 1\n"
     "allow = 10.0.0.0/8 ,192.168.0.0/16\n"
     "[listener b]\n"
     "bind = 0.0.0.0:83, [::]:83\n"
     "mode = tcp\n"
     "backend = 2\n",
     check_nothing, ""},
    {"a line of 198 characters, and a longer one made of comment",
     TCP_A "allow = 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, "
           "10.0.0.6, 10.0.0.7, 10.0.0.8, 10.0.0.9, 10.0.0.10, 10.0.0.11, "
           "10.0.0.12, 10.0.0.13, 10.0.0.14, 10.0.0.15, 10.0.0.16, "
           "10.0.0.17,    10.0.0.18\n"
           "deny = 10.0.0.1  ; a comment that makes the line longer than "
           "inih's line buffer of two hundred bytes, which does not matter "
           "because comments are dropped before the line is handed over\n",
     check_long_line, ""},
    {"a line longer than inih's buffer, split by portier",
     TCP_A "allow   =   10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, "
           "10.0.0.6, 10.0.0.7, 10.0.0.8, 10.0.0.9, 10.0.0.10, 10.0.0.11, "
           "10.0.0.12, 10.0.0.13, 10.0.0.14, 10.0.0.15, 10.0.0.16, "
           "10.0.0.17, 10.0.0.18, 10.0.0.19, 10.0.0.20, 10.0.0.21, "
           "10.0.0.22, 10.0.0.23, 10.0.0.24, 10.0.0.25, 10.0.0.26, "
           "10.0.0.27, 10.0.0.28, 10.0.0.29, 10.0.0.30   ; and a comment\n",
     check_longer_line, ""},
    {"a vhost certificate that no listener of the vhost serves",
     "[listener web]\n"
     "bind = 80\n"
     "[listener pass]\n"
     "bind = 443\n"
     "mode = tls-passthrough\n"
     "[listener secure]\n"
     "bind = 8443\n"
     "tls = on\n"
     "tls_cert = a.pem\n"
     "tls_key = a-key.pem\n"
     "backend = 4000\n"
     "[vhost app.test]\n"
     "listener = web, pass\n"
     "backend = 3000\n"
     "tls_cert = app.pem\n"
     "tls_key = app-key.pem\n",
     check_nothing,
     "t.ini:15: vhost app.test: tls_cert is not used: no listener of this "
     "vhost terminates TLS (an http listener with tls = on or tls = auto)\n"},
    {"http listeners with no backend that no vhost serves: every request "
     "gets 404, unless they redirect; a tls-passthrough one closes every "
     "connection",
     "[listener web]\n"
     "bind = 80\n"
     "[listener secure]\n"
     "bind = 443\n"
     "tls = auto\n"
     "[listener plain]\n"
     "bind = 8080\n"
     "redirect_https = 443\n"
     "[listener api]\n"
     "bind = 8081\n"
     "[vhost api.test]\n"
     "listener = api\n"
     "backend = 3000\n"
     "[listener pass]\n"
     "bind = 8443\n"
     "mode = tls-passthrough\n",
     check_unserved,
     "t.ini:1: listener web: every request gets 404: it has no backend, "
     "and no vhost serves it; add backend = PORT, or a vhost with "
     "listener = web\n"
     "t.ini:3: listener secure: every request gets 404: it has no "
     "backend, and no vhost serves it; add backend = PORT, or a vhost "
     "with listener = secure\n"
     "t.ini:14: listener pass: every connection is closed: it has no "
     "backend, and no vhost serves it; add backend = PORT, or a vhost "
     "with listener = pass\n"},
    {"redirect_https to ports where no listener serves TLS: none, a "
     "plain one, a udp one",
     "[listener a]\n"
     "bind = 80\n"
     "redirect_https = 443\n"
     "[listener b]\n"
     "bind = 81\n"
     "redirect_https = 8080\n"
     "[listener c]\n"
     "bind = 82\n"
     "redirect_https = 53\n"
     "[listener web]\n"
     "bind = *:8080\n"
     "backend = 3000\n"
     "[listener dns]\n"
     "bind = 53\n"
     "mode = udp\n"
     "backend = 5353\n",
     check_redirect,
     "t.ini:3: listener a: redirect_https = 443, but no listener of this "
     "file serves TLS on port 443 (tls = on or auto, or tls-passthrough): "
     "browsers are sent to a port portier does not serve\n"
     "t.ini:6: listener b: redirect_https = 8080, but listener web serves "
     "port 8080 without TLS: browsers sent there fail their TLS "
     "handshake\n"
     "t.ini:9: listener c: redirect_https = 53, but no listener of this "
     "file serves TLS on port 53 (tls = on or auto, or tls-passthrough): "
     "browsers are sent to a port portier does not serve\n"},
    {"redirect_https to ports where TLS is served: terminated, auto, "
     "passed through, on any address",
     "[listener a]\n"
     "bind = 80\n"
     "redirect_https = 443\n"
     "[listener b]\n"
     "bind = 81\n"
     "redirect_https = 8443\n"
     "[listener c]\n"
     "bind = 82\n"
     "redirect_https = 9443\n"
     "[listener on]\n"
     "bind = [::1]:443\n"
     "tls = on\n"
     "tls_cert = a.pem\n"
     "tls_key = a-key.pem\n"
     "backend = 3000\n"
     "[listener auto]\n"
     "bind = 8000, *:8443\n"
     "tls = auto\n"
     "backend = 3000\n"
     "[listener pass]\n"
     "bind = 9443\n"
     "mode = tls-passthrough\n"
     "backend = 3443\n",
     check_nothing, ""},
    {"http listeners served by a vhost that names no listener",
     "[listener web]\n"
     "bind = 80\n"
     "[listener secure]\n"
     "bind = 443\n"
     "tls = auto\n"
     "[vhost app.test]\n"
     "backend = 3000\n",
     check_nothing, ""},
    {"a vhost certificate that a TLS listener of the vhost serves",
     "[listener web]\n"
     "bind = 80\n"
     "[listener secure]\n"
     "bind = 8443\n"
     "tls = auto\n"
     "[vhost app.test]\n"
     "backend = 3000\n"
     "tls_cert = app.pem\n"
     "tls_key = app-key.pem\n",
     check_nothing, ""},
};

static void test_good_configs(void **state)
{
	char err[4096];

	(void)state;
	for (size_t i = 0; i < N(good_cases); i++) {
		const struct good_case *c = &good_cases[i];
		struct config *cfg;

		print_message("good: %s\n", c->title);
		strcpy(err, "untouched");
		cfg = config_parse_string(c->text, "t.ini", err, sizeof(err));
		if (!cfg)
			print_message("%s", err);
		assert_non_null(cfg);
		assert_string_equal(err, "");
		c->check(cfg);
		assert_string_equal(notes_str(cfg), c->notes);
		config_free(cfg);
	}
}

/* --- bad files ---------------------------------------------------------- */

struct bad_case {
	const char *text;
	const char *errors;
};

static const struct bad_case bad_cases[] = {
    /* sections */
    {"[listner web]\nbind = 8080\nbakend = 1\n" TCP_A,
     "t.ini:1: unknown section [listner web]; did you mean "
     "[listener web]?\n"},
    {"[Global]\n" TCP_A,
     "t.ini:1: unknown section [Global]; did you mean [global]?\n"},
    {"[vhosts app.test]\n" TCP_A,
     "t.ini:1: unknown section [vhosts app.test]; did you mean "
     "[vhost app.test]?\n"},
    {"[frontend web]\n" TCP_A,
     "t.ini:1: unknown section [frontend web]; sections are [global], "
     "[listener NAME] and [vhost HOSTNAME]\n"},
    {"[]\n" TCP_A, "t.ini:1: unknown section []; sections are [global], "
                   "[listener NAME] and [vhost HOSTNAME]\n"},
    {"[global x]\n" TCP_A,
     "t.ini:1: [global] takes no name (found [global x])\n"},
    {"[listener a\n" TCP_A,
     "t.ini:1: section header '[listener a' has no closing ']'\n"},
    {"[listener a] x\nbind = 1\n" TCP_A,
     "t.ini:1: text after ']' in section header '[listener a] x'\n"},
    {"[listener]\nbind = 1\nbakend = 2\n" TCP_A,
     "t.ini:1: [listener] needs a name, as in [listener web]\n"
     "t.ini:3: unknown key 'bakend' in [listener]; did you mean "
     "'backend'?\n"},
    {"[listener my web]\nbind = 1\n" TCP_A,
     "t.ini:1: listener name 'my web' has a character other than "
     "letters, digits, '-', '_' and '.'\n"},
    {TCP_A "[listener a]\nbind = 3000\nmode = tcp\nbakend = 2\n",
     "t.ini:5: [listener a] given twice (first on line 1)\n"
     "t.ini:8: unknown key 'bakend' in [listener a]; did you mean "
     "'backend'?\n"},
    {"[global]\nlog_level = debug\n",
     "t.ini: no [listener] section; nothing to do\n"},
    {"", "t.ini: no [listener] section; nothing to do\n"},
    {"; only a comment\n\n", "t.ini: no [listener] section; nothing to do\n"},

    /* lines inih would not take */
    {TCP_A "foo\n",
     "t.ini:5: expected 'KEY = VALUE' or '[SECTION]', not 'foo'\n"},
    {TCP_A "backend: 1\n",
     "t.ini:5: expected 'KEY = VALUE' or '[SECTION]', not 'backend: 1'\n"},
    {TCP_A "= 5\n", "t.ini:5: missing key before '='\n"},
    {TCP_A "allow = 10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, "
           "10.0.0.6, 10.0.0.7, 10.0.0.8, 10.0.0.9, 10.0.0.10, 10.0.0.11, "
           "10.0.0.12, 10.0.0.13, 10.0.0.14, 10.0.0.15, 10.0.0.16, "
           "10.0.0.17, 10.0.0.18, 10.0.0.19, 10.0.0.x\n",
     "t.ini:5: allow: '10.0.0.x' is not an IP address\n"},
    {TCP_A "alow    =   10.0.0.1, 10.0.0.2, 10.0.0.3, 10.0.0.4, 10.0.0.5, "
           "10.0.0.6, 10.0.0.7, 10.0.0.8, 10.0.0.9, 10.0.0.10, 10.0.0.11, "
           "10.0.0.12, 10.0.0.13, 10.0.0.14, 10.0.0.15, 10.0.0.16, "
           "10.0.0.17, 10.0.0.18, 10.0.0.19\n",
     "t.ini:5: unknown key 'alow' in [listener a]; did you mean 'allow'?\n"},

    /* keys */
    {TCP_A "bakend = 1\n",
     "t.ini:5: unknown key 'bakend' in [listener a]; did you mean "
     "'backend'?\n"},
    {TCP_A "Mode = tcp\n",
     "t.ini:5: unknown key 'Mode' in [listener a]; did you mean "
     "'mode'?\n"},
    {TCP_A "frobnicate = 1\n",
     "t.ini:5: unknown key 'frobnicate' in [listener a]\n"},
    {"[global]\nbackend = 1\n" TCP_A,
     "t.ini:2: 'backend' is not a [global] key; it belongs in [listener] "
     "or [vhost]\n"},
    {"[global]\nbind = 1\n" TCP_A,
     "t.ini:2: 'bind' is not a [global] key; it belongs in [listener]\n"},
    {TCP_A "alias = x.test\n",
     "t.ini:5: 'alias' is not a [listener] key; it belongs in [vhost]\n"},
    {TCP_A "timeout_idle = 5s\n",
     "t.ini:5: 'timeout_idle' is not a [listener] key; it belongs in "
     "[global]\n"},
    {"log_level = debug\n" TCP_A,
     "t.ini:1: key 'log_level' outside a section; it belongs in "
     "[global]\n"},
    {"backend = 1\n" TCP_A,
     "t.ini:1: key 'backend' outside a section; it belongs in "
     "[listener NAME] or [vhost HOSTNAME]\n"},
    {"foo = 1\n" TCP_A,
     "t.ini:1: key 'foo' outside a section; sections are [global], "
     "[listener NAME] and [vhost HOSTNAME]\n"},
    {TCP_A "mode = udp\n", "t.ini:5: mode given twice (first on line 3)\n"},
    {"[global]\nlog_level = info\n" TCP_A "[global]\nlog_level = debug\n",
     "t.ini:8: log_level given twice (first on line 2)\n"},
    {"[global]\nuser =\nuser = nobody\n" TCP_A,
     "t.ini:3: user given twice (first on line 2)\n"},

    /* values */
    {"[global]\nuser = no-such-user-here\ngroup = no-such-group-here\n"
     TCP_A "timeout_idle = 5s\n",
     "t.ini:2: user no-such-user-here: no such user on this machine\n"
     "t.ini:3: group no-such-group-here: no such group on this machine\n"
     "t.ini:8: 'timeout_idle' is not a [listener] key; it belongs in "
     "[global]\n"},
    {"[listener a]\nbind = 1\nmode = tpc\nbackend = 2\n",
     "t.ini:3: mode: 'tpc' is not one of http, tcp, udp, tls-passthrough; "
     "did you mean 'tcp'?\n"},
    {"[listener a]\nbind = 1\nmode = tls_passthrough\nbackend = 2\n",
     "t.ini:3: mode: 'tls_passthrough' is not one of http, tcp, udp, "
     "tls-passthrough; did you mean 'tls-passthrough'?\n"},
    {"[listener a]\nbind = 1\nmode = ftp\nbackend = 2\n",
     "t.ini:3: mode: 'ftp' is not one of http, tcp, udp, tls-passthrough; "
     "did you mean 'http'?\n"},
    {"[listener a]\nbind = 1\nmode = gopher\nbackend = 2\n",
     "t.ini:3: mode: 'gopher' is not one of http, tcp, udp, "
     "tls-passthrough\n"},
    {"[listener a]\nbind = 1\nmode =\nbackend = 2\n",
     "t.ini:3: mode: no value; use one of http, tcp, udp, "
     "tls-passthrough\n"},
    {"[global]\nlog_level = verbose\n" TCP_A,
     "t.ini:2: log_level: 'verbose' is not one of error, warn, info, "
     "debug\n"},
    {"[global]\nlog_level = debgu\n" TCP_A,
     "t.ini:2: log_level: 'debgu' is not one of error, warn, info, debug; "
     "did you mean 'debug'?\n"},
    {"[global]\naccess_log_format = jsn\n" TCP_A,
     "t.ini:2: access_log_format: 'jsn' is not one of combined, json; "
     "did you mean 'json'?\n"},
    {"[global]\naccess_log =\n" TCP_A,
     "t.ini:2: access_log: no value; use off, stderr or a file path\n"},
    {TCP_A "proxy_protocol = v3\n",
     "t.ini:5: proxy_protocol: 'v3' is not one of off, v1, v2; did you "
     "mean 'v1'?\n"},
    {TCP_A "tls = maybe\n",
     "t.ini:5: tls: 'maybe' is not one of off, on, auto\n"},
    {"[global]\naccess_log = yes\nadmin = On\n[listener a]\nbind = 1\n"
     "proxy_protocol = true\nredirect_https = 1\n",
     "t.ini:2: access_log: 'yes' means on but names no destination; use "
     "stderr or a file path (./yes for a file of that name)\n"
     "t.ini:3: admin: 'On' means on but names no address; give the status "
     "page's ADDRESS:PORT, as in admin = 127.0.0.1:9000\n"
     "t.ini:6: proxy_protocol: 'true' means on but names no version; use "
     "v1 or v2, the one the backend reads\n"
     "t.ini:7: redirect_https: '1' means on but names no port; give the "
     "https port to redirect to, as in redirect_https = 443\n"},
    {"[global]\nmax_connections = 0\n" TCP_A,
     "t.ini:2: max_connections: '0' is not a number from 1 to 1000000\n"},
    {"[global]\nmax_connections = 1000001\n" TCP_A,
     "t.ini:2: max_connections: '1000001' is not a number from 1 to "
     "1000000\n"},
    {"[global]\nmax_connections = 99999999999999999999\n" TCP_A,
     "t.ini:2: max_connections: '99999999999999999999' is not a number "
     "from 1 to 1000000\n"},
    {"[global]\nmax_connections = 10k\n" TCP_A,
     "t.ini:2: max_connections: '10k' is not a number from 1 to "
     "1000000\n"},
    {TCP_A "max_connections = -1\n",
     "t.ini:5: max_connections: '-1' is not a number from 0 to 1000000\n"},
    {"[global]\ntimeout_idle = 0s\n" TCP_A,
     "t.ini:2: timeout_idle: '0s' must be longer than 0\n"},
    {"[global]\ntimeout_connect = 0\n" TCP_A,
     "t.ini:2: timeout_connect: '0' must be longer than 0\n"},
    {"[global]\ntimeout_connect = 5x\n" TCP_A,
     "t.ini:2: timeout_connect: '5x' is not a duration (250ms, 5s, 2m, "
     "1h)\n"},
    {"[global]\ntimeout_header =\n" TCP_A,
     "t.ini:2: timeout_header: '' is not a duration (250ms, 5s, 2m, "
     "1h)\n"},
    {"[global]\ntimeout_header = 5000000h\n" TCP_A,
     "t.ini:2: timeout_header: '5000000h' is too long (at most 49 "
     "days)\n"},
    {"[global]\nworkers = 0\n" TCP_A,
     "t.ini:2: workers: '0' is not auto or a number from 1 to 256\n"},
    {"[global]\nworkers = many\n" TCP_A,
     "t.ini:2: workers: 'many' is not auto or a number from 1 to 256\n"},
    {"[listener w]\nbind = 80\nredirect_https = 70000\n",
     "t.ini:3: redirect_https: '70000' is not a port number (1-65535)\n"},
    {"[listener w]\nbind = 80\nredirect_https = https\n",
     "t.ini:3: redirect_https: 'https' is not a port number (1-65535)\n"},
    {TCP_A "tls_cert =\n", "t.ini:5: tls_cert: no value; give a file "
                           "path\n"},

    /* addresses and lists */
    {"[listener a]\nbind =\nmode = tcp\nbackend = 1\n",
     "t.ini:2: bind: no value; use PORT or ADDRESS:PORT\n"},
    {"[listener a]\nbind = 8080,,8081\nmode = tcp\nbackend = 1\n",
     "t.ini:2: bind: empty item in the list '8080,,8081'\n"},
    {"[listener a]\nbind = 8080,\nmode = tcp\nbackend = 1\n",
     "t.ini:2: bind: empty item in the list '8080,'\n"},
    {"[listener a]\nbind = 0\nmode = tcp\nbackend = 1\n",
     "t.ini:2: bind: port '0' out of range 1-65535\n"},
    {"[listener a]\nbind = unix:/run/a.sock\nmode = tcp\nbackend = 1\n",
     "t.ini:2: bind: unix sockets are not supported as bind addresses\n"},
    {"[listener a]\nbind = 1, 2, 80a\nmode = tcp\nbackend = *:80\n",
     "t.ini:2: bind: port '80a' is not a number\n"
     "t.ini:4: backend: '*' is only for bind addresses\n"},
    {TCP_A "allow = 10.0.0.1/8, 10.0.0.0/33\n",
     "t.ini:5: allow: '10.0.0.1/8' has host bits set; did you mean "
     "'10.0.0.0/8'?\n"
     "t.ini:5: allow: prefix length '33' out of range 0-32\n"},
    {TCP_A "deny = nonsense\n",
     "t.ini:5: deny: 'nonsense' is not an IP address\n"},
    {TCP_A "trusted_proxies = ,\n",
     "t.ini:5: trusted_proxies: empty item in the list ','\n"},
    {"[global]\nadmin = unix:/run/admin.sock\n" TCP_A,
     "t.ini:2: admin: unix sockets are not supported as bind addresses\n"},

    /* required keys, reported at the section header */
    {"[listener a]\nmode = tcp\nbackend = 1\n",
     "t.ini:1: listener a: no bind address; add bind = PORT or "
     "bind = ADDRESS:PORT\n"},
    {"[listener a]\nbind = 1\nmode = tcp\n",
     "t.ini:1: listener a: mode tcp needs a backend\n"},
    {"[listener a]\nbind = 1\nmode = udp\n",
     "t.ini:1: listener a: mode udp needs a backend\n"},
    {"[listener a]\nbind = 1\ntls = on\n",
     "t.ini:1: listener a: tls = on needs tls_cert and tls_key\n"},
    {"[listener a]\nbind = 1\ntls = on\ntls_cert = c.pem\n",
     "t.ini:1: listener a: tls_cert without tls_key\n"},
    {"[listener a]\nbind = 1\ntls = on\ntls_key = k.pem\n",
     "t.ini:1: listener a: tls_key without tls_cert\n"},
    {"[listener a]\nbind = 1\ntls_cert = c.pem\ntls_key = k.pem\n",
     "t.ini:3: listener a: tls_cert is set but tls is off; add tls = on\n"},
    {"[listener a]\nbind = 1\ntls = auto\ntls_cert = c.pem\n"
     "tls_key = k.pem\n",
     "t.ini:3: listener a: tls = auto takes certificates from the local "
     "CA; remove tls_cert and tls_key, or use tls = on\n"},
    {"[listener a]\nbind = 1\nmode = udp\nbackend = 2\ntls = auto\n",
     "t.ini:5: listener a: mode udp cannot terminate TLS; remove tls\n"},
    {"[listener a]\nbind = 1\nmode = tls-passthrough\ntls = auto\n",
     "t.ini:4: listener a: mode tls-passthrough cannot terminate TLS; "
     "remove tls\n"},
    {TCP_A "redirect_https = 443\n",
     "t.ini:5: listener a: redirect_https needs mode http, not tcp\n"},
    {"[listener a]\nbind = 1\nmode = udp\nbackend = 2\n"
     "proxy_protocol = v1\n",
     "t.ini:5: listener a: proxy_protocol v1 cannot describe udp; use "
     "v2\n"},
    {"[listener a]\nbind = 1\nmode = udp\nbackend = unix:/run/d.sock\n",
     "t.ini:4: listener a: a udp backend needs an IP address or "
     "localhost, not a unix socket\n"},

    /* listeners on one address */
    {"[listener a]\nbind = 127.0.0.1:8080\nmode = tcp\nbackend = 1\n"
     "[listener b]\nbind = 8080\nmode = tcp\nbackend = 2\n",
     "t.ini:6: listener b: bind 127.0.0.1:8080 overlaps listener a's "
     "127.0.0.1:8080 (line 2)\n"},
    {"[listener a]\nbind = 127.0.0.1:8080\n"
     "[listener b]\nbind = 9000\nbind = *:8080\nmode = tcp\nbackend = 2\n",
     "t.ini:5: listener b: bind *:8080 overlaps listener a's "
     "127.0.0.1:8080 (line 2)\n"},
    {"[listener a]\nbind = 53\nmode = udp\nbackend = 1\n"
     "[listener b]\nbind = 0.0.0.0:53\nmode = udp\nbackend = 2\n",
     "t.ini:6: listener b: bind 0.0.0.0:53 overlaps listener a's "
     "127.0.0.1:53 (line 2)\n"},
    {"[listener a]\nbind = 8080, 8081\nbind = 8080\nmode = tcp\n"
     "backend = 1\n",
     "t.ini:3: listener a: bind 127.0.0.1:8080 overlaps its own bind "
     "127.0.0.1:8080 (line 2)\n"},
    {"[global]\nadmin = 8080\n[listener a]\nbind = 8080\nmode = tcp\n"
     "backend = 1\n",
     "t.ini:2: admin: 127.0.0.1:8080 overlaps listener a's bind "
     "127.0.0.1:8080 (line 4)\n"},

    /* vhosts */
    {"[listener web]\nbind = 8080\n[listener tls]\nbind = 8443\n"
     "mode = tls-passthrough\n[vhost app.test]\nlistener = webb\n"
     "backend = 1\n",
     "t.ini:7: vhost app.test: no listener named 'webb'; listeners are: "
     "web, tls\n"},
    {"[listener web]\nbind = 80\n[listener pass]\nbind = 443\n"
     "mode = tls-passthrough\n[vhost app.test]\nlistener = web, pass\n"
     "backend = 1\nauth = bob:" HASH_SHA512 "\n",
     "t.ini:9: vhost app.test: auth cannot be asked on listener 'pass': "
     "tls-passthrough does not decrypt, so its clients would reach the "
     "backend without a password; serve this vhost on http listeners "
     "only (listener = ...)\n"},
    {"[listener web]\nbind = 80\n[listener pass]\nbind = 443\n"
     "mode = tls-passthrough\nbackend = 2\n[vhost app.test]\n"
     "auth = bob:" HASH_SHA512 "\nroute = /api 3\n",
     "t.ini:8: vhost app.test: auth cannot be asked on listener 'pass': "
     "tls-passthrough does not decrypt, so its clients would reach the "
     "backend without a password; serve this vhost on http listeners "
     "only (listener = ...)\n"},
    {"[listener pass]\nbind = 443\nmode = tls-passthrough\n"
     "[vhost app.test]\nroute = /api 3\n",
     "t.ini:4: vhost app.test: listener 'pass' is tls-passthrough, which "
     "routes by name only and never sees a path; add backend = PORT to "
     "the vhost (its routes serve http listeners)\n"},
    {"[listener web]\nbind = 80\n[listener pass]\nbind = 443\n"
     "mode = tls-passthrough\n[vhost app.test]\nlistener = web\n"
     "listener = pass\nroute = / 3\n",
     "t.ini:8: vhost app.test: listener 'pass' is tls-passthrough, which "
     "routes by name only and never sees a path; add backend = PORT to "
     "the vhost (its routes serve http listeners)\n"},
    {TCP_A "[vhost app.test]\nlistener = a\nbackend = 1\n",
     "t.ini:6: vhost app.test: listener 'a' has mode tcp; vhosts need an "
     "http or tls-passthrough listener\n"},
    {TCP_A "[vhost app.test]\nbackend = 1\n",
     "t.ini:5: vhost app.test: no http or tls-passthrough listener to "
     "serve it\n"},
    {"[listener web]\nbind = 80\n[vhost app.test]\nlistener = web\n"
     "listener = web\nbackend = 1\n",
     "t.ini:5: listener: 'web' given twice (first on line 4)\n"},
    {"[listener web]\nbind = 80\n[vhost app.test]\nbackend = 1\n"
     "[vhost App.Test]\nbackend = 2\n",
     "t.ini:5: [vhost App.Test] given twice (first on line 3)\n"},
    {"[listener web]\nbind = 80\n[vhost a.test]\nbackend = 1\n"
     "alias = b.test, a.test, *.a.test\n[vhost b.test]\nbackend = 2\n"
     "[vhost c.test]\nbackend = 3\nalias = *.A.test, c.test, a.test\n"
     "alias = x.test, x.test\n",
     "t.ini:5: vhost a.test: alias 'a.test' is the vhost's own name\n"
     "t.ini:6: vhost b.test: name 'b.test' is already an alias of vhost "
     "a.test (line 5)\n"
     "t.ini:10: vhost c.test: alias '*.a.test' is already an alias of "
     "vhost a.test (line 5)\n"
     "t.ini:10: vhost c.test: alias 'c.test' is the vhost's own name\n"
     "t.ini:10: vhost c.test: alias 'a.test' is already the name of vhost "
     "a.test (line 3)\n"
     "t.ini:11: vhost c.test: alias 'x.test' given twice (first on line "
     "11)\n"},
    {"[listener web]\nbind = 80\n[vhost app.test:8080]\nbackend = 1\n",
     "t.ini:3: vhost name 'app.test:8080' has a port; leave it out (the "
     "port is ignored when matching)\n"},
    {"[listener web]\nbind = 80\n[vhost a*.test]\nbackend = 1\n"
     "[vhost foo.*.test]\nbackend = 1\n[vhost *]\nbackend = 1\n",
     "t.ini:3: vhost name 'a*.test' has a '*' other than as the whole "
     "first label (as in *.example.test)\n"
     "t.ini:5: vhost name 'foo.*.test' has a '*' other than as the whole "
     "first label (as in *.example.test)\n"
     "t.ini:7: vhost name '*' has a '*' other than as the whole first "
     "label (as in *.example.test)\n"},
    {"[listener web]\nbind = 80\n[vhost a..test]\nbackend = 1\n"
     "[vhost .test]\nbackend = 1\n[vhost -a.test]\nbackend = 1\n"
     "[vhost a!.test]\nbackend = 1\n[vhost]\nbackend = 1\n",
     "t.ini:3: vhost name 'a..test' has an empty label (two dots, or a "
     "dot at either end)\n"
     "t.ini:5: vhost name '.test' has an empty label (two dots, or a dot "
     "at either end)\n"
     "t.ini:7: vhost name '-a.test' has a label that starts or ends with "
     "'-'\n"
     "t.ini:9: vhost name 'a!.test' has a character other than letters, "
     "digits, '-', '_' and '.'\n"
     "t.ini:11: [vhost] needs a host name, as in [vhost app.test]\n"},
    {"[listener web]\nbind = 80\n[vhost a.test]\nbackend = 1\n"
     "alias = b.test:80, *.b.test., \n",
     "t.ini:5: alias: 'b.test:80' has a port; leave it out (the port is "
     "ignored when matching)\n"
     "t.ini:5: alias: '*.b.test.' has an empty label (two dots, or a dot "
     "at either end)\n"
     "t.ini:5: alias: empty item in the list 'b.test:80, *.b.test.,'\n"},
    {"[listener web]\nbind = 80\n[vhost a.test]\n",
     "t.ini:3: vhost a.test: no backend and no route; add backend = "
     "PORT\n"},
    {"[listener web]\nbind = 80\n[vhost a.test]\nbackend = 1\n"
     "tls_cert = a.pem\n[vhost b.test]\nbackend = 1\ntls_key = b.pem\n",
     "t.ini:3: vhost a.test: tls_cert without tls_key\n"
     "t.ini:6: vhost b.test: tls_key without tls_cert\n"},
    {"[listener web]\nbind = 80\n[vhost a.test]\nroute = api 4000\n"
     "route = /api\nroute = /api 4000 4001\nroute = /api *:80\n"
     "route = /ws 4001\nroute = /ws 4002\n",
     "t.ini:4: route: prefix 'api' does not start with '/'\n"
     "t.ini:5: route: expected 'PREFIX BACKEND', as in route = /api "
     "127.0.0.1:4000\n"
     "t.ini:6: route: expected 'PREFIX BACKEND', as in route = /api "
     "127.0.0.1:4000\n"
     "t.ini:7: route: '*' is only for bind addresses\n"
     "t.ini:9: route: prefix /ws given twice (first on line 8)\n"},
    {"[listener web]\nbind = 80\n[vhost a.test]\nbackend = 1\n"
     "host_header = bad name!\n",
     "t.ini:5: host_header: 'bad name!' is not keep, backend or a host "
     "name (with an optional :PORT)\n"},
    {"[listener web]\nbind = 80\n[vhost a.test]\nbackend = 1\n"
     "host_header = a.test:99999\n",
     "t.ini:5: host_header: 'a.test:99999' is not keep, backend or a host "
     "name (with an optional :PORT)\n"},
    {"[listener web]\nbind = 80\n[vhost a.test]\nbackend = 1\n"
     "auth = bob\nauth = :$6$x\nauth = bob:secret\nauth = bob:$6$x y\n"
     "auth = bob:" HASH_SHA512 "\nauth = bob:" HASH_BCRYPT "\n"
     "auth = apr:$apr1$abcdefgh$h9FWgUz3n9YxylKLlR5SQ/\n"
     "auth = x:$9$abc$def\nauth = cut:$6$\n"
     "auth = cut2:$2b$05$abcdefghijklmnopqrstuu\n",
     "t.ini:5: auth: expected USER:HASH without spaces\n"
     "t.ini:6: auth: the user name is empty\n"
     "t.ini:7: auth: the password of 'bob' is not a crypt(3) hash; make "
     "one with: portier hash\n"
     "t.ini:8: auth: expected USER:HASH without spaces\n"
     "t.ini:10: auth: user 'bob' given twice\n"
     "t.ini:11: auth: the hash of 'apr' is Apache's $apr1$, which "
     "crypt(3) cannot check; make one with: portier hash (or htpasswd "
     "-B)\n"
     "t.ini:12: auth: the hash of 'x' starts with $9$, a method this "
     "system's crypt(3) does not know; make one with: portier hash\n"
     "t.ini:13: auth: the hash of 'cut' is cut or damaged (3 characters "
     "where its method makes 90); make one with: portier hash\n"
     "t.ini:14: auth: the hash of 'cut2' is cut or damaged (29 "
     "characters where its method makes 60); make one with: portier "
     "hash\n"},

    /* CR-only line ends: each CR ends a line, for the line numbers too */
    {"[listener a]\rbind = 1\rmode = tcp\r\rbakend = 2\r",
     "t.ini:1: listener a: mode tcp needs a backend\n"
     "t.ini:5: unknown key 'bakend' in [listener a]; did you mean "
     "'backend'?\n"},

    /* every error of a file, in line order */
    {"[listener a]\nmode = tcp\nfoo = 1\n[listener b]\nbind = 1\n"
     "mode = tcp\nbackend = 2\nbar = 2\n",
     "t.ini:1: listener a: no bind address; add bind = PORT or "
     "bind = ADDRESS:PORT\n"
     "t.ini:1: listener a: mode tcp needs a backend\n"
     "t.ini:3: unknown key 'foo' in [listener a]\n"
     "t.ini:8: unknown key 'bar' in [listener b]\n"},
};

static void test_bad_configs(void **state)
{
	char err[4096];

	(void)state;
	for (size_t i = 0; i < N(bad_cases); i++) {
		const struct bad_case *c = &bad_cases[i];
		struct config *cfg;

		cfg = config_parse_string(c->text, "t.ini", err, sizeof(err));
		if (cfg || strcmp(err, c->errors) != 0)
			print_message("bad case %zu:\n%s\n", i, c->text);
		assert_null(cfg);
		assert_string_equal(err, c->errors);
	}
}

/* Errors beyond errlen are cut at a whole line and marked "...". */
static void test_error_truncation(void **state)
{
	const char *text = "[listener a]\nfoo = 1\nbar = 2\nbaz = 3\n";
	const char *full = "t.ini:1: listener a: no bind address; add bind = "
	                   "PORT or bind = ADDRESS:PORT\n"
	                   "t.ini:2: unknown key 'foo' in [listener a]\n"
	                   "t.ini:3: unknown key 'bar' in [listener a]\n"
	                   "t.ini:4: unknown key 'baz' in [listener a]\n";
	char err[512];
	size_t len = strlen(full);

	(void)state;
	assert_null(config_parse_string(text, "t.ini", err, sizeof(err)));
	assert_string_equal(err, full);
	/* exactly enough room */
	assert_null(config_parse_string(text, "t.ini", err, len + 1));
	assert_string_equal(err, full);
	/* one byte short: the last line goes */
	assert_null(config_parse_string(text, "t.ini", err, len));
	assert_string_equal(err, "t.ini:1: listener a: no bind address; add "
	                         "bind = PORT or bind = ADDRESS:PORT\n"
	                         "t.ini:2: unknown key 'foo' in [listener a]\n"
	                         "t.ini:3: unknown key 'bar' in [listener a]\n"
	                         "...\n");
	assert_null(config_parse_string(text, "t.ini", err, 10));
	assert_string_equal(err, "...\n");
	assert_null(config_parse_string(text, "t.ini", err, 4));
	assert_string_equal(err, "");
	assert_null(config_parse_string(text, "t.ini", NULL, 0));
}

/* Every spelling of a boolean "no" is the off value of each key that has
 * one; a file named like one is written as a path. */
static void test_off_spellings(void **state)
{
	static const char *const offs[] = {"off", "no", "false", "0",
	                                   "OFF", "No", "False"};
	char text[512], err[4096];
	struct config *cfg;

	(void)state;
	for (size_t i = 0; i < N(offs); i++) {
		const struct config_listener *l;

		snprintf(text, sizeof(text),
		         "[global]\naccess_log = %s\nadmin = %s\n"
		         "[listener a]\nbind = 1000\nbackend = 2000\n"
		         "tls = %s\nproxy_protocol = %s\n"
		         "redirect_https = %s\n",
		         offs[i], offs[i], offs[i], offs[i], offs[i]);
		print_message("off: %s\n", offs[i]);
		cfg = config_parse_string(text, "t.ini", err, sizeof(err));
		if (!cfg)
			print_message("%s", err);
		assert_non_null(cfg);
		l = &cfg->listeners[0];
		assert_null(cfg->global.access_log);
		assert_false(cfg->global.has_admin);
		assert_int_equal(l->tls, CONFIG_TLS_OFF);
		assert_int_equal(l->proxy_protocol, CONFIG_PROXY_OFF);
		assert_int_equal(l->redirect_https, 0);
		assert_string_equal(notes_str(cfg), "");
		config_free(cfg);
	}

	cfg = config_parse_string("[global]\naccess_log = ./0\n" TCP_A, "t.ini",
	                          err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(cfg->global.access_log, "./0");
	config_free(cfg);
	cfg = config_parse_string("[global]\naccess_log = StdErr\n" TCP_A,
	                          "t.ini", err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(cfg->global.access_log, "stderr");
	config_free(cfg);
}

/* n copies of c, in a buffer the caller frees. */
static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	assert_non_null(s);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

/* Values, names and keys from the file are quoted in messages by their
 * first 51 and last 26 bytes around "...". */
static void test_long_values(void **state)
{
	char *key = repeat('k', 20000), *value = repeat('v', 5000);
	char *port = repeat('9', 3000), *name = repeat('n', 3000);
	char *head = repeat('k', 51), *tail = repeat('k', 26);
	char *vhead = repeat('v', 51), *vtail = repeat('v', 26);
	char *nhead = repeat('n', 51), *ntail = repeat('n', 26);
	char *phead = repeat('9', 51), *ptail = repeat('9', 26);
	size_t len = 20000 + 3 * 5000 + 3000 + 3000 + 512;
	char *text = malloc(len), *err = malloc(16384), *want = malloc(16384);

	(void)state;
	assert_non_null(text);
	assert_non_null(err);
	assert_non_null(want);
	snprintf(text, len,
	         "[global]\ntimeout_idle = %s\nadmin = 127.0.0.1:%s\n"
	         "[listener %s]\nmode = tcp\n"
	         "[listener a]\nbind = 1\nbackend = 2\nmode = %s\n%s = 1\n",
	         value, port, name, value, key);
	assert_null(config_parse_string(text, "t.ini", err, 16384));
	snprintf(
	    want, 16384,
	    "t.ini:2: timeout_idle: '%s...%s' is not a duration (250ms, 5s, "
	    "2m, 1h)\n"
	    "t.ini:3: admin: port '%s...%s' out of range 1-65535\n"
	    "t.ini:4: listener %s...%s: no bind address; add bind = PORT "
	    "or bind = ADDRESS:PORT\n"
	    "t.ini:4: listener %s...%s: mode tcp needs a backend\n"
	    "t.ini:9: mode: '%s...%s' is not one of http, tcp, udp, "
	    "tls-passthrough\n"
	    "t.ini:10: unknown key '%s...%s' in [listener a]\n",
	    vhead, vtail, phead, ptail, nhead, ntail, nhead, ntail, vhead,
	    vtail, head, tail);
	assert_string_equal(err, want);

	/* a cut never splits a UTF-8 character: in a key of 109 bytes the
	 * head ends before the 'é' at bytes 50-51, the tail starts after the
	 * one at bytes 82-83 */
	snprintf(text, len, TCP_A "%.50s\xC3\xA9%.30s\xC3\xA9%.25s = 1\n", key,
	         key, key);
	assert_null(config_parse_string(text, "t.ini", err, 16384));
	snprintf(want, 16384,
	         "t.ini:5: unknown key '%.50s...%.25s' in [listener a]\n", key,
	         key);
	assert_string_equal(err, want);

	free(key);
	free(value);
	free(port);
	free(name);
	free(head);
	free(tail);
	free(vhead);
	free(vtail);
	free(nhead);
	free(ntail);
	free(phead);
	free(ptail);
	free(text);
	free(err);
	free(want);
}

/* A first error too long for the buffer is cut, never dropped: its
 * FILE:LINE stays, "..." marks the cut, and a "..." line the errors left
 * out. */
static void test_error_cut(void **state)
{
	const char *text = TCP_A "a-rather-long-unknown-key = 1\nfoo = 1\n";
	char err[64];

	(void)state;
	assert_null(config_parse_string(TCP_A "a-rather-long-unknown-key = 1\n",
	                                "t.ini", err, sizeof(err)));
	assert_string_equal(err, "t.ini:5: unknown key 'a-rather-long-unknow..."
	                         "' in [listener a]\n");
	assert_null(config_parse_string(text, "t.ini", err, sizeof(err)));
	assert_string_equal(err, "t.ini:5: unknown key 'a-rather-long-unk... "
	                         "in [listener a]\n...\n");
}

/* --- files -------------------------------------------------------------- */

/* Write text to a new temporary file; returns its path (static). */
static const char *write_temp(const char *text, size_t len)
{
	static char path[512];
	const char *dir = getenv("TMPDIR");
	FILE *f;
	int fd;

	snprintf(path, sizeof(path), "%s/test_config_XXXXXX",
	         dir && *dir ? dir : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void test_load_file(void **state)
{
	const char good[] = "# test\r\n[listener db]\r\nbind = 5432\r\n"
	                    "mode = tcp\r\nbackend = 15432";
	const char bad[] = "; comment\n\n[listener db]\n"
	                   "  ; indented comment\n"
	                   "bind = 5432\n"
	                   "mode = tcp\n"
	                   "\n"
	                   "bakend = 1\n"
	                   "[vhost x.test]\n"
	                   "backend = 1\n";
	const char nul[] = "[listener db]\nbind = 1\nmode = tcp\x00x\n"
	                   "backend = 2\n";
	char err[1024], want[1024];
	struct config *cfg;
	const char *path;

	(void)state;
	path = write_temp(good, sizeof(good) - 1);
	cfg = config_load(path, err, sizeof(err));
	assert_non_null(cfg);
	assert_string_equal(err, "");
	assert_string_equal(cfg->path, path);
	assert_int_equal(cfg->listeners[0].line, 2);
	assert_string_equal(addr_str(&cfg->listeners[0].backend),
	                    "127.0.0.1:15432");
	config_free(cfg);
	unlink(path);

	path = write_temp(bad, sizeof(bad) - 1);
	assert_null(config_load(path, err, sizeof(err)));
	snprintf(want, sizeof(want),
	         "%s:3: listener db: mode tcp needs a backend\n"
	         "%s:8: unknown key 'bakend' in [listener db]; did you mean "
	         "'backend'?\n"
	         "%s:9: vhost x.test: no http or tls-passthrough listener to "
	         "serve it\n",
	         path, path, path);
	assert_string_equal(err, want);
	unlink(path);

	path = write_temp(nul, sizeof(nul) - 1);
	assert_null(config_load(path, err, sizeof(err)));
	/* the NUL line is dropped, so mode stays http: no backend needed */
	snprintf(want, sizeof(want), "%s:3: line contains a NUL byte\n", path);
	assert_string_equal(err, want);
	unlink(path);

	assert_null(config_load("/nonexistent/portier.ini", err, sizeof(err)));
	assert_string_equal(err, "/nonexistent/portier.ini: cannot open: No "
	                         "such file or directory\n");
	assert_null(config_load("/", err, sizeof(err)));
	assert_string_equal(err, "/: cannot read: Is a directory\n");
}

/* --- small functions ---------------------------------------------------- */

static void test_new_default(void **state)
{
	struct config *cfg = config_new_default();

	(void)state;
	assert_non_null(cfg);
	assert_global_defaults(&cfg->global);
	assert_int_equal(cfg->nlisteners, 0);
	assert_int_equal(cfg->nvhosts, 0);
	assert_int_equal(cfg->notes.n, 0);
	assert_null(config_find_listener(cfg, "a"));
	config_free(cfg);
	config_free(NULL);
}

static void test_mode_name(void **state)
{
	(void)state;
	assert_string_equal(config_mode_name(CONFIG_MODE_HTTP), "http");
	assert_string_equal(config_mode_name(CONFIG_MODE_TCP), "tcp");
	assert_string_equal(config_mode_name(CONFIG_MODE_UDP), "udp");
	assert_string_equal(config_mode_name(CONFIG_MODE_TLS_PASSTHROUGH),
	                    "tls-passthrough");
	assert_string_equal(config_mode_name((enum config_mode)99), "?");
}

struct duration_case {
	const char *text;
	int rc;
	unsigned ms;
};

static const struct duration_case durations[] = {
    {"250ms", 0, 250},
    {"5s", 0, 5000},
    {"2m", 0, 120000},
    {"1h", 0, 3600000},
    {"5", 0, 5000},
    {"0", 0, 0},
    {"0s", 0, 0},
    {"0ms", 0, 0},
    {"007s", 0, 7000},
    {"4294967295ms", 0, 4294967295u},
    {"4294967s", 0, 4294967000u},
    {"71582m", 0, 4294920000u},
    {"1193h", 0, 4294800000u},
    {"4294967296ms", -1, 0},
    {"4294968s", -1, 0},
    {"4294968", -1, 0},
    {"71583m", -1, 0},
    {"1194h", -1, 0},
    {"99999999999999999999999999s", -1, 0},
    {"", -1, 0},
    {"s", -1, 0},
    {"ms", -1, 0},
    {"5x", -1, 0},
    {"5S", -1, 0},
    {"5 s", -1, 0},
    {" 5s", -1, 0},
    {"5s ", -1, 0},
    {"-1s", -1, 0},
    {"+5s", -1, 0},
    {"1.5s", -1, 0},
    {"5sec", -1, 0},
    {"5ms5", -1, 0},
    {"1d", -1, 0},
};

static void test_parse_duration(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(durations); i++) {
		unsigned ms = 12345;
		int rc = config_parse_duration(durations[i].text, &ms);

		if (rc != durations[i].rc)
			print_message("duration '%s'\n", durations[i].text);
		assert_int_equal(rc, durations[i].rc);
		assert_int_equal(ms, rc == 0 ? durations[i].ms : 12345);
	}
}

struct size_case {
	const char *text;
	int rc;
	uint64_t bytes;
};

static const struct size_case sizes[] = {
    {"512", 0, 512},
    {"0", 0, 0},
    {"16k", 0, 16384},
    {"16K", 0, 16384},
    {"1m", 0, 1048576},
    {"1M", 0, 1048576},
    {"1g", 0, 1073741824},
    {"1G", 0, 1073741824},
    {"18446744073709551615", 0, UINT64_MAX},
    {"17179869183g", 0, UINT64_C(18446744072635809792)},
    {"18446744073709551616", -1, 0},
    {"17179869184g", -1, 0},
    {"18014398509481984k", -1, 0},
    {"", -1, 0},
    {"k", -1, 0},
    {"16kb", -1, 0},
    {"16 k", -1, 0},
    {" 16", -1, 0},
    {"-1", -1, 0},
    {"+1", -1, 0},
    {"1.5k", -1, 0},
    {"16x", -1, 0},
    {"1t", -1, 0},
};

static void test_parse_size(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(sizes); i++) {
		uint64_t bytes = 12345;
		int rc = config_parse_size(sizes[i].text, &bytes);

		if (rc != sizes[i].rc)
			print_message("size '%s'\n", sizes[i].text);
		assert_int_equal(rc, sizes[i].rc);
		assert_true(bytes == (rc == 0 ? sizes[i].bytes : 12345));
	}
}

struct bool_case {
	const char *text;
	int rc;
	bool value;
};

static const struct bool_case bools[] = {
    {"yes", 0, true},    {"no", 0, false},  {"on", 0, true},
    {"off", 0, false},   {"true", 0, true}, {"false", 0, false},
    {"1", 0, true},      {"0", 0, false},   {"YES", 0, true},
    {"Off", 0, false},   {"True", 0, true}, {"", -1, false},
    {"y", -1, false},    {"2", -1, false},  {"enable", -1, false},
    {"yes ", -1, false}, {"01", -1, false}, {"nope", -1, false},
};

static void test_parse_bool(void **state)
{
	(void)state;
	for (size_t i = 0; i < N(bools); i++) {
		bool value = !bools[i].value;
		int rc = config_parse_bool(bools[i].text, &value);

		if (rc != bools[i].rc)
			print_message("bool '%s'\n", bools[i].text);
		assert_int_equal(rc, bools[i].rc);
		if (rc == 0)
			assert_int_equal(value, bools[i].value);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_good_configs),
	    cmocka_unit_test(test_bad_configs),
	    cmocka_unit_test(test_error_truncation),
	    cmocka_unit_test(test_off_spellings),
	    cmocka_unit_test(test_long_values),
	    cmocka_unit_test(test_error_cut),
	    cmocka_unit_test(test_load_file),
	    cmocka_unit_test(test_new_default),
	    cmocka_unit_test(test_mode_name),
	    cmocka_unit_test(test_parse_duration),
	    cmocka_unit_test(test_parse_size),
	    cmocka_unit_test(test_parse_bool),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
