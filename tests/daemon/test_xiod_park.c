/* SPDX-License-Identifier: MIT */
/*
 * Parking (reliability anchor E5): while one tenant keeps the poller busy,
 * idle tenants are parked -- NEED_WAKEUP is set on their rings although the
 * poller never sleeps, and they are no longer scanned -- and each is served
 * again as soon as it submits (its doorbell unparks it).  No request of a
 * parked tenant is lost.
 */
#include "dtest.h"

#include <pthread.h>

#define NIDLE 50

struct busy {
	struct xio_qp *qp;
	int stop;
	uint64_t n;
};

static void *busy_main(void *arg)
{
	struct busy *b = arg;

	while (!__atomic_load_n(&b->stop, __ATOMIC_RELAXED)) {
		nop_roundtrip(b->qp, b->n);
		__atomic_store_n(&b->n, b->n + 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void wait_parked(struct xio_qp *qp)
{
	uint64_t deadline = dt_now_ms() + 10000;

	while (!xio_qp_needs_kick(qp)) {
		CHECK(dt_now_ms() < deadline);
		usleep(200);
	}
}

/*
 * Park/unpark races: tenants submitting after random pauses around the park
 * time, each in its own thread, while another keeps the poller busy; a
 * lost wake-up would leave a NOP unanswered and fail its 10 s wait.
 */
struct sporadic {
	struct xio_qp *qp;
	unsigned int seed;
	int n;
};

static void *sporadic_main(void *arg)
{
	struct sporadic *s = arg;

	for (int i = 0; i < s->n; i++) {
		usleep((useconds_t)(rand_r(&s->seed) % 1500));
		nop_roundtrip(s->qp, (uint64_t)i);
	}
	return NULL;
}

static void stress(const char *sock, struct xio_tenant *active)
{
	struct sporadic sp[6];
	struct xio_tenant *t[6];
	struct busy b = {0};
	pthread_t th[6], bt;
	char name[32];
	int i;

	b.qp = xio_tenant_qp(active, 0);
	CHECK_EQ(pthread_create(&bt, NULL, busy_main, &b), 0);
	for (i = 0; i < 6; i++) {
		snprintf(name, sizeof(name), "sporadic-%d", i);
		t[i] = attach(sock, name, 8, 1);
		sp[i].qp = xio_tenant_qp(t[i], 0);
		sp[i].seed = (unsigned int)i + 1;
		sp[i].n = SCALE(300);
		CHECK_EQ(pthread_create(&th[i], NULL, sporadic_main, &sp[i]),
			 0);
	}
	for (i = 0; i < 6; i++) {
		struct xio_tenant_info ti;

		pthread_join(th[i], NULL);
		info(t[i], &ti);
		CHECK_EQ(ti.completed, SCALE(300));
		CHECK_EQ(xio_client_detach(t[i]), 0);
	}
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELAXED);
	pthread_join(bt, NULL);
}

int main(void)
{
	struct xio_tenant *idle[NIDLE], *active;
	struct xio_tenant_info ti;
	struct busy b = {0};
	pthread_t th;
	char name[32];
	struct xiod d;
	int i, round;

	/* The poller never sleeps: only parking can set NEED_WAKEUP. */
	xiod_start(&d, "--idle-us", "60000000", "--park-us", "500", NULL);
	active = attach(d.sock, "active", 16, 1);
	for (i = 0; i < NIDLE; i++) {
		snprintf(name, sizeof(name), "idle-%d", i);
		idle[i] = attach(d.sock, name, 8, 1);
	}
	b.qp = xio_tenant_qp(active, 0);
	CHECK_EQ(pthread_create(&th, NULL, busy_main, &b), 0);
	/* The busy tenant is being served before the idle ones are probed. */
	{
		uint64_t deadline = dt_now_ms() + 10000;

		while (!__atomic_load_n(&b.n, __ATOMIC_RELAXED)) {
			CHECK(dt_now_ms() < deadline);
			usleep(100);
		}
	}

	for (round = 0; round < SCALE(20); round++) {
		for (i = 0; i < NIDLE; i++) {
			struct xio_qp *qp = xio_tenant_qp(idle[i], 0);
			uint64_t k0 = xio_qp_kicks(qp);

			wait_parked(qp);
			nop_roundtrip(qp, (uint64_t)round);
			CHECK_EQ(xio_qp_kicks(qp), k0 + 1);
		}
	}
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELAXED);
	pthread_join(th, NULL);
	CHECK(b.n > 0);
	for (i = 0; i < NIDLE; i++) {
		info(idle[i], &ti);
		CHECK(ti.parks >= (uint64_t)SCALE(20));
		CHECK_EQ(ti.completed, SCALE(20));
		CHECK_EQ(ti.kicks, SCALE(20));
		CHECK_EQ(xio_client_detach(idle[i]), 0);
	}
	info(active, &ti);
	CHECK_EQ(ti.completed, b.n);
	stress(d.sock, active);
	printf("%d idle tenants parked and woken %d times each beside %llu busy NOPs\n",
	       NIDLE, SCALE(20), (unsigned long long)b.n);
	CHECK_EQ(xio_client_detach(active), 0);
	xiod_stop(&d);
	printf("ok\n");
	return 0;
}
