/*
 * The GIC model's container: creation, the RAM the OS gives the GIC (a
 * sorted registry of regions, so that a table address the OS or a hostile
 * command names is checked before it is used), the register and memory
 * operations handed to the OS side, and the bus-level access checks.
 */
#include <errno.h>
#include <string.h>

#include "hw/arm/gic_internal.h"
#include "util/alloc.h"
#include "util/log.h"

/* ---- RAM ---- */

/* Region holding [pa, pa + len), or NULL. mem->lock held. */
static struct gic_region *find_locked(struct gic_mem *m, uint64_t pa, uint64_t len)
{
	uint32_t lo = 0, hi = m->nr;

	ims__assert_spin_held(&m->lock);
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (m->r[mid].pa <= pa)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return NULL;
	struct gic_region *r = &m->r[lo - 1];

	if (pa - r->pa >= r->len || r->len - (pa - r->pa) < len)
		return NULL;
	return r;
}

static void *map_locked(struct gic_mem *m, uint64_t pa, uint64_t len)
{
	struct gic_region *r;

	ims__assert_spin_held(&m->lock);
	if (pa & (len - 1))
		return NULL;
	r = find_locked(m, pa, len);
	return r ? (void *)(uintptr_t)pa : NULL;
}

int ims__gic_mem_read64(struct gic_mem *m, uint64_t pa, uint64_t *val)
{
	uint64_t *p;

	ims__spin_lock(&m->lock);
	p = map_locked(m, pa, 8);
	if (p)
		*val = __atomic_load_n(p, __ATOMIC_RELAXED);
	ims__spin_unlock(&m->lock);
	return p ? 0 : -EFAULT;
}

int ims__gic_mem_write64(struct gic_mem *m, uint64_t pa, uint64_t val)
{
	uint64_t *p;

	ims__spin_lock(&m->lock);
	p = map_locked(m, pa, 8);
	if (p)
		__atomic_store_n(p, val, __ATOMIC_RELAXED);
	ims__spin_unlock(&m->lock);
	return p ? 0 : -EFAULT;
}

int ims__gic_mem_read8(struct gic_mem *m, uint64_t pa, uint8_t *val)
{
	uint8_t *p;

	ims__spin_lock(&m->lock);
	p = map_locked(m, pa, 1);
	if (p)
		*val = __atomic_load_n(p, __ATOMIC_RELAXED);
	ims__spin_unlock(&m->lock);
	return p ? 0 : -EFAULT;
}

static void *gic_mem_alloc(void *ctx, size_t size, size_t align, uint64_t *pa)
{
	struct ims_hw_gic *gic = ctx;
	struct gic_mem *m = &gic->mem;
	struct gic_region reg, *grown = NULL, *old = NULL;
	uint32_t i, oldcap = 0;
	char *raw;

	if (!size || !align || (align & (align - 1)) || align > IMS_GICR_PEND_ALIGN ||
	    size > (1u << 30)) {
		ims__error(-EINVAL, "gic: RAM of %zu bytes aligned to %zu is not available", size, align);
		return NULL;
	}
	raw = ims__zalloc(size + align - 1, "gic_ram");
	if (!raw)
		return NULL;
	reg.raw = raw;
	reg.rawlen = size + align - 1;
	reg.pa = ((uint64_t)(uintptr_t)raw + align - 1) & ~(uint64_t)(align - 1);
	reg.len = size;

	ims__mutex_lock(&m->alloc_lock);
	if (m->nr == m->cap) {
		oldcap = m->cap;
		grown = ims__calloc(oldcap ? 2u * oldcap : 16u, sizeof(*grown), "gic_ram_regions");
		if (!grown) {
			ims__mutex_unlock(&m->alloc_lock);
			ims__free(raw, reg.rawlen);
			return NULL;
		}
	}
	ims__spin_lock(&m->lock);
	if (grown) {
		if (m->nr)
			memcpy(grown, m->r, m->nr * sizeof(*grown));
		old = m->r;
		m->r = grown;
		m->cap = oldcap ? 2u * oldcap : 16u;
	}
	for (i = m->nr; i > 0 && m->r[i - 1].pa > reg.pa; i--)
		m->r[i] = m->r[i - 1];
	m->r[i] = reg;
	m->nr++;
	m->bytes += size;
	ims__spin_unlock(&m->lock);
	ims__mutex_unlock(&m->alloc_lock);
	if (old)
		ims__free(old, oldcap * sizeof(*old));
	*pa = reg.pa;
	return (void *)(uintptr_t)reg.pa;
}

static void gic_mem_free(void *ctx, void *p, size_t size)
{
	struct ims_hw_gic *gic = ctx;
	struct gic_mem *m = &gic->mem;
	struct gic_region *r, reg;

	if (!p)
		return;
	ims__mutex_lock(&m->alloc_lock);
	ims__spin_lock(&m->lock);
	r = find_locked(m, (uint64_t)(uintptr_t)p, 1);
	if (!r || r->pa != (uint64_t)(uintptr_t)p || r->len != size) {
		ims__spin_unlock(&m->lock);
		ims__mutex_unlock(&m->alloc_lock);
		ims__warn_once("gic: freeing RAM at %p (%zu bytes) that was not given out", p, size);
		return;
	}
	reg = *r;
	memmove(r, r + 1, (size_t)(&m->r[m->nr] - (r + 1)) * sizeof(*r));
	m->nr--;
	m->bytes -= size;
	ims__spin_unlock(&m->lock);
	ims__mutex_unlock(&m->alloc_lock);
	ims__free(reg.raw, reg.rawlen);
}

uint32_t ims__hw_gic_mem_regions(struct ims_hw_gic *gic, uint64_t *bytes)
{
	uint32_t n;

	ims__spin_lock(&gic->mem.lock);
	n = gic->mem.nr;
	if (bytes)
		*bytes = gic->mem.bytes;
	ims__spin_unlock(&gic->mem.lock);
	return n;
}

/* ---- creation ---- */

int ims__hw_gic_create(const struct ims_hw_gic_params *p, struct ims_hw_gic **out)
{
	struct ims_hw_gic *gic;
	int ret;

	if (!p || !out)
		return ims__error(-EINVAL, "gic: NULL %s", p ? "out" : "params");
	if (!p->nr_cpus || p->nr_cpus > IMS_HW_GIC_MAX_CPUS)
		return ims__error(-EINVAL, "gic: %u CPUs is not 1..%u", p->nr_cpus, IMS_HW_GIC_MAX_CPUS);
	if (p->its_base & 0xffff)
		return ims__error(-EINVAL, "gic: ITS base 0x%llx is not 64 KiB aligned",
				  (unsigned long long)p->its_base);
	if (p->devbits > 16 || p->eventbits > 16)
		return ims__error(-EINVAL, "gic: %u DeviceID bits and %u EventID bits: at most 16 each",
				  p->devbits, p->eventbits);
	if (p->lpi_bits && (p->lpi_bits < 14 || p->lpi_bits > 20))
		return ims__error(-EINVAL, "gic: %u INTID bits is not 14..20", p->lpi_bits);
	gic = ims__zalloc(sizeof(*gic), "gic");
	if (!gic)
		return -ENOMEM;
	gic->p = *p;
	if (!gic->p.devbits)
		gic->p.devbits = 16;
	if (!gic->p.eventbits)
		gic->p.eventbits = 16;
	if (!gic->p.lpi_bits)
		gic->p.lpi_bits = 16;
	gic->nr_intids = 1u << gic->p.lpi_bits;
	ims__mutex_init(&gic->mem.alloc_lock);
	ims__spin_init(&gic->mem.lock);
	ret = -ENOMEM;
	gic->cfg = ims__calloc(gic->nr_intids - IMS_LPI_BASE, 1, "gic_lpi_cfg_cache");
	if (!gic->cfg)
		goto free;
	ret = ims__gic_rd_init(gic);
	if (ret)
		goto free;
	ims__gic_its_init(gic);
	*out = gic;
	return 0;
free:
	ims__free(gic->cfg, gic->nr_intids - IMS_LPI_BASE);
	ims__mutex_destroy(&gic->mem.alloc_lock);
	ims__free(gic, sizeof(*gic));
	return ret;
}

void ims__hw_gic_destroy(struct ims_hw_gic *gic)
{
	if (!gic)
		return;
	for (uint32_t i = 0; i < gic->mem.nr; i++)
		ims__free(gic->mem.r[i].raw, gic->mem.r[i].rawlen);
	ims__free(gic->mem.r, gic->mem.cap * sizeof(*gic->mem.r));
	ims__gic_rd_fini(gic);
	ims__free(gic->cfg, gic->nr_intids - IMS_LPI_BASE);
	ims__mutex_destroy(&gic->mem.alloc_lock);
	ims__free(gic, sizeof(*gic));
}

uint32_t ims__hw_gic_nr_intids(const struct ims_hw_gic *gic)
{
	return gic->nr_intids;
}

uint8_t ims__hw_gic_lpi_cached_cfg(struct ims_hw_gic *gic, uint32_t intid)
{
	if (intid < IMS_LPI_BASE || intid >= gic->nr_intids)
		return 0;
	return __atomic_load_n(&gic->cfg[intid - IMS_LPI_BASE], __ATOMIC_RELAXED);
}

/* ---- bus-level checks and the OS-facing operations ---- */

static int check_access(const char *frame, uint32_t off, unsigned int size, uint32_t frame_size)
{
	if (size != 4 && size != 8)
		return ims__error(-EINVAL, "%s: %u-byte access at 0x%x: only 4 and 8", frame, size, off);
	if (off & (size - 1))
		return ims__error(-EINVAL, "%s: %u-byte access at 0x%x: not aligned", frame, size, off);
	if (off >= frame_size || frame_size - off < size)
		return ims__error(-EINVAL, "%s: access at 0x%x: outside the frame", frame, off);
	return 0;
}

int ims__hw_gic_its_access(struct ims_hw_gic *gic, uint32_t off, unsigned int size, uint64_t *val,
			   bool write)
{
	int ret = check_access("ITS", off, size, IMS_GITS_FRAME_SIZE);

	if (ret)
		return ret;
	if (write) {
		if (size == 4)
			*val &= 0xffffffffu;
		ims__gic_its_write(gic, off, size, *val);
	} else {
		*val = ims__gic_its_read(gic, off, size);
	}
	return 0;
}

int ims__hw_gic_rdist_access(struct ims_hw_gic *gic, uint32_t cpu, uint32_t off, unsigned int size,
			     uint64_t *val, bool write)
{
	int ret;

	if (cpu >= gic->p.nr_cpus)
		return ims__error(-EINVAL, "GICR: no redistributor for CPU %u", cpu);
	ret = check_access("GICR", off, size, IMS_GICR_FRAME_SIZE);
	if (ret)
		return ret;
	if (write) {
		if (size == 4)
			*val &= 0xffffffffu;
		ims__gic_rd_write(gic, cpu, off, size, *val);
	} else {
		*val = ims__gic_rd_read(gic, cpu, off, size);
	}
	return 0;
}

static uint64_t op_its_read(void *ctx, uint32_t off, unsigned int size)
{
	uint64_t v = 0;

	ims__hw_gic_its_access(ctx, off, size, &v, false);
	return v;
}

static void op_its_write(void *ctx, uint32_t off, unsigned int size, uint64_t val)
{
	ims__hw_gic_its_access(ctx, off, size, &val, true);
}

static uint64_t op_rd_read(void *ctx, uint32_t cpu, uint32_t off, unsigned int size)
{
	uint64_t v = 0;

	ims__hw_gic_rdist_access(ctx, cpu, off, size, &v, false);
	return v;
}

static void op_rd_write(void *ctx, uint32_t cpu, uint32_t off, unsigned int size, uint64_t val)
{
	ims__hw_gic_rdist_access(ctx, cpu, off, size, &val, true);
}

static uint64_t op_icc_read(void *ctx, uint32_t cpu, enum ims_icc_reg reg)
{
	return ims__gic_icc_read(ctx, cpu, reg);
}

static void op_icc_write(void *ctx, uint32_t cpu, enum ims_icc_reg reg, uint64_t val)
{
	ims__gic_icc_write(ctx, cpu, reg, val);
}

const struct ims_arm_gic_ops ims__hw_gic_ops = {
	.its_read = op_its_read,
	.its_write = op_its_write,
	.rdist_read = op_rd_read,
	.rdist_write = op_rd_write,
	.icc_read = op_icc_read,
	.icc_write = op_icc_write,
	.mem_alloc = gic_mem_alloc,
	.mem_free = gic_mem_free,
};

void ims__hw_gic_msi_sink(struct ims_hw_gic *gic, struct ims_hw_msi_sink *out)
{
	out->fn = ims__gic_its_msi;
	out->ctx = gic;
}
