/*
 * ims/cpumask.h - sets of CPUs, used for interrupt affinity.
 *
 * A mask has a fixed number of bits chosen at creation (the machine's CPU
 * count). The interrupt core keeps its own copies, so a caller may change or
 * destroy a mask as soon as the call that took it has returned.
 */
#ifndef IMS_CPUMASK_H
#define IMS_CPUMASK_H

#include <ims/common.h>

#ifdef __cplusplus
extern "C" {
#endif

struct ims_cpumask;

/* A mask of nr_cpus bits (1..65536), all clear. NULL on failure. */
IMS_API struct ims_cpumask *ims_cpumask_create(uint32_t nr_cpus);
IMS_API void ims_cpumask_destroy(struct ims_cpumask *m);
IMS_API uint32_t ims_cpumask_nr_cpus(const struct ims_cpumask *m);
/* Set or clear one CPU; -EINVAL if cpu is out of range. */
IMS_API int ims_cpumask_set(struct ims_cpumask *m, uint32_t cpu);
IMS_API int ims_cpumask_clear(struct ims_cpumask *m, uint32_t cpu);
IMS_API void ims_cpumask_setall(struct ims_cpumask *m);
IMS_API void ims_cpumask_zero(struct ims_cpumask *m);
IMS_API bool ims_cpumask_test(const struct ims_cpumask *m, uint32_t cpu);
IMS_API uint32_t ims_cpumask_weight(const struct ims_cpumask *m);
/* First set CPU at or after `from`, or nr_cpus if none. */
IMS_API uint32_t ims_cpumask_next(const struct ims_cpumask *m, uint32_t from);
IMS_API bool ims_cpumask_equal(const struct ims_cpumask *a, const struct ims_cpumask *b);
/* Parse a list such as "0-3,8,10-11" into m (cleared first). */
IMS_API int ims_cpumask_parse(struct ims_cpumask *m, const char *list);
/* Format as a list into buf; returns the length that was needed. */
IMS_API size_t ims_cpumask_format(const struct ims_cpumask *m, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
