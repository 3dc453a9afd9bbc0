/*
 * The asymmetric fences of fence.h, on Linux membarrier.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hw/fence.h"

atomic_bool ims__hw_fence_asym;

static pthread_once_t fence_once = PTHREAD_ONCE_INIT;

static long membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

static void fence_setup(void)
{
	long cmds = membarrier(MEMBARRIER_CMD_QUERY);

	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED))
		return;
	atomic_store(&ims__hw_fence_asym, true);
}

void ims__hw_fence_init(void)
{
	pthread_once(&fence_once, fence_setup);
}

void ims__hw_fence_heavy(void)
{
	atomic_thread_fence(memory_order_seq_cst);
	/* Registered means it cannot fail; if it did, the data path would be
	 * unsafe, so there is no quiet fallback here. */
	if (atomic_load_explicit(&ims__hw_fence_asym, memory_order_relaxed) &&
	    membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		__builtin_trap();
}
