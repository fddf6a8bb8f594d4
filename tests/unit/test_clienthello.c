/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for clienthello.c. Real ClientHellos from OpenSSL, curl and
 * python (the .bin files of FIXTURES/clienthello, see the README there)
 * give their server name at once, "more" for every prefix, and the same
 * answer when cut into records of 1, 7 or 100 bytes. Built ClientHellos
 * cover what clients do not send: bad host names, bad vectors, a length
 * field off by one, other protocols, records of another type in between,
 * and messages too big for CLIENTHELLO_MAX. Every call gets a heap copy
 * of exactly the bytes it may read, so that a sanitizer build catches a
 * read past them.
 */
#include <ctype.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "portier/clienthello.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

#define MORE      CLIENTHELLO_MORE
#define OK        CLIENTHELLO_OK
#define NO_SNI    CLIENTHELLO_NO_SNI
#define NOT_TLS   CLIENTHELLO_NOT_TLS
#define TOO_BIG   CLIENTHELLO_TOO_BIG
#define MALFORMED CLIENTHELLO_MALFORMED

/* Room for any test input: a message cut into 1-byte records and more. */
#define ROOM (8 * CLIENTHELLO_MAX)

/* A byte string under construction. */
struct bytes {
	uint8_t b[ROOM];
	size_t n;
};

/* A real ClientHello and what it must give. */
struct fixture {
	const char *file;
	enum clienthello_result result;
	const char *name;
};

static const struct fixture fixtures[] = {
    {"openssl-tls13", OK, "app.test"},
    {"openssl-tls12", OK, "app.test"},
    {"openssl-nosni", NO_SNI, ""},
    {"openssl-upper", OK, "api.example.test"},
    {"openssl-split", OK, "app.test"},
    {"curl", OK, "app.test"},
    {"python", OK, "app.test"},
};

/* A length field of a ClientHello: offset in the message, width. */
struct field {
	size_t off;
	size_t width;
};

/* Parse a heap copy of exactly p[0..n); name checked against the result. */
static enum clienthello_result parse_n(const uint8_t *p, size_t n, char *name,
                                       size_t namelen)
{
	uint8_t *copy = malloc(n > 0 ? n : 1);
	enum clienthello_result r;

	assert_non_null(copy);
	if (n > 0)
		memcpy(copy, p, n);
	if (namelen > 0)
		memset(name, 'X', namelen);
	r = clienthello_parse(copy, n, name, namelen);
	free(copy);
	if (r != OK && namelen > 0)
		assert_string_equal(name, "");
	if (r == MORE)
		assert_true(n < CLIENTHELLO_MAX);
	return r;
}

/* Parse with a name buffer of the advised size. */
static enum clienthello_result parse(const uint8_t *p, size_t n, char *name)
{
	return parse_n(p, n, name, CLIENTHELLO_NAME_MAX);
}

/* Check that p[0..n) gives want (and want_name with CLIENTHELLO_OK). */
static void expect(const char *what, const uint8_t *p, size_t n,
                   enum clienthello_result want, const char *want_name)
{
	char name[CLIENTHELLO_NAME_MAX];
	enum clienthello_result r = parse(p, n, name);

	if (r != want)
		fail_msg("%s: \"%s\", expected \"%s\"", what,
		         clienthello_result_str(r),
		         clienthello_result_str(want));
	if (want == OK && strcmp(name, want_name) != 0)
		fail_msg("%s: name \"%s\", expected \"%s\"", what, name,
		         want_name);
}

static void put(struct bytes *s, const void *p, size_t n)
{
	assert_true(s->n + n <= sizeof(s->b));
	memcpy(s->b + s->n, p, n);
	s->n += n;
}

static void put_u8(struct bytes *s, size_t v)
{
	uint8_t b = (uint8_t)v;

	put(s, &b, 1);
}

static void put_u16(struct bytes *s, size_t v)
{
	put_u8(s, v >> 8);
	put_u8(s, v);
}

static void put_u24(struct bytes *s, size_t v)
{
	put_u8(s, v >> 16);
	put_u16(s, v);
}

/* Read FIXTURES/clienthello/NAME.bin into s. */
static void load(const char *file, struct bytes *s)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/clienthello/%s.bin", FIXTURES, file);
	f = fopen(path, "rb");
	if (f == NULL)
		fail_msg("cannot open %s", path);
	s->n = fread(s->b, 1, sizeof(s->b), f);
	assert_true(s->n > 0 && feof(f));
	fclose(f);
}

/* The handshake message carried by the records of rec (which parsed). */
static void message(const struct bytes *rec, struct bytes *msg)
{
	size_t pos = 0;

	msg->n = 0;
	while (msg->n < 4 ||
	       msg->n < 4 + ((size_t)msg->b[1] << 16 | (size_t)msg->b[2] << 8 |
	                     msg->b[3])) {
		size_t len;

		assert_true(pos + 5 <= rec->n);
		len = (size_t)rec->b[pos + 3] << 8 | rec->b[pos + 4];
		assert_true(pos + 5 + len <= rec->n);
		put(msg, rec->b + pos + 5, len);
		pos += 5 + len;
	}
}

/* Append msg in handshake records of `piece` bytes; the first record says
 * version first, the others version rest. */
static void records(struct bytes *out, const struct bytes *msg, size_t piece,
                    unsigned first, unsigned rest)
{
	for (size_t off = 0; off < msg->n; off += piece) {
		size_t k = msg->n - off < piece ? msg->n - off : piece;

		put_u8(out, 22);
		put_u16(out, off == 0 ? first : rest);
		put_u16(out, k);
		put(out, msg->b + off, k);
	}
}

/* Parameters of a built ClientHello; zero values give a usual one. */
struct hello {
	unsigned version;   /* legacy_version; 0: 3.3 */
	size_t sid;         /* session id length; 0: 32 */
	bool no_sid;        /* an empty session id */
	size_t suites;      /* cipher suites length in bytes; 0: 4 */
	bool no_suites;     /* an empty cipher suite list */
	size_t comp;        /* compression methods; 0: 1 */
	bool no_comp;       /* no compression method at all */
	bool no_extensions; /* stop after the compression methods */
	const uint8_t *ext; /* extensions block */
	size_t extlen;
	size_t trailing; /* bytes after the extensions block */
};

/* Build the ClientHello message h describes. */
static void build(struct bytes *m, const struct hello *h)
{
	size_t sid = h->no_sid ? 0 : h->sid ? h->sid : 32;
	size_t suites = h->no_suites ? 0 : h->suites ? h->suites : 4;
	size_t comp = h->no_comp ? 0 : h->comp ? h->comp : 1;

	m->n = 0;
	put_u8(m, 1);
	put_u24(m, 0); /* filled in below */
	put_u16(m, h->version ? h->version : 0x0303);
	for (int i = 0; i < 32; i++)
		put_u8(m, 0x40 + i);
	put_u8(m, sid);
	for (size_t i = 0; i < sid; i++)
		put_u8(m, 0x80 + i);
	put_u16(m, suites);
	for (size_t i = 0; i < suites; i++)
		put_u8(m, i % 2 ? 0x01 + i / 2 : 0x13);
	put_u8(m, comp);
	for (size_t i = 0; i < comp; i++)
		put_u8(m, 0);
	if (!h->no_extensions) {
		put_u16(m, h->extlen);
		put(m, h->ext, h->extlen);
	}
	for (size_t i = 0; i < h->trailing; i++)
		put_u8(m, 0);
	m->b[1] = (uint8_t)((m->n - 4) >> 16);
	m->b[2] = (uint8_t)((m->n - 4) >> 8);
	m->b[3] = (uint8_t)(m->n - 4);
}

/* Append an extension of the given type and data. */
static void put_ext(struct bytes *e, size_t type, const void *data, size_t n)
{
	put_u16(e, type);
	put_u16(e, n);
	put(e, data, n);
}

/* Append a server_name extension for name[0..n). */
static void put_sni(struct bytes *e, const char *name, size_t n)
{
	put_u16(e, 0);
	put_u16(e, n + 5);
	put_u16(e, n + 3);
	put_u8(e, 0);
	put_u16(e, n);
	put(e, name, n);
}

/* A one-record ClientHello with extensions e. */
static void hello_with(struct bytes *out, const struct bytes *e)
{
	static struct bytes m;
	struct hello h = {.ext = e->b, .extlen = e->n};

	build(&m, &h);
	out->n = 0;
	records(out, &m, 16384, 0x0301, 0x0303);
}

/* The length fields of message m: handshake length, session id, cipher
 * suites, compression methods, extensions block, each extension, and the
 * server_name list and host name. Returns how many were found. */
static size_t length_fields(const struct bytes *m, struct field *f, size_t max)
{
	size_t nf = 0, p = 4 + 2 + 32, end;

#define FIELD(o, w)                                                            \
	do {                                                                   \
		assert_true(nf < max);                                         \
		f[nf].off = (o);                                               \
		f[nf++].width = (w);                                           \
	} while (0)
	FIELD(1, 3);
	FIELD(p, 1);
	p += 1 + m->b[p];
	FIELD(p, 2);
	p += 2 + ((size_t)m->b[p] << 8 | m->b[p + 1]);
	FIELD(p, 1);
	p += 1 + m->b[p];
	if (p == m->n)
		return nf;
	FIELD(p, 2);
	p += 2;
	while (p < m->n) {
		size_t type = (size_t)m->b[p] << 8 | m->b[p + 1];
		size_t len = (size_t)m->b[p + 2] << 8 | m->b[p + 3];

		FIELD(p + 2, 2);
		if (type == 0) {
			FIELD(p + 4, 2);
			FIELD(p + 7, 2);
		}
		p += 4 + len;
	}
	end = p;
	assert_int_equal(end, m->n);
#undef FIELD
	return nf;
}

/* Add delta to the big-endian number of `width` bytes at p, wrapping. */
static void bump(uint8_t *p, size_t width, int delta)
{
	uint32_t v = 0, mask = width == 3   ? 0xffffff
	                       : width == 2 ? 0xffff
	                                    : 0xff;

	for (size_t i = 0; i < width; i++)
		v = v << 8 | p[i];
	v = (v + (uint32_t)delta) & mask;
	for (size_t i = width; i-- > 0; v >>= 8)
		p[i] = (uint8_t)v;
}

/* Each fixture gives its name, also with more bytes after it: a
 * ChangeCipherSpec record and 0-RTT data are not the parser's business. */
static void test_fixtures(void **state)
{
	static struct bytes s;

	for (size_t i = 0; i < N(fixtures); i++) {
		const struct fixture *fx = &fixtures[i];
		static const uint8_t after[] = {20, 3, 3, 0, 1, 1, 23, 3, 3};

		load(fx->file, &s);
		expect(fx->file, s.b, s.n, fx->result, fx->name);
		put(&s, after, sizeof(after));
		expect(fx->file, s.b, s.n, fx->result, fx->name);
	}
}

/* Another handshake message with a ClientHello's body is not one. */
static void test_handshake_type(void **state)
{
	static struct bytes s;
	static const uint8_t types[] = {0, 2, 11, 16, 0x81};

	for (size_t i = 0; i < N(fixtures); i++) {
		load(fixtures[i].file, &s);
		for (size_t j = 0; j < N(types); j++) {
			s.b[5] = types[j];
			expect(fixtures[i].file, s.b, s.n, MALFORMED, "");
			expect(fixtures[i].file, s.b, 6, MALFORMED, "");
		}
	}
}

/* Every prefix of a ClientHello, split at any byte, asks for more. */
static void test_prefixes(void **state)
{
	static struct bytes s;
	char name[CLIENTHELLO_NAME_MAX];

	for (size_t i = 0; i < N(fixtures); i++) {
		load(fixtures[i].file, &s);
		for (size_t n = 0; n < s.n; n++)
			if (parse(s.b, n, name) != MORE)
				fail_msg("%s: %zu of %zu bytes: \"%s\"",
				         fixtures[i].file, n, s.n,
				         clienthello_result_str(
				             parse(s.b, n, name)));
	}
}

/* The same message in records of 1, 7 and 100 bytes gives the same
 * answer; so do the prefixes of the 7-byte split ("more"). */
static void test_resplit(void **state)
{
	static struct bytes s, m, out;
	static const size_t pieces[] = {1, 7, 100};
	char name[CLIENTHELLO_NAME_MAX];

	for (size_t i = 0; i < N(fixtures); i++) {
		const struct fixture *fx = &fixtures[i];

		load(fx->file, &s);
		message(&s, &m);
		for (size_t j = 0; j < N(pieces); j++) {
			char what[64];

			out.n = 0;
			records(&out, &m, pieces[j], 0x0301, 0x0303);
			snprintf(what, sizeof(what), "%s in %zu-byte records",
			         fx->file, pieces[j]);
			assert_true(out.n <= CLIENTHELLO_MAX);
			expect(what, out.b, out.n, fx->result, fx->name);
			if (pieces[j] != 7)
				continue;
			for (size_t n = 0; n < out.n; n++)
				if (parse(out.b, n, name) != MORE)
					fail_msg("%s: prefix of %zu", what, n);
		}
	}
}

/* Record versions: 3.0 to 3.4 first, 3.1 to 3.4 or the first's after. */
static void test_record_versions(void **state)
{
	static struct bytes s, m, out;
	static const struct {
		unsigned first, rest;
		enum clienthello_result result;
	} cases[] = {
	    {0x0301, 0x0301, OK},        {0x0301, 0x0303, OK},
	    {0x0303, 0x0301, OK},        {0x0304, 0x0304, OK},
	    {0x0300, 0x0300, OK},        {0x0300, 0x0303, OK},
	    {0x0301, 0x0300, MALFORMED}, {0x0301, 0x0305, MALFORMED},
	    {0x0305, 0x0303, MALFORMED}, {0x0301, 0x0203, MALFORMED},
	    {0x0301, 0x0103, MALFORMED},
	};

	load("openssl-tls13", &s);
	message(&s, &m);
	for (size_t i = 0; i < N(cases); i++) {
		char what[64];

		out.n = 0;
		records(&out, &m, 100, cases[i].first, cases[i].rest);
		snprintf(what, sizeof(what), "record versions %04x, %04x",
		         cases[i].first, cases[i].rest);
		expect(what, out.b, out.n, cases[i].result, "app.test");
	}
}

/* Other protocols are not TLS; broken record headers are malformed. */
static void test_not_tls(void **state)
{
	static const struct {
		const char *what;
		const char *bytes;
		size_t len;
		enum clienthello_result result;
	} cases[] = {
#define B(s) s, sizeof(s) - 1
	    {"nothing yet", B(""), MORE},
	    {"one byte", B("\x16"), MORE},
	    {"two bytes", B("\x16\x03"), MORE},
	    {"four bytes", B("\x16\x03\x01\x02"), MORE},
	    {"HTTP request", B("GET / HTTP/1.1\r\n"), NOT_TLS},
	    {"HTTP, first byte", B("G"), NOT_TLS},
	    {"PROXY header", B("PROXY TCP4 192.0.2.1 127.0.0.1 1 2\r\n"),
	     NOT_TLS},
	    {"SSLv2 hello",
	     B("\x80\x2e\x01\x03\x01\x00\x15\x00\x00\x00\x10"
	       "\x07\x00\xc0\x05\x00\x80\x03\x00\x80\x01\x00\x80"
	       "\x06\x00\x40\x04\x00\x80\x02\x00\x80"
	       "\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f"
	       "\x10"),
	     NOT_TLS},
	    {"alert record", B("\x15\x03\x03\x00\x02\x02\x28"), NOT_TLS},
	    {"application data", B("\x17\x03\x03\x00\x01\x00"), NOT_TLS},
	    {"record of major version 2", B("\x16\x02\x00"), NOT_TLS},
	    {"SSH banner", B("SSH-2.0-OpenSSH_9.2\r\n"), NOT_TLS},
	    {"record version 3.5", B("\x16\x03\x05\x00\x04"), MALFORMED},
	    {"empty record", B("\x16\x03\x01\x00\x00"), MALFORMED},
	    {"record over 2^14", B("\x16\x03\x01\x40\x01\x01"), MALFORMED},
	    {"ServerHello", B("\x16\x03\x03\x00\x04\x02\x00\x00\x00"),
	     MALFORMED},
	    {"ServerHello, its first byte", B("\x16\x03\x03\x00\x50\x02"),
	     MALFORMED},
	    {"empty ClientHello", B("\x16\x03\x01\x00\x04\x01\x00\x00\x00"),
	     MALFORMED},
	    {"short ClientHello",
	     B("\x16\x03\x01\x00\x06\x01\x00\x00\x02\x03\x03"), MALFORMED},
	    {"record longer than message",
	     B("\x16\x03\x01\x00\x05\x01\x00\x00\x00\x00"), MALFORMED},
#undef B
	};

	for (size_t i = 0; i < N(cases); i++)
		expect(cases[i].what, (const uint8_t *)cases[i].bytes,
		       cases[i].len, cases[i].result, "");
}

/* A record of another type among the handshake records. */
static void test_interleaved(void **state)
{
	static struct bytes s, m, out;
	/* One-byte records of other types, and a zero type. */
	static const uint8_t others[][6] = {
	    {20, 3, 3, 0, 1, 1}, /* change_cipher_spec */
	    {21, 3, 3, 0, 1, 0}, /* alert */
	    {23, 3, 3, 0, 1, 0}, /* application_data */
	    {24, 3, 3, 0, 1, 0}, /* heartbeat */
	    {0, 3, 3, 0, 1, 0},
	};
	static const size_t cuts[] = {1, 3, 4, 50};

	load("curl", &s);
	message(&s, &m);
	for (size_t i = 0; i < N(others); i++) {
		for (size_t j = 0; j < N(cuts); j++) {
			static struct bytes a, b;
			char what[64];

			a.n = b.n = 0;
			put(&a, m.b, cuts[j]);
			put(&b, m.b + cuts[j], m.n - cuts[j]);
			out.n = 0;
			records(&out, &a, 16384, 0x0301, 0x0301);
			put(&out, others[i], sizeof(others[i]));
			records(&out, &b, 16384, 0x0303, 0x0303);
			snprintf(what, sizeof(what), "type %u after %zu bytes",
			         others[i][0], cuts[j]);
			expect(what, out.b, out.n, MALFORMED, "");
		}
	}
}

/* Each length field one more or one less: never a name. A field inside
 * the ClientHello makes it malformed; the handshake or a record length
 * may also ask for more bytes, which then make it malformed. */
static void test_lengths(void **state)
{
	static struct bytes s, m, bad, out;
	static const uint8_t zeros[5];
	struct field f[64];
	char name[CLIENTHELLO_NAME_MAX];

	for (size_t i = 0; i < N(fixtures); i++) {
		size_t nf;

		load(fixtures[i].file, &s);
		message(&s, &m);
		nf = length_fields(&m, f, N(f));
		assert_true(nf >= 6);
		for (size_t j = 0; j < nf; j++) {
			for (int delta = -1; delta <= 1; delta += 2) {
				enum clienthello_result r;

				bad = m;
				bump(bad.b + f[j].off, f[j].width, delta);
				out.n = 0;
				records(&out, &bad, 16384, 0x0301, 0x0301);
				r = parse(out.b, out.n, name);
				if (r == MALFORMED)
					continue;
				if (r != MORE || f[j].off != 1)
					fail_msg("%s: length at %zu %+d: %s",
					         fixtures[i].file, f[j].off,
					         delta,
					         clienthello_result_str(r));
				put(&out, zeros, sizeof(zeros));
				expect("more bytes", out.b, out.n, MALFORMED,
				       "");
			}
		}
		/* The record lengths as captured. */
		for (size_t pos = 0; pos < s.n;
		     pos += 5 + ((size_t)s.b[pos + 3] << 8 | s.b[pos + 4])) {
			for (int delta = -1; delta <= 1; delta += 2) {
				enum clienthello_result r;

				bad = s;
				bump(bad.b + pos + 3, 2, delta);
				r = parse(bad.b, bad.n, name);
				if (r == MALFORMED)
					continue;
				if (r != MORE)
					fail_msg("%s: record at %zu %+d: %s",
					         fixtures[i].file, pos, delta,
					         clienthello_result_str(r));
				put(&bad, zeros, sizeof(zeros));
				expect("more bytes", bad.b, bad.n, MALFORMED,
				       "");
			}
		}
	}
}

/* Host names: checked, lower-cased, one trailing dot removed. */
static void test_names(void **state)
{
	static const struct {
		const char *name;
		size_t len; /* 0: strlen */
		enum clienthello_result result;
		const char *want;
	} cases[] = {
	    {"app.test", 0, OK, "app.test"},
	    {"App.TEST", 0, OK, "app.test"},
	    {"a", 0, OK, "a"},
	    {"_acme-challenge.x-1.test", 0, OK, "_acme-challenge.x-1.test"},
	    {"xn--caf-dma.test", 0, OK, "xn--caf-dma.test"},
	    {"app.test.", 0, OK, "app.test"},
	    {"A.", 0, OK, "a"},
	    {"app.test..", 0, MALFORMED, NULL},
	    {".", 0, MALFORMED, NULL},
	    {"..", 0, MALFORMED, NULL},
	    {"", 0, MALFORMED, NULL},
	    {".app.test", 0, MALFORMED, NULL},
	    {"app..test", 0, MALFORMED, NULL},
	    {"app test", 0, MALFORMED, NULL},
	    {"app.test:443", 0, MALFORMED, NULL},
	    {"app/test", 0, MALFORMED, NULL},
	    {"app\\test", 0, MALFORMED, NULL},
	    {"app*.test", 0, MALFORMED, NULL},
	    {"app\0test", 8, MALFORMED, NULL},
	    {"app.test\r\n", 0, MALFORMED, NULL},
	    {"caf\xc3\xa9.test", 0, MALFORMED, NULL},
	    {"[::1]", 0, MALFORMED, NULL},
	};

	for (size_t i = 0; i < N(cases); i++) {
		static struct bytes e, rec;
		size_t len =
		    cases[i].len ? cases[i].len : strlen(cases[i].name);

		e.n = 0;
		put_sni(&e, cases[i].name, len);
		hello_with(&rec, &e);
		expect(cases[i].name, rec.b, rec.n, cases[i].result,
		       cases[i].want);
	}
}

/* 255 bytes is the longest name; a trailing dot does not count. */
static void test_long_names(void **state)
{
	static struct bytes e, rec;
	char host[300], want[300];

	/* Labels of 9 letters and a dot: the names of 250 and 260 bytes end
	 * with a dot, which is removed. */
	for (size_t i = 0; i < sizeof(host); i++)
		host[i] = i % 10 == 9 ? '.' : (char)('A' + i % 10);
	for (size_t len = 250; len <= 260; len++) {
		char what[64];

		e.n = 0;
		put_sni(&e, host, len);
		hello_with(&rec, &e);
		snprintf(what, sizeof(what), "%zu-byte name", len);
		for (size_t i = 0; i < len; i++)
			want[i] = (char)tolower((unsigned char)host[i]);
		want[want[len - 1] == '.' ? len - 1 : len] = '\0';
		expect(what, rec.b, rec.n, len <= 255 ? OK : MALFORMED, want);
	}

	/* 255 bytes of which the last is a dot. */
	memset(host, 'a', 254);
	host[254] = '.';
	e.n = 0;
	put_sni(&e, host, 255);
	hello_with(&rec, &e);
	host[254] = '\0';
	expect("254 bytes and a dot", rec.b, rec.n, OK, host);
}

/* The server_name extension: one host_name entry, once. */
static void test_server_name_ext(void **state)
{
	static const struct {
		const char *what;
		const char *ext; /* the extensions block */
		size_t len;
		enum clienthello_result result;
	} cases[] = {
#define B(s) s, sizeof(s) - 1
	    {"one host_name", B("\0\0\0\x06\0\x04\0\0\x01x"), OK},
	    {"after other extensions",
	     B("\x0a\x0a\0\0"
	       "\0\x10\0\x05\0\x03\x02h2"
	       "\0\0\0\x06\0\x04\0\0\x01x"
	       "\0\x15\0\x02\0\0"),
	     OK},
	    {"no extension", B(""), NO_SNI},
	    {"other extensions only", B("\0\x17\0\0\0\x10\0\x05\0\x03\x02h2"),
	     NO_SNI},
	    {"two server_name extensions",
	     B("\0\0\0\x06\0\x04\0\0\x01x"
	       "\0\0\0\x06\0\x04\0\0\x01y"),
	     MALFORMED},
	    {"a bad extension after server_name",
	     B("\0\0\0\x06\0\x04\0\0\x01x"
	       "\0\x15\0\x03\0\0"),
	     MALFORMED},
	    {"empty extension", B("\0\0\0\0"), MALFORMED},
	    {"empty list", B("\0\0\0\x02\0\0"), MALFORMED},
	    {"name type 1", B("\0\0\0\x06\0\x04\x01\0\x01x"), MALFORMED},
	    {"two host names", B("\0\0\0\x0a\0\x08\0\0\x01x\0\0\x01y"),
	     MALFORMED},
	    {"host name and type 1", B("\0\0\0\x0a\0\x08\0\0\x01x\x01\0\x01y"),
	     MALFORMED},
	    {"entry without name", B("\0\0\0\x03\0\x01\0"), MALFORMED},
	    {"name length cut", B("\0\0\0\x04\0\x02\0\0"), MALFORMED},
	    {"extension header cut", B("\0\0\0"), MALFORMED},
	    {"extension data cut", B("\0\x10\0\x05\0\x03\x02h"), MALFORMED},
#undef B
	};

	for (size_t i = 0; i < N(cases); i++) {
		static struct bytes e, rec;

		e.n = 0;
		put(&e, cases[i].ext, cases[i].len);
		hello_with(&rec, &e);
		expect(cases[i].what, rec.b, rec.n, cases[i].result, "x");
	}
}

/* The fields before the extensions. */
static void test_hello_fields(void **state)
{
	static struct bytes e, m, rec;
	static const struct {
		const char *what;
		struct hello h;
		enum clienthello_result result;
	} cases[] = {
	    {"usual", {0}, OK},
	    {"legacy version 3.1", {.version = 0x0301}, OK},
	    {"legacy version 3.0", {.version = 0x0300}, OK},
	    {"legacy version 2.0", {.version = 0x0200}, MALFORMED},
	    {"legacy version 4.3", {.version = 0x0403}, MALFORMED},
	    {"no session id", {.no_sid = true}, OK},
	    {"1-byte session id", {.sid = 1}, OK},
	    {"33-byte session id", {.sid = 33}, MALFORMED},
	    {"255-byte session id", {.sid = 255}, MALFORMED},
	    {"one cipher suite", {.suites = 2}, OK},
	    {"no cipher suite", {.no_suites = true}, MALFORMED},
	    {"odd cipher suites", {.suites = 3}, MALFORMED},
	    {"many cipher suites", {.suites = 1000}, OK},
	    {"two compression methods", {.comp = 2}, OK},
	    {"no compression method", {.no_comp = true}, MALFORMED},
	    {"no extensions block", {.no_extensions = true}, NO_SNI},
	    {"a byte after the extensions", {.trailing = 1}, MALFORMED},
	    {"2 bytes after no extensions",
	     {.no_extensions = true, .trailing = 2},
	     NO_SNI},
	    {"1 byte after no extensions",
	     {.no_extensions = true, .trailing = 1},
	     MALFORMED},
	};

	e.n = 0;
	put_sni(&e, "app.test", 8);
	for (size_t i = 0; i < N(cases); i++) {
		struct hello h = cases[i].h;

		if (!h.no_extensions) {
			h.ext = e.b;
			h.extlen = e.n;
		}
		build(&m, &h);
		rec.n = 0;
		records(&rec, &m, 16384, 0x0301, 0x0301);
		expect(cases[i].what, rec.b, rec.n, cases[i].result,
		       "app.test");
	}
}

/* A message that cannot fit is refused as soon as its header says so. */
static void test_too_big(void **state)
{
	static struct bytes e, m, rec;
	static const uint8_t huge[] = {22, 3, 1, 0x40, 0, 1, 0xff, 0xff, 0xff};
	size_t fits = CLIENTHELLO_MAX - 9; /* the longest body */
	char name[CLIENTHELLO_NAME_MAX];
	uint8_t b[9] = {22, 3, 1, 0, 0, 1, 0, 0, 0};

	/* The headers alone: record, then handshake message. */
	expect("16 MiB message", huge, sizeof(huge), TOO_BIG, "");
	for (int more = 0; more <= 1; more++) {
		size_t body = fits + (size_t)more;
		/* The longest message fills one record of the largest size;
		 * one byte more would need a second record. */
		size_t reclen = body + 4 > 16384 ? 16384 : body + 4;

		b[3] = (uint8_t)(reclen >> 8);
		b[4] = (uint8_t)reclen;
		b[6] = (uint8_t)(body >> 16);
		b[7] = (uint8_t)(body >> 8);
		b[8] = (uint8_t)body;
		expect(more ? "one byte more" : "longest message", b, 9,
		       more ? TOO_BIG : MORE, "");
	}

	/* A whole ClientHello of exactly CLIENTHELLO_MAX bytes, padded,
	 * then one byte longer (in a second record). */
	e.n = 0;
	put_sni(&e, "app.test", 8);
	hello_with(&rec, &e);
	{
		size_t pad = CLIENTHELLO_MAX - rec.n - 4;
		static uint8_t zeros[CLIENTHELLO_MAX];
		struct hello h;

		put_ext(&e, 0x15, zeros, pad);
		h = (struct hello){.ext = e.b, .extlen = e.n};
		build(&m, &h);
		rec.n = 0;
		records(&rec, &m, 16384, 0x0301, 0x0301);
		assert_int_equal(rec.n, CLIENTHELLO_MAX);
		expect("CLIENTHELLO_MAX bytes", rec.b, rec.n, OK, "app.test");
		rec.n = 0;
		records(&rec, &m, 16000, 0x0301, 0x0301);
		assert_int_equal(rec.n, CLIENTHELLO_MAX + 5);
		expect("in two records", rec.b, rec.n, TOO_BIG, "");
		expect("its first record", rec.b, 16005, TOO_BIG, "");
	}

	/* A message that fits in one record but not in 1-byte records:
	 * "more" up to some point, then "too big", before the end. */
	m.n = 0;
	e.n = 0;
	put_sni(&e, "app.test", 8);
	{
		static uint8_t zeros[4000];
		struct hello h;
		size_t n, first = 0;

		put_ext(&e, 0x15, zeros, sizeof(zeros));
		h = (struct hello){.ext = e.b, .extlen = e.n};
		build(&m, &h);
		rec.n = 0;
		records(&rec, &m, 1, 0x0301, 0x0301);
		assert_true(rec.n > CLIENTHELLO_MAX);
		for (n = 0; n <= CLIENTHELLO_MAX + 100; n++) {
			enum clienthello_result r = parse(rec.b, n, name);

			if (first == 0 && r == TOO_BIG)
				first = n;
			assert_int_equal(r, first ? TOO_BIG : MORE);
		}
		assert_true(first > 0 && first < CLIENTHELLO_MAX);
		/* As soon as the record headers so far and the bytes still
		 * to come, in one last record, pass the limit. */
		assert_int_equal(first % 6, 0);
		assert_true(first + 5 + (m.n - first / 6) > CLIENTHELLO_MAX);
		assert_true((first - 6) + 5 + (m.n - first / 6 + 1) <=
		            CLIENTHELLO_MAX);
	}
}

/* A name that does not fit the caller's buffer is refused, not cut. */
static void test_namelen(void **state)
{
	static struct bytes e, rec;
	char name[16];

	e.n = 0;
	put_sni(&e, "app.test", 8);
	hello_with(&rec, &e);
	assert_int_equal(parse_n(rec.b, rec.n, name, 9), OK);
	assert_string_equal(name, "app.test");
	assert_int_equal(parse_n(rec.b, rec.n, name, 8), MALFORMED);
	assert_int_equal(parse_n(rec.b, rec.n, NULL, 0), MALFORMED);
	assert_int_equal(parse_n(rec.b, 3, NULL, 0), MORE);
}

/* Every result has its own description. */
static void test_result_str(void **state)
{
	static const enum clienthello_result all[] = {
	    MORE, OK, NO_SNI, NOT_TLS, TOO_BIG, MALFORMED,
	};

	assert_string_equal(clienthello_result_str(NOT_TLS), "not TLS");
	assert_non_null(clienthello_result_str((enum clienthello_result)99));
	for (size_t i = 0; i < N(all); i++) {
		const char *s = clienthello_result_str(all[i]);

		assert_true(s != NULL && s[0] != '\0');
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(s,
			                        clienthello_result_str(all[j]));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fixtures),
	    cmocka_unit_test(test_handshake_type),
	    cmocka_unit_test(test_prefixes),
	    cmocka_unit_test(test_resplit),
	    cmocka_unit_test(test_record_versions),
	    cmocka_unit_test(test_not_tls),
	    cmocka_unit_test(test_interleaved),
	    cmocka_unit_test(test_lengths),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_long_names),
	    cmocka_unit_test(test_server_name_ext),
	    cmocka_unit_test(test_hello_fields),
	    cmocka_unit_test(test_too_big),
	    cmocka_unit_test(test_namelen),
	    cmocka_unit_test(test_result_str),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
