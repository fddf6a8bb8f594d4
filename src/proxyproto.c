/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol headers, written before the first byte of a backend
 * connection so that the backend learns the client's address. Version 1 is
 * one line of text, version 2 a binary block; both follow haproxy's
 * proxy-protocol.txt. Only the TCP forms are built: the header describes
 * the client's connection, which is TCP for every listener that sends one.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "portier/proxyproto.h"

/* The 12 bytes that open every version 2 header. */
static const uint8_t proxyproto_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
                                           0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

#define PP2_CMD_LOCAL    0x20 /* version 2, LOCAL */
#define PP2_CMD_PROXY    0x21 /* version 2, PROXY */
#define PP2_FAM_UNSPEC   0x00
#define PP2_FAM_TCP4     0x11
#define PP2_FAM_TCP6     0x21
#define PP2_HEADER_LEN   16
#define PP2_TCP4_ADDRLEN 12
#define PP2_TCP6_ADDRLEN 36

/* One endpoint reduced to what the header carries. */
struct endpoint {
	int family;      /* AF_INET (v4-mapped included) or AF_INET6 */
	uint8_t ip[16];  /* 4 or 16 bytes, network order */
	uint8_t port[2]; /* network order */
};

static bool endpoint_get(const struct sockaddr *sa, struct endpoint *ep);
static int build_v1(const struct endpoint *src, const struct endpoint *dst,
                    bool known, uint8_t *buf, size_t len);
static int build_v2(const struct endpoint *src, const struct endpoint *dst,
                    bool known, uint8_t *buf, size_t len);

int proxyproto_build(int version, const struct sockaddr *src,
                     const struct sockaddr *dst, uint8_t *buf, size_t len)
{
	struct endpoint s, d;
	bool src_ok = endpoint_get(src, &s);
	bool dst_ok = endpoint_get(dst, &d);
	bool known = src_ok && dst_ok && s.family == d.family;

	if (version == 1)
		return build_v1(&s, &d, known, buf, len);
	if (version == 2)
		return build_v2(&s, &d, known, buf, len);
	return -1;
}

/* Fill ep from an IPv4 or IPv6 socket address; false for anything else. */
static bool endpoint_get(const struct sockaddr *sa, struct endpoint *ep)
{
	memset(ep, 0, sizeof(*ep));
	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		ep->family = AF_INET;
		memcpy(ep->ip, &sin->sin_addr, 4);
		memcpy(ep->port, &sin->sin_port, 2);
		return true;
	}
	if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 =
		    (const struct sockaddr_in6 *)sa;

		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			ep->family = AF_INET;
			memcpy(ep->ip, &sin6->sin6_addr.s6_addr[12], 4);
		} else {
			ep->family = AF_INET6;
			memcpy(ep->ip, &sin6->sin6_addr, 16);
		}
		memcpy(ep->port, &sin6->sin6_port, 2);
		return true;
	}
	return false;
}

/* "PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n" */
static int build_v1(const struct endpoint *src, const struct endpoint *dst,
                    bool known, uint8_t *buf, size_t len)
{
	char line[PROXYPROTO_MAX], sip[INET6_ADDRSTRLEN], dip[INET6_ADDRSTRLEN];
	int n;

	if (!known) {
		n = snprintf(line, sizeof(line), "PROXY UNKNOWN\r\n");
	} else {
		inet_ntop(src->family, src->ip, sip, sizeof(sip));
		inet_ntop(dst->family, dst->ip, dip, sizeof(dip));
		n = snprintf(line, sizeof(line), "PROXY %s %s %s %u %u\r\n",
		             src->family == AF_INET ? "TCP4" : "TCP6", sip, dip,
		             (unsigned)(src->port[0] << 8 | src->port[1]),
		             (unsigned)(dst->port[0] << 8 | dst->port[1]));
	}
	/* The header is not a C string: no room is needed for a NUL. */
	if (n < 0 || (size_t)n >= sizeof(line) || (size_t)n > len)
		return -1;
	memcpy(buf, line, (size_t)n);
	return n;
}

static int build_v2(const struct endpoint *src, const struct endpoint *dst,
                    bool known, uint8_t *buf, size_t len)
{
	size_t alen = 0, iplen = 0;
	uint8_t *p;

	if (known) {
		iplen = src->family == AF_INET ? 4 : 16;
		alen = src->family == AF_INET ? PP2_TCP4_ADDRLEN
		                              : PP2_TCP6_ADDRLEN;
	}
	if (len < PP2_HEADER_LEN + alen)
		return -1;
	memcpy(buf, proxyproto_sig, sizeof(proxyproto_sig));
	buf[12] = known ? PP2_CMD_PROXY : PP2_CMD_LOCAL;
	buf[13] = !known                   ? PP2_FAM_UNSPEC
	          : src->family == AF_INET ? PP2_FAM_TCP4
	                                   : PP2_FAM_TCP6;
	buf[14] = (uint8_t)(alen >> 8);
	buf[15] = (uint8_t)(alen & 0xff);
	p = buf + PP2_HEADER_LEN;
	if (known) {
		memcpy(p, src->ip, iplen);
		memcpy(p + iplen, dst->ip, iplen);
		memcpy(p + 2 * iplen, src->port, 2);
		memcpy(p + 2 * iplen + 2, dst->port, 2);
	}
	return (int)(PP2_HEADER_LEN + alen);
}
