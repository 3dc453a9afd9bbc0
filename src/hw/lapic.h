/*
 * A local APIC, the hardware side of one CPU's interrupt acceptance: IRR,
 * ISR and TMR (256 bits each), TPR and the PPR derived from it, EOI, the
 * logical destination registers and the spurious vector register with its
 * software-enable bit. The OS side reaches it only through
 * ims__lapic_read() and ims__lapic_write() at the architectural register
 * offsets; the APIC bus delivers into it with ims__lapic_deliver(); the CPU
 * takes the next vector with ims__lapic_accept() (the interrupt
 * acknowledge cycle).
 *
 * Thread-safe, with one rule: acceptance and EOI are the CPU's own, made
 * by one thread at a time per APIC (the thread acting as that CPU; debug
 * builds check it). Delivery (the device data path, on any thread) sets
 * IRR bits with one atomic operation; acceptance clears one with another;
 * EOI and reads take no lock; writes of TPR, LDR, DFR and SVR take the
 * APIC's lock.
 */
#ifndef IMS_HW_LAPIC_H
#define IMS_HW_LAPIC_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Register offsets (xAPIC MMIO page), 32-bit accesses. */
#define IMS_LAPIC_ID		0x020u	/* bits 31:24 APIC ID */
#define IMS_LAPIC_VERSION	0x030u
#define IMS_LAPIC_TPR		0x080u
#define IMS_LAPIC_PPR		0x0a0u
#define IMS_LAPIC_EOI		0x0b0u
#define IMS_LAPIC_LDR		0x0d0u	/* bits 31:24 logical ID */
#define IMS_LAPIC_DFR		0x0e0u	/* bits 31:28: 0xf flat, 0x0 cluster */
#define IMS_LAPIC_SVR		0x0f0u
#define IMS_LAPIC_ISR		0x100u	/* eight words, 0x10 apart */
#define IMS_LAPIC_TMR		0x180u
#define IMS_LAPIC_IRR		0x200u
#define IMS_LAPIC_ESR		0x280u
#define IMS_LAPIC_REG_STRIDE	0x10u

#define IMS_LAPIC_SVR_ENABLE	(1u << 8)
#define IMS_LAPIC_SVR_RESET	0xffu		/* software-disabled, spurious 0xff */
#define IMS_LAPIC_DFR_FLAT	0xffffffffu
#define IMS_LAPIC_DFR_CLUSTER	0x0fffffffu
#define IMS_LAPIC_VERSION_VAL	0x00050014u	/* integrated APIC, 6 LVT entries */

_Static_assert(IMS_LAPIC_IRR + 7 * IMS_LAPIC_REG_STRIDE < IMS_LAPIC_ESR,
	       "IRR words end before ESR");

struct ims_hw_lapic;

struct ims_hw_lapic_stats {
	uint64_t delivered;	/* messages that set an IRR bit */
	uint64_t coalesced;	/* messages absorbed by an IRR bit already set */
	uint64_t rejected;	/* fixed/lowest messages refused: APIC disabled */
	uint64_t accepted;	/* vectors taken by the CPU (IRR -> ISR) */
	uint64_t eoi;		/* EOIs that cleared an ISR bit */
	uint64_t eoi_empty;	/* EOIs with nothing in service */
	uint64_t nmi, smi, init, extint;
};

int ims__lapic_create(uint32_t apic_id, struct ims_hw_lapic **out);
void ims__lapic_destroy(struct ims_hw_lapic *l);
uint32_t ims__lapic_id(const struct ims_hw_lapic *l);

/*
 * Register access at an xAPIC offset. Reads of write-only or unknown
 * registers return 0; writes to read-only ones are ignored.
 */
uint32_t ims__lapic_read(struct ims_hw_lapic *l, uint32_t reg);
void ims__lapic_write(struct ims_hw_lapic *l, uint32_t reg, uint32_t val);

/*
 * A message for this APIC from the bus. Fixed and lowest-priority set the
 * vector's IRR bit (a second message before acceptance is absorbed, as on
 * x86) and return true; a software-disabled APIC refuses them (false).
 * NMI, SMI, INIT and ExtINT are counted and accepted.
 */
bool ims__lapic_deliver(struct ims_hw_lapic *l, uint8_t delivery_mode, uint8_t vector,
			bool level_trigger);
/*
 * Interrupt acknowledge: the highest IRR vector whose priority class is
 * above the PPR's moves to ISR and is returned; -1 if none may be taken.
 * Context: the CPU's thread (see above), as is a write of IMS_LAPIC_EOI.
 */
int ims__lapic_accept(struct ims_hw_lapic *l);
/* True if any IRR bit is set (a cheap hint for a CPU's idle loop). */
bool ims__lapic_irr_pending(struct ims_hw_lapic *l);
/* Processor priority now (for lowest-priority arbitration). */
uint32_t ims__lapic_ppr(struct ims_hw_lapic *l);
/* Logical destination match (flat or cluster model per DFR). */
bool ims__lapic_match_logical(struct ims_hw_lapic *l, uint32_t dest);

void ims__lapic_stats(struct ims_hw_lapic *l, struct ims_hw_lapic_stats *out);

#endif
