/*
 * The KVM backend against a bare loop of KVM_SIGNAL_MSI ioctls: what ims
 * adds, per interrupt, over the one system call that puts a message into
 * a KVM local APIC.
 *
 * Measured: a simulated machine built with the kvm backend (as
 * `imsctl sim --backend kvm` builds it) fires one IMS vector of one ADI:
 * the device reads its IMS slot and writes the message on the fabric, the
 * remapping unit looks up its entry and hands the remapped interrupt to
 * the backend's APIC sink, which composes the compatibility message and
 * signals it with KVM_SIGNAL_MSI. The simulation's own counting of the
 * raise (the checker's record) is part of it.
 *
 * Baseline: a VM made here with raw ioctls, with an in-kernel irqchip and
 * as many vCPUs with the same APIC IDs, receives the same message (the
 * compatibility message of the vector's CPU and vector) as many times in
 * a loop of bare KVM_SIGNAL_MSI ioctls.
 *
 * Acceptance: neither loop accepts. The vCPUs never run, so the first
 * message leaves the vector's IRR bit set and every later one, in either
 * loop, arrives at a vector whose IRR bit is already set (x86 coalesces
 * them). KVM does the same work for each message in both loops (look up
 * the destination, set the bit, kick the vCPU), so the difference between
 * the two is what ims adds. Accepting in the loops would mean a
 * KVM_GET_LAPIC and a KVM_SET_LAPIC of the whole APIC page per message in
 * both, which costs more than the signal and would hide the overhead
 * being measured. Both loops check at the end that the bit is set on the
 * same vCPU, so that both delivered the same interrupt.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "backend/kvm.h"
#include "bench/bench.h"
#include "util/log.h"

#define KVM_BENCH_CPUS	4
#define KVM_BENCH_MSGS	100000u
#define APIC_SVR	0xf0
#define APIC_IRR	0x200

/* The baseline's VM, made with nothing of ims. */
struct bare_vm {
	int sys_fd, vm_fd;
	int vcpu_fd[KVM_BENCH_CPUS];
};

static void bare_close(struct bare_vm *b)
{
	for (int i = 0; i < KVM_BENCH_CPUS; i++)
		if (b->vcpu_fd[i] >= 0)
			close(b->vcpu_fd[i]);
	if (b->vm_fd >= 0)
		close(b->vm_fd);
	if (b->sys_fd >= 0)
		close(b->sys_fd);
}

/* 0, or -ENODEV with why in `why` where KVM cannot make the VM. */
static int bare_open(struct bare_vm *b, const uint32_t *apic_ids, char *why, size_t len)
{
	const char *step = "open /dev/kvm";

	b->vm_fd = -1;
	for (int i = 0; i < KVM_BENCH_CPUS; i++)
		b->vcpu_fd[i] = -1;
	b->sys_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (b->sys_fd < 0)
		goto fail;
	step = "KVM_CREATE_VM";
	b->vm_fd = ioctl(b->sys_fd, KVM_CREATE_VM, 0);
	if (b->vm_fd < 0)
		goto fail;
	step = "KVM_CREATE_IRQCHIP";
	if (ioctl(b->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0)
		goto fail;
	for (int i = 0; i < KVM_BENCH_CPUS; i++) {
		struct kvm_lapic_state st;
		uint32_t svr;

		step = "KVM_CREATE_VCPU";
		b->vcpu_fd[i] = ioctl(b->vm_fd, KVM_CREATE_VCPU, (unsigned long)apic_ids[i]);
		if (b->vcpu_fd[i] < 0)
			goto fail;
		/* A disabled local APIC drops fixed interrupts: enable it, as the backend does. */
		step = "KVM_GET_LAPIC";
		if (ioctl(b->vcpu_fd[i], KVM_GET_LAPIC, &st) < 0)
			goto fail;
		memcpy(&svr, st.regs + APIC_SVR, 4);
		svr |= 0x1ff;
		memcpy(st.regs + APIC_SVR, &svr, 4);
		step = "KVM_SET_LAPIC";
		if (ioctl(b->vcpu_fd[i], KVM_SET_LAPIC, &st) < 0)
			goto fail;
	}
	return 0;
fail:
	snprintf(why, len, "%s: %s", step, strerror(errno));
	bare_close(b);
	return -ENODEV;
}

static bool bare_irr_has(struct bare_vm *b, uint32_t cpu, uint32_t vector)
{
	struct kvm_lapic_state st;
	uint32_t w;

	if (ioctl(b->vcpu_fd[cpu], KVM_GET_LAPIC, &st) < 0)
		return false;
	memcpy(&w, st.regs + APIC_IRR + (vector / 32) * 16, 4);
	return (w >> (vector % 32)) & 1;
}

/* The one (vCPU, vector) pending in the machine's VM, or -ENOENT. */
static int pending_one(struct sim_machine *m, uint32_t *cpu, uint32_t *vector)
{
	int found = 0;

	for (uint32_t c = 0; c < m->cfg.cpus; c++) {
		uint64_t irr[4];
		int ret = ims__kvm_irr(m->kvm, c, irr);

		if (ret)
			return ret;
		for (uint32_t v = 0; v < 256; v++) {
			if (!((irr[v / 64] >> (v % 64)) & 1))
				continue;
			*cpu = c;
			*vector = v;
			found++;
		}
	}
	if (found != 1)
		return ims__error(-ENOENT, "kvm: %d vectors pending in the VM after one interrupt, "
				  "want 1", found);
	return 0;
}

static double measured_loop(struct sim_machine *m, struct sim_vec *v, int *ret)
{
	double t0 = ims__bench_now_ns();

	for (uint32_t i = 0; i < KVM_BENCH_MSGS && !*ret; i++)
		*ret = ims__sim_fire(m, v);
	return (ims__bench_now_ns() - t0) / KVM_BENCH_MSGS;
}

static double bare_loop(struct bare_vm *b, const struct kvm_msi *msg, int *ret)
{
	double t0 = ims__bench_now_ns();

	for (uint32_t i = 0; i < KVM_BENCH_MSGS; i++) {
		struct kvm_msi msi = *msg;

		if (ioctl(b->vm_fd, KVM_SIGNAL_MSI, &msi) < 0) {
			*ret = ims__error(-errno, "kvm: bare KVM_SIGNAL_MSI: %s", strerror(errno));
			break;
		}
	}
	return (ims__bench_now_ns() - t0) / KVM_BENCH_MSGS;
}

int ims__bench_kvm_overhead(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = {
		.name = "kvm_overhead", .unit = "ns", .lower_is_better = true, .runs = runs,
		.baseline = "bare KVM_SIGNAL_MSI loop",
		.what = "one IMS interrupt with the kvm backend: slot -> remapping -> KVM_SIGNAL_MSI, "
			"to a vector already pending (no acceptance in either loop)",
	};
	double t[MAX_RUNS], base[MAX_RUNS];
	struct ims_sim_config cfg;
	struct sim_machine *m = NULL;
	struct sim_vec *v = NULL;
	struct bare_vm b;
	struct ims_msi_msg msg;
	struct kvm_msi msi;
	uint32_t cpu, vector;
	static char why[256];
	int ret;

	ims_sim_config_default(&cfg);
	cfg.cpus = KVM_BENCH_CPUS;
	cfg.backend = IMS_SIM_BACKEND_KVM;
	cfg.guests = 0;
	cfg.vcpus = 0;
	cfg.posted_percent = 0;
	cfg.quiet = true;
	ret = ims__sim_machine_create(&cfg, SIM_BUG_NONE, &m);
	if (ret == -ENODEV) {
		/* KVM does not work here: say why, and that is no failure. */
		snprintf(why, sizeof(why), "%s", ims_last_error());
		r.skipped = why;
		ims__bench_emit(fn, ctx, &r);
		return 0;
	}
	if (ret)
		return ims__bench_fail(ret, r.name);
	ret = bare_open(&b, m->apic_ids, why, sizeof(why));
	if (ret) {
		ims__sim_machine_destroy(m);
		r.skipped = why;
		ims__bench_emit(fn, ctx, &r);
		return 0;
	}
	ret = ims__sim_adi_create(m, 0, 0);
	for (uint32_t i = 0; !ret && i < m->nr_vecs && !v; i++)
		if (atomic_load(&m->vecs[i].live) && !m->vecs[i].msix)
			v = &m->vecs[i];
	if (!ret && !v)
		ret = ims__error(-ENOENT, "kvm: the ADI has no IMS vector");
	/* The first interrupt says where the message goes; the baseline sends the same one. */
	if (!ret)
		ret = ims__sim_fire(m, v);
	if (!ret)
		ret = pending_one(m, &cpu, &vector);
	if (!ret) {
		struct ims_x86_msi_fields f = { .format = IMS_X86_MSI_COMPAT, .apic_id = m->apic_ids[cpu],
						.vector = (uint8_t)vector, .delivery_mode = IMS_X86_DM_FIXED };

		ret = ims_x86_msi_compose(&f, &msg);
	}
	if (!ret) {
		msi = (struct kvm_msi){ .address_lo = msg.address_lo, .address_hi = msg.address_hi,
					.data = msg.data };
		if (ioctl(b.vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
			ret = ims__error(-errno, "kvm: bare KVM_SIGNAL_MSI: %s", strerror(errno));
	}
	/* Alternate which loop goes first, so that neither always runs warmer. */
	for (uint32_t k = 0; k < runs && !ret; k++) {
		if (k % 2) {
			base[k] = bare_loop(&b, &msi, &ret);
			if (!ret)
				t[k] = measured_loop(m, v, &ret);
		} else {
			t[k] = measured_loop(m, v, &ret);
			if (!ret)
				base[k] = bare_loop(&b, &msi, &ret);
		}
	}
	if (!ret && (atomic_load(&m->fabric_faults) || atomic_load(&m->not_interrupt)))
		ret = ims__error(-EIO, "kvm: the remapping unit refused the benchmark's interrupt");
	if (!ret) {
		uint32_t c2 = 0, v2 = 0;

		if (pending_one(m, &c2, &v2) || c2 != cpu || v2 != vector || !bare_irr_has(&b, cpu, vector))
			ret = ims__error(-EIO, "kvm: the loops did not both leave vector 0x%x pending "
					 "on vCPU %u alone", vector, cpu);
	}
	bare_close(&b);
	ims__sim_machine_destroy(m);
	if (ret)
		return ims__bench_fail(ret, r.name);
	r.median = ims__bench_median(t, runs);
	r.baseline_median = ims__bench_median(base, runs);
	r.target_ratio = 1.10;
	ims__bench_emit(fn, ctx, &r);
	return 0;
}
