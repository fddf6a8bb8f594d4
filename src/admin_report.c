/* SPDX-License-Identifier: MIT */
/*
 * What the admin server says: /status.json (the configuration in force
 * with its counters, the backends up or down, the live connections) and
 * /metrics (the counters in Prometheus' text format 0.0.4, every name
 * prefixed portier_, counters ending in _total).
 *
 * Counters are kept by name (metrics.c), so /metrics lists every
 * listener, vhost and backend seen since the start, and a counter goes on
 * across reloads; /status.json shows those of the configuration in force.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "portier/admin.h"
#include "portier/addr.h"
#include "portier/config.h"
#include "portier/metrics.h"
#include "portier/route.h"
#include "portier/runtime.h"

/* Most live connections /status.json lists. */
#define ADMIN_CONNS_SHOWN 500

/* What /status.json gathers of the live connections. */
struct admin_live {
	struct evbuffer *out;
	int64_t now_ms;
	size_t shown, total;
	bool stale;
};

static void admin_json_str(struct evbuffer *b, const char *s);
static void admin_label(struct evbuffer *b, const char *s);
static int64_t admin_now_ms(void);

/* --- /status.json -------------------------------------------------------- */

/* Append one worker's live connections to the list. */
static void admin_live_cb(const struct metrics_conn *conns, size_t n,
                          size_t total, bool fresh, void *arg)
{
	struct admin_live *live = arg;

	live->total += total;
	if (!fresh)
		live->stale = true;
	for (size_t i = 0; i < n && live->shown < ADMIN_CONNS_SHOWN; i++) {
		const struct metrics_conn *c = &conns[i];
		int64_t age = live->now_ms - c->started_ms;

		evbuffer_add_printf(
		    live->out, "%s\n    {\"client\": ", live->shown ? "," : "");
		admin_json_str(live->out, c->client);
		evbuffer_add_printf(live->out, ", \"listener\": ");
		admin_json_str(live->out, c->listener);
		evbuffer_add_printf(live->out, ", \"vhost\": ");
		admin_json_str(live->out, c->vhost);
		evbuffer_add_printf(live->out, ", \"backend\": ");
		admin_json_str(live->out, c->backend);
		evbuffer_add_printf(live->out, ", \"state\": ");
		admin_json_str(live->out, c->state ? c->state : "");
		evbuffer_add_printf(
		    live->out,
		    ", \"bytes_in\": %llu, \"bytes_out\": %llu, \"age\": "
		    "%.1f, \"started\": %lld}",
		    (unsigned long long)c->bytes_in,
		    (unsigned long long)c->bytes_out,
		    age > 0 ? (double)age / 1000 : 0.0,
		    (long long)(c->started_ms / 1000));
		live->shown++;
	}
}

/* Totals over every listener and vhost seen since the start. */
struct admin_totals {
	struct metrics_listener_sum l;
	uint64_t requests[METRICS_CLASSES];
};

/* Add a listener's counters to the totals. */
static void admin_total_listener_cb(const char *name,
                                    const struct metrics_listener_sum *s,
                                    void *arg)
{
	struct admin_totals *t = arg;

	t->l.accepted += s->accepted;
	t->l.closed += s->closed;
	t->l.refused_acl += s->refused_acl;
	t->l.refused_limit += s->refused_limit;
	t->l.tls_ok += s->tls_ok;
	t->l.tls_failed += s->tls_failed;
	t->l.bytes_in += s->bytes_in;
	t->l.bytes_out += s->bytes_out;
	for (int i = 0; i < METRICS_BUCKETS; i++)
		t->l.duration[i] += s->duration[i];
	t->l.duration_sum_us += s->duration_sum_us;
}

/* Add a vhost's requests to the totals. */
static void admin_total_vhost_cb(const char *listener, const char *vhost,
                                 const struct metrics_vhost_sum *s, void *arg)
{
	struct admin_totals *t = arg;

	for (int i = 0; i < METRICS_CLASSES; i++)
		t->requests[i] += s->requests[i];
}

/* Add a backend's failures to the total. */
static void admin_total_backend_cb(const char *name,
                                   const struct metrics_backend_sum *s,
                                   void *arg)
{
	*(uint64_t *)arg += s->failures;
}

/* "requests": {"1xx": n, ...} */
static void admin_json_classes(struct evbuffer *b, const uint64_t *r)
{
	evbuffer_add_printf(b,
	                    "{\"1xx\": %llu, \"2xx\": %llu, \"3xx\": %llu, "
	                    "\"4xx\": %llu, \"5xx\": %llu}",
	                    (unsigned long long)r[0], (unsigned long long)r[1],
	                    (unsigned long long)r[2], (unsigned long long)r[3],
	                    (unsigned long long)r[4]);
}

/* The counters of a listener or of the totals, as JSON members. */
static void admin_json_counters(struct evbuffer *b,
                                const struct metrics_listener_sum *s,
                                const uint64_t *requests)
{
	uint64_t count = 0, all = 0;

	for (int i = 0; i < METRICS_BUCKETS; i++)
		count += s->duration[i];
	for (int i = 0; i < METRICS_CLASSES; i++)
		all += requests[i];
	evbuffer_add_printf(
	    b,
	    "\"accepted\": %llu, \"active\": %llu, \"refused_acl\": %llu, "
	    "\"refused_limit\": %llu, \"tls_handshakes\": %llu, "
	    "\"tls_failures\": %llu, \"bytes_in\": %llu, \"bytes_out\": %llu, "
	    "\"requests\": %llu, \"requests_by_class\": ",
	    (unsigned long long)s->accepted,
	    (unsigned long long)(s->accepted - s->closed),
	    (unsigned long long)s->refused_acl,
	    (unsigned long long)s->refused_limit, (unsigned long long)s->tls_ok,
	    (unsigned long long)s->tls_failed, (unsigned long long)s->bytes_in,
	    (unsigned long long)s->bytes_out, (unsigned long long)all);
	admin_json_classes(b, requests);
	evbuffer_add_printf(b, ", \"latency_avg_ms\": %.1f",
	                    count ? (double)s->duration_sum_us / count / 1000
	                          : 0.0);
}

/* A backend address of the configuration and one thing that uses it. */
struct admin_use {
	char name[ADDR_STRLEN];
	char use[400];
};

/* Every backend use of cfg in file order: listeners, then vhosts and
 * their routes. Returns a malloc'd array (NULL when out of memory). */
static struct admin_use *admin_backend_uses(const struct config *cfg, size_t *n)
{
	size_t max = cfg->nlisteners + 1;
	struct admin_use *u;

	for (size_t i = 0; i < cfg->nvhosts; i++)
		max += 1 + cfg->vhosts[i].nroutes;
	u = calloc(max, sizeof(*u));
	*n = 0;
	if (u == NULL)
		return NULL;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct config_listener *l = &cfg->listeners[i];

		if (!l->has_backend)
			continue;
		addr_format(&l->backend, u[*n].name, sizeof(u[*n].name));
		snprintf(u[*n].use, sizeof(u[*n].use), "listener %s", l->name);
		(*n)++;
	}
	for (size_t i = 0; i < cfg->nvhosts; i++) {
		const struct config_vhost *v = &cfg->vhosts[i];

		if (v->has_backend) {
			addr_format(&v->backend, u[*n].name,
			            sizeof(u[*n].name));
			snprintf(u[*n].use, sizeof(u[*n].use), "vhost %s",
			         v->name);
			(*n)++;
		}
		for (size_t r = 0; r < v->nroutes; r++) {
			addr_format(&v->routes[r].backend, u[*n].name,
			            sizeof(u[*n].name));
			snprintf(u[*n].use, sizeof(u[*n].use),
			         "vhost %s, route %s", v->name,
			         v->routes[r].prefix);
			(*n)++;
		}
	}
	return u;
}

/* The backends of the configuration, each once, with what uses it. */
static int admin_json_backends(struct evbuffer *b, const struct config *cfg)
{
	size_t n;
	struct admin_use *u = admin_backend_uses(cfg, &n);
	bool first = true;

	if (u == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct metrics_backend_sum s;
		bool seen = false, sep = false;

		for (size_t j = 0; j < i && !seen; j++)
			seen = strcmp(u[j].name, u[i].name) == 0;
		if (seen)
			continue;
		metrics_backend_read(u[i].name, &s);
		evbuffer_add_printf(b,
		                    "%s\n    {\"address\": ", first ? "" : ",");
		first = false;
		admin_json_str(b, u[i].name);
		evbuffer_add_printf(
		    b,
		    ", \"up\": %s, \"since\": %lld, \"connects\": %llu, "
		    "\"failures\": %llu, \"last_failure\": %lld, "
		    "\"last_error\": ",
		    s.up == METRICS_UP     ? "true"
		    : s.up == METRICS_DOWN ? "false"
		                           : "null",
		    (long long)s.since, (unsigned long long)s.connects,
		    (unsigned long long)s.failures, (long long)s.failed_at);
		admin_json_str(b, s.failed_at ? strerror(s.last_error) : "");
		evbuffer_add_printf(b, ", \"used_by\": [");
		for (size_t j = i; j < n; j++) {
			if (strcmp(u[j].name, u[i].name) != 0)
				continue;
			evbuffer_add_printf(b, "%s", sep ? ", " : "");
			admin_json_str(b, u[j].use);
			sep = true;
		}
		evbuffer_add_printf(b, "]}");
	}
	free(u);
	return 0;
}

/* Requests by class of one listener, or of one vhost name on any of the
 * listeners of the configuration, from the vhost counters. */
struct admin_filter {
	const struct config *cfg;
	const char *listener; /* or NULL */
	const char *vhost;    /* or NULL */
	struct metrics_vhost_sum sum;
};

/* Add the counters of a listener and vhost pair that the filter wants. */
static void admin_filter_cb(const char *listener, const char *vhost,
                            const struct metrics_vhost_sum *s, void *arg)
{
	struct admin_filter *f = arg;

	if (f->listener != NULL && strcmp(listener, f->listener) != 0)
		return;
	if (f->vhost != NULL &&
	    (strcmp(vhost, f->vhost) != 0 ||
	     config_find_listener(f->cfg, listener) == NULL))
		return;
	for (int i = 0; i < METRICS_CLASSES; i++)
		f->sum.requests[i] += s->requests[i];
	f->sum.bytes_in += s->bytes_in;
	f->sum.bytes_out += s->bytes_out;
}

/* A JSON array of strings. */
static void admin_json_strings(struct evbuffer *b, char *const *v, size_t n)
{
	evbuffer_add_printf(b, "[");
	for (size_t i = 0; i < n; i++) {
		evbuffer_add_printf(b, "%s", i ? ", " : "");
		admin_json_str(b, v[i]);
	}
	evbuffer_add_printf(b, "]");
}

/* The listeners of the configuration with their counters. */
static void admin_json_listeners(struct evbuffer *b, const struct config *cfg)
{
	static const char *const tls[] = {"off", "on", "auto"};
	char name[ADDR_STRLEN];

	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct config_listener *l = &cfg->listeners[i];
		struct admin_filter f = {cfg, l->name, NULL, {{0}, 0, 0}};
		struct metrics_listener_sum s;

		metrics_listener_read(l->name, &s);
		metrics_vhost_each(admin_filter_cb, &f);
		evbuffer_add_printf(b, "%s\n    {\"name\": ", i ? "," : "");
		admin_json_str(b, l->name);
		evbuffer_add_printf(b,
		                    ", \"mode\": \"%s\", \"tls\": \"%s\", "
		                    "\"binds\": [",
		                    config_mode_name(l->mode), tls[l->tls]);
		for (size_t k = 0; k < l->nbinds; k++) {
			evbuffer_add_printf(b, "%s", k ? ", " : "");
			admin_json_str(
			    b, addr_format(&l->binds[k], name, sizeof(name)));
		}
		evbuffer_add_printf(b, "], \"backend\": ");
		if (l->has_backend)
			admin_json_str(
			    b, addr_format(&l->backend, name, sizeof(name)));
		else
			evbuffer_add_printf(b, "null");
		evbuffer_add_printf(b, ", \"redirect_https\": %u, ",
		                    (unsigned)l->redirect_https);
		admin_json_counters(b, &s, f.sum.requests);
		evbuffer_add_printf(b, "}");
	}
}

/* The vhosts of the configuration with their counters. */
static void admin_json_vhosts(struct evbuffer *b, const struct config *cfg)
{
	char name[ADDR_STRLEN];

	for (size_t i = 0; i < cfg->nvhosts; i++) {
		const struct config_vhost *v = &cfg->vhosts[i];
		struct admin_filter f = {cfg, NULL, v->name, {{0}, 0, 0}};
		uint64_t all = 0;
		bool sep = false;

		metrics_vhost_each(admin_filter_cb, &f);
		for (int k = 0; k < METRICS_CLASSES; k++)
			all += f.sum.requests[k];
		evbuffer_add_printf(b, "%s\n    {\"name\": ", i ? "," : "");
		admin_json_str(b, v->name);
		evbuffer_add_printf(b, ", \"aliases\": ");
		admin_json_strings(b, v->aliases.v, v->aliases.n);
		evbuffer_add_printf(b, ", \"listeners\": [");
		for (size_t k = 0; k < cfg->nlisteners; k++) {
			if (!config_vhost_serves(v, &cfg->listeners[k]))
				continue;
			evbuffer_add_printf(b, "%s", sep ? ", " : "");
			admin_json_str(b, cfg->listeners[k].name);
			sep = true;
		}
		evbuffer_add_printf(b, "], \"backend\": ");
		if (v->has_backend)
			admin_json_str(
			    b, addr_format(&v->backend, name, sizeof(name)));
		else
			evbuffer_add_printf(b, "null");
		evbuffer_add_printf(b, ", \"routes\": [");
		for (size_t r = 0; r < v->nroutes; r++) {
			evbuffer_add_printf(b,
			                    "%s{\"prefix\": ", r ? ", " : "");
			admin_json_str(b, v->routes[r].prefix);
			evbuffer_add_printf(b, ", \"backend\": ");
			admin_json_str(b, addr_format(&v->routes[r].backend,
			                              name, sizeof(name)));
			evbuffer_add_printf(b, "}");
		}
		evbuffer_add_printf(
		    b,
		    "], \"requests\": %llu, \"bytes_in\": %llu, "
		    "\"bytes_out\": %llu, \"requests_by_class\": ",
		    (unsigned long long)all, (unsigned long long)f.sum.bytes_in,
		    (unsigned long long)f.sum.bytes_out);
		admin_json_classes(b, f.sum.requests);
		evbuffer_add_printf(b, "}");
	}
}

/* The whole of /status.json. */
int admin_report_status(struct runtime *rt, struct evbuffer *b)
{
	const struct config *cfg = runtime_config(rt);
	struct admin_totals t;
	struct admin_live live = {b, admin_now_ms(), 0, 0, false};
	uint64_t reloads, reload_failures, backend_failures = 0;
	int64_t now = live.now_ms / 1000;

	memset(&t, 0, sizeof(t));
	metrics_listener_each(admin_total_listener_cb, &t);
	metrics_vhost_each(admin_total_vhost_cb, &t);
	metrics_backend_each(admin_total_backend_cb, &backend_failures);
	metrics_reloads(&reloads, &reload_failures);
	evbuffer_add_printf(b,
	                    "{\n  \"portier\": {\"version\": \"%s\", "
	                    "\"pid\": %ld, \"config\": ",
	                    PACKAGE_VERSION, (long)getpid());
	admin_json_str(b, cfg->path);
	evbuffer_add_printf(
	    b,
	    ", \"workers\": %u, \"started\": %lld, \"now\": %lld, "
	    "\"uptime\": %lld, \"reloads\": %llu, \"reload_failures\": "
	    "%llu},\n  \"totals\": {",
	    runtime_workers(rt), (long long)metrics_started(), (long long)now,
	    (long long)(now - metrics_started()), (unsigned long long)reloads,
	    (unsigned long long)reload_failures);
	admin_json_counters(b, &t.l, t.requests);
	evbuffer_add_printf(b, ", \"backend_failures\": %llu},\n",
	                    (unsigned long long)backend_failures);
	evbuffer_add_printf(b, "  \"listeners\": [");
	admin_json_listeners(b, cfg);
	evbuffer_add_printf(b, "\n  ],\n  \"vhosts\": [");
	admin_json_vhosts(b, cfg);
	evbuffer_add_printf(b, "\n  ],\n  \"backends\": [");
	if (admin_json_backends(b, cfg) < 0)
		return -1;
	evbuffer_add_printf(b, "\n  ],\n  \"connections\": [");
	metrics_live_read(0, admin_live_cb, &live);
	evbuffer_add_printf(b,
	                    "\n  ],\n  \"connections_total\": %zu, "
	                    "\"connections_shown\": %zu, "
	                    "\"connections_left_out\": %zu, "
	                    "\"connections_stale\": %s\n}\n",
	                    live.total, live.shown,
	                    live.total > live.shown ? live.total - live.shown
	                                            : 0,
	                    live.stale ? "true" : "false");
	return 0;
}

/* --- /metrics ------------------------------------------------------------ */

/* The metric families of listeners, vhosts and backends. */
enum admin_family {
	ADMIN_ACCEPTED,
	ADMIN_REFUSED,
	ADMIN_ACTIVE,
	ADMIN_BYTES_IN,
	ADMIN_BYTES_OUT,
	ADMIN_TLS_OK,
	ADMIN_TLS_FAILED,
	ADMIN_DURATION,
	ADMIN_REQUESTS,
	ADMIN_VHOST_IN,
	ADMIN_VHOST_OUT,
	ADMIN_CONNECTS,
	ADMIN_CONNECT_FAILURES,
	ADMIN_BACKEND_UP,
	ADMIN_NFAMILIES
};

/* Name, type and help of each family. */
static const struct {
	const char *name, *type, *help;
} admin_families[ADMIN_NFAMILIES] = {
    {"portier_connections_accepted_total", "counter",
     "Connections accepted and handed to a session (udp: flows begun)."},
    {"portier_connections_refused_total", "counter",
     "Connections closed at once: reason=\"acl\" by deny or allow, "
     "reason=\"limit\" by max_connections (udp: datagrams dropped)."},
    {"portier_connections_active", "gauge",
     "Connections open now (udp: flows)."},
    {"portier_received_bytes_total", "counter", "Bytes read from clients."},
    {"portier_sent_bytes_total", "counter", "Bytes written to clients."},
    {"portier_tls_handshakes_total", "counter", "TLS handshakes completed."},
    {"portier_tls_handshake_failures_total", "counter",
     "TLS handshakes that failed or timed out."},
    {"portier_http_request_duration_seconds", "histogram",
     "Time from a request's head to the end of its response."},
    {"portier_http_requests_total", "counter",
     "HTTP requests answered, by vhost and status class (vhost=\"\": "
     "none)."},
    {"portier_vhost_received_bytes_total", "counter",
     "Bytes read from clients, by vhost."},
    {"portier_vhost_sent_bytes_total", "counter",
     "Bytes written to clients, by vhost."},
    {"portier_backend_connects_total", "counter",
     "Connections to a backend that succeeded."},
    {"portier_backend_connect_failures_total", "counter",
     "Connections to a backend that failed (refused, timed out...)."},
    {"portier_backend_up", "gauge",
     "1 when the last connection to the backend succeeded, 0 when it "
     "failed; absent before the first."},
};

/* Where the families are written. */
struct admin_prom {
	struct evbuffer *b;
	const struct config *cfg;
	enum admin_family family;
};

/* One sample: NAME{KEY="VALUE"EXTRA} N. */
static void admin_sample(struct evbuffer *b, const char *name,
                         const char *suffix, const char *key, const char *value,
                         const char *extra, uint64_t n)
{
	evbuffer_add_printf(b, "%s%s{%s=\"", name, suffix, key);
	admin_label(b, value);
	evbuffer_add_printf(b, "\"%s} %llu\n", extra, (unsigned long long)n);
}

/* The samples of one listener in the family being written. */
static void admin_prom_listener_cb(const char *name,
                                   const struct metrics_listener_sum *s,
                                   void *arg)
{
	struct admin_prom *p = arg;
	const char *metric = admin_families[p->family].name;
	const struct config_listener *cl = config_find_listener(p->cfg, name);
	uint64_t count = 0;
	char le[48];

	switch (p->family) {
	case ADMIN_ACCEPTED:
		admin_sample(p->b, metric, "", "listener", name, "",
		             s->accepted);
		break;
	case ADMIN_REFUSED:
		admin_sample(p->b, metric, "", "listener", name,
		             ",reason=\"acl\"", s->refused_acl);
		admin_sample(p->b, metric, "", "listener", name,
		             ",reason=\"limit\"", s->refused_limit);
		break;
	case ADMIN_ACTIVE:
		admin_sample(p->b, metric, "", "listener", name, "",
		             s->accepted - s->closed);
		break;
	case ADMIN_BYTES_IN:
		admin_sample(p->b, metric, "", "listener", name, "",
		             s->bytes_in);
		break;
	case ADMIN_BYTES_OUT:
		admin_sample(p->b, metric, "", "listener", name, "",
		             s->bytes_out);
		break;
	case ADMIN_TLS_OK:
	case ADMIN_TLS_FAILED:
		/* TLS listeners only, and those that had handshakes. */
		if ((cl == NULL || cl->tls == CONFIG_TLS_OFF) && !s->tls_ok &&
		    !s->tls_failed)
			break;
		admin_sample(p->b, metric, "", "listener", name, "",
		             p->family == ADMIN_TLS_OK ? s->tls_ok
		                                       : s->tls_failed);
		break;
	case ADMIN_DURATION:
		for (int i = 0; i < METRICS_BUCKETS; i++)
			count += s->duration[i];
		/* http listeners only, and those that had requests. */
		if ((cl == NULL || cl->mode != CONFIG_MODE_HTTP) && count == 0)
			break;
		count = 0;
		for (int i = 0; i < METRICS_BUCKETS; i++) {
			count += s->duration[i];
			if (i < METRICS_BUCKETS - 1)
				snprintf(le, sizeof(le), ",le=\"%g\"",
				         (double)metrics_bucket_us[i] / 1e6);
			else
				snprintf(le, sizeof(le), ",le=\"+Inf\"");
			admin_sample(p->b, metric, "_bucket", "listener", name,
			             le, count);
		}
		evbuffer_add_printf(p->b, "%s_sum{listener=\"", metric);
		admin_label(p->b, name);
		evbuffer_add_printf(p->b, "\"} %.6f\n",
		                    (double)s->duration_sum_us / 1e6);
		admin_sample(p->b, metric, "_count", "listener", name, "",
		             count);
		break;
	default:
		break;
	}
}

/* The samples of one listener and vhost pair in the family. */
static void admin_prom_vhost_cb(const char *listener, const char *vhost,
                                const struct metrics_vhost_sum *s, void *arg)
{
	static const char *const codes[METRICS_CLASSES] = {"1xx", "2xx", "3xx",
	                                                   "4xx", "5xx"};
	struct admin_prom *p = arg;
	const char *metric = admin_families[p->family].name;
	int n = p->family == ADMIN_REQUESTS ? METRICS_CLASSES : 1;

	for (int i = 0; i < n; i++) {
		uint64_t v = p->family == ADMIN_REQUESTS   ? s->requests[i]
		             : p->family == ADMIN_VHOST_IN ? s->bytes_in
		                                           : s->bytes_out;

		evbuffer_add_printf(p->b, "%s{listener=\"", metric);
		admin_label(p->b, listener);
		evbuffer_add_printf(p->b, "\",vhost=\"");
		admin_label(p->b, vhost);
		if (p->family == ADMIN_REQUESTS)
			evbuffer_add_printf(p->b, "\",code=\"%s", codes[i]);
		evbuffer_add_printf(p->b, "\"} %llu\n", (unsigned long long)v);
	}
}

/* The sample of one backend in the family. */
static void admin_prom_backend_cb(const char *name,
                                  const struct metrics_backend_sum *s,
                                  void *arg)
{
	struct admin_prom *p = arg;
	const char *metric = admin_families[p->family].name;

	if (p->family == ADMIN_CONNECTS)
		admin_sample(p->b, metric, "", "backend", name, "",
		             s->connects);
	else if (p->family == ADMIN_CONNECT_FAILURES)
		admin_sample(p->b, metric, "", "backend", name, "",
		             s->failures);
	else if (s->up != METRICS_UNKNOWN)
		admin_sample(p->b, metric, "", "backend", name, "",
		             s->up == METRICS_UP ? 1 : 0);
}

/* The whole of /metrics, in Prometheus' text format 0.0.4. */
int admin_report_metrics(struct runtime *rt, struct evbuffer *b)
{
	struct admin_prom p = {b, runtime_config(rt), ADMIN_ACCEPTED};
	uint64_t ok, failed;

	metrics_reloads(&ok, &failed);
	evbuffer_add_printf(
	    b,
	    "# HELP portier_build_info The version of portier running.\n"
	    "# TYPE portier_build_info gauge\n"
	    "portier_build_info{version=\"%s\"} 1\n"
	    "# HELP portier_start_time_seconds When portier started (unix "
	    "time).\n"
	    "# TYPE portier_start_time_seconds gauge\n"
	    "portier_start_time_seconds %lld\n"
	    "# HELP portier_reloads_total Configuration reloads (SIGHUP) "
	    "that took effect.\n"
	    "# TYPE portier_reloads_total counter\n"
	    "portier_reloads_total %llu\n"
	    "# HELP portier_reload_failures_total Reloads refused: the "
	    "running configuration stayed.\n"
	    "# TYPE portier_reload_failures_total counter\n"
	    "portier_reload_failures_total %llu\n",
	    PACKAGE_VERSION, (long long)metrics_started(),
	    (unsigned long long)ok, (unsigned long long)failed);
	for (int f = 0; f < ADMIN_NFAMILIES; f++) {
		p.family = (enum admin_family)f;
		evbuffer_add_printf(
		    b, "# HELP %s %s\n# TYPE %s %s\n", admin_families[f].name,
		    admin_families[f].help, admin_families[f].name,
		    admin_families[f].type);
		if (f <= ADMIN_DURATION)
			metrics_listener_each(admin_prom_listener_cb, &p);
		else if (f <= ADMIN_VHOST_OUT)
			metrics_vhost_each(admin_prom_vhost_cb, &p);
		else
			metrics_backend_each(admin_prom_backend_cb, &p);
	}
	return 0;
}

/* --- helpers ------------------------------------------------------------- */

/* s as a JSON string, quotes included. */
static void admin_json_str(struct evbuffer *b, const char *s)
{
	char esc[8];

	evbuffer_add(b, "\"", 1);
	for (const char *p = s; *p != '\0'; p++) {
		const char *run = p;

		while (*p != '\0' && *p != '"' && *p != '\\' &&
		       (unsigned char)*p >= 0x20 && *p != 0x7f)
			p++;
		evbuffer_add(b, run, (size_t)(p - run));
		if (*p == '\0')
			break;
		if (*p == '"' || *p == '\\')
			snprintf(esc, sizeof(esc), "\\%c", *p);
		else
			snprintf(esc, sizeof(esc), "\\u%04x",
			         (unsigned)(unsigned char)*p);
		evbuffer_add(b, esc, strlen(esc));
	}
	evbuffer_add(b, "\"", 1);
}

/* s as a Prometheus label value, without its quotes. */
static void admin_label(struct evbuffer *b, const char *s)
{
	for (const char *p = s; *p != '\0'; p++) {
		if (*p == '\\' || *p == '"')
			evbuffer_add_printf(b, "\\%c", *p);
		else if (*p == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, p, 1);
	}
}

/* Unix time in ms. */
static int64_t admin_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
