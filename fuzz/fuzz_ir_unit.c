/*
 * The remapping unit against a reference model. The input fills a 16-entry
 * table with arbitrary entries (posted ones pointed, by their available
 * bits, at one of two real descriptors or left with whatever address they
 * hold), sets the unit's mode (CFI, EIME, posting support), the descriptors'
 * ON and SN bits, then sends arbitrary writes. For each write a small model,
 * written apart from the unit from HARDWARE.md, predicts the outcome: not an
 * interrupt, compatibility pass, fault and its reason and whether it is
 * logged, remapped interrupt and its fields, or post with or without a
 * notification. The unit runs without its entry cache, so the model needs
 * none. Any difference, and any crash, aborts.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ims/remap.h>

#include "hw/dma.h"
#include "hw/iommu/remap_unit.h"
#include "util/atomic128.h"
#include "util/rcu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct in {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct in *in, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes; i++) {
		v |= (uint64_t)(in->n ? *in->p : 0) << (8 * i);
		if (in->n) {
			in->p++;
			in->n--;
		}
	}
	return v;
}

struct sent {
	unsigned int count;
	struct ims_hw_apic_irq last;
};

static int sink(void *ctx, const struct ims_hw_apic_irq *irq)
{
	struct sent *s = ctx;

	s->count++;
	s->last = *irq;
	return 1;
}

struct model {
	bool cfi, eime, pi;
	uint64_t lo[16], hi[16];
	uint64_t pid_addr[2];
};

struct expect {
	int ret;
	enum ims_ir_outcome_kind kind;
	uint8_t reason;
	bool recorded;
	uint32_t index;
	struct ims_hw_apic_irq irq;	/* remapped */
	int pid;			/* posted: which descriptor */
};

static bool sid_ok(uint64_t hi, uint16_t rid)
{
	uint16_t sid = (uint16_t)hi;
	unsigned int sq = (hi >> 16) & 3, svt = (hi >> 18) & 3;
	static const uint16_t ignore[4] = { 0, 4, 6, 7 };

	if (svt == 0)
		return true;
	if (svt == 1)
		return (rid | ignore[sq]) == (sid | ignore[sq]);
	return (rid >> 8) >= (sid >> 8) && (rid >> 8) <= (sid & 0xff);
}

static void predict(const struct model *m, uint64_t addr, uint32_t data, uint16_t rid, struct expect *e)
{
	uint32_t a = (uint32_t)addr, idx;
	uint64_t lo, hi;
	bool fpd;

	memset(e, 0, sizeof(*e));
	e->pid = -1;
	if ((addr >> 20) != 0xfee) {
		e->ret = -EINVAL;
		return;
	}
	e->ret = -EIO;
	e->kind = IMS_IR_OUT_FAULT;
	e->recorded = true;
	if (!(a & 0x10)) {
		if (!m->cfi) {
			e->reason = 0x25;
			return;
		}
		e->ret = 0;
		e->kind = IMS_IR_OUT_COMPAT;
		return;
	}
	idx = ((a >> 5) & 0x7fff) | ((a >> 2) & 1) << 15;
	if (a & 8) {
		if (data >> 16) {
			e->reason = 0x20;
			e->index = idx;
			return;
		}
		idx += data & 0xffff;
	}
	e->index = idx;
	if (idx >= 16) {
		e->reason = 0x21;
		return;
	}
	lo = m->lo[idx];
	hi = m->hi[idx];
	fpd = (lo >> 1) & 1;
	e->recorded = !fpd;
	if (!(lo & 1)) {
		e->reason = 0x22;
		return;
	}
	e->reason = 0x24;
	if (((hi >> 18) & 3) == 3)
		return;
	if (lo & 0x8000) {
		if (!m->pi || (lo & 0x3fff0030fcull) || (hi & 0xfff00000ull))
			return;
	} else {
		unsigned int dlm = (lo >> 5) & 7;

		if ((lo & 0xff007000ull) || (hi >> 20) || dlm == 3 || dlm == 6)
			return;
		if (!m->eime && (lo & 0xffff00ff00000000ull))
			return;
	}
	if (!sid_ok(hi, rid)) {
		e->reason = 0x26;
		return;
	}
	if (lo & 0x8000) {
		uint64_t pda = ((lo >> 38) << 6) | (hi >> 32) << 32;

		for (int i = 0; i < 2; i++)
			if (pda == m->pid_addr[i])
				e->pid = i;
		if (e->pid < 0) {
			e->reason = 0x27;
			return;
		}
		e->ret = 0;
		e->kind = IMS_IR_OUT_POSTED;
		return;
	}
	e->ret = 0;
	e->kind = IMS_IR_OUT_REMAPPED;
	e->irq.vector = (uint8_t)(lo >> 16);
	e->irq.delivery_mode = (lo >> 5) & 7;
	e->irq.dest_logical = (lo >> 2) & 1;
	e->irq.redirection_hint = (lo >> 3) & 1;
	e->irq.level_trigger = (lo >> 4) & 1;
	e->irq.level_assert = e->irq.level_trigger;
	e->irq.dest = m->eime ? (uint32_t)(lo >> 32) : (uint32_t)(lo >> 40) & 0xff;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct in in = { data, size };
	struct sent sent = { 0 };
	struct ims_hw_dma *dma;
	struct ims_hw_ir_unit *u;
	struct ims_hw_ir_unit_config cfg = { .apic = { sink, &sent }, .rid_last = 0xffff,
					     .flags = IMS_HW_IR_NO_CACHE, .fault_log = 4 };
	struct model m = { 0 };
	uint64_t *table = ims__dma_alloc_aligned(16 * 16, 4096, "fuzz");
	uint64_t *pids = ims__dma_alloc_aligned(128, 64, "fuzz");
	uint8_t mode = (uint8_t)take(&in, 1);
	unsigned int logged = 0, nfaults = 0;

	m.cfi = mode & 1;
	m.eime = mode & 2;
	m.pi = !(mode & 4);
	if (!m.pi)
		cfg.flags |= IMS_HW_IR_NO_POSTED;
	m.pid_addr[0] = ims__dma_addr(pids);
	m.pid_addr[1] = ims__dma_addr(pids + 8);
	if (ims__dma_create(&dma) || ims__dma_register(dma, table, 256) || ims__dma_register(dma, pids, 128))
		abort();
	cfg.dma = dma;
	if (ims__ir_unit_create(&cfg, &u))
		abort();
	for (unsigned int i = 0; i < 16; i++) {
		uint64_t lo = take(&in, 8), hi = take(&in, 8);

		/* Posted entries mostly name a real descriptor. */
		if ((lo & 0x8000) && ((lo >> 8) & 3) < 2) {
			uint64_t pda = m.pid_addr[(lo >> 8) & 1];

			lo = (lo & ((1ull << 38) - 1)) | (pda >> 6) << 38;
			hi = (hi & 0xffffffffull) | (pda >> 32) << 32;
		}
		m.lo[i] = lo;
		m.hi[i] = hi;
		ims__atomic128_store(&table[i * 2], (struct ims_u128){ lo, hi });
	}
	for (int i = 0; i < 2; i++) {
		ims_pid_init(pids + 8 * i, (uint8_t)(0xe0 + i), 5u + (uint32_t)i, m.eime);
		ims_pid_set_sn(pids + 8 * i, take(&in, 1) & 1);
	}
	ims__ir_unit_write(u, IMS_IR_REG_IRTA, ims__dma_addr(table) | (m.eime ? IMS_IR_IRTA_EIME : 0) | 3);
	ims__ir_unit_write(u, IMS_IR_REG_GCMD, IMS_IR_GCMD_SIRTP);
	ims__ir_unit_write(u, IMS_IR_REG_GCMD, IMS_IR_GCMD_IRE | (m.cfi ? IMS_IR_GCMD_CFI : 0));

	while (in.n) {
		uint8_t how = (uint8_t)take(&in, 1);
		uint32_t raw = (uint32_t)take(&in, 4);
		struct ims_hw_msi_write w = { .data = (uint32_t)take(&in, 4), .rid = (uint16_t)take(&in, 2) };
		struct ims_ir_outcome out;
		struct expect e;
		unsigned int before = sent.count;
		bool on_before = false;
		int ret;

		/* Mostly interrupt addresses with small handles. */
		w.addr = how & 1 ? raw : 0xfee00000u | (raw & 0x1e) | ((raw >> 8) & 0x1f) << 5 |
						 (how & 2 ? (raw & 0xfffe0u) : 0);
		if (how & 4)
			w.data &= 0x1f;
		predict(&m, w.addr, w.data, w.rid, &e);
		if (e.pid >= 0)
			on_before = ims_pid_on(pids + 8 * e.pid);
		ret = ims__ir_unit_handle(u, &w, &out);
		if (ret != e.ret)
			abort();
		if (ret == -EINVAL)
			continue;
		if (out.kind != e.kind)
			abort();
		switch (e.kind) {
		case IMS_IR_OUT_FAULT:
			nfaults++;
			if (out.reason != e.reason || out.index != e.index || sent.count != before)
				abort();
			if (e.recorded && logged < 4) {
				if (!out.recorded)
					abort();
				logged++;
			} else if (out.recorded) {
				abort();
			}
			break;
		case IMS_IR_OUT_COMPAT:
			if (sent.count != before + 1 || sent.last.vector != (uint8_t)w.data)
				abort();
			break;
		case IMS_IR_OUT_REMAPPED:
			if (sent.count != before + 1 || out.index != e.index || sent.last.dest != e.irq.dest ||
			    sent.last.vector != e.irq.vector || sent.last.delivery_mode != e.irq.delivery_mode ||
			    sent.last.dest_logical != e.irq.dest_logical ||
			    sent.last.redirection_hint != e.irq.redirection_hint ||
			    sent.last.level_trigger != e.irq.level_trigger ||
			    sent.last.level_assert != e.irq.level_assert)
				abort();
			break;
		case IMS_IR_OUT_POSTED: {
			uint64_t *pid = pids + 8 * e.pid;
			bool notify = !on_before && (!ims_pid_sn(pid) || ((m.lo[e.index] >> 14) & 1));

			if (!ims_pid_pir_test(pid, (uint8_t)(m.lo[e.index] >> 16)) || out.notified != notify ||
			    sent.count != before + (notify ? 1u : 0u) || !ims_pid_on(pid) != !(on_before || notify))
				abort();
			if (notify && (sent.last.vector != 0xe0 + e.pid || sent.last.dest != 5u + (uint32_t)e.pid))
				abort();
			if (how & 8) {
				uint64_t pir[4];

				ims_pid_take(pid, pir);
			}
			break;
		}
		}
	}
	{
		struct ims_ir_unit_stats st;
		uint64_t total = 0;

		ims__ir_unit_stats(u, &st);
		for (int i = 0; i < IMS_IR_FAULT_NR; i++)
			total += st.faults[i];
		if (total != nfaults)
			abort();
	}
	ims__ir_unit_destroy(u);
	if (ims__dma_unregister(dma, table) || ims__dma_unregister(dma, pids) || ims__dma_destroy(dma))
		abort();
	ims__dma_free_aligned(table, 256, 4096);
	ims__dma_free_aligned(pids, 128, 64);
	return 0;
}
