/* SPDX-License-Identifier: MIT */
/*
 * The runtime: one event loop, the listeners built from a config, and the
 * signals. A graceful stop closes the listening sockets at once (new
 * clients are refused by the kernel, not left waiting) and lets open
 * connections finish for up to RUNTIME_DRAIN_SECONDS.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "portier/runtime.h"
#include "portier/config.h"
#include "portier/listener.h"
#include "portier/log.h"
#include "portier/session.h"

struct runtime {
	struct event_base *base;
	struct config *cfg;          /* owned */
	struct listener **listeners; /* one per started [listener] */
	size_t nlisteners;
	struct event *signals[4]; /* TERM, INT, HUP, USR1 */
	struct event *drain;      /* end of the graceful stop */
	bool stopping;
};

static void runtime_raise_nofile(const struct config *cfg);
static void runtime_stop(struct runtime *rt, int signo);
static void runtime_signal_cb(evutil_socket_t signo, short what, void *arg);
static void runtime_drain_cb(evutil_socket_t fd, short what, void *arg);

struct runtime *runtime_new(struct config *cfg)
{
	static const int signos[] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
	struct event_config *ecfg;
	struct runtime *rt;
	char err[1024];

	rt = calloc(1, sizeof(*rt));
	if (rt == NULL) {
		config_free(cfg);
		log_error("out of memory");
		return NULL;
	}
	rt->cfg = cfg;
	/* One thread owns the loop: no locks needed. The relay relies on
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
		log_error("cannot create the event loop (portier needs epoll "
		          "with edge-triggered events and EPOLLRDHUP)");
		goto err;
	}
	for (size_t i = 0; i < cfg->notes.n; i++)
		log_warn("%s", cfg->notes.v[i]);
	runtime_raise_nofile(cfg);

	rt->listeners = calloc(cfg->nlisteners, sizeof(*rt->listeners));
	if (rt->listeners == NULL && cfg->nlisteners) {
		log_error("out of memory");
		goto err;
	}
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct config_listener *cl = &cfg->listeners[i];

		/* Other modes and TLS arrive in later versions; the notes
		 * printed above name each listener left out. */
		if (cl->mode != CONFIG_MODE_TCP || cl->tls != CONFIG_TLS_OFF)
			continue;
		rt->listeners[rt->nlisteners] =
		    listener_new(rt, cl, err, sizeof(err));
		if (rt->listeners[rt->nlisteners] == NULL) {
			log_error("%s", err);
			goto err;
		}
		rt->nlisteners++;
	}
	if (rt->nlisteners == 0) {
		log_error("%s: no listener that this version can run (only "
		          "mode = tcp is supported yet)",
		          cfg->path);
		goto err;
	}
	for (size_t i = 0; i < sizeof(signos) / sizeof(signos[0]); i++) {
		rt->signals[i] =
		    evsignal_new(rt->base, signos[i], runtime_signal_cb, rt);
		if (rt->signals[i] == NULL ||
		    evsignal_add(rt->signals[i], NULL) < 0) {
			log_error("cannot install signal handlers");
			goto err;
		}
	}
	rt->drain = evtimer_new(rt->base, runtime_drain_cb, rt);
	if (rt->drain == NULL) {
		log_error("out of memory");
		goto err;
	}
	log_info("portier ready: %zu listener%s from %s (version %s)",
	         rt->nlisteners, rt->nlisteners == 1 ? "" : "s", cfg->path,
	         PACKAGE_VERSION);
	return rt;
err:
	runtime_free(rt);
	return NULL;
}

int runtime_run(struct runtime *rt)
{
	if (event_base_dispatch(rt->base) < 0) {
		log_error("event loop failed");
		return 2;
	}
	log_info("portier stopped");
	return 0;
}

void runtime_free(struct runtime *rt)
{
	if (rt == NULL)
		return;
	session_close_all();
	for (size_t i = 0; i < rt->nlisteners; i++) {
		listener_close(rt->listeners[i]);
		listener_unref(rt->listeners[i]);
	}
	free(rt->listeners);
	for (size_t i = 0; i < sizeof(rt->signals) / sizeof(rt->signals[0]);
	     i++) {
		if (rt->signals[i] != NULL)
			event_free(rt->signals[i]);
	}
	if (rt->drain != NULL)
		event_free(rt->drain);
	if (rt->base != NULL)
		event_base_free(rt->base);
	config_free(rt->cfg);
	free(rt);
}

struct event_base *runtime_base(const struct runtime *rt)
{
	return rt->base;
}

const struct config_global *runtime_global(const struct runtime *rt)
{
	return &rt->cfg->global;
}

int runtime_full(const struct runtime *rt)
{
	return session_count() >= rt->cfg->global.max_connections;
}

void runtime_session_closed(struct runtime *rt)
{
	if (rt->stopping && session_count() == 0)
		event_base_loopbreak(rt->base);
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

/* Stop accepting; end the loop once the sessions are gone or the drain
 * period is over. A second signal stops at once. */
static void runtime_stop(struct runtime *rt, int signo)
{
	struct timeval tv = {RUNTIME_DRAIN_SECONDS, 0};

	if (rt->stopping) {
		log_info("%s again: closing %zu connection%s now",
		         runtime_signal_name(signo), session_count(),
		         session_count() == 1 ? "" : "s");
		session_close_all();
		event_base_loopbreak(rt->base);
		return;
	}
	rt->stopping = true;
	for (size_t i = 0; i < rt->nlisteners; i++)
		listener_close(rt->listeners[i]);
	if (session_count() == 0) {
		log_info("%s: stopping", runtime_signal_name(signo));
		event_base_loopbreak(rt->base);
		return;
	}
	log_info("%s: stopped accepting; waiting up to %d s for %zu "
	         "connection%s to finish",
	         runtime_signal_name(signo), RUNTIME_DRAIN_SECONDS,
	         session_count(), session_count() == 1 ? "" : "s");
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
		log_warn("SIGHUP: configuration reload is not supported yet by "
		         "this version; the running configuration stays");
		break;
	case SIGUSR1:
		log_info("SIGUSR1: logs go to stderr; nothing to reopen");
		break;
	}
}

/* The drain period is over: close what is left. */
static void runtime_drain_cb(evutil_socket_t fd, short what, void *arg)
{
	struct runtime *rt = arg;

	log_info("drain period over: closing %zu connection%s", session_count(),
	         session_count() == 1 ? "" : "s");
	session_close_all();
	event_base_loopbreak(rt->base);
}
