/*
 * Asymmetric fences for the hardware models' data paths. A data path that
 * announces itself with a store and then reads what software may change
 * (the remapping unit entering a request, then reading its entry cache)
 * needs a full barrier between the two, or the software side that changes
 * it and then looks for requests in flight may miss one. A full barrier on
 * every interrupt is the larger part of what such a path costs; software's
 * changes are rare. So the data path's side is a compiler barrier, and the
 * software side makes every running thread of the process execute a full
 * barrier (Linux membarrier, private expedited) before it looks. Where
 * membarrier is not available both sides fall back to a full barrier.
 */
#ifndef IMS_HW_FENCE_H
#define IMS_HW_FENCE_H

#include <stdatomic.h>
#include <stdbool.h>

/* True once membarrier is registered for the process; never cleared. */
extern atomic_bool ims__hw_fence_asym;

/*
 * Make the fences below usable; call before the data path that uses them
 * can run (when the model is created). Idempotent and thread-safe.
 */
void ims__hw_fence_init(void);

/* The data path's side: orders its earlier stores before its later loads
 * against ims__hw_fence_heavy() on any other thread. */
static inline void ims__hw_fence_light(void)
{
	if (__builtin_expect(atomic_load_explicit(&ims__hw_fence_asym, memory_order_relaxed), 1))
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

/* The software side: a full barrier on every thread of the process. */
void ims__hw_fence_heavy(void);

#endif
