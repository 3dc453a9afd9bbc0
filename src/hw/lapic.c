/*
 * The local APIC model (see lapic.h). Three parties touch an APIC:
 *
 *  - senders (the APIC bus, on any thread) set IRR bits with one atomic OR
 *    each and take no lock;
 *  - the CPU (one thread at a time per APIC, as one core is one thread of
 *    execution) accepts and ends interrupts: it is the only writer of ISR
 *    and of its counters, so those are plain atomic stores, and the only
 *    locked instruction of an accept is the clearing of the IRR bit;
 *  - software anywhere reads registers, and writes TPR, LDR, DFR and SVR
 *    under the APIC's lock (a leaf), which the CPU's path never takes.
 *
 * Acceptance sets the ISR bit before it clears the IRR bit, with release
 * order, so a reader that sees the IRR bit clear (acquire) and then reads
 * ISR cannot miss a vector in between; it may see both set for a moment,
 * which errs on the side of "still in use". Debug builds check that no
 * two threads act as the same CPU at once.
 */
#include <assert.h>
#include <errno.h>
#include <string.h>

#include "hw/dma.h"
#include "hw/lapic.h"
#include "util/alloc.h"
#include "util/compiler.h"
#include "util/lock.h"
#include "util/log.h"

#define WORDS 4	/* 256 bits as 64-bit words */

struct ims_hw_lapic {
	/* Written by senders. */
	_Atomic uint64_t irr[WORDS];
	_Atomic uint64_t tmr[WORDS];
	atomic_uint_fast64_t coalesced, rejected;
	atomic_uint_fast64_t nmi, smi, init, extint;
	/* Read by senders, written by software. */
	_Atomic uint32_t svr;
	uint32_t apic_id;
	/*
	 * Written by the CPU only (accept, EOI); read by anyone. Messages that
	 * set an IRR bit are not counted on the data path: each one is either
	 * accepted or still in IRR, so stats derive the count.
	 */
	_Atomic uint64_t isr[WORDS] __attribute__((aligned(64)));
	atomic_uint_fast64_t accepted, eoi, eoi_empty;
	_Atomic uint32_t tpr;		/* written under lock, read by the CPU */
#ifndef NDEBUG
	atomic_bool cpu_busy;		/* a thread is acting as this CPU */
#endif
	/* lock serializes software's register writes (tpr, ldr, dfr, svr). */
	ims_spinlock_t lock;
	uint32_t ldr, dfr;
};

#ifndef NDEBUG
static void cpu_enter(struct ims_hw_lapic *l)
{
	bool was = atomic_exchange_explicit(&l->cpu_busy, true, memory_order_acquire);

	assert(!was && "two threads act as one CPU");
	(void)was;
}

static void cpu_exit(struct ims_hw_lapic *l)
{
	atomic_store_explicit(&l->cpu_busy, false, memory_order_release);
}
#else
static inline void cpu_enter(struct ims_hw_lapic *l) { (void)l; }
static inline void cpu_exit(struct ims_hw_lapic *l) { (void)l; }
#endif

/* A counter with one writer: a load and a store, no locked instruction. */
static inline void owner_inc(atomic_uint_fast64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1, memory_order_relaxed);
}

int ims__lapic_create(uint32_t apic_id, struct ims_hw_lapic **out)
{
	/* A line of its own: each APIC is its own CPU's. */
	struct ims_hw_lapic *l = ims__dma_alloc_aligned(sizeof(*l), 64, "hw_lapic");

	if (!l)
		return -ENOMEM;
	l->apic_id = apic_id;
	ims__spin_init(&l->lock);
	atomic_init(&l->svr, IMS_LAPIC_SVR_RESET);
	l->dfr = IMS_LAPIC_DFR_FLAT;
	*out = l;
	return 0;
}

void ims__lapic_destroy(struct ims_hw_lapic *l)
{
	if (l)
		ims__dma_free_aligned(l, sizeof(*l), 64);
}

uint32_t ims__lapic_id(const struct ims_hw_lapic *l)
{
	return l->apic_id;
}

static int highest_bit(const uint64_t w[WORDS])
{
	for (int i = WORDS - 1; i >= 0; i--)
		if (w[i])
			return i * 64 + 63 - __builtin_clzll(w[i]);
	return -1;
}

static void load_words(_Atomic uint64_t *src, uint64_t dst[WORDS], memory_order mo)
{
	for (int i = 0; i < WORDS; i++)
		dst[i] = atomic_load_explicit(&src[i], mo);
}

/* PPR: the higher of TPR and the class of the highest vector in service. */
static uint32_t ppr_of(uint32_t tpr, int isrv)
{
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0u;

	return (tpr & 0xf0u) >= isr_class ? tpr & 0xffu : isr_class;
}

uint32_t ims__lapic_ppr(struct ims_hw_lapic *l)
{
	uint64_t isr[WORDS];

	load_words(l->isr, isr, memory_order_acquire);
	return ppr_of(atomic_load_explicit(&l->tpr, memory_order_relaxed), highest_bit(isr));
}

bool ims__lapic_deliver(struct ims_hw_lapic *l, uint8_t delivery_mode, uint8_t vector,
			bool level_trigger)
{
	uint64_t bit = 1ull << (vector % 64), old;

	if (ims_unlikely(delivery_mode > 1)) {	/* not fixed or lowest priority */
		switch (delivery_mode) {
		case 2:
			atomic_fetch_add_explicit(&l->smi, 1, memory_order_relaxed);
			return true;
		case 4:
			atomic_fetch_add_explicit(&l->nmi, 1, memory_order_relaxed);
			return true;
		case 5:
			atomic_fetch_add_explicit(&l->init, 1, memory_order_relaxed);
			return true;
		case 7:
			atomic_fetch_add_explicit(&l->extint, 1, memory_order_relaxed);
			return true;
		default:
			atomic_fetch_add_explicit(&l->rejected, 1, memory_order_relaxed);
			return false;
		}
	}
	/* Fixed, or lowest priority (the bus already chose this APIC). Vectors
	 * 0-15 are illegal for fixed delivery; a disabled APIC takes none. */
	if (ims_unlikely(vector < 16 ||
			 !(atomic_load_explicit(&l->svr, memory_order_acquire) & IMS_LAPIC_SVR_ENABLE))) {
		atomic_fetch_add_explicit(&l->rejected, 1, memory_order_relaxed);
		return false;
	}
	/* TMR changes only when the trigger mode does: no write in the common case. */
	if (ims_unlikely(!!(atomic_load_explicit(&l->tmr[vector / 64], memory_order_relaxed) & bit) !=
			 level_trigger)) {
		if (level_trigger)
			atomic_fetch_or_explicit(&l->tmr[vector / 64], bit, memory_order_relaxed);
		else
			atomic_fetch_and_explicit(&l->tmr[vector / 64], ~bit, memory_order_relaxed);
	}
	/* Release: whatever the sender wrote before the message is visible to
	 * the CPU that accepts it. */
	old = atomic_fetch_or_explicit(&l->irr[vector / 64], bit, memory_order_acq_rel);
	if (ims_unlikely(old & bit))
		atomic_fetch_add_explicit(&l->coalesced, 1, memory_order_relaxed);
	return true;
}

bool ims__lapic_irr_pending(struct ims_hw_lapic *l)
{
	for (int i = 0; i < WORDS; i++)
		if (atomic_load_explicit(&l->irr[i], memory_order_relaxed))
			return true;
	return false;
}

/* Highest set bit of a 256-bit register read word by word from the top: -1 if none. */
static inline int highest_atomic(_Atomic uint64_t *r, memory_order mo, uint64_t *word)
{
	for (int i = WORDS - 1; i >= 0; i--) {
		uint64_t x = atomic_load_explicit(&r[i], mo);

		if (x) {
			*word = x;
			return i * 64 + 63 - __builtin_clzll(x);
		}
	}
	return -1;
}

int ims__lapic_accept(struct ims_hw_lapic *l)
{
	uint64_t irrw, isrw = 0, bit;
	int v, s, w;

	cpu_enter(l);
	/* Acquire: what the senders wrote before their messages is seen here. */
	v = highest_atomic(l->irr, memory_order_acquire, &irrw);
	if (v < 0)
		goto none;
	s = highest_atomic(l->isr, memory_order_relaxed, &isrw);	/* ours */
	if (((uint32_t)v & 0xf0u) <=
	    (ppr_of(atomic_load_explicit(&l->tpr, memory_order_relaxed), s) & 0xf0u))
		goto none;
	w = v / 64;
	bit = 1ull << (v % 64);
	/* In service before it leaves IRR (see the top of the file). */
	atomic_store_explicit(&l->isr[w], atomic_load_explicit(&l->isr[w], memory_order_relaxed) | bit,
			      memory_order_release);
	atomic_fetch_and_explicit(&l->irr[w], ~bit, memory_order_acq_rel);
	owner_inc(&l->accepted);
	cpu_exit(l);
	return v;

none:
	cpu_exit(l);
	return -1;
}

/* EOI: the CPU ends its highest vector in service. */
static void eoi(struct ims_hw_lapic *l)
{
	uint64_t isrw = 0;
	int v;

	cpu_enter(l);
	v = highest_atomic(l->isr, memory_order_relaxed, &isrw);	/* ours */
	if (v < 0) {
		owner_inc(&l->eoi_empty);
	} else {
		atomic_store_explicit(&l->isr[v / 64], isrw & ~(1ull << (v % 64)), memory_order_release);
		owner_inc(&l->eoi);
	}
	cpu_exit(l);
}

bool ims__lapic_match_logical(struct ims_hw_lapic *l, uint32_t dest)
{
	uint32_t ldr, dfr, id;

	ims__spin_lock(&l->lock);
	ldr = l->ldr;
	dfr = l->dfr;
	ims__spin_unlock(&l->lock);
	id = ldr >> 24;
	dest &= 0xffu;
	if (dest == 0xff)
		return true;	/* broadcast */
	if ((dfr >> 28) == 0xf)
		return (id & dest) != 0;	/* flat: one bit per APIC */
	/* cluster: high nibble names the cluster, low nibble the APICs in it */
	return (id >> 4) == (dest >> 4) && (id & dest & 0xfu) != 0;
}

uint32_t ims__lapic_read(struct ims_hw_lapic *l, uint32_t reg)
{
	uint32_t val = 0;
	_Atomic uint64_t *bank = NULL;

	if (reg >= IMS_LAPIC_IRR && reg < IMS_LAPIC_IRR + 8 * IMS_LAPIC_REG_STRIDE)
		bank = l->irr;
	else if (reg >= IMS_LAPIC_TMR && reg < IMS_LAPIC_TMR + 8 * IMS_LAPIC_REG_STRIDE)
		bank = l->tmr;
	else if (reg >= IMS_LAPIC_ISR && reg < IMS_LAPIC_ISR + 8 * IMS_LAPIC_REG_STRIDE)
		bank = l->isr;
	if (bank) {
		uint32_t w = (reg & 0x70u) / IMS_LAPIC_REG_STRIDE;

		if (reg % IMS_LAPIC_REG_STRIDE)
			return 0;
		return (uint32_t)(atomic_load_explicit(&bank[w / 2], memory_order_acquire) >> (32 * (w % 2)));
	}
	switch (reg) {
	case IMS_LAPIC_ID:
		return l->apic_id << 24;
	case IMS_LAPIC_VERSION:
		return IMS_LAPIC_VERSION_VAL;
	case IMS_LAPIC_TPR:
		return atomic_load_explicit(&l->tpr, memory_order_relaxed);
	case IMS_LAPIC_PPR:
		return ims__lapic_ppr(l);
	case IMS_LAPIC_SVR:
		return atomic_load_explicit(&l->svr, memory_order_relaxed);
	case IMS_LAPIC_LDR:
	case IMS_LAPIC_DFR:
		ims__spin_lock(&l->lock);
		val = reg == IMS_LAPIC_LDR ? l->ldr : l->dfr;
		ims__spin_unlock(&l->lock);
		return val;
	default:
		return 0;	/* EOI is write-only; others unmodelled */
	}
}

void ims__lapic_write(struct ims_hw_lapic *l, uint32_t reg, uint32_t val)
{
	if (reg == IMS_LAPIC_EOI) {	/* the CPU's own: no lock */
		eoi(l);
		return;
	}
	ims__spin_lock(&l->lock);
	switch (reg) {
	case IMS_LAPIC_TPR:
		atomic_store_explicit(&l->tpr, val & 0xffu, memory_order_relaxed);
		break;
	case IMS_LAPIC_LDR:
		l->ldr = val & 0xff000000u;
		break;
	case IMS_LAPIC_DFR:
		l->dfr = val | 0x0fffffffu;	/* bits 27:0 read as ones */
		break;
	case IMS_LAPIC_SVR:
		atomic_store_explicit(&l->svr, val & 0x3ffu, memory_order_release);
		break;
	default:
		break;	/* read-only or unmodelled: ignored, as hardware does */
	}
	ims__spin_unlock(&l->lock);
}

void ims__lapic_stats(struct ims_hw_lapic *l, struct ims_hw_lapic_stats *out)
{
	uint64_t in_irr = 0;

	/*
	 * Acceptance counts a vector after its IRR bit is clear: read the
	 * count first, so a vector moving meanwhile is counted at most once
	 * (exact when the CPU is not accepting).
	 */
	out->accepted = atomic_load_explicit(&l->accepted, memory_order_acquire);
	for (int i = 0; i < WORDS; i++)
		in_irr += (uint64_t)__builtin_popcountll(atomic_load_explicit(&l->irr[i], memory_order_acquire));
	out->eoi = atomic_load_explicit(&l->eoi, memory_order_relaxed);
	out->eoi_empty = atomic_load_explicit(&l->eoi_empty, memory_order_relaxed);
	out->delivered = out->accepted + in_irr;
	out->coalesced = atomic_load_explicit(&l->coalesced, memory_order_relaxed);
	out->rejected = atomic_load_explicit(&l->rejected, memory_order_relaxed);
	out->nmi = atomic_load_explicit(&l->nmi, memory_order_relaxed);
	out->smi = atomic_load_explicit(&l->smi, memory_order_relaxed);
	out->init = atomic_load_explicit(&l->init, memory_order_relaxed);
	out->extint = atomic_load_explicit(&l->extint, memory_order_relaxed);
}
