/*
 * The simulated machine and its deterministic scheduler: construction and
 * teardown leave nothing behind, every failed allocation while building
 * unwinds, one seed gives one trace, seeded runs keep every invariant, and
 * the checker catches deliberately injected bugs, naming seed and step and
 * giving a short trace.
 *
 * The same tests run in four groups: the x86 machine (remapping units,
 * vectors, local APICs) and the ARM machine (a GICv3 ITS), each with the
 * simple IMS device and with the reference accelerator. What a platform
 * or device does not have (posted delivery on arm, the chip's bug hooks
 * in the accelerator's driver) is skipped with a message saying so.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "backend/sim/sim_internal.h"
#include "hw/lapic.h"
#include "helpers/fail_nth.h"

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

/* The machine of the running group. */
static struct variant {
	enum ims_sim_arch arch;
	enum ims_sim_device device;
	const char *name;
} V;

static int group_x86(void **state)
{
	(void)state;
	V = (struct variant){ IMS_SIM_ARCH_X86, IMS_SIM_DEVICE_SIMPLE, "x86" };
	return 0;
}

static int group_arm(void **state)
{
	(void)state;
	V = (struct variant){ IMS_SIM_ARCH_ARM, IMS_SIM_DEVICE_SIMPLE, "arm" };
	return 0;
}

static int group_x86_accel(void **state)
{
	(void)state;
	V = (struct variant){ IMS_SIM_ARCH_X86, IMS_SIM_DEVICE_ACCEL, "x86 accel" };
	return 0;
}

static int group_arm_accel(void **state)
{
	(void)state;
	V = (struct variant){ IMS_SIM_ARCH_ARM, IMS_SIM_DEVICE_ACCEL, "arm accel" };
	return 0;
}

/* Posted delivery: x86 with the simple device (docs/sim.md). */
static bool posting(void)
{
	return V.arch == IMS_SIM_ARCH_X86 && V.device == IMS_SIM_DEVICE_SIMPLE;
}

/* The chip bug hooks live in the simple device's chip. */
static bool chip_bugs(void)
{
	return V.device == IMS_SIM_DEVICE_SIMPLE;
}

#define SKIP_UNLESS(cond, why)                                                  \
	do {                                                                    \
		if (!(cond)) {                                                  \
			print_message("%s: not applicable (%s)\n", V.name, why); \
			return;                                                 \
		}                                                               \
	} while (0)

static void small_config(struct ims_sim_config *cfg, uint64_t seed, uint64_t steps)
{
	ims_sim_config_default(cfg);
	cfg->seed = seed;
	cfg->steps = steps;
	cfg->quiet = true;
	cfg->arch = V.arch;
	cfg->device = V.device;
}

/* ---- construction ---- */

static void machine_build_and_teardown_leave_nothing(void **state)
{
	struct ims_sim_config cfg;
	struct ims_mem_stats before, after;
	struct sim_machine *m;

	(void)state;
	small_config(&cfg, 1, 1);
	ims_mem_stats(&before);
	assert_int_equal(ims__sim_machine_create(&cfg, SIM_BUG_NONE, &m), 0);
	assert_int_equal(ims__sim_check_counts(m), 0);
	/* Something to tear down: ADIs, one of them posted, and interrupts on their way. */
	assert_int_equal(ims__sim_adi_create(m, 0, 0), 0);
	assert_int_equal(ims__sim_adi_create(m, 0, 3), 0);
	if (posting())
		assert_int_equal(ims__sim_adi_post(m, 0, 3, 1, 0), 0);
	for (uint32_t j = 0; j < cfg.vectors_per_adi; j++) {
		ims__sim_fire(m, &m->vecs[sim_adi_at(m, 0, 0)->first_vec + j]);
		ims__sim_fire(m, &m->vecs[sim_adi_at(m, 0, 3)->first_vec + j]);
	}
	assert_int_equal(ims__sim_check_counts(m), 0);
	ims__sim_machine_destroy(m);
	ims_mem_stats(&after);
	assert_int_equal(after.bytes, before.bytes);
	assert_int_equal(after.objects, before.objects);
}

struct build_ctx {
	struct ims_sim_config cfg;
	struct sim_machine *m;
};

static int build_op(void *ctx)
{
	struct build_ctx *b = ctx;

	return ims__sim_machine_create(&b->cfg, SIM_BUG_NONE, &b->m);
}

static void build_undo(void *ctx)
{
	struct build_ctx *b = ctx;

	ims__sim_machine_destroy(b->m);
	b->m = NULL;
}

static void machine_build_unwinds_at_every_failed_allocation(void **state)
{
	struct build_ctx b;
	struct fail_nth_ops ops = { .op = build_op, .undo = build_undo };
	struct fail_nth_result r;

	(void)state;
	small_config(&b.cfg, 1, 1);
	b.cfg.ims_slots = 64;		/* the same structure, fewer points to walk */
	b.cfg.adis = 4;
	r = fail_nth_run(&ops, &b);
	assert_true(r.attempts > 50);
	assert_int_equal(r.failures, r.attempts);
	print_message("machine build: %llu allocation points, each failed once, nothing leaked\n",
		      (unsigned long long)r.points);
}

/* ---- determinism ---- */

static uint64_t trace_hash_of(uint64_t seed, uint64_t steps)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;
	uint64_t h;

	small_config(&cfg, seed, steps);
	assert_int_equal(ims_sim_run(&cfg, NULL, &res), 0);
	assert_int_equal(res.violation, IMS_SIM_OK);
	h = res.trace_hash;
	ims_sim_result_free(&res);
	return h;
}

static void same_seed_gives_same_trace(void **state)
{
	uint64_t steps = sanitized() ? 2000 : 5000;

	(void)state;
	assert_int_equal(trace_hash_of(42, steps), trace_hash_of(42, steps));
	assert_int_not_equal(trace_hash_of(42, steps), trace_hash_of(43, steps));
}

/* ---- clean runs ---- */

static void seeded_runs_keep_every_invariant(void **state)
{
	uint64_t steps = sanitized() ? 3000 : 10000, total_fired = 0, total_guest = 0, total_steps = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 6; seed++) {
		struct ims_sim_config cfg;
		struct ims_sim_result res;

		small_config(&cfg, seed, steps);
		assert_int_equal(ims_sim_run(&cfg, NULL, &res), 0);
		if (res.violation)
			fail_msg("seed %llu: %s at step %llu: %s", (unsigned long long)seed,
				 ims_sim_violation_name(res.violation), (unsigned long long)res.violation_step,
				 res.violation_msg);
		assert_int_equal(res.steps, steps);
		assert_int_equal(res.invariant_violations, 0);
		assert_int_equal(res.misdelivered + res.after_free + res.cross_guest + res.lost, 0);
		assert_true(res.fired > steps / 4);
		assert_true(res.delivered > 0 && res.delivered <= res.fired);
		assert_true(res.irtes_used > 0 && res.ims_vectors_allocated > 0);
		assert_true(res.max_vectors_used_per_cpu > 0);
		assert_true(res.vectors_per_cpu.points > 0);
		assert_int_equal(res.faults, 0);
		if (posting()) {
			uint64_t guest = 0;

			assert_true(res.delivered_guest > 0);
			assert_int_equal(res.nr_vcpus, 4);
			for (uint32_t i = 0; i < res.nr_vcpus * 256; i++)
				guest += res.vcpu_vector[i];
			assert_int_equal(guest, res.delivered_guest);
		} else {
			assert_int_equal(res.delivered_guest, 0);
		}
		if (V.arch == IMS_SIM_ARCH_ARM)
			assert_int_equal(res.nr_vcpus, 0);	/* guests map to host delivery */
		total_fired += res.fired;
		total_guest += res.delivered_guest;
		total_steps += res.steps;
		ims_sim_result_free(&res);
	}
	print_message("%s: 6 seeds, %llu steps, %llu interrupts raised (%llu taken by guests), no violation\n",
		      V.name, (unsigned long long)total_steps, (unsigned long long)total_fired,
		      (unsigned long long)total_guest);
}

/*
 * Long runs: 10^6 steps at three seeds, the full recounts every 256 steps
 * (the model's own checks, and quiescence at every drain, as always).
 */
static void million_step_runs_keep_every_invariant(void **state)
{
	uint64_t steps = sanitized() ? 100000 : 1000000, fired = 0, last = 103;

	(void)state;
	if (V.device == IMS_SIM_DEVICE_ACCEL)	/* one seed: the test's time stays bounded */
		last = 101;
	for (uint64_t seed = 101; seed <= last; seed++) {
		struct ims_sim_config cfg;
		struct ims_sim_result res;

		small_config(&cfg, seed, steps);
		cfg.check_every = 256;
		assert_int_equal(ims_sim_run(&cfg, NULL, &res), 0);
		if (res.violation)
			fail_msg("seed %llu: %s at step %llu: %s", (unsigned long long)seed,
				 ims_sim_violation_name(res.violation), (unsigned long long)res.violation_step,
				 res.violation_msg);
		assert_int_equal(res.steps, steps);
		fired += res.fired;
		ims_sim_result_free(&res);
	}
	print_message("%s: %llu seed(s) x %llu steps, %llu interrupts raised, no violation\n", V.name,
		      (unsigned long long)(last - 100), (unsigned long long)steps, (unsigned long long)fired);
}

/* Injected allocation failures: control operations refused, never a half state. */
static void runs_under_injected_faults_keep_every_invariant(void **state)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;

	(void)state;
	small_config(&cfg, 7, sanitized() ? 2000 : 6000);
	cfg.fault_rate = 20;
	assert_int_equal(ims_sim_run(&cfg, NULL, &res), 0);
	if (res.violation)
		fail_msg("%s at step %llu: %s", ims_sim_violation_name(res.violation),
			 (unsigned long long)res.violation_step, res.violation_msg);
	assert_true(res.injected_faults > 0);
	assert_true(res.alloc_failures > 0);
	ims_sim_result_free(&res);
}

/* A bigger, busier machine: several devices and units, vectors running out. */
static void crowded_machine_keeps_every_invariant(void **state)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;

	(void)state;
	small_config(&cfg, 11, sanitized() ? 2000 : 8000);
	cfg.cpus = 2;
	cfg.devices = 3;
	cfg.adis = 16;
	cfg.vectors_per_adi = 32;
	cfg.guests = 3;
	cfg.vcpus = 3;
	cfg.posted_percent = 20;
	assert_int_equal(ims_sim_run(&cfg, NULL, &res), 0);
	if (res.violation)
		fail_msg("%s at step %llu: %s", ims_sim_violation_name(res.violation),
			 (unsigned long long)res.violation_step, res.violation_msg);
	if (V.arch == IMS_SIM_ARCH_X86) {
		/* 2 CPUs hold ~400 device vectors: some ADIs did not fit. */
		assert_true(res.alloc_failures > 0);
		assert_true(res.max_vectors_used_per_cpu > 100);
	} else {
		/* LPIs are one flat space: more than x86's vectors of 2 CPUs fit. */
		assert_true(res.ims_vectors_allocated > 400);
		assert_true(res.irtes_used > 400);
	}
	ims_sim_result_free(&res);
}

/* A machine from an explicit description: APIC IDs and device placement. */
static void described_machine_places_cpus_and_devices(void **state)
{
	static const uint32_t apic_ids[4] = { 5, 9, 1, 3 };
	static const uint32_t device_unit[3] = { 1, 1, 0 };
	struct ims_sim_config cfg;
	struct ims_sim_result res;
	struct sim_machine *m;
	bool bus_0x11 = false, bus_0x12 = false, bus_0x01 = false;

	(void)state;
	small_config(&cfg, 3, 4000);
	cfg.devices = 3;
	cfg.adis = 4;
	cfg.apic_ids = apic_ids;
	cfg.device_unit = device_unit;
	if (V.arch == IMS_SIM_ARCH_ARM) {
		/* No APICs, no units: device d is bus d + 1, its DeviceID. */
		assert_int_equal(ims__sim_machine_create(&cfg, SIM_BUG_NONE, &m), 0);
		assert_null(m->bus);
		assert_null(m->vd);
		assert_non_null(m->its);
		for (uint32_t d = 0; d < 3; d++)
			assert_int_equal(m->dev_rid[d], (d + 1) << 8);
		ims__sim_machine_destroy(m);
		assert_int_equal(ims_sim_run(&cfg, NULL, &res), 0);
		assert_int_equal(res.violation, IMS_SIM_OK);
		for (uint32_t i = 0; i < res.nr_rows; i++)
			assert_ptr_equal(strstr(res.rows[i].domain, "ITS-"), res.rows[i].domain);
		assert_true(res.nr_rows > 0);
		ims_sim_result_free(&res);
		return;
	}
	assert_int_equal(ims__sim_machine_create(&cfg, SIM_BUG_NONE, &m), 0);
	for (uint32_t c = 0; c < 4; c++)
		assert_int_equal(ims__lapic_id(ims__apic_bus_lapic(m->bus, c)), apic_ids[c]);
	/* Unit u covers buses 16u..16u+15: the devices are numbered from there. */
	assert_int_equal(m->dev_rid[0], 0x1100);
	assert_int_equal(m->dev_rid[1], 0x1200);
	assert_int_equal(m->dev_rid[2], 0x0100);
	ims__sim_machine_destroy(m);
	assert_int_equal(ims_sim_run(&cfg, NULL, &res), 0);
	assert_int_equal(res.violation, IMS_SIM_OK);
	for (uint32_t i = 0; i < res.nr_rows; i++) {
		bus_0x11 |= !strcmp(res.rows[i].device, "0000:11:00.0") &&
			    strstr(res.rows[i].domain, "IR-1-") == res.rows[i].domain;
		bus_0x12 |= !strcmp(res.rows[i].device, "0000:12:00.0");
		bus_0x01 |= !strcmp(res.rows[i].device, "0000:01:00.0") &&
			    strstr(res.rows[i].domain, "IR-0-") == res.rows[i].domain;
	}
	assert_true(bus_0x11 && bus_0x12 && bus_0x01);
	ims_sim_result_free(&res);
}

/* ---- the checker catches bugs ---- */

/* kind2: a second acceptable kind (the bug shows one way or the other), or OK. */
static void expect_caught2(enum sim_bug bug, enum ims_sim_violation_kind kind,
			   enum ims_sim_violation_kind kind2)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;

	small_config(&cfg, 5, 10000);
	assert_int_equal(ims__sim_run_bug(&cfg, bug, NULL, &res), 0);
	if (res.violation != kind && (kind2 == IMS_SIM_OK || res.violation != kind2))
		fail_msg("bug %d: expected %s, got %s", bug, ims_sim_violation_name(kind),
			 ims_sim_violation_name(res.violation));
	kind = res.violation;
	assert_int_equal(res.invariant_violations, 1);
	assert_int_equal(res.seed, 5);
	assert_true(res.violation_step < cfg.steps);
	assert_true(res.steps == res.violation_step + 1);	/* the run stopped there */
	assert_non_null(strstr(res.violation_msg, "step "));
	assert_non_null(res.min_trace);
	assert_true(res.min_trace_ops >= 1 && res.min_trace_ops <= res.violation_step + 1);
	assert_true(res.min_trace_ops <= 6);			/* the shrinker found a short one */
	print_message("%s: %s caught at step %llu, shrunk to %llu operations:\n%s", V.name,
		      ims_sim_violation_name(kind), (unsigned long long)res.violation_step,
		      (unsigned long long)res.min_trace_ops, res.min_trace);
	ims_sim_result_free(&res);
}

static void expect_caught(enum sim_bug bug, enum ims_sim_violation_kind kind)
{
	expect_caught2(bug, kind, IMS_SIM_OK);
}

static void checker_catches_a_dropped_unmask(void **state)
{
	(void)state;
	SKIP_UNLESS(chip_bugs(), "the bug hook is in the simple device's chip");
	expect_caught(SIM_BUG_DROP_UNMASK, IMS_SIM_LOST);
}

static void checker_catches_a_message_in_the_wrong_slot(void **state)
{
	(void)state;
	SKIP_UNLESS(chip_bugs(), "the bug hook is in the simple device's chip");
	expect_caught(SIM_BUG_WRONG_SLOT, IMS_SIM_MISDELIVERED);
}

static void checker_catches_posting_into_another_guest(void **state)
{
	(void)state;
	SKIP_UNLESS(posting(), "no posted delivery");
	expect_caught(SIM_BUG_CROSS_GUEST, IMS_SIM_CROSS_GUEST);
}

/*
 * A guest vector given back (unpost, or the guest writing a new vector into
 * its MSI-X entry) before the vCPU took what was posted under it: the
 * stale bit reaches a guest vector with no owner, or its next owner.
 */
static void checker_catches_a_guest_vector_reused_early(void **state)
{
	(void)state;
	SKIP_UNLESS(posting(), "no posted delivery");
	expect_caught2(SIM_BUG_EARLY_REUSE, IMS_SIM_CROSS_GUEST, IMS_SIM_MISDELIVERED);
}

/*
 * The accelerator's descriptors name the neighbouring vector: the
 * completion reaches the other vector's handler, which finds a record it
 * does not own.
 */
static void checker_catches_a_completion_on_the_wrong_vector(void **state)
{
	(void)state;
	SKIP_UNLESS(V.device == IMS_SIM_DEVICE_ACCEL, "the bug hook is in the accelerator device");
	expect_caught(SIM_BUG_ACCEL_WRONG_VECTOR, IMS_SIM_MISDELIVERED);
}

/*
 * The ITS driver forgets INV after writing an LPI's configuration: the
 * redistributor's cache still says disabled, the LPI stays pending and
 * never reaches a CPU.
 */
static void checker_catches_a_skipped_its_invalidation(void **state)
{
	(void)state;
	SKIP_UNLESS(V.arch == IMS_SIM_ARCH_ARM, "the bug hook is in the ITS driver");
	expect_caught(SIM_BUG_ITS_NO_INV, IMS_SIM_LOST);
}

/* The shrunk trace reproduces the violation on its own. */
static void violation_is_reported_with_seed_and_step(void **state)
{
	struct ims_sim_config cfg;
	struct ims_sim_result a, b;

	(void)state;
	SKIP_UNLESS(chip_bugs(), "the bug hook is in the simple device's chip");
	small_config(&cfg, 9, 5000);
	cfg.shrink = false;
	assert_int_equal(ims__sim_run_bug(&cfg, SIM_BUG_DROP_UNMASK, NULL, &a), 0);
	assert_int_equal(ims__sim_run_bug(&cfg, SIM_BUG_DROP_UNMASK, NULL, &b), 0);
	assert_int_equal(a.violation, IMS_SIM_LOST);
	/* Without shrinking the trace is the whole prefix up to the violation. */
	assert_int_equal(a.min_trace_ops, a.violation_step + 1);
	/* And the same seed fails at the same step with the same message. */
	assert_int_equal(a.violation_step, b.violation_step);
	assert_string_equal(a.violation_msg, b.violation_msg);
	ims_sim_result_free(&a);
	ims_sim_result_free(&b);
}

/* ---- configuration ---- */

static void expect_refused(struct ims_sim_config cfg, int err, const char *word)
{
	struct ims_sim_result res;

	assert_int_equal(ims_sim_config_validate(&cfg), err);
	assert_non_null(strstr(ims_last_error(), word));
	assert_int_equal(ims_sim_run(&cfg, NULL, &res), err);
}

static void config_errors_name_the_dimension(void **state)
{
	struct ims_sim_config base, c;

	(void)state;
	SKIP_UNLESS(V.arch == IMS_SIM_ARCH_X86 && V.device == IMS_SIM_DEVICE_SIMPLE,
		    "the configuration is checked once, in the x86 group");
	small_config(&base, 1, 10);
	assert_int_equal(ims_sim_config_validate(&base), 0);
	c = base, c.cpus = 0, expect_refused(c, -EINVAL, "cpus");
	c = base, c.cpus = 65, expect_refused(c, -EINVAL, "cpus");
	c = base, c.ir_units = 9, expect_refused(c, -EINVAL, "ir_units");
	c = base, c.devices = 0, expect_refused(c, -EINVAL, "devices");
	c = base, c.devices = 20, c.ir_units = 1, expect_refused(c, -EINVAL, "remapping units");
	c = base, c.adis = 0, expect_refused(c, -EINVAL, "adis");
	c = base, c.vectors_per_adi = 65, expect_refused(c, -EINVAL, "vectors_per_adi");
	c = base, c.adis = 300, expect_refused(c, -EINVAL, "IMS slots");
	c = base, c.ims_slots = 20000, expect_refused(c, -EINVAL, "ims_slots");
	c = base, c.msix_vectors = 2049, expect_refused(c, -EINVAL, "msix_vectors");
	c = base, c.guests = 17, expect_refused(c, -EINVAL, "guests");
	c = base, c.vcpus = 0, expect_refused(c, -EINVAL, "vcpus");
	c = base, c.posted_percent = 101, expect_refused(c, -EINVAL, "posted_percent");
	c = base, c.steps = 0, expect_refused(c, -EINVAL, "steps");
	c = base, c.threads = 2, expect_refused(c, -EINVAL, "threads");
	c = base, c.storage = IMS_SIM_STORAGE_QUEUE, expect_refused(c, -EOPNOTSUPP, "queue");
	c = base, c.backend = (enum ims_sim_backend)7, expect_refused(c, -EINVAL, "backend");
	c = base, c.threads = 4, c.backend = IMS_SIM_BACKEND_KVM, expect_refused(c, -EOPNOTSUPP, "threaded");
	c = base, c.threads = 4, c.fault_rate = 10, expect_refused(c, -EOPNOTSUPP, "fault_rate");
	c = base, c.kvm_irqfd = true, expect_refused(c, -EINVAL, "kvm_irqfd");
	c = base, c.arch = IMS_SIM_ARCH_ARM, c.backend = IMS_SIM_BACKEND_KVM,
		expect_refused(c, -EOPNOTSUPP, "x86 only");
	c = base, c.arch = (enum ims_sim_arch)2, expect_refused(c, -EINVAL, "arch 2");
	c = base, c.device = (enum ims_sim_device)5, expect_refused(c, -EINVAL, "device 5");
	/* What is x86's does not bind an ARM machine: no remapping units there. */
	c = base, c.arch = IMS_SIM_ARCH_ARM, c.devices = 20, c.ir_units = 1;
	assert_int_equal(ims_sim_config_validate(&c), 0);
	c = base, c.arch = IMS_SIM_ARCH_ARM;
	assert_int_equal(ims_sim_config_validate(&c), 0);
	c = base, c.device = IMS_SIM_DEVICE_ACCEL;
	assert_int_equal(ims_sim_config_validate(&c), 0);
	{
		static const uint32_t dup[4] = { 0, 2, 2, 6 }, big[4] = { 0, 2, 255, 6 };
		static const uint32_t unit_bad[1] = { 2 };

		c = base, c.apic_ids = dup, expect_refused(c, -EINVAL, "both have APIC ID 2");
		c = base, c.apic_ids = big, expect_refused(c, -EINVAL, "APIC ID 255");
		c = base, c.device_unit = unit_bad, expect_refused(c, -EINVAL, "remapping unit 2");
	}
	assert_int_equal(ims_sim_config_validate(NULL), -EINVAL);
	/* No guests: vcpus does not matter. */
	c = base, c.guests = 0, c.vcpus = 0;
	assert_int_equal(ims_sim_config_validate(&c), 0);
}

/* ---- the demo ---- */

struct demo_log {
	unsigned int events[IMS_SIM_EV_SUMMARY + 1];
};

static void demo_event(void *ctx, enum ims_sim_event_kind kind, const char *text)
{
	struct demo_log *l = ctx;

	assert_true(strlen(text) > 0);
	l->events[kind]++;
}

static void demo_narrates_every_step_and_ends_clean(void **state)
{
	struct demo_log log = { { 0 } };
	struct ims_sim_result res;
	struct ims_mem_stats before, after;

	(void)state;
	struct ims_sim_config cfg;

	small_config(&cfg, 1, 1);
	ims_mem_stats(&before);
	assert_int_equal(ims_sim_demo(posting() ? NULL : &cfg, demo_event, &log, &res), 0);
	ims_mem_stats(&after);
	assert_int_equal(after.bytes, before.bytes);
	assert_int_equal(res.violation, IMS_SIM_OK);
	for (int k = IMS_SIM_EV_MACHINE; k <= IMS_SIM_EV_SUMMARY; k++)
		if (k != IMS_SIM_EV_UNPOST || posting())
			assert_true(log.events[k] > 0);
	/* 4 ADIs of 8, and the simple device's MSI-X vector */
	assert_true(res.nr_rows >= (V.device == IMS_SIM_DEVICE_SIMPLE ? 33u : 32u));
	assert_true(posting() ? res.delivered_guest > 0 : res.delivered_guest == 0);
	assert_true(res.fired > 100 && res.delivered > 100);
	assert_int_equal(res.lost, 0);
	ims_sim_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(machine_build_and_teardown_leave_nothing),
		cmocka_unit_test(machine_build_unwinds_at_every_failed_allocation),
		cmocka_unit_test(same_seed_gives_same_trace),
		cmocka_unit_test(seeded_runs_keep_every_invariant),
		cmocka_unit_test(million_step_runs_keep_every_invariant),
		cmocka_unit_test(runs_under_injected_faults_keep_every_invariant),
		cmocka_unit_test(crowded_machine_keeps_every_invariant),
		cmocka_unit_test(described_machine_places_cpus_and_devices),
		cmocka_unit_test(checker_catches_a_dropped_unmask),
		cmocka_unit_test(checker_catches_a_message_in_the_wrong_slot),
		cmocka_unit_test(checker_catches_posting_into_another_guest),
		cmocka_unit_test(checker_catches_a_guest_vector_reused_early),
		cmocka_unit_test(checker_catches_a_completion_on_the_wrong_vector),
		cmocka_unit_test(checker_catches_a_skipped_its_invalidation),
		cmocka_unit_test(violation_is_reported_with_seed_and_step),
		cmocka_unit_test(config_errors_name_the_dimension),
		cmocka_unit_test(demo_narrates_every_step_and_ends_clean),
	};

	int failed = 0;

	failed += cmocka_run_group_tests_name("sim x86", tests, group_x86, NULL);
	failed += cmocka_run_group_tests_name("sim arm", tests, group_arm, NULL);
	failed += cmocka_run_group_tests_name("sim x86 accel", tests, group_x86_accel, NULL);
	failed += cmocka_run_group_tests_name("sim arm accel", tests, group_arm_accel, NULL);
	return failed;
}
