/*
 * The local APIC model (see lapic.h). IRR and TMR are atomic words so that
 * a device's message lands without a lock; everything that must see IRR,
 * ISR and TPR together (acceptance, EOI, PPR) runs under the APIC's lock.
 * Acceptance clears the IRR bit and sets the ISR bit inside the lock, so a
 * reader that sees the IRR bit clear and then takes the lock to read ISR
 * cannot miss a vector in between.
 */
#include <errno.h>
#include <string.h>

#include "hw/lapic.h"
#include "util/alloc.h"
#include "util/compiler.h"
#include "util/lock.h"
#include "util/log.h"

#define WORDS 4	/* 256 bits as 64-bit words */

struct ims_hw_lapic {
	uint32_t apic_id;
	_Atomic uint64_t irr[WORDS];
	_Atomic uint64_t tmr[WORDS];
	_Atomic uint32_t svr;		/* read lock-free by delivery */
	/*
	 * lock guards isr, tpr, ldr, dfr, the acceptance transition and the
	 * counters of what happens under it (accepted, eoi, eoi_empty).
	 * Messages that set an IRR bit are not counted on the data path: each
	 * one is either accepted or still in IRR, so stats derive the count.
	 */
	ims_spinlock_t lock;
	uint64_t isr[WORDS];
	uint32_t tpr, ldr, dfr;
	uint64_t accepted, eoi, eoi_empty;
	atomic_uint_fast64_t coalesced, rejected;
	atomic_uint_fast64_t nmi, smi, init, extint;
};

int ims__lapic_create(uint32_t apic_id, struct ims_hw_lapic **out)
{
	struct ims_hw_lapic *l = ims__zalloc(sizeof(*l), "hw_lapic");

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
		ims__free(l, sizeof(*l));
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

/* PPR: the higher of TPR and the class of the highest vector in service. */
static uint32_t ppr_locked(struct ims_hw_lapic *l)
{
	int isrv = highest_bit(l->isr);
	uint32_t isr_class = isrv < 0 ? 0 : (uint32_t)isrv & 0xf0u;

	ims__assert_spin_held(&l->lock);
	return (l->tpr & 0xf0u) >= isr_class ? l->tpr & 0xffu : isr_class;
}

uint32_t ims__lapic_ppr(struct ims_hw_lapic *l)
{
	uint32_t ppr;

	ims__spin_lock(&l->lock);
	ppr = ppr_locked(l);
	ims__spin_unlock(&l->lock);
	return ppr;
}

bool ims__lapic_deliver(struct ims_hw_lapic *l, uint8_t delivery_mode, uint8_t vector,
			bool level_trigger)
{
	uint64_t bit = 1ull << (vector % 64), old;

	switch (delivery_mode) {
	case 0:	/* fixed */
	case 1:	/* lowest priority: the bus already chose this APIC */
		break;
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
	/* Vectors 0-15 are illegal for fixed delivery; a disabled APIC takes none. */
	if (vector < 16 || !(atomic_load_explicit(&l->svr, memory_order_acquire) & IMS_LAPIC_SVR_ENABLE)) {
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
	if (old & bit)
		atomic_fetch_add_explicit(&l->coalesced, 1, memory_order_relaxed);
	return true;
}

bool ims__lapic_irr_pending(struct ims_hw_lapic *l)
{
	for (int i = 0; i < WORDS; i++)
		if (atomic_load_explicit(&l->irr[i], memory_order_acquire))
			return true;
	return false;
}

int ims__lapic_accept(struct ims_hw_lapic *l)
{
	uint64_t irr[WORDS];
	int v;

	if (!ims__lapic_irr_pending(l))
		return -1;
	ims__spin_lock(&l->lock);
	for (int i = 0; i < WORDS; i++)
		irr[i] = atomic_load_explicit(&l->irr[i], memory_order_acquire);
	v = highest_bit(irr);
	if (v < 0 || ((uint32_t)v & 0xf0u) <= (ppr_locked(l) & 0xf0u)) {
		ims__spin_unlock(&l->lock);
		return -1;
	}
	atomic_fetch_and_explicit(&l->irr[v / 64], ~(1ull << (v % 64)), memory_order_acq_rel);
	l->isr[v / 64] |= 1ull << (v % 64);
	l->accepted++;
	ims__spin_unlock(&l->lock);
	return v;
}

static void eoi_locked(struct ims_hw_lapic *l)
{
	int v = highest_bit(l->isr);

	if (v < 0) {
		l->eoi_empty++;
		return;
	}
	l->isr[v / 64] &= ~(1ull << (v % 64));
	l->eoi++;
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

	if (reg >= IMS_LAPIC_IRR && reg < IMS_LAPIC_IRR + 8 * IMS_LAPIC_REG_STRIDE) {
		uint32_t w = (reg - IMS_LAPIC_IRR) / IMS_LAPIC_REG_STRIDE;

		if (reg % IMS_LAPIC_REG_STRIDE)
			return 0;
		return (uint32_t)(atomic_load_explicit(&l->irr[w / 2], memory_order_acquire) >>
				  (32 * (w % 2)));
	}
	if (reg >= IMS_LAPIC_TMR && reg < IMS_LAPIC_TMR + 8 * IMS_LAPIC_REG_STRIDE) {
		uint32_t w = (reg - IMS_LAPIC_TMR) / IMS_LAPIC_REG_STRIDE;

		if (reg % IMS_LAPIC_REG_STRIDE)
			return 0;
		return (uint32_t)(atomic_load_explicit(&l->tmr[w / 2], memory_order_relaxed) >>
				  (32 * (w % 2)));
	}
	ims__spin_lock(&l->lock);
	if (reg >= IMS_LAPIC_ISR && reg < IMS_LAPIC_ISR + 8 * IMS_LAPIC_REG_STRIDE) {
		uint32_t w = (reg - IMS_LAPIC_ISR) / IMS_LAPIC_REG_STRIDE;

		if (!(reg % IMS_LAPIC_REG_STRIDE))
			val = (uint32_t)(l->isr[w / 2] >> (32 * (w % 2)));
	} else {
		switch (reg) {
		case IMS_LAPIC_ID:
			val = l->apic_id << 24;
			break;
		case IMS_LAPIC_VERSION:
			val = IMS_LAPIC_VERSION_VAL;
			break;
		case IMS_LAPIC_TPR:
			val = l->tpr;
			break;
		case IMS_LAPIC_PPR:
			val = ppr_locked(l);
			break;
		case IMS_LAPIC_LDR:
			val = l->ldr;
			break;
		case IMS_LAPIC_DFR:
			val = l->dfr;
			break;
		case IMS_LAPIC_SVR:
			val = atomic_load_explicit(&l->svr, memory_order_relaxed);
			break;
		default:
			val = 0;	/* EOI is write-only; others unmodelled */
		}
	}
	ims__spin_unlock(&l->lock);
	return val;
}

void ims__lapic_write(struct ims_hw_lapic *l, uint32_t reg, uint32_t val)
{
	ims__spin_lock(&l->lock);
	switch (reg) {
	case IMS_LAPIC_TPR:
		l->tpr = val & 0xffu;
		break;
	case IMS_LAPIC_EOI:
		eoi_locked(l);
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

	ims__spin_lock(&l->lock);
	out->accepted = l->accepted;
	out->eoi = l->eoi;
	out->eoi_empty = l->eoi_empty;
	/* Under the lock no IRR bit can move to ISR: the sum is exact. */
	for (int i = 0; i < WORDS; i++)
		in_irr += (uint64_t)__builtin_popcountll(atomic_load_explicit(&l->irr[i], memory_order_relaxed));
	ims__spin_unlock(&l->lock);
	out->delivered = out->accepted + in_irr;
	out->coalesced = atomic_load_explicit(&l->coalesced, memory_order_relaxed);
	out->rejected = atomic_load_explicit(&l->rejected, memory_order_relaxed);
	out->nmi = atomic_load_explicit(&l->nmi, memory_order_relaxed);
	out->smi = atomic_load_explicit(&l->smi, memory_order_relaxed);
	out->init = atomic_load_explicit(&l->init, memory_order_relaxed);
	out->extint = atomic_load_explicit(&l->extint, memory_order_relaxed);
}
