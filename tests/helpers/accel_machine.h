/*
 * A whole x86 machine around the reference accelerator, for end-to-end
 * tests: interrupt core, local APICs on an APIC bus, the x86 vector
 * domain, DMA-able memory, an interrupt remapping unit with its driver,
 * and the accelerator whose messages go to the remapping unit. The driver
 * probes it through configuration space and its BARs.
 *
 * Delivery runs as on the machine: the device writes to the remapping
 * unit, which sets IRR bits; am_poll() plays a CPU taking a vector from its
 * local APIC and dispatching it to the handler.
 */
#ifndef IMS_TEST_ACCEL_MACHINE_H
#define IMS_TEST_ACCEL_MACHINE_H

#include <ims/ims.h>

#include "hw/accel/accel.h"
#include "hw/arm/gic.h"
#include "hw/apic_bus.h"
#include "hw/dma.h"
#include "hw/iommu/remap_unit.h"
#include "hw/pci/bar_io.h"

/* The platform under the device: x86 (remapping, vectors, local APICs) or
 * ARM (a GICv3 ITS and its redistributors). */
enum am_arch {
	AM_X86 = 0,
	AM_ARM = 1,
};

struct accel_machine {
	enum am_arch arch;
	uint32_t nr_cpus;
	struct ims_irq_core *core;
	struct ims_hw_apic_bus *bus;
	struct ims_x86_vector_domain *vd;
	struct ims_hw_dma *dma;
	struct ims_hw_ir_unit *unit;
	struct ims_remap *remap;
	struct ims_hw_gic *gic;		/* ARM only */
	struct ims_arm_its *its;	/* ARM only */
	struct ims_hw_accel *hw;
	struct ims_hw_bar_io bar0, bar2;
	struct ims_accel_info ai;
	struct ims_accel *acc;
};

/* p->rid and p->mem are filled in; ir_flags are IMS_HW_IR_* of the unit. */
int am_create(struct accel_machine *m, uint32_t nr_cpus, struct ims_hw_accel_params *p,
	      uint32_t ir_flags);
/* The x86 machine with the interrupt core configured as given (storms). */
int am_create_core(struct accel_machine *m, const struct ims_irq_core_config *core_cfg,
		   struct ims_hw_accel_params *p, uint32_t ir_flags);
/* The same on either platform (ir_flags apply to x86 only). */
int am_create_arch(struct accel_machine *m, enum am_arch arch, uint32_t nr_cpus,
		   struct ims_hw_accel_params *p, uint32_t ir_flags);
/* Entries the MSI parent holds: remapping entries, or LPIs on ARM. */
uint32_t am_parent_entries(struct accel_machine *m);
/* The MSI parent's own recount check (0 if it agrees). */
int am_parent_check(struct accel_machine *m);
/* Remove the driver if probed, then everything; 0 if all was clean. */
int am_destroy(struct accel_machine *m);
/* Take one vector on cpu and dispatch it: the vector, or -1. */
int am_poll(struct accel_machine *m, uint32_t cpu);
/* Step the device and poll every CPU until both are idle; vectors dispatched. */
unsigned int am_run(struct accel_machine *m);

#endif
