/* SPDX-License-Identifier: MIT */
/*
 * The syntax of single values and names in the configuration language, with
 * no parser state: durations, sizes, booleans and bounded numbers, listener
 * and host names, and the nearest known word behind each "did you mean".
 * The value parsers of portier/config.h are the public face of this file.
 */
#include "config.h"

#include <ctype.h>
#include <arpa/inet.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "portier/config.h"
#include "config_parser.h"

int config_parse_duration(const char *text, unsigned *ms)
{
	return config_duration(text, ms) == 0 ? 0 : -1;
}

int config_parse_size(const char *text, uint64_t *bytes)
{
	uint64_t v = 0, unit = 1;
	const char *s = text;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (*s == 'k' || *s == 'K')
		unit = UINT64_C(1) << 10;
	else if (*s == 'm' || *s == 'M')
		unit = UINT64_C(1) << 20;
	else if (*s == 'g' || *s == 'G')
		unit = UINT64_C(1) << 30;
	else if (*s != '\0')
		return -1;
	if (*s != '\0' && s[1] != '\0')
		return -1;
	if (v > UINT64_MAX / unit)
		return -1;
	*bytes = v * unit;
	return 0;
}

int config_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = {"yes", "on", "true", "1"};
	static const char *const no[] = {"no", "off", "false", "0"};

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -1;
}

/* Parse a duration; -1 when malformed, -2 when too long. */
int config_duration(const char *text, unsigned *ms)
{
	uint64_t v = 0, unit;
	const char *s = text;

	if (!isdigit((unsigned char)*s))
		return -1;
	for (; isdigit((unsigned char)*s); s++) {
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > UINT_MAX)
			v = (uint64_t)UINT_MAX + 1; /* stays too long */
	}
	if (strcmp(s, "ms") == 0)
		unit = 1;
	else if (*s == '\0' || strcmp(s, "s") == 0)
		unit = 1000;
	else if (strcmp(s, "m") == 0)
		unit = 60 * 1000;
	else if (strcmp(s, "h") == 0)
		unit = 3600 * 1000;
	else
		return -1;
	if (v > UINT_MAX / unit)
		return -2;
	*ms = (unsigned)(v * unit);
	return 0;
}

/* Parse a decimal number from min to max. */
int config_uint(const char *text, unsigned min, unsigned max, unsigned *out)
{
	unsigned long long v = 0;

	if (!isdigit((unsigned char)*text))
		return -1;
	for (; isdigit((unsigned char)*text); text++) {
		v = v * 10 + (unsigned)(*text - '0');
		if (v > max)
			return -1;
	}
	if (*text != '\0' || v < min)
		return -1;
	*out = (unsigned)v;
	return 0;
}

/* --- names -------------------------------------------------------------- */

/* True for a listener name: letters, digits, '-', '_' and '.'. */
bool config_name_ok(const char *name)
{
	for (const char *s = name; *s; s++) {
		if (!isalnum((unsigned char)*s) && !strchr("-_.", *s))
			return false;
	}
	return *name != '\0';
}

/*
 * Check a vhost name or alias ("app.test", "192.168.1.2", "[fd00::2]" (an
 * alias only: inih ends a section name at the first ']'), with `wildcard`
 * also "*.app.test") and lower-case it in place. Returns NULL when it is fine,
 * or what is wrong, to follow "'NAME' ".
 */
const char *config_hostname_check(char *name, bool wildcard)
{
	size_t n = strlen(name);
	char *s = name;

	for (size_t i = 0; i < n; i++)
		name[i] = (char)tolower((unsigned char)name[i]);
	if (n == 0)
		return "is empty";
	/* An IPv6 address in brackets, as it appears in Host. */
	if (name[0] == '[') {
		struct in6_addr a;
		char inner[INET6_ADDRSTRLEN];

		if (name[n - 1] != ']' || n - 2 >= sizeof(inner))
			return "is not an IPv6 address in brackets";
		memcpy(inner, name + 1, n - 2);
		inner[n - 2] = '\0';
		return inet_pton(AF_INET6, inner, &a) == 1
		           ? NULL
		           : "is not an IPv6 address in brackets";
	}
	if (strchr(name, ':'))
		return "has a port; leave it out (the port is ignored when "
		       "matching)";
	if (n > 253)
		return "is longer than 253 characters";
	if (wildcard && s[0] == '*' && s[1] == '.')
		s += 2;
	for (;;) {
		size_t label = strcspn(s, ".");

		if (label == 0)
			return "has an empty label (two dots, or a dot at "
			       "either end)";
		if (label > 63)
			return "has a label longer than 63 characters";
		if (s[0] == '-' || s[label - 1] == '-')
			return "has a label that starts or ends with '-'";
		for (size_t i = 0; i < label; i++) {
			if (s[i] == '*')
				return wildcard ? "has a '*' other than as the "
				                  "whole first label (as in "
				                  "*.example.test)"
				                : "has a '*'";
			if (!isalnum((unsigned char)s[i]) && s[i] != '-' &&
			    s[i] != '_')
				return "has a character other than letters, "
				       "digits, '-', '_' and '.'";
		}
		if (s[label] == '\0')
			return NULL;
		s += label + 1;
	}
}

const char *config_hostname_error(const char *name)
{
	char copy[256];
	size_t n = strlen(name);

	/* The check lower-cases what it checks: a copy. */
	if (n >= sizeof(copy))
		return "is longer than 253 characters";
	memcpy(copy, name, n + 1);
	return config_hostname_check(copy, true);
}

/* Optimal string alignment distance between a and b, any case; large
 * when either is long. */
static size_t config_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[33][33];

	if (la > 32 || lb > 32)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			size_t best = d[i - 1][j - 1] + (ca != cb);

			if (d[i - 1][j] + 1 < best)
				best = d[i - 1][j] + 1;
			if (d[i][j - 1] + 1 < best)
				best = d[i][j - 1] + 1;
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    cb == tolower((unsigned char)a[i - 2]) &&
			    d[i - 2][j - 2] + 1 < best)
				best = d[i - 2][j - 2] + 1;
			d[i][j] = best;
		}
	}
	return d[la][lb];
}

/* The word of `words` nearest to `word` (at most 2 edits, and fewer than
 * the length of `word`), or NULL. */
const char *config_nearest(const char *word, const char *const *words, size_t n)
{
	const char *best = NULL;
	size_t dbest = 3;

	for (size_t i = 0; i < n; i++) {
		size_t d = config_distance(word, words[i]);

		if (d < dbest && d < strlen(word)) {
			best = words[i];
			dbest = d;
		}
	}
	return best;
}
