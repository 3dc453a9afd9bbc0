/*
 * The x86 vector matrix: for every CPU, which of its 256 vectors are
 * exceptions, system vectors, set aside for managed interrupts, or handed
 * out, with the counters that go with them kept beside the bitmaps.
 *
 * Not thread-safe: the owner serializes every call (the vector domain holds
 * its vector_lock). Cost of an allocation does not grow with the number of
 * CPUs when any online CPU will do: online CPUs sit in buckets keyed by
 * their count of available vectors, so the emptiest CPU is found in a few
 * steps. For a restricted mask the mask's CPUs are scanned.
 */
#ifndef IMS_OS_X86_MATRIX_H
#define IMS_OS_X86_MATRIX_H

#include <stdint.h>
#include <stdio.h>

#include <ims/cpumask.h>

#define IMS_X86_NR_VECTORS		256u
#define IMS_X86_FIRST_EXTERNAL_VECTOR	0x20u	/* 0-31 are exceptions */
#define IMS_X86_FIRST_SYSTEM_DEFAULT	0xecu
#define IMS_X86_LEGACY_FIRST		0x30u	/* ISA vectors, CPU 0 only */
#define IMS_X86_LEGACY_LAST		0x3fu
/* The lowest first system vector accepted: above the legacy range. */
#define IMS_X86_FIRST_SYSTEM_MIN	0x40u

struct ims__matrix;

/*
 * Counters of one CPU, or of the whole matrix (sums over online CPUs, plus
 * reserved, which is global only).
 *   available          vectors that an allocation could take now
 *   allocated          non-managed vectors handed out
 *   managed            vectors set aside for managed interrupts (taken or not)
 *   managed_allocated  of those, the ones handed out
 *   system             system vectors (top of the range; legacy on CPU 0)
 *   reserved           interrupts promised a vector later (global only)
 */
struct ims__matrix_counts {
	uint64_t available;
	uint64_t allocated;
	uint64_t managed;
	uint64_t managed_allocated;
	uint64_t system;
	uint64_t reserved;
	uint32_t online;		/* online CPUs (global only) */
};

/*
 * A matrix for nr_cpus CPUs (1..65536), all online. Device vectors are
 * 0x20 up to first_system - 1; first_system is in 0x40..0x100 (0 takes the
 * default, 0xec).
 */
int ims__matrix_create(uint32_t nr_cpus, uint32_t first_system, struct ims__matrix **out);
void ims__matrix_destroy(struct ims__matrix *m);
uint32_t ims__matrix_nr_cpus(const struct ims__matrix *m);
uint32_t ims__matrix_first_system(const struct ims__matrix *m);

/* Bring a CPU online; -EINVAL if it is already online. */
int ims__matrix_online(struct ims__matrix *m, uint32_t cpu);
/*
 * Take a CPU offline. Refused with -EBUSY while any vector (managed or not)
 * is allocated on it: the owner moves or shuts down those interrupts first
 * (the vector domain's ims_x86_vector_cpu_offline() does the moving).
 * Managed reservations stay, for when the CPU returns.
 */
int ims__matrix_offline(struct ims__matrix *m, uint32_t cpu);
bool ims__matrix_cpu_online(const struct ims__matrix *m, uint32_t cpu);

/*
 * Promise an interrupt a vector later (allocated but not activated). Only
 * counted: reservations may exceed what is available, because an interrupt
 * that will be posted never takes a host vector.
 */
void ims__matrix_reserve(struct ims__matrix *m);
/* -EINVAL (one-time warning, nothing changed) if nothing is reserved. */
int ims__matrix_remove_reserve(struct ims__matrix *m);

/*
 * Allocate a non-managed vector on the online CPU of mask (NULL: any
 * online CPU) that has the most available vectors. Returns the vector and
 * sets *cpu, or -ENOSPC if no CPU of the mask has one, -EINVAL if the mask
 * has no online CPU.
 */
int ims__matrix_alloc(struct ims__matrix *m, const struct ims_cpumask *mask, uint32_t *cpu);
/*
 * Give back an allocated vector, managed or not. A vector that is not
 * allocated is refused with -EINVAL and a one-time warning.
 */
int ims__matrix_free(struct ims__matrix *m, uint32_t cpu, uint32_t vector);

/*
 * Set aside one vector for managed interrupts on every CPU of mask, online
 * or not. All or nothing: -ENOSPC if some CPU has no available vector.
 */
int ims__matrix_reserve_managed(struct ims__matrix *m, const struct ims_cpumask *mask);
/*
 * Release one unallocated managed vector on every CPU of mask. All or
 * nothing: -EBUSY if some CPU has none that is not allocated.
 */
int ims__matrix_remove_managed(struct ims__matrix *m, const struct ims_cpumask *mask);
/*
 * Allocate a managed vector on a CPU of mask (online or not) that has one
 * set aside and free, preferring the CPU with the fewest taken.
 */
int ims__matrix_alloc_managed(struct ims__matrix *m, const struct ims_cpumask *mask, uint32_t *cpu);

/* Counters of one CPU (cpu < nr_cpus) or of the whole matrix (cpu < 0). */
int ims__matrix_counts(const struct ims__matrix *m, int cpu, struct ims__matrix_counts *out);
/* True if vector is allocated on cpu. */
bool ims__matrix_is_allocated(const struct ims__matrix *m, uint32_t cpu, uint32_t vector);

/*
 * Text dump: the global counters, then per CPU its counters and its 256
 * vectors, one letter each (E exception, S system, A allocated, M managed
 * and free, m managed and allocated, . free).
 */
void ims__matrix_dump(const struct ims__matrix *m, FILE *f);
/*
 * Recount every counter from the bitmaps and compare, and check the
 * buckets. 0, or -EIO with a message naming the first counter that
 * differs.
 */
int ims__matrix_check(const struct ims__matrix *m);

#endif
