/*
 * Remapping entries and remappable-format messages, as `imsctl decode irte`
 * and `imsctl decode msi` read them from the command line: any 128-bit
 * entry decodes; an entry with no reserved bit set encodes back to exactly
 * the same bits, and one with reserved bits set is refused by encode; the
 * names of its delivery mode and source-id type exist. Any message either
 * decodes as remappable format, and composes back to the same index, or is
 * refused.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ims/remap.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t buf[28] = { 0 };
	struct ims_irte e, again;
	struct ims_msi_msg msg, back;
	uint64_t lo, hi, lo2 = 0, hi2 = 0;
	uint16_t handle, sub, h2, s2;
	bool shv, shv2;

	memcpy(buf, data, size < sizeof(buf) ? size : sizeof(buf));
	memcpy(&lo, buf, 8);
	memcpy(&hi, buf + 8, 8);
	memcpy(&msg, buf + 16, sizeof(msg));

	ims_irte_decode(lo, hi, &e);
	if (!ims_irte_delivery_mode_name(e.delivery_mode) || !ims_irte_svt_name(e.svt))
		abort();
	if (e.rsvd_lo || e.rsvd_hi) {
		if (ims_irte_encode(&e, &lo2, &hi2) != -EINVAL)
			abort();
	} else if (ims_irte_encode(&e, &lo2, &hi2) == 0) {
		/* Every bit that is not reserved is a field: the same bits back. */
		if (lo2 != lo || hi2 != hi)
			abort();
		ims_irte_decode(lo2, hi2, &again);
		if (memcmp(&e, &again, sizeof(e)))
			abort();
	}

	if (ims_remap_msg_decode(&msg, &handle, &shv, &sub) == 0) {
		ims_remap_msg_compose(handle, shv, sub, &back);
		if (ims_remap_msg_decode(&back, &h2, &shv2, &s2) || h2 != handle || shv2 != shv ||
		    (shv && s2 != sub))
			abort();
	}
	return 0;
}
