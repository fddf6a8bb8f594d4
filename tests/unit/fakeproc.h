/* SPDX-License-Identifier: MIT */
/*
 * Test support for the unit tests of portdiag.c and ports.c: a fake /proc
 * to read instead of the machine's own. fakeproc_setup copies
 * tests/fixtures/proc into a temporary directory and makes there the
 * symbolic links that tests/fixtures/proc.links lists (fd/N ->
 * socket:[INODE], self, exe), which a release tarball cannot carry;
 * fakeproc_tree_setup builds a small tree with a holder that only root may
 * see; fakeproc_as_nobody runs a function as user nobody to check what an
 * unprivileged user sees. Uses cmocka's assertions.
 */
#ifndef PORTIER_TEST_FAKEPROC_H
#define PORTIER_TEST_FAKEPROC_H

#include <stdbool.h>
#include <stdio.h>

/* A uid that has no name on a test machine: shown as the number. */
#define FAKEPROC_NONAME_UID 4242

/* True when the fixtures, spelt as a little-endian kernel prints
 * addresses, match this machine. */
bool fakeproc_little_endian(void);

/* cmocka group setup: copy FIXTURES/proc to a temporary directory and
 * create its links. */
int fakeproc_setup(void **state);

/* cmocka group teardown: remove the tree fakeproc_setup made. */
int fakeproc_teardown(void **state);

/* The root of the fake /proc made by fakeproc_setup. */
const char *fakeproc_root(void);

/* Write `text` to root/rel, creating the directories on the way. */
void fakeproc_put_file(const char *root, const char *rel, const char *text);

/* cmocka setup: build a tree where pid 700 (uid 4242) holds
 * 127.0.0.1:3306 behind an fd directory only root may read, and pid 100
 * holds 127.0.0.1:8080 in the open; *state is its root. */
int fakeproc_tree_setup(void **state);

/* cmocka teardown: remove the tree fakeproc_tree_setup built. */
int fakeproc_tree_teardown(void **state);

/* Run fn as user nobody in a child and return what it wrote (malloc'd),
 * its exit status in *status; NULL when not root and unable to drop. */
char *fakeproc_as_nobody(int (*fn)(const char *root, FILE *out),
                         const char *root, int *status);

#endif
