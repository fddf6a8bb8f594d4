/* SPDX-License-Identifier: MIT */
/*
 * Basic authentication. The password is decoded into a buffer on the
 * stack, compared through crypt_r, and wiped before returning.
 */
#include "config.h"

#include <crypt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "portier/auth.h"
#include "portier/config.h"

/* Longest Authorization value looked at, and longest USER:PASSWORD. */
#define AUTH_MAX_VALUE 1024
#define AUTH_MAX_PLAIN 768

/* How long a checked credential is remembered, and how many are. */
#define AUTH_CACHE_SECONDS 300
#define AUTH_CACHE_SIZE 32

/* A credential that checked out: SHA-256 of the auth line and of what
 * the client sent. */
struct auth_cached {
	unsigned char digest[SHA256_DIGEST_LENGTH];
	time_t until;
};

static _Thread_local struct auth_cached auth_cache[AUTH_CACHE_SIZE];
static _Thread_local unsigned auth_cache_next;

static const char *auth_find(const struct config_strings *users,
                             const char *user, size_t ulen);
static void auth_digest(const char *line, const char *plain, size_t plen,
                        unsigned char out[SHA256_DIGEST_LENGTH]);
static bool auth_cache_has(const unsigned char d[SHA256_DIGEST_LENGTH]);
static void auth_user_for_log(char *out, size_t cap, const char *name,
                              size_t len);
static void auth_cache_add(const unsigned char d[SHA256_DIGEST_LENGTH]);

enum auth_result auth_check(const struct config_strings *users,
                            const char *value, size_t len, char *user,
                            size_t ulen)
{
	unsigned char plain[AUTH_MAX_PLAIN + 4];
	unsigned char digest[SHA256_DIGEST_LENGTH];
	struct crypt_data *data = NULL;
	enum auth_result r = AUTH_MALFORMED;
	const char *line, *hash, *given;
	size_t i = 0, b64, plen, name;
	int n;

	user[0] = '\0';
	if (value == NULL)
		return AUTH_MISSING;
	if (len > AUTH_MAX_VALUE || len < 6 || strncasecmp(value, "basic", 5) ||
	    (value[5] != ' ' && value[5] != '\t'))
		return AUTH_MALFORMED;
	for (i = 5; i < len && (value[i] == ' ' || value[i] == '\t'); i++)
		;
	b64 = len - i;
	while (b64 > 0 && (value[i + b64 - 1] == ' ' || value[i + b64 - 1] == '\t'))
		b64--;
	if (b64 == 0 || b64 % 4 != 0 || b64 / 4 * 3 > AUTH_MAX_PLAIN)
		return AUTH_MALFORMED;
	n = EVP_DecodeBlock(plain, (const unsigned char *)value + i, (int)b64);
	if (n < 0)
		return AUTH_MALFORMED;
	/* EVP_DecodeBlock counts the padding as bytes. */
	plen = (size_t)n;
	if (value[i + b64 - 1] == '=')
		plen--;
	if (value[i + b64 - 2] == '=')
		plen--;
	plain[plen] = '\0';
	given = memchr(plain, ':', plen);
	if (given == NULL || memchr(plain, '\0', plen) != NULL)
		goto out;
	name = (size_t)(given - (const char *)plain);
	auth_user_for_log(user, ulen, (const char *)plain, name);
	line = auth_find(users, (const char *)plain, name);
	if (line == NULL && users->n > 0) {
		/* An unknown user costs what a known one does: a hash, here
		 * the first user's, so that the time of the answer does not
		 * tell which names exist. */
		const char *first = users->v[0];

		data = calloc(1, sizeof(*data));
		if (data != NULL)
			(void)crypt_r(given + 1, first + strcspn(first, ":") + 1,
			              data);
	}
	if (line == NULL) {
		r = AUTH_UNKNOWN_USER;
		goto out;
	}
	hash = line + name + 1;
	auth_digest(line, (const char *)plain, plen, digest);
	if (auth_cache_has(digest)) {
		r = AUTH_OK;
		goto out;
	}
	data = calloc(1, sizeof(*data));
	if (data == NULL) {
		r = AUTH_WRONG_PASSWORD;
		goto out;
	}
	{
		const char *got = crypt_r(given + 1, hash, data);
		size_t hlen = strlen(hash);

		r = got != NULL && got[0] != '*' && strlen(got) == hlen &&
		            CRYPTO_memcmp(got, hash, hlen) == 0
		        ? AUTH_OK
		        : AUTH_WRONG_PASSWORD;
	}
	if (r == AUTH_OK)
		auth_cache_add(digest);
out:
	OPENSSL_cleanse(plain, sizeof(plain));
	if (data != NULL) {
		OPENSSL_cleanse(data, sizeof(*data));
		free(data);
	}
	return r;
}

char *auth_hash(const char *password)
{
	struct crypt_data *data = calloc(1, sizeof(*data));
	char *setting, *out = NULL;
	const char *got;

	if (data == NULL)
		return NULL;
	/* NULL prefix: the method the system prefers, with a random salt. */
	setting = crypt_gensalt_ra(NULL, 0, NULL, 0);
	if (setting != NULL) {
		got = crypt_r(password, setting, data);
		if (got != NULL && got[0] != '*')
			out = strdup(got);
		free(setting);
	}
	OPENSSL_cleanse(data, sizeof(*data));
	free(data);
	return out;
}

/* The auth line of `user` (ulen bytes), or NULL. */
static const char *auth_find(const struct config_strings *users,
                             const char *user, size_t ulen)
{
	for (size_t i = 0; i < users->n; i++) {
		const char *line = users->v[i];

		if (strncmp(line, user, ulen) == 0 && line[ulen] == ':')
			return line;
	}
	return NULL;
}

/* SHA-256 over the auth line and the credential the client sent: a
 * changed hash in the configuration makes an old entry useless. */
static void auth_digest(const char *line, const char *plain, size_t plen,
                        unsigned char out[SHA256_DIGEST_LENGTH])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned int n = 0;

	memset(out, 0, SHA256_DIGEST_LENGTH);
	if (ctx == NULL)
		return;
	if (EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, line, strlen(line) + 1) != 1 ||
	    EVP_DigestUpdate(ctx, plain, plen) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		memset(out, 0, SHA256_DIGEST_LENGTH);
	EVP_MD_CTX_free(ctx);
}

/* True when the credential checked out recently. */
static bool auth_cache_has(const unsigned char d[SHA256_DIGEST_LENGTH])
{
	time_t now = time(NULL);

	for (size_t i = 0; i < AUTH_CACHE_SIZE; i++) {
		if (auth_cache[i].until > now &&
		    CRYPTO_memcmp(auth_cache[i].digest, d,
		                  SHA256_DIGEST_LENGTH) == 0)
			return true;
	}
	return false;
}

/* Remember a credential that checked out. */
static void auth_cache_add(const unsigned char d[SHA256_DIGEST_LENGTH])
{
	struct auth_cached *c = &auth_cache[auth_cache_next++ % AUTH_CACHE_SIZE];

	memcpy(c->digest, d, SHA256_DIGEST_LENGTH);
	c->until = time(NULL) + AUTH_CACHE_SECONDS;
}

/* The user name a client gave, for a log line: anyone may send one, so
 * a quote, a backslash and every byte outside printable ASCII is written
 * as \xHH, and no name can end the line or reach a terminal as a
 * control sequence. Cut to what fits. */
static void auth_user_for_log(char *out, size_t cap, const char *name,
                              size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	out[o] = '\0';
}
