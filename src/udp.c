/* SPDX-License-Identifier: MIT */
/*
 * UDP forwarding.
 *
 * Each bind address becomes one socket (two for `*:PORT` and localhost),
 * read in batches with recvmmsg. A datagram from a client address without
 * a flow passes deny and allow and the connection limits, then gets one: a
 * socket connected to the backend, so that whatever the backend sends on it
 * belongs to that client and goes back out through the socket the client
 * wrote to. Flows are found by client address in a hash table and kept in
 * least recently used order, which is also the order in which they go idle:
 * one timer per listener expires them from the head, and the head is what a
 * full table evicts.
 *
 * A localhost backend may listen on [::1] or on 127.0.0.1. UDP has no
 * handshake to tell which, so a flow sends to the family that answered
 * last, and an ICMP port unreachable (ECONNREFUSED on its connected socket)
 * before any answer means "not this family": the flow moves to the other
 * one and sends its first datagram again there, once.
 *
 * The listener owns its buffers: slots large enough for any datagram
 * (65507 bytes over IPv4, 65527 over IPv6), UDP_BATCH for the clients'
 * datagrams and UDP_BATCH for the answers. The kernel writes datagrams into
 * them and sendmmsg reads them from there: nothing is copied or allocated
 * per datagram. A client's datagrams read in one batch leave for the
 * backend in one sendmmsg; the answers of every flow that is ready are
 * gathered and leave together once the loop has seen them all. A run of
 * datagrams of one length to one destination goes as a single GSO send
 * (UDP_SEGMENT), which the kernel cuts back into the same datagrams: the
 * network stack is crossed once per run instead of once per datagram.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "portier/udp.h"
#include "portier/accesslog.h"
#include "portier/addr.h"
#include "portier/config.h"
#include "portier/log.h"
#include "portier/metrics.h"
#include "portier/portdiag.h"
#include "portier/proxyproto.h"
#include "portier/runtime.h"
#include "portier/upstream.h"

#define UDP_BATCH        32        /* datagrams per recvmmsg/sendmmsg */
#define UDP_ROUNDS       8         /* batches per readiness, for fairness */
#define UDP_SLOT         65536     /* bytes per datagram buffer */
#define UDP_SOCKBUF      (4 << 20) /* bound sockets: absorb bursts */
#define UDP_FLOW_SOCKBUF (1 << 20) /* flow sockets' receive buffer */
#define UDP_TABLE_MIN    64        /* hash buckets at first */
#define UDP_PP_MAX       52        /* PROXY v2 header over IPv6 */
#define UDP_GSO_SEGS     64        /* datagrams per GSO send, at most */
#define UDP_GSO_BYTES    65000     /* bytes per GSO send, at most */

/* A client's or a bound socket's address. */
union udp_sockaddr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

/* The address a client's datagram was sent to, for answers from the same
 * address on a wildcard socket. */
union udp_local {
	struct in_pktinfo v4;
	struct in6_pktinfo v6;
};

/* Room for the control message read with a datagram (pktinfo). */
union udp_cmsg {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

/* Room for the control messages sent with one: pktinfo, GSO size. */
union udp_out_cmsg {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo)) +
	         CMSG_SPACE(sizeof(uint16_t))];
	struct cmsghdr align;
};

/* Datagrams laid out for one sendmmsg, in either direction. */
struct udp_out {
	struct mmsghdr msgs[UDP_BATCH];
	int first[UDP_BATCH]; /* the first datagram each message carries */
	int segs[UDP_BATCH];  /* how many: more than 1 is a GSO send */
	struct iovec iov[2 * UDP_BATCH];
	union udp_out_cmsg control[UDP_BATCH];
};

/* One bound socket of a listener. */
struct udp_sock {
	struct udp_listener *u;
	struct event *ev;         /* reads the clients' datagrams */
	int fd;                   /* -1 once closed */
	bool wildcard;            /* 0.0.0.0 or [::]: answers name a source */
	union udp_sockaddr local; /* the bound address */
};

/* One client address and its socket to the backend. */
struct udp_flow {
	struct udp_flow *next;     /* hash chain */
	TAILQ_ENTRY(udp_flow) lru; /* least recently used first */
	struct udp_sock *via;      /* the socket the client writes to */
	struct event *ev;          /* reads the backend's answers */
	uint8_t *first;            /* localhost: first datagram, kept until
	                              the backend answers */
	uint64_t last_ms;          /* last datagram either way */
	uint64_t from_client;      /* datagrams forwarded each way */
	uint64_t from_backend;
	uint64_t bytes_in; /* ... and their bytes */
	uint64_t bytes_out;
	uint64_t created_ms; /* udp_now_ms() when it began */
	uint32_t hash;
	int fd;                  /* connected to the backend */
	uint16_t first_len;      /* length of `first` */
	uint8_t family;          /* of fd */
	uint8_t answered : 1;    /* the backend sent something */
	uint8_t has_first : 1;   /* `first` holds a datagram */
	uint8_t has_local : 1;   /* `local` is known */
	uint8_t no_gso : 1;      /* the path to the backend refused GSO */
	uint8_t pp_len;          /* PROXY header length, 0 = none */
	union udp_sockaddr peer; /* the client */
	union udp_local local;   /* wildcard sockets: where the client sent */
	uint8_t pp[];            /* PROXY v2 header sent before each datagram */
};

/* Batch buffers: the clients' datagrams as read and as sent on to the
 * backend; the backend's answers, gathered from every flow that has some
 * and sent to their clients together. */
struct udp_batch {
	struct mmsghdr in[UDP_BATCH];
	struct iovec iov_in[UDP_BATCH];
	union udp_sockaddr from[UDP_BATCH];
	union udp_cmsg cin[UDP_BATCH];
	struct mmsghdr ans[UDP_BATCH];
	struct iovec iov_ans[UDP_BATCH];
	union udp_sockaddr to[UDP_BATCH];
	union udp_cmsg cans[UDP_BATCH];
	struct udp_sock *ans_via; /* the socket the answers leave through */
	int nans;                 /* answers waiting in ans[] */
	struct udp_out out;       /* what is being sent, either way */
	uint8_t *data;            /* 2 * UDP_BATCH slots of UDP_SLOT bytes */
};

/* A [listener] section of mode udp, in one worker. */
struct udp_listener {
	struct runtime *rt;
	struct runtime_gen *gen; /* reference held: cfg lives in it */
	const struct config_listener *cfg;
	struct upstream upstream;
	struct metrics_listener *metrics; /* this worker's counters */
	struct metrics_backend *backend_metrics;
	struct udp_sock *socks; /* never moved: flows point into it */
	size_t nsocks;
	struct udp_flow **table; /* hash buckets, a power of two of them */
	size_t tablesize;
	size_t nflows;
	TAILQ_HEAD(udp_lru, udp_flow) lru;
	struct event *expire; /* idle timeout of the head of lru */
	struct event *flush;  /* sends the gathered answers */
	uint64_t seed; /* of the hash, so clients cannot aim at a chain */
	struct udp_batch *batch;
	LIST_ENTRY(udp_listener) active; /* in udp_active once it had flows */
	bool in_active;
	bool closed;
	bool no_gso; /* a client's path refused GSO: answers one by one */
	unsigned long long evicted; /* flows evicted for a new one */
	unsigned long long refused; /* ICMP port unreachable from the backend */
	struct log_throttle throttle; /* of refusals, evictions, errors */
};

/* What udp_sendmmsg returns. */
enum udp_sent {
	UDP_SENT,         /* every message sent, or dropped */
	UDP_SENT_REFUSED, /* stopped at a refusal (ECONNREFUSED) */
	UDP_SENT_NO_GSO,  /* stopped at a GSO message the path refused */
};

/* Listeners whose flows live in this thread, for udp_close_all. */
static _Thread_local LIST_HEAD(, udp_listener)
    udp_active = LIST_HEAD_INITIALIZER(udp_active);
/* Flows of every worker. */
static atomic_size_t udp_flows_live;

static int udp_bind_addr(struct udp_listener *u, const struct addr *a,
                         char *err, size_t errlen);
static int udp_bind_one(struct udp_listener *u, const struct addr *a,
                        bool optional, char *err, size_t errlen);
static void udp_close_socks(struct udp_listener *u);
static void udp_close_flows(struct udp_listener *u);
static void udp_client_cb(evutil_socket_t fd, short what, void *arg);
static void udp_backend_cb(evutil_socket_t fd, short what, void *arg);
static void udp_expire_cb(evutil_socket_t fd, short what, void *arg);
static void udp_flush_cb(evutil_socket_t fd, short what, void *arg);
static int udp_recv(struct udp_listener *u, int fd, bool control);
static void udp_from_clients(struct udp_listener *u, struct udp_sock *s, int n);
static void udp_to_backend(struct udp_listener *u, struct udp_flow *f,
                           int start, int count, uint64_t now);
static int udp_recv_answers(struct udp_listener *u, struct udp_flow *f);
static void udp_flush(struct udp_listener *u);
static int udp_lay_out_answers(struct udp_batch *b, int from, bool gso);
static enum udp_sent udp_sendmmsg(struct udp_listener *u, int fd, int n,
                                  int *done, const char *to);
static size_t udp_pktinfo(const struct udp_flow *f, union udp_cmsg *out);
static void udp_flow_touch(struct udp_listener *u, struct udp_flow *f,
                           uint64_t now);
static struct udp_flow *udp_flow_new(struct udp_listener *u, struct udp_sock *s,
                                     int i, uint32_t hash, uint64_t now);
static void udp_flow_close(struct udp_listener *u, struct udp_flow *f,
                           const char *why);
static void udp_flow_refused(struct udp_listener *u, struct udp_flow *f);
static struct udp_flow *udp_flow_find(struct udp_listener *u,
                                      const struct udp_sock *s,
                                      const union udp_sockaddr *a,
                                      uint32_t *hash);
static void udp_expire_arm(struct udp_listener *u, uint64_t now);
static void udp_flow_log(const struct udp_listener *u, const struct udp_flow *f,
                         enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void udp_log_throttled(struct udp_listener *u, enum log_level level,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static uint64_t udp_now_ms(void);
static uint32_t udp_hash(const struct udp_listener *u, const struct udp_sock *s,
                         const union udp_sockaddr *a);
static void udp_table_grow(struct udp_listener *u);
static void udp_table_insert(struct udp_listener *u, struct udp_flow *f,
                             uint64_t now);
static void udp_table_remove(struct udp_listener *u, struct udp_flow *f);

struct udp_listener *udp_listener_new(struct runtime *rt,
                                      const struct config_listener *cfg,
                                      char *err, size_t errlen)
{
	struct udp_listener *u;

	u = calloc(1, sizeof(*u));
	if (u == NULL)
		goto nomem;
	u->rt = rt;
	u->gen = runtime_gen_ref(runtime_building(rt));
	u->cfg = cfg;
	upstream_init(&u->upstream, &cfg->backend);
	TAILQ_INIT(&u->lru);
	u->metrics = metrics_listener_get(cfg->name, runtime_index(rt));
	u->backend_metrics =
	    metrics_backend_get(u->upstream.name, runtime_index(rt));
	if (u->metrics == NULL || u->backend_metrics == NULL)
		goto nomem;
	if (getrandom(&u->seed, sizeof(u->seed), GRND_NONBLOCK) !=
	    (ssize_t)sizeof(u->seed))
		u->seed = (uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)u;
	/* Two sockets at most per address (`*` and localhost). */
	u->socks = calloc(cfg->nbinds * 2, sizeof(*u->socks));
	u->tablesize = UDP_TABLE_MIN;
	u->table = calloc(u->tablesize, sizeof(*u->table));
	u->batch = calloc(1, sizeof(*u->batch));
	u->expire = evtimer_new(runtime_base(rt), udp_expire_cb, u);
	u->flush = event_new(runtime_base(rt), -1, 0, udp_flush_cb, u);
	if (u->socks == NULL || u->table == NULL || u->batch == NULL ||
	    u->expire == NULL || u->flush == NULL)
		goto nomem;
	/* Pages are only touched as datagrams that long arrive. */
	u->batch->data = malloc((size_t)2 * UDP_BATCH * UDP_SLOT);
	if (u->batch->data == NULL)
		goto nomem;
	for (int i = 0; i < UDP_BATCH; i++) {
		u->batch->iov_in[i].iov_base = u->batch->data + i * UDP_SLOT;
		u->batch->iov_in[i].iov_len = UDP_SLOT;
		u->batch->iov_ans[i].iov_base =
		    u->batch->data + (UDP_BATCH + i) * UDP_SLOT;
	}
	for (size_t i = 0; i < cfg->nbinds; i++) {
		if (udp_bind_addr(u, &cfg->binds[i], err, errlen) < 0)
			goto err;
	}
	return u;
nomem:
	snprintf(err, errlen, "listener %s: out of memory", cfg->name);
err:
	udp_listener_free(u);
	return NULL;
}

void udp_listener_close(struct udp_listener *u)
{
	if (u == NULL || u->closed)
		return;
	u->closed = true;
	if (u->nflows == 0) {
		udp_close_socks(u);
		return;
	}
	/* Answers to the live flows still leave through these sockets. */
	for (size_t i = 0; i < u->nsocks; i++) {
		if (u->socks[i].ev != NULL)
			event_del(u->socks[i].ev);
	}
}

void udp_listener_free(struct udp_listener *u)
{
	if (u == NULL)
		return;
	udp_close_flows(u);
	if (u->in_active) {
		LIST_REMOVE(u, active);
		u->in_active = false;
	}
	if (u->socks != NULL)
		udp_close_socks(u);
	if (u->expire != NULL)
		event_free(u->expire);
	if (u->flush != NULL)
		event_free(u->flush);
	if (u->batch != NULL)
		free(u->batch->data);
	free(u->batch);
	free(u->table);
	free(u->socks);
	runtime_gen_unref(u->gen);
	free(u);
}

void udp_listener_adopt(struct udp_listener *to, struct udp_listener *from)
{
	struct udp_flow *f, *next;

	if (to->rt != from->rt || strcmp(to->cfg->name, from->cfg->name) != 0 ||
	    !addr_equal(&to->cfg->backend, &from->cfg->backend) ||
	    to->cfg->proxy_protocol != from->cfg->proxy_protocol)
		return;
	/* Answers gathered for from's flows leave first, by its sockets. */
	udp_flush(from);
	for (f = TAILQ_FIRST(&from->lru); f != NULL; f = next) {
		struct udp_sock *s = NULL;

		next = TAILQ_NEXT(f, lru);
		for (size_t i = 0; i < to->nsocks && s == NULL; i++) {
			if (to->socks[i].fd >= 0 &&
			    memcmp(&to->socks[i].local, &f->via->local,
			           sizeof(f->via->local)) == 0)
				s = &to->socks[i];
		}
		if (s == NULL)
			continue; /* its address is gone: it ends where it is */
		udp_table_remove(from, f);
		TAILQ_REMOVE(&from->lru, f, lru);
		from->nflows--;
		f->via = s;
		f->hash = udp_hash(to, s, &f->peer);
		udp_table_insert(to, f, udp_now_ms());
	}
}

int udp_listener_start(struct udp_listener *u)
{
	for (size_t i = 0; i < u->nsocks; i++) {
		if (event_add(u->socks[i].ev, NULL) < 0)
			return -1;
	}
	return 0;
}

int udp_listener_find_socket(const struct udp_listener *u,
                             const struct addr *a)
{
	for (size_t i = 0; i < u->nsocks && !u->closed; i++) {
		if (u->socks[i].fd >= 0 &&
		    memcmp(&u->socks[i].local, &a->sa, a->salen) == 0)
			return u->socks[i].fd;
	}
	return -1;
}

const struct config_listener *udp_listener_config(const struct udp_listener *u)
{
	return u->cfg;
}

size_t udp_listener_flows(const struct udp_listener *u)
{
	return u->nflows;
}

size_t udp_flow_count(void)
{
	return atomic_load(&udp_flows_live);
}

size_t udp_describe(struct metrics_conn *out, size_t max, size_t *total)
{
	struct timespec wall;
	int64_t now_ms, mono_ms = (int64_t)udp_now_ms();
	struct udp_listener *u;
	struct udp_flow *f;
	size_t n = 0;

	clock_gettime(CLOCK_REALTIME, &wall);
	now_ms = (int64_t)wall.tv_sec * 1000 + wall.tv_nsec / 1000000;
	for (u = LIST_FIRST(&udp_active); u != NULL; u = LIST_NEXT(u, active)) {
		*total += u->nflows;
		for (f = TAILQ_FIRST(&u->lru); f != NULL && n < max;
		     f = TAILQ_NEXT(f, lru)) {
			struct metrics_conn *c = &out[n];

			memset(c, 0, sizeof(*c));
			addr_format_sa(&f->peer.sa, sizeof(f->peer), c->client,
			               sizeof(c->client));
			snprintf(c->listener, sizeof(c->listener), "%s",
			         u->cfg->name);
			snprintf(c->backend, sizeof(c->backend), "%s",
			         u->upstream.name);
			c->state = "udp";
			c->bytes_in = f->bytes_in;
			c->bytes_out = f->bytes_out;
			c->started_ms =
			    now_ms - (mono_ms - (int64_t)f->created_ms);
			n++;
		}
	}
	return n;
}

void udp_close_all(void)
{
	while (!LIST_EMPTY(&udp_active)) {
		struct udp_listener *u = LIST_FIRST(&udp_active);

		LIST_REMOVE(u, active);
		u->in_active = false;
		if (u->nflows > 0)
			log_debug("listener %s: closing %zu udp flow%s",
			          u->cfg->name, u->nflows,
			          u->nflows == 1 ? "" : "s");
		udp_close_flows(u);
		if (u->closed)
			udp_close_socks(u);
	}
}

/* --- sockets ------------------------------------------------------------ */

/* Bind one configured address: `*` and localhost stand for two sockets. */
static int udp_bind_addr(struct udp_listener *u, const struct addr *a,
                         char *err, size_t errlen)
{
	struct addr one[2];
	bool optional[2];
	int n = addr_bind_sockets(a, one, optional);

	if (n == 0) {
		snprintf(err, errlen, "listener %s: cannot bind a unix socket",
		         u->cfg->name);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		if (udp_bind_one(u, &one[i], optional[i], err, errlen) < 0)
			return -1;
	}
	return 0;
}

/* Ask for `size` bytes of receive and send buffer: beyond rmem_max and
 * wmem_max when the process may (CAP_NET_ADMIN), else as much as they
 * allow. A burst that outruns the loop then waits in the kernel instead of
 * being dropped. */
static void udp_sockbufs(int fd, int size)
{
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size,
		                 sizeof(size));
	if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size,
		                 sizeof(size));
}

/* True for 0.0.0.0 and [::]. */
static bool udp_is_wildcard(const struct addr *a)
{
	if (a->sa.sa.sa_family == AF_INET)
		return a->sa.sin.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&a->sa.sin6.sin6_addr);
}

/* Create and bind one socket and start reading it; `optional` tolerates a
 * missing IPv6 stack. */
static int udp_bind_one(struct udp_listener *u, const struct addr *a,
                        bool optional, char *err, size_t errlen)
{
	struct udp_sock *s = &u->socks[u->nsocks];
	char name[ADDR_STRLEN], why[512];
	int family = a->sa.sa.sa_family;
	int one = 1;
	int fd, e;
	bool kept;

	addr_format(a, name, sizeof(name));
	/* A reload keeps the socket of an address that stays. */
	fd = runtime_inherit_socket(u->rt, a, SOCK_DGRAM);
	if (fd >= 0)
		goto bound;
	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	/* No SO_REUSEADDR: on UDP it would let two sockets share the port
	 * silently instead of reporting that it is in use. */
	if (family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
		                 sizeof(one));
	/* Several workers each bind the address; the kernel hashes each
	 * client address to one of them, so a client's flow stays in one
	 * worker. */
	if (runtime_workers(u->rt) > 1)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one,
		                 sizeof(one));
	if (bind(fd, &a->sa.sa, a->salen) < 0)
		goto fail;
	/* Another process of this user may have joined the address with
	 * SO_REUSEPORT: it would take a share of the clients. */
	if (runtime_workers(u->rt) > 1 &&
	    portdiag_shared_with_other("/proc", &a->sa.sa, a->salen,
	                               IPPROTO_UDP, why, sizeof(why))) {
		close(fd);
		snprintf(err, errlen, "cannot bind %s (listener %s): %s", name,
		         u->cfg->name, why);
		errno = EADDRINUSE;
		return -1;
	}
	udp_sockbufs(fd, UDP_SOCKBUF);
	if (udp_is_wildcard(a) && family == AF_INET)
		(void)setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	else if (udp_is_wildcard(a))
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
		                 sizeof(one));
bound:
	s->wildcard = udp_is_wildcard(a);
	s->u = u;
	s->fd = fd;
	memcpy(&s->local, &a->sa, a->salen);
	/* Reading starts with udp_listener_start, in the worker's thread. */
	s->ev = event_new(runtime_base(u->rt), fd, EV_READ | EV_PERSIST,
	                  udp_client_cb, s);
	if (s->ev == NULL) {
		memset(s, 0, sizeof(*s));
		close(fd);
		snprintf(err, errlen, "listener %s: cannot watch %s",
		         u->cfg->name, name);
		return -1;
	}
	u->nsocks++;
	/* Every worker binds the same addresses; one line says so, and
	 * whether a reload keeps the address or begins it. */
	kept = runtime_listened(u->rt, u->cfg->name, a, SOCK_DGRAM);
	runtime_announce(u->rt, "listener %s: %slistening on %s (udp -> %s)",
	                 u->cfg->name, kept ? "still " : "", name,
	                 u->upstream.name);
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	if (optional && (e == EAFNOSUPPORT || e == EADDRNOTAVAIL)) {
		log_warn("listener %s: skipping %s: %s", u->cfg->name, name,
		         strerror(e));
		return 0;
	}
	portdiag_explain_bind("/proc", e, &a->sa.sa, a->salen, IPPROTO_UDP, why,
	                      sizeof(why));
	snprintf(err, errlen, "cannot bind %s (listener %s): %s", name,
	         u->cfg->name, why);
	return -1;
}

/* Close the bound sockets (their slots stay: flows point at them). */
static void udp_close_socks(struct udp_listener *u)
{
	for (size_t i = 0; i < u->nsocks; i++) {
		struct udp_sock *s = &u->socks[i];

		if (s->ev != NULL)
			event_free(s->ev);
		s->ev = NULL;
		if (s->fd >= 0)
			close(s->fd);
		s->fd = -1;
	}
}

/* Open a socket connected to one backend address; -1 with errno. */
static int udp_backend_socket(const struct upstream_target *t)
{
	int size = UDP_FLOW_SOCKBUF;
	int fd, e;

	fd = socket(t->u.sa.sa_family,
	            SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (connect(fd, &t->u.sa, t->len) == 0)
		return fd;
	e = errno;
	close(fd);
	errno = e;
	return -1;
}

/* Open a flow's socket to the backend, the family that answered last
 * first; sets *family. -1 with errno. */
static int udp_backend_open(struct udp_listener *u, int *family)
{
	struct upstream_target t[2];
	int n = upstream_targets(&u->upstream,
	                         upstream_prefers_v4(&u->upstream), t);
	int e = EINVAL;

	for (int i = 0; i < n; i++) {
		int fd = udp_backend_socket(&t[i]);

		if (fd >= 0) {
			*family = t[i].u.sa.sa_family;
			return fd;
		}
		e = errno;
		if (!upstream_retryable(e))
			break;
	}
	errno = e;
	return -1;
}

/* --- datagrams ----------------------------------------------------------- */

/* Up to UDP_ROUNDS batches of the clients' datagrams, then let the other
 * sockets have their turn. */
static void udp_client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *s = arg;
	struct udp_listener *u = s->u;

	for (int round = 0; round < UDP_ROUNDS; round++) {
		int n = udp_recv(u, s->fd, s->wildcard);

		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				udp_log_throttled(u, LOG_LEVEL_WARN,
				                  "listener %s: cannot read a "
				                  "datagram: %s",
				                  u->cfg->name,
				                  strerror(errno));
			return;
		}
		udp_from_clients(u, s, n);
		if (n < UDP_BATCH)
			return;
	}
}

/* The backend answered flow f: gather its answers for the clients; they
 * leave once every flow that is ready has had its turn. */
static void udp_backend_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udp_flow *f = arg;
	struct udp_listener *u = f->via->u;

	for (int round = 0; round < UDP_ROUNDS; round++) {
		int room = UDP_BATCH - u->batch->nans;
		int n = udp_recv_answers(u, f);

		if (n < 0 && errno == ECONNREFUSED) {
			udp_flow_refused(u, f);
			continue;
		}
		if (n < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				udp_flow_log(u, f, LOG_LEVEL_WARN,
				             "cannot read from the backend: %s",
				             strerror(errno));
			return;
		}
		if (!f->answered) {
			f->answered = 1;
			metrics_backend_result(u->backend_metrics, 0);
			upstream_answered(&u->upstream, f->family);
			free(f->first);
			f->first = NULL;
			f->has_first = 0;
		}
		f->from_backend += (unsigned)n;
		udp_flow_touch(u, f, udp_now_ms());
		if (n < room)
			return;
	}
}

/* Read f's answers into the free slots of b->ans, addressed to f's client
 * (and from the address it wrote to, on a wildcard socket). Returns how
 * many, or -1 with errno. */
static int udp_recv_answers(struct udp_listener *u, struct udp_flow *f)
{
	struct udp_batch *b = u->batch;
	socklen_t namelen = f->peer.sa.sa_family == AF_INET
	                        ? sizeof(struct sockaddr_in)
	                        : sizeof(struct sockaddr_in6);
	size_t controllen = 0;
	uint64_t bytes = 0;
	int first, n;

	if (b->nans > 0 && b->ans_via != f->via)
		udp_flush(u);
	if (b->nans == UDP_BATCH)
		udp_flush(u);
	first = b->nans;
	for (int i = first; i < UDP_BATCH; i++) {
		struct msghdr *h = &b->ans[i].msg_hdr;

		memset(h, 0, sizeof(*h));
		b->iov_ans[i].iov_len = UDP_SLOT;
		h->msg_iov = &b->iov_ans[i];
		h->msg_iovlen = 1;
	}
	do
		n = recvmmsg(f->fd, b->ans + first,
		             (unsigned)(UDP_BATCH - first), MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	if (n <= 0)
		return n;
	if (f->has_local)
		controllen = udp_pktinfo(f, &b->cans[first]);
	for (int i = first; i < first + n; i++) {
		struct msghdr *h = &b->ans[i].msg_hdr;

		b->iov_ans[i].iov_len = b->ans[i].msg_len;
		bytes += b->ans[i].msg_len;
		/* Copies: the flow may end before the answers leave. */
		b->to[i] = f->peer;
		h->msg_name = &b->to[i];
		h->msg_namelen = namelen;
		if (controllen && i > first)
			b->cans[i] = b->cans[first];
		h->msg_control = controllen ? b->cans[i].buf : NULL;
		h->msg_controllen = controllen;
	}
	f->bytes_out += bytes;
	metrics_add(&u->metrics->bytes_out, bytes);
	b->nans += n;
	b->ans_via = f->via;
	if (b->nans == UDP_BATCH)
		udp_flush(u);
	else
		event_active(u->flush, EV_WRITE, 0);
	return n;
}

/* Send the gathered answers, runs of one client's answers of one length
 * as GSO sends. */
static void udp_flush(struct udp_listener *u)
{
	struct udp_batch *b = u->batch;
	int i = 0;

	while (i < b->nans && b->ans_via->fd >= 0) {
		int n = udp_lay_out_answers(b, i, !u->no_gso);
		int done = 0;

		if (udp_sendmmsg(u, b->ans_via->fd, n, &done, NULL) !=
		    UDP_SENT_NO_GSO)
			break;
		log_debug("listener %s: a client's path refuses GSO (%s); "
		          "answers go one by one",
		          u->cfg->name, strerror(errno));
		u->no_gso = true;
		i = b->out.first[done];
	}
	b->nans = 0;
}

/* The loop got round to the answers gathered in this pass. */
static void udp_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	udp_flush(arg);
}

/* recvmmsg the clients' datagrams into the batch buffers, with their
 * senders and, when `control`, their destination (pktinfo). */
static int udp_recv(struct udp_listener *u, int fd, bool control)
{
	struct udp_batch *b = u->batch;
	int n;

	for (int i = 0; i < UDP_BATCH; i++) {
		struct msghdr *h = &b->in[i].msg_hdr;

		h->msg_iov = &b->iov_in[i];
		h->msg_iovlen = 1;
		h->msg_name = &b->from[i];
		h->msg_namelen = sizeof(b->from[i]);
		h->msg_control = control ? b->cin[i].buf : NULL;
		h->msg_controllen = control ? sizeof(b->cin[i].buf) : 0;
		h->msg_flags = 0;
	}
	do
		n = recvmmsg(fd, b->in, UDP_BATCH, MSG_DONTWAIT, NULL);
	while (n < 0 && errno == EINTR);
	return n;
}

/* True when flow f is the one of client `a` on socket s. */
static bool udp_flow_is(const struct udp_flow *f, const struct udp_sock *s,
                        const union udp_sockaddr *a)
{
	if (f->via != s)
		return false;
	if (a->sa.sa_family == AF_INET)
		return f->peer.sin.sin_port == a->sin.sin_port &&
		       f->peer.sin.sin_addr.s_addr == a->sin.sin_addr.s_addr;
	return f->peer.sin6.sin6_port == a->sin6.sin6_port &&
	       f->peer.sin6.sin6_scope_id == a->sin6.sin6_scope_id &&
	       memcmp(&f->peer.sin6.sin6_addr, &a->sin6.sin6_addr, 16) == 0;
}

/* Hand the n datagrams of the batch to their flows, creating flows for new
 * clients; runs of one client's datagrams leave in one sendmmsg. */
static void udp_from_clients(struct udp_listener *u, struct udp_sock *s, int n)
{
	struct udp_batch *b = u->batch;
	struct udp_flow *cur = NULL;
	uint64_t now = udp_now_ms();
	int start = 0, count = 0;

	for (int i = 0; i < n; i++) {
		const union udp_sockaddr *from = &b->from[i];
		struct udp_flow *f;
		uint32_t hash = 0;

		if (cur != NULL && udp_flow_is(cur, s, from)) {
			count++;
			continue;
		}
		/* Flush the run before a new flow may evict its flow. */
		if (count > 0)
			udp_to_backend(u, cur, start, count, now);
		cur = NULL;
		count = 0;
		if (from->sa.sa_family != s->local.sa.sa_family)
			continue;
		f = udp_flow_find(u, s, from, &hash);
		if (f == NULL)
			f = udp_flow_new(u, s, i, hash, now);
		if (f == NULL)
			continue;
		cur = f;
		start = i;
		count = 1;
	}
	if (count > 0)
		udp_to_backend(u, cur, start, count, now);
}

/* Mark f used now: it moves to the end of the idle order. */
static void udp_flow_touch(struct udp_listener *u, struct udp_flow *f,
                           uint64_t now)
{
	f->last_ms = now;
	if (TAILQ_NEXT(f, lru) != NULL) {
		TAILQ_REMOVE(&u->lru, f, lru);
		TAILQ_INSERT_TAIL(&u->lru, f, lru);
	}
}

/* sendmmsg the n messages on fd. A full socket buffer drops the rest
 * (UDP's answer to overload); a datagram the kernel refuses for itself
 * (too long...) is skipped. `to` names the destination in logs; NULL for
 * the clients named in the messages. Stops early, the messages from *done
 * on not sent yet, when the socket reports a refusal of an earlier
 * datagram or refuses a GSO send. */
static enum udp_sent udp_sendmmsg(struct udp_listener *u, int fd, int n,
                                  int *done, const char *to)
{
	struct mmsghdr *msgs = u->batch->out.msgs;
	char name[ADDR_STRLEN];

	while (*done < n) {
		int r = sendmmsg(fd, msgs + *done, (unsigned)(n - *done), 0);
		int e = errno;

		if (r > 0) {
			*done += r;
			continue;
		}
		if (r < 0 && e == EINTR)
			continue;
		if (r < 0 && e == ECONNREFUSED)
			return UDP_SENT_REFUSED;
		/* Too long a segment for the path's MTU, IPsec...: the
		 * datagrams go one by one instead. */
		if (r < 0 && u->batch->out.segs[*done] > 1 &&
		    (e == EINVAL || e == EIO || e == EMSGSIZE || e == ENOTSUP ||
		     e == ENOPROTOOPT))
			return UDP_SENT_NO_GSO;
		/* Named for the log only now, off the common path. */
		if (to == NULL) {
			const struct msghdr *h = &msgs[*done].msg_hdr;

			addr_format_sa(h->msg_name, h->msg_namelen, name,
			               sizeof(name));
		}
		if (r < 0 &&
		    (e == EAGAIN || e == EWOULDBLOCK || e == ENOBUFS)) {
			udp_log_throttled(
			    u, LOG_LEVEL_WARN,
			    "listener %s: %d datagram%s to %s%s "
			    "dropped: %s",
			    u->cfg->name, n - *done, n - *done == 1 ? "" : "s",
			    to ? to : name,
			    to || n - *done == 1 ? "" : " and others",
			    strerror(e));
			*done = n;
			break;
		}
		udp_log_throttled(u, LOG_LEVEL_WARN,
		                  "listener %s: a datagram to %s dropped: %s",
		                  u->cfg->name, to ? to : name,
		                  strerror(r < 0 ? e : EIO));
		(*done)++;
	}
	return UDP_SENT;
}

/* Write the control messages of message m of the outbox: `pktinfo` (len
 * bytes, 0 for none) and, for a run of segs datagrams, their size. */
static void udp_out_control(struct udp_out *o, int m, const void *pktinfo,
                            size_t len, int segs, size_t size)
{
	struct msghdr *h = &o->msgs[m].msg_hdr;
	uint16_t gso = (uint16_t)size;
	struct cmsghdr *c;

	o->segs[m] = segs;
	if (len == 0 && segs == 1)
		return;
	memset(&o->control[m], 0, sizeof(o->control[m]));
	if (len > 0)
		memcpy(o->control[m].buf, pktinfo, len);
	if (segs > 1) {
		c = (struct cmsghdr *)(o->control[m].buf + len);
		c->cmsg_level = SOL_UDP;
		c->cmsg_type = UDP_SEGMENT;
		c->cmsg_len = CMSG_LEN(sizeof(gso));
		memcpy(CMSG_DATA(c), &gso, sizeof(gso));
		len += CMSG_SPACE(sizeof(gso));
	}
	h->msg_control = o->control[m].buf;
	h->msg_controllen = len;
}

/* True when one more datagram of `len` bytes fits in a GSO send of segs
 * datagrams of that length. */
static bool udp_gso_fits(int segs, size_t len)
{
	return len > 0 && segs < UDP_GSO_SEGS &&
	       (size_t)(segs + 1) * len <= UDP_GSO_BYTES;
}

/* Lay out datagrams [from, to) of b->in for f's backend as messages of the
 * outbox, each behind f's PROXY header if any. With gso, a run of
 * datagrams of one length goes as one message that the kernel cuts into
 * datagrams (UDP_SEGMENT): the stack is crossed once for the run. Returns
 * the number of messages. */
static int udp_lay_out(struct udp_batch *b, const struct udp_flow *f, int from,
                       int to, bool gso)
{
	struct udp_out *o = &b->out;
	int m = 0, v = 0;

	for (int i = from; i < to; m++) {
		struct msghdr *h = &o->msgs[m].msg_hdr;
		size_t len = f->pp_len + b->in[i].msg_len;
		int segs = 0;

		memset(h, 0, sizeof(*h));
		h->msg_iov = &o->iov[v];
		o->first[m] = i;
		do {
			if (f->pp_len > 0) {
				o->iov[v].iov_base = (void *)f->pp;
				o->iov[v++].iov_len = f->pp_len;
			}
			o->iov[v] = b->iov_in[i];
			o->iov[v++].iov_len = b->in[i].msg_len;
			i++;
			segs++;
		} while (gso && i < to && udp_gso_fits(segs, len) &&
		         f->pp_len + b->in[i].msg_len == len);
		h->msg_iovlen = (size_t)(&o->iov[v] - h->msg_iov);
		udp_out_control(o, m, NULL, 0, segs, len);
	}
	return m;
}

/* Lay out the gathered answers from number `from` on as messages of the
 * outbox; with gso, a run of one client's answers of one length goes as
 * one message. Returns the number of messages. */
static int udp_lay_out_answers(struct udp_batch *b, int from, bool gso)
{
	struct udp_out *o = &b->out;
	int m = 0, v = 0;

	for (int i = from; i < b->nans; m++) {
		const struct msghdr *a = &b->ans[i].msg_hdr;
		struct msghdr *h = &o->msgs[m].msg_hdr;
		size_t len = b->iov_ans[i].iov_len;
		int segs = 0;

		memset(h, 0, sizeof(*h));
		h->msg_name = a->msg_name;
		h->msg_namelen = a->msg_namelen;
		h->msg_iov = &o->iov[v];
		o->first[m] = i;
		do {
			o->iov[v++] = b->iov_ans[i++];
			segs++;
		} while (gso && i < b->nans && udp_gso_fits(segs, len) &&
		         b->iov_ans[i].iov_len == len &&
		         b->ans[i].msg_hdr.msg_namelen == a->msg_namelen &&
		         memcmp(&b->to[i], a->msg_name, a->msg_namelen) == 0);
		h->msg_iovlen = (size_t)segs;
		udp_out_control(o, m, a->msg_control, a->msg_controllen, segs,
		                len);
	}
	return m;
}

/* Send count datagrams from b->in[start...] to f's backend. */
static void udp_to_backend(struct udp_listener *u, struct udp_flow *f,
                           int start, int count, uint64_t now)
{
	struct udp_batch *b = u->batch;
	int i = start, end = start + count, refusals = 0;
	uint64_t bytes = 0;

	for (int k = start; k < end; k++)
		bytes += b->in[k].msg_len;
	f->bytes_in += bytes;
	metrics_add(&u->metrics->bytes_in, bytes);
	f->from_client += (unsigned)count;
	udp_flow_touch(u, f, now);
	while (i < end) {
		int n = udp_lay_out(b, f, i, end, !f->no_gso);
		int done = 0;

		switch (udp_sendmmsg(u, f->fd, n, &done, u->upstream.name)) {
		case UDP_SENT:
			return;
		case UDP_SENT_REFUSED:
			/* For an earlier datagram: handle it and send these
			 * anyway (on the other family, for localhost). */
			if (refusals++ == 2)
				return;
			udp_flow_refused(u, f);
			break;
		case UDP_SENT_NO_GSO:
			udp_flow_log(u, f, LOG_LEVEL_DEBUG,
			             "the path to the backend refuses GSO "
			             "(%s); sending datagrams one by one",
			             strerror(errno));
			f->no_gso = 1;
			break;
		}
		i = b->out.first[done];
	}
}

/* Write the pktinfo control message that makes an answer to f's client
 * leave from the address the client wrote to; returns its length. */
static size_t udp_pktinfo(const struct udp_flow *f, union udp_cmsg *out)
{
	struct cmsghdr *c = &out->align;

	memset(out, 0, sizeof(*out));
	if (f->peer.sa.sa_family == AF_INET) {
		struct in_pktinfo pi = {0};

		pi.ipi_spec_dst = f->local.v4.ipi_spec_dst;
		c->cmsg_level = IPPROTO_IP;
		c->cmsg_type = IP_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	} else {
		struct in6_pktinfo pi = f->local.v6;

		/* The interface matters for a link-local source only;
		 * elsewhere routing chooses. */
		if (!IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
			pi.ipi6_ifindex = 0;
		c->cmsg_level = IPPROTO_IPV6;
		c->cmsg_type = IPV6_PKTINFO;
		c->cmsg_len = CMSG_LEN(sizeof(pi));
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
}

/* --- flows --------------------------------------------------------------- */

/* A 64-bit mix: multiply by odd constants, fold the high bits down. */
static uint64_t udp_mix(uint64_t x)
{
	x *= 0x9e3779b97f4a7c15u;
	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9u;
	x ^= x >> 29;
	return x;
}

/* Hash of a client address on socket s. */
static uint32_t udp_hash(const struct udp_listener *u, const struct udp_sock *s,
                         const union udp_sockaddr *a)
{
	uint64_t h = u->seed + (uint64_t)(s - u->socks);

	if (a->sa.sa_family == AF_INET) {
		h = udp_mix(h ^ ((uint64_t)a->sin.sin_addr.s_addr << 16 |
		                 a->sin.sin_port));
	} else {
		uint64_t w[2];

		memcpy(w, &a->sin6.sin6_addr, sizeof(w));
		h = udp_mix(h ^ w[0]);
		h = udp_mix(h ^ w[1]);
		h = udp_mix(h ^ ((uint64_t)a->sin6.sin6_scope_id << 16 |
		                 a->sin6.sin6_port));
	}
	return (uint32_t)(h >> 32);
}

/* The flow of client `a` on socket s, or NULL; sets *hash, for a new
 * one. */
static struct udp_flow *udp_flow_find(struct udp_listener *u,
                                      const struct udp_sock *s,
                                      const union udp_sockaddr *a,
                                      uint32_t *hash)
{
	uint32_t h = udp_hash(u, s, a);

	*hash = h;
	for (struct udp_flow *f = u->table[h & (u->tablesize - 1)]; f != NULL;
	     f = f->next) {
		if (f->hash == h && udp_flow_is(f, s, a))
			return f;
	}
	return NULL;
}

/* Double the hash table when flows outnumber buckets; on failure the
 * chains just grow longer. */
static void udp_table_grow(struct udp_listener *u)
{
	size_t size = u->tablesize * 2;
	struct udp_flow **table;

	if (u->nflows <= u->tablesize)
		return;
	table = calloc(size, sizeof(*table));
	if (table == NULL)
		return;
	for (size_t i = 0; i < u->tablesize; i++) {
		struct udp_flow *f = u->table[i], *next;

		for (; f != NULL; f = next) {
			next = f->next;
			f->next = table[f->hash & (size - 1)];
			table[f->hash & (size - 1)] = f;
		}
	}
	free(u->table);
	u->table = table;
	u->tablesize = size;
}

/* Add f (its hash set) to u's table and, as the most recently used, to
 * its LRU list; u's expiry timer runs from then on. */
static void udp_table_insert(struct udp_listener *u, struct udp_flow *f,
                             uint64_t now)
{
	f->next = u->table[f->hash & (u->tablesize - 1)];
	u->table[f->hash & (u->tablesize - 1)] = f;
	TAILQ_INSERT_TAIL(&u->lru, f, lru);
	u->nflows++;
	udp_table_grow(u);
	if (!u->in_active) {
		LIST_INSERT_HEAD(&udp_active, u, active);
		u->in_active = true;
	}
	if (!evtimer_pending(u->expire, NULL))
		udp_expire_arm(u, now);
}

/* Take f out of the hash table. */
static void udp_table_remove(struct udp_listener *u, struct udp_flow *f)
{
	struct udp_flow **p = &u->table[f->hash & (u->tablesize - 1)];

	while (*p != NULL && *p != f)
		p = &(*p)->next;
	if (*p != NULL)
		*p = f->next;
}

/* Find a slot for a new flow: count it against max_connections, evicting
 * this listener's least recently used flows while the limit is reached. */
static bool udp_admit(struct udp_listener *u, const struct sockaddr *sa)
{
	const struct config_global *g = runtime_global(u->rt);
	enum runtime_admit admit = RUNTIME_FULL;
	char client[ADDR_STRLEN], old[ADDR_STRLEN];

	/* Another worker may take the freed slot: a few tries. */
	for (int tries = 0; tries < 4; tries++) {
		struct udp_flow *oldest = TAILQ_FIRST(&u->lru);
		bool global;

		admit = runtime_admit(u->rt, u->gen, u->cfg);
		if (admit == RUNTIME_ADMITTED)
			return true;
		if (oldest == NULL)
			break;
		global = admit == RUNTIME_FULL;
		u->evicted++;
		addr_format_sa(sa, sizeof(union udp_sockaddr), client,
		               sizeof(client));
		addr_format_sa(&oldest->peer.sa, sizeof(oldest->peer), old,
		               sizeof(old));
		udp_log_throttled(
		    u, LOG_LEVEL_WARN,
		    "client=%s listener=%s backend=%s: %s connection limit "
		    "(%u) reached; evicted the least recently used flow "
		    "(client %s, idle %llu ms; %llu evicted so far)",
		    client, u->cfg->name, u->upstream.name,
		    global ? "global" : "listener",
		    global ? g->max_connections : u->cfg->max_connections, old,
		    (unsigned long long)(udp_now_ms() - oldest->last_ms),
		    u->evicted);
		udp_flow_close(u, oldest, "evicted");
	}
	addr_format_sa(sa, sizeof(union udp_sockaddr), client, sizeof(client));
	udp_log_throttled(u, LOG_LEVEL_WARN,
	                  "client=%s listener=%s: %s connection limit (%u) "
	                  "reached; datagram dropped",
	                  client, u->cfg->name,
	                  admit == RUNTIME_FULL ? "global" : "listener",
	                  admit == RUNTIME_FULL ? g->max_connections
	                                        : u->cfg->max_connections);
	return false;
}

/* Where the datagram of h was sent to, from its pktinfo. */
static bool udp_local_of(const struct msghdr *h, union udp_local *out)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c != NULL;
	     c = CMSG_NXTHDR((struct msghdr *)h, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			memcpy(&out->v4, CMSG_DATA(c), sizeof(out->v4));
			return true;
		}
		if (c->cmsg_level == IPPROTO_IPV6 &&
		    c->cmsg_type == IPV6_PKTINFO) {
			memcpy(&out->v6, CMSG_DATA(c), sizeof(out->v6));
			return true;
		}
	}
	return false;
}

/* Build f's PROXY v2 header: the client, and the address it wrote to. */
static void udp_flow_proxy_header(struct udp_flow *f, const struct udp_sock *s)
{
	union udp_sockaddr dst = s->local;
	int n;

	if (f->has_local && dst.sa.sa_family == AF_INET)
		dst.sin.sin_addr = f->local.v4.ipi_addr;
	else if (f->has_local)
		dst.sin6.sin6_addr = f->local.v6.ipi6_addr;
	n = proxyproto_build(2, &f->peer.sa, &dst.sa, f->pp, UDP_PP_MAX);
	if (n < 0)
		return;
	/* The same header as for TCP but for the transport: DGRAM. */
	if (f->pp[13] & 0xf0)
		f->pp[13] = (uint8_t)((f->pp[13] & 0xf0) | 0x02);
	f->pp_len = (uint8_t)n;
}

/* A datagram from a new client: check the lists and the limits, then open
 * the client's flow. NULL when the datagram is to be dropped. */
static struct udp_flow *udp_flow_new(struct udp_listener *u, struct udp_sock *s,
                                     int i, uint32_t hash, uint64_t now)
{
	const struct config_listener *cfg = u->cfg;
	struct udp_batch *b = u->batch;
	const struct sockaddr *sa = &b->from[i].sa;
	bool pp = cfg->proxy_protocol == CONFIG_PROXY_V2;
	char client[ADDR_STRLEN];
	const char *rule = NULL;
	struct udp_flow *f;
	int family = AF_UNSPEC;

	if (cfg->deny.n && cidr_match_any(cfg->deny.blocks, cfg->deny.n, sa))
		rule = "deny";
	else if (cfg->allow.n &&
	         !cidr_match_any(cfg->allow.blocks, cfg->allow.n, sa))
		rule = "allow";
	if (rule != NULL) {
		metrics_add(&u->metrics->refused_acl, 1);
		addr_format_sa(sa, b->in[i].msg_hdr.msg_namelen, client,
		               sizeof(client));
		udp_log_throttled(
		    u, LOG_LEVEL_INFO,
		    "client=%s listener=%s: denied by the %s list", client,
		    cfg->name, rule);
		return NULL;
	}
	if (!udp_admit(u, sa)) {
		metrics_add(&u->metrics->refused_limit, 1);
		return NULL;
	}
	f = calloc(1, sizeof(*f) + (pp ? UDP_PP_MAX : 0));
	if (f == NULL)
		goto fail;
	f->fd = udp_backend_open(u, &family);
	if (f->fd < 0)
		goto fail;
	f->family = (uint8_t)family;
	f->via = s;
	f->peer = b->from[i];
	if (s->wildcard)
		f->has_local = udp_local_of(&b->in[i].msg_hdr, &f->local);
	f->ev = event_new(runtime_base(u->rt), f->fd, EV_READ | EV_PERSIST,
	                  udp_backend_cb, f);
	if (f->ev == NULL || event_add(f->ev, NULL) < 0)
		goto fail;
	if (u->upstream.addr.kind == ADDR_LOCALHOST) {
		size_t len = b->in[i].msg_len;

		f->first = malloc(len ? len : 1);
		if (f->first != NULL) {
			memcpy(f->first, b->iov_in[i].iov_base, len);
			f->first_len = (uint16_t)len;
			f->has_first = 1;
		}
	}
	if (pp)
		udp_flow_proxy_header(f, s);
	f->last_ms = now;
	f->created_ms = now;
	f->hash = hash;
	udp_table_insert(u, f, now);
	metrics_add(&u->metrics->accepted, 1);
	atomic_fetch_add(&udp_flows_live, 1);
	if (log_enabled(LOG_LEVEL_DEBUG)) {
		union udp_sockaddr to;
		socklen_t len = sizeof(to);
		char target[ADDR_STRLEN] = "?";

		if (getpeername(f->fd, &to.sa, &len) == 0)
			addr_format_sa(&to.sa, len, target, sizeof(target));
		udp_flow_log(u, f, LOG_LEVEL_DEBUG, "new flow to %s", target);
	}
	return f;
fail:
	addr_format_sa(sa, b->in[i].msg_hdr.msg_namelen, client,
	               sizeof(client));
	udp_log_throttled(u, LOG_LEVEL_WARN,
	                  "client=%s listener=%s backend=%s: cannot open a "
	                  "flow: %s; datagram dropped",
	                  client, cfg->name, u->upstream.name,
	                  strerror(errno ? errno : ENOMEM));
	if (f != NULL) {
		if (f->ev != NULL)
			event_free(f->ev);
		if (f->fd >= 0)
			close(f->fd);
		free(f->first);
		free(f);
	}
	runtime_session_closed(u->rt, u->gen, cfg);
	return NULL;
}

/* End flow f; `why` is logged at debug level unless NULL. */
static void udp_flow_close(struct udp_listener *u, struct udp_flow *f,
                           const char *why)
{
	if (why != NULL && log_enabled(LOG_LEVEL_DEBUG))
		udp_flow_log(u, f, LOG_LEVEL_DEBUG,
		             "flow closed: %s (%llu datagrams from the client, "
		             "%llu from the backend)",
		             why, (unsigned long long)f->from_client,
		             (unsigned long long)f->from_backend);
	if (accesslog_enabled()) {
		char client[ADDR_STRLEN];
		struct log_conn c = {.client = client,
		                     .listener = u->cfg->name,
		                     .backend = u->upstream.name};
		uint64_t now = udp_now_ms();

		addr_format_sa(&f->peer.sa, sizeof(f->peer), client,
		               sizeof(client));
		accesslog_stream("UDP", &c, f->bytes_in, f->bytes_out,
		                 now > f->created_ms ? now - f->created_ms : 0,
		                 why != NULL ? why : "stopped");
	}
	udp_table_remove(u, f);
	TAILQ_REMOVE(&u->lru, f, lru);
	u->nflows--;
	metrics_add(&u->metrics->closed, 1);
	atomic_fetch_sub(&udp_flows_live, 1);
	event_free(f->ev);
	close(f->fd);
	free(f->first);
	free(f);
	runtime_session_closed(u->rt, u->gen, u->cfg);
}

/* End every flow of u, quietly (the caller logs how many). */
static void udp_close_flows(struct udp_listener *u)
{
	struct udp_flow *f;

	while ((f = TAILQ_FIRST(&u->lru)) != NULL)
		udp_flow_close(u, f, NULL);
}

/* Move a localhost flow to the other address family; 0 on success. The
 * socket keeps its descriptor, so the flow's event stays valid. */
static int udp_flow_switch(struct udp_listener *u, struct udp_flow *f)
{
	int family = f->family == AF_INET6 ? AF_INET : AF_INET6;
	struct upstream_target t = {0};
	char target[ADDR_STRLEN];
	struct addr a;
	int fd;

	addr_inet(&a, family, true, u->upstream.addr.port);
	memcpy(&t.u.ss, &a.sa.ss, a.salen);
	t.len = a.salen;
	addr_format(&a, target, sizeof(target));
	fd = udp_backend_socket(&t);
	if (fd < 0) {
		udp_flow_log(u, f, LOG_LEVEL_DEBUG, "cannot try %s: %s", target,
		             strerror(errno));
		return -1;
	}
	event_del(f->ev);
	if (dup3(fd, f->fd, O_CLOEXEC) < 0) {
		close(fd);
		(void)event_add(f->ev, NULL);
		return -1;
	}
	close(fd);
	f->family = (uint8_t)family;
	if (event_add(f->ev, NULL) < 0)
		udp_flow_log(u, f, LOG_LEVEL_WARN,
		             "cannot watch the backend socket: %s",
		             strerror(errno));
	upstream_answered(&u->upstream, family);
	udp_flow_log(u, f, LOG_LEVEL_DEBUG, "trying %s instead", target);
	return 0;
}

/* The backend refused a datagram of f (ICMP port unreachable). For a
 * localhost backend that has not answered this flow yet, the other family
 * may be the one listening. */
static void udp_flow_refused(struct udp_listener *u, struct udp_flow *f)
{
	u->refused++;
	metrics_backend_result(u->backend_metrics, ECONNREFUSED);
	udp_flow_log(u, f, LOG_LEVEL_DEBUG,
	             "the backend refused a datagram (port unreachable; %llu "
	             "refused so far)",
	             u->refused);
	/* localhost tries the other family first; a refusal that ends
	 * there says the backend is not running, at the default level. */
	if (u->upstream.addr.kind != ADDR_LOCALHOST || f->answered ||
	    udp_flow_switch(u, f) < 0) {
		udp_log_throttled(u, LOG_LEVEL_WARN,
		                  "listener %s: backend %s refused a datagram "
		                  "(port unreachable): is it running?",
		                  u->cfg->name, u->upstream.name);
		return;
	}
	if (f->has_first) {
		(void)send(f->fd, f->first, f->first_len, MSG_DONTWAIT);
		free(f->first);
		f->first = NULL;
		f->has_first = 0;
	}
}

/* --- idle timeout -------------------------------------------------------- */

/* Close the flows idle for timeout_idle, oldest first, then wait for the
 * next one to go idle. */
static void udp_expire_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udp_listener *u = arg;
	uint64_t idle = runtime_global(u->rt)->timeout_idle_ms;
	uint64_t now = udp_now_ms();
	struct udp_flow *f;

	while ((f = TAILQ_FIRST(&u->lru)) != NULL && now - f->last_ms >= idle)
		udp_flow_close(u, f, "idle");
	udp_expire_arm(u, now);
}

/* Set the timer for the moment the least recently used flow goes idle. */
static void udp_expire_arm(struct udp_listener *u, uint64_t now)
{
	uint64_t idle = runtime_global(u->rt)->timeout_idle_ms;
	struct udp_flow *f = TAILQ_FIRST(&u->lru);
	uint64_t due, wait;
	struct timeval tv;

	if (f == NULL || idle == 0)
		return;
	due = f->last_ms + idle;
	wait = due > now ? due - now : 0;
	tv.tv_sec = (time_t)(wait / 1000);
	tv.tv_usec = (suseconds_t)(wait % 1000) * 1000;
	(void)evtimer_add(u->expire, &tv);
}

/* Milliseconds of a monotonic clock; coarse is enough for idle times. */
static uint64_t udp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* --- logs ---------------------------------------------------------------- */

/* Log a line about flow f with its client, listener and backend. */
static void udp_flow_log(const struct udp_listener *u, const struct udp_flow *f,
                         enum log_level level, const char *fmt, ...)
{
	char client[ADDR_STRLEN];
	struct log_conn c = {.client = client,
	                     .listener = u->cfg->name,
	                     .backend = u->upstream.name};
	va_list ap;

	if (!log_enabled(level))
		return;
	addr_format_sa(&f->peer.sa, sizeof(f->peer), client, sizeof(client));
	va_start(ap, fmt);
	log_vconn(level, &c, fmt, ap);
	va_end(ap);
}

/* Log a refusal, an eviction or an error: up to LOG_THROTTLE_BURST a second,
 * then a count of the rest, so that a flood cannot fill the log. */
static void udp_log_throttled(struct udp_listener *u, enum log_level level,
                              const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vthrottled(&u->throttle, "listener", u->cfg->name, level, fmt,
	               ap);
	va_end(ap);
}
