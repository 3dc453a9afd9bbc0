/*
 * Results of the simulated machine as JSON, shared by `imsctl sim --json`,
 * `imsctl demo --json` and the data of `imsctl report`. Counts are JSON
 * integers; values that may not fit a signed 64-bit integer (the trace
 * hash) are hex strings.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "imsctl.h"

static const char *const backend_names[] = { "sim", "kvm" };
static const char *const storage_names[] = { "array", "queue" };
static const char *const arch_names[] = { "x86", "arm" };
static const char *const device_names[] = { "simple", "accel" };

#define NAME(tab, v) ((unsigned int)(v) < sizeof(tab) / sizeof(tab[0]) ? tab[v] : "unknown")

static void set_u64(json_t *o, const char *key, uint64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

json_t *imsctl_json_config(const struct ims_sim_config *c)
{
	json_t *o = json_object();

	if (!o)
		return NULL;
	set_u64(o, "cpus", c->cpus);
	set_u64(o, "ir_units", c->ir_units);
	set_u64(o, "devices", c->devices);
	set_u64(o, "adis", c->adis);
	set_u64(o, "vectors_per_adi", c->vectors_per_adi);
	set_u64(o, "ims_slots", c->ims_slots ? c->ims_slots : 2048);
	set_u64(o, "msix_vectors", c->msix_vectors ? c->msix_vectors : 9);
	set_u64(o, "guests", c->guests);
	set_u64(o, "vcpus", c->guests ? c->vcpus : 0);
	set_u64(o, "posted_percent", c->posted_percent);
	json_object_set_new(o, "storage", json_string(NAME(storage_names, c->storage)));
	set_u64(o, "steps", c->steps);
	set_u64(o, "seed", c->seed);
	set_u64(o, "threads", c->threads);
	json_object_set_new(o, "backend", json_string(NAME(backend_names, c->backend)));
	json_object_set_new(o, "kvm_irqfd", json_boolean(c->kvm_irqfd));
	set_u64(o, "fault_rate", c->fault_rate);
	set_u64(o, "check_every", c->check_every ? c->check_every : 1);
	json_object_set_new(o, "arch", json_string(NAME(arch_names, c->arch)));
	json_object_set_new(o, "device", json_string(NAME(device_names, c->device)));
	return o;
}

/* The short trace, one operation per array element. */
static json_t *trace_lines(const char *text)
{
	json_t *a = json_array();
	const char *p = text;

	while (a && p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);

		json_array_append_new(a, json_stringn(p, len));
		p = nl ? nl + 1 : NULL;
	}
	return a;
}

json_t *imsctl_json_result(const struct ims_sim_result *r, bool timing)
{
	json_t *o = json_object();
	char hash[24];

	if (!o)
		return NULL;
	set_u64(o, "seed", r->seed);
	set_u64(o, "steps", r->steps);
	set_u64(o, "fired", r->fired);
	set_u64(o, "delivered", r->delivered);
	set_u64(o, "delivered_guest", r->delivered_guest);
	set_u64(o, "coalesced", r->coalesced);
	set_u64(o, "pending", r->pending);
	set_u64(o, "lost", r->lost);
	set_u64(o, "misdelivered", r->misdelivered);
	set_u64(o, "after_free", r->after_free);
	set_u64(o, "cross_guest", r->cross_guest);
	set_u64(o, "faults", r->faults);
	set_u64(o, "spurious", r->spurious);
	set_u64(o, "invariant_violations", r->invariant_violations);
	set_u64(o, "alloc_failures", r->alloc_failures);
	set_u64(o, "injected_faults", r->injected_faults);
	set_u64(o, "kvm_irqfd_fires", r->kvm_irqfd_fires);
	set_u64(o, "max_vectors_used_per_cpu", r->max_vectors_used_per_cpu);
	set_u64(o, "irtes_used", r->irtes_used);
	set_u64(o, "ims_vectors_allocated", r->ims_vectors_allocated);
	snprintf(hash, sizeof(hash), "0x%016" PRIx64, r->trace_hash);
	json_object_set_new(o, "trace_hash", json_string(hash));
	if (timing)
		json_object_set_new(o, "wall_seconds", json_real(r->wall_seconds));
	if (r->violation != IMS_SIM_OK) {
		json_t *v = json_object();

		json_object_set_new(v, "kind", json_string(ims_sim_violation_name(r->violation)));
		set_u64(v, "step", r->violation_step);
		json_object_set_new(v, "message", json_string(r->violation_msg));
		if (r->min_trace)
			json_object_set_new(v, "trace", trace_lines(r->min_trace));
		json_object_set_new(o, "violation", v);
	}
	return o;
}

json_t *imsctl_json_rows(const struct ims_sim_result *r)
{
	json_t *a = json_array();

	for (uint32_t i = 0; a && i < r->nr_rows; i++) {
		const struct ims_sim_irq_row *row = &r->rows[i];
		json_t *o = json_object(), *cpu = json_array();

		for (uint32_t c = 0; c < r->cpus; c++)
			json_array_append_new(cpu, json_integer((json_int_t)row->per_cpu[c]));
		set_u64(o, "irq", row->irq);
		json_object_set_new(o, "per_cpu", cpu);
		set_u64(o, "total", row->total);
		json_object_set_new(o, "chip", json_string(row->chip));
		set_u64(o, "hwirq", row->hwirq);
		json_object_set_new(o, "domain", json_string(row->domain));
		json_object_set_new(o, "device", json_string(row->device));
		json_object_set_new(o, "action", json_string(row->action));
		json_object_set_new(o, "posted", json_boolean(row->posted));
		json_array_append_new(a, o);
	}
	return a;
}

int imsctl_json_print(json_t *o)
{
	char *s;

	if (!o)
		return IMSCTL_FAIL;
	s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (!s)
		return IMSCTL_FAIL;
	printf("%s\n", s);
	free(s);
	return IMSCTL_OK;
}
