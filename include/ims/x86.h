/*
 * ims/x86.h - the x86 platform: the MSI message formats (compatibility and
 * remappable), their compose and decode, and the vector domain that sits at
 * the root of the interrupt domain hierarchy and hands out (CPU, vector)
 * pairs.
 *
 * Formats follow the Intel SDM (compatibility format) and the VT-d
 * specification (remappable format); docs/x86.md describes both.
 */
#ifndef IMS_X86_H
#define IMS_X86_H

#include <ims/irqdomain.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Address and data fields shared by both formats. */
#define IMS_X86_MSI_ADDR_BASE		0xfee00000u	/* bits 31:20 */
#define IMS_X86_MSI_ADDR_BASE_MASK	0xfff00000u
#define IMS_X86_MSI_ADDR_REMAP		(1u << 4)	/* interrupt format */

/* Compatibility format. */
#define IMS_X86_MSI_ADDR_DEST_SHIFT	12		/* bits 19:12 */
#define IMS_X86_MSI_ADDR_DEST_MASK	0x000ff000u
#define IMS_X86_MSI_ADDR_EXT_DEST_SHIFT	5		/* bits 11:5 = APIC ID 14:8 */
#define IMS_X86_MSI_ADDR_EXT_DEST_MASK	0x00000fe0u
#define IMS_X86_MSI_ADDR_RH		(1u << 3)	/* redirection hint */
#define IMS_X86_MSI_ADDR_LOGICAL	(1u << 2)	/* destination mode */
#define IMS_X86_MSI_DATA_VECTOR_MASK	0x000000ffu
#define IMS_X86_MSI_DATA_DM_SHIFT	8		/* bits 10:8 */
#define IMS_X86_MSI_DATA_DM_MASK	0x00000700u
#define IMS_X86_MSI_DATA_RSVD_MASK	0xffff3800u	/* bits 31:16 and 13:11 */
#define IMS_X86_MSI_DATA_LEVEL_ASSERT	(1u << 14)
#define IMS_X86_MSI_DATA_TRIGGER_LEVEL	(1u << 15)

/* Remappable format. */
#define IMS_X86_MSI_ADDR_HANDLE_SHIFT	5		/* bits 19:5 = handle 14:0 */
#define IMS_X86_MSI_ADDR_HANDLE_MASK	0x000fffe0u
#define IMS_X86_MSI_ADDR_SHV		(1u << 3)	/* subhandle valid */
#define IMS_X86_MSI_ADDR_HANDLE15	(1u << 2)	/* handle bit 15 */
#define IMS_X86_MSI_DATA_SUBHANDLE_MASK	0x0000ffffu
#define IMS_X86_MSI_DATA_REMAP_RSVD	0xffff0000u

/* The largest APIC ID a compatibility message can name with extended IDs. */
#define IMS_X86_MAX_EXT_APIC_ID		0x7fffu

enum ims_x86_msi_format {
	IMS_X86_MSI_COMPAT = 0,
	IMS_X86_MSI_REMAPPABLE = 1,
};

/* Delivery modes (data bits 10:8); 3 and 6 are reserved. */
enum ims_x86_delivery_mode {
	IMS_X86_DM_FIXED = 0,
	IMS_X86_DM_LOWEST = 1,
	IMS_X86_DM_SMI = 2,
	IMS_X86_DM_NMI = 4,
	IMS_X86_DM_INIT = 5,
	IMS_X86_DM_EXTINT = 7,
};

/*
 * Every field of an x86 MSI message. Which members mean something depends
 * on format; the others are zero after decode and ignored by compose.
 */
struct ims_x86_msi_fields {
	enum ims_x86_msi_format format;
	/* Compatibility format. */
	uint32_t dest_id;		/* address bits 19:12 */
	uint32_t ext_dest_id;		/* address bits 11:5 (APIC ID bits 14:8) */
	uint32_t apic_id;		/* ext_dest_id << 8 | dest_id */
	bool dest_logical;
	bool redirection_hint;
	uint8_t vector;
	uint8_t delivery_mode;		/* enum ims_x86_delivery_mode */
	bool trigger_level;
	bool level_assert;
	/* Remappable format. */
	uint16_t handle;		/* 16 bits */
	bool shv;
	uint16_t subhandle;		/* data bits 15:0, when shv */
	uint32_t index;			/* remapping table index: handle (+ subhandle) */
};

/*
 * Compose a message from its fields. Compatibility: apic_id is used (its
 * bits 14:8 go to the extended destination field; bits above 14 are
 * refused); dest_id and ext_dest_id are ignored. Remappable: handle, shv and
 * subhandle. -EINVAL, naming the field, for a value that does not fit.
 */
IMS_API int ims_x86_msi_compose(const struct ims_x86_msi_fields *f, struct ims_msi_msg *msg);

/*
 * Decode a message into its fields. -EINVAL, naming the field, for a
 * message that is not an x86 interrupt message: address high word not 0,
 * address bits 31:20 not 0xFEE, a reserved delivery mode, reserved data
 * bits set. out is filled only on success.
 */
IMS_API int ims_x86_msi_decode(const struct ims_msi_msg *msg, struct ims_x86_msi_fields *out);

/* Name of a delivery mode ("fixed", "lowest", ..., "reserved"). */
IMS_API const char *ims_x86_delivery_mode_name(unsigned int dm);

#ifdef __cplusplus
}
#endif
#endif
