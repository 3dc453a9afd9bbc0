/*
 * DMA-able regions: an immutable sorted array, replaced whole on every
 * change and published with RCU, so that a hardware model's lookup on the
 * data path takes no lock and cannot see a half-made list.
 */
#include <errno.h>
#include <string.h>

#include "hw/dma.h"
#include "util/alloc.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/rcu.h"

struct dma_region {
	uint64_t start;
	uint64_t len;
};

struct dma_set {
	uint32_t nr;
	struct dma_region r[];
};

struct ims_hw_dma {
	struct ims_mutex lock;		/* serializes writers of set */
	_Atomic(struct dma_set *) set;	/* RCU; NULL when empty */
};

static size_t set_size(uint32_t nr)
{
	return sizeof(struct dma_set) + nr * sizeof(struct dma_region);
}

int ims__dma_create(struct ims_hw_dma **out)
{
	struct ims_hw_dma *dma = ims__zalloc(sizeof(*dma), "dma");

	if (!dma)
		return -ENOMEM;
	ims__mutex_init(&dma->lock);
	atomic_init(&dma->set, NULL);
	*out = dma;
	return 0;
}

int ims__dma_destroy(struct ims_hw_dma *dma)
{
	if (!dma)
		return 0;
	if (atomic_load(&dma->set))
		return ims__error(-EBUSY, "dma: regions still registered");
	ims__mutex_destroy(&dma->lock);
	ims__free(dma, sizeof(*dma));
	return 0;
}

int ims__dma_register(struct ims_hw_dma *dma, void *host, size_t len)
{
	uint64_t start = ims__dma_addr(host);
	struct dma_set *old, *new;
	uint32_t nr, i, at;

	if (!host || !len || start + len < start)
		return ims__error(-EINVAL, "dma: region %p+%zu is empty or wraps", host, len);
	ims__mutex_lock(&dma->lock);
	old = atomic_load_explicit(&dma->set, memory_order_relaxed);
	nr = old ? old->nr : 0;
	for (at = 0; at < nr && old->r[at].start < start; at++)
		;
	if ((at > 0 && old->r[at - 1].start + old->r[at - 1].len > start) ||
	    (at < nr && start + len > old->r[at].start)) {
		ims__mutex_unlock(&dma->lock);
		return ims__error(-EINVAL, "dma: region %p+%zu overlaps a registered one", host, len);
	}
	new = ims__zalloc(set_size(nr + 1), "dma_region");
	if (!new) {
		ims__mutex_unlock(&dma->lock);
		return -ENOMEM;
	}
	new->nr = nr + 1;
	for (i = 0; i < at; i++)
		new->r[i] = old->r[i];
	new->r[at] = (struct dma_region){ start, len };
	for (i = at; i < nr; i++)
		new->r[i + 1] = old->r[i];
	ims__rcu_assign_pointer(dma->set, new);
	ims__mutex_unlock(&dma->lock);
	if (old) {
		ims__rcu_synchronize();
		ims__free(old, set_size(old->nr));
	}
	return 0;
}

int ims__dma_unregister(struct ims_hw_dma *dma, void *host)
{
	uint64_t start = ims__dma_addr(host);
	struct dma_set *old, *new = NULL;
	uint32_t i, j, at;

	ims__mutex_lock(&dma->lock);
	old = atomic_load_explicit(&dma->set, memory_order_relaxed);
	for (at = 0; old && at < old->nr && old->r[at].start != start; at++)
		;
	if (!old || at == old->nr) {
		ims__mutex_unlock(&dma->lock);
		return ims__error(-ENOENT, "dma: no region starts at %p", host);
	}
	if (old->nr > 1) {
		/* Shrinking must not fail: a region that cannot be removed
		 * would stay reachable by hardware after its memory is freed
		 * (callers free it whatever this returns), so it is no fault
		 * point. */
		new = ims__zalloc_nofault(set_size(old->nr - 1), "dma_region");
		if (!new) {
			ims__mutex_unlock(&dma->lock);
			return -ENOMEM;
		}
		new->nr = old->nr - 1;
		for (i = 0, j = 0; i < old->nr; i++)
			if (i != at)
				new->r[j++] = old->r[i];
	}
	ims__rcu_assign_pointer(dma->set, new);
	ims__mutex_unlock(&dma->lock);
	ims__rcu_synchronize();
	ims__free(old, set_size(old->nr));
	return 0;
}

void *ims__dma_map(struct ims_hw_dma *dma, uint64_t addr, size_t len)
{
	struct dma_set *s = ims__rcu_dereference(dma->set);
	uint32_t lo = 0, hi;

	if (!s || addr + len < addr)
		return NULL;
	/* Last region starting at or below addr. */
	hi = s->nr;
	while (lo < hi) {
		uint32_t mid = (lo + hi) / 2;

		if (s->r[mid].start <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == 0)
		return NULL;
	if (addr + len > s->r[lo - 1].start + s->r[lo - 1].len)
		return NULL;
	return (void *)(uintptr_t)addr;
}

void *ims__dma_alloc_aligned(size_t size, size_t align, const char *point)
{
	char *raw;
	uintptr_t p;

	if (!align || (align & (align - 1)) || align > 4096) {
		ims__error(-EINVAL, "%s: alignment %zu is not a power of two up to 4096", point, align);
		return NULL;
	}
	/* The raw pointer is kept just below the aligned block. */
	raw = ims__zalloc(size + align + sizeof(void *), point);
	if (!raw)
		return NULL;
	p = ((uintptr_t)raw + sizeof(void *) + align - 1) & ~(uintptr_t)(align - 1);
	memcpy((void *)(p - sizeof(void *)), &raw, sizeof(raw));
	return (void *)p;
}

void ims__dma_free_aligned(void *p, size_t size, size_t align)
{
	void *raw;

	if (!p)
		return;
	memcpy(&raw, (char *)p - sizeof(void *), sizeof(raw));
	ims__free(raw, size + align + sizeof(void *));
}

void *ims__dma_alloc_registered(struct ims_hw_dma *dma, size_t size, size_t align, const char *point)
{
	void *p = ims__dma_alloc_aligned(size, align, point);

	if (p && ims__dma_register(dma, p, size)) {
		ims__dma_free_aligned(p, size, align);
		return NULL;
	}
	return p;
}

int ims__dma_free_registered(struct ims_hw_dma *dma, void *p, size_t size, size_t align)
{
	int ret;

	if (!p)
		return 0;
	ret = ims__dma_unregister(dma, p);
	if (ret)
		return ret;
	ims__dma_free_aligned(p, size, align);
	return 0;
}
