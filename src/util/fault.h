/*
 * Named fault points. ims__fault(point) returns true when the armed fault
 * plan says this point must fail. Allocation calls it for every allocation;
 * other failure sites (device commands, hardware-side refusals) may call it
 * with their own names.
 */
#ifndef IMS_UTIL_FAULT_H
#define IMS_UTIL_FAULT_H

#include <stdbool.h>

bool ims__fault(const char *point);

#endif
