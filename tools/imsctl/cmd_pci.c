/*
 * imsctl pci FILE [--json]: decode a configuration space dump (256 or 4096
 * bytes, as `lspci -xxx` or `-xxxx` gives, in binary) with the PCI core:
 * the capabilities of both lists, MSI, MSI-X and the SIOV DVSEC with its
 * IMS flag. A malformed dump exits 2 with a message naming the offset and
 * the fault; a file that cannot be read exits 1.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include <ims/pci.h>

#include "imsctl.h"

static const char *const usage_text =
	"usage: imsctl pci FILE [--json]\n"
	"\n"
	"Decode a PCI configuration space dump of 256 or 4096 bytes: capabilities\n"
	"(id, offset, name), MSI, MSI-X (table size, BAR and offset of table and\n"
	"PBA) and the SIOV DVSEC with its IMS flag. Exit 2 on a malformed dump.\n";

/* Reads at most 4097 bytes, so that anything longer than 4096 shows. */
static int read_dump(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (!f) {
		fprintf(stderr, "imsctl: pci: %s: %s\n", path, strerror(errno));
		return IMSCTL_FAIL;
	}
	n = fread(buf, 1, cap, f);
	if (ferror(f)) {
		fprintf(stderr, "imsctl: pci: %s: read error\n", path);
		fclose(f);
		return IMSCTL_FAIL;
	}
	fclose(f);
	*len = n;
	return IMSCTL_OK;
}

static void print_text(const struct ims_pci_dev_info *d)
{
	printf("config space: %u bytes, vendor %04x device %04x, class %06x, header type %02x\n",
	       d->cfg_size, d->vendor_id, d->device_id, d->class_code, d->header_type);
	printf("capabilities:%s\n", d->nr_caps ? "" : " none");
	if (d->nr_caps)
		printf("  id      offset  name\n");
	for (unsigned int i = 0; i < d->nr_caps; i++) {
		const struct ims_pci_cap *c = &d->caps[i];

		if (c->extended)
			printf("  0x%04x  0x%03x   %s (extended, v%u)%s\n", c->id, c->offset,
			       ims_pci_cap_name(c->id, true), c->version,
			       d->has_siov && c->offset == d->siov.offset ? ": SIOV" : "");
		else
			printf("  0x%02x    0x%03x   %s\n", c->id, c->offset,
			       ims_pci_cap_name(c->id, false));
	}
	if (d->has_msi)
		printf("msi: offset 0x%x, vectors %u, %s, %s, %s\n", d->msi.offset,
		       d->msi.nr_capable, d->msi.is_64bit ? "64-bit" : "32-bit",
		       d->msi.per_vector_mask ? "per-vector masking" : "no per-vector masking",
		       d->msi.enabled ? "enabled" : "disabled");
	else
		printf("msi: none\n");
	if (d->has_msix)
		printf("msi-x: offset 0x%x, table size %u, table BAR %u offset 0x%x, PBA BAR %u offset 0x%x, %s%s\n",
		       d->msix.offset, d->msix.table_size, d->msix.table_bir,
		       d->msix.table_offset, d->msix.pba_bir, d->msix.pba_offset,
		       d->msix.enabled ? "enabled" : "disabled",
		       d->msix.function_masked ? ", function masked" : "");
	else
		printf("msi-x: none\n");
	if (d->has_siov)
		printf("siov dvsec: offset 0x%x, revision %u, length 0x%x, ims supported: %s\n",
		       d->siov.offset, d->siov.revision, d->siov.length,
		       d->siov.ims_supported ? "yes" : "no");
	else
		printf("siov dvsec: none\n");
	printf("ims: %s\n", ims_pci_dev_supports_ims(d) ? "supported" : "not supported");
}

static json_t *json_info(const struct ims_pci_dev_info *d)
{
	json_t *root = json_object(), *caps = json_array();

	json_object_set_new(root, "size", json_integer(d->cfg_size));
	json_object_set_new(root, "vendor_id", json_integer(d->vendor_id));
	json_object_set_new(root, "device_id", json_integer(d->device_id));
	json_object_set_new(root, "class_code", json_integer(d->class_code));
	json_object_set_new(root, "header_type", json_integer(d->header_type));
	for (unsigned int i = 0; i < d->nr_caps; i++) {
		const struct ims_pci_cap *c = &d->caps[i];
		json_t *o = json_object();

		json_object_set_new(o, "id", json_integer(c->id));
		json_object_set_new(o, "offset", json_integer(c->offset));
		json_object_set_new(o, "name", json_string(ims_pci_cap_name(c->id, c->extended)));
		json_object_set_new(o, "extended", json_boolean(c->extended));
		if (c->extended)
			json_object_set_new(o, "version", json_integer(c->version));
		json_array_append_new(caps, o);
	}
	json_object_set_new(root, "capabilities", caps);
	if (d->has_msi) {
		json_t *o = json_object();

		json_object_set_new(o, "offset", json_integer(d->msi.offset));
		json_object_set_new(o, "vectors", json_integer(d->msi.nr_capable));
		json_object_set_new(o, "is_64bit", json_boolean(d->msi.is_64bit));
		json_object_set_new(o, "per_vector_mask", json_boolean(d->msi.per_vector_mask));
		json_object_set_new(o, "enabled", json_boolean(d->msi.enabled));
		json_object_set_new(root, "msi", o);
	} else {
		json_object_set_new(root, "msi", json_null());
	}
	if (d->has_msix) {
		json_t *o = json_object();

		json_object_set_new(o, "offset", json_integer(d->msix.offset));
		json_object_set_new(o, "table_size", json_integer(d->msix.table_size));
		json_object_set_new(o, "table_bar", json_integer(d->msix.table_bir));
		json_object_set_new(o, "table_offset", json_integer(d->msix.table_offset));
		json_object_set_new(o, "pba_bar", json_integer(d->msix.pba_bir));
		json_object_set_new(o, "pba_offset", json_integer(d->msix.pba_offset));
		json_object_set_new(o, "enabled", json_boolean(d->msix.enabled));
		json_object_set_new(o, "function_masked", json_boolean(d->msix.function_masked));
		json_object_set_new(root, "msix", o);
	} else {
		json_object_set_new(root, "msix", json_null());
	}
	if (d->has_siov) {
		json_t *o = json_object();

		json_object_set_new(o, "offset", json_integer(d->siov.offset));
		json_object_set_new(o, "revision", json_integer(d->siov.revision));
		json_object_set_new(o, "length", json_integer(d->siov.length));
		json_object_set_new(o, "function_dependency_link",
				    json_integer(d->siov.func_dep_link));
		json_object_set_new(o, "homogeneous", json_boolean(d->siov.homogeneous));
		json_object_set_new(o, "supported_page_sizes",
				    json_integer(d->siov.supported_page_sizes));
		json_object_set_new(o, "system_page_size", json_integer(d->siov.system_page_size));
		json_object_set_new(o, "ims_supported", json_boolean(d->siov.ims_supported));
		json_object_set_new(root, "siov", o);
	} else {
		json_object_set_new(root, "siov", json_null());
	}
	json_object_set_new(root, "ims_supported", json_boolean(ims_pci_dev_supports_ims(d)));
	return root;
}

static int print_json(const struct ims_pci_dev_info *d)
{
	json_t *root = json_info(d);
	char *s = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);

	json_decref(root);
	if (!s) {
		fprintf(stderr, "imsctl: pci: out of memory formatting JSON\n");
		return IMSCTL_FAIL;
	}
	printf("%s\n", s);
	free(s);
	return IMSCTL_OK;
}

int imsctl_cmd_pci(int argc, char **argv)
{
	static struct ims_pci_dev_info info;	/* 8 KB: off the stack */
	uint8_t buf[IMS_PCI_CFG_EXT_SIZE + 1];
	struct ims_pci_cfg_access acc;
	const char *path = NULL;
	bool json = false;
	size_t len;
	int rc;

	if (imsctl_wants_help(argc, argv)) {
		fputs(usage_text, stdout);
		return IMSCTL_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] == '-' && argv[i][1])
			return imsctl_usage_error("pci", "unknown option '%s'", argv[i]);
		else if (path)
			return imsctl_usage_error("pci", "one FILE only ('%s' and '%s')", path,
						  argv[i]);
		else
			path = argv[i];
	}
	if (!path)
		return imsctl_usage_error("pci", "missing FILE (usage: imsctl pci FILE [--json])");
	rc = read_dump(path, buf, sizeof(buf), &len);
	if (rc)
		return rc;
	if (len != IMS_PCI_CFG_SIZE && len != IMS_PCI_CFG_EXT_SIZE)
		return imsctl_usage_error("pci", "%s: %s%zu bytes: a dump must be 256 or 4096 bytes",
					  path, len > IMS_PCI_CFG_EXT_SIZE ? "more than " : "",
					  len > IMS_PCI_CFG_EXT_SIZE ? (size_t)IMS_PCI_CFG_EXT_SIZE : len);
	if (ims_pci_cfg_access_buffer(&acc, buf, len) || ims_pci_dev_probe(&acc, &info))
		return imsctl_usage_error("pci", "%s: %s", path, ims_last_error());
	if (json)
		return print_json(&info);
	print_text(&info);
	return IMSCTL_OK;
}
