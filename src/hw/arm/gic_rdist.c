/*
 * Redistributors and CPU interfaces. A redistributor holds its CPU's
 * pending LPIs (a bitmap written through to the pending table in RAM, with
 * a summary of non-empty words so that acknowledging looks only at what is
 * pending); the CPU interface acknowledges the highest-priority pending
 * LPI that is enabled in the configuration cache and above the priority
 * mask and the running priority, and a priority drop (EOIR) ends it. LPIs
 * have no active state: acknowledging clears the pending bit, so an LPI
 * that arrives again while its handler runs is pending again.
 */
#include <errno.h>

#include "hw/arm/gic_internal.h"
#include "util/alloc.h"
#include "util/bitmap.h"
#include "util/log.h"

#define IDLE_PRIO 0x100u

static uint32_t pend_words(const struct ims_hw_gic *gic)
{
	return gic->nr_intids / 64;
}

int ims__gic_rd_init(struct ims_hw_gic *gic)
{
	uint32_t n = gic->p.nr_cpus, w = pend_words(gic);

	gic->rd = ims__calloc(n, sizeof(*gic->rd), "gic_rdist");
	if (!gic->rd)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct gic_rdist *rd = &gic->rd[i];

		ims__spin_init(&rd->lock);
		rd->pending = ims__calloc(w, sizeof(uint64_t), "gic_rdist_pending");
		rd->summary = ims__calloc(IMS_BITMAP_WORDS(w), sizeof(uint64_t), "gic_rdist_summary");
		if (!rd->pending || !rd->summary) {
			ims__gic_rd_fini(gic);
			return -ENOMEM;
		}
	}
	return 0;
}

void ims__gic_rd_fini(struct ims_hw_gic *gic)
{
	uint32_t w = pend_words(gic);

	if (!gic->rd)
		return;
	for (uint32_t i = 0; i < gic->p.nr_cpus; i++) {
		ims__free(gic->rd[i].pending, w * sizeof(uint64_t));
		ims__free(gic->rd[i].summary, IMS_BITMAP_WORDS(w) * sizeof(uint64_t));
	}
	ims__free(gic->rd, gic->p.nr_cpus * sizeof(*gic->rd));
	gic->rd = NULL;
}

static uint8_t cfg_of(struct ims_hw_gic *gic, uint32_t intid)
{
	return __atomic_load_n(&gic->cfg[intid - IMS_LPI_BASE], __ATOMIC_RELAXED);
}

/* The INTIDs this redistributor's configuration table covers. */
static uint32_t prop_limit_locked(struct ims_hw_gic *gic, struct gic_rdist *rd)
{
	uint32_t bits = (uint32_t)(rd->propbaser & IMS_GICR_PROPBASER_IDBITS_MASK) + 1;

	ims__assert_spin_held(&rd->lock);
	if (bits < 14)
		return 0;	/* too few ID bits for any LPI: none */
	return bits >= gic->p.lpi_bits ? gic->nr_intids : 1u << bits;
}

/* Load the cache entry of intid from rd's configuration table. */
static void load_cfg_locked(struct ims_hw_gic *gic, struct gic_rdist *rd, uint32_t intid)
{
	uint8_t v = 0;

	ims__assert_spin_held(&rd->lock);
	if (intid < prop_limit_locked(gic, rd) &&
	    ims__gic_mem_read8(&gic->mem, (rd->propbaser & IMS_GICR_PROPBASER_ADDR_MASK) +
				 intid - IMS_LPI_BASE, &v))
		rd->st.mem_faults++;
	__atomic_store_n(&gic->cfg[intid - IMS_LPI_BASE], v, __ATOMIC_RELAXED);
}

/* Write the pending word of intid through to the pending table. */
static void write_through_locked(struct ims_hw_gic *gic, struct gic_rdist *rd, uint32_t intid)
{
	uint64_t pa = (rd->pendbaser & IMS_GICR_PENDBASER_ADDR_MASK) + (intid / 64) * 8u;

	ims__assert_spin_held(&rd->lock);
	if (ims__gic_mem_write64(&gic->mem, pa, rd->pending[intid / 64]))
		rd->st.mem_faults++;
}

static void notify(struct ims_hw_gic *gic, uint32_t cpu)
{
	if (gic->p.notify)
		gic->p.notify(gic->p.notify_ctx, cpu);
}

void ims__gic_rd_set_pending(struct ims_hw_gic *gic, uint32_t cpu, uint32_t intid)
{
	struct gic_rdist *rd = &gic->rd[cpu];

	ims__spin_lock(&rd->lock);
	if (!(rd->ctlr & IMS_GICR_CTLR_ENABLE_LPIS)) {
		rd->st.dropped++;
	} else if (ims__test_bit(rd->pending, intid)) {
		rd->st.coalesced++;
	} else {
		ims__set_bit(rd->pending, intid);
		ims__set_bit(rd->summary, intid / 64);
		rd->nr_pending++;
		rd->st.set_pending++;
		write_through_locked(gic, rd, intid);
		if (cfg_of(gic, intid) & IMS_LPI_CFG_ENABLE)
			notify(gic, cpu);
		else
			rd->st.held_disabled++;
	}
	ims__spin_unlock(&rd->lock);
}

static bool clear_pending_locked(struct ims_hw_gic *gic, struct gic_rdist *rd, uint32_t intid)
{
	ims__assert_spin_held(&rd->lock);
	if (!ims__test_bit(rd->pending, intid))
		return false;
	ims__clear_bit(rd->pending, intid);
	if (!rd->pending[intid / 64])
		ims__clear_bit(rd->summary, intid / 64);
	rd->nr_pending--;
	write_through_locked(gic, rd, intid);
	return true;
}

bool ims__gic_rd_clear_pending(struct ims_hw_gic *gic, uint32_t cpu, uint32_t intid)
{
	struct gic_rdist *rd = &gic->rd[cpu];
	bool was;

	ims__spin_lock(&rd->lock);
	was = clear_pending_locked(gic, rd, intid);
	ims__spin_unlock(&rd->lock);
	return was;
}

void ims__gic_rd_inv(struct ims_hw_gic *gic, uint32_t cpu, uint32_t intid)
{
	struct gic_rdist *rd = &gic->rd[cpu];

	ims__spin_lock(&rd->lock);
	load_cfg_locked(gic, rd, intid);
	if (ims__test_bit(rd->pending, intid) && (cfg_of(gic, intid) & IMS_LPI_CFG_ENABLE))
		notify(gic, cpu);
	ims__spin_unlock(&rd->lock);
}

void ims__gic_rd_invall(struct ims_hw_gic *gic, uint32_t cpu)
{
	struct gic_rdist *rd = &gic->rd[cpu];

	ims__spin_lock(&rd->lock);
	for (uint32_t i = IMS_LPI_BASE; i < gic->nr_intids; i++)
		load_cfg_locked(gic, rd, i);
	if (rd->nr_pending)
		notify(gic, cpu);
	ims__spin_unlock(&rd->lock);
}

/* ---- registers ---- */

uint64_t ims__gic_rd_read(struct ims_hw_gic *gic, uint32_t cpu, uint32_t off, unsigned int size)
{
	struct gic_rdist *rd = &gic->rd[cpu];
	uint64_t v = 0;

	ims__spin_lock(&rd->lock);
	switch (off & ~7u) {
	case IMS_GICR_CTLR:
		v = rd->ctlr;
		break;
	case IMS_GICR_TYPER:
		v = IMS_GICR_TYPER_PLPIS | ((uint64_t)cpu << IMS_GICR_TYPER_PROCNUM_SHIFT) |
		    ((uint64_t)cpu << 32) | (cpu + 1 == gic->p.nr_cpus ? IMS_GICR_TYPER_LAST : 0);
		break;
	case IMS_GICR_PROPBASER:
		v = rd->propbaser;
		break;
	case IMS_GICR_PENDBASER:
		v = rd->pendbaser & ~IMS_GICR_PENDBASER_PTZ;	/* PTZ reads as 0 */
		break;
	}
	ims__spin_unlock(&rd->lock);
	if (size == 4)
		v = (off & 4) ? v >> 32 : v & 0xffffffffu;
	return v;
}

/* Enabling LPIs reads the configuration table and, unless PTZ said it is
 * zero, the pending table, as a redistributor coming up does. */
static void enable_lpis_locked(struct ims_hw_gic *gic, struct gic_rdist *rd)
{
	uint64_t base = rd->pendbaser & IMS_GICR_PENDBASER_ADDR_MASK;

	ims__assert_spin_held(&rd->lock);
	for (uint32_t i = IMS_LPI_BASE; i < gic->nr_intids; i++)
		load_cfg_locked(gic, rd, i);
	if (rd->pendbaser & IMS_GICR_PENDBASER_PTZ)
		return;
	for (uint32_t w = IMS_LPI_BASE / 64; w < pend_words(gic); w++) {
		uint64_t v = 0;

		if (ims__gic_mem_read64(&gic->mem, base + 8ull * w, &v)) {
			rd->st.mem_faults++;
			break;
		}
		rd->pending[w] = v;
		if (v)
			ims__set_bit(rd->summary, w);
		rd->nr_pending += (uint32_t)__builtin_popcountll(v);
	}
}

void ims__gic_rd_write(struct ims_hw_gic *gic, uint32_t cpu, uint32_t off, unsigned int size,
		       uint64_t val)
{
	struct gic_rdist *rd = &gic->rd[cpu];
	uint64_t *reg = NULL;

	ims__spin_lock(&rd->lock);
	switch (off & ~7u) {
	case IMS_GICR_CTLR:
		if (off == IMS_GICR_CTLR && (val & IMS_GICR_CTLR_ENABLE_LPIS) &&
		    !(rd->ctlr & IMS_GICR_CTLR_ENABLE_LPIS)) {
			rd->ctlr |= IMS_GICR_CTLR_ENABLE_LPIS;
			enable_lpis_locked(gic, rd);
		}
		break;
	case IMS_GICR_PROPBASER:
		reg = &rd->propbaser;
		break;
	case IMS_GICR_PENDBASER:
		reg = &rd->pendbaser;
		break;
	}
	if (reg && (rd->ctlr & IMS_GICR_CTLR_ENABLE_LPIS)) {
		/* Changing the tables under enabled LPIs is UNPREDICTABLE: ignored. */
		rd->st.ignored_writes++;
	} else if (reg) {
		if (size == 8)
			*reg = val;
		else if (off & 4)
			*reg = (*reg & 0xffffffffu) | (val << 32);
		else
			*reg = (*reg & ~0xffffffffull) | val;
	}
	ims__spin_unlock(&rd->lock);
}

/* ---- CPU interface ---- */

static uint32_t running_prio_locked(const struct gic_rdist *rd)
{
	return rd->depth ? rd->act_prio[rd->depth - 1] : IDLE_PRIO;
}

/* Highest-priority (lowest value) enabled pending LPI, lowest INTID first. */
static uint32_t best_locked(struct ims_hw_gic *gic, struct gic_rdist *rd, uint32_t *prio)
{
	uint32_t words = pend_words(gic), best = IMS_ICC_SPURIOUS, bp = IDLE_PRIO;

	ims__assert_spin_held(&rd->lock);
	for (uint32_t w = ims__find_next_bit(rd->summary, words, 0); w < words;
	     w = ims__find_next_bit(rd->summary, words, w + 1)) {
		for (uint64_t bits = rd->pending[w]; bits; bits &= bits - 1) {
			uint32_t intid = w * 64 + (uint32_t)__builtin_ctzll(bits);
			uint8_t c = intid >= IMS_LPI_BASE ? cfg_of(gic, intid) : 0;

			if ((c & IMS_LPI_CFG_ENABLE) && (uint32_t)(c & IMS_LPI_CFG_PRIO_MASK) < bp) {
				bp = c & IMS_LPI_CFG_PRIO_MASK;
				best = intid;
			}
		}
	}
	*prio = bp;
	return best;
}

static uint32_t acknowledge_locked(struct ims_hw_gic *gic, struct gic_rdist *rd)
{
	uint32_t prio, intid;

	ims__assert_spin_held(&rd->lock);
	if (!rd->grpen1 || !rd->nr_pending || rd->depth == GIC_MAX_ACTIVE)
		return IMS_ICC_SPURIOUS;
	intid = best_locked(gic, rd, &prio);
	if (intid == IMS_ICC_SPURIOUS || prio >= rd->pmr || prio >= running_prio_locked(rd))
		return IMS_ICC_SPURIOUS;
	clear_pending_locked(gic, rd, intid);
	rd->act_prio[rd->depth] = (uint8_t)prio;
	rd->act_intid[rd->depth] = intid;
	rd->depth++;
	rd->st.acknowledged++;
	return intid;
}

uint64_t ims__gic_icc_read(struct ims_hw_gic *gic, uint32_t cpu, enum ims_icc_reg reg)
{
	struct gic_rdist *rd;
	uint64_t v = 0;

	if (cpu >= gic->p.nr_cpus)
		return IMS_ICC_SPURIOUS;
	rd = &gic->rd[cpu];
	ims__spin_lock(&rd->lock);
	switch (reg) {
	case IMS_ICC_IAR1:
		v = acknowledge_locked(gic, rd);
		break;
	case IMS_ICC_PMR:
		v = rd->pmr;
		break;
	case IMS_ICC_IGRPEN1:
		v = rd->grpen1;
		break;
	case IMS_ICC_RPR:
		v = rd->depth ? rd->act_prio[rd->depth - 1] : 0xff;
		break;
	case IMS_ICC_EOIR1:
		break;	/* write-only */
	}
	ims__spin_unlock(&rd->lock);
	return v;
}

void ims__gic_icc_write(struct ims_hw_gic *gic, uint32_t cpu, enum ims_icc_reg reg, uint64_t val)
{
	struct gic_rdist *rd;

	if (cpu >= gic->p.nr_cpus)
		return;
	rd = &gic->rd[cpu];
	ims__spin_lock(&rd->lock);
	switch (reg) {
	case IMS_ICC_EOIR1:
		/* Priority drop goes in order: the last acknowledged first. */
		if (rd->depth && rd->act_intid[rd->depth - 1] == (uint32_t)val)
			rd->depth--;
		else
			rd->st.eoi_errors++;
		if (rd->nr_pending)
			notify(gic, cpu);
		break;
	case IMS_ICC_PMR:
		rd->pmr = (uint8_t)val;
		break;
	case IMS_ICC_IGRPEN1:
		rd->grpen1 = val & 1;
		break;
	case IMS_ICC_IAR1:
	case IMS_ICC_RPR:
		break;	/* read-only */
	}
	ims__spin_unlock(&rd->lock);
}

/* ---- inspection ---- */

void ims__hw_gic_rdist_stats(struct ims_hw_gic *gic, uint32_t cpu, struct ims_hw_rdist_stats *out)
{
	struct gic_rdist *rd = &gic->rd[cpu];

	ims__spin_lock(&rd->lock);
	*out = rd->st;
	ims__spin_unlock(&rd->lock);
}

bool ims__hw_gic_lpi_pending(struct ims_hw_gic *gic, uint32_t cpu, uint32_t intid)
{
	struct gic_rdist *rd = &gic->rd[cpu];
	bool p;

	if (intid >= gic->nr_intids)
		return false;
	ims__spin_lock(&rd->lock);
	p = ims__test_bit(rd->pending, intid);
	ims__spin_unlock(&rd->lock);
	return p;
}

uint32_t ims__hw_gic_nr_pending(struct ims_hw_gic *gic, uint32_t cpu)
{
	struct gic_rdist *rd = &gic->rd[cpu];
	uint32_t n;

	ims__spin_lock(&rd->lock);
	n = rd->nr_pending;
	ims__spin_unlock(&rd->lock);
	return n;
}
