/*
 * ims/ims_slot.h - the register layouts of IMS storage, shared by device
 * models (which implement them) and drivers (which program them).
 *
 * An IMS slot is 16 bytes, accessed 32 bits at a time: address low,
 * address high, data, control. Control bit 0 masks the slot; bit 3 enables
 * PASID, and bits 31:12 hold the PASID that a signal must carry. Slots come
 * out of reset masked, with address and data 0.
 *
 * Storage comes in two variants. In device memory, an array of slots sits
 * in a BAR and writes take effect at once. In system memory, each queue
 * owns a shadow slot in memory that the driver writes freely; the device
 * takes a shadow into effect only when told so by a command written to its
 * command register, and the command can fail, leaving the previous message
 * in effect.
 */
#ifndef IMS_IMS_SLOT_H
#define IMS_IMS_SLOT_H

#ifdef __cplusplus
extern "C" {
#endif

#define IMS_SLOT_SIZE			16
#define IMS_SLOT_ADDR_LO		0x0
#define IMS_SLOT_ADDR_HI		0x4
#define IMS_SLOT_DATA			0x8
#define IMS_SLOT_CTRL			0xc
#define  IMS_SLOT_CTRL_MASKBIT		0x00000001u
#define  IMS_SLOT_CTRL_PASID_EN		0x00000008u
#define  IMS_SLOT_CTRL_PASID_SHIFT	12
#define  IMS_SLOT_CTRL_PASID_MASK	0xfffff000u
/* Bits 2:1 and 11:4 are reserved: they read as 0 and writes are ignored. */
#define  IMS_SLOT_CTRL_WRITABLE		(IMS_SLOT_CTRL_MASKBIT | IMS_SLOT_CTRL_PASID_EN | \
					 IMS_SLOT_CTRL_PASID_MASK)

/* Command registers of the system-memory (queue) variant, 32-bit access. */
#define IMS_QUEUE_REG_CMD		0x0
#define  IMS_QUEUE_CMD_OP_SHIFT		28
#define  IMS_QUEUE_CMD_OP_LOAD_IRQ	0x1u	/* take the queue's shadow into effect */
#define  IMS_QUEUE_CMD_QUEUE_MASK	0x000fffffu
#define IMS_QUEUE_REG_STATUS		0x4	/* status of the last command */
#define  IMS_QUEUE_STATUS_OK		0x0u
#define  IMS_QUEUE_STATUS_INVALID	0x1u	/* unknown opcode or queue */
#define  IMS_QUEUE_STATUS_DEVICE_ERROR	0x2u	/* failed; the previous message stays */
#define IMS_QUEUE_REGS_SIZE		0x8

#ifdef __cplusplus
}
#endif
#endif /* IMS_IMS_SLOT_H */
