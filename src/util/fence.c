/*
 * The asymmetric fences of fence.h, on Linux membarrier.
 */
#include <linux/membarrier.h>
#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/fence.h"

atomic_bool ims__fence_asym;

static pthread_once_t fence_once = PTHREAD_ONCE_INIT;
static pthread_key_t thread_key;
/* Registered threads still running; this thread's registration. */
static atomic_uint nr_threads;
static _Thread_local bool registered __attribute__((tls_model("initial-exec")));

static long membarrier(int cmd)
{
	return syscall(__NR_membarrier, cmd, 0, 0);
}

static void thread_gone(void *arg)
{
	(void)arg;
	atomic_fetch_sub(&nr_threads, 1);
}

static void fence_setup(void)
{
	long cmds;

	pthread_key_create(&thread_key, thread_gone);
	cmds = membarrier(MEMBARRIER_CMD_QUERY);
	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	if (membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED))
		return;
	atomic_store(&ims__fence_asym, true);
}

void ims__fence_init(void)
{
	pthread_once(&fence_once, fence_setup);
}

void ims__fence_thread_register(void)
{
	if (registered)
		return;
	ims__fence_init();
	/* Sequentially consistent: a writer that does not count this thread
	 * fenced before it, and this thread's later loads see its stores. */
	atomic_fetch_add(&nr_threads, 1);
	registered = true;
	pthread_setspecific(thread_key, &registered);
}

void ims__fence_heavy(void)
{
	unsigned int n;

	ims__fence_init();
	atomic_thread_fence(memory_order_seq_cst);
	if (!atomic_load_explicit(&ims__fence_asym, memory_order_relaxed))
		return;
	n = atomic_load(&nr_threads);
	if (n == 0 || (n == 1 && registered))
		return;	/* no other thread can be between its store and its loads */
	/* Registered means it cannot fail; if it did, the data path would be
	 * unsafe, so there is no quiet fallback here. */
	if (membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		__builtin_trap();
}
