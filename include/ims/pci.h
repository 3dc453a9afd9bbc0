/*
 * ims/pci.h - PCI configuration space as the OS side sees it: the register
 * layout (header, MSI, MSI-X, DVSEC and the SIOV DVSEC), and the PCI core's
 * discovery of a function: both capability lists walked with bounds and loop
 * protection, MSI, MSI-X and the SIOV DVSEC decoded, and "does this device
 * support IMS" answered from the DVSEC.
 *
 * The core reads configuration space only through an accessor (a byte, word
 * or dword at an offset), so the same code probes a live device model and a
 * raw dump. A malformed list is an error that names the offset and the fault;
 * nothing in a dump, however hostile, makes the walk read out of bounds or
 * run forever.
 *
 * Threading: every call works on the caller's own structures and is
 * thread-safe as long as the accessor is.
 */
#ifndef IMS_PCI_H
#define IMS_PCI_H

#include <ims/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- configuration space layout (type 0 header) ---- */

#define IMS_PCI_CFG_SIZE		256u	/* conventional */
#define IMS_PCI_CFG_EXT_SIZE		4096u	/* PCIe, with extended space */

#define IMS_PCI_VENDOR_ID		0x00	/* 16 bits */
#define IMS_PCI_DEVICE_ID		0x02	/* 16 bits */
#define IMS_PCI_COMMAND			0x04	/* 16 bits */
#define  IMS_PCI_COMMAND_IO		0x0001
#define  IMS_PCI_COMMAND_MEMORY		0x0002
#define  IMS_PCI_COMMAND_MASTER		0x0004
#define  IMS_PCI_COMMAND_PARITY		0x0040
#define  IMS_PCI_COMMAND_SERR		0x0100
#define  IMS_PCI_COMMAND_INTX_DISABLE	0x0400
#define IMS_PCI_STATUS			0x06	/* 16 bits */
#define  IMS_PCI_STATUS_INTX		0x0008
#define  IMS_PCI_STATUS_CAP_LIST	0x0010
#define  IMS_PCI_STATUS_W1C		0xf900	/* error bits, write 1 to clear */
#define IMS_PCI_REVISION_ID		0x08	/* 8 bits */
#define IMS_PCI_CLASS_CODE		0x09	/* 24 bits: prog-if, subclass, class */
#define IMS_PCI_CACHE_LINE_SIZE		0x0c
#define IMS_PCI_LATENCY_TIMER		0x0d
#define IMS_PCI_HEADER_TYPE		0x0e
#define  IMS_PCI_HEADER_TYPE_MASK	0x7f
#define  IMS_PCI_HEADER_TYPE_MULTIFN	0x80
#define IMS_PCI_BAR0			0x10	/* six dwords, 0x10..0x27 */
#define  IMS_PCI_NR_BARS		6
#define  IMS_PCI_BAR_IO			0x1
#define  IMS_PCI_BAR_MEM_TYPE_MASK	0x6
#define  IMS_PCI_BAR_MEM_TYPE_32	0x0
#define  IMS_PCI_BAR_MEM_TYPE_64	0x4
#define  IMS_PCI_BAR_PREFETCH		0x8
#define  IMS_PCI_BAR_MEM_ADDR_MASK	0xfffffff0u
#define  IMS_PCI_BAR_IO_ADDR_MASK	0xfffffffcu
#define IMS_PCI_SUBSYS_VENDOR_ID	0x2c
#define IMS_PCI_SUBSYS_ID		0x2e
#define IMS_PCI_CAP_PTR			0x34	/* 8 bits */
#define IMS_PCI_INTERRUPT_LINE		0x3c
#define IMS_PCI_INTERRUPT_PIN		0x3d
#define IMS_PCI_STD_HEADER_SIZE		0x40	/* capabilities start here */
#define IMS_PCI_EXT_CAP_START		0x100	/* extended capabilities start here */

/* Standard capability: id at +0, next pointer at +1. */
#define IMS_PCI_CAP_ID			0
#define IMS_PCI_CAP_NEXT		1
#define IMS_PCI_CAP_ID_PM		0x01
#define IMS_PCI_CAP_ID_MSI		0x05
#define IMS_PCI_CAP_ID_VNDR		0x09
#define IMS_PCI_CAP_ID_EXP		0x10
#define IMS_PCI_CAP_ID_MSIX		0x11

/* Extended capability header: id 15:0, version 19:16, next 31:20. */
#define IMS_PCI_EXT_CAP_ID_MASK		0x0000ffffu
#define IMS_PCI_EXT_CAP_VER_SHIFT	16
#define IMS_PCI_EXT_CAP_VER_MASK	0x000f0000u
#define IMS_PCI_EXT_CAP_NEXT_SHIFT	20
#define IMS_PCI_EXT_CAP_ID_AER		0x0001
#define IMS_PCI_EXT_CAP_ID_DSN		0x0003
#define IMS_PCI_EXT_CAP_ID_ATS		0x000f
#define IMS_PCI_EXT_CAP_ID_SRIOV	0x0010
#define IMS_PCI_EXT_CAP_ID_PRI		0x0013
#define IMS_PCI_EXT_CAP_ID_PASID	0x001b
#define IMS_PCI_EXT_CAP_ID_DVSEC	0x0023

/* MSI capability (id 0x05). */
#define IMS_PCI_MSI_FLAGS		0x02	/* message control, 16 bits */
#define  IMS_PCI_MSI_FLAGS_ENABLE	0x0001
#define  IMS_PCI_MSI_FLAGS_QMASK	0x000e	/* multiple message capable, log2 */
#define  IMS_PCI_MSI_FLAGS_QMASK_SHIFT	1
#define  IMS_PCI_MSI_FLAGS_QSIZE	0x0070	/* multiple message enable, log2 */
#define  IMS_PCI_MSI_FLAGS_QSIZE_SHIFT	4
#define  IMS_PCI_MSI_FLAGS_64BIT	0x0080
#define  IMS_PCI_MSI_FLAGS_MASKBIT	0x0100	/* per-vector masking */
#define IMS_PCI_MSI_ADDR_LO		0x04
#define IMS_PCI_MSI_ADDR_HI		0x08	/* 64-bit only */
#define IMS_PCI_MSI_DATA_32		0x08
#define IMS_PCI_MSI_DATA_64		0x0c
#define IMS_PCI_MSI_MASK_32		0x0c
#define IMS_PCI_MSI_PENDING_32		0x10
#define IMS_PCI_MSI_MASK_64		0x10
#define IMS_PCI_MSI_PENDING_64		0x14
#define IMS_PCI_MSI_MAX_VECTORS		32

/* MSI-X capability (id 0x11), 12 bytes. */
#define IMS_PCI_MSIX_FLAGS		0x02	/* message control, 16 bits */
#define  IMS_PCI_MSIX_FLAGS_QSIZE	0x07ff	/* table size minus one */
#define  IMS_PCI_MSIX_FLAGS_MASKALL	0x4000	/* function mask */
#define  IMS_PCI_MSIX_FLAGS_ENABLE	0x8000
#define IMS_PCI_MSIX_TABLE		0x04	/* BIR 2:0, offset 31:3 */
#define IMS_PCI_MSIX_PBA		0x08
#define  IMS_PCI_MSIX_BIR_MASK		0x7u
#define  IMS_PCI_MSIX_OFFSET_MASK	0xfffffff8u
#define IMS_PCI_MSIX_CAP_SIZE		12
#define IMS_PCI_MSIX_MAX_ENTRIES	2048
/* MSI-X table entry, 16 bytes; the PBA is one bit per entry in qwords. */
#define IMS_PCI_MSIX_ENTRY_ADDR_LO	0x0
#define IMS_PCI_MSIX_ENTRY_ADDR_HI	0x4
#define IMS_PCI_MSIX_ENTRY_DATA		0x8
#define IMS_PCI_MSIX_ENTRY_CTRL		0xc
#define  IMS_PCI_MSIX_ENTRY_CTRL_MASKBIT 0x1u
#define IMS_PCI_MSIX_ENTRY_SIZE		16

/* DVSEC (extended id 0x0023). */
#define IMS_PCI_DVSEC_HDR1		0x4	/* vendor 15:0, revision 19:16, length 31:20 */
#define  IMS_PCI_DVSEC_HDR1_REV_SHIFT	16
#define  IMS_PCI_DVSEC_HDR1_LEN_SHIFT	20
#define IMS_PCI_DVSEC_HDR2		0x8	/* DVSEC id 15:0 */
#define IMS_PCI_DVSEC_HEADER_SIZE	0xa

/*
 * SIOV DVSEC: vendor 0x8086, DVSEC id 5. Field offsets after the Linux
 * detection patch of 2020 (not merged); the IMS bit at +0x14 is the
 * best-sourced one. docs/pci.md marks the uncertain ones.
 */
#define IMS_PCI_SIOV_VENDOR		0x8086
#define IMS_PCI_SIOV_DVSEC_ID		0x5
#define IMS_PCI_SIOV_FUNC_DEP_LINK	0x0a	/* 8 bits */
#define IMS_PCI_SIOV_FLAGS		0x0b	/* 8 bits */
#define  IMS_PCI_SIOV_FLAGS_HOMOGENEOUS	0x01
#define IMS_PCI_SIOV_SUPP_PAGE_SIZES	0x0c	/* 32 bits */
#define IMS_PCI_SIOV_SYS_PAGE_SIZE	0x10	/* 32 bits */
#define IMS_PCI_SIOV_CAPS		0x14	/* 32 bits */
#define  IMS_PCI_SIOV_CAPS_IMS		0x1u
#define IMS_PCI_SIOV_DVSEC_SIZE		0x18

/* ---- access ---- */

/*
 * How the core reads (and optionally writes) a function's configuration
 * space. read and write get a naturally aligned access of 1, 2 or 4 bytes
 * inside [0, size) and return 0 or a negative errno. write may be NULL (a
 * dump); when present, probing sizes the BARs the way an OS does.
 */
struct ims_pci_cfg_access {
	int (*read)(void *ctx, uint32_t offset, uint32_t size, uint32_t *val);
	int (*write)(void *ctx, uint32_t offset, uint32_t size, uint32_t val);
	void *ctx;
	uint32_t size;	/* 64..4096, a multiple of 4: 256 or 4096 for a device */
};

/*
 * Read-only access to a raw dump of len bytes (64..4096, a multiple of 4).
 * The buffer must outlive the access. -EINVAL for another length.
 */
IMS_API int ims_pci_cfg_access_buffer(struct ims_pci_cfg_access *acc, const void *buf,
				      size_t len);

/* Checked accessors: -EINVAL (with a message) outside the space or misaligned. */
IMS_API int ims_pci_cfg_read8(const struct ims_pci_cfg_access *acc, uint32_t off, uint8_t *val);
IMS_API int ims_pci_cfg_read16(const struct ims_pci_cfg_access *acc, uint32_t off, uint16_t *val);
IMS_API int ims_pci_cfg_read32(const struct ims_pci_cfg_access *acc, uint32_t off, uint32_t *val);

/* ---- faults of a malformed space ---- */

enum ims_pci_fault_kind {
	IMS_PCI_FAULT_NONE = 0,
	IMS_PCI_FAULT_PTR_IN_HEADER,	/* pointer below the list's start (0x40 or 0x100) */
	IMS_PCI_FAULT_PTR_BEYOND,	/* pointer at or past the end of the space */
	IMS_PCI_FAULT_PTR_MISALIGNED,	/* pointer not a multiple of 4 */
	IMS_PCI_FAULT_LOOP,		/* pointer to a capability already visited */
	IMS_PCI_FAULT_TRUNCATED,	/* capability runs past the end, or is shorter than its layout */
	IMS_PCI_FAULT_BAD_HEADER,	/* header type without a capability pointer, or a bad size */
	IMS_PCI_FAULT_BAD_BIR,		/* MSI-X BIR names no usable memory BAR */
	IMS_PCI_FAULT_BAR_RANGE,	/* MSI-X table or PBA outside its BAR, or overlapping */
	IMS_PCI_FAULT_RESERVED,		/* a field holds a reserved value */
	IMS_PCI_FAULT_READ,		/* the accessor failed */
};

struct ims_pci_fault {
	enum ims_pci_fault_kind kind;
	uint32_t offset;	/* where the bad pointer or capability lives */
	uint32_t value;		/* the bad pointer, BIR or offset */
};

IMS_API const char *ims_pci_fault_name(enum ims_pci_fault_kind kind);

/* ---- capability walk ---- */

struct ims_pci_cap {
	uint16_t offset;
	uint16_t id;		/* 8-bit id for standard, 16-bit for extended */
	uint8_t version;	/* extended only */
	bool extended;
};

/*
 * Called for every capability in list order, standard list first. Return 0
 * to go on, 1 to stop (the walk then returns 1), a negative errno to abort.
 */
typedef int (*ims_pci_cap_fn)(const struct ims_pci_cap *cap, void *ctx);

/*
 * Walk both lists (the extended one only when the space is 4096 bytes).
 * Every capability is checked to fit in the space before it is reported.
 * Returns 0 at the end, 1 if fn stopped it, fn's error, or -EINVAL for a
 * malformed list with *fault (optional) describing it and ims_last_error()
 * naming the offset and the fault.
 */
IMS_API int ims_pci_cap_walk(const struct ims_pci_cfg_access *acc, ims_pci_cap_fn fn, void *ctx,
			     struct ims_pci_fault *fault);

/* Offset of the first capability with this id: 0 and *off, -ENOENT, or a walk error. */
IMS_API int ims_pci_find_cap(const struct ims_pci_cfg_access *acc, uint8_t id, uint16_t *off);
IMS_API int ims_pci_find_ext_cap(const struct ims_pci_cfg_access *acc, uint16_t id, uint16_t *off);
IMS_API int ims_pci_find_dvsec(const struct ims_pci_cfg_access *acc, uint16_t vendor,
			       uint16_t dvsec_id, uint16_t *off);

/* "MSI-X", "DVSEC", ... or "unknown". */
IMS_API const char *ims_pci_cap_name(uint16_t id, bool extended);

/* ---- decoded function ---- */

enum ims_pci_bar_kind {
	IMS_PCI_BAR_KIND_NONE = 0,	/* not implemented (sized to 0) */
	IMS_PCI_BAR_KIND_MEM32,
	IMS_PCI_BAR_KIND_MEM64,		/* lower half; the next BAR is its upper half */
	IMS_PCI_BAR_KIND_MEM64_HI,	/* upper half of the previous BAR */
	IMS_PCI_BAR_KIND_IO,
};

struct ims_pci_bar_info {
	enum ims_pci_bar_kind kind;
	bool prefetchable;
	uint64_t addr;
	uint64_t size;		/* 0: unknown (a dump) or not implemented */
	bool sized;		/* size was probed */
};

struct ims_pci_msi_info {
	uint16_t offset;
	bool enabled;
	bool is_64bit;
	bool per_vector_mask;
	uint8_t nr_capable;	/* 1..32 */
	uint8_t nr_enabled;	/* 1..32 */
};

struct ims_pci_msix_info {
	uint16_t offset;
	bool enabled;
	bool function_masked;
	uint16_t table_size;	/* entries, 1..2048 */
	uint8_t table_bir;
	uint32_t table_offset;
	uint8_t pba_bir;
	uint32_t pba_offset;
};

struct ims_pci_siov_info {
	uint16_t offset;
	uint8_t revision;
	uint16_t length;
	uint8_t func_dep_link;
	uint8_t flags;
	bool homogeneous;
	uint32_t supported_page_sizes;
	uint32_t system_page_size;
	uint32_t caps;
	bool ims_supported;
};

/* A standard list holds at most 48 capabilities, the extended one 960. */
#define IMS_PCI_MAX_CAPS 1008

struct ims_pci_dev_info {
	uint32_t cfg_size;
	uint16_t vendor_id;
	uint16_t device_id;
	uint8_t revision;
	uint32_t class_code;
	uint8_t header_type;
	uint16_t nr_caps;
	struct ims_pci_cap caps[IMS_PCI_MAX_CAPS];
	uint8_t nr_bars;	/* 6 for type 0, 2 for type 1 */
	struct ims_pci_bar_info bars[IMS_PCI_NR_BARS];
	bool has_msi;
	struct ims_pci_msi_info msi;
	bool has_msix;
	struct ims_pci_msix_info msix;
	bool has_siov;
	struct ims_pci_siov_info siov;
	struct ims_pci_fault fault;	/* set when probing fails with -EINVAL */
};

/*
 * Probe a function: header, BARs (sized when the accessor can write, with
 * memory decode off meanwhile and every register restored), both capability
 * lists, MSI, MSI-X (validated against the BARs: BIR, and range when the
 * size is known) and the SIOV DVSEC. 0, or -EINVAL with info->fault set.
 */
IMS_API int ims_pci_dev_probe(const struct ims_pci_cfg_access *acc, struct ims_pci_dev_info *info);

/*
 * The PCI core's answer to "does this device support IMS": the SIOV DVSEC is
 * present and its IMS-supported bit is set. A driver may consult it; whether
 * an IMS domain can be built on this platform is decided elsewhere.
 */
IMS_API bool ims_pci_dev_supports_ims(const struct ims_pci_dev_info *info);

/* Decoders for one capability at a known offset (the probe uses them). */
IMS_API int ims_pci_msi_decode(const struct ims_pci_cfg_access *acc, uint16_t off,
			       struct ims_pci_msi_info *msi, struct ims_pci_fault *fault);
IMS_API int ims_pci_msix_decode(const struct ims_pci_cfg_access *acc, uint16_t off,
				struct ims_pci_msix_info *msix, struct ims_pci_fault *fault);
IMS_API int ims_pci_siov_decode(const struct ims_pci_cfg_access *acc, uint16_t off,
				struct ims_pci_siov_info *siov, struct ims_pci_fault *fault);

#ifdef __cplusplus
}
#endif
#endif /* IMS_PCI_H */
