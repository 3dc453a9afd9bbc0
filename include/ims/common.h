/*
 * ims/common.h - conventions shared by every ims header: symbol export,
 * error reporting, fault injection and allocation accounting.
 *
 * Every ims call that can fail returns 0 (or a non-negative result) on
 * success and a negative errno on failure. The failing call also leaves a
 * message naming what was wrong, readable with ims_last_error() on the same
 * thread until the next failing call there.
 */
#ifndef IMS_COMMON_H
#define IMS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IMS_API __attribute__((visibility("default")))

/* Message of the most recent failing ims call on this thread ("" if none). */
IMS_API const char *ims_last_error(void);
IMS_API void ims_clear_error(void);

enum ims_log_level {
	IMS_LOG_ERR = 0,	/* a call failed; same text as ims_last_error() */
	IMS_LOG_WARN = 1,	/* something was refused or disabled */
	IMS_LOG_INFO = 2,
	IMS_LOG_DEBUG = 3,
};

/*
 * Log sink. By default warnings go to stderr and errors only to
 * ims_last_error(). A sink set here receives every message up to max_level.
 * fn == NULL restores the default. Not thread-safe against concurrent logging:
 * set it before starting threads.
 */
typedef void (*ims_log_fn)(enum ims_log_level level, const char *msg, void *ctx);
IMS_API void ims_set_log(ims_log_fn fn, enum ims_log_level max_level, void *ctx);

/* Number of warnings logged since start (double frees, storms, refusals). */
IMS_API uint64_t ims_warn_count(void);

/*
 * Fault injection. Every allocation in ims passes a named fault point
 * ("irq_desc", "domain", ...). When armed, the Nth point reached from now on
 * (counting only points whose name starts with `prefix`, or every point when
 * prefix is NULL) fails as if memory ran out; later points succeed again.
 * Arming is process-wide.
 */
IMS_API void ims_fault_arm_nth(uint64_t nth, const char *prefix);
/* Fail each point with probability 1/one_in, from a seeded generator. */
IMS_API void ims_fault_arm_rate(uint32_t one_in, uint64_t seed);
IMS_API void ims_fault_disarm(void);
/* Points reached and failures injected since the last arm. */
IMS_API uint64_t ims_fault_points_hit(void);
IMS_API uint64_t ims_fault_injected(void);
/* Name of the last point that failed ("" if none). */
IMS_API const char *ims_fault_last_point(void);

/*
 * Bytes and objects currently allocated by ims (exact when no allocation is
 * in flight), the highest byte count any call of ims_mem_stats() has seen,
 * and allocations made since start. Threads count separately and cheaply;
 * this call sums them.
 */
struct ims_mem_stats {
	uint64_t bytes;
	uint64_t objects;
	uint64_t peak_bytes;
	uint64_t total_allocs;
};
IMS_API void ims_mem_stats(struct ims_mem_stats *out);

#ifdef __cplusplus
}
#endif
#endif /* IMS_COMMON_H */
