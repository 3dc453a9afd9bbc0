/*
 * The fail-Nth loop; see fail_nth.h.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>
#include <ims/common.h>

#include "helpers/fail_nth.h"

struct fail_nth_result fail_nth_run(const struct fail_nth_ops *ops, void *ctx)
{
	struct fail_nth_result r = { 0, 0, 0 };
	uint64_t n;

	for (n = 1;; n++) {
		struct ims_mem_stats before, after;
		uint64_t injected;
		int ret;

		ims_mem_stats(&before);
		ims_fault_arm_nth(n, ops->prefix);
		ret = ops->op(ctx);
		injected = ims_fault_injected();
		if (!injected)
			r.points = ims_fault_points_hit();
		ims_fault_disarm();

		if (!injected) {
			if (ret < 0)
				fail_msg("clean run (no fault, n=%llu) failed: %d (%s)",
					 (unsigned long long)n, ret, ims_last_error());
			if (ops->undo)
				ops->undo(ctx);
			break;
		}
		r.attempts++;
		if (ret >= 0) {
			/* The failure was absorbed (a fallback path): fine, as
			 * long as the result is whole; undo it. */
			if (ops->undo)
				ops->undo(ctx);
		} else {
			r.failures++;
			ims_mem_stats(&after);
			if (after.bytes != before.bytes || after.objects != before.objects)
				fail_msg("fault at point %llu (%s): leak of %lld bytes in %lld objects",
					 (unsigned long long)n, ims_fault_last_point(),
					 (long long)(after.bytes - before.bytes),
					 (long long)(after.objects - before.objects));
		}
		if (ops->check && ops->check(ctx))
			fail_msg("fault at point %llu (%s): state changed: %s", (unsigned long long)n,
				 ims_fault_last_point(), ims_last_error());
		if (n > 1000000)
			fail_msg("fail-Nth loop did not converge");
	}
	return r;
}
