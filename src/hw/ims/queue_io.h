/*
 * The shadow memory of an IMS queue store as the OS side reaches it: an
 * ims_io_access over system memory where queue i's shadow slot lies at
 * i * 16. These are memory accesses: they change nothing on the device.
 */
#ifndef IMS_HW_IMS_QUEUE_IO_H
#define IMS_HW_IMS_QUEUE_IO_H

#include <ims/ims_chip.h>

#include "hw/ims/ims_queue.h"

void ims__hw_ims_queue_shadow_io(struct ims_hw_ims_queue *q, struct ims_io_access *io);

#endif
