/*
 * Skipping a whole test binary: print why and exit 77, which the test
 * runner counts as skipped, not passed.
 */
#ifndef IMS_TEST_SKIP_H
#define IMS_TEST_SKIP_H

#include <stdio.h>
#include <stdlib.h>

#define IMS_TEST_SKIP_ALL(...)                         \
	do {                                            \
		printf("SKIPPED: " __VA_ARGS__);        \
		printf("\n");                           \
		exit(77);                               \
	} while (0)

#endif
