/*
 * The x86 vector domain's private state, shared by vector.c (the control
 * path: allocation, activation, affinity, cleanup) and dispatch.c (the
 * data path: from an accepted vector to the irq's flow).
 *
 * Per irq the domain keeps one 64-bit word, ims_irq_data.chip_u64:
 *   bits 15:0  current CPU       bits 39:24 previous CPU (a move's old one)
 *   bits 23:16 current vector    bits 47:40 previous vector
 *   bit 48     has a vector      bit 49     a move is in progress
 * It is written under vector_lock and read anywhere with one atomic load.
 *
 * Per CPU a table of 256 64-bit entries, vector -> owner:
 *   bit 63 valid, bit 62 moved (the new vector of a move, no interrupt
 *   seen on it yet), bit 61 stale (a deactivated vector kept only while
 *   the APIC still holds an interrupt for it), bits 60:32 a generation
 *   (so that a late compare-and-swap on a reused entry fails), bits 31:0
 *   the irq number.
 */
#ifndef IMS_OS_X86_VECTOR_H
#define IMS_OS_X86_VECTOR_H

#include <ims/x86.h>
#include <stdatomic.h>

#include "os/x86/matrix.h"
#include "util/lock.h"

#define VS_CPU(s)	((uint32_t)((s) & 0xffffu))
#define VS_VEC(s)	((uint32_t)(((s) >> 16) & 0xffu))
#define VS_PCPU(s)	((uint32_t)(((s) >> 24) & 0xffffu))
#define VS_PVEC(s)	((uint32_t)(((s) >> 40) & 0xffu))
#define VS_HAS_VEC	(1ull << 48)
#define VS_MOVING	(1ull << 49)
#define VS_MAKE(cpu, vec, pcpu, pvec, flags)                                      \
	((uint64_t)(cpu) | (uint64_t)(vec) << 16 | (uint64_t)(pcpu) << 24 |       \
	 (uint64_t)(pvec) << 40 | (flags))

#define VT_VALID	(1ull << 63)
#define VT_MOVED	(1ull << 62)
#define VT_STALE	(1ull << 61)
#define VT_GEN_SHIFT	32
#define VT_GEN_MASK	0x1fffffffull
#define VT_IRQ(e)	((uint32_t)(e))

_Static_assert((VS_MAKE(0xffff, 0xff, 0xffff, 0xff, 0) & (VS_HAS_VEC | VS_MOVING)) == 0,
	      "packed irq state: fields and flags overlap");
_Static_assert(((VT_GEN_MASK << VT_GEN_SHIFT) & (VT_VALID | VT_MOVED | VT_STALE | 0xffffffffull)) == 0,
	      "vector table entry: generation overlaps flags or irq");

/*
 * What dispatch counts on each CPU. Only that CPU writes them, so they are
 * 64 bytes apart (the rest of the stride is padding): CPUs dispatching at
 * once never write the same cache line.
 */
struct ims_x86_cpu_count {
	atomic_uint_fast64_t dispatched;
	atomic_uint_fast64_t spurious;
	uint64_t pad[6];
};
_Static_assert(sizeof(struct ims_x86_cpu_count) == 64, "one cache line of stride per CPU");

struct ims_x86_vector_domain {
	struct ims_irq_core *core;
	struct ims_irq_domain *domain;
	uint32_t nr_cpus;
	uint32_t flags;
	uint32_t first_system;
	uint32_t *apic_ids;
	const struct ims_x86_apic_ops *apic;
	void *apic_ctx;

	/*
	 * vector_lock guards the matrix, the cleanup bitmaps and the count of
	 * held old vectors, every write to the vector tables, gen, the
	 * chip_u64 word of every irq at this level, and the move counters.
	 * Lock order: core->lock -> desc->lock -> vector_lock -> APIC model
	 * locks (through apic ops).
	 */
	struct ims_mutex vector_lock;
	struct ims__matrix *matrix;
	uint64_t gen;
	uint64_t *cleanup_map;		/* per CPU 4 words: old vectors held */
	uint64_t *cleanup_cpus;		/* CPUs with a bit in cleanup_map */
	uint64_t moves_started, moves_done;
	/* Read locklessly as a hint: 0 means no cleanup to try. */
	atomic_uint cleanup_held;

	/* Data path. Entries written under vector_lock; the moved bit is also
	 * cleared by dispatch with a compare-and-swap. */
	_Atomic uint64_t *table;	/* nr_cpus * 256 */
	struct ims_x86_cpu_count *cpu_count;	/* per CPU */
	struct {
		_Atomic(ims_x86_sysvec_fn) fn;
		_Atomic(void *) ctx;
	} sysvec[IMS_X86_NR_VECTORS];
	/* Test only: free a vector the irq leaves at once, even while the
	 * APIC still holds an interrupt for it (the bug the hold prevents). */
	bool test_no_hold;
	/* Test only: called by dispatch between reading the table entry and
	 * looking its irq up (a CPU that stalls there). */
	_Atomic(void (*)(void *ctx, uint32_t cpu, unsigned int irq)) test_dispatch_stall;
	void *test_dispatch_stall_ctx;
};

/* Test only: switch the deliberate bug above on or off. */
void ims__x86_vector_test_no_hold(struct ims_x86_vector_domain *vd, bool on);
/* Test only: a hook dispatch calls between its table read and the irq lookup (NULL: none). */
void ims__x86_vector_test_dispatch_stall(struct ims_x86_vector_domain *vd,
					 void (*fn)(void *ctx, uint32_t cpu, unsigned int irq), void *ctx);

static inline _Atomic uint64_t *ims__vt_entry(struct ims_x86_vector_domain *vd, uint32_t cpu,
					      uint32_t vector)
{
	return &vd->table[(size_t)cpu * IMS_X86_NR_VECTORS + vector];
}

/* The chip's ack and eoi: EOI to the APIC of the CPU dispatching now. */
void ims__x86_vector_ack(struct ims_irq_data *d);

#endif
