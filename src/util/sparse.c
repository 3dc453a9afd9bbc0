/*
 * Sparse pointer table; see sparse.h.
 */
#include <errno.h>

#include "util/alloc.h"
#include "util/log.h"
#include "util/sparse.h"

int ims__sparse_init(struct ims_sparse *s, uint32_t max, const char *point)
{
	s->max = max;
	s->ntop = IMS_DIV_ROUND_UP(max, IMS_SPARSE_CHUNK);
	s->nchunks = 0;
	s->spare = NULL;
	s->point = point;
	s->top = ims__calloc(s->ntop, sizeof(*s->top), point);
	if (!s->top)
		return -ENOMEM;
	s->used = ims__calloc(s->ntop, sizeof(*s->used), point);
	if (!s->used) {
		ims__free(s->top, s->ntop * sizeof(*s->top));
		s->top = NULL;
		return -ENOMEM;
	}
	return 0;
}

void ims__sparse_destroy(struct ims_sparse *s)
{
	uint32_t i;

	if (!s->top)
		return;
	for (i = 0; i < s->ntop; i++)
		ims__free(atomic_load(&s->top[i]), sizeof(struct ims_sparse_chunk));
	ims__free(s->top, s->ntop * sizeof(*s->top));
	ims__free(s->used, s->ntop * sizeof(*s->used));
	ims__cache_drop(&s->spare);
	s->top = NULL;
	s->nchunks = 0;
}

static void trim_range(struct ims_sparse *s, uint32_t first, uint32_t last, bool sync)
{
	uint32_t i;
	bool freed_any = false;
	struct ims_sparse_chunk *dead[64];
	unsigned int ndead = 0;

	for (i = first; i <= last; i++) {
		struct ims_sparse_chunk *c = atomic_load(&s->top[i]);

		if (!c || s->used[i])
			continue;
		atomic_store_explicit(&s->top[i], NULL, memory_order_seq_cst);
		s->nchunks--;
		if (ndead == IMS_ARRAY_SIZE(dead)) {
			if (sync)
				ims__rcu_synchronize();
			while (ndead)
				ims__cache_put(&s->spare, dead[--ndead], sizeof(*c));
		}
		dead[ndead++] = c;
		freed_any = true;
	}
	if (freed_any && sync)
		ims__rcu_synchronize();
	while (ndead)
		ims__cache_put(&s->spare, dead[--ndead], sizeof(struct ims_sparse_chunk));
}

int ims__sparse_prepare(struct ims_sparse *s, uint32_t idx, uint32_t nr)
{
	uint32_t first, last, i;

	if (!nr)
		return 0;
	if (idx >= s->max || nr > s->max - idx)
		return ims__error(-EINVAL, "%s: index %u+%u beyond %u", s->point, idx, nr, s->max);
	first = idx >> IMS_SPARSE_CHUNK_BITS;
	last = (idx + nr - 1) >> IMS_SPARSE_CHUNK_BITS;
	for (i = first; i <= last; i++) {
		struct ims_sparse_chunk *c;

		if (atomic_load(&s->top[i]))
			continue;
		c = ims__cache_take(&s->spare, sizeof(*c), s->point);
		if (!c) {
			/* Chunks made here hold nothing yet: no reader can see
			 * anything through them, so no grace period is needed. */
			if (i > first)
				trim_range(s, first, i - 1, false);
			return -ENOMEM;
		}
		atomic_store_explicit(&s->top[i], c, memory_order_seq_cst);
		s->nchunks++;
	}
	return 0;
}

void ims__sparse_set(struct ims_sparse *s, uint32_t idx, void *p)
{
	struct ims_sparse_chunk *c = atomic_load(&s->top[idx >> IMS_SPARSE_CHUNK_BITS]);
	_Atomic(void *) *slot = &c->slot[idx & (IMS_SPARSE_CHUNK - 1)];

	if (!atomic_load_explicit(slot, memory_order_relaxed))
		s->used[idx >> IMS_SPARSE_CHUNK_BITS]++;
	atomic_store_explicit(slot, p, memory_order_release);
}

void ims__sparse_clear(struct ims_sparse *s, uint32_t idx)
{
	struct ims_sparse_chunk *c = atomic_load(&s->top[idx >> IMS_SPARSE_CHUNK_BITS]);
	_Atomic(void *) *slot;

	if (!c)
		return;
	slot = &c->slot[idx & (IMS_SPARSE_CHUNK - 1)];
	if (atomic_load_explicit(slot, memory_order_relaxed)) {
		s->used[idx >> IMS_SPARSE_CHUNK_BITS]--;
		atomic_store_explicit(slot, NULL, memory_order_release);
	}
}

void ims__sparse_trim(struct ims_sparse *s, uint32_t idx, uint32_t nr)
{
	if (!nr || idx >= s->max)
		return;
	if (nr > s->max - idx)
		nr = s->max - idx;
	trim_range(s, idx >> IMS_SPARSE_CHUNK_BITS, (idx + nr - 1) >> IMS_SPARSE_CHUNK_BITS, true);
}
