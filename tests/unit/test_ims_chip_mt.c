/*
 * Both IMS chips under threads: eight threads allocate a vector with their
 * own PASID, request it, signal it from the device side, wait until its
 * handler has run, and free it, over and over; four on a device with the
 * slot array, four on one with system-memory queues (whose LOAD commands
 * share one command register under the chip's bus lock). Every signal
 * reaches its own handler; no signal is refused or blocked; every counter
 * and slot ends as it began.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/ims_fabric.h"
#include "hw/ims/ims_array.h"
#include "hw/ims/ims_queue.h"
#include "hw/ims/queue_io.h"
#include "hw/pci/bar_io.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define NTHREADS 8
#define ROUNDS 300
#define NR 64
#define SPIN_LIMIT 100000000ull

struct side {
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_ims_array *arr;
	struct ims_hw_ims_queue *q;
	struct ims_hw_bar_io bar;
	struct ims_io_access io, shadows;
	struct ims_device *dev;
	struct ims_array_chip *achip;
	struct ims_queue_chip *qchip;
};

static struct fabric *fab;
static struct ims_irq_core *core;
static struct side sides[2];
static atomic_uint wrong;

struct worker {
	unsigned int id;
	atomic_uint hits;
};

static ims_irqreturn_t handler(unsigned int irq, void *ctx)
{
	struct worker *w = ctx;

	(void)irq;
	atomic_fetch_add(&w->hits, 1);
	return IMS_IRQ_HANDLED;
}

static int qregs_read32(void *ctx, uint64_t off, uint32_t *val)
{
	struct side *s = ctx;

	return s->io.read32(s->io.ctx, 0x100 + off, val);
}

static int qregs_write32(void *ctx, uint64_t off, uint32_t val)
{
	struct side *s = ctx;

	return s->io.write32(s->io.ctx, 0x100 + off, val);
}

static void side_build(struct side *s, uint16_t rid, bool queue)
{
	struct ims_hw_pci_cfg_params p = { .vendor_id = 0x8086, .device_id = 0x0b25, .rid = rid,
					   .extended = true };
	struct ims_hw_ims_array_params ap = { NR, rid };
	struct ims_hw_ims_queue_params qp = { NR, rid };
	struct ims_device_info di = { .name = queue ? "queue-dev" : "array-dev", .rid = rid };
	struct ims_hw_msi_sink sink;
	struct ims_hw_mmio_region r;

	fabric_sink(fab, &sink);
	assert_int_equal(ims__hw_pci_cfg_create(&p, &s->cfg), 0);
	assert_int_equal(ims__hw_pci_bar_add(s->cfg, 0, 0x10000, IMS_HW_PCI_BAR_64BIT), 0);
	ims__hw_bar_io_init(&s->bar, s->cfg, 0, &s->io);
	di.core = core;
	di.msi_parent = fab->domain;
	assert_int_equal(ims_device_create(&di, &s->dev), 0);
	if (queue) {
		struct ims_queue_chip_info ci = { { qregs_read32, qregs_write32, s }, { 0 }, NR };

		assert_int_equal(ims__hw_ims_queue_create(&qp, &sink, &s->q), 0);
		ims__hw_ims_queue_region(s->q, &r);
		assert_int_equal(ims__hw_pci_bar_map(s->cfg, 0, 0x100, &r), 0);
		ims__hw_ims_queue_shadow_io(s->q, &ci.shadows);
		assert_int_equal(ims_queue_chip_create(&ci, &s->qchip), 0);
		assert_int_equal(ims_msi_create_device_domain(s->dev, IMS_MSI_SECONDARY_DOMAIN,
							      ims_queue_chip_template(), NR, s->qchip), 0);
	} else {
		struct ims_array_chip_info ci = { s->io, 0x8000, NR };

		assert_int_equal(ims__hw_ims_array_create(&ap, &sink, &s->arr), 0);
		ims__hw_ims_array_region(s->arr, &r);
		assert_int_equal(ims__hw_pci_bar_map(s->cfg, 0, 0x8000, &r), 0);
		assert_int_equal(ims_array_chip_create(&ci, &s->achip), 0);
		assert_int_equal(ims_msi_create_device_domain(s->dev, IMS_MSI_SECONDARY_DOMAIN,
							      ims_array_chip_template(), NR, s->achip), 0);
	}
	assert_int_equal(ims__hw_pci_cfg_write(s->cfg, IMS_PCI_COMMAND, 2, IMS_PCI_COMMAND_MEMORY), 0);
}

static void side_free(struct side *s)
{
	assert_int_equal(ims__msi_device_check(s->dev), 0);
	assert_int_equal(ims_msi_nr_allocated(s->dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	assert_int_equal(ims_device_destroy(s->dev), 0);
	ims_array_chip_destroy(s->achip);
	ims_queue_chip_destroy(s->qchip);
	ims__hw_ims_array_destroy(s->arr);
	ims__hw_ims_queue_destroy(s->q);
	ims__hw_pci_cfg_destroy(s->cfg);
}

static void *worker(void *arg)
{
	struct worker *w = arg;
	struct side *s = &sides[w->id % 2];
	uint32_t pasid = 0x100 + w->id;

	for (unsigned int r = 0; r < ROUNDS; r++) {
		struct ims_msi_map m = ims_msi_alloc_irq_at(s->dev, IMS_MSI_SECONDARY_DOMAIN,
							    IMS_MSI_ANY_INDEX, NULL,
							    ims_chip_pasid_cookie(pasid));
		unsigned int before = atomic_load(&w->hits);
		uint64_t spins = 0;
		int ret;

		if (m.virq < 0) {
			atomic_fetch_add(&wrong, 1);
			continue;
		}
		if (ims_irq_request(core, (unsigned int)m.virq, handler, 0, "w", w)) {
			atomic_fetch_add(&wrong, 1);
			ims_msi_free_irq(s->dev, IMS_MSI_SECONDARY_DOMAIN, (uint32_t)m.index);
			continue;
		}
		ret = s->arr ? ims__hw_ims_array_signal(s->arr, (uint32_t)m.index, true, pasid)
			     : ims__hw_ims_queue_signal(s->q, (uint32_t)m.index, true, pasid);
		if (ret)
			atomic_fetch_add(&wrong, 1);
		while (atomic_load(&w->hits) == before && ++spins < SPIN_LIMIT) {
			fabric_drain(fab);
			sched_yield();
		}
		if (atomic_load(&w->hits) != before + 1)
			atomic_fetch_add(&wrong, 1);
		if (ims_irq_free(core, (unsigned int)m.virq, w) ||
		    ims_msi_free_irq(s->dev, IMS_MSI_SECONDARY_DOMAIN, (uint32_t)m.index))
			atomic_fetch_add(&wrong, 1);
	}
	return NULL;
}

static void both_chips_under_threads(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = 4 };
	pthread_t t[NTHREADS];
	struct worker w[NTHREADS];
	struct ims_mem_stats m;
	unsigned int total = 0;

	(void)state;
	fab = calloc(1, sizeof(*fab));
	assert_non_null(fab);
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(fabric_init(fab, core, "IR-0"), 0);
	side_build(&sides[0], 0x0400, false);
	side_build(&sides[1], 0x0500, true);
	for (unsigned int i = 0; i < NTHREADS; i++) {
		w[i].id = i;
		atomic_init(&w[i].hits, 0);
		assert_int_equal(pthread_create(&t[i], NULL, worker, &w[i]), 0);
	}
	for (unsigned int i = 0; i < NTHREADS; i++) {
		pthread_join(t[i], NULL);
		total += atomic_load(&w[i].hits);
	}
	fabric_drain(fab);
	print_message("%u vectors allocated, signalled, handled once each and freed by %d threads\n",
		      total, NTHREADS);
	assert_int_equal(atomic_load(&wrong), 0);
	assert_int_equal(total, NTHREADS * ROUNDS);
	assert_int_equal(atomic_load(&fab->blocked), 0);
	assert_int_equal(ims_queue_chip_load_errors(sides[1].qchip), 0);
	side_free(&sides[0]);
	side_free(&sides[1]);
	assert_int_equal(ims__irq_core_check(core), 0);
	assert_int_equal(fabric_fini(fab), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	free(fab);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(both_chips_under_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
