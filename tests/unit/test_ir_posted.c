/*
 * Posted delivery in the remapping unit: PIR bits land in the descriptor,
 * and the notification goes out exactly when ON was clear and SN clear or
 * the entry urgent, for every combination; the descriptor helpers of
 * ims/remap.h; a descriptor outside DMA memory is a fault, not a crash.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ir_env.h"

static void posted_entry(struct ir_env *e, uint32_t index, void *pid, uint8_t vector, bool urgent)
{
	struct ims_irte t = { .present = true, .posted = true, .vector = vector, .urgent = urgent,
			      .pda = ims__dma_addr(pid), .sid = 0x0300, .svt = IMS_SVT_SID };
	uint64_t lo, hi;

	assert_int_equal(ims_irte_encode(&t, &lo, &hi), 0);
	ir_set(e, index, lo, hi);
	ir_inv_index(e, index, 0);
}

static void notification_follows_on_sn_and_urgent(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	void *pid = e->pids;
	struct ims_ir_outcome out;

	(void)state;
	for (unsigned int c = 0; c < 8; c++) {
		bool on = c & 1, sn = c & 2, urgent = c & 4;
		bool expect = !on && (!sn || urgent);
		unsigned int before = e->apic.count;

		ims_pid_init(pid, 0xf2, 5, false);
		if (on) {
			/* An earlier notification still outstanding. */
			__atomic_fetch_or(&((uint64_t *)pid)[IMS_PID_CTL_WORD], 1ull, __ATOMIC_SEQ_CST);
		}
		ims_pid_set_sn(pid, sn);
		posted_entry(e, 1, pid, 0x33, urgent);
		assert_int_equal(ir_raise(e, 1, true, 0, 0x0300, &out), 0);
		assert_int_equal(out.kind, IMS_IR_OUT_POSTED);
		assert_true(ims_pid_pir_test(pid, 0x33));
		assert_int_equal(out.notified, expect);
		assert_int_equal(e->apic.count, before + (expect ? 1 : 0));
		assert_int_equal(ims_pid_on(pid), on || expect);
		assert_int_equal(ims_pid_sn(pid), sn);
		if (expect) {
			assert_int_equal(e->apic.last.vector, 0xf2);
			assert_int_equal(e->apic.last.dest, 5);
			assert_false(e->apic.last.dest_logical);
			assert_int_equal(e->apic.last.delivery_mode, IMS_DM_FIXED);
		}
	}
	ir_env_free(e);
}

static void second_post_before_the_vcpu_runs_sends_nothing(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	void *pid = e->pids;
	struct ims_ir_unit_stats st;
	uint64_t pir[4];

	(void)state;
	ims_pid_init(pid, 0xf2, 7, false);
	posted_entry(e, 0, pid, 0x40, false);
	posted_entry(e, 1, pid, 0x41, false);
	assert_int_equal(ir_raise(e, 0, true, 0, 0x0300, NULL), 0);
	assert_int_equal(ir_raise(e, 1, true, 0, 0x0300, NULL), 0);
	assert_int_equal(ir_raise(e, 0, true, 0, 0x0300, NULL), 0);
	assert_int_equal(e->apic.count, 1);
	/* The vCPU takes its interrupts; the next post notifies again. */
	assert_int_equal(ims_pid_take(pid, pir), 2);
	assert_int_equal(pir[1], 3ull);
	assert_false(ims_pid_on(pid));
	assert_false(ims_pid_pir_test(pid, 0x40));
	assert_int_equal(ir_raise(e, 1, true, 0, 0x0300, NULL), 0);
	assert_int_equal(e->apic.count, 2);
	ims__ir_unit_stats(e->u, &st);
	assert_int_equal(st.posted, 4);
	assert_int_equal(st.notifications, 2);
	assert_int_equal(st.remapped, 0);
	ir_env_free(e);
}

static void pir_bits_land_in_their_words(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	uint64_t *pid = e->pids + 8;	/* the second descriptor */
	const uint8_t vecs[] = { 0, 1, 63, 64, 127, 128, 200, 255 };
	uint64_t pir[4];

	(void)state;
	ims_pid_init(pid, 0xf2, 1, false);
	ims_pid_set_sn(pid, true);
	for (size_t i = 0; i < sizeof(vecs); i++) {
		posted_entry(e, 2, pid, vecs[i], false);
		assert_int_equal(ir_raise(e, 2, true, 0, 0x0300, NULL), 0);
	}
	assert_int_equal(e->apic.count, 0);	/* SN: nothing sent */
	for (unsigned int v = 0; v < 256; v++) {
		bool want = false;

		for (size_t i = 0; i < sizeof(vecs); i++)
			want |= vecs[i] == v;
		assert_int_equal(ims_pid_pir_test(pid, (uint8_t)v), want);
	}
	assert_int_equal(pid[0], 1ull | 2ull | 1ull << 63);
	assert_int_equal(pid[1], 1ull | 1ull << 63);
	assert_int_equal(pid[2], 1ull);
	assert_int_equal(pid[3], 1ull << (200 - 192) | 1ull << 63);
	/* The first descriptor was not touched. */
	for (int i = 0; i < 8; i++)
		assert_int_equal(e->pids[i], 0);
	assert_int_equal(ims_pid_take(pid, pir), sizeof(vecs));
	ir_env_free(e);
}

static void notification_destination_by_mode(void **state)
{
	struct ir_env *x = ir_env_new(3, 0, false, false, 0, 0);
	struct ir_env *x2 = ir_env_new(3, 0, true, false, 0, 0);

	(void)state;
	ims_pid_init(x->pids, 0xf1, 0x2a, false);
	/* xAPIC: the ID sits in NDST bits 15:8 */
	assert_int_equal(x->pids[IMS_PID_CTL_WORD] >> 32, 0x2a00);
	assert_int_equal((x->pids[IMS_PID_CTL_WORD] >> 16) & 0xff, 0xf1);
	posted_entry(x, 0, x->pids, 0x50, false);
	assert_int_equal(ir_raise(x, 0, true, 0, 0x0300, NULL), 0);
	assert_int_equal(x->apic.last.dest, 0x2a);
	ims_pid_init(x2->pids, 0xf1, 0x12345, true);
	posted_entry(x2, 0, x2->pids, 0x50, false);
	assert_int_equal(ir_raise(x2, 0, true, 0, 0x0300, NULL), 0);
	assert_int_equal(x2->apic.last.dest, 0x12345);
	assert_int_equal(x2->apic.last.vector, 0xf1);
	ir_env_free(x);
	ir_env_free(x2);
}

static void descriptor_outside_dma_memory_is_a_fault(void **state)
{
	struct ir_env *e = ir_env_new(3, 0, false, false, 0, 0);
	static uint64_t stray[8] __attribute__((aligned(64)));
	struct ims_ir_outcome out;

	(void)state;
	posted_entry(e, 3, stray, 0x30, true);
	assert_int_equal(ir_raise(e, 3, true, 0, 0x0300, &out), -EIO);
	assert_int_equal(out.reason, IMS_IR_FAULT_PID_ACCESS);
	assert_true(out.recorded);
	assert_int_equal(stray[0], 0);
	assert_int_equal(e->apic.count, 0);
	/* Straddling the end of a region counts as outside. */
	posted_entry(e, 3, (char *)e->pids + PIDS_BYTES - 64, 0x30, true);
	assert_int_equal(ir_raise(e, 3, true, 0, 0x0300, &out), 0);
	ir_set(e, 3, 0x8001ull | 0x30ull << 16 | ((ims__dma_addr(e->pids) + PIDS_BYTES) >> 6 & 0x3ffffff) << 38,
	       0x40300ull | (ims__dma_addr(e->pids) + PIDS_BYTES) >> 32 << 32);
	ir_inv_index(e, 3, 0);
	assert_int_equal(ir_raise(e, 3, true, 0, 0x0300, &out), -EIO);
	assert_int_equal(out.reason, IMS_IR_FAULT_PID_ACCESS);
	/* Source-id checks apply to posted entries too. */
	posted_entry(e, 3, e->pids, 0x30, true);
	assert_int_equal(ir_raise(e, 3, true, 0, 0x0301, &out), -EIO);
	assert_int_equal(out.reason, IMS_IR_FAULT_SID);
	ir_env_free(e);
}

static void posted_irte_encodes_and_decodes(void **state)
{
	struct ims_irte t = { .present = true, .posted = true, .fpd = true, .urgent = true, .avail = 0xa,
			      .vector = 0x5d, .pda = 0x123456789abcdec0ull, .sid = 0x0810, .sq = 2,
			      .svt = 1 };
	struct ims_irte d;
	uint64_t lo, hi;

	(void)state;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), 0);
	assert_int_equal(lo, 0x0001ull | 0x2 | 0xa00 | 1ull << 14 | 1ull << 15 | 0x5dull << 16 |
				     (0x9abcdec0ull >> 6) << 38);
	assert_int_equal(hi, 0x12345678ull << 32 | 1ull << 18 | 2ull << 16 | 0x0810);
	ims_irte_decode(lo, hi, &d);
	assert_true(d.posted && d.present && d.fpd && d.urgent);
	assert_int_equal(d.pda, t.pda);
	assert_int_equal(d.vector, 0x5d);
	assert_int_equal(d.avail, 0xa);
	assert_int_equal(d.sid, 0x0810);
	assert_int_equal(d.sq, 2);
	assert_int_equal(d.svt, 1);
	assert_int_equal(d.rsvd_lo | d.rsvd_hi, 0);
	t.pda |= 0x20;
	assert_int_equal(ims_irte_encode(&t, &lo, &hi), -EINVAL);
	ims_irte_decode(0x8001ull | 1ull << 30, 1ull << 21, &d);
	assert_int_equal(d.rsvd_lo, 1ull << 30);
	assert_int_equal(d.rsvd_hi, 1ull << 21);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(notification_follows_on_sn_and_urgent),
		cmocka_unit_test(second_post_before_the_vcpu_runs_sends_nothing),
		cmocka_unit_test(pir_bits_land_in_their_words),
		cmocka_unit_test(notification_destination_by_mode),
		cmocka_unit_test(descriptor_outside_dma_memory_is_a_fault),
		cmocka_unit_test(posted_irte_encodes_and_decodes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
