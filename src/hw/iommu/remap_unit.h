/*
 * The interrupt remapping unit of the model machine. It takes the memory
 * writes that devices put on the fabric toward the interrupt range, decodes
 * them, looks up the entry of the remapping table that software placed in
 * DMA memory, checks it, and hands an interrupt to the APIC bus, or posts it
 * into a posted-interrupt descriptor, or records a fault. Software reaches it
 * only through its registers (below) and the memory it points the unit at:
 * the table, an invalidation queue, posted descriptors, status words.
 *
 * Register map (offsets; widths in the comments). Bits follow VT-d where
 * VT-d has them.
 */
#ifndef IMS_HW_IOMMU_REMAP_UNIT_H
#define IMS_HW_IOMMU_REMAP_UNIT_H

#include <stdbool.h>
#include <stdint.h>

#include "hw/bus.h"
#include "hw/dma.h"
#include "hw/iommu/irte.h"

#define IMS_IR_REG_CAP 0x08		/* 64, read only: capabilities */
#define IMS_IR_CAP_CM (1ull << 7)	/* caching mode: a virtual unit */
#define IMS_IR_CAP_EIM (1ull << 4)	/* 32-bit x2APIC destinations */
#define IMS_IR_CAP_PI (1ull << 59)	/* posted interrupts */

#define IMS_IR_REG_GCMD 0x18		/* 32, write only: commands */
#define IMS_IR_REG_GSTS 0x1c		/* 32, read only: status */
#define IMS_IR_GCMD_CFI (1u << 23)	/* let compatibility format pass */
#define IMS_IR_GCMD_SIRTP (1u << 24)	/* latch IRTA (one shot; GSTS: IRTPS) */
#define IMS_IR_GCMD_IRE (1u << 25)	/* remapping enable */
#define IMS_IR_GCMD_QIE (1u << 26)	/* invalidation queue enable */

#define IMS_IR_REG_FSTS 0x34		/* 32: fault status; PFO and IQE are write 1 to clear */
#define IMS_IR_FSTS_PFO (1u << 0)	/* a fault was lost: the log was full */
#define IMS_IR_FSTS_PPF (1u << 1)	/* read only: the fault log holds records */
#define IMS_IR_FSTS_IQE (1u << 4)	/* invalidation queue error; IQH stays on it */

#define IMS_IR_REG_IQH 0x80		/* 64, read only: head, bits 18:4 = descriptor index */
#define IMS_IR_REG_IQT 0x88		/* 64: tail; a write processes the queue up to it */
#define IMS_IR_REG_IQA 0x90		/* 64: queue base (4 KiB aligned) | QS in 2:0 */
#define IMS_IR_IQ_SHIFT 4
#define IMS_IR_IQA_QS_MASK 0x7ull	/* 256 << QS descriptors of 16 bytes */

#define IMS_IR_REG_IRTA 0xb8		/* 64: table base (4 KiB aligned) | EIME | S */
#define IMS_IR_IRTA_S_MASK 0xfull	/* 2^(S + 1) entries */
#define IMS_IR_IRTA_EIME (1ull << 11)	/* x2APIC mode: 32-bit destinations */
#define IMS_IR_IRTA_ADDR_MASK (~0xfffull)

#define IMS_IR_REG_FRCD_LO 0x400	/* 64: oldest fault record, bits 63:48 index */
#define IMS_IR_REG_FRCD_HI 0x408	/* 64: bit 63 F (write 1 pops), 39:32 reason, 15:0 SID */
#define IMS_IR_FRCD_F (1ull << 63)

/* Invalidation descriptors (128 bits, lo then hi). */
#define IMS_IR_QI_TYPE_MASK 0xfull
#define IMS_IR_QI_IEC 0x4		/* interrupt entry cache invalidate */
#define IMS_IR_QI_IEC_INDEX (1ull << 4)	/* 0 global, 1 by index and mask */
#define IMS_IR_QI_IEC_IM_SHIFT 27	/* bits 31:27: 2^IM entries */
#define IMS_IR_QI_IEC_IM_MASK 0x1full
#define IMS_IR_QI_IEC_IIDX_SHIFT 32	/* bits 47:32 */
#define IMS_IR_QI_IEC_IIDX_MASK 0xffffull
#define IMS_IR_QI_WAIT 0x5		/* invalidation wait */
#define IMS_IR_QI_WAIT_SW (1ull << 5)	/* write status data to the address in hi */
#define IMS_IR_QI_WAIT_DATA_SHIFT 32

struct ims_hw_ir_unit;

enum {
	IMS_HW_IR_VIRTUAL = 1u << 0,	/* caching mode (CAP.CM): a virtual unit */
	IMS_HW_IR_NO_POSTED = 1u << 1,	/* no posted interrupts (CAP.PI clear) */
	IMS_HW_IR_NO_CACHE = 1u << 2,	/* read the table on every request */
	IMS_HW_IR_EXT_DEST = 1u << 3,	/* compatibility format: address bits 11:5
					 * are APIC ID bits 14:8 */
};

struct ims_hw_ir_unit_config {
	const char *name;
	struct ims_hw_dma *dma;		/* required: what the unit may read */
	struct ims_hw_apic_sink apic;	/* required: where interrupts go */
	uint16_t rid_first, rid_last;	/* requester ids behind the unit */
	uint32_t cache_entries;		/* entry cache slots, a power of two; 0: 256 */
	uint32_t fault_log;		/* fault records kept; 0: 16 */
	uint32_t flags;			/* IMS_HW_IR_* */
};

int ims__ir_unit_create(const struct ims_hw_ir_unit_config *cfg, struct ims_hw_ir_unit **out);
void ims__ir_unit_destroy(struct ims_hw_ir_unit *u);
bool ims__ir_unit_covers(const struct ims_hw_ir_unit *u, uint16_t rid);
const char *ims__ir_unit_name(const struct ims_hw_ir_unit *u);

/* Register access: 32-bit registers use the low half. Unknown offsets read 0. */
uint64_t ims__ir_unit_read(struct ims_hw_ir_unit *u, uint32_t off);
void ims__ir_unit_write(struct ims_hw_ir_unit *u, uint32_t off, uint64_t val);

enum ims_ir_outcome_kind {
	IMS_IR_OUT_COMPAT = 0,		/* compatibility format passed through */
	IMS_IR_OUT_REMAPPED = 1,	/* remapped to irq */
	IMS_IR_OUT_POSTED = 2,		/* PIR bit set (notified says if NV was sent) */
	IMS_IR_OUT_FAULT = 3,		/* blocked; reason says why */
};

/* What became of one request (for tests and tracing). */
struct ims_ir_outcome {
	enum ims_ir_outcome_kind kind;
	uint8_t reason;			/* enum ims_ir_fault_reason, for FAULT */
	bool recorded;			/* the fault went to the log (FPD clear, room) */
	bool cache_hit;			/* the entry came from the entry cache */
	bool notified;			/* posted: notification sent */
	uint32_t index;			/* entry index, when decoded */
	struct ims_hw_apic_irq irq;	/* what went to the APIC bus, if anything */
	int accepted;			/* what the APIC bus returned */
};

/*
 * The data path: one write from the fabric. Returns 0 when delivered (or
 * posted), -EIO when blocked by a fault, -EINVAL when the write is not an
 * interrupt (outside 0xFEExxxxx). out may be NULL. Lock-free with respect to
 * software's locks; safe from any number of threads.
 */
int ims__ir_unit_handle(struct ims_hw_ir_unit *u, const struct ims_hw_msi_write *w,
			struct ims_ir_outcome *out);
/* The unit as a fabric sink (for the machine model). */
struct ims_hw_msi_sink ims__ir_unit_msi_sink(struct ims_hw_ir_unit *u);

struct ims_ir_fault_record {
	uint8_t reason;
	uint16_t sid;
	uint32_t index;
};

struct ims_ir_unit_stats {
	uint64_t compat, remapped, posted, notifications;
	uint64_t cache_hits, cache_misses;
	uint64_t faults[IMS_IR_FAULT_NR];	/* by reason - IMS_IR_FAULT_FIRST, recorded or not */
	uint64_t fpd_suppressed;		/* faults not recorded because of FPD */
	uint64_t log_overflow;			/* faults lost because the log was full */
	uint64_t inv_global, inv_index, inv_wait, iq_errors;
};
void ims__ir_unit_stats(struct ims_hw_ir_unit *u, struct ims_ir_unit_stats *out);

/* Pick the unit that covers rid among n, or NULL (a small fabric router). */
struct ims_hw_ir_unit *ims__ir_route(struct ims_hw_ir_unit *const *units, unsigned int n, uint16_t rid);

#endif
