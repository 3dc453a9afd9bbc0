/*
 * imsctl demo: the narrated run of the whole system (ims_sim_demo) on the
 * default machine: one line per event, then the /proc/interrupts-style
 * table taken before teardown, then the summary. No times and no
 * addresses are printed, so the same options give the same output.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <string.h>

#include <jansson.h>

#include "imsctl.h"

static const char *const event_names[] = {
	[IMS_SIM_EV_MACHINE] = "machine",	  [IMS_SIM_EV_ADI_CREATE] = "adi-create",
	[IMS_SIM_EV_WORK] = "work",		  [IMS_SIM_EV_AFFINITY] = "affinity",
	[IMS_SIM_EV_MASK] = "mask",		  [IMS_SIM_EV_UNMASK] = "unmask",
	[IMS_SIM_EV_POST] = "post",		  [IMS_SIM_EV_UNPOST] = "unpost",
	[IMS_SIM_EV_ADI_DESTROY] = "adi-destroy", [IMS_SIM_EV_TEARDOWN] = "teardown",
	[IMS_SIM_EV_SUMMARY] = "summary",
};

static const char *event_name(enum ims_sim_event_kind k)
{
	if ((unsigned int)k < sizeof(event_names) / sizeof(event_names[0]) && event_names[k])
		return event_names[k];
	return "event";
}

struct demo_out {
	json_t *events;			/* --json: collected here; else printed */
};

static void on_event(void *ctx, enum ims_sim_event_kind kind, const char *text)
{
	struct demo_out *out = ctx;

	if (out->events) {
		json_t *e = json_object();

		json_object_set_new(e, "kind", json_string(event_name(kind)));
		json_object_set_new(e, "text", json_string(text));
		json_array_append_new(out->events, e);
		return;
	}
	/* The summary is printed after the table, from the result. */
	if (kind != IMS_SIM_EV_SUMMARY)
		printf("%-12s %s\n", event_name(kind), text);
}

static int width_of(const struct ims_sim_result *r, size_t field_off, int min)
{
	int w = min;

	for (uint32_t i = 0; i < r->nr_rows; i++) {
		int len = (int)strlen((const char *)&r->rows[i] + field_off);

		if (len > w)
			w = len;
	}
	return w;
}

static void print_table(const struct ims_sim_result *r)
{
	int wchip = width_of(r, offsetof(struct ims_sim_irq_row, chip), 4);
	int wdom = width_of(r, offsetof(struct ims_sim_irq_row, domain), 6);
	int wdev = width_of(r, offsetof(struct ims_sim_irq_row, device), 6);

	printf("%6s", "irq");
	for (uint32_t c = 0; c < r->cpus; c++)
		printf(" %7s%-3u", "CPU", c);
	printf("  %-*s %6s  %-*s %-*s %s\n", wchip, "chip", "hwirq", wdom, "domain", wdev, "device", "action");
	for (uint32_t i = 0; i < r->nr_rows; i++) {
		const struct ims_sim_irq_row *row = &r->rows[i];

		printf("%5u:", row->irq);
		for (uint32_t c = 0; c < r->cpus; c++)
			printf(" %10" PRIu64, row->per_cpu[c]);
		printf("  %-*s %6u  %-*s %-*s %s%s\n", wchip, row->chip, row->hwirq, wdom, row->domain, wdev,
		       row->device, row->action, row->posted ? " (posted: counted in the guest)" : "");
	}
}

static void print_summary(const struct ims_sim_result *r)
{
	printf("fired %" PRIu64 ", delivered %" PRIu64 " (by guests %" PRIu64 "), coalesced %" PRIu64
	       ", pending %" PRIu64 ", lost %" PRIu64 ", faults %" PRIu64 ", invariant violations %" PRIu64 "\n",
	       r->fired, r->delivered, r->delivered_guest, r->coalesced, r->pending, r->lost, r->faults,
	       r->invariant_violations);
}

static json_t *summary_json(const struct ims_sim_result *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "fired", json_integer((json_int_t)r->fired));
	json_object_set_new(o, "delivered", json_integer((json_int_t)r->delivered));
	json_object_set_new(o, "delivered_guest", json_integer((json_int_t)r->delivered_guest));
	json_object_set_new(o, "coalesced", json_integer((json_int_t)r->coalesced));
	json_object_set_new(o, "pending", json_integer((json_int_t)r->pending));
	json_object_set_new(o, "lost", json_integer((json_int_t)r->lost));
	json_object_set_new(o, "faults", json_integer((json_int_t)r->faults));
	json_object_set_new(o, "invariant_violations", json_integer((json_int_t)r->invariant_violations));
	if (r->violation != IMS_SIM_OK) {
		json_object_set_new(o, "violation", json_string(ims_sim_violation_name(r->violation)));
		json_object_set_new(o, "violation_message", json_string(r->violation_msg));
	}
	return o;
}

static void demo_usage(FILE *f)
{
	fprintf(f, "usage: imsctl demo [OPTIONS]\n\n"
		   "Run the narrated demonstration on the default machine (4 CPUs, 2 remapping\n"
		   "units, one device with MSI-X and 2048 IMS slots, 2 guests of 2 vCPUs):\n"
		   "ADIs created, work submitted, an affinity moved, a vector masked and\n"
		   "unmasked, ADIs posted to guests and back, a CPU taken offline, teardown;\n"
		   "then the /proc/interrupts-style table and the summary.\n\n"
		   "options:\n");
	imsctl_simopts_help(f, IMSCTL_SIMOPT_DEMO);
	fprintf(f, "  %-26s %s\n", "--json", "print one JSON object: events, table, summary");
	fprintf(f, "\nExit: 0 clean run, 1 an invariant was violated or the run failed, 2 bad input.\n");
}

int imsctl_cmd_demo(int argc, char **argv)
{
	struct ims_sim_config cfg;
	struct ims_sim_result res;
	struct demo_out out = { 0 };
	bool json = false;
	int rc;

	if (imsctl_wants_help(argc, argv)) {
		demo_usage(stdout);
		return IMSCTL_OK;
	}
	ims_sim_config_default(&cfg);
	for (int i = 1; i < argc; i++) {
		rc = imsctl_simopt_parse("demo", IMSCTL_SIMOPT_DEMO, argc, argv, &i, &cfg);
		if (rc == IMSCTL_OK)
			continue;
		if (rc != IMSCTL_SIMOPT_NOT_MINE)
			return rc;
		if (!strcmp(argv[i], "--json"))
			json = true;
		else if (argv[i][0] == '-')
			return imsctl_usage_error("demo", "unknown option '%s' (see imsctl demo --help)", argv[i]);
		else
			return imsctl_usage_error("demo", "unexpected argument '%s'", argv[i]);
	}
	rc = imsctl_sim_validate("demo", &cfg);
	if (rc)
		return rc;
	if (json) {
		out.events = json_array();
		if (!out.events)
			return imsctl_fail("demo", "out of memory");
	}
	rc = ims_sim_demo(&cfg, on_event, &out, &res);
	if (rc) {
		json_decref(out.events);
		if (rc == -ENODEV && cfg.backend == IMS_SIM_BACKEND_KVM)
			return imsctl_fail("demo", "KVM is not available (%s); use --backend sim", ims_last_error());
		return imsctl_fail("demo", "the demo failed: %s", ims_last_error());
	}
	if (json) {
		json_t *o = json_object();

		json_object_set_new(o, "config", imsctl_json_config(&cfg));
		json_object_set_new(o, "events", out.events);
		json_object_set_new(o, "interrupts", imsctl_json_rows(&res));
		json_object_set_new(o, "summary", summary_json(&res));
		rc = imsctl_json_print(o);
	} else {
		printf("\n");
		print_table(&res);
		printf("\n");
		print_summary(&res);
		rc = IMSCTL_OK;
	}
	if (res.violation != IMS_SIM_OK) {
		fprintf(stderr, "imsctl: demo: invariant violated (%s): %s\n", ims_sim_violation_name(res.violation),
			res.violation_msg);
		rc = IMSCTL_FAIL;
	}
	ims_sim_result_free(&res);
	return rc;
}
