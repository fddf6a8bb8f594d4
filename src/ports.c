/* SPDX-License-Identifier: MIT */
/*
 * `portier ports`: every listening TCP socket and bound UDP socket of the
 * machine as a table, like `ss -ltunp`, with the process, program and user
 * that hold each (found by portdiag.c). Given a configuration, it marks the
 * sockets its listeners and admin page would bind and reports each one that
 * another program holds: a conflict that would stop portier from starting.
 * This module owns nothing beyond the list it prints.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "portier/ports.h"
#include "portier/addr.h"
#include "portier/config.h"
#include "portier/log.h"
#include "portier/portdiag.h"

#ifndef MAX
#define MAX(a, b) ((a) > (b) ? (a) : (b))
#endif

/* A config bind, for `portier ports -c`. */
struct ports_want {
	const char *what; /* "listener" or "admin" */
	const char *name; /* listener name, NULL for admin */
	int proto;
	const struct addr *addr;
};

static size_t collect_wants(const struct config *cfg,
                            struct ports_want **wants);
static bool want_hits(const struct ports_want *want,
                      const struct portdiag_socket *list, size_t n, size_t i);
static void print_table(const struct portdiag_socket *list, size_t n,
                        const struct ports_want *wants, size_t nwants,
                        FILE *out);
static void mark_row(const struct portdiag_socket *list, size_t n, size_t i,
                     const struct ports_want *wants, size_t nwants, char *mark,
                     size_t len);
static int print_conflicts(const char *procroot, const char *path,
                           const struct portdiag_socket *list, size_t n,
                           const struct ports_want *wants, size_t nwants,
                           FILE *out);

int ports_cmd(const char *procroot, const struct config *cfg, FILE *out)
{
	struct portdiag_socket *list = NULL;
	struct ports_want *wants = NULL;
	size_t n = 0, nwants = 0;
	int conflicts;

	if (portdiag_list(procroot, &list, &n) == -1) {
		log_error("cannot read the sockets of this machine from "
		          "%s/net: %s",
		          procroot, strerror(errno));
		return 2;
	}
	if (cfg != NULL)
		nwants = collect_wants(cfg, &wants);
	print_table(list, n, wants, nwants, out);
	conflicts = print_conflicts(procroot, cfg != NULL ? cfg->path : NULL,
	                            list, n, wants, nwants, out);
	if (cfg != NULL && conflicts == 0)
		fprintf(out, "\nno conflict with %s\n",
		        cfg->path ? cfg->path : "the configuration");
	free(wants);
	free(list);
	return conflicts > 0 ? 1 : 0;
}

/* The table of `portier ports`, like `ss -ltunp`, one row per socket; with
 * a configuration, "<- listener NAME" on the rows it would bind. */
static void print_table(const struct portdiag_socket *list, size_t n,
                        const struct ports_want *wants, size_t nwants,
                        FILE *out)
{
	size_t waddr = strlen("ADDRESS"), wpid = strlen("PID");
	size_t wprog = strlen("PROGRAM"), wuser = strlen("USER");
	char addr[ADDR_STRLEN], pid[16], mark[256];
	bool hidden = false;

	for (size_t i = 0; i < n; i++) {
		addr_format_sa((const struct sockaddr *)&list[i].addr,
		               list[i].addrlen, addr, sizeof(addr));
		snprintf(pid, sizeof(pid), "%ld", (long)list[i].pid);
		waddr = MAX(waddr, strlen(addr));
		wpid = MAX(wpid, strlen(pid));
		wprog = MAX(wprog, strlen(list[i].program));
		wuser = MAX(wuser, strlen(list[i].user));
	}
	fprintf(out, "%-5s  %-*s  %-*s  %-*s  %s\n", "PROTO", (int)waddr,
	        "ADDRESS", (int)wpid, "PID", (int)wprog, "PROGRAM", "USER");
	for (size_t i = 0; i < n; i++) {
		const struct portdiag_socket *s = &list[i];

		hidden |= s->pid == 0;
		addr_format_sa((const struct sockaddr *)&s->addr, s->addrlen,
		               addr, sizeof(addr));
		snprintf(pid, sizeof(pid), "%ld", (long)s->pid);
		fprintf(out, "%-5s  %-*s  %-*s  %-*s  ",
		        s->proto == IPPROTO_TCP ? "tcp" : "udp", (int)waddr,
		        addr, (int)wpid, s->pid > 0 ? pid : "-", (int)wprog,
		        s->program[0] ? s->program : "-");
		mark_row(list, n, i, wants, nwants, mark, sizeof(mark));
		if (mark[0] != '\0')
			fprintf(out, "%-*s  %s\n", (int)wuser, s->user, mark);
		else
			fprintf(out, "%s\n", s->user);
	}
	if (hidden && geteuid() != 0)
		fprintf(out, "\nSome holders are hidden: other users' "
		             "processes can be seen only by root (sudo "
		             "portier ports).\n");
}

/* "<- listener web, admin": who in the configuration wants socket i. */
static void mark_row(const struct portdiag_socket *list, size_t n, size_t i,
                     const struct ports_want *wants, size_t nwants, char *mark,
                     size_t len)
{
	size_t used = 0;
	char label[128];

	mark[0] = '\0';
	for (size_t w = 0; w < nwants && used < len; w++) {
		if (!want_hits(&wants[w], list, n, i))
			continue;
		snprintf(label, sizeof(label), "%s%s%s", wants[w].what,
		         wants[w].name ? " " : "",
		         wants[w].name ? wants[w].name : "");
		if (strstr(mark, label) != NULL)
			continue; /* a listener with two binds on one socket */
		used += (size_t)snprintf(mark + used, len - used, "%s%s",
		                         used ? ", " : "<- ", label);
	}
}

/* One line per (config bind, socket in its way); returns how many. */
static int print_conflicts(const char *procroot, const char *path,
                           const struct portdiag_socket *list, size_t n,
                           const struct ports_want *wants, size_t nwants,
                           FILE *out)
{
	char want[ADDR_STRLEN], have[ADDR_STRLEN], holder[160];
	char other[PATH_MAX];
	int conflicts = 0;

	for (size_t w = 0; w < nwants; w++) {
		const struct portdiag_socket *last = NULL;

		addr_format(wants[w].addr, want, sizeof(want));
		for (size_t i = 0; i < n; i++) {
			const struct portdiag_socket *s = &list[i];
			bool portier = s->pid > 0 &&
			               strcmp(s->program, "portier") == 0;

			if (!want_hits(&wants[w], list, n, i))
				continue;
			/* The SO_REUSEPORT sockets of one process's workers
			 * (sorted together) are one conflict. */
			if (last != NULL && s->pid > 0 && s->pid == last->pid &&
			    s->proto == last->proto &&
			    s->addrlen == last->addrlen &&
			    memcmp(&s->addr, &last->addr, s->addrlen) == 0)
				continue;
			last = s;
			/* A running portier serving this configuration (or
			 * one whose file cannot be told) is not in its own
			 * way; one that runs another file is. */
			other[0] = '\0';
			if (portier &&
			    (path == NULL ||
			     portdiag_same_config(procroot, s->pid, path, other,
			                          sizeof(other)) != 0))
				continue;
			portdiag_describe_holder(s, holder, sizeof(holder));
			addr_format_sa((const struct sockaddr *)&s->addr,
			               s->addrlen, have, sizeof(have));
			fprintf(out,
			        "%sconflict: %s%s%s wants %s%s, held by %s",
			        conflicts == 0 ? "\n" : "", wants[w].what,
			        wants[w].name ? " " : "",
			        wants[w].name ? wants[w].name : "", want,
			        wants[w].proto == IPPROTO_UDP ? " (udp)" : "",
			        holder);
			if (strcmp(have, want) != 0)
				fprintf(out, " on %s", have);
			if (other[0] != '\0')
				fprintf(out, ", %s", other);
			fputc('\n', out);
			conflicts++;
		}
	}
	return conflicts;
}

/* Every address the configuration would bind, with its owner. */
static size_t collect_wants(const struct config *cfg, struct ports_want **wants)
{
	size_t n = cfg->global.has_admin ? 1 : 0, k = 0;

	for (size_t i = 0; i < cfg->nlisteners; i++)
		n += cfg->listeners[i].nbinds;
	*wants = n > 0 ? calloc(n, sizeof(**wants)) : NULL;
	if (*wants == NULL)
		return 0;
	for (size_t i = 0; i < cfg->nlisteners; i++) {
		const struct config_listener *l = &cfg->listeners[i];

		for (size_t j = 0; j < l->nbinds; j++) {
			(*wants)[k].what = "listener";
			(*wants)[k].name = l->name;
			(*wants)[k].proto = l->mode == CONFIG_MODE_UDP
			                        ? IPPROTO_UDP
			                        : IPPROTO_TCP;
			(*wants)[k++].addr = &l->binds[j];
		}
	}
	if (cfg->global.has_admin) {
		(*wants)[k].what = "admin";
		(*wants)[k].proto = IPPROTO_TCP;
		(*wants)[k++].addr = &cfg->global.admin;
	}
	return k;
}

/*
 * Would binding `want` collide with socket i? addr_overlaps knows portier's
 * own rule (its IPv6 listeners are IPV6_V6ONLY); another program's [::]
 * covers IPv4 too when the kernel says it is dual-stack, or, when that
 * could not be read, unless an IPv4 socket on the same port shows that it
 * is not.
 */
static bool want_hits(const struct ports_want *want,
                      const struct portdiag_socket *list, size_t n, size_t i)
{
	struct addr sock, other;

	if (want->proto != list[i].proto)
		return false;
	portdiag_socket_addr(&list[i], &sock);
	if (addr_overlaps(want->addr, &sock))
		return true;
	if (want->addr->kind != ADDR_INET ||
	    want->addr->sa.sa.sa_family != AF_INET ||
	    want->addr->port != sock.port || !portdiag_takes_ipv4(&list[i]))
		return false;
	if (list[i].v6only_known)
		return true;
	for (size_t j = 0; j < n; j++) {
		if (list[j].proto != list[i].proto)
			continue;
		portdiag_socket_addr(&list[j], &other);
		if (other.sa.sa.sa_family == AF_INET && other.port == sock.port)
			return false;
	}
	return true;
}
