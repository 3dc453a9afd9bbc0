/*
 * The simulated machine on KVM: the same seeded scenario run on the local
 * APIC models and on KVM's in-kernel local APICs, where KVM decides which
 * vCPU and vector each message reaches, gives the same trace and the same
 * per-CPU, per-vector delivery counts, whether messages go to KVM with
 * KVM_SIGNAL_MSI or through irqfd and GSI routes. Skipped, saying why, where /dev/kvm
 * is missing or unusable.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>
#include <ims/sim.h>

#include "backend/kvm.h"
#include "helpers/skip.h"

/*
 * The kvm backend's sink posts messages (backend/kvm.h): after every step
 * the machine must have signalled them all, none left queued on this
 * thread. Counts the steps that left some.
 */
static void after_step(void *ctx, uint64_t step, const char *line)
{
	(void)step;
	(void)line;
	if (ims__kvm_posted())
		++*(uint64_t *)ctx;
}

static void run_checked(const struct ims_sim_config *cfg, struct ims_sim_result *res)
{
	uint64_t left = 0;
	struct ims_sim_callbacks cb = { .trace = after_step, .ctx = &left };

	assert_int_equal(ims_sim_run(cfg, &cb, res), 0);
	if (left)
		fail_msg("%llu steps left posted messages unsignalled", (unsigned long long)left);
}

static void run_irqfd(enum ims_sim_backend b, bool irqfd, uint64_t seed, uint64_t steps,
		      struct ims_sim_result *res)
{
	struct ims_sim_config cfg;

	ims_sim_config_default(&cfg);
	cfg.backend = b;
	cfg.kvm_irqfd = irqfd;
	cfg.seed = seed;
	cfg.steps = steps;
	cfg.quiet = true;
	run_checked(&cfg, res);
	if (res->violation)
		fail_msg("%s backend, seed %llu: %s at step %llu: %s", b ? "kvm" : "sim",
			 (unsigned long long)seed, ims_sim_violation_name(res->violation),
			 (unsigned long long)res->violation_step, res->violation_msg);
}

static void run(enum ims_sim_backend b, uint64_t seed, uint64_t steps, struct ims_sim_result *res)
{
	run_irqfd(b, false, seed, steps, res);
}

static void kvm_and_simulated_apics_deliver_alike(void **state)
{
	uint64_t compared = 0;

	(void)state;
	for (uint64_t seed = 1; seed <= 3; seed++) {
		struct ims_sim_result s, k;

		run(IMS_SIM_BACKEND_SIM, seed, 3000, &s);
		run(IMS_SIM_BACKEND_KVM, seed, 3000, &k);
		assert_int_equal(s.cpus, k.cpus);
		for (uint32_t i = 0; i < s.cpus * 256; i++) {
			if (s.cpu_vector[i] != k.cpu_vector[i])
				fail_msg("seed %llu: CPU %u vector 0x%x: %llu deliveries on the models, %llu on KVM",
					 (unsigned long long)seed, i / 256, i % 256,
					 (unsigned long long)s.cpu_vector[i], (unsigned long long)k.cpu_vector[i]);
			compared += s.cpu_vector[i];
		}
		assert_int_equal(s.nr_vcpus, k.nr_vcpus);
		assert_memory_equal(s.vcpu_vector, k.vcpu_vector, s.nr_vcpus * 256 * sizeof(uint64_t));
		assert_int_equal(s.trace_hash, k.trace_hash);
		assert_int_equal(s.delivered, k.delivered);
		assert_int_equal(s.delivered_guest, k.delivered_guest);
		assert_true(k.delivered_guest > 0);	/* notifications went through KVM too */
		ims_sim_result_free(&s);
		ims_sim_result_free(&k);
	}
	print_message("3 seeds x 3000 steps: %llu host deliveries, equal per CPU and vector\n",
		      (unsigned long long)compared);
}

/* The same through irqfd and GSI routes made on demand. */
static void kvm_irqfd_delivers_alike(void **state)
{
	struct ims_sim_result s, k;

	(void)state;
	run(IMS_SIM_BACKEND_SIM, 4, 3000, &s);
	run_irqfd(IMS_SIM_BACKEND_KVM, true, 4, 3000, &k);
	assert_true(k.kvm_irqfd_fires > 0);
	assert_int_equal(s.kvm_irqfd_fires, 0);
	assert_memory_equal(s.cpu_vector, k.cpu_vector, s.cpus * 256 * sizeof(uint64_t));
	assert_int_equal(s.trace_hash, k.trace_hash);
	print_message("irqfd: %llu messages through GSI routes, deliveries equal\n",
		      (unsigned long long)k.kvm_irqfd_fires);
	ims_sim_result_free(&s);
	ims_sim_result_free(&k);
}

/* The accelerator's completion interrupts reach the same CPUs and vectors. */
static void kvm_and_simulated_apics_deliver_accelerator_work_alike(void **state)
{
	struct ims_sim_config cfg;
	struct ims_sim_result s, k;

	(void)state;
	ims_sim_config_default(&cfg);
	cfg.device = IMS_SIM_DEVICE_ACCEL;
	cfg.seed = 5;
	cfg.steps = 3000;
	cfg.quiet = true;
	assert_int_equal(ims_sim_run(&cfg, NULL, &s), 0);
	cfg.backend = IMS_SIM_BACKEND_KVM;
	run_checked(&cfg, &k);
	assert_int_equal(s.violation, IMS_SIM_OK);
	assert_int_equal(k.violation, IMS_SIM_OK);
	assert_memory_equal(s.cpu_vector, k.cpu_vector, s.cpus * 256 * sizeof(uint64_t));
	assert_int_equal(s.trace_hash, k.trace_hash);
	assert_int_equal(s.delivered, k.delivered);
	assert_true(k.delivered > 0);
	print_message("accelerator: %llu completions reported, deliveries equal\n",
		      (unsigned long long)k.delivered);
	ims_sim_result_free(&s);
	ims_sim_result_free(&k);
}

static void kvm_demo_runs_clean(void **state)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;

	(void)state;
	ims_sim_config_default(&cfg);
	cfg.backend = IMS_SIM_BACKEND_KVM;
	assert_int_equal(ims_sim_demo(&cfg, NULL, NULL, &res), 0);
	assert_int_equal(res.violation, IMS_SIM_OK);
	assert_true(res.delivered > 0);
	ims_sim_result_free(&res);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(kvm_and_simulated_apics_deliver_alike),
		cmocka_unit_test(kvm_irqfd_delivers_alike),
		cmocka_unit_test(kvm_and_simulated_apics_deliver_accelerator_work_alike),
		cmocka_unit_test(kvm_demo_runs_clean),
	};
	static const uint32_t id0 = 0;
	struct ims_kvm *probe;

	if (ims__kvm_create(1, &id0, &probe))
		IMS_TEST_SKIP_ALL("KVM backend tests: %s", ims_last_error());
	ims__kvm_destroy(probe);
	return cmocka_run_group_tests_name("sim_kvm", tests, NULL, NULL);
}
