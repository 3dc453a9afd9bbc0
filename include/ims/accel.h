/*
 * ims/accel.h - the reference SIOV accelerator: its register layout (shared
 * by the device model and the driver) and the driver.
 *
 * The device is one PCI function: MSI-X for a few host vectors (entry 0 is
 * the admin/error vector), the SIOV DVSEC, and a register BAR (BAR 0) with
 * capability registers, a command register, an error register, a table of
 * work queue (WQ) configurations, one submission portal per WQ, and an IMS
 * slot array (ims/ims_slot.h). A descriptor names an operation, a
 * completion record address, a PASID and an interrupt handle (an IMS slot,
 * or an MSI-X entry where the WQ allows it); completing it writes the
 * record and raises the handle's interrupt. docs/accel.md has the details.
 *
 * The driver probes the function, builds an IMS domain on the array (or
 * falls back to MSI-X only where the platform refuses IMS), and hands out
 * assignable device interfaces (ADIs): one WQ, a PASID, and a group of
 * interrupt vectors each, created and destroyed at any time.
 */
#ifndef IMS_ACCEL_H
#define IMS_ACCEL_H

#include <ims/ims_chip.h>
#include <ims/pci.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- identity ---- */

#define IMS_ACCEL_VENDOR_ID		0x8086
#define IMS_ACCEL_DEVICE_ID		0x1ac0	/* the project's reference device */
#define IMS_ACCEL_REG_BAR		0
#define IMS_ACCEL_MSIX_BAR		2
#define IMS_ACCEL_MSIX_ADMIN		0	/* MSI-X entry of errors and admin */

/* ---- BAR 0 registers, 32-bit accesses ---- */

#define IMS_ACCEL_REG_VERSION		0x000	/* RO */
#define  IMS_ACCEL_VERSION_1		0x00010000u
#define IMS_ACCEL_REG_WQCAP		0x004	/* RO */
#define  IMS_ACCEL_WQCAP_NR_MASK	0x0000ffffu	/* number of WQs */
#define  IMS_ACCEL_WQCAP_DEPTH_SHIFT	16		/* descriptors per WQ, 31:16 */
#define IMS_ACCEL_REG_IMSCAP		0x008	/* RO: IMS slots (0: no IMS array) */
#define IMS_ACCEL_REG_IMS_OFFSET	0x00c	/* RO: byte offset of slot 0 in BAR 0 */
#define IMS_ACCEL_REG_WQCFG_OFFSET	0x010	/* RO: byte offset of the WQ table */
#define IMS_ACCEL_REG_PORTAL_OFFSET	0x014	/* RO: byte offset of WQ 0's portal */
#define IMS_ACCEL_REG_OPCAP		0x018	/* RO: bit n set: opcode n supported */
#define IMS_ACCEL_REG_CMD		0x020	/* WO (reads 0): runs to completion */
#define  IMS_ACCEL_CMD_OP_SHIFT		28
#define  IMS_ACCEL_CMD_ENABLE_DEV	0x1u
#define  IMS_ACCEL_CMD_DISABLE_DEV	0x2u	/* disables every WQ first */
#define  IMS_ACCEL_CMD_ENABLE_WQ	0x3u
#define  IMS_ACCEL_CMD_DISABLE_WQ	0x4u	/* queued descriptors are dropped */
#define  IMS_ACCEL_CMD_WQ_MASK		0x0000ffffu
#define  IMS_ACCEL_CMD_RESERVED		0x0fff0000u	/* must be 0 */
#define IMS_ACCEL_REG_CMDSTS		0x024	/* RO: status of the last command */
#define  IMS_ACCEL_CMDSTS_OK		0x0u
#define  IMS_ACCEL_CMDSTS_INVALID	0x1u	/* opcode, WQ or reserved bits */
#define  IMS_ACCEL_CMDSTS_BAD_STATE	0x2u	/* e.g. a WQ enabled on a disabled device */
#define IMS_ACCEL_REG_GENSTS		0x028	/* RO */
#define  IMS_ACCEL_GENSTS_ENABLED	0x1u
#define IMS_ACCEL_REG_ERR_STATUS	0x030	/* first error since the last clear */
#define  IMS_ACCEL_ERR_VALID		0x1u	/* write 1 to clear */
#define  IMS_ACCEL_ERR_OVERFLOW		0x2u	/* more errors came; write 1 to clear */
#define  IMS_ACCEL_ERR_CODE_SHIFT	8	/* 15:8 */
#define  IMS_ACCEL_ERR_CODE_MASK	0x0000ff00u
#define  IMS_ACCEL_ERR_WQ_SHIFT		16	/* 31:16 */
#define IMS_ACCEL_REG_ERR_INFO		0x034	/* RO: handle, PASID or address, by code */
#define IMS_ACCEL_REG_ERR_COUNT		0x038	/* RO: errors since reset */
#define IMS_ACCEL_REGS_SIZE		0x1000

/* Error codes (ERR_STATUS 15:8). */
enum ims_accel_err {
	IMS_ACCEL_ERR_NONE = 0,
	IMS_ACCEL_ERR_BAD_DESC = 1,	/* reserved bits set */
	IMS_ACCEL_ERR_BAD_OPCODE = 2,
	IMS_ACCEL_ERR_BAD_PASID = 3,	/* not the WQ's PASID; info: the PASID field */
	IMS_ACCEL_ERR_BAD_HANDLE = 4,	/* no such slot or entry, or MSI-X not allowed; info: handle */
	IMS_ACCEL_ERR_QUEUE_FULL = 5,
	IMS_ACCEL_ERR_WQ_DISABLED = 6,
	IMS_ACCEL_ERR_BAD_COMPL_ADDR = 7, /* misaligned or not DMA-able; info: address low */
	IMS_ACCEL_ERR_IRQ_REFUSED = 8,	/* the slot refused the PASID; info: handle */
	IMS_ACCEL_ERR_MAX = 9,
};

/* WQ configuration table: 16 bytes per WQ at WQCFG_OFFSET. */
#define IMS_ACCEL_WQCFG_SIZE		16
#define IMS_ACCEL_WQCFG_CTRL		0x0	/* RW while the WQ is disabled */
#define  IMS_ACCEL_WQCFG_PASID_EN	0x1u
#define  IMS_ACCEL_WQCFG_MSIX_OK	0x2u	/* completions may name MSI-X entries */
#define  IMS_ACCEL_WQCFG_PASID_SHIFT	12	/* 31:12 */
#define  IMS_ACCEL_WQCFG_WRITABLE	0xfffff003u
#define IMS_ACCEL_WQCFG_STATUS		0x4	/* RO */
#define  IMS_ACCEL_WQSTS_ENABLED	0x80000000u
#define  IMS_ACCEL_WQSTS_OCCUPANCY	0x0000ffffu

/*
 * Portals: 64 bytes per WQ at PORTAL_OFFSET. A descriptor is 32 bytes
 * written at +0 in 32-bit (or 64-bit) stores; the store that completes the
 * dword at +0x1c submits it. The device checks it whole at that moment.
 */
#define IMS_ACCEL_PORTAL_STRIDE		0x40
#define IMS_ACCEL_DESC_SIZE		32
#define IMS_ACCEL_DESC_OP		0x00	/* opcode 7:0, flags, reserved 31:10 */
#define  IMS_ACCEL_DESC_OP_MASK		0x000000ffu
#define  IMS_ACCEL_DESC_RCI		0x00000100u	/* request completion interrupt */
#define  IMS_ACCEL_DESC_CRAV		0x00000200u	/* completion record address valid */
#define  IMS_ACCEL_DESC_OP_RESERVED	0xfffffc00u
#define IMS_ACCEL_DESC_PASID		0x04	/* PASID 19:0, valid 31, reserved 30:20 */
#define  IMS_ACCEL_DESC_PASID_MASK	0x000fffffu
#define  IMS_ACCEL_DESC_PASID_VALID	0x80000000u
#define  IMS_ACCEL_DESC_PASID_RESERVED	0x7ff00000u
#define IMS_ACCEL_DESC_COMPL_LO		0x08	/* completion record, 32-byte aligned */
#define IMS_ACCEL_DESC_COMPL_HI		0x0c
#define IMS_ACCEL_DESC_HANDLE		0x10	/* index 19:0, MSI-X 31, reserved 30:20 */
#define  IMS_ACCEL_HANDLE_INDEX_MASK	0x000fffffu
#define  IMS_ACCEL_HANDLE_MSIX		0x80000000u
#define  IMS_ACCEL_HANDLE_RESERVED	0x7ff00000u
#define IMS_ACCEL_DESC_RSVD		0x14	/* must be 0 */
#define IMS_ACCEL_DESC_OPERAND_LO	0x18
#define IMS_ACCEL_DESC_OPERAND_HI	0x1c	/* the store that submits */

enum ims_accel_opcode {
	IMS_ACCEL_OP_NOOP = 0,
	IMS_ACCEL_OP_ECHO = 1,		/* result = operand */
	IMS_ACCEL_OP_MAX = 2,
};

/* Completion record, 32 bytes, 32-byte aligned, written by the device. */
#define IMS_ACCEL_CR_SIZE		32
#define IMS_ACCEL_CR_ALIGN		32
#define IMS_ACCEL_CR_STATUS		0x00	/* 32 bits, written last */
#define  IMS_ACCEL_CR_STATUS_NONE	0x0u
#define  IMS_ACCEL_CR_STATUS_SUCCESS	0x1u
#define IMS_ACCEL_CR_RESULT		0x08	/* 64 bits */

/* ---- the driver ---- */

struct ims_accel;
struct ims_accel_adi;

/*
 * Making memory reachable by the device (completion records). map gives
 * the bus address of [host, host + len); NULL map means bus address =
 * host address and nothing to register.
 */
struct ims_accel_dma_ops {
	int (*map)(void *ctx, void *host, size_t len, uint64_t *bus);
	void (*unmap)(void *ctx, void *host);
	void *ctx;
};

struct ims_accel_info {
	const char *name;			/* "0000:05:00.0"; copied */
	struct ims_irq_core *core;
	struct ims_irq_domain *msi_parent;	/* remapping (IMS) or vector (MSI-X only) */
	uint16_t rid;
	struct ims_pci_cfg_access cfg;		/* configuration space, writable */
	struct ims_io_access bar[IMS_PCI_NR_BARS];	/* MMIO of each BAR used */
	struct ims_accel_dma_ops dma;
};

/*
 * Probe: read the function's identity and capabilities, consult the SIOV
 * DVSEC, turn on memory decode and bus mastering, create the MSI-X domain
 * and the IMS domain (if the DVSEC says IMS and the platform accepts it;
 * otherwise MSI-X only, said in an info message and by
 * ims_accel_has_ims()), enable MSI-X, request the admin vector and enable
 * the device. All or nothing.
 */
IMS_API int ims_accel_probe(const struct ims_accel_info *info, struct ims_accel **out);
/* -EBUSY, changing nothing, while ADIs exist. */
IMS_API int ims_accel_remove(struct ims_accel *acc);
IMS_API bool ims_accel_has_ims(const struct ims_accel *acc);
IMS_API struct ims_device *ims_accel_device(struct ims_accel *acc);
IMS_API uint32_t ims_accel_nr_wqs(const struct ims_accel *acc);
IMS_API uint32_t ims_accel_nr_adis(struct ims_accel *acc);
/* The admin vector's irq. */
IMS_API int ims_accel_admin_irq(const struct ims_accel *acc);

struct ims_accel_err_info {
	uint64_t count;			/* errors the admin handler has taken */
	uint64_t by_code[IMS_ACCEL_ERR_MAX];
	uint32_t last_status;		/* ERR_STATUS as last read */
	uint32_t last_info;		/* ERR_INFO as last read */
};
IMS_API void ims_accel_errors(struct ims_accel *acc, struct ims_accel_err_info *out);

/*
 * Called from the ADI's interrupt handler for every completion it finds:
 * vec is the ADI vector, ticket what ims_accel_submit() returned.
 */
typedef void (*ims_accel_complete_fn)(struct ims_accel_adi *adi, void *ctx, unsigned int vec,
				      uint32_t ticket, uint32_t status, uint64_t result);

struct ims_accel_adi_info {
	uint32_t pasid;			/* 20 bits */
	unsigned int nvec;		/* interrupt vectors, 1..IMS_ACCEL_ADI_MAX_VECS */
	const struct ims_cpumask *affinity; /* NULL: any CPU */
	/* Optional: with it, a completion is reported here and its ticket
	 * retired; without, ims_accel_poll() retires it. */
	ims_accel_complete_fn complete;
	void *ctx;
};
#define IMS_ACCEL_ADI_MAX_VECS 64

/*
 * Reserve a WQ, configure it with the PASID (MSI-X completions not
 * allowed), allocate the vectors as one group with the PASID as instance
 * cookie (IMS; on an MSI-X-only device from the MSI-X table), request a
 * handler on each, enable the WQ. All or nothing. -ENOSPC when no WQ or no
 * vector is left.
 */
IMS_API int ims_accel_adi_create(struct ims_accel *acc, const struct ims_accel_adi_info *info,
				 struct ims_accel_adi **out);
/*
 * Disable the WQ (queued work is dropped), free the handlers (waiting for
 * running ones), free the group (the slots are reset), release the WQ.
 * Not from one of the ADI's own handlers (-EDEADLK).
 */
IMS_API int ims_accel_adi_destroy(struct ims_accel_adi *adi);
IMS_API uint32_t ims_accel_adi_wq(const struct ims_accel_adi *adi);
IMS_API int ims_accel_adi_irq(const struct ims_accel_adi *adi, unsigned int vec);
/* The interrupt handle a descriptor of vector vec carries (IMS index, or MSI-X). */
IMS_API uint32_t ims_accel_adi_handle(const struct ims_accel_adi *adi, unsigned int vec);

/*
 * Submit op with operand on the ADI's WQ, completion interrupt on vector
 * vec. *ticket names it for ims_accel_poll() and the complete callback.
 * -EBUSY when every completion record of the ADI is in use.
 */
IMS_API int ims_accel_submit(struct ims_accel_adi *adi, unsigned int vec, enum ims_accel_opcode op,
			     uint64_t operand, uint32_t *ticket);
/*
 * 0 with *result when the completion interrupt has reported the ticket
 * (which is then retired), -EAGAIN while it has not, -EINVAL for a ticket
 * not outstanding. Only for ADIs without a complete callback.
 */
IMS_API int ims_accel_poll(struct ims_accel_adi *adi, uint32_t ticket, uint64_t *result);
/* Completions the ADI's handlers have found, and interrupts that found none. */
IMS_API uint64_t ims_accel_adi_completions(struct ims_accel_adi *adi);
IMS_API uint64_t ims_accel_adi_empty_irqs(struct ims_accel_adi *adi);

/* ---- guests: an ADI assigned to a virtual machine ---- */

/*
 * A guest sees its ADI as a function with an MSI-X capability and an
 * MSI-X table of nvec entries (BIR 0, table at 0, PBA at 0x800) that the
 * host emulates: the VMM traps the guest's accesses and passes them here.
 * Each entry the guest enables and unmasks gets the ADI's IMS vector of
 * the same index, posted (through the remapping driver) to the vCPU whose
 * APIC ID the guest's message names, with the guest's vector; it uses no
 * host vector. A guest mask, function mask or MSI-X disable holds the IMS
 * slot masked, so the device latches and delivers on unmask: nothing is
 * lost. A message that cannot be posted (not fixed delivery in physical
 * mode to one of the guest's vCPUs, a vector below 16, a high address)
 * keeps the slot held and is counted, never delivered elsewhere.
 */
struct ims_accel_guest;

struct ims_accel_guest_vcpu {
	uint32_t apic_id;		/* the guest's APIC ID of this vCPU */
	uint64_t pid;			/* its posted-interrupt descriptor (bus address) */
};

struct ims_accel_guest_info {
	uint32_t pasid;
	unsigned int nvec;		/* MSI-X table size the guest sees, 1..IMS_ACCEL_ADI_MAX_VECS */
	unsigned int nr_vcpus;		/* 1..256 */
	const struct ims_accel_guest_vcpu *vcpus;	/* copied */
};

#define IMS_ACCEL_GUEST_PBA		0x800	/* PBA offset in the guest's MSI-X BAR */
#define IMS_ACCEL_GUEST_MSIX_CAP_SIZE	12

/*
 * Needs IMS and a remapping parent with posting (-EOPNOTSUPP otherwise).
 * The guest starts with MSI-X disabled and every entry masked.
 */
IMS_API int ims_accel_guest_create(struct ims_accel *acc, const struct ims_accel_guest_info *info,
				   struct ims_accel_guest **out);
IMS_API int ims_accel_guest_destroy(struct ims_accel_guest *g);
/*
 * The guest's ADI (its WQ, handles and vectors). It belongs to the guest:
 * destroy it only through ims_accel_guest_destroy().
 */
IMS_API struct ims_accel_adi *ims_accel_guest_adi(struct ims_accel_guest *g);

/*
 * Trapped guest accesses. Configuration: off inside the MSI-X capability
 * (0..11), size 1, 2 or 4, naturally aligned. MSI-X BAR: the table and the
 * PBA, size 4 or 8, naturally aligned. A bad size, alignment or offset, or
 * a write that sets a reserved bit, is refused with -EINVAL and changes
 * nothing; writes to read-only fields are ignored, as hardware does. The
 * PBA reads as 0 (pending state stays in the IMS slot) and ignores writes.
 */
IMS_API int ims_accel_guest_cfg_read(struct ims_accel_guest *g, uint32_t off, uint32_t size,
				     uint32_t *val);
IMS_API int ims_accel_guest_cfg_write(struct ims_accel_guest *g, uint32_t off, uint32_t size,
				      uint32_t val);
IMS_API int ims_accel_guest_msix_read(struct ims_accel_guest *g, uint64_t off, uint32_t size,
				      uint64_t *val);
IMS_API int ims_accel_guest_msix_write(struct ims_accel_guest *g, uint64_t off, uint32_t size,
				       uint64_t val);
/* Accesses refused, and enabled entries whose message could not be posted. */
IMS_API uint64_t ims_accel_guest_refused(struct ims_accel_guest *g);
IMS_API uint64_t ims_accel_guest_unroutable(struct ims_accel_guest *g);

#ifdef __cplusplus
}
#endif
#endif /* IMS_ACCEL_H */
