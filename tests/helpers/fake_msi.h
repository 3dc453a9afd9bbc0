/*
 * Test doubles for the device MSI layer: a root domain that can be an MSI
 * parent (isolated like remapping, or not), and an in-memory IMS array
 * chip whose slots a test can read.
 */
#ifndef IMS_TEST_FAKE_MSI_H
#define IMS_TEST_FAKE_MSI_H

#include <stdatomic.h>

#include <ims/ims.h>

struct fake_parent {
	struct ims_irq_domain *domain;
	atomic_uint live;		/* levels allocated */
	atomic_uint active;
	uint32_t capacity;		/* alloc fails with -ENOSPC beyond it (0: none) */
	int affinity_ret;		/* what set_affinity returns */
	atomic_uint next_hwirq;
	atomic_uint_fast64_t last_rid;
};

/* A root domain flagged MSI parent, and isolated (IMS-capable) if asked. */
int fake_parent_create(struct ims_irq_core *core, const char *name, bool isolated,
		       struct fake_parent *p);

#define FAKE_IMS_SLOTS 4096

struct fake_ims_slot {
	uint32_t addr_lo, addr_hi, data, ctrl;	/* ctrl bit 0: masked */
};

struct fake_ims {
	struct fake_ims_slot slot[FAKE_IMS_SLOTS];
	atomic_uint writes, masks, unmasks, prepared, freed;
	int refuse_prepare;		/* prepare_desc returns this if non-zero */
};

/* The template of an IMS array chip over struct fake_ims (chip_data). */
extern const struct ims_msi_domain_template fake_ims_template;

#endif
