/* SPDX-License-Identifier: MIT */
/*
 * A TLS ClientHello reader for mode = tls-passthrough: it finds the
 * server_name (SNI) a client asks for without terminating TLS, so that the
 * connection can be routed on it and relayed to the backend untouched.
 *
 * The caller keeps the bytes it has read from the client in one buffer and
 * calls clienthello_parse again after each read with the whole buffer so
 * far; the parser keeps no state between calls. It allocates nothing, reads
 * no byte at or past len, and works in time linear in len. A final result
 * (anything but CLIENTHELLO_MORE) depends only on bytes up to the end of
 * the ClientHello, so more bytes never change it; bytes after the
 * ClientHello (0-RTT data, a ChangeCipherSpec) are ignored.
 */
#ifndef PORTIER_CLIENTHELLO_H
#define PORTIER_CLIENTHELLO_H

#include <stddef.h>
#include <stdint.h>

/* Most bytes, TLS record headers included, that a ClientHello may take;
 * the buffer the caller reads into never needs to be larger. A hello in
 * one record of the largest size (2^14 bytes and its 5-byte header) fits;
 * larger ones, which no browser sends, are turned away. */
#define CLIENTHELLO_MAX (16384 + 5)

/* Room for the longest host name and its NUL. */
#define CLIENTHELLO_NAME_MAX 256

/* What the bytes read so far are. */
enum clienthello_result {
	CLIENTHELLO_MORE,    /* incomplete so far: read more, call again
	                        (never returned once len >= CLIENTHELLO_MAX) */
	CLIENTHELLO_OK,      /* a ClientHello whose server_name is in name */
	CLIENTHELLO_NO_SNI,  /* a well-formed ClientHello without server_name */
	CLIENTHELLO_NOT_TLS, /* the first bytes are not a TLS handshake record
	                        (plain HTTP, an SSLv2-style hello, an alert) */
	CLIENTHELLO_TOO_BIG, /* the ClientHello needs more than CLIENTHELLO_MAX
	                        bytes (said as soon as the headers show it) */
	CLIENTHELLO_MALFORMED, /* TLS records, but no valid ClientHello */
};

/*
 * Read the ClientHello at the start of buf[0..len), the bytes the client
 * has sent so far. The handshake message may be split over several
 * handshake records (record version 3.1 to 3.4, or 3.0 from the first
 * record on), with no record of another type among them, and must end with
 * its last record. On CLIENTHELLO_OK, name holds the host name of the
 * server_name extension, lower-cased and NUL-terminated: 1 to 255 bytes of
 * letters, digits, '-', '_' and '.', no empty label; one trailing dot is
 * removed ("app.test." gives "app.test"). Any other result leaves name
 * empty. namelen is the size of name and should be CLIENTHELLO_NAME_MAX; a
 * name that does not fit counts as malformed.
 */
enum clienthello_result clienthello_parse(const uint8_t *buf, size_t len,
                                          char *name, size_t namelen);

/* A short description of r for logs: "not TLS", "no server name", ... */
const char *clienthello_result_str(enum clienthello_result r);

#endif
