/*
 * The ITS: registers, the command queue and translation. Commands run when
 * software moves GITS_CWRITER (or enables the ITS, or asks for a retry),
 * one after another from GITS_CREADR; a command the ITS refuses stalls the
 * queue at that command with CREADR.Stalled set and its error code and
 * offset in the model's error registers, until software writes CWRITER
 * with Retry (after mending the command) or reprograms CBASER. A message
 * is translated DeviceID -> device table entry -> ITT entry -> collection
 * table entry -> redistributor; one that cannot be is counted and dropped,
 * with its DeviceID and EventID in the fault registers.
 */
#include <errno.h>

#include "hw/arm/gic_internal.h"
#include "util/log.h"

static const char *const err_names[IMS_ITS_ERR_MAX] = {
	[IMS_ITS_ERR_NONE] = "none",
	[IMS_ITS_ERR_DEVID_RANGE] = "DeviceID out of range",
	[IMS_ITS_ERR_DEV_UNMAPPED] = "device not mapped",
	[IMS_ITS_ERR_EVENTID_RANGE] = "EventID out of range",
	[IMS_ITS_ERR_EVENT_UNMAPPED] = "event not mapped",
	[IMS_ITS_ERR_ICID_RANGE] = "collection out of range",
	[IMS_ITS_ERR_COLL_UNMAPPED] = "collection not mapped",
	[IMS_ITS_ERR_LPI_RANGE] = "LPI out of range",
	[IMS_ITS_ERR_RDBASE_RANGE] = "no such redistributor",
	[IMS_ITS_ERR_ITT_SIZE] = "ITT size too large",
	[IMS_ITS_ERR_MEMORY] = "table not in RAM",
	[IMS_ITS_ERR_UNKNOWN_CMD] = "unknown command",
	[IMS_ITS_ERR_EVENT_MAPPED] = "event already mapped",
	[IMS_ITS_ERR_DISABLED] = "ITS disabled",
	[IMS_ITS_ERR_BAD_ADDRESS] = "not a TRANSLATER write",
};

IMS_API const char *ims_its_err_name(unsigned int code)
{
	code &= 0xff;
	return code < IMS_ITS_ERR_MAX ? err_names[code] : "unknown error";
}

void ims__gic_its_init(struct ims_hw_gic *gic)
{
	struct gic_its *its = &gic->its;

	ims__spin_init(&its->lock);
	its->baser[0] = ((uint64_t)IMS_GITS_BASER_TYPE_DEVICE << IMS_GITS_BASER_TYPE_SHIFT) |
			((uint64_t)(GIC_ENTRY_SIZE - 1) << IMS_GITS_BASER_ENTRY_SHIFT);
	its->baser[1] = ((uint64_t)IMS_GITS_BASER_TYPE_COLLECTION << IMS_GITS_BASER_TYPE_SHIFT) |
			((uint64_t)(GIC_ENTRY_SIZE - 1) << IMS_GITS_BASER_ENTRY_SHIFT);
}

static uint64_t typer(const struct ims_hw_gic *gic)
{
	return IMS_GITS_TYPER_PHYSICAL |
	       ((uint64_t)(GIC_ENTRY_SIZE - 1) << IMS_GITS_TYPER_ITT_ENTRY_SHIFT) |
	       ((uint64_t)(gic->p.eventbits - 1) << IMS_GITS_TYPER_IDBITS_SHIFT) |
	       ((uint64_t)(gic->p.devbits - 1) << IMS_GITS_TYPER_DEVBITS_SHIFT);
}

static uint64_t queue_size(const struct gic_its *its)
{
	return ((its->cbaser & IMS_GITS_CBASER_SIZE_MASK) + 1) * 4096u;
}

/* ---- tables ---- */

/* Entries a BASER's table holds, or 0 if it is not valid. */
static uint64_t table_entries(const struct gic_its *its, unsigned int n)
{
	uint64_t b = its->baser[n];

	if (!(b & IMS_GITS_BASER_VALID))
		return 0;
	return ((b & IMS_GITS_BASER_SIZE_MASK) + 1) * 4096u / GIC_ENTRY_SIZE;
}

static uint64_t table_entry_pa(const struct gic_its *its, unsigned int n, uint64_t i)
{
	return (its->baser[n] & IMS_GITS_BASER_ADDR_MASK) + i * GIC_ENTRY_SIZE;
}

/* What a device command's DeviceID and EventID lead to. */
struct walk {
	uint64_t dte, ite, ite_pa;
	uint32_t lpi, icid, cpu;
	bool coll_ok;		/* the collection is mapped; cpu is valid */
};

static int read_entry(struct ims_hw_gic *gic, uint64_t pa, uint64_t *v)
{
	return ims__gic_mem_read64(&gic->mem, pa, v) ? IMS_ITS_ERR_MEMORY : 0;
}

static int lookup_dte(struct ims_hw_gic *gic, uint32_t devid, uint64_t *dte)
{
	struct gic_its *its = &gic->its;

	if (devid >= table_entries(its, 0) || devid >> gic->p.devbits)
		return IMS_ITS_ERR_DEVID_RANGE;
	if (read_entry(gic, table_entry_pa(its, 0, devid), dte))
		return IMS_ITS_ERR_MEMORY;
	return (*dte & GIC_DTE_VALID) ? 0 : IMS_ITS_ERR_DEV_UNMAPPED;
}

/* Collection icid -> target CPU; 0, or an error code. */
static int lookup_cte(struct ims_hw_gic *gic, uint32_t icid, uint32_t *cpu)
{
	uint64_t cte;

	if (icid >= table_entries(&gic->its, 1))
		return IMS_ITS_ERR_ICID_RANGE;
	if (read_entry(gic, table_entry_pa(&gic->its, 1, icid), &cte))
		return IMS_ITS_ERR_MEMORY;
	if (!(cte & GIC_CTE_VALID) || (cte & GIC_CTE_TARGET_MASK) >= gic->p.nr_cpus)
		return IMS_ITS_ERR_COLL_UNMAPPED;
	*cpu = (uint32_t)(cte & GIC_CTE_TARGET_MASK);
	return 0;
}

/* DeviceID and EventID to the ITT entry's address (mapped or not). */
static int lookup_ite_pa(struct ims_hw_gic *gic, uint32_t devid, uint32_t eventid, struct walk *w)
{
	int err = lookup_dte(gic, devid, &w->dte);
	uint32_t bits;

	if (err)
		return err;
	bits = (uint32_t)((w->dte >> GIC_DTE_SIZE_SHIFT) & GIC_DTE_SIZE_MASK) + 1;
	if (bits < 32 && (eventid >> bits))
		return IMS_ITS_ERR_EVENTID_RANGE;
	w->ite_pa = (w->dte & GIC_DTE_ITT_MASK) + (uint64_t)eventid * GIC_ENTRY_SIZE;
	return read_entry(gic, w->ite_pa, &w->ite);
}

/* The whole walk for a mapped event; need_coll: the collection must be mapped. */
static int walk_event(struct ims_hw_gic *gic, uint32_t devid, uint32_t eventid, bool need_coll,
		      struct walk *w)
{
	int err = lookup_ite_pa(gic, devid, eventid, w);

	if (err)
		return err;
	if (!(w->ite & GIC_ITE_VALID))
		return IMS_ITS_ERR_EVENT_UNMAPPED;
	w->lpi = (uint32_t)(w->ite & GIC_ITE_LPI_MASK);
	w->icid = (uint32_t)((w->ite >> GIC_ITE_ICID_SHIFT) & GIC_ITE_ICID_MASK);
	err = lookup_cte(gic, w->icid, &w->cpu);
	w->coll_ok = !err;
	return need_coll ? err : 0;
}

static bool lpi_ok(const struct ims_hw_gic *gic, uint64_t intid)
{
	return intid >= IMS_LPI_BASE && intid < gic->nr_intids;
}

/* ---- commands ---- */

static int cmd_mapd(struct ims_hw_gic *gic, uint32_t devid, uint64_t w1, uint64_t w2)
{
	uint64_t dte = 0, size = w1 & IMS_ITS_CMD_SIZE_MASK;

	if (devid >= table_entries(&gic->its, 0) || devid >> gic->p.devbits)
		return IMS_ITS_ERR_DEVID_RANGE;
	if (w2 & IMS_ITS_CMD_VALID) {
		if (size + 1 > gic->p.eventbits)
			return IMS_ITS_ERR_ITT_SIZE;
		dte = GIC_DTE_VALID | (size << GIC_DTE_SIZE_SHIFT) | (w2 & IMS_ITS_CMD_ITT_MASK);
	}
	return ims__gic_mem_write64(&gic->mem, table_entry_pa(&gic->its, 0, devid), dte)
		       ? IMS_ITS_ERR_MEMORY : 0;
}

static int cmd_mapc(struct ims_hw_gic *gic, uint64_t w2)
{
	uint32_t icid = (uint32_t)(w2 & IMS_ITS_CMD_ICID_MASK);
	uint64_t rdbase = (w2 >> IMS_ITS_CMD_RDBASE_SHIFT) & IMS_ITS_CMD_RDBASE_MASK, cte = 0;

	if (icid >= table_entries(&gic->its, 1))
		return IMS_ITS_ERR_ICID_RANGE;
	if (w2 & IMS_ITS_CMD_VALID) {
		if (rdbase >= gic->p.nr_cpus)
			return IMS_ITS_ERR_RDBASE_RANGE;
		cte = GIC_CTE_VALID | rdbase;
	}
	return ims__gic_mem_write64(&gic->mem, table_entry_pa(&gic->its, 1, icid), cte)
		       ? IMS_ITS_ERR_MEMORY : 0;
}

static int cmd_mapti(struct ims_hw_gic *gic, uint32_t devid, uint32_t eventid, uint64_t lpi,
		     uint32_t icid)
{
	struct walk w;
	int err = lookup_ite_pa(gic, devid, eventid, &w);

	if (err)
		return err;
	if (!lpi_ok(gic, lpi))
		return IMS_ITS_ERR_LPI_RANGE;
	if (icid >= table_entries(&gic->its, 1))
		return IMS_ITS_ERR_ICID_RANGE;
	if (w.ite & GIC_ITE_VALID)
		return IMS_ITS_ERR_EVENT_MAPPED;
	return ims__gic_mem_write64(&gic->mem, w.ite_pa, GIC_ITE_VALID | lpi |
				    ((uint64_t)icid << GIC_ITE_ICID_SHIFT)) ? IMS_ITS_ERR_MEMORY : 0;
}

/* Move the event to collection icid; its pending state goes along. */
static int cmd_movi(struct ims_hw_gic *gic, uint32_t devid, uint32_t eventid, uint32_t icid)
{
	struct walk w;
	uint32_t to;
	int err = walk_event(gic, devid, eventid, true, &w);

	if (err)
		return err;
	err = lookup_cte(gic, icid, &to);
	if (err)
		return err;
	w.ite = (w.ite & ~(GIC_ITE_ICID_MASK << GIC_ITE_ICID_SHIFT)) |
		((uint64_t)icid << GIC_ITE_ICID_SHIFT);
	if (ims__gic_mem_write64(&gic->mem, w.ite_pa, w.ite))
		return IMS_ITS_ERR_MEMORY;
	if (to != w.cpu && ims__gic_rd_clear_pending(gic, w.cpu, w.lpi))
		ims__gic_rd_set_pending(gic, to, w.lpi);
	return 0;
}

static int cmd_discard(struct ims_hw_gic *gic, uint32_t devid, uint32_t eventid)
{
	struct walk w;
	int err = walk_event(gic, devid, eventid, false, &w);

	if (err)
		return err;
	if (w.coll_ok)
		ims__gic_rd_clear_pending(gic, w.cpu, w.lpi);
	return ims__gic_mem_write64(&gic->mem, w.ite_pa, 0) ? IMS_ITS_ERR_MEMORY : 0;
}

/* Returns an IMS_ITS_ERR_* code. its->lock held. */
static int exec_locked(struct ims_hw_gic *gic, const uint64_t c[4])
{
	uint32_t devid = (uint32_t)(c[0] >> IMS_ITS_CMD_DEVID_SHIFT), eventid = (uint32_t)c[1];
	uint32_t icid = (uint32_t)(c[2] & IMS_ITS_CMD_ICID_MASK), cpu;
	struct walk w;
	int err;

	ims__assert_spin_held(&gic->its.lock);
	switch (c[0] & 0xff) {
	case IMS_ITS_CMD_MAPD:
		return cmd_mapd(gic, devid, c[1], c[2]);
	case IMS_ITS_CMD_MAPC:
		return cmd_mapc(gic, c[2]);
	case IMS_ITS_CMD_MAPTI:
		return cmd_mapti(gic, devid, eventid, c[1] >> IMS_ITS_CMD_PINTID_SHIFT, icid);
	case IMS_ITS_CMD_MAPI:
		return cmd_mapti(gic, devid, eventid, eventid, icid);
	case IMS_ITS_CMD_MOVI:
		return cmd_movi(gic, devid, eventid, icid);
	case IMS_ITS_CMD_DISCARD:
		return cmd_discard(gic, devid, eventid);
	case IMS_ITS_CMD_INV:
	case IMS_ITS_CMD_INT:
	case IMS_ITS_CMD_CLEAR:
		err = walk_event(gic, devid, eventid, true, &w);
		if (err)
			return err;
		if ((c[0] & 0xff) == IMS_ITS_CMD_INV)
			ims__gic_rd_inv(gic, w.cpu, w.lpi);
		else if ((c[0] & 0xff) == IMS_ITS_CMD_INT)
			ims__gic_rd_set_pending(gic, w.cpu, w.lpi);
		else
			ims__gic_rd_clear_pending(gic, w.cpu, w.lpi);
		return 0;
	case IMS_ITS_CMD_INVALL:
		err = lookup_cte(gic, icid, &cpu);
		if (!err)
			ims__gic_rd_invall(gic, cpu);
		return err;
	case IMS_ITS_CMD_SYNC:
		/* Every effect is complete when a command returns: only check. */
		return ((c[2] >> IMS_ITS_CMD_RDBASE_SHIFT) & IMS_ITS_CMD_RDBASE_MASK) < gic->p.nr_cpus
			       ? 0 : IMS_ITS_ERR_RDBASE_RANGE;
	default:
		return IMS_ITS_ERR_UNKNOWN_CMD;
	}
}

static void process_locked(struct ims_hw_gic *gic)
{
	struct gic_its *its = &gic->its;
	uint64_t base = its->cbaser & IMS_GITS_CBASER_ADDR_MASK, qsize = queue_size(its);

	ims__assert_spin_held(&gic->its.lock);
	if (!(its->ctlr & IMS_GITS_CTLR_ENABLED) || !(its->cbaser & IMS_GITS_CBASER_VALID) ||
	    (its->creadr & IMS_GITS_CREADR_STALLED))
		return;
	while (its->creadr != its->cwriter) {
		uint64_t c[4] = { 0 };
		int err = 0;

		for (int i = 0; i < 4 && !err; i++)
			if (ims__gic_mem_read64(&gic->mem, base + its->creadr + 8u * (unsigned)i, &c[i]))
				err = IMS_ITS_ERR_MEMORY;
		if (!err)
			err = exec_locked(gic, c);
		if (err) {
			its->err_code = (uint32_t)((c[0] & 0xff) << 8) | (uint32_t)err;
			its->err_offset = (uint32_t)its->creadr;
			its->st.command_errors++;
			its->st.cmd_by_err[err]++;
			its->creadr |= IMS_GITS_CREADR_STALLED;
			return;
		}
		its->st.commands++;
		its->creadr = (its->creadr + IMS_ITS_CMD_SIZE) % qsize;
	}
}

/* ---- registers ---- */

uint64_t ims__gic_its_read(struct ims_hw_gic *gic, uint32_t off, unsigned int size)
{
	struct gic_its *its = &gic->its;
	uint64_t v = 0;
	uint32_t reg = off & ~7u;

	ims__spin_lock(&its->lock);
	if (reg >= IMS_GITS_BASER(0) && reg < IMS_GITS_BASER(IMS_GITS_NR_BASER)) {
		v = its->baser[(reg - IMS_GITS_BASER(0)) / 8];
	} else {
		switch (reg) {
		case IMS_GITS_CTLR:	/* and IIDR in the high word */
			v = its->ctlr | ((its->ctlr & IMS_GITS_CTLR_ENABLED) ? 0 : IMS_GITS_CTLR_QUIESCENT);
			v |= (uint64_t)0x0043b000u << 32;
			break;
		case IMS_GITS_TYPER: v = typer(gic); break;
		case IMS_GITS_CBASER: v = its->cbaser; break;
		case IMS_GITS_CWRITER: v = its->cwriter; break;
		case IMS_GITS_CREADR: v = its->creadr; break;
		case IMS_GITS_ERR_CODE: v = its->err_code | (uint64_t)its->err_offset << 32; break;
		case IMS_GITS_ERR_COUNT: v = its->st.command_errors; break;
		case IMS_GITS_FAULT_CODE: v = its->fault_code | (uint64_t)its->fault_devid << 32; break;
		case IMS_GITS_FAULT_EVENTID: v = its->fault_eventid; break;
		case IMS_GITS_FAULT_COUNT: v = its->st.faults; break;
		}
	}
	ims__spin_unlock(&its->lock);
	if (size == 4)
		v = (off & 4) ? v >> 32 : v & 0xffffffffu;
	return v;
}

static uint64_t merge(uint64_t old, uint32_t off, unsigned int size, uint64_t val)
{
	if (size == 8)
		return val;
	if (off & 4)
		return (old & 0xffffffffu) | (val << 32);
	return (old & ~0xffffffffull) | val;
}

void ims__gic_its_write(struct ims_hw_gic *gic, uint32_t off, unsigned int size, uint64_t val)
{
	struct gic_its *its = &gic->its;
	uint32_t reg = off & ~7u;
	bool enabled;

	ims__spin_lock(&its->lock);
	enabled = its->ctlr & IMS_GITS_CTLR_ENABLED;
	if (reg >= IMS_GITS_BASER(0) && reg < IMS_GITS_BASER(IMS_GITS_NR_BASER)) {
		uint64_t *b = &its->baser[(reg - IMS_GITS_BASER(0)) / 8];
		const uint64_t rw = IMS_GITS_BASER_VALID | IMS_GITS_BASER_ADDR_MASK |
				    IMS_GITS_BASER_SIZE_MASK;

		/* Unimplemented BASERs are RAZ/WI; tables change only while disabled. */
		if (!*b || enabled)
			its->st.ignored_writes++;
		else
			*b = (*b & ~rw) | (merge(*b, off, size, val) & rw);
	} else if (off == IMS_GITS_CTLR) {
		its->ctlr = (uint32_t)val & IMS_GITS_CTLR_ENABLED;
		process_locked(gic);
	} else if (reg == IMS_GITS_CBASER) {
		if (enabled) {
			its->st.ignored_writes++;
		} else {
			its->cbaser = merge(its->cbaser, off, size, val) &
				      (IMS_GITS_CBASER_VALID | IMS_GITS_CBASER_ADDR_MASK |
				       IMS_GITS_CBASER_SIZE_MASK);
			its->creadr = 0;	/* also leaves a stall */
			its->cwriter = 0;
		}
	} else if (reg == IMS_GITS_CWRITER) {
		uint64_t v = merge(its->cwriter, off, size, val);
		uint64_t wr = v & IMS_GITS_CQ_OFFSET_MASK;

		if (wr >= queue_size(its)) {
			its->st.ignored_writes++;
		} else {
			its->cwriter = wr;
			if (v & IMS_GITS_CWRITER_RETRY)
				its->creadr &= ~IMS_GITS_CREADR_STALLED;
			process_locked(gic);
		}
	} else {
		its->st.ignored_writes++;	/* read-only or reserved */
	}
	ims__spin_unlock(&its->lock);
}

/* ---- translation ---- */

static void fault_locked(struct gic_its *its, int err, uint32_t devid, uint32_t eventid)
{
	ims__assert_spin_held(&its->lock);
	its->fault_code = (uint32_t)err;
	its->fault_devid = devid;
	its->fault_eventid = eventid;
	its->st.faults++;
	its->st.fault_by_err[err]++;
}

void ims__gic_its_msi(void *ctx, const struct ims_hw_msi_write *m)
{
	struct ims_hw_gic *gic = ctx;
	struct gic_its *its = &gic->its;
	struct walk w;
	int err;

	ims__spin_lock(&its->lock);
	if (m->addr != gic->p.its_base + IMS_GITS_TRANSLATER)
		err = IMS_ITS_ERR_BAD_ADDRESS;
	else if (!(its->ctlr & IMS_GITS_CTLR_ENABLED))
		err = IMS_ITS_ERR_DISABLED;
	else
		err = walk_event(gic, m->rid, m->data, true, &w);
	if (err) {
		fault_locked(its, err, m->rid, m->data);
	} else {
		its->st.translated++;
		ims__gic_rd_set_pending(gic, w.cpu, w.lpi);
	}
	ims__spin_unlock(&its->lock);
}

void ims__hw_gic_its_stats(struct ims_hw_gic *gic, struct ims_hw_its_stats *out)
{
	ims__spin_lock(&gic->its.lock);
	*out = gic->its.st;
	ims__spin_unlock(&gic->its.lock);
}
