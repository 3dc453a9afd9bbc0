/*
 * imsctl bench: the benchmarks belong to the performance work, which has
 * not landed. Until it does the command says so and fails, rather than
 * printing numbers that measure nothing.
 */
#include <string.h>

#include "imsctl.h"

int imsctl_cmd_bench(int argc, char **argv)
{
	if (imsctl_wants_help(argc, argv)) {
		printf("usage: imsctl bench [--json]\n\n"
		       "Run the benchmarks (allocation, data path, memory per vector).\n"
		       "Not available yet: the benchmarks are not built; the command exits 1.\n");
		return IMSCTL_OK;
	}
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--json"))
			return imsctl_usage_error("bench", "unknown option '%s' (see imsctl bench --help)", argv[i]);
	return imsctl_fail("bench", "benchmarks are not built yet (they come with the performance work)");
}
