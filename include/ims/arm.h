/*
 * ims/arm.h - the ARM platform: the register and command layouts of a
 * GICv3 Interrupt Translation Service (ITS) and its redistributors, shared
 * by the model (src/hw/arm) and the driver, and the ITS driver: an MSI
 * parent domain that translates by DeviceID, so that the same per-device
 * MSI-X and IMS domains (ims/msi.h) run on ARM unchanged.
 *
 * A device writes its EventID to GITS_TRANSLATER; the ITS takes the
 * DeviceID from the requester id, looks the device up in its device table,
 * the EventID in the device's interrupt translation table (ITT), which
 * names an LPI and a collection, and the collection in the collection
 * table, which names a redistributor (one per CPU). The redistributor holds
 * the LPI pending until its CPU acknowledges it. docs/arm.md has the
 * details; the layouts of the tables in memory are the model's own (the
 * architecture leaves them to the implementation).
 */
#ifndef IMS_ARM_H
#define IMS_ARM_H

#include <ims/irqdomain.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- ITS registers: offsets from the ITS base; 32- or 64-bit accesses ---- */

#define IMS_GITS_CTLR			0x0000u	/* 32 */
#define  IMS_GITS_CTLR_ENABLED		(1u << 0)
#define  IMS_GITS_CTLR_QUIESCENT	(1u << 31)
#define IMS_GITS_IIDR			0x0004u	/* 32 */
#define IMS_GITS_TYPER			0x0008u	/* 64 */
#define  IMS_GITS_TYPER_PHYSICAL	(1ull << 0)
#define  IMS_GITS_TYPER_ITT_ENTRY_SHIFT	4	/* 7:4 ITT entry bytes - 1 */
#define  IMS_GITS_TYPER_ITT_ENTRY_MASK	0xfull
#define  IMS_GITS_TYPER_IDBITS_SHIFT	8	/* 12:8 EventID bits - 1 */
#define  IMS_GITS_TYPER_IDBITS_MASK	0x1full
#define  IMS_GITS_TYPER_DEVBITS_SHIFT	13	/* 17:13 DeviceID bits - 1 */
#define  IMS_GITS_TYPER_DEVBITS_MASK	0x1full
#define  IMS_GITS_TYPER_PTA		(1ull << 19)	/* 0: RDbase is a processor number */
#define  IMS_GITS_TYPER_HCC_SHIFT	24	/* 31:24 collections held in hardware */
#define IMS_GITS_CBASER			0x0080u	/* 64 */
#define  IMS_GITS_CBASER_VALID		(1ull << 63)
#define  IMS_GITS_CBASER_ADDR_MASK	0x000ffffffffff000ull	/* 51:12 */
#define  IMS_GITS_CBASER_SIZE_MASK	0xffull	/* 4 KiB pages - 1 */
#define IMS_GITS_CWRITER		0x0088u	/* 64 */
#define  IMS_GITS_CWRITER_RETRY		(1ull << 0)
#define IMS_GITS_CREADR			0x0090u	/* 64 */
#define  IMS_GITS_CREADR_STALLED	(1ull << 0)
#define  IMS_GITS_CQ_OFFSET_MASK	0x00000000000fffe0ull	/* 19:5 */
#define IMS_GITS_BASER(n)		(0x0100u + 8u * (n))	/* n = 0..7, 64 */
#define  IMS_GITS_NR_BASER		8
#define  IMS_GITS_BASER_VALID		(1ull << 63)
#define  IMS_GITS_BASER_INDIRECT	(1ull << 62)
#define  IMS_GITS_BASER_TYPE_SHIFT	56	/* 58:56 */
#define  IMS_GITS_BASER_TYPE_MASK	0x7ull
#define   IMS_GITS_BASER_TYPE_NONE	0
#define   IMS_GITS_BASER_TYPE_DEVICE	1
#define   IMS_GITS_BASER_TYPE_COLLECTION 4
#define  IMS_GITS_BASER_ENTRY_SHIFT	48	/* 52:48 entry bytes - 1 */
#define  IMS_GITS_BASER_ENTRY_MASK	0x1full
#define  IMS_GITS_BASER_ADDR_MASK	0x0000fffffffff000ull	/* 47:12 */
#define  IMS_GITS_BASER_PAGE_SHIFT	8	/* 9:8: 0 = 4 KiB (the model's only size) */
#define  IMS_GITS_BASER_SIZE_MASK	0xffull	/* pages - 1 */
/*
 * The model's error and fault record, in the IMPLEMENTATION DEFINED range
 * (0xC000-0xFFCF); read-only. Codes are IMS_ITS_ERR_* below, with the
 * command number in bits 15:8 (0 for a translation fault).
 */
#define IMS_GITS_ERR_CODE		0xc000u	/* 32: last command error */
#define IMS_GITS_ERR_OFFSET		0xc004u	/* 32: its queue offset */
#define IMS_GITS_ERR_COUNT		0xc008u	/* 64: commands refused */
#define IMS_GITS_FAULT_CODE		0xc010u	/* 32: last translation fault */
#define IMS_GITS_FAULT_DEVID		0xc014u	/* 32 */
#define IMS_GITS_FAULT_EVENTID		0xc018u	/* 32 */
#define IMS_GITS_FAULT_COUNT		0xc020u	/* 64: translations refused */
/* Second 64 KiB frame: the doorbell, a 32-bit write of the EventID. */
#define IMS_GITS_TRANSLATER		0x10040u
#define IMS_GITS_FRAME_SIZE		0x20000u

/* ---- ITS commands: 32 bytes, four little-endian 64-bit words ---- */

#define IMS_ITS_CMD_SIZE		32u
#define IMS_ITS_CMD_MOVI		0x01
#define IMS_ITS_CMD_INT			0x03
#define IMS_ITS_CMD_CLEAR		0x04
#define IMS_ITS_CMD_SYNC		0x05
#define IMS_ITS_CMD_MAPD		0x08
#define IMS_ITS_CMD_MAPC		0x09
#define IMS_ITS_CMD_MAPTI		0x0a
#define IMS_ITS_CMD_MAPI		0x0b
#define IMS_ITS_CMD_INV			0x0c
#define IMS_ITS_CMD_INVALL		0x0d
#define IMS_ITS_CMD_DISCARD		0x0f
/* word 0: 7:0 command, 63:32 DeviceID */
#define IMS_ITS_CMD_DEVID_SHIFT		32
/* word 1: 31:0 EventID, 63:32 pINTID (MAPTI); 4:0 EventID bits - 1 (MAPD) */
#define IMS_ITS_CMD_PINTID_SHIFT	32
#define IMS_ITS_CMD_SIZE_MASK		0x1full
/* word 2: 15:0 ICID; 50:16 RDbase (MAPC, SYNC); 51:8 ITT address (MAPD); 63 valid */
#define IMS_ITS_CMD_ICID_MASK		0xffffull
#define IMS_ITS_CMD_RDBASE_SHIFT	16
#define IMS_ITS_CMD_RDBASE_MASK		0x7ffffffffull	/* 35 bits */
#define IMS_ITS_CMD_ITT_MASK		0x000fffffffffff00ull	/* 51:8 */
#define IMS_ITS_CMD_VALID		(1ull << 63)

/* The model's error codes (low byte of IMS_GITS_ERR_CODE / FAULT_CODE). */
enum ims_its_err {
	IMS_ITS_ERR_NONE = 0,
	IMS_ITS_ERR_DEVID_RANGE = 0x01,		/* DeviceID beyond the device table */
	IMS_ITS_ERR_DEV_UNMAPPED = 0x02,	/* no MAPD for the DeviceID */
	IMS_ITS_ERR_EVENTID_RANGE = 0x03,	/* EventID beyond the device's ITT */
	IMS_ITS_ERR_EVENT_UNMAPPED = 0x04,	/* no MAPTI/MAPI for the EventID */
	IMS_ITS_ERR_ICID_RANGE = 0x05,		/* collection beyond the collection table */
	IMS_ITS_ERR_COLL_UNMAPPED = 0x06,	/* no MAPC for the collection */
	IMS_ITS_ERR_LPI_RANGE = 0x07,		/* pINTID not an LPI the GIC has */
	IMS_ITS_ERR_RDBASE_RANGE = 0x08,	/* no such redistributor */
	IMS_ITS_ERR_ITT_SIZE = 0x09,		/* MAPD size beyond the EventID bits */
	IMS_ITS_ERR_MEMORY = 0x0a,		/* a table is not in reachable memory */
	IMS_ITS_ERR_UNKNOWN_CMD = 0x0b,
	IMS_ITS_ERR_EVENT_MAPPED = 0x0c,	/* MAPTI/MAPI on a mapped EventID */
	IMS_ITS_ERR_DISABLED = 0x0d,		/* translation while the ITS is disabled */
	IMS_ITS_ERR_BAD_ADDRESS = 0x0e,		/* a write that is not a 32-bit TRANSLATER write */
	IMS_ITS_ERR_MAX
};
IMS_API const char *ims_its_err_name(unsigned int code);

/* ---- redistributor registers: offsets from its RD_base frame ---- */

#define IMS_GICR_CTLR			0x0000u	/* 32 */
#define  IMS_GICR_CTLR_ENABLE_LPIS	(1u << 0)	/* cannot be cleared once set */
#define IMS_GICR_TYPER			0x0008u	/* 64 */
#define  IMS_GICR_TYPER_PLPIS		(1ull << 0)
#define  IMS_GICR_TYPER_LAST		(1ull << 4)
#define  IMS_GICR_TYPER_PROCNUM_SHIFT	8	/* 23:8 */
#define IMS_GICR_PROPBASER		0x0070u	/* 64 */
#define  IMS_GICR_PROPBASER_IDBITS_MASK	0x1full	/* INTID bits - 1 */
#define  IMS_GICR_PROPBASER_ADDR_MASK	0x000ffffffffff000ull	/* 51:12 */
#define IMS_GICR_PENDBASER		0x0078u	/* 64 */
#define  IMS_GICR_PENDBASER_PTZ		(1ull << 62)	/* the table is zero */
#define  IMS_GICR_PENDBASER_ADDR_MASK	0x000fffffffff0000ull	/* 51:16 */
#define IMS_GICR_FRAME_SIZE		0x20000u

/* LPI configuration table: one byte per LPI, entry N - 8192 for INTID N. */
#define IMS_LPI_CFG_ENABLE		0x01u
#define IMS_LPI_CFG_RES1		0x02u
#define IMS_LPI_CFG_PRIO_MASK		0xfcu
#define IMS_LPI_BASE			8192u
/* The pending table is 64 KiB aligned: one bit per INTID from 0. */
#define IMS_GICR_PEND_ALIGN		0x10000u

/* ---- CPU interface system registers (group 1) ---- */

enum ims_icc_reg {
	IMS_ICC_IAR1 = 0,	/* read: acknowledge; 1023 if nothing to take */
	IMS_ICC_EOIR1 = 1,	/* write: priority drop of the last acknowledged */
	IMS_ICC_PMR = 2,	/* priority mask: only priorities below it signal */
	IMS_ICC_IGRPEN1 = 3,	/* bit 0 enables group 1 */
	IMS_ICC_RPR = 4,	/* read: running priority (0xff when idle) */
};
#define IMS_ICC_SPURIOUS		1023u

/* ---- the ITS driver ---- */

/*
 * How the driver reaches the GIC. A simulated machine points these at its
 * models; every access is one register access, as a CPU makes it. The ITS
 * and redistributor accesses are 4 or 8 bytes at the offsets above. Memory
 * is RAM that the GIC reads: zeroed, aligned to align (a power of two up to
 * 64 KiB), its physical address in *pa; NULL when there is none. Called
 * with the driver's spinlock held and from any thread.
 */
struct ims_arm_gic_ops {
	uint64_t (*its_read)(void *ctx, uint32_t off, unsigned int size);
	void (*its_write)(void *ctx, uint32_t off, unsigned int size, uint64_t val);
	uint64_t (*rdist_read)(void *ctx, uint32_t cpu, uint32_t off, unsigned int size);
	void (*rdist_write)(void *ctx, uint32_t cpu, uint32_t off, unsigned int size, uint64_t val);
	uint64_t (*icc_read)(void *ctx, uint32_t cpu, enum ims_icc_reg reg);
	void (*icc_write)(void *ctx, uint32_t cpu, enum ims_icc_reg reg, uint64_t val);
	void *(*mem_alloc)(void *ctx, size_t size, size_t align, uint64_t *pa);
	void (*mem_free)(void *ctx, void *p, size_t size);
};

struct ims_arm_its_config {
	uint32_t nr_cpus;		/* must equal the core's CPU count */
	uint64_t its_base;		/* physical address of the ITS frame */
	/*
	 * EventIDs per device: the size of the ITT made when a DeviceID is
	 * first used (a power of two, 2..65536, within the ITS's EventID
	 * bits; 0: 4096). An ITT cannot grow without a window in which
	 * messages fault, so it is sized once.
	 */
	uint32_t events_per_device;
	uint32_t lpi_bits;		/* INTID bits, 14..20; 0: 16 (57,344 LPIs) */
	uint8_t priority;		/* LPI priority (bits 7:2); 0: 0xa0 */
	const struct ims_arm_gic_ops *ops;	/* required */
	void *ctx;
};

struct ims_arm_its;

/*
 * Program the GIC as an OS does at boot: per CPU a pending table, the
 * shared LPI configuration table, LPIs enabled and the CPU interface open
 * (PMR 0xff, group 1 on); the ITS's command queue, device and collection
 * tables, one collection per CPU (collection n targets CPU n), then the ITS
 * enabled. Creates the domain "ITS" (MSI parent, isolated: IMS may be built
 * on it). Each irq keeps 8 bytes at this level; each LPI 4 bytes in the
 * dispatch table.
 *
 * Per vector: alloc takes an LPI and an EventID of the requester id's
 * device (the device's ITT is made and MAPD'd on first use); activate
 * writes the LPI's configuration, sends MAPTI, INV and SYNC; deactivate
 * sends DISCARD and SYNC; compose gives address GITS_TRANSLATER and data
 * EventID; set_affinity sends MOVI and SYNC and leaves the message as it
 * is (IMS_SET_AFFINITY_DONE); mask and unmask (used only where the device
 * level has none) clear and set the LPI's enable bit, then INV and SYNC.
 * A command the ITS refuses is reported as -EIO with the ITS's error code.
 */
IMS_API int ims_arm_its_create(struct ims_irq_core *core, const struct ims_arm_its_config *cfg,
			       struct ims_arm_its **out);
/* -EBUSY, changing nothing, while the domain has irqs or children. */
IMS_API int ims_arm_its_destroy(struct ims_arm_its *its);
IMS_API struct ims_irq_domain *ims_arm_its_irq_domain(struct ims_arm_its *its);

/*
 * The CPU's interrupt entry: acknowledge on cpu (ICC_IAR1), run the flow
 * of the irq that owns the LPI, drop the priority (ICC_EOIR1). Returns 1
 * when an interrupt was taken, 0 when the CPU had none to take, -ENOENT
 * for an LPI that no irq owns (counted spurious), -EINVAL for a bad cpu.
 * Lock-free; one thread per CPU at a time.
 */
IMS_API int ims_arm_its_dispatch(struct ims_arm_its *its, uint32_t cpu);

struct ims_arm_its_stats {
	uint32_t lpis_total;		/* LPIs the driver manages */
	uint32_t lpis_used;
	uint32_t devices;		/* DeviceIDs with an ITT */
	uint32_t events_used;		/* EventIDs in use, every device */
	uint64_t commands;		/* commands sent */
	uint64_t command_errors;	/* commands the ITS refused */
	uint64_t dispatched;		/* LPIs run through a flow */
	uint64_t spurious;		/* LPIs that no irq owned */
	uint32_t last_error;		/* ITS error code of the last refused command */
};
IMS_API void ims_arm_its_get_stats(struct ims_arm_its *its, struct ims_arm_its_stats *out);
/* LPIs targeted at cpu now (activated irqs). */
IMS_API uint32_t ims_arm_its_cpu_lpis(struct ims_arm_its *its, uint32_t cpu);

#ifdef __cplusplus
}
#endif
#endif
