/*
 * The DMA-able memory of the model machine: regions of host memory that
 * software has made reachable by hardware. A "physical address" in this
 * model is the host address, but hardware models reach memory only through
 * ims__dma_map(), which fails for any range not wholly inside a registered
 * region, so that a corrupt address in a table (a bad posted-descriptor
 * pointer in a remapping entry) becomes a recorded fault, never a crash.
 *
 * Lookups are lock-free (RCU): a hardware model maps and uses a pointer
 * inside one ims__rcu_read_lock() section. Unregistering waits for every
 * such section that might still use the region.
 */
#ifndef IMS_HW_DMA_H
#define IMS_HW_DMA_H

#include <stddef.h>
#include <stdint.h>

struct ims_hw_dma;

int ims__dma_create(struct ims_hw_dma **out);
/* -EBUSY, changing nothing, while regions remain. */
int ims__dma_destroy(struct ims_hw_dma *dma);

/*
 * Make [host, host + len) reachable at bus address (uintptr_t)host. -EINVAL
 * for an empty region or one that overlaps a registered one; -ENOMEM.
 */
int ims__dma_register(struct ims_hw_dma *dma, void *host, size_t len);
/* Remove the region starting at host; -ENOENT if there is none. */
int ims__dma_unregister(struct ims_hw_dma *dma, void *host);

/*
 * The host pointer for [addr, addr + len), or NULL if that range is not
 * wholly inside one region. Call inside an RCU read section and use the
 * pointer only until its end.
 */
void *ims__dma_map(struct ims_hw_dma *dma, uint64_t addr, size_t len);

/* Bus address of a host pointer (the identity in this model). */
static inline uint64_t ims__dma_addr(const void *host)
{
	return (uint64_t)(uintptr_t)host;
}

/*
 * Accounted allocation of size bytes aligned to align (a power of two, at
 * most 4096), zeroed, for memory that software will register as DMA-able.
 * Free with ims__dma_free_aligned() and the same size and align.
 */
void *ims__dma_alloc_aligned(size_t size, size_t align, const char *point);
void ims__dma_free_aligned(void *p, size_t size, size_t align);

/*
 * Memory software hands to hardware (posted-interrupt descriptors, say):
 * allocated as by ims__dma_alloc_aligned() and registered, all or nothing
 * (NULL with the error set). ims__dma_free_registered() takes the region
 * away from the hardware and then frees it; if the region cannot be taken
 * away it is left allocated (the hardware could still reach it) and the
 * error returned.
 */
void *ims__dma_alloc_registered(struct ims_hw_dma *dma, size_t size, size_t align, const char *point);
int ims__dma_free_registered(struct ims_hw_dma *dma, void *p, size_t size, size_t align);

#endif
