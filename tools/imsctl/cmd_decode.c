/*
 * imsctl decode: take a hardware value apart and print every field by
 * name. Each kind of value ("msi", later "irte") is one row of a small table
 * of decoders, so that adding one is adding a function and a row.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "imsctl.h"

struct decoder {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);	/* argv[0] is the decoder name */
};

/*
 * Parse a number (decimal, 0x hex or 0 octal) that must fit in max. The
 * error names the option, so that bad input says which field was wrong.
 */
static int parse_u64(const char *opt, const char *s, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s)
		return imsctl_usage_error("decode", "%s: missing value", opt);
	if (s[0] == '-')
		return imsctl_usage_error("decode", "%s: '%s' is negative", opt, s);
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end)
		return imsctl_usage_error("decode", "%s: '%s' is not a number", opt, s);
	if (v > max)
		return imsctl_usage_error("decode", "%s: 0x%llx does not fit in %d bits", opt, v,
					  max == UINT32_MAX ? 32 : 64);
	*out = v;
	return IMSCTL_OK;
}

static void msi_print_text(const struct ims_msi_msg *m, const struct ims_x86_msi_fields *f)
{
	printf("%-22s %s\n", "format:",
	       f->format == IMS_X86_MSI_REMAPPABLE ? "remappable" : "compatibility");
	printf("%-22s 0x%08" PRIx32 "%08" PRIx32 "\n", "address:", m->address_hi, m->address_lo);
	printf("%-22s 0x%08" PRIx32 "\n", "data:", m->data);
	if (f->format == IMS_X86_MSI_REMAPPABLE) {
		printf("%-22s 0x%04x\n", "handle:", f->handle);
		printf("%-22s %d\n", "shv:", f->shv);
		printf("%-22s 0x%04x\n", "subhandle:", f->subhandle);
		printf("%-22s 0x%x (%u)\n", "index:", f->index, f->index);
		return;
	}
	printf("%-22s 0x%02x (%u)\n", "destination:", f->dest_id, f->dest_id);
	printf("%-22s 0x%02x\n", "extended destination:", f->ext_dest_id);
	printf("%-22s 0x%x (%u)\n", "apic id:", f->apic_id, f->apic_id);
	printf("%-22s %s\n", "destination mode:", f->dest_logical ? "logical" : "physical");
	printf("%-22s %d\n", "redirection hint:", f->redirection_hint);
	printf("%-22s 0x%02x (%u)\n", "vector:", f->vector, f->vector);
	printf("%-22s %s (%u)\n", "delivery mode:", ims_x86_delivery_mode_name(f->delivery_mode),
	       f->delivery_mode);
	printf("%-22s %s\n", "trigger:", f->trigger_level ? "level" : "edge");
	printf("%-22s %s\n", "level:", f->level_assert ? "assert" : "deassert");
}

static int msi_print_json(const struct ims_msi_msg *m, const struct ims_x86_msi_fields *f)
{
	json_t *o = json_object();
	char buf[32];
	char *s;

	if (!o)
		return IMSCTL_FAIL;
	json_object_set_new(o, "format", json_string(f->format == IMS_X86_MSI_REMAPPABLE ?
						     "remappable" : "compatibility"));
	snprintf(buf, sizeof(buf), "0x%08" PRIx32 "%08" PRIx32, m->address_hi, m->address_lo);
	json_object_set_new(o, "address", json_string(buf));
	snprintf(buf, sizeof(buf), "0x%08" PRIx32, m->data);
	json_object_set_new(o, "data", json_string(buf));
	if (f->format == IMS_X86_MSI_REMAPPABLE) {
		json_object_set_new(o, "handle", json_integer(f->handle));
		json_object_set_new(o, "shv", json_boolean(f->shv));
		json_object_set_new(o, "subhandle", json_integer(f->subhandle));
		json_object_set_new(o, "index", json_integer(f->index));
	} else {
		json_object_set_new(o, "destination", json_integer(f->dest_id));
		json_object_set_new(o, "extended_destination", json_integer(f->ext_dest_id));
		json_object_set_new(o, "apic_id", json_integer(f->apic_id));
		json_object_set_new(o, "destination_mode",
				    json_string(f->dest_logical ? "logical" : "physical"));
		json_object_set_new(o, "redirection_hint", json_boolean(f->redirection_hint));
		json_object_set_new(o, "vector", json_integer(f->vector));
		json_object_set_new(o, "delivery_mode",
				    json_string(ims_x86_delivery_mode_name(f->delivery_mode)));
		json_object_set_new(o, "trigger", json_string(f->trigger_level ? "level" : "edge"));
		json_object_set_new(o, "level", json_string(f->level_assert ? "assert" : "deassert"));
	}
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return IMSCTL_FAIL;
	printf("%s\n", s);
	free(s);
	return IMSCTL_OK;
}

static int decode_msi(int argc, char **argv)
{
	const char *addr_s = NULL, *data_s = NULL;
	struct ims_x86_msi_fields f;
	struct ims_msi_msg m;
	uint64_t addr, data;
	bool json = false;
	int rc;

	if (imsctl_wants_help(argc, argv)) {
		printf("usage: imsctl decode msi --addr ADDRESS --data DATA [--json]\n\n"
		       "Print every field of an x86 MSI message (compatibility or remappable format).\n"
		       "ADDRESS is 64 bits (high word must be 0), DATA 32 bits; decimal or 0x hex.\n");
		return IMSCTL_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--addr") || !strcmp(argv[i], "--data")) {
			if (i + 1 >= argc)
				return imsctl_usage_error("decode", "%s: missing value", argv[i]);
			if (argv[i][2] == 'a')
				addr_s = argv[++i];
			else
				data_s = argv[++i];
		} else {
			return imsctl_usage_error("decode", "msi: unknown option '%s'", argv[i]);
		}
	}
	if (!addr_s)
		return imsctl_usage_error("decode", "msi: --addr is required");
	if (!data_s)
		return imsctl_usage_error("decode", "msi: --data is required");
	rc = parse_u64("--addr", addr_s, UINT64_MAX, &addr);
	if (rc)
		return rc;
	rc = parse_u64("--data", data_s, UINT32_MAX, &data);
	if (rc)
		return rc;
	m.address_lo = (uint32_t)addr;
	m.address_hi = (uint32_t)(addr >> 32);
	m.data = (uint32_t)data;
	if (ims_x86_msi_decode(&m, &f))
		return imsctl_usage_error("decode", "%s", ims_last_error());
	if (json)
		return msi_print_json(&m, &f);
	msi_print_text(&m, &f);
	return IMSCTL_OK;
}

static const struct decoder decoders[] = {
	{ "msi", "an x86 MSI address/data pair", decode_msi },
	{ "irte", "an interrupt remapping table entry", imsctl_decode_irte },
};

static void decode_usage(FILE *f)
{
	fprintf(f, "usage: imsctl decode WHAT [OPTIONS]\n\nwhat:\n");
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++)
		fprintf(f, "  %-8s %s\n", decoders[i].name, decoders[i].summary);
}

int imsctl_cmd_decode(int argc, char **argv)
{
	if (argc < 2) {
		decode_usage(stderr);
		return IMSCTL_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		decode_usage(stdout);
		return IMSCTL_OK;
	}
	for (size_t i = 0; i < sizeof(decoders) / sizeof(decoders[0]); i++)
		if (!strcmp(argv[1], decoders[i].name))
			return decoders[i].run(argc - 1, argv + 1);
	imsctl_usage_error("decode", "unknown value kind '%s'", argv[1]);
	decode_usage(stderr);
	return IMSCTL_USAGE;
}
