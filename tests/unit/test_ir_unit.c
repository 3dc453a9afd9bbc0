/*
 * The remapping unit alone: decode, every entry check and fault reason,
 * fault processing disable, the fault log, the entry cache and each
 * invalidation granularity, the invalidation queue, and routing by
 * requester id. Posting has its own file (test_ir_posted.c).
 */
#include <stdio.h>
#include <stdlib.h>

#include "ir_env.h"
#include "util/rcu.h"

#define RID_02_00_0 0x0200

static uint64_t fault_count(struct ir_env *e, uint8_t reason)
{
	struct ims_ir_unit_stats st;

	ims__ir_unit_stats(e->u, &st);
	return st.faults[reason - IMS_IR_FAULT_FIRST];
}

/* Pop the oldest fault record through the registers. */
static bool pop_fault(struct ir_env *e, uint8_t *reason, uint16_t *sid, uint32_t *index)
{
	uint64_t lo = ims__ir_unit_read(e->u, IMS_IR_REG_FRCD_LO);
	uint64_t hi = ims__ir_unit_read(e->u, IMS_IR_REG_FRCD_HI);

	if (!(hi & IMS_IR_FRCD_F))
		return false;
	*reason = (uint8_t)(hi >> 32);
	*sid = (uint16_t)hi;
	*index = (uint32_t)(lo >> 48);
	ims__ir_unit_write(e->u, IMS_IR_REG_FRCD_HI, IMS_IR_FRCD_F);
	return true;
}

static void expect_fault(struct ir_env *e, int ret, const struct ims_ir_outcome *out, uint8_t reason,
			 uint16_t sid, uint32_t index)
{
	uint8_t r;
	uint16_t s;
	uint32_t i;

	assert_int_equal(ret, -EIO);
	assert_int_equal(out->kind, IMS_IR_OUT_FAULT);
	assert_int_equal(out->reason, reason);
	assert_true(out->recorded);
	assert_true(pop_fault(e, &r, &s, &i));
	assert_int_equal(r, reason);
	assert_int_equal(s, sid);
	assert_int_equal(i, index);
	assert_false(pop_fault(e, &r, &s, &i));
}

static void worked_example_irte_remaps_to_vector_0x41_on_apic_3(void **state)
{
	struct ims_irte t = { .present = true, .redirection_hint = true, .vector = 0x41, .dest = 3 << 8,
			      .sid = RID_02_00_0, .svt = IMS_SVT_SID };
	struct ir_env *e = ir_env_new(7, 0, false, false, 0, 0);
	struct ims_ir_outcome out;
	uint64_t lo, hi;

	(void)state;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), 0);
	assert_int_equal(lo, 0x0000030000410009ull);
	assert_int_equal(hi, 0x0000000000040200ull);
	ir_set(e, 5, lo, hi);
	assert_int_equal(ir_raise(e, 5, true, 0, RID_02_00_0, &out), 0);
	assert_int_equal(out.kind, IMS_IR_OUT_REMAPPED);
	assert_int_equal(e->apic.count, 1);
	assert_int_equal(e->apic.last.vector, 0x41);
	assert_int_equal(e->apic.last.dest, 3);
	assert_true(e->apic.last.redirection_hint);
	assert_false(e->apic.last.dest_logical);
	assert_int_equal(e->apic.last.delivery_mode, IMS_DM_FIXED);
	assert_int_equal(out.accepted, 1);
	ir_env_free(e);
}

static void remapped_fields_reach_the_apic_bus(void **state)
{
	struct ims_irte t = { .present = true, .dest_logical = true, .level_trigger = true,
			      .delivery_mode = IMS_DM_LOWEST, .vector = 0x99, .dest = 0x12345 };
	struct ir_env *e = ir_env_new(3, 0, true, false, 0, 0);
	uint64_t lo, hi;

	(void)state;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), 0);
	ir_set(e, 1, lo, hi);
	/* SHV clear: the data is ignored and the index is the handle. */
	assert_int_equal(ir_raise(e, 1, false, 0xdead0000, 0x1234, NULL), 0);
	assert_int_equal(e->apic.last.dest, 0x12345);
	assert_int_equal(e->apic.last.vector, 0x99);
	assert_true(e->apic.last.dest_logical);
	assert_true(e->apic.last.level_trigger);
	assert_int_equal(e->apic.last.delivery_mode, IMS_DM_LOWEST);
	ir_env_free(e);
}

static void subhandle_adds_to_handle(void **state)
{
	struct ir_env *e = ir_env_new(7, 0, false, false, 0, 0);
	struct ims_ir_outcome out;

	(void)state;
	for (uint32_t i = 0; i < 4; i++)
		ir_remapped(e, 32 + i, (uint8_t)(0x50 + i), 1, 0, IMS_SVT_NONE, 0);
	for (uint32_t i = 0; i < 4; i++) {
		assert_int_equal(ir_raise(e, 32, true, i, 0, &out), 0);
		assert_int_equal(out.index, 32 + i);
		assert_int_equal(e->apic.last.vector, 0x50 + i);
	}
	ir_env_free(e);
}

static void remappable_message_examples(void **state)
{
	struct ims_msi_msg m;
	uint16_t handle, sub;
	bool shv;

	(void)state;
	ims_remap_msg_compose(0x1234, true, 0, &m);
	assert_int_equal(m.address_lo, 0xFEE24698u);
	assert_int_equal(m.address_hi, 0);
	assert_int_equal(m.data, 0);
	/* Handle bit 15 goes to address bit 2. SHV clear gives 0xFEE00034;
	 * 0xFEE0003C is the same handle with SHV set. */
	ims_remap_msg_compose(0x8001, false, 0, &m);
	assert_int_equal(m.address_lo, 0xFEE00034u);
	m.address_lo = 0xFEE0003Cu;
	m.data = 7;
	assert_int_equal(ims_remap_msg_decode(&m, &handle, &shv, &sub), 0);
	assert_int_equal(handle, 0x8001);
	assert_true(shv);
	assert_int_equal(sub, 7);
	m.address_lo = 0xFEE03000u;	/* compatibility format */
	assert_int_equal(ims_remap_msg_decode(&m, &handle, &shv, &sub), -EINVAL);
	m.address_lo = 0xFED24698u;
	assert_int_equal(ims_remap_msg_decode(&m, &handle, &shv, &sub), -EINVAL);
	for (uint32_t h = 0; h < 65536; h += 4093) {
		ims_remap_msg_compose((uint16_t)h, true, 3, &m);
		assert_int_equal(ims_remap_msg_decode(&m, &handle, &shv, &sub), 0);
		assert_int_equal(handle, h);
		assert_int_equal(sub, 3);
	}
}

static void compat_format_passes_or_is_blocked(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, true, 0, 0);
	struct ims_hw_msi_write w = { .addr = 0xFEE03000u, .data = 0x41, .rid = 0x10 };
	struct ims_ir_outcome out;

	(void)state;
	assert_int_equal(ims__ir_unit_handle(e->u, &w, &out), 0);
	assert_int_equal(out.kind, IMS_IR_OUT_COMPAT);
	assert_int_equal(e->apic.last.dest, 3);
	assert_int_equal(e->apic.last.vector, 0x41);
	assert_false(e->apic.last.dest_logical);
	w.addr = 0xFEE20004u;
	w.data = 0x21;
	assert_int_equal(ims__ir_unit_handle(e->u, &w, &out), 0);
	assert_int_equal(e->apic.last.dest, 0x20);
	assert_int_equal(e->apic.last.vector, 0x21);
	assert_true(e->apic.last.dest_logical);

	/* CFI clear: blocked and recorded. */
	ims__ir_unit_write(e->u, IMS_IR_REG_GCMD, IMS_IR_GCMD_QIE | IMS_IR_GCMD_IRE);
	assert_int_equal(ims__ir_unit_read(e->u, IMS_IR_REG_GSTS) & IMS_IR_GCMD_CFI, 0);
	assert_int_equal(e->apic.count, 2);
	expect_fault(e, ims__ir_unit_handle(e->u, &w, &out), &out, IMS_IR_FAULT_COMPAT_BLOCKED, 0x10, 0);
	assert_int_equal(e->apic.count, 2);

	/* Remapping off: everything is compatibility format, even bit 4. */
	ims__ir_unit_write(e->u, IMS_IR_REG_GCMD, IMS_IR_GCMD_QIE);
	w.addr = 0xFEE03010u;
	w.data = 0x41;
	assert_int_equal(ims__ir_unit_handle(e->u, &w, &out), 0);
	assert_int_equal(out.kind, IMS_IR_OUT_COMPAT);
	assert_int_equal(e->apic.last.dest, 3);

	/* Not an interrupt address at all. */
	w.addr = 0xFED00000u;
	assert_int_equal(ims__ir_unit_handle(e->u, &w, &out), -EINVAL);
	w.addr = 0x1FEE00000ull;
	assert_int_equal(ims__ir_unit_handle(e->u, &w, &out), -EINVAL);
	ir_env_free(e);
}

static void extended_destination_is_decoded_when_offered(void **state)
{
	struct ir_env *e = ir_env_new(3, IMS_HW_IR_EXT_DEST, false, true, 0, 0);
	/* APIC ID 0x1203: bits 7:0 in 19:12, bits 14:8 in 11:5. */
	struct ims_hw_msi_write w = { .addr = 0xFEE00000u | 0x03u << 12 | 0x12u << 5, .data = 0x30 };

	(void)state;
	assert_int_equal(ims__ir_unit_handle(e->u, &w, NULL), 0);
	assert_int_equal(e->apic.last.dest, 0x1203);
	ir_env_free(e);
}

static void remapping_needs_a_latched_table(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, true, 0, 0);
	struct ims_hw_ir_unit_config cfg = { .dma = e->dma, .apic = { apic_record, &e->apic } };
	struct ims_hw_ir_unit *u2;

	(void)state;
	assert_int_equal(ims__ir_unit_create(&cfg, &u2), 0);
	ims__ir_unit_write(u2, IMS_IR_REG_GCMD, IMS_IR_GCMD_IRE);
	assert_int_equal(ims__ir_unit_read(u2, IMS_IR_REG_GSTS) & IMS_IR_GCMD_IRE, 0);
	ims__ir_unit_write(u2, IMS_IR_REG_IRTA, ims__dma_addr(e->table) | 3);
	assert_int_equal(ims__ir_unit_read(u2, IMS_IR_REG_IRTA), ims__dma_addr(e->table) | 3);
	ims__ir_unit_write(u2, IMS_IR_REG_GCMD, IMS_IR_GCMD_SIRTP);
	ims__ir_unit_write(u2, IMS_IR_REG_GCMD, IMS_IR_GCMD_IRE);
	assert_true(ims__ir_unit_read(u2, IMS_IR_REG_GSTS) & IMS_IR_GCMD_IRE);
	assert_true(ims__ir_unit_read(u2, IMS_IR_REG_CAP) & IMS_IR_CAP_PI);
	assert_false(ims__ir_unit_read(u2, IMS_IR_REG_CAP) & IMS_IR_CAP_CM);
	ims__ir_unit_destroy(u2);
	ir_env_free(e);
}

static void not_present_entry_faults(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	struct ims_ir_outcome out;

	(void)state;
	expect_fault(e, ir_raise(e, 6, true, 0, 0x0308, &out), &out, IMS_IR_FAULT_NOT_PRESENT, 0x0308, 6);
	assert_int_equal(fault_count(e, IMS_IR_FAULT_NOT_PRESENT), 1);
	assert_int_equal(e->apic.count, 0);
	ir_env_free(e);
}

static void index_beyond_table_size_faults(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);	/* 16 entries */
	struct ims_ir_outcome out;

	(void)state;
	ir_remapped(e, 15, 0x40, 0, 0, 0, 0);
	assert_int_equal(ir_raise(e, 15, true, 0, 1, &out), 0);
	expect_fault(e, ir_raise(e, 16, true, 0, 1, &out), &out, IMS_IR_FAULT_INDEX, 1, 16);
	/* handle + subhandle beyond the table, and beyond 65535 */
	expect_fault(e, ir_raise(e, 15, true, 1, 1, &out), &out, IMS_IR_FAULT_INDEX, 1, 16);
	expect_fault(e, ir_raise(e, 0xffff, true, 0xffff, 1, &out), &out, IMS_IR_FAULT_INDEX, 1,
		     (0xffff + 0xffff) & 0xffff);
	assert_int_equal(out.index, 0xffff + 0xffff);
	assert_int_equal(fault_count(e, IMS_IR_FAULT_INDEX), 3);
	ir_env_free(e);
}

static void reserved_bits_in_request_fault(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	struct ims_ir_outcome out;

	(void)state;
	ir_remapped(e, 2, 0x40, 0, 0, 0, 0);
	expect_fault(e, ir_raise(e, 2, true, 0x10000, 9, &out), &out, IMS_IR_FAULT_REQ_RESERVED, 9, 2);
	ir_env_free(e);
}

static void table_outside_dma_memory_faults(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	static uint64_t not_dma[64] __attribute__((aligned(4096)));
	struct ims_ir_outcome out;

	(void)state;
	ims__ir_unit_write(e->u, IMS_IR_REG_IRTA, ims__dma_addr(not_dma) | 3);
	ims__ir_unit_write(e->u, IMS_IR_REG_GCMD, IMS_IR_GCMD_SIRTP | IMS_IR_GCMD_IRE | IMS_IR_GCMD_QIE);
	not_dma[0] = 0x0000030000410001ull;	/* a good entry the unit must not read */
	expect_fault(e, ir_raise(e, 0, true, 0, 4, &out), &out, IMS_IR_FAULT_TABLE_ACCESS, 4, 0);
	assert_int_equal(e->apic.count, 0);
	ir_env_free(e);
}

static void reserved_bits_in_entry_fault(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	const uint64_t good_lo = 0x0000030000410001ull, good_hi = 0;
	const struct {
		uint64_t lo, hi;
	} bad[] = {
		{ good_lo | 1ull << 12, good_hi },		/* bits 14:12 */
		{ good_lo | 1ull << 24, good_hi },		/* bits 31:24 */
		{ good_lo | 1ull << 32, good_hi },		/* xAPIC: dest bits 39:32 */
		{ good_lo | 1ull << 48, good_hi },		/* xAPIC: dest bits 63:48 */
		{ good_lo | 3ull << 5, good_hi },		/* delivery mode 3 */
		{ good_lo | 6ull << 5, good_hi },		/* delivery mode 6 */
		{ good_lo, 1ull << 20 },			/* bits 127:84 */
		{ good_lo, 1ull << 63 },
		{ good_lo, 3ull << 18 },			/* SVT 3 */
		{ 0x8001 | 1ull << 2, 0 },			/* posted: bits 7:2 */
		{ 0x8001 | 1ull << 12, 0 },			/* posted: bits 13:12 */
		{ 0x8001 | 1ull << 30, 0 },			/* posted: bits 37:24 */
		{ 0x8001, 1ull << 24 },				/* posted: bits 95:84 */
	};
	struct ims_ir_outcome out;

	(void)state;
	ir_set(e, 1, good_lo, good_hi);
	assert_int_equal(ir_raise(e, 1, true, 0, 0, &out), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		ir_set(e, 1, bad[i].lo, bad[i].hi);
		ir_inv_index(e, 1, 0);
		expect_fault(e, ir_raise(e, 1, true, 0, 0x77, &out), &out, IMS_IR_FAULT_ENTRY_RESERVED, 0x77, 1);
	}
	assert_int_equal(fault_count(e, IMS_IR_FAULT_ENTRY_RESERVED), sizeof(bad) / sizeof(bad[0]));
	assert_int_equal(e->apic.count, 1);
	ir_env_free(e);
}

static void x2apic_mode_takes_all_destination_bits(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, true, false, 0, 0);

	(void)state;
	ir_set(e, 1, 0x1234567800410001ull, 0);
	assert_int_equal(ir_raise(e, 1, true, 0, 0, NULL), 0);
	assert_int_equal(e->apic.last.dest, 0x12345678);
	ir_env_free(e);
}

static void posted_entry_without_posting_support_faults(void **state)
{
	struct ir_env *e = ir_env_new(3, IMS_HW_IR_NO_POSTED, false, false, 0, 0);
	struct ims_irte t = { .present = true, .posted = true, .vector = 0x30, .pda = ims__dma_addr(e->pids) };
	struct ims_ir_outcome out;
	uint64_t lo, hi;

	(void)state;
	assert_false(ims__ir_unit_read(e->u, IMS_IR_REG_CAP) & IMS_IR_CAP_PI);
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), 0);
	ir_set(e, 3, lo, hi);
	expect_fault(e, ir_raise(e, 3, true, 0, 0, &out), &out, IMS_IR_FAULT_ENTRY_RESERVED, 0, 3);
	ir_env_free(e);
}

static void source_id_checked_with_each_qualifier(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	/* sid 02:01.5; each SQ ignores more of the function bits */
	const uint16_t sid = 0x020d;
	const struct {
		uint8_t sq;
		uint16_t rid;
		bool ok;
	} cases[] = {
		{ 0, 0x020d, true },  { 0, 0x020c, false }, { 0, 0x0209, false },
		{ 1, 0x0209, true },  { 1, 0x020b, false }, { 1, 0x0208, false },
		{ 2, 0x020b, true },  { 2, 0x0209, true },  { 2, 0x020c, false },
		{ 3, 0x0208, true },  { 3, 0x020f, true },  { 3, 0x0210, false },
		{ 3, 0x030d, false },
	};
	struct ims_ir_outcome out;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ir_remapped(e, 4, 0x60, 2, sid, IMS_SVT_SID, cases[i].sq);
		ir_inv_global(e);
		if (cases[i].ok)
			assert_int_equal(ir_raise(e, 4, true, 0, cases[i].rid, &out), 0);
		else
			expect_fault(e, ir_raise(e, 4, true, 0, cases[i].rid, &out), &out, IMS_IR_FAULT_SID,
				     cases[i].rid, 4);
	}
	ir_env_free(e);
}

static void source_id_bus_range_and_no_check(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	struct ims_ir_outcome out;

	(void)state;
	/* SVT 2: buses 0x10..0x1f (SID 15:8 start, 7:0 end) */
	ir_remapped(e, 0, 0x60, 2, 0x101f, IMS_SVT_BUS, 0);
	assert_int_equal(ir_raise(e, 0, true, 0, 0x1000, &out), 0);
	assert_int_equal(ir_raise(e, 0, true, 0, 0x1fff, &out), 0);
	expect_fault(e, ir_raise(e, 0, true, 0, 0x0fff, &out), &out, IMS_IR_FAULT_SID, 0x0fff, 0);
	expect_fault(e, ir_raise(e, 0, true, 0, 0x2000, &out), &out, IMS_IR_FAULT_SID, 0x2000, 0);
	/* SVT 0: anyone */
	ir_remapped(e, 1, 0x61, 2, 0x101f, IMS_SVT_NONE, 0);
	assert_int_equal(ir_raise(e, 1, true, 0, 0xabcd, &out), 0);
	assert_int_equal(fault_count(e, IMS_IR_FAULT_SID), 2);
	ir_env_free(e);
}

static void fpd_suppresses_recording_not_blocking(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	struct ims_ir_unit_stats st;
	struct ims_ir_outcome out;
	uint8_t r;
	uint16_t s;
	uint32_t i;

	(void)state;
	/* not present + FPD, wrong source + FPD, bad PDA + FPD */
	ir_set(e, 0, 1ull << IMS_IRTE_FPD_SHIFT, 0);
	ir_set(e, 1, 0x0000030000410003ull, 0x40200);
	ir_set(e, 2, 0x8003ull | 0x40ull << 38, 0);	/* PDA 0x1000: not DMA memory */
	assert_int_equal(ir_raise(e, 0, true, 0, 0x200, &out), -EIO);
	assert_int_equal(out.reason, IMS_IR_FAULT_NOT_PRESENT);
	assert_false(out.recorded);
	assert_int_equal(ir_raise(e, 1, true, 0, 0x300, &out), -EIO);
	assert_int_equal(out.reason, IMS_IR_FAULT_SID);
	assert_false(out.recorded);
	assert_int_equal(ir_raise(e, 2, true, 0, 0x300, &out), -EIO);
	assert_int_equal(out.reason, IMS_IR_FAULT_PID_ACCESS);
	assert_false(out.recorded);
	assert_int_equal(e->apic.count, 0);
	assert_false(pop_fault(e, &r, &s, &i));
	assert_int_equal(ims__ir_unit_read(e->u, IMS_IR_REG_FSTS) & IMS_IR_FSTS_PPF, 0);
	ims__ir_unit_stats(e->u, &st);
	assert_int_equal(st.fpd_suppressed, 3);
	assert_int_equal(fault_count(e, IMS_IR_FAULT_SID), 1);

	/* FPD does not apply before the entry is read. */
	expect_fault(e, ir_raise(e, 40, true, 0, 0x200, &out), &out, IMS_IR_FAULT_INDEX, 0x200, 40);
	ir_env_free(e);
}

static void fault_log_is_bounded_and_counts_overflow(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 4);
	struct ims_ir_unit_stats st;
	uint8_t r;
	uint16_t s;
	uint32_t i;

	(void)state;
	for (uint16_t n = 0; n < 7; n++)
		assert_int_equal(ir_raise(e, (uint16_t)(n & 7), true, 0, (uint16_t)(0x100 + n), NULL), -EIO);
	ims__ir_unit_stats(e->u, &st);
	assert_int_equal(st.log_overflow, 3);
	assert_int_equal(st.faults[IMS_IR_FAULT_NOT_PRESENT - IMS_IR_FAULT_FIRST], 7);
	assert_true(ims__ir_unit_read(e->u, IMS_IR_REG_FSTS) & IMS_IR_FSTS_PFO);
	assert_true(ims__ir_unit_read(e->u, IMS_IR_REG_FSTS) & IMS_IR_FSTS_PPF);
	/* The oldest four were kept, in order. */
	for (uint16_t n = 0; n < 4; n++) {
		assert_true(pop_fault(e, &r, &s, &i));
		assert_int_equal(s, 0x100 + n);
		assert_int_equal(i, n);
	}
	assert_false(pop_fault(e, &r, &s, &i));
	ims__ir_unit_write(e->u, IMS_IR_REG_FSTS, IMS_IR_FSTS_PFO);
	assert_int_equal(ims__ir_unit_read(e->u, IMS_IR_REG_FSTS), 0);
	/* Room again after popping. */
	assert_int_equal(ir_raise(e, 1, true, 0, 0x555, NULL), -EIO);
	assert_true(pop_fault(e, &r, &s, &i));
	assert_int_equal(s, 0x555);
	ir_env_free(e);
}

static void cached_entry_stays_until_index_invalidation(void **state)
{
	struct ir_env *e = ir_env_new(7, 0, false, false, 0, 0);
	struct ims_ir_outcome out;

	(void)state;
	ir_remapped(e, 9, 0x41, 1, 0, 0, 0);
	assert_int_equal(ir_raise(e, 9, true, 0, 0, &out), 0);
	assert_false(out.cache_hit);
	ir_remapped(e, 9, 0x42, 2, 0, 0, 0);	/* a driver that forgets to invalidate */
	assert_int_equal(ir_raise(e, 9, true, 0, 0, &out), 0);
	assert_true(out.cache_hit);
	assert_int_equal(e->apic.last.vector, 0x41);	/* stale, as on hardware */
	assert_int_equal(e->apic.last.dest, 1);
	ir_inv_index(e, 9, 0);
	assert_int_equal(ir_raise(e, 9, true, 0, 0, &out), 0);
	assert_false(out.cache_hit);
	assert_int_equal(e->apic.last.vector, 0x42);
	assert_int_equal(e->apic.last.dest, 2);

	/* Clearing the entry without invalidating still delivers the old one. */
	ir_set(e, 9, 0, 0);
	assert_int_equal(ir_raise(e, 9, true, 0, 0, &out), 0);
	ir_inv_index(e, 9, 0);
	assert_int_equal(ir_raise(e, 9, true, 0, 0, &out), -EIO);
	assert_int_equal(out.reason, IMS_IR_FAULT_NOT_PRESENT);
	ir_env_free(e);
}

static void index_mask_invalidation_covers_its_block_only(void **state)
{
	struct ir_env *e = ir_env_new(7, 0, false, false, 0, 0);
	struct ims_ir_outcome out;

	(void)state;
	for (uint32_t i = 8; i < 13; i++) {
		ir_remapped(e, i, 0x40, 0, 0, 0, 0);
		assert_int_equal(ir_raise(e, (uint16_t)i, true, 0, 0, NULL), 0);
		ir_remapped(e, i, 0x80, 0, 0, 0, 0);
	}
	/* IM = 2: the four entries 8..11 (IIDX 10 is rounded down). */
	ir_inv_index(e, 10, 2);
	for (uint32_t i = 8; i < 12; i++) {
		assert_int_equal(ir_raise(e, (uint16_t)i, true, 0, 0, &out), 0);
		assert_false(out.cache_hit);
		assert_int_equal(e->apic.last.vector, 0x80);
	}
	assert_int_equal(ir_raise(e, 12, true, 0, 0, &out), 0);
	assert_true(out.cache_hit);
	assert_int_equal(e->apic.last.vector, 0x40);
	ir_env_free(e);
}

static void global_invalidation_drops_every_entry(void **state)
{
	struct ir_env *e = ir_env_new(9, 0, false, false, 64, 0);
	struct ims_ir_unit_stats st;
	struct ims_ir_outcome out;

	(void)state;
	for (uint32_t i = 0; i < 40; i++) {
		ir_remapped(e, i * 7, 0x40, 0, 0, 0, 0);
		assert_int_equal(ir_raise(e, (uint16_t)(i * 7), true, 0, 0, NULL), 0);
		ir_remapped(e, i * 7, 0x90, 0, 0, 0, 0);
	}
	ir_inv_global(e);
	for (uint32_t i = 0; i < 40; i++) {
		assert_int_equal(ir_raise(e, (uint16_t)(i * 7), true, 0, 0, &out), 0);
		assert_false(out.cache_hit);
		assert_int_equal(e->apic.last.vector, 0x90);
	}
	ims__ir_unit_stats(e->u, &st);
	assert_int_equal(st.inv_global, 1);
	assert_int_equal(st.inv_wait, 1);
	ir_env_free(e);
}

static void unit_without_cache_reads_every_time(void **state)
{
	struct ir_env *e = ir_env_new(3, IMS_HW_IR_NO_CACHE, false, false, 0, 0);

	(void)state;
	ir_remapped(e, 1, 0x41, 0, 0, 0, 0);
	assert_int_equal(ir_raise(e, 1, true, 0, 0, NULL), 0);
	ir_remapped(e, 1, 0x42, 0, 0, 0, 0);
	assert_int_equal(ir_raise(e, 1, true, 0, 0, NULL), 0);
	assert_int_equal(e->apic.last.vector, 0x42);
	ir_env_free(e);
}

static void caching_mode_caches_not_present_entries(void **state)
{
	struct ir_env *e = ir_env_new(3, IMS_HW_IR_VIRTUAL, false, false, 0, 0);
	struct ir_env *h = ir_env_new(3, 0, false, false, 0, 0);
	struct ims_ir_outcome out;

	(void)state;
	assert_true(ims__ir_unit_read(e->u, IMS_IR_REG_CAP) & IMS_IR_CAP_CM);
	/* A hardware unit: a new entry is seen at once. */
	assert_int_equal(ir_raise(h, 2, true, 0, 0, &out), -EIO);
	ir_remapped(h, 2, 0x41, 0, 0, 0, 0);
	assert_int_equal(ir_raise(h, 2, true, 0, 0, &out), 0);
	/* A virtual unit: the not-present entry stays cached until invalidated. */
	assert_int_equal(ir_raise(e, 2, true, 0, 0, &out), -EIO);
	ir_remapped(e, 2, 0x41, 0, 0, 0, 0);
	assert_int_equal(ir_raise(e, 2, true, 0, 0, &out), -EIO);
	assert_true(out.cache_hit);
	ir_inv_index(e, 2, 0);
	assert_int_equal(ir_raise(e, 2, true, 0, 0, &out), 0);
	ir_env_free(h);
	ir_env_free(e);
}

static void invalidation_queue_error_stops_the_queue(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	struct ims_ir_unit_stats st;
	uint64_t head;

	(void)state;
	ir_qi(e, 0x7, 0);		/* unknown descriptor type */
	ir_qi(e, IMS_IR_QI_WAIT | IMS_IR_QI_WAIT_SW | 99ull << 32, ims__dma_addr(e->status));
	*e->status = 0;
	ims__ir_unit_write(e->u, IMS_IR_REG_IQT, (uint64_t)e->iq_tail << IMS_IR_IQ_SHIFT);
	assert_true(ims__ir_unit_read(e->u, IMS_IR_REG_FSTS) & IMS_IR_FSTS_IQE);
	head = ims__ir_unit_read(e->u, IMS_IR_REG_IQH);
	assert_int_equal(head, (uint64_t)(e->iq_tail - 2) << IMS_IR_IQ_SHIFT);
	assert_int_equal(*e->status, 0);
	/* Software fixes the descriptor, clears IQE and writes the tail again. */
	e->iq[(e->iq_tail - 2) * 2] = IMS_IR_QI_IEC;
	ims__ir_unit_write(e->u, IMS_IR_REG_FSTS, IMS_IR_FSTS_IQE);
	ims__ir_unit_write(e->u, IMS_IR_REG_IQT, (uint64_t)e->iq_tail << IMS_IR_IQ_SHIFT);
	assert_int_equal(*e->status, 99);
	assert_int_equal(ims__ir_unit_read(e->u, IMS_IR_REG_IQH), ims__ir_unit_read(e->u, IMS_IR_REG_IQT));
	/* A wait whose status address is not DMA memory is an error too. */
	ir_qi(e, IMS_IR_QI_WAIT | IMS_IR_QI_WAIT_SW, 0x1000);
	ims__ir_unit_write(e->u, IMS_IR_REG_IQT, (uint64_t)e->iq_tail << IMS_IR_IQ_SHIFT);
	assert_true(ims__ir_unit_read(e->u, IMS_IR_REG_FSTS) & IMS_IR_FSTS_IQE);
	ims__ir_unit_stats(e->u, &st);
	assert_int_equal(st.iq_errors, 2);
	ir_env_free(e);
}

static void units_route_by_requester_id(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	struct ims_hw_ir_unit_config cfg = { .dma = e->dma, .apic = { apic_record, &e->apic },
					     .rid_first = 0x100, .rid_last = 0x1ff };
	struct ims_hw_ir_unit *units[2] = { NULL, NULL };

	(void)state;
	assert_int_equal(ims__ir_unit_create(&cfg, &units[0]), 0);
	cfg.rid_first = 0x200;
	cfg.rid_last = 0x2ff;
	assert_int_equal(ims__ir_unit_create(&cfg, &units[1]), 0);
	assert_ptr_equal(ims__ir_route(units, 2, 0x100), units[0]);
	assert_ptr_equal(ims__ir_route(units, 2, 0x1ff), units[0]);
	assert_ptr_equal(ims__ir_route(units, 2, 0x2a0), units[1]);
	assert_null(ims__ir_route(units, 2, 0x300));
	cfg.rid_first = 0x300;
	cfg.rid_last = 0x2ff;
	assert_int_equal(ims__ir_unit_create(&cfg, &units[0]), -EINVAL);
	cfg.rid_last = 0x3ff;
	cfg.cache_entries = 3;
	assert_int_equal(ims__ir_unit_create(&cfg, &units[0]), -EINVAL);
	ims__ir_unit_destroy(ims__ir_route(units, 2, 0x100));
	ims__ir_unit_destroy(units[1]);
	ir_env_free(e);
}

/*
 * Registered DMA memory comes and goes all or nothing: each allocation of
 * the pair failing in turn leaves no memory and no region; memory that
 * cannot be taken away from the hardware is not freed.
 */
static void dma_registered_memory_is_all_or_nothing(void **state)
{
	struct ims_mem_stats before, after;
	struct ims_hw_dma *dma;
	char other[64];
	void *p = NULL;

	(void)state;
	assert_int_equal(ims__dma_create(&dma), 0);
	ims_mem_stats(&before);
	for (uint64_t n = 1; !p; n++) {
		ims_fault_arm_nth(n, NULL);
		p = ims__dma_alloc_registered(dma, 4096, 4096, "test_registered");
		ims_fault_disarm();
		if (p)
			break;
		assert_non_null(strstr(ims_last_error(), "injected"));
		ims_mem_stats(&after);
		assert_int_equal(before.bytes, after.bytes);
		assert_int_equal(ims__dma_destroy(dma), 0);	/* no region left behind */
		assert_int_equal(ims__dma_create(&dma), 0);
		ims_mem_stats(&before);
		assert_true(n < 8);
	}
	assert_int_equal((uintptr_t)p % 4096, 0);
	ims__rcu_read_lock();
	assert_ptr_equal(ims__dma_map(dma, ims__dma_addr(p), 4096), p);
	ims__rcu_read_unlock();
	/* Not a region: refused, nothing freed or changed. */
	assert_int_equal(ims__dma_free_registered(dma, other, sizeof(other), 64), -ENOENT);
	assert_int_equal(ims__dma_free_registered(dma, p, 4096, 4096), 0);
	assert_null(ims__dma_map(dma, ims__dma_addr(p), 1));
	ims_mem_stats(&after);
	assert_int_equal(before.bytes, after.bytes);
	assert_int_equal(ims__dma_destroy(dma), 0);
}

static void dma_maps_only_registered_ranges(void **state)
{
	struct ims_hw_dma *dma;
	char *mem = ims__dma_alloc_aligned(8192, 4096, "test");
	struct ims_mem_stats before, after;

	(void)state;
	ims_mem_stats(&before);
	assert_int_equal(ims__dma_create(&dma), 0);
	assert_null(ims__dma_map(dma, ims__dma_addr(mem), 1));
	assert_int_equal(ims__dma_register(dma, mem, 4096), 0);
	assert_int_equal(ims__dma_register(dma, mem + 4096, 4096), 0);
	assert_int_equal(ims__dma_register(dma, mem + 100, 10), -EINVAL);	/* overlap */
	assert_int_equal(ims__dma_register(dma, mem, 0), -EINVAL);
	ims__rcu_read_lock();
	assert_ptr_equal(ims__dma_map(dma, ims__dma_addr(mem), 4096), mem);
	assert_ptr_equal(ims__dma_map(dma, ims__dma_addr(mem) + 4032, 64), mem + 4032);
	/* Straddling two regions is refused even though both are registered. */
	assert_null(ims__dma_map(dma, ims__dma_addr(mem) + 4090, 16));
	assert_null(ims__dma_map(dma, ims__dma_addr(mem) - 1, 2));
	assert_null(ims__dma_map(dma, ims__dma_addr(mem) + 8190, 4));
	assert_null(ims__dma_map(dma, UINT64_MAX - 3, 16));
	ims__rcu_read_unlock();
	assert_int_equal(ims__dma_destroy(dma), -EBUSY);
	assert_int_equal(ims__dma_unregister(dma, mem + 1), -ENOENT);
	assert_int_equal(ims__dma_unregister(dma, mem), 0);
	assert_null(ims__dma_map(dma, ims__dma_addr(mem), 1));
	assert_int_equal(ims__dma_unregister(dma, mem + 4096), 0);
	assert_int_equal(ims__dma_destroy(dma), 0);
	ims_mem_stats(&after);
	assert_int_equal(before.bytes, after.bytes);
	ims__dma_free_aligned(mem, 8192, 4096);
}

/* Every allocating call, failed at each of its allocations in turn. */
static void allocations_fail_cleanly_at_every_point(void **state)
{
	struct ims_hw_dma *dma;
	static char mem[3][256];
	struct ims_mem_stats before, after;
	struct apic_rec rec = { 0 };
	struct ims_hw_ir_unit_config cfg = { .apic = { apic_record, &rec } };
	struct ims_hw_ir_unit *u;
	uint64_t n;
	int ret;

	(void)state;
	for (n = 1;; n++) {
		ims_mem_stats(&before);
		ims_fault_arm_nth(n, NULL);
		ret = ims__dma_create(&dma);
		ims_fault_disarm();
		if (ret == 0)
			break;
		assert_int_equal(ret, -ENOMEM);
		ims_mem_stats(&after);
		assert_int_equal(before.bytes, after.bytes);
		assert_int_equal(before.objects, after.objects);
	}
	cfg.dma = dma;
	for (int r = 0; r < 3; r++) {
		for (n = 1;; n++) {
			ims_mem_stats(&before);
			ims_fault_arm_nth(n, NULL);
			ret = ims__dma_register(dma, mem[r], sizeof(mem[r]));
			ims_fault_disarm();
			if (ret == 0)
				break;
			assert_int_equal(ret, -ENOMEM);
			ims_mem_stats(&after);
			assert_int_equal(before.bytes, after.bytes);
			assert_int_equal(before.objects, after.objects);
			ims__rcu_read_lock();
			assert_null(ims__dma_map(dma, ims__dma_addr(mem[r]), 1));
			ims__rcu_read_unlock();
		}
	}
	for (n = 1;; n++) {
		ims_mem_stats(&before);
		ims_fault_arm_nth(n, NULL);
		ret = ims__ir_unit_create(&cfg, &u);
		ims_fault_disarm();
		if (ret == 0)
			break;
		assert_int_equal(ret, -ENOMEM);
		ims_mem_stats(&after);
		assert_int_equal(before.bytes, after.bytes);
		assert_int_equal(before.objects, after.objects);
	}
	assert_int_equal(n, 4);		/* unit, cache, fault log */
	ims__ir_unit_destroy(u);
	/* Unregistering a middle region needs a smaller list, but must not
	 * fail (callers free the memory next): it is no fault point. */
	ims_fault_arm_nth(1, NULL);
	assert_int_equal(ims__dma_unregister(dma, mem[1]), 0);
	assert_int_equal(ims_fault_injected(), 0);
	ims_fault_disarm();
	ims__rcu_read_lock();
	assert_null(ims__dma_map(dma, ims__dma_addr(mem[1]), 1));
	ims__rcu_read_unlock();
	assert_int_equal(ims__dma_unregister(dma, mem[0]), 0);
	assert_int_equal(ims__dma_unregister(dma, mem[2]), 0);
	assert_int_equal(ims__dma_destroy(dma), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(worked_example_irte_remaps_to_vector_0x41_on_apic_3),
		cmocka_unit_test(remapped_fields_reach_the_apic_bus),
		cmocka_unit_test(subhandle_adds_to_handle),
		cmocka_unit_test(remappable_message_examples),
		cmocka_unit_test(compat_format_passes_or_is_blocked),
		cmocka_unit_test(extended_destination_is_decoded_when_offered),
		cmocka_unit_test(remapping_needs_a_latched_table),
		cmocka_unit_test(not_present_entry_faults),
		cmocka_unit_test(index_beyond_table_size_faults),
		cmocka_unit_test(reserved_bits_in_request_fault),
		cmocka_unit_test(table_outside_dma_memory_faults),
		cmocka_unit_test(reserved_bits_in_entry_fault),
		cmocka_unit_test(x2apic_mode_takes_all_destination_bits),
		cmocka_unit_test(posted_entry_without_posting_support_faults),
		cmocka_unit_test(source_id_checked_with_each_qualifier),
		cmocka_unit_test(source_id_bus_range_and_no_check),
		cmocka_unit_test(fpd_suppresses_recording_not_blocking),
		cmocka_unit_test(fault_log_is_bounded_and_counts_overflow),
		cmocka_unit_test(cached_entry_stays_until_index_invalidation),
		cmocka_unit_test(index_mask_invalidation_covers_its_block_only),
		cmocka_unit_test(global_invalidation_drops_every_entry),
		cmocka_unit_test(unit_without_cache_reads_every_time),
		cmocka_unit_test(caching_mode_caches_not_present_entries),
		cmocka_unit_test(invalidation_queue_error_stops_the_queue),
		cmocka_unit_test(units_route_by_requester_id),
		cmocka_unit_test(dma_maps_only_registered_ranges),
		cmocka_unit_test(dma_registered_memory_is_all_or_nothing),
		cmocka_unit_test(allocations_fail_cleanly_at_every_point),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
