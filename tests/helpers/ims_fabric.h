/*
 * A small interrupt fabric for tests of IMS chips and the accelerator that
 * run before (or without) the x86 hierarchy: an isolated MSI parent root
 * domain standing in for interrupt remapping, and a recording sink that a
 * test drains to run the handlers, as CPUs would accept the vectors later.
 *
 * The parent composes a remappable-format message whose handle is the irq
 * number (address bits 19:5 handle 14:0, bit 4 set, bit 2 handle 15) and
 * remembers the requester id of each irq, so a drained write whose
 * requester id differs is blocked as a remapping unit with source-id
 * checks would block it. Handlers never run from the sink.
 */
#ifndef IMS_TEST_IMS_FABRIC_H
#define IMS_TEST_IMS_FABRIC_H

#include <stdatomic.h>

#include <ims/ims.h>

#include "hw/bus.h"
#include "util/lock.h"

#define FAB_MAX_IRQS 65536
#define FAB_RING 65536

struct fabric {
	struct ims_irq_core *core;
	struct ims_irq_domain *domain;		/* the isolated MSI parent */
	_Atomic int32_t rid[FAB_MAX_IRQS];	/* requester id per irq, -1 if none */
	atomic_uint live;			/* parent levels allocated */
	ims_spinlock_t lock;			/* guards ring, head, tail, overflow */
	struct ims_hw_msi_write ring[FAB_RING];
	uint32_t head, tail;
	uint64_t overflow;
	atomic_uint_fast64_t sent, delivered, blocked, spurious;
};

/*
 * core must exist; the fabric is large: allocate it, not on the stack.
 * fabric_init_bare() makes a parent without isolation (no remapping), on
 * which IMS domains are refused.
 */
int fabric_init(struct fabric *f, struct ims_irq_core *core, const char *name);
int fabric_init_bare(struct fabric *f, struct ims_irq_core *core, const char *name);
int fabric_fini(struct fabric *f);
void fabric_sink(struct fabric *f, struct ims_hw_msi_sink *sink);
/*
 * Take every recorded write and deliver it: decode the handle, check the
 * requester id, run ims_irq_handle() on CPU 0. Returns the writes taken.
 */
unsigned int fabric_drain(struct fabric *f);
/* Writes recorded and not yet drained. */
unsigned int fabric_queued(struct fabric *f);

#endif
