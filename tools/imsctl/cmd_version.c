/*
 * imsctl version
 */
#include <string.h>

#include <jansson.h>

#include "imsctl.h"

#define IMSCTL_VERSION "0.1.0"

int imsctl_cmd_version(int argc, char **argv)
{
	bool json = false;

	if (imsctl_wants_help(argc, argv)) {
		printf("usage: imsctl version [--json]\n\nPrint the version of imsctl and ims.\n");
		return IMSCTL_OK;
	}
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json"))
			return imsctl_usage_error("version", "unknown option '%s'", argv[i]);
		json = true;
	}
	if (json) {
		json_t *o = json_object();

		if (o)
			json_object_set_new(o, "version", json_string(IMSCTL_VERSION));
		return imsctl_json_print(o);
	}
	printf("imsctl " IMSCTL_VERSION "\n");
	return IMSCTL_OK;
}
