/* SPDX-License-Identifier: MIT */
/*
 * The admin server: a small HTTP/1.1 server on worker 0's event loop for
 * the status page (/), its data (/status.json) and Prometheus' scrapes
 * (/metrics).
 *
 * Each connection carries one request, read with http.c's parser, and is
 * closed after the response. Only GET and HEAD are answered, only to
 * loopback clients, and only for a Host that names this machine (an IP
 * address, localhost or the host name): a web page in a browser on this
 * machine cannot read the status through a DNS name of its own that
 * points at 127.0.0.1 (DNS rebinding). What /status.json and /metrics
 * say is written by admin_report.c; the live connections come from a
 * snapshot each worker takes when asked, which /status.json waits for
 * (briefly) so that what it shows is fresh.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "portier/admin.h"
#include "portier/addr.h"
#include "portier/config.h"
#include "portier/http.h"
#include "portier/lan.h"
#include "portier/log.h"
#include "portier/metrics.h"
#include "portier/portdiag.h"
#include "portier/runtime.h"

/* Admin connections served at once; more are closed at once. Clients
 * not on loopback only get a 403 page, and have a smaller share of their
 * own, so that they cannot keep a local scrape out. */
#define ADMIN_CONNS_MAX 64
#define ADMIN_REMOTE_MAX 8

/* Seconds a request has to arrive, and a response to leave. */
#define ADMIN_TIMEOUT_S 10

/* Largest request head read. */
#define ADMIN_HEAD_MAX 16384

/* How /status.json waits for the workers' snapshots: every
 * ADMIN_POLL_MS, for ADMIN_WAIT_MS at most. */
#define ADMIN_POLL_MS 2
#define ADMIN_WAIT_MS 250

/* The admin server of worker 0. */
struct admin {
	struct runtime *rt;
	struct evconnlistener *socks[2];
	size_t nsocks;
	struct event *retry; /* accepts again after a failed accept(2) */
	LIST_HEAD(, admin_conn) conns;
	size_t nconns;  /* from loopback */
	size_t nremote; /* from other addresses */
	struct log_throttle throttle; /* of refusals of remote clients */
	char hostname[256]; /* this machine's name, lower case */
};

/* One client connection. */
struct admin_conn {
	LIST_ENTRY(admin_conn) entry;
	struct admin *admin;
	struct bufferevent *bev;
	struct event *wait; /* /status.json: polls the snapshots */
	uint64_t seq;       /* the snapshot request it waits for */
	unsigned waited_ms;
	bool head_only; /* HEAD: the head of the response only */
	bool answered;  /* the response is queued: close once sent */
	bool remote;    /* not from a loopback address */
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
	} peer;
};

/* The request being parsed: the admin runs in one thread only. */
static struct http_head admin_head;

static int admin_bind_one(struct admin *a, const struct addr *addr,
                          bool optional, char *err, size_t errlen);
static void admin_accept_cb(struct evconnlistener *el, evutil_socket_t fd,
                            struct sockaddr *sa, int salen, void *arg);
static void admin_error_cb(struct evconnlistener *el, void *arg);
static void admin_retry_cb(evutil_socket_t fd, short what, void *arg);
static void admin_read_cb(struct bufferevent *bev, void *arg);
static void admin_write_cb(struct bufferevent *bev, void *arg);
static void admin_event_cb(struct bufferevent *bev, short what, void *arg);
static void admin_wait_cb(evutil_socket_t fd, short what, void *arg);
static void admin_route(struct admin_conn *c, const char *buf,
                        const struct http_head *h);
static void admin_respond(struct admin_conn *c, int status, const char *type,
                          const char *fields, struct evbuffer *body);
static void admin_text(struct admin_conn *c, int status, const char *fields,
                       const char *text);
static void admin_status(struct admin_conn *c);
static void admin_status_answer(struct admin_conn *c);
static bool admin_host_ok(const struct admin *a, const char *host);
static void admin_conn_free(struct admin_conn *c);
static void admin_log_throttled(struct admin *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct admin *admin_new(struct runtime *rt, const struct addr *addr, char *err,
                        size_t errlen)
{
	struct admin *a = calloc(1, sizeof(*a));
	struct addr one[2];
	bool optional[2];
	int n;

	if (a == NULL) {
		snprintf(err, errlen, "admin: out of memory");
		return NULL;
	}
	a->rt = rt;
	LIST_INIT(&a->conns);
	if (gethostname(a->hostname, sizeof(a->hostname) - 1) < 0)
		a->hostname[0] = '\0';
	for (char *p = a->hostname; *p != '\0'; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	a->retry = evtimer_new(runtime_base(rt), admin_retry_cb, a);
	if (a->retry == NULL) {
		snprintf(err, errlen, "admin: out of memory");
		goto err;
	}
	n = addr_bind_sockets(addr, one, optional);
	if (n == 0) {
		snprintf(err, errlen, "admin: cannot bind a unix socket");
		goto err;
	}
	for (int i = 0; i < n; i++) {
		if (admin_bind_one(a, &one[i], optional[i], err, errlen) < 0)
			goto err;
	}
	return a;
err:
	admin_free(a);
	return NULL;
}

int admin_start(struct admin *a)
{
	for (size_t i = 0; i < a->nsocks; i++) {
		if (evconnlistener_enable(a->socks[i]) < 0)
			return -1;
	}
	return 0;
}

void admin_close(struct admin *a)
{
	for (size_t i = 0; i < a->nsocks; i++)
		evconnlistener_free(a->socks[i]);
	a->nsocks = 0;
	if (a->retry != NULL) {
		event_free(a->retry);
		a->retry = NULL;
	}
	while (!LIST_EMPTY(&a->conns))
		admin_conn_free(LIST_FIRST(&a->conns));
}

void admin_free(struct admin *a)
{
	if (a == NULL)
		return;
	admin_close(a);
	free(a);
}

/* Create, bind and listen on one socket; `optional` tolerates a missing
 * IPv6 stack. */
static int admin_bind_one(struct admin *a, const struct addr *addr,
                          bool optional, char *err, size_t errlen)
{
	char name[ADDR_STRLEN], why[512];
	int family = addr->sa.sa.sa_family;
	struct evconnlistener *el;
	int one = 1, fd, e;

	addr_format(addr, name, sizeof(name));
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		                 sizeof(one));
	if (bind(fd, &addr->sa.sa, addr->salen) < 0 || listen(fd, 64) < 0)
		goto fail;
	el = evconnlistener_new(runtime_base(a->rt), admin_accept_cb, a,
	                        LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
	                            LEV_OPT_DISABLED,
	                        0, fd);
	if (el == NULL)
		goto fail;
	evconnlistener_set_error_cb(el, admin_error_cb);
	a->socks[a->nsocks++] = el;
	log_info("admin: status page on http://%s/ (and /status.json, "
	         "/metrics)",
	         name);
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (optional && (e == EAFNOSUPPORT || e == EADDRNOTAVAIL)) {
		log_warn("admin: skipping %s: %s", name, strerror(e));
		return 0;
	}
	portdiag_explain_bind("/proc", e, &addr->sa.sa, addr->salen,
	                      IPPROTO_TCP, why, sizeof(why));
	snprintf(err, errlen, "cannot bind %s (admin): %s", name, why);
	return -1;
}

/* A client connected: read its request. */
static void admin_accept_cb(struct evconnlistener *el, evutil_socket_t fd,
                            struct sockaddr *sa, int salen, void *arg)
{
	struct admin *a = arg;
	struct timeval tv = {ADMIN_TIMEOUT_S, 0};
	struct admin_conn *c;
	bool remote = !lan_is_loopback(sa);

	if (remote ? a->nremote >= ADMIN_REMOTE_MAX
	           : a->nconns >= ADMIN_CONNS_MAX) {
		log_debug("admin: %d connections from %s already; one closed",
		          remote ? ADMIN_REMOTE_MAX : ADMIN_CONNS_MAX,
		          remote ? "other addresses" : "loopback");
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		close(fd);
		return;
	}
	c->admin = a;
	c->remote = remote;
	memcpy(&c->peer, sa,
	       (size_t)salen < sizeof(c->peer) ? (size_t)salen
	                                       : sizeof(c->peer));
	c->bev = bufferevent_socket_new(runtime_base(a->rt), fd,
	                                BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		close(fd);
		free(c);
		return;
	}
	LIST_INSERT_HEAD(&a->conns, c, entry);
	if (remote)
		a->nremote++;
	else
		a->nconns++;
	bufferevent_setcb(c->bev, admin_read_cb, admin_write_cb, admin_event_cb,
	                  c);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	if (bufferevent_enable(c->bev, EV_READ) < 0)
		admin_conn_free(c);
}

/* accept(2) failed, for want of descriptors usually: pause for a second
 * instead of spinning. */
static void admin_error_cb(struct evconnlistener *el, void *arg)
{
	struct admin *a = arg;
	struct timeval tv = {1, 0};

	log_warn("admin: accept failed: %s; pausing for 1 s",
	         strerror(EVUTIL_SOCKET_ERROR()));
	for (size_t i = 0; i < a->nsocks; i++)
		evconnlistener_disable(a->socks[i]);
	if (evtimer_add(a->retry, &tv) < 0)
		admin_retry_cb(-1, 0, a);
}

/* Accept again after a pause. */
static void admin_retry_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin *a = arg;

	for (size_t i = 0; i < a->nsocks; i++)
		evconnlistener_enable(a->socks[i]);
}

/* Bytes of the request: answer once its head is whole. */
static void admin_read_cb(struct bufferevent *bev, void *arg)
{
	struct admin_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	size_t len = evbuffer_get_length(in);
	const char *buf;
	ssize_t n;

	if (c->answered || c->wait != NULL) {
		/* Whatever comes after the request is not read. */
		evbuffer_drain(in, len);
		return;
	}
	if (len > ADMIN_HEAD_MAX)
		len = ADMIN_HEAD_MAX;
	buf = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
	if (buf == NULL) {
		admin_conn_free(c);
		return;
	}
	n = http_parse_request(buf, len, &admin_head);
	if (n == 0 && len < ADMIN_HEAD_MAX)
		return;
	if (n <= 0) {
		admin_text(c, n == 0 ? 431 : admin_head.error_status, NULL,
		           n == 0 ? "The request head is too large."
		                  : admin_head.error);
		return;
	}
	admin_route(c, buf, &admin_head);
}

/* The response left: close. */
static void admin_write_cb(struct bufferevent *bev, void *arg)
{
	struct admin_conn *c = arg;

	if (c->answered &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		admin_conn_free(c);
}

/* The client left, or took too long. */
static void admin_event_cb(struct bufferevent *bev, short what, void *arg)
{
	admin_conn_free(arg);
}

/* Answer the request of head h (parsed from buf). */
static void admin_route(struct admin_conn *c, const char *buf,
                        const struct http_head *h)
{
	const char *path = buf + h->path.off;
	size_t len = h->path.len;
	struct evbuffer *body;

	for (size_t i = 0; i < len; i++) {
		if (path[i] == '?') {
			len = i;
			break;
		}
	}
	c->head_only = h->method_head;
	if (c->remote) {
		char client[ADDR_STRLEN];

		addr_format_sa(&c->peer.sa, sizeof(c->peer), client,
		               sizeof(client));
		admin_log_throttled(c->admin,
		                    "admin: client=%s refused: not a loopback "
		                    "address",
		                    client);
		admin_text(c, 403, NULL,
		           "The admin page of portier answers only clients "
		           "on this machine (loopback addresses).");
		return;
	}
	if (!h->method_head && !http_slice_eq(buf, h->method, "get")) {
		admin_text(c, 405, "Allow: GET, HEAD\r\n",
		           "Only GET and HEAD are answered here.");
		return;
	}
	if (!admin_host_ok(c->admin, h->host)) {
		admin_text(c, 403, NULL,
		           "This page answers only to the names of this "
		           "machine: localhost, its IP addresses or its host "
		           "name.");
		return;
	}
	if (len == 1 && path[0] == '/') {
		body = evbuffer_new();
		if (body == NULL ||
		    evbuffer_add_reference(body, admin_page_html,
		                           strlen(admin_page_html), NULL,
		                           NULL) < 0) {
			if (body != NULL)
				evbuffer_free(body);
			admin_conn_free(c);
			return;
		}
		/* The page needs nothing but itself and this server. */
		admin_respond(c, 200, "text/html; charset=utf-8",
		              "Content-Security-Policy: default-src 'none'; "
		              "script-src 'unsafe-inline'; style-src "
		              "'unsafe-inline'; connect-src 'self'; img-src "
		              "data:; base-uri 'none'; form-action 'none'; "
		              "frame-ancestors 'none'\r\n",
		              body);
		return;
	}
	if (len == 12 && memcmp(path, "/status.json", 12) == 0) {
		admin_status(c);
		return;
	}
	if (len == 8 && memcmp(path, "/metrics", 8) == 0) {
		body = evbuffer_new();
		if (body == NULL ||
		    admin_report_metrics(c->admin->rt, body) < 0) {
			if (body != NULL)
				evbuffer_free(body);
			admin_text(c, 500, NULL, "out of memory");
			return;
		}
		admin_respond(c, 200,
		              "text/plain; version=0.0.4; charset=utf-8", NULL,
		              body);
		return;
	}
	admin_text(c, 404, NULL,
	           "Not found. This server has /, /status.json and /metrics.");
}

/* Queue a response with `body` (taken over), then close once it left. */
static void admin_respond(struct admin_conn *c, int status, const char *type,
                          const char *fields, struct evbuffer *body)
{
	struct evbuffer *out = bufferevent_get_output(c->bev);

	evbuffer_add_printf(out,
	                    "HTTP/1.1 %d %s\r\n"
	                    "Content-Type: %s\r\n"
	                    "Content-Length: %zu\r\n"
	                    "Cache-Control: no-store\r\n"
	                    "X-Content-Type-Options: nosniff\r\n"
	                    "Referrer-Policy: no-referrer\r\n"
	                    "%s"
	                    "Connection: close\r\n\r\n",
	                    status, http_status_text(status), type,
	                    evbuffer_get_length(body), fields ? fields : "");
	if (!c->head_only)
		evbuffer_add_buffer(out, body);
	evbuffer_free(body);
	c->answered = true;
	/* Nothing more is read; the write callback closes. */
	bufferevent_disable(c->bev, EV_READ);
	if (bufferevent_enable(c->bev, EV_WRITE) < 0)
		admin_conn_free(c);
}

/* A plain text answer. */
static void admin_text(struct admin_conn *c, int status, const char *fields,
                       const char *text)
{
	struct evbuffer *body = evbuffer_new();

	if (body == NULL || evbuffer_add_printf(body, "%s\n", text) < 0) {
		if (body != NULL)
			evbuffer_free(body);
		admin_conn_free(c);
		return;
	}
	admin_respond(c, status, "text/plain; charset=utf-8", fields, body);
}

/* /status.json: ask the workers what connections they hold, and answer
 * once they all said (or after ADMIN_WAIT_MS, with what there is). */
static void admin_status(struct admin_conn *c)
{
	struct timeval tv = {0, ADMIN_POLL_MS * 1000};

	c->seq = runtime_describe(c->admin->rt);
	if (metrics_live_ready(c->seq)) {
		admin_status_answer(c);
		return;
	}
	c->wait = evtimer_new(runtime_base(c->admin->rt), admin_wait_cb, c);
	if (c->wait == NULL || evtimer_add(c->wait, &tv) < 0)
		admin_status_answer(c);
}

/* Check again whether the snapshots are there. */
static void admin_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct admin_conn *c = arg;
	struct timeval tv = {0, ADMIN_POLL_MS * 1000};

	c->waited_ms += ADMIN_POLL_MS;
	if (metrics_live_ready(c->seq) || c->waited_ms >= ADMIN_WAIT_MS ||
	    evtimer_add(c->wait, &tv) < 0)
		admin_status_answer(c);
}

/* Answer /status.json. */
static void admin_status_answer(struct admin_conn *c)
{
	struct evbuffer *body = evbuffer_new();

	if (c->wait != NULL) {
		event_free(c->wait);
		c->wait = NULL;
	}
	if (body == NULL || admin_report_status(c->admin->rt, body) < 0) {
		if (body != NULL)
			evbuffer_free(body);
		admin_text(c, 500, NULL, "out of memory");
		return;
	}
	admin_respond(c, 200, "application/json", NULL, body);
}

/* --- helpers ------------------------------------------------------------- */

/* True when host (lower case, no port; "" when none was sent) names this
 * machine: an IP address, localhost or a name under it, or the host
 * name. */
static bool admin_host_ok(const struct admin *a, const char *host)
{
	struct in_addr in;
	size_t len = strlen(host);

	if (len == 0 || host[0] == '[' || inet_pton(AF_INET, host, &in) == 1)
		return true;
	if (strcmp(host, "localhost") == 0 ||
	    (len > 10 && strcmp(host + len - 10, ".localhost") == 0))
		return true;
	return a->hostname[0] != '\0' && strcmp(host, a->hostname) == 0;
}

/* Close a connection and free it. */
/* An info line about a client, within the budget of lines per second
 * that clients can cause. */
static void admin_log_throttled(struct admin *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vthrottled(&a->throttle, "admin", NULL, LOG_LEVEL_INFO, fmt, ap);
	va_end(ap);
}

static void admin_conn_free(struct admin_conn *c)
{
	if (c->wait != NULL)
		event_free(c->wait);
	bufferevent_free(c->bev);
	LIST_REMOVE(c, entry);
	if (c->remote)
		c->admin->nremote--;
	else
		c->admin->nconns--;
	free(c);
}
