/*
 * IMS slot writes and signals against the device-memory array: arbitrary
 * MMIO accesses to the slots interleaved with signals carrying arbitrary
 * PASIDs. A signal is sent only with the slot's own PASID when the slot has
 * PASID enabled, carries exactly the slot's message, and a slot is never
 * pending while unmasked.
 */
#include <stdlib.h>
#include <string.h>

#include <ims/ims_slot.h>

#include "helpers/msi_rec.h"
#include "hw/ims/ims_array.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define SLOTS 8

static struct msi_rec rec;

static uint32_t rd(struct ims_hw_mmio_region *r, uint64_t off)
{
	uint64_t v = 0;

	if (ims__hw_mmio_access(r, off, 4, &v, false))
		abort();
	return (uint32_t)v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ims_hw_ims_array_params p = { SLOTS, 0x0400 };
	struct ims_hw_msi_sink sink;
	struct ims_hw_ims_array *a;
	struct ims_hw_mmio_region r;
	size_t i = 0;

	msi_rec_init(&rec, &sink);
	if (ims__hw_ims_array_create(&p, &sink, &a))
		abort();
	ims__hw_ims_array_region(a, &r);
	while (i + 7 <= size) {
		const uint8_t *b = data + i;
		uint32_t val, off = b[1] % (SLOTS * 16 + 8);
		static const uint32_t sizes[] = { 4, 4, 4, 1, 2, 8, 3, 4 };

		memcpy(&val, b + 2, 4);
		i += 7;
		if (b[0] & 1) {
			uint64_t v = val;

			ims__hw_mmio_access(&r, off, sizes[b[0] >> 5], &v, true);
		} else {
			uint32_t s = b[1] % (SLOTS + 1), before = msi_rec_count(&rec);
			bool pv = b[6] & 1;
			uint32_t pasid = val & 0xfffff;

			ims__hw_ims_array_signal(a, s, pv, pasid);
			if (msi_rec_count(&rec) > before) {
				struct ims_hw_msi_write w = msi_rec_last(&rec);
				uint32_t ctrl = rd(&r, s * 16 + IMS_SLOT_CTRL);
				uint64_t addr = rd(&r, s * 16) | (uint64_t)rd(&r, s * 16 + 4) << 32;

				if (s >= SLOTS || w.addr != addr || w.data != rd(&r, s * 16 + 8) ||
				    w.rid != 0x0400)
					abort();
				if ((ctrl & IMS_SLOT_CTRL_PASID_EN) &&
				    (!pv || pasid != ctrl >> IMS_SLOT_CTRL_PASID_SHIFT ||
				     !w.pasid_valid || w.pasid != pasid))
					abort();
			}
		}
		for (uint32_t s = 0; s < SLOTS; s++)
			if (!(rd(&r, s * 16 + IMS_SLOT_CTRL) & IMS_SLOT_CTRL_MASKBIT) &&
			    ims__hw_ims_array_pending(a, s))
				abort();
	}
	ims__hw_ims_array_destroy(a);
	return 0;
}
