/*
 * DMA-able memory for accelerator tests; see dma_window.h.
 */
#include <errno.h>
#include <string.h>

#include "helpers/dma_window.h"

void dma_window_init(struct dma_window *w)
{
	memset(w, 0, sizeof(*w));
	ims__spin_init(&w->lock);
}

static int os_map(void *ctx, void *host, size_t len, uint64_t *bus)
{
	struct dma_window *w = ctx;
	int ret = 0;

	ims__spin_lock(&w->lock);
	if (w->n == DMA_WINDOW_MAX) {
		ret = -ENOSPC;
	} else {
		w->r[w->n].start = (uintptr_t)host;
		w->r[w->n++].len = len;
	}
	ims__spin_unlock(&w->lock);
	*bus = (uint64_t)(uintptr_t)host;
	return ret;
}

static void os_unmap(void *ctx, void *host)
{
	struct dma_window *w = ctx;

	ims__spin_lock(&w->lock);
	for (unsigned int i = 0; i < w->n; i++) {
		if (w->r[i].start == (uintptr_t)host) {
			w->r[i] = w->r[--w->n];
			break;
		}
	}
	ims__spin_unlock(&w->lock);
}

static void *hw_map(void *ctx, uint64_t addr, size_t len)
{
	struct dma_window *w = ctx;
	void *p = NULL;

	ims__spin_lock(&w->lock);
	for (unsigned int i = 0; i < w->n; i++) {
		if (addr >= w->r[i].start && addr - w->r[i].start <= w->r[i].len &&
		    w->r[i].len - (addr - w->r[i].start) >= len) {
			p = (void *)(uintptr_t)addr;
			break;
		}
	}
	if (!p)
		w->refused++;
	ims__spin_unlock(&w->lock);
	return p;
}

void dma_window_os_ops(struct dma_window *w, struct ims_accel_dma_ops *ops)
{
	ops->map = os_map;
	ops->unmap = os_unmap;
	ops->ctx = w;
}

void dma_window_hw_mem(struct dma_window *w, struct ims_hw_accel_mem *mem)
{
	mem->map = hw_map;
	mem->put = NULL;
	mem->ctx = w;
}

unsigned int dma_window_count(struct dma_window *w)
{
	unsigned int n;

	ims__spin_lock(&w->lock);
	n = w->n;
	ims__spin_unlock(&w->lock);
	return n;
}
