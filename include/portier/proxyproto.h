/* SPDX-License-Identifier: MIT */
/*
 * PROXY protocol headers (v1 text, v2 binary) that tell a backend who the
 * client was. See haproxy's proxy-protocol.txt.
 */
#ifndef PORTIER_PROXYPROTO_H
#define PORTIER_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Largest header proxyproto_build writes. */
#define PROXYPROTO_MAX 232

/*
 * Write the version 1 or 2 header for a TCP connection from `src` (the
 * client) to `dst` (the address it connected to) into buf. v4-mapped IPv6
 * addresses are sent as IPv4; when the two families differ or are not
 * IP, v1 sends "PROXY UNKNOWN" and v2 a LOCAL command. Returns the number
 * of bytes written, or -1 when len is too small or version is not 1 or 2.
 */
int proxyproto_build(int version, const struct sockaddr *src,
		     const struct sockaddr *dst, uint8_t *buf, size_t len)
	__attribute__((warn_unused_result));

#endif
