/*
 * imsctl: the command line of ims. Each subcommand lives in its own file
 * and is listed in the table below.
 */
#include <stdarg.h>
#include <string.h>

#include "imsctl.h"

static const struct imsctl_cmd commands[] = {
	{ "bench", "run the benchmarks (not built yet)", imsctl_cmd_bench },
	{ "decode", "take a hardware value apart (decode msi, decode irte)", imsctl_cmd_decode },
	{ "demo", "run the narrated demonstration of the whole system", imsctl_cmd_demo },
	{ "pci", "decode a PCI configuration space dump", imsctl_cmd_pci },
	{ "report", "run the simulated machine and write an HTML page of pictures", imsctl_cmd_report },
	{ "sim", "run the simulated machine and check every invariant", imsctl_cmd_sim },
	{ "version", "print the version", imsctl_cmd_version },
};

int imsctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imsctl: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return IMSCTL_USAGE;
}

bool imsctl_wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h"))
			return true;
	return false;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: imsctl COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'imsctl COMMAND --help' describes a command.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return IMSCTL_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return IMSCTL_OK;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "imsctl: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return IMSCTL_USAGE;
}
