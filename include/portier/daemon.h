/* SPDX-License-Identifier: MIT */
/*
 * What a long-running daemon does for the system around it: the pid file,
 * and dropping root's privileges once the ports are bound; and the check
 * that the files it writes before the drop can be made.
 */
#ifndef PORTIER_DAEMON_H
#define PORTIER_DAEMON_H

#include <stdbool.h>
#include <stddef.h>

struct config;

/*
 * Can a start make the files of cfg that it writes before it drops root's
 * privileges, the access log and the pidfile: is each one's directory
 * there, a directory, and open to this process for making files (the
 * access log: or the file there, and writable), and is what is at the
 * path no directory? With `as_root`, the start that opens them runs as
 * root where this process does not (a reload after the drop, -t of a file
 * whose user only root can become): what depends on rights is left out.
 * A key whose value is the same in `running` (a reload's configuration in
 * force; NULL for none) is not checked: a reload leaves it to the next
 * start, and its file is in use. Returns the number of problems, each
 * written into err as "FILE:LINE: message\n".
 */
int daemon_check_files(const struct config *cfg, const struct config *running,
                       bool as_root, char *err, size_t errlen);

/* True when only root can start a configuration with this user and group
 * (either may be NULL), and this process is not root: they name another
 * user or group than its own. */
bool daemon_needs_root(const char *user, const char *group);

/* Write this process's pid to path (atomically: a reader never sees a
 * half-written file). Returns 0, or -1 with why in err. */
int daemon_write_pidfile(const char *path, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Remove the pid file if it still names this process. Accepts NULL. */
void daemon_remove_pidfile(const char *path);

/*
 * Become `user` (and `group`, else the user's own group; either may be
 * NULL, user NULL meaning "stay"), with no supplementary groups but the
 * user's. Only root can; as another user a request to become that same
 * user is a no-op, and any other is an error. Both NULL: nothing to do
 * (the caller says whether staying root deserves a word).
 * Returns 0, or -1 with why in err.
 */
int daemon_drop_privileges(const char *user, const char *group, char *err,
                           size_t errlen) __attribute__((warn_unused_result));

#endif
