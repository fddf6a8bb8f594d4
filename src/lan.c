/* SPDX-License-Identifier: MIT */
/*
 * The machine's LAN addresses, from getifaddrs(3). Loopback addresses are
 * never reported; link-local ones (169.254/16, fe80::/10) only when the
 * machine has nothing better, since a phone cannot use them in a URL
 * without a zone.
 */
#include "config.h"

#include <ifaddrs.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "portier/lan.h"
#include "portier/addr.h"

static bool lan_link_local(const struct sockaddr *sa);

size_t lan_addresses(struct lan_addr *out, size_t max)
{
	struct ifaddrs *list, *i;
	size_t n = 0;

	if (getifaddrs(&list) < 0)
		return 0;
	/* Pass 0: IPv4, pass 1: IPv6, each without link-local; passes 2
	 * and 3 take link-local ones when those found nothing. */
	for (int pass = 0; pass < 4 && n < max; pass++) {
		int family = pass % 2 ? AF_INET6 : AF_INET;
		bool link = pass >= 2;

		if (link && n > 0)
			break;
		for (i = list; i != NULL && n < max; i = i->ifa_next) {
			const struct sockaddr *sa = i->ifa_addr;
			const void *ip;

			if (sa == NULL || sa->sa_family != family ||
			    !(i->ifa_flags & IFF_UP) || lan_is_loopback(sa) ||
			    lan_link_local(sa) != link)
				continue;
			ip = family == AF_INET
			         ? (const void *)&((const struct sockaddr_in *)
			                               (const void *)sa)
			               ->sin_addr
			         : (const void *)&((const struct sockaddr_in6 *)
			                               (const void *)sa)
			               ->sin6_addr;
			if (inet_ntop(family, ip, out[n].text,
			              sizeof(out[n].text)) == NULL)
				continue;
			out[n].family = family;
			/* An address on two interfaces counts once. */
			for (size_t j = 0; j < n; j++) {
				if (strcmp(out[j].text, out[n].text) == 0) {
					n--;
					break;
				}
			}
			n++;
		}
	}
	freeifaddrs(list);
	return n;
}

bool lan_exposed(const struct addr *binds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (binds[i].kind == ADDR_ANY ||
		    (binds[i].kind == ADDR_INET &&
		     !lan_is_loopback(&binds[i].sa.sa)))
			return true;
	}
	return false;
}

bool lan_is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		return (ntohl(s->sin_addr.s_addr) >> 24) == 127;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
		    &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;

		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return false;
}

/* 169.254.0.0/16 and fe80::/10. */
static bool lan_link_local(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)sa;

		return (ntohl(s->sin_addr.s_addr) >> 16) == 0xa9fe;
	}
	return sa->sa_family == AF_INET6 &&
	       IN6_IS_ADDR_LINKLOCAL(
	           &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
}
