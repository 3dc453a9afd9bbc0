/*
 * A GICv3 model for an ARM machine: one Interrupt Translation Service
 * (ITS), one redistributor and CPU interface per CPU, and the RAM that the
 * GIC reads its tables from. The OS side reaches it only through the
 * register and memory operations of ims/arm.h (ims__hw_gic_ops, with the
 * gic as the context); devices reach it by writing their EventID to
 * GITS_TRANSLATER through the fabric sink that ims__hw_gic_msi_sink()
 * gives.
 *
 * What a bad command or a bad message does is recorded, never a crash: a
 * command the ITS refuses stalls the queue with its error code in the
 * error registers; a message that cannot be translated (unknown DeviceID,
 * EventID beyond the ITT, unmapped event or collection, ITS disabled) is
 * counted with its DeviceID and EventID and dropped. An LPI whose enable
 * bit is clear in the configuration cache stays pending and is not
 * signalled to the CPU until the cache says it is enabled (INV, INVALL).
 *
 * Locks (docs/arm.md): the ITS lock, then a redistributor's lock, then the
 * memory lock. A sink caller may hold its own model lock. The notify
 * callback runs under a redistributor's lock: it may only wake a CPU.
 */
#ifndef IMS_HW_ARM_GIC_H
#define IMS_HW_ARM_GIC_H

#include <ims/arm.h>
#include <stdbool.h>
#include <stdint.h>

#include "hw/bus.h"

#define IMS_HW_GIC_MAX_CPUS 4096u

struct ims_hw_gic_params {
	uint32_t nr_cpus;		/* 1..4096 */
	uint64_t its_base;		/* 64 KiB aligned */
	uint8_t devbits;		/* DeviceID bits, 1..16; 0: 16 */
	uint8_t eventbits;		/* EventID bits, 1..16; 0: 16 */
	uint8_t lpi_bits;		/* INTID bits, 14..20; 0: 16 */
	/* An enabled LPI became pending on cpu. Optional. */
	void (*notify)(void *ctx, uint32_t cpu);
	void *notify_ctx;
};

struct ims_hw_gic;

int ims__hw_gic_create(const struct ims_hw_gic_params *p, struct ims_hw_gic **out);
/* Frees the model and any RAM the OS side did not give back. */
void ims__hw_gic_destroy(struct ims_hw_gic *gic);

/* The register and memory operations; the context is the gic. */
extern const struct ims_arm_gic_ops ims__hw_gic_ops;
/* The fabric sink for message writes (GITS_TRANSLATER, 32-bit data). */
void ims__hw_gic_msi_sink(struct ims_hw_gic *gic, struct ims_hw_msi_sink *out);

/*
 * Checked register access, as a bus makes it: -EINVAL for a size other
 * than 4 or 8, an unaligned offset, or one outside the frame.
 */
int ims__hw_gic_its_access(struct ims_hw_gic *gic, uint32_t off, unsigned int size, uint64_t *val,
			   bool write);
int ims__hw_gic_rdist_access(struct ims_hw_gic *gic, uint32_t cpu, uint32_t off, unsigned int size,
			     uint64_t *val, bool write);

struct ims_hw_its_stats {
	uint64_t commands;			/* executed */
	uint64_t command_errors;
	uint64_t cmd_by_err[IMS_ITS_ERR_MAX];	/* refused commands by error code */
	uint64_t translated;			/* messages that reached a redistributor */
	uint64_t faults;
	uint64_t fault_by_err[IMS_ITS_ERR_MAX];	/* refused messages by error code */
	uint64_t ignored_writes;		/* register writes the state forbade */
};

struct ims_hw_rdist_stats {
	uint64_t set_pending;		/* LPIs made pending */
	uint64_t coalesced;		/* arrived while already pending */
	uint64_t held_disabled;		/* made pending while disabled in the cache */
	uint64_t dropped;		/* arrived while LPIs were off at this redistributor */
	uint64_t acknowledged;		/* IAR reads that returned an LPI */
	uint64_t eoi_errors;		/* EOIR writes that matched no acknowledged LPI */
	uint64_t mem_faults;		/* table reads or writes outside RAM */
	uint64_t ignored_writes;	/* table registers written with LPIs on */
};

void ims__hw_gic_its_stats(struct ims_hw_gic *gic, struct ims_hw_its_stats *out);
void ims__hw_gic_rdist_stats(struct ims_hw_gic *gic, uint32_t cpu, struct ims_hw_rdist_stats *out);
bool ims__hw_gic_lpi_pending(struct ims_hw_gic *gic, uint32_t cpu, uint32_t intid);
uint32_t ims__hw_gic_nr_pending(struct ims_hw_gic *gic, uint32_t cpu);
/* The configuration byte the redistributors use now for intid (the cache). */
uint8_t ims__hw_gic_lpi_cached_cfg(struct ims_hw_gic *gic, uint32_t intid);
uint32_t ims__hw_gic_nr_intids(const struct ims_hw_gic *gic);
/* RAM regions and bytes the OS side holds now. */
uint32_t ims__hw_gic_mem_regions(struct ims_hw_gic *gic, uint64_t *bytes);

#endif
