/*
 * What the two IMS chips share: accessor and cookie checks, and the
 * control word a vector's slot holds.
 */
#ifndef IMS_OS_IMS_CHIP_INTERNAL_H
#define IMS_OS_IMS_CHIP_INTERNAL_H

#include <ims/ims_chip.h>

int ims__chip_check_io(const struct ims_io_access *io, const char *what);
/* -EINVAL unless icookie is 0 or IMS_CHIP_PASID_VALID | a 20-bit PASID. */
int ims__chip_check_cookie(union ims_msi_cookie icookie, const char *what, uint32_t index);
/* The control word of a vector with this instance cookie. */
uint32_t ims__chip_ctrl(union ims_msi_cookie icookie, bool masked);

#endif
