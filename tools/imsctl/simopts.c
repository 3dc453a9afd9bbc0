/*
 * The machine options shared by `imsctl sim`, `imsctl report` and `imsctl
 * demo`: one table row per dimension of struct ims_sim_config, with its
 * bounds, so that parsing, range checks and --help come from one place.
 * Parsing is strict: every error names the option and nothing is run.
 * Cross-dimension checks (slots per device, threads with kvm, what is not
 * available yet) are left to ims_sim_config_validate(), whose message is
 * passed through.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "imsctl.h"

enum opt_kind { OPT_NUM, OPT_ENUM, OPT_FLAG };

struct sim_opt {
	const char *name;		/* without the leading "--" */
	const char *arg;		/* the value's name in --help */
	const char *help;
	enum opt_kind kind;
	unsigned int cmds;		/* IMSCTL_SIMOPT_* that accept it */
	uint64_t lo, hi;		/* OPT_NUM bounds */
	const char *const *names;	/* OPT_ENUM: names, indexed by value */
	void (*set)(struct ims_sim_config *c, uint64_t v);
};

#define SETTER(field, type)                                                       \
	static void set_##field(struct ims_sim_config *c, uint64_t v)             \
	{                                                                         \
		c->field = (type)v;                                               \
	}

SETTER(cpus, uint32_t)
SETTER(ir_units, uint32_t)
SETTER(devices, uint32_t)
SETTER(adis, uint32_t)
SETTER(vectors_per_adi, uint32_t)
SETTER(ims_slots, uint32_t)
SETTER(msix_vectors, uint32_t)
SETTER(guests, uint32_t)
SETTER(vcpus, uint32_t)
SETTER(posted_percent, uint32_t)
SETTER(storage, enum ims_sim_storage)
SETTER(steps, uint64_t)
SETTER(seed, uint64_t)
SETTER(threads, uint32_t)
SETTER(backend, enum ims_sim_backend)
SETTER(kvm_irqfd, bool)
SETTER(fault_rate, uint32_t)
SETTER(check_every, uint32_t)
SETTER(arch, enum ims_sim_arch)
SETTER(device, enum ims_sim_device)

static const char *const storage_names[] = { "array", "queue", NULL };
static const char *const backend_names[] = { "sim", "kvm", NULL };
static const char *const arch_names[] = { "x86", "arm", NULL };
static const char *const device_names[] = { "simple", "accel", NULL };

#define S IMSCTL_SIMOPT_SIM
#define D IMSCTL_SIMOPT_DEMO

static const struct sim_opt opts[] = {
	{ "cpus", "N", "host CPUs", OPT_NUM, S, 1, IMS_SIM_MAX_CPUS, NULL, set_cpus },
	{ "ir-units", "N", "interrupt remapping units", OPT_NUM, S, 1, IMS_SIM_MAX_IR_UNITS, NULL,
	  set_ir_units },
	{ "devices", "N", "devices, spread over the units (15 per unit at most)", OPT_NUM, S, 1,
	  IMS_SIM_MAX_DEVICES, NULL, set_devices },
	{ "adis", "N", "ADIs alive at once per device", OPT_NUM, S, 1, IMS_SIM_MAX_ADIS, NULL, set_adis },
	{ "vectors-per-adi", "N", "IMS vectors of each ADI", OPT_NUM, S, 1, 64, NULL, set_vectors_per_adi },
	{ "ims-slots", "N", "IMS slots per device", OPT_NUM, S, 1, 16128, NULL, set_ims_slots },
	{ "msix-vectors", "N", "MSI-X table entries per device", OPT_NUM, S, 1, 2048, NULL,
	  set_msix_vectors },
	{ "guests", "N", "guests (0: none, nothing is posted)", OPT_NUM, S, 0, IMS_SIM_MAX_GUESTS, NULL,
	  set_guests },
	{ "vcpus", "N", "vCPUs per guest", OPT_NUM, S, 1, IMS_SIM_MAX_VCPUS, NULL, set_vcpus },
	{ "posted", "PERCENT", "weight of posting ADIs to guests among control operations", OPT_NUM, S, 0,
	  100, NULL, set_posted_percent },
	{ "storage", "array|queue", "IMS storage: slots in device memory, or queues in system memory",
	  OPT_ENUM, S, 0, 0, storage_names, set_storage },
	{ "steps", "N", "scheduler steps (with --threads: interrupts fired)", OPT_NUM, S, 1, 1000000000,
	  NULL, set_steps },
	{ "seed", "N", "seed of the scheduler (same seed, same run)", OPT_NUM, S | D, 0, INT64_MAX, NULL,
	  set_seed },
	{ "threads", "N", "0: deterministic; 3 or more: real threads", OPT_NUM, S, 0, IMS_SIM_MAX_THREADS,
	  NULL, set_threads },
	{ "backend", "sim|kvm", "where interrupts land: the local APIC models or KVM", OPT_ENUM, S | D, 0, 0,
	  backend_names, set_backend },
	{ "kvm-irqfd", NULL, "kvm backend: deliver through irqfd and GSI routes", OPT_FLAG, S, 0, 0, NULL,
	  set_kvm_irqfd },
	{ "fault-rate", "N", "fail each allocation with probability 1/N (0: never)", OPT_NUM, S, 0,
	  UINT32_MAX, NULL, set_fault_rate },
	{ "check-every", "N", "full recounts every N steps", OPT_NUM, S, 1, UINT32_MAX, NULL,
	  set_check_every },
	{ "arch", "x86|arm", "the platform", OPT_ENUM, S | D, 0, 0, arch_names, set_arch },
	{ "device", "simple|accel", "the kind of device", OPT_ENUM, S | D, 0, 0, device_names, set_device },
};

#undef S
#undef D

#define NR_OPTS (sizeof(opts) / sizeof(opts[0]))

void imsctl_simopts_help(FILE *f, unsigned int cmd)
{
	for (size_t i = 0; i < NR_OPTS; i++) {
		const struct sim_opt *o = &opts[i];
		char left[48];

		if (!(o->cmds & cmd))
			continue;
		snprintf(left, sizeof(left), "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
		fprintf(f, "  %-26s %s", left, o->help);
		if (o->kind == OPT_NUM)
			fprintf(f, " (%" PRIu64 "..%" PRIu64 ")", o->lo, o->hi);
		fputc('\n', f);
	}
}

/* A whole decimal or 0x hex number, nothing before or after it. */
static int parse_num(const char *cmd, const struct sim_opt *o, const char *s, uint64_t *out)
{
	unsigned long long v;
	char *end;

	if (!*s)
		return imsctl_usage_error(cmd, "--%s: empty value", o->name);
	if (s[0] == '-' || s[0] == '+' || s[0] == ' ' || s[0] == '\t')
		return imsctl_usage_error(cmd, "--%s: '%s' is not a number (%" PRIu64 "..%" PRIu64 ")",
					  o->name, s, o->lo, o->hi);
	errno = 0;
	v = strtoull(s, &end, s[0] == '0' && (s[1] == 'x' || s[1] == 'X') ? 16 : 10);
	if (*end || end == s)
		return imsctl_usage_error(cmd, "--%s: '%s' is not a number (%" PRIu64 "..%" PRIu64 ")",
					  o->name, s, o->lo, o->hi);
	if (errno == ERANGE || v < o->lo || v > o->hi)
		return imsctl_usage_error(cmd, "--%s: %s is out of range (%" PRIu64 "..%" PRIu64 ")", o->name,
					  s, o->lo, o->hi);
	*out = v;
	return IMSCTL_OK;
}

static int parse_enum(const char *cmd, const struct sim_opt *o, const char *s, uint64_t *out)
{
	char names[64] = "";

	for (size_t k = 0; o->names[k]; k++) {
		if (!strcmp(s, o->names[k])) {
			*out = k;
			return IMSCTL_OK;
		}
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", k ? ", " : "",
			 o->names[k]);
	}
	return imsctl_usage_error(cmd, "--%s: '%s' is not one of %s", o->name, s, names);
}

int imsctl_simopt_parse(const char *cmd, unsigned int which, int argc, char **argv, int *i,
			struct ims_sim_config *cfg)
{
	const char *a = argv[*i], *val = NULL, *eq;
	const struct sim_opt *o = NULL;
	size_t len;
	uint64_t v = 1;
	int rc;

	if (strncmp(a, "--", 2))
		return IMSCTL_SIMOPT_NOT_MINE;
	eq = strchr(a + 2, '=');
	len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
	for (size_t k = 0; k < NR_OPTS; k++)
		if ((opts[k].cmds & which) && strlen(opts[k].name) == len && !strncmp(opts[k].name, a + 2, len)) {
			o = &opts[k];
			break;
		}
	if (!o)
		return IMSCTL_SIMOPT_NOT_MINE;
	if (o->kind == OPT_FLAG) {
		if (eq)
			return imsctl_usage_error(cmd, "--%s takes no value", o->name);
		o->set(cfg, 1);
		return IMSCTL_OK;
	}
	if (eq) {
		val = eq + 1;
	} else {
		if (*i + 1 >= argc)
			return imsctl_usage_error(cmd, "--%s: missing value", o->name);
		val = argv[++*i];
	}
	rc = o->kind == OPT_NUM ? parse_num(cmd, o, val, &v) : parse_enum(cmd, o, val, &v);
	if (rc)
		return rc;
	o->set(cfg, v);
	return IMSCTL_OK;
}

int imsctl_sim_validate(const char *cmd, const struct ims_sim_config *cfg)
{
	const char *msg;

	if (!ims_sim_config_validate(cfg))
		return IMSCTL_OK;
	msg = ims_last_error();
	if (!strncmp(msg, "sim: ", 5))
		msg += 5;
	return imsctl_usage_error(cmd, "%s", msg);
}

int imsctl_fail(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imsctl: %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return IMSCTL_FAIL;
}
