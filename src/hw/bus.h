/*
 * What travels between pieces of the hardware side: a device's memory write
 * toward the interrupt address range (0xFEExxxxx), and an interrupt on the
 * APIC bus after decode or remapping. Devices hand their writes to a
 * fabric sink; the fabric routes them to the remapping unit that covers the
 * requester id, which hands the result to the APIC bus sink, which reaches
 * the local APICs. Each stage only knows the next one's sink, so each can be
 * tested alone.
 */
#ifndef IMS_HW_BUS_H
#define IMS_HW_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* A posted memory write that signals an interrupt. */
struct ims_hw_msi_write {
	uint64_t addr;
	uint32_t data;
	uint16_t rid;		/* requester id: bus << 8 | device << 3 | function */
	bool pasid_valid;
	uint32_t pasid;		/* 20 bits, when pasid_valid */
};

/* Delivery modes of the APIC bus (MSI data bits 10:8, IRTE bits 7:5). */
enum ims_hw_delivery_mode {
	IMS_DM_FIXED = 0,
	IMS_DM_LOWEST = 1,
	IMS_DM_SMI = 2,
	IMS_DM_NMI = 4,
	IMS_DM_INIT = 5,
	IMS_DM_EXTINT = 7,
};

/* An interrupt on the APIC bus. */
struct ims_hw_apic_irq {
	uint32_t dest;		/* APIC ID (physical) or logical destination */
	uint8_t vector;
	uint8_t delivery_mode;	/* enum ims_hw_delivery_mode */
	bool dest_logical;
	bool level_trigger;
	bool level_assert;
	bool redirection_hint;
};

/* A device's write goes to the fabric through one of these. */
typedef void (*ims_hw_msi_sink_fn)(void *ctx, const struct ims_hw_msi_write *w);
struct ims_hw_msi_sink {
	ims_hw_msi_sink_fn fn;
	void *ctx;
};

/*
 * The APIC bus takes an interrupt and returns the number of CPUs that
 * accepted it (0 if none did: no such destination).
 */
typedef int (*ims_hw_apic_sink_fn)(void *ctx, const struct ims_hw_apic_irq *irq);
struct ims_hw_apic_sink {
	ims_hw_apic_sink_fn fn;
	void *ctx;
};

#endif
