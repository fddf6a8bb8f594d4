/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for ca.c: the state directory's default, a root made in a
 * temporary directory (file modes, extensions), a leaf for DNS, wildcard
 * and IP names that verifies against the root for each name, the leaf
 * cache (the same certificate on a second call and after reopening, a new
 * one for another set of names), and the errors for a missing root, a
 * corrupted key and a bad name.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "portier/ca.h"

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* The names the leaf tests use. */
static const char *const leaf_names[] = {
    "app.test", "*.app.test", "localhost", "127.0.0.1", "::1", "[fd00::2]"};

/* A fresh temporary directory; the CA goes in its "ca" subdirectory. */
struct fixture {
	char tmp[64];
	char dir[128];
};

/* The mode bits of a file. */
static unsigned mode_of(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return (unsigned)(st.st_mode & 07777);
}

/* Remove a directory tree made by the tests (two levels at most). */
static void remove_tree(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	assert_int_equal(system(cmd), 0);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	strcpy(f->tmp, "/tmp/portier-test-ca-XXXXXX");
	assert_non_null(mkdtemp(f->tmp));
	snprintf(f->dir, sizeof(f->dir), "%s/state/portier", f->tmp);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	remove_tree(f->tmp);
	free(f);
	return 0;
}

/* Verify cert against root as a TLS server certificate. */
static void assert_verifies(X509 *cert, X509 *root)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok;

	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, root), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, cert, NULL), 1);
	assert_int_equal(
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER), 1);
	ok = X509_verify_cert(ctx);
	if (ok != 1)
		fail_msg("verify: %s", X509_verify_cert_error_string(
		                           X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
}

/* Seconds between notBefore and notAfter. */
static long validity_seconds(X509 *cert)
{
	int days, secs;

	assert_int_equal(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(cert),
	                                X509_get0_notAfter(cert)),
	                 1);
	return (long)days * 86400 + secs;
}

/* The serial number as hex (allocated). */
static char *serial_of(X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex;

	assert_non_null(bn);
	hex = BN_bn2hex(bn);
	BN_free(bn);
	assert_non_null(hex);
	return hex;
}

/* The default directory follows XDG_STATE_HOME and HOME; an explicit one
 * wins; a buffer too small is an error. */
static void test_state_dir(void **state)
{
	char buf[256], small[8];
	const char *home = getenv("HOME"), *xdg = getenv("XDG_STATE_HOME");
	char *saved_home = home ? strdup(home) : NULL;
	char *saved_xdg = xdg ? strdup(xdg) : NULL;

	(void)state;
	assert_int_equal(ca_state_dir("/srv/portier", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/srv/portier");
	setenv("XDG_STATE_HOME", "/home/u/.state", 1);
	assert_int_equal(ca_state_dir(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/u/.state/portier");
	setenv("XDG_STATE_HOME", "relative", 1);
	setenv("HOME", "/home/u", 1);
	assert_int_equal(ca_state_dir(NULL, buf, sizeof(buf)), 0);
	if (geteuid() == 0)
		assert_string_equal(buf, "/var/lib/portier");
	else
		assert_string_equal(buf, "/home/u/.local/state/portier");
	unsetenv("XDG_STATE_HOME");
	assert_int_equal(ca_state_dir("", buf, sizeof(buf)), 0);
	assert_true(strcmp(buf, "/var/lib/portier") == 0 ||
	            strcmp(buf, "/home/u/.local/state/portier") == 0);
	assert_int_equal(ca_state_dir("/a/long/path", small, sizeof(small)),
	                 -1);
	if (saved_home)
		setenv("HOME", saved_home, 1);
	if (saved_xdg)
		setenv("XDG_STATE_HOME", saved_xdg, 1);
	free(saved_home);
	free(saved_xdg);
}

/* A new root: files and modes, and the extensions of a CA. */
static void test_create_root(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", path[256], cn[128];
	BASIC_CONSTRAINTS *bc;
	struct ca *ca;
	X509 *root;
	int crit;

	ca = ca_open(f->dir, 0, err, sizeof(err));
	assert_null(ca);
	assert_non_null(strstr(err, f->dir));

	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	if (ca == NULL)
		fail_msg("ca_open: %s", err);
	assert_true(ca_is_new(ca));
	assert_int_equal(mode_of(f->dir), 0700);
	snprintf(path, sizeof(path), "%s/ca-key.pem", f->dir);
	assert_int_equal(mode_of(path), 0600);
	snprintf(path, sizeof(path), "%s/ca.pem", f->dir);
	assert_string_equal(ca_root_path(ca), path);
	assert_string_equal(ca_dir(ca), f->dir);
	assert_int_equal(mode_of(path) & 0022, 0);

	root = ca_root(ca);
	assert_int_equal(X509_check_ca(root), 1);
	bc = X509_get_ext_d2i(root, NID_basic_constraints, &crit, NULL);
	assert_non_null(bc);
	assert_int_equal(crit, 1);
	assert_true(bc->ca);
	assert_non_null(bc->pathlen);
	assert_int_equal(ASN1_INTEGER_get(bc->pathlen), 0);
	BASIC_CONSTRAINTS_free(bc);
	assert_true(X509_get_extension_flags(root) & EXFLAG_SS);
	assert_int_equal(X509_get_key_usage(root),
	                 KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(root));
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(root),
	                                           NID_commonName, cn,
	                                           sizeof(cn)) > 0,
	                 1);
	assert_memory_equal(cn, "portier local CA (", 18);
	assert_true(validity_seconds(root) > 3649L * 86400);
	assert_int_equal(EVP_PKEY_get_base_id(X509_get0_pubkey(root)),
	                 EVP_PKEY_EC);
	ca_free(ca);
}

/* A leaf for DNS, wildcard and IP names verifies against the root for
 * each of them, and for no other name. */
static void test_issue_leaf(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", cn[128], pattern[256];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct ca *ca;
	long secs;
	glob_t g;

	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	assert_non_null(ca);
	if (ca_issue(ca, leaf_names, N(leaf_names), &cert, &key, err,
	             sizeof(err)) < 0)
		fail_msg("ca_issue: %s", err);
	assert_non_null(cert);
	assert_non_null(key);
	assert_int_equal(X509_check_private_key(cert, key), 1);
	assert_verifies(cert, ca_root(ca));

	assert_int_equal(X509_check_host(cert, "app.test", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(cert, "api.app.test", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(cert, "localhost", 0, 0, NULL), 1);
	assert_int_equal(X509_check_ip_asc(cert, "127.0.0.1", 0), 1);
	assert_int_equal(X509_check_ip_asc(cert, "::1", 0), 1);
	assert_int_equal(X509_check_ip_asc(cert, "fd00::2", 0), 1);
	assert_int_equal(X509_check_host(cert, "other.test", 0, 0, NULL), 0);
	assert_int_equal(X509_check_host(cert, "a.b.app.test", 0, 0, NULL), 0);
	assert_int_equal(X509_check_ip_asc(cert, "127.0.0.2", 0), 0);

	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	                                           NID_commonName, cn,
	                                           sizeof(cn)),
	                 8);
	assert_string_equal(cn, "app.test");
	assert_int_equal(X509_check_ca(cert), 0);
	assert_int_equal(X509_get_key_usage(cert), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(cert), XKU_SSL_SERVER);
	assert_non_null(X509_get0_subject_key_id(cert));
	assert_non_null(X509_get0_authority_key_id(cert));
	assert_int_equal(EVP_PKEY_get_base_id(key), EVP_PKEY_EC);
	secs = validity_seconds(cert);
	assert_true(secs <= (long)CA_LEAF_DAYS * 86400);
	assert_true(secs > (long)(CA_LEAF_DAYS - 1) * 86400);
	/* Valid from an hour back, for clocks a little behind. */
	assert_int_equal(X509_cmp_time(X509_get0_notBefore(cert), NULL), -1);

	/* Cached, private to the user. */
	snprintf(pattern, sizeof(pattern), "%s/leaves", f->dir);
	assert_int_equal(mode_of(pattern), 0700);
	snprintf(pattern, sizeof(pattern), "%s/leaves/*.pem", f->dir);
	assert_int_equal(glob(pattern, 0, NULL, &g), 0);
	assert_int_equal(g.gl_pathc, 1);
	assert_int_equal(mode_of(g.gl_pathv[0]), 0600);
	globfree(&g);
	X509_free(cert);
	EVP_PKEY_free(key);
	ca_free(ca);
}

/* The second call, in any order of the names and after reopening the CA
 * without create, returns the cached leaf; another set gets another one. */
static void test_leaf_cache(void **state)
{
	/* the same names: another order and case, fd00::2 without the
	 * brackets */
	static const char *const reordered[] = {
	    "::1", "localhost", "fd00::2", "APP.test",
	    "127.0.0.1", "*.app.test", "app.test"};
	static const char *const other[] = {"api.test"};
	struct fixture *f = *state;
	char err[512] = "", *first, *serial;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct ca *ca;

	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	assert_non_null(ca);
	assert_int_equal(ca_issue(ca, leaf_names, N(leaf_names), &cert, &key,
	                          err, sizeof(err)),
	                 0);
	first = serial_of(cert);
	X509_free(cert);
	EVP_PKEY_free(key);

	assert_int_equal(ca_issue(ca, leaf_names, N(leaf_names), &cert, &key,
	                          err, sizeof(err)),
	                 0);
	serial = serial_of(cert);
	assert_string_equal(serial, first);
	OPENSSL_free(serial);
	X509_free(cert);
	EVP_PKEY_free(key);
	ca_free(ca);

	ca = ca_open(f->dir, 0, err, sizeof(err));
	if (ca == NULL)
		fail_msg("reopen: %s", err);
	assert_false(ca_is_new(ca));
	assert_int_equal(ca_issue(ca, reordered, N(reordered), &cert, &key, err,
	                          sizeof(err)),
	                 0);
	serial = serial_of(cert);
	assert_string_equal(serial, first);
	OPENSSL_free(serial);
	assert_verifies(cert, ca_root(ca));
	X509_free(cert);
	EVP_PKEY_free(key);

	assert_int_equal(
	    ca_issue(ca, other, N(other), &cert, &key, err, sizeof(err)), 0);
	serial = serial_of(cert);
	assert_string_not_equal(serial, first);
	OPENSSL_free(serial);
	assert_int_equal(X509_check_host(cert, "api.test", 0, 0, NULL), 1);
	assert_int_equal(X509_check_host(cert, "app.test", 0, 0, NULL), 0);
	X509_free(cert);
	EVP_PKEY_free(key);
	OPENSSL_free(first);
	ca_free(ca);
}

/* A leaf cached under another root is not reused. */
static void test_cache_other_root(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", other[160], cmd[512], *first, *serial;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct ca *ca;

	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	assert_non_null(ca);
	assert_int_equal(ca_issue(ca, leaf_names, N(leaf_names), &cert, &key,
	                          err, sizeof(err)),
	                 0);
	first = serial_of(cert);
	X509_free(cert);
	EVP_PKEY_free(key);
	ca_free(ca);

	/* A second CA that finds the first one's leaves in its cache. */
	snprintf(other, sizeof(other), "%s/other", f->tmp);
	ca = ca_open(other, CA_CREATE, err, sizeof(err));
	assert_non_null(ca);
	snprintf(cmd, sizeof(cmd), "cp -r '%s/leaves' '%s/'", f->dir, other);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(ca_issue(ca, leaf_names, N(leaf_names), &cert, &key,
	                          err, sizeof(err)),
	                 0);
	serial = serial_of(cert);
	assert_string_not_equal(serial, first);
	assert_verifies(cert, ca_root(ca));
	OPENSSL_free(serial);
	OPENSSL_free(first);
	X509_free(cert);
	EVP_PKEY_free(key);
	ca_free(ca);
}

/* Processes that make the CA at the same moment end up with one root. */
static void test_concurrent_create(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", serials[4][64], *serial;
	int fds[4][2], status;
	pid_t pids[4];
	struct ca *ca;

	for (int i = 0; i < 4; i++) {
		assert_int_equal(pipe(fds[i]), 0);
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0) {
			close(fds[i][0]);
			ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
			if (ca == NULL)
				_exit(1);
			serial = serial_of(ca_root(ca));
			if (write(fds[i][1], serial, strlen(serial) + 1) < 0)
				_exit(1);
			_exit(0);
		}
		close(fds[i][1]);
	}
	for (int i = 0; i < 4; i++) {
		ssize_t n = read(fds[i][0], serials[i], sizeof(serials[i]) - 1);

		assert_true(n > 0);
		serials[i][n] = '\0';
		close(fds[i][0]);
		assert_int_equal(waitpid(pids[i], &status, 0), pids[i]);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	ca = ca_open(f->dir, 0, err, sizeof(err));
	if (ca == NULL)
		fail_msg("ca_open: %s", err);
	serial = serial_of(ca_root(ca));
	for (int i = 0; i < 4; i++)
		assert_string_equal(serials[i], serial);
	OPENSSL_free(serial);
	ca_free(ca);
}

/* A corrupted key file is an error that names the file, with or without
 * create: a root that a browser may trust is never replaced silently. */
static void test_corrupted_key(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", path[256];
	struct ca *ca;
	FILE *fp;

	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	assert_non_null(ca);
	ca_free(ca);
	snprintf(path, sizeof(path), "%s/ca-key.pem", f->dir);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("-----BEGIN PRIVATE KEY-----\nbm90IGEga2V5\n"
	      "-----END PRIVATE KEY-----\n",
	      fp);
	fclose(fp);
	ca = ca_open(f->dir, 0, err, sizeof(err));
	assert_null(ca);
	assert_non_null(strstr(err, path));
	err[0] = '\0';
	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	assert_null(ca);
	assert_non_null(strstr(err, path));

	/* A missing key is named too. */
	assert_int_equal(unlink(path), 0);
	ca = ca_open(f->dir, 0, err, sizeof(err));
	assert_null(ca);
	assert_non_null(strstr(err, path));
}

/* A key other users may read signs for them too: ca_open refuses it and
 * says how to fix it. CA_CERT_ONLY opens the root without its key (what
 * ca path, export and trust need), and ca_issue then refuses to sign. */
static void test_key_mode_and_cert_only(void **state)
{
	static const char *const names[] = {"app.test"};
	struct fixture *f = *state;
	char err[512] = "", path[256];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	struct ca *ca;

	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	assert_non_null(ca);
	assert_int_equal(ca_check_key(ca, err, sizeof(err)), 0);
	ca_free(ca);
	snprintf(path, sizeof(path), "%s/ca-key.pem", f->dir);
	assert_int_equal(chmod(path, 0644), 0);
	for (unsigned flags = 0; flags <= CA_CREATE; flags += CA_CREATE) {
		err[0] = '\0';
		errno = 0;
		assert_null(ca_open(f->dir, flags, err, sizeof(err)));
		assert_int_equal(errno, EACCES);
		assert_non_null(strstr(err, path));
		assert_non_null(strstr(err, "mode 0644"));
		assert_non_null(strstr(err, "chmod 600"));
	}

	ca = ca_open(f->dir, CA_CERT_ONLY, err, sizeof(err));
	assert_non_null(ca);
	err[0] = '\0';
	assert_int_equal(ca_check_key(ca, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "chmod 600"));
	err[0] = '\0';
	assert_int_equal(
	    ca_issue(ca, names, N(names), &cert, &key, err, sizeof(err)), -1);
	assert_null(cert);
	assert_non_null(strstr(err, "without its key"));
	ca_free(ca);

	/* Without the key at all: the root can still be shown, and the
	 * check names the missing file. */
	assert_int_equal(unlink(path), 0);
	ca = ca_open(f->dir, CA_CERT_ONLY | CA_CREATE, err, sizeof(err));
	assert_non_null(ca);
	assert_false(ca_is_new(ca));
	err[0] = '\0';
	assert_int_equal(ca_check_key(ca, err, sizeof(err)), -1);
	assert_non_null(strstr(err, path));
	ca_free(ca);
}

/* A corrupted root certificate is an error naming it. */
static void test_corrupted_root(void **state)
{
	struct fixture *f = *state;
	char err[512] = "", path[256];
	struct ca *ca;
	FILE *fp;

	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	assert_non_null(ca);
	snprintf(path, sizeof(path), "%s", ca_root_path(ca));
	ca_free(ca);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("garbage\n", fp);
	fclose(fp);
	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	assert_null(ca);
	assert_non_null(strstr(err, path));
}

/* Names that are neither DNS names nor IP literals are refused. */
static void test_bad_names(void **state)
{
	static const char *const bad[] = {
	    "",      "app..test", ".app.test",     "app.test.", "a b.test",
	    "*",     "*.",        "a.*.test",      "**.test",   "fe80::1%eth0",
	    "[::1",  "[app.test]", "[127.0.0.1]", "app/test", "app.test:8443",
	};
	struct fixture *f = *state;
	char err[512] = "";
	EVP_PKEY *key = (EVP_PKEY *)1;
	X509 *cert = (X509 *)1;
	struct ca *ca;

	ca = ca_open(f->dir, CA_CREATE, err, sizeof(err));
	assert_non_null(ca);
	for (size_t i = 0; i < N(bad); i++) {
		err[0] = '\0';
		assert_int_equal(
		    ca_issue(ca, &bad[i], 1, &cert, &key, err, sizeof(err)),
		    -1);
		assert_null(cert);
		assert_null(key);
		assert_true(err[0] != '\0');
	}
	assert_int_equal(ca_issue(ca, NULL, 0, &cert, &key, err, sizeof(err)),
	                 -1);
	ca_free(ca);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_state_dir),
	    cmocka_unit_test_setup_teardown(test_create_root, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_issue_leaf, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_leaf_cache, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_cache_other_root, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_concurrent_create, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_corrupted_key, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_corrupted_root, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_key_mode_and_cert_only, setup,
	                                    teardown),
	    cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
