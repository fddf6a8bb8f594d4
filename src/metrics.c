/* SPDX-License-Identifier: MIT */
/*
 * The counters of listeners, vhosts and backends, kept per worker and
 * summed when read, and the live connection snapshots of the workers.
 *
 * The registry is three lists of names (listeners, listener and vhost
 * pairs, backend addresses), each entry with one counter block per worker.
 * It grows under one mutex when listeners are built, at the start and at
 * reloads, and is read under it by the status page; nothing on the path
 * of a connection or request takes it. A block is its own allocation,
 * aligned on a cache line, written by its worker alone.
 *
 * A backend's up or down state is the one thing workers share: it is
 * written when it changes and on a failure, so a healthy backend's line
 * is only ever read.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "portier/metrics.h"

/* Alignment of counter blocks: one cache line. */
#define METRICS_LINE 64

const uint64_t metrics_bucket_us[METRICS_BUCKETS - 1] = {
    1000,   5000,   10000,   25000,   50000,   100000,
    250000, 500000, 1000000, 2500000, 5000000, 10000000,
};

/* What every worker knows of a backend: the last connect's outcome. */
struct metrics_backend_state {
	_Atomic int up;            /* enum metrics_up */
	_Atomic int64_t since;     /* unix time up last changed */
	_Atomic int64_t failed_at; /* unix time of the last failure */
	_Atomic int last_error;    /* its errno */
};

/* A registered name and its blocks, one per worker. */
struct metrics_entry {
	struct metrics_entry *next;
	char *name;  /* listener, or backend address */
	char *vhost; /* vhost entries: the vhost's name */
	struct metrics_backend_state state; /* backend entries */
	void *blocks[]; /* per worker, NULL until asked for */
};

/* A list of entries in the order first seen. */
struct metrics_list {
	struct metrics_entry *head;
	struct metrics_entry **tail;
	size_t block_size;
};

/* One worker's snapshot of its live connections. */
struct metrics_live {
	pthread_mutex_t lock;
	struct metrics_conn *conns; /* METRICS_LIVE_MAX, made when asked */
	size_t n;
	size_t total;
	_Atomic uint64_t answered; /* the last request this answers */
};

static pthread_mutex_t metrics_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned metrics_nworkers;
static struct metrics_list metrics_listeners = {
    NULL, &metrics_listeners.head, sizeof(struct metrics_listener)};
static struct metrics_list metrics_vhosts = {NULL, &metrics_vhosts.head,
                                             sizeof(struct metrics_vhost)};
static struct metrics_list metrics_backends = {NULL, &metrics_backends.head,
                                               sizeof(struct metrics_backend)};
static struct metrics_live *metrics_live;
static _Atomic uint64_t metrics_live_asked;
static _Atomic uint64_t metrics_reloads_ok, metrics_reloads_failed;
static int64_t metrics_start;

static void *metrics_block(struct metrics_list *list, const char *name,
                           const char *vhost, unsigned worker);
static struct metrics_entry *metrics_find(struct metrics_list *list,
                                          const char *name, const char *vhost);
static void metrics_sum_listener(const struct metrics_entry *e,
                                 struct metrics_listener_sum *out);
static void metrics_sum_vhost(const struct metrics_entry *e,
                              struct metrics_vhost_sum *out);
static void metrics_sum_backend(const struct metrics_entry *e,
                                struct metrics_backend_sum *out);
static uint64_t metrics_load(_Atomic uint64_t *c);

int metrics_init(unsigned nworkers)
{
	if (metrics_nworkers != 0)
		return metrics_nworkers == nworkers ? 0 : -1;
	metrics_live = calloc(nworkers, sizeof(*metrics_live));
	if (metrics_live == NULL)
		return -1;
	for (unsigned i = 0; i < nworkers; i++) {
		pthread_mutex_init(&metrics_live[i].lock, NULL);
		atomic_init(&metrics_live[i].answered, 0);
	}
	metrics_nworkers = nworkers;
	metrics_start = (int64_t)time(NULL);
	return 0;
}

struct metrics_listener *metrics_listener_get(const char *listener,
                                              unsigned worker)
{
	return metrics_block(&metrics_listeners, listener, NULL, worker);
}

struct metrics_vhost *metrics_vhost_get(const char *listener, const char *vhost,
                                        unsigned worker)
{
	return metrics_block(&metrics_vhosts, listener, vhost, worker);
}

struct metrics_backend *metrics_backend_get(const char *backend,
                                            unsigned worker)
{
	return metrics_block(&metrics_backends, backend, NULL, worker);
}

void metrics_request(struct metrics_listener *l, struct metrics_vhost *v,
                     int status, uint64_t bytes_in, uint64_t bytes_out,
                     uint64_t us)
{
	int bucket = 0;

	if (status >= 100 && status < 600)
		metrics_add(&v->requests[status / 100 - 1], 1);
	metrics_add(&v->bytes_in, bytes_in);
	metrics_add(&v->bytes_out, bytes_out);
	metrics_add(&l->bytes_in, bytes_in);
	metrics_add(&l->bytes_out, bytes_out);
	/* A request that got no answer, or an upgrade that turned into a
	 * tunnel, has no duration worth showing. */
	if (status < 200)
		return;
	while (bucket < METRICS_BUCKETS - 1 && us > metrics_bucket_us[bucket])
		bucket++;
	metrics_add(&l->duration[bucket], 1);
	metrics_add(&l->duration_sum_us, us);
}

void metrics_backend_result(struct metrics_backend *b, int err)
{
	struct metrics_backend_state *st = b->state;
	int up = err == 0 ? METRICS_UP : METRICS_DOWN;

	metrics_add(err == 0 ? &b->connects : &b->failures, 1);
	/* Each store only when the value changes: while a backend refuses
	 * every connect, the workers do not pass its line to and fro. */
	if (err != 0) {
		int64_t now = (int64_t)time(NULL);

		if (atomic_load_explicit(&st->last_error,
		                         memory_order_relaxed) != err)
			atomic_store_explicit(&st->last_error, err,
			                      memory_order_relaxed);
		if (atomic_load_explicit(&st->failed_at,
		                         memory_order_relaxed) != now)
			atomic_store_explicit(&st->failed_at, now,
			                      memory_order_relaxed);
	}
	if (atomic_load_explicit(&st->up, memory_order_relaxed) == up)
		return;
	atomic_store_explicit(&st->up, up, memory_order_relaxed);
	atomic_store_explicit(&st->since, (int64_t)time(NULL),
	                      memory_order_relaxed);
}

void metrics_reload(bool ok)
{
	atomic_fetch_add(ok ? &metrics_reloads_ok : &metrics_reloads_failed, 1);
}

void metrics_reloads(uint64_t *ok, uint64_t *failed)
{
	*ok = atomic_load(&metrics_reloads_ok);
	*failed = atomic_load(&metrics_reloads_failed);
}

int64_t metrics_started(void)
{
	return metrics_start;
}

bool metrics_listener_read(const char *listener,
                           struct metrics_listener_sum *out)
{
	struct metrics_entry *e;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&metrics_lock);
	e = metrics_find(&metrics_listeners, listener, NULL);
	if (e != NULL)
		metrics_sum_listener(e, out);
	pthread_mutex_unlock(&metrics_lock);
	return e != NULL;
}

bool metrics_vhost_read(const char *listener, const char *vhost,
                        struct metrics_vhost_sum *out)
{
	struct metrics_entry *e;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&metrics_lock);
	e = metrics_find(&metrics_vhosts, listener, vhost);
	if (e != NULL)
		metrics_sum_vhost(e, out);
	pthread_mutex_unlock(&metrics_lock);
	return e != NULL;
}

bool metrics_backend_read(const char *backend, struct metrics_backend_sum *out)
{
	struct metrics_entry *e;

	memset(out, 0, sizeof(*out));
	pthread_mutex_lock(&metrics_lock);
	e = metrics_find(&metrics_backends, backend, NULL);
	if (e != NULL)
		metrics_sum_backend(e, out);
	pthread_mutex_unlock(&metrics_lock);
	return e != NULL;
}

void metrics_listener_each(void (*fn)(const char *listener,
                                      const struct metrics_listener_sum *s,
                                      void *arg),
                           void *arg)
{
	struct metrics_listener_sum sum;

	pthread_mutex_lock(&metrics_lock);
	for (struct metrics_entry *e = metrics_listeners.head; e != NULL;
	     e = e->next) {
		metrics_sum_listener(e, &sum);
		fn(e->name, &sum, arg);
	}
	pthread_mutex_unlock(&metrics_lock);
}

void metrics_vhost_each(void (*fn)(const char *listener, const char *vhost,
                                   const struct metrics_vhost_sum *s,
                                   void *arg),
                        void *arg)
{
	struct metrics_vhost_sum sum;

	pthread_mutex_lock(&metrics_lock);
	for (struct metrics_entry *e = metrics_vhosts.head; e != NULL;
	     e = e->next) {
		metrics_sum_vhost(e, &sum);
		fn(e->name, e->vhost, &sum, arg);
	}
	pthread_mutex_unlock(&metrics_lock);
}

void metrics_backend_each(void (*fn)(const char *backend,
                                     const struct metrics_backend_sum *s,
                                     void *arg),
                          void *arg)
{
	struct metrics_backend_sum sum;

	pthread_mutex_lock(&metrics_lock);
	for (struct metrics_entry *e = metrics_backends.head; e != NULL;
	     e = e->next) {
		metrics_sum_backend(e, &sum);
		fn(e->name, &sum, arg);
	}
	pthread_mutex_unlock(&metrics_lock);
}

uint64_t metrics_live_ask(void)
{
	return atomic_fetch_add(&metrics_live_asked, 1) + 1;
}

void metrics_live_take(unsigned worker,
                       size_t (*describe)(struct metrics_conn *out, size_t max,
                                          size_t *total))
{
	struct metrics_live *live;
	uint64_t asked;
	int rounds = 0;

	if (worker >= metrics_nworkers)
		return;
	live = &metrics_live[worker];
	/* A request made while this one was taken may have found it under
	 * way and sent no order of its own (runtime_describe): it is
	 * answered here too. */
	do {
		asked = atomic_load(&metrics_live_asked);
		pthread_mutex_lock(&live->lock);
		if (live->conns == NULL)
			live->conns =
			    calloc(METRICS_LIVE_MAX, sizeof(*live->conns));
		live->total = 0;
		live->n =
		    live->conns != NULL
		        ? describe(live->conns, METRICS_LIVE_MAX, &live->total)
		        : 0;
		atomic_store(&live->answered, asked);
		pthread_mutex_unlock(&live->lock);
	} while (atomic_load(&metrics_live_asked) != asked && ++rounds < 4);
}

uint64_t metrics_live_answered(unsigned worker)
{
	return worker < metrics_nworkers
	           ? atomic_load(&metrics_live[worker].answered)
	           : 0;
}

bool metrics_live_ready(uint64_t seq)
{
	for (unsigned i = 0; i < metrics_nworkers; i++) {
		if (atomic_load(&metrics_live[i].answered) < seq)
			return false;
	}
	return true;
}

void metrics_live_read(uint64_t seq,
                       void (*fn)(const struct metrics_conn *c, size_t n,
                                  size_t total, bool fresh, void *arg),
                       void *arg)
{
	for (unsigned i = 0; i < metrics_nworkers; i++) {
		struct metrics_live *live = &metrics_live[i];

		pthread_mutex_lock(&live->lock);
		fn(live->conns, live->n, live->total,
		   atomic_load(&live->answered) >= seq, arg);
		pthread_mutex_unlock(&live->lock);
	}
}

/* The block of `worker` for an entry of list, made with the entry when
 * needed. */
static void *metrics_block(struct metrics_list *list, const char *name,
                           const char *vhost, unsigned worker)
{
	size_t size =
	    (list->block_size + METRICS_LINE - 1) / METRICS_LINE * METRICS_LINE;
	struct metrics_entry *e;
	void *block = NULL;

	if (worker >= metrics_nworkers)
		return NULL;
	pthread_mutex_lock(&metrics_lock);
	e = metrics_find(list, name, vhost);
	if (e == NULL) {
		e = calloc(1, sizeof(*e) +
		                  metrics_nworkers * sizeof(e->blocks[0]));
		if (e == NULL)
			goto out;
		e->name = strdup(name);
		e->vhost = vhost != NULL ? strdup(vhost) : NULL;
		if (e->name == NULL || (vhost != NULL && e->vhost == NULL)) {
			free(e->name);
			free(e->vhost);
			free(e);
			goto out;
		}
		*list->tail = e;
		list->tail = &e->next;
	}
	if (e->blocks[worker] == NULL) {
		block = aligned_alloc(METRICS_LINE, size);
		if (block == NULL)
			goto out;
		memset(block, 0, size);
		if (list == &metrics_backends)
			((struct metrics_backend *)block)->state = &e->state;
		e->blocks[worker] = block;
	}
	block = e->blocks[worker];
out:
	pthread_mutex_unlock(&metrics_lock);
	return block;
}

/* The entry of name (and vhost), or NULL; under metrics_lock. */
static struct metrics_entry *metrics_find(struct metrics_list *list,
                                          const char *name, const char *vhost)
{
	for (struct metrics_entry *e = list->head; e != NULL; e = e->next) {
		if (strcmp(e->name, name) == 0 &&
		    (vhost == NULL || strcmp(e->vhost, vhost) == 0))
			return e;
	}
	return NULL;
}

/* Sum a listener entry's blocks into out. */
static void metrics_sum_listener(const struct metrics_entry *e,
                                 struct metrics_listener_sum *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned w = 0; w < metrics_nworkers; w++) {
		struct metrics_listener *b = e->blocks[w];

		if (b == NULL)
			continue;
		/* Closed first: a connection that comes and goes between
		 * the two loads then never shows as a negative count. */
		out->closed += metrics_load(&b->closed);
		out->accepted += metrics_load(&b->accepted);
		out->refused_acl += metrics_load(&b->refused_acl);
		out->refused_limit += metrics_load(&b->refused_limit);
		out->tls_ok += metrics_load(&b->tls_ok);
		out->tls_failed += metrics_load(&b->tls_failed);
		out->bytes_in += metrics_load(&b->bytes_in);
		out->bytes_out += metrics_load(&b->bytes_out);
		for (int i = 0; i < METRICS_BUCKETS; i++)
			out->duration[i] += metrics_load(&b->duration[i]);
		out->duration_sum_us += metrics_load(&b->duration_sum_us);
	}
	if (out->closed > out->accepted)
		out->closed = out->accepted;
}

/* Sum a vhost entry's blocks into out. */
static void metrics_sum_vhost(const struct metrics_entry *e,
                              struct metrics_vhost_sum *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned w = 0; w < metrics_nworkers; w++) {
		struct metrics_vhost *b = e->blocks[w];

		if (b == NULL)
			continue;
		for (int i = 0; i < METRICS_CLASSES; i++)
			out->requests[i] += metrics_load(&b->requests[i]);
		out->bytes_in += metrics_load(&b->bytes_in);
		out->bytes_out += metrics_load(&b->bytes_out);
	}
}

/* Sum a backend entry's blocks into out, with its shared state. */
static void metrics_sum_backend(const struct metrics_entry *e,
                                struct metrics_backend_sum *out)
{
	struct metrics_backend_state *st =
	    (struct metrics_backend_state *)&e->state;

	memset(out, 0, sizeof(*out));
	for (unsigned w = 0; w < metrics_nworkers; w++) {
		struct metrics_backend *b = e->blocks[w];

		if (b == NULL)
			continue;
		out->connects += metrics_load(&b->connects);
		out->failures += metrics_load(&b->failures);
	}
	out->up = (enum metrics_up)atomic_load_explicit(&st->up,
	                                                memory_order_relaxed);
	out->since = atomic_load_explicit(&st->since, memory_order_relaxed);
	out->failed_at =
	    atomic_load_explicit(&st->failed_at, memory_order_relaxed);
	out->last_error =
	    atomic_load_explicit(&st->last_error, memory_order_relaxed);
}

/* A counter's value, as another thread may be writing it. */
static uint64_t metrics_load(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}
