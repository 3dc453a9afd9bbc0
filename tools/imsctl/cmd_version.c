/*
 * imsctl version
 */
#include "imsctl.h"

int imsctl_cmd_version(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	printf("imsctl 0.1.0\n");
	return IMSCTL_OK;
}
