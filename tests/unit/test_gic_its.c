/*
 * The GICv3 model on its own, driven through its registers and RAM as a
 * driver drives it: register reset values and access rules, every command
 * and every error it can refuse with (stall, code, offset, count, and
 * nothing changed), translation of good and bad DeviceIDs and EventIDs
 * (faults recorded, never delivered), the configuration cache that needs
 * INV or INVALL, MOVI moving pending state, INT/CLEAR/DISCARD, priority
 * and the priority mask at the CPU interface, and a queue that wraps.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/gic_harness.h"
#include "hw/arm/gic_internal.h"

static struct gic_harness h;
static void *itt;
static uint64_t itt_pa;

#define DEV 0x0200u
#define LPI0 8192u

static int setup(void **state)
{
	(void)state;
	assert_int_equal(gh_init(&h, 4, 16), 0);
	itt = gh_alloc(&h, 256 * 8, 256, &itt_pa);
	assert_non_null(itt);
	return 0;
}

static int teardown(void **state)
{
	struct ims_mem_stats m;

	(void)state;
	gh_fini(&h);
	ims_mem_stats(&m);
	assert_int_equal(m.bytes, 0);
	return 0;
}

/* Map DEV with an ITT of 256 events and collection c -> CPU c for each CPU. */
static void map_basic(void)
{
	for (uint32_t c = 0; c < h.nr_cpus; c++)
		assert_int_equal(gh_mapc(&h, c, c, true), 0);
	assert_int_equal(gh_mapd(&h, DEV, 8, itt_pa, true), 0);
}

static uint64_t its_stat_errors(void)
{
	struct ims_hw_its_stats st;

	ims__hw_gic_its_stats(h.gic, &st);
	return st.command_errors;
}

static void assert_nothing_pending(void)
{
	for (uint32_t c = 0; c < h.nr_cpus; c++) {
		assert_int_equal(ims__hw_gic_nr_pending(h.gic, c), 0);
		assert_int_equal(gh_ack(&h, c), IMS_ICC_SPURIOUS);
	}
}

static void its_registers_and_access_rules(void **state)
{
	uint64_t v, typer = gh_its_read(&h, IMS_GITS_TYPER);

	(void)state;
	assert_true(typer & IMS_GITS_TYPER_PHYSICAL);
	assert_false(typer & IMS_GITS_TYPER_PTA);
	assert_int_equal((typer >> IMS_GITS_TYPER_DEVBITS_SHIFT & 0x1f) + 1, 16);
	assert_int_equal((typer >> IMS_GITS_TYPER_IDBITS_SHIFT & 0x1f) + 1, 16);
	assert_int_equal((typer >> IMS_GITS_TYPER_ITT_ENTRY_SHIFT & 0xf) + 1, 8);
	v = gh_its_read(&h, IMS_GITS_BASER(0));
	assert_int_equal(v >> IMS_GITS_BASER_TYPE_SHIFT & 7, IMS_GITS_BASER_TYPE_DEVICE);
	v = gh_its_read(&h, IMS_GITS_BASER(1));
	assert_int_equal(v >> IMS_GITS_BASER_TYPE_SHIFT & 7, IMS_GITS_BASER_TYPE_COLLECTION);
	/* Unimplemented BASERs read as zero and ignore writes. */
	gh_its_write(&h, IMS_GITS_BASER(5), ~0ull);
	assert_int_equal(gh_its_read(&h, IMS_GITS_BASER(5)), 0);
	/* Tables and the queue do not move while the ITS is enabled. */
	v = gh_its_read(&h, IMS_GITS_CBASER);
	gh_its_write(&h, IMS_GITS_CBASER, 0);
	assert_int_equal(gh_its_read(&h, IMS_GITS_CBASER), v);
	v = gh_its_read(&h, IMS_GITS_BASER(0));
	gh_its_write(&h, IMS_GITS_BASER(0), 0);
	assert_int_equal(gh_its_read(&h, IMS_GITS_BASER(0)), v);
	/* The bus refuses bad sizes, alignment and offsets. */
	assert_int_equal(ims__hw_gic_its_access(h.gic, IMS_GITS_CTLR, 2, &v, false), -EINVAL);
	assert_int_equal(ims__hw_gic_its_access(h.gic, 0x4, 8, &v, false), -EINVAL);
	assert_int_equal(ims__hw_gic_its_access(h.gic, IMS_GITS_FRAME_SIZE, 4, &v, false), -EINVAL);
	assert_int_equal(ims__hw_gic_rdist_access(h.gic, 4, IMS_GICR_CTLR, 4, &v, false), -EINVAL);
	/* 32-bit halves of a 64-bit register. */
	assert_int_equal(ims__hw_gic_its_access(h.gic, IMS_GITS_TYPER, 4, &v, false), 0);
	assert_int_equal(v, typer & 0xffffffffu);
	/* A redistributor says which CPU it is; LPIs cannot be turned off. */
	assert_int_equal(ims__hw_gic_ops.rdist_read(h.gic, 2, IMS_GICR_TYPER, 8) >>
			 IMS_GICR_TYPER_PROCNUM_SHIFT & 0xffff, 2);
	ims__hw_gic_ops.rdist_write(h.gic, 2, IMS_GICR_CTLR, 4, 0);
	assert_int_equal(ims__hw_gic_ops.rdist_read(h.gic, 2, IMS_GICR_CTLR, 4), 1);
	assert_string_equal(ims_its_err_name(IMS_ITS_ERR_EVENTID_RANGE), "EventID out of range");
	assert_string_equal(ims_its_err_name(0x0a05), "collection out of range");
	assert_string_equal(ims_its_err_name(0x99), "unknown error");
}

static void its_map_translate_acknowledge_eoi(void **state)
{
	struct ims_hw_its_stats st;

	(void)state;
	map_basic();
	assert_int_equal(gh_mapti(&h, DEV, 5, LPI0 + 5, 2), 0);
	assert_int_equal(gh_cmd(&h, IMS_ITS_CMD_MAPI | (uint64_t)DEV << 32, LPI0 + 6 - LPI0, 3, 0),
			 IMS_ITS_CMD_MAPI << 8 | IMS_ITS_ERR_LPI_RANGE);	/* MAPI: LPI = EventID */
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_INV, DEV, 5, 0), 0);
	assert_int_equal(gh_cmd(&h, IMS_ITS_CMD_SYNC, 0, 2ull << 16, 0), 0);
	gh_fire(&h, DEV, 5);
	assert_true(ims__hw_gic_lpi_pending(h.gic, 2, LPI0 + 5));
	assert_int_equal(gh_ack(&h, 1), IMS_ICC_SPURIOUS);
	assert_int_equal(gh_ack(&h, 2), LPI0 + 5);
	assert_int_equal(ims__hw_gic_ops.icc_read(h.gic, 2, IMS_ICC_RPR), 0xa0);
	/* No active state: the same LPI may be pending again while it runs. */
	gh_fire(&h, DEV, 5);
	gh_fire(&h, DEV, 5);	/* coalesced with the one before */
	assert_true(ims__hw_gic_lpi_pending(h.gic, 2, LPI0 + 5));
	assert_int_equal(gh_ack(&h, 2), IMS_ICC_SPURIOUS);	/* same priority: no preemption */
	gh_eoi(&h, 2, LPI0 + 5);
	assert_int_equal(gh_ack(&h, 2), LPI0 + 5);
	gh_eoi(&h, 2, LPI0 + 5);
	assert_nothing_pending();
	/* The pending table in RAM follows. */
	gh_fire(&h, DEV, 5);
	assert_int_equal(((uint64_t *)h.pend[2])[(LPI0 + 5) / 64] >> ((LPI0 + 5) % 64) & 1, 1);
	assert_int_equal(gh_ack(&h, 2), LPI0 + 5);
	gh_eoi(&h, 2, LPI0 + 5);
	assert_int_equal(((uint64_t *)h.pend[2])[(LPI0 + 5) / 64], 0);
	/* EOI of something not acknowledged is counted, changes nothing. */
	gh_eoi(&h, 2, LPI0 + 9);
	ims__hw_gic_its_stats(h.gic, &st);
	assert_int_equal(st.translated, 4);
	assert_int_equal(st.faults, 0);
	{
		struct ims_hw_rdist_stats rs;

		ims__hw_gic_rdist_stats(h.gic, 2, &rs);
		assert_int_equal(rs.eoi_errors, 1);
		assert_int_equal(rs.coalesced, 1);
		assert_int_equal(rs.acknowledged, 3);
	}
}

struct bad_cmd {
	const char *what;
	uint64_t c[4];
	uint32_t code;
};

/* Every refusal: stall at the command, its code and offset, the count. */
static void its_every_command_error_is_recorded_and_changes_nothing(void **state)
{
	uint64_t bogus = 0x7000000000ull;	/* not RAM */
	const struct bad_cmd bad[] = {
		{ "MAPD DeviceID beyond the table", { IMS_ITS_CMD_MAPD | 9000ull << 32, 7, itt_pa | IMS_ITS_CMD_VALID, 0 },
		  IMS_ITS_CMD_MAPD << 8 | IMS_ITS_ERR_DEVID_RANGE },
		{ "MAPD size beyond EventID bits", { IMS_ITS_CMD_MAPD | 7ull << 32, 16, itt_pa | IMS_ITS_CMD_VALID, 0 },
		  IMS_ITS_CMD_MAPD << 8 | IMS_ITS_ERR_ITT_SIZE },
		{ "MAPC ICID beyond the table", { IMS_ITS_CMD_MAPC, 0, 600 | IMS_ITS_CMD_VALID, 0 },
		  IMS_ITS_CMD_MAPC << 8 | IMS_ITS_ERR_ICID_RANGE },
		{ "MAPC to no redistributor", { IMS_ITS_CMD_MAPC, 0, 9 | 4ull << 16 | IMS_ITS_CMD_VALID, 0 },
		  IMS_ITS_CMD_MAPC << 8 | IMS_ITS_ERR_RDBASE_RANGE },
		{ "MAPTI on an unmapped device", { IMS_ITS_CMD_MAPTI | 0x300ull << 32, 1 | (uint64_t)(LPI0 + 1) << 32, 0, 0 },
		  IMS_ITS_CMD_MAPTI << 8 | IMS_ITS_ERR_DEV_UNMAPPED },
		{ "MAPTI EventID beyond the ITT", { IMS_ITS_CMD_MAPTI | (uint64_t)DEV << 32, 256 | (uint64_t)(LPI0 + 1) << 32, 0, 0 },
		  IMS_ITS_CMD_MAPTI << 8 | IMS_ITS_ERR_EVENTID_RANGE },
		{ "MAPTI LPI below 8192", { IMS_ITS_CMD_MAPTI | (uint64_t)DEV << 32, 1 | 8191ull << 32, 0, 0 },
		  IMS_ITS_CMD_MAPTI << 8 | IMS_ITS_ERR_LPI_RANGE },
		{ "MAPTI LPI beyond the INTID bits", { IMS_ITS_CMD_MAPTI | (uint64_t)DEV << 32, 1 | 65536ull << 32, 0, 0 },
		  IMS_ITS_CMD_MAPTI << 8 | IMS_ITS_ERR_LPI_RANGE },
		{ "MAPTI ICID beyond the table", { IMS_ITS_CMD_MAPTI | (uint64_t)DEV << 32, 1 | (uint64_t)(LPI0 + 1) << 32, 512, 0 },
		  IMS_ITS_CMD_MAPTI << 8 | IMS_ITS_ERR_ICID_RANGE },
		{ "MAPTI on a mapped EventID", { IMS_ITS_CMD_MAPTI | (uint64_t)DEV << 32, 0 | (uint64_t)(LPI0 + 1) << 32, 0, 0 },
		  IMS_ITS_CMD_MAPTI << 8 | IMS_ITS_ERR_EVENT_MAPPED },
		{ "MOVI of an unmapped event", { IMS_ITS_CMD_MOVI | (uint64_t)DEV << 32, 3, 1, 0 },
		  IMS_ITS_CMD_MOVI << 8 | IMS_ITS_ERR_EVENT_UNMAPPED },
		{ "MOVI to an unmapped collection", { IMS_ITS_CMD_MOVI | (uint64_t)DEV << 32, 0, 7, 0 },
		  IMS_ITS_CMD_MOVI << 8 | IMS_ITS_ERR_COLL_UNMAPPED },
		{ "DISCARD of an unmapped event", { IMS_ITS_CMD_DISCARD | (uint64_t)DEV << 32, 4, 0, 0 },
		  IMS_ITS_CMD_DISCARD << 8 | IMS_ITS_ERR_EVENT_UNMAPPED },
		{ "INV of an unmapped device", { IMS_ITS_CMD_INV | 0x301ull << 32, 0, 0, 0 },
		  IMS_ITS_CMD_INV << 8 | IMS_ITS_ERR_DEV_UNMAPPED },
		{ "INT with an EventID beyond the ITT", { IMS_ITS_CMD_INT | (uint64_t)DEV << 32, 1000, 0, 0 },
		  IMS_ITS_CMD_INT << 8 | IMS_ITS_ERR_EVENTID_RANGE },
		{ "CLEAR of an unmapped event", { IMS_ITS_CMD_CLEAR | (uint64_t)DEV << 32, 9, 0, 0 },
		  IMS_ITS_CMD_CLEAR << 8 | IMS_ITS_ERR_EVENT_UNMAPPED },
		{ "INV of an event whose collection is unmapped", { IMS_ITS_CMD_INV | (uint64_t)DEV << 32, 1, 0, 0 },
		  IMS_ITS_CMD_INV << 8 | IMS_ITS_ERR_COLL_UNMAPPED },
		{ "INVALL of an unmapped collection", { IMS_ITS_CMD_INVALL, 0, 8, 0 },
		  IMS_ITS_CMD_INVALL << 8 | IMS_ITS_ERR_COLL_UNMAPPED },
		{ "SYNC to no redistributor", { IMS_ITS_CMD_SYNC, 0, 4ull << 16, 0 },
		  IMS_ITS_CMD_SYNC << 8 | IMS_ITS_ERR_RDBASE_RANGE },
		{ "unknown command 0x02", { 0x02, 0, 0, 0 }, 0x02 << 8 | IMS_ITS_ERR_UNKNOWN_CMD },
		{ "unknown command 0xff", { 0xff, 0, 0, 0 }, 0xff << 8 | IMS_ITS_ERR_UNKNOWN_CMD },
		{ "MAPTI through an ITT outside RAM", { IMS_ITS_CMD_MAPTI | 0x10ull << 32, 0 | (uint64_t)(LPI0 + 2) << 32, 0, 0 },
		  IMS_ITS_CMD_MAPTI << 8 | IMS_ITS_ERR_MEMORY },
	};
	uint64_t errors = 0;

	(void)state;
	map_basic();
	assert_int_equal(gh_mapti(&h, DEV, 0, LPI0, 0), 0);
	assert_int_equal(gh_mapti(&h, DEV, 1, LPI0 + 1, 9), 0);	/* collection 9 never mapped */
	assert_int_equal(gh_mapd(&h, 0x10, 4, bogus, true), 0);	/* MAPD does not read the ITT */
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint32_t at = h.cwriter;
		uint64_t *slot = h.queue + at / 8, rd;

		memcpy(slot, bad[i].c, sizeof(bad[i].c));
		h.cwriter = (at + 32) % GH_QUEUE_SIZE;
		gh_its_write(&h, IMS_GITS_CWRITER, h.cwriter);
		rd = gh_its_read(&h, IMS_GITS_CREADR);
		if (!(rd & IMS_GITS_CREADR_STALLED))
			fail_msg("%s: not refused", bad[i].what);
		assert_int_equal(rd & IMS_GITS_CQ_OFFSET_MASK, at);
		if ((uint32_t)gh_its_read(&h, IMS_GITS_ERR_CODE) != bad[i].code)
			fail_msg("%s: code 0x%x, expected 0x%x", bad[i].what,
				 (uint32_t)gh_its_read(&h, IMS_GITS_ERR_CODE), bad[i].code);
		assert_int_equal(gh_its_read(&h, IMS_GITS_ERR_CODE) >> 32, at);
		assert_int_equal(gh_its_read(&h, IMS_GITS_ERR_COUNT), ++errors);
		/* Stalled: a new CWRITER alone does not move it. */
		gh_its_write(&h, IMS_GITS_CWRITER, h.cwriter);
		assert_true(gh_its_read(&h, IMS_GITS_CREADR) & IMS_GITS_CREADR_STALLED);
		/* Mend (a SYNC) and retry. */
		slot[0] = IMS_ITS_CMD_SYNC;
		slot[2] = 0;
		gh_its_write(&h, IMS_GITS_CWRITER, h.cwriter | IMS_GITS_CWRITER_RETRY);
		assert_int_equal(gh_its_read(&h, IMS_GITS_CREADR), h.cwriter);
	}
	assert_int_equal(its_stat_errors(), errors);
	/* Nothing a refused command named changed: event 0 still LPI0 on CPU 0. */
	gh_fire(&h, DEV, 0);
	assert_int_equal(gh_ack(&h, 0), LPI0);
	gh_eoi(&h, 0, LPI0);
	gh_fire(&h, DEV, 3);	/* MOVI and DISCARD of 3 were refused: still unmapped */
	assert_nothing_pending();
}

static uint64_t fault_count(uint32_t code)
{
	struct ims_hw_its_stats st;

	ims__hw_gic_its_stats(h.gic, &st);
	return st.fault_by_err[code];
}

static void its_bad_messages_are_faults_never_delivered(void **state)
{
	struct ims_hw_msi_write w = { .addr = GH_ITS_BASE + 0x10000, .data = 0, .rid = DEV };
	struct ims_hw_its_stats st;

	(void)state;
	map_basic();
	assert_int_equal(gh_mapti(&h, DEV, 0, LPI0, 1), 0);
	assert_int_equal(gh_mapti(&h, DEV, 1, LPI0 + 1, 9), 0);
	gh_fire(&h, 0x300, 0);			/* DeviceID not mapped */
	assert_int_equal(fault_count(IMS_ITS_ERR_DEV_UNMAPPED), 1);
	assert_int_equal(gh_its_read(&h, IMS_GITS_FAULT_CODE), IMS_ITS_ERR_DEV_UNMAPPED | 0x300ull << 32);
	gh_fire(&h, 0xffff, 0);			/* DeviceID beyond the device table */
	assert_int_equal(fault_count(IMS_ITS_ERR_DEVID_RANGE), 1);
	gh_fire(&h, DEV, 256);			/* EventID beyond the ITT */
	gh_fire(&h, DEV, 0xffffffffu);
	assert_int_equal(fault_count(IMS_ITS_ERR_EVENTID_RANGE), 2);
	assert_int_equal(gh_its_read(&h, IMS_GITS_FAULT_EVENTID), 0xffffffffu);
	gh_fire(&h, DEV, 2);			/* EventID not mapped */
	assert_int_equal(fault_count(IMS_ITS_ERR_EVENT_UNMAPPED), 1);
	gh_fire(&h, DEV, 1);			/* collection not mapped */
	assert_int_equal(fault_count(IMS_ITS_ERR_COLL_UNMAPPED), 1);
	h.sink.fn(h.sink.ctx, &w);		/* not the TRANSLATER */
	assert_int_equal(fault_count(IMS_ITS_ERR_BAD_ADDRESS), 1);
	assert_nothing_pending();
	/* Another device cannot reach DEV's LPI: its own table is empty. */
	assert_int_equal(gh_mapd(&h, 0x201, 8, itt_pa + 0x1000, false), 0);
	gh_fire(&h, 0x201, 0);
	assert_int_equal(fault_count(IMS_ITS_ERR_DEV_UNMAPPED), 2);
	/* Disabled ITS: dropped as a fault. */
	gh_its_write(&h, IMS_GITS_CTLR, 0);
	assert_true(gh_its_read(&h, IMS_GITS_CTLR) & IMS_GITS_CTLR_QUIESCENT);
	gh_fire(&h, DEV, 0);
	assert_int_equal(fault_count(IMS_ITS_ERR_DISABLED), 1);
	assert_nothing_pending();
	gh_its_write(&h, IMS_GITS_CTLR, IMS_GITS_CTLR_ENABLED);
	gh_fire(&h, DEV, 0);
	assert_int_equal(gh_ack(&h, 1), LPI0);
	gh_eoi(&h, 1, LPI0);
	ims__hw_gic_its_stats(h.gic, &st);
	assert_int_equal(st.faults, 9);
	assert_int_equal(gh_its_read(&h, IMS_GITS_FAULT_COUNT), 9);
	assert_int_equal(st.translated, 1);
}

/* The configuration cache: RAM changes are seen only after INV or INVALL. */
static void rdist_config_cache_needs_inv_or_invall(void **state)
{
	(void)state;
	map_basic();
	assert_int_equal(gh_mapti(&h, DEV, 0, LPI0 + 40, 3), 0);
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_INV, DEV, 0, 0), 0);
	/* Disabled in RAM, no INV: the stale cache still delivers. */
	gh_set_cfg(&h, LPI0 + 40, 0xa0 | IMS_LPI_CFG_RES1);
	gh_fire(&h, DEV, 0);
	assert_int_equal(gh_ack(&h, 3), LPI0 + 40);
	gh_eoi(&h, 3, LPI0 + 40);
	/* INV: now disabled: held pending, not signalled. */
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_INV, DEV, 0, 0), 0);
	assert_false(ims__hw_gic_lpi_cached_cfg(h.gic, LPI0 + 40) & IMS_LPI_CFG_ENABLE);
	gh_fire(&h, DEV, 0);
	assert_true(ims__hw_gic_lpi_pending(h.gic, 3, LPI0 + 40));
	assert_int_equal(gh_ack(&h, 3), IMS_ICC_SPURIOUS);
	/* Enabled in RAM, still no INV: still held. */
	gh_set_cfg(&h, LPI0 + 40, 0xa0 | IMS_LPI_CFG_RES1 | IMS_LPI_CFG_ENABLE);
	assert_int_equal(gh_ack(&h, 3), IMS_ICC_SPURIOUS);
	/* INVALL of its collection: delivered, once. */
	assert_int_equal(gh_cmd(&h, IMS_ITS_CMD_INVALL, 0, 3, 0), 0);
	assert_int_equal(gh_ack(&h, 3), LPI0 + 40);
	gh_eoi(&h, 3, LPI0 + 40);
	assert_nothing_pending();
	{
		struct ims_hw_rdist_stats rs;

		ims__hw_gic_rdist_stats(h.gic, 3, &rs);
		assert_int_equal(rs.held_disabled, 1);
	}
}

static void its_movi_moves_pending_and_later_messages(void **state)
{
	(void)state;
	map_basic();
	assert_int_equal(gh_mapti(&h, DEV, 7, LPI0 + 7, 0), 0);
	gh_fire(&h, DEV, 7);
	assert_true(ims__hw_gic_lpi_pending(h.gic, 0, LPI0 + 7));
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_MOVI, DEV, 7, 3), 0);
	assert_false(ims__hw_gic_lpi_pending(h.gic, 0, LPI0 + 7));
	assert_true(ims__hw_gic_lpi_pending(h.gic, 3, LPI0 + 7));
	assert_int_equal(gh_ack(&h, 0), IMS_ICC_SPURIOUS);
	assert_int_equal(gh_ack(&h, 3), LPI0 + 7);
	gh_eoi(&h, 3, LPI0 + 7);
	gh_fire(&h, DEV, 7);
	assert_int_equal(gh_ack(&h, 3), LPI0 + 7);
	gh_eoi(&h, 3, LPI0 + 7);
	/* A collection retargeted with MAPC moves every event in it. */
	assert_int_equal(gh_mapc(&h, 3, 1, true), 0);
	gh_fire(&h, DEV, 7);
	assert_int_equal(gh_ack(&h, 1), LPI0 + 7);
	gh_eoi(&h, 1, LPI0 + 7);
	assert_nothing_pending();
}

static void its_int_clear_discard(void **state)
{
	(void)state;
	map_basic();
	assert_int_equal(gh_mapti(&h, DEV, 9, LPI0 + 9, 2), 0);
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_INT, DEV, 9, 0), 0);
	assert_true(ims__hw_gic_lpi_pending(h.gic, 2, LPI0 + 9));
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_CLEAR, DEV, 9, 0), 0);
	assert_false(ims__hw_gic_lpi_pending(h.gic, 2, LPI0 + 9));
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_INT, DEV, 9, 0), 0);
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_DISCARD, DEV, 9, 0), 0);
	assert_false(ims__hw_gic_lpi_pending(h.gic, 2, LPI0 + 9));
	gh_fire(&h, DEV, 9);
	assert_int_equal(fault_count(IMS_ITS_ERR_EVENT_UNMAPPED), 1);
	/* The EventID can be mapped again, to another LPI. */
	assert_int_equal(gh_mapti(&h, DEV, 9, LPI0 + 90, 2), 0);
	/* Unmapping the device makes all its events fault. */
	assert_int_equal(gh_mapd(&h, DEV, 8, 0, false), 0);
	gh_fire(&h, DEV, 9);
	assert_int_equal(fault_count(IMS_ITS_ERR_DEV_UNMAPPED), 1);
	assert_nothing_pending();
}

static void cpu_interface_priority_mask_and_preemption(void **state)
{
	(void)state;
	map_basic();
	assert_int_equal(gh_mapti(&h, DEV, 0, LPI0 + 100, 0), 0);
	assert_int_equal(gh_mapti(&h, DEV, 1, LPI0 + 101, 0), 0);
	assert_int_equal(gh_mapti(&h, DEV, 2, LPI0 + 102, 0), 0);
	gh_set_cfg(&h, LPI0 + 100, 0xc0 | 3);
	gh_set_cfg(&h, LPI0 + 101, 0x40 | 3);
	gh_set_cfg(&h, LPI0 + 102, 0x20 | 3);
	assert_int_equal(gh_cmd(&h, IMS_ITS_CMD_INVALL, 0, 0, 0), 0);
	gh_fire(&h, DEV, 0);
	gh_fire(&h, DEV, 1);
	/* Priority mask 0x40: only priorities below it. */
	ims__hw_gic_ops.icc_write(h.gic, 0, IMS_ICC_PMR, 0x40);
	assert_int_equal(gh_ack(&h, 0), IMS_ICC_SPURIOUS);
	ims__hw_gic_ops.icc_write(h.gic, 0, IMS_ICC_PMR, 0xff);
	assert_int_equal(gh_ack(&h, 0), LPI0 + 101);		/* 0x40 before 0xc0 */
	assert_int_equal(gh_ack(&h, 0), IMS_ICC_SPURIOUS);	/* 0xc0 cannot preempt 0x40 */
	gh_fire(&h, DEV, 2);
	assert_int_equal(gh_ack(&h, 0), LPI0 + 102);		/* 0x20 preempts */
	assert_int_equal(ims__hw_gic_ops.icc_read(h.gic, 0, IMS_ICC_RPR), 0x20);
	gh_eoi(&h, 0, LPI0 + 101);				/* out of order: refused */
	gh_eoi(&h, 0, LPI0 + 102);
	gh_eoi(&h, 0, LPI0 + 101);
	assert_int_equal(gh_ack(&h, 0), LPI0 + 100);
	gh_eoi(&h, 0, LPI0 + 100);
	/* Group 1 off: nothing is signalled. */
	gh_fire(&h, DEV, 0);
	ims__hw_gic_ops.icc_write(h.gic, 0, IMS_ICC_IGRPEN1, 0);
	assert_int_equal(gh_ack(&h, 0), IMS_ICC_SPURIOUS);
	ims__hw_gic_ops.icc_write(h.gic, 0, IMS_ICC_IGRPEN1, 1);
	assert_int_equal(gh_ack(&h, 0), LPI0 + 100);
	gh_eoi(&h, 0, LPI0 + 100);
	assert_nothing_pending();
}

static void its_queue_wraps(void **state)
{
	uint32_t n = GH_QUEUE_SIZE / IMS_ITS_CMD_SIZE * 2 + 5;
	struct ims_hw_its_stats st;

	(void)state;
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(gh_cmd(&h, IMS_ITS_CMD_SYNC, 0, (uint64_t)(i % 4) << 16, 0), 0);
	ims__hw_gic_its_stats(h.gic, &st);
	assert_int_equal(st.commands, n);
	assert_int_equal(gh_its_read(&h, IMS_GITS_CREADR), h.cwriter);
	/* A CWRITER beyond the queue is ignored. */
	gh_its_write(&h, IMS_GITS_CWRITER, GH_QUEUE_SIZE);
	assert_int_equal(gh_its_read(&h, IMS_GITS_CWRITER), h.cwriter);
}

static void gic_ram_is_bounds_checked(void **state)
{
	uint64_t pa, bytes;
	uint32_t regions = ims__hw_gic_mem_regions(h.gic, &bytes);
	void *p = gh_alloc(&h, 100, 64, &pa);

	(void)state;
	assert_non_null(p);
	assert_int_equal(pa % 64, 0);
	assert_int_equal(ims__hw_gic_mem_regions(h.gic, NULL), regions + 1);
	assert_null(gh_alloc(&h, 0, 64, &pa));
	assert_null(gh_alloc(&h, 64, 3, &pa));
	ims__hw_gic_ops.mem_free(h.gic, p, 100);
	assert_int_equal(ims__hw_gic_mem_regions(h.gic, &pa), regions);
	assert_int_equal(pa, bytes);
	/* A command queue moved to an address outside RAM: the ITS stalls with
	 * a memory error instead of reading it. */
	gh_its_write(&h, IMS_GITS_CTLR, 0);
	gh_its_write(&h, IMS_GITS_CBASER, IMS_GITS_CBASER_VALID | 0x7000000000ull);
	gh_its_write(&h, IMS_GITS_CTLR, IMS_GITS_CTLR_ENABLED);
	gh_its_write(&h, IMS_GITS_CWRITER, 32);
	assert_true(gh_its_read(&h, IMS_GITS_CREADR) & IMS_GITS_CREADR_STALLED);
	assert_int_equal(gh_its_read(&h, IMS_GITS_ERR_CODE) & 0xff, IMS_ITS_ERR_MEMORY);
}

static unsigned int woken[4];

static void wake(void *ctx, uint32_t cpu)
{
	(void)ctx;
	woken[cpu]++;
}

/* The machine's wake-up: an enabled LPI pending on a CPU, and only then. */
static void rdist_notify_wakes_the_target_cpu(void **state)
{
	(void)state;
	memset(woken, 0, sizeof(woken));
	map_basic();
	h.gic->p.notify = wake;		/* the harness's GIC was made without one */
	assert_int_equal(gh_mapti(&h, DEV, 0, LPI0 + 1, 2), 0);
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_INV, DEV, 0, 0), 0);
	gh_fire(&h, DEV, 0);
	assert_int_equal(woken[2], 1);
	gh_fire(&h, DEV, 0);			/* already pending: no second wake */
	assert_int_equal(woken[2], 1);
	assert_int_equal(gh_ack(&h, 2), LPI0 + 1);
	gh_eoi(&h, 2, LPI0 + 1);
	gh_set_cfg(&h, LPI0 + 1, 0xa0 | IMS_LPI_CFG_RES1);
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_INV, DEV, 0, 0), 0);
	gh_fire(&h, DEV, 0);			/* disabled: held, nobody woken */
	assert_int_equal(woken[2], 1);
	gh_set_cfg(&h, LPI0 + 1, 0xa0 | IMS_LPI_CFG_RES1 | IMS_LPI_CFG_ENABLE);
	assert_int_equal(gh_ev(&h, IMS_ITS_CMD_INV, DEV, 0, 0), 0);	/* enabled: wake */
	assert_int_equal(woken[2], 2);
	assert_int_equal(woken[0] + woken[1] + woken[3], 0);
	h.gic->p.notify = NULL;
	assert_int_equal(gh_ack(&h, 2), LPI0 + 1);
	gh_eoi(&h, 2, LPI0 + 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(its_registers_and_access_rules, setup, teardown),
		cmocka_unit_test_setup_teardown(its_map_translate_acknowledge_eoi, setup, teardown),
		cmocka_unit_test_setup_teardown(its_every_command_error_is_recorded_and_changes_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(its_bad_messages_are_faults_never_delivered, setup, teardown),
		cmocka_unit_test_setup_teardown(rdist_config_cache_needs_inv_or_invall, setup, teardown),
		cmocka_unit_test_setup_teardown(its_movi_moves_pending_and_later_messages, setup, teardown),
		cmocka_unit_test_setup_teardown(its_int_clear_discard, setup, teardown),
		cmocka_unit_test_setup_teardown(cpu_interface_priority_mask_and_preemption, setup, teardown),
		cmocka_unit_test_setup_teardown(its_queue_wraps, setup, teardown),
		cmocka_unit_test_setup_teardown(gic_ram_is_bounds_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(rdist_notify_wakes_the_target_cpu, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
