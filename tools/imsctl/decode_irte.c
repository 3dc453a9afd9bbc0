/*
 * imsctl decode irte --lo L --hi H [--json]: print every field of an
 * interrupt remapping table entry by name, in remapped or posted format,
 * as text or as JSON. L and H are the low and high 64 bits of the entry,
 * in hex (0x...) or decimal.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include <ims/remap.h>

#include "imsctl.h"

#define CMD "decode irte"

static void usage(FILE *f)
{
	fprintf(f, "usage: imsctl decode irte --lo LOW --hi HIGH [--json]\n\n"
		   "Decode a 128-bit interrupt remapping table entry given as its low and\n"
		   "high 64-bit halves (hex with 0x, or decimal), in remapped or posted\n"
		   "format, and print every field by name.\n");
}

static bool parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!s || !*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	*out = strtoull(s, &end, 0);
	return errno == 0 && *end == '\0';
}

/* "bb:dd.f" for a requester id, or "buses xx-yy" when SVT checks a bus range. */
static void sid_text(const struct ims_irte *t, char *buf, size_t len)
{
	if (t->svt == 2)
		snprintf(buf, len, "buses %02x-%02x", t->sid >> 8, t->sid & 0xff);
	else
		snprintf(buf, len, "%02x:%02x.%u", t->sid >> 8, (t->sid >> 3) & 0x1f, t->sid & 7);
}

static void hex64(uint64_t v, char *buf, size_t len)
{
	snprintf(buf, len, "0x%016" PRIx64, v);
}

static int print_json(const struct ims_irte *t)
{
	json_t *o = json_object();
	char sid[32], pda[24], rlo[24], rhi[24];
	char *s;

	if (!o)
		return IMSCTL_FAIL;
	sid_text(t, sid, sizeof(sid));
	hex64(t->pda, pda, sizeof(pda));
	hex64(t->rsvd_lo, rlo, sizeof(rlo));
	hex64(t->rsvd_hi, rhi, sizeof(rhi));
	json_object_set_new(o, "format", json_string(t->posted ? "posted" : "remapped"));
	json_object_set_new(o, "present", json_boolean(t->present));
	json_object_set_new(o, "fpd", json_boolean(t->fpd));
	json_object_set_new(o, "avail", json_integer(t->avail));
	if (t->posted) {
		json_object_set_new(o, "urgent", json_boolean(t->urgent));
		json_object_set_new(o, "vector", json_integer(t->vector));
		json_object_set_new(o, "pda", json_string(pda));
	} else {
		json_object_set_new(o, "dest_mode", json_string(t->dest_logical ? "logical" : "physical"));
		json_object_set_new(o, "redirection_hint", json_boolean(t->redirection_hint));
		json_object_set_new(o, "trigger_mode", json_string(t->level_trigger ? "level" : "edge"));
		json_object_set_new(o, "delivery_mode", json_string(ims_irte_delivery_mode_name(t->delivery_mode)));
		json_object_set_new(o, "vector", json_integer(t->vector));
		json_object_set_new(o, "dest", json_integer(t->dest));
		json_object_set_new(o, "xapic_dest", json_integer((t->dest >> 8) & 0xff));
	}
	json_object_set_new(o, "sid", json_integer(t->sid));
	json_object_set_new(o, "sid_text", json_string(sid));
	json_object_set_new(o, "sq", json_integer(t->sq));
	json_object_set_new(o, "svt", json_string(ims_irte_svt_name(t->svt)));
	json_object_set_new(o, "reserved_lo", json_string(rlo));
	json_object_set_new(o, "reserved_hi", json_string(rhi));
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return IMSCTL_FAIL;
	printf("%s\n", s);
	free(s);
	return IMSCTL_OK;
}

static void print_text(const struct ims_irte *t)
{
	char sid[32], buf[24];

	sid_text(t, sid, sizeof(sid));
	printf("format:           %s\n", t->posted ? "posted" : "remapped");
	printf("present:          %d\n", t->present);
	printf("fpd:              %d\n", t->fpd);
	printf("avail:            0x%x\n", t->avail);
	if (t->posted) {
		hex64(t->pda, buf, sizeof(buf));
		printf("urgent:           %d\n", t->urgent);
		printf("vector:           0x%02x (guest)\n", t->vector);
		printf("pda:              %s\n", buf);
	} else {
		printf("dest_mode:        %s\n", t->dest_logical ? "logical" : "physical");
		printf("redirection_hint: %d\n", t->redirection_hint);
		printf("trigger_mode:     %s\n", t->level_trigger ? "level" : "edge");
		printf("delivery_mode:    %s (%u)\n", ims_irte_delivery_mode_name(t->delivery_mode),
		       t->delivery_mode);
		printf("vector:           0x%02x\n", t->vector);
		printf("dest:             0x%08x (x2apic 0x%x, xapic 0x%02x)\n", t->dest, t->dest,
		       (t->dest >> 8) & 0xff);
	}
	printf("sid:              0x%04x (%s)\n", t->sid, sid);
	printf("sq:               %u\n", t->sq);
	printf("svt:              %s (%u)\n", ims_irte_svt_name(t->svt), t->svt);
	hex64(t->rsvd_lo, buf, sizeof(buf));
	printf("reserved_lo:      %s\n", buf);
	hex64(t->rsvd_hi, buf, sizeof(buf));
	printf("reserved_hi:      %s\n", buf);
}

int imsctl_decode_irte(int argc, char **argv)
{
	const char *lo_s = NULL, *hi_s = NULL;
	bool json = false;
	uint64_t lo, hi;
	struct ims_irte t;

	if (imsctl_wants_help(argc, argv)) {
		usage(stdout);
		return IMSCTL_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--lo") || !strcmp(argv[i], "--hi")) {
			if (i + 1 >= argc)
				return imsctl_usage_error(CMD, "%s needs a value", argv[i]);
			if (!strcmp(argv[i], "--lo"))
				lo_s = argv[++i];
			else
				hi_s = argv[++i];
		} else {
			return imsctl_usage_error(CMD, "unknown argument '%s'", argv[i]);
		}
	}
	if (!lo_s)
		return imsctl_usage_error(CMD, "--lo is required");
	if (!hi_s)
		return imsctl_usage_error(CMD, "--hi is required");
	if (!parse_u64(lo_s, &lo))
		return imsctl_usage_error(CMD, "--lo '%s' is not a 64-bit number", lo_s);
	if (!parse_u64(hi_s, &hi))
		return imsctl_usage_error(CMD, "--hi '%s' is not a 64-bit number", hi_s);
	ims_irte_decode(lo, hi, &t);
	if (json)
		return print_json(&t);
	print_text(&t);
	return IMSCTL_OK;
}
