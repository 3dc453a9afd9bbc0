/*
 * Shadow memory of the IMS queue store as a 32-bit accessor.
 */
#include "hw/ims/queue_io.h"

static int shadow_read32(void *ctx, uint64_t off, uint32_t *val)
{
	if (off / IMS_SLOT_SIZE > UINT32_MAX)
		return ims__hw_ims_queue_shadow_read(ctx, UINT32_MAX, 0, val);
	return ims__hw_ims_queue_shadow_read(ctx, (uint32_t)(off / IMS_SLOT_SIZE),
					     (uint32_t)(off % IMS_SLOT_SIZE), val);
}

static int shadow_write32(void *ctx, uint64_t off, uint32_t val)
{
	if (off / IMS_SLOT_SIZE > UINT32_MAX)
		return ims__hw_ims_queue_shadow_write(ctx, UINT32_MAX, 0, val);
	return ims__hw_ims_queue_shadow_write(ctx, (uint32_t)(off / IMS_SLOT_SIZE),
					      (uint32_t)(off % IMS_SLOT_SIZE), val);
}

void ims__hw_ims_queue_shadow_io(struct ims_hw_ims_queue *q, struct ims_io_access *io)
{
	io->read32 = shadow_read32;
	io->write32 = shadow_write32;
	io->ctx = q;
}
