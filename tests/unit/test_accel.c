/*
 * The reference accelerator and its driver, on the test fabric: probe
 * reads the capabilities and builds the IMS domain (or falls back to
 * MSI-X only, and says so); an ADI's work completes through its own
 * interrupt, not before; one ADI cannot fire another's interrupt; every
 * device error (bad descriptor, opcode, PASID, handle, completion address,
 * queue full, disabled WQ, refused interrupt) reaches the admin vector and
 * the error register; destroying an ADI drops its queued work and resets
 * its slots; 1,000 ADIs with 4 vectors each all complete on their own
 * handlers, then are destroyed in random order while the others fire; and
 * the fail-Nth loop over probe and ADI creation.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/fail_nth.h"
#include "helpers/ims_fabric.h"
#include "hw/accel/accel.h"
#include "hw/dma.h"
#include "hw/pci/bar_io.h"
#include "os/accel/accel_internal.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define RID 0x0500

static struct fabric *fab;
static struct ims_hw_dma *dma;
static struct ims_irq_core *core;
static struct ims_hw_accel *hw;
static struct ims_hw_bar_io bar0, bar2;
static struct ims_accel_info ai;
static struct ims_accel *acc;

static int os_dma_map(void *ctx, void *host, size_t len, uint64_t *bus)
{
	*bus = ims__dma_addr(host);
	return ims__dma_register(ctx, host, len);
}

static void os_dma_unmap(void *ctx, void *host)
{
	assert_int_equal(ims__dma_unregister(ctx, host), 0);
}

static int make_platform(uint16_t nr_wqs, uint16_t depth, uint32_t nr_ims, bool dvsec_ims,
			 bool isolated)
{
	struct ims_irq_core_config cc = { .nr_cpus = 4 };
	struct ims_hw_accel_params p = {
		.rid = RID, .nr_wqs = nr_wqs, .wq_depth = depth, .nr_ims = nr_ims, .nr_msix = 9,
		.dvsec_ims = dvsec_ims,
	};
	struct ims_hw_msi_sink sink;

	fab = calloc(1, sizeof(*fab));
	assert_non_null(fab);
	assert_int_equal(ims__dma_create(&dma), 0);
	assert_int_equal(ims_irq_core_create(&cc, &core), 0);
	if (isolated)
		assert_int_equal(fabric_init(fab, core, "IR-0"), 0);
	else
		assert_int_equal(fabric_init_bare(fab, core, "VECTOR"), 0);
	fabric_sink(fab, &sink);
	ims__hw_accel_mem_from_dma(dma, &p.mem);
	assert_int_equal(ims__hw_accel_create(&p, &sink, &hw), 0);
	memset(&ai, 0, sizeof(ai));
	ai.name = "0000:05:00.0";
	ai.core = core;
	ai.msi_parent = fab->domain;
	ai.rid = RID;
	ims__hw_pci_cfg_access(ims__hw_accel_cfg(hw), &ai.cfg);
	ims__hw_bar_io_init(&bar0, ims__hw_accel_cfg(hw), 0, &ai.bar[0]);
	ims__hw_bar_io_init(&bar2, ims__hw_accel_cfg(hw), 2, &ai.bar[2]);
	ai.dma = (struct ims_accel_dma_ops){ os_dma_map, os_dma_unmap, dma };
	return 0;
}

static int setup(void **state)
{
	(void)state;
	make_platform(64, 8, 256, true, true);
	assert_int_equal(ims_accel_probe(&ai, &acc), 0);
	return 0;
}

static int teardown(void **state)
{
	struct ims_mem_stats m;

	(void)state;
	if (acc) {
		assert_int_equal(ims__accel_check(acc), 0);
		assert_int_equal(ims__msi_device_check(ims_accel_device(acc)), 0);
		assert_int_equal(ims_accel_remove(acc), 0);
		acc = NULL;
	}
	assert_int_equal(ims__irq_core_check(core), 0);
	assert_int_equal(atomic_load(&fab->live), 0);
	assert_int_equal(fabric_fini(fab), 0);
	assert_int_equal(ims_irq_core_destroy(core), 0);
	ims__hw_accel_destroy(hw);
	/* Every ADI gave its completion records back. */
	assert_int_equal(ims__dma_destroy(dma), 0);
	free(fab);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	return 0;
}

static uint32_t rd0(uint32_t off)
{
	uint32_t v;

	assert_int_equal(ai.bar[0].read32(ai.bar[0].ctx, off, &v), 0);
	return v;
}

static void wr0(uint32_t off, uint32_t v)
{
	assert_int_equal(ai.bar[0].write32(ai.bar[0].ctx, off, v), 0);
}

/* Run the device, then deliver what it raised. */
static unsigned int run(void)
{
	unsigned int n = ims__hw_accel_step(hw, 1u << 30);

	fabric_drain(fab);
	return n;
}

/* A raw descriptor into WQ wq's portal, as a hostile or buggy submitter would. */
static void raw_submit(uint32_t wq, uint32_t op, uint32_t pasid, uint64_t cr, uint32_t handle,
		       uint32_t rsvd)
{
	uint32_t portal = rd0(IMS_ACCEL_REG_PORTAL_OFFSET) + wq * IMS_ACCEL_PORTAL_STRIDE;
	uint32_t d[8] = { op, pasid, (uint32_t)cr, (uint32_t)(cr >> 32), handle, rsvd, 7, 0 };

	for (int i = 0; i < 8; i++)
		wr0(portal + 4 * (uint32_t)i, d[i]);
}

static void probe_reads_capabilities_and_builds_ims(void **state)
{
	struct ims_irq_info info;
	struct ims_irq_domain *d;

	(void)state;
	assert_true(ims_accel_has_ims(acc));
	assert_int_equal(ims_accel_nr_wqs(acc), 64);
	d = ims_msi_device_domain(ims_accel_device(acc), IMS_MSI_SECONDARY_DOMAIN);
	assert_non_null(d);
	assert_string_equal(ims_irq_domain_name(d), "IR-0-IMS-array-0000:05:00.0");
	assert_int_equal(ims_irq_get_info(core, (unsigned)ims_accel_admin_irq(acc), &info), 0);
	assert_string_equal(info.actions, "accel-admin");
	assert_true(rd0(IMS_ACCEL_REG_GENSTS) & IMS_ACCEL_GENSTS_ENABLED);
}

static void probe_falls_back_to_msix_without_remapping(void **state)
{
	struct ims_accel_adi_info ii = { .pasid = 0x33, .nvec = 2 };
	struct ims_accel_adi *adi;
	uint32_t t[2];
	uint64_t r;

	(void)state;
	make_platform(16, 4, 256, true, false);
	assert_int_equal(ims_accel_probe(&ai, &acc), 0);
	assert_false(ims_accel_has_ims(acc));
	assert_null(ims_msi_device_domain(ims_accel_device(acc), IMS_MSI_SECONDARY_DOMAIN));
	/* ADIs still work, on MSI-X entries after the admin one. */
	assert_int_equal(ims_accel_adi_create(acc, &ii, &adi), 0);
	assert_int_equal(ims_accel_adi_handle(adi, 0), IMS_ACCEL_HANDLE_MSIX | 1);
	assert_int_equal(ims_accel_adi_handle(adi, 1), IMS_ACCEL_HANDLE_MSIX | 2);
	assert_int_equal(ims_accel_submit(adi, 0, IMS_ACCEL_OP_ECHO, 11, &t[0]), 0);
	assert_int_equal(ims_accel_submit(adi, 1, IMS_ACCEL_OP_ECHO, 12, &t[1]), 0);
	assert_int_equal(run(), 2);
	assert_int_equal(ims_accel_poll(adi, t[0], &r), 0);
	assert_int_equal(r, 11);
	assert_int_equal(ims_accel_poll(adi, t[1], &r), 0);
	assert_int_equal(r, 12);
	assert_int_equal(ims_accel_adi_destroy(adi), 0);
}

static void probe_without_ims_in_the_dvsec_is_msix_only(void **state)
{
	(void)state;
	make_platform(16, 4, 256, false, true);
	assert_int_equal(ims_accel_probe(&ai, &acc), 0);
	assert_false(ims_accel_has_ims(acc));
}

static void adi_work_completes_through_its_interrupt(void **state)
{
	struct ims_accel_adi_info ii = { .pasid = 0x100, .nvec = 4 };
	struct ims_accel_adi *adi;
	uint32_t t[4];
	uint64_t r;

	(void)state;
	assert_int_equal(ims_accel_adi_create(acc, &ii, &adi), 0);
	assert_int_equal(ims_accel_nr_adis(acc), 1);
	for (unsigned int v = 0; v < 4; v++)
		assert_int_equal(ims_accel_submit(adi, v, IMS_ACCEL_OP_ECHO, 0x1000 + v, &t[v]), 0);
	assert_int_equal(ims_accel_poll(adi, t[0], &r), -EAGAIN);
	/* The device completed the records, but nothing is retired before the interrupt. */
	assert_int_equal(ims__hw_accel_step(hw, 100), 4);
	assert_int_equal(ims_accel_poll(adi, t[0], &r), -EAGAIN);
	assert_int_equal(fabric_queued(fab), 4);
	assert_int_equal(fabric_drain(fab), 4);
	for (unsigned int v = 0; v < 4; v++) {
		assert_int_equal(ims_accel_poll(adi, t[v], &r), 0);
		assert_int_equal(r, 0x1000 + v);
		assert_int_equal(ims_accel_poll(adi, t[v], &r), -EINVAL);	/* retired */
	}
	assert_int_equal(ims_accel_adi_completions(adi), 4);
	/* A full ADI refuses more work than its records hold. */
	for (unsigned int k = 0; k < 8; k++)
		assert_int_equal(ims_accel_submit(adi, 0, IMS_ACCEL_OP_NOOP, 0, &t[0]), 0);
	assert_int_equal(ims_accel_submit(adi, 0, IMS_ACCEL_OP_NOOP, 0, &t[0]), -EBUSY);
	run();
	assert_int_equal(ims_accel_adi_completions(adi), 12);
	assert_int_equal(atomic_load(&fab->blocked), 0);
	assert_int_equal(ims_accel_adi_destroy(adi), 0);
	assert_int_equal(ims_accel_nr_adis(acc), 0);
}

static void one_adi_cannot_fire_another(void **state)
{
	struct ims_accel_adi_info ia = { .pasid = 0xa, .nvec = 2 }, ib = { .pasid = 0xb, .nvec = 2 };
	struct ims_accel_adi *a, *b;
	struct ims_accel_err_info e;
	struct ims_hw_accel_stats st;

	(void)state;
	assert_int_equal(ims_accel_adi_create(acc, &ia, &a), 0);
	assert_int_equal(ims_accel_adi_create(acc, &ib, &b), 0);
	/* a's WQ, a's PASID, b's slot: the slot refuses, the device records it. */
	raw_submit(ims_accel_adi_wq(a), IMS_ACCEL_OP_NOOP | IMS_ACCEL_DESC_RCI,
		   IMS_ACCEL_DESC_PASID_VALID | 0xa, 0, ims_accel_adi_handle(b, 0), 0);
	assert_int_equal(run(), 1);
	ims_accel_errors(acc, &e);
	assert_int_equal(e.by_code[IMS_ACCEL_ERR_IRQ_REFUSED], 1);
	assert_int_equal(e.last_info, ims_accel_adi_handle(b, 0));
	assert_int_equal((e.last_status >> IMS_ACCEL_ERR_WQ_SHIFT), ims_accel_adi_wq(a));
	assert_int_equal(ims_accel_adi_completions(b) + ims_accel_adi_empty_irqs(b), 0);
	/* b's PASID on a's WQ: refused at the portal. */
	raw_submit(ims_accel_adi_wq(a), IMS_ACCEL_OP_NOOP | IMS_ACCEL_DESC_RCI,
		   IMS_ACCEL_DESC_PASID_VALID | 0xb, 0, ims_accel_adi_handle(b, 0), 0);
	assert_int_equal(run(), 0);
	ims_accel_errors(acc, &e);
	assert_int_equal(e.by_code[IMS_ACCEL_ERR_BAD_PASID], 1);
	/* Nor may an ADI's WQ name an MSI-X entry of the host. */
	raw_submit(ims_accel_adi_wq(a), IMS_ACCEL_OP_NOOP | IMS_ACCEL_DESC_RCI,
		   IMS_ACCEL_DESC_PASID_VALID | 0xa, 0, IMS_ACCEL_HANDLE_MSIX | 3, 0);
	assert_int_equal(run(), 0);
	ims_accel_errors(acc, &e);
	assert_int_equal(e.by_code[IMS_ACCEL_ERR_BAD_HANDLE], 1);
	assert_int_equal(ims_accel_adi_completions(b) + ims_accel_adi_empty_irqs(b), 0);
	ims__hw_accel_get_stats(hw, &st);
	assert_int_equal(st.irqs, 0);
	assert_int_equal(ims_accel_adi_destroy(a), 0);
	assert_int_equal(ims_accel_adi_destroy(b), 0);
}

struct bad {
	uint32_t op, pasid;
	uint64_t cr;
	uint32_t handle, rsvd;
	int code;
	bool runs;
};

static void every_device_error_reaches_the_admin_vector(void **state)
{
	struct ims_accel_adi_info ii = { .pasid = 0x5, .nvec = 1 };
	struct ims_accel_adi *adi;
	struct ims_accel_err_info e;
	uint32_t wq, pasid = IMS_ACCEL_DESC_PASID_VALID | 0x5, h, d, cr;
	uint64_t off_dma = 0x40000000ull;	/* aligned, never made DMA-able */
	struct bad c[7];
	int n = 0;

	(void)state;
	assert_int_equal(ims_accel_adi_create(acc, &ii, &adi), 0);
	wq = ims_accel_adi_wq(adi);
	h = ims_accel_adi_handle(adi, 0);
	d = IMS_ACCEL_DESC_RCI;
	cr = IMS_ACCEL_DESC_CRAV;
	c[n++] = (struct bad){ d | 0x800, pasid, 0, h, 0, IMS_ACCEL_ERR_BAD_DESC, false };
	c[n++] = (struct bad){ d, pasid, 0, h, 1, IMS_ACCEL_ERR_BAD_DESC, false };
	c[n++] = (struct bad){ d | 0x7f, pasid, 0, h, 0, IMS_ACCEL_ERR_BAD_OPCODE, false };
	c[n++] = (struct bad){ d, 0x5, 0, h, 0, IMS_ACCEL_ERR_BAD_PASID, false };
	c[n++] = (struct bad){ d, pasid, 0, 256, 0, IMS_ACCEL_ERR_BAD_HANDLE, false };
	c[n++] = (struct bad){ d | cr, pasid, 0x1010, h, 0, IMS_ACCEL_ERR_BAD_COMPL_ADDR, false };
	c[n++] = (struct bad){ d | cr, pasid, off_dma, h, 0, IMS_ACCEL_ERR_BAD_COMPL_ADDR, true };
	for (int i = 0; i < n; i++) {
		raw_submit(wq, c[i].op, c[i].pasid, c[i].cr, c[i].handle, c[i].rsvd);
		assert_int_equal(run(), c[i].runs ? 1 : 0);
		ims_accel_errors(acc, &e);
		assert_int_equal(e.count, (uint64_t)i + 1);
		assert_int_equal((e.last_status & IMS_ACCEL_ERR_CODE_MASK) >> IMS_ACCEL_ERR_CODE_SHIFT,
				 c[i].code);
		/* The handler cleared the latch. */
		assert_int_equal(rd0(IMS_ACCEL_REG_ERR_STATUS), 0);
	}
	assert_int_equal(ims_accel_adi_completions(adi), 0);
	/* Queue full: depth 8, a ninth descriptor before the device runs. */
	for (int i = 0; i < 9; i++)
		raw_submit(wq, IMS_ACCEL_OP_NOOP, pasid, 0, 0, 0);
	assert_int_equal(run(), 8);
	ims_accel_errors(acc, &e);
	assert_int_equal(e.by_code[IMS_ACCEL_ERR_QUEUE_FULL], 1);
	/* A WQ no ADI holds is disabled. */
	raw_submit(63, IMS_ACCEL_OP_NOOP, 0, 0, 0, 0);
	run();
	ims_accel_errors(acc, &e);
	assert_int_equal(e.by_code[IMS_ACCEL_ERR_WQ_DISABLED], 1);
	/* Two errors before the handler runs: the first is latched, the overflow flagged. */
	raw_submit(63, IMS_ACCEL_OP_NOOP, 0, 0, 0, 0);
	raw_submit(wq, 0x7f, pasid, 0, 0, 0);
	assert_int_equal(rd0(IMS_ACCEL_REG_ERR_STATUS) & (IMS_ACCEL_ERR_VALID | IMS_ACCEL_ERR_OVERFLOW),
			 IMS_ACCEL_ERR_VALID | IMS_ACCEL_ERR_OVERFLOW);
	fabric_drain(fab);
	ims_accel_errors(acc, &e);
	assert_int_equal(e.by_code[IMS_ACCEL_ERR_WQ_DISABLED], 2);
	assert_true(e.last_status & IMS_ACCEL_ERR_OVERFLOW);
	assert_int_equal(rd0(IMS_ACCEL_REG_ERR_COUNT), 11);
	assert_int_equal(ims_accel_adi_destroy(adi), 0);
}

static void destroy_drops_queued_work_and_resets_slots(void **state)
{
	struct ims_accel_adi_info ii = { .pasid = 0x77, .nvec = 4 };
	struct ims_accel_adi *adi;
	struct ims_hw_accel_stats st;
	uint32_t t, ims_off = rd0(IMS_ACCEL_REG_IMS_OFFSET), h[4];

	(void)state;
	assert_int_equal(ims_accel_adi_create(acc, &ii, &adi), 0);
	for (unsigned int v = 0; v < 4; v++) {
		h[v] = ims_accel_adi_handle(adi, v);
		assert_int_equal(rd0(ims_off + 16 * h[v] + IMS_SLOT_CTRL),
				 IMS_SLOT_CTRL_PASID_EN | 0x77u << IMS_SLOT_CTRL_PASID_SHIFT);
		assert_int_equal(ims_accel_submit(adi, v, IMS_ACCEL_OP_NOOP, 0, &t), 0);
	}
	assert_int_equal(ims__hw_accel_queued(hw), 4);
	assert_int_equal(ims_accel_adi_destroy(adi), 0);
	assert_int_equal(ims__hw_accel_queued(hw), 0);
	assert_int_equal(run(), 0);
	ims__hw_accel_get_stats(hw, &st);
	assert_int_equal(st.dropped, 4);
	assert_int_equal(fabric_queued(fab), 0);
	for (unsigned int v = 0; v < 4; v++) {
		assert_int_equal(rd0(ims_off + 16 * h[v] + IMS_SLOT_CTRL), IMS_SLOT_CTRL_MASKBIT);
		assert_int_equal(rd0(ims_off + 16 * h[v] + IMS_SLOT_ADDR_LO), 0);
		assert_int_equal(rd0(ims_off + 16 * h[v] + IMS_SLOT_DATA), 0);
	}
	assert_int_equal(ims_accel_remove(acc), 0);
	acc = NULL;
}

static void remove_refused_while_adis_exist(void **state)
{
	struct ims_accel_adi_info ii = { .pasid = 1, .nvec = 1 };
	struct ims_accel_adi *adi;

	(void)state;
	assert_int_equal(ims_accel_adi_create(acc, &ii, &adi), 0);
	assert_int_equal(ims_accel_remove(acc), -EBUSY);
	ii.pasid = 1u << 20;
	assert_int_equal(ims_accel_adi_create(acc, &ii, &adi), -EINVAL);
	ii.pasid = 2;
	ii.nvec = 0;
	assert_int_equal(ims_accel_adi_create(acc, &ii, &adi), -EINVAL);
	assert_int_equal(ims_accel_nr_adis(acc), 1);
	assert_int_equal(ims_accel_remove(acc), -EBUSY);
	assert_int_equal(ims_accel_adi_destroy(adi), 0);
}

/* ---- a thousand ADIs ---- */

#define NADI 1000
#define NVEC 4

struct adi_ctx {
	struct ims_accel_adi *adi;
	bool alive;
	uint64_t done, stolen;
	uint32_t outstanding;
};

static struct adi_ctx *ctxs;
static uint64_t wrong_owner;

static void on_complete(struct ims_accel_adi *adi, void *ctx, unsigned int vec, uint32_t ticket,
			uint32_t status, uint64_t result)
{
	struct adi_ctx *c = ctx;

	(void)vec;
	(void)ticket;
	/* The result names the ADI that submitted the work. */
	if (c->adi != adi || !c->alive || result != (uint64_t)(c - ctxs) << 8 ||
	    status != IMS_ACCEL_CR_STATUS_SUCCESS)
		wrong_owner++;
	c->done++;
	c->outstanding--;
}

static void submit_all(int i)
{
	uint32_t t;

	for (unsigned int v = 0; v < NVEC; v++) {
		assert_int_equal(ims_accel_submit(ctxs[i].adi, v, IMS_ACCEL_OP_ECHO, (uint64_t)i << 8, &t), 0);
		ctxs[i].outstanding++;
	}
}

static void thousand_adis_complete_on_their_own_handlers(void **state)
{
	struct ims_accel_adi_info ii = { .nvec = NVEC, .complete = on_complete };
	int order[NADI], alive = NADI;
	uint64_t total = 0;

	(void)state;
	make_platform(1024, 8, 4096, true, true);
	assert_int_equal(ims_accel_probe(&ai, &acc), 0);
	ctxs = calloc(NADI, sizeof(*ctxs));
	wrong_owner = 0;
	for (int i = 0; i < NADI; i++) {
		ii.pasid = 0x1000 + (uint32_t)i;
		ii.ctx = &ctxs[i];
		assert_int_equal(ims_accel_adi_create(acc, &ii, &ctxs[i].adi), 0);
		ctxs[i].alive = true;
	}
	assert_int_equal(ims_msi_nr_allocated(ims_accel_device(acc), IMS_MSI_SECONDARY_DOMAIN),
			 NADI * NVEC);
	for (int i = 0; i < NADI; i++)
		submit_all(i);
	assert_int_equal(run(), NADI * NVEC);
	for (int i = 0; i < NADI; i++) {
		assert_int_equal(ctxs[i].done, NVEC);
		assert_int_equal(ims_accel_adi_completions(ctxs[i].adi), NVEC);
	}
	assert_int_equal(wrong_owner, 0);

	/* Destroy in random order; between destructions, everyone left fires. */
	srand(6);
	for (int i = 0; i < NADI; i++)
		order[i] = i;
	for (int i = NADI - 1; i > 0; i--) {
		int j = rand() % (i + 1), x = order[i];

		order[i] = order[j];
		order[j] = x;
	}
	for (int k = 0; k < NADI; k++) {
		struct adi_ctx *c = &ctxs[order[k]];

		if (k % 10 == 0) {
			for (int i = 0; i < NADI; i++)
				if (ctxs[i].alive)
					submit_all(i);
			/* Half the work completes before the next destruction... */
			ims__hw_accel_step(hw, (unsigned int)alive * NVEC / 2);
		}
		/* ...and is delivered after it: the destroyed ADI's in-flight
		 * interrupts find no owner, or an owner with nothing for them. */
		c->alive = false;
		assert_int_equal(ims_accel_adi_destroy(c->adi), 0);
		alive--;
		run();
		for (int i = 0; i < NADI; i++)
			assert_true(!ctxs[i].alive || ctxs[i].outstanding == 0);
	}
	for (int i = 0; i < NADI; i++)
		total += ctxs[i].done;
	assert_int_equal(wrong_owner, 0);
	assert_int_equal(ims_accel_nr_adis(acc), 0);
	assert_int_equal(ims_msi_nr_allocated(ims_accel_device(acc), IMS_MSI_SECONDARY_DOMAIN), 0);
	print_message("1000 ADIs x 4 vectors: %llu completions, each on its own ADI's handler; "
		      "%llu stale interrupts blocked or spurious after destruction\n",
		      (unsigned long long)total,
		      (unsigned long long)(atomic_load(&fab->blocked) + atomic_load(&fab->spurious)));
	free(ctxs);
}

/* ---- fail-Nth ---- */

static int op_probe(void *p)
{
	return ims_accel_probe(&ai, p);
}

static void undo_probe(void *p)
{
	assert_int_equal(ims_accel_remove(*(struct ims_accel **)p), 0);
}

static int check_probe(void *p)
{
	uint16_t flags;
	(void)p;
	if (ims_irq_core_nr_irqs(core) || atomic_load(&fab->live) || ims__irq_core_check(core))
		return -1;
	/* MSI-X is left disabled, memory decode and bus mastering as they were. */
	if (ims_pci_cfg_read16(&ai.cfg, 0x40 + IMS_PCI_MSIX_FLAGS, &flags) == 0 &&
	    (flags & IMS_PCI_MSIX_FLAGS_ENABLE))
		return -1;
	if (ims_pci_cfg_read16(&ai.cfg, IMS_PCI_COMMAND, &flags) || flags)
		return -1;
	return 0;
}

static struct ims_accel_adi *nth_adi;

static int op_adi(void *p)
{
	struct ims_accel_adi_info ii = { .pasid = 0x99, .nvec = 4 };

	(void)p;
	return ims_accel_adi_create(acc, &ii, &nth_adi);
}

static void undo_adi(void *p)
{
	(void)p;
	assert_int_equal(ims_accel_adi_destroy(nth_adi), 0);
}

static int check_adi(void *p)
{
	uint32_t ims_off = rd0(IMS_ACCEL_REG_IMS_OFFSET);

	(void)p;
	if (ims_accel_nr_adis(acc) || ims__accel_check(acc) ||
	    ims__msi_device_check(ims_accel_device(acc)) || ims__irq_core_check(core) ||
	    rd0(rd0(IMS_ACCEL_REG_WQCFG_OFFSET)))
		return -1;
	for (uint32_t s = 0; s < 8; s++)
		if (rd0(ims_off + 16 * s + IMS_SLOT_CTRL) != IMS_SLOT_CTRL_MASKBIT)
			return -1;
	return 0;
}

static void fail_nth_over_probe_and_adi_creation(void **state)
{
	const struct fail_nth_ops probe_ops = { op_probe, undo_probe, check_probe, NULL };
	const struct fail_nth_ops adi_ops = { op_adi, undo_adi, check_adi, NULL };
	struct ims_accel *a2 = NULL;
	struct fail_nth_result r1, r2;

	(void)state;
	assert_int_equal(ims_accel_remove(acc), 0);
	acc = NULL;
	r1 = fail_nth_run(&probe_ops, &a2);
	assert_int_equal(ims_accel_probe(&ai, &acc), 0);
	r2 = fail_nth_run(&adi_ops, NULL);
	assert_true(r1.failures > 0 && r2.failures > 0);
	print_message("probe: %llu fault points; ADI creation: %llu\n", (unsigned long long)r1.points,
		      (unsigned long long)r2.points);
}

static int setup_bare(void **state)
{
	(void)state;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(probe_reads_capabilities_and_builds_ims, setup, teardown),
		cmocka_unit_test_setup_teardown(probe_falls_back_to_msix_without_remapping, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(probe_without_ims_in_the_dvsec_is_msix_only, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(adi_work_completes_through_its_interrupt, setup, teardown),
		cmocka_unit_test_setup_teardown(one_adi_cannot_fire_another, setup, teardown),
		cmocka_unit_test_setup_teardown(every_device_error_reaches_the_admin_vector, setup, teardown),
		cmocka_unit_test_setup_teardown(destroy_drops_queued_work_and_resets_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(remove_refused_while_adis_exist, setup, teardown),
		cmocka_unit_test_setup_teardown(thousand_adis_complete_on_their_own_handlers, setup_bare, teardown),
		cmocka_unit_test_setup_teardown(fail_nth_over_probe_and_adi_creation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
