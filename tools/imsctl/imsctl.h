/*
 * imsctl internals shared by its command files. imsctl sees only the public
 * headers of ims.
 */
#ifndef IMSCTL_H
#define IMSCTL_H

#include <stdbool.h>
#include <stdio.h>

#include <ims/ims.h>

struct json_t;

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

/* Print "imsctl: <cmd>: <message>" to stderr and return IMSCTL_FAIL. */
int imsctl_fail(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- machine options shared by sim, report and demo (simopts.c) ---- */

#define IMSCTL_SIMOPT_SIM	1u	/* every dimension (sim, report) */
#define IMSCTL_SIMOPT_DEMO	2u	/* the few the demo takes */
#define IMSCTL_SIMOPT_NOT_MINE	(-1)

/*
 * Parse argv[*i] ("--name VALUE" or "--name=VALUE") if it is a machine
 * option that `which` accepts, into cfg, advancing *i past its value.
 * Returns IMSCTL_OK, IMSCTL_USAGE (message printed, naming the option) or
 * IMSCTL_SIMOPT_NOT_MINE.
 */
int imsctl_simopt_parse(const char *cmd, unsigned int which, int argc, char **argv, int *i,
			struct ims_sim_config *cfg);
/* One line per option that `which` accepts, with its bounds. */
void imsctl_simopts_help(FILE *f, unsigned int which);
/* ims_sim_config_validate(), its message printed as bad input: IMSCTL_USAGE. */
int imsctl_sim_validate(const char *cmd, const struct ims_sim_config *cfg);

/*
 * ims_sim_run() with a progress bar when stderr is a terminal. On failure
 * prints why and returns IMSCTL_FAIL (res then holds nothing to free).
 */
int imsctl_sim_run_cli(const char *cmd, const struct ims_sim_config *cfg, struct ims_sim_result *res);
/* The violation, if any, on stderr: kind, seed, step, message, short trace. */
void imsctl_sim_print_violation(const struct ims_sim_result *r);

/* ---- results as JSON (simjson.c); new references ---- */

struct json_t *imsctl_json_config(const struct ims_sim_config *cfg);
/* The counts and peaks; wall_seconds only when timing is set. */
struct json_t *imsctl_json_result(const struct ims_sim_result *r, bool timing);
/* The /proc/interrupts-style rows. */
struct json_t *imsctl_json_rows(const struct ims_sim_result *r);
/* Print o (indented) and a newline on stdout, drop the reference. */
int imsctl_json_print(struct json_t *o);

/* One declaration per command, defined in its own cmd_*.c file. */
int imsctl_cmd_decode(int argc, char **argv);
int imsctl_cmd_bench(int argc, char **argv);
int imsctl_cmd_demo(int argc, char **argv);
int imsctl_cmd_pci(int argc, char **argv);
int imsctl_cmd_report(int argc, char **argv);
int imsctl_cmd_sim(int argc, char **argv);
int imsctl_cmd_version(int argc, char **argv);

/* Decoders of `imsctl decode`, one file each; argv[0] is the format name. */
int imsctl_decode_irte(int argc, char **argv);

#endif
