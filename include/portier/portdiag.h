/* SPDX-License-Identifier: MIT */
/*
 * Port diagnostics: which process holds a port.
 *
 * Reads /proc/net/{tcp,tcp6,udp,udp6} for listening sockets and their inode,
 * then /proc/PID/fd/ for the process that holds the inode, and the
 * kernel's socket diagnostics for IPV6_V6ONLY. Used to explain a
 * failed bind ("address already in use" names the holder) and by
 * `portier ports` (ports.h). Every function takes the /proc root so that
 * tests can point it at a fixture tree.
 */
#ifndef PORTIER_PORTDIAG_H
#define PORTIER_PORTDIAG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

struct addr;

/* One listening TCP socket or bound UDP socket on the machine. */
struct portdiag_socket {
	int proto;  /* IPPROTO_TCP or IPPROTO_UDP */
	int family; /* AF_INET or AF_INET6 */
	struct sockaddr_storage addr;
	socklen_t addrlen;
	unsigned long inode; /* 0 when the kernel hides it */
	uid_t uid;	     /* owner of the socket, from /proc/net */
	pid_t pid;	     /* holder; 0 when not found (not visible) */
	char program[64];    /* holder's comm, "" when unknown */
	char user[32];	     /* name of uid, or the number */
	bool v6only;	     /* an IPv6 socket with IPV6_V6ONLY set ... */
	bool v6only_known;   /* ... as the kernel said (/proc/net does not) */
};

/*
 * Parse the text of one /proc/net/{tcp,tcp6,udp,udp6} file and append its
 * listening TCP sockets (state 0A) or bound, unconnected UDP sockets (state
 * 07) to *list (realloc'd, *n updated). Holders are not filled in.
 * Returns the number appended, or -1 on malformed text.
 */
int portdiag_parse_net(const char *text, int family, int proto,
		       struct portdiag_socket **list, size_t *n)
	__attribute__((warn_unused_result));

/* The name (comm) of process pid under procroot ("/proc"), with bytes a
 * terminal would interpret replaced; "" when it cannot be read. */
void portdiag_program(const char *procroot, pid_t pid, char *program,
                      size_t len);

/* Find the process holding socket `inode` under procroot ("/proc"). On
 * success fills pid and program and returns 0; -1 when no visible process
 * holds it. */
int portdiag_find_holder(const char *procroot, unsigned long inode, pid_t *pid,
			 char *program, size_t proglen);

/* Fill pid, program and user of each socket in the list (one pass over
 * procroot/PID/fd, however many sockets). */
void portdiag_fill_holders(const char *procroot, struct portdiag_socket *list,
			   size_t n);

/* Every listening socket of the machine with its holder, sorted by port
 * then protocol and address. The caller frees *list. Returns 0 or -1. */
int portdiag_list(const char *procroot, struct portdiag_socket **list,
		  size_t *n) __attribute__((warn_unused_result));

/* The listening sockets of `proto` on `port` only, with their holders
 * (whose search is skipped when there are none). The caller frees *list.
 * Returns 0 or -1. */
int portdiag_list_port(const char *procroot, int proto, uint16_t port,
		       struct portdiag_socket **list, size_t *n)
	__attribute__((warn_unused_result));

/* The socket as a struct addr for addr_overlaps (v4-mapped made IPv4). */
void portdiag_socket_addr(const struct portdiag_socket *s, struct addr *out);

/* True when s is an IPv6 wildcard socket ([::]) that takes IPv4 too: one
 * without IPV6_V6ONLY, or whose flag could not be read (Linux's default is
 * dual-stack). */
bool portdiag_takes_ipv4(const struct portdiag_socket *s);

/* Does portier process pid run the configuration file at path? Reads its
 * command line (-c FILE, relative to its working directory; without -c,
 * ./portier.ini there). Returns 1 yes, 0 no (other says what it runs:
 * "running /etc/portier/other.ini"), -1 when it cannot be told. */
int portdiag_same_config(const char *procroot, pid_t pid, const char *path,
			 char *other, size_t len);

/* Who holds s, for messages: "pid 1234 (python3, user alice)" or its user. */
void portdiag_describe_holder(const struct portdiag_socket *s, char *buf,
			      size_t len);

/*
 * Explain why binding `sa` for `proto` failed with errno `err`, in words a
 * user can act on, into buf (no trailing newline). EADDRINUSE names the
 * holder (pid, program, user) or says it cannot be seen without root;
 * EACCES on a port below 1024 lists the ways out; anything else gives
 * strerror. Returns buf.
 */
char *portdiag_explain_bind(const char *procroot, int err,
			    const struct sockaddr *sa, socklen_t salen,
			    int proto, char *buf, size_t len);

/*
 * After binding sa (for proto) with SO_REUSEPORT: true when a socket of
 * another process is in its way all the same. SO_REUSEPORT lets any
 * process of the same user join the address, and the kernel would then
 * split the connections or datagrams between them. buf says who, as
 * portdiag_explain_bind does for EADDRINUSE. False when every socket in
 * the way is this process's own (its other workers, the listeners a
 * reload replaces).
 */
bool portdiag_shared_with_other(const char *procroot,
				const struct sockaddr *sa, socklen_t salen,
				int proto, char *buf, size_t len);

#endif
