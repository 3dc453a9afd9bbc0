/*
 * The narrated demo (`imsctl demo`): one scripted run of the machine that
 * shows each thing the system does, with one event per action. It drives
 * the same control operations as the scheduler and checks the same
 * invariants at the end.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "backend/sim/sim_internal.h"
#include "util/log.h"

struct demo {
	struct sim_machine *m;
	ims_sim_event_fn ev;
	void *ctx;
};

static void say(struct demo *d, enum ims_sim_event_kind k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void say(struct demo *d, enum ims_sim_event_kind k, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (d->ev)
		d->ev(d->ctx, k, buf);
}

static struct sim_vec *vec_of(struct sim_machine *m, uint32_t adi, uint32_t nr)
{
	return &m->vecs[sim_adi_at(m, 0, adi)->first_vec + nr];
}

static void cpus_of(struct sim_machine *m, uint32_t adi, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = 0;
	for (uint32_t j = 0; j < m->cfg.vectors_per_adi && o < len; j++) {
		int cpu = ims_irq_effective_cpu(m->core, vec_of(m, adi, j)->irq);

		o += (size_t)snprintf(buf + o, len - o, "%s%d", j ? "," : "", cpu);
	}
}

/* Every vector of the ADI raises n times; then the CPUs take what came. */
static void work(struct demo *d, uint32_t adi, uint32_t n)
{
	struct sim_machine *m = d->m;
	uint64_t before = atomic_load(&m->delivered), guest = atomic_load(&m->delivered_guest);

	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < m->cfg.vectors_per_adi; j++) {
			ims__sim_fire(m, vec_of(m, adi, j));
			ims__sim_drain(m);
		}
	say(d, IMS_SIM_EV_WORK, "ADI %u completed %u descriptor(s) per queue: %u interrupts raised, %llu handled (%llu by guest vCPUs)",
	    adi, n, n * m->cfg.vectors_per_adi, (unsigned long long)(atomic_load(&m->delivered) - before),
	    (unsigned long long)(atomic_load(&m->delivered_guest) - guest));
}

IMS_API int ims_sim_demo(const struct ims_sim_config *cfg_in, ims_sim_event_fn ev, void *ctx,
			 struct ims_sim_result *res)
{
	struct ims_sim_config cfg;
	struct demo d = { .ev = ev, .ctx = ctx };
	struct sim_machine *m;
	uint32_t nadi;
	char buf[128];
	int ret;

	if (!res)
		return ims__error(-EINVAL, "sim demo: no result");
	memset(res, 0, sizeof(*res));
	if (cfg_in)
		cfg = *cfg_in;
	else
		ims_sim_config_default(&cfg);
	ret = ims_sim_config_validate(&cfg);
	if (ret)
		return ret;
	if (cfg.threads)
		return ims__error(-EINVAL, "sim demo: the demo runs in deterministic mode (threads 0)");
	if (!cfg.ims_slots)
		cfg.ims_slots = 2048;
	if (!cfg.msix_vectors)
		cfg.msix_vectors = 9;
	if (cfg.arch == IMS_SIM_ARCH_ARM)	/* host delivery only */
		cfg.guests = cfg.vcpus = cfg.posted_percent = 0;
	if (cfg.adis < 4 || cfg.vectors_per_adi < 2)
		return ims__error(-EINVAL, "sim demo: needs at least 4 ADIs of 2 vectors");
	ret = ims__sim_machine_create(&cfg, SIM_BUG_NONE, &m);
	if (ret)
		return ret;
	d.m = m;
	{
		size_t o = 0;

		buf[0] = 0;
		for (uint32_t c = 0; c < cfg.cpus && o < sizeof(buf); c++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%u", c ? "," : "", m->apic_ids[c]);
	}
	if (m->its) {
		struct ims_arm_its_stats st;

		ims_arm_its_get_stats(m->its, &st);
		say(&d, IMS_SIM_EV_MACHINE,
		    "machine (arm): %u CPUs, a GICv3 ITS at 0x%llx with %u LPIs and a redistributor per CPU, %u %s device(s) with %u MSI-X entries and %u IMS slots; no guests (posted delivery is x86 here)",
		    cfg.cpus, (unsigned long long)SIM_ITS_BASE, st.lpis_total, cfg.devices, m->dev_ops->name,
		    cfg.msix_vectors, cfg.ims_slots);
	} else {
		say(&d, IMS_SIM_EV_MACHINE,
		    "machine: %u CPUs (APIC IDs %s), %u remapping units, %u %s device(s) with %u MSI-X entries and %u IMS slots, %u guests of %u vCPUs; backend %s",
		    cfg.cpus, buf, cfg.ir_units, cfg.devices, m->dev_ops->name, cfg.msix_vectors, cfg.ims_slots,
		    cfg.guests, cfg.vcpus, cfg.backend == IMS_SIM_BACKEND_KVM ? "KVM" : "simulated local APICs");
	}
	say(&d, IMS_SIM_EV_MACHINE, "device 0000:%02x:00.0 probed: MSI-X and the SIOV DVSEC found, IMS domain %s created behind %s",
	    m->dev_rid[0] >> 8, ims_irq_domain_name(ims_msi_device_domain(m->dev_ops->os_device(m->devs[0]),
									    IMS_MSI_SECONDARY_DOMAIN)),
	    ims_irq_domain_name(m->its ? ims_arm_its_irq_domain(m->its) : ims_remap_domain(m->remaps[0])));
	nadi = 4;
	for (uint32_t a = 0; a < nadi; a++) {
		struct sim_adi *adi = sim_adi_at(m, 0, a);

		ret = ims__sim_adi_create(m, 0, a);
		if (ret)
			goto out;
		cpus_of(m, a, buf, sizeof(buf));
		say(&d, IMS_SIM_EV_ADI_CREATE, "ADI %u created: PASID 0x%x, %u IMS vectors (slots %u.., irqs %u..), on CPUs %s",
		    a, adi->pasid, cfg.vectors_per_adi, vec_of(m, a, 0)->index, vec_of(m, a, 0)->irq, buf);
	}
	for (uint32_t a = 0; a < nadi; a++)
		work(&d, a, 4);

	for (uint32_t j = 0; j < cfg.vectors_per_adi; j++)
		ims__sim_vec_affinity(m, vec_of(m, 1, j), cfg.cpus - 1, cfg.cpus - 1);
	cpus_of(m, 1, buf, sizeof(buf));
	say(&d, IMS_SIM_EV_AFFINITY, "ADI 1 moved to CPU %u: %s, its IMS slots kept their messages; now on CPUs %s",
	    cfg.cpus - 1, m->its ? "one MOVI per event moved it to the CPU's collection" :
	    "only its remapping entries were rewritten", buf);
	work(&d, 1, 4);

	ims__sim_vec_disable(m, vec_of(m, 2, 0));
	for (int i = 0; i < 3; i++) {
		ims__sim_fire(m, vec_of(m, 2, 0));
		ims__sim_drain(m);
	}
	say(&d, IMS_SIM_EV_MASK, "ADI 2 queue 0 masked, then raised 3 times: slot %u pending in the device = %s, handled so far %llu",
	    vec_of(m, 2, 0)->index, m->dev_ops->ims_pending(m->devs[0], vec_of(m, 2, 0)->index) ? "yes" : "no",
	    (unsigned long long)atomic_load(&vec_of(m, 2, 0)->runs));
	ims__sim_vec_enable(m, vec_of(m, 2, 0));
	ims__sim_drain(m);
	say(&d, IMS_SIM_EV_UNMASK, "ADI 2 queue 0 unmasked: handled now %llu; the raises held while masked were delivered at least once (the slot's pending bit holds one; %s lets the rest coalesce)",
	    (unsigned long long)atomic_load(&vec_of(m, 2, 0)->runs), m->its ? "a pending LPI" : "x86");
	if (atomic_load(&m->vecs[sim_vecs_per_dev(m) - 1].live)) {
		struct sim_vec *misc = &m->vecs[sim_vecs_per_dev(m) - 1];

		ims__sim_fire(m, misc);
		ims__sim_drain(m);
		say(&d, IMS_SIM_EV_WORK, "the device raised its own MSI-X vector (irq %u, entry 0): handled %llu time(s) on CPU %d",
		    misc->irq, (unsigned long long)atomic_load(&misc->runs), ims_irq_effective_cpu(m->core, misc->irq));
	}

	if (cfg.guests && !m->dev_ops->driver_handlers) {
		struct ims_remap_stats st;

		ret = ims__sim_adi_post(m, 0, 3, 0, 0);
		ims_remap_get_stats(m->remaps[m->dev_unit[0]], &st);
		say(&d, IMS_SIM_EV_POST, "ADI 3 assigned to guest 0 with posted delivery (%s): %u entries posted, its host vectors released",
		    ret ? ims_last_error() : "ok", st.posted);
		work(&d, 3, 4);
		ims__sim_vcpu_sched(m, vec_of(m, 3, 0)->vcpu, false);
		ims__sim_fire(m, vec_of(m, 3, 0));
		ims__sim_drain(m);
		say(&d, IMS_SIM_EV_POST, "guest 0 vCPU %u descheduled (SN set): a raise waits in its descriptor (PIR bit 0x%x = %d), no notification",
		    m->vcpus[vec_of(m, 3, 0)->vcpu].nr, vec_of(m, 3, 0)->gvec,
		    ims_pid_pir_test(m->vcpus[vec_of(m, 3, 0)->vcpu].pid, vec_of(m, 3, 0)->gvec));
		ims__sim_vcpu_sched(m, vec_of(m, 3, 0)->vcpu, true);
		say(&d, IMS_SIM_EV_POST, "vCPU scheduled again: it took the posted interrupt (guest deliveries %llu)",
		    (unsigned long long)atomic_load(&m->delivered_guest));
		ims__sim_adi_unpost(m, 0, 3);
		cpus_of(m, 3, buf, sizeof(buf));
		say(&d, IMS_SIM_EV_UNPOST, "ADI 3 returned to the host: host vectors on CPUs %s", buf);
		work(&d, 3, 2);
		ims__sim_adi_post(m, 0, 0, 1 % cfg.guests, 1);
		say(&d, IMS_SIM_EV_POST, "ADI 0 assigned to guest %u with posted delivery", 1 % cfg.guests);
		work(&d, 0, 2);
	}
	if (m->its)
		say(&d, IMS_SIM_EV_POST, "no ADI assigned to a guest: posted delivery needs GICv4 on arm, which is not modelled; every ADI stays host-delivered");
	else if (cfg.guests && m->dev_ops->driver_handlers)
		say(&d, IMS_SIM_EV_POST, "no ADI assigned to a guest: the accelerator's completions are found by its host driver, so its ADIs stay host-delivered here");
	if (cfg.cpus > 2 && !m->its) {
		/*
		 * A move finishes when the first interrupt arrives on its new
		 * vector: until then the CPU keeps the old one and refuses to
		 * go offline. Some work lets the moves finish.
		 */
		int tries = 0;

		while ((ret = ims__sim_cpu_offline(m, 1)) == -EBUSY && tries++ < 4) {
			if (atomic_load(&m->vecs[sim_vecs_per_dev(m) - 1].live))
				ims__sim_fire(m, &m->vecs[sim_vecs_per_dev(m) - 1]);
			ims__sim_drain(m);
			for (uint32_t a = 0; a < nadi; a++)
				work(&d, a, 1);
		}
		if (!ret) {
			say(&d, IMS_SIM_EV_AFFINITY, "CPU 1 taken offline after %d round(s) of work: its interrupts moved to other CPUs, its vCPUs to CPU 0",
			    tries);
			work(&d, 2, 2);
			ims__sim_cpu_online(m, 1);
			say(&d, IMS_SIM_EV_AFFINITY, "CPU 1 back online");
		} else {
			say(&d, IMS_SIM_EV_AFFINITY, "CPU 1 stays online: %s", ims_last_error());
		}
		ret = 0;
	}
	ims__sim_quiesce_check(m, &res->pending);
	if (!atomic_load(&m->violation) && ims__sim_check_counts(m))
		ims__sim_violation(m, IMS_SIM_COUNTER, "demo: %s", ims_last_error());
	ret = ims__sim_take_result(m, res);
	for (uint32_t a = 0; a < nadi; a++) {
		ims__sim_adi_destroy(m, 0, a);
		say(&d, IMS_SIM_EV_ADI_DESTROY, "ADI %u destroyed: slots reset to masked, entries and vectors freed", a);
	}
	if (!atomic_load(&m->violation) && ims__sim_check_counts(m))
		ims__sim_violation(m, IMS_SIM_COUNTER, "demo: %s", ims_last_error());
out:
	res->violation = (enum ims_sim_violation_kind)atomic_load(&m->violation);
	res->invariant_violations = res->violation != IMS_SIM_OK;
	res->lost = res->violation == IMS_SIM_LOST;
	snprintf(res->violation_msg, sizeof(res->violation_msg), "%s", m->violation_msg);
	say(&d, IMS_SIM_EV_TEARDOWN, "teardown: device, %s and core released",
	    cfg.arch == IMS_SIM_ARCH_ARM ? "ITS driver, GIC" : "remapping units, vector domain");
	ims__sim_machine_destroy(m);
	say(&d, IMS_SIM_EV_SUMMARY, "fired %llu, delivered %llu (guest %llu), coalesced %llu, pending %llu, lost %llu, faults %llu, invariant violations %llu",
	    (unsigned long long)res->fired, (unsigned long long)res->delivered,
	    (unsigned long long)res->delivered_guest, (unsigned long long)res->coalesced,
	    (unsigned long long)res->pending, (unsigned long long)res->lost, (unsigned long long)res->faults,
	    (unsigned long long)res->invariant_violations);
	return ret;
}

