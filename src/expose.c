/* SPDX-License-Identifier: MIT */
/*
 * portier expose: the quickest way to open a dev server on a phone.
 *
 * The options become a configuration text, the one a user would write for
 * the same job, and that text goes through config_parse_string and the
 * runtime like any file: expose has no code path of its own once it runs.
 * What it adds is the part a file cannot do: finding a free port (saying
 * who holds a taken one), printing the URLs that work from the LAN with a
 * QR code of the first, and warning when the backend does not answer yet.
 * Each option is checked before it goes into that text, so that a mistake
 * is reported in the words the user typed, never as a line of a file the
 * user has not seen.
 *
 * A bare port as the backend means localhost:PORT here, not 127.0.0.1:PORT
 * as in a file: dev servers listen on [::1] only as often as on 127.0.0.1
 * only (Vite and Node 17+ bind what `localhost` resolves to first), and the
 * user who types 5173 means "the dev server on this machine" either way.
 *
 * With --tls the site is served with a certificate of the local CA, and a
 * plain HTTP listener redirects to it; that listener also serves the page
 * from which a phone installs the CA (ca_page.c).
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <arpa/inet.h>
#include <unistd.h>

#include "portier/expose.h"
#include "portier/addr.h"
#include "portier/auth.h"
#include "portier/ca_page.h"
#include "portier/config.h"
#include "portier/lan.h"
#include "portier/log.h"
#include "portier/portdiag.h"
#include "portier/qr.h"
#include "portier/runtime.h"
#include "portier/upstream.h"

/* The ports tried first, and how many after each before giving up. */
#define EXPOSE_HTTP_PORT 8080
#define EXPOSE_HTTPS_PORT 8443
#define EXPOSE_TRIES 20

/* Most --name and --allow options. */
#define EXPOSE_LIST_MAX 16

/* How long the backend has to accept a test connection. */
#define EXPOSE_PROBE_MS 500

/* The lowest port that needs no privilege (Linux's default). */
#define EXPOSE_FIRST_FREE_PORT 1024

/* What the command line asked for. */
struct expose_opts {
	const char *backend;      /* as typed, for messages */
	const char *conf_backend; /* as the configuration says it */
	char localhost[sizeof("localhost:65535")]; /* a bare port's */
	const char *listen;                        /* --listen, or NULL */
	struct addr listen_addr;                   /* --listen, parsed */
	const char *names[EXPOSE_LIST_MAX];
	size_t nnames;
	const char *allow[EXPOSE_LIST_MAX];
	size_t nallow;
	const char *auth;        /* USER:PASSWORD, or NULL */
	const char *host_header; /* keep | backend, or NULL */
	bool tls;
	bool invert; /* QR code for a light-background terminal */
	int verbosity;
};

/* The address chosen for each listener. */
struct expose_ports {
	struct addr site;  /* the site: http, or https with --tls */
	struct addr plain; /* --tls: the redirect and the CA page */
};

static const char usage_text[] =
    "usage: portier expose [--listen ADDR:PORT] [--name HOST] [--tls]\n"
    "                      [--allow CIDR]... [--auth USER:PASS]\n"
    "                      [--host-header keep|backend] [-q|-v] BACKEND\n"
    "Open BACKEND (a port such as 5173, which is localhost:5173: [::1] or\n"
    "127.0.0.1, whichever answers; HOST:PORT; or unix:/path) to the other\n"
    "devices of the network, with no configuration file. It prints the\n"
    "addresses that work and a QR code of the first one for a phone;\n"
    "Ctrl-C stops it.\n"
    "\n"
    "  -l, --listen ADDR:PORT   where to listen (default *:8080, or *:8443\n"
    "                           with --tls; a taken default port moves to\n"
    "                           the next free one)\n"
    "  -n, --name HOST          a name the site is also reached by (and,\n"
    "                           with --tls, certified for); repeatable\n"
    "      --tls                HTTPS with a certificate from the local CA;\n"
    "                           plain HTTP on 8080 redirects to it and\n"
    "                           serves " CA_PAGE_PATH ", where a phone\n"
    "                           installs the CA\n"
    "  -a, --allow CIDR         only these clients (repeatable)\n"
    "      --auth USER:PASS     ask for this user and password\n"
    "      --host-header MODE   keep (default): the Host the browser sent;\n"
    "                           backend: the backend's own address, for\n"
    "                           dev servers that check it\n"
    "      --invert-qr          draw the QR code for a light terminal\n"
    "  -q, -v                   fewer or more log messages\n";

static int expose_parse(int argc, char **argv, struct expose_opts *o);
static bool expose_check_backend(struct expose_opts *o);
static bool expose_check_allow(const char *value);
static int expose_choose(const struct expose_opts *o,
                         struct expose_ports *p);
static int expose_free_port(struct addr *a, bool fixed, uint16_t avoid);
static int expose_bindable(const struct addr *a, char *why, size_t len);
static char *expose_config(const struct expose_opts *o,
                           const struct expose_ports *p);
static const char *expose_vhost_name(const struct expose_opts *o);
static void expose_vhost_names(FILE *fp, const struct expose_opts *o);
static void expose_alias(FILE *fp, const char *name, const char **done,
                         size_t *ndone);
static void expose_banner(const struct expose_opts *o,
                          const struct expose_ports *p);
static bool expose_serves(const struct addr *a, int family, const char *ip);
static void expose_root(const struct expose_ports *p);
static void expose_probe(const char *backend);
static bool expose_answers(const struct addr *a, char *why, size_t len);
static bool expose_clean(const char *what, const char *value);

int expose_command(int argc, char **argv)
{
	struct expose_opts o = {0};
	struct expose_ports p;
	struct config *cfg;
	struct runtime *rt;
	char err[4096];
	char *text;
	int status;

	status = expose_parse(argc, argv, &o);
	if (status >= 0)
		return status;
	if (expose_choose(&o, &p) < 0)
		return 2;
	text = expose_config(&o, &p);
	if (text == NULL) {
		fprintf(stderr, "portier expose: out of memory\n");
		return 2;
	}
	if (o.verbosity > 1)
		fprintf(stderr, "portier expose: configuration:\n%s", text);
	cfg = config_parse_string(text, "portier expose", err, sizeof(err));
	free(text);
	if (cfg == NULL) {
		/* The options were checked one by one; what is left is
		 * said in the configuration's words, and -v -v shows it. */
		fprintf(stderr, "%sportier expose: in the configuration made "
		        "from the options (-v -v prints it)\n", err);
		return 1;
	}
	cfg->global.quiet_root = true;
	log_set_level(o.verbosity < 0   ? LOG_LEVEL_ERROR
	              : o.verbosity > 0 ? LOG_LEVEL_INFO
	                                : LOG_LEVEL_WARN);
	rt = runtime_new(cfg, &status);
	if (rt == NULL)
		return status;
	expose_banner(&o, &p);
	expose_root(&p);
	expose_probe(o.conf_backend);
	fflush(stdout);
	status = runtime_run(rt);
	runtime_free(rt);
	return status;
}

/* Read the options into o. Returns -1 to go on, else an exit status. */
static int expose_parse(int argc, char **argv, struct expose_opts *o)
{
	enum { OPT_TLS = 256, OPT_AUTH, OPT_HOST_HEADER, OPT_INVERT };
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"name", required_argument, NULL, 'n'},
	    {"tls", no_argument, NULL, OPT_TLS},
	    {"allow", required_argument, NULL, 'a'},
	    {"auth", required_argument, NULL, OPT_AUTH},
	    {"host-header", required_argument, NULL, OPT_HOST_HEADER},
	    {"invert-qr", no_argument, NULL, OPT_INVERT},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	char err[256];
	int opt;

	while ((opt = getopt_long(argc, argv, "l:n:a:qvh", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'l':
			o->listen = optarg;
			break;
		case 'n':
		case 'a':
			if ((opt == 'n' ? o->nnames : o->nallow) ==
			    EXPOSE_LIST_MAX) {
				fprintf(stderr, "portier expose: at most %d "
				        "--%s options\n", EXPOSE_LIST_MAX,
				        opt == 'n' ? "name" : "allow");
				return 1;
			}
			if (opt == 'n')
				o->names[o->nnames++] = optarg;
			else
				o->allow[o->nallow++] = optarg;
			break;
		case OPT_TLS:
			o->tls = true;
			break;
		case OPT_AUTH:
			o->auth = optarg;
			break;
		case OPT_HOST_HEADER:
			o->host_header = optarg;
			break;
		case OPT_INVERT:
			o->invert = true;
			break;
		case 'q':
			o->verbosity = -1;
			break;
		case 'v':
			o->verbosity++;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs("Try 'portier expose -h' for help.\n", stderr);
			return 1;
		}
	}
	if (optind + 1 != argc) {
		fprintf(stderr, "portier expose: %s\nTry 'portier expose -h' "
		        "for help.\n", optind == argc
		                            ? "which backend? give one, such "
		                              "as 5173 or localhost:3000"
		                            : "one backend only");
		return 1;
	}
	o->backend = argv[optind];
	if (o->host_header != NULL && strcmp(o->host_header, "keep") != 0 &&
	    strcmp(o->host_header, "backend") != 0) {
		fprintf(stderr, "portier expose: --host-header is keep or "
		        "backend, not '%s'\n", o->host_header);
		return 1;
	}
	/* The password is hashed: only the user name goes into the
	 * configuration as it is, and only it is ever printed. */
	if (o->auth != NULL) {
		const char *colon = strchr(o->auth, ':');
		int user = colon != NULL ? (int)(colon - o->auth) : 0;

		if (colon == NULL || user == 0 || colon[1] == '\0') {
			fprintf(stderr, "portier expose: --auth is USER:PASS\n");
			return 1;
		}
		if (strcspn(o->auth, "\r\n;# \t") < (size_t)user) {
			fprintf(stderr, "portier expose: --auth: the user name "
			        "'%.*s' may not hold spaces, line breaks, ';' "
			        "or '#'\n", user, o->auth);
			return 1;
		}
	}
	/* Each value goes into one line of the configuration, and is
	 * checked here as the configuration would check it. */
	if (!expose_clean("BACKEND", o->backend) ||
	    (o->listen && !expose_clean("--listen", o->listen)) ||
	    !expose_check_backend(o))
		return 1;
	if (o->listen != NULL &&
	    addr_parse(o->listen, ADDR_FOR_BIND, &o->listen_addr, err,
	               sizeof(err)) < 0) {
		fprintf(stderr, "portier expose: --listen %s: %s\n", o->listen,
		        err);
		return 1;
	}
	for (size_t i = 0; i < o->nnames; i++) {
		const char *why;

		if (!expose_clean("--name", o->names[i]))
			return 1;
		if ((why = config_hostname_error(o->names[i])) != NULL) {
			fprintf(stderr, "portier expose: --name %s: '%s' %s\n",
			        o->names[i], o->names[i], why);
			return 1;
		}
	}
	for (size_t i = 0; i < o->nallow; i++) {
		if (!expose_clean("--allow", o->allow[i]) ||
		    !expose_check_allow(o->allow[i]))
			return 1;
	}
	return -1;
}

/* Check BACKEND, and make a bare port localhost:PORT (see the top of the
 * file). False after a message. */
static bool expose_check_backend(struct expose_opts *o)
{
	struct addr a;
	char err[256];

	if (addr_parse(o->backend, ADDR_FOR_BACKEND, &a, err, sizeof(err)) <
	    0) {
		fprintf(stderr, "portier expose: BACKEND %s: %s\n", o->backend,
		        err);
		return false;
	}
	o->conf_backend = o->backend;
	if (strspn(o->backend, "0123456789") == strlen(o->backend)) {
		snprintf(o->localhost, sizeof(o->localhost), "localhost:%u",
		         a.port);
		o->conf_backend = o->localhost;
	}
	return true;
}

/* Check an --allow value as the allow key takes it: a CIDR block, or a
 * comma-separated list of them. False after a message. */
static bool expose_check_allow(const char *value)
{
	const char *s = value;
	char why[256];

	for (;;) {
		size_t n = strcspn(s, ","), len = n;
		const char *item = s;
		char text[64];
		struct cidr c;

		while (len > 0 && isspace((unsigned char)*item)) {
			item++;
			len--;
		}
		while (len > 0 && isspace((unsigned char)item[len - 1]))
			len--;
		if (len == 0) {
			snprintf(why, sizeof(why), "an empty item in the list");
			break;
		}
		/* Longer than any address with a prefix. */
		if (len >= sizeof(text)) {
			snprintf(why, sizeof(why),
			         "'%.*s' is not an IP address", (int)len,
			         item);
			break;
		}
		memcpy(text, item, len);
		text[len] = '\0';
		if (cidr_parse(text, &c, why, sizeof(why)) < 0)
			break;
		if (s[n] == '\0')
			return true;
		s += n + 1;
	}
	fprintf(stderr, "portier expose: --allow %s: %s\n", value, why);
	return false;
}

/* Pick the addresses: --listen as given, else the default port or the
 * next free one. */
static int expose_choose(const struct expose_opts *o, struct expose_ports *p)
{
	if (o->listen != NULL) {
		p->site = o->listen_addr;
	} else {
		p->site.kind = ADDR_ANY;
		p->site.port = o->tls ? EXPOSE_HTTPS_PORT : EXPOSE_HTTP_PORT;
	}
	if (expose_free_port(&p->site, o->listen != NULL, 0) < 0)
		return -1;
	if (!o->tls)
		return 0;
	p->plain = p->site;
	if (p->plain.kind == ADDR_INET) {
		/* The same address, another port. */
		if (p->plain.sa.sa.sa_family == AF_INET)
			p->plain.sa.sin.sin_port = htons(EXPOSE_HTTP_PORT);
		else
			p->plain.sa.sin6.sin6_port = htons(EXPOSE_HTTP_PORT);
	}
	p->plain.port = EXPOSE_HTTP_PORT;
	return expose_free_port(&p->plain, false, p->site.port);
}

/*
 * Make sure a can be bound; when its port is taken (or is `avoid`) and the
 * port is not fixed, try the next ones, saying who holds each. Returns 0,
 * or -1 after a message.
 */
static int expose_free_port(struct addr *a, bool fixed, uint16_t avoid)
{
	char why[512];

	for (int tries = 0; tries < EXPOSE_TRIES; tries++) {
		if (a->port != avoid && expose_bindable(a, why, sizeof(why)) == 0)
			return 0;
		if (fixed) {
			fprintf(stderr, "portier expose: %s\n", why);
			return -1;
		}
		if (a->port != avoid)
			fprintf(stderr, "portier expose: %s; trying port %u\n",
			        why, a->port + 1);
		a->port++;
		if (a->kind == ADDR_INET && a->sa.sa.sa_family == AF_INET)
			a->sa.sin.sin_port = htons(a->port);
		else if (a->kind == ADDR_INET)
			a->sa.sin6.sin6_port = htons(a->port);
	}
	fprintf(stderr, "portier expose: no free port among %d; give one "
	        "with --listen\n", EXPOSE_TRIES);
	return -1;
}

/* 0 when every socket of a can be bound now, else -1 with why. */
static int expose_bindable(const struct addr *a, char *why, size_t len)
{
	struct addr one[2];
	bool optional[2];
	char name[ADDR_STRLEN];
	int n = addr_bind_sockets(a, one, optional), used;

	for (int i = 0; i < n; i++) {
		int family = one[i].sa.sa.sa_family, on = 1, e;
		int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			if (optional[i])
				continue;
			snprintf(why, len,
			         "cannot open a socket for port %u: %s",
			         a->port, strerror(errno));
			return -1;
		}
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (family == AF_INET6)
			(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on,
			                 sizeof(on));
		e = bind(fd, &one[i].sa.sa, one[i].salen) < 0 ? errno : 0;
		close(fd);
		if (e == 0 || (optional[i] && (e == EAFNOSUPPORT ||
		                               e == EADDRNOTAVAIL)))
			continue;
		/* The socket that failed (of `*:8080`, which family), then
		 * why. */
		addr_format_sa(&one[i].sa.sa, one[i].salen, name, sizeof(name));
		used = snprintf(why, len, "cannot bind %s: ", name);
		if (used > 0 && (size_t)used < len)
			portdiag_explain_bind("/proc", e, &one[i].sa.sa,
			                      one[i].salen, IPPROTO_TCP,
			                      why + used, len - (size_t)used);
		return -1;
	}
	return 0;
}

/* The configuration for the options, as a file would say it. */
static char *expose_config(const struct expose_opts *o,
                           const struct expose_ports *p)
{
	char site[ADDR_STRLEN], plain[ADDR_STRLEN];
	bool vhost = o->nnames > 0 || o->auth != NULL || o->host_header != NULL;
	char *text = NULL;
	size_t size = 0;
	FILE *fp = open_memstream(&text, &size);

	if (fp == NULL)
		return NULL;
	addr_format(&p->site, site, sizeof(site));
	fprintf(fp, "[global]\n"
	            "; hot-reload WebSockets are often quiet for long\n"
	            "timeout_idle = 10m\n"
	            "; a few devices, not a crowd: no open-file limit to raise\n"
	            "max_connections = 1000\n"
	            "[listener expose]\n"
	            "bind = %s\n"
	            "mode = http\n",
	            site);
	/* With a password, names nobody configured get a 404 rather than
	 * the site without one. */
	if (o->auth == NULL)
		fprintf(fp, "backend = %s\n", o->conf_backend);
	if (o->tls)
		fprintf(fp, "tls = auto\n");
	for (size_t i = 0; i < o->nallow; i++)
		fprintf(fp, "allow = %s\n", o->allow[i]);
	if (o->tls) {
		addr_format(&p->plain, plain, sizeof(plain));
		fprintf(fp, "[listener expose-http]\n"
		            "bind = %s\n"
		            "mode = http\n"
		            "redirect_https = %u\n",
		            plain, p->site.port);
		for (size_t i = 0; i < o->nallow; i++)
			fprintf(fp, "allow = %s\n", o->allow[i]);
	}
	if (vhost) {
		fprintf(fp, "[vhost %s]\n"
		            "listener = expose\n"
		            "backend = %s\n",
		            expose_vhost_name(o), o->conf_backend);
		expose_vhost_names(fp, o);
		if (o->host_header != NULL)
			fprintf(fp, "host_header = %s\n", o->host_header);
		if (o->auth != NULL) {
			const char *colon = strchr(o->auth, ':');
			char *hash = auth_hash(colon + 1);

			if (hash == NULL) {
				fclose(fp);
				free(text);
				return NULL;
			}
			fprintf(fp, "auth = %.*s:%s\n", (int)(colon - o->auth),
			        o->auth, hash);
			free(hash);
			/* The password is in argv, which ps shows to every
			 * user: only the hash is needed from now on. */
			memset((char *)colon + 1, '*', strlen(colon + 1));
		}
	}
	if (fclose(fp) != 0) {
		free(text);
		return NULL;
	}
	return text;
}

/* The vhost's own name: the first --name that can be a section name (an
 * IPv6 address in brackets cannot: inih ends the name at its ']'), else
 * localhost. */
static const char *expose_vhost_name(const struct expose_opts *o)
{
	for (size_t i = 0; i < o->nnames; i++) {
		if (o->names[i][0] != '[')
			return o->names[i];
	}
	return "localhost";
}

/* The aliases of the vhost: every name this machine is reached by, so
 * that --auth and --host-header apply whatever address a client used. */
static void expose_vhost_names(FILE *fp, const struct expose_opts *o)
{
	/* The vhost's name, the names given and those found here. */
	const char *done[1 + EXPOSE_LIST_MAX + 3 + LAN_MAX + 2];
	struct lan_addr addrs[LAN_MAX];
	size_t naddrs = lan_addresses(addrs, LAN_MAX), ndone = 0;
	char host[256], local[sizeof(host) + 6];
	char lan[LAN_MAX][INET6_ADDRSTRLEN + 2];

	done[ndone++] = expose_vhost_name(o);
	expose_alias(fp, "localhost", done, &ndone);
	expose_alias(fp, "127.0.0.1", done, &ndone);
	expose_alias(fp, "[::1]", done, &ndone);
	for (size_t i = 0; i < o->nnames; i++)
		expose_alias(fp, o->names[i], done, &ndone);
	for (size_t i = 0; i < naddrs; i++) {
		snprintf(lan[i], sizeof(lan[i]),
		         addrs[i].family == AF_INET6 ? "[%s]" : "%s",
		         addrs[i].text);
		expose_alias(fp, lan[i], done, &ndone);
	}
	/* A host name that cannot be an alias is left out, not an error. */
	if (gethostname(host, sizeof(host)) == 0 &&
	    config_hostname_error(host) == NULL) {
		expose_alias(fp, host, done, &ndone);
		snprintf(local, sizeof(local), "%s.local", host);
		if (strchr(host, '.') == NULL &&
		    config_hostname_error(local) == NULL)
			expose_alias(fp, local, done, &ndone);
	}
}

/* Write `alias = name` unless it is in done[] (any case), where it is
 * then added: a name given twice, or given and also found, is a
 * configuration error the user could make nothing of. `name` must live
 * as long as done[]. */
static void expose_alias(FILE *fp, const char *name, const char **done,
                         size_t *ndone)
{
	for (size_t i = 0; i < *ndone; i++) {
		if (strcasecmp(done[i], name) == 0)
			return;
	}
	done[(*ndone)++] = name;
	fprintf(fp, "alias = %s\n", name);
}

/* Say where the site is: the URLs that work, a QR code of the first LAN
 * one, and with --tls where a phone gets the CA. */
static void expose_banner(const struct expose_opts *o,
                          const struct expose_ports *p)
{
	const char *scheme = o->tls ? "https" : "http";
	struct lan_addr addrs[LAN_MAX];
	size_t naddrs = 0;
	char first[300] = "", url[300];

	printf("portier: %s is open at\n", o->backend);
	if (expose_serves(&p->site, AF_INET, "127.0.0.1") ||
	    expose_serves(&p->site, AF_INET6, "::1"))
		printf("  %s://localhost:%u/\n", scheme, p->site.port);
	naddrs = lan_addresses(addrs, LAN_MAX);
	for (size_t i = 0; i < naddrs; i++) {
		int family = addrs[i].family;

		if (!expose_serves(&p->site, family, addrs[i].text))
			continue;
		snprintf(url, sizeof(url),
		         family == AF_INET6 ? "%s://[%s]:%u/" : "%s://%s:%u/",
		         scheme, addrs[i].text, p->site.port);
		printf("  %s\n", url);
		if (first[0] == '\0')
			snprintf(first, sizeof(first), "%s", url);
	}
	for (size_t i = 0; i < o->nnames; i++) {
		size_t j = 0;

		/* A name given twice (in any case) is one URL. */
		while (j < i && strcasecmp(o->names[j], o->names[i]) != 0)
			j++;
		if (j == i)
			printf("  %s://%s:%u/\n", scheme, o->names[i],
			       p->site.port);
	}
	if (first[0] == '\0') {
		printf("Only this machine can open it%s.\n",
		       lan_exposed(&p->site, 1) ? " (no network address found)"
		                                : " (listening on loopback)");
	} else {
		char *qr = qr_text(first, o->invert);

		if (qr != NULL) {
			printf("\nScan with a phone on the same network to open "
			       "%s:\n%s", first, qr);
			free(qr);
		}
	}
	if (o->tls) {
		char host[INET6_ADDRSTRLEN + 2] = "localhost";

		for (size_t i = 0; i < naddrs; i++) {
			if (!expose_serves(&p->plain, addrs[i].family,
			                   addrs[i].text))
				continue;
			snprintf(host, sizeof(host),
			         addrs[i].family == AF_INET6 ? "[%s]" : "%s",
			         addrs[i].text);
			break;
		}
		printf("\nA phone trusts this site once it has the local CA: "
		       "open http://%s:%u" CA_PAGE_PATH " on it\n"
		       "and follow the steps (iOS and Android). This "
		       "computer: portier ca trust.\n",
		       host, p->plain.port);
	}
	if (o->auth != NULL)
		printf("\nVisitors are asked for the user and password of "
		       "--auth.\n");
	printf("\nCtrl-C stops it.\n");
}

/* True when a listener bound to `a` answers on the address `ip` (text, of
 * `family`): `*`, the wildcard of that family, or that very address. */
static bool expose_serves(const struct addr *a, int family, const char *ip)
{
	unsigned char want[16], *have;

	if (a->kind == ADDR_ANY)
		return true;
	/* localhost:PORT is the loopback address of each family. */
	if (a->kind == ADDR_LOCALHOST) {
		struct addr loopback;

		addr_inet(&loopback, family, true, a->port);
		return expose_serves(&loopback, family, ip);
	}
	if (a->kind != ADDR_INET || a->sa.sa.sa_family != family ||
	    inet_pton(family, ip, want) != 1)
		return false;
	have = family == AF_INET
	           ? (unsigned char *)&a->sa.sin.sin_addr
	           : (unsigned char *)&a->sa.sin6.sin6_addr;
	if (family == AF_INET ? a->sa.sin.sin_addr.s_addr == htonl(INADDR_ANY)
	                      : IN6_IS_ADDR_UNSPECIFIED(&a->sa.sin6.sin6_addr))
		return true;
	return memcmp(have, want, family == AF_INET ? 4 : 16) == 0;
}

/* Running as root, which a port from 1024 up does not need: expose has no
 * way to drop root's privileges once its ports are bound, as a
 * configuration's user key does, so the advice is to start it as a user. */
static void expose_root(const struct expose_ports *p)
{
	if (geteuid() != 0 || p->site.port < EXPOSE_FIRST_FREE_PORT)
		return;
	fprintf(stderr, "portier expose: warning: running as root, which "
	        "port %u does not need: start portier expose as your own "
	        "user\n", p->site.port);
}

/*
 * Warn when nothing answers on the backend yet; portier starts anyway,
 * and the dev server can come up later. When a loopback address of one
 * family does not answer and the other family's does (a dev server on
 * [::1] only, given as 127.0.0.1:5173), say what to give instead.
 */
static void expose_probe(const char *backend)
{
	struct addr a, other;
	char err[256], why[256] = "", name[ADDR_STRLEN], there[ADDR_STRLEN];

	if (addr_parse(backend, ADDR_FOR_BACKEND, &a, err, sizeof(err)) < 0 ||
	    expose_answers(&a, why, sizeof(why)))
		return;
	addr_format(&a, name, sizeof(name));
	if (addr_other_loopback(&a, &other) &&
	    expose_answers(&other, err, sizeof(err))) {
		addr_format(&other, there, sizeof(there));
		fprintf(stderr, "portier expose: warning: nothing answers on "
		        "%s (%s), but the server is on %s: give %s, or "
		        "localhost:%u (either address)\n",
		        name, why, there, there, a.port);
		return;
	}
	fprintf(stderr, "portier expose: warning: nothing answers on %s%s yet "
	        "(%s); start the server there, portier keeps going\n",
	        name, a.kind == ADDR_LOCALHOST ? " ([::1] or 127.0.0.1)" : "",
	        why);
}

/* True when one of the addresses of backend `a` accepts a connection
 * within EXPOSE_PROBE_MS, else false with the last error in why. */
static bool expose_answers(const struct addr *a, char *why, size_t len)
{
	struct upstream up;
	struct upstream_target targets[2];
	int n;

	upstream_init(&up, a);
	n = upstream_targets(&up, false, targets);
	for (int i = 0; i < n; i++) {
		struct pollfd pfd = {.events = POLLOUT};
		bool connected = false;
		int e = 0;
		socklen_t elen = sizeof(e);

		pfd.fd = upstream_connect(&targets[i], &connected);
		if (pfd.fd < 0) {
			snprintf(why, len, "%s", strerror(errno));
			continue;
		}
		if (!connected &&
		    (poll(&pfd, 1, EXPOSE_PROBE_MS) != 1 ||
		     getsockopt(pfd.fd, SOL_SOCKET, SO_ERROR, &e, &elen) < 0 ||
		     e != 0)) {
			snprintf(why, len, "%s", e ? strerror(e) : "no answer");
			close(pfd.fd);
			continue;
		}
		close(pfd.fd);
		return true;
	}
	return false;
}

/* A value fit for one line of the configuration. */
static bool expose_clean(const char *what, const char *value)
{
	if (value[0] != '\0' && strpbrk(value, "\r\n;#") == NULL)
		return true;
	fprintf(stderr, "portier expose: %s '%s': %s\n", what, value,
	        value[0] ? "no line breaks, ';' or '#', please" : "is empty");
	return false;
}
