/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for metrics.c: one block per name and worker, aligned on a
 * cache line; sums over the workers; requests by status class and the
 * duration histogram's bucket bounds; a backend's up or down state; the
 * order in which names are listed; live connection snapshots; and counts
 * written by worker threads while another thread reads them.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "portier/metrics.h"

#define WORKERS 3

/* Each listener name seen by metrics_listener_each, in order. */
struct seen {
	char names[8][32];
	int n;
};

/* Collect listener names. */
static void seen_cb(const char *name, const struct metrics_listener_sum *s,
                    void *arg)
{
	struct seen *seen = arg;

	if (seen->n < 8)
		snprintf(seen->names[seen->n++], sizeof(seen->names[0]), "%s",
		         name);
}

/* One registry for the whole run, as in the daemon. */
static int setup(void **state)
{
	(void)state;
	return metrics_init(WORKERS);
}

/* A block per name and worker: found again, never shared. */
static void test_blocks(void **state)
{
	struct metrics_listener *a0 = metrics_listener_get("web", 0);
	struct metrics_listener *a1 = metrics_listener_get("web", 1);
	struct metrics_listener_sum sum;

	(void)state;
	assert_non_null(a0);
	assert_non_null(a1);
	assert_ptr_not_equal(a0, a1);
	assert_ptr_equal(metrics_listener_get("web", 0), a0);
	assert_int_equal((uintptr_t)a0 % 64, 0);
	assert_int_equal((uintptr_t)a1 % 64, 0);
	assert_null(metrics_listener_get("web", WORKERS));
	metrics_add(&a0->accepted, 3);
	metrics_add(&a1->accepted, 4);
	metrics_add(&a1->closed, 2);
	assert_true(metrics_listener_read("web", &sum));
	assert_int_equal(sum.accepted, 7);
	assert_int_equal(sum.closed, 2);
	assert_false(metrics_listener_read("nothing", &sum));
	assert_int_equal(sum.accepted, 0);
	/* A vhost block is per listener and vhost pair. */
	assert_ptr_not_equal(metrics_vhost_get("web", "a.test", 0),
	                     metrics_vhost_get("api", "a.test", 0));
	assert_ptr_equal(metrics_vhost_get("web", "a.test", 0),
	                 metrics_vhost_get("web", "a.test", 0));
}

/* Status classes, bytes, and the bucket each duration falls in. */
static void test_requests(void **state)
{
	struct metrics_listener *l = metrics_listener_get("http", 2);
	struct metrics_vhost *v = metrics_vhost_get("http", "app.test", 2);
	struct metrics_listener_sum ls;
	struct metrics_vhost_sum vs;

	(void)state;
	metrics_request(l, v, 200, 10, 100, 1000);     /* le 0.001 */
	metrics_request(l, v, 204, 10, 100, 1001);     /* le 0.005 */
	metrics_request(l, v, 404, 10, 100, 10000);    /* le 0.01 */
	metrics_request(l, v, 503, 10, 100, 60000000); /* +Inf */
	metrics_request(l, v, 101, 10, 100, 99000000); /* no duration */
	metrics_request(l, v, 0, 5, 0, 1);             /* no answer */
	assert_true(metrics_vhost_read("http", "app.test", &vs));
	assert_int_equal(vs.requests[0], 1);
	assert_int_equal(vs.requests[1], 2);
	assert_int_equal(vs.requests[2], 0);
	assert_int_equal(vs.requests[3], 1);
	assert_int_equal(vs.requests[4], 1);
	assert_int_equal(vs.bytes_in, 55);
	assert_int_equal(vs.bytes_out, 500);
	assert_true(metrics_listener_read("http", &ls));
	assert_int_equal(ls.bytes_in, 55);
	assert_int_equal(ls.duration[0], 1);
	assert_int_equal(ls.duration[1], 1);
	assert_int_equal(ls.duration[2], 1);
	assert_int_equal(ls.duration[METRICS_BUCKETS - 1], 1);
	assert_int_equal(ls.duration_sum_us, 1000 + 1001 + 10000 + 60000000);
}

/* Unknown until tried; up and down as the last connect went. */
static void test_backend(void **state)
{
	struct metrics_backend *b0 = metrics_backend_get("127.0.0.1:3000", 0);
	struct metrics_backend *b1 = metrics_backend_get("127.0.0.1:3000", 1);
	struct metrics_backend_sum s;

	(void)state;
	assert_ptr_equal(b0->state, b1->state);
	assert_true(metrics_backend_read("127.0.0.1:3000", &s));
	assert_int_equal(s.up, METRICS_UNKNOWN);
	metrics_backend_result(b0, 0);
	metrics_backend_result(b1, 0);
	assert_true(metrics_backend_read("127.0.0.1:3000", &s));
	assert_int_equal(s.up, METRICS_UP);
	assert_int_equal(s.connects, 2);
	assert_true(s.since > 0);
	assert_int_equal(s.failed_at, 0);
	metrics_backend_result(b1, ECONNREFUSED);
	assert_true(metrics_backend_read("127.0.0.1:3000", &s));
	assert_int_equal(s.up, METRICS_DOWN);
	assert_int_equal(s.failures, 1);
	assert_int_equal(s.last_error, ECONNREFUSED);
	assert_true(s.failed_at > 0);
	metrics_backend_result(b0, 0);
	assert_true(metrics_backend_read("127.0.0.1:3000", &s));
	assert_int_equal(s.up, METRICS_UP);
	assert_int_equal(s.last_error, ECONNREFUSED);
}

/* Names are listed in the order first seen. */
static void test_order(void **state)
{
	struct seen seen = {0};

	(void)state;
	metrics_listener_get("zeta", 0);
	metrics_listener_get("alpha", 1);
	metrics_listener_each(seen_cb, &seen);
	assert_true(seen.n >= 4);
	assert_string_equal(seen.names[0], "web");
	assert_string_equal(seen.names[seen.n - 2], "zeta");
	assert_string_equal(seen.names[seen.n - 1], "alpha");
}

/* A describe function that reports `describe_n` connections. */
static size_t describe_n;

static size_t describe(struct metrics_conn *out, size_t max, size_t *total)
{
	size_t n = describe_n < max ? describe_n : max;

	for (size_t i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		snprintf(out[i].client, sizeof(out[i].client), "127.0.0.1:%zu",
		         1000 + i);
		out[i].state = "relaying";
	}
	*total = describe_n;
	return n;
}

/* What metrics_live_read reports: connections listed, and totals. */
struct live {
	size_t listed, total, fresh;
};

static void live_cb(const struct metrics_conn *c, size_t n, size_t total,
                    bool fresh, void *arg)
{
	struct live *l = arg;

	l->listed += n;
	l->total += total;
	l->fresh += fresh;
}

/* Snapshots answer the requests made before them, bounded in size. */
static void test_live(void **state)
{
	uint64_t seq = metrics_live_ask();
	struct live l = {0};

	(void)state;
	assert_false(metrics_live_ready(seq));
	describe_n = 2;
	metrics_live_take(0, describe);
	metrics_live_take(1, describe);
	assert_false(metrics_live_ready(seq));
	describe_n = METRICS_LIVE_MAX + 5;
	metrics_live_take(2, describe);
	assert_true(metrics_live_ready(seq));
	metrics_live_read(seq, live_cb, &l);
	assert_int_equal(l.listed, 2 + 2 + METRICS_LIVE_MAX);
	assert_int_equal(l.total, 2 + 2 + METRICS_LIVE_MAX + 5);
	assert_int_equal(l.fresh, WORKERS);
	seq = metrics_live_ask();
	metrics_live_take(0, describe);
	memset(&l, 0, sizeof(l));
	metrics_live_read(seq, live_cb, &l);
	assert_int_equal(l.fresh, 1);
}

/* Writers in worker threads, a reader meanwhile: nothing lost. */
#define ROUNDS 200000

static void *writer(void *arg)
{
	struct metrics_listener *l = arg;

	for (int i = 0; i < ROUNDS; i++)
		metrics_add(&l->bytes_out, 2);
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[2];
	struct metrics_listener_sum sum;
	uint64_t last = 0;

	(void)state;
	for (int i = 0; i < 2; i++)
		assert_int_equal(
		    pthread_create(&t[i], NULL, writer,
		                   metrics_listener_get("busy", i)),
		    0);
	for (int i = 0; i < 1000; i++) {
		assert_true(metrics_listener_read("busy", &sum) ||
		            sum.bytes_out == 0);
		assert_true(sum.bytes_out >= last);
		last = sum.bytes_out;
	}
	for (int i = 0; i < 2; i++)
		pthread_join(t[i], NULL);
	assert_true(metrics_listener_read("busy", &sum));
	assert_int_equal(sum.bytes_out, 2 * 2 * ROUNDS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_blocks),  cmocka_unit_test(test_requests),
	    cmocka_unit_test(test_backend), cmocka_unit_test(test_order),
	    cmocka_unit_test(test_live),    cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
