/* SPDX-License-Identifier: MIT */
/*
 * HTTP basic authentication (RFC 7617) against the crypt(3) hashes of a
 * vhost's `auth = USER:HASH` lines, and the hashes `portier hash` makes.
 *
 * Checking a modern hash costs milliseconds, too long to spend inside an
 * event loop on every request of a keep-alive page load: a credential that
 * checked out is remembered for a few minutes per worker, by a SHA-256 of
 * it, never in clear.
 */
#ifndef PORTIER_AUTH_H
#define PORTIER_AUTH_H

#include <stddef.h>

struct config_strings;

/* The verdict on an Authorization field. */
enum auth_result {
	AUTH_OK,
	AUTH_MISSING,	     /* no Authorization field */
	AUTH_MALFORMED,	     /* not "Basic" with base64 of USER:PASSWORD */
	AUTH_UNKNOWN_USER,   /* no auth line for the user */
	AUTH_WRONG_PASSWORD, /* the hash does not match */
};

/*
 * Check the value of an Authorization field (value, len; NULL when the
 * request had none) against `users` ("USER:HASH" each). The user name
 * given, when there is one, goes to user (NUL-terminated, cut to ulen,
 * quotes, backslashes and bytes outside printable ASCII written as \xHH)
 * for the log; the password never leaves this function.
 */
enum auth_result auth_check(const struct config_strings *users,
			    const char *value, size_t len, char *user,
			    size_t ulen);

/* A crypt(3) hash of password with a new random salt, in the system's
 * preferred method (yescrypt on Debian 12), malloc'd; NULL on failure. */
char *auth_hash(const char *password);

#endif
