/* SPDX-License-Identifier: MIT */
/*
 * Addresses: the parser for the address syntax of the configuration
 * (DESIGN.md "Value syntax"), the formatting used in logs and messages, the
 * overlap test that refuses two listeners on one address, and the CIDR
 * blocks of allow, deny and trusted_proxies. Only IP literals, `*`,
 * `localhost` and `unix:/path` are accepted: a name that needs DNS would
 * make the configuration depend on the network at start-up.
 */
#include "config.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "portier/addr.h"

/* A piece of the caller's text: not NUL-terminated. */
struct span {
	const char *p;
	size_t n;
};

static void addr_error(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static struct span span_trim(const char *text);
static int span_len(struct span s);
static bool span_is(struct span s, const char *word);
static bool span_copy(struct span s, char *buf, size_t len);
static int parse_number(struct span s, unsigned long max, unsigned long *out);
static int parse_port(struct span s, uint16_t *port, char *err, size_t errlen);
static int parse_unix(struct span path, enum addr_use use, struct addr *out,
                      char *err, size_t errlen);
static int parse_bracketed(struct span text, struct addr *out, char *err,
                           size_t errlen);
static int parse_host_port(struct span text, struct span host, struct span port,
                           enum addr_use use, struct addr *out, char *err,
                           size_t errlen);
static int bare_ipv6_error(struct span text, char *err, size_t errlen);
static bool inet_is_wildcard(const struct addr *a);
static bool inet_is_loopback(const struct addr *a);
static bool inet_overlaps(const struct addr *a, const struct addr *b);
static bool sa_ip_bytes(const struct sockaddr *sa, int *family,
                        uint8_t bytes[16]);
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix);
static bool cidr_v4_mapped(const uint8_t bytes[16]);

int addr_parse(const char *text, enum addr_use use, struct addr *out, char *err,
               size_t errlen)
{
	struct span s = span_trim(text ? text : "");
	struct span host, port;
	const char *colon;

	memset(out, 0, sizeof(*out));
	if (s.n == 0) {
		addr_error(err, errlen, "empty address");
		return -1;
	}
	if (s.n >= 5 && strncmp(s.p, "unix:", 5) == 0) {
		struct span path = {s.p + 5, s.n - 5};

		return parse_unix(path, use, out, err, errlen);
	}
	if (s.p[0] == '[')
		return parse_bracketed(s, out, err, errlen);

	colon = memchr(s.p, ':', s.n);
	if (colon == NULL) {
		/* A lone number is a port on 127.0.0.1; anything else
		 * (an address, a name) is missing its port. */
		if (memchr(s.p, '.', s.n) == NULL &&
		    (s.p[0] == '-' || s.p[0] == '+' ||
		     (s.p[0] >= '0' && s.p[0] <= '9'))) {
			uint16_t portnum;

			if (parse_port(s, &portnum, err, errlen) < 0)
				return -1;
			addr_inet(out, AF_INET, true, portnum);
			return 0;
		}
		addr_error(err, errlen, "missing port in '%.*s'", span_len(s),
		           s.p);
		return -1;
	}
	if (memchr(colon + 1, ':', s.n - (size_t)(colon + 1 - s.p)) != NULL)
		return bare_ipv6_error(s, err, errlen);

	host.p = s.p;
	host.n = (size_t)(colon - s.p);
	port.p = colon + 1;
	port.n = s.n - host.n - 1;
	return parse_host_port(s, host, port, use, out, err, errlen);
}

char *addr_format(const struct addr *a, char *buf, size_t len)
{
	switch (a->kind) {
	case ADDR_ANY:
		snprintf(buf, len, "*:%u", (unsigned)a->port);
		return buf;
	case ADDR_LOCALHOST:
		snprintf(buf, len, "localhost:%u", (unsigned)a->port);
		return buf;
	case ADDR_INET:
	case ADDR_UNIX:
		return addr_format_sa(&a->sa.sa, a->salen, buf, len);
	}
	snprintf(buf, len, "?");
	return buf;
}

char *addr_format_sa(const struct sockaddr *sa, socklen_t salen, char *buf,
                     size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (len == 0)
		return buf;
	if (sa == NULL || salen < (socklen_t)sizeof(sa_family_t)) {
		snprintf(buf, len, "unknown");
		return buf;
	}
	if (sa->sa_family == AF_INET &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, (unsigned)ntohs(sin->sin_port));
		return buf;
	}
	if (sa->sa_family == AF_INET6 &&
	    salen >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;
		unsigned port = ntohs(sin6->sin6_port);
		char ifname[IF_NAMESIZE];

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], ip,
			          sizeof(ip));
			snprintf(buf, len, "%s:%u", ip, port);
			return buf;
		}
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		if (sin6->sin6_scope_id == 0)
			snprintf(buf, len, "[%s]:%u", ip, port);
		else if (if_indextoname(sin6->sin6_scope_id, ifname) != NULL)
			snprintf(buf, len, "[%s%%%s]:%u", ip, ifname, port);
		else
			snprintf(buf, len, "[%s%%%u]:%u", ip,
			         (unsigned)sin6->sin6_scope_id, port);
		return buf;
	}
	if (sa->sa_family == AF_UNIX) {
		const struct sockaddr_un *sun = (const struct sockaddr_un *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t max;

		if ((size_t)salen <= off || sun->sun_path[0] == '\0') {
			snprintf(buf, len, "unix");
			return buf;
		}
		max = (size_t)salen - off;
		if (max > sizeof(sun->sun_path))
			max = sizeof(sun->sun_path);
		snprintf(buf, len, "unix:%.*s",
		         (int)strnlen(sun->sun_path, max), sun->sun_path);
		return buf;
	}
	snprintf(buf, len, "unknown");
	return buf;
}

void addr_inet(struct addr *out, int family, bool loopback, uint16_t port)
{
	memset(out, 0, sizeof(*out));
	out->kind = ADDR_INET;
	out->port = port;
	if (family == AF_INET6) {
		out->sa.sin6.sin6_family = AF_INET6;
		out->sa.sin6.sin6_port = htons(port);
		out->sa.sin6.sin6_addr =
		    loopback ? in6addr_loopback : in6addr_any;
		out->salen = sizeof(struct sockaddr_in6);
	} else {
		out->sa.sin.sin_family = AF_INET;
		out->sa.sin.sin_port = htons(port);
		out->sa.sin.sin_addr.s_addr =
		    htonl(loopback ? INADDR_LOOPBACK : INADDR_ANY);
		out->salen = sizeof(struct sockaddr_in);
	}
}

int addr_bind_sockets(const struct addr *a, struct addr out[2],
                      bool optional[2])
{
	bool loopback = a->kind == ADDR_LOCALHOST;

	switch (a->kind) {
	case ADDR_INET:
		out[0] = *a;
		optional[0] = false;
		return 1;
	case ADDR_ANY:
	case ADDR_LOCALHOST:
		addr_inet(&out[0], AF_INET, loopback, a->port);
		addr_inet(&out[1], AF_INET6, loopback, a->port);
		optional[0] = false;
		optional[1] = true;
		return 2;
	case ADDR_UNIX:
		break;
	}
	return 0;
}

bool addr_equal(const struct addr *a, const struct addr *b)
{
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case ADDR_ANY:
	case ADDR_LOCALHOST:
		return a->port == b->port;
	case ADDR_UNIX:
		return strncmp(a->sa.sun.sun_path, b->sa.sun.sun_path,
		               sizeof(a->sa.sun.sun_path)) == 0;
	case ADDR_INET:
		if (a->sa.sa.sa_family != b->sa.sa.sa_family ||
		    a->port != b->port)
			return false;
		if (a->sa.sa.sa_family == AF_INET)
			return a->sa.sin.sin_addr.s_addr ==
			       b->sa.sin.sin_addr.s_addr;
		return memcmp(&a->sa.sin6.sin6_addr, &b->sa.sin6.sin6_addr,
		              sizeof(struct in6_addr)) == 0 &&
		       a->sa.sin6.sin6_scope_id == b->sa.sin6.sin6_scope_id;
	}
	return false;
}

bool addr_overlaps(const struct addr *a, const struct addr *b)
{
	if (a->kind == ADDR_UNIX || b->kind == ADDR_UNIX)
		return addr_equal(a, b);
	if (a->port != b->port)
		return false;
	if (a->kind == ADDR_ANY || b->kind == ADDR_ANY)
		return true;
	if (a->kind == ADDR_LOCALHOST && b->kind == ADDR_LOCALHOST)
		return true;
	if (a->kind == ADDR_LOCALHOST)
		return inet_is_loopback(b) || inet_is_wildcard(b);
	if (b->kind == ADDR_LOCALHOST)
		return inet_is_loopback(a) || inet_is_wildcard(a);
	return inet_overlaps(a, b);
}

int cidr_parse(const char *text, struct cidr *out, char *err, size_t errlen)
{
	struct span s = span_trim(text ? text : "");
	struct span ip = s;
	const char *slash;
	char buf[INET6_ADDRSTRLEN];
	unsigned long prefix;
	uint8_t net[16];
	unsigned max;

	memset(out, 0, sizeof(*out));
	if (s.n == 0) {
		addr_error(err, errlen, "empty address block");
		return -1;
	}
	slash = memchr(s.p, '/', s.n);
	if (slash != NULL)
		ip.n = (size_t)(slash - s.p);
	if (!span_copy(ip, buf, sizeof(buf)) ||
	    (inet_pton(AF_INET, buf, out->bytes) != 1 &&
	     inet_pton(AF_INET6, buf, out->bytes) != 1)) {
		addr_error(err, errlen, "'%.*s' is not an IP address",
		           span_len(ip), ip.p);
		return -1;
	}
	out->family = strchr(buf, ':') != NULL ? AF_INET6 : AF_INET;
	max = out->family == AF_INET ? 32 : 128;
	prefix = max;
	if (slash != NULL) {
		struct span p = {slash + 1, s.n - ip.n - 1};

		if (p.n == 0) {
			addr_error(err, errlen,
			           "missing prefix length in '%.*s'",
			           span_len(s), s.p);
			return -1;
		}
		if (strspn(p.p, "0123456789") < p.n) {
			addr_error(err, errlen,
			           "prefix length '%.*s' is not a number",
			           span_len(p), p.p);
			return -1;
		}
		if (parse_number(p, max, &prefix) < 0) {
			addr_error(err, errlen,
			           "prefix length '%.*s' out of range 0-%u",
			           span_len(p), p.p, max);
			return -1;
		}
	}
	out->prefix = (uint8_t)prefix;

	memset(net, 0, sizeof(net));
	memcpy(net, out->bytes, prefix / 8);
	if (prefix % 8 != 0)
		net[prefix / 8] =
		    out->bytes[prefix / 8] & (uint8_t)(0xff00u >> (prefix % 8));
	if (memcmp(net, out->bytes, sizeof(net)) != 0) {
		struct cidr fixed = *out;
		char hint[INET6_ADDRSTRLEN + 4];

		memcpy(fixed.bytes, net, sizeof(net));
		addr_error(
		    err, errlen, "'%.*s' has host bits set; did you mean '%s'?",
		    span_len(s), s.p, cidr_format(&fixed, hint, sizeof(hint)));
		return -1;
	}
	return 0;
}

char *cidr_format(const struct cidr *c, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (inet_ntop(c->family, c->bytes, ip, sizeof(ip)) == NULL)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%s/%u", ip, (unsigned)c->prefix);
	return buf;
}

bool cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	uint8_t bytes[16];
	int family;

	if (sa == NULL)
		return false;
	/* A v4-mapped client is an IPv4 client for IPv4 blocks; and an
	 * IPv4 client, mapped or not (which depends on the socket it came
	 * to, not on the client), is in a block of v4-mapped addresses
	 * (::ffff:127.0.0.1, ::ffff:0:0/96) when its address is. */
	if (c->family == AF_INET) {
		if (!sa_ip_bytes(sa, &family, bytes) || family != AF_INET)
			return false;
		return prefix_equal(c->bytes, bytes, c->prefix);
	}
	if (c->prefix >= 96 && cidr_v4_mapped(c->bytes)) {
		if (!sa_ip_bytes(sa, &family, bytes) || family != AF_INET)
			return false;
		return prefix_equal(c->bytes + 12, bytes, c->prefix - 96u);
	}
	if (sa->sa_family != AF_INET6)
		return false;
	return prefix_equal(
	    c->bytes, ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr,
	    c->prefix);
}

/* True for an address in ::ffff:0:0/96. */
static bool cidr_v4_mapped(const uint8_t bytes[16])
{
	static const uint8_t prefix[12] = {0, 0, 0, 0, 0,    0,
	                                   0, 0, 0, 0, 0xff, 0xff};

	return memcmp(bytes, prefix, sizeof(prefix)) == 0;
}

bool cidr_match_any(const struct cidr *list, size_t n,
                    const struct sockaddr *sa)
{
	for (size_t i = 0; i < n; i++) {
		if (cidr_match(&list[i], sa))
			return true;
	}
	return false;
}

static void addr_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The text without leading and trailing white space. */
static struct span span_trim(const char *text)
{
	struct span s = {text, strlen(text)};

	while (s.n > 0 && strchr(" \t\r\n\v\f", s.p[0]) != NULL) {
		s.p++;
		s.n--;
	}
	while (s.n > 0 && strchr(" \t\r\n\v\f", s.p[s.n - 1]) != NULL)
		s.n--;
	return s;
}

/* A length for "%.*s"; messages never need more than this. */
static int span_len(struct span s)
{
	return s.n > 1024 ? 1024 : (int)s.n;
}

static bool span_is(struct span s, const char *word)
{
	return strlen(word) == s.n && strncasecmp(s.p, word, s.n) == 0;
}

static bool span_copy(struct span s, char *buf, size_t len)
{
	if (s.n >= len)
		return false;
	memcpy(buf, s.p, s.n);
	buf[s.n] = '\0';
	return true;
}

/* Decimal digits only, at most max; -1 when not a number or too big. */
static int parse_number(struct span s, unsigned long max, unsigned long *out)
{
	unsigned long v = 0;

	if (s.n == 0)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			return -1;
		v = v * 10 + (unsigned long)(s.p[i] - '0');
		if (v > max)
			return -1;
	}
	*out = v;
	return 0;
}

static int parse_port(struct span s, uint16_t *port, char *err, size_t errlen)
{
	unsigned long v;
	size_t i;

	for (i = 0; i < s.n; i++) {
		if (s.p[i] < '0' || s.p[i] > '9')
			break;
	}
	if (s.n == 0 || i < s.n) {
		addr_error(err, errlen, "port '%.*s' is not a number",
		           span_len(s), s.p);
		return -1;
	}
	if (parse_number(s, 65535, &v) < 0 || v == 0) {
		addr_error(err, errlen, "port '%.*s' out of range 1-65535",
		           span_len(s), s.p);
		return -1;
	}
	*port = (uint16_t)v;
	return 0;
}

static int parse_unix(struct span path, enum addr_use use, struct addr *out,
                      char *err, size_t errlen)
{
	size_t max = sizeof(out->sa.sun.sun_path) - 1;

	if (use == ADDR_FOR_BIND) {
		addr_error(err, errlen,
		           "unix sockets are not supported as bind addresses");
		return -1;
	}
	if (path.n == 0) {
		addr_error(err, errlen, "missing path after 'unix:'");
		return -1;
	}
	if (path.p[0] != '/') {
		addr_error(err, errlen,
		           "unix socket path '%.*s' is not absolute",
		           span_len(path), path.p);
		return -1;
	}
	if (path.n > max) {
		addr_error(err, errlen,
		           "unix socket path '%.*s' is too long (%zu bytes, "
		           "at most %zu)",
		           span_len(path), path.p, path.n, max);
		return -1;
	}
	out->kind = ADDR_UNIX;
	out->port = 0;
	out->sa.sun.sun_family = AF_UNIX;
	memcpy(out->sa.sun.sun_path, path.p, path.n);
	out->salen =
	    (socklen_t)(offsetof(struct sockaddr_un, sun_path) + path.n + 1);
	return 0;
}

/* "[V6]:PORT" */
static int parse_bracketed(struct span text, struct addr *out, char *err,
                           size_t errlen)
{
	const char *close = memchr(text.p, ']', text.n);
	char buf[INET6_ADDRSTRLEN];
	struct span ip, port;
	uint16_t portnum;

	if (close == NULL) {
		addr_error(err, errlen, "missing ']' in '%.*s'", span_len(text),
		           text.p);
		return -1;
	}
	ip.p = text.p + 1;
	ip.n = (size_t)(close - ip.p);
	port.p = close + 1;
	port.n = text.n - (size_t)(port.p - text.p);
	if (memchr(ip.p, '%', ip.n) != NULL) {
		addr_error(err, errlen,
		           "IPv6 zone ids are not supported: '%.*s'",
		           span_len(ip), ip.p);
		return -1;
	}
	if (!span_copy(ip, buf, sizeof(buf)) ||
	    inet_pton(AF_INET6, buf, &out->sa.sin6.sin6_addr) != 1) {
		addr_error(err, errlen, "invalid IPv6 address '%.*s'",
		           span_len(ip), ip.p);
		return -1;
	}
	if (port.n == 0 || (port.n == 1 && port.p[0] == ':')) {
		addr_error(err, errlen, "missing port in '%.*s'",
		           span_len(text), text.p);
		return -1;
	}
	if (port.p[0] != ':') {
		addr_error(err, errlen, "expected ':PORT' after ']' in '%.*s'",
		           span_len(text), text.p);
		return -1;
	}
	port.p++;
	port.n--;
	if (parse_port(port, &portnum, err, errlen) < 0)
		return -1;
	out->kind = ADDR_INET;
	out->port = portnum;
	if (IN6_IS_ADDR_V4MAPPED(&out->sa.sin6.sin6_addr)) {
		/* [::ffff:a.b.c.d] is the IPv4 address a.b.c.d: an IPv6
		 * socket could not bind it (portier's are IPv6-only), and
		 * it overlaps the IPv4 address everywhere else. */
		struct in_addr in;

		memcpy(&in, &out->sa.sin6.sin6_addr.s6_addr[12], sizeof(in));
		memset(&out->sa, 0, sizeof(out->sa));
		out->sa.sin.sin_family = AF_INET;
		out->sa.sin.sin_addr = in;
		out->sa.sin.sin_port = htons(portnum);
		out->salen = sizeof(struct sockaddr_in);
		return 0;
	}
	out->sa.sin6.sin6_family = AF_INET6;
	out->sa.sin6.sin6_port = htons(portnum);
	out->salen = sizeof(struct sockaddr_in6);
	return 0;
}

/* "HOST:PORT" with HOST an IPv4 literal, `*` or `localhost`. */
static int parse_host_port(struct span text, struct span host, struct span port,
                           enum addr_use use, struct addr *out, char *err,
                           size_t errlen)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr in;
	uint16_t portnum;
	size_t i;

	if (host.n == 0) {
		addr_error(err, errlen, "missing host in '%.*s'",
		           span_len(text), text.p);
		return -1;
	}
	if (port.n == 0) {
		addr_error(err, errlen, "missing port in '%.*s'",
		           span_len(text), text.p);
		return -1;
	}
	if (span_is(host, "*")) {
		if (use != ADDR_FOR_BIND) {
			addr_error(err, errlen,
			           "'*' is only for bind addresses");
			return -1;
		}
		if (parse_port(port, &portnum, err, errlen) < 0)
			return -1;
		out->kind = ADDR_ANY;
		out->port = portnum;
		return 0;
	}
	if (span_is(host, "localhost")) {
		if (parse_port(port, &portnum, err, errlen) < 0)
			return -1;
		out->kind = ADDR_LOCALHOST;
		out->port = portnum;
		return 0;
	}
	if (span_copy(host, buf, sizeof(buf)) &&
	    inet_pton(AF_INET, buf, &in) == 1) {
		if (parse_port(port, &portnum, err, errlen) < 0)
			return -1;
		addr_inet(out, AF_INET, false, portnum);
		out->sa.sin.sin_addr = in;
		return 0;
	}
	for (i = 0; i < host.n; i++) {
		if ((host.p[i] < '0' || host.p[i] > '9') && host.p[i] != '.')
			break;
	}
	if (i == host.n) {
		addr_error(err, errlen, "invalid IPv4 address '%.*s'",
		           span_len(host), host.p);
		return -1;
	}
	addr_error(err, errlen,
	           "'%.*s': host names are not accepted; use an IP address, "
	           "%s",
	           span_len(host), host.p,
	           use == ADDR_FOR_BIND ? "'*' or 'localhost'"
	                                : "'localhost' or unix:/path");
	return -1;
}

/* Two or more colons and no brackets: most likely an IPv6 address. */
static int bare_ipv6_error(struct span text, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN];
	struct in6_addr in6;
	const char *last = text.p + text.n - 1;
	struct span ip, port;
	unsigned long v;

	while (*last != ':')
		last--;
	ip.p = text.p;
	ip.n = (size_t)(last - text.p);
	port.p = last + 1;
	port.n = text.n - ip.n - 1;
	if (span_copy(ip, buf, sizeof(buf)) &&
	    inet_pton(AF_INET6, buf, &in6) == 1 &&
	    parse_number(port, 65535, &v) == 0) {
		addr_error(err, errlen,
		           "IPv6 addresses need brackets: '[%s]:%.*s'", buf,
		           span_len(port), port.p);
		return -1;
	}
	if (span_copy(text, buf, sizeof(buf)) &&
	    inet_pton(AF_INET6, buf, &in6) == 1) {
		addr_error(err, errlen,
		           "IPv6 addresses need brackets and a port: "
		           "'[%s]:PORT'",
		           buf);
		return -1;
	}
	addr_error(err, errlen, "invalid address '%.*s'", span_len(text),
	           text.p);
	return -1;
}

static bool inet_is_wildcard(const struct addr *a)
{
	if (a->sa.sa.sa_family == AF_INET)
		return a->sa.sin.sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&a->sa.sin6.sin6_addr);
}

bool addr_other_loopback(const struct addr *a, struct addr *other)
{
	int family;

	if (a->kind != ADDR_INET)
		return false;
	if (a->sa.sa.sa_family == AF_INET &&
	    (ntohl(a->sa.sin.sin_addr.s_addr) >> 24) == 127)
		family = AF_INET6;
	else if (a->sa.sa.sa_family == AF_INET6 &&
	         IN6_IS_ADDR_LOOPBACK(&a->sa.sin6.sin6_addr))
		family = AF_INET;
	else
		return false;
	addr_inet(other, family, true, a->port);
	return true;
}

static bool inet_is_loopback(const struct addr *a)
{
	if (a->sa.sa.sa_family == AF_INET)
		return a->sa.sin.sin_addr.s_addr == htonl(INADDR_LOOPBACK);
	return IN6_IS_ADDR_LOOPBACK(&a->sa.sin6.sin6_addr);
}

/*
 * Two ADDR_INET bind addresses on the same port. Every IPv6 listener sets
 * IPV6_V6ONLY, so [::] covers IPv6 only and the families never collide.
 */
static bool inet_overlaps(const struct addr *a, const struct addr *b)
{
	if (a->sa.sa.sa_family != b->sa.sa.sa_family)
		return false;
	return addr_equal(a, b) || inet_is_wildcard(a) || inet_is_wildcard(b);
}

/* The IP of sa as 4 (IPv4 or v4-mapped) or 16 bytes. */
static bool sa_ip_bytes(const struct sockaddr *sa, int *family,
                        uint8_t bytes[16])
{
	if (sa->sa_family == AF_INET) {
		*family = AF_INET;
		memcpy(bytes, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *in6 =
		    &((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(in6)) {
			*family = AF_INET;
			memcpy(bytes, &in6->s6_addr[12], 4);
		} else {
			*family = AF_INET6;
			memcpy(bytes, in6->s6_addr, 16);
		}
		return true;
	}
	return false;
}

/* The first `prefix` bits of a and b are equal. */
static bool prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned whole = prefix / 8, rest = prefix % 8;
	uint8_t mask;

	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	mask = (uint8_t)(0xff00u >> rest);
	return (a[whole] & mask) == (b[whole] & mask);
}
