/*
 * What the benchmarks share: timing, medians, results, and a simulated
 * machine with one device of many IMS slots. Private to bench/.
 */
#ifndef IMS_BENCH_INTERNAL_H
#define IMS_BENCH_INTERNAL_H

#include <ims/bench.h>
#include <ims/sim.h>

#include "backend/sim/machine.h"
#include "hw/apic_bus.h"
#include "hw/dma.h"
#include "hw/iommu/remap_unit.h"

#define MAX_RUNS 64

double ims__bench_now_ns(void);
double ims__bench_median(double *v, uint32_t n);
/* Fail with the message of the call that failed, named by the benchmark. */
int ims__bench_fail(int ret, const char *bench);
/* Fill in the ratio and hand the result to the caller. */
void ims__bench_emit(ims_bench_fn fn, void *ctx, struct ims_bench_result *r);
/* A quiet machine with one device of `slots` IMS slots and no guests. */
int ims__bench_machine(uint32_t slots, struct sim_machine **m);

/*
 * The large machine of the scale targets (scale.c): ir_units remapping
 * units with devices_per_unit devices of `slots` IMS slots behind each,
 * host_cpus host CPUs, vcpus vCPUs in guests of 16. Vectors are allocated
 * in ADIs of adi_vectors (one group, one PASID) and each is posted to a
 * vCPU of the ADI's guest under a guest vector of its own.
 */
#define IMS_SCALE_MAX_UNITS 64
#define IMS_SCALE_MAX_ADI_VECTORS 64

struct ims__scale_params {
	uint32_t ir_units;
	uint32_t devices_per_unit;
	uint32_t slots;
	uint32_t host_cpus;
	uint32_t vcpus;
	uint32_t adi_vectors;
};

struct scale_dev;

struct ims__scale_machine {
	struct ims__scale_params p;
	struct ims_irq_core *core;
	struct ims_hw_apic_bus *bus;
	struct ims_x86_vector_domain *vd;
	struct ims_hw_dma *dma;
	uint32_t *apic_ids;
	struct ims_hw_ir_unit **units;
	struct ims_remap **remaps;
	uint32_t buses_per_unit;
	struct scale_dev **devs;		/* device d sits behind unit d % ir_units */
	uint32_t nr_devs;
	void *pids;				/* vcpus x 64 bytes of DMA memory */
	size_t pid_bytes;
	uint16_t *next_gvec;			/* per vCPU: next free guest vector */
	int *groups;				/* per ADI (device-major): its group, 0 none */
	struct ims_msi_map *maps;		/* adi_vectors */
	uint64_t posted;			/* vectors held (allocated and,
						 * unless by ims__scale_alloc, posted) */
	uint64_t host_irqs;			/* runs of the host's handler */
	uint32_t nr_adis;			/* ADIs made */
	uint32_t next_dev;			/* where the next ADI goes */
};

int ims__scale_machine_create(const struct ims__scale_params *p, struct ims__scale_machine **out);
void ims__scale_machine_destroy(struct ims__scale_machine *m);
/* Allocate and post ADIs, filling device after device, until total are posted. */
int ims__scale_post(struct ims__scale_machine *m, uint64_t total);
/* The same, allocating only: no handler, no post, the slots stay masked. */
int ims__scale_alloc(struct ims__scale_machine *m, uint64_t total);
/* The benchmarks' machine, and the million they post. */
#define IMS_SCALE_1M 1000000u
extern const struct ims__scale_params ims__scale_1m;
struct ims_device *ims__scale_device(struct ims__scale_machine *m, uint32_t d);
struct ims_remap *ims__scale_device_remap(struct ims__scale_machine *m, uint32_t d);
void *ims__scale_pid(struct ims__scale_machine *m, uint32_t vcpu);
/* The ADI owning slot of device d raises it (with the slot's PASID). */
int ims__scale_fire(struct ims__scale_machine *m, uint32_t d, uint32_t slot);

/*
 * One simulated CPU's share of the data path benchmarks: the first
 * BENCH_LANE_VECS vectors of an ADI, moved to the CPU and lent to a handler
 * that counts, raised in turn by the device and taken by the CPU on the
 * calling thread. A lane is a cache line of its own (and more), so that
 * lanes on different threads share nothing but the machine.
 */
#define BENCH_LANE_VECS 16
struct ims_bench_lane {
	struct sim_machine *m;
	struct sim_device *dev;
	struct ims_hw_lapic *lapic;
	struct sim_vec *vecs[BENCH_LANE_VECS];
	uint32_t cpu, pasid;
	uint64_t handled;
} __attribute__((aligned(64)));

struct ims_bench_lane *ims__bench_lane_alloc(uint32_t n);
void ims__bench_lane_free(struct ims_bench_lane *l, uint32_t n);
/* Create ADI adi of device 0 and set its lane up on cpu (then run it once). */
int ims__bench_lane_setup(struct sim_machine *m, uint32_t adi, uint32_t cpu, struct ims_bench_lane *l);
/* Give the vectors back to the machine's handler (the ADI stays). */
void ims__bench_lane_teardown(struct ims_bench_lane *l);
/* n interrupts, each raised, accepted and handled before the next. */
int ims__bench_lane_run(struct ims_bench_lane *l, uint32_t n);

/* The benchmarks, one per topic file. */
int ims__bench_alloc_free(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_memory(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_delivery(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_matrix(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_kvm_overhead(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_kvm_signal(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_syscall_frames(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_posted_1m(uint32_t runs, ims_bench_fn fn, void *ctx);
int ims__bench_threads(uint32_t runs, ims_bench_fn fn, void *ctx);

#endif
