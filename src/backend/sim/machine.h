/*
 * The simulated machine: an interrupt core and x86 vector domain over the
 * local APICs of the host CPUs (the APIC bus models, or KVM's in-kernel
 * APICs), interrupt remapping units with their drivers, devices behind
 * them (plugged in through struct sim_device_ops), guests whose vCPUs each
 * own a posted-interrupt descriptor in DMA memory, and the fabric that
 * routes a device's memory write to the unit covering its requester id.
 *
 * Beside the machine sits the model the invariant checker uses: one
 * record per vector (struct sim_vec) counting raises and handler runs.
 * Records are never freed during a run, so a handler that runs after its
 * vector was freed finds a record marked dead rather than freed memory.
 *
 * Locks of what is new here (docs/sim.md) are leaves: a guest's lock, the
 * violation message lock, the KVM shadow ISR lock.
 */
#ifndef IMS_BACKEND_SIM_MACHINE_H
#define IMS_BACKEND_SIM_MACHINE_H

#include <ims/arm.h>
#include <ims/msi.h>
#include <ims/remap.h>
#include <ims/sim.h>
#include <ims/x86.h>
#include <stdatomic.h>

#include "backend/kvm.h"
#include "hw/apic_bus.h"
#include "hw/arm/gic.h"
#include "hw/bus.h"
#include "hw/dma.h"
#include "hw/iommu/remap_unit.h"
#include "util/lock.h"

struct ims_kvm;
struct sim_machine;
struct sim_device;

#define SIM_PI_VECTOR		0xf2	/* posted-interrupt notification (system vector) */
#define SIM_GUEST_FIRST_VECTOR	0x20
#define SIM_NO_GUEST		UINT32_MAX
#define SIM_ITS_BASE		0x08080000ull	/* the ITS frame (arm) */

/* Test-only bugs the checker must catch (tests/unit/test_sim.c). */
enum sim_bug {
	SIM_BUG_NONE = 0,
	SIM_BUG_DROP_UNMASK,	/* the IMS chip drops its unmask write */
	SIM_BUG_WRONG_SLOT,	/* the IMS chip writes the message to slot index ^ 1 */
	SIM_BUG_CROSS_GUEST,	/* posting names the next guest's descriptor */
	SIM_BUG_EARLY_REUSE,	/* a guest vector is given back before its vCPU took
				 * what was posted to it, and may be reused */
	SIM_BUG_SKIP_INVALIDATION,	/* the remapping driver never invalidates the
					 * unit's entry cache */
	SIM_BUG_VECTOR_REUSE,	/* the vector domain frees a host vector the APIC
				 * still holds an interrupt for, so it is reused early */
	SIM_BUG_ACCEL_WRONG_VECTOR, /* the accelerator's descriptors name the
				 * neighbouring vector's completion interrupt */
	SIM_BUG_ITS_NO_INV,	/* arm: the ITS driver skips INV after changing an
				 * LPI's configuration (the cache never sees it) */
};

/* The checker's record of one vector (an IMS vector of an ADI, or MSI-X). */
struct sim_vec {
	struct sim_machine *m;
	uint32_t id;			/* position in m->vecs */
	uint32_t dev, adi, nr;		/* device, ADI slot, vector of the ADI */
	uint32_t index;			/* IMS slot or MSI-X entry */
	uint32_t irq;
	uint32_t gen;			/* bumped on each reuse of the record */
	bool msix;
	atomic_bool live;		/* allocated with a handler installed */
	/* Devices may raise it (threaded mode: cleared, then firing drains,
	 * before the vector is freed). */
	atomic_bool fire_ok;
	atomic_uint firing;
	bool enabled;			/* not disabled by the scheduler */
	/* Posted to a guest: guest, vCPU (index in m->vcpus) and guest vector. */
	uint32_t guest, vcpu;
	uint8_t gvec;
	atomic_bool posted;
	/*
	 * What the checker counts. need: raised since the last handler run
	 * (set before the message leaves, cleared by the run); not used for
	 * a driver_handlers device's IMS vectors, where each raise is one
	 * descriptor answered by exactly one completion (sim_vec_due).
	 */
	atomic_uint_fast64_t raised, runs, runs_guest;
	atomic_bool need;
};

struct sim_adi {
	bool live;
	int group;
	uint32_t pasid;
	uint32_t guest;			/* SIM_NO_GUEST, or the guest it is posted to */
	uint32_t first_vec;		/* its records: first_vec .. + vectors_per_adi */
	uint32_t gen;
};

struct sim_vcpu {
	uint32_t guest, nr;
	uint32_t host_cpu;		/* where its notifications go (NDST) */
	void *pid;			/* 64-byte posted-interrupt descriptor */
	atomic_bool descheduled;	/* SN set */
	uint64_t *gvec_count;		/* 256 guest vectors taken */
};

struct sim_guest {
	uint32_t first_vcpu;
	/*
	 * Guards gvec_owner, the posted fields (guest, vcpu, gvec) of the
	 * guest's records, and every take of the guest's vCPUs, so that a
	 * vCPU never looks up a guest vector while it changes owner (a leaf).
	 */
	ims_spinlock_t lock;
	uint32_t gvec_owner[256];	/* guest vector -> vec id + 1, 0 free */
};

/*
 * What the machine needs from a device model and its driver. The machine
 * creates a device on a requester id behind a remapping unit and reaches it
 * through these operations only: the simple IMS device of simdev.c, or
 * the reference accelerator and its driver (acceldev.c).
 */
struct sim_device_ops {
	const char *name;
	/*
	 * The driver requests and frees its ADI vectors' handlers itself and
	 * reports every completion its handlers find through
	 * ims__sim_completed(): the machine requests no handler, and each
	 * raise (a descriptor submitted) is answered by exactly one
	 * completion. ADIs of such a device are not posted to guests (a
	 * guest would need its own driver to find the completions).
	 */
	bool driver_handlers;
	/* Irqs the driver holds for itself per device (not in the model). */
	uint32_t driver_irqs;
	/* Hardware and driver: config space, BARs, MSI-X, IMS storage; probe;
	 * the ims_device with its MSI-X and IMS domains. All or nothing. */
	int (*create)(struct sim_machine *m, uint32_t idx, uint16_t rid,
		      struct ims_irq_domain *msi_parent, struct sim_device **out);
	void (*destroy)(struct sim_device *d);
	struct ims_device *(*os_device)(struct sim_device *d);
	/* An ADI: n IMS vectors as one group carrying pasid; maps get them;
	 * recs are the model's records of its vectors (recs[0].adi its slot). */
	int (*adi_create)(struct sim_device *d, uint32_t n, uint32_t pasid, struct ims_msi_map *maps,
			  struct sim_vec *recs);
	int (*adi_destroy)(struct sim_device *d, int group);
	/* Work: the ADI (pasid) raises v's IMS slot (or submits a descriptor
	 * whose completion will), or the device its MSI-X entry. */
	int (*fire_ims)(struct sim_device *d, const struct sim_vec *v, uint32_t pasid);
	int (*fire_msix)(struct sim_device *d, uint32_t entry);
	/* Optional: an MSI-X vector for the machine's model, at entry 0. */
	int (*msix_alloc)(struct sim_device *d);
	/* Slots held pending (masked) now; latched and sent so far. */
	bool (*ims_pending)(struct sim_device *d, uint32_t slot);
	void (*ims_stats)(struct sim_device *d, uint64_t *sent, uint64_t *latched, uint64_t *refused);
	/*
	 * Optional: time passes (once per scheduler step, deterministic mode).
	 * A device with work queues completes work here and raises through
	 * its own storage; raises it makes must go through ims__sim_fire()
	 * so the checker counts them. The simple device has none.
	 */
	void (*step)(struct sim_device *d, uint64_t step);
	/* Optional: complete every queued piece of work (before a drain). */
	void (*flush)(struct sim_device *d);
	/* Optional: the driver's own recount; 0 if it agrees. */
	int (*check)(struct sim_device *d);
	/* Optional, threaded mode: the device completes work on a thread of
	 * its own from start until stop (which joins it). */
	int (*start)(struct sim_device *d);
	void (*stop)(struct sim_device *d);
};

extern const struct sim_device_ops ims__simdev_ops;
extern const struct sim_device_ops ims__acceldev_ops;

struct sim_machine {
	struct ims_sim_config cfg;
	enum sim_bug bug;
	const struct sim_device_ops *dev_ops;	/* every device's model and driver */
	struct ims_irq_core *core;
	/*
	 * x86: the vector domain over the APICs, remapping units in front.
	 * arm: a GICv3 (ITS, redistributors) and its driver, the MSI parent
	 * of every device; vd, bus, kvm, units and remaps stay NULL.
	 */
	struct ims_x86_vector_domain *vd;
	struct ims_hw_gic *gic;
	struct ims_arm_its *its;
	struct ims_hw_msi_sink gic_sink;	/* GITS_TRANSLATER */
	uint32_t *apic_ids;
	/* backend: exactly one of bus and kvm */
	struct ims_hw_apic_bus *bus;
	struct ims_kvm *kvm;
	uint64_t *kvm_isr;		/* shadow ISR per CPU (4 words), kvm backend */
	ims_spinlock_t kvm_isr_lock;	/* guards kvm_isr (a leaf) */
	/* kvm_irqfd: message -> GSI route, open addressing (deterministic mode only) */
	uint64_t *route_key;		/* addr_lo << 32 | data, + 1; 0 empty */
	int *route_gsi;
	uint64_t route_fires, route_fallbacks;
	struct ims_hw_dma *dma;
	struct ims_hw_ir_unit **units;
	struct ims_remap **remaps;
	uint32_t *unit_entries;
	struct sim_device **devs;
	uint16_t *dev_rid;
	uint32_t *dev_unit;
	/* guests */
	struct sim_guest *guests;
	struct sim_vcpu *vcpus;
	uint32_t nr_vcpus;
	void *pid_mem;
	size_t pid_mem_size;
	/* the model */
	struct sim_adi *adis;		/* devices x adis */
	struct sim_vec *vecs;		/* devices x (adis x vectors_per_adi + 1) */
	uint32_t nr_vecs;
	bool *cpu_offline;
	/* counters */
	_Atomic uint64_t *cpu_vector;	/* cpus x 256 host deliveries */
	_Atomic uint64_t *adi_runs;	/* devices x adis: handler runs of each ADI slot */
	atomic_uint_fast64_t fired, delivered, delivered_guest, misdelivered, after_free,
		cross_guest, fabric_faults, not_interrupt, spurious_guest;
	/* the first violation (set once) */
	atomic_int violation;
	char violation_msg[256];
	ims_spinlock_t violation_lock;	/* guards violation_msg (a leaf) */
	uint64_t step;
};

int ims__sim_machine_create(const struct ims_sim_config *cfg, enum sim_bug bug,
			    struct sim_machine **out);
/* Frees every ADI and vector, then the machine; 0 or the first error. */
void ims__sim_machine_destroy(struct sim_machine *m);

/* The fabric: a device's memory write, routed to the unit covering its rid. */
void ims__sim_fabric_write(struct sim_machine *m, const struct ims_hw_msi_write *w);

/* Record the first violation; later ones are only counted. */
void ims__sim_violation(struct sim_machine *m, enum ims_sim_violation_kind k, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* CPU cpu takes one vector from its APIC and dispatches it: the vector, or -1. */
int ims__sim_cpu_accept(struct sim_machine *m, uint32_t cpu);
/* Every CPU accepts until no APIC holds anything; vectors taken. */
uint64_t ims__sim_drain(struct sim_machine *m);

/* Control operations (the scheduler's and the demo's). */
int ims__sim_adi_create(struct sim_machine *m, uint32_t dev, uint32_t slot);
int ims__sim_adi_destroy(struct sim_machine *m, uint32_t dev, uint32_t slot);
int ims__sim_fire(struct sim_machine *m, struct sim_vec *v);

/*
 * On the kvm backend the remapping units' APIC sink posts its messages
 * (backend/kvm.h); they are signalled here. ims__sim_fire() and
 * ims__sim_drain() flush before they return, and the scheduler after every
 * operation (an unmask, for one, releases a held message), so that no
 * message outlives the step that raised it. Reading a vCPU's IRR or
 * accepting flushes first in any case. Returns ret, or the flush's error
 * where ret is 0.
 */
static inline int ims__sim_flush(struct sim_machine *m, int ret)
{
	int r = m->kvm ? ims__kvm_flush() : 0;

	return ret ? ret : r;
}

/*
 * Lend v's irq to another handler (a benchmark's): the machine's checking
 * handler is freed and fn(ctx) installed. With fn NULL, the handler
 * installed with ctx is freed and the machine's own put back. Raises made
 * meanwhile must not go through ims__sim_fire(), which counts them for a
 * handler that no longer runs.
 */
int ims__sim_vec_handler(struct sim_machine *m, struct sim_vec *v, ims_irq_handler_t fn, void *ctx);
/* A driver_handlers device's handler found one completion of v. */
void ims__sim_completed(struct sim_machine *m, struct sim_vec *v);
/*
 * The same from a device thread: nothing if the vector is being freed.
 * True if a raise was made and counted (a descriptor the ADI refused, all
 * its completion records in use, is not).
 */
bool ims__sim_fire_guarded(struct sim_machine *m, struct sim_vec *v);
int ims__sim_vec_disable(struct sim_machine *m, struct sim_vec *v);
int ims__sim_vec_enable(struct sim_machine *m, struct sim_vec *v);
int ims__sim_vec_affinity(struct sim_machine *m, struct sim_vec *v, uint32_t cpu_a, uint32_t cpu_b);
int ims__sim_adi_post(struct sim_machine *m, uint32_t dev, uint32_t slot, uint32_t guest, uint32_t vsel);
int ims__sim_adi_unpost(struct sim_machine *m, uint32_t dev, uint32_t slot);
/*
 * The guest writes a new vector into its (virtual) MSI-X entry for a
 * posted vector: the hypervisor rebinds the entry to a new guest vector of
 * the same vCPU, then gives the old one back.
 */
int ims__sim_guest_revector(struct sim_machine *m, struct sim_vec *v, uint32_t pick);
int ims__sim_cpu_offline(struct sim_machine *m, uint32_t cpu);
int ims__sim_cpu_online(struct sim_machine *m, uint32_t cpu);
/* vCPU descheduled (SN set) or scheduled (SN clear, PIR taken). */
void ims__sim_vcpu_sched(struct sim_machine *m, uint32_t vcpu, bool run);
/* A vCPU takes what its descriptor holds. */
void ims__sim_vcpu_take(struct sim_machine *m, uint32_t vcpu);

/* Checks: recounts (every step) and the no-loss check (at quiescence). */
int ims__sim_check_counts(struct sim_machine *m);
/* Schedule every vCPU, drain every CPU, then look for raises never handled. */
int ims__sim_quiesce_check(struct sim_machine *m, uint64_t *pending);

static inline struct sim_adi *sim_adi_at(struct sim_machine *m, uint32_t dev, uint32_t slot)
{
	return &m->adis[dev * m->cfg.adis + slot];
}

static inline bool sim_is_arm(const struct sim_machine *m)
{
	return m->cfg.arch == IMS_SIM_ARCH_ARM;
}

static inline uint32_t sim_vecs_per_dev(const struct sim_machine *m)
{
	return m->cfg.adis * m->cfg.vectors_per_adi + 1;	/* + the MSI-X vector */
}

/* v's raises are descriptors, each answered by one completion of its own. */
static inline bool sim_vec_counted(const struct sim_machine *m, const struct sim_vec *v)
{
	return m->dev_ops->driver_handlers && !v->msix;
}

/*
 * A raise of v is not yet answered. Exact on a quiet machine (no raise
 * or run in progress), which is where the no-loss check asks; while
 * threads run it is only a hint (the device threads pace themselves by
 * it). For descriptors, the two counts are compared rather than a flag
 * kept: a run that read raised before a new descriptor was counted
 * would otherwise clear or set the flag for the wrong raise.
 */
static inline bool sim_vec_due(const struct sim_machine *m, struct sim_vec *v)
{
	if (sim_vec_counted(m, v))
		return atomic_load(&v->runs) < atomic_load(&v->raised);
	return atomic_load(&v->need);
}

/* Host vectors in use on each CPU now (cpus entries). */
void ims__sim_vectors_per_cpu(struct sim_machine *m, uint64_t *out);

#endif
