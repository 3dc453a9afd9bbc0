/*
 * Allocation with accounting and fault injection. Every allocation in ims
 * names a stable fault point; frees give the size back so that the
 * accounting (ims_mem_stats) is exact without a header per object, which
 * keeps the per-vector memory budget honest.
 */
#ifndef IMS_UTIL_ALLOC_H
#define IMS_UTIL_ALLOC_H

#include <stddef.h>

#include "util/fault.h"

/* Zeroed allocation; NULL on failure (real or injected) with a message set. */
void *ims__zalloc(size_t size, const char *point);
/*
 * The same without a fault point, for the few paths that must not fail
 * (taking a region away from hardware before its memory is freed): an
 * injected failure there could only be ignored, which would leave hardware
 * a way to reach freed memory. A real out-of-memory still returns NULL.
 */
void *ims__zalloc_nofault(size_t size, const char *point);
/* Zeroed array allocation with overflow check. */
void *ims__calloc(size_t n, size_t size, const char *point);
/* Resize; on failure the old block is untouched and NULL is returned. */
void *ims__realloc(void *p, size_t old_size, size_t new_size, const char *point);
void ims__free(void *p, size_t size);
/*
 * A one-object cache for objects that come and go often (table chunks):
 * put gives the object back as far as accounting is concerned and parks
 * it in *slot (or frees it if the slot is taken); take reuses the parked
 * object, which must have been put back zeroed, or allocates a zeroed one.
 * take passes the fault point like ims__zalloc; drop frees what is parked.
 */
void *ims__cache_take(void **slot, size_t size, const char *point);
void ims__cache_put(void **slot, void *p, size_t size);
void ims__cache_drop(void **slot);
char *ims__strdup(const char *s, const char *point);
void ims__free_str(char *s);

#endif
