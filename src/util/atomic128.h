/*
 * 128-bit atomic load and store on 16-byte aligned memory, for tables that
 * hardware reads as one unit (an interrupt remapping entry) and software
 * rewrites while the hardware may be reading it. On x86-64 this is
 * cmpxchg16b, as the hardware protocol expects; the compilers only inline
 * it with -mcx16 and otherwise call libatomic, so it is written out here.
 * Under ThreadSanitizer, which cannot see inside inline assembly, the same
 * operations are made of striped spinlocks so that the sanitizer checks the
 * protocol of every caller. Other architectures use the striped locks too.
 */
#ifndef IMS_UTIL_ATOMIC128_H
#define IMS_UTIL_ATOMIC128_H

#include <stdint.h>

#include "util/lock.h"

struct ims_u128 {
	uint64_t lo;
	uint64_t hi;
};

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define IMS_ATOMIC128_LOCKED 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) || !defined(__x86_64__)
#undef IMS_ATOMIC128_LOCKED
#define IMS_ATOMIC128_LOCKED 1
#endif

#ifdef IMS_ATOMIC128_LOCKED

/* One of 64 locks chosen by address: defined in atomic128.c. */
ims_spinlock_t *ims__atomic128_lock(const void *p);

static inline struct ims_u128 ims__atomic128_load(uint64_t *p)
{
	ims_spinlock_t *l = ims__atomic128_lock(p);
	struct ims_u128 v;

	ims__spin_lock(l);
	v.lo = p[0];
	v.hi = p[1];
	ims__spin_unlock(l);
	return v;
}

static inline void ims__atomic128_store(uint64_t *p, struct ims_u128 v)
{
	ims_spinlock_t *l = ims__atomic128_lock(p);

	ims__spin_lock(l);
	p[0] = v.lo;
	p[1] = v.hi;
	ims__spin_unlock(l);
}

#else

/*
 * cmpxchg16b compares rdx:rax with the memory; if equal it stores rcx:rbx,
 * else it loads the memory into rdx:rax. Both ways the result in rdx:rax is
 * the value the memory held, atomically.
 */
static inline int ims__cmpxchg16b(uint64_t *p, struct ims_u128 *expect, struct ims_u128 desired)
{
	uint64_t lo = expect->lo, hi = expect->hi;
	unsigned char ok;

	__asm__ __volatile__("lock cmpxchg16b %[mem]\n\tsete %[ok]"
			     : [mem] "+m"(*(volatile uint64_t(*)[2])p), "+a"(lo), "+d"(hi), [ok] "=q"(ok)
			     : "b"(desired.lo), "c"(desired.hi)
			     : "memory", "cc");
	expect->lo = lo;
	expect->hi = hi;
	return ok;
}

static inline struct ims_u128 ims__atomic128_load(uint64_t *p)
{
	struct ims_u128 v = { 0, 0 };

	/* A compare with 0 that fails loads; one that succeeds stores 0 over 0. */
	ims__cmpxchg16b(p, &v, v);
	return v;
}

static inline void ims__atomic128_store(uint64_t *p, struct ims_u128 v)
{
	struct ims_u128 cur = { __atomic_load_n(&p[0], __ATOMIC_RELAXED),
				__atomic_load_n(&p[1], __ATOMIC_RELAXED) };

	while (!ims__cmpxchg16b(p, &cur, v))
		;
}

#endif

#endif
