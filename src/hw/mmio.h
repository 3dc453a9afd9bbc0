/*
 * An MMIO region of a device model: what a BAR decodes to at some offset. A
 * region declares the access sizes it accepts and whether they must be
 * naturally aligned; ims__hw_mmio_access() refuses anything else (and any
 * access that does not lie wholly inside the region) before the region's
 * callbacks run, so a model never sees a hostile size or offset.
 */
#ifndef IMS_HW_MMIO_H
#define IMS_HW_MMIO_H

#include <stdbool.h>
#include <stdint.h>

/* Access sizes, as a bit mask: bit n set accepts n-byte accesses. */
#define IMS_HW_MMIO_SIZE(n) (1u << (n))

struct ims_hw_mmio_ops {
	const char *name;	/* for messages: "msix-table", "ims-array" */
	/* Return 0, or a negative errno for an access the region refuses. */
	int (*read)(void *ctx, uint64_t off, uint32_t size, uint64_t *val);
	int (*write)(void *ctx, uint64_t off, uint32_t size, uint64_t val);
	uint32_t sizes;		/* IMS_HW_MMIO_SIZE(4) | IMS_HW_MMIO_SIZE(8) ... */
	bool unaligned;		/* true: accesses need not be naturally aligned */
};

struct ims_hw_mmio_region {
	const struct ims_hw_mmio_ops *ops;
	void *ctx;
	uint64_t size;
};

/*
 * One access to a region at off (relative to the region). -EINVAL, with a
 * message naming the region, offset and size, for an access the region
 * does not accept; the region's callbacks are not called then.
 */
int ims__hw_mmio_access(const struct ims_hw_mmio_region *r, uint64_t off, uint32_t size,
			uint64_t *val, bool write);

#endif
