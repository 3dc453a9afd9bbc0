/*
 * Asymmetric fences for the data path. A reader that announces itself with
 * a store and then reads what a writer may change (an RCU reader entering
 * its section, the remapping unit entering a request, an IMS array signal)
 * needs a full barrier between the two, or the writer, which changes the
 * data and then looks for readers, may miss one. A full barrier on every
 * interrupt is the larger part of what such a path costs; writers are
 * rare. So the reader's side is a compiler barrier, and the writer makes
 * every running thread of the process execute a full barrier (Linux
 * membarrier, private expedited) before it looks. Where membarrier is not
 * available both sides fall back to a full barrier.
 */
#ifndef IMS_UTIL_FENCE_H
#define IMS_UTIL_FENCE_H

#include <stdatomic.h>
#include <stdbool.h>

/* True once membarrier is registered for the process; never cleared. */
extern atomic_bool ims__fence_asym;

/*
 * Make the fences below usable. Both sides call it before their first
 * fence (a reader when it registers, a writer before it looks), so both
 * see the same ims__fence_asym from then on. Idempotent and thread-safe.
 */
void ims__fence_init(void);

/*
 * A thread that will use ims__fence_light() says so once, before its first
 * use (it counts the threads a writer must fence; thread exit uncounts it).
 */
void ims__fence_thread_register(void);

/* The data path's side: orders its earlier stores before its later loads
 * against ims__fence_heavy() on any other thread. */
static inline void ims__fence_light(void)
{
	if (__builtin_expect(atomic_load_explicit(&ims__fence_asym, memory_order_relaxed), 1))
		atomic_signal_fence(memory_order_seq_cst);
	else
		atomic_thread_fence(memory_order_seq_cst);
}

/*
 * The software side: a full barrier on every thread of the process that
 * registered (none to make when the caller is the only one).
 */
void ims__fence_heavy(void);

#endif
