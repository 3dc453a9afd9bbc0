/*
 * DMA-able memory for accelerator tests: the driver's map registers a
 * range, the device's map finds the host pointer of a bus address only
 * inside a registered range (bus address = host address). Thread-safe.
 */
#ifndef IMS_TEST_DMA_WINDOW_H
#define IMS_TEST_DMA_WINDOW_H

#include <ims/accel.h>

#include "hw/accel/accel.h"
#include "util/lock.h"

#define DMA_WINDOW_MAX 8192

struct dma_window {
	ims_spinlock_t lock;		/* guards r[] and n */
	struct { uintptr_t start; size_t len; } r[DMA_WINDOW_MAX];
	unsigned int n;
	unsigned int refused;		/* device maps outside every range */
};

void dma_window_init(struct dma_window *w);
/* The driver's side (struct ims_accel_dma_ops) and the device's (ims_hw_accel_mem). */
void dma_window_os_ops(struct dma_window *w, struct ims_accel_dma_ops *ops);
void dma_window_hw_mem(struct dma_window *w, struct ims_hw_accel_mem *mem);
unsigned int dma_window_count(struct dma_window *w);

#endif
