/*
 * Accounted allocation. Each thread counts into a block of its own, so that
 * an allocation costs no locked instruction; ims_mem_stats() sums the blocks
 * of live threads and what exited threads left behind. A thread that frees
 * what another allocated counts negative; only the sum means anything.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/compiler.h"
#include "util/log.h"

struct acct {
	/* Written by the owning thread only (relaxed load + store, no lock
	 * prefix); read by ims_mem_stats() from any thread. */
	atomic_int_fast64_t bytes, objects, total;
	struct acct *next, **pprev;	/* on `threads`, under threads_lock */
};

static pthread_mutex_t threads_lock = PTHREAD_MUTEX_INITIALIZER;
static struct acct *threads;
static int64_t gone_bytes, gone_objects, gone_total;	/* under threads_lock */
static uint64_t peak;					/* under threads_lock */
static pthread_key_t acct_key;
static pthread_once_t acct_once = PTHREAD_ONCE_INIT;
static _Thread_local struct acct *my_acct __attribute__((tls_model("initial-exec")));
/* Used when a thread's block cannot be made (out of memory): counted with
 * locked instructions, still exact. */
static struct acct shared_acct;

static void acct_exit(void *p)
{
	struct acct *a = p;

	pthread_mutex_lock(&threads_lock);
	gone_bytes += atomic_load_explicit(&a->bytes, memory_order_relaxed);
	gone_objects += atomic_load_explicit(&a->objects, memory_order_relaxed);
	gone_total += atomic_load_explicit(&a->total, memory_order_relaxed);
	*a->pprev = a->next;
	if (a->next)
		a->next->pprev = a->pprev;
	pthread_mutex_unlock(&threads_lock);
	my_acct = NULL;
	free(a);
}

static void acct_key_make(void)
{
	if (pthread_key_create(&acct_key, acct_exit))
		acct_key = (pthread_key_t)-1;
}

static struct acct *acct_self(void)
{
	struct acct *a = my_acct;

	if (ims_likely(a != NULL))
		return a;
	pthread_once(&acct_once, acct_key_make);
	a = calloc(1, sizeof(*a));
	if (!a || acct_key == (pthread_key_t)-1 || pthread_setspecific(acct_key, a)) {
		free(a);
		return NULL;
	}
	pthread_mutex_lock(&threads_lock);
	a->next = threads;
	a->pprev = &threads;
	if (threads)
		threads->pprev = &a->next;
	threads = a;
	pthread_mutex_unlock(&threads_lock);
	my_acct = a;
	return a;
}

static inline void add(atomic_int_fast64_t *c, int64_t v)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + v, memory_order_relaxed);
}

static void account(size_t size, int sign)
{
	struct acct *a = acct_self();

	if (ims_unlikely(!a)) {
		atomic_fetch_add_explicit(&shared_acct.bytes, sign * (int64_t)size, memory_order_relaxed);
		atomic_fetch_add_explicit(&shared_acct.objects, sign, memory_order_relaxed);
		if (sign > 0)
			atomic_fetch_add_explicit(&shared_acct.total, 1, memory_order_relaxed);
		return;
	}
	add(&a->bytes, sign * (int64_t)size);
	add(&a->objects, sign);
	if (sign > 0)
		add(&a->total, 1);
}

void *ims__zalloc(size_t size, const char *point)
{
	if (ims__fault(point)) {
		ims__error(-ENOMEM, "%s: out of memory (injected)", point);
		return NULL;
	}
	return ims__zalloc_nofault(size, point);
}

void *ims__zalloc_nofault(size_t size, const char *point)
{
	void *p;

	p = calloc(1, size ? size : 1);
	if (!p) {
		ims__error(-ENOMEM, "%s: out of memory (%zu bytes)", point, size);
		return NULL;
	}
	account(size, 1);
	return p;
}

void *ims__calloc(size_t n, size_t size, const char *point)
{
	if (size && n > SIZE_MAX / size) {
		ims__error(-ENOMEM, "%s: size overflow (%zu x %zu)", point, n, size);
		return NULL;
	}
	return ims__zalloc(n * size, point);
}

void *ims__realloc(void *p, size_t old_size, size_t new_size, const char *point)
{
	void *q;

	if (!p)
		return ims__zalloc(new_size, point);
	if (ims__fault(point)) {
		ims__error(-ENOMEM, "%s: out of memory (injected)", point);
		return NULL;
	}
	q = realloc(p, new_size ? new_size : 1);
	if (!q) {
		ims__error(-ENOMEM, "%s: out of memory (%zu bytes)", point, new_size);
		return NULL;
	}
	if (new_size > old_size)
		memset((char *)q + old_size, 0, new_size - old_size);
	account(old_size, -1);
	account(new_size, 1);
	return q;
}

void ims__free(void *p, size_t size)
{
	if (!p)
		return;
	account(size, -1);
	free(p);
}

void *ims__cache_take(void **slot, size_t size, const char *point)
{
	void *p = *slot;

	if (!p)
		return ims__zalloc(size, point);
	if (ims__fault(point)) {
		ims__error(-ENOMEM, "%s: out of memory (injected)", point);
		return NULL;
	}
	*slot = NULL;
	account(size, 1);
	return p;
}

void ims__cache_put(void **slot, void *p, size_t size)
{
	if (!p)
		return;
	if (*slot) {
		ims__free(p, size);
		return;
	}
	account(size, -1);
	*slot = p;
}

void ims__cache_drop(void **slot)
{
	free(*slot);
	*slot = NULL;
}

char *ims__strdup(const char *s, const char *point)
{
	size_t n = strlen(s) + 1;
	char *d = ims__zalloc(n, point);

	if (d)
		memcpy(d, s, n);
	return d;
}

void ims__free_str(char *s)
{
	if (s)
		ims__free(s, strlen(s) + 1);
}

IMS_API void ims_mem_stats(struct ims_mem_stats *out)
{
	int64_t bytes, objects, total;
	struct acct *a;

	pthread_mutex_lock(&threads_lock);
	bytes = gone_bytes + atomic_load_explicit(&shared_acct.bytes, memory_order_relaxed);
	objects = gone_objects + atomic_load_explicit(&shared_acct.objects, memory_order_relaxed);
	total = gone_total + atomic_load_explicit(&shared_acct.total, memory_order_relaxed);
	for (a = threads; a; a = a->next) {
		bytes += atomic_load_explicit(&a->bytes, memory_order_relaxed);
		objects += atomic_load_explicit(&a->objects, memory_order_relaxed);
		total += atomic_load_explicit(&a->total, memory_order_relaxed);
	}
	out->bytes = bytes > 0 ? (uint64_t)bytes : 0;
	out->objects = objects > 0 ? (uint64_t)objects : 0;
	out->total_allocs = total > 0 ? (uint64_t)total : 0;
	if (out->bytes > peak)
		peak = out->bytes;
	out->peak_bytes = peak;
	pthread_mutex_unlock(&threads_lock);
}
