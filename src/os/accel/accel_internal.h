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

/* Recount WQs held by ADIs; 0 if it matches the driver's counters. */
int ims__accel_check(struct ims_accel *acc);

#endif
