/*
 * ims/sim.h - the simulated machine, run as a whole: a host of CPUs (local
 * APICs), interrupt remapping units with the devices behind them, SIOV
 * devices whose assignable device interfaces (ADIs) raise interrupts
 * through IMS, and guests whose vCPUs receive posted interrupts. A seeded
 * scheduler interleaves control operations (ADIs created and destroyed,
 * vectors masked and unmasked, affinities changed, ADIs posted to guests
 * and back, CPUs taken offline) with data events (a device raising a slot,
 * a CPU accepting a vector and dispatching it) and checks the system's
 * invariants after every step (docs/sim.md).
 *
 * Interrupts land on the built-in local APIC models (backend "sim") or on
 * KVM's in-kernel local APICs (backend "kvm"), which then decide which CPU
 * and vector each message reaches. The machine can also be built as an ARM
 * machine (arch arm: a GICv3 ITS and redistributors instead of remapping
 * units and APICs), and its devices can be the reference accelerator
 * (device accel) instead of the simple IMS device.
 *
 * This is the API of `imsctl sim`, `imsctl demo` and `imsctl report`.
 */
#ifndef IMS_SIM_H
#define IMS_SIM_H

#include <stdio.h>

#include <ims/common.h>

#ifdef __cplusplus
extern "C" {
#endif

enum ims_sim_backend {
	IMS_SIM_BACKEND_SIM = 0,	/* the local APIC models */
	IMS_SIM_BACKEND_KVM = 1,	/* KVM_SIGNAL_MSI into KVM's local APICs */
};

enum ims_sim_storage {
	IMS_SIM_STORAGE_ARRAY = 0,	/* IMS slots in device memory (a BAR) */
	IMS_SIM_STORAGE_QUEUE = 1,	/* message shadows in system memory: refused
					 * until the queue chip lands */
};

enum ims_sim_arch {
	IMS_SIM_ARCH_X86 = 0,	/* remapping units, vectors, local APICs */
	IMS_SIM_ARCH_ARM = 1,	/* a GICv3 ITS and redistributors */
};

enum ims_sim_device {
	IMS_SIM_DEVICE_SIMPLE = 0,	/* MSI-X + an IMS array, ADIs = vector groups */
	IMS_SIM_DEVICE_ACCEL = 1,	/* the reference SIOV accelerator */
};

/* Limits checked by ims_sim_config_validate(). */
#define IMS_SIM_MAX_CPUS	64
#define IMS_SIM_MAX_IR_UNITS	8
#define IMS_SIM_MAX_DEVICES	32
#define IMS_SIM_MAX_ADIS	1024	/* per device */
#define IMS_SIM_MAX_GUESTS	16
#define IMS_SIM_MAX_VCPUS	16	/* per guest */
#define IMS_SIM_MAX_THREADS	64
#define IMS_SIM_SERIES_BUCKETS	64	/* points of each time series */

struct ims_sim_config {
	uint32_t cpus;			/* host CPUs, 1..64 */
	uint32_t ir_units;		/* remapping units, 1..8 */
	uint32_t devices;		/* devices, spread over the units in turn */
	uint32_t adis;			/* ADIs per device alive at most at once */
	uint32_t vectors_per_adi;	/* IMS vectors of each ADI, 1..64 */
	uint32_t ims_slots;		/* IMS slots per device; 0: 2048 */
	uint32_t msix_vectors;		/* MSI-X table entries per device, 1..2048; 0: 9 */
	uint32_t guests;		/* 0..16 */
	uint32_t vcpus;			/* per guest, 1..16 (ignored without guests) */
	uint32_t posted_percent;	/* 0..100: share of post operations among
					 * control operations' picks (0: never post) */
	enum ims_sim_storage storage;
	uint64_t steps;			/* scheduler steps (deterministic mode), or
					 * interrupts fired (threaded mode) */
	uint64_t seed;
	uint32_t threads;		/* 0: deterministic; else threads for CPUs,
					 * devices and control (at least 3) */
	enum ims_sim_backend backend;
	bool kvm_irqfd;			/* kvm backend: deliver through irqfd and GSI
					 * routes (made on demand) instead of
					 * KVM_SIGNAL_MSI */
	uint32_t fault_rate;		/* 0: none; N: each allocation fails with
					 * probability 1/N during the run */
	uint32_t check_every;		/* full recounts every N steps; 0: 1 */
	/*
	 * Optional parts of the machine description (NULL: the defaults).
	 * apic_ids: cpus distinct APIC IDs below 255 (default: 2 x CPU).
	 * device_unit: for each device, the remapping unit it sits behind
	 * (default: device mod ir_units); at most 15 devices per unit.
	 */
	const uint32_t *apic_ids;
	const uint32_t *device_unit;
	enum ims_sim_arch arch;		/* the platform; arm: no guests (taken as 0),
					 * ir_units, apic_ids, device_unit ignored,
					 * backend sim only (docs/sim.md) */
	enum ims_sim_device device;	/* the kind of device; accel: ADIs not
					 * posted to guests (docs/sim.md) */
	bool shrink;			/* on a violation, look for a short trace */
	bool quiet;			/* do not print a violation to stderr */
};

/* The default machine of the demo: 4 CPUs, 2 remapping units, one device
 * with MSI-X and 2048 IMS slots, 2 guests of 2 vCPUs; 10,000 steps. */
IMS_API void ims_sim_config_default(struct ims_sim_config *cfg);
/*
 * 0, or -EINVAL (-EOPNOTSUPP for what is not available, such as queue
 * storage, or backend kvm on arm) with a message naming the dimension and
 * its bounds.
 */
IMS_API int ims_sim_config_validate(const struct ims_sim_config *cfg);

/* One row of the /proc/interrupts-style table. */
struct ims_sim_irq_row {
	uint32_t irq;
	uint64_t *per_cpu;		/* cpus entries */
	uint64_t total;
	uint32_t hwirq;
	char chip[32];
	char domain[64];
	char device[32];
	char action[64];
	bool posted;			/* delivered into a guest, not counted here */
};

/* A time series: IMS_SIM_SERIES_BUCKETS points for each of n lines. */
struct ims_sim_series {
	uint32_t n;			/* lines */
	uint32_t points;		/* buckets filled */
	uint64_t step_per_point;	/* simulated steps per bucket */
	uint64_t *v;			/* v[line * IMS_SIM_SERIES_BUCKETS + point] */
};

enum ims_sim_violation_kind {
	IMS_SIM_OK = 0,
	IMS_SIM_LOST,			/* a raise never handled */
	IMS_SIM_MISDELIVERED,		/* a handler ran with nothing raised for it */
	IMS_SIM_AFTER_FREE,		/* a freed vector's handler ran */
	IMS_SIM_CROSS_GUEST,		/* a guest took another owner's interrupt */
	IMS_SIM_COUNTER,		/* a counter differs from its recount */
	IMS_SIM_INTERNAL,		/* an operation failed where it may not */
};
IMS_API const char *ims_sim_violation_name(enum ims_sim_violation_kind k);

struct ims_sim_result {
	uint64_t seed;
	uint64_t steps;			/* steps run */
	uint64_t fired;			/* raises by devices */
	uint64_t delivered;		/* handler runs, host and guest */
	uint64_t delivered_guest;	/* of those, taken by vCPUs from posted descriptors */
	uint64_t coalesced;		/* raises absorbed (IRR, PIR or slot pending) */
	uint64_t pending;		/* raises still held at the end (masked slots) */
	uint64_t lost;			/* 1 if the run stopped on a lost raise */
	uint64_t misdelivered;
	uint64_t after_free;
	uint64_t cross_guest;
	uint64_t faults;		/* remapping faults */
	uint64_t spurious;		/* vectors with no owner */
	uint64_t invariant_violations;
	uint64_t alloc_failures;	/* control operations refused (full, injected) */
	uint64_t injected_faults;	/* allocations failed by fault_rate */
	uint64_t kvm_irqfd_fires;	/* messages sent through irqfd (kvm_irqfd) */
	uint32_t max_vectors_used_per_cpu;
	uint32_t irtes_used;		/* peak, all units */
	uint32_t ims_vectors_allocated;	/* peak, all devices */
	uint64_t trace_hash;		/* FNV-1a of the trace: same seed, same hash
					 * (0 in threaded mode, which has no trace) */
	double wall_seconds;
	/* The first violation: kind, step, message, and a short trace that
	 * reproduces it (one operation per line). */
	enum ims_sim_violation_kind violation;
	uint64_t violation_step;
	char violation_msg[256];
	char *min_trace;
	uint64_t min_trace_ops;
	/* Per-CPU, per-vector host deliveries (cpus x 256), for cross-checks. */
	uint32_t cpus;
	uint64_t *cpu_vector;
	/* Per-vCPU, per-guest-vector deliveries taken from posted descriptors
	 * (vCPU i of guest g is row g x vcpus + i; nr_vcpus x 256). */
	uint32_t nr_vcpus;
	uint64_t *vcpu_vector;
	/* The /proc/interrupts-style table, taken before teardown. */
	uint32_t nr_rows;
	struct ims_sim_irq_row *rows;
	/* For the report: vectors in use per CPU, entries in use per unit,
	 * handler runs per ADI (line = device * adis + ADI), faults. */
	struct ims_sim_series vectors_per_cpu;
	struct ims_sim_series irtes_per_unit;
	struct ims_sim_series irqs_per_adi;
	struct ims_sim_series faults_series;
};

/* A line of the trace (deterministic mode only): one per step. */
typedef void (*ims_sim_trace_fn)(void *ctx, uint64_t step, const char *line);
/* Progress: steps done of total, at most about 100 times per run (threaded
 * mode: once, at the end). */
typedef void (*ims_sim_progress_fn)(void *ctx, uint64_t done, uint64_t total);

struct ims_sim_callbacks {
	ims_sim_trace_fn trace;		/* optional */
	ims_sim_progress_fn progress;	/* optional */
	void *ctx;
};

/*
 * Build the machine of cfg, run it, check the invariants, tear it down.
 * Returns 0 when the run completed (violations are reported in the result,
 * not as an error), or a negative errno if the configuration is invalid or
 * the machine cannot be built (-ENODEV for the kvm backend without a usable
 * /dev/kvm, with the reason in ims_last_error()). cb may be NULL. Free the
 * result with ims_sim_result_free().
 */
IMS_API int ims_sim_run(const struct ims_sim_config *cfg, const struct ims_sim_callbacks *cb,
			struct ims_sim_result *res);
IMS_API void ims_sim_result_free(struct ims_sim_result *res);

/* Print the result as a /proc/interrupts-style table and a summary. */
IMS_API void ims_sim_print_interrupts(const struct ims_sim_result *res, FILE *f);

/* ---- the narrated demo ---- */

enum ims_sim_event_kind {
	IMS_SIM_EV_MACHINE,		/* the machine was built */
	IMS_SIM_EV_ADI_CREATE,
	IMS_SIM_EV_WORK,		/* work submitted: interrupts raised and handled */
	IMS_SIM_EV_AFFINITY,
	IMS_SIM_EV_MASK,
	IMS_SIM_EV_UNMASK,
	IMS_SIM_EV_POST,		/* an ADI assigned to a guest, posted delivery */
	IMS_SIM_EV_UNPOST,
	IMS_SIM_EV_ADI_DESTROY,
	IMS_SIM_EV_TEARDOWN,
	IMS_SIM_EV_SUMMARY,
};

/* text is one narrated sentence; valid during the call. */
typedef void (*ims_sim_event_fn)(void *ctx, enum ims_sim_event_kind kind, const char *text);

/*
 * The demo: build the default machine (or cfg's, when not NULL), create
 * ADIs, submit work, migrate affinities, mask and unmask, post ADIs to
 * guests and back, tear down; one event per narrated action. res gets the
 * table (taken before teardown) and the counts.
 */
IMS_API int ims_sim_demo(const struct ims_sim_config *cfg, ims_sim_event_fn ev, void *ctx,
			 struct ims_sim_result *res);

#ifdef __cplusplus
}
#endif
#endif
