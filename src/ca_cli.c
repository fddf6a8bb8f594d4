/* SPDX-License-Identifier: MIT */
/*
 * `portier ca`: what a person does with the local CA. `path` prints where
 * the root certificate is, `export` writes it in the forms that desktops,
 * Android and iOS import, and `trust` / `untrust` add it to or remove it
 * from the system store (Debian's update-ca-certificates, as root) and
 * the NSS databases of Chromium and Firefox (certutil). Every step prints
 * one line saying what was done, or what could not be done and why.
 * External programs run with fork and exec, never through a shell.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glob.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "portier/ca.h"
#include "portier/config.h"
#include "portier/proc.h"

/* Where Debian keeps local CA certificates, and the program that builds
 * the system bundle from them. */
#define SYSTEM_CA_DIR    "/usr/local/share/ca-certificates"
#define SYSTEM_CA_UPDATE "update-ca-certificates"
/* The state directory of root, which `sudo portier ca` uses. */
#define ROOT_STATE_DIR "/var/lib/portier"
/* Files written by export. */
#define EXPORT_PEM    "portier-ca.pem"
#define EXPORT_DER    "portier-ca.der"
#define EXPORT_CONFIG "portier-ca.mobileconfig"

#define CONFIG_ERRLEN 16384
#define OUTPUT_MAX    4096 /* kept of a program's output */
#define NSS_DBS_MAX   64

/* The root as the commands need it. */
struct root_info {
	struct ca *ca;
	const char *dir;
	char fingerprint[2 * 32 + 1]; /* SHA-256, lower-case hex */
	char nickname[32];            /* "portier-" and 8 hex digits */
	char system_path[PATH_MAX];   /* SYSTEM_CA_DIR/NICKNAME.crt */
};

/* Chromium's NSS databases under HOME: its own, and the snap's (the
 * Chromium of Ubuntu). */
static const char *const nss_chromium[] = {
    ".pki/nssdb",
    "snap/chromium/current/.pki/nssdb",
};

/* What trust or untrust came to, over every store. */
struct tally {
	int done;           /* stores that hold the root now (trust), or
	                       that it was taken out of (untrust) */
	int left;           /* stores not changed, for a reason said */
	bool failed;        /* a step that was tried failed */
	bool need_root;     /* the system store was left: not root */
	bool need_certutil; /* a browser's database was left: no certutil */
};

/* An NSS database of a browser. */
struct nss_db {
	const char *browser; /* "Chromium", "Firefox" */
	char dir[PATH_MAX];
};

static const char usage_text[] =
    "usage: portier ca [-c FILE] [-d DIR] path | export [DIR] | trust | "
    "untrust\n"
    "The local certificate authority that signs the certificates of\n"
    "`tls = auto` listeners.\n"
    "\n"
    "  path          print the root certificate's file (made if missing)\n"
    "  export [DIR]  write " EXPORT_PEM ", " EXPORT_DER " and the iOS "
    "profile\n"
    "                " EXPORT_CONFIG " into DIR (default: .; made, with\n"
    "                its parents, if missing)\n"
    "  trust         add the root to the system store (needs root) and "
    "to the\n"
    "                NSS databases of Chromium and Firefox, snaps "
    "included\n"
    "                (certutil)\n"
    "  untrust       remove it from them\n"
    "\n"
    "  -c FILE       use the state_dir of FILE\n"
    "  -d DIR        state directory (default: $XDG_STATE_HOME/portier, "
    "else\n"
    "                " ROOT_STATE_DIR " as root, else ~/.local/state/portier)\n"
    "\n"
    "exit status: 1 when a step that was tried failed, when trust leaves\n"
    "the root in no store, or when untrust takes it out of none while a\n"
    "store it could not change (such as the system store without root,\n"
    "or a browser's database without certutil) may still hold it; in\n"
    "those two cases a last line says what to do. 0 otherwise.\n";

static int cmd_path(const char *dir);
static int cmd_export(const char *dir, const char *out);
static int cmd_trust(const char *dir, bool add);
static int open_root(const char *dir, bool create, struct root_info *info);
static int export_dir(const char *out);
static void system_trust(const struct root_info *info, bool add,
                         struct tally *tally);
static void nss_trust(const struct root_info *info, bool add,
                      struct tally *tally);
static int tally_status(const struct root_info *info, bool add,
                        const struct tally *tally);
static size_t nss_find(struct nss_db *dbs, size_t max, const char *home);
static void sudo_hint(const struct root_info *info, const char *cmd, char *buf,
                      size_t len);
static int write_mobileconfig(FILE *fp, X509 *root, const char *cn,
                              const char *fingerprint);
static void uuid_of(X509 *root, const char *salt, char *buf);
static void xml_escaped(FILE *fp, const char *text);
static int write_cert(const char *path, X509 *cert, bool der);
static bool same_file(const char *path, const char *other);
static const char *last_line(char *out);
static void done(bool ok, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static const char *home_dir(void);

int ca_command(int argc, char **argv, const char *state_dir_or_null)
{
	const char *config_path = NULL, *dir_opt = NULL, *cmd;
	char dir[PATH_MAX], *err;
	struct config *cfg = NULL;
	int opt, status;

	optind = 1;
	while ((opt = getopt(argc, argv, "c:d:h")) != -1) {
		switch (opt) {
		case 'c':
			config_path = optarg;
			break;
		case 'd':
			dir_opt = optarg;
			break;
		case 'h':
			fputs(usage_text, stdout);
			return 0;
		default:
			fputs("Try 'portier ca -h' for help.\n", stderr);
			return 1;
		}
	}
	if (optind >= argc) {
		fputs(usage_text, stderr);
		return 1;
	}
	cmd = argv[optind];
	if (argc - optind > (strcmp(cmd, "export") == 0 ? 2 : 1)) {
		/* The first word too many: what the user would look at. */
		fprintf(stderr, "portier ca: unexpected argument '%s'\n%s",
		        argv[optind + (strcmp(cmd, "export") == 0 ? 2 : 1)],
		        "Try 'portier ca -h' for help.\n");
		return 1;
	}
	if (config_path != NULL && dir_opt == NULL) {
		err = malloc(CONFIG_ERRLEN);
		if (err == NULL) {
			fputs("portier: out of memory\n", stderr);
			return 1;
		}
		err[0] = '\0';
		cfg = config_load(config_path, err, CONFIG_ERRLEN);
		if (cfg == NULL)
			fputs(err, stderr);
		free(err);
		if (cfg == NULL)
			return 1;
		dir_opt = cfg->global.state_dir;
	}
	if (dir_opt == NULL)
		dir_opt = state_dir_or_null;
	if (ca_state_dir(dir_opt, dir, sizeof(dir)) < 0) {
		fputs("portier: no state directory: HOME is not set; give "
		      "one with -d DIR\n",
		      stderr);
		config_free(cfg);
		return 1;
	}
	config_free(cfg);
	if (strcmp(cmd, "path") == 0)
		status = cmd_path(dir);
	else if (strcmp(cmd, "export") == 0)
		status =
		    cmd_export(dir, argc - optind > 1 ? argv[optind + 1] : ".");
	else if (strcmp(cmd, "trust") == 0)
		status = cmd_trust(dir, true);
	else if (strcmp(cmd, "untrust") == 0)
		status = cmd_trust(dir, false);
	else {
		fprintf(stderr,
		        "portier ca: unknown command '%s'\n"
		        "Try 'portier ca -h' for help.\n",
		        cmd);
		status = 1;
	}
	return status;
}

/* portier ca path */
static int cmd_path(const char *dir)
{
	struct root_info info;

	if (open_root(dir, true, &info) < 0)
		return 1;
	printf("%s\n", ca_root_path(info.ca));
	ca_free(info.ca);
	return 0;
}

const char *ca_export_name(enum ca_format format)
{
	return format == CA_FORMAT_PEM   ? EXPORT_PEM
	       : format == CA_FORMAT_DER ? EXPORT_DER
	                                 : EXPORT_CONFIG;
}

int ca_export(FILE *fp, X509 *root, enum ca_format format)
{
	char cn[256], fingerprint[65];

	switch (format) {
	case CA_FORMAT_PEM:
		return PEM_write_X509(fp, root) == 1 ? 0 : -1;
	case CA_FORMAT_DER:
		return i2d_X509_fp(fp, root) == 1 ? 0 : -1;
	default:
		if (X509_NAME_get_text_by_NID(X509_get_subject_name(root),
		                              NID_commonName, cn,
		                              sizeof(cn)) < 0)
			snprintf(cn, sizeof(cn), "portier local CA");
		if (ca_fingerprint(root, fingerprint) < 0) {
			errno = EINVAL;
			return -1;
		}
		return write_mobileconfig(fp, root, cn, fingerprint);
	}
}

int ca_fingerprint(X509 *cert, char out[65])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (X509_digest(cert, EVP_sha256(), md, &mdlen) != 1 || mdlen != 32)
		return -1;
	for (unsigned int i = 0; i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* portier ca export [DIR] */
static int cmd_export(const char *dir, const char *out)
{
	char pem[PATH_MAX], der[PATH_MAX], profile[PATH_MAX];
	struct root_info info;
	X509 *root;
	FILE *fp;
	int status = 1;

	/* Before the CA is made, so that a DIR that cannot be written
	 * leaves nothing behind. */
	if (export_dir(out) < 0 || open_root(dir, true, &info) < 0)
		return 1;
	root = ca_root(info.ca);
	if ((size_t)snprintf(pem, sizeof(pem), "%s/%s", out, EXPORT_PEM) >=
	        sizeof(pem) ||
	    (size_t)snprintf(der, sizeof(der), "%s/%s", out, EXPORT_DER) >=
	        sizeof(der) ||
	    (size_t)snprintf(profile, sizeof(profile), "%s/%s", out,
	                     EXPORT_CONFIG) >= sizeof(profile)) {
		fprintf(stderr, "portier: %s: path too long\n", out);
		goto out;
	}
	/* Each file is reported once written, so that a failure later
	 * leaves no file unsaid. */
	if (write_cert(pem, root, false) < 0)
		goto out;
	printf("wrote %s (PEM: desktops, Firefox, curl)\n", pem);
	fflush(stdout);
	if (write_cert(der, root, true) < 0)
		goto out;
	printf("wrote %s (DER: Android)\n", der);
	fflush(stdout);
	fp = fopen(profile, "we");
	if (fp == NULL || ca_export(fp, root, CA_FORMAT_PROFILE) < 0) {
		fprintf(stderr, "portier: %s: %s\n", profile, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		goto out;
	}
	if (fclose(fp) != 0) {
		fprintf(stderr, "portier: %s: %s\n", profile, strerror(errno));
		goto out;
	}
	printf("wrote %s (iOS configuration profile)\n"
	       "iOS: open %s on the device (AirDrop, mail or a web page), "
	       "install it in Settings > General > VPN & Device Management, "
	       "then turn on full trust in Settings > General > About > "
	       "Certificate Trust Settings.\n"
	       "Android: copy %s to the device and install it in Settings > "
	       "Security > Encryption & credentials > Install a certificate "
	       "> CA certificate.\n",
	       profile, EXPORT_CONFIG, EXPORT_DER);
	status = 0;
out:
	ca_free(info.ca);
	return status;
}

/* portier ca trust, portier ca untrust */
static int cmd_trust(const char *dir, bool add)
{
	struct root_info info;
	struct tally tally = {0};
	int status;

	if (open_root(dir, add, &info) < 0)
		return 1;
	printf("local CA %s (SHA-256 %.16s...)\n", ca_root_path(info.ca),
	       info.fingerprint);
	fflush(stdout);
	system_trust(&info, add, &tally);
	nss_trust(&info, add, &tally);
	status = tally_status(&info, add, &tally);
	ca_free(info.ca);
	return status;
}

/* The exit status of trust or untrust: 1 when a step failed, or when the
 * command did nothing while it had something to do (trust: no store holds
 * the root; untrust: it was taken out of none, and a store left may hold
 * it), which a last line says with what to do. */
static int tally_status(const struct root_info *info, bool add,
                        const struct tally *tally)
{
	const char *then = !tally->need_root ? ":" : add ? ", or" : ", and";
	char hint[PATH_MAX + 64];

	if (tally->done > 0 || (!add && tally->left == 0))
		return tally->failed ? 1 : 0;
	fflush(stdout);
	fputs(add ? "portier: no store trusts the root now"
	          : "portier: the root was taken out of no store, and one "
	            "may still hold it",
	      stderr);
	if (tally->need_root) {
		sudo_hint(info, add ? "trust" : "untrust", hint, sizeof(hint));
		fprintf(stderr, ": run `%s` for the system store", hint);
	}
	if (tally->need_certutil)
		fprintf(stderr,
		        "%s install certutil (Debian's libnss3-tools package) "
		        "for the browsers",
		        then);
	fputc('\n', stderr);
	return 1;
}

/* Open the CA and fill info; say on stderr when it was made just now.
 * Returns 0, or -1 after a message. */
static int open_root(const char *dir, bool create, struct root_info *info)
{
	char err[PATH_MAX + 256];

	memset(info, 0, sizeof(*info));
	info->dir = dir;
	info->ca = ca_open(dir, (create ? CA_CREATE : 0) | CA_CERT_ONLY, err,
	                   sizeof(err));
	if (info->ca == NULL) {
		fprintf(stderr, "portier: %s\n", err);
		return -1;
	}
	if (ca_is_new(info->ca))
		fprintf(stderr,
		        "portier: made a new local CA: %s\n"
		        "portier: `portier ca trust` makes this machine trust "
		        "it, `portier ca export` writes it for phones\n",
		        ca_root_path(info->ca));
	if (ca_fingerprint(ca_root(info->ca), info->fingerprint) < 0) {
		fprintf(stderr, "portier: %s: cannot compute its fingerprint\n",
		        ca_root_path(info->ca));
		ca_free(info->ca);
		return -1;
	}
	snprintf(info->nickname, sizeof(info->nickname), "portier-%.8s",
	         info->fingerprint);
	snprintf(info->system_path, sizeof(info->system_path), "%s/%s.crt",
	         SYSTEM_CA_DIR, info->nickname);
	return 0;
}

/* Make the directory export writes into when it is missing, with its
 * missing parents (mode 0755, as mkdir -p), and check that files may be
 * made in it. Returns 0, or -1 after a message naming the directory. */
static int export_dir(const char *out)
{
	char path[PATH_MAX], *c, end;
	size_t len = strlen(out);
	struct stat st;
	int saved;

	if (len == 0) {
		fputs("portier: export: the directory name is empty\n", stderr);
		return -1;
	}
	if (stat(out, &st) < 0 && errno == ENOENT) {
		if (len >= sizeof(path)) {
			fprintf(stderr, "portier: %s: path too long\n", out);
			return -1;
		}
		memcpy(path, out, len + 1);
		for (c = path + 1;; c++) {
			if (*c != '/' && *c != '\0')
				continue;
			end = *c;
			*c = '\0';
			if (mkdir(path, 0755) < 0 && errno != EEXIST) {
				saved = errno;
				fprintf(stderr,
				        "portier: %s: cannot create the "
				        "directory%s%s: %s\n",
				        out, strcmp(path, out) != 0 ? " " : "",
				        strcmp(path, out) != 0 ? path : "",
				        strerror(saved));
				return -1;
			}
			*c = end;
			if (end == '\0')
				break;
		}
		printf("made the directory %s\n", out);
		fflush(stdout);
	}
	if (stat(out, &st) < 0) {
		fprintf(stderr, "portier: %s: %s\n", out, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		fprintf(stderr, "portier: %s: not a directory\n", out);
		return -1;
	}
	if (access(out, W_OK | X_OK) < 0) {
		fprintf(stderr, "portier: %s: cannot write files there: %s\n",
		        out, strerror(errno));
		return -1;
	}
	return 0;
}

/* Add the root to, or remove it from, the system store, and count the
 * outcome in tally. */
static void system_trust(const struct root_info *info, bool add,
                         struct tally *tally)
{
	char update[PATH_MAX], out[OUTPUT_MAX], hint[PATH_MAX + 64];
	const char *path = info->system_path;
	bool present = access(path, F_OK) == 0;
	char *argv[3];
	int status;

	if (add && present && same_file(path, ca_root_path(info->ca)) &&
	    geteuid() != 0) {
		done(true, "system store: %s is installed already", path);
		tally->done++;
		return;
	}
	if (!add && !present) {
		printf("- system store: %s is not there (nothing to do)\n",
		       path);
		return;
	}
	if (geteuid() != 0) {
		sudo_hint(info, add ? "trust" : "untrust", hint, sizeof(hint));
		done(false, "system store: needs root; run: %s", hint);
		tally->left++;
		tally->need_root = true;
		return;
	}
	if (!proc_find_program(SYSTEM_CA_UPDATE, update, sizeof(update))) {
		done(false,
		     "system store: %s not found (Debian's ca-certificates "
		     "package provides it)",
		     SYSTEM_CA_UPDATE);
		tally->left++;
		return;
	}
	if (add) {
		if (mkdir(SYSTEM_CA_DIR, 0755) < 0 && errno != EEXIST) {
			done(false, "system store: cannot create %s: %s",
			     SYSTEM_CA_DIR, strerror(errno));
			tally->failed = true;
			return;
		}
		if (write_cert(path, ca_root(info->ca), false) < 0) {
			done(false, "system store: cannot write %s", path);
			tally->failed = true;
			return;
		}
	} else if (unlink(path) < 0) {
		done(false, "system store: cannot remove %s: %s", path,
		     strerror(errno));
		tally->failed = true;
		return;
	}
	/* Without --fresh, a removal leaves the links to the removed file
	 * in /etc/ssl/certs. */
	argv[0] = update;
	argv[1] = add ? NULL : "--fresh";
	argv[2] = NULL;
	status = proc_run(argv, out, sizeof(out));
	if (status != 0) {
		done(false, "system store: %s %s, but %s%s %s%s%s",
		     add ? "wrote" : "removed", path, SYSTEM_CA_UPDATE,
		     add ? "" : " --fresh",
		     status < 0 ? "could not run" : "failed",
		     out[0] != '\0' ? ": " : "", last_line(out));
		tally->failed = true;
		return;
	}
	done(true, "system store: %s %s, ran %s%s",
	     add ? "installed" : "removed", path, SYSTEM_CA_UPDATE,
	     add ? "" : " --fresh");
	tally->done++;
}

/* Add the root to, or remove it from, every NSS database of Chromium and
 * Firefox under HOME, and count the outcomes in tally. */
static void nss_trust(const struct root_info *info, bool add,
                      struct tally *tally)
{
	struct nss_db dbs[NSS_DBS_MAX];
	const char *home = home_dir();
	char certutil[PATH_MAX], out[OUTPUT_MAX], db[PATH_MAX + 8];
	char *list[] = {certutil, "-d", db, "-L", "-n", NULL, NULL};
	char *del[] = {certutil, "-d", db, "-D", "-n", NULL, NULL};
	char *ins[] = {certutil, "-d", db,   "-A", "-t", "C,,",
	               "-n",     NULL, "-i", NULL, NULL};
	bool have_certutil, chromium = false, firefox = false;
	size_t n, i;
	int status;

	if (home == NULL) {
		done(false, "browsers: HOME is not set");
		tally->left++;
		return;
	}
	n = nss_find(dbs, NSS_DBS_MAX, home);
	have_certutil =
	    proc_find_program("certutil", certutil, sizeof(certutil));
	list[5] = del[5] = ins[7] = (char *)info->nickname;
	ins[9] = (char *)ca_root_path(info->ca);
	for (i = 0; i < n; i++) {
		chromium |= strcmp(dbs[i].browser, "Chromium") == 0;
		firefox |= strcmp(dbs[i].browser, "Firefox") == 0;
		if (!have_certutil) {
			done(false,
			     "%s NSS database %s: certutil not found (Debian's "
			     "libnss3-tools package provides it)",
			     dbs[i].browser, dbs[i].dir);
			tally->left++;
			tally->need_certutil = true;
			continue;
		}
		snprintf(db, sizeof(db), "sql:%s", dbs[i].dir);
		status = add ? 0 : proc_run(list, out, sizeof(out));
		if (status > 0 && strstr(out, "PR_FILE_NOT_FOUND_ERROR")) {
			printf("- %s NSS database %s: %s is not there (nothing "
			       "to do)\n",
			       dbs[i].browser, dbs[i].dir, info->nickname);
			continue;
		}
		if (status == 0)
			status = proc_run(add ? ins : del, out, sizeof(out));
		if (status != 0) {
			done(false, "%s NSS database %s: certutil %s: %s",
			     dbs[i].browser, dbs[i].dir,
			     status < 0 ? "could not run" : "failed",
			     out[0] != '\0' ? last_line(out) : "no message");
			tally->failed = true;
			continue;
		}
		done(true, "%s NSS database %s: %s %s", dbs[i].browser,
		     dbs[i].dir, add ? "added" : "removed", info->nickname);
		tally->done++;
	}
	if (!chromium)
		printf("- Chromium: no NSS database at %s/%s or %s/%s (nothing "
		       "to do)\n",
		       home, nss_chromium[0], home, nss_chromium[1]);
	if (!firefox)
		printf("- Firefox: no profile with cert9.db under "
		       "%s/.mozilla/firefox (nothing to do)\n",
		       home);
}

/* The NSS databases under home that have a cert9.db: Chromium's, the
 * snap's included (Ubuntu's Chromium keeps its own under the snap's
 * current revision), and each Firefox profile, the snap's included. */
static size_t nss_find(struct nss_db *dbs, size_t max, const char *home)
{
	static const char *const profiles[] = {
	    ".mozilla/firefox/*/cert9.db",
	    "snap/firefox/common/.mozilla/firefox/*/cert9.db",
	};
	char pattern[PATH_MAX];
	size_t n = 0;
	glob_t g;

	for (size_t c = 0; c < sizeof(nss_chromium) / sizeof(nss_chromium[0]);
	     c++) {
		snprintf(pattern, sizeof(pattern), "%s/%s/cert9.db", home,
		         nss_chromium[c]);
		if (n >= max || access(pattern, F_OK) < 0)
			continue;
		dbs[n].browser = "Chromium";
		snprintf(dbs[n].dir, sizeof(dbs[n].dir), "%s/%s", home,
		         nss_chromium[c]);
		n++;
	}
	for (size_t p = 0; p < sizeof(profiles) / sizeof(profiles[0]); p++) {
		snprintf(pattern, sizeof(pattern), "%s/%s", home, profiles[p]);
		if (glob(pattern, 0, NULL, &g) != 0)
			continue;
		for (size_t i = 0; i < g.gl_pathc && n < max; i++) {
			char *slash = strrchr(g.gl_pathv[i], '/');

			dbs[n].browser = "Firefox";
			snprintf(dbs[n].dir, sizeof(dbs[n].dir), "%.*s",
			         (int)(slash - g.gl_pathv[i]), g.gl_pathv[i]);
			n++;
		}
		globfree(&g);
	}
	return n;
}

/* The command that does the same as root: `sudo portier ca CMD`, with -d
 * when root's state directory would be another one. */
static void sudo_hint(const struct root_info *info, const char *cmd, char *buf,
                      size_t len)
{
	const char *dir = info->dir;
	bool plain = strspn(dir, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQR"
	                         "STUVWXYZ0123456789/._-+=:,@") == strlen(dir);

	if (strcmp(dir, ROOT_STATE_DIR) == 0)
		snprintf(buf, len, "sudo portier ca %s", cmd);
	else
		snprintf(buf, len, "sudo portier ca -d %s%s%s %s",
		         plain ? "" : "'", dir, plain ? "" : "'", cmd);
}

/* An iOS configuration profile (an unsigned XML property list) that holds
 * the root as a com.apple.security.root payload. The UUIDs come from the
 * certificate, so exporting twice writes the same file. */
static int write_mobileconfig(FILE *fp, X509 *root, const char *cn,
                              const char *fingerprint)
{
	unsigned char *der = NULL, *b64;
	char profile_uuid[37], payload_uuid[37];
	int len = i2d_X509(root, &der), b64len;

	if (len <= 0) {
		errno = EINVAL;
		return -1;
	}
	b64 = malloc((size_t)(len + 2) / 3 * 4 + 1);
	if (b64 == NULL) {
		OPENSSL_free(der);
		return -1;
	}
	b64len = EVP_EncodeBlock(b64, der, len);
	OPENSSL_free(der);
	uuid_of(root, "portier profile", profile_uuid);
	uuid_of(root, "portier root payload", payload_uuid);
	fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	      "<!DOCTYPE plist PUBLIC \"-//Apple//DTD PLIST 1.0//EN\" "
	      "\"http://www.apple.com/DTDs/PropertyList-1.0.dtd\">\n"
	      "<plist version=\"1.0\">\n<dict>\n"
	      "\t<key>PayloadContent</key>\n\t<array>\n\t\t<dict>\n"
	      "\t\t\t<key>PayloadCertificateFileName</key>\n"
	      "\t\t\t<string>portier-ca.cer</string>\n"
	      "\t\t\t<key>PayloadContent</key>\n\t\t\t<data>\n",
	      fp);
	for (int i = 0; i < b64len; i += 64)
		fprintf(fp, "\t\t\t%.*s\n", b64len - i < 64 ? b64len - i : 64,
		        (const char *)b64 + i);
	free(b64);
	fputs("\t\t\t</data>\n"
	      "\t\t\t<key>PayloadDescription</key>\n"
	      "\t\t\t<string>Adds the root certificate of portier's local "
	      "CA</string>\n"
	      "\t\t\t<key>PayloadDisplayName</key>\n\t\t\t<string>",
	      fp);
	xml_escaped(fp, cn);
	fprintf(
	    fp,
	    "</string>\n"
	    "\t\t\t<key>PayloadIdentifier</key>\n"
	    "\t\t\t<string>local.portier.ca.%.16s.root</string>\n"
	    "\t\t\t<key>PayloadType</key>\n"
	    "\t\t\t<string>com.apple.security.root</string>\n"
	    "\t\t\t<key>PayloadUUID</key>\n\t\t\t<string>%s</string>\n"
	    "\t\t\t<key>PayloadVersion</key>\n\t\t\t<integer>1</integer>\n"
	    "\t\t</dict>\n\t</array>\n"
	    "\t<key>PayloadDescription</key>\n"
	    "\t<string>Lets this device trust the HTTPS certificates that "
	    "portier makes on the machine named in the certificate.</string>\n"
	    "\t<key>PayloadDisplayName</key>\n\t<string>",
	    fingerprint, payload_uuid);
	xml_escaped(fp, cn);
	fprintf(fp,
	        "</string>\n"
	        "\t<key>PayloadIdentifier</key>\n"
	        "\t<string>local.portier.ca.%.16s</string>\n"
	        "\t<key>PayloadRemovalDisallowed</key>\n\t<false/>\n"
	        "\t<key>PayloadType</key>\n\t<string>Configuration</string>\n"
	        "\t<key>PayloadUUID</key>\n\t<string>%s</string>\n"
	        "\t<key>PayloadVersion</key>\n\t<integer>1</integer>\n"
	        "</dict>\n</plist>\n",
	        fingerprint, profile_uuid);
	return ferror(fp) ? -1 : 0;
}

/* A UUID (RFC 9562 version 8) from the SHA-256 of salt and the root. */
static void uuid_of(X509 *root, const char *salt, char *buf)
{
	unsigned char md[EVP_MAX_MD_SIZE], *der = NULL;
	unsigned int mdlen = 0;
	int len = i2d_X509(root, &der);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	char *c = buf;

	memset(md, 0, sizeof(md));
	if (ctx != NULL && len > 0 &&
	    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) &&
	    EVP_DigestUpdate(ctx, salt, strlen(salt)) &&
	    EVP_DigestUpdate(ctx, der, (size_t)len))
		EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	OPENSSL_free(der);
	md[6] = (unsigned char)((md[6] & 0x0f) | 0x80);
	md[8] = (unsigned char)((md[8] & 0x3f) | 0x80);
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*c++ = '-';
		snprintf(c, 3, "%02X", md[i]);
		c += 2;
	}
}

/* Write text with &, < and > escaped. */
static void xml_escaped(FILE *fp, const char *text)
{
	for (; *text != '\0'; text++) {
		if (*text == '&')
			fputs("&amp;", fp);
		else if (*text == '<')
			fputs("&lt;", fp);
		else if (*text == '>')
			fputs("&gt;", fp);
		else
			fputc(*text, fp);
	}
}

/* Write a certificate file (PEM or DER, mode 0644) through a temporary
 * file renamed over path. Returns 0, or -1 after a message. */
static int write_cert(const char *path, X509 *cert, bool der)
{
	char tmp[PATH_MAX];
	FILE *fp;
	int fd, ok;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >=
	    sizeof(tmp)) {
		fprintf(stderr, "portier: %s: path too long\n", path);
		return -1;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "portier: %s: %s\n", path, strerror(errno));
		return -1;
	}
	fp = fdopen(fd, "w");
	if (fp == NULL) {
		close(fd);
		unlink(tmp);
		fprintf(stderr, "portier: %s: %s\n", tmp, strerror(errno));
		return -1;
	}
	ok = fchmod(fd, 0644) == 0 &&
	     ca_export(fp, cert, der ? CA_FORMAT_DER : CA_FORMAT_PEM) == 0;
	ok = fclose(fp) == 0 && ok;
	if (!ok || rename(tmp, path) < 0) {
		fprintf(stderr, "portier: %s: %s\n", path,
		        errno != 0 ? strerror(errno) : "cannot write");
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* True when two files hold the same bytes. */
static bool same_file(const char *path, const char *other)
{
	FILE *a = fopen(path, "re"), *b = fopen(other, "re");
	bool same = a != NULL && b != NULL;
	int ca, cb;

	while (same) {
		ca = getc(a);
		cb = getc(b);
		same = ca == cb;
		if (ca == EOF)
			break;
	}
	if (a != NULL)
		fclose(a);
	if (b != NULL)
		fclose(b);
	return same;
}

/* The last non-empty line of a program's output (trims out). */
static const char *last_line(char *out)
{
	size_t len = strlen(out);
	char *nl;

	while (len > 0 && (out[len - 1] == '\n' || out[len - 1] == '\r' ||
	                   out[len - 1] == ' '))
		out[--len] = '\0';
	nl = strrchr(out, '\n');
	return nl != NULL ? nl + 1 : out;
}

/* Print one result line: "✓ text" or "✗ text". */
static void done(bool ok, const char *fmt, ...)
{
	va_list ap;

	fputs(ok ? "\u2713 " : "\u2717 ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* $HOME, else the user's home from the password database. */
static const char *home_dir(void)
{
	const char *home = getenv("HOME");
	struct passwd *pw;

	if (home != NULL && home[0] == '/')
		return home;
	pw = getpwuid(geteuid());
	return pw != NULL ? pw->pw_dir : NULL;
}
