/*
 * The local APIC and APIC bus models: acceptance by priority class, EOI
 * order, masking by TPR, coalescing of a second message before
 * acceptance, the software-enable bit, the register layout, and routing
 * on the bus (physical, broadcast, logical flat and cluster, lowest
 * priority, compatibility-format writes with and without extended IDs).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "hw/apic_bus.h"
#include "hw/lapic.h"

static struct ims_hw_lapic *enabled_lapic(uint32_t id)
{
	struct ims_hw_lapic *l;

	assert_int_equal(ims__lapic_create(id, &l), 0);
	ims__lapic_write(l, IMS_LAPIC_SVR, IMS_LAPIC_SVR_ENABLE | 0xff);
	return l;
}

static bool fixed(struct ims_hw_lapic *l, uint8_t v)
{
	return ims__lapic_deliver(l, 0, v, false);
}

static bool isr_has(struct ims_hw_lapic *l, unsigned int v)
{
	return ims__lapic_read(l, IMS_LAPIC_ISR + (v / 32) * 0x10) & (1u << (v % 32));
}

static bool irr_has(struct ims_hw_lapic *l, unsigned int v)
{
	return ims__lapic_read(l, IMS_LAPIC_IRR + (v / 32) * 0x10) & (1u << (v % 32));
}

static void lapic_disabled_until_svr_enable(void **state)
{
	struct ims_hw_lapic *l;
	struct ims_hw_lapic_stats st;

	(void)state;
	assert_int_equal(ims__lapic_create(7, &l), 0);
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_SVR), IMS_LAPIC_SVR_RESET);
	assert_false(fixed(l, 0x41));
	assert_false(irr_has(l, 0x41));
	/* NMI does not need the software enable. */
	assert_true(ims__lapic_deliver(l, 4, 0, false));
	ims__lapic_write(l, IMS_LAPIC_SVR, 0x1ff);
	assert_true(fixed(l, 0x41));
	assert_true(irr_has(l, 0x41));
	ims__lapic_stats(l, &st);
	assert_int_equal(st.rejected, 1);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.nmi, 1);
	ims__lapic_destroy(l);
}

static void lapic_accepts_highest_class_above_ppr(void **state)
{
	struct ims_hw_lapic *l = enabled_lapic(0);

	(void)state;
	assert_int_equal(ims__lapic_accept(l), -1);
	fixed(l, 0x41);
	fixed(l, 0x81);
	fixed(l, 0x35);
	assert_int_equal(ims__lapic_accept(l), 0x81);
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_PPR), 0x80);
	/* Lower classes wait while 0x81 is in service. */
	assert_int_equal(ims__lapic_accept(l), -1);
	/* So does the same class. */
	fixed(l, 0x8f);
	assert_int_equal(ims__lapic_accept(l), -1);
	/* A higher class nests. */
	fixed(l, 0x91);
	assert_int_equal(ims__lapic_accept(l), 0x91);
	assert_true(isr_has(l, 0x81) && isr_has(l, 0x91));
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_false(isr_has(l, 0x91));
	assert_true(isr_has(l, 0x81));
	assert_int_equal(ims__lapic_accept(l), -1);
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_PPR), 0);
	assert_int_equal(ims__lapic_accept(l), 0x8f);
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_int_equal(ims__lapic_accept(l), 0x41);
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_int_equal(ims__lapic_accept(l), 0x35);
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_int_equal(ims__lapic_accept(l), -1);
	ims__lapic_destroy(l);
}

static void lapic_eoi_clears_highest_in_service(void **state)
{
	struct ims_hw_lapic *l = enabled_lapic(0);
	struct ims_hw_lapic_stats st;

	(void)state;
	fixed(l, 0x41);
	assert_int_equal(ims__lapic_accept(l), 0x41);
	fixed(l, 0x61);
	assert_int_equal(ims__lapic_accept(l), 0x61);
	fixed(l, 0xa1);
	assert_int_equal(ims__lapic_accept(l), 0xa1);
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_false(isr_has(l, 0xa1));
	assert_true(isr_has(l, 0x61) && isr_has(l, 0x41));
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_false(isr_has(l, 0x61));
	assert_true(isr_has(l, 0x41));
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_false(isr_has(l, 0x41));
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);	/* nothing in service */
	ims__lapic_stats(l, &st);
	assert_int_equal(st.eoi, 3);
	assert_int_equal(st.eoi_empty, 1);
	assert_int_equal(st.accepted, 3);
	ims__lapic_destroy(l);
}

static void lapic_tpr_masks_lower_classes(void **state)
{
	struct ims_hw_lapic *l = enabled_lapic(0);

	(void)state;
	ims__lapic_write(l, IMS_LAPIC_TPR, 0x55);
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_TPR), 0x55);
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_PPR), 0x55);
	fixed(l, 0x45);
	fixed(l, 0x5f);
	assert_int_equal(ims__lapic_accept(l), -1);	/* class 5 is not above 5 */
	assert_true(irr_has(l, 0x5f));			/* held, not lost */
	fixed(l, 0x61);
	assert_int_equal(ims__lapic_accept(l), 0x61);
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_int_equal(ims__lapic_accept(l), -1);
	ims__lapic_write(l, IMS_LAPIC_TPR, 0x40);
	assert_int_equal(ims__lapic_accept(l), 0x5f);
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_int_equal(ims__lapic_accept(l), -1);	/* 0x45: class 4 not above TPR 4 */
	ims__lapic_write(l, IMS_LAPIC_TPR, 0);
	assert_int_equal(ims__lapic_accept(l), 0x45);
	ims__lapic_destroy(l);
}

static void lapic_coalesces_before_acceptance_only(void **state)
{
	struct ims_hw_lapic *l = enabled_lapic(0);
	struct ims_hw_lapic_stats st;

	(void)state;
	assert_true(fixed(l, 0x50));
	assert_true(fixed(l, 0x50));	/* absorbed: accepted by the APIC, one IRR bit */
	ims__lapic_stats(l, &st);
	assert_int_equal(st.delivered, 1);
	assert_int_equal(st.coalesced, 1);
	assert_int_equal(ims__lapic_accept(l), 0x50);
	assert_int_equal(ims__lapic_accept(l), -1);
	/* Once accepted, a new message is a new interrupt (IRR while in service). */
	assert_true(fixed(l, 0x50));
	ims__lapic_stats(l, &st);
	assert_int_equal(st.delivered, 2);
	assert_int_equal(st.coalesced, 1);
	assert_true(irr_has(l, 0x50) && isr_has(l, 0x50));
	ims__lapic_write(l, IMS_LAPIC_EOI, 0);
	assert_int_equal(ims__lapic_accept(l), 0x50);
	ims__lapic_destroy(l);
}

static void lapic_register_layout(void **state)
{
	struct ims_hw_lapic *l = enabled_lapic(0x12);

	(void)state;
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_ID), 0x12000000u);
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_VERSION), IMS_LAPIC_VERSION_VAL);
	ims__lapic_write(l, IMS_LAPIC_ID, 0x55000000u);	/* read-only here */
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_ID), 0x12000000u);
	/* Vector 0x41 is IRR word 2 (offset 0x220), bit 1. */
	fixed(l, 0x41);
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_IRR + 0x20), 1u << 1);
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_IRR + 0x10), 0);
	/* Level-triggered sets TMR. */
	assert_true(ims__lapic_deliver(l, 0, 0xe3, true));
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_TMR + 0x70), 1u << 3);
	/* Vectors 0-15 are illegal; reserved delivery modes are refused. */
	assert_false(fixed(l, 0x0f));
	assert_false(ims__lapic_deliver(l, 3, 0x41, false));
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_EOI), 0);
	assert_int_equal(ims__lapic_read(l, 0x3f0), 0);
	assert_int_equal(ims__lapic_read(l, IMS_LAPIC_DFR), IMS_LAPIC_DFR_FLAT);
	ims__lapic_destroy(l);
}

static struct ims_hw_apic_bus *enabled_bus(uint32_t n, const uint32_t *ids, uint32_t flags)
{
	struct ims_hw_apic_bus *bus;

	assert_int_equal(ims__apic_bus_create(n, ids, flags, &bus), 0);
	for (uint32_t i = 0; i < n; i++)
		ims__lapic_write(ims__apic_bus_lapic(bus, i), IMS_LAPIC_SVR, 0x1ff);
	return bus;
}

static void bus_physical_and_broadcast(void **state)
{
	static const uint32_t ids[4] = { 0, 3, 5, 9 };
	struct ims_hw_apic_bus *bus = enabled_bus(4, ids, 0);
	struct ims_hw_apic_irq irq = { .dest = 3, .vector = 0x41 };

	(void)state;
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 1);
	assert_true(irr_has(ims__apic_bus_lapic(bus, 1), 0x41));
	assert_false(irr_has(ims__apic_bus_lapic(bus, 0), 0x41));
	irq.dest = 4;
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 0);
	irq.dest = 0xff;
	irq.vector = 0x42;
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 4);
	for (uint32_t i = 0; i < 4; i++)
		assert_true(irr_has(ims__apic_bus_lapic(bus, i), 0x42));
	/* A disabled APIC does not count. */
	ims__lapic_write(ims__apic_bus_lapic(bus, 2), IMS_LAPIC_SVR, 0xff);
	irq.vector = 0x43;
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 3);
	ims__apic_bus_destroy(bus);
}

static void bus_logical_flat_and_cluster(void **state)
{
	struct ims_hw_apic_bus *bus = enabled_bus(4, NULL, 0);
	struct ims_hw_apic_irq irq = { .dest = 0x05, .vector = 0x51, .dest_logical = true };

	(void)state;
	for (uint32_t i = 0; i < 4; i++)
		ims__lapic_write(ims__apic_bus_lapic(bus, i), IMS_LAPIC_LDR, (1u << i) << 24);
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 2);	/* CPUs 0 and 2 */
	assert_true(irr_has(ims__apic_bus_lapic(bus, 0), 0x51));
	assert_true(irr_has(ims__apic_bus_lapic(bus, 2), 0x51));
	assert_false(irr_has(ims__apic_bus_lapic(bus, 1), 0x51));
	/* Cluster model: cluster 1 holds CPUs 0, 1; cluster 2 holds 2, 3. */
	for (uint32_t i = 0; i < 4; i++) {
		struct ims_hw_lapic *l = ims__apic_bus_lapic(bus, i);

		ims__lapic_write(l, IMS_LAPIC_DFR, IMS_LAPIC_DFR_CLUSTER);
		ims__lapic_write(l, IMS_LAPIC_LDR, ((i < 2 ? 0x10u : 0x20u) | (1u << (i % 2))) << 24);
	}
	irq.dest = 0x22;	/* cluster 2, second member: CPU 3 */
	irq.vector = 0x52;
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 1);
	assert_true(irr_has(ims__apic_bus_lapic(bus, 3), 0x52));
	irq.dest = 0x13;	/* cluster 1, both */
	irq.vector = 0x53;
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 2);
	ims__apic_bus_destroy(bus);
}

static void bus_lowest_priority_picks_lowest_ppr(void **state)
{
	struct ims_hw_apic_bus *bus = enabled_bus(4, NULL, 0);
	struct ims_hw_apic_irq irq = { .dest = 0x0f, .vector = 0x61, .dest_logical = true,
				       .delivery_mode = IMS_DM_LOWEST };

	(void)state;
	for (uint32_t i = 0; i < 4; i++) {
		ims__lapic_write(ims__apic_bus_lapic(bus, i), IMS_LAPIC_LDR, (1u << i) << 24);
		ims__lapic_write(ims__apic_bus_lapic(bus, i), IMS_LAPIC_TPR, i == 2 ? 0x10 : 0x40);
	}
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 1);
	assert_true(irr_has(ims__apic_bus_lapic(bus, 2), 0x61));
	/* Among equals, turns are taken. */
	ims__lapic_write(ims__apic_bus_lapic(bus, 2), IMS_LAPIC_TPR, 0x40);
	for (uint8_t v = 0x70; v < 0x74; v++) {
		irq.vector = v;
		assert_int_equal(ims__apic_bus_deliver(bus, &irq), 1);
	}
	for (uint32_t i = 0; i < 4; i++) {
		uint32_t got = 0;

		for (uint32_t v = 0x70; v < 0x74; v++)
			got += irr_has(ims__apic_bus_lapic(bus, i), v);
		assert_int_equal(got, 1);
	}
	/* Physical lowest priority names one APIC: it gets it, whatever its PPR. */
	irq.dest_logical = false;
	irq.dest = 1;
	irq.vector = 0x75;
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 1);
	assert_true(irr_has(ims__apic_bus_lapic(bus, 1), 0x75));
	irq.dest = 9;
	assert_int_equal(ims__apic_bus_deliver(bus, &irq), 0);
	ims__apic_bus_destroy(bus);
}

static void bus_decodes_compatibility_writes(void **state)
{
	static const uint32_t ids[3] = { 0, 3, 0x123 };
	struct ims_hw_apic_bus *bus = enabled_bus(3, ids, IMS_APIC_BUS_EXT_DEST);
	struct ims_hw_msi_write w = { .addr = 0xfee03000u, .data = 0x41 };
	struct ims_hw_lapic_stats st;

	(void)state;
	/* The worked example of HARDWARE.md lands on APIC 3, vector 0x41. */
	assert_int_equal(ims__apic_bus_msi_write(bus, &w), 1);
	assert_true(irr_has(ims__apic_bus_lapic(bus, 1), 0x41));
	/* APIC ID 0x123: 0x23 in bits 19:12, 0x1 in bits 11:5. */
	w.addr = 0xfee00000u | 0x23u << 12 | 0x1u << 5;
	w.data = 0x8000u | 0x4000u | 0x42;	/* level, assert */
	assert_int_equal(ims__apic_bus_msi_write(bus, &w), 1);
	assert_true(irr_has(ims__apic_bus_lapic(bus, 2), 0x42));
	assert_int_equal(ims__lapic_read(ims__apic_bus_lapic(bus, 2), IMS_LAPIC_TMR + 0x20), 1u << 2);
	/* Remappable format and addresses outside 0xFEE are dropped. */
	w.addr = 0xfee24698u;
	w.data = 0;
	assert_int_equal(ims__apic_bus_msi_write(bus, &w), 0);
	w.addr = 0xfed03000u;
	assert_int_equal(ims__apic_bus_msi_write(bus, &w), 0);
	assert_int_equal(ims__apic_bus_dropped(bus), 2);
	/* Through the sink types of bus.h. */
	{
		struct ims_hw_msi_sink ms = ims__apic_bus_msi_sink(bus);
		struct ims_hw_apic_sink as = ims__apic_bus_sink(bus);
		struct ims_hw_apic_irq irq = { .dest = 0, .vector = 0x44 };

		w.addr = 0xfee00000u;
		w.data = 0x43;
		ms.fn(ms.ctx, &w);
		assert_int_equal(as.fn(as.ctx, &irq), 1);
		ims__lapic_stats(ims__apic_bus_lapic(bus, 0), &st);
		assert_int_equal(st.delivered, 2);
	}
	ims__apic_bus_destroy(bus);

	/* Without extended IDs, bits 11:5 are ignored: 0x23 is not an APIC here. */
	bus = enabled_bus(3, ids, 0);
	w.addr = 0xfee00000u | 0x23u << 12 | 0x1u << 5;
	w.data = 0x42;
	assert_int_equal(ims__apic_bus_msi_write(bus, &w), 0);
	ims__apic_bus_destroy(bus);
}

static void bus_refuses_bad_configuration(void **state)
{
	static const uint32_t dup[2] = { 4, 4 };
	static const uint32_t big[1] = { 1u << 20 };
	struct ims_hw_apic_bus *bus;
	struct ims_mem_stats before, after;

	(void)state;
	ims_mem_stats(&before);
	assert_int_equal(ims__apic_bus_create(2, dup, 0, &bus), -EINVAL);
	assert_non_null(strstr(ims_last_error(), "share APIC ID"));
	assert_int_equal(ims__apic_bus_create(1, big, 0, &bus), -EINVAL);
	assert_int_equal(ims__apic_bus_create(0, NULL, 0, &bus), -EINVAL);
	for (uint64_t n = 1; n < 8; n++) {
		ims_fault_arm_nth(n, "hw_");
		if (ims__apic_bus_create(4, NULL, 0, &bus) == 0)
			ims__apic_bus_destroy(bus);
		ims_fault_disarm();
	}
	ims_mem_stats(&after);
	assert_int_equal(after.bytes, before.bytes);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(lapic_disabled_until_svr_enable),
		cmocka_unit_test(lapic_accepts_highest_class_above_ppr),
		cmocka_unit_test(lapic_eoi_clears_highest_in_service),
		cmocka_unit_test(lapic_tpr_masks_lower_classes),
		cmocka_unit_test(lapic_coalesces_before_acceptance_only),
		cmocka_unit_test(lapic_register_layout),
		cmocka_unit_test(bus_physical_and_broadcast),
		cmocka_unit_test(bus_logical_flat_and_cluster),
		cmocka_unit_test(bus_lowest_priority_picks_lowest_ppr),
		cmocka_unit_test(bus_decodes_compatibility_writes),
		cmocka_unit_test(bus_refuses_bad_configuration),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
