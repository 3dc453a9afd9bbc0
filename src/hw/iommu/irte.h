/*
 * Formats of interrupt remapping, as both sides know them: the interrupt
 * remapping table entry (IRTE) in remapped and posted form, the remappable
 * and compatibility MSI formats, the posted-interrupt descriptor, and the
 * fault reasons of the remapping unit. Only offsets, masks and little-endian
 * accessors live here; the remapping unit (remap_unit.c) and the remapping
 * driver (src/os/remap/) each build their behaviour on them, the way a
 * hardware model and a driver both follow one specification.
 */
#ifndef IMS_HW_IOMMU_IRTE_H
#define IMS_HW_IOMMU_IRTE_H

#include <stdbool.h>
#include <stdint.h>

/* Memory holds little-endian words; these convert at every access. */
static inline uint64_t ims__le64_to_cpu(uint64_t v)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	return __builtin_bswap64(v);
#else
	return v;
#endif
}
#define ims__cpu_to_le64 ims__le64_to_cpu

static inline uint64_t ims__field_get(uint64_t v, unsigned int shift, uint64_t mask)
{
	return (v >> shift) & mask;
}

static inline uint64_t ims__field_set(uint64_t v, unsigned int shift, uint64_t mask, uint64_t f)
{
	return (v & ~(mask << shift)) | ((f & mask) << shift);
}

/* ---- IRTE: 128 bits as (lo = bits 63:0, hi = bits 127:64) ---- */

#define IMS_IRTE_SIZE 16u
#define IMS_IRTE_MAX_ENTRIES 65536u

/* Low word, both formats. */
#define IMS_IRTE_P_SHIFT 0		/* present */
#define IMS_IRTE_FPD_SHIFT 1		/* fault processing disable */
#define IMS_IRTE_AVAIL_SHIFT 8		/* bits 11:8, software's */
#define IMS_IRTE_AVAIL_MASK 0xfull
#define IMS_IRTE_IM_SHIFT 15		/* 0 remapped, 1 posted */
#define IMS_IRTE_VECTOR_SHIFT 16	/* bits 23:16: vector, or virtual vector */
#define IMS_IRTE_VECTOR_MASK 0xffull

/* Low word, remapped format. */
#define IMS_IRTE_DM_SHIFT 2		/* destination mode: 1 logical */
#define IMS_IRTE_RH_SHIFT 3		/* redirection hint */
#define IMS_IRTE_TM_SHIFT 4		/* trigger mode: 1 level */
#define IMS_IRTE_DLM_SHIFT 5		/* bits 7:5 delivery mode */
#define IMS_IRTE_DLM_MASK 0x7ull
#define IMS_IRTE_DST_SHIFT 32		/* bits 63:32 destination */
#define IMS_IRTE_DST_MASK 0xffffffffull
#define IMS_IRTE_XAPIC_DST_SHIFT 40	/* xAPIC: APIC ID in bits 47:40 */
#define IMS_IRTE_XAPIC_DST_MASK 0xffull
#define IMS_IRTE_REMAP_RSVD_LO 0x00000000ff007000ull	/* bits 31:24, 14:12 */
/* In xAPIC mode, destination bits 39:32 and 63:48 are reserved too. */
#define IMS_IRTE_XAPIC_RSVD_LO 0xffff00ff00000000ull

/* Low word, posted format. */
#define IMS_IRTE_URG_SHIFT 14		/* urgent */
#define IMS_IRTE_PDA_LO_SHIFT 38	/* bits 63:38: descriptor address 31:6 */
#define IMS_IRTE_PDA_LO_MASK 0x3ffffffull
#define IMS_IRTE_POST_RSVD_LO 0x0000003fff0030fcull	/* bits 37:24, 13:12, 7:2 */

/* High word (bit n here is IRTE bit 64 + n), both formats. */
#define IMS_IRTE_SID_SHIFT 0		/* bits 79:64 source id */
#define IMS_IRTE_SID_MASK 0xffffull
#define IMS_IRTE_SQ_SHIFT 16		/* bits 81:80 source-id qualifier */
#define IMS_IRTE_SQ_MASK 0x3ull
#define IMS_IRTE_SVT_SHIFT 18		/* bits 83:82 source validation type */
#define IMS_IRTE_SVT_MASK 0x3ull
#define IMS_IRTE_REMAP_RSVD_HI 0xfffffffffff00000ull	/* bits 127:84 */
#define IMS_IRTE_PDA_HI_SHIFT 32	/* posted: bits 127:96 address 63:32 */
#define IMS_IRTE_PDA_HI_MASK 0xffffffffull
#define IMS_IRTE_POST_RSVD_HI 0x00000000fff00000ull	/* bits 95:84 */

enum ims_irte_svt {
	IMS_SVT_NONE = 0,	/* no check */
	IMS_SVT_SID = 1,	/* requester id equals SID in the bits SQ keeps */
	IMS_SVT_BUS = 2,	/* requester bus within SID 15:8 .. SID 7:0 */
	IMS_SVT_RSVD = 3,
};

/* SQ: which low bits of the function number the SID compare ignores. */
static inline uint16_t ims__irte_sq_mask(unsigned int sq)
{
	static const uint16_t keep[4] = { 0xffff, 0xfffb, 0xfff9, 0xfff8 };

	return keep[sq & 3];
}

/* Is delivery mode dlm one the APIC bus knows (3 and 6 are reserved)? */
static inline bool ims__dlm_valid(unsigned int dlm)
{
	return dlm != 3 && dlm != 6 && dlm <= 7;
}

/* ---- MSI formats ---- */

#define IMS_MSI_ADDR_BASE 0xfee00000u
#define IMS_MSI_ADDR_BASE_MASK 0xfff00000u
#define IMS_MSI_ADDR_IF_SHIFT 4		/* interrupt format: 1 remappable */

/* Compatibility format. */
#define IMS_MSI_ADDR_DM_SHIFT 2
#define IMS_MSI_ADDR_RH_SHIFT 3
#define IMS_MSI_ADDR_EXT_DEST_SHIFT 5	/* bits 11:5, APIC ID bits 14:8 */
#define IMS_MSI_ADDR_EXT_DEST_MASK 0x7fu
#define IMS_MSI_ADDR_DEST_SHIFT 12	/* bits 19:12 */
#define IMS_MSI_ADDR_DEST_MASK 0xffu
#define IMS_MSI_DATA_VECTOR_MASK 0xffu
#define IMS_MSI_DATA_DLM_SHIFT 8
#define IMS_MSI_DATA_DLM_MASK 0x7u
#define IMS_MSI_DATA_LEVEL_SHIFT 14
#define IMS_MSI_DATA_TM_SHIFT 15

/* Remappable format. */
#define IMS_MSI_ADDR_HANDLE15_SHIFT 2	/* handle bit 15 */
#define IMS_MSI_ADDR_SHV_SHIFT 3
#define IMS_MSI_ADDR_HANDLE_SHIFT 5	/* bits 19:5: handle 14:0 */
#define IMS_MSI_ADDR_HANDLE_MASK 0x7fffu
#define IMS_MSI_DATA_SUBHANDLE_MASK 0xffffu

static inline bool ims__msi_is_interrupt(uint64_t addr)
{
	return (addr >> 32) == 0 && (addr & IMS_MSI_ADDR_BASE_MASK) == IMS_MSI_ADDR_BASE;
}

static inline bool ims__msi_is_remappable(uint32_t addr)
{
	return (addr >> IMS_MSI_ADDR_IF_SHIFT) & 1;
}

static inline uint32_t ims__msi_remap_addr(uint16_t handle, bool shv)
{
	return IMS_MSI_ADDR_BASE | (uint32_t)(handle & IMS_MSI_ADDR_HANDLE_MASK) << IMS_MSI_ADDR_HANDLE_SHIFT |
	       1u << IMS_MSI_ADDR_IF_SHIFT | (uint32_t)shv << IMS_MSI_ADDR_SHV_SHIFT |
	       (uint32_t)(handle >> 15) << IMS_MSI_ADDR_HANDLE15_SHIFT;
}

static inline uint16_t ims__msi_remap_handle(uint32_t addr)
{
	return (uint16_t)(((addr >> IMS_MSI_ADDR_HANDLE_SHIFT) & IMS_MSI_ADDR_HANDLE_MASK) |
			  ((addr >> IMS_MSI_ADDR_HANDLE15_SHIFT) & 1) << 15);
}

static inline bool ims__msi_remap_shv(uint32_t addr)
{
	return (addr >> IMS_MSI_ADDR_SHV_SHIFT) & 1;
}

/* ---- Posted-interrupt descriptor: 64 bytes, 64-byte aligned ---- */

#define IMS_PID_SIZE 64u
#define IMS_PID_ALIGN 64u
#define IMS_PID_PIR_WORDS 4u		/* words 0-3: PIR, one bit per vector */
#define IMS_PID_CTL_WORD 4u		/* word 4: bits 319:256 */
#define IMS_PID_ON_SHIFT 0		/* outstanding notification */
#define IMS_PID_SN_SHIFT 1		/* suppress notification */
#define IMS_PID_NV_SHIFT 16		/* bits 279:272 notification vector */
#define IMS_PID_NV_MASK 0xffull
#define IMS_PID_NDST_SHIFT 32		/* bits 319:288 notification destination */
#define IMS_PID_NDST_MASK 0xffffffffull
/* In xAPIC mode the APIC ID sits in NDST bits 15:8. */
#define IMS_PID_NDST_XAPIC_SHIFT 8

/* ---- Fault reasons, numbered as in the VT-d fault reason table ---- */

enum ims_ir_fault_reason {
	IMS_IR_FAULT_REQ_RESERVED = 0x20,	/* reserved field set in the request */
	IMS_IR_FAULT_INDEX = 0x21,		/* index beyond the table size */
	IMS_IR_FAULT_NOT_PRESENT = 0x22,	/* entry present bit clear */
	IMS_IR_FAULT_TABLE_ACCESS = 0x23,	/* table not in DMA memory */
	IMS_IR_FAULT_ENTRY_RESERVED = 0x24,	/* reserved bits set in the entry */
	IMS_IR_FAULT_COMPAT_BLOCKED = 0x25,	/* compatibility format blocked */
	IMS_IR_FAULT_SID = 0x26,		/* source-id validation failed */
	IMS_IR_FAULT_PID_ACCESS = 0x27,		/* posted descriptor not in DMA memory */
};
#define IMS_IR_FAULT_FIRST 0x20
#define IMS_IR_FAULT_NR 8

#endif
