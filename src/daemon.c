/* SPDX-License-Identifier: MIT */
/*
 * The pid file and the privilege drop. Both happen once the ports are
 * bound and the files a configuration names (certificates, keys, the
 * access log) are open: ports below 1024 and root-only key files need root
 * for that moment only, then portier runs as an ordinary user. Also the
 * check, for -t, doctor, a start before its first bind and a reload, that
 * the files written before the drop (the access log, the pid file) can be
 * made where the configuration puts them.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "portier/daemon.h"
#include "portier/config.h"
#include "portier/portdiag.h"
#include "portier/log.h"

static long daemon_pidfile_owner(const char *path);
static int daemon_check_file(const char *key, const char *path, bool append,
                             bool as_root, char *err, size_t errlen);
static void daemon_add_line(char *err, size_t errlen, const char *file,
                            int line, const char *msg);
static bool daemon_same(const char *a, const char *b);

int daemon_check_files(const struct config *cfg, const struct config *running,
                       bool as_root, char *err, size_t errlen)
{
	const struct config_global *g = &cfg->global;
	const struct config_global *r = running ? &running->global : NULL;
	char why[2 * PATH_MAX + 256];
	int bad = 0;

	if (errlen > 0)
		err[0] = '\0';
	/* The access log is opened for appending (made when missing); the
	 * pidfile is written beside its path and renamed over it. */
	if (g->access_log != NULL && strcmp(g->access_log, "stderr") != 0 &&
	    !(r != NULL && daemon_same(r->access_log, g->access_log)) &&
	    daemon_check_file("access_log", g->access_log, true, as_root, why,
	                      sizeof(why)) < 0) {
		daemon_add_line(err, errlen, cfg->path, g->access_log_line,
		                why);
		bad++;
	}
	if (g->pidfile != NULL &&
	    !(r != NULL && daemon_same(r->pidfile, g->pidfile)) &&
	    daemon_check_file("pidfile", g->pidfile, false, as_root, why,
	                      sizeof(why)) < 0) {
		daemon_add_line(err, errlen, cfg->path, g->pidfile_line, why);
		bad++;
	}
	return bad;
}

bool daemon_needs_root(const char *user, const char *group)
{
	struct passwd *pw = user != NULL ? getpwnam(user) : NULL;
	struct group *gr = group != NULL ? getgrnam(group) : NULL;
	gid_t gid = gr ? gr->gr_gid : pw ? pw->pw_gid : getegid();

	/* As daemon_drop_privileges decides. */
	if (geteuid() == 0 || (user == NULL && group == NULL))
		return false;
	return (pw != NULL && pw->pw_uid != geteuid()) || gid != getegid();
}

int daemon_write_pidfile(const char *path, char *err, size_t errlen)
{
	const int flags =
	    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
	char tmp[4096], line[32];
	int fd, n, w, e;
	long other;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld", path,
	                     (long)getpid()) >= sizeof(tmp)) {
		snprintf(err, errlen, "pidfile %s: path too long", path);
		return -1;
	}
	/* Taking over the file of a portier that runs would lose it: the
	 * scripts that read the file would signal this one, and this one's
	 * stop would remove the file. */
	if ((other = daemon_pidfile_owner(path)) > 0) {
		snprintf(err, errlen,
		         "pidfile %s: portier pid %ld runs with it; stop that "
		         "one first, or give this configuration another "
		         "pidfile",
		         path, other);
		return -1;
	}
	/* A new file, never one that is there: in a directory that others
	 * may write (/tmp), a link planted at the temporary name would make
	 * root write through it. What is there (left by a portier that had
	 * this pid, or planted) is removed, not followed. */
	fd = open(tmp, flags, 0644);
	if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
		fd = open(tmp, flags, 0644);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write the pidfile %s: %s", path,
		         strerror(errno));
		return -1;
	}
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	w = (int)write(fd, line, (size_t)n);
	e = w == n ? 0 : w < 0 ? errno : ENOSPC;
	if (close(fd) != 0 && e == 0)
		e = errno;
	if (e == 0 && rename(tmp, path) < 0)
		e = errno;
	if (e != 0) {
		snprintf(err, errlen, "cannot write the pidfile %s: %s", path,
		         strerror(e));
		unlink(tmp);
		return -1;
	}
	return 0;
}

/* The pid in the file at path when it is that of another running
 * portier (a process with this one's name), else 0: a file left by a
 * crash, or whose pid now belongs to another program, is no one's. */
static long daemon_pidfile_owner(const char *path)
{
	char buf[32] = "", mine[64], theirs[64];
	long pid;
	FILE *fp = fopen(path, "re");

	if (fp == NULL)
		return 0;
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	pid = strtol(buf, NULL, 10);
	if (pid <= 0 || pid == (long)getpid() ||
	    (kill((pid_t)pid, 0) < 0 && errno != EPERM))
		return 0;
	portdiag_program("/proc", getpid(), mine, sizeof(mine));
	portdiag_program("/proc", (pid_t)pid, theirs, sizeof(theirs));
	return mine[0] != '\0' && strcmp(mine, theirs) == 0 ? pid : 0;
}

void daemon_remove_pidfile(const char *path)
{
	char buf[32] = "";
	FILE *fp;

	if (path == NULL || (fp = fopen(path, "re")) == NULL)
		return;
	if (fgets(buf, sizeof(buf), fp) == NULL)
		buf[0] = '\0';
	fclose(fp);
	/* A newer portier may have written its own pid there since. */
	if (strtol(buf, NULL, 10) == (long)getpid() && unlink(path) < 0 &&
	    errno != ENOENT)
		log_warn("cannot remove the pidfile %s: %s%s", path,
		         strerror(errno),
		         errno == EACCES && geteuid() != 0
		             ? " (portier dropped root's privileges; put the "
		               "pidfile in a directory that its user may "
		               "write, such as /run/portier owned by it)"
		             : "");
}

int daemon_drop_privileges(const char *user, const char *group, char *err,
                           size_t errlen)
{
	struct passwd *pw = NULL;
	struct group *gr = NULL;
	gid_t gid;

	if (user == NULL && group == NULL)
		return 0;
	if (user != NULL && (pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user %s: no such user", user);
		return -1;
	}
	if (group != NULL && (gr = getgrnam(group)) == NULL) {
		snprintf(err, errlen, "group %s: no such group", group);
		return -1;
	}
	gid = gr ? gr->gr_gid : pw ? pw->pw_gid : getegid();
	if (geteuid() != 0) {
		if ((pw == NULL || pw->pw_uid == geteuid()) &&
		    gid == getegid())
			return 0;
		snprintf(err, errlen,
		         "only root can become user %s: start portier as root, "
		         "or remove user and group from [global]",
		         user ? user : group);
		return -1;
	}
	/* Groups first: after setuid there is no right left to change
	 * them. */
	if ((pw != NULL ? initgroups(pw->pw_name, gid)
	                : setgroups(1, &gid)) < 0 ||
	    setgid(gid) < 0 || (pw != NULL && setuid(pw->pw_uid) < 0)) {
		snprintf(err, errlen, "cannot become %s%s%s: %s",
		         user ? user : "", user && group ? ":" : "",
		         group ? group : "", strerror(errno));
		return -1;
	}
	/* Make sure root cannot be had back. */
	if (pw != NULL && pw->pw_uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "dropping root's privileges did not "
		         "hold");
		return -1;
	}
	log_info("running as %s%s%s", user ? user : "",
	         user && group ? ":" : "", group ? group : "");
	return 0;
}

/*
 * The file at path as a start meets it (`key` names it in messages): with
 * `append`, opened for appending, made when missing; else made anew beside
 * it and renamed over it, which needs its directory. Returns 0, or -1 with
 * "KEY PATH: why" in err.
 */
static int daemon_check_file(const char *key, const char *path, bool append,
                             bool as_root, char *err, size_t errlen)
{
	char dir[PATH_MAX], who[64];
	const char *slash = strrchr(path, '/');
	struct passwd *pw = getpwuid(geteuid());
	struct stat st;
	int r;

	if (pw != NULL)
		snprintf(who, sizeof(who), "user %s", pw->pw_name);
	else
		snprintf(who, sizeof(who), "uid %ld", (long)geteuid());
	r = append ? stat(path, &st) : lstat(path, &st);
	if (r == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s %s is a directory", key, path);
		return -1;
	}
	if (r == 0 && append) {
		if (as_root || faccessat(AT_FDCWD, path, W_OK, AT_EACCESS) == 0)
			return 0;
		snprintf(err, errlen, "%s %s: cannot write it as %s: %s", key,
		         path, who, strerror(errno));
		return -1;
	}
	/* Missing (or in the way of a pidfile's rename): its directory
	 * decides. */
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else if ((size_t)(slash - path) < sizeof(dir))
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	else {
		snprintf(err, errlen, "%s %s: the path is too long", key, path);
		return -1;
	}
	if (stat(dir, &st) < 0) {
		/* What root could see is unknown here. */
		if (errno == EACCES && as_root)
			return 0;
		if (errno == ENOENT)
			snprintf(err, errlen,
			         "%s %s: the directory %s does not exist", key,
			         path, dir);
		else
			snprintf(err, errlen,
			         "%s %s: cannot use the directory %s: %s", key,
			         path, dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s %s: %s is not a directory", key, path,
		         dir);
		return -1;
	}
	if (as_root || faccessat(AT_FDCWD, dir, W_OK | X_OK, AT_EACCESS) == 0)
		return 0;
	snprintf(err, errlen, "%s %s: cannot make files in %s as %s: %s", key,
	         path, dir, who, strerror(errno));
	return -1;
}

/* Append "FILE:LINE: msg\n" to err, as far as it fits. */
static void daemon_add_line(char *err, size_t errlen, const char *file,
                            int line, const char *msg)
{
	size_t used = strnlen(err, errlen);

	if (used + 1 < errlen)
		snprintf(err + used, errlen - used, "%s:%d: %s\n", file, line,
		         msg);
}

/* Two optional strings are equal. */
static bool daemon_same(const char *a, const char *b)
{
	return a != NULL && b != NULL && strcmp(a, b) == 0;
}
