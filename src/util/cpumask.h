/*
 * Internal layout of struct ims_cpumask.
 */
#ifndef IMS_UTIL_CPUMASK_H
#define IMS_UTIL_CPUMASK_H

#include <ims/cpumask.h>

#include "util/bitmap.h"

struct ims_cpumask {
	uint32_t nbits;
	uint32_t _pad;
	uint64_t bits[];
};

static inline size_t ims__cpumask_size(uint32_t nbits)
{
	return sizeof(struct ims_cpumask) + IMS_BITMAP_WORDS(nbits) * sizeof(uint64_t);
}

struct ims_cpumask *ims__cpumask_dup(const struct ims_cpumask *m, const char *point);
void ims__cpumask_free(struct ims_cpumask *m);
/* True if a and b share a CPU (bits beyond the shorter one ignored). */
bool ims__cpumask_intersects(const struct ims_cpumask *a, const struct ims_cpumask *b);

#endif
