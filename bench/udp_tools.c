/* SPDX-License-Identifier: MIT */
/*
 * Load generator and backends for bench/udp.sh, built by the script.
 *
 *   udp_tools echo PORT
 *       UDP echo server on 127.0.0.1:PORT: every datagram goes back to its
 *       sender (recvmmsg/sendmmsg, one thread), so that the backend is
 *       never what limits a proxy.
 *   udp_tools ping PORT
 *       send a datagram to 127.0.0.1:PORT until one comes back (up to 5 s);
 *       exit 0 when it did: "something answers there".
 *   udp_tools rr PORT CLIENTS SECONDS SIZE
 *       request/response: CLIENTS sockets each keep one SIZE-byte request
 *       in flight to 127.0.0.1:PORT and send the next as soon as the answer
 *       is back; a request unanswered for 200 ms counts as lost and is sent
 *       again. Prints "replies=N lost=N seconds=S rate=N".
 *   udp_tools bulk PORT SINKPORT SECONDS SIZE
 *       a sender thread blasts SIZE-byte datagrams at 127.0.0.1:PORT for
 *       SECONDS while the main thread counts the bytes that arrive at a
 *       sink on 127.0.0.1:SINKPORT, until 500 ms pass without any. Prints
 *       "sent=N received=N datagrams=N seconds=S rate=N mib=N loss=PCT":
 *       received is bytes / SIZE (a proxy may merge datagrams; datagrams
 *       is how many arrived), the rate is over the time from the first
 *       datagram sent to the last one received.
 *
 * Everything is loopback and ends by itself.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH      64
#define SLOT       65536
#define RR_TIMEOUT 0.2 /* seconds before a request counts as lost */

/* Seconds of the monotonic clock. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Exit with a message about the failed call. */
static void die(const char *what)
{
	fprintf(stderr, "udp_tools: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* 127.0.0.1:port. */
static struct sockaddr_in loopback(int port)
{
	struct sockaddr_in sin;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sin.sin_port = htons((uint16_t)port);
	return sin;
}

/* A UDP socket with large buffers, bound to 127.0.0.1:port (0: any). */
static int udp_socket(int port)
{
	struct sockaddr_in sin = loopback(port);
	int size = 4 << 20;
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		die("socket");
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("bind");
	return fd;
}

/* Connect fd to 127.0.0.1:port. */
static void udp_connect(int fd, int port)
{
	struct sockaddr_in sin = loopback(port);

	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		die("connect");
}

/* The echo server; never returns. Empty datagrams get no answer: rinetd
 * sends one to the backend when it opens a UDP flow and takes an empty
 * datagram from the backend as the end of the flow. */
static void run_echo(int port)
{
	static struct mmsghdr in[BATCH], out[BATCH];
	static struct iovec iov[BATCH];
	static struct sockaddr_in from[BATCH];
	static char bufs[BATCH][SLOT];
	int fd = udp_socket(port);

	for (;;) {
		int n, k = 0;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = SLOT;
			memset(&in[i].msg_hdr, 0, sizeof(in[i].msg_hdr));
			in[i].msg_hdr.msg_iov = &iov[i];
			in[i].msg_hdr.msg_iovlen = 1;
			in[i].msg_hdr.msg_name = &from[i];
			in[i].msg_hdr.msg_namelen = sizeof(from[i]);
		}
		n = recvmmsg(fd, in, BATCH, MSG_WAITFORONE, NULL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("recvmmsg");
		}
		for (int i = 0; i < n; i++) {
			if (in[i].msg_len == 0)
				continue;
			iov[i].iov_len = in[i].msg_len;
			out[k++] = in[i];
		}
		for (int done = 0; done < k;) {
			int r =
			    sendmmsg(fd, out + done, (unsigned)(k - done), 0);

			if (r < 0)
				break; /* a gone client: drop the rest */
			done += r;
		}
	}
}

/* Send datagrams to 127.0.0.1:port until one comes back. */
static int run_ping(int port)
{
	struct timeval tv = {0, 100 * 1000};
	char buf[16];
	int fd = udp_socket(0);

	udp_connect(fd, port);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	for (int i = 0; i < 50; i++) {
		if (send(fd, "ping", 4, 0) < 0 && errno != ECONNREFUSED)
			die("send");
		if (recv(fd, buf, sizeof(buf), 0) == 4)
			return 0;
	}
	fprintf(stderr, "udp_tools: no answer from 127.0.0.1:%d\n", port);
	return 1;
}

/* One request/response client. */
struct rr_client {
	int fd;
	uint64_t seq;   /* of the request in flight */
	double sent_at; /* when it was sent */
};

/* Send c's request number c->seq. */
static void rr_send(struct rr_client *c, char *buf, size_t size)
{
	memcpy(buf, &c->seq, sizeof(c->seq));
	c->sent_at = now();
	if (send(c->fd, buf, size, 0) < 0 && errno != ECONNREFUSED &&
	    errno != EAGAIN)
		die("send");
}

/* The request/response load; prints the figures. */
static int run_rr(int port, int nclients, double seconds, size_t size)
{
	struct rr_client *clients = calloc((size_t)nclients, sizeof(*clients));
	struct epoll_event evs[64];
	char *buf = calloc(1, size < 8 ? 8 : size);
	char in[SLOT];
	unsigned long long replies = 0, lost = 0;
	double start, end, last_scan;
	int ep = epoll_create1(0);

	if (clients == NULL || buf == NULL || ep < 0)
		die("setup");
	if (size < 8)
		size = 8;
	for (int i = 0; i < nclients; i++) {
		struct epoll_event ev = {.events = EPOLLIN,
		                         .data.u32 = (uint32_t)i};

		clients[i].fd = udp_socket(0);
		udp_connect(clients[i].fd, port);
		if (epoll_ctl(ep, EPOLL_CTL_ADD, clients[i].fd, &ev) < 0)
			die("epoll_ctl");
	}
	start = last_scan = now();
	end = start + seconds;
	for (int i = 0; i < nclients; i++)
		rr_send(&clients[i], buf, size);
	for (;;) {
		double t;
		int n = epoll_wait(ep, evs, 64, 20);

		if (n < 0 && errno != EINTR)
			die("epoll_wait");
		for (int k = 0; k < n; k++) {
			struct rr_client *c = &clients[evs[k].data.u32];
			ssize_t r;
			uint64_t seq;

			while ((r = recv(c->fd, in, sizeof(in),
			                 MSG_DONTWAIT)) >= 8) {
				memcpy(&seq, in, sizeof(seq));
				if (seq != c->seq)
					continue; /* late answer to a lost one
					           */
				replies++;
				c->seq++;
				rr_send(c, buf, size);
			}
		}
		t = now();
		if (t >= end)
			break;
		if (t - last_scan >= RR_TIMEOUT / 2) {
			last_scan = t;
			for (int i = 0; i < nclients; i++) {
				if (t - clients[i].sent_at < RR_TIMEOUT)
					continue;
				lost++;
				clients[i].seq++;
				rr_send(&clients[i], buf, size);
			}
		}
	}
	printf("replies=%llu lost=%llu seconds=%.3f rate=%.0f\n", replies, lost,
	       now() - start, (double)replies / (now() - start));
	return 0;
}

/* What the bulk sender thread is told and tells. */
struct bulk {
	int port;
	size_t size;
	double seconds;
	double started;
	unsigned long long sent;
};

/* The bulk sender: sendmmsg batches as fast as the kernel takes them. */
static void *bulk_send(void *arg)
{
	struct bulk *b = arg;
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov;
	char *buf = calloc(1, b->size ? b->size : 1);
	int fd = udp_socket(0);
	double end;

	if (buf == NULL)
		die("calloc");
	udp_connect(fd, b->port);
	iov.iov_base = buf;
	iov.iov_len = b->size;
	for (int i = 0; i < BATCH; i++) {
		msgs[i].msg_hdr.msg_iov = &iov;
		msgs[i].msg_hdr.msg_iovlen = 1;
	}
	end = b->started + b->seconds;
	while (now() < end) {
		int r = sendmmsg(fd, msgs, BATCH, 0);

		if (r > 0)
			b->sent += (unsigned)r;
		else if (errno != EAGAIN && errno != ENOBUFS &&
		         errno != ECONNREFUSED && errno != EINTR)
			die("sendmmsg");
	}
	close(fd);
	free(buf);
	return NULL;
}

/* The bulk load; prints the figures. */
static int run_bulk(int port, int sink_port, double seconds, size_t size)
{
	static struct mmsghdr msgs[BATCH];
	static struct iovec iov[BATCH];
	static char bufs[BATCH][SLOT];
	struct timeval tv = {0, 500 * 1000};
	struct bulk b = {port, size, seconds, 0, 0};
	unsigned long long received = 0, bytes = 0;
	double last = 0, span, delivered;
	pthread_t sender;
	int fd = udp_socket(sink_port);

	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	b.started = now();
	if (pthread_create(&sender, NULL, bulk_send, &b) != 0)
		die("pthread_create");
	for (;;) {
		int n;

		for (int i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = sizeof(bufs[i]);
			memset(&msgs[i].msg_hdr, 0, sizeof(msgs[i].msg_hdr));
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n > 0) {
			received += (unsigned)n;
			for (int i = 0; i < n; i++)
				bytes += msgs[i].msg_len;
			last = now();
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			die("recvmmsg");
		/* 500 ms of silence: done once the sender is. */
		if (now() > b.started + seconds)
			break;
	}
	pthread_join(sender, NULL);
	span = last > b.started ? last - b.started : seconds;
	/* Counted in bytes: a proxy that merges datagrams (rinetd) delivers
	 * fewer, longer ones. */
	delivered = (double)bytes / (double)(size ? size : 1);
	printf("sent=%llu received=%llu datagrams=%llu seconds=%.3f "
	       "rate=%.0f mib=%.1f loss=%.2f\n",
	       b.sent, (unsigned long long)delivered, received, span,
	       delivered / span, (double)bytes / span / 1048576.0,
	       b.sent && delivered < (double)b.sent
	           ? 100.0 * ((double)b.sent - delivered) / (double)b.sent
	           : 0.0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "echo") == 0)
		run_echo(atoi(argv[2]));
	if (argc == 3 && strcmp(argv[1], "ping") == 0)
		return run_ping(atoi(argv[2]));
	if (argc == 6 && strcmp(argv[1], "rr") == 0)
		return run_rr(atoi(argv[2]), atoi(argv[3]), atof(argv[4]),
		              (size_t)atoi(argv[5]));
	if (argc == 6 && strcmp(argv[1], "bulk") == 0 && atoi(argv[5]) > 0)
		return run_bulk(atoi(argv[2]), atoi(argv[3]), atof(argv[4]),
		                (size_t)atoi(argv[5]));
	fprintf(stderr, "usage: udp_tools echo PORT | ping PORT |\n"
	                "       rr PORT CLIENTS SECONDS SIZE |\n"
	                "       bulk PORT SINKPORT SECONDS SIZE\n");
	return 2;
}
