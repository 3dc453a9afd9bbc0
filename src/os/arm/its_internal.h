/*
 * The ITS driver's private state, for its own file and white-box tests.
 *
 * Lock order: core->lock -> desc->lock -> its->lock -> the GIC model's
 * locks (through the register operations). The dispatch path takes none
 * of the driver's locks.
 */
#ifndef IMS_OS_ARM_ITS_INTERNAL_H
#define IMS_OS_ARM_ITS_INTERNAL_H

#include <ims/arm.h>
#include <ims/msi.h>
#include <stdatomic.h>

#include "util/lock.h"

/* One DeviceID with an ITT. */
struct its_device {
	uint32_t devid;
	uint32_t nr_events;		/* EventIDs in use */
	uint64_t *events;		/* EventID bitmap, events_per_device bits */
	void *itt;			/* GIC memory */
	uint64_t itt_pa;
	size_t itt_size;
};

struct ims_arm_its {
	struct ims_irq_core *core;
	struct ims_irq_domain *domain;
	const struct ims_arm_gic_ops *ops;
	void *ctx;
	uint32_t nr_cpus;
	uint64_t translater;
	uint32_t devbits, itt_entry, dte_size, cte_size;
	int dev_baser, coll_baser;
	uint32_t events_per_device, ev_bits;
	uint32_t lpi_bits, nr_lpis;
	uint8_t prio;
	bool debug_no_inv;		/* tests: a driver that forgets INV */

	/*
	 * lock guards the LPI bitmap and counts, the devices and their
	 * EventID bitmaps, the per-CPU counts, the command queue and the
	 * driver's writes to the configuration table.
	 */
	ims_spinlock_t lock;
	uint64_t *lpi_map;		/* bit n: LPI 8192 + n in use */
	uint32_t lpis_used, lpi_hint;
	struct its_device **devs[256];	/* DeviceID >> 8 -> 256 devices */
	uint16_t devs_in_chunk[256];
	uint32_t nr_devices, events_used;
	uint32_t *cpu_lpis;		/* activated LPIs targeting each CPU */
	uint32_t cwriter;
	uint64_t nr_commands, nr_errors;
	uint32_t last_error;

	/* Memory given to the GIC. */
	uint8_t *prop;
	uint64_t prop_pa;
	void **pend;
	uint64_t *pend_pa;
	size_t pend_size;
	uint64_t *cmdq;
	uint64_t cmdq_pa;
	void *devtab, *colltab;
	uint64_t devtab_pa, colltab_pa;
	size_t devtab_size, colltab_size;

	/* Dispatch: LPI - 8192 -> irq + 1 (0: none). Read without locks. */
	atomic_uint *lpi_irq;
	atomic_uint rr;			/* CPU choice rotates */
	atomic_uint_fast64_t dispatched, spurious;
};

/* Send one command (four words); -EIO with the ITS's error if refused. */
int ims__its_send_locked(struct ims_arm_its *its, const uint64_t c[4]);
/* Recount every counter from the structures; 0 if all agree. */
int ims__arm_its_check(struct ims_arm_its *its);

#endif
