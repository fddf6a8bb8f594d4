/* SPDX-License-Identifier: MIT */
/*
 * The command line: run a configuration, check one (-t), and the commands
 * that help a person at the keyboard (`portier ports`).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "portier/auth.h"
#include "portier/ca.h"
#include "portier/config.h"
#include "portier/daemon.h"
#include "portier/doctor.h"
#include "portier/expose.h"
#include "portier/log.h"
#include "portier/ports.h"
#include "portier/runtime.h"
#include "portier/tls.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif

/* Where the configuration is looked for without -c. */
#define DEFAULT_CONFIG_LOCAL "portier.ini"
#define DEFAULT_CONFIG_SYSTEM SYSCONFDIR "/portier/portier.ini"

/* Size of the buffer that receives configuration errors. */
#define CONFIG_ERRLEN 16384

static const char usage_text[] =
	"usage: portier [-c FILE] [-t] [-q|-v] [-V] [-h]\n"
	"       portier ports [-c FILE]\n"
	"       portier expose [options] BACKEND\n"
	"       portier doctor [-c FILE]\n"
	"       portier hash\n"
	"       portier ca [-c FILE] [-d DIR] (path | export [DIR] | trust | "
	"untrust)\n"
	"\n"
	"Forward ports and virtual hosts to services on this machine.\n"
	"\n"
	"  -c FILE   configuration file (default: ./" DEFAULT_CONFIG_LOCAL
	" if it exists,\n"
	"            else " DEFAULT_CONFIG_SYSTEM ")\n"
	"  -t        check the configuration and exit\n"
	"  -q        log only warnings and errors\n"
	"  -v        log debug messages (every connection)\n"
	"  -V        print the version and exit\n"
	"  -h        print this help and exit\n"
	"\n"
	"commands:\n"
	"  expose    open BACKEND (e.g. 5173) to the network with no\n"
	"            configuration file: prints the addresses that work and\n"
	"            a QR code for a phone; --tls for HTTPS from the local\n"
	"            CA; see `portier expose -h`\n"
	"  doctor    check the configuration and what it needs: bind\n"
	"            addresses free (or held by whom), certificates and\n"
	"            keys, backends answering (on [::1], on 127.0.0.1),\n"
	"            http listeners that would answer 404 to every request\n"
	"            (tls-passthrough ones that would close every one),\n"
	"            the https ports of redirects, firewall rules, local CA\n"
	"            trust; exit status 1 when something is wrong\n"
	"  ports     list listening TCP and UDP sockets and the processes\n"
	"            that hold them; with -c FILE, mark the ones the\n"
	"            configuration uses and report conflicts\n"
	"  hash      read a password (twice from a terminal, once from a\n"
	"            pipe) and print a hash for `auth = USER:HASH`\n"
	"  ca        the local certificate authority of `tls = auto`:\n"
	"            path     print the root certificate's file (made if\n"
	"                     missing)\n"
	"            export   write it as PEM, DER and an iOS profile into\n"
	"                     DIR (default: .; made if missing)\n"
	"            trust    add it to the system store (as root) and to\n"
	"                     Chromium's and Firefox's (with certutil)\n"
	"            untrust  remove it from them\n"
	"            -c FILE takes state_dir from FILE, -d DIR names the\n"
	"            state directory; see `portier ca -h`\n"
	"\n"
	"signals: SIGTERM or SIGINT stop accepting and let connections\n"
	"finish for up to 10 s (a second one stops at once); SIGHUP reads\n"
	"the file again (a bad one is refused, the running configuration\n"
	"stays, and no connection is cut); SIGUSR1 reopens the access log.\n"
	"exit status: 0 normal, 1 configuration error, 2 runtime error\n"
	"(such as a port that cannot be bound).\n";

static int cmd_run(int argc, char **argv);
static int cmd_ports(int argc, char **argv);
static int cmd_hash(int argc, char **argv);
static int read_password(const char *prompt, char *buf, size_t len);
static const char *default_config_path(void);
static struct config *load_config(const char *path);
static int check_certificates(const struct config *cfg);
static int check_files(const struct config *cfg);

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	/* --help, as people type it, means -h for every command (each
	 * parses short options with getopt); --version means -V, which only
	 * the main command has. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--help") == 0)
			argv[i] = (char *)"-h";
		else if (strcmp(argv[i], "--version") == 0 &&
		         argv[1][0] == '-')
			argv[i] = (char *)"-V";
	}
	if (argc > 1 && argv[1][0] != '-') {
		if (strcmp(argv[1], "ports") == 0)
			return cmd_ports(argc - 1, argv + 1);
		if (strcmp(argv[1], "hash") == 0)
			return cmd_hash(argc - 1, argv + 1);
		if (strcmp(argv[1], "ca") == 0)
			return ca_command(argc - 1, argv + 1, NULL);
		if (strcmp(argv[1], "expose") == 0)
			return expose_command(argc - 1, argv + 1);
		if (strcmp(argv[1], "doctor") == 0)
			return doctor_command(argc - 1, argv + 1,
					      default_config_path());
		fprintf(stderr,
			"portier: unknown command '%s'\n"
			"Try 'portier -h' for help.\n",
			argv[1]);
		return 1;
	}
	return cmd_run(argc, argv);
}

/* portier [-c FILE] [-t] [-q|-v] [-V] [-h] */
static int cmd_run(int argc, char **argv)
{
	const char *path = NULL;
	struct runtime *rt;
	struct config *cfg;
	int check = 0, verbosity = 0, opt, status;

	while ((opt = getopt(argc, argv, "c:tqvVh")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 't':
			check = 1;
			break;
		case 'q':
			verbosity = -1;
			break;
		case 'v':
			verbosity = 1;
			break;
		case 'V':
			printf("portier %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs("Try 'portier -h' for help.\n", stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "portier: unexpected argument '%s'\n%s",
			argv[optind], "Try 'portier -h' for help.\n");
		return 1;
	}
	if (path == NULL) {
		path = default_config_path();
		if (access(path, F_OK) < 0) {
			fprintf(stderr,
				"portier: no configuration: neither ./%s nor "
				"%s exists.\nGive one with -c FILE; the "
				"examples in conf/ are a start.\n",
				DEFAULT_CONFIG_LOCAL, DEFAULT_CONFIG_SYSTEM);
			return 1;
		}
	}
	cfg = load_config(path);
	if (cfg == NULL)
		return 1;
	if (check) {
		int bad = check_certificates(cfg) + check_files(cfg);

		for (size_t i = 0; i < cfg->notes.n; i++)
			fprintf(stderr, "%s\n", cfg->notes.v[i]);
		if (bad == 0)
			printf("%s: configuration OK\n", path);
		config_free(cfg);
		return bad ? 1 : 0;
	}
	if (verbosity < 0)
		log_set_level(LOG_LEVEL_WARN);
	else if (verbosity > 0)
		log_set_level(LOG_LEVEL_DEBUG);
	else
		log_set_level(cfg->global.log_level);
	rt = runtime_new(cfg, &status);
	if (rt == NULL)
		return status;
	status = runtime_run(rt);
	runtime_free(rt);
	return status;
}

/* portier ports [-c FILE] */
static int cmd_ports(int argc, char **argv)
{
	struct config *cfg = NULL;
	const char *path = NULL;
	int opt, status;

	while ((opt = getopt(argc, argv, "c:h")) != -1) {
		switch (opt) {
		case 'c':
			path = optarg;
			break;
		case 'h':
			puts("usage: portier ports [-c FILE]\n"
			     "List listening TCP and UDP sockets with the "
			     "process, program and user\nthat hold each. "
			     "With -c, mark the sockets FILE's listeners "
			     "would use\nand report conflicts (exit status "
			     "1 when there is one).");
			return 0;
		default:
			fputs("Try 'portier ports -h' for help.\n", stderr);
			return 1;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "portier ports: unexpected argument '%s'\n%s",
		        argv[optind], "Try 'portier ports -h' for help.\n");
		return 1;
	}
	if (path != NULL) {
		cfg = load_config(path);
		if (cfg == NULL)
			return 1;
	}
	status = ports_cmd("/proc", cfg, stdout);
	config_free(cfg);
	return status;
}

/* ./portier.ini when present, else the system-wide file. */
static const char *default_config_path(void)
{
	if (access(DEFAULT_CONFIG_LOCAL, F_OK) == 0)
		return DEFAULT_CONFIG_LOCAL;
	return DEFAULT_CONFIG_SYSTEM;
}

/* Load a configuration, printing its errors. */
static struct config *load_config(const char *path)
{
	char *err = malloc(CONFIG_ERRLEN);
	struct config *cfg;

	if (err == NULL) {
		fputs("portier: out of memory\n", stderr);
		return NULL;
	}
	err[0] = '\0';
	cfg = config_load(path, err, CONFIG_ERRLEN);
	if (cfg == NULL)
		fputs(err, stderr);
	free(err);
	return cfg;
}

/* -t: load the certificates and keys of the TLS listeners (tls = auto:
 * of their vhosts only) and their vhosts as a start does (tls_server_check, which doctor uses too),
 * so that a key that does not match its certificate is found now. A file
 * that is not there is only noted: a configuration may be checked before
 * its files are put in place (the examples in conf/ are); a start fails
 * without it. Returns the number of errors. */
static int check_certificates(const struct config *cfg)
{
	char err[4096], **said = calloc(cfg->nlisteners, sizeof(*said));
	size_t nsaid = 0;
	int bad = 0;

	for (size_t i = 0; i < cfg->nlisteners; i++) {
		bool again = false;
		bool missing;

		if (tls_server_check(cfg, &cfg->listeners[i], err,
		                     sizeof(err)) == 0)
			continue;
		missing = errno == ENOENT;
		/* A vhost's files fail alike on each listener that serves
		 * it: one message is enough. */
		for (size_t j = 0; j < nsaid && !again; j++)
			again = strcmp(said[j], err) == 0;
		if (again)
			continue;
		if (said != NULL && (said[nsaid] = strdup(err)) != NULL)
			nsaid++;
		if (missing) {
			fprintf(stderr,
			        "%s (a note: the file may come later, but "
			        "portier will not start without it; files "
			        "named after it are not checked)\n",
			        err);
			continue;
		}
		fprintf(stderr, "%s\n", err);
		bad++;
	}
	for (size_t j = 0; j < nsaid; j++)
		free(said[j]);
	free(said);
	return bad;
}

/* -t: the directories of the access log and the pidfile, which a start
 * writes before any privilege drop, checked as daemon.c says: with this
 * user's rights, unless only root can start the file (it names another
 * user). Unlike a certificate, a directory is not only noted when it is
 * missing: a start fails on it, and nginx -t says so too. Returns the
 * number of errors. */
static int check_files(const struct config *cfg)
{
	char err[4096];
	int bad;

	bad = daemon_check_files(
	    cfg, NULL, daemon_needs_root(cfg->global.user, cfg->global.group),
	    err, sizeof(err));
	fputs(err, stderr);
	return bad;
}

/* portier hash: a crypt(3) hash of a password for `auth = USER:HASH`. The
 * password is read without echo from a terminal (twice, to catch a typo),
 * or as one line from a pipe; it never appears on the command line. */
static int cmd_hash(int argc, char **argv)
{
	char first[256], second[256];
	bool tty = isatty(STDIN_FILENO);
	char *hash;

	if (argc > 1) {
		bool help = strcmp(argv[1], "-h") == 0;

		fprintf(help ? stdout : stderr,
		        "usage: portier hash\n"
		        "(the password is read from the terminal or standard "
		        "input, never from arguments)\n");
		return help ? 0 : 1;
	}
	if (read_password(tty ? "Password: " : NULL, first, sizeof(first)) <
	    0)
		return 1;
	if (tty) {
		if (read_password("Again: ", second, sizeof(second)) < 0)
			return 1;
		if (strcmp(first, second) != 0) {
			fprintf(stderr, "portier: the two passwords differ\n");
			return 1;
		}
	}
	if (first[0] == '\0') {
		fprintf(stderr, "portier: the password is empty\n");
		return 1;
	}
	hash = auth_hash(first);
	OPENSSL_cleanse(first, sizeof(first));
	OPENSSL_cleanse(second, sizeof(second));
	if (hash == NULL) {
		fprintf(stderr, "portier: cannot hash the password: %s\n",
		        strerror(errno));
		return 2;
	}
	printf("%s\n", hash);
	if (tty)
		fprintf(stderr, "In a [vhost] section: auth = USER:%s\n", hash);
	free(hash);
	return 0;
}

/* Read one line into buf without its newline; with a prompt (a terminal)
 * echo is off meanwhile. Returns 0, or -1 after a message. */
static int read_password(const char *prompt, char *buf, size_t len)
{
	struct termios old, quiet;
	bool echo_off = false;
	size_t n;

	if (prompt != NULL) {
		fputs(prompt, stderr);
		fflush(stderr);
		if (tcgetattr(STDIN_FILENO, &old) == 0) {
			quiet = old;
			quiet.c_lflag &= ~(tcflag_t)ECHO;
			echo_off = tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet) == 0;
		}
	}
	if (fgets(buf, (int)len, stdin) == NULL)
		buf[0] = '\0';
	if (echo_off) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fputc('\n', stderr);
	}
	n = strcspn(buf, "\r\n");
	if (buf[n] == '\0' && n == len - 1) {
		fprintf(stderr, "portier: the password is longer than %zu "
		        "bytes\n", len - 2);
		return -1;
	}
	buf[n] = '\0';
	return 0;
}
