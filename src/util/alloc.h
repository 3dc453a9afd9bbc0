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
char *ims__strdup(const char *s, const char *point);
void ims__free_str(char *s);

#endif
