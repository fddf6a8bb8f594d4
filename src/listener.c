/* SPDX-License-Identifier: MIT */
/*
 * Listeners: the sockets portier accepts on.
 *
 * Each bind address becomes one or two listening sockets (IPv6 ones with
 * IPV6_V6ONLY, so `*:PORT` is a 0.0.0.0 socket plus a [::] one). portier
 * binds them itself rather than through evconnlistener_new_bind so that a
 * failed bind can be explained with the holder of the port. The accept
 * callback applies deny, allow and the connection limits before a session
 * costs anything.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "portier/listener.h"
#include "portier/accesslog.h"
#include "portier/addr.h"
#include "portier/backend.h"
#include "portier/config.h"
#include "portier/log.h"
#include "portier/metrics.h"
#include "portier/portdiag.h"
#include "portier/route.h"
#include "portier/runtime.h"
#include "portier/session.h"
#include "portier/upstream.h"


/* A [listener] section brought to life. */
struct listener {
	int refcnt;
	struct runtime *rt;
	struct runtime_gen *gen; /* reference held: cfg lives in it */
	const struct config_listener *cfg;
	struct upstream upstream; /* the listener's backend */
	struct route_table *routes; /* http: vhosts and routes */
	struct evconnlistener **socks;
	size_t nsocks;
	struct event *retry; /* re-enables accepting after EMFILE */
	bool closed;         /* listener_close: a reload replaced it */
	/* accept(2) failures since the last accept that worked: the first
	 * is logged, the others counted for the line that says it works
	 * again. */
	unsigned accept_failures;
	struct timeval accept_failing_since;
	/* This worker's counters: the listener's, its backend's, one per
	 * upstream of the route table (same index), one per vhost of the
	 * configuration (same index; NULL for those that do not serve it)
	 * and the last for requests no vhost serves. */
	struct metrics_listener *metrics;
	struct metrics_backend *backend_metrics;
	struct metrics_backend **route_metrics;
	struct upstream *route_ups;
	size_t nroute_ups;
	struct metrics_vhost **vhost_metrics;
	struct log_throttle throttle; /* of refusal messages */
};

static int listener_bind_addr(struct listener *l, const struct addr *a,
                              char *err, size_t errlen);
static int listener_bind_one(struct listener *l, const struct addr *a,
                             bool optional, char *err, size_t errlen);
static void listener_accept_cb(struct evconnlistener *el, evutil_socket_t fd,
                               struct sockaddr *sa, int salen, void *arg);
static void listener_error_cb(struct evconnlistener *el, void *arg);
static void listener_retry_cb(evutil_socket_t fd, short what, void *arg);
static bool listener_client_first(const struct config_listener *cfg);
static void listener_access_log(const struct listener *l, const char *client,
                                const char *why);
static void listener_log_throttled(struct listener *l, enum log_level level,
                                   const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int listener_metrics_init(struct listener *l);

struct listener *listener_new(struct runtime *rt,
                              const struct config_listener *cfg, char *err,
                              size_t errlen)
{
	struct listener *l;

	l = calloc(1, sizeof(*l));
	if (l == NULL)
		goto nomem;
	l->refcnt = 1;
	l->rt = rt;
	l->gen = runtime_gen_ref(runtime_building(rt));
	l->cfg = cfg;
	if (cfg->has_backend)
		upstream_init(&l->upstream, &cfg->backend);
	if (cfg->mode == CONFIG_MODE_HTTP ||
	    cfg->mode == CONFIG_MODE_TLS_PASSTHROUGH) {
		l->routes = route_table_new(runtime_gen_config(l->gen), cfg,
		                            cfg->has_backend ? &l->upstream
		                                             : NULL);
		if (l->routes == NULL)
			goto nomem;
	}
	if (listener_metrics_init(l) < 0)
		goto nomem;
	/* Two sockets at most per address (`*` and localhost). */
	l->socks = calloc(cfg->nbinds * 2, sizeof(*l->socks));
	if (l->socks == NULL)
		goto nomem;
	l->retry = evtimer_new(runtime_base(rt), listener_retry_cb, l);
	if (l->retry == NULL)
		goto nomem;
	for (size_t i = 0; i < cfg->nbinds; i++) {
		if (listener_bind_addr(l, &cfg->binds[i], err, errlen) < 0)
			goto err;
	}
	return l;
nomem:
	snprintf(err, errlen, "listener %s: out of memory", cfg->name);
err:
	listener_close(l);
	listener_unref(l);
	return NULL;
}

int listener_start(struct listener *l)
{
	for (size_t i = 0; i < l->nsocks; i++) {
		if (evconnlistener_enable(l->socks[i]) < 0)
			return -1;
	}
	return 0;
}

int listener_find_socket(const struct listener *l, const struct addr *a)
{
	for (size_t i = 0; i < l->nsocks; i++) {
		int fd = evconnlistener_get_fd(l->socks[i]);
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0 &&
		    len == a->salen && memcmp(&ss, &a->sa, len) == 0)
			return fd;
	}
	return -1;
}

void listener_close(struct listener *l)
{
	if (l == NULL)
		return;
	l->closed = true;
	for (size_t i = 0; i < l->nsocks; i++)
		evconnlistener_free(l->socks[i]);
	l->nsocks = 0;
	if (l->retry != NULL) {
		event_free(l->retry);
		l->retry = NULL;
	}
}

bool listener_closed(const struct listener *l)
{
	return l->closed;
}

struct listener *listener_ref(struct listener *l)
{
	l->refcnt++;
	return l;
}

void listener_unref(struct listener *l)
{
	if (l == NULL || --l->refcnt > 0)
		return;
	listener_close(l);
	/* Pooled connections point at the listener's backends. */
	backend_close_idle_of(&l->upstream);
	if (l->routes != NULL) {
		size_t n;
		struct upstream *ups = route_upstreams(l->routes, &n);

		for (size_t i = 0; i < n; i++)
			backend_close_idle_of(&ups[i]);
	}
	route_table_free(l->routes);
	free(l->route_metrics);
	free(l->vhost_metrics);
	free(l->socks);
	runtime_gen_unref(l->gen);
	free(l);
}

const struct config_listener *listener_config(const struct listener *l)
{
	return l->cfg;
}

struct upstream *listener_upstream(struct listener *l)
{
	return &l->upstream;
}

const struct route_table *listener_routes(const struct listener *l)
{
	return l->routes;
}

struct tls_server *listener_tls(const struct listener *l)
{
	return runtime_gen_tls(l->gen, l->cfg);
}

struct runtime *listener_runtime(const struct listener *l)
{
	return l->rt;
}

void listener_session_closed(struct listener *l)
{
	metrics_add(&l->metrics->closed, 1);
	runtime_session_closed(l->rt, l->gen, l->cfg);
}

struct metrics_listener *listener_metrics(const struct listener *l)
{
	return l->metrics;
}

struct metrics_vhost *listener_vhost_metrics(const struct listener *l,
                                             const struct config_vhost *v)
{
	const struct config *cfg = runtime_gen_config(l->gen);

	return l->vhost_metrics[v != NULL ? (size_t)(v - cfg->vhosts)
	                                  : cfg->nvhosts];
}

struct metrics_backend *listener_backend_metrics(const struct listener *l,
                                                 const struct upstream *up)
{
	if (up == &l->upstream)
		return l->backend_metrics;
	return l->route_metrics[up - l->route_ups];
}

/* Take this worker's counter blocks for the listener, its vhosts and its
 * backends: the hot path then only follows pointers. */
static int listener_metrics_init(struct listener *l)
{
	const struct config *cfg = runtime_gen_config(l->gen);
	unsigned w = runtime_index(l->rt);

	l->metrics = metrics_listener_get(l->cfg->name, w);
	if (l->metrics == NULL)
		return -1;
	if (l->cfg->has_backend && (l->backend_metrics = metrics_backend_get(
	                                l->upstream.name, w)) == NULL)
		return -1;
	if (l->routes == NULL)
		return 0;
	l->route_ups = route_upstreams(l->routes, &l->nroute_ups);
	l->route_metrics = calloc(l->nroute_ups + 1, sizeof(*l->route_metrics));
	l->vhost_metrics = calloc(cfg->nvhosts + 1, sizeof(*l->vhost_metrics));
	if (l->route_metrics == NULL || l->vhost_metrics == NULL)
		return -1;
	for (size_t i = 0; i < l->nroute_ups; i++) {
		l->route_metrics[i] =
		    metrics_backend_get(l->route_ups[i].name, w);
		if (l->route_metrics[i] == NULL)
			return -1;
	}
	for (size_t i = 0; i < cfg->nvhosts; i++) {
		if (!config_vhost_serves(&cfg->vhosts[i], l->cfg))
			continue;
		l->vhost_metrics[i] =
		    metrics_vhost_get(l->cfg->name, cfg->vhosts[i].name, w);
		if (l->vhost_metrics[i] == NULL)
			return -1;
	}
	l->vhost_metrics[cfg->nvhosts] = metrics_vhost_get(l->cfg->name, "", w);
	return l->vhost_metrics[cfg->nvhosts] != NULL ? 0 : -1;
}

/* Bind one configured address: `*` and localhost stand for two sockets. */
static int listener_bind_addr(struct listener *l, const struct addr *a,
                              char *err, size_t errlen)
{
	struct addr one[2];
	bool optional[2];
	int n = addr_bind_sockets(a, one, optional);

	if (n == 0) {
		snprintf(err, errlen, "listener %s: cannot bind a unix socket",
		         l->cfg->name);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (listener_bind_one(l, &one[i], optional[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Create, bind and listen on one socket; `optional` tolerates a missing
 * IPv6 stack. */
static int listener_bind_one(struct listener *l, const struct addr *a,
                             bool optional, char *err, size_t errlen)
{
	char name[ADDR_STRLEN], why[512];
	struct evconnlistener *el;
	int family = a->sa.sa.sa_family;
	int one = 1;
	int fd, e;
	bool kept;

	addr_format(a, name, sizeof(name));
	/* A reload keeps the socket of an address that stays: not one
	 * connection is refused meanwhile. */
	fd = runtime_inherit_socket(l->rt, a, SOCK_STREAM);
	if (fd >= 0)
		goto listen;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		                 sizeof(one));
	/* Several workers each bind the address, and the kernel spreads
	 * the connections among them; a reload binds a wider or narrower
	 * address (127.0.0.1 and *) beside the one it replaces. Another
	 * process may join such an address too: checked after listen. */
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	/* Relay bytes as they come: the endpoints chose their segments.
	 * Accepted sockets inherit the option, which saves a system call
	 * per connection. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, &a->sa.sa, a->salen) < 0 || listen(fd, SOMAXCONN) < 0)
		goto fail;
	if (portdiag_shared_with_other("/proc", &a->sa.sa, a->salen,
	                               IPPROTO_TCP, why, sizeof(why))) {
		close(fd);
		snprintf(err, errlen, "cannot bind %s (listener %s): %s", name,
		         l->cfg->name, why);
		errno = EADDRINUSE;
		return -1;
	}
listen:
	/* An HTTP client's request needs no ACK of its own: the response
	 * carries it moments later (or the delayed-ACK timer does). Sockets
	 * accepted afterwards inherit the setting, which listen(2) resets,
	 * so it comes after; an inherited socket may have had another
	 * mode. */
	{
		int quick = l->cfg->mode != CONFIG_MODE_HTTP;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &quick,
		                 sizeof(quick));
	}
	/* When the client speaks first (HTTP, a TLS ClientHello), the kernel
	 * hands over a connection once its first bytes are in: the session
	 * reads them at once: no read that finds nothing, no epoll
	 * registration to add and remove. A client that sends
	 * nothing is handed over after a second all the same, and the
	 * session's timeouts apply from then on. */
	{
		int secs = listener_client_first(l->cfg) ? 1 : 0;

		(void)setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &secs,
		                 sizeof(secs));
	}
	/* Accepting starts with listener_start, in the worker's thread. */
	el = evconnlistener_new(runtime_base(l->rt), listener_accept_cb, l,
	                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	                            LEV_OPT_DISABLED,
	                        0, fd);
	if (el == NULL)
		goto fail;
	evconnlistener_set_error_cb(el, listener_error_cb);
	l->socks[l->nsocks++] = el;
	/* Every worker binds the same addresses; one line says so, and
	 * whether a reload keeps the address or begins it. */
	kept = runtime_listened(l->rt, l->cfg->name, a, SOCK_STREAM);
	runtime_announce(l->rt, "listener %s: %slistening on %s (%s%s -> %s)",
	                 l->cfg->name, kept ? "still " : "", name,
	                 config_mode_name(l->cfg->mode),
	                 l->cfg->tls != CONFIG_TLS_OFF ? " over TLS" : "",
	                 l->cfg->redirect_https ? "a redirect to https"
	                 : l->cfg->has_backend  ? l->upstream.name
	                                        : "vhosts");
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (optional && (e == EAFNOSUPPORT || e == EADDRNOTAVAIL)) {
		log_warn("listener %s: skipping %s: %s", l->cfg->name, name,
		         strerror(e));
		return 0;
	}
	portdiag_explain_bind("/proc", e, &a->sa.sa, a->salen, IPPROTO_TCP, why,
	                      sizeof(why));
	snprintf(err, errlen, "cannot bind %s (listener %s): %s", name,
	         l->cfg->name, why);
	return -1;
}

/* True when the client sends the first bytes of every connection: HTTP
 * requests, TLS handshakes. A tcp listener may carry a protocol whose
 * server speaks first (SMTP, SSH). */
static bool listener_client_first(const struct config_listener *cfg)
{
	return cfg->mode == CONFIG_MODE_HTTP ||
	       cfg->mode == CONFIG_MODE_TLS_PASSTHROUGH ||
	       cfg->tls != CONFIG_TLS_OFF;
}

/* Log a refusal or an accept failure: up to LOG_THROTTLE_BURST a second,
 * then a count of the rest, so that a scanner or a flood cannot fill the
 * log. */
static void listener_log_throttled(struct listener *l, enum log_level level,
                                   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vthrottled(&l->throttle, "listener", l->cfg->name, level, fmt,
	               ap);
	va_end(ap);
}

/* A client connected: check the access lists and limits, then hand the
 * socket to a new session. */
static void listener_accept_cb(struct evconnlistener *el, evutil_socket_t fd,
                               struct sockaddr *sa, int salen, void *arg)
{
	struct listener *l = arg;
	const struct config_listener *cfg = l->cfg;
	char client[ADDR_STRLEN];
	const char *rule = NULL;
	enum runtime_admit admit;

	if (l->accept_failures > 0) {
		struct timeval now;

		event_base_gettimeofday_cached(runtime_base(l->rt), &now);
		log_info("listener %s: accepting again, after %u failed "
		         "accept%s in %ld s",
		         cfg->name, l->accept_failures,
		         l->accept_failures == 1 ? "" : "s",
		         (long)(now.tv_sec - l->accept_failing_since.tv_sec));
		l->accept_failures = 0;
	}

	if (cfg->deny.n && cidr_match_any(cfg->deny.blocks, cfg->deny.n, sa))
		rule = "deny";
	else if (cfg->allow.n &&
	         !cidr_match_any(cfg->allow.blocks, cfg->allow.n, sa))
		rule = "allow";
	if (rule != NULL) {
		metrics_add(&l->metrics->refused_acl, 1);
		addr_format_sa(sa, (socklen_t)salen, client, sizeof(client));
		listener_log_throttled(l, LOG_LEVEL_INFO,
		                       "client=%s listener=%s: denied by the "
		                       "%s list",
		                       client, cfg->name, rule);
		listener_access_log(l, client,
		                    *rule == 'd' ? "refused by the deny list"
		                                 : "refused: not in the allow "
		                                   "list");
		close(fd);
		return;
	}
	admit = runtime_admit(l->rt, l->gen, cfg);
	if (admit != RUNTIME_ADMITTED) {
		bool global = admit == RUNTIME_FULL;

		metrics_add(&l->metrics->refused_limit, 1);
		addr_format_sa(sa, (socklen_t)salen, client, sizeof(client));
		listener_log_throttled(
		    l, LOG_LEVEL_WARN,
		    "client=%s listener=%s: %s connection limit (%u) "
		    "reached; connection closed",
		    client, cfg->name, global ? "global" : "listener",
		    global ? runtime_global(l->rt)->max_connections
		           : cfg->max_connections);
		listener_access_log(l, client,
		                    global ? "refused: global connection limit"
		                           : "refused: listener connection "
		                             "limit");
		close(fd);
		return;
	}
	metrics_add(&l->metrics->accepted, 1);
	session_start(l, fd, sa, (socklen_t)salen);
}

/* The access log's line of a connection refused at once (client is its
 * address and port): a connection line as tcp and passthrough listeners
 * write at the end of each, for http ones too, whose request lines need
 * a request. */
static void listener_access_log(const struct listener *l, const char *client,
                                const char *why)
{
	struct log_conn c = {.client = client, .listener = l->cfg->name};

	if (!accesslog_enabled())
		return;
	accesslog_stream(l->cfg->mode == CONFIG_MODE_HTTP ? "HTTP"
	                 : l->cfg->mode == CONFIG_MODE_TLS_PASSTHROUGH
	                     ? "TLS"
	                     : "TCP",
	                 &c, 0, 0, 0, why);
}

/* accept(2) failed for a reason other than a vanished client: usually the
 * file limit. Pause accepting briefly instead of spinning. */
static void listener_error_cb(struct evconnlistener *el, void *arg)
{
	struct listener *l = arg;
	struct timeval tv = {0, 100 * 1000};
	int e = EVUTIL_SOCKET_ERROR();

	/* Once per spell: a full file table lasts, and ten lines a second
	 * would say nothing new. */
	if (l->accept_failures++ == 0) {
		event_base_gettimeofday_cached(runtime_base(l->rt),
		                               &l->accept_failing_since);
		log_warn("listener %s: accept failed: %s; pausing for 100 ms "
		         "at a time until it works%s",
		         l->cfg->name, strerror(e),
		         e == EMFILE || e == ENFILE
		             ? " (raise the open-file limit, ulimit -n, or "
		               "lower max_connections)"
		             : "");
	}
	for (size_t i = 0; i < l->nsocks; i++)
		evconnlistener_disable(l->socks[i]);
	if (evtimer_add(l->retry, &tv) < 0)
		listener_retry_cb(-1, 0, l);
}

/* Accept again after a pause. */
static void listener_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	for (size_t i = 0; i < l->nsocks; i++)
		evconnlistener_enable(l->socks[i]);
}
