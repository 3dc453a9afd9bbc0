/*
 * The simulated machine in threaded mode: CPU threads accepting and
 * dispatching, device threads raising their vectors, a control thread
 * meanwhile masking, unmasking and moving them, destroying and recreating
 * ADIs under fire, posting ADIs to guests and back, and descheduling
 * vCPUs. At the end, on a quiet
 * machine, every raise made while unmasked was handled, no handler ran for
 * a raise that was not its own, and every counter equals its recount.
 * The same on the ARM machine, where CPU threads take LPIs through the
 * ITS driver's dispatch while the control thread moves events (MOVI) and
 * destroys ADIs under fire (no guests there). Small enough for
 * ThreadSanitizer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <ims/sim.h>

static bool sanitized(void)
{
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	return true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
	return true;
#else
	return false;
#endif
#else
	return false;
#endif
}

static void threaded_run(enum ims_sim_arch arch, enum ims_sim_device device)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;
	const uint64_t fires = sanitized() ? 10000 : 20000;

	ims_sim_config_default(&cfg);
	cfg.arch = arch;
	cfg.device = device;
	cfg.threads = 5;		/* 2 device threads, 2 CPU threads, 1 control thread */
	cfg.steps = fires;
	cfg.adis = 4;
	cfg.vectors_per_adi = 4;
	cfg.quiet = true;
	for (uint64_t seed = 1; seed <= 2; seed++) {
		cfg.seed = seed;
		assert_int_equal(ims_sim_run(&cfg, NULL, &res), 0);
		if (res.violation)
			fail_msg("seed %llu: %s: %s", (unsigned long long)seed,
				 ims_sim_violation_name(res.violation), res.violation_msg);
		/*
		 * The run ends by a count of raises, not by time: every one
		 * the device threads were given is made, however the threads
		 * were scheduled (a refused raise is tried again).
		 */
		assert_int_equal(res.fired, fires);
		assert_true(res.delivered > 0 && res.delivered <= res.fired);
		if (arch == IMS_SIM_ARCH_X86 && device == IMS_SIM_DEVICE_SIMPLE)
			assert_true(res.delivered_guest > 0);
		else
			assert_int_equal(res.delivered_guest, 0);
		assert_int_equal(res.misdelivered + res.after_free + res.lost, 0);
		print_message("%s%s seed %llu: %llu raised, %llu handled, %llu absorbed on the way\n",
			      arch == IMS_SIM_ARCH_ARM ? "arm" : "x86",
			      device == IMS_SIM_DEVICE_ACCEL ? " accel" : "", (unsigned long long)seed,
			      (unsigned long long)res.fired,
			      (unsigned long long)res.delivered, (unsigned long long)res.coalesced);
		ims_sim_result_free(&res);
	}
}

static void threaded_run_loses_and_misdelivers_nothing(void **state)
{
	(void)state;
	threaded_run(IMS_SIM_ARCH_X86, IMS_SIM_DEVICE_SIMPLE);
}

static void threaded_arm_run_loses_and_misdelivers_nothing(void **state)
{
	(void)state;
	threaded_run(IMS_SIM_ARCH_ARM, IMS_SIM_DEVICE_SIMPLE);
}

/*
 * The accelerator: device threads submit descriptors, the device's own
 * thread completes them, CPU threads run the driver's handlers, which
 * report each completion; ADIs are destroyed with work queued.
 */
static void threaded_accel_runs_lose_and_misdeliver_nothing(void **state)
{
	(void)state;
	threaded_run(IMS_SIM_ARCH_X86, IMS_SIM_DEVICE_ACCEL);
	threaded_run(IMS_SIM_ARCH_ARM, IMS_SIM_DEVICE_ACCEL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(threaded_run_loses_and_misdelivers_nothing),
		cmocka_unit_test(threaded_arm_run_loses_and_misdelivers_nothing),
		cmocka_unit_test(threaded_accel_runs_lose_and_misdeliver_nothing),
	};

	return cmocka_run_group_tests_name("sim_mt", tests, NULL, NULL);
}
