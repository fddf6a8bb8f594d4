/* SPDX-License-Identifier: MIT */
/*
 * Addresses, as written in the configuration and as seen on sockets.
 *
 * addr_parse turns the DESIGN.md address syntax into a struct addr: `PORT`
 * (127.0.0.1:PORT), `HOST:PORT` with an IPv4 literal, `[V6]:PORT`, `*:PORT`
 * (every IPv4 and IPv6 address), `localhost:PORT` and `unix:/path`. cidr_*
 * is the access-control list type used by allow, deny and trusted_proxies.
 * Nothing here allocates or touches libevent.
 */
#ifndef PORTIER_ADDR_H
#define PORTIER_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

/* What an address names. */
enum addr_kind {
	ADDR_INET,	/* one IPv4 or IPv6 socket address in `sa` */
	ADDR_ANY,	/* `*:PORT`: 0.0.0.0 and [::] on `port` */
	ADDR_LOCALHOST, /* `localhost:PORT`: [::1] and 127.0.0.1 on `port` */
	ADDR_UNIX,	/* `unix:/path`, path in `sa` */
};

/* A parsed address; plain data, copy it freely. */
struct addr {
	enum addr_kind kind;
	uint16_t port; /* host order; 0 for ADDR_UNIX */
	socklen_t salen;
	union {
		struct sockaddr sa;
		struct sockaddr_in sin;
		struct sockaddr_in6 sin6;
		struct sockaddr_un sun;
		struct sockaddr_storage ss;
	} sa; /* valid for ADDR_INET and ADDR_UNIX */
};

/* Which side of a connection an address string is for. */
enum addr_use {
	ADDR_FOR_BIND,	  /* listener bind: no unix:, localhost allowed */
	ADDR_FOR_BACKEND, /* backend: no `*` */
};

/* Longest string addr_format writes, NUL included. */
#define ADDR_STRLEN 128

/*
 * Parse `text` into `out`. On failure returns -1 and writes a message that
 * explains what is wrong (no file or line) into `err`.
 */
int addr_parse(const char *text, enum addr_use use, struct addr *out,
	       char *err, size_t errlen) __attribute__((warn_unused_result));

/* Write `a` as the user would write it ("127.0.0.1:80", "[::1]:80",
 * "*:80", "localhost:80", "unix:/run/x.sock") into buf; returns buf. */
char *addr_format(const struct addr *a, char *buf, size_t len);

/* Write a socket address as "1.2.3.4:80" or "[::1]:80" (v4-mapped IPv6
 * shown as IPv4, unix sockets as "unix:/path" or "unix" when unnamed). */
char *addr_format_sa(const struct sockaddr *sa, socklen_t salen, char *buf,
		     size_t len);

/* Fill `out` with an ADDR_INET address; `family` AF_INET or AF_INET6,
 * `ip` the loopback or wildcard of that family depending on `loopback`. */
void addr_inet(struct addr *out, int family, bool loopback, uint16_t port);

/* For a loopback address of one family (127.0.0.0/8, [::1]), the loopback
 * address of the other with the same port: where a service may listen
 * instead of where it was named. False for any other address. */
bool addr_other_loopback(const struct addr *a, struct addr *other);

/* The sockets a bind address stands for: itself, or for `*:PORT` and
 * localhost:PORT an IPv4 and an IPv6 one, the IPv6 one optional (a machine
 * without IPv6 still serves IPv4). Returns how many (0 for unix:). */
int addr_bind_sockets(const struct addr *a, struct addr out[2],
		      bool optional[2]);

/* True when a and b are the same ADDR_INET/ADDR_UNIX socket address. */
bool addr_equal(const struct addr *a, const struct addr *b);

/* True when two bind addresses of the same protocol cannot both be bound:
 * equal, or one a wildcard (0.0.0.0, [::], `*`, localhost) covering the
 * other on the same port. */
bool addr_overlaps(const struct addr *a, const struct addr *b);

/* One CIDR block of an access-control list. */
struct cidr {
	int family; /* AF_INET or AF_INET6 */
	uint8_t prefix;
	uint8_t bytes[16]; /* network order; host bits are zero */
};

/*
 * Parse "10.0.0.0/8", "192.168.1.7" (a /32), "::1", "fd00::/8" into out.
 * Host bits set below the prefix are an error ("did you mean 10.0.0.0/8?").
 */
int cidr_parse(const char *text, struct cidr *out, char *err, size_t errlen)
	__attribute__((warn_unused_result));

/* Write "10.0.0.0/8" into buf; returns buf. */
char *cidr_format(const struct cidr *c, char *buf, size_t len);

/* True when sa (IPv4, IPv6 or v4-mapped IPv6) lies in c. */
bool cidr_match(const struct cidr *c, const struct sockaddr *sa);

/* True when sa lies in any of the n blocks. */
bool cidr_match_any(const struct cidr *list, size_t n,
		    const struct sockaddr *sa);

#endif
