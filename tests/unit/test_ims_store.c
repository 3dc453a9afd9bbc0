/*
 * IMS storage models. The device-memory array, reached through a BAR as a
 * driver reaches it: reset state, access sizes, signals with the requester
 * id and PASID, latch while masked and one delivery on unmask, PASID
 * refusal, pending dropped when a slot changes owner. The system-memory
 * queue variant: shadow writes take effect only through a command, and a
 * failed command leaves the previous message in effect.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "helpers/msi_rec.h"
#include "hw/ims/ims_array.h"
#include "hw/ims/ims_queue.h"
#include "hw/pci/config.h"

#define ARRAY_OFF 0x8000
#define NR_SLOTS 2048
#define QREGS_OFF 0x100

static struct msi_rec rec;
static struct ims_hw_msi_sink sink;

struct dev {
	struct ims_hw_pci_cfg *cfg;
	struct ims_hw_ims_array *arr;
	struct ims_hw_ims_queue *q;
};

static void dev_build(struct dev *d)
{
	struct ims_hw_pci_cfg_params p = {
		.vendor_id = 0x8086, .device_id = 0x0b25, .rid = 0x0400, .extended = true,
	};
	struct ims_hw_ims_array_params ap = { NR_SLOTS, 0x0400 };
	struct ims_hw_ims_queue_params qp = { 64, 0x0400 };
	struct ims_hw_mmio_region r;

	msi_rec_init(&rec, &sink);
	assert_int_equal(ims__hw_pci_cfg_create(&p, &d->cfg), 0);
	assert_int_equal(ims__hw_pci_bar_add(d->cfg, 0, 0x10000, IMS_HW_PCI_BAR_64BIT), 0);
	assert_int_equal(ims__hw_ims_array_create(&ap, &sink, &d->arr), 0);
	ims__hw_ims_array_region(d->arr, &r);
	assert_int_equal(ims__hw_pci_bar_map(d->cfg, 0, ARRAY_OFF, &r), 0);
	assert_int_equal(ims__hw_ims_queue_create(&qp, &sink, &d->q), 0);
	ims__hw_ims_queue_region(d->q, &r);
	assert_int_equal(ims__hw_pci_bar_map(d->cfg, 0, QREGS_OFF, &r), 0);
	assert_int_equal(ims__hw_pci_cfg_write(d->cfg, IMS_PCI_COMMAND, 2,
					       IMS_PCI_COMMAND_MEMORY | IMS_PCI_COMMAND_MASTER), 0);
}

static void dev_free(struct dev *d)
{
	ims__hw_ims_queue_destroy(d->q);
	ims__hw_ims_array_destroy(d->arr);
	ims__hw_pci_cfg_destroy(d->cfg);
}

static uint32_t srd(struct dev *d, uint32_t slot, uint32_t field)
{
	uint64_t v;

	assert_int_equal(ims__hw_pci_mmio_read(d->cfg, 0, ARRAY_OFF + 16ull * slot + field, 4, &v),
			 0);
	return (uint32_t)v;
}

static void swr(struct dev *d, uint32_t slot, uint32_t field, uint32_t v)
{
	assert_int_equal(ims__hw_pci_mmio_write(d->cfg, 0, ARRAY_OFF + 16ull * slot + field, 4, v),
			 0);
}

/* What a driver does: address, data, then control; a read flushes. */
static void program(struct dev *d, uint32_t slot, uint32_t addr, uint32_t data, uint32_t ctrl)
{
	swr(d, slot, IMS_SLOT_ADDR_LO, addr);
	swr(d, slot, IMS_SLOT_ADDR_HI, 0);
	swr(d, slot, IMS_SLOT_DATA, data);
	swr(d, slot, IMS_SLOT_CTRL, ctrl);
	(void)srd(d, slot, IMS_SLOT_CTRL);
}

static uint32_t pasid_ctrl(uint32_t pasid)
{
	return IMS_SLOT_CTRL_PASID_EN | pasid << IMS_SLOT_CTRL_PASID_SHIFT;
}

static void array_slots_come_out_of_reset_masked_and_zero(void **state)
{
	struct dev d;

	(void)state;
	dev_build(&d);
	for (uint32_t i = 0; i < NR_SLOTS; i++) {
		assert_int_equal(srd(&d, i, IMS_SLOT_ADDR_LO), 0);
		assert_int_equal(srd(&d, i, IMS_SLOT_ADDR_HI), 0);
		assert_int_equal(srd(&d, i, IMS_SLOT_DATA), 0);
		assert_int_equal(srd(&d, i, IMS_SLOT_CTRL), IMS_SLOT_CTRL_MASKBIT);
	}
	/* A masked slot at reset latches rather than sending to address 0. */
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 0, false, 0), 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	dev_free(&d);
}

static void array_accepts_only_aligned_dwords_inside(void **state)
{
	struct dev d;
	uint64_t v;

	(void)state;
	dev_build(&d);
	assert_int_equal(ims__hw_pci_mmio_write(d.cfg, 0, ARRAY_OFF, 8, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_write(d.cfg, 0, ARRAY_OFF + 12, 2, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_write(d.cfg, 0, ARRAY_OFF + 13, 4, 0), -EINVAL);
	assert_int_equal(ims__hw_pci_mmio_read(d.cfg, 0, ARRAY_OFF + 16 * NR_SLOTS, 4, &v), -EINVAL);
	assert_int_equal(srd(&d, 0, IMS_SLOT_CTRL), IMS_SLOT_CTRL_MASKBIT);
	dev_free(&d);
}

static void array_signal_carries_rid_and_pasid(void **state)
{
	struct dev d;
	struct ims_hw_msi_write w;

	(void)state;
	dev_build(&d);
	program(&d, 5, 0xfee24698, 0, 0);
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 5, false, 0), 0);
	w = msi_rec_last(&rec);
	assert_int_equal(w.addr, 0xfee24698);
	assert_int_equal(w.data, 0);
	assert_int_equal(w.rid, 0x0400);
	assert_false(w.pasid_valid);

	program(&d, 6, 0xfee0003c, 7, pasid_ctrl(0x12345));
	assert_int_equal(srd(&d, 6, IMS_SLOT_CTRL), pasid_ctrl(0x12345));
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 6, true, 0x12345), 0);
	w = msi_rec_last(&rec);
	assert_int_equal(w.addr, 0xfee0003c);
	assert_int_equal(w.data, 7);
	assert_true(w.pasid_valid);
	assert_int_equal(w.pasid, 0x12345);
	assert_int_equal(msi_rec_count(&rec), 2);
	assert_int_equal(ims__hw_ims_array_signal(d.arr, NR_SLOTS, false, 0), -EINVAL);
	dev_free(&d);
}

static void array_masked_slot_latches_and_unmask_delivers_once(void **state)
{
	struct ims_hw_ims_stats st;
	struct dev d;

	(void)state;
	dev_build(&d);
	program(&d, 9, 0xfee00000, 0x51, IMS_SLOT_CTRL_MASKBIT);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ims__hw_ims_array_signal(d.arr, 9, false, 0), 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	assert_true(ims__hw_ims_array_pending(d.arr, 9));
	/* The message changed while masked: the new one goes out. */
	swr(&d, 9, IMS_SLOT_DATA, 0x52);
	assert_int_equal(msi_rec_count(&rec), 0);
	swr(&d, 9, IMS_SLOT_CTRL, 0);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_int_equal(msi_rec_last(&rec).data, 0x52);
	assert_false(ims__hw_ims_array_pending(d.arr, 9));
	swr(&d, 9, IMS_SLOT_CTRL, 0);
	assert_int_equal(msi_rec_count(&rec), 1);
	ims__hw_ims_array_get_stats(d.arr, &st);
	assert_int_equal(st.latched, 3);
	assert_int_equal(st.sent, 1);
	dev_free(&d);
}

static void array_signal_with_wrong_pasid_is_refused_and_counted(void **state)
{
	struct ims_hw_ims_stats st;
	struct dev d;

	(void)state;
	dev_build(&d);
	program(&d, 1, 0xfee00000, 0x31, pasid_ctrl(5));
	program(&d, 2, 0xfee00000, 0x32, pasid_ctrl(6) | IMS_SLOT_CTRL_MASKBIT);
	program(&d, 3, 0xfee00000, 0x33, 0);
	/* Another ADI's PASID, no PASID, a PASID at a host slot. */
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 1, true, 6), -EPERM);
	assert_non_null(strstr(ims_last_error(), "slot 1"));
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 1, false, 0), -EPERM);
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 3, true, 5), -EPERM);
	/* Refused before the mask: nothing latches either. */
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 2, true, 5), -EPERM);
	assert_false(ims__hw_ims_array_pending(d.arr, 2));
	assert_int_equal(msi_rec_count(&rec), 0);
	ims__hw_ims_array_get_stats(d.arr, &st);
	assert_int_equal(st.refused, 4);
	assert_int_equal(st.sent, 0);
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 1, true, 5), 0);
	assert_int_equal(msi_rec_count(&rec), 1);
	dev_free(&d);
}

static void array_pending_is_dropped_when_the_slot_changes_owner(void **state)
{
	struct ims_hw_ims_stats st;
	struct dev d;

	(void)state;
	dev_build(&d);
	program(&d, 4, 0xfee00000, 0x44, pasid_ctrl(5) | IMS_SLOT_CTRL_MASKBIT);
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 4, true, 5), 0);
	assert_true(ims__hw_ims_array_pending(d.arr, 4));
	/* Reassigned to PASID 7 and unmasked: PASID 5's interrupt must not leak. */
	program(&d, 4, 0xfee01000, 0x45, pasid_ctrl(7));
	assert_int_equal(msi_rec_count(&rec), 0);
	assert_false(ims__hw_ims_array_pending(d.arr, 4));
	ims__hw_ims_array_get_stats(d.arr, &st);
	assert_int_equal(st.dropped, 1);
	dev_free(&d);
}

static void array_reserved_control_bits_are_ignored(void **state)
{
	struct dev d;

	(void)state;
	dev_build(&d);
	swr(&d, 0, IMS_SLOT_CTRL, 0xffffffff);
	assert_int_equal(srd(&d, 0, IMS_SLOT_CTRL), IMS_SLOT_CTRL_WRITABLE);
	swr(&d, 0, IMS_SLOT_ADDR_LO, 0xfee00003);
	assert_int_equal(srd(&d, 0, IMS_SLOT_ADDR_LO), 0xfee00000);
	dev_free(&d);
}

static void array_reset_masks_every_slot_and_forgets_pending(void **state)
{
	struct dev d;

	(void)state;
	dev_build(&d);
	program(&d, 0, 0xfee00000, 0x20, IMS_SLOT_CTRL_MASKBIT);
	program(&d, 1, 0xfee00000, 0x21, 0);
	assert_int_equal(ims__hw_ims_array_signal(d.arr, 0, false, 0), 0);
	ims__hw_ims_array_reset(d.arr);
	for (uint32_t i = 0; i < 2; i++) {
		assert_int_equal(srd(&d, i, IMS_SLOT_ADDR_LO), 0);
		assert_int_equal(srd(&d, i, IMS_SLOT_DATA), 0);
		assert_int_equal(srd(&d, i, IMS_SLOT_CTRL), IMS_SLOT_CTRL_MASKBIT);
		assert_false(ims__hw_ims_array_pending(d.arr, i));
	}
	swr(&d, 0, IMS_SLOT_CTRL, 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	dev_free(&d);
}

/*
 * Random signals (with right, wrong and missing PASIDs) and random guest
 * writes to the first slots. After every step: no slot is pending while
 * unmasked, reserved control bits read 0, every -EPERM was counted, and the
 * sink saw exactly what the counters say was sent.
 */
static void array_random_operations_keep_the_invariants(void **state)
{
	static const uint32_t pasids[] = { 0, 5, 6 };
	unsigned int seed = 77, eperm = 0;
	struct ims_hw_ims_stats st;
	struct dev d;
	uint64_t v;

	(void)state;
	dev_build(&d);
	for (int step = 0; step < 20000; step++) {
		unsigned int r = (unsigned int)rand_r(&seed);
		uint32_t slot = r % 8, pasid = pasids[(r >> 4) % 3];
		uint32_t field = ((r >> 6) % 4) * 4;
		int err;

		switch ((r >> 8) % 4) {
		case 0:
		case 1:
			err = ims__hw_ims_array_signal(d.arr, slot, pasid != 0, pasid);
			assert_true(err == 0 || err == -EPERM);
			eperm += err == -EPERM;
			break;
		case 2:
			if (field == IMS_SLOT_CTRL)
				swr(&d, slot, field, (pasid ? pasid_ctrl(pasid) : 0) |
						     ((r >> 12) & 1) | (r & 0xff0u));
			else
				swr(&d, slot, field, (uint32_t)rand_r(&seed));
			break;
		default:
			/* Hostile: any size at any offset, refused or accepted. */
			(void)ims__hw_pci_mmio_write(d.cfg, 0, ARRAY_OFF + (r >> 12) % 160,
						     1u << ((r >> 20) % 4), r);
			(void)ims__hw_pci_mmio_read(d.cfg, 0, ARRAY_OFF + (r >> 14) % 160,
						    1u << ((r >> 22) % 4), &v);
			break;
		}
		for (uint32_t i = 0; i < 8; i++) {
			uint32_t ctrl = srd(&d, i, IMS_SLOT_CTRL);

			assert_int_equal(ctrl & ~IMS_SLOT_CTRL_WRITABLE, 0);
			if (ims__hw_ims_array_pending(d.arr, i))
				assert_true(ctrl & IMS_SLOT_CTRL_MASKBIT);
		}
	}
	ims__hw_ims_array_get_stats(d.arr, &st);
	assert_int_equal(st.refused, eperm);
	assert_int_equal(st.sent, msi_rec_count(&rec));
	print_message("%llu sent, %llu latched, %llu refused, %llu dropped\n",
		      (unsigned long long)st.sent, (unsigned long long)st.latched,
		      (unsigned long long)st.refused, (unsigned long long)st.dropped);
	assert_true(st.sent && st.latched && st.refused && st.dropped);
	dev_free(&d);
}

/* ---- system-memory (queue) variant ---- */

static uint32_t qcmd(struct dev *d, uint32_t queue)
{
	uint64_t status;

	assert_int_equal(ims__hw_pci_mmio_write(d->cfg, 0, QREGS_OFF + IMS_QUEUE_REG_CMD, 4,
						IMS_QUEUE_CMD_OP_LOAD_IRQ << IMS_QUEUE_CMD_OP_SHIFT |
						queue), 0);
	assert_int_equal(ims__hw_pci_mmio_read(d->cfg, 0, QREGS_OFF + IMS_QUEUE_REG_STATUS, 4,
					       &status), 0);
	return (uint32_t)status;
}

static void shadow(struct dev *d, uint32_t queue, uint32_t addr, uint32_t data, uint32_t ctrl)
{
	assert_int_equal(ims__hw_ims_queue_shadow_write(d->q, queue, IMS_SLOT_ADDR_LO, addr), 0);
	assert_int_equal(ims__hw_ims_queue_shadow_write(d->q, queue, IMS_SLOT_ADDR_HI, 0), 0);
	assert_int_equal(ims__hw_ims_queue_shadow_write(d->q, queue, IMS_SLOT_DATA, data), 0);
	assert_int_equal(ims__hw_ims_queue_shadow_write(d->q, queue, IMS_SLOT_CTRL, ctrl), 0);
}

static void queue_shadow_takes_effect_only_through_a_command(void **state)
{
	struct ims_hw_slot s;
	struct dev d;
	uint32_t v;

	(void)state;
	dev_build(&d);
	assert_int_equal(ims__hw_ims_queue_shadow_read(d.q, 3, IMS_SLOT_CTRL, &v), 0);
	assert_int_equal(v, IMS_SLOT_CTRL_MASKBIT);
	shadow(&d, 3, 0xfee02000, 0x63, 0);
	/* Still masked in effect: the signal latches. */
	assert_int_equal(ims__hw_ims_queue_signal(d.q, 3, false, 0), 0);
	assert_int_equal(msi_rec_count(&rec), 0);
	assert_true(ims__hw_ims_queue_pending(d.q, 3));
	assert_int_equal(qcmd(&d, 3), IMS_QUEUE_STATUS_OK);
	assert_int_equal(msi_rec_count(&rec), 1);
	assert_int_equal(msi_rec_last(&rec).addr, 0xfee02000);
	assert_int_equal(msi_rec_last(&rec).data, 0x63);
	assert_int_equal(ims__hw_ims_queue_in_effect(d.q, 3, &s), 0);
	assert_int_equal(s.data, 0x63);
	assert_int_equal(s.ctrl, 0);
	assert_int_equal(ims__hw_ims_queue_signal(d.q, 3, false, 0), 0);
	assert_int_equal(msi_rec_count(&rec), 2);
	/* Masking in the shadow alone masks nothing. */
	assert_int_equal(ims__hw_ims_queue_shadow_write(d.q, 3, IMS_SLOT_CTRL,
							IMS_SLOT_CTRL_MASKBIT), 0);
	assert_int_equal(ims__hw_ims_queue_signal(d.q, 3, false, 0), 0);
	assert_int_equal(msi_rec_count(&rec), 3);
	dev_free(&d);
}

static void queue_failed_command_leaves_previous_message_in_effect(void **state)
{
	struct ims_hw_slot s;
	struct dev d;

	(void)state;
	dev_build(&d);
	shadow(&d, 7, 0xfee01000, 0xa1, pasid_ctrl(9));
	assert_int_equal(qcmd(&d, 7), IMS_QUEUE_STATUS_OK);
	shadow(&d, 7, 0xfee05000, 0xb2, pasid_ctrl(10) | IMS_SLOT_CTRL_MASKBIT);
	ims_fault_arm_nth(1, "ims_queue_cmd");
	assert_int_equal(qcmd(&d, 7), IMS_QUEUE_STATUS_DEVICE_ERROR);
	ims_fault_disarm();
	assert_int_equal(ims__hw_ims_queue_in_effect(d.q, 7, &s), 0);
	assert_int_equal(s.addr_lo, 0xfee01000);
	assert_int_equal(s.data, 0xa1);
	assert_int_equal(s.ctrl, pasid_ctrl(9));
	/* The old owner's PASID still fires; the new one is not yet allowed. */
	assert_int_equal(ims__hw_ims_queue_signal(d.q, 7, true, 9), 0);
	assert_int_equal(msi_rec_last(&rec).data, 0xa1);
	assert_int_equal(ims__hw_ims_queue_signal(d.q, 7, true, 10), -EPERM);
	/* Retried, it goes through. */
	assert_int_equal(qcmd(&d, 7), IMS_QUEUE_STATUS_OK);
	assert_int_equal(ims__hw_ims_queue_in_effect(d.q, 7, &s), 0);
	assert_int_equal(s.data, 0xb2);
	assert_int_equal(ims__hw_ims_queue_signal(d.q, 7, true, 10), 0);
	assert_true(ims__hw_ims_queue_pending(d.q, 7));
	dev_free(&d);
}

static void queue_invalid_commands_change_nothing(void **state)
{
	struct ims_hw_slot s;
	struct dev d;
	uint64_t v;

	(void)state;
	dev_build(&d);
	shadow(&d, 1, 0xfee00000, 0x11, 0);
	assert_int_equal(ims__hw_ims_queue_command(d.q, 0x2u << IMS_QUEUE_CMD_OP_SHIFT | 1),
			 IMS_QUEUE_STATUS_INVALID);
	assert_int_equal(ims__hw_ims_queue_command(d.q, IMS_QUEUE_CMD_OP_LOAD_IRQ <<
						   IMS_QUEUE_CMD_OP_SHIFT | 64),
			 IMS_QUEUE_STATUS_INVALID);
	assert_int_equal(ims__hw_ims_queue_command(d.q, IMS_QUEUE_CMD_OP_LOAD_IRQ <<
						   IMS_QUEUE_CMD_OP_SHIFT | 1u << 24 | 1),
			 IMS_QUEUE_STATUS_INVALID);
	assert_int_equal(ims__hw_ims_queue_in_effect(d.q, 1, &s), 0);
	assert_int_equal(s.ctrl, IMS_SLOT_CTRL_MASKBIT);
	assert_int_equal(s.data, 0);
	/* The status register is read-only; registers take dwords only. */
	assert_int_equal(ims__hw_pci_mmio_write(d.cfg, 0, QREGS_OFF + IMS_QUEUE_REG_STATUS, 4, 0), 0);
	assert_int_equal(ims__hw_pci_mmio_read(d.cfg, 0, QREGS_OFF + IMS_QUEUE_REG_STATUS, 4, &v), 0);
	assert_int_equal(v, IMS_QUEUE_STATUS_INVALID);
	assert_int_equal(ims__hw_pci_mmio_write(d.cfg, 0, QREGS_OFF, 8, 0), -EINVAL);
	assert_int_equal(ims__hw_ims_queue_shadow_write(d.q, 64, 0, 0), -EINVAL);
	assert_int_equal(ims__hw_ims_queue_shadow_write(d.q, 0, 16, 0), -EINVAL);
	assert_int_equal(ims__hw_ims_queue_shadow_write(d.q, 0, 2, 0), -EINVAL);
	assert_int_equal(ims__hw_ims_queue_signal(d.q, 64, false, 0), -EINVAL);
	assert_int_equal(ims__hw_ims_queue_in_effect(d.q, 64, &s), -EINVAL);
	dev_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(array_slots_come_out_of_reset_masked_and_zero),
		cmocka_unit_test(array_accepts_only_aligned_dwords_inside),
		cmocka_unit_test(array_signal_carries_rid_and_pasid),
		cmocka_unit_test(array_masked_slot_latches_and_unmask_delivers_once),
		cmocka_unit_test(array_signal_with_wrong_pasid_is_refused_and_counted),
		cmocka_unit_test(array_pending_is_dropped_when_the_slot_changes_owner),
		cmocka_unit_test(array_reserved_control_bits_are_ignored),
		cmocka_unit_test(array_reset_masks_every_slot_and_forgets_pending),
		cmocka_unit_test(array_random_operations_keep_the_invariants),
		cmocka_unit_test(queue_shadow_takes_effect_only_through_a_command),
		cmocka_unit_test(queue_failed_command_leaves_previous_message_in_effect),
		cmocka_unit_test(queue_invalid_commands_change_nothing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
