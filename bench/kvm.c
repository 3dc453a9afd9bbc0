/*
 * The KVM backend against a bare loop of KVM_SIGNAL_MSI ioctls: what ims
 * adds, per interrupt, over the one system call that puts a message into
 * a KVM local APIC.
 *
 * kvm_overhead, measured: a simulated machine built with the kvm backend
 * (as `imsctl sim --backend kvm` builds it) raises one IMS vector of one
 * ADI through its device model: the IMS array checks the slot's PASID and
 * mask and writes the slot's message on the fabric, the remapping unit
 * looks up its entry and hands the remapped interrupt to the backend's
 * APIC sink (ims__kvm_apic_sink_posted), which composes the compatibility
 * message and posts it; ims__kvm_flush() then signals it with
 * KVM_SIGNAL_MSI, as the machine does after every raise. The checker's
 * counting of the raise (ims__sim_fire's records) is left out: it is the
 * simulation's test bookkeeping, not a step an interrupt takes.
 * kvm_signal, measured: the backend's part alone, given the interrupt the
 * remapping unit hands it: post and flush, what src/backend/kvm.c adds.
 *
 * syscall_frames: why the sink posts. A getppid() system call made eight
 * function frames deep, returned through all eight, against the same call
 * made at the top of the loop with the same eight calls made beside it.
 * After a system call the CPU's return predictor holds the kernel's
 * addresses, so each frame the thread returns through costs a mispredict.
 * It needs no KVM.
 *
 * Baseline of both: a VM made here with raw ioctls, with an in-kernel
 * irqchip and as many vCPUs with the same APIC IDs, receives the same
 * message (the compatibility message of the vector's CPU and vector) as
 * many times in a loop of bare KVM_SIGNAL_MSI ioctls.
 *
 * Acceptance: neither loop accepts. The vCPUs never run, so the first
 * message leaves the vector's IRR bit set and every later one, in either
 * loop, arrives at a vector whose IRR bit is already set (x86 coalesces
 * them). KVM does the same work for each message in both loops (look up
 * the destination, set the bit, kick the vCPU), so the difference is what
 * ims adds. Accepting in the loops would mean a KVM_GET_LAPIC and a
 * KVM_SET_LAPIC of the whole APIC page per message in both, several times
 * the cost of the signal, which would hide the overhead being measured.
 * At the end both VMs must show that bit, and only it, pending on the same
 * vCPU, so that both loops delivered the same interrupt.
 *
 * The loops alternate in blocks of 250 messages, so that a change of load
 * on a shared machine falls on both alike, and each loop's figure for a
 * run is its median block, so that blocks in which the thread lost its
 * CPU do not count.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "backend/kvm.h"
#include "bench/bench.h"
#include "util/log.h"

#define KVM_BENCH_CPUS		4
#define KVM_BENCH_BLOCK		250u	/* messages per block */
#define KVM_BENCH_BLOCKS	400u	/* blocks of each loop per run */
#define APIC_SVR		0xf0
#define APIC_IRR		0x200

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
	snprintf(why, len, "kvm: the baseline's VM: %s: %s", step, strerror(errno));
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

/* What a benchmark works on: the machine and its vector, the bare VM, the message. */
struct kvm_bench {
	struct sim_machine *m;
	struct sim_vec *v;
	uint32_t pasid;			/* of the vector's ADI */
	struct ims_hw_apic_irq irq;	/* what the remapping unit hands the sink */
	struct bare_vm b;
	struct kvm_msi msi;		/* the same message, for the bare loop */
	uint32_t cpu, vector;		/* where it lands */
};

static void kvm_bench_close(struct kvm_bench *kb)
{
	bare_close(&kb->b);
	ims__sim_machine_destroy(kb->m);
}

/*
 * The machine with one ADI, the bare VM, and one interrupt through the
 * machine to learn where the message lands. 0; 1 where KVM does not work
 * here (why says why, nothing is left open); or a negative errno.
 */
static int kvm_bench_open(struct kvm_bench *kb, char *why, size_t len)
{
	struct ims_sim_config cfg;
	struct ims_msi_msg msg;
	int ret;

	memset(kb, 0, sizeof(*kb));
	ims_sim_config_default(&cfg);
	cfg.cpus = KVM_BENCH_CPUS;
	cfg.backend = IMS_SIM_BACKEND_KVM;
	cfg.guests = 0;
	cfg.vcpus = 0;
	cfg.posted_percent = 0;
	cfg.quiet = true;
	ret = ims__sim_machine_create(&cfg, SIM_BUG_NONE, &kb->m);
	if (ret == -ENODEV) {
		snprintf(why, len, "%s", ims_last_error());
		return 1;
	}
	if (ret)
		return ret;
	if (bare_open(&kb->b, kb->m->apic_ids, why, len)) {
		ims__sim_machine_destroy(kb->m);
		return 1;
	}
	ret = ims__sim_adi_create(kb->m, 0, 0);
	for (uint32_t i = 0; !ret && i < kb->m->nr_vecs && !kb->v; i++)
		if (atomic_load(&kb->m->vecs[i].live) && !kb->m->vecs[i].msix)
			kb->v = &kb->m->vecs[i];
	if (!ret && !kb->v)
		ret = ims__error(-ENOENT, "kvm: the ADI has no IMS vector");
	if (ret)
		goto close;
	kb->pasid = sim_adi_at(kb->m, kb->v->dev, kb->v->adi)->pasid;
	ret = ims__sim_fire(kb->m, kb->v);
	if (!ret)
		ret = pending_one(kb->m, &kb->cpu, &kb->vector);
	if (ret)
		goto close;
	/* What the vector domain composes and the remapping entry carries: physical, fixed, edge. */
	kb->irq = (struct ims_hw_apic_irq){ .dest = kb->m->apic_ids[kb->cpu],
					    .vector = (uint8_t)kb->vector,
					    .delivery_mode = IMS_X86_DM_FIXED };
	ret = ims_x86_msi_compose(&(struct ims_x86_msi_fields){ .format = IMS_X86_MSI_COMPAT,
								.apic_id = kb->irq.dest,
								.vector = kb->irq.vector,
								.delivery_mode = IMS_X86_DM_FIXED },
				  &msg);
	if (ret)
		goto close;
	kb->msi = (struct kvm_msi){ .address_lo = msg.address_lo, .address_hi = msg.address_hi,
				    .data = msg.data };
	if (ioctl(kb->b.vm_fd, KVM_SIGNAL_MSI, &kb->msi) < 0) {
		ret = ims__error(-errno, "kvm: bare KVM_SIGNAL_MSI: %s", strerror(errno));
		goto close;
	}
	return 0;
close:
	kvm_bench_close(kb);
	return ret;
}

static int bare_block(struct kvm_bench *kb)
{
	for (uint32_t i = 0; i < KVM_BENCH_BLOCK; i++) {
		struct kvm_msi msi = kb->msi;

		if (ioctl(kb->b.vm_fd, KVM_SIGNAL_MSI, &msi) < 0)
			return ims__error(-errno, "kvm: bare KVM_SIGNAL_MSI: %s", strerror(errno));
	}
	return 0;
}

static int device_block(struct kvm_bench *kb)
{
	struct sim_device *d = kb->m->devs[kb->v->dev];
	int ret = 0;

	for (uint32_t i = 0; i < KVM_BENCH_BLOCK && !ret; i++) {
		ret = kb->m->dev_ops->fire_ims(d, kb->v, kb->pasid);
		if (!ret)
			ret = ims__kvm_flush();
	}
	return ret;
}

static int sink_block(struct kvm_bench *kb)
{
	int ret = 0;

	for (uint32_t i = 0; i < KVM_BENCH_BLOCK && ret >= 0; i++) {
		ret = ims__kvm_apic_sink_posted(kb->m->kvm, &kb->irq);
		if (ret >= 0)
			ret = ims__kvm_flush();
	}
	return ret < 0 ? ret : 0;
}

/*
 * One run: KVM_BENCH_BLOCKS blocks of each loop, alternating which goes
 * first; each loop's figure is the median block, so that a block in which
 * the thread was preempted does not count.
 */
static int kvm_bench_run(struct kvm_bench *kb, int (*block)(struct kvm_bench *kb), double *t,
			 double *base)
{
	static double tm[KVM_BENCH_BLOCKS], tb[KVM_BENCH_BLOCKS];
	int ret = 0;
	uint32_t i;

	for (i = 0; i < KVM_BENCH_BLOCKS && !ret; i++) {
		double t0 = ims__bench_now_ns(), t1, t2;

		ret = i % 2 ? bare_block(kb) : block(kb);
		t1 = ims__bench_now_ns();
		if (!ret)
			ret = i % 2 ? block(kb) : bare_block(kb);
		t2 = ims__bench_now_ns();
		tm[i] = i % 2 ? t2 - t1 : t1 - t0;
		tb[i] = i % 2 ? t1 - t0 : t2 - t1;
	}
	*t = ims__bench_median(tm, i) / KVM_BENCH_BLOCK;
	*base = ims__bench_median(tb, i) / KVM_BENCH_BLOCK;
	return ret;
}

static int kvm_bench(struct ims_bench_result *r, int (*block)(struct kvm_bench *kb), ims_bench_fn fn,
		     void *ctx)
{
	double t[MAX_RUNS], base[MAX_RUNS];
	struct kvm_bench kb;
	static char why[256];
	int ret;

	r->unit = "ns";
	r->lower_is_better = true;
	r->baseline = "bare KVM_SIGNAL_MSI loop";
	ret = kvm_bench_open(&kb, why, sizeof(why));
	if (ret == 1) {
		/* KVM does not work here: say why; that is no failure. */
		r->skipped = why;
		ims__bench_emit(fn, ctx, r);
		return 0;
	}
	if (ret)
		return ims__bench_fail(ret, r->name);
	for (uint32_t k = 0; k < r->runs && !ret; k++)
		ret = kvm_bench_run(&kb, block, &t[k], &base[k]);
	if (!ret && (atomic_load(&kb.m->fabric_faults) || atomic_load(&kb.m->not_interrupt)))
		ret = ims__error(-EIO, "kvm: the remapping unit refused the benchmark's interrupt");
	if (!ret) {
		uint32_t cpu = 0, vector = 0;

		if (pending_one(kb.m, &cpu, &vector) || cpu != kb.cpu || vector != kb.vector ||
		    !bare_irr_has(&kb.b, kb.cpu, kb.vector))
			ret = ims__error(-EIO, "kvm: the loops did not both leave vector 0x%x, and it "
					 "alone, pending on vCPU %u", kb.vector, kb.cpu);
	}
	kvm_bench_close(&kb);
	if (ret)
		return ims__bench_fail(ret, r->name);
	r->median = ims__bench_median(t, r->runs);
	r->baseline_median = ims__bench_median(base, r->runs);
	ims__bench_emit(fn, ctx, r);
	return 0;
}

int ims__bench_kvm_overhead(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = {
		.name = "kvm_overhead", .runs = runs, .target_ratio = 1.10,
		.what = "one IMS interrupt on the kvm backend: IMS slot -> remapping unit -> "
			"KVM_SIGNAL_MSI, to a vector already pending in both loops",
	};

	return kvm_bench(&r, device_block, fn, ctx);
}

int ims__bench_kvm_signal(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	struct ims_bench_result r = {
		.name = "kvm_signal", .runs = runs, .target_ratio = 1.10,
		.what = "the kvm backend's part alone: the APIC sink composes the remapped "
			"interrupt's message and posts it, the flush signals it",
	};

	return kvm_bench(&r, sink_block, fn, ctx);
}

/* ---- syscall_frames ---- */

#define FRAMES_LOOPS	20000u

static volatile unsigned int frames_work;

/* Each level does work after its call, so that no call becomes a jump. */
#define FRAME(n, next)							\
	static __attribute__((noinline)) void frame##n(bool call)	\
	{								\
		next(call);						\
		frames_work = frames_work + 1;				\
	}

static __attribute__((noinline)) void frame0(bool call)
{
	if (call)
		syscall(SYS_getppid);
	frames_work = frames_work + 1;
}

FRAME(1, frame0)
FRAME(2, frame1)
FRAME(3, frame2)
FRAME(4, frame3)
FRAME(5, frame4)
FRAME(6, frame5)
FRAME(7, frame6)

int ims__bench_syscall_frames(uint32_t runs, ims_bench_fn fn, void *ctx)
{
	double t[MAX_RUNS], base[MAX_RUNS];
	struct ims_bench_result r = {
		.name = "syscall_frames", .runs = runs, .unit = "ns", .lower_is_better = true,
		.what = "getppid() made 8 function frames deep and returned through them",
		.baseline = "getppid() at the top, the 8 calls made beside it",
	};

	for (uint32_t k = 0; k < runs; k++) {
		double t0, t1, t2;

		t0 = ims__bench_now_ns();
		for (uint32_t i = 0; i < FRAMES_LOOPS; i++)
			frame7(true);
		t1 = ims__bench_now_ns();
		for (uint32_t i = 0; i < FRAMES_LOOPS; i++) {
			frame7(false);
			syscall(SYS_getppid);
		}
		t2 = ims__bench_now_ns();
		t[k] = (t1 - t0) / FRAMES_LOOPS;
		base[k] = (t2 - t1) / FRAMES_LOOPS;
	}
	r.median = ims__bench_median(t, runs);
	r.baseline_median = ims__bench_median(base, runs);
	ims__bench_emit(fn, ctx, &r);
	return 0;
}
