/* SPDX-License-Identifier: MIT */
/*
 * Helpers shared by the concurrent ring tests: iteration scaling for
 * sanitizer builds, a small PRNG and a progress watchdog.
 */
#ifndef XIO_XTEST_RING_H
#define XIO_XTEST_RING_H

#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/*
 * Sanitized builds run the same code ~5-20x slower: they divide the default
 * iteration counts by XT_SANITIZE_DIV.  GCC defines __SANITIZE_*__, Clang
 * answers __has_feature().
 */
#if defined(__SANITIZE_THREAD__)
#define XT_SANITIZER "tsan"
#define XT_SANITIZE_DIV 20
#elif defined(__SANITIZE_ADDRESS__)
#define XT_SANITIZER "asan"
#define XT_SANITIZE_DIV 10
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define XT_SANITIZER "tsan"
#define XT_SANITIZE_DIV 20
#elif __has_feature(address_sanitizer)
#define XT_SANITIZER "asan"
#define XT_SANITIZE_DIV 10
#endif
#endif
#ifndef XT_SANITIZE_DIV
#define XT_SANITIZER "none"
#define XT_SANITIZE_DIV 1
#endif

/*
 * @n divided by the sanitizer divisor, or by XIO_TEST_SCALE when set (a
 * positive integer divisor, e.g. XIO_TEST_SCALE=100 for a quick run; 1 runs
 * the full count even under a sanitizer).  Never below @min, so a scaled-down
 * run still exercises what the test is about.
 */
static inline uint64_t xt_scaled(uint64_t n, uint64_t min)
{
	const char *e = getenv("XIO_TEST_SCALE");
	uint64_t div = XT_SANITIZE_DIV;

	if (e && *e) {
		char *end;
		unsigned long long v = strtoull(e, &end, 10);

		if (*end == '\0' && v > 0)
			div = v;
	}
	n /= div;
	return n < min ? min : n;
}

/* xorshift64*: deterministic per seed, good enough to pick batch sizes. */
static inline uint64_t xt_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545f4914f6cdd1dULL;
}

/* Uniform-ish in [lo, hi]. */
static inline uint32_t xt_range(uint64_t *s, uint32_t lo, uint32_t hi)
{
	return lo + (uint32_t)(xt_rand(s) % ((uint64_t)hi - lo + 1));
}

/*
 * Progress watchdog: xt_watchdog_pet() re-arms an alarm; if it ever fires,
 * the test fails at once (exit 1, and @xt_watchdog_kill is SIGKILLed first
 * when set) instead of hanging until ctest's timeout.
 */
static volatile pid_t xt_watchdog_kill;
static const char *xt_watchdog_what = "FAIL: watchdog: no progress, stalled\n";
static unsigned int xt_watchdog_secs = 20;

static void xt_watchdog_fire(int sig)
{
	(void)sig;
	if (write(2, xt_watchdog_what, strlen(xt_watchdog_what)) < 0)
		(void)0;
	if (xt_watchdog_kill > 0)
		kill(xt_watchdog_kill, SIGKILL);
	_exit(1);
}

static inline void xt_watchdog_init(unsigned int secs, const char *what)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = xt_watchdog_fire;
	sigaction(SIGALRM, &sa, NULL);
	xt_watchdog_secs = secs;
	if (what)
		xt_watchdog_what = what;
	alarm(secs);
}

static inline void xt_watchdog_pet(void)
{
	alarm(xt_watchdog_secs);
}

#endif
