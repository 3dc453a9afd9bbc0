/*
 * Reader slots for the RCU of rcu.h. A thread claims a slot the first time
 * it reads and gives it back when it exits. Slots are a fixed array so that
 * claiming never allocates on the data path.
 */
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/rcu.h"

#define RCU_MAX_READERS 4096

static struct ims_rcu_reader readers[RCU_MAX_READERS];
static atomic_uint high_water;
_Thread_local struct ims_rcu_reader *ims__rcu_self __attribute__((tls_model("initial-exec")));
#define self ims__rcu_self
static pthread_key_t exit_key;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;

static void reader_exit(void *arg)
{
	struct ims_rcu_reader *r = arg;

	atomic_store_explicit(&r->used, false, memory_order_release);
}

static void make_key(void)
{
	pthread_key_create(&exit_key, reader_exit);
}

struct ims_rcu_reader *ims__rcu_reader_register(void)
{
	unsigned int i, hw;

	if (self)
		return self;
	ims__fence_thread_register();	/* before this thread's first fence */
	pthread_once(&key_once, make_key);
	for (i = 0; i < RCU_MAX_READERS; i++) {
		bool exp = false;

		if (atomic_compare_exchange_strong(&readers[i].used, &exp, true))
			break;
	}
	if (i == RCU_MAX_READERS) {
		fprintf(stderr, "ims: more than %d threads read interrupt state at once\n",
			RCU_MAX_READERS);
		abort();
	}
	hw = atomic_load(&high_water);
	while (hw < i + 1 && !atomic_compare_exchange_weak(&high_water, &hw, i + 1))
		;
	readers[i].nest = 0;
	self = &readers[i];
	pthread_setspecific(exit_key, self);
	return self;
}

void ims__rcu_synchronize(void)
{
	unsigned int i, n;

	/* Every reader either shows its section now or sees what was
	 * unpublished before this call (a full barrier here too), so
	 * unpublishing stores themselves may be plain release stores. */
	ims__fence_heavy();
	n = atomic_load(&high_water);
	for (i = 0; i < n; i++) {
		struct ims_rcu_reader *r = &readers[i];
		uint_fast64_t c;

		if (r == self)
			continue;
		c = atomic_load_explicit(&r->ctr, memory_order_seq_cst);
		if (!(c & 1))
			continue;
		while (atomic_load_explicit(&r->ctr, memory_order_seq_cst) == c)
			sched_yield();
	}
}
