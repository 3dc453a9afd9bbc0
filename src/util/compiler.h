/*
 * Small compiler helpers used across the tree.
 */
#ifndef IMS_UTIL_COMPILER_H
#define IMS_UTIL_COMPILER_H

#include <stddef.h>
#include <stdint.h>

#define IMS_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define ims_likely(x) __builtin_expect(!!(x), 1)
#define ims_unlikely(x) __builtin_expect(!!(x), 0)
#define ims_container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))
#define IMS_MIN(a, b) ((a) < (b) ? (a) : (b))
#define IMS_MAX(a, b) ((a) > (b) ? (a) : (b))
#define IMS_DIV_ROUND_UP(n, d) (((n) + (d) - 1) / (d))
#define IMS_UNUSED __attribute__((unused))
#define IMS_PRINTF(f, a) __attribute__((format(printf, f, a)))

/*
 * Defensive branches for conditions the code believes impossible: they are
 * still handled, and counted so that tests can assert they never fired.
 */
#define IMS_ALWAYS(x) ims_likely(x)
#define IMS_NEVER(x) ims_unlikely(x)

#endif
