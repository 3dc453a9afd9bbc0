/*
 * The striped locks behind the 128-bit atomics where cmpxchg16b is not used
 * (ThreadSanitizer builds, other architectures). 64 locks, each on its own
 * cache line, chosen by the 16-byte slot of the address.
 */
#include "util/atomic128.h"

#ifdef IMS_ATOMIC128_LOCKED

static struct {
	ims_spinlock_t l;
	char pad[64 - sizeof(ims_spinlock_t)];
} stripes[64];

ims_spinlock_t *ims__atomic128_lock(const void *p)
{
	uintptr_t a = (uintptr_t)p >> 4;

	return &stripes[(a ^ (a >> 6) ^ (a >> 12)) & 63].l;
}

#endif
