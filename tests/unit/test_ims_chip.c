/*
 * The OS-side IMS chips through the device MSI layer, on the test fabric
 * and the hardware models of IMS storage: the array chip programs the
 * vector's PASID, writes and flushes messages, masks by the control word,
 * and resets slots on free; a slot signalled while masked latches and is
 * delivered on unmask; a signal carrying another ADI's PASID is refused;
 * the queue chip changes only shadows and a failed LOAD leaves the
 * previous message in effect while request and enable report the error;
 * and every allocating call under the fail-Nth loop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/fail_nth.h"
#include "helpers/ims_fabric.h"
#include "hw/ims/ims_array.h"
#include "hw/ims/ims_queue.h"
#include "hw/ims/queue_io.h"
#include "hw/pci/bar_io.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define RID 0x0400
#define ARRAY_OFF 0x8000
#define QREGS_OFF 0x100
#define NR_SLOTS 1024
#define NR_QUEUES 256

static struct fabric *fab;
static struct ims_irq_core *core;
static struct ims_device *dev;
static struct ims_hw_pci_cfg *cfg;
static struct ims_hw_ims_array *arr;
static struct ims_hw_ims_queue *q;
static struct ims_hw_bar_io bar0;
static struct ims_io_access bar_io, shadow_io;
static struct ims_array_chip *achip;
static struct ims_queue_chip *qchip;
static unsigned int hits[FAB_MAX_IRQS];

/* An accessor over the BAR that can fail, or drop bits of control writes. */
static int fail_io;
static uint32_t ctrl_drop;

static int flaky_read32(void *ctx, uint64_t off, uint32_t *val)
{
	(void)ctx;
	if (fail_io)
		return -EIO;
	return bar_io.read32(bar_io.ctx, off, val);
}

static int flaky_write32(void *ctx, uint64_t off, uint32_t val)
{
	(void)ctx;
	if (fail_io)
		return -EIO;
	if (off % IMS_SLOT_SIZE == IMS_SLOT_CTRL)
		val &= ~ctrl_drop;
	return bar_io.write32(bar_io.ctx, off, val);
}

static const struct ims_io_access flaky_io = { flaky_read32, flaky_write32, NULL };

static ims_irqreturn_t count_handler(unsigned int irq, void *ctx)
{
	(void)ctx;
	hits[irq]++;
	return IMS_IRQ_HANDLED;
}

/* Irq numbers are reused after free: count from zero for each new handler. */
static int request_counted(unsigned int irq, const char *name)
{
	hits[irq] = 0;
	return ims_irq_request(core, irq, count_handler, 0, name, NULL);
}

static int setup(void **state)
{
	struct ims_irq_core_config cc = { .nr_cpus = 4 };
	struct ims_hw_pci_cfg_params p = { .vendor_id = 0x8086, .device_id = 0x0b25, .rid = RID,
					   .extended = true };
	struct ims_hw_ims_array_params ap = { NR_SLOTS, RID };
	struct ims_hw_ims_queue_params qp = { NR_QUEUES, RID };
	struct ims_device_info di = { .name = "0000:04:00.0", .rid = RID };
	struct ims_hw_msi_sink sink;
	struct ims_hw_mmio_region r;

	(void)state;
	memset(hits, 0, sizeof(hits));
	fail_io = 0;
	ctrl_drop = 0;
	fab = calloc(1, sizeof(*fab));
	assert_non_null(fab);
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	assert_int_equal(fabric_init(fab, core, "IR-0"), 0);
	fabric_sink(fab, &sink);
	assert_int_equal(ims__hw_pci_cfg_create(&p, &cfg), 0);
	assert_int_equal(ims__hw_pci_bar_add(cfg, 0, 0x10000, IMS_HW_PCI_BAR_64BIT), 0);
	assert_int_equal(ims__hw_ims_array_create(&ap, &sink, &arr), 0);
	ims__hw_ims_array_region(arr, &r);
	assert_int_equal(ims__hw_pci_bar_map(cfg, 0, ARRAY_OFF, &r), 0);
	assert_int_equal(ims__hw_ims_queue_create(&qp, &sink, &q), 0);
	ims__hw_ims_queue_region(q, &r);
	assert_int_equal(ims__hw_pci_bar_map(cfg, 0, QREGS_OFF, &r), 0);
	assert_int_equal(ims__hw_pci_cfg_write(cfg, IMS_PCI_COMMAND, 2,
					       IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER), 0);
	ims__hw_bar_io_init(&bar0, cfg, 0, &bar_io);
	ims__hw_ims_queue_shadow_io(q, &shadow_io);
	di.core = core;
	di.msi_parent = fab->domain;
	assert_int_equal(ims_device_create(&di, &dev), 0);
	return 0;
}

static int teardown(void **state)
{
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(ims__msi_device_check(dev), 0);
	assert_int_equal(ims_device_destroy(dev), 0);
	ims_array_chip_destroy(achip);
	ims_queue_chip_destroy(qchip);
	achip = NULL;
	qchip = NULL;
	assert_int_equal(ims__irq_core_check(core), 0);
	assert_int_equal(atomic_load(&fab->live), 0);
	assert_int_equal(fabric_fini(fab), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	ims__hw_ims_queue_destroy(q);
	ims__hw_ims_array_destroy(arr);
	ims__hw_pci_cfg_destroy(cfg);
	free(fab);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	return 0;
}

static void make_array_domain(const struct ims_io_access *io)
{
	struct ims_array_chip_info ci = { *io, ARRAY_OFF, NR_SLOTS };

	assert_int_equal(ims_array_chip_create(&ci, &achip), 0);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN,
						      ims_array_chip_template(), NR_SLOTS, achip), 0);
}

static uint32_t slot_rd(uint32_t slot, uint32_t field)
{
	uint32_t v;

	assert_int_equal(bar_io.read32(bar_io.ctx, ARRAY_OFF + 16ull * slot + field, &v), 0);
	return v;
}

static uint32_t pasid_ctrl(uint32_t pasid, bool masked)
{
	return (masked ? IMS_SLOT_CTRL_MASKBIT : 0) | IMS_SLOT_CTRL_PASID_EN |
	       pasid << IMS_SLOT_CTRL_PASID_SHIFT;
}

static void assert_slot_free(uint32_t slot)
{
	assert_int_equal(slot_rd(slot, IMS_SLOT_ADDR_LO), 0);
	assert_int_equal(slot_rd(slot, IMS_SLOT_ADDR_HI), 0);
	assert_int_equal(slot_rd(slot, IMS_SLOT_DATA), 0);
	assert_int_equal(slot_rd(slot, IMS_SLOT_CTRL), IMS_SLOT_CTRL_MASKBIT);
}

static int all_slots_free(void)
{
	for (uint32_t i = 0; i < NR_SLOTS; i++)
		if (slot_rd(i, IMS_SLOT_CTRL) != IMS_SLOT_CTRL_MASKBIT || slot_rd(i, IMS_SLOT_ADDR_LO) ||
		    slot_rd(i, IMS_SLOT_DATA))
			return -1;
	return 0;
}

/* ---- array chip ---- */

/* An accessor over the BAR that counts what the chip does. */
static unsigned int io_reads, io_writes;

static int counting_read32(void *ctx, uint64_t off, uint32_t *val)
{
	(void)ctx;
	io_reads++;
	return bar_io.read32(bar_io.ctx, off, val);
}

static int counting_write32(void *ctx, uint64_t off, uint32_t val)
{
	(void)ctx;
	io_writes++;
	return bar_io.write32(bar_io.ctx, off, val);
}

static const struct ims_io_access counting_io = { counting_read32, counting_write32, NULL };

/*
 * A slot the chip has not written is reset in full; one it left clean
 * needs only its control word, and a vector whose message is zero (never
 * activated, or deactivated) is freed by masking alone. The slot reads the
 * same either way.
 */
static void array_reuses_a_clean_slot_with_fewer_accesses(void **state)
{
	struct ims_msi_map m;

	(void)state;
	/* Whatever the slot held before the driver came, it is not trusted. */
	assert_int_equal(bar_io.write32(bar_io.ctx, ARRAY_OFF + 16ull * 3 + IMS_SLOT_ADDR_LO, 0xfee00000), 0);
	assert_int_equal(bar_io.write32(bar_io.ctx, ARRAY_OFF + 16ull * 3 + IMS_SLOT_DATA, 0x41), 0);
	make_array_domain(&counting_io);
	io_reads = io_writes = 0;
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, ims_chip_pasid_cookie(0x77));
	assert_int_equal(m.index, 3);
	assert_int_equal(io_writes, 5);
	assert_int_equal(io_reads, 1);
	assert_int_equal(slot_rd(3, IMS_SLOT_ADDR_LO), 0);
	assert_int_equal(slot_rd(3, IMS_SLOT_DATA), 0);
	assert_int_equal(slot_rd(3, IMS_SLOT_CTRL), pasid_ctrl(0x77, true));
	io_reads = io_writes = 0;
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 3), 0);
	assert_int_equal(io_writes + io_reads, 2);
	assert_slot_free(3);
	/* Clean now: the next vector on it costs a write and a read. */
	io_reads = io_writes = 0;
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, ims_chip_pasid_cookie(0x78));
	assert_int_equal(io_writes + io_reads, 2);
	assert_int_equal(slot_rd(3, IMS_SLOT_CTRL), pasid_ctrl(0x78, true));
	/* Activated, its message is written; freed, it is reset in full again. */
	assert_int_equal(request_counted((unsigned)m.virq, "clean"), 0);
	assert_int_equal(slot_rd(3, IMS_SLOT_ADDR_LO) >> 20, 0xfee);
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
	assert_int_equal(slot_rd(3, IMS_SLOT_ADDR_LO), 0);
	io_reads = io_writes = 0;
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 3), 0);
	assert_int_equal(io_writes + io_reads, 2);	/* deactivation zeroed the message */
	assert_slot_free(3);
	assert_int_equal(all_slots_free(), 0);
}

static void array_alloc_programs_pasid_masked_and_free_resets(void **state)
{
	struct ims_msi_map m;
	uint32_t addr;

	(void)state;
	make_array_domain(&bar_io);
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 5, NULL, ims_chip_pasid_cookie(0x123));
	assert_int_equal(m.index, 5);
	assert_int_equal(slot_rd(5, IMS_SLOT_CTRL), pasid_ctrl(0x123, true));
	assert_int_equal(slot_rd(5, IMS_SLOT_ADDR_LO), 0);
	/* The domain cookie is the slot's offset in the BAR. */
	assert_int_equal(ims_msi_irq_desc(ims_irq_domain_get_irq_data(
				 ims_msi_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN), (unsigned)m.virq))
				 ->dcookie.value, ARRAY_OFF + 5 * 16);

	assert_int_equal(request_counted((unsigned)m.virq, "adi"), 0);
	addr = slot_rd(5, IMS_SLOT_ADDR_LO);
	assert_int_equal(addr >> 20, 0xfee);
	assert_int_equal((addr >> 5) & 0x7fff, (unsigned)m.virq);
	assert_int_equal(slot_rd(5, IMS_SLOT_CTRL), pasid_ctrl(0x123, false));
	/* Only slot 5 was touched. */
	assert_slot_free(4);
	assert_slot_free(6);

	assert_int_equal(ims__hw_ims_array_signal(arr, 5, true, 0x123), 0);
	assert_int_equal(fabric_drain(fab), 1);
	assert_int_equal(hits[m.virq], 1);

	/* Freeing the handler masks and clears the message; freeing the vector resets the slot. */
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
	assert_int_equal(slot_rd(5, IMS_SLOT_CTRL), pasid_ctrl(0x123, true));
	assert_int_equal(slot_rd(5, IMS_SLOT_ADDR_LO), 0);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 5), 0);
	assert_slot_free(5);

	/* Without a PASID, the slot takes only signals without one. */
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 7, NULL, (union ims_msi_cookie){ 0 });
	assert_int_equal(m.index, 7);
	assert_int_equal(slot_rd(7, IMS_SLOT_CTRL), IMS_SLOT_CTRL_MASKBIT);
	assert_int_equal(request_counted((unsigned)m.virq, "plain"), 0);
	assert_int_equal(ims__hw_ims_array_signal(arr, 7, true, 1), -EPERM);
	assert_int_equal(ims__hw_ims_array_signal(arr, 7, false, 0), 0);
	assert_int_equal(fabric_drain(fab), 1);
	assert_int_equal(hits[m.virq], 1);
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
	assert_int_equal(atomic_load(&fab->blocked), 0);
}

static void array_refuses_bad_cookie_and_unkept_pasid(void **state)
{
	struct ims_msi_map m;

	(void)state;
	make_array_domain(&flaky_io);
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 1, NULL,
				 (union ims_msi_cookie){ .value = 1ull << 40 });
	assert_int_equal(m.index, -EINVAL);
	assert_non_null(strstr(ims_last_error(), "not a PASID"));
	/* A device that drops PASID bits could not refuse another ADI's signals. */
	ctrl_drop = IMS_SLOT_CTRL_PASID_MASK;
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 1, NULL, ims_chip_pasid_cookie(9));
	assert_int_equal(m.index, -EIO);
	assert_non_null(strstr(ims_last_error(), "does not hold the PASID"));
	ctrl_drop = 0;
	assert_slot_free(1);
	/* A failing BAR: refused, nothing allocated, the error counted. */
	fail_io = 1;
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 1, NULL, ims_chip_pasid_cookie(9));
	assert_int_equal(m.index, -EIO);
	fail_io = 0;
	assert_true(ims_array_chip_io_errors(achip) > 0);
	assert_int_equal(ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN), 0);
	assert_slot_free(1);
	/* Bad chip parameters. */
	{
		struct ims_array_chip *c;
		struct ims_array_chip_info ci = { bar_io, ARRAY_OFF + 4, 8 };

		assert_int_equal(ims_array_chip_create(&ci, &c), -EINVAL);
		ci.offset = ARRAY_OFF;
		ci.nr_slots = 0;
		assert_int_equal(ims_array_chip_create(&ci, &c), -EINVAL);
		ci.nr_slots = 8;
		ci.io.write32 = NULL;
		assert_int_equal(ims_array_chip_create(&ci, &c), -EINVAL);
	}
}

static void array_masked_slot_latches_and_delivers_on_unmask(void **state)
{
	struct ims_msi_map m;
	unsigned int irq;

	(void)state;
	make_array_domain(&bar_io);
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, IMS_MSI_ANY_INDEX, NULL,
				 ims_chip_pasid_cookie(0x55));
	assert_true(m.index >= 0);
	irq = (unsigned)m.virq;
	/* Allocated but not started: the slot is masked and latches. */
	assert_int_equal(ims__hw_ims_array_signal(arr, (uint32_t)m.index, true, 0x55), 0);
	assert_true(ims__hw_ims_array_pending(arr, (uint32_t)m.index));
	assert_int_equal(fabric_queued(fab), 0);
	/* Request writes the message and unmasks: the latched signal goes out with it. */
	assert_int_equal(request_counted(irq, "adi"), 0);
	assert_false(ims__hw_ims_array_pending(arr, (uint32_t)m.index));
	assert_int_equal(fabric_drain(fab), 1);
	assert_int_equal(hits[irq], 1);

	/* Disabled: the first arrival masks the slot (lazily) and is held pending in software. */
	assert_int_equal(ims_irq_disable(core, irq), 0);
	assert_int_equal(ims__hw_ims_array_signal(arr, (uint32_t)m.index, true, 0x55), 0);
	assert_int_equal(fabric_drain(fab), 1);
	assert_int_equal(hits[irq], 1);
	assert_int_equal(slot_rd((uint32_t)m.index, IMS_SLOT_CTRL), pasid_ctrl(0x55, true));
	/* The next one latches in the slot. */
	assert_int_equal(ims__hw_ims_array_signal(arr, (uint32_t)m.index, true, 0x55), 0);
	assert_true(ims__hw_ims_array_pending(arr, (uint32_t)m.index));
	assert_int_equal(fabric_queued(fab), 0);
	/* Enable unmasks: the slot sends its latched signal, the core replays its own. */
	assert_int_equal(ims_irq_enable(core, irq), 0);
	assert_false(ims__hw_ims_array_pending(arr, (uint32_t)m.index));
	assert_int_equal(hits[irq], 2);
	assert_int_equal(fabric_drain(fab), 1);
	assert_int_equal(hits[irq], 3);
	assert_int_equal(ims_irq_free(core, irq, NULL), 0);
}

static void array_pasid_refused_across_adis(void **state)
{
	struct ims_msi_map a[4], b[4];
	struct ims_hw_ims_stats st;
	int ga, gb;

	(void)state;
	make_array_domain(&bar_io);
	ga = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 4, NULL, ims_chip_pasid_cookie(0xa), a);
	gb = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 4, NULL, ims_chip_pasid_cookie(0xb), b);
	assert_true(ga > 0 && gb > 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(request_counted((unsigned)a[i].virq, "a"), 0);
		assert_int_equal(request_counted((unsigned)b[i].virq, "b"), 0);
	}
	/* ADI a signals every slot of b, and b every slot of a: all refused, none latched. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(ims__hw_ims_array_signal(arr, (uint32_t)b[i].index, true, 0xa), -EPERM);
		assert_int_equal(ims__hw_ims_array_signal(arr, (uint32_t)a[i].index, true, 0xb), -EPERM);
		assert_int_equal(ims__hw_ims_array_signal(arr, (uint32_t)a[i].index, false, 0), -EPERM);
		assert_false(ims__hw_ims_array_pending(arr, (uint32_t)b[i].index));
	}
	assert_int_equal(fabric_queued(fab), 0);
	ims__hw_ims_array_get_stats(arr, &st);
	assert_int_equal(st.refused, 12);
	/* Their own signals reach their own handlers. */
	for (int i = 0; i < 4; i++) {
		assert_int_equal(ims__hw_ims_array_signal(arr, (uint32_t)a[i].index, true, 0xa), 0);
		assert_int_equal(ims__hw_ims_array_signal(arr, (uint32_t)b[i].index, true, 0xb), 0);
	}
	assert_int_equal(fabric_drain(fab), 8);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(hits[a[i].virq], 1);
		assert_int_equal(hits[b[i].virq], 1);
		assert_int_equal(ims_irq_free(core, (unsigned)a[i].virq, NULL), 0);
		assert_int_equal(ims_irq_free(core, (unsigned)b[i].virq, NULL), 0);
	}
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, ga), 0);
	/* a's slots are reset; b's still hold b's PASID. */
	for (int i = 0; i < 4; i++) {
		assert_slot_free((uint32_t)a[i].index);
		assert_int_equal(slot_rd((uint32_t)b[i].index, IMS_SLOT_CTRL), pasid_ctrl(0xb, true));
	}
	/* A new ADI on a's old slots does not get b's or a's signals. */
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, gb), 0);
	assert_int_equal(all_slots_free(), 0);
}

static void array_hold_masks_over_the_core_and_latches(void **state)
{
	union ims_msi_cookie ck = ims_chip_pasid_cookie(0x66);
	struct ims_msi_map m;
	unsigned int irq;

	(void)state;
	make_array_domain(&bar_io);
	assert_int_equal(ims_array_chip_hold(achip, 3, true, ck), -EINVAL);	/* no vector yet */
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, ck);
	irq = (unsigned)m.virq;
	assert_int_equal(request_counted(irq, "held"), 0);
	assert_int_equal(ims_array_chip_hold(achip, 3, true, ck), 0);
	assert_int_equal(slot_rd(3, IMS_SLOT_CTRL), pasid_ctrl(0x66, true));
	assert_int_equal(ims__hw_ims_array_signal(arr, 3, true, 0x66), 0);
	assert_true(ims__hw_ims_array_pending(arr, 3));
	assert_int_equal(fabric_queued(fab), 0);
	/* The core's unmask does not undo a hold (enable after disable). */
	assert_int_equal(ims_irq_disable(core, irq), 0);
	assert_int_equal(ims_irq_enable(core, irq), 0);
	assert_int_equal(slot_rd(3, IMS_SLOT_CTRL), pasid_ctrl(0x66, true));
	/* Released: the latched signal goes out once. */
	assert_int_equal(ims_array_chip_hold(achip, 3, false, ck), 0);
	assert_int_equal(slot_rd(3, IMS_SLOT_CTRL), pasid_ctrl(0x66, false));
	assert_int_equal(fabric_drain(fab), 1);
	assert_int_equal(hits[irq], 1);
	/* A release does not undo the core's mask either. */
	assert_int_equal(ims_array_chip_hold(achip, 3, true, ck), 0);
	assert_int_equal(ims_irq_free(core, irq, NULL), 0);
	assert_int_equal(ims_array_chip_hold(achip, 3, false, ck), 0);
	assert_int_equal(slot_rd(3, IMS_SLOT_CTRL) & IMS_SLOT_CTRL_MASKBIT, IMS_SLOT_CTRL_MASKBIT);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 3), 0);
	assert_int_equal(ims_array_chip_hold(achip, 3, true, ck), -EINVAL);
}

/* ---- queue chip ---- */

static int qregs_read32(void *ctx, uint64_t off, uint32_t *val)
{
	(void)ctx;
	return bar_io.read32(bar_io.ctx, QREGS_OFF + off, val);
}

static int qregs_write32(void *ctx, uint64_t off, uint32_t val)
{
	(void)ctx;
	return bar_io.write32(bar_io.ctx, QREGS_OFF + off, val);
}

static void make_queue_domain(void)
{
	struct ims_queue_chip_info ci = { .shadows = shadow_io, .nr_queues = NR_QUEUES };

	ci.regs.read32 = qregs_read32;
	ci.regs.write32 = qregs_write32;
	ci.regs.ctx = NULL;
	assert_int_equal(ims_queue_chip_create(&ci, &qchip), 0);
	assert_int_equal(ims_msi_create_device_domain(dev, IMS_MSI_SECONDARY_DOMAIN,
						      ims_queue_chip_template(), NR_QUEUES, qchip), 0);
}

static struct ims_hw_slot in_effect(uint32_t queue)
{
	struct ims_hw_slot s;

	assert_int_equal(ims__hw_ims_queue_in_effect(q, queue, &s), 0);
	return s;
}

static uint32_t shadow_rd(uint32_t queue, uint32_t field)
{
	uint32_t v;

	assert_int_equal(ims__hw_ims_queue_shadow_read(q, queue, field, &v), 0);
	return v;
}

static void queue_shadow_takes_effect_through_load(void **state)
{
	struct ims_msi_map m;
	struct ims_hw_slot s;

	(void)state;
	make_queue_domain();
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 3, NULL, ims_chip_pasid_cookie(0x77));
	assert_int_equal(m.index, 3);
	s = in_effect(3);
	assert_int_equal(s.ctrl, pasid_ctrl(0x77, true));
	assert_int_equal(request_counted((unsigned)m.virq, "q"), 0);
	s = in_effect(3);
	assert_int_equal(s.ctrl, pasid_ctrl(0x77, false));
	assert_int_equal(s.addr_lo >> 20, 0xfee);
	assert_int_equal(shadow_rd(3, IMS_SLOT_ADDR_LO), s.addr_lo);
	assert_int_equal(ims__hw_ims_queue_signal(q, 3, true, 0x77), 0);
	assert_int_equal(ims__hw_ims_queue_signal(q, 3, true, 0x78), -EPERM);
	assert_int_equal(fabric_drain(fab), 1);
	assert_int_equal(hits[m.virq], 1);
	assert_true(ims_queue_chip_loads(qchip) >= 2);
	assert_int_equal(ims_queue_chip_load_errors(qchip), 0);
	/* Free: shadow and device reset, PASID gone. */
	assert_int_equal(ims_irq_free(core, (unsigned)m.virq, NULL), 0);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 3), 0);
	s = in_effect(3);
	assert_int_equal(s.ctrl, IMS_SLOT_CTRL_MASKBIT);
	assert_int_equal(s.addr_lo, 0);
	assert_int_equal(shadow_rd(3, IMS_SLOT_CTRL), IMS_SLOT_CTRL_MASKBIT);
}

static void queue_failed_load_keeps_previous_message_and_reports(void **state)
{
	struct ims_msi_map m;
	struct ims_irq_info info;
	struct ims_hw_slot s, before;
	unsigned int irq;

	(void)state;
	make_queue_domain();
	m = ims_msi_alloc_irq_at(dev, IMS_MSI_SECONDARY_DOMAIN, 9, NULL, ims_chip_pasid_cookie(0x9));
	assert_int_equal(m.index, 9);
	irq = (unsigned)m.virq;
	before = in_effect(9);

	/* The LOAD of request fails: request reports it, the device keeps its message. */
	ims_fault_arm_nth(1, "ims_queue_cmd");
	assert_int_equal(request_counted(irq, "q"), -EIO);
	ims_fault_disarm();
	s = in_effect(9);
	assert_memory_equal(&s, &before, sizeof(s));
	assert_int_equal(ims_irq_get_info(core, irq, &info), 0);
	assert_int_equal(info.nr_actions, 0);
	assert_false(info.started);
	assert_int_equal(ims_queue_chip_load_errors(qchip), 1);

	/* Now it works. */
	assert_int_equal(request_counted(irq, "q"), 0);
	before = in_effect(9);
	assert_int_equal(before.ctrl, pasid_ctrl(0x9, false));

	/* Disabled; an arrival is held pending (the core masks the shadow). */
	assert_int_equal(ims_irq_disable(core, irq), 0);
	assert_int_equal(ims__hw_ims_queue_signal(q, 9, true, 0x9), 0);
	assert_int_equal(fabric_drain(fab), 1);
	assert_int_equal(hits[irq], 0);
	/* The enable's LOAD fails: enable reports it, the interrupt stays disabled. */
	ims_fault_arm_nth(1, "ims_queue_cmd");
	assert_int_equal(ims_irq_enable(core, irq), -EIO);
	ims_fault_disarm();
	assert_int_equal(ims_irq_get_info(core, irq, &info), 0);
	assert_true(info.disabled);
	assert_int_equal(info.depth, 1);
	assert_int_equal(hits[irq], 0);
	/* The message in effect never changed. */
	s = in_effect(9);
	assert_int_equal(s.addr_lo, before.addr_lo);
	assert_int_equal(s.data, before.data);
	/* The next enable delivers what was held. */
	assert_int_equal(ims_irq_enable(core, irq), 0);
	fabric_drain(fab);
	assert_int_equal(hits[irq], 1);
	assert_int_equal(ims_irq_free(core, irq, NULL), 0);
	assert_int_equal(ims_msi_free_irq(dev, IMS_MSI_SECONDARY_DOMAIN, 9), 0);
}

/* ---- fail-Nth ---- */

struct nth_ctx {
	int group;
	struct ims_msi_map maps[4];
	bool queue;
};

static int op_adi(void *p)
{
	struct nth_ctx *c = p;
	int ret;

	c->group = ims_msi_alloc_group(dev, IMS_MSI_SECONDARY_DOMAIN, 4, NULL,
				       ims_chip_pasid_cookie(0x42), c->maps);
	if (c->group < 0)
		return c->group;
	for (int i = 0; i < 4; i++) {
		ret = request_counted((unsigned)c->maps[i].virq, "nth");
		if (ret) {
			while (i--)
				ims_irq_free(core, (unsigned)c->maps[i].virq, NULL);
			ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, c->group);
			return ret;
		}
	}
	return 0;
}

static void undo_adi(void *p)
{
	struct nth_ctx *c = p;

	for (int i = 0; i < 4; i++)
		assert_int_equal(ims_irq_free(core, (unsigned)c->maps[i].virq, NULL), 0);
	assert_int_equal(ims_msi_free_group(dev, IMS_MSI_SECONDARY_DOMAIN, c->group), 0);
}

static int check_adi(void *p)
{
	struct nth_ctx *c = p;

	if (ims_msi_nr_allocated(dev, IMS_MSI_SECONDARY_DOMAIN) || ims__msi_device_check(dev) ||
	    ims__irq_core_check(core) || atomic_load(&fab->live))
		return -1;
	if (!c->queue)
		return all_slots_free();
	for (uint32_t i = 0; i < 8; i++) {
		struct ims_hw_slot s = in_effect(i);

		if (s.ctrl != IMS_SLOT_CTRL_MASKBIT || s.addr_lo || s.data)
			return -1;
	}
	return 0;
}

static void fail_nth_over_adi_vectors_array(void **state)
{
	const struct fail_nth_ops ops = { op_adi, undo_adi, check_adi, NULL };
	struct nth_ctx c = { 0 };
	struct fail_nth_result r;

	(void)state;
	make_array_domain(&bar_io);
	r = fail_nth_run(&ops, &c);
	assert_true(r.attempts > 0);
	print_message("array chip: %llu fault points, %llu failed attempts\n",
		      (unsigned long long)r.points, (unsigned long long)r.failures);
}

static void fail_nth_over_adi_vectors_queue(void **state)
{
	const struct fail_nth_ops ops = { op_adi, undo_adi, check_adi, NULL };
	struct nth_ctx c = { .queue = true };
	struct fail_nth_result r;

	(void)state;
	make_queue_domain();
	r = fail_nth_run(&ops, &c);
	assert_true(r.attempts > 0);
	print_message("queue chip: %llu fault points (LOAD commands among them), %llu failed attempts\n",
		      (unsigned long long)r.points, (unsigned long long)r.failures);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(array_alloc_programs_pasid_masked_and_free_resets, setup, teardown),
		cmocka_unit_test_setup_teardown(array_reuses_a_clean_slot_with_fewer_accesses, setup, teardown),
		cmocka_unit_test_setup_teardown(array_refuses_bad_cookie_and_unkept_pasid, setup, teardown),
		cmocka_unit_test_setup_teardown(array_masked_slot_latches_and_delivers_on_unmask, setup, teardown),
		cmocka_unit_test_setup_teardown(array_pasid_refused_across_adis, setup, teardown),
		cmocka_unit_test_setup_teardown(array_hold_masks_over_the_core_and_latches, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_shadow_takes_effect_through_load, setup, teardown),
		cmocka_unit_test_setup_teardown(queue_failed_load_keeps_previous_message_and_reports, setup, teardown),
		cmocka_unit_test_setup_teardown(fail_nth_over_adi_vectors_array, setup, teardown),
		cmocka_unit_test_setup_teardown(fail_nth_over_adi_vectors_queue, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
