/*
 * imsctl internals shared by its command files. imsctl sees only the public
 * headers of ims.
 */
#ifndef IMSCTL_H
#define IMSCTL_H

#include <stdbool.h>
#include <stdio.h>

#include <ims/ims.h>

/* Exit codes: 0 success, 1 the operation failed, 2 bad input. */
enum { IMSCTL_OK = 0, IMSCTL_FAIL = 1, IMSCTL_USAGE = 2 };

struct imsctl_cmd {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);	/* argv[0] is the command name */
};

/* Print "imsctl: <cmd>: <message>" to stderr and return IMSCTL_USAGE. */
int imsctl_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* True if argv has --help or -h. */
bool imsctl_wants_help(int argc, char **argv);

/* One declaration per command, defined in its own cmd_*.c file. */
int imsctl_cmd_decode(int argc, char **argv);
int imsctl_cmd_demo(int argc, char **argv);
int imsctl_cmd_pci(int argc, char **argv);
int imsctl_cmd_version(int argc, char **argv);

/* Decoders of `imsctl decode`, one file each; argv[0] is the format name. */
int imsctl_decode_irte(int argc, char **argv);

#endif
