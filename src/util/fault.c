/*
 * The fault plan: off, fail the Nth matching point, or fail at a seeded
 * rate. Process-wide; the fail-Nth loop in tests arms it single-threaded,
 * the simulator's --fault-rate arms the rate mode for every thread.
 */
#include <stdatomic.h>
#include <string.h>

#include "util/fault.h"
#include "util/log.h"

enum { PLAN_OFF, PLAN_NTH, PLAN_RATE };

static atomic_int plan;
static atomic_uint_fast64_t nth_target, hits, injected, rng_state;
static uint32_t rate_one_in;
static char prefix_buf[64];
static size_t prefix_len;
static _Atomic(const char *) last_point = "";

static uint64_t rng_next(void)
{
	/* splitmix64 step on a shared atomic state: deterministic per seed in
	 * single-threaded runs, still a fair coin under threads. */
	uint64_t z = atomic_fetch_add_explicit(&rng_state, 0x9e3779b97f4a7c15ull,
					       memory_order_relaxed) + 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

bool ims__fault(const char *point)
{
	int p = atomic_load_explicit(&plan, memory_order_acquire);
	uint64_t n;

	if (ims_likely(p == PLAN_OFF))
		return false;
	if (prefix_len && strncmp(point, prefix_buf, prefix_len) != 0)
		return false;
	n = atomic_fetch_add_explicit(&hits, 1, memory_order_relaxed) + 1;
	if (p == PLAN_NTH) {
		if (n != atomic_load_explicit(&nth_target, memory_order_relaxed))
			return false;
	} else if (rng_next() % rate_one_in != 0) {
		return false;
	}
	atomic_fetch_add_explicit(&injected, 1, memory_order_relaxed);
	atomic_store_explicit(&last_point, point, memory_order_relaxed);
	return true;
}

static void set_prefix(const char *prefix)
{
	prefix_len = 0;
	if (prefix) {
		strncpy(prefix_buf, prefix, sizeof(prefix_buf) - 1);
		prefix_buf[sizeof(prefix_buf) - 1] = '\0';
		prefix_len = strlen(prefix_buf);
	}
}

IMS_API void ims_fault_arm_nth(uint64_t nth, const char *prefix)
{
	atomic_store(&plan, PLAN_OFF);
	set_prefix(prefix);
	atomic_store(&hits, 0);
	atomic_store(&injected, 0);
	atomic_store(&last_point, "");
	atomic_store(&nth_target, nth);
	atomic_store_explicit(&plan, nth ? PLAN_NTH : PLAN_OFF, memory_order_release);
}

IMS_API void ims_fault_arm_rate(uint32_t one_in, uint64_t seed)
{
	atomic_store(&plan, PLAN_OFF);
	set_prefix(NULL);
	atomic_store(&hits, 0);
	atomic_store(&injected, 0);
	atomic_store(&last_point, "");
	atomic_store(&rng_state, seed);
	rate_one_in = one_in ? one_in : 1;
	atomic_store_explicit(&plan, one_in ? PLAN_RATE : PLAN_OFF, memory_order_release);
}

IMS_API void ims_fault_disarm(void)
{
	atomic_store_explicit(&plan, PLAN_OFF, memory_order_release);
}

IMS_API uint64_t ims_fault_points_hit(void)
{
	return atomic_load(&hits);
}

IMS_API uint64_t ims_fault_injected(void)
{
	return atomic_load(&injected);
}

IMS_API const char *ims_fault_last_point(void)
{
	return atomic_load(&last_point);
}
