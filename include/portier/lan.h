/* SPDX-License-Identifier: MIT */
/*
 * This machine as the LAN sees it: its addresses (getifaddrs) and host
 * name. Used for the names a tls = auto certificate must cover, and for the
 * URLs `portier expose` prints.
 */
#ifndef PORTIER_LAN_H
#define PORTIER_LAN_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>

struct addr;
struct sockaddr;

/* Most addresses lan_addresses reports. */
#define LAN_MAX 16

/* One address as text, without brackets or zone. */
struct lan_addr {
	char text[INET6_ADDRSTRLEN];
	int family;
};

/*
 * The machine's addresses that other hosts can reach: IPv4 first, then
 * IPv6, skipping loopback, and link-local ones unless nothing else exists.
 * Fills at most max entries and returns how many.
 */
size_t lan_addresses(struct lan_addr *out, size_t max);

/* True for 127.0.0.0/8, ::1 and v4-mapped 127.0.0.0/8. */
bool lan_is_loopback(const struct sockaddr *sa);

/* True when any of the bind addresses is reachable from other hosts (not
 * loopback). */
bool lan_exposed(const struct addr *binds, size_t n);

#endif
