/*
 * IMS storage in system memory (the queue/context variant): each queue owns
 * a 16-byte shadow slot in (model) system memory, laid out as in
 * ims/ims_slot.h. The driver writes shadows as plain memory; they change
 * nothing on the device. A command written to the command register
 * (IMS_QUEUE_CMD_OP_LOAD_IRQ with a queue index) makes the device take that
 * queue's shadow into effect; the status register tells whether it did.
 * A failed command (the fault point "ims_queue_cmd" injects one) leaves the
 * previous message, mask and PASID in effect.
 *
 * Signals behave as in the array variant (ims_array.h) against the message
 * in effect. Thread-safe: a device thread may signal while the OS writes
 * shadows and issues commands.
 */
#ifndef IMS_HW_IMS_QUEUE_H
#define IMS_HW_IMS_QUEUE_H

#include "hw/ims/slot.h"
#include "hw/mmio.h"

struct ims_hw_ims_queue_params {
	uint32_t nr_queues;	/* 1..1048576 */
	uint16_t rid;
};

struct ims_hw_ims_queue;

int ims__hw_ims_queue_create(const struct ims_hw_ims_queue_params *p,
			     const struct ims_hw_msi_sink *sink, struct ims_hw_ims_queue **out);
void ims__hw_ims_queue_destroy(struct ims_hw_ims_queue *q);

/* The command registers (IMS_QUEUE_REGS_SIZE bytes) to map into a BAR. */
void ims__hw_ims_queue_region(struct ims_hw_ims_queue *q, struct ims_hw_mmio_region *r);

/*
 * System memory: the shadow of a queue, a 32-bit field at off (0, 4, 8,
 * 0xC). -EINVAL outside. These are memory accesses: no device effect.
 */
int ims__hw_ims_queue_shadow_write(struct ims_hw_ims_queue *q, uint32_t queue, uint32_t off,
				   uint32_t val);
int ims__hw_ims_queue_shadow_read(struct ims_hw_ims_queue *q, uint32_t queue, uint32_t off,
				  uint32_t *val);

/*
 * Run a command as a write of cmd to the command register would; returns
 * the resulting status (IMS_QUEUE_STATUS_*).
 */
uint32_t ims__hw_ims_queue_command(struct ims_hw_ims_queue *q, uint32_t cmd);

/*
 * Signal queue i. Context: device side, any thread; takes only the store's
 * lock and calls the sink under it. Return: 0 (sent or latched), -EINVAL
 * no such queue, -EPERM PASID mismatch (counted, nothing latched).
 */
int ims__hw_ims_queue_signal(struct ims_hw_ims_queue *q, uint32_t queue, bool pasid_valid,
			     uint32_t pasid);
/* The message in effect (not the shadow), -EINVAL no such queue; and the pending state. */
int ims__hw_ims_queue_in_effect(struct ims_hw_ims_queue *q, uint32_t queue,
				struct ims_hw_slot *s);
bool ims__hw_ims_queue_pending(struct ims_hw_ims_queue *q, uint32_t queue);
void ims__hw_ims_queue_get_stats(struct ims_hw_ims_queue *q, struct ims_hw_ims_stats *st);

#endif
