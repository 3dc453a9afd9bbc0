/*
 * imsctl demo: the narrated run of the whole system. Until the machine
 * model lands it shows the interrupt core on its own.
 */
#include "imsctl.h"

int imsctl_cmd_demo(int argc, char **argv)
{
	if (imsctl_wants_help(argc, argv)) {
		printf("usage: imsctl demo\n\nRun the narrated demonstration.\n");
		return IMSCTL_OK;
	}
	printf("ims demo: the machine model is not built yet.\n");
	return IMSCTL_OK;
}
