/* SPDX-License-Identifier: MIT */
/*
 * The runtime: the configuration brought to life as one event loop per
 * worker, each with its own listening sockets (SO_REUSEPORT, so that the
 * kernel spreads new connections, and a reload can bind * beside
 * 127.0.0.1; portdiag checks that no other process joined), its own
 * sessions,
 * and nothing else shared but the read-only configuration and the
 * connection counters that max_connections applies to (the counters of
 * the status page are per worker, summed when read: metrics.c).
 *
 * Worker 0 runs in the main thread and owns the signals and the admin
 * server. A graceful stop closes every listening socket at once (new
 * clients are refused by the kernel, not left waiting) and lets open
 * connections finish for up to RUNTIME_DRAIN_SECONDS; the other workers
 * hear of it through a pipe, the same one that brings them the admin
 * server's requests for a snapshot of their live connections.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "portier/runtime.h"
#include "portier/accesslog.h"
#include "portier/admin.h"
#include "portier/config.h"
#include "portier/daemon.h"
#include "portier/listener.h"
#include "portier/log.h"
#include "portier/metrics.h"
#include "portier/http_session.h"
#include "portier/session.h"
#include "portier/tls.h"
#include "portier/udp.h"

/* The live sessions of one listener, which its max_connections caps: a
 * reload's generation shares the counter of a listener of the same name,
 * so that sessions begun before count too. */
struct runtime_count {
	atomic_uint n;
	atomic_int refcnt;
};

/* A configuration brought to life (runtime.h). */
struct runtime_gen {
	atomic_int refcnt;
	struct config *cfg;             /* owned; read-only */
	struct tls_server **tls;        /* per cfg->listeners[i], or NULL */
	struct runtime_count **listener_sessions; /* per cfg->listeners[i] */
};

/* What every worker shares. */
struct runtime_shared {
	/* The generation in force, with one reference; swapped by a
	 * reload, read by every worker. */
	_Atomic(struct runtime_gen *) gen;
	struct runtime_gen *building; /* the one listeners are made for */
	atomic_uint sessions;         /* live sessions of all workers */
	atomic_uint switching;        /* workers yet to switch to a reload */
	char *pidfile;                /* as written at the start, or NULL */
	bool dropped_root;            /* started as root, runs as another */
	struct runtime *workers;      /* [0] runs in the main thread */
	unsigned nworkers;
	bool reloading;               /* a SIGHUP builds a generation */
	char **announced;             /* its listeners' lines, held back */
	size_t nannounced;
};

/* The listeners of one worker, for one generation. */
struct runtime_set {
	struct listener **listeners; /* one per tcp, http, passthrough one */
	size_t nlisteners;
	struct udp_listener **udps; /* one per [listener] of mode udp */
	size_t nudps;
};

/* One worker: an event loop and its listeners. */
struct runtime {
	struct runtime_shared *shared;
	unsigned index;
	struct event_base *base;
	struct runtime_set set;  /* running */
	struct runtime_set next; /* made by a reload, to run on its order */
	struct udp_listener **retired; /* replaced, with flows still alive */
	size_t nretired;
	struct event *signals[4]; /* worker 0: TERM, INT, HUP, USR1 */
	struct event *order;      /* others: orders from worker 0 */
	int order_pipe[2];
	struct event *drain; /* end of the graceful stop */
	struct event *renew; /* worker 0: tls = auto certificate renewal */
	struct event *sweep; /* every second: see runtime_sweep_cb */
	struct admin *admin; /* worker 0: the status page, or NULL */
	uint64_t described;  /* the last snapshot asked of it (by worker 0) */
	pthread_t thread;
	bool thread_started;
	bool stopping;
};

/* How often the sweep runs (runtime_sweep_cb). */
static const struct timeval runtime_sweep_period = {1, 0};

/* How often tls = auto certificates are checked for renewal and against
 * this machine's addresses (a check reads no file). */
#define RUNTIME_RENEW_SECONDS 5

/* What worker 0 tells the others through their pipe. */
#define RUNTIME_ORDER_STOP 's' /* stop accepting and drain */
#define RUNTIME_ORDER_NOW  'n' /* close everything now */
#define RUNTIME_ORDER_SWITCH 'r' /* run the listeners of a reload */
#define RUNTIME_ORDER_DESCRIBE 'd' /* snapshot the live connections */

static struct runtime_gen *runtime_gen_new(struct config *cfg,
                                           const struct runtime_gen *old,
                                           char *err, size_t errlen);
static int runtime_worker_init(struct runtime *rt, char *err, size_t errlen);
static int runtime_set_build(struct runtime *rt, struct runtime_set *set,
                             char *err, size_t errlen);
static void runtime_set_start(struct runtime *rt, struct runtime_set *set);
static void runtime_set_free(struct runtime *rt, struct runtime_set *set,
                             bool retire);
static void runtime_reload(struct runtime *rt);
static void runtime_warn_restart(const struct config_global *o,
                                 const struct config_global *n);
static void runtime_log_errors(const char *prefix, char *text);
static bool runtime_set_has(const struct runtime_set *set, const char *name,
                            const struct addr *a, int type);
static void runtime_log_closed(const struct runtime *rt,
                               const struct config *cfg);
static void runtime_log_closed_one(const struct runtime *rt,
                                   const struct config_listener *cl);
static bool runtime_str_changed(const char *a, const char *b);
static void runtime_switch(struct runtime *rt);
static void runtime_worker_free(struct runtime *rt);
static unsigned runtime_worker_count(const struct config *cfg);
static void runtime_raise_nofile(const struct config *cfg);
static void runtime_stop(struct runtime *rt, int signo);
static void runtime_stop_local(struct runtime *rt);
static void runtime_signal_cb(evutil_socket_t signo, short what, void *arg);
static void runtime_order_cb(evutil_socket_t fd, short what, void *arg);
static void runtime_drain_cb(evutil_socket_t fd, short what, void *arg);
static void runtime_renew_cb(evutil_socket_t fd, short what, void *arg);
static void runtime_sweep_cb(evutil_socket_t fd, short what, void *arg);
static void *runtime_thread_main(void *arg);
static int runtime_loop(struct runtime *rt);

struct runtime *runtime_new(struct config *cfg, int *status)
{
	static const int signos[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	struct runtime_shared *shared;
	struct runtime *main_rt;
	char err[1024], files[4096];
	bool root = geteuid() == 0;

	*status = 2;
	shared = calloc(1, sizeof(*shared));
	if (shared == NULL) {
		config_free(cfg);
		log_error("out of memory");
		return NULL;
	}
	shared->nworkers = runtime_worker_count(cfg);
	shared->workers = calloc(shared->nworkers, sizeof(*shared->workers));
	if (shared->workers == NULL) {
		free(shared);
		config_free(cfg);
		log_error("out of memory");
		return NULL;
	}
	main_rt = &shared->workers[0];
	for (unsigned i = 0; i < shared->nworkers; i++) {
		shared->workers[i].shared = shared;
		shared->workers[i].index = i;
		shared->workers[i].order_pipe[0] = -1;
		shared->workers[i].order_pipe[1] = -1;
	}
	for (size_t i = 0; i < cfg->notes.n; i++)
		log_warn("%s", cfg->notes.v[i]);
	/* The files written before the drop, as -t checks them: a directory
	 * that is not there is a configuration error, found before any
	 * port is open (the pidfile is written after the binds). */
	if (daemon_check_files(cfg, NULL, false, files, sizeof(files)) > 0) {
		runtime_log_errors("", files);
		*status = 1;
		config_free(cfg);
		goto err;
	}
	runtime_raise_nofile(cfg);
	if (metrics_init(shared->nworkers) < 0) {
		log_error("out of memory");
		config_free(cfg);
		goto err;
	}
	if (accesslog_open(&cfg->global, err, sizeof(err)) < 0) {
		log_error("%s", err);
		config_free(cfg);
		goto err;
	}
	shared->building = runtime_gen_new(cfg, NULL, err, sizeof(err));
	if (shared->building == NULL) {
		/* The generation's certificates and keys, before any port is
		 * open: a file that is not what it should be is a
		 * configuration error; one that cannot be read, a runtime
		 * error, as a port that cannot be bound. */
		*status = errno == EINVAL ? 1 : 2;
		log_error("%s", err);
		goto err;
	}
	atomic_store(&shared->gen, shared->building);
	/* Every socket is bound here, in the main thread, so that a port
	 * that cannot be had stops the start with one clear message. */
	for (unsigned i = 0; i < shared->nworkers; i++) {
		if (runtime_worker_init(&shared->workers[i], err, sizeof(err)) <
		    0) {
			log_error("%s", err);
			goto err;
		}
	}
	shared->building = NULL;
	if (cfg->global.has_admin &&
	    (main_rt->admin = admin_new(main_rt, &cfg->global.admin, err,
	                                sizeof(err))) == NULL) {
		log_error("%s", err);
		goto err;
	}
	/* No thread runs yet: every worker's listeners start from here. */
	for (unsigned i = 0; i < shared->nworkers; i++)
		runtime_set_start(&shared->workers[i],
		                  &shared->workers[i].set);
	if (main_rt->admin != NULL && admin_start(main_rt->admin) < 0)
		log_error("admin: cannot accept: %s", strerror(errno));
	for (size_t i = 0; i < sizeof(signos) / sizeof(signos[0]); i++) {
		main_rt->signals[i] = evsignal_new(main_rt->base, signos[i],
		                                   runtime_signal_cb, main_rt);
		if (main_rt->signals[i] == NULL ||
		    evsignal_add(main_rt->signals[i], NULL) < 0) {
			log_error("cannot install signal handlers");
			goto err;
		}
	}
	/* Certificates from the local CA last 90 days, and name the LAN
	 * addresses of the moment: a daemon that runs longer, or on a
	 * laptop that changes networks, makes them again. */
	{
		struct timeval period = {RUNTIME_RENEW_SECONDS, 0};

		main_rt->renew = event_new(main_rt->base, -1, EV_PERSIST,
		                           runtime_renew_cb, main_rt);
		if (main_rt->renew == NULL ||
		    event_add(main_rt->renew, &period) < 0) {
			log_error("cannot start the certificate renewal timer");
			goto err;
		}
	}
	/* Every port is bound and every file open: root is needed no
	 * more. */
	if ((cfg->global.pidfile != NULL &&
	     daemon_write_pidfile(cfg->global.pidfile, err, sizeof(err)) <
	         0) ||
	    daemon_drop_privileges(cfg->global.user, cfg->global.group, err,
	                           sizeof(err)) < 0) {
		log_error("%s", err);
		/* A start that fails leaves no pidfile behind. */
		daemon_remove_pidfile(cfg->global.pidfile);
		goto err;
	}
	shared->dropped_root = root && geteuid() != 0;
	/* The advice is about the file's [global]; portier expose has none
	 * and gives its own. */
	if (cfg->global.user == NULL && cfg->global.group == NULL &&
	    !cfg->global.quiet_root && geteuid() == 0)
		log_warn("running as root: set user (and group) in [global] "
		         "to drop root's privileges once the ports are bound");
	if (cfg->global.pidfile != NULL &&
	    (shared->pidfile = strdup(cfg->global.pidfile)) == NULL)
		log_warn("out of memory: the pidfile stays at the stop");
	log_info("portier ready: %zu listener%s from %s, %u worker%s "
	         "(version %s)",
	         main_rt->set.nlisteners + main_rt->set.nudps,
	         main_rt->set.nlisteners + main_rt->set.nudps == 1 ? "" : "s",
	         cfg->path, shared->nworkers, shared->nworkers == 1 ? "" : "s",
	         PACKAGE_VERSION);
	return main_rt;
err:
	runtime_free(main_rt);
	return NULL;
}

int runtime_run(struct runtime *rt)
{
	struct runtime_shared *shared = rt->shared;
	sigset_t all, old;
	int status = 0;

	/* Signals are for worker 0 alone: the others start with them
	 * blocked. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 1; i < shared->nworkers; i++) {
		struct runtime *w = &shared->workers[i];

		if (pthread_create(&w->thread, NULL, runtime_thread_main, w) !=
		    0) {
			log_error("cannot start worker %u: %s", i,
			          strerror(errno));
			status = 2;
			break;
		}
		w->thread_started = true;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (status == 0 && runtime_loop(rt) < 0) {
		log_error("event loop failed");
		status = 2;
	}
	if (status != 0) {
		/* Stop the workers that did start. */
		for (unsigned i = 1; i < shared->nworkers; i++) {
			char order = RUNTIME_ORDER_NOW;

			if (shared->workers[i].thread_started &&
			    write(shared->workers[i].order_pipe[1], &order, 1) <
			        0)
				log_error("cannot stop worker %u", i);
		}
	}
	for (unsigned i = 1; i < shared->nworkers; i++) {
		if (shared->workers[i].thread_started) {
			pthread_join(shared->workers[i].thread, NULL);
			shared->workers[i].thread_started = false;
		}
	}
	if (status == 0)
		log_info("portier stopped");
	return status;
}

void runtime_free(struct runtime *rt)
{
	struct runtime_shared *shared;

	if (rt == NULL)
		return;
	shared = rt->shared;
	for (unsigned i = 0; i < shared->nworkers; i++)
		runtime_worker_free(&shared->workers[i]);
	free(shared->workers);
	/* A start that failed half-way was building the one in force. */
	if (shared->building != atomic_load(&shared->gen))
		runtime_gen_unref(shared->building);
	runtime_gen_unref(atomic_load(&shared->gen));
	tls_forget_ca();
	accesslog_close();
	daemon_remove_pidfile(shared->pidfile);
	free(shared->pidfile);
	free(shared);
}

struct event_base *runtime_base(const struct runtime *rt)
{
	return rt->base;
}

const struct config_global *runtime_global(const struct runtime *rt)
{
	return &atomic_load(&rt->shared->gen)->cfg->global;
}

const struct config *runtime_config(const struct runtime *rt)
{
	return atomic_load(&rt->shared->gen)->cfg;
}

struct runtime_gen *runtime_gen_ref(struct runtime_gen *gen)
{
	atomic_fetch_add(&gen->refcnt, 1);
	return gen;
}

void runtime_gen_unref(struct runtime_gen *gen)
{
	if (gen == NULL || atomic_fetch_sub(&gen->refcnt, 1) > 1)
		return;
	for (size_t i = 0; i < gen->cfg->nlisteners; i++)
		tls_server_unref(gen->tls[i]);
	free(gen->tls);
	for (size_t i = 0;
	     gen->listener_sessions != NULL && i < gen->cfg->nlisteners; i++) {
		struct runtime_count *c = gen->listener_sessions[i];

		if (c != NULL && atomic_fetch_sub(&c->refcnt, 1) == 1)
			free(c);
	}
	free(gen->listener_sessions);
	config_free(gen->cfg);
	free(gen);
}

const struct config *runtime_gen_config(const struct runtime_gen *gen)
{
	return gen->cfg;
}

struct tls_server *runtime_gen_tls(const struct runtime_gen *gen,
                                   const struct config_listener *cl)
{
	return gen->tls[cl - gen->cfg->listeners];
}

struct runtime_gen *runtime_building(const struct runtime *rt)
{
	return rt->shared->building ? rt->shared->building
	                            : atomic_load(&rt->shared->gen);
}

int runtime_inherit_socket(const struct runtime *rt, const struct addr *a,
                           int type)
{
	const struct runtime_set *set = &rt->set;
	int fd = -1;

	for (size_t i = 0; fd < 0 && type == SOCK_STREAM &&
	                   i < set->nlisteners;
	     i++)
		fd = listener_find_socket(set->listeners[i], a);
	for (size_t i = 0; fd < 0 && type == SOCK_DGRAM && i < set->nudps;
	     i++)
		fd = udp_listener_find_socket(set->udps[i], a);
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 0);
}

bool runtime_listened(const struct runtime *rt, const char *name,
                      const struct addr *a, int type)
{
	return rt->shared->reloading &&
	       runtime_set_has(&rt->set, name, a, type);
}

unsigned runtime_workers(const struct runtime *rt)
{
	return rt->shared->nworkers;
}

bool runtime_is_first(const struct runtime *rt)
{
	return rt->index == 0;
}

void runtime_announce(struct runtime *rt, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (rt->index != 0 || !log_enabled(LOG_LEVEL_INFO))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (rt->shared->reloading) {
		struct runtime_shared *sh = rt->shared;
		char **v = realloc(sh->announced,
		                   (sh->nannounced + 1) * sizeof(*v));

		if (v != NULL) {
			sh->announced = v;
			if ((v[sh->nannounced] = strdup(line)) != NULL) {
				sh->nannounced++;
				return;
			}
		}
	}
	log_info("%s", line); /* at the start, or out of memory */
}

/* Write the held-back lines of a reload (keep: it took effect), then
 * forget them. */
static void runtime_announced(struct runtime_shared *shared, bool keep)
{
	for (size_t i = 0; i < shared->nannounced; i++) {
		if (keep)
			log_info("%s", shared->announced[i]);
		free(shared->announced[i]);
	}
	free(shared->announced);
	shared->announced = NULL;
	shared->nannounced = 0;
}

unsigned runtime_index(const struct runtime *rt)
{
	return rt->index;
}

uint64_t runtime_describe(struct runtime *rt)
{
	struct runtime_shared *shared = rt->shared;
	uint64_t seq = metrics_live_ask();

	for (unsigned i = 1; i < shared->nworkers; i++) {
		struct runtime *w = &shared->workers[i];
		char order = RUNTIME_ORDER_DESCRIBE;

		/* One order at a time: a worker that has not answered the
		 * last one answers this request with it (metrics_live_take),
		 * and a stuck worker cannot fill its pipe. */
		if (metrics_live_answered(i) < w->described)
			continue;
		w->described = seq;
		if (write(w->order_pipe[1], &order, 1) < 0)
			log_debug("cannot reach worker %u: %s", i,
			          strerror(errno));
	}
	metrics_live_take(rt->index, session_describe);
	return seq;
}

enum runtime_admit runtime_admit(struct runtime *rt, struct runtime_gen *gen,
                                 const struct config_listener *cl)
{
	struct runtime_shared *shared = rt->shared;
	atomic_uint *of_listener =
	    &gen->listener_sessions[cl - gen->cfg->listeners]->n;

	/* Count first, then check: two workers racing for the last slot
	 * may both be refused, never both admitted. */
	if (atomic_fetch_add(&shared->sessions, 1) >=
	    runtime_global(rt)->max_connections) {
		atomic_fetch_sub(&shared->sessions, 1);
		return RUNTIME_FULL;
	}
	if (atomic_fetch_add(of_listener, 1) >= cl->max_connections &&
	    cl->max_connections) {
		atomic_fetch_sub(of_listener, 1);
		atomic_fetch_sub(&shared->sessions, 1);
		return RUNTIME_LISTENER_FULL;
	}
	return RUNTIME_ADMITTED;
}

void runtime_session_closed(struct runtime *rt, struct runtime_gen *gen,
                            const struct config_listener *cl)
{
	struct runtime_shared *shared = rt->shared;

	atomic_fetch_sub(&gen->listener_sessions[cl - gen->cfg->listeners]->n,
	                 1);
	atomic_fetch_sub(&shared->sessions, 1);
	if (rt->stopping && session_count() == 0)
		event_base_loopbreak(rt->base);
}

/* Build one worker: its event loop and a listener for each [listener]
 * this version can run. */
static int runtime_worker_init(struct runtime *rt, char *err, size_t errlen)
{
	struct event_config *ecfg;

	/* One thread owns each loop: no locks needed. The relay relies on
	 * edge-triggered events and EV_CLOSED (epoll), so no other backend
	 * will do, whatever EVENT_NO* variables the environment holds. */
	ecfg = event_config_new();
	if (ecfg != NULL) {
		event_config_set_flag(ecfg, EVENT_BASE_FLAG_NOLOCK |
		                                EVENT_BASE_FLAG_IGNORE_ENV);
		event_config_require_features(ecfg, EV_FEATURE_ET |
		                                        EV_FEATURE_O1 |
		                                        EV_FEATURE_EARLY_CLOSE);
	}
	rt->base = ecfg ? event_base_new_with_config(ecfg) : NULL;
	event_config_free(ecfg);
	if (rt->base == NULL) {
		snprintf(err, errlen,
		         "cannot create the event loop (portier needs epoll "
		         "with edge-triggered events and EPOLLRDHUP)");
		return -1;
	}
	rt->drain = evtimer_new(rt->base, runtime_drain_cb, rt);
	rt->sweep = evtimer_new(rt->base, runtime_sweep_cb, rt);
	if (rt->drain == NULL || rt->sweep == NULL)
		goto nomem;
	if (rt->index > 0) {
		if (pipe2(rt->order_pipe, O_CLOEXEC) < 0)
			goto nomem;
		rt->order =
		    event_new(rt->base, rt->order_pipe[0], EV_READ | EV_PERSIST,
		              runtime_order_cb, rt);
		if (rt->order == NULL || event_add(rt->order, NULL) < 0)
			goto nomem;
	}
	return runtime_set_build(rt, &rt->set, err, errlen);
nomem:
	snprintf(err, errlen, "cannot start worker %u: %s", rt->index,
	         strerror(errno ? errno : ENOMEM));
	return -1;
}

/* A generation for cfg (taken over, freed on failure): the TLS contexts of
 * its listeners, read once for every worker, and their session counters,
 * those of `old` (the running one, or NULL) for listeners of the same
 * name. On failure errno is tls_server_new's, or ENOMEM. */
static struct runtime_gen *runtime_gen_new(struct config *cfg,
                                           const struct runtime_gen *old,
                                           char *err, size_t errlen)
{
	struct runtime_gen *gen = calloc(1, sizeof(*gen));
	int saved;

	if (gen == NULL) {
		config_free(cfg);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	atomic_init(&gen->refcnt, 1);
	gen->cfg = cfg;
	gen->tls = calloc(cfg->nlisteners + 1, sizeof(*gen->tls));
	gen->listener_sessions =
	    calloc(cfg->nlisteners + 1, sizeof(*gen->listener_sessions));
	if (gen->tls == NULL || gen->listener_sessions == NULL) {
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		goto err;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct config_listener *was =
		    old != NULL ? config_find_listener(old->cfg,
		                                       cfg->listeners[i].name)
		                : NULL;
		struct runtime_count *c =
		    was != NULL
		        ? old->listener_sessions[was - old->cfg->listeners]
		        : calloc(1, sizeof(*c));

		if (c == NULL) {
			snprintf(err, errlen, "out of memory");
			errno = ENOMEM;
			goto err;
		}
		atomic_fetch_add(&c->refcnt, 1);
		gen->listener_sessions[i] = c;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		if (cfg->listeners[i].tls == CONFIG_TLS_OFF)
			continue;
		gen->tls[i] = tls_server_new(cfg, &cfg->listeners[i], err,
		                             errlen);
		if (gen->tls[i] == NULL)
			goto err;
	}
	return gen;
err:
	saved = errno;
	runtime_gen_unref(gen);
	errno = saved;
	return NULL;
}

/* Make this worker's listeners for the generation being built, binding
 * their sockets (or keeping those of the running ones); none runs yet. */
static int runtime_set_build(struct runtime *rt, struct runtime_set *set,
                             char *err, size_t errlen)
{
	const struct config *cfg = rt->shared->building->cfg;

	set->listeners = calloc(cfg->nlisteners + 1, sizeof(*set->listeners));
	set->udps = calloc(cfg->nlisteners + 1, sizeof(*set->udps));
	if (set->listeners == NULL || set->udps == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct config_listener *cl = &cfg->listeners[i];

		if (cl->mode == CONFIG_MODE_UDP) {
			set->udps[set->nudps] =
			    udp_listener_new(rt, cl, err, errlen);
			if (set->udps[set->nudps] == NULL)
				return -1;
			set->nudps++;
			continue;
		}
		set->listeners[set->nlisteners] =
		    listener_new(rt, cl, err, errlen);
		if (set->listeners[set->nlisteners] == NULL)
			return -1;
		set->nlisteners++;
	}
	return 0;
}

/* Start accepting on a set made by runtime_set_build, in the worker's
 * thread (or before any thread runs). */
static void runtime_set_start(struct runtime *rt, struct runtime_set *set)
{
	for (size_t i = 0; i < set->nlisteners; i++) {
		if (listener_start(set->listeners[i]) < 0)
			log_error("worker %u: listener %s cannot accept: %s",
			          rt->index,
			          listener_config(set->listeners[i])->name,
			          strerror(errno));
	}
	for (size_t i = 0; i < set->nudps; i++) {
		if (udp_listener_start(set->udps[i]) < 0)
			log_error("worker %u: listener %s cannot read: %s",
			          rt->index,
			          udp_listener_config(set->udps[i])->name,
			          strerror(errno));
	}
}

/* Close a set's listeners; sessions that hold a listener go on. With
 * `retire`, UDP listeners that still have flows stop reading and are kept
 * until their flows are gone. */
static void runtime_set_free(struct runtime *rt, struct runtime_set *set,
                             bool retire)
{
	for (size_t i = 0; i < set->nlisteners; i++) {
		listener_close(set->listeners[i]);
		listener_unref(set->listeners[i]);
	}
	for (size_t i = 0; i < set->nudps; i++) {
		struct udp_listener *u = set->udps[i];
		struct udp_listener **more;

		udp_listener_close(u);
		if (!retire || udp_listener_flows(u) == 0) {
			udp_listener_free(u);
			continue;
		}
		more = realloc(rt->retired,
		               (rt->nretired + 1) * sizeof(*rt->retired));
		if (more == NULL) {
			udp_listener_free(u);
			continue;
		}
		rt->retired = more;
		rt->retired[rt->nretired++] = u;
	}
	free(set->listeners);
	free(set->udps);
	memset(set, 0, sizeof(*set));
}

/* The [global] keys that only a start applies: say which ones the new
 * file changes, since the reload keeps their old values. */
static void runtime_warn_restart(const struct config_global *o,
                                 const struct config_global *n)
{
	if (runtime_str_changed(o->access_log, n->access_log))
		log_warn("SIGHUP: access_log changes at the next start");
	if (o->access_log_format != n->access_log_format)
		log_warn("SIGHUP: access_log_format changes at the next start");
	if (runtime_str_changed(o->user, n->user) ||
	    runtime_str_changed(o->group, n->group))
		log_warn("SIGHUP: user and group change at the next start");
	if (runtime_str_changed(o->pidfile, n->pidfile))
		log_warn("SIGHUP: pidfile changes at the next start");
	if (o->has_admin != n->has_admin ||
	    (n->has_admin && !addr_equal(&n->admin, &o->admin)))
		log_warn("SIGHUP: admin changes at the next start");
}

/* Log each line of text (errors of a file, "FILE:LINE: message\n" each)
 * as an error of its own, after prefix. */
static void runtime_log_errors(const char *prefix, char *text)
{
	char *line = text, *end;

	while (*line != '\0') {
		end = strchr(line, '\n');
		if (end != NULL)
			*end = '\0';
		log_error("%s%s", prefix, line);
		if (end == NULL)
			break;
		line = end + 1;
	}
}

/* Two optional strings differ. */
static bool runtime_str_changed(const char *a, const char *b)
{
	return (a == NULL) != (b == NULL) || (a != NULL && strcmp(a, b) != 0);
}

/*
 * SIGHUP: read the file again and build everything it needs (TLS contexts,
 * every worker's listeners and their sockets) before anything changes; on
 * any error the running configuration stays. Then each worker switches to
 * the new listeners in its own thread: a socket whose address stays is
 * kept, so no connection is refused, and connections under way finish on
 * the generation they began with.
 */
static void runtime_reload(struct runtime *rt)
{
	struct runtime_shared *shared = rt->shared;
	struct runtime_gen *old = atomic_load(&shared->gen);
	const char *path = old->cfg->path;
	struct runtime_gen *gen;
	struct config *cfg;
	char err[4096];
	int failed = 0;

	if (rt->stopping)
		return;
	if (atomic_load(&shared->switching) > 0) {
		log_warn("SIGHUP: the previous reload is still being applied; "
		         "send SIGHUP again in a moment");
		metrics_reload(false);
		return;
	}
	if (access(path, F_OK) < 0) {
		log_warn("SIGHUP: %s is not a file (nothing to read again); "
		         "tls = auto certificates are checked against this "
		         "machine's addresses",
		         path);
		runtime_renew_cb(-1, 0, rt);
		metrics_reload(false);
		return;
	}
	cfg = config_load(path, err, sizeof(err));
	/* A changed access_log or pidfile is for the next start, which
	 * must be able to write it: with root's rights when this process
	 * dropped them. */
	if (cfg != NULL &&
	    daemon_check_files(cfg, old->cfg, shared->dropped_root, err,
	                       sizeof(err)) > 0) {
		config_free(cfg);
		cfg = NULL;
	}
	if (cfg == NULL) {
		runtime_log_errors("SIGHUP: ", err);
		log_error("SIGHUP: the running configuration stays");
		metrics_reload(false);
		return;
	}
	for (size_t i = 0; i < cfg->notes.n; i++)
		log_warn("%s", cfg->notes.v[i]);
	if (runtime_worker_count(cfg) != shared->nworkers)
		log_warn("SIGHUP: workers changed; the number of workers "
		         "changes at the next start");
	gen = runtime_gen_new(cfg, old, err, sizeof(err));
	if (gen == NULL) {
		log_error("SIGHUP: %s; the running configuration stays", err);
		metrics_reload(false);
		return;
	}
	shared->building = gen;
	shared->reloading = true;
	for (unsigned i = 0; i < shared->nworkers && !failed; i++) {
		struct runtime *w = &shared->workers[i];

		failed = runtime_set_build(w, &w->next, err, sizeof(err));
	}
	shared->building = NULL;
	shared->reloading = false;
	if (failed) {
		for (unsigned i = 0; i < shared->nworkers; i++)
			runtime_set_free(&shared->workers[i],
			                 &shared->workers[i].next, false);
		runtime_gen_unref(gen);
		runtime_announced(shared, false);
		log_error("SIGHUP: %s; the running configuration stays", err);
		metrics_reload(false);
		return;
	}
	if (gen->cfg->global.log_level != old->cfg->global.log_level)
		log_set_level(gen->cfg->global.log_level);
	runtime_warn_restart(&old->cfg->global, &gen->cfg->global);
	atomic_store(&shared->gen, gen);
	atomic_store(&shared->switching, shared->nworkers - 1);
	for (unsigned i = 1; i < shared->nworkers; i++) {
		char order = RUNTIME_ORDER_SWITCH;

		if (write(shared->workers[i].order_pipe[1], &order, 1) < 0) {
			log_error("cannot reach worker %u: %s", i,
			          strerror(errno));
			atomic_fetch_sub(&shared->switching, 1);
		}
	}
	runtime_log_closed(rt, old->cfg);
	runtime_switch(rt);
	runtime_gen_unref(old);
	metrics_reload(true);
	runtime_announced(shared, true);
	log_info("SIGHUP: configuration reloaded from %s: %zu listener%s",
	         gen->cfg->path, rt->set.nlisteners + rt->set.nudps,
	         rt->set.nlisteners + rt->set.nudps == 1 ? "" : "s");
}

/* True when the listener named `name` of set (a tcp-based one for
 * SOCK_STREAM, a udp one for SOCK_DGRAM) has a socket bound to a. */
static bool runtime_set_has(const struct runtime_set *set, const char *name,
                            const struct addr *a, int type)
{
	for (size_t i = 0; type == SOCK_STREAM && i < set->nlisteners; i++) {
		if (strcmp(listener_config(set->listeners[i])->name, name) == 0)
			return listener_find_socket(set->listeners[i], a) >= 0;
	}
	for (size_t i = 0; type == SOCK_DGRAM && i < set->nudps; i++) {
		if (strcmp(udp_listener_config(set->udps[i])->name, name) == 0)
			return udp_listener_find_socket(set->udps[i], a) >= 0;
	}
	return false;
}

/* A reload that took, before the switch: say which addresses each
 * listener of the running configuration `cfg` stops listening on, in the
 * order of its file: those that the new listener of its name (if any)
 * does not keep. Worker 0's sets stand for every worker's, as for the
 * lines of runtime_announce, which say the addresses begun. */
static void runtime_log_closed(const struct runtime *rt,
                               const struct config *cfg)
{
	for (size_t i = 0; i < cfg->nlisteners; i++)
		runtime_log_closed_one(rt, &cfg->listeners[i]);
}

/* The addresses listener cl stops listening on, for
 * runtime_log_closed. */
static void runtime_log_closed_one(const struct runtime *rt,
                                   const struct config_listener *cl)
{
	int type = cl->mode == CONFIG_MODE_UDP ? SOCK_DGRAM : SOCK_STREAM;
	char name[ADDR_STRLEN];
	struct addr socks[2];
	bool optional[2];
	int n;

	for (size_t b = 0; b < cl->nbinds; b++) {
		n = addr_bind_sockets(&cl->binds[b], socks, optional);
		for (int j = 0; j < n; j++) {
			/* Skipped (no IPv6), or kept by the new listener. */
			if (!runtime_set_has(&rt->set, cl->name, &socks[j],
			                     type) ||
			    runtime_set_has(&rt->next, cl->name, &socks[j],
			                    type))
				continue;
			log_info("listener %s: no longer listening on %s%s",
			         cl->name,
			         addr_format(&socks[j], name, sizeof(name)),
			         type == SOCK_DGRAM ? " (udp)" : "");
		}
	}
}

/* In a worker's thread: run the listeners a reload made and close the
 * previous ones, with no turn of the loop in between. */
static void runtime_switch(struct runtime *rt)
{
	struct runtime_set old = rt->set;
	size_t kept = 0;

	rt->set = rt->next;
	memset(&rt->next, 0, sizeof(rt->next));
	runtime_set_start(rt, &rt->set);
	/* A UDP client keeps its flow, and its port towards the backend,
	 * across a reload that keeps its listener. */
	for (size_t i = 0; i < rt->set.nudps; i++) {
		for (size_t j = 0; j < old.nudps; j++)
			udp_listener_adopt(rt->set.udps[i], old.udps[j]);
	}
	runtime_set_free(rt, &old, true);
	http_session_retire();
	/* Replaced UDP listeners go once their last flow has. */
	for (size_t i = 0; i < rt->nretired; i++) {
		if (udp_listener_flows(rt->retired[i]) == 0)
			udp_listener_free(rt->retired[i]);
		else
			rt->retired[kept++] = rt->retired[i];
	}
	rt->nretired = kept;
	if (rt->index > 0)
		atomic_fetch_sub(&rt->shared->switching, 1);
}

/* Free one worker's sessions, listeners and loop; accepts a zeroed one.
 * Sessions are per thread: this runs in the main thread after the
 * workers' threads closed theirs. */
static void runtime_worker_free(struct runtime *rt)
{
	if (rt->index == 0)
		session_close_all();
	runtime_set_free(rt, &rt->set, false);
	runtime_set_free(rt, &rt->next, false);
	for (size_t i = 0; i < rt->nretired; i++)
		udp_listener_free(rt->retired[i]);
	free(rt->retired);
	for (size_t i = 0; i < sizeof(rt->signals) / sizeof(rt->signals[0]);
	     i++) {
		if (rt->signals[i] != NULL)
			event_free(rt->signals[i]);
	}
	if (rt->order != NULL)
		event_free(rt->order);
	for (int i = 0; i < 2; i++) {
		if (rt->order_pipe[i] >= 0)
			close(rt->order_pipe[i]);
	}
	if (rt->drain != NULL)
		event_free(rt->drain);
	if (rt->renew != NULL)
		event_free(rt->renew);
	if (rt->sweep != NULL)
		event_free(rt->sweep);
	admin_free(rt->admin);
	if (rt->base != NULL)
		event_base_free(rt->base);
}

void runtime_sweep_start(struct runtime *rt)
{
	if (!evtimer_pending(rt->sweep, NULL))
		evtimer_add(rt->sweep, &runtime_sweep_period);
}

/* Every second while TLS connections or stream sessions live: give back
 * the buffers of the TLS connections that idled through the last second,
 * and add the bytes that sessions moved to the counters. */
static void runtime_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runtime *rt = arg;
	bool more;

	(void)fd;
	(void)what;
	more = tls_release_idle();
	more |= session_count_bytes();
	if (more)
		evtimer_add(rt->sweep, &runtime_sweep_period);
}

/* Twice a day: renew the tls = auto certificates that are due. */
static void runtime_renew_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runtime_gen *gen =
	    atomic_load(&((struct runtime *)arg)->shared->gen);
	char err[1024];

	(void)fd;
	(void)what;
	for (size_t i = 0; i < gen->cfg->nlisteners; i++) {
		if (gen->tls[i] != NULL &&
		    tls_server_renew(gen->tls[i], err, sizeof(err)) < 0)
			log_error("%s (the current certificate stays in use)",
			          err);
	}
}

/* workers = auto is one per online core. */
static unsigned runtime_worker_count(const struct config *cfg)
{
	long n;

	if (cfg->global.workers > 0)
		return cfg->global.workers;
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1                    ? 1
	       : n > CONFIG_WORKERS_MAX ? CONFIG_WORKERS_MAX
	                                : (unsigned)n;
}

/* Each connection needs two descriptors; ask for enough of them. */
static void runtime_raise_nofile(const struct config *cfg)
{
	rlim_t need = (rlim_t)cfg->global.max_connections * 2 + 64;
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= need)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max >= need
	                  ? need
	                  : rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur < need)
		log_warn("open-file limit is %llu but max_connections = %u "
		         "needs %llu; raise it (ulimit -n, or LimitNOFILE= in "
		         "a systemd unit) or lower max_connections",
		         (unsigned long long)rl.rlim_cur,
		         cfg->global.max_connections, (unsigned long long)need);
}

/* "SIGTERM" or "SIGINT", as users write them. */
static const char *runtime_signal_name(int signo)
{
	return signo == SIGINT ? "SIGINT" : "SIGTERM";
}

/* Stop accepting everywhere; each loop ends once its sessions are gone or
 * the drain period is over (UDP flows are not waited for). A second signal
 * stops at once. */
static void runtime_stop(struct runtime *rt, int signo)
{
	struct runtime_shared *shared = rt->shared;
	size_t flows = udp_flow_count();
	unsigned live = atomic_load(&shared->sessions);
	char order = rt->stopping ? RUNTIME_ORDER_NOW : RUNTIME_ORDER_STOP;

	live = live > flows ? live - (unsigned)flows : 0;
	for (unsigned i = 1; i < shared->nworkers; i++) {
		if (write(shared->workers[i].order_pipe[1], &order, 1) < 0)
			log_error("cannot stop worker %u: %s", i,
			          strerror(errno));
	}
	if (rt->stopping) {
		log_info("%s again: closing %u connection%s now",
		         runtime_signal_name(signo), live,
		         live == 1 ? "" : "s");
		session_close_all();
		event_base_loopbreak(rt->base);
		return;
	}
	/* A wait is a warning: whoever pressed Ctrl-C sees why nothing
	 * happens, also under `portier expose`, which logs warnings only. */
	if (live == 0)
		log_info("%s: stopping", runtime_signal_name(signo));
	else
		log_warn("%s: stopped accepting; waiting up to %d s for %u "
		         "connection%s to finish (Ctrl-C or SIGTERM again "
		         "closes %s now)",
		         runtime_signal_name(signo), RUNTIME_DRAIN_SECONDS,
		         live, live == 1 ? "" : "s", live == 1 ? "it" : "them");
	runtime_stop_local(rt);
}

/* Stop this worker's accepting; end its loop now or after the drain. */
static void runtime_stop_local(struct runtime *rt)
{
	struct timeval tv = {RUNTIME_DRAIN_SECONDS, 0};

	rt->stopping = true;
	if (rt->admin != NULL)
		admin_close(rt->admin);
	for (size_t i = 0; i < rt->set.nlisteners; i++)
		listener_close(rt->set.listeners[i]);
	for (size_t i = 0; i < rt->set.nudps; i++)
		udp_listener_close(rt->set.udps[i]);
	/* Idle keep-alive connections would hold the stop for the whole
	 * drain period. */
	http_session_stop();
	if (session_count() == 0)
		event_base_loopbreak(rt->base);
	else
		evtimer_add(rt->drain, &tv);
}

static void runtime_signal_cb(evutil_socket_t signo, short what, void *arg)
{
	struct runtime *rt = arg;

	switch (signo) {
	case SIGTERM:
	case SIGINT:
		runtime_stop(rt, (int)signo);
		break;
	case SIGHUP:
		runtime_reload(rt);
		break;
	case SIGUSR1: {
		char err[1024];

		if (accesslog_reopen(err, sizeof(err)) < 0)
			log_error("SIGUSR1: %s; logging goes on to the old "
			          "file",
			          err);
		else
			log_info("SIGUSR1: log files reopened");
		break;
	}
	}
}

/* An order from worker 0 reached this worker. */
static void runtime_order_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runtime *rt = arg;
	char order;

	if (read(fd, &order, 1) != 1)
		return;
	if (order == RUNTIME_ORDER_STOP) {
		runtime_stop_local(rt);
		return;
	}
	if (order == RUNTIME_ORDER_SWITCH) {
		runtime_switch(rt);
		return;
	}
	if (order == RUNTIME_ORDER_DESCRIBE) {
		metrics_live_take(rt->index, session_describe);
		return;
	}
	session_close_all();
	event_base_loopbreak(rt->base);
}

/* The drain period is over: close what is left. */
static void runtime_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runtime *rt = arg;

	if (session_count() > 0)
		log_info("drain period over: closing %zu connection%s",
		         session_count(), session_count() == 1 ? "" : "s");
	session_close_all();
	event_base_loopbreak(rt->base);
}

/* Run the loop until it is broken or has nothing left to watch. Each
 * turn runs the callbacks of what became ready, then lets the HTTP
 * sessions write what those callbacks had for their clients. */
static int runtime_loop(struct runtime *rt)
{
	for (;;) {
		int r = event_base_loop(rt->base, EVLOOP_ONCE);

		if (r < 0)
			return -1;
		http_session_flush();
		if (r == 1 || event_base_got_break(rt->base) ||
		    event_base_got_exit(rt->base))
			return 0;
	}
}

/* A worker thread: run its loop until told to stop, then close what is
 * left of its sessions (they live in this thread). */
static void *runtime_thread_main(void *arg)
{
	struct runtime *rt = arg;

	if (runtime_loop(rt) < 0)
		log_error("worker %u: event loop failed", rt->index);
	session_close_all();
	return NULL;
}
