/*
 * The remapping driver and its domain through the interrupt core, on a
 * small fake root domain that plays the vector domain's contract (alloc
 * reserves, activate assigns a CPU and vector, deactivate releases,
 * compose gives a compatibility message). Each test fires the device's
 * stored message through the hardware unit and checks where it lands, so
 * what is proved is the whole path: entry written, cache invalidated,
 * message remappable, delivery on the parent's vector.
 */
#include <stdio.h>
#include <stdlib.h>

#include <ims/msi.h>

#include "ir_env.h"
#include "util/rcu.h"

#define NR_CPUS 512
#include "fake_root.h"

/* ---- fixture ---- */

struct apic_log {
	unsigned int count;
	struct ims_hw_apic_irq last;
};

static int apic_log_fn(void *ctx, const struct ims_hw_apic_irq *irq)
{
	struct apic_log *l = ctx;

	l->count++;
	l->last = *irq;
	return 1;
}

struct fx {
	struct ims_irq_core *core;
	struct fake_root fr;
	struct ims_hw_dma *dma;
	struct ims_hw_ir_unit *unit[2];
	struct ims_remap *remap[2];
	struct apic_log apic;
	uint64_t *pids;		/* DMA memory for posted descriptors */
};

static struct fx *fx;

static int make_remap(unsigned int i, uint32_t flags, uint32_t entries, bool x2apic)
{
	struct ims_hw_ir_unit_config ucfg = { .name = i ? "dmar1" : "dmar0", .dma = fx->dma,
					      .apic = { apic_log_fn, &fx->apic }, .flags = flags,
					      .rid_first = (uint16_t)(i * 0x8000),
					      .rid_last = (uint16_t)(i * 0x8000 + 0x7fff) };
	struct ims_remap_config rcfg = { .name = i ? "IR-1" : "IR-0", .dma = fx->dma,
					 .parent = fx->fr.domain, .nr_entries = entries, .x2apic = x2apic };
	int ret;

	ret = ims__ir_unit_create(&ucfg, &fx->unit[i]);
	if (ret < 0)
		return ret;
	rcfg.unit = fx->unit[i];
	return ims_remap_create(fx->core, &rcfg, &fx->remap[i]);
}

static int setup(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = NR_CPUS, .flags = IMS_IRQ_CORE_NO_PERCPU_STATS };
	struct ims_irq_domain_info di = { .name = "fake-vector", .ops = &fr_ops, .chip = &fr_chip };

	(void)state;
	fx = calloc(1, sizeof(*fx));
	pthread_mutex_init(&fx->fr.lock, NULL);
	assert_int_equal(ims_irq_core_create(&cc, &fx->core), 0);
	di.host_data = &fx->fr;
	assert_int_equal(ims_irq_domain_create(fx->core, &di, &fx->fr.domain), 0);
	assert_int_equal(ims__dma_create(&fx->dma), 0);
	fx->pids = ims__dma_alloc_registered(fx->dma, 4096, 4096, "test_pid");
	assert_non_null(fx->pids);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	for (int i = 0; i < 2; i++) {
		if (fx->remap[i])
			assert_int_equal(ims_remap_destroy(fx->remap[i]), 0);
		ims__ir_unit_destroy(fx->unit[i]);
	}
	assert_int_equal(ims__dma_free_registered(fx->dma, fx->pids, 4096, 4096), 0);
	assert_int_equal(ims__dma_destroy(fx->dma), 0);
	assert_int_equal(ims_irq_domain_remove(fx->fr.domain), 0);
	assert_int_equal(ims_irq_core_destroy(fx->core), 0);
	pthread_mutex_destroy(&fx->fr.lock);
	free(fx);
	return 0;
}

static int alloc_irqs(unsigned int i, unsigned int nr, uint16_t rid, uint8_t type)
{
	struct ims_msi_alloc_info info = { .rid = rid, .type = type };

	return ims_irq_domain_alloc_irqs(ims_remap_domain(fx->remap[i]), -1, nr, &info, NULL);
}

/* The message the device would store (from the outermost level). */
static struct ims_msi_msg device_msg(unsigned int i, unsigned int irq)
{
	struct ims_msi_msg m = { 0 };

	assert_int_equal(ims_irq_chip_compose_msi_msg(ims_irq_domain_get_irq_data(
							      ims_remap_domain(fx->remap[i]), irq), &m), 0);
	return m;
}

static struct ims_irq_data *root_level(unsigned int irq)
{
	return ims_irq_domain_get_irq_data(fx->fr.domain, irq);
}

/* The device writes msg; returns what the unit did. */
static int fire(unsigned int i, struct ims_msi_msg m, uint16_t rid, struct ims_ir_outcome *out)
{
	struct ims_hw_msi_write w = { .addr = (uint64_t)m.address_hi << 32 | m.address_lo, .data = m.data,
				      .rid = rid };

	return ims__ir_unit_handle(fx->unit[i], &w, out);
}

static struct ims_irte entry_of(unsigned int i, unsigned int irq)
{
	struct ims_irte t;
	uint64_t lo, hi;
	/* The test reads the table the way the unit does: through the IRTA. */
	uint64_t base = ims__ir_unit_read(fx->unit[i], IMS_IR_REG_IRTA) & IMS_IR_IRTA_ADDR_MASK;
	uint64_t *tab = (uint64_t *)(uintptr_t)base;
	int index = ims_remap_irq_index(fx->remap[i], irq);

	assert_true(index >= 0);
	lo = tab[index * 2];
	hi = tab[index * 2 + 1];
	ims_irte_decode(lo, hi, &t);
	return t;
}

static void expect_delivered_to_root(unsigned int i, unsigned int irq, uint16_t rid)
{
	struct ims_ir_outcome out;
	uint64_t u = root_level(irq)->chip_u64;

	assert_int_equal(fire(i, device_msg(i, irq), rid, &out), 0);
	assert_int_equal(out.kind, IMS_IR_OUT_REMAPPED);
	assert_int_equal(fx->apic.last.vector, FR_VEC(u));
	assert_int_equal(fx->apic.last.dest, FR_CPU(u));
}

/* ---- tests ---- */

static void activate_writes_entry_and_device_reaches_parent_vector(void **state)
{
	struct ims_ir_outcome out;
	struct ims_remap_stats st;
	struct ims_irte t;
	struct ims_msi_msg m;
	uint16_t handle, sub;
	bool shv;
	int irq;

	(void)state;
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	irq = alloc_irqs(0, 1, 0x0200, IMS_MSI_TYPE_IMS);
	assert_true(irq >= 0);
	assert_int_equal(fx->fr.in_use, 0);		/* alloc only reserves */
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq), 0);
	assert_int_equal(fx->fr.in_use, 1);
	t = entry_of(0, (unsigned int)irq);
	assert_true(t.present);
	assert_false(t.posted);
	assert_int_equal(t.vector, FR_VEC(root_level((unsigned int)irq)->chip_u64));
	assert_int_equal(t.dest, 0);			/* CPU 0, xAPIC form */
	assert_int_equal(t.sid, 0x0200);
	assert_int_equal(t.svt, IMS_SVT_SID);
	m = device_msg(0, (unsigned int)irq);
	assert_int_equal(ims_remap_msg_decode(&m, &handle, &shv, &sub), 0);
	assert_int_equal(handle, ims_remap_irq_index(fx->remap[0], (unsigned int)irq));
	assert_true(shv);
	assert_int_equal(sub, 0);
	expect_delivered_to_root(0, (unsigned int)irq, 0x0200);
	/* Another requester id may not use the entry. */
	assert_int_equal(fire(0, m, 0x0300, &out), -EIO);
	assert_int_equal(out.reason, IMS_IR_FAULT_SID);
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.nr_entries, 256);
	assert_int_equal(st.allocated, 1);
	assert_int_equal(st.posted, 0);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
	assert_int_equal(fx->fr.in_use, 0);
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);
}

static void affinity_change_rewrites_only_the_entry(void **state)
{
	struct ims_cpumask *mask = ims_cpumask_create(NR_CPUS);
	struct ims_msi_msg before, after;
	struct ims_remap_stats s0, s1;
	int irq;

	(void)state;
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	irq = alloc_irqs(0, 1, 0x0208, IMS_MSI_TYPE_MSIX);
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq), 0);
	before = device_msg(0, (unsigned int)irq);
	expect_delivered_to_root(0, (unsigned int)irq, 0x0208);	/* now cached in the unit */
	ims_remap_get_stats(fx->remap[0], &s0);
	ims_cpumask_set(mask, 7);
	assert_int_equal(ims_irq_set_affinity(fx->core, (unsigned int)irq, mask), 0);
	after = device_msg(0, (unsigned int)irq);
	assert_memory_equal(&before, &after, sizeof(before));
	assert_int_equal(FR_CPU(root_level((unsigned int)irq)->chip_u64), 7);
	assert_int_equal(entry_of(0, (unsigned int)irq).dest, 7 << 8);
	/* The same stored message now reaches CPU 7: the cache was invalidated. */
	expect_delivered_to_root(0, (unsigned int)irq, 0x0208);
	assert_int_equal(fx->apic.last.dest, 7);
	ims_remap_get_stats(fx->remap[0], &s1);
	assert_int_equal(s1.writes, s0.writes + 1);
	assert_int_equal(s1.invalidations, s0.invalidations + 1);
	assert_int_equal(ims_irq_effective_cpu(fx->core, (unsigned int)irq), 7);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
	ims_cpumask_destroy(mask);
}

static void deactivate_clears_the_entry(void **state)
{
	struct ims_ir_outcome out;
	struct ims_msi_msg m;
	int irq;

	(void)state;
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	irq = alloc_irqs(0, 1, 0x0200, IMS_MSI_TYPE_IMS);
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq), 0);
	m = device_msg(0, (unsigned int)irq);
	expect_delivered_to_root(0, (unsigned int)irq, 0x0200);
	assert_int_equal(ims_irq_domain_deactivate_irq(fx->core, (unsigned int)irq), 0);
	assert_false(entry_of(0, (unsigned int)irq).present);
	assert_int_equal(fire(0, m, 0x0200, &out), -EIO);
	assert_int_equal(out.reason, IMS_IR_FAULT_NOT_PRESENT);
	assert_false(out.cache_hit);
	assert_int_equal(fx->fr.in_use, 0);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
}

static void multi_message_msi_gets_one_aligned_block(void **state)
{
	int irq, irq3, base;

	(void)state;
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	/* One single entry first, so the block cannot start at 0 by chance. */
	irq3 = alloc_irqs(0, 1, 0x0100, IMS_MSI_TYPE_MSIX);
	irq = alloc_irqs(0, 4, 0x0200, IMS_MSI_TYPE_MSI);
	assert_true(irq >= 0);
	base = ims_remap_irq_index(fx->remap[0], (unsigned int)irq);
	assert_int_equal(base % 4, 0);
	for (unsigned int i = 0; i < 4; i++) {
		struct ims_msi_msg m;
		uint16_t handle, sub;
		bool shv;

		assert_int_equal(ims_remap_irq_index(fx->remap[0], (unsigned int)irq + i), base + (int)i);
		assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq + i), 0);
		m = device_msg(0, (unsigned int)irq + i);
		assert_int_equal(ims_remap_msg_decode(&m, &handle, &shv, &sub), 0);
		assert_int_equal(handle, base);
		assert_int_equal(sub, i);
		/* The device sends message i as the first message with i in the data. */
		m = device_msg(0, (unsigned int)irq);
		m.data |= i;
		assert_int_equal(fire(0, m, 0x0200, NULL), 0);
		assert_int_equal(fx->apic.last.vector, FR_VEC(root_level((unsigned int)irq + i)->chip_u64));
	}
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 4), 0);
	/* Three messages take a block aligned to four. */
	irq = alloc_irqs(0, 3, 0x0200, IMS_MSI_TYPE_MSI);
	assert_int_equal(ims_remap_irq_index(fx->remap[0], (unsigned int)irq) % 4, 0);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 3), 0);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq3, 1), 0);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);
}

static void alloc_refuses_missing_info_and_changes_nothing(void **state)
{
	struct ims_remap_stats st;

	(void)state;
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	assert_true(ims_irq_domain_alloc_irqs(ims_remap_domain(fx->remap[0]), -1, 1, NULL, NULL) < 0);
	assert_non_null(strstr(ims_last_error(), "requester id"));
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(ims_irq_domain_nr_irqs(fx->fr.domain), 0);
}

static void full_unit_refuses_cleanly_while_second_unit_serves(void **state)
{
	struct ims_remap_stats st;
	struct ims_mem_stats m0, m1;
	int first = -1, irq, ret;

	(void)state;
	assert_int_equal(make_remap(0, 0, 0, true), 0);		/* 65,536 entries */
	assert_int_equal(make_remap(1, 0, 0, true), 0);
	for (unsigned int chunk = 0; chunk < 16; chunk++) {
		irq = alloc_irqs(0, 4096, 0x0200, IMS_MSI_TYPE_IMS);
		assert_true(irq >= 0);
		if (first < 0)
			first = irq;
	}
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.allocated, 65536);
	ims_mem_stats(&m0);
	ret = alloc_irqs(0, 1, 0x0200, IMS_MSI_TYPE_IMS);
	assert_int_equal(ret, -ENOSPC);
	assert_non_null(strstr(ims_last_error(), "no free remapping entry"));
	/* A block that straddles the end fails whole, too. */
	assert_int_equal(alloc_irqs(0, 4, 0x0200, IMS_MSI_TYPE_MSI), -ENOSPC);
	ims_mem_stats(&m1);
	assert_int_equal(m0.bytes, m1.bytes);
	assert_int_equal(m0.objects, m1.objects);
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.allocated, 65536);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);
	/* The last entry works, and the second unit still serves. */
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)first + 65535), 0);
	expect_delivered_to_root(0, (unsigned int)first + 65535, 0x0200);
	assert_int_equal(entry_of(0, (unsigned int)first + 65535).present, true);
	irq = alloc_irqs(1, 1, 0x8200, IMS_MSI_TYPE_IMS);
	assert_true(irq >= 0);
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq), 0);
	expect_delivered_to_root(1, (unsigned int)irq, 0x8200);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
	/* One freed entry is found again. */
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)first + 1000, 1), 0);
	irq = alloc_irqs(0, 1, 0x0200, IMS_MSI_TYPE_IMS);
	assert_true(irq >= 0);
	assert_int_equal(ims_remap_irq_index(fx->remap[0], (unsigned int)irq), 1000);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
	for (unsigned int chunk = 0; chunk < 16; chunk++) {
		unsigned int from = (unsigned int)first + chunk * 4096;

		if (chunk == 0) {
			assert_int_equal(ims_irq_domain_free_irqs(fx->core, from, 1000), 0);
			assert_int_equal(ims_irq_domain_free_irqs(fx->core, from + 1001, 4096 - 1001), 0);
		} else {
			assert_int_equal(ims_irq_domain_free_irqs(fx->core, from, 4096), 0);
		}
	}
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.allocated, 0);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);
}

static void posting_releases_the_host_vector_and_unposting_takes_one(void **state)
{
	uint64_t *pid = fx->pids;
	struct ims_ir_outcome out;
	struct ims_remap_stats st;
	struct ims_msi_msg m, m2;
	struct ims_irte t;
	uint64_t pir[4];
	int irq;

	(void)state;
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	irq = alloc_irqs(0, 1, 0x0200, IMS_MSI_TYPE_IMS);
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq), 0);
	m = device_msg(0, (unsigned int)irq);
	expect_delivered_to_root(0, (unsigned int)irq, 0x0200);
	ims_pid_init(pid, 0xf2, 9, false);
	assert_int_equal(ims_remap_irq_post(fx->remap[0], (unsigned int)irq, ims__dma_addr(pid), 0x61, false), 0);
	assert_true(ims_remap_irq_is_posted(fx->remap[0], (unsigned int)irq));
	assert_int_equal(fx->fr.in_use, 0);		/* no host vector held */
	t = entry_of(0, (unsigned int)irq);
	assert_true(t.posted);
	assert_int_equal(t.vector, 0x61);
	assert_int_equal(t.pda, ims__dma_addr(pid));
	assert_int_equal(t.sid, 0x0200);
	assert_int_equal(t.svt, IMS_SVT_SID);
	/* The device's message did not change, and now posts. */
	m2 = device_msg(0, (unsigned int)irq);
	assert_int_equal(m2.address_lo, m.address_lo);
	assert_int_equal(m2.data, m.data);
	assert_int_equal(fire(0, m, 0x0200, &out), 0);
	assert_int_equal(out.kind, IMS_IR_OUT_POSTED);
	assert_true(out.notified);
	assert_true(ims_pid_pir_test(pid, 0x61));
	assert_int_equal(fx->apic.last.vector, 0xf2);
	assert_int_equal(fx->apic.last.dest, 9);
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.posted, 1);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);
	/* Rebinding to another guest vector keeps it posted. */
	assert_int_equal(ims_remap_irq_post(fx->remap[0], (unsigned int)irq, ims__dma_addr(pid), 0x62, true), 0);
	assert_true(entry_of(0, (unsigned int)irq).urgent);
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.posted, 1);
	ims_pid_take(pid, pir);

	/* No vector free: unposting fails and leaves it posted, unchanged. */
	fx->fr.limit = 1;
	fx->fr.in_use = 1;
	assert_int_equal(ims_remap_irq_unpost(fx->remap[0], (unsigned int)irq), -ENOSPC);
	assert_true(ims_remap_irq_is_posted(fx->remap[0], (unsigned int)irq));
	assert_int_equal(entry_of(0, (unsigned int)irq).vector, 0x62);
	assert_int_equal(fire(0, m, 0x0200, &out), 0);
	assert_int_equal(out.kind, IMS_IR_OUT_POSTED);
	fx->fr.limit = 0;
	fx->fr.in_use = 0;

	assert_int_equal(ims_remap_irq_unpost(fx->remap[0], (unsigned int)irq), 0);
	assert_false(ims_remap_irq_is_posted(fx->remap[0], (unsigned int)irq));
	assert_int_equal(fx->fr.in_use, 1);
	assert_false(entry_of(0, (unsigned int)irq).posted);
	expect_delivered_to_root(0, (unsigned int)irq, 0x0200);
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.posted, 0);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);

	/* Deactivating a posted irq clears its entry and its posting. */
	assert_int_equal(ims_remap_irq_post(fx->remap[0], (unsigned int)irq, ims__dma_addr(pid), 0x61, false), 0);
	assert_int_equal(ims_irq_domain_deactivate_irq(fx->core, (unsigned int)irq), 0);
	assert_false(entry_of(0, (unsigned int)irq).present);
	assert_false(ims_remap_irq_is_posted(fx->remap[0], (unsigned int)irq));
	assert_int_equal(fx->fr.in_use, 0);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
}

static void posting_refuses_bad_input(void **state)
{
	static uint64_t stray[8] __attribute__((aligned(64)));
	struct ims_remap_stats st;
	int irq, other;

	(void)state;
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	irq = alloc_irqs(0, 1, 0x0200, IMS_MSI_TYPE_IMS);
	assert_int_equal(ims_remap_irq_post(fx->remap[0], (unsigned int)irq, ims__dma_addr(fx->pids), 0x61,
					    false), -EINVAL);	/* not active */
	assert_non_null(strstr(ims_last_error(), "not active"));
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq), 0);
	assert_int_equal(ims_remap_irq_post(fx->remap[0], (unsigned int)irq, ims__dma_addr(fx->pids) + 8, 0x61,
					    false), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "aligned"));
	assert_int_equal(ims_remap_irq_post(fx->remap[0], (unsigned int)irq, ims__dma_addr(stray), 0x61, false),
			 -EINVAL);
	assert_non_null(strstr(ims_last_error(), "DMA memory"));
	assert_int_equal(ims_remap_irq_unpost(fx->remap[0], (unsigned int)irq), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "not posted"));
	other = ims_irq_domain_alloc_irqs(fx->fr.domain, -1, 1, NULL, NULL);
	assert_int_equal(ims_remap_irq_post(fx->remap[0], (unsigned int)other, ims__dma_addr(fx->pids), 1,
					    false), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "no level"));
	assert_int_equal(ims_remap_irq_post(fx->remap[0], 999999, ims__dma_addr(fx->pids), 1, false), -EINVAL);
	assert_int_equal(ims_remap_irq_index(fx->remap[0], (unsigned int)other), -ENOENT);
	ims_remap_get_stats(fx->remap[0], &st);
	assert_int_equal(st.posted, 0);
	assert_int_equal(fx->fr.in_use, 1);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)other, 1), 0);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
}

static void virtual_unit_does_not_offer_ims(void **state)
{
	(void)state;
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	assert_int_equal(make_remap(1, IMS_HW_IR_VIRTUAL, 256, false), 0);
	assert_false(ims_remap_is_virtual(fx->remap[0]));
	assert_true(ims_remap_is_virtual(fx->remap[1]));
	assert_true(ims_remap_domain_allows_ims(ims_remap_domain(fx->remap[0])));
	assert_false(ims_remap_domain_allows_ims(ims_remap_domain(fx->remap[1])));
	assert_false(ims_remap_domain_allows_ims(fx->fr.domain));
	assert_false(ims_remap_domain_allows_ims(NULL));
	assert_ptr_equal(ims_remap_from_domain(ims_remap_domain(fx->remap[1])), fx->remap[1]);
	assert_null(ims_remap_from_domain(fx->fr.domain));
	assert_true(ims_irq_domain_flags(ims_remap_domain(fx->remap[0])) & IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI);
	assert_false(ims_irq_domain_flags(ims_remap_domain(fx->remap[1])) & IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI);
	assert_true(ims_irq_domain_flags(ims_remap_domain(fx->remap[1])) & IMS_IRQ_DOMAIN_FLAG_MSI_PARENT);
}

/* ---- through a device's IMS domain ---- */

struct slot {
	struct ims_msi_msg msg;
	bool masked;
	unsigned int writes;
};
static struct slot slots[8];

static void slot_mask(struct ims_irq_data *d)
{
	slots[ims_msi_irq_desc(d)->index].masked = true;
}

static void slot_unmask(struct ims_irq_data *d)
{
	slots[ims_msi_irq_desc(d)->index].masked = false;
}

static void slot_write(struct ims_irq_data *d, const struct ims_msi_msg *msg)
{
	slots[ims_msi_irq_desc(d)->index].msg = *msg;
	slots[ims_msi_irq_desc(d)->index].writes++;
}

static ims_irqreturn_t nop_handler(unsigned int irq, void *ctx)
{
	(void)irq;
	(void)ctx;
	return IMS_IRQ_HANDLED;
}

static void ims_device_on_remapping(void **state)
{
	struct ims_msi_domain_template tmpl = {
		.name = "IMS-test", .type = IMS_MSI_TYPE_IMS,
		.chip = { .name = "IMS-test", .irq_mask = slot_mask, .irq_unmask = slot_unmask,
			  .irq_write_msi_msg = slot_write },
	};
	struct ims_device_info di = { .name = "0000:02:00.0", .core = NULL, .rid = 0x0200 };
	struct ims_cpumask *mask = ims_cpumask_create(NR_CPUS);
	struct ims_device *dev, *vdev;
	struct ims_msi_msg stored;
	struct ims_msi_map map;
	struct ims_ir_outcome out;
	unsigned int writes;
	int dummy = 0;

	(void)state;
	memset(slots, 0, sizeof(slots));
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	assert_int_equal(make_remap(1, IMS_HW_IR_VIRTUAL, 256, false), 0);
	di.core = fx->core;
	di.msi_parent = ims_remap_domain(fx->remap[0]);
	assert_int_equal(ims_device_create(&di, &dev), 0);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN, &tmpl, 8, NULL), 0);
	map = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, (union ims_msi_cookie){ 0 });
	assert_int_equal(map.index, 3);
	assert_int_equal(ims_irq_request(fx->core, (unsigned int)map.virq, nop_handler, 0, "t", &dummy), 0);
	stored = slots[3].msg;
	assert_true(stored.address_lo & (1u << 4));	/* remappable format */
	assert_int_equal(entry_of(0, (unsigned int)map.virq).sid, 0x0200);
	assert_int_equal(fire(0, stored, 0x0200, &out), 0);
	assert_int_equal(out.kind, IMS_IR_OUT_REMAPPED);
	assert_int_equal(fx->apic.last.vector, FR_VEC(root_level((unsigned int)map.virq)->chip_u64));
	/* A move rewrites the entry; the slot is not written again. */
	writes = slots[3].writes;
	ims_cpumask_set(mask, 3);
	assert_int_equal(ims_irq_set_affinity(fx->core, (unsigned int)map.virq, mask), 0);
	assert_int_equal(slots[3].writes, writes);
	assert_memory_equal(&slots[3].msg, &stored, sizeof(stored));
	assert_int_equal(fire(0, stored, 0x0200, &out), 0);
	assert_int_equal(fx->apic.last.dest, 3);
	assert_int_equal(ims_irq_free(fx->core, (unsigned int)map.virq, &dummy), 0);
	assert_int_equal(ims_device_destroy(dev), 0);
	assert_int_equal(ims_remap_check(fx->remap[0]), 0);

	/* On the virtual unit, MSI-X is fine but IMS is refused. */
	di.name = "0000:82:00.0";
	di.rid = 0x8200;
	di.msi_parent = ims_remap_domain(fx->remap[1]);
	assert_int_equal(ims_device_create(&di, &vdev), 0);
	assert_true(ims_msi_create_device_domain(vdev, IMS_MSI_SECONDARY_DOMAIN, &tmpl, 8, NULL) < 0);
	tmpl.type = IMS_MSI_TYPE_MSIX;
	assert_int_equal(ims_msi_create_device_domain(vdev, IMS_MSI_DEFAULT_DOMAIN, &tmpl, 8, NULL), 0);
	assert_int_equal(ims_device_destroy(vdev), 0);
	ims_cpumask_destroy(mask);
}

static void x2apic_mode_reaches_high_apic_ids(void **state)
{
	struct ims_cpumask *mask = ims_cpumask_create(NR_CPUS);
	int irq;

	(void)state;
	assert_int_equal(make_remap(0, 0, 256, true), 0);
	assert_int_equal(make_remap(1, 0, 256, false), 0);
	ims_cpumask_set(mask, 300);
	irq = ims_irq_domain_alloc_irqs(ims_remap_domain(fx->remap[0]), -1, 1,
					&(struct ims_msi_alloc_info){ .rid = 1, .type = IMS_MSI_TYPE_IMS }, mask);
	assert_true(irq >= 0);
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq), 0);
	assert_int_equal(entry_of(0, (unsigned int)irq).dest, 300);
	expect_delivered_to_root(0, (unsigned int)irq, 1);
	assert_int_equal(fx->apic.last.dest, 300);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
	/* xAPIC mode cannot name APIC ID 300: activation fails, nothing held. */
	irq = ims_irq_domain_alloc_irqs(ims_remap_domain(fx->remap[1]), -1, 1,
					&(struct ims_msi_alloc_info){ .rid = 0x8001, .type = IMS_MSI_TYPE_IMS },
					mask);
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "x2APIC"));
	assert_int_equal(fx->fr.in_use, 0);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
	ims_cpumask_destroy(mask);
}

static void faults_are_read_through_the_driver(void **state)
{
	struct ims_remap_fault f;
	struct ims_msi_msg m;
	int irq;

	(void)state;
	assert_int_equal(make_remap(0, 0, 256, false), 0);
	assert_int_equal(ims_remap_fault_pop(fx->remap[0], &f), 0);
	irq = alloc_irqs(0, 1, 0x0200, IMS_MSI_TYPE_IMS);
	assert_int_equal(ims_irq_domain_activate_irq(fx->core, (unsigned int)irq), 0);
	m = device_msg(0, (unsigned int)irq);
	assert_int_equal(fire(0, m, 0x0201, NULL), -EIO);
	assert_int_equal(ims_remap_fault_pop(fx->remap[0], &f), 1);
	assert_int_equal(f.reason, 0x26);
	assert_string_equal(ims_remap_fault_name(f.reason), "source-id");
	assert_int_equal(f.sid, 0x0201);
	assert_int_equal(f.index, ims_remap_irq_index(fx->remap[0], (unsigned int)irq));
	assert_int_equal(ims_remap_fault_pop(fx->remap[0], &f), 0);
	/* Compatibility format is blocked unless the driver allowed it. */
	m.address_lo = 0xFEE03000u;
	assert_int_equal(fire(0, m, 0x0200, NULL), -EIO);
	assert_int_equal(ims_remap_fault_pop(fx->remap[0], &f), 1);
	assert_int_equal(f.reason, 0x25);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 1), 0);
}

static void create_refuses_bad_config_and_busy_units(void **state)
{
	struct ims_hw_ir_unit_config ucfg = { .dma = fx->dma, .apic = { apic_log_fn, &fx->apic } };
	struct ims_remap_config rcfg = { .dma = fx->dma, .parent = fx->fr.domain };
	struct ims_remap *r = NULL;
	int irq;

	(void)state;
	assert_int_equal(ims__ir_unit_create(&ucfg, &fx->unit[0]), 0);
	rcfg.unit = fx->unit[0];
	rcfg.nr_entries = 100;
	assert_int_equal(ims_remap_create(fx->core, &rcfg, &r), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "nr_entries"));
	rcfg.nr_entries = 1;
	assert_int_equal(ims_remap_create(fx->core, &rcfg, &r), -EINVAL);
	rcfg.nr_entries = 131072;
	assert_int_equal(ims_remap_create(fx->core, &rcfg, &r), -EINVAL);
	rcfg.nr_entries = 2;
	rcfg.parent = NULL;
	assert_int_equal(ims_remap_create(fx->core, &rcfg, &r), -EINVAL);
	rcfg.parent = fx->fr.domain;
	assert_int_equal(ims_remap_create(fx->core, &rcfg, &fx->remap[0]), 0);
	assert_int_equal(ims_remap_create(fx->core, &rcfg, &r), -EBUSY);	/* unit taken */
	assert_null(r);
	/* A table of two entries: the third allocation fails. */
	irq = alloc_irqs(0, 2, 0x0200, IMS_MSI_TYPE_IMS);
	assert_true(irq >= 0);
	assert_int_equal(alloc_irqs(0, 1, 0x0200, IMS_MSI_TYPE_IMS), -ENOSPC);
	assert_int_equal(ims_remap_destroy(fx->remap[0]), -EBUSY);
	assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)irq, 2), 0);
}

static void allocating_calls_fail_cleanly_at_every_point(void **state)
{
	struct ims_hw_ir_unit_config ucfg = { .dma = fx->dma, .apic = { apic_log_fn, &fx->apic } };
	struct ims_remap_config rcfg = { .dma = fx->dma, .parent = fx->fr.domain, .nr_entries = 64 };
	struct ims_mem_stats before, after;
	struct ims_remap_stats st;
	uint64_t n;
	int ret;

	(void)state;
	assert_int_equal(ims__ir_unit_create(&ucfg, &fx->unit[0]), 0);
	rcfg.unit = fx->unit[0];
	for (n = 1;; n++) {
		ims_mem_stats(&before);
		ims_fault_arm_nth(n, NULL);
		ret = ims_remap_create(fx->core, &rcfg, &fx->remap[0]);
		ims_fault_disarm();
		if (ret == 0)
			break;
		assert_int_equal(ret, -ENOMEM);
		ims_mem_stats(&after);
		assert_int_equal(before.bytes, after.bytes);
		assert_int_equal(before.objects, after.objects);
		/* The unit was left untouched, so the next try can take it. */
		assert_int_equal(ims__ir_unit_read(fx->unit[0], IMS_IR_REG_GSTS) & IMS_IR_GCMD_IRE, 0);
	}
	assert_true(n > 6);
	for (unsigned int nr = 1; nr <= 4; nr *= 4) {
		for (n = 1;; n++) {
			ims_mem_stats(&before);
			ims_fault_arm_nth(n, NULL);
			ret = alloc_irqs(0, nr, 0x0200, IMS_MSI_TYPE_MSI);
			ims_fault_disarm();
			if (ret >= 0)
				break;
			assert_int_equal(ret, -ENOMEM);
			ims_mem_stats(&after);
			assert_int_equal(before.bytes, after.bytes);
			assert_int_equal(before.objects, after.objects);
			ims_remap_get_stats(fx->remap[0], &st);
			assert_int_equal(st.allocated, 0);
			assert_int_equal(ims_irq_domain_nr_irqs(ims_remap_domain(fx->remap[0])), 0);
			assert_int_equal(ims_remap_check(fx->remap[0]), 0);
		}
		ims_remap_get_stats(fx->remap[0], &st);
		assert_int_equal(st.allocated, nr);
		assert_int_equal(ims_irq_domain_free_irqs(fx->core, (unsigned int)ret, nr), 0);
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(activate_writes_entry_and_device_reaches_parent_vector),
		T(affinity_change_rewrites_only_the_entry),
		T(deactivate_clears_the_entry),
		T(multi_message_msi_gets_one_aligned_block),
		T(alloc_refuses_missing_info_and_changes_nothing),
		T(full_unit_refuses_cleanly_while_second_unit_serves),
		T(posting_releases_the_host_vector_and_unposting_takes_one),
		T(posting_refuses_bad_input),
		T(virtual_unit_does_not_offer_ims),
		T(ims_device_on_remapping),
		T(x2apic_mode_reaches_high_apic_ids),
		T(faults_are_read_through_the_driver),
		T(create_refuses_bad_config_and_busy_units),
		T(allocating_calls_fail_cleanly_at_every_point),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
