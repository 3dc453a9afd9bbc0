/*
 * Locks. A spinlock is one byte so that it fits in every interrupt
 * descriptor beside other small fields; a mutex remembers its owner so that _locked functions can
 * assert that their caller holds it.
 */
#ifndef IMS_UTIL_LOCK_H
#define IMS_UTIL_LOCK_H

#include <assert.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>

typedef struct {
	atomic_uchar v;
} ims_spinlock_t;

#define IMS_SPINLOCK_INIT { 0 }

static inline void ims__spin_init(ims_spinlock_t *l)
{
	atomic_init(&l->v, 0);
}

static inline bool ims__spin_trylock(ims_spinlock_t *l)
{
	unsigned char exp = 0;

	return atomic_compare_exchange_strong_explicit(&l->v, &exp, 1, memory_order_acquire,
						       memory_order_relaxed);
}

static inline void ims__spin_lock(ims_spinlock_t *l)
{
	unsigned int spins = 0;

	while (!ims__spin_trylock(l)) {
		while (atomic_load_explicit(&l->v, memory_order_relaxed)) {
			if (++spins > 64) {
				sched_yield();
				spins = 0;
			}
		}
	}
}

static inline void ims__spin_unlock(ims_spinlock_t *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}

static inline bool ims__spin_is_locked(ims_spinlock_t *l)
{
	return atomic_load_explicit(&l->v, memory_order_relaxed) != 0;
}

#define ims__assert_spin_held(l) assert(ims__spin_is_locked(l))

/* A mutex that knows its owner. */
struct ims_mutex {
	pthread_mutex_t m;
	_Atomic(pthread_t) owner;
	atomic_bool held;
};

static inline void ims__mutex_init(struct ims_mutex *mx)
{
	pthread_mutex_init(&mx->m, NULL);
	atomic_init(&mx->held, false);
}

static inline void ims__mutex_destroy(struct ims_mutex *mx)
{
	pthread_mutex_destroy(&mx->m);
}

static inline void ims__mutex_lock(struct ims_mutex *mx)
{
	pthread_mutex_lock(&mx->m);
	atomic_store_explicit(&mx->owner, pthread_self(), memory_order_relaxed);
	atomic_store_explicit(&mx->held, true, memory_order_relaxed);
}

static inline void ims__mutex_unlock(struct ims_mutex *mx)
{
	atomic_store_explicit(&mx->held, false, memory_order_relaxed);
	pthread_mutex_unlock(&mx->m);
}

static inline bool ims__mutex_held_by_me(struct ims_mutex *mx)
{
	return atomic_load_explicit(&mx->held, memory_order_relaxed) &&
	       pthread_equal(atomic_load_explicit(&mx->owner, memory_order_relaxed),
			     pthread_self());
}

#define ims__assert_mutex_held(mx) assert(ims__mutex_held_by_me(mx))

#endif
