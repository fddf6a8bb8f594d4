/* SPDX-License-Identifier: MIT */
/*
 * What a long-running daemon does for the system around it: the pid file,
 * and dropping root's privileges once the ports are bound.
 */
#ifndef PORTIER_DAEMON_H
#define PORTIER_DAEMON_H

#include <stddef.h>

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
