/*
 * A sparse table of pointers indexed by a 32-bit number: a fixed top array
 * of chunk pointers, chunks of 1024 slots made on demand. Lookup is two
 * dependent loads and takes no lock. Writers serialize on a lock of their
 * own; chunks are created by ims__sparse_prepare() (which may fail, and then
 * changes nothing) so that storing never fails.
 */
#ifndef IMS_UTIL_SPARSE_H
#define IMS_UTIL_SPARSE_H

#include <stdatomic.h>
#include <stdint.h>

#include "util/rcu.h"

#define IMS_SPARSE_CHUNK_BITS 10u
#define IMS_SPARSE_CHUNK (1u << IMS_SPARSE_CHUNK_BITS)

/* Exactly 8 KB: a chunk's count of used slots is kept beside the top array. */
struct ims_sparse_chunk {
	_Atomic(void *) slot[IMS_SPARSE_CHUNK];
};

struct ims_sparse {
	uint32_t max;			/* indices are < max */
	uint32_t ntop;
	uint32_t nchunks;
	void *spare;			/* one freed chunk, all NULL, for reuse */
	_Atomic(struct ims_sparse_chunk *) *top;
	uint16_t *used;			/* slots in use of each chunk (writers) */
	const char *point;
};

int ims__sparse_init(struct ims_sparse *s, uint32_t max, const char *point);
void ims__sparse_destroy(struct ims_sparse *s);
/* Make sure [idx, idx + nr) can be stored; all or nothing. */
int ims__sparse_prepare(struct ims_sparse *s, uint32_t idx, uint32_t nr);
void ims__sparse_set(struct ims_sparse *s, uint32_t idx, void *p);
void ims__sparse_clear(struct ims_sparse *s, uint32_t idx);
/* Free the chunks of [idx, idx + nr) that hold nothing (waits for readers). */
void ims__sparse_trim(struct ims_sparse *s, uint32_t idx, uint32_t nr);

/* Lock-free lookup; call inside an RCU read section if entries can go away. */
static inline void *ims__sparse_get(const struct ims_sparse *s, uint32_t idx)
{
	struct ims_sparse_chunk *c;

	if (idx >= s->max)
		return NULL;
	c = atomic_load_explicit(&s->top[idx >> IMS_SPARSE_CHUNK_BITS], memory_order_seq_cst);
	if (!c)
		return NULL;
	return atomic_load_explicit(&c->slot[idx & (IMS_SPARSE_CHUNK - 1)], memory_order_seq_cst);
}

#endif
