/*
 * The fail-Nth loop: run an operation with the Nth fault point failing, for
 * N = 1, 2, ... until it runs with no fault injected. Every attempt that
 * fails must leave memory accounting and the caller's state check exactly as
 * they were before the attempt.
 */
#ifndef IMS_TEST_FAIL_NTH_H
#define IMS_TEST_FAIL_NTH_H

#include <stdint.h>

struct fail_nth_ops {
	/* The operation: 0 (or >= 0) on success, negative errno on failure. */
	int (*op)(void *ctx);
	/* Undo a successful op, so the next attempt starts from the same state. */
	void (*undo)(void *ctx);
	/*
	 * Compare the state with the one before the first attempt (the
	 * caller snapshots it in ctx); 0 if equal. Optional.
	 */
	int (*check)(void *ctx);
	/* Only fault points starting with this prefix count; NULL for all. */
	const char *prefix;
};

struct fail_nth_result {
	uint64_t attempts;	/* runs with a fault injected */
	uint64_t failures;	/* of those, runs where op reported failure */
	uint64_t points;	/* fault points reached by the clean run */
};

/*
 * Runs the loop and fails the current cmocka test on any leak, change of
 * state, or success reported with a half-done state.
 */
struct fail_nth_result fail_nth_run(const struct fail_nth_ops *ops, void *ctx);

#endif
