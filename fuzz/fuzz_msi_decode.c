/*
 * MSI address/data decode: any pair either decodes, and then composes back
 * from its fields to the same message (ignoring the bits the format
 * ignores), or is refused with a message naming the field.
 */
#include <stdlib.h>
#include <string.h>

#include <ims/x86.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ims_msi_msg m = { 0 }, back;
	struct ims_x86_msi_fields f;

	memcpy(&m, data, size < sizeof(m) ? size : sizeof(m));
	if (ims_x86_msi_decode(&m, &f) != 0) {
		if (!ims_last_error()[0])
			abort();
		return 0;
	}
	if (ims_x86_msi_compose(&f, &back) != 0)
		abort();
	if (f.format == IMS_X86_MSI_COMPAT) {
		/* Address bits 1:0 are ignored; data bits 14 may be left 0. */
		if ((back.address_lo ^ m.address_lo) & ~3u)
			abort();
		if ((back.data ^ m.data) & 0xffff & ~(1u << 14))
			abort();
	} else {
		if ((back.address_lo ^ m.address_lo) & ~3u)
			abort();
		if (f.shv && (back.data & 0xffff) != (m.data & 0xffff))
			abort();
	}
	return 0;
}
