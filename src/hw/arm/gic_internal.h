/*
 * The GIC model's private structures, shared by its three files: the RAM
 * registry (gic.c), the redistributors and CPU interfaces (gic_rdist.c)
 * and the ITS (gic_its.c). The in-memory table entries are the model's own
 * layouts (the architecture leaves them to the implementation), 8 bytes
 * each, little-endian.
 */
#ifndef IMS_HW_ARM_GIC_INTERNAL_H
#define IMS_HW_ARM_GIC_INTERNAL_H

#include <stdatomic.h>

#include "hw/arm/gic.h"
#include "util/lock.h"

/* Device table entry: valid, EventID bits - 1, ITT address. */
#define GIC_DTE_VALID		(1ull << 0)
#define GIC_DTE_SIZE_SHIFT	1
#define GIC_DTE_SIZE_MASK	0x1full
#define GIC_DTE_ITT_MASK	0x000fffffffffff00ull
/* Interrupt translation table entry: valid, collection, LPI. */
#define GIC_ITE_VALID		(1ull << 63)
#define GIC_ITE_ICID_SHIFT	32
#define GIC_ITE_ICID_MASK	0xffffull
#define GIC_ITE_LPI_MASK	0xffffffffull
/* Collection table entry: valid, target processor number. */
#define GIC_CTE_VALID		(1ull << 63)
#define GIC_CTE_TARGET_MASK	0xffffffffull
#define GIC_ENTRY_SIZE		8u
#define GIC_ITT_ALIGN		256u

_Static_assert(IMS_ITS_CMD_SIZE == 4 * sizeof(uint64_t), "an ITS command is four 64-bit words");
_Static_assert(GIC_ENTRY_SIZE == sizeof(uint64_t), "table entries are one 64-bit word");

#define GIC_MAX_ACTIVE 64u	/* nested acknowledged LPIs per CPU */

/* RAM the OS gave the GIC: physical address == host address. */
struct gic_region {
	uint64_t pa;
	uint64_t len;
	void *raw;		/* the allocation that holds it */
	size_t rawlen;
};

struct gic_mem {
	/* alloc_lock serializes allocation and free (control path only). */
	struct ims_mutex alloc_lock;
	/* lock guards r[] and nr: taken for each access the GIC makes. */
	ims_spinlock_t lock;
	struct gic_region *r;	/* sorted by pa */
	uint32_t nr, cap;
	uint64_t bytes;
};

struct gic_rdist {
	/* lock guards every member below. */
	ims_spinlock_t lock;
	uint32_t ctlr;
	uint64_t propbaser, pendbaser;
	uint64_t *pending;	/* one bit per INTID */
	uint64_t *summary;	/* one bit per non-zero word of pending */
	uint32_t nr_pending;
	uint8_t pmr;
	bool grpen1;
	uint32_t depth;		/* acknowledged, not yet EOIed */
	uint8_t act_prio[GIC_MAX_ACTIVE];
	uint32_t act_intid[GIC_MAX_ACTIVE];
	struct ims_hw_rdist_stats st;
};

struct gic_its {
	/* lock guards the registers, command processing, translation, stats. */
	ims_spinlock_t lock;
	uint32_t ctlr;
	uint64_t cbaser, cwriter, creadr;
	uint64_t baser[IMS_GITS_NR_BASER];
	uint32_t err_code, err_offset;
	uint32_t fault_code, fault_devid, fault_eventid;
	struct ims_hw_its_stats st;
};

struct ims_hw_gic {
	struct ims_hw_gic_params p;
	uint32_t nr_intids;		/* 1 << lpi_bits */
	struct gic_mem mem;
	struct gic_its its;
	/*
	 * The LPI configuration cache, shared by the redistributors: entry
	 * intid - 8192. Loaded from RAM when LPIs are enabled and by INV and
	 * INVALL only; a change in RAM without one of those is not seen.
	 */
	uint8_t *cfg;		/* accessed with __atomic builtins */
	struct gic_rdist *rd;
};

/* RAM accesses of the GIC: naturally aligned, wholly inside one region. */
int ims__gic_mem_read64(struct gic_mem *m, uint64_t pa, uint64_t *val);
int ims__gic_mem_write64(struct gic_mem *m, uint64_t pa, uint64_t val);
int ims__gic_mem_read8(struct gic_mem *m, uint64_t pa, uint8_t *val);

/* Redistributor side, called by the ITS with its lock held. */
void ims__gic_rd_set_pending(struct ims_hw_gic *gic, uint32_t cpu, uint32_t intid);
bool ims__gic_rd_clear_pending(struct ims_hw_gic *gic, uint32_t cpu, uint32_t intid);
void ims__gic_rd_inv(struct ims_hw_gic *gic, uint32_t cpu, uint32_t intid);
void ims__gic_rd_invall(struct ims_hw_gic *gic, uint32_t cpu);
int ims__gic_rd_init(struct ims_hw_gic *gic);
void ims__gic_rd_fini(struct ims_hw_gic *gic);
uint64_t ims__gic_rd_read(struct ims_hw_gic *gic, uint32_t cpu, uint32_t off, unsigned int size);
void ims__gic_rd_write(struct ims_hw_gic *gic, uint32_t cpu, uint32_t off, unsigned int size,
		       uint64_t val);
uint64_t ims__gic_icc_read(struct ims_hw_gic *gic, uint32_t cpu, enum ims_icc_reg reg);
void ims__gic_icc_write(struct ims_hw_gic *gic, uint32_t cpu, enum ims_icc_reg reg, uint64_t val);

/* ITS side. */
void ims__gic_its_init(struct ims_hw_gic *gic);
uint64_t ims__gic_its_read(struct ims_hw_gic *gic, uint32_t off, unsigned int size);
void ims__gic_its_write(struct ims_hw_gic *gic, uint32_t off, unsigned int size, uint64_t val);
void ims__gic_its_msi(void *ctx, const struct ims_hw_msi_write *w);

#endif
