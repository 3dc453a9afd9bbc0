/*
 * Internal logging and error reporting. ims__error() records the message as
 * the thread's last error and returns the errno it was given, so that error
 * paths read as one line:
 *
 *	return ims__error(-EINVAL, "irq %u: no descriptor", irq);
 */
#ifndef IMS_UTIL_LOG_H
#define IMS_UTIL_LOG_H

#include <ims/common.h>
#include <stdatomic.h>

#include "util/compiler.h"

int ims__error(int err, const char *fmt, ...) IMS_PRINTF(2, 3);
void ims__warn(const char *fmt, ...) IMS_PRINTF(1, 2);
void ims__info(const char *fmt, ...) IMS_PRINTF(1, 2);
void ims__debug(const char *fmt, ...) IMS_PRINTF(1, 2);

/* Warn the first time only; later hits are counted but silent. */
#define ims__warn_once(...)                                                   \
	do {                                                                  \
		static atomic_flag ims__once_ = ATOMIC_FLAG_INIT;             \
		if (!atomic_flag_test_and_set_explicit(&ims__once_,           \
						       memory_order_relaxed)) \
			ims__warn(__VA_ARGS__);                               \
		else                                                          \
			ims__warn_count_inc();                                \
	} while (0)

void ims__warn_count_inc(void);

#endif
