/* SPDX-License-Identifier: MIT */
/*
 * Backend addresses: the order to try them in and the non-blocking connect.
 * A `localhost` backend is the common case of a dev server that listens on
 * [::1] only (Node 17+, Vite) or on 127.0.0.1 only; portier tries both and
 * remembers which answered.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "portier/upstream.h"

void upstream_init(struct upstream *up, const struct addr *addr)
{
	memset(up, 0, sizeof(*up));
	up->addr = *addr;
	addr_format(addr, up->name, sizeof(up->name));
}

int upstream_targets(const struct upstream *up, bool v4_first,
                     struct upstream_target out[2])
{
	struct addr a;

	memset(out, 0, 2 * sizeof(out[0]));
	if (up->addr.kind != ADDR_LOCALHOST) {
		memcpy(&out[0].u.ss, &up->addr.sa.ss, up->addr.salen);
		out[0].len = up->addr.salen;
		return 1;
	}
	for (int i = 0; i < 2; i++) {
		int v4 = (i == 0) == v4_first;

		addr_inet(&a, v4 ? AF_INET : AF_INET6, true, up->addr.port);
		memcpy(&out[i].u.ss, &a.sa.ss, a.salen);
		out[i].len = a.salen;
	}
	return 2;
}

bool upstream_prefers_v4(const struct upstream *up)
{
	return up->prefer_v4;
}

void upstream_answered(struct upstream *up, int family)
{
	if (up->addr.kind == ADDR_LOCALHOST)
		up->prefer_v4 = family == AF_INET;
}

int upstream_connect(const struct upstream_target *target, bool *connected)
{
	int family = target->u.sa.sa_family;
	int one = 1;
	int fd;

	*connected = false;
	fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (family != AF_UNIX)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one,
		                 sizeof(one));
	if (connect(fd, &target->u.sa, target->len) == 0) {
		*connected = true;
		return fd;
	}
	if (errno == EINPROGRESS)
		return fd;
	/* EAGAIN from a unix socket means its backlog is full. */
	int saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

bool upstream_retryable(int err)
{
	switch (err) {
	case ECONNREFUSED:
	case EADDRNOTAVAIL:
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EAFNOSUPPORT:
	case ETIMEDOUT:
		return true;
	default:
		return false;
	}
}
