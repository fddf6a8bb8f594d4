/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for route.c: tables built from configuration text, then a
 * table of lookups with the vhost, backend and route prefix each must
 * pick: exact names, aliases, wildcards (longest wins, never the bare
 * suffix), the listener's backend and 404, vhosts bound to other
 * listeners, route prefixes at segment boundaries, query strings, case,
 * the list of names for the 404 page, and a table of thousands of names.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "portier/route.h"
#include "portier/config.h"
#include "portier/upstream.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Every case of the lookup tables below, on four listeners. */
static const char conf_main[] = "[listener web]\n"
                                "bind = 8080\n"
                                "backend = 9000\n"
                                "[listener other]\n"
                                "bind = 8081\n"
                                "[listener pass]\n"
                                "bind = 8443\n"
                                "mode = tls-passthrough\n"
                                "backend = 9001\n"
                                "[listener raw]\n"
                                "bind = 8082\n"
                                "mode = tcp\n"
                                "backend = 9002\n"
                                "[vhost App.Test]\n"
                                "backend = 3001\n"
                                "alias = app.local, *.app.test\n"
                                "[vhost *.test]\n"
                                "backend = 3002\n"
                                "[vhost *.b.app.test]\n"
                                "backend = 3003\n"
                                "[vhost only.other]\n"
                                "listener = other\n"
                                "backend = 3004\n"
                                "[vhost api.test]\n"
                                "backend = 4000\n"
                                "route = /api 4001\n"
                                "route = /api/v2/ 4002\n"
                                "route = /static/ 4003\n"
                                "[vhost routes.test]\n"
                                "route = /a 5001\n"
                                "route = / 5000\n"
                                "[vhost partial.test]\n"
                                "route = /only unix:/run/only.sock\n"
                                "[vhost both.lan]\n"
                                "listener = web, other\n"
                                "backend = localhost:3005\n";

/* A route table with the upstream of its listener. */
struct fixture {
	struct config *cfg;
	struct upstream fallback;
	struct route_table *t;
};

/* Parse text, which must be valid. */
static struct config *parse(const char *text)
{
	char err[4096];
	struct config *cfg =
	    config_parse_string(text, "t.ini", err, sizeof(err));

	if (!cfg)
		print_message("%s", err);
	assert_non_null(cfg);
	return cfg;
}

/* Build f->t for listener `name` of f->cfg, with the listener's backend
 * as fallback when it has one. */
static void build(struct fixture *f, const char *name)
{
	const struct config_listener *l = config_find_listener(f->cfg, name);
	struct upstream *fallback = NULL;

	assert_non_null(l);
	if (l->has_backend) {
		upstream_init(&f->fallback, &l->backend);
		fallback = &f->fallback;
	}
	f->t = route_table_new(f->cfg, l, fallback);
	assert_non_null(f->t);
}

/* One request and what it must go to. */
struct lookup {
	const char *listener;
	const char *host;
	const char *path;    /* NULL: route_lookup_name */
	const char *vhost;   /* NULL: no vhost */
	const char *backend; /* upstream name; NULL: 404 */
	const char *prefix;  /* route prefix; NULL: none */
};

static const struct lookup lookups[] = {
    /* exact names and aliases */
    {"web", "app.test", "/", "app.test", "127.0.0.1:3001", NULL},
    {"web", "app.local", "/x", "app.test", "127.0.0.1:3001", NULL},
    {"web", "both.lan", "/", "both.lan", "localhost:3005", NULL},
    /* wildcards: any depth, longest suffix, never the bare suffix, and
     * only at a label boundary */
    {"web", "x.app.test", "/", "app.test", "127.0.0.1:3001", NULL},
    {"web", "x.y.app.test", "/", "app.test", "127.0.0.1:3001", NULL},
    {"web", "a.b.app.test", "/", "*.b.app.test", "127.0.0.1:3003", NULL},
    {"web", "x.y.b.app.test", "/", "*.b.app.test", "127.0.0.1:3003", NULL},
    {"web", "b.app.test", "/", "app.test", "127.0.0.1:3001", NULL},
    {"web", "zz.test", "/", "*.test", "127.0.0.1:3002", NULL},
    {"web", "xapp.test", "/", "*.test", "127.0.0.1:3002", NULL},
    {"web", "test", "/", NULL, "127.0.0.1:9000", NULL},
    {"web", "app.testx", "/", NULL, "127.0.0.1:9000", NULL},
    /* a wildcard needs a character in front of its dot */
    {"web", ".b.app.test", "/", "app.test", "127.0.0.1:3001", NULL},
    /* case and a trailing dot */
    {"web", "APP.Test", "/", "app.test", "127.0.0.1:3001", NULL},
    {"web", "X.App.TEST", "/", "app.test", "127.0.0.1:3001", NULL},
    {"web", "app.test.", "/", "app.test", "127.0.0.1:3001", NULL},
    {"web", "x.app.test.", "/", "app.test", "127.0.0.1:3001", NULL},
    {"web", ".", "/", NULL, "127.0.0.1:9000", NULL},
    /* the listener's backend */
    {"web", "nothing.example", "/", NULL, "127.0.0.1:9000", NULL},
    {"web", "", "/", NULL, "127.0.0.1:9000", NULL},
    {"web", "127.0.0.1", "/", NULL, "127.0.0.1:9000", NULL},
    {"web", "only.other", "/", NULL, "127.0.0.1:9000", NULL},
    /* routes: longest prefix, segment boundaries, queries */
    {"web", "api.test", "/api", "api.test", "127.0.0.1:4001", "/api"},
    {"web", "api.test", "/api/x", "api.test", "127.0.0.1:4001", "/api"},
    {"web", "api.test", "/api?q=1", "api.test", "127.0.0.1:4001", "/api"},
    {"web", "api.test", "/api/?q", "api.test", "127.0.0.1:4001", "/api"},
    {"web", "api.test", "/apix", "api.test", "127.0.0.1:4000", NULL},
    {"web", "api.test", "/ap", "api.test", "127.0.0.1:4000", NULL},
    {"web", "api.test", "/API", "api.test", "127.0.0.1:4000", NULL},
    {"web", "api.test", "/api/v2", "api.test", "127.0.0.1:4001", "/api"},
    {"web", "api.test", "/api/v2?x", "api.test", "127.0.0.1:4001", "/api"},
    {"web", "api.test", "/api/v2/", "api.test", "127.0.0.1:4002", "/api/v2/"},
    {"web", "api.test", "/api/v2/u?id=1", "api.test", "127.0.0.1:4002",
     "/api/v2/"},
    {"web", "api.test", "/api/v2x", "api.test", "127.0.0.1:4001", "/api"},
    {"web", "api.test", "/static", "api.test", "127.0.0.1:4000", NULL},
    {"web", "api.test", "/static?x/", "api.test", "127.0.0.1:4000", NULL},
    {"web", "api.test", "/static/", "api.test", "127.0.0.1:4003", "/static/"},
    {"web", "api.test", "/static/a.css?v=1", "api.test", "127.0.0.1:4003",
     "/static/"},
    {"web", "api.test", "/", "api.test", "127.0.0.1:4000", NULL},
    {"web", "api.test", "", "api.test", "127.0.0.1:4000", NULL},
    {"web", "api.test", "?api", "api.test", "127.0.0.1:4000", NULL},
    {"web", "routes.test", "/", "routes.test", "127.0.0.1:5000", "/"},
    {"web", "routes.test", "", "routes.test", "127.0.0.1:5000", "/"},
    {"web", "routes.test", "*", "routes.test", "127.0.0.1:5000", "/"},
    {"web", "routes.test", "?a", "routes.test", "127.0.0.1:5000", "/"},
    {"web", "routes.test", "/x/y", "routes.test", "127.0.0.1:5000", "/"},
    {"web", "routes.test", "/a", "routes.test", "127.0.0.1:5001", "/a"},
    {"web", "routes.test", "/a/b", "routes.test", "127.0.0.1:5001", "/a"},
    {"web", "routes.test", "/ab", "routes.test", "127.0.0.1:5000", "/"},
    /* a vhost with routes only: other paths go to the listener's backend,
     * or are a 404 that still names the vhost */
    {"web", "partial.test", "/only", "partial.test", "unix:/run/only.sock",
     "/only"},
    {"web", "partial.test", "/only/x", "partial.test", "unix:/run/only.sock",
     "/only"},
    {"web", "partial.test", "/other", "partial.test", "127.0.0.1:9000", NULL},
    {"other", "partial.test", "/other", "partial.test", NULL, NULL},
    {"other", "partial.test", "/only", "partial.test", "unix:/run/only.sock",
     "/only"},
    /* a listener without a backend: 404 */
    {"other", "nothing.example", "/", NULL, NULL, NULL},
    {"other", "", "/", NULL, NULL, NULL},
    {"other", "test", "/", NULL, NULL, NULL},
    /* vhosts bound to listeners */
    {"other", "only.other", "/", "only.other", "127.0.0.1:3004", NULL},
    {"other", "both.lan", "/", "both.lan", "localhost:3005", NULL},
    {"other", "app.test", "/", "app.test", "127.0.0.1:3001", NULL},
    /* tls-passthrough (no path): by the name alone, never a route */
    {"pass", "app.test", NULL, "app.test", "127.0.0.1:3001", NULL},
    {"pass", "x.b.app.test", NULL, "*.b.app.test", "127.0.0.1:3003", NULL},
    {"pass", "api.test", NULL, "api.test", "127.0.0.1:4000", NULL},
    {"pass", "routes.test", NULL, "routes.test", "127.0.0.1:9001", NULL},
    {"pass", "partial.test", NULL, "partial.test", "127.0.0.1:9001", NULL},
    {"pass", "both.lan", NULL, NULL, "127.0.0.1:9001", NULL},
    {"pass", "only.other", NULL, NULL, "127.0.0.1:9001", NULL},
    {"other", "routes.test", NULL, "routes.test", NULL, NULL},
    {"other", "nothing.example", NULL, NULL, NULL, NULL},
    /* a tcp listener serves no vhost */
    {"raw", "app.test", "/", NULL, "127.0.0.1:9002", NULL},
};

static void test_lookup(void **state)
{
	struct fixture f = {.cfg = parse(conf_main)};

	(void)state;
	for (size_t i = 0; i < N(lookups); i++) {
		const struct lookup *c = &lookups[i];
		struct route_match m;
		bool found;

		print_message("%s: %s %s\n", c->listener, c->host,
		              c->path ? c->path : "(by name)");
		build(&f, c->listener);
		memset(&m, 0xa5, sizeof(m));
		found = c->path ? route_lookup(f.t, c->host, c->path,
		                               strlen(c->path), &m)
		                : route_lookup_name(f.t, c->host, &m);
		assert_int_equal(found, c->backend != NULL);
		if (c->vhost) {
			assert_non_null(m.vhost);
			assert_string_equal(m.vhost->name, c->vhost);
		} else {
			assert_null(m.vhost);
		}
		if (c->backend) {
			assert_non_null(m.upstream);
			assert_string_equal(m.upstream->name, c->backend);
		} else {
			assert_null(m.upstream);
		}
		/* the listener's own upstream, not a copy */
		if (!c->prefix && c->backend &&
		    (!c->vhost || !m.vhost->has_backend))
			assert_ptr_equal(m.upstream, &f.fallback);
		if (c->prefix)
			assert_string_equal(m.prefix, c->prefix);
		else
			assert_null(m.prefix);
		route_table_free(f.t);
	}
	config_free(f.cfg);
}

/* The vhost an SNI name picks, or none: the certificate chosen for a TLS
 * connection is that vhost's. */
struct sni_case {
	const char *listener;
	const char *host;
	const char *vhost; /* NULL: none (the listener's certificate) */
};

static const struct sni_case sni_cases[] = {
    {"web", "app.test", "app.test"},
    {"web", "app.local", "app.test"},
    {"web", "x.app.test", "app.test"},     /* *.app.test beats *.test */
    {"web", "b.app.test", "app.test"},     /* *.b.app.test needs more */
    {"web", "a.b.app.test", "*.b.app.test"}, /* the longest wildcard */
    {"web", "zz.test", "*.test"},
    {"web", "App.Local", "app.test"},
    {"web", "app.local.", "app.test"},
    {"web", "both.lan", "both.lan"},
    {"web", "api.test", "api.test"},       /* exact beats *.test */
    {"web", "test", NULL},
    {"web", "only.other", NULL},           /* another listener's */
    {"web", "nothing.example", NULL},
    {"web", "", NULL},
    {"web", ".", NULL},
    {"web", "lan", NULL},
    {"other", "only.other", "only.other"},
    {"other", "x.lan", NULL},
    {"pass", "both.lan", NULL},
    {"pass", "partial.test", "partial.test"},
    {"raw", "app.test", NULL},
};

static void test_sni_lookup(void **state)
{
	struct fixture f = {.cfg = parse(conf_main)};

	(void)state;
	for (size_t i = 0; i < N(sni_cases); i++) {
		const struct sni_case *c = &sni_cases[i];
		const struct config_vhost *v;

		print_message("%s: %s\n", c->listener, c->host);
		build(&f, c->listener);
		v = route_vhost(f.t, c->host);
		if (c->vhost == NULL)
			assert_null(v);
		else
			assert_string_equal(v ? v->name : "(none)", c->vhost);
		route_table_free(f.t);
	}
	config_free(f.cfg);
}

/* The names of one listener's 404 page, comma-separated. */
struct names_case {
	const char *listener;
	const char *names;
};

static const struct names_case names_cases[] = {
    {"web", "app.test,app.local,*.app.test,*.test,*.b.app.test,api.test,"
            "routes.test,partial.test,both.lan"},
    {"other", "app.test,app.local,*.app.test,*.test,*.b.app.test,"
              "only.other,api.test,routes.test,partial.test,both.lan"},
    {"pass", "app.test,app.local,*.app.test,*.test,*.b.app.test,api.test,"
             "routes.test,partial.test"},
    {"raw", ""},
};

static void test_names(void **state)
{
	struct fixture f = {.cfg = parse(conf_main)};
	char buf[512];

	(void)state;
	for (size_t i = 0; i < N(names_cases); i++) {
		const char *const *names;
		size_t n = 12345;

		build(&f, names_cases[i].listener);
		names = route_names(f.t, &n);
		buf[0] = '\0';
		for (size_t k = 0; k < n; k++) {
			if (k > 0)
				strcat(buf, ",");
			strcat(buf, names[k]);
		}
		assert_string_equal(buf, names_cases[i].names);
		route_table_free(f.t);
	}
	config_free(f.cfg);
}

/* The path is path[0..len): no NUL needed, nothing read beyond; NULL with
 * a length of 0 is "/". */
static void test_path_length(void **state)
{
	struct fixture f = {.cfg = parse(conf_main)};
	char path[] = {'/', 'a', 'p', 'i', 'x'};
	struct route_match m;

	(void)state;
	build(&f, "web");
	assert_true(route_lookup(f.t, "api.test", path, 4, &m));
	assert_string_equal(m.prefix, "/api");
	assert_true(route_lookup(f.t, "api.test", path, 5, &m));
	assert_null(m.prefix);
	assert_true(route_lookup(f.t, "api.test", path, 3, &m));
	assert_null(m.prefix);
	assert_true(route_lookup(f.t, "routes.test", NULL, 0, &m));
	assert_string_equal(m.prefix, "/");
	assert_string_equal(m.upstream->name, "127.0.0.1:5000");
	route_table_free(f.t);
	config_free(f.cfg);
}

/* A table without vhosts; route_table_free(NULL). */
static void test_empty(void **state)
{
	struct fixture f = {.cfg = parse("[listener a]\nbind = 1000\n"
	                                 "[listener b]\nbind = 1001\n"
	                                 "backend = unix:/run/b.sock\n")};
	struct route_match m;
	size_t n = 1;

	(void)state;
	build(&f, "a");
	assert_false(route_lookup(f.t, "app.test", "/", 1, &m));
	assert_null(m.vhost);
	assert_null(m.upstream);
	assert_null(m.prefix);
	assert_null(route_vhost(f.t, "app.test"));
	route_names(f.t, &n);
	assert_int_equal(n, 0);
	route_table_free(f.t);

	build(&f, "b");
	assert_true(route_lookup(f.t, "x.app.test", "/", 1, &m));
	assert_ptr_equal(m.upstream, &f.fallback);
	route_table_free(f.t);
	route_table_free(NULL);
	config_free(f.cfg);
}

/* The configuration rejects two vhosts with one name; should one get
 * through, the first in file order keeps it. */
static void test_first_wins(void **state)
{
	struct fixture f = {.cfg = parse("[listener a]\nbind = 1000\n"
	                                 "[vhost aa.test]\nbackend = 1001\n"
	                                 "alias = *.w1.test\n"
	                                 "[vhost bb.test]\nbackend = 1002\n"
	                                 "alias = *.w2.test\n")};
	struct route_match m;

	(void)state;
	memcpy(f.cfg->vhosts[1].name, "aa", 2);
	memcpy(f.cfg->vhosts[1].aliases.v[0], "*.w1", 4);
	build(&f, "a");
	assert_true(route_lookup(f.t, "aa.test", "/", 1, &m));
	assert_string_equal(m.upstream->name, "127.0.0.1:1001");
	assert_ptr_equal(m.vhost, &f.cfg->vhosts[0]);
	assert_true(route_lookup(f.t, "x.w1.test", "/", 1, &m));
	assert_ptr_equal(m.vhost, &f.cfg->vhosts[0]);
	assert_null(route_vhost(f.t, "bb.test"));
	route_table_free(f.t);
	config_free(f.cfg);
}

#define MANY 3000

/* Thousands of names and wildcards: each one found, nothing else. */
static void test_many(void **state)
{
	size_t size = 64 + MANY * 96, len;
	char *text = malloc(size), host[64];
	struct fixture f;
	struct route_match m;
	const char *const *names;
	size_t n;

	(void)state;
	assert_non_null(text);
	len = (size_t)snprintf(text, size, "[listener a]\nbind = 1000\n");
	for (int i = 0; i < MANY; i++)
		len += (size_t)snprintf(text + len, size - len,
		                        "[vhost h%d.test]\nbackend = %d\n"
		                        "alias = *.w%d.test, *.%d.h%d.test\n",
		                        i, 10000 + i, i, i, i);
	assert_true(len < size);
	f.cfg = parse(text);
	build(&f, "a");
	names = route_names(f.t, &n);
	assert_int_equal(n, 3 * MANY);
	for (int i = 0; i < MANY; i++) {
		char want[32];

		snprintf(want, sizeof(want), "127.0.0.1:%d", 10000 + i);
		snprintf(host, sizeof(host), "h%d.test", i);
		assert_string_equal(names[3 * i], host);
		assert_true(route_lookup(f.t, host, "/", 1, &m));
		assert_string_equal(m.upstream->name, want);
		snprintf(host, sizeof(host), "a.b.w%d.test", i);
		assert_true(route_lookup(f.t, host, "/", 1, &m));
		assert_string_equal(m.upstream->name, want);
		snprintf(host, sizeof(host), "x.%d.h%d.test", i, i);
		assert_true(route_lookup(f.t, host, "/", 1, &m));
		assert_string_equal(m.upstream->name, want);
		snprintf(host, sizeof(host), "w%d.test", i);
		assert_null(route_vhost(f.t, host));
		snprintf(host, sizeof(host), "h%d.test.x", i);
		assert_null(route_vhost(f.t, host));
	}
	snprintf(host, sizeof(host), "h%d.test", MANY);
	assert_false(route_lookup(f.t, host, "/", 1, &m));
	route_table_free(f.t);
	config_free(f.cfg);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_lookup), cmocka_unit_test(test_sni_lookup),
	    cmocka_unit_test(test_names),  cmocka_unit_test(test_path_length),
	    cmocka_unit_test(test_empty),  cmocka_unit_test(test_first_wins),
	    cmocka_unit_test(test_many),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
