/*
 * ADIs assigned to guests, on the whole machine with posted interrupts:
 * the guest's emulated MSI-X table maps each enabled entry to its ADI's
 * IMS vector, posted to the vCPU the guest's message names with the
 * guest's vector and no host vector; guest mask, function mask and MSI-X
 * disable hold the slot, which latches and delivers on unmask, so nothing
 * is lost; hostile accesses (sizes, offsets, reserved bits) are refused
 * and change nothing; messages that name no vCPU of the guest, a bad
 * vector or format are never delivered; nothing a guest does reaches a
 * host handler or another guest's descriptors.
 */
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
#include "os/accel/accel_internal.h"
#include "os/irq/internal.h"
#include "os/msi/msi_internal.h"

#define NV 0xf2			/* posted-interrupt notification vector */
#define NPID 4

static struct accel_machine M;
static uint8_t *pids;		/* NPID descriptors: guest A vCPU 0, 1; guest B vCPU 0, 1 */
static unsigned int notified;
static struct ims_accel_guest *ga, *gb;

static void on_notify(void *ctx, uint32_t cpu, uint8_t vector)
{
	(void)ctx;
	(void)cpu;
	if (vector == NV)
		notified++;
}

static void *pid(unsigned int i)
{
	return pids + 64 * i;
}

static int setup(void **state)
{
	struct ims_hw_accel_params p = {
		.nr_wqs = 16, .wq_depth = 8, .nr_ims = 256, .nr_msix = 9, .dvsec_ims = true,
	};
	struct ims_accel_guest_vcpu va[2], vb[2];
	struct ims_accel_guest_info ia = { .pasid = 0xa0, .nvec = 4, .nr_vcpus = 2, .vcpus = va };
	struct ims_accel_guest_info ib = { .pasid = 0xb0, .nvec = 2, .nr_vcpus = 2, .vcpus = vb };

	(void)state;
	notified = 0;
	assert_int_equal(am_create(&M, 4, &p, 0), 0);
	assert_int_equal(ims_accel_probe(&M.ai, &M.acc), 0);
	assert_int_equal(ims_x86_vector_set_system_handler(M.vd, NV, on_notify, NULL), 0);
	pids = ims__dma_alloc_registered(M.dma, 64 * NPID, 64, "test_pids");
	assert_non_null(pids);
	for (unsigned int i = 0; i < NPID; i++)
		ims_pid_init(pid(i), NV, i % 4, false);
	/* Both guests number their vCPUs' APIC IDs 0 and 1. */
	for (unsigned int v = 0; v < 2; v++) {
		va[v] = (struct ims_accel_guest_vcpu){ v, ims__dma_addr(pid(v)) };
		vb[v] = (struct ims_accel_guest_vcpu){ v, ims__dma_addr(pid(2 + v)) };
	}
	assert_int_equal(ims_accel_guest_create(M.acc, &ia, &ga), 0);
	assert_int_equal(ims_accel_guest_create(M.acc, &ib, &gb), 0);
	return 0;
}

static int teardown(void **state)
{
	struct ims_remap_stats st;
	struct ims_mem_stats m;

	(void)state;
	assert_int_equal(ims_accel_guest_destroy(ga), 0);
	assert_int_equal(ims_accel_guest_destroy(gb), 0);
	ims_remap_get_stats(M.remap, &st);
	assert_int_equal(st.posted, 0);
	assert_int_equal(st.allocated, 1);
	assert_int_equal(ims__msi_device_check(ims_accel_device(M.acc)), 0);
	assert_int_equal(ims_remap_check(M.remap), 0);
	assert_int_equal(ims__irq_core_check(M.core), 0);
	assert_int_equal(ims__dma_free_registered(M.dma, pids, 64 * NPID, 64), 0);
	assert_int_equal(am_destroy(&M), 0);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	return 0;
}

/* The guest's descriptor into its own portal, asking for the interrupt of vec. */
static void guest_fire(struct ims_accel_guest *g, uint32_t pasid, unsigned int vec)
{
	struct ims_accel_adi *adi = ims_accel_guest_adi(g);
	uint32_t portal, d[8] = { IMS_ACCEL_OP_NOOP | IMS_ACCEL_DESC_RCI, IMS_ACCEL_DESC_PASID_VALID | pasid,
				  0, 0, ims_accel_adi_handle(adi, vec), 0, 0, 0 };

	assert_int_equal(M.ai.bar[0].read32(M.ai.bar[0].ctx, IMS_ACCEL_REG_PORTAL_OFFSET, &portal), 0);
	portal += ims_accel_adi_wq(adi) * IMS_ACCEL_PORTAL_STRIDE;
	for (unsigned int i = 0; i < 8; i++)
		assert_int_equal(M.ai.bar[0].write32(M.ai.bar[0].ctx, portal + 4 * i, d[i]), 0);
}

static void program(struct ims_accel_guest *g, unsigned int entry, uint32_t apic_id, uint8_t vector)
{
	uint64_t e = 16ull * entry;

	assert_int_equal(ims_accel_guest_msix_write(g, e + IMS_PCI_MSIX_ENTRY_ADDR_LO, 4,
						    0xfee00000u | apic_id << 12), 0);
	assert_int_equal(ims_accel_guest_msix_write(g, e + IMS_PCI_MSIX_ENTRY_ADDR_HI, 4, 0), 0);
	assert_int_equal(ims_accel_guest_msix_write(g, e + IMS_PCI_MSIX_ENTRY_DATA, 4, vector), 0);
}

static void entry_mask(struct ims_accel_guest *g, unsigned int entry, bool masked)
{
	assert_int_equal(ims_accel_guest_msix_write(g, 16ull * entry + IMS_PCI_MSIX_ENTRY_CTRL, 4,
						    masked), 0);
}

static void msix_ctrl(struct ims_accel_guest *g, uint16_t ctrl)
{
	assert_int_equal(ims_accel_guest_cfg_write(g, IMS_PCI_MSIX_FLAGS, 2, ctrl), 0);
}

/* Take guest vCPU i's posted bits; true if exactly vector is among them. */
static bool took(unsigned int i, uint8_t vector)
{
	uint64_t pir[4];
	unsigned int n = ims_pid_take(pid(i), pir);

	return n == 1 && (pir[vector / 64] >> (vector % 64) & 1);
}

static bool pid_empty(unsigned int i)
{
	for (unsigned int v = 0; v < 256; v++)
		if (ims_pid_pir_test(pid(i), (uint8_t)v))
			return false;
	return true;
}

static void guest_entry_is_posted_to_the_named_vcpu(void **state)
{
	struct ims_remap_stats st;
	struct ims_accel_adi *adi = ims_accel_guest_adi(ga);
	uint32_t v;

	(void)state;
	/* Reset state: MSI-X disabled, table size 4, entries masked. */
	assert_int_equal(ims_accel_guest_cfg_read(ga, IMS_PCI_MSIX_FLAGS, 2, &v), 0);
	assert_int_equal(v, 3);
	program(ga, 0, 0, 0x51);
	program(ga, 1, 1, 0x60);
	msix_ctrl(ga, IMS_PCI_MSIX_FLAGS_ENABLE);
	entry_mask(ga, 0, false);
	entry_mask(ga, 1, false);
	ims_remap_get_stats(M.remap, &st);
	assert_int_equal(st.posted, 2);
	guest_fire(ga, 0xa0, 0);
	guest_fire(ga, 0xa0, 1);
	am_run(&M);
	assert_true(took(0, 0x51));
	assert_true(took(1, 0x60));
	assert_true(notified >= 1);
	/* No host handler ran, and nothing reached guest B. */
	assert_int_equal(ims_accel_adi_completions(adi) + ims_accel_adi_empty_irqs(adi), 0);
	assert_true(pid_empty(2) && pid_empty(3));
	/* Re-pointing a live entry moves it. */
	program(ga, 0, 1, 0x52);
	guest_fire(ga, 0xa0, 0);
	am_run(&M);
	assert_true(pid_empty(0));
	assert_true(took(1, 0x52));
}

static void guest_mask_holds_the_slot_and_delivers_on_unmask(void **state)
{
	(void)state;
	program(ga, 2, 0, 0x70);
	msix_ctrl(ga, IMS_PCI_MSIX_FLAGS_ENABLE);
	entry_mask(ga, 2, false);
	guest_fire(ga, 0xa0, 2);
	am_run(&M);
	assert_true(took(0, 0x70));

	/* Entry mask. */
	entry_mask(ga, 2, true);
	guest_fire(ga, 0xa0, 2);
	am_run(&M);
	assert_true(pid_empty(0));
	assert_true(ims__hw_ims_array_pending(ims__hw_accel_ims(M.hw),
					      ims_accel_adi_handle(ims_accel_guest_adi(ga), 2)));
	entry_mask(ga, 2, false);
	am_run(&M);
	assert_true(took(0, 0x70));

	/* Function mask. */
	msix_ctrl(ga, IMS_PCI_MSIX_FLAGS_ENABLE | IMS_PCI_MSIX_FLAGS_MASKALL);
	guest_fire(ga, 0xa0, 2);
	am_run(&M);
	assert_true(pid_empty(0));
	msix_ctrl(ga, IMS_PCI_MSIX_FLAGS_ENABLE);
	am_run(&M);
	assert_true(took(0, 0x70));

	/* MSI-X disabled and enabled again: nothing lost. */
	msix_ctrl(ga, 0);
	guest_fire(ga, 0xa0, 2);
	guest_fire(ga, 0xa0, 2);
	am_run(&M);
	assert_true(pid_empty(0));
	msix_ctrl(ga, IMS_PCI_MSIX_FLAGS_ENABLE);
	am_run(&M);
	assert_true(took(0, 0x70));
}

static void hostile_accesses_are_refused_and_change_nothing(void **state)
{
	uint64_t before[8], after[8];
	uint32_t ctrl;

	(void)state;
	program(ga, 0, 0, 0x51);
	for (unsigned int i = 0; i < 8; i++)
		assert_int_equal(ims_accel_guest_msix_read(ga, 8 * i, 8, &before[i]), 0);
	/* Sizes and alignment. */
	assert_int_equal(ims_accel_guest_msix_write(ga, 0, 2, 0xffff), -EINVAL);
	assert_int_equal(ims_accel_guest_msix_write(ga, 0, 1, 0xff), -EINVAL);
	assert_int_equal(ims_accel_guest_msix_write(ga, 2, 4, 0), -EINVAL);
	assert_int_equal(ims_accel_guest_msix_write(ga, 4, 8, 0), -EINVAL);
	assert_int_equal(ims_accel_guest_msix_write(ga, 0, 16, 0), -EINVAL);
	assert_int_equal(ims_accel_guest_cfg_write(ga, 1, 2, 0), -EINVAL);
	assert_int_equal(ims_accel_guest_cfg_write(ga, 0, 3, 0), -EINVAL);
	/* Offsets: past the table (entry 4 of 4), between table and PBA, past the PBA. */
	assert_int_equal(ims_accel_guest_msix_write(ga, 4 * 16, 4, 0), -EINVAL);
	assert_int_equal(ims_accel_guest_msix_write(ga, 0x400, 4, 0), -EINVAL);
	assert_int_equal(ims_accel_guest_msix_write(ga, IMS_ACCEL_GUEST_PBA + 8, 4, 0), -EINVAL);
	assert_int_equal(ims_accel_guest_msix_write(ga, UINT64_MAX - 3, 4, 0), -EINVAL);
	assert_int_equal(ims_accel_guest_cfg_write(ga, 12, 4, 0), -EINVAL);
	assert_int_equal(ims_accel_guest_cfg_write(ga, UINT32_MAX - 3, 4, 0), -EINVAL);
	/* Reserved bits: vector control 31:1, address 1:0, message control 13:11. */
	assert_int_equal(ims_accel_guest_msix_write(ga, IMS_PCI_MSIX_ENTRY_CTRL, 4, 2), -EINVAL);
	assert_int_equal(ims_accel_guest_msix_write(ga, IMS_PCI_MSIX_ENTRY_ADDR_LO, 4, 0xfee00001u),
			 -EINVAL);
	assert_int_equal(ims_accel_guest_msix_write(ga, IMS_PCI_MSIX_ENTRY_DATA, 8,
						    (uint64_t)0x80000000u << 32 | 0x51), -EINVAL);
	assert_int_equal(ims_accel_guest_cfg_write(ga, IMS_PCI_MSIX_FLAGS, 2,
						   IMS_PCI_MSIX_FLAGS_ENABLE | 0x0800), -EINVAL);
	assert_int_equal(ims_accel_guest_refused(ga), 17);
	for (unsigned int i = 0; i < 8; i++) {
		assert_int_equal(ims_accel_guest_msix_read(ga, 8 * i, 8, &after[i]), 0);
		assert_int_equal(after[i], before[i]);
	}
	assert_int_equal(ims_accel_guest_cfg_read(ga, IMS_PCI_MSIX_FLAGS, 2, &ctrl), 0);
	assert_int_equal(ctrl, 3);
	/* Read-only fields ignore writes: table size, table and PBA registers. */
	assert_int_equal(ims_accel_guest_cfg_write(ga, IMS_PCI_MSIX_FLAGS, 2, 0x7ff), 0);
	assert_int_equal(ims_accel_guest_cfg_write(ga, IMS_PCI_MSIX_TABLE, 4, 0x12345678), 0);
	assert_int_equal(ims_accel_guest_cfg_read(ga, IMS_PCI_MSIX_FLAGS, 2, &ctrl), 0);
	assert_int_equal(ctrl, 3);
	assert_int_equal(ims_accel_guest_cfg_read(ga, IMS_PCI_MSIX_TABLE, 4, &ctrl), 0);
	assert_int_equal(ctrl, 0);
	/* The PBA reads as zero and ignores writes. */
	assert_int_equal(ims_accel_guest_msix_write(ga, IMS_ACCEL_GUEST_PBA, 8, ~0ull), 0);
	assert_int_equal(ims_accel_guest_msix_read(ga, IMS_ACCEL_GUEST_PBA, 8, &after[0]), 0);
	assert_int_equal(after[0], 0);
}

static void hostile_messages_reach_no_host_vector_and_no_other_guest(void **state)
{
	struct ims_accel_adi *adi = ims_accel_guest_adi(ga);
	struct ims_x86_vector_stats vs0, vs1;
	struct ims_accel_err_info e;
	struct { uint32_t lo, hi, data; } bad[] = {
		{ 0xfee05000u, 0, 0x51 },		/* APIC ID 5: no vCPU of the guest */
		{ 0xfee00004u, 0, 0x51 },		/* logical destination */
		{ 0xfee00000u, 0, 0x05 },		/* vector below 16 */
		{ 0xfee00000u, 0, 0x451 },		/* NMI delivery */
		{ 0xfee00000u, 0, 0x8051 },		/* level trigger */
		{ 0xfee00000u, 1, 0x51 },		/* high address */
		{ 0xfee00010u, 0, 0x0 },		/* remappable format: entry 0 */
		{ 0xfed00000u, 0, 0x51 },		/* not an interrupt address */
	};
	uint64_t unroutable;

	(void)state;
	ims_x86_vector_get_stats(M.vd, &vs0);
	msix_ctrl(ga, IMS_PCI_MSIX_FLAGS_ENABLE);
	/* An entry enabled with the all-zero message of reset is not posted either. */
	entry_mask(ga, 3, false);
	unroutable = ims_accel_guest_unroutable(ga);
	assert_int_equal(unroutable, 1);
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		entry_mask(ga, 3, true);
		assert_int_equal(ims_accel_guest_msix_write(ga, 48 + IMS_PCI_MSIX_ENTRY_ADDR_LO, 4, bad[i].lo), 0);
		assert_int_equal(ims_accel_guest_msix_write(ga, 48 + IMS_PCI_MSIX_ENTRY_ADDR_HI, 4, bad[i].hi), 0);
		assert_int_equal(ims_accel_guest_msix_write(ga, 48 + IMS_PCI_MSIX_ENTRY_DATA, 4, bad[i].data), 0);
		entry_mask(ga, 3, false);
		assert_int_equal(ims_accel_guest_unroutable(ga), unroutable + i + 1);
		guest_fire(ga, 0xa0, 3);
		am_run(&M);
		for (unsigned int p = 0; p < NPID; p++)
			assert_true(pid_empty(p));
	}
	/* A guest message naming a host vector lands in its own vCPU only. */
	entry_mask(ga, 3, true);
	program(ga, 3, 0, 0x41);
	entry_mask(ga, 3, false);
	guest_fire(ga, 0xa0, 3);
	am_run(&M);
	assert_true(took(0, 0x41));
	/* Guest A's work naming guest B's slot, or carrying B's PASID: refused by the device. */
	guest_fire(ga, 0xa0, 3);
	{
		struct ims_accel_adi *b = ims_accel_guest_adi(gb);
		uint32_t portal, d[8] = { IMS_ACCEL_OP_NOOP | IMS_ACCEL_DESC_RCI,
					  IMS_ACCEL_DESC_PASID_VALID | 0xa0, 0, 0,
					  ims_accel_adi_handle(b, 0), 0, 0, 0 };

		program(gb, 0, 0, 0x99);
		msix_ctrl(gb, IMS_PCI_MSIX_FLAGS_ENABLE);
		entry_mask(gb, 0, false);
		M.ai.bar[0].read32(M.ai.bar[0].ctx, IMS_ACCEL_REG_PORTAL_OFFSET, &portal);
		portal += ims_accel_adi_wq(adi) * IMS_ACCEL_PORTAL_STRIDE;
		for (unsigned int i = 0; i < 8; i++)
			M.ai.bar[0].write32(M.ai.bar[0].ctx, portal + 4 * i, d[i]);
		am_run(&M);	/* one error at a time: the register latches the first */
		d[1] = IMS_ACCEL_DESC_PASID_VALID | 0xb0;
		for (unsigned int i = 0; i < 8; i++)
			M.ai.bar[0].write32(M.ai.bar[0].ctx, portal + 4 * i, d[i]);
	}
	am_run(&M);
	assert_true(took(0, 0x41));
	assert_true(pid_empty(2) && pid_empty(3));
	ims_accel_errors(M.acc, &e);
	assert_int_equal(e.by_code[IMS_ACCEL_ERR_IRQ_REFUSED], 1);
	assert_int_equal(e.by_code[IMS_ACCEL_ERR_BAD_PASID], 1);
	/* No device vector was dispatched on the host, no host handler ran. */
	ims_x86_vector_get_stats(M.vd, &vs1);
	assert_int_equal(vs1.spurious, vs0.spurious);
	assert_int_equal(ims_accel_adi_completions(adi) + ims_accel_adi_empty_irqs(adi), 0);
}

static void guest_parameters_are_checked(void **state)
{
	struct ims_accel_guest_vcpu v = { 0, ims__dma_addr(pid(0)) };
	struct ims_accel_guest_info ii = { .pasid = 1, .nvec = 1, .nr_vcpus = 1, .vcpus = &v };
	struct ims_accel_guest *g;

	(void)state;
	ii.nvec = 0;
	assert_int_equal(ims_accel_guest_create(M.acc, &ii, &g), -EINVAL);
	ii.nvec = IMS_ACCEL_ADI_MAX_VECS + 1;
	assert_int_equal(ims_accel_guest_create(M.acc, &ii, &g), -EINVAL);
	ii.nvec = 1;
	ii.nr_vcpus = 0;
	assert_int_equal(ims_accel_guest_create(M.acc, &ii, &g), -EINVAL);
}

static struct ims_accel_guest *nth_guest;

static int op_guest(void *p)
{
	struct ims_accel_guest_vcpu v[2] = { { 0, ims__dma_addr(pid(0)) }, { 1, ims__dma_addr(pid(1)) } };
	struct ims_accel_guest_info ii = { .pasid = 0xc0, .nvec = 4, .nr_vcpus = 2, .vcpus = v };

	(void)p;
	return ims_accel_guest_create(M.acc, &ii, &nth_guest);
}

static void undo_guest(void *p)
{
	(void)p;
	assert_int_equal(ims_accel_guest_destroy(nth_guest), 0);
}

static int check_guest(void *p)
{
	struct ims_remap_stats st;

	(void)p;
	ims_remap_get_stats(M.remap, &st);
	return ims_accel_nr_adis(M.acc) != 2 || st.allocated != 1 + 4 + 2 ||
	       ims__msi_device_check(ims_accel_device(M.acc)) || ims__irq_core_check(M.core) ? -1 : 0;
}

static void fail_nth_over_guest_creation(void **state)
{
	const struct fail_nth_ops ops = { op_guest, undo_guest, check_guest, NULL };
	struct fail_nth_result r;

	(void)state;
	r = fail_nth_run(&ops, NULL);
	assert_true(r.failures > 0);
	print_message("guest creation: %llu fault points\n", (unsigned long long)r.points);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(guest_entry_is_posted_to_the_named_vcpu, setup, teardown),
		cmocka_unit_test_setup_teardown(guest_mask_holds_the_slot_and_delivers_on_unmask, setup, teardown),
		cmocka_unit_test_setup_teardown(hostile_accesses_are_refused_and_change_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(hostile_messages_reach_no_host_vector_and_no_other_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(guest_parameters_are_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(fail_nth_over_guest_creation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
