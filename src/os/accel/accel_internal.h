/*
 * Inside the accelerator driver: the MSI-X chip's data and template, and
 * checks for tests.
 */
#ifndef IMS_OS_ACCEL_INTERNAL_H
#define IMS_OS_ACCEL_INTERNAL_H

#include <stdatomic.h>

#include <ims/accel.h>

/* Chip data of the MSI-X domain. */
struct accel_msix {
	struct ims_io_access io;	/* the BAR of the table */
	uint64_t table;			/* offset of entry 0 in it */
	uint32_t nr;
	atomic_uint_fast64_t io_errors;
};

extern const struct ims_msi_domain_template ims__accel_msix_template;

/* The IMS array chip of the device (NULL: MSI-X only). */
struct ims_array_chip *ims__accel_ims_chip(struct ims_accel *acc);
/* The domain the device's vectors attach to. */
struct ims_irq_domain *ims__accel_msi_parent(struct ims_accel *acc);
struct ims_irq_core *ims__accel_core(struct ims_accel *acc);

/* Recount WQs held by ADIs; 0 if it matches the driver's counters. */
int ims__accel_check(struct ims_accel *acc);

#endif
