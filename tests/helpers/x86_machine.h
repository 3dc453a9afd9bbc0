/*
 * A small x86 machine for tests: an interrupt core, an APIC bus with its
 * local APICs, the vector domain on top of them, and a test device domain
 * whose slots hold a message each (address, data, mask, pending) as an
 * MSI-X or IMS slot does. The device chip behaves as an MSI level does:
 * set_affinity asks the parent, then writes the new message. Firing a slot
 * sends its message through the bus; polling a CPU takes one vector from
 * its APIC and dispatches it.
 */
#ifndef IMS_TEST_X86_MACHINE_H
#define IMS_TEST_X86_MACHINE_H

#include <ims/x86.h>
#include <stdatomic.h>

#include "hw/apic_bus.h"
#include "util/lock.h"

struct x86m_slot {
	ims_spinlock_t lock;		/* guards the five fields below */
	uint32_t addr;
	uint32_t data;
	bool masked;
	bool pending;
	bool posted;			/* raises go to posted_fn, not the bus */
	atomic_uint inflight;		/* messages read and not yet delivered */
	atomic_uint_fast64_t sent;	/* messages put on the bus */
	atomic_uint_fast64_t latched;	/* raised while masked */
};

struct x86m {
	struct ims_irq_core *core;
	struct ims_hw_apic_bus *bus;
	struct ims_x86_vector_domain *vd;
	struct ims_irq_domain *dev;
	uint32_t nr_cpus;
	uint32_t nr_slots;
	struct x86m_slot *slots;
	/* Delivery of a raise on a posted slot (as a posted-interrupt
	 * descriptor would take it); NULL drops it. */
	void (*posted_fn)(void *ctx, uint32_t slot);
	void *posted_ctx;
};

/* apic_ids may be NULL (CPU i has APIC ID i). */
int x86m_create(struct x86m *m, uint32_t nr_cpus, const uint32_t *apic_ids, uint32_t vflags,
		uint32_t nr_slots);
void x86m_destroy(struct x86m *m);
/* nr irqs in the device domain on slots [slot, slot + nr). Returns the first irq. */
int x86m_alloc(struct x86m *m, uint32_t slot, unsigned int nr, const struct ims_cpumask *aff);
/* The device raises slot: held if masked, else sent. Returns APICs that took it. */
int x86m_fire(struct x86m *m, uint32_t slot);
/*
 * Switch a slot to posted delivery (as a remapping entry is switched) and
 * wait until no message read before the switch is still on its way, as
 * the remapping unit's invalidation wait does. Or back, with the message
 * to send from now on.
 */
void x86m_slot_post(struct x86m *m, uint32_t slot);
void x86m_slot_unpost(struct x86m *m, uint32_t slot, const struct ims_msi_msg *msg);
/* Send a raw message (an in-flight old one, a stray one). */
int x86m_send(struct x86m *m, uint32_t addr, uint32_t data);
/* Take one vector on cpu and dispatch it: the vector, or -1 if none. */
int x86m_poll(struct x86m *m, uint32_t cpu);
/* Poll every CPU until none has anything; returns vectors dispatched. */
unsigned int x86m_run(struct x86m *m);
/* Test helpers to read APIC state. */
bool x86m_irr(struct x86m *m, uint32_t cpu, uint32_t vector);
bool x86m_isr_empty(struct x86m *m, uint32_t cpu);

#endif
