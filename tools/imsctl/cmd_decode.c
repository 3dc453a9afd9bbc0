/*
 * imsctl decode: print hardware formats field by field. Each format has its
 * own decoder; this file only dispatches to them.
 */
#include <string.h>

#include "imsctl.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: imsctl decode FORMAT [OPTIONS]\n\nformats:\n"
		   "  irte       an interrupt remapping table entry (--lo, --hi)\n");
}

int imsctl_cmd_decode(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return IMSCTL_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(stdout);
		return IMSCTL_OK;
	}
	if (!strcmp(argv[1], "irte"))
		return imsctl_decode_irte(argc - 1, argv + 1);
	return imsctl_usage_error("decode", "unknown format '%s'", argv[1]);
}
