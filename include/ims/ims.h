/*
 * ims/ims.h - the whole public interface of ims.
 */
#ifndef IMS_IMS_H
#define IMS_IMS_H

#include <ims/common.h>
#include <ims/cpumask.h>
#include <ims/ims_slot.h>
#include <ims/pci.h>
#include <ims/irq.h>
#include <ims/irqdomain.h>
#include <ims/msi.h>
#include <ims/remap.h>
#include <ims/sim.h>
#include <ims/x86.h>
#include <ims/arm.h>
#include <ims/bench.h>
#include <ims/ims_chip.h>
#include <ims/accel.h>

#endif
