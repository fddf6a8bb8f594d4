/* SPDX-License-Identifier: MIT */
/*
 * Port diagnostics: which process holds a port.
 *
 * The kernel lists every socket of the network namespace in
 * /proc/net/{tcp,tcp6,udp,udp6} with its owner's uid and its inode; the
 * process that holds the socket is found by reading the links in
 * /proc/PID/fd, which point at "socket:[INODE]". Another user's fd directory
 * cannot be read without root, so a socket can be known while its holder
 * stays hidden; the messages say so instead of guessing. This module owns
 * nothing beyond the socket lists it returns; every function takes the /proc
 * root so that the tests can point it at a fixture tree. The `portier ports`
 * command that prints these lists is ports.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>

#include "portier/portdiag.h"
#include "portier/addr.h"

/* Kernel socket states as printed in /proc/net (include/net/tcp_states.h). */
#define PORTDIAG_TCP_LISTEN      0x0A
#define PORTDIAG_UDP_UNCONNECTED 0x07 /* TCP_CLOSE: bound, not connected */

/* The part of a process's command line read for its -c FILE. */
#define PORTDIAG_CMDLINE 8192

/* Fields of a /proc/net line up to the inode. */
#define PORTDIAG_FIELDS 10

/* An address reduced to what decides a bind conflict: v4-mapped IPv6 is
 * IPv4, bytes in network order. */
struct portdiag_key {
	int family;
	uint8_t bytes[16];
	uint16_t port;
};

/* Where one inode of the list being filled sits, for bsearch. */
struct portdiag_slot {
	unsigned long inode;
	size_t idx;
};

static int parse_line(const char *line, size_t len, int family, int proto,
                      struct portdiag_socket *out, bool *keep);
static int parse_hex(const char *s, size_t len, size_t maxdigits,
                     unsigned long *out);
static int parse_dec(const char *s, size_t len, unsigned long max,
                     unsigned long *out);
static int parse_sockaddr(const char *s, size_t len, int family,
                          struct sockaddr_storage *ss, socklen_t *sslen);
static int load_sockets(const char *procroot, int proto,
                        struct portdiag_socket **list, size_t *n);
static char *read_text(const char *path);
static void scan_holders(const char *procroot, struct portdiag_socket *list,
                         size_t n);
static void read_comm(int piddir, char *program, size_t len);
static bool read_uid(int piddir, uid_t *uid);
static void read_v6only(const char *procroot, int proto,
                        struct portdiag_socket *list, size_t n);
static void user_name(uid_t uid, char *buf, size_t len);
static int socket_cmp(const void *a, const void *b);
static int slot_cmp(const void *a, const void *b);
static int key_from_sa(const struct sockaddr *sa, socklen_t salen,
                       struct portdiag_key *key);
static bool key_is_any(const struct portdiag_key *k);
static int conflict_rank(const struct portdiag_key *bind,
                         const struct portdiag_key *sock, bool sock_v4);
static unsigned unprivileged_port_start(const char *procroot);
static bool explain_in_use(const char *procroot, const struct sockaddr *sa,
                           socklen_t salen, int proto, bool skip_own,
                           char *buf, size_t len);
static bool own_inode(const char *procroot, unsigned long inode);
static void explain_access(const char *procroot, char *buf, size_t len);
static bool is_root(void);

int portdiag_parse_net(const char *text, int family, int proto,
                       struct portdiag_socket **list, size_t *n)
{
	struct portdiag_socket *found = NULL, *grown, sock;
	size_t nfound = 0, cap = 0;
	const char *line = text, *end;
	bool keep;

	if ((family != AF_INET && family != AF_INET6) ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_UDP))
		return -1;
	/* Parse into a private array first: on malformed text the caller's
	 * list is left as it was. */
	while (*line != '\0') {
		end = strchr(line, '\n');
		if (end == NULL)
			end = line + strlen(line);
		if (parse_line(line, (size_t)(end - line), family, proto, &sock,
		               &keep) == -1)
			goto err;
		if (keep) {
			if (nfound == cap) {
				cap = cap ? cap * 2 : 16;
				grown = realloc(found, cap * sizeof(*found));
				if (grown == NULL)
					goto err;
				found = grown;
			}
			found[nfound++] = sock;
		}
		line = *end == '\n' ? end + 1 : end;
	}
	if (nfound > 0) {
		grown = realloc(*list, (*n + nfound) * sizeof(**list));
		if (grown == NULL)
			goto err;
		memcpy(grown + *n, found, nfound * sizeof(*found));
		*list = grown;
		*n += nfound;
	}
	free(found);
	return (int)nfound;
err:
	free(found);
	return -1;
}

int portdiag_find_holder(const char *procroot, unsigned long inode, pid_t *pid,
                         char *program, size_t proglen)
{
	struct portdiag_socket s;

	if (inode == 0)
		return -1;
	memset(&s, 0, sizeof(s));
	s.inode = inode;
	scan_holders(procroot, &s, 1);
	if (s.pid == 0)
		return -1;
	*pid = s.pid;
	if (program != NULL && proglen > 0)
		snprintf(program, proglen, "%s", s.program);
	return 0;
}

void portdiag_fill_holders(const char *procroot, struct portdiag_socket *list,
                           size_t n)
{
	for (size_t i = 0; i < n; i++) {
		list[i].pid = 0;
		list[i].program[0] = '\0';
		user_name(list[i].uid, list[i].user, sizeof(list[i].user));
	}
	scan_holders(procroot, list, n);
}

int portdiag_list(const char *procroot, struct portdiag_socket **list,
                  size_t *n)
{
	struct portdiag_socket *all = NULL;
	size_t nall = 0;

	if (load_sockets(procroot, IPPROTO_TCP, &all, &nall) == -1 ||
	    load_sockets(procroot, IPPROTO_UDP, &all, &nall) == -1) {
		free(all);
		return -1;
	}
	portdiag_fill_holders(procroot, all, nall);
	if (nall > 1)
		qsort(all, nall, sizeof(*all), socket_cmp);
	*list = all;
	*n = nall;
	return 0;
}

int portdiag_list_port(const char *procroot, int proto, uint16_t port,
                       struct portdiag_socket **list, size_t *n)
{
	struct portdiag_socket *all = NULL;
	size_t nall = 0, kept = 0;

	if (load_sockets(procroot, proto, &all, &nall) == -1) {
		free(all);
		return -1;
	}
	for (size_t i = 0; i < nall; i++) {
		struct addr a;

		portdiag_socket_addr(&all[i], &a);
		if (a.port == port)
			all[kept++] = all[i];
	}
	/* The pass over every process's descriptors is the costly part:
	 * only when something listens. */
	if (kept > 0)
		portdiag_fill_holders(procroot, all, kept);
	*list = all;
	*n = kept;
	return 0;
}

void portdiag_socket_addr(const struct portdiag_socket *s, struct addr *out)
{
	struct portdiag_key key;

	memset(out, 0, sizeof(*out));
	out->kind = ADDR_INET;
	if (key_from_sa((const struct sockaddr *)&s->addr, s->addrlen, &key) ==
	        0 &&
	    key.family == AF_INET) {
		out->sa.sin.sin_family = AF_INET;
		out->sa.sin.sin_port = htons(key.port);
		memcpy(&out->sa.sin.sin_addr, key.bytes, 4);
		out->salen = sizeof(out->sa.sin);
		out->port = key.port;
		return;
	}
	memcpy(&out->sa.ss, &s->addr, sizeof(s->addr));
	out->salen = s->addrlen;
	out->port = key.port;
}

void portdiag_describe_holder(const struct portdiag_socket *s, char *buf,
                              size_t len)
{
	if (s->pid > 0 && s->program[0] != '\0')
		snprintf(buf, len, "pid %ld (%s, user %s)", (long)s->pid,
		         s->program, s->user);
	else if (s->pid > 0)
		snprintf(buf, len, "pid %ld (user %s)", (long)s->pid, s->user);
	else if (!is_root())
		snprintf(buf, len,
		         "a process of user %s that portier cannot see",
		         s->user);
	else
		snprintf(buf, len,
		         "a socket of user %s that no visible process holds "
		         "(another PID namespace, or the kernel)",
		         s->user);
}

char *portdiag_explain_bind(const char *procroot, int err,
                            const struct sockaddr *sa, socklen_t salen,
                            int proto, char *buf, size_t len)
{
	struct portdiag_key key;

	if (len == 0)
		return buf;
	switch (err) {
	case EADDRINUSE:
		if (key_from_sa(sa, salen, &key) == 0) {
			(void)explain_in_use(procroot, sa, salen, proto, false,
			                     buf, len);
			return buf;
		}
		break;
	case EACCES:
		if (key_from_sa(sa, salen, &key) == 0 &&
		    key.port < unprivileged_port_start(procroot)) {
			explain_access(procroot, buf, len);
			return buf;
		}
		break;
	case EADDRNOTAVAIL:
		snprintf(buf, len,
		         "address not available: no interface on "
		         "this machine has this address");
		return buf;
	default:
		break;
	}
	snprintf(buf, len, "%s", strerror(err));
	return buf;
}

/* One line of /proc/net: *keep tells whether it is a socket we list. */
static int parse_line(const char *line, size_t len, int family, int proto,
                      struct portdiag_socket *out, bool *keep)
{
	const char *tok[PORTDIAG_FIELDS];
	size_t toklen[PORTDIAG_FIELDS], ntok = 0, i = 0;
	struct sockaddr_storage remote;
	socklen_t remotelen;
	unsigned long slot, state, uid, inode;
	uint16_t port;

	*keep = false;
	while (ntok < PORTDIAG_FIELDS) {
		while (i < len && isspace((unsigned char)line[i]))
			i++;
		if (i == len)
			break;
		tok[ntok] = line + i;
		while (i < len && !isspace((unsigned char)line[i]))
			i++;
		toklen[ntok] = (size_t)(line + i - tok[ntok]);
		ntok++;
	}
	if (ntok == 0)
		return 0; /* blank line */
	if (toklen[0] == 2 && memcmp(tok[0], "sl", 2) == 0)
		return 0; /* the header */
	if (ntok < PORTDIAG_FIELDS)
		return -1;
	/* "12:" */
	if (toklen[0] < 2 || tok[0][toklen[0] - 1] != ':' ||
	    parse_dec(tok[0], toklen[0] - 1, ULONG_MAX, &slot) == -1)
		return -1;
	memset(out, 0, sizeof(*out));
	out->proto = proto;
	out->family = family;
	if (parse_sockaddr(tok[1], toklen[1], family, &out->addr,
	                   &out->addrlen) == -1 ||
	    parse_sockaddr(tok[2], toklen[2], family, &remote, &remotelen) ==
	        -1 ||
	    parse_hex(tok[3], toklen[3], 2, &state) == -1 ||
	    parse_dec(tok[7], toklen[7], UINT32_MAX - 1, &uid) == -1 ||
	    parse_dec(tok[9], toklen[9], ULONG_MAX, &inode) == -1)
		return -1;
	out->uid = (uid_t)uid;
	out->inode = inode;
	if (family == AF_INET)
		port = ntohs(((struct sockaddr_in *)&out->addr)->sin_port);
	else
		port = ntohs(((struct sockaddr_in6 *)&out->addr)->sin6_port);
	if (proto == IPPROTO_TCP)
		*keep = state == PORTDIAG_TCP_LISTEN;
	else
		*keep = state == PORTDIAG_UDP_UNCONNECTED && port != 0;
	return 0;
}

/* 1..maxdigits hex digits, nothing else. */
static int parse_hex(const char *s, size_t len, size_t maxdigits,
                     unsigned long *out)
{
	static const char digits[] = "0123456789abcdef";
	unsigned long v = 0;
	const char *d;

	if (len == 0 || len > maxdigits || len > sizeof(v) * 2)
		return -1;
	for (size_t i = 0; i < len; i++) {
		d = s[i] ? strchr(digits, tolower((unsigned char)s[i])) : NULL;
		if (d == NULL)
			return -1;
		v = v * 16 + (unsigned long)(d - digits);
	}
	*out = v;
	return 0;
}

/* Decimal digits only, at most max. */
static int parse_dec(const char *s, size_t len, unsigned long max,
                     unsigned long *out)
{
	unsigned long v = 0;

	if (len == 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		if (v > (max - (unsigned long)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	*out = v;
	return 0;
}

/*
 * "0100007F:1F90": the kernel prints each 32-bit word of the address as a
 * number in host byte order, and the port as a plain number.
 */
static int parse_sockaddr(const char *s, size_t len, int family,
                          struct sockaddr_storage *ss, socklen_t *sslen)
{
	size_t hexlen = family == AF_INET ? 8 : 32;
	unsigned long word, port;
	uint32_t words[4];

	if (len < hexlen + 2 || s[hexlen] != ':' ||
	    parse_hex(s + hexlen + 1, len - hexlen - 1, 4, &port) == -1)
		return -1;
	for (size_t i = 0; i < hexlen / 8; i++) {
		if (parse_hex(s + i * 8, 8, 8, &word) == -1)
			return -1;
		words[i] = (uint32_t)word;
	}
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		memcpy(&sin->sin_addr, words, 4);
		*sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		memcpy(&sin6->sin6_addr, words, 16);
		*sslen = sizeof(*sin6);
	}
	return 0;
}

/* Append the sockets of both families of `proto`; a file that does not
 * exist (no IPv6) is skipped, but one of the two must be readable. */
static int load_sockets(const char *procroot, int proto,
                        struct portdiag_socket **list, size_t *n)
{
	static const int families[] = {AF_INET, AF_INET6};
	const char *base = proto == IPPROTO_TCP ? "tcp" : "udp";
	char path[PATH_MAX], *text;
	int readable = 0, saved = ENOENT;

	for (size_t i = 0; i < 2; i++) {
		if (snprintf(path, sizeof(path), "%s/net/%s%s", procroot, base,
		             families[i] == AF_INET6 ? "6" : "") >=
		    (int)sizeof(path)) {
			errno = ENAMETOOLONG;
			return -1;
		}
		text = read_text(path);
		if (text == NULL) {
			if (errno != ENOENT)
				return -1;
			continue;
		}
		readable++;
		if (portdiag_parse_net(text, families[i], proto, list, n) ==
		    -1) {
			free(text);
			errno = EINVAL;
			return -1;
		}
		free(text);
	}
	if (readable == 0) {
		errno = saved;
		return -1;
	}
	read_v6only(procroot, proto, *list, *n);
	return 0;
}

/*
 * Mark which IPv6 sockets of list[0..n) have IPV6_V6ONLY set: /proc/net
 * does not say, the kernel's socket diagnostics do (NETLINK_SOCK_DIAG,
 * which ss(8) reads; any user may). Sockets found there are matched by
 * inode. Left unknown when it cannot be read (a kernel without the
 * diagnostics module), and for a fixture tree, which is not this kernel.
 */
static void read_v6only(const char *procroot, int proto,
                        struct portdiag_socket *list, size_t n)
{
	struct {
		struct nlmsghdr nlh;
		struct inet_diag_req_v2 req;
	} q;
	union {
		struct nlmsghdr align;
		char bytes[32768];
	} buf;
	struct timeval tv = {1, 0};
	bool any6 = false, done = false;
	ssize_t got;
	int fd;

	for (size_t i = 0; i < n; i++)
		any6 |= list[i].family == AF_INET6;
	if (!any6 || strcmp(procroot, "/proc") != 0)
		return;
	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG);
	if (fd < 0)
		return;
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	memset(&q, 0, sizeof(q));
	q.nlh.nlmsg_len = sizeof(q);
	q.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
	q.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	q.req.sdiag_family = AF_INET6;
	q.req.sdiag_protocol = (uint8_t)proto;
	q.req.idiag_states = 1u << (proto == IPPROTO_TCP
	                                ? PORTDIAG_TCP_LISTEN
	                                : PORTDIAG_UDP_UNCONNECTED);
	if (send(fd, &q, sizeof(q), 0) != (ssize_t)sizeof(q)) {
		close(fd);
		return;
	}
	while (!done && (got = recv(fd, &buf, sizeof(buf), 0)) > 0) {
		size_t left = (size_t)got;

		for (struct nlmsghdr *h = &buf.align; NLMSG_OK(h, left);
		     h = NLMSG_NEXT(h, left)) {
			const struct inet_diag_msg *m = NLMSG_DATA(h);
			struct rtattr *a;
			unsigned alen;

			if (h->nlmsg_type == NLMSG_DONE ||
			    h->nlmsg_type == NLMSG_ERROR) {
				done = true;
				break;
			}
			if (h->nlmsg_len < NLMSG_LENGTH(sizeof(*m)))
				continue;
			alen = h->nlmsg_len - NLMSG_LENGTH(sizeof(*m));
			for (a = (struct rtattr *)(void *)(m + 1);
			     RTA_OK(a, alen); a = RTA_NEXT(a, alen)) {
				if (a->rta_type != INET_DIAG_SKV6ONLY ||
				    RTA_PAYLOAD(a) < 1)
					continue;
				for (size_t i = 0; i < n; i++) {
					if (list[i].family != AF_INET6 ||
					    list[i].inode != m->idiag_inode)
						continue;
					list[i].v6only =
					    *(uint8_t *)RTA_DATA(a) != 0;
					list[i].v6only_known = true;
				}
			}
		}
	}
	close(fd);
}

/* The whole of a (proc) file, NUL-terminated; its size is not known in
 * advance. NULL with errno set on failure. */
static char *read_text(const char *path)
{
	size_t len = 0, cap = 8192;
	char *text = malloc(cap), *grown;
	ssize_t got;
	int fd, saved;

	if (text == NULL)
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		goto err;
	for (;;) {
		if (cap - len < 4096) {
			grown = realloc(text, cap * 2);
			if (grown == NULL)
				goto err;
			text = grown;
			cap *= 2;
		}
		got = read(fd, text + len, cap - len - 1);
		if (got == -1 && errno == EINTR)
			continue;
		if (got == -1)
			goto err;
		if (got == 0)
			break;
		len += (size_t)got;
	}
	close(fd);
	text[len] = '\0';
	if (strlen(text) != len) {
		free(text); /* a NUL byte: not a /proc/net file */
		errno = EINVAL;
		return NULL;
	}
	return text;
err:
	saved = errno;
	if (fd != -1)
		close(fd);
	free(text);
	errno = saved;
	return NULL;
}

/*
 * One pass over procroot/PID/fd: every socket whose inode a process holds
 * gets the lowest such pid (the parent of forked workers) and its comm.
 * Directories we may not read (another user's process) are skipped.
 */
static void scan_holders(const char *procroot, struct portdiag_socket *list,
                         size_t n)
{
	struct portdiag_slot *slots, key, *hit;
	size_t nslots = 0;
	struct dirent *pe, *fe;
	DIR *proc, *fds;
	int piddir, fdfd;
	char link[64], program[sizeof(list->program)];
	char user[sizeof(list->user)];
	bool have_comm, have_uid = false;
	uid_t uid = 0;
	ssize_t got;
	unsigned long pidnum, inode;

	if (n == 0)
		return;
	slots = calloc(n, sizeof(*slots));
	if (slots == NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (list[i].inode != 0) {
			slots[nslots].inode = list[i].inode;
			slots[nslots++].idx = i;
		}
	}
	qsort(slots, nslots, sizeof(*slots), slot_cmp);
	proc = nslots > 0 ? opendir(procroot) : NULL;
	while (proc != NULL && (pe = readdir(proc)) != NULL) {
		if (parse_dec(pe->d_name, strlen(pe->d_name), INT_MAX,
		              &pidnum) == -1 ||
		    pidnum == 0)
			continue;
		piddir = openat(dirfd(proc), pe->d_name,
		                O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (piddir == -1)
			continue;
		fdfd = openat(piddir, "fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		fds = fdfd == -1 ? NULL : fdopendir(fdfd);
		if (fds == NULL) {
			if (fdfd != -1)
				close(fdfd);
			close(piddir); /* EACCES: not ours to see */
			continue;
		}
		have_comm = false;
		while ((fe = readdir(fds)) != NULL) {
			if (fe->d_name[0] == '.')
				continue;
			got = readlinkat(fdfd, fe->d_name, link,
			                 sizeof(link) - 1);
			if (got <= 0)
				continue;
			link[got] = '\0';
			if (strncmp(link, "socket:[", 8) != 0 ||
			    link[got - 1] != ']' ||
			    parse_dec(link + 8, (size_t)got - 9, ULONG_MAX,
			              &inode) == -1)
				continue;
			key.inode = inode;
			hit = bsearch(&key, slots, nslots, sizeof(*slots),
			              slot_cmp);
			if (hit == NULL)
				continue;
			/* Several entries may share an inode: walk back to
			 * the first. */
			while (hit > slots && hit[-1].inode == inode)
				hit--;
			/* The process's user, not the socket's: a server
			 * that bound as root and then dropped to another
			 * user is that user's now (as ps says). */
			if (!have_comm) {
				read_comm(piddir, program, sizeof(program));
				have_uid = read_uid(piddir, &uid);
				if (have_uid)
					user_name(uid, user, sizeof(user));
				have_comm = true;
			}
			for (; hit < slots + nslots && hit->inode == inode;
			     hit++) {
				struct portdiag_socket *s = &list[hit->idx];

				if (s->pid != 0 && s->pid <= (pid_t)pidnum)
					continue;
				s->pid = (pid_t)pidnum;
				memcpy(s->program, program, sizeof(program));
				if (have_uid) {
					s->uid = uid;
					memcpy(s->user, user, sizeof(user));
				}
			}
		}
		closedir(fds);
		close(piddir);
	}
	if (proc != NULL)
		closedir(proc);
	free(slots);
}

void portdiag_program(const char *procroot, pid_t pid, char *program,
                      size_t len)
{
	char dir[PATH_MAX];
	int piddir;

	program[0] = '\0';
	if ((size_t)snprintf(dir, sizeof(dir), "%s/%ld", procroot,
	                     (long)pid) >= sizeof(dir) ||
	    (piddir = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1)
		return;
	read_comm(piddir, program, len);
	close(piddir);
}

/* A process's comm, with bytes a terminal would interpret replaced. */
static void read_comm(int piddir, char *program, size_t len)
{
	ssize_t got;
	int fd;

	program[0] = '\0';
	fd = openat(piddir, "comm", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return;
	got = read(fd, program, len - 1);
	close(fd);
	if (got <= 0)
		return;
	program[got] = '\0';
	program[strcspn(program, "\n")] = '\0';
	for (char *p = program; *p != '\0'; p++) {
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	}
}

/* The effective uid of a process, from the Uid line of its status. */
static bool read_uid(int piddir, uid_t *uid)
{
	char text[2048], *line;
	unsigned long real, effective;
	ssize_t got;
	int fd;

	fd = openat(piddir, "status", O_RDONLY | O_CLOEXEC);
	if (fd == -1)
		return false;
	got = read(fd, text, sizeof(text) - 1);
	close(fd);
	if (got <= 0)
		return false;
	text[got] = '\0';
	line = strstr(text, "\nUid:");
	if (line == NULL ||
	    sscanf(line + 5, "%lu %lu", &real, &effective) != 2)
		return false;
	*uid = (uid_t)effective;
	return true;
}

/* The name of uid, or the number when it has none. */
static void user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *found = NULL;
	char scratch[4096];

	if (getpwuid_r(uid, &pw, scratch, sizeof(scratch), &found) == 0 &&
	    found != NULL && strlen(found->pw_name) < len)
		snprintf(buf, len, "%s", found->pw_name);
	else
		snprintf(buf, len, "%lu", (unsigned long)uid);
}

/* Port, then protocol (tcp first), then family (IPv4 first), address. */
static int socket_cmp(const void *a, const void *b)
{
	const struct portdiag_socket *x = a, *y = b;
	struct portdiag_key kx, ky;
	int c;

	if (key_from_sa((const struct sockaddr *)&x->addr, x->addrlen, &kx) ==
	        -1 ||
	    key_from_sa((const struct sockaddr *)&y->addr, y->addrlen, &ky) ==
	        -1)
		return 0;
	if (kx.port != ky.port)
		return kx.port < ky.port ? -1 : 1;
	if (x->proto != y->proto)
		return x->proto == IPPROTO_TCP ? -1 : 1;
	if (x->family != y->family)
		return x->family == AF_INET ? -1 : 1;
	c = memcmp(kx.bytes, ky.bytes, sizeof(kx.bytes));
	if (c != 0)
		return c;
	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return 0;
}

static int slot_cmp(const void *a, const void *b)
{
	const struct portdiag_slot *x = a, *y = b;

	if (x->inode != y->inode)
		return x->inode < y->inode ? -1 : 1;
	return 0;
}

/* Reduce an IPv4 or IPv6 socket address; -1 for other families. */
static int key_from_sa(const struct sockaddr *sa, socklen_t salen,
                       struct portdiag_key *key)
{
	static const uint8_t mapped[12] = {0, 0, 0, 0, 0,    0,
	                                   0, 0, 0, 0, 0xff, 0xff};
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;

	memset(key, 0, sizeof(*key));
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET && salen >= sizeof(sin)) {
		memcpy(&sin, sa, sizeof(sin));
		key->family = AF_INET;
		memcpy(key->bytes, &sin.sin_addr, 4);
		key->port = ntohs(sin.sin_port);
		return 0;
	}
	if (sa->sa_family == AF_INET6 && salen >= sizeof(sin6)) {
		memcpy(&sin6, sa, sizeof(sin6));
		key->port = ntohs(sin6.sin6_port);
		if (memcmp(&sin6.sin6_addr, mapped, sizeof(mapped)) == 0) {
			key->family = AF_INET;
			memcpy(key->bytes, (uint8_t *)&sin6.sin6_addr + 12, 4);
		} else {
			key->family = AF_INET6;
			memcpy(key->bytes, &sin6.sin6_addr, 16);
		}
		return 0;
	}
	return -1;
}

static bool key_is_any(const struct portdiag_key *k)
{
	static const uint8_t zero[16];

	return memcmp(k->bytes, zero, sizeof(zero)) == 0;
}

/*
 * How surely a socket is what makes `bind` fail: 0 the same address, 1 a
 * wildcard socket that covers it (a [::] one covers IPv4 too when sock_v4,
 * see portdiag_takes_ipv4), 2 a socket under our own wildcard (portier's
 * [::] sockets are IPV6_V6ONLY: IPv6 ones only); -1 no conflict.
 */
static int conflict_rank(const struct portdiag_key *bind,
                         const struct portdiag_key *sock, bool sock_v4)
{
	if (bind->port != sock->port)
		return -1;
	if (bind->family == sock->family &&
	    memcmp(bind->bytes, sock->bytes, sizeof(bind->bytes)) == 0)
		return 0;
	if (key_is_any(sock) &&
	    (bind->family == sock->family ||
	     (sock->family == AF_INET6 && sock_v4)))
		return 1;
	if (key_is_any(bind) && bind->family == sock->family)
		return 2;
	return -1;
}

bool portdiag_takes_ipv4(const struct portdiag_socket *s)
{
	const struct sockaddr_in6 *sin6 =
	    (const struct sockaddr_in6 *)(const void *)&s->addr;

	return s->family == AF_INET6 && s->addr.ss_family == AF_INET6 &&
	       IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr) &&
	       !(s->v6only_known && s->v6only);
}

int portdiag_same_config(const char *procroot, pid_t pid, const char *path,
                         char *other, size_t len)
{
	char proc[PATH_MAX], cmdline[PORTDIAG_CMDLINE], full[PATH_MAX + 64];
	char resolved[PATH_MAX];
	const char *args[64], *file = NULL;
	struct stat mine, theirs;
	size_t nargs = 0, got;
	FILE *fp;

	snprintf(proc, sizeof(proc), "%s/%ld/cmdline", procroot, (long)pid);
	fp = fopen(proc, "re");
	if (fp == NULL)
		return -1;
	got = fread(cmdline, 1, sizeof(cmdline) - 1, fp);
	fclose(fp);
	cmdline[got] = '\0';
	for (size_t i = 0; i < got && nargs < 64; i += strlen(cmdline + i) + 1)
		args[nargs++] = cmdline + i;
	if (nargs > 1 && args[1][0] != '-') {
		snprintf(other, len, "running `portier %s`", args[1]);
		return 0;
	}
	for (size_t i = 1; i < nargs; i++) {
		if (strcmp(args[i], "-c") == 0 && i + 1 < nargs)
			file = args[i + 1];
		else if (strncmp(args[i], "-c", 2) == 0 && args[i][2] != '\0')
			file = args[i] + 2;
	}
	if (file == NULL)
		file = "portier.ini";
	if (file[0] == '/')
		snprintf(full, sizeof(full), "%s", file);
	else
		snprintf(full, sizeof(full), "%s/%ld/cwd/%s", procroot,
		         (long)pid, file);
	if (stat(path, &mine) < 0 || stat(full, &theirs) < 0)
		return -1;
	if (mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino)
		return 1;
	if (realpath(full, resolved) != NULL)
		file = resolved;
	snprintf(other, len, "running %.*s", (int)(len > 9 ? len - 9 : 0),
	         file);
	return 0;
}

/* Linux lets anyone bind from net.ipv4.ip_unprivileged_port_start up. */
static unsigned unprivileged_port_start(const char *procroot)
{
	char path[PATH_MAX], *text;
	unsigned long v;

	if (snprintf(path, sizeof(path),
	             "%s/sys/net/ipv4/ip_unprivileged_port_start",
	             procroot) >= (int)sizeof(path))
		return 1024;
	text = read_text(path);
	if (text == NULL)
		return 1024;
	if (parse_dec(text, strcspn(text, "\n"), 65536, &v) == -1)
		v = 1024;
	free(text);
	return (unsigned)v;
}

bool portdiag_shared_with_other(const char *procroot,
                               const struct sockaddr *sa, socklen_t salen,
                               int proto, char *buf, size_t len)
{
	return explain_in_use(procroot, sa, salen, proto, true, buf, len);
}

/* EADDRINUSE: find the socket in the way of sa, and say who holds it
 * into buf; with skip_own, this process's own sockets are not in the way.
 * True when one is. */
static bool explain_in_use(const char *procroot, const struct sockaddr *sa,
                           socklen_t salen, int proto, bool skip_own,
                           char *buf, size_t len)
{
	struct portdiag_socket *list = NULL, *best = NULL;
	struct portdiag_key want, have;
	size_t n = 0, ncand = 0;
	int rank, best_rank = 3;
	char holder[160], socktext[ADDR_STRLEN];

	if (key_from_sa(sa, salen, &want) == -1 ||
	    (proto != IPPROTO_TCP && proto != IPPROTO_UDP) ||
	    load_sockets(procroot, proto, &list, &n) == -1) {
		snprintf(buf, len, "address already in use (holder not found)");
		free(list);
		return !skip_own;
	}
	/* Keep only the sockets in the way, fill their holders (one pass over
	 * /proc), then take the surest; a visible holder wins a tie. */
	for (size_t i = 0; i < n; i++) {
		if (key_from_sa((struct sockaddr *)&list[i].addr,
		                list[i].addrlen, &have) == 0 &&
		    conflict_rank(&want, &have,
		                  portdiag_takes_ipv4(&list[i])) >= 0 &&
		    !(skip_own && (list[i].inode == 0 ||
		                   own_inode(procroot, list[i].inode))))
			list[ncand++] = list[i];
	}
	if (skip_own && ncand == 0) {
		free(list);
		return false;
	}
	portdiag_fill_holders(procroot, list, ncand);
	for (size_t i = 0; i < ncand; i++) {
		(void)key_from_sa((struct sockaddr *)&list[i].addr,
		                  list[i].addrlen, &have);
		rank = conflict_rank(&want, &have,
		                     portdiag_takes_ipv4(&list[i]));
		if (best == NULL || rank < best_rank ||
		    (rank == best_rank && best->pid == 0 && list[i].pid != 0)) {
			best = &list[i];
			best_rank = rank;
		}
	}
	if (best == NULL) {
		snprintf(buf, len, "address already in use (holder not found)");
		free(list);
		return true;
	}
	portdiag_describe_holder(best, holder, sizeof(holder));
	addr_format_sa((struct sockaddr *)&best->addr, best->addrlen, socktext,
	               sizeof(socktext));
	if (best->pid > 0)
		snprintf(buf, len, "address already in use by %s%s%s", holder,
		         best_rank == 0 ? "" : " on ",
		         best_rank == 0 ? "" : socktext);
	else
		snprintf(buf, len, "address already in use by %s%s%s%s", holder,
		         is_root() ? ""
		                   : " (run as root, e.g. sudo portier "
		                     "ports, to see which)",
		         best_rank == 0 ? "" : "; its socket is ",
		         best_rank == 0 ? "" : socktext);
	free(list);
	return true;
}

/* True when this process holds socket `inode` (procroot/self/fd). */
static bool own_inode(const char *procroot, unsigned long inode)
{
	char path[PATH_MAX], link[64], want[40];
	struct dirent *e;
	bool found = false;
	DIR *d;

	snprintf(path, sizeof(path), "%s/self/fd", procroot);
	snprintf(want, sizeof(want), "socket:[%lu]", inode);
	if ((d = opendir(path)) == NULL)
		return false;
	while (!found && (e = readdir(d)) != NULL) {
		char fdpath[PATH_MAX + 300];
		ssize_t got;

		if (e->d_name[0] == '.')
			continue;
		snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
		got = readlink(fdpath, link, sizeof(link) - 1);
		if (got <= 0)
			continue;
		link[got] = '\0';
		found = strcmp(link, want) == 0;
	}
	closedir(d);
	return found;
}

/* EACCES below the unprivileged port range: the three ways out. */
static void explain_access(const char *procroot, char *buf, size_t len)
{
	char path[PATH_MAX], exe[PATH_MAX];
	unsigned start = unprivileged_port_start(procroot);
	ssize_t got = -1;

	if (snprintf(path, sizeof(path), "%s/self/exe", procroot) <
	    (int)sizeof(path))
		got = readlink(path, exe, sizeof(exe) - 1);
	if (got > 0)
		exe[got] = '\0';
	else
		snprintf(exe, sizeof(exe), "\"$(command -v portier)\"");
	snprintf(buf, len,
	         "permission denied: ports below %u need root; run as root, "
	         "give the binary the capability (setcap "
	         "cap_net_bind_service=+ep %s, or "
	         "AmbientCapabilities=CAP_NET_BIND_SERVICE in a systemd unit), "
	         "or use a port of %u or above",
	         start, exe, start);
}

static bool is_root(void)
{
	return geteuid() == 0;
}
