/*
 * Read-copy-update, reduced to what the data path needs: readers mark a
 * critical section with two stores to their own slot, and a writer that has
 * unpublished a pointer waits in ims__rcu_synchronize() until every reader
 * that might still hold it has left its section. Readers never block and
 * never touch a shared cache line.
 */
#ifndef IMS_UTIL_RCU_H
#define IMS_UTIL_RCU_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/fence.h"

/* A cache line each: readers on different threads write only their own. */
struct ims_rcu_reader {
	atomic_uint_fast64_t ctr;	/* odd while inside a read section */
	unsigned int nest;		/* nesting depth, owner thread only */
	atomic_bool used;
} __attribute__((aligned(64)));

struct ims_rcu_reader *ims__rcu_reader_register(void);
extern _Thread_local struct ims_rcu_reader *ims__rcu_self __attribute__((tls_model("initial-exec")));

static inline struct ims_rcu_reader *ims__rcu_reader_self(void)
{
	struct ims_rcu_reader *r = ims__rcu_self;

	return __builtin_expect(r != NULL, 1) ? r : ims__rcu_reader_register();
}

/*
 * The store that opens a section and the loads inside it are ordered by an
 * asymmetric fence (util/fence.h): a compiler barrier here, a barrier on
 * every thread when a writer synchronizes.
 */
static inline void ims__rcu_read_lock(void)
{
	struct ims_rcu_reader *r = ims__rcu_reader_self();

	if (r->nest++ == 0) {
		atomic_store_explicit(&r->ctr, atomic_load_explicit(&r->ctr, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		ims__fence_light();
	}
}

static inline void ims__rcu_read_unlock(void)
{
	struct ims_rcu_reader *r = ims__rcu_reader_self();

	if (--r->nest == 0)
		atomic_store_explicit(&r->ctr, atomic_load_explicit(&r->ctr, memory_order_relaxed) + 1,
				      memory_order_release);
}

/* Pointer load inside a read section; pairs with the writer's seq_cst store. */
#define ims__rcu_dereference(p) atomic_load_explicit(&(p), memory_order_seq_cst)
#define ims__rcu_assign_pointer(p, v) atomic_store_explicit(&(p), (v), memory_order_seq_cst)

/* Wait until every read section that began before this call has ended. */
void ims__rcu_synchronize(void);

#endif
