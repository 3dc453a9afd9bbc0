/*
 * One place that proves fault-injection coverage of the public API: every
 * IMS_API function declared in include/ims/ is either in the table of
 * allocating calls below, each with a fail-Nth case, or in the list of
 * calls that reach no fault point; a function in neither fails the test,
 * so a new allocating call cannot land without a case. Each case runs the
 * fail-Nth loop (tests/helpers/fail_nth.c): every injected failure must
 * leave memory accounting where it was (and LSan quiet in the sanitize
 * run) and every layer's recount (core, device MSI, remapping, vectors,
 * accelerator) equal to the state before. Constructors of whole layers
 * (core, vector domain, remapping, ITS, the simulated machine) run as a
 * lifecycle, create to destroy, so that faults in teardown are covered
 * too: teardown must succeed whatever fails inside it. The total of
 * faults injected is printed.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/accel_machine.h"
#include "helpers/fail_nth.h"
#include "helpers/fake_msi.h"
#include "os/accel/accel_internal.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define NPID 2

static struct accel_machine M;
static struct ims_device *dev;		/* a second device under the remapping domain */
static struct fake_ims *fims;		/* its IMS slots */
static uint8_t *pids;
static uint64_t total_injected;
static uint64_t total_cases;

/* ---- the state every per-call case must leave as it found ---- */

struct snapshot {
	uint32_t irqs, remap_allocated, remap_posted, adis;
	uint32_t dev_msix, dev_ims;
	uint64_t vec_allocated, vec_reserved;
};

static struct snapshot before;

static void snap(struct snapshot *s)
{
	struct ims_remap_stats rs;
	struct ims_x86_vector_stats vs;

	ims_remap_get_stats(M.remap, &rs);
	ims_x86_vector_get_stats(M.vd, &vs);
	s->irqs = ims_irq_core_nr_irqs(M.core);
	s->remap_allocated = rs.allocated;
	s->remap_posted = rs.posted;
	s->adis = M.acc ? ims_accel_nr_adis(M.acc) : 0;
	s->dev_msix = ims_msi_nr_allocated(dev, IMS_MSI_DEFAULT_DOMAIN);
	s->dev_ims = ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN);
	s->vec_allocated = vs.allocated;
	s->vec_reserved = vs.reserved;
}

/* 0 when every recount agrees and the counts are those of `before`. */
static int check_unchanged(void *ctx)
{
	struct snapshot now;

	(void)ctx;
	if (ims__irq_core_check(M.core) || ims_remap_check(M.remap) || ims_x86_vector_check(M.vd) ||
	    ims__msi_device_check(dev) || (M.acc && ims__accel_check(M.acc)) ||
	    (M.acc && ims__msi_device_check(ims_accel_device(M.acc))))
		return -1;
	snap(&now);
	return memcmp(&now, &before, sizeof(now)) ? -1 : 0;
}

static void run_case(const char *name, const struct fail_nth_ops *ops, void *ctx)
{
	struct fail_nth_result r;

	snap(&before);
	r = fail_nth_run(ops, ctx);
	assert_int_equal(check_unchanged(NULL), 0);
	total_injected += r.attempts;
	total_cases++;
	print_message("  %-34s %5llu fault points, %5llu failed cleanly\n", name,
		      (unsigned long long)r.points, (unsigned long long)r.failures);
}

/* ---- the machine ---- */

static int setup(void **state)
{
	struct ims_hw_accel_params p = {
		.nr_wqs = 8, .wq_depth = 8, .nr_ims = 64, .nr_msix = 9, .dvsec_ims = true,
	};
	struct ims_device_info di = { .name = "0000:07:00.0", .rid = 0x0700 };

	(void)state;
	assert_int_equal(am_create(&M, 4, &p, 0), 0);
	assert_int_equal(ims_accel_probe(&M.ai, &M.acc), 0);
	di.core = M.core;
	di.msi_parent = ims_remap_domain(M.remap);
	assert_int_equal(ims_device_create(&di, &dev), 0);
	fims = calloc(1, sizeof(*fims));
	assert_non_null(fims);
	pids = ims__dma_alloc_registered(M.dma, 64 * NPID, 64, "test_pids");
	assert_non_null(pids);
	for (unsigned int i = 0; i < NPID; i++)
		ims_pid_init(pids + 64 * i, 0xf2, i, false);
	return 0;
}

static int teardown(void **state)
{
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(ims_device_destroy(dev), 0);
	assert_int_equal(ims__dma_free_registered(M.dma, pids, 64 * NPID, 64), 0);
	free(fims);
	assert_int_equal(am_destroy(&M), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	assert_int_equal(m.objects, 0);
	return 0;
}

/* ---- the interrupt core ---- */

static unsigned int one_irq;

static int op_alloc_descs(void *c)
{
	int irq = ims_irq_alloc_descs(M.core, -1, 8);

	*(int *)c = irq;
	return irq < 0 ? irq : 0;
}

static void undo_alloc_descs(void *c)
{
	assert_int_equal(ims_irq_free_descs(M.core, (unsigned int)*(int *)c, 8), 0);
}

static struct fake_parent fp;

static int op_domain_create(void *c)
{
	(void)c;
	return fake_parent_create(M.core, "fault-root", true, &fp);
}

static void undo_domain_create(void *c)
{
	(void)c;
	assert_int_equal(ims_irq_domain_remove(fp.domain), 0);
}

static int op_domain_alloc(void *c)
{
	struct ims_cpumask *m = ims_cpumask_create(4);
	int irq;

	if (!m)
		return -ENOMEM;
	ims_cpumask_set(m, 2);
	irq = ims_irq_domain_alloc_irqs(fp.domain, -1, 16, NULL, m);
	ims_cpumask_destroy(m);
	*(int *)c = irq;
	return irq < 0 ? irq : 0;
}

static void undo_domain_alloc(void *c)
{
	assert_int_equal(ims_irq_domain_free_irqs(M.core, (unsigned int)*(int *)c, 16), 0);
}

static ims_irqreturn_t nop_handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	return IMS_IRQ_HANDLED;
}

static int op_request(void *c)
{
	return ims_irq_request(M.core, one_irq, nop_handler, 0, "fault-handler", c);
}

static void undo_request(void *c)
{
	assert_int_equal(ims_irq_free(M.core, one_irq, c), 0);
}

static int check_no_handler(void *c)
{
	struct ims_irq_info info;

	if (ims_irq_get_info(M.core, one_irq, &info) || info.nr_actions || info.started)
		return -1;
	return check_unchanged(c);
}

static int op_set_affinity(void *c)
{
	struct ims_cpumask *m = ims_cpumask_create(4);
	int ret;

	(void)c;
	if (!m)
		return -ENOMEM;
	ims_cpumask_set(m, 3);
	ret = ims_irq_set_affinity(M.core, one_irq, m);
	ims_cpumask_destroy(m);
	return ret;
}

/* An interrupt on the irq's new vector completes a move; cleanup frees the old one. */
static void settle(unsigned int irq)
{
	struct ims_irq_data *d = ims_irq_domain_get_irq_data(ims_x86_vector_irq_domain(M.vd), irq);
	uint32_t cpu, apic;
	uint8_t vector;

	if (d && ims_irq_data_is_activated(d) && !ims_x86_vector_target(d, &cpu, &apic, &vector))
		ims_x86_vector_dispatch(M.vd, cpu, vector);
	while (ims_x86_vector_cleanup(M.vd) > 0)
		;
}

static void undo_set_affinity(void *c)
{
	struct ims_cpumask *m = ims_cpumask_create(4);

	(void)c;
	assert_non_null(m);
	settle(one_irq);
	ims_cpumask_set(m, 1);
	assert_int_equal(ims_irq_set_affinity(M.core, one_irq, m), 0);
	settle(one_irq);
	ims_cpumask_destroy(m);
}

static int check_affinity(void *c)
{
	return ims_irq_effective_cpu(M.core, one_irq) == 1 ? check_unchanged(c) : -1;
}

static struct ims_cpumask *mask_made;

static int op_cpumask(void *c)
{
	(void)c;
	mask_made = ims_cpumask_create(4096);
	return mask_made ? 0 : -ENOMEM;
}

static void undo_cpumask(void *c)
{
	(void)c;
	ims_cpumask_destroy(mask_made);
}

static void core_calls(void **state)
{
	const struct fail_nth_ops descs = { op_alloc_descs, undo_alloc_descs, check_unchanged, NULL };
	const struct fail_nth_ops dom = { op_domain_create, undo_domain_create, check_unchanged, NULL };
	const struct fail_nth_ops alloc = { op_domain_alloc, undo_domain_alloc, check_unchanged, NULL };
	const struct fail_nth_ops req = { op_request, undo_request, check_no_handler, NULL };
	const struct fail_nth_ops aff = { op_set_affinity, undo_set_affinity, check_affinity, NULL };
	const struct fail_nth_ops mask = { op_cpumask, undo_cpumask, NULL, NULL };
	struct ims_msi_map map;
	int irq;

	(void)state;
	run_case("ims_irq_alloc_descs", &descs, &irq);
	run_case("ims_irq_domain_create", &dom, NULL);
	assert_int_equal(fake_parent_create(M.core, "fault-root", true, &fp), 0);
	run_case("ims_irq_domain_alloc_irqs", &alloc, &irq);
	assert_int_equal(ims_irq_domain_remove(fp.domain), 0);
	run_case("ims_cpumask_create", &mask, NULL);

	/* A vector through the whole x86 hierarchy, on CPU 1. */
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &fake_ims_template,
						      64, fims), 0);
	map = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 0, NULL, (union ims_msi_cookie){ 0 });
	assert_true(map.virq > 0);
	one_irq = (unsigned int)map.virq;
	undo_set_affinity(NULL);
	run_case("ims_irq_request", &req, &irq);
	assert_int_equal(ims_irq_request(M.core, one_irq, nop_handler, 0, "fault-handler", &irq), 0);
	run_case("ims_irq_set_affinity", &aff, NULL);
	assert_int_equal(ims_irq_free(M.core, one_irq, &irq), 0);
	assert_int_equal(ims_msi_free_all(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	assert_int_equal(ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
}

/* ---- devices and their MSI domains ---- */

static struct ims_device *dev2;

static int op_device(void *c)
{
	struct ims_device_info di = { .name = "0000:08:00.0", .core = M.core, .rid = 0x0800,
				      .msi_parent = ims_remap_domain(M.remap) };

	(void)c;
	return ims_device_create(&di, &dev2);
}

static void undo_device(void *c)
{
	(void)c;
	assert_int_equal(ims_device_destroy(dev2), 0);
}

static int op_dev_domain(void *c)
{
	(void)c;
	return ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &fake_ims_template, 64, fims);
}

static void undo_dev_domain(void *c)
{
	(void)c;
	assert_int_equal(ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
}

static int check_no_dev_domain(void *c)
{
	return ims_msi_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN) ? -1 : check_unchanged(c);
}

static int op_alloc_at(void *c)
{
	struct ims_cpumask *m = ims_cpumask_create(4);
	struct ims_msi_map map;

	(void)c;
	if (!m)
		return -ENOMEM;
	ims_cpumask_set(m, 2);
	map = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 5, m, (union ims_msi_cookie){ 0 });
	ims_cpumask_destroy(m);
	return map.virq < 0 ? map.virq : 0;
}

static void undo_alloc_at(void *c)
{
	(void)c;
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 5), 0);
}

static int op_group(void *c)
{
	struct ims_msi_map maps[8];
	int g = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 8, NULL, (union ims_msi_cookie){ 0 },
				    maps);

	*(int *)c = g;
	return g < 0 ? g : 0;
}

static void undo_group(void *c)
{
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, *(int *)c), 0);
}

static void msi_calls(void **state)
{
	const struct fail_nth_ops devc = { op_device, undo_device, check_unchanged, NULL };
	const struct fail_nth_ops dom = { op_dev_domain, undo_dev_domain, check_no_dev_domain, NULL };
	const struct fail_nth_ops at = { op_alloc_at, undo_alloc_at, check_unchanged, NULL };
	const struct fail_nth_ops grp = { op_group, undo_group, check_unchanged, NULL };
	int g;

	(void)state;
	run_case("ims_device_create", &devc, NULL);
	run_case("ims_msi_create_device_domain", &dom, NULL);
	assert_int_equal(op_dev_domain(NULL), 0);
	run_case("ims_msi_alloc_irq_at", &at, NULL);
	run_case("ims_msi_alloc_group", &grp, &g);
	assert_int_equal(ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
}

/* ---- the IMS chips ---- */

static int io_read(void *ctx, uint64_t off, uint32_t *val)
{
	(void)ctx;
	(void)off;
	*val = 0;
	return 0;
}

static int io_write(void *ctx, uint64_t off, uint32_t val)
{
	(void)ctx;
	(void)off;
	(void)val;
	return 0;
}

static int op_array_chip(void *c)
{
	struct ims_array_chip_info ii = { { io_read, io_write, NULL }, 0, 256 };

	return ims_array_chip_create(&ii, c);
}

static void undo_array_chip(void *c)
{
	ims_array_chip_destroy(*(struct ims_array_chip **)c);
}

static int op_queue_chip(void *c)
{
	struct ims_queue_chip_info ii = { { io_read, io_write, NULL }, { io_read, io_write, NULL }, 16 };

	return ims_queue_chip_create(&ii, c);
}

static void undo_queue_chip(void *c)
{
	ims_queue_chip_destroy(*(struct ims_queue_chip **)c);
}

static void ims_chip_calls(void **state)
{
	const struct fail_nth_ops arr = { op_array_chip, undo_array_chip, check_unchanged, NULL };
	const struct fail_nth_ops que = { op_queue_chip, undo_queue_chip, check_unchanged, NULL };
	void *chip;

	(void)state;
	run_case("ims_array_chip_create", &arr, &chip);
	run_case("ims_queue_chip_create", &que, &chip);
}

/* ---- the accelerator: probe, ADIs, guests ---- */

static int op_probe(void *c)
{
	(void)c;
	return ims_accel_probe(&M.ai, &M.acc);
}

static void undo_probe(void *c)
{
	(void)c;
	assert_int_equal(ims_accel_remove(M.acc), 0);
	M.acc = NULL;
}

static int op_adi(void *c)
{
	struct ims_accel_adi_info ii = { .pasid = 0x42, .nvec = 4 };

	return ims_accel_adi_create(M.acc, &ii, c);
}

static void undo_adi(void *c)
{
	assert_int_equal(ims_accel_adi_destroy(*(struct ims_accel_adi **)c), 0);
}

static int op_guest(void *c)
{
	struct ims_accel_guest_vcpu v[NPID] = { { 0, ims__dma_addr(pids) }, { 1, ims__dma_addr(pids + 64) } };
	struct ims_accel_guest_info ii = { .pasid = 0x43, .nvec = 4, .nr_vcpus = NPID, .vcpus = v };

	return ims_accel_guest_create(M.acc, &ii, c);
}

static void undo_guest(void *c)
{
	assert_int_equal(ims_accel_guest_destroy(*(struct ims_accel_guest **)c), 0);
}

static void accel_calls(void **state)
{
	const struct fail_nth_ops probe = { op_probe, undo_probe, check_unchanged, NULL };
	const struct fail_nth_ops adi = { op_adi, undo_adi, check_unchanged, NULL };
	const struct fail_nth_ops guest = { op_guest, undo_guest, check_unchanged, NULL };
	void *obj;

	(void)state;
	assert_int_equal(ims_accel_remove(M.acc), 0);
	M.acc = NULL;
	run_case("ims_accel_probe", &probe, NULL);
	assert_int_equal(op_probe(NULL), 0);
	run_case("ims_accel_adi_create", &adi, &obj);
	run_case("ims_accel_guest_create", &guest, &obj);
}

/* ---- vectors: taking a CPU offline moves its vectors ---- */

static int op_offline(void *c)
{
	(void)c;
	return ims_x86_vector_cpu_offline(M.vd, 2);
}

static void undo_offline(void *c)
{
	(void)c;
	while (ims_x86_vector_cleanup(M.vd) > 0)
		;
	assert_int_equal(ims_x86_vector_cpu_online(M.vd, 2), 0);
}

/*
 * Taking a CPU offline moves vector after vector; a failure part way
 * leaves those already moved where they went (each move is whole) and the
 * CPU online. The recounts must agree.
 */
static int check_offline(void *c)
{
	struct ims_x86_vector_stats vs;

	(void)c;
	ims_x86_vector_get_stats(M.vd, &vs);
	if (vs.online_cpus != 4)
		return -1;
	return ims__irq_core_check(M.core) || ims_x86_vector_check(M.vd) || ims_remap_check(M.remap) ? -1 : 0;
}

static void vector_calls(void **state)
{
	const struct fail_nth_ops off = { op_offline, undo_offline, check_offline, NULL };
	struct ims_cpumask *m = ims_cpumask_create(4);
	struct ims_msi_map maps[6];
	struct fail_nth_result r;
	int g;

	(void)state;
	assert_non_null(m);
	ims_cpumask_set(m, 2);
	ims_cpumask_set(m, 3);
	assert_int_equal(op_dev_domain(NULL), 0);
	g = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 6, m, (union ims_msi_cookie){ 0 }, maps);
	assert_true(g > 0);
	r = fail_nth_run(&off, NULL);
	total_injected += r.attempts;
	total_cases++;
	print_message("  %-34s %5llu fault points, %5llu failed cleanly\n", "ims_x86_vector_cpu_offline",
		      (unsigned long long)r.points, (unsigned long long)r.failures);
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, g), 0);
	while (ims_x86_vector_cleanup(M.vd) > 0)
		;
	assert_int_equal(ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	ims_cpumask_destroy(m);
}

/* ---- whole layers, created and destroyed: faults in teardown too ---- */

static struct ims_mem_stats lc_before;

/* Everything a lifecycle made is gone again. */
static int check_nothing_left(void *c)
{
	struct ims_mem_stats now;

	(void)c;
	ims_mem_stats(&now);
	return now.bytes == lc_before.bytes && now.objects == lc_before.objects ? 0 : -1;
}

/*
 * The whole x86 machine (core, local APICs, vector domain, DMA, the
 * remapping unit and its driver, the accelerator), the driver's probe, an
 * ADI with its vectors, a guest, and all of it torn down. A fault part way
 * tears down what was made; a fault in teardown must not stop it.
 */
static int lifecycle(enum am_arch arch)
{
	struct ims_hw_accel_params p = {
		.nr_wqs = 4, .wq_depth = 4, .nr_ims = 16, .nr_msix = 9, .dvsec_ims = true,
	};
	struct accel_machine m;
	struct ims_accel_adi *adi = NULL;
	struct ims_accel_adi_info ai = { .pasid = 0x51, .nvec = 2 };
	int ret, ret2;

	ret = am_create_arch(&m, arch, 2, &p, 0);
	ret = ret ? ret : ims_accel_probe(&m.ai, &m.acc);
	ret = ret ? ret : ims_accel_adi_create(m.acc, &ai, &adi);
	if (adi)
		assert_int_equal(ims_accel_adi_destroy(adi), 0);
	ret2 = am_destroy(&m);
	if (ret2)
		fail_msg("teardown failed under a fault: %d (%s)", ret2, ims_last_error());
	return ret;
}

static int op_x86_machine(void *c)
{
	(void)c;
	return lifecycle(AM_X86);
}

static int op_arm_machine(void *c)
{
	(void)c;
	return lifecycle(AM_ARM);
}

static void small_sim(struct ims_sim_config *cfg)
{
	ims_sim_config_default(cfg);
	cfg->steps = 200;
	cfg->seed = 7;
	cfg->guests = 1;
	cfg->vcpus = 2;
	cfg->quiet = true;
	cfg->shrink = false;
}

static int op_sim(void *c)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;
	int ret;

	(void)c;
	small_sim(&cfg);
	memset(&res, 0, sizeof(res));
	ret = ims_sim_run(&cfg, NULL, &res);
	if (!ret && res.invariant_violations)
		fail_msg("simulation under a fault: %llu invariant violations: %s",
			 (unsigned long long)res.invariant_violations, res.violation_msg);
	ims_sim_result_free(&res);
	return ret;
}

static int op_demo(void *c)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;
	int ret;

	(void)c;
	ims_sim_config_default(&cfg);
	cfg.quiet = true;
	memset(&res, 0, sizeof(res));
	ret = ims_sim_demo(&cfg, NULL, NULL, &res);
	ims_sim_result_free(&res);
	return ret;
}

static void bench_result(const struct ims_bench_result *r, void *ctx)
{
	(void)r;
	(void)ctx;
}

/*
 * The cheapest benchmark: it builds (and must give back) two matrices.
 * The others build whole machines, whose construction the lifecycles
 * above already fail at every point.
 */
static int op_bench(void *c)
{
	(void)c;
	return ims_bench_run("matrix", 1, bench_result, NULL);
}

static void lifecycles(void **state)
{
	const struct fail_nth_ops x86 = { op_x86_machine, NULL, check_nothing_left, NULL };
	const struct fail_nth_ops arm = { op_arm_machine, NULL, check_nothing_left, NULL };
	const struct fail_nth_ops sim = { op_sim, NULL, check_nothing_left, NULL };
	const struct fail_nth_ops demo = { op_demo, NULL, check_nothing_left, NULL };
	const struct fail_nth_ops bench = { op_bench, NULL, check_nothing_left, NULL };
	struct fail_nth_result r;
	struct {
		const char *what;
		const struct fail_nth_ops *ops;
	} lc[] = {
		{ "x86 machine, probe, ADI, teardown", &x86 },
		{ "ARM machine, probe, ADI, teardown", &arm },
		{ "ims_sim_run (200 steps)", &sim },
		{ "ims_sim_demo", &demo },
		{ "ims_bench_run (matrix)", &bench },
	};

	(void)state;
	for (unsigned int i = 0; i < sizeof(lc) / sizeof(lc[0]); i++) {
		ims_mem_stats(&lc_before);
		r = fail_nth_run(lc[i].ops, NULL);
		assert_int_equal(check_nothing_left(NULL), 0);
		total_injected += r.attempts;
		total_cases++;
		print_message("  %-34s %5llu fault points, %5llu failed cleanly\n", lc[i].what,
			      (unsigned long long)r.points, (unsigned long long)r.failures);
	}
}

/* ---- calls said to reach no fault point, run with every point counted ---- */

static uint64_t points_of_last;

/* Arm a fault that is never reached, so that every point passed is counted. */
static void count_points(void)
{
	ims_fault_arm_nth(UINT64_MAX, NULL);
}

static uint64_t points_counted(void)
{
	uint64_t n = ims_fault_points_hit();

	assert_int_equal(ims_fault_injected(), 0);
	ims_fault_disarm();
	points_of_last = n;
	return n;
}

#define NO_POINTS(call)                                                                   \
	do {                                                                              \
		count_points();                                                           \
		call;                                                                     \
		if (points_counted())                                                     \
			fail_msg("%s reached %llu fault points", #call,                   \
				 (unsigned long long)points_of_last);                     \
		checked++;                                                                \
	} while (0)

/*
 * The non-allocating calls whose work goes through a level's ops or the
 * hardware (so the call graph cannot see it), run on the whole machine
 * with every fault point counted: a guest enabling its table and posting
 * an entry, work submitted and completed, masking, moving, posting and
 * unposting a vector, a CPU offline and online, frees.
 */
static void pass_through_calls_reach_no_fault_point(void **state)
{
	struct ims_accel_guest_vcpu v[NPID] = { { 0, ims__dma_addr(pids) }, { 1, ims__dma_addr(pids + 64) } };
	struct ims_accel_guest_info gi = { .pasid = 0x61, .nvec = 2, .nr_vcpus = NPID, .vcpus = v };
	struct ims_accel_adi_info ai = { .pasid = 0x62, .nvec = 2 };
	struct ims_cpumask *m = ims_cpumask_create(4);
	struct ims_accel_guest *g;
	struct ims_accel_adi *adi;
	struct ims_msi_map map;
	unsigned int checked = 0, irq;
	uint32_t ticket;
	uint64_t result;
	int ret = 0;

	(void)state;
	assert_non_null(m);
	assert_int_equal(ims_accel_guest_create(M.acc, &gi, &g), 0);
	assert_int_equal(ims_accel_adi_create(M.acc, &ai, &adi), 0);
	ims_cpumask_set(m, 3);
	/* The counting itself: an allocating call is seen. */
	count_points();
	ims_cpumask_destroy(ims_cpumask_create(4));
	assert_int_equal(points_counted(), 1);

	NO_POINTS(ret = ims_accel_guest_cfg_write(g, IMS_PCI_MSIX_FLAGS, 2, IMS_PCI_MSIX_FLAGS_ENABLE));
	assert_int_equal(ret, 0);
	NO_POINTS(ret = ims_accel_guest_msix_write(g, IMS_PCI_MSIX_ENTRY_ADDR_LO, 4, 0xfee01000u));
	NO_POINTS(ret = ims_accel_guest_msix_write(g, IMS_PCI_MSIX_ENTRY_DATA, 4, 0x55));
	NO_POINTS(ret = ims_accel_guest_msix_write(g, IMS_PCI_MSIX_ENTRY_CTRL, 4, 0));
	assert_int_equal(ret, 0);
	NO_POINTS(ret = ims_accel_guest_msix_write(g, IMS_PCI_MSIX_ENTRY_CTRL, 4, 1));
	NO_POINTS(ret = ims_accel_guest_cfg_write(g, IMS_PCI_MSIX_FLAGS, 2, 0));

	NO_POINTS(ret = ims_accel_submit(adi, 0, IMS_ACCEL_OP_NOOP, 0, &ticket));
	assert_int_equal(ret, 0);
	NO_POINTS(am_run(&M));
	NO_POINTS(ret = ims_accel_poll(adi, ticket, &result));
	assert_int_equal(ret, 0);

	irq = (unsigned int)ims_accel_adi_irq(adi, 1);
	NO_POINTS(ret = ims_irq_disable(M.core, irq));
	NO_POINTS(ret = ims_irq_enable(M.core, irq));
	NO_POINTS(ret = ims_irq_synchronize(M.core, irq));
	NO_POINTS(ret = ims_remap_irq_post(M.remap, irq, ims__dma_addr(pids), 0x44, false));
	assert_int_equal(ret, 0);
	NO_POINTS(ret = ims_remap_irq_unpost(M.remap, irq));
	assert_int_equal(ret, 0);

	assert_int_equal(op_dev_domain(NULL), 0);
	map = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 0, m, (union ims_msi_cookie){ 0 });
	assert_true(map.virq > 0);
	NO_POINTS(ret = ims_irq_set_flow(M.core, (unsigned int)map.virq, IMS_FLOW_FASTEOI));
	NO_POINTS(ret = ims_irq_domain_activate_irq(M.core, (unsigned int)map.virq));
	NO_POINTS(ret = ims_irq_domain_deactivate_irq(M.core, (unsigned int)map.virq));
	NO_POINTS(ret = ims_irq_domain_activate_irq(M.core, (unsigned int)map.virq));
	NO_POINTS(ret = ims_x86_vector_cleanup(M.vd));
	NO_POINTS(ret = ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 0));
	assert_int_equal(ret, 0);
	NO_POINTS(ret = ims_device_free_all_irqs(dev));
	NO_POINTS(ret = ims_msi_remove_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN));
	assert_int_equal(ret, 0);

	NO_POINTS(ret = ims_x86_vector_cpu_online(M.vd, 3));
	NO_POINTS(ret = ims_accel_adi_destroy(adi));
	assert_int_equal(ret, 0);
	NO_POINTS(ret = ims_accel_guest_destroy(g));
	assert_int_equal(ret, 0);
	ims_cpumask_destroy(m);
	print_message("%u pass-through calls reached no fault point\n", checked);
}

/* ---- the coverage table ---- */

/*
 * Public calls that reach a fault point, and the case above that runs the
 * fail-Nth loop over them. Whole-layer constructors and destructors are
 * covered by the lifecycles.
 */
static const char *const allocating[] = {
	/* core_calls */
	"ims_irq_alloc_descs", "ims_irq_domain_create", "ims_irq_domain_alloc_irqs",
	"ims_cpumask_create", "ims_irq_request", "ims_irq_set_affinity",
	/* msi_calls */
	"ims_device_create", "ims_msi_create_device_domain", "ims_msi_alloc_irq_at",
	"ims_msi_alloc_group",
	/* ims_chip_calls */
	"ims_array_chip_create", "ims_queue_chip_create",
	/* accel_calls and the lifecycles */
	"ims_accel_probe", "ims_accel_adi_create", "ims_accel_guest_create",
	/* vector_calls */
	"ims_x86_vector_cpu_offline",
	/* lifecycles: constructors of whole layers */
	"ims_irq_core_create", "ims_x86_vector_domain_create", "ims_remap_create",
	"ims_arm_its_create", "ims_sim_run", "ims_sim_demo",
	/* lifecycles: the benchmarks build machines of their own */
	"ims_bench_run",
};

/*
 * Public calls that reach no fault point: accessors, frees and destroys
 * (which must not fail; the lifecycles run them under faults), data-path
 * calls, decoders and formatters, and calls that pass through to a level's
 * ops (whose allocating levels are covered above through the calls that
 * drive them). scripts/check-fault-coverage checks this split against the
 * library's call graph in make test.
 */
static const char *const non_allocating[] = {
	"ims_accel_remove", "ims_accel_has_ims", "ims_accel_device", "ims_accel_nr_wqs",
	"ims_accel_nr_adis", "ims_accel_admin_irq", "ims_accel_errors", "ims_accel_adi_destroy",
	"ims_accel_adi_wq", "ims_accel_adi_irq", "ims_accel_adi_handle", "ims_accel_submit",
	"ims_accel_poll", "ims_accel_adi_completions", "ims_accel_adi_empty_irqs",
	"ims_accel_guest_destroy", "ims_accel_guest_adi", "ims_accel_guest_cfg_read",
	"ims_accel_guest_cfg_write", "ims_accel_guest_msix_read", "ims_accel_guest_msix_write",
	"ims_accel_guest_refused", "ims_accel_guest_unroutable",
	"ims_its_err_name", "ims_arm_its_destroy", "ims_arm_its_irq_domain", "ims_arm_its_dispatch",
	"ims_arm_its_get_stats", "ims_arm_its_cpu_lpis",
	"ims_last_error", "ims_clear_error", "ims_set_log", "ims_warn_count", "ims_fault_arm_nth",
	"ims_fault_arm_rate", "ims_fault_disarm", "ims_fault_points_hit", "ims_fault_injected",
	"ims_fault_last_point", "ims_mem_stats",
	"ims_cpumask_destroy", "ims_cpumask_nr_cpus", "ims_cpumask_set", "ims_cpumask_clear",
	"ims_cpumask_setall", "ims_cpumask_zero", "ims_cpumask_test", "ims_cpumask_weight",
	"ims_cpumask_next", "ims_cpumask_equal", "ims_cpumask_parse", "ims_cpumask_format",
	"ims_array_chip_destroy", "ims_array_chip_template", "ims_array_chip_io_errors",
	"ims_array_chip_hold", "ims_queue_chip_destroy", "ims_queue_chip_template",
	"ims_queue_chip_loads", "ims_queue_chip_load_errors",
	"ims_irq_core_destroy", "ims_irq_core_nr_cpus", "ims_irq_core_nr_irqs", "ims_irq_core_spurious",
	"ims_irq_free_descs", "ims_irq_next", "ims_irq_set_flow", "ims_irq_handle", "ims_irq_free",
	"ims_irq_disable", "ims_irq_disable_nosync", "ims_irq_enable", "ims_irq_synchronize",
	"ims_irq_get_affinity", "ims_irq_effective_cpu", "ims_irq_get_info", "ims_irq_count_cpu",
	"ims_irq_domain_remove", "ims_irq_domain_core", "ims_irq_domain_parent", "ims_irq_domain_name",
	"ims_irq_domain_host_data", "ims_irq_domain_chip", "ims_irq_domain_flags",
	"ims_irq_domain_depth", "ims_irq_domain_nr_irqs", "ims_irq_domain_free_irqs",
	"ims_irq_domain_alloc_irqs_parent", "ims_irq_domain_free_irqs_parent",
	"ims_irq_domain_set_info", "ims_irq_domain_get_irq_data", "ims_irq_domain_activate_irq",
	"ims_irq_domain_deactivate_irq", "ims_irq_domain_activate_parent",
	"ims_irq_domain_deactivate_parent", "ims_irq_data_irq", "ims_irq_data_parent",
	"ims_irq_data_domain", "ims_irq_data_chip", "ims_irq_data_core", "ims_irq_data_affinity",
	"ims_irq_data_set_effective_cpu", "ims_irq_data_effective_cpu", "ims_irq_data_is_activated",
	"ims_irq_data_is_masked", "ims_irq_chip_mask_parent", "ims_irq_chip_unmask_parent",
	"ims_irq_chip_ack_parent", "ims_irq_chip_eoi_parent", "ims_irq_chip_set_affinity_parent",
	"ims_irq_chip_retrigger_parent", "ims_irq_chip_compose_msi_msg",
	"ims_irq_chip_compose_msi_msg_parent",
	"ims_device_destroy", "ims_device_name", "ims_device_rid", "ims_device_free_all_irqs",
	"ims_msi_remove_device_domain", "ims_msi_device_domain", "ims_msi_free_irq",
	"ims_msi_free_group", "ims_msi_free_all", "ims_msi_index_to_virq", "ims_msi_nr_allocated",
	"ims_msi_irq_desc", "ims_msi_domain_chip_data", "ims_msi_irq_device", "ims_msi_domain_data",
	"ims_pci_cfg_access_buffer", "ims_pci_cfg_read8", "ims_pci_cfg_read16", "ims_pci_cfg_read32",
	"ims_pci_fault_name", "ims_pci_cap_walk", "ims_pci_find_cap", "ims_pci_find_ext_cap",
	"ims_pci_find_dvsec", "ims_pci_cap_name", "ims_pci_dev_probe", "ims_pci_dev_supports_ims",
	"ims_pci_msi_decode", "ims_pci_msix_decode", "ims_pci_siov_decode",
	"ims_irte_decode", "ims_irte_encode", "ims_irte_delivery_mode_name", "ims_irte_svt_name",
	"ims_remap_msg_compose", "ims_remap_msg_decode", "ims_pid_init", "ims_pid_pir_test",
	"ims_pid_on", "ims_pid_sn", "ims_pid_set_sn", "ims_pid_take",
	"ims_remap_destroy", "ims_remap_domain", "ims_remap_from_domain", "ims_remap_is_virtual",
	"ims_remap_domain_allows_ims", "ims_remap_irq_index", "ims_remap_irq_post",
	"ims_remap_irq_unpost", "ims_remap_irq_is_posted", "ims_remap_get_stats", "ims_remap_check",
	"ims_remap_fault_pop", "ims_remap_fault_name",
	"ims_sim_config_default", "ims_sim_config_validate", "ims_sim_violation_name",
	"ims_sim_result_free", "ims_sim_print_interrupts",
	"ims_x86_msi_compose", "ims_x86_msi_decode", "ims_x86_delivery_mode_name",
	"ims_x86_vector_domain_destroy", "ims_x86_vector_irq_domain", "ims_x86_vector_dispatch",
	"ims_x86_vector_set_system_handler", "ims_x86_vector_cleanup", "ims_x86_vector_target",
	"ims_x86_vector_cpu_online", "ims_x86_vector_get_stats", "ims_x86_vector_spurious",
	"ims_x86_vector_dump", "ims_x86_vector_check",
};

static bool in_list(const char *name, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(name, list[i]))
			return true;
	return false;
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* The include/ims directory, found from this file's path at build time. */
static void include_dir(char *buf, size_t len)
{
	const char *f = __FILE__;
	const char *t = strstr(f, "tests/unit/");

	snprintf(buf, len, "%.*sinclude/ims", t ? (int)(t - f) : 0, f);
}

/* Every IMS_API function name in the public headers, and its name's status. */
static unsigned int scan_headers(unsigned int *unclassified)
{
	char dir[512], path[1024], name[128];
	unsigned int found = 0;
	struct dirent *e;
	DIR *d;

	include_dir(dir, sizeof(dir));
	d = opendir(dir);
	assert_non_null(d);
	*unclassified = 0;
	while ((e = readdir(d))) {
		char *text, *p;
		size_t n;
		FILE *f;

		if (!strstr(e->d_name, ".h"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		f = fopen(path, "r");
		assert_non_null(f);
		text = calloc(1, 1 << 20);
		assert_non_null(text);
		n = fread(text, 1, (1 << 20) - 1, f);
		fclose(f);
		text[n] = 0;
		/* A declaration: IMS_API, a type, then the name before '('. */
		for (p = strstr(text, "IMS_API "); p; p = strstr(p + 1, "IMS_API ")) {
			char *paren = strchr(p, '('), *semi = strchr(p, ';'), *s;
			size_t l;

			if (!paren || (semi && semi < paren) || !strncmp(p + 8, "__attr", 6))
				continue;
			s = paren;
			while (s > p && s[-1] == ' ')
				s--;
			l = 0;
			while (s > p && (s[-1] == '_' || (s[-1] >= 'a' && s[-1] <= 'z') ||
					 (s[-1] >= '0' && s[-1] <= '9'))) {
				s--;
				l++;
			}
			if (!l || l >= sizeof(name))
				continue;
			memcpy(name, s, l);
			name[l] = 0;
			found++;
			if (in_list(name, allocating, ARRAY_SIZE(allocating)) ==
			    in_list(name, non_allocating, ARRAY_SIZE(non_allocating))) {
				print_error("%s: %s is %s\n", e->d_name, name,
					    in_list(name, allocating, ARRAY_SIZE(allocating)) ?
					    "in both lists" : "not classified: add a fail-Nth case");
				(*unclassified)++;
			}
		}
		free(text);
	}
	closedir(d);
	return found;
}

static void every_public_call_is_classified(void **state)
{
	unsigned int unclassified, found;

	(void)state;
	found = scan_headers(&unclassified);
	print_message("%u public functions: %zu allocating, each with a fail-Nth case; %zu reach no "
		      "fault point\n", found, ARRAY_SIZE(allocating), ARRAY_SIZE(non_allocating));
	assert_int_equal(unclassified, 0);
	/* Nothing listed that the headers do not declare. */
	assert_int_equal(found, ARRAY_SIZE(allocating) + ARRAY_SIZE(non_allocating));
}

static int print_total(void **state)
{
	(void)state;
	print_message("fail-Nth: %llu cases, %llu faults injected\n", (unsigned long long)total_cases,
		      (unsigned long long)total_injected);
	return 0;
}

static int setup_bare(void **state)
{
	(void)state;
	return 0;
}

static int teardown_bare(void **state)
{
	(void)state;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(every_public_call_is_classified, setup_bare, teardown_bare),
		cmocka_unit_test_setup_teardown(core_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(msi_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(ims_chip_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(accel_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(vector_calls, setup, teardown),
		cmocka_unit_test_setup_teardown(pass_through_calls_reach_no_fault_point, setup, teardown),
		cmocka_unit_test_setup_teardown(lifecycles, setup_bare, teardown_bare),
	};

	ims_set_log(NULL, IMS_LOG_ERR, NULL);
	return cmocka_run_group_tests_name("fault_coverage", tests, NULL, print_total);
}
