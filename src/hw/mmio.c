/*
 * The one place where an MMIO access is checked against what its region
 * declares, so that no device model has to defend against hostile sizes,
 * alignments or offsets itself.
 */
#include <errno.h>

#include "hw/mmio.h"
#include "util/log.h"

int ims__hw_mmio_access(const struct ims_hw_mmio_region *r, uint64_t off, uint32_t size,
			uint64_t *val, bool write)
{
	const char *what = write ? "write" : "read";

	if (size == 0 || size > 8 || !(r->ops->sizes & IMS_HW_MMIO_SIZE(size)))
		return ims__error(-EINVAL, "%s: %u-byte %s at 0x%llx: size not accepted",
				  r->ops->name, size, what, (unsigned long long)off);
	if (!r->ops->unaligned && (off & (size - 1)))
		return ims__error(-EINVAL, "%s: %u-byte %s at 0x%llx: not aligned", r->ops->name,
				  size, what, (unsigned long long)off);
	if (off >= r->size || r->size - off < size)
		return ims__error(-EINVAL, "%s: %u-byte %s at 0x%llx: outside the region (0x%llx bytes)",
				  r->ops->name, size, what, (unsigned long long)off,
				  (unsigned long long)r->size);
	if (write) {
		if (size < 8)
			*val &= (1ull << (8 * size)) - 1;
		return r->ops->write(r->ctx, off, size, *val);
	}
	*val = 0;
	return r->ops->read(r->ctx, off, size, val);
}
