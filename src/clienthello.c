/* SPDX-License-Identifier: MIT */
/*
 * The TLS ClientHello reader of tls-passthrough listeners: it finds the
 * server_name a client asks for (RFC 6066 section 3) in the first bytes of
 * a connection, before any byte goes to a backend, and never terminates
 * TLS. The ClientHello layout is that of RFC 8446 section 4.1.2, which
 * keeps the one of RFC 5246 for every field read here.
 *
 * Two passes over the caller's buffer. The first walks the record layer:
 * it checks each record header, reads the handshake header (which may
 * itself be split over records), decides whether the message is complete,
 * too big or not TLS at all, and stops at the first byte that is wrong,
 * so that a prefix of the input never gives another final answer than the
 * whole. The second, only once the message is complete, reads it through
 * a cursor that steps over the record headers in its way; every vector
 * length is checked against the vector that encloses it.
 */
#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "portier/clienthello.h"

#define TLS_RECORD_HANDSHAKE 22
#define TLS_RECORD_HEADER    5
#define TLS_RECORD_MAX       16384 /* longest plaintext fragment, 2^14 */
#define TLS_HANDSHAKE_HEADER 4
#define TLS_CLIENT_HELLO     1
#define TLS_RANDOM_LEN       32
#define TLS_SESSION_ID_MAX   32
#define TLS_EXT_SERVER_NAME  0
#define TLS_NAME_TYPE_HOST   0
#define TLS_HOST_NAME_MAX    255

/* A cursor over the handshake message, which lies in the bodies of
 * consecutive handshake records of buf. */
struct reader {
	const uint8_t *buf;
	size_t len;  /* bytes in buf */
	size_t pos;  /* index in buf of the next message byte */
	size_t left; /* message bytes from pos to the end of their record */
	size_t off;  /* offset in the message of the next byte */
};

static enum clienthello_result frame(const uint8_t *buf, size_t len,
                                     size_t *msglen);
static bool version_ok(unsigned version, unsigned first);
static enum clienthello_result read_hello(struct reader *r, size_t end,
                                          char *name, size_t namelen);
static bool read_server_name(struct reader *r, size_t end, char *name,
                             size_t namelen);
static bool host_name_copy(const uint8_t *host, size_t n, char *name,
                           size_t namelen);
static bool take(struct reader *r, size_t end, size_t n, uint8_t *out);
static bool take_u8(struct reader *r, size_t end, size_t *v);
static bool take_u16(struct reader *r, size_t end, size_t *v);

enum clienthello_result clienthello_parse(const uint8_t *buf, size_t len,
                                          char *name, size_t namelen)
{
	enum clienthello_result res;
	struct reader r;
	size_t msglen;

	if (namelen > 0)
		name[0] = '\0';
	res = frame(buf, len, &msglen);
	if (res == CLIENTHELLO_OK) {
		/* The message starts after the first record header. */
		r.buf = buf;
		r.len = len;
		r.pos = TLS_RECORD_HEADER;
		r.left = (size_t)buf[3] << 8 | buf[4];
		r.off = 0;
		if (!take(&r, msglen, TLS_HANDSHAKE_HEADER, NULL))
			res = CLIENTHELLO_MALFORMED;
		else
			res = read_hello(&r, msglen, name, namelen);
	}
	if (res != CLIENTHELLO_OK && namelen > 0)
		name[0] = '\0';
	return res;
}

const char *clienthello_result_str(enum clienthello_result r)
{
	switch (r) {
	case CLIENTHELLO_MORE:
		return "incomplete ClientHello";
	case CLIENTHELLO_OK:
		return "ClientHello with server name";
	case CLIENTHELLO_NO_SNI:
		return "no server name";
	case CLIENTHELLO_NOT_TLS:
		return "not TLS";
	case CLIENTHELLO_TOO_BIG:
		return "ClientHello too big";
	case CLIENTHELLO_MALFORMED:
		return "malformed ClientHello";
	}
	return "unknown ClientHello result";
}

/*
 * Walk the record layer of buf[0..len) up to the end of the handshake
 * message. CLIENTHELLO_OK here means that the message is complete, starts
 * with a ClientHello header and ends with its last record; *msglen is its
 * length, header included. Every check is made as soon as its bytes are
 * there, in the order of the bytes.
 */
static enum clienthello_result frame(const uint8_t *buf, size_t len,
                                     size_t *msglen)
{
	uint8_t hs[TLS_HANDSHAKE_HEADER]; /* the handshake header */
	size_t pos = 0;                   /* start of the current record */
	size_t got = 0;                   /* message bytes before that record */
	size_t need = 0;    /* message length, header included; 0: not known */
	unsigned first = 0; /* version of the first record */

	while (need == 0 || got < need) {
		enum clienthello_result wrong =
		    pos == 0 ? CLIENTHELLO_NOT_TLS : CLIENTHELLO_MALFORMED;
		size_t reclen, body, i;
		unsigned version;

		/* The rest of the message needs one more record header. */
		if (need != 0 &&
		    pos + TLS_RECORD_HEADER + (need - got) > CLIENTHELLO_MAX)
			return CLIENTHELLO_TOO_BIG;
		if (pos >= len)
			return CLIENTHELLO_MORE;
		if (buf[pos] != TLS_RECORD_HANDSHAKE)
			return wrong;
		if (pos + 1 >= len)
			return CLIENTHELLO_MORE;
		if (buf[pos + 1] != 3)
			return wrong;
		if (pos + 2 >= len)
			return CLIENTHELLO_MORE;
		version = 0x0300u | buf[pos + 2];
		if (!version_ok(version, first))
			return CLIENTHELLO_MALFORMED;
		if (pos == 0)
			first = version;
		if (pos + TLS_RECORD_HEADER > len)
			return CLIENTHELLO_MORE;
		reclen = (size_t)buf[pos + 3] << 8 | buf[pos + 4];
		if (reclen == 0 || reclen > TLS_RECORD_MAX)
			return CLIENTHELLO_MALFORMED;
		body = pos + TLS_RECORD_HEADER;

		/* The handshake header may come a byte per record. */
		for (i = 0; got + i < TLS_HANDSHAKE_HEADER && i < reclen; i++) {
			if (body + i >= len)
				return CLIENTHELLO_MORE;
			hs[got + i] = buf[body + i];
			if (got + i == 0 && hs[0] != TLS_CLIENT_HELLO)
				return CLIENTHELLO_MALFORMED;
		}
		if (need == 0 && got + i == TLS_HANDSHAKE_HEADER) {
			need = (size_t)hs[1] << 16 | (size_t)hs[2] << 8 | hs[3];
			need += TLS_HANDSHAKE_HEADER;
		}
		if (need != 0) {
			if (body + (need - got) > CLIENTHELLO_MAX)
				return CLIENTHELLO_TOO_BIG;
			/* The message must end with its last record. */
			if (reclen > need - got)
				return CLIENTHELLO_MALFORMED;
		}
		if (body + reclen > len)
			return CLIENTHELLO_MORE;
		got += reclen;
		pos = body + reclen;
	}
	*msglen = need;
	return CLIENTHELLO_OK;
}

/*
 * Record versions clients send with their first flight: 3.1 to 3.4, and
 * 3.0 from old clients or for compatibility. A later record may also repeat
 * the first one's version. first is 0 for the first record.
 */
static bool version_ok(unsigned version, unsigned first)
{
	if (version >= 0x0301 && version <= 0x0304)
		return true;
	return version == 0x0300 && (first == 0 || first == 0x0300);
}

/*
 * Read the ClientHello body, from after the handshake header to end (the
 * message length): the fields before the extensions are checked and
 * skipped, the extensions searched for server_name.
 */
static enum clienthello_result read_hello(struct reader *r, size_t end,
                                          char *name, size_t namelen)
{
	bool have_name = false;
	size_t v, n;

	/* legacy_version: 3.x; random */
	if (!take_u16(r, end, &v) || v >> 8 != 3 ||
	    !take(r, end, TLS_RANDOM_LEN, NULL))
		return CLIENTHELLO_MALFORMED;
	/* legacy_session_id<0..32> */
	if (!take_u8(r, end, &n) || n > TLS_SESSION_ID_MAX ||
	    !take(r, end, n, NULL))
		return CLIENTHELLO_MALFORMED;
	/* cipher_suites<2..2^16-2>, two bytes each */
	if (!take_u16(r, end, &n) || n == 0 || n % 2 != 0 ||
	    !take(r, end, n, NULL))
		return CLIENTHELLO_MALFORMED;
	/* legacy_compression_methods<1..2^8-1> */
	if (!take_u8(r, end, &n) || n == 0 || !take(r, end, n, NULL))
		return CLIENTHELLO_MALFORMED;
	/* Extensions may be absent altogether (RFC 5246 section 7.4.1.2). */
	if (r->off == end)
		return CLIENTHELLO_NO_SNI;
	/* extensions<0..2^16-1>, exactly to the end of the message */
	if (!take_u16(r, end, &n) || n != end - r->off)
		return CLIENTHELLO_MALFORMED;
	while (r->off < end) {
		size_t type, elen;

		if (!take_u16(r, end, &type) || !take_u16(r, end, &elen) ||
		    elen > end - r->off)
			return CLIENTHELLO_MALFORMED;
		if (type != TLS_EXT_SERVER_NAME) {
			if (!take(r, end, elen, NULL))
				return CLIENTHELLO_MALFORMED;
			continue;
		}
		/* At most one extension of a type (RFC 8446 section 4.2). */
		if (have_name ||
		    !read_server_name(r, r->off + elen, name, namelen))
			return CLIENTHELLO_MALFORMED;
		have_name = true;
	}
	return have_name ? CLIENTHELLO_OK : CLIENTHELLO_NO_SNI;
}

/*
 * Read the data of a server_name extension, which ends at end, into name.
 * The ServerNameList must hold one entry, a host_name: RFC 6066 allows one
 * name per type and no other type was ever defined, so TLS stacks (OpenSSL
 * among them) accept nothing else, and neither does this.
 */
static bool read_server_name(struct reader *r, size_t end, char *name,
                             size_t namelen)
{
	uint8_t host[TLS_HOST_NAME_MAX];
	size_t n, type;

	if (!take_u16(r, end, &n) || n != end - r->off)
		return false;
	if (!take_u8(r, end, &type) || type != TLS_NAME_TYPE_HOST)
		return false;
	if (!take_u16(r, end, &n) || n != end - r->off)
		return false;
	if (n == 0 || n > TLS_HOST_NAME_MAX || !take(r, end, n, host))
		return false;
	return host_name_copy(host, n, name, namelen);
}

/*
 * Check host[0..n) and copy it to name in lower case. A host name is
 * letters, digits, '-', '_' and '.', no label empty; RFC 6066 forbids a
 * trailing dot, but one is removed here rather than refused, the way HTTP
 * servers treat a Host of "app.test.", since it names the same host.
 */
static bool host_name_copy(const uint8_t *host, size_t n, char *name,
                           size_t namelen)
{
	if (host[n - 1] == '.')
		n--;
	if (n == 0 || n >= namelen)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = host[i];

		if (c >= 'A' && c <= 'Z')
			c = (uint8_t)(c - 'A' + 'a');
		else if (c == '.') {
			if (i == 0 || host[i - 1] == '.' || i == n - 1)
				return false;
		} else if (!(c >= 'a' && c <= 'z') && !(c >= '0' && c <= '9') &&
		           c != '-' && c != '_')
			return false;
		name[i] = (char)c;
	}
	name[n] = '\0';
	return true;
}

/*
 * Take the next n bytes of the message into out (NULL: skip them), when
 * they lie before end; stepping over the header of each record the bytes
 * continue into. The framing pass checked those headers; the tests against
 * len only keep a broken invariant from reading outside buf.
 */
static bool take(struct reader *r, size_t end, size_t n, uint8_t *out)
{
	if (r->off > end || n > end - r->off)
		return false;
	while (n > 0) {
		size_t k;

		if (r->left == 0) {
			if (r->pos + TLS_RECORD_HEADER > r->len)
				return false;
			r->left = (size_t)r->buf[r->pos + 3] << 8 |
			          r->buf[r->pos + 4];
			r->pos += TLS_RECORD_HEADER;
		}
		k = n < r->left ? n : r->left;
		if (k > r->len - r->pos)
			return false;
		if (out != NULL) {
			memcpy(out, r->buf + r->pos, k);
			out += k;
		}
		r->pos += k;
		r->left -= k;
		r->off += k;
		n -= k;
	}
	return true;
}

/* Take one byte. */
static bool take_u8(struct reader *r, size_t end, size_t *v)
{
	uint8_t b;

	if (!take(r, end, 1, &b))
		return false;
	*v = b;
	return true;
}

/* Take a two-byte number (network order). */
static bool take_u16(struct reader *r, size_t end, size_t *v)
{
	uint8_t b[2];

	if (!take(r, end, 2, b))
		return false;
	*v = (size_t)b[0] << 8 | b[1];
	return true;
}
