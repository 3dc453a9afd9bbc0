/*
 * Internal checks of the device MSI layer, for tests.
 */
#ifndef IMS_OS_MSI_INTERNAL_H
#define IMS_OS_MSI_INTERNAL_H

#include <ims/msi.h>

/* Recount every counter of dev's domains from their stores; 0 if equal. */
int ims__msi_device_check(struct ims_device *dev);

#endif
