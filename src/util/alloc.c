/*
 * Accounted allocation. Counters are relaxed atomics: they are statistics,
 * read when the system is quiescent (tests, benchmarks).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/alloc.h"
#include "util/log.h"

static atomic_uint_fast64_t mem_bytes, mem_objects, mem_peak, mem_total;

static void account(size_t size, int sign)
{
	if (sign > 0) {
		uint64_t now = atomic_fetch_add_explicit(&mem_bytes, size, memory_order_relaxed) + size;
		uint64_t peak = atomic_load_explicit(&mem_peak, memory_order_relaxed);

		atomic_fetch_add_explicit(&mem_objects, 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&mem_total, 1, memory_order_relaxed);
		while (now > peak && !atomic_compare_exchange_weak_explicit(
				&mem_peak, &peak, now, memory_order_relaxed, memory_order_relaxed))
			;
	} else {
		atomic_fetch_sub_explicit(&mem_bytes, size, memory_order_relaxed);
		atomic_fetch_sub_explicit(&mem_objects, 1, memory_order_relaxed);
	}
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
	out->bytes = atomic_load_explicit(&mem_bytes, memory_order_relaxed);
	out->objects = atomic_load_explicit(&mem_objects, memory_order_relaxed);
	out->peak_bytes = atomic_load_explicit(&mem_peak, memory_order_relaxed);
	out->total_allocs = atomic_load_explicit(&mem_total, memory_order_relaxed);
}
