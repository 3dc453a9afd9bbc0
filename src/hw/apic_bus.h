/*
 * The APIC bus: the local APICs of a machine and the routing of an
 * interrupt message to them. Implements the ims_hw_apic_sink of bus.h
 * (what the remapping unit hands on), and decodes compatibility-format
 * memory writes itself for machines or devices without remapping.
 *
 * Destinations: physical (one APIC ID, or 0xff broadcast) and logical
 * (flat or cluster, per each APIC's DFR and LDR). Delivery: fixed (every
 * matching APIC), lowest priority (the matching APIC with the lowest
 * processor priority, ties taken in turn), NMI, SMI, INIT and ExtINT
 * (counted by the APIC). Thread-safe: routing reads only what creation set.
 */
#ifndef IMS_HW_APIC_BUS_H
#define IMS_HW_APIC_BUS_H

#include <ims/x86.h>

#include "hw/bus.h"
#include "hw/lapic.h"

struct ims_hw_apic_bus;

enum {
	/* Compatibility writes carry APIC ID bits 14:8 in address bits 11:5. */
	IMS_APIC_BUS_EXT_DEST = 1u << 0,
};

/*
 * A bus with nr_cpus local APICs; CPU i has APIC ID apic_ids[i] (NULL: i).
 * APIC IDs must be distinct and below 2^20. The APICs start software-
 * disabled, as after reset.
 */
int ims__apic_bus_create(uint32_t nr_cpus, const uint32_t *apic_ids, uint32_t flags,
			 struct ims_hw_apic_bus **out);
void ims__apic_bus_destroy(struct ims_hw_apic_bus *bus);
uint32_t ims__apic_bus_nr_cpus(const struct ims_hw_apic_bus *bus);
struct ims_hw_lapic *ims__apic_bus_lapic(struct ims_hw_apic_bus *bus, uint32_t cpu);

/* Route an interrupt; returns the number of APICs that accepted it. */
int ims__apic_bus_deliver(struct ims_hw_apic_bus *bus, const struct ims_hw_apic_irq *irq);
struct ims_hw_apic_sink ims__apic_bus_sink(struct ims_hw_apic_bus *bus);

/*
 * A memory write to the interrupt range, decoded as a compatibility-format
 * message and routed. A remappable-format write, or one outside
 * 0xFEExxxxx, is dropped (counted) and returns 0: without a remapping unit
 * nothing can translate it.
 */
int ims__apic_bus_msi_write(struct ims_hw_apic_bus *bus, const struct ims_hw_msi_write *w);
struct ims_hw_msi_sink ims__apic_bus_msi_sink(struct ims_hw_apic_bus *bus);
uint64_t ims__apic_bus_dropped(struct ims_hw_apic_bus *bus);

/*
 * Register access to the APIC of a CPU, in the shape the OS side's vector
 * domain takes (ctx is the bus).
 */
extern const struct ims_x86_apic_ops ims__apic_bus_reg_ops;

#endif
