/*
 * The interrupt remapping driver: one per remapping unit. It places the
 * unit's table, an invalidation queue and a status word in DMA memory,
 * programs the unit through its registers, allocates table entries, and
 * provides the remapping domain that sits between device domains and the
 * vector domain. An entry is written from the message the vector domain
 * composes (compatibility format: CPU and vector), then invalidated in the
 * unit's entry cache; the device gets a remappable-format message naming
 * the entry, which never changes while the interrupt lives: affinity
 * changes and posting rewrite only the entry.
 *
 * Per irq the driver keeps one 64-bit word at its level (chip_u64):
 *   bits 15:0 entry index       bits 31:16 subhandle (offset in its block)
 *   bits 47:32 requester id     bit 48 posted      bit 49 entry written
 * so the remapping level costs no memory beyond the table's 16 bytes.
 */
#include <errno.h>
#include <string.h>

#include <ims/remap.h>

#include "hw/dma.h"
#include "hw/iommu/irte.h"
#include "hw/iommu/remap_unit.h"
#include "os/irq/internal.h"
#include "util/alloc.h"
#include "util/atomic128.h"
#include "util/bitmap.h"
#include "util/lock.h"
#include "util/log.h"
#include "util/rcu.h"

#define IRQ_INDEX(u) ((uint32_t)((u) & 0xffff))
#define IRQ_SUB(u) ((uint32_t)(((u) >> 16) & 0xffff))
#define IRQ_RID(u) ((uint16_t)(((u) >> 32) & 0xffff))
#define IRQ_POSTED (1ull << 48)
#define IRQ_WRITTEN (1ull << 49)
#define IRQ_MAKE(index, sub, rid) ((uint64_t)(index) | (uint64_t)(sub) << 16 | (uint64_t)(rid) << 32)

#define IQ_BYTES 4096u		/* 256 descriptors: QS = 0 */
#define IQ_ENTRIES 256u
#define STATUS_BYTES 64u

struct ims_remap {
	/* Test only: skip every entry-cache invalidation (a driver bug). */
	bool test_skip_invalidation;
	struct ims_irq_core *core;
	struct ims_irq_domain *domain;
	struct ims_hw_ir_unit *unit;
	struct ims_hw_dma *dma;
	uint32_t nr_entries;
	bool x2apic;
	bool virt;

	/*
	 * lock guards the entry bitmap and the counters beside it, every
	 * write to the table, the invalidation queue (tail and status token)
	 * and the unit's registers. Taken under a descriptor's lock (chip
	 * callbacks) and under core->lock (domain alloc and free); nothing
	 * is taken under it but the unit's own register lock.
	 */
	struct ims_mutex lock;
	uint64_t *bitmap;
	uint32_t allocated;
	uint32_t posted;
	uint32_t hint;			/* where the next single search starts */
	uint64_t writes;
	uint64_t invalidations;
	uint32_t iq_tail;
	uint32_t token;

	uint64_t *table;		/* DMA memory, nr_entries x 16 bytes */
	uint64_t *iq;			/* DMA memory, the invalidation queue */
	uint32_t *status;		/* DMA memory, wait descriptors write here */
};

static const struct ims_irq_chip remap_chip;

static size_t table_bytes(uint32_t n)
{
	return (size_t)n * IMS_IRTE_SIZE;
}

/* ---- table and invalidation ---- */

static void irte_write_locked(struct ims_remap *r, uint32_t index, uint64_t lo, uint64_t hi)
{
	struct ims_u128 v = { ims__cpu_to_le64(lo), ims__cpu_to_le64(hi) };

	ims__assert_mutex_held(&r->lock);
	ims__atomic128_store(&r->table[index * 2], v);
	r->writes++;
}

static struct ims_u128 irte_read(struct ims_remap *r, uint32_t index)
{
	struct ims_u128 v = ims__atomic128_load(&r->table[index * 2]);

	v.lo = ims__le64_to_cpu(v.lo);
	v.hi = ims__le64_to_cpu(v.hi);
	return v;
}

static void qi_push_locked(struct ims_remap *r, uint64_t lo, uint64_t hi)
{
	__atomic_store_n(&r->iq[r->iq_tail * 2], ims__cpu_to_le64(lo), __ATOMIC_RELAXED);
	__atomic_store_n(&r->iq[r->iq_tail * 2 + 1], ims__cpu_to_le64(hi), __ATOMIC_RELEASE);
	r->iq_tail = (r->iq_tail + 1) % IQ_ENTRIES;
}

/*
 * Invalidate the entry cache for 2^im entries from index (global when
 * index < 0) and wait for the unit to confirm through a status write.
 */
static void invalidate_locked(struct ims_remap *r, int index, unsigned int im)
{
	uint32_t fsts;

	ims__assert_mutex_held(&r->lock);
	if (ims_unlikely(r->test_skip_invalidation))
		return;
	if (index < 0)
		qi_push_locked(r, IMS_IR_QI_IEC, 0);
	else
		qi_push_locked(r, IMS_IR_QI_IEC | IMS_IR_QI_IEC_INDEX |
					  (uint64_t)im << IMS_IR_QI_IEC_IM_SHIFT |
					  (uint64_t)index << IMS_IR_QI_IEC_IIDX_SHIFT, 0);
	r->token++;
	qi_push_locked(r, IMS_IR_QI_WAIT | IMS_IR_QI_WAIT_SW | (uint64_t)r->token << IMS_IR_QI_WAIT_DATA_SHIFT,
		       ims__dma_addr(r->status));
	ims__ir_unit_write(r->unit, IMS_IR_REG_IQT, (uint64_t)r->iq_tail << IMS_IR_IQ_SHIFT);
	r->invalidations++;
	if (__atomic_load_n(r->status, __ATOMIC_ACQUIRE) == r->token)
		return;
	/* The unit refused a descriptor. Ours are well formed, so this is a
	 * broken unit; resynchronize the queue so later requests still run. */
	fsts = (uint32_t)ims__ir_unit_read(r->unit, IMS_IR_REG_FSTS);
	ims__warn_once("remap %s: invalidation did not complete (fault status %#x)",
		       ims_irq_domain_name(r->domain), fsts);
	r->iq_tail = (uint32_t)(ims__ir_unit_read(r->unit, IMS_IR_REG_IQH) >> IMS_IR_IQ_SHIFT);
	ims__ir_unit_write(r->unit, IMS_IR_REG_IQT, (uint64_t)r->iq_tail << IMS_IR_IQ_SHIFT);
	ims__ir_unit_write(r->unit, IMS_IR_REG_FSTS, IMS_IR_FSTS_IQE);
}

/* ---- entry allocation ---- */

static int entry_alloc_locked(struct ims_remap *r)
{
	uint32_t i;

	ims__assert_mutex_held(&r->lock);
	i = ims__find_next_zero_bit(r->bitmap, r->nr_entries, r->hint);
	if (i >= r->nr_entries)
		i = ims__find_next_zero_bit(r->bitmap, r->nr_entries, 0);
	if (i >= r->nr_entries)
		return -ENOSPC;
	ims__set_bit(r->bitmap, i);
	r->allocated++;
	r->hint = (i + 1) % r->nr_entries;
	return (int)i;
}

/* nr consecutive entries aligned to the power of two at or above nr. */
static int block_alloc_locked(struct ims_remap *r, uint32_t nr)
{
	uint32_t align = 1, i;

	ims__assert_mutex_held(&r->lock);
	while (align < nr)
		align <<= 1;
	i = ims__find_zero_area(r->bitmap, r->nr_entries, 0, nr, align);
	if (i >= r->nr_entries)
		return -ENOSPC;
	ims__bitmap_set(r->bitmap, i, nr);
	r->allocated += nr;
	return (int)i;
}

static void entry_free_locked(struct ims_remap *r, uint32_t index)
{
	ims__assert_mutex_held(&r->lock);
	if (IMS_NEVER(!ims__test_bit(r->bitmap, index))) {
		ims__warn_once("remap %s: entry %u freed twice", ims_irq_domain_name(r->domain), index);
		return;
	}
	ims__clear_bit(r->bitmap, index);
	r->allocated--;
}

/* ---- building entries ---- */

/* The remapped entry for the parent's compatibility message. */
static int remapped_entry(struct ims_remap *r, struct ims_irq_data *d, uint64_t *lo, uint64_t *hi)
{
	struct ims_msi_msg msg = { 0 };
	struct ims_irte t = { .present = true, .svt = IMS_SVT_SID };
	uint32_t dest;
	int ret;

	ret = ims_irq_chip_compose_msi_msg_parent(d, &msg);
	if (ret < 0)
		return ret;
	if (msg.address_hi || (msg.address_lo & IMS_MSI_ADDR_BASE_MASK) != IMS_MSI_ADDR_BASE ||
	    ims__msi_is_remappable(msg.address_lo))
		return ims__error(-EINVAL, "remap %s: irq %u: parent message %#x/%#x is not compatibility format",
				  ims_irq_domain_name(r->domain), ims_irq_data_irq(d), msg.address_lo, msg.data);
	dest = (msg.address_lo >> IMS_MSI_ADDR_DEST_SHIFT) & IMS_MSI_ADDR_DEST_MASK;
	dest |= ((msg.address_lo >> IMS_MSI_ADDR_EXT_DEST_SHIFT) & IMS_MSI_ADDR_EXT_DEST_MASK) << 8;
	if (!r->x2apic && dest > 0xff)
		return ims__error(-EINVAL, "remap %s: irq %u: APIC ID %#x needs x2APIC mode",
				  ims_irq_domain_name(r->domain), ims_irq_data_irq(d), dest);
	t.dest = r->x2apic ? dest : dest << 8;
	t.vector = msg.data & IMS_MSI_DATA_VECTOR_MASK;
	t.delivery_mode = (msg.data >> IMS_MSI_DATA_DLM_SHIFT) & IMS_MSI_DATA_DLM_MASK;
	t.level_trigger = (msg.data >> IMS_MSI_DATA_TM_SHIFT) & 1;
	t.dest_logical = (msg.address_lo >> IMS_MSI_ADDR_DM_SHIFT) & 1;
	t.redirection_hint = (msg.address_lo >> IMS_MSI_ADDR_RH_SHIFT) & 1;
	t.sid = IRQ_RID(d->chip_u64);
	return ims_irte_encode(&t, lo, hi);
}

/* ---- domain ops ---- */

static int remap_alloc(struct ims_irq_domain *dom, unsigned int virq, unsigned int nr, void *arg)
{
	struct ims_remap *r = ims_irq_domain_host_data(dom);
	const struct ims_msi_alloc_info *info = arg;
	bool block;
	unsigned int i;
	int ret, base = 0;

	if (!info)
		return ims__error(-EINVAL, "remap %s: alloc needs the device's ims_msi_alloc_info "
				  "(its requester id)", ims_irq_domain_name(dom));
	if (!nr || nr > r->nr_entries)
		return ims__error(-EINVAL, "remap %s: cannot allocate %u entries", ims_irq_domain_name(dom), nr);
	block = info->type == IMS_MSI_TYPE_MSI && nr > 1;
	ret = ims_irq_domain_alloc_irqs_parent(dom, virq, nr, arg);
	if (ret < 0)
		return ret;

	ims__mutex_lock(&r->lock);
	if (block) {
		base = block_alloc_locked(r, nr);
		if (base < 0) {
			ret = ims__error(-ENOSPC, "remap %s: no %u consecutive free entries",
					 ims_irq_domain_name(dom), nr);
			goto unlock_free_parent;
		}
	}
	for (i = 0; i < nr; i++) {
		int index = block ? base + (int)i : entry_alloc_locked(r);
		struct ims_irq_data *d;

		if (index < 0) {
			ret = ims__error(-ENOSPC, "remap %s: no free remapping entry (all %u in use)",
					 ims_irq_domain_name(dom), r->nr_entries);
			goto unwind;
		}
		ret = ims_irq_domain_set_info(dom, virq + i, (uint32_t)index, NULL);
		d = ims_irq_domain_get_irq_data(dom, virq + i);
		if (ret < 0 || IMS_NEVER(!d)) {
			if (!block)
				entry_free_locked(r, (uint32_t)index);
			ret = ret < 0 ? ret : -EINVAL;
			goto unwind;
		}
		d->chip_u64 = IRQ_MAKE(index, block ? i : 0, info->rid);
	}
	ims__mutex_unlock(&r->lock);
	return 0;

unwind:
	while (i-- > 0) {
		struct ims_irq_data *d = ims_irq_domain_get_irq_data(dom, virq + i);

		if (!block)
			entry_free_locked(r, IRQ_INDEX(d->chip_u64));
		d->chip_u64 = 0;
	}
	if (block)
		for (i = 0; i < nr; i++)
			entry_free_locked(r, (uint32_t)base + i);
unlock_free_parent:
	ims__mutex_unlock(&r->lock);
	ims_irq_domain_free_irqs_parent(dom, virq, nr);
	return ret;
}

static void remap_free(struct ims_irq_domain *dom, unsigned int virq, unsigned int nr)
{
	struct ims_remap *r = ims_irq_domain_host_data(dom);

	ims__mutex_lock(&r->lock);
	for (unsigned int i = 0; i < nr; i++) {
		struct ims_irq_data *d = ims_irq_domain_get_irq_data(dom, virq + i);
		uint32_t index;

		if (!d)
			continue;
		index = IRQ_INDEX(d->chip_u64);
		/* The core deactivates before it frees; an entry still written
		 * here would let the device reach whoever gets it next. */
		if (IMS_NEVER(d->chip_u64 & IRQ_WRITTEN)) {
			irte_write_locked(r, index, 0, 0);
			invalidate_locked(r, (int)index, 0);
			if (d->chip_u64 & IRQ_POSTED)
				r->posted--;
		}
		entry_free_locked(r, index);
		d->chip_u64 = 0;
	}
	ims__mutex_unlock(&r->lock);
	ims_irq_domain_free_irqs_parent(dom, virq, nr);
}

static int remap_activate(struct ims_irq_domain *dom, struct ims_irq_data *d, bool reserve)
{
	struct ims_remap *r = ims_irq_domain_host_data(dom);
	uint64_t lo, hi;
	int ret;

	(void)reserve;
	ret = remapped_entry(r, d, &lo, &hi);
	if (ret < 0)
		return ret;
	ims__mutex_lock(&r->lock);
	irte_write_locked(r, IRQ_INDEX(d->chip_u64), lo, hi);
	invalidate_locked(r, (int)IRQ_INDEX(d->chip_u64), 0);
	d->chip_u64 = (d->chip_u64 & ~IRQ_POSTED) | IRQ_WRITTEN;
	ims__mutex_unlock(&r->lock);
	return 0;
}

static void remap_deactivate(struct ims_irq_domain *dom, struct ims_irq_data *d)
{
	struct ims_remap *r = ims_irq_domain_host_data(dom);

	ims__mutex_lock(&r->lock);
	if (d->chip_u64 & IRQ_WRITTEN) {
		irte_write_locked(r, IRQ_INDEX(d->chip_u64), 0, 0);
		invalidate_locked(r, (int)IRQ_INDEX(d->chip_u64), 0);
		if (d->chip_u64 & IRQ_POSTED)
			r->posted--;
	}
	d->chip_u64 &= ~(IRQ_WRITTEN | IRQ_POSTED);
	ims__mutex_unlock(&r->lock);
}

static const struct ims_irq_domain_ops remap_ops = {
	.alloc = remap_alloc,
	.free = remap_free,
	.activate = remap_activate,
	.deactivate = remap_deactivate,
};

/* ---- chip ---- */

/* The device's message: the handle of the entry (block), the subhandle. */
static void remap_compose(struct ims_irq_data *d, struct ims_msi_msg *msg)
{
	uint32_t sub = IRQ_SUB(d->chip_u64);

	ims_remap_msg_compose((uint16_t)(IRQ_INDEX(d->chip_u64) - sub), true, (uint16_t)sub, msg);
}

/*
 * Move the interrupt: the parent picks a new CPU and vector, and only the
 * entry changes; the device keeps its message, so nothing above needs to
 * write anything. A posted interrupt holds no host vector: its host
 * affinity applies when it is unposted.
 */
static int remap_set_affinity(struct ims_irq_data *d, const struct ims_cpumask *mask, bool force)
{
	struct ims_remap *r = ims_irq_domain_host_data(ims_irq_data_domain(d));
	uint64_t lo, hi;
	int ret;

	if (d->chip_u64 & IRQ_POSTED)
		return IMS_SET_AFFINITY_DONE;
	ret = ims_irq_chip_set_affinity_parent(d, mask, force);
	if (ret < 0)
		return ret;
	if (!(d->chip_u64 & IRQ_WRITTEN))
		return IMS_SET_AFFINITY_DONE;
	ret = remapped_entry(r, d, &lo, &hi);
	if (ret < 0)
		return ret;
	ims__mutex_lock(&r->lock);
	irte_write_locked(r, IRQ_INDEX(d->chip_u64), lo, hi);
	invalidate_locked(r, (int)IRQ_INDEX(d->chip_u64), 0);
	ims__mutex_unlock(&r->lock);
	return IMS_SET_AFFINITY_DONE;
}

static const struct ims_irq_chip remap_chip = {
	.name = "IR",
	.irq_set_affinity = remap_set_affinity,
	.irq_compose_msi_msg = remap_compose,
};

/* ---- setup ---- */

static void dma_unregister_all(struct ims_remap *r)
{
	if (r->status)
		ims__dma_unregister(r->dma, r->status);
	if (r->iq)
		ims__dma_unregister(r->dma, r->iq);
	if (r->table)
		ims__dma_unregister(r->dma, r->table);
}

static void remap_free_memory(struct ims_remap *r)
{
	ims__dma_free_aligned(r->status, STATUS_BYTES, 64);
	ims__dma_free_aligned(r->iq, IQ_BYTES, 4096);
	ims__dma_free_aligned(r->table, table_bytes(r->nr_entries), 4096);
	ims__free(r->bitmap, IMS_BITMAP_WORDS(r->nr_entries) * sizeof(uint64_t));
	ims__mutex_destroy(&r->lock);
	ims__free(r, sizeof(*r));
}

/* Point the unit at the table and queue, flush its cache, enable it. */
static void unit_enable(struct ims_remap *r, bool allow_compat)
{
	uint32_t s = 0, gcmd;

	while ((2u << s) < r->nr_entries)
		s++;
	ims__mutex_lock(&r->lock);
	ims__ir_unit_write(r->unit, IMS_IR_REG_IRTA,
			   ims__dma_addr(r->table) | (r->x2apic ? IMS_IR_IRTA_EIME : 0) | s);
	ims__ir_unit_write(r->unit, IMS_IR_REG_GCMD, IMS_IR_GCMD_SIRTP);
	ims__ir_unit_write(r->unit, IMS_IR_REG_IQA, ims__dma_addr(r->iq));
	gcmd = IMS_IR_GCMD_QIE;
	ims__ir_unit_write(r->unit, IMS_IR_REG_GCMD, gcmd);
	r->iq_tail = (uint32_t)(ims__ir_unit_read(r->unit, IMS_IR_REG_IQT) >> IMS_IR_IQ_SHIFT);
	/* Whatever the unit cached before belongs to no table of ours. */
	invalidate_locked(r, -1, 0);
	gcmd |= IMS_IR_GCMD_IRE | (allow_compat ? IMS_IR_GCMD_CFI : 0);
	ims__ir_unit_write(r->unit, IMS_IR_REG_GCMD, gcmd);
	ims__mutex_unlock(&r->lock);
}

IMS_API int ims_remap_create(struct ims_irq_core *core, const struct ims_remap_config *cfg,
			     struct ims_remap **out)
{
	struct ims_irq_domain_info info = { 0 };
	struct ims_remap *r;
	uint32_t n;
	uint64_t cap;
	int ret;

	if (!core || !cfg || !out)
		return ims__error(-EINVAL, "remap_create: NULL %s", !core ? "core" : !cfg ? "config" : "out");
	if (!cfg->unit || !cfg->dma || !cfg->parent)
		return ims__error(-EINVAL, "remap_create: config needs %s",
				  !cfg->unit ? "a unit" : !cfg->dma ? "dma memory" : "a parent domain");
	n = cfg->nr_entries ? cfg->nr_entries : IMS_IRTE_MAX_ENTRIES;
	if (n < 2 || n > IMS_IRTE_MAX_ENTRIES || (n & (n - 1)))
		return ims__error(-EINVAL, "remap_create: nr_entries %u is not a power of two in 2..65536",
				  cfg->nr_entries);
	cap = ims__ir_unit_read(cfg->unit, IMS_IR_REG_CAP);
	if (cfg->x2apic && !(cap & IMS_IR_CAP_EIM))
		return ims__error(-EINVAL, "remap_create: unit %s has no x2APIC mode",
				  ims__ir_unit_name(cfg->unit));
	if (ims__ir_unit_read(cfg->unit, IMS_IR_REG_GSTS) & IMS_IR_GCMD_IRE)
		return ims__error(-EBUSY, "remap_create: unit %s is already enabled",
				  ims__ir_unit_name(cfg->unit));

	r = ims__zalloc(sizeof(*r), "remap");
	if (!r)
		return -ENOMEM;
	ims__mutex_init(&r->lock);
	r->core = core;
	r->unit = cfg->unit;
	r->dma = cfg->dma;
	r->nr_entries = n;
	r->x2apic = cfg->x2apic;
	r->virt = cap & IMS_IR_CAP_CM;
	ret = -ENOMEM;
	r->bitmap = ims__calloc(IMS_BITMAP_WORDS(n), sizeof(uint64_t), "remap_bitmap");
	if (!r->bitmap)
		goto free_memory;
	r->table = ims__dma_alloc_aligned(table_bytes(n), 4096, "ir_table");
	if (!r->table)
		goto free_memory;
	r->iq = ims__dma_alloc_aligned(IQ_BYTES, 4096, "ir_queue");
	if (!r->iq)
		goto free_memory;
	r->status = ims__dma_alloc_aligned(STATUS_BYTES, 64, "ir_status");
	if (!r->status)
		goto free_memory;
	ret = ims__dma_register(r->dma, r->table, table_bytes(n));
	if (ret < 0)
		goto free_memory;
	ret = ims__dma_register(r->dma, r->iq, IQ_BYTES);
	if (ret < 0)
		goto unregister_table;
	ret = ims__dma_register(r->dma, r->status, STATUS_BYTES);
	if (ret < 0)
		goto unregister_iq;

	info.name = cfg->name ? cfg->name : "IR";
	info.ops = &remap_ops;
	info.chip = &remap_chip;
	info.host_data = r;
	info.parent = cfg->parent;
	info.flags = IMS_IRQ_DOMAIN_FLAG_MSI_PARENT | (r->virt ? 0 : IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI);
	ret = ims_irq_domain_create(core, &info, &r->domain);
	if (ret < 0)
		goto unregister_status;

	unit_enable(r, cfg->allow_compat);
	*out = r;
	return 0;

unregister_status:
	ims__dma_unregister(r->dma, r->status);
unregister_iq:
	ims__dma_unregister(r->dma, r->iq);
unregister_table:
	ims__dma_unregister(r->dma, r->table);
free_memory:
	remap_free_memory(r);
	return ret;
}

IMS_API int ims_remap_destroy(struct ims_remap *r)
{
	int ret;

	if (!r)
		return 0;
	ret = ims_irq_domain_remove(r->domain);
	if (ret < 0)
		return ret;
	ims__mutex_lock(&r->lock);
	/* Remapping off, queue off: the unit reads none of our memory now. */
	ims__ir_unit_write(r->unit, IMS_IR_REG_GCMD, 0);
	ims__mutex_unlock(&r->lock);
	dma_unregister_all(r);
	remap_free_memory(r);
	return 0;
}

IMS_API struct ims_irq_domain *ims_remap_domain(struct ims_remap *r)
{
	return r ? r->domain : NULL;
}

IMS_API struct ims_remap *ims_remap_from_domain(const struct ims_irq_domain *d)
{
	if (!d || ims_irq_domain_chip(d) != &remap_chip)
		return NULL;
	return ims_irq_domain_host_data(d);
}

IMS_API bool ims_remap_is_virtual(const struct ims_remap *r)
{
	return r && r->virt;
}

IMS_API bool ims_remap_domain_allows_ims(const struct ims_irq_domain *d)
{
	const struct ims_remap *r = ims_remap_from_domain(d);

	return r && !r->virt && (ims_irq_domain_flags(d) & IMS_IRQ_DOMAIN_FLAG_ISOLATED_MSI);
}

/* ---- per-irq queries and posting ---- */

static struct ims_irq_data *irq_level(struct ims_remap *r, unsigned int irq, const char *what)
{
	struct ims_irq_data *d;

	if (!r) {
		ims__error(-EINVAL, "%s: NULL remap", what);
		return NULL;
	}
	if (!ims__irq_desc_get(r->core, irq, what))
		return NULL;
	d = ims_irq_domain_get_irq_data(r->domain, irq);
	if (!d)
		ims__error(-EINVAL, "%s: irq %u has no level in %s", what, irq, ims_irq_domain_name(r->domain));
	return d;
}

IMS_API int ims_remap_irq_index(struct ims_remap *r, unsigned int irq)
{
	struct ims_irq_data *d = irq_level(r, irq, "remap_irq_index");

	return d ? (int)IRQ_INDEX(d->chip_u64) : -ENOENT;
}

IMS_API bool ims_remap_irq_is_posted(struct ims_remap *r, unsigned int irq)
{
	struct ims_irq_data *d = irq_level(r, irq, "remap_irq_is_posted");
	struct ims_irq_desc *desc;
	bool posted;

	if (!d)
		return false;
	desc = ims__irq_data_desc(d);
	ims__spin_lock(&desc->lock);
	posted = d->chip_u64 & IRQ_POSTED;
	ims__spin_unlock(&desc->lock);
	return posted;
}

IMS_API int ims_remap_irq_post(struct ims_remap *r, unsigned int irq, uint64_t pda, uint8_t vector,
			       bool urgent)
{
	struct ims_irq_data *d = irq_level(r, irq, "remap_irq_post");
	struct ims_irte t = { .present = true, .posted = true, .svt = IMS_SVT_SID };
	struct ims_irq_desc *desc;
	uint64_t lo, hi;
	bool reachable, was_posted;
	int ret;

	if (!d)
		return -EINVAL;
	if (pda & (IMS_PID_ALIGN - 1))
		return ims__error(-EINVAL, "remap_irq_post: irq %u: descriptor %#llx is not 64-byte aligned",
				  irq, (unsigned long long)pda);
	ims__rcu_read_lock();
	reachable = ims__dma_map(r->dma, pda, IMS_PID_SIZE) != NULL;
	ims__rcu_read_unlock();
	if (!reachable)
		return ims__error(-EINVAL, "remap_irq_post: irq %u: descriptor %#llx is not in DMA memory",
				  irq, (unsigned long long)pda);
	desc = ims__irq_data_desc(d);
	ims__spin_lock(&desc->lock);
	if (!(d->chip_u64 & IRQ_WRITTEN)) {
		ims__spin_unlock(&desc->lock);
		return ims__error(-EINVAL, "remap_irq_post: irq %u is not active", irq);
	}
	t.vector = vector;
	t.urgent = urgent;
	t.pda = pda;
	t.sid = IRQ_RID(d->chip_u64);
	ret = ims_irte_encode(&t, &lo, &hi);
	if (IMS_NEVER(ret < 0)) {
		ims__spin_unlock(&desc->lock);
		return ret;
	}
	was_posted = d->chip_u64 & IRQ_POSTED;
	ims__mutex_lock(&r->lock);
	irte_write_locked(r, IRQ_INDEX(d->chip_u64), lo, hi);
	invalidate_locked(r, (int)IRQ_INDEX(d->chip_u64), 0);
	if (!was_posted)
		r->posted++;
	d->chip_u64 |= IRQ_POSTED;
	ims__mutex_unlock(&r->lock);
	/* Only now that the unit no longer uses the host vector, give it back. */
	if (!was_posted)
		ims_irq_domain_deactivate_parent(d);
	ims__spin_unlock(&desc->lock);
	return 0;
}

IMS_API int ims_remap_irq_unpost(struct ims_remap *r, unsigned int irq)
{
	struct ims_irq_data *d = irq_level(r, irq, "remap_irq_unpost");
	struct ims_irq_desc *desc;
	uint64_t lo, hi;
	int ret;

	if (!d)
		return -EINVAL;
	desc = ims__irq_data_desc(d);
	ims__spin_lock(&desc->lock);
	if (!(d->chip_u64 & IRQ_POSTED)) {
		ims__spin_unlock(&desc->lock);
		return ims__error(-EINVAL, "remap_irq_unpost: irq %u is not posted", irq);
	}
	ret = ims_irq_domain_activate_parent(d);
	if (ret < 0)
		goto unlock;
	ret = remapped_entry(r, d, &lo, &hi);
	if (ret < 0) {
		ims_irq_domain_deactivate_parent(d);
		goto unlock;
	}
	ims__mutex_lock(&r->lock);
	irte_write_locked(r, IRQ_INDEX(d->chip_u64), lo, hi);
	invalidate_locked(r, (int)IRQ_INDEX(d->chip_u64), 0);
	r->posted--;
	d->chip_u64 &= ~IRQ_POSTED;
	ims__mutex_unlock(&r->lock);
unlock:
	ims__spin_unlock(&desc->lock);
	return ret;
}

/* ---- statistics, checks, faults ---- */

IMS_API void ims_remap_get_stats(struct ims_remap *r, struct ims_remap_stats *out)
{
	memset(out, 0, sizeof(*out));
	if (!r)
		return;
	ims__mutex_lock(&r->lock);
	out->nr_entries = r->nr_entries;
	out->allocated = r->allocated;
	out->posted = r->posted;
	out->writes = r->writes;
	out->invalidations = r->invalidations;
	ims__mutex_unlock(&r->lock);
}

IMS_API int ims_remap_check(struct ims_remap *r)
{
	uint32_t weight, posted = 0, stray = 0;
	int ret = 0;

	if (!r)
		return ims__error(-EINVAL, "remap_check: NULL remap");
	ims__mutex_lock(&r->lock);
	weight = ims__bitmap_weight(r->bitmap, r->nr_entries);
	for (uint32_t i = 0; i < r->nr_entries; i++) {
		struct ims_u128 e = irte_read(r, i);

		if (!(e.lo & 1))
			continue;
		if (!ims__test_bit(r->bitmap, i))
			stray++;
		if ((e.lo >> IMS_IRTE_IM_SHIFT) & 1)
			posted++;
	}
	if (weight != r->allocated)
		ret = ims__error(-EIO, "remap %s: %u entries counted, %u in the bitmap",
				 ims_irq_domain_name(r->domain), r->allocated, weight);
	else if (posted != r->posted)
		ret = ims__error(-EIO, "remap %s: %u posted entries counted, %u in the table",
				 ims_irq_domain_name(r->domain), r->posted, posted);
	else if (stray)
		ret = ims__error(-EIO, "remap %s: %u present entries are not allocated",
				 ims_irq_domain_name(r->domain), stray);
	ims__mutex_unlock(&r->lock);
	return ret;
}

IMS_API int ims_remap_fault_pop(struct ims_remap *r, struct ims_remap_fault *out)
{
	uint64_t lo, hi;

	if (!r || !out)
		return ims__error(-EINVAL, "remap_fault_pop: NULL %s", r ? "out" : "remap");
	ims__mutex_lock(&r->lock);
	hi = ims__ir_unit_read(r->unit, IMS_IR_REG_FRCD_HI);
	if (!(hi & IMS_IR_FRCD_F)) {
		ims__mutex_unlock(&r->lock);
		return 0;
	}
	lo = ims__ir_unit_read(r->unit, IMS_IR_REG_FRCD_LO);
	ims__ir_unit_write(r->unit, IMS_IR_REG_FRCD_HI, IMS_IR_FRCD_F);
	ims__mutex_unlock(&r->lock);
	out->reason = (uint8_t)(hi >> 32);
	out->sid = (uint16_t)hi;
	out->index = (uint32_t)(lo >> 48);
	return 1;
}

/* Test only: make the driver forget its invalidations, to prove that the
 * checks above it (the simulation's invariants) catch stale entries. */
void ims__remap_test_skip_invalidation(struct ims_remap *r, bool on);
void ims__remap_test_skip_invalidation(struct ims_remap *r, bool on)
{
	ims__mutex_lock(&r->lock);
	r->test_skip_invalidation = on;
	ims__mutex_unlock(&r->lock);
}
