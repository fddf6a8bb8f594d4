/* SPDX-License-Identifier: MIT */
/*
 * `portier doctor`: a report, one line per check, of what would keep a
 * configuration from working, in the order a connection meets it.
 *
 * - the file: every error as FILE:LINE, as `portier -t` gives them (the
 *   directories of access_log and pidfile too), and its notes; a note
 *   about a listener comes under the listener, and an http listener whose
 *   every request gets 404 (no backend, and no vhost serves it), or a
 *   tls-passthrough one that closes every connection for that reason, is
 *   a problem there; for redirect_https to a port where no listener of the
 *   file serves TLS, what holds that port on this machine is said,
 *   nothing (or a plain listener of the file) being a problem;
 * - each socket of each bind address: bound for a moment (as the listener
 *   would bind it) and closed; in use means another process holds it,
 *   named by portdiag.c, unless that process is a portier running this
 *   same file, which is how things should be;
 * - the certificates and keys of tls = on listeners and their vhosts,
 *   loaded by the function -t uses (tls_server_check), with the same
 *   FILE:LINE messages; a file that is not there is a problem here, where
 *   -t only notes it (the file may be put in place after the check);
 * - each backend: a TCP connect with a short timeout, on [::1] and on
 *   127.0.0.1 separately for localhost:PORT, so that the report says which
 *   family answers (a dev server on ::1 only is the classic trap of
 *   backend = 127.0.0.1:PORT). UDP backends are never sent data: on
 *   loopback the socket table shows whether anything is bound there;
 * - the firewall in front of listeners bound beyond loopback (firewall.c);
 * - the local CA of tls = auto listeners: present, and in the system
 *   store's bundle.
 * A line starts with ✓ (fine), ✗ (a problem; the exit status becomes 1)
 * or - (information, such as what could not be seen without root).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "portier/doctor.h"
#include "portier/addr.h"
#include "portier/ca.h"
#include "portier/config.h"
#include "portier/daemon.h"
#include "portier/firewall.h"
#include "portier/lan.h"
#include "portier/portdiag.h"
#include "portier/route.h"
#include "portier/tls.h"

/* How long a backend has to accept a connection. */
#define DOCTOR_CONNECT_MS 1000
/* Where processes and sockets are read from. */
#define DOCTOR_PROC "/proc"
/* Size of the buffer that receives configuration errors. */
#define DOCTOR_ERRLEN 16384

/* The bundles that system stores build, first found wins: Debian and
 * derivatives, Fedora and RHEL, openSUSE, Alpine and Arch. */
static const char *const doctor_bundles[] = {
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/ssl/cert.pem",
};

static const char usage_text[] =
    "usage: portier doctor [-c FILE]\n"
    "Check a configuration and what it needs from this machine, one line\n"
    "per check: the file (with the directories of access_log and\n"
    "pidfile); each bind address (free, or held by whom); the\n"
    "certificates and keys of tls = on listeners; each backend on [::1]\n"
    "and 127.0.0.1; an http listener whose every request would get 404,\n"
    "or a tls-passthrough one that would close every connection (no\n"
    "backend, and no vhost serves it); the https port of\n"
    "redirect_https when no listener of the file serves TLS there (what\n"
    "holds it); the firewall rules in front of listeners bound beyond\n"
    "loopback (read with nft or iptables-save, as root); the local CA of\n"
    "tls = auto and whether the system trusts it.\n"
    "\n"
    "  -c FILE   configuration file (default: the one `portier` runs)\n"
    "\n"
    "Lines start with \u2713 (fine), \u2717 (a problem) or - (information).\n"
    "Nothing is changed. Exit status: 0 when no check failed, else 1.\n";

/* What a report line says. */
enum doctor_mark {
	DOCTOR_OK,
	DOCTOR_BAD,
	DOCTOR_INFO,
};

/* A backend checked already, and under which heading. */
struct doctor_seen {
	struct addr addr;
	int proto;
	char heading[96];
};

/* The warnings tls.c gave about the certificates of one listener. */
#define CERT_WARNINGS_MAX 16
struct cert_warnings {
	size_t n;
	bool serious[CERT_WARNINGS_MAX];
	char msg[CERT_WARNINGS_MAX][1024];
};

/* The state of one run. */
struct doctor {
	const char *path; /* the configuration file */
	const struct config *cfg;
	unsigned problems;        /* ✗ lines */
	bool unseen;              /* something needed root to be seen */
	bool indent;              /* inside a heading */
	char heading[96];         /* the current one: "listener web" */
	struct doctor_seen *seen; /* backends checked */
	size_t nseen;
	bool fw_tried; /* firewall_read was called */
	struct firewall *fw;
	char fw_why[256];
};

static void report(struct doctor *d, enum doctor_mark mark, const char *fmt,
                   ...) __attribute__((format(printf, 3, 4)));
static void heading(struct doctor *d, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void config_errors(struct doctor *d, const char *err);
static void check_files(struct doctor *d);
static void check_listener(struct doctor *d, const struct config_listener *l);
static void check_listener_notes(struct doctor *d,
                                 const struct config_listener *l);
static void check_redirect(struct doctor *d, const struct config_listener *l,
                           const char *note);
static void check_bind(struct doctor *d, int proto, const struct addr *a,
                       bool optional);
static void check_admin(struct doctor *d, const struct config_global *g);
static bool held_by_portier(struct doctor *d, int proto, const struct addr *a,
                            const char *what);
static bool in_use(int proto, const struct addr *a);
static void check_certificates(struct doctor *d,
                               const struct config_listener *l);
static void certificate_warning(void *arg, bool serious, const char *msg);
static void report_cert_warnings(struct doctor *d,
                                 const struct cert_warnings *w);
static void check_vhost(struct doctor *d, const struct config_vhost *v);
static void check_backend(struct doctor *d, const char *label, const char *key,
                          const struct addr *a);
static void check_udp_backend(struct doctor *d, const char *label,
                              const char *key, const struct addr *a);
static bool seen_before(struct doctor *d, const char *label,
                        const struct addr *a, int proto);
static int probe(const struct addr *a);
static const char *probe_error(int err);
static bool is_loopback(const struct addr *a);
static void check_firewall(struct doctor *d, const struct config_listener *l);
static void check_ca(struct doctor *d);
static int bundle_has(const char *bundle, X509 *root);
static bool can_create_dir(const char *dir, char *err, size_t errlen);
static void shell_word(const char *text, char *buf, size_t len);

int doctor_command(int argc, char **argv, const char *default_config)
{
	struct doctor d;
	struct config *cfg;
	const char *path = NULL;
	char *err;
	int opt;

	optind = 1;
	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs("Try 'portier doctor -h' for help.\n", stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "portier doctor: unexpected argument '%s'\n%s",
		        argv[optind], "Try 'portier doctor -h' for help.\n");
		return 1;
	}
	memset(&d, 0, sizeof(d));
	d.path = path != NULL ? path : default_config;
	err = malloc(DOCTOR_ERRLEN);
	if (err == NULL) {
		fputs("portier: out of memory\n", stderr);
		return 1;
	}
	err[0] = '\0';
	cfg = config_load(d.path, err, DOCTOR_ERRLEN);
	if (cfg == NULL) {
		config_errors(&d, err);
		if (path == NULL)
			report(&d, DOCTOR_INFO,
			       "give the configuration to check with -c FILE");
		free(err);
		printf("\n%u problem%s found\n", d.problems,
		       d.problems == 1 ? "" : "s");
		return 1;
	}
	free(err);
	d.cfg = cfg;
	report(&d, DOCTOR_OK,
	       "%s: configuration valid (%zu listener%s, %zu vhost%s)", d.path,
	       cfg->nlisteners, cfg->nlisteners == 1 ? "" : "s", cfg->nvhosts,
	       cfg->nvhosts == 1 ? "" : "s");
	/* Those about a listener come under it. */
	for (size_t i = 0; i < cfg->notes.n; i++) {
		if (cfg->notes_about[i].kind == CONFIG_NOTE_FILE)
			report(&d, DOCTOR_INFO, "%s", cfg->notes.v[i]);
	}
	check_files(&d);
	for (size_t i = 0; i < cfg->nlisteners; i++)
		check_listener(&d, &cfg->listeners[i]);
	if (cfg->global.has_admin)
		check_admin(&d, &cfg->global);
	for (size_t i = 0; i < cfg->nvhosts; i++)
		check_vhost(&d, &cfg->vhosts[i]);
	check_ca(&d);
	if (d.problems > 0)
		printf("\n%u problem%s found\n", d.problems,
		       d.problems == 1 ? "" : "s");
	else
		printf("\neverything looks fine%s\n",
		       d.unseen ? " (as far as could be seen without root)"
		                : "");
	firewall_free(d.fw);
	free(d.seen);
	config_free(cfg);
	return d.problems > 0 ? 1 : 0;
}

/* Print one line: mark, then the text; a ✗ counts as a problem. */
static void report(struct doctor *d, enum doctor_mark mark, const char *fmt,
                   ...)
{
	static const char *const marks[] = {"\u2713", "\u2717", "-"};
	va_list ap;

	printf("%s%s ", d->indent ? "  " : "", marks[mark]);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (mark == DOCTOR_BAD)
		d->problems++;
}

/* Start a group of lines: a blank line, the heading (name, then what
 * fmt adds), then indented lines. */
static void heading(struct doctor *d, const char *name, const char *fmt, ...)
{
	va_list ap;

	snprintf(d->heading, sizeof(d->heading), "%s", name);
	printf("\n%s", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	d->indent = true;
}

/* Print config_load's messages, one ✗ line each. */
static void config_errors(struct doctor *d, const char *err)
{
	const char *line = err, *nl;
	int n = 0;

	while (*line != '\0') {
		nl = strchr(line, '\n');
		if (nl == NULL)
			nl = line + strlen(line);
		if (nl > line) {
			report(d, DOCTOR_BAD, "%.*s", (int)(nl - line), line);
			n++;
		}
		line = *nl != '\0' ? nl + 1 : nl;
	}
	if (n == 0)
		report(d, DOCTOR_BAD, "%s: the configuration cannot be loaded",
		       d->path);
}

/* The directories of the access log and the pidfile, as -t checks
 * them. */
static void check_files(struct doctor *d)
{
	const struct config_global *g = &d->cfg->global;
	char err[4096];

	if (daemon_check_files(d->cfg, NULL,
	                       daemon_needs_root(g->user, g->group), err,
	                       sizeof(err)) > 0)
		config_errors(d, err);
}

/* A listener's binds, backend and firewall. */
static void check_listener(struct doctor *d, const struct config_listener *l)
{
	char binds[512], name[ADDR_STRLEN], title[96];
	struct addr socks[2];
	bool optional[2];
	size_t used = 0;
	int n;

	binds[0] = '\0';
	for (size_t i = 0; i < l->nbinds && used < sizeof(binds); i++)
		used += (size_t)snprintf(
		    binds + used, sizeof(binds) - used, "%s%s",
		    i > 0 ? ", " : "",
		    addr_format(&l->binds[i], name, sizeof(name)));
	snprintf(title, sizeof(title), "listener %s", l->name);
	heading(d, title, ": %s%s on %s", config_mode_name(l->mode),
	        l->tls == CONFIG_TLS_AUTO ? " over TLS (auto)"
	        : l->tls == CONFIG_TLS_ON ? " over TLS"
	                                  : "",
	        binds);
	for (size_t i = 0; i < l->nbinds; i++) {
		n = addr_bind_sockets(&l->binds[i], socks, optional);
		for (int j = 0; j < n; j++)
			check_bind(d,
			           l->mode == CONFIG_MODE_UDP ? IPPROTO_UDP
			                                      : IPPROTO_TCP,
			           &socks[j], optional[j]);
	}
	check_certificates(d, l);
	if (l->has_backend && l->mode == CONFIG_MODE_UDP)
		check_udp_backend(d, "backend", "backend = ", &l->backend);
	else if (l->has_backend)
		check_backend(d, "backend", "backend = ", &l->backend);
	else if (l->redirect_https != 0)
		report(d, DOCTOR_INFO, "no backend: redirects to https port %u",
		       (unsigned)l->redirect_https);
	check_listener_notes(d, l);
	check_firewall(d, l);
}

/* The notes of the file about what listener l serves. */
static void check_listener_notes(struct doctor *d,
                                 const struct config_listener *l)
{
	const struct config *cfg = d->cfg;
	size_t index = (size_t)(l - cfg->listeners);

	for (size_t i = 0; i < cfg->notes.n; i++) {
		const struct config_note_about *about = &cfg->notes_about[i];

		if (about->kind == CONFIG_NOTE_FILE || about->listener != index)
			continue;
		/* Nothing this listener answers is what the user wants,
		 * nor is a redirect to a plain listener of the file. */
		if (about->kind == CONFIG_NOTE_UNSERVED ||
		    about->kind == CONFIG_NOTE_REDIRECT_PLAIN)
			report(d, DOCTOR_BAD, "%s", cfg->notes.v[i]);
		else if (about->kind == CONFIG_NOTE_REDIRECT)
			check_redirect(d, l, cfg->notes.v[i]);
	}
}

/* redirect_https to a port no listener of the file serves (the note says
 * so): what holds the port on this machine is said, nothing being a
 * problem. */
static void check_redirect(struct doctor *d, const struct config_listener *l,
                           const char *note)
{
	struct portdiag_socket *list = NULL;
	uint16_t port = l->redirect_https;
	char holder[192];
	size_t n = 0;

	report(d, DOCTOR_INFO, "%s", note);
	if (portdiag_list_port(DOCTOR_PROC, IPPROTO_TCP, port, &list, &n) <
	    0) {
		report(d, DOCTOR_INFO,
		       "could not see what listens on tcp port %u (cannot "
		       "read the socket table)",
		       (unsigned)port);
		return;
	}
	if (n == 0) {
		report(d, DOCTOR_BAD,
		       "nothing listens on tcp port %u on this machine: the "
		       "redirect leads nowhere",
		       (unsigned)port);
	} else {
		portdiag_describe_holder(&list[0], holder, sizeof(holder));
		report(d, DOCTOR_INFO,
		       "tcp port %u is held by %s: browsers that follow the "
		       "redirect meet it",
		       (unsigned)port, holder);
	}
	free(list);
}

/* The admin server's address, bound as a listener's is. */
static void check_admin(struct doctor *d, const struct config_global *g)
{
	char name[ADDR_STRLEN];
	struct addr socks[2];
	bool optional[2];
	int n;

	heading(d, "admin", ": status page on %s",
	        addr_format(&g->admin, name, sizeof(name)));
	n = addr_bind_sockets(&g->admin, socks, optional);
	for (int j = 0; j < n; j++)
		check_bind(d, IPPROTO_TCP, &socks[j], optional[j]);
}

/* Bind one socket the way a listener of proto would, then close it. */
static void check_bind(struct doctor *d, int proto, const struct addr *a,
                       bool optional)
{
	int family = a->sa.sa.sa_family, one = 1, fd, e = 0;
	char name[ADDR_STRLEN], what[ADDR_STRLEN + 8], why[512];

	addr_format(a, name, sizeof(name));
	snprintf(what, sizeof(what), "%s%s", proto == IPPROTO_UDP ? "udp " : "",
	         name);
	fd = socket(family,
	            (proto == IPPROTO_UDP ? SOCK_DGRAM : SOCK_STREAM) |
	                SOCK_CLOEXEC,
	            0);
	if (fd < 0) {
		e = errno;
	} else {
		/* As listener.c and udp.c do: SO_REUSEADDR for TCP only (on
		 * UDP it would share a port that is in use), and IPv6
		 * sockets that leave IPv4 to their own socket. */
		if (proto == IPPROTO_TCP)
			(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
			                 sizeof(one));
		if (family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one,
			                 sizeof(one));
		if (bind(fd, &a->sa.sa, a->salen) < 0)
			e = errno;
		close(fd);
	}
	if (e == 0) {
		report(d, DOCTOR_OK, "%s is free", what);
		return;
	}
	if (optional && (e == EAFNOSUPPORT || e == EADDRNOTAVAIL)) {
		report(d, DOCTOR_INFO,
		       "%s: no IPv6 on this machine; portier skips it too",
		       what);
		return;
	}
	if ((e == EADDRINUSE || e == EACCES) &&
	    held_by_portier(d, proto, a, what))
		return;
	/* A privileged port held by another program: that is what stands in
	 * the way even for root. */
	if (e == EACCES && in_use(proto, a))
		e = EADDRINUSE;
	portdiag_explain_bind(DOCTOR_PROC, e, &a->sa.sa, a->salen, proto, why,
	                      sizeof(why));
	if (e == EADDRINUSE && geteuid() != 0 && strstr(why, "cannot see"))
		d->unseen = true;
	report(d, DOCTOR_BAD, "%s: %s", what, why);
}

/*
 * When a portier process holds a socket that overlaps a, report it and
 * return true: running this configuration is the expected state (✓),
 * another one is a conflict (✗). When its command line cannot tell, say
 * so with a question.
 */
static bool held_by_portier(struct doctor *d, int proto, const struct addr *a,
                            const char *what)
{
	struct portdiag_socket *list = NULL;
	char other[PATH_MAX];
	struct addr sock;
	size_t n = 0;
	bool found = false;

	if (portdiag_list_port(DOCTOR_PROC, proto, a->port, &list, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !found; i++) {
		portdiag_socket_addr(&list[i], &sock);
		if (list[i].pid <= 0 ||
		    strcmp(list[i].program, "portier") != 0 ||
		    !addr_overlaps(a, &sock))
			continue;
		found = true;
		switch (
		    portdiag_same_config(DOCTOR_PROC, list[i].pid, d->path, other,
		                         sizeof(other))) {
		case 1:
			report(d, DOCTOR_OK,
			       "%s is held by portier (pid %ld) running this "
			       "configuration",
			       what, (long)list[i].pid);
			break;
		case 0:
			report(d, DOCTOR_BAD,
			       "%s is held by another portier (pid %ld, %s)",
			       what, (long)list[i].pid, other);
			break;
		default:
			report(d, DOCTOR_OK,
			       "%s is held by portier (pid %ld), running this "
			       "configuration?",
			       what, (long)list[i].pid);
			break;
		}
	}
	free(list);
	return found;
}

/* True when a socket on this machine overlaps a. */
static bool in_use(int proto, const struct addr *a)
{
	struct portdiag_socket *list = NULL;
	struct addr sock;
	size_t n = 0;
	bool found = false;

	if (portdiag_list_port(DOCTOR_PROC, proto, a->port, &list, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !found; i++) {
		portdiag_socket_addr(&list[i], &sock);
		found = addr_overlaps(a, &sock);
	}
	free(list);
	return found;
}

/* tls = on: the listener's certificate and key, and those of its vhosts,
 * loaded as a start loads them (tls_server_check, the check of -t too);
 * tls = auto: those of its vhosts (its own come from the local CA, which
 * check_ca looks at); the messages are the start's, FILE:LINE first. */
static void check_certificates(struct doctor *d,
                               const struct config_listener *l)
{
	const struct config *cfg = d->cfg;
	struct cert_warnings w = {.n = 0};
	size_t nvhosts = 0;
	char err[4096];
	bool failed;
	int e;

	if (l->tls == CONFIG_TLS_OFF)
		return;
	/* Its warnings are findings here, not log lines. */
	tls_set_warn(certificate_warning, &w);
	failed = tls_server_check(cfg, l, err, sizeof(err)) < 0;
	e = errno;
	tls_set_warn(NULL, NULL);
	if (failed) {
		report(d, DOCTOR_BAD, "%s%s", err,
		       e == EACCES && geteuid() != 0
		           ? " (portier started as root could read it)"
		           : "");
		report_cert_warnings(d, &w);
		return;
	}
	for (size_t i = 0; i < cfg->nvhosts; i++)
		nvhosts += cfg->vhosts[i].tls_cert != NULL &&
		           config_vhost_serves(&cfg->vhosts[i], l);
	if (l->tls == CONFIG_TLS_AUTO) {
		if (nvhosts > 0)
			report(d, DOCTOR_OK, "the tls_cert and tls_key of %zu "
			       "vhost%s load and belong together",
			       nvhosts, nvhosts == 1 ? "" : "s");
	} else if (nvhosts == 0)
		report(d, DOCTOR_OK, "tls_cert and tls_key load and belong "
		       "together");
	else
		report(d, DOCTOR_OK, "tls_cert and tls_key load and belong "
		       "together, and those of %zu vhost%s",
		       nvhosts, nvhosts == 1 ? "" : "s");
	report_cert_warnings(d, &w);
}

/* The warnings kept by certificate_warning. */
static void report_cert_warnings(struct doctor *d,
                                 const struct cert_warnings *w)
{
	for (size_t i = 0; i < w->n; i++)
		report(d, w->serious[i] ? DOCTOR_BAD : DOCTOR_INFO, "%s",
		       w->msg[i]);
}

/* A warning of tls.c about a certificate that loads, kept to be reported
 * after the line that says the files load: a problem when clients will
 * refuse the certificate, else a note. */
static void certificate_warning(void *arg, bool serious, const char *msg)
{
	struct cert_warnings *w = arg;

	if (w->n < CERT_WARNINGS_MAX) {
		snprintf(w->msg[w->n], sizeof(w->msg[w->n]), "%s", msg);
		w->serious[w->n++] = serious;
	}
}

/* A vhost's backend and routes. */
static void check_vhost(struct doctor *d, const struct config_vhost *v)
{
	char label[256], key[256], title[96];

	if (!v->has_backend && v->nroutes == 0)
		return;
	snprintf(title, sizeof(title), "vhost %s", v->name);
	heading(d, title, "%s", "");
	if (v->has_backend)
		check_backend(d, "backend", "backend = ", &v->backend);
	for (size_t i = 0; i < v->nroutes; i++) {
		snprintf(label, sizeof(label), "route %s: backend",
		         v->routes[i].prefix);
		snprintf(key, sizeof(key), "route = %s ", v->routes[i].prefix);
		check_backend(d, label, key, &v->routes[i].backend);
	}
}

/*
 * Connect to a TCP or unix backend. label names it in the line ("backend",
 * "route /api: backend"); key is how the configuration would write a
 * better value ("backend = "), for the hint to use localhost.
 */
static void check_backend(struct doctor *d, const char *label, const char *key,
                          const struct addr *a)
{
	char name[ADDR_STRLEN], v6[ADDR_STRLEN], v4[ADDR_STRLEN];
	char other_name[ADDR_STRLEN];
	struct addr six, four, other;
	int e6, e4, e;

	if (seen_before(d, label, a, IPPROTO_TCP))
		return;
	addr_format(a, name, sizeof(name));
	if (a->kind == ADDR_LOCALHOST) {
		addr_inet(&six, AF_INET6, true, a->port);
		addr_inet(&four, AF_INET, true, a->port);
		addr_format(&six, v6, sizeof(v6));
		addr_format(&four, v4, sizeof(v4));
		e6 = probe(&six);
		e4 = probe(&four);
		if (e6 == 0 && e4 == 0)
			report(d, DOCTOR_OK, "%s %s answers on %s and %s",
			       label, name, v6, v4);
		else if (e6 == 0 || e4 == 0)
			report(d, DOCTOR_OK,
			       "%s %s answers on %s only (fine: portier tries "
			       "both; %s would not work)",
			       label, name, e6 == 0 ? v6 : v4,
			       e6 == 0 ? v4 : v6);
		else
			report(d, DOCTOR_BAD,
			       "%s %s does not answer: %s %s, %s %s", label,
			       name, v6, probe_error(e6), v4, probe_error(e4));
		return;
	}
	e = probe(a);
	if (e == 0) {
		report(d, DOCTOR_OK, "%s %s answers", label, name);
		return;
	}
	/* 127.0.0.1 refused: does the service listen on ::1 instead (or
	 * the other way round)? */
	if (addr_other_loopback(a, &other) && probe(&other) == 0) {
		addr_format(&other, other_name, sizeof(other_name));
		report(d, DOCTOR_BAD,
		       "%s %s does not answer (%s) but %s does: write "
		       "%slocalhost:%u, which portier tries on both",
		       label, name, probe_error(e), other_name, key,
		       (unsigned)a->port);
		return;
	}
	report(d, DOCTOR_BAD, "%s %s does not answer: %s", label, name,
	       probe_error(e));
}

/* UDP backends are not sent data (a service may act on any datagram); on
 * loopback the socket table tells whether anything is bound there. */
static void check_udp_backend(struct doctor *d, const char *label,
                              const char *key, const struct addr *a)
{
	struct portdiag_socket *list = NULL;
	char name[ADDR_STRLEN], other_name[ADDR_STRLEN], holder[192];
	struct addr sock, other;
	size_t n = 0;

	if (seen_before(d, label, a, IPPROTO_UDP))
		return;
	addr_format(a, name, sizeof(name));
	if (a->kind != ADDR_LOCALHOST && !is_loopback(a)) {
		report(d, DOCTOR_INFO,
		       "udp %s %s: not checked (a UDP service can only be "
		       "checked by sending it data)",
		       label, name);
		return;
	}
	if (portdiag_list_port(DOCTOR_PROC, IPPROTO_UDP, a->port, &list, &n) <
	    0) {
		report(d, DOCTOR_INFO,
		       "udp %s %s: not checked (cannot read the socket table)",
		       label, name);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		portdiag_socket_addr(&list[i], &sock);
		/* A dual-stack [::] socket takes 127.0.0.1's datagrams too. */
		if (!addr_overlaps(a, &sock) &&
		    !(portdiag_takes_ipv4(&list[i]) &&
		      a->kind == ADDR_INET && a->sa.sa.sa_family == AF_INET))
			continue;
		portdiag_describe_holder(&list[i], holder, sizeof(holder));
		report(d, DOCTOR_OK, "udp %s %s: a socket is bound there by %s",
		       label, name, holder);
		free(list);
		return;
	}
	/* 127.0.0.1 has nothing: is the service bound on [::1] instead (or
	 * the other way round)? */
	if (addr_other_loopback(a, &other)) {
		for (size_t i = 0; i < n; i++) {
			portdiag_socket_addr(&list[i], &sock);
			if (!addr_overlaps(&other, &sock))
				continue;
			portdiag_describe_holder(&list[i], holder,
			                         sizeof(holder));
			addr_format(&other, other_name, sizeof(other_name));
			report(d, DOCTOR_BAD,
			       "udp %s %s: nothing is bound there, but %s is "
			       "(by %s): write %slocalhost:%u, which portier "
			       "tries on both",
			       label, name, other_name, holder, key,
			       (unsigned)a->port);
			free(list);
			return;
		}
	}
	free(list);
	report(d, DOCTOR_BAD,
	       "udp %s %s: nothing is bound to udp port %u on this machine",
	       label, name, (unsigned)a->port);
}

/* A backend is checked once; later uses point back to the first line. */
static bool seen_before(struct doctor *d, const char *label,
                        const struct addr *a, int proto)
{
	struct doctor_seen *bigger;
	char name[ADDR_STRLEN];

	for (size_t i = 0; i < d->nseen; i++) {
		const struct doctor_seen *s = &d->seen[i];
		bool same = a->kind == ADDR_LOCALHOST
		                ? s->addr.kind == ADDR_LOCALHOST &&
		                      s->addr.port == a->port
		                : addr_equal(&s->addr, a);

		if (!same || s->proto != proto)
			continue;
		report(d, DOCTOR_INFO, "%s %s: checked above (%s)", label,
		       addr_format(a, name, sizeof(name)), s->heading);
		return true;
	}
	bigger = realloc(d->seen, (d->nseen + 1) * sizeof(*d->seen));
	if (bigger == NULL)
		return false; /* checked again, which is harmless */
	d->seen = bigger;
	d->seen[d->nseen].addr = *a;
	d->seen[d->nseen].proto = proto;
	snprintf(d->seen[d->nseen].heading, sizeof(d->seen[0].heading), "%s",
	         d->heading);
	d->nseen++;
	return false;
}

/* Connect to a (ADDR_INET or ADDR_UNIX) within DOCTOR_CONNECT_MS and close
 * at once. Returns 0 when it answered, else the errno. */
static int probe(const struct addr *a)
{
	struct pollfd p;
	socklen_t len = sizeof(int);
	int fd, err = 0, ready;

	fd = socket(a->sa.sa.sa_family,
	            SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (connect(fd, &a->sa.sa, a->salen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto out;
		}
		p.fd = fd;
		p.events = POLLOUT;
		do
			ready = poll(&p, 1, DOCTOR_CONNECT_MS);
		while (ready < 0 && errno == EINTR);
		if (ready == 0)
			err = ETIMEDOUT;
		else if (ready < 0 ||
		         getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
	}
out:
	close(fd);
	return err;
}

/* A connect error in a few words. */
static const char *probe_error(int err)
{
	switch (err) {
	case ECONNREFUSED:
		return "connection refused";
	case ETIMEDOUT:
		return "no answer within 1 s";
	case ENOENT:
		return "no such socket file";
	case EACCES:
		return "permission denied";
	case EAFNOSUPPORT:
	case EADDRNOTAVAIL:
		return "address not available (no IPv6?)";
	default:
		return strerror(err);
	}
}

/* True for 127.0.0.0/8 and ::1. */
static bool is_loopback(const struct addr *a)
{
	if (a->kind != ADDR_INET)
		return false;
	if (a->sa.sa.sa_family == AF_INET)
		return (ntohl(a->sa.sin.sin_addr.s_addr) >> 24) == 127;
	return a->sa.sa.sa_family == AF_INET6 &&
	       IN6_IS_ADDR_LOOPBACK(&a->sa.sin6.sin6_addr);
}

/* For a listener bound beyond loopback: do the input rules drop its
 * port? */
static void check_firewall(struct doctor *d, const struct config_listener *l)
{
	int proto = l->mode == CONFIG_MODE_UDP ? IPPROTO_UDP : IPPROTO_TCP;
	const char *pname = proto == IPPROTO_UDP ? "udp" : "tcp";
	enum firewall_verdict verdict;
	int families = 0;
	char why[768];

	if (!lan_exposed(l->binds, l->nbinds))
		return;
	if (!d->fw_tried) {
		d->fw = firewall_read(d->fw_why, sizeof(d->fw_why));
		d->fw_tried = true;
	}
	if (d->fw == NULL) {
		report(d, DOCTOR_INFO, "could not read the firewall rules (%s)",
		       d->fw_why);
		if (geteuid() != 0)
			d->unseen = true;
		return;
	}
	for (size_t i = 0; i < l->nbinds; i++) {
		if (l->binds[i].kind == ADDR_ANY)
			families |= FIREWALL_IPV4 | FIREWALL_IPV6;
		else if (l->binds[i].sa.sa.sa_family == AF_INET6)
			families |= FIREWALL_IPV6;
		else
			families |= FIREWALL_IPV4;
	}
	for (size_t i = 0; i < l->nbinds; i++) {
		bool done = false;

		/* One line per port, however many addresses share it. */
		for (size_t j = 0; j < i; j++)
			done |= l->binds[j].port == l->binds[i].port;
		if (done)
			continue;
		verdict = firewall_check(d->fw, proto, l->binds[i].port,
		                         families, why, sizeof(why));
		if (verdict == FIREWALL_OPEN)
			report(d, DOCTOR_OK, "firewall%s%s%s: %s port %u: %s",
			       *firewall_sources(d->fw) ? " (" : "",
			       firewall_sources(d->fw),
			       *firewall_sources(d->fw) ? ")" : "", pname,
			       (unsigned)l->binds[i].port, why);
		else
			report(d,
			       verdict == FIREWALL_DROPPED ? DOCTOR_BAD
			                                   : DOCTOR_INFO,
			       "firewall: %s port %u is %s", pname,
			       (unsigned)l->binds[i].port, why);
	}
}

/* For tls = auto listeners: the root of the local CA, and the system's
 * trust in it. Nothing is created. */
static void check_ca(struct doctor *d)
{
	const struct config *cfg = d->cfg;
	const char *bundle = NULL;
	char dir[PATH_MAX], err[PATH_MAX + 256], word[PATH_MAX + 8];
	struct ca *ca;
	bool any = false;
	int has;

	for (size_t i = 0; i < cfg->nlisteners; i++)
		any |= cfg->listeners[i].tls == CONFIG_TLS_AUTO;
	if (!any)
		return;
	heading(d, "local CA", "%s", " (tls = auto)");
	if (ca_state_dir(cfg->global.state_dir, dir, sizeof(dir)) < 0) {
		report(d, DOCTOR_BAD,
		       "no state directory: HOME is not set; set state_dir "
		       "in [global]");
		return;
	}
	shell_word(dir, word, sizeof(word));
	ca = ca_open(dir, CA_CERT_ONLY, err, sizeof(err));
	if (ca == NULL && access(dir, F_OK) == 0 && errno != ENOENT) {
		report(d, DOCTOR_BAD, "local CA: %s", err);
		return;
	}
	if (ca == NULL && !can_create_dir(dir, err, sizeof(err))) {
		report(d, DOCTOR_BAD,
		       "no local CA in %s, and portier could not make one "
		       "there: %s; set state_dir in [global] to a directory "
		       "it may write",
		       dir, err);
		return;
	}
	if (ca == NULL) {
		report(d, DOCTOR_INFO,
		       "no local CA in %s yet: portier makes one when it "
		       "starts; `portier ca -d %s trust` makes it and "
		       "installs it",
		       dir, word);
		return;
	}
	if (ca_check_key(ca, err, sizeof(err)) < 0)
		report(d, DOCTOR_BAD, "local CA: %s", err);
	else
		report(d, DOCTOR_OK, "local CA %s is present",
		       ca_root_path(ca));
	for (size_t i = 0;
	     i < sizeof(doctor_bundles) / sizeof(doctor_bundles[0]); i++) {
		if (access(doctor_bundles[i], F_OK) == 0) {
			bundle = doctor_bundles[i];
			break;
		}
	}
	has = bundle != NULL ? bundle_has(bundle, ca_root(ca)) : -1;
	if (bundle == NULL)
		report(d, DOCTOR_INFO,
		       "cannot tell whether the system trusts it: no CA "
		       "bundle found");
	else if (has < 0)
		report(d, DOCTOR_INFO, "cannot read %s: %s", bundle,
		       strerror(errno));
	else if (has > 0)
		report(d, DOCTOR_OK, "trusted by the system store (%s)",
		       bundle);
	else
		report(d, DOCTOR_BAD,
		       "not trusted by the system store (%s): run `%sportier "
		       "ca -d %s trust`",
		       bundle, geteuid() == 0 ? "" : "sudo ", word);
	ca_free(ca);
}

/*
 * Could this user make directory `dir` (with its missing parents)? The
 * first missing one is made and removed again, which tells what a check
 * of permissions cannot (a file system such as /proc). True when dir is
 * there already. Else false, with why in err.
 */
static bool can_create_dir(const char *dir, char *err, size_t errlen)
{
	char path[PATH_MAX], *slash, *missing = NULL;
	struct stat st;
	int r;

	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		snprintf(err, errlen, "the path is too long");
		return false;
	}
	/* Cut the path back to the nearest part that is there. */
	while ((r = stat(path, &st)) < 0 && errno == ENOENT &&
	       (slash = strrchr(path, '/')) != NULL && slash != path) {
		*slash = '\0';
		missing = slash;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s is not a directory", path);
		return false;
	}
	if (missing == NULL)
		return true;
	*missing = '/';
	if (mkdir(path, 0700) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return false;
	}
	(void)rmdir(path);
	return true;
}

/* Is root one of the certificates of a PEM bundle? 1 yes, 0 no, -1 when
 * the bundle cannot be read. */
static int bundle_has(const char *bundle, X509 *root)
{
	FILE *fp = fopen(bundle, "re");
	X509 *cert;
	int found = 0;

	if (fp == NULL)
		return -1;
	while (!found && (cert = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL) {
		found = X509_cmp(cert, root) == 0;
		X509_free(cert);
	}
	ERR_clear_error(); /* the end of the file reads as an error */
	fclose(fp);
	return found;
}

/* text as one shell word: as is when plain, else in single quotes. */
static void shell_word(const char *text, char *buf, size_t len)
{
	bool plain =
	    text[0] != '\0' &&
	    strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR"
	                 "STUVWXYZ0123456789/._-+=:,@") == strlen(text);

	if (plain)
		snprintf(buf, len, "%s", text);
	else
		snprintf(buf, len, "'%s'", text);
}
