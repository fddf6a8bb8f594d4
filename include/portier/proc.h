/* SPDX-License-Identifier: MIT */
/*
 * Running another program and capturing what it prints, for the commands
 * that ask the system something (`portier ca` runs update-ca-certificates
 * and certutil, `portier doctor` reads the firewall with nft and
 * iptables-save). Programs run with fork and exec, never through a shell,
 * with standard input from /dev/null.
 */
#ifndef PORTIER_PROC_H
#define PORTIER_PROC_H

#include <stdbool.h>
#include <stddef.h>

/* Look for an executable called name in $PATH, then in the sbin
 * directories that a user's PATH often lacks; its path goes into buf.
 * Returns false (buf empty) when there is none. */
bool proc_find_program(const char *name, char *buf, size_t len);

/*
 * Run argv[0] (a path) and keep the end of what it writes to stdout and
 * stderr in out (NUL-terminated; the end says what went wrong). Returns its
 * exit status, or -1 when it could not run or was killed (out then says
 * why when it can).
 */
int proc_run(char *const argv[], char *out, size_t outlen);

/*
 * Run argv[0] (a path) and return in *out what it writes to stdout, up to
 * max bytes (the rest is read and dropped), as a NUL-terminated string the
 * caller frees; stderr goes to /dev/null. Returns the exit status, or -1
 * when it could not run, was killed or memory ran out (*out is then NULL).
 */
int proc_capture(char *const argv[], size_t max, char **out)
    __attribute__((warn_unused_result));

#endif
