/*
 * Error messages and the log sink. The last error is per thread so that
 * concurrent callers each read their own.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

static _Thread_local char last_error[256];
static ims_log_fn log_fn;
static void *log_ctx;
static enum ims_log_level log_max = IMS_LOG_WARN;
static atomic_uint_fast64_t warn_count;

IMS_API const char *ims_last_error(void)
{
	return last_error;
}

IMS_API void ims_clear_error(void)
{
	last_error[0] = '\0';
}

IMS_API void ims_set_log(ims_log_fn fn, enum ims_log_level max_level, void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
	log_max = fn ? max_level : IMS_LOG_WARN;
}

IMS_API uint64_t ims_warn_count(void)
{
	return atomic_load_explicit(&warn_count, memory_order_relaxed);
}

void ims__warn_count_inc(void)
{
	atomic_fetch_add_explicit(&warn_count, 1, memory_order_relaxed);
}

static void emit(enum ims_log_level level, const char *msg)
{
	if (level > log_max)
		return;
	if (log_fn)
		log_fn(level, msg, log_ctx);
	else if (level != IMS_LOG_ERR)
		fprintf(stderr, "ims: %s%s\n", level == IMS_LOG_WARN ? "warning: " : "", msg);
}

int ims__error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	emit(IMS_LOG_ERR, last_error);
	return err;
}

#define LOG_BODY(level)                              \
	do {                                         \
		char buf[256];                       \
		va_list ap;                          \
		if ((level) > log_max)               \
			return;                      \
		va_start(ap, fmt);                   \
		vsnprintf(buf, sizeof(buf), fmt, ap); \
		va_end(ap);                          \
		emit((level), buf);                  \
	} while (0)

void ims__warn(const char *fmt, ...)
{
	ims__warn_count_inc();
	LOG_BODY(IMS_LOG_WARN);
}

void ims__info(const char *fmt, ...)
{
	LOG_BODY(IMS_LOG_INFO);
}

void ims__debug(const char *fmt, ...)
{
	LOG_BODY(IMS_LOG_DEBUG);
}
